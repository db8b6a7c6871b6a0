from django.apps import AppConfig


class CandlesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "candles"
    verbose_name = "OHLCV candles"
