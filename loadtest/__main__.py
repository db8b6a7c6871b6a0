"""`python -m loadtest [spike|soak|worker] ...`: the runner (what `make bench` runs), an overload
test, or Locust workers on a load host for a runner started with --expect-workers."""
import sys

# Locust patches the standard library with gevent when imported; that must happen before
# anything else imports socket, ssl or threading.
import locust  # noqa: F401

if len(sys.argv) > 1 and sys.argv[1] in ("spike", "soak", "worker"):
    from importlib import import_module

    sys.exit(import_module(f"loadtest.{sys.argv[1]}").main(sys.argv[2:]))

from loadtest.runner import main

sys.exit(main())
