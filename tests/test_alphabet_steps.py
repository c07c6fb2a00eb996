"""The alphabet's step methods: swapped priors, pm.sample vs our driver, seeds, checkpoints."""

import os
import signal

import arviz as az
import numpy as np
import pymc as pm
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")

from bayesmix.inference.chain import ChainSettings, run_chain, run_chains
from bayesmix.inference.gibbs import EffectVarianceGibbs, MixtureWeightsGibbs, make_steps, sample
from bayesmix.inference.step_base import MarkovBlanketMetropolis
from bayesmix.models.alphabet import AlphabetModel
from bayesmix.prepare.alphabet_data import AlphabetData


def small_data(seed=3, n=300, m=40, standardize=True):
    rng = np.random.default_rng(seed)
    dosages = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(float)
    dosages[rng.random((n, m)) < 0.02] = np.nan
    beta = np.zeros(m)
    beta[:4] = [0.4, -0.3, 0.3, 0.2]
    g = np.nan_to_num(dosages - np.nanmean(dosages, 0)) @ beta
    y = 2.0 + g + rng.standard_normal(n)
    return AlphabetData.from_arrays(dosages, y, standardize=standardize)


def interrupt_at_call(step, call):
    """Make ``step`` send this process SIGINT (a Ctrl-C) at its ``call``-th call, mid-iteration."""
    original, calls = step.step, {"n": 0}

    def interrupting_step(point):
        calls["n"] += 1
        if calls["n"] == call:
            os.kill(os.getpid(), signal.SIGINT)
        return original(point)

    step.step = interrupting_step


def kept_mean_and_se(result, name):
    """Mean over chains and a batch-means standard error of a monitored quantity."""
    draws = result.trace(name)
    batches = np.array_split(draws, 10, axis=1)
    means = np.array([b.mean() for b in batches])
    return draws.mean(), means.std(ddof=1) / np.sqrt(len(means))


@pytest.mark.slow
def test_swapped_priors_use_generic_step_and_agree():
    """Uniform(0,1) on pi equals Beta(1,1): the generic Metropolis step must reproduce the
    conjugate posterior. A log-transformed InverseGamma on sig2_beta equals the default prior
    and is recognised as conjugate by its family despite the transform."""
    data = small_data()
    default = AlphabetModel(data, "C")
    s2 = (4 - 2) / 4 * default.start["sig2_beta"]
    swapped = AlphabetModel(data, "C", hyperpriors={
        "pi": lambda name: pm.Uniform(name, 0.0, 1.0),
        "sig2_beta": lambda name: pm.InverseGamma(name, alpha=2.0, beta=np.float64(2.0 * s2))})
    kinds = {type(s) for s in make_steps(default)}
    assert {MixtureWeightsGibbs, EffectVarianceGibbs} <= kinds
    swapped_steps = {s.vars[0].name: type(s) for s in make_steps(swapped)}
    assert swapped_steps["pi_interval__"] is MarkovBlanketMetropolis
    assert swapped_steps["sig2_beta_log__"] is EffectVarianceGibbs
    settings = ChainSettings(chain_length=3000, burn_in=300, thin=1, out_freq=0, seed=1)
    res_default = run_chains(default, make_steps, settings)
    res_swapped = run_chains(swapped, make_steps, settings)
    for name in ("Pi", "hsq", "NnzSnp"):
        m1, se1 = kept_mean_and_se(res_default, name)
        m2, se2 = kept_mean_and_se(res_swapped, name)
        assert abs(m1 - m2) < 4 * np.hypot(se1, se2) + 1e-3, (name, m1, m2, se1, se2)


def test_pm_sample_and_chain_driver_agree():
    data = small_data(seed=4, m=25)
    am = AlphabetModel(data, "R")
    tree = sample(am, draws=1500, tune=300, chains=2, cores=1, random_seed=2)
    ours = run_chains(am, make_steps, ChainSettings(chain_length=1800, burn_in=300, thin=1,
                                                    out_freq=0, seed=2), chains=2)
    beta_pm = tree.posterior["beta"].mean(("chain", "draw")).values
    beta_ours = ours.snp_accumulator.mean
    assert np.abs(beta_pm - beta_ours).max() < 0.03
    assert abs(float(tree.posterior["sig2_e"].mean()) - kept_mean_and_se(ours, "ResVar")[0]) < 0.05


