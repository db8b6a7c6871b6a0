"""The report of a runner session (report.md, report.html, the printed summary), from recorded results only."""
