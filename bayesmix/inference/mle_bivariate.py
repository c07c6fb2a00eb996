"""Bivariate MiXeR fit sequence: polygenic overlap of two traits by maximum likelihood.

The sequence follows MiXeR (Frei et al. 2019):

1. the univariate parameters (pi_t_u = pi_t + pi12, sig2_beta_t, sig2_zero_t) are fixed from
   the two univariate fits (:func:`bayesmix.inference.mle.fit_univariate`);
2. ``infinitesimal``: every SNP causal in both traits; fits the genetic correlation ``rg``
   and the residual correlation ``rho0`` (sample overlap);
3. ``fast``: the overlap share s = pi12 / min(pi1_u, pi2_u), the effect correlation rho12 and
   rho0, by L-BFGS with the analytic gradient from several starting shares;
4. ``full`` (optional): the sampled likelihood, first profiled over the share with rg and
   rho0 held at the fast estimates (grid then bounded Brent, as MiXeR's brute/Brent pi12
   step), then refined jointly in all three overlap parameters by Nelder-Mead (the sampled
   objective is piecewise constant in pi12, so no gradient is used). The fast model's
   two-point approximation can trade residual correlation rho0 for a spurious shared
   component when causal variants are dense in LD blocks; this step corrects it.

Free coordinates: (logit s, erfinv rho12, erfinv rho0) (:data:`BIVARIATE_SPACE`). Standard
errors come from the observed Fisher information of the fast likelihood in those
coordinates; derived quantities (rg, Venn counts, dice, ...) from 1,000 draws of the
asymptotic normal (:func:`bayesmix.inference.mle.derived_by_draws`). They are conditional on
the univariate fits. AIC/BIC compare the best model with the infinitesimal model and with the
minimal-overlap (|rho12| = 1, pi12 = |rg| sqrt(pi1_u pi2_u)) and maximal-overlap
(pi12 = min(pi1_u, pi2_u)) models, each refitted.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import optimize, special

from bayesmix import interrupt
from bayesmix.checkpoint import digest_arrays
from bayesmix.errors import ConvergenceError, InputError
from bayesmix.inference.mle import (ERFINV, LOGIT, EvaluationMonitor, FitStages, OptimizeStep,
                                    ParameterSpace, _step_record, causal_share_for_h2,
                                    data_digest, derived_by_draws, draw_derived,
                                    information_criteria, maximize, observed_information_cov,
                                    refit_inflation, refit_scalar)
from bayesmix.kernels import mixer_bivariate as kern
from bayesmix.models.mixer_bivariate import UnivariateParams
from bayesmix.prepare.mixer_data import BivariateData

log = logging.getLogger("bayesmix")

#: free coordinates of the overlap fit: (logit share, erfinv rho12, erfinv rho0)
BIVARIATE_SPACE = ParameterSpace(("share", "rho12", "rho0"), (LOGIT, ERFINV, ERFINV))
RHO_LIMIT = 0.999
SHARE_LIMITS = (1e-4, 1.0 - 1e-4)


def overlap_params(uni1: UnivariateParams, uni2: UnivariateParams, share, rho12, rho0):
    """The 9 natural parameters (kernel order) from the overlap share
    s = pi12 / min(pi1_u, pi2_u) in [0, 1] and the two correlations."""
    pi12 = share * min(uni1.pi, uni2.pi)
    return np.array([max(uni1.pi - pi12, 0.0), max(uni2.pi - pi12, 0.0), pi12,
                     uni1.sig2_beta, uni2.sig2_beta, rho12, uni1.sig2_zero, uni2.sig2_zero,
                     rho0])


def infinitesimal_params(uni1: UnivariateParams, uni2: UnivariateParams, rg, rho0):
    """Fast-model parameters equal to the infinitesimal model: every SNP causal in both
    traits (pi12 = 1) with per-SNP effect variances pi_t_u sig2_beta_t and correlation rg."""
    return np.array([0.0, 0.0, 1.0, uni1.pi * uni1.sig2_beta, uni2.pi * uni2.sig2_beta, rg,
                     uni1.sig2_zero, uni2.sig2_zero, rho0])


def genetic_correlation(pi1, pi2, pi12, rho12):
    """rg = rho12 pi12 / sqrt((pi1 + pi12)(pi2 + pi12)); pi1, pi2 the unique fractions."""
    return rho12 * pi12 / np.sqrt((pi1 + pi12) * (pi2 + pi12))


def realised_genetic_correlation(b_std, r) -> float:
    """Genetic correlation of given standardised effects (M, 2) under LD ``r`` (sparse or
    dense M x M): b1' R b2 / sqrt(b1' R b1 b2' R b2). The truth of a simulation."""
    b = np.asarray(b_std, dtype=np.float64)
    cov = b.T @ (r @ b)
    return float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))


def rho12_for_rg(uni1: UnivariateParams, uni2: UnivariateParams, share, rg):
    """Effect correlation giving genetic correlation ``rg`` at overlap ``share`` (clipped)."""
    pi12 = share * min(uni1.pi, uni2.pi)
    return float(np.clip(rg * math.sqrt(uni1.pi * uni2.pi) / pi12, -RHO_LIMIT, RHO_LIMIT))


