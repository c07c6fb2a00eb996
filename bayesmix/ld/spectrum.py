"""Smallest eigenvalue of a square LD matrix R, cheaply, and the ridge that lifts it.

SBayes' robust setting (:mod:`bayesmix.models.sbayes`) replaces R by
R_lam = (1 - lam) R + lam I with lam chosen from the smallest eigenvalue of R
(:func:`ridge_for_min_eigenvalue`). :func:`ld_min_eigenvalue` finds that eigenvalue per
independent LD block (no stored entry between blocks, e.g. chromosomes or LD blocks):

- blocks of fewer than ``dense_below`` SNPs: exact, ``numpy.linalg.eigvalsh`` of the dense block;
- larger blocks (a chromosome-wide sparse or window matrix is one block): the Lanczos method
  on the stored CSR arrays (int16 codes or float32 r; the numba product
  :func:`bayesmix.kernels.ld_spectrum.symmetric_block_matvec` reads each value of the upper
  triangle once, without column indices where a row is one run of columns; no float64 copy
  of the matrix).

Direction of the Lanczos error. The smallest Ritz value theta_k after k products is the minimum
of the Rayleigh quotient x'Rx / x'x over the k-dimensional Krylov space, so
theta_k >= lambda_min always, and it decreases towards lambda_min as k grows: Lanczos
OVER-estimates lambda_min, which alone would give a ridge that is too small. The estimate
returned is therefore pushed down by an error bound, the drift of the Ritz value over the
second half of the run:

    lambda_hat = theta_k - error,   error = theta_{k/2} - theta_k.

It bounds theta_k - lambda_min whenever that error decreases at least like 1/k (then
theta_{k/2} - theta_k >= theta_k - lambda_min). For LD matrices it decreases faster:
geometrically when the lowest eigenvalue is isolated (thresholded sparse LD; lambda_hat then
errs low by about the drift, up to the tolerance), like 1/k^1.6 .. 1/k^2 when the lowest
eigenvalues are densely packed (the GCTB-like band of ``benchmarks/sbayes.py``; lambda_hat
errs low by 1-3 times the true error). The residual norm ||R y - theta_k y|| of the Ritz
vector is NOT used: it bounds the distance to the nearest eigenvalue, which for a nearly
degenerate bottom pair is the second one (seen on window LD of small panels: theta_k above
lambda_min by more than its residual). On 80 random test matrices (bands, window and
thresholded LD of 30-500 people, in-sample LD; 1,500-2,500 SNPs, two start vectors each) the
estimate was never above the dense eigenvalue. The run stops when the error bound is at most
``max(rtol * |theta_k|, atol)``, after at least ``min_iter`` products, or at once when the
Krylov space is invariant (then theta_k is exact). Plain Lanczos (three-term recurrence, no
re-orthogonalisation: O(n) memory) is enough for the extreme eigenvalue: loss of
orthogonality only duplicates converged Ritz values, it does not move the smallest one below
lambda_min (Paige 1980). The bound does not see an eigenvalue that the Krylov space has not
reached at all, which a random start vector makes unlikely.

Stopping above a target (``stop_above``, the robust ridge's check). The bound fails while the
Ritz value is still speeding up: on 1 Mb window LD of the shipped 503-person panels theta_k
sits near 0 (the zero eigenvalues of the rank-deficient panel LD) for 10-16 products, then
falls towards lambda_min (-0.56 .. -1.8) over the next 20-60, so at 20 products theta_k - e
was up to 0.31 above lambda_min. Shrunk towards I so that lambda_min lay 0.02 below the
target, such a matrix stopped after 20 products with an estimate above the target for half
of the start vectors: no ridge on an indefinite matrix (tests/test_ld_spectrum.py). A stop
above the target therefore needs the Ritz value to be slowing down. With
e = theta_{k/2} - theta_k and d = theta_{k/4} - theta_{k/2} (the drop over the octave
before), it stops only if d > e and theta_k - max(e, e^2 / (d - e)) is at or above the
target (that value is returned): if each octave drops at most e/d times the one before, the
drops after k sum to at most e^2 / (d - e) (a geometric series), which is below e when
d >= 2e (error decaying at least like 1/k, where e alone is a bound). Measured by
``benchmarks/lanczos_floor.py`` (results/lanczos_floor.json: 49 matrices of 900-2,000 SNPs
and the two 10,000-SNP shrunk blocks of ``benchmarks/sbayes_startup.py``, six start vectors,
each also shifted to lambda_min = target - 0.2 .. target + 0.1, 4,284 checks with target
0.01):

- of the k >= 20 with theta_k - e above lambda_min (by > 1e-6), those with d < e were up to
  0.31 above (58), those with e <= d < 2e up to 3e-5 (172), those with d >= 2e up to 0.016
  (1,528; the large ones where the Ritz value has settled on the second of a nearly
  degenerate bottom pair, which no rule on Ritz values can see);
- estimate >= target > lambda_min: 74 checks before (all 1 Mb window LD, up to 0.22 above
  lambda_min), 2 now (that bottom pair: up to 0.006 above lambda_min = 0.005 and 0.008,
  still positive definite; the library's own runs on the shifted matrices: the same 2);
- products: the shrunk blocks still stop after 20 (d/e = 2.06-2.15 there; the extrapolation
  keeps that stop down to d/e = 1.74, where requiring d >= 2e would fall back to the
  tolerance, ~140); shifted just above the target, 1 Mb window LD needs 66 instead of 38 (it
  waits out the fall) and AR(1) 0.95 bands 42 instead of 39, the rest within 0.1. Safety
  factors instead (theta_k - c e): c = 2 still gave 16 wrong checks, c = 3 none but 67
  products on the shrunk blocks.

The Krylov space is shift-invariant, so running Lanczos on (lambda_max I - R) for its largest
eigenvalue gives the same Ritz values after the same number of products: no gain.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from bayesmix.ld.store import LDMatrix

log = logging.getLogger(__name__)

DENSE_BELOW = 2000
RTOL = 0.05
ATOL = 0.005
MIN_ITER = 20
MAX_ITER = 300
#: seconds between progress lines of one Lanczos run (off a terminal)
PROGRESS_INTERVAL = 5.0


@dataclass(frozen=True)
class LanczosEstimate:
    """Smallest-eigenvalue estimate of one symmetric operator.

    Attributes
    ----------
    value : the returned estimate ``ritz - error`` (meant to be <= the true eigenvalue).
    ritz : smallest Ritz value theta_k after the last product (>= the true eigenvalue).
    error : the error bound subtracted, theta_{k/2} - theta_k, or on a stop above
        ``stop_above`` possibly its extrapolation (module docstring).
    n_products : number of matrix-vector products k.
    converged : whether the error bound reached the tolerance within ``max_iter`` products.
    """

    value: float
    ritz: float
    error: float
    n_products: int
    converged: bool


def lanczos_min_eigenvalue(matvec, n: int, *, rtol: float = RTOL, atol: float = ATOL,
                           stop_above: float | None = None, min_iter: int = MIN_ITER,
                           max_iter: int = MAX_ITER, seed=0, report=None) -> LanczosEstimate:
    """Smallest eigenvalue of a symmetric n x n operator by plain Lanczos (module docstring).

    Parameters
    ----------
    matvec : callable ``matvec(x, out)`` writing the product with float64[n] ``x`` into ``out``.
    n : dimension.
    rtol, atol : stop when the error bound <= max(rtol * |theta_k|, atol).
    stop_above : also stop once the Ritz value is slowing down and theta_k minus the
        extrapolated error bound is >= this value (for a caller that only needs to know that
        lambda_min is above it, e.g. the ridge's target: the estimate is then less precise
        but still on the low side; the rule and its measured safety: module docstring).
    min_iter, max_iter : bounds on the number of products (the Krylov dimension).
    seed : seed or ``numpy.random.Generator`` of the random start vector.
    report : optional callable ``report(k, ritz, estimate)`` after each product: the
        smallest Ritz value theta_k and the current estimate theta_k - (theta_{k/2} -
        theta_k) (NaN before the second product).
    """
    from scipy.linalg import eigvalsh_tridiagonal

    rng = np.random.default_rng(seed)
    q = rng.standard_normal(n)
    q /= np.linalg.norm(q)
    q_prev = np.zeros(n)
    w = np.empty(n)
    alpha, beta = [], []
    ritz = []  # theta_k, k = 1, 2, ...
    max_iter = min(max_iter, n)
    for k in range(1, max_iter + 1):
        matvec(q, w)
        a = float(q @ w)
        w -= a * q
        if beta:
            w -= beta[-1] * q_prev
        alpha.append(a)
        ritz.append(float(eigvalsh_tridiagonal(np.array(alpha), np.array(beta), select="i",
                                               select_range=(0, 0))[0]))
        if report is not None:
            report(k, ritz[-1], 2 * ritz[-1] - ritz[k // 2 - 1] if k >= 2 else np.nan)
        b = float(np.linalg.norm(w))
        if b <= 1e-12 * max(abs(a), 1.0):  # invariant Krylov space: theta_k is exact
            return LanczosEstimate(ritz[-1], ritz[-1], 0.0, k, True)
        if k >= min_iter:
            error = ritz[k // 2 - 1] - ritz[-1]
            if error <= max(rtol * abs(ritz[-1]), atol):
                return LanczosEstimate(ritz[-1] - error, ritz[-1], error, k, True)
            if stop_above is not None:
                drop = ritz[max(k // 4, 1) - 1] - ritz[k // 2 - 1]  # over the octave before
                bound = max(error, error * error / (drop - error)) if drop > error else np.inf
                if ritz[-1] - bound >= stop_above:
                    return LanczosEstimate(ritz[-1] - bound, ritz[-1], bound, k, True)
        beta.append(b)
        q_prev, q = q, w / b
    error = ritz[len(ritz) // 2 - 1] - ritz[-1] if len(ritz) > 1 else 0.0
    return LanczosEstimate(ritz[-1] - error, ritz[-1], error, len(ritz), False)


def ld_block_matvec(ld: LDMatrix, lo: int, hi: int):
    """``matvec(x, out)``: out = R[lo:hi, lo:hi] x of an independent block, on the stored arrays
    (their upper triangle: :func:`bayesmix.kernels.ld_spectrum.symmetric_block_matvec`, or
    :func:`bayesmix.kernels.ld_band.symmetric_band_matvec` for the band layout)."""
    from bayesmix.kernels.ld_band import symmetric_band_matvec
    from bayesmix.kernels.ld_spectrum import symmetric_block_matvec, upper_starts

    indptr, data, scale = np.asarray(ld.indptr), np.asarray(ld.data), float(ld.scale)
    if ld.is_band:
        first = ld.row_first

        def band_matvec(x, out):
            symmetric_band_matvec(indptr, first, data, scale, lo, x, out)

        return band_matvec
    indices = np.asarray(ld.indices)
    starts = upper_starts(indptr, indices, lo, hi)

    def matvec(x, out):
        symmetric_block_matvec(indptr, starts, indices, data, scale, lo, x, out)

    return matvec


def ld_min_eigenvalue(ld: LDMatrix, *, dense_below: int = DENSE_BELOW, rtol: float = RTOL,
                      atol: float = ATOL, stop_above: float | None = None,
                      max_iter: int = MAX_ITER, seed=0, progress=True) -> float:
    """Smallest eigenvalue of the square LD matrix R (r scale), over its independent blocks.

    Blocks of fewer than ``dense_below`` SNPs: exact dense eigenvalues. Larger blocks: the
    Lanczos estimate of :func:`lanczos_min_eigenvalue` (``rtol``, ``atol``, ``stop_above``,
    ``max_iter``, ``seed``), pushed below the Ritz value by its error bound so that the ridge
    chosen from it is not too small (module docstring). Thresholded sparse LD from a
    503-person panel gives about -5; a positive semi-definite matrix gives ~0 or more (minus
    at most the tolerance).
    Pass ``stop_above=target`` when only the ridge for ``target`` is needed: a block whose
    estimate is already above the target, its Ritz value slowing down, stops there (e.g. 20
    instead of 68 products on the GCTB-like band of ``benchmarks/sbayes.py``).
    ``progress``: progress over blocks and, every few seconds of a long Lanczos run, the
    number of products, the current estimate and the target (:mod:`bayesmix.progress`;
    nothing is shown for a check shorter than a couple of seconds).
    """
    from bayesmix.kernels.ld_band import dense_band_block
    from bayesmix.kernels.ld_spectrum import dense_block
    from bayesmix.kernels.sbayes import independent_blocks
    from bayesmix.progress import Progress

    if not ld.is_square:
        raise ValueError("ld_min_eigenvalue needs a square (symmetric) LD matrix")
    indptr, data = np.asarray(ld.indptr), np.asarray(ld.data)
    columns = ld.row_first if ld.is_band else np.asarray(ld.indices)
    bounds = independent_blocks(indptr, columns, ld.is_band)
    block_of = dense_band_block if ld.is_band else dense_block
    smallest = np.inf
    target = "" if stop_above is None else f", target {stop_above:.4g}"
    with Progress(len(bounds) - 1, desc="LD eigenvalue check", unit="blocks",
                  progress=progress) as blocks:
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            if hi - lo < dense_below:
                block = block_of(indptr, columns, data, float(ld.scale), lo, hi)
                value = float(np.linalg.eigvalsh(block)[0])
            else:
                with Progress(None, desc=f"LD eigenvalue check, Lanczos on SNPs {lo}..{hi - 1}",
                              unit="products", progress=progress,
                              interval=PROGRESS_INTERVAL) as products:
                    def report(k, ritz, estimate):
                        products.update(1, note=f"smallest Ritz value {ritz:.4g}, estimate "
                                                f"{estimate:.4g}{target}")

                    est = lanczos_min_eigenvalue(ld_block_matvec(ld, lo, hi), hi - lo,
                                                 rtol=rtol, atol=atol, stop_above=stop_above,
                                                 max_iter=max_iter, seed=seed, report=report)
                log.info("LD block of SNPs %d..%d: smallest Ritz value %.4g after %d products, "
                         "estimate %.4g%s", lo, hi - 1, est.ritz, est.n_products, est.value,
                         "" if est.converged else " (tolerance not reached)")
                value = est.value
            smallest = min(smallest, value)
            blocks.update(1)
    return float(smallest)


def ridge_for_min_eigenvalue(min_eigenvalue: float, target: float) -> float:
    """lam such that (1 - lam) R + lam I has smallest eigenvalue ``target`` (0 if it already has).

    For a unit-diagonal R with smallest eigenvalue e < target: lam = (target - e) / (1 - e).
    """
    if min_eigenvalue >= target:
        return 0.0
    return float((target - min_eigenvalue) / (1.0 - min_eigenvalue))
