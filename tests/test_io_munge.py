"""End-to-end ``bayesmix munge`` on the shipped reference with a hand-built GWAS file."""

import gzip

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli.main import main
from bayesmix.io.plink import Genotypes
from bayesmix.io.sumstats import read_sumstats

COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}


@pytest.fixture
def gwas(tmp_path, bfile22):
    """A .ma built from the reference: known per-A1 effects, and known defects.

    SNP k of the first 400: swapped alleles when k % 3 == 1, other strand when k % 5 == 2,
    mismatching alleles for 4 SNPs, frequency off by 0.3 for 3, plus 5 ids absent from the
    reference and one SNP listed twice.
    """
    snps = Genotypes.open(bfile22).snps.iloc[:400].reset_index(drop=True)
    rng = np.random.default_rng(5)
    truth = pd.Series(rng.normal(0, 0.05, len(snps)), index=snps["snp"])
    rows = []
    mismatch = set(range(10, 50, 10))
    freq_off = {k for k in range(51, 400, 7) if 0.3 < snps["freq"][k] < 0.7}
    freq_off = set(sorted(freq_off)[:3])
    for k, s in snps.iterrows():
        a1, a2, beta, freq = s["a1"], s["a2"], truth[s["snp"]], s["freq"]
        if k in mismatch:
            a2 = COMPLEMENT[a2]
        elif k % 3 == 1:
            a1, a2, beta, freq = a2, a1, -beta, 1 - freq
        if k % 5 == 2 and k not in mismatch:
            a1, a2 = COMPLEMENT[a1], COMPLEMENT[a2]
        if k in freq_off:
            freq = freq + 0.3 if freq < 0.5 else freq - 0.3
        rows.append((s["snp"], a1, a2, freq, beta, 0.02, 0.5, 5000))
    rows += [(f"rsFAKE{i}", "A", "G", 0.5, 0.01, 0.02, 0.5, 5000) for i in range(5)]
    rows.append(rows[100])
    path = tmp_path / "gwas.ma"
    pd.DataFrame(rows, columns="SNP A1 A2 freq b se p N".split()).sample(frac=1, random_state=1).to_csv(
        path, sep=" ", index=False)
    return path, truth, mismatch, freq_off


def test_munge_end_to_end(tmp_path, bfile22, gwas, capsys):
    path, truth, mismatch, freq_off = gwas
    out = tmp_path / "res"
    rc = main(["munge", "--sumstats", str(path), "--ref", str(bfile22), "--out", str(out),
               "--max-freq-diff", "0.2"])
    assert rc == 0
    qc = pd.read_csv(f"{out}.qc.tsv", sep="\t").set_index("rule")["dropped"]
    assert qc["absent from the reference"] == 5
    assert qc["duplicated SNP in the summary statistics"] == 2
    assert qc["alleles do not match the reference"] == len(mismatch) == 4
    assert qc["|FREQ - reference freq| > 0.2"] == len(freq_off) == 3
    assert qc.drop(["absent from the reference", "duplicated SNP in the summary statistics",
                    "alleles do not match the reference", "|FREQ - reference freq| > 0.2"]).sum() == 0

    ma = read_sumstats(f"{out}.ma", format="ma")
    ref = Genotypes.open(bfile22).snps.set_index("snp")
    assert len(ma) == 400 - 1 - 4 - 3
    np.testing.assert_allclose(ma["BETA"], truth[ma["SNP"]].to_numpy(), atol=1e-8)
    assert (ma["A1"].to_numpy() == ref.loc[ma["SNP"], "a1"].to_numpy()).all()
    np.testing.assert_allclose(ma["FREQ"], ref.loc[ma["SNP"], "freq"], atol=1e-8)
    assert (ref.loc[ma["SNP"], "bed_index"].diff().dropna() > 0).all()  # reference order

    with gzip.open(f"{out}.sumstats.gz", "rt") as fh:
        assert fh.readline().split() == ["SNP", "CHR", "BP", "A1", "A2", "N", "Z", "BETA", "SE", "P", "FRQ"]
    ss = read_sumstats(f"{out}.sumstats.gz")
    np.testing.assert_allclose(ss["Z"], ma["BETA"] / 0.02, rtol=1e-7)

    printed = capsys.readouterr().out
    assert "absent from the reference" in printed and "alleles swapped" in printed


