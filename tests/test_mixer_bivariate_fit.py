"""Bivariate MiXeR fit sequence, JSON and plots on pairs simulated from known parameters."""

import json
import math
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from bayesmix.inference.mle import fit_univariate
from bayesmix.inference.mle_bivariate import (fit_bivariate, genetic_correlation, profile_pi12,
                                              shared_posteriors)
from bayesmix.prepare.mixer_data import BivariateData, MixerData
from bayesmix.report.mixer_bivariate_json import pairs_table, read_fit_json, write_fit_json
from bayesmix.simulate.effects import mixer_bivariate_effects

ROOT = Path(__file__).resolve().parents[1]


def _simulate(seed, *, pi1, pi2, pi12, rho12, rho0, n_snps=8000, n=1e5, h2=(0.5, 0.5)):
    """Pair from the likelihood's generative model on synthetic block LD."""
    rng = np.random.default_rng(seed)
    ld, r_signed = MixerData.synthetic(n_snps, rng=rng, n=n)
    effects = mixer_bivariate_effects(ld.het, np.array(h2), rng=rng, pi1=pi1, pi2=pi2,
                                      pi12=pi12, rho12=rho12)
    delta = math.sqrt(n) * (r_signed @ effects.b_std)
    eps = rng.multivariate_normal([0, 0], [[1, rho0], [rho0, 1]], size=n_snps)
    z = delta + eps
    return BivariateData.from_mixer_data(ld, z[:, 0], z[:, 1], n, n), effects


def _realised_rg(effects):
    b = effects.b_std
    return b[:, 0] @ b[:, 1] / math.sqrt((b[:, 0] ** 2).sum() * (b[:, 1] ** 2).sum())


def _univariate(data):
    return [fit_univariate(d, sequence=("infinitesimal", "constrained", "fast"), n_draws=50)
            for d in (data.trait1, data.trait2)]


@pytest.fixture(scope="module")
def partial_fit():
    data, effects = _simulate(1, pi1=0.01, pi2=0.01, pi12=0.01, rho12=0.6, rho0=0.25)
    uni = _univariate(data)
    fit = fit_bivariate(data, uni[0], uni[1], n_draws=300)
    return data, effects, uni, fit


def test_partial_overlap_recovered(partial_fit):
    data, effects, uni, fit = partial_fit
    assert fit.share == pytest.approx(0.5, abs=0.15)
    assert 0 < fit.ci["rg"]["std"] < 0.1
    # ~75 shared causal variants: the estimator's own error is a few hundredths
    assert fit.rg == pytest.approx(_realised_rg(effects), abs=0.08)
    assert fit.params["rho0"] == pytest.approx(0.25, abs=0.03)
    # rg agrees with its definition from the fitted parameters and has a sensible SE
    p = fit.params
    assert fit.ci["rg"]["point"] == pytest.approx(
        genetic_correlation(p["pi1"], p["pi2"], p["pi12"], p["rho12"]), rel=1e-12)
    # Venn counts are the fractions times the reference size
    assert fit.ci["nc12"]["point"] == pytest.approx(p["pi12"] * data.n_ref, rel=1e-12)
    # the best model beats the infinitesimal and both extreme-overlap models here
    for other in ("infinitesimal", "minimal_overlap", "maximal_overlap"):
        assert fit.criteria[f"best_vs_{other}_AIC"] > 0, other


@pytest.mark.parametrize("pi12,pi_unique", [(0.0, 0.02), (0.02, 0.0)])
def test_extreme_overlaps_recovered(pi12, pi_unique):
    data, effects = _simulate(2, pi1=pi_unique, pi2=pi_unique, pi12=pi12, rho12=0.0, rho0=0.0)
    uni = _univariate(data)
    fit = fit_bivariate(data, uni[0], uni[1], compare_overlap=False, n_draws=50)
    truth = pi12 / (pi12 + pi_unique)
    assert fit.share == pytest.approx(truth, abs=0.2)
    assert fit.rg == pytest.approx(_realised_rg(effects), abs=0.06)


