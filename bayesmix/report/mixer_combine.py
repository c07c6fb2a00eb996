"""Replicate fits combined (MiXeR's ``mixer_figures.py combine``): mean and SD over replicates.

MiXeR's workflow fits the same trait (or pair) on 20 random LD-pruned subsets of tag SNPs and
reports the spread of the estimates over those fits. :func:`combine_fits` reads the fit JSONs
(``fit1``'s univariate or ``fit2``'s bivariate files of bayesmix, or MiXeR's own), and for
every parameter and derived quantity (the point estimate of each ``ci`` entry: univariate h2,
nc, nc@p9, pi, sig2_beta, sig2_zero; bivariate rg, rho_beta (rho12), rho_zero, pi1, pi2, pi12,
nc1, nc2, nc12, dice, h2_T1, h2_T2, ...; plus ``params``, the log-likelihood and the AIC/BIC
differences) gives

- ``mean``, ``std`` (numpy's ``np.std``, divisor n, as MiXeR's combine), ``median``,
  ``min``, ``max`` over the replicates, and
- ``values``: the per-replicate values, in the order of ``replicates``.

Combined JSON (``FORMAT``)::

    {"format": "bayesmix-mixer-combined-1", "analysis": "univariate" | "bivariate",
     "replicates": [paths], "n_replicates": N, "ci": {quantity: {mean, std, median, min,
     max, n, values}}, "trait_files": [the first fit's statistics], "bayesmix_version"}

:func:`write_combined` writes it with a table ``OUT.csv`` (one row per quantity: mean, std,
median, min, max, then one column per replicate) and the figure ``OUT.replicates``
(:func:`bayesmix.plots.mixer.plot_replicates`).
"""

from __future__ import annotations

import glob
import math
import re
from pathlib import Path

import numpy as np

from bayesmix import __version__
from bayesmix.errors import InputError
from bayesmix.report.mixer_json import read_json

FORMAT = "bayesmix-mixer-combined-1"
#: quantities of the figure, per analysis (those present are drawn)
FIGURE_KEYS = {"univariate": ("h2", "nc", "pi", "sig2_zero"),
               "bivariate": ("rg", "dice", "nc12", "rho_beta")}
#: per-fit scalars combined besides ``params`` and ``ci`` (univariate; bivariate criteria)
_UNIVARIATE_SCALARS = ("loglik", "AIC", "BIC")
_BIVARIATE_CRITERIA = ("best_vs_minimal_overlap_AIC", "best_vs_minimal_overlap_BIC",
                       "best_vs_maximal_overlap_AIC", "best_vs_maximal_overlap_BIC")


def replicate_paths(pattern: str, replicates=None) -> list[str]:
    """The files of ``pattern`` with ``@`` standing for the replicate number.

    ``replicates``: the numbers to read (e.g. ``range(1, 21)``); every one must exist. None:
    every file matching the pattern with a positive integer in place of ``@``; the numbers
    must then run 1..N without a gap (a gap means a replicate failed or is still running).
    """
    pattern = str(pattern)
    if "@" not in pattern:
        raise InputError("--json needs '@' standing for the replicate number (e.g. "
                         "T.fit.rep@.json)", pattern)
    if replicates is not None:
        paths = [pattern.replace("@", str(k)) for k in replicates]
        missing = [p for p in paths if not Path(p).is_file()]
        if missing:
            raise InputError(f"{len(missing)} of the {len(paths)} replicate files do not "
                             f"exist: {', '.join(missing[:5])}"
                             + (" ..." if len(missing) > 5 else ""), missing[0])
        return paths
    head, _, tail = pattern.partition("@")
    if "@" in tail:
        raise InputError("--json has more than one '@'", pattern)
    number = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail))
    found = {}
    for path in glob.glob(glob.escape(head) + "*" + glob.escape(tail)):
        match = number.fullmatch(path)
        if match and int(match.group(1)) > 0:
            found[int(match.group(1))] = path
    if not found:
        raise InputError("no file matches (with '@' a replicate number 1, 2, ...)", pattern)
    gaps = sorted(set(range(1, max(found) + 1)) - set(found))
    if gaps:
        raise InputError(f"replicate(s) {', '.join(map(str, gaps))} of 1-{max(found)} are "
                         "missing (failed or unfinished?); rerun them or name the ones to "
                         "combine with --rep2use", pattern.replace("@", str(gaps[0])))
    return [found[k] for k in sorted(found)]


def parse_replicates(text: str) -> list[int]:
    """``"1-20"``, ``"1,3,5-7"`` -> replicate numbers (MiXeR's ``--rep2use``)."""
    numbers = []
    for part in str(text).replace(",", " ").split():
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()) or int(first) < 1 or (
                last and int(last) < int(first)):
            raise InputError(f"--rep2use: cannot read {part!r} (expected e.g. 1-20 or 1,3,5-7)")
        numbers.extend(range(int(first), int(last or first) + 1))
    if not numbers:
        raise InputError("--rep2use is empty")
    return list(dict.fromkeys(numbers))


