"""MiXeR univariate causal mixture model of GWAS z-scores (Frei et al. 2019; Holland et al. 2020).

- :class:`UnivariateLikelihood`: the weighted log-likelihood and its gradient in the natural
  parameters ``(pi, sig2_beta, sig2_zero)`` for each method (infinitesimal, fast, full,
  convolve), backed by :mod:`bayesmix.kernels.mixer`.
- :func:`UnivariateMixer`: the PyMC graph (flat priors by default, so MAP = MLE) with the
  likelihood as a ``pm.Potential`` through :mod:`bayesmix.ops.mixer`.

The data (z-scores, per-SNP N, pruning weights, the tag x reference r^2 store) are a
:class:`bayesmix.prepare.mixer_data.MixerData`.

Scales: ``sig2_beta`` is the variance of per-allele effects of causal variants in units of
phenotype variance; ``het`` = H_i = 2 p_i (1 - p_i); ``sig2_zero`` is the variance of
non-genetic z-score noise (1 for a well-calibrated GWAS, > 1 under inflation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayesmix.kernels import mixer as kernels
from bayesmix.prepare.mixer_data import MixerData

METHODS = ("infinitesimal", "fast", "full", "convolve")
PARAM_NAMES = ("pi", "sig2_beta", "sig2_zero")
DEFAULT_CENSOR_Z = 5.45


def simulate_z_from_model(data: MixerData, r_signed, params, *, rng: np.random.Generator):
    """Draw z-scores from the univariate model on signed LD ``r_signed`` (tags x reference).

    beta_i ~ (1 - pi) delta_0 + pi N(0, sig2_beta) (per-allele), delta_j = sqrt(N_j)
    sum_i sqrt(H_i) r_ij beta_i and z_j = delta_j + eps_j with eps_j ~ N(0, sig2_zero +
    N_j pi sig2_beta weak_j) independent: the likelihood's own generative model, in which the
    LD below the store's threshold (``data.weak``) adds Gaussian signal (that of the fast and
    full likelihoods, and of convolve without ``data.weak4``; with it, convolve takes that
    signal as pseudo-SNPs: :func:`bayesmix.kernels.mixer.weak_pseudo_snps`). Returns
    ``(z, beta)``.
    """
    pi, sig2_beta, sig2_zero = (float(x) for x in params)
    causal = rng.random(data.n_ref) < pi
    beta = np.where(causal, rng.normal(0.0, np.sqrt(sig2_beta), data.n_ref), 0.0)
    delta = np.sqrt(data.n) * (r_signed @ (np.sqrt(data.het) * beta))
    eps = rng.normal(0.0, np.sqrt(sig2_zero + data.n * pi * sig2_beta * data.weak))
    return delta + eps, beta


@dataclass
class UnivariateLikelihood:
    """Weighted log-likelihood of the univariate model, callable per method.

    Parameters
    ----------
    data : MixerData
    method : one of :data:`METHODS`.
    censor_z : right-censor |z| above this through the CDF (0 = off; MiXeR uses 5.45).
    kmax : K, number of sampled causal sets of the full model.
    seed : seed of the full model's causal sets (reused at every evaluation).
    n_chunks : parallel chunks of the full model's draws (results do not depend on threads).
    tail_log : convolve cut-off: exp(-t^2 sig2_zero / 2) < exp(-tail_log) is neglected.
    """

    data: MixerData
    method: str = "convolve"
    censor_z: float = 0.0
    kmax: int = 1000
    seed: int = 0
    n_chunks: int = 4
    tail_log: float = 37.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {self.method!r}")

    def logp_grad(self, params, with_grad: bool = True) -> tuple[float, np.ndarray]:
        """``(logp, d logp / d (pi, sig2_beta, sig2_zero))`` at natural ``params``.

        ``with_grad=False`` lets the convolve kernel skip the gradient (returned as zeros,
        not to be used).

        For ``infinitesimal`` the parameters are read as (ignored, sig2_inf, sig2_zero): pi is
        fixed at 1, the value does not depend on params[0] and its derivative is exactly 0.
        For ``full`` the derivative in pi is undefined (piecewise constant) and NaN.
        """
        pi, sig2_beta, sig2_zero = (float(x) for x in params)
        d = self.data
        if self.method in ("fast", "infinitesimal"):
            l2, l4 = d.ld_moments
            if self.method == "infinitesimal":
                logp, grad = kernels.fast_logp_grad(d.z, d.n, d.weights, d.weak, l2, l4, 1.0,
                                                    sig2_beta, sig2_zero, self.censor_z)
                grad[0] = 0.0
                return logp, grad
            return kernels.fast_logp_grad(d.z, d.n, d.weights, d.weak, l2, l4, pi, sig2_beta,
                                          sig2_zero, self.censor_z)
        if self.method == "full":
            ci, cr, cv = d.ld_columns
            return kernels.full_logp_grad(d.z, d.n, d.weights, d.weak, ci, cr, cv, d.het, pi,
                                          sig2_beta, sig2_zero, self.kmax, self.seed,
                                          self.censor_z, self.n_chunks)
        return kernels.convolve_logp_grad(d.z, d.n, d.weights, d.weak, d.weak4, d.indptr,
                                          d.indices, d.r2, d.het, pi, sig2_beta, sig2_zero,
                                          self.censor_z, kernels.GL_NODES, kernels.GL_WEIGHTS,
                                          self.tail_log, with_grad)

    def logp(self, params) -> float:
        return self.logp_grad(params, with_grad=False)[0]


def UnivariateMixer(data: MixerData, *, method: str = "convolve", censor_z: float = 0.0,
                    priors: dict | None = None, model=None, **likelihood_options):
    """PyMC graph of the univariate model: pi, sig2_beta, sig2_zero and the MiXeR likelihood.

    Default priors are flat (pi ~ Uniform(0, 1), sig2_beta and sig2_zero ~ HalfFlat), so the
    MAP is the maximum-likelihood estimate. ``priors`` maps a parameter name to a callable
    ``name -> PyMC random variable`` created inside the model, e.g.
    ``{"pi": lambda name: pm.Beta(name, 1, 99)}``.

    The likelihood enters as ``pm.Potential("loglik", ...)`` over the fused logp+gradient Op
    of :mod:`bayesmix.ops.mixer`; z, N, weights and LD are ``pm.Data`` so compiled graphs stay
    cacheable. Returns the ``pm.Model``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayesmix.ops.mixer import univariate_loglik

    priors = dict(priors or {})
    defaults = {
        "pi": lambda name: pm.Uniform(name, 0.0, 1.0),
        "sig2_beta": lambda name: pm.HalfFlat(name),
        "sig2_zero": lambda name: pm.HalfFlat(name),
    }
    unknown = set(priors) - set(defaults)
    if unknown:
        raise ValueError(f"priors given for unknown parameters {sorted(unknown)}")
    like = UnivariateLikelihood(data, method=method, censor_z=censor_z, **likelihood_options)
    with pm.Model(model=model) as m:
        rvs = [priors.get(name, defaults[name])(name) for name in PARAM_NAMES]
        theta = pt.stack(rvs)
        pm.Potential("loglik", univariate_loglik(like, theta))
    return m


