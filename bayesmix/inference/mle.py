"""Maximum-likelihood fitting: transforms, optimisers, observed-information SEs, derived
quantities by draws, AIC/BIC, and the MiXeR univariate fit sequence.

Generic pieces (reused by the bivariate model):

- :class:`Transform` / :class:`ParameterSpace`: natural parameters <-> unconstrained "free"
  coordinates (logit for fractions, log for variances, erfinv-type for correlations);
- :func:`maximize`: Nelder-Mead or L-BFGS on a log-likelihood in free coordinates, recording
  an optimisation trace;
- :func:`observed_information_cov`: covariance of the free parameters = inverse of the
  observed Fisher information (minus the Hessian of the log-likelihood), by central finite
  differences of the analytic gradient;
- :func:`summarize_draws` / :func:`derived_by_draws`: derived quantities (h2, counts, ...) with
  uncertainty from 1,000 draws of the asymptotic normal of the free parameters;
- :func:`information_criteria`: AIC = 2k - 2 logL, BIC = k ln(sum w) - 2 logL.

MiXeR univariate: :func:`fit_univariate` runs the fit sequence (infinitesimal ->
constrained fast with pi sig2_beta = sig2_inf -> unconstrained fast/full/convolve) and returns
a :class:`UnivariateFit`.

Interrupts and resuming (:class:`FitStages`, shared with the bivariate fit): each step of a
fit sequence is a unit. The likelihood polls for a stop request at every evaluation
(:class:`EvaluationMonitor`) and abandons the running step; finished steps, with their
optimiser traces and the random generator's state, are saved to a checkpoint folder after
each step, and a resumed fit skips them and ends identical, bit for bit, to an
uninterrupted one.
"""

from __future__ import annotations

import logging
import math
import time
import weakref
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from bayesmix import interrupt
from bayesmix.checkpoint import Checkpoint, digest_arrays
from bayesmix.io.files import json_types
from bayesmix.errors import ConvergenceError, InputError
from bayesmix.models.mixer import PARAM_NAMES
from bayesmix.prepare.mixer_data import MixerData

log = logging.getLogger("bayesmix")


# ---------------------------------------------------------------------------------------------
# parameter transforms
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Transform:
    """Map between a natural parameter x and an unconstrained u; ``dx_du`` is dx/du at u."""

    name: str
    to_free: object
    to_natural: object
    dx_du: object


LOG = Transform("log", np.log, np.exp, np.exp)
LOGIT = Transform("logit", special.logit, special.expit,
                  lambda u: special.expit(u) * (1.0 - special.expit(u)))
#: correlations: u = erfinv(rho) (MiXeR's transform), rho = erf(u)
ERFINV = Transform("erfinv", special.erfinv, special.erf,
                   lambda u: 2.0 / math.sqrt(math.pi) * np.exp(-np.asarray(u) ** 2))


@dataclass(frozen=True)
class ParameterSpace:
    """Named natural parameters with one :class:`Transform` each."""

    names: tuple
    transforms: tuple

    def free(self, natural) -> np.ndarray:
        return np.array([t.to_free(x) for t, x in zip(self.transforms, natural)], dtype=float)

    def natural(self, free) -> np.ndarray:
        return np.array([t.to_natural(u) for t, u in zip(self.transforms, free)], dtype=float)

    def jacobian(self, free) -> np.ndarray:
        """d natural / d free (diagonal, as a vector)."""
        return np.array([t.dx_du(u) for t, u in zip(self.transforms, free)], dtype=float)


#: MiXeR univariate free space: (logit pi, log sig2_beta, log sig2_zero)
UNIVARIATE_SPACE = ParameterSpace(PARAM_NAMES, (LOGIT, LOG, LOG))

#: lower bound of sig2_zero in the univariate fits' optimisers. Where the signal terms take
#: all of the z variance (a Gaussian weak-LD term too large, N too large) the likelihood
#: keeps rising as sig2_zero falls, and the optimisers in log sig2_zero ran it to exp(-745),
#: written as 0.0, which fit2 and test1 refuse as parameters. Below the boundary warning's
#: 1e-3 (``bayesmix.cli.mixer_runs.SIG2_ZERO_FLOOR``), so such a fit is still flagged.
SIG2_ZERO_LOWER = 1e-4
#: (low, high) of a free coordinate that is log sig2_zero
LOG_SIG2_ZERO_BOUNDS = (math.log(SIG2_ZERO_LOWER), None)


# ---------------------------------------------------------------------------------------------
# optimisation
# ---------------------------------------------------------------------------------------------
@dataclass
class OptimizeStep:
    """One step of a fit sequence: its name, optimiser, result and trace."""

    name: str
    method: str
    optimizer: str
    params: dict
    loglik: float
    n_evals: int
    seconds: float
    trace: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"name": self.name, "method": self.method, "optimizer": self.optimizer,
                "params": self.params, "loglik": self.loglik, "cost": -self.loglik,
                "n_evals": self.n_evals, "seconds": self.seconds, "trace": self.trace}


