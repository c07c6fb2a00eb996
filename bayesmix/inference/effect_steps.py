"""Steps for the per-SNP variables of a composed effect prior, and the choice of step.

A composed prior (docs/composition.md) may give every SNP its own slab variance
tau_j, beta_j | c_j ~ N(0, gamma[c_j] a_j tau_j) with a_j not depending on tau (a scale
mixture of normals: Student-t, Laplace, ...). Updating such an (M,) variable element by
element with the generic Markov-blanket Metropolis step costs M evaluations of an O(M)
density per iteration; the steps here cost O(M):

- :class:`SnpScaleMixtureGibbs` - exact conditional draws of tau_j | beta_j, all SNPs at once,
  for an inverse-gamma prior (BayesB's scaled-inverse-chi-square, a Student-t slab) or an
  exponential prior (a Laplace slab: 1/tau_j | beta_j is inverse Gaussian), whatever the
  prior's parameters depend on (they are evaluated at the current point);
- :class:`SnpwiseMetropolis` - any other per-SNP variable whose Markov blanket factorises
  over SNPs (each term involves one element only): one random-walk proposal per element,
  accepted element by element from the elementwise blanket density.

And for annotation-dependent weights (:func:`~bayesmix.distributions.effects.annotation_weights`)
with a normal prior on theta, :class:`AnnotationWeightsMetropolis`: theta | components is a
multinomial logistic regression, sampled by Metropolis-Hastings with Newton-step proposals
(near-independent draws for two numba passes over the SNPs per iteration).

:func:`choose_step` is the rule :func:`bayesmix.inference.gibbs.make_steps` and
:func:`bayesmix.inference.sbayes_gibbs.make_sbayes_steps` apply to every free variable.
"""

from __future__ import annotations

import math

import numpy as np
from pymc.logprob.transforms import LogTransform
from pytensor.graph.traversal import ancestors
from pytensor.tensor.random.basic import ExponentialRV, InvGammaRV, NormalRV

import pytensor.tensor as pt

from bayesmix.distributions.effects import annotation_structure
from bayesmix.distributions.graph import constant_value, small_graph_mode
from bayesmix.errors import InputError
from bayesmix.inference.step_base import (Adaptive, AlphabetStep, MarkovBlanketMetropolis,
                                          logp_terms)
from bayesmix.kernels.gibbs import annotation_component_sums


def children(model, rv) -> list:
    """The random variables whose distribution depends on ``rv`` directly."""
    others = [r for r in model.basic_RVs if r is not rv]
    return [r for r in others if rv in set(ancestors(r.owner.inputs, blockers=others))]


def _compile(model, outputs):
    """A function of the value variables (in ``model.value_vars`` order) -> ``outputs``."""
    outputs = model.replace_rvs_by_values(outputs)
    fn = model.compile_fn(outputs, inputs=model.value_vars, on_unused_input="ignore",
                          point_fn=False, mode=small_graph_mode())
    fn.trust_input = True
    return fn


class _ValueMap:
    """Constrained value of a variable <-> its value variable (no transform, or log)."""

    def __init__(self, model, rv):
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None and not isinstance(transform, LogTransform):
            raise TypeError(f"{rv.name}: transform {type(transform).__name__} is not handled")
        self.log = transform is not None
        self.name = model.rvs_to_values[rv].name

    def forward(self, value):
        return np.log(value) if self.log else np.asarray(value, np.float64)

    def backward(self, value):
        return np.exp(value) if self.log else np.asarray(value, np.float64)


class SlabFactor:
    """a (M,) with slab_var = a * x for a variable x of the model (scalar or (M,)), at a point.

    ``proportional`` says whether the model's slab variance is proportional to x at all
    (checked at the starting point with two random values of x; a slab variance such as
    sig2_beta + x is not).
    """

    def __init__(self, alphabet, rv):
        model = alphabet.model
        self.alphabet = alphabet
        self.values = _ValueMap(model, rv)
        self._slab = _compile(model, [pt.broadcast_to(alphabet._slab_var, (alphabet.n_snps,))])
        point = alphabet.initial_point()
        shape = np.shape(point[self.values.name])
        rng = np.random.default_rng(0)
        x1, x2 = rng.uniform(0.5, 2.0, (2, *shape))
        with np.errstate(all="ignore"):
            a1, a2 = self._at(point, x1) / x1, self._at(point, x2) / x2
        self.proportional = bool(np.all(np.isfinite(a1)) and np.allclose(a1, a2, rtol=1e-9))

    def _at(self, point, x) -> np.ndarray:
        work = dict(point)
        work[self.values.name] = self.values.forward(np.asarray(x, np.float64))
        return self._slab(*[work[v.name] for v in self.alphabet.model.value_vars])[0]

    def __call__(self, point) -> np.ndarray:
        """a at ``point``: the slab variance with x set to 1."""
        return self._at(point, np.ones(np.shape(point[self.values.name])))


