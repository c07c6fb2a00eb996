"""Checkpoints: refused without resume, fingerprints naming every difference, time per
iteration after a resume, and what an interrupted run's ChainsResult holds."""

import hashlib
import io
import logging
import pickle
import signal
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesmix.errors import InputError
from bayesmix.inference.chain import (ChainSettings, ProgressPrinter, fingerprint_differences,
                                      read_checkpoint, run_chain, run_chains, write_checkpoint)
from bayesmix.inference.gibbs import make_steps
from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
from bayesmix.inference.step_base import PLUG_IN_WARM_UP
from bayesmix.report.gctb import write_outputs

from chain_models import (assert_same_chain, bayes_r, cohort, kept_iterations, sbayes_r,
                          signal_at_call)

BASE = dict(chain_length=90, burn_in=30, thin=3, out_freq=0, seed=11, store_snp_draws=True)
PHENO = hashlib.sha256(b"phenotype file A").hexdigest()


@pytest.fixture(scope="module")
def model():
    return bayes_r()


@pytest.fixture(scope="module")
def reference(model):
    return run_chains(model, make_steps, ChainSettings(**BASE), chains=2)


def interrupted_run(model, prefix, call=50, make=make_steps, **changes):
    """A one-chain run stopped by SIGINT during iteration ``call``; returns its settings."""
    settings = ChainSettings(**{**BASE, **changes}, checkpoint=str(prefix),
                             checkpoint_every=0, fingerprint={"--pheno": PHENO})
    steps = make(model)
    signal_at_call(steps[0], call)
    result = run_chain(model, steps, settings)
    assert result.interrupted and result.completed == call
    return settings


def counting_steps(make=make_steps):
    """make_steps that counts the effects-step calls of every chain (to show none ran)."""
    calls = []

    def build(m):
        steps = make(m)
        original = steps[0].step

        def counted(point):
            calls.append(1)
            return original(point)

        steps[0].step = counted
        return steps

    return build, calls


def test_a_checkpoint_is_refused_without_resume(model, tmp_path):
    settings = interrupted_run(model, tmp_path / "run")
    path = tmp_path / "run.chain0"
    before = path.read_bytes()
    settings.resume = False
    build, calls = counting_steps()
    with pytest.raises(InputError) as caught:
        run_chains(model, build, settings)
    message = str(caught.value)
    assert "checkpoint of an unfinished run exists at" in message and str(path) in message
    assert "--resume" in message and "delete" in message
    assert calls == [] and path.read_bytes() == before


def test_resume_without_a_checkpoint_starts_from_zero(model, reference, tmp_path, caplog):
    settings = ChainSettings(**BASE, checkpoint=str(tmp_path / "run"), resume=True)
    with caplog.at_level(logging.INFO, logger="bayesmix"):
        result = run_chains(model, make_steps, settings)
    assert "starts from iteration 0" in caplog.text
    assert_same_chain(result.chains[0], reference.chains[0])
    assert not (tmp_path / "run.chain0").exists()


def test_every_fingerprint_entry_is_compared(model, tmp_path):
    """Each entry of a checkpoint's fingerprint, changed alone, is named with both values;
    an entry only the checkpoint has is named too."""
    settings = interrupted_run(model, tmp_path / "run")
    path = tmp_path / "run.chain0"
    header, state = read_checkpoint(path)
    original = dict(header["fingerprint"])
    assert {"chain length", "burn-in", "thin", "seed", "stored SNP draws", "method", "SNPs",
            "mixture components", "monitored", "steps", "component variances (gamma)",
            "prior of sig2_e", "prior of sig2_beta", "prior of pi", "starting values",
            "--pheno"} <= set(original)
    settings.resume = True
    for name, value in original.items():
        changed = "f" * 64 if len(value) == 64 else f"not {value}"
        write_checkpoint(path, {**{k: v for k, v in header.items()
                                   if k not in ("format", "version")},
                                "fingerprint": {**original, name: changed}}, state)
        with pytest.raises(InputError) as caught:
            run_chains(model, make_steps, settings)
        message = str(caught.value)
        shown = "ffffffffffff" if len(value) == 64 else changed
        now = value[:12] if len(value) == 64 else value
        assert f"{name}: {shown} in the checkpoint, now {now}" in message, message
        assert message.count(" in the checkpoint, now ") == 1
    write_checkpoint(path, {"chain": 0, "iteration": 50, "chain_length": 90,
                            "fingerprint": {**original, "--gwas-summary": "abc"}}, state)
    with pytest.raises(InputError, match=r"--gwas-summary: abc in the checkpoint, now \(absent\)"):
        run_chains(model, make_steps, settings)


