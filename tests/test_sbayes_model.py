"""SBayes models end to end: equivalence with individual-level BayesC, divergence, outputs."""

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayesmix.distributions.variance import ScaledInvChi2
from bayesmix.errors import ConvergenceError
from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.gibbs import make_steps
from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
from bayesmix.inference.sbayes_run import run_sbayes
from bayesmix.io.plink import Genotypes
from bayesmix.ld.spectrum import ld_min_eigenvalue, ridge_for_min_eigenvalue
from bayesmix.ld.store import LDMatrix
from bayesmix.models.alphabet import AlphabetModel
from bayesmix.models.sbayes import SBayesModel
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.prepare.summary_data import SummaryData


def summary_from_design(x, y, snps):
    """SummaryData holding exactly X'X, X'y, y'y of a design matrix (in-sample 'LD')."""
    n, m = x.shape
    xtx = x.T @ x
    ld = LDMatrix.from_scipy(xtx / n, snps.assign(n=n), meta={"kind": "full", "n_samples": n})
    freq = snps["freq"].to_numpy()
    stats = pd.DataFrame({"SNP": snps["snp"], "CHR": snps["chr"], "BP": snps["bp"],
                          "A1": snps["a1"], "A2": snps["a2"], "FREQ": freq, "BETA": np.nan,
                          "SE": np.nan, "Z": np.nan, "N": float(n),
                          "H": 2 * freq * (1 - freq), "V": np.nan, "B_STD": x.T @ y / n})
    return SummaryData(stats=stats, ld=ld, n=np.full(m, float(n)), xty=x.T @ y,
                       xtx_diag=np.diag(xtx).copy(), nobs=float(n), yty=float(y @ y), vp=1.0,
                       ld_score=np.zeros(m), ld_sampling_var=np.ones(m))


def fixed_slab_scale(individual):
    """Hyperpriors giving an SBayes model individual-level BayesC's sig2_beta prior: GCTB
    adapts SBayesC's prior scale during burn-in, not BayesC's, so with few causal SNPs the
    two defaults differ; with this the same fixed prior is on both sides."""
    scale = individual.start["sig2_beta"] / 2.0  # (nu - 2) / nu of the start, nu = 4
    return {"sig2_beta": lambda name: ScaledInvChi2(name, 4.0, scale)}


@pytest.fixture(scope="module")
def cohort(bfile22):
    """200 SNPs x 503 people of chr22, 4 causal SNPs, standardised phenotype."""
    geno = Genotypes.open(bfile22)
    cols = np.arange(4000, 4200)
    dosages = geno.read(cols, standardize=False).astype(np.float64)
    snps = geno.snps.iloc[cols].reset_index(drop=True)
    rng = np.random.default_rng(8)
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    b = np.zeros(len(cols))
    b[[20, 75, 130, 180]] = [0.25, -0.2, 0.2, 0.15]
    y = xs @ b + rng.normal(size=len(xs))
    y = (y - y.mean()) / y.std(ddof=1)
    return dosages, y, snps


@pytest.mark.slow
def test_sbayesc_in_sample_equals_individual_level_bayesc(cohort):
    dosages, y, snps = cohort
    individual = AlphabetModel(AlphabetData.from_arrays(dosages, y), "C")
    x = individual.data.genotypes.dense()
    summary = SBayesModel(summary_from_design(x, y, snps), "C", robust=False,
                          hyperpriors=fixed_slab_scale(individual))
    settings = ChainSettings(chain_length=4000, burn_in=500, thin=1, out_freq=0, seed=3)
    ind = run_chains(individual, make_steps, settings)
    summ = run_chains(summary, make_sbayes_steps, settings)
    pip_i, pip_s = ind.snp_accumulator.pip, summ.snp_accumulator.pip
    mean_i, mean_s = ind.snp_accumulator.mean, summ.snp_accumulator.mean
    assert np.abs(pip_i - pip_s).max() < 0.12
    assert np.corrcoef(pip_i, pip_s)[0, 1] > 0.97
    assert np.abs(mean_i - mean_s).max() < 0.03
    for name in ("hsq", "Pi", "ResVar"):
        a, b = ind.trace(name).ravel(), summ.trace(name).ravel()
        d_i = ind.diagnostics().set_index("Parameter").loc[name]
        d_s = summ.diagnostics().set_index("Parameter").loc[name]
        mc_se = np.hypot(d_i["SD"] / np.sqrt(d_i["ESS_bulk"]), d_s["SD"] / np.sqrt(d_s["ESS_bulk"]))
        assert abs(a.mean() - b.mean()) < 4 * mc_se, name


