"""SBayesC, SBayesR and SBayesS: the Bayesian alphabet on GWAS summary statistics and LD.

Model (standardised scale; docs/design.md "SBayes"): with X'y, X'X = S R S (S = diag(sqrt(n_j)))
and y'y from :class:`~bayesmix.prepare.summary_data.SummaryData`, the likelihood is the
individual-level one written in summaries,

    log p(data | beta, sig2_e) = -nobs/2 log(2 pi sig2_e) - SSE / (2 sig2_e),
    SSE = y'y - 2 beta'X'y + beta'X'X beta,

and the priors are the alphabet's (:mod:`bayesmix.models.alphabet`): comp_j ~ Categorical(pi),
beta_j | comp_j ~ N(0, gamma[comp_j] v_j) with v_j = sig2_beta (C, R) or H_j^(S+1) sig2_beta
(S: the per-allele variance H_j^S sig2_beta seen on the standardised scale), pi ~ Beta(1, 1)
or Dirichlet(1, ..., 1), sig2_beta and sig2_e ~ scaled-inverse-chi-square (4 df, scales from
the starting heritability ``hsq`` as GCTB sets them). Effects are reported per allele of A1
in phenotype units (:meth:`SBayesModel.per_allele_factor`).

Robust setting (``robust=True``, the default), for LD from a reference panel:

- GCTB's LD-sampling-variance correction: SNP j's residual variance is sig2_e +
  LDsamplVar_j * GenVar, which accounts for the part of the GWAS signal the reference LD
  cannot reproduce (without it, out-of-sample LD inflates hsq and pi and soon diverges).
  It is part of the graph through two plug-ins (flat priors, never sampled): h = GenVar /
  sig2_e (free variable ``ld_sampling_ratio``) gives kappa_j = 1 + LDsamplVar_j h and the
  likelihood with sample sizes n_j / kappa_j (:func:`bayesmix.ops.sbayes.summary_loglik`):
  SNP j's residual variance is sig2_e kappa_j, which equals sig2_e + LDsamplVar_j GenVar at
  the plug-in point. That likelihood keeps only a share omega of the explained variance
  (2 beta'K^-1 X'y - beta'K^-1/2 X'X K^-1/2 beta against 2 beta'X'y - beta'X'X beta), so the
  phenotype counts as omega nobs observations (free variable ``ld_sampling_weight``, y'y and
  nobs times omega): sig2_e's conditional then has GCTB's residual sum of squares at the
  plug-in point instead of absorbing the down-weighted genetic variance (which lowered hsq by
  a third in examples/sbayes_recovery.py). Both are set from the state during burn-in and
  held fixed afterwards at their means over the burn-in's second half
  (:class:`~bayesmix.inference.sbayes_gibbs.LDSamplingRatioPlugIn`), so every step - the
  effects sweep, the conjugate sig2_e step, the Metropolis step of a swapped prior -
  samples ``model.logp()`` at those plug-ins;
- a ridge towards the LD diagonal, R_lam = (1 - lam) R + lam diag(R), with lam chosen from an
  up-front eigenvalue check (:func:`~bayesmix.ld.spectrum.ld_min_eigenvalue`) so that
  R_lam's smallest eigenvalue is at least ``min_eigenvalue``. LD that is not positive
  definite (a window or thresholded sparse matrix, a panel smaller than the window) otherwise
  lets the effects blow up. LD that would need lam >
  :data:`~bayesmix.prepare.ld_conditioning.STRONG_RIDGE` is first replaced by its block-wise
  nearest positive semi-definite matrix (:func:`~bayesmix.ld.repair.nearest_psd_blocks`),
  which keeps the LD's strength. Both are chosen in
  :func:`bayesmix.prepare.ld_conditioning.condition_ld`.

With in-sample LD (``SummaryData.ld_in_sample``: the LD panel is the GWAS sample) both parts
shrink to what in-sample LD still needs: the sampling variance keeps only the term of LD
entries not stored (0 for full LD), and the ridge only removes negative eigenvalues (target 0:
the GWAS X'y lies in the range of its own X'X). In-sample full LD is then the exact model.

``robust=False`` is the exact model: with in-sample full LD its posterior is the
individual-level one (tested against BayesC on the same individuals).
"""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from bayesmix.distributions.effects import maf_scaled_variance
from bayesmix.distributions.genetic_values import as_float64
from bayesmix.distributions.graph import WeakLogp
from bayesmix.distributions.variance import ScaledInvChi2
from bayesmix.errors import ConvergenceError, InputError
from bayesmix.kernels.sbayes import band_from_csr, band_size, independent_blocks, upper_from_csr
from bayesmix.ld.store import BAND_PADDING_LIMIT
from bayesmix.models.alphabet import (EFFECT_PRIOR_PIECES, AlphabetModel, AlphabetPrior,
                                      check_hyperprior_keys, default_weights)
