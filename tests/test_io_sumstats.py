"""Summary-statistics readers and writers on hand-made files whose content is known."""

import gzip
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
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


def test_plink2_logistic_log_or_se_is_the_se_and_beta_stays_log_or(tmp_path):
    """plink2 --glm logistic: OR, LOG(OR)_SE and Z_STAT. LOG(OR)_SE was not recognised (the
    parentheses), so SE was missing and munge replaced log(OR) by a Z-derived BETA."""
    log_or, se = np.array([0.2, -0.35]), np.array([0.05, 0.07])
    rows = [f"22\t{100 * (k + 1)}\trs{k}\tG\tA\tA\t0.3\tADD\t900\t{float(np.exp(b))!r}\t{s!r}\t"
            f"{b / s!r}\t0.01\t." for k, (b, s) in enumerate(zip(log_or.tolist(), se.tolist()))]
    path = write(tmp_path / "g.glm.logistic", "#CHROM\tPOS\tID\tREF\tALT\tA1\tA1_FREQ\tTEST\t"
                 "OBS_CT\tOR\tLOG(OR)_SE\tZ_STAT\tP\tERRCODE\n" + "\n".join(rows) + "\n")
    df = read_sumstats(path)
    assert df.attrs["columns"]["SE"] == "LOG(OR)_SE"
    np.testing.assert_allclose(df["BETA"], log_or, rtol=1e-12)
    np.testing.assert_allclose(df["SE"], se, rtol=1e-12)


@pytest.mark.parametrize("header", ["SNP A1 A2 BETA Z N", "SNP A1 A2 Z N OR",
                                    "SNP CHR BP A1 A2 N Z LOG_ODDS"])
def test_beta_and_z_without_se_derive_se_and_keep_beta(tmp_path, header):
    """BETA (or OR) and Z without SE: SE = BETA / Z. These headers were read as ldsc / mixer
    (Z only), and munge then wrote a variance-1 BETA over the file's."""
    beta, se = -0.12, 0.04
    values = {"SNP": "rs1", "CHR": "1", "BP": "100", "A1": "A", "A2": "G", "N": "1000",
              "Z": repr(beta / se), "BETA": repr(beta), "LOG_ODDS": repr(beta),
              "OR": repr(float(np.exp(beta)))}
    path = write(tmp_path / "bz.txt", f"{header}\n{' '.join(values[h] for h in header.split())}\n")
    df = read_sumstats(path)
    assert df.attrs["format"] == "generic"
    row = df.iloc[0]
    np.testing.assert_allclose([row["BETA"], row["SE"], row["Z"]], [beta, se, beta / se],
                               rtol=1e-12)
    assert "SE = BETA / Z (no SE column)" in df.attrs["notes"]


def test_z_and_se_without_beta_give_beta(tmp_path):
    path = write(tmp_path / "zs.txt", "SNP A1 A2 Z SE N\nrs1 A G -2.5 0.02 1000\n")
    row = read_sumstats(path).iloc[0]
    np.testing.assert_allclose([row["BETA"], row["SE"]], [-0.05, 0.02], rtol=1e-12)


def test_fill_beta_se_never_replaces_a_given_beta_or_se():
    df = pd.DataFrame({"BETA": [0.3, np.nan, np.nan], "SE": [np.nan, 0.1, np.nan],
                       "Z": [2.0, -3.0, 1.0], "N": [1000.0] * 3, "FREQ": [0.5] * 3})
    filled, count = fill_beta_se(df)
    np.testing.assert_allclose(filled["BETA"], [0.3, -0.3, 1.0 / np.sqrt(0.5 * 1001)])
    np.testing.assert_allclose(filled["SE"], [0.15, 0.1, 1.0 / np.sqrt(0.5 * 1001)])
    assert count == 1  # only the third from Z, N and FREQ


SAIGE_HEADER = ("CHR POS MarkerID Allele1 Allele2 AC_Allele2 AF_Allele2 imputationInfo N BETA SE "
                "Tstat var p.value p.value.NA Is.SPA.converge varT varTstar")


