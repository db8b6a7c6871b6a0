"""`python -m loadtest`: every mode x row count x server under Locust, each run checking itself,
then results.csv and the report."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from loadtest import steps
from loadtest.axes import COMPRESSION, STACK, split_label
from loadtest.cli import (
    CheckError,
    HelpFormatter,
    Interrupted,
    add_axes_options,
    add_deployment_options,
    add_load_host_options,
    add_target_options,
    command_main,
    create_results_dir,
    fmt_duration,
    log,
    parse_int_list,
    parse_name_list,
    quiet_interrupts,
    update_latest,
)
from loadtest.load.wrk import estimate_s as wrk_estimate_s
from loadtest.load.wrk import wrk_available
from loadtest.plan import (
    FULL,
    QUICK,
    WILDCARD_HOSTS,
    Plan,
    check_load_options,
    make_plan,
    make_target_plan,
)
from loadtest.report.capacity import CAPACITY_CSV, DEFAULT_SLO_MS
from loadtest.report.capacity_report import write_capacity_report
from loadtest.report.goals import GOAL_ROWS
from loadtest.report.render import write_reports
from loadtest.report.unknowns import UNKNOWN_COLUMNS
from loadtest.request import DIAGNOSTICS, candle_path
from loadtest.serving.checks import (
    Document,
    check_documents_agree,
    check_target_documents,
    explained_http_errors,
    spelled_differently,
)
from loadtest.serving.compression import compression_of, with_accept_encoding
from loadtest.serving.deployment import (
    TARGET,
    RemoteServer,
    RequestOptions,
    check_target_url,
    parse_headers,
    redact_header_values,
    target_registry,
)
from loadtest.serving.modes import ModeMap
from loadtest.serving.servers import BYTES, SERVERS, ServerProcess
from loadtest.serving.settings_probe import is_local_postgres
from loadtest.session import Session, open_session, open_target


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest bench",
        description="Compare the candle endpoint's modes under Locust load, per row count and server.",
        formatter_class=HelpFormatter,
        epilog="other commands: python -m loadtest --help",
    )
    p.add_argument(
        "--modes",
        type=parse_name_list,
        help="comma-separated modes (default: all, in report order); each server runs those it serves "
        "(--target: those its /api/modes lists; one it does not list is refused)",
    )
    p.add_argument(
        "--limits",
        type=parse_int_list,
        help=f"comma-separated row counts, for every server (default: {QUICK['limits']} on "
        f"{', '.join(s for s in SERVERS if SERVERS[s].every_limit)}, {GOAL_ROWS} on the others; "
        f"--full: {FULL['limits']} everywhere)",
    )
    p.add_argument(
        "--servers",
        type=parse_name_list,
        help=f"of {', '.join(SERVERS)} (default: all but "
        f"{', '.join(s for s in SERVERS if s not in QUICK['servers'].split(','))}; --full: all)",
    )
    p.add_argument(
        "--profile",
        choices=["steady", "seed"],
        default="steady",
        help="steady: N users without wait for a fixed time; seed: the case study's 60 users x 5 requests",
    )
    p.add_argument("--users", type=int, help="concurrent users (default: 16 steady, 60 seed)")
    p.add_argument(
        "--requests-per-user", type=int, default=5, help="seed profile: requests each user makes"
    )
    p.add_argument(
        "--duration",
        type=float,
        help=f"steady: measured seconds per run (default {QUICK['duration']:g}, "
        f"--full {FULL['duration']:g})",
    )
    p.add_argument(
        "--warmup",
        type=float,
        help=f"steady: minimum warm-up seconds per run (default {QUICK['warmup']:g}, "
        f"--full {FULL['warmup']:g}); it also lasts until every user got one response",
    )
    p.add_argument(
        "--repeats",
        type=int,
        help=f"runs per mode, limit and server (default {QUICK['repeats']}, "
        f"--full {FULL['repeats']})",
    )
    add_axes_options(
        p,
        "every server is started once under each combination of the setups asked for that it runs",
        defaults=False,
        default_said={
            COMPRESSION.name: "none, and on wsgi raw, msgspec and drf at 1000 rows under "
            "django-gzip and the recommended setup too; --target: the setup its /api/modes names",
            STACK.name: "today, and the case study's variants on fastapi at 1000 rows on 2023-08 "
            "too when that stack is built; --target: its own",
        },
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="the whole matrix: all servers at every limit, every ceiling diagnostic, longer runs",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="Locust processes; >1 runs Locust distributed (a master in this process plus N workers)",
    )
    add_load_host_options(p)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes of every server the runner starts (gunicorn -w, uvicorn --workers, granian "
        "--workers, runbolt --processes), pinned to CPUs 0..N-1; Locust gets the CPUs after them, "
        "else shares the last one (the report says so)",
    )
    add_target_options(p)
    p.add_argument("--no-micro", action="store_true", help="skip the in-process micro benchmark")
    p.add_argument(
        "--no-instructions",
        action="store_true",
        help="skip the instruction ladder (instructions per request under valgrind, ~1 min)",
    )
    p.add_argument(
        "--locust-html",
        action="store_true",
        help="keep Locust's HTML report of every run (~1 MB each)",
    )
    p.add_argument(
        "--no-capacity",
        action="store_true",
        help="skip the open-loop sweeps after the runs (capacity at p99 <= "
        f"{DEFAULT_SLO_MS:g} ms of the cells plan.py names; capacity.csv, capacity.md)",
    )
    p.add_argument(
        "--no-floor",
        action="store_true",
        help=f"do not measure the diagnostics {', '.join(DIAGNOSTICS)} (the server's ceiling)",
    )
    add_deployment_options(
        p,
        "its GET /api/modes decides the modes; its CPU, memory and workers are reported as "
        "unknown; the micro benchmark and the instruction ladder (this checkout, in-process) do "
        "not run",
    )
    return p


def check_target_options(args: argparse.Namespace) -> tuple[str, RequestOptions] | None:
    """--target's URL and request options, checked before any work (one line each); None
    without --target, where --header and --insecure have nothing to apply to."""
    if args.target is None:
        if args.header or args.insecure:
            raise CheckError(
                "--header and --insecure apply to --target only (the servers the runner starts "
                "need neither)"
            )
        return None
    if args.servers:
        raise CheckError(
            "--servers and --target exclude each other: --target measures the deployment at its URL "
            "and starts no server"
        )
    check_load_options(args, target=True)
    try:
        options = RequestOptions(parse_headers(args.header), args.insecure)
        url = check_target_url(args.target)
    except ValueError as exc:
        raise CheckError(str(exc)) from None
    if any(name.lower() == "accept-encoding" for name in options.headers):
        raise CheckError(
            "--header Accept-Encoding: the runner sends the Accept-Encoding of the target's "
            "compression setup itself"
        )
    return url, options


def start_servers(
    plan: Plan, session: Session, out: Path, meta: dict, servers: dict[str, ServerProcess]
) -> dict[tuple[str, str, int], Document]:
    """Start every planned server under each of its deployments (into `servers` by its label, so
    the caller stops them), learn the modes each serves, and check that they all answer one
    document per limit once decoded (each in its compression setup's coding, asked for with its
    Accept-Encoding): byte-identical, or for a server whose spec says INSTANTS (the FastAPI
    reference) equal as parsed JSON with times compared as instants. Returns each (server,
    endpoint, limit)'s answer (its wire size is what the load expects)."""
    reference: dict[int, tuple[str, bytes]] = {}
    sizes: dict[tuple[str, str, int], Document] = {}
    # Byte-exact servers first: their bodies are the reference the others are compared with.
    for name in sorted(plan.servers, key=lambda n: same_document(n) != BYTES):
        base, deployment = split_label(name)
        spec = SERVERS[base].with_workers(plan.workers)
        server, served = session.start_server(spec, out, deployment)
        servers[name] = server
        modes = plan.modes_on(name)
        missing = [m for m in modes if m not in served]
        if missing:
            raise CheckError(
                f"{name} does not serve {', '.join(missing)} (it lists {', '.join(served)})"
            )
        # The diagnostics too: the ceiling must be measured with the real answer's bytes.
        endpoints_at = {lim: plan.endpoints_on(name, lim) for lim in plan.limits_on(name)}
        documents = check_documents_agree(
            server.base_url,
            endpoints_at,
            lambda m, lim: candle_path(m, lim, plan.pair, plan.interval),
            spec.same_document,
            with_accept_encoding(None, deployment),
            who=name,
            reference=reference,
            content_encoding=compression_of(deployment).content_encoding,
        )
        sizes.update({(name, m, lim): document for (m, lim), document in documents.items()})
        if spelled := spelled_differently(documents, reference):
            meta.setdefault("spelled_differently", {})[name] = spelled
        meta.setdefault("server_affinity", {})[name] = server.affinity()
        diagnostics = [d for d in plan.endpoints_on(name) if d in DIAGNOSTICS]
        also = f" (and {', '.join(diagnostics)})" if diagnostics else ""
        how = (
            "byte-identical documents"
            if spec.same_document == BYTES
            else "the same document as parsed JSON with times as instants"
        )
        under = f" under {deployment.describe()}" if name != base else ""
        log(
            f"{name}: {spec.label}{under} on {server.host}:{server.port}, CPU(s) {server.affinity()}, "
            f"up in {server.started_s:.1f} s; {len(modes)} modes{also} answer {how}"
        )
    meta["documents"] = {str(lim): len(body) for lim, (_, body) in sorted(reference.items())}
    meta["document_equality"] = {name: same_document(name) for name in plan.servers}
    return sizes


