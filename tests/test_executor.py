"""Executors give bit-identical results in task order (tasks carry their own seeds).

The dask tests start a real LocalCluster (2 worker processes, loopback) and compare with the
serial run; one kills a worker mid-run and still gets identical results (dask re-runs the
lost tasks elsewhere).
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from verify import executor as executor_module
from verify.context import RunContext, check_seed_sequence
from verify.executor import (
    DaskExecutor,
    ExecutorInputError,
    ProcessExecutor,
    SerialExecutor,
    TaskError,
    TaskTraceback,
    make_executor,
)


def simulate(arg: tuple[int, float], seed: np.random.SeedSequence) -> np.ndarray:
    """A toy task: a short random walk whose length depends on the task."""
    n, sleep = arg
    if sleep:
        time.sleep(sleep)
    return np.cumsum(np.random.default_rng(seed).standard_normal(n))


def square(x: int) -> int:
    return x * x


def fails_at_2_and_5(i: int) -> int:
    """Task 5 fails first in wall time, task 2 later: the lowest index must win."""
    if i == 2:
        time.sleep(0.3)
        raise KeyError(f"task {i}")
    if i == 5:
        raise KeyError(f"task {i}")
    return i


class Unpicklable(Exception):
    def __init__(self, a, b):  # pickle calls Unpicklable(*args) with one argument: fails
        super().__init__(f"{a}/{b}")


def raises_unpicklable(i: int) -> int:
    raise Unpicklable(i, "x")


def long_dot(n: int) -> float:
    """A dot product long enough for OpenBLAS to split it between threads."""
    x = np.random.default_rng(n).standard_normal(n)
    return float(x @ x)


def crash_once(task: tuple[int, str]) -> float:
    """Task 3 SIGKILLs its own process on its first attempt (the mark file records it)."""
    i, marks = task
    mark = os.path.join(marks, "first-attempt")
    if i == 3 and not os.path.exists(mark):
        with open(mark, "w") as fh:
            fh.write(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.02)
    return float(np.random.default_rng(i).standard_normal())


TASKS = [(50 + 7 * i, 0.0) for i in range(12)]


def _run(executor, tasks=TASKS, seed=99):
    ctx = RunContext("X-exec", global_seed=seed, executor=executor)
    return ctx.map_seeded(simulate, tasks)


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape and np.array_equal(x, y)


def test_serial_order_and_progress():
    calls = []
    ctx = RunContext("X", progress=lambda d, t: calls.append((d, t)))
    assert ctx.map(square, [3, 1, 2]) == [9, 1, 4]
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_seed_depends_only_on_global_seed_and_check_id():
    a = check_seed_sequence(5, "R6-as-stated").generate_state(4)
    b = check_seed_sequence(5, "R6-as-stated").generate_state(4)
    c = check_seed_sequence(5, "R6-as-applied").generate_state(4)
    d = check_seed_sequence(6, "R6-as-stated").generate_state(4)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, d)
    # distinct runs of the same check see the same stream
    _same(_run(SerialExecutor()), _run(SerialExecutor()))


def test_named_seeds_are_stateless_and_distinct():
    a = RunContext("X", global_seed=1)
    b = RunContext("X", global_seed=1)
    a.spawn(3)  # stateful spawning elsewhere does not move named seeds
    s1, s2 = a.seed("calibration"), b.seed("calibration")
    assert np.array_equal(s1.generate_state(4), s2.generate_state(4))
    assert not np.array_equal(s1.generate_state(4), a.seed("heldout").generate_state(4))
    assert not np.array_equal(s1.generate_state(4), a.seed_sequence.generate_state(4))


def test_process_executor_bit_identical():
    serial = _run(SerialExecutor())
    with ProcessExecutor(2) as ex:
        _same(serial, _run(ex))
        assert ex.map(square, []) == []
        offset = 10
        assert ex.map(lambda x: x + offset, [1, 2]) == [11, 12]  # closures travel too


def test_process_worker_killed_mid_task_pool_replaced_same_results(tmp_path):
    tasks = [(i, str(tmp_path)) for i in range(8)]
    with ProcessExecutor(2) as ex:
        ex.map(square, [1, 2])  # start the pool
        before = set(ex.pids())
        result = ex.map(crash_once, tasks)
        after = set(ex.pids())
    killed = int((tmp_path / "first-attempt").read_text())
    assert killed in before and not (after & before)  # a worker died; the pool was replaced
    assert result == SerialExecutor().map(crash_once, tasks)  # mark exists: no kill now


def _failure(ex, fn, tasks):
    with pytest.raises(Exception) as info:
        ex.map(fn, tasks)
    exc = info.value
    assert isinstance(exc.__cause__, TaskTraceback)
    return type(exc), str(exc), exc.__cause__.text


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info()]


def test_failures_and_blas_are_the_same_on_serial_and_process():
    serial = SerialExecutor()
    ref = _failure(serial, fails_at_2_and_5, list(range(8)))
    assert ref[:2] == (KeyError, "'task 2'") and "fails_at_2_and_5" in ref[2]
    bad = _failure(serial, raises_unpicklable, [0])
    assert bad[:2] == (TaskError, "Unpicklable: 0/x")
    pytest.importorskip("threadpoolctl")
    threads = _blas_threads()
    # reference: the same dot products with one BLAS thread, outside any executor
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        one_thread = [long_dot(n) for n in (2_000_000, 2_000_001)]
    assert serial.map(long_dot, [2_000_000, 2_000_001]) == one_thread
    assert _blas_threads() == threads  # the serial executor restores the client's pools
    with ProcessExecutor(2) as ex:
        assert _failure(ex, fails_at_2_and_5, list(range(8))) == ref
        assert _failure(ex, raises_unpicklable, [0]) == bad
        assert ex.map(long_dot, [2_000_000, 2_000_001]) == one_thread


def test_bad_settings_name_the_flag():
    with pytest.raises(ExecutorInputError, match="workers"):
        ProcessExecutor(0)
    with pytest.raises(ExecutorInputError, match="executor"):
        make_executor("threads")
    with pytest.raises(ExecutorInputError, match="scheduler"):
        make_executor("process", 2, scheduler="tcp://127.0.0.1:1")


@pytest.fixture(scope="module")
def dask_executor():
    pytest.importorskip("distributed")
    ex = DaskExecutor(workers=2)
    yield ex
    ex.close()


def test_dask_local_cluster_bit_identical(dask_executor):
    assert len(dask_executor.client.scheduler_info()["workers"]) == 2
    _same(_run(SerialExecutor()), _run(dask_executor))


def test_dask_failures_and_blas_like_serial(dask_executor):
    serial = SerialExecutor()
    assert _failure(dask_executor, fails_at_2_and_5, list(range(8))) == _failure(
        serial, fails_at_2_and_5, list(range(8))
    )
    assert _failure(dask_executor, raises_unpicklable, [0]) == _failure(
        serial, raises_unpicklable, [0]
    )
    n = [2_000_000, 2_000_001]
    assert dask_executor.map(long_dot, n) == serial.map(long_dot, n)


def test_dask_attach_by_address(dask_executor, monkeypatch):
    address = dask_executor.client.scheduler.address
    with make_executor("dask", scheduler=address) as ex:
        assert ex.workers == 2 and ex.map(square, [1, 2, 3]) == [1, 4, 9]
    # a worker with another numpy than the client is refused, naming the package
    real = executor_module.worker_environment
    monkeypatch.setattr(
        executor_module, "worker_environment", lambda: {**real(), "numpy": "0.0-other"}
    )
    with pytest.raises(ExecutorInputError, match=r"numpy: here 0\.0-other"):
        DaskExecutor(scheduler=address)


def _worker_env(key: str) -> str | None:
    return os.environ.get(key)  # run in the worker (`os.environ.get` itself would pickle ours)


def _probe_with_malloc_trim() -> dict:
    return {**executor_module.worker_environment(), "malloc_trim": "65536"}


def test_dask_workers_without_malloc_trim_threshold(dask_executor, monkeypatch):
    """Our LocalCluster drops dask's MALLOC_TRIM_THRESHOLD_ (NumPy temporaries would be
    mmap-ed afresh each time) but keeps one BLAS thread; attached workers that have it warn."""
    env = dask_executor.client.run(_worker_env, "MALLOC_TRIM_THRESHOLD_")
    assert list(env.values()) == [None, None]
    blas = dask_executor.client.run(_worker_env, "OPENBLAS_NUM_THREADS")
    assert list(blas.values()) == ["1", "1"]
    monkeypatch.setattr(executor_module, "_probe_worker", _probe_with_malloc_trim)
    with pytest.warns(RuntimeWarning, match="MALLOC_TRIM_THRESHOLD_"):
        DaskExecutor(scheduler=dask_executor.client.scheduler.address).close()


def test_dask_attach_nothing_listening():
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:  # a free loopback port, closed again: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ExecutorInputError, match="no dask scheduler answers"):
        DaskExecutor(scheduler=f"tcp://127.0.0.1:{port}", timeout=1)


def test_dask_worker_killed_mid_run_same_results(dask_executor):
    tasks = [(40 + i, 0.1) for i in range(12)]  # ~0.6 s of work per worker
    serial = _run(SerialExecutor(), tasks)
    pids = list(dask_executor.client.run(os.getpid).values())
    killed = []

    def kill_one():
        time.sleep(0.25)
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    killer = threading.Thread(target=kill_one)
    killer.start()
    result = _run(dask_executor, tasks)
    killer.join()
    assert killed  # a worker really died during the run
    _same(serial, result)