@dataclass
class BivariateFit:
    """Result of :func:`fit_bivariate`.

    ``params``: the 9 natural parameters (pi1, pi2 unique and pi12 shared fractions of the M
    reference SNPs; sig2_beta per-allele effect variances; rho12 effect correlation in the
    shared component; sig2_zero, rho0 residual variances and correlation); ``loglik``: the
    weighted log-likelihood of ``method``; ``cov_free``: covariance of (logit share,
    erfinv rho12, erfinv rho0); ``ci``: derived quantities with mean/median/std (= SE)/95%
    interval/point; ``criteria``: AIC/BIC differences (positive = best model preferred) vs
    the infinitesimal, minimal- and maximal-overlap models; ``steps``: the fit sequence;
    ``draws``: the draws of the asymptotic normal behind ``ci`` (name -> array; empty for a
    fit read back from JSON).
    """

    method: str
    params: dict
    loglik: float
    cov_free: np.ndarray
    ci: dict
    criteria: dict
    steps: list
    uni1: UnivariateParams
    uni2: UnivariateParams
    options: dict
    n_tags: int
    n_ref: int
    sum_weights: float
    sum_het: float
    u_hat: np.ndarray = field(repr=False, default=None)
    draws: dict = field(repr=False, default_factory=dict)

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.params[k] for k in kern.PARAM_NAMES])

    @property
    def rg(self) -> float:
        p = self.params
        return float(genetic_correlation(p["pi1"], p["pi2"], p["pi12"], p["rho12"]))

    @property
    def share(self) -> float:
        """pi12 / min(pi1_u, pi2_u): 0 = disjoint, 1 = the smaller trait's causal variants
        all shared."""
        return self.params["pi12"] / min(self.uni1.pi, self.uni2.pi)

    def to_datatree(self, profile: dict | None = None):
        """ArviZ/xarray DataTree of the fit (:mod:`bayesmix.inference.mle_datatree`);
        ``profile``: a :func:`profile_pi12` result to include."""
        from bayesmix.inference.mle_datatree import bivariate_datatree

        return bivariate_datatree(self, venn_counts(self.ci), profile)


class OverlapLikelihood:
    """Log-likelihood of the overlap model in :data:`BIVARIATE_SPACE` coordinates."""

    def __init__(self, data: BivariateData, uni1: UnivariateParams, uni2: UnivariateParams):
        self.data, self.uni1, self.uni2 = data, uni1, uni2

    def natural(self, u) -> np.ndarray:
        share, rho12, rho0 = BIVARIATE_SPACE.natural(u)
        return overlap_params(self.uni1, self.uni2, share, rho12, rho0)

    def logp_grad(self, u):
        """(logp, d logp / d u) of the fast model."""
        logp, g = self.data.fast_logp_grad(self.natural(u))
        m = min(self.uni1.pi, self.uni2.pi)
        # d params / d share: pi12 += m, pi1 -= m, pi2 -= m
        d_natural = np.array([(g[2] - g[0] - g[1]) * m, g[5], g[8]])
        return logp, d_natural * BIVARIATE_SPACE.jacobian(u)

    def logp(self, u) -> float:
        return self.logp_grad(u)[0]


def _free(share, rho12, rho0) -> np.ndarray:
    return BIVARIATE_SPACE.free([np.clip(share, *SHARE_LIMITS),
                                 np.clip(rho12, -RHO_LIMIT, RHO_LIMIT),
                                 np.clip(rho0, -RHO_LIMIT, RHO_LIMIT)])


def _fit_infinitesimal(data: BivariateData, uni1, uni2, max_evals):
    """Maximise the infinitesimal model over (rg, rho0) in erfinv coordinates."""
    def lg(u):
        rg, rho0 = ERFINV.to_natural(u)
        logp, g = data.fast_logp_grad(infinitesimal_params(uni1, uni2, rg, rho0))
        return logp, np.array([g[5], g[8]]) * ERFINV.dx_du(u)

    best = None
    for start in (0.0, 0.5, -0.5):
        fit = maximize(lambda u: lg(u)[0], np.array([start, 0.0]), optimizer="lbfgs",
                       logp_grad=lg, max_evals=max_evals)
        if best is None or fit[1] > best[1]:
            best = fit
    return best


def _fit_fixed_share(like: OverlapLikelihood, share, u_start, max_evals):
    """Maximise over (rho12, rho0) at a fixed share; returns (logp, u)."""
    s_free = LOGIT.to_free(share)

    def lg(v):
        logp, g = like.logp_grad(np.array([s_free, v[0], v[1]]))
        return logp, g[1:]

    v, logp, _, _ = maximize(lambda v: lg(v)[0], np.asarray(u_start[1:], dtype=float),
                             optimizer="lbfgs", logp_grad=lg, max_evals=max_evals)
    return logp, np.array([s_free, *v])


