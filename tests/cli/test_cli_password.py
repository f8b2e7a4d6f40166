"""`segstudio password`: the line to export, from stdin or asked twice without echo on a real terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from core.password import verify_password

REPO = Path(__file__).resolve().parents[2]
PREFIX = "export SEGSTUDIO_PASSWORD_HASH="


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGSTUDIO_")}
    return {**env, "PYTHONPATH": str(REPO), "SEGSTUDIO_DATA": str(tmp_path / "data")}


def _cli(tmp_path: Path, *args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", "password", *args], input=stdin, text=True,
                          capture_output=True, env=_env(tmp_path), cwd=tmp_path, timeout=60)


def test_password_from_stdin_prints_the_line_to_export(tmp_path):
    done = _cli(tmp_path, "--stdin", stdin="correct horse\n")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith(PREFIX) and "\n" not in line
    stored = line.removeprefix(PREFIX)
    assert verify_password("correct horse", stored) and not verify_password("correct horse\n", stored)
    assert "correct horse" not in done.stdout + done.stderr
    # The printed line works as it is in a shell (no quoting needed).
    shell = subprocess.run(["bash", "-c", f'{line}\nprintf %s "$SEGSTUDIO_PASSWORD_HASH"'],
                           capture_output=True, text=True, check=True)
    assert shell.stdout == stored


def test_password_from_stdin_refuses_nothing_or_an_empty_line(tmp_path):
    for stdin, reason in (("", "no password on stdin"), ("\n", "must not be empty")):
        done = _cli(tmp_path, "--stdin", stdin=stdin)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("segstudio: ") and reason in done.stderr


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} in {bytes(seen)!r}"
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen.extend(chunk)


def _on_a_terminal(tmp_path: Path, first: str, second: str) -> tuple[int, str]:
    """Run `segstudio password` on a real pseudo-terminal, type two passwords; (exit code, all it showed)."""
    env = _env(tmp_path)
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty, as for an admin at a shell
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, "-m", "core.cli", "password"], env)
    seen = bytearray()
    try:
        _read_until(fd, b"Lab password: ", seen)
        os.write(fd, first.encode() + b"\n")
        _read_until(fd, b"The same again: ", seen)
        os.write(fd, second.encode() + b"\n")
        _read_until(fd, b"\x00never", seen)  # to the end of its output
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_password_asked_twice_without_echo(tmp_path):
    code, shown = _on_a_terminal(tmp_path, "tr0ub4dor&3", "tr0ub4dor&3")
    assert code == 0, shown
    assert "tr0ub4dor" not in shown  # typed, never echoed
    line = next(line for line in shown.splitlines() if line.startswith(PREFIX))
    assert verify_password("tr0ub4dor&3", line.removeprefix(PREFIX).strip())


def test_two_different_passwords_make_nothing(tmp_path):
    code, shown = _on_a_terminal(tmp_path, "first", "second")
    assert code == 1
    assert "the two passwords differ" in shown and PREFIX not in shown
