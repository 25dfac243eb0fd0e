"""The claim statements (`theory.claims`) against an independent transcription of the paper.

Each right side is evaluated at a rational point and compared with the formula typed here
from the paper's display (equation or theorem named in each test). A statement that drifts
from the paper (a dropped term, a wrong constant) fails here, whatever the checks do with it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from theory import claims
from theory.claims import approx, thm41, thm42
from theory.claims.base import ClaimInputError
from theory.constants import thm41_constants


def test_registry_has_every_result_once():
    ids = [c.id for c in claims.all_claims()]
    assert len(ids) == len(set(ids))
    assert {"thm3.2", "cor3.3", "thm3.4", "thm4.1", "thm4.2", "cor4.3"} <= set(ids)
    with pytest.raises(ClaimInputError):
        claims.get("thm9.9")


def test_thm41_rhs_is_the_printed_display():
    # Thm 4.1: C5 e^{-2 lambda (t - tau)} + C6 eps / (lambda tau^2)
    v = dict(C5=2.0, C6=3.0, lam=0.5, tau=1.0, epsilon=0.1)
    want = 2.0 * math.exp(-2 * 0.5 * (3.0 - 1.0)) + 3.0 * 0.1 / (0.5 * 1.0)
    assert thm41.THM41.rhs(v, t=3.0) == pytest.approx(want, rel=1e-15)
    assert float(thm41.THM41.rhs_exact({**v, "t": 3.0})) == pytest.approx(want, rel=1e-15)


def test_thm41_proof_steps_are_the_printed_displays():
    v = dict(a1=2.0, a2=0.3, lam=0.25, t=2.0)
    assert thm41.MEAN.rhs(v) == pytest.approx(2.0 * math.exp(-0.5), rel=1e-15)
    assert thm41.VARIANCE.rhs(v) == pytest.approx(0.3 * (1 - math.exp(-1.0)), rel=1e-15)
    assert thm41.COMBINED.rhs(v) == pytest.approx(
        4.0 * math.exp(-1.0) + 0.3 * (1 - math.exp(-1.0)), rel=1e-15
    )
    # display (d): c^2/lam^2 [(xi^2 (|A| + lam)^2 + lam eta s) e^{2 lam tau}] e^{-2 lam t}
    #              + c^2 eta s / (2 lam)
    d = dict(c_lambda=1.5, xi_tilde=2.0, norm_A=0.8, sigma_sq=0.4, eta=0.1, lam=0.25, tau=0.5)
    want = 1.5**2 / 0.25**2 * (2.0**2 * (0.8 + 0.25) ** 2 + 0.25 * 0.1 * 0.4) * math.exp(
        2 * 0.25 * 0.5
    ) * math.exp(-2 * 0.25 * 2.0) + 1.5**2 * 0.1 * 0.4 / (2 * 0.25)
    assert thm41.INTERMEDIATE.rhs(d, t=2.0) == pytest.approx(want, rel=1e-14)


def test_thm41_constants_agree_with_their_float_evaluation():
    # the symbolic definitions of a1, a2, C5, C6 (claims) vs theory.constants (floats)
    A = np.diag([0.2, 1.0])
    c = thm41_constants(A, 0.7, 0.1, 0.05, 1.3, 0.9)  # V = -0.236 at tau = 0.7
    vals = {
        thm41.c_lambda: c.c_lambda.value,
        thm41.xi_tilde: 1.3,
        thm41.norm_A: 1.0,
        thm41.lam: 0.1,
        thm41.tau: 0.7,
        thm41.eta: 0.05 / 0.7**2,
        thm41.epsilon: 0.05,
        thm41.sigma_sq: 0.9,
    }
    for sym, mine in ((thm41.a1, c.a1), (thm41.a2, c.a2), (thm41.C5, c.C5), (thm41.C6, c.C6)):
        assert float(thm41.CONSTANTS[sym].subs(vals)) == pytest.approx(mine, rel=1e-13), sym


def test_thm41_last_step_is_an_identity_and_a_scaled_one_is_not():
    assert thm41.proof_final_difference() == 0
    assert thm41.proof_final_difference(sp.Rational(9, 10)) != 0


def test_thm42_rhs_is_the_printed_bound_and_cor43_drops_tau():
    # Thm 4.2: (delta+1)(H + 2 L^2 D^2 tau) ln t / ((t-1) mu^2)
    v = dict(delta=1.0, H=2.0, L=1.0, D=1.0, tau=1.0, mu=0.5)
    want = 2.0 * (2.0 + 2.0) * 1.0 / ((math.e - 1) * 0.25)
    assert thm42.THM42.rhs(v, t=math.e) == pytest.approx(want, rel=1e-15)
    # Cor 4.3: (delta+1) H ln t / ((t-1) mu^2), no tau anywhere
    assert "tau" not in thm42.COR43.symbols and thm42.COR43.fixed == {"tau": 0}
    assert thm42.COR43.rhs(v, t=math.e) == pytest.approx(2.0 * 2.0 / ((math.e - 1) * 0.25))
    assert "tau" not in thm42.COR43.domain.names()


def test_thm42_h_defaults_to_h_min_and_hypotheses():
    # SPEC §1: H = E tr(sigma sigma^T) + 2 mu L D^2
    p = dict(tr_sigma=0.5, mu=0.25, L=1.0, D=2.0, delta=1.0, tau=0.0)
    assert thm42.THM42.values(p)["H"] == pytest.approx(0.5 + 2 * 0.25 * 1.0 * 4.0)
    ok, _ = thm42.THM42.applicable({**p, "lambda_min": 0.25})
    assert ok
    bad, why = thm42.THM42.applicable({**p, "H": 0.1})
    assert not bad and "H >=" in why
    bad, why = thm42.THM42.applicable({**p, "lambda_min": 0.1})
    assert not bad and "strongly convex" in why
    bad, why = thm42.THM42.applicable({**p, "exit_ucb": 0.2, "eps_max": 0.05})
    assert not bad and "d(x0, D)" in why


def test_thm32_form_has_both_k_terms_and_the_delay_factor():
    # Thm 3.2: C1 (1/sqrt K + l/K^{3/2}) + C2 e^{L(l+1)} / (sqrt(b) (l+1))
    at = dict(K=16, l=3, b=4, L=0.5, e_K=-0.5, e_b=-0.5)
    phi1, phi2 = (t.evaluate(at) for t in approx.THM32.terms)
    assert phi1 == pytest.approx(16**-0.5 + 3 * 16**-1.5, rel=1e-15)
    assert phi2 == pytest.approx(math.exp(0.5 * 4) / (math.sqrt(4) * 4), rel=1e-15)
    assert approx.THM32.rhs({**at, "C1": 2.0, "C2": 3.0}) == pytest.approx(
        2.0 * phi1 + 3.0 * phi2, rel=1e-15
    )


def test_cor33_is_thm32_at_l0_and_thm34_has_no_delay_in_the_b_term():
    at = dict(K=16, b=4, L=0.5, e_K=-0.5, e_b=-0.5)
    phi1, phi2 = (t.evaluate(at) for t in approx.COR33.terms)
    assert phi1 == pytest.approx(0.25) and phi2 == pytest.approx(math.exp(0.5) / 2)
    at4 = {**at, "l": 3}
    psi1, psi2 = (t.evaluate(at4) for t in approx.THM34.terms)
    assert psi1 == pytest.approx(16**-0.5 + 3 * 16**-1.5)
    assert psi2 == pytest.approx(math.exp(0.5) / 2)


@pytest.mark.parametrize(
    ("claim", "factor"),
    [(approx.THM32, lambda l: l + 1), (approx.COR33, lambda l: 1), (approx.THM34, lambda l: l)],
)
def test_step_hypotheses_are_the_papers(claim, factor):
    # Thm 3.2: eta L (l+1) <= 1; Cor 3.3: eta L <= 1; Thm 3.4: eta L l <= 1; eta = 1/K
    l, L = 3, 1.0
    K_edge = int(L * factor(l))
    assert claim.applicable(dict(K=max(K_edge, 1), l=l, L=L))[0]
    if K_edge > 1:
        ok, why = claim.applicable(dict(K=K_edge - 1, l=l, L=L))
        assert not ok and "<= 1" in why


def test_specialise_substitutes_the_form_and_the_domain():
    c = approx.THM32.specialise("x", "X", l=0)
    assert "l" not in c.symbols and "l" not in c.domain.names()
    assert c.fixed == {"l": 0}
    assert sp.simplify(c.rhs_expr - approx.COR33.rhs_expr) == 0
