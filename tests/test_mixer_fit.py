"""MiXeR univariate fitting: the Op's gradients, the PyMC graph, the fit sequence, SEs.

Truths are independent of the code under test: finite differences (verify_grad), parameters
used to simulate, the empirical spread of estimates over replicates, and closed forms.
"""

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from bayesmix.inference.mle import (
    UNIVARIATE_SPACE,
    causal_share_for_h2,
    fit_univariate,
    information_criteria,
    univariate_objective,
)
from bayesmix.models.mixer import UnivariateLikelihood, simulate_z_from_model
from bayesmix.prepare.mixer_data import MixerData


def simulated(n_snps, n_causal, h2, n=1.5e5, seed=0, block_size=100):
    rng = np.random.default_rng(seed)
    data, r = MixerData.synthetic(n_snps, block_size=block_size, n=n, rng=rng)
    pi = n_causal / data.n_ref
    sig2_beta = h2 / (pi * data.sum_het)
    z, _ = simulate_z_from_model(data, r, (pi, sig2_beta, 1.0), rng=rng)
    return data.with_z(z), (pi, sig2_beta, 1.0)


@pytest.mark.parametrize("method", ["fast", "convolve"])
def test_op_gradient_verify_grad(method):
    """(The sampled full likelihood refuses gradients: tests/test_mixer_gradients.py.)"""
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.inference.model_objective import graph_mode
    from bayesmix.ops.mixer import univariate_loglik

    data, truth = simulated(400, 20, 0.2, seed=1)
    like = UnivariateLikelihood(data, method, kmax=50)

    def f(pi, sb, s0):
        return univariate_loglik(like, pt.stack([pi, sb, s0]))
    point = [np.array(truth[0]), np.array(truth[1]), np.array(1.1)]
    # the numba dispatch is compiled once (fast); the other methods run through perform(),
    # here in the fits' own mode (graph_mode: the VM linker). A Mode, not the string
    # "FAST_COMPILE", which verify_grad replaces by FAST_RUN (the NUMBA linker) for its cost
    # function: 6 s of compiling on a fresh checkout.
    for mode in ("NUMBA", graph_mode()) if method == "fast" else (graph_mode(),):
        pytensor.gradient.verify_grad(f, point, rng=np.random.default_rng(2), eps=1e-7,
                                      rel_tol=1e-4, abs_tol=1e-4, mode=mode)


@pytest.mark.parametrize("method", ["fast", "convolve", "full"])
def test_find_map_on_the_graph_reaches_the_fit_sequence_optimum(method, monkeypatch):
    """pm.find_MAP on UnivariateMixer (flat priors) and fit_univariate reach the same ML
    estimate, and the fit evaluates its likelihood only through that model graph (the direct
    kernel path is disabled here). find_MAP runs L-BFGS-B on the smooth likelihoods; on the
    sampled full likelihood the Op refuses gradients, so find_MAP falls back to Powell."""
    import pymc as pm

    from bayesmix.inference.model_objective import graph_mode
    from bayesmix.models.mixer import UnivariateMixer

    def direct_path(*args, **kwargs):
        raise AssertionError("fit_univariate called the likelihood kernel outside the graph")

    monkeypatch.setattr(UnivariateLikelihood, "logp_grad", direct_path)
    data, truth = simulated(1500, 40, 0.3, seed=3)
    final = "neldermead-full" if method == "full" else method
    fit = fit_univariate(data, sequence=(final,), start=truth, n_draws=20, kmax=100)
    model = UnivariateMixer(data, method=method, kmax=100)
    start = {k: v * (1.02 if method == "full" else 1.3) for k, v in fit.params.items()}
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # full: "Gradient not available ... powell"
        mp = pm.find_MAP(initvals=start, progressbar=False, return_inferencedata=False,
                         jitter=False, compile_kwargs={"mode": graph_mode()})
    logp = model.compile_logp(jacobian=False, mode=graph_mode())
    at_map = float(logp({k: mp[k] for k in ("pi_interval__", "sig2_beta_log__",
                                            "sig2_zero_log__")}))
    if method == "full":  # piecewise constant in pi: compare the optimum's value
        assert at_map == pytest.approx(fit.loglik, abs=1.0)
        for name, value in fit.params.items():
            assert float(mp[name]) == pytest.approx(value, rel=0.05)
        return
    assert at_map == pytest.approx(fit.loglik, abs=1e-3)
    for name, value in fit.params.items():
        assert float(mp[name]) == pytest.approx(value, rel=2e-3)


