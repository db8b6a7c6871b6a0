"""Settings for candlebench, read from the environment.

DJANGO_DEBUG defaults to off: the benchmark must measure the production code path.
DATABASE_URL defaults to a SQLite file in the project; a postgres:// URL switches to
PostgreSQL with psycopg's connection pool. On Django before 5.1 (the stacks of 2023, docs/stacks.md)
the database settings degrade to what it offers: persistent connections instead of the pool,
SQLite's PRAGMAs run by candles.apps on each new connection instead of `init_command`.
"""

import os
import tempfile
from pathlib import Path

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured

from candles.api.caching import (
    DEFAULT_REDIS_URL,
    DEFAULT_TIMEOUT_SECONDS,
    UnknownCacheSetup,
    cache_settings,
)
from candles.api.compression import UnknownSetup, compression_middleware
from candles.api.gc_setups import UnknownGcSetup, gc_setup

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG")
# The fallback key is only fit for a local benchmark: its "django-insecure-" prefix makes
# `check --deploy` flag it until DJANGO_SECRET_KEY is set.
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "django-insecure-candlebench-local-only-set-DJANGO_SECRET_KEY"
)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "candles",
]

# Compression of the API's answers, a setup of candles/api/compression.py (`none`, `django-gzip`,
# `zstd-1`, ...): its middleware goes first in both chains, where a user puts GZipMiddleware.
CANDLEBENCH_COMPRESSION = os.environ.get("CANDLEBENCH_COMPRESSION", "").strip() or "none"
try:
    COMPRESSION_MIDDLEWARE = compression_middleware(CANDLEBENCH_COMPRESSION)
except UnknownSetup as exc:
    raise ImproperlyConfigured(str(exc)) from None

# Caching of the API's answers, a setup of candles/api/caching.py (`none`, `cache-page`,
# `cache-page-redis`, `conditional`, `locmem`, `redis`): the URLconf wraps every mode's view for it
# (candles/api/urls.py), inside the middleware chain, so compression applies on top. The Redis
# setups use CANDLEBENCH_REDIS_URL; CANDLEBENCH_CACHE_SECONDS is how long an answer is kept
# (cache-page's staleness bound; for the versioned setups a bound on memory only).
CANDLEBENCH_CACHE = os.environ.get("CANDLEBENCH_CACHE", "").strip() or "none"
CANDLEBENCH_REDIS_URL = os.environ.get("CANDLEBENCH_REDIS_URL", "").strip() or DEFAULT_REDIS_URL
CANDLEBENCH_CACHE_SECONDS = int(
    os.environ.get("CANDLEBENCH_CACHE_SECONDS", "").strip() or DEFAULT_TIMEOUT_SECONDS
)
try:
    CACHES = cache_settings(
        CANDLEBENCH_CACHE, redis_url=CANDLEBENCH_REDIS_URL, timeout=CANDLEBENCH_CACHE_SECONDS
    )
except UnknownCacheSetup as exc:
    raise ImproperlyConfigured(str(exc)) from None

# The garbage collector's setup, one of candles/api/gc_setups.py (`default`, `freeze`, ...),
# applied once the app is loaded (wsgi.py, asgi.py; gunicorn's post_worker_init).
CANDLEBENCH_GC = os.environ.get("CANDLEBENCH_GC", "").strip() or "default"
try:
    gc_setup(CANDLEBENCH_GC)
except UnknownGcSetup as exc:
    raise ImproperlyConfigured(str(exc)) from None

# First in both chains: the `gc` entry of Server-Timing covers the whole chain, compression too.
GC_TIMING_MIDDLEWARE = "candleproject.middleware.GcTimingMiddleware"