def test_saige_effect_allele_is_allele2(tmp_path):
    """SAIGE's BETA and AF_Allele2 are for Allele2: the generic ALLELE1 -> A1 flipped every
    sign, and MarkerID was not an id (SNP became CHR:BP)."""
    path = write(tmp_path / "saige.txt", f"{SAIGE_HEADER}\n"
                 "1 100 rs1 G A 60 0.3 0.98 100 0.25 0.05 100 1 5.7e-07 5.7e-07 1 1 1\n")
    df = read_sumstats(path)
    row = df.iloc[0]
    assert (row["SNP"], row["A1"], row["A2"], row["FREQ"]) == ("rs1", "A", "G", 0.3)
    assert (row["BETA"], row["SE"], row["INFO"]) == (0.25, 0.05, 0.98)
    assert any(note.startswith("SAIGE output") for note in df.attrs["notes"])


@pytest.mark.parametrize("header, line, bp", [
    # regenie: ALLELE1 is the effect allele, ALLELE0 the other; GENPOS the position
    ("CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P",
     "1 100 rs1 G A 0.3 900 ADD 0.25 0.05 25 6.2", 100),
    # BOLT-LMM: ALLELE1 effect, ALLELE0 other (BP wins over GENPOS, the genetic position)
    ("SNP CHR BP GENPOS ALLELE1 ALLELE0 A1FREQ INFO BETA SE P_BOLT_LMM_INF P_BOLT_LMM",
     "rs1 1 100 0.001 A G 0.3 1 0.25 0.05 5.7e-07 5.7e-07", 100),
    # METAL: Allele1 effect (lower case); no position
    ("MarkerName Allele1 Allele2 Freq1 Effect StdErr P-value Direction TotalSampleSize",
     "rs1 a g 0.3 0.25 0.05 5.7e-07 ++ 900", None),
])
def test_other_tools_effect_allele(tmp_path, header, line, bp):
    """The SAIGE rule leaves the other tools' alleles alone; regenie's GENPOS is its BP."""
    row = read_sumstats(write(tmp_path / "t.txt", f"{header}\n{line}\n")).iloc[0]
    assert (row["SNP"], row["A1"], row["A2"], row["FREQ"], row["BETA"]) == ("rs1", "A", "G", 0.3, 0.25)
    assert (None if pd.isna(row["BP"]) else row["BP"]) == bp


def test_p_of_one_without_se_is_missing_not_an_infinite_se(tmp_path):
    """BETA and P = 1 without SE: Z = 0 and no SE to derive. It was -inf (or inf), counted by
    munge as 'SE <= 0' though the file has no SE."""
    path = write(tmp_path / "p1.txt", "SNP A1 A2 BETA P N\nrs1 A G 0.2 1 1000\nrs2 C T -0.1 1.0 1000\n"
                                      "rs3 C T 0.1 0.05 1000\n")
    df = read_sumstats(path)
    assert df["SE"].isna().tolist() == [True, True, False]
    assert (df["Z"].iloc[:2] == 0).all()
    assert any(note.startswith("2 SNPs with Z = 0") for note in df.attrs["notes"])


def test_log10p_holding_log10_p_is_refused(tmp_path):
    """log10(P) (negative) in a LOG10P column made every P > 1: every SNP dropped as 'P outside
    [0, 1]'. Refused at read, at the first negative value."""
    path = write(tmp_path / "n.txt", "SNP A1 A2 BETA SE N LOG10P\nrs1 A G 0.1 0.05 900 0\n"
                                     "rs2 A G 0.1 0.05 900 -1.3\nrs3 A G 0.1 0.05 900 -0.2\n")
    with pytest.raises(InputError, match=r"log10\(P\)") as err:
        read_sumstats(path)
    assert (err.value.line, err.value.column) == (3, 7)
    path = write(tmp_path / "ok.txt", "SNP A1 A2 BETA SE N LOG10P\nrs1 A G 0.1 0.05 900 0\n"
                                      "rs2 A G 0.1 0.05 900 1.3\nrs3 A G 0.1 0.05 900 -0.2\n")
    np.testing.assert_allclose(read_sumstats(path)["P"], [1.0, 10**-1.3, 10**0.2])


