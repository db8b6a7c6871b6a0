"""`python -m loadtest <command>`: see loadtest.commands."""

import sys

from loadtest.commands import main

sys.exit(main())