from bayesmix.ops.sbayes import summary_loglik
from bayesmix.prepare.ld_conditioning import condition_ld
from bayesmix.prepare.summary_data import SummaryData

METHODS = ("C", "R", "S")
SAMPLING_RATIO = "ld_sampling_ratio"  # the robust setting's plug-in h = GenVar / ResVar
SAMPLING_WEIGHT = "ld_sampling_weight"  # its effective share omega of the phenotype's nobs
# ld_layout="auto" takes the band layout when it holds at most BAND_PADDING_LIMIT values per
# stored nonzero, else the faster full CSR arrays up to this size, then the 2-byte upper layout
CSR_MEMORY_LIMIT = 2 * 2**30
# An effect this large on the standardised scale (one SNP explaining > 100% of the phenotypic
# variance on its own) only arises when the chain diverges.
MAX_ABS_EFFECT = 1.0


class SummaryAlphabetModel(AlphabetModel):
    """What the SBayes models on summary statistics share, whatever form their LD takes:
    the prior (method C, R or S on the standardised scale), GCTB's starting values, the
    per-allele conversion and the divergence checks of the monitor. A subclass sets
    ``data`` (with ``stats``, ``vp``, ``het``), ``prior``, ``unscaled``, ``hyperpriors`` and
    ``gamma``, and provides :attr:`column_variance` and :meth:`divergence_advice`."""

    @property
    def method(self) -> str:
        return self.prior.method

    @property
    def n_snps(self) -> int:
        return self.data.n_snps

    @property
    def per_allele_factor(self) -> np.ndarray:
        """Standardised effect -> per-allele effect of A1 in phenotype units: sqrt(Vp / H_j)."""
        return np.sqrt(self.data.vp / self.data.het)

    @property
    def column_variance(self) -> np.ndarray:
        """R_jj of the LD the likelihood uses (1 unless the LD is shrunk or truncated)."""
        raise NotImplementedError

    def divergence_advice(self) -> str:
        """What to try when the chain blows up (for ConvergenceError messages)."""
        raise NotImplementedError

    def _init_prior(self, prior, hyperpriors, unscaled: bool) -> None:
        self.unscaled = bool(unscaled)
        self.prior = prior if isinstance(prior, AlphabetPrior) else AlphabetPrior(prior)
        if self.prior.method not in METHODS:
            raise InputError(f"SBayes{self.prior.method} is not available; choose one of "
                             f"{', '.join(METHODS)}")
        self.hyperpriors = check_hyperprior_keys(
            hyperpriors, ("pi", "sig2_beta", "sig2_e", "S") + EFFECT_PRIOR_PIECES)
        self.gamma = self.prior.gamma_values

    def _init_caches(self) -> None:
        self._summaries = None
        self._max_sampling_var = None
        self._derived = None
        self._derived_cache = None
        self._unit_factors = None
        self._softmax_memo = {}
        self._annotations_t = None
        self._initial = None  # AlphabetModel's cache of the initial point

    def _slab_weight(self, S) -> np.ndarray:
        """v_j / sig2_beta on the standardised scale: 1, H_j (unscaled) or H_j^(S+1) (S), H_j
        the data's :attr:`~bayesmix.prepare.summary_data.SummaryData.prior_het`."""
        het = self.data.prior_het
        if self.method == "S":
            return het ** (S + 1.0)
        return het.copy() if self.unscaled else np.ones(self.n_snps)

    def _starting_values(self) -> dict:
        p = self.prior
        var_g, var_e = p.hsq, 1.0 - p.hsq  # phenotypic variance 1 on the standardised scale
        pi = p.pi_values
        sig2_beta = var_g / self._slab_denominator(pi, p.S, 1.0)
        return {"alpha": np.zeros(0), "sig2_e": var_e, "pi": pi, "sig2_beta": sig2_beta,
                "S": p.S, "var_y": 1.0, "var_g": var_g}

    def _slab_denominator(self, pi, S, window_share) -> float:
        """The prior's expected genetic variance per unit of sig2_beta (standardised scale):
        sum_k pi_k gamma_k sum_j R_jj v_j / sig2_beta (no windows here)."""
        slab_mass = float((np.asarray(pi) * self.gamma).sum())
        return slab_mass * float((self.column_variance * self._slab_weight(S)).sum())

    @property
    def adapts_slab_scale(self) -> bool:
        """GCTB adapts sig2_beta's prior scale for every SBayes method (C, R, S; eigen LD
        and SBayesRC too); here with the default priors of sig2_beta (and S)."""
        return "sig2_beta" not in self.hyperpriors and "S" not in self.hyperpriors

    def _default_slab_var(self):
        """sig2_beta on the standardised scale: times H_j (unscaled) or H_j^(S+1) (S)."""
        p, d = self.prior, self.data
        sig2_beta = self._declare_sig2_beta()
        if p.method == "S":
            S = self._hyper("S", lambda: pm.Normal("S", 0.0, 1.0))
            return maf_scaled_variance(sig2_beta, d.prior_het, S) * as_float64(d.prior_het)
        return sig2_beta * as_float64(d.prior_het) if self.unscaled else sig2_beta

    def initial_point(self) -> dict:
        point = super().initial_point()
        point["alpha"] = np.zeros(0)  # no fixed effects: keeps the chain driver's bookkeeping
        return point

    def effect_problems(self, beta) -> list[str]:
        """What is wrong with the standardised effects ``beta`` (empty if nothing): non-finite
        values, or an effect above :data:`MAX_ABS_EFFECT`. O(M), so the effects steps run it
        every iteration (:meth:`check_effects`)."""
        beta = np.asarray(beta)
        # two passes without a temporary |beta|; a NaN fails both comparisons
        if beta.size == 0 or (beta.max() <= MAX_ABS_EFFECT and beta.min() >= -MAX_ABS_EFFECT):
            return []
        if not np.isfinite(beta).all():
            return ["non-finite effects"]
        j = int(np.abs(beta).argmax())
        return [f"SNP {self.data.stats['SNP'].iloc[j]} has a standardised effect of "
                f"{beta[j]:.3g} (more than the whole phenotypic variance)"]

    def check_effects(self, beta, ssq=None, var_scale=None) -> None:
        """ConvergenceError (with :meth:`divergence_advice`) if :meth:`effect_problems`.

        ``ssq`` (K,) and ``var_scale`` (M,): a sweep's sums over components of
        beta_j^2 / var_scale_j (:func:`~bayesmix.kernels.sbayes.sbayes_sweep`) and the
        divisors it used. Since sum_j beta_j^2 <= sum(ssq) max(var_scale), no effect can
        exceed :data:`MAX_ABS_EFFECT` when that bound is at most its square: the O(M) pass
        over the effects is then skipped (a NaN or infinite bound does not skip it)."""
        if ssq is not None:
            bound = float(np.sum(ssq)) * self._largest(var_scale)  # >= sum_j beta_j^2
            if bound <= MAX_ABS_EFFECT**2:
                return
        self.raise_diverged(self.effect_problems(beta))

    _largest_seen = (None, math.inf)  # (an array, its largest value): see _largest

    def _largest(self, values) -> float:
        """max(values), computed once per array object (the sweeps' unit divisors or the
        slab variances of a derived result are the same object from iteration to iteration)."""
        if values is not self._largest_seen[0]:
            self._largest_seen = (values, float(np.max(values)))
        return self._largest_seen[1]

    def raise_diverged(self, problems: list[str]) -> None:
        if problems:
            raise ConvergenceError("the chain diverged: " + "; ".join(problems) + ". "
                                   + self.divergence_advice())

    def check_divergence(self, point, out) -> dict:
        """``out`` (the monitor's values) unless the chain diverged: then ConvergenceError
        naming what blew up, with :meth:`divergence_advice`."""
        problems = self.effect_problems(np.asarray(point["beta"]))
        if not out["ResVar"] > 0:
            problems.append(f"residual variance {out['ResVar']:.4g} <= 0")
        if not 0.0 <= out["GenVar"] < 1.0:
            problems.append(f"genetic variance {out['GenVar']:.4g} outside [0, 1) of a "
                            f"phenotypic variance of 1")
        if not 0.0 <= out["hsq"] < 1.0:
            problems.append(f"hsq {out['hsq']:.4g} outside [0, 1)")
        self.raise_diverged(problems)
        return out


