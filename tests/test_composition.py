"""Composed effect priors (docs/composition.md) against exact posteriors on tiny problems.

Each composition runs the bayesmix steps (numba sweep plus the step ``make_steps`` picks for
the new variable) on 2-4 SNPs with the other hyperparameters fixed, and is compared with
the posterior computed independently: the effects integrated out analytically (normal slabs)
or by quadrature on a grid (heavy-tailed slabs), summed over all indicator configurations,
and the new hyperparameter integrated on a grid.

1. annotation-dependent weights pi_j = softmax([0, A_j theta]), theta ~ Normal (individual
   and summary data);
2. heavy-tailed slabs as scale mixtures: Laplace (tau_j ~ Exponential), Student-t (tau_j ~
   InverseGamma) and a log-normal scale (no closed-form step: elementwise Metropolis);
3. a slab variance depending on a covariate, v_j = sig2_beta exp(s x_j), s ~ Normal(0, 1).
"""

import itertools

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

from bayesmix.distributions.effects import annotation_weights, covariate_scaled_variance
from bayesmix.inference.effect_steps import (AnnotationWeightsMetropolis, SnpScaleMixtureGibbs,
                                             SnpwiseMetropolis)
from bayesmix.inference.gibbs import EffectsGibbs, FixedEffectsGibbs, make_steps
from bayesmix.inference.step_base import MarkovBlanketMetropolis
from bayesmix.prepare.summary_data import SummaryData
from bayesmix.inference.sbayes_gibbs import SBayesEffectsGibbs, make_sbayes_steps
from bayesmix.ld.store import LDMatrix
from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.models.sbayes import SBayesModel

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")

SIG2_E = 0.9


def tiny_cohort(seed, n, effects):
    rng = np.random.default_rng(seed)
    m = len(effects)
    dosages = rng.binomial(2, rng.uniform(0.2, 0.5, m), size=(n, m)).astype(float)
    x = (dosages - dosages.mean(0)) / dosages.std(0)
    y = 0.5 + x @ np.asarray(effects) + np.sqrt(SIG2_E) * rng.standard_normal(n)
    return dosages, y


def centred_normal_equations(model):
    """X'X, X'y of the model's design with y centred (integrating the flat intercept out
    only changes every configuration's likelihood by the same factor: X's columns are
    centred)."""
    x = model.data.genotypes.dense()
    y = model.data.y - model.data.y.mean()
    return x.T @ x, x.T @ y


def log_marginal(xtx, xty, var, s2e):
    """log p(y | effect variances ``var`` (..., M); 0 = no effect) up to a common constant,
    the normal effects integrated out; batched over leading axes."""
    var = np.asarray(var, np.float64)
    m = xtx.shape[0]
    active = var > 0
    safe = np.where(active, var, 1.0)
    # the normal equations restricted to active SNPs; inactive ones get an identity row
    mask = active[..., :, None] & active[..., None, :]
    a = np.where(mask, xtx, 0.0) + np.where(active, s2e / safe, 1.0)[..., None] * np.eye(m)
    u = np.where(active, xty, 0.0)
    sol = np.linalg.solve(a, u[..., None])[..., 0]
    logdet = np.linalg.slogdet(a)[1] - np.where(active, np.log(s2e / safe), 0.0).sum(-1)
    return -0.5 * logdet + 0.5 * (u * sol).sum(-1) / s2e


def configurations(m):
    return np.array(list(itertools.product([0, 1], repeat=m)))


def run_steps(model, steps, fixed, iterations, burn_in, seed, record):
    """Drive ``steps`` from the model's starting point with ``fixed`` values set; returns
    the recorded draws after burn-in."""
    point = model.initial_point()
    point.update({k: np.asarray(v) for k, v in fixed.items()})
    for step, rng in zip(steps, np.random.default_rng(seed).spawn(len(steps))):
        step.setup_chain(rng, burn_in, iterations - burn_in)
    draws = []
    for it in range(iterations):
        for step in steps:
            point, _ = step.step(point)
        if it + 1 == burn_in:
            for step in steps:
                step.stop_tuning()
        if it >= burn_in:
            draws.append(record(point))
    return np.array(draws)


