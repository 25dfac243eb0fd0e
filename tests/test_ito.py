"""Tests for theory.ito against hand derivations of Itô's formula."""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory.errors import InputError
from theory.ito import (
    IP,
    R2,
    SDDE,
    TR,
    InexactInputError,
    ShapeError,
    generator,
    ito_differential,
    quadratic_generator_vector_form,
    state_symbols,
    vector_form_at,
)

t = sp.Symbol("t", positive=True)
a, s, mu, delta = sp.symbols("a s mu delta", positive=True)


def test_scalar_ou_square():
    # Hand: dX = -aX dt + s dB, f = x^2: df = (-2a x^2 + s^2) dt + 2 s x dB.
    (x,) = state_symbols(1)
    sde = SDDE(t=t, x=(x,), y=(), drift=sp.Matrix([-a * x]), diffusion=sp.Matrix([[s]]))
    df = ito_differential(x**2, sde)
    assert sp.expand(df.dt - (-2 * a * x**2 + s**2)) == 0
    assert sp.expand(df.dB[0, 0] - 2 * s * x) == 0


def test_time_dependent_f_geometric_bm():
    # Hand: dX = aX dt + sX dB, f = t x^2: Lf = x^2 + 2 a t x^2 + s^2 t x^2.
    (x,) = state_symbols(1)
    sde = SDDE(t=t, x=(x,), y=(), drift=sp.Matrix([a * x]), diffusion=sp.Matrix([[s * x]]))
    assert sp.expand(generator(t * x**2, sde) - (x**2 + 2 * a * t * x**2 + s**2 * t * x**2)) == 0


def test_thm42_sdde_norm_square_d2():
    # Hand: dX = -(1/(mu t)) G(y) dt + (sqrt(delta)/(mu t)) sigma(y) dB, f = ||x||^2 (d = 2):
    # Lf = -(2/(mu t)) (x1 G1 + x2 G2) + (delta/(mu^2 t^2)) sum_ij sigma_ij^2.
    x = state_symbols(2, "x")
    y = state_symbols(2, "y")
    G = [sp.Function(f"G{i}")(*y) for i in (1, 2)]
    sig = sp.Matrix(2, 2, lambda i, j: sp.Function(f"s{i}{j}")(*y))
    sdde = SDDE(
        t=t,
        x=x,
        y=y,
        drift=-1 / (mu * t) * sp.Matrix(G),
        diffusion=sp.sqrt(delta) / (mu * t) * sig,
    )
    hand = -2 / (mu * t) * (x[0] * G[0] + x[1] * G[1]) + delta / (mu**2 * t**2) * (
        sig[0, 0] ** 2 + sig[0, 1] ** 2 + sig[1, 0] ** 2 + sig[1, 1] ** 2
    )
    f = x[0] ** 2 + x[1] ** 2
    assert sp.expand(generator(f, sdde) - hand) == 0
    # dB part: 2 x^T g.
    dB = ito_differential(f, sdde).dB
    hand_dB = [
        2 * sp.sqrt(delta) / (mu * t) * (x[0] * sig[0, j] + x[1] * sig[1, j]) for j in (0, 1)
    ]
    assert all(sp.expand(dB[0, j] - hand_dB[j]) == 0 for j in (0, 1))


def test_delayed_state_not_differentiated():
    # Drift depends on y nonlinearly; f = x1 x2 (no y): Lf = x2 b1 + x1 b2 + (g g^T)_12.
    x = state_symbols(2, "x")
    y = state_symbols(2, "y")
    b = sp.Matrix([y[0] ** 2 * y[1], sp.sin(y[1])])
    g = sp.Matrix([[y[0], 0], [1, y[1]]])
    sdde = SDDE(t=t, x=x, y=y, drift=b, diffusion=g)
    hand = x[1] * y[0] ** 2 * y[1] + x[0] * sp.sin(y[1]) + y[0] * 1
    assert sp.expand(generator(x[0] * x[1], sdde) - hand) == 0


