"""A pytest plugin (pyproject.toml's addopts: `-p candleproject.tests.fresh_shell`): the tests run
with the environment a fresh shell gives, whatever the developer's shell exports.

The settings read the environment, and the servers the live tests start inherit it, so a
production `DJANGO_ALLOWED_HOSTS='*'` or a `CANDLEBENCH_COMPRESSION` left exported would change
what the tests assert on. Loaded with `-p`, this module runs before pytest-django reads the
settings: it drops the project's variables and those of the tools it runs (gunicorn, uvicorn,
granian, Locust, libpq, an HTTP proxy) and pins the settings module. A test that needs one of
them sets it itself (monkeypatch, or the env it gives a subprocess).
"""

import os

# Every variable whose name starts with one of these is dropped: the project's own
# (candleproject/settings.py, gunicorn.conf.py, loadtest) and those its servers and tools read
# (gunicorn's GUNICORN_CMD_ARGS, uvicorn's and granian's option variables, Locust's LOCUST_*,
# libpq's PGHOST/PGOPTIONS/...).
DROPPED_PREFIXES = (
    "DJANGO_",
    "CANDLEBENCH_",
    "CANDLES_",
    "DATABASE_",
    "GUNICORN_",
    "UVICORN_",
    "GRANIAN_",
    "LOCUST_",
    "PG",
)
# ... and these: gunicorn's default worker count, uvicorn's trusted proxies, and a proxy that
# urllib would send the tests' requests for 127.0.0.1 through.
DROPPED_NAMES = frozenset(
    {
        "WEB_CONCURRENCY",
        "FORWARDED_ALLOW_IPS",
        *(
            name
            for proxy in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
            for name in (proxy, proxy.upper())
        ),
    }
)
# Kept on purpose, each for a reason the tests rely on.
KEPT = {
    "DATABASE_URL": "the database the suite runs on: make test-postgres sets it "
    "(pytest-django creates test_<name> and drops it; the live tests use <name>_loadtest_servers)",
    "CANDLEBENCH_REQUIRE_TOOLS": "CI's switch: a missing tool fails its test instead of skipping it",
    "PYENV_ROOT": "pyenv's own: where the Pythons of the older stacks (stacks/) are installed",
}
# Set whatever the shell says: the settings the suite is written for.
PINNED = {"DJANGO_SETTINGS_MODULE": "candleproject.settings"}


def is_dropped(name: str) -> bool:
    """Whether the tests run without `name` (False for the kept and pinned ones)."""
    if name in KEPT or name in PINNED:
        return False
    return name in DROPPED_NAMES or name.startswith(DROPPED_PREFIXES)


def fresh_shell_environment(environ: dict[str, str]) -> dict[str, str]:
    """`environ` as a fresh shell would give it to the tests."""
    return {**{k: v for k, v in environ.items() if not is_dropped(k)}, **PINNED}


_fresh = fresh_shell_environment(dict(os.environ))
os.environ.clear()
os.environ.update(_fresh)