def batch_se(draws, n_batches=40):
    batches = np.array_split(np.asarray(draws, np.float64), n_batches)
    return np.array([b.mean(0) for b in batches]).std(0, ddof=1) / np.sqrt(n_batches)


def assert_close(draws, exact, atol):
    mc = np.asarray(draws, np.float64).mean(0)
    se = batch_se(draws)
    assert np.all(np.abs(mc - exact) < 5 * se + atol), (mc, exact, se)


# ----------------------------------------------------------------- 1. annotation weights
ANNOTATION = np.array([2.0, -1.0, 1.0, -2.0])
THETA_MEAN, THETA_SD = np.array([-0.5, 0.0]), 1.0
SIG2_BETA = 0.05


def annotation_posterior(xtx, xty):
    """Exact PIPs and posterior mean of theta = (intercept, slope) on a 2-D grid."""
    grid = np.linspace(-5, 5, 161)
    t0, t1 = np.meshgrid(grid, grid, indexing="ij")
    logit = t0[..., None] + t1[..., None] * ANNOTATION  # (G, G, M)
    log_w1, log_w0 = -np.logaddexp(0, -logit), -np.logaddexp(0, logit)
    configs = configurations(len(ANNOTATION))
    log_ml = log_marginal(xtx, xty, configs * SIG2_BETA, SIG2_E)
    terms = np.stack([np.where(c == 1, log_w1, log_w0).sum(-1) + ml
                      for c, ml in zip(configs, log_ml)])  # (C, G, G)
    prior = stats.norm.logpdf(t0, THETA_MEAN[0], THETA_SD) + stats.norm.logpdf(
        t1, THETA_MEAN[1], THETA_SD)
    joint = terms + prior
    post = np.exp(joint - joint.max())
    post /= post.sum()
    pip = np.einsum("cgh,cm->m", post, configs)
    theta = np.array([(post.sum(0) * t0).sum(), (post.sum(0) * t1).sum()])
    return pip, theta


def test_annotation_kernels_match_direct_formulas():
    """annotation_softmax (weights, normaliser f, its gradient and Hessian) against scipy's
    log-softmax, finite differences of f and of its gradient; annotation_component_sums
    against a one-hot product; on random annotations, theta and components, 4 components,
    with logits large enough to need the max shift."""
    from bayesmix.kernels.gibbs import annotation_component_sums, annotation_softmax

    rng = np.random.default_rng(5)
    m, n_a, k = 200, 3, 4
    a = np.column_stack([np.ones(m), rng.standard_normal((m, n_a - 1)) * 20])
    a_t = np.ascontiguousarray(a.T)
    theta = rng.standard_normal((n_a, k - 1))
    logits = np.column_stack([np.zeros(m), a @ theta])
    f, log_w, w, mean_w, grad, hess = annotation_softmax(a_t, theta)
    expected = logits - logsumexp(logits, axis=1, keepdims=True)
    np.testing.assert_allclose(log_w, expected, atol=1e-10)
    np.testing.assert_allclose(w, np.exp(expected), atol=1e-12)
    np.testing.assert_allclose(mean_w, np.exp(expected).mean(0), atol=1e-12)
    assert np.isclose(f, logsumexp(logits, axis=1).sum(), rtol=1e-12)
    theta_small = theta / 20  # finite differences where f is smooth on the step's scale
    _, _, _, _, grad, hess = annotation_softmax(a_t, theta_small)
    eps = 1e-6
    steps = [eps * e.reshape(theta.shape) for e in np.eye(theta.size)]
    num_grad = np.array([(annotation_softmax(a_t, theta_small + d)[0]
                          - annotation_softmax(a_t, theta_small - d)[0]) / (2 * eps) for d in steps])
    np.testing.assert_allclose(grad.ravel(), num_grad, rtol=1e-6, atol=1e-5)
    num_hess = np.array([(annotation_softmax(a_t, theta_small + d)[4]
                          - annotation_softmax(a_t, theta_small - d)[4]).ravel() / (2 * eps)
                         for d in steps])
    np.testing.assert_allclose(hess, num_hess, rtol=1e-5, atol=1e-4)
    comp = rng.integers(0, k, m)
    one_hot = (comp[:, None] == np.arange(1, k)).astype(float)
    np.testing.assert_allclose(annotation_component_sums(a, comp, k - 1), a.T @ one_hot,
                               rtol=1e-12)