def slab_proportional_to(alphabet, rv) -> bool:
    """Whether the model's slab variance is a multiple of ``rv`` (see :class:`SlabFactor`)."""
    try:
        return SlabFactor(alphabet, rv).proportional
    except TypeError:
        return False


def _is_per_snp(alphabet, rv) -> bool:
    """``rv`` is an (M,) vector whose only child is the effect vector."""
    shape = tuple(np.shape(alphabet.initial_point()[alphabet.model.rvs_to_values[rv].name]))
    kids = children(alphabet.model, rv)
    return shape == (alphabet.n_snps,) and [k.name for k in kids] == [alphabet.effects_name]


class SnpScaleMixtureGibbs(AlphabetStep):
    """tau_j | beta_j, c_j for per-SNP slab variances tau with slab_var_j = a_j tau_j.

    With v_j = gamma[c_j] a_j (the effect's variance per unit of tau_j):

    - tau_j ~ InverseGamma(alpha_j, beta_j): tau_j | . ~ InverseGamma(alpha_j + 1/2,
      beta_j + b_j^2 / (2 v_j)) (Student-t slab; BayesB's scaled-inverse-chi-square);
    - tau_j ~ Exponential(rate lambda_j): 1/tau_j | . ~ InverseGaussian(mean
      sqrt(2 lambda_j v_j) / |b_j|, shape 2 lambda_j) (Laplace slab, Park & Casella 2008);

    and the prior for SNPs in a spike component (v_j = 0). The prior's parameters may
    depend on other variables: they are evaluated at the current point.
    """

    name = "snp_scale_mixture_gibbs"
    stats_dtypes_shapes = {}

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        rv = vars[0]
        self.rv_name = rv.name
        self.values = _ValueMap(self.model, rv)
        self.factor = SlabFactor(self.alphabet, rv)
        self.inverse_gamma = isinstance(rv.owner.op, InvGammaRV)
        params = [pt.broadcast_to(p, (self.alphabet.n_snps,)) for p in
                  rv.owner.op.dist_params(rv.owner)]
        self._params = _compile(self.model, params)

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        if not isinstance(rv.owner.op, (InvGammaRV, ExponentialRV)):
            return False
        transform = alphabet.model.rvs_to_transforms.get(rv)
        if transform is not None and not isinstance(transform, LogTransform):
            return False
        return _is_per_snp(alphabet, rv) and slab_proportional_to(alphabet, rv)

    def step(self, point):
        alphabet = self.alphabet
        values = [point[v.name] for v in self.model.value_vars]
        params = [np.asarray(p, np.float64) for p in self._params(*values)]
        beta = np.asarray(point[alphabet.effects_name], np.float64)
        var = alphabet.gamma[np.asarray(point[alphabet.component_name])] * self.factor(point)
        slab = (var > 0) & (beta != 0)
        safe_var = np.where(slab, var, 1.0)
        if self.inverse_gamma:
            shape, scale = params
            shape = np.where(slab, shape + 0.5, shape)
            scale = np.where(slab, scale + 0.5 * beta**2 / safe_var, scale)
            tau = scale / self.rng.gamma(shape)
        else:
            (prior_scale,) = params  # Exponential(scale = 1 / rate)
            rate = 1.0 / prior_scale
            mean = np.sqrt(2.0 * rate * safe_var) / np.where(slab, np.abs(beta), 1.0)
            tau = np.where(slab, 1.0 / self.rng.wald(mean, 2.0 * rate),
                           self.rng.exponential(prior_scale))
        new = dict(point)
        new[self.values.name] = self.values.forward(tau)
        return new, [{}]


