"""What the case study ran and published (docs/case-study.md): the stack it most likely ran
(docs/stacks.md), its app's three variants, its load profile, and its figures, measured on its
machine. The runner plans the study's checks from these, the report sets them beside its own."""

from __future__ import annotations

from loadtest.report.results import CHART_ROWS

# The stack the study most likely ran, and the server that serves its app.
STUDY_STACK = "2023-08"
STUDY_SERVER = "fastapi"
STUDY_VARIANTS = ("fastapi-model", "fastapi-dict", "fastapi-orjson")
STUDY_ROWS = CHART_ROWS
# Its load profile (JMeter's 60 threads x 5 loops), run on the variant whose slowest response
# it gave.
STUDY_USERS = 60
STUDY_REQUESTS_PER_USER = 5
STUDY_PROFILE_MODE = "fastapi-model"
# Its figures, requests/s on its machine.
STUDY_ONE_ROW_RPS = 74.0
STUDY_RPS = {"fastapi-model": 12.0, "fastapi-dict": 20.0}
STUDY_ORJSON_TIMES = 4.0  # fastapi-orjson: "about 4x the first"
STUDY_SLOWEST_S = 8.0  # fastapi-model's slowest response at 1000 rows under its profile
STUDY_PUBLISHED = {
    ("fastapi-model", 1): "74",
    ("fastapi-model", STUDY_ROWS): "~12 (~10 over repeated runs)",
    ("fastapi-dict", STUDY_ROWS): "~20",
    ("fastapi-orjson", STUDY_ROWS): f"~{STUDY_ORJSON_TIMES:g}x fastapi-model's (~48)",
}


def published(mode: str, limit: int = STUDY_ROWS) -> str:
    """The study's published figure for one variant at `limit` rows ('' where it gave none)."""
    return STUDY_PUBLISHED.get((mode, limit), "")
