"""What every command line does around its analysis: the output location is checked and
locked before any work, the run log records errors, only the ``bayesmix`` logger speaks, GCTB's
SNP selection reaches the SBayes QC table, and argument mistakes are one-line errors."""

import multiprocessing
import re
import subprocess
import sys

import numpy as np
import pytest

from bayesmix.cli import gctb as gctb_cli
from bayesmix.cli import main as bayesmix_cli
from bayesmix.cli import mixer as mixer_cli
from bayesmix.io.plink import Genotypes


@pytest.fixture(scope="module")
def trait(tmp_path_factory, bfile22):
    """A simulated trait on the first 300 SNPs of the shipped chr22 subset, its GWAS and full
    GCTB LD of those SNPs."""
    d = tmp_path_factory.mktemp("cli_runs")
    snps = Genotypes.open(bfile22).snps["snp"].iloc[:300]
    (d / "snps.txt").write_text("\n".join(snps) + "\n")
    assert bayesmix_cli.main(["simulate", "--bfile", str(bfile22), "--extract",
                              str(d / "snps.txt"), "--prior", "C", "--h2", "0.5",
                              "--n-causal", "10", "--seed", "2", "--out", str(d / "sim")]) == 0
    assert gctb_cli.main(["--bfile", str(bfile22), "--extract", str(d / "snps.txt"),
                          "--make-full-ldm", "--out", str(d / "ref")]) == 0
    return d


def _hold(prefix, ready, release):
    from bayesmix.io.outputs import claim_outputs

    with claim_outputs(prefix, command="bayesmix-gctb --bayes C (the first run)"):
        ready.set()
        release.wait(60)


def test_a_second_run_on_a_live_out_is_refused_before_any_work(trait, bfile22, capsys):
    """Another process holds OUT.lock: the run stops at once naming it, writing nothing; once
    that process ends the same command runs."""
    out = trait / "busy"
    argv = ["--bfile", str(bfile22), "--pheno", str(trait / "sim.phen"), "--extract",
            str(trait / "snps.txt"), "--bayes", "C", "--chain-length", "30", "--burn-in", "10",
            "--out", str(out)]
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(out), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        assert gctb_cli.main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err.startswith("error: ") and str(holder.pid) in err and "(the first run)" in err
        assert sorted(p.name for p in trait.iterdir() if p.name.startswith("busy")) == \
            ["busy.lock"]
    finally:
        release.set()
        holder.join(30)
    assert gctb_cli.main(argv) == 0
    assert (trait / "busy.snpRes").exists() and not (trait / "busy.lock").exists()