def test_annotation_weights_step_matches_generic_density():
    """The step's l(theta), gradient and Hessian (numba kernels annotation_component_sums and
    annotation_softmax) against the model's own Markov-blanket log density (PyMC) and finite
    differences, on random components and theta, 3 components."""
    rng = np.random.default_rng(0)
    m, k = 30, 3
    dosages, y = tiny_cohort(9, 40, np.zeros(m))
    a = np.column_stack([np.ones(m), rng.standard_normal(m)])
    model = AlphabetModel(AlphabetData.from_arrays(dosages, y),
                          AlphabetPrior("R", gamma=(0.0, 0.1, 1.0)), hyperpriors={
        "weights": lambda default: annotation_weights(a, pm.Normal("theta", [0.5, -1.0], 2.0,
                                                                   shape=(2, k - 1)))})
    step = next(s for s in make_steps(model) if isinstance(s, AnnotationWeightsMetropolis))
    with model.model:
        generic = MarkovBlanketMetropolis([model.model["theta"]], alphabet=model)
    point = model.initial_point()
    point["comp"] = rng.integers(0, k, m)
    comp = point["comp"]
    thetas = [rng.standard_normal((2, k - 1)) for _ in range(2)]
    for theta in thetas:
        point["theta"] = theta
        lp, grad, hess = step._log_density(theta, comp, True)
        other = dict(point, theta=thetas[1] if theta is thetas[0] else thetas[0])
        assert np.isclose(lp - step._log_density(other["theta"], comp),
                          generic._eval(point) - generic._eval(other), rtol=1e-9, atol=1e-9)
        eps = 1e-5
        num_grad = np.array([(step._log_density(theta + eps * e.reshape(theta.shape), comp)
                              - step._log_density(theta - eps * e.reshape(theta.shape), comp))
                             / (2 * eps) for e in np.eye(theta.size)])
        np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-6)
        num_hess = np.array([(step._log_density(theta + eps * e.reshape(theta.shape), comp, True)[1]
                              - step._log_density(theta - eps * e.reshape(theta.shape), comp, True)[1])
                             / (2 * eps) for e in np.eye(theta.size)])
        np.testing.assert_allclose(hess, num_hess, rtol=1e-5, atol=1e-5)


def annotation_prior(default):
    theta = pm.Normal("theta", THETA_MEAN, THETA_SD, shape=2)
    return annotation_weights(np.column_stack([np.ones(len(ANNOTATION)), ANNOTATION]), theta)


def test_annotation_weights_individual_data_match_enumeration():
    dosages, y = tiny_cohort(3, 70, [0.3, 0.0, -0.2, 0.0])
    model = AlphabetModel(AlphabetData.from_arrays(dosages, y), "C",
                          hyperpriors={"weights": annotation_prior})
    steps = make_steps(model)
    chosen = {type(s).__name__ for s in steps}
    assert "MixtureWeightsGibbs" not in chosen  # pi is gone with composed weights
    steps = [s for s in steps if isinstance(s, (EffectsGibbs, FixedEffectsGibbs,
                                                AnnotationWeightsMetropolis))]
    assert len(steps) == 3
    draws = run_steps(model, steps, {"sig2_beta": SIG2_BETA, "sig2_e": SIG2_E}, 10_000, 1_000,
                      1, lambda p: np.r_[p["beta"] != 0, p["theta"]])
    pip, theta = annotation_posterior(*centred_normal_equations(model))
    assert 0.1 < pip.min() and pip.max() < 0.999
    assert_close(draws[:, :4], pip, 0.01)
    assert_close(draws[:, 4:], theta, 0.02)