class SBayesModel(SummaryAlphabetModel):
    """A PyMC graph of SBayesC/R/S plus what the Gibbs steps need to run it fast.

    Parameters
    ----------
    data : SummaryData (from :func:`~bayesmix.prepare.summary_data.prepare_summary_data`).
    prior : AlphabetPrior or a method letter C, R, S (``--sbayes``).
    hyperpriors : optional dict replacing the prior of ``pi``, ``sig2_beta``, ``sig2_e``,
        ``S`` (callable(name)) or the effect prior's ``weights`` / ``slab_var``
        (callable(default); the slab variance on the standardised scale), as in the alphabet.
    robust : use the robust setting of the module docstring (default True).
    ridge : lam in [0, 1); None = from the eigenvalue check when robust, else 0.
    min_eigenvalue : target smallest eigenvalue of the ridged LD (robust only); None = 0.01,
        or 0 with in-sample LD.
    ld_sampling_variance : GCTB's per-SNP residual variance correction; None = ``robust``.
    parallel_blocks : sweep LD blocks that share no LD entry in parallel threads (same draws;
        pays off with several cores and block-diagonal LD).
    ld_layout : how R is held for the sweeps. "band": each row as one contiguous run of
        columns with implicit indices (2 bytes per value with int16, 4 with float32; gaps in a
        run held as zeros) and sweeps that touch only the columns of changed effects;
        "csr": the full CSR arrays (6 or 8 bytes per nonzero; needed by ``parallel_blocks``;
        as fast as band); "upper": the strict upper triangle (uint16 offsets: 2 bytes per
        nonzero with int16 values), whose sweeps end with a pass over all rows, so up to
        several times slower when few effects change. "auto" = band when it holds at most
        :data:`BAND_PADDING_LIMIT` values per nonzero (window, band, shrunk, full LD), else
        CSR while its arrays take at most :data:`CSR_MEMORY_LIMIT` bytes, else upper (when
        every stored entry is within 65,535 SNPs of the diagonal).
    unscaled : GCTB's ``--unscale-genotype`` for SBayesC/R: the prior variance sig2_beta is of
        per-allele effects, i.e. H_j sig2_beta on the standardised scale (SBayesS always is).

    Attributes
    ----------
    model : pm.Model with free variables sig2_e, pi (unless fixed), sig2_beta, S (S only),
        comp, beta, ``ld_sampling_ratio`` and ``ld_sampling_weight`` (robust setting with
        some LDsamplVar_j > 0);
        observed ``xty`` (the summary-data likelihood).
    ridge : the lam used.  ld_min_eigenvalue : the eigenvalue check's result (or None).
    has_sampling_ratio : whether the graph has the LD-sampling-variance plug-ins h and omega
        (robust setting with some LDsamplVar_j > 0; in-sample full LD has none: its target is
        the exact model).
    ld_repair : :class:`~bayesmix.ld.repair.RepairReport` when the robust setting replaced a
        strongly indefinite LD by its block-wise nearest positive semi-definite matrix, else
        None (``data.ld`` is then the repaired matrix).
    """

    # the likelihood's plug-ins h and omega are no hyperparameters: the plug-in step moves
    # them at every burn-in iteration, which must not recompute the prior's derived values
    not_hyperparameters = (*SummaryAlphabetModel.not_hyperparameters, SAMPLING_RATIO,
                           SAMPLING_WEIGHT)

    def __init__(self, data: SummaryData, prior: AlphabetPrior | str = "C", *, hyperpriors=None,
                 robust: bool = True, ridge: float | None = None,
                 min_eigenvalue: float | None = None,
                 ld_sampling_variance: bool | None = None, parallel_blocks: bool = False,
                 ld_layout: str = "auto", unscaled: bool = False):
        self.data = data
        self._init_prior(prior, hyperpriors, unscaled)
        self.robust = bool(robust)
        self.ld_sampling_variance = self.robust if ld_sampling_variance is None else bool(
            ld_sampling_variance)
        if self.ld_sampling_variance and not np.isfinite(data.ld_sampling_var).all():
            raise InputError("the LD sampling-variance correction needs the LD panel's size, "
                             "which the LD does not give (GCTB .info: N 0 or missing; a bayesmix "
                             "LD folder: n_samples): fix it, or give --ld-in-sample for LD of "
                             "the GWAS sample itself (Python: ld_sampling_variance=False)",
                             data.ld.meta.get("source"))
        conditioned = condition_ld(data, robust=self.robust, ridge=ridge,
                                   min_eigenvalue=min_eigenvalue)
        self.data = data = conditioned.data  # the robust setting may have repaired its LD
        self.ridge = conditioned.ridge
        self.ld_min_eigenvalue = conditioned.min_eigenvalue
        self.ld_repair = conditioned.repair
        self.sqrt_n = np.sqrt(data.n)
        self.has_sampling_ratio = self.ld_sampling_variance and bool(
            np.any(data.ld_sampling_var > 0))
        self.ld_layout, self.ld_arrays, self.block_bounds = _sweep_arrays(
            data.ld, ld_layout, parallel_blocks)
        self._init_caches()
        self.start = self._starting_values()
        self.model = self._built()

    @property
    def ld_bytes(self) -> int:
        """Memory of the LD arrays the sweeps read (indices/offsets and values)."""
        return int(sum(a.nbytes for a in self.ld_arrays[1:]) + self.ld_arrays[0].nbytes)

    @property
    def column_variance(self) -> np.ndarray:
        return self.data.xtx_diag / self.data.n

    def inflation(self, ratio):
        """kappa_j = 1 + LDsamplVar_j h: SNP j's residual variance is sig2_e kappa_j (numpy
        or symbolic ``ratio`` h)."""
        return 1.0 + self.data.ld_sampling_var * ratio

    def max_inflation(self, ratio: float) -> float:
        """The largest kappa_j at h = ``ratio`` >= 0 (LDsamplVar_j >= 0)."""
        if self._max_sampling_var is None:
            self._max_sampling_var = float(np.max(self.data.ld_sampling_var, initial=0.0))
        return 1.0 + self._max_sampling_var * float(ratio)

    def summaries_at(self, ratio: float | None) -> tuple:
        """(s, X'X diagonal, X'y) of the target at plug-in h = ``ratio`` (None: no plug-in):
        the exact model's arrays with n_j / kappa_j in place of n_j, i.e. sqrt(n_j / kappa_j),
        n_j R_jj / kappa_j and n_j b_j / kappa_j (standardised scale). The last h is cached."""
        d = self.data
        if ratio is None:
            return self.sqrt_n, d.xtx_diag, d.xty
        if self._summaries is None or self._summaries[0] != ratio:
            kappa = self.inflation(float(ratio))
            self._summaries = (ratio, (self.sqrt_n / np.sqrt(kappa), d.xtx_diag / kappa,
                                       d.xty / kappa))
        return self._summaries[1]

    def _build(self) -> pm.Model:
        d, p, s = self.data, self.prior, self.start
        coords = {"snp": d.snps["snp"].astype(str).to_list(),
                  "component": np.arange(self.n_components)}
        with pm.Model(coords=coords) as model:
            sig2_e = self._hyper("sig2_e", lambda: ScaledInvChi2(
                "sig2_e", p.nu_e, (p.nu_e - 2.0) / p.nu_e * s["sig2_e"]))
            weights, slab_var, beta = self._declare_effect_prior(
                lambda: default_weights(p, s["pi"], self._hyper), self._default_slab_var)
            plug_ins = []
            if self.has_sampling_ratio:
                plug_ins = [pm.Flat(SAMPLING_RATIO, initval=s["var_g"] / s["sig2_e"]),
                            pm.Flat(SAMPLING_WEIGHT, initval=1.0)]
            pm.CustomDist("xty", beta, sig2_e, *plug_ins, observed=d.xty, dims="snp",
                          logp=WeakLogp(self._likelihood))
        self._weights = weights
        self._slab_var = slab_var
        self._sig2_e = sig2_e
        return model

    def _likelihood(self, value, beta, sig2_e, ratio=None, weight=None):
        """log p(X'y | beta, sig2_e[, h, omega]), the observed node's density (``value`` is
        X'y; h and omega the LD-sampling plug-ins when the graph has them)."""
        if ratio is None:
            return summary_loglik(beta, pt.squeeze(sig2_e), self.data, self.ridge)
        return summary_loglik(beta, pt.squeeze(sig2_e), self.data, self.ridge,
                              self.inflation(pt.squeeze(ratio)), pt.squeeze(weight))

    def monitor(self, point, stats) -> dict:
        """The alphabet's per-iteration summary (standardised scale: ResVar + GenVar ~ 1),
        checked for divergence: raises ConvergenceError instead of reporting blown-up values."""
        return self.check_divergence(point, super().monitor(point, stats))

    def divergence_advice(self) -> str:
        return divergence_advice(self)

    def robust_description(self) -> str:
        """One line saying which robust settings this model uses (for logs and outputs)."""
        eig = ("not checked" if self.ld_min_eigenvalue is None
               else f"{self.ld_min_eigenvalue:.4g}")
        sampling = "off"
        if self.ld_sampling_variance:
            sampling = ("on (in-sample LD: entries not stored only)" if self.data.ld_in_sample
                        else "on")
        repair = ("" if self.ld_repair is None else
                  f"LD replaced by its nearest positive semi-definite matrix in "
                  f"{self.ld_repair.n_blocks} blocks; ")
        return (f"{repair}LD ridge {self.ridge:.4g} (smallest LD eigenvalue {eig}); LD "
                f"sampling-variance correction {sampling}")


