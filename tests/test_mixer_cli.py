"""bayesmix-mixer ld / fit1 / test1 and ``bayesmix mixer`` on the shipped chr22 subset, the
example script, and bad inputs. Truth: the parameters the z-scores were simulated with."""

import argparse
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

from bayesmix.cli import main as bayesmix_main
from bayesmix.cli import mixer as mixer_cli
from bayesmix.cli.mixer_runs import fit1_step
from bayesmix.prepare.mixer import parse_chromosomes, parse_exclude_ranges

ROOT = Path(__file__).resolve().parents[1]
H2, N_CAUSAL, N_GWAS = 0.2, 100, 1e5


@pytest.fixture(scope="module")
def reference(tmp_path_factory, bfile22):
    """MiXeR-style LD (r2 >= 0.05, 10 Mb) of chr22 and sumstats simulated from the model."""
    from bayesmix.io.sumstats import write_sumstats
    from bayesmix.ld.store import LDMatrix
    from bayesmix.models.mixer import simulate_z_from_model
    from bayesmix.prepare.mixer_data import MixerData
    from bayesmix.simulate.from_ld import sumstats_table

    tmp = tmp_path_factory.mktemp("mixer_cli")
    assert mixer_cli.main(["ld", "--bfile", str(bfile22), "--ld-window-kb", "10000",
                           "--out", str(tmp / "ref_chr22.ld")]) == 0
    ld = LDMatrix.load(tmp / "ref_chr22.ld")
    assert ld.meta.get("min_r2", ld.meta.get("r2min", 0.05)) == pytest.approx(0.05)
    data = MixerData.from_ld(ld, np.zeros(ld.shape[0]), N_GWAS, ld_in_sample=True)
    pi = N_CAUSAL / data.n_ref
    truth = (pi, H2 / (pi * data.sum_het), 1.0)
    z, _ = simulate_z_from_model(data, ld.to_scipy(), truth, rng=np.random.default_rng(3))
    write_sumstats(sumstats_table(z, N_GWAS, ld.snps), tmp / "trait.sumstats.gz")
    return tmp, truth


def test_fit1_test1_and_native_fit(reference, bfile22):
    tmp, truth = reference
    common = ["--trait1-file", str(tmp / "trait.sumstats.gz"), "--ld-file",
              str(tmp / "ref_chr@.ld"), "--bim-file", str(bfile22).replace("22_sub", "@_sub") + ".bim",
              "--chr2use", "22", "--ld-in-sample"]   # the statistics are drawn from this LD
    rc = mixer_cli.main(["fit1", *common, "--fit-sequence", "infinitesimal", "diffevo-fast",
                         "fast", "--n-draws", "200", "--out", str(tmp / "t.fit")])
    assert rc == 0
    doc = json.loads((tmp / "t.fit.json").read_text())
    assert set(doc["params"]) == {"pi", "sig2_beta", "sig2_zero"}
    assert {"h2", "nc", "nc@p9"} <= set(doc["ci"])
    assert [s[0] for s in doc["optimize"]] == ["infinitesimal", "constrained", "fast"]
    assert doc["AIC"] > 0 and doc["BIC"] > 0  # strong sparse signal: mixture preferred
    h2_truth = truth[0] * truth[1] * doc["sum_het"]
    assert doc["ci"]["h2"]["point"] == pytest.approx(h2_truth, rel=0.35)
    assert doc["params"]["sig2_zero"] == pytest.approx(1.0, abs=0.1)

    import xarray as xr

    tree = xr.open_datatree(tmp / "t.fit.nc", engine="h5netcdf")
    assert float(tree["fit"]["pi"]) == pytest.approx(doc["params"]["pi"])
    assert tree["asymptotic_draws"]["h2"].size == 200
    assert float(tree["summary"]["std"].sel(quantity="nc@p9")) == pytest.approx(
        doc["ci"]["nc@p9"]["std"], rel=1e-12)
    command = json.loads(tree.attrs["command_options"])
    assert command and all(doc["options"][k] == v for k, v in command.items())

    rc = mixer_cli.main(["test1", *common, "--load-params-file", str(tmp / "t.fit.json"),
                         "--qq-method", "fast", "--out", str(tmp / "t.test")])
    assert rc == 0
    test = json.loads((tmp / "t.test.json").read_text())
    assert len(test["qqplot_bins"]["panels"]) == 3 and len(test["qqplot_bins"]["panels"][0]) == 3
    svec = np.array(test["power"]["svec"])
    assert np.all(np.diff(svec) >= -1e-12) and 0 <= svec[0] < svec[-1] <= 1
    for name in ("qq", "qqbins", "power"):
        for ext in ("png", "pdf"):
            assert (tmp / f"t.test.{name}.{ext}").stat().st_size > 1000

    rc = bayesmix_main.main(["mixer", "fit", "--sumstats", str(tmp / "trait.sumstats.gz"),
                             "--ld", str(tmp / "ref_chr@.ld"), "--chr", "22", "--method", "fast",
                             "--ld-in-sample", "--draws", "200", "--seed", "123",
                             "--out", str(tmp / "native")])
    assert rc == 0
    native = json.loads((tmp / "native.json").read_text())
    for key, value in doc["params"].items():  # same engine, same seed: the same estimate
        assert native["params"][key] == pytest.approx(value, rel=1e-9)


