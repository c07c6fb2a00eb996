"""``bayesmix-gctb`` summary-data command lines (GCTB tutorial style) on the shipped chr22 panel."""

import re

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli.gctb import main
from bayesmix.io.plink import Genotypes
from bayesmix.io.sumstats import write_ma
from bayesmix.ld.gctb import read_gctb_ldm
from bayesmix.simulate.from_ld import sumstats_table


@pytest.fixture(scope="module")
def panel(bfile22, tmp_path_factory):
    """400 SNPs of chr22: an --extract list and the folder for outputs."""
    work = tmp_path_factory.mktemp("sbayes_cli")
    snps = Genotypes.open(bfile22).snps.iloc[5000:5400]
    (work / "snps.txt").write_text("\n".join(snps["snp"]) + "\n")
    return bfile22, work, snps.reset_index(drop=True)


def full_ld(panel):
    """The full LD of the panel's 400 SNPs, OUT ref.ldm.full in its folder (built once)."""
    bfile, work, _ = panel
    if not (work / "ref.ldm.full.bin").exists():
        main(["--bfile", str(bfile), "--extract", str(work / "snps.txt"), "--out",
              str(work / "ref"), "--make-full-ldm"])
    return read_gctb_ldm(f"{work}/ref.ldm.full")


def gwas_z(r, b, rng, n=20_000):
    """z = sqrt(n) R b + e, e ~ N(0, R) (R ridged by 1e-3 for the Cholesky factor)."""
    noise = np.linalg.cholesky(r + 1e-3 * np.eye(len(r))) @ rng.normal(size=len(r))
    return np.sqrt(n) * r @ b + noise


def two_block_eigen(panel, name):
    """Eigen-decomposed LD of the panel in two blocks (SNPs 1-200, 201-400): its folder."""
    bfile, work, snps = panel
    cut = int(snps["bp"].iloc[200])
    (work / f"{name}_blocks.txt").write_text(f"Block Chrom StartBP EndBP\n1 22 0 {cut}\n"
                                             f"2 22 {cut} 60000000\n")
    assert main(["--bfile", str(bfile), "--extract", str(work / "snps.txt"), "--make-ldm-eigen",
                 "--block-info", str(work / f"{name}_blocks.txt"), "--out",
                 str(work / name)]) == 0
    return str(work / name)


def test_ld_pieces_merge_to_the_full_matrix(panel):
    bfile, work, snps = panel
    ref = str(work / "ref")
    base = ["--bfile", str(bfile), "--extract", str(work / "snps.txt"), "--out", ref]
    assert main(base + ["--make-full-ldm"]) == 0
    assert main(base + ["--make-full-ldm", "--snp", "1-250"]) == 0
    assert main(base + ["--make-full-ldm", "--snp", "251-400"]) == 0
    (work / "pieces.txt").write_text(f"{ref}.snp1-250.ldm.full\n{ref}.snp251-400.ldm.full\n")
    assert main(["--mldm", str(work / "pieces.txt"), "--make-full-ldm", "--out",
                 str(work / "merged")]) == 0
    whole = read_gctb_ldm(f"{ref}.ldm.full").to_scipy().toarray()
    merged = read_gctb_ldm(f"{work}/merged.ldm.full").to_scipy().toarray()
    np.testing.assert_array_equal(whole, merged)
    geno = Genotypes.open(bfile, extract=set(snps["snp"]))
    x = geno.read(np.arange(400), standardize=False).astype(np.float64)
    np.testing.assert_allclose(whole, np.corrcoef(x, rowvar=False), atol=2e-6)
    # sparse from the full matrix keeps n r^2 >= chisq (and the diagonal)
    assert main(["--ldm", f"{ref}.ldm.full", "--make-sparse-ldm", "--chisq", "10", "--out",
                 str(work / "thin")]) == 0
    thin = read_gctb_ldm(f"{work}/thin.ldm.sparse").to_scipy().toarray()
    keep = (whole**2 * len(x) >= 10) | np.eye(400, dtype=bool)
    np.testing.assert_array_equal(thin != 0, keep & (whole != 0))
    assert main(["--ldm", f"{ref}.ldm.full", "--write-ldm-txt", "--out", str(work / "txt")]) == 0
    assert (work / "txt.ldm.txt").exists()
