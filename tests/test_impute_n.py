"""GCTB's --impute-n on a file worked out by hand, through the library, harmonise and the writer.

The hand-made file: 15 SNPs, every one with the file's average N = 10,000. Each SNP's SE is
chosen so that its imputed N is a round target T, for a phenotypic variance Vy = 2: with
H = 2p(1 - p), s = SE^2 = (2 - H b^2) / (H T). Then H N (N s + b^2) / N - 2 = H s (N - T), so
the y'y of a SNP lies above the value 2 N when T < N, equals it when T = N and lies below when
T > N: with 8 of the 13 polymorphic SNPs at T = N, the median y'y is 2 N and Vy = 2 / N x N = 2
(and in later iterations, with N = T, y'y = T Vy, whose median over the median T is again 2).

Targets (SNP: T): a..h 10,000; i 9,500; j 10,500; k 14,000; l 200,000; m -5,000 (H b^2 = 3.125
> Vy); z has frequency 0 (H = 0: dropped before the first iteration).

Iteration 1 (13 SNPs, band centred on the file's median N = 10,000): d = T - 10,000 =
[0 x 8, -500, 500, 4,000, 190,000, -15,000]; sum d = 179,000, sum d^2 = 36,341,500,000;
population variance = 36,341,500,000 / 13 - (179,000 / 13)^2 = 2,605,908,284.0, SD = 51,048.10,
band 10,000 +- 153,144.3: l (200,000) is outside; m (-5,000) is inside but not positive.
Iteration 2 (11 SNPs, centre = upper median of their N = 10,000): d = [0 x 8, -500, 500,
4,000]; variance = 16,500,000 / 11 - (4,000 / 11)^2 = 1,367,768.6, SD = 1,169.516, band
10,000 +- 3,508.55: k (14,000) is outside.
Iteration 3 (10 SNPs): variance = 500,000 / 10 = 50,000, SD = 223.6068; nothing outside; the
SD changed by more than 0.01, so iteration 4 runs: same SNPs, same SD: stop.
"""

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.io.harmonise import harmonise
from bayesmix.io.impute_n import (REASON_FIXED, REASON_NOT_POSITIVE, REASON_OUTSIDE,
                                  impute_per_snp_n, upper_median, write_imputed_n)
from bayesmix.io.sumstats import CANONICAL_COLUMNS

N_FILE = 10_000.0
VY = 2.0
# SNP, A1 frequency, per-allele effect b, target imputed N
DESIGN = [
    ("a", 0.5, 0.01, 10_000), ("b", 0.1, -0.02, 10_000), ("c", 0.2, 0.03, 10_000),
    ("d", 0.5, 0.0, 10_000), ("e", 0.1, 0.05, 10_000), ("f", 0.2, -0.01, 10_000),
    ("g", 0.5, 0.02, 10_000), ("h", 0.1, 0.0, 10_000), ("i", 0.2, 0.04, 9_500),
    ("j", 0.5, -0.03, 10_500), ("k", 0.1, 0.02, 14_000), ("l", 0.2, 0.01, 200_000),
    ("m", 0.5, 2.5, -5_000),
]
KEPT = list("abcdefghij")


def hand_file() -> pd.DataFrame:
    rows = []
    for snp, p, b, target in DESIGN:
        h = 2 * p * (1 - p)
        rows.append((snp, p, b, np.sqrt((VY - h * b * b) / (h * target))))
    rows.append(("z", 0.0, 0.01, 0.01))
    table = pd.DataFrame(rows, columns=["SNP", "FREQ", "BETA", "SE"])
    table["N"] = N_FILE
    return table


def test_upper_median_is_gctbs():
    assert upper_median([4.0, 1.0, 3.0, 2.0]) == 3.0  # sorted[n // 2], not (2 + 3) / 2
    assert upper_median([5.0, 1.0, 3.0]) == 3.0


