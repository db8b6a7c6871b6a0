from django.apps import AppConfig
from django.db.backends.signals import connection_created


def run_sqlite_pragmas(sender, connection, **kwargs) -> None:
    """settings.SQLITE_PRAGMAS_ON_CONNECT on a new SQLite connection: WAL and its synchronous
    level where Django has no `init_command` option (before 5.1: the stacks of 2023)."""
    from django.conf import settings

    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.executescript(settings.SQLITE_PRAGMAS_ON_CONNECT)


class CandlesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "candles"
    verbose_name = "OHLCV candles"

    def ready(self) -> None:
        from django.conf import settings

        if getattr(settings, "SQLITE_PRAGMAS_ON_CONNECT", ""):
            connection_created.connect(run_sqlite_pragmas, dispatch_uid="candles-sqlite-pragmas")
        # The receivers that bump series versions on every write (candles.services).
        from . import services  # noqa: F401
