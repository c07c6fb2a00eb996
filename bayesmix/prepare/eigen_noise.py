"""Noise per eigen direction of SBayes on eigen LD: a residual variance that grows as the
panel's eigenvalue shrinks.

With LD from a reference panel of n_ref people, the kept eigenpairs (lambda_t, u_t) of a block
are those of the panel's sample LD. The GWAS sampling noise of the rotated statistic w_t =
lambda_t^-1/2 u_t'b* then has variance (u_t'R u_t / lambda_t) / n_b, where R is the GWAS
sample's LD: about 1 / n_b where the panel's eigenvalue is large, but well above it where it
is small, because a sample's smallest eigenvalues fall below what the population's LD gives
along the same directions (u_t'R u_t ~ lambda_t + delta). LD sampling noise of the GWAS
sample itself adds to it in the same way. So instead of one residual variance per block
(``e_b ~ N(0, sig2_b / n_b I)``), the model's noise is

    e_b ~ N(0, sig2_b / n_b D_b),   D_b = diag(1 + c / lambda_t),

and c is estimated before sampling from the residuals of short pilot chains
(:mod:`bayesmix.inference.eigen_noise`): over their last draws, the mean of
n_b e_t^2 d_t / sig2_b per direction (the standardised squared residual on the unweighted
scale) is regressed on 1 and 1 / lambda_t, c = slope / intercept (0 when the slope is not
positive); a first pilot runs with flat noise, each next one with the last c until it
settles. The marginal statistics alone cannot separate the noise from the signal: n_b w_t^2
~ a + b / lambda_t + s lambda_t fits c 5-7 times too large where a block holds much signal
(20,000-SNP genomes), the pilots' residuals 2-7 times, which there costs hsq 1-2 points
(docs/sbayes.md). Measured on a coalescent genome of 1.1M SNPs with a 1,000-person panel
(docs/sbayes.md; all SNPs kept): n_b e_t^2 of the *true* effects runs from 1.62 at lambda ~
0.1 to 1.03 at lambda > 8 (c = 0.080 from them); the pilots give 0.070, 0.077, 0.078; with
one noise level per block SBayesR's hsq was 15-20% low.

The weighted model is the flat one on transformed statistics: w~_t = w_t / sqrt(d_t) and
Q~_b = D_b^-1/2 Q_b (its log-likelihood differs by the constant -1/2 sum_t log d_t), so
every kernel runs unchanged on :func:`with_eigen_noise`'s data; only the genetic variance,
|Q beta|^2 = sum_t d_t (Q~ beta)_t^2, and the statistics' own share of variance need
``noise_weights``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bayesmix.errors import InputError
from bayesmix.kernels.sbayes_eigen import snp_sums_of_squares

#: the choices of ``--eigen-noise``: per direction 1 + c / lambda (the default), or flat
EIGEN_NOISE_MODELS = ("lambda", "flat")


@dataclass(frozen=True)
class EigenNoiseFit:
    """The least-squares fit v_t ~ a + b / lambda_t of standardised squared residuals v_t
    (module docstring; a ~ 1 when the block variances fit) over the kept directions."""

    a: float
    b: float
    n_directions: int

    @property
    def c(self) -> float:
        """The weight's slope, d_t = 1 + c / lambda_t: b / a, 0 when b <= 0 (or a <= 0)."""
        return self.b / self.a if self.a > 0 and self.b > 0 else 0.0

    def describe(self) -> str:
        return (f"residual variance per eigen direction proportional to 1 + c / lambda with c "
                f"= {self.c:.4g} (pilot residuals over {self.n_directions:,} directions: "
                f"{self.a:.4g} + {self.b:.4g} / lambda)")


#: 1 / lambda must vary by more than this share of its mean for a slope to be fitted
MIN_INVERSE_EIGENVALUE_SPREAD = 1e-3


def fit_noise_slope(eigenvalues, mean_squares) -> EigenNoiseFit:
    """The fit of ``mean_squares`` (v_t per kept direction) on 1 and 1 / ``eigenvalues``.

    When 1 / lambda hardly varies (less than :data:`MIN_INVERSE_EIGENVALUE_SPREAD` of its
    mean between the extremes, e.g. blocks of one SNP, whose eigenvalue is 1), the slope
    cannot be told from the intercept: no slope (b = 0, a the mean), so no weighting. The
    least-squares fit would split the mean between them at random (c = b / a of 0.35, 2.8
    ... from rounding noise in lambda), and a constant weight 1 + c then scales ResVar by
    1 / (1 + c)."""
    lam = np.asarray(eigenvalues, np.float64)
    squares = np.asarray(mean_squares, np.float64)
    if lam.size < 3:
        raise InputError(f"{lam.size} eigenvectors are too few to fit the noise per eigen "
                         "direction: use --eigen-noise flat")
    inverse = 1.0 / lam
    if np.ptp(inverse) <= MIN_INVERSE_EIGENVALUE_SPREAD * abs(float(np.mean(inverse))):
        return EigenNoiseFit(float(np.mean(squares)), 0.0, int(lam.size))
    design = np.column_stack([np.ones_like(lam), inverse])
    (a, b), *_ = np.linalg.lstsq(design, squares, rcond=None)
    return EigenNoiseFit(float(a), float(b), int(lam.size))


def with_eigen_noise(data, c: float):
    """``data`` with per-direction noise weights d_t = 1 + ``c`` / lambda_t: w and Q divided
    by sqrt(d_t) (a copy of Q), ``qq`` their q~_j'q~_j (what the sweeps use) and
    ``unweighted_qq`` the LD diagonal the eigenvectors keep."""
    if data.noise_weights is not None:
        raise ValueError("the statistics are already noise-weighted")
    d = 1.0 + float(c) / np.asarray(data.eigenvalues, np.float64)
    scale = 1.0 / np.sqrt(d)
    q_values = data.q_values.copy()
    sizes, ranks = np.diff(data.block_ptr), data.ranks
    for b in range(data.n_blocks):
        start, k = int(data.q_ptr[b]), int(ranks[b])
        block = q_values[start:start + sizes[b] * k].reshape(sizes[b], k)
        block *= scale[data.rank_ptr[b]:data.rank_ptr[b + 1]].astype(q_values.dtype)
    return replace(data, w=data.w * scale, q_values=q_values,
                   qq=snp_sums_of_squares(data.block_ptr, data.rank_ptr, data.q_ptr, q_values),
                   unweighted_qq=data.qq, noise_weights=d)
