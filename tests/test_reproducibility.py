"""Seed contract (docs/ARCHITECTURE.md, Randomness): same seed, paths and chunk size give
bit-identical output however the chunks are scheduled (serial, threads, processes, dask)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

from numerics.asgd import simulate_asgd
from numerics.coupling import simulate_coupled
from numerics.delays import RandomDelay
from numerics.problems import LeastSquares, TwoPoint
from numerics.rng import chunks, run_chunked
from numerics.sdde import simulate_linear_sdde, simulate_sdde

rng0 = np.random.default_rng(0)
LS = LeastSquares(rng0.standard_normal((20, 3)), rng0.standard_normal(20))


def _reversed(fn, cs):
    """Run chunks in reverse order, return in chunk order."""
    return [r for _, r in sorted(((c.index, fn(c)) for c in reversed(cs)), key=lambda t: t[0])]


def _threads(fn, cs):
    with ThreadPoolExecutor(2) as ex:
        return list(ex.map(fn, cs))


def _dask(fn, cs):
    dask = pytest.importorskip("dask")
    return list(dask.compute(*[dask.delayed(fn)(c) for c in cs], scheduler="threads"))


SIMS = {
    "asgd": lambda **kw: simulate_asgd(LS, eta=0.05, K=30, b=2, delay=RandomDelay(3), **kw).x_final,
    "sdde": lambda **kw: (
        simulate_sdde(LS, eta=0.05, K=30, delay=RandomDelay(2), substeps=2, **kw).X_fine
    ),
    "linear": lambda **kw: simulate_linear_sdde(1.0, 1.0, tau=0.2, delta=0.05, K=30, **kw).x_final,
    "coupled": lambda **kw: (
        simulate_coupled(TwoPoint(), eta=0.05, K=30, delay=RandomDelay(2), substeps=2, **kw).X_fine
    ),
}


@pytest.mark.parametrize("sim", list(SIMS))
def test_identical_under_any_scheduling(sim):
    f = SIMS[sim]
    base = f(paths=37, seed=123, chunk_size=10)
    for map_fn in (_reversed, _threads, _dask):
        assert np.array_equal(f(paths=37, seed=123, chunk_size=10, map_fn=map_fn), base)
    # a SeedSequence with the same entropy is the same seed; reuse does not shift streams
    ss = np.random.SeedSequence(123)
    assert np.array_equal(f(paths=37, seed=ss, chunk_size=10), base)
    assert np.array_equal(f(paths=37, seed=ss, chunk_size=10), base)
    # more paths: the existing full chunks are unchanged (children do not depend on the count;
    # the last, partial chunk changes because its size does)
    more = f(paths=45, seed=123, chunk_size=10)
    assert np.array_equal(more[:30], base[:30]) and not np.array_equal(more[30:37], base[30:])
    assert not np.array_equal(f(paths=37, seed=124, chunk_size=10), base)


def _square_chunk(c):
    return c.generator().standard_normal(c.size) ** 2


def test_identical_in_processes():
    serial = run_chunked(_square_chunk, 7, 50, 8)
    with ProcessPoolExecutor(2) as ex:
        par = run_chunked(_square_chunk, 7, 50, 8, map_fn=lambda f, cs: list(ex.map(f, cs)))
    assert np.array_equal(serial, par)
    res = simulate_asgd(LS, eta=0.05, K=10, paths=30, seed=1, chunk_size=8, b=2)
    with ProcessPoolExecutor(2) as ex:
        par = simulate_asgd(
            LS,
            eta=0.05,
            K=10,
            paths=30,
            seed=1,
            chunk_size=8,
            b=2,
            map_fn=lambda f, cs: list(ex.map(f, cs)),
        )
    assert np.array_equal(res.x_final, par.x_final)


def test_chunk_layout():
    cs = chunks(0, 25, 10)
    assert [(c.start, c.stop) for c in cs] == [(0, 10), (10, 20), (20, 25)]
    assert [c.seed.spawn_key for c in cs] == [(0,), (1,), (2,)]
    # streams of different chunks differ
    a, b = (c.generator().standard_normal(4) for c in cs[:2])
    assert not np.array_equal(a, b)