def summary_from_design(x, y):
    """SummaryData holding exactly X'X, X'y, y'y of a design (in-sample full 'LD')."""
    n, m = x.shape
    freq = np.full(m, 0.3)
    snps = pd.DataFrame({"snp": [f"rs{j}" for j in range(m)], "chr": "1",
                         "bp": 1000 * np.arange(1, m + 1), "a1": "A", "a2": "G", "freq": freq})
    xtx = x.T @ x
    ld = LDMatrix.from_scipy(xtx / n, snps.assign(n=n), meta={"kind": "full", "n_samples": n})
    table = pd.DataFrame({"SNP": snps["snp"], "CHR": snps["chr"], "BP": snps["bp"],
                          "A1": "A", "A2": "G", "FREQ": freq, "BETA": np.nan, "SE": np.nan,
                          "Z": np.nan, "N": float(n), "H": 2 * freq * (1 - freq), "V": np.nan,
                          "B_STD": x.T @ y / n})
    return SummaryData(stats=table, ld=ld, n=np.full(m, float(n)), xty=x.T @ y,
                       xtx_diag=np.diag(xtx).copy(), nobs=float(n), yty=float(y @ y), vp=1.0,
                       ld_score=np.zeros(m), ld_sampling_var=np.ones(m), ld_in_sample=True)


def test_annotation_weights_summary_data_match_enumeration():
    dosages, y = tiny_cohort(4, 70, [0.3, 0.0, -0.2, 0.0])
    x = (dosages - dosages.mean(0)) / dosages.std(0)
    y = y - y.mean()
    model = SBayesModel(summary_from_design(x, y), "C", robust=False,
                        hyperpriors={"weights": annotation_prior})
    steps = [s for s in make_sbayes_steps(model)
             if isinstance(s, (SBayesEffectsGibbs, AnnotationWeightsMetropolis))]
    assert len(steps) == 2
    draws = run_steps(model, steps, {"sig2_beta": SIG2_BETA, "sig2_e": SIG2_E}, 10_000, 1_000,
                      2, lambda p: np.r_[p["beta"] != 0, p["theta"]])
    pip, theta = annotation_posterior(x.T @ x, x.T @ y)
    assert 0.1 < pip.min() and pip.max() < 0.999
    assert_close(draws[:, :4], pip, 0.01)
    assert_close(draws[:, 4:], theta, 0.02)


# ----------------------------------------------------------------- 2. heavy-tailed slabs
LAPLACE_RATE = 20.0  # tau ~ Exponential(rate): beta | slab ~ Laplace(scale 1 / sqrt(2 rate))
T_SHAPE, T_SCALE = 2.0, 2.0  # tau ~ InverseGamma: beta | slab ~ sqrt(sig2_beta) t_4 scaled
LOGNORMAL_MU, LOGNORMAL_SD = np.log(0.03), 1.0


def slab_log_density(kind, b):
    """log prior density of a slab effect b, the scale mixture integrated independently."""
    if kind == "laplace":
        lam = np.sqrt(2 * LAPLACE_RATE)
        return stats.laplace.logpdf(b, scale=1 / lam)
    if kind == "student":
        return stats.t.logpdf(b, df=2 * T_SHAPE, scale=np.sqrt(SIG2_BETA * T_SCALE / T_SHAPE))
    # log-normal variance: integrate N(b | 0, tau) LogNormal(tau) over log tau by quadrature
    log_tau = np.linspace(LOGNORMAL_MU - 9 * LOGNORMAL_SD, LOGNORMAL_MU + 9 * LOGNORMAL_SD, 801)
    terms = (stats.norm.logpdf(b[..., None], 0.0, np.exp(0.5 * log_tau))
             + stats.norm.logpdf(log_tau, LOGNORMAL_MU, LOGNORMAL_SD))
    return logsumexp(terms, axis=-1) + np.log(log_tau[1] - log_tau[0])


