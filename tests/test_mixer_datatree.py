"""MiXeR fits as ArviZ DataTrees: the netCDF file round-trips, every value equals the MiXeR
JSON view of the same fit (built independently from the fit object), and the derived
quantities satisfy their published formulas (h2 = pi sig2_beta sum H, nc = pi M,
rg = rho12 pi12 / sqrt((pi1 + pi12)(pi2 + pi12))) recomputed here from the tree's own
parameter draws."""

import json
import math

import numpy as np
import pytest
import xarray as xr

from bayesmix.inference.mle import fit_univariate
from bayesmix.inference.mle_bivariate import fit_bivariate, profile_pi12
from bayesmix.io.netcdf import write_netcdf
from bayesmix.models.mixer import simulate_z_from_model
from bayesmix.prepare.mixer_data import BivariateData, MixerData
from bayesmix.report.mixer_bivariate_json import fit_to_dict
from bayesmix.report.mixer_json import univariate_fit_json, write_json


@pytest.fixture(scope="module")
def fits():
    rng = np.random.default_rng(31)
    base, r = MixerData.synthetic(2000, block_size=50, n=1e5, rng=rng)
    pi = 0.02
    truth = (pi, 0.3 / (pi * base.sum_het), 1.0)
    z1, b1 = simulate_z_from_model(base, r, truth, rng=rng)
    z2 = 0.6 * z1 + rng.normal(0.0, 0.9, base.n_tags)
    d1, d2 = base.with_z(z1), base.with_z(z2)
    seq = ("infinitesimal", "constrained", "fast")
    uni1 = fit_univariate(d1, sequence=seq, n_draws=150)
    uni2 = fit_univariate(d2, sequence=seq, n_draws=150)
    pair = BivariateData.from_mixer_data(base, z1, z2, 1e5, 1e5)
    bi = fit_bivariate(pair, uni1, uni2, n_draws=150, max_evals=100)
    profile = profile_pi12(bi, pair, [0.2, 0.5, 0.8], max_evals=60)
    return uni1, bi, profile


def json_view(doc, tmp_path, name):
    """The JSON as a reader sees it (written and read back: NaN -> null)."""
    write_json(tmp_path / name, doc)
    return json.loads((tmp_path / name).read_text())


def roundtrip(tree, path):
    write_netcdf(tree, path)
    back = xr.open_datatree(path, engine="h5netcdf")
    assert back.identical(tree)
    return back


def assert_summary_equals_ci(summary, ci):
    assert list(summary["quantity"].values) == list(ci)
    for name, stats in ci.items():
        for field in ("point", "mean", "median", "std", "lower", "upper"):
            expected = np.nan if stats[field] is None else stats[field]
            assert float(summary[field].sel(quantity=name)) == pytest.approx(
                expected, rel=1e-12, nan_ok=True), (name, field)


def assert_steps_equal_optimize(tree, optimize):
    for i, (name, step) in enumerate(optimize):
        node = tree[f"optimize/step_{i}"]
        assert node.attrs["name"] == name and node.attrs["optimizer"] == step["optimizer"]
        assert node.attrs["n_evals"] == step["n_evals"]
        assert node.attrs["loglik"] == pytest.approx(step["loglik"], rel=1e-12)
        for key, value in step["params"].items():
            assert float(node["params"].sel(step_parameter=key)) == pytest.approx(value)
        trace = node["trace"].values
        assert trace.shape[0] == len(step["trace"])
        for row, expected in zip(trace, step["trace"]):
            assert np.array_equal(row[:len(expected)], expected)
            assert np.isnan(row[len(expected):]).all()


def test_univariate_tree_round_trips_and_equals_the_json(fits, tmp_path):
    fit, _, _ = fits
    tree = roundtrip(fit.to_datatree(), tmp_path / "uni.nc")
    doc = json_view(univariate_fit_json(fit), tmp_path, "uni.json")
    for key, value in doc["params"].items():
        assert float(tree["fit"][key]) == value
        assert float(tree["fit"][f"{key}_se"]) == pytest.approx(doc["se"][key], rel=1e-12)
    assert float(tree["fit"]["loglik"]) == doc["loglik"]
    assert_summary_equals_ci(tree["summary"], doc["ci"])
    crit = tree["criteria"]
    assert float(crit["AIC"]) == pytest.approx(doc["AIC"]) and float(crit["BIC"]) == \
        pytest.approx(doc["BIC"])
    for model in ("mixture", "infinitesimal"):
        for key in ("loglik", "k", "aic", "bic"):
            assert float(crit[key].sel(model=model)) == pytest.approx(
                doc["criteria"][model][key], rel=1e-12)
    assert np.allclose(tree["covariance"]["cov_free"].values, doc["cov_free"], rtol=1e-12)
    assert list(tree["covariance"]["free_parameter"].values) == doc["free_coordinates"]
    assert_steps_equal_optimize(tree, doc["optimize"])
    for key in ("n_tags", "n_ref", "sum_het", "method"):
        assert tree.attrs[key] == doc[key]
    assert json.loads(tree.attrs["options"])["sequence"] == doc["options"]["sequence"]


