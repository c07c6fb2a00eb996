"""MiXeR-style JSON of a bivariate fit (``fit2``/``test2``): parameters, derived quantities
with SEs, Venn counts, model comparison and the fit-sequence trace.

Layout (keys as in MiXeR's bivariate JSON where one exists):

- ``params``: the 9 natural parameters (pi1/pi2 unique and pi12 shared fractions of the
  reference SNPs, per-allele sig2_beta, rho12 = rho_beta, sig2_zero, rho0 = rho_zero);
- ``univariate``: the fixed univariate (pi, sig2_beta, sig2_zero) of each trait;
- ``ci``: derived quantities (rg, dice, nc1/nc2/nc12 and ``@p9``, h2_T1/h2_T2, ...), each with
  ``point``, ``mean``, ``median``, ``std`` (the SE), ``lower``/``upper`` (95%);
- ``venn``: counts of unique/shared causal variants, total and explaining 90% of h2, with SEs;
- ``criteria``: AIC/BIC of best vs infinitesimal, minimal- and maximal-overlap models;
- ``optimize``: each step of the fit sequence; ``options``, ``n_tags``, ``n_ref``, ...

:func:`pairs_table` turns several fits into a table like MiXeR's Table 1.
"""

from __future__ import annotations

import json

from bayesmix import __version__
from bayesmix.errors import InputError
from bayesmix.inference.mle_bivariate import venn_counts
from bayesmix.report.mixer_json import write_json

FORMAT = "bayesmix-mixer-bivariate-1"


def fit_to_dict(fit, *, trait_names=("trait1", "trait2"), extra: dict | None = None) -> dict:
    """Dict of a :class:`~bayesmix.inference.mle_bivariate.BivariateFit` in the layout of the
    module docstring (numpy values; :func:`write_fit_json` makes them JSON-safe)."""
    record = {
        "format": FORMAT,
        "analysis": "fit2",
        "method": fit.method,
        "trait_names": list(trait_names),
        "params": fit.params,
        "univariate": {"trait1": vars(fit.uni1), "trait2": vars(fit.uni2)},
        "loglik": fit.loglik,
        "cost": -fit.loglik,
        "rg": fit.rg,
        "ci": fit.ci,
        "venn": venn_counts(fit.ci),
        "criteria": fit.criteria,
        "optimize": [[step.name, step.to_dict()] for step in fit.steps],
        "options": fit.options,
        "n_tags": fit.n_tags,
        "n_ref": fit.n_ref,
        "sum_weights": fit.sum_weights,
        "sum_het": fit.sum_het,
        "u_hat": fit.u_hat,
        "cov_free": fit.cov_free,
        "scales": {"sig2_beta": "per-allele effect variance (phenotype variance 1)",
                   "pi": "fraction of the n_ref reference SNPs",
                   "nc": "number of causal reference SNPs"},
        "free_coordinates": ["logit share", "erfinv rho12", "erfinv rho0"],
        "bayesmix_version": __version__,
    }
    if extra:
        record.update(extra)
    return record


def write_fit_json(path, fit, **kwargs) -> None:
    """Write :func:`fit_to_dict` atomically to ``path`` (NaN/inf become null)."""
    write_json(path, fit_to_dict(fit, **kwargs))


def read_fit_json(path) -> dict:
    """Read a fit2 JSON written by :func:`write_fit_json` (checks its format tag)."""
    try:
        with open(path) as fh:
            record = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path, exc.lineno, exc.colno) from None
    if record.get("format") != FORMAT:
        raise InputError(f"not a bayesmix bivariate fit (format {record.get('format')!r}, "
                         f"expected {FORMAT!r})", path, 1)
    for key in ("params", "univariate"):
        if key not in record:
            raise InputError(f"missing key {key!r}", path, 1)
    return record


#: column-name suffix of the causal-variant counts in each unit :func:`pairs_table` offers
COUNT_UNITS = {1.0: "", 1000.0: "_thousands"}


def pairs_table(records, *, counts: str = "p9", scale: float = 1000.0):
    """A table like MiXeR's Table 1 (Frei et al. 2019) from several fit2 records (dicts of
    :func:`read_fit_json`): one row per trait pair with unique/shared causal variants
    (``counts`` = "p9" for those explaining 90% of h2 or "total") in units of ``scale``,
    named in the columns (``n1_thousands`` ... for 1000, :data:`COUNT_UNITS`), and their
    SEs, the shared share of each trait, dice, rho_beta, rg, rho_zero.

    Returns a pandas DataFrame.
    """
    import pandas as pd

    if scale not in COUNT_UNITS:
        raise ValueError(f"scale must be one of {sorted(COUNT_UNITS)}, not {scale}")
    unit = COUNT_UNITS[scale]
    rows = []
    for record in records:
        venn = record["venn"][counts]
        ci = record["ci"]
        names = record.get("trait_names", ["trait1", "trait2"])
        row = {"trait1": names[0], "trait2": names[1]}
        for key in ("n1", "n12", "n2"):
            row[f"{key}{unit}"] = venn[key]["count"] / scale
            row[f"{key}{unit}_se"] = None if venn[key]["se"] is None else venn[key]["se"] / scale
        for key in ("pi12_over_pi1u", "pi12_over_pi2u", "dice", "rho_beta", "rg", "rho_zero"):
            row[key] = ci[key]["point"]
            row[f"{key}_se"] = ci[key]["std"]
        rows.append(row)
    return pd.DataFrame(rows)