def _fit_minimal_overlap(like: OverlapLikelihood, rg_start, rho0_start, max_evals):
    """|rho12| = 1 and pi12 = |rg| sqrt(pi1_u pi2_u): free rg and rho0 (Nelder-Mead)."""
    m = min(like.uni1.pi, like.uni2.pi)
    root = math.sqrt(like.uni1.pi * like.uni2.pi)

    def logp(v):
        rg, rho0 = ERFINV.to_natural(v)
        share = min(max(abs(rg) * root / m, SHARE_LIMITS[0]), 1.0)
        return like.data.fast_logp_grad(overlap_params(
            like.uni1, like.uni2, share, math.copysign(1.0, rg), rho0))[0]

    v0 = ERFINV.to_free(np.clip([rg_start, rho0_start], -RHO_LIMIT, RHO_LIMIT))
    _, lp, _, _ = maximize(logp, v0, optimizer="neldermead", max_evals=max_evals,
                           simplex_step=0.2)
    return lp


class _WatchedBivariateData(BivariateData):
    """BivariateData whose likelihood evaluations go through an EvaluationMonitor."""

    monitor: EvaluationMonitor = None

    def fast_logp_grad(self, params):
        self.monitor.poll()
        value, grad = super().fast_logp_grad(params)
        self.monitor.record(value)
        return value, grad

    def full_logp(self, params, n_draws: int, seed: int) -> float:
        self.monitor.poll()
        value = super().full_logp(params, n_draws, seed)
        self.monitor.record(value)
        return value

    def full_logp_rho_grad(self, params, n_draws: int, seed: int):
        self.monitor.poll()
        value, grad = super().full_logp_rho_grad(params, n_draws, seed)
        self.monitor.record(value)
        return value, grad


def fit_bivariate(data: BivariateData, uni1, uni2, *, sequence=("infinitesimal", "fast"),
                  kmax: int = 1000, seed: int = 0,
                  share_starts=(0.05, 0.25, 0.5, 0.75, 0.95), full_grid: int = 11,
                  full_evals: int = 80,
                  compare_overlap: bool = True, n_draws: int = 1000, max_evals: int = 400,
                  progress=None, checkpoint=None, resume: bool = False,
                  fingerprint: dict[str, str] | None = None) -> BivariateFit:
    """Run the bivariate MiXeR fit sequence; see the module docstring.

    Parameters
    ----------
    data : :class:`BivariateData`.
    uni1, uni2 : univariate fits (:class:`~bayesmix.inference.mle.UnivariateFit`, MiXeR JSON
        dict, dict or (pi, sig2_beta, sig2_zero)).
    sequence : must hold "fast"; "infinitesimal" (the start) and "fast" (the fit of every
        parameter) always run, "full" adds pi12 refined on the sampled likelihood.
    kmax, seed : K sampled causal-set draws of the full model and their seed.
    share_starts : starting overlap shares of the fast step.
    full_grid : number of grid shares of the full step before Brent refinement.
    full_evals : Nelder-Mead evaluation budget of the full step's joint refinement.
    compare_overlap : also refit the minimal- and maximal-overlap models (AIC/BIC).
    n_draws : draws of the asymptotic normal for derived quantities.
    progress : optional callable(str) (or True: the ``bayesmix`` logger) receiving one line
        per finished step and, in long steps, a line every
        :data:`~bayesmix.inference.mle.EVAL_LINES_EVERY` likelihood evaluations.
    checkpoint, resume, fingerprint : interrupts and resuming, as in
        :func:`~bayesmix.inference.mle.fit_univariate`; the units are the infinitesimal,
        fast and full steps, the standard errors and each overlap model of the comparison.

    Raises
    ------
    bayesmix.interrupt.Interrupted : a signal stopped the fit (finished steps are in
        ``checkpoint``).
    """
    uni1, uni2 = UnivariateParams.coerce(uni1), UnivariateParams.coerce(uni2)
    unknown = set(sequence) - {"infinitesimal", "fast", "full"}
    if unknown or not sequence:
        raise InputError(f"unknown fit2 sequence steps {sorted(unknown)}; use infinitesimal, "
                         "fast and/or full")
    if "fast" not in sequence:
        raise InputError("the bivariate fit always runs infinitesimal (its start) then fast "
                         "(all parameters); a sequence can only add full: give "
                         "'infinitesimal fast' or 'infinitesimal fast full' (MiXeR's "
                         f"diffevo-fast neldermead-fast [brute1 brent1]), not "
                         f"{' '.join(sequence)!r}")
    rng = np.random.default_rng(seed)
    own = {"uni1": repr(uni1), "uni2": repr(uni2), "sequence": " ".join(sequence),
           "kmax": str(kmax), "seed": str(seed), "share_starts": repr(list(share_starts)),
           "full_grid": str(full_grid), "full_evals": str(full_evals),
           "compare_overlap": str(compare_overlap), "n_draws": str(n_draws),
           "max_evals": str(max_evals),
           "data": digest_arrays(data.trait1.z, data.trait2.z, data.trait1.n, data.trait2.n)
           + data_digest(data.trait1)}
    stages = FitStages("fit_bivariate", checkpoint=checkpoint, resume=resume, rng=rng,
                       fingerprint={**{f"fit2.{k}": v for k, v in own.items()},
                                    **(fingerprint or {})}, progress=progress)
    watched = _WatchedBivariateData(data.trait1, data.trait2)
    watched.monitor = stages.monitor
    with interrupt.deferred():
        fit = _fit_bivariate(watched, uni1, uni2, stages, rng, sequence=sequence, kmax=kmax,
                             seed=seed, share_starts=share_starts, full_grid=full_grid,
                             full_evals=full_evals, compare_overlap=compare_overlap,
                             n_draws=n_draws, max_evals=max_evals)
    stages.finish()
    return fit


