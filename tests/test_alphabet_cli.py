"""``bayesmix-gctb --bayes ...`` end to end on the shipped genotypes and simulated phenotypes."""

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli.gctb import SPEC, main
from bayesmix.cli.options import build_parser
from bayesmix.io.plink import Genotypes
from bayesmix.report.gctb import read_snp_effect_samples
from bayesmix.simulate.effects import bayesc_effects
from bayesmix.simulate.phenotype import simulate_phenotypes, write_phen

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")

GCTB_EXAMPLE = ("--bfile test --pheno test.phen --bayes R --gamma 0,0.01,0.1,1 "
                "--pi 0.95,0.02,0.02,0.01 --chain-length 10000 --burn-in 2000 --out test")


def test_gctb_example_command_line_parses_unchanged():
    args = build_parser(SPEC).parse_args(GCTB_EXAMPLE.split())
    assert args.bayes == "R" and args.gamma == (0, 0.01, 0.1, 1)
    assert args.pi == (0.95, 0.02, 0.02, 0.01) and args.chain_length == 10000
    assert args.burn_in == 2000 and args.out == "test"


@pytest.fixture(scope="module")
def simulated(bfile22, tmp_path_factory):
    """Shipped chr22 subset, first 1,500 SNPs, 10 causal, h2 = 0.6; .phen and a covariate."""
    tmp = tmp_path_factory.mktemp("alphabet_cli")
    snps = Genotypes.open(bfile22).snps["snp"].to_numpy()[:1500]
    extract = tmp / "snps.txt"
    extract.write_text("\n".join(snps) + "\n")
    geno = Genotypes.open(bfile22, extract=snps)
    rng = np.random.default_rng(2024)
    effects = bayesc_effects(geno.heterozygosity, 0.6, rng=rng, n_causal=10)
    pheno = simulate_phenotypes(geno, effects, 0.6, rng=rng)
    write_phen(tmp / "sim.phen", pheno.samples, pheno.y)
    covar = pheno.samples.copy()
    covar["age"] = rng.normal(50, 10, len(covar)).round(1)
    covar.to_csv(tmp / "sim.covar", sep=" ", header=False, index=False)
    return tmp, extract, geno, effects


def test_bayes_c_run_writes_gctb_outputs(simulated, bfile22, capsys):
    tmp, extract, geno, effects = simulated
    out = tmp / "runC"
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--covar",
               str(tmp / "sim.covar"), "--extract", str(extract), "--bayes", "C",
               "--chain-length", "700", "--burn-in", "200", "--thin", "1", "--out-freq", "100",
               "--seed", "7", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "Iter" in printed and "NnzSnp" in printed and "TimeLeft" in printed
    snp_res = pd.read_csv(f"{out}.snpRes", sep=r"\s+")
    assert list(snp_res.columns) == ["Id", "Name", "Chrom", "Position", "A1", "A2", "A1Frq",
                                     "A1Effect", "SE", "PIP", "LastSampleEff"]
    assert len(snp_res) == geno.n_snps - int((geno.heterozygosity == 0).sum())
    truth = pd.Series(effects.beta, index=geno.snps["snp"])
    causal = truth[truth != 0].index
    pip = snp_res.set_index("Name")["PIP"]
    assert pip[causal].mean() > 5 * pip.drop(causal).mean()
    # GCTB's binary samples: effects of standardised genotypes, one row per iteration / thin
    # (burn-in rows empty); divided by sqrt(2pq), their mean over the kept rows is A1Effect.
    samples = read_snp_effect_samples(f"{out}.mcmcsamples.SnpEffects")
    assert samples.shape == (700, len(snp_res)) and samples[:200].nnz == 0
    het = 2 * snp_res["A1Frq"] * (1 - snp_res["A1Frq"])
    np.testing.assert_allclose(np.asarray(samples[200:].mean(axis=0)).ravel() / np.sqrt(het),
                               snp_res["A1Effect"], rtol=1e-4, atol=2e-5)  # A1Frq: 6 dp
    par = open(f"{out}.parRes").read()
    assert par.split("\n")[0].split()[:2] == ["Mean", "SD"] and "hsq" in par
    cov = pd.read_csv(f"{out}.covRes", sep=r"\s+", header=None)
    assert list(cov[0]) == ["intercept", "qcovar1"]
    samples = pd.read_csv(f"{out}.mcmcsamples.Par", sep=r"\s+")
    assert len(samples) == 500 and {"Pi", "NnzSnp", "hsq"} <= set(samples.columns)
    assert "Iter" in open(f"{out}.log").read()
    import arviz as az
    tree = az.from_netcdf(f"{out}.nc")
    np.testing.assert_allclose(tree["snp_summary"]["pip"].values, snp_res["PIP"], atol=1e-6)
    # ArviZ reads the posterior group as its own: draws per chain, ESS, the .parRes mean
    assert tree["posterior"].sizes["draw"] == 500
    hsq = next(line.split() for line in par.splitlines() if line.split()[:1] == ["hsq"])
    assert float(tree["posterior"]["hsq"].mean()) == pytest.approx(float(hsq[1]), rel=1e-4)
    assert 1 < float(az.ess(tree, var_names=["hsq"])["hsq"]) <= 500


