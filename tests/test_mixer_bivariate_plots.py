"""Bivariate MiXeR figures: the conditional Q-Q curves (data points, model tails and their
bivariate normal kernel) and the pi12 profile, each against an independent computation."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate, special, stats

from bayesmix.inference.mle import fit_univariate
from bayesmix.inference.mle_bivariate import (LR_DROP_95, _lr_interval, fit_bivariate,
                                              overlap_params, profile_pi12)
from bayesmix.kernels import mixer_bivariate as kern
from bayesmix.kernels import mixer_bivariate_tails as tails
from bayesmix.plots import bivariate as bplots
from bayesmix.prepare.mixer_data import BivariateData, MixerData
from bayesmix.simulate.effects import mixer_bivariate_effects

# pi1, pi2, pi12, sig2_beta1, sig2_beta2, rho12, sig2_zero1, sig2_zero2, rho0
PARAMS = np.array([0.02, 0.015, 0.02, 2e-5, 3e-5, 0.7, 1.05, 1.1, 0.2])


# ---------------------------------------------------------------------------------------------
# bivariate normal tails against adaptive quadrature
# ---------------------------------------------------------------------------------------------
def _upper_by_quad(h, k, r):
    """P(X > h, Y > k) = int_h^inf phi(x) P(Y > k | x) dx, split at the kink x = k / r."""
    sr = math.sqrt((1 - r) * (1 + r))

    def f(x):
        return stats.norm.pdf(x) * special.ndtr((r * x - k) / sr)

    def quad(a, b):
        return integrate.quad(f, a, b, epsabs=0, epsrel=1e-13, limit=500)[0]

    if r != 0 and h < k / r < h + 40:
        return quad(h, k / r) + quad(k / r, np.inf)
    return quad(h, np.inf)


def _random_bvn_points(rng, n):
    """(h, k, r) over the plotted range, with correlations near 0 and near +-1 and h ~ k."""
    for _ in range(n):
        h, k = rng.uniform(0, 12), rng.uniform(0, 7)
        if rng.random() < 0.5:
            r = rng.uniform(-1, 1)
        else:
            r = rng.choice([-1, 1]) * (1 - 10 ** rng.uniform(-6, -0.3))
        if rng.random() < 0.15:
            k = abs(min(h, 7) + rng.normal() * 10 ** rng.uniform(-6, -1))
        yield h, k, r


def test_bvn_upper_matches_quadrature():
    rng = np.random.default_rng(0)
    for h, k, r in _random_bvn_points(rng, 400):
        got = tails.bvn_upper(h, k, r, tails.GL_X, tails.GL_W)
        # relative to U(h, k; |r|): the size of P(|X| > h, |Y| > k) this term enters
        scale = _upper_by_quad(h, k, abs(r))
        assert abs(got - _upper_by_quad(h, k, r)) <= 1e-8 * scale, (h, k, r)


def test_bvn_upper_within_the_frechet_bounds_far_in_the_tails():
    """Beyond the range checked against quadrature (12 < h, k < 40, |r| near 1), where the
    terms of the integration from r = +-1 cancel or overflow, U stays within its bounds
    0 <= U <= min(Phi(-h), Phi(-k)) (it was NaN or above the bound before)."""
    rng = np.random.default_rng(4)
    for _ in range(2000):
        h, k = rng.uniform(12, 40, 2)
        r = rng.choice([-1, 1]) * (1 - 10 ** rng.uniform(-6, -0.7))
        got = tails.bvn_upper(h, k, r, tails.GL_X, tails.GL_W)
        assert 0.0 <= got <= special.ndtr(-max(h, k)) * (1 + 1e-9) + 1e-300, (h, k, r, got)


def test_bvn_abs_tail_matches_quadrature():
    rng = np.random.default_rng(1)
    for h, k, r in _random_bvn_points(rng, 300):
        want = 2 * (_upper_by_quad(h, k, r) + _upper_by_quad(h, k, -r))
        got = tails.bvn_abs_tail(h, k, r, tails.GL_X, tails.GL_W)
        assert got == pytest.approx(want, rel=1e-8), (h, k, r)
    # hand-worked: independence factorises, and h = k = 0 gives 1
    assert tails.bvn_abs_tail(1.0, 2.0, 0.0, tails.GL_X, tails.GL_W) == pytest.approx(
        4 * special.ndtr(-1.0) * special.ndtr(-2.0), rel=1e-14)
    assert tails.bvn_abs_tail(0.0, 0.0, 0.9, tails.GL_X, tails.GL_W) == pytest.approx(1.0)


def test_component_tails_are_the_bivariate_normal_tails():
    """The per-component sums (factored exponentials, tails once per threshold) equal
    bvn_abs_tail at every (t, s) of a grid, for correlations on both paths; for |r| <=
    R_SWITCH at standardised thresholds on both sides of the factored path's limit
    (h^2 + k^2 = 500, reached at r = +-0.8 with unit variances), beyond it where bvn_abs_tail
    is checked against quadrature (h <= 12, k <= 7)."""
    rng = np.random.default_rng(3)
    t = np.concatenate([[0.0], np.sort(rng.uniform(0, 30, 40)), [10.0, 15.8, 19.9, 22.3]])
    s = np.array([0.0, 0.5, 3.3, 10.0, 12.0, 15.8, 19.5, 21.0, 26.0])
    for r in [0.0, 0.3, -0.5, 0.79, -0.8, 0.81, 0.95, -0.999, *rng.uniform(-1, 1, 12)]:
        var1, var2 = (1.0, 1.0) if abs(r) == 0.8 else rng.uniform(0.7, 1.5, 2)
        joint, marginal = tails.conditional_tail_sums(
            np.array([[0.6]]), np.array([[var1]]), np.array([[r * math.sqrt(var1 * var2)]]),
            np.array([[var2]]), np.array([0.5]), t, s, tails.TAIL_RULES)
        for i, k in enumerate(s / math.sqrt(var2)):
            assert marginal[i] == pytest.approx(0.3 * 2 * special.ndtr(-k), rel=1e-14)
            for g, h in enumerate(t / math.sqrt(var1)):
                if abs(r) > tails.R_SWITCH and (h > 12 or k > 7):
                    continue
                want = (2 * special.ndtr(-h) if k == 0
                        else tails.bvn_abs_tail(h, k, r, tails.GL_X, tails.GL_W))
                assert joint[i, g] == pytest.approx(0.3 * want, rel=1e-9, abs=1e-300), (r, h, k)


def test_fewer_nodes_where_the_exponent_allows_keep_the_tails_of_the_20_node_rule():
    """The tail sums with TAIL_RULES (8 or 12 nodes where the middle integral's exponent moves
    little) equal those with the 20-node rule everywhere within 1e-9 relative, over random
    components with standard deviations 0.7-20 (h and k from ~0 to 8) and |r| <= 0.9; a
    fixed 4-node rule misses by far more on the same components, so the check can fail."""
    rng = np.random.default_rng(11)
    t = np.concatenate([[0.0], np.sort(rng.uniform(0, 5.5, 30))])
    s = np.array([0.0, 1.645, 2.576, 3.29])
    n = 300
    sd = np.exp(rng.uniform(math.log(0.7), math.log(20.0), (n, 2)))
    r = rng.uniform(-0.9, 0.9, n)
    args = (rng.uniform(0.1, 1.0, (n, 1)), sd[:, :1] ** 2, (r * sd[:, 0] * sd[:, 1])[:, None],
            sd[:, 1:] ** 2, np.ones(n))
    worst = {}
    every20 = tails.middle_rules((20,), (math.inf,))
    for name, rules in (("adaptive", tails.TAIL_RULES),
                        ("4 nodes", tails.middle_rules((4, 20), (math.inf, math.inf)))):
        worst[name] = 0.0
        for j in range(n):  # per component, so that no sum hides one's error
            one = tuple(a[j:j + 1] for a in args)
            joint, _ = tails.conditional_tail_sums(*one, t, s, rules)
            want, _ = tails.conditional_tail_sums(*one, t, s, every20)
            worst[name] = max(worst[name], float(np.max(np.abs(joint - want) / want)))
    assert worst["adaptive"] < 1e-9, worst
    assert worst["4 nodes"] > 1e-6, worst


# ---------------------------------------------------------------------------------------------
# model tails: the fast mixture and both tail kernels against the likelihood's own density
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    """400 SNPs of synthetic block LD, z drawn from the bivariate prior; random pruning-like
    weights (a quarter of the tags at 0) and weak-LD sums (a third of them 0)."""
    rng = np.random.default_rng(7)
    ld, r_signed = MixerData.synthetic(400, block_size=50, rng=rng, n=1e5)
    effects = mixer_bivariate_effects(ld.het, np.array([0.3, 0.3]), rng=rng, pi1=0.02,
                                      pi2=0.015, pi12=0.02, rho12=0.7)
    z = math.sqrt(1e5) * (r_signed @ effects.b_std) + rng.multivariate_normal(
        [0, 0], [[1, 0.2], [0.2, 1]], size=400)
    data = BivariateData.from_mixer_data(ld, z[:, 0], z[:, 1], 1e5, 1e5)
    w = rng.uniform(0.2, 1.0, 400) * (rng.random(400) > 0.25)
    data.trait1.weights = w
    data.trait2.weights = w
    weak = rng.uniform(0, 3, 400) * (rng.random(400) > 1 / 3)
    data.trait1.weak = weak
    data.trait2.weak = weak
    return data


def test_fast_mixture_is_the_likelihood(tiny):
    """log sum_b w_b N(z; 0, Sigma_b) equals the likelihood kernel's per-tag log pdf."""
    rng = np.random.default_rng(2)
    weights, var1, cov, var2 = bplots.fast_mixture(tiny, PARAMS)
    assert np.allclose(weights.sum(axis=1), 1.0)
    # the all-null component: residual plus weak-LD signal weak sum_c pi_c V_c
    pi1, pi2, pi12, sb1, sb2, rho12, s01, s02, rho0 = PARAMS
    weak, n1, n2 = tiny.trait1.weak, tiny.trait1.n, tiny.trait2.n
    np.testing.assert_allclose(var1[:, 0], s01 + weak * (pi1 + pi12) * n1 * sb1, rtol=1e-13)
    np.testing.assert_allclose(var2[:, 0], s02 + weak * (pi2 + pi12) * n2 * sb2, rtol=1e-13)
    np.testing.assert_allclose(cov[:, 0], rho0 * math.sqrt(s01 * s02) + weak * pi12 * rho12
                               * np.sqrt(n1 * sb1 * n2 * sb2), rtol=1e-13)
    z1, z2 = rng.normal(0, 3, 400), rng.normal(0, 3, 400)
    det = var1 * var2 - cov ** 2
    quad = (var2 * z1[:, None] ** 2 - 2 * cov * z1[:, None] * z2[:, None]
            + var1 * z2[:, None] ** 2) / det
    pdf = (weights * np.exp(-0.5 * quad) / (2 * np.pi * np.sqrt(det))).sum(axis=1)
    l2, l4 = tiny.trait1.ld_moments
    want = kern.fast_tag_logpdf(z1, z2, tiny.trait1.n, tiny.trait2.n, tiny.trait1.weak, l2, l4,
                                PARAMS)
    assert np.allclose(np.log(pdf), want, rtol=0, atol=1e-10)


