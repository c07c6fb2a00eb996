"""Which conjugate update fits a hyperparameter: its prior family and its role in the graph.

A Gibbs step may replace a random-walk step when two things hold, both read from the PyMC graph
(never from the variable's name):

- the prior's *family* with constant parameters: Beta / Dirichlet for mixture weights,
  inverse-gamma (which is also the scaled-inverse-chi-square ScaledInvChi2(nu, s2) =
  InverseGamma(nu/2, nu s2/2)) for variances;
- its *role*: the random variables it directly parametrises (:func:`direct_children`) and how
  it enters them - the probability vector of a Categorical / Bernoulli child (checked
  numerically: (1 - x, x) or x itself), the slab variance of the effects (a factor of it:
  doubling x doubles the variance), or the residual variance of the likelihood.

Under PyMC's default transforms (logodds for Beta, simplex for Dirichlet, log for
inverse-gamma) the point holds the transformed value; :class:`ValueSpace` maps between it and
the constrained value, so a conjugate draw is written where PyMC expects it.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
from pymc.logprob.transforms import LogOddsTransform, LogTransform, SimplexTransform
from pytensor.graph.replace import graph_replace
from pytensor.graph.traversal import ancestors
from pytensor.tensor.random.basic import BernoulliRV, BetaRV, CategoricalRV, DirichletRV
from scipy import special

from bayesmix.distributions.graph import constant_value, evaluation_mode, small_graph_mode


def direct_children(model, rv) -> list:
    """The model's random variables (free or observed) with ``rv`` among their parents, i.e.
    reached from their inputs without passing through another random variable."""
    others = [r for r in model.basic_RVs if r is not rv]
    return [r for r in others if rv in set(ancestors(r.owner.inputs, blockers=others))]


def constant_params(rv) -> list[np.ndarray] | None:
    """The distribution parameters of ``rv`` as arrays if all are constants, else None."""
    values = [constant_value(p) for p in rv.owner.op.dist_params(rv.owner)]
    return None if any(v is None for v in values) else [np.asarray(v, np.float64) for v in values]


def as_function_of(rv, expression):
    """``expression`` as a numpy function of the value of ``rv`` (every other input must be a
    constant), or None when it depends on anything else. For a check or two: compiled
    without rewrites (:func:`~bayesmix.distributions.graph.evaluation_mode`)."""
    x = rv.type()
    replaced = graph_replace(expression, {rv: x}, strict=False)
    if any(a.owner is None and a is not x and not isinstance(a, pt.TensorConstant)
           and not isinstance(a, pytensor.compile.SharedVariable)
           for a in ancestors([replaced])):
        return None
    return pytensor.function([x], replaced, mode=evaluation_mode(), on_unused_input="ignore")


def weights_role(model, rv) -> tuple | None:
    """How a Beta / Dirichlet ``rv`` gives the probabilities of its only child.

    Returns ``(child, success)``: ``success`` is the category counted as a success for a Beta
    (the child is Categorical with p = (1 - x, x), so 1, or Bernoulli with p = x, so 1) and
    None for a Dirichlet (Categorical with p = x). None when the graph has another shape.
    """
    children = direct_children(model, rv)
    if len(children) != 1:
        return None
    child = children[0]
    if not isinstance(child.owner.op, (CategoricalRV, BernoulliRV)):
        return None
    probs = as_function_of(rv, child.owner.op.dist_params(child.owner)[0])
    if probs is None:
        return None
    dirichlet = isinstance(rv.owner.op, DirichletRV)
    if dirichlet:
        k = int(np.shape(rv.owner.op.dist_params(rv.owner)[0].eval())[-1])
        trial = np.arange(1.0, k + 1.0) / (k * (k + 1) / 2)
        expected = trial
    else:
        trial = np.asarray(0.3)
        expected = (np.array([0.7, 0.3]) if isinstance(child.owner.op, CategoricalRV) else trial)
    got = np.atleast_1d(np.asarray(probs(trial), np.float64))  # may be broadcast over labels
    expected = np.atleast_1d(expected)
    if got.shape[-1:] != expected.shape or not np.allclose(
            got, np.broadcast_to(expected, got.shape), rtol=0, atol=1e-12):
        return None
    return child, (None if dirichlet else 1)


def is_scale_of(model, rv, expression, point) -> bool:
    """Whether ``expression`` (e.g. the slab variance) is proportional to ``rv``: with every
    other variable at its value in ``point``, doubling rv doubles it (and it is not all 0)."""
    f = model.compile_fn(model.replace_rvs_by_values([expression])[0], inputs=model.value_vars,
                         on_unused_input="ignore", point_fn=False, mode=evaluation_mode())
    space = ValueSpace(model, rv)
    doubled = dict(point)
    space.write(doubled, 2.0 * space.read(point))
    one = np.asarray(f(*[point[v.name] for v in model.value_vars]), np.float64)
    two = np.asarray(f(*[doubled[v.name] for v in model.value_vars]), np.float64)
    return bool(np.any(one != 0) and np.allclose(two, 2.0 * one, rtol=1e-10, atol=0))


def is_family(rv, *ops) -> bool:
    return rv.owner is not None and isinstance(rv.owner.op, ops)


def beta_or_dirichlet(rv) -> bool:
    return is_family(rv, BetaRV, DirichletRV) and constant_params(rv) is not None


def _log_odds(x):
    return np.log(x / (1.0 - x))


def _simplex_forward(x):
    log_x = np.log(x)
    return log_x[..., :-1] - np.sum(log_x, -1, keepdims=True) / x.shape[-1]


def _simplex_backward(v):
    full = np.concatenate([v, -np.sum(v, -1, keepdims=True)], axis=-1)
    exp_shifted = np.exp(full - np.max(full, -1, keepdims=True))
    return exp_shifted / np.sum(exp_shifted, -1, keepdims=True)


#: (forward, backward) in numpy of PyMC's default transforms of the conjugate priors (log for
#: inverse-gamma, logodds for Beta, simplex for Dirichlet): PyMC's formulas, ~1 us a call
#: where PyTensor's Python linker takes 10-50 us (several per Gibbs iteration)
NUMPY_TRANSFORMS = {
    LogTransform: (np.log, np.exp),
    LogOddsTransform: (_log_odds, special.expit),
    SimplexTransform: (_simplex_forward, _simplex_backward),
}


class _Checked:
    """One direction of a transform: the numpy form where there is one, checked on its first
    value against PyTensor's function of the transform (``reference``), which is used from
    then on if they differ (a transform subclassed or changed by another PyMC)."""

    def __init__(self, fast, reference):
        self.fast, self.reference = fast, reference
        self.checked = fast is None

    def __call__(self, value: np.ndarray) -> np.ndarray:
        if self.checked:
            return np.asarray((self.fast or self.reference)(value), np.float64)
        self.checked = True
        fast = np.asarray(self.fast(value), np.float64)
        slow = np.asarray(self.reference(value), np.float64)
        if fast.shape != slow.shape or not np.allclose(fast, slow, rtol=1e-12, atol=1e-12):
            self.fast = None
            return slow
        return fast


class ValueSpace:
    """Maps a variable's constrained value to and from its value variable in PyMC points.

    ``name`` is the value variable's name (``pi_logodds__``, ``sig2_e_log__``, or the variable's
    own name when untransformed). PyMC's log, logodds and simplex transforms are computed in
    numpy (:data:`NUMPY_TRANSFORMS`), any other with PyTensor.
    """

    def __init__(self, model, rv):
        value_var = model.rvs_to_values[rv]
        self.name = value_var.name
        transform = model.rvs_to_transforms.get(rv)
        self._forward = self._backward = None
        if transform is not None:
            x, v = rv.type(), value_var.type()
            inputs = rv.owner.inputs
            fast_forward, fast_backward = NUMPY_TRANSFORMS.get(type(transform), (None, None))
            self._forward = _Checked(fast_forward, pytensor.function(
                [x], transform.forward(x, *inputs), mode=small_graph_mode(),
                on_unused_input="ignore"))
            self._backward = _Checked(fast_backward, pytensor.function(
                [v], transform.backward(v, *inputs), mode=small_graph_mode(),
                on_unused_input="ignore"))

    def read(self, point) -> np.ndarray:
        """The constrained value held by ``point``."""
        value = np.asarray(point[self.name], np.float64)
        return value if self._backward is None else self._backward(value)

    def write(self, point: dict, constrained) -> None:
        """Store a constrained value in ``point`` (transformed when the variable is)."""
        value = np.asarray(constrained, np.float64)
        point[self.name] = value if self._forward is None else self._forward(value)