def test_bayes_r_gctb_options_and_bad_input(simulated, bfile22, capsys):
    tmp, extract, geno, effects = simulated
    out = tmp / "runR"
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--extract", str(extract),
               "--bayes", "R", "--gamma", "0,0.01,0.1,1", "--pi", "0.95,0.02,0.02,0.01",
               "--chain-length", "300", "--burn-in", "100", "--no-mcmc-bin", "--out", str(out)])
    assert rc == 0
    header = open(f"{out}.snpRes").readline().split()
    assert header[-3:] == ["SE", "PIP", "LastSampleEff"]   # GCTB's: no Pi1..Pi4 columns
    assert "NumSnp1" in capsys.readouterr().out
    assert not (tmp / "runR.mcmcsamples.SnpEffects").exists()
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--bayes", "R",
               "--pi", "0.9,0.1", "--out", str(tmp / "bad")])
    assert rc == 1
    assert "--pi needs 5 values" in capsys.readouterr().err  # GCTB 2.05's five --gamma values


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupt_keeps_finished_output_and_resume_is_exact(simulated, bfile22, sig):
    """A signal after burn-in: exit 128 + signum, outputs of the finished iterations, a
    checkpoint, one line saying so; the same command with --resume then gives files identical
    to an uninterrupted run's; without --resume the checkpoint is refused."""
    import signal
    import subprocess
    import sys

    tmp, extract, geno, effects = simulated
    common = ["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--extract",
              str(extract), "--bayes", "C", "--chain-length", "1500", "--burn-in", "50",
              "--thin", "5", "--out-freq", "50", "--checkpoint-every", "0", "--no-netcdf"]
    out = tmp / f"interrupted{sig}"
    cmd = [sys.executable, "-c", "from bayesmix.cli.gctb import main; raise SystemExit(main())",
           *common, "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            fields = line.split()
            if fields and fields[0].isdigit() and int(fields[0]) >= 250:
                break
        proc.send_signal(getattr(signal, sig))
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + getattr(signal, sig), stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"interrupted by {sig}: the outputs cover the finished iterations")
    assert "--resume" in last and last in open(f"{out}.log").read()
    partial = pd.read_csv(f"{out}.mcmcsamples.Par", sep=r"\s+")
    assert 40 <= len(partial) < 290
    assert (tmp / f"interrupted{sig}.ckpt.chain0").exists()
    assert main([*common, "--out", str(out)]) == 1  # a checkpoint, and no --resume
    assert main([*common, "--out", str(out), "--resume"]) == 0
    assert not (tmp / f"interrupted{sig}.ckpt.chain0").exists()
    assert main([*common, "--out", str(tmp / "whole")]) == 0
    for suffix in (".snpRes", ".parRes", ".mcmcsamples.Par", ".mcmcsamples.SnpEffects"):
        assert open(f"{out}{suffix}", "rb").read() == open(f"{tmp}/whole{suffix}", "rb").read()