def test_vector_form_matches_concrete_d3():
    phi = t**2 - 3
    psi = sp.log(t) * a
    alpha = -1 / (mu * t)
    beta = sp.sqrt(delta) / t
    vf = quadratic_generator_vector_form(phi, psi, alpha, beta, t)
    # Hand: phi'/2 R2 + psi' + phi alpha IP + phi beta^2/2 TR.
    hand = t * R2 + a / t - (t**2 - 3) / (mu * t) * IP + (t**2 - 3) * delta / (2 * t**2) * TR
    assert sp.expand(vf - hand) == 0
    x = state_symbols(3, "x")
    xs = state_symbols(3, "xs")
    y = state_symbols(3, "y")
    G = [sp.Function(f"G{i}")(*y) for i in range(3)]
    sig = sp.Matrix(3, 2, lambda i, j: sp.Function(f"s{i}{j}")(*y))
    sdde = SDDE(t=t, x=x, y=y, drift=alpha * sp.Matrix(G), diffusion=beta * sig)
    f = phi / 2 * sum((xi - si) ** 2 for xi, si in zip(x, xs)) + psi
    assert sp.expand(generator(f, sdde) - vector_form_at(vf, x, xs, G, sig)) == 0


def test_rejects_floats_and_bad_shapes():
    (x,) = state_symbols(1)
    with pytest.raises(InexactInputError):
        SDDE(t=t, x=(x,), y=(), drift=sp.Matrix([-0.5 * x]), diffusion=sp.Matrix([[1]]))
    with pytest.raises(ShapeError):
        SDDE(t=t, x=(x,), y=(), drift=sp.Matrix([x, x]), diffusion=sp.Matrix([[1]]))
    with pytest.raises(ShapeError):
        state_symbols(0)
    y = state_symbols(1, "y")
    sdde = SDDE(t=t, x=(x,), y=y, drift=sp.Matrix([-y[0]]), diffusion=sp.Matrix([[1]]))
    with pytest.raises(InputError, match="delayed state"):
        generator(x * y[0], sdde)
    with pytest.raises(InexactInputError):
        generator(sp.Float(0.5) * x**2, sdde)
    assert TR in quadratic_generator_vector_form(t, 0, 1, 1, t).free_symbols
    assert IP in quadratic_generator_vector_form(t, 0, 1, 1, t).free_symbols


small = st.integers(min_value=-5, max_value=5)


@settings(max_examples=20, deadline=None)
@given(
    d=st.integers(min_value=1, max_value=3),
    r=st.integers(min_value=1, max_value=3),
    data=st.data(),
)
def test_quadratic_f_linear_sdde_matrix_formula(d, r, data):
    # Reference by matrix algebra (no differentiation): f = x^T M x + c^T x with M symmetric,
    # b = B x + C y, g constant: L f = (2 M x + c)^T b + tr(g g^T M).
    def mat(rows, cols):
        return sp.Matrix(rows, cols, lambda i, j: sp.Integer(data.draw(small)))

    M0 = mat(d, d)
    M = (M0 + M0.T) / 2
    c, Bm, Cm, g = mat(d, 1), mat(d, d), mat(d, d), mat(d, r)
    x = sp.Matrix(state_symbols(d, "x"))
    y = sp.Matrix(state_symbols(d, "y"))
    b = Bm * x + Cm * y
    sdde = SDDE(t=t, x=tuple(x), y=tuple(y), drift=b, diffusion=g)
    f = (x.T * M * x)[0, 0] + (c.T * x)[0, 0]
    reference = ((2 * M * x + c).T * b)[0, 0] + (g * g.T * M).trace()
    assert sp.expand(generator(f, sdde) - reference) == 0
    assert sp.expand(ito_differential(f, sdde).dB - (2 * M * x + c).T * g) == sp.zeros(1, r)