def maximize(logp, u0, *, optimizer: str = "neldermead", logp_grad=None, max_evals: int = 400,
             simplex_step: float = 0.3, tol: float = 1e-4, bounds=None):
    """Maximise ``logp(u)`` over unconstrained u.

    ``optimizer``: "neldermead" (derivative-free; initial simplex ``u0 + simplex_step e_i``)
    or "lbfgs" (needs ``logp_grad(u) -> (logp, grad)``). Non-finite values count as -inf.
    ``bounds``: optional (low, high) per coordinate (None: unbounded), ``u0`` clipped into
    them. Returns ``(u_hat, logp_hat, n_evals, trace)``; trace = [[logp, *u], ...] per
    evaluation.
    """
    trace = []
    u0 = np.asarray(u0, dtype=float)
    if bounds is not None:
        low = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
        high = np.array([np.inf if b[1] is None else b[1] for b in bounds])
        u0 = np.clip(u0, low, high)

    def neg(u):
        value = logp(u)
        trace.append([float(value), *map(float, u)])
        return -value if np.isfinite(value) else 1e300

    if optimizer == "neldermead":
        simplex = np.vstack([u0] + [u0 + simplex_step * np.eye(len(u0))[i] for i in range(len(u0))])
        res = optimize.minimize(neg, u0, method="Nelder-Mead", bounds=bounds,
                                options=dict(initial_simplex=simplex, maxfev=max_evals,
                                             xatol=tol, fatol=tol))
    elif optimizer == "lbfgs":
        if logp_grad is None:
            raise ValueError("lbfgs needs logp_grad")

        def neg_and_grad(u):
            value, grad = logp_grad(u)
            trace.append([float(value), *map(float, u)])
            if not np.isfinite(value):
                return 1e300, np.zeros_like(u)
            return -value, -np.asarray(grad)

        res = optimize.minimize(neg_and_grad, u0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options=dict(maxfun=max_evals, ftol=1e-12, gtol=tol))
    else:
        raise ValueError(f"optimizer must be 'neldermead' or 'lbfgs', not {optimizer!r}")
    values = np.array([t[0] for t in trace])
    best = int(np.argmax(np.where(np.isfinite(values), values, -np.inf)))
    return np.array(trace[best][1:]), trace[best][0], len(trace), trace


#: largest condition number of the observed information that standard errors are given for:
#: beyond it the flat direction's variance is rounding noise (inv may even call the matrix
#: singular, or return a covariance with negative eigenvalues)
MAX_INFORMATION_CONDITION = 1e13


