"""Bivariate MiXeR fit sequence: polygenic overlap of two traits by maximum likelihood.

The sequence follows MiXeR (Frei et al. 2019):

1. the univariate parameters (pi_t = pi_t_unique + pi12, sig2_beta_t, sig2_zero_t) are fixed
   from the two univariate fits;
2. infinitesimal model (every SNP causal in both traits): genetic correlation ``rg`` and the
   residual correlation ``rho0`` (sample overlap);
3. fast model: the shared fraction pi12 (through its share of min(pi1_u, pi2_u)), the effect
   correlation rho12 and rho0, from several starts over the overlap range;
4. optional final tuning with the full (sampling) model (Nelder-Mead; the full objective is
   piecewise constant in pi12).

Standard errors come from the observed Fisher information (numerical Hessian of the fast
model's analytic gradient) in the transformed space (logit overlap share, erf^-1 rho);
derived quantities (rg, Venn counts, dice, ...) get SEs from 1,000 draws of the asymptotic
normal. They are conditional on the univariate fits. AIC/BIC compare the best model with the
minimal-overlap (pi12 = |rg| sqrt(pi1_u pi2_u), |rho12| = 1) and maximal-overlap
(pi12 = min(pi1_u, pi2_u)) models.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from bayesmix.errors import ConvergenceError, InputError
from bayesmix.kernels import mixer_bivariate as kern

log = logging.getLogger("bayesmix.mixer2")

#: Share of causal variants (largest |effect| first) explaining 90% of h2 under a normal slab:
#: with c solving erfc(c / sqrt 2) + 2 c phi(c) = 0.9, the share is erfc(c / sqrt 2).
_C90 = optimize.brentq(lambda c: special.erfc(c / math.sqrt(2)) + 2 * c * math.exp(-c * c / 2)
                       / math.sqrt(2 * math.pi) - 0.9, 0.0, 10.0)
SHARE_CAUSAL_90 = float(special.erfc(_C90 / math.sqrt(2)))
N_SE_DRAWS = 1000
RHO_LIMIT = 0.999


@dataclass
class BivariateData:
    """Everything the bivariate likelihood needs, as plain arrays over T tag SNPs.

    Attributes
    ----------
    z1, z2 : z-scores of the two traits, aligned to the same A1 allele.
    n1, n2 : per-tag sample sizes.
    weights : pruning weights w_j (share of random-pruning passes keeping the tag).
    l, q : LD moments ``sum_i H_i r_ij^2`` and ``sum_i H_i^2 r_ij^4`` (per-allele scale H).
    het : (M,) H_i of the reference SNPs (M = ``n_ref``).
    col_ptr, col_tags, col_r2 : LD by reference SNP (for the full model), r^2 values.
    snps : optional tag SNP ids (for per-SNP outputs).
    """

    z1: np.ndarray
    z2: np.ndarray
    n1: np.ndarray
    n2: np.ndarray
    weights: np.ndarray
    l: np.ndarray
    q: np.ndarray
    het: np.ndarray
    col_ptr: np.ndarray | None = None
    col_tags: np.ndarray | None = None
    col_r2: np.ndarray | None = None
    snps: np.ndarray | None = None

    @classmethod
    def from_ld(cls, z1, z2, n1, n2, weights, indptr, indices, r2, het, snps=None):
        """Build from the tag x reference LD matrix as CSR arrays of r^2 (rows = tags)."""
        arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (z1, z2, n1, n2, weights)]
        t = len(arrays[0])
        for name, a in zip(("z1", "z2", "n1", "n2", "weights"), arrays):
            if a.shape != (t,):
                raise InputError(f"{name} has shape {a.shape}, expected ({t},)")
            if not np.isfinite(a).all():
                raise InputError(f"{name} contains NaN or infinite values")
        if (arrays[2] <= 0).any() or (arrays[3] <= 0).any():
            raise InputError("sample sizes n1, n2 must be positive")
        indptr = np.asarray(indptr, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64)
        r2 = np.asarray(r2, dtype=np.float64)
        het = np.ascontiguousarray(het, dtype=np.float64)
        if len(indptr) != t + 1:
            raise InputError(f"LD matrix has {len(indptr) - 1} rows but there are {t} tags")
        l, q = kern.ld_moments(indptr, indices, r2, het)
        order = np.argsort(indices, kind="stable")
        rows = np.repeat(np.arange(t, dtype=np.int64), np.diff(indptr))
        col_ptr = np.zeros(len(het) + 1, dtype=np.int64)
        np.cumsum(np.bincount(indices, minlength=len(het)), out=col_ptr[1:])
        return cls(*arrays, l, q, het, col_ptr, rows[order], r2[order],
                   None if snps is None else np.asarray(snps))

    @property
    def n_ref(self) -> int:
        return int(self.het.shape[0])

    @property
    def n_tags(self) -> int:
        return int(self.z1.shape[0])

    def fast_logp_grad(self, params):
        return kern.fast_logp_grad(self.z1, self.z2, self.n1, self.n2, self.l, self.q,
                                   self.weights, np.asarray(params, dtype=np.float64))

    def full_logp(self, params, n_draws: int, seed: int) -> float:
        if self.col_ptr is None:
            raise InputError("the full model needs the LD matrix (BivariateData.from_ld)")
        return kern.full_logp(self.z1, self.z2, self.n1, self.n2, self.weights, self.col_ptr,
                              self.col_tags, self.col_r2, self.het,
                              np.asarray(params, dtype=np.float64), n_draws, seed)


@dataclass(frozen=True)
class UnivariateParams:
    """Univariate MiXeR estimates of one trait: causal fraction ``pi`` (of the M reference
    SNPs), per-allele effect variance ``sig2_beta``, residual inflation ``sig2_zero``."""

    pi: float
    sig2_beta: float
    sig2_zero: float

    @classmethod
    def coerce(cls, value) -> "UnivariateParams":
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            source = value.get("params", value)
            try:
                return cls(float(source["pi"]), float(source["sig2_beta"]),
                           float(source["sig2_zero"]))
            except KeyError as exc:
                raise InputError(f"univariate parameters lack {exc.args[0]!r}") from None
        return cls(*map(float, value))


def overlap_params(uni1: UnivariateParams, uni2: UnivariateParams, share, rho12, rho0):
    """The 9 natural parameters from the overlap share pi12 / min(pi1_u, pi2_u) and rhos."""
    pi12 = share * min(uni1.pi, uni2.pi)
    return np.array([max(uni1.pi - pi12, 0.0), max(uni2.pi - pi12, 0.0), pi12,
                     uni1.sig2_beta, uni2.sig2_beta, rho12, uni1.sig2_zero, uni2.sig2_zero,
                     rho0])


def infinitesimal_params(uni1: UnivariateParams, uni2: UnivariateParams, rg, rho0):
    """Fast-model parameters equal to the infinitesimal model: every SNP causal in both
    traits (pi12 = 1) with per-SNP variances pi_t sig2_beta_t and correlation rg."""
    return np.array([0.0, 0.0, 1.0, uni1.pi * uni1.sig2_beta, uni2.pi * uni2.sig2_beta, rg,
                     uni1.sig2_zero, uni2.sig2_zero, rho0])


def genetic_correlation(pi1, pi2, pi12, rho12):
    """rg = rho12 pi12 / sqrt((pi1 + pi12)(pi2 + pi12)), pi1/pi2 the unique fractions."""
    return rho12 * pi12 / np.sqrt((pi1 + pi12) * (pi2 + pi12))


# transforms: the optimiser works on x = (logit share, erfinv rho12, erfinv rho0)
def _to_rho(x):
    return special.erf(x)


def _from_rho(rho):
    return special.erfinv(np.clip(rho, -RHO_LIMIT, RHO_LIMIT))


def _drho(x):
    return 2.0 / math.sqrt(math.pi) * np.exp(-x * x)


@dataclass
class BivariateFit:
    """Result of :func:`fit_bivariate`. ``params`` are natural-scale (pi1/pi2 unique
    fractions); ``ci`` holds estimates and SEs of derived quantities; ``optimize`` is the
    trace of the fit sequence; ``loglik`` is the weighted log-likelihood (model ``model``)."""

    params: dict
    uni1: UnivariateParams
    uni2: UnivariateParams
    model: str
    loglik: float
    n_tags: int
    n_ref: int
    sum_weights: float
    het_sum: float
    x_hat: np.ndarray
    cov_x: np.ndarray | None
    ci: dict = field(default_factory=dict)
    model_comparison: dict = field(default_factory=dict)
    optimize: list = field(default_factory=list)
    n_draws: int = 0
    seed: int = 0

    @property
    def vector(self) -> np.ndarray:
        return np.array([self.params[k] for k in kern.PARAM_NAMES])

    @property
    def rg(self) -> float:
        p = self.params
        return float(genetic_correlation(p["pi1"], p["pi2"], p["pi12"], p["rho12"]))


class _Objective:
    """Negative log-likelihood over a subset of the transformed overlap parameters."""

    def __init__(self, data: BivariateData, uni1, uni2, *, model="fast", n_draws=0, seed=0):
        self.data, self.uni1, self.uni2 = data, uni1, uni2
        self.model, self.n_draws, self.seed = model, n_draws, seed
        self.calls = 0

    def natural(self, x):
        share = special.expit(x[0])
        return overlap_params(self.uni1, self.uni2, share, _to_rho(x[1]), _to_rho(x[2]))

    def value_grad(self, x):
        """(-logp, -d logp / dx) of the fast model at transformed x (length 3)."""
        self.calls += 1
        params = self.natural(x)
        logp, g = self.data.fast_logp_grad(params)
        share = special.expit(x[0])
        m = min(self.uni1.pi, self.uni2.pi)
        # d params / d share: pi12 += m, pi1 -= m, pi2 -= m
        d_share = (g[2] - g[0] - g[1]) * m
        gx = np.array([d_share * share * (1 - share), g[5] * _drho(x[1]), g[8] * _drho(x[2])])
        if not np.isfinite(logp):
            return 1e300, np.zeros(3)
        return -logp, -gx

    def value(self, x):
        if self.model == "fast":
            return self.value_grad(x)[0]
        self.calls += 1
        logp = self.data.full_logp(self.natural(x), self.n_draws, self.seed)
        return -logp if np.isfinite(logp) else 1e300


def _infinitesimal_fit(data, uni1, uni2):
    """Maximise the infinitesimal model over (rg, rho0); returns (rg, rho0, logp)."""

    def neg(x):
        params = infinitesimal_params(uni1, uni2, _to_rho(x[0]), _to_rho(x[1]))
        logp, g = data.fast_logp_grad(params)
        return -logp, -np.array([g[5] * _drho(x[0]), g[8] * _drho(x[1])])

    best = None
    for start in ((0.0, 0.0), (0.5, 0.0), (-0.5, 0.0)):
        res = optimize.minimize(neg, np.array(start), jac=True, method="L-BFGS-B")
        if best is None or res.fun < best.fun:
            best = res
    return float(_to_rho(best.x[0])), float(_to_rho(best.x[1])), float(-best.fun)


def _hessian(fun_grad, x, step=1e-4):
    """Symmetrised central-difference Hessian of a function from its analytic gradient."""
    k = len(x)
    h = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        h[i] = (fun_grad(x + e)[1] - fun_grad(x - e)[1]) / (2 * step)
    return 0.5 * (h + h.T)


def _constrained_fit(objective: _Objective, fixed_share=None, rho12_from_rg=None):
    """Fit the fast model with pi12 fixed (share given, or minimal overlap for the given rg:
    |rho12| = 1). Returns (logp, x)."""

    if rho12_from_rg is not None:
        def neg(y):
            # minimal overlap: rho12 = sign(rg), share set by rg; free: rg magnitude and rho0
            rg = _to_rho(y[0])
            m = min(objective.uni1.pi, objective.uni2.pi)
            share = min(abs(rg) * math.sqrt(objective.uni1.pi * objective.uni2.pi) / m, 1.0)
            share = min(max(share, 1e-9), 1 - 1e-9)
            x = np.array([special.logit(share), _from_rho(math.copysign(RHO_LIMIT, rg)), y[1]])
            return objective.value_grad(x)[0]
        starts = [np.array([_from_rho(rho12_from_rg), 0.0])]
        res = min((optimize.minimize(neg, s, method="Nelder-Mead",
                                     options={"xatol": 1e-4, "fatol": 1e-4}) for s in starts),
                  key=lambda r: r.fun)
        return -res.fun, res.x

    def neg2(y):
        x = np.array([special.logit(fixed_share), y[0], y[1]])
        f, g = objective.value_grad(x)
        return f, g[1:]
    res = min((optimize.minimize(neg2, np.array(s), jac=True, method="L-BFGS-B")
               for s in ((0.0, 0.0), (0.5, 0.0), (-0.5, 0.0))), key=lambda r: r.fun)
    return -res.fun, res.x


def fit_bivariate(data: BivariateData, uni1, uni2, *, model: str = "fast",
                  n_draws: int = 1000, seed: int = 0, share_starts=(0.05, 0.25, 0.5, 0.75,
                                                                     0.95),
                  compare_models: bool = True, se_draws: int = N_SE_DRAWS,
                  rng: np.random.Generator | None = None) -> BivariateFit:
    """Run the bivariate MiXeR fit sequence.

    Parameters
    ----------
    data : :class:`BivariateData`.
    uni1, uni2 : univariate fits of the two traits (:class:`UnivariateParams`, a dict with
        pi/sig2_beta/sig2_zero, or a MiXeR-style JSON dict with a ``params`` block).
    model : "fast" (moments, smooth) or "full" (sampling; tuned after the fast fit).
    n_draws, seed : K draws of the causal sets of the full model, and their seed.
    share_starts : starting overlap shares pi12 / min(pi1_u, pi2_u) of the fast step.
    compare_models : also fit the minimal- and maximal-overlap models (AIC/BIC).
    se_draws : draws from the asymptotic normal for SEs of derived quantities.
    rng : generator for those draws (default: seeded from ``seed``).
    """
    uni1, uni2 = UnivariateParams.coerce(uni1), UnivariateParams.coerce(uni2)
    for t, u in enumerate((uni1, uni2), 1):
        if not (0 < u.pi <= 1 and u.sig2_beta > 0 and u.sig2_zero > 0):
            raise InputError(f"trait {t} univariate parameters out of range: {u}")
    if model not in ("fast", "full"):
        raise InputError(f"unknown model {model!r}: use 'fast' or 'full'")
    rng = np.random.default_rng(seed) if rng is None else rng
    trace = []
    t0 = time.perf_counter()

    # 1. infinitesimal: rg and rho0
    rg_inf, rho0_inf, logp_inf = _infinitesimal_fit(data, uni1, uni2)
    trace.append({"step": "infinitesimal", "rg": rg_inf, "rho0": rho0_inf, "loglik": logp_inf,
                  "seconds": time.perf_counter() - t0})
    log.info("mixer2 infinitesimal: rg=%.3f rho0=%.3f loglik=%.3f", rg_inf, rho0_inf, logp_inf)

    # 2. fast model from several overlap shares; rho12 started to reproduce rg_inf
    objective = _Objective(data, uni1, uni2)
    m = min(uni1.pi, uni2.pi)
    best = None
    for share in share_starts:
        rho12 = float(np.clip(rg_inf * math.sqrt(uni1.pi * uni2.pi) / (share * m),
                              -0.95, 0.95))
        x0 = np.array([special.logit(share), _from_rho(rho12), _from_rho(rho0_inf)])
        res = optimize.minimize(objective.value_grad, x0, jac=True, method="L-BFGS-B",
                                bounds=[(-12, 12), (-2.3, 2.3), (-2.3, 2.3)])
        if best is None or res.fun < best.fun:
            best = res
    x_hat = best.x
    logp = -best.fun
    trace.append({"step": "fast", "params": _named(objective.natural(x_hat)), "loglik": logp,
                  "evaluations": objective.calls, "seconds": time.perf_counter() - t0})
    log.info("mixer2 fast: pi12=%.3g rho12=%.3f rho0=%.3f loglik=%.3f",
             objective.natural(x_hat)[2], objective.natural(x_hat)[5],
             objective.natural(x_hat)[8], logp)

    # Fisher information of the fast model at its optimum (transformed space)
    cov_x = _covariance(objective, x_hat)

    # 3. full-model tuning
    if model == "full":
        full = _Objective(data, uni1, uni2, model="full", n_draws=n_draws, seed=seed)
        res = optimize.minimize(full.value, x_hat, method="Nelder-Mead",
                                options={"xatol": 1e-3, "fatol": 1e-3, "maxfev": 200})
        x_hat = res.x
        logp = -res.fun
        trace.append({"step": "full", "params": _named(full.natural(x_hat)), "loglik": logp,
                      "evaluations": full.calls, "n_draws": n_draws,
                      "seconds": time.perf_counter() - t0})
        log.info("mixer2 full: pi12=%.3g rho12=%.3f loglik=%.3f",
                 full.natural(x_hat)[2], full.natural(x_hat)[5], logp)
    params = objective.natural(x_hat)
    fit = BivariateFit(params=_named(params), uni1=uni1, uni2=uni2, model=model, loglik=logp,
                       n_tags=data.n_tags, n_ref=data.n_ref,
                       sum_weights=float(data.weights.sum()), het_sum=float(data.het.sum()),
                       x_hat=np.asarray(x_hat), cov_x=cov_x, optimize=trace,
                       n_draws=n_draws if model == "full" else 0, seed=seed)
    fit.ci = derived_quantities(fit, rng, se_draws)
    fit.model_comparison = {"infinitesimal": _comparison(fit, logp_inf, 2, 3)}
    if compare_models:
        lp_min, _ = _constrained_fit(objective, rho12_from_rg=rg_inf)
        lp_max, _ = _constrained_fit(objective, fixed_share=1 - 1e-9)
        if model == "full":
            log.info("mixer2: minimal/maximal overlap models compared on the fast likelihood")
        lp_best_fast = -_Objective(data, uni1, uni2).value_grad(x_hat)[0]
        fit.model_comparison["minimal_overlap"] = _comparison(fit, lp_min, 2, 3, lp_best_fast)
        fit.model_comparison["maximal_overlap"] = _comparison(fit, lp_max, 2, 3, lp_best_fast)
        trace.append({"step": "model_comparison", "loglik_min": lp_min, "loglik_max": lp_max,
                      "seconds": time.perf_counter() - t0})
    return fit


def _named(vector) -> dict:
    return {k: float(v) for k, v in zip(kern.PARAM_NAMES, vector)}


def _covariance(objective: _Objective, x_hat):
    """Inverse observed Fisher information in transformed space, or None if singular."""
    hess = _hessian(objective.value_grad, np.asarray(x_hat, dtype=np.float64))
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        log.warning("mixer2: singular Fisher information; standard errors unavailable")
        return None
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
        log.warning("mixer2: Fisher information not positive definite at the optimum "
                    "(flat likelihood?); standard errors unavailable")
        return None
    return cov


def _comparison(fit: BivariateFit, logp_other, k_other, k_best, logp_best=None):
    """AIC/BIC differences other - best: positive values favour the best-fitting model."""
    logp_best = fit.loglik if logp_best is None else logp_best
    ln_n = math.log(max(fit.sum_weights, 1.0))
    aic = (2 * k_other - 2 * logp_other) - (2 * k_best - 2 * logp_best)
    bic = (k_other * ln_n - 2 * logp_other) - (k_best * ln_n - 2 * logp_best)
    return {"loglik": float(logp_other), "delta_aic": float(aic), "delta_bic": float(bic)}


def derived_quantities(fit: BivariateFit, rng: np.random.Generator, n_draws: int) -> dict:
    """Estimates and SEs (from draws of the asymptotic normal) of derived quantities.

    Counts are numbers of causal variants among the M reference SNPs: ``nc1``/``nc2`` unique,
    ``nc12`` shared, with ``@p9`` variants those explaining 90% of h2 (a normal slab keeps
    the same share, :data:`SHARE_CAUSAL_90`, in every component).
    """
    def quantities(x):
        share = special.expit(x[..., 0])
        rho12 = _to_rho(x[..., 1])
        rho0 = _to_rho(x[..., 2])
        pi12 = share * min(fit.uni1.pi, fit.uni2.pi)
        pi1 = fit.uni1.pi - pi12
        pi2 = fit.uni2.pi - pi12
        m = fit.n_ref
        out = {
            "pi1": pi1, "pi2": pi2, "pi12": pi12, "rho12": rho12, "rho0": rho0,
            "rg": genetic_correlation(pi1, pi2, pi12, rho12),
            "pi12_over_pi1u": pi12 / fit.uni1.pi, "pi12_over_pi2u": pi12 / fit.uni2.pi,
            "dice": 2 * pi12 / (fit.uni1.pi + fit.uni2.pi),
            "nc1": pi1 * m, "nc2": pi2 * m, "nc12": pi12 * m,
            "nc1@p9": pi1 * m * SHARE_CAUSAL_90, "nc2@p9": pi2 * m * SHARE_CAUSAL_90,
            "nc12@p9": pi12 * m * SHARE_CAUSAL_90,
        }
        out["total"] = out["nc1"] + out["nc2"] + out["nc12"]
        out["total@p9"] = out["total"] * SHARE_CAUSAL_90
        return out

    point = {k: float(v) for k, v in quantities(np.asarray(fit.x_hat)).items()}
    if fit.cov_x is None or n_draws <= 0:
        out = {k: {"mean": v, "se": None} for k, v in point.items()}
    else:
        draws = rng.multivariate_normal(fit.x_hat, fit.cov_x, size=n_draws, method="eigh")
        sampled = quantities(draws)
        out = {k: {"mean": point[k], "se": float(np.std(sampled[k], ddof=1))} for k in point}
    # heritabilities come from the (fixed) univariate fits: no SE from the bivariate fit
    for t, uni in (("T1", fit.uni1), ("T2", fit.uni2)):
        out[f"h2_{t}"] = {"mean": uni.pi * uni.sig2_beta * fit.het_sum, "se": None}
    return out


def component_posteriors(fit: BivariateFit, data: BivariateData) -> dict:
    """Per-tag posterior probabilities (fast model) given both z-scores.

    Returns arrays ``p_shared`` (the tag's signal includes shared causal variants),
    ``p_unique1``/``p_unique2`` (trait-specific causal variants) and ``p_null`` (no causal
    variant in LD). They answer "which SNPs are shared" at the level of tag SNPs.
    """
    post = kern.fast_component_posteriors(data.z1, data.z2, data.n1, data.n2, data.l, data.q,
                                          fit.vector)
    b = np.arange(kern.N_FAST_COMPONENTS)
    return {"p_shared": post[:, (b & 4) > 0].sum(1), "p_unique1": post[:, (b & 1) > 0].sum(1),
            "p_unique2": post[:, (b & 2) > 0].sum(1), "p_null": post[:, 0]}


def profile_pi12(fit: BivariateFit, data: BivariateData, shares=None) -> dict:
    """Log-likelihood profile over pi12 (fast model): at each overlap share, rho12 and rho0
    are re-optimised. Returns dict of arrays ``pi12``, ``loglik``."""
    shares = np.linspace(0.02, 0.98, 25) if shares is None else np.asarray(shares)
    objective = _Objective(data, fit.uni1, fit.uni2)
    m = min(fit.uni1.pi, fit.uni2.pi)
    loglik = np.array([_constrained_fit(objective, fixed_share=s)[0] for s in shares])
    return {"pi12": shares * m, "loglik": loglik}


def check_finite_fit(fit: BivariateFit) -> None:
    """Raise :class:`ConvergenceError` if the optimum is not finite."""
    if not np.isfinite(fit.loglik) or not np.all(np.isfinite(fit.vector)):
        raise ConvergenceError("bivariate fit diverged (non-finite likelihood or parameters)")
