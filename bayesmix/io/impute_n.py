"""Per-SNP sample sizes imputed from BETA, SE and frequency: GCTB's ``--impute-n``.

For GWAS files that give one (average) N for every SNP, GCTB replaces each SNP's N by the one
its statistics imply (``Data::imputePerSnpSampleSize``, GCTB 2.05). With H_j = 2 p_j (1 - p_j)
(p_j the A1 frequency), b_j the per-allele effect and se_j its SE (phenotype units), and N_j
the current sample sizes, one iteration over the SNPs still included is

    y'y_j = H_j N_j (N_j se_j^2 + b_j^2)          (phenotype units^2 x individuals)
    Vy    = median_j y'y_j / median_j N_j          (phenotypic variance, phenotype units^2)
    N*_j  = (Vy - H_j b_j^2) / (H_j se_j^2)        (individuals)
    SD    = population SD of N*_j (1/n, not 1/(n-1))

and a SNP is dropped when N*_j < median_j N_j - 3 SD or N*_j > median_j N_j + 3 SD; the kept
SNPs take N_j = N*_j. Iterations repeat until SD changes by at most 0.01 from the previous
iteration (the first compares with 0). The median is GCTB's: the upper middle value
(sorted[n // 2]), and the band is centred on the median of the iteration's *input* N (the
file's N in the first iteration), not of N*. GCTB then writes ``OUT.imputedPerSnpN``
(:func:`write_imputed_n`).

Where GCTB is fragile this module is stricter: a SNP with A1 frequency 0 or 1 (H_j = 0; GCTB
drops such "fixed" SNPs earlier, while reading) is dropped before the first iteration, and an
imputed N that is not finite or <= 0 is dropped in the iteration that produces it (GCTB would
keep a negative N that falls inside the band); each such SNP is listed with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open

N_SD = 3.0
"""Half-width of the band around the median N, in SDs of the imputed N (GCTB's 3)."""
SD_TOLERANCE = 0.01
"""Iterations stop when the SD of the imputed N changes by at most this (individuals)."""

REASON_FIXED = "A1 frequency 0 or 1"
REASON_OUTSIDE = "imputed N outside median +- 3 SD"
REASON_NOT_POSITIVE = "imputed N not finite or <= 0"


def upper_median(values) -> float:
    """GCTB's median: the element at position n // 2 of the sorted values (the upper middle
    value for an even n)."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.partition(values, len(values) // 2)[len(values) // 2])


@dataclass
class ImputedN:
    """Result of :func:`impute_per_snp_n`.

    Attributes
    ----------
    keep : bool (M,), input rows kept.
    n : float64 (M,), imputed N of the kept rows (individuals); NaN for dropped rows.
    snp : (M,) SNP ids of the input rows.
    dropped : DataFrame, one row per dropped SNP: ``row`` (0-based input row), ``SNP``,
        ``iteration`` (1-based; 0 = before the first), ``imputed_n`` (NaN for iteration 0) and
        ``reason`` (:data:`REASON_FIXED`, :data:`REASON_OUTSIDE` or :data:`REASON_NOT_POSITIVE`).
    log : DataFrame, one row per iteration: ``iteration``, ``n_snps`` (SNPs entering it),
        ``median_n`` (median of their N), ``vy`` (phenotypic variance, phenotype units^2),
        ``sd`` (population SD of the imputed N), ``lower`` / ``upper`` (the band),
        ``outside`` and ``not_positive`` (SNPs dropped by each reason).
    """

    keep: np.ndarray
    n: np.ndarray
    snp: np.ndarray
    dropped: pd.DataFrame
    log: pd.DataFrame

    @property
    def n_kept(self) -> int:
        return int(self.keep.sum())

    def dropped_count(self, reason: str) -> int:
        """Number of SNPs dropped for ``reason``."""
        return int((self.dropped["reason"] == reason).sum())

    def kept_table(self) -> pd.DataFrame:
        """``SNP``, ``N`` (imputed) of the kept SNPs, in input order."""
        return pd.DataFrame({"SNP": self.snp[self.keep], "N": self.n[self.keep]})

    def summary(self) -> str:
        """One sentence as GCTB prints it, with the number of iterations."""
        if self.log.empty:
            return "no SNP with an A1 frequency strictly between 0 and 1: no N imputed"
        last = self.log.iloc[-1]
        return (f"{self.n_kept} SNPs with per-SNP sample size within {N_SD:g} SD around the "
                f"median value of {last['median_n']:g} ({len(self.log)} iterations; "
                f"phenotypic variance {last['vy']:.6g}; SD of the imputed N {last['sd']:.6g})")


def impute_per_snp_n(stats: pd.DataFrame) -> ImputedN:
    """GCTB's ``--impute-n`` on a canonical statistics table (see the module docstring).

    Parameters
    ----------
    stats : DataFrame with columns SNP, BETA (per-allele effect of A1, phenotype units), SE,
        FREQ (A1 frequency) and N (individuals), e.g. harmonised statistics; every value
        must be finite, with SE > 0, N > 0 and FREQ in [0, 1]. ``stats.attrs["path"]`` names
        the file in errors.

    Returns
    -------
    :class:`ImputedN` (the input is not modified).
    """
    source = stats.attrs.get("path")
    columns = ("BETA", "SE", "FREQ", "N")
    missing = [c for c in ("SNP", *columns) if c not in stats]
    if missing:
        raise InputError(f"--impute-n needs columns {', '.join(missing)}", source)
    values = {c: stats[c].to_numpy(dtype=np.float64) for c in columns}
    b, se, freq, n = (values[c] for c in columns)
    snp = stats["SNP"].to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(b) & (se > 0) & (n > 0) & (freq >= 0) & (freq <= 1))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise InputError(f"--impute-n needs a finite BETA, SE > 0, N > 0 and an A1 frequency in "
                         f"[0, 1] for every SNP; {int(bad.sum())} SNPs lack them (e.g. "
                         f"{snp[j]}: BETA {b[j]}, SE {se[j]}, FREQ {freq[j]}, N {n[j]}); give "
                         f"a file with BETA, SE and FREQ (or a reference with frequencies)",
                         source)
    het = 2.0 * freq * (1.0 - freq)
    keep = het > 0
    current = n.copy()
    drops = [pd.DataFrame({"row": np.flatnonzero(~keep), "iteration": 0, "imputed_n": np.nan,
                           "reason": REASON_FIXED})]
    log = []
    sd_old, iteration = 0.0, 0
    while keep.any():
        iteration += 1
        rows = np.flatnonzero(keep)
        h, b2, var, n_in = het[rows], b[rows] ** 2, se[rows] ** 2, current[rows]
        median_n = upper_median(n_in)
        vy = upper_median(h * n_in * (n_in * var + b2)) / median_n
        imputed = (vy - h * b2) / (h * var)
        sd = float(np.sqrt(np.mean((imputed - imputed.mean()) ** 2)))
        lower, upper = median_n - N_SD * sd, median_n + N_SD * sd
        outside = (imputed < lower) | (imputed > upper)
        not_positive = ~outside & ~(np.isfinite(imputed) & (imputed > 0))
        for mask, reason in ((outside, REASON_OUTSIDE), (not_positive, REASON_NOT_POSITIVE)):
            drops.append(pd.DataFrame({"row": rows[mask], "iteration": iteration,
                                       "imputed_n": imputed[mask], "reason": reason}))
        kept = ~(outside | not_positive)
        keep[rows[~kept]] = False
        current[rows[kept]] = imputed[kept]
        log.append({"iteration": iteration, "n_snps": len(rows), "median_n": median_n,
                    "vy": vy, "sd": sd, "lower": lower, "upper": upper,
                    "outside": int(outside.sum()), "not_positive": int(not_positive.sum())})
        if abs(sd - sd_old) <= SD_TOLERANCE:
            break
        sd_old = sd
    dropped = pd.concat(drops, ignore_index=True).sort_values("row", kind="stable")
    dropped.insert(1, "SNP", snp[dropped["row"].to_numpy(dtype=np.int64)])
    log_table = pd.DataFrame(log, columns=["iteration", "n_snps", "median_n", "vy", "sd",
                                           "lower", "upper", "outside", "not_positive"])
    return ImputedN(keep=keep, n=np.where(keep, current, np.nan), snp=snp,
                    dropped=dropped.reset_index(drop=True), log=log_table)


def write_imputed_n(imputed: ImputedN, path) -> Path:
    """Write ``OUT.imputedPerSnpN`` in GCTB's layout (atomically); returns the path.

    A header line ``ID Imputed_N`` and one line per kept SNP in input order, the id
    right-aligned in 15 characters and the imputed N in 12, separated by one space; N is
    printed as C++ streams print a float by default (6 significant digits, ``%g``), as GCTB
    does.
    """
    path = Path(path)
    table = imputed.kept_table()
    with atomic_open(path, "wt") as fh:
        fh.write(f"{'ID':>15} {'Imputed_N':>12}\n")
        fh.writelines(f"{snp:>15} {format(n, 'g'):>12}\n"
                      for snp, n in zip(table["SNP"].astype(str), table["N"]))
    return path
