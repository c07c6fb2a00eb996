"""The analyses of ``bayesmix-gctb`` (:mod:`bayesmix.cli.gctb`): library calls in order.

Each runner takes the parsed :class:`~bayesmix.cli.options.Invocation` and the
:class:`~bayesmix.cli.common.RunLog` (stdout and OUT.log), loads through
:mod:`bayesmix.prepare` / :mod:`bayesmix.ld`, samples or builds, and writes GCTB's files
through :mod:`bayesmix.report.gctb` / :mod:`bayesmix.ld.gctb`. Nothing here parses files.
"""

from __future__ import annotations

import logging
import time

from bayesmix.errors import InputError

log = logging.getLogger("bayesmix")


def _present(args, *names) -> dict:
    """Keyword arguments from the options among ``names`` that apply (not None)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _summary_selection(args):
    """GCTB's SNP selection of a summary-data analysis (--extract ... --keep-ambiguous)."""
    from bayesmix.prepare.summary import SummarySelection

    return SummarySelection(extract=args.extract, exclude=args.exclude, chrom=args.chrom,
                            exclude_mhc=args.exclude_mhc, exclude_regions=args.exclude_region,
                            p_value=args.p_value, keep_ambiguous=args.keep_ambiguous)


def _chain_settings(invocation, run_log=None):
    """The MCMC settings (checked before any data is read); a leftover checkpoint without
    --resume is refused here too, and so is an output path that could not be written
    (:func:`_mcmc_outputs`). --resume without any checkpoint is warned about once (stderr
    and OUT.log; the log alone of one trait of several, whose command warns for all, and
    nowhere without ``run_log``) and the chains start afresh (none of them logs it again)."""
    from bayesmix.checkpoint import nothing_to_resume
    from bayesmix.inference.chain import (ChainSettings, existing_checkpoints, read_checkpoint,
                                          refuse_other_run)
    from bayesmix.io.outputs import check_output_files

    args = invocation.args
    _refuse_threads_on_dask(args)
    check_output_files(_mcmc_outputs(invocation))
    left = existing_checkpoints(f"{args.out}.ckpt")
    if left and not args.resume:
        raise InputError(f"a checkpoint of an unfinished run exists at {', '.join(left)}: give "
                         "--resume to continue it, or delete it to start over")
    if args.resume and not left and run_log is not None:
        last = f" to .chain{args.chains - 1}" if args.chains > 1 else ""
        warning = nothing_to_resume(f"{args.out}.ckpt.chain0{last}", "iteration 0")
        if run_log.echo:
            log.warning(warning)
        else:
            run_log.note(warning)
    settings = ChainSettings(chain_length=args.chain_length, burn_in=args.burn_in,
                             thin=args.thin, out_freq=args.out_freq, seed=args.seed,
                             store_snp_draws=not args.no_mcmc_bin,
                             checkpoint=f"{args.out}.ckpt",
                             checkpoint_every=args.checkpoint_every, resume=bool(left))
    settings.fingerprint = invocation.fingerprint()
    for path in left:  # the command line's part of the fingerprint, before any data is read
        saved = read_checkpoint(path, state=False)[0]["fingerprint"]
        refuse_other_run(path, {k: saved.get(k) for k in settings.fingerprint},
                         settings.fingerprint)
    return settings


def _mcmc_outputs(invocation) -> list[str]:
    """The files an MCMC analysis writes (:func:`bayesmix.report.gctb.write_outputs`, the
    chains' checkpoints, --impute-n's sizes), to check before any work."""
    args, out = invocation.args, invocation.args.out
    individual = invocation.analysis.startswith("bayes-")  # (--bayes: fixed effects, .covRes)
    samples = ["mcmcsamples.Par"] + ([] if args.no_mcmc_bin else ["mcmcsamples.SnpEffects"])
    names = (["parRes", "snpRes"] + (["covRes"] if individual else [])
             + samples + [f"chain{k}.{name}" for k in range(1, args.chains) for name in samples]
             + [f"ckpt.chain{k}" for k in range(args.chains)]
             + ([] if args.no_netcdf else ["nc"]) + (["imputedPerSnpN"] if args.impute_n else []))
    return [f"{out}.{name}" for name in names]


def _refuse_threads_on_dask(args) -> None:
    """--cluster is checked, and --thread refused where Dask runs the chains or traits."""
    from bayesmix.distributed import parse_cluster

    if args.cluster:
        parse_cluster(args.cluster)
    if (args.cluster or args.dask_scheduler) and args.thread > 1 and (
            args.chains > 1 or args.mgwas_summary):
        raise InputError("--thread N runs chains in N processes of this machine; with "
                         "--cluster/--dask-scheduler the chains (or traits) are Dask tasks on "
                         "the workers instead: leave --thread out (it applies to one chain "
                         "of one trait on Dask: its LD blocks in parallel threads)")


