"""Every bad input gives its specific InputError subclass, naming the parameter."""

from __future__ import annotations

import numpy as np
import pytest

from numerics.asgd import simulate_asgd
from numerics.coupling import simulate_coupled
from numerics.delays import ConstantDelay, CyclicDelay, RandomDelay
from numerics.errors import (
    BatchSizeError,
    CouplingError,
    DelayError,
    DimensionError,
    InitialSegmentError,
    InputError,
    PathsError,
    ProbabilityVectorError,
    ScheduleError,
    SeedError,
    StepSizeError,
)
from numerics.problems import LeastSquares, LogisticL2, Quadratic, TwoPoint
from numerics.rng import chunks
from numerics.schedules import InverseK, InverseMuK, make_schedule
from numerics.sdde import simulate_linear_sdde, simulate_sdde

LS = LeastSquares(np.eye(3), np.ones(3))
OK = dict(eta=0.1, K=5, paths=4, seed=0)


def _asgd(**kw):
    args = {**OK, **kw}
    return simulate_asgd(LS, **args)


CASES = [
    ("l", DelayError, lambda: ConstantDelay(-1)),
    ("l", DelayError, lambda: RandomDelay(2.5)),
    ("l", DelayError, lambda: CyclicDelay("3")),
    ("l", DelayError, lambda: ConstantDelay(True)),
    ("q", ProbabilityVectorError, lambda: RandomDelay(2, [0.5, 0.5])),
    ("q", ProbabilityVectorError, lambda: RandomDelay(1, [1.2, -0.2])),
    ("q", ProbabilityVectorError, lambda: RandomDelay(1, [0.3, 0.3])),
    ("q", ProbabilityVectorError, lambda: RandomDelay(1, [np.nan, 1.0])),
    ("b", BatchSizeError, lambda: _asgd(b=0)),
    ("b", BatchSizeError, lambda: _asgd(b=2.0)),
    ("b", BatchSizeError, lambda: _asgd(b=4, replace=False)),
    ("eta", StepSizeError, lambda: _asgd(eta=0.0)),
    ("eta", StepSizeError, lambda: _asgd(eta=float("nan"))),
    ("K", StepSizeError, lambda: _asgd(K=0)),
    ("K", StepSizeError, lambda: _asgd(K=2.5)),
    ("delta", StepSizeError, lambda: _asgd(delta=-1.0)),
    ("paths", PathsError, lambda: _asgd(paths=0)),
    ("chunk_size", PathsError, lambda: _asgd(chunk_size=0)),
    ("record_every", PathsError, lambda: _asgd(record_every=0)),
    ("seed", SeedError, lambda: _asgd(seed=-3)),
    ("seed", SeedError, lambda: _asgd(seed=1.5)),
    ("x0", DimensionError, lambda: _asgd(x0=[1.0, 2.0])),
    ("x0", InitialSegmentError, lambda: _asgd(x0=[1.0, np.inf, 0.0])),
    ("xi", InitialSegmentError, lambda: _asgd(delay=ConstantDelay(2), xi=np.zeros((2, 3)))),
    (
        "xi",
        InitialSegmentError,
        lambda: _asgd(delay=ConstantDelay(1), xi=[[0, 0, 0], [1, 1, np.nan]]),
    ),
    ("noise", InputError, lambda: _asgd(noise="laplace")),
    ("sigma_at", InputError, lambda: _asgd(noise="gaussian", sigma_at="x0")),
    ("delay", DelayError, lambda: _asgd(delay=3)),
    ("schedule", ScheduleError, lambda: _asgd(schedule="1/k")),
    ("mu", ScheduleError, lambda: InverseMuK(0.0)),
    ("mu", ScheduleError, lambda: make_schedule("1/(mu k)")),
    ("schedule", ScheduleError, lambda: make_schedule("1/k^2")),
    ("k", ScheduleError, lambda: InverseK().u(0)),
    ("t", ScheduleError, lambda: InverseK().U(0.0, 0.1)),
    ("tau", DelayError, lambda: simulate_linear_sdde(1.0, 1.0, tau=0.15, delta=0.1, **OK_LIN)),
    ("tau", DelayError, lambda: simulate_linear_sdde(1.0, 1.0, tau=-1.0, delta=0.1, **OK_LIN)),
    ("substeps", StepSizeError, lambda: simulate_sdde(LS, substeps=0, **OK)),
    (
        "G",
        DimensionError,
        lambda: simulate_linear_sdde(1.0, np.eye(2), tau=0.1, delta=0.1, **OK_LIN),
    ),
    (
        "A",
        DimensionError,
        lambda: simulate_linear_sdde(np.ones((2, 3)), 1.0, tau=0.1, delta=0.1, **OK_LIN),
    ),
    ("coupling", CouplingError, lambda: simulate_coupled(LS, coupling="same", **OK)),
    ("replace", CouplingError, lambda: simulate_coupled(LS, replace=False, b=2, **OK)),
    ("y", DimensionError, lambda: LeastSquares(np.eye(3), np.ones(2))),
    ("A", InputError, lambda: LeastSquares([[1.0, np.nan]], [1.0])),
    ("y", InputError, lambda: LogisticL2(np.eye(2), [1.0, 0.0], 0.1)),
    ("lam", InputError, lambda: LogisticL2(np.eye(2), [1.0, -1.0], -1.0)),
    ("Q", InputError, lambda: Quadratic([[1.0, 2.0], [0.0, 1.0]])),
    ("noise_cov", DimensionError, lambda: Quadratic(np.eye(2), None, np.eye(3))),
    ("reading", InputError, lambda: TwoPoint("product")),
    ("paths", PathsError, lambda: chunks(0, 0, 10)),
]
OK_LIN = dict(K=5, paths=4, seed=0)


@pytest.mark.parametrize(("parameter", "error", "call"), CASES)
def test_bad_input_raises_specific_error(parameter, error, call):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, InputError)
    assert info.value.parameter == parameter
    assert str(info.value).startswith(f"{parameter}=")
    assert "Fix:" in str(info.value)


# ------------------------------------------------------------------ issue 12: data messages
def test_data_errors_quote_a_short_snippet_and_count_file_lines(tmp_path):
    """A hostile file (e.g. a symlink to a system file) is never echoed whole: a cell is quoted
    truncated; rows are numbered by file line (blank lines and the header count); values print
    plainly (``nan``, never ``np.float64(nan)``)."""
    from verify.usercheck.data import DataError, DataSpec, load_dataset

    long_cell = "root:x:0:0:root:/root:/bin/bash" * 3
    (tmp_path / "d.csv").write_text(f"a,b,y\n1,2,3\n\n4,{long_cell},5\n")
    with pytest.raises(DataError) as info:
        load_dataset(DataSpec(path="d.csv"), tmp_path)
    msg = str(info.value)
    assert "line 4" in msg and long_cell not in msg and long_cell[:20] in msg
    (tmp_path / "e.csv").write_text("a,b,y\n1,2,3\n\n4,nan,5\n")
    with pytest.raises(DataError) as info:
        load_dataset(DataSpec(path="e.csv"), tmp_path)
    msg = str(info.value)
    assert "nan at line 4" in msg and "np.float64" not in msg
    header = ",".join(f"secret{i}" * 5 for i in range(20))
    (tmp_path / "f.csv").write_text(header + "\n" + ",".join("1" * 20) + "\n")
    with pytest.raises(DataError) as info:
        load_dataset(DataSpec(path="f.csv", label="nope"), tmp_path)
    assert len(str(info.value)) < 400 and "12 more" in str(info.value)
