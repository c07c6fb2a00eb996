"""The MiXeR analyses shared by ``bayesmix-mixer`` and ``bayesmix mixer``: library calls in order.

Inputs come as a :class:`~bayesmix.prepare.mixer.MixerInputs` (each front end fills it from
its own option names); fits run in :mod:`bayesmix.inference.mle` /
:mod:`bayesmix.inference.mle_bivariate`; files are written by :mod:`bayesmix.report` and
:mod:`bayesmix.plots`. Outputs:

- ``ld``: the LD folder (r^2 >= r2min; the whole chromosome or a window) of one chromosome;
- ``fit1``: OUT.json (MiXeR fields) and OUT.nc (ArviZ; with a NUTS posterior on request);
- ``test1``: OUT.json (Q-Q, stratified Q-Q, power curve) and OUT.{qq,qqbins,power}.{png,pdf};
- ``fit2``: OUT.json (parameters, rg, Venn counts with SEs, AIC/BIC, pi12 profile) and
  OUT.nc (the same fit as an ArviZ DataTree);
- ``test2``: OUT.json (conditional Q-Q), OUT.snps.tsv.gz (per-SNP shared/unique posteriors)
  and OUT.{venn,condqq,density,profile}.{png,pdf}.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("bayesmix")

#: MiXeR univariate fit-sequence names -> bayesmix steps
FIT1_ALIASES = {"diffevo-fast": "constrained", "diffevo": "constrained",
                "neldermead": "neldermead-convolve", "inflation": "infinitesimal",
                "brute1": "constrained", "brent1": "constrained"}
FIT1_STEPS = ("infinitesimal", "constrained", "fast", "full", "convolve")
DEFAULT_FIT1_SEQUENCE = ("infinitesimal", "constrained", "convolve")
#: MiXeR bivariate fit-sequence names -> bayesmix steps
FIT2_ALIASES = {"diffevo-fast": "fast", "neldermead-fast": "fast", "diffevo": "fast",
                "neldermead": "fast", "inflation": "infinitesimal", "brute1": "full",
                "brent1": "full", "brute1-fast": "fast", "brent1-fast": "fast"}
FIT2_STEPS = ("infinitesimal", "fast", "full")
DEFAULT_FIT2_SEQUENCE = ("infinitesimal", "fast", "full")


def fit1_step(token: str) -> str:
    """One univariate fit-sequence token -> a bayesmix step (argparse type; MiXeR's names are
    mapped, an optional ``neldermead-``/``lbfgs-`` prefix picks the optimiser)."""
    import argparse

    step = FIT1_ALIASES.get(token, token)
    optimiser, _, name = step.rpartition("-")
    if name not in FIT1_STEPS or optimiser not in ("", "neldermead", "lbfgs") or (
            optimiser and name in ("infinitesimal", "constrained")):
        raise argparse.ArgumentTypeError(
            f"unknown fit-sequence step {token!r}: use {', '.join(FIT1_STEPS)} (fast, full "
            f"and convolve optionally prefixed neldermead- or lbfgs-) or MiXeR's "
            f"{', '.join(sorted(FIT1_ALIASES))}")
    if step == "lbfgs-full":
        raise argparse.ArgumentTypeError("lbfgs-full: the sampled full likelihood is not "
                                         "smooth in pi; use neldermead-full")
    return step


def fit2_step(token: str) -> str:
    """One bivariate fit-sequence token -> a bayesmix step (argparse type)."""
    import argparse

    step = FIT2_ALIASES.get(token, token)
    if step not in FIT2_STEPS:
        raise argparse.ArgumentTypeError(
            f"unknown fit2 step {token!r}: use {', '.join(FIT2_STEPS)} or MiXeR's "
            f"{', '.join(sorted(FIT2_ALIASES))}")
    return step


def set_threads(threads) -> None:
    """numba threads for the likelihood kernels (None: numba's default, every core), logged."""
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(max(1, min(int(threads), limit)) if threads else limit)
    log.info("likelihood kernels on %d thread(s)", numba.get_num_threads())


#: the figures of test1 and test2 (OUT.NAME.png and OUT.NAME.pdf)
TEST1_FIGURES = ("qq", "qqbins", "power")
TEST2_FIGURES = ("venn", "condqq", "density", "profile")


def check_outputs(out, names=("json", "nc"), figures=()) -> None:
    """Refuse, before any work, an output OUT.NAME (and OUT.FIGURE.png/.pdf) that could not
    be written: a directory in the way, a read-only file
    (:func:`bayesmix.io.outputs.check_output_files`)."""
    from bayesmix.io.outputs import check_output_files

    check_output_files([f"{out}.{name}" for name in names]
                       + [f"{out}.{name}.{ext}" for name in figures for ext in ("png", "pdf")])


def _checkpoint(out, resume):
    """OUT.ckpt, refused up front when it exists and ``resume`` is not asked for (and
    ``resume`` without it warned about)."""
    from bayesmix.checkpoint import Checkpoint

    path = f"{out}.ckpt"
    Checkpoint.check_resume(path, resume)
    return path


#: ``ld`` without a window (MiXeR's --ld-window-kb 0, its default: gsa_mixer/cli.py
#: parser_ld_add_arguments, ld_matrix.cc skips the bound when it is 0): a window longer than
#: any chromosome (build_ld's r2 kind would otherwise take its 10,000 kb default)
WHOLE_CHROMOSOME_KB = 1e9


def run_ld(run_log, args, *, bfile, out, r2min, window_kb, chrom=None, threads=None,
           resume=False, fingerprint=None) -> int:
    """MiXeR's ``ld``: r^2 >= r2min within ``window_kb`` (None: the whole chromosome, as
    MiXeR's default) of one chromosome -> LD folder. ``args``: the parsed command line, for
    its Dask options (``--cluster``, ``--dask-scheduler``, ``--pieces``:
    :func:`bayesmix.cli.common.dask_client`)."""
    from bayesmix.cli.common import dask_client, dask_note, kept_on_interrupt
    from bayesmix.ld.compute import build_ld

    checkpoint = _checkpoint(out, resume)
    with kept_on_interrupt(f"the finished row blocks are kept in {checkpoint}; rerun the same "
                           "command with --resume to finish"), dask_client(args) as client:
        ld = build_ld(bfile, "r2", r2min=r2min, window_kb=window_kb or WHOLE_CHROMOSOME_KB,
                      chrom=chrom, threads=threads, progress=True, checkpoint=checkpoint,
                      resume=resume, fingerprint=fingerprint, client=client,
                      pieces=args.pieces)
    ld.save(out)
    where = f"within {window_kb:g} kb" if window_kb else "on the whole chromosome"
    run_log.say(f"ld: wrote {out}: {ld.shape[0]} SNPs, {ld.nnz} pairs with r2 >= {r2min:g} "
                f"{where} ({threads or 'default'} BLAS threads"
                f"{dask_note(args)})")
    return 0


def _say_lines(run_log, lines, prefix=""):
    for line in lines:
        run_log.say(f"{prefix}{line}")


def run_fit1(run_log, inputs, out, *, sequence, censor_z=0.0, censor_option, kmax=20000,
             n_draws=1000, nuts=0, options=None, plots_qq_method=None, resume=False,
             fingerprint=None, mixer_counts: bool = False) -> int:
    """Univariate fit -> OUT.json and OUT.nc; with ``plots_qq_method`` also test1's outputs
    under OUT.test (``bayesmix mixer fit --plots``). Finished fit stages are kept in
    OUT.ckpt when interrupted; the fit is written before an optional NUTS run starts.
    ``censor_option``: the command's name of the ``censor_z`` option, for the warnings;
    ``mixer_counts``: ``nc@p9`` as MiXeR's (:func:`with_mixer_counts`)."""
    from bayesmix.cli.common import kept_on_interrupt
    from bayesmix.inference.mle import fit_univariate
    from bayesmix.io.netcdf import write_netcdf
    from bayesmix.prepare.mixer import data_warnings

    check_outputs(out)
    if plots_qq_method is not None:
        check_outputs(f"{out}.test", ("json",), TEST1_FIGURES)
    checkpoint = _checkpoint(out, resume)
    data, maf, lines = inputs.load_univariate()
    _say_lines(run_log, lines)
    for warning in data_warnings(data, censor_option=censor_option):
        log.warning("warning: %s", warning)
    with kept_on_interrupt(f"the finished fit stages are kept in {checkpoint}; rerun the same "
                           "command with --resume to finish"):
        fit = fit_univariate(data, sequence=list(sequence), censor_z=censor_z or 0.0,
                             kmax=kmax, seed=inputs.seed, n_draws=n_draws, progress=log.info,
                             checkpoint=checkpoint, resume=resume, fingerprint=fingerprint)
    if mixer_counts:
        fit = with_mixer_counts(fit)
    tree = write_fit1(fit, out, options, trait_file=inputs.trait_files[0])
    if nuts:
        from bayesmix.models.mixer import sample_nuts

        with kept_on_interrupt(f"the fit is written ({out}.json, {out}.nc) but not the NUTS "
                               "posterior; rerun with --nuts to sample it"):
            posterior = sample_nuts(data, method="fast" if fit.method == "fast" else "convolve",
                                    censor_z=censor_z or 0.0, draws=nuts, tune=nuts, chains=2,
                                    seed=inputs.seed, start=fit.params)
        from bayesmix.inference.mle_datatree import with_nuts

        write_netcdf(with_nuts(tree, posterior), f"{out}.nc")
    run_log.say(f"fit1: {fit1_summary(fit)}")
    for warning in fit1_warnings(fit, ld_in_sample=inputs.ld_in_sample):
        log.warning("warning: %s", warning)
    run_log.say(f"wrote {out}.json and {out}.nc")
    if plots_qq_method is not None:
        _test1(run_log, data, maf, fit.params, f"{out}.test", options, plots_qq_method)
    return 0


#: MiXeR's share of the causal variants that explain 90% of h2 (``NCKoef`` of
#: precimed/bivar_mixer/utils.py, _calculate_univariate_uncertainty_funcs and
#: _calculate_bivariate_uncertainty_funcs: nc@p9 = 0.319 pi num_snp, nc12@p9 = 0.319 pi12
#: num_snp, ...), a constant where bayesmix's own share depends on the reference's H
HET_SUFFIX = "_het"
MIXER_P9_SHARE = 0.319


def with_mixer_counts(fit):
    """The fit (univariate or bivariate) with MiXeR's ``@p9`` counts: each ``X@p9`` of its
    ``ci`` (and ``draws``) becomes :data:`MIXER_P9_SHARE` times ``X`` (nc, nc1, nc2, nc12,
    total), as MiXeR reports it, and bayesmix's own count, the share solved from the
    reference's heterozygosities (:func:`bayesmix.inference.mle.causal_share_for_h2`), is
    kept as ``X@p9_het``. The summaries come from the scaled draws
    (:func:`bayesmix.inference.mle.summarize_draws`); the Venn counts follow the ``ci``."""
    import dataclasses

    import numpy as np

    from bayesmix.inference.mle import summarize_draws

    ci, draws = {}, dict(fit.draws)
    for key, entry in fit.ci.items():
        ci[key] = entry
        if not key.endswith("@p9"):
            continue
        base = key.removesuffix("@p9")
        values = MIXER_P9_SHARE * np.asarray(fit.draws.get(base, ()), dtype=float)
        ci[key] = {**summarize_draws(values if values.size else [np.nan]),
                   "point": MIXER_P9_SHARE * fit.ci[base]["point"]}
        ci[key + HET_SUFFIX] = entry
        if key in draws:
            draws[key + HET_SUFFIX], draws[key] = draws[key], values
    return dataclasses.replace(fit, ci=ci, draws=draws)


def write_fit1(fit, out, options=None, extra: dict | None = None, *, trait_file=None):
    """OUT.json (``extra`` keys added; with ``trait_file``, the statistics fitted, its path
    and content digest, ``trait_file`` and ``trait_sha256``, which fit2 checks) and OUT.nc of
    a univariate fit; returns the tree."""
    import json

    from bayesmix.io.digest import file_digest
    from bayesmix.io.files import json_types
    from bayesmix.io.netcdf import write_netcdf
    from bayesmix.report.mixer_json import univariate_fit_json, write_json

    fitted = ({} if trait_file is None else
              {"trait_file": str(trait_file), "trait_sha256": file_digest(trait_file)})
    write_json(f"{out}.json", {**univariate_fit_json(fit, options=options or {}), **fitted,
                               **(extra or {})})
    tree = fit.to_datatree()
    tree.attrs["command_options"] = json.dumps(json_types(options or {}, finite=True))
    write_netcdf(tree, f"{out}.nc")
    return tree


#: sig2_zero below this is at the optimisers' lower bound (its values are ~1 for a GWAS with
#: the right N; :data:`bayesmix.inference.mle.SIG2_ZERO_LOWER`, 1e-4, when the fit put all of
#: the z variance in the signal)
SIG2_ZERO_FLOOR = 1e-3


def fit1_warnings(fit, *, ld_in_sample: bool) -> list[str]:
    """The warnings about a univariate fit's estimates: h2 above 1, sig2_zero at its lower
    boundary (each with what it likely means) and an AIC preferring the infinitesimal model."""
    out = []
    h2 = fit.ci["h2"]["point"]
    if h2 > 1:
        out.append(f"h2 = {h2:.3g} is above 1: the N column is likely too small (h2 scales as "
                   "1/N), or the LD reference is not the GWAS sample's population or build")
    if fit.params["sig2_zero"] < SIG2_ZERO_FLOOR:
        out.append(f"sig2_zero = {fit.params['sig2_zero']:.2g} is at its lower boundary (~1 for "
                   "a GWAS with the right N): the fit has put all of the z variance in the "
                   "signal, so h2 and pi are not to be trusted; "
                   + ("check the N column (too large?)" if ld_in_sample else
                      "typically the LD is the GWAS sample's own (or the statistics were "
                      "simulated from it) and --ld-in-sample is missing, or N is wrong"))
    if fit.criteria["AIC"] < 0:
        out.append("AIC prefers the infinitesimal model: pi is not identifiable at this GWAS "
                   "power (MiXeR advises N >= 50,000); read pi/nc with their intervals")
    return out


def fit1_summary(fit) -> str:
    """One line: the parameters, h2 and nc with 95% intervals, AIC/BIC of a univariate fit."""
    ci = fit.ci
    return (f"pi={fit.params['pi']:.3g} sig2_beta={fit.params['sig2_beta']:.3g} "
            f"sig2_zero={fit.params['sig2_zero']:.4g} h2={ci['h2']['point']:.4g} "
            f"({ci['h2']['lower']:.4g}-{ci['h2']['upper']:.4g}) nc={ci['nc']['point']:.4g} "
            f"({ci['nc']['lower']:.4g}-{ci['nc']['upper']:.4g}) "
            f"AIC(inf-mix)={fit.criteria['AIC']:.2f} BIC={fit.criteria['BIC']:.2f}")


def run_test1(run_log, inputs, out, *, params_file, qq_method="convolve", options=None,
              inflation: bool = False) -> int:
    """Q-Q / stratified Q-Q / power curve of a univariate fit -> OUT.json and figures; with
    ``inflation`` (MiXeR's test1 default) at the fit's pi and sig2_beta with sig2_zero
    refitted to these tags (:func:`~bayesmix.inference.mle.refit_inflation`)."""
    from bayesmix.report.mixer_json import read_params

    check_outputs(out, ("json",), TEST1_FIGURES)
    params = read_params(params_file, trait_file=inputs.trait_files[0],
                         trait_option="the statistics of trait 1")
    data, maf, lines = inputs.load_univariate()
    _say_lines(run_log, lines)
    steps = []
    if inflation:
        from bayesmix.inference.mle import refit_inflation

        params, record = refit_inflation(data, params)
        steps.append(record)
        run_log.say(_inflation_line(record, "sig2_zero"))
    _test1(run_log, data, maf, params, out, options, qq_method, steps)
    return 0


def _inflation_line(record: dict, name: str) -> str:
    return (f"inflation: {name} {record[name + '_loaded']:.5g} (loaded) -> {record[name]:.5g} on "
            f"these tags (fast likelihood {record['loglik_loaded']:.6g} -> "
            f"{record['loglik']:.6g})")


def _test1(run_log, data, maf, params, out, options, qq_method, steps=()) -> None:
    from bayesmix.report.mixer_json import write_univariate_test

    write_univariate_test(data, maf, params, out, options=options, qq_method=qq_method,
                          steps=steps)
    run_log.say(f"wrote {out}.json and {out}.{{qq,qqbins,power}}.{{png,pdf}}")


def run_fit2(run_log, inputs, out, *, params_files, sequence, kmax=1000, n_draws=1000,
             profile_points=25, options=None, resume=False, fingerprint=None,
             mixer_counts: bool = False) -> int:
    """Bivariate fit -> OUT.json (with the pi12 log-likelihood profile) and OUT.nc (the
    same fit as an ArviZ DataTree); finished fit stages are kept in OUT.ckpt when
    interrupted. ``mixer_counts``: the ``@p9`` counts as MiXeR's (:func:`with_mixer_counts`)."""
    from bayesmix.cli.common import kept_on_interrupt
    from bayesmix.prepare.mixer import data_warnings

    check_outputs(out)
    uni = params_for_traits(params_files, inputs.trait_files, options=options)
    checkpoint = _checkpoint(out, resume)
    data = inputs.load_bivariate()
    for trait, label in ((data.trait1, "trait 1"), (data.trait2, "trait 2")):
        for warning in data_warnings(trait, label=label):
            log.warning("warning: %s", warning)
    with kept_on_interrupt(f"the finished fit stages are kept in {checkpoint}; rerun the same "
                           "command with --resume to finish"):
        fit, extra = fit2_with_profile(data, uni, sequence=sequence, kmax=kmax,
                                       seed=inputs.seed, n_draws=n_draws,
                                       profile_points=profile_points, progress=log.info,
                                       checkpoint=checkpoint, resume=resume,
                                       fingerprint=fingerprint)
        if extra.get("interval_warning"):
            log.warning("warning: %s", extra["interval_warning"])
    if mixer_counts:
        fit = with_mixer_counts(fit)
    write_fit2(fit, out, inputs.trait_files, options, extra)
    run_log.say(f"fit2: {fit2_summary(fit)}")
    run_log.say(f"wrote {out}.json and {out}.nc")
    return 0


def params_for_traits(params_files, trait_files, *, options=None,
                      warnings=None) -> list[dict]:
    """The univariate params of fit2's two traits, each checked to be a fit of its trait's
    statistics (:func:`~bayesmix.report.mixer_json.read_params`); InputError when both
    traits' statistics have the same content (rg and rho0 would be 1). With ``options``
    (the fit2 command's recorded options), each params file's recorded settings are
    compared with them (:func:`check_fit1_settings`): the differences that are warned about
    are logged, or appended to the list ``warnings`` as (params file, text) (a plan of
    many fits prints each once: :func:`bayesmix.cli.mixer_replicates.check_params_files`)."""
    from bayesmix.errors import InputError
    from bayesmix.io.digest import file_digest
    from bayesmix.report.mixer_json import read_params

    if file_digest(trait_files[0]) == file_digest(trait_files[1]):
        raise InputError(f"the two traits' statistics have the same content ({trait_files[0]} "
                         f"and {trait_files[1]}): fit2 of a trait with itself gives rg = 1 and "
                         "rho0 = 1; give two different traits", trait_files[1])
    uni = [read_params(path, trait_file=trait, trait_option=f"the statistics of trait {k}")
           for k, (path, trait) in enumerate(zip(params_files, trait_files), start=1)]
    if options is not None:
        found = [(path, text) for path in params_files
                 for text in check_fit1_settings(path, options)]
        if warnings is None:
            for path, text in found:
                log.warning("warning: %s: %s", path, text)
        else:
            warnings.extend(found)
    return uni


#: fit1 settings fit2 refuses to differ (the tags' chromosomes, how the weak LD is treated);
#: the other DATA_SETTINGS that differ are warned about
_FIT2_REFUSED = ("chr2use", "ld_in_sample")


def check_fit1_settings(params_file, options) -> list[str]:
    """Compare the settings recorded in a univariate fit JSON that change its estimates
    (:data:`~bayesmix.report.mixer_json.DATA_SETTINGS`) with fit2's ``options``: InputError
    for other chromosomes or --ld-in-sample; returns the warnings (texts without the file's
    name) for another LD template, --extract, --exclude or --exclude-ranges. Settings not
    recorded on either side (MiXeR's JSON) are not compared."""
    from bayesmix.errors import InputError
    from bayesmix.report.mixer_json import (DATA_SETTINGS, read_json, recorded_settings,
                                            setting_text)

    fitted = recorded_settings(read_json(params_file))
    running = recorded_settings({"options": options})
    warnings = []
    for key in DATA_SETTINGS:
        if key not in fitted or key not in running or fitted[key] == running[key]:
            continue
        option = f"--{key.replace('_', '-')}"
        what = (f"this univariate fit was made {setting_text(option, fitted[key])}, this fit2 "
                f"runs {setting_text(option, running[key])}")
        if key in _FIT2_REFUSED:
            raise InputError(f"{what}: fit2 needs univariate fits of the same settings; refit "
                             "the trait with them", params_file)
        warnings.append(f"{what} (the univariate parameters may not fit this fit2's tag "
                        "SNPs)")
    return warnings


def fit2_with_profile(data, uni, *, sequence, kmax, seed, n_draws, profile_points,
                      progress=None, checkpoint=None, resume=False, fingerprint=None):
    """The bivariate fit of ``data`` on the univariate ``uni`` (two params dicts) and its
    pi12 profile at ``profile_points`` shares -> (fit, extra JSON keys: ``pi12_profile``
    and, when the asymptotic n12 interval is too narrow, ``interval_warning``)."""
    import numpy as np

    from bayesmix.inference.mle_bivariate import fit_bivariate, interval_warning, profile_pi12

    fit = fit_bivariate(data, uni[0], uni[1], sequence=list(dict.fromkeys(sequence)),
                        kmax=kmax, seed=seed, n_draws=n_draws, progress=progress,
                        checkpoint=checkpoint, resume=resume, fingerprint=fingerprint)
    extra = {}
    if profile_points > 0:
        extra["pi12_profile"] = profile_pi12(fit, data, np.linspace(0.02, 0.98, profile_points),
                                             progress=progress)
        warning = interval_warning(fit.ci, extra["pi12_profile"])
        if warning:
            extra["interval_warning"] = warning
    return fit, extra


def write_fit2(fit, out, trait_files, options=None, extra: dict | None = None) -> None:
    """OUT.json (with ``extra`` keys; the statistics fitted, their paths and content digests,
    ``trait_files`` and ``trait_sha256``, which test2 checks) and OUT.nc of a bivariate fit
    of ``trait_files``."""
    import json

    from bayesmix.io.digest import file_digest
    from bayesmix.io.files import json_types
    from bayesmix.io.netcdf import write_netcdf
    from bayesmix.report.mixer_bivariate_json import write_fit_json

    extra = {key: value for key, value in (extra or {}).items() if key != "interval_warning"}
    fitted = {"trait_files": [str(f) for f in trait_files],
              "trait_sha256": [file_digest(f) for f in trait_files]}
    write_fit_json(f"{out}.json", fit, trait_names=tuple(map(str, trait_files)),
                   extra={"options": options or {}, **fitted, **extra})
    tree = fit.to_datatree(extra.get("pi12_profile"))
    tree.attrs["trait_names"] = json.dumps([str(f) for f in trait_files])
    tree.attrs["command_options"] = json.dumps(json_types(options or {}, finite=True))
    write_netcdf(tree, f"{out}.nc")


def fit2_summary(fit) -> str:
    """One line: overlap, correlations, Venn counts and AIC of a bivariate fit."""
    ci = fit.ci
    return (f"pi12={fit.params['pi12']:.3g} (share {fit.share:.3f}) "
            f"rho12={fit.params['rho12']:.3f} rho0={fit.params['rho0']:.3f} rg={fit.rg:.3f} "
            f"(SE {ci['rg']['std']:.3f}); causal variants n1={ci['nc1']['point']:.0f} "
            f"n12={ci['nc12']['point']:.0f} n2={ci['nc2']['point']:.0f}; AIC best vs minimal "
            f"{fit.criteria.get('best_vs_minimal_overlap_AIC', float('nan')):.2f}, vs maximal "
            f"{fit.criteria.get('best_vs_maximal_overlap_AIC', float('nan')):.2f}")


def run_test2(run_log, inputs, out, *, params_file, inflation: bool = False) -> int:
    """Venn, conditional Q-Q, densities and per-SNP shared posteriors of a bivariate fit;
    with ``inflation`` (MiXeR's test2 default) at the fit's parameters with both sig2_zero
    and rho_zero refitted to these tags
    (:func:`~bayesmix.inference.mle_bivariate.refit_bivariate_inflation`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from bayesmix.inference.mle_bivariate import fit_from_record, shared_posteriors
    from bayesmix.io.files import atomic_path
    from bayesmix.plots import bivariate as bplots
    from bayesmix.plots.mixer import save_figure
    from bayesmix.report.mixer_bivariate_json import read_fit_json
    from bayesmix.report.mixer_json import check_fitted_trait, write_json

    check_outputs(out, ("json", "snps.tsv.gz"), TEST2_FIGURES)
    record = read_fit_json(params_file)
    for k, (recorded, trait) in enumerate(zip(record.get("trait_sha256") or (None, None),
                                              inputs.trait_files), start=1):
        check_fitted_trait(params_file, recorded, (record.get("trait_files") or [None] * 2)
                           [k - 1], trait, f"the statistics of trait {k}")
    data = inputs.load_bivariate()
    fit = fit_from_record(record, data)
    steps = []
    if inflation:
        from bayesmix.inference.mle_bivariate import refit_bivariate_inflation

        fit, steps = refit_bivariate_inflation(fit, data)
        for step in steps:
            name = "rho0" if "rho0" in step else "sig2_zero"
            run_log.say(_inflation_line(step, name) + (f" (trait {step['trait']})"
                                                       if "trait" in step else ""))
    post = shared_posteriors(fit, data)
    table = data.trait1.tags[["snp", "chr", "bp"]].copy()
    table["z1"], table["z2"] = data.trait1.z, data.trait2.z
    for key, value in post.items():
        table[key] = value
    with atomic_path(f"{out}.snps.tsv.gz") as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g", compression="gzip")
    rng = np.random.default_rng(inputs.seed)
    names = tuple(Path(str(f)).name.split(".")[0] for f in inputs.trait_files)
    qq = [bplots.conditional_qq_data(data, fit, primary=p, rng=rng) for p in (1, 2)]
    write_json(f"{out}.json", {"analysis": "bivariate-test",
                               "params": fit.params if inflation else record["params"],
                               "fit_sequence": ["load", "inflation"] if inflation else ["load"],
                               "steps": steps,
                               "venn": record.get("venn"), "conditional_qq": qq,
                               "n_tags": data.n_tags,
                               "n_shared_p90": int((post["p_shared"] >= 0.9).sum())})

    def condqq(fig):
        for q, ax in zip(qq, fig.subplots(1, 2)):
            bplots.draw_conditional_qq(q, ax=ax, trait_names=names)

    def density(fig):
        axes = fig.subplots(1, 3)
        bplots.plot_z_density(data, fit, axes=axes[:2], rng=rng)
        bplots.plot_beta_density(fit, ax=axes[2], rng=rng)

    figures = {"venn": ((5, 4), lambda fig: bplots.plot_venn(record["venn"]["total"],
                                                               ax=fig.subplots())),
               "condqq": ((10, 4.6), condqq), "density": ((13, 4), density)}
    if record.get("pi12_profile"):
        figures["profile"] = ((6, 4), lambda fig: bplots.plot_pi12_profile(
            record["pi12_profile"], fit=fit, ax=fig.subplots(), trait_names=names))
    for name, (size, draw) in figures.items():
        fig = plt.figure(figsize=size)
        draw(fig)
        fig.tight_layout()
        save_figure(fig, f"{out}.{name}")
        plt.close(fig)
    run_log.say(f"test2: {int((post['p_shared'] >= 0.9).sum())} of {data.n_tags} tag SNPs "
                f"with P(shared) >= 0.9; wrote {out}.json, {out}.snps.tsv.gz and "
                f"{out}.{{{','.join(figures)}}}.{{png,pdf}}")
    return 0


def run_snps(run_log, ld_template, chromosomes, out, *, bim_template=None, r2=0.8, maf=0.05,
             subset=None, seed=0) -> int:
    """MiXeR's ``snps``: a random LD-pruned subset of the reference SNPs -> OUT, one SNP id
    per line (:func:`bayesmix.prepare.mixer.draw_snp_subset`)."""
    from bayesmix.io.files import atomic_open
    from bayesmix.prepare.mixer import draw_snp_subset

    ids, lines = draw_snp_subset(ld_template, chromosomes, bim_template=bim_template, r2=r2,
                                 maf=maf, subset=subset, seed=seed)
    _say_lines(run_log, lines)
    with atomic_open(out, "wt") as fh:
        fh.write("".join(f"{snp}\n" for snp in ids))
    run_log.say(f"snps: wrote {out} ({len(ids)} SNPs)")
    return 0


def run_combine(run_log, pattern, out, *, rep2use=None) -> int:
    """MiXeR's ``mixer_figures.py combine``: replicate fit JSONs -> OUT.json, OUT.csv and
    OUT.replicates.{png,pdf} (:mod:`bayesmix.report.mixer_combine`)."""
    from bayesmix.report.mixer_combine import (combine_fits, combined_summary,
                                               parse_replicates, replicate_paths,
                                               write_combined)

    paths = replicate_paths(pattern, parse_replicates(rep2use) if rep2use else None)
    combined = combine_fits(paths)
    written = write_combined(out, combined)
    run_log.say(f"combine: {combined['analysis']} fits; {combined_summary(combined)}")
    run_log.say(f"wrote {', '.join(written)}")
    return 0