def read_fit_record(path) -> tuple[str, dict]:
    """(``"univariate"`` or ``"bivariate"``, the quantities of one fit JSON: name -> value).

    Reads bayesmix's fit1/fit2 JSON and MiXeR's (``ci`` entries with ``point_estimate``).
    """
    doc = read_json(path)
    kind = doc.get("analysis") if isinstance(doc, dict) else None
    kind = {"univariate": "univariate", "fit2": "bivariate", "bivariate": "bivariate"}.get(kind)
    if kind is None or not isinstance(doc.get("ci"), dict) or not doc["ci"]:
        what = doc.get("format") or doc.get("analysis") if isinstance(doc, dict) else None
        raise InputError("not a fit1/fit2 result (expected a JSON with 'analysis' "
                         f"univariate/bivariate and a 'ci' block; found {what!r})", path)
    values = {}
    for key, value in (doc.get("params") or {}).items():
        _put(values, key, value)
    for key, entry in doc["ci"].items():
        if isinstance(entry, dict):
            _put(values, key, entry.get("point", entry.get("point_estimate")))
    scalars = ({k: doc.get(k) for k in _UNIVARIATE_SCALARS} if kind == "univariate" else
               {"loglik": doc.get("loglik"),
                **{k: (doc.get("criteria") or {}).get(k) for k in _BIVARIATE_CRITERIA}})
    for key, value in scalars.items():
        _put(values, key, value)
    return kind, values


def _put(values: dict, key, value) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        values.setdefault(str(key), float(value))


def _identity(path) -> dict:
    """What must be the same in replicate fits of one analysis: the statistics fitted (their
    content digests where recorded, ``trait_sha256``; else the recorded trait files) and
    the recorded settings that change the estimates (:func:`_differences`)."""
    from bayesmix.report.mixer_json import DATA_SETTINGS, FIT_SETTINGS, recorded_settings

    doc = read_json(path)
    settings = recorded_settings(doc)
    digests = doc.get("trait_sha256")
    if isinstance(digests, str):
        digests = [digests]
    files = doc.get("trait_files") or doc.get("trait_file")
    if files is None:
        files = [settings[k] for k in ("trait1_file", "trait2_file") if k in settings]
    if isinstance(files, str):
        files = [files]
    if isinstance(settings.get("extract"), str):
        # replicates are fitted to their own subsets (T.rep1.snps, T.rep2.snps, ...)
        settings["extract"] = re.sub(r"\d+", "#", settings["extract"])
    return {"digests": digests, "files": [f for f in files if f is not None],
            "settings": {k: settings[k] for k in DATA_SETTINGS + FIT_SETTINGS
                         if k in settings}}


def _p9_definition(path) -> str:
    """Which ``@p9`` counts a fit JSON holds: MiXeR's (0.319 times the causal count; MiXeR's
    own JSONs, and bayesmix-mixer's, which keep bayesmix's as ``X@p9_het``) or bayesmix's
    (the share solved from the reference's heterozygosities: the native ``bayesmix mixer``,
    and bayesmix-mixer before it followed MiXeR)."""
    doc = read_json(path)
    own = "bayesmix_version" in doc and not any(str(k).endswith("@p9_het") for k in doc["ci"])
    return ("bayesmix's (from the reference's heterozygosities)" if own
            else "MiXeR's (0.319 x the causal count)")


def _differences(first: dict, other: dict) -> str | None:
    """How the fit of identity ``other`` (:func:`_identity`) differs from ``first``: other
    statistics, or the first differing setting; None when they agree as far as recorded."""
    from bayesmix.report.mixer_json import setting_text

    if first["digests"] and other["digests"]:
        if first["digests"] != other["digests"]:
            return (f"it is of other summary statistics ({', '.join(other['files'])}, content "
                    f"differing from {', '.join(first['files'])})")
    elif first["files"] and other["files"] and first["files"] != other["files"]:
        return (f"it is of other summary statistics ({', '.join(other['files'])}, not "
                f"{', '.join(first['files'])})")
    for key, value in first["settings"].items():
        if key in other["settings"] and other["settings"][key] != value:
            option = f"--{key.replace('_', '-')}"
            return (f"it was made {setting_text(option, other['settings'][key])}, the first "
                    f"{setting_text(option, value)}")
    return None


