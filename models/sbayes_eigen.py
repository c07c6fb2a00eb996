"""SBayesC/R/S on eigen-decomposed block LD: the low-rank likelihood of SBayesRC.

Model (standardised scale; :mod:`bayesmix.prepare.eigen_data`): per LD block b, the rotated
marginal effects w_b = diag(lambda_b)^-1/2 U_b' b*_b follow

    w_b = Q_b beta_b + e_b,   e_b ~ N(0, sig2_b / n_b D_b),   Q_b = diag(lambda_b)^1/2 U_b',

with the alphabet's prior on beta (:mod:`bayesmix.models.sbayes`) and a residual variance
sig2_b per block, each with the scaled-inverse-chi-square prior GCTB gives its residual
variance (4 df, scale from the starting heritability). The likelihood is positive definite
by construction (Q_b'Q_b is the kept part of R_b), whatever the panel, and the block's
residual variance absorbs what its LD cannot explain: where the panel's LD differs from the
GWAS sample's, the part of b* that Q_b beta_b cannot reproduce enters e_b, whose variance
then exceeds the 1 - hsq of a well-matched block instead of pulling the effects apart.
D_b = diag(1 + c / lambda_t) weights that noise per eigen direction, where a panel's small
eigenvalues magnify it (:mod:`bayesmix.prepare.eigen_noise`; the data then holds the
transformed statistics, and D_b = I with ``--eigen-noise flat``, SBayesRC's model).

Reported per iteration: GenVar = beta'Q'Q beta = sum_b |Q_b beta_b|^2 (the genetic variance
under the kept LD, phenotype variance 1), hsq = GenVar (on the standardised scale the
phenotypic variance is 1 by construction, so a block's extra residual variance does not
lower it), ResVar = the residual variances' mean weighted by k_b.
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from bayesmix.distributions.graph import WeakLogp
from bayesmix.distributions.variance import ScaledInvChi2
from bayesmix.errors import InputError
from bayesmix.kernels.sbayes_eigen import block_sums_of_squares
from bayesmix.models.alphabet import AlphabetPrior, default_weights
from bayesmix.models.sbayes import SummaryAlphabetModel
from bayesmix.ops.sbayes_eigen import eigen_loglik
from bayesmix.prepare.eigen_data import EigenSummaryData

BLOCK_VARIANCE = "sig2_e"  # the per-block residual variances (dims "block")
def eigen_prior(method: str) -> AlphabetPrior:
    """GCTB 2.05's prior settings for ``method`` (RC: R's), the defaults of ``bayesmix-gctb
    --ldm-eigen``: starting hsq 0.1, and for R five components (:meth:`AlphabetPrior.gctb`)."""
    return AlphabetPrior.gctb("R" if method == "RC" else method)


class SBayesEigenModel(SummaryAlphabetModel):
    """A PyMC graph of SBayesC/R/S on eigen-decomposed block LD (see the module docstring).

    Parameters
    ----------
    data : EigenSummaryData (from :func:`~bayesmix.prepare.eigen_data.prepare_eigen_data`).
    prior, hyperpriors, unscaled : as in :class:`~bayesmix.models.sbayes.SBayesModel`
        (``hyperpriors["sig2_e"]`` replaces the prior of the per-block residual variances:
        a callable(name) declaring a variable of dims "block"); a method name as ``prior``
        takes GCTB's defaults on eigen LD, as ``bayesmix-gctb --ldm-eigen`` does
        (:func:`eigen_prior`).
    threads : sweep runs of blocks in this many parallel threads (same draws).

    Attributes
    ----------
    model : pm.Model with free variables sig2_e (one per block), pi (unless fixed),
        sig2_beta, S (S only), comp, beta; observed ``w`` (the rotated statistics).
    """

    def __init__(self, data: EigenSummaryData, prior: AlphabetPrior | str = "C", *,
                 hyperpriors=None, unscaled: bool = False, threads: int = 1):
        if not isinstance(data, EigenSummaryData):
            raise InputError("SBayesEigenModel needs EigenSummaryData (prepare_eigen_data)")
        self.data = data
        self.threads = int(threads)
        self._init_prior(eigen_prior(prior) if isinstance(prior, str) else prior, hyperpriors,
                         unscaled)
        self._init_caches()
        self.start = self._starting_values()
        self.model = self._built()

    @property
    def column_variance(self) -> np.ndarray:
        return self.data.ld_diagonal

    def _starting_values(self) -> dict:
        """The alphabet's starts, with each block's residual variance started where its
        conditional posterior sits when all effects are zero, n_b |w_b|^2 / k_b (1 - hsq
        for a block without eigenvectors). The prior's scale stays from the starting hsq.
        A start at 1 - hsq lets the first sweep fit the panel's LD mismatch as effects:
        at 1.1M SNPs (residual variances near 2.4) it stopped SBayesR at iteration 1."""
        start = super()._starting_values()
        d = self.data
        ranks = d.ranks
        at_zero = d.n_block * block_sums_of_squares(d.rank_ptr, d.w) / np.maximum(ranks, 1)
        start["sig2_e_init"] = np.where(ranks > 0, at_zero, start["sig2_e"])
        return start

    @property
    def ld_bytes(self) -> int:
        """Memory of the eigenvectors the sweeps read."""
        return int(self.data.q_values.nbytes)

    @property
    def has_sampling_ratio(self) -> bool:
        """No LD-sampling plug-ins: the per-block residual variances take their part."""
        return False

    def _build(self) -> pm.Model:
        d, p, s = self.data, self.prior, self.start
        coords = {"snp": d.stats["SNP"].astype(str).to_list(),
                  "component": np.arange(self.n_components),
                  "block": [str(b) for b in d.block_ids]}
        with pm.Model(coords=coords) as model:
            sig2_e = self._hyper(BLOCK_VARIANCE, lambda: ScaledInvChi2(
                BLOCK_VARIANCE, p.nu_e, (p.nu_e - 2.0) / p.nu_e * s["sig2_e"], dims="block"))
            weights, slab_var, beta = self._declare_effect_prior(
                lambda: default_weights(p, s["pi"], self._hyper), self._default_slab_var)
            pm.CustomDist("w", beta, sig2_e, observed=d.w, logp=WeakLogp(self._likelihood))
        self._weights = weights
        self._slab_var = slab_var
        self._sig2_e = sig2_e
        return model

    def _likelihood(self, value, beta, sig2_e):
        """log p(w | beta, sig2_e), the observed node's density (``value`` is w)."""
        return eigen_loglik(beta, sig2_e, self.data)

    def residual_variance(self, sig2_e) -> float:
        """ResVar: the per-block residual variances' mean weighted by the kept ranks k_b."""
        ranks = self.data.ranks
        return float(np.sum(np.asarray(sig2_e) * ranks) / ranks.sum())

    def monitor(self, point, stats) -> dict:
        """The alphabet's summary with ResVar = :meth:`residual_variance` and hsq = GenVar
        (module docstring), checked for divergence."""
        out = super().monitor(point, stats)
        out["ResVar"] = self.residual_variance(self.derived(point)["sig2_e"])
        out["hsq"] = out["GenVar"]
        return self.check_divergence(point, out)

    @property
    def implied_hsq(self) -> float:
        """The share of phenotypic variance the rotated statistics claim, (|w|^2 - K/n) /
        (1 - K/n) with K = sum_b k_b and n the median sample size: E|w|^2 = hsq + (1 - hsq)
        K / n for independent blocks and LD that matches (a panel's mismatch adds to it).
        Near or above 1 the statistics ask for more than the whole phenotypic variance: LD
        between the blocks (boundaries cutting through LD count a signal twice) or sample
        sizes above the real ones. NaN when K >= n / 2 (the noise term dominates)."""
        d = self.data
        noise = float(d.ranks.sum()) / d.nobs
        if noise >= 0.5:  # as many eigenvectors as half the sample size: not informative
            return float("nan")
        return (d.squared_norm(d.w) - noise) / (1.0 - noise)

    def divergence_advice(self) -> str:
        """The likelihood constrains the effects only along the kept eigenvectors (k_b of m_b
        directions per block); along the others only the prior holds them, so a low cut-off
        or a small rank lets effects grow while the fit of w stays perfect."""
        d = self.data
        share = float(d.ranks.sum() / d.n_snps)
        claimed = self.implied_hsq
        overclaimed = (
            f"The rotated statistics claim {claimed:.2f} of the phenotypic variance: blocks "
            "that are not independent (boundaries through LD: use LD-based blocks) or sample "
            "sizes above the real ones. " if claimed > 0.9 else "")
        return (overclaimed
                + f"On eigen LD the statistics constrain the effects along the kept eigenvectors "
                f"only ({int(d.ranks.sum())} for {d.n_snps} SNPs at a cut-off of {d.cutoff:g}). "
                + ("Keep more of them: a higher --ldm-eigen-cutoff (e.g. 0.995), or an LD "
                   "folder built with one. " if d.cutoff < 0.99 or share < 0.2 else "")
                + "Check the allele alignment and the per-SNP sample sizes (--impute-n) of the "
                  "statistics, and that the LD panel matches the GWAS ancestry.")

    def robust_description(self) -> str:
        d = self.data
        return (f"eigen-decomposed LD: {d.n_blocks} blocks, {int(d.ranks.sum())} eigenvectors "
                f"at a cut-off of {d.cutoff:g}, one residual variance per block"
                + (", times 1 + c / lambda per eigen direction" if d.noise_weights is not None
                   else ""))