def test_graph_accepts_custom_priors():
    import pymc as pm

    from bayesmix.models.mixer import UnivariateMixer

    data, _ = simulated(300, 10, 0.2, seed=4)
    model = UnivariateMixer(data, method="fast",
                            priors={"pi": lambda name: pm.Beta(name, 1.0, 99.0)})
    assert isinstance(model["pi"].owner.op, type(pm.Beta.dist(1.0, 1.0).owner.op))
    lp = model.compile_logp()(model.initial_point())
    assert np.isfinite(lp)
    with pytest.raises(ValueError, match="unknown"):
        UnivariateMixer(data, priors={"rho": lambda n: pm.Normal(n)})


def test_recovery_convolve_medium_architecture():
    """Sumstats simulated from the model on block LD: h2 within 15%, n_causal within 30%."""
    data, truth = simulated(10000, 300, 0.3, n=2e5, seed=5)
    fit = fit_univariate(data, n_draws=200)
    h2_true = truth[0] * truth[1] * data.sum_het
    assert fit.ci["h2"]["point"] == pytest.approx(h2_true, rel=0.15)
    assert fit.ci["nc"]["point"] == pytest.approx(300, rel=0.30)
    assert fit.params["sig2_zero"] == pytest.approx(1.0, abs=0.05)
    assert fit.criteria["AIC"] > 0  # the causal mixture beats the infinitesimal model
    assert [s.name for s in fit.steps] == ["infinitesimal", "constrained", "convolve"]


def fast_model_draws(data, params, rng):
    """z_j drawn independently from the fast model's own 2-component mixture."""
    pi, sb, s0 = params
    l2, l4 = data.ld_moments
    eta = pi * l2 + (1 - pi) * l4 / l2
    q = pi * l2 / eta
    causal = rng.random(data.n_tags) < q
    sd = np.sqrt(s0 + causal * eta * data.n * sb)
    return rng.normal(0, sd)


@pytest.mark.slow
def test_standard_errors_match_replicate_spread_and_cover():
    """Fast model on data from its own likelihood: SE ~ spread of estimates; 95% intervals
    of log pi cover the truth at about the nominal rate."""
    rng = np.random.default_rng(6)
    data, _ = MixerData.synthetic(4000, block_size=50, n=1e5, rng=rng)
    truth = (0.02, 2e-4, 1.0)
    estimates, ses, covered = [], [], 0
    for _ in range(24):
        d = data.with_z(fast_model_draws(data, truth, rng))
        fit = fit_univariate(d, sequence=("infinitesimal", "constrained", "fast"), n_draws=20)
        u = UNIVARIATE_SPACE.free(fit.theta)
        sd = math.sqrt(fit.cov_free[0, 0])
        estimates.append(u[0])
        ses.append(sd)
        covered += abs(u[0] - UNIVARIATE_SPACE.free(truth)[0]) < 1.96 * sd
    spread = np.std(estimates, ddof=1)
    assert np.mean(ses) == pytest.approx(spread, rel=0.4)
    assert covered >= 19  # P(Binomial(24, 0.95) < 19) ~ 0.7%


def test_causal_share_for_h2_closed_form_and_monte_carlo():
    # equal H: the share is P(chi2_1 > c) with P(chi2_3 > c) = 0.9
    c = stats.chi2.ppf(0.1, 3)
    assert causal_share_for_h2(np.full(100, 0.3)) == pytest.approx(stats.chi2.sf(c, 1), rel=1e-6)
    # unequal H: Monte Carlo of the largest contributions H_i beta_i^2
    rng = np.random.default_rng(7)
    het = rng.uniform(0.05, 0.5, 400000)
    contrib = np.sort(het * rng.normal(size=het.size) ** 2)[::-1]
    k = np.searchsorted(np.cumsum(contrib), 0.9 * contrib.sum())
    assert causal_share_for_h2(het) == pytest.approx(k / het.size, rel=0.02)


