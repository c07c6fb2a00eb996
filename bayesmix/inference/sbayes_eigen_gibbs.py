"""Gibbs steps of SBayes on eigen-decomposed block LD (:mod:`bayesmix.models.sbayes_eigen`).

- :class:`EigenEffectsGibbs` - (beta, comp): the sweep of
  :func:`bayesmix.kernels.sbayes_eigen.eigen_sweep` (in threads over runs of blocks with the
  model's ``threads``), keeping the rotated residual
  e = w - Q beta in a shared :class:`EigenResiduals`;
- :class:`BlockResidualVarianceGibbs` - per block, sig2_b | beta ~ ScaledInvChi2(nu + k_b,
  (nu s2 + n_b e_b'e_b) / (nu + k_b)), for an inverse-gamma prior of constant parameters on
  the likelihood's vector of residual variances;
- the alphabet's conjugate steps for the weights and the effect variance, and its
  Markov-blanket Metropolis step for any other prior (:func:`make_eigen_steps`).
"""

from __future__ import annotations

import math
import time

import numpy as np
from pymc.step_methods.compound import BlockedStep

from bayesmix.distributions.variance import draw_scaled_inv_chi2
from bayesmix.inference.effect_steps import choose_step
from bayesmix.inference.gibbs import (CONJUGATE_STEPS, AlphabetStep, ResidualVarianceGibbs,
                                      _InverseGammaStep, is_likelihood_variance,
                                      shared_or_snp_weights, slab_scale_plug_ins)
from bayesmix.kernels.random import sweep_streams
from bayesmix.kernels.sbayes import mixture_terms, snp_weight_terms
from bayesmix.kernels.sbayes_eigen import (block_sums_of_squares, eigen_fitted, eigen_sweep,
                                           eigen_sweep_threads)
from bayesmix.models.alphabet import SLAB_SCALE


class EigenResiduals:
    """e = w - Q beta of one chain (rotated space, sum_b k_b values), kept in sync with
    whatever point a step receives."""

    def __init__(self, model):
        self.model = model
        self.reset()

    def reset(self) -> None:
        self.e = None
        self.beta = None

    def _fitted(self, beta) -> np.ndarray:
        d = self.model.data
        return eigen_fitted(d.block_ptr, d.rank_ptr, d.q_ptr, d.q_values, beta)

    def sync(self, point) -> np.ndarray:
        beta = np.asarray(point["beta"], dtype=np.float64)
        if self.e is None:
            self.e = self.model.data.w - self._fitted(beta)
        elif not np.array_equal(beta, self.beta):
            self.e -= self._fitted(beta - self.beta)
        self.beta = beta.copy()
        return self.e

    def commit(self, *, beta=None, alpha=None) -> None:
        if beta is not None:
            self.beta = np.array(beta, dtype=np.float64)

    def block_sse(self, point) -> np.ndarray:
        """n_b e_b'e_b per block (the residual sums of squares on the sqrt(n_b) scale)."""
        d = self.model.data
        return d.n_block * block_sums_of_squares(d.rank_ptr, self.sync(point))

    def genetic_variance(self, point) -> float:
        """beta'Q'Q beta = |w - e|^2 (standardised scale, phenotype variance 1; weighted back
        by d_t when the noise is, :meth:`EigenSummaryData.squared_norm`)."""
        data = self.model.data
        return data.squared_norm(data.w - self.sync(point))

    def state(self) -> dict:
        return {"e": None if self.e is None else self.e.copy(), "beta": self.beta}

    def set_state(self, state: dict) -> None:
        self.e, self.beta = state["e"], state["beta"]


