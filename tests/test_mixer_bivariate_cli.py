"""bayesmix-mixer fit2 / test2 and ``bayesmix mixer fit2`` on the shipped chr22 subset with
z-scores simulated from the bivariate model (known overlap), plus bad inputs."""

import gzip
import json

import numpy as np
import pytest

from bayesmix.cli import main as bayesmix_main
from bayesmix.cli import mixer as mixer_cli

N_GWAS = 1e5


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """LD of chr22 (bayesmix-mixer ld), two traits sharing half their causal variants
    (rho12 = 0.6, rho0 = 0.2) drawn from the likelihood's generative model (z = sqrt(N) (R b +
    weak-LD signal) + eps, eps ~ N(0, [[1, rho0], [rho0, 1]]) per tag), and their univariate
    fits (fit1)."""
    from bayesmix.data import example_bfile
    from bayesmix.inference.mle_bivariate import realised_genetic_correlation
    from bayesmix.io.sumstats import write_sumstats
    from bayesmix.ld.store import LDMatrix
    from bayesmix.simulate.effects import mixer_bivariate_effects
    from bayesmix.simulate.from_ld import sumstats_table, weak_ld_signal

    tmp = tmp_path_factory.mktemp("mixer2_cli")
    assert mixer_cli.main(["ld", "--bfile", str(example_bfile(22)), "--ld-window-kb",
                           "10000", "--out", str(tmp / "ref_chr22.ld")]) == 0
    ld = LDMatrix.load(tmp / "ref_chr22.ld")
    r = ld.to_scipy()
    freq = ld.snps["freq"].to_numpy()
    rng = np.random.default_rng(5)
    effects = mixer_bivariate_effects(2 * freq * (1 - freq), np.array([0.3, 0.3]), rng=rng,
                                      pi1=0.006, pi2=0.006, pi12=0.006, rho12=0.6)
    signal = r @ effects.b_std + weak_ld_signal(ld.weak_ld, 2 * freq * (1 - freq),
                                                effects.b_std, rng)
    z = np.sqrt(N_GWAS) * signal + rng.multivariate_normal([0, 0], [[1, 0.2], [0.2, 1]],
                                                           size=r.shape[0])
    # fit on every 3rd SNP as tag (MiXeR's --extract of a random subset), all as reference
    (tmp / "tags.snps").write_text("\n".join(ld.snps["snp"].to_numpy()[::3]) + "\n")
    for t in range(2):
        write_sumstats(sumstats_table(z[:, t], N_GWAS, ld.snps), tmp / f"t{t + 1}.sumstats.gz")
        assert mixer_cli.main(["fit1", "--trait1-file", str(tmp / f"t{t + 1}.sumstats.gz"),
                               "--ld-file", str(tmp / "ref_chr@.ld"), "--chr2use", "22",
                               "--extract", str(tmp / "tags.snps"), "--ld-in-sample",
                               "--fit-sequence", "infinitesimal", "constrained", "fast",
                               "--n-draws", "20", "--out", str(tmp / f"t{t + 1}.fit")]) == 0
    rg = realised_genetic_correlation(effects.b_std, r)
    return tmp, rg


def _common(tmp):
    return ["--trait1-file", str(tmp / "t1.sumstats.gz"), "--trait2-file",
            str(tmp / "t2.sumstats.gz"), "--ld-file", str(tmp / "ref_chr@.ld"),
            "--chr2use", "22", "--extract", str(tmp / "tags.snps"), "--ld-in-sample"]