def test_information_criteria_and_fit_sequence_options():
    ic = information_criteria(-100.0, 3, math.e ** 2)
    assert ic == {"aic": 206.0, "bic": 206.0}
    data, _ = simulated(2000, 40, 0.2, seed=8)
    fit = fit_univariate(data, sequence=("infinitesimal", "neldermead-fast"), n_draws=30)
    assert fit.steps[-1].optimizer == "neldermead" and fit.method == "fast"
    with pytest.raises(ValueError, match="unknown fit-sequence step"):
        fit_univariate(data, sequence=("diffevo",))
    with pytest.raises(ValueError, match="not smooth"):
        fit_univariate(data, sequence=("infinitesimal", "lbfgs-full"))


def test_an_infinitesimal_fit_has_the_standard_errors_of_its_two_parameters():
    """A sequence ending with the infinitesimal model (a polygenic trait): pi is 1 by
    definition (SE 0), and sig2_beta (= sig2_inf) and sig2_zero get the SEs of the
    infinitesimal likelihood's curvature, here checked against second differences of its
    log-likelihood values (the fit differentiates gradients); h2 has an interval around its
    estimate. (They came from the convolve likelihood at pi = 1 - 1e-6 before: minutes per
    evaluation, then NaN.)"""
    data, _ = simulated(2000, 2000, 0.1, n=2e4, seed=3)
    fit = fit_univariate(data, sequence=("infinitesimal",), n_draws=200)
    assert fit.method == "infinitesimal" and fit.se["pi"] == 0.0
    like = univariate_objective(data, "infinitesimal")
    u = np.log([fit.params["sig2_beta"], fit.params["sig2_zero"]])
    h = 1e-3
    steps = h * np.eye(2)

    def logp(v):
        return like.logp((0.0, v[0], v[1]))

    hess = np.array([[(logp(u + steps[i] + steps[j]) - logp(u + steps[i] - steps[j])
                       - logp(u - steps[i] + steps[j]) + logp(u - steps[i] - steps[j]))
                      / (4 * h * h) for j in range(2)] for i in range(2)])
    expected = np.exp(u) * np.sqrt(np.diag(np.linalg.inv(-hess)))
    assert fit.se["sig2_beta"] == pytest.approx(expected[0], rel=1e-3)
    assert fit.se["sig2_zero"] == pytest.approx(expected[1], rel=1e-3)
    h2 = fit.ci["h2"]
    assert h2["lower"] < h2["point"] < h2["upper"]


def test_logp_only_graphs_use_the_gradient_free_kernel():
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.ops.mixer import UnivariateMixerLogp, univariate_loglik

    data, truth = simulated(300, 10, 0.2, seed=9)
    like = UnivariateLikelihood(data, "convolve")
    theta = pt.dvector("theta")
    logp = univariate_loglik(like, theta)
    f = pytensor.function([theta], logp, mode="FAST_COMPILE")
    g = pytensor.function([theta], [logp, pytensor.grad(logp, theta)], mode="FAST_COMPILE")

    def flags(fn):
        return [n.op.with_grad for n in fn.maker.fgraph.apply_nodes
                if isinstance(n.op, UnivariateMixerLogp)]

    assert flags(g) == [True]
    x = np.array(truth)
    assert g(x)[0] == pytest.approx(like.logp(x), rel=1e-12)
    f = pytensor.function([theta], logp)  # default mode runs the specialize rewrites
    assert flags(f) == [False]
    assert f(x) == pytest.approx(like.logp(x), rel=1e-12)


@pytest.mark.slow
def test_nuts_posterior_agrees_with_asymptotic_normal():
    """NUTS on the fast likelihood (flat priors): the posterior of logit pi is centred at the
    MLE with a spread close to the observed-information SE (Bernstein-von Mises)."""
    from scipy import special

    from bayesmix.models.mixer import sample_nuts

    data, _ = simulated(2000, 60, 0.3, seed=10)
    fit = fit_univariate(data, sequence=("infinitesimal", "constrained", "fast"), n_draws=50)
    idata = sample_nuts(data, method="fast", draws=300, tune=300, chains=2, seed=1,
                        start=fit.params)
    logit_pi = special.logit(idata.posterior["pi"].values.ravel())
    se = math.sqrt(fit.cov_free[0, 0])
    assert abs(logit_pi.mean() - special.logit(fit.params["pi"])) < 0.5 * se
    assert np.std(logit_pi) == pytest.approx(se, rel=0.3)
    assert int(idata.sample_stats["diverging"].sum()) == 0