def heavy_tail_posterior(kind, xtx, xty, pi):
    """Exact PIPs and posterior means of 2 SNPs: each configuration's slab effects
    integrated on a grid against the Gaussian likelihood."""
    grid = np.linspace(-1.5, 1.5, 1201)
    step = grid[1] - grid[0]
    log_prior = slab_log_density(kind, grid)
    b1, b2 = np.meshgrid(grid, grid, indexing="ij")

    def loglik(b):  # -||y - X b||^2 / (2 s2e) up to a constant, b = (..., 2)
        quad = np.einsum("...i,ij,...j->...", b, xtx, b)
        return (b @ xty - 0.5 * quad) / SIG2_E

    log_mass, means = [], []
    for config in configurations(2):
        if config.sum() == 0:
            log_mass.append(0.0)
            means.append(np.zeros(2))
            continue
        if config.sum() == 1:
            j = int(np.flatnonzero(config)[0])
            b = np.zeros((len(grid), 2))
            b[:, j] = grid
            lw = loglik(b) + log_prior
        else:
            b = np.stack([b1, b2], -1)
            lw = loglik(b) + log_prior[:, None] + log_prior[None, :]
        top = lw.max()
        w = np.exp(lw - top)
        log_mass.append(top + np.log(w.sum() * step ** config.sum()))
        means.append((w[..., None] * b).sum(tuple(range(w.ndim))) / w.sum())
    configs = configurations(2)
    log_post = np.array(log_mass) + (configs * np.log(pi) + (1 - configs) * np.log1p(-pi)).sum(1)
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    return post @ configs, post @ np.array(means)


HEAVY_TAILS = {
    "laplace": (lambda default: pm.Exponential("tau", LAPLACE_RATE, dims="snp"),
                SnpScaleMixtureGibbs),
    "student": (lambda default: default() * pm.InverseGamma("tau", T_SHAPE, T_SCALE, dims="snp"),
                SnpScaleMixtureGibbs),
    "lognormal": (lambda default: pm.LogNormal("tau", LOGNORMAL_MU, LOGNORMAL_SD, dims="snp"),
                  SnpwiseMetropolis),
}


@pytest.mark.parametrize("kind", list(HEAVY_TAILS))
def test_heavy_tailed_slab_matches_quadrature(kind):
    dosages, y = tiny_cohort(5, 60, [0.35, 0.12])
    slab, step_class = HEAVY_TAILS[kind]
    pi = 0.5
    model = AlphabetModel(AlphabetData.from_arrays(dosages, y),
                          AlphabetPrior("C", pi=pi, fix_pi=True), hyperpriors={"slab_var": slab})
    steps = make_steps(model)
    assert [type(s) for s in steps if s.vars[0].name.startswith("tau")] == [step_class]
    steps = [s for s in steps if isinstance(s, (EffectsGibbs, FixedEffectsGibbs, step_class))]
    draws = run_steps(model, steps, {"sig2_beta": SIG2_BETA, "sig2_e": SIG2_E}, 10_000, 1_000,
                      3, lambda p: np.r_[p["beta"] != 0, p["beta"]])
    pip, mean = heavy_tail_posterior(kind, *centred_normal_equations(model), pi)
    assert 0.1 < pip.min() and pip.max() < 0.999
    assert_close(draws[:, :2], pip, 0.01)
    assert_close(draws[:, 2:], mean, 0.005)


# ----------------------------------------------------------------- 3. covariate variance
COVARIATE = np.array([-1.5, -0.5, 0.5, 1.5])


def covariate_posterior(xtx, xty, pi):
    """Exact PIPs and posterior mean of the slope s of log v_j on a 1-D grid."""
    grid = np.linspace(-6, 6, 1201)
    configs = configurations(len(COVARIATE))
    var = SIG2_BETA * np.exp(grid[:, None] * COVARIATE)  # (G, M)
    log_ml = log_marginal(xtx, xty, configs[None, :, :] * var[:, None, :], SIG2_E)  # (G, C)
    log_prior_c = (configs * np.log(pi) + (1 - configs) * np.log1p(-pi)).sum(1)
    joint = log_ml + log_prior_c + stats.norm.logpdf(grid)[:, None]
    post = np.exp(joint - joint.max())
    post /= post.sum()
    return post.sum(0) @ configs, post.sum(1) @ grid


