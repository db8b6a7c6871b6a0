"""`python -m loadtest.micro`: the old spelling of `python -m loadtest micro`."""

import sys

from loadtest.inprocess.micro import main

if __name__ == "__main__":
    sys.exit(main())
