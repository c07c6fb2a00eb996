"""MiXeR's replicate fits and trait pairs: each fit one task, run here or on Dask.

MiXeR users fit a trait 20 times on random LD-pruned subsets of tag SNPs (``snps --seed k``,
then ``fit1 --extract``), combine the fits (``mixer_figures.py combine``), and run fit2 for
every pair of a list of traits. ``bayesmix-mixer fit1/fit2`` do this in one command:

- ``--replicates N``: fit k = 1..N uses seed S + k (S = ``--seed``) for its SNP subset
  (:func:`bayesmix.prepare.mixer.draw_snp_subset`, the rule of ``snps``: MAF >=
  ``--replicate-maf``, a random ``--replicate-subset`` of those, random pruning at r^2
  ``--replicate-r2``; among ``--extract``'s SNPs when given) and for the fit itself (pruning
  weights, sampled likelihood, derived draws), so replicate k equals ``snps --seed S+k``
  followed by ``fit1 --extract OUT.repk.snps --seed S+k``. Outputs OUT.repk.snps,
  OUT.repk.json, OUT.repk.nc, then the combination (:mod:`bayesmix.report.mixer_combine`):
  OUT.json, OUT.csv, OUT.replicates.{png,pdf}.
- ``fit2 --trait-files A,B,C --trait-params-files ...``: every pair (in the order given) is
  one fit, written to OUT.A_vs_B.{json,nc} (trait names: file names without ``.gz`` and the
  format extension), and the pairs' table OUT.pairs.csv; with ``--replicates`` each pair
  has its replicates (OUT.A_vs_B.repk.*) and its combination (OUT.A_vs_B.json, ...).
  ``@`` in a params file stands for the replicate number (``A.fit.rep@.json``).

Each fit is a :class:`FitUnit` and :func:`run_unit` its task: in this process one after
another, or as one Dask task each (``--cluster local:N`` / ``--dask-scheduler ADDRESS``,
:func:`bayesmix.distributed.run_tasks`); the results are the same bit for bit (a unit is a
pure function of its files and settings; the likelihood kernels give the same digits on any
number of threads, and the tasks use ``--threads`` of them, else every core of the worker's
machine). Interrupts: the finished fits are their JSON files
and the running ones' finished stages are in OUT.ckpt/<unit>; ``--resume`` reuses both
(OUT.ckpt/plan.json must match the command's inputs and settings). A Dask worker that dies
has its task rerun, continuing from the unit's stages.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from pathlib import Path

log = logging.getLogger("bayesmix")

#: format extensions left out of a trait's name (after .gz/.bgz)
_FORMAT_SUFFIXES = (".sumstats", ".ma", ".txt", ".tsv", ".csv")


@dataclasses.dataclass(frozen=True)
class SubsetRule:
    """How a replicate's tag SNPs are drawn (:func:`bayesmix.prepare.mixer.draw_snp_subset`):
    r^2 pruning threshold, minimum MAF, number drawn before pruning (None: all)."""

    r2: float = 0.8
    maf: float = 0.05
    subset: int | None = 2_000_000


@dataclasses.dataclass(frozen=True)
class FitUnit:
    """One fit of a replicate or pair plan: a pure function of its files and settings.

    analysis : "fit1" or "fit2".
    out : output prefix of this fit (OUT.repk, OUT.A_vs_B, OUT.A_vs_B.repk).
    inputs : :class:`bayesmix.prepare.mixer.MixerInputs` (the command's seed and --extract).
    settings : fit settings (sequence, kmax, n_draws, censor_z; fit2 profile_points).
    params_files : fit2: the two univariate fit JSONs (``@`` = replicate number).
    replicate : k (1-based) of a replicate fit, else None.
    rule : the replicate's subset rule.
    checkpoint : folder of this fit's finished stages.
    run : identifier of the run (a resumed run keeps it): a fit JSON carrying it is reused.
    fingerprint : what the fit stages' checkpoint must match (the command's inputs, options).
    options : the command's options, echoed in the JSON.
    threads : numba threads in a Dask task (None: leave the process's setting): the
        command's ``--threads`` (speed only; the results do not depend on it).
    """

    analysis: str
    out: str
    inputs: object
    settings: dict
    params_files: tuple = ()
    replicate: int | None = None
    rule: SubsetRule | None = None
    checkpoint: str | None = None
    run: str = ""
    fingerprint: dict = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)
    threads: int | None = None

    @property
    def seed(self) -> int:
        """The seed of this fit: S + k for replicate k, else the command's seed S."""
        return self.inputs.seed + (self.replicate or 0)

    @property
    def label(self) -> str:
        return Path(self.out).name


def trait_name(path) -> str:
    """A trait's name from its summary-statistics file: the file name without ``.gz`` /
    ``.bgz`` and a format extension (``PGC_SCZ.sumstats.gz`` -> ``PGC_SCZ``)."""
    name = Path(str(path)).name
    for suffixes in ((".gz", ".bgz"), _FORMAT_SUFFIXES):
        for suffix in suffixes:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
    return name


def trait_pairs(trait_files, params_files) -> list[tuple[str, tuple, tuple]]:
    """(pair name ``A_vs_B``, (file A, file B), (params A, params B)) for every pair i < j of
    the lists, in their order; InputError for lists of different lengths, fewer than two
    traits, two traits of the same name or a trait file that does not exist."""
    from bayesmix.errors import InputError

    trait_files, params_files = list(trait_files), list(params_files or ())
    if len(trait_files) < 2:
        raise InputError("--trait-files needs at least two summary-statistics files "
                         "(comma-separated)")
    if len(params_files) != len(trait_files):
        raise InputError(f"--trait-params-files lists {len(params_files)} files for the "
                         f"{len(trait_files)} of --trait-files (one univariate fit per trait, "
                         "in the same order)")
    names = [trait_name(f) for f in trait_files]
    seen = {}
    for name, path in zip(names, trait_files):
        if name in seen:
            raise InputError(f"two traits are named {name!r} ({seen[name]} and {path}): the "
                             "output names (OUT.A_vs_B) need distinct file names", path)
        seen[name] = path
    for path in trait_files:
        if not Path(path).is_file():
            raise InputError("--trait-files: no such file" + (
                " (a space after a comma? the list is split at the commas only)"
                if path != path.strip() else ""), path)
    return [(f"{names[i]}_vs_{names[j]}", (trait_files[i], trait_files[j]),
             (params_files[i], params_files[j]))
            for i in range(len(names)) for j in range(i + 1, len(names))]


def replicate_file(template, replicate) -> str:
    """``template`` with ``@`` replaced by the replicate number (unchanged without ``@``)."""
    return str(template) if replicate is None else str(template).replace("@", str(replicate))


# ------------------------------------------------------------------------------ one fit
def run_unit(unit: FitUnit) -> dict:
    """Run one fit (a Dask task, or a step of the serial loop) and write its files.

    Returns ``{"out", "line", "warnings", "reused"}``: the output prefix, a summary line
    (with the replicate's subset) and the fit's warnings. A JSON at OUT of the same run (a task rerun after its worker died
    having written it, or a fit finished before an interrupt) is returned as it is.
    """
    reused = _finished(unit)
    if reused is not None:
        return reused
    if unit.threads is not None:
        import numba

        numba.set_num_threads(max(1, min(unit.threads, numba.config.NUMBA_NUM_THREADS)))
    inputs = unit.inputs
    notes = []
    if unit.replicate is not None:
        from bayesmix.io.files import atomic_open
        from bayesmix.prepare.mixer import draw_snp_subset

        ids, lines = draw_snp_subset(inputs.ld_template, inputs.chromosomes,
                                     bim_template=inputs.bim_template, r2=unit.rule.r2,
                                     maf=unit.rule.maf, subset=unit.rule.subset,
                                     seed=unit.seed, extract=inputs.extract)
        with atomic_open(f"{unit.out}.snps", "wt") as fh:
            fh.write("".join(f"{snp}\n" for snp in ids))
        note = lines[-1].split(" (")[0]
        if inputs.exclude:   # the subset is drawn as 'snps' draws it, --exclude applied later
            from bayesmix.io.plink import read_snp_list

            left_out = len(set(ids) & set(read_snp_list(inputs.exclude)))
            note += f", {left_out} of them left out by --exclude"
        notes.append(note)
        inputs = dataclasses.replace(inputs, extract=f"{unit.out}.snps", seed=unit.seed)
    record = {"run": unit.run, "seed": unit.seed, "replicate": unit.replicate,
              "trait_files": [str(f) for f in inputs.trait_files]}
    progress = log.info if unit.threads is None else None
    fingerprint = {**unit.fingerprint, "unit": unit.label}
    if unit.analysis == "fit1":
        line, warnings = _fit1_unit(unit, inputs, record, progress, fingerprint)
    else:
        line, warnings = _fit2_unit(unit, inputs, record, progress, fingerprint)
    return {"out": unit.out, "line": "; ".join(notes + [line]), "warnings": warnings,
            "reused": False}


def _finished(unit: FitUnit) -> dict | None:
    """The result of a fit whose JSON of this run exists, else None."""
    path = Path(f"{unit.out}.json")
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text()).get("run_unit") or {}
    except (ValueError, AttributeError):
        return None
    if record.get("run") != unit.run:
        return None
    return {"out": unit.out, "line": "finished before (reused)", "warnings": [],
            "reused": True}