def reference_ld_note(data) -> str | None:
    """A line for the log when the LD is a reference panel's sparse or shrunk matrix, whose
    estimates are biased on realistic LD (docs/sbayes.md, eigen-decomposed block LD), else
    None."""
    if data.ld_in_sample:
        return None
    if data.ld.kind == "sparse":
        return ("Warning: thresholded sparse LD of a reference panel is rarely positive "
                "definite (the LD check below gives this one's smallest eigenvalue): "
                "with a 1,000-person panel on a coalescent genome SBayesC diverged for mid and "
                "polygenic traits and overestimated hsq by 39% for a sparse one, where "
                "eigen-decomposed block LD (--make-ldm-eigen, then --ldm-eigen) was within 10% "
                "(docs/sbayes.md).")
    if data.ld.kind == "shrunk":
        return ("Note: shrunk LD of a reference panel underestimated hsq by 18-24% for mid and "
                "polygenic traits on a coalescent genome with a 1,000-person panel, where "
                "eigen-decomposed block LD (--make-ldm-eigen, then --ldm-eigen) was within 10% "
                "(docs/sbayes.md).")
    return None


def divergence_advice(sbayes) -> str:
    """What to try when a chain blows up, naming only settings this run does not use yet."""
    data, tips = sbayes.data, []
    kind = data.ld.kind
    if not sbayes.robust:
        tips.append("the robust setting (drop --no-robust)")
    elif sbayes.ld_min_eigenvalue is None:  # a given ridge: the check did not run
        tips.append(f"leaving out --ld-ridge (its {sbayes.ridge:.3g} skipped the LD "
                    "eigenvalue check, which chooses the ridge and replaces strongly "
                    "indefinite LD by its nearest positive semi-definite matrix)")
    elif sbayes.ridge < 0.2:
        tips.append(f"a larger --ld-ridge (this run used {sbayes.ridge:.3g}; e.g. 0.2)")
    if not data.ld_in_sample:
        tips.append("eigen-decomposed block LD (--make-ldm-eigen --block-info FILE, then "
                    "--ldm-eigen DIR), whose likelihood is positive definite and absorbs the "
                    "panel's LD mismatch per block")
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
    data_note = _inconsistent_statistics_note(data)
    return (data_note + ("Divergence also happens" if data_note else "This happens")
            + " when the LD matrix does not match the GWAS (LD from a small or "
            "different reference panel, or LD that is not positive definite). Try: "
            + "; ".join(tips) + ". Check the allele alignment of the summary statistics too.")


