"""MiXeR-style JSON views of univariate fits (the ArviZ DataTree view:
:mod:`bayesmix.inference.mle_datatree`; :func:`bayesmix.io.netcdf.write_netcdf` writes it).

Fit JSON (``fit1``), MiXeR's field names where they exist::

    {"analysis": "univariate", "method": "convolve",
     "params": {"pi", "sig2_beta", "sig2_zero"},          # natural ML estimates
     "se": {...},                                          # delta-method SEs of params
     "ci": {"pi"|"sig2_beta"|"sig2_zero"|"h2"|"nc"|"nc@p9":
            {"point", "mean", "median", "std", "lower", "upper"}},   # 1,000 draws
     "loglik", "cost" (= -loglik), "AIC", "BIC",           # AIC/BIC: infinitesimal minus
     "criteria": {...},                                    #   mixture (> 0 favours mixture)
     "optimize": [[step_name, {params, loglik, cost, optimizer, n_evals, seconds, trace}]],
     "options": {...}, "n_tags", "n_ref", "sum_weights", "sum_het", "bayesmix_version"}

Test JSON (``test1``): ``params`` plus ``qqplot`` (:func:`bayesmix.plots.mixer.qq_curves`),
``qqplot_bins`` (3x3, MAF x LD score) and ``power`` (``nvec``, ``svec``).
"""

from __future__ import annotations

import json
import math

import numpy as np

from bayesmix import __version__
from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open, json_types

PARAM_KEYS = ("pi", "sig2_beta", "sig2_zero")


def _strict(value):
    """JSON types with NaN/inf as None (the fit files are strict JSON)."""
    return json_types(value, finite=True)


def univariate_fit_json(fit, *, options: dict | None = None, include_trace: bool = True) -> dict:
    """The fit JSON of a :class:`bayesmix.inference.mle.UnivariateFit` (module docstring)."""
    steps = []
    for step in fit.steps:
        d = step.to_dict()
        if not include_trace:
            d.pop("trace")
        steps.append([step.name, d])
    return _strict({
        "analysis": "univariate", "method": fit.method, "params": fit.params, "se": fit.se,
        "ci": fit.ci, "loglik": fit.loglik, "cost": -fit.loglik,
        "AIC": fit.criteria["AIC"], "BIC": fit.criteria["BIC"], "criteria": fit.criteria,
        "optimize": steps, "options": {**fit.options, **(options or {})},
        "cov_free": fit.cov_free, "free_coordinates": ["logit pi", "log sig2_beta",
                                                         "log sig2_zero"],
        "n_tags": fit.n_tags, "n_ref": fit.n_ref, "sum_weights": fit.sum_weights,
        "sum_het": fit.sum_het, "bayesmix_version": __version__,
    })


