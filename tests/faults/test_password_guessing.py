"""Guessing the lab password: bursts of wrong guesses through the real form, and simultaneous guesses."""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from core.password import hash_password, verify_password
from core.throttle import FailureThrottle
from tests.faults.conftest import assert_sound
from ui import sidebar
from ui.sidebar import address_throttle

WRONG = "That password is not right"
REFUSED = "The password was not checked"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(sidebar, "clock", clock)
    address_throttle.clear()
    yield clock
    address_throttle.clear()


def _gate() -> None:
    import streamlit as st

    from ui import sidebar
    from ui.context import page_context

    ctx = page_context()
    if not sidebar.unlocked(ctx):
        sidebar.password_page()
        st.stop()
    st.subheader("The pages")


def _guess(at: AppTest, password: str) -> str:
    """Submit one guess; what the form answered: "wrong", "refused" or "open"."""
    at.text_input[0].set_value(password)
    at.button[0].click().run()
    assert not at.exception
    if any(s.value == "The pages" for s in at.subheader):
        return "open"
    errors, warnings = " ".join(e.value for e in at.error), " ".join(w.value for w in at.warning)
    assert (WRONG in errors) != (REFUSED in warnings), (errors, warnings)
    return "wrong" if WRONG in errors else "refused"


def _shown_wait(at: AppTest) -> int:
    return int(" ".join(w.value for w in at.warning).split("Wait ")[1].split(" s")[0])


def test_a_burst_of_wrong_guesses_is_checked_three_times_then_waits_doubling(app_env, monkeypatch, clock):
    monkeypatch.setenv("SEGSTUDIO_PASSWORD_HASH", hash_password("correct horse"))
    at = AppTest.from_function(_gate, default_timeout=60).run()
    answers = [_guess(at, f"guess {i}") for i in range(20)]  # as fast as a script can, no time passes
    assert answers == ["wrong"] * 3 + ["refused"] * 17
    # Waiting exactly as told each time: every guess is checked, and the wait doubles up to a minute.
    waits = []
    for i in range(8):
        waits.append(_shown_wait(at))
        clock.now += waits[-1]
        assert _guess(at, f"patient guess {i}") == "wrong"
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert _guess(at, "correct horse") == "refused"  # even the right one, while locked
    clock.now += _shown_wait(at)
    assert _guess(at, "correct horse") == "open"
    # 11 wrong guesses were checked in all, the 17 refused ones cost nothing and were not counted.
    assert address_throttle().failures("localhost") == 11
    # A new session from the same address (a reloaded page) gets no fresh start.
    again = AppTest.from_function(_gate, default_timeout=60).run()
    assert _shown_wait(again) == 60 and _guess(again, "correct horse") == "refused"
    assert_sound(app_env)


def test_simultaneous_guesses_from_one_address_get_only_the_free_ones_checked():
    # Many sessions of one address submitting at the same instant (real threads): the attempts are counted
    # when they begin, so only the 3 free ones are checked. Repeated 50 times. The clock stands still within a
    # round, as it nearly does for a real burst: on a loaded machine a round can outlast the first 1 s lock.
    stored = hash_password("correct horse")
    for round_ in range(50):
        throttle = FailureThrottle(clock=lambda: 1000.0)
        start = threading.Barrier(16)
        checked: list[bool] = []
        lock = threading.Lock()

        def guess(i: int, throttle: FailureThrottle = throttle, start: threading.Barrier = start,
                  round_: int = round_, lock: threading.Lock = lock, checked: list[bool] = checked) -> None:
            start.wait()
            if throttle.begin("10.0.0.7") == 0.0:
                # a real check only in the first rounds: scrypt is slow on purpose
                right = verify_password(f"guess {i}", stored) if round_ < 3 else False
                with lock:
                    checked.append(right)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert checked == [False] * 3, f"round {round_}: {len(checked)} guesses were checked"
        assert throttle.failures("10.0.0.7") == 3 and throttle.wait("10.0.0.7") > 0
