"""The runner's own redis-server, for the cache setups that keep answers in Redis: started on a free
port when the first server under such a setup starts, stopped when the runner exits. A shared
Redis (127.0.0.1:6379) is never used, so never flushed."""

from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from candles.api.caching import Backend, cache_setup
from loadtest.axes import Deployment
from loadtest.cli import CheckError, log
from loadtest.serving.servers import free_port

# candleproject/settings.py reads the Redis of the Redis setups from it.
REDIS_URL_ENV = "CANDLEBENCH_REDIS_URL"
START_TIMEOUT_S = 10.0


class RedisServer:
    """A redis-server of the runner's on a free port, no persistence; stop() then start() keeps
    the port, as a restarted Redis does."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.executable = shutil.which("redis-server")
        if self.executable is None:
            raise CheckError(
                "the Redis cache setups need redis-server (apt-get install redis-server); "
                "the runner starts its own, on a free port"
            )
        self.port = free_port()
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="candlebench-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        assert self.executable
        self.proc = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--logfile", str(self.workdir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise CheckError(
                            f"redis-server did not start on port {self.port} "
                            f"(its log: {self.workdir / 'redis.log'})"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def flush(self) -> None:
        """Empty this server (the runner's own, never a shared one): each setup starts cold."""
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


_runners: list[RedisServer] = []


def runner_redis() -> RedisServer:
    """The runner's redis-server, started on first use and stopped at exit."""
    if not _runners:
        server = RedisServer()
        server.start()
        atexit.register(server.stop)
        _runners.append(server)
        log(f"redis-server of the runner's own on 127.0.0.1:{server.port} (the Redis cache setups)")
    elif not _runners[0].alive():
        _runners[0].start()
    return _runners[0]


def uses_redis(deployment: Deployment) -> bool:
    """Whether a server under `deployment` keeps answers in Redis."""
    return cache_setup(deployment["cache"]).backend is Backend.REDIS


def redis_env(env: Mapping[str, str], deployment: Deployment) -> dict[str, str]:
    """`env` for a server under `deployment`: the runner's Redis URL under a Redis setup (the
    server started if need be), else no Redis URL at all (a shell's never reaches a server)."""
    out = {k: v for k, v in env.items() if k != REDIS_URL_ENV}
    if uses_redis(deployment):
        out[REDIS_URL_ENV] = runner_redis().url
    return out