# ---------------------------------------------------------------------------------------------
# model-implied distributions for Q-Q plots and power curves
# ---------------------------------------------------------------------------------------------
def fast_components(data: MixerData, params, n=None):
    """Per-tag 2-component moments approximation at ``params``: ``(q, var_null, var_causal,
    var_delta)``: z_j ~ (1 - q_j) N(0, var_null) + q_j N(0, var_causal), where var_delta_j =
    eta_j N_j sig2_beta is the variance of the genetic part of the causal component and
    var_null_j = sig2_zero + N_j pi sig2_beta weak_j (the weak LD's signal counts as noise).
    ``n`` overrides the per-tag sample sizes (scalar or array), for power curves."""
    pi, sig2_beta, sig2_zero = (float(x) for x in params)
    l2, l4 = data.ld_moments
    n = data.n if n is None else np.broadcast_to(np.asarray(n, dtype=float), data.z.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(l2 > 0, pi * l2 + (1 - pi) * l4 / np.where(l2 > 0, l2, 1.0), 0.0)
        q = np.where(l2 > 0, pi * l2 / np.where(eta > 0, eta, 1.0), 0.0)
    var_delta = eta * n * sig2_beta
    var_null = sig2_zero + n * pi * sig2_beta * data.weak
    return np.clip(q, 0.0, 1.0), var_null, var_null + var_delta, var_delta


#: model shares below this are NaN under method "convolve" of :func:`model_tail_probability`:
#: each tag's tail probability is an integral of O(1) terms that cancel down to it, so the
#: share carries ~1e-16 absolute rounding (against enumeration: 4e-5 relative at a share of
#: 1.2e-12, 0.6 at 1.3e-16, and 1.3e-18 came out as 5.7e-17)
CONVOLVE_SHARE_FLOOR = 1e-12


def model_tail_probability(data: MixerData, params, thresholds, mask=None, *,
                           method: str = "fast", chunk: int = 20000) -> np.ndarray:
    """Weighted share of tags with |z| > threshold under the model, per threshold:
    sum_j w_j P_j(|z| > t) / sum_j w_j over the tags in ``mask`` (bool, or integer bin
    labels: then one row per label 0..max, shape (n_bins, n_thresholds)).

    ``method``: "fast" (moments approximation, closed form) or "convolve" (exact, one
    characteristic-function pass per tag serving all thresholds; tags in chunks of ``chunk``;
    shares below :data:`CONVOLVE_SHARE_FLOOR`, beyond its resolution, are NaN).
    """
    from scipy import stats

    t = np.asarray(thresholds, dtype=float)
    labels = np.ones(data.n_tags, bool) if mask is None else np.asarray(mask)
    binned = labels.dtype != bool
    labels = labels.astype(np.int64)
    n_bins = int(labels.max()) + 1 if binned and labels.size else 1
    if not binned:
        labels = np.where(labels == 1, 0, -1)
    sums = np.zeros((n_bins, t.size))
    weights = np.zeros(n_bins)
    if method == "fast":
        q, v0, v1, _ = fast_components(data, params)
    for start in range(0, data.n_tags, chunk):
        idx = np.arange(start, min(start + chunk, data.n_tags))
        idx = idx[labels[idx] >= 0]
        if idx.size == 0:
            continue
        if method == "fast":
            tail = ((1 - q[idx, None]) * 2 * stats.norm.sf(t / np.sqrt(v0[idx, None]))
                    + q[idx, None] * 2 * stats.norm.sf(t / np.sqrt(v1[idx, None])))
        elif method == "convolve":
            tail = kernels.convolve_tail_probabilities(
                idx, data.n, data.weak, data.weak4, data.indptr, data.indices, data.r2,
                data.het, float(params[0]), float(params[1]), float(params[2]), t,
                kernels.GL_NODES, kernels.GL_WEIGHTS, 37.0)
        else:
            raise ValueError(f"method must be 'fast' or 'convolve', not {method!r}")
        w = data.weights[idx]
        np.add.at(sums, labels[idx], tail * w[:, None])
        np.add.at(weights, labels[idx], w)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = sums / weights[:, None]
    if method == "convolve":
        share[share < CONVOLVE_SHARE_FLOOR] = np.nan
    return share if binned else share[0]


def power_curve(data: MixerData, params, n_grid, *, z_threshold: float = 5.45) -> np.ndarray:
    """S(N): share of the tags' genetic signal captured by genome-wide significant tags.

    For each N in ``n_grid`` (every tag at sample size N), under the fast moments model:
    S(N) = sum_j w_j q_j E[delta_j^2 1(|z_j| > z_t)] / sum_j w_j q_j E[delta_j^2], with
    (delta, z) jointly normal in the causal component, so
    E[delta^2 1(|z| > t)] = c^2 v P(chi2_3 > t^2/v) + a s0/v P(chi2_1 > t^2/v),
    v = a + s0, c = a/v, a = var(delta). z_t = 5.45 is p = 5e-8.
    """
    from scipy import stats

    out = []
    for n in np.atleast_1d(n_grid):
        q, _, v, a = fast_components(data, params, n=n)
        s0 = float(params[2])
        x = z_threshold ** 2 / v
        captured = (a / v) ** 2 * v * stats.chi2.sf(x, 3) + a * s0 / v * stats.chi2.sf(x, 1)
        w = data.weights * q
        out.append(float(np.sum(w * captured) / np.sum(w * a)))
    return np.array(out)


#: leapfrog steps per NUTS iteration assumed by the cost estimate: 5.7 on average (tuning
#: included) on 20,000 synthetic tags whose pi is well identified; weakly identified pi
#: (correlated with sig2_beta) needs longer trajectories
NUTS_TYPICAL_STEPS = 10
#: warn when the estimated NUTS run time exceeds this many seconds
NUTS_WARN_SECONDS = 300.0


def time_logp_grad(like: "UnivariateLikelihood", params, repeats: int = 3) -> float:
    """Seconds of one log-likelihood + gradient evaluation at natural ``params`` (the fastest
    of ``repeats`` after one warm-up call, which also compiles or loads the kernel)."""
    import time

    like.logp_grad(params)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        like.logp_grad(params)
        best = min(best, time.perf_counter() - t0)
    return float(best)


def nuts_cost_seconds(seconds_per_eval: float, *, chains: int, tune: int, draws: int,
                      cores: int = 1, steps: int = NUTS_TYPICAL_STEPS) -> float:
    """Estimated wall time of NUTS: rounds of parallel chains x (tune + draws) iterations
    x ``steps`` leapfrog steps (one likelihood + gradient each) x ``seconds_per_eval``."""
    rounds = -(-int(chains) // max(1, int(cores)))
    return float(rounds * (int(tune) + int(draws)) * steps * seconds_per_eval)


class _NutsProgressLines:
    """PyMC ``callback``: per-chain progress lines (:mod:`bayesmix.progress`) with the mean
    number of leapfrog steps so far. ``options``: keyword arguments of the
    :class:`~bayesmix.progress.Progress` of each chain (e.g. ``delay``)."""

    options: dict = {}

    def __init__(self, chains: int, total: int, progress="lines"):
        self.chains, self.total, self.progress = chains, total, progress
        self.bars: dict = {}
        self.steps: dict = {}

    def __call__(self, trace=None, draw=None):
        from bayesmix.progress import Progress

        chain = int(draw.chain)
        if chain not in self.bars:
            self.bars[chain] = Progress(self.total, desc=f"NUTS chain {chain + 1}/{self.chains}",
                                        unit="iterations", progress=self.progress,
                                        **self.options)
            self.steps[chain] = [0, 0]
        stats = draw.stats[0] if draw.stats else {}
        self.steps[chain][0] += float(stats.get("tree_size", 0) or 0)
        self.steps[chain][1] += 1
        mean = self.steps[chain][0] / self.steps[chain][1]
        self.bars[chain].update(1, note=f"{'tuning' if draw.tuning else 'sampling'}, "
                                        f"{mean:.1f} leapfrog steps per iteration")

    def close(self):
        for bar in self.bars.values():
            bar.close()


def sample_nuts(data: MixerData, *, method: str = "convolve", censor_z: float = 0.0,
                draws: int = 500, tune: int = 500, chains: int = 2, seed: int = 0, start=None,
                priors: dict | None = None, cores: int = 1, progress=True):
    """Posterior of (pi, sig2_beta, sig2_zero) by NUTS on a smooth likelihood (convolve or
    fast), as an ArviZ DataTree. ``start``: dict of initial natural values (e.g. the ML fit).
    With the default flat priors the posterior is proper only when the data identify pi;
    pass ``priors`` (see :func:`UnivariateMixer`) otherwise.

    Before sampling, one likelihood + gradient evaluation is timed and the run's cost
    estimated (:func:`nuts_cost_seconds`) and logged; above :data:`NUTS_WARN_SECONDS` a
    warning says how to reduce it (fewer tag SNPs, fewer draws, the fast likelihood).
    ``progress``: PyMC's bar on a terminal, per-chain log lines every 10% of the iterations
    elsewhere, nothing with False (:mod:`bayesmix.progress`).

    A signal under :func:`bayesmix.interrupt.handling_signals` stops sampling and raises
    :class:`~bayesmix.interrupt.Interrupted` (PyMC itself would return the partial draws).
    """
    import logging

    import pymc as pm

    from bayesmix import interrupt
    from bayesmix.progress import format_seconds
    from bayesmix.progress import mode as progress_mode

    log = logging.getLogger("bayesmix")
    if method not in ("convolve", "fast"):
        raise ValueError("NUTS needs a likelihood smooth in pi: 'convolve' or 'fast'")
    like = UnivariateLikelihood(data, method=method, censor_z=censor_z)
    if start is not None:
        point = [float(start[name]) for name in PARAM_NAMES]
    else:   # a typical point: h2 = 0.5 over 0.1% causal variants
        point = [1e-3, 0.5 / (1e-3 * max(data.sum_het, 1e-12)), 1.0]
    per_eval = time_logp_grad(like, point)
    cost = nuts_cost_seconds(per_eval, chains=chains, tune=tune, draws=draws, cores=cores)
    log.info("NUTS (%s likelihood, %d tag SNPs): %.3g s per likelihood + gradient; %d chains x "
             "(%d tune + %d draws) x ~%d leapfrog steps: about %s", method, data.n_tags,
             per_eval, chains, tune, draws, NUTS_TYPICAL_STEPS, format_seconds(cost))
    if cost > NUTS_WARN_SECONDS:
        log.warning("NUTS is expected to take about %s. To shorten it: fewer tag SNPs "
                    "(--extract a pruned list), fewer draws (--nuts)%s", format_seconds(cost),
                    ", or the fast likelihood (a fit sequence ending in 'fast')"
                    if method == "convolve" else "")
    shown = progress_mode(progress)
    callback = _NutsProgressLines(chains, tune + draws) if shown == "lines" else None
    model = UnivariateMixer(data, method=method, censor_z=censor_z, priors=priors)
    try:
        with model:
            posterior = pm.sample(draws, tune=tune, chains=chains, cores=cores,
                                  random_seed=seed, initvals=start,
                                  progressbar=shown == "bar", callback=callback,
                                  compute_convergence_checks=False)
    except Exception:
        interrupt.check()   # stopped in tuning, PyMC fails to build a trace: say why
        raise
    finally:
        if callback is not None:
            callback.close()
    # PyMC returns the draws made so far when a KeyboardInterrupt stops it; a signal under
    # bayesmix.interrupt.handling_signals (a command line) must not pass for a full run
    interrupt.check()
    return posterior