VARIATIONS = [  # (what changes, settings changes, model options, entries that must be named)
    ("seed", {"seed": 12}, {}, {"seed"}),
    ("thin and burn-in", {"thin": 5, "burn_in": 20}, {}, {"thin", "burn-in"}),
    ("chain length", {"chain_length": 120}, {}, {"chain length"}),
    ("stored draws", {"store_snp_draws": False}, {}, {"stored SNP draws"}),
    ("--hsq", {}, {"hsq": 0.3}, {"prior of sig2_beta", "starting values"}),
    ("--gamma", {}, {"gamma": (0, 0.001, 0.1, 1)}, {"component variances (gamma)"}),
    ("--pi", {}, {"pi": (0.9, 0.05, 0.03, 0.02)}, {"starting values"}),
    ("phenotype", {}, {"y": "other"}, {"starting values"}),
    ("--pheno digest", {"fingerprint": {"--pheno": hashlib.sha256(b"B").hexdigest()}}, {},
     {"--pheno"}),
]


@pytest.mark.parametrize("what, setting_changes, model_changes, named", VARIATIONS,
                         ids=[v[0] for v in VARIATIONS])
def test_changed_inputs_or_settings_are_refused(model, tmp_path, what, setting_changes,
                                                model_changes, named):
    interrupted_run(model, tmp_path / "run")
    if model_changes.get("y") == "other":
        _, _, y, _ = cohort(seed=5)
        model_changes = {"y": y}
    other = bayes_r(**model_changes) if model_changes else model
    settings = ChainSettings(**{**BASE, "fingerprint": {"--pheno": PHENO}, **setting_changes},
                             checkpoint=str(tmp_path / "run"), resume=True)
    build, calls = counting_steps()
    with pytest.raises(InputError) as caught:
        run_chains(other, build, settings)
    message = str(caught.value)
    for name in named:
        assert f"{name}: " in message, (name, message)
    assert calls == []
    if what == "--pheno digest":  # digests are shown shortened
        assert PHENO[:12] in message and PHENO not in message


def test_method_snps_and_ld_ridge_are_compared(tmp_path):
    base = sbayes_r()
    interrupted_run(base, tmp_path / "run", make=make_sbayes_steps, call=40)
    settings = ChainSettings(**BASE, checkpoint=str(tmp_path / "run"), resume=True,
                             fingerprint={"--pheno": PHENO})
    from bayesmix.models.sbayes import SBayesModel

    from chain_models import summary_data

    for other, name in [(sbayes_r(ridge=0.1), "LD ridge"),
                        (SBayesModel(summary_data(m=150), "R", robust=False), "SNPs"),
                        (SBayesModel(summary_data(), "C", robust=False), "method")]:
        with pytest.raises(InputError, match=f"{name}: "):
            run_chains(other, make_sbayes_steps, settings)


def test_all_chains_are_checked_before_any_runs(model, tmp_path):
    """Chain 1's checkpoint is from another seed: the error comes before chain 0 runs."""
    interrupted_run(model, tmp_path / "run", seed=99)
    (tmp_path / "run.chain0").rename(tmp_path / "run.chain1")
    build, calls = counting_steps()
    settings = ChainSettings(**BASE, checkpoint=str(tmp_path / "run"), resume=True,
                             fingerprint={"--pheno": PHENO})
    with pytest.raises(InputError, match="seed: 99 in the checkpoint, now 11") as caught:
        run_chains(model, build, settings, chains=2)
    assert "run.chain1" in str(caught.value)
    assert calls == [] and not (tmp_path / "run.chain0").exists()


