"""Callgrind from the inside: switch counting on and dump a count by name from Python.

A process run by `valgrind --tool=callgrind --instr-atstart=no` starts fast (nothing is
counted) and asks callgrind to start instrumenting, zero its counters and dump them through
valgrind's client requests (valgrind.h, callgrind.h). Those are a no-op instruction sequence
that valgrind recognises; without a C compiler at hand the sequence is written into an
executable page and called through ctypes. Outside valgrind every request returns 0.
"""

from __future__ import annotations

import ctypes
import mmap
import platform
import re
from pathlib import Path

# valgrind.h's client-request call for amd64: %rdx = request(%rax -> args), %rdx = default before.
_AMD64_CLIENT_REQUEST = bytes.fromhex(
    "4889f8"  # mov %rdi,%rax        (the argument block)
    "4889f2"  # mov %rsi,%rdx        (the default result)
    "48c1c703"
    "48c1c70d"
    "48c1c73d"
    "48c1c733"  # rol $3,$13,$61,$51 %rdi: the preamble, a no-op
    "4887db"  # xchg %rbx,%rbx       (the client request itself)
    "4889d0"  # mov %rdx,%rax
    "c3"  # ret
)
RUNNING_ON_VALGRIND = 0x1001
_CALLGRIND_BASE = (ord("C") << 24) | (ord("T") << 16)
ZERO_STATS = _CALLGRIND_BASE + 1
DUMP_STATS_AT = _CALLGRIND_BASE + 3
START_INSTRUMENTATION = _CALLGRIND_BASE + 4
STOP_INSTRUMENTATION = _CALLGRIND_BASE + 5


class ClientRequests:
    """valgrind's client requests, callable from Python (x86-64 Linux only)."""

    def __init__(self) -> None:
        if platform.machine() not in ("x86_64", "AMD64"):
            raise RuntimeError(
                f"valgrind client requests are only wired up for x86-64, not {platform.machine()}"
            )
        self._page = mmap.mmap(
            -1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
        )
        self._page.write(_AMD64_CLIENT_REQUEST)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._page))
        self._call = ctypes.CFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong)(address)
        self._args = (ctypes.c_ulong * 6)()

    def request(self, code: int, arg1: int = 0) -> int:
        self._args[0] = code
        self._args[1] = arg1
        return self._call(ctypes.addressof(self._args), 0)

    def running_on_valgrind(self) -> bool:
        return self.request(RUNNING_ON_VALGRIND) > 0

    def start_instrumentation(self) -> None:
        self.request(START_INSTRUMENTATION)

    def zero(self) -> None:
        self.request(ZERO_STATS)

    def dump(self, name: str) -> None:
        """Write the counts since the last zero to a new file whose trigger names `name`."""
        label = ctypes.create_string_buffer(name.encode())
        self.request(DUMP_STATS_AT, ctypes.addressof(label))


def callgrind_command(out_dir: Path) -> list[str]:
    """The valgrind command line for a process that counts only what it asks for."""
    return [
        "valgrind",
        "--tool=callgrind",
        "--quiet",
        "--instr-atstart=no",  # start-up and warm-up run uninstrumented: several times faster
        "--vgdb=no",  # no polling for a debugger
        "--dump-line=no",
        "--dump-instr=no",  # per-function totals are enough: smaller dumps
        f"--callgrind-out-file={out_dir}/callgrind.out.%p",
    ]


_TRIGGER = re.compile(r"^desc: Trigger: Client Request: (.*)$", re.M)
_SUMMARY = re.compile(r"^summary: (\d+)", re.M)


def read_dumps(out_dir: Path) -> dict[str, int]:
    """Instructions per named dump in `out_dir` (the dump at the process's exit is skipped)."""
    counts: dict[str, int] = {}
    for path in out_dir.glob("callgrind.out.*"):
        text = path.read_text(errors="replace")
        trigger, summary = _TRIGGER.search(text), _SUMMARY.search(text)
        if trigger and summary:
            counts[trigger.group(1)] = int(summary.group(1))
    return counts
