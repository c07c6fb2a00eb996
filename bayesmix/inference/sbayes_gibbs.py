"""Gibbs steps of the SBayes models (summary statistics + LD), in the alphabet's step framework.

Only two steps differ from the individual-level alphabet (:mod:`bayesmix.inference.gibbs`):

- :class:`SBayesEffectsGibbs` - (beta, comp): the sparse-LD sweep of
  :func:`bayesmix.kernels.sbayes.sbayes_sweep`, keeping r = X'y - X'X beta (the summary-data
  counterpart of the residual vector) in a shared :class:`SummaryResiduals`;
- :class:`SBayesResidualVarianceGibbs` - sig2_e | beta ~ ScaledInvChi2(nu + nobs,
  (nu s2 + SSE) / (nu + nobs)) with SSE = y'y - beta'(X'y + r).

The mixture weights and the effect variance use the alphabet's conjugate steps unchanged
(their conditionals depend on beta and comp only), BayesS's S the alphabet's generic
Markov-blanket Metropolis step.

Divergence: a negative SSE (more variance explained than the phenotype has) means the effects
are blowing up, which happens when the LD does not fit the summary statistics (out-of-sample
or thresholded LD that is not positive definite). The residual step then raises
:class:`~bayesmix.errors.ConvergenceError` with advice instead of continuing with clipped,
silently wrong values.
"""

from __future__ import annotations

import time

import numpy as np
from pymc.step_methods.compound import BlockedStep

from bayesmix.distributions.variance import draw_scaled_inv_chi2
from bayesmix.errors import ConvergenceError
from bayesmix.inference.effect_steps import choose_step
from bayesmix.inference.gibbs import (CONJUGATE_STEPS, AlphabetStep, ResidualVarianceGibbs,
                                      shared_or_snp_weights)
from bayesmix.kernels.sbayes import (effect_products, mixture_terms, sbayes_sweep, sbayes_sweep_band,
                                     sbayes_sweep_blocks, sbayes_sweep_upper, snp_weight_terms,
                                     xtx_times,
                                     xtx_times_band, xtx_times_upper)

# the serial effects sweep and the X'X product for each LD layout of SBayesModel.ld_arrays
SWEEPS = {"csr": sbayes_sweep, "band": sbayes_sweep_band, "upper": sbayes_sweep_upper}
XTX_PRODUCTS = {"csr": xtx_times, "band": xtx_times_band, "upper": xtx_times_upper}

def divergence_advice(sbayes) -> str:
    """What to try when a chain blows up, naming only settings this run does not use yet."""
    data, tips = sbayes.data, []
    kind = data.ld.kind
    if not sbayes.robust:
        tips.append("the robust setting (drop --no-robust)")
    elif sbayes.ridge < 0.2:
        tips.append(f"a larger --ld-ridge (this run used {sbayes.ridge:.3g}; e.g. 0.2)")
    if kind == "sparse":
        tips.append("LD that is positive definite: thresholded sparse LD is not "
                    "(--make-shrunk-ldm, or full/window LD)")
    elif kind != "shrunk":
        tips.append("shrunk LD (--make-shrunk-ldm)")
    n_ref = data.ld.n_samples
    if n_ref and n_ref < 5000:
        tips.append(f"a larger LD reference panel (this one has {n_ref:,} people)")
    if data.ld_in_sample:
        tips.append("--ld-out-of-sample if the LD panel is not the GWAS sample")
    if getattr(data.qc, "imputed_n", None) is None:
        tips.append("per-SNP sample sizes from the statistics (--impute-n)")
    return ("This happens when the LD matrix does not match the GWAS (LD from a small or "
            "different reference panel, or LD that is not positive definite). Try: "
            + "; ".join(tips) + ". Check the allele alignment of the summary statistics too.")


class SummaryResiduals:
    """r = X'y - X'X beta of one chain, kept in sync with whatever point a step receives."""

    def __init__(self, sbayes):
        self.sbayes = sbayes
        self.reset()

    def reset(self) -> None:
        self.r = None
        self.beta = None

    def _xtx_times(self, beta):
        m = self.sbayes
        return XTX_PRODUCTS[m.ld_layout](*m.ld_arrays, m.data.ld.scale, m.sqrt_n,
                                         m.data.xtx_diag, m.ridge, beta)

    def sync(self, point) -> np.ndarray:
        beta = np.asarray(point["beta"], dtype=np.float64)
        if self.r is None:
            self.r = self.sbayes.data.xty - self._xtx_times(beta)
        elif not np.array_equal(beta, self.beta):
            self.r -= self._xtx_times(beta - self.beta)
        self.beta = beta.copy()
        return self.r

    def commit(self, *, beta=None, alpha=None) -> None:
        if beta is not None:
            self.beta = np.array(beta, dtype=np.float64)

    def state(self) -> dict:
        return {"r": None if self.r is None else self.r.copy(), "beta": self.beta}

    def set_state(self, state: dict) -> None:
        self.r, self.beta = state["r"], state["beta"]


