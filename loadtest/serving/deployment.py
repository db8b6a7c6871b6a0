"""A running deployment the runner measures but did not start (`--target URL`): its address,
what every request to it carries (an auth proxy's headers, TLS checking), and a stand-in for
the server process whose CPU, memory and processes cannot be seen from here."""

from __future__ import annotations

import ipaddress
import math
import re
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil

from loadtest.axes import Deployment
from loadtest.serving.servers import system_busy_seconds

# The target's name in results.csv and the report (never one of the servers the runner starts).
TARGET = "target"

# A header name is an HTTP token (RFC 9110, 5.6.2).
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def parse_header(text: str) -> tuple[str, str]:
    """`NAME:VALUE` (spaces around the value dropped) -> (name, value); ValueError saying
    what is wrong, never quoting the value (it may be a secret)."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon:
        raise ValueError(
            "--header: expected NAME:VALUE, found no ':' (the argument is not echoed: it may hold "
            "a secret)"
        )
    if not name:
        raise ValueError("--header: expected NAME:VALUE, the name is empty")
    if not _TOKEN.match(name):
        raise ValueError(f"--header {name!r}: a header name has no spaces or separators")
    if not value:
        raise ValueError(f"--header {name}: empty value (an unset shell variable?)")
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"--header {name}: the value holds a line break or NUL")
    return name, value


def parse_headers(texts: list[str] | None) -> dict[str, str]:
    """Every `--header` (a name given twice is refused: which one would be sent?)."""
    headers: dict[str, str] = {}
    for text in texts or []:
        name, value = parse_header(text)
        if name.lower() in (n.lower() for n in headers):
            raise ValueError(f"--header {name} is given twice")
        headers[name] = value
    return headers


def check_target_url(url: str) -> str:
    """The base URL without a trailing slash; ValueError for what cannot be one: another
    scheme, no host, credentials (they would land in the report: use --header), a query."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--target {url}: expected http(s)://HOST[:PORT][/PATH]")
    if parts.username or parts.password:
        raise ValueError(
            f"--target {parts.scheme}://...@{parts.hostname}: credentials in the URL would be "
            "written to the report; send them with --header Authorization:..."
        )
    if parts.query or parts.fragment:
        raise ValueError(f"--target {url}: a base URL has no query or fragment")
    try:
        _ = parts.port  # read for its check: urllib raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"--target {url}: the port is not a number in 1..65535") from None
    return url.rstrip("/")


def redact_header_values(argv: list[str]) -> list[str]:
    """argv as recorded in meta.json: each --header's value replaced (its name kept), also
    where argparse's abbreviations (--head) or `--header=` gave it."""

    def is_header_option(arg: str) -> bool:
        return len(arg) >= len("--he") and "--header".startswith(arg)

    out, hide_next = [], False
    for arg in argv:
        option, equals, _ = arg.partition("=")
        if hide_next or (equals and is_header_option(option)):
            out.append(arg.partition(":")[0] + ":<hidden>")
            hide_next = False
        else:
            out.append(arg)
            hide_next = is_header_option(arg)
    return out


@dataclass(frozen=True)
class RequestOptions:
    """What every request to a target carries: extra headers, and whether TLS certificates
    are checked (always, unless --insecure)."""

    headers: dict[str, str] = field(default_factory=dict)
    insecure: bool = False

    def __repr__(self) -> str:
        """Header names only: a repr lands in logs and tracebacks, the values are secrets."""
        return f"RequestOptions(header_names={list(self.headers)}, insecure={self.insecure})"

    def ssl_context(self) -> ssl.SSLContext:
        if self.insecure:
            return ssl._create_unverified_context()
        return ssl.create_default_context()

    def header_lines(self) -> list[str]:
        """`Name: Value` per header, as Locust's and wrk's -H options take them."""
        return [f"{name}: {value}" for name, value in self.headers.items()]


def this_machines_addresses() -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address of this machine's network interfaces (zone ids dropped)."""
    return {
        ipaddress.ip_address(a.address.split("%")[0])
        for addresses in psutil.net_if_addrs().values()
        for a in addresses
        if a.family in (socket.AF_INET, socket.AF_INET6)
    }


def on_this_machine(url: str) -> bool:
    """The target's host resolves only to addresses of this machine: loopback, one of its
    interfaces' addresses, or the unspecified address (0.0.0.0, ::: connects here)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {
            ipaddress.ip_address(address.split("%")[0])
            for info in socket.getaddrinfo(host, None)
            if isinstance(address := info[4][0], str)  # an IP address (not another family's)
        }
    except OSError:
        return False
    mine = this_machines_addresses()
    return bool(addresses) and all(
        a.is_loopback or a.is_unspecified or a in mine for a in addresses
    )


def target_registry(modes_document: dict) -> list[dict]:
    """The target's GET /api/modes as the plan's registry entries (report order: its own):
    every mode and diagnostic it lists, served by TARGET. Whether Django serves a mode is
    not known from outside (None)."""
    return [
        {
            "name": e["name"],
            "servers": [TARGET],
            "django": None,
            "diagnostic": diagnostic,
            "validates": bool(e.get("validates")),
        }
        for key, diagnostic in (("modes", False), ("diagnostics", True))
        for e in modes_document.get(key) or []
    ]


class RemoteCpuProbe:
    """The machine's busy time only: what Locust did not use is other processes' (on this
    machine). A target on this machine would be counted among them: then nothing."""

    def __init__(self, on_this_machine: bool) -> None:
        self.on_this_machine = on_this_machine

    def __call__(self) -> dict[str, float]:
        return {} if self.on_this_machine else {"busy": system_busy_seconds()}

    def serving_processes(self) -> None:
        """How many of the target's processes served: unknown from here."""
        return None


class RemoteServer:
    """The target where the runner has a server process: the same questions, answered with
    what can be known from outside (nothing of its CPU, memory or processes)."""

    name = TARGET
    workers = None  # unknown

    def __init__(
        self, base_url: str, on_this_machine: bool, deployment: Deployment | None = None
    ) -> None:
        self.base_url = base_url
        self.on_this_machine = on_this_machine
        # What its /api/modes says it runs (an axis it cannot say: the default).
        self.deployment = Deployment() if deployment is None else deployment

    @property
    def served_by(self) -> str:
        return self.deployment.label(self.name)

    def alive(self) -> bool:
        return True  # a target that stopped answering shows as failed requests

    def log_tail(self, lines: int = 30) -> str:
        return ""

    def pids(self) -> frozenset[int]:
        return frozenset()

    def cpu_seconds(self) -> float:
        return 0.0  # none of this machine's CPU is known to be the target's

    def cpu_probe(self, local_postgres: bool) -> RemoteCpuProbe:
        return RemoteCpuProbe(self.on_this_machine)

    def reset_peak_rss(self) -> bool:
        return False

    def peak_rss_mb(self) -> float:
        return math.nan

    def wait_idle(self, timeout: float = 10.0) -> float:
        return 0.0

    def wait_disconnected(self, timeout: float = 10.0) -> int:
        return 0

    def stop(self) -> None:
        """Not started here: left running."""
