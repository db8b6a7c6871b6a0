from django.apps import AppConfig


class CandlesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "candles"
    verbose_name = "OHLCV candles"

    def ready(self) -> None:
        # The receivers that bump series versions on every write (candles.services).
        from . import services  # noqa: F401