def test_sbayes_command_line_and_divergence_exit_code(panel, capsys):
    bfile, work, snps = panel
    ref = str(work / "ref")
    ld = full_ld(panel)
    rng = np.random.default_rng(4)
    b = np.zeros(400)
    b[rng.choice(400, 4, replace=False)] = 0.04
    r = ld.to_scipy().toarray().astype(np.float64)
    z = gwas_z(r, b, rng)
    table = sumstats_table(z, 20_000, ld.snps.assign(freq=ld.snps["freq"]))
    write_ma(table, work / "trait.ma")
    out = str(work / "trait")
    rc = main(["--sbayes", "R", "--ldm", f"{ref}.ldm.full", "--gwas-summary",
               str(work / "trait.ma"), "--pi", "0.95,0.02,0.02,0.01", "--gamma",
               "0.0,0.01,0.1,1", "--chain-length", "300", "--burn-in", "100", "--out-freq",
               "100", "--out", out])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "Data summary" in printed and "NumSnp1" in printed
    snp_res = pd.read_csv(f"{out}.snpRes", sep=r"\s+")
    assert len(snp_res) == 400 and {"A1Effect", "PIP"} <= set(snp_res.columns)
    assert (work / "trait.parRes").exists() and (work / "trait.nc").exists()
    assert "Posterior statistics" in (work / "trait.log").read_text()

    # GCTB's --rsq high-LD filter and the in-sample override reach the analysis; a --thin
    # that keeps one draw (iteration 80 of 21-100) runs with a warning that SDs will be NA
    rc = main(["--sbayes", "C", "--ldm", f"{ref}.ldm.full", "--gwas-summary",
               str(work / "trait.ma"), "--rsq", "0.9", "--ld-out-of-sample", "--chain-length",
               "100", "--burn-in", "20", "--thin", "80", "--out", out + "_rsq"])
    printed = capsys.readouterr().out
    assert "--thin 80 keep a single draw" in printed
    n_dropped = int(re.search(r"in LD r\^2 > 0.9 .*\(--rsq\) +(\d+)", printed).group(1))
    assert rc == 0 and n_dropped > 0
    assert len(pd.read_csv(f"{out}_rsq.snpRes", sep=r"\s+")) == 400 - n_dropped
    assert "in-sample" not in printed.split("LD sampling-variance correction")[1].split("\n")[0]

    # an LD matrix unrelated to the GWAS LD, with strong statistics: the chain blows up; the
    # run must exit 1 with the explanation and write no result files
    bad = np.eye(400) - 0.45 * (np.eye(400, k=1) + np.eye(400, k=-1))
    bad[np.abs(np.subtract.outer(np.arange(400), np.arange(400))) == 2] = 0.4
    from bayesmix.ld.gctb import write_gctb_ldm
    from bayesmix.ld.store import LDMatrix

    write_gctb_ldm(LDMatrix.from_scipy(bad, ld.snps, meta={"kind": "full", "n_samples": 503}),
                   work / "bad", "full")
    strong = table.assign(SE=table["SE"] / 8)  # z x 8: far more signal than the LD allows
    write_ma(strong, work / "strong.ma")
    rc = main(["--sbayes", "C", "--ldm", f"{work}/bad.ldm.full", "--gwas-summary",
               str(work / "strong.ma"), "--no-robust", "--chain-length", "200", "--burn-in",
               "50", "--out", str(work / "bad")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "blowing up" in err or "diverged" in err
    # the advice names what this run can change, not what it already uses
    assert "drop --no-robust" in err and "shrunk LD (--make-shrunk-ldm)" in err
    assert "a larger LD reference panel (this one has 503 people)" in err
    assert not (work / "bad.parRes").exists() and not (work / "bad.snpRes").exists()
    log = (work / "bad.log").read_text()
    assert "Data summary" in log                # what was done before it stopped, and why
    assert log.rstrip().splitlines()[-1] == err.rstrip().splitlines()[-1]
    assert log.rstrip().splitlines()[-1].startswith("error: ") and "blowing up" in log

#: a row of the eigen cut-off tuning table: cut-off, eigenvectors, r, relative r, slope, time
TUNING_ROW = re.compile(r"^ +([0-9.]+) +(\d+) +\S+ +\S+ +\S+ +[0-9.]+ s$", re.M)


def test_sbayes_on_eigen_ld_from_the_gctb_commands(panel, capsys):
    """GCTB's eigen workflow end to end: the one-step --make-ldm-eigen, SBayesR on it (GCTB's
    five components), SBayesRC with annotations, and the refusals of settings that have no
    meaning on eigen LD."""
    bfile, work, snps = panel
    cut = int(snps["bp"].iloc[200])
    (work / "blocks.txt").write_text(f"Block Chrom StartBP EndBP\n1 22 0 {cut}\n"
                                     f"2 22 {cut} 60000000\n")
    eig = str(work / "eig")
    assert main(["--bfile", str(bfile), "--extract", str(work / "snps.txt"), "--make-ldm-eigen",
                 "--block-info", str(work / "blocks.txt"), "--out", eig]) == 0
    geno = Genotypes.open(bfile, extract=set(snps["snp"]))
    x = geno.read(np.arange(400), standardize=False).astype(np.float64)
    r = np.corrcoef(x, rowvar=False)
    rng = np.random.default_rng(6)
    b = np.zeros(400)
    b[[30, 120, 250, 330]] = [0.03, -0.03, 0.025, 0.03]
    z = np.sqrt(20_000) * r @ b + np.linalg.cholesky(r + 1e-3 * np.eye(400)) @ rng.normal(size=400)
    write_ma(sumstats_table(z, 20_000, geno.snps), work / "eig_trait.ma")
    capsys.readouterr()
    out = str(work / "eig_r")
    assert main(["--sbayes", "R", "--ldm-eigen", eig, "--gwas-summary",
                 str(work / "eig_trait.ma"), "--chain-length", "300", "--burn-in", "100",
                 "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "2 LD blocks" in printed and "one residual variance per block" in printed
    # GCTB's default: the cut-off chosen from 0.995, 0.99, 0.95, 0.9 by pseudo-validation
    tried = TUNING_ROW.findall(printed)
    assert [c for c, _ in tried] == ["0.995", "0.99", "0.95", "0.9"]
    assert [int(k) for _, k in tried] == sorted((int(k) for _, k in tried), reverse=True)
    chosen = re.search(r"Eigen cut-off (\S+) chosen", printed).group(1)
    assert f"at a cut-off of {chosen}," in printed
    par = pd.read_csv(f"{out}.parRes", sep=r"\s+", index_col=0)
    assert [f"NumSnp{k}" for k in range(1, 6)] == [i for i in par.index if i.startswith("NumSnp")]
    assert 0 < par.loc["hsq", "Mean"] < 0.2
    annot = pd.DataFrame({"SNP": snps["snp"], "Intercept": 1,
                          "coding": (np.arange(400) % 4 == 0).astype(int)})
    annot.to_csv(work / "annot.txt", sep=" ", index=False)
    assert main(["--sbayes", "RC", "--ldm-eigen", eig, "--annot", str(work / "annot.txt"),
                 "--gwas-summary", str(work / "eig_trait.ma"), "--chain-length", "200",
                 "--burn-in", "100", "--out", str(work / "eig_rc")]) == 0
    assert "Read 2 annotations (Intercept, coding) of 400 SNPs" in capsys.readouterr().out
    # a list of the user's: those cut-offs only; one cut-off: no tuning
    for cutoffs, tried_expected in (("0.9,0.95", ["0.95", "0.9"]), ("0.9", [])):
        assert main(["--sbayes", "C", "--ldm-eigen", eig, "--ldm-eigen-cutoff", cutoffs,
                     "--gwas-summary", str(work / "eig_trait.ma"), "--chain-length", "120",
                     "--burn-in", "100", "--out", str(work / "eig_c")]) == 0
        printed = capsys.readouterr().out
        assert [c for c, _ in TUNING_ROW.findall(printed)] == tried_expected
    for argv, action in ((["--ldm", eig, "--make-ldm-eigen"], "--make-ldm-eigen"),
                         (["--ldm-eigen", eig, "--gwas-summary", str(work / "eig_trait.ma"),
                           "--impute-summary"], "--impute-summary")):
        assert main([*argv, "--ldm-eigen-cutoff", "0.99,0.9", "--out",
                     str(work / "refused")]) == 1
        assert f"{action} takes one cut-off" in capsys.readouterr().err
    # a folder built at 0.97: GCTB's list is tried as 0.97, 0.95, 0.9
    assert main(["--bfile", str(bfile), "--extract", str(work / "snps.txt"), "--make-ldm-eigen",
                 "--block-info", str(work / "blocks.txt"), "--ldm-eigen-cutoff", "0.97",
                 "--out", str(work / "eig97")]) == 0
    assert main(["--sbayes", "C", "--ldm-eigen", str(work / "eig97"), "--gwas-summary",
                 str(work / "eig_trait.ma"), "--chain-length", "120", "--burn-in", "100",
                 "--out", str(work / "eig_c97")]) == 0
    printed = capsys.readouterr().out
    assert "keeps a share of 0.97: the listed cut-offs above it count as that share" in printed
    assert [c for c, _ in TUNING_ROW.findall(printed)] == ["0.97", "0.95", "0.9"]
    # RC needs eigen LD and annotations; the ridge and its kin do not apply to eigen LD
    for argv, message in (
            (["--sbayes", "RC", "--ldm", f"{work}/ref.ldm.full"], "--ldm-eigen"),
            (["--sbayes", "RC", "--ldm-eigen", eig], "needs --annot"),
            (["--sbayes", "C", "--ldm-eigen", eig, "--ld-ridge", "0.1"],
             "--ld-ridge does not apply")):
        assert main([*argv, "--gwas-summary", str(work / "eig_trait.ma"), "--out",
                     str(work / "refused")]) == 1
        assert message in capsys.readouterr().err


def test_serial_ld_layouts_with_parallel_block_threads_are_refused_up_front(panel, capsys):
    """--ld-layout band/upper sweep serially; --thread N with one chain sweeps LD blocks in
    parallel in csr. The pair was refused only after the LD was read, by a message naming
    neither option ("ld_layout must be 'band' or 'upper' (serial sweeps) or 'csr', not
    'upper'"); now before any data is read, as is a burn-in too short for the plug-ins. The
    layouts and threads still give the same draws where they apply (with --chains 2 the
    threads run the chains)."""
    bfile, work, snps = panel
    ref = str(work / "ref")
    ld = full_ld(panel)
    b = np.zeros(400)
    b[[40, 210, 350]] = 0.04
    z = gwas_z(ld.to_scipy().toarray().astype(np.float64), b, np.random.default_rng(11))
    write_ma(sumstats_table(z, 20_000, ld.snps), work / "layout.ma")
    base = ["--sbayes", "C", "--ldm", f"{ref}.ldm.full", "--gwas-summary",
            str(work / "layout.ma"), "--chain-length", "60", "--burn-in", "20", "--no-netcdf"]
    capsys.readouterr()
    for layout in ("upper", "band"):
        assert main(base + ["--ld-layout", layout, "--thread", "2", "--out",
                            str(work / "layout_refused")]) == 1
        captured = capsys.readouterr()
        assert f"--ld-layout {layout} sweeps the LD serially" in captured.err
        assert "--thread 2" in captured.err and "--ld-layout csr" in captured.err
        assert "Reading the LD matrix" not in captured.out
    # a burn-in too short for the plug-ins (sig2_beta's prior scale, the LD correction's h
    # and omega: test_sbayes_ld_plug_in_mean.py), likewise before any data is read
    assert main(base + ["--burn-in", "1", "--out", str(work / "burn_in_refused")]) == 1
    captured = capsys.readouterr()
    assert ("is too short for SBayesC's plug-ins (sig2_beta's prior scale, adapted as GCTB's "
            "and the robust setting's LD sampling-variance correction (h and omega))"
            in captured.err)
    assert "Reading the LD matrix" not in captured.out
    draws = {}
    for name, extra in (("upper", ["--ld-layout", "upper"]),
                        ("csr2", ["--ld-layout", "csr", "--thread", "2"]),
                        ("upper_chains", ["--ld-layout", "upper", "--thread", "2",
                                          "--chains", "2"])):
        assert main(base + extra + ["--out", str(work / f"layout_{name}")]) == 0
        draws[name] = (work / f"layout_{name}.mcmcsamples.Par").read_bytes()
    assert draws["upper"] == draws["csr2"] == draws["upper_chains"]  # chain 0 of two


def test_sbayes_rc_refuses_a_zero_starting_weight(panel, capsys):
    """SBayesRC starts theta at log(pi_k / pi_0): a --pi with a 0 started it at -inf, where
    its sampler never moved, and every weight stayed at --pi for the whole chain (Pi2 0,
    the others exactly their starting values). Refused before any data is read."""
    bfile, work, snps = panel
    eig = two_block_eigen(panel, "rc_eig")
    ld = full_ld(panel)
    b = np.zeros(400)
    b[[30, 250]] = 0.04
    z = gwas_z(ld.to_scipy().toarray().astype(np.float64), b, np.random.default_rng(8))
    write_ma(sumstats_table(z, 20_000, ld.snps), work / "rc_trait.ma")
    pd.DataFrame({"SNP": snps["snp"], "coding": (np.arange(400) % 5 == 0).astype(int)}).to_csv(
        work / "rc_annot.txt", sep=" ", index=False)
    capsys.readouterr()
    out = str(work / "rc_zero")
    rc = main(["--sbayes", "RC", "--ldm-eigen", eig, "--annot", str(work / "rc_annot.txt"),
               "--gwas-summary", str(work / "rc_trait.ma"), "--ldm-eigen-cutoff", "0.995",
               "--pi", "0.97,0,0.01,0.01,0.01", "--chain-length", "60", "--burn-in", "20",
               "--out", out])
    captured = capsys.readouterr()
    assert rc == 1 and not (work / "rc_zero.parRes").exists()
    assert "--pi 0.97,0,0.01,0.01,0.01: SBayesRC's weights" in captured.err
    assert "Read 2 eigen-decomposed" not in captured.out  # before the LD was read
