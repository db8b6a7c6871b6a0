"""`python -m loadtest.report RESULTS_DIR`: regenerate report.md and report.html from a results directory."""
import sys

from .render import main

sys.exit(main())
