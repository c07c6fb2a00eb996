"""Gibbs step methods for the Bayesian alphabet, usable in ``pm.sample`` and our chain driver.

One concept per step (all :class:`pymc.step_methods.compound.BlockedStep`):

- :class:`EffectsGibbs` - (beta, comp[, window_on]): the numba single-site sweep with a
  residual vector (BayesN/NS: the nested window sweep).
- :class:`FixedEffectsGibbs` - alpha (flat prior): a multivariate normal draw.
- :class:`MixtureWeightsGibbs` - mixture weights: a Beta prior on the probability of the
  labels (pi of BayesC/S as Categorical(1 - pi, pi), BayesN's pi_window as Bernoulli) or a
  Dirichlet prior on a Categorical's probability vector (BayesR's pi).
- :class:`EffectVarianceGibbs` - a scalar that the effects' slab variance is proportional to
  (sig2_beta): inverse-gamma / scaled-inv-chi2 prior.
- :class:`SnpVarianceGibbs` - BayesB's per-SNP slab variances (inverse-gamma, one per SNP).
- :class:`ResidualVarianceGibbs` - the likelihood's residual variance (sig2_e):
  inverse-gamma / scaled-inv-chi2 prior.
- :class:`ShapeScaleMetropolis` - BayesS: a joint move of (S, sig2_beta) along their ridge.
- :class:`~bayesmix.inference.step_base.MarkovBlanketMetropolis` - any other scalar/vector hyperparameter (BayesS's S, or a
  non-conjugate prior the user swapped in: HalfNormal, HalfCauchy, Uniform, LogNormal, ...):
  adaptive random-walk Metropolis on the log density of the variable's Markov blanket only
  (its prior plus its children's terms, with the transform's Jacobian), never the whole model.

Each conjugate step has a ``recognises(alphabet, rv)`` class method that inspects the graph
(:mod:`bayesmix.inference.conjugacy`): the prior's family with constant parameters (Beta,
Dirichlet, InverseGamma - ScaledInvChi2 is an InverseGamma) and the variable's role, found
from its children in the graph, never from its name. The draw is written in the variable's
value space, so PyMC's default transforms (logodds, simplex, log) are fine.
:func:`make_steps` assigns the first step that recognises a variable and falls back to the
Metropolis step.

Steps that need the residual vector e = y - C alpha - X beta share one :class:`Residuals`
object. It keeps e in sync with whatever point it is given (after another step changed beta
or alpha it applies the difference), so steps can be combined with any PyMC step.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pymc as pm
from pymc.step_methods.compound import BlockedStep
from pymc.step_methods.state import dataclass_state
from pytensor.graph.traversal import ancestors

from bayesmix.distributions.graph import small_graph_mode
from bayesmix.distributions.variance import (draw_scaled_inv_chi2, scaled_inv_chi2_graphs,
                                             scaled_inv_chi2_params)
from bayesmix.inference.conjugacy import (ValueSpace, beta_or_dirichlet, constant_params,
                                          direct_children, is_scale_of, weights_role)
from bayesmix.inference.effect_steps import choose_step
from bayesmix.inference.step_base import (Adaptive, AlphabetStep, BurnInPlugIn, PlugInState,
                                          blanket_logp)
from bayesmix.kernels.gibbs import (component_counts, slab_sum_of_squares,
                                     sweep_nested_windows, sweep_normal_mixture)
from bayesmix.models.alphabet import SLAB_SCALE


class Residuals:
    """The residual vector e = y - C alpha - X beta of one chain, kept in sync with points."""

    def __init__(self, alphabet):
        self.alphabet = alphabet
        self.reset()

    def reset(self) -> None:
        """Forget e (a new chain starts); the next :meth:`sync` recomputes it."""
        self.e = None
        self.beta = None
        self.alpha = None

    def sync(self, point) -> np.ndarray:
        """e for ``point``: recomputed, or updated by the effects that changed since last seen."""
        data = self.alphabet.data
        beta = self.alphabet.snp_effects(point)
        alpha = np.asarray(point["alpha"], dtype=np.float64)
        if self.e is None:
            self.e = data.y - data.design @ alpha - data.genotypes.matvec(beta)
        else:
            if not np.array_equal(beta, self.beta):
                self.e += data.genotypes.matvec(self.beta - beta)
            if not np.array_equal(alpha, self.alpha):
                self.e += data.design @ (self.alpha - alpha)
        self.beta, self.alpha = beta.copy(), alpha.copy()
        return self.e

    def commit(self, *, beta=None, alpha=None) -> None:
        """Record that e already accounts for these new values (the caller updated e).

        ``beta`` are the effects in the likelihood (``alphabet.snp_effects``)."""
        if beta is not None:
            self.beta = np.array(beta, dtype=np.float64)
        if alpha is not None:
            self.alpha = np.array(alpha, dtype=np.float64)

    def genetic_variance(self, point) -> float:
        """Variance of the genetic values X beta = y - C alpha - e at ``point`` (1/n form, the
        monitor's GenVar)."""
        data = self.alphabet.data
        e = self.sync(point)
        return float(np.var(data.y - data.design @ np.asarray(point["alpha"]) - e))

    def state(self) -> dict:
        return {"e": None if self.e is None else self.e.copy(), "beta": self.beta, "alpha": self.alpha}

    def set_state(self, state: dict) -> None:
        self.e, self.beta, self.alpha = state["e"], state["beta"], state["alpha"]


def shared_or_snp_weights(log_pi: np.ndarray) -> tuple:
    """(shared (K,), per-SNP (M, K) or None) log weights for the sweeps from the model's
    log weights, which are (K,) or, for a composed prior, (M, K)."""
    if log_pi.ndim == 1:
        return log_pi, None
    return log_pi[0], np.ascontiguousarray(log_pi)


class EffectsGibbs(AlphabetStep):
    """Joint single-site Gibbs update of every (comp_j, beta_j): one numba sweep."""

    name = "effects_gibbs"
    stats_dtypes_shapes = {"n_nonzero": (np.int64, []), "n_windows": (np.int64, []),
                           "genetic_variance": (np.float64, []), "sweep_seconds": (np.float64, [])}

    def step(self, point):
        alphabet = self.alphabet
        geno = alphabet.data.genotypes
        derived = alphabet.derived(point)
        e = self.residuals.sync(point)
        beta = np.array(point["beta"], dtype=np.float64)
        comp = np.array(point["comp"])
        new = dict(point)
        log_pi, snp_log_weights = shared_or_snp_weights(derived["log_pi"])
        started = time.perf_counter()
        with self.updating_residuals():
            if alphabet.window_ptr is None:
                n_nonzero = sweep_normal_mixture(
                    geno.codes, geno.center, geno.scale, geno.missing_ptr, geno.missing_idx,
                    geno.xtx, geno.colsum, e, beta, comp, alphabet.gamma, derived["slab_var"],
                    log_pi, derived["sig2_e"], self.rng, snp_log_weights)
                n_windows = 0
            else:
                window_on = np.array(point["window_on"])
                pi_window = derived["pi_window"]
                n_nonzero, n_windows = sweep_nested_windows(
                    geno.codes, geno.center, geno.scale, geno.missing_ptr, geno.missing_idx,
                    geno.xtx, geno.colsum, e, beta, comp, alphabet.window_ptr, window_on,
                    alphabet.gamma, derived["slab_var"], log_pi,
                    math.log(pi_window) - math.log1p(-pi_window), derived["sig2_e"], self.rng,
                    snp_log_weights)
                new["window_on"] = window_on
            new["beta"], new["comp"] = beta, comp
            self.residuals.commit(beta=alphabet.snp_effects(new))
        seconds = time.perf_counter() - started
        genetic_variance = self.residuals.genetic_variance(new) if self.monitoring else math.nan
        return new, [{"n_nonzero": int(n_nonzero), "n_windows": int(n_windows),
                      "genetic_variance": genetic_variance, "sweep_seconds": seconds}]


class ConjugateStep(AlphabetStep):
    """A closed-form update of one variable. ``recognises`` checks the variable's prior family
    and its role in the graph (:mod:`bayesmix.inference.conjugacy`); the draw is written in the
    variable's value space (transformed when PyMC transforms it)."""

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        self.rv = vars[0]
        self.space = ValueSpace(self.model, self.rv)

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        raise NotImplementedError

    def write(self, point, constrained) -> tuple[dict, list]:
        new = dict(point)
        self.space.write(new, constrained)
        return new, [{}]


class FixedEffectsGibbs(ConjugateStep):
    """alpha | rest ~ N((C'C)^-1 C'(e + C alpha), sig2_e (C'C)^-1) under a flat prior."""

    name = "fixed_effects_gibbs"

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        design = self.alphabet.data.design
        gram = design.T @ design
        self._chol_inv = np.linalg.cholesky(np.linalg.inv(gram))
        self._solve = np.linalg.solve(gram, design.T)

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        """A flat prior on the model's design coefficients, whose only child is the observed
        phenotype."""
        children = direct_children(alphabet.model, rv)
        return (type(rv.owner.op).__name__ == "FlatRV"
                and rv is alphabet.model.named_vars.get("alpha")
                and len(children) == 1 and children[0] in alphabet.model.observed_RVs)

    def step(self, point):
        design = self.alphabet.data.design
        e = self.residuals.sync(point)
        alpha_old = np.asarray(point[self.space.name], dtype=np.float64)
        sig2_e = self.alphabet.derived_value(point, "sig2_e")
        mean = self._solve @ (e + design @ alpha_old)
        alpha = mean + math.sqrt(sig2_e) * self._chol_inv @ self.rng.standard_normal(len(mean))
        with self.updating_residuals():
            e += design @ (alpha_old - alpha)
            self.residuals.commit(alpha=alpha)
        return self.write(point, alpha)


class MixtureWeightsGibbs(ConjugateStep):
    """Mixture weights with a Beta or Dirichlet prior of constant parameters (a, b or a_k),
    whatever their name and transform, given the labels they are the probabilities of:

    - Beta, labels Categorical(1 - x, x) (pi of BayesC/S) or Bernoulli(x) (BayesN's
      pi_window): x | labels ~ Beta(a + #ones, b + #zeros);
    - Dirichlet, labels Categorical(x) (BayesR's pi): x | labels ~ Dirichlet(a + counts).
    """

    name = "mixture_weights_gibbs"

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        child, self.success = weights_role(self.model, self.rv)
        self.labels = self.model.rvs_to_values[child].name
        self.prior_params = constant_params(self.rv)

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        return beta_or_dirichlet(rv) and weights_role(alphabet.model, rv) is not None

    def step(self, point):
        labels = np.asarray(point[self.labels]).ravel()
        n_categories = 2 if self.success is not None else self.prior_params[0].shape[-1]
        counts = self._swept_counts(point, n_categories)
        if counts is None:
            counts = component_counts(labels, n_categories)  # labels outside raise
        if self.success is None:
            return self.write(point, self.rng.dirichlet(self.prior_params[0] + counts))
        ones = int(counts[self.success])
        a, b = (float(p) for p in self.prior_params)
        return self.write(point, self.rng.beta(a + ones, b + labels.size - ones))

    def _swept_counts(self, point, n_categories: int) -> np.ndarray | None:
        """The effects sweep's component counts when the labels are the effects' components
        and ``point`` holds the sweep's (:meth:`swept_statistics`), else None."""
        if self.labels != self.alphabet.component_name:
            return None
        swept = self.swept_statistics(point)
        return swept.counts if swept is not None and len(swept.counts) == n_categories else None


class _InverseGammaStep(ConjugateStep):
    """A variance with an inverse-gamma prior: ScaledInvChi2(nu, s2) = InverseGamma(nu / 2,
    nu s2 / 2); given k normal terms with sum of squares SS scaled by the variance, its
    conditional is ScaledInvChi2(nu + k, (nu s2 + SS) / (nu + k)). The parameters are
    constants, or read other variables of the point that are not this one (a plug-in
    scale, :class:`SlabScalePlugIn`): the conditional is the same given them."""

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        params = scaled_inv_chi2_params(self.rv)
        self._params_at = None
        if params is not None:
            self.nu, self.s2 = params
            return
        graphs = self.model.replace_rvs_by_values(list(scaled_inv_chi2_graphs(self.rv)))
        read = set(ancestors(graphs))
        self._param_inputs = [v for v in self.model.value_vars if v in read]
        self._params_at = self.model.compile_fn(graphs, inputs=self._param_inputs,
                                                on_unused_input="ignore", point_fn=False,
                                                mode=small_graph_mode())
        self._params_key = None

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        graphs = scaled_inv_chi2_graphs(rv)
        if graphs is None:
            return False
        own_value = alphabet.model.rvs_to_values.get(rv)
        read = set(ancestors(graphs))
        return rv not in read and own_value not in read and cls.plays_role(alphabet, rv)

    @classmethod
    def plays_role(cls, alphabet, rv) -> bool:
        raise NotImplementedError

    def prior(self, point):
        """(nu, s2) of the prior at ``point`` (evaluated again only when the variables they
        read changed)."""
        if self._params_at is not None:
            key = tuple(np.asarray(point[v.name]).tobytes() for v in self._param_inputs)
            if key != self._params_key:
                values = self._params_at(*[point[v.name] for v in self._param_inputs])
                self.nu, self.s2 = (np.asarray(v, np.float64) for v in values)
                self._params_key = key
        return self.nu, self.s2


def _scales_the_effects(alphabet, rv) -> bool:
    """rv's only child is the effect vector."""
    children = direct_children(alphabet.model, rv)
    return len(children) == 1 and children[0] is alphabet.model[alphabet.effects_name]


class EffectVarianceGibbs(_InverseGammaStep):
    """sig2_beta | beta, comp ~ ScaledInvChi2(nu + k, (nu s2 + sum beta_j^2 / w_j) / (nu + k)).

    Recognised for a scalar whose only child is the effect vector and which the slab variance
    is proportional to. k is the number of non-zero effects and w_j = gamma[c_j] v_j / sig2_beta
    the relative prior variance of effect j (gamma_k for BayesR, H_j^S for BayesS).
    """

    name = "effect_variance_gibbs"

    @classmethod
    def plays_role(cls, alphabet, rv) -> bool:
        return (rv.ndim == 0 and _scales_the_effects(alphabet, rv)
                and is_scale_of(alphabet.model, rv, alphabet._slab_var, alphabet.initial_point()))

    def step(self, point):
        nu, s2 = self.prior(point)
        sig2_beta = float(self.space.read(point))
        comp_var, factors = self.alphabet.slab_terms(point)
        swept = self.swept_statistics(point)
        if swept is not None and swept.unit_scale and factors is swept.var_scale:
            # w_j = comp_var[c_j] / sig2_beta: the sweep's sums of beta_j^2 per component
            slab = comp_var > 0
            k = int(swept.counts[slab].sum())
            weighted_ssq = sig2_beta * float(np.sum(swept.ssq[slab] / comp_var[slab]))
        else:
            k, weighted_ssq = slab_sum_of_squares(np.asarray(point["beta"], np.float64),
                                                  np.asarray(point["comp"]), comp_var, factors,
                                                  sig2_beta)
        dof = nu + k
        return self.write(point, draw_scaled_inv_chi2(self.rng, dof, (nu * s2 + weighted_ssq) / dof))


class SnpVarianceGibbs(_InverseGammaStep):
    """BayesB: v_j | beta_j ~ ScaledInvChi2(nu + 1, (nu s2 + beta_j^2) / (nu + 1)) for slab SNPs,
    the prior ScaledInvChi2(nu, s2) for spike SNPs (v is the slab variance itself)."""

    name = "snp_variance_gibbs"

    @classmethod
    def plays_role(cls, alphabet, rv) -> bool:
        return rv.ndim == 1 and rv is alphabet._slab_var and _scales_the_effects(alphabet, rv)

    def step(self, point):
        nu, s2 = self.prior(point)
        comp = np.asarray(point["comp"])
        beta = np.asarray(point["beta"])
        slab = self.alphabet.gamma[comp] > 0
        dof = np.where(slab, nu + 1.0, nu)
        scale = np.where(slab, (nu * s2 + beta**2) / (nu + 1.0), s2)
        return self.write(point, draw_scaled_inv_chi2(self.rng, dof, scale))


def is_likelihood_variance(alphabet, rv) -> bool:
    """rv is the model's residual variance and only observed variables depend on it."""
    children = direct_children(alphabet.model, rv)
    return (rv is alphabet._sig2_e and len(children) > 0
            and all(c in alphabet.model.observed_RVs for c in children))


class ResidualVarianceGibbs(_InverseGammaStep):
    """sig2_e | e ~ ScaledInvChi2(nu + n, (nu s2 + e'e) / (nu + n)); recognised for the
    residual variance of the likelihood (its children are observed variables only)."""

    name = "residual_variance_gibbs"

    @classmethod
    def plays_role(cls, alphabet, rv) -> bool:
        return rv.ndim == 0 and is_likelihood_variance(alphabet, rv)

    def step(self, point):
        nu, s2 = self.prior(point)
        e = self.residuals.sync(point)
        dof = nu + len(e)
        return self.write(point, draw_scaled_inv_chi2(self.rng, dof, (nu * s2 + float(e @ e)) / dof))


class ShapeScaleMetropolis(Adaptive, AlphabetStep):
    """BayesS: a joint Metropolis move of (S, sig2_beta) along their posterior ridge.

    Given the effects, S and sig2_beta are strongly correlated (raising S shrinks every H_j^S,
    which sig2_beta compensates), so one-at-a-time updates crawl. This move proposes
    S' = S + eps, eps ~ N(0, scale^2), and rescales sig2_beta' = sig2_beta m(S) / m(S') with
    m(S) = mean_j H_j^S, keeping the average prior variance fixed. The map is an involution
    for eps -> -eps with Jacobian m(S) / m(S'), which enters the acceptance ratio; the log
    density is that of the Markov blanket of (S, sig2_beta). The scale adapts during burn-in.
    Used in addition to the one-variable steps of S and sig2_beta.
    """

    name = "shape_scale_metropolis"
    stats_dtypes_shapes = {"accepted": (np.float64, [])}

    def __init__(self, vars, *, scale: float = 0.2, **kwargs):
        super().__init__(vars, **kwargs)
        shape_rv, scale_rv = vars
        others = [r for r in self.model.basic_RVs if r is not shape_rv and r is not scale_rv]
        children = [r for r in others
                    if {shape_rv, scale_rv} & set(ancestors(r.owner.inputs, blockers=others))]
        logp = blanket_logp(self.model, [shape_rv, scale_rv, *children])
        self._logp = self.model.compile_fn(logp, inputs=self.model.value_vars,
                                           on_unused_input="ignore", point_fn=False,
                                           mode=small_graph_mode())
        self._logp.trust_input = True
        het = self.alphabet.data.genotypes.heterozygosity
        self.log_het = np.log(het[het > 0])
        self._initial_log_scale = np.array(math.log(scale))
        self.reset_tuning()

    @classmethod
    def applies(cls, alphabet) -> bool:
        """Both S and sig2_beta are free and untransformed (value = constrained value)."""
        model = alphabet.model
        names = {rv.name: rv for rv in model.free_RVs}
        return ("S" in names and "sig2_beta" in names
                and model.rvs_to_transforms.get(names["S"]) is None
                and model.rvs_to_transforms.get(names["sig2_beta"]) is None)

    def _log_mean_h(self, shape: float) -> float:
        a = shape * self.log_het
        top = a.max()
        return top + math.log(np.exp(a - top).mean())

    def _eval(self, point):
        return float(self._logp(*[point[v.name] for v in self.model.value_vars]))

    def step(self, point):
        shape, scale = float(point["S"]), float(point["sig2_beta"])
        new_shape = shape + math.exp(float(self.log_scale)) * self.rng.standard_normal()
        log_ratio = self._log_mean_h(shape) - self._log_mean_h(new_shape)
        proposal = dict(point)
        proposal["S"] = np.asarray(new_shape)
        proposal["sig2_beta"] = np.asarray(scale * math.exp(log_ratio))
        log_accept = self._eval(proposal) - self._eval(point) + log_ratio
        accept = math.log(self.rng.random()) < log_accept
        if self.tune:
            self._adapt(float(accept))
            self.n_tuned += 1
        return (proposal if accept else dict(point)), [{"accepted": float(accept)}]


@dataclass_state
class SlabScaleState(PlugInState):
    """Sampling state of :class:`SlabScalePlugIn`: the schedule's, and the running sums over
    the burn-in iterations that set the scale: GenVar (and their count), the scales set
    (and their count)."""

    genetic_variance_sum: float
    n_genetic_variances: int
    scale_sum: float
    n_scales: int


class SlabScalePlugIn(BurnInPlugIn):
    """sig2_beta's prior scale adapted during burn-in, as GCTB does, then held.

    GCTB sets the prior scale of SigmaSq from the chain: at each of its first 2,000
    iterations it computes 0.5 Vg / (the slab's expected genetic variance per unit of
    SigmaSq) at the current state (for BayesS at the current S, with Vg the running mean of
    GenVar), and from then on keeps the mean of those scales. Without it the prior scale
    stays where ``--hsq`` and the starting S put it, and for BayesS the posterior of S then
    depends on its starting value (the scale moves by orders of magnitude with S).

    Here, on :class:`~bayesmix.inference.step_base.BurnInPlugIn`'s schedule, the plug-in
    variable (:data:`~bayesmix.models.alphabet.SLAB_SCALE`, which sig2_beta's
    ScaledInvChi2 prior reads) is set to ``alphabet.slab_scale_at(point, V)``, V the mean
    GenVar of the iterations that set it so far, and at the last burn-in iteration to the
    mean of the scales set: after burn-in it is held, and every step targets one fixed
    density. It is the last step of an iteration, reading that iteration's state as GCTB
    does, except in robust SBayes, where it reads the previous iteration's with the LD
    plug-ins (:func:`~bayesmix.inference.sbayes_gibbs.make_sbayes_steps`). The burn-in is
    the adaptation period (GCTB's is its first 2,000 iterations, whatever the burn-in).
    While the mean GenVar is not positive (no effects yet) the scale is left as it is.
    """

    name = "slab_scale_plug_in"
    _state_class = SlabScaleState
    plug_in_role = "sig2_beta's prior scale, adapted to the chain as GCTB's"
    stats_dtypes_shapes = {"slab_scale": (np.float64, [])}

    def _reset_sums(self) -> None:
        self.genetic_variance_sum, self.n_genetic_variances = 0.0, 0
        self.scale_sum, self.n_scales = 0.0, 0

    def step(self, point):
        name = self.vars[0].name
        if self.tune and self._sets_plug_ins():
            self.genetic_variance_sum += max(self.residuals.genetic_variance(point), 0.0)
            self.n_genetic_variances += 1
            mean_genetic_variance = self.genetic_variance_sum / self.n_genetic_variances
            scale = None
            if mean_genetic_variance > 0:
                scale = self.alphabet.slab_scale_at(point, mean_genetic_variance)
                self.scale_sum += scale
                self.n_scales += 1
            if self.tuning and self.tuned >= self.tuning and self.n_scales:
                scale = self.scale_sum / self.n_scales  # the last burn-in iteration
            if scale is not None:
                point = dict(point)
                point[name] = np.asarray(scale)
        return point, [{"slab_scale": float(point[name])}]


CONJUGATE_STEPS = (FixedEffectsGibbs, MixtureWeightsGibbs, EffectVarianceGibbs,
                   SnpVarianceGibbs, ResidualVarianceGibbs)


def slab_scale_plug_ins(alphabet, residuals) -> list[BlockedStep]:
    """[:class:`SlabScalePlugIn`] when the model's sig2_beta prior reads the plug-in scale
    :data:`~bayesmix.models.alphabet.SLAB_SCALE`, else []. It draws no random numbers, so
    it takes no seed from the step list's and the other steps' streams stay as they were."""
    if SLAB_SCALE not in alphabet.model.named_vars:
        return []
    return [SlabScalePlugIn([alphabet.model[SLAB_SCALE]], alphabet=alphabet,
                            residuals=residuals, model=alphabet.model)]


def make_steps(alphabet, *, rng=None) -> list[BlockedStep]:
    """The step list for an :class:`~bayesmix.models.alphabet.AlphabetModel`.

    The effects sweep comes first, then one step per other free variable: the first
    conjugate step that recognises the variable's prior, else a step for the per-SNP
    variables of a composed effect prior, else :class:`MarkovBlanketMetropolis`
    (:func:`bayesmix.inference.effect_steps.choose_step`); BayesS/NS add the joint
    :class:`ShapeScaleMetropolis` move of (S, sig2_beta), and last :class:`SlabScalePlugIn`
    where sig2_beta's prior scale adapts. Random generators are spawned from ``rng``
    (pm.sample and the chain driver re-seed them per chain through ``setup_chain``).
    """
    model = alphabet.model
    residuals = Residuals(alphabet)
    swept = ["beta", "comp"] + (["window_on"] if alphabet.window_ptr is not None else [])
    others = [rv for rv in model.free_RVs if rv.name not in (*swept, SLAB_SCALE)]
    seeds = np.random.default_rng(rng).spawn(len(others) + 2)
    steps = [EffectsGibbs([model[name] for name in swept], alphabet=alphabet,
                          residuals=residuals, model=model, rng=seeds[0])]
    for rv, seed in zip(others, seeds[1:]):
        chosen = choose_step(alphabet, rv, CONJUGATE_STEPS)
        steps.append(chosen([rv], alphabet=alphabet, residuals=residuals, model=model, rng=seed))
    if ShapeScaleMetropolis.applies(alphabet):
        steps.append(ShapeScaleMetropolis([model["S"], model["sig2_beta"]], alphabet=alphabet,
                                          residuals=residuals, model=model, rng=seeds[-1]))
    return steps + slab_scale_plug_ins(alphabet, residuals)


def sample(alphabet, draws: int = 1000, tune: int = 500, chains: int = 2, cores: int = 1,
           random_seed=None, **kwargs):
    """``pm.sample`` with the alphabet's steps, hyperparameters traced, per-SNP draws too.

    For large M prefer :func:`bayesmix.inference.chain.run_chains`, which keeps per-SNP
    summaries online instead of storing every draw.
    """
    kwargs.setdefault("compute_convergence_checks", False)
    kwargs.setdefault("progressbar", False)
    with alphabet.model:
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=cores,
                         random_seed=random_seed, step=make_steps(alphabet), **kwargs)