#: spread (95th over 5th percentile) of the per-SNP phenotypic variances from which the
#: divergence advice points at the statistics first (1.5 x either way of a central value)
VP_SPREAD = 1.5**2


def _inconsistent_statistics_note(data) -> str:
    """A sentence for the divergence advice when the per-SNP phenotypic variances
    V_j = H_j (N_j SE_j^2 + BETA_j^2), which all estimate var(y), spread more than
    :data:`VP_SPREAD` x over their middle 90%: the N or SE of some SNPs then contradict the
    others' whatever the LD (e.g. a wrong N column); else ''. (The QC rule's 4 x from the
    median keeps such SNPs.)"""
    vp = data.stats["V"].to_numpy(np.float64)
    low, high = np.percentile(vp, [5, 95]) if len(vp) else (0.0, 0.0)
    if not (low > 0 and high > VP_SPREAD * low):
        return ""
    n = np.asarray(data.n, np.float64)
    return (f"The per-SNP phenotypic variances H (N SE^2 + BETA^2), which all estimate "
            f"var(y), range from {low:.4g} to {high:.4g} over the middle 90% of the "
            f"{len(vp):,} SNPs (GWAS N from {n.min():,.0f} to {n.max():,.0f}): the N or SE of "
            f"some SNPs contradict the others', which no LD can fit; check the N and SE "
            f"columns. ")


