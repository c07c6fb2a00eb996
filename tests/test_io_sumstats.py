"""Summary-statistics readers and writers on hand-made files whose content is known."""

import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix.io.plink import Genotypes
from bayesmix.io.sumstats import (
    CANONICAL_COLUMNS,
    beta_se_from_z,
    fill_beta_se,
    read_sumstats,
    write_ma,
    write_sumstats,
)

DATA = Path(__file__).parent / "data" / "io"
Z_975 = 1.959963984540054  # Phi^-1(0.975): two-sided p = 0.05


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_ma_reader_keeps_values_and_derives_z():
    df = read_sumstats(DATA / "cojo.ma")
    assert df.attrs["format"] == "ma"
    assert list(df.columns) == CANONICAL_COLUMNS
    assert df["SNP"].tolist() == ["rs1", "rs2", "rs3"]
    assert df["A1"].tolist() == ["A", "C", "G"]  # upper-cased
    assert df["A2"].tolist() == ["G", "T", "T"]
    np.testing.assert_allclose(df["Z"], [2.0, -2.0, 0.5])
    np.testing.assert_allclose(df["BETA"], [0.02, -0.05, 0.01])
    np.testing.assert_allclose(df["N"], [10000, 12000, 9000])
    assert np.isnan(df["FREQ"].iloc[2]) and df["FREQ"].iloc[0] == 0.30
    assert df["CHR"].isna().all() and df["BP"].isna().all() and df["INFO"].isna().all()


def test_gctb_unknown_frequency_minus_one_is_missing(tmp_path):
    path = write(tmp_path / "t.ma", "SNP A1 A2 freq b se p N\nrs1 A G -1 0.02 0.01 0.05 1000\n"
                                    "rs2 C T 0.2 0.01 0.01 0.3 1000\n")
    df = read_sumstats(path)
    assert np.isnan(df["FREQ"].iloc[0]) and df["FREQ"].iloc[1] == 0.2


def test_missing_tokens_in_any_case_are_missing(tmp_path):
    """NaN (how R, pandas and numpy print it), nAn, NULL ... are missing values in every
    numeric column, as na and NA are (the case-sensitive parser choked on NaN)."""
    path = write(tmp_path / "t.ma", "SNP A1 A2 freq b se p N\n"
                                    "rs1 A G NaN 0.02 0.01 0.05 1000\n"
                                    "rs2 C T 0.2 nAn 0.01 0.3 1000\n"
                                    "rs3 C T 0.2 0.01 NULL 0.3 None\n"
                                    "rs4 C T 0.2 0.01 0.01 0.3 1000\n")
    df = read_sumstats(path)
    assert np.isnan(df["FREQ"].iloc[0]) and np.isnan(df["BETA"].iloc[1])
    assert np.isnan(df["SE"].iloc[2]) and np.isnan(df["N"].iloc[2])
    assert df["BETA"].iloc[3] == 0.01 and df["N"].iloc[3] == 1000


def test_a_byte_order_mark_before_the_header_is_dropped(tmp_path):
    """A UTF-8 BOM made the first column 'U+FEFF SNP', and the file had 'no SNP column'."""
    path = tmp_path / "bom.ma"
    path.write_bytes(b"\xef\xbb\xbfSNP A1 A2 freq b se p N\nrs1 A G 0.3 0.02 0.01 0.05 1000\n")
    df = read_sumstats(path)
    assert df["SNP"].tolist() == ["rs1"] and df["BETA"].iloc[0] == 0.02


def test_p_of_zero_without_se_is_missing_not_an_se_of_zero(tmp_path):
    """Without SE, Z and SE come from BETA and P; a P printed as 0 gives no finite Z: those
    SNPs are missing (with a note), not SNPs with SE = 0 (which the QC reports as such)."""
    path = write(tmp_path / "t.ma", "SNP A1 A2 freq b p N\nrs1 A G 0.3 0.2 0 1000\n"
                                    "rs2 C T 0.2 -0.01 0.05 1000\n")
    df = read_sumstats(path)
    assert np.isnan(df["Z"].iloc[0]) and np.isnan(df["SE"].iloc[0])
    z = -1.959963984540054  # Phi^-1(0.025): P = 0.05, BETA < 0
    assert df["Z"].iloc[1] == pytest.approx(z, rel=1e-12)
    assert df["SE"].iloc[1] == pytest.approx(-0.01 / z, rel=1e-12)
    assert any("1 SNPs with P = 0" in note for note in df.attrs["notes"])


