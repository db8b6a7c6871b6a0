"""What a report says of a target's figures that cannot be known from this machine (no network
imports: the report reads these without the runner's)."""

from __future__ import annotations

# What the report says where a figure of the target's own machine cannot be known from here.
UNKNOWN_REMOTE = "unknown (remote target)"
# results.csv's columns that stay empty for a target: they are read on the server's machine.
UNKNOWN_COLUMNS = ("server_cpu_pct", "server_rss_mb", "db_cpu_pct", "workers", "serving_processes")
# Why the wrk cross-check is not run against an https target without --insecure.
WRK_UNVERIFIED_TLS = (
    "wrk checks no TLS certificate and would send the target's headers to whichever server "
    "answers; pass --insecure to run it"
)


def wrk_skip_reason(url: str, insecure: bool) -> str:
    """Why wrk is not run against the target at `url` ('' when it may run): an https target
    whose certificate is checked (--insecure not given)."""
    return WRK_UNVERIFIED_TLS if url.startswith("https:") and not insecure else ""
