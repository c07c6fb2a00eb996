"""Gibbs steps of the SBayes models (summary statistics + LD), in the alphabet's step framework.

Steps that differ from the individual-level alphabet (:mod:`bayesmix.inference.gibbs`):

- :class:`SBayesEffectsGibbs` - (beta, comp): the sparse-LD sweep of
  :func:`bayesmix.kernels.sbayes.sbayes_sweep`, keeping r = X'y - X'X beta (the summary-data
  counterpart of the residual vector) in a shared :class:`SummaryResiduals`;
- :class:`SBayesResidualVarianceGibbs` - sig2_e | beta ~ ScaledInvChi2(nu + omega nobs,
  (nu s2 + SSE) / (nu + omega nobs)) with SSE = omega y'y - beta'(X'y + r) (omega = 1 without
  the robust plug-ins), for an inverse-gamma prior (any name or transform) on the
  likelihood's residual variance;
- :class:`LDSamplingRatioPlugIn` - the robust setting's plug-ins h and omega of the LD
  sampling variance (:mod:`bayesmix.models.sbayes`): set from the state during burn-in, then
  fixed at their means over the burn-in's second half.

With the plug-ins, X'y, X'X and r are those of the graph's likelihood at h (per-SNP sample
sizes n_j / kappa_j, :meth:`~bayesmix.models.sbayes.SBayesModel.summaries_at`), so every step
- these, the alphabet's conjugate steps (weights and effect variance depend on beta and comp
only) and the generic Markov-blanket Metropolis step of any other prior - targets
``model.logp()``.

Divergence: a negative SSE (more variance explained than the phenotype has) means the effects
are blowing up, which happens when the LD does not fit the summary statistics (out-of-sample
or thresholded LD that is not positive definite). The residual step then raises
:class:`~bayesmix.errors.ConvergenceError` with advice instead of continuing with clipped,
silently wrong values.
"""

from __future__ import annotations

import math
import time

import numpy as np
from pymc.step_methods.compound import BlockedStep
from pymc.step_methods.state import dataclass_state

from bayesmix.distributions.variance import draw_scaled_inv_chi2
from bayesmix.errors import ConvergenceError
from bayesmix.inference.effect_steps import choose_step
from bayesmix.inference.gibbs import (CONJUGATE_STEPS, AlphabetStep, ResidualVarianceGibbs,
                                      shared_or_snp_weights, slab_scale_plug_ins)
from bayesmix.inference.step_base import BurnInPlugIn, PlugInState, SweepStatistics
from bayesmix.kernels.random import sweep_streams
from bayesmix.kernels.sbayes import (band_quadratic_form, effect_products, mixture_terms,
                                     sbayes_sweep, sbayes_sweep_band, sbayes_sweep_blocks,
                                     sbayes_sweep_upper, snp_weight_terms, xtx_times,
                                     xtx_times_band, xtx_times_upper)
from bayesmix.models.alphabet import SLAB_SCALE
from bayesmix.models.sbayes import SAMPLING_RATIO, SAMPLING_WEIGHT, divergence_advice

# the serial effects sweep and the X'X product for each LD layout of SBayesModel.ld_arrays
SWEEPS = {"csr": sbayes_sweep, "band": sbayes_sweep_band, "upper": sbayes_sweep_upper}
XTX_PRODUCTS = {"csr": xtx_times, "band": xtx_times_band, "upper": xtx_times_upper}


