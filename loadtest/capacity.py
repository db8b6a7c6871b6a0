"""`python -m loadtest capacity`: open-loop load at fractions of each cell's closed-loop maximum
(or at --rates), the latency against the offered load (the hockey stick), and each cell's
capacity at a latency target: capacity.csv, capacity.md, capacity.html (loadtest/README.md)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from loadtest.arrivals import (
    ARRIVAL_KINDS,
    CONNECTIONS,
    POISSON,
    POOL,
    ROUGH_P99_REQUESTS,
    slip_limit_ms,
)
from loadtest.cli import (
    CheckError,
    HelpFormatter,
    Interrupted,
    add_axes_options,
    add_deployment_options,
    add_load_host_options,
    add_target_options,
    asked_axes,
    command_main,
    create_results_dir,
    fmt_duration,
    log,
    parse_int_list,
    parse_name_list,
    quiet_interrupts,
)
from loadtest.overload import start_checked_server
from loadtest.plan import check_load_options
from loadtest.report.capacity import CAPACITY_CSV, DEFAULT_SLO_MS, SERVED_PCT, CapacityWriter
from loadtest.report.capacity_report import write_capacity_report
from loadtest.report.gc_goals import recommended_in
from loadtest.request import candle_path
from loadtest.serving.axes import (
    chosen,
    deployments_on,
    refuse_unknown,
    runs_none_of,
    server_axes,
    setup_entries,
)
from loadtest.serving.checks import (
    Document,
    check_target_documents,
    explained_http_errors,
)
from loadtest.serving.compression import compression_of, expected_answer, with_accept_encoding
from loadtest.serving.deployment import (
    RequestOptions,
    check_target_url,
    parse_headers,
    redact_header_values,
    target_registry,
)
from loadtest.serving.modes import ModeMap
from loadtest.serving.servers import SERVERS, refuse_unknown_servers
from loadtest.serving.settings_probe import is_local_postgres
from loadtest.session import CpuLayout, open_session, open_target
from loadtest.sweep import (
    FRACTIONS,
    GENERATOR_RPS_PER_PROCESS,
    SweepOptions,
    generator_refusal,
    sweep_cell,
    sweep_estimate_s,
)


def parse_float_list(text: str) -> list[float]:
    """`100,250.5` -> [100.0, 250.5] (argparse type)."""
    values = [float(item) for item in text.split(",") if item.strip()]
    if not values or any(not v > 0 for v in values):
        raise ValueError("a list of numbers > 0")
    return values


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest capacity",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--servers", type=parse_name_list, default="wsgi", help=f"of {', '.join(SERVERS)}"
    )
    p.add_argument("--modes", type=parse_name_list, default="raw,drf", help="comma-separated modes")
    p.add_argument(
        "--limits", type=parse_int_list, default="1000", help="comma-separated row counts"
    )
    add_axes_options(
        p,
        "each server is started once under each combination of them it runs, its rows named "
        "<server>+<setup>...; a --target is swept under its own setups",
    )
    p.add_argument(
        "--rates",
        type=parse_float_list,
        metavar="R1,R2,...",
        help="offered requests/s for every cell (skips finding the closed-loop maximum; default: "
        f"{', '.join(f'{f * 100:g}%%' for f in FRACTIONS)} of it; see --fractions)",
    )
    p.add_argument(
        "--fractions",
        type=parse_float_list,
        default=",".join(f"{f:g}" for f in FRACTIONS),
        metavar="F1,F2,...",
        help="without --rates: the offered rates as fractions of each cell's closed-loop maximum",
    )
    p.add_argument(
        "--arrivals",
        choices=ARRIVAL_KINDS,
        default=POISSON,
        help="poisson: independent users (exponential gaps); constant: one every 1/rate seconds",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help=f"seconds each rate is measured, at least: longer (up to --max-window) until "
        f"{ROUGH_P99_REQUESTS} arrivals fall in the window, so the p99 means something",
    )
    p.add_argument(
        "--max-window", type=float, default=30.0, help="seconds a rate is measured, at most"
    )
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each window")
    p.add_argument(
        "--slo-ms",
        type=float,
        default=DEFAULT_SLO_MS,
        help=f"the latency target: capacity is the highest rate with p99 within it, nothing dropped "
        f"and >= {SERVED_PCT:g}%% served",
    )
    p.add_argument(
        "--connections",
        type=int,
        default=CONNECTIONS,
        help="connections the generator opens at most (all processes); arrivals beyond wait for one, "
        "timed (64 keeps gunicorn's accept backlog and uvicorn's --limit-concurrency from overflowing)",
    )
    p.add_argument(
        "--pool",
        type=int,
        default=POOL,
        help="arrivals waiting or in flight at most (all processes); beyond it they are dropped, counted",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help=f"Locust processes sharing the rate (one generates ~{GENERATOR_RPS_PER_PROCESS:.0f} req/s)",
    )
    p.add_argument(
        "--max-rps-per-process",
        type=float,
        default=GENERATOR_RPS_PER_PROCESS,
        metavar="RPS",
        help="requests/s one Locust process is trusted to generate (measured on the reference "
        "machine; loadtest/README.md says how to measure yours): a higher rate is refused",
    )
    add_load_host_options(p)
    add_target_options(p, "capacity")
    add_deployment_options(
        p,
        "--modes must be among those its GET /api/modes lists; its CPU is not known (left empty)",
    )
    return p


def check_args(args: argparse.Namespace) -> tuple[str, RequestOptions]:
    """Every option that cannot make a sweep, refused before any work (one line); the address
    the started servers listen on and the requests' options (headers, TLS checking)."""
    args.workers = 1  # the servers the runner starts run one process each here
    server_host = check_load_options(args, target=args.target is not None)
    if args.target is None:
        refuse_unknown_servers(args.servers)
        if args.header or args.insecure:
            raise CheckError("--header and --insecure apply to --target only")
        refuse_unknown(asked_axes(args))
        for name in args.servers:
            if not deployments_on(name, asked_axes(args)):
                raise CheckError(runs_none_of(name, asked_axes(args)))
    else:
        for a in server_axes():
            if asked_axes(args)[a.name] != [a.axis.default]:
                names = " (its /api/modes names it)" if a.echo or a.served else ""
                raise CheckError(
                    f"{a.axis.option} applies to the servers the runner starts: a --target is "
                    f"swept under its own setup{names}"
                )
    if args.duration <= 0 or args.max_window < args.duration or args.warmup < 0:
        raise CheckError("--duration must be > 0, --max-window >= --duration, --warmup >= 0")
    if args.slo_ms <= 0 or args.connections < 1 or args.pool < args.connections:
        raise CheckError("--slo-ms must be > 0, --connections >= 1 and --pool >= --connections")
    if args.processes < 1 or min(args.limits) < 1:
        raise CheckError("--processes and every limit must be >= 1")
    processes = args.expect_workers or args.processes
    too_fast = [r for r in args.rates or [] if r > processes * args.max_rps_per_process]
    if too_fast:
        raise CheckError(
            generator_refusal(max(too_fast), processes, args.max_rps_per_process)
            + ": add --processes N or --expect-workers N on cores of their own"
        )
    try:
        return server_host, RequestOptions(parse_headers(args.header), args.insecure)
    except ValueError as exc:
        raise CheckError(str(exc)) from None


