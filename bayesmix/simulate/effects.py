"""Causal effect sizes drawn from every prior of docs/design.md, returned with their truth.

Scales (docs/design.md conventions; phenotype variance 1):

- ``beta``: per-allele effect of A1, in phenotype standard deviations per allele;
- ``b_std = beta * sqrt(H)``: standardised effect, H_j = 2 p_j (1 - p_j);
- heritability "ignoring LD" is ``sum_j b_std_j^2``; the expected value of that sum under the
  prior is ``h2_expected`` and every prior's variance parameter is set so that it equals the
  target ``h2``. The realised value (``Effects.h2_realised``) scatters around it; the
  phenotype simulator rescales to the exact in-sample genetic variance when asked.

Priors (the causal fraction ``pi`` is relative to the polymorphic SNPs, H_j > 0; monomorphic
SNPs never get an effect):

========  =================================================================================
mixer     beta_j ~ (1 - pi) delta_0 + pi N(0, sig2_beta), per-allele scale;
          h2 = pi sig2_beta sum_j H_j
mixer2    bivariate MiXeR: components null, trait-1 only (pi1), trait-2 only (pi2), shared
          (pi12, correlation rho12); per-allele, h2_t = (pi_t + pi12) sig2_beta_t sum_j H_j
C         BayesC: b_std_j ~ (1 - pi) delta_0 + pi N(0, sig2_beta), standardised scale;
          h2 = pi M sig2_beta
R         BayesR: b_std_j ~ sum_k pi_k N(0, gamma_k sig2_beta), standardised scale;
          h2 = M sig2_beta sum_k pi_k gamma_k
S         BayesS: per-allele var_j = sig2_beta H_j^S, so b_std_j ~ N(0, sig2_beta H_j^(S+1));
          h2 = pi sig2_beta sum_j H_j^(S+1)
B         BayesB: b_std_j ~ (1 - pi) delta_0 + pi N(0, sig2_j), sig2_j ~ scaled-inv-chi2(nu,
          tau2), i.e. a t(nu) slab with scale tau; h2 = pi M tau2 nu / (nu - 2)
N, NS     nested BayesC / BayesS: SNPs in non-overlapping windows (default 1 Mb); a window
          has effects with probability pi (the share of windows, as GCTB's BayesN reports),
          then each of its SNPs is causal with probability pi_snp and gets the C (N) or S
          (NS) slab; h2 = pi pi_snp sum_j v_j with v_j = sig2_beta (N) or sig2_beta H_j^(S+1)
========  =================================================================================

Every function takes an explicit ``numpy.random.Generator``: the same seed gives the same
effects, bit for bit.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace

import numpy as np

from bayesmix.errors import InputError
from bayesmix.io.files import json_types

BAYESR_DEFAULT_PI = (0.95, 0.02, 0.02, 0.01)
BAYESR_DEFAULT_GAMMA = (0.0, 0.01, 0.1, 1.0)
BAYESS_DEFAULT_S = -0.5
BAYESB_DEFAULT_NU = 4.0
PRIORS = ("mixer", "mixer2", "C", "R", "S", "B", "N", "NS")
BAYESN_DEFAULT_PI_SNP = 0.1
BAYESN_DEFAULT_WINDOW_KB = 1000.0


@dataclass
class Effects:
    """Effects drawn from a prior and the truth behind them.

    Attributes
    ----------
    prior : str
        One of :data:`PRIORS`.
    params : dict
        Prior parameters actually used (JSON-serialisable). ``sig2_beta`` is on the
        per-allele scale for ``mixer``, ``mixer2`` and ``S``, on the standardised scale for
        ``C`` and ``R``; ``B`` has ``tau2`` (standardised) and ``nu``.
    beta : ndarray, shape (M,) or (M, 2)
        Per-allele effects of A1 (phenotype SD per allele); one column per trait for
        ``mixer2``.
    het : ndarray, shape (M,)
        H_j = 2 p_j (1 - p_j) used to move between scales.
    component : ndarray of int8, shape (M,)
        Mixture component of each SNP; 0 is the null component. ``mixer2``: 1 trait-1 only,
        2 trait-2 only, 3 shared. ``R``: index into ``gamma``.
    h2_expected : float or ndarray
        Expected ``sum_j b_std_j^2`` under the prior: the target h2 (kept by :meth:`scaled`).
    """

    prior: str
    params: dict
    beta: np.ndarray
    het: np.ndarray
    component: np.ndarray
    h2_expected: float | np.ndarray
    notes: dict = field(default_factory=dict)

    @property
    def n_traits(self) -> int:
        return 1 if self.beta.ndim == 1 else self.beta.shape[1]

    @property
    def b_std(self) -> np.ndarray:
        """Standardised effects beta * sqrt(H), same shape as ``beta``."""
        root = np.sqrt(self.het)
        return self.beta * (root if self.beta.ndim == 1 else root[:, None])

    @property
    def causal(self) -> np.ndarray:
        """Indices of SNPs with a non-zero effect on any trait, ascending."""
        nonzero = self.beta != 0 if self.beta.ndim == 1 else (self.beta != 0).any(axis=1)
        return np.flatnonzero(nonzero)

    @property
    def h2_realised(self) -> float | np.ndarray:
        """``sum_j b_std_j^2`` per trait: the heritability if the SNPs were independent."""
        return (self.b_std**2).sum(axis=0)

    def scaled(self, factor) -> "Effects":
        """A copy with every effect multiplied by ``factor`` per trait.

        Used to match a realised genetic variance; the scale factor is kept in ``notes``
        (``params`` and ``h2_expected`` still describe the prior the effects came from).
        """
        factor = np.asarray(factor, dtype=np.float64)
        beta = self.beta * factor
        notes = dict(self.notes)
        notes["rescaled_by"] = factor.tolist()
        return replace(self, beta=beta, notes=notes)

    def truth(self, snps=None) -> dict:
        """JSON-ready record: prior, parameters, h2 and every causal SNP on both scales.

        ``snps`` (a table with columns snp, a1, a2 in the order of ``beta``) adds SNP ids.
        """
        idx = self.causal
        b_std = self.b_std
        record = {
            "prior": self.prior,
            "params": self.params,
            "scales": {
                "beta": "per-allele effect of A1, phenotype SD per allele",
                "b_std": "standardised effect beta * sqrt(2p(1-p)), phenotype variance 1",
            },
            "n_snps": int(len(self.beta)),
            "n_causal": int(len(idx)),
            "h2_expected": json_types(self.h2_expected),
            "h2_sum_b_std2": json_types(self.h2_realised),
            **{k: json_types(v) for k, v in self.notes.items()},
        }
        causal = {"index": idx.tolist(), "component": self.component[idx].tolist()}
        if snps is not None:
            for col in ("snp", "a1", "a2"):
                causal[col] = snps[col].to_numpy()[idx].tolist()
        causal["beta"] = self.beta[idx].tolist()
        causal["b_std"] = b_std[idx].tolist()
        record["causal"] = causal
        return record


def draw_effects(prior: str, het, h2, rng: np.random.Generator, **params) -> Effects:
    """Draw effects from the named prior (see :data:`PRIORS`); ``params`` go to its function."""
    functions = {"mixer": mixer_effects, "mixer2": mixer_bivariate_effects, "C": bayesc_effects,
                 "R": bayesr_effects, "S": bayess_effects, "B": bayesb_effects,
                 "N": bayesn_effects, "NS": bayesns_effects}
    if prior not in functions:
        raise InputError(f"unknown prior {prior!r}; choose one of {', '.join(PRIORS)}")
    accepted = inspect.signature(functions[prior]).parameters
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InputError(f"prior {prior} takes no parameter {', '.join(unknown)}")
    return functions[prior](het, h2, rng=rng, **params)


def mixer_effects(het, h2: float, *, rng: np.random.Generator, pi: float | None = None,
                  n_causal: int | None = None) -> Effects:
    """MiXeR univariate prior on the per-allele scale, scaled so pi sig2_beta sum H = h2.

    Parameters
    ----------
    het : (M,) H_j = 2 p_j (1 - p_j) of the reference SNPs.
    h2 : target heritability (standardised scale), in (0, 1).
    pi : causal fraction (each polymorphic SNP causal with probability pi), or
    n_causal : exactly this many causal SNPs, chosen uniformly (then pi = n_causal / M).
    """
    het, h2 = _check_het(het), _check_h2(h2)
    mask, pi = _choose_causal(het > 0, pi, n_causal, rng)
    sig2_beta = h2 / (pi * het[het > 0].sum())
    beta = np.zeros(len(het))
    beta[mask] = rng.normal(0.0, np.sqrt(sig2_beta), mask.sum())
    return Effects("mixer", {"pi": pi, "sig2_beta": sig2_beta, "sig2_beta_scale": "per-allele"},
                   beta, het, mask.astype(np.int8), h2)


def mixer_bivariate_effects(het, h2, *, rng: np.random.Generator, pi1: float | None = None,
                            pi2: float | None = None, pi12: float | None = None,
                            rho12: float = 0.0, n_causal=None) -> Effects:
    """Bivariate MiXeR 4-component prior (per-allele scale) for two traits.

    Each polymorphic SNP is null, causal for trait 1 only (probability ``pi1``), for trait 2
    only (``pi2``) or for both (``pi12``; effects correlated ``rho12``). ``pi1``/``pi2`` are
    the *unique* fractions, as in MiXeR's output. Alternatively ``n_causal=(n1, n2, n12)``
    fixes the counts. ``sig2_beta_t`` is set so that (pi_t + pi12) sig2_beta_t sum H = h2_t.
    The expected genetic correlation (LD ignored) is
    rg = rho12 pi12 / sqrt((pi1 + pi12)(pi2 + pi12)).
    """
    het = _check_het(het)
    h2 = np.asarray(h2, dtype=np.float64)
    if h2.shape != (2,):
        raise InputError("bivariate prior needs two h2 values, one per trait")
    for value in h2:
        _check_h2(value)
    if not -1.0 <= rho12 <= 1.0:
        raise InputError(f"rho12 must be in [-1, 1], got {rho12}")
    eligible = np.flatnonzero(het > 0)
    m = len(eligible)
    component = np.zeros(len(het), dtype=np.int8)
    if n_causal is not None:
        if any(p is not None for p in (pi1, pi2, pi12)):
            raise InputError("give either the fractions pi1, pi2, pi12 or the counts n_causal")
        counts = np.asarray(n_causal, dtype=np.int64)
        if counts.shape != (3,) or (counts < 0).any() or counts.sum() > m:
            raise InputError(f"n_causal must be three non-negative counts summing to at most {m}")
        chosen = rng.choice(eligible, counts.sum(), replace=False)
        component[chosen] = np.repeat(np.array([1, 2, 3], dtype=np.int8), counts)
        fractions = counts / m
    else:
        fractions = np.array([0.0 if p is None else p for p in (pi1, pi2, pi12)], dtype=np.float64)
        if (fractions < 0).any() or fractions.sum() > 1 or fractions.sum() == 0:
            raise InputError("pi1, pi2, pi12 must be non-negative with 0 < pi1 + pi2 + pi12 <= 1")
        probabilities = np.concatenate([[1.0 - fractions.sum()], fractions])
        component[eligible] = rng.choice(4, m, p=probabilities)
    f1, f2, f12 = fractions
    for t, share in enumerate((f1 + f12, f2 + f12)):
        if share == 0:
            raise InputError(f"trait {t + 1} has no causal component (pi{t + 1} + pi12 = 0)")
    sig2 = h2 / (np.array([f1 + f12, f2 + f12]) * het[eligible].sum())
    beta = np.zeros((len(het), 2))
    for comp, trait in ((1, 0), (2, 1)):
        idx = np.flatnonzero(component == comp)
        beta[idx, trait] = rng.normal(0.0, np.sqrt(sig2[trait]), len(idx))
    idx = np.flatnonzero(component == 3)
    cov = np.array([[sig2[0], rho12 * np.sqrt(sig2[0] * sig2[1])],
                    [rho12 * np.sqrt(sig2[0] * sig2[1]), sig2[1]]])
    beta[idx] = rng.multivariate_normal(np.zeros(2), cov, len(idx), method="eigh")
    rg = rho12 * f12 / np.sqrt((f1 + f12) * (f2 + f12))
    params = {"pi1": f1, "pi2": f2, "pi12": f12, "rho12": rho12, "sig2_beta": sig2.tolist(),
              "sig2_beta_scale": "per-allele", "rg_expected": rg}
    return Effects("mixer2", params, beta, het, component, h2)


def bayesc_effects(het, h2: float, *, rng: np.random.Generator, pi: float | None = None,
                   n_causal: int | None = None) -> Effects:
    """BayesC: standardised effects b_std ~ pi N(0, sig2_beta) + (1 - pi) delta_0.

    ``sig2_beta = h2 / (pi M)`` on the standardised scale (M polymorphic SNPs).
    """
    het, h2 = _check_het(het), _check_h2(h2)
    mask, pi = _choose_causal(het > 0, pi, n_causal, rng)
    sig2_beta = h2 / (pi * (het > 0).sum())
    b_std = np.zeros(len(het))
    b_std[mask] = rng.normal(0.0, np.sqrt(sig2_beta), mask.sum())
    return Effects("C", {"pi": pi, "sig2_beta": sig2_beta, "sig2_beta_scale": "standardised"},
                   _per_allele(b_std, het), het, mask.astype(np.int8), h2)


def bayesr_effects(het, h2: float, *, rng: np.random.Generator, pi_k=None, gamma=None,
                   pi: float | None = None, n_causal: int | None = None) -> Effects:
    """BayesR: standardised effects b_std ~ sum_k pi_k N(0, gamma_k sig2_beta).

    Parameters
    ----------
    pi_k : mixture weights (default GCTB's 0.95, 0.02, 0.02, 0.01), summing to 1.
    gamma : relative variances (default 0, 0.01, 0.1, 1); component 0 must be the null (0).
    pi : total non-null fraction; overrides pi_0 = 1 - pi and keeps the non-null weights'
        proportions. Or ``n_causal``: exactly this many non-null SNPs, each assigned a
        non-null component with probability proportional to pi_k.
    ``sig2_beta = h2 / (M sum_k pi_k gamma_k)`` (standardised scale).
    """
    het, h2 = _check_het(het), _check_h2(h2)
    gamma = np.asarray(BAYESR_DEFAULT_GAMMA if gamma is None else gamma, dtype=np.float64)
    weights = np.asarray(BAYESR_DEFAULT_PI if pi_k is None else pi_k, dtype=np.float64)
    if weights.shape != gamma.shape or len(gamma) < 2:
        raise InputError(f"pi_k ({len(weights)} values) and gamma ({len(gamma)} values) must "
                         "have the same length, at least 2")
    if gamma[0] != 0 or (gamma[1:] <= 0).any():
        raise InputError("gamma must start with 0 (the null component) and be positive after")
    if (weights < 0).any() or not np.isclose(weights.sum(), 1.0) or weights[1:].sum() == 0:
        raise InputError("pi_k must be non-negative, sum to 1 and give weight to a non-null "
                         "component")
    nonnull = weights[1:] / weights[1:].sum()
    if pi is not None or n_causal is not None:
        mask, pi = _choose_causal(het > 0, pi, n_causal, rng)
        weights = np.concatenate([[1.0 - pi], pi * nonnull])
        component = np.zeros(len(het), dtype=np.int8)
        component[mask] = 1 + rng.choice(len(nonnull), mask.sum(), p=nonnull)
    else:
        component = np.zeros(len(het), dtype=np.int8)
        eligible = np.flatnonzero(het > 0)
        component[eligible] = rng.choice(len(weights), len(eligible), p=weights)
    m = (het > 0).sum()
    sig2_beta = h2 / (m * (weights * gamma).sum())
    b_std = rng.normal(0.0, 1.0, len(het)) * np.sqrt(gamma[component] * sig2_beta)
    params = {"pi_k": weights.tolist(), "gamma": gamma.tolist(), "sig2_beta": sig2_beta,
              "sig2_beta_scale": "standardised"}
    return Effects("R", params, _per_allele(b_std, het), het, component, h2)


def bayess_effects(het, h2: float, *, rng: np.random.Generator, S: float = BAYESS_DEFAULT_S,
                   pi: float | None = None, n_causal: int | None = None) -> Effects:
    """BayesS: per-allele effects beta_j ~ N(0, sig2_beta H_j^S) on the causal SNPs.

    Negative S gives rarer variants larger per-allele effects. On the standardised scale
    var(b_std_j) = sig2_beta H_j^(S+1); ``sig2_beta = h2 / (pi sum_j H_j^(S+1))``
    (per-allele scale, H in its own units).
    """
    het, h2 = _check_het(het), _check_h2(h2)
    if not np.isfinite(S):
        raise InputError(f"S must be a finite number, got {S}")
    mask, pi = _choose_causal(het > 0, pi, n_causal, rng)
    poly = het > 0
    weight = np.zeros(len(het))
    weight[poly] = het[poly] ** S
    sig2_beta = h2 / (pi * (weight[poly] * het[poly]).sum())
    beta = np.zeros(len(het))
    beta[mask] = rng.normal(0.0, 1.0, mask.sum()) * np.sqrt(sig2_beta * weight[mask])
    return Effects("S", {"pi": pi, "S": S, "sig2_beta": sig2_beta, "sig2_beta_scale": "per-allele"},
                   beta, het, mask.astype(np.int8), h2)


def bayesb_effects(het, h2: float, *, rng: np.random.Generator, pi: float | None = None,
                   n_causal: int | None = None, nu: float = BAYESB_DEFAULT_NU) -> Effects:
    """BayesB: causal SNPs get their own variance sig2_j ~ scaled-inv-chi2(nu, tau2).

    Marginally b_std_j is t(nu)-distributed with scale sqrt(tau2) (standardised scale), with
    variance tau2 nu / (nu - 2); ``tau2 = h2 (nu - 2) / (nu pi M)``. Needs nu > 2.
    """
    het, h2 = _check_het(het), _check_h2(h2)
    if not nu > 2:
        raise InputError(f"BayesB needs nu > 2 for a finite h2, got nu = {nu}")
    mask, pi = _choose_causal(het > 0, pi, n_causal, rng)
    tau2 = h2 * (nu - 2) / (nu * pi * (het > 0).sum())
    k = int(mask.sum())
    sig2_j = nu * tau2 / rng.chisquare(nu, k)
    b_std = np.zeros(len(het))
    b_std[mask] = rng.normal(0.0, 1.0, k) * np.sqrt(sig2_j)
    return Effects("B", {"pi": pi, "nu": nu, "tau2": tau2, "tau2_scale": "standardised"},
                   _per_allele(b_std, het), het, mask.astype(np.int8), h2)


def window_ids(chrom, bp, window_kb: float = BAYESN_DEFAULT_WINDOW_KB) -> np.ndarray:
    """Consecutive integer window of each SNP: non-overlapping ``window_kb`` windows per
    chromosome, counted from the chromosome's first SNP (``chrom``, ``bp`` in file order)."""
    if not window_kb > 0:
        raise InputError(f"window size must be positive, got {window_kb} kb")
    chrom = np.asarray(chrom).astype(str)
    bp = np.asarray(bp, dtype=np.int64)
    ids = np.empty(len(bp), dtype=np.int64)
    offset = 0
    for label in dict.fromkeys(chrom):  # chromosomes in order of appearance
        on = chrom == label
        local = (bp[on] - bp[on].min()) // int(window_kb * 1000)
        _, dense = np.unique(local, return_inverse=True)
        ids[on] = offset + dense
        offset += dense.max() + 1
    return ids


def bayesn_effects(het, h2: float, *, rng: np.random.Generator, windows,
                   pi: float | None = None, n_causal: int | None = None,
                   pi_snp: float = BAYESN_DEFAULT_PI_SNP) -> Effects:
    """BayesN (nested BayesC): windows with an effect (probability ``pi`` each, or exactly
    ``n_causal`` windows), then SNPs causal within them with probability ``pi_snp``; causal
    b_std ~ N(0, sig2_beta) (standardised scale), sig2_beta = h2 / (pi pi_snp M).

    ``windows``: window id per SNP (:func:`window_ids`).
    """
    return _nested_effects("N", het, h2, rng, windows, pi, n_causal, pi_snp, S=None)


def bayesns_effects(het, h2: float, *, rng: np.random.Generator, windows,
                    pi: float | None = None, n_causal: int | None = None,
                    pi_snp: float = BAYESN_DEFAULT_PI_SNP, S: float = BAYESS_DEFAULT_S) -> Effects:
    """BayesNS (nested BayesS): windows and SNPs as :func:`bayesn_effects`; causal per-allele
    beta ~ N(0, sig2_beta H^S), sig2_beta = h2 / (pi pi_snp sum_j H_j^(S+1))."""
    return _nested_effects("NS", het, h2, rng, windows, pi, n_causal, pi_snp, S=S)


def _nested_effects(prior, het, h2, rng, windows, pi, n_causal, pi_snp, S) -> Effects:
    het, h2 = _check_het(het), _check_h2(h2)
    windows = np.asarray(windows)
    if windows.shape != het.shape:
        raise InputError(f"windows must give one window per SNP ({len(het)}), got "
                         f"{windows.shape}")
    if not 0.0 < pi_snp <= 1.0:
        raise InputError(f"pi_snp must be in (0, 1], got {pi_snp}")
    poly = het > 0
    labels, window_of_snp = np.unique(windows, return_inverse=True)
    eligible_windows = np.zeros(len(labels), dtype=bool)
    eligible_windows[window_of_snp[poly]] = True
    active, pi = _choose_causal(eligible_windows, pi, n_causal, rng,
                                unit="windows with a polymorphic SNP")
    mask = active[window_of_snp] & poly & (rng.random(len(het)) < pi_snp)
    # per-SNP prior variance weights: 1 on the standardised scale (N), H^(S+1) (NS)
    weight = np.ones(len(het)) if S is None else np.where(poly, het, 1.0) ** (S + 1.0)
    sig2_beta = h2 / (pi * pi_snp * weight[poly].sum())
    b_std = np.zeros(len(het))
    b_std[mask] = rng.normal(0.0, 1.0, mask.sum()) * np.sqrt(sig2_beta * weight[mask])
    params = {"pi": pi, "pi_scale": "share of windows with an effect", "pi_snp": pi_snp,
              "n_windows": int(eligible_windows.sum()),
              "causal_windows": labels[active].tolist(), "sig2_beta": sig2_beta,
              "sig2_beta_scale": "standardised" if S is None else "per-allele"}
    if S is not None:
        params["S"] = S
    return Effects(prior, params, _per_allele(b_std, het), het, mask.astype(np.int8), h2)


def _per_allele(b_std: np.ndarray, het: np.ndarray) -> np.ndarray:
    """beta = b_std / sqrt(H); zero where H = 0 (those SNPs never carry an effect)."""
    out = np.zeros_like(b_std)
    poly = het > 0
    out[poly] = b_std[poly] / np.sqrt(het[poly])
    return out


def _check_het(het) -> np.ndarray:
    het = np.asarray(het, dtype=np.float64)
    if het.ndim != 1 or len(het) == 0:
        raise InputError("het must be a non-empty 1-D array of 2p(1-p)")
    if not np.isfinite(het).all() or (het < 0).any() or (het > 0.5).any():
        raise InputError("het = 2p(1-p) must be finite and within [0, 0.5]")
    if not (het > 0).any():
        raise InputError("every SNP is monomorphic (2p(1-p) = 0): nothing can be causal")
    return het


def _check_h2(h2) -> float:
    h2 = float(h2)
    if not 0.0 < h2 < 1.0:
        raise InputError(f"h2 must be in (0, 1), got {h2}")
    return h2


def _choose_causal(eligible, pi, n_causal, rng,
                   unit: str = "polymorphic SNPs") -> tuple[np.ndarray, float]:
    """Causal mask over units (SNPs or windows) drawn among the ``eligible`` ones (boolean
    array), and the causal fraction it implies.

    With ``pi`` every eligible unit is causal independently with probability pi (the prior
    as written); with ``n_causal`` exactly that many are chosen uniformly.
    """
    mask = np.zeros(len(eligible), dtype=bool)
    eligible = np.flatnonzero(eligible)
    if (pi is None) == (n_causal is None):
        raise InputError("give exactly one of pi (causal fraction) and n_causal (count)")
    if n_causal is not None:
        if int(n_causal) != n_causal or not 1 <= n_causal <= len(eligible):
            raise InputError(f"n_causal must be an integer in [1, {len(eligible)}] (the number "
                             f"of {unit}), got {n_causal}")
        mask[rng.choice(eligible, int(n_causal), replace=False)] = True
        return mask, int(n_causal) / len(eligible)
    pi = float(pi)
    if not 0.0 < pi <= 1.0:
        raise InputError(f"pi must be in (0, 1], got {pi}")
    mask[eligible[rng.random(len(eligible)) < pi]] = True
    return mask, pi