def _chain_description(settings, args) -> str:
    """The MCMC settings as one phrase for the log (runtime ones included)."""
    from bayesmix.cli.common import dask_where

    checkpoints = (f"checkpoints every {settings.checkpoint_every} iterations"
                   if args.checkpoint_every else "checkpoints only when interrupted")
    where = dask_where(args)
    return (f"chain length {settings.chain_length}, burn-in {settings.burn_in}, thin "
            f"{settings.thin}, seed {settings.seed}, {args.chains} chain(s)"
            + (f" as Dask tasks on {where}" if where else "")
            + f", {args.thread} thread(s), {checkpoints}, "
            + (f"a progress line every {args.out_freq} iterations" if args.out_freq
               else "no progress lines"))


def _sample(args, model, make_steps, settings, run_log, *, cores: int):
    """The chains of an MCMC analysis: in this process, in ``cores`` forked processes, or
    one Dask task per chain (--cluster/--dask-scheduler)."""
    from bayesmix.cli.common import dask_client
    from bayesmix.inference.chain import run_chains

    if settings.n_kept_draws * args.chains < 2:
        run_log.say(f"warning: --chain-length {settings.chain_length}, --burn-in "
                    f"{settings.burn_in} and --thin {settings.thin} keep a single draw: the "
                    f"posterior SD and ESS will be NA (summaries need hundreds of draws)")
    with dask_client(args) as client:
        return run_chains(model, make_steps, settings, chains=args.chains, cores=cores,
                          progress_stream=run_log, client=client, keep_checkpoints=True)


def _need_plug_in_burn_in(burn_in: int, analysis: str, robust_sbayes: bool) -> None:
    """Before any data is read: a burn-in too short for the plug-ins of ``analysis`` (which
    adapts sig2_beta's prior scale: every SBayes method, BayesS/NS) is refused. The plug-in
    steps refuse it too, but only once the data is loaded and the model built."""
    from bayesmix.inference.step_base import MIN_PLUG_IN_BURN_IN, too_short_burn_in

    if burn_in < MIN_PLUG_IN_BURN_IN:
        ld = (" and the robust setting's LD sampling-variance correction (h and omega)"
              if robust_sbayes else "")
        raise too_short_burn_in(burn_in, f"{analysis}'s plug-ins (sig2_beta's prior scale, "
                                         f"adapted as GCTB's{ld})")


def _need_statistics(invocation) -> None:
    if invocation.args.gwas_summary is None:
        raise InputError(f"{invocation.label} needs --gwas-summary FILE (or several traits: "
                         "--mgwas-summary LIST)")


def run_alphabet(invocation, run_log) -> int:
    """BayesB/C/S/R/N/NS on PLINK genotypes: load, sample, write GCTB outputs."""
    from bayesmix.inference.gibbs import make_steps
    from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
    from bayesmix.prepare.alphabet import SampleSnpFilters, load_alphabet_data

    args = invocation.args
    started = time.time()
    settings = _chain_settings(invocation, run_log)
    prior = AlphabetPrior.gctb(args.bayes, **_present(args, "pi", "gamma", "hsq", "S", "fix_pi",
                                                      "wind", "pi_snp", "fix_pi_snp"))
    if prior.base == "S":
        _need_plug_in_burn_in(settings.burn_in, f"Bayes{prior.method}", robust_sbayes=False)
    standardize = not (args.unscale_genotype or prior.method == "S")  # GCTB: S, not NS
    filters = SampleSnpFilters(keep=args.keep, remove=args.remove, extract=args.extract,
                               exclude=args.exclude, chrom=args.chrom,
                               exclude_mhc=args.exclude_mhc,
                               exclude_regions=args.exclude_region, maf=args.maf)
    loaded = load_alphabet_data(args.bfile, args.pheno, mpheno=args.mpheno,
                                qcovar=args.covar or args.qcovar, dcovar=args.dcovar,
                                filters=filters, standardize=standardize)
    for reason, count in loaded.counts:
        run_log.say(f"  {reason:<40} {count:>10}")
    for warning in loaded.warnings:
        log.warning("warning: %s", warning)
    data = loaded.data
    model = AlphabetModel(data, prior)
    run_log.say(f"Data: {data.genotypes.n_samples} individuals, {data.genotypes.n_snps} SNPs, "
                f"{data.design.shape[1]} fixed effects ({', '.join(data.design_columns)}); "
                f"genotypes {'standardised' if standardize else 'centred (per-allele effects)'}"
                f", {data.genotypes.nbytes / 2**20:.1f} MiB in memory")
    run_log.say(f"Running Bayes{prior.method}: {_chain_description(settings, args)}")
    run_log.say()
    _check_space(args, model, prior, settings)
    result = _sample(args, model, make_steps, settings, run_log, cores=args.thread)
    return _finish_mcmc(result, args, run_log, started, unscaled=not standardize)


