"""Maximum-likelihood MiXeR fits as ArviZ data: one ``xarray.DataTree`` per fit.

The MiXeR JSON (:mod:`bayesmix.report.mixer_json`, :mod:`bayesmix.report.mixer_bivariate_json`)
is another view of the same result. Group layout (univariate and bivariate alike):

- ``fit``: point estimates. Univariate: one scalar per parameter (pi, sig2_beta, sig2_zero)
  plus ``{name}_se`` (delta-method SE) and ``loglik``. Bivariate: ``estimate`` over dimension
  ``parameter`` (the 9 natural parameters), ``univariate`` over (``trait``,
  ``univariate_parameter``) (the fixed univariate fits), ``rg``, ``share`` and ``loglik``.
- ``summary``: every quantity of the JSON's ``ci`` (parameters and derived: h2, nc, nc@p9;
  bivariate rg, dice, Venn counts, ...) over dimension ``quantity``, with ``point``,
  ``mean``, ``median``, ``std`` (the SE), ``lower``/``upper`` (2.5%, 97.5% quantiles).
- ``asymptotic_draws``: the draws of the asymptotic normal of the free parameters behind
  ``summary``, with ArviZ's sample dimensions (``chain`` = 1, ``draw``); variable names
  replace "@" by "_at_" (nc@p9 -> nc_at_p9). Not a Bayesian posterior (that is the
  ``posterior`` group a NUTS run adds), but ArviZ functions accept it, e.g.
  ``az.summary(tree["asymptotic_draws"])``.
- ``covariance``: ``estimate_free`` and ``cov_free`` (inverse observed information) over
  ``free_parameter`` (and ``free_parameter_2``): univariate (logit pi, log sig2_beta,
  log sig2_zero), bivariate (logit share, erfinv rho12, erfinv rho0).
- ``criteria``: ``loglik``, ``k``, ``aic``, ``bic`` over dimension ``model``; univariate
  ``AIC``/``BIC`` = infinitesimal minus mixture, bivariate ``aic_vs_best``/``bic_vs_best``
  = that model's criterion minus the best model's (positive favours the best model).
- ``venn`` (bivariate): ``count`` and ``se`` over (``counting`` = total, p9; ``component``
  = n1, n12, n2, total).
- ``optimize/step_<i>``: step i of the fit sequence, attributes name, method, optimizer,
  n_evals, seconds, loglik; ``params`` over ``step_parameter``; ``trace`` over
  (``evaluation``, ``trace_column``): the log-likelihood then the optimiser's coordinates at
  each evaluation (rows shorter than the widest are NaN-padded).
- root attributes: method, n_tags, n_ref, sum_weights, sum_het, bayesmix_version and the
  fit's options as JSON text (``options``).

Scales: pi's are fractions of the ``n_ref`` reference SNPs, sig2_beta per-allele effect
variances (phenotype variance 1), counts are numbers of causal reference SNPs.
"""

from __future__ import annotations

import json

import numpy as np

from bayesmix.io.files import json_types

SUMMARY_FIELDS = ("point", "mean", "median", "std", "lower", "upper")


def draw_name(name: str) -> str:
    """A quantity's variable name in ``asymptotic_draws`` (netCDF-safe)."""
    return name.replace("@", "_at_")


def _summary(ci: dict):
    import xarray as xr

    names = list(ci)
    return xr.Dataset(
        {field: ("quantity", np.array([_number(ci[n].get(field)) for n in names]))
         for field in SUMMARY_FIELDS},
        coords={"quantity": names},
        attrs={"description": "point estimate and summaries of the asymptotic-normal draws; "
                              "std is the standard error, lower/upper the 95% interval"})


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def _draws(draws: dict):
    import xarray as xr

    kept = {k: np.asarray(v, dtype=float) for k, v in draws.items() if np.size(v)}
    return xr.Dataset(
        {draw_name(k): (("chain", "draw"), v[None, :]) for k, v in kept.items()},
        coords={"chain": [0], "draw": np.arange(len(next(iter(kept.values()))))},
        attrs={"description": "draws of the asymptotic normal of the free parameters at the "
                              "ML estimate (inverse observed information), mapped to natural "
                              "and derived quantities; not a Bayesian posterior"})