def observed_information_cov(logp_grad, u_hat, step: float = 1e-3) -> np.ndarray:
    """Covariance of free parameters: inverse of -Hessian of logp at ``u_hat``.

    The Hessian is the central finite difference of the analytic gradient
    ``logp_grad(u) -> (logp, grad)``, symmetrised. Returns NaNs if -H is not positive definite
    or its condition number exceeds :data:`MAX_INFORMATION_CONDITION` (a parameter on a flat
    ridge), rather than a misleading number.
    """
    u_hat = np.asarray(u_hat, dtype=float)
    k = len(u_hat)
    hess = np.zeros((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        hess[i] = (np.asarray(logp_grad(u_hat + e)[1]) - np.asarray(logp_grad(u_hat - e)[1])) / (2 * step)
    hess = 0.5 * (hess + hess.T)
    info = -hess
    curvatures = np.linalg.eigvalsh(info) if np.isfinite(info).all() else np.full(k, np.nan)
    if not curvatures[0] > 0:
        log.warning("observed information is not positive definite: standard errors unavailable")
        return np.full((k, k), np.nan)
    if curvatures[0] < MAX_INFORMATION_CONDITION ** -1 * curvatures[-1]:
        log.warning("observed information is nearly singular (a parameter is not identified "
                    "by the data): standard errors unavailable")
        return np.full((k, k), np.nan)
    cov = np.linalg.inv(info)
    return 0.5 * (cov + cov.T)  # inv's rounding is not symmetric


def summarize_draws(values) -> dict:
    """mean, median, std and the 95% interval (2.5%, 97.5% quantiles) of draws; all NaN
    when a draw is not finite or the draws are too large for their mean or std to be."""
    v = np.asarray(values, dtype=float)
    with np.errstate(over="ignore"):
        summary = ({"mean": float(v.mean()), "median": float(np.median(v)),
                    "std": float(v.std(ddof=1)), "lower": float(np.quantile(v, 0.025)),
                    "upper": float(np.quantile(v, 0.975))}
                   if np.all(np.isfinite(v)) else {})
    if not all(np.isfinite(x) for x in summary.values()) or not summary:
        return dict.fromkeys(("mean", "median", "std", "lower", "upper"), float("nan"))
    return summary


def draw_derived(space: ParameterSpace, u_hat, cov, derive, *, n_draws: int = 1000,
                 rng: np.random.Generator) -> dict:
    """Draws of ``derive(natural) -> dict of floats`` with u ~ N(u_hat, cov): name -> array.

    Empty arrays when ``cov`` is not available (non-finite) or ``n_draws`` is 0. Draws so far
    out that a parameter overflows its natural scale (a very large SE) give infinite
    values, which make the summaries NaN (:func:`summarize_draws`); the log says how many.
    """
    if n_draws < 0:
        raise ValueError(f"n_draws must be >= 0, got {n_draws}")
    if n_draws == 0 or not np.all(np.isfinite(cov)):
        return {name: np.array([]) for name in derive(space.natural(u_hat))}
    draws = rng.multivariate_normal(u_hat, cov, size=n_draws, method="eigh")
    with np.errstate(over="ignore"):
        values = [derive(space.natural(u)) for u in draws]
    out = {name: np.array([v[name] for v in values]) for name in values[0]}
    unbounded = sum(not np.isfinite(list(v.values())).all() for v in values)
    if unbounded:
        log.warning("%d of %d draws of the estimate's asymptotic normal overflow a parameter's "
                    "scale (its standard error is too large to bound): intervals unavailable",
                    unbounded, n_draws)
    return out


def derived_by_draws(space: ParameterSpace, u_hat, cov, derive, *, n_draws: int = 1000,
                     rng: np.random.Generator, draws: dict | None = None) -> dict:
    """Summaries (:func:`summarize_draws` + ``point``) of derived quantities over draws
    u ~ N(u_hat, cov); NaN summaries when ``cov`` is unavailable. Pass ``draws`` from
    :func:`draw_derived` to summarise draws already made."""
    if draws is None:
        draws = draw_derived(space, u_hat, cov, derive, n_draws=n_draws, rng=rng)
    out = {}
    for name, value in derive(space.natural(u_hat)).items():
        values = draws.get(name, np.array([]))
        out[name] = summarize_draws(values if values.size else [np.nan])
        out[name]["point"] = float(value)
    return out


def information_criteria(loglik: float, k: int, sum_weights: float) -> dict:
    """AIC = 2k - 2 logL and BIC = k ln(sum w) - 2 logL (weights = effective tag count)."""
    return {"aic": 2 * k - 2 * loglik, "bic": k * math.log(sum_weights) - 2 * loglik}


# ---------------------------------------------------------------------------------------------
# MiXeR univariate
# ---------------------------------------------------------------------------------------------
def causal_share_for_h2(het, share: float = 0.9, n_bins: int = 512) -> float:
    """Fraction of causal variants that explain ``share`` of h2 (MiXeR's nc@p9 / nc).

    A causal variant i contributes H_i beta_i^2 with beta_i ~ N(0, sig2_beta): the largest
    contributions above a threshold T explain ``share`` of the total when
    sum_i H_i P(chi2_3 > T/H_i) = share sum_i H_i (E[x 1(x > c)] = P(chi2_3 > c) for
    x ~ chi2_1); the fraction is mean_i P(chi2_1 > T/H_i). Independent of pi and sig2_beta.
    H is summarised by ``n_bins`` quantiles for speed at 10M reference SNPs.
    """
    het = np.asarray(het, dtype=float)
    het = het[het > 0]
    if het.size > n_bins:
        het = np.quantile(het, (np.arange(n_bins) + 0.5) / n_bins)

    def excess(log_t):
        t = math.exp(log_t)
        return np.sum(het * special.chdtrc(3, t / het)) - share * het.sum()  # chi2.sf

    log_t = optimize.brentq(excess, math.log(het.min() * 1e-8), math.log(het.max() * 100))
    return float(np.mean(special.chdtrc(1, math.exp(log_t) / het)))


def univariate_derived(data: MixerData, share_p9: float):
    """Function natural (pi, sig2_beta, sig2_zero) -> derived quantities (MiXeR's names)."""
    m, sum_het = data.n_ref, data.sum_het

    def derive(x):
        pi, sig2_beta, sig2_zero = x
        return {"pi": pi, "sig2_beta": sig2_beta, "sig2_zero": sig2_zero,
                "h2": pi * sig2_beta * sum_het, "nc": pi * m, "nc@p9": pi * m * share_p9}

    return derive


@dataclass
class UnivariateFit:
    """Result of :func:`fit_univariate`.

    ``params``: natural ML estimates (pi, sig2_beta per-allele effect variance, sig2_zero);
    ``cov_free``: covariance in (logit pi, log sig2_beta, log sig2_zero); ``ci``: derived
    quantities (h2 = pi sig2_beta sum H, nc = pi M, nc@p9, and the parameters) with mean,
    median, std, 95% interval and point value from 1,000 draws; ``se``: delta-method
    standard errors of the natural parameters; ``criteria``: AIC/BIC of the mixture and the
    infinitesimal model and their differences (positive = mixture preferred); ``draws``: the
    1,000 draws behind ``ci`` (name -> array).
    """

    method: str
    params: dict
    loglik: float
    cov_free: np.ndarray
    se: dict
    ci: dict
    criteria: dict
    steps: list
    options: dict
    n_tags: int
    n_ref: int
    sum_weights: float
    sum_het: float
    draws: dict = field(default_factory=dict)

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.params[n] for n in PARAM_NAMES])

    def to_datatree(self):
        """ArviZ/xarray DataTree of the fit (:mod:`bayesmix.inference.mle_datatree`)."""
        from bayesmix.inference.mle_datatree import univariate_datatree

        return univariate_datatree(self, UNIVARIATE_SPACE.free(self.theta))


