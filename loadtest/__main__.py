"""`python -m loadtest` (what `make bench` runs); see loadtest/runner.py and loadtest/README.md."""
import sys

# Locust patches the standard library with gevent when imported; that must happen before
# anything else imports socket, ssl or threading.
import locust  # noqa: F401

from loadtest.runner import main

sys.exit(main())