def test_covariate_dependent_variance_matches_enumeration():
    dosages, y = tiny_cohort(6, 70, [0.05, 0.1, -0.2, 0.4])
    pi = 0.5
    model = AlphabetModel(
        AlphabetData.from_arrays(dosages, y), AlphabetPrior("C", pi=pi, fix_pi=True),
        hyperpriors={"slab_var": lambda default: covariate_scaled_variance(
            default(), COVARIATE, pm.Normal("ld_slope", 0.0, 1.0))})
    steps = make_steps(model)
    assert "EffectVarianceGibbs" in {type(s).__name__ for s in steps}  # still proportional
    steps = [s for s in steps if isinstance(s, (EffectsGibbs, FixedEffectsGibbs))
             or (isinstance(s, MarkovBlanketMetropolis) and s.value_name == "ld_slope")]
    assert len(steps) == 3
    draws = run_steps(model, steps, {"sig2_beta": SIG2_BETA, "sig2_e": SIG2_E}, 10_000, 1_000,
                      4, lambda p: np.r_[p["beta"] != 0, p["ld_slope"]])
    pip, slope = covariate_posterior(*centred_normal_equations(model), pi)
    assert 0.1 < pip.min() and pip.max() < 0.999
    assert_close(draws[:, :4], pip, 0.01)
    assert_close(draws[:, 4], slope, 0.02)


# ----------------------------------------------------------------- step choice and errors
def test_conjugate_updates_are_refused_where_the_composed_prior_breaks_them():
    dosages, y = tiny_cohort(7, 40, [0.2, 0.0, 0.1])
    data = AlphabetData.from_arrays(dosages, y)
    # sig2_beta + tau is not proportional to sig2_beta: no closed-form sig2_beta update
    added = AlphabetModel(data, "C", hyperpriors={
        "slab_var": lambda default: default() + pm.HalfNormal("extra", 0.1)})
    names = {s.vars[0].name: type(s).__name__ for s in make_steps(added)}
    assert names["sig2_beta"] == "MarkovBlanketMetropolis"
    assert names["pi"] == "MixtureWeightsGibbs"
    # a per-SNP variance shared with another SNP's term does not factorise
    coupled = AlphabetModel(data, "C", hyperpriors={
        "slab_var": lambda default: pm.math.cumsum(pm.HalfNormal("tau", 0.1, dims="snp"))})
    names = {s.vars[0].name: type(s).__name__ for s in make_steps(coupled)}
    assert names["tau_log__"] == "MarkovBlanketMetropolis"


def test_bad_compositions_are_input_errors():
    from bayesmix.errors import InputError

    dosages, y = tiny_cohort(8, 40, [0.2, 0.0, 0.1])
    data = AlphabetData.from_arrays(dosages, y)
    with pytest.raises(InputError, match="hyperpriors can replace"):
        AlphabetModel(data, "C", hyperpriors={"effects": lambda default: default()})
    with pytest.raises(InputError, match="weights.*shape"):
        AlphabetModel(data, "C", hyperpriors={"weights": lambda default: np.full((3, 3), 1 / 3)})
    with pytest.raises(InputError, match="slab_var.*shape"):
        AlphabetModel(data, "C", hyperpriors={"slab_var": lambda default: np.ones(5)})
    with pytest.raises(InputError, match="annotations"):
        annotation_weights(np.ones(3), np.zeros(1))


def test_annotation_weights_refuse_a_non_finite_start():
    """theta started at log(0) = -inf (a starting weight of 0) left the Newton proposals at
    -inf for the whole chain, and every weight at its start, without a word."""
    from bayesmix.errors import InputError

    m, k = 30, 3
    dosages, y = tiny_cohort(9, 40, np.zeros(m))
    a = np.column_stack([np.ones(m), np.random.default_rng(1).standard_normal(m)])
    start = np.zeros((2, k - 1))
    start[0, 0] = -np.inf
    model = AlphabetModel(AlphabetData.from_arrays(dosages, y),
                          AlphabetPrior("R", gamma=(0.0, 0.1, 1.0)), hyperpriors={
        "weights": lambda default: annotation_weights(a, pm.Normal(
            "theta", 0.0, 3.0, shape=(2, k - 1), initval=start))})
    assert not np.isfinite(model.initial_point()["theta"]).all()
    with pytest.raises(InputError, match="theta of the annotation weights starts at values "
                                         "that are not finite"):
        make_steps(model)