def _infinitesimal_start(data: MixerData) -> tuple[float, float]:
    """LD-score-regression style start: E[z^2] = sig2_zero + N sig2_inf (l + weak)."""
    l2, _ = data.ld_moments
    w = data.weights
    x = data.n * (l2 + data.weak)
    slope, intercept = np.polyfit(x, data.z ** 2, 1, w=np.sqrt(w))
    return max(slope, 1e-9), min(max(intercept, 0.5), 2.0)


# ---------------------------------------------------------------------------------------------
# interruptible fit sequences
# ---------------------------------------------------------------------------------------------
#: a progress line every this many objective evaluations (and at most this often, seconds)
EVAL_LINES_EVERY = 25
EVAL_LINES_SECONDS = 10.0


def _say(progress):
    """A callable(str) from ``progress``: a callable, True (the ``bayesmix`` logger) or None."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return log.info
    return progress


class EvaluationMonitor:
    """Watches the objective evaluations of a fit stage.

    Before each evaluation it polls :func:`bayesmix.interrupt.check`, which raises
    :class:`~bayesmix.interrupt.Interrupted` once a stop was requested: the stage is
    abandoned (objectives are pure functions, so nothing is left half-updated). After each
    evaluation it counts, keeps the best value and, every ``every`` evaluations when at least
    ``seconds`` have passed since the last line, sends a line with the current and best
    log-likelihood to ``progress``.
    """

    def __init__(self, progress=None, *, every: int = EVAL_LINES_EVERY,
                 seconds: float = EVAL_LINES_SECONDS, clock=time.monotonic):
        self.say = _say(progress)
        self.every, self.seconds, self.clock = every, seconds, clock
        self.begin("")

    def begin(self, stage: str) -> None:
        self.stage = stage
        self.n_evals = 0
        self.best = -np.inf
        self.start = self._last = self.clock()

    def poll(self) -> None:
        interrupt.check()

    def record(self, value: float) -> None:
        self.n_evals += 1
        if np.isfinite(value) and value > self.best:
            self.best = float(value)
        if self.say is None or self.n_evals % self.every:
            return
        now = self.clock()
        if now - self._last >= self.seconds:
            self._last = now
            self.say(f"{self.stage:>13s}: {self.n_evals} evaluations, logL={value:.3f} "
                     f"(best {self.best:.3f}), {now - self.start:.0f}s")


class _WatchedObjective:
    """The log-likelihood of a model graph in free coordinates
    (:class:`~bayesmix.inference.model_objective.ModelObjective`) whose evaluations go
    through an EvaluationMonitor."""

    def __init__(self, objective, monitor: EvaluationMonitor):
        self.objective, self.monitor = objective, monitor

    def logp_grad(self, u) -> tuple[float, np.ndarray]:
        """(logp, d logp / d u) at free coordinates ``u``."""
        self.monitor.poll()
        value, grad = self.objective.logp_grad(u)
        self.monitor.record(value)
        return value, grad

    def logp(self, u) -> float:
        """logp at free coordinates ``u`` (the gradient is not computed)."""
        self.monitor.poll()
        value = self.objective.logp(u)
        self.monitor.record(value)
        return value


#: compiled objectives of live MixerData objects: (data_digest(data), method, options) ->
#: objective, dropped when the MixerData object is garbage-collected
_OBJECTIVES: dict = {}


def univariate_objective(data: MixerData, method: str, *, digest: str | None = None,
                         **likelihood_options):
    """:class:`~bayesmix.inference.model_objective.ModelObjective` of
    :func:`~bayesmix.models.mixer.UnivariateMixer` (flat priors, so its log-density is the
    weighted log-likelihood) in the coordinates of :data:`UNIVARIATE_SPACE`; the function
    ``pm.find_MAP`` maximises on that model.

    Kept while ``data`` lives, keyed on its content (``digest``: :func:`data_digest`, computed
    when not given), so refits of the same data (resumed fits, other sequences) do not
    compile again: a compile cannot be interrupted, evaluations can.
    """
    from bayesmix.inference.model_objective import ModelObjective
    from bayesmix.models.mixer import UnivariateMixer

    key = (digest or data_digest(data), method, tuple(sorted(likelihood_options.items())))
    if key in _OBJECTIVES:
        return _OBJECTIVES[key]
    objective = ModelObjective(UnivariateMixer(data, method=method, **likelihood_options))
    expected = ("pi_interval__", "sig2_beta_log__", "sig2_zero_log__")
    if objective.names != expected:  # the free coordinates must be UNIVARIATE_SPACE's
        raise RuntimeError(f"UnivariateMixer's value variables {objective.names} are not "
                           f"{expected}")
    _OBJECTIVES[key] = objective
    weakref.finalize(data, _OBJECTIVES.pop, key, None)
    return objective


class FitStages:
    """The stages of a fit sequence as interruptible, checkpointed units.

    :meth:`run` runs one stage (a function returning a JSON-able result), or returns its
    result from the checkpoint when a previous run finished it; after each stage the results
    so far and the state of ``rng`` are saved (:class:`bayesmix.checkpoint.Checkpoint`). A
    stop request abandons the running stage (:class:`EvaluationMonitor`) or stops after it;
    either way :class:`~bayesmix.interrupt.Interrupted` is raised with the finished stages
    saved. Stages are pure functions of the earlier stages' results, so a resumed fit is
    identical, bit for bit, to an uninterrupted one.
    """

    def __init__(self, kind: str, *, checkpoint, resume: bool, fingerprint: dict,
                 rng: np.random.Generator, progress=None):
        self.ckpt = Checkpoint.open(checkpoint, kind=kind, fingerprint=fingerprint,
                                    resume=resume)
        self.records = []
        self.rng = rng
        if self.ckpt is not None and self.ckpt.resumed:
            self.records = list(self.ckpt.state["stages"])
            rng.bit_generator.state = self.ckpt.state["rng"]
        self.position = 0
        self.monitor = EvaluationMonitor(progress)
        self.say = _say(progress)

    def run(self, name: str, func):
        """``func()``'s result for stage ``name`` (restored or computed now)."""
        i = self.position
        self.position += 1
        if i < len(self.records):
            if self.records[i]["stage"] != name:
                raise InputError(f"the checkpoint's stage {i + 1} is {self.records[i]['stage']}"
                                 f", not {name}; delete it to start over", self.ckpt.path)
            if self.say is not None:
                self.say(f"{name:>13s}: restored from the checkpoint")
            return self.records[i]["result"]
        interrupt.check()
        self.monitor.begin(name)
        result = json_types(func())
        self.records.append({"stage": name, "result": result})
        if self.ckpt is not None:
            self.ckpt.save({"stages": self.records, "rng": self.rng.bit_generator.state})
        interrupt.check()
        return result

    def finish(self) -> None:
        """The fit is complete: delete the checkpoint."""
        if self.ckpt is not None:
            self.ckpt.remove()