_GL_X, _GL_W = np.polynomial.legendre.leggauss(56)
_U = 0.5 * (_GL_X + 1)  # nodes on (0, 1)


def _tail_by_integration(density, t, s, scale=4.0):
    """P(|z1| > t, |z2| > s) of a centrally symmetric density(z1, z2) (vectorised): twice
    the integral over z1 > t of [f(z1, z2) + f(z1, -z2)] for z2 > s, each half-line mapped
    to (0, 1) by z = a + scale u / (1 - u), 56-point Gauss-Legendre per axis."""
    x = t + scale * _U / (1 - _U)
    y = s + scale * _U / (1 - _U)
    wx = 0.5 * _GL_W * scale / (1 - _U) ** 2
    gx, gy = np.meshgrid(x, y, indexing="ij")
    ww = np.outer(wx, wx)
    return 2 * float(((density(gx.ravel(), gy.ravel()) + density(gx.ravel(), -gy.ravel()))
                      * ww.ravel()).sum())


def _fast_density(data, params):
    l2, l4 = data.trait1.ld_moments
    live = np.flatnonzero(data.weights > 0)

    def density(z1, z2):
        g = len(z1)
        rep = np.repeat(live, g)
        lp = kern.fast_tag_logpdf(np.tile(z1, len(live)), np.tile(z2, len(live)),
                                  data.trait1.n[rep], data.trait2.n[rep],
                                  data.trait1.weak[rep], l2[rep], l4[rep], params)
        return (data.weights[rep] * np.exp(lp)).reshape(len(live), g).sum(axis=0)

    return density