def test_negative_residual_variance_stops_the_chain(cohort):
    """An LD matrix that contradicts the statistics (unrelated to their LD) diverges:
    the chain must stop with ConvergenceError, not print clipped numbers."""
    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    data = summary_from_design(xs, y, snps)
    m = data.n_snps
    wrong = np.eye(m) - 0.45 * (np.eye(m, k=1) + np.eye(m, k=-1))  # |r| = .45 chain, indefinite
    wrong[np.abs(np.subtract.outer(np.arange(m), np.arange(m))) == 2] = 0.4
    data.ld = LDMatrix.from_scipy(wrong, data.ld.snps, meta={"n_samples": 503})
    data.xty = data.xty * 8  # a much stronger signal than the LD allows (N = 64 x 503)
    with pytest.raises(ConvergenceError, match="blowing up|diverged"):
        run_sbayes(data, "C", ChainSettings(chain_length=200, burn_in=50, out_freq=0, seed=1),
                   robust=False)


def test_monitor_stops_a_blown_up_chain_with_advice(cohort):
    """A point whose genetic variance exceeds the phenotypic variance (an effect of 5 SDs)
    is refused by the model's per-iteration check with the settings to try."""
    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    model = SBayesModel(summary_from_design(xs, y, snps), "C", robust=False)
    point = model.initial_point()
    point["beta"] = np.zeros(model.n_snps)
    point["beta"][0] = 5.0
    with pytest.raises(ConvergenceError, match="diverged: SNP .* standardised effect of 5.*"
                                               "the robust setting"):
        model.monitor(point, {"n_nonzero": 1, "genetic_variance": 25.0})
    for bad in (np.nan, np.inf, -np.inf):
        point["beta"][0] = bad
        assert model.effect_problems(point["beta"]) == ["non-finite effects"]
    point["beta"][0] = -1.0  # exactly the limit: allowed
    assert model.effect_problems(point["beta"]) == []


def test_effect_check_with_sweep_sums_raises_exactly_when_an_effect_is_too_large(cohort):
    """With a sweep's sums of beta_j^2 / var_scale_j the check skips its pass over the
    effects only when no effect can exceed the limit: over random effects and divisors it
    raises exactly when some |beta_j| > 1, and on non-finite effects."""
    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    model = SBayesModel(summary_from_design(xs, y, snps), "C", robust=False)
    m = model.n_snps
    rng = np.random.default_rng(11)
    unit = np.ones(m)
    outcomes = set()
    for trial in range(300):
        beta = np.where(rng.random(m) < 0.05, rng.normal(0, rng.choice([0.05, 0.3, 0.6]), m),
                        0.0)
        var_scale = unit if trial % 2 else rng.uniform(0.05, 3.0, m)
        ssq = np.array([0.0, float(np.sum(beta**2 / var_scale))])
        too_large = np.abs(beta).max() > 1.0
        outcomes.add(too_large)
        if too_large:
            with pytest.raises(ConvergenceError, match="standardised effect"):
                model.check_effects(beta, ssq, var_scale)
        else:
            model.check_effects(beta, ssq, var_scale)
    assert outcomes == {True, False}
    beta[3] = np.nan
    with pytest.raises(ConvergenceError, match="non-finite"):
        model.check_effects(beta, np.array([0.0, np.nan]), unit)


