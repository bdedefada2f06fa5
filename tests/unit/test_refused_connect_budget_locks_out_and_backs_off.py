"""pushsvc.sio.connect_guard.AddressBudget on a fake clock: a burst of refusals, then a lockout;
one CONNECT checked after it, a doubled lockout if that one fails too; accepted CONNECTs
cost nothing; a quiet address starts over; the addresses it tracks are bounded."""

from __future__ import annotations

from pushsvc.sio.connect_guard import AddressBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _budget(clock: Clock, **kwargs: float) -> AddressBudget:
    options: dict[str, float] = {"burst": 3, "window": 300.0, "lockout": 10.0,
                                 "lockout_max": 80.0, **kwargs}
    return AddressBudget(burst=int(options["burst"]), window=options["window"],
                         lockout=options["lockout"], lockout_max=options["lockout_max"],
                         clock=clock)


def _refuse(budget: AddressBudget, address: str = "10.0.0.1") -> float:
    wait, started = budget.admit(address)
    assert (wait, started) == (0.0, 0.0), "expected the CONNECT to be checked"
    return budget.refused(address)


def test_the_refusal_that_spends_the_burst_starts_a_lockout() -> None:
    clock = Clock()
    budget = _budget(clock)
    assert [_refuse(budget) for _ in range(3)] == [0.0, 0.0, 10.0]
    assert budget.admit("10.0.0.1") == (10.0, 0.0)
    assert budget.waiting("10.0.0.1") == 10.0
    assert budget.admit("10.0.0.2") == (0.0, 0.0)  # another address is not locked


def test_after_a_lockout_one_connect_is_checked_and_another_failure_doubles_it() -> None:
    clock = Clock()
    budget = _budget(clock)
    for _ in range(3):
        _refuse(budget)
    lockouts = []
    for _ in range(4):
        clock.now += budget.waiting("10.0.0.1")
        lockouts.append(_refuse(budget))
    assert lockouts == [20.0, 40.0, 80.0, 80.0]  # capped at lockout_max


def test_a_connect_accepted_after_a_lockout_gives_its_token_back() -> None:
    clock = Clock()
    budget = _budget(clock)
    for _ in range(3):
        _refuse(budget)
    clock.now += 10.0
    assert budget.admit("10.0.0.1") == (0.0, 0.0)
    budget.accepted("10.0.0.1")
    assert budget.admit("10.0.0.1") == (0.0, 0.0)  # still one token: checked again


def test_accepted_connects_cost_nothing() -> None:
    budget = _budget(Clock())
    for _ in range(100):
        assert budget.admit("10.0.0.1") == (0.0, 0.0)
        budget.accepted("10.0.0.1")
    assert budget.waiting("10.0.0.1") == 0.0


def test_connects_checked_at_the_same_time_cannot_overspend_the_budget() -> None:
    budget = _budget(Clock())
    assert [budget.admit("10.0.0.1") for _ in range(3)] == [(0.0, 0.0)] * 3
    assert budget.admit("10.0.0.1") == (10.0, 10.0)  # a lockout starts, unchecked


def test_the_budget_refills_over_its_window() -> None:
    clock = Clock()
    budget = _budget(clock)
    _refuse(budget)
    _refuse(budget)
    clock.now += 100.0  # a third of the window: one token back
    assert [_refuse(budget) for _ in range(2)] == [0.0, 10.0]


def test_an_address_quiet_for_the_longest_lockout_starts_over() -> None:
    clock = Clock()
    budget = _budget(clock)
    for _ in range(3):
        _refuse(budget)
    clock.now += 10.0
    assert _refuse(budget) == 20.0
    clock.now += 20.0 + 81.0 + 300.0  # past the lockout, then quiet, then refilled
    assert [_refuse(budget) for _ in range(3)] == [0.0, 0.0, 10.0]


def test_a_zero_burst_budgets_nothing_and_tracks_no_address() -> None:
    budget = _budget(Clock(), burst=0)
    for _ in range(1000):
        assert budget.admit("10.0.0.1") == (0.0, 0.0)
        assert budget.refused("10.0.0.1") == 0.0
    assert len(budget) == 0


def test_the_addresses_tracked_are_bounded_least_recently_refused_first() -> None:
    budget = AddressBudget(burst=3, window=60.0, lockout=10.0, lockout_max=80.0,
                           clock=Clock(), max_addresses=100)
    for n in range(1000):
        budget.admit(f"10.1.{n // 256}.{n % 256}")
    assert len(budget) == 100
