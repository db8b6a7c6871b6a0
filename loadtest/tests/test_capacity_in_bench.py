"""What bench does with the open loop, without servers: the cells its plans sweep, the capacity
column of the frameworks table, and the closed loop's percentiles labelled and checked against
Little's law."""

import shutil
from pathlib import Path

from loadtest import bench, steps
from loadtest.axes import Deployment
from loadtest.report import render
from loadtest.report.capacity import CAPACITY_CSV, CapacityRow, CapacityWriter
from loadtest.report.closed_loop import littles_law_items
from loadtest.report.frameworks import frameworks_table
from loadtest.report.results import Results, Row
from loadtest.report.tables import Table
from loadtest.run_checks import littles_law
from loadtest.serving.checks import Document
from loadtest.serving.modes import registry_entries

RECORDED = Path(__file__).parent / "fixtures" / "recorded"


def plan_for(argv):
    return bench.make_plan(bench.build_parser().parse_args(argv), registry_entries(), 1440)


def test_the_default_plan_sweeps_a_few_cells_at_1000_rows_and_full_sweeps_more():
    quick = plan_for([])
    assert [(s, m) for s, m, _ in quick.sweeps] == [("wsgi", "raw"), ("wsgi", "msgspec")]
    assert quick.sweep_options.max_window <= 6
    full = plan_for(["--full"])
    assert len(full.sweeps) == 8 and all(len(f) == 6 for _, _, f in full.sweeps)
    assert full.sweep_options.duration > quick.sweep_options.duration


def test_a_cell_the_plan_does_not_run_is_not_swept_and_no_capacity_sweeps_none():
    assert plan_for(["--servers", "asgi"]).sweeps == []
    assert [m for _, m, _ in plan_for(["--modes", "raw,drf"]).sweeps] == ["raw"]
    assert plan_for(["--no-capacity"]).sweeps == []
    assert plan_for(["--profile", "seed"]).sweeps == []
    sweeping, not_sweeping = plan_for([]), plan_for(["--no-capacity"])
    assert sweeping.estimate_s() > not_sweeping.estimate_s() + 30


