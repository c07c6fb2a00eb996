"""MCMC convergence diagnostics on a (chain, draw) array: bulk ESS, tail ESS and R-hat.

The estimators of Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC", Bayesian
Analysis 16(2), 667-718, defined exactly as ArviZ (``arviz_stats`` 1.3) computes them by
default, so that our numbers equal ArviZ's to rounding without importing it (1-2 s):

- chains are split into halves (an odd number of draws loses its middle draw) and the halves
  are treated as chains;
- rank normalisation: average ranks of ties over all draws of all chains, Blom's offset
  ``(rank - 3/8) / (S + 1/4)`` for S draws, then the standard normal quantile;
- ESS from FFT autocovariances with Geyer's initial positive and monotone sequences, the
  autocorrelation time capped below at ``1 / log10(S)``;
- a constant input has ESS = S (ArviZ's choice, no NaN); fewer than 4 draws per chain or any
  NaN gives NaN, and so does R-hat with fewer than 2 chains.

numpy only: scipy.special would cost ~0.4 s of start-up for its ``ndtri``, which
:func:`_normal_quantile` replaces.
"""

from __future__ import annotations

import numpy as np

MIN_DRAWS = 4        # fewer draws per chain than this: NaN (ArviZ's rule)
BLOM_OFFSET = 3 / 8  # fractional offset of the rank -> probability back-transformation

# Wichura (1988), Algorithm AS 241 (PPND16), Applied Statistics 37(3), 477-484: rational
# approximations of the standard normal quantile, highest degree first (for np.polyval),
# as in CPython's statistics.NormalDist.inv_cdf; relative error ~1e-16.
_CENTRAL = (  # |p - 1/2| <= 0.425, polynomials in r = 0.180625 - (p - 1/2)**2
    (2.5090809287301226727e+3, 3.3430575583588128105e+4, 6.7265770927008700853e+4,
     4.5921953931549871457e+4, 1.3731693765509461125e+4, 1.9715909503065514427e+3,
     1.3314166789178437745e+2, 3.3871328727963666080e+0),
    (5.2264952788528545610e+3, 2.8729085735721942674e+4, 3.9307895800092710610e+4,
     2.1213794301586595867e+4, 5.3941960214247511077e+3, 6.8718700749205790830e+2,
     4.2313330701600911252e+1, 1.0))
_INTERMEDIATE = (  # r = sqrt(-log(min(p, 1 - p))) <= 5, polynomials in r - 1.6
    (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
     1.27045825245236838258e+0, 3.64784832476320460504e+0, 5.76949722146069140550e+0,
     4.63033784615654529590e+0, 1.42343711074968357734e+0),
    (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
     1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e+0,
     2.05319162663775882187e+0, 1.0))
_FAR = (  # r > 5, polynomials in r - 5
    (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
     2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e+0,
     5.46378491116411436990e+0, 6.65790464350110377720e+0),
    (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
     7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
     5.99832206555887937690e-1, 1.0))


def _rational(coefficients, r: np.ndarray) -> np.ndarray:
    numerator, denominator = coefficients
    return np.polyval(numerator, r) / np.polyval(denominator, r)


def _normal_quantile(p: np.ndarray) -> np.ndarray:
    """Standard normal quantile (inverse CDF) of probabilities ``p`` in (0, 1), any shape
    (Wichura's AS 241; equals ``scipy.special.ndtri`` to ~1e-16 relative)."""
    q = p - 0.5
    r = np.sqrt(-np.log(np.minimum(p, 1 - p)))
    tail = np.where(r <= 5, _rational(_INTERMEDIATE, r - 1.6), _rational(_FAR, r - 5))
    central = q * _rational(_CENTRAL, 0.180625 - q * q)
    return np.where(np.abs(q) <= 0.425, central, np.copysign(tail, q))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of all elements of ``x`` (same shape), tied values sharing the mean of
    their ranks (``scipy.stats.rankdata(method="average")``)."""
    flat = x.ravel()
    order = np.argsort(flat, kind="stable")
    ascending = flat[order]
    starts_group = np.r_[True, ascending[1:] != ascending[:-1]]
    first = np.flatnonzero(starts_group)        # 0-based sorted position of each tie group
    end = np.r_[first[1:], flat.size]           # one past its last position
    ranks = np.empty(flat.size)
    ranks[order] = ((first + 1 + end) / 2)[np.cumsum(starts_group) - 1]
    return ranks.reshape(x.shape)


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Rank-normalised ``x`` (same shape): standard normal quantiles of Blom's probabilities
    of the average ranks over all elements (Vehtari et al. 2021, eq. 14)."""
    ranks = _average_ranks(x)
    return _normal_quantile((ranks - BLOM_OFFSET) / (ranks.size - 2 * BLOM_OFFSET + 1))


