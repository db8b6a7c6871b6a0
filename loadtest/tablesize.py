"""`python -m loadtest.tablesize`: the old spelling of `python -m loadtest tablesize`."""

import sys

from loadtest.inprocess.tablesize import main

if __name__ == "__main__":
    sys.exit(main())
