"""Which modes each server runs: the registry says which kinds of server serve each mode and
SERVERS which kind each server runs, `--modes` filters within each chosen server, and a
server's own modes (bolt's, FastAPI's: modes no Django view serves) run whenever that server
is chosen."""

from __future__ import annotations

from loadtest.cli import CheckError
from loadtest.serving.servers import SERVERS


def registry_entries() -> list[dict]:
    """The registry as the probe reports it (in a Django process): every mode and diagnostic
    in report order with the servers that serve it (those running a kind it names), whether
    Django serves it and the stacks it runs on (None: every stack)."""
    from candles.api.registry import registered_modes

    return [
        {
            "name": m.name,
            "servers": sorted(s.name for s in SERVERS.values() if s.app_kind in m.kinds),
            "django": m.view is not None,
            "diagnostic": m.diagnostic,
            "validates": m.validates,
            "stacks": None if m.stacks is None else sorted(m.stacks),
        }
        for m in registered_modes()
    ]


class ModeMap:
    """The registry's modes and servers, read from the settings probe's `registry`."""

    def __init__(self, entries: list[dict]) -> None:
        self.entries = {e["name"]: e for e in entries}
        self.modes = [e["name"] for e in entries if not e["diagnostic"]]
        self.diagnostics = [e["name"] for e in entries if e["diagnostic"]]

    def served_by(self, server: str, *, diagnostics: bool = False) -> list[str]:
        names = self.diagnostics if diagnostics else self.modes
        return [n for n in names if server in self.entries[n]["servers"]]

    def runs_on_stack(self, name: str, stack: str) -> bool:
        """Whether the stack called `stack` serves the mode or diagnostic `name` (an entry that
        names no stacks, as a registry of before the stacks: every stack)."""
        stacks = self.entries[name].get("stacks")
        return stacks is None or stack in stacks

    def runs_django(self, server: str) -> bool:
        """The server runs Django's URLconf (serves modes with a Django view)."""
        return any(self.entries[m]["django"] for m in self.served_by(server))

    def refuse_unknown(self, requested: list[str]) -> None:
        """--modes names only modes some server serves (one line, before anything starts)."""
        unknown = [m for m in requested if m not in self.modes]
        if unknown:
            raise CheckError(
                f"unknown mode(s): {', '.join(unknown)} (the project has {', '.join(self.modes)})"
            )

    def modes_on(
        self, server: str, requested: list[str] | None, served: list[str] | None = None
    ) -> list[str]:
        """The modes `server` runs, in report order: those of `requested` (None: all) it serves;
        a server of its own modes runs all of them when `requested` names none. `served`: what
        the started server lists at GET /api/modes, when known."""
        own = [m for m in self.served_by(server) if served is None or m in served]
        chosen = [m for m in own if requested is None or m in requested]
        if not chosen and not self.runs_django(server):
            return own
        return chosen

    def refuse_servers_without_modes(self, servers: list[str], requested: list[str] | None) -> None:
        """A chosen server that runs Django's URLconf must serve one of the requested modes."""
        for server in servers:
            if not self.modes_on(server, requested):
                raise CheckError(
                    f"{server} serves none of the modes asked for ({', '.join(requested or [])}); "
                    f"it serves {', '.join(self.served_by(server))}"
                )
