"""Hyperpriors written the ordinary PyMC way: conjugacy by family, and the graph is the target.

- A Beta / Dirichlet / InverseGamma prior under PyMC's default transform (logodds, simplex,
  log) gets the exact conjugate step, and the posterior equals the run with the built-in
  (untransformed ScaledInvChi2 / Beta / Dirichlet) prior of the same law within Monte Carlo
  error (ESS-based standard errors).
- Non-conjugate priors (HalfNormal on the variances) keep the Markov-blanket Metropolis step,
  and the posterior matches numerical integration of a 4-SNP SBayesC model (indicators
  enumerated, effects and pi integrated analytically, variances on a grid), for the exact and
  the robust (LD-sampling plug-in) likelihood.
- ``model.logp()`` of robust SBayes equals a hand-written density; its gradient matches
  finite differences.
"""

import re

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy.special import betaln

from bayesmix.distributions.graph import small_graph_mode
from bayesmix.distributions.variance import ScaledInvChi2
from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.gibbs import (EffectVarianceGibbs, MixtureWeightsGibbs, ResidualVarianceGibbs, make_steps)
from bayesmix.inference.step_base import PLUG_IN_EVERY, PLUG_IN_WARM_UP, MarkovBlanketMetropolis
from bayesmix.prepare.summary_data import SummaryData
from bayesmix.inference.sbayes_gibbs import (LDSamplingRatioPlugIn, SBayesResidualVarianceGibbs,
                                             make_sbayes_steps)
from bayesmix.ld.store import LDMatrix
from bayesmix.models.alphabet import AlphabetModel
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.models.sbayes import SAMPLING_RATIO, SAMPLING_WEIGHT, SBayesModel

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")

NU = 4.0


def individual_data(seed=0, n=200, m=12):
    rng = np.random.default_rng(seed)
    dosages = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(float)
    x = (dosages - dosages.mean(0)) / dosages.std(0)
    y = 1.0 + x[:, :3] @ np.array([0.3, -0.25, 0.2]) + rng.standard_normal(n)
    return AlphabetData.from_arrays(dosages, y)


