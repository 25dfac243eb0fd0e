"""Executors: where the tasks of a check run (serial, local processes, dask).

Contract (`Executor`): `map(fn, tasks)` returns `[fn(t) for t in tasks]` **in task order**.
Tasks carry their own `numpy.random.SeedSequence` (see `verify.context.RunContext.map_seeded`
and `numerics/rng.py`), so results are bit-identical whichever executor runs them and however
many workers it has. `fn` and the tasks must be picklable (module-level functions) for the
process and dask executors (closures are fine when cloudpickle is installed).

- `SerialExecutor()` — in this process.
- `ProcessExecutor(workers)` — `concurrent.futures.ProcessPoolExecutor` with the *spawn*
  start method (safe with threads, same behaviour on every OS); `fn` travels by cloudpickle
  when it is installed (it comes with dask), so closures work too.
- `DaskExecutor(scheduler=None, workers=2)` — attaches to a running scheduler
  (``tcp://HOST:PORT``) or starts `LocalCluster(n_workers=workers, threads_per_worker=1,
  processes=True)` on the loopback interface. If a worker dies, dask re-runs its tasks
  elsewhere; since each task carries its seed, the results do not change.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
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
    "make_executor",
]

EXECUTORS = ("serial", "process", "dask")


class ExecutorInputError(InputError):
    """Bad executor settings (kind, workers, scheduler address)."""


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


class _Closing:
    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        return None


class SerialExecutor(_Closing):
    """Runs the tasks one after the other in this process."""

    workers = 1
    name = "serial"

    def map(self, fn, tasks, on_done=None):
        out = []
        for task in tasks:
            out.append(fn(task))
            if on_done is not None:
                on_done()
        return out

    def __repr__(self) -> str:
        return "SerialExecutor()"


def _apply(fn: Callable[[Any], Any], task: Any) -> Any:
    return fn(task)


def _apply_cloudpickled(payload: bytes, task: Any) -> Any:
    import cloudpickle

    return cloudpickle.loads(payload)(task)


def _portable(fn: Callable[[Any], Any]) -> tuple[Callable[[Any, Any], Any], Any]:
    """Ship `fn` by cloudpickle when available (closures and lambdas then work in process
    pools, as they do with dask); otherwise by plain pickle (module-level functions only)."""
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle comes with dask
        return _apply, fn
    return _apply_cloudpickled, cloudpickle.dumps(fn)


def _check_workers(workers: int) -> int:
    if not isinstance(workers, int) or workers < 1:
        raise ExecutorInputError(
            "workers", workers, "must be a positive integer", "pass e.g. --workers 2"
        )
    return workers


class ProcessExecutor(_Closing):
    """A pool of `workers` spawned processes (`concurrent.futures`), created lazily."""

    name = "process"

    def __init__(self, workers: int = 2) -> None:
        self.workers = _check_workers(workers)
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return self._pool

    def map(self, fn, tasks, on_done=None):
        tasks = list(tasks)
        if not tasks:
            return []
        pool = self._ensure()
        call, payload = _portable(fn)
        futures = [pool.submit(call, payload, t) for t in tasks]
        index = {f: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(tasks)
        try:
            for fut in as_completed(futures):
                out[index[fut]] = fut.result()
                if on_done is not None:
                    on_done()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(workers={self.workers})"


class DaskExecutor(_Closing):
    """Dask distributed: attach to `scheduler` or start a loopback `LocalCluster`.

    Arguments:
        scheduler: ``"tcp://HOST:PORT"`` of a running scheduler, or `None` to start a
            `LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)` bound to
            127.0.0.1 (no dashboard).
        workers: number of worker processes of the local cluster (ignored when attaching).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 2) -> None:
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
            self.client = Client(scheduler)
        else:
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            self.client = Client(self.cluster)

    def map(self, fn, tasks, on_done=None):
        from distributed import as_completed as dask_as_completed

        tasks = list(tasks)
        if not tasks:
            return []
        futures = self.client.map(fn, tasks, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        out: list[Any] = [None] * len(tasks)
        try:
            for fut in dask_as_completed(futures):
                out[index[fut.key]] = fut.result()
                if on_done is not None:
                    on_done()
        finally:
            for f in futures:
                f.release()
        return out

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __repr__(self) -> str:
        where = self.scheduler or f"LocalCluster(n_workers={self.workers})"
        return f"DaskExecutor({where})"


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
