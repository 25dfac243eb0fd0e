"""SDDE Eq. (6) / linear SDDE: metamorphic tests and the Küchler–Mensch variance (SPEC §4)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from numerics.delays import ConstantDelay, NoDelay, RandomDelay
from numerics.problems import LeastSquares, TwoPoint
from numerics.schedules import InverseK
from numerics.sdde import simulate_linear_sdde, simulate_sdde, simulate_sde


def test_theta_zero_sdde_equals_sde_and_l0_equals_no_delay():
    p = TwoPoint()
    kw = dict(eta=0.01, K=300, paths=40, seed=4, x0=[2.0], chunk_size=16)
    a = simulate_sdde(p, delay=ConstantDelay(0), **kw)
    b = simulate_sde(p, **kw)
    c = simulate_sdde(p, delay=NoDelay(), **kw)
    d = simulate_sdde(p, delay=RandomDelay(0), **kw)
    assert np.array_equal(a.x_final, b.x_final) and np.array_equal(a.x_final, c.x_final)
    assert np.array_equal(a.x_final, d.x_final)


@pytest.mark.parametrize("schedule", [None, InverseK()])
def test_zero_noise_scheme_is_delayed_gradient_descent(schedule):
    """EM of (6) with step delta: x_{k+1} = x_k - eta U(k delta) grad F(x_{k-l}) (Eq. (5), z=0)."""
    rng = np.random.default_rng(0)
    A, y = rng.standard_normal((8, 2)), rng.standard_normal(8)
    p = LeastSquares(A, y)
    eta, delta, K, l = 0.2, 0.05, 40, 3
    res = simulate_sdde(
        p,
        eta=eta,
        delta=delta,
        K=K,
        paths=3,
        seed=0,
        x0=[1.0, 1.0],
        delay=ConstantDelay(l),
        schedule=schedule,
        noise=False,
    )
    k0 = 0 if schedule is None else 1
    hist = [np.array([1.0, 1.0])]
    for j in range(K):
        u = 1.0 if schedule is None else 1.0 / (k0 + j)
        xd = hist[-1 - min(l, j)]
        hist.append(hist[-1] - eta * u * A.T @ (A @ xd - y) / 8)
    np.testing.assert_allclose(res.x_final, np.array([hist[-1]] * 3), rtol=1e-12)
    assert res.times[-1] == pytest.approx((k0 + K) * delta)


def test_fine_solution_zero_noise_matches_closed_form():
    """dX = -a X dt (no delay), m substeps: fine = (1 - a delta/m)^{mK} x0, coarse m = 1."""
    a, delta, K, m = 1.5, 0.1, 20, 8
    r = simulate_linear_sdde(
        a, 0.0, tau=0.0, delta=delta, K=K, paths=2, seed=0, x0=[1.0], substeps=m
    )
    assert r.x_final[0, 0] == pytest.approx((1 - a * delta) ** K, rel=1e-12)
    assert r.X_fine[0, 0] == pytest.approx((1 - a * delta / m) ** (m * K), rel=1e-12)


def test_scheme_and_fine_share_the_brownian_path():
    """A = 0: X(t) = x0 + s B(t) exactly for both grids, so scheme == fine (to rounding) and
    sum X^2 / (s^2 T) ~ chi2_P exactly (99.9% two-sided)."""
    s, delta, K, m, P = 0.7, 0.05, 40, 5, 4000
    r = simulate_linear_sdde(
        0.0, s, tau=0.2, delta=delta, K=K, paths=P, seed=8, substeps=m, record_every=10
    )
    np.testing.assert_allclose(r.x_final, r.X_fine, atol=1e-12)
    np.testing.assert_allclose(r.trajectory, r.fine_trajectory, atol=1e-12)
    ss = np.sum(r.X_fine**2) / (s * s * K * delta)
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], P)
    assert lo <= ss <= hi


def _scheme_variance(a, l, delta, K, s):
    """Exact variance of the EM scheme x_{k+1} = x_k - a delta x_{k-l} + s sqrt(delta) z_k
    started from 0: s^2 delta sum_{i<K} gamma_i^2, gamma the discrete fundamental solution."""
    g = np.zeros(K + l + 1)
    g[l] = 1.0
    for i in range(K - 1):
        g[l + i + 1] = g[l + i] - a * delta * g[i]
    return s * s * delta * np.sum(g[l:] ** 2)


@pytest.mark.parametrize(
    ("a_tau", "delta", "T", "P"),
    [(0.1, 0.01, 10.0, 20000), (0.8, 0.01, 30.0, 20000), (1.4, 0.005, 100.0, 4000)],
)
def test_kuchler_mensch_stationary_variance(a_tau, delta, T, P):
    """dX = -a X(t - tau) dt + s dW, a = 1: Var -> s^2 (1 + sin a tau) / (2 a cos a tau)
    (Küchler & Mensch 1992). Estimator sum X_T^2 / P (mean exactly 0); since X_T is exactly
    Gaussian, P * est / Var ~ chi2_P: exact two-sided 99.9% interval. The total bias
    (discretisation + finite T) is computed exactly from the scheme's law (_scheme_variance)
    and must be below a quarter of the interval half-width, so a PASS is about the formula."""
    a, s = 1.0, 1.3
    l = round(a_tau / delta)
    K = round(T / delta)
    km = s * s * (1 + np.sin(a_tau)) / (2 * a * np.cos(a_tau))
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], P) / P  # est/Var within [lo, hi]
    half_width_rel = (hi - lo) / 2
    bias_rel = abs(_scheme_variance(a, l, delta, K, s) - km) / km
    assert bias_rel < half_width_rel / 4
    r = simulate_linear_sdde(a, s, tau=l * delta, delta=delta, K=K, paths=P, seed=2024)
    est = np.mean(r.x_final[:, 0] ** 2)
    assert lo <= est / km <= hi


# ----- couplings (SPEC §3) -------------------------------------------------------------------
def test_quantile_coupling_two_point_is_comonotone_with_exact_marginals():
    """TwoPoint, b = 1, one step from x0: ASGD noise is -eta s_i (s = ±1), the scheme's is
    eta z. Coupling (b) must give sign(z) = -s_i on every path, z ~ N(0, 1) (KS, alpha = 1e-3)
    and P(s = +1) = 1/2 (exact binomial two-sided 99.9% interval)."""
    from numerics.coupling import simulate_coupled

    eta, P = 0.1, 20000
    r = simulate_coupled(TwoPoint(), eta=eta, K=1, paths=P, seed=5, x0=[0.5], coupling="quantile")
    base = (1 - eta) * 0.5
    s = -(r.x_asgd[:, 0] - base) / eta
    z = (r.x_scheme[:, 0] - base) / eta
    np.testing.assert_allclose(np.abs(s), 1.0, atol=1e-12)
    assert np.all(np.sign(z) == -np.sign(s))
    assert stats.kstest(z, "norm").pvalue > 1e-3
    lo, hi = stats.binom.ppf([0.0005, 0.9995], P, 0.5)
    assert lo <= np.sum(s > 0) <= hi
    ind = simulate_coupled(
        TwoPoint(), eta=eta, K=1, paths=P, seed=5, x0=[0.5], coupling="independent"
    )
    zi = (ind.x_scheme[:, 0] - base) / eta
    si = -(ind.x_asgd[:, 0] - base) / eta
    # independent: correlation within a 99.9% band around 0 (|r| < 3.29/sqrt(P))
    assert abs(np.corrcoef(zi, si)[0, 1]) < 3.29 / np.sqrt(P)


def test_quantile_coupling_is_exact_for_gaussian_noise_and_fine_matches_scheme_at_m1():
    from numerics.coupling import simulate_coupled
    from numerics.problems import Quadratic

    q = Quadratic([[2.0, 0.3], [0.3, 1.0]], [1.0, 0.0], [[0.5, 0.1], [0.1, 0.2]])
    r = simulate_coupled(q, eta=0.01, K=200, paths=100, seed=1, b=2, delay=RandomDelay(3))
    np.testing.assert_allclose(r.x_asgd, r.x_scheme, atol=1e-12)
    assert np.array_equal(r.X_fine, r.x_scheme)


def test_coupled_scheme_matches_sdde_law_and_fine_converges():
    """The coupled scheme on TwoPoint (l = 0, sigma = 1) has Var exactly
    eta^2 (1 - (1-eta)^{2K}) / (1 - (1-eta)^2): chi-square 99.9% interval. The fine X
    with m = 8 must be closer to the scheme than the ASGD iterates are (shared B)."""
    from numerics.coupling import simulate_coupled

    eta, K, P = 0.05, 100, 8000
    r = simulate_coupled(TwoPoint(), eta=eta, K=K, paths=P, seed=3, substeps=8)
    v = eta**2 * (1 - (1 - eta) ** (2 * K)) / (1 - (1 - eta) ** 2)
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], P)
    assert lo <= np.sum(r.x_scheme**2) / v <= hi
    e = r.errors()
    assert e["fine_scheme"].mean() < 0.5 * e["scheme_asgd"].mean()


def test_random_delay_sdde_zero_noise_follows_returned_delays_and_xi():
    """Noise-free scheme with i.i.d. delays and a given xi vs a loop reading the reported l_k."""
    rng = np.random.default_rng(1)
    A, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    p = LeastSquares(A, y)
    eta, delta, K, l = 0.3, 0.1, 30, 4

    def xi(s):
        return np.array([1.0 + s, -s])

    res = simulate_sdde(
        p,
        eta=eta,
        delta=delta,
        K=K,
        paths=5,
        seed=2,
        xi=xi,
        noise=False,
        delay=RandomDelay(l),
        return_delays=True,
    )
    for q in range(5):
        hist = [xi(-j * delta) for j in range(l, -1, -1)]
        for k in range(K):
            hist.append(hist[-1] - eta * A.T @ (A @ hist[-1 - res.delays[k, q]] - y) / 6)
        np.testing.assert_allclose(res.x_final[q], hist[-1], rtol=1e-12, atol=1e-14)
    assert res.delays.max() == l  # no cap when xi is given


def test_state_dependent_sigma_equals_constant_when_Sigma_is_constant():
    kw = dict(eta=0.05, K=50, paths=20, seed=6, x0=[1.0], delay=ConstantDelay(2), substeps=2)
    a = simulate_sdde(TwoPoint(), sigma_at="state", **kw)
    b = simulate_sdde(TwoPoint(), **kw)
    np.testing.assert_allclose(a.X_fine, b.X_fine, rtol=1e-12)


def test_sdde_divergence_reported_and_other_paths_continue():
    """dX = -a X dt with a delta = 3, no delay, no noise: x_{k+1} = -2 x_k exactly, so the
    path from x0 = 1 overflows at step 1024 and from 2^-5 at 1029; x0 = 0 stays 0."""
    x0 = np.array([[1.0], [0.0], [2.0**-5]])
    r = simulate_linear_sdde(
        3.0, 0.0, tau=0.0, delta=1.0, K=1100, paths=3, seed=0, x0=x0, substeps=1
    )
    assert r.diverged_from_step.tolist() == [1024, -1, 1029]
    assert r.diverged_paths.tolist() == [0, 2] and r.x_final[1, 0] == 0.0


def _diff_variance(a, s, delta, K, m):
    """Exact Var(x~_K - X_fine(t_K)) for dX = -a X dt + s dB from 0 (no delay), coarse EM
    step delta and fine EM step h = delta/m on the same Brownian path: the difference is
    s sum_i c_i dW_i with c_i = (1 - a delta)^{K-1-k(i)} - (1 - a h)^{mK-1-i}."""
    h = delta / m
    i = np.arange(m * K)
    c = (1 - a * delta) ** (K - 1 - i // m) - (1 - a * h) ** (m * K - 1 - i)
    return s * s * h * np.sum(c * c)


def test_fine_and_coarse_share_brownian_path_exact_difference_law():
    """The coarse–fine difference is Gaussian with mean 0 and the exact variance above:
    sum D^2 / Var ~ chi2_P (99.9% two-sided), for the linear SDDE kernel and the coupling.
    An independent fine path would give Var(x~) + Var(X) instead — far outside the interval."""
    from numerics.coupling import simulate_coupled

    a, s, delta, K, m, P = 2.0, 0.5, 0.05, 40, 4, 6000
    lo, hi = stats.chi2.ppf([0.0005, 0.9995], P)
    r = simulate_linear_sdde(a, s, tau=0.0, delta=delta, K=K, paths=P, seed=12, substeps=m)
    v = _diff_variance(a, s, delta, K, m)
    assert lo <= np.sum((r.x_final - r.X_fine) ** 2) / v <= hi
    # coupled simulator on TwoPoint: a = eta/delta = 1, s = eta/sqrt(delta) sigma = sqrt(eta)
    eta = 0.05
    c = simulate_coupled(TwoPoint(), eta=eta, K=K, paths=P, seed=13, substeps=m)
    v = _diff_variance(1.0, np.sqrt(eta), eta, K, m)
    assert lo <= np.sum((c.x_scheme - c.X_fine) ** 2) / v <= hi


@pytest.mark.parametrize("delay_kind", ["constant", "random"])
def test_fine_solution_without_xi_reads_constant_x0_before_time_zero(delay_kind):
    """Default initial segment = constant x0 on [-tau, 0] for the fine solution too.

    Zero noise makes the simulated fine path deterministic per delay sequence; with a constant
    delay it must equal the exact EM mean of the fine scheme (an independent recursion in
    numerics.moments), and with a random delay both must agree with the same xi = x0 given
    explicitly. (Regression: the coarse footnote-2 cap min(l_k, k) was applied to the fine grid,
    which then read X(ih) instead of x0 inside the first tau.)"""
    from numerics.delays import ConstantDelay, RandomDelay
    from numerics.moments import sdde_em_moments_for
    from numerics.problems import Quadratic
    from numerics.sdde import simulate_sdde

    problem = Quadratic(np.diag([1.0, 4.0]), np.zeros(2), np.eye(2))
    x0 = np.array([1.0, -1.0])
    delay = ConstantDelay(3) if delay_kind == "constant" else RandomDelay(3)
    kw = dict(eta=0.2, K=12, paths=4, seed=3, x0=x0, delay=delay, noise=False, substeps=4)
    default = simulate_sdde(problem, **kw)
    explicit = simulate_sdde(problem, xi=lambda s: x0, **kw)
    np.testing.assert_array_equal(default.X_fine, explicit.X_fine)
    if delay_kind == "constant":
        exact = sdde_em_moments_for(
            problem, eta=0.2, K=12, delay=delay, noise=False, substeps=4, x0=x0
        )
        np.testing.assert_allclose(default.X_fine[0], exact.mean[-1], rtol=1e-12)


def test_coupled_fine_solution_matches_simulate_sdde_without_noise():
    """The coupled simulator's fine X (no xi, constant delay, zero noise) equals the exact
    fine-scheme mean from numerics.moments: the default initial segment is constant x0 on the
    fine grid as well (same regression as above, in numerics.coupling)."""
    from numerics.coupling import simulate_coupled
    from numerics.delays import ConstantDelay
    from numerics.moments import sdde_em_moments_for
    from numerics.problems import Quadratic

    problem = Quadratic(np.diag([1.0, 4.0]), np.zeros(2), np.zeros((2, 2)))
    x0 = np.array([1.0, -1.0])
    delay = ConstantDelay(3)
    res = simulate_coupled(problem, eta=0.2, K=12, paths=3, seed=5, x0=x0, delay=delay, substeps=4)
    exact = sdde_em_moments_for(problem, eta=0.2, K=12, delay=delay, noise=False, substeps=4, x0=x0)
    np.testing.assert_allclose(res.X_fine, np.broadcast_to(exact.mean[-1], (3, 2)), rtol=1e-12)