def test_same_seed_same_draws_and_checkpoint_resume(tmp_path):
    data = small_data(seed=5, m=30)
    am = AlphabetModel(data, "C")
    settings = ChainSettings(chain_length=400, burn_in=100, thin=5, out_freq=0, seed=9)
    first = run_chain(am, make_steps(am), settings)
    second = run_chain(am, make_steps(am), settings)
    np.testing.assert_array_equal(first.traces["hsq"], second.traces["hsq"])
    np.testing.assert_array_equal(first.snp.sum_beta, second.snp.sum_beta)
    other = run_chain(am, make_steps(am), ChainSettings(chain_length=400, burn_in=100, thin=5,
                                                        out_freq=0, seed=10))
    assert not np.array_equal(first.traces["hsq"], other.traces["hsq"])

    # Ctrl-C during iteration 251: the iteration ends, then the chain stops; resume from there.
    ckpt = tmp_path / "run.ckpt"
    settings_ck = ChainSettings(chain_length=400, burn_in=100, thin=5, out_freq=0, seed=9,
                                checkpoint=str(ckpt), checkpoint_every=100)
    steps = make_steps(am)
    interrupt_at_call(steps[0], 251)
    partial = run_chain(am, steps, settings_ck)
    assert partial.interrupted and partial.completed == 251
    assert (tmp_path / "run.ckpt.chain0").exists()
    settings_ck.resume = True
    resumed = run_chain(am, make_steps(am), settings_ck)
    assert not resumed.interrupted and resumed.completed == 400
    np.testing.assert_array_equal(resumed.traces["hsq"], first.traces["hsq"])
    np.testing.assert_allclose(resumed.snp.sum_beta, first.snp.sum_beta, rtol=0, atol=0)
    assert not (tmp_path / "run.ckpt.chain0").exists()


@pytest.mark.parametrize("method", ["S", "B"])
def test_bayes_s_and_b_sample(method):
    data = small_data(seed=6, m=30, standardize=(method != "S"))
    am = AlphabetModel(data, method)
    res = run_chains(am, make_steps, ChainSettings(chain_length=600, burn_in=200, thin=2,
                                                   out_freq=0, seed=3), chains=1)
    summary = res.snp_summary()
    assert summary["PIP"].iloc[0] > 0.9  # the largest true effect is found
    assert summary["PIP"].iloc[:4].mean() > 3 * summary["PIP"].iloc[4:].mean()
    assert np.isfinite(res.trace("hsq")).all()
    if method == "S":
        assert np.ptp(res.trace("S")) > 0  # S moves (Metropolis on the Markov blanket)


@pytest.mark.parametrize("moves", ["all", "ridge"])
def test_bayes_s_hyperparameter_steps_match_numerical_integration(moves):
    """Given the effects, p(S | beta) = N(S; 0, 1) prod_j H_j^(-S/2)
    (nu s2 + sum_j beta_j^2 / H_j^S)^(-(nu + k)/2) with sig2_beta integrated out: the S
    Metropolis, the joint (S, sig2_beta) move and the sig2_beta Gibbs step must reproduce its
    mean and SD. "ridge" moves S only by the joint move (plus the sig2_beta Gibbs step), so
    an error in its Jacobian is not diluted by the exact one-variable step. Dropping the
    Jacobian shifts the mean by 0.026 for a tolerance of 4 Monte Carlo SEs = 0.018 ("all")
    and 0.020 ("ridge"): both fail."""
    from bayesmix.inference.gibbs import EffectVarianceGibbs, ShapeScaleMetropolis

    rng = np.random.default_rng(12)
    n, m, k = 40, 300, 80
    dosages = rng.binomial(2, rng.uniform(0.02, 0.5, m), size=(n, m)).astype(float)
    am = AlphabetModel(AlphabetData.from_arrays(dosages, rng.standard_normal(n),
                                                standardize=False), "S")
    het = am.data.genotypes.heterozygosity
    active = rng.choice(np.flatnonzero(het > 0), k, replace=False)
    beta = np.zeros(m)
    beta[active] = rng.standard_normal(k) * np.sqrt(0.01 * het[active] ** 0.7)
    kept = (EffectVarianceGibbs, ShapeScaleMetropolis) + (
        (MarkovBlanketMetropolis,) if moves == "all" else ())
    steps = [s for s in make_steps(am) if isinstance(s, kept)
             and (not isinstance(s, MarkovBlanketMetropolis) or s.value_name == "S")]
    assert len(steps) == len(kept)
    point = am.initial_point()
    point["beta"], point["comp"] = beta, (beta != 0).astype(np.int64)
    for step, seed in zip(steps, np.random.default_rng(3).spawn(len(steps))):
        step.setup_chain(seed, 500, 4000)
    draws = []
    for it in range(4500):
        if it == 500:
            for step in steps:
                step.stop_tuning()
        for step in steps:
            point, _ = step.step(point)
        if it >= 500:
            draws.append(float(point["S"]))
    draws = np.array(draws)

    nu = 4.0
    s2 = (nu - 2) / nu * am.start["sig2_beta"]
    grid = np.linspace(-4, 5, 4001)
    h, b2 = het[active], beta[active] ** 2
    log_post = np.array([-0.5 * S**2 - 0.5 * S * np.log(h).sum()
                         - 0.5 * (nu + k) * np.log(nu * s2 + (b2 / h**S).sum()) for S in grid])
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    mean = (w * grid).sum()
    sd = np.sqrt((w * (grid - mean) ** 2).sum())
    se = draws.std() / np.sqrt(float(az.ess(draws[None, :])))  # Monte Carlo SE of the mean
    assert abs(draws.mean() - mean) < 4 * se, (draws.mean(), mean, se)
    assert abs(draws.std() - sd) < 0.15 * sd, (draws.std(), sd)


