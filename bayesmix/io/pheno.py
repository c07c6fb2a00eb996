"""Phenotypes and covariates in GCTA's formats, and their alignment to the genotyped samples.

- ``.phen``: ``FID IID y1 y2 ...``, whitespace-separated, no header; missing values: any
  number equal to -9 (``-9``, ``-9.0``, ``-9.000``, as PLINK reads them) and ``NA``/``NaN``/``.``.
  ``mpheno`` picks the trait (1-based, as in GCTA/GCTB ``--mpheno``).
- ``.qcovar``: ``FID IID q1 q2 ...`` quantitative covariates (same missing codes).
- ``.covar``: ``FID IID c1 c2 ...`` discrete covariates (any labels; the same missing codes),
  expanded to one-hot columns with the first level in sorted order as the reference level.

A header line starting with ``FID IID`` is accepted and skipped, and so is a UTF-8 byte-order
mark at the start of the file. Samples are identified by the pair (FID, IID). Values are on
the scale of the file (no standardisation); a value that is not a finite number (``inf``,
``1e400``) is an error naming its line and column.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.io.files import open_text

MISSING_CODES = frozenset({"-9", "NA", "na", "NaN", "nan", "."})
"""Missing-value tokens; besides these, any value numerically equal to :data:`MISSING_VALUE`."""
MISSING_VALUE = -9.0


def _missing(text: pd.Series) -> np.ndarray:
    """Which of the string values ``text`` are missing: a token of :data:`MISSING_CODES` or a
    number equal to -9 (``-9.0`` and ``-9.000`` as R and pandas write it, as PLINK reads it)."""
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    return text.isin(MISSING_CODES).to_numpy() | (numbers == MISSING_VALUE)


def _read_id_table(path, kind: str) -> tuple[pd.DataFrame, list[int]]:
    """Read a headerless ``FID IID v1 v2 ...`` table as strings.

    Returns the table (columns fid, iid, 1, 2, ...) and the 1-based file line of each row.
    Errors: missing file, fewer than 3 fields, differing field counts, duplicated FID+IID.
    """
    path = Path(os.fspath(path))
    rows, lines = [], []
    n_fields = None
    seen: dict[tuple[str, str], int] = {}
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                continue
            if not rows and [f.upper() for f in fields[:2]] == ["FID", "IID"]:
                continue
            if n_fields is None:
                if len(fields) < 3:
                    raise InputError(f"a {kind} file needs FID, IID and at least one value column",
                                     path, lineno)
                n_fields = len(fields)
            elif len(fields) != n_fields:
                raise InputError(f"expected {n_fields} fields like the first row, found {len(fields)}",
                                 path, lineno)
            key = (fields[0], fields[1])
            if key in seen:
                raise InputError(f"sample FID={key[0]} IID={key[1]} appears twice "
                                 f"(first on line {seen[key]})", path, lineno, 2)
            seen[key] = lineno
            rows.append(fields)
            lines.append(lineno)
    if not rows:
        raise InputError(f"{kind} file is empty", path)
    table = pd.DataFrame(rows, columns=["fid", "iid", *range(1, n_fields - 1)])
    table.attrs["path"] = str(path)
    return table, lines


def _to_float(table: pd.DataFrame, column: int, lines: list[int]) -> np.ndarray:
    """Numeric values of a value column (1-based after IID); missing values (:func:`_missing`)
    -> NaN. A non-numeric or non-finite value is an error naming its line and column."""
    text = table[column].astype(str)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    missing = _missing(text)
    bad = ~np.isfinite(values) & ~missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "non-numeric" if np.isnan(values[i]) else "non-finite"
        raise InputError(f"{what} value {text.iloc[i]!r}", table.attrs["path"], lines[i],
                         column + 2)
    values[missing] = np.nan
    return values


def read_phen(path, mpheno: int = 1) -> pd.DataFrame:
    """Read trait ``mpheno`` (1-based) of a GCTA ``.phen`` file.

    Returns columns fid, iid, y (float64, NaN where missing), one row per line. Raises
    :class:`InputError` if the trait is missing for every sample.
    """
    table, lines = _read_id_table(path, "phenotype")
    n_traits = table.shape[1] - 2
    if not 1 <= mpheno <= n_traits:
        raise InputError(f"mpheno={mpheno} but the file has {n_traits} phenotype column(s)",
                         table.attrs["path"])
    y = _to_float(table, mpheno, lines)
    if np.isnan(y).all():
        raise InputError(f"phenotype {mpheno} (column {mpheno + 2}) is missing (-9/NA) for every "
                         "sample", table.attrs["path"], None, mpheno + 2)
    out = pd.DataFrame({"fid": table["fid"], "iid": table["iid"], "y": y})
    out.attrs["path"] = table.attrs["path"]
    return out


def read_qcovar(path) -> pd.DataFrame:
    """Read a ``.qcovar`` file: columns fid, iid, qcovar1, qcovar2, ... (float64, NaN missing)."""
    table, lines = _read_id_table(path, "quantitative covariate")
    out = pd.DataFrame({"fid": table["fid"], "iid": table["iid"]})
    for k in range(1, table.shape[1] - 1):
        out[f"qcovar{k}"] = _to_float(table, k, lines)
    out.attrs["path"] = table.attrs["path"]
    return out


def read_covar(path) -> pd.DataFrame:
    """Read a ``.covar`` file: columns fid, iid, covar1, covar2, ... (labels; NaN missing)."""
    table, _ = _read_id_table(path, "discrete covariate")
    out = pd.DataFrame({"fid": table["fid"], "iid": table["iid"]})
    for k in range(1, table.shape[1] - 1):
        labels = table[k].astype(object)
        out[f"covar{k}"] = labels.where(~_missing(labels.astype(str)), np.nan)
    out.attrs["path"] = table.attrs["path"]
    return out


@dataclass
class AlignedSamples:
    """Phenotype and covariates aligned to the genotyped samples.

    Attributes
    ----------
    index : int array, rows of the genotype sample table kept (ascending: genotype order).
    samples : DataFrame fid, iid of the kept samples.
    y : float64 phenotype of the kept samples (file scale).
    design : float64 (n, p) covariate design matrix: intercept, quantitative covariates,
        one-hot discrete covariates (reference level = first label in sorted order omitted).
    design_columns : names of the design columns.
    counts : ordered dict of reason -> samples dropped, starting with the genotyped total.
    """

    index: np.ndarray
    samples: pd.DataFrame
    y: np.ndarray
    design: np.ndarray
    design_columns: list
    counts: dict = field(default_factory=dict)

    def __str__(self) -> str:
        width = max(len(k) for k in self.counts)
        return "\n".join(f"{k:<{width}}  {v:>8}" for k, v in self.counts.items())


def align_samples(genotypes_samples: pd.DataFrame, pheno, qcovar=None, covar=None, *,
                  mpheno: int = 1) -> AlignedSamples:
    """Intersect genotyped samples with the phenotype and covariate files by FID + IID.

    Parameters
    ----------
    genotypes_samples : DataFrame with columns fid, iid (e.g. ``Genotypes.samples``).
    pheno : path of a ``.phen`` file (trait ``mpheno``) or a table from :func:`read_phen`.
    qcovar, covar : paths or tables from :func:`read_qcovar` / :func:`read_covar`, optional.

    Samples are dropped, and counted, when absent from a file or missing a value there.
    Raises :class:`InputError` when no sample is shared, fewer than :data:`MIN_SAMPLES` are
    left, a discrete covariate has a single level, or a covariate is constant or (nearly) a
    linear combination of the intercept and the covariates before it over the samples kept
    (:func:`check_design`).
    """
    pheno = pheno if isinstance(pheno, pd.DataFrame) else read_phen(pheno, mpheno)
    qcovar = qcovar if qcovar is None or isinstance(qcovar, pd.DataFrame) else read_qcovar(qcovar)
    covar = covar if covar is None or isinstance(covar, pd.DataFrame) else read_covar(covar)
    geno_keys = pd.MultiIndex.from_arrays([genotypes_samples["fid"].astype(str),
                                           genotypes_samples["iid"].astype(str)])
    keep = np.ones(len(geno_keys), dtype=bool)
    counts = {"genotyped samples": len(geno_keys)}

    def lookup(table: pd.DataFrame) -> np.ndarray:
        keys = pd.MultiIndex.from_arrays([table["fid"].astype(str), table["iid"].astype(str)])
        return keys.get_indexer(geno_keys)

    pos_pheno = lookup(pheno)
    if (pos_pheno < 0).all():
        fam = genotypes_samples.attrs.get("path", "the genotype .fam")
        raise InputError(f"no sample (FID IID) in common with {fam}", pheno.attrs.get("path"))
    counts["not in the phenotype file"] = int((keep & (pos_pheno < 0)).sum())
    keep &= pos_pheno >= 0
    y = np.where(pos_pheno >= 0, pheno["y"].to_numpy(dtype=np.float64)[pos_pheno], np.nan)
    counts["phenotype missing"] = int((keep & np.isnan(y)).sum())
    keep &= ~np.isnan(y)

    blocks, names, sources = [np.ones((len(geno_keys), 1))], ["intercept"], [(None, None)]
    for table, label in ((qcovar, "quantitative covariate"), (covar, "discrete covariate")):
        if table is None:
            continue
        pos = lookup(table)
        counts[f"not in the {label} file"] = int((keep & (pos < 0)).sum())
        keep &= pos >= 0
        values = table.drop(columns=["fid", "iid"]).iloc[np.maximum(pos, 0)].reset_index(drop=True)
        missing = values.isna().any(axis=1).to_numpy()
        counts[f"{label} missing"] = int((keep & missing).sum())
        keep &= ~missing
        path = table.attrs.get("path")
        if table is qcovar:
            blocks.append(values.to_numpy(dtype=np.float64))
            names += list(values.columns)
            sources += [(path, k + 3) for k in range(values.shape[1])]
        else:
            for k, column in enumerate(values.columns):
                levels = sorted(values.loc[keep, column].astype(str).unique())
                if len(levels) == 1:
                    raise InputError(f"discrete covariate {column} has one level ({levels[0]}) "
                                     f"over the {int(keep.sum())} samples kept, a copy of the "
                                     "intercept: remove it", path, None, k + 3)
                for level in levels[1:]:
                    blocks.append((values[column].astype(str) == level).to_numpy()[:, None] * 1.0)
                    names.append(f"{column}={level}")
                    sources.append((path, k + 3))
    counts["kept"] = int(keep.sum())
    if not keep.any():
        raise InputError("no sample has a phenotype and all covariates", pheno.attrs.get("path"))
    if counts["kept"] < MIN_SAMPLES:
        dropped = ", ".join(f"{reason} {n}" for reason, n in counts.items() if n and reason not in
                            ("genotyped samples", "kept"))
        raise InputError(f"only {counts['kept']} sample has a phenotype and all covariates "
                         f"(of {counts['genotyped samples']} genotyped"
                         + (f"; dropped: {dropped}" if dropped else "") + "): an analysis "
                         f"needs at least {MIN_SAMPLES}", pheno.attrs.get("path"))
    design = np.hstack(blocks)[keep]
    check_design(design, names, sources)
    index = np.flatnonzero(keep)
    samples = genotypes_samples.iloc[index][["fid", "iid"]].reset_index(drop=True)
    return AlignedSamples(index, samples, y[keep], design, names, counts)


MIN_SAMPLES = 2
"""Fewest samples :func:`align_samples` lets through (a variance needs two)."""

COLLINEAR_TOL = 1e-4
"""Smallest share of a covariate's standard deviation that the intercept and the covariates
before it may leave unexplained (:func:`check_design`)."""


def check_design(design: np.ndarray, names: list, sources: list, *,
                 tol: float = COLLINEAR_TOL) -> None:
    """Refuse a fixed-effect design whose covariates cannot be estimated separately.

    Parameters
    ----------
    design : (n, p) float64, column 0 the intercept, then covariates, over the samples kept.
    names : the p column names (``qcovar1``, ``covar1=b``, ...).
    sources : per column, ``(file, 1-based column in that file)``; ``(None, None)`` for the
        intercept.
    tol : a covariate whose part not explained by the intercept and the covariates before it
        (the residual of their least-squares fit) has a standard deviation below ``tol``
        times its own is refused.

    Column by column (the order of the files), as R's ``lm`` aliases columns, but with a
    stricter tolerance than R's 1e-7: below 1e-4 the remainder is of the size of the rounding
    of the values in a text file, and the posterior SD of the coefficient is inflated more
    than 10,000-fold (a flat-prior coefficient's SD is sigma_e / (remainder SD x sqrt(n))),
    so .covRes would report huge, meaningless effects. Constant columns (a copy of the
    intercept) are refused first. Raises :class:`InputError` naming the covariate, its file
    and column, and the columns it duplicates; no column is dropped silently.
    """
    x = design[:, 1:]
    for j in range(x.shape[1]):
        if np.ptp(x[:, j]) == 0:
            path, column = sources[j + 1]
            raise InputError(f"covariate {names[j + 1]} is constant ({x[0, j]:g}) over the "
                             f"{len(x)} samples kept, a copy of the intercept: remove it",
                             path, None, column)
    if not x.shape[1]:
        return
    mean = x.mean(axis=0)
    gram = np.zeros((x.shape[1], x.shape[1]))
    for start in range(0, len(x), 1 << 16):  # centred Gram matrix without an n x p copy
        centred = x[start:start + (1 << 16)] - mean
        gram += centred.T @ centred
    sd = np.sqrt(np.diag(gram))
    corr = gram / np.outer(sd, sd)
    chol = np.zeros_like(corr)
    for j in range(len(corr)):  # Cholesky row by row: chol[j, j]^2 = unexplained share
        row = (np.linalg.solve(chol[:j, :j], corr[:j, j]) if j else np.zeros(0))
        remainder = math.sqrt(max(corr[j, j] - row @ row, 0.0))
        if remainder < tol:
            coef = np.linalg.lstsq(corr[:j, :j], corr[:j, j], rcond=None)[0]
            involved = [names[k + 1] for k in np.flatnonzero(np.abs(coef) >= 1e-3 * np.abs(coef).max())]
            path, column = sources[j + 1]
            how = ("exactly" if remainder < 1e-12 else
                   f"up to a rest of {remainder:.2g} of its SD (below {tol:g})")
            raise InputError(
                f"covariate {names[j + 1]} is a linear combination of the intercept and "
                f"{', '.join(involved)} over the {len(x)} samples kept, {how}: their "
                "coefficients cannot be estimated separately; remove one of them",
                path, None, column)
        chol[j, :j] = row
        chol[j, j] = remainder
