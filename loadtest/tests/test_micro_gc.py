"""`python -m loadtest micro --gc`: each mode under each GC setup in a process of its own that
applies it as a server does, rounds interleaved, rows read back from `gc`."""

import json

import pytest

from loadtest.inprocess.micro import main
from loadtest.tests.live_servers import server_database_url

pytestmark = [pytest.mark.live, pytest.mark.database]


@pytest.mark.django_db(transaction=True)
def test_each_setup_runs_in_its_own_process_round_after_round(
    committed_sample_candles, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("DATABASE_URL", server_database_url())
    monkeypatch.delenv("CANDLEBENCH_GC", raising=False)
    out = tmp_path / "micro.json"
    argv = ["--modes", "raw,drf", "--limits", "10", "--calls", "3", "--repeats", "2"]
    assert main([*argv, "--gc", "default,freeze-between-requests", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["gc_rows"]
    order = [(r["repeat"], r["mode"], r["gc"]) for r in rows]
    assert order == [
        (1, "raw", "default"),
        (1, "raw", "freeze-between-requests"),
        (1, "drf", "default"),
        (1, "drf", "freeze-between-requests"),
        (2, "raw", "freeze-between-requests"),  # every other round backwards
        (2, "raw", "default"),
        (2, "drf", "freeze-between-requests"),
        (2, "drf", "default"),
    ]
    for r in rows:
        assert r["calls"] == 3 and r["peak_rss_mb"] > 20 and r["p50_ms"] > 0, r
        between = sum(r["gc_between_collections"])
        # Under collection between requests every answer is followed by one; never inside a call.
        if r["gc"] == "freeze-between-requests":
            assert between == 3 and sum(r["gc_collections"]) == 0, r
    printed = capsys.readouterr().out
    assert "drf+gc=freeze-between-requests" in printed
    assert "GC setups in-process: medians of 2 round(s); ratios over default" in printed
