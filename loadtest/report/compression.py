"""What compression costs: per server, mode and setup at 1000 rows, requests/s, the ratio to the
same server without compression, the bytes on the wire, the compress phase and the codec alone
in-process; and "what to pick", the recommended setup with the figures behind it. A "server"
here is a server with its other axes' setups (`wsgi`, `wsgi+stack=2023-08`)."""

from __future__ import annotations

from loadtest.axes import COMPRESSION, split_label
from loadtest.report.goals import GOAL_ROWS, compressed_label, recommended_setup
from loadtest.report.numbers import fnum, fratio, rows_label
from loadtest.report.results import Results
from loadtest.report.tables import Table

NO_COMPRESSION = COMPRESSION.default


def compressed_servers(res: Results) -> dict[str, list[str]]:
    """Per server that ran under a compression setup: its setups measured, `none` first."""
    out: dict[str, list[str]] = {}
    for label in res.servers:
        setup = split_label(label)[1][COMPRESSION.name]
        out.setdefault(compressed_label(label, NO_COMPRESSION), []).append(setup)
    return {
        s: sorted(setups, key=lambda x: x != NO_COMPRESSION)
        for s, setups in out.items()
        if any(x != NO_COMPRESSION for x in setups)
    }


def codec_alone(res: Results) -> dict[str, dict]:
    """The micro benchmark's codec timings by setup (its `codecs`), when it ran."""
    return {c["setup"]: c for c in (res.meta.get("micro") or {}).get("codecs") or []}


def compression_limit(res: Results) -> int:
    return GOAL_ROWS if GOAL_ROWS in res.limits else res.chart_limit


def compression_table(res: Results) -> Table | None:
    """At 1000 rows (else the chart's limit): every mode measured under a compression setup, on
    each such server, under each of its setups; None when no run was compressed."""
    lim = compression_limit(res)
    servers = compressed_servers(res)
    codecs = codec_alone(res)
    body = []
    per_row = any(
        res.fit(compressed_label(s, x), m)
        for s, setups in servers.items()
        for x in setups
        for m in res.modes
    )
    for server, setups in servers.items():
        modes = [
            m
            for m in res.modes
            if any(
                res.cell(compressed_label(server, x), m, lim) for x in setups if x != NO_COMPRESSION
            )
        ]
        for mode in modes:
            for setup in setups:
                label = compressed_label(server, setup)
                c = res.cell(label, mode, lim)
                if c is None:
                    continue
                codec = codecs.get(setup)
                wire, document = c.median("wire_bytes"), c.median("bytes")
                fit = res.fit(label, mode)
                row = [
                    server,
                    mode,
                    setup,
                    fnum(c.rps.median) + ("" if c.trustworthy else " ⚠"),
                    "×1.00"
                    if setup == NO_COMPRESSION
                    else fratio(res.paired_ratio((label, mode, lim), (server, mode, lim))),
                    f"{fnum(wire, 0)} ({wire / document:.0%})" if document else "-",
                    fnum(c.timing("compress")),
                    fnum(codec["ms"]) if codec else "-",
                ]
                if per_row:
                    row.append(fnum(fit.per_row_us, 1) if fit and not fit.unreliable else "-")
                body.append(row)
    if not body:
        return None
    headers = [
        "server",
        "mode",
        "compression",
        "req/s",
        "× none",
        "bytes on the wire (of the document)",
        "compress ms (Server-Timing)",
        "codec alone ms (in-process)",
    ]
    if per_row:
        headers.append("µs/row (fit)")
    return Table(
        headers,
        body,
        f"What compression costs at {rows_label(lim)}: median requests/s of repeats per server, mode "
        "and compression setup (each setup a server process of its own, asked with its "
        "Accept-Encoding); × none: within each repeat against the same server and mode without "
        "compression, then the median; bytes on the wire: the response body as sent (Django's gzip "
        "pads at random, so its size varies by up to 100 bytes); compress ms: the project's own "
        "compression as timed by the server (Django's GZipMiddleware reports none); codec alone: the "
        "setup's compression of the real document in-process, no server (the micro benchmark)"
        + ("; µs/row: the fitted cost per row across the limits run" if per_row else ""),
        align_left=3,
    )


def compression_pick(res: Results) -> str:
    """The setup to use, named with the figures this run measured for it."""
    recommended = recommended_setup(res)
    lim = compression_limit(res)
    if not recommended:
        return "No compression setup was recorded as recommended in this run."
    codecs = codec_alone(res)
    parts = []
    for server in compressed_servers(res):
        label = compressed_label(server, recommended)
        c = res.cell(label, "raw", lim)
        if c is None:
            continue
        text = (
            f"on {server}, raw with {recommended} served {fnum(c.rps.median)} req/s, "
            f"{fratio(res.paired_ratio((label, 'raw', lim), (server, 'raw', lim)))} of none"
        )
        gz = compressed_label(server, "django-gzip")
        if res.cell(gz, "raw", lim):
            text += f" and {fratio(res.paired_ratio((label, 'raw', lim), (gz, 'raw', lim)))} of django-gzip"
        document = c.median("bytes")
        if document:
            text += f", sending {c.median('wire_bytes') / document:.0%} of the document's bytes"
        parts.append(text)
    codec, gzip = codecs.get(recommended), codecs.get("django-gzip")
    alone = ""
    if codec:
        alone = (
            f" In-process its codec alone takes {fnum(codec['ms'])} ms on the "
            f"{codec['document_bytes']:,}-byte document"
        )
        alone += f", Django's gzip {fnum(gzip['ms'])} ms." if gzip else "."
    measured = ("; ".join(parts) + ".") if parts else "it was not measured under load in this run."
    return (
        f"**{recommended}** (CANDLEBENCH_COMPRESSION={recommended}), the project's recommended "
        f"setup: {measured}{alone} It answers clients that do not accept its coding uncompressed; "
        "`auto` adds br-1 and gzip-1 for those at the same cost for the others."
    )


def is_compressed_run(res: Results) -> bool:
    return any(r.compression != NO_COMPRESSION for r in res.rows)
