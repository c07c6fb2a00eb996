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