def combine_fits(paths) -> dict:
    """The combined record of the fit JSONs ``paths`` (module docstring).

    Refused: no path, univariate and bivariate fits mixed, fits whose ``nc@p9`` counts
    differ in definition (:func:`_p9_definition`), fits of different summary
    statistics (by the content digests recorded, else the trait files) or made with
    different settings that change the estimates (chromosomes, LD, --ld-in-sample,
    --extract other than the replicate number, --exclude, --exclude-ranges, the fit
    sequence, censoring), and the same fit twice.
    """
    paths = [str(p) for p in paths]
    if not paths:
        raise InputError("no replicate fit to combine")
    records = [read_fit_record(p) for p in paths]
    kinds = {kind for kind, _ in records}
    if len(kinds) > 1:
        first = {kind: p for p, (kind, _) in zip(paths, records)}
        raise InputError("univariate and bivariate fits cannot be combined: "
                         + ", ".join(f"{p} is {k}" for k, p in first.items()), paths[0])
    counts = [_p9_definition(p) for p in paths]
    for k, path in enumerate(paths[1:], start=1):
        if counts[k] != counts[0]:
            raise InputError(f"its nc@p9 counts are {counts[k]}, those of {paths[0]} "
                             f"{counts[0]}: combine fits of one command", path)
    identities = [_identity(p) for p in paths]
    for k, path in enumerate(paths[1:], start=1):
        how = _differences(identities[0], identities[k])
        if how:
            raise InputError(f"not a replicate of the same fit as {paths[0]}: {how}", path)
        same = next((paths[j] for j in range(k) if records[j][1] == records[k][1]), None)
        if same is not None:
            raise InputError(f"the same fit as {same} (every estimate equal): a replicate "
                             "given twice?", path)
    names = list(dict.fromkeys(k for _, values in records for k in values))
    ci = {}
    for name in names:
        column = [values.get(name, math.nan) for _, values in records]
        present = np.array([v for v in column if math.isfinite(v)], dtype=np.float64)
        if len(present) == 0:
            continue
        ci[name] = {"mean": float(np.mean(present)), "std": float(np.std(present)),
                    "median": float(np.median(present)), "min": float(np.min(present)),
                    "max": float(np.max(present)), "n": int(len(present)),
                    "values": [v if math.isfinite(v) else None for v in column]}
    return {"format": FORMAT, "analysis": kinds.pop(), "replicates": paths,
            "n_replicates": len(paths), "ci": ci, "trait_files": identities[0]["files"],
            "bayesmix_version": __version__}


def combined_as_fit_record(combined: dict) -> dict:
    """A bivariate combination as the fields of a fit2 record that
    :func:`bayesmix.report.mixer_bivariate_json.pairs_table` reads: each quantity's mean
    over the replicates as its point estimate and their SD (MiXeR's error over replicates)
    as its standard error; the p9 Venn counts from ``nc1@p9``, ``nc12@p9``, ``nc2@p9``."""
    ci = combined["ci"]
    nan = {"mean": math.nan, "std": math.nan}
    venn = {key: {"count": ci.get(f"nc{part}@p9", nan)["mean"],
                  "se": ci.get(f"nc{part}@p9", nan)["std"]}
            for key, part in (("n1", "1"), ("n12", "12"), ("n2", "2"))}
    return {"trait_names": list(combined.get("trait_files") or ["trait1", "trait2"]),
            "venn": {"p9": venn},
            "ci": {k: {"point": e["mean"], "std": e["std"]} for k, e in ci.items()}}


def combined_table(combined: dict):
    """One row per quantity: mean, std, median, min, max, n, then rep1..repN (a DataFrame)."""
    import pandas as pd

    rows = []
    for name, entry in combined["ci"].items():
        row = {"quantity": name, **{k: entry[k] for k in ("mean", "std", "median", "min",
                                                           "max", "n")}}
        row.update({f"rep{k + 1}": v for k, v in enumerate(entry["values"])})
        rows.append(row)
    return pd.DataFrame(rows)


def write_combined(out, combined: dict, *, figure: bool = True) -> list[str]:
    """OUT.json, OUT.csv (:func:`combined_table`, tab-separated) and, with ``figure``, the
    replicates' spread OUT.replicates.{png,pdf}; returns the paths written."""
    from bayesmix.io.files import atomic_path
    from bayesmix.report.mixer_json import write_json

    write_json(f"{out}.json", combined)
    with atomic_path(f"{out}.csv") as tmp:
        combined_table(combined).to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    paths = [f"{out}.json", f"{out}.csv"]
    if figure:
        from bayesmix.plots.mixer import plot_replicates

        keys = [k for k in FIGURE_KEYS[combined["analysis"]] if k in combined["ci"]]
        paths += plot_replicates(combined["ci"], keys, f"{out}.replicates")
    return paths


def combined_summary(combined: dict) -> str:
    """One line: mean (SD) over the replicates of the headline quantities."""
    keys = (("h2", "nc", "pi", "sig2_zero") if combined["analysis"] == "univariate"
            else ("rg", "dice", "nc12", "rho_beta", "rho_zero"))
    total = combined["n_replicates"]
    parts = [f"{k} {entry['mean']:.4g} (SD {entry['std']:.2g}"
             + (f", {entry['n']} of the {total} finite" if entry.get("n", total) < total else "")
             + ")" for k, entry in ((k, combined["ci"][k]) for k in keys if k in combined["ci"])]
    return f"mean over {combined['n_replicates']} replicates: " + ", ".join(parts)
