"""Executors: where the tasks of a check run (serial, local processes, dask.distributed).

Contract (`Executor`): `map(fn, tasks)` returns `[fn(t) for t in tasks]` **in task order**,
and the same values on every executor and for every number of workers. Three things make
that true:

1. **Seeds travel with the tasks.** A task is (check × grid point × chunk of paths); it carries
   its own child `numpy.random.SeedSequence` (`verify.context.RunContext.seed`, `map_seeded`,
   `numerics.rng.run_chunked`), so where and when it runs does not matter.
2. **One BLAS thread per task, everywhere.** A multi-threaded BLAS splits long dot products
   and factorisations between threads and so changes the last bits of the result (measured
   here: `x @ x` for 2·10⁶ numbers differs by 2e−9 between 1 and 2 OpenBLAS threads). Every
   executor — the serial one included — therefore runs each task under
   `threadpoolctl.threadpool_limits(1)` (when `threadpoolctl` is installed; worker processes
   also get ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1``). Code of a check that
   runs outside `map` runs in the client process on every executor, so it is unaffected.
3. **A failing task fails the same way everywhere.** The exception is caught inside the task,
   its traceback formatted there, and the exception object (rebuilt as pickle would rebuild
   it, on every executor, so the serial one does not differ) is re-raised by `map` in the
   client with the task's traceback text attached as its cause (`TaskTraceback`). When several
   tasks fail, the one with the **lowest task index** is raised, so `CheckResult.error` is the
   same text on every executor.

Executors:

- `SerialExecutor()` — in this process, stops at the first failing task.
- `ProcessExecutor(workers)` — `concurrent.futures.ProcessPoolExecutor` with the *spawn*
  start method (safe with threads, same behaviour on every OS); `fn` travels by cloudpickle
  when it is installed (it comes with dask), so closures work too. A worker process that dies
  breaks the pool; it is replaced and the unfinished tasks run again (same numbers).
- `DaskExecutor(scheduler=None, workers=2)` — attaches to a running scheduler
  (``tcp://HOST:PORT``; its workers must have the same package versions, which is checked) or
  starts `LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)` on the
  loopback interface (without dask's ``MALLOC_TRIM_THRESHOLD_``, see `_MALLOC_KEY`). If a
  worker dies mid-run, dask re-runs its tasks on another worker; since each task carries its
  seed, the results do not change.

`fn` and the tasks must be picklable for the process and dask executors (module-level
functions, or closures when cloudpickle is installed), and a task's result must depend on its
argument only: not on global state, call order, the process, or `hash()` of strings (whose
seed differs between processes). Measured costs are in `benchmarks/README.md`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Protocol, runtime_checkable

from theory.errors import InputError

__all__ = [
    "EXECUTORS",
    "DaskExecutor",
    "Executor",
    "ExecutorInputError",
    "ProcessExecutor",
    "SerialExecutor",
    "TaskError",
    "TaskTraceback",
    "make_executor",
    "single_threaded_blas",
    "worker_environment",
]

EXECUTORS = ("serial", "process", "dask")

#: Environment of every worker process: one thread per BLAS / OpenMP pool (see point 2 above).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: Packages whose versions must agree between the client and every dask worker (their
#: numerics decide the bits of the results).
PINNED_PACKAGES = ("sdde-verify", "numpy", "scipy", "sympy", "mpmath", "cloudpickle")


class ExecutorInputError(InputError):
    """Bad executor settings (kind, workers, scheduler address, mismatched workers)."""


class TaskError(RuntimeError):
    """Stands in for a task's exception that cannot be pickled (its type and message kept)."""