class SummaryResiduals:
    """r = X'y - X'X beta of one chain at the point's LD-sampling plug-in h (the arrays of
    :meth:`~bayesmix.models.sbayes.SBayesModel.summaries_at`), kept in sync with whatever
    point a step receives; recomputed when h changes (burn-in only)."""

    def __init__(self, sbayes):
        self.sbayes = sbayes
        self.reset()

    def reset(self) -> None:
        self.r = None
        self.beta = None
        self.ratio = None
        self.swept = None  # the last sweep's SweepStatistics
        self._genetic_variance = (None, 0.0)  # (effects array, its GenVar)

    def ratio_of(self, point) -> float | None:
        """The plug-in h held by ``point`` (None when the model has none)."""
        return float(point[SAMPLING_RATIO]) if self.sbayes.has_sampling_ratio else None

    def weight_of(self, point) -> float:
        """The plug-in omega held by ``point`` (1 when the model has none)."""
        return float(point[SAMPLING_WEIGHT]) if self.sbayes.has_sampling_ratio else 1.0

    def explained(self, point) -> float:
        """2 beta'X'y - beta'X'X beta of the likelihood at ``point``'s plug-in h (y'y - SSE)."""
        bxty, br = effect_products(np.asarray(point["beta"], dtype=np.float64),
                                   self.summaries(point)[2], self.sync(point))
        return bxty + br

    def summaries(self, point) -> tuple:
        """(s, X'X diagonal, X'y) of the target at ``point``'s plug-in."""
        return self.sbayes.summaries_at(self.ratio_of(point))

    def xtx_times(self, beta, s=None, xtx_diag=None) -> np.ndarray:
        """X'X beta with the given (default: unscaled) s and X'X diagonal."""
        m = self.sbayes
        s = m.sqrt_n if s is None else s
        xtx_diag = m.data.xtx_diag if xtx_diag is None else xtx_diag
        return XTX_PRODUCTS[m.ld_layout](*m.ld_arrays, m.data.ld.scale, s, xtx_diag, m.ridge,
                                         beta)

    def sync(self, point) -> np.ndarray:
        """r for ``point``: recomputed at a new plug-in h, else updated by the effects that
        changed since the last point. The effects of the last point are held, not copied:
        like PyMC's steps, bayesmix's never modify a point's arrays in place (a step returns
        new ones), so the same array object means the same effects."""
        held = point["beta"]
        ratio = self.ratio_of(point)
        if self.r is not None and ratio == self.ratio and held is self.beta:
            return self.r
        beta = np.asarray(held, dtype=np.float64)
        s, xtx_diag, xty = self.sbayes.summaries_at(ratio)
        if self.r is None or ratio != self.ratio:
            self.r = xty - self.xtx_times(beta, s, xtx_diag)
            self.ratio = ratio
        elif not np.array_equal(beta, self.beta):
            self.r -= self.xtx_times(beta - self.beta, s, xtx_diag)
        self.beta = beta
        return self.r

    def commit(self, *, beta=None, alpha=None) -> None:
        """Record that r already accounts for the effects ``beta``: the float64 array the
        caller puts in its new point (held, see :meth:`sync`)."""
        if beta is not None:
            self.beta = beta

    def genetic_variance(self, point) -> float:
        """beta'X'X beta / nobs (standardised scale, unscaled X'X): from r = X'y - X'X beta
        without a plug-in, else from the LD between the non-zero effects (band layout:
        :func:`~bayesmix.kernels.sbayes.band_quadratic_form`) or one product over them.
        The value does not depend on the plug-ins, so the last one is reused for the same
        effects array (held, as in :meth:`sync`): in burn-in the monitor, the slab-scale
        plug-in at the end of an iteration and the LD plug-ins at the start of the next all
        ask for the same effects' (a quadratic form costs more than a sweep)."""
        m = self.sbayes
        held = point["beta"]
        if held is self._genetic_variance[0]:
            return self._genetic_variance[1]
        beta = np.asarray(held, dtype=np.float64)
        if self.ratio_of(point) is None:
            bxty, br = effect_products(beta, m.data.xty, self.sync(point))
            value = (bxty - br) / m.data.nobs
        elif m.ld_layout == "band":
            value = band_quadratic_form(*m.ld_arrays, m.data.ld.scale, m.sqrt_n,
                                        m.data.xtx_diag, m.ridge, beta) / m.data.nobs
        else:
            value = float(beta @ self.xtx_times(beta)) / m.data.nobs
        self._genetic_variance = (held, value)
        return value

    def state(self) -> dict:
        return {"r": None if self.r is None else self.r.copy(), "beta": self.beta,
                "ratio": self.ratio}

    def set_state(self, state: dict) -> None:
        self.r, self.beta, self.ratio = state["r"], state["beta"], state["ratio"]
        self.swept = None
        self._genetic_variance = (None, 0.0)