def _fit1_unit(unit, inputs, record, progress, fingerprint):
    from bayesmix.cli.mixer_runs import (fit1_summary, fit1_warnings, with_mixer_counts,
                                         write_fit1)
    from bayesmix.inference.mle import fit_univariate
    from bayesmix.prepare.mixer import data_warnings

    data, _, _ = inputs.load_univariate()
    settings = unit.settings
    fit = fit_univariate(data, sequence=list(settings["sequence"]),
                         censor_z=settings["censor_z"] or 0.0, kmax=settings["kmax"],
                         seed=inputs.seed, n_draws=settings["n_draws"], progress=progress,
                         checkpoint=unit.checkpoint, resume=True, fingerprint=fingerprint)
    fit = with_mixer_counts(fit)   # plans are bayesmix-mixer's: MiXeR's nc@p9
    write_fit1(fit, unit.out, unit.options, {"run_unit": record},
               trait_file=inputs.trait_files[0])
    warnings = [*data_warnings(data, censor_option="--z1max"),   # plans are bayesmix-mixer's
                *fit1_warnings(fit, ld_in_sample=inputs.ld_in_sample)]
    return fit1_summary(fit), warnings


def _fit2_unit(unit, inputs, record, progress, fingerprint):
    from bayesmix.cli.mixer_runs import (fit2_summary, fit2_with_profile, params_for_traits,
                                         with_mixer_counts, write_fit2)
    from bayesmix.prepare.mixer import data_warnings

    params_files = [replicate_file(p, unit.replicate) for p in unit.params_files]
    uni = params_for_traits(params_files, inputs.trait_files)
    data = inputs.load_bivariate()
    settings = unit.settings
    fit, extra = fit2_with_profile(data, uni, sequence=settings["sequence"],
                                   kmax=settings["kmax"], seed=inputs.seed,
                                   n_draws=settings["n_draws"],
                                   profile_points=settings["profile_points"],
                                   progress=progress, checkpoint=unit.checkpoint, resume=True,
                                   fingerprint=fingerprint)
    record["params_files"] = params_files
    fit = with_mixer_counts(fit)
    write_fit2(fit, unit.out, inputs.trait_files, unit.options,
               {**extra, "run_unit": record})
    warnings = [*data_warnings(data.trait1, label="trait 1"),
                *data_warnings(data.trait2, label="trait 2"),
                *([extra["interval_warning"]] if extra.get("interval_warning") else [])]
    return fit2_summary(fit), warnings