def _covariance(u_hat, cov, free_names):
    import xarray as xr

    cov = np.asarray(cov, dtype=float)
    return xr.Dataset(
        {"estimate_free": ("free_parameter", np.asarray(u_hat, dtype=float)),
         "cov_free": (("free_parameter", "free_parameter_2"), cov)},
        coords={"free_parameter": list(free_names), "free_parameter_2": list(free_names)},
        attrs={"description": "ML estimate in the free coordinates and its covariance, the "
                              "inverse observed Fisher information (NaN when not positive "
                              "definite)"})


def _criteria(models: dict, extra: dict):
    import xarray as xr

    names = list(models)
    data = {field: ("model", np.array([_number(models[m].get(field)) for m in names]))
            for field in ("loglik", "k", "aic", "bic")}
    data.update(extra)
    return xr.Dataset(data, coords={"model": names})


def _steps(steps) -> dict:
    import xarray as xr

    out = {}
    for i, step in enumerate(steps):
        rows = [list(map(float, row)) for row in step.trace]
        width = max((len(r) for r in rows), default=1)
        trace = np.full((len(rows), width), np.nan)
        for j, row in enumerate(rows):
            trace[j, :len(row)] = row
        names = list(step.params)
        out[f"optimize/step_{i}"] = xr.Dataset(
            {"params": ("step_parameter", np.array([float(step.params[n]) for n in names])),
             "trace": (("evaluation", "trace_column"), trace)},
            coords={"step_parameter": names},
            attrs={"name": step.name, "method": step.method, "optimizer": step.optimizer,
                   "n_evals": int(step.n_evals), "seconds": float(step.seconds),
                   "loglik": float(step.loglik),
                   "trace_columns": "log-likelihood, then the optimiser's coordinates"})
    return out


def _root_attrs(fit, analysis: str) -> dict:
    from bayesmix import __version__

    return {"analysis": analysis, "method": fit.method, "n_tags": int(fit.n_tags),
            "n_ref": int(fit.n_ref), "sum_weights": float(fit.sum_weights),
            "sum_het": float(fit.sum_het), "bayesmix_version": __version__,
            "options": json.dumps(json_types(fit.options, finite=True))}


def univariate_datatree(fit, free_theta):
    """DataTree of a :class:`bayesmix.inference.mle.UnivariateFit` (module docstring);
    ``free_theta``: the estimate in the free coordinates of ``cov_free``."""
    import xarray as xr

    point = xr.Dataset({k: float(v) for k, v in fit.params.items()},
                       attrs={"method": fit.method,
                              "sig2_beta": "per-allele effect variance of causal variants",
                              "pi": "fraction of the n_ref reference SNPs that are causal"})
    for k, v in fit.se.items():
        point[f"{k}_se"] = float(v)
    point["loglik"] = float(fit.loglik)
    c = fit.criteria
    groups = {
        "/": xr.Dataset(attrs=_root_attrs(fit, "univariate")),
        "fit": point,
        "summary": _summary(fit.ci),
        "covariance": _covariance(free_theta, fit.cov_free,
                                  ("logit pi", "log sig2_beta", "log sig2_zero")),
        "criteria": _criteria(
            {"mixture": c["mixture"], "infinitesimal": c["infinitesimal"]},
            {"AIC": float(c["AIC"]), "BIC": float(c["BIC"]),
             "sig2_inf": float(c["infinitesimal"]["sig2_inf"]),
             "infinitesimal_sig2_zero": float(c["infinitesimal"]["sig2_zero"])}),
        **_steps(fit.steps),
    }
    if fit.draws and all(np.size(v) for v in fit.draws.values()):
        groups["asymptotic_draws"] = _draws(fit.draws)
    return xr.DataTree.from_dict(groups)