@pytest.mark.parametrize("chain_length, burn_in, thin", [(15, 12, 10), (100, 100, 1),
                                                         (50, 80, 5), (0, 0, 1)])
def test_chain_settings_that_keep_no_draw_are_input_errors(chain_length, burn_in, thin):
    from bayesmix.errors import InputError
    from bayesmix.inference.chain import ChainSettings

    with pytest.raises(InputError, match="chain-length"):
        ChainSettings(chain_length=chain_length, burn_in=burn_in, thin=thin)


@pytest.mark.parametrize("chain_length, burn_in, thin", [(23, 7, 4), (20, 19, 1), (30, 10, 10)])
def test_kept_draw_count_matches_the_run(chain_length, burn_in, thin):
    """n_kept_draws equals the draws a run keeps, counted by brute force over iterations."""
    from bayesmix.inference.chain import ChainSettings, run_chain

    settings = ChainSettings(chain_length=chain_length, burn_in=burn_in, thin=thin, out_freq=0)
    expected = sum(1 for it in range(1, chain_length + 1) if it > burn_in and it % thin == 0)
    assert settings.n_kept_draws == expected
    am = AlphabetModel(small_data(m=10), "C")
    result = run_chain(am, make_steps(am), settings)
    assert len(result.traces["hsq"]) == len(result.iterations) == expected


def test_cli_rejects_a_run_without_draws_before_reading_data(tmp_path, capsys, monkeypatch,
                                                             bfile22):
    """The check happens before any data is read: the genotypes are never opened."""
    from bayesmix.cli.gctb import main
    from bayesmix.io.plink import Genotypes

    def refuse(*args, **kwargs):
        raise AssertionError("genotypes opened before the chain settings were checked")

    monkeypatch.setattr(Genotypes, "open", refuse)
    (tmp_path / "y.phen").write_text("a a 1\n")
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp_path / "y.phen"),
               "--bayes", "C", "--chain-length", "15", "--burn-in", "12", "--thin", "10",
               "--out", str(tmp_path / "out")])
    assert rc == 1
    assert "no draw would be kept" in capsys.readouterr().err


def test_interrupt_before_the_first_kept_draw_returns_an_empty_chain():
    """Ctrl-C during burn-in: no draw kept, an empty (0, q) alpha table instead of a crash."""
    am = AlphabetModel(small_data(m=10), "C")
    steps = make_steps(am)
    interrupt_at_call(steps[0], 4)
    result = run_chain(am, steps, ChainSettings(chain_length=50, burn_in=10, thin=1, out_freq=0))
    assert result.interrupted and result.completed == 4
    assert result.alpha.shape == (0, 1) and len(result.iterations) == 0
    assert all(len(v) == 0 for v in result.traces.values())


@pytest.mark.parametrize("method", ["C", "S", "R"])
def test_derived_values_follow_only_the_variables_they_depend_on(method):
    """``derived`` and ``derived_value`` with their cache equal a fresh model's uncached
    ``derived`` after every change of one variable: a value is reused only while the
    variables it depends on are unchanged (BayesS: slab_var moves with S)."""
    data = small_data(standardize=method != "S")
    model, fresh = AlphabetModel(data, method), AlphabetModel(data, method)
    point = model.initial_point()
    rng = np.random.default_rng(0)
    model.derived(point)
    names = ("sig2_e", "log_pi", "mean_pi", "slab_var")
    for name in [v.name for v in model.model.value_vars] * 2:
        point = dict(point)
        value = np.asarray(point[name])
        if value.dtype.kind == "f":
            point[name] = value + rng.normal(0, 0.3, value.shape)
        else:  # effects' components
            point[name] = rng.integers(0, model.n_components, value.shape)
        fresh._derived_cache = None  # the reference: computed from scratch
        truth = fresh.derived(point)
        for key in rng.permutation(names):
            np.testing.assert_array_equal(model.derived_value(point, key), truth[key],
                                          err_msg=f"{key} after changing {name}")
        np.testing.assert_array_equal(model.derived(point)["slab_var"], truth["slab_var"])