def test_derived_quantities_without_draws_are_nan_not_a_crash():
    """n_draws = 0 (e.g. --n-draws 0 for speed): point estimates kept, interval summaries NaN."""
    from bayesmix.inference.mle import UNIVARIATE_SPACE, derived_by_draws, draw_derived

    u_hat = UNIVARIATE_SPACE.free([0.01, 1e-4, 1.0])
    derive = lambda natural: {"nc": natural[0] * 1000.0}  # noqa: E731
    rng = np.random.default_rng(0)
    assert draw_derived(UNIVARIATE_SPACE, u_hat, np.eye(3) * 0.01, derive, n_draws=0,
                        rng=rng)["nc"].size == 0
    summary = derived_by_draws(UNIVARIATE_SPACE, u_hat, np.eye(3) * 0.01, derive, n_draws=0,
                               rng=rng)["nc"]
    assert summary["point"] == pytest.approx(10.0) and np.isnan(summary["std"])


@pytest.mark.parametrize("seed", range(5))
def test_covariance_of_a_near_flat_ridge_is_the_inverse_hessian_and_samples(seed):
    """On a quadratic logp with a known Hessian whose eigenvalues span 1e-7..1e3 (one
    parameter nearly unidentified), the covariance is inv(-H) (up to the finite differences'
    rounding, ~1e-3 along the flat direction) and symmetric, so drawing from it raises no
    'not symmetric positive-semidefinite' warning (inv's rounding alone used to)."""
    from bayesmix.inference.mle import observed_information_cov

    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    curvature = np.array([1e-7, 1.0, 1e3])
    precision = (q * curvature) @ q.T
    u_hat = rng.standard_normal(3)

    def logp_grad(u):
        d = np.asarray(u) - u_hat
        return -0.5 * d @ precision @ d, -precision @ d

    cov = observed_information_cov(logp_grad, u_hat)
    exact = (q / curvature) @ q.T
    assert np.array_equal(cov, cov.T)
    assert np.allclose(cov, exact, rtol=1e-2, atol=1e-2 * np.abs(exact).max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # draw_derived's draws (its natural scale would overflow)
        rng.multivariate_normal(u_hat, cov, size=50, method="eigh")


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("smallest", [1e-14, 1e-16])
def test_covariance_of_an_unidentified_parameter_is_unavailable(seed, smallest):
    """Curvature 1e-14 or 1e-16 along one direction against 1e3 along another: no covariance
    (NaN, with a warning), not the inverse of rounding noise; numpy's inv called some of
    these matrices singular and raised from inside the fit."""
    from bayesmix.inference.mle import observed_information_cov

    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((3, 3)))
    precision = (q * np.array([smallest, 1.0, 1e3])) @ q.T

    def logp_grad(u):
        return -0.5 * u @ precision @ u, -precision @ np.asarray(u)

    assert np.isnan(observed_information_cov(logp_grad, np.zeros(3))).all()


def test_draws_beyond_a_parameter_scale_give_nan_intervals_and_say_so(caplog):
    """An SE of ~1000 on log sig2_beta: many draws overflow exp; the interval summaries are
    NaN (not an interval computed from the finite draws only) and the log counts them."""
    from bayesmix.inference.mle import UNIVARIATE_SPACE, derived_by_draws

    u_hat = UNIVARIATE_SPACE.free([0.01, 1e-4, 1.0])
    derive = lambda natural: {"h2": natural[0] * natural[1] * 5000.0}  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = derived_by_draws(UNIVARIATE_SPACE, u_hat, np.diag([0.01, 1e6, 0.01]), derive,
                                   n_draws=200, rng=np.random.default_rng(1))["h2"]
    assert np.isnan(summary["std"]) and np.isnan(summary["upper"])
    assert summary["point"] == pytest.approx(0.005)
    assert "overflow a parameter's scale" in caplog.text


def test_draws_too_large_to_square_give_nan_summaries():
    """Finite draws near the float range (an SE of ~300 on a log scale) overflow the
    variance: every summary is NaN rather than an infinite SD beside a finite mean."""
    from bayesmix.inference.mle import summarize_draws

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = summarize_draws(np.array([1.0, 1e160, 1e200, 3e200]))
    assert all(np.isnan(v) for v in summary.values())
    assert summarize_draws(np.array([1.0, 2.0, 4.0]))["std"] == pytest.approx(np.std([1, 2, 4],
                                                                                     ddof=1))