def test_a_checkpoint_of_the_old_format_is_refused(model, tmp_path):
    with open(tmp_path / "run.chain0", "wb") as fh:
        pickle.dump({"key": "0" * 64, "iteration": 10, "point": {}}, fh)
    settings = ChainSettings(**BASE, checkpoint=str(tmp_path / "run"), resume=True)
    with pytest.raises(InputError, match="not a checkpoint of this bayesmix version"):
        run_chains(model, make_steps, settings)
    (tmp_path / "run.chain0").write_bytes(b"garbage")
    with pytest.raises(InputError, match="unreadable checkpoint"):
        run_chains(model, make_steps, settings)


def test_fingerprint_differences_by_hand():
    digest_a, digest_b = "a" * 64, "b" * 64
    old = {"seed": "1", "--ldm": digest_a, "gone": "x"}
    new = {"seed": "2", "--ldm": digest_b, "added": "y"}
    assert fingerprint_differences(old, new) == [
        "seed: 1 in the checkpoint, now 2",
        "--ldm: aaaaaaaaaaaa in the checkpoint, now bbbbbbbbbbbb",
        "added: (absent) in the checkpoint, now y",
        "gone: x in the checkpoint, now (absent)"]
    assert fingerprint_differences(old, dict(old)) == []


# --------------------------------------------------------------------------- timing
def test_seconds_per_iteration_count_only_this_process(model, tmp_path):
    """Each iteration sleeps 20 ms. Stopped at 25 of 30 then resumed for 5: the resumed
    chain's time per iteration is ~20 ms (its 5 iterations), not its time over 30."""
    def slow_steps(m):
        steps = make_steps(m)
        original = steps[0].step

        def slow(point):
            time.sleep(0.02)
            return original(point)

        steps[0].step = slow
        return steps

    settings = ChainSettings(chain_length=30, burn_in=10, thin=1, out_freq=0, seed=1,
                             checkpoint=str(tmp_path / "run"), checkpoint_every=0)
    steps = slow_steps(model)
    signal_at_call(steps[0], 25)
    first = run_chain(model, steps, settings)
    assert first.completed == 25 and first.iterations_run == 25
    settings.resume = True
    resumed = run_chain(model, slow_steps(model), settings)
    assert resumed.completed == 30 and resumed.resumed_from == 25 and resumed.iterations_run == 5
    assert 0.02 <= resumed.seconds_per_iteration < 0.2
    assert resumed.seconds < 5 * 0.2


def test_time_left_after_a_resume():
    """Resumed at iteration 500 of 1000: the timer starts when iteration 501 ends; at
    iteration 600, 99 iterations took 99 s, so 400 iterations are left: 400 s = 0:06:40."""
    now = [0.0]
    printer = ProgressPrinter(["hsq"], 100, 1000, stream=io.StringIO(), clock=lambda: now[0])
    printer.update(501, {"hsq": 0.5})
    now[0] = 99.0
    printer.update(600, {"hsq": 0.5})
    assert printer.lines[-1].split()[-1] == "0:06:40"
    printer = ProgressPrinter(["hsq"], 100, 1000, stream=io.StringIO(), clock=lambda: 0.0)
    printer.update(600, {"hsq": 0.5})  # first iteration of this process: nothing timed yet
    assert printer.lines[-1].split()[-1] == "-"


# --------------------------------------------------------------------------- partial results
def interrupted_in_chain_1(model, tmp_path, call):
    """Two serial chains; SIGTERM during chain 1's iteration ``call`` (0 = before it starts)."""
    built = []

    def build(m):
        steps = make_steps(m)
        built.append(steps)
        if len(built) == 1 and call == 0:
            signal_at_call(steps[0], BASE["chain_length"], signal.SIGTERM)
        if len(built) == 2:
            signal_at_call(steps[0], call, signal.SIGTERM)
        return steps

    settings = ChainSettings(**BASE, checkpoint=str(tmp_path / "run"), checkpoint_every=0)
    return run_chains(model, build, settings, chains=2), settings