class SnpwiseMetropolis(Adaptive, AlphabetStep):
    """Random-walk Metropolis on an (M,) variable whose Markov blanket factorises over SNPs.

    Every element gets a proposal x_j' = x_j + s_j eps_j (value space) and is accepted with
    its own ratio of the elementwise blanket density (the variable's prior term j plus its
    children's terms j): M independent Metropolis moves for the cost of two evaluations.
    The scales s_j adapt during burn-in towards an acceptance rate of 0.44 and are frozen
    afterwards. :meth:`applies` checks the factorisation numerically at the starting point.
    """

    name = "snpwise_metropolis"
    stats_dtypes_shapes = {"accepted": (np.float64, [])}

    def __init__(self, vars, *, scale: float = 0.5, **kwargs):
        super().__init__(vars, **kwargs)
        self._logp, self.value_name = self._elementwise_logp(self.alphabet, vars[0])
        self._initial_log_scale = np.full(self.alphabet.n_snps, math.log(scale))
        self.reset_tuning()

    @staticmethod
    def _elementwise_logp(alphabet, rv):
        model = alphabet.model
        terms = [logp_terms(model)[r] for r in (rv, *children(model, rv))]
        total = sum(pt.broadcast_to(t, (alphabet.n_snps,)) for t in terms)
        fn = model.compile_fn(total, inputs=model.value_vars, on_unused_input="ignore",
                              point_fn=False, mode=small_graph_mode())
        fn.trust_input = True
        return fn, model.rvs_to_values[rv].name

    @classmethod
    def applies(cls, alphabet, rv) -> bool:
        """``rv`` is (M,), and changing its element j changes only term j of the blanket."""
        model = alphabet.model
        kids = children(model, rv)
        point = alphabet.initial_point()
        name = model.rvs_to_values[rv].name
        if np.shape(point[name]) != (alphabet.n_snps,) or alphabet.n_snps < 2 or any(
                np.ndim(point[model.rvs_to_values[k].name]) != 1 for k in kids):
            return False
        try:
            logp, _ = cls._elementwise_logp(alphabet, rv)
        except (ValueError, TypeError):
            return False
        rng = np.random.default_rng(1)
        values = lambda p: [p[v.name] for v in model.value_vars]  # noqa: E731
        point[name] = np.asarray(point[name], np.float64) + 0.1 * rng.standard_normal(
            alphabet.n_snps)
        # every SNP in the largest-variance slab with an effect, so that each effect's
        # density depends on its variance
        point[alphabet.component_name] = np.full(alphabet.n_snps, int(np.argmax(alphabet.gamma)))
        point[alphabet.effects_name] = 0.01 * rng.standard_normal(alphabet.n_snps)
        before = np.asarray(logp(*values(point)))
        for j in (0, alphabet.n_snps - 1):
            moved = dict(point)
            moved[name] = point[name].copy()
            moved[name][j] += 0.3
            changed = np.flatnonzero(np.asarray(logp(*values(moved))) != before)
            if not set(changed) <= {j}:
                return False
        return True

    def step(self, point):
        values = lambda p: [p[v.name] for v in self.model.value_vars]  # noqa: E731
        current = np.asarray(point[self.value_name], np.float64)
        proposal = current + np.exp(self.log_scale) * self.rng.standard_normal(current.shape)
        work = dict(point)
        work[self.value_name] = proposal
        log_ratio = np.asarray(self._logp(*values(work))) - np.asarray(self._logp(*values(point)))
        accept = np.log(self.rng.random(current.shape)) < log_ratio
        if self.tune:
            self._adapt(accept)
            self.n_tuned += 1
        new = dict(point)
        new[self.value_name] = np.where(accept, proposal, current)
        return new, [{"accepted": float(accept.mean())}]


