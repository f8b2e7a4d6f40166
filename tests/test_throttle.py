"""Back-off after failed attempts, with an injected clock."""

from __future__ import annotations

import pytest

from core.errors import InvalidInputError
from core.throttle import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(throttle: FailureThrottle, key: str) -> None:
    assert throttle.begin(key) == 0.0


def test_three_free_failures_then_one_second_doubling_to_a_minute(clock):
    throttle = FailureThrottle(clock=clock)
    waits = []
    for _ in range(12):
        fail(throttle, "a")
        waits.append(throttle.wait("a"))
        clock.now += waits[-1]  # wait exactly the time asked
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert throttle.failures("a") == 12


def test_a_locked_key_is_not_counted_and_free_once_the_wait_is_over(clock):
    throttle = FailureThrottle(clock=clock)
    for _ in range(3):
        fail(throttle, "a")
        clock.now += throttle.wait("a")
    fail(throttle, "a")
    # 4 failures: locked for 2 s; attempts in the meantime are refused, not counted, and do not extend it
    clock.now += 0.5
    assert throttle.begin("a") == pytest.approx(1.5)
    clock.now += 1.0
    assert throttle.begin("a") == pytest.approx(0.5)
    assert throttle.failures("a") == 4
    clock.now += 0.5
    assert throttle.wait("a") == 0.0 and throttle.begin("a") == 0.0
    assert throttle.failures("a") == 5 and throttle.wait("a") == 4.0


def test_keys_are_independent(clock):
    throttle = FailureThrottle(clock=clock)
    for _ in range(5):
        throttle.begin("attacker")
    assert throttle.wait("attacker") > 0
    assert throttle.wait("colleague") == 0.0 and throttle.begin("colleague") == 0.0


def test_forgive_takes_back_the_attempt_that_succeeded_and_reset_forgets_all(clock):
    throttle = FailureThrottle(clock=clock)
    fail(throttle, "a")
    fail(throttle, "a")
    fail(throttle, "b")
    throttle.forgive("b")
    assert throttle.failures("b") == 0
    clock.now += 10
    fail(throttle, "a")  # the third attempt: would lock for 1 s, but it was right
    assert throttle.wait("a") == 1.0
    throttle.forgive("a")
    assert throttle.failures("a") == 2 and throttle.wait("a") == 0.0
    throttle.reset("a")
    assert throttle.failures("a") == 0
    throttle.forgive("never-seen")  # harmless


def test_a_key_is_forgotten_after_a_quiet_while(clock):
    throttle = FailureThrottle(clock=clock, forget_after=900)
    for _ in range(8):
        clock.now += throttle.wait("a")
        fail(throttle, "a")
    clock.now += 899  # since the last failure
    assert throttle.failures("a") == 8
    clock.now += 1
    assert throttle.failures("a") == 0 and throttle.wait("a") == 0.0


def test_the_store_keeps_only_keys_that_failed_recently(clock):
    throttle = FailureThrottle(clock=clock, forget_after=100)
    for i in range(1000):
        throttle.begin(f"10.0.{i // 256}.{i % 256}")
    clock.now += 100
    throttle.begin("10.9.9.9")
    assert len(throttle._records) == 1


def test_settings_that_do_not_fit_are_refused():
    with pytest.raises(InvalidInputError, match="first_delay"):
        FailureThrottle(first_delay=0)
    with pytest.raises(InvalidInputError, match="max_delay"):
        FailureThrottle(first_delay=10, max_delay=5)
    with pytest.raises(InvalidInputError, match="forget_after"):
        FailureThrottle(max_delay=60, forget_after=30)