def data_digest(data: MixerData) -> str:
    """Digest of every array a MixerData's likelihoods read (z, N, weights, weak-LD sums,
    LD store, H): the key of the compiled objectives and of the fits' checkpoints."""
    return digest_arrays(data.z, data.n, data.weights, data.weak, data.weak4, data.indptr,
                         data.indices, data.r2, data.het)


def _step_record(step: OptimizeStep) -> dict:
    return {"name": step.name, "method": step.method, "optimizer": step.optimizer,
            "params": step.params, "loglik": step.loglik, "n_evals": step.n_evals,
            "seconds": step.seconds, "trace": step.trace}


#: test1/test2's inflation refit searches sig2_zero within this factor of the loaded value
INFLATION_RANGE = 10.0


def refit_inflation(data: MixerData, params: dict) -> tuple[dict, dict]:
    """MiXeR's ``inflation`` step, the second of test1's default ``--fit-sequence load
    inflation``: sig2_zero refitted to ``data`` by the fast (Gaussian) likelihood, pi and
    sig2_beta held at ``params``, adjusting the inflation to these tags (another reference,
    or all tags where the fit used a subset), within :data:`INFLATION_RANGE` of the loaded
    value. Returns the parameters with the new sig2_zero
    and a record of the step (sig2_zero loaded and refitted, log-likelihoods before and
    after, evaluations)."""
    like = univariate_objective(data, "fast")
    pi_free = LOGIT.to_free(min(float(params["pi"]), 1 - 1e-9))
    log_sig2_beta = math.log(params["sig2_beta"])
    start = math.log(params["sig2_zero"])
    span = math.log(INFLATION_RANGE)  # a flat likelihood (few tags) must not wander off
    log_s0, loglik, before, evaluations = refit_scalar(
        lambda log_s0: like.logp((pi_free, log_sig2_beta, log_s0)), start,
        (start - span, start + span))
    refitted = {**params, "sig2_zero": float(math.exp(log_s0))}
    record = {"step": "inflation", "method": "fast", "sig2_zero_loaded": float(params["sig2_zero"]),
              "sig2_zero": refitted["sig2_zero"], "loglik_loaded": before, "loglik": loglik,
              "n_evals": evaluations}
    return refitted, record


