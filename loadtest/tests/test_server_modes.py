"""The runner and the mode registry name the same servers and diagnostics: a server added to
one and not the other would run no mode, or a mode would name a server nobody starts."""
from candles.api.registry import ALL_SERVERS, registered_modes
from loadtest.serving.servers import SERVERS
from loadtest.request import DIAGNOSTICS


def test_the_registry_knows_exactly_the_servers_the_runner_can_start():
    assert ALL_SERVERS == set(SERVERS)


def test_every_mode_names_only_servers_the_runner_can_start():
    unknown = {m.name: sorted(m.servers - set(SERVERS)) for m in registered_modes() if m.servers - set(SERVERS)}
    assert unknown == {}


def test_the_runners_diagnostics_are_the_registrys():
    assert DIAGNOSTICS == tuple(m.name for m in registered_modes() if m.diagnostic)