def test_partial_results_pool_what_finished(model, reference, tmp_path):
    result, settings = interrupted_in_chain_1(model, tmp_path, 50)
    c0, c1 = result.chains
    assert (c0.completed, c1.completed) == (90, 50) and result.interrupted
    assert (c0.stopped_by, c1.stopped_by) == (None, signal.SIGTERM)
    assert result.exit_code == 143  # 128 + SIGTERM, as a shell reports it
    kept0, kept1 = kept_iterations(settings, 90), kept_iterations(settings, 50)
    assert result.draws_per_chain == [len(kept0), len(kept1)]
    assert result.n_draws == len(kept0) + len(kept1) == 20 + 6  # 33, 36, ..., 48
    trace = result.trace("hsq")
    assert trace.shape == (2, 20)
    np.testing.assert_array_equal(trace[1, :6], reference.chains[1].traces["hsq"][:6])
    assert np.isnan(trace[1, 6:]).all() and not np.isnan(trace[0]).any()
    # per-SNP summaries: every finished post-burn-in iteration, 60 + 20 of them
    count = 60 + 20
    nonzero = c0.snp.nonzero + c1.snp.nonzero
    sums = c0.snp.sum_beta + c1.snp.sum_beta
    summary = result.snp_summary()
    np.testing.assert_allclose(summary["PIP"], nonzero / count, rtol=0, atol=1e-15)
    np.testing.assert_allclose(summary["mean_x_scale"], sums / count, rtol=1e-15, atol=1e-300)
    alpha = np.concatenate([c0.alpha, c1.alpha])
    np.testing.assert_allclose(result.covariate_summary()["Mean"], alpha.mean(0), rtol=1e-14)
    # diagnostics: pooled mean/SD; ESS summed over chains; R-hat on chains cut to 6 draws
    import arviz  # noqa: F401

    diag = result.diagnostics().set_index("Parameter")
    hsq = np.concatenate([c0.traces["hsq"], c1.traces["hsq"]])
    assert diag.loc["hsq", "Mean"] == pytest.approx(hsq.mean(), rel=1e-14)
    assert diag.loc["hsq", "SD"] == pytest.approx(hsq.std(ddof=1), rel=1e-14)
    per_chain = [float(xr.DataArray(c.traces["hsq"][None], dims=("chain", "draw"))
                       .azstats.ess(method="bulk")) for c in (c0, c1)]
    assert diag.loc["hsq", "ESS_bulk"] == pytest.approx(sum(per_chain), rel=1e-12)
    cut = np.stack([c0.traces["hsq"][:6], c1.traces["hsq"][:6]])
    rhat = float(xr.DataArray(cut, dims=("chain", "draw")).azstats.rhat())
    assert diag.loc["hsq", "R_hat"] == pytest.approx(rhat, rel=1e-12)
    # the outputs of the finished iterations
    paths = write_outputs(result, tmp_path / "out")
    samples = [pd.read_csv(tmp_path / name, sep=r"\s+")
               for name in ("out.mcmcsamples.Par", "out.chain1.mcmcsamples.Par")]
    assert [len(s) for s in samples] == [20, 6]
    np.testing.assert_allclose(samples[1]["hsq"], c1.traces["hsq"], rtol=1e-7)
    tree = xr.open_datatree(tmp_path / "out.nc", engine="h5netcdf")
    iterations = tree["sample_stats"]["iteration"].values
    np.testing.assert_array_equal(iterations[1], kept1 + [0] * 14)
    assert len(paths) == 8  # .parRes .snpRes .covRes, Par and SnpEffects per chain, .nc