def _split_chains(x: np.ndarray) -> np.ndarray:
    """(2 * chain, draw // 2): the first halves of the chains, then their second halves; with
    an odd number of draws the middle draw is left out."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, -half:]])


def _autocovariance(chains: np.ndarray) -> np.ndarray:
    """(chain, lag) biased autocovariance (divided by the number of draws) of each chain at
    lags 0 .. draw - 1, by FFT with zero padding to twice the length."""
    n_draws = chains.shape[1]
    spectrum = np.fft.rfft(chains - chains.mean(axis=1, keepdims=True), n=2 * n_draws, axis=1)
    return np.fft.irfft(np.abs(spectrum) ** 2, n=2 * n_draws, axis=1)[:, :n_draws] / n_draws


def _ess_of_chains(chains: np.ndarray) -> float:
    """ESS of a (chain, draw) array taken as it is (no splitting, no ranks): the number of
    draws S over the autocorrelation time tau (Vehtari et al. 2021, eq. 10-11).

    The autocorrelations rho_t of the combined chains are summed in pairs
    P_k = rho_2k + rho_2k+1 (rho_0 = 1) up to the first pair that is not positive (Geyer's
    initial positive sequence; at most the pairs within draw - 2), the positive pairs are made
    non-increasing (Geyer's initial monotone sequence), and the even lag of the stopping pair
    is added where ArviZ adds it: tau = -1 + 2 sum_k<K P_k + rho_2K, at least 1 / log10(S).
    """
    n_chains, n_draws = chains.shape
    if np.ptp(chains) < np.finfo(np.float64).resolution:
        return float(chains.size)
    acov = _autocovariance(chains)
    within = acov[:, 0].mean() * n_draws / (n_draws - 1)
    var_plus = within * (n_draws - 1) / n_draws
    if n_chains > 1:
        var_plus += chains.mean(axis=1).var(ddof=1)
    n_pairs = max((n_draws - 1) // 2, 1)
    rho = 1 - (within - acov.mean(axis=0)[:2 * n_pairs]) / var_plus
    rho[0] = 1.0
    pairs = rho.reshape(n_pairs, 2)
    pair_sums = pairs.sum(axis=1)
    # initial positive sequence: pair 0 always, then up to the first pair that is not positive
    not_positive = np.flatnonzero(pair_sums[:-1] <= 0)
    stop = not_positive[0] if not_positive.size else n_pairs - 1
    # ArviZ keeps the stopping pair's even lag when it is positive or the pair sums to >= 0
    stop_even = pairs[stop, 0] if pairs[stop, 0] > 0 or pair_sums[stop] >= 0 else 0.0
    # initial monotone sequence: each pair sum at most the ones before it
    tau = -1 + 2 * np.minimum.accumulate(pair_sums[:stop]).sum() + stop_even
    cap = 1 / np.log10(chains.size)
    return float(chains.size / (cap if cap > tau else tau))


def _rhat_of_chains(chains: np.ndarray) -> float:
    """Gelman-Rubin potential scale reduction of a (chain, draw) array taken as it is
    (Vehtari et al. 2021, eq. 3-4); inf or NaN when every chain is constant."""
    n_draws = chains.shape[1]
    between = n_draws * chains.mean(axis=1).var(ddof=1)
    within = chains.var(axis=1, ddof=1).mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sqrt((between / within + n_draws - 1) / n_draws))


def _valid(x, min_chains: int) -> np.ndarray | None:
    """``x`` as a float64 (chain, draw) array, or None when ArviZ returns NaN for it (fewer
    than ``min_chains`` chains or MIN_DRAWS draws, or a NaN)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a (chain, draw) array, got shape {x.shape}")
    if x.shape[0] < min_chains or x.shape[1] < MIN_DRAWS or np.isnan(x).any():
        return None
    return x


def ess_bulk(x) -> float:
    """Bulk effective sample size of a (chain, draw) array, in draws: the ESS of the
    rank-normalised split chains (Vehtari et al. 2021, section 4.2; ArviZ's
    ``ess(method="bulk")``). NaN with fewer than 4 draws per chain or a NaN draw."""
    x = _valid(x, min_chains=1)
    return np.nan if x is None else _ess_of_chains(_normal_scores(_split_chains(x)))


def ess_tail(x, prob: float = 0.89) -> float:
    """Tail effective sample size of a (chain, draw) array, in draws: the smaller ESS of the
    split-chain indicators ``x <= quantile`` at the two quantiles ``1 - prob`` and ``prob``
    (Vehtari et al. 2021, section 4.3; ArviZ's ``ess(method="tail")``). ``prob`` defaults
    to ArviZ's ``stats.ci_prob`` (0.89); the paper's 5% and 95% quantiles are prob=0.95.
    Quantiles are numpy's linear ones over all draws, before the chains are split. NaN with
    fewer than 4 draws per chain or a NaN draw."""
    x = _valid(x, min_chains=1)
    if x is None:
        return np.nan
    return min(_ess_of_chains(_split_chains(x <= np.quantile(x, p)).astype(np.float64))
               for p in sorted((prob, 1 - prob)))


def rhat(x) -> float:
    """Rank-normalised split R-hat of a (chain, draw) array (Vehtari et al. 2021, section
    4.1; ArviZ's ``rhat()``): the larger of the R-hat of the rank-normalised split chains
    (bulk) and of their rank-normalised distances to the median (folded, tails). NaN with
    fewer than 2 chains, fewer than 4 draws per chain or a NaN draw; NaN also when the bulk
    R-hat is NaN, whereas a NaN folded R-hat gives the bulk one (Python's ``max``, as in
    ArviZ)."""
    x = _valid(x, min_chains=2)
    if x is None:
        return np.nan
    split = _split_chains(x)
    bulk = _rhat_of_chains(_normal_scores(split))
    folded = _rhat_of_chains(_normal_scores(np.abs(split - np.median(split))))
    return max(bulk, folded)