def with_capacity(tmp_path: Path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(RECORDED, folder)
    with open(folder / CAPACITY_CSV, "w", newline="") as f:
        writer = CapacityWriter(f)
        for rate, p99 in ((100, 20.0), (200, 60.0), (300, 400.0)):
            writer.write(
                CapacityRow(
                    "wsgi",
                    "raw",
                    1000,
                    "poisson",
                    rate,
                    achieved_rps=rate,
                    served_pct=100.0,
                    requests=1500,
                    p99_ms=p99,
                )
            )
    return folder


def test_the_frameworks_table_gives_the_capacity_of_the_swept_cells(tmp_path):
    res = Results.load(with_capacity(tmp_path))
    table = frameworks_table(res)
    column = table.headers.index("capacity at p99 ≤ 100 ms")
    by_cell = {(row[0], row[1]): row[column] for row in table.rows}
    assert by_cell[("wsgi", "raw")] == "200 req/s (300 not met)"
    assert by_cell[("asgi", "raw")] == "-"
    assert "highest rate offered open-loop" in table.caption
    md = render.render_markdown(res)
    assert "Latency against offered load (open loop)" in md and "capacity.html" in md


def test_without_a_sweep_the_table_has_no_capacity_column():
    table = frameworks_table(Results.load(RECORDED))
    assert not any("capacity" in h for h in table.headers)


def test_the_closed_loops_percentiles_are_labelled_as_queueing():
    md = render.render_markdown(Results.load(RECORDED))
    assert "16 users without wait keep the server saturated" in md
    assert "Little's law (closed loop)" in md


def test_littles_law_holds_within_its_tolerance_and_the_edges_of_a_short_window():
    ratio, tolerance = littles_law(16, rps=400, mean_ms=40, requests=600)
    assert ratio == 1.0 and tolerance == 0.1 + 16 / 600
    ratio, _ = littles_law(16, rps=400, mean_ms=30, requests=600)
    assert ratio == 0.75


def row(rps, mean_ms, requests=1000, **kw):
    return Row("wsgi", "raw", 1000, 1, rps=rps, mean_ms=mean_ms, requests=requests, **kw)


def test_runs_off_littles_law_are_listed_and_the_rest_counted():
    res = Results(
        [row(400, 40.0), row(400, 30.0), row(40, 300.0, requests=60)], {"plan": {"users": 16}}
    )
    sentence, table = littles_law_items(res)
    assert "2 of 3 runs hold it" in sentence
    assert isinstance(table, Table) and [r[7] for r in table.rows] == ["-25%"]
    seed = Results([row(400, 30.0)], {"plan": {"users": 60, "profile": "seed"}})
    assert littles_law_items(seed)[0].startswith("Not checked")


def test_bench_sweeps_its_cells_from_their_closed_loop_medians(tmp_path, monkeypatch):
    """The plan's sweeps after the runs: rates are fractions of the session's own median."""
    import sys
    from types import ModuleType, SimpleNamespace

    from loadtest.report.capacity import load_capacity
    from loadtest.report.results import ResultsWriter
    from loadtest.tests.test_capacity import StandInGenerator, StandInServer

    with open(tmp_path / "results.csv", "w", newline="") as f:
        ResultsWriter(f).write_all(
            Row("wsgi", "raw", 1000, r, rps=rps, requests=600)
            for r, rps in ((1, 390.0), (2, 400.0), (3, 410.0))
        )
    # The load generator's module imports Locust, which patches with gevent: not in this process.
    generator = ModuleType("loadtest.load.generator")
    generator.CandleRequest = lambda mode, limit, *rest, **options: SimpleNamespace(
        mode=mode, limit=limit, **{"size_slack": 0, **options}
    )
    monkeypatch.setitem(sys.modules, "loadtest.load.generator", generator)
    plan = plan_for(["--servers", "wsgi", "--modes", "raw", "--limits", "1000"])
    loadgen = StandInGenerator()
    server = StandInServer()
    server.base_url, server.cpu_probe = "http://127.0.0.1:1", lambda local_postgres: None
    loadgen.point_at = lambda url: None
    document = Document(b"x" * 100, 100)
    steps.sweep_capacity(
        plan, {"wsgi": server}, loadgen, {("wsgi", "raw", 1000): document}, tmp_path, False
    )
    assert loadgen.calls == [("open", 200.0), ("open", 340.0), ("open", 420.0)]
    rows = load_capacity(tmp_path / CAPACITY_CSV)
    assert [r.closed_loop_rps for r in rows] == [400.0] * 3


def test_the_capacity_column_survives_the_uncompressed_and_trusted_subsets(tmp_path):
    """The report's tables read the runs without compression (and the verdict the trustworthy
    ones): the open-loop capacities come along."""
    shutil.copy(RECORDED / "results.csv", tmp_path / "results.csv")
    shutil.copy(RECORDED / "meta.json", tmp_path / "meta.json")
    with open(tmp_path / CAPACITY_CSV, "w", newline="") as f:
        CapacityWriter(f).write(
            CapacityRow("wsgi", "raw", 1000, "poisson", 100.0, 100.0, 0, 1500, 5, 9, 10, 20, 30)
        )
    res = Results.load(tmp_path)
    rows = [
        Row(
            "wsgi",
            "raw",
            1000,
            1,
            rps=390.0,
            requests=600,
            deployment=Deployment(compression="zstd-1"),
        )
    ]
    mixed = Results([*res.rows, *rows], res.meta)
    mixed.capacity = res.capacity
    plain = mixed.on_default_deployment()
    assert plain is not None and plain.capacity == res.capacity != {}
    trusted = mixed.trusted()
    assert trusted is not None and trusted.capacity == res.capacity