def test_a_missing_output_directory_is_refused_before_any_work(trait, bfile22, capsys,
                                                                monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("genotypes read before the output location was checked")

    monkeypatch.setattr(Genotypes, "open", refuse)
    rc = gctb_cli.main(["--bfile", str(bfile22), "--pheno", str(trait / "sim.phen"),
                        "--bayes", "C", "--out", str(trait / "no_such_dir" / "x")])
    assert rc == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_dir" in err[0] and "does not exist" in err[0]


@pytest.mark.parametrize("argv,message", [
    (["--chains", "0"], "argument --chains: must be >= 1, got 0"),
    (["--thin", "-1"], "argument --thin: must be >= 1, got -1"),
    (["--hsq", "1.2"], "argument --hsq: must be < 1, got 1.2"),
    (["--bayes", "Q"], "argument --bayes: invalid choice"),
    (["--sbayes", "R"], "one analysis per run: --bayes C and --sbayes R"),
    (["--make-full-ldm"], "one analysis per run"),
    (["--gwas-summary", "x.ma"], "--gwas-summary does not apply to --bayes C (it applies to "
                                 "--sbayes C/R/S, --ldm-eigen DIR --sbayes C/R/S/RC, "
                                 "--ldm-eigen DIR --impute-summary)"),
    (["--covar", "c.txt", "--qcovar", "c.txt"], "exclude each other"),
    (["--seed", "-1"], "argument --seed: must be >= 0, got -1"),  # was a numpy traceback
])
def test_argument_mistakes_are_one_line_errors(trait, bfile22, capsys, argv, message):
    (trait / "c.txt").write_text("")
    rc = gctb_cli.main(["--bfile", str(bfile22), "--pheno", str(trait / "sim.phen"),
                        "--bayes", "C", *argv, "--out", str(trait / "mistake")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and message in err[0], err
    assert not list(trait.glob("mistake*"))


@pytest.mark.parametrize("main, argv", [
    (mixer_cli.main, ["snps", "--seed", "-2"]),
    (bayesmix_cli.main, ["mixer", "fit", "--seed", "-2"]),
    (bayesmix_cli.main, ["ld", "prune", "--seed", "-2"]),
    (bayesmix_cli.main, ["demo", "--seed", "-2"]),
])
def test_every_seed_option_refuses_a_negative_seed(capsys, main, argv):
    """numpy's generators take seeds >= 0: a negative one is refused up front."""
    assert main(argv) == 1
    assert "argument --seed: must be >= 0, got -2" in capsys.readouterr().err


def test_a_command_called_from_python_keeps_the_callers_garbage_collector(capsys):
    """Only a console script's own process relaxes the cyclic garbage collector
    (bayesmix.cli.common.PROGRAM_GC_THRESHOLD); a command run through ``main(argv)`` in
    someone's Python session leaves the session's thresholds as they were."""
    import gc

    before = gc.get_threshold()
    try:
        gc.set_threshold(555, 7, 9)
        assert bayesmix_cli.main(["demo", "--seed", "-2"]) == 1
        assert gc.get_threshold() == (555, 7, 9)
    finally:
        gc.set_threshold(*before)


@pytest.mark.parametrize("user_flags", ["", "traceback__limit=3"])
def test_a_console_scripts_graphs_carry_no_creation_traces(user_flags):
    """A console script's own process builds its PyTensor graphs without the creation traces
    PyTensor records by default (bayesmix.cli.common.drop_graph_traces): a variable made after
    the command ran has an empty ``tag.trace``, unless the user's PYTENSOR_FLAGS set
    ``traceback__limit``; a command run through ``main(argv)`` in the caller's process leaves
    the caller's setting as it was."""
    import os

    import pytensor
    import pytensor.tensor as pt

    probe = ("import atexit, sys\n"
             "def report():\n"
             "    import pytensor.tensor as pt\n"
             "    print('TRACE', len(pt.scalar('x').tag.trace))\n"
             "atexit.register(report)\n"
             "from bayesmix.cli import main\n"
             "sys.argv = ['bayesmix', 'demo', '--seed', '-2']\n"
             "sys.exit(main.main())\n")
    env = {**os.environ, "PYTENSOR_FLAGS": user_flags}
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 1 and "must be >= 0" in done.stderr, done.stderr
    traced = int(re.search(r"^TRACE (\d+)$", done.stdout, re.M).group(1))
    assert (traced > 0) == bool(user_flags), done.stdout

    with pytensor.config.change_flags(traceback__limit=8):  # the caller wants traces
        assert bayesmix_cli.main(["demo", "--seed", "-2"]) == 1
        assert pytensor.config.traceback__limit == 8 and pt.scalar("y").tag.trace


def test_mixer_fit_sequence_mistakes(trait, capsys):
    rc = mixer_cli.main(["fit1", "--trait1-file", str(trait / "sim.sumstats.gz"), "--ld-file",
                         str(trait / "x_chr@.ld"), "--fit-sequence", "infinitesimal", "bogus",
                         "--out", str(trait / "seq")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "--fit-sequence: unknown fit-sequence step 'bogus'" in err[0]


def test_sbayes_snp_selection_is_counted_in_the_qc_table(trait, capsys):
    """GCTB's --extract/--exclude/--chr reach a summary-data run: each is a row of the QC
    table with the number it dropped, and the analysis has exactly the SNPs left."""
    keep = trait / "keep.snps"
    drop = trait / "drop.snps"
    snps = (trait / "snps.txt").read_text().split()
    keep.write_text("\n".join(snps[:200]) + "\n")
    drop.write_text("\n".join(snps[150:180]) + "\n")
    out = trait / "selected"
    assert gctb_cli.main(["--sbayes", "C", "--gwas-summary", str(trait / "sim.ma"), "--ldm",
                          str(trait / "ref.ldm.full"), "--extract", str(keep), "--exclude",
                          str(drop), "--chr", "22", "--chain-length", "40", "--burn-in", "10",
                          "--thin", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {rule: int(n) for rule, n in re.findall(r"^\s*(not in the --extract list|in the "
                                                   r"--exclude list|not on chromosome 22)"
                                                   r"\s+(\d+)", printed, re.M)}
    assert rows["in the --exclude list"] == 30 and rows["not on chromosome 22"] == 0
    n_snps = len(open(f"{out}.snpRes").read().splitlines()) - 1
    assert rows["not in the --extract list"] >= 100 and n_snps <= 170


def test_only_bayesmix_speaks_on_stderr(trait, bfile22):
    """A normal run logs through the bayesmix logger only: no pytensor/arviz/numba chatter."""
    cmd = [sys.executable, "-c", "from bayesmix.cli.gctb import main; raise SystemExit(main())",
           "--bfile", str(bfile22), "--pheno", str(trait / "sim.phen"), "--extract",
           str(trait / "snps.txt"), "--bayes", "S", "--chain-length", "30", "--burn-in", "10",
           "--out", str(trait / "quiet")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    noisy = [line for line in done.stderr.splitlines()
             if re.search(r"pytensor|arviz|numba|WARNING \(|INFO \(", line, re.I)]
    assert noisy == []
    assert not np.any(["Traceback" in line for line in done.stderr.splitlines()])


def _sbayes_process(trait, out, **popen):
    """``bayesmix-gctb --sbayes C`` on the trait, as its own process (a console script's run,
    which ends through :func:`bayesmix.cli.common.end_process`)."""
    cmd = [sys.executable, "-m", "bayesmix.cli.gctb", "--sbayes", "C", "--gwas-summary",
           str(trait / "sim.ma"), "--ldm", str(trait / "ref.ldm.full"), "--chain-length", "60",
           "--burn-in", "20", "--out", str(out)]
    return subprocess.Popen(cmd, **popen)


def test_a_command_process_ends_with_its_status_and_all_its_output(trait):
    """The process skips the interpreter's teardown, not its output: every printed line
    reaches the pipe and the log file, the exit status is the run's (0, then 1 for an error
    named on stderr)."""
    done = _sbayes_process(trait, trait / "ended", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    printed, errors = done.communicate(timeout=300)
    assert done.returncode == 0, errors
    assert printed.rstrip().splitlines()[-1].startswith("Analysis finished in")
    assert (trait / "ended.log").read_text().rstrip().splitlines()[-1].startswith(
        "Analysis finished in")
    missing = _sbayes_process(trait, trait / "missing" / "x", stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    _, errors = missing.communicate(timeout=300)
    assert missing.returncode == 1 and errors.strip().startswith("error:")


def test_a_reader_that_stops_early_leaves_the_run_whole(trait):
    """``bayesmix-gctb ... | head -1``: once the pipe has no reader the run goes on without
    printing (no BrokenPipeError traceback); its outputs and log are complete."""
    out = trait / "piped"
    run = _sbayes_process(trait, out, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run.stdout.readline()
    run.stdout.close()                     # the reader goes away after one line
    errors = run.stderr.read().decode()
    assert run.wait(timeout=300) == 0 and "Traceback" not in errors, errors
    assert len((out.parent / "piped.snpRes").read_text().splitlines()) > 1
    assert (out.parent / "piped.log").read_text().rstrip().splitlines()[-1].startswith(
        "Analysis finished in")


def _interrupted_run(argv, ready):
    """Run bayesmix-gctb in this process and send it SIGINT once ``ready()`` is true (polled;
    a fixed delay raced the run's start-up on a loaded machine)."""
    import os
    import signal
    import threading
    import time

    done = threading.Event()

    def interrupt_when_ready():
        deadline = time.monotonic() + 300.0
        while not done.is_set() and time.monotonic() < deadline:
            if ready():
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=interrupt_when_ready, daemon=True)
    watcher.start()
    try:
        return gctb_cli.main(argv)
    finally:
        done.set()
        watcher.join()


def test_resume_refuses_changed_inputs_and_settings_naming_them(trait, bfile22, capsys):
    """After an interrupt the checkpoint is only continued with --resume, and only when every
    input file and setting is as it was: each change is refused, naming the option."""
    import shutil

    pheno = trait / "resume.phen"
    shutil.copy(trait / "sim.phen", pheno)
    out = trait / "resume"
    argv = ["--bfile", str(bfile22), "--pheno", str(pheno), "--extract", str(trait / "snps.txt"),
            "--bayes", "C", "--chain-length", "1000000", "--burn-in", "10", "--thin", "10",
            "--out-freq", "0", "--no-netcdf", "--no-mcmc-bin", "--out", str(out)]
    checkpoint = trait / "resume.ckpt.chain0"
    assert _interrupted_run(argv, ready=checkpoint.exists) == 130  # after the first saved one
    assert "--resume" in capsys.readouterr().err.strip().splitlines()[-1]
    assert checkpoint.exists()

    def refused(extra, *, edit=None):
        if edit is not None:
            edit()
        rc = gctb_cli.main(argv + extra)
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 1 and len(err) == 1, err
        return err[0]

    assert "give --resume" in refused([])
    assert "--hsq: 0.1 in the checkpoint, now 0.3" in refused(["--resume", "--hsq", "0.3"])
    assert "--seed" in refused(["--resume", "--seed", "7"])
    (trait / "few.snps").write_text("\n".join((trait / "snps.txt").read_text().split()[:5]))
    message = refused(["--resume", "--exclude", str(trait / "few.snps")])
    assert "--exclude: (absent) in the checkpoint, now " in message
    original = pheno.read_text()
    lines = original.splitlines()
    lines[0] = " ".join(lines[0].split()[:2] + ["0.123"])
    message = refused(["--resume"], edit=lambda: pheno.write_text("\n".join(lines) + "\n"))
    assert message.count(" in the checkpoint, now ") == 1 and "--pheno: " in message
    pheno.write_text(original)
    # as it was: the run continues from the checkpoint (stopped again here)
    saved = checkpoint.stat().st_mtime_ns
    assert _interrupted_run(argv + ["--resume"],
                            ready=lambda: checkpoint.stat().st_mtime_ns != saved) == 130
    assert "resuming chain 0 from iteration" in capsys.readouterr().err


SBAYES_SHORT = ["--sbayes", "C", "--chain-length", "40", "--burn-in", "10", "--out-freq", "0"]


def _one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_an_output_path_that_is_a_directory_is_refused_before_any_work(trait, bfile22, capsys,
                                                                       monkeypatch):
    """A directory at OUT.parRes (or any other file of the run) ended, after all the
    sampling, in an IsADirectoryError traceback (audit): each is refused before any data is
    read or any chain runs, naming it, and is left as it was."""
    import bayesmix.inference.chain as chain
    import bayesmix.ld.compute as compute

    def refuse(*args, **kwargs):
        raise AssertionError("the work started before the outputs were checked")

    monkeypatch.setattr(chain, "run_chains", refuse)
    monkeypatch.setattr(compute, "build_ld", refuse)
    sbayes = [*SBAYES_SHORT, "--ldm", f"{trait}/ref.ldm.full", "--gwas-summary",
              f"{trait}/sim.ma", "--chains", "2"]
    bayes = ["--bayes", "C", "--bfile", str(bfile22), "--pheno", str(trait / "sim.phen"),
             "--extract", str(trait / "snps.txt")]
    ld = ["--bfile", str(bfile22), "--extract", str(trait / "snps.txt"), "--make-full-ldm"]
    for k, (argv, name) in enumerate([
            (sbayes, "parRes"), (sbayes, "snpRes"), (sbayes, "nc"),
            (sbayes, "mcmcsamples.SnpEffects"), (sbayes, "chain1.mcmcsamples.Par"),
            (sbayes, "ckpt.chain1"), (sbayes, "log"), (bayes, "covRes"),
            (ld, "ldm.full.bin"), (ld, "ldm.full.info")]):
        blocked = trait / f"blocked{k}.{name}"
        blocked.mkdir()
        assert gctb_cli.main([*argv, "--out", str(trait / f"blocked{k}")]) == 1, name
        message = _one_error(capsys)
        assert message == (f"error: {blocked}: is a directory, where this run writes an output "
                           "file: move or delete it, or choose another --out"), message
        assert blocked.is_dir() and not list(blocked.iterdir())
        assert {p.name for p in trait.glob(f"blocked{k}.*")} <= {blocked.name,
                                                                  f"blocked{k}.log"}


def test_the_declared_mcmc_outputs_are_the_files_a_run_writes(trait, bfile22):
    """The files checked before an MCMC run (gctb_runs._mcmc_outputs) are those it writes:
    the run's files, less the chains' checkpoints (removed at the end), plus its log."""
    from bayesmix.cli.gctb import SPEC
    from bayesmix.cli.gctb_runs import _mcmc_outputs
    from bayesmix.cli.options import parse

    out = trait / "declared"
    argv = ["--bayes", "C", "--bfile", str(bfile22), "--pheno", str(trait / "sim.phen"),
            "--extract", str(trait / "snps.txt"), "--chain-length", "30", "--burn-in", "10",
            "--out-freq", "0", "--chains", "2", "--out", str(out)]
    assert gctb_cli.main(argv) == 0
    written = {str(p) for p in trait.glob("declared.*")}
    declared = set(_mcmc_outputs(parse(SPEC, argv)))
    checkpoints = {p for p in declared if ".ckpt.chain" in p}
    assert len(checkpoints) == 2
    assert written == declared - checkpoints | {f"{out}.log"}


def test_impute_summary_refused_for_a_trait_list_names_the_option_given(trait, capsys):
    """--mgwas-summary with --impute-summary was refused naming --gwas-summary (in the
    analysis' label), an option the user had not given (audit)."""
    (trait / "impute_list.txt").write_text(f"{trait}/sim.ma\n")
    assert gctb_cli.main(["--ldm-eigen", str(trait), "--mgwas-summary",
                          str(trait / "impute_list.txt"), "--impute-summary", "--out",
                          str(trait / "imputed")]) == 1
    message = _one_error(capsys)
    assert message.startswith("error: --mgwas-summary does not apply to --ldm-eigen DIR "
                              "--impute-summary"), message
    assert "--gwas-summary" not in message.replace("--mgwas-summary", "")


def test_a_too_short_burn_in_is_refused_once_for_a_trait_list(trait, capsys):
    """A burn-in too short for SBayes's plug-ins (test_sbayes_ld_plug_in_mean.py) was refused
    by each trait's run, after its data was read, and reported once per trait and again in
    the summary; it is one error before any trait runs, whatever the number of traits."""
    (trait / "burn_in_list.txt").write_text(f"{trait}/sim.ma one\n{trait}/sim.ma two\n")
    assert gctb_cli.main(["--sbayes", "C", "--ldm", f"{trait}/ref.ldm.full", "--mgwas-summary",
                          str(trait / "burn_in_list.txt"), "--chain-length", "40",
                          "--burn-in", "1", "--out", str(trait / "burn_in")]) == 1
    message = _one_error(capsys)
    assert message.startswith("error: a burn-in of 1 (--burn-in, or pm.sample's tune) is too "
                              "short for SBayesC's plug-ins"), message
    assert not list(trait.glob("burn_in.one*")) and not list(trait.glob("burn_in.two*"))


def test_a_trait_list_takes_file_names_with_spaces(trait, capsys):
    """A statistics file whose name has spaces is listed as a whole line, quoted, or with a
    tab before the trait's name (audit: it was split at the space); each trait's analysis
    is that of --gwas-summary on the file."""
    import shutil

    spaced = trait / "my trait.ma"
    shutil.copy(trait / "sim.ma", spaced)
    (trait / "spaced.txt").write_text(f"{spaced}\n\"{spaced}\" quoted\n{spaced}\ttabbed\n")
    base = [*SBAYES_SHORT, "--ldm", f"{trait}/ref.ldm.full"]
    assert gctb_cli.main([*base, "--mgwas-summary", str(trait / "spaced.txt"), "--out",
                          str(trait / "spaced")]) == 0
    assert gctb_cli.main([*base, "--gwas-summary", str(spaced), "--out",
                          str(trait / "single")]) == 0
    single = (trait / "single.snpRes").read_text()
    for name in ("my_trait", "quoted", "tabbed"):
        assert (trait / f"spaced.{name}.snpRes").read_text() == single
    capsys.readouterr()
    (trait / "unspaced.txt").write_text(f"{trait}/missing trait.ma\n")
    assert gctb_cli.main([*base, "--mgwas-summary", str(trait / "unspaced.txt"), "--out",
                          str(trait / "spaced")]) == 1
    message = _one_error(capsys)
    assert message.startswith(f"error: {trait}/unspaced.txt, line 1: no such statistics file: "
                              f"{trait}/missing (nor is the whole line"), message
    assert "quote it" in message and "tab" in message


def _resume_warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning: --resume")]


def test_resume_without_a_checkpoint_warns_once(trait, bfile22, capsys):
    """--resume with no checkpoint to continue (a typo in --out?) started from iteration 0
    with an info line per chain (audit): one warning, on stderr and in OUT.log, whatever the
    number of chains or traits; LD builds warn the same way."""
    base = [*SBAYES_SHORT, "--ldm", f"{trait}/ref.ldm.full", "--chains", "3", "--resume"]
    out = trait / "fresh"
    assert gctb_cli.main([*base, "--gwas-summary", f"{trait}/sim.ma", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    warning = (f"warning: --resume: no checkpoint {out}.ckpt.chain0 to .chain2 to continue; "
               "starting from iteration 0 (resuming needs the interrupted command's --out)")
    assert _resume_warnings(err) == [warning]
    assert "starts from iteration 0" not in err    # not once more per chain
    assert _resume_warnings((trait / "fresh.log").read_text()) == [warning]

    (trait / "two.txt").write_text(f"{trait}/sim.ma one\n{trait}/sim.ma two\n")
    out = trait / "fresh_traits"
    assert gctb_cli.main([*base, "--mgwas-summary", str(trait / "two.txt"), "--out",
                          str(out)]) == 0
    err = capsys.readouterr().err
    assert len(_resume_warnings(err)) == 1 and "starts from iteration 0" not in err
    assert f"{out}.NAME.ckpt.chainK" in _resume_warnings(err)[0]
    assert _resume_warnings((trait / "fresh_traits.log").read_text()) == _resume_warnings(err)
    for name in ("one", "two"):   # each trait's own log says it of the trait
        assert len(_resume_warnings((trait / f"fresh_traits.{name}.log").read_text())) == 1

    out = trait / "fresh_ld"
    assert gctb_cli.main(["--bfile", str(bfile22), "--extract", str(trait / "snps.txt"),
                          "--make-full-ldm", "--resume", "--out", str(out)]) == 0
    assert _resume_warnings(capsys.readouterr().err) == [
        f"warning: --resume: no checkpoint {out}.ldm.full.ckpt to continue; starting from the "
        "beginning (resuming needs the interrupted command's --out)"]