def univariate_test_json(data, params, maf=None, *, options: dict | None = None,
                         qq_method: str = "convolve", steps=()) -> dict:
    """Q-Q, stratified Q-Q (when ``maf`` is given) and power curve at ``params`` (dict);
    ``qq_method``: model tails from the exact convolve likelihood or the fast moments;
    ``steps``: records of the steps that changed the loaded parameters (``inflation``)."""
    from bayesmix.plots.mixer import power_data, qq_curves, stratified_qq

    theta = [params[k] for k in PARAM_KEYS]
    out = {"analysis": "univariate-test", "params": dict(params), "options": options or {},
           "qqplot": qq_curves(data, theta, method=qq_method),
           "power": power_data(data, theta), "qq_method": qq_method,
           "n_tags": data.n_tags, "bayesmix_version": __version__,
           "fit_sequence": ["load", *(step["step"] for step in steps)], "steps": list(steps)}
    if maf is not None:
        out["qqplot_bins"] = stratified_qq(data, theta, maf, method=qq_method)
    return _strict(out)


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON atomically."""
    with atomic_open(path, "wt") as fh:
        json.dump(_strict(obj), fh, indent=1)
        fh.write("\n")


def read_json(path):
    """The JSON document at ``path``; InputError naming the file (and the line and column
    of a syntax error)."""
    try:
        with open(path, "rt") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path, exc.lineno, exc.colno) from None


def read_params(path, *, trait_file=None, trait_option: str = "") -> dict:
    """``params`` (pi, sig2_beta, sig2_zero) of a MiXeR or bayesmix univariate fit JSON.

    Another analysis's JSON (a test or a bivariate fit) is refused. With ``trait_file`` (the
    statistics the params are about to be used with, given as ``trait_option``), a bayesmix
    fit that recorded the digest of its own statistics (``trait_sha256``) must have been
    fitted to that file's content: fit2 with swapped params files, or those of another trait,
    otherwise runs to a wrong overlap without a word."""
    doc = read_json(path)
    analysis = doc.get("analysis") if isinstance(doc, dict) else None
    if analysis not in (None, "univariate"):
        raise InputError(f"a {analysis!r} result, not a univariate fit (fit1's OUT.json)", path)
    if trait_file is not None and isinstance(doc, dict):
        check_fitted_trait(path, doc.get("trait_sha256"), doc.get("trait_file"), trait_file,
                           trait_option)
    params = doc.get("params") if isinstance(doc, dict) else None
    if not isinstance(params, dict):
        if isinstance(doc, dict) and doc.get("format") == "bayesmix-mixer-combined-1":
            raise InputError("a combination of replicate fits has no 'params': use one "
                             "replicate's fit (OUT.repk.json; fit2 --replicates takes "
                             "OUT.rep@.json)", path)
        raise InputError("no 'params' object (expected a univariate fit JSON)", path)
    out = {}
    for key in PARAM_KEYS:
        value = params.get(key)
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InputError(f"params.{key} must be a positive number, found {value!r}", path)
        out[key] = float(value)
    if out["pi"] > 1:
        raise InputError(f"params.pi must be <= 1, found {out['pi']}", path)
    return out


def check_fitted_trait(path, recorded_sha256, recorded_file, trait_file,
                       trait_option: str) -> None:
    """InputError unless ``trait_file`` (given as ``trait_option``) has the content digest a
    fit JSON ``path`` recorded of the statistics it was fitted to (``recorded_sha256``, of
    ``recorded_file``); nothing to check when none was recorded (MiXeR's own JSON)."""
    if recorded_sha256 is None:
        return
    from bayesmix.io.digest import file_digest

    if recorded_sha256 != file_digest(trait_file):
        raise InputError(f"this fit is of {recorded_file}, whose content differs from "
                         f"{trait_file} ({trait_option}): the params files of the other "
                         f"trait, or swapped?", path)


def write_univariate_test(data, maf, params, out, *, options=None,
                          qq_method: str = "convolve", steps=()) -> dict:
    """test1's outputs: OUT.json (Q-Q, stratified Q-Q and power-curve data of the fitted
    ``params`` on ``data``; ``maf`` per tag SNP) and the figures OUT.qq, OUT.qqbins,
    OUT.power (.png and .pdf). Returns the JSON document."""
    from bayesmix.plots.mixer import plot_power, plot_qq, plot_stratified_qq

    doc = univariate_test_json(data, params, maf, options=options or {}, qq_method=qq_method,
                               steps=steps)
    write_json(f"{out}.json", doc)

    def arrays(d):
        return {k: np.array(v, dtype=float) if isinstance(v, list) else v for k, v in d.items()}

    plot_qq(arrays(doc["qqplot"]), f"{out}.qq")
    bins = doc["qqplot_bins"]
    plot_stratified_qq({"maf_edges": bins["maf_edges"], "ld_edges": bins["ld_edges"],
                        "panels": [[arrays(p) for p in row] for row in bins["panels"]]},
                       f"{out}.qqbins")
    plot_power(arrays(doc["power"]), f"{out}.power")
    return doc


#: option names of both front ends (and MiXeR's own JSON keys) -> one name, for comparing
#: the settings recorded in fit JSONs (:func:`recorded_settings`)
_SETTING_ALIASES = {"chr": "chr2use", "ld": "ld_file", "sequence": "fit_sequence",
                    "censor_z": "z1max", "sumstats": "trait1_file", "sumstats2": "trait2_file",
                    "prune_passes": "randprune_n", "prune_r2": "randprune_r2"}
#: the recorded settings that change a fit's estimates (of the data, then of the fit)
DATA_SETTINGS = ("chr2use", "ld_file", "ld_in_sample", "extract", "exclude", "exclude_ranges")
FIT_SETTINGS = ("fit_sequence", "method", "optimizer", "z1max")


def recorded_settings(doc) -> dict:
    """The options recorded in a fit JSON's ``options`` under one name per setting, whichever
    front end wrote it (``--chr2use``/``--chr``/MiXeR's ``chr2use`` -> ``chr2use``, ...);
    ``chr2use`` as the list of chromosomes. Options not recorded are absent."""
    from bayesmix.prepare.mixer import parse_chromosomes

    options = doc.get("options") if isinstance(doc, dict) else None
    out = {}
    for key, value in (options if isinstance(options, dict) else {}).items():
        name = str(key).lstrip("-").replace("-", "_")
        out.setdefault(_SETTING_ALIASES.get(name, name), value)
    if isinstance(out.get("chr2use"), str):
        try:
            out["chr2use"] = parse_chromosomes(out["chr2use"])
        except InputError:
            pass
    elif isinstance(out.get("chr2use"), list):
        out["chr2use"] = [str(c) for c in out["chr2use"]]
    return out


def setting_text(option: str, value) -> str:
    """``option`` with a recorded setting as the command line gave it: ``with --chr2use 22``,
    ``with --ld-in-sample``, ``without --extract``."""
    if value is None or value is False:
        return f"without {option}"
    if value is True:
        return f"with {option}"
    if isinstance(value, list):
        value = ",".join(map(str, value)) if option == "--chr2use" else " ".join(map(str, value))
    return f"with {option} {value}"