def test_effects_step_stops_a_blown_up_effect_at_every_iteration(cohort):
    """The effect-size check runs in the sweep's step itself, also at iterations where the
    monitor is not computed: statistics 1,000x stronger than the LD allows give effects far
    above 1 SD after one sweep."""
    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    data = summary_from_design(xs, y, snps)
    data.xty = data.xty * 1000
    model = SBayesModel(data, "C", robust=False)
    effects_step = make_sbayes_steps(model)[0]
    effects_step.setup_chain(np.random.default_rng(2), 10, 10)
    effects_step.monitoring = False
    with pytest.raises(ConvergenceError, match="diverged: SNP .* standardised effect"):
        effects_step.step(model.initial_point())


def test_monitor_is_computed_only_where_used_and_right_there(cohort):
    """The chain driver computes GenVar and the other monitor values only at kept and printed
    iterations: the kept values equal those of a run monitoring every iteration (same draws),
    and GenVar at each kept draw is beta'X'X beta / n of that draw's effects, by dense numpy
    (robust setting: the sweep runs on the plug-in's scaled arrays, GenVar on the exact ones)."""
    from bayesmix.inference.chain import run_chain

    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    model = SBayesModel(summary_from_design(xs, y, snps), "C", robust=True, ridge=0.0)
    assert model.has_sampling_ratio
    base = dict(chain_length=120, burn_in=30, seed=4, store_snp_draws=True)
    sparse = run_chain(model, make_sbayes_steps(model),
                       ChainSettings(thin=3, out_freq=0, **base))
    every = run_chain(model, make_sbayes_steps(model),
                      ChainSettings(thin=1, out_freq=1, **base))
    kept = np.isin(every.iterations, sparse.iterations)
    for name, values in sparse.traces.items():
        np.testing.assert_array_equal(values, np.asarray(every.traces[name])[kept], name)
    for (iteration, idx, values), gen_var in zip(sparse.snp_draws, sparse.traces["GenVar"]):
        beta = np.zeros(model.n_snps)
        beta[idx] = values
        assert gen_var == pytest.approx(np.sum((xs @ beta) ** 2) / len(y), rel=1e-5), iteration


@pytest.mark.parametrize("method", ["C", "R"])
def test_conjugate_steps_take_the_sweeps_sums_and_draw_the_same(cohort, method):
    """After the effects sweep, the mixture-weights and effect-variance steps take the
    component counts and sums of squares the sweep returned instead of passing over every SNP
    again: from the same generator state they draw what the pass over the SNPs gives, and a
    point whose labels are not the sweep's arrays is not taken for the sweep's."""
    import copy

    from bayesmix.inference.gibbs import EffectVarianceGibbs, MixtureWeightsGibbs

    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    model = SBayesModel(summary_from_design(xs, y, snps), method, robust=False)
    steps = make_sbayes_steps(model)
    for step in steps:
        step.setup_chain(np.random.default_rng(3), 100, 100)
    point = model.initial_point()
    for _ in range(40):
        for step in steps:
            point, _ = step.step(point)
    point, _ = steps[0].step(point)  # the effects sweep
    residuals = steps[0].residuals
    counts = np.bincount(point["comp"], minlength=model.n_components)
    assert np.count_nonzero(counts[1:]) >= 1 and counts[0] > 0
    conjugate = [s for s in steps if isinstance(s, (MixtureWeightsGibbs, EffectVarianceGibbs))]
    assert len(conjugate) == 2
    for step in conjugate:
        assert step.swept_statistics(point) is residuals.swept
        state = copy.deepcopy(step.rng.bit_generator.state)
        from_sweep, _ = step.step(point)
        swept, residuals.swept = residuals.swept, None
        step.rng.bit_generator.state = state
        from_pass, _ = step.step(point)
        residuals.swept = swept
        name = step.space.name
        np.testing.assert_allclose(from_sweep[name], from_pass[name], rtol=1e-12, atol=0)
        other = dict(point, comp=point["comp"].copy())
        assert step.swept_statistics(other) is None