# ----------------------------------------------------------------- audit of the individual path
def _run(argv, out):
    return main([*argv, "--chain-length", "30", "--burn-in", "10", "--thin", "1",
                 "--out-freq", "0", "--no-netcdf", "--seed", "3", "--out", str(out)])


def test_float_spellings_of_missing_and_of_region_positions_give_the_clean_run(simulated,
                                                                                bfile22):
    """-9.0 in the .phen (R's write.table) is missing as -9 is, and a region file with
    positions 16000000.0 excludes its SNPs as one with 16000000 does: both ran silently
    wrong (20 people with y = -9; the region taken as a header and dropped)."""
    tmp, extract, geno, effects = simulated
    lines = (tmp / "sim.phen").read_text().splitlines(keepends=True)
    first, last = int(geno.snps["bp"].iloc[100]), int(geno.snps["bp"].iloc[199])
    runs = {}
    for name, missing, end in (("clean", "-9", f"{last}"), ("floats", "-9.000", f"{last}.0")):
        edited = [" ".join(line.split()[:2] + [missing]) + "\n" if k % 25 == 0 else line
                  for k, line in enumerate(lines)]
        (tmp / f"{name}.phen").write_text("".join(edited))
        (tmp / f"{name}.regions").write_text(f"22 {first} {end}\n")
        out = tmp / f"audit_{name}"
        assert _run(["--bfile", str(bfile22), "--pheno", str(tmp / f"{name}.phen"),
                     "--extract", str(extract), "--exclude-region",
                     str(tmp / f"{name}.regions"), "--bayes", "C"], out) == 0
        runs[name] = {s: open(f"{out}{s}").read() for s in (".parRes", ".snpRes")}
        counts = {line.rsplit(None, 1)[0].strip(): line.split()[-1]
                  for line in open(f"{out}.log").read().splitlines()
                  if line.startswith("  ") and line.split()[-1].isdigit()}
        assert counts["phenotype missing"] == str(len(range(0, len(lines), 25)))
        # as GCTB: the SNPs strictly between the two ends (SNPs 101..198 of the extracted)
        bp = geno.snps["bp"].to_numpy()
        assert counts["SNPs in excluded regions"] == str(int(((bp > first) & (bp < last)).sum()))
    assert runs["floats"] == runs["clean"]


@pytest.mark.parametrize("bayes", ["B", "C", "S"])
def test_several_pi_values_are_refused_for_one_share_methods(simulated, bfile22, capsys, bayes):
    """B/C/S take one pi (the last of a list was used); BayesR one per component."""
    tmp, extract, geno, effects = simulated
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--bayes", bayes,
               "--pi", "0.9,0.1", "--out", str(tmp / "never")])
    assert rc == 1
    err = capsys.readouterr().err
    assert f"--pi of Bayes{bayes} is the share of SNPs with an effect: Bayes{bayes} takes one " \
           "value, got 0.9, 0.1" in err
    assert not (tmp / "never.parRes").exists()


@pytest.mark.parametrize("bayes, burn_in, refused", [("S", 1, True), ("NS", 0, True),
                                                    ("C", 0, False)])
def test_a_burn_in_too_short_for_the_adaptive_prior_scale_is_refused(simulated, bfile22, capsys,
                                                                     bayes, burn_in, refused):
    """BayesS/NS adapt sig2_beta's prior scale during burn-in (GCTB all along its first 2,000
    iterations): with --burn-in 0 the scale kept its start, a different analysis from GCTB's.
    Refused before the genotypes are read; BayesC, which has no plug-in, keeps --burn-in 0."""
    tmp, extract, geno, effects = simulated
    out = tmp / f"burn_in_{bayes}"
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--bayes", bayes,
               "--extract", str(extract), "--chain-length", "12", "--burn-in", str(burn_in),
               "--thin", "1", "--out-freq", "0", "--no-netcdf", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == (1 if refused else 0), captured.err
    if refused:
        assert (f"a burn-in of {burn_in} (--burn-in, or pm.sample's tune) is too "
                f"short for Bayes{bayes}'s plug-ins (sig2_beta's prior scale") in captured.err
        assert "individuals" not in captured.out  # before the genotypes were read
    assert (tmp / f"burn_in_{bayes}.parRes").exists() != refused