@pytest.mark.slow
def test_fit2_test2_and_native(pair):
    """MiXeR's option names end to end; the native command gives the same estimate."""
    tmp, rg = pair
    rc = mixer_cli.main(["fit2", *_common(tmp), "--trait1-params-file",
                         str(tmp / "t1.fit.json"), "--trait2-params-file",
                         str(tmp / "t2.fit.json"), "--fit-sequence", "diffevo-fast",
                         "neldermead-fast", "--n-draws", "100", "--profile-points", "4",
                         "--out", str(tmp / "pair.fit")])
    assert rc == 0
    doc = json.loads((tmp / "pair.fit.json").read_text())
    assert [s[0] for s in doc["optimize"]] == ["infinitesimal", "fast"]
    p = doc["params"]
    assert p["pi12"] / (p["pi1"] + p["pi12"]) == pytest.approx(0.5, abs=0.2)
    assert doc["rg"] == pytest.approx(rg, abs=0.1)
    # rho0's spread over the fixture's random stream: 0.20 / 0.26 / 0.13 / 0.18 on four rng
    # seeds (SD ~0.05), so 3 SD; the test failed at 0.096 when the stream was only shifted
    assert p["rho0"] == pytest.approx(0.2, abs=0.15)
    venn = doc["venn"]["total"]
    assert venn["n12"]["count"] == pytest.approx(p["pi12"] * doc["n_ref"])
    # MiXeR's nc12@p9 = NCKoef pi12 num_snp, NCKoef = 0.319 (bivar_mixer/utils.py)
    assert doc["ci"]["nc12@p9"]["point"] == pytest.approx(0.319 * p["pi12"] * doc["n_ref"])
    assert doc["venn"]["p9"]["n12"]["count"] == doc["ci"]["nc12@p9"]["point"]
    assert "nc12@p9_het" in doc["ci"]
    assert venn["n12"]["se"] > 0
    assert len(doc["pi12_profile"]["loglik"]) == 4
    for key in ("best_vs_minimal_overlap_AIC", "best_vs_maximal_overlap_AIC"):
        assert key in doc["criteria"]
    import xarray as xr  # the same fit as an ArviZ DataTree

    tree = xr.open_datatree(tmp / "pair.fit.nc", engine="h5netcdf")
    assert float(tree["fit"]["estimate"].sel(parameter="pi12")) == p["pi12"]
    assert float(tree["venn"]["se"].sel(counting="total", component="n12")) == \
        pytest.approx(venn["n12"]["se"], rel=1e-12)
    assert tree["asymptotic_draws"].sizes["draw"] == 100
    assert tree["pi12_profile"].sizes["share"] == 4

    rc = mixer_cli.main(["test2", *_common(tmp), "--load-params-file",
                         str(tmp / "pair.fit.json"), "--out", str(tmp / "pair.test")])
    assert rc == 0
    test = json.loads((tmp / "pair.test.json").read_text())
    assert [len(q["curves"]) for q in test["conditional_qq"]] == [4, 4]  # both directions
    with gzip.open(tmp / "pair.test.snps.tsv.gz", "rt") as fh:
        header = fh.readline().split()
        rows = sum(1 for _ in fh)
    assert header == ["snp", "chr", "bp", "z1", "z2", "p_shared", "p_unique1", "p_unique2",
                      "p_null"]
    assert rows == test["n_tags"]
    for name in ("venn", "condqq", "density", "profile"):
        for ext in ("png", "pdf"):
            assert (tmp / f"pair.test.{name}.{ext}").stat().st_size > 1000

    rc = bayesmix_main.main(["mixer", "fit2", "--sumstats", str(tmp / "t1.sumstats.gz"),
                             "--sumstats2", str(tmp / "t2.sumstats.gz"), "--ld",
                             str(tmp / "ref_chr@.ld"), "--chr", "22", "--ld-in-sample", "--params",
                             str(tmp / "t1.fit.json"), "--params2", str(tmp / "t2.fit.json"),
                             "--extract", str(tmp / "tags.snps"),
                             "--sequence", "infinitesimal", "fast", "--draws", "100",
                             "--seed", "123", "--out", str(tmp / "native")])
    assert rc == 0
    native = json.loads((tmp / "native.json").read_text())
    for key, value in p.items():  # same engine, same seed: the same estimate
        assert native["params"][key] == pytest.approx(value, rel=1e-9)
    # the native command keeps bayesmix's count (the reference's heterozygosities)
    assert native["ci"]["nc12@p9"]["point"] == pytest.approx(
        doc["ci"]["nc12@p9_het"]["point"], rel=1e-9)
    assert (tmp / "native.nc").stat().st_size > 0


@pytest.mark.slow
def test_fit2_bad_inputs(pair, capsys):
    tmp, _ = pair
    bad = tmp / "bad.json"
    bad.write_text('{"params": {"pi": -1, "sig2_beta": 1e-5, "sig2_zero": 1}}')
    rc = mixer_cli.main(["fit2", *_common(tmp), "--trait1-params-file", str(bad),
                         "--trait2-params-file", str(tmp / "t2.fit.json"),
                         "--out", str(tmp / "x")])
    assert rc == 1
    assert "bad.json" in capsys.readouterr().err
    rc = mixer_cli.main(["test2", *_common(tmp), "--load-params-file",
                         str(tmp / "t1.fit.json"), "--out", str(tmp / "y")])
    assert rc == 1
    assert "not a bayesmix bivariate fit" in capsys.readouterr().err


def test_fit2_refuses_univariate_fits_of_other_statistics(pair, capsys):
    """Swapped params files (or those of another trait) ran to a wrong overlap without a word:
    fit1 records the digest of the statistics it fitted, and fit2 checks it; a copy of the
    same file is fine. A test1 or fit2 JSON is not a univariate fit."""
    tmp, _ = pair
    swapped = ["--trait1-params-file", str(tmp / "t2.fit.json"),
               "--trait2-params-file", str(tmp / "t1.fit.json")]
    assert mixer_cli.main(["fit2", *_common(tmp), *swapped, "--out", str(tmp / "sw")]) == 1
    err = capsys.readouterr().err
    assert "t2.fit.json" in err and "the statistics of trait 1" in err
    assert not (tmp / "sw.json").exists()  # (its .log says why)
    doc = json.loads((tmp / "t1.fit.json").read_text())
    assert doc["trait_file"] == str(tmp / "t1.sumstats.gz")
    (tmp / "test1.json").write_text(json.dumps({**doc, "analysis": "univariate-test"}))
    assert mixer_cli.main(["fit2", *_common(tmp), "--trait1-params-file",
                           str(tmp / "test1.json"), "--trait2-params-file",
                           str(tmp / "t2.fit.json"), "--out", str(tmp / "tt")]) == 1
    assert "a 'univariate-test' result, not a univariate fit" in capsys.readouterr().err
    from bayesmix.cli.mixer_runs import params_for_traits

    (tmp / "copy1.sumstats.gz").write_bytes((tmp / "t1.sumstats.gz").read_bytes())
    uni = params_for_traits([tmp / "t1.fit.json", tmp / "t2.fit.json"],
                            [tmp / "copy1.sumstats.gz", tmp / "t2.sumstats.gz"])
    assert uni[0]["pi"] == doc["params"]["pi"]
