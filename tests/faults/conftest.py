"""Real faults for the fault-injection tests: small filesystems that really fill up, real processes killed
with SIGKILL, and the checks every fault test ends with (nothing corrupt, stuck or half-written).

Mounting a tmpfs needs root (CI runs as root); where the mount is refused the test says so and skips.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings

#: Leftovers of an interrupted write: none may remain after a fault.
PARTIAL_SUFFIXES = (".tmp", ".part")


class SmallDisk:
    """A tmpfs of a fixed size mounted at ``path``; :meth:`fill` writes until ENOSPC."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = path
        self.size_bytes = size_bytes
        self._fillers: list[Path] = []

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave_bytes: int = 0) -> Path:
        """Write a filler file until only ``leave_bytes`` (or nothing) are free. Returns the filler."""
        filler = self.path / f"filler-{uuid.uuid4().hex[:8]}.bin"
        self._fillers.append(filler)
        chunk = b"\0" * (1 << 16)
        with open(filler, "wb", buffering=0) as handle:
            while True:
                room = self.free_bytes() - leave_bytes
                if room <= 0:
                    break
                try:
                    handle.write(chunk[: min(len(chunk), room)])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        return filler

    def release(self) -> None:
        """Delete every filler: the disk has room again."""
        for filler in self._fillers:
            filler.unlink(missing_ok=True)
        self._fillers.clear()


def _mount_tmpfs(path: Path, size_bytes: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill for real ({result.stderr.strip() or 'mount refused'}); "
                    "run the fault tests as root")


@pytest.fixture
def small_disk_factory(tmp_path: Path) -> Iterator:
    """``make(size_mb)`` mounts a fresh tmpfs of that size and returns a :class:`SmallDisk`."""
    mounted: list[Path] = []

    def make(size_mb: float, name: str = "disk") -> SmallDisk:
        path = tmp_path / name
        size = int(size_mb * (1 << 20))
        _mount_tmpfs(path, size)
        mounted.append(path)
        return SmallDisk(path, size)

    yield make
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.fixture
def small_disk_settings(small_disk_factory) -> tuple[Settings, SmallDisk]:
    """Settings whose whole data directory (database included) lives on a 64 MiB tmpfs."""
    disk = small_disk_factory(64)
    settings = Settings(data_dir=disk.path / "data", quick_seconds=20, extended_seconds=40)
    settings.data_dir.mkdir(parents=True)
    return settings, disk


# --- the checks after every fault ---------------------------------------------------------------------------

def database_integrity(db_path: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file ("ok" when sound)."""
    con = sqlite3.connect(str(db_path), timeout=30)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def _owner_alive(worker_id: str | None, pid: int | None) -> bool:
    host, _, owner_pid = (worker_id or "").rpartition(":")
    candidates = []
    if owner_pid.isdigit() and host == socket.gethostname():
        candidates.append(int(owner_pid))
    if pid:
        candidates.append(int(pid))
    for candidate in candidates:
        try:
            os.kill(candidate, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            return True
        # A zombie is dead for our purposes.
        try:
            state = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            state = "?"
        if state != "Z":
            return True
    return False


def running_without_owner(db_path: Path) -> list[str]:
    """Jobs left ``running`` whose owner process is gone (each as "table id")."""
    con = sqlite3.connect(str(db_path), timeout=30)
    out = []
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in sorted(tables & {"training", "prediction", "preannotation"}):
            cols = {row[1] for row in con.execute(f"PRAGMA table_info({table})")}
            worker = "worker_id" if "worker_id" in cols else "NULL"
            pid = "pid" if "pid" in cols else "NULL"
            for job_id, owner, owner_pid in con.execute(
                f"SELECT id, {worker}, {pid} FROM {table} WHERE status = 'running'"  # noqa: S608
            ):
                if not _owner_alive(owner, owner_pid):
                    out.append(f"{table} {job_id}")
    finally:
        con.close()
    return out


def partial_files(root: Path) -> list[Path]:
    """Temporary files an interrupted write left behind under ``root``."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.name.endswith(PARTIAL_SUFFIXES))


def assert_sound(settings: Settings) -> None:
    """The checks after each fault: the database is sound, no job is stuck, no half-written file is left."""
    db = settings.data_dir / "segstudio.db"
    if db.exists():
        assert database_integrity(db) == "ok"
        assert running_without_owner(db) == [], "jobs left running without a live owner"
    assert partial_files(settings.data_dir) == [], "half-written files were left behind"
