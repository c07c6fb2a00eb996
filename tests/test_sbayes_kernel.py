"""The SBayes sparse-LD sweep against a slow dense reference on random inputs.

The sweeps are called as the samplers call them (:mod:`bayesmix.inference.sbayes_gibbs`):
the keys of the random streams, one residual variance for every SNP, int64 component labels,
read-only slab factors, ``snp_weights`` given (None or a table) and the priors' K of 2 (C, S)
or 5 (GCTB's SBayesR), so that the tests run the signatures the samplers compile (each
combination of argument types is compiled anew: ~1.3 s on a fresh checkout); the dense
reference reads the same numbers as arrays (:func:`production_draws`).
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import ndtri

from bayesmix.kernels.random import sweep_streams, sweep_uniforms
from bayesmix.kernels.sbayes import (band_from_csr, band_quadratic_form, band_size,
                                     independent_blocks, mixture_terms,
                                     sbayes_sweep,
                                     sbayes_sweep_band, sbayes_sweep_blocks, xtx_times,
                                     xtx_times_band)


def random_ld(rng, m, n_ref=60, threshold=0.15, n_blocks=1):
    """A sparse symmetric LD-like matrix: correlations of random genotypes, small |r| dropped."""
    blocks = []
    for size in np.array_split(np.arange(m), n_blocks):
        x = rng.binomial(2, rng.uniform(0.1, 0.5, size.size), size=(n_ref, size.size)).astype(float)
        x[:, 1:] += 0.8 * x[:, :-1]  # local LD
        r = np.corrcoef(x, rowvar=False)
        r[np.abs(r) < threshold] = 0.0
        blocks.append(r)
    return sp.csr_matrix(sp.block_diag([sp.csr_array(b) for b in blocks], format="csr"))


def production_draws(seed, m):
    """A sweep's random numbers: the keys of the streams the kernels read
    (:func:`~bayesmix.kernels.random.sweep_streams`), and the same numbers as arrays for the
    dense reference, (component uniforms, standard normals of the slab effects), from
    :func:`~bayesmix.kernels.random.sweep_uniforms` of an identical generator (the two agree:
    test_streams_and_a_shared_residual_variance_give_the_array_draws)."""
    keys = sweep_streams(np.random.default_rng(seed), m)
    u, u_effect = sweep_uniforms(np.random.default_rng(seed), m)
    return keys, u, kernel_normal(u_effect)


def kernel_normal(u_effect):
    """The standard normal the kernels make of a uniform (normal_quantile of u + 2^-54)."""
    return np.where(u_effect < 0.5, ndtri(u_effect + 2.0**-54), -ndtri((1 - u_effect) - 2.0**-54))


def read_only(values):
    """A read-only float64 copy (the samplers' slab factors are read-only arrays)."""
    out = np.array(values, dtype=np.float64)
    out.flags.writeable = False
    return out


def reference_sweep(R, s, r, beta, comp, pi, comp_var, snp_var_scale, vare, u, z, ridge=0.0):
    """Dense, obviously-correct single-site Gibbs sweep (same random numbers); ``pi`` (K,)
    shared or (M, K) per SNP."""
    XtX = np.outer(s, s) * ((1 - ridge) * R + ridge * np.diag(np.diag(R)))
    beta, comp, r = beta.copy(), comp.copy(), r.copy()
    k_max = np.shape(pi)[-1]
    counts = np.zeros(k_max, int)
    ssq = np.zeros(k_max)
    for j in range(len(beta)):
        pi_j = pi[j] if np.ndim(pi) == 2 else pi
        rhs = (r[j] + XtX[j, j] * beta[j]) / vare[j]
        w = np.empty(k_max)
        for k in range(k_max):
            v = comp_var[k] * snp_var_scale[j]
            if v > 0:
                lhs = XtX[j, j] / vare[j] + 1 / v
                # marginal likelihood ratio vs beta = 0: N(0, v) prior integrated out
                w[k] = pi_j[k] * math.sqrt(1 / (v * lhs)) * math.exp(rhs**2 / (2 * lhs))
            else:
                w[k] = pi_j[k]
        cdf = np.cumsum(w / w.sum())
        k = int(np.searchsorted(cdf, u[j], side="right"))
        k = min(k, k_max - 1)
        v = comp_var[k] * snp_var_scale[j]
        if v > 0:
            lhs = XtX[j, j] / vare[j] + 1 / v
            new = rhs / lhs + math.sqrt(1 / lhs) * z[j]
            ssq[k] += new**2 / snp_var_scale[j]
        else:
            new = 0.0
        r -= XtX[:, j] * (new - beta[j])
        beta[j], comp[j] = new, k
        counts[k] += 1
    return beta, comp, r, counts, ssq


def encode(R, dtype):
    if dtype == "float32":
        return R.indptr, R.indices.astype(np.int32), R.data.astype(np.float32), 1.0
    q = np.round(R.data * 32767).astype(np.int16)
    return R.indptr, R.indices.astype(np.int32), q, 1.0 / 32767


@pytest.mark.parametrize("layout", ["csr", "band"])
@pytest.mark.parametrize("ridge", [0.0, 0.3])
@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("prior", ["C", "R", "S"])
def test_sweep_matches_dense_reference(dtype, prior, ridge, layout):
    """One sweep of the CSR kernel, or of the band kernel (implicit column indices; the
    thresholded rows have gaps, held as zeros), against the dense reference."""
    rng = np.random.default_rng(7)
    m = 40
    R = random_ld(rng, m)
    indptr, indices, values, scale = encode(R, dtype)
    sweep, product, arrays = sbayes_sweep, xtx_times, (indptr, indices, values)
    if layout == "band":
        sweep, product, arrays = sbayes_sweep_band, xtx_times_band, band_from_csr(*arrays)
        assert len(arrays[2]) == band_size(indptr, indices) > len(values)  # gaps held as zeros
    Rd = sp.csr_matrix((values.astype(np.float64) * scale, indices, indptr), shape=(m, m)).toarray()
    n = rng.integers(5_000, 20_000, m).astype(float)
    s = np.sqrt(n)
    if prior == "R":
        pi = np.array([0.55, 0.2, 0.15, 0.07, 0.03])
        comp_var = np.array([0.0, 1e-5, 1e-4, 1e-3, 1e-2])
    else:
        pi = np.array([0.7, 0.3])
        comp_var = np.array([0.0, 2e-3])
    h = 2 * rng.uniform(0.05, 0.5, m) * (1 - rng.uniform(0.05, 0.5, m))
    snp_var_scale = read_only(h ** (1 - 0.5) if prior == "S" else np.ones(m))
    b_true = np.where(rng.random(m) < 0.2, rng.normal(0, 0.05, m), 0.0)
    xty = (np.outer(s, s) * Rd) @ b_true + s * rng.normal(size=m)
    beta = np.where(rng.random(m) < 0.3, rng.normal(0, 0.03, m), 0.0)
    comp = np.where(beta != 0, len(pi) - 1, 0)
    xtx = np.outer(s, s) * ((1 - ridge) * Rd + ridge * np.diag(np.diag(Rd)))
    r = xty - xtx @ beta
    diag = n * Rd.diagonal()

    def sweep_against_reference(vare, kernel_draws, u, z):
        exp = reference_sweep(Rd, s, r, beta, comp, pi, comp_var, snp_var_scale,
                              np.broadcast_to(vare, m), u, z, ridge)
        got_beta, got_comp, got_r = beta.copy(), comp.copy(), r.copy()
        counts, ssq = sweep(*arrays, scale, s, diag, ridge, got_r, got_beta, got_comp,
                            mixture_terms(np.log(pi), comp_var), snp_var_scale, vare,
                            *kernel_draws, None)
        np.testing.assert_array_equal(got_comp, exp[1])
        np.testing.assert_allclose(got_beta, exp[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got_r, exp[2], rtol=1e-9, atol=1e-7)
        np.testing.assert_array_equal(counts, exp[3])
        np.testing.assert_allclose(ssq, exp[4], rtol=1e-9)
        return got_beta, got_r

    keys, u, z = production_draws(17, m)
    got_beta, got_r = sweep_against_reference(rng.uniform(0.8, 1.0), keys, u, z)
    # the kept residual equals X'y - X'X beta recomputed from scratch
    recomputed = xty - product(*arrays, scale, s, diag, ridge, got_beta)
    np.testing.assert_allclose(got_r, recomputed, rtol=1e-9, atol=1e-7)
    if dtype == "int16" and prior == "C":
        # a residual variance per SNP and the uniforms as arrays, which the kernels also take
        # (in the signature test_streams_and_a_shared_residual_variance_give_the_array_draws
        # compiles)
        arrays_of_draws = sweep_uniforms(np.random.default_rng(29), m)
        sweep_against_reference(rng.uniform(0.8, 1.0, m), arrays_of_draws, arrays_of_draws[0],
                                kernel_normal(arrays_of_draws[1]))


@pytest.mark.parametrize("share_nonzero", [0.01, 0.05, 1.0])   # 1.0: streams whole columns
@pytest.mark.parametrize("ridge", [0.0, 0.3])
@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_band_quadratic_form_equals_the_dense_one(dtype, ridge, share_nonzero):
    """beta'X'X_lam beta from the pairs of nonzero effects (or, with most effects nonzero, the
    product it falls back to) against the dense form, over independent blocks of thresholded
    LD whose band rows hold gaps (zeros)."""
    rng = np.random.default_rng(11)
    m = 600
    R = random_ld(rng, m, threshold=0.05, n_blocks=3)
    indptr, indices, values, scale = encode(R, dtype)
    Rd = sp.csr_matrix((values.astype(np.float64) * scale, indices, indptr), shape=(m, m)).toarray()
    s = np.sqrt(rng.integers(5_000, 20_000, m).astype(float))
    xtx = np.outer(s, s) * ((1 - ridge) * Rd + ridge * np.diag(np.diag(Rd)))
    beta = np.where(rng.random(m) < share_nonzero, rng.normal(0, 0.03, m), 0.0)
    beta[[0, m - 1]] = 0.02                    # the first and last SNP among the nonzero ones
    got = band_quadratic_form(*band_from_csr(indptr, indices, values), scale, s,
                              s * s * Rd.diagonal(), ridge, beta)
    assert got == pytest.approx(beta @ xtx @ beta, rel=1e-12)


@pytest.mark.parametrize("layout", ["csr", "band", "upper"])
def test_per_snp_weights_sweep_matches_dense_reference(layout):
    """Per-SNP mixture weights (a composed prior, :func:`snp_weight_terms`) in every LD
    layout's sweep against the dense reference, a few SNPs with a near-certain spike (the
    zero shortcut) and a few with almost no spike weight."""
    from bayesmix.kernels.sbayes import sbayes_sweep_upper, snp_weight_terms, upper_from_csr

    rng = np.random.default_rng(21)
    m = 60
    R = random_ld(rng, m)
    indptr, indices, values, scale = encode(R, "int16")
    arrays = {"csr": (indptr, indices, values), "band": band_from_csr(indptr, indices, values),
              "upper": upper_from_csr(indptr, indices, values)}[layout]
    sweep = {"csr": sbayes_sweep, "band": sbayes_sweep_band, "upper": sbayes_sweep_upper}[layout]
    Rd = sp.csr_matrix((values.astype(np.float64) * scale, indices, indptr), shape=(m, m)).toarray()
    n = rng.integers(5_000, 20_000, m).astype(float)
    s = np.sqrt(n)
    comp_var = np.array([0.0, 1e-4, 0.0, 1e-3, 1e-2])  # a second point mass among them
    pi = rng.dirichlet(np.ones(5), size=m)
    pi[:5] = [0.999, 0.0004, 0.0003, 0.0002, 0.0001]
    pi[5:10] = [1e-6, 0.3, 0.3, 0.2, 0.2 - 1e-6]
    xty = s * rng.normal(size=m) * 3
    beta = np.where(rng.random(m) < 0.3, rng.normal(0, 0.03, m), 0.0)
    comp = np.where(beta != 0, 4, 0)
    xtx = np.outer(s, s) * Rd
    r = xty - xtx @ beta
    vare = rng.uniform(0.8, 1.0)
    snp_var_scale = read_only(rng.uniform(0.5, 2.0, m))
    keys, u, z = production_draws(23, m)
    exp = reference_sweep(Rd, s, r, beta, comp, pi, comp_var, snp_var_scale, np.full(m, vare),
                          u, z)
    table = snp_weight_terms(np.log(pi), comp_var)
    odds = pi / pi[:, :1]  # the table's columns, written out
    np.testing.assert_allclose(table, np.column_stack([
        np.log(pi), odds, odds[:, 1] / np.sqrt(1e-4) + odds[:, 3] / np.sqrt(1e-3)
        + odds[:, 4] / np.sqrt(1e-2), odds[:, 2]]), rtol=1e-12)
    got_beta, got_comp, got_r = beta.copy(), comp.copy(), r.copy()
    counts, ssq = sweep(*arrays, scale, s, n * Rd.diagonal(), 0.0, got_r, got_beta, got_comp,
                        mixture_terms(np.log(pi[0]), comp_var), snp_var_scale, vare, *keys,
                        table)
    np.testing.assert_array_equal(got_comp, exp[1])
    np.testing.assert_allclose(got_beta, exp[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_r, exp[2], rtol=1e-9, atol=1e-7)
    np.testing.assert_array_equal(counts, exp[3])
    np.testing.assert_allclose(ssq, exp[4], rtol=1e-9)
    assert len(set(exp[1])) > 2  # several components drawn


def test_block_parallel_sweep_equals_serial():
    rng = np.random.default_rng(3)
    m = 90
    R = random_ld(rng, m, n_blocks=3)
    indptr, indices, values, scale = encode(R, "int16")
    bounds = independent_blocks(indptr, indices)
    assert bounds[0] == 0 and bounds[-1] == m and np.isin([30, 60], bounds).all()
    # no stored entry crosses a block boundary
    rows = np.repeat(np.arange(m), np.diff(indptr))
    blk = np.searchsorted(bounds, np.arange(m), side="right")
    assert (blk[rows] == blk[indices]).all()
    n = np.full(m, 10_000.0)
    s = np.sqrt(n)
    xty = s * rng.normal(size=m) * 3
    args = dict(pi=np.array([0.8, 0.2]), comp_var=np.array([0.0, 1e-3]))
    out = []
    for parallel in (False, True):
        beta, comp, r = np.zeros(m), np.zeros(m, np.int64), xty.copy()
        r_rng = np.random.default_rng(11)
        for _ in range(3):
            common = (indptr, indices, values, scale, s, n * 1.0, 0.0, r, beta, comp,
                      mixture_terms(np.log(args["pi"]), args["comp_var"]), read_only(np.ones(m)),
                      1.0, *sweep_streams(r_rng, m), None)
            res = sbayes_sweep_blocks(bounds, *common, threads=3) if parallel else sbayes_sweep(*common)
        out.append((beta, comp, r, res))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    np.testing.assert_array_equal(out[0][3][0], out[1][3][0])


@pytest.mark.parametrize("dtype,null_weight", [("float32", 0.7), ("int16", 0.7), ("int16", 0.995)])
def test_upper_triangle_sweep_equals_csr_sweep(dtype, null_weight):
    """The 2-bytes-per-nonzero upper-triangle sweep makes the same draws as the CSR sweep
    (many changed effects: rows are scanned; few: entries are found by bisection)."""
    from bayesmix.kernels.sbayes import sbayes_sweep_upper, upper_from_csr, xtx_times_upper

    rng = np.random.default_rng(12)
    m = 400
    R = random_ld(rng, m, n_blocks=2, threshold=0.05)
    indptr, indices, values, scale = encode(R, dtype)
    row_ptr, offsets, upper = upper_from_csr(indptr, indices, values)
    assert offsets.dtype == np.uint16 and upper.dtype == values.dtype
    assert 2 * len(upper) + m == len(values)  # strict upper triangle + diagonal = whole matrix
    n = rng.integers(5_000, 20_000, m).astype(float)
    s = np.sqrt(n)
    diag = n * R.diagonal()
    xty = s * rng.normal(size=m) * 4
    log_pi, comp_var = np.log([null_weight, 1 - null_weight]), np.array([0.0, 5e-4])
    states = []
    for sweep in (sbayes_sweep, sbayes_sweep_upper):
        arrays = (indptr, indices, values) if sweep is sbayes_sweep else (row_ptr, offsets, upper)
        beta, comp, r = np.zeros(m), np.zeros(m, np.int64), xty.copy()
        draws = np.random.default_rng(5)
        for _ in range(4):
            out = sweep(*arrays, scale, s, diag, 0.1, r, beta, comp, mixture_terms(log_pi, comp_var),
                        read_only(np.ones(m)), 0.9, *sweep_streams(draws, m), None)
        states.append((beta, comp, r, out))
    np.testing.assert_array_equal(states[0][1], states[1][1])
    np.testing.assert_allclose(states[0][0], states[1][0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(states[0][2], states[1][2], rtol=1e-9, atol=1e-7)
    np.testing.assert_array_equal(states[0][3][0], states[1][3][0])
    beta = states[1][0]
    np.testing.assert_allclose(xtx_times_upper(row_ptr, offsets, upper, scale, s, diag, 0.1, beta),
                               xtx_times(indptr, indices, values, scale, s, diag, 0.1, beta),
                               rtol=1e-10, atol=1e-8)


def test_zero_shortcut_only_fires_when_the_exact_draw_is_zero():
    """The log/exp-free shortcut of the per-SNP draw returns component 0 (a point mass) only
    when the exact probability of component 0 exceeds the uniform (brute-force p_0 from the
    mixture weights), over random SNP inputs from the regime where it fires to far outside;
    every draw equals the exact draw's (shortcut disabled by a tiny variance for component 0)."""
    from bayesmix.kernels.sbayes import _draw_exact, _draw_snp

    rng = np.random.default_rng(21)
    fired = 0
    for _ in range(20_000):
        k = rng.integers(2, 6)
        pi = rng.dirichlet(np.r_[20.0, np.ones(k - 1)])
        comp_var = np.r_[0.0, np.sort(rng.uniform(1e-6, 1e-2, k - 1))]
        d, ve = rng.uniform(1e3, 1e6), rng.uniform(0.3, 5.0)
        var_scale = rng.uniform(0.2, 2.0)
        rhs = rng.normal(0, 1) * np.sqrt(d) / ve * rng.choice([0.01, 0.1, 1, 3])
        u, z = rng.random(), rng.random()
        v = comp_var[1:] * var_scale
        il = 1 / (d / ve + 1 / v)
        weights = np.r_[pi[0], pi[1:] * np.sqrt(il / v) * np.exp(0.5 * rhs**2 * il)]
        p0 = weights[0] / weights.sum()
        got = _draw_snp(rhs * ve, d, ve, 0.0, mixture_terms(np.log(pi), comp_var), var_scale, u, z)
        exact = _draw_exact(rhs, d, ve, tuple(np.log(pi)), tuple(comp_var), var_scale, u, z)
        assert got[0] == exact[0] and got[1] == pytest.approx(exact[1], rel=1e-12, abs=1e-15)
        assert (got[0] == 0) == (u < p0)
        fired += got[0] == 0
    assert fired > 5_000  # not vacuous


def test_normal_quantile_matches_scipy_to_double_precision():
    """The kernels' standard normal quantile of u + 2^-54 against scipy's ndtri, over the
    bulk, both tails and the extreme uniforms numpy can draw (0 and 1 - 2^-53)."""
    from bayesmix.kernels.sbayes import normal_quantile

    rng = np.random.default_rng(2)
    u = np.r_[rng.random(20_000), 10.0 ** -rng.uniform(1, 16, 2_000),
              1 - 10.0 ** -rng.uniform(1, 15, 2_000), 0.0, 0.5, 1 - 2.0**-53, 2.0**-53]
    u = np.floor(u * 2**53) / 2**53  # uniforms on numpy's grid, in [0, 1)
    got = np.array([normal_quantile(x) for x in u])
    upper = u >= 0.5  # p = u + 2^-54 in double precision rounds; use its exact tail
    expect = np.where(upper, -ndtri(np.where(upper, (1 - u) - 2.0**-54, 0.5)), ndtri(u + 2.0**-54))
    np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-13)
    assert np.isfinite(got).all()


def test_mixture_terms_are_the_priors_odds_and_bounds():
    """mixture_terms against its definition in numpy: odds_k = pi_k / pi_0 and the quick
    bound's two sums (slabs: odds / sqrt(variance); point masses: odds)."""
    rng = np.random.default_rng(5)
    for k in (2, 3, 4, 6):
        for _ in range(20):
            pi = rng.dirichlet(np.ones(k))
            comp_var = np.where(rng.random(k) < 0.3, 0.0, rng.uniform(1e-5, 1e-2, k))
            log_pi, var, odds, (slab, point) = mixture_terms(np.log(pi), comp_var)
            assert np.allclose(log_pi, np.log(pi), rtol=0, atol=0)
            assert var == tuple(comp_var)
            assert np.allclose(odds, pi / pi[0], rtol=1e-14)
            is_slab = comp_var[1:] > 0
            assert math.isclose(slab, np.sum(pi[1:][is_slab] / pi[0]
                                              / np.sqrt(comp_var[1:][is_slab])), rel_tol=1e-13)
            assert math.isclose(point, np.sum(pi[1:][~is_slab] / pi[0]), rel_tol=1e-13,
                                abs_tol=1e-300)
    # weights beyond the float range of their ratio: inf, as numpy's exp gives
    _, _, odds, (slab, point) = mixture_terms([-800.0, 0.0, -np.inf], [0.0, 1e-3, 0.0])
    assert odds == (1.0, np.inf, 0.0) and slab == np.inf and point == 0.0


@pytest.mark.parametrize("per_snp_weights", [False, True])
@pytest.mark.parametrize("shared_vare", [False, True])
def test_quick_bound_table_is_the_bounds_terms(per_snp_weights, shared_vare):
    """quick_bound_table against its definition in numpy: ratio_j = ve_j / d_j and weight_j =
    (slab odds sum) sqrt(ratio_j / var_scale_j) + (point-mass odds sum), with the sums shared
    (mixture_terms) or SNP j's (columns 2K and 2K + 1 of snp_weight_terms), over SNPs lo..hi-1;
    empty when component 0 is not a point mass."""
    from bayesmix.kernels.sbayes import quick_bound_table, snp_weight_terms

    rng = np.random.default_rng(11)
    m, lo, hi = 50, 7, 41
    comp_var = np.array([0.0, 1e-4, 0.0, 1e-2])
    mixture = mixture_terms(np.log([0.7, 0.1, 0.05, 0.15]), comp_var)
    xtx_diag, var_scale = rng.uniform(1e3, 1e5, m), rng.uniform(0.2, 2.0, m)
    vare = 0.8 if shared_vare else rng.uniform(0.5, 1.0, m)
    table = None
    over_sd, point_masses = np.full(m, mixture[3][0]), np.full(m, mixture[3][1])
    if per_snp_weights:
        log_w = np.log(rng.dirichlet(np.ones(4), m))
        table = snp_weight_terms(log_w, comp_var)
        odds = np.exp(log_w - log_w[:, :1])
        over_sd = odds[:, 1] / np.sqrt(1e-4) + odds[:, 3] / np.sqrt(1e-2)
        point_masses = odds[:, 2]
    ratio, weight = quick_bound_table(mixture, table, xtx_diag, vare, var_scale, lo, hi)
    expect_ratio = (np.broadcast_to(vare, m) / xtx_diag)[lo:hi]
    np.testing.assert_allclose(ratio, expect_ratio, rtol=1e-15)
    np.testing.assert_allclose(weight, over_sd[lo:hi] * np.sqrt(expect_ratio / var_scale[lo:hi])
                               + point_masses[lo:hi], rtol=1e-13)
    slab_first = mixture_terms(np.log([0.5, 0.5]), np.array([1e-3, 1e-2]))
    assert all(len(a) == 0 for a in quick_bound_table(slab_first, None, xtx_diag, vare,
                                                     var_scale, lo, hi))



@pytest.mark.parametrize("layout", ["csr", "band", "upper", "blocks"])
def test_streams_and_a_shared_residual_variance_give_the_array_draws(layout):
    """The sweeps read their uniforms from the keys of the counter-based streams
    (:func:`~bayesmix.kernels.random.sweep_streams`) and one residual variance for every SNP
    exactly as from the arrays of :func:`~bayesmix.kernels.random.sweep_uniforms` (drawn
    from the same generator) and an array filled with it: the same states, bit for bit,
    over four sweeps."""
    from bayesmix.kernels.sbayes import sbayes_sweep_upper, upper_from_csr

    rng = np.random.default_rng(21)
    m = 300
    R = random_ld(rng, m, n_blocks=3, threshold=0.05)
    indptr, indices, values, scale = encode(R, "int16")
    arrays, sweep = (indptr, indices, values), sbayes_sweep
    if layout == "band":
        arrays, sweep = band_from_csr(*arrays), sbayes_sweep_band
    elif layout == "upper":
        arrays, sweep = upper_from_csr(*arrays), sbayes_sweep_upper
    elif layout == "blocks":
        bounds = independent_blocks(indptr, indices)
        sweep = lambda *a: sbayes_sweep_blocks(bounds, *a, threads=2)  # noqa: E731
    n = rng.integers(5_000, 20_000, m).astype(float)
    s, diag = np.sqrt(n), n * R.diagonal()
    xty = s * rng.normal(size=m) * 4
    mixture = mixture_terms(np.log([0.9, 0.1]), np.array([0.0, 5e-4]))
    states = []
    for streams in (False, True):
        beta, comp, r = np.zeros(m), np.zeros(m, np.int64), xty.copy()
        draws = np.random.default_rng(5)
        for _ in range(4):
            u = sweep_streams(draws, m) if streams else sweep_uniforms(draws, m)
            vare = 0.9 if streams else np.full(m, 0.9)
            out = sweep(*arrays, scale, s, diag, 0.1, r, beta, comp, mixture,
                        read_only(np.ones(m)), vare, u[0], u[1], None)
        assert np.count_nonzero(beta) > 5
        states.append((beta, comp, r, *out))
    for a, b in zip(*states):
        np.testing.assert_array_equal(a, b)
