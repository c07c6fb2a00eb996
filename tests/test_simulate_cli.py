"""``bayesmix simulate`` end to end on the shipped chr22 subset: outputs, truth, errors."""

import json

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli.main import main
from bayesmix.io.plink import Genotypes
from bayesmix.io.sumstats import read_sumstats
from bayesmix.simulate.from_ld import block_diagonal_ld


@pytest.fixture(scope="module")
def geno22(bfile22):
    return Genotypes.open(bfile22)


def _run(*argv):
    return main(["simulate", *map(str, argv)])


def _read_phen(path):
    return pd.read_csv(path, sep=" ", header=None)


def _genetic_values_from_truth(geno, truth, trait=0):
    """sum_j beta_j (x_j - 2 p_j) over the causal SNPs, from raw allele counts."""
    causal = truth["causal"]
    beta = np.asarray(causal["beta"]).reshape(len(causal["index"]), -1)[:, trait]
    x = geno.read(np.asarray(causal["index"]), standardize=False).astype(np.float64)
    return (x - x.mean(axis=0)) @ beta


@pytest.mark.parametrize("prior,extra", [
    ("C", ["--n-causal", 50]),
    ("R", []),
    ("S", ["--pi", 0.01, "--S", -1]),
    ("B", ["--n-causal", 30, "--nu", 5]),
    ("mixer", ["--pi", 0.005]),
    ("N", ["--pi", 0.3, "--pi-snp", 0.05, "--window-kb", 500]),
])
def test_simulate_each_prior(tmp_path, bfile22, geno22, prior, extra):
    out = tmp_path / "sim"
    assert _run("--bfile", bfile22, "--prior", prior, "--h2", 0.4, *extra, "--seed", 7,
                "--out", out) == 0
    truth = json.loads((tmp_path / "sim.truth.json").read_text())
    assert truth["prior"] == prior and truth["seed"] == 7 and truth["h2"] == 0.4
    assert truth["causal"]["snp"] == geno22.snps["snp"].to_numpy()[truth["causal"]["index"]].tolist()
    np.testing.assert_allclose(
        truth["causal"]["b_std"],
        np.asarray(truth["causal"]["beta"]) * np.sqrt(geno22.heterozygosity[truth["causal"]["index"]]))
    # the per-allele truth explains exactly h2 of variance in the sample (rescaled effects)
    g = _genetic_values_from_truth(geno22, truth)
    assert np.isclose(g.var(), 0.4, rtol=1e-5)
    phen = _read_phen(tmp_path / "sim.phen")
    assert phen[[0, 1]].values.tolist() == geno22.samples[["fid", "iid"]].values.tolist()
    y = phen[2].to_numpy()
    # GWAS: .ma b/se equal a least-squares fit of the .phen on each SNP
    ma = read_sumstats(tmp_path / "sim.ma")
    assert ma["SNP"].tolist() == geno22.snps["snp"].tolist()
    for j in (0, 1234, 9999):
        x = geno22.read([j], standardize=False)[:, 0].astype(np.float64)
        design = np.column_stack([np.ones_like(x), x])
        coef, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
        se = np.sqrt(rss[0] / (len(y) - 2) * np.linalg.inv(design.T @ design)[1, 1])
        np.testing.assert_allclose([ma["BETA"][j], ma["SE"][j]], [coef[1], se], rtol=1e-6)
    ldsc = read_sumstats(tmp_path / "sim.sumstats.gz")
    np.testing.assert_allclose(ldsc["Z"], ma["BETA"] / ma["SE"], rtol=1e-6)
    assert (ldsc["N"] == geno22.n_samples).all()


def test_same_seed_same_files(tmp_path, bfile22):
    for name in ("a", "b"):
        _run("--bfile", bfile22, "--prior", "C", "--h2", 0.3, "--n-causal", 20, "--seed", 3,
             "--out", tmp_path / name)
    for ext in (".phen", ".ma"):
        assert (tmp_path / f"a{ext}").read_bytes() == (tmp_path / f"b{ext}").read_bytes()