def test_ldsc_reader_z_only_leaves_beta_se_missing_and_derives_p():
    df = read_sumstats(DATA / "ldsc.sumstats")
    assert df.attrs["format"] == "ldsc"
    assert df["BETA"].isna().all() and df["SE"].isna().all()
    np.testing.assert_allclose(df["P"].iloc[1], 0.05, rtol=1e-12)
    np.testing.assert_allclose(df["P"].iloc[0], 0.04550026389635842, rtol=1e-12)
    assert np.isnan(df["Z"].iloc[2])  # "NA" is a missing value, not an error


def test_mixer_reader_from_gzip_strips_chr_prefix(tmp_path):
    gz = tmp_path / "mixer.sumstats.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write((DATA / "mixer.sumstats").read_text())
    df = read_sumstats(gz)
    assert df.attrs["format"] == "mixer"
    assert df["CHR"].tolist() == ["1", "1"] and df["BP"].tolist() == [1000, 2000]
    np.testing.assert_allclose(df["FREQ"], [0.3, 0.75])
    np.testing.assert_allclose(df["Z"], [2.0, -2.0])  # the file's Z, not BETA/SE


def test_plink2_header_uses_tested_allele_not_alt():
    df = read_sumstats(DATA / "plink2.glm.linear")
    assert df.attrs["format"] == "generic"
    assert df["A1"].tolist() == ["A", "C"] and df["A2"].tolist() == ["G", "T"]
    np.testing.assert_allclose(df["FREQ"], [0.3, 0.75])
    np.testing.assert_allclose(df["N"], [10000, 12000])
    assert df["CHR"].tolist() == ["1", "1"] and df["BP"].tolist() == [1000, 2000]


@pytest.mark.parametrize("header", [
    "MarkerName EA NEA EAF BETA SE P N INFO",
    "RSID effect_allele other_allele FRQ b se pval N info",
    "rs_id Allele1 Allele2 MAF Effect StdErr P-value TotalSampleSize IMPINFO",
    "variant_id ALT REF AF beta standard_error p_value N_eff INFO",
])
def test_generic_reader_synonyms(tmp_path, header):
    path = write(tmp_path / "g.txt", f"{header}\nrs7 t c 0.2 -0.3 0.1 0.0027 5000 0.9\n")
    row = read_sumstats(path).iloc[0]
    assert (row["SNP"], row["A1"], row["A2"]) == ("rs7", "T", "C")
    assert (row["FREQ"], row["BETA"], row["SE"], row["N"], row["INFO"]) == (0.2, -0.3, 0.1, 5000, 0.9)
    np.testing.assert_allclose(row["Z"], -3.0)


def test_generic_odds_ratio_case_control_and_chr_bp(tmp_path):
    path = write(tmp_path / "cc.tsv",
                 "CHR:BP\tA1\tA2\tOR\tSE\tNCASE\tNCONTROL\n"
                 f"chr3:12345\tA\tC\t{float(np.exp(0.2))!r}\t0.05\t1000\t3000\n")
    row = read_sumstats(path).iloc[0]
    assert (row["SNP"], row["CHR"], row["BP"]) == ("3:12345", "3", 12345)
    np.testing.assert_allclose(row["BETA"], 0.2, rtol=1e-12)
    np.testing.assert_allclose(row["Z"], 4.0, rtol=1e-12)
    np.testing.assert_allclose(row["N"], 3000.0)  # 4 / (1/1000 + 1/3000)


def test_beta_and_p_without_se_gives_z_and_se(tmp_path):
    path = write(tmp_path / "bp.csv", "SNP,A1,A2,BETA,P,N\nrs1,A,G,-0.1,0.05,100\n")
    row = read_sumstats(path).iloc[0]
    np.testing.assert_allclose(row["Z"], -Z_975, rtol=1e-12)
    np.testing.assert_allclose(row["SE"], 0.1 / Z_975, rtol=1e-12)


