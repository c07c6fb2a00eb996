"""bayesmix.kernels.vector_math.vector_exp and vector_sin against math.exp and math.sin,
compiled as the kernels use them: inlined into a loop under the project's fastmath flags
(reassociation allowed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bayesmix.kernels.jit import njit
from bayesmix.kernels.vector_math import SIN_LIMIT, vector_exp, vector_sin


@njit
def _each(function, xs):
    """``function`` of each element of ``xs``: a numba loop the function is inlined into."""
    out = np.empty_like(xs)
    for i in range(xs.shape[0]):
        out[i] = function(xs[i])
    return out


def _exp_all(xs):
    return _each(vector_exp, xs)


def _sin_all(xs):
    return _each(vector_sin, xs)


def test_vector_exp_is_within_two_ulp_of_exp_over_the_normal_range():
    """[-708, 709.78]: every argument with a normal, finite result."""
    rng = np.random.default_rng(7)
    xs = np.concatenate([rng.uniform(-708.0, 709.0, 400_000),   # the whole normal range
                         -rng.exponential(30.0, 400_000),       # the likelihood's arguments
                         rng.uniform(-1e-6, 1e-6, 100_000),     # around 0
                         np.log(2.0) * np.arange(-1021, 1023) + 1e-12,  # reduction's edges
                         rng.uniform(709.0, 709.78, 10_000),    # 2^1024 r, r < 1
                         np.array([0.0, -0.0, -708.0, 709.0, 709.78, 1e-300, -1e-300])])
    xs = xs[(xs >= -708.0) & (xs <= 709.78)]
    got = _exp_all(xs)
    want = np.array([math.exp(x) for x in xs])
    ulp = np.spacing(want)
    assert np.max(np.abs(got - want) / ulp) <= 2.0
    assert _exp_all(np.array([0.0]))[0] == 1.0


@pytest.mark.parametrize("x, want", [(-708.5, 0.0), (-745.2, 0.0), (-1e300, 0.0),
                                     (-math.inf, 0.0), (709.8, math.inf), (math.inf, math.inf)])
def test_vector_exp_outside_the_normal_range(x, want):
    got = _exp_all(np.array([x]))[0]
    assert got == want
    assert abs(got - math.exp(x) if x < 709.78 else 0.0) < 3.4e-308


def test_vector_exp_passes_nan_through():
    assert np.isnan(_exp_all(np.array([np.nan]))[0])


def test_njit_refuses_fastmath_flags_outside_the_safe_set():
    """``nnan`` / ``ninf`` let LLVM assume no NaN or inf (an isnan test may fold to False):
    the project's njit refuses them, and compiles a safe subset as asked."""
    with pytest.raises(ValueError, match=r"\['ninf', 'nnan'\] are unsafe"):
        njit(fastmath={"contract", "nnan", "ninf"})

    @njit(fastmath={"nsz"})
    def is_nan(x):
        return math.isnan(x)

    assert is_nan(math.nan) and not is_nan(1.0)
    assert is_nan.targetoptions["fastmath"] == {"nsz"}


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_vector_sin_is_within_two_ulp_of_sin_where_the_q_q_plots_use_it():
    """|x| <= 1,000 (the Q-Q curves' t |z| stay below ~150): at most 2 ulp, and an absolute
    error of at most 2^-53 also near the zeros k pi, where the reduction's three parts of
    pi / 2 matter most."""
    rng = np.random.default_rng(11)
    xs = np.concatenate([rng.uniform(-1000.0, 1000.0, 600_000), rng.uniform(-1.0, 1.0, 100_000),
                         np.pi / 2 * np.arange(-600, 601) + 1e-9,     # quadrant edges
                         np.pi * np.arange(1, 300),                   # near the zeros
                         np.array([0.0, -0.0, 1e-300, -1e-300, 0.7853981633974483])])
    got = _sin_all(xs)
    want = np.array([math.sin(x) for x in xs])
    assert np.max(np.abs(got - want)) <= 2.0 ** -53
    large = np.abs(want) >= 1e-3
    assert np.max(_ulps(got[large], want[large])) <= 2.0


def test_vector_sin_up_to_its_limit_and_beyond():
    """Up to SIN_LIMIT (2^19 quarter turns) within 3 ulp; beyond it, and for inf and NaN, NaN
    (callers check their range and use math.sin there)."""
    rng = np.random.default_rng(12)
    xs = rng.uniform(-SIN_LIMIT, SIN_LIMIT, 300_000)
    got = _sin_all(xs)
    want = np.array([math.sin(x) for x in xs])
    large = np.abs(want) >= 1e-3
    assert np.max(_ulps(got[large], want[large])) <= 3.0
    assert np.max(np.abs(got - want)) <= 2.0 ** -52
    outside = _sin_all(np.array([SIN_LIMIT * 1.0001, -SIN_LIMIT * 1.0001, 1e300, math.inf,
                                 -math.inf, math.nan]))
    assert np.isnan(outside).all()
