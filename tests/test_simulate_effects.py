"""Effect-size priors: reproducibility, scales, and the h2 scaling checked by Monte Carlo.

The truth each test uses is the prior as written in docs/design.md: averages over many draws must
match the analytic moments (expected h2, causal fractions, component weights, variance
laws, effect correlations) within a few Monte Carlo standard errors.
"""

import numpy as np
import pytest
from scipy import stats

from bayesmix.errors import InputError
from bayesmix.simulate.effects import draw_effects, mixer_bivariate_effects, window_ids

M = 2000
H2 = 0.4
WINDOWS = np.arange(M) // 40  # 50 windows of 40 SNPs


@pytest.fixture(scope="module")
def het():
    p = np.random.default_rng(7).uniform(0.01, 0.5, M)
    het = 2 * p * (1 - p)
    het[:5] = 0.0  # monomorphic SNPs must never be causal
    return het


PRIORS = [
    ("mixer", {"pi": 0.05}),
    ("mixer", {"n_causal": 60}),
    ("C", {"pi": 0.05}),
    ("R", {}),
    ("R", {"n_causal": 80, "gamma": [0, 0.001, 0.01, 0.1, 1], "pi_k": [.9, .03, .03, .03, .01]}),
    ("S", {"pi": 0.05, "S": -0.7}),
    ("B", {"n_causal": 100, "nu": 5.0}),
    ("N", {"windows": WINDOWS, "pi": 0.2, "pi_snp": 0.3}),
    ("NS", {"windows": WINDOWS, "n_causal": 5, "pi_snp": 0.5, "S": -1.0}),
]


@pytest.mark.parametrize("prior,params", PRIORS)
def test_same_seed_same_effects_and_scales(het, prior, params):
    a = draw_effects(prior, het, H2, np.random.default_rng(3), **params)
    b = draw_effects(prior, het, H2, np.random.default_rng(3), **params)
    np.testing.assert_array_equal(a.beta, b.beta)
    np.testing.assert_array_equal(a.component, b.component)
    np.testing.assert_allclose(a.b_std, a.beta * np.sqrt(het))
    assert (a.beta[het == 0] == 0).all()
    assert set(a.causal) == set(np.flatnonzero(a.beta != 0))
    if "n_causal" in params and "windows" not in params:
        assert len(a.causal) == params["n_causal"]
    record = a.truth()
    assert record["n_causal"] == len(a.causal)
    np.testing.assert_allclose(record["causal"]["b_std"], a.b_std[a.causal])


@pytest.mark.parametrize("prior,params", PRIORS)
def test_expected_h2_matches_average_over_draws(het, prior, params):
    """E[sum_j b_std_j^2] over the prior equals the target h2 (the variance scaling)."""
    rng = np.random.default_rng(11)
    draws = np.array([draw_effects(prior, het, H2, rng, **params).h2_realised
                      for _ in range(600)])
    se = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - H2) < 4 * se, (draws.mean(), se)


def test_mixer_scaling_formula(het):
    e = draw_effects("mixer", het, H2, np.random.default_rng(0), pi=0.05)
    assert np.isclose(e.params["pi"] * e.params["sig2_beta"] * het.sum(), H2)


def test_causal_fraction_and_bayesr_weights(het):
    rng = np.random.default_rng(5)
    poly = (het > 0).sum()
    counts = np.zeros(4)
    for _ in range(200):
        e = draw_effects("R", het, H2, rng)
        counts += np.bincount(e.component[het > 0], minlength=4)
    share = counts / counts.sum()
    expected = np.array([0.95, 0.02, 0.02, 0.01])
    se = np.sqrt(expected * (1 - expected) / counts.sum())
    assert (np.abs(share - expected) < 4 * se).all(), share
    n_causal = [len(draw_effects("C", het, H2, rng, pi=0.05).causal) for _ in range(200)]
    assert abs(np.mean(n_causal) - 0.05 * poly) < 4 * np.sqrt(0.05 * 0.95 * poly / 200)


def test_bayesr_component_variances(het):
    """Within component k, b_std ~ N(0, gamma_k sig2_beta)."""
    rng = np.random.default_rng(8)
    ratios = {1: [], 2: [], 3: []}
    for _ in range(100):
        e = draw_effects("R", het, H2, rng)
        for k in ratios:
            idx = e.component == k
            ratios[k].extend(e.b_std[idx] ** 2 / (e.params["gamma"][k] * e.params["sig2_beta"]))
    for k, values in ratios.items():
        values = np.asarray(values)
        assert abs(values.mean() - 1) < 4 * np.sqrt(2 / len(values)), k


def test_bayess_variance_law(het):
    """Per-allele variance sig2_beta H^S: beta^2 / (sig2_beta H^S) has mean 1 in every H bin."""
    rng = np.random.default_rng(9)
    S = -1.0
    scaled, h = [], []
    for _ in range(300):
        e = draw_effects("S", het, H2, rng, pi=0.1, S=S)
        idx = e.causal
        scaled.extend(e.beta[idx] ** 2 / (e.params["sig2_beta"] * het[idx] ** S))
        h.extend(het[idx])
    scaled, h = np.asarray(scaled), np.asarray(h)
    for low, high in [(0, 0.15), (0.15, 0.35), (0.35, 0.5)]:
        sel = (h > low) & (h <= high)
        assert abs(scaled[sel].mean() - 1) < 4 * np.sqrt(2 / sel.sum()), (low, high)