def _fit_bivariate(data, uni1, uni2, stages, rng, *, sequence, kmax, seed, share_starts,
                   full_grid, full_evals, compare_overlap, n_draws, max_evals) -> BivariateFit:
    like = OverlapLikelihood(data, uni1, uni2)
    steps: list[OptimizeStep] = []

    def record(result):
        step = OptimizeStep(**result["step"])
        steps.append(step)
        if stages.say is not None:
            stages.say(f"{step.name:>13s} [{step.optimizer}] logL={step.loglik:.3f} "
                       f"evals={step.n_evals} {step.seconds:.1f}s")
        log.info("fit2 %s: logL=%.3f %s", step.name, step.loglik, step.params)
        return result

    def infinitesimal():
        t0 = time.perf_counter()
        u_inf, lp_inf, n_ev, trace = _fit_infinitesimal(data, uni1, uni2, max_evals)
        rg_inf, rho0_inf = (float(x) for x in ERFINV.to_natural(u_inf))
        return {"step": _step_record(OptimizeStep(
            "infinitesimal", "infinitesimal", "lbfgs", {"rg": rg_inf, "rho0": rho0_inf},
            float(lp_inf), n_ev, time.perf_counter() - t0, trace))}

    result = record(stages.run("infinitesimal", infinitesimal))
    lp_inf = result["step"]["loglik"]
    rg_inf, rho0_inf = result["step"]["params"]["rg"], result["step"]["params"]["rho0"]

    def fast():
        """Several overlap shares, rho12 started to reproduce the infinitesimal rg."""
        t0 = time.perf_counter()
        best = None
        n_total = 0
        for share in share_starts:
            u0 = _free(share, rho12_for_rg(uni1, uni2, share, rg_inf), rho0_inf)
            fit = maximize(like.logp, u0, optimizer="lbfgs", logp_grad=like.logp_grad,
                           max_evals=max_evals)
            n_total += fit[2]
            if best is None or fit[1] > best[1]:
                best = fit
        u_hat, lp_fast, _, trace = best
        return {"u_hat": u_hat, "step": _step_record(OptimizeStep(
            "fast", "fast", "lbfgs", _named(like.natural(u_hat)), float(lp_fast), n_total,
            time.perf_counter() - t0, trace))}

    result = record(stages.run("fast", fast))
    u_hat = np.array(result["u_hat"], dtype=float)
    method, loglik = "fast", result["step"]["loglik"]

    if "full" in sequence:
        def full(u_hat):
            t0 = time.perf_counter()
            share_f, rho12_f, rho0_f = BIVARIATE_SPACE.natural(u_hat)
            rg_f = float(genetic_correlation(*like.natural(u_hat)[[0, 1, 2, 5]]))
            trace = []

            def neg_full(share):
                params = overlap_params(uni1, uni2, share,
                                        rho12_for_rg(uni1, uni2, share, rg_f), rho0_f)
                value = data.full_logp(params, kmax, seed)
                trace.append([float(value), float(share)])
                return -value if np.isfinite(value) else 1e300

            grid = np.linspace(0.02, 1.0, full_grid)
            values = [neg_full(s) for s in grid]
            i = int(np.argmin(values))
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
            res = optimize.minimize_scalar(neg_full, bounds=(lo, hi), method="bounded",
                                           options=dict(xatol=2e-3))
            share_best = float(res.x) if res.fun <= values[i] else float(grid[i])
            # then all three overlap parameters on the sampled likelihood (Nelder-Mead)
            full_trace = []

            def logp_full(u):
                value = data.full_logp(like.natural(u), kmax, seed)
                full_trace.append([float(value), *map(float, u)])
                return value

            u0 = _free(share_best, rho12_for_rg(uni1, uni2, share_best, rg_f), rho0_f)
            u_hat, loglik, _, _ = maximize(logp_full, u0, optimizer="neldermead",
                                           max_evals=full_evals, simplex_step=0.3, tol=1e-2)
            return {"u_hat": u_hat, "step": _step_record(OptimizeStep(
                "full", "full", "grid+brent+neldermead", _named(like.natural(u_hat)),
                float(loglik), len(trace) + len(full_trace), time.perf_counter() - t0,
                trace + full_trace))}

        result = record(stages.run("full", lambda: full(u_hat)))
        u_hat = np.array(result["u_hat"], dtype=float)
        method, loglik = "full", result["step"]["loglik"]
    if not np.isfinite(loglik):
        raise ConvergenceError("bivariate fit ended at a non-finite log-likelihood; check z, "
                               "N and the univariate parameters")

    derive = overlap_derived(uni1, uni2, data)

    def standard_errors():
        cov = observed_information_cov(like.logp_grad, u_hat)
        draws = draw_derived(BIVARIATE_SPACE, u_hat, cov, derive, n_draws=n_draws, rng=rng)
        return {"cov": cov, "draws": draws, "loglik_fast": like.logp(u_hat)}

    result = stages.run("standard errors", standard_errors)
    cov = np.array(result["cov"], dtype=float)
    draws = {k: np.array(v, dtype=float) for k, v in result["draws"].items()}
    ci = derived_by_draws(BIVARIATE_SPACE, u_hat, cov, derive, rng=rng, draws=draws)
    sum_w = float(data.weights.sum())
    models = {"best": (result["loglik_fast"], 3), "infinitesimal": (float(lp_inf), 2)}
    if compare_overlap:
        t0 = time.perf_counter()
        models["minimal_overlap"] = (stages.run("minimal overlap", lambda: _fit_minimal_overlap(
            like, rg_inf, rho0_inf, min(max_evals, 120))), 2)
        models["maximal_overlap"] = (stages.run("maximal overlap", lambda: _fit_fixed_share(
            like, SHARE_LIMITS[1], u_hat, max_evals)[0]), 2)
        log.info("fit2 overlap models compared in %.1fs", time.perf_counter() - t0)
    criteria = {name: {"loglik": float(lp), "k": k, **information_criteria(lp, k, sum_w)}
                for name, (lp, k) in models.items()}
    best_ic = criteria["best"]
    for name in list(criteria):
        if name != "best":
            criteria[f"best_vs_{name}_AIC"] = criteria[name]["aic"] - best_ic["aic"]
            criteria[f"best_vs_{name}_BIC"] = criteria[name]["bic"] - best_ic["bic"]
    criteria["note"] = ("information criteria use the fast likelihood for every model; "
                        "positive best_vs_* values favour the best-fitting model")
    return BivariateFit(method=method, params=_named(like.natural(u_hat)), loglik=float(loglik),
                        cov_free=cov, ci=ci, criteria=criteria, steps=steps, uni1=uni1,
                        uni2=uni2,
                        options=dict(sequence=list(sequence), kmax=kmax, seed=seed,
                                     share_starts=list(share_starts)),
                        n_tags=data.n_tags, n_ref=data.n_ref, sum_weights=sum_w,
                        sum_het=data.trait1.sum_het, u_hat=np.asarray(u_hat), draws=draws)