def test_munge_z_only_input_derives_per_allele_effects(tmp_path, bfile22):
    snps = Genotypes.open(bfile22).snps.iloc[:50]
    z = np.linspace(-4, 4, 50)
    lines = ["SNP\tA1\tA2\tZ"] + [f"{s}\t{a}\t{b}\t{v!r}" for s, a, b, v in
                                  zip(snps["snp"], snps["a1"], snps["a2"], z.tolist())]
    (tmp_path / "z.sumstats").write_text("\n".join(lines) + "\n")
    out = tmp_path / "zres"
    assert main(["munge", "--sumstats", str(tmp_path / "z.sumstats"), "--ref", str(bfile22),
                 "--out", str(out), "--n", "2000"]) == 0
    ma = read_sumstats(f"{out}.ma", format="ma")
    h = 2 * snps["freq"].to_numpy() * (1 - snps["freq"].to_numpy())
    np.testing.assert_allclose(ma["SE"], 1 / np.sqrt(h * (2000 + z**2)), rtol=1e-7)
    np.testing.assert_allclose(ma["BETA"] / ma["SE"], z, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ma["N"], 2000)


def test_munge_bad_input_exits_1_naming_the_file(tmp_path, bfile22, capsys):
    (tmp_path / "bad.ma").write_text("SNP A1 A2 freq b se p N\nrs1 A G 0.1 x 0.1 0.5 100\n")
    rc = main(["munge", "--sumstats", str(tmp_path / "bad.ma"), "--ref", str(bfile22),
               "--out", str(tmp_path / "o")])
    assert rc == 1
    err = capsys.readouterr().err
    assert "bad.ma, line 2, column 5" in err and "Traceback" not in err
    assert not (tmp_path / "o.ma").exists()