def run_sbayes(invocation, run_log) -> int:
    """SBayesC/R/S: read the LD and statistics, sample, write GCTB outputs."""
    from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
    from bayesmix.models.alphabet import AlphabetPrior
    from bayesmix.models.sbayes import SBayesModel, reference_ld_note
    from bayesmix.prepare.summary import load_summary_data

    args = invocation.args
    started = time.time()
    _need_statistics(invocation)
    settings = _chain_settings(invocation, run_log)
    prior = AlphabetPrior.gctb(args.sbayes, **_present(args, "pi", "gamma", "hsq", "S", "fix_pi"))
    _need_plug_in_burn_in(settings.burn_in, f"SBayes{args.sbayes}",
                          robust_sbayes=not args.no_robust)
    if args.ldm is None and args.mldm is None:
        raise InputError(f"{invocation.label} needs an LD matrix: --ldm LD or --mldm LIST")
    parallel_blocks = args.thread > 1 and args.chains == 1
    if parallel_blocks and args.ld_layout in ("band", "upper"):
        # before any data is read (SBayesModel refused it after reading the LD, naming no option)
        raise InputError(f"--ld-layout {args.ld_layout} sweeps the LD serially, while --thread "
                         f"{args.thread} with one chain sweeps independent LD blocks in "
                         "parallel, in the csr layout: give --ld-layout csr (or auto), or leave "
                         "--thread out (with --chains K the threads run the chains instead)")
    selection = _summary_selection(args)
    in_sample = True if args.ld_in_sample else (False if args.ld_out_of_sample else None)
    data = load_summary_data(args.gwas_summary, ldm=args.ldm, mldm=args.mldm,
                             selection=selection, impute_n=args.impute_n, rsq=args.rsq,
                             ld_in_sample=in_sample, say=run_log.say)
    _report_data(data, args, run_log)
    note = reference_ld_note(data)
    if note:
        run_log.say(note)
    model = SBayesModel(data, prior, robust=not args.no_robust, ridge=args.ld_ridge,
                        min_eigenvalue=args.min_eigenvalue, unscaled=args.unscale_genotype,
                        parallel_blocks=parallel_blocks, ld_layout=args.ld_layout)
    run_log.say(f"\nSBayes{args.sbayes}: {model.robust_description()}; LD layout "
                f"{model.ld_layout}; {_chain_description(settings, args)}.")
    run_log.say()
    _check_space(args, model, prior, settings)
    result = _sample(args, model, make_sbayes_steps, settings, run_log,
                     cores=min(args.chains, args.thread))
    return _finish_mcmc(result, args, run_log, started,
                        unscaled=args.unscale_genotype)


def run_sbayes_eigen(invocation, run_log) -> int:
    """SBayesC/R/S/RC on eigen-decomposed block LD (--ldm-eigen): read, sample, write GCTB
    outputs. RC is SBayesR with annotation-dependent mixture weights (--annot)."""
    from bayesmix.inference.sbayes_eigen_gibbs import make_eigen_steps
    from bayesmix.models.alphabet import AlphabetPrior
    from bayesmix.inference.eigen_noise import eigen_noise_data
    from bayesmix.models.sbayes_eigen import SBayesEigenModel
    from bayesmix.prepare.summary import load_eigen_data

    args = invocation.args
    started = time.time()
    _need_statistics(invocation)
    settings = _chain_settings(invocation, run_log)
    method = "R" if args.sbayes == "RC" else args.sbayes
    _need_plug_in_burn_in(settings.burn_in, f"SBayes{args.sbayes}", robust_sbayes=False)
    prior = AlphabetPrior.gctb(method, **_present(args, "pi", "gamma", "hsq", "S", "fix_pi"))
    if args.sbayes == "RC":
        _annotation_start_weights(prior)  # before any data is read
    selection = _summary_selection(args)
    cutoffs = args.ldm_eigen_cutoff  # one share, or a list to choose from (GCTB's default)
    data = load_eigen_data(args.gwas_summary, args.ldm_eigen, selection=selection,
                           impute_n=args.impute_n,
                           cutoff=cutoffs[0] if len(cutoffs) == 1 else None, say=run_log.say)
    if max(cutoffs) > data.cutoff:
        run_log.say(f"The LD folder keeps a share of {data.cutoff:g}: the listed cut-offs "
                    "above it count as that share.")
    hyperpriors = None
    if args.sbayes == "RC":
        hyperpriors = _annotation_prior(args.annot, data, prior, run_log)
    threads = args.thread if args.chains == 1 else 1
    candidates = sorted({min(c, data.cutoff) for c in cutoffs}, reverse=True)
    if len(candidates) > 1:
        data = _tuned_eigen_data(data, candidates, prior, hyperpriors, args, threads, run_log)
        if data is None:
            from bayesmix.cli.common import stopped
            return stopped(run_log, "stopped while choosing the eigen cut-off; nothing "
                                    "written: rerun the same command")
    _report_data(data, args, run_log)

    def make_model(held):
        return SBayesEigenModel(held, prior, hyperpriors=hyperpriors,
                                unscaled=args.unscale_genotype, threads=threads)

    run_log.say()
    data = eigen_noise_data(data, args.eigen_noise, make_model, make_eigen_steps,
                            seed=args.seed, say=run_log.say)
    if data is None:
        from bayesmix.cli.common import stopped
        return stopped(run_log, "stopped while fitting the noise per eigen direction; "
                                "nothing written: rerun the same command")
    run_log.say()
    model = make_model(data)
    if model.implied_hsq > 0.9:
        run_log.say(f"Warning: the rotated statistics claim {model.implied_hsq:.2f} of the "
                    "phenotypic variance (|w|^2 beyond its sampling noise): the LD blocks may "
                    "not be independent (use LD-based block boundaries) or the sample sizes "
                    "may be too large; the chain is likely to stop.")
    run_log.say(f"\nSBayes{args.sbayes}: {model.robust_description()}; "
                f"{_chain_description(settings, args)}.")
    run_log.say()
    _check_space(args, model, prior, settings)
    result = _sample(args, model, make_eigen_steps, settings, run_log,
                     cores=min(args.chains, args.thread))
    return _finish_mcmc(result, args, run_log, started, unscaled=args.unscale_genotype)