def summary_data(seed=0, n=300, m=4, ld_sampling_var=None):
    """Summaries X'X, X'y, y'y of a small standardised design (in-sample LD), with the given
    LDsamplVar_j (zeros: the exact model)."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, m)).cumsum(axis=1)  # correlated columns
    x = (g - g.mean(0)) / g.std(0)
    y = x @ np.r_[0.25, np.zeros(m - 2), -0.15] + rng.standard_normal(n)
    y = (y - y.mean()) / y.std()
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})
    ld = LDMatrix.from_scipy(x.T @ x / n, snps.assign(n=n), meta={"kind": "full", "n_samples": n})
    stats = pd.DataFrame({"SNP": snps["snp"], "CHR": "1", "BP": snps["bp"], "A1": "A", "A2": "G",
                          "FREQ": 0.3, "BETA": np.nan, "SE": np.nan, "Z": np.nan, "N": float(n),
                          "H": 0.42, "V": np.nan, "B_STD": x.T @ y / n})
    samp = np.zeros(m) if ld_sampling_var is None else np.asarray(ld_sampling_var, np.float64)
    return SummaryData(stats=stats, ld=ld, n=np.full(m, float(n)), xty=x.T @ y,
                       xtx_diag=np.diag(x.T @ x).copy(), nobs=float(n), yty=float(y @ y),
                       vp=1.0, ld_score=np.zeros(m), ld_sampling_var=samp)


def ordinary_priors(model, weights):
    """The built-in priors of ``model`` (ScaledInvChi2(4, s2) variances, Beta(1, 1) or
    Dirichlet(1, ..., 1) weights) written as plain PyMC distributions with their default
    transforms."""
    s2 = {name: (NU - 2) / NU * model.start[name] for name in ("sig2_beta", "sig2_e")}
    priors = {name: (lambda name, s=s: pm.InverseGamma(name, alpha=NU / 2, beta=NU * s / 2))
              for name, s in s2.items()}
    k = model.n_components
    priors["pi"] = ((lambda name: pm.Dirichlet(name, a=np.ones(k))) if weights == "dirichlet"
                    else (lambda name: pm.Beta(name, 1.0, 1.0)))
    return priors


def mean_and_mcse(draws):
    """Posterior mean and its ESS-based Monte Carlo standard error ((chain, draw) array)."""
    draws = np.atleast_2d(draws)
    return draws.mean(), draws.std() / np.sqrt(float(az.ess(draws)))


def assert_same_posterior(first, second, names):
    for name in names:
        m1, se1 = mean_and_mcse(first.trace(name))
        m2, se2 = mean_and_mcse(second.trace(name))
        assert abs(m1 - m2) < 4 * np.hypot(se1, se2), (name, m1, m2, se1, se2)


@pytest.mark.parametrize("method, weights, conjugate, names", [
    ("C", "beta", ResidualVarianceGibbs, ("Pi", "SigmaSq", "ResVar", "hsq")),
    ("R", "dirichlet", ResidualVarianceGibbs, ("Pi1", "Pi4", "SigmaSq", "ResVar", "hsq")),
])
def test_ordinary_pymc_priors_get_conjugate_steps_and_the_same_posterior(method, weights,
                                                                          conjugate, names):
    data = individual_data()
    builtin = AlphabetModel(data, method)
    swapped = AlphabetModel(data, method, hyperpriors=ordinary_priors(builtin, weights))
    steps = {s.vars[0].name: type(s) for s in make_steps(swapped)}
    transformed = {"beta": "pi_logodds__", "dirichlet": "pi_simplex__"}[weights]
    assert steps == {"beta": steps["beta"], "alpha": steps["alpha"],
                     "sig2_e_log__": conjugate, transformed: MixtureWeightsGibbs,
                     "sig2_beta_log__": EffectVarianceGibbs}
    settings = ChainSettings(chain_length=1200, burn_in=200, thin=1, out_freq=0, seed=11)
    first = run_chains(builtin, make_steps, settings)
    settings.seed = 12  # independent draws, not the same stream
    second = run_chains(swapped, make_steps, settings)
    assert_same_posterior(first, second, names)


@pytest.mark.parametrize("robust", [False, True])
def test_sbayes_ordinary_priors_get_conjugate_steps_and_the_same_posterior(robust):
    data = summary_data(seed=1, m=10, ld_sampling_var=np.linspace(0.2, 1.0, 10))
    adapted = SBayesModel(data, "C", robust=robust)
    # the built-in sig2_beta prior with its scale held at the start (by default SBayes adapts
    # it during burn-in, SlabScalePlugIn), against the same priors written as plain PyMC ones
    s2 = (NU - 2) / NU * adapted.start["sig2_beta"]
    builtin = SBayesModel(data, "C", robust=robust, hyperpriors={
        "sig2_beta": lambda name: ScaledInvChi2(name, NU, s2)})
    swapped = SBayesModel(data, "C", robust=robust,
                          hyperpriors=ordinary_priors(adapted, "beta"))
    kinds = {s.vars[0].name: type(s) for s in make_sbayes_steps(swapped)}
    assert kinds["sig2_e_log__"] is SBayesResidualVarianceGibbs
    assert kinds["pi_logodds__"] is MixtureWeightsGibbs
    assert kinds["sig2_beta_log__"] is EffectVarianceGibbs
    assert (kinds.get(SAMPLING_RATIO) is LDSamplingRatioPlugIn) == robust
    settings = ChainSettings(chain_length=1500, burn_in=300, thin=1, out_freq=0, seed=5)
    first = run_chains(builtin, make_sbayes_steps, settings)
    settings.seed = 6
    second = run_chains(swapped, make_sbayes_steps, settings)
    assert_same_posterior(first, second, ("Pi", "SigmaSq", "ResVar", "hsq"))


def robust_density(data, beta, sig2_e, ratio, weight):
    """The robust likelihood by hand: SNP j's residual variance sig2_e kappa_j, kappa_j =
    1 + LDsamplVar_j h, as the summary likelihood with sample sizes n_j / kappa_j, and the
    phenotype's y'y and nobs counted with weight omega."""
    kappa = 1.0 + data.ld_sampling_var * ratio
    xtx = np.sqrt(np.outer(data.n, data.n)) * data.ld.to_scipy().toarray().astype(np.float64)
    q = xtx / np.sqrt(np.outer(kappa, kappa))
    sse = weight * data.yty - 2.0 * beta @ (data.xty / kappa) + beta @ q @ beta
    return -weight * data.nobs / 2 * np.log(2 * np.pi * sig2_e) - sse / (2 * sig2_e)


def test_robust_logp_is_the_hand_written_density_and_its_gradient_matches():
    import pytensor

    data = summary_data(seed=2, m=6, ld_sampling_var=[0.1, 0.5, 0.9, 0.3, 0.0, 1.2])
    rng = np.random.default_rng(4)
    beta = rng.normal(0.0, 0.1, 6)
    for robust in (True, False):
        model = SBayesModel(data, "C", robust=robust)
        assert model.ridge == 0.0 and model.has_sampling_ratio == robust
        pm_model = model.model
        logp = pm_model.logp(vars=[pm_model["xty"]])
        grad = pytensor.grad(logp, pm_model.value_vars, disconnected_inputs="ignore")
        f = pm_model.compile_fn([logp, *grad], inputs=pm_model.value_vars,
                                on_unused_input="ignore", point_fn=False,
                                mode=small_graph_mode())
        names = [v.name for v in pm_model.value_vars]
        point = model.initial_point()
        point.update(beta=beta, sig2_e=np.asarray(0.85))
        ratio, weight = (0.6, 0.8) if robust else (0.0, 1.0)
        if robust:
            point[SAMPLING_RATIO], point[SAMPLING_WEIGHT] = np.asarray(ratio), np.asarray(weight)

        def call(p):
            return f(*[p[name] for name in names])

        value, *grads = call(point)
        assert value == pytest.approx(robust_density(data, beta, 0.85, ratio, weight), rel=1e-7)
        # gradient in beta, sig2_e, h and omega against central differences
        eps = 1e-6
        for name in ("beta", "sig2_e") + ((SAMPLING_RATIO, SAMPLING_WEIGHT) if robust else ()):
            g = np.atleast_1d(grads[names.index(name)])
            for i in range(g.size):
                up, down = dict(point), dict(point)
                up[name] = np.array(point[name], np.float64).copy()
                down[name] = np.array(point[name], np.float64).copy()
                up[name].flat[i] += eps
                down[name].flat[i] -= eps
                fd = (call(up)[0] - call(down)[0]) / (2 * eps)
                assert g[i] == pytest.approx(fd, rel=1e-5, abs=1e-6), (name, i)


def log_half_normal(x, sd):
    return -x**2 / (2 * sd**2)


def log_inverse_gamma(x, alpha, beta):
    return -(alpha + 1) * np.log(x) - beta / x


def grid_posterior(data, ratio, weight, a_pi, b_pi, log_prior_e, log_prior_beta):
    """Posterior means of sig2_e, sig2_beta and the PIPs of SBayesC with pi ~ Beta(a, b) and
    the given log prior densities of the variances, at LD-sampling plug-ins h, omega: indicators
    enumerated, effects (Gaussian) and pi (Beta-Bernoulli) integrated in closed form, the two
    variances on a grid."""
    m = len(data.xty)
    kappa = 1.0 + data.ld_sampling_var * ratio
    xtx = np.sqrt(np.outer(data.n, data.n)) * data.ld.to_scipy().toarray().astype(np.float64)
    q = xtx / np.sqrt(np.outer(kappa, kappa))
    c = data.xty / kappa
    s2e = np.linspace(0.5, 1.6, 300)[:, None]
    log_s2b = np.linspace(np.log(1e-5), np.log(20.0), 400)[None, :]
    s2b = np.exp(log_s2b)
    base = (-0.5 * weight * data.nobs * np.log(s2e) - weight * data.yty / (2 * s2e)
            + log_prior_e(s2e) + log_prior_beta(s2b) + log_s2b)  # + log s2b: the log-spaced grid's measure
    logs, pips = [], []
    for config in range(2**m):
        on = np.array([(config >> j) & 1 for j in range(m)], bool)
        k = int(on.sum())
        term = base + betaln(a_pi + k, b_pi + m - k) - betaln(a_pi, b_pi)
        if k:
            eig, vec = np.linalg.eigh(q[np.ix_(on, on)])
            proj = vec.T @ c[on]
            for d, p in zip(eig, proj):
                prec = d / s2e + 1.0 / s2b
                term = term - 0.5 * np.log(prec) + p**2 / (2 * s2e**2 * prec)
            term = term - 0.5 * k * np.log(s2b)
        logs.append(term)
        pips.append(on)
    logs = np.array(logs)
    w = np.exp(logs - logs.max())
    w /= w.sum()
    s2e_grid, s2b_grid = np.broadcast_to(s2e, w.shape[1:]), np.broadcast_to(s2b, w.shape[1:])
    assert w[:, [0, -1], :].sum() < 1e-6 and w[:, :, [0, -1]].sum() < 1e-6  # grid covers it
    return ((w * s2e_grid).sum(), (w * s2b_grid).sum(),
            np.array(pips, float).T @ w.sum(axis=(1, 2)))


@pytest.mark.parametrize("robust, half_normal", [(False, "sig2_beta"), (True, "sig2_e")])
def test_halfnormal_variance_matches_numerical_integration(robust, half_normal):
    """Metropolis (with the log transform's Jacobian) on a HalfNormal variance prior, conjugate
    steps on an InverseGamma variance and a Beta(2, 8) pi under their log / logodds transforms,
    and (robust) the plug-in h fixed after burn-in: posterior means and PIPs equal the grid
    integral of the graph's density at that h."""
    data = summary_data(seed=3, m=4, ld_sampling_var=[0.4, 0.8, 0.2, 1.0])
    sd = {"sig2_e": 1.0, "sig2_beta": 0.3}[half_normal]
    other = "sig2_beta" if half_normal == "sig2_e" else "sig2_e"
    shape, rate = {"sig2_e": (2.0, 1.0), "sig2_beta": (2.0, 0.02)}[other]
    model = SBayesModel(data, "C", robust=robust, hyperpriors={
        "pi": lambda name: pm.Beta(name, 2.0, 8.0),
        half_normal: lambda name: pm.HalfNormal(name, sd),
        other: lambda name: pm.InverseGamma(name, shape, rate)})
    steps = make_sbayes_steps(model, rng=7)
    kinds = {s.vars[0].name: type(s) for s in steps}
    assert kinds[half_normal + "_log__"] is MarkovBlanketMetropolis
    assert kinds[other + "_log__"] in (SBayesResidualVarianceGibbs, EffectVarianceGibbs)
    assert kinds["pi_logodds__"] is MixtureWeightsGibbs
    burn_in, draws = 300, 2000
    for step, seed in zip(steps, np.random.default_rng(8).spawn(len(steps))):
        step.setup_chain(seed, burn_in, draws)
    point = model.initial_point()
    trace = {"sig2_e": [], "sig2_beta": [], "on": []}
    for it in range(burn_in + draws):
        if it == burn_in:
            for step in steps:
                step.stop_tuning()
        for step in steps:
            point, _ = step.step(point)
        if it >= burn_in:
            trace["sig2_e"].append(float(np.exp(point["sig2_e_log__"])))
            trace["sig2_beta"].append(float(np.exp(point["sig2_beta_log__"])))
            trace["on"].append(np.asarray(point["comp"]) > 0)
    ratio = float(point[SAMPLING_RATIO]) if robust else 0.0
    weight = float(point[SAMPLING_WEIGHT]) if robust else 1.0
    assert (ratio > 0) == robust and 0 < weight <= 1
    priors = {half_normal: lambda x: log_half_normal(x, sd),
              other: lambda x: log_inverse_gamma(x, shape, rate)}
    mean_e, mean_b, pip = grid_posterior(data, ratio, weight, 2.0, 8.0, priors["sig2_e"],
                                         priors["sig2_beta"])
    for name, truth in (("sig2_e", mean_e), ("sig2_beta", mean_b)):
        mean, se = mean_and_mcse(np.array(trace[name]))
        assert abs(mean - truth) < 4 * se + 1e-3 * truth, (name, mean, truth, se)
    on = np.array(trace["on"], float)
    for j in range(4):
        mean, se = mean_and_mcse(on[:, j])
        assert abs(mean - pip[j]) < 4 * se + 0.005, (j, mean, pip[j], se)


def test_robust_plug_in_keeps_pymc_contract():
    """Inside pm.sample the plug-in h follows the chain during tuning only: every kept draw
    of a chain has the same h, the GenVar / sig2_e of that chain's last tuning state."""
    data = summary_data(seed=1, m=10, ld_sampling_var=np.linspace(0.2, 1.0, 10))
    model = SBayesModel(data, "C")
    with model.model:
        tree = pm.sample(draws=40, tune=30, chains=2, cores=1, random_seed=1,
                         step=make_sbayes_steps(model), compute_convergence_checks=False,
                         progressbar=False)
    ratio = tree.posterior[SAMPLING_RATIO].values
    assert (ratio == ratio[:, :1]).all() and ratio[0, 0] != ratio[1, 0] and (ratio > 0).all()
    weight = tree.posterior[SAMPLING_WEIGHT].values
    assert (weight == weight[:, :1]).all() and ((weight > 0) & (weight <= 1)).all()


def test_robust_plug_in_schedule():
    """During burn-in the plug-in h is set at each of the first PLUG_IN_WARM_UP iterations,
    then at every PLUG_IN_EVERY-th counted back from the last one, each time to GenVar /
    sig2_e of the state before that iteration (GenVar = beta'X'X beta / nobs, here from the
    dense X'X), and at the last one to the mean of those set in the burn-in's second half;
    in between and after burn-in it stays."""
    data = summary_data(seed=2, n=400, m=6, ld_sampling_var=np.linspace(0.2, 1.0, 6))
    model = SBayesModel(data, "C", min_eigenvalue=0.0)
    assert model.ridge == 0.0
    xtx = data.nobs * data.ld.to_scipy().toarray()  # the helper's X'X: n R
    burn_in = PLUG_IN_WARM_UP + 3 * PLUG_IN_EVERY + 4
    steps = make_sbayes_steps(model, rng=5)
    for k, step in enumerate(steps):
        step.setup_chain(np.random.default_rng(k), burn_in, 15)
    point = model.initial_point()
    ratios, expected = [], []
    for iteration in range(1, burn_in + 16):
        beta = np.asarray(point["beta"])
        expected.append(max(beta @ xtx @ beta / data.nobs, 0.0)
                        / model.derived_value(point, "sig2_e"))
        for step in steps:
            point, stats = step.step(point)
            if isinstance(step, LDSamplingRatioPlugIn):
                ratios.append(stats[0]["ld_sampling_ratio"])
        if iteration == burn_in:
            for step in steps:
                step.stop_tuning()
    set_at = [t for t in range(1, burn_in + 1) if t <= PLUG_IN_WARM_UP
              or (burn_in - t) % PLUG_IN_EVERY == 0]
    assert set_at[-4:] == [burn_in - 3 * PLUG_IN_EVERY, burn_in - 2 * PLUG_IN_EVERY,
                           burn_in - PLUG_IN_EVERY, burn_in]
    held = None
    # the last burn-in iteration holds the mean over the settings of the burn-in's second half
    mean_second_half = np.mean([expected[t - 1] for t in set_at if 2 * t > burn_in])
    for t, (ratio, truth) in enumerate(zip(ratios, expected), start=1):
        if t in set_at:
            truth = mean_second_half if t == burn_in else truth
            assert ratio == pytest.approx(truth, rel=1e-6, abs=1e-15), t  # int16 LD
            held = ratio
        else:
            assert ratio == held, t
    assert len(set(np.round(ratios[PLUG_IN_WARM_UP:], 15))) > 2  # it moved after the warm-up


@pytest.mark.parametrize("method,options,keys", [
    ("C", {}, ["S"]),                                    # BayesC has no S
    ("C", {"fix_pi": True}, ["pi"]),                     # a fixed pi is no variable
    ("R", {}, ["S"]),
])
@pytest.mark.parametrize("level", ["summary", "individual"])
def test_hyperpriors_for_variables_the_model_lacks_are_refused(method, options, keys, level):
    """A hyperprior for a variable the model does not have was dropped silently (the model
    ran with its default priors); now it is an InputError naming it. Truth: the model's own
    free variables, which do not include the refused names."""
    from bayesmix.errors import InputError
    from bayesmix.models.alphabet import AlphabetPrior

    hyper = {key: (lambda name: pm.HalfNormal(name, 1.0)) for key in keys}
    prior = AlphabetPrior(method, **options)
    if level == "summary":
        build = lambda h: SBayesModel(summary_data(seed=3, m=6), prior, hyperpriors=h)  # noqa: E731
    else:
        rng = np.random.default_rng(3)
        data = AlphabetData.from_arrays(rng.binomial(2, 0.3, (40, 6)).astype(float),
                                        rng.normal(size=40))
        build = lambda h: AlphabetModel(data, prior, hyperpriors=h)  # noqa: E731
    assert not set(keys) & {rv.name for rv in build({}).model.free_RVs}
    with pytest.raises(InputError, match=re.escape(f"hyperpriors {keys!r} name no variable")):
        build(hyper)
