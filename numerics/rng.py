"""Randomness contract: one `SeedSequence`, spawned per chunk of paths.

Work over `paths` is split into chunks of a fixed `chunk_size` (the last chunk may be shorter).
Chunk `j` uses the generator `Generator(PCG64(SeedSequence(seed).spawn(n_chunks)[j]))`, so the
output for a given `(seed, paths, chunk_size)` is bit-identical however the chunks are scheduled
(serially, in processes, in dask). The chunk size is part of the seed contract.

Bit generator: PCG64. Measured on this machine (2 cores, numpy 2.4, `standard_normal` into a
preallocated 10^6 array): PCG64 10.5 ms, Philox 11.9 ms per 10^6 normals — PCG64 is the faster
of the two for normals (Philox is a counter-based cipher with more work per 64-bit word; its
advantage, cheap random access / jumping, is not needed because every chunk gets its own
spawned stream).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from numerics.errors import PathsError, SeedError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Chunk",
    "as_seed_sequence",
    "chunk_generators",
    "chunks",
    "concatenate_chunks",
    "make_generator",
    "run_chunked",
]

#: Default number of paths per chunk (part of the seed contract; 2^14 keeps a (paths,) float64
#: vector in L2 cache).
DEFAULT_CHUNK_SIZE: int = 16384


@dataclass(frozen=True)
class Chunk:
    """One chunk of paths: its index `j`, the path slice `start:stop`, and its seed."""

    index: int
    start: int
    stop: int
    seed: np.random.SeedSequence

    @property
    def size(self) -> int:
        """Number of paths in this chunk."""
        return self.stop - self.start

    def generator(self) -> np.random.Generator:
        """A fresh `Generator(PCG64(seed))` for this chunk (same output on every call)."""
        return make_generator(self.seed)


def as_seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """Turn `seed` (non-negative int or `SeedSequence`) into a `SeedSequence`.

    Raises:
        SeedError: `seed` is not a non-negative int or a `SeedSequence`.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise SeedError(
            "seed", seed, "must be a non-negative int or numpy.random.SeedSequence", "pass e.g. 0"
        )
    if seed < 0:
        raise SeedError("seed", seed, "must be non-negative", "pass a non-negative int")
    return np.random.SeedSequence(int(seed))


def make_generator(seed: int | np.random.SeedSequence) -> np.random.Generator:
    """`numpy.random.Generator(PCG64(seed))` — the one bit generator used by the package."""
    return np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise PathsError(name, value, "must be a positive integer", f"pass an int {name} >= 1")
    if value < 1:
        raise PathsError(name, value, "must be >= 1", f"pass an int {name} >= 1")
    return int(value)


def chunks(
    seed: int | np.random.SeedSequence, paths: int, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> list[Chunk]:
    """Split `paths` into chunks of `chunk_size` with spawned seeds.

    `n_chunks = ceil(paths / chunk_size)`; chunk `j` covers paths
    `[j*chunk_size, min((j+1)*chunk_size, paths))` and has seed
    `as_seed_sequence(seed).spawn(n_chunks)[j]`.

    Note: `SeedSequence.spawn` is stateful (a second call on the same object continues the
    child counter). We therefore spawn from a *copy* rebuilt from `entropy`, `spawn_key` and
    `pool_size`, so calling this twice with the same `SeedSequence` gives the same chunks.

    Raises:
        PathsError: `paths` or `chunk_size` is not a positive integer.
        SeedError: invalid `seed`.
    """
    paths = _check_positive_int("paths", paths)
    chunk_size = _check_positive_int("chunk_size", chunk_size)
    ss = as_seed_sequence(seed)
    fresh = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size)
    n_chunks = -(-paths // chunk_size)
    children = fresh.spawn(n_chunks)
    return [
        Chunk(j, j * chunk_size, min((j + 1) * chunk_size, paths), children[j])
        for j in range(n_chunks)
    ]


def chunk_generators(
    seed: int | np.random.SeedSequence, paths: int, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Iterator[tuple[slice, np.random.Generator]]:
    """Yield `(path_slice, generator)` for every chunk, in order (see :func:`chunks`)."""
    for c in chunks(seed, paths, chunk_size):
        yield slice(c.start, c.stop), c.generator()


def concatenate_chunks(parts: Sequence[Any], axis: int = 0) -> Any:
    """Concatenate per-chunk outputs along the path axis.

    Each part is an array, a tuple/list of arrays (concatenated elementwise), a dict of arrays
    (concatenated per key) or `None` (kept as `None`). Path axis is `axis` for every array.
    """
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, dict):
        return {k: concatenate_chunks([p[k] for p in parts], axis) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(
            concatenate_chunks([p[i] for p in parts], axis) for i in range(len(first))
        )
    return np.concatenate([np.asarray(p) for p in parts], axis=axis)


def run_chunked(
    fn: Callable[[Chunk], Any],
    seed: int | np.random.SeedSequence,
    paths: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    map_fn: Callable[[Callable[[Chunk], Any], list[Chunk]], Any] | None = None,
    axis: int = 0,
) -> Any:
    """Run `fn(chunk)` for every chunk and concatenate the outputs along the path axis.

    Arguments:
        fn: per-chunk function; it must draw all its randomness from `chunk.generator()` and
            return arrays whose path axis (`axis`) has length `chunk.size` (or a tuple/dict of
            such arrays, see :func:`concatenate_chunks`).
        seed, paths, chunk_size: the seed contract (see :func:`chunks`).
        map_fn: how to schedule, e.g. `lambda f, cs: list(executor.map(f, cs))` for a process
            pool or dask `client.map` + `gather`; default serial `map`. It must return the
            outputs in chunk order. Output is bit-identical for every scheduler.
        axis: path axis of every output array.

    Returns:
        The concatenated output.
    """
    cs = chunks(seed, paths, chunk_size)
    results = list(map(fn, cs)) if map_fn is None else list(map_fn(fn, cs))
    return concatenate_chunks(results, axis=axis)
