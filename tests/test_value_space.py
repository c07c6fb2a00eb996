"""ValueSpace maps conjugate draws to PyMC's value space: its numpy forms of PyMC's log,
logodds and simplex transforms against PyMC's own transforms, evaluated by PyTensor."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from pymc.logprob.transforms import LogTransform

from bayesmix.inference import conjugacy
from bayesmix.inference.conjugacy import ValueSpace


# PyTensor's Python linker: the default (numba) compiled each one-off transform graph for ~6 s
# of a cold session; the values do not depend on the linker
EVAL_MODE = "FAST_COMPILE"


def pymc_forward(model, rv, x):
    transform = model.rvs_to_transforms[rv]
    return np.asarray(transform.forward(np.asarray(x, np.float64), *rv.owner.inputs)
                      .eval(mode=EVAL_MODE))


def pymc_backward(model, rv, v):
    transform = model.rvs_to_transforms[rv]
    return np.asarray(transform.backward(np.asarray(v, np.float64), *rv.owner.inputs)
                      .eval(mode=EVAL_MODE))


def constrained_draws(rng, kind, size):
    if kind == "variance":
        return rng.lognormal(0.0, 3.0, size=20)
    if kind == "weight":
        return rng.uniform(1e-6, 1.0 - 1e-6, size=20)
    return rng.dirichlet(np.full(size, 0.3), size=20)


@pytest.mark.parametrize("kind, size", [("variance", None), ("weight", None), ("weights", 2),
                                        ("weights", 3), ("weights", 6)])
def test_numpy_transforms_are_pymcs(kind, size):
    rng = np.random.default_rng(7)
    with pm.Model() as model:
        if kind == "variance":
            rv = pm.InverseGamma("v", 2.0, 1.0)
        elif kind == "weight":
            rv = pm.Beta("w", 1.0, 9.0)
        else:
            rv = pm.Dirichlet("p", np.ones(size))
    space = ValueSpace(model, rv)
    assert space._forward.fast is not None and space._backward.fast is not None
    for x in constrained_draws(rng, kind, size):
        point = {}
        space.write(point, x)
        value = point[space.name]
        np.testing.assert_allclose(value, pymc_forward(model, rv, x), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(space.read(point), pymc_backward(model, rv, value),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(space.read(point), x, rtol=1e-10, atol=1e-15)
    assert space._forward.fast is not None and space._backward.fast is not None  # kept


def test_a_numpy_form_that_disagrees_with_pymc_is_dropped(monkeypatch):
    """A transform whose numpy form differs from PyMC's (changed by another PyMC) is noticed on
    the first value and PyTensor's function is used instead, that value included."""
    monkeypatch.setitem(conjugacy.NUMPY_TRANSFORMS, LogTransform,
                        (lambda x: np.log(2.0 * x), np.exp))
    with pm.Model() as model:
        rv = pm.InverseGamma("v", 2.0, 1.0)
    space = ValueSpace(model, rv)
    for x in (0.3, 4.0):
        point = {}
        space.write(point, x)
        assert point[space.name] == pytest.approx(np.log(x), rel=1e-14)
    assert space._forward.fast is None and space._backward.fast is not None


def test_other_transforms_use_pytensor():
    with pm.Model() as model:
        rv = pm.Uniform("u", 0.5, 3.0)
    space = ValueSpace(model, rv)
    assert space._forward.fast is None
    point = {}
    space.write(point, 2.0)
    np.testing.assert_allclose(point[space.name], pymc_forward(model, rv, 2.0), rtol=1e-14)
    assert space.read(point) == pytest.approx(2.0, rel=1e-14)
