"""MCMC on Dask (issue 14): chains and traits as tasks give the serial run's results bit for
bit, a worker killed mid-run has its task rerun without changing them, and finished work is
kept.

One LocalCluster of 2 worker processes (one thread each) serves every test, as
``--cluster local:2`` starts it; the command lines reach it with ``--dask-scheduler``.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from bayesmix.cli.gctb import main  # noqa: E402
from bayesmix.distributed import connect  # noqa: E402
from bayesmix.inference.chain import ChainSettings, read_checkpoint, run_chains  # noqa: E402,E501
from bayesmix.inference.gibbs import make_steps  # noqa: E402
from bayesmix.inference.sbayes_eigen_gibbs import make_eigen_steps  # noqa: E402
from bayesmix.inference.sbayes_gibbs import make_sbayes_steps  # noqa: E402

from chain_models import assert_same_chain, bayes_r, sbayes_eigen_r, sbayes_r  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")]

CHAIN = ["--chain-length", "120", "--burn-in", "40", "--thin", "4", "--out-freq", "40"]
#: what a run writes, compared byte for byte (the .nc by its arrays)
OUTPUTS = ("parRes", "snpRes", "mcmcsamples.Par", "mcmcsamples.SnpEffects",
           "chain1.mcmcsamples.Par", "chain1.mcmcsamples.SnpEffects")


@pytest.fixture(scope="module")
def client():
    with connect(cluster="local:2") as c:
        c.run(__import__, "bayesmix.models.sbayes")  # the workers' first task imports PyMC
        yield c


@pytest.fixture(scope="module")
def data(bfile22, tmp_path_factory):
    """300 SNPs of the shipped chr22: full and eigen (2 blocks) LD of the panel, two traits
    simulated on the panel (phenotypes and their GWAS statistics) and a list of both."""
    from bayesmix.cli.main import main as bayesmix_main
    from bayesmix.io.plink import Genotypes

    d = tmp_path_factory.mktemp("dask_mcmc")
    snps = Genotypes.open(bfile22).snps.iloc[:300]
    (d / "snps.txt").write_text("\n".join(snps["snp"]) + "\n")
    panel = ["--bfile", str(bfile22), "--extract", str(d / "snps.txt")]
    assert main([*panel, "--make-full-ldm", "--out", str(d / "ref")]) == 0
    cut = int(snps["bp"].iloc[150])
    (d / "blocks.txt").write_text(f"Block Chrom StartBP EndBP\n1 22 0 {cut}\n"
                                  f"2 22 {cut} 60000000\n")
    assert main([*panel, "--make-ldm-eigen", "--block-info", str(d / "blocks.txt"), "--out",
                 str(d / "eig")]) == 0
    for seed, prior in ((1, "C"), (2, "R")):
        assert bayesmix_main(["simulate", *panel, "--prior", prior, "--h2", "0.5",
                              *(["--n-causal", "10"] if prior == "C" else []), "--seed",
                              str(seed), "--out", str(d / f"trait{seed}")]) == 0
    (d / "traits.txt").write_text(f"{d}/trait1.ma\n{d}/trait2.ma height\n")
    return d


def same_outputs(a: str, b: str, names=OUTPUTS) -> None:
    """The files of two runs (prefixes ``a``, ``b``) are identical; so are the arrays of
    their ArviZ files."""
    import xarray as xr

    for name in names:
        assert Path(f"{a}.{name}").read_bytes() == Path(f"{b}.{name}").read_bytes(), name
    first, second = xr.open_datatree(f"{a}.nc"), xr.open_datatree(f"{b}.nc")
    for node in first.subtree:
        for var in node.data_vars:
            np.testing.assert_array_equal(node[var].values, second[node.path][var].values,
                                          err_msg=f"{node.path}/{var}")
    first.close()
    second.close()


def bayes_s():
    """BayesS: S is sampled by Metropolis on the graph's density, whose effect prior is a
    pm.CustomDist (its log density must reach the worker with the model)."""
    from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
    from bayesmix.prepare.alphabet_data import AlphabetData

    from chain_models import cohort

    dosages, _, y, _ = cohort(1)
    return AlphabetModel(AlphabetData.from_arrays(dosages, y, standardize=False),
                         AlphabetPrior("S"))


@pytest.mark.parametrize("kind", ["BayesR", "BayesS", "SBayesR", "SBayesR on eigen LD"])
def test_chains_on_dask_are_the_serial_chains(client, kind):
    model, make = {"BayesR": (bayes_r, make_steps), "BayesS": (bayes_s, make_steps),
                   "SBayesR": (sbayes_r, make_sbayes_steps),
                   "SBayesR on eigen LD": (sbayes_eigen_r, make_eigen_steps)}[kind]
    model = model()
    settings = ChainSettings(chain_length=90, burn_in=30, thin=3, out_freq=0, seed=5,
                             store_snp_draws=True)
    serial = run_chains(model, make, settings, chains=3)
    on_dask = run_chains(model, make, settings, chains=3, client=client)
    for a, b in zip(serial.chains, on_dask.chains, strict=True):
        assert_same_chain(a, b)


@pytest.mark.parametrize("analysis", ["sbayes", "eigen", "bayes"])
def test_command_line_chains_on_dask_write_the_serial_outputs(client, data, bfile22, analysis,
                                                              tmp_path):
    d = data
    base = {"sbayes": ["--sbayes", "R", "--ldm", f"{d}/ref.ldm.full", "--gwas-summary",
                       f"{d}/trait2.ma"],
            "eigen": ["--sbayes", "C", "--ldm-eigen", f"{d}/eig", "--gwas-summary",
                      f"{d}/trait1.ma"],
            "bayes": ["--bayes", "C", "--bfile", str(bfile22), "--extract", f"{d}/snps.txt",
                      "--pheno", f"{d}/trait1.phen"]}[analysis]
    base += [*CHAIN, "--chains", "2"]
    assert main([*base, "--out", str(tmp_path / "serial")]) == 0
    assert main([*base, "--dask-scheduler", client.scheduler.address, "--out",
                 str(tmp_path / "dask")]) == 0
    same_outputs(tmp_path / "serial", tmp_path / "dask")
    log = (tmp_path / "dask.log").read_text()
    assert f"2 chain(s) as Dask tasks on the Dask scheduler at {client.scheduler.address}" in log
    assert "[chain 1]    Iter" in log                      # the chains' progress lines
    assert "chain 1: 120 iterations on the Dask worker tcp://" in log
    assert not list(tmp_path.glob("*.ckpt.*"))           # removed once all chains finished


def killer(victims, ready):
    """A thread that SIGKILLs the processes ``victims`` once ``ready()`` is true (within
    60 s); ``seen["killed"]`` says whether it did."""
    seen = {}

    def run():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if ready():
                for victim in victims:
                    os.kill(victim, signal.SIGKILL)
                seen["killed"] = True
                return
            time.sleep(0.01)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, seen


def test_a_worker_killed_mid_chain_reruns_it_from_its_checkpoint(client, tmp_path):
    """SIGKILL one worker once both chains have checkpointed mid-run: the scheduler reruns
    the dead worker's chain on the other worker (the nanny restarts the dead one), from its
    checkpoint, and every chain equals the serial run's; the killed chain continued rather
    than restarted (nothing finished is lost)."""
    model = sbayes_r()
    base = dict(chain_length=2500, burn_in=500, thin=5, out_freq=0, seed=8,
                store_snp_draws=True)
    serial = run_chains(model, make_sbayes_steps, ChainSettings(**base), chains=2)
    prefix = tmp_path / "run"

    def both_running():  # then each worker runs one (one thread each), past a checkpoint
        paths = [Path(f"{prefix}.chain{c}") for c in (0, 1)]
        return all(p.exists() and read_checkpoint(p, state=False)[0]["iteration"]
                   < base["chain_length"] for p in paths)

    victim = sorted(client.run(os.getpid).values())[0]
    thread, seen = killer([victim], both_running)
    settings = ChainSettings(**base, checkpoint=str(prefix), checkpoint_every=100)
    on_dask = run_chains(model, make_sbayes_steps, settings, chains=2, client=client)
    thread.join()
    assert seen.get("killed")
    for a, b in zip(serial.chains, on_dask.chains, strict=True):
        assert_same_chain(a, b)
    assert any(chain.resumed_from > 0 for chain in on_dask.chains)
    assert not list(tmp_path.glob("run.chain*"))
    client.wait_for_workers(2, timeout=60)


def test_traits_on_dask_are_the_serial_traits_and_a_killed_worker_changes_nothing(
        client, data, tmp_path):
    """--mgwas-summary: OUT.NAME.* per trait, the same files in this process, on Dask (with
    the workers killed mid-trait) and as single-trait runs."""
    d = data
    base = ["--sbayes", "C", "--ldm", f"{d}/ref.ldm.full", "--mgwas-summary",
            f"{d}/traits.txt", *CHAIN, "--chains", "2"]
    assert main([*base, "--out", str(tmp_path / "serial")]) == 0
    assert main(["--sbayes", "C", "--ldm", f"{d}/ref.ldm.full", "--gwas-summary",
                 f"{d}/trait1.ma", *CHAIN, "--chains", "2", "--out",
                 str(tmp_path / "single")]) == 0
    same_outputs(tmp_path / "serial.trait1", tmp_path / "single")
    long = [*base[:-len(CHAIN) - 2], "--chain-length", "3000", "--burn-in", "500",
            "--checkpoint-every", "100", "--out-freq", "0", "--chains", "2"]
    assert main([*long, "--out", str(tmp_path / "long")]) == 0

    def checkpointed():  # a trait is past a checkpoint (which worker runs it is unknown
        return any(tmp_path.glob("dask.*.ckpt.chain*"))   # on a loaded machine: kill both)

    thread, seen = killer(list(client.run(os.getpid).values()), checkpointed)
    assert main([*long, "--dask-scheduler", client.scheduler.address, "--out",
                 str(tmp_path / "dask")]) == 0
    thread.join()
    assert seen.get("killed")
    for name in ("trait1", "height"):
        same_outputs(tmp_path / f"long.{name}", tmp_path / f"dask.{name}")
    log = (tmp_path / "dask.log").read_text()
    assert "as Dask tasks on the Dask scheduler at" in log
    assert "Trait height: finished in the Dask worker tcp://" in log
    assert not list(tmp_path.glob("*.done")) and not list(tmp_path.glob("*.ckpt.*"))
    client.wait_for_workers(2, timeout=60)


def test_resume_keeps_the_traits_an_unfinished_run_finished(data, tmp_path, capsys):
    """A run whose second trait fails still runs the third (it stopped there, and --resume
    failed the same way, so the third never ran) and exits 1 naming the failure; the
    finished traits' outputs and markers are kept. Without --resume that is refused, with it
    the finished traits are kept and the fixed one runs: the files are those of an
    uninterrupted run."""
    d = data
    (tmp_path / "bad.ma").write_text("SNP A1 A2 freq b se p N\nrsNowhere A G 0.3 0.1 0.05 "
                                     "0.04 500\n")
    (tmp_path / "list.txt").write_text(f"{d}/trait1.ma\n{tmp_path}/bad.ma height\n"
                                       f"{d}/trait1.ma third\n")
    (tmp_path / "fixed.txt").write_text(Path(f"{d}/traits.txt").read_text().rstrip("\n")
                                        + f"\n{d}/trait1.ma third\n")
    base = ["--sbayes", "C", "--ldm", f"{d}/ref.ldm.full", *CHAIN]
    out = str(tmp_path / "run")
    assert main([*base, "--mgwas-summary", str(tmp_path / "list.txt"), "--out", out]) == 1
    err = capsys.readouterr().err
    assert "2 of 3 traits finished; trait height failed: " in err
    assert Path(f"{out}.trait1.done").exists() and Path(f"{out}.third.done").exists()
    first = Path(f"{out}.trait1.snpRes").stat().st_mtime_ns
    assert main([*base, "--mgwas-summary", str(tmp_path / "fixed.txt"), "--out", out]) == 1
    assert "give --resume to keep it" in capsys.readouterr().err
    assert main([*base, "--mgwas-summary", str(tmp_path / "fixed.txt"), "--resume", "--out",
                 out]) == 0
    assert "finished by the interrupted run: kept" in Path(f"{out}.log").read_text()
    assert Path(f"{out}.trait1.snpRes").stat().st_mtime_ns == first
    assert main([*base, "--mgwas-summary", f"{d}/traits.txt", "--out", str(tmp_path / "ref")]
                ) == 0
    for name in ("trait1", "height"):
        same_outputs(f"{out}.{name}", tmp_path / f"ref.{name}", names=OUTPUTS[:4])
    assert not list(tmp_path.glob("*.done"))


def test_combinations_that_make_no_sense_are_refused(data, bfile22, tmp_path, capsys):
    d = data
    sbayes = ["--sbayes", "C", "--ldm", f"{d}/ref.ldm.full", *CHAIN]
    out = ["--out", str(tmp_path / "x")]
    cases = [
        ([*sbayes, "--gwas-summary", f"{d}/trait1.ma", "--chains", "2", "--thread", "2",
          "--cluster", "local:2"], "leave --thread out"),
        ([*sbayes, "--mgwas-summary", f"{d}/traits.txt", "--thread", "2", "--dask-scheduler",
          "tcp://127.0.0.1:1"], "leave --thread out"),
        ([*sbayes, "--gwas-summary", f"{d}/trait1.ma", "--cluster", "local:2", "--pieces",
          "4"], "--pieces does not apply to --sbayes C"),
        ([*sbayes, "--gwas-summary", f"{d}/trait1.ma", "--mgwas-summary", f"{d}/traits.txt"],
         "exclude each other"),
        (["--bayes", "C", "--bfile", str(bfile22), "--pheno", f"{d}/trait1.phen",
          "--mgwas-summary", f"{d}/traits.txt"], "--mgwas-summary does not apply to --bayes C"),
        (sbayes, "needs --gwas-summary FILE (or several traits: --mgwas-summary LIST)"),
        ([*sbayes, "--gwas-summary", f"{d}/trait1.ma", "--cluster", "slurm:4"], "local:N"),
    ]
    (tmp_path / "twice.txt").write_text(f"{d}/trait1.ma\n{d}/trait2.ma Trait1\n")  # case
    (tmp_path / "missing.txt").write_text(f"{d}/trait1.ma\n{d}/nowhere.ma\n")
    (tmp_path / "badname.txt").write_text(f"{d}/trait1.ma a/b\n")
    for name, message in (("twice", "also that of line 1"), ("missing", "no such statistics"),
                          ("badname", "cannot be part of an output file name")):
        cases.append(([*sbayes, "--mgwas-summary", str(tmp_path / f"{name}.txt")], message))
    for argv, message in cases:
        assert main([*argv, *out]) == 1, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
    assert not list(tmp_path.glob("x.*.parRes"))