def test_data_differing_only_in_weak_ld_get_their_own_objective():
    """Two live MixerData with the same z, LD store and H but other weak-LD sums are fitted
    on their own likelihoods (the compiled-objective cache and checkpoints key on them too):
    each fit's log-likelihood is the one its own data give at its estimate."""
    from dataclasses import replace

    data, _ = simulated(2000, 40, 0.2, seed=9)
    weak = replace(data, weak=np.full(data.n_tags, 0.5))
    fits = [fit_univariate(d, sequence=("infinitesimal", "constrained", "fast"), n_draws=30)
            for d in (data, weak)]
    for d, fit in zip((data, weak), fits):
        own = UnivariateLikelihood(d, "fast").logp([fit.params[k] for k in
                                                    ("pi", "sig2_beta", "sig2_zero")])
        assert fit.loglik == pytest.approx(own, rel=1e-9)
    assert fits[0].params["sig2_beta"] != fits[1].params["sig2_beta"]


def test_inflation_refit_recovers_a_simulated_sig2_zero():
    """MiXeR's test1 'inflation' step refits sig2_zero by the fast likelihood, pi and
    sig2_beta held: on z-scores drawn from that fast model with sig2_zero 1.3, loaded at 1.0,
    it finds 1.3, at the maximum of the likelihood along sig2_zero (a grid around it is
    lower), and a second refit stays there. (On z-scores from the full model with sparse
    effects the fast likelihood's sig2_zero is ~0.3 higher: the approximation MiXeR's step
    shares.)"""
    from bayesmix.inference.mle import refit_inflation

    rng = np.random.default_rng(11)
    data, _ = MixerData.synthetic(10000, block_size=100, n=2e5, rng=rng)
    pi = 300 / data.n_ref
    sig2_beta = 0.3 / (pi * data.sum_het)
    data = data.with_z(fast_model_draws(data, (pi, sig2_beta, 1.3), rng))
    loaded = {"pi": pi, "sig2_beta": sig2_beta, "sig2_zero": 1.0}
    params, record = refit_inflation(data, loaded)
    assert params["sig2_zero"] == pytest.approx(1.3, abs=0.08)  # SD over 12 seeds: 0.023
    assert (params["pi"], params["sig2_beta"]) == (pi, sig2_beta)
    assert record["sig2_zero_loaded"] == 1.0 and record["loglik"] > record["loglik_loaded"]
    like = univariate_objective(data, "fast")
    free = (math.log(pi / (1 - pi)), math.log(sig2_beta))
    best = like.logp((*free, math.log(params["sig2_zero"])))
    assert best == pytest.approx(record["loglik"], rel=1e-12)
    for factor in (0.98, 0.995, 1.005, 1.02):
        assert like.logp((*free, math.log(params["sig2_zero"] * factor))) < best
    again, _ = refit_inflation(data, params)
    assert again["sig2_zero"] == pytest.approx(params["sig2_zero"], rel=1e-4)


def test_sig2_zero_stops_at_its_lower_bound_and_is_flagged():
    """z whose variance is all LD-proportional signal (z_j ~ N(0, 50 l_j / mean l), no
    intercept): the likelihood rises as sig2_zero falls, and the fits stop at
    SIG2_ZERO_LOWER instead of running log sig2_zero down (to 1e-6 here before, and to
    exp(-745) = 0.0 on a replicate of sparse statistics, which fit2 refused to read); fit1's
    warning names the boundary."""
    from bayesmix.cli.mixer_runs import fit1_warnings
    from bayesmix.inference.mle import SIG2_ZERO_LOWER

    rng = np.random.default_rng(4)
    data, _ = MixerData.synthetic(2000, block_size=100, n=2e4, rng=rng)
    l2, _ = data.ld_moments
    data = data.with_z(np.sqrt(50.0 * l2 / l2.mean()) * rng.standard_normal(data.n_tags))
    fit = fit_univariate(data, sequence=("infinitesimal", "fast"), n_draws=20)
    for step in fit.steps:
        assert step.params["sig2_zero"] == pytest.approx(SIG2_ZERO_LOWER, rel=1e-9)
    assert any("lower boundary" in w for w in fit1_warnings(fit, ld_in_sample=False))