def refit_scalar(loglik, start: float, bounds: tuple[float, float]
                 ) -> tuple[float, float, float, int]:
    """One parameter of a fit refitted with the others held: ``loglik(u)`` maximised over u in
    ``bounds`` by bounded Brent (a non-finite value counts as the worst), never ending worse
    than ``start``. Returns (u, its log-likelihood, the log-likelihood at ``start``, the
    number of evaluations)."""
    evaluations = 0

    def neg(u):
        nonlocal evaluations
        evaluations += 1
        value = loglik(float(u))
        return -value if np.isfinite(value) else 1e300

    before = -neg(start)
    res = optimize.minimize_scalar(neg, bounds=bounds, method="bounded", options=dict(xatol=1e-6))
    if not res.fun <= -before:
        return start, float(before), float(before), evaluations
    return float(res.x), float(-res.fun), float(before), evaluations


def fit_univariate(data: MixerData, *, sequence=("infinitesimal", "constrained", "convolve"),
                   optimizer: str | None = None, censor_z: float = 0.0, kmax: int = 1000,
                   seed: int = 0, n_draws: int = 1000, start=None, max_evals: int = 400,
                   tail_log: float = 37.0, progress=None, checkpoint=None, resume: bool = False,
                   fingerprint: dict[str, str] | None = None) -> UnivariateFit:
    """MiXeR univariate fit sequence, standard errors and derived quantities.

    Steps (``sequence`` items; an optional optimiser prefix "neldermead-"/"lbfgs-" picks the
    optimiser of that step):

    - ``infinitesimal``: sig2_zero and sig2_inf (pi = 1) by L-BFGS from an LD-score start;
    - ``constrained``: the fast model with pi sig2_beta = sig2_inf, a grid over log10 pi in
      [-6, 0] refined by Brent, sig2_zero profiled out in [0.25, 4] at each pi;
    - ``fast``, ``full``, ``convolve``: all three parameters free. Nelder-Mead works in
      MiXeR's coordinates (log(pi sig2_beta), log(pi / sig2_beta), log sig2_zero); L-BFGS
      (smooth methods only) in (logit pi, log sig2_beta, log sig2_zero) with the analytic
      gradient. Default: Nelder-Mead for ``full``, L-BFGS otherwise (or ``optimizer``).

    The standard errors come from the observed information in (logit pi, log sig2_beta,
    log sig2_zero) of the last step's likelihood if smooth, else of the convolve likelihood at
    the same estimate (the sampled full likelihood is piecewise constant in pi).
    ``start``: optional natural (pi, sig2_beta, sig2_zero) to begin from instead of step 1.
    ``progress``: optional callable(str) (or True: the ``bayesmix`` logger) receiving one
    line per finished step and, in long steps, a line every :data:`EVAL_LINES_EVERY`
    likelihood evaluations with the current log-likelihood.

    Interrupts: the fit runs inside :func:`bayesmix.interrupt.deferred`; a signal abandons
    the running step at its next likelihood evaluation and raises
    :class:`~bayesmix.interrupt.Interrupted`. Each step (and the standard-error step) is a
    unit of ``checkpoint`` (a folder, e.g. ``OUT.ckpt``; deleted when the fit completes):
    with ``resume=True`` finished steps are restored and the fit is identical, bit for bit,
    to an uninterrupted one. ``fingerprint``: the caller's entries that must match for a
    resume (input digests, options); the fit adds its settings and a digest of ``data``.
    """
    for token in sequence:
        if token.rpartition("-")[2] not in ("infinitesimal", "constrained", "fast", "full",
                                             "convolve"):
            raise ValueError(f"unknown fit-sequence step {token!r}; use infinitesimal, "
                             "constrained, fast, full or convolve (optionally prefixed "
                             "neldermead- or lbfgs-)")
    if not sequence:
        raise ValueError("empty fit sequence")
    rng = np.random.default_rng(seed)
    opts = dict(censor_z=censor_z, kmax=kmax, seed=seed, tail_log=tail_log)
    digest = data_digest(data)
    own = {"sequence": " ".join(sequence), "optimizer": str(optimizer), "n_draws": str(n_draws),
           "start": repr(None if start is None else [float(x) for x in start]),
           "max_evals": str(max_evals), "data": digest,
           **{k: repr(v) for k, v in opts.items()}}
    stages = FitStages("fit_univariate", checkpoint=checkpoint, resume=resume, rng=rng,
                       fingerprint={**{f"fit1.{k}": v for k, v in own.items()},
                                    **(fingerprint or {})}, progress=progress)
    with interrupt.deferred():
        fit = _fit_univariate(data, digest, stages, sequence, optimizer, opts, rng, n_draws,
                              start, max_evals)
    stages.finish()
    return fit


