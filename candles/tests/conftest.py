from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from candles.api.modes import MODES

ALL_MODES = list(MODES)
SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"
# The committed fixture's 1m history for upbit/KRW/BTC starts here.
SAMPLE_START = datetime(2023, 8, 23, tzinfo=UTC)


@pytest.fixture
def sample_candles(db) -> None:
    call_command("loaddata", "sample_candles", verbosity=0)


@pytest.fixture
def committed_sample_candles(transactional_db) -> None:
    """The fixture committed for real: async tests query from another thread's connection."""
    call_command("loaddata", "sample_candles", verbosity=0)
