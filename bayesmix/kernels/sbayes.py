"""Gibbs sweep of SNP effects on summary statistics with a sparse LD matrix (SBayesC/R/S).

Scale: everything here is on the *standardised* scale (genotypes with variance 1, phenotype
with variance 1), so the normal equations are

    X'X = S R S,   S = diag(s),  s_j = sqrt(n_j)    (n_j: GWAS sample size of SNP j)
    X'y_j = n_j b_j                                 (b_j: standardised marginal effect)

with ``R`` the (symmetric) LD correlation matrix held in CSR arrays ``indptr`` (int64 or
int32), ``indices`` (int32) and ``values`` (float32, or int16 decoded as ``value *
value_scale``). Row j of a symmetric CSR matrix is also its column j, which is what the
residual update needs.

A ridge ``lam`` in [0, 1) shrinks R towards its diagonal, R_lam = (1 - lam) R + lam diag(R),
i.e. X'X_lam = (1 - lam) S R S + lam diag(X'X): the robust setting for LD from a reference
panel that is not positive definite (the stored values are not changed; ``lam = 0`` is the
plain model).

The sweep keeps the "corrected right-hand side" ``r = X'y - X'X beta`` up to date: for SNP j,
``rhs_j = r_j + (X'X)_jj beta_j``; after beta_j changes by ``delta``,
``r -= (X'X)_{.j} delta`` over the stored column only (O(nnz of the column)).

One prior covers SBayesC, SBayesR and SBayesS: beta_j is a mixture over components k with
probabilities ``pi_k`` of N(0, comp_var_k * snp_var_scale_j), where ``comp_var_k = 0`` is a
point mass at zero. SBayesC: comp_var = (0, sigma^2), snp_var_scale = 1. SBayesR: comp_var =
gamma_k sigma^2. SBayesS: comp_var = (0, sigma^2), snp_var_scale_j = H_j^(S+1) (the per-allele
variance H_j^S sigma^2 seen on the standardised scale). A composed prior may give each SNP its
own weights pi_jk (annotation-dependent weights): the sweeps' ``snp_weights`` argument, see
:func:`snp_weight_terms`.

The random numbers (two uniforms per SNP; the second becomes a standard normal only for SNPs
drawn into a slab, which is cheaper than drawing M normals) come from the caller, as arrays
(:func:`bayesmix.kernels.random.sweep_uniforms`) or as the keys of the same counter-based
streams (:func:`~bayesmix.kernels.random.sweep_streams`, read by
:func:`~bayesmix.kernels.random.uniform_at` as the sweep goes), so the kernels are pure
functions of their inputs and the block-parallel version gives the same draws as the serial
one. Likewise ``vare`` is an (M,) array or one float for every SNP (:func:`per_snp`).
"""

from __future__ import annotations

import math

import numpy as np
from numba.core import types
from numba.extending import overload

from bayesmix.kernels.gibbs import draw_component, with_item
from bayesmix.kernels.jit import njit
from bayesmix.kernels.ld_band import _run_sums
from bayesmix.kernels.random import uniform_at


def per_snp(value, j):
    """SNP j's value of ``value``: element j of an array, or ``value`` itself for a number
    shared by every SNP (in numba code each compiles to its own read)."""
    return float(value[j]) if isinstance(value, np.ndarray) else float(value)


@overload(per_snp)
def _per_snp(value, j):
    if isinstance(value, types.Array):
        return lambda value, j: value[j]
    if isinstance(value, types.Float):
        return lambda value, j: value
    return None


def mixture_terms(log_pi, comp_var) -> tuple:
    """The prior of the sweeps as tuples: (log pi_k, comp_var_k, odds_k = pi_k / pi_0,
    (sum over slabs k >= 1 of odds_k / sqrt(comp_var_k), sum over point masses k >= 1 of
    odds_k)), the last two for the quick bound of :func:`_draw_snp`.

    Tuples, not arrays: numba passes them by value, so the per-SNP draw costs no array
    reference counting (which otherwise takes most of a sweep's time). Built from Python
    floats (K is a handful): numpy's per-call overhead made this a tenth of an SBayesC
    iteration's Python time.
    """
    log_pi = np.asarray(log_pi, dtype=np.float64).tolist()
    comp_var = np.asarray(comp_var, dtype=np.float64).tolist()
    odds = [_exp(v - log_pi[0]) for v in log_pi]
    slab_bound = 0.0
    point_bound = 0.0
    for o, v in zip(odds[1:], comp_var[1:]):
        if v > 0:
            slab_bound += o / math.sqrt(v)
        else:
            point_bound += o
    return (tuple(log_pi), tuple(comp_var), tuple(odds), (slab_bound, point_bound))