@pytest.mark.parametrize("n_snps", [300, 900])
def test_eigenvalue_check_and_ridge(n_snps):
    """Window-cut LD of a tiny panel is indefinite; the check finds its smallest eigenvalue
    (dense for small blocks, Lanczos for large ones) and the ridge lifts it to the target."""
    rng = np.random.default_rng(0)
    g = rng.normal(size=(40, n_snps)).cumsum(axis=1)  # 40 people: singular, local LD
    r = np.corrcoef(g, rowvar=False)
    band = np.abs(np.subtract.outer(np.arange(n_snps), np.arange(n_snps))) <= 30
    r = np.where(band, r, 0.0)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(n_snps)], "chr": "1",
                         "bp": np.arange(n_snps) + 1, "a1": "A", "a2": "G", "freq": 0.3})
    ld = LDMatrix.from_scipy(r, snps)
    exact = np.linalg.eigvalsh(ld.to_scipy().toarray().astype(np.float64))[0]
    assert exact < -0.01
    # dense for blocks under 500 SNPs here, Lanczos above
    # Lanczos estimates are on the low side (the ridge is never too small)
    estimate = ld_min_eigenvalue(ld, dense_below=500)
    assert exact - max(0.05 * abs(exact), 0.005) <= estimate <= exact
    lam = ridge_for_min_eigenvalue(exact, 0.01)
    lifted = np.linalg.eigvalsh((1 - lam) * r + lam * np.eye(n_snps))[0]
    assert lifted == pytest.approx(0.01, abs=1e-6)
    assert ridge_for_min_eigenvalue(0.2, 0.01) == 0.0


def test_summary_likelihood_op_matches_dense_formula(cohort):
    """The graph's summary-data log-likelihood and its gradient vs a dense computation and
    finite differences (it is what generic PyMC steps see)."""
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.distributions.graph import small_graph_mode
    from bayesmix.ops.sbayes import summary_loglik

    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    data = summary_from_design(xs, y, snps)
    beta_v, s2_v = pt.dvector("beta"), pt.dscalar("s2")
    for ridge in (0.0, 0.2):
        logp = summary_loglik(beta_v, s2_v, data, ridge)
        f = pytensor.function([beta_v, s2_v], [logp, *pytensor.grad(logp, [beta_v, s2_v])],
                              mode=small_graph_mode())
        rng = np.random.default_rng(1)
        beta = np.where(rng.random(data.n_snps) < 0.1, rng.normal(0, 0.05, data.n_snps), 0.0)
        xtx = xs.T @ xs
        xtx = (1 - ridge) * xtx + ridge * np.diag(np.diag(xtx))
        sse = y @ y - 2 * beta @ (xs.T @ y) + beta @ xtx @ beta
        n = len(y)
        value, g_beta, g_s2 = f(beta, 0.7)
        assert value == pytest.approx(-n / 2 * np.log(2 * np.pi * 0.7) - sse / 1.4, rel=1e-10)
        # LD is stored in float32: agreement to ~1e-7 relative per entry
        np.testing.assert_allclose(g_beta, (xs.T @ y - xtx @ beta) / 0.7, rtol=1e-5, atol=1e-5)
        eps = 1e-6
        fd = (f(beta, 0.7 + eps)[0] - f(beta, 0.7 - eps)[0]) / (2 * eps)
        assert g_s2 == pytest.approx(fd, rel=1e-5)


def test_sbayess_and_swapped_prior_run(cohort):
    """SBayesS samples S with the alphabet's generic step; a user prior on pi (not conjugate
    to the alphabet's steps) is sampled too, and the strong SNPs are found."""
    import pymc as pm

    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    data = summary_from_design(xs, y, snps)
    settings = ChainSettings(chain_length=300, burn_in=100, thin=1, out_freq=0, seed=2)
    long_settings = ChainSettings(chain_length=2100, burn_in=100, thin=1, out_freq=0, seed=2)
    model, result = run_sbayes(data, "S", settings, robust=False)
    s_trace = result.trace("S").ravel()
    assert np.isfinite(s_trace).all() and np.ptp(s_trace) > 0
    model, result = run_sbayes(data, "C", long_settings, robust=False,
                               hyperpriors={"pi": lambda name: pm.Uniform(name, 0.0, 0.5)})
    # pi | labels under Uniform(0, 0.5) is Beta(1 + k, 1 + M - k) cut at 0.5 (k = NnzSnp):
    # the Metropolis draws' mean must equal the mean of those conditional means (measured:
    # difference -0.0008, SE 0.0009; without the transform's Jacobian -0.0042 > 4 SE = 0.0033)
    k = result.trace("NnzSnp").ravel()
    a, b = 1.0 + k, 1.0 + data.n_snps - k
    given_k = a / (a + b) * stats.beta.cdf(0.5, a + 1, b) / stats.beta.cdf(0.5, a, b)
    difference = (result.trace("Pi").ravel() - given_k)[None, :]
    se = difference.std() / np.sqrt(float(az.ess(difference)))
    assert abs(difference.mean()) < 4 * se, (difference.mean(), se)
    # each of the three strongest causal SNPs, or a SNP in LD with it (r^2 > 0.5), is selected
    r2 = np.corrcoef(xs, rowvar=False) ** 2
    pip = result.snp_accumulator.pip
    for causal in (20, 75, 130):
        assert pip[r2[causal] > 0.5].sum() > 0.5, causal