class TaskTraceback(Exception):
    """The traceback of a failed task, formatted where the task ran (the `__cause__` of the
    exception `map` re-raises)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


@runtime_checkable
class Executor(Protocol):
    """Runs `fn` over `tasks`; returns the results in task order."""

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        on_done: Callable[[], None] | None = None,
    ) -> list[Any]: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- task wrapper
@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS/OpenMP thread (no-op without `threadpoolctl`)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is installed here
        _warn_no_threadpoolctl()
        yield
        return
    with threadpool_limits(limits=1):
        yield


_warned: list[bool] = []


def _warn_no_threadpoolctl() -> None:  # pragma: no cover - depends on the installation
    if not _warned:
        _warned.append(True)
        warnings.warn(
            "threadpoolctl is not installed: BLAS may use several threads inside tasks of the "
            "serial executor, and results can then differ from the process/dask executors in "
            "the last bits. Fix: pip install threadpoolctl",
            RuntimeWarning,
            stacklevel=3,
        )


class _Failed:
    """What a task returns instead of raising: the (picklable) exception and its traceback."""

    def __init__(self, exc: BaseException, text: str) -> None:
        self.exc = exc
        self.text = text


def _portable_exception(exc: BaseException) -> BaseException:
    """`exc` rebuilt as pickle rebuilds an exception in another process (`type(exc)(*args)`,
    then its `__dict__`), without traceback or chained exceptions; a `TaskError` with the same
    text if that fails or the parts do not pickle. The rule is applied explicitly, not by
    trying `pickle.loads`, because importing `distributed` changes how exceptions unpickle
    (tblib) and the serial client may or may not have imported it."""
    try:
        import cloudpickle as _pickle
    except ImportError:  # pragma: no cover - cloudpickle comes with dask
        _pickle = pickle
    try:
        parts = pickle.loads(_pickle.dumps((type(exc), exc.args, dict(exc.__dict__))))
        out = parts[0](*parts[1])
        out.__dict__.update(parts[2])
    except Exception:
        out = TaskError(f"{type(exc).__qualname__}: {exc}")
    out.__traceback__ = None
    out.__cause__ = out.__context__ = None
    return out


class _Task:
    """Picklable wrapper run where the task runs: one BLAS thread; exceptions become `_Failed`."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, task: Any) -> Any:
        with single_threaded_blas():
            try:
                return self.fn(task)
            except Exception as exc:
                return _Failed(_portable_exception(exc), traceback.format_exc())


def _raise_failure(failed: _Failed) -> None:
    exc = failed.exc
    raise exc from TaskTraceback(failed.text)


class _Base:
    """Common `map`: outcomes in task order, then the lowest-index failure is re-raised."""

    name = "base"
    workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        return None

    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        on_done: Callable[[], None] | None = None,
    ) -> list[Any]:
        """`[fn(t) for t in tasks]` in task order; `on_done()` after each finished task.

        Raises:
            Exception: the exception of the failing task with the lowest index (its traceback
                in the task is the `__cause__`, a `TaskTraceback`).
        """
        tasks = list(tasks)
        if not tasks:
            return []
        out = self._run(_Task(fn), tasks, on_done)
        for value in out:
            if isinstance(value, _Failed):
                _raise_failure(value)
        return out

    def _run(self, task_fn: _Task, tasks: list[Any], on_done) -> list[Any]:
        raise NotImplementedError


class _Progress:
    """Bookkeeping for out-of-order completion: stop once every task before the lowest-index
    failure has finished (that failure is then the one a serial run would raise)."""

    def __init__(self, n: int) -> None:
        self.out: list[Any] = [None] * n
        self.done = [False] * n
        self.first_failure = n

    def record(self, i: int, value: Any) -> None:
        self.out[i] = value
        self.done[i] = True
        if isinstance(value, _Failed) and i < self.first_failure:
            self.first_failure = i

    def finished(self) -> bool:
        return all(self.done[: self.first_failure])


# ----------------------------------------------------------------------------- executors
class SerialExecutor(_Base):
    """Runs the tasks one after the other in this process (stops at the first failure)."""

    workers = 1
    name = "serial"

    def _run(self, task_fn, tasks, on_done):
        out = []
        for task in tasks:
            value = task_fn(task)
            out.append(value)
            if isinstance(value, _Failed):
                break
            if on_done is not None:
                on_done()
        return out

    def __repr__(self) -> str:
        return "SerialExecutor()"


def _apply(fn: Callable[[Any], Any], task: Any) -> Any:
    return fn(task)


_LAST_PAYLOAD: list[Any] = [None, None]  # (payload, fn) of the last map in this worker


def _apply_cloudpickled(payload: bytes, task: Any) -> Any:
    """Unpickle `fn` once per map in each worker (not once per task), then call it."""
    if _LAST_PAYLOAD[0] != payload:
        import cloudpickle

        _LAST_PAYLOAD[:] = [payload, cloudpickle.loads(payload)]
    return _LAST_PAYLOAD[1](task)