def _tuned_eigen_data(data, cutoffs, prior, hyperpriors, args, threads, run_log):
    """``data`` at the cut-off of ``cutoffs`` with the best pseudo-validation prediction
    accuracy (:mod:`bayesmix.inference.eigen_cutoff`), each scored by a short chain of the
    analysis' own model (with one noise level per block, as GCTB's); None when a stop was
    requested meanwhile."""
    from dataclasses import replace

    import numpy as np

    from bayesmix import interrupt
    from bayesmix.inference.chain import ChainSettings, run_chains
    from bayesmix.inference.eigen_cutoff import (TUNING_BURN_IN, TUNING_LENGTH,
                                                 tune_eigen_cutoff)
    from bayesmix.inference.sbayes_eigen_gibbs import make_eigen_steps
    from bayesmix.models.sbayes_eigen import SBayesEigenModel

    settings = ChainSettings(chain_length=TUNING_LENGTH, burn_in=TUNING_BURN_IN, thin=1,
                             out_freq=0)

    def fit_effects(train, seed):
        if interrupt.requested():
            return np.zeros(train.n_snps)
        model = SBayesEigenModel(train, prior, hyperpriors=hyperpriors,
                                 unscaled=args.unscale_genotype, threads=threads)
        result = run_chains(model, make_eigen_steps, replace(settings, seed=seed))
        return result.snp_accumulator.mean

    started = time.time()
    tuning = tune_eigen_cutoff(data, cutoffs, fit_effects, seed=args.seed, say=run_log.say)
    if interrupt.requested():
        return None
    run_log.say(f"Eigen cut-off {tuning.best:g} chosen ({time.time() - started:.1f} s).")
    run_log.say()
    return data.at_cutoff(tuning.best)


def _report_data(data, args, run_log) -> None:
    """The QC table, the imputed per-SNP sample sizes (--impute-n: OUT.imputedPerSnpN) and
    the data summary of a summary-data analysis."""
    run_log.say(str(data.qc))
    if data.qc.imputed_n is not None:
        from bayesmix.io.impute_n import write_imputed_n

        write_imputed_n(data.qc.imputed_n, f"{args.out}.imputedPerSnpN")
        run_log.say(f"Wrote the imputed per-SNP sample sizes to [{args.out}.imputedPerSnpN].")
    run_log.say()
    run_log.say(data.format_summary())


def _annotation_start_weights(prior):
    """SBayesRC's starting weights (``--pi``), refused when one is 0: theta would start at
    log(0) = -inf, where its sampler never moves (every weight stayed at --pi for the whole
    chain, silently)."""
    import numpy as np

    pi = np.asarray(prior.pi_values, np.float64)
    if not (pi > 0).all():
        raise InputError(f"--pi {','.join(f'{v:g}' for v in pi)}: SBayesRC's weights "
                         "softmax([0, A_j theta]) are positive, so its starting weights must be "
                         "too: give every component a weight above 0 (e.g. 0.001)")
    return pi