def test_steps_run_inside_pm_sample(cohort):
    """The same SBayes steps compose with pm.sample (DataTree out, chains seeded by PyMC); here
    with the 2-byte upper-triangle LD layout."""
    import pymc as pm

    dosages, y, snps = cohort
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    model = SBayesModel(summary_from_design(xs, y, snps), "C", robust=False, ld_layout="upper")
    with model.model:
        idata = pm.sample(draws=300, tune=100, chains=2, cores=1, random_seed=1,
                          step=make_sbayes_steps(model), compute_convergence_checks=False,
                          progressbar=False)
    pip = (idata.posterior["beta"] != 0).mean(("chain", "draw")).values
    r2 = np.corrcoef(xs, rowvar=False) ** 2
    for causal in (75, 130):
        assert pip[r2[causal] > 0.5].sum() > 0.5, causal
    # sig2_e against its conditional mean given the recorded effects, by dense numpy:
    # E[sig2_e | beta] = (nu s2 + SSE(beta)) / (nu + n - 2), SSE = |y - X beta|^2 (in-sample
    # LD); the draws' mean must equal the mean of these within Monte Carlo error (a sig2_e
    # step drawing 2% too large fails: difference 0.016 > 4 SE = 0.009)
    nu, s2 = 4.0, (4.0 - 2.0) / 4.0 * model.start["sig2_e"]
    beta = idata.posterior["beta"].values.reshape(-1, xs.shape[1])
    sse = ((y[None, :] - beta @ xs.T) ** 2).sum(axis=1)
    given_beta = (nu * s2 + sse) / (nu + len(y) - 2)
    draws = idata.posterior["sig2_e"].values.ravel()
    difference = (draws - given_beta).reshape(2, -1)
    se = difference.std() / np.sqrt(float(az.ess(difference)))
    assert abs(difference.mean()) < 4 * se, (draws.mean(), given_beta.mean(), se)


@pytest.fixture(scope="module")
def in_sample_gwas(bfile22, cohort):
    """The cohort's GWAS (per-SNP regressions on its 503 people) and full LD of the same people,
    through the user's path: Genotypes -> marginal_gwas / build_ld -> prepare_summary_data."""
    from bayesmix.ld import build_ld
    from bayesmix.simulate.gwas import marginal_gwas

    dosages, y, snps = cohort
    geno = Genotypes.open(bfile22, extract=snps["snp"].tolist())
    return marginal_gwas(geno, y), build_ld(geno, "full", progress=False), dosages