def test_shared_posteriors_rank_tags_near_shared_causals(partial_fit):
    data, effects, uni, fit = partial_fit
    post = shared_posteriors(fit, data)
    total = sum(post[k] for k in ("p_null",))
    assert np.all((total >= 0) & (total <= 1))
    # tags that are themselves causal: shared (component 3) vs unique (1, 2)
    comp = effects.component
    shared, unique = comp == 3, (comp == 1) | (comp == 2)
    a, b = post["p_shared"][shared], post["p_shared"][unique]
    auc = (a[:, None] > b[None, :]).mean()
    assert auc > 0.75


def test_json_round_trip_and_plots(partial_fit, tmp_path):
    data, effects, uni, fit = partial_fit
    path = tmp_path / "pair.fit.json"
    write_fit_json(path, fit, trait_names=("A", "B"))
    record = read_fit_json(path)
    assert record["params"]["pi12"] == pytest.approx(fit.params["pi12"])
    venn = record["venn"]["total"]
    assert venn["n12"]["count"] == pytest.approx(fit.params["pi12"] * data.n_ref)
    assert venn["total"]["count"] == pytest.approx(
        (fit.params["pi1"] + fit.params["pi2"] + fit.params["pi12"]) * data.n_ref)
    assert record["venn"]["p9"]["n1"]["count"] < venn["n1"]["count"]
    json.dumps(record)
    table = pairs_table([record, record], counts="total", scale=1.0)
    assert list(table["trait1"]) == ["A", "A"]
    assert table["n12"][0] == pytest.approx(venn["n12"]["count"])
    assert table["rg"][0] == pytest.approx(fit.rg)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayesmix.plots import bivariate as bplots

    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    bplots.plot_venn(record["venn"]["total"], ax=axes[0, 0])
    bplots.plot_conditional_qq(data, fit, ax=axes[0, 1], n_points=40)
    bplots.plot_beta_density(fit, ax=axes[0, 2], n=2000)
    heard = []
    profile = profile_pi12(fit, data, shares=np.linspace(0.1, 0.9, 5), progress=heard.append)
    assert [line.split(":")[1].split(" of")[0].strip() for line in heard] == ["1", "2", "3",
                                                                              "4", "5"]
    bplots.plot_pi12_profile(profile, fit=fit, ax=axes[1, 0])
    bplots.plot_z_density(data, fit, axes=axes[1, 1:], n_rep=3)
    fig.savefig(tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 10_000
    # data simulated from the model: data and model conditional Q-Q curves agree (x at each
    # observed -log10 p up to 80% of the stratum's reach)
    qq = bplots.conditional_qq_data(data, fit, n_points=60)
    for curve in qq["curves"][:3]:
        hv, data_x, model_x = curve["hv_logp"], curve["data_logpvec"], curve["model_logpvec"]
        reach = hv[np.isfinite(data_x)].max()
        rows = (hv > 0) & (hv <= 0.8 * reach)
        assert np.all(np.abs(data_x[rows] - model_x[rows]) < 0.15 * data_x[rows] + 0.1), (
            curve["threshold"])
    # shared causal variants: conditioning on trait 2 enriches trait 1's signal (the same
    # observed -log10 p is reached by a larger share of the stratum: smaller x)
    unconditional, conditional = qq["curves"][0], qq["curves"][2]
    at = np.argmin(np.abs(qq["curves"][0]["hv_logp"] - 2.0))
    assert conditional["data_logpvec"][at] < unconditional["data_logpvec"][at]
    # the estimate is the profile's maximum (test_mixer_bivariate_plots checks it closely)
    assert profile["excess"] <= 1e-3
    assert profile["estimate"]["loglik"] >= fit.loglik - 1e-9


def test_model_simulation_matches_analytic_moments(partial_fit):
    """z simulated from the fitted fast model has the model's analytic second moments:
    E z1^2 = s01 + (pi1 + pi12) N l sig2_beta1, E z1 z2 = rho0 s0 + pi12 N l rho12 s_beta."""
    from bayesmix.plots.bivariate import sample_fast_model

    data, effects, uni, fit = partial_fit
    p = fit.params
    z1, z2 = sample_fast_model(data, fit.theta, np.random.default_rng(3), 40)
    l2 = data.trait1.ld_moments[0]
    n = data.trait1.n
    var1 = p["sig2_zero1"] + (p["pi1"] + p["pi12"]) * n * l2 * p["sig2_beta1"]
    cov12 = (p["rho0"] * math.sqrt(p["sig2_zero1"] * p["sig2_zero2"])
             + p["pi12"] * n * l2 * p["rho12"] * math.sqrt(p["sig2_beta1"] * p["sig2_beta2"]))
    assert np.mean(z1 ** 2) == pytest.approx(var1.mean(), rel=0.03)
    assert np.mean(z1 * z2) == pytest.approx(cov12.mean(), rel=0.05)


@pytest.mark.slow
def test_recovery_example_runs_quick(tmp_path, monkeypatch):
    out = tmp_path / "table.json"
    monkeypatch.setattr(sys, "argv", ["mixer_bivariate_recovery.py", "--quick", "--out",
                                      str(out)])
    runpy.run_path(str(ROOT / "examples" / "mixer_bivariate_recovery.py"),
                   run_name="__main__")
    table = json.loads(out.read_text())
    assert table["mean_abs_share_error"] < 0.15
    assert table["mean_abs_realised_rg_error"] < 0.05


def test_interval_warning_compares_asymptotic_and_profile_widths():
    """The warning fires when the n12 interval of the SEs is under half as wide as the
    profile's likelihood-ratio interval (an open end read at the grid's edge), not otherwise."""
    from bayesmix.inference.mle_bivariate import interval_warning

    ci = {"nc12": {"lower": 100.0, "upper": 140.0}}
    flat = {"lr95_n12": [50.0, None], "n12": np.linspace(10, 300, 25),
            "estimate": {"n12": 120.0}}
    message = interval_warning(ci, flat)
    assert message is not None and "100-140" in message and "50-300" in message
    peaked = {"lr95_n12": [95.0, 150.0], "n12": np.linspace(10, 300, 25),
              "estimate": {"n12": 120.0}}
    assert interval_warning(ci, peaked) is None       # 40 >= 0.5 x 55


def test_inflation_refit_recovers_simulated_sig2_zero_and_rho0(partial_fit):
    """MiXeR's test2 'inflation' step from a fit whose inflation parameters are off (both
    sig2_zero 1.3, rho0 0): the refit recovers the simulated 1.0 (within the fast
    likelihood's few-percent upward bias on sparse effects, test_mixer_fit) and rho0 0.25
    on these z-scores, holding pi12 and rho_beta (and the univariate pi, sig2_beta)."""
    from dataclasses import replace

    from bayesmix.inference.mle_bivariate import refit_bivariate_inflation
    from bayesmix.models.mixer_bivariate import UnivariateParams

    data, _, _, fit = partial_fit
    off = replace(fit, params={**fit.params, "sig2_zero1": 1.3, "sig2_zero2": 1.3, "rho0": 0.0},
                  uni1=UnivariateParams(fit.uni1.pi, fit.uni1.sig2_beta, 1.3),
                  uni2=UnivariateParams(fit.uni2.pi, fit.uni2.sig2_beta, 1.3))
    refit, steps = refit_bivariate_inflation(off, data)
    assert refit.params["sig2_zero1"] == pytest.approx(1.0, abs=0.1)
    assert refit.params["sig2_zero2"] == pytest.approx(1.0, abs=0.1)
    assert refit.params["rho0"] == pytest.approx(0.25, abs=0.03)
    for name in ("pi1", "pi2", "pi12", "sig2_beta1", "sig2_beta2", "rho12"):
        assert refit.params[name] == fit.params[name]
    assert refit.uni1.sig2_zero == refit.params["sig2_zero1"]
    assert [s.get("trait") for s in steps] == [1, 2, None]
    assert all(s["loglik"] >= s["loglik_loaded"] for s in steps)