def _annotation_prior(path, data, prior, run_log) -> dict:
    """SBayesRC's prior: per-SNP weights softmax([0, A_j theta]) of the annotations A_j of
    ``path``, theta ~ N(0, 3^2) per annotation and component, started where every SNP has the
    starting weights (``--pi``)."""
    import numpy as np
    import pymc as pm

    from bayesmix.distributions.effects import annotation_weights
    from bayesmix.io.annotations import annotation_matrix, read_annotations

    table = read_annotations(path)
    annotations = annotation_matrix(table, data.stats["SNP"], path)
    matrix = annotations.matrix
    if annotations.note:
        run_log.say(f"note: {path}: {annotations.note}")
    run_log.say(f"Read {matrix.shape[1]} annotations ({', '.join(annotations.columns)}) of "
                f"{len(table)} SNPs from [{path}]; {annotations.missing} analysed SNPs are not "
                "in the file and get the intercept alone.")
    pi = _annotation_start_weights(prior)
    start = np.zeros((matrix.shape[1], len(pi) - 1))
    start[annotations.intercept] = np.log(pi[1:] / pi[0])
    return {"weights": lambda default: annotation_weights(matrix, pm.Normal(
        "theta", 0.0, 3.0, shape=start.shape, initval=start))}


def _check_space(args, model, prior, settings) -> None:
    """Enough free space for the outputs and checkpoints of this run (before sampling),
    counting the non-zero effects implied by the starting mixture weights."""
    from bayesmix.io.outputs import check_output_directory, mcmc_output_bytes

    nonzero = int(model.n_snps * (1.0 - float(prior.pi_values[0]))) + 1
    check_output_directory(args.out, mcmc_output_bytes(
        model.n_snps, model.n_components, settings.n_kept_draws, args.chains,
        store_snp_draws=settings.store_snp_draws, nonzero_snps=nonzero))


def _finish_mcmc(result, args, run_log, started, *, unscaled: bool) -> int:
    """Posterior table, GCTB files and the closing lines of an MCMC run (``unscaled``: the
    effects are per allele, as GCTB writes them for BayesS or --unscale-genotype). An
    interrupted run writes the outputs of its finished iterations (if any draw was kept)
    and exits with 128 + the signal number. The chains' checkpoints are removed only once
    every output is written, and a signal that arrives while they are written waits for them
    (a run stopped there lost its finished chains: the checkpoints were already gone)."""
    from bayesmix import interrupt
    from bayesmix.cli.common import stopped
    from bayesmix.inference.chain import remove_checkpoints
    from bayesmix.report.gctb import format_par_res, par_res_table, write_outputs

    resume = f"rerun the same command with --resume to finish ({result.progress_summary()})"
    if result.n_draws == 0:
        return stopped(run_log, f"no draw kept yet, nothing written; the checkpoint "
                                f"{args.out}.ckpt.chainK is kept: {resume}")
    run_log.say()
    run_log.say("Posterior statistics from MCMC samples:")
    table = par_res_table(result)  # the screen's and the .parRes file's
    run_log.say(format_par_res(result, table=table))
    run_log.say()
    with interrupt.deferred():
        paths = write_outputs(result, args.out, mcmc_bin=not args.no_mcmc_bin,
                              netcdf=not args.no_netcdf, unscaled=unscaled, par_res=table)
        if not result.interrupted:
            remove_checkpoints(result.settings, range(len(result.chains)))
    for path in paths + [f"{args.out}.log"]:
        run_log.say(f"Wrote {path}")
    run_log.say(f"Analysis finished in {time.time() - started:.1f} s "
                f"({1e3 * result.seconds_per_iteration:.2f} ms per iteration)")
    if result.interrupted:
        return stopped(run_log, f"the outputs cover the finished iterations and the "
                                f"checkpoint {args.out}.ckpt.chainK is kept: {resume}")
    return 0


