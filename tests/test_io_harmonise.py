"""Harmonisation rules on a hand-made reference where each SNP exercises one rule."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix.io.harmonise import QCReport, harmonise
from bayesmix.io.regions import MHC_REGIONS, read_regions
from bayesmix.io.sumstats import CANONICAL_COLUMNS

DATA = Path(__file__).parent / "data" / "io"
N_FILLER = 20  # well-behaved SNPs so the 3-SD N-outlier rule can fire


def reference_table() -> pd.DataFrame:
    """Reference: snp chr bp a1 a2 freq. Every SNP is A/G at freq 0.3 unless stated."""
    rows = [
        ("match", "1", 100, "A", "G", 0.3),
        ("swap", "1", 200, "A", "G", 0.3),
        ("flip", "1", 300, "A", "G", 0.3),
        ("flipswap", "1", 400, "A", "G", 0.3),
        ("ambig", "1", 500, "A", "T", 0.3),
        ("indel", "1", 600, "A", "G", 0.3),
        ("se0", "1", 700, "A", "G", 0.3),
        ("nneg", "1", 800, "A", "G", 0.3),
        ("nan", "1", 900, "A", "G", 0.3),
        ("badfreq", "1", 950, "A", "G", 0.3),
        ("dup", "1", 1000, "A", "G", 0.3),
        ("mismatch", "1", 1100, "A", "G", 0.3),
        ("lowinfo", "1", 1200, "A", "G", 0.3),
        ("rare", "1", 1300, "A", "G", 0.003),
        ("freqdiff", "1", 1400, "A", "G", 0.3),
        ("nout", "1", 1500, "A", "G", 0.3),
        ("mhc19", "6", 28_477_797, "A", "G", 0.3),   # first base of the hg19 MHC, not hg38
        ("region", "2", 6000, "A", "G", 0.3),        # last base of a region in regions.txt
        ("justout", "2", 6001, "A", "G", 0.3),       # one past it
        *[(f"fill{i}", "5", 10_000 + i, "C", "T", 0.4) for i in range(N_FILLER)],
    ]
    return pd.DataFrame(rows, columns=["snp", "chr", "bp", "a1", "a2", "freq"])


def sumstats_table() -> pd.DataFrame:
    """Summary statistics (shuffled order): BETA = 0.1, SE = 0.05, N = 1000 unless stated."""
    rows = [
        ("match", "A", "G", 0.3),
        ("swap", "G", "A", 0.7),
        ("flip", "T", "C", 0.3),
        ("flipswap", "C", "T", 0.7),
        ("ambig", "A", "T", 0.3),
        ("indel", "AG", "G", 0.3),
        ("se0", "A", "G", 0.3),
        ("nneg", "A", "G", 0.3),
        ("nan", "A", "G", 0.3),
        ("badfreq", "A", "G", 1.3),
        ("dup", "A", "G", 0.3),
        ("dup", "A", "G", 0.3),
        ("absent", "A", "G", 0.3),
        ("mismatch", "A", "C", 0.3),
        ("lowinfo", "A", "G", 0.3),
        ("rare", "A", "G", 0.003),
        ("freqdiff", "A", "G", 0.5),
        ("nout", "A", "G", 0.3),
        ("mhc19", "A", "G", 0.3),
        ("region", "A", "G", 0.3),
        ("justout", "A", "G", 0.3),
        *[(f"fill{i}", "C", "T", 0.4) for i in range(N_FILLER)],
    ]
    df = pd.DataFrame(rows, columns=["SNP", "A1", "A2", "FREQ"])
    df["CHR"] = pd.array([np.nan] * len(df), dtype="str")
    df["BP"] = pd.array([pd.NA] * len(df), dtype="Int64")
    df["BETA"], df["SE"], df["N"], df["INFO"] = 0.1, 0.05, 1000.0, 0.95
    df.loc[df["SNP"] == "se0", "SE"] = 0.0
    df.loc[df["SNP"] == "nneg", "N"] = -5.0
    df.loc[df["SNP"] == "nan", "BETA"] = np.nan
    df.loc[df["SNP"] == "lowinfo", "INFO"] = 0.5
    df.loc[df["SNP"] == "nout", "N"] = 50_000.0
    df.loc[df["SNP"].str.startswith("fill"), "N"] = 1000.0 + np.arange(N_FILLER)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["Z"] = df["BETA"] / df["SE"]
    df["P"] = 0.05
    df = df[CANONICAL_COLUMNS].sample(frac=1.0, random_state=3).reset_index(drop=True)
    df.attrs["path"] = "hand-made"
    return df


ALL_RULES = dict(min_info=0.8, min_maf=0.01, max_freq_diff=0.1, n_outlier_sd=3.0,
                 exclude_mhc="hg19", exclude_regions=DATA / "regions.txt")


def test_monomorphic_snps_are_dropped_by_the_frequency_rule():
    """A GWAS FREQ of 0 or 1 (no information; H = 0 made the SBayes data preparation stop
    with an error) is counted under rule 3, with the FREQ outside [0, 1]."""
    table = sumstats_table()
    table.loc[table["SNP"] == "match", "FREQ"] = 0.0
    table.loc[table["SNP"] == "swap", "FREQ"] = 1.0
    aligned, report = harmonise(table, reference_table())
    assert dict(report.steps)["FREQ outside (0, 1) or P outside [0, 1]"] == 3  # + badfreq
    assert not {"match", "swap", "badfreq"} & set(aligned["SNP"])


def test_every_rule_drops_exactly_its_snp():
    aligned, report = harmonise(sumstats_table(), reference_table(), **ALL_RULES)
    expected = [
        ("SE <= 0", 1),
        ("N <= 0", 1),
        ("FREQ outside (0, 1) or P outside [0, 1]", 1),                # badfreq
        ("missing or non-finite values", 1),            # nan
        ("invalid alleles (not A/C/G/T, or A1 = A2)", 1),  # indel
        ("strand-ambiguous (A/T, C/G)", 1),
        ("INFO < 0.8", 1),
        ("other alleles than the reference's at a duplicated SNP (multi-allelic)", 0),
        ("duplicated SNP in the summary statistics", 2),  # both copies
        ("absent from the reference", 1),
        ("alleles do not match the reference", 1),
        ("MAF < 0.01", 1),
        ("|FREQ - reference freq| > 0.1", 1),
        ("N further than 3 SD from the median", 1),
        ("MHC (hg19 chr6:28477797-33448354)", 1),
        ("excluded regions", 1),
    ]
    assert report.steps == expected
    survivors = ["match", "swap", "flip", "flipswap", "justout", *[f"fill{i}" for i in range(N_FILLER)]]
    assert aligned["SNP"].tolist() == survivors  # reference order
    assert report.n_input == 41 and report.n_output == len(survivors)
    assert report.n_swapped == 2 and report.n_strand_flipped == 2
    table = report.table()
    assert list(table.columns) == ["rule", "dropped", "remaining"]
    assert table["remaining"].iloc[-1] == len(survivors)


def test_alignment_signs_alleles_and_frequencies():
    aligned, _ = harmonise(sumstats_table(), reference_table(), **ALL_RULES)
    by_snp = aligned.set_index("SNP")
    for snp, sign in [("match", 1), ("swap", -1), ("flip", 1), ("flipswap", -1)]:
        row = by_snp.loc[snp]
        assert (row["A1"], row["A2"]) == ("A", "G")
        assert row["BETA"] == pytest.approx(0.1 * sign) and row["Z"] == pytest.approx(2.0 * sign)
        assert row["FREQ"] == pytest.approx(0.3)  # 0.7 of the other allele -> 0.3
    ref = reference_table()
    assert (aligned["REF_INDEX"].map(ref["snp"]) == aligned["SNP"]).all()
    assert aligned["CHR"].tolist()[:4] == ["1"] * 4 and aligned["BP"].tolist()[:4] == [100, 200, 300, 400]


def test_keep_ambiguous_keeps_at_snp_on_reference_strand():
    aligned, report = harmonise(sumstats_table(), reference_table(), keep_ambiguous=True)
    assert "strand-ambiguous (A/T, C/G)" not in dict(report.steps)
    row = aligned.set_index("SNP").loc["ambig"]
    assert row["BETA"] == pytest.approx(0.1)
    assert "1 strand-ambiguous SNPs kept and aligned assuming the reference strand" in report.notes


def test_keep_ambiguous_note_counts_only_snps_that_stay():
    """An A/T SNP whose reference alleles are A/G is dropped by the allele check; the note
    must not count it as kept (it said "2 ... kept" here)."""
    table = sumstats_table()
    table.loc[table["SNP"] == "mismatch", ["A1", "A2"]] = ["A", "T"]
    aligned, report = harmonise(table, reference_table(), keep_ambiguous=True)
    assert dict(report.steps)["alleles do not match the reference"] == 1
    assert "mismatch" not in set(aligned["SNP"])
    assert "1 strand-ambiguous SNPs kept and aligned assuming the reference strand" in report.notes


def test_a_multi_allelic_site_keeps_the_copy_with_the_reference_alleles():
    """A site listed twice, A/G (the reference's) and A/C: the A/C copy goes, A/G stays with
    its own BETA; an A/T second copy (strand-ambiguous, dropped first) gives the same result
    (the audit found the two kinds of site treated differently). Two copies that both have
    the reference's alleles are still both dropped as duplicates."""
    base = sumstats_table()
    for other in ("C", "T"):
        extra = base[base["SNP"] == "match"].assign(A2=other, BETA=-0.3)
        table = pd.concat([base, extra], ignore_index=True)
        table.attrs["path"] = "hand-made"
        aligned, report = harmonise(table, reference_table())
        steps = dict(report.steps)
        assert steps["duplicated SNP in the summary statistics"] == 2       # "dup" only
        assert steps["other alleles than the reference's at a duplicated SNP "
                     "(multi-allelic)"] == (1 if other == "C" else 0)
        row = aligned.set_index("SNP").loc["match"]
        assert (row["A1"], row["A2"], row["BETA"]) == ("A", "G", pytest.approx(0.1))


def test_optional_rules_off_by_default():
    aligned, report = harmonise(sumstats_table(), reference_table())
    rules = [r for r, _ in report.steps]
    assert rules == ["SE <= 0", "N <= 0", "FREQ outside (0, 1) or P outside [0, 1]",
                     "missing or non-finite values", "invalid alleles (not A/C/G/T, or A1 = A2)",
                     "strand-ambiguous (A/T, C/G)",
                     "other alleles than the reference's at a duplicated SNP (multi-allelic)",
                     "duplicated SNP in the summary statistics", "absent from the reference",
                     "alleles do not match the reference"]
    assert {"lowinfo", "rare", "freqdiff", "nout", "mhc19", "region"} <= set(aligned["SNP"])


def test_mhc_build_boundaries():
    ref = reference_table()
    ss = sumstats_table()
    _, r19 = harmonise(ss, ref, exclude_mhc="hg19")
    _, r38 = harmonise(ss, ref, exclude_mhc="hg38")
    assert r19.steps[-1][1] == 1 and r38.steps[-1][1] == 0  # 28,477,797 < hg38 start
    assert MHC_REGIONS["hg38"][1] == 28_510_120


def test_match_by_chrpos_ignores_ids():
    ss = sumstats_table()
    ref = reference_table()
    pos = ref.set_index("snp").reindex(ss["SNP"])
    ss["CHR"] = pd.array(["chr" + c if isinstance(c, str) else np.nan for c in pos["chr"]], dtype="str")
    ss["BP"] = pd.array(pos["bp"].to_numpy(), dtype="Int64")
    ss["SNP"] = [f"id{i}" for i in range(len(ss))]
    aligned, report = harmonise(ss, ref, match_by="chrpos")
    # 'absent' has no position: counted with the missing values, not silently lost.
    assert report.dropped("missing or non-finite values") == 2
    assert report.dropped("absent from the reference") == 0
    assert "swap" in set(aligned["SNP"])  # ids come from the reference


def test_reference_from_bim_path_matches_table(tmp_path):
    ref = reference_table()
    bim = tmp_path / "ref.bim"
    ref.assign(cm=0)[["chr", "snp", "cm", "bp", "a1", "a2"]].to_csv(bim, sep="\t", header=False, index=False)
    from_table, _ = harmonise(sumstats_table(), ref.drop(columns="freq"))
    from_path, _ = harmonise(sumstats_table(), tmp_path / "ref")
    pd.testing.assert_frame_equal(from_table, from_path)


def test_read_regions_skips_comments_and_strips_chr():
    regions = read_regions(DATA / "regions.txt")
    assert regions.to_dict("list") == {"chr": ["2", "3"], "start": [5000, 100], "end": [6000, 100]}


def test_report_text_lists_every_rule_and_counts():
    _, report = harmonise(sumstats_table(), reference_table(), **ALL_RULES)
    text = str(report)
    for rule, dropped in report.steps:
        assert rule in text
    assert "alleles swapped: 2" in text and "strand flipped: 2" in text
    assert isinstance(report, QCReport)


def test_report_tsv(tmp_path):
    _, report = harmonise(sumstats_table(), reference_table())
    report.write_tsv(tmp_path / "qc.tsv")
    back = pd.read_csv(tmp_path / "qc.tsv", sep="\t")
    pd.testing.assert_frame_equal(back, report.table(), check_dtype=False)


def test_chrpos_matches_x_to_plink_code_23_and_regions_use_codes():
    ref = pd.DataFrame({"snp": ["x1", "x2", "a1"], "chr": ["23", "23", "1"], "bp": [500, 900, 500],
                        "a1": ["A", "A", "A"], "a2": ["G", "G", "G"]})
    ss = sumstats_table().iloc[:3].copy()
    ss["SNP"], ss["A1"], ss["A2"] = ["s1", "s2", "s3"], "A", "G"
    ss["CHR"] = pd.array(["X", "chrX", "chr1"], dtype="str")
    ss["BP"] = pd.array([500, 900, 500], dtype="Int64")
    ss["SE"], ss["N"], ss["BETA"], ss["Z"], ss["FREQ"], ss["INFO"] = 0.05, 1000.0, 0.1, 2.0, 0.3, 0.9
    regions = pd.DataFrame({"chr": ["chrX"], "start": [800], "end": [1000]})
    aligned, report = harmonise(ss, ref, match_by="chrpos", exclude_regions=regions)
    assert report.dropped("absent from the reference") == 0
    assert report.dropped("excluded regions") == 1  # x2 at X:900
    assert aligned["SNP"].tolist() == ["x1", "a1"] and aligned["CHR"].tolist() == ["23", "1"]


def test_missing_freq_is_kept_and_filled_from_reference():
    ss = sumstats_table()
    ss.loc[ss["SNP"] == "swap", "FREQ"] = np.nan
    ss.loc[ss["SNP"] == "match", ["P", "INFO"]] = np.nan
    aligned, report = harmonise(ss, reference_table(), fill_freq=True)
    assert report.dropped("missing or non-finite values") == 1  # only 'nan' (missing BETA)
    by_snp = aligned.set_index("SNP")
    assert by_snp.loc["swap", "FREQ"] == pytest.approx(0.3)  # reference A1 frequency
    assert "match" in by_snp.index
    assert any("FREQ of 1 SNPs taken from the reference" in n for n in report.notes)


def test_no_variance_note_when_no_snp_is_left():
    """Statistics with BETA, SE, N and FREQ none of which is in the reference: the note that
    the variance rule needs those columns was printed anyway (audit)."""
    table = sumstats_table().assign(SNP=lambda t: "other_" + t["SNP"])
    table.attrs["path"] = "hand-made"
    aligned, report = harmonise(table, reference_table(), max_vp_ratio=4.0)
    assert aligned.empty and dict(report.steps)["absent from the reference"] > 0
    assert not any("phenotypic variance not tested" in note for note in report.notes)
