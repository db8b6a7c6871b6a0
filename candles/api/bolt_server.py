"""How to start django-bolt's own server on the project (no Django import: the runner
calls it before any Django set-up).

runbolt reads the project's settings like every manage.py command: it needs
DJANGO_SETTINGS_MODULE (manage.py sets candleproject.settings) and the same DATABASE_URL
as the other servers, and finds the API through settings.BOLT_API (candles/api/bolt_api.py).
It must run from the project's root (manage.py).
"""
import sys


def bolt_command(host: str, port: int, *, workers: int = 1) -> list[str]:
    """runbolt as a production server: one process, `workers` handler threads, no reload,
    no admin (the admin is Django's servers' job)."""
    return [
        sys.executable, "manage.py", "runbolt",
        "--host", host, "--port", str(port),
        "--processes", "1", "--workers", str(workers),
        "--no-admin",
    ]
