"""The Monte Carlo of the checks runs on the executor, and the executor does not change a number.

Two checks whose grid loops were moved onto the executor (issue 6 follow-up) run with a
`SerialExecutor` and a `ProcessExecutor(2)`: their `CheckResult.to_dict()` must be identical
apart from `runtime_s` (the reference is the serial run; seeds travel with the tasks), and the
executor must have received the work as ONE map with one task per grid point / row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from verify.checks._approx import map_grid
from verify.checks.base import Diverged
from verify.checks.r1_scheme import R1AsApplied
from verify.checks.r2_thm32 import Thm32MeasuredAK
from verify.context import RunContext
from verify.executor import ProcessExecutor, SerialExecutor

# R2-proof-AK: 3 grid points (eta L (l+1) <= 1 holds at each: L ~ 1), 200 paths each.
AK_GRID = [(16, 1, 0), (32, 4, 3), (16, 1, 3)]
AK_OVERRIDES = {"grid": AK_GRID, "paths": 200}
# R1-as-applied: 2 schedules x 2 delay models x 2 noise conventions = 8 rows.
R1_OVERRIDES = {
    "K": 40,
    "paths": 64,
    "schedules": ("(a)", "(b)"),
    "delays": ("none", "iid-sequence"),
}


class CountingExecutor:
    """Delegates to `inner` and records the number of tasks of every `map` call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.maps: list[int] = []

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        on_done: Callable[[], None] | None = None,
    ) -> list[Any]:
        self.maps.append(len(tasks))
        return self.inner.map(fn, tasks, on_done=on_done)

    def close(self) -> None:
        self.inner.close()


def _run(check: Any, overrides: dict[str, Any], executor: Any) -> tuple[dict[str, Any], list]:
    counting = CountingExecutor(executor)
    ctx = RunContext(check.id, profile="quick", global_seed=2024, executor=counting)
    res = check.execute(ctx, overrides=overrides)
    assert not res.error, res.error
    out = res.to_dict()
    out.pop("runtime_s")
    return out, counting.maps


def test_serial_and_process_pool_give_identical_results_and_receive_the_grid():
    checks = [(Thm32MeasuredAK(), AK_OVERRIDES, len(AK_GRID)), (R1AsApplied(), R1_OVERRIDES, 8)]
    serial = {c.id: _run(c, o, SerialExecutor()) for c, o, _ in checks}
    with ProcessExecutor(2) as pool:
        parallel = {c.id: _run(c, o, pool) for c, o, _ in checks}
        # a Diverged point travels back from a worker and is raised for the first point in
        # grid order (point 1; point 3 is submitted first)
        ctx = RunContext("map-grid-test", executor=pool)
        with pytest.raises(Diverged, match=r"^point 1$"):
            map_grid(ctx, _task, [(j, True) for j in range(5)], costs=[1, 2, 3, 4, 5])
    for check, _, n_points in checks:
        (s_res, s_maps), (p_res, p_maps) = serial[check.id], parallel[check.id]
        assert s_res["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE"), s_res["message"]
        assert p_res == s_res, check.id
        # one map carrying every grid point / row, on both executors
        assert s_maps == p_maps == [n_points], (check.id, s_maps, p_maps)


def _task(j: int, twice: bool) -> int:
    if j in (1, 3) and twice:
        raise Diverged(f"point {j}")
    return 10 * j


def test_map_grid_returns_grid_order_and_first_diverged_point_in_grid_order():
    ctx = RunContext("map-grid-test", executor=SerialExecutor())
    tasks = [(j, False) for j in range(5)]
    # costs reverse the submission order; the result must still be in grid order
    assert map_grid(ctx, _task, tasks, costs=[1, 2, 3, 4, 5]) == [0, 10, 20, 30, 40]
    # points 1 and 3 diverge; 3 runs first (higher cost) but point 1 is reported, as a serial
    # loop over the grid would
    with pytest.raises(Diverged, match=r"^point 1$"):
        map_grid(ctx, _task, [(j, True) for j in range(5)], costs=[1, 2, 3, 4, 5])