def _portable(fn: Callable[[Any], Any]) -> tuple[Callable[[Any, Any], Any], Any]:
    """Ship `fn` by cloudpickle when available (closures and lambdas then work in process
    pools, as they do with dask); otherwise by plain pickle (module-level functions only)."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle comes with dask
        return _apply, fn
    return _apply_cloudpickled, cloudpickle.dumps(fn)


def _worker_init() -> None:
    """Initializer of process-pool workers: one thread per BLAS pool loaded later."""
    os.environ.update(WORKER_ENV)


def _check_workers(workers: int) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ExecutorInputError(
            "workers", workers, "must be a positive integer", "pass e.g. --workers 2"
        )
    return workers


class ProcessExecutor(_Base):
    """A pool of `workers` spawned processes (`concurrent.futures`), created lazily.

    Like dask, it survives a worker process that dies (killed, out of memory, segfault): the
    pool is then broken, so it is replaced and the unfinished tasks are submitted again (their
    seeds make the re-run give the same numbers); after `allowed_failures` replacements within
    one `map` the `BrokenProcessPool` error is raised.
    """

    name = "process"

    def __init__(self, workers: int = 2, allowed_failures: int = 3) -> None:
        self.workers = _check_workers(workers)
        self.allowed_failures = allowed_failures
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_worker_init
            )
        return self._pool

    def pids(self) -> list[int]:
        """Process ids of the pool's workers (empty before the first `map`)."""
        return [] if self._pool is None else sorted(self._pool._processes)

    def _run(self, task_fn, tasks, on_done):
        from concurrent.futures.process import BrokenProcessPool

        call, payload = _portable(task_fn)
        state = _Progress(len(tasks))
        for attempt in range(self.allowed_failures + 1):
            pool = self._ensure()
            index = {
                pool.submit(call, payload, t): i for i, t in enumerate(tasks) if not state.done[i]
            }
            try:
                for fut in as_completed(index):
                    state.record(index[fut], fut.result())
                    if on_done is not None:
                        on_done()
                    if state.finished():
                        break
                return state.out
            except BrokenProcessPool:
                if attempt == self.allowed_failures:
                    raise
                for fut, i in index.items():  # keep what finished before the pool broke
                    if (
                        not state.done[i]
                        and fut.done()
                        and not fut.cancelled()
                        and fut.exception() is None
                    ):
                        state.record(i, fut.result())
                        if on_done is not None:
                            on_done()
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                if state.finished():
                    return state.out
            finally:
                for f in index:
                    f.cancel()
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers})"


# ----------------------------------------------------------------------------- dask
def worker_environment() -> dict[str, Any]:
    """What decides the bits of a task's result on this machine: Python and `PINNED_PACKAGES`
    versions, and the SIMD targets NumPy dispatches to (e.g. AVX512 vs AVX2 kernels of
    `exp`/`log`/`sum` round differently). Runs on the client and on every dask worker."""
    import importlib.metadata as md

    env: dict[str, Any] = {"python": sys.version.split()[0]}
    for name in PINNED_PACKAGES:
        try:
            env[name] = md.version(name)
        except md.PackageNotFoundError:
            env[name] = "not installed"
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core import _multiarray_umath as umath
    features = getattr(umath, "__cpu_features__", {})
    env["numpy_simd"] = [t for t in getattr(umath, "__cpu_dispatch__", []) if features.get(t)]
    return env


#: dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``. Setting it at all turns
#: off glibc's dynamic mmap threshold, so every NumPy temporary above 128 KiB is mmap-ed and
#: page-faulted afresh: measured here, a user-loss check task took 9.6 s instead of 2.5 s in
#: the same process with and without the variable. Our local clusters drop it (config value
#: `None` unsets it); attached workers are warned about (docs/cluster.md says how to drop it).
_MALLOC_KEY = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def _probe_worker() -> dict[str, Any]:
    """Sent to every worker *by value*; imports our package there, so a worker without it says
    so instead of failing later inside a check."""
    try:
        from verify.executor import worker_environment as env
    except Exception as exc:  # reported to the user with the fix
        return {"error": f"{type(exc).__name__}: {exc}"}
    import os as _os

    return {**env(), "malloc_trim": _os.environ.get("MALLOC_TRIM_THRESHOLD_")}