def test_univariate_derived_quantities_follow_their_formulas(fits):
    fit, _, _ = fits
    tree = fit.to_datatree()
    draws, point = tree["asymptotic_draws"], tree["fit"]
    sum_het, n_ref = tree.attrs["sum_het"], tree.attrs["n_ref"]
    assert draws.sizes == {"chain": 1, "draw": 150}
    pi, sb, s0 = (draws[k].values.ravel() for k in ("pi", "sig2_beta", "sig2_zero"))
    assert np.allclose(draws["h2"].values.ravel(), pi * sb * sum_het, rtol=1e-12)
    assert np.allclose(draws["nc"].values.ravel(), pi * n_ref, rtol=1e-12)
    h2_point = float(tree["summary"]["point"].sel(quantity="h2"))
    assert h2_point == pytest.approx(float(point["pi"]) * float(point["sig2_beta"]) * sum_het)
    # the summary is the draws' own summary
    h2 = draws["h2"].values.ravel()
    assert float(tree["summary"]["std"].sel(quantity="h2")) == pytest.approx(np.std(h2, ddof=1))
    assert float(tree["summary"]["lower"].sel(quantity="h2")) == pytest.approx(
        np.quantile(h2, 0.025))
    # the draws are those of a normal in the free coordinates with the tree's covariance
    u = np.column_stack([np.log(pi / (1 - pi)), np.log(sb), np.log(s0)])
    cov = tree["covariance"]["cov_free"].values
    assert np.allclose(np.cov(u.T), cov, rtol=0.35, atol=0.1 * np.sqrt(np.outer(
        np.diag(cov), np.diag(cov))).max())


def test_bivariate_tree_round_trips_and_equals_the_json(fits, tmp_path):
    _, fit, profile = fits
    tree = roundtrip(fit.to_datatree(profile), tmp_path / "bi.nc")
    doc = json_view(fit_to_dict(fit, extra={"pi12_profile": profile}), tmp_path, "bi.json")
    for key, value in doc["params"].items():
        assert float(tree["fit"]["estimate"].sel(parameter=key)) == value
    for t, trait in enumerate(("trait1", "trait2")):
        for key, value in doc["univariate"][trait].items():
            assert float(tree["fit"]["univariate"].sel(trait=trait,
                                                       univariate_parameter=key)) == value
    assert float(tree["fit"]["rg"]) == pytest.approx(doc["rg"], rel=1e-12)
    assert_summary_equals_ci(tree["summary"], doc["ci"])
    for counting, block in doc["venn"].items():
        for component, value in block.items():
            cell = tree["venn"].sel(counting=counting, component=component)
            assert float(cell["count"]) == pytest.approx(value["count"], rel=1e-12)
            assert float(cell["se"]) == pytest.approx(value["se"], rel=1e-12)
    crit = tree["criteria"]
    for model in ("best", "infinitesimal", "minimal_overlap", "maximal_overlap"):
        for key in ("loglik", "aic", "bic"):
            assert float(crit[key].sel(model=model)) == pytest.approx(
                doc["criteria"][model][key], rel=1e-12)
        if model != "best":
            assert float(crit["aic_vs_best"].sel(model=model)) == pytest.approx(
                doc["criteria"][f"best_vs_{model}_AIC"], rel=1e-9)
    assert np.allclose(tree["covariance"]["cov_free"].values, doc["cov_free"], rtol=1e-12)
    assert np.allclose(tree["covariance"]["estimate_free"].values, doc["u_hat"], rtol=1e-12)
    assert_steps_equal_optimize(tree, doc["optimize"])
    prof = tree["pi12_profile"]
    assert np.allclose(prof["share"].values, doc["pi12_profile"]["share"])
    assert np.allclose(prof["loglik"].values, doc["pi12_profile"]["loglik"], rtol=1e-12)


def test_bivariate_derived_quantities_follow_their_formulas(fits):
    _, fit, _ = fits
    tree = fit.to_datatree()
    draws = tree["asymptotic_draws"]
    pi1, pi2, pi12 = (draws[k].values for k in ("pi1", "pi2", "pi12"))
    rho12 = draws["rho_beta"].values
    assert np.allclose(draws["rg"].values, rho12 * pi12 / np.sqrt((pi1 + pi12) * (pi2 + pi12)),
                       rtol=1e-12)
    n_ref = tree.attrs["n_ref"]
    assert np.allclose(draws["nc12"].values, pi12 * n_ref, rtol=1e-12)
    assert np.allclose(draws["total"].values, (pi1 + pi2 + pi12) * n_ref, rtol=1e-12)
    est = tree["fit"]["estimate"]
    p = {k: float(est.sel(parameter=k)) for k in ("pi1", "pi2", "pi12", "rho12")}
    rg = p["rho12"] * p["pi12"] / math.sqrt((p["pi1"] + p["pi12"]) * (p["pi2"] + p["pi12"]))
    assert float(tree["fit"]["rg"]) == pytest.approx(rg, rel=1e-12)
    assert float(tree["summary"]["point"].sel(quantity="rg")) == pytest.approx(rg, rel=1e-12)
    uni = tree["fit"]["univariate"]
    for t, trait in enumerate(("trait1", "trait2")):
        h2 = float(uni.sel(trait=trait, univariate_parameter="pi")) * float(
            uni.sel(trait=trait, univariate_parameter="sig2_beta")) * tree.attrs["sum_het"]
        assert float(tree["summary"]["point"].sel(quantity=f"h2_T{t + 1}")) == \
            pytest.approx(h2, rel=1e-12)
    # Venn counts are the shared / unique fractions times M
    assert float(tree["venn"]["count"].sel(counting="total", component="n12")) == \
        pytest.approx(p["pi12"] * n_ref, rel=1e-12)
