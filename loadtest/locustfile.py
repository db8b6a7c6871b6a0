"""Locust load for candlebench: every user requests one mode at one limit (`make locust` by hand;
the runner drives this same file in-process). Options and profiles: loadtest/README.md."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from pathlib import Path

import gevent
import gevent.ssl
import psutil
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import insecure_ssl_context_factory
from locust.exception import StopUser
from locust.runners import STATE_RUNNING, MasterRunner, WorkerRunner

if not __package__:  # loaded by path (`locust -f loadtest/locustfile.py`): find the project
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from candles.api.registry import registered_modes
from loadtest.cli import CheckError
from loadtest.load.arrival_user import ARRIVAL_LOG, MAX_CONNECTIONS, run_arrivals
from loadtest.load.wire import read_bodies_undecoded
from loadtest.request import DEFAULT_INTERVAL, DEFAULT_PAIR, candle_path, request_name
from loadtest.serving.checks import explained_http_errors, target_modes_document
from loadtest.serving.deployment import RequestOptions, parse_headers, target_registry
from loadtest.stats import Collector, TimingSummary

# Samples of this process; the runner reads them (see loadtest.load.generator).
COLLECTOR = Collector()
SUMMARY = TimingSummary()
# Custom messages between a Locust master and its workers (distributed mode).
FLUSH_MESSAGE = "candlebench_flush"
SAMPLES_MESSAGE = "candlebench_samples"
REPORT_KEY = "candlebench_samples"

DEFAULTS = {
    "mode": "drf",
    "limit": 1000,
    "interval": DEFAULT_INTERVAL,
    "pair": DEFAULT_PAIR,
    "load_profile": "steady",
    "requests_per_user": 5,
    "expect_bytes": 0,
    "expect_bytes_slack": 0,
    "accept_encoding": "",
    "header": (),
    "insecure": False,
}

log = logging.getLogger("candlebench")


def mode_names() -> list[str]:
    """Every mode of the registry, the project's own (CANDLEBENCH_EXTRA_MODES) included, read
    from the settings manage.py reads: --mode's choices and the user classes of the class picker."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    return [mode.name for mode in registered_modes()]


@events.init_command_line_parser.add_listener
def _add_options(parser) -> None:
    # On the parser itself, not in an argument group: Locust's web form shows the options added
    # with parser.add_argument (include_in_web_ui), as "Custom parameters".
    parser.add_argument(
        "--mode",
        default=DEFAULTS["mode"],
        choices=mode_names(),
        help="the mode CandleUser loads (with --class-picker, pick modes as user classes instead)",
    )
    parser.add_argument(
        "--limit", type=int, default=DEFAULTS["limit"], help="rows per response (1..1440)"
    )
    parser.add_argument("--interval", default=DEFAULTS["interval"], help="candle interval")
    parser.add_argument("--pair", default=DEFAULTS["pair"], help="exchange/market/asset")
    parser.add_argument(
        "--load-profile",
        default=DEFAULTS["load_profile"],
        choices=["steady", "seed"],
        help="steady: no wait, until stopped; seed: each user makes --requests-per-user requests, then stops",
    )
    parser.add_argument(
        "--requests-per-user",
        type=int,
        default=DEFAULTS["requests_per_user"],
        help="seed profile: requests per user",
    )
    parser.add_argument(
        "--expect-bytes",
        type=int,
        default=DEFAULTS["expect_bytes"],
        help="fail responses of another size on the wire (0: any)",
        include_in_web_ui=False,  # the runner's check of each run; by hand, a command-line option
    )
    parser.add_argument(
        "--expect-bytes-slack",
        type=int,
        default=DEFAULTS["expect_bytes_slack"],
        help="bytes a response's size may differ from --expect-bytes (Django's gzip pads at random)",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--accept-encoding",
        default=DEFAULTS["accept_encoding"],
        help="the Accept-Encoding every request sends (default: Locust's own); bodies are never "
        "decoded during the load",
    )
    parser.add_argument(
        "--header",
        action="append",
        metavar="NAME:VALUE",
        help="send this header with every request (repeatable), e.g. an auth proxy's",
        include_in_web_ui=False,  # a list, and its values may be secrets: command line only
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="do not check the server's TLS certificate (checked by default)",
    )


def _option(environment, name: str):
    options = environment.parsed_options
    value = getattr(options, name, None) if options is not None else None
    return DEFAULTS[name] if value is None else value


def system_trust_context(cafile: str | None = None) -> gevent.ssl.SSLContext:
    """Certificates checked against the system's trusted CAs (SSL_CERT_FILE too), as the
    runner's own checks (urllib) do: geventhttpclient would pass certifi's bundle as `cafile`
    where the system keeps its CAs in a folder, and refuse a CA that urllib accepted."""
    return gevent.ssl.create_default_context()