def _named(vector) -> dict:
    return {k: float(v) for k, v in zip(kern.PARAM_NAMES, vector)}


def overlap_derived(uni1: UnivariateParams, uni2: UnivariateParams, data: BivariateData):
    """Function natural (share, rho12, rho0) -> derived quantities (MiXeR's names).

    Counts are numbers of causal variants among the M reference SNPs: ``nc1``/``nc2``
    unique, ``nc12`` shared; ``@p9`` counts are those explaining 90% of h2
    (:func:`~bayesmix.inference.mle.causal_share_for_h2`, the same share in every component
    as all slabs are normal). h2 values are the univariate ones (fixed here).
    """
    m = data.n_ref
    p9 = causal_share_for_h2(data.trait1.het)
    h2 = (uni1.pi * uni1.sig2_beta * data.trait1.sum_het,
          uni2.pi * uni2.sig2_beta * data.trait1.sum_het)

    def derive(x):
        share, rho12, rho0 = x
        pi1, pi2, pi12 = overlap_params(uni1, uni2, share, rho12, rho0)[:3]
        nc1, nc2, nc12 = pi1 * m, pi2 * m, pi12 * m
        return {"pi1": pi1, "pi2": pi2, "pi12": pi12, "rho_beta": rho12, "rho_zero": rho0,
                "rg": genetic_correlation(pi1, pi2, pi12, rho12),
                "pi12_over_pi1u": pi12 / uni1.pi, "pi12_over_pi2u": pi12 / uni2.pi,
                "dice": 2 * pi12 / (uni1.pi + uni2.pi),
                "nc1": nc1, "nc2": nc2, "nc12": nc12, "total": nc1 + nc2 + nc12,
                "nc1@p9": nc1 * p9, "nc2@p9": nc2 * p9, "nc12@p9": nc12 * p9,
                "total@p9": (nc1 + nc2 + nc12) * p9, "h2_T1": h2[0], "h2_T2": h2[1]}

    return derive


def venn_counts(ci: dict) -> dict:
    """Venn diagram numbers from a fit's ``ci``: unique (n1, n2) and shared (n12) causal
    variants, total and at 90% of h2, each ``{"count": point, "se": std}``."""
    out = {}
    for suffix, label in (("", "total"), ("@p9", "p9")):
        out[label] = {name: {"count": ci[f"{key}{suffix}"]["point"],
                             "se": ci[f"{key}{suffix}"]["std"]}
                      for name, key in (("n1", "nc1"), ("n12", "nc12"), ("n2", "nc2"),
                                        ("total", "total"))}
    return out


