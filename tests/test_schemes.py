"""R1 tests: Euler–Maruyama step of Eq. (6) vs Eq. (5), schedules (a)(b)(c) and Thm 4.2."""

from __future__ import annotations

import pytest
import sympy as sp

from theory.errors import InputError
from theory.schemes import (
    SCHEDULES,
    Schedule,
    check_all_schedules,
    check_identity,
    check_schedule,
    em_step_eq6,
    symbols_r1,
)

S = symbols_r1()
k, t, delta, eta0, mu = S["k"], S["t"], S["delta"], S["eta0"], S["mu"]


def test_all_paper_schedules_hold():
    results = check_all_schedules(d=2)
    assert [r.schedule.name for r in results] == ["(a)", "(b)", "(c)", "Thm 4.2"]
    for r in results:
        assert len(r.checks) == 4  # U(k delta) = u_k, delay index, 2 components
        for c in r.checks:
            assert c.holds_symbolically and c.holds_numerically, c.name


@pytest.mark.parametrize(
    ("name", "k_val", "delta_val", "expected"),
    [
        # Hand values of U(k delta) = u_k: (b) U(t) = delta/t at k=7 -> 1/7 for any delta;
        # (c) U(t) = sqrt(delta/t), delta = eta0 = 1/9, k = 4 -> 1/2; Thm 4.2 with mu = 3,
        # k = 5 -> 1/15.
        ("(b)", 7, sp.Rational(3, 11), sp.Rational(1, 7)),
        ("(c)", 4, sp.Rational(1, 9), sp.Rational(1, 2)),
        ("Thm 4.2", 5, sp.Rational(2, 5), sp.Rational(1, 15)),
    ],
)
def test_U_at_grid_points_by_hand(name, k_val, delta_val, expected):
    sched = {s.name: s for s in SCHEDULES}[name]
    dl = sp.sympify(sched.delta).subs({eta0: delta_val, delta: delta_val})
    U = sp.sympify(sched.U).subs(delta, dl).subs({t: k_val * dl, mu: 3})
    assert sp.simplify(U - expected) == 0


def test_em_step_by_hand_scalar():
    # Hand: x + (-(eta/delta) U g) delta + (eta/delta) sqrt(delta) U s sqrt(delta) z
    #     = x - eta U g + eta U s z.
    x, g, s, z, eta, U = sp.symbols("x g s z eta U")
    step = em_step_eq6(
        sp.Matrix([x]), sp.Matrix([g]), sp.Matrix([[s]]), sp.Matrix([z]), eta, U, delta, t
    )
    assert sp.expand(step[0] - (x - eta * U * g + eta * U * s * z)) == 0


def test_wrong_schedule_reported_as_not_holding():
    # U(t) = delta/t paired with u_k = 1/sqrt(k): U(k delta) = 1/k != 1/sqrt(k).
    bad = Schedule("bad", eta0, 1 / sp.sqrt(k), delta / t, delta, "deliberately wrong")
    r = check_schedule(bad)
    assert not r.holds
    u_check = r.checks[0]
    assert not u_check.holds_symbolically and not u_check.holds_numerically
    assert sp.simplify(u_check.difference - (1 / k - 1 / sp.sqrt(k))) == 0
    # Step (c) with delta left free (not delta = eta0) fails too: U(k delta) = sqrt(delta/(k delta))
    # is fine, but with U = sqrt(eta0/t) and free delta it is not.
    bad_c = Schedule("c-free", eta0, 1 / sp.sqrt(k), sp.sqrt(eta0 / t), delta, "wrong delta")
    assert not check_schedule(bad_c).holds


def test_check_identity_detects_factor_mismatch():
    # Diffusion without the sqrt(delta) factor: (eta/delta) U sigma dB vs eta U sigma z.
    eta, U, s, z = sp.symbols("eta U s z", positive=True)
    c = check_identity("missing sqrt", (eta / delta) * U * s * sp.sqrt(delta) * z, eta * U * s * z)
    assert not c.holds_symbolically and not c.holds_numerically
    ok = check_identity(
        "ok", (eta / delta) * sp.sqrt(delta) * U * s * sp.sqrt(delta) * z, eta * U * s * z
    )
    assert ok.holds


def test_bad_inputs():
    with pytest.raises(InputError):
        check_schedule(SCHEDULES[0], d=0)
    with pytest.raises(InputError):
        check_identity("x", 1, 1, n_points=0)