def _sweep_arrays(ld, ld_layout: str, parallel_blocks: bool) -> tuple:
    """(layout, the LD arrays the sweeps read, block bounds or None) of :class:`SBayesModel`
    (``ld_layout`` and ``parallel_blocks`` as there). A matrix held in the band layout
    already (GCTB's full, band and shrunk files) is read as it is, without a copy."""
    if ld_layout not in ("auto", "band", "upper", "csr"):
        raise InputError(f"ld_layout must be 'auto', 'band', 'upper' or 'csr', not "
                         f"{ld_layout!r}")
    if ld_layout not in ("auto", "csr") and parallel_blocks:
        raise InputError(f"ld_layout {ld_layout!r} sweeps serially: parallel_blocks (--thread "
                         "N with one chain) sweeps blocks in the 'csr' layout ('auto' chooses "
                         "it)")
    if ld.is_band and ld_layout in ("auto", "band") and not parallel_blocks:
        # int64 row pointers from every reader (a copy of M + 1 numbers at most): the band
        # sweep compiles once
        return "band", (ld.row_first, np.asarray(ld.indptr, np.int64), np.asarray(ld.data)), None
    csr = ld.to_csr()
    indptr, indices, values = np.asarray(csr.indptr), np.asarray(csr.indices), np.asarray(csr.data)
    bounds = independent_blocks(indptr, indices) if parallel_blocks else None
    if ld_layout == "auto":
        ld_layout = _auto_layout(indptr, indices, values, parallel_blocks)
    if ld_layout == "upper":
        return ld_layout, upper_from_csr(indptr, indices, values), bounds
    if ld_layout == "band":
        return ld_layout, band_from_csr(indptr, indices, values), bounds
    return ld_layout, (indptr, indices, values), bounds


def _auto_layout(indptr, indices, values, parallel_blocks: bool) -> str:
    """The ``ld_layout="auto"`` choice of :class:`SBayesModel` (see its docstring)."""
    if parallel_blocks:
        return "csr"
    if band_size(indptr, indices) <= BAND_PADDING_LIMIT * len(indices):
        return "band"
    csr_bytes = indptr.nbytes + indices.nbytes + values.nbytes
    if csr_bytes <= CSR_MEMORY_LIMIT or _max_offset(indptr, indices) > 65535:
        return "csr"
    return "upper"


def _max_offset(indptr, indices) -> int:
    """Largest |j - i| of the stored entries (i, j) of a CSR matrix."""
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(np.asarray(indptr, np.int64)))
    return int(np.abs(np.asarray(indices, np.int64) - rows).max(initial=0))