def shared_posteriors(fit: BivariateFit, data: BivariateData) -> dict:
    """Per-tag posterior probabilities (fast model) given both z-scores.

    ``p_shared``: the tag's association signal includes shared causal variants;
    ``p_unique1`` / ``p_unique2``: it includes trait-specific causal variants; ``p_null``: no
    causal variant in LD. This answers "which SNPs are shared" at the level of tag SNPs.
    """
    post = data.component_posteriors(fit.theta)
    b = np.arange(kern.N_FAST_COMPONENTS)
    return {"p_shared": post[:, (b & 4) > 0].sum(1), "p_unique1": post[:, (b & 1) > 0].sum(1),
            "p_unique2": post[:, (b & 2) > 0].sum(1), "p_null": post[:, 0]}


#: log-likelihood drop bounding a 95% likelihood-ratio interval: chi2_1(0.95) / 2
LR_DROP_95 = 0.5 * float(special.chdtri(1, 1 - 0.95))  # scipy.stats.chi2.ppf(0.95, 1)
#: L-BFGS's gradient tolerance on the sampled likelihood at a profile point (log-likelihood
#: per unit of erfinv rho): on docs/mixer-bivariate.md's pair every point came within 3e-4
#: log-likelihood units of Nelder-Mead's (tolerance 1e-2), or above it, in 7 instead of 27
#: evaluations
PROFILE_GRADIENT_TOL = 1e-2

#: a profile point this far (log-likelihood units) above the fit is reported: 5% of the
#: LR_DROP_95 cut-off, small against inference, above the optimisers' tolerances
EXCESS_WARNING = 0.1


def _profile_objective(fit: BivariateFit, data: BivariateData, max_evals: int):
    """(share, v_starts) -> (loglik, v): the fit's own objective maximised over
    v = (erfinv rho12, erfinv rho0) at a fixed overlap share, from the best (by value) of the
    starting points ``v_starts``, and a description of it.

    The objective is the one that produced ``fit.params``: the fast likelihood or, for a
    ``full`` fit, the sampled likelihood with the fit's K draws and seed. Both are maximised by
    L-BFGS on their analytic gradients: the sampled likelihood is piecewise constant in pi12
    (its draws' sizes round(pi_c M)), but at a fixed share its draws are fixed and it is
    smooth in the two correlations (:meth:`BivariateData.full_logp_rho_grad`).
    """
    like = OverlapLikelihood(data, fit.uni1, fit.uni2)
    if fit.method == "fast":
        def value(s_free, v):
            return like.logp(np.array([s_free, *v]))

        def optimize(share, v_start):
            logp, u = _fit_fixed_share(like, share, np.array([0.0, *v_start]), max_evals)
            return logp, u[1:]
        description = "fast"
    elif fit.method == "full":
        kmax, seed = int(fit.options["kmax"]), int(fit.options["seed"])

        known = {}  # (s_free, *v) -> (logp, grad) at the current share: the starting
        # point best() chose is L-BFGS's first evaluation

        def value_grad(s_free, v):
            key = (s_free, *map(float, v))
            if key not in known:
                if known and next(iter(known))[0] != s_free:
                    known.clear()
                logp, grad = data.full_logp_rho_grad(like.natural(np.array([s_free, *v])),
                                                     kmax, seed)
                known[key] = logp, grad * ERFINV.dx_du(v)
            return known[key]

        def value(s_free, v):
            return value_grad(s_free, v)[0]

        def optimize(share, v_start):
            s_free = LOGIT.to_free(share)
            v, logp, _, _ = maximize(lambda v: value(s_free, v), v_start, optimizer="lbfgs",
                                     logp_grad=lambda v: value_grad(s_free, v),
                                     max_evals=max_evals, tol=PROFILE_GRADIENT_TOL)
            return logp, v
        description = f"full (K={kmax}, seed={seed})"
    else:
        raise InputError(f"no profile for a {fit.method!r} fit; expected 'fast' or 'full'")

    def best(share, v_starts):
        s_free = LOGIT.to_free(share)
        starts = [np.asarray(v, dtype=float) for v in v_starts]
        start = max(starts, key=lambda v: value(s_free, v))
        return optimize(share, start)

    return best, description


def _lr_interval(x, loglik, drop=LR_DROP_95):
    """Where a profile (``loglik`` at increasing ``x``) crosses max - ``drop``, by linear
    interpolation; an end is None when the profile stays above the cut-off up to the grid's
    edge (the interval is open on that side)."""
    top = int(np.argmax(loglik))
    cut = loglik[top] - drop
    ends = []
    for step in (-1, 1):
        i = top
        while 0 <= i + step < len(x) and loglik[i + step] >= cut:
            i += step
        j = i + step
        if not 0 <= j < len(x):
            ends.append(None)
            continue
        frac = (loglik[i] - cut) / (loglik[i] - loglik[j])
        ends.append(float(x[i] + frac * (x[j] - x[i])))
    return ends[0], ends[1]


