"""The session: the load generator is pinned to its CPUs before anything is measured; a
server's memory is read from its live processes only."""

import os
import subprocess
import sys

import psutil
import pytest

from loadtest import session as session_module
from loadtest.serving.servers import SERVERS, ServerProcess

SETTINGS = {
    "debug": False,
    "db_error": "",
    "vendor": "sqlite",
    "db_version": "3",
    "database": "x",
    "modes": ["raw"],
    "max_limit": 1440,
}


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin apart")
def test_opening_a_session_pins_this_process_to_the_load_generator_cpus(monkeypatch):
    monkeypatch.setattr(session_module, "probe_settings", lambda env: SETTINGS)
    before = os.sched_getaffinity(0)
    try:
        opened = session_module.open_session()
        assert opened.layout.loadgen and os.sched_getaffinity(0) == opened.layout.loadgen
        assert opened.layout.server.isdisjoint(opened.layout.loadgen)
    finally:
        os.sched_setaffinity(0, before)


def test_a_refused_setting_stops_the_session_before_anything_starts(monkeypatch):
    from loadtest.cli import CheckError

    monkeypatch.setattr(
        session_module, "probe_settings", lambda env: dict(SETTINGS, db_error="OperationalError: x")
    )
    before = os.sched_getaffinity(0)
    try:
        with pytest.raises(CheckError, match="cannot connect to the database"):
            session_module.open_session()
    finally:
        os.sched_setaffinity(0, before)


def test_rss_skips_a_process_that_exited_and_lets_other_errors_through(tmp_path, monkeypatch):
    server = ServerProcess.__new__(ServerProcess)  # no server needed: only its process list
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = psutil.Process()
    dead = psutil.Process.__new__(psutil.Process)
    monkeypatch.setattr(
        dead,
        "memory_info",
        lambda: (_ for _ in ()).throw(psutil.NoSuchProcess(gone.pid)),
        raising=False,
    )
    monkeypatch.setattr(server, "processes", lambda: [me, dead], raising=False)
    assert server.rss_mb() == pytest.approx(me.memory_info().rss / 2**20, rel=0.2)

    class Broken:
        def memory_info(self):
            raise AttributeError("a bug, not a vanished process")

    monkeypatch.setattr(server, "processes", lambda: [Broken()], raising=False)
    with pytest.raises(AttributeError):
        server.rss_mb()


def test_every_server_entry_is_a_name_a_description_and_a_command():
    for name, spec in SERVERS.items():
        command = spec.command("127.0.0.1", 8123)
        assert spec.name == name and spec.description and spec.workers == 1
        assert command[0] == sys.executable and "8123" in " ".join(command)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin apart")
def test_a_session_opened_in_a_test_leaves_the_next_test_every_cpu_1(monkeypatch):
    """The first half: a command run in-process (as cachemix's end-to-end test does) opens a
    session, which pins this process, and does not unpin it."""
    monkeypatch.setattr(session_module, "probe_settings", lambda env: SETTINGS)
    assert session_module.open_session().layout.loadgen == os.sched_getaffinity(0)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin apart")
def test_a_session_opened_in_a_test_leaves_the_next_test_every_cpu_2():
    """The second half: conftest's cpus_given_back gave the process its CPUs back."""
    assert len(os.sched_getaffinity(0)) >= 2