class EigenEffectsGibbs(AlphabetStep):
    """Single-site Gibbs update of every (comp_j, beta_j) on eigen LD: one numba sweep, exact
    Gibbs for the graph's likelihood (each block with its own residual variance)."""

    name = "eigen_effects_gibbs"
    stats_dtypes_shapes = {"n_nonzero": (np.int64, []), "genetic_variance": (np.float64, []),
                           "sweep_seconds": (np.float64, [])}

    def step(self, point):
        m = self.alphabet
        d = m.data
        derived = m.derived(point)
        e = self.residuals.sync(point)
        beta = np.array(point["beta"], dtype=np.float64)
        comp = np.array(point["comp"])
        uniforms, effect_uniforms = sweep_streams(self.rng, m.n_snps)
        log_pi, snp_log_weights = shared_or_snp_weights(derived["log_pi"])
        vare = np.broadcast_to(np.asarray(derived["sig2_e"], np.float64), (d.n_blocks,))
        comp_var, var_scale = m.slab_terms(point)
        started = time.perf_counter()
        args = (d.block_ptr, d.rank_ptr, d.q_ptr, d.q_values, d.n_block, d.qq, e, beta, comp,
                mixture_terms(log_pi, comp_var), var_scale, np.ascontiguousarray(vare),
                uniforms, effect_uniforms,
                None if snp_log_weights is None else snp_weight_terms(snp_log_weights, comp_var))
        with self.updating_residuals():
            if m.threads > 1:
                counts, _ = eigen_sweep_threads(*args, threads=m.threads)
            else:
                counts, _ = eigen_sweep(*args)
            self.residuals.commit(beta=beta)
        seconds = time.perf_counter() - started
        m.check_effects(beta)
        new = dict(point)
        new["beta"], new["comp"] = beta, comp
        return new, [{"n_nonzero": int(counts[m.gamma > 0].sum()),
                      "genetic_variance": (self.residuals.genetic_variance(new)
                                           if self.monitoring else math.nan),
                      "sweep_seconds": seconds}]


class BlockResidualVarianceGibbs(_InverseGammaStep):
    """sig2_b | beta ~ ScaledInvChi2(nu + k_b, (nu s2 + n_b e_b'e_b) / (nu + k_b)) for every
    block b at once; recognised for the eigen likelihood's vector of residual variances (its
    children are observed variables only)."""

    name = "block_residual_variance_gibbs"

    @classmethod
    def plays_role(cls, alphabet, rv) -> bool:
        return rv.ndim == 1 and is_likelihood_variance(alphabet, rv)

    def step(self, point):
        nu, s2 = self.prior(point)
        d = self.alphabet.data
        dof = nu + d.ranks.astype(np.float64)
        sse = self.residuals.block_sse(point)
        return self.write(point, draw_scaled_inv_chi2(self.rng, dof, (nu * s2 + sse) / dof))


def make_eigen_steps(sbayes, *, rng=None) -> list[BlockedStep]:
    """The step list of an :class:`~bayesmix.models.sbayes_eigen.SBayesEigenModel`: the
    effects sweep, then per other free variable the first step that recognises its prior
    (the per-block residual variances, then the alphabet's conjugate steps), else the
    alphabet's choice (:func:`bayesmix.inference.effect_steps.choose_step`); last
    :class:`~bayesmix.inference.gibbs.SlabScalePlugIn` where sig2_beta's prior scale adapts."""
    model = sbayes.model
    residuals = EigenResiduals(sbayes)
    swept = (sbayes.effects_name, sbayes.component_name, SLAB_SCALE)
    others = [rv for rv in model.free_RVs if rv.name not in swept]
    seeds = np.random.default_rng(rng).spawn(len(others) + 1)
    steps = [EigenEffectsGibbs([model["beta"], model["comp"]], alphabet=sbayes,
                               residuals=residuals, model=model, rng=seeds[0])]
    candidates = (BlockResidualVarianceGibbs,) + tuple(
        c for c in CONJUGATE_STEPS if c is not ResidualVarianceGibbs)
    for rv, seed in zip(others, seeds[1:]):
        chosen = choose_step(sbayes, rv, candidates)
        steps.append(chosen([rv], alphabet=sbayes, residuals=residuals, model=model, rng=seed))
    return steps + slab_scale_plug_ins(sbayes, residuals)