def run_traits(invocation, run_log, runner) -> int:
    """SBayes on every trait of --mgwas-summary LIST: each trait's analysis as with
    --gwas-summary, into OUT.NAME.* with its own log OUT.NAME.log; one after the other, or
    one Dask task per trait (--cluster/--dask-scheduler); ``runner`` analyses one trait
    (:func:`run_sbayes` or :func:`run_sbayes_eigen`). A trait that fails (bad input, a
    diverged chain) is reported and the others still run; the run then exits 1. A trait
    finished by an interrupted or failed run (OUT.NAME.done, removed when every trait has
    finished) is kept by --resume."""
    from bayesmix import interrupt
    from bayesmix.checkpoint import nothing_to_resume
    from bayesmix.cli.common import dask_client, dask_where, kept_on_interrupt, stopped
    from bayesmix.distributed import run_tasks
    from bayesmix.inference.chain import existing_checkpoints
    from bayesmix.io.outputs import check_output_files
    from bayesmix.io.trait_list import read_trait_list
    from bayesmix.progress import Progress

    args = invocation.args
    started = time.time()
    _refuse_threads_on_dask(args)
    _need_plug_in_burn_in(args.burn_in, f"SBayes{args.sbayes}",  # once, not once per trait
                          robust_sbayes=runner is run_sbayes and not args.no_robust)
    traits = read_trait_list(args.mgwas_summary)
    jobs, done, started_before = [], {}, False
    for name, path in traits:
        trait = _trait_invocation(invocation, name, path)
        _chain_settings(trait)  # leftover checkpoints refused before any trait runs
        check_output_files([f"{trait.args.out}.log", _done_path(trait)])
        marker = _done_marker(trait)
        if marker is not None:
            done[name] = marker
        started_before |= marker is not None or bool(existing_checkpoints(
            f"{trait.args.out}.ckpt"))
        jobs.append((runner, trait, name))
    if args.resume and not started_before:   # once, not once per trait or chain
        log.warning(nothing_to_resume(f"{args.out}.NAME.ckpt.chainK nor finished trait "
                                      f"{args.out}.NAME.done", "iteration 0"))
    where = dask_where(args)
    run_log.say(f"{len(traits)} traits listed in [{args.mgwas_summary}], each analysed as "
                f"{invocation.label} --gwas-summary FILE into OUT.NAME.* (OUT = {args.out}), "
                + (f"as Dask tasks on {where}" if where else "one after the other") + ":")
    for name, path in traits:
        run_log.say(f"  {name:<20} {path}"
                    + ("   (finished by the interrupted run: kept)" if name in done else ""))
    run_log.say()
    todo = [job for job in jobs if job[2] not in done]
    outcomes = {}

    def finished(k, outcome):
        outcomes[todo[k][2]] = outcome
        run_log.say(_trait_line(todo[k][2], todo[k][1], outcome))

    with kept_on_interrupt("the traits finished so far (OUT.NAME.done) and the chains' "
                           "checkpoints are kept: rerun the same command with --resume to "
                           "finish"), dask_client(args) as client:
        if client is None:
            with Progress(len(todo), desc="traits", unit="traits") as bar:
                for k, job in enumerate(todo):
                    if interrupt.requested():
                        break
                    finished(k, _trait_task(job))
                    bar.update(1)
        else:
            run_tasks(client, _trait_task, todo, desc="traits", unit="traits",
                      on_result=finished, stop=interrupt.requested, retries=0)
    ok = set(done) | {name for name, outcome in outcomes.items() if outcome[0] == 0}
    left = [name for name, _ in traits if name not in ok]
    failed = [name for name in left if name in outcomes and outcomes[name][2] is not None]
    run_log.say()
    if interrupt.requested() and left:
        return stopped(run_log, f"{len(ok)} of {len(traits)} traits finished; "
                                f"{', '.join(left)} did not (their logs OUT.NAME.log and "
                                "checkpoints are kept): rerun the same command with --resume "
                                "to finish them")
    if left:
        raise InputError(f"{len(ok)} of {len(traits)} traits finished; "
                         + "; ".join(f"trait {name} failed: {outcomes[name][2]}"
                                     for name in failed)
                         + " (each trait's log is OUT.NAME.log). Fix those and rerun the same "
                         "command with --resume: the finished traits are kept")
    for trait in (job[1] for job in jobs):
        _remove_done_marker(trait)
    run_log.say(f"All {len(traits)} traits finished in {time.time() - started:.1f} s.")
    return 0


def _trait_invocation(invocation, name: str, path: str):
    """The invocation of one trait of --mgwas-summary: --gwas-summary PATH, --out OUT.NAME,
    in this process (its chains are not Dask tasks of their own)."""
    import argparse
    import dataclasses

    values = {**vars(invocation.args), "gwas_summary": path, "mgwas_summary": None,
              "out": f"{invocation.args.out}.{name}", "cluster": None, "dask_scheduler": None}
    given = (invocation.given - {"mgwas_summary", "cluster", "dask_scheduler"}) | {
        "gwas_summary"}
    return dataclasses.replace(invocation, args=argparse.Namespace(**values),
                               given=frozenset(given))


def _done_path(trait) -> str:
    return f"{trait.args.out}.done"


def _done_marker(trait):
    """The fingerprint of ``trait``'s finished analysis kept for --resume, or None; a marker
    without --resume, or of other inputs or settings, is refused."""
    import json
    import os

    from bayesmix.inference.chain import refuse_other_run

    path = _done_path(trait)
    if not os.path.exists(path):
        return None
    if not trait.args.resume:
        raise InputError("a trait of an unfinished run finished with these outputs: give "
                         "--resume to keep it, or delete the file to run it again", path)
    saved = json.loads(open(path).read())["fingerprint"]
    refuse_other_run(path, saved, trait.fingerprint())
    return saved


def _remove_done_marker(trait) -> None:
    import os

    if os.path.exists(_done_path(trait)):
        os.remove(_done_path(trait))