def test_explicit_column_map_and_default_n(tmp_path):
    path = write(tmp_path / "odd.txt", "marker eff oth stat\nrs5 G A 1.5\n")
    df = read_sumstats(path, columns={"marker": "SNP", "eff": "A1", "oth": "A2", "stat": "Z"}, n=800)
    assert df.attrs["format"] == "generic"
    assert (df["SNP"].iloc[0], df["A1"].iloc[0], df["Z"].iloc[0], df["N"].iloc[0]) == ("rs5", "G", 1.5, 800)


def test_blank_lines_do_not_shift_error_line_numbers(tmp_path):
    path = write(tmp_path / "b.ma", "SNP A1 A2 freq b se p N\n\nrs1 A G 0.1 0.1 0.1 0.3 100\n\n"
                                    "rs2 A G 0.1 oops 0.1 0.3 100\n")
    with pytest.raises(Exception) as err:
        read_sumstats(path)
    assert (err.value.line, err.value.column) == (5, 5)


def test_write_ma_round_trip(tmp_path):
    df = read_sumstats(DATA / "cojo.ma")
    write_ma(df, tmp_path / "out.ma")
    lines = (tmp_path / "out.ma").read_text().splitlines()
    assert lines[0] == "SNP A1 A2 freq b se p N"
    assert lines[3].split()[3] == "NA"
    back = read_sumstats(tmp_path / "out.ma", format="ma")
    pd.testing.assert_frame_equal(back, df, check_exact=False, rtol=1e-7)


def test_write_sumstats_round_trip_gz(tmp_path):
    df = read_sumstats(DATA / "mixer.sumstats")
    write_sumstats(df, tmp_path / "out.sumstats.gz")
    with gzip.open(tmp_path / "out.sumstats.gz", "rt") as fh:
        assert fh.readline().rstrip("\n").split("\t") == [
            "SNP", "CHR", "BP", "A1", "A2", "N", "Z", "BETA", "SE", "P", "FRQ"]
    back = read_sumstats(tmp_path / "out.sumstats.gz")
    pd.testing.assert_frame_equal(back, df, check_exact=False, rtol=1e-7)


def test_write_ma_refuses_z_only():
    with pytest.raises(ValueError, match="BETA and SE"):
        write_ma(read_sumstats(DATA / "ldsc.sumstats"), "/nonexistent/never.ma")


def test_beta_se_from_z_matches_least_squares_on_real_genotypes(bfile22):
    """OLS of a standardised phenotype on allele counts: b = z / sqrt(v (n - 2 + z^2)) exactly,
    with v the sample genotype variance; the SMR formula is that with 2p(1-p) for v, N for n-2."""
    geno = Genotypes.open(bfile22, extract=None)
    x = geno.read(np.arange(0, 400, 20), standardize=False).astype(np.float64)
    x = x[:, x.var(axis=0) < 0.49]  # a frequency p with 2p(1-p) = v exists
    rng = np.random.default_rng(7)
    y = x @ rng.normal(0, 0.1, x.shape[1]) + rng.normal(size=x.shape[0])
    y = (y - y.mean()) / y.std()
    n = len(y)
    xc = x - x.mean(axis=0)
    v = (xc**2).mean(axis=0)
    beta = xc.T @ y / (n * v)
    rss = ((y[:, None] - xc * beta) ** 2).sum(axis=0)
    se = np.sqrt(rss / (n - 2) / (n * v))
    z = beta / se
    p_equiv = (1 - np.sqrt(1 - 2 * v)) / 2  # 2p(1-p) = v
    b_hat, se_hat = beta_se_from_z(z, n - 2, p_equiv)
    np.testing.assert_allclose(b_hat, beta, rtol=1e-10)
    np.testing.assert_allclose(se_hat, se, rtol=1e-10)


def test_fill_beta_se_only_fills_missing():
    df = read_sumstats(DATA / "ldsc.sumstats")
    df["FREQ"] = [0.5, 0.5, 0.5]
    filled, count = fill_beta_se(df)
    assert count == 2  # rs3 has no Z
    np.testing.assert_allclose(filled["BETA"].iloc[0], 2.0 / np.sqrt(0.5 * (10000 + 4.0)))
    np.testing.assert_allclose(filled["BETA"] / filled["SE"], df["Z"])