def profile_pi12(fit: BivariateFit, data: BivariateData, shares=None,
                 max_evals: int | None = None, progress=None) -> dict:
    """Profile log-likelihood over the shared causal fraction pi12.

    At each overlap share s = pi12 / min(pi1_u, pi2_u) (``shares``, default 25 points in
    [0.02, 0.98]) and at the fit's own share, rho12 and rho0 are re-maximised on the
    objective that produced the fit (fast, or full with the fit's K and seed; see
    :func:`_profile_objective`), so the fit's estimate is the profile's maximum when the fit
    is at the maximum of its objective. Points are computed outwards from the estimate, each
    started from its neighbour's optimum. ``max_evals``: evaluation budget per point
    (default 200 for fast, 60 for full). ``progress`` (a callable taking one line) hears
    of each point as it is done, with the time so far.

    Returns a dict (JSON-safe after :func:`bayesmix.report.mixer_json.write_json`):

    - ``share``, ``pi12`` (fraction of the ``n_ref`` reference SNPs), ``n12`` (= pi12 M,
      shared causal variants), ``loglik`` (weighted log-likelihood), ``rho12``, ``rho0``:
      the grid, in increasing share;
    - ``estimate``: the same quantities at the fit's share, plus ``fit_loglik`` (the fit's own
      value; the profile there is at least as high);
    - ``excess``: max of the grid minus the estimate's profile value (<= 0 when the estimate
      is the maximum; above :data:`EXCESS_WARNING` the fit stopped short of the maximum of
      its objective, which is logged as a warning);
    - ``lr95_n12``: the 95% likelihood-ratio interval of n12 (profile >= max - chi2_1(0.95)/2
      over grid and estimate; an end is None where it reaches the grid's edge);
    - ``objective``, ``n_ref``, ``smaller_trait`` (the trait whose causal variants s refers
      to: 1 or 2).
    """
    shares = (np.linspace(0.02, 0.98, 25) if shares is None
              else np.asarray(shares, dtype=float))
    if shares.ndim != 1 or not np.all((shares > 0) & (shares < 1)):
        raise InputError("profile shares must be fractions in (0, 1)")
    shares = np.sort(shares)
    best, objective = _profile_objective(
        fit, data, max_evals or (200 if fit.method == "fast" else 60))
    p = fit.params
    s_hat = float(np.clip(fit.share, *SHARE_LIMITS))
    v_hat = ERFINV.to_free(np.clip([p["rho12"], p["rho0"]], -RHO_LIMIT, RHO_LIMIT))
    rho_hat_0 = float(np.clip(p["rho0"], -RHO_LIMIT, RHO_LIMIT))
    lp_hat, v_at_hat = best(s_hat, [v_hat])
    loglik = np.empty(len(shares))
    v_grid = np.empty((len(shares), 2))
    started, done = time.perf_counter(), 0
    for indices in (np.flatnonzero(shares < s_hat)[::-1], np.flatnonzero(shares >= s_hat)):
        # each point starts where the last two optima extrapolate to (the nuisance
        # parameters move smoothly with the share), or at the fit's rg and rho0 if that is
        # better: with rho12 near +-1 an optimiser in erfinv rho12 is stuck on the flat end
        # (the profile fell far below the rg-held curve of the full step)
        path = [(s_hat, v_at_hat)]
        for i in indices:
            (s0, v0), (s1, v1) = path[max(len(path) - 2, 0)], path[-1]
            v_start = v1 + (v1 - v0) * (shares[i] - s1) / (s1 - s0) if s1 != s0 else v1
            v_rg = ERFINV.to_free(np.array([rho12_for_rg(fit.uni1, fit.uni2, shares[i],
                                                         fit.rg), rho_hat_0]))
            loglik[i], v_grid[i] = best(shares[i], [v_start, v_rg])
            path.append((shares[i], v_grid[i]))
            done += 1
            if progress is not None:
                progress(f"fit2 pi12 profile on the {objective} likelihood: {done} of "
                         f"{len(shares)} shares, "
                         f"share {shares[i]:.3f} logL={loglik[i]:.3f} "
                         f"{time.perf_counter() - started:.1f}s")
    m = min(fit.uni1.pi, fit.uni2.pi)
    n_ref = int(data.n_ref)
    rho = ERFINV.to_natural(v_grid) if len(shares) else np.empty((0, 2))
    rho_hat = ERFINV.to_natural(v_at_hat)
    excess = float(loglik.max() - lp_hat) if len(shares) else 0.0
    if excess > EXCESS_WARNING:
        log.warning("the pi12 profile (%s) reaches %.3f above the fit at share %.3f: the fit "
                    "is not at the maximum of its objective", objective, excess,
                    shares[int(np.argmax(loglik))])
    all_share = np.concatenate([shares, [s_hat]])
    order = np.argsort(all_share, kind="stable")
    lower, upper = _lr_interval(all_share[order] * m * n_ref,
                                np.concatenate([loglik, [lp_hat]])[order])
    return {"share": shares, "pi12": shares * m, "n12": shares * m * n_ref, "loglik": loglik,
            "rho12": rho[:, 0], "rho0": rho[:, 1],
            "estimate": {"share": s_hat, "pi12": s_hat * m, "n12": s_hat * m * n_ref,
                         "loglik": float(lp_hat), "fit_loglik": float(fit.loglik),
                         "rho12": float(rho_hat[0]), "rho0": float(rho_hat[1])},
            "excess": excess, "lr95_n12": [lower, upper], "objective": objective,
            "n_ref": n_ref, "smaller_trait": 1 if fit.uni1.pi <= fit.uni2.pi else 2}


