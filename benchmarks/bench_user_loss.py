"""Benchmark: per-sample gradients of a user loss for P paths x b samples (theory.user_loss).

Logistic regression on the shipped breast-cancer data (n = 569, d = 30, standardised),
P = 1000 paths, b = 8. Compared, in the same run:

* baseline: the hand-written `numerics.problems.LogisticL2.sample_grads`;
* `UserLossProblem.sample_grads` on the GLM fast path ($\\varphi'(a^T x, b) a + c x$);
* the generic lambdified path (all d gradient components compiled by `sympy.lambdify`, CSE on),
  forced by clearing the detected GLM structure (benchmark only);
* one-off costs: building `UserLoss` (parse + differentiate + lambdify) and `analyse_loss`.

Run: `PYTHONPATH=. python benchmarks/bench_user_loss.py`
"""

from __future__ import annotations

import copy
import time

import numpy as np

from numerics.problems import LogisticL2
from numerics.user_problem import UserLossProblem
from theory.user_loss import UserLoss, analyse_loss
from verify.usercheck import DataSpec, load_dataset


def best_of(fun, repeat: int = 30) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fun()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ds = load_dataset(
        DataSpec(path="@breast_cancer", label="target", label_map={0: -1, 1: 1}, standardize=True)
    )
    A, y = ds.A, ds.y
    lam = 0.01
    P, b = 1000, 8
    rng = np.random.default_rng(0)
    X = rng.normal(size=(P, ds.d)) * 0.1
    idx = rng.integers(0, ds.n, size=(P, b))

    t = time.perf_counter()
    loss = UserLoss("softplus(-b*dot(a, x)) + lam/2*norm2(x)", ds.d, {"lam": lam})
    t_build = time.perf_counter() - t
    t = time.perf_counter()
    an = analyse_loss(loss, A, y, D=1.0)
    t_analyse = time.perf_counter() - t

    base = LogisticL2(A, y, lam)
    user = UserLossProblem(loss, A, y)
    generic_loss = copy.copy(loss)
    generic_loss.glm = None  # force the component-wise lambdified path
    generic = UserLossProblem(generic_loss, A, y)

    ref = base.sample_grads(X, idx)
    for prob in (user, generic):
        err = np.max(np.abs(prob.sample_grads(X, idx) - ref))
        assert err < 1e-12, err

    t_base = best_of(lambda: base.sample_grads(X, idx))
    t_user = best_of(lambda: user.sample_grads(X, idx))
    t_gen = best_of(lambda: generic.sample_grads(X, idx))
    print(f"n={ds.n} d={ds.d} P={P} b={b}")
    print(f"build UserLoss: {t_build:.3f} s; analyse_loss: {t_analyse:.3f} s")
    print(f"certified L = {an.L.value:.6f}, mu = {an.mu.value:.6f}")
    print(f"||grad F(x*)|| = {an.grad_norm:.2e}")
    print(f"baseline LogisticL2.sample_grads: {t_base * 1e3:.2f} ms")
    print(f"UserLossProblem (GLM path):      {t_user * 1e3:.2f} ms  ratio {t_user / t_base:.2f}")
    print(f"UserLossProblem (generic path):  {t_gen * 1e3:.2f} ms  ratio {t_gen / t_base:.2f}")


if __name__ == "__main__":
    main()
