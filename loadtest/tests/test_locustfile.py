"""The locustfile by hand (`make locust`, `locust -f loadtest/locustfile.py`): its options in
Locust's web form, mode as the registry's list, one user class per mode for the class picker,
which offers the modes the host serves. Each case runs in a process of its own (Locust patches
with gevent): loadtest/tests/locustfile_probe.py."""

import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler

from candles.api.registry import BUILTIN_MODES
from loadtest.serving.servers import PROJECT_ROOT, free_port
from loadtest.tests.live_servers import serving_in_thread

REGISTRY = [mode.name for mode in BUILTIN_MODES]


def probe(*argv: str, settings: str = "candleproject.settings") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loadtest.tests.locustfile_probe", *argv],
        cwd=PROJECT_ROOT,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": settings},
        capture_output=True,
        text=True,
        timeout=60,
    )


def offer(*argv: str, settings: str = "candleproject.settings") -> dict:
    done = probe(*argv, settings=settings)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout) | {"log": done.stderr}


def test_the_web_form_shows_the_options_with_mode_as_the_registrys_list():
    form = offer("--host", "http://127.0.0.1:1")["form"]
    assert form["mode"]["choices"] == REGISTRY and form["mode"]["default_value"] == "drf"
    assert form["load_profile"]["choices"] == ["steady", "seed"]
    assert form["limit"]["default_value"] == 1000
    assert {"interval", "pair", "requests_per_user", "accept_encoding", "insecure"} <= set(form)
    # The runner's size check and the headers (a list, maybe secrets) stay on the command line.
    assert not {"expect_bytes", "expect_bytes_slack", "header"} & set(form)


def test_the_form_shows_the_command_lines_values():
    form = offer("--host", "http://127.0.0.1:1", "--mode", "raw", "--limit", "10")["form"]
    assert (form["mode"]["default_value"], form["limit"]["default_value"]) == ("raw", 10)


def test_an_unknown_mode_is_refused_with_the_list():
    done = probe("--mode", "nope")
    assert done.returncode == 2
    assert "invalid choice: 'nope'" in done.stderr and "raw-msgspec" in done.stderr


def test_every_mode_is_a_user_class_named_by_it_that_loads_it():
    assert offer()["modes"] == {name: name for name in REGISTRY}


def test_a_projects_own_modes_come_from_its_settings():
    """CANDLEBENCH_EXTRA_MODES of DJANGO_SETTINGS_MODULE's settings, as manage.py reads them."""
    offered = offer("--mode", "orm-tuples", settings="candles.tests.own_mode_settings")
    assert offered["form"]["mode"]["choices"] == [*REGISTRY, "orm-tuples"]
    assert offered["modes"]["orm-tuples"] == "orm-tuples"


def test_without_class_names_or_the_picker_candle_user_runs_alone():
    """Locust would run every user class; CandleUser loads --mode, as before the mode classes."""
    assert offer("--mode", "raw")["running"] == ["CandleUser"]


def test_class_names_on_the_command_line_are_left_as_given():
    """`locust -f loadtest/locustfile.py raw drf`: Locust runs those; the locustfile keeps out."""
    assert offer("raw", "drf")["running"] == ["CandleUser", *REGISTRY]


class ServesRawAndFloor(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {"modes": [{"name": "raw"}, {"name": "msgspec"}], "diagnostics": [{"name": "floor"}]}
        ).encode()
        status = 200 if self.path == "/api/modes" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_the_class_picker_offers_candle_user_and_the_modes_the_host_serves():
    with serving_in_thread(ServesRawAndFloor) as host:
        offered = offer("--class-picker", "--host", host)
    assert offered["offered"] == ["CandleUser", "msgspec", "raw", "floor"]  # the registry's order
    assert offered["running"] == offered["offered"]


def test_the_class_picker_offers_every_mode_when_the_host_cannot_be_read():
    host = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    offered = offer("--class-picker", "--host", host)
    assert offered["offered"] == ["CandleUser", *REGISTRY]
    assert f"{host} cannot be reached" in offered["log"]
    assert "the class picker offers every mode" in offered["log"]