def test_imputed_n_and_dropped_snps_match_the_hand_worked_example():
    result = impute_per_snp_n(hand_file())
    targets = {snp: t for snp, _, _, t in DESIGN}
    kept = result.kept_table()
    assert kept["SNP"].tolist() == KEPT
    np.testing.assert_allclose(kept["N"], [targets[s] for s in KEPT], rtol=1e-9)
    dropped = result.dropped.set_index("SNP")
    assert dropped.loc["z", "reason"] == REASON_FIXED and dropped.loc["z", "iteration"] == 0
    assert dropped.loc["l", "reason"] == REASON_OUTSIDE and dropped.loc["l", "iteration"] == 1
    assert dropped.loc["m", "reason"] == REASON_NOT_POSITIVE and dropped.loc["m", "iteration"] == 1
    assert dropped.loc["k", "reason"] == REASON_OUTSIDE and dropped.loc["k", "iteration"] == 2
    assert dropped.loc["m", "imputed_n"] == pytest.approx(-5_000, rel=1e-9)
    log = result.log
    assert log["iteration"].tolist() == [1, 2, 3, 4]
    assert log["n_snps"].tolist() == [13, 11, 10, 10]
    np.testing.assert_allclose(log["median_n"], 10_000, rtol=1e-12)
    np.testing.assert_allclose(log["vy"], VY, rtol=1e-12)
    np.testing.assert_allclose(log["sd"], [51_048.10, 1_169.516, 223.6068, 223.6068], rtol=1e-6)
    np.testing.assert_allclose(log["upper"].iloc[:2], [163_144.3, 13_508.55], rtol=1e-6)
    assert log["outside"].tolist() == [1, 1, 0, 0]
    assert log["not_positive"].tolist() == [1, 0, 0, 0]
    assert result.n_kept == 10 and np.isnan(result.n[~result.keep]).all()


def test_harmonise_counts_the_imputation_in_the_qc_table():
    stats = hand_file()
    reference = pd.DataFrame({"snp": stats["SNP"], "chr": "1",
                              "bp": np.arange(1, len(stats) + 1) * 1000, "a1": "A", "a2": "G"})
    table = stats.assign(CHR=np.nan, BP=np.nan, A1="A", A2="G", Z=stats["BETA"] / stats["SE"],
                         P=0.5, INFO=np.nan)[CANONICAL_COLUMNS]
    table = table.iloc[::-1].reset_index(drop=True)   # file order differs from the reference's
    table.attrs["path"] = "hand.ma"
    aligned, report = harmonise(table, reference, impute_n=True)
    steps = dict(report.steps)
    assert steps[f"{REASON_OUTSIDE} (--impute-n)"] == 2
    # "z" (A1 frequency 0) goes at QC rule 3, before the imputation; "m" is not imputable
    assert steps["FREQ outside (0, 1) or P outside [0, 1]"] == 1
    assert steps[f"N not imputable: {REASON_FIXED}, or {REASON_NOT_POSITIVE} (--impute-n)"] == 1
    assert report.steps[-1][0].endswith("(--impute-n)")  # the last rule, as in GCTB
    assert aligned["SNP"].tolist() == KEPT
    np.testing.assert_allclose(aligned["N"], [10_000] * 8 + [9_500, 10_500], rtol=1e-9)
    assert report.imputed_n.kept_table()["SNP"].tolist() == KEPT    # reference order, as GCTB
    assert report.imputed_n.n_kept == 10
    assert any("median value of 10000" in note for note in report.notes)


def test_writer_follows_gctbs_layout(tmp_path):
    path = write_imputed_n(impute_per_snp_n(hand_file()), tmp_path / "out.imputedPerSnpN")
    lines = path.read_text().splitlines()
    # GCTB: boost::format("%15s %12s\n"), the float printed with 6 significant digits
    assert lines[0] == "%15s %12s" % ("ID", "Imputed_N")
    assert lines[1:] == ["%15s %12s" % (s, n) for s, n in
                         zip(KEPT, ["10000"] * 8 + ["9500", "10500"])]


def test_six_significant_digits_as_cpp_prints_floats(tmp_path):
    table = pd.DataFrame({"SNP": ["x", "y", "w"], "FREQ": 0.5, "BETA": 0.0,
                          "SE": [1 / np.sqrt(1234567.0)] * 3, "N": 1234567.0})
    path = write_imputed_n(impute_per_snp_n(table), tmp_path / "big.imputedPerSnpN")
    assert path.read_text().splitlines()[1] == "%15s %12s" % ("x", "1.23457e+06")


def test_missing_effects_or_frequencies_are_refused():
    table = hand_file()
    table.loc[3, "FREQ"] = np.nan
    table.attrs["path"] = "gwas.ma"
    with pytest.raises(InputError, match="--impute-n needs") as err:
        impute_per_snp_n(table)
    assert err.value.path == "gwas.ma" and "d:" in str(err.value)
