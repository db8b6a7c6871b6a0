"""The runner's servers and the mode registry's kinds of server agree: a server running a kind
the registry does not know would serve no mode, a kind no server runs would leave its modes
unmeasured, and a diagnostic the runner does not know would never be measured."""

from candles.api.registry import ServerKind, registered_modes
from loadtest.request import DIAGNOSTICS
from loadtest.serving.modes import registry_entries
from loadtest.serving.servers import SERVERS

KINDS = set(ServerKind)


def test_every_server_runs_a_kind_the_registry_knows():
    unknown = {name: spec.app_kind for name, spec in SERVERS.items() if spec.app_kind not in KINDS}
    assert unknown == {}


def test_every_kind_of_server_is_run_by_some_server():
    assert {spec.app_kind for spec in SERVERS.values()} == KINDS


def test_every_mode_is_served_by_a_known_kind():
    unknown = {
        m.name: sorted(m.kinds - KINDS)
        for m in registered_modes()
        if not m.kinds or m.kinds - KINDS
    }
    assert unknown == {}


def test_each_server_serves_the_modes_of_the_kind_it_runs():
    servers = {entry["name"]: entry["servers"] for entry in registry_entries()}
    django = sorted(("asgi", "wsgi", "asgi-gunicorn", "asgi-stock", "granian-wsgi", "granian-asgi"))
    assert servers["drf"] == servers["raw"] == servers["floor-async"] == django
    assert servers["bolt"] == servers["bolt-raw"] == ["bolt"]
    assert servers["fastapi-model"] == ["fastapi"]
    assert servers["floor"] == sorted(SERVERS)


def test_the_runners_diagnostics_are_the_registrys():
    assert tuple(m.name for m in registered_modes() if m.diagnostic) == DIAGNOSTICS