class SBayesEffectsGibbs(AlphabetStep):
    """Single-site Gibbs update of every (comp_j, beta_j) with sparse LD: one numba sweep.

    Exact Gibbs for the graph's likelihood: with the LD-sampling plug-in h the sweep runs on
    the arrays of n_j / kappa_j (:meth:`~bayesmix.models.sbayes.SBayesModel.summaries_at`)
    with residual variance sig2_e, so SNP j's conditional has residual variance
    sig2_e kappa_j = sig2_e + LDsamplVar_j h sig2_e.
    """

    name = "sbayes_effects_gibbs"
    stats_dtypes_shapes = {"n_nonzero": (np.int64, []), "genetic_variance": (np.float64, []),
                           "sweep_seconds": (np.float64, [])}

    def step(self, point):
        m = self.alphabet
        derived = m.derived(point)
        r = self.residuals.sync(point)
        s, xtx_diag, _ = self.residuals.summaries(point)
        beta = np.array(point["beta"], dtype=np.float64)
        comp = np.array(point["comp"])
        uniforms, effect_uniforms = sweep_streams(self.rng, m.n_snps)
        log_pi, snp_log_weights = shared_or_snp_weights(derived["log_pi"])
        comp_var, var_scale = m.slab_terms(point)
        args = (*m.ld_arrays, m.data.ld.scale, s, xtx_diag, m.ridge, r, beta, comp,
                mixture_terms(log_pi, comp_var), var_scale, float(derived["sig2_e"]), uniforms,
                effect_uniforms,
                None if snp_log_weights is None else snp_weight_terms(snp_log_weights, comp_var))
        started = time.perf_counter()
        with self.updating_residuals():
            if m.block_bounds is not None:
                counts, ssq = sbayes_sweep_blocks(m.block_bounds, *args)
            else:
                counts, ssq = SWEEPS[m.ld_layout](*args)
            self.residuals.commit(beta=beta)
        seconds = time.perf_counter() - started
        m.check_effects(beta, ssq, var_scale)
        self.residuals.swept = SweepStatistics(beta, comp, counts, ssq, var_scale,
                                               derived["slab_shared"] is not None)
        new = dict(point)
        new["beta"], new["comp"] = beta, comp
        n_nonzero = int(counts[m.gamma > 0].sum())
        return new, [{"n_nonzero": n_nonzero,
                      "genetic_variance": (self.residuals.genetic_variance(new)
                                           if self.monitoring else math.nan),
                      "sweep_seconds": seconds}]


@dataclass_state
class LDSamplingState(PlugInState):
    """Sampling state of :class:`LDSamplingRatioPlugIn`: the schedule's, and the running sums
    of h and omega over the settings of the burn-in's second half (and their count)."""

    ratio_sum: float
    weight_sum: float
    n_averaged: int


class LDSamplingRatioPlugIn(BurnInPlugIn):
    """The robust setting's plug-ins, set from the current state during burn-in and then held
    fixed: h = GenVar / sig2_e (GenVar = beta'X'X beta / nobs) and omega, the share of the
    explained variance 2 beta'X'y - beta'X'X beta that the likelihood at h keeps (clipped to
    [1 / max kappa, 1]; 1 while it is not positive).

    Both are variables of the graph (``ld_sampling_ratio``, ``ld_sampling_weight``) that the
    likelihood reads, so during burn-in the target follows the chain as GCTB's correction does
    (SNP j's residual variance is sig2_e + LDsamplVar_j GenVar, and sig2_e's conditional has
    the residual sum of squares y'y - 2 beta'X'y + beta'X'X beta, at the plug-in point); after
    burn-in (``stop_tuning``) this step leaves them unchanged and every other step targets one
    fixed density, ``model.logp()`` at those values. It runs before the effects sweep, which
    thus conditions on the previous state's GenVar, as in GCTB.

    The values held after burn-in are the means of those set in the second half of the
    burn-in (set at the last burn-in iteration), not one state's: GCTB uses the current
    GenVar at every iteration, so its posterior averages over GenVar's, while one state's h
    is a single draw (its SD over the chain was 7% of h on a 20,000-SNP shrunk LD), which
    made each chain target a different density: SBayesS's hsq moved by 0.011 (SD) between
    seeds there, as much as its posterior SD, against 0.0003 for GCTB (docs/sbayes.md,
    "Against GCTB 2.05: SBayesS"). Without a planned burn-in length (no ``setup_chain``)
    the last state's values are held.

    A new h rescales X'X, so the residuals are recomputed from every nonzero column (about a
    sweep's cost). The plug-ins are therefore set on :class:`BurnInPlugIn`'s schedule, which
    ends with the last burn-in iteration.
    """

    name = "ld_sampling_ratio_plug_in"
    _state_class = LDSamplingState
    plug_in_role = "the LD sampling-variance correction's h = GenVar / sig2_e and omega"
    stats_dtypes_shapes = {"ld_sampling_ratio": (np.float64, []),
                           "ld_sampling_weight": (np.float64, [])}

    def _reset_sums(self) -> None:
        self.ratio_sum, self.weight_sum, self.n_averaged = 0.0, 0.0, 0

    def step(self, point):
        if self.tune and self._sets_plug_ins():
            m = self.alphabet
            genetic_variance = self.residuals.genetic_variance(point)
            ratio = max(genetic_variance, 0.0) / m.derived_value(point, "sig2_e")
            explained = 2.0 * float(np.asarray(point["beta"]) @ m.data.xty) - (
                genetic_variance * m.data.nobs)
            weight = 1.0
            if explained > 0:
                floor = 1.0 / m.max_inflation(ratio)
                point = dict(point)
                point[SAMPLING_RATIO] = np.asarray(ratio)  # explained() reads the new h
                weight = min(max(self.residuals.explained(point) / explained, floor), 1.0)
            if self.tuning and 2 * self.tuned > self.tuning:  # the burn-in's second half
                self.ratio_sum += ratio
                self.weight_sum += weight
                self.n_averaged += 1
                if self.tuned >= self.tuning:  # the last burn-in iteration: hold the means
                    ratio = self.ratio_sum / self.n_averaged
                    weight = self.weight_sum / self.n_averaged
            point = dict(point)
            point[SAMPLING_RATIO] = np.asarray(ratio)
            point[SAMPLING_WEIGHT] = np.asarray(weight)
        return point, [{"ld_sampling_ratio": float(point[SAMPLING_RATIO]),
                        "ld_sampling_weight": float(point[SAMPLING_WEIGHT])}]