def genetic_variance(sbayes, beta, r) -> float:
    """beta'X'X beta / nobs = beta'(X'y - r) / nobs: variance explained (standardised scale)."""
    bxty, br = effect_products(beta, sbayes.data.xty, r)
    return (bxty - br) / sbayes.data.nobs


class SBayesEffectsGibbs(AlphabetStep):
    """Single-site Gibbs update of every (comp_j, beta_j) with sparse LD: one numba sweep.

    The residual variance of SNP j is sig2_e, plus LDsamplVar_j * GenVar when the model uses
    GCTB's LD-sampling-variance correction (``sbayes.ld_sampling_variance``).
    """

    name = "sbayes_effects_gibbs"
    stats_dtypes_shapes = {"n_nonzero": (np.int64, []), "genetic_variance": (np.float64, []),
                           "sweep_seconds": (np.float64, [])}

    def step(self, point):
        m = self.alphabet
        derived = m.derived(point)
        r = self.residuals.sync(point)
        beta = np.array(point["beta"], dtype=np.float64)
        comp = np.array(point["comp"])
        vare = np.full(m.n_snps, derived["sig2_e"])
        if m.ld_sampling_variance:
            vare += m.data.ld_sampling_var * max(genetic_variance(m, beta, r), 0.0)
        uniforms, effect_uniforms = self.rng.random((2, m.n_snps))
        log_pi, snp_log_weights = shared_or_snp_weights(derived["log_pi"])
        args = (*m.ld_arrays, m.data.ld.scale, m.sqrt_n, m.data.xtx_diag, m.ridge, r, beta,
                comp, mixture_terms(log_pi, m.gamma), derived["slab_var"], vare,
                uniforms, effect_uniforms,
                None if snp_log_weights is None else snp_weight_terms(snp_log_weights, m.gamma))
        started = time.perf_counter()
        if m.block_bounds is not None:
            counts, _ = sbayes_sweep_blocks(m.block_bounds, *args)
        else:
            counts, _ = SWEEPS[m.ld_layout](*args)
        seconds = time.perf_counter() - started
        self.residuals.commit(beta=beta)
        new = dict(point)
        new["beta"], new["comp"] = beta, comp
        n_nonzero = int(counts[m.gamma > 0].sum())
        return new, [{"n_nonzero": n_nonzero, "genetic_variance": genetic_variance(m, beta, r),
                      "sweep_seconds": seconds}]


class SBayesResidualVarianceGibbs(ResidualVarianceGibbs):
    """sig2_e | beta ~ ScaledInvChi2(nu + nobs, (nu s2 + SSE) / (nu + nobs)), SSE from summaries."""

    name = "sbayes_residual_variance_gibbs"

    def step(self, point):
        nu, s2 = self.prior()
        m = self.alphabet
        r = self.residuals.sync(point)
        beta = np.asarray(point["beta"], dtype=np.float64)
        bxty, br = effect_products(beta, m.data.xty, r)
        sse = m.data.yty - bxty - br
        if not sse > 0:
            raise ConvergenceError(
                f"Residual variance is negative ({sse / m.data.nobs:.4g}): the effect sizes are "
                f"blowing up (genetic variance {genetic_variance(m, beta, r):.4g} of a "
                f"phenotypic variance of 1). {divergence_advice(m)}")
        dof = nu + m.data.nobs
        new = dict(point)
        new["sig2_e"] = np.asarray(draw_scaled_inv_chi2(self.rng, dof, (nu * s2 + sse) / dof))
        return new, [{}]


def make_sbayes_steps(sbayes, *, rng=None) -> list[BlockedStep]:
    """The step list of an :class:`~bayesmix.models.sbayes.SBayesModel`.

    The effects sweep first, then per other free variable the first step that recognises its
    prior (the summary-data residual variance, then the alphabet's conjugate steps), else
    the alphabet's choice for other variables (:func:`bayesmix.inference.effect_steps.choose_step`).
    """
    model = sbayes.model
    residuals = SummaryResiduals(sbayes)
    others = [rv for rv in model.free_RVs if rv.name not in (sbayes.effects_name,
                                                             sbayes.component_name)]
    seeds = np.random.default_rng(rng).spawn(len(others) + 1)
    steps = [SBayesEffectsGibbs([model["beta"], model["comp"]], alphabet=sbayes,
                                residuals=residuals, model=model, rng=seeds[0])]
    candidates = (SBayesResidualVarianceGibbs,) + tuple(
        c for c in CONJUGATE_STEPS if c is not ResidualVarianceGibbs)
    for rv, seed in zip(others, seeds[1:]):
        chosen = choose_step(sbayes, rv, candidates)
        steps.append(chosen([rv], alphabet=sbayes, residuals=residuals, model=model, rng=seed))
    return steps