# ------------------------------------------------------------------------------ the plan
def plan_units(analysis, out, inputs, *, settings, replicates=None, rule=None, pairs=None,
               params_files=(), options=None, fingerprint=None, threads=None):
    """The fits of a command: [(group prefix, [FitUnit, ...])].

    A group is what one output prefix holds: the replicates of OUT (combined into OUT.json),
    one pair (OUT.A_vs_B), or a pair's replicates. ``pairs``: :func:`trait_pairs`' list
    (fit2); else one trait (fit1) or one pair (fit2 with ``params_files``). ``checkpoint``
    and ``run`` are filled in by :func:`run_plan`.
    """
    fits = ([(f"{out}.{name}", dataclasses.replace(inputs, trait_files=tuple(files)), params)
             for name, files, params in pairs] if pairs
            else [(out, inputs, tuple(params_files))])
    groups = []
    for prefix, fit_inputs, params in fits:
        units = [FitUnit(analysis, f"{prefix}.rep{k}" if replicates else prefix, fit_inputs,
                         dict(settings), params, k if replicates else None,
                         rule if replicates else None, fingerprint=dict(fingerprint or {}),
                         options=dict(options or {}), threads=threads)
                 for k in (range(1, replicates + 1) if replicates else [None])]
        groups.append((prefix, units))
    return groups


