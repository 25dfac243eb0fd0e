"""Tests of theory.user_loss and numerics.user_problem against independent references.

References: central finite differences (gradients, Hessians); closed forms written out by hand
with NumPy (least-squares and logistic gradients, Hessians, Sigma); numpy.linalg (eigenvalues
of A^T A/n, lstsq for x*); exact extrema of one-variable functions (sup sigma' = 1/4 at 0,
inf of the Welsch phi'' = -2 e^{-3/2} at r^2 = 3); a brute-force loop over samples.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy

from theory.errors import InputError
from theory.safe_parse import LossSpecError, sigmoid
from theory.user_loss import UserLoss, analyse_loss, bound_on_interval, minimise, mp_grad_norm

LOGISTIC = "softplus(-b*dot(a, x)) + lam/2*norm2(x)"
LSQ = "(dot(a, x) - b)**2/2"
WELSCH = "1 - exp(-(dot(a, x) - b)**2/(2*c**2))"
HINGE = "maximum(0, 1 - b*dot(a, x)) + lam/2*norm2(x)"
NONGLM = "softplus(-b*dot(a, x)) + sum(x**4)/4 + sum(sin(a*x))"


def data(n=120, d=4, seed=0, labels="pm1"):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d)  # ill-conditioned a little
    y = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0) if labels == "pm1" else rng.normal(size=n)
    return A, y


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# ------------------------------------------------------------------ derivatives
@pytest.mark.parametrize("expr", [LOGISTIC, LSQ, WELSCH, NONGLM])
def test_gradient_matches_central_differences(expr):
    A, y = data()
    loss = UserLoss(expr, 4, {"lam": 0.3, "c": 0.7})
    rng = np.random.default_rng(1)
    h = 1e-6
    for _ in range(3):
        x = rng.normal(size=4)
        g = loss.per_sample_gradients(x, A, y)  # (n, d)
        for j in range(4):
            e = np.zeros(4)
            e[j] = h
            fd = (loss.per_sample_losses(x + e, A, y) - loss.per_sample_losses(x - e, A, y)) / (
                2 * h
            )
            # central difference error O(h^2 f''') plus rounding O(eps |f| / h)
            np.testing.assert_allclose(g[:, j], fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("expr", [LOGISTIC, WELSCH, NONGLM])
def test_hessian_of_F_matches_differences_of_gradient(expr):
    A, y = data()
    loss = UserLoss(expr, 4, {"lam": 0.3, "c": 0.7})
    x = np.random.default_rng(2).normal(size=4)
    h = 1e-5
    H = loss.hess_F(x, A, y)
    fd = np.array(
        [(loss.grad_F(x + h * e, A, y) - loss.grad_F(x - h * e, A, y)) / (2 * h) for e in np.eye(4)]
    )
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, atol=1e-14)


def test_symbolic_hessian_and_closed_form_logistic_gradient():
    loss = UserLoss(LOGISTIC, 2, {"lam": 0.5})
    x1, x2 = loss.x
    a1, a2 = loss.a
    b = loss.b
    # d/dx_1 [log(1 + exp(-b a.x))] = -b a_1 sigma(-b a.x)
    expected = -b * a1 * sigmoid(-b * (a1 * x1 + a2 * x2)) + sympy.Rational(1, 2) * x1
    assert sympy.simplify(loss.grad[0] - expected) == 0
    H = loss.hessian()
    assert H.shape == (2, 2) and sympy.simplify(H[0, 1] - H[1, 0]) == 0


def test_per_sample_gradients_vectorised_over_paths_and_batch():
    A, y = data(n=50, d=3)
    loss = UserLoss(LOGISTIC, 3, {"lam": 0.1})
    rng = np.random.default_rng(3)
    P, m = 7, 5
    X = rng.normal(size=(P, 3))
    idx = rng.integers(0, 50, size=(P, m))
    G = loss.per_sample_gradients(X, A[idx], y[idx])
    assert G.shape == (P, m, 3)
    for p in range(P):
        for k in range(m):
            a, b = A[idx[p, k]], y[idx[p, k]]
            ref = -b * sig(-b * a @ X[p]) * a + 0.1 * X[p]  # closed form
            np.testing.assert_allclose(G[p, k], ref, rtol=1e-13, atol=1e-15)
    nonglm = UserLoss(NONGLM, 3)
    G2 = nonglm.per_sample_gradients(X, A[idx], y[idx])
    ref2 = np.stack([nonglm.per_sample_gradients(X[p], A[idx[p]], y[idx[p]]) for p in range(P)])
    np.testing.assert_allclose(G2, ref2, rtol=1e-14)


# ------------------------------------------------------------------ structure
@pytest.mark.parametrize(
    ("expr", "c", "phi"),
    [
        (LOGISTIC, 0.25, "softplus(-b*z)"),
        (LSQ, 0, "(z - b)**2/2"),
        ("(b - sum(a*x))**2/2 + 3*norm2(x)", 6, "(z - b)**2/2"),
        (HINGE, 0.25, "Max(0, 1 - b*z)"),
    ],
)
def test_glm_structure_detected_with_exact_ridge(expr, c, phi):
    loss = UserLoss(expr, 3, {"lam": 0.25})
    assert loss.glm is not None
    z, b = loss.glm.z, loss.glm.b
    assert loss.glm.c == sympy.nsimplify(c)
    ref = sympy.sympify(phi, locals={"z": z, "b": b, "softplus": type(loss.glm.phi)})
    if "softplus" in phi:
        ref = loss.glm.phi.func(-b * z)
    assert sympy.simplify(loss.glm.phi.rewrite(sympy.Max) - ref) == 0


@pytest.mark.parametrize(
    ("expr", "margin"),
    [(LOGISTIC, True), (HINGE, True), ("exp(-b*dot(a, x))", True), (LSQ, False), (WELSCH, False)],
)
def test_margin_losses_detected(expr, margin):
    assert UserLoss(expr, 2, {"lam": 0.1, "c": 1.0}).glm.margin is margin


@pytest.mark.parametrize("expr", [NONGLM, "dot(a, x)**2 * b + sum(x)", "exp(x_1) + 0*b"])
def test_non_glm_losses_are_not_misdetected(expr):
    if "x_1" in expr:
        with pytest.raises(LossSpecError):
            UserLoss(expr, 3)
        return
    assert UserLoss(expr, 3).glm is None


def test_bad_constants_rejected():
    with pytest.raises(InputError, match="reserved"):
        UserLoss(LSQ, 2, {"b": 1.0})
    with pytest.raises(InputError, match="finite"):
        UserLoss(LOGISTIC, 2, {"lam": math.inf})
    with pytest.raises(InputError, match="number"):
        UserLoss(LOGISTIC, 2, {"lam": "0.1"})  # type: ignore[dict-item]


# ------------------------------------------------------------------ interval bounds
def test_interval_sup_of_logistic_curvature_is_one_quarter():
    from mpmath import iv

    z = sympy.Symbol("z", real=True)
    expr = sigmoid(z) * (1 - sigmoid(z))
    prec_before = iv.prec
    attained, bound = bound_on_interval(expr, z, -math.inf, math.inf, maximise=True)
    assert iv.prec == prec_before  # the global interval context is restored
    assert attained <= 0.25 <= bound
    assert bound - 0.25 <= 1e-6 * 1.0 + 1e-15  # rtol 1e-6 of max(1, |sup|)
    att_inf, bound_inf = bound_on_interval(expr, z, -math.inf, math.inf, maximise=False)
    assert bound_inf <= 0.0 <= att_inf and att_inf < 1e-20  # inf is 0 (not attained)


def test_interval_inf_of_welsch_curvature():
    r = sympy.Symbol("z", real=True)
    expr = (1 - r**2) * sympy.exp(-(r**2) / 2)
    exact = -2 * math.exp(-1.5)  # at r^2 = 3
    attained, bound = bound_on_interval(expr, r, -10.0, 10.0, maximise=False)
    assert bound <= exact <= attained
    assert attained - bound <= 1e-6
    # on the whole line: the exponential-polynomial tail bound closes the infinite tails
    attained, bound = bound_on_interval(expr, r, -math.inf, math.inf, maximise=False)
    assert bound <= exact <= attained and attained - bound <= 1e-6
    # an unbounded function gets no finite bound: z^2 e^z on R
    assert bound_on_interval(r**2 * sympy.exp(r), r, -math.inf, math.inf)[1] == math.inf
    # sup on [-10, 10] is 1 at r = 0
    att, ub = bound_on_interval(expr, r, -10.0, 10.0, maximise=True)
    assert att <= 1.0 <= ub <= 1.0 + 1e-6


def test_interval_bound_of_polynomial_on_interval():
    z = sympy.Symbol("z", real=True)
    att, lb = bound_on_interval(z**2 - 1, z, -2.0, 3.0, maximise=False)
    assert lb <= -1.0 <= att and att - lb <= 1e-6
    att, ub = bound_on_interval(z**2 - 1, z, -2.0, 3.0, maximise=True)
    assert att <= 8.0 <= ub and ub - att <= 8e-6


# ------------------------------------------------------------------ constants, x*, Sigma
def test_least_squares_constants_are_exact_spectrum():
    A, _ = data(d=5)
    y = np.random.default_rng(4).normal(size=A.shape[0])
    loss = UserLoss(LSQ, 5)
    an = analyse_loss(loss, A, y, D=1.0)
    ev = np.linalg.eigvalsh(A.T @ A / A.shape[0])
    assert an.L.kind == "certified" and an.mu.kind == "certified"
    assert an.L.value == pytest.approx(ev[-1], rel=1e-10)
    assert an.mu.value == pytest.approx(ev[0], rel=1e-9)
    assert an.convexity.status == "certified-convex"
    x_ref = np.linalg.lstsq(A, y, rcond=None)[0]
    err = np.linalg.norm(an.x_star - x_ref)
    assert err <= 1e-10
    assert an.x_star_error is not None and an.grad_norm <= 1e-12
    # Sigma(x*) by a brute-force loop over samples with the closed-form gradient r_i a_i
    G = np.array([(A[i] @ x_ref - y[i]) * A[i] for i in range(A.shape[0])])
    Sig = np.zeros((5, 5))
    gbar = G.mean(axis=0)
    for g in G:
        Sig += np.outer(g - gbar, g - gbar) / A.shape[0]
    np.testing.assert_allclose(an.Sigma, Sig, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(an.A_tilde, A.T @ A / A.shape[0], rtol=1e-12)
    summary = json.loads(json.dumps(an.to_dict()))
    assert summary["quadratic"] is True and summary["L"]["kind"] == "certified"
    np.testing.assert_allclose(summary["Sigma"], Sig, rtol=1e-8, atol=1e-12)


def test_logistic_certified_L_mu_against_numpy():
    A, y = data(n=200, d=4)
    lam = 0.05
    loss = UserLoss(LOGISTIC, 4, {"lam": lam})
    an = analyse_loss(loss, A, y, D=2.0)
    n = A.shape[0]
    lmax = np.linalg.eigvalsh(A.T @ A)[-1]
    ref = lmax / (4 * n) + lam  # L <= lambda_max(A^T A)/(4n) + lam, sup sigma' = 1/4
    assert an.L.kind == "certified"
    assert ref * (1 - 1e-12) <= an.L.value <= ref + 1e-6 * lmax / n + 1e-12
    assert an.mu.value == pytest.approx(lam, abs=1e-12)  # inf phi'' = 0 on R
    # the true Hessians never exceed the certified L, and on the ball never go below mu_ball
    rng = np.random.default_rng(5)
    for _ in range(20):
        v = rng.normal(size=4)
        p = an.x_star + 2.0 * rng.uniform() * v / np.linalg.norm(v)
        ev = np.linalg.eigvalsh(loss.hess_F(p, A, y))
        assert ev[-1] <= an.L.value and ev[-1] <= an.L_ball.value
        assert ev[0] >= an.mu_ball.value - 1e-12
    assert an.mu_ball.value > lam  # curvature of the data term is positive on a bounded ball
    # A_tilde = A^T diag(sigma'(b a.x*)) A / n + lam I, written out
    s = sig(-y * (A @ an.x_star))
    ref_H = (A.T * (s * (1 - s))) @ A / n + lam * np.eye(4)
    np.testing.assert_allclose(an.A_tilde, ref_H, rtol=1e-12)


def test_logistic_x_star_certificate():
    A, y = data(n=150, d=3, seed=6)
    lam = 0.1
    loss = UserLoss(LOGISTIC, 3, {"lam": lam})
    an = analyse_loss(loss, A, y)
    assert an.grad_norm <= 1e-10
    # certificate from the 50-digit residual; agrees with the float64 residual to rounding
    assert an.x_star_error == pytest.approx(an.grad_norm / lam, rel=1e-3, abs=1e-14 / lam)
    exact = float(mp_grad_norm(loss, an.x_star, A, y))
    assert exact / lam <= an.x_star_error <= exact / lam * (1 + 1e-11)
    # 50-digit residual agrees with the float64 one to rounding level
    assert abs(float(mp_grad_norm(loss, an.x_star, A, y)) - an.grad_norm) <= 1e-13
    # the certificate ||x - x*|| <= ||grad F(x)||/mu holds at perturbed points too
    rng = np.random.default_rng(7)
    for _ in range(10):
        v = rng.normal(size=3) * 0.3
        xp = an.x_star + v
        gn = np.linalg.norm(loss.grad_F(xp, A, y))
        assert np.linalg.norm(v) <= gn / an.mu.value + an.x_star_error


def test_welsch_is_certified_nonconvex_with_witness():
    A, y = data(n=100, d=3, labels="normal")
    y = 3 * y  # large residuals: phi'' < 0 for |r| > c
    loss = UserLoss(WELSCH, 3, {"c": 0.5})
    an = analyse_loss(loss, A, y, D=1.0)
    assert an.convexity.status == "certified-nonconvex" and an.convexity.convex is False
    w = np.array(an.convexity.witness)
    # independent check of the witness: finite-difference Hessian of F has a negative eigenvalue
    h = 1e-5
    H = np.array(
        [(loss.grad_F(w + h * e, A, y) - loss.grad_F(w - h * e, A, y)) / (2 * h) for e in np.eye(3)]
    )
    assert np.linalg.eigvalsh((H + H.T) / 2)[0] < -1e-6
    assert an.mu_ball.value < 0 and an.mu_ball.kind == "certified"
    # phi''(r) = (1 - r^2/c^2) e^{-r^2/(2c^2)}/c^2 has sup 1/c^2 = 4 (at r = 0) on R
    lmax = np.linalg.eigvalsh(A.T @ A / A.shape[0])[-1]
    assert an.L.kind == "certified"
    assert 4 * lmax * (1 - 1e-12) <= an.L.value <= 4 * lmax * (1 + 1e-5)


def test_hinge_is_flagged_nonsmooth():
    A, y = data(n=80, d=3)
    loss = UserLoss(HINGE, 3, {"lam": 0.1})
    assert not loss.smooth and loss.parsed.nonsmooth == {"maximum"}
    an = analyse_loss(loss, A, y)
    assert an.smooth is False
    assert an.L.kind == "unavailable" and math.isinf(an.L.value)
    assert an.A_tilde is None
    assert np.all(np.isfinite(an.x_star))


def test_non_glm_constants_are_labelled_estimates():
    A, y = data(n=60, d=3)
    loss = UserLoss(NONGLM, 3)
    an = analyse_loss(loss, A, y, D=0.5)
    assert an.L.kind == "estimate" and an.mu.kind == "estimate"
    assert an.x_star_error is None
    ev = np.linalg.eigvalsh(loss.hess_F(an.x_star, A, y))
    assert an.L.value >= ev[-1] - 1e-12 and an.mu.value <= ev[0] + 1e-12


def test_minimise_rejects_bad_data():
    loss = UserLoss(LSQ, 2)
    with pytest.raises(InputError):
        minimise(loss, np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(InputError):
        minimise(loss, np.array([[np.nan, 1.0]]), np.zeros(1))
    with pytest.raises(InputError):
        minimise(loss, np.zeros((0, 2)), np.zeros(0))


# ------------------------------------------------------------------ numerics.UserLossProblem
def test_user_problem_matches_hand_written_least_squares():
    from numerics.user_problem import UserLossProblem

    A, _ = data(n=90, d=4)
    y = np.random.default_rng(8).normal(size=90)
    prob = UserLossProblem(UserLoss(LSQ, 4), A, y)
    rng = np.random.default_rng(9)
    X = rng.normal(size=(6, 4))
    idx = rng.integers(0, 90, size=(6, 3))
    ref = (np.einsum("pbd,pd->pb", A[idx], X) - y[idx])[..., None] * A[idx]
    np.testing.assert_allclose(prob.sample_grads(X, idx), ref, rtol=1e-13)
    np.testing.assert_allclose(prob.grad(X), (X @ A.T - y) @ A / 90, rtol=1e-12)
    np.testing.assert_allclose(prob.F(X), 0.5 * np.mean((X @ A.T - y) ** 2, axis=1), rtol=1e-13)
    np.testing.assert_allclose(prob.x_star, np.linalg.lstsq(A, y, rcond=None)[0], atol=1e-10)
    assert prob.L == pytest.approx(np.linalg.eigvalsh(A.T @ A / 90)[-1], rel=1e-10)
    np.testing.assert_allclose(prob.hessian(prob.x_star), A.T @ A / 90, rtol=1e-12)
    g = prob.minibatch_grad(X, idx)
    np.testing.assert_allclose(g, ref.mean(axis=1), rtol=1e-13)


def test_label_interval_fallback_still_bounds_the_hessian():
    # phi''(z, b) = b^2 exp(b z) is not a function of z - s b: labels enter as intervals
    rng = np.random.default_rng(10)
    A = rng.normal(size=(40, 2))
    y = rng.uniform(-0.5, 0.5, size=40)  # 40 distinct labels > 16
    loss = UserLoss("exp(b*dot(a, x)) + norm2(x)/2", 2)
    assert loss.glm is not None
    an = analyse_loss(loss, A, y, D=1.0)
    assert an.L_ball.kind == "certified" and math.isfinite(an.L_ball.value)
    for _ in range(30):
        v = rng.normal(size=2)
        p = an.x_star + rng.uniform() * v / np.linalg.norm(v)
        ev = np.linalg.eigvalsh(loss.hess_F(p, A, y))
        assert an.mu_ball.value <= ev[0] and ev[-1] <= an.L_ball.value