def test_resume_does_not_repeat_a_finished_chain(model, reference, tmp_path):
    result, settings = interrupted_in_chain_1(model, tmp_path, 50)
    settings.resume = True
    build, calls = counting_steps()
    resumed = run_chains(model, build, settings, chains=2)
    assert len(calls) == 40  # chain 1's last 40 iterations only
    for chain, ref in zip(resumed.chains, reference.chains):
        assert_same_chain(chain, ref)
    assert not any(tmp_path.glob("run.chain*"))
    assert resumed.exit_code == 0 and not resumed.interrupted


def test_robust_plug_ins_resume_on_their_schedule(tmp_path):
    """SBayes with the LD-sampling plug-ins, stopped in burn-in after the plug-ins' warm-up
    (from then on they are set every PLUG_IN_EVERY-th iteration, counted back from the last
    burn-in iteration) and resumed: bit-identical to the uninterrupted chain."""
    robust = sbayes_r(robust=True)
    assert robust.has_sampling_ratio
    changes = dict(chain_length=PLUG_IN_WARM_UP + 45, burn_in=PLUG_IN_WARM_UP + 27)
    reference = run_chain(robust, make_sbayes_steps(robust), ChainSettings(**{**BASE, **changes}))
    settings = interrupted_run(robust, tmp_path / "run", make=make_sbayes_steps,
                               call=PLUG_IN_WARM_UP + 13, **changes)
    settings.resume = True
    assert_same_chain(run_chain(robust, make_sbayes_steps(robust), settings), reference)


def test_a_chain_not_started_adds_nothing(model, tmp_path):
    """The signal ends chain 0 at its very last iteration: chain 0 is complete, chain 1
    never starts; the result is chain 0's alone."""
    result, _ = interrupted_in_chain_1(model, tmp_path, 0)
    c0, c1 = result.chains
    assert (c0.completed, c1.completed) == (90, 0) and result.interrupted
    assert not c0.interrupted and c1.interrupted
    assert result.n_draws == 20 and result.draws_per_chain == [20, 0]
    np.testing.assert_array_equal(result.snp_summary()["PIP"], c0.snp.nonzero / 60)
    assert np.isnan(result.trace("hsq")[1]).all()
    assert result.progress_summary() == "chain 0: 90/90; chain 1: not started"
    assert c1.stopped_by == signal.SIGTERM and result.exit_code == 143


def test_stopped_during_burn_in_leaves_nothing_to_write(model, tmp_path):
    settings = ChainSettings(**BASE, checkpoint=str(tmp_path / "run"))
    steps = make_steps(model)
    signal_at_call(steps[0], 12)
    chain = run_chain(model, steps, settings)
    from bayesmix.inference.results import ChainsResult

    result = ChainsResult.from_chains(model, settings, [chain])
    assert result.interrupted and result.n_draws == 0 and chain.completed == 12
    assert (tmp_path / "run.chain0").exists()  # but the burn-in done so far is kept


def test_alphabet_prior_options_reach_the_fingerprint():
    """--hsq changes the constant prior scale s2 of sig2_e: (nu - 2)/nu x (1 - hsq) var(y)."""
    from bayesmix.inference.chain import chain_fingerprint

    var_y = np.var(cohort()[2], ddof=1)  # intercept only: the phenotype's variance
    for hsq in (0.5, 0.2):
        m = bayes_r(hsq=hsq)
        fp = chain_fingerprint(m, make_steps(m), ChainSettings(**BASE))
        # InvGamma(alpha = nu / 2, beta = nu s2 / 2), nu = 4, s2 = (nu - 2) / nu (1 - hsq) var_y
        beta = 4 / 2 * (4 - 2) / 4 * (1 - hsq) * var_y
        assert fp["prior of sig2_e"] == f"InvGammaRV(2, {beta:.10g})"