def test_n_gwas_from_ld(tmp_path, bfile22, geno22):
    n = 200_000
    _run("--bfile", bfile22, "--prior", "C", "--h2", 0.5, "--pi", 0.01, "--n-gwas", n,
         "--ld-block-size", 100, "--seed", 4, "--out", tmp_path / "ld")
    truth = json.loads((tmp_path / "ld.truth.json").read_text())
    assert truth["gwas"]["n"] == [n]
    ma = read_sumstats(tmp_path / "ld.ma")
    assert (ma["N"] == n).all()
    b = np.zeros(geno22.n_snps)
    b[truth["causal"]["index"]] = truth["causal"]["b_std"]
    r = block_diagonal_ld(geno22, 100)
    assert np.isclose(b @ (r @ b), 0.5, rtol=1e-5)  # effects rescaled so b'Rb = h2
    expected = 1 + n * np.mean((r @ b) ** 2)  # E[mean z^2 | b]
    z = ma["BETA"] / ma["SE"]
    assert abs(np.mean(z**2) / expected - 1) < 0.1
    assert (tmp_path / "ld.phen").exists()
    # no saved matrix holds this block-diagonal LD: the note says to draw from one instead
    assert "(--ld)" in truth["gwas"]["ld_note"]


def test_bivariate_and_binary(tmp_path, bfile22):
    assert _run("--bfile", bfile22, "--prior", "mixer2", "--h2", 0.3, 0.5, "--n-causal", 20, 30, 40,
                "--rho12", 0.5, "--residual-corr", 0.3, "--seed", 5, "--out", tmp_path / "bi") == 0
    assert _read_phen(tmp_path / "bi.phen").shape[1] == 4
    for t in (1, 2):
        assert read_sumstats(tmp_path / f"bi.trait{t}.ma").shape[0] == 10000
    truth = json.loads((tmp_path / "bi.truth.json").read_text())
    assert np.bincount(truth["causal"]["component"], minlength=4)[1:].tolist() == [20, 30, 40]
    assert _run("--bfile", bfile22, "--prior", "C", "--h2", 0.5, "--n-causal", 50,
                "--prevalence", 0.3, "--seed", 6, "--out", tmp_path / "cc") == 0
    status = _read_phen(tmp_path / "cc.phen")[2]
    assert set(status) == {0, 1}
    assert _run("--bfile", bfile22, "--prior", "C", "--h2", 0.5, "--n-causal", 50,
                "--prevalence", 0.3, "--case-control", 60, 100, "--seed", 6,
                "--out", tmp_path / "asc") == 0
    status = _read_phen(tmp_path / "asc.phen")[2]
    assert (status == 1).sum() == 60 and (status == 0).sum() == 100
    assert (read_sumstats(tmp_path / "asc.ma")["N"] == 160).all()


@pytest.mark.parametrize("argv,message", [
    (["--prior", "C", "--h2", 1.5, "--n-causal", 10], "h2 must be in (0, 1)"),
    (["--prior", "C", "--h2", 0.5], "needs --n-causal K or --pi P"),
    (["--prior", "C", "--h2", 0.5, "--pi", 0.1, "--S", -1],
         "--S does not apply to --prior C (it applies to --prior S/NS)"),
    (["--prior", "C", "--h2", 0.5, "--pi", 0.1, "--pi-snp", 0.1], "--pi-snp does not apply to"),
    (["--prior", "mixer2", "--h2", 0.5, 0.5, "--pi", 0.1], "--pi does not apply to --prior mixer2"),
    (["--prior", "mixer2", "--h2", 0.5, "--pi1", 0.1], "2 value(s)"),
    (["--prior", "C", "--h2", 0.5, "--n-causal", 100000], "n_causal must be an integer"),
    (["--prior", "C", "--h2", 0.5, "--pi", 0.1, "--n-gwas", 1000, "--prevalence", 0.1],
     "--n-gwas and --prevalence exclude each other"),
    (["--prior", "C", "--h2", 0.5, "--pi", 0.1, "--ld", "ref.ld"], "--ld needs --n-gwas"),
    (["--prior", "R", "--h2", 0.5, "--pi-k", 0.5, 0.5, "--gamma", 0, 1, 2], "same length"),
])
def test_impossible_arguments(tmp_path, bfile22, capsys, argv, message):
    assert _run("--bfile", bfile22, *argv, "--seed", 1, "--out", tmp_path / "x") == 1
    assert message in capsys.readouterr().err
    # no outputs: at most the run's log, which ends with the error
    written = list(tmp_path.iterdir())
    assert [p.name for p in written] in ([], ["x.log"])
    if written:
        assert message in written[0].read_text().splitlines()[-1]