def _trait_task(job) -> tuple:
    """One trait of :func:`run_traits` (a Dask task, or called in this process): its
    analysis with the log OUT.NAME.log; returns (exit code, where it ran). A finished trait
    leaves OUT.NAME.done (its fingerprint) for --resume. Returns (exit code, where it ran,
    the error message of a trait that failed, else None): a failure is not raised, so the
    other traits (and their Dask tasks) go on."""
    import argparse
    import dataclasses
    import json
    import os
    import socket

    from bayesmix.cli.common import RunLog, version_string
    from bayesmix.errors import BayesmixError
    from bayesmix.inference.chain import existing_checkpoints, one_blas_thread
    from bayesmix.io.files import atomic_open

    runner, trait, name = job
    if not trait.args.resume and existing_checkpoints(f"{trait.args.out}.ckpt"):
        # checkpoints of this run's own attempt whose worker died (run_traits refused any
        # other before the first trait started): continue from them
        trait = dataclasses.replace(trait, args=argparse.Namespace(
            **{**vars(trait.args), "resume": True}))
    run_log = RunLog(f"{trait.args.out}.log", echo=False)
    error = None
    try:
        run_log.say(version_string(trait.spec.prog))
        run_log.say(f"Trait {name}: {trait.label} --gwas-summary {trait.args.gwas_summary} "
                    f"--out {trait.args.out}")
        run_log.say()
        with one_blas_thread():  # as in this process (bayesmix.cli.gctb.run)
            rc = runner(trait, run_log)
    except BayesmixError as exc:
        run_log.note(f"error: {exc}")
        rc, error = 1, str(exc)
    finally:
        run_log.close()
    if rc == 0:
        with atomic_open(_done_path(trait)) as fh:
            json.dump({"trait": name, "fingerprint": trait.fingerprint()}, fh)
    try:
        from distributed import get_worker

        where = f"the Dask worker {get_worker().address}"
    except (ImportError, ValueError):
        where = f"process {os.getpid()} on {socket.gethostname()}"
    return rc, where, error


def _trait_line(name, trait, outcome) -> str:
    rc, where, error = outcome
    state = ("finished" if rc == 0 else f"failed ({error})" if error is not None
             else f"stopped (exit code {rc})")
    return (f"Trait {name}: {state} in {where}; outputs {trait.args.out}.parRes, .snpRes, "
            f"...; log {trait.args.out}.log")


def run_ld(invocation, run_log) -> int:
    """Build, merge, thin or print LD matrices (GCTB's --make-*-ldm, --write-ldm-txt)."""
    from bayesmix.cli.common import dask_note
    from bayesmix.io.outputs import check_output_files
    from bayesmix.ld.gctb import write_gctb_ldm, write_ldm_text
    from bayesmix.ld.open import open_ld, open_ld_list, thin_to_sparse

    args, analysis = invocation.args, invocation.analysis
    check_output_files(_ld_outputs(args, analysis))
    if analysis == "write-ldm-txt":
        path = write_ldm_text(open_ld(args.ldm), f"{args.out}.ldm.txt")
        run_log.say(f"Written the LD matrix as text to [{path}].")
        return 0
    if analysis == "merge-ldm":
        ld = open_ld_list(args.mldm)
        ld.meta["kind"] = "full"
        run_log.say(f"Merged the LD matrices listed in [{args.mldm}]: {ld.shape[0]} SNPs.")
        kind = "full"
    elif analysis == "thin-ldm":
        ld = thin_to_sparse(open_ld(args.ldm), args.chisq)
        kind = "sparse"
    else:
        ld, kind = _build_ld(args, analysis, invocation.fingerprint()), analysis.split("-")[1]
    name = _ld_name(args)
    prefix = write_gctb_ldm(ld, name, kind)
    if analysis in ("make-full-ldm", "make-sparse-ldm", "make-shrunk-ldm"):
        run_log.say(f"Built with {args.thread} thread(s){dask_note(args)}.")
    what = (f"rows {args.snp} of the {kind} LD matrix ({ld.shape[0]} x {ld.shape[1]})"
            if not ld.is_square else f"the {kind} LD matrix of {ld.shape[0]} SNPs")
    nonzeros = 2 * ld.nnz - ld.shape[0] if ld.meta.get("upper_piece") else ld.nnz
    run_log.say(f"Written {what} ({nonzeros} nonzeros) to [{prefix}.bin] and [{prefix}.info]"
                + ("; merge the pieces with --mldm LIST --make-full-ldm." if not ld.is_square
                   else "."))
    if args.write_ldm_txt:
        write_ldm_text(ld, f"{prefix}.txt")
        run_log.say(f"Written the LD matrix as text to [{prefix}.txt].")
    return 0