class AnnotationWeightsMetropolis(AlphabetStep):
    """theta | comp for weights pi_j = softmax([0, A_j theta]) and theta ~ Normal(mu, sd).

    The log density l(theta) = sum_j log pi_j[c_j] + log N(theta; mu, sd) is concave, with
    gradient g and negative definite Hessian H. The proposal is a Newton step with the
    matching normal spread, theta' ~ N(theta - H^-1 g, (-H)^-1) (all at theta), accepted
    with the Metropolis-Hastings ratio exp(l(theta') - l(theta) + log q(theta | theta') -
    log q(theta' | theta)). The posterior of theta is close to normal, so the Newton step
    lands near its mode from anywhere and the proposal is close to an independent draw
    from it: nearly every proposal is accepted.

    Cost: sum_j log pi_j[c_j] = sum(theta * S) - f(theta), where S (A, K-1) sums the
    annotations per component (:func:`~bayesmix.kernels.gibbs.annotation_component_sums`,
    O(M A), no exp) and f with its derivatives (:func:`~bayesmix.kernels.gibbs.
    annotation_softmax`, one exp per SNP and component) does not depend on the components.
    The model keeps the softmax of the current theta and of the last proposal
    (:meth:`~bayesmix.models.alphabet.AlphabetModel.annotation_softmax`, a memo of a pure
    function of theta), which the effects sweep then reuses: an iteration computes one
    softmax, at the proposal.
    """

    name = "annotation_weights_metropolis"
    stats_dtypes_shapes = {"accepted": (np.float64, [])}

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        rv = vars[0]
        self.annotations = np.ascontiguousarray(annotation_structure(self.alphabet._weights)[0])
        mu, sd = (np.asarray(constant_value(p), np.float64) for p in rv.owner.op.dist_params(rv.owner))
        self.value_name = self.model.rvs_to_values[rv].name
        start = np.asarray(self.alphabet.initial_point()[self.value_name], np.float64)
        if not np.isfinite(start).all():  # the Newton proposals never leave it
            raise InputError(f"{rv.name} of the annotation weights starts at values that are "
                             "not finite (a starting weight of 0 gives log 0 = -inf): start "
                             "every component's weight above 0")
        self.shape = start.shape
        n_free = self.alphabet.n_components - 1
        full = (self.annotations.shape[1], n_free)
        self.prior_mean = np.broadcast_to(mu, self.shape).reshape(full)
        self.prior_precision = np.broadcast_to(sd ** -2.0, self.shape).reshape(full)

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        structure = annotation_structure(getattr(alphabet, "_weights", None))
        if structure is None or structure[1] is not rv or not isinstance(rv.owner.op, NormalRV):
            return False
        if alphabet.model.rvs_to_transforms.get(rv) is not None:
            return False
        if any(constant_value(p) is None for p in rv.owner.op.dist_params(rv.owner)):
            return False
        return [k.name for k in children(alphabet.model, rv)] == [alphabet.component_name]

    def _log_density(self, theta, comp, derivatives=False):
        """l(theta) (and its gradient and Hessian over the flattened (A, K-1) theta)."""
        sums = annotation_component_sums(self.annotations, comp, theta.shape[1])
        return self._terms(theta, sums, derivatives)

    def _terms(self, theta, sums, derivatives=False):
        """:meth:`_log_density` from the component sums S."""
        theta = np.ascontiguousarray(theta, np.float64)
        f, _, _, _, f_grad, f_hess = self.alphabet.annotation_softmax(theta)
        diff = theta - self.prior_mean
        value = float((theta * sums).sum()) - f - 0.5 * float((self.prior_precision * diff**2).sum())
        if not derivatives:
            return value
        grad = (sums - f_grad - self.prior_precision * diff).ravel()
        return value, grad, -f_hess - np.diag(self.prior_precision.ravel())

    def _newton_proposal(self, theta, sums):
        """l(theta), and the mean and Cholesky factor of the proposal from theta."""
        value, grad, hess = self._terms(theta, sums, True)
        cov = np.linalg.inv(-hess)
        return value, theta + (cov @ grad).reshape(theta.shape), np.linalg.cholesky(cov), hess

    @staticmethod
    def _log_q(theta, mean, hess, chol):
        """log N(theta; mean, (-H)^-1) up to the constant shared by every proposal."""
        d = (theta - mean).ravel()
        return -0.5 * d @ (-hess) @ d - np.log(np.diag(chol)).sum()

    def step(self, point):
        n_k = self.alphabet.n_components - 1
        comp = np.asarray(point[self.alphabet.component_name])
        sums = annotation_component_sums(self.annotations, comp, n_k)
        current = np.asarray(point[self.value_name], np.float64).reshape(-1, n_k)
        value, mean, chol, hess = self._newton_proposal(current, sums)
        proposal = mean + (chol @ self.rng.standard_normal(mean.size)).reshape(mean.shape)
        new_value, back_mean, back_chol, back_hess = self._newton_proposal(proposal, sums)
        log_ratio = (new_value - value + self._log_q(current, back_mean, back_hess, back_chol)
                     - self._log_q(proposal, mean, hess, chol))
        accept = math.log(self.rng.random()) < log_ratio
        new = dict(point)
        if accept:
            new[self.value_name] = proposal.reshape(self.shape)
        return new, [{"accepted": float(accept)}]


def choose_step(alphabet, rv, conjugate_steps):
    """The step class for free variable ``rv``: the first of ``conjugate_steps`` that
    recognises its prior, else :class:`AnnotationWeightsMetropolis`,
    :class:`SnpScaleMixtureGibbs` or :class:`SnpwiseMetropolis` where they apply, else
    :class:`MarkovBlanketMetropolis`."""
    for cls in (*conjugate_steps, AnnotationWeightsMetropolis):
        if cls.recognises(alphabet, rv):
            return cls
    if SnpScaleMixtureGibbs.recognises(alphabet, rv):
        return SnpScaleMixtureGibbs
    if SnpwiseMetropolis.applies(alphabet, rv):
        return SnpwiseMetropolis
    return MarkovBlanketMetropolis