def sweep_options(args: argparse.Namespace) -> SweepOptions:
    return SweepOptions(
        arrivals=args.arrivals,
        slo_ms=args.slo_ms,
        duration=args.duration,
        max_window=args.max_window,
        warmup=args.warmup,
        connections=args.connections,
        pool=args.pool,
        max_rps_per_process=args.max_rps_per_process,
    )


def run(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    t_start = time.monotonic()
    server_host, request = check_args(args)
    if args.target is not None:
        return run_against_target(args, request, started_at, t_start)
    session = open_session(args.processes, 1, server_host)
    ModeMap(session.settings["registry"]).refuse_unknown(args.modes)
    if any(lim > session.settings["max_limit"] for lim in args.limits):
        raise CheckError(
            f"limits must be within 1..{session.settings['max_limit']} (the API's range)"
        )
    out = create_results_dir(args.out, started_at, "capacity", force=args.force)
    log(f"capacity: {session.layout.text}; results in {out}")
    session.prepare_database()
    meta = capacity_meta(args, started_at, session.layout.text, session.machine)
    meta["database"] = session.database_text
    asked = asked_axes(args)
    setups = [(name, d) for name in args.servers for d in deployments_on(name, asked)]
    meta |= chosen(asked)  # each axis's setups: meta["compression"], meta["stack"], ...
    meta["gc_recommended"] = recommended_in(setup_entries())  # what the report's goals judge
    meta["servers"] = {d.label(name): SERVERS[name].label + d.as_notes() for name, d in setups}
    log(
        estimate_text(
            args,
            cells=len(setups) * len(args.limits) * len(args.modes),
            servers=len(setups) * len(args.limits),
        )
    )

    def cells(loadgen, writer) -> None:
        for name, deployment in setups:
            for limit in args.limits:
                server, sizes = start_checked_server(
                    session,
                    SERVERS[name],
                    out,
                    args.modes,
                    limit,
                    args.pair,
                    args.interval,
                    deployment,
                )
                log(
                    f"{server.served_by}: {meta['servers'][server.served_by]}; "
                    f"{', '.join(sizes)} at {limit} rows answer one document"
                )
                try:
                    for mode, document in sizes.items():
                        sweep_one(
                            args,
                            loadgen,
                            server,
                            mode,
                            limit,
                            document,
                            is_local_postgres(session.settings),
                            writer,
                        )
                finally:
                    server.stop()

    return measure(args, out, meta, t_start, session.layout, cells, f"http://{server_host}", None)


def estimate_text(args: argparse.Namespace, cells: int, servers: int) -> str:
    """The sweep's duration, estimated before any work (a slow mode's long windows add up)."""
    low, high = sweep_estimate_s(cells, servers, args.rates, args.fractions, sweep_options(args))
    span = fmt_duration(low) if high - low < 60 else f"{fmt_duration(low)} to {fmt_duration(high)}"
    return (
        f"estimate: {span} (m:ss) for {cells} cell(s) x {len(args.rates or args.fractions)} rate(s) "
        f"(each rate's window {args.duration:g}-{args.max_window:g} s: longer until "
        f"{ROUGH_P99_REQUESTS:,} answers, for a p99)"
    )


def run_against_target(
    args: argparse.Namespace, request: RequestOptions, started_at: datetime, t_start: float
) -> int:
    """--target URL: the deployment's own modes and documents checked, then every cell swept."""
    url = check_target_url(args.target)
    opened = open_target(url, args.processes, request)
    layout, target = opened.layout, opened.server
    served = ModeMap(target_registry(opened.modes_document))
    missing = [m for m in args.modes if m not in served.modes]
    if missing:
        raise CheckError(
            f"the target does not serve {', '.join(missing)} (its /api/modes lists {', '.join(served.modes)})"
        )
    # The deployment's own compression setup (its /api/modes): its Accept-Encoding is sent.
    with explained_http_errors(url):
        sizes, _ = check_target_documents(
            url,
            dict.fromkeys(args.limits, args.modes),
            lambda m, lim: candle_path(m, lim, args.pair, args.interval),
            with_accept_encoding(request, target.deployment),
            compression_of(target.deployment).content_encoding,
        )
    out = create_results_dir(args.out, started_at, "capacity", force=args.force)
    log(f"capacity: target {url}; {layout.text}; results in {out}")
    log(estimate_text(args, cells=len(args.limits) * len(args.modes), servers=0))
    meta = capacity_meta(args, started_at, layout.text, opened.machine)
    meta["target"] = {
        "url": url,
        "header_names": list(request.headers),
        "on_this_machine": target.on_this_machine,
    }

    def cells(loadgen, writer) -> None:
        for limit in args.limits:
            for mode in args.modes:
                sweep_one(args, loadgen, target, mode, limit, sizes[(mode, limit)], False, writer)

    return measure(args, out, meta, t_start, layout, cells, url, request)


def sweep_one(
    args, loadgen, server, mode: str, limit: int, expected: Document, local_postgres: bool, writer
) -> None:
    from loadtest.load.generator import CandleRequest

    loadgen.point_at(server.base_url)
    request = CandleRequest(
        mode, limit, args.pair, args.interval, **expected_answer(expected, server.deployment)
    )
    sweep_cell(
        loadgen,
        server,
        request,
        sweep_options(args),
        lambda: server.cpu_probe(local_postgres),
        rates=args.rates,
        fractions=args.fractions,
        on_row=writer.write,
        log=log,
    )


def capacity_meta(
    args: argparse.Namespace, started_at: datetime, layout: str, machine: dict
) -> dict:
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "argv": redact_header_values(sys.argv[1:]),
        "cpu_layout": layout,
        "machine": machine,
        "slo_ms": args.slo_ms,
        "arrivals": args.arrivals,
        "rates": args.rates,
        "fractions": None if args.rates else args.fractions,
        "duration_s": args.duration,
        "max_window_s": args.max_window,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "pool": args.pool,
        "slip_limit_ms": slip_limit_ms(args.slo_ms),
        "request": candle_path("<mode>", 0, args.pair, args.interval).replace("limit=0", "limit=N"),
    }