def interval_warning(ci: dict, profile: dict, *, ratio: float = 0.5) -> str | None:
    """A warning when the asymptotic 95% interval of the shared count n12 (``ci["nc12"]``,
    from the fast likelihood's information) is narrower than ``ratio`` times the
    likelihood-ratio interval of the pi12 profile (``profile["lr95_n12"]``, an open end taken
    at the grid's edge), else None: the profile is then flatter than the SEs say, and its
    interval is the one to report."""
    lower, upper = profile["lr95_n12"]
    grid = np.concatenate([np.asarray(profile["n12"], dtype=float),
                           [float(profile["estimate"]["n12"])]])
    lower = grid.min() if lower is None else lower
    upper = grid.max() if upper is None else upper
    asymptotic = ci["nc12"]["upper"] - ci["nc12"]["lower"]
    if not np.isfinite(asymptotic) or asymptotic >= ratio * (upper - lower):
        return None
    return (f"the asymptotic 95% interval of the shared causal variants, n12 "
            f"{ci['nc12']['lower']:.0f}-{ci['nc12']['upper']:.0f}, is less than "
            f"{ratio:g}x as wide as the pi12 profile's likelihood-ratio interval "
            f"{lower:.0f}-{upper:.0f} (pi12_profile.lr95_n12): the likelihood is flatter in "
            "pi12 than the standard errors say; report the profile's interval")


def refit_bivariate_inflation(fit: BivariateFit, data: BivariateData) -> tuple[BivariateFit,
                                                                              list]:
    """MiXeR's ``inflation`` step of test2 (its default ``--fit-sequence load inflation``):
    each trait's sig2_zero refitted to its statistics on these tags
    (:func:`~bayesmix.inference.mle.refit_inflation`: the fast likelihood, the univariate
    pi and sig2_beta held), then rho_zero by the fast bivariate likelihood with pi12 and
    rho_beta held (|rho_zero| <= RHO_LIMIT, fit2's bound). Returns the fit with those
    parameters and the steps' records."""
    records, unis = [], []
    for k, (uni, trait) in enumerate(((fit.uni1, data.trait1), (fit.uni2, data.trait2)), 1):
        params, record = refit_inflation(trait, {"pi": uni.pi, "sig2_beta": uni.sig2_beta,
                                                 "sig2_zero": uni.sig2_zero})
        unis.append(UnivariateParams(uni.pi, uni.sig2_beta, params["sig2_zero"]))
        records.append({**record, "trait": k})
    theta = np.array([fit.params[k] for k in kern.PARAM_NAMES], dtype=np.float64)
    theta[kern.PARAM_NAMES.index("sig2_zero1")] = unis[0].sig2_zero
    theta[kern.PARAM_NAMES.index("sig2_zero2")] = unis[1].sig2_zero
    at_rho0 = kern.PARAM_NAMES.index("rho0")

    def loglik(u):
        theta[at_rho0] = math.erf(u)
        return data.fast_logp_grad(theta)[0]

    loaded = float(fit.params["rho0"])
    limit = float(ERFINV.to_free(RHO_LIMIT))
    u, value, before, evaluations = refit_scalar(
        loglik, float(ERFINV.to_free(np.clip(loaded, -RHO_LIMIT, RHO_LIMIT))), (-limit, limit))
    theta[at_rho0] = math.erf(u)
    records.append({"step": "inflation", "method": "fast", "rho0_loaded": loaded,
                    "rho0": float(theta[at_rho0]), "loglik_loaded": before, "loglik": value,
                    "n_evals": evaluations})
    params = dict(zip(kern.PARAM_NAMES, map(float, theta)))
    return replace(fit, params=params, uni1=unis[0], uni2=unis[1], loglik=records[-1]["loglik"],
                   steps=[*fit.steps, *records]), records


def fit_from_record(record: dict, data: BivariateData) -> BivariateFit:
    """A :class:`BivariateFit` from a fit2 JSON record (for ``test2``): parameters,
    univariate fits, derived quantities and criteria as stored; ``data`` gives the sizes."""
    try:
        params = {k: float(record["params"][k]) for k in kern.PARAM_NAMES}
        uni = [UnivariateParams.coerce(record["univariate"][t]) for t in ("trait1", "trait2")]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"fit2 record lacks or has an invalid parameter: {exc}") from None
    u_hat = record.get("u_hat")
    cov = record.get("cov_free")
    return BivariateFit(method=record.get("method", "fast"), params=params,
                        loglik=float(record.get("loglik") or np.nan),
                        cov_free=np.array(cov, dtype=float) if cov else np.full((3, 3), np.nan),
                        ci=record.get("ci", {}), criteria=record.get("criteria", {}), steps=[],
                        uni1=uni[0], uni2=uni[1], options=record.get("options", {}),
                        n_tags=data.n_tags, n_ref=data.n_ref,
                        sum_weights=float(data.weights.sum()), sum_het=data.trait1.sum_het,
                        u_hat=np.array(u_hat, dtype=float) if u_hat else None)