def test_bad_inputs_are_reported_with_file_and_line(reference, tmp_path, capsys):
    tmp, _ = reference
    bad = tmp_path / "bad.json"
    bad.write_text('{"params": {"pi": 0.1,\n "sig2_beta": }')
    common = ["--trait1-file", str(tmp / "trait.sumstats.gz"), "--ld-file",
              str(tmp / "ref_chr@.ld"), "--chr2use", "22", "--out", str(tmp_path / "x")]
    assert mixer_cli.main(["test1", *common, "--load-params-file", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err and "line 2" in err
    bad.write_text('{"params": {"pi": 0.1, "sig2_beta": -1, "sig2_zero": 1}}')
    assert mixer_cli.main(["test1", *common, "--load-params-file", str(bad)]) == 1
    assert "sig2_beta must be a positive number" in capsys.readouterr().err
    assert mixer_cli.main(["fit1", *common[:3], str(tmp / "nope_chr@.ld"), "--chr2use", "22",
                           "--out", str(tmp_path / "y")]) == 1
    assert "nope_chr22.ld" in capsys.readouterr().err
    assert mixer_cli.main(["fit1", *common[:4], "--chr2use", "9-x",
                           "--out", str(tmp_path / "y")]) == 1
    assert "--chr2use" in capsys.readouterr().err


def test_exclude_ranges_forms(tmp_path):
    assert parse_exclude_ranges("MHC") == ("hg19", None)
    assert parse_exclude_ranges("[]") == (None, None)
    _, regions = parse_exclude_ranges("6:25-35MB 8:100-200KB")
    assert regions.to_dict("list") == {"chr": ["6", "8"], "start": [25_000_000, 100_000],
                                       "end": [35_000_000, 200_000]}
    assert parse_chromosomes("1-3,X") == ["1", "2", "3", "X"]
    assert [fit1_step(t) for t in ["diffevo-fast", "neldermead", "lbfgs-fast"]] == [
        "constrained", "neldermead-convolve", "lbfgs-fast"]
    for bad in ("bogus", "lbfgs-full", "neldermead-constrained"):
        with pytest.raises(argparse.ArgumentTypeError):
            fit1_step(bad)


def test_example_script_end_to_end(tmp_path, monkeypatch):
    """examples/mixer_univariate.py on small data: truth inside the reported intervals."""
    monkeypatch.setattr(sys, "argv", ["mixer_univariate.py", "--out", str(tmp_path / "ex"),
                                      "--snps", "3000", "--causal", "60", "--h2", "0.3",
                                      "--method", "convolve"])
    module = runpy.run_path(str(ROOT / "examples" / "mixer_univariate.py"), run_name="example")
    fit, truth = module["main"]()
    assert fit.ci["nc"]["point"] == pytest.approx(truth["nc"], rel=0.4)
    assert fit.ci["h2"]["point"] == pytest.approx(truth["h2"], rel=0.35)
    assert (tmp_path / "ex.fit.json").exists() and (tmp_path / "ex.test.qq.png").exists()


def test_reference_chromosome_without_tags_is_left_out(reference, bfile21, bfile22):
    """Sumstats on chr22 only, --chr2use 21-22: chr21 must not enter h2 = pi sig2_beta sum H
    and nc = pi M (it would double them); the fit equals the chr22-only fit."""
    tmp, _ = reference
    assert mixer_cli.main(["ld", "--bfile", str(bfile21), "--out", str(tmp / "ref_chr21.ld")]) == 0
    bim = str(bfile22).replace("22_sub", "@_sub") + ".bim"
    fits = {}
    for chroms in ("22", "21-22"):
        out = tmp / f"chroms_{chroms}"
        assert mixer_cli.main(["fit1", "--trait1-file", str(tmp / "trait.sumstats.gz"),
                               "--ld-file", str(tmp / "ref_chr@.ld"), "--bim-file", bim,
                               "--chr2use", chroms, "--fit-sequence", "infinitesimal",
                               "fast", "--n-draws", "100",
                               "--out", str(out)]) == 0
        fits[chroms] = json.loads(out.with_suffix(".json").read_text())
    assert fits["21-22"]["n_ref"] == fits["22"]["n_ref"]
    assert fits["21-22"]["ci"]["h2"]["point"] == pytest.approx(fits["22"]["ci"]["h2"]["point"])