def test_ld_sampling_variance_follows_gctb_formula_and_sample_overlap(in_sample_gwas):
    """LDsamplVar_j from dense correlations: out of sample (n_j + n_ref)/M sum_i (1 - r_ij^2)^2
    / n_ref + (M - nnz_j)/M; in sample (the GWAS people are the LD panel, detected from N in
    [0.9, 1] x panel size) only the second term, which is 0 for full LD."""
    from bayesmix.prepare.summary_data import prepare_summary_data

    gwas, ld, dosages = in_sample_gwas
    r = np.corrcoef(dosages, rowvar=False)
    n, m = len(dosages), dosages.shape[1]
    inside = prepare_summary_data(gwas, ld)
    assert inside.ld_in_sample
    np.testing.assert_allclose(inside.ld_sampling_var, 0.0, atol=1e-12)
    outside = prepare_summary_data(gwas, ld, ld_in_sample=False)
    assert not outside.ld_in_sample
    expect = (n + n) / m * ((1 - r**2) ** 2).sum(axis=1) / n
    np.testing.assert_allclose(outside.ld_sampling_var, expect, rtol=1e-5)
    # a few calls missing (N up to 10% below the panel): still the panel's own GWAS; a larger
    # GWAS, or one well below the panel size: out of sample automatically
    assert prepare_summary_data(gwas.assign(N=n - 3.0), ld).ld_in_sample
    assert not prepare_summary_data(gwas.assign(N=n + 50.0), ld).ld_in_sample
    assert not prepare_summary_data(gwas.assign(N=0.8 * n), ld).ld_in_sample
    # shrunk LD of the same people is not their own LD: out of sample automatically
    shrunk = LDMatrix.from_scipy(ld.to_scipy(), ld.snps, meta={**ld.meta, "kind": "shrunk"})
    assert not prepare_summary_data(gwas, shrunk).ld_in_sample


@pytest.mark.slow
def test_default_settings_with_in_sample_full_ld_match_individual_level(in_sample_gwas, cohort):
    """GCTB's tutorial path (GWAS and full LD from the same people) with the DEFAULT (robust)
    settings gives individual-level BayesC's hsq within Monte Carlo error: the robust setting
    must not add reference-panel LD noise that in-sample LD does not have. (Both with
    BayesC's fixed sig2_beta prior: :func:`fixed_slab_scale`.)"""
    from bayesmix.prepare.summary_data import prepare_summary_data

    gwas, ld, dosages = in_sample_gwas
    _, y, _ = cohort
    settings = ChainSettings(chain_length=3000, burn_in=500, thin=1, out_freq=0, seed=5)
    individual = AlphabetModel(AlphabetData.from_arrays(dosages, y), "C")
    ind = run_chains(individual, make_steps, settings)
    model = SBayesModel(prepare_summary_data(gwas, ld), "C",
                        hyperpriors=fixed_slab_scale(individual))
    assert model.robust and model.ridge < 1e-3
    assert model.ld_layout == "band"  # full LD: rows are contiguous runs, 2 bytes per value
    summ = run_chains(model, make_sbayes_steps, settings)
    a, b = ind.trace("hsq").ravel(), summ.trace("hsq").ravel()
    d_i = ind.diagnostics().set_index("Parameter").loc["hsq"]
    d_s = summ.diagnostics().set_index("Parameter").loc["hsq"]
    mc_se = np.hypot(d_i["SD"] / np.sqrt(d_i["ESS_bulk"]), d_s["SD"] / np.sqrt(d_s["ESS_bulk"]))
    assert abs(a.mean() - b.mean()) < 4 * mc_se


def test_plug_ins_do_not_recompute_the_derived_hyperparameters(in_sample_gwas):
    """The robust plug-ins h and omega move at every burn-in iteration; the prior's derived
    values do not depend on them, so ``derived`` keeps its last result (the same object) and
    it still equals a fresh model's; a hyperparameter's change recomputes it."""
    from bayesmix.models.sbayes import SAMPLING_RATIO, SAMPLING_WEIGHT
    from bayesmix.prepare.summary_data import prepare_summary_data

    gwas, ld, _ = in_sample_gwas
    data = prepare_summary_data(gwas, ld, ld_in_sample=False)
    model, fresh = SBayesModel(data, "C"), SBayesModel(data, "C")
    assert model.has_sampling_ratio
    point = model.initial_point()
    first = model.derived(point)
    assert not {SAMPLING_RATIO, SAMPLING_WEIGHT} & set(first["hyper"])
    moved = {**point, SAMPLING_RATIO: np.asarray(0.7), SAMPLING_WEIGHT: np.asarray(0.9)}
    assert model.derived(moved) is first
    for key in ("sig2_e", "log_pi", "slab_var"):
        np.testing.assert_array_equal(first[key], fresh.derived(moved)[key])
    changed = {**moved, "sig2_e": np.asarray(float(point["sig2_e"]) * 1.5)}
    assert model.derived(changed)["sig2_e"] == pytest.approx(float(point["sig2_e"]) * 1.5)