def _exp(x: float) -> float:
    """e^x as numpy gives it: inf past the float range (math.exp raises OverflowError)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


@njit
def snp_weight_terms(log_weights, comp_var):
    """Per-SNP mixture weights for the sweeps' ``snp_weights``: an (M, 2K + 2) table whose row
    j plays the part of :func:`mixture_terms` for SNP j, columns log pi_jk (0..K-1), odds_jk =
    pi_jk / pi_j0 (K..2K-1), the sum over slabs k >= 1 of odds_jk / sqrt(comp_var_k) (2K) and
    the sum over point masses k >= 1 of odds_jk (2K + 1); the sweeps read row j into tuples
    (:func:`_row_as_tuple`).
    ``log_weights`` (M, K) float64: log pi_jk, rows normalised (or shifted by any per-SNP
    constant), -inf allowed except in column 0 when component 0 is a point mass;
    ``comp_var`` (K,) float64 component variances (0: a point mass)."""
    m, n_comp = log_weights.shape
    table = np.empty((m, 2 * n_comp + 2))
    for j in range(m):
        over_sd = 0.0
        point_masses = 0.0
        for k in range(n_comp):
            odds = math.exp(log_weights[j, k] - log_weights[j, 0]) if k > 0 else 1.0
            table[j, k] = log_weights[j, k]
            table[j, n_comp + k] = odds
            if k > 0:
                if comp_var[k] > 0.0:
                    over_sd += odds / math.sqrt(comp_var[k])
                else:
                    point_masses += odds
        table[j, 2 * n_comp] = over_sd
        table[j, 2 * n_comp + 1] = point_masses
    return table


@njit
def _draw_snp(r_j, d, ve, old, mixture, var_scale_j, u, u_effect):
    """Gibbs draw of (component, effect) of a SNP given r_j = (X'y - X'X beta)_j.

    rhs = (r_j + d old) / ve; for a slab component k with variance v = comp_var_k var_scale_j,
    log p(k) = log pi_k + (log(1/lhs) - log v + rhs^2 / lhs) / 2 with lhs = d / ve + 1 / v,
    and a point mass at zero has log p(k) = log pi_k. ``mixture`` is :func:`mixture_terms`.
    ``u`` picks the component and ``u_effect`` (both U[0, 1)) gives the standard normal of a
    slab effect through :func:`normal_quantile` (only slab draws pay for it).
    Returns (k, beta_j).

    Shortcut: the exact draw picks 0 iff u < p_0 = 1 / (1 + sum_k odds_k sqrt(il_k / v_k)
    e^{x_k}) with il_k = 1 / lhs_k and x_k = rhs^2 il_k / 2 >= 0. When component 0 is a point
    mass, :func:`_exp_bound` of x_max = max_k x_k in place of every e^{x_k} bounds 1 / p_0
    from above; if u times that bound is below 1, u < p_0 and the exact draw is 0, decided
    here without log (and without exp while x_max <= 1). Most SNPs of a sparse architecture
    take this path (SBayesC on the 20,000-SNP shrunk-LD benchmark: the 15% of SNPs with
    x_max > 1 went to the exact draw before the exp bound; with it the sweep took 0.57
    instead of 0.64 ms); the others are drawn by :func:`_draw_exact` from the same uniforms,
    so the draws do not depend on the shortcut.
    A quicker, looser bound is tried first: il_k <= ve / d gives x_max <= rhs^2 ve / (2 d)
    and sqrt(il_k / v_k) <= sqrt(ve / (d var_scale_j)) / sqrt(comp_var_k), so with the sums
    of :func:`mixture_terms` one square root bounds all slabs at once.
    """
    log_pi, comp_var, odds, (odds_over_sd, odds_point_masses) = mixture
    return _draw_weighted(r_j, d, ve, old, log_pi, comp_var, odds, odds_over_sd,
                          odds_point_masses, var_scale_j, u, u_effect)


@njit(inline="always")
def _row_as_tuple(template, table, j, first_column):
    """``table[j, first_column:first_column + K]`` as a tuple of the type of ``template`` (a
    K-tuple of floats), which numba passes by value (a row view would be reference counted
    in every per-SNP draw, which costs more than the draw)."""
    out = template
    for k in range(len(template)):
        out = with_item(out, k, table[j, first_column + k])
    return out


@njit
def _draw_weighted(r_j, d, ve, old, log_pi, comp_var, odds, odds_over_sd, odds_point_masses,
                   var_scale_j, u, u_effect):
    """:func:`_draw_snp` with the weight terms given one by one (the tuples of
    :func:`mixture_terms`, or a row of :func:`snp_weight_terms` as such tuples)."""
    rhs = (r_j + d * old) / ve
    if comp_var[0] == 0.0:
        ratio, weight = _quick_bound_terms(ve, d, var_scale_j, odds_over_sd, odds_point_masses)
        if _quickly_zero(rhs, ratio, weight, u):
            return 0, 0.0
        weight = 0.0
        il_max = 0.0
        for k in range(1, len(comp_var)):
            v = comp_var[k] * var_scale_j
            if v > 0.0:
                il = 1.0 / (d / ve + 1.0 / v)
                weight += odds[k] * math.sqrt(il / v)
                if il > il_max:
                    il_max = il
            else:
                weight += odds[k]
        if u * (1.0 + weight * _exp_bound(0.5 * rhs * rhs * il_max)) < 1.0:
            return 0, 0.0
    return _draw_exact(rhs, d, ve, log_pi, comp_var, var_scale_j, u, u_effect)


@njit(inline="always")
def _quick_bound_terms(ve, d, var_scale_j, odds_over_sd, odds_point_masses):
    """The per-SNP terms of the quick bound of :func:`_draw_snp`: (ratio, weight) =
    (ve / d, odds_over_sd sqrt(ve / (d var_scale_j)) + odds_point_masses), the bounds
    x_max <= rhs^2 ratio / 2 and sum_k odds_k sqrt(il_k / v_k) <= weight."""
    ratio = ve / d
    return ratio, odds_over_sd * math.sqrt(ratio / var_scale_j) + odds_point_masses


@njit(inline="always")
def _quickly_zero(rhs, ratio, weight, u):
    """The quick bound's verdict (:func:`_draw_snp`): True when u < p_0 is certain, i.e.
    the exact draw is component 0 with effect 0."""
    return u * (1.0 + weight * _exp_bound(0.5 * rhs * rhs * ratio)) < 1.0


@njit
def quick_bound_table(mixture, snp_weights, xtx_diag, vare, snp_var_scale, lo, hi):
    """:func:`_quick_bound_terms` of SNPs lo..hi-1 as two float64[hi - lo] arrays (ratio,
    weight), computed in one vectorised pass before a sweep, so that the sweep's test of a
    SNP at zero (:func:`_quickly_zero`) costs no division or square root but its rhs; empty
    arrays when component 0 is not a point mass (the bound does not apply). ``snp_weights``:
    as in :func:`sbayes_sweep` (its columns 2K and 2K + 1 replace the shared sums)."""
    _, comp_var, _, (odds_over_sd, odds_point_masses) = mixture
    if comp_var[0] != 0.0:
        return np.empty(0), np.empty(0)
    n_comp = len(comp_var)
    ratio = np.empty(hi - lo)
    weight = np.empty(hi - lo)
    for j in range(lo, hi):
        over_sd, point_masses = odds_over_sd, odds_point_masses
        if snp_weights is not None:
            over_sd, point_masses = snp_weights[j, 2 * n_comp], snp_weights[j, 2 * n_comp + 1]
        ratio[j - lo], weight[j - lo] = _quick_bound_terms(
            per_snp(vare, j), xtx_diag[j], snp_var_scale[j], over_sd, point_masses)
    return ratio, weight


@njit(inline="always")
def _exp_bound(x):
    """An upper bound of e^x for x >= 0 that errs upwards by far more than exp's rounding:
    1 + x + x^2 up to x = 1 (e^x <= 1 + x + (e - 2) x^2 there; no exp), beyond that e^x
    (1 + 1e-6); inf when e^x overflows."""
    if x <= 1.0:
        return 1.0 + x + x * x
    return math.exp(x) * (1.0 + 1e-6)


@njit
def _draw_exact(rhs, d, ve, log_pi, comp_var, var_scale_j, u, u_effect):
    """The draw of :func:`_draw_snp` from all component weights (log and exp). ``log_pi`` and
    ``comp_var`` are tuples of one type, and so are the scratch log weights and 1 / lhs_k
    (no heap array per draw, :func:`~bayesmix.kernels.gibbs.with_item`)."""
    n_comp = len(log_pi)
    logp = log_pi
    inv_lhs = comp_var
    for k in range(n_comp):
        v = comp_var[k] * var_scale_j
        if v > 0.0:
            il = 1.0 / (d / ve + 1.0 / v)
            inv_lhs = with_item(inv_lhs, k, il)
            logp = with_item(logp, k, log_pi[k] + 0.5 * (math.log(il / v) + rhs * rhs * il))
        else:
            inv_lhs = with_item(inv_lhs, k, 0.0)
    chosen = draw_component(logp, n_comp, u)
    if inv_lhs[chosen] > 0.0:
        z = normal_quantile(u_effect)
        return chosen, rhs * inv_lhs[chosen] + math.sqrt(inv_lhs[chosen]) * z
    return chosen, 0.0


@njit
def normal_quantile(u):
    """Standard normal quantile of p = u + 2^-54, for u in [0, 1) on the grid of
    numpy's ``random()`` and :func:`~bayesmix.kernels.random.fill_uniforms`
    (multiples of 2^-53; the half-step shift keeps p strictly inside (0, 1), symmetric about
    1/2, so the largest u gives a finite quantile).

    Start: Abramowitz & Stegun 26.2.23 (absolute error < 4.5e-4) for the tail probability
    q = min(p, 1 - p), computed exactly in integers of 2^-54 (float arithmetic here may be
    reassociated: numba compiles a callee with its caller's fastmath flags); then two Halley
    steps on Phi(y) = q with Phi from erfc (cubic convergence: double precision, tested
    against scipy's ndtri).
    """
    k = np.int64(u * 9007199254740992.0)  # u * 2^53, exact on numpy's grid
    half_steps = 2 * k + 1 if k < 4503599627370496 else 2 * (9007199254740992 - k) - 1
    q = half_steps * 5.551115123125783e-17  # * 2^-54
    t = math.sqrt(-2.0 * math.log(q))
    y = -(t - (2.515517 + t * (0.802853 + t * 0.010328))
          / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))))
    for _ in range(2):
        e = 0.5 * math.erfc(-y / math.sqrt(2.0)) - q
        step = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * y * y)
        y -= step / (1.0 + 0.5 * y * step)
    return y if k < 4503599627370496 else -y


@njit
def _draw_snp_j(j, r_j, d, ve, old, mixture, snp_weights, var_scale_j, u, u_effect):
    """:func:`_draw_snp` for SNP j with the shared weights of ``mixture``, or with its own
    (row j of ``snp_weights``, :func:`snp_weight_terms`) when that is not None."""
    if snp_weights is None:
        return _draw_snp(r_j, d, ve, old, mixture, var_scale_j, u, u_effect)
    log_pi, comp_var, odds, _ = mixture
    n_comp = len(comp_var)
    return _draw_weighted(r_j, d, ve, old, _row_as_tuple(log_pi, snp_weights, j, 0), comp_var,
                          _row_as_tuple(odds, snp_weights, j, n_comp),
                          snp_weights[j, 2 * n_comp], snp_weights[j, 2 * n_comp + 1],
                          var_scale_j, u, u_effect)


@njit
def _sweep_range(lo, hi, is_band, ptr, cols, values, value_scale, s, xtx_diag, ridge, r, beta,
                 comp, mixture, snp_var_scale, vare, uniforms, effect_uniforms, counts, ssq,
                 snp_weights):
    """Sweep SNPs ``lo..hi-1`` in order; see :func:`sbayes_sweep` for the arguments.

    The LD is CSR (``is_band`` False: ``ptr, cols, values`` = indptr, indices, values) or the
    band layout of :func:`band_from_csr` (True: ``ptr, cols, values`` = row_ptr, first,
    band). ``counts[k]`` and ``ssq[k]`` are incremented (not reset): the number of SNPs that
    end in component k and their sum of ``beta_j^2 / snp_var_scale_j``. No stored LD entry may
    link a SNP of ``lo..hi-1`` with one outside (see :func:`sbayes_sweep_blocks`).

    A SNP whose effect is 0 is first put to the quick bound of :func:`_draw_snp` with its terms
    from :func:`quick_bound_table`, inline: most SNPs of a sparse architecture stay at zero
    there, with no call, no second uniform and no division but rhs's (the draws are the
    exact draw's; the 20,000-SNP GCTB-like band of ``benchmarks/sbayes_startup.py``, SBayesC:
    0.42 instead of 0.58-0.64 ms per sweep, of which ~0.3 ms is the residual updates).
    """
    scaled = _to_scaled(r, s, lo, hi)
    ratio, weight = quick_bound_table(mixture, snp_weights, xtx_diag, vare, snp_var_scale, lo,
                                      hi)
    quick = ratio.shape[0] > 0
    quick_zeros = 0
    for j in range(lo, hi):
        u = uniform_at(uniforms, j)
        r_j = scaled[j - lo] * s[j]
        if quick and beta[j] == 0.0 and _quickly_zero(r_j / per_snp(vare, j), ratio[j - lo],
                                                      weight[j - lo], u):
            beta[j], comp[j] = 0.0, 0  # the exact draw's; r does not change
            quick_zeros += 1
            continue
        chosen, new = _draw_snp_j(j, r_j, xtx_diag[j], per_snp(vare, j), beta[j], mixture,
                                  snp_weights, snp_var_scale[j], u,
                                  uniform_at(effect_uniforms, j))
        delta = new - beta[j]
        beta[j], comp[j] = new, chosen
        counts[chosen] += 1
        ssq[chosen] += new * new / snp_var_scale[j]
        if delta != 0.0:
            f = s[j] * delta * value_scale * (1.0 - ridge)
            if is_band:  # one contiguous axpy, which the compiler vectorises
                column = values[ptr[j]:ptr[j + 1]]
                target = scaled[cols[j] - lo:cols[j] - lo + column.shape[0]]
                for p in range(column.shape[0]):
                    target[p] -= column[p] * f
            else:
                for p in range(ptr[j], ptr[j + 1]):
                    scaled[cols[p] - lo] -= values[p] * f
            scaled[j - lo] -= ridge * xtx_diag[j] * delta / s[j]
    counts[0] += quick_zeros
    _from_scaled(scaled, s, r, lo)


@njit
def _to_scaled(r, s, lo, hi):
    """r_i / s_i for i in lo..hi-1: the residual in which a column update needs no s_i."""
    scaled = np.empty(hi - lo)
    for i in range(lo, hi):
        scaled[i - lo] = r[i] / s[i]
    return scaled


@njit
def _from_scaled(scaled, s, r, lo):
    """Write r_i = s_i scaled_{i-lo} back (inverse of :func:`_to_scaled`)."""
    for t in range(scaled.shape[0]):
        r[lo + t] = scaled[t] * s[lo + t]


@njit
def sbayes_sweep(indptr, indices, values, value_scale, s, xtx_diag, ridge, r, beta, comp, mixture,
                 snp_var_scale, vare, uniforms, effect_uniforms, snp_weights=None):
    """One Gibbs sweep over all SNPs in order, updating ``beta``, ``comp`` and ``r`` in place.

    Parameters
    ----------
    indptr, indices, values : arrays
        CSR arrays of the symmetric LD correlation matrix R (M x M).
    value_scale : float
        Multiplier decoding ``values`` to r (1.0 for float32, 1/32767 for int16).
    s : float64[M]
        sqrt(n_j); (X'X)_ij = s_i s_j R_ij on the standardised scale.
    xtx_diag : float64[M]
        (X'X)_jj = n_j R_jj.
    ridge : float
        lam of the module docstring (0 = R as stored).
    r : float64[M]
        X'y - X'X beta, kept up to date.
    beta : float64[M]
        Standardised effects (phenotype SD units per genotype SD).
    comp : int8/int64[M]
        Mixture component of each SNP (0 is usually the zero component).
    mixture : tuple
        :func:`mixture_terms` of the log prior probabilities log pi_k of the K components and
        their prior variances comp_var_k (0 = point mass at zero).
    snp_var_scale : float64[M]
        Per-SNP multiplier of ``comp_var`` (1 for C/R; H_j^(S+1) for S).
    vare : float64[M]
        Residual variance used for SNP j (sigma_e^2, or GCTB's sigma_e^2 + LDsamplVar_j
        sigma_g^2 when robust to LD sampling error).
    uniforms, effect_uniforms : float64[M]
        Two U[0, 1) draws per SNP: the first picks the component, the second gives the
        standard normal of a slab effect (:func:`normal_quantile`).
    snp_weights : None or float64[M, 2K + 2]
        Per-SNP mixture weights (:func:`snp_weight_terms`); when given, only the component
        variances of ``mixture`` are used.

    Returns
    -------
    counts : int64[K]
        Number of SNPs in each component after the sweep.
    ssq : float64[K]
        Sum of beta_j^2 / snp_var_scale_j over the SNPs of each component.
    """
    n_comp = len(mixture[0])
    counts = np.zeros(n_comp, np.int64)
    ssq = np.zeros(n_comp)
    _sweep_range(0, beta.shape[0], False, indptr, indices, values, value_scale, s, xtx_diag,
                 ridge, r, beta, comp, mixture, snp_var_scale, vare, uniforms, effect_uniforms,
                 counts, ssq, snp_weights)
    return counts, ssq


def sbayes_sweep_blocks(block_bounds, indptr, indices, values, value_scale, s, xtx_diag, ridge,
                        r, beta, comp, mixture, snp_var_scale, vare, uniforms, effect_uniforms,
                        snp_weights=None, *, threads: int | None = None):
    """:func:`sbayes_sweep` run in parallel threads over LD blocks that share no LD entry.

    ``block_bounds`` (int64[B+1]) splits the SNPs into contiguous blocks
    ``block_bounds[b]..block_bounds[b+1]-1``; the caller guarantees that no stored LD entry
    links two blocks (e.g. chromosomes, or the connected components returned by
    :func:`independent_blocks`). The blocks are grouped into ``threads`` (default: numba's
    thread count) contiguous runs of about equal numbers of stored LD entries, one run per
    thread (the numba sweep releases the GIL). The draws are identical to the serial sweep's.
    """
    import numba

    bounds = np.asarray(block_bounds, dtype=np.int64)
    runs = [(int(bounds[a]), int(bounds[b])) for a, b in
            balanced_runs(np.asarray(indptr)[bounds], threads or numba.get_num_threads())]

    def sweep_run(k, counts, ssq):
        lo, hi = runs[k]
        _sweep_range(lo, hi, False, indptr, indices, values, value_scale, s, xtx_diag, ridge, r,
                     beta, comp, mixture, snp_var_scale, vare, uniforms, effect_uniforms,
                     counts, ssq, snp_weights)

    return sweep_in_threads(len(runs), len(mixture[0]), sweep_run)


def balanced_runs(work, threads: int) -> list[tuple[int, int]]:
    """Cut units 0..len(work)-2 into at most ``threads`` contiguous runs (a, b) of about equal
    work, ``work`` being the cumulative work before each unit (len = units + 1)."""
    work = np.asarray(work)
    targets = np.linspace(work[0], work[-1], threads + 1)[1:-1]
    cuts = np.unique(np.r_[0, np.searchsorted(work, targets), len(work) - 1])
    return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def sweep_in_threads(n_runs: int, n_comp: int, sweep_run) -> tuple:
    """Call ``sweep_run(k, counts_k, ssq_k)`` for runs k = 0..n_runs-1 in parallel threads
    (the sweeps release the GIL; runs must share no state); the counts and ssq summed."""
    from concurrent.futures import ThreadPoolExecutor

    counts = np.zeros((n_runs, n_comp), np.int64)
    ssq = np.zeros((n_runs, n_comp))
    if n_runs == 1:
        sweep_run(0, counts[0], ssq[0])
    else:
        with ThreadPoolExecutor(max_workers=n_runs) as pool:
            list(pool.map(lambda k: sweep_run(k, counts[k], ssq[k]), range(n_runs)))
    return counts.sum(axis=0), ssq.sum(axis=0)


@njit
def _xtx_times(is_band, ptr, cols, values, value_scale, s, xtx_diag, ridge, beta):
    """(X'X_lam) beta over CSR or band LD (the layouts of :func:`_sweep_range`), visiting only
    the columns of nonzero ``beta`` (float64[M]).

    Accumulated, as the sweep's residual, divided by s_i, so that a band column is one
    contiguous axpy the compiler vectorises (gathering s_i per entry made it ~18x slower:
    1.4 ms against 0.07 ms for 60 nonzero columns of a 10,000-SNP band)."""
    m = beta.shape[0]
    scaled = np.zeros(m)
    for j in range(m):
        if beta[j] != 0.0:
            f = s[j] * beta[j] * value_scale * (1.0 - ridge)
            if is_band:
                column = values[ptr[j]:ptr[j + 1]]
                target = scaled[cols[j]:cols[j] + column.shape[0]]
                for p in range(column.shape[0]):
                    target[p] += column[p] * f
            else:
                for p in range(ptr[j], ptr[j + 1]):
                    scaled[cols[p]] += values[p] * f
    out = np.empty(m)
    for i in range(m):
        out[i] = s[i] * scaled[i] + ridge * xtx_diag[i] * beta[i]
    return out


@njit
def xtx_times(indptr, indices, values, value_scale, s, xtx_diag, ridge, beta):
    """(X'X_lam) beta with CSR LD, visiting only the columns of nonzero ``beta``."""
    return _xtx_times(False, indptr, indices, values, value_scale, s, xtx_diag, ridge, beta)


@njit
def independent_blocks(ptr, cols, is_band=False):
    """Split SNPs 0..M-1 into the finest contiguous blocks that no LD entry crosses.

    The LD is CSR (``ptr, cols`` = indptr, indices ascending within a row) or the band layout
    (``is_band``: row_ptr, first; :mod:`bayesmix.kernels.ld_band`, whose runs end at a stored
    entry). Returns int64 bounds ``b`` with blocks ``b[k]..b[k+1]-1``: a new block starts at j
    when no stored entry (i, l) has i < j <= l (the matrix is symmetric, so rows suffice).
    """
    m = ptr.shape[0] - 1
    far = 0  # 1 + the largest column index stored in rows 0..j-1
    bounds = [0]
    for j in range(m):
        if j > 0 and far <= j:
            bounds.append(j)
        if ptr[j + 1] > ptr[j]:
            last = cols[j] + ptr[j + 1] - ptr[j] - 1 if is_band else cols[ptr[j + 1] - 1]
            if last + 1 > far:
                far = last + 1
    bounds.append(m)
    return np.array(bounds, dtype=np.int64)


@njit
def row_ld_statistics(indptr, values, value_scale):
    """Per row j of an LD matrix: (sum_i r_ij^2, sum_i (1 - r_ij^2)^2) over stored entries
    (each row a reduction over its slice of ``values``, which vectorises)."""
    m = indptr.shape[0] - 1
    score = np.empty(m)
    samp = np.empty(m)
    for j in range(m):
        score[j], samp[j], _ = _run_sums(values[indptr[j]:indptr[j + 1]], value_scale)
    return score, samp


@njit
def summary_loglik(theta, indptr, indices, values, s, xty, xtx_diag, settings):
    """:func:`summary_loglik_of` with CSR LD."""
    return summary_loglik_of(False, theta, indptr, indices, values, s, xty, xtx_diag, settings)


@njit
def summary_loglik_band(theta, row_ptr, first, values, s, xty, xtx_diag, settings):
    """:func:`summary_loglik_of` with LD in the band layout (:mod:`bayesmix.kernels.ld_band`)."""
    return summary_loglik_of(True, theta, row_ptr, first, values, s, xty, xtx_diag, settings)


@njit
def summary_loglik_of(is_band, theta, ptr, cols, values, s, xty, xtx_diag, settings):
    """Summary-data log-likelihood and its gradient in one pass, over CSR or band LD (the
    layouts of :func:`_sweep_range`).

    ``theta = (beta_1..beta_M, sig2_e)`` (standardised effects, residual variance);
    ``settings = (value_scale, ridge, yty, nobs)``. With SSE = y'y - 2 beta'X'y +
    beta'X'X beta (X'X with the ridge of the module docstring),

        logp = -nobs/2 log(2 pi sig2_e) - SSE / (2 sig2_e),

    which with in-sample LD equals the individual-level Gaussian log-likelihood.
    Returns ``(logp, grad)`` with grad = ((X'y - X'X beta) / sig2_e, d logp / d sig2_e).
    """
    value_scale, ridge, yty, nobs = settings[0], settings[1], settings[2], settings[3]
    m = xty.shape[0]
    beta = theta[:m]
    sig2 = theta[m]
    xtxb = _xtx_times(is_band, ptr, cols, values, value_scale, s, xtx_diag, ridge, beta)
    bxty = 0.0
    quad = 0.0
    for j in range(m):
        bxty += beta[j] * xty[j]
        quad += beta[j] * xtxb[j]
    sse = yty - 2.0 * bxty + quad
    logp = -0.5 * nobs * math.log(2.0 * math.pi * sig2) - 0.5 * sse / sig2
    grad = np.empty(m + 1)
    for j in range(m):
        grad[j] = (xty[j] - xtxb[j]) / sig2
    grad[m] = -0.5 * nobs / sig2 + 0.5 * sse / (sig2 * sig2)
    return logp, grad


@njit
def upper_from_csr(indptr, indices, values):
    """Strict upper triangle of a symmetric CSR matrix: (row_ptr int64, offsets uint16, values).

    ``offsets`` are j - i (1..65535) of the entries (i, j), j > i, row by row; the diagonal is
    not kept (the sweeps take it from ``xtx_diag``). Raises if an offset exceeds 65535.
    """
    m = indptr.shape[0] - 1
    row_ptr = np.zeros(m + 1, np.int64)
    for i in range(m):
        count = 0
        for p in range(indptr[i], indptr[i + 1]):
            if indices[p] > i:
                count += 1
        row_ptr[i + 1] = row_ptr[i] + count
    offsets = np.empty(row_ptr[m], np.uint16)
    out = np.empty(row_ptr[m], values.dtype)
    for i in range(m):
        q = row_ptr[i]
        for p in range(indptr[i], indptr[i + 1]):
            if indices[p] > i:
                off = indices[p] - i
                if off > 65535:
                    raise ValueError("LD entry too far from the diagonal for 16-bit offsets")
                offsets[q] = off
                out[q] = values[p]
                q += 1
    return row_ptr, offsets, out


@njit
def sbayes_sweep_upper(row_ptr, offsets, values, value_scale, s, xtx_diag, ridge, r, beta, comp,
                       mixture, snp_var_scale, vare, uniforms, effect_uniforms, snp_weights=None):
    """:func:`sbayes_sweep` on the strict upper triangle of R (~2 bytes per nonzero of R with
    int16 values and uint16 offsets; see :func:`upper_from_csr`). Same draws.

    Row j holds the entries (j, i) for i > j, so when beta_j changes, r_i for the SNPs after j
    is updated at once (they are drawn later in this sweep) and r_j through the diagonal; the
    entries (i, j) with i < j (SNPs already drawn) are applied in one pass over the rows at the
    end of the sweep, which makes r = X'y - X'X beta exact again before anything reads it.
    Rows whose window contains no changed effect are skipped in that pass, and rows with few
    changes find their entries by bisection instead of scanning the row.
    """
    m = beta.shape[0]
    n_comp = len(mixture[0])
    counts = np.zeros(n_comp, np.int64)
    ssq = np.zeros(n_comp)
    change = np.zeros(m)
    changed = np.empty(m, np.int64)  # indices of the changed SNPs, ascending
    changed_before = np.zeros(m + 1, np.int64)  # number of changed SNPs among 0..k-1
    factor = value_scale * (1.0 - ridge)
    ratio, weight = quick_bound_table(mixture, snp_weights, xtx_diag, vare, snp_var_scale, 0, m)
    quick = ratio.shape[0] > 0
    for j in range(m):
        changed_before[j + 1] = changed_before[j]
        u = uniform_at(uniforms, j)
        if quick and beta[j] == 0.0 and _quickly_zero(r[j] / per_snp(vare, j), ratio[j],
                                                      weight[j], u):
            beta[j], comp[j] = 0.0, 0  # as in _sweep_range
            counts[0] += 1
            continue
        chosen, new = _draw_snp_j(j, r[j], xtx_diag[j], per_snp(vare, j), beta[j], mixture,
                                  snp_weights, snp_var_scale[j], u,
                                  uniform_at(effect_uniforms, j))
        delta = new - beta[j]
        beta[j], comp[j] = new, chosen
        counts[chosen] += 1
        ssq[chosen] += new * new / snp_var_scale[j]
        if delta != 0.0:
            change[j] = delta
            changed[changed_before[j]] = j
            changed_before[j + 1] += 1
            f = s[j] * delta * factor
            for p in range(row_ptr[j], row_ptr[j + 1]):
                i = j + np.int64(offsets[p])
                r[i] -= s[i] * values[p] * f
            r[j] -= xtx_diag[j] * delta
    for i in range(m):
        lo, hi = row_ptr[i], row_ptr[i + 1]
        if lo == hi:
            continue
        first = changed_before[i + 1]
        stop = changed_before[i + np.int64(offsets[hi - 1]) + 1]
        if first == stop:
            continue
        acc = 0.0
        if 16 * (stop - first) < hi - lo:
            # few changes in this row's window: find each one's entry by bisection
            for t in range(first, stop):
                j = changed[t]
                off = j - i
                a, b = lo, hi
                while a < b:
                    mid = (a + b) // 2
                    if np.int64(offsets[mid]) < off:
                        a = mid + 1
                    else:
                        b = mid
                if a < hi and np.int64(offsets[a]) == off:
                    acc += values[a] * s[j] * change[j]
        else:
            for p in range(lo, hi):
                j = i + np.int64(offsets[p])
                if change[j] != 0.0:
                    acc += values[p] * s[j] * change[j]
        r[i] -= s[i] * acc * factor
    return counts, ssq


@njit
def xtx_times_upper(row_ptr, offsets, values, value_scale, s, xtx_diag, ridge, beta):
    """(X'X_lam) beta from the strict upper triangle (:func:`upper_from_csr`)."""
    m = beta.shape[0]
    out = np.empty(m)
    for i in range(m):
        out[i] = xtx_diag[i] * beta[i]
    factor = value_scale * (1.0 - ridge)
    for i in range(m):
        for p in range(row_ptr[i], row_ptr[i + 1]):
            j = i + np.int64(offsets[p])
            v = values[p] * factor * s[i] * s[j]
            out[i] += v * beta[j]
            out[j] += v * beta[i]
    return out


@njit
def band_size(indptr, indices):
    """Values a band layout of this CSR matrix holds: sum over rows of (last - first column + 1)."""
    total = 0
    for j in range(indptr.shape[0] - 1):
        if indptr[j + 1] > indptr[j]:
            total += indices[indptr[j + 1] - 1] - indices[indptr[j]] + 1
    return total


@njit
def band_from_csr(indptr, indices, values):
    """Each row of a CSR matrix as one contiguous run of columns: (first, row_ptr, band).

    Row j holds the values of columns ``first[j] .. first[j] + row_ptr[j+1] - row_ptr[j] - 1``
    in ``band[row_ptr[j]:row_ptr[j+1]]`` (entries not stored inside that run are 0), so column
    indices are implicit: 2 bytes per value with int16, like GCTB's band/full ``.bin`` rows.
    For window, band, shrunk or full LD the runs have (almost) no gaps, see :func:`band_size`.
    """
    m = indptr.shape[0] - 1
    first = np.zeros(m, np.int64)
    row_ptr = np.zeros(m + 1, np.int64)
    for j in range(m):
        length = 0
        if indptr[j + 1] > indptr[j]:
            first[j] = indices[indptr[j]]
            length = indices[indptr[j + 1] - 1] - first[j] + 1
        else:
            first[j] = j
        row_ptr[j + 1] = row_ptr[j] + length
    band = np.zeros(row_ptr[m], values.dtype)
    for j in range(m):
        for p in range(indptr[j], indptr[j + 1]):
            band[row_ptr[j] + indices[p] - first[j]] = values[p]
    return first, row_ptr, band


@njit
def sbayes_sweep_band(first, row_ptr, band, value_scale, s, xtx_diag, ridge, r, beta, comp,
                      mixture, snp_var_scale, vare, uniforms, effect_uniforms, snp_weights=None):
    """:func:`sbayes_sweep` on the band layout of :func:`band_from_csr` (same arguments after
    the three LD arrays, same draws: the band's zeros leave r unchanged)."""
    n_comp = len(mixture[0])
    counts = np.zeros(n_comp, np.int64)
    ssq = np.zeros(n_comp)
    _sweep_range(0, beta.shape[0], True, row_ptr, first, band, value_scale, s, xtx_diag, ridge,
                 r, beta, comp, mixture, snp_var_scale, vare, uniforms, effect_uniforms, counts,
                 ssq, snp_weights)
    return counts, ssq


@njit
def xtx_times_band(first, row_ptr, band, value_scale, s, xtx_diag, ridge, beta):
    """:func:`xtx_times` on the band layout of :func:`band_from_csr`."""
    return _xtx_times(True, row_ptr, first, band, value_scale, s, xtx_diag, ridge, beta)


#: a pair of nonzero effects read by :func:`band_quadratic_form` costs about as much as this
#: many values of a column streamed by the product (an indexed read against a vectorised one)
PAIR_COST = 4


@njit
def band_quadratic_form(first, row_ptr, band, value_scale, s, xtx_diag, ridge, beta):
    """beta'(X'X_lam)beta on the band layout of :func:`band_from_csr`, reading only the
    stored entries between two nonzero effects (pairs within a run): O(pairs) instead of the
    whole columns that ``beta @ xtx_times_band(...)`` streams, which it equals up to rounding
    and to which it falls back when the pairs would cost more (most effects nonzero).

    beta'X'X_lam beta = (1 - lam) sum_ij s_i beta_i R_ij s_j beta_j
    + lam sum_i (X'X)_ii beta_i^2.
    """
    nonzero = np.flatnonzero(beta)
    lengths = row_ptr[nonzero + 1] - row_ptr[nonzero]
    lo = np.searchsorted(nonzero, first[nonzero])
    hi = np.searchsorted(nonzero, first[nonzero] + lengths)
    if PAIR_COST * (hi - lo).sum() > lengths.sum():
        return beta @ _xtx_times(True, row_ptr, first, band, value_scale, s, xtx_diag, ridge,
                                 beta)
    pairs = 0.0
    diagonal = 0.0
    for a in range(nonzero.shape[0]):
        i = nonzero[a]
        base = row_ptr[i] - first[i]
        acc = 0.0
        for b in range(lo[a], hi[a]):
            j = nonzero[b]
            acc += np.float64(band[base + j]) * s[j] * beta[j]
        pairs += s[i] * beta[i] * acc
        diagonal += xtx_diag[i] * beta[i] * beta[i]
    return (1.0 - ridge) * value_scale * pairs + ridge * diagonal


@njit
def effect_products(beta, xty, r):
    """(beta'X'y, beta'r) in one pass over the non-zero effects.

    GenVar = (beta'X'y - beta'r) / nobs and SSE = y'y - beta'X'y - beta'r. A plain loop: BLAS
    dot products of this size pay thread wake-ups of up to milliseconds on a busy machine.
    """
    bxty = 0.0
    br = 0.0
    for j in range(beta.shape[0]):
        if beta[j] != 0.0:
            bxty += beta[j] * xty[j]
            br += beta[j] * r[j]
    return bxty, br