@pytest.fixture(scope="module")
def small_run(bfile22, tmp_path_factory):
    """Arguments of a short bayesmix-gctb BayesC run on 300 shipped SNPs and a simulated
    trait (``--out`` appended by the tests), and its uninterrupted .parRes."""
    import os

    from bayesmix.cli.gctb import main
    from bayesmix.io.plink import Genotypes
    from bayesmix.simulate.effects import bayesc_effects
    from bayesmix.simulate.phenotype import simulate_phenotypes, write_phen

    work = tmp_path_factory.mktemp("write_stop")
    snps = Genotypes.open(bfile22).snps["snp"].to_numpy()[:300]
    (work / "snps.txt").write_text("\n".join(snps) + "\n")
    geno = Genotypes.open(bfile22, extract=snps)
    rng = np.random.default_rng(5)
    pheno = simulate_phenotypes(geno, bayesc_effects(geno.heterozygosity, 0.5, rng=rng,
                                                     n_causal=5), 0.5, rng=rng)
    write_phen(work / "y.phen", pheno.samples, pheno.y)
    argv = ["--bfile", str(bfile22), "--extract", str(work / "snps.txt"), "--pheno",
            str(work / "y.phen"), "--bayes", "C", "--chain-length", "60", "--burn-in", "20",
            "--thin", "2", "--out-freq", "0", "--seed", "3"]
    assert main([*argv, "--out", str(work / "ref")]) == 0
    assert not os.path.exists(work / "ref.ckpt.chain0")
    return work, argv, (work / "ref.parRes").read_text()


OUTPUTS = (".parRes", ".snpRes", ".mcmcsamples.Par", ".mcmcsamples.SnpEffects", ".nc")


def test_a_signal_while_the_outputs_are_written_waits_for_them(small_run, monkeypatch):
    """SIGINT arriving as the outputs are written (an audit lost every output but the
    .parRes and the checkpoint with them): the writing finishes, the run exits 0 saying
    the signal came after the work, and the checkpoint is gone."""
    import os

    import bayesmix.report.gctb as report
    from bayesmix import interrupt
    from bayesmix.cli.gctb import main

    work, argv, expected = small_run
    real = report.write_outputs

    def signalled(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)            # the handler runs here, in the middle of the writing
        return real(*args, **kwargs)

    monkeypatch.setattr(report, "write_outputs", signalled)
    try:
        rc = main([*argv, "--out", str(work / "sig")])
    finally:
        interrupt.forget()
    assert rc == 0
    assert all((work / f"sig{suffix}").exists() for suffix in OUTPUTS)
    assert (work / "sig.parRes").read_text() == expected
    assert not (work / "sig.ckpt.chain0").exists()
    assert "arrived after the work had finished" in (work / "sig.log").read_text()


def test_a_run_that_dies_while_writing_keeps_its_checkpoint(small_run, monkeypatch):
    """The chains' checkpoints go only after the outputs are written: a run that fails there
    (disk full, killed) is finished by --resume without sampling again, with the outputs
    of an uninterrupted run."""
    import bayesmix.report.gctb as report
    from bayesmix.cli.gctb import main

    work, argv, expected = small_run

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_outputs", disk_full)
    with pytest.raises(OSError):
        main([*argv, "--out", str(work / "full")])
    assert (work / "full.ckpt.chain0").exists()
    monkeypatch.undo()
    assert main([*argv, "--resume", "--out", str(work / "full")]) == 0
    assert (work / "full.parRes").read_text() == expected
    assert not (work / "full.ckpt.chain0").exists()


def test_only_chain_checkpoints_count_as_checkpoints(tmp_path):
    """A trait named 'a.ckpt.chain9' has outputs 'OUT.a.ckpt.chain9.log' ...: they were
    taken for a leftover checkpoint (and read as one with --resume)."""
    from bayesmix.inference.chain import existing_checkpoints

    for name in ("o.ckpt.chain0", "o.ckpt.chain12", "o.ckpt.chain9.log", "o.ckpt.chainX",
                 "o.ckpt.chain3.parRes"):
        (tmp_path / name).write_text("")
    assert existing_checkpoints(tmp_path / "o.ckpt") == [str(tmp_path / "o.ckpt.chain0"),
                                                         str(tmp_path / "o.ckpt.chain12")]