def test_summary_residuals_follow_the_effects_of_each_point():
    """The cached r = X'y - X'X beta holds the effects of the last point (the array object,
    not a copy: points' arrays are never modified in place). After the effects step, for a
    point with another array of changed effects, and for the same objects again, r equals
    X'y - X'X_lam beta from the dense X'X (truth), X'X_lam = (1 - lam) X'X + lam diag(X'X)."""
    rng = np.random.default_rng(2)
    n, m = 300, 12
    x = rng.standard_normal((n, m)).cumsum(axis=1)
    x = (x - x.mean(0)) / x.std(0)
    y = x @ np.r_[0.3, np.zeros(m - 2), -0.2] + rng.standard_normal(n)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})
    model = SBayesModel(summary_from_design(x, y, snps), "C", robust=False)
    xtx = x.T @ x
    xtx_lam = (1 - model.ridge) * xtx + model.ridge * np.diag(np.diag(xtx))
    truth = lambda beta: x.T @ y - xtx_lam @ beta  # noqa: E731
    steps = make_sbayes_steps(model, rng=1)
    for k, step in enumerate(steps):
        step.setup_chain(np.random.default_rng(k), 5, 5)
    point = model.initial_point()
    for _ in range(4):
        for step in steps:
            point, _ = step.step(point)
    residuals = steps[0].residuals
    assert residuals.beta is point["beta"] and np.count_nonzero(point["beta"]) > 0
    np.testing.assert_allclose(residuals.sync(point), truth(point["beta"]), atol=1e-3)
    moved = dict(point, beta=point["beta"].copy())
    moved["beta"][[0, m - 1]] += [0.05, -0.02]
    np.testing.assert_allclose(residuals.sync(moved), truth(moved["beta"]), atol=1e-3)
    np.testing.assert_allclose(residuals.sync(point), truth(point["beta"]), atol=1e-3)
    # GenVar = beta'X'X_lam beta / n, reused only for the same effects array
    for held in (point, point, moved, point):
        assert residuals.genetic_variance(held) == pytest.approx(
            held["beta"] @ xtx_lam @ held["beta"] / n, rel=1e-5)


def _small_summary(m=8, seed=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((200, m)).cumsum(axis=1)
    x = (x - x.mean(0)) / x.std(0)
    y = x[:, 0] * 0.3 + rng.standard_normal(200)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})
    return summary_from_design(x, y, snps)


def test_a_serial_layout_with_parallel_blocks_names_both():
    """SBayesModel(ld_layout='upper', parallel_blocks=True) said "ld_layout must be 'band' or
    'upper' ..., not 'upper'", refusing the value it listed as allowed."""
    from bayesmix.errors import InputError

    data = _small_summary()
    for layout in ("upper", "band"):
        with pytest.raises(InputError, match=f"ld_layout '{layout}' sweeps serially: "
                                             "parallel_blocks"):
            SBayesModel(data, "C", ld_layout=layout, parallel_blocks=True)
    with pytest.raises(InputError, match="must be 'auto', 'band', 'upper' or 'csr', not 'dense'"):
        SBayesModel(data, "C", ld_layout="dense")
    assert SBayesModel(data, "C", ld_layout="csr", parallel_blocks=True).ld_layout == "csr"


def test_divergence_advice_with_a_given_ridge_suggests_the_check():
    """A user ridge skips the eigenvalue check (and the repair of strongly indefinite LD);
    the advice after a divergence asked for 'a larger --ld-ridge' only, never for the check.
    With the check (no ridge given) the advice is unchanged."""
    data = _small_summary()
    given = SBayesModel(data, "C", ridge=0.3).divergence_advice()
    assert "leaving out --ld-ridge (its 0.3 skipped the LD eigenvalue check" in given
    checked = SBayesModel(data, "C").divergence_advice()
    assert "leaving out --ld-ridge" not in checked