def test_default_n_says_whether_it_was_used(tmp_path):
    path = write(tmp_path / "n.txt", "SNP A1 A2 Z N\nrs1 A G 1 500\nrs2 C T 2 NA\n")
    df = read_sumstats(path, n=800)
    assert df["N"].tolist() == [500, 800]
    assert "N = 800 for the 1 SNPs without N in the file (column N)" in df.attrs["notes"]
    path = write(tmp_path / "full.txt", "SNP A1 A2 Z N\nrs1 A G 1 500\nrs2 C T 2 600\n")
    df = read_sumstats(path, n=800)
    assert df["N"].tolist() == [500, 600]
    assert "N = 800 not used: the file gives N for every SNP (column N)" in df.attrs["notes"]


def test_plink2_glm_rows_of_other_tests_are_not_read(tmp_path):
    path = write(tmp_path / "g.glm.linear",
                 "#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST\tOBS_CT\tBETA\tSE\tP\n"
                 "1\t100\trs1\tG\tA\tA\tADD\t900\t0.25\t0.05\t0.001\n"
                 "1\t100\trs1\tG\tA\tA\tAGE\t900\t1.5\t0.01\t0.0\n"
                 "1\t200\trs2\tC\tT\tT\tADD\t890\t-0.1\t0.04\t0.01\n"
                 "1\t200\trs2\tC\tT\tT\tAGE\tNA\tNA\tNA\tNA\n")
    df = read_sumstats(path)
    assert df["SNP"].tolist() == ["rs1", "rs2"]
    assert df["BETA"].tolist() == [0.25, -0.1] and df["N"].tolist() == [900, 890]
    assert any(note.startswith("read the 2 rows with TEST = ADD") and "2 rows of other tests "
               "(AGE: " in note for note in df.attrs["notes"])
    path = write(tmp_path / "rec.glm.linear", "ID\tA1\tOMITTED\tTEST\tBETA\tSE\n"
                                              "rs1\tA\tG\tREC\t0.25\t0.05\n")
    with pytest.raises(InputError, match="column TEST .* has no ADD row") as err:
        read_sumstats(path)
    assert (err.value.line, err.value.column) == (2, 4)


def test_z_disagreeing_with_beta_se_is_named_and_replaced(tmp_path):
    """One row of 200 with a Z that contradicts BETA/SE: a note (not a warning) naming its
    line and values; Z = BETA/SE is used. Rounded but agreeing values are no disagreement."""
    beta = np.linspace(-0.3, 0.3, 200)
    rounded = np.round(beta / 0.07, 2)  # Z rounded to 2 decimals, BETA to 3 significant digits
    z = rounded.copy()
    z[57] = -4.0  # the sign of BETA (-0.128), not its size
    lines = ["SNP A1 A2 BETA SE Z N"] + [f"rs{k} A G {beta[k]:.3g} 0.07 {z[k]} 900"
                                        for k in range(200)]
    df = read_sumstats(write(tmp_path / "bz.txt", "\n".join(lines) + "\n"))
    given = np.array([float(f"{b:.3g}") for b in beta]) / 0.07
    np.testing.assert_allclose(df["Z"], given, rtol=1e-12)
    notes = [n for n in df.attrs["notes"] if n.startswith("column Z disagrees")]
    assert len(notes) == 1 and not df.attrs["warnings"]
    assert "on 1 of 200 rows" in notes[0] and "first: line 59" in notes[0]
    assert f"BETA/SE {given[57]:.6g}, Z -4)" in notes[0] and "opposite sign" not in notes[0]
    lines[58] = lines[58].replace(" -4.0 ", f" {rounded[57]} ")  # the file without the bad Z
    df = read_sumstats(write(tmp_path / "ok.txt", "\n".join(lines) + "\n"))
    assert not any("disagrees" in n for n in df.attrs["notes"]) and not df.attrs["warnings"]
    np.testing.assert_array_equal(df["Z"], rounded)  # the file's own Z when it agrees