def test_munge_match_by_position(tmp_path, bfile22):
    snps = Genotypes.open(bfile22).snps.iloc[:30]
    lines = ["CHROM\tPOS\tEA\tNEA\tBETA\tSE\tN"] + [
        f"chr{c}\t{bp}\t{a2}\t{a1}\t0.1\t0.05\t1000"  # alleles swapped
        for c, bp, a1, a2 in zip(snps["chr"], snps["bp"], snps["a1"], snps["a2"])]
    (tmp_path / "pos.tsv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "pos"
    assert main(["munge", "--sumstats", str(tmp_path / "pos.tsv"), "--ref", str(bfile22),
                 "--out", str(out), "--match-by", "chrpos"]) == 0
    ma = read_sumstats(f"{out}.ma")
    assert ma["SNP"].tolist() == snps["snp"].tolist()  # reference ids
    np.testing.assert_allclose(ma["BETA"], -0.1)


def test_munge_reference_at_template_spans_chromosomes(tmp_path, bfile21, bfile22):
    import shutil

    from bayesmix.io.plink import reference_snps

    for chrom, src in (("21", bfile21), ("22", bfile22)):
        for ext in ("bed", "bim", "fam"):
            shutil.copy(f"{src}.{ext}", tmp_path / f"ref.chr{chrom}.{ext}")
    (tmp_path / "ref.chr22.bed").unlink()  # chr22: .bim only, no frequencies
    ref = reference_snps(tmp_path / "ref.chr@")
    assert ref["chr"].unique().tolist() == ["21", "22"] and len(ref) == 20_000
    assert ref["freq"].notna().sum() == 10_000
    picked = pd.concat([ref.iloc[:20], ref.iloc[-20:]])
    lines = ["SNP A1 A2 b se N"] + [f"{s} {a1} {a2} 0.2 0.1 500" for s, a1, a2 in
                                    zip(picked["snp"], picked["a1"], picked["a2"])]
    (tmp_path / "two.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "two"
    assert main(["munge", "--sumstats", str(tmp_path / "two.txt"), "--ref", str(tmp_path / "ref.chr@"),
                 "--out", str(out)]) == 0
    ma = read_sumstats(f"{out}.ma")
    assert ma["SNP"].tolist() == picked["snp"].tolist()
    assert ma["FREQ"].notna().tolist() == [True] * 20 + [False] * 20  # chr22 has no .bed


def test_munge_explicit_columns_and_bad_column_syntax(tmp_path, bfile22, capsys):
    snps = Genotypes.open(bfile22).snps.iloc[:10]
    lines = ["marker eff oth effect_size stderr samples"] + [
        f"{s} {a1} {a2} 0.3 0.1 700" for s, a1, a2 in zip(snps["snp"], snps["a1"], snps["a2"])]
    (tmp_path / "odd.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "odd"
    columns = ["--column", "marker=SNP", "--column", "eff=A1", "--column", "oth=A2",
               "--column", "effect_size=BETA", "--column", "stderr=SE", "--column", "samples=N"]
    assert main(["munge", "--sumstats", str(tmp_path / "odd.txt"), "--ref", str(bfile22),
                 "--out", str(out), *columns]) == 0
    ma = read_sumstats(f"{out}.ma")
    np.testing.assert_allclose(ma["BETA"], 0.3)
    np.testing.assert_allclose(ma["N"], 700)
    assert main(["munge", "--sumstats", str(tmp_path / "odd.txt"), "--ref", str(bfile22),
                 "--out", str(out), "--column", "marker"]) == 1
    assert "NAME=CANONICAL" in capsys.readouterr().err


def _reference(bfile22, n):
    return Genotypes.open(bfile22).snps.iloc[:n].reset_index(drop=True)


def _munge(tmp_path, bfile22, path, *options):
    out = tmp_path / "out"
    rc = main(["munge", "--sumstats", str(path), "--ref", str(bfile22), "--out", str(out),
               *options])
    return rc, out


def test_munge_plink2_logistic_keeps_the_log_odds_ratio_and_prints_the_notes(tmp_path, bfile22,
                                                                            capsys):
    """plink2 logistic output: BETA is log(OR) with SE = LOG(OR)_SE. Its SE went unrecognised
    and munge replaced every BETA by one derived from Z for a variance-1 trait; the reader's
    notes (BETA = log(OR)) were not printed."""
    snps = _reference(bfile22, 60)
    rng = np.random.default_rng(11)
    log_or, se = rng.normal(0, 0.1, 60).tolist(), rng.uniform(0.03, 0.08, 60).tolist()
    tested_ref = np.arange(60) % 4 == 1  # A1 = REF (the reference's a2): effect of the other
    lines = ["#CHROM\tPOS\tID\tREF\tALT\tA1\tA1_FREQ\tTEST\tOBS_CT\tOR\tLOG(OR)_SE\tZ_STAT\tP\t"
             "ERRCODE"]
    for k, s in snps.iterrows():
        b = -log_or[k] if tested_ref[k] else log_or[k]  # per A1
        a1 = s["a2"] if tested_ref[k] else s["a1"]
        lines.append(f"{s['chr']}\t{s['bp']}\t{s['snp']}\t{s['a2']}\t{s['a1']}\t{a1}\t0.3\tADD\t"
                     f"900\t{float(np.exp(b))!r}\t{se[k]!r}\t{b / se[k]!r}\t0.5\t.")
    (tmp_path / "g.glm.logistic").write_text("\n".join(lines) + "\n")
    rc, out = _munge(tmp_path, bfile22, tmp_path / "g.glm.logistic")
    assert rc == 0
    ma = read_sumstats(f"{out}.ma")
    np.testing.assert_allclose(ma["BETA"], log_or, rtol=1e-7)  # the reference's a1 effects
    np.testing.assert_allclose(ma["SE"], se, rtol=1e-7)
    printed = capsys.readouterr().out
    note = "g.glm.logistic: BETA = log(OR); SE taken as the SE of log(OR)"
    assert note in printed and note in open(f"{out}.log").read()


def test_munge_saige_effects_keep_their_sign(tmp_path, bfile22):
    """SAIGE's BETA is for Allele2; read for Allele1 every sign was flipped (and MarkerID was
    not read as the id, so no SNP matched the reference)."""
    snps = _reference(bfile22, 40)
    truth = np.random.default_rng(12).normal(0, 0.1, 40).tolist()  # of the reference's a1
    lines = ["CHR POS MarkerID Allele1 Allele2 AC_Allele2 AF_Allele2 imputationInfo N BETA SE "
             "Tstat var p.value"]
    lines += [f"{s['chr']} {s['bp']} {s['snp']} {s['a2']} {s['a1']} 10 0.3 1 800 {truth[k]!r} "
              f"0.05 1 1 0.5" for k, s in snps.iterrows()]
    (tmp_path / "saige.txt").write_text("\n".join(lines) + "\n")
    rc, out = _munge(tmp_path, bfile22, tmp_path / "saige.txt")
    assert rc == 0
    ma = read_sumstats(f"{out}.ma")
    assert ma["SNP"].tolist() == snps["snp"].tolist()
    np.testing.assert_allclose(ma["BETA"], truth, rtol=1e-7)


def test_munge_p_of_one_without_se_counts_as_missing(tmp_path, bfile22):
    """BETA and P, no SE: rows with P = 1 have no SE; they were dropped as 'SE <= 0'."""
    snps = _reference(bfile22, 50)
    p_one = {3, 8, 21, 30, 44}
    lines = ["SNP A1 A2 BETA P N"] + [
        f"{s['snp']} {s['a1']} {s['a2']} 0.1 {1 if k in p_one else 0.05} 1000"
        for k, s in snps.iterrows()]
    (tmp_path / "bp.txt").write_text("\n".join(lines) + "\n")
    rc, out = _munge(tmp_path, bfile22, tmp_path / "bp.txt")
    assert rc == 0
    qc = pd.read_csv(f"{out}.qc.tsv", sep="\t").set_index("rule")["dropped"]
    assert qc["SE <= 0"] == 0 and qc["missing or non-finite values"] == len(p_one)


def test_munge_options_without_effect_say_so(tmp_path, bfile22, capsys):
    """--max-freq-diff on a file without FREQ, and --n with an N column, did nothing silently;
    a LOG10P column of log10(P) dropped every SNP as 'P outside [0, 1]'."""
    snps = _reference(bfile22, 30)
    lines = ["SNP A1 A2 BETA SE N"] + [f"{s['snp']} {s['a1']} {s['a2']} 0.1 0.05 {600 + k}"
                                       for k, s in snps.iterrows()]
    (tmp_path / "nofreq.txt").write_text("\n".join(lines) + "\n")
    rc, out = _munge(tmp_path, bfile22, tmp_path / "nofreq.txt", "--max-freq-diff", "0.1",
                     "--n", "700")
    assert rc == 0
    printed = capsys.readouterr().out
    assert "note: --max-freq-diff not applied: the summary statistics have no FREQ" in printed
    assert "N = 700 not used: the file gives N for every SNP (column N)" in printed
    np.testing.assert_allclose(read_sumstats(f"{out}.ma")["N"], 600 + np.arange(30))

    lines = ["SNP A1 A2 BETA SE N LOG10P"] + [
        f"{s['snp']} {s['a1']} {s['a2']} 0.1 0.05 600 -1.3" for _, s in snps.iterrows()]
    (tmp_path / "log10.txt").write_text("\n".join(lines) + "\n")
    rc, _ = _munge(tmp_path, bfile22, tmp_path / "log10.txt")
    assert rc == 1
    err = capsys.readouterr().err
    assert "log10.txt, line 2, column 7" in err and "log10(P)" in err


def test_munge_by_position_on_another_build_warns(tmp_path, bfile22, capsys):
    """Positions on another genome build match a few reference SNPs by coincidence; 4 of
    10,000 were kept without a word."""
    snps = _reference(bfile22, 200)
    same = {5, 50, 120}  # the coincidences

    def write(name, shift):
        lines = ["CHR BP A1 A2 BETA SE N"] + [
            f"{s['chr']} {s['bp'] + (0 if k in same else shift)} {s['a1']} {s['a2']} 0.1 0.05 900"
            for k, s in snps.iterrows()]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
        return tmp_path / name

    rc, out = _munge(tmp_path, bfile22, write("hg38.txt", 7), "--match-by", "chrpos")
    assert rc == 0 and len(read_sumstats(f"{out}.ma")) == len(same)
    printed = capsys.readouterr().out
    assert f"warning: only {len(same)} of 200 SNPs matched a reference SNP" in printed
    assert "genome build" in printed
    rc, out = _munge(tmp_path, bfile22, write("hg19.txt", 0), "--match-by", "chrpos")
    assert rc == 0 and "warning:" not in capsys.readouterr().out


def _text_file(path, header, rows):
    """``path`` holding the line ``header`` and then ``rows``, one a line."""
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _plink2_glm(path, snps, beta, tests):
    """A plink2 --glm file: per SNP one row per test of ``tests``; the ADD row carries
    ``beta`` (per A1 = the reference's a1), SE 0.05 and OBS_CT 900, every other row BETA 0.7,
    SE 0.01 and OBS_CT 1."""
    rows = []
    for k, s in snps.iterrows():
        for test in tests:
            b, se, n = (beta[k], 0.05, 900) if test == "ADD" else (0.7, 0.01, 1)
            rows.append(f"{s['chr']}\t{s['bp']}\t{s['snp']}\t{s['a2']}\t{s['a1']}\t{s['a1']}\t"
                        f"0.3\t{test}\t{n}\t{b!r}\t{se}\t{b / se!r}\t0.5\t.")
    return _text_file(path, "#CHROM\tPOS\tID\tREF\tALT\tA1\tA1_FREQ\tTEST\tOBS_CT\tBETA\tSE\t"
                            "T_STAT\tP\tERRCODE", rows)


def test_munge_plink2_glm_with_covariates_reads_the_additive_test(tmp_path, bfile22, capsys):
    """plink2 --glm with covariates writes a row per variant and test (ADD, then one per
    covariate): every SNP was listed 4 times and dropped as 'duplicated SNP in the summary
    statistics', then 'no SNP survived harmonisation'. Only the ADD rows are read now."""
    snps = _reference(bfile22, 30)
    beta = np.random.default_rng(21).normal(0, 0.1, 30).tolist()
    path = _plink2_glm(tmp_path / "cov.glm.linear", snps, beta, ["ADD", "AGE", "SEX", "PC1"])
    rc, out = _munge(tmp_path, bfile22, path)
    assert rc == 0
    ma = read_sumstats(f"{out}.ma")
    assert ma["SNP"].tolist() == snps["snp"].tolist()
    np.testing.assert_allclose(ma["BETA"], beta, rtol=1e-7)
    np.testing.assert_allclose(ma["SE"], 0.05)
    np.testing.assert_allclose(ma["N"], 900)
    printed = capsys.readouterr().out
    assert ("cov.glm.linear: read the 30 rows with TEST = ADD (the additive test of plink2 "
            "--glm / regenie); 90 rows of other tests (AGE, SEX, PC1") in printed

    path = _plink2_glm(tmp_path / "dom.glm.linear", snps, beta, ["DOM", "AGE"])
    rc, _ = _munge(tmp_path, bfile22, path)
    assert rc == 1
    err = capsys.readouterr().err
    assert "dom.glm.linear, line 2, column 8: column TEST" in err
    assert "has no ADD row" in err and "DOM, AGE" in err


@pytest.mark.parametrize("template", ["{chr}:{bp}", "chr{chr}:{bp}", "{chr}:{bp}:{a2}:{a1}"])
def test_munge_match_by_position_reads_positions_from_ids(tmp_path, bfile22, capsys, template):
    """Ids such as 22:16061016 without CHR/BP columns: --match-by chrpos stopped with
    "match_by='chrpos' needs CHR and BP columns in the summary statistics"."""
    snps = _reference(bfile22, 30)
    swapped = np.arange(30) % 3 == 0
    rows = [f"{template.format(chr=s['chr'], bp=s['bp'], a1=s['a1'], a2=s['a2'])} "
            f"{s['a2'] if swapped[k] else s['a1']} {s['a1'] if swapped[k] else s['a2']} "
            f"{-0.1 if swapped[k] else 0.1} 0.05 800" for k, s in snps.iterrows()]
    rows.append("rs999999999 A G 0.1 0.05 800")  # an id without a position
    path = _text_file(tmp_path / "ids.txt", "SNP A1 A2 BETA SE N", rows)
    rc, out = _munge(tmp_path, bfile22, path, "--match-by", "chrpos")
    assert rc == 0
    ma = read_sumstats(f"{out}.ma")
    assert ma["SNP"].tolist() == snps["snp"].tolist()  # the reference's ids
    np.testing.assert_allclose(ma["BETA"], 0.1)  # per the reference's a1
    qc = pd.read_csv(f"{out}.qc.tsv", sep="\t").set_index("rule")["dropped"]
    assert qc["missing or non-finite values"] == 1
    printed = capsys.readouterr().out
    assert "note: CHR and BP taken from the SNP ids" in printed and "of 30 of 31 SNPs" in printed
    assert "the other 1 (e.g. rs999999999) have no position" in printed


def test_munge_match_by_position_without_positions_says_how_to_give_them(tmp_path, bfile22,
                                                                          capsys):
    snps = _reference(bfile22, 10)
    path = _text_file(tmp_path / "rs.txt", "SNP A1 A2 BETA SE N",
                      [f"{s['snp']} {s['a1']} {s['a2']} 0.1 0.05 800" for _, s in snps.iterrows()])
    rc, _ = _munge(tmp_path, bfile22, path, "--match-by", "chrpos")
    assert rc == 1
    err = capsys.readouterr().err
    assert "rs.txt: matching by position (--match-by chrpos) needs positions" in err
    assert f"first id: {snps['snp'][0]}" in err and "add CHR and BP columns" in err


def test_munge_z_against_beta_se_of_other_alleles_warns_and_uses_beta_se(tmp_path, bfile22,
                                                                         capsys):
    """A file whose Z is given for the other allele than its BETA (opposite signs): .ma took
    BETA/SE and .sumstats.gz (MiXeR) the file's Z, without a word."""
    snps = _reference(bfile22, 30)
    beta = np.round(np.random.default_rng(22).uniform(0.02, 0.2, 30), 4).tolist()
    path = _text_file(tmp_path / "bz.txt", "SNP A1 A2 BETA SE Z N", [
        f"{s['snp']} {s['a1']} {s['a2']} {beta[k]} 0.05 {-beta[k] / 0.05:.3f} 800"
        for k, s in snps.iterrows()])
    rc, out = _munge(tmp_path, bfile22, path)
    assert rc == 0
    printed = capsys.readouterr().out
    assert ("bz.txt: column Z disagrees with BETA / SE on 30 of 30 rows (|BETA/SE - Z| "
            f"> 0.05 + 0.05 |Z|; first: line 2, BETA {beta[0]:.6g}, SE 0.05, BETA/SE "
            f"{beta[0] / 0.05:.6g}, Z {-beta[0] / 0.05:.6g})") in printed
    assert "on 30 of them Z has the opposite sign to BETA" in printed
    assert "allele swap" in printed and "Z = BETA / SE is used" in printed
    np.testing.assert_allclose(read_sumstats(f"{out}.ma")["BETA"], beta)
    np.testing.assert_allclose(read_sumstats(f"{out}.sumstats.gz")["Z"],
                               np.array(beta) / 0.05, rtol=1e-7)  # the same input as .ma


def test_munge_column_map_over_a_column_of_that_name_says_so(tmp_path, bfile22, capsys):
    """--column pval_gc=P read P from pval_gc and silently ignored the file's own P column."""
    snps = _reference(bfile22, 20)
    path = _text_file(tmp_path / "two.txt", "SNP A1 A2 BETA SE P pval_gc ORx N", [
        f"{s['snp']} {s['a1']} {s['a2']} 0.1 0.05 0.5 0.9 {float(np.exp(0.3))!r} 800"
        for _, s in snps.iterrows()])
    rc, out = _munge(tmp_path, bfile22, path, "--column", "pval_gc=P")
    assert rc == 0
    np.testing.assert_allclose(read_sumstats(f"{out}.ma")["P"], 0.9)
    assert ("two.txt: the column map reads pval_gc as P: the file's column P (read as P "
            "by its name) not read") in capsys.readouterr().out
    # a mapped OR replaces the file's BETA column (the BETA column won before, unnoted)
    rc, out = _munge(tmp_path, bfile22, path, "--column", "ORx=OR")
    assert rc == 0
    np.testing.assert_allclose(read_sumstats(f"{out}.ma")["BETA"], 0.3, rtol=1e-12)
    assert ("the column map reads ORx as OR: the file's column BETA (read as BETA by its "
            "name) not read") in capsys.readouterr().out
    for options, message in (
            (["--column", "pval=P"], "two.txt, line 1: column 'pval' given in the column map "
                                     "is not in the header (SNP A1 A2 BETA SE P pval_gc ORx N)"),
            (["--column", "orx=OR"], "did you mean 'ORx'?"),
            (["--column", "P=BETA", "--column", "pval_gc=BETA"],
             "two.txt, line 1: the column map reads BETA from two columns, P and pval_gc"),
            (["--column", "P=BETA", "--column", "P=P"], "--column maps P twice")):
        rc, _ = _munge(tmp_path, bfile22, path, *options)
        assert rc == 1
        assert message in capsys.readouterr().err
