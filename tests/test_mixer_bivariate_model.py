"""BivariateMixer graph and its fused Op: gradient check, MAP = the fit sequence's optimum."""

import math

import numpy as np
import pytest

from bayesmix.inference.mle_bivariate import fit_bivariate
from bayesmix.prepare.mixer_data import BivariateData, MixerData
from bayesmix.simulate.effects import mixer_bivariate_effects


@pytest.fixture(scope="module")
def small_pair():
    rng = np.random.default_rng(11)
    n_snps, n = 3000, 1e5
    ld, r_signed = MixerData.synthetic(n_snps, rng=rng, n=n)
    effects = mixer_bivariate_effects(ld.het, np.array([0.4, 0.4]), rng=rng, pi1=0.01,
                                      pi2=0.01, pi12=0.01, rho12=0.5)
    z = math.sqrt(n) * (r_signed @ effects.b_std) + rng.multivariate_normal(
        [0, 0], [[1, 0.2], [0.2, 1]], size=n_snps)
    data = BivariateData.from_mixer_data(ld, z[:, 0], z[:, 1], n, n)
    uni = [{"pi": 0.02, "sig2_beta": s, "sig2_zero": 1.0}
           for s in effects.params["sig2_beta"]]
    return data, uni


def test_op_gradient_matches_finite_differences(small_pair):
    import pytensor

    from bayesmix.ops.mixer_bivariate import bivariate_loglik

    data, _ = small_pair
    theta = np.array([0.01, 0.012, 0.008, 6e-4, 7e-4, 0.4, 1.05, 0.98, 0.15])
    pytensor.gradient.verify_grad(lambda t: bivariate_loglik(data, t), [theta],
                                  rng=np.random.default_rng(1), eps=1e-7, rel_tol=1e-4,
                                  abs_tol=1e-3)


def test_find_map_agrees_with_fit_sequence(small_pair):
    import pymc as pm

    from bayesmix.models.mixer_bivariate import BivariateMixer

    data, uni = small_pair
    fit = fit_bivariate(data, uni[0], uni[1], compare_overlap=False, n_draws=50)
    model = BivariateMixer(data, uni1=uni[0], uni2=uni[1])
    start = {"share": 0.5, "rho12": 0.0, "rho0": 0.0}
    result = pm.find_MAP(model=model, initvals=start, method="L-BFGS-B", progressbar=False,
                         return_inferencedata=True, jitter=False)
    post = result.posterior
    assert float(post["pi12"].values.ravel()[0]) == pytest.approx(fit.params["pi12"],
                                                                  rel=0.05, abs=2e-4)
    assert float(post["rho0"].values.ravel()[0]) == pytest.approx(fit.params["rho0"],
                                                                  abs=0.01)
    assert float(post["rg"].values.ravel()[0]) == pytest.approx(fit.rg, abs=0.02)


def test_full_step_improves_the_sampled_likelihood(small_pair):
    """The full step starts from the fast optimum and can only improve the sampled
    likelihood (same seeded causal sets at every evaluation)."""
    data, uni = small_pair
    fast = fit_bivariate(data, uni[0], uni[1], compare_overlap=False, n_draws=20)
    full = fit_bivariate(data, uni[0], uni[1], sequence=("infinitesimal", "fast", "full"),
                         kmax=100, seed=3, full_grid=5, full_evals=20, compare_overlap=False,
                         n_draws=20)
    assert full.method == "full" and full.steps[-1].name == "full"
    at_fast = data.full_logp(fast.theta, 100, 3)
    assert full.loglik >= at_fast - 1e-9
    assert full.loglik == pytest.approx(data.full_logp(full.theta, 100, 3), rel=1e-12)
    assert abs(full.share - 0.5) < 0.3


@pytest.mark.slow
def test_nuts_runs_on_the_smooth_fast_likelihood(small_pair):
    """NUTS on the graph (fast likelihood, analytic gradient): no divergences and the
    posterior mean of the overlap share lies near the maximum-likelihood estimate."""
    import pymc as pm

    from bayesmix.models.mixer_bivariate import BivariateMixer

    data, uni = small_pair
    fit = fit_bivariate(data, uni[0], uni[1], compare_overlap=False, n_draws=20)
    model = BivariateMixer(data, uni1=uni[0], uni2=uni[1])
    with model:
        idata = pm.sample(150, tune=150, chains=1, random_seed=4, progressbar=False,
                          compute_convergence_checks=False,
                          initvals={"share": fit.share, "rho12": fit.params["rho12"],
                                    "rho0": fit.params["rho0"]})
    assert int(idata.sample_stats["diverging"].sum()) == 0
    share = idata.posterior["share"].values
    assert abs(share.mean() - fit.share) < max(0.1, 2 * share.std())