def measure(
    args, out: Path, meta: dict, t_start: float, layout: CpuLayout, cells, host: str, request
) -> int:
    """The load generator for the whole sweep, `cells(loadgen, writer)`, then the report (also
    after Ctrl-C, of the rates measured so far)."""
    from loadtest.load.generator import interrupt_main_greenlet_only  # imports Locust (gevent)
    from loadtest.load.open_loop import OpenLoopGenerator

    interrupt_main_greenlet_only()
    loadgen = OpenLoopGenerator.from_options(host, args, layout.loadgen, out / "logs", request)
    interrupted = False
    try:
        with open(out / CAPACITY_CSV, "w", newline="") as f:
            cells(loadgen, CapacityWriter(f))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with quiet_interrupts():
            loadgen.close()
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    if interrupted:
        meta["partial"] = "interrupted"
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    intro = [
        f"Started {meta['started_at']} UTC; {meta['cpu_layout']}.",
        f"Request: GET {meta['request']}; arrivals: {args.arrivals}; latency target p99 <= {args.slo_ms:g} ms.",
    ]
    summary = write_capacity_report(out, intro)
    if interrupted:
        raise Interrupted(f"capacity report of the rates measured so far: {out / 'capacity.md'}")
    log("")
    log(summary)
    log(f"\nreport: {out / 'capacity.md'}  |  {out / 'capacity.html'}")
    log(f"total time {fmt_duration(time.monotonic() - t_start)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