class CandleUser(FastHttpUser):
    """Requests one mode at one limit, the mode of --mode (the web form's "mode"); the classes
    named by a mode (below) load their own."""

    mode: str | None = None  # None: the --mode option's
    wait_time = constant(0)
    # Keep-alive connections as a browser or client library would; gunicorn's sync worker
    # closes after each response anyway.
    network_timeout = 60.0
    connection_timeout = 60.0
    # A redirect is a failed request: followed, it would carry the --header values elsewhere.
    max_redirects = 0

    def __init__(self, environment) -> None:
        # FastHttpUser builds its client from these in __init__; its own default is
        # insecure = True (no certificate check), so they are set here, from the options.
        self.insecure = bool(_option(environment, "insecure"))
        self.ssl_context_factory = (
            insecure_ssl_context_factory if self.insecure else system_trust_context
        )
        self.default_headers = parse_headers(list(_option(environment, "header"))) or None
        super().__init__(environment)
        read_bodies_undecoded(self.client.client)

    def on_start(self) -> None:
        env = self.environment
        mode, limit = self.mode or _option(env, "mode"), int(_option(env, "limit"))
        self.path = candle_path(mode, limit, _option(env, "pair"), _option(env, "interval"))
        self.name = request_name(mode, limit)
        self.expect_bytes = int(_option(env, "expect_bytes"))
        self.size_slack = int(_option(env, "expect_bytes_slack"))
        accept_encoding = _option(env, "accept_encoding")
        self.headers = {"Accept-Encoding": accept_encoding} if accept_encoding else None
        self.budget = (
            int(_option(env, "requests_per_user")) if _option(env, "load_profile") == "seed" else -1
        )

    def on_stop(self) -> None:
        # Close this user's keep-alive connections: left to the garbage collector they stay
        # open on the server (until its keep-alive timeout) and count against a connection
        # limit in the next run (uvicorn's --limit-concurrency answered 503 to the seed profile).
        self.client.client.close()

    @task
    def candles(self) -> None:
        if self.budget == 0:
            raise StopUser()
        with self.client.get(
            self.path, name=self.name, catch_response=True, headers=self.headers
        ) as response:
            size = len(response.content or b"")  # on the wire: bodies are never decoded here
            if response.status_code != 200:
                # 0: no HTTP answer (a refused connection, an untrusted certificate): Locust's error says which.
                response.failure(getattr(response, "error", None) or f"HTTP {response.status_code}")
            elif self.expect_bytes and abs(size - self.expect_bytes) > self.size_slack:
                response.failure(f"body of {size} bytes, expected {self.expect_bytes}")
        if self.budget > 0:
            self.budget -= 1
            if self.budget == 0:
                raise StopUser()


class OpenLoopUser(CandleUser):
    """One per Locust process under `python -m loadtest capacity`: requests start on a schedule
    of arrivals, not when the last one returned (loadtest/load/arrival_user.py)."""

    abstract = True  # never spawned by `locust -f`: the capacity command asks for it
    concurrency = MAX_CONNECTIONS


OpenLoopUser.tasks = [run_arrivals]  # instead of CandleUser's closed loop, not beside it


def mode_user(mode: str) -> type[CandleUser]:
    """A CandleUser class named by `mode` that loads it (for Locust's class picker)."""
    return type(
        mode, (CandleUser,), {"mode": mode, "__module__": __name__, "__doc__": mode_user.__doc__}
    )


# One user class per mode, named by it, so one run can load several modes side by side: picked
# in the web UI (`--class-picker`) or named on the command line (`locust -f ... drf raw`).
# Locust finds user classes among the module's globals, hence globals(); a mode named like
# one of this module's own names is not offered (CandleUser --mode still loads it).
MODE_USERS: dict[str, type[CandleUser]] = {}
for _mode in mode_names():
    if _mode in globals():
        log.warning(
            "mode %r has the name of a locustfile global: not offered as a user class", _mode
        )
        continue
    MODE_USERS[_mode] = globals()[_mode] = mode_user(_mode)


@events.request.add_listener
def _record(
    request_type, name, response_time, response_length, response=None, exception=None, **kwargs
) -> None:
    end = time.time()
    timing = ""
    if response is not None:
        headers = getattr(response, "headers", None)
        if headers is not None:
            timing = headers.get("Server-Timing") or ""
    start = kwargs.get("start_time") or end - response_time / 1000
    COLLECTOR.record(
        start, end, response_time, exception is None, response_length or 0, timing, name
    )