def test_bayesb_slab_is_student_t(het):
    rng = np.random.default_rng(10)
    nu = 5.0
    values = []
    for _ in range(100):
        e = draw_effects("B", het, H2, rng, n_causal=100, nu=nu)
        values.extend(e.b_std[e.causal] / np.sqrt(e.params["tau2"]))
    assert stats.kstest(values, stats.t(nu).cdf).pvalue > 1e-3


def test_bivariate_components_correlation_and_h2(het):
    rng = np.random.default_rng(12)
    pis = (0.02, 0.03, 0.04)
    rho12 = 0.6
    h2 = (0.3, 0.5)
    shared, comp_counts, h2_draws = [], np.zeros(4), []
    for _ in range(300):
        e = mixer_bivariate_effects(het, h2, rng=rng, pi1=pis[0], pi2=pis[1], pi12=pis[2],
                                    rho12=rho12)
        comp_counts += np.bincount(e.component[het > 0], minlength=4)
        shared.append(e.b_std[e.component == 3] / np.sqrt(het[e.component == 3])[:, None])
        h2_draws.append(e.h2_realised)
        assert (e.beta[e.component == 1, 1] == 0).all() and (e.beta[e.component == 2, 0] == 0).all()
    share = comp_counts / comp_counts.sum()
    expected = np.array([1 - sum(pis), *pis])
    assert (np.abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / comp_counts.sum())).all()
    shared = np.vstack(shared)
    r = np.corrcoef(shared.T)[0, 1]
    assert abs(r - rho12) < 4 * (1 - rho12**2) / np.sqrt(len(shared))
    h2_draws = np.asarray(h2_draws)
    se = h2_draws.std(axis=0) / np.sqrt(len(h2_draws))
    assert (np.abs(h2_draws.mean(axis=0) - h2) < 4 * se).all()
    rg = rho12 * pis[2] / np.sqrt((pis[0] + pis[2]) * (pis[1] + pis[2]))
    assert np.isclose(e.params["rg_expected"], rg)


def test_bivariate_counts(het):
    e = mixer_bivariate_effects(het, (0.2, 0.2), rng=np.random.default_rng(1),
                                n_causal=(10, 20, 30), rho12=-0.5)
    assert np.bincount(e.component, minlength=4)[1:].tolist() == [10, 20, 30]
    assert e.n_traits == 2 and e.beta.shape == (M, 2)


@pytest.mark.parametrize("kwargs", [
    {"prior": "C", "h2": 1.0, "pi": 0.1},
    {"prior": "C", "h2": 0.0, "pi": 0.1},
    {"prior": "C", "h2": 0.5, "pi": 0.1, "n_causal": 10},
    {"prior": "mixer", "h2": 0.5},
    {"prior": "S", "h2": 0.5, "pi": 1.5},
    {"prior": "B", "h2": 0.5, "pi": 0.1, "nu": 2.0},
    {"prior": "R", "h2": 0.5, "pi_k": [0.5, 0.6]},
    {"prior": "C", "h2": 0.5, "n_causal": 10**6},
    {"prior": "Q", "h2": 0.5, "pi": 0.1},
    {"prior": "C", "h2": 0.5, "pi": 0.1, "S": -1.0},
    {"prior": "N", "h2": 0.5, "pi": 0.1, "windows": np.zeros(3)},
])
def test_impossible_arguments(het, kwargs):
    prior, h2 = kwargs.pop("prior"), kwargs.pop("h2")
    with pytest.raises(InputError):
        draw_effects(prior, het, h2, np.random.default_rng(0), **kwargs)


def test_window_ids():
    chrom = ["1", "1", "1", "1", "2", "2"]
    bp = [100, 900_000, 1_000_100, 3_500_000, 50, 2_000_000]
    # chromosome 1 from bp 100: windows [100, 1e6+100) -> 0, then 1, (gap), 3 -> dense 0 0 1 2
    assert window_ids(chrom, bp, 1000).tolist() == [0, 0, 1, 2, 3, 4]


def test_nested_prior_structure(het):
    """Causal SNPs only in active windows; window and within-window fractions match."""
    rng = np.random.default_rng(13)
    n_active, n_windows, in_active, n_in_active = 0, 0, 0, 0
    for _ in range(200):
        e = draw_effects("N", het, H2, rng, windows=WINDOWS, pi=0.2, pi_snp=0.3)
        active = np.asarray(e.params["causal_windows"])
        assert set(WINDOWS[e.causal]) <= set(active)
        n_active += len(active)
        n_windows += e.params["n_windows"]
        snps = np.isin(WINDOWS, active) & (het > 0)
        in_active += len(e.causal)
        n_in_active += snps.sum()
    assert abs(n_active / n_windows - 0.2) < 4 * np.sqrt(0.2 * 0.8 / n_windows)
    assert abs(in_active / n_in_active - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n_in_active)