class SBayesResidualVarianceGibbs(ResidualVarianceGibbs):
    """sig2_e | beta ~ ScaledInvChi2(nu + nobs, (nu s2 + SSE) / (nu + nobs)), SSE from summaries."""

    name = "sbayes_residual_variance_gibbs"

    def step(self, point):
        nu, s2 = self.prior(point)
        m = self.alphabet
        weight = self.residuals.weight_of(point)
        sse = weight * m.data.yty - self.residuals.explained(point)  # ops.sbayes's SSE_kappa
        if not sse > 0:
            raise ConvergenceError(
                f"Residual variance is negative ({sse / (weight * m.data.nobs):.4g}): the effect "
                f"sizes are blowing up (genetic variance "
                f"{self.residuals.genetic_variance(point):.4g} of a phenotypic variance of 1). "
                f"{divergence_advice(m)}")
        dof = nu + weight * m.data.nobs
        return self.write(point, draw_scaled_inv_chi2(self.rng, dof, (nu * s2 + sse) / dof))


def make_sbayes_steps(sbayes, *, rng=None) -> list[BlockedStep]:
    """The step list of an :class:`~bayesmix.models.sbayes.SBayesModel`.

    With the robust setting's LD-sampling plug-ins, :class:`LDSamplingRatioPlugIn` first; then
    the effects sweep, then per other free variable the first step that recognises its
    prior (the summary-data residual variance, then the alphabet's conjugate steps), else
    the alphabet's choice for other variables (:func:`bayesmix.inference.effect_steps.choose_step`).
    Where sig2_beta's prior scale adapts, :class:`~bayesmix.inference.gibbs.SlabScalePlugIn`
    runs right after the LD-sampling plug-ins, so that both read the previous iteration's
    effects and share one GenVar (a quadratic form with the LD, more than a sweep's cost;
    :meth:`SummaryResiduals.genetic_variance`), or last without them (GenVar from r).
    """
    model = sbayes.model
    residuals = SummaryResiduals(sbayes)
    swept = (sbayes.effects_name, sbayes.component_name, SAMPLING_RATIO, SAMPLING_WEIGHT,
             SLAB_SCALE)
    others = [rv for rv in model.free_RVs if rv.name not in swept]
    seeds = np.random.default_rng(rng).spawn(len(others) + 2)
    steps = [SBayesEffectsGibbs([model["beta"], model["comp"]], alphabet=sbayes,
                                residuals=residuals, model=model, rng=seeds[0])]
    slab_scale = slab_scale_plug_ins(sbayes, residuals)
    if sbayes.has_sampling_ratio:
        plug_ins = [model[SAMPLING_RATIO], model[SAMPLING_WEIGHT]]
        steps[:0] = [LDSamplingRatioPlugIn(plug_ins, alphabet=sbayes, residuals=residuals,
                                           model=model, rng=seeds[-1]), *slab_scale]
        slab_scale = []
    candidates = (SBayesResidualVarianceGibbs,) + tuple(
        c for c in CONJUGATE_STEPS if c is not ResidualVarianceGibbs)
    for rv, seed in zip(others, seeds[1:]):
        chosen = choose_step(sbayes, rv, candidates)
        steps.append(chosen([rv], alphabet=sbayes, residuals=residuals, model=model, rng=seed))
    return steps + slab_scale