def _full_density(data, params, n_draws, seed):
    """sum_j w_j (1/K) sum_k N(z; 0, Sigma_jk) over the full model's K draws, written out in
    numpy: the draws' LD sums from draw_tag_sums (what full_tag_logpdf adds up, equal to it
    by tests/test_mixer_bivariate_kernels.py), Sigma_jk the tag's null covariance plus the
    draw's causal part (the module docstring of bayesmix.kernels.mixer_bivariate)."""
    a, b = data.trait1, data.trait2
    counts = kern.full_causal_counts(params, a.n_ref)
    args = (counts, seed, n_draws, *a.ld_columns, a.het, data.n_tags)
    n_touched, _, _ = kern.draw_tag_sums(*args, np.empty(0, dtype=np.int64))
    draw_ptr = np.concatenate([[0], np.cumsum(n_touched)])
    _, tags, sums = kern.draw_tag_sums(*args, draw_ptr)
    sb1, sb2, sq_b, a0, b0, c0 = kern.full_setting(params, a.n, b.n, a.weak)
    var1, cov, var2 = (np.repeat(x[:, None], n_draws, axis=1) for x in (a0, b0, c0))
    for k in range(n_draws):  # the tags draw k reaches: its causal part on top
        j, (s1, s2, s12) = tags[draw_ptr[k]:draw_ptr[k + 1]], sums[draw_ptr[k]:draw_ptr[k + 1]].T
        var1[j, k] += (s1 + s12) * a.n[j] * sb1
        cov[j, k] += s12 * np.sqrt(a.n[j] * b.n[j]) * sq_b
        var2[j, k] += (s2 + s12) * b.n[j] * sb2
    live = data.weights > 0
    var1, cov, var2 = (x[live].ravel()[:, None] for x in (var1, cov, var2))
    mix_w = np.repeat(data.weights[live] / n_draws, n_draws)
    det = var1 * var2 - cov**2

    def density(z1, z2):
        quad = (var2 * z1**2 - 2 * cov * z1 * z2 + var1 * z2**2) / det
        return mix_w @ (np.exp(-0.5 * quad) / (2 * np.pi * np.sqrt(det)))

    return density


