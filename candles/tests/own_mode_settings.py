"""...and one registry entry: the project's settings plus CANDLEBENCH_EXTRA_MODES.

DJANGO_SETTINGS_MODULE=candles.tests.own_mode_settings
"""

from candleproject.settings import *  # noqa: F403 - the project's settings, plus the mode below
from candles.api.registry import Mode

CANDLEBENCH_EXTRA_MODES = [
    Mode(
        "orm-tuples",
        "the ORM's values_list() tuples into orjson",
        "candles.tests.own_mode.orm_tuples",
    ),
]