def test_argparse_conflicts_and_help(tmp_path, bfile22, capsys):
    assert _run("--bfile", bfile22, "--prior", "C", "--h2", 0.5, "--n-causal", 5, "--pi", 0.1,
                "--out", tmp_path / "x") == 1
    assert "--n-causal and --pi exclude each other" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _run("--help")
    assert "--n-gwas N" in capsys.readouterr().out
    assert _run("--bfile", tmp_path / "missing", "--prior", "C", "--h2", 0.5, "--pi", 0.1,
                "--out", tmp_path / "x") == 1


def test_n_gwas_with_saved_ld_matrix(tmp_path, bfile22, geno22):
    from bayesmix.ld import LDMatrix

    half = geno22.snps["snp"].iloc[::2]
    geno = Genotypes.open(bfile22, extract=half)
    r = block_diagonal_ld(geno, 50)
    LDMatrix.from_scipy(r, geno.snps).save(tmp_path / "ref.ld")
    assert _run("--bfile", bfile22, "--prior", "mixer", "--h2", 0.3, "--pi", 0.02,
                "--n-gwas", 80_000, "--ld", tmp_path / "ref.ld", "--seed", 9,
                "--out", tmp_path / "x") == 0
    ma = read_sumstats(tmp_path / "x.ma")
    assert ma["SNP"].tolist() == half.tolist()  # the bfile is restricted to the LD's SNPs
    truth = json.loads((tmp_path / "x.truth.json").read_text())
    b = np.zeros(geno.n_snps)
    b[truth["causal"]["index"]] = truth["causal"]["b_std"]
    assert np.isclose(b @ (r @ b), 0.3, rtol=1e-5)
    # drawn from the matrix itself: SBayes with it is in-sample, and the log and truth say so
    assert "--ld-in-sample" in truth["gwas"]["ld_note"]
    assert f"note: {truth['gwas']['ld_note']}" in (tmp_path / "x.log").read_text()
    # an LD matrix whose alleles disagree with the bfile is refused
    flipped = geno.snps.copy()
    flipped[["a1", "a2"]] = flipped[["a2", "a1"]].to_numpy()
    LDMatrix.from_scipy(r, flipped).save(tmp_path / "bad.ld")
    assert _run("--bfile", bfile22, "--prior", "C", "--h2", 0.3, "--pi", 0.02,
                "--n-gwas", 80_000, "--ld", tmp_path / "bad.ld", "--seed", 9,
                "--out", tmp_path / "y") == 1
    assert not (tmp_path / "y.ma").exists()


def test_library_entry_point_matches_cli(tmp_path, bfile22, geno22):
    """simulate_gwas is what the command line writes: same seed, same numbers."""
    from bayesmix.simulate.scenario import simulate_gwas

    _run("--bfile", bfile22, "--prior", "B", "--h2", 0.3, "--n-causal", 25, "--seed", 11,
         "--out", tmp_path / "cli")
    sim = simulate_gwas(geno22, "B", 0.3, rng=np.random.default_rng(11), n_causal=25)
    ma = read_sumstats(tmp_path / "cli.ma")
    np.testing.assert_allclose(ma["BETA"], sim.sumstats[0]["BETA"], rtol=1e-7)
    np.testing.assert_allclose(_read_phen(tmp_path / "cli.phen")[2], sim.phenotypes.y[:, 0],
                               rtol=1e-9)


def test_snps_without_estimates_are_left_out(tmp_path):
    from bayesmix.simulate.genotypes import simulate_genotypes, write_bfile

    x = simulate_genotypes(200, 60, rng=np.random.default_rng(12))
    x[:, 5] = 0  # monomorphic
    x[2:, 9] = -127  # two observed calls: no residual degree of freedom
    x[:2, 9] = [0, 1]
    write_bfile(tmp_path / "g", x)
    for extra in ([], ["--n-gwas", 10_000]):
        assert _run("--bfile", tmp_path / "g", "--prior", "C", "--h2", 0.3, "--n-causal", 5,
                    "--seed", 1, *extra, "--out", tmp_path / "s") == 0
        ma = read_sumstats(tmp_path / "s.ma")
        assert "snp6" not in set(ma["SNP"]) and ma[["BETA", "SE"]].notna().all().all()
        # the regression cannot fit snp10; drawn from LD it has statistics
        assert ("snp10" in set(ma["SNP"])) == bool(extra)
        assert len(ma) == (59 if extra else 58)