@pytest.mark.parametrize("method", ["fast", "full"])
def test_model_curves_match_integrated_density(tiny, method):
    """The model share sum_j w_j P_j(|z1| > t, |z2| > s) / sum_j w_j P_j(|z2| > s) at a few
    grid points equals the same ratio of 2-D integrals of the likelihood kernel's density
    (fast: fast_tag_logpdf; full: the same draws' normals, :func:`_full_density`); both
    directions."""
    fit = SimpleNamespace(method=method, theta=PARAMS, options={"kmax": 1000, "seed": 3})
    n_draws = 6  # the full model's draws in parallel chunks of unequal size (2, 2, 1, 1)
    density = (_fast_density(tiny, PARAMS) if method == "fast"
               else _full_density(tiny, PARAMS, n_draws, 3))
    for primary, stratum in ((1, 1), (2, 3)):  # trait 1 | p2 <= 0.1, trait 2 | p1 <= 0.001
        qq = bplots.conditional_qq_data(tiny, fit, primary=primary, n_points=9, max_logp=4.0,
                                        n_draws=n_draws)
        if method == "full":
            assert "K=6" in qq["model"]
        dens = density if primary == 1 else (lambda a, b: density(b, a))
        for curve in qq["curves"][stratum:stratum + 1]:
            s = stats.norm.isf(curve["threshold"] / 2)
            marginal = _tail_by_integration(dens, 0.0, s)
            for g in (2, 5, 8):
                t = stats.norm.isf(10 ** -curve["hv_logp"][g] / 2)
                want = -math.log10(_tail_by_integration(dens, t, s) / marginal)
                assert curve["model_logpvec"][g] == pytest.approx(want, abs=2e-4), (
                    primary, curve["threshold"], g)