def test_prior_settings_checked_at_argument_time():
    from bayesmix.errors import InputError
    from bayesmix.models.alphabet import AlphabetPrior

    with pytest.raises(InputError, match="BayesC takes one value"):
        AlphabetPrior("C", pi=(0.95, 0.05))
    with pytest.raises(InputError, match=r"--pi-snp is the share of SNPs .* got nan"):
        AlphabetPrior("N", pi_snp=float("nan"))
    with pytest.raises(InputError, match="--S must be a finite number"):
        AlphabetPrior("S", S=float("inf"))
    assert AlphabetPrior("C", pi=(0.1,)).pi_values.tolist() == [0.9, 0.1]
    # --fix-pi with 3 --gamma values and no --pi fixed equal weights 1/3 without a word
    with pytest.raises(InputError, match="give --pi with 3 values"):
        AlphabetPrior("R", gamma=(0, 0.01, 0.1), fix_pi=True)
    assert AlphabetPrior("R", fix_pi=True).pi_values.tolist() == [0.95, 0.02, 0.02, 0.01]


def test_one_sample_is_refused_not_a_zero_division(simulated, bfile22, capsys):
    """--keep of one person ran into ZeroDivisionError in the starting values."""
    from bayesmix.errors import InputError
    from bayesmix.models.alphabet import AlphabetModel
    from bayesmix.prepare.alphabet_data import AlphabetData

    tmp, extract, geno, effects = simulated
    (tmp / "keep1.txt").write_text(" ".join(geno.samples.iloc[0]) + "\n")
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--bayes", "C",
               "--keep", str(tmp / "keep1.txt"), "--out", str(tmp / "never")])
    assert rc == 1
    assert "only 1 sample has a phenotype and all covariates" in capsys.readouterr().err
    data = AlphabetData.from_arrays(np.array([[0.0, 1.0, 2.0]]), [1.5])
    with pytest.raises(InputError, match="needs at least 2"):
        AlphabetModel(data, "C")


@pytest.mark.parametrize("kept, covariate, warned", [(5, False, True), (11, False, False),
                                                     (11, True, True), (12, True, False)])
def test_a_handful_of_individuals_is_warned_about(simulated, bfile22, capsys, kept, covariate,
                                                  warned):
    """BayesR on 5 people ran without a word (audit): below 10 degrees of freedom left by
    the fixed effects (intercept, --covar's column) the run warns on stderr and in OUT.log,
    naming the number of people."""
    tmp, extract, geno, effects = simulated
    keep = tmp / f"keep{kept}.txt"
    keep.write_text("".join(f"{fid} {iid}\n" for fid, iid in geno.samples.iloc[:kept, :2]
                            .itertuples(index=False)))
    out = tmp / f"few{kept}{'c' if covariate else ''}"
    rc = main(["--bfile", str(bfile22), "--pheno", str(tmp / "sim.phen"), "--extract",
               str(extract), "--keep", str(keep), "--bayes", "R", "--chain-length", "30",
               "--burn-in", "10", "--out-freq", "0", "--out", str(out)]
              + (["--covar", str(tmp / "sim.covar")] if covariate else []))
    assert rc == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if f"only {kept} individuals" in line]
    assert len(lines) == int(warned), err
    if warned:
        assert lines[0].startswith("warning: ") and "meaningless" in lines[0]
        assert lines[0] in (tmp / f"{out.name}.log").read_text()
