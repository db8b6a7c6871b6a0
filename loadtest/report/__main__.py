"""`python -m loadtest.report RESULTS_DIR`: the old spelling of `python -m loadtest report`."""

import sys

from loadtest.report.render import main

sys.exit(main())
