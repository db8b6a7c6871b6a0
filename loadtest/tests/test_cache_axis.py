"""The cache as a deployment axis of the runner: its setups on Django's servers only, its labels
and column, the runner's own redis-server for the Redis setups (a shell's Redis URL never reaches
a server), and, live, a real server under a setup echoing it, refused when it runs another."""

import dataclasses

import psutil
import pytest
import redis

from loadtest import bench
from loadtest import session as session_module
from loadtest.axes import CACHE, Deployment, axes, split_label
from loadtest.cli import CheckError
from loadtest.serving import axes as serving_axes
from loadtest.serving import redis_server
from loadtest.serving.axes import check_served, deployments_on, refuse_unknown, runs_none_of
from loadtest.serving.modes import registry_entries
from loadtest.serving.servers import SERVERS
from loadtest.session import CpuLayout, Session


def test_the_cache_axis_comes_after_gc_and_labels_its_setup():
    assert [a.name for a in axes()][-2:] == ["gc", "cache"] and CACHE.default == "none"
    assert Deployment(cache="redis").label("wsgi") == "wsgi+cache=redis"
    assert (
        Deployment(compression="zstd-1", cache="locmem").label("asgi") == "asgi+zstd-1+cache=locmem"
    )
    assert split_label("wsgi+cache=conditional") == ("wsgi", Deployment(cache="conditional"))


def test_cache_setups_run_on_djangos_servers_only():
    asked = {"cache": ["none", "redis"]}
    assert deployments_on("wsgi", asked) == [Deployment(), Deployment(cache="redis")]
    for server in ("bolt", "fastapi"):
        assert deployments_on(server, asked) == [Deployment()]
        assert deployments_on(server, {"cache": ["redis"]}) == []
    assert "bolt runs none of the cache setups asked for (locmem); it runs none" in runs_none_of(
        "bolt", {"cache": ["locmem"]}
    )
    with pytest.raises(CheckError, match=r"unknown cache setup\(s\): memcached"):
        refuse_unknown({"cache": ["memcached"]})


def test_bench_plans_every_cache_setup_its_servers_run():
    args = bench.build_parser().parse_args(
        ["--cache", "none,redis", "--servers", "wsgi,bolt", "--modes", "raw"]
    )
    plan = bench.make_plan(args, registry_entries(), 1440)
    assert plan.servers == ["wsgi", "wsgi+cache=redis", "bolt"]


def test_a_server_under_a_setup_must_echo_it():
    check_served("wsgi+cache=redis", {"cache": "redis"}, Deployment(cache="redis"))
    with pytest.raises(CheckError, match="started with CANDLEBENCH_CACHE=redis but its /api/modes"):
        check_served("wsgi+cache=redis", {"cache": "none"}, Deployment(cache="redis"))
    # A server that does not say (bolt, the FastAPI reference) runs `none`.
    check_served("bolt", {}, Deployment())


def test_only_a_redis_setup_gets_a_redis_url_and_never_the_shells(monkeypatch):
    started = []

    class Fake:
        url = "redis://127.0.0.1:1234/0"

    monkeypatch.setattr(redis_server, "runner_redis", lambda: started.append(1) or Fake())
    shell = {"CANDLEBENCH_REDIS_URL": "redis://127.0.0.1:6379/0", "PATH": "/bin"}
    for setup in ("none", "conditional", "locmem", "cache-page"):
        assert redis_server.redis_env(shell, Deployment(cache=setup)) == {"PATH": "/bin"}
    assert started == []
    for setup in ("redis", "cache-page-redis"):
        env = redis_server.redis_env(shell, Deployment(cache=setup))
        assert env["CANDLEBENCH_REDIS_URL"] == Fake.url
    assert started == [1, 1]


@pytest.mark.live
def test_the_runners_redis_server_is_its_own_and_restarts(tmp_path):
    server = redis_server.RedisServer(tmp_path)
    server.start()
    try:
        assert server.port != 6379
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        server.flush()
        assert client.get("k") is None
        server.stop()
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
        server.start()
        assert client.ping()
        client.close()
    finally:
        server.stop()


@pytest.mark.live
def test_a_real_server_runs_the_cache_setup_and_is_refused_when_it_runs_another(
    bench_env, tmp_path, monkeypatch
):
    """wsgi under `redis` gets the runner's redis-server and says it runs `redis`; its answers
    come from Redis. A server given the setup under a variable the app does not read runs
    `none`, says so, and is refused and stopped."""
    session = Session(serving_axes.default_env(bench_env), {}, CpuLayout(None, None, ""), {})
    server, modes = session.start_server(SERVERS["wsgi"], tmp_path, Deployment(cache="redis"))
    try:
        assert "raw" in modes and server.served_by == "wsgi+cache=redis"
        environ = psutil.Process(server.proc.pid).environ()
        assert environ["CANDLEBENCH_CACHE"] == "redis"
        url = environ["CANDLEBENCH_REDIS_URL"]
        assert url == redis_server.runner_redis().url and ":6379/" not in url
        path = "/api/raw/candle/upbit/KRW/BTC?interval=1m&limit=10"
        import urllib.request

        timings = []
        for _ in range(2):
            with urllib.request.urlopen(server.base_url + path) as answer:
                timings.append(answer.headers["Server-Timing"])
        assert "cache;" not in timings[0] and "cache;desc=hit" in timings[1]
        assert redis.Redis.from_url(url).dbsize() > 0
    finally:
        server.stop()
    cache_axis = serving_axes.server_axis("cache")
    unread = dataclasses.replace(cache_axis, env="CANDLEBENCH_CACHE_UNREAD")
    monkeypatch.setattr(
        serving_axes,
        "SERVER_AXES",
        tuple(unread if a is cache_axis else a for a in serving_axes.SERVER_AXES),
    )
    started = []

    class Recorded(session_module.ServerProcess):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(session_module, "ServerProcess", Recorded)
    with pytest.raises(
        CheckError,
        match="started with CANDLEBENCH_CACHE_UNREAD=locmem but its /api/modes says it runs none",
    ):
        session.start_server(SERVERS["wsgi"], tmp_path, Deployment(cache="locmem"))
    assert len(started) == 1 and not started[0].alive()


def test_what_to_pick_says_what_a_cache_setup_did_in_a_bench_and_where_the_mix_is():
    from loadtest.report.pick import pick_cache
    from loadtest.report.results import Results, Row

    def row(cache, mode, repeat, rps):
        return Row(
            "wsgi", mode, 1000, repeat, rps, deployment=Deployment(cache=cache), trustworthy=True
        )

    plain = [row("none", m, r, rps) for m, rps in (("raw", 400), ("drf", 40)) for r in (1, 2)]
    assert pick_cache(Results(plain, {})) is None
    cached = [row("redis", "drf", r, 1200) for r in (1, 2)]
    line = pick_cache(Results(plain + cached, {}))
    assert line is not None and line.startswith("**Caching** (redis, drf on wsgi, 1000 rows): ×30")
    assert "`make cache`" in line
