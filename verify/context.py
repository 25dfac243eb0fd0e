"""The run context handed to every check: profile, level, randomness, executor, output.

Randomness (ARCHITECTURE "Randomness"): a check's stream is
`SeedSequence(entropy=global_seed, spawn_key=(stable_id_key(check_id),))`, a function of the
global seed and the check id only. Running a subset (`--only`) or a different order
therefore does not change any check's numbers. Inside a check, work is split into tasks that
carry their own child `SeedSequence` (`RunContext.seed(name)`, `RunContext.spawn`,
`RunContext.map_seeded`), so the numbers do not depend on the executor either.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from theory.errors import InputError
from verify.executor import Executor, SerialExecutor

__all__ = ["PROFILES", "ContextInputError", "RunContext", "check_seed_sequence", "stable_id_key"]

PROFILES = ("quick", "full")

#: progress(done, total): called by checks as work completes.
ProgressCallback = Callable[[int, int], None]


class ContextInputError(InputError):
    """Bad run settings (profile, alpha, seed)."""


def stable_id_key(check_id: str) -> int:
    """A 64-bit integer from a check id, stable across Python runs (no `hash()` salt)."""
    return int.from_bytes(hashlib.sha256(check_id.encode("utf-8")).digest()[:8], "little")


def check_seed_sequence(global_seed: int, check_id: str) -> np.random.SeedSequence:
    """The check's own `SeedSequence`, derived from `(global_seed, check_id)` only."""
    if not isinstance(global_seed, (int, np.integer)) or global_seed < 0:
        raise ContextInputError(
            "seed", global_seed, "must be a non-negative integer", "pass e.g. --seed 12345"
        )
    return np.random.SeedSequence(entropy=int(global_seed), spawn_key=(stable_id_key(check_id),))


def _no_progress(done: int, total: int) -> None:
    return None


@dataclass
class RunContext:
    """What a check may use while it runs.

    Arguments:
        check_id: id of the check this context belongs to.
        profile: ``"quick"`` (CI-sized) or ``"full"``.
        alpha: level of every one-sided confidence bound (default 0.05).
        global_seed: the run's seed; `seed_sequence` is derived from it and `check_id`.
        executor: where `map`/`map_seeded` run tasks (serial by default).
        out_dir: folder for this check's plots (created on demand by `plot_path`; `None`:
            a temporary folder on first use, and `from_grid`/`from_rate` draw no automatic
            plot).
        progress: callback `progress(done, total)`.
        params: the profile's parameter set of the check (filled by the runner), with any
            overrides applied.
    """

    check_id: str
    profile: str = "quick"
    alpha: float = 0.05
    global_seed: int = 12345
    executor: Executor = field(default_factory=SerialExecutor)
    out_dir: Path | None = None
    progress: ProgressCallback = _no_progress
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ContextInputError(
                "profile", self.profile, "unknown profile", f"use one of {PROFILES}"
            )
        if not (0.0 < float(self.alpha) < 0.5):
            raise ContextInputError(
                "alpha", self.alpha, "must lie in (0, 0.5)", "use e.g. alpha=0.05"
            )
        self.seed_sequence = check_seed_sequence(self.global_seed, self.check_id)

    def seed(self, name: str) -> np.random.SeedSequence:
        """A named, stateless child of the check's stream: the same `name` always gives the
        same `SeedSequence`, different names give independent ones, and call order does not
        matter. Prefer this for each simulation of a check, e.g.
        ``numerics.rng.run_chunked(fn, ctx.seed("calibration"), paths, map_fn=ctx.map)``
        (`ctx.map` has the `map_fn(fn, chunks)` signature numerics expects).
        Do not pass `seed_sequence` itself to two simulations: they would share randomness.
        """
        ss = self.seed_sequence
        return np.random.SeedSequence(
            ss.entropy, spawn_key=(*ss.spawn_key, stable_id_key(name)), pool_size=ss.pool_size
        )

    def rng(self) -> np.random.Generator:
        """A generator on the check's own stream (use `spawn` for parallel work)."""
        return np.random.default_rng(self.seed_sequence.spawn(1)[0])

    def spawn(self, n: int) -> list[np.random.SeedSequence]:
        """`n` child seed sequences. Each call returns fresh, distinct children (stateful:
        the numbers depend on the order of calls within the check; `seed(name)` does not)."""
        return self.seed_sequence.spawn(n)

    def map(self, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> list[Any]:
        """`executor.map(fn, tasks)` in task order, reporting progress per task."""
        total = len(tasks)
        done = [0]

        def tick() -> None:
            done[0] += 1
            self.progress(done[0], total)

        return self.executor.map(fn, list(tasks), on_done=tick)

    def map_seeded(self, fn: Callable[[Any, np.random.SeedSequence], Any], args: Sequence[Any]):
        """Run `fn(arg, seed)` for each arg, each with its own spawned `SeedSequence`.

        The i-th task's seed depends only on the check's stream and i, so the results are
        identical on every executor.
        """
        seeds = self.spawn(len(args))
        return self.map(_SeededCall(fn), list(zip(args, seeds)))

    def plot_path(self, name: str) -> Path:
        """Absolute path for a plot file of this check, e.g.
        ``<out_dir>/R6-as-stated_band.png`` (`out_dir` defaults to a fresh temporary folder)."""
        if self.out_dir is None:  # no run folder: a private temporary folder, kept
            import tempfile

            self.out_dir = Path(tempfile.mkdtemp(prefix=f"sdde-verify-{self.check_id}-"))
        # absolute: the path is recorded in the result, and a relative one would be read
        # against whatever the working directory is when the report is published
        base = Path(self.out_dir).expanduser().absolute()
        base.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{self.check_id}_{name}")
        return base / (safe if safe.endswith(".png") else safe + ".png")


class _SeededCall:
    """Picklable adaptor `(arg, seed) -> fn(arg, seed)`."""

    def __init__(self, fn: Callable[[Any, np.random.SeedSequence], Any]) -> None:
        self.fn = fn

    def __call__(self, task: tuple[Any, np.random.SeedSequence]) -> Any:
        arg, seed = task
        return self.fn(arg, seed)
