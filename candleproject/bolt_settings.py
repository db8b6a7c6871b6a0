"""Settings for django-bolt's own server (`manage.py runbolt --settings candleproject.bolt_settings`).

The project's settings plus django_bolt, kept out of every other process: importing it
replaces asgiref's single thread for thread-sensitive calls with bolt's ORM thread pool,
which would change how the project's ASGI handler runs the API under uvicorn.
"""

from .settings import *  # noqa: F403 - the project's settings, django_bolt added below

INSTALLED_APPS = [*INSTALLED_APPS, "django_bolt"]  # noqa: F405 - from the settings above
# The API runbolt serves, named here rather than left to bolt's autodiscovery of `<app>.api`.
BOLT_API = ["candles.api.modes.bolt:api"]
# Compression is bolt's own with its defaults (brotli 5, gzip 6 fallback) under
# CANDLEBENCH_COMPRESSION=bolt-native, and off otherwise: bolt's server never runs the project's.
if CANDLEBENCH_COMPRESSION == "bolt-native":  # noqa: F405
    from django_bolt import CompressionConfig

    BOLT_COMPRESSION: object = CompressionConfig()
else:
    BOLT_COMPRESSION = False
