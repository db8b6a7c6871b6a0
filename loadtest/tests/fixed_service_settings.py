"""The project's settings plus a mode of fixed service time (loadtest/tests/fixed_service.py).

DJANGO_SETTINGS_MODULE=loadtest.tests.fixed_service_settings
"""

from candleproject.settings import *  # noqa: F403
from candles.api.registry import Mode

CANDLEBENCH_EXTRA_MODES = [
    Mode(
        "fixed-service",
        "busy-waits a fixed time, then the floor's bytes: an M/D/1 server for the open-loop tests",
        "loadtest.tests.fixed_service.fixed_service",
    ),
]