def check_params_files(groups) -> None:
    """Read every univariate params file of the plan's fit2 units before any fit starts and
    any checkpoint is made (a missing or malformed one, one of other statistics or
    settings, or a pair of the same statistics, is an InputError here, not in a task;
    :func:`~bayesmix.cli.mixer_runs.params_for_traits`). A setting that differs is warned
    about once per params file given (``@`` standing for the replicates that differ), not
    once per pair or replicate."""
    from bayesmix.cli.mixer_runs import params_for_traits

    found = {}   # (params file as given, warning) -> replicates
    for _, units in groups:
        for unit in units:
            if unit.params_files:
                paths = [replicate_file(t, unit.replicate) for t in unit.params_files]
                given = dict(zip(paths, unit.params_files))
                warnings = []
                params_for_traits(paths, unit.inputs.trait_files, options=unit.options,
                                  warnings=warnings)
                for path, text in warnings:
                    found.setdefault((given[path], text), set()).add(unit.replicate)
    for (path, text), replicates in found.items():
        numbers = sorted(replicates - {None})
        if "@" in path and numbers:
            path += (f" (replicates {numbers[0]}-{numbers[-1]})"
                     if numbers == list(range(numbers[0], numbers[-1] + 1))
                     else f" (replicates {', '.join(map(str, numbers))})")
        log.warning("warning: %s: %s", path, text)