def bivariate_datatree(fit, venn: dict, profile: dict | None = None):
    """DataTree of a :class:`bayesmix.inference.mle_bivariate.BivariateFit` (module
    docstring); ``venn``: its :func:`~bayesmix.inference.mle_bivariate.venn_counts`;
    ``profile`` (:func:`~bayesmix.inference.mle_bivariate.profile_pi12`) adds a
    ``pi12_profile`` group over dimension ``share``."""
    import xarray as xr

    from bayesmix.kernels.mixer_bivariate import PARAM_NAMES

    uni_names = ("pi", "sig2_beta", "sig2_zero")
    point = xr.Dataset(
        {"estimate": ("parameter", np.array([fit.params[k] for k in PARAM_NAMES])),
         "univariate": (("trait", "univariate_parameter"),
                        np.array([[getattr(u, k) for k in uni_names]
                                  for u in (fit.uni1, fit.uni2)])),
         "rg": float(fit.rg), "share": float(fit.share), "loglik": float(fit.loglik)},
        coords={"parameter": list(PARAM_NAMES), "trait": ["trait1", "trait2"],
                "univariate_parameter": list(uni_names)},
        attrs={"method": fit.method,
               "pi": "pi1, pi2 unique and pi12 shared fractions of the n_ref reference SNPs",
               "univariate": "fixed univariate fits (pi = pi_t + pi12)"})
    models = {k: v for k, v in fit.criteria.items() if isinstance(v, dict)}
    best = models.get("best", {})
    extra = {}
    if best:
        extra = {f"{ic}_vs_best": ("model", np.array([_number(models[m].get(ic))
                                                      - _number(best.get(ic))
                                                      for m in models]))
                 for ic in ("aic", "bic")}
    counting, components = list(venn), ["n1", "n12", "n2", "total"]
    groups = {
        "/": xr.Dataset(attrs=_root_attrs(fit, "bivariate")),
        "fit": point,
        "summary": _summary(fit.ci),
        "covariance": _covariance(fit.u_hat if fit.u_hat is not None else np.full(3, np.nan),
                                  fit.cov_free, ("logit share", "erfinv rho12", "erfinv rho0")),
        "criteria": _criteria(models, extra),
        "venn": xr.Dataset(
            {field: (("counting", "component"),
                     np.array([[_number(venn[c][k][field]) for k in components]
                               for c in counting]))
             for field in ("count", "se")},
            coords={"counting": counting, "component": components},
            attrs={"description": "causal variants unique to trait 1 (n1), shared (n12), "
                                  "unique to trait 2 (n2); p9: those explaining 90% of h2"}),
        **_steps(fit.steps),
    }
    if fit.draws and all(np.size(v) for v in fit.draws.values()):
        groups["asymptotic_draws"] = _draws(fit.draws)
    if profile is not None:
        groups["pi12_profile"] = xr.Dataset(
            {k: ("share", np.asarray(profile[k], dtype=float))
             for k in ("pi12", "n12", "loglik", "rho12", "rho0")},
            coords={"share": np.asarray(profile["share"], dtype=float)},
            attrs={"objective": profile["objective"], "excess": float(profile["excess"])})
    return xr.DataTree.from_dict(groups)


def with_nuts(tree, posterior):
    """``tree`` plus the ``posterior`` and ``sample_stats`` groups of a NUTS DataTree (not its
    constant_data: it would copy z and the LD store)."""
    import xarray as xr

    groups = {path: node.to_dataset() for path, node in tree.subtree_with_keys}
    for name in ("posterior", "sample_stats"):
        if name in posterior.children:
            groups[name] = posterior[name].to_dataset()
    return xr.DataTree.from_dict(groups)
