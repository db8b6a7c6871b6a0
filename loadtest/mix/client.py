"""The mix's HTTP client: asyncio over keep-alive HTTP/1.1 connections, closed loop (N
connections, each sending its next request when the last is answered) or open loop (Poisson
arrivals at a rate, latency from each arrival's intended time). Every answer keeps what the
judgement needs: status, the Server-Timing `cache` entry, its newest candle; like a poller, the
client keeps each URL's ETag and newest candle and revalidates with If-None-Match."""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field

from loadtest.mix.staleness import Identity, newest_candle
from loadtest.mix.workload import MixKey, MixSampler

_CACHE_ENTRY = re.compile(r"(?:^|,)\s*cache\s*;\s*desc=([\w-]+)")
TIMEOUT_S = 30.0
MAX_OPEN_CONNECTIONS = 64


@dataclass
class Answer:
    key: MixKey
    intended: float  # monotonic: when it was due (closed loop: when it was sent)
    started: float  # when it was sent
    ended: float
    status: int
    cache: str  # the Server-Timing cache entry's desc (hit, wait, not-modified), "" if rendered
    newest: Identity | None  # its newest candle (a 304: the kept document's)
    size: int = 0
    error: str = ""

    @property
    def latency_ms(self) -> float:
        return (self.ended - self.intended) * 1000

    @property
    def ok(self) -> bool:
        return not self.error and self.status in (200, 304)


def cache_desc(server_timing: str) -> str:
    """The desc of a Server-Timing's `cache` entry ('' when the answer was rendered)."""
    match = _CACHE_ENTRY.search(server_timing or "")
    return match.group(1) if match else ""


class Connection:
    """One keep-alive connection (reopened after the server closes it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{lines}\r\n".encode())
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        head: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            head[name.strip().lower()] = value.strip()
        body = b""
        if head.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readline()
            await self.reader.readline()
            body = b"".join(chunks)
        elif "content-length" in head:
            body = await self.reader.readexactly(int(head["content-length"]))
        elif status not in (204, 304):
            body = await self.reader.read()
            self.close()
        if head.get("connection", "").lower() == "close":
            self.close()
        return status, head, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Poller:
    """What clients keep between requests: each URL's ETag and its document's newest candle."""

    mode: str
    kept: dict[MixKey, tuple[str, Identity | None]] = field(default_factory=dict)

    async def ask(self, conn: Connection, key: MixKey, intended: float) -> Answer:
        headers = {}
        sent = self.kept.get(key)  # the ETag sent and its candle: a 304 confirms this pair
        if sent is not None:
            headers["If-None-Match"] = sent[0]
        started = time.monotonic()
        try:
            status, head, body = await asyncio.wait_for(
                conn.get(key.path(self.mode), headers), TIMEOUT_S
            )
        except (TimeoutError, OSError, EOFError, ValueError, IndexError) as exc:
            conn.close()
            return Answer(key, intended, started, time.monotonic(), 0, "", None, 0, repr(exc))
        ended = time.monotonic()
        error = ""
        newest: Identity | None = None
        if status == 304:
            if body:
                error = "a 304 with a body"
            # Judged on what this request sent, not on what another connection kept meanwhile.
            newest = sent[1] if sent is not None else None
            if sent is None:
                error = "a 304 to a request without If-None-Match"
        elif status == 200:
            try:
                newest = newest_candle(body)
            except ValueError as exc:
                error = f"the last object does not parse: {exc}"
            if newest is None and not error:
                error = "a 200 without candles"
            etag = head.get("etag")
            if etag:
                self.kept[key] = (etag, newest)
        cache = cache_desc(head.get("server-timing", ""))
        return Answer(key, intended, started, ended, status, cache, newest, len(body), error)


async def closed_loop(
    host: str, port: int, poller: Poller, sampler: MixSampler, connections: int, seconds: float
) -> list[Answer]:
    """`connections` loops, each asking its next request as soon as the last is answered."""
    deadline = time.monotonic() + seconds
    answers: list[Answer] = []

    async def loop() -> None:
        conn = Connection(host, port)
        try:
            while time.monotonic() < deadline:
                answers.append(await poller.ask(conn, sampler.draw(), time.monotonic()))
        finally:
            conn.close()

    await asyncio.gather(*(loop() for _ in range(connections)))
    return answers


async def open_loop(
    host: str,
    port: int,
    poller: Poller,
    sampler: MixSampler,
    rate: float,
    seconds: float,
    seed: int = 0,
    max_connections: int = MAX_OPEN_CONNECTIONS,
) -> list[Answer]:
    """Poisson arrivals at `rate`/s for `seconds`, each answered on an idle connection (a new one
    up to `max_connections`, else it waits: the wait is in its latency); every arrival waited for."""
    arrivals = random.Random(seed)
    idle: list[Connection] = []
    slots = asyncio.Semaphore(max_connections)
    answers: list[Answer] = []

    async def one(key: MixKey, intended: float) -> None:
        async with slots:
            conn = idle.pop() if idle else Connection(host, port)
            answers.append(await poller.ask(conn, key, intended))
            idle.append(conn)

    start = time.monotonic()
    due = start
    tasks = []
    while (due := due + arrivals.expovariate(rate)) < start + seconds:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(one(sampler.draw(), due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return answers
