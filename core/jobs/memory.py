"""What the system can tell about memory: a process's resident memory, the limit, the OOM kill counters.

Linux only (``/proc`` and ``/sys/fs/cgroup``); elsewhere each reading is None and the messages say that it is
not known. Nothing here guesses: a counter that cannot be read is reported as unknown.
"""

from __future__ import annotations

import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_NO_LIMIT = 1 << 60  # cgroup v1 writes a huge number when there is no limit


def process_rss(pid: int | None = None) -> int | None:
    """Resident memory in bytes of ``pid`` (this process when None), or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid or 'self'}/statm").read_text(encoding="ascii").split()
        return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return None


def _cgroup_paths() -> dict[str, str]:
    """controller ("" for cgroup v2) -> this process's cgroup path, from /proc/self/cgroup."""
    out: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                out[controller] = parts[2]
    return out


def _memory_cgroup_files(name_v2: str, name_v1: str) -> list[Path]:
    """The files of this process's memory cgroup (most specific first), v2 then v1."""
    paths = _cgroup_paths()
    candidates = []
    if "" in paths:
        candidates += [CGROUP_ROOT / paths[""].lstrip("/") / name_v2, CGROUP_ROOT / name_v2]
    if "memory" in paths:
        candidates += [CGROUP_ROOT / "memory" / paths["memory"].lstrip("/") / name_v1,
                       CGROUP_ROOT / "memory" / name_v1]
    return list(dict.fromkeys(candidates))


def _counter(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except OSError:
        return None
    return None


def oom_kill_counts() -> dict[str, int]:
    """The kernel's out-of-memory kill counters readable here: {where: count}.

    A counter counts processes killed by the OOM killer: the memory cgroup's (cgroup v2 ``memory.events``,
    v1 ``memory.oom_control``) counts those of this cgroup, ``/proc/vmstat`` those of the whole machine.
    """
    out: dict[str, int] = {}
    for path in _memory_cgroup_files("memory.events", "memory.oom_control"):
        count = _counter(path, "oom_kill")
        if count is not None:
            out[f"the memory cgroup ({path})"] = count
            break
    count = _counter(Path("/proc/vmstat"), "oom_kill")
    if count is not None:
        out["the machine (/proc/vmstat)"] = count
    return out


def memory_limit() -> tuple[int, str] | None:
    """The memory a process here may use: (bytes, what sets it), the cgroup's limit or the machine's RAM."""
    for path in _memory_cgroup_files("memory.max", "memory.limit_in_bytes"):
        try:
            raw = path.read_text(encoding="ascii").strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < _NO_LIMIT:
            return int(raw), "the limit of this container or service"
        break
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024, "this machine's memory"
    except (OSError, IndexError, ValueError):
        return None
    return None


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def oom_verdict(before: dict[str, int], after: dict[str, int]) -> str:
    """One sentence: did the kernel's OOM killer act between the two readings? Only what the counters tell."""
    common = [where for where in before if where in after]
    if not common:
        return "Whether the kernel's out-of-memory killer stopped it cannot be told on this system."
    grew = [where for where in common if after[where] > before[where]]
    if grew:
        where = grew[0]
        return (f"The kernel's out-of-memory killer acted while it ran (the OOM kill counter of {where} went "
                f"from {before[where]} to {after[where]}), so it most likely ran out of memory: use fewer or "
                "smaller images, or close other programs.")
    return (f"The kernel's out-of-memory killer did not stop it (the OOM kill counter of {common[0]} did not "
            "change while it ran): something else sent the signal, e.g. a person or a process manager.")


def memory_sentence(rss_bytes: int | None, seconds_before: float | None) -> str:
    """The memory in use at the last heartbeat, and how it compares with the limit."""
    if rss_bytes is None:
        return "Its memory use was not recorded."
    when = f" ({seconds_before:.0f} s before it ended)" if seconds_before is not None else ""
    text = f"At its last heartbeat{when} it used {format_bytes(rss_bytes)} of memory"
    limit = memory_limit()
    if limit is None:
        return text + "."
    size, what = limit
    close = " — close to it" if rss_bytes >= 0.9 * size else ""
    return f"{text}, of {format_bytes(size)} ({what}){close}."


def rss_fields(pid: int | None = None) -> dict[str, int]:
    """``{"rss_bytes": n}`` for a heartbeat, or nothing when it cannot be read (the last value stays)."""
    rss = process_rss(pid)
    return {} if rss is None else {"rss_bytes": rss}