def same_document(label: str) -> str:
    """How a planned server's documents compare with the others' (its spec's BYTES or INSTANTS)."""
    return SERVERS[split_label(label)[0]].same_document


def server_labels(plan: Plan) -> dict[str, str]:
    """meta.json's `servers`: each planned server's description, with its deployment's setups."""
    out = {}
    for label in plan.servers:
        base, deployment = split_label(label)
        text = SERVERS[base].with_workers(plan.workers).label
        out[label] = text + deployment.as_notes()
    return out


def write_outputs(out: Path, meta: dict, t_start: float) -> None:
    """meta.json, the reports, the latest link; prints the summary."""
    meta["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    summary = write_reports(out)
    if (out / CAPACITY_CSV).is_file():
        summary += "\n\n" + write_capacity_report(
            out, [f"Swept open-loop after the runs of {out.name}."]
        )
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    if not update_latest(out):
        log(f"(loadtest/results/latest is left alone: {out} is not a folder of loadtest/results/)")
    log("")
    log(summary)
    log("")
    log(f"report: {out / 'report.md'}  |  {out / 'report.html'}")
    log(f"total time {fmt_duration(time.monotonic() - t_start)}")


def run(args: argparse.Namespace) -> int:
    target = check_target_options(args)
    if target is not None:
        return run_against_target(args, *target)
    t_start = time.monotonic()
    started_at = datetime.now(UTC)
    server_host = check_load_options(args)
    session = open_session(args.processes, args.workers, server_host)
    plan = make_plan(args, session.settings["registry"], session.settings["max_limit"])
    out = create_results_dir(args.out, started_at, force=args.force)
    log(f"candlebench: results will be in {out}")
    session.prepare_database()
    runs = plan.runs()
    layout = session.layout.text + (
        f"; the users run on {plan.expect_workers} Locust workers of other hosts, "
        "the Locust here is their master"
        if plan.expect_workers
        else ""
    )
    log(f"plan: {len(runs)} runs; {plan.describe_load()}; {layout}\n{plan.describe_servers()}")
    before = (
        [] if args.no_micro else [f"the micro benchmark (~{fmt_duration(steps.MICRO_ESTIMATE_S)})"]
    )
    if not args.no_instructions:
        before.append(
            f"the instruction ladder (~{fmt_duration(steps.INSTRUCTIONS_ESTIMATE_S)}; --no-instructions skips it)"
        )
    wrk_cells = plan.wrk_cells()
    if wrk_cells and wrk_available():
        before.append(
            f"the wrk check (~{fmt_duration(wrk_estimate_s(len(wrk_cells), plan.repeats, plan.duration))})"
        )
    log(
        f"estimate: ~{fmt_duration(plan.estimate_s())} for starting the servers and the runs"
        f"{', plus ' + ' and '.join(before) if before else ''}, and the report"
    )

    micro = None if args.no_micro else steps.run_micro(plan, session, out)
    if not args.no_instructions:
        steps.run_instructions(plan, session, out)
    meta = {
        **run_meta(plan, started_at, layout, session.machine),
        "server_cpus": sorted(session.layout.server or []),
        "loadgen_cpus": sorted(session.layout.loadgen or []),
        "database": session.settings,
        "servers": server_labels(plan),
        "server_workers": plan.workers,
        "shared_cpus": sorted(session.layout.shared),
        "event_loop": {name: SERVERS[split_label(name)[0]].event_loop for name in plan.servers},
        "micro": micro,
        **steps.stacks_meta(plan),
    }
    # Every server runs for the whole session (idle ones cost nothing), so the run order
    # can interleave servers as well as modes.
    return measure_session(
        plan,
        out,
        meta,
        t_start,
        args,
        lambda servers: start_servers(plan, session, out, meta, servers),
        session.layout.loadgen,
        is_local_postgres(session.settings),
        f"http://{server_host}",
    )


def run_against_target(args: argparse.Namespace, url: str, request: RequestOptions) -> int:
    """`--target URL`: the same checks, runs and report against a deployment the runner did
    not start. Everything it checks over HTTP (a candlebench server, DEBUG off, the modes
    asked for, one document) is checked before the results folder is made."""
    t_start = time.monotonic()
    started_at = datetime.now(UTC)
    opened = open_target(url, args.processes, request)
    layout, machine, target = opened.layout, opened.machine, opened.server
    label = target.served_by
    plan = make_target_plan(args, target_registry(opened.modes_document), target.deployment)
    endpoints_at = {lim: plan.endpoints_on(label, lim) for lim in plan.limits_on(label)}
    with explained_http_errors(url):
        sizes, compared = check_target_documents(
            url,
            endpoints_at,
            lambda m, lim: candle_path(m, lim, plan.pair, plan.interval),
            with_accept_encoding(request, target.deployment),
            compression_of(target.deployment).content_encoding,
        )
    how = (
        "byte-identical documents"
        if compared == BYTES
        else "the same document as parsed JSON with times as instants"
    )
    log(
        f"target: {url} answers GET /api/modes as candlebench ({len(plan.modes_on(label))} of its "
        f"{len(ModeMap(plan.registry).modes)} modes planned, compression "
        f"{target.deployment[COMPRESSION.name]}), DEBUG off; "
        f"at every limit they answer {how}"
    )
    out = create_results_dir(args.out, started_at, force=args.force)
    log(f"candlebench: results will be in {out}")
    log(
        f"plan: {len(plan.runs())} runs; {plan.describe_load()}; {layout.text}\n{plan.describe_servers()}"
    )
    log(
        f"estimate: ~{fmt_duration(plan.estimate_s())} for the runs, and the report (the micro benchmark and the "
        "instruction ladder measure this checkout in-process: not run against a target)"
    )
    meta = {
        **run_meta(plan, started_at, layout.text, machine),
        "loadgen_cpus": sorted(layout.loadgen or []),
        "servers": {label: f"the deployment at {url}, not started by the runner"},
        "target": {
            "name": TARGET,
            "url": url,
            "header_names": list(request.headers),
            "insecure": request.insecure,
            "on_this_machine": target.on_this_machine,
            "unknown_columns": list(UNKNOWN_COLUMNS),
        },
        "documents": {
            str(lim): len(sizes[(endpoints[0], lim)].body)
            for lim, endpoints in sorted(endpoints_at.items())
        },
        "document_equality": {label: compared},
        "micro": None,
    }

    def reach(servers: dict) -> dict[tuple[str, str, int], Document]:
        servers[label] = target
        return {(label, m, lim): document for (m, lim), document in sizes.items()}

    return measure_session(
        plan, out, meta, t_start, args, reach, layout.loadgen, False, url, request
    )


def run_meta(plan: Plan, started_at: datetime, cpu_layout: str, machine: dict) -> dict:
    """meta.json's entries every session has (header values never: argv keeps their names only)."""
    return {
        "started_at": started_at.isoformat(timespec="seconds"),
        "argv": redact_header_values(sys.argv[1:]),
        "plan": plan.__dict__,
        "load": plan.describe_load(),
        "cpu_layout": cpu_layout,
        "machine": machine,
        "estimate_s": round(plan.estimate_s()),
        "request": candle_path("<mode>", 0, plan.pair, plan.interval).replace("limit=0", "limit=N"),
    }


def measure_session(
    plan: Plan,
    out: Path,
    meta: dict,
    t_start: float,
    args: argparse.Namespace,
    start: Callable[[dict], dict[tuple[str, str, int], Document]],
    loadgen_cpus: set[int] | None,
    local_postgres: bool,
    host: str = "http://127.0.0.1",
    request: RequestOptions | None = None,
) -> int:
    """`start(servers)` (fills `servers`, returns each run's body size), every run, the wrk
    check; then the servers stopped and the outputs written (after Ctrl-C: the partial ones)."""
    servers: dict[str, ServerProcess | RemoteServer] = {}
    loadgen = None
    interrupted = False
    try:
        sizes = start(servers)
        steps.check_machine_quiet(list(servers.values()), meta)
        from loadtest.load.generator import interrupt_main_greenlet_only  # imports Locust
        from loadtest.load.open_loop import OpenLoopGenerator

        interrupt_main_greenlet_only()
        if plan.expect_workers:
            bind_host, bind_port = args.master_bind
            reach = "<this machine's address>" if bind_host in WILDCARD_HOSTS else bind_host
            log(
                f"waiting up to {args.workers_wait:g} s for {plan.expect_workers} Locust worker(s); on each load "
                f"host: python -m loadtest worker --master {reach}:{bind_port}"
            )
        loadgen = OpenLoopGenerator.from_options(host, args, loadgen_cpus, out / "logs", request)
        if loadgen.distributed:
            meta["load_workers"] = loadgen.worker_labels()
            log(f"Locust workers: {', '.join(meta['load_workers'])}")
        steps.measure_all(
            plan,
            servers,
            loadgen,
            sizes,
            out,
            local_postgres,
            args.locust_html,
            steps.wrk_check(plan, servers, loadgen_cpus, request),
        )
        steps.run_study_profile(plan, servers, loadgen, sizes, out, local_postgres)
        steps.sweep_capacity(plan, servers, loadgen, sizes, out, local_postgres)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with quiet_interrupts():
            if loadgen is not None:
                loadgen.close()
            for server in servers.values():
                server.stop()
    if interrupted:
        with quiet_interrupts():
            said = write_partial(out, meta, t_start, len(plan.runs()))
        raise Interrupted(said)
    write_outputs(out, meta, t_start)
    return 0


def write_partial(out: Path, meta: dict, t_start: float, planned: int) -> str:
    """After Ctrl-C: the report of the runs measured so far, marked partial (or, when that
    fails, the command that makes one); `latest` keeps pointing at the last complete run.
    Returns what was done, for the one line that ends the run."""
    results = out / "results.csv"
    done = max(0, len(results.read_text().splitlines()) - 1) if results.exists() else 0
    if not done:
        return f"no run was measured (logs in {out})"
    meta["partial"] = f"interrupted after {done} of {planned} runs"
    meta["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    try:
        write_reports(out)
    except Exception as exc:  # a report of a few runs may lack what a section needs
        return f"{meta['partial']}; no report ({type(exc).__name__}); make one with: python -m loadtest report {out}"
    return f"{meta['partial']}; partial report: {out / 'report.md'}"


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