def _ld_outputs(args, analysis) -> list[str]:
    """The files :func:`run_ld` writes (named as :func:`bayesmix.ld.gctb.write_gctb_ldm`
    does), to check before any work."""
    import re

    if analysis == "write-ldm-txt":
        return [f"{args.out}.ldm.txt"]
    kind = {"merge-ldm": "full", "thin-ldm": "sparse"}.get(analysis, analysis.split("-")[1])
    prefix = _ld_name(args)
    if not re.search(r"\.ldm\.(full|band|sparse|shrunk)$", prefix):
        prefix = f"{prefix}.ldm.{kind}"
    return [f"{prefix}.{ext}" for ext in ("bin", "info", "txt")[:3 if args.write_ldm_txt else 2]]


def _ld_name(args) -> str:
    """GCTB's LD output name before ``.ldm.TYPE``: OUT[.chrC][.snpI-J]."""
    return ".".join([args.out] + ([f"chr{args.chrom}"] if args.chrom and not args.snp else [])
                    + ([f"snp{args.snp}"] if args.snp else []))


def _build_ld(args, analysis, fingerprint):
    """--make-full/sparse/shrunk-ldm from --bfile with the sample and SNP filters (finished
    row blocks kept in a checkpoint when interrupted)."""
    from bayesmix.checkpoint import Checkpoint
    from bayesmix.cli.common import dask_client, kept_on_interrupt
    from bayesmix.ld.compute import build_ld

    kind = analysis.split("-")[1]
    if kind == "shrunk" and args.gen_map is None and args.cm_per_mb is None:
        raise InputError("--make-shrunk-ldm needs a genetic map: --gen-map FILE (SNP bp cM) or "
                         "a constant rate --cm-per-mb RATE")
    checkpoint = f"{_ld_name(args)}.ldm.{kind}.ckpt"
    Checkpoint.check_resume(checkpoint, args.resume)
    # a whole matrix is kept as its upper triangle, mirrored while its files are written
    # (half the memory); GCTB's pieces (--snp) and the text dump need whole rows
    upper = args.snp is None and not args.write_ldm_txt
    options = dict(chrom=args.chrom, snp_range=args.snp, threads=args.thread, progress=True,
                   checkpoint=checkpoint, resume=args.resume, fingerprint=fingerprint,
                   upper_piece=upper,
                   keep=args.keep, remove=args.remove, extract=args.extract,
                   exclude=args.exclude, exclude_mhc=args.exclude_mhc,
                   exclude_regions=args.exclude_region, maf=args.maf, pieces=args.pieces)
    if kind == "sparse":
        options["chisq"] = args.chisq
    if kind == "shrunk":
        options.update(gen_map=args.gen_map, cm_per_mb=args.cm_per_mb, ne=args.ne,
                       genmap_n=args.genmap_n, cutoff=args.shrunk_cutoff)
    with kept_on_interrupt(f"the finished row blocks are kept in {checkpoint}; rerun the "
                           "same command with --resume to finish"), dask_client(args) as client:
        return build_ld(args.bfile, kind, client=client, **options)


def run_impute_summary(invocation, run_log) -> int:
    """GCTB's --impute-summary: the statistics of the --ldm-eigen SNPs missing from
    --gwas-summary, imputed from their LD neighbours; writes OUT.imputed.ma and
    OUT.imputed.status."""
    from bayesmix.io.outputs import check_output_files
    from bayesmix.ld.open import open_eigen
    from bayesmix.prepare.impute_summary import (impute_summary, write_impute_status,
                                                 write_imputed_ma)
    from bayesmix.prepare.summary import read_selected_sumstats

    args = invocation.args
    started = time.time()
    if not args.block:  # (with --block the block's id from the LD folder is in the names)
        check_output_files([f"{args.out}.imputed.ma", f"{args.out}.imputed.status"])
    eigen = open_eigen(args.ldm_eigen)
    run_log.say(f"Read {eigen.n_blocks} eigen-decomposed LD blocks of {len(eigen.snps)} SNPs "
                f"from [{args.ldm_eigen}].")
    selection = _summary_selection(args)
    sumstats = read_selected_sumstats(args.gwas_summary, selection, run_log.say)
    table, report = impute_summary(sumstats, eigen, ridge=args.impute_ridge,
                                   cutoff=args.ldm_eigen_cutoff, block=args.block,
                                   **selection.harmonise_options())
    run_log.say(str(report))
    run_log.say()
    out = f"{args.out}.block{table['BLOCK'].iloc[0]}" if args.block else args.out
    rows = write_imputed_ma(table, f"{out}.imputed.ma")
    write_impute_status(table, f"{out}.imputed.status")
    run_log.say(f"Summary statistics of {rows} SNPs ({report.n_imputed} imputed) written to "
                f"[{out}.imputed.ma]; typed or imputed, per SNP, in [{out}.imputed.status].")
    run_log.say(f"Imputation finished in {time.time() - started:.1f} s.")
    return 0