class DaskExecutor(_Base):
    """Dask distributed: attach to `scheduler` or start a loopback `LocalCluster`.

    Arguments:
        scheduler: ``"tcp://HOST:PORT"`` of a running scheduler, or `None` to start a
            `LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)` bound to
            127.0.0.1 (no dashboard).
        workers: number of worker processes of the local cluster (ignored when attaching).
        timeout: seconds to wait for the scheduler to answer and for a first worker.
        check_versions: when attaching, compare `worker_environment()` of the client and of
            every worker: different package versions raise `ExecutorInputError`; different
            NumPy SIMD targets only warn (results may then differ in the last bits).
        cluster_kwargs: extra keyword arguments of the `LocalCluster` (e.g. ``memory_limit``,
            or ``env`` for the worker processes' environment).

    Raises:
        ExecutorInputError: dask missing, bad address, no scheduler or no worker answering, or
            workers without the package / with different package versions.
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int = 2,
        *,
        timeout: float = 30.0,
        check_versions: bool = True,
        cluster_kwargs: dict[str, Any] | None = None,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the installation
            raise ExecutorInputError(
                "executor",
                "dask",
                "dask.distributed is not installed",
                "pip install 'sdde-verify[dask]' or use --executor process",
            ) from None
        self.workers = _check_workers(workers)
        self.scheduler = scheduler
        self.cluster = None
        if scheduler is not None:
            if not isinstance(scheduler, str) or "://" not in scheduler:
                raise ExecutorInputError(
                    "scheduler",
                    scheduler,
                    "is not a scheduler address",
                    "pass e.g. --scheduler tcp://127.0.0.1:8786",
                )
            try:
                self.client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise ExecutorInputError(
                    "scheduler",
                    scheduler,
                    f"no dask scheduler answers there ({type(exc).__name__})",
                    "start one with `dask scheduler` on that host, or check host and port",
                ) from None
            try:
                self.client.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError):
                self.client.close()
                raise ExecutorInputError(
                    "scheduler",
                    scheduler,
                    f"has no worker after {timeout:g} s",
                    f"start `dask worker {scheduler} --nworkers N --nthreads 1` on each host",
                ) from None
            self.workers = len(self.client.scheduler_info()["workers"])
            if check_versions:
                try:
                    self._check_worker_environments()
                except BaseException:
                    self.client.close()
                    raise
        else:
            import dask

            with dask.config.set({_MALLOC_KEY: None}):  # see `_MALLOC_KEY`
                self.cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    **(cluster_kwargs or {}),
                )
            self.client = Client(self.cluster)

    def _check_worker_environments(self) -> None:
        import cloudpickle

        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        try:
            envs = self.client.run(_probe_worker)
        finally:
            cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        mine = worker_environment()
        simd: list[str] = []
        slow: list[str] = []
        for address, env in sorted(envs.items()):
            if "error" in env:
                raise ExecutorInputError(
                    "scheduler",
                    self.scheduler,
                    f"worker {address} cannot import sdde-verify ({env['error']})",
                    "pip install '.[dask]' (this repository) on every worker host, in the "
                    "environment `dask worker` runs in",
                )
            if env.get("malloc_trim") is not None:
                slow.append(address)
            diff = {
                k: (mine[k], env.get(k))
                for k in mine
                if k != "numpy_simd" and env.get(k) != mine[k]
            }
            if diff:
                raise ExecutorInputError(
                    "scheduler",
                    self.scheduler,
                    f"worker {address} has other versions than this client "
                    + ", ".join(f"{k}: here {a}, there {b}" for k, (a, b) in sorted(diff.items()))
                    + " (results would not be bit-identical)",
                    "install the same versions on every worker host (same lock file / wheel)",
                )
            if env.get("numpy_simd") != mine["numpy_simd"]:
                simd.append(f"{address}: {env.get('numpy_simd')}")
        if slow:
            warnings.warn(
                f"dask workers {', '.join(slow)} run with MALLOC_TRIM_THRESHOLD_ set (dask's "
                "default), which makes NumPy-heavy checks several times slower. Fix: start "
                "`dask worker` with a dask config file (DASK_CONFIG) setting "
                "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_: null "
                "(see docs/cluster.md)",
                RuntimeWarning,
                stacklevel=3,
            )
        if simd:
            warnings.warn(
                f"dask workers dispatch NumPy to other SIMD targets than this client "
                f"({mine['numpy_simd']}): {'; '.join(simd)}. Results may differ from a serial "
                "run in the last bits; use hosts of one CPU generation for bit-identical reports.",
                RuntimeWarning,
                stacklevel=3,
            )

    def pids(self) -> list[int]:
        """Process ids of the workers (by worker address order)."""
        return [pid for _, pid in sorted(self.client.run(os.getpid).items())]

    def _run(self, task_fn, tasks, on_done):
        from distributed import as_completed as dask_as_completed

        futures = self.client.map(task_fn, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        state = _Progress(len(tasks))
        try:
            for fut in dask_as_completed(futures):
                state.record(index[fut.key], fut.result())
                if on_done is not None:
                    on_done()
                if state.finished():
                    break
        finally:
            if not all(state.done):
                self.client.cancel([f for f in futures if not f.done()])
            for f in futures:
                f.release()
        return state.out

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __repr__(self) -> str:
        where = self.scheduler or "LocalCluster"
        return f"DaskExecutor({where}, workers={self.workers})"


def make_executor(kind: str = "serial", workers: int = 1, scheduler: str | None = None):
    """Build an executor from command-line settings.

    Raises:
        ExecutorInputError: unknown `kind`, bad `workers`, or `scheduler` without dask.
    """
    if scheduler is not None and kind != "dask":
        raise ExecutorInputError(
            "scheduler",
            scheduler,
            f"only used by the dask executor, not {kind!r}",
            "add --executor dask or drop --scheduler",
        )
    if kind == "serial":
        return SerialExecutor()
    if kind == "process":
        return ProcessExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler=scheduler, workers=workers)
    raise ExecutorInputError("executor", kind, "unknown executor", f"use one of {EXECUTORS}")
