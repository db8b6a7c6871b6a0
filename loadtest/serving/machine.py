"""The machine and software a run measured, for the report."""

from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = (
    "Django",
    "djangorestframework",
    "django-ninja",
    "pydantic",
    "orjson",
    "uvicorn",
    "uvicorn-worker",
    "uvloop",
    "httptools",
    "gunicorn",
    "locust",
    "psycopg",
)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine_info() -> dict:
    return {
        "cpu_model": cpu_model(),
        "cpus_online": os.cpu_count() or 1,
        "cpus_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else (os.cpu_count() or 1),
        "memory_gib": round(_memory_bytes() / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": versions(),
    }


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0
