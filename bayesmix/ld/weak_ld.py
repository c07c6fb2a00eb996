"""Weak-LD sums corrected for the reference panel's sampling noise (regression calibration).

A tag's weak-LD sum ``w_j = sum_i H_i r~_ij^2`` (the window's pairs below r2min,
:mod:`bayesmix.ld.compute`) is unbiased for the population's sum T_j, but noisy: the r of SNPs
in LD with each other err together, so the noise of a sum over thousands of weak pairs is
large. On a coalescent genome with a 1,000-person panel about half the spread of w across
tags is noise (split-half reliability 0.5-0.6, docs/mixer.md). The MiXeR likelihoods use w_j
as a regressor of z_j^2 (each tag's null variance grows with it), and noise in a regressor
attenuates its slope: the fits then put part of the weak-LD signal into sig2_zero and h2
comes out ~10% low.

The fix is regression calibration: replace w_j by the best linear predictor of T_j,

    T^_j = mean(w) + b_1 (w_j - mean(w)) + b_2 (m_j - mean(m)),
    (b_1, b_2) = S^-1 c,

where m_j is the mean of w over the ``NEIGHBOURS`` rows on each side of j on its chromosome
(T varies smoothly along the genome; the neighbours' noise is partly independent of j's),
S the covariance of (w, m) over rows, and c = (Cov(T, w), Cov(T, m)). The LD build computes
every sum also from each half of the panel, w^A and w^B (even / odd samples, the same pairs),
whose noises are independent of each other and of T, so

    Cov(T, w) = Var(T) = Cov(w^A, w^B),   Cov(T, m) = (Cov(w^A, m^B) + Cov(w^B, m^A)) / 2,

with m^A, m^B the halves' neighbour means. The moments are pooled over all rows the fit
loads (every chromosome). The calibrated sums keep the mean of w and are clipped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: rows on each side of a row whose weak-LD sums make its local mean m_j
NEIGHBOURS = 50
#: fewer rows than this (over all chromosomes) leave the sums as they are: the moments would
#: be too noisy to calibrate with
MIN_ROWS = 20 * NEIGHBOURS


@dataclass(frozen=True)
class WeakLDCalibration:
    """How the weak-LD sums were calibrated.

    reliability : Cov(w^A, w^B) / Var(w), the share of the spread of the sums across rows that
        is LD rather than the panel's noise (1 = noise-free).
    weight_own, weight_local : b_1 and b_2 of the module docstring.
    rows : rows the moments were taken over.
    """

    reliability: float
    weight_own: float
    weight_local: float
    rows: int

    def describe(self) -> str:
        return (f"weak-LD sums calibrated for the panel's sampling noise over {self.rows} rows: "
                f"split-half reliability {self.reliability:.2f}, weights {self.weight_own:.2f} "
                f"(own sum) and {self.weight_local:.2f} (mean of the {NEIGHBOURS} rows on "
                "each side)")


def local_mean(values: np.ndarray, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """Per row, the mean of ``values`` over the up to ``neighbours`` rows on each side,
    the row itself left out (the row's own value where it has no neighbour)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    index = np.arange(n)
    lo = np.maximum(index - neighbours, 0)
    hi = np.minimum(index + neighbours + 1, n)
    sums = np.concatenate([[0.0], np.cumsum(values)])
    count = hi - lo - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (sums[hi] - sums[lo] - values) / count
    return np.where(count > 0, mean, values)


def calibrate_weak_ld(weak: list[np.ndarray], halves: list[np.ndarray]
                      ) -> tuple[list[np.ndarray], WeakLDCalibration | None]:
    """Calibrated weak-LD sums of each chromosome (module docstring).

    Parameters
    ----------
    weak : per chromosome, (rows,) the weak-LD sums of every row of its LD matrix, in
        position order.
    halves : per chromosome, (rows, 2) the same sums from each half of the panel.

    Returns
    -------
    The calibrated sums per chromosome, and the calibration; the sums unchanged and None when
    there are fewer than ``MIN_ROWS`` rows or their spread is degenerate.
    """
    weak = [np.asarray(w, dtype=np.float64) for w in weak]
    rows = sum(len(w) for w in weak)
    if rows < MIN_ROWS:
        return weak, None
    whole = np.concatenate(weak)
    half_a = np.concatenate([h[:, 0] for h in halves])
    half_b = np.concatenate([h[:, 1] for h in halves])
    local = np.concatenate([local_mean(w) for w in weak])
    local_a = np.concatenate([local_mean(h[:, 0]) for h in halves])
    local_b = np.concatenate([local_mean(h[:, 1]) for h in halves])

    def cov(x, y):
        return float(np.mean((x - x.mean()) * (y - y.mean())))

    predictors = np.column_stack([whole - whole.mean(), local - local.mean()])
    moments = predictors.T @ predictors / rows
    target = np.array([cov(half_a, half_b),
                       0.5 * (cov(half_a, local_b) + cov(half_b, local_a))])
    if not np.isfinite(moments).all() or np.linalg.det(moments) <= 1e-12 * np.trace(moments)**2:
        return weak, None
    weights = np.linalg.solve(moments, target)
    calibrated = np.maximum(whole.mean() + predictors @ weights, 0.0)
    bounds = np.cumsum([0] + [len(w) for w in weak])
    calibration = WeakLDCalibration(float(target[0] / moments[0, 0]), float(weights[0]),
                                    float(weights[1]), rows)
    return [calibrated[a:b] for a, b in zip(bounds[:-1], bounds[1:])], calibration


def model_weak_ld(ld) -> np.ndarray | None:
    """The weak-LD sums a model uses with one LD matrix (an
    :class:`~bayesmix.ld.store.LDMatrix`): calibrated (:func:`calibrate_weak_ld`, its rows'
    moments) when it has split-half sums, as they are when not, None without sums."""
    if ld.weak_ld is None or ld.weak_ld_halves is None:
        return ld.weak_ld
    (weak,), _ = calibrate_weak_ld([ld.weak_ld], [ld.weak_ld_halves])
    return weak


def weak_fourth_moments(weak, weak4, r2min):
    """The weak-LD fourth-moment sums a model uses next to the (calibrated) sums ``weak``:
    ``weak4`` capped so that its pseudo-SNPs' LD weak4 / weak stays below the largest a
    left-out pair can have, H r^2 < r2min / 2 (H <= 1/2), which the panel's noise in either
    sum could otherwise pass (:func:`bayesmix.kernels.mixer.weak_pseudo_snps`); None without
    sums (or with an unknown ``r2min``: ``weak4`` as it is)."""
    if weak is None or weak4 is None:
        return None
    if r2min is None:
        return weak4
    return np.minimum(weak4, 0.5 * float(r2min) * weak)