def run_plan(run_log, groups, *, out, client=None, resume=False, plan=None,
             progress=True) -> list[dict]:
    """Run every unit of ``groups`` (:func:`plan_units`): serially without ``client``, else
    one Dask task each; then combine each group's replicates. Returns the units' results.

    OUT.ckpt holds ``plan.json`` (``plan``: the command's fingerprint, and the run
    identifier) and each unit's finished fit stages; it is refused when it exists without
    ``resume``, must match ``plan`` with it, and is removed when every fit is done.
    """
    from bayesmix.checkpoint import Checkpoint
    from bayesmix.cli.common import kept_on_interrupt
    from bayesmix.cli.mixer_runs import check_outputs
    from bayesmix.errors import InputError

    for prefix, group in groups:   # every file the plan writes, before any work
        for unit in group:
            check_outputs(unit.out, ("json", "nc", "snps")[:2 if unit.replicate is None else 3])
        if group[0].replicate is not None:
            check_outputs(prefix, ("json", "csv"), ("replicates",))
    if any(prefix != out for prefix, _ in groups):
        check_outputs(out, ("pairs.csv",))
    folder = Path(f"{out}.ckpt")
    Checkpoint.check_resume(folder, resume)
    plan = json.loads(json.dumps(plan or {}, default=str))
    plan_path = folder / "plan.json"
    run = uuid.uuid4().hex
    if resume and folder.exists():
        if not plan_path.is_file():
            raise InputError("is a checkpoint of a single fit, not of replicate or pair fits; "
                             "resume it with the same command it came from, or delete it",
                             folder)
        stored = json.loads(plan_path.read_text())
        if stored.get("plan") != plan:
            differ = sorted(k for k in set(plan) | set(stored.get("plan", {}))
                            if plan.get(k) != stored.get("plan", {}).get(k))
            raise InputError("cannot resume: the finished fits were made with other inputs or "
                             f"settings ({', '.join(differ[:4])}); delete it to start over",
                             folder)
        run = stored["run"]
        log.info("resuming the fits of %s", folder)
    folder.mkdir(parents=True, exist_ok=True)
    plan_path.write_text(json.dumps({"plan": plan, "run": run}, indent=1))
    units = [dataclasses.replace(unit, run=run, checkpoint=str(folder / unit.label))
             for _, group in groups for unit in group]
    kept = (f"the finished fits ({', '.join(Path(u.out).name + '.json' for u in units[:2])}"
            f"{', ...' if len(units) > 2 else ''}) and the running fits' stages in {folder} are "
            "kept; rerun the same command with --resume to finish")
    with kept_on_interrupt(kept):
        if client is None:
            results = []
            for k, unit in enumerate(units, 1):
                log.info("fit %d of %d: %s (seed %d)", k, len(units), unit.label, unit.seed)
                results.append(run_unit(dataclasses.replace(unit, threads=None)))
                run_log.say(f"{unit.label}: {results[-1]['line']}")
        else:
            from bayesmix.distributed import run_tasks

            results = run_tasks(client, run_unit, units, desc="MiXeR fits", unit="fits",
                                progress=progress, on_result=lambda k, result: run_log.say(
                                    f"{units[k].label}: {result['line']}"))
    for message in dict.fromkeys(w for result in results for w in result["warnings"]):
        log.warning("warning: %s", message)
    _combine_groups(run_log, groups)
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return results


def _combine_groups(run_log, groups) -> None:
    """Each group of replicates -> its combination (OUT.json, OUT.csv, OUT.replicates.*)."""
    from bayesmix.report.mixer_combine import combine_fits, combined_summary, write_combined

    for prefix, units in groups:
        if units[0].replicate is None:
            continue
        combined = combine_fits([f"{unit.out}.json" for unit in units])
        paths = write_combined(prefix, combined)
        run_log.say(f"{Path(prefix).name}: {combined_summary(combined)}; wrote "
                    f"{', '.join(Path(p).name for p in paths)}")


def write_pairs_table(run_log, out, groups) -> str:
    """OUT.pairs.csv: one row per trait pair (MiXeR's Table 1 layout,
    :func:`bayesmix.report.mixer_bivariate_json.pairs_table`) from the pairs' fit JSONs;
    of replicate fits, from each pair's combination (the mean over the replicates, and
    their SD as the error: :func:`~bayesmix.report.mixer_combine.combined_as_fit_record`)."""
    from bayesmix.io.files import atomic_path
    from bayesmix.report.mixer_bivariate_json import pairs_table, read_fit_json
    from bayesmix.report.mixer_combine import combined_as_fit_record
    from bayesmix.report.mixer_json import read_json

    table = pairs_table([combined_as_fit_record(read_json(f"{prefix}.json"))
                         if units[0].replicate is not None else read_fit_json(f"{prefix}.json")
                         for prefix, units in groups])
    table.insert(0, "pair", [Path(prefix).name[len(Path(out).name) + 1:]
                             for prefix, _ in groups])
    path = f"{out}.pairs.csv"
    with atomic_path(path) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    run_log.say(f"wrote {path} ({len(table)} pairs)")
    return path