def boot_id() -> str:
    """This machine's running kernel (processes on one machine share it; another host has its own)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return socket.gethostname()


def worker_report() -> dict:
    """What a worker tells the master with every flush: its CPU seconds so far and which machine it runs on."""
    t = psutil.Process().cpu_times()
    return {"cpu_s": t.user + t.system, "pid": os.getpid(), "boot_id": boot_id()}


def served_modes(environment) -> set[str] | None:
    """The modes and diagnostics the host serves (its GET /api/modes, sent with the users'
    headers and TLS checking); None, said in a line, when it cannot be read."""
    host = environment.host.rstrip("/")
    headers = parse_headers(list(_option(environment, "header")))
    options = RequestOptions(headers=headers, insecure=bool(_option(environment, "insecure")))
    try:
        with explained_http_errors(host):
            document = target_modes_document(host, options)
    except CheckError as error:
        log.warning("%s; the class picker offers every mode", error)
        return None
    return {entry["name"] for entry in target_registry(document)}


def choose_user_classes(environment) -> None:
    """`locust -f` by hand: without class names or --class-picker Locust would run every user
    class, so CandleUser runs alone, loading --mode; with the picker, it offers CandleUser and
    the modes the host serves."""
    options = environment.parsed_options
    if options is None or _managed(environment) or getattr(options, "user_classes", None):
        return
    if not getattr(options, "class_picker", False):
        environment.user_classes[:] = [CandleUser]
        return
    offered = environment.available_user_classes or {}
    served = served_modes(environment) if environment.host else None
    if served is not None:
        offered = {
            name: user for name, user in offered.items() if name not in MODE_USERS or name in served
        }
        environment.available_user_classes = offered
        environment.user_classes[:] = [u for u in environment.user_classes if u in offered.values()]


@events.init.add_listener
def _on_init(environment, **kwargs) -> None:
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):  # a worker runs the classes its master sends
        choose_user_classes(environment)
    if isinstance(runner, WorkerRunner):
        if OpenLoopUser not in environment.user_classes:
            environment.user_classes.append(OpenLoopUser)  # abstract: the master asks for it

        def flush(environment, msg, **kw) -> None:
            environment.runner.send_message(
                SAMPLES_MESSAGE,
                {
                    "samples": COLLECTOR.drain(),
                    "arrivals": ARRIVAL_LOG.drain(),
                    "id": msg.data,
                    "worker": worker_report(),
                },
            )

        runner.register_message(FLUSH_MESSAGE, flush)
    elif isinstance(runner, MasterRunner):

        def samples(environment, msg, **kw) -> None:
            COLLECTOR.extend(msg.data["samples"], source=msg.node_id)
            ARRIVAL_LOG.extend(msg.data.get("arrivals", {}), source=msg.node_id)
            reports = getattr(environment, "candlebench_worker_reports", None)
            if reports is not None and "worker" in msg.data:
                reports[msg.node_id] = msg.data["worker"]
            acks = getattr(environment, "candlebench_flush_acks", None)
            if acks is not None:
                acks.append((msg.data["id"], msg.node_id))

        runner.register_message(SAMPLES_MESSAGE, samples)


@events.report_to_master.add_listener
def _report(client_id, data, **kwargs) -> None:
    data[REPORT_KEY] = COLLECTOR.drain()


@events.worker_report.add_listener
def _worker_report(client_id, data, **kwargs) -> None:
    COLLECTOR.extend(data.get(REPORT_KEY, ()), source=client_id)


def _managed(environment) -> bool:
    """True when loadtest.bench drives this Environment (it reads the samples itself)."""
    return bool(getattr(environment, "candlebench_managed", False))


@events.test_start.add_listener
def _on_test_start(environment, **kwargs) -> None:
    if _managed(environment) or isinstance(environment.runner, WorkerRunner):
        return
    COLLECTOR.drain()
    SUMMARY.clear()
    greenlets: list[gevent.Greenlet[..., None]] = [gevent.spawn(_fold_samples_forever)]
    if _option(environment, "load_profile") == "seed":
        greenlets.append(gevent.spawn(_stop_when_users_done, environment))
    environment.candlebench_greenlets = greenlets


def _fold_samples_forever() -> None:
    # A run by hand can last hours: keep running sums, not every sample.
    while True:
        gevent.sleep(2)
        SUMMARY.add(COLLECTOR.drain())


def _stop_when_users_done(environment) -> None:
    """Seed profile by hand: stop (or quit, headless) once every user made its requests."""
    runner = environment.runner
    while True:
        gevent.sleep(0.2)
        # "running" once spawning completed; users that made their requests have stopped.
        if runner.state == STATE_RUNNING and runner.user_count == 0:
            break
    log.info("seed profile: every user made its requests; stopping")
    options = environment.parsed_options
    if options is not None and getattr(options, "headless", False):
        runner.quit()
    else:
        runner.stop()


@events.test_stop.add_listener
def _on_test_stop(environment, **kwargs) -> None:
    if _managed(environment) or isinstance(environment.runner, WorkerRunner):
        return
    for greenlet in getattr(environment, "candlebench_greenlets", []):
        if greenlet is not gevent.getcurrent():
            greenlet.kill(block=False)
    SUMMARY.add(COLLECTOR.drain())
    if SUMMARY.counts:
        print(SUMMARY.table(), flush=True)