def _fit_univariate(data, digest, stages: FitStages, sequence, optimizer, opts, rng, n_draws,
                    start, max_evals) -> UnivariateFit:
    steps: list[OptimizeStep] = []
    theta = None if start is None else np.asarray(start, dtype=float)
    inf_fit = None  # (loglik, sig2_inf, sig2_zero)

    def likelihood(method):
        """The model graph's log-likelihood of ``method``."""
        return _WatchedObjective(univariate_objective(
            data, method, digest=digest, censor_z=opts["censor_z"], kmax=opts["kmax"],
            seed=opts["seed"], tail_log=opts["tail_log"]), stages.monitor)

    def infinitesimal_logp_grad():
        """(logp, grad) of the infinitesimal model in u = (log sig2_inf, log sig2_zero)."""
        like = likelihood("infinitesimal")

        def lg(u):  # the graph's pi is not read
            lp, g = like.logp_grad((0.0, u[0], u[1]))
            return lp, g[1:]

        return lg

    def run_infinitesimal(opt):
        lg = infinitesimal_logp_grad()
        sig2_inf0, s00 = _infinitesimal_start(data)
        u, lp, n_ev, trace = maximize(lambda u: lg(u)[0], np.log([sig2_inf0, s00]),
                                      optimizer=opt or "lbfgs", logp_grad=lg,
                                      max_evals=max_evals,
                                      bounds=[(None, None), LOG_SIG2_ZERO_BOUNDS])
        return lp, math.exp(u[0]), math.exp(u[1]), n_ev, trace, opt or "lbfgs"

    def stage(name, opt, theta, inf_fit):
        """One step of the sequence from the previous steps' (theta, inf_fit)."""
        t0 = time.perf_counter()
        if name == "infinitesimal":
            lp, sig2_inf, s0, n_ev, trace, used = run_infinitesimal(opt)
            inf_fit = (lp, sig2_inf, s0)
            theta = np.array([1.0, sig2_inf, s0])
            step = OptimizeStep(name, "infinitesimal", used,
                                {"sig2_inf": sig2_inf, "sig2_zero": s0}, lp, n_ev,
                                time.perf_counter() - t0, trace)
        elif name == "constrained":
            if inf_fit is None:
                lp, sig2_inf, s0, *_ = run_infinitesimal(None)
                inf_fit = (lp, sig2_inf, s0)
            _, sig2_inf, s0 = inf_fit
            like = likelihood("fast")
            trace = []

            def profile_sig2_zero(v):
                """max over sig2_zero in [0.25, 4] of logL(pi = 10^v, sig2_inf / pi, .)."""
                pi = 10.0 ** v

                def neg(log_s0):
                    value = like.logp((LOGIT.to_free(pi), math.log(sig2_inf / pi), log_s0))
                    trace.append([float(value), float(v), float(log_s0)])
                    return -value if np.isfinite(value) else 1e300

                res = optimize.minimize_scalar(neg, bounds=(math.log(0.25), math.log(4.0)),
                                               method="bounded", options=dict(xatol=1e-3))
                return float(-res.fun), math.exp(res.x)

            grid = np.linspace(-6, 0, 25)
            values = [profile_sig2_zero(v)[0] for v in grid]
            i = int(np.argmax(values))
            lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
            res = optimize.minimize_scalar(lambda v: -profile_sig2_zero(v)[0], bounds=(lo, hi),
                                           method="bounded", options=dict(xatol=1e-3))
            pi = 10.0 ** res.x
            lp_best, s0 = profile_sig2_zero(res.x)
            theta = np.array([pi, sig2_inf / pi, s0])
            step = OptimizeStep(name, "fast", "grid+brent", dict(zip(PARAM_NAMES, map(float, theta))),
                                lp_best, len(trace), time.perf_counter() - t0, trace)
        else:  # fast, full, convolve
            if theta is None:
                lp, sig2_inf, s0, *_ = run_infinitesimal(None)
                inf_fit = (lp, sig2_inf, s0)
                theta = np.array([0.01, sig2_inf / 0.01, s0])
            used = opt or ("neldermead" if name == "full" else "lbfgs")
            if used == "lbfgs" and name == "full":
                raise ValueError("the sampled full likelihood is not smooth in pi: use neldermead")
            like = likelihood(name)
            theta = np.clip(theta, [1e-7, 1e-12, 0.1], [1 - 1e-6, np.inf, np.inf])
            free_bounds = [(None, None), (None, None), LOG_SIG2_ZERO_BOUNDS]  # either space
            if used == "neldermead":
                def lp_mixer(v):
                    pi = math.exp(0.5 * (v[0] + v[1]))
                    if not pi < 1.0:
                        return -np.inf
                    return like.logp((LOGIT.to_free(pi), 0.5 * (v[0] - v[1]), v[2]))

                v0 = np.array([math.log(theta[0] * theta[1]), math.log(theta[0] / theta[1]),
                               math.log(theta[2])])
                v, lp, n_ev, trace = maximize(lp_mixer, v0, optimizer="neldermead",
                                              max_evals=max_evals, bounds=free_bounds)
                theta = np.array([math.exp(0.5 * (v[0] + v[1])), math.exp(0.5 * (v[0] - v[1])),
                                  math.exp(v[2])])
            else:
                u, lp, n_ev, trace = maximize(like.logp, UNIVARIATE_SPACE.free(theta),
                                              optimizer="lbfgs", logp_grad=like.logp_grad,
                                              max_evals=max_evals, bounds=free_bounds)
                theta = UNIVARIATE_SPACE.natural(u)
            step = OptimizeStep(name, name, used, dict(zip(PARAM_NAMES, map(float, theta))),
                                float(lp), n_ev, time.perf_counter() - t0, trace)
        return {"step": _step_record(step), "theta": theta, "inf_fit": inf_fit}

    for token in sequence:
        opt, _, name = token.rpartition("-")
        opt = opt or optimizer
        record = stages.run(name, lambda: stage(name, opt, theta, inf_fit))
        theta = np.array(record["theta"], dtype=float)
        inf_fit = None if record["inf_fit"] is None else tuple(record["inf_fit"])
        step = OptimizeStep(**record["step"])
        steps.append(step)
        if stages.say is not None:
            stages.say(f"{step.name:>13s} [{step.optimizer}] logL={step.loglik:.3f} "
                       f"evals={step.n_evals} {step.seconds:.1f}s {step.params}")
    final = steps[-1]
    if not np.isfinite(final.loglik):
        raise ConvergenceError(f"fit step {final.name} ended at a non-finite log-likelihood; "
                               "check the inputs (z, N) or start values")
    if inf_fit is None:   # the infinitesimal model for AIC/BIC
        inf_fit = tuple(stages.run("infinitesimal (AIC/BIC)",
                                   lambda: list(run_infinitesimal(None)[:3])))
    method = final.method
    if method == "infinitesimal":
        theta = np.array([1.0 - 1e-6, theta[1], theta[2]])
    u_hat = UNIVARIATE_SPACE.free(theta)
    share = causal_share_for_h2(data.het)
    derive = univariate_derived(data, share)

    def information_cov():
        if method != "infinitesimal":
            se_like = likelihood(method if method in ("fast", "convolve") else "convolve")
            return observed_information_cov(se_like.logp_grad, u_hat)
        # pi is 1 by the model's definition: only (sig2_inf, sig2_zero) vary, under the
        # infinitesimal likelihood (the convolve likelihood at pi = 1 - 1e-6 took minutes per
        # evaluation, to find pi unidentified)
        cov = np.zeros((3, 3))
        cov[1:, 1:] = observed_information_cov(infinitesimal_logp_grad(), u_hat[1:])
        return cov

    def standard_errors():
        cov = information_cov()
        return {"cov": cov, "draws": draw_derived(UNIVARIATE_SPACE, u_hat, cov, derive,
                                                  n_draws=n_draws, rng=rng)}

    record = stages.run("standard errors", standard_errors)
    cov = np.array(record["cov"], dtype=float)
    draws = {k: np.array(v, dtype=float) for k, v in record["draws"].items()}
    jac = UNIVARIATE_SPACE.jacobian(u_hat)
    se = {n: float(jac[i] * math.sqrt(cov[i, i])) if np.isfinite(cov[i, i]) else float("nan")
          for i, n in enumerate(PARAM_NAMES)}
    ci = derived_by_draws(UNIVARIATE_SPACE, u_hat, cov, derive, rng=rng, draws=draws)
    sum_w = float(data.weights.sum())
    mix_ic = information_criteria(final.loglik, 3, sum_w)
    inf_ic = information_criteria(inf_fit[0], 2, sum_w)
    criteria = {"mixture": {"loglik": final.loglik, "k": 3, **mix_ic},
                "infinitesimal": {"loglik": inf_fit[0], "k": 2, **inf_ic,
                                  "sig2_inf": inf_fit[1], "sig2_zero": inf_fit[2]},
                "AIC": inf_ic["aic"] - mix_ic["aic"], "BIC": inf_ic["bic"] - mix_ic["bic"]}
    return UnivariateFit(method=method, params=dict(zip(PARAM_NAMES, map(float, theta))),
                         loglik=float(final.loglik), cov_free=cov, se=se, ci=ci,
                         criteria=criteria, steps=steps,
                         options=dict(sequence=list(sequence), optimizer=optimizer, **opts),
                         n_tags=data.n_tags, n_ref=data.n_ref, sum_weights=sum_w,
                         sum_het=data.sum_het, draws=draws)