def test_lazy_public_api_resolves_every_name():
    import bayesmix.io as bio

    for name in bio.__all__:
        assert getattr(bio, name) is not None, name
    with pytest.raises(AttributeError):
        bio.no_such_reader


def test_writers_spell_missing_values_na(tmp_path):
    df = read_sumstats(DATA / "mixer.sumstats")
    df.loc[1, ["BP", "CHR", "BETA"]] = [pd.NA, np.nan, np.nan]
    write_sumstats(df, tmp_path / "m.sumstats")
    row = (tmp_path / "m.sumstats").read_text().splitlines()[2].split("\t")
    assert row[1] == "NA" and row[2] == "NA" and row[7] == "NA"
    back = read_sumstats(tmp_path / "m.sumstats")
    assert pd.isna(back["BP"].iloc[1]) and pd.isna(back["CHR"].iloc[1])


def test_positions_only_file_gets_chr_bp_ids(tmp_path):
    path = write(tmp_path / "pos.txt", "CHROM POS EA NEA Z N\nchr22 16061016 T C -1.5 900\n")
    row = read_sumstats(path).iloc[0]
    assert (row["SNP"], row["CHR"], row["BP"], row["A1"]) == ("22:16061016", "22", 16061016, "T")
    assert "SNP = CHR:BP" in read_sumstats(path).attrs["notes"]


def test_plink2_a1_with_ref_alt_only_takes_the_other_allele(tmp_path):
    path = write(tmp_path / "p2.tsv", "#CHROM\tPOS\tID\tREF\tALT\tA1\tBETA\tSE\n"
                                      "1\t10\trs1\tG\tA\tA\t0.1\t0.1\n"
                                      "1\t20\trs2\tC\tT\tC\t0.1\t0.1\n")
    df = read_sumstats(path)
    assert df["A1"].tolist() == ["A", "C"] and df["A2"].tolist() == ["G", "T"]


@pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")
def test_real_plink2_glm_output_reads_and_harmonises(tmp_path, bfile22):
    from bayesmix.io.harmonise import harmonise

    geno = Genotypes.open(bfile22)
    rng = np.random.default_rng(3)
    y = geno.read(np.arange(0, 300, 30)) @ rng.normal(0, 0.3, 10) + rng.normal(size=geno.n_samples)
    pd.DataFrame({"fid": geno.samples["fid"], "iid": geno.samples["iid"], "y": y}).to_csv(
        tmp_path / "y.phen", sep=" ", header=False, index=False)
    (tmp_path / "snps").write_text("\n".join(geno.snps["snp"][:300]) + "\n")
    subprocess.run(["plink2", "--bfile", str(bfile22), "--pheno", str(tmp_path / "y.phen"),
                    "--glm", "allow-no-covars", "cols=+a1freq", "--extract", str(tmp_path / "snps"),
                    "--out", str(tmp_path / "g")], check=True, capture_output=True)
    out = next(tmp_path.glob("g*.glm.linear"))
    raw = pd.read_csv(out, sep="\t")
    df = read_sumstats(out)
    assert len(df) == 300 and df["N"].eq(geno.n_samples).all()
    np.testing.assert_allclose(df["Z"], raw["T_STAT"], rtol=1e-4, atol=1e-5)
    aligned, report = harmonise(df, geno.snps, max_freq_diff=1e-5)
    assert report.n_output == 300, str(report)
    sign = np.where(raw["A1"].to_numpy() == geno.snps["a1"][:300].to_numpy(), 1, -1)
    np.testing.assert_allclose(aligned["BETA"], raw["BETA"] * sign)


def test_regenie_style_allele0_and_log10p(tmp_path):
    path = write(tmp_path / "r.regenie", "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P\n"
                                         "1 100 rs1 G A 0.2 900 ADD 0.5 0.25 4 1.30103\n")
    row = read_sumstats(path).iloc[0]
    assert (row["A1"], row["A2"], row["FREQ"], row["N"]) == ("A", "G", 0.2, 900)
    np.testing.assert_allclose(row["P"], 0.05, rtol=1e-5)
    np.testing.assert_allclose(row["Z"], 2.0)