def test_model_curves_monotone_and_null_is_diagonal(tiny):
    fit = SimpleNamespace(method="fast", theta=PARAMS, options={})
    qq = bplots.conditional_qq_data(tiny, fit, n_points=50)
    for curve in qq["curves"]:
        assert np.all(np.diff(curve["model_logpvec"]) > 0)
        d = curve["data_logpvec"][np.isfinite(curve["data_logpvec"])]
        assert np.all(np.diff(d) >= 0)
    # no causal variants and independent residuals: P(|z1| > t | |z2| > s) = P(|z1| > t), so
    # every stratum's model curve is the diagonal x = -log10 p
    null = PARAMS.copy()
    null[[0, 1, 2, 8]] = 0.0
    null[6] = 1.0
    qq = bplots.conditional_qq_data(tiny, SimpleNamespace(method="fast", theta=null,
                                                          options={}), n_points=20)
    for curve in qq["curves"]:
        assert np.allclose(curve["model_logpvec"], curve["hv_logp"], atol=1e-9)


def test_qq_data_points_are_empirical_conditional_quantiles(tiny):
    """Data curves against a per-tag count: the weighted share of the stratum's tags (other
    trait's two-sided p <= threshold, w > 0) whose primary p <= 10^-y; and the drawn lines
    are these numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit = SimpleNamespace(method="fast", theta=PARAMS, options={})
    w = tiny.weights
    z = (tiny.trait1.z, tiny.trait2.z)
    for primary in (1, 2):
        qq = bplots.conditional_qq_data(tiny, fit, primary=primary, n_points=31,
                                        max_logp=6.0)
        p_primary = 2 * stats.norm.sf(np.abs(z[primary - 1]))
        p_other = 2 * stats.norm.sf(np.abs(z[2 - primary]))
        for curve in qq["curves"]:
            in_stratum = [j for j in range(len(w)) if w[j] > 0
                          and p_other[j] <= curve["threshold"]]
            assert curve["n_tags"] == len(in_stratum)
            total = sum(w[j] for j in in_stratum)
            for y, x in zip(curve["hv_logp"], curve["data_logpvec"]):
                share = sum(w[j] for j in in_stratum if p_primary[j] <= 10 ** -y) / total
                if share > 0:
                    assert x == pytest.approx(-math.log10(share), rel=1e-9, abs=1e-12)
                else:
                    assert np.isnan(x)
        fig, ax = plt.subplots()
        bplots.draw_conditional_qq(qq, ax=ax)
        lines = [ln for ln in ax.lines if len(ln.get_xdata()) == 31]
        for k, curve in enumerate(qq["curves"]):
            data_line, model_line = lines[2 * k], lines[2 * k + 1]
            assert np.array_equal(data_line.get_ydata(), curve["hv_logp"])
            assert np.array_equal(data_line.get_xdata(), curve["data_logpvec"], equal_nan=True)
            assert data_line.get_color() == model_line.get_color()
        plt.close(fig)


def test_qq_subsamples_tags_beyond_max_tags(tiny):
    """A random subset of tags gives model curves close to all tags' (the shares are means
    of smooth per-tag tail probabilities)."""
    fit = SimpleNamespace(method="fast", theta=PARAMS, options={})
    full = bplots.conditional_qq_data(tiny, fit, n_points=15)
    sub = bplots.conditional_qq_data(tiny, fit, n_points=15, max_tags=200,
                                     rng=np.random.default_rng(4))
    assert sub["n_model_tags"] == 200 and full["n_model_tags"] == int((tiny.weights > 0).sum())
    for a, b in zip(full["curves"], sub["curves"]):
        assert np.allclose(a["model_logpvec"], b["model_logpvec"], atol=0.2)
        assert np.array_equal(a["data_logpvec"], b["data_logpvec"], equal_nan=True)


# ---------------------------------------------------------------------------------------------
# pi12 profile
# ---------------------------------------------------------------------------------------------
def test_lr_interval_hand_worked():
    x = np.linspace(0, 10, 2001)
    lo, hi = _lr_interval(x, -(x - 5.0) ** 2)
    half = math.sqrt(LR_DROP_95)  # -(x - 5)^2 = -1.92 at 5 -+ sqrt(1.92)
    assert lo == pytest.approx(5 - half, abs=1e-5) and hi == pytest.approx(5 + half, abs=1e-5)
    # a profile falling linearly from the grid's left edge: open on the left
    assert _lr_interval(x, -x) == (None, pytest.approx(LR_DROP_95, abs=1e-9))
    assert _lr_interval(x, -0.01 * x) == (None, None)


def _pair(seed, n_snps, **prior):
    rng = np.random.default_rng(seed)
    ld, r_signed = MixerData.synthetic(n_snps, rng=rng, n=1e5)
    effects = mixer_bivariate_effects(ld.het, np.array([0.5, 0.5]), rng=rng, **prior)
    z = math.sqrt(1e5) * (r_signed @ effects.b_std) + rng.multivariate_normal(
        [0, 0], [[1, 0.2], [0.2, 1]], size=n_snps)
    data = BivariateData.from_mixer_data(ld, z[:, 0], z[:, 1], 1e5, 1e5)
    uni = [fit_univariate(d, sequence=("infinitesimal", "constrained", "fast"), n_draws=20)
           for d in (data.trait1, data.trait2)]
    return data, uni


def _independent_profile(data, fit, share, objective):
    """max over (rho12, rho0) at a fixed share by scipy Nelder-Mead in natural coordinates
    from three starts (not the package's optimiser or coordinates)."""
    from scipy import optimize

    def neg(v):
        if not (abs(v[0]) < 0.999 and abs(v[1]) < 0.999):
            return 1e300
        return -objective(overlap_params(fit.uni1, fit.uni2, share, v[0], v[1]))

    best = -np.inf
    for start in ((fit.params["rho12"], fit.params["rho0"]), (0.2, 0.0), (0.9, 0.3)):
        res = optimize.minimize(neg, start, method="Nelder-Mead",
                                options=dict(xatol=1e-7, fatol=1e-9, maxfev=4000))
        best = max(best, -res.fun)
    return best


def test_fast_estimate_is_the_profile_maximum():
    """Fast fit: on a fine grid of shares around the estimate, the profile (computed
    independently) never exceeds the fit's log-likelihood by more than 1e-3. Tolerance:
    L-BFGS stops at a gradient of ~1e-4, i.e. ~1e-8 below the maximum; 1e-3 is 2,000 times
    below the 1.92 that moves a 95% LR interval, so only a fit off its maximum fails."""
    data, uni = _pair(11, 3000, pi1=0.01, pi2=0.01, pi12=0.01, rho12=0.6)
    fit = fit_bivariate(data, uni[0], uni[1], compare_overlap=False, n_draws=20)

    def objective(params):
        return data.fast_logp_grad(params)[0]

    fine = fit.share + np.linspace(-0.08, 0.08, 9)
    fine = fine[(fine > 0) & (fine < 1)]
    independent = np.array([_independent_profile(data, fit, s, objective) for s in fine])
    assert independent.max() <= fit.loglik + 1e-3
    profile = profile_pi12(fit, data, shares=fine)
    assert np.allclose(profile["loglik"], independent, atol=1e-3)
    est = profile["estimate"]
    assert est["loglik"] >= fit.loglik - 1e-9
    assert est["pi12"] == pytest.approx(fit.params["pi12"], rel=1e-12)
    assert profile["excess"] <= 1e-3
    # the interval brackets the estimate
    lo, hi = profile["lr95_n12"]
    assert lo < est["n12"] < hi


def test_full_estimate_is_the_profile_maximum():
    """Full fit: the profile is taken on the fit's own sampled likelihood (same K and seed),
    so the estimate is its maximum: on a fine grid of shares the independently maximised
    sampled likelihood exceeds the fit by at most 0.05 (the fit's Nelder-Mead stops when its
    simplex values agree within 1e-2). The fast-likelihood profile used before peaks away
    from a full estimate (checked: its maximum there is above the fast value at the fit)."""
    data, uni = _pair(12, 1500, pi1=0.01, pi2=0.01, pi12=0.01, rho12=0.6)
    fit = fit_bivariate(data, uni[0], uni[1], sequence=("infinitesimal", "fast", "full"),
                        kmax=40, seed=2, compare_overlap=False, n_draws=20, full_evals=60)
    assert fit.method == "full"

    def objective(params):
        return data.full_logp(params, 40, 2)

    fine = fit.share + np.linspace(-0.06, 0.06, 7)
    fine = fine[(fine > 0) & (fine < 1)]
    independent = np.array([_independent_profile(data, fit, s, objective) for s in fine])
    assert independent.max() <= fit.loglik + 0.05
    profile = profile_pi12(fit, data, shares=fine)
    assert profile["excess"] <= 0.05
    assert np.all(profile["loglik"] >= independent - 0.05)  # a profile, not a slice
    assert profile["estimate"]["loglik"] >= fit.loglik
    assert profile["objective"].startswith("full (K=40, seed=2)")
    fast_at_fit = data.fast_logp_grad(fit.theta)[0]
    fast_profile = [_independent_profile(data, fit, s, lambda p: data.fast_logp_grad(p)[0])
                    for s in fine]
    assert max(fast_profile) > fast_at_fit + 0.05


def test_profile_plot_marks_the_maximum(tmp_path):
    """The drawn estimate (red line and point) is at the top of the drawn curve (y = 0);
    a dict read back from JSON draws the same."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesmix.report.mixer_json import write_json

    data, uni = _pair(13, 2000, pi1=0.01, pi2=0.01, pi12=0.01, rho12=0.6)
    fit = fit_bivariate(data, uni[0], uni[1], n_draws=20)
    profile = profile_pi12(fit, data, shares=np.linspace(0.05, 0.95, 10))
    write_json(tmp_path / "p.json", {"pi12_profile": profile})
    loaded = json.loads((tmp_path / "p.json").read_text())["pi12_profile"]
    for prof in (profile, loaded):
        fig, ax = plt.subplots()
        bplots.plot_pi12_profile(prof, fit=fit, ax=ax)
        curve = ax.lines[0]
        top = np.argmax(curve.get_ydata())
        assert curve.get_ydata()[top] == 0.0
        assert curve.get_xdata()[top] == pytest.approx(fit.params["pi12"] * data.n_ref)
        estimate_line = [ln for ln in ax.lines if ln.get_color() == "C3"][0]
        assert estimate_line.get_xdata()[0] == pytest.approx(fit.params["pi12"] * data.n_ref)
        fig.savefig(tmp_path / "profile.png")
        plt.close(fig)


def test_profile_is_not_stuck_where_the_fit_has_rho12_at_its_edge():
    """A profile is a maximum over (rho12, rho0), so at every share it is at least the
    objective at the fit's rg and rho0 held (rho12 = rg sqrt(pi1_u pi2_u) / pi12). A fit with
    rho12 at +-1 (as fit2 returns on flat profiles) once started every point there, where a
    Nelder-Mead simplex in erfinv rho12 cannot move, and fell below that bound."""
    from dataclasses import replace

    from bayesmix.inference.mle_bivariate import rho12_for_rg

    data, uni = _pair(12, 1500, pi1=0.01, pi2=0.01, pi12=0.01, rho12=0.6)
    fit = fit_bivariate(data, uni[0], uni[1], sequence=("infinitesimal", "fast", "full"),
                        kmax=40, seed=2, compare_overlap=False, n_draws=20, full_evals=60)
    # the same rg as the fit, reached with rho12 at the edge and fewer shared variants
    pi12 = fit.rg * math.sqrt(fit.uni1.pi * fit.uni2.pi) / 0.9999999
    edge = replace(fit, params={**fit.params, "rho12": 0.9999999, "pi12": pi12,
                                "pi1": fit.uni1.pi - pi12, "pi2": fit.uni2.pi - pi12})
    assert edge.rg == pytest.approx(fit.rg, rel=1e-6) and edge.share < 0.8
    shares = np.minimum(edge.share + np.array([0.1, 0.2, 0.3]), 0.98)
    profile = profile_pi12(edge, data, shares=shares)
    for share, value in zip(shares, profile["loglik"]):
        rho12 = rho12_for_rg(fit.uni1, fit.uni2, share, edge.rg)
        held = data.full_logp(overlap_params(fit.uni1, fit.uni2, share, rho12,
                                             fit.params["rho0"]), 40, 2)
        assert value >= held - 1e-9