MIDDLEWARE = [
    GC_TIMING_MIDDLEWARE,
    *COMPRESSION_MIDDLEWARE,
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# What /api/ requests run instead (candleproject.handlers): the same security headers and
# host check, none of the admin's session/CSRF/auth/messages, no thread hop under ASGI.
API_MIDDLEWARE = [
    GC_TIMING_MIDDLEWARE,
    *COMPRESSION_MIDDLEWARE,
    "candleproject.middleware.SecurityMiddleware",
    "candleproject.middleware.CommonMiddleware",
    "candleproject.middleware.XFrameOptionsMiddleware",
    "candleproject.middleware.ApiDatabaseErrorMiddleware",
]

ROOT_URLCONF = "candleproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "candleproject" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "candleproject.wsgi.application"
ASGI_APPLICATION = "candleproject.asgi.application"

# SQLite's init_command and transaction_mode options and PostgreSQL's pool are Django 5.1's.
DJANGO_5_1_DATABASE_OPTIONS = django.VERSION >= (5, 1)
SQLITE_PATH = BASE_DIR / "db.sqlite3"
# Run on every new SQLite connection; candles.apps runs them where init_command is missing.
SQLITE_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
SQLITE_PRAGMAS_ON_CONNECT = "" if DJANGO_5_1_DATABASE_OPTIONS else SQLITE_PRAGMAS
DATABASES = {
    "default": dj_database_url.parse(os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}")
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {})["timeout"] = 20
    if DJANGO_5_1_DATABASE_OPTIONS:
        # WAL lets readers under load run while a writer (seed, import) commits, instead of
        # failing with "database is locked". Writers start IMMEDIATE; Django 4.2 (a stack of
        # 2023, whose servers only read: the writers run on today's) has no such option.
        _db["OPTIONS"].update({"init_command": SQLITE_PRAGMAS, "transaction_mode": "IMMEDIATE"})
    # Keep the connection between requests (one worker thread under both servers, see
    # asgi.py): reopening SQLite and re-running the PRAGMAs per request is pure overhead.
    _db["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "600"))
    _db["CONN_HEALTH_CHECKS"] = True
    # A file, not Django's in-memory default, so tests run on WAL like the server does;
    # per process, so parallel runs never share one.
    _db["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"candlebench-test-{os.getpid()}.sqlite3")
    }
elif (
    _db["ENGINE"] == "django.db.backends.postgresql"
    and env_bool("DATABASE_POOL", True)
    and not DJANGO_5_1_DATABASE_OPTIONS
):
    # No pool before Django 5.1: persistent connections, checked before reuse, so that no
    # request opens one (as with the pool) and the stacks compare fairly.
    _db["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "600"))
    _db["CONN_HEALTH_CHECKS"] = True
elif _db["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    # Django's built-in psycopg pool; it requires persistent connections to be off.
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("DATABASE_POOL_MIN", "2")),
        "max_size": int(os.environ.get("DATABASE_POOL_MAX", "10")),
        # How long a request waits for a connection: during an outage that is how long
        # it takes to answer 503, so keep it short.
        "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "3")),
    }

# Production behind TLS sets DJANGO_HTTPS=1: cookies marked secure, HTTPS enforced with
# HSTS. The local benchmark speaks plain HTTP on loopback, so it stays off by default.
HTTPS = env_bool("DJANGO_HTTPS")
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("DJANGO_BEHIND_PROXY"):
    # Only when a trusted proxy sets this header and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    # A public read-only API: no authentication or content negotiation that could make
    # one mode answer differently from the others.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

# Admin "Load sample data" page and `manage.py import_candles` (candles/services.py, candles/csv_format.py).
# Uploads larger than this are refused (the command's --max-bytes can raise it).
CANDLES_UPLOAD_MAX_BYTES = int(os.environ.get("CANDLES_UPLOAD_MAX_BYTES", str(20 * 1024 * 1024)))
# Most 1m candles one Generate request may create (rollups add ~30%), so a staff
# user cannot fill the disk or hold a worker for hours with one click.
# 500,000 took about 8 s on SQLite here, well inside gunicorn's 30 s worker timeout;
# larger series belong to `manage.py seed_candles`.
CANDLES_GENERATE_MAX_COUNT = int(os.environ.get("CANDLES_GENERATE_MAX_COUNT", "500000"))
