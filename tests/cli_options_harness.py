"""Machinery of the option tests (tests/test_cli_options*.py): the tiny inputs of every
analysis, each analysis' base command line, a probe per option, and the check that each
accepted option changes what a run gives the user.

The checks are split over several test files (:func:`part_of`) so that pytest-xdist's
``--dist loadfile`` can run them on both workers; the inputs are built once per worker
(``cli_options_inputs`` in conftest.py). A probe table entry is needed for every declared
option (test_cli_options.py checks it).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli import (cmd_demo, cmd_example_data, cmd_ld, cmd_mixer, cmd_munge,
                          cmd_simulate)
from bayesmix.cli import gctb as gctb_cli
from bayesmix.cli import main as bayesmix_main
from bayesmix.cli import mixer as mixer_cli
from bayesmix.cli.options import parse
from bayesmix.errors import InputError
from bayesmix.ld.eigen import EigenBlocks

SPECS = {spec.prog: spec for spec in (gctb_cli.SPEC, mixer_cli.SPEC, cmd_mixer.SPEC,
                                      cmd_ld.SPEC, cmd_munge.SPEC, cmd_simulate.SPEC,
                                      cmd_demo.SPEC, cmd_example_data.SPEC)}


# --------------------------------------------------------------------------- which file
#: the test files' parts: test_cli_options{suffix}.py runs the analyses of part ``name``
PARTS = {"other": "", "gctb": "_gctb", "gctb_eigen": "_gctb_eigen", "mixer": "_mixer",
         "mixer_native": "_mixer_native"}


def part_of(prog: str, analysis: str) -> str:
    """The part (test file) whose option-effect test runs ``analysis`` of ``prog``."""
    if prog == "bayesmix-gctb":
        return "gctb_eigen" if analysis.startswith("sbayes-eigen-") else "gctb"
    return {"bayesmix-mixer": "mixer", "bayesmix mixer": "mixer_native"}.get(prog, "other")


def progs_in(part: str) -> list:
    """The commands with analyses in ``part`` (the demo's steps are the other commands)."""
    return [prog for prog, spec in SPECS.items() if prog != "bayesmix demo"
            and any(part_of(prog, a) == part for a in spec.analyses)]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def dask_scheduler():
    """Address of a running Dask scheduler (in-process workers) for ``--dask-scheduler``."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def world(cli_options_inputs, dask_scheduler):
    """The inputs of :func:`build_world` (built once per worker) and a Dask scheduler."""
    return {**cli_options_inputs, "dask": dask_scheduler}


@pytest.fixture(scope="module")
def harness(world, tmp_path_factory):
    """run(prog, argv) -> observation of a successful run; counts the runs made.

    A run is deterministic (each base run is run twice and compared, ``fresh=True``), so a
    command line already run in this module is not run again: its observation is reused.
    Figures are observed by name only (:func:`observe`), so they are written as empty files
    instead of rendered (a third of the MiXeR runs' time), and not laid out (``tight_layout``
    measures every label's text: a tenth of it); test_mixer_cli.py and
    test_mixer_bivariate_cli.py render them through the same commands. ``--cluster local:N``
    starts its workers in this process (:func:`_in_process_local_cluster`)."""
    root = tmp_path_factory.mktemp("option_runs")
    counter = {"n": 0}
    seen = {}

    def run(prog, argv, *, fresh=False):
        key = (prog, tuple(str(a) for a in argv))
        if not fresh and key in seen:
            return seen[key]
        counter["n"] += 1
        out = root / f"r{counter['n']}" / "out"  # a folder per run: observe() lists it
        out.parent.mkdir()
        for target, source in world["restore"].items():  # inputs a run changes in place
            if target in argv:
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target)
        main = MAINS.get(prog, bayesmix_main.main)
        rc = main([*argv, "--out", str(out)])
        if rc != 0:
            log = Path(f"{out}.log")
            raise AssertionError(f"{prog} {' '.join(argv)} exited {rc}: "
                                 f"{log.read_text()[-600:] if log.exists() else ''}")
        seen[key] = observe(out)
        return seen[key]

    run.counter = counter
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("bayesmix.plots.mixer.save_figure", _unrendered_figure)
        patch.setattr("matplotlib.figure.Figure.tight_layout", lambda fig, **kwargs: None)
        patch.setattr("distributed.LocalCluster", _in_process_local_cluster)
        yield run


def _in_process_local_cluster(*args, **kwargs):
    """``distributed.LocalCluster`` with its workers as threads of this process.

    Starting, importing bayesmix in and stopping a worker process took 1.5-2 s per
    ``--cluster local:1`` run (22 of the 70 s of bayesmix-gctb's option runs). What the probe
    checks, that the analysis goes through the client, is the same on in-process workers;
    real worker processes are started by test_distributed.py, test_distributed_mcmc.py and
    test_mixer_replicates.py."""
    from distributed.deploy.local import LocalCluster  # the class the patch stands in for

    return LocalCluster(*args, **{**kwargs, "processes": False})


def _unrendered_figure(fig, out_prefix) -> list[str]:
    """Stand-in of :func:`bayesmix.plots.mixer.save_figure`: the same two paths, empty."""
    paths = [f"{out_prefix}.{ext}" for ext in ("png", "pdf")]
    for path in paths:
        Path(path).write_bytes(b"")
    return paths


# --------------------------------------------------------------------------- tiny data
def build_world(d: Path, bfile22) -> dict:
    """Inputs of every analysis: a 503 x 120 fileset on chromosomes 6 (inside and around the
    MHC) and 22 with two strand-ambiguous SNPs, a phenotype, covariates, sample/SNP lists,
    GCTB LD per chromosome, summary statistics, MiXeR LD references and fits."""
    from bed_reader import open_bed, to_bed

    bim = pd.read_csv(f"{bfile22}.bim", sep=r"\s+", header=None,
                      names=["chr", "snp", "cm", "bp", "a1", "a2"]).iloc[:120].copy()
    fam = pd.read_csv(f"{bfile22}.fam", sep=r"\s+", header=None).iloc[:, :6]
    codes = open_bed(f"{bfile22}.bed").read(index=np.s_[:, :120], dtype="float32")
    codes[np.random.default_rng(0).random(codes.shape) < 0.01] = np.nan  # 1% missing calls
    bim.loc[:59, "chr"] = 6
    bim.loc[:59, "bp"] = 28_000_000 + 100_000 * np.arange(60)   # 28.0-33.9 Mb: MHC and around
    bim.loc[[3, 70], ["a1", "a2"]] = [["A", "T"], ["C", "G"]]      # strand-ambiguous
    bim["cm"] = bim["bp"] * 1e-6
    props = {"fid": fam[0].astype(str).tolist(), "iid": fam[1].astype(str).tolist(),
             "sid": bim["snp"].tolist(), "chromosome": bim["chr"].astype(str).tolist(),
             "bp_position": bim["bp"].tolist(), "cm_position": bim["cm"].tolist(),
             "allele_1": bim["a1"].tolist(), "allele_2": bim["a2"].tolist()}
    to_bed(d / "tiny.bed", codes, properties=props)
    keep400 = {k: (v[:400] if k in ("fid", "iid") else v) for k, v in props.items()}
    to_bed(d / "alt.bed", np.ascontiguousarray(codes[:400]), properties=keep400)
    w = {"dir": d, "bfile": str(d / "tiny"), "alt_bfile": str(d / "alt")}

    def run(main, *argv):
        assert main([str(a) for a in argv]) == 0, argv

    run(bayesmix_main.main, "simulate", "--bfile", d / "tiny", "--prior", "C", "--h2", 0.6,
        "--n-causal", 8, "--seed", 3, "--out", d / "sim")
    run(bayesmix_main.main, "simulate", "--bfile", d / "tiny", "--prior", "C", "--h2", 0.3,
        "--n-causal", 20, "--seed", 4, "--out", d / "sim2")
    phen = pd.read_csv(d / "sim.phen", sep=r"\s+", header=None)
    rng = np.random.default_rng(5)
    phen[3] = rng.permutation(phen[2].to_numpy())
    phen.to_csv(d / "two.phen", sep=" ", header=False, index=False)
    covar = phen[[0, 1]].copy()
    covar["age"] = rng.normal(50, 10, len(covar)).round(1)
    covar.to_csv(d / "q.covar", sep=" ", header=False, index=False)
    dcov = phen[[0, 1]].copy()
    dcov["site"] = rng.choice(["a", "b", "c"], len(dcov))
    dcov.to_csv(d / "d.covar", sep=" ", header=False, index=False)
    phen[[0, 1]].iloc[:400].to_csv(d / "keep.txt", sep=" ", header=False, index=False)
    phen[[0, 1]].iloc[:50].to_csv(d / "remove.txt", sep=" ", header=False, index=False)
    (d / "extract.txt").write_text("\n".join(bim["snp"].iloc[10:110]) + "\n")
    (d / "exclude.txt").write_text("\n".join(bim["snp"].iloc[50:70]) + "\n")
    (d / "regions.txt").write_text(f"22 {bim['bp'].iloc[80]} {bim['bp'].iloc[100]}\n")
    pd.DataFrame({"snp": bim["snp"], "bp": bim["bp"], "cm": bim["bp"] * 1.3e-6}).to_csv(
        d / "map.txt", sep=" ", header=False, index=False)
    pd.DataFrame({"snp": bim["snp"], "bp": bim["bp"], "cm": bim["bp"] * 0.5e-6}).to_csv(
        d / "map2.txt", sep=" ", header=False, index=False)
    # summary statistics: in-sample N (503) and a version claiming N 1000 (out of sample)
    ma = pd.read_csv(d / "sim.ma", sep=r"\s+")
    ma.to_csv(d / "sim503.ma", sep=" ", index=False)
    ma.assign(N=1000).to_csv(d / "sim1000.ma", sep=" ", index=False)
    (d / "traits.txt").write_text(f"{d}/sim1000.ma\n")   # --mgwas-summary: one trait
    # GCTB LD per chromosome and a list of both
    for chrom in ("6", "22"):
        run(gctb_cli.main, "--bfile", d / "tiny", "--chr", chrom, "--make-full-ldm",
            "--out", d / f"ld{chrom}")
    (d / "mldm.txt").write_text(f"{d}/ld6.chr6.ldm.full\n{d}/ld22.chr22.ldm.full\n")
    (d / "mldm2.txt").write_text(f"{d}/ld22.chr22.ldm.full\n")
    (d / "blocks.txt").write_text("Block Chrom StartBP EndBP\n"
                                  f"1 22 0 {bim['bp'].iloc[90] - 1}\n"
                                  f"2 22 {bim['bp'].iloc[90]} 60000000\n")
    for piece in ("1-30", "31-60"):
        run(gctb_cli.main, "--bfile", d / "tiny", "--chr", "6", "--make-full-ldm", "--snp",
            piece, "--out", d / "piece")
    (d / "pieces.txt").write_text(f"{d}/piece.snp1-30.ldm.full\n{d}/piece.snp31-60.ldm.full\n")
    for piece in ("1-30", "31-60"):
        run(gctb_cli.main, "--bfile", d / "tiny", "--chr", "22", "--make-full-ldm", "--snp",
            piece, "--out", d / "piece22")
    (d / "pieces22.txt").write_text(
        f"{d}/piece22.snp1-30.ldm.full\n{d}/piece22.snp31-60.ldm.full\n")
    # bayesmix LD folders for bayesmix ld merge/convert/scores/prune
    for piece in ("1-30", "31-60"):
        run(bayesmix_main.main, "ld", "--bfile", d / "tiny", "--chr", "6", "--kind", "full",
            "--snp", piece, "--out", d / f"bm{piece}.ld")
    run(bayesmix_main.main, "ld", "--bfile", d / "tiny", "--chr", "6", "--kind", "full",
        "--out", d / "bm6.ld")
    run(bayesmix_main.main, "ld", "--bfile", d / "tiny", "--chr", "22", "--kind", "full",
        "--out", d / "bm22.ld")
    # eigen-decomposed LD per chromosome and of both in one folder (as GCTB keeps a genome),
    # and statistics without every 4th SNP (--impute-summary)
    for chrom in ("6", "22"):
        run(bayesmix_main.main, "ld", "eigen", "--bfile", d / "tiny", "--chr", chrom,
            "--block-snps", 20, "--out", d / f"eig{chrom}")
    EigenBlocks.concatenate(EigenBlocks.load(d / f"eig{c}", mmap=False)
                            for c in ("6", "22")).save(d / "eig")
    ma.loc[np.arange(len(ma)) % 4 != 0].to_csv(d / "sim_miss.ma", sep=" ", index=False)
    # SNP annotations (--annot): an intercept and one binary annotation; another file without
    # the intercept column and a continuous annotation
    annot = pd.DataFrame({"SNP": bim["snp"], "Intercept": 1,
                          "coding": (np.arange(len(bim)) % 3 == 0).astype(int)})
    annot.to_csv(d / "annot.txt", sep=" ", index=False)
    annot.drop(columns="Intercept").assign(
        cons=np.random.default_rng(9).normal(size=len(bim)).round(3)).to_csv(
        d / "annot2.txt", sep=" ", index=False)
    # MiXeR: r2 references per chromosome (and coarser ones), a .bim per reference, a
    # bivariate trait pair drawn from LD, fits
    from bayesmix.ld.store import LDMatrix

    for chrom in ("6", "22"):
        run(mixer_cli.main, "ld", "--bfile", d / "tiny", "--chr", chrom, "--r2min", 0.01,
            "--out", d / f"tiny_chr{chrom}.ld")
        run(mixer_cli.main, "ld", "--bfile", d / "tiny", "--chr", chrom, "--r2min", 0.05,
            "--out", d / f"alt_chr{chrom}.ld")
        # fewer SNPs (snps draws its subset from the LD's SNPs; its pairs >= r2 are alike)
        run(bayesmix_main.main, "ld", "--bfile", d / "tiny", "--chr", chrom, "--kind", "r2",
            "--extract", d / "extract.txt", "--no-progress", "--out", d / f"few_chr{chrom}.ld")
        snps = LDMatrix.load(d / f"tiny_chr{chrom}.ld").snps
        snps[["chr", "snp", "cm", "bp", "a1", "a2"]].to_csv(d / f"tiny_chr{chrom}.bim",
                                                            sep="\t", header=False, index=False)
    run(bayesmix_main.main, "ld", "--bfile", d / "tiny", "--kind", "full", "--chr", "22",
        "--out", d / "sim_ld22")
    run(bayesmix_main.main, "simulate", "--bfile", d / "tiny", "--chr", "22", "--prior",
        "mixer2", "--h2", 0.4, 0.3, "--n-causal", 3, 3, 5, "--rho12", 0.6, "--n-gwas", 60000,
        "--ld", d / "sim_ld22", "--seed", 6, "--out", d / "pair")
    for t in (1, 2):
        run(mixer_cli.main, "fit1", "--trait1-file", d / f"pair.trait{t}.sumstats.gz",
            "--ld-file", d / "tiny_chr@.ld", "--chr2use", "22", "--fit-sequence",
            "infinitesimal", "--n-draws", 20, "--exclude-ranges", "[]", "--out", d / f"fit{t}")
    # other fits of each trait's own statistics (fit2 refuses the other trait's)
    for t in (1, 2):
        run(mixer_cli.main, "fit1", "--trait1-file", d / f"pair.trait{t}.sumstats.gz",
            "--ld-file", d / "tiny_chr@.ld", "--chr2use", "22", "--fit-sequence",
            "infinitesimal", "--n-draws", 20, "--extract", d / "extract.txt",
            "--exclude-ranges", "[]", "--out", d / f"fit{t}b")
    # fits of other settings fit2 needs its univariate fits made with (refused otherwise)
    for t in (1, 2):
        for name, setting in (("c", ["--chr2use", "6,22"]), ("s", ["--chr2use", "22",
                                                                   "--ld-in-sample"])):
            run(mixer_cli.main, "fit1", "--trait1-file", d / f"pair.trait{t}.sumstats.gz",
                "--ld-file", d / "tiny_chr@.ld", *setting, "--fit-sequence",
                "infinitesimal", "--n-draws", 20, "--exclude-ranges", "[]",
                "--out", d / f"fit{t}{name}")
    for out, order in (("fitb", (1, 2)), ("fitba", (2, 1))):   # test2 checks the traits
        run(mixer_cli.main, "fit2", "--trait1-file", d / f"pair.trait{order[0]}.sumstats.gz",
            "--trait2-file", d / f"pair.trait{order[1]}.sumstats.gz", "--trait1-params-file",
            d / f"fit{order[0]}.json", "--trait2-params-file", d / f"fit{order[1]}.json",
            "--ld-file", d / "tiny_chr@.ld", "--chr2use", "22", "--fit-sequence",
            "infinitesimal", "fast", "--n-draws", 20, "--profile-points", 3,
            "--exclude-ranges", "[]", "--out", d / out)
    run(mixer_cli.main, "fit2", "--trait1-file", d / "pair.trait1.sumstats.gz",
        "--trait2-file", d / "pair.trait2.sumstats.gz", "--trait1-params-file",
        d / "fit1.json", "--trait2-params-file", d / "fit2.json", "--ld-file",
        d / "tiny_chr@.ld", "--chr2use", "22", "--fit-sequence", "infinitesimal", "fast",
        "--extract", d / "extract.txt", "--n-draws", 20, "--profile-points", 0,
        "--exclude-ranges", "[]", "--out", d / "fitb2")
    for out, seed in (("rep", 0), ("rep5", 5)):   # replicate fits for combine
        run(mixer_cli.main, "fit1", "--trait1-file", d / "pair.trait1.sumstats.gz",
            "--ld-file", d / "tiny_chr@.ld", "--chr2use", "22", "--fit-sequence",
            "infinitesimal", "--n-draws", 20, "--exclude-ranges", "[]", "--replicates", 2,
            "--seed", seed, "--out", d / out)
    # munge inputs: no N; positions with other ids; INFO; shifted FREQ; extra columns; a
    # generic file with an unusual p-value column
    ldsc = pd.read_csv(d / "sim.sumstats.gz", sep="\t")
    ldsc.assign(N=np.where(np.arange(len(ldsc)) % 2, ldsc["N"], np.nan)).to_csv(
        d / "partN.sumstats.gz", sep="\t", index=False, na_rep="NA")
    pos = ldsc.copy()  # CHR and BP, and every other SNP id changed
    pos["SNP"] = np.where(np.arange(len(pos)) % 2, "x" + pos["SNP"], pos["SNP"])
    pos.to_csv(d / "pos.sumstats.gz", sep="\t", index=False)
    rng = np.random.default_rng(8)
    ldsc.assign(INFO=rng.uniform(0.3, 1, len(ldsc))).to_csv(d / "info.sumstats.gz", sep="\t",
                                                             index=False)
    ma = pd.read_csv(d / "sim.ma", sep=r"\s+")
    ma.assign(freq=np.clip(ma["freq"] + rng.normal(0, 0.01, len(ma)), 0.01, 0.99)).to_csv(
        d / "freq.ma", sep=" ", index=False)
    ldsc.assign(P=rng.uniform(size=len(ldsc)), FRQ=ma["freq"].to_numpy()[:len(ldsc)]).to_csv(
        d / "extra.sumstats.gz", sep="\t", index=False)
    ma.rename(columns={"p": "myp"}).drop(columns="freq").to_csv(d / "myp.txt", sep=" ",
                                                                 index=False)
    # GCTB's block LD: blocks over both chromosomes (and other ones), folders of per-block
    # files (merge-block-ldm-info deletes them: restored before each run that names them)
    # and the same folders merged (make-ldm-eigen)
    (d / "gw_blocks.txt").write_text("Block Chrom StartBP EndBP\n1 6 28000000 31000000\n"
                                     "2 6 31000000 34000000\n"
                                     f"3 22 0 {bim['bp'].iloc[90]}\n"
                                     f"4 22 {bim['bp'].iloc[90]} 60000000\n")
    (d / "gw_blocks2.txt").write_text("Block Chrom StartBP EndBP\n1 6 28000000 34000000\n"
                                      f"2 22 0 {bim['bp'].iloc[100]}\n")
    w["restore"] = {}
    for name, source in (("blk", "tiny"), ("blk_alt", "alt")):
        run(gctb_cli.main, "--bfile", d / source, "--make-block-ldm", "--block-info",
            d / "gw_blocks.txt", "--out", d / f"{name}.orig")
        w["restore"][str(d / name)] = d / f"{name}.orig"
        for copy in (name, f"{name}.merged"):
            shutil.copytree(d / f"{name}.orig", d / copy)
        run(gctb_cli.main, "--ldm", d / f"{name}.merged", "--merge-block-ldm-info", "--out",
            d / f"{name}.merge")
    # eigen LD of both chromosomes in the blocks of gw_blocks.txt (blocks of 20 SNPs cut
    # through the LD of the tiny data: their rotated statistics claim more than all of h2)
    run(gctb_cli.main, "--bfile", d / "tiny", "--make-ldm-eigen", "--block-info",
        d / "gw_blocks.txt", "--out", d / "gweig")
    w["d"] = str(d)
    return w



# --------------------------------------------------------------------------- base runs
GCTB_CHAIN = ["--chain-length", "24", "--burn-in", "8", "--thin", "2", "--out-freq", "0",
              "--checkpoint-every", "0", "--no-netcdf"]


def bases(w) -> dict:
    """(prog, analysis) -> the base command line (without --out)."""
    d, bf = w["d"], w["bfile"]
    b = {}
    for m in "BCSRN":
        b[("bayesmix-gctb", f"bayes-{m}")] = ["--bayes", m, "--bfile", bf, "--pheno",
                                              f"{d}/sim.phen", *GCTB_CHAIN]
    b[("bayesmix-gctb", "bayes-NS")] = ["--bayes", "NS", "--bfile", bf, "--pheno",
                                        f"{d}/sim.phen", *GCTB_CHAIN]
    for m in "CRS":
        b[("bayesmix-gctb", f"sbayes-{m}")] = ["--sbayes", m, "--gwas-summary",
                                               f"{d}/sim1000.ma", "--mldm", f"{d}/mldm.txt",
                                               *GCTB_CHAIN]
    b[("bayesmix-gctb", "make-full-ldm")] = ["--make-full-ldm", "--bfile", bf, "--chr", "6"]
    b[("bayesmix-gctb", "make-sparse-ldm")] = ["--make-sparse-ldm", "--bfile", bf, "--chr", "6"]
    b[("bayesmix-gctb", "make-shrunk-ldm")] = ["--make-shrunk-ldm", "--bfile", bf, "--chr", "6",
                                               "--gen-map", f"{d}/map.txt"]
    b[("bayesmix-gctb", "merge-ldm")] = ["--make-full-ldm", "--mldm", f"{d}/pieces.txt"]
    b[("bayesmix-gctb", "thin-ldm")] = ["--make-sparse-ldm", "--ldm", f"{d}/ld6.chr6.ldm.full"]
    b[("bayesmix-gctb", "write-ldm-txt")] = ["--write-ldm-txt", "--ldm",
                                             f"{d}/ld6.chr6.ldm.full"]
    # one eigen cut-off and flat noise: the default list's pseudo-validation runs 4 more chains
    # per run, the default noise model 2-6 pilot chains of 200 iterations (their own probes,
    # --ldm-eigen-cutoff and --eigen-noise, run them)
    for m in ("C", "R", "S", "RC"):
        b[("bayesmix-gctb", f"sbayes-eigen-{m}")] = [
            "--sbayes", m, "--gwas-summary", f"{d}/sim1000.ma", "--ldm-eigen", f"{d}/gweig",
            *(["--annot", f"{d}/annot.txt"] if m == "RC" else []), "--ldm-eigen-cutoff",
            "0.995", "--eigen-noise", "flat", *GCTB_CHAIN]
    b[("bayesmix-gctb", "impute-summary")] = ["--impute-summary", "--ldm-eigen", f"{d}/eig",
                                              "--gwas-summary", f"{d}/sim_miss.ma"]
    blocks = ["--bfile", bf, "--block-info", f"{d}/gw_blocks.txt"]
    b[("bayesmix-gctb", "make-block-ldm")] = ["--make-block-ldm", *blocks]
    b[("bayesmix-gctb", "make-ldm-eigen-bfile")] = ["--make-ldm-eigen", *blocks]
    b[("bayesmix-gctb", "merge-block-ldm-info")] = ["--merge-block-ldm-info", "--ldm",
                                                    f"{d}/blk"]
    b[("bayesmix-gctb", "make-ldm-eigen")] = ["--make-ldm-eigen", "--ldm", f"{d}/blk.merged"]
    # bayesmix-mixer
    fits = ["--ld-file", f"{d}/tiny_chr@.ld", "--chr2use", "22", "--exclude-ranges", "[]"]
    b[("bayesmix-mixer", "ld")] = ["ld", "--bfile", bf, "--chr", "6"]
    b[("bayesmix-mixer", "fit1")] = ["fit1", "--trait1-file", f"{d}/pair.trait1.sumstats.gz",
                                     *fits, "--fit-sequence", "infinitesimal", "fast",
                                     "--n-draws", "20"]
    b[("bayesmix-mixer", "test1")] = ["test1", "--trait1-file", f"{d}/pair.trait1.sumstats.gz",
                                      *fits, "--load-params-file", f"{d}/fit1.json"]
    pair = ["--trait1-file", f"{d}/pair.trait1.sumstats.gz", "--trait2-file",
            f"{d}/pair.trait2.sumstats.gz", *fits]
    b[("bayesmix-mixer", "fit2")] = ["fit2", *pair, "--trait1-params-file", f"{d}/fit1.json",
                                     "--trait2-params-file", f"{d}/fit2.json",
                                     "--fit-sequence", "infinitesimal", "fast", "--n-draws",
                                     "20", "--profile-points", "0"]
    b[("bayesmix-mixer", "test2")] = ["test2", *pair, "--load-params-file", f"{d}/fitb.json"]
    b[("bayesmix-mixer", "snps")] = ["snps", "--ld-file", f"{d}/tiny_chr@.ld", "--chr2use", "22",
                                     "--subset", "40"]
    b[("bayesmix-mixer", "combine")] = ["combine", "--json", f"{d}/rep.rep@.json"]
    # bayesmix mixer (native names)
    native = ["--ld", f"{d}/tiny_chr@.ld", "--chr", "22", "--exclude-ranges", "[]"]
    t1, t2 = f"{d}/pair.trait1.sumstats.gz", f"{d}/pair.trait2.sumstats.gz"
    b[("bayesmix mixer", "fit")] = ["mixer", "fit", "--sumstats", t1, *native, "--sequence",
                                    "infinitesimal", "fast", "--draws", "20"]
    b[("bayesmix mixer", "test")] = ["mixer", "test", "--sumstats", t1, *native, "--params",
                                     f"{d}/fit1.json"]
    b[("bayesmix mixer", "fit2")] = ["mixer", "fit2", "--sumstats", t1, "--sumstats2", t2,
                                     *native, "--params", f"{d}/fit1.json", "--params2",
                                     f"{d}/fit2.json", "--sequence", "infinitesimal", "fast",
                                     "--draws", "20", "--profile-points", "0"]
    b[("bayesmix mixer", "test2")] = ["mixer", "test2", "--sumstats", t1, "--sumstats2", t2,
                                      *native, "--params", f"{d}/fitb.json"]
    # bayesmix ld
    for kind in cmd_ld.KINDS:
        extra = {"window": ["--window-kb", "300"], "shrunk": ["--gen-map", f"{d}/map.txt"]}
        b[("bayesmix ld", f"build-{kind}")] = ["ld", "--bfile", bf, "--chr", "6", "--kind", kind,
                                               *extra.get(kind, [])]
    b[("bayesmix ld", "merge")] = ["ld", "merge", f"{d}/bm1-30.ld", f"{d}/bm31-60.ld"]
    b[("bayesmix ld", "convert")] = ["ld", "convert", f"{d}/bm6.ld", "--to", "bayesmix"]
    b[("bayesmix ld", "scores")] = ["ld", "scores", f"{d}/bm6.ld"]
    b[("bayesmix ld", "prune")] = ["ld", "prune", f"{d}/bm6.ld"]
    b[("bayesmix ld", "eigen")] = ["ld", "eigen", "--bfile", bf, "--chr", "22",
                                   "--block-snps", "20"]
    b[("bayesmix munge", "munge")] = ["munge", "--sumstats", f"{d}/sim.sumstats.gz", "--ref", bf]
    for prior in cmd_simulate.PRIORS:
        h2 = ["0.4", "0.3"] if prior == "mixer2" else ["0.4"]
        causal = {"mixer2": ["--n-causal", "2", "2", "3"], "R": [],
                  "N": ["--n-causal", "1", "--pi-snp", "0.5"],
                  "NS": ["--n-causal", "1", "--pi-snp", "0.5"]}.get(prior, ["--n-causal", "5"])
        b[("bayesmix simulate", prior)] = ["simulate", "--bfile", bf, "--prior", prior, "--h2",
                                           *h2, *causal, "--seed", "1"]
    b[("bayesmix simulate", "coalescent")] = ["simulate", "--coalescent", "--n-cohort", "30",
                                              "--n-panel", "20", "--length-mb", "0.2",
                                              "--seed", "1"]
    b[("bayesmix demo", "demo")] = ["demo"]
    b[("bayesmix example-data", "example-data")] = ["example-data"]
    return b


# --------------------------------------------------------------------------- probes
@dataclass
class Probe:
    """How to see an option's effect.

    args : flags to add (replacing the base's value of the same flag).
    context : added to both runs (what the option needs to matter).
    drop : flags removed from both runs.
    replaces : flags removed from the run with the option (it stands in for them).
    inputs : positional inputs replacing the base's (``bayesmix ld`` actions).
    only : per-analysis ``args`` overriding the default ones.
    same : the option asks for the default: the run must equal the base run.
    """

    args: list
    context: list = field(default_factory=list)
    drop: list = field(default_factory=list)
    replaces: list = field(default_factory=list)
    inputs: list | None = None
    only: dict = field(default_factory=dict)
    same: bool = False

    def for_analysis(self, analysis):
        return self.only.get(analysis, self.args)


def probes(w) -> dict:
    """(prog, option) -> Probe. Values differ from the base (and from the defaults)."""
    d = w["d"]
    G = "bayesmix-gctb"
    M = "bayesmix-mixer"
    N = "bayesmix mixer"
    L = "bayesmix ld"
    S = "bayesmix simulate"
    U = "bayesmix munge"
    P = {}
    # ----- bayesmix-gctb (selectors and --out: checked by the analysis each base run picks)
    for flag in ("--bayes", "--sbayes", "--make-full-ldm", "--make-sparse-ldm",
                 "--make-shrunk-ldm", "--out"):
        P[G, flag] = Probe([])
    for flag in ("--make-block-ldm", "--merge-block-ldm-info", "--make-ldm-eigen"):
        P[G, flag] = Probe([])
    P[G, "--block-info"] = Probe(["--block-info", f"{d}/gw_blocks2.txt"])
    P[G, "--block"] = Probe(["--block", "2"])
    P[G, "--bfile"] = Probe(["--bfile", w["alt_bfile"]])
    P[G, "--pheno"] = Probe(["--pheno", f"{d}/sim2.phen"])
    P[G, "--mpheno"] = Probe(["--mpheno", "2"], context=["--pheno", f"{d}/two.phen"])
    P[G, "--covar"] = Probe(["--covar", f"{d}/q.covar"])
    P[G, "--qcovar"] = Probe(["--qcovar", f"{d}/q.covar"])
    P[G, "--dcovar"] = Probe(["--dcovar", f"{d}/d.covar"])
    P[G, "--keep"] = Probe(["--keep", f"{d}/keep.txt"])
    P[G, "--remove"] = Probe(["--remove", f"{d}/remove.txt"])
    P[G, "--extract"] = Probe(["--extract", f"{d}/extract.txt"])
    P[G, "--exclude"] = Probe(["--exclude", f"{d}/exclude.txt"])
    P[G, "--chr"] = Probe(["--chr", "22"])
    P[G, "--exclude-mhc"] = Probe(["--exclude-mhc"])
    P[G, "--exclude-region"] = Probe(["--exclude-region", f"{d}/regions.txt"],
                                     only={a: ["--exclude-region", f"{d}/regions.txt",
                                               "--chr", "22"] for a in
                                           ("make-full-ldm", "make-sparse-ldm",
                                            "make-shrunk-ldm")})
    P[G, "--maf"] = Probe(["--maf", "0.2"])
    P[G, "--pi"] = Probe(["--pi", "0.2"], only={  # R: GCTB 2.05's five default components
        a: ["--pi", "0.8,0.1,0.05,0.03,0.02"] for a in ("bayes-R", "sbayes-R", "sbayes-eigen-R",
                                                        "sbayes-eigen-RC")})
    P[G, "--pi-snp"] = Probe(["--pi-snp", "0.3"])
    P[G, "--fix-pi-snp"] = Probe(["--fix-pi-snp"])
    P[G, "--gamma"] = Probe(["--gamma", "0,0.001,0.01,0.1"])
    P[G, "--hsq"] = Probe(["--hsq", "0.2"])
    P[G, "--S"] = Probe(["--S", "-1.5"])
    P[G, "--wind"] = Probe(["--wind", "0.3"])
    P[G, "--fix-pi"] = Probe(["--fix-pi"])
    P[G, "--unscale-genotype"] = Probe(["--unscale-genotype"])
    P[G, "--chain-length"] = Probe(["--chain-length", "30"])
    P[G, "--burn-in"] = Probe(["--burn-in", "4"])
    P[G, "--thin"] = Probe(["--thin", "4"])
    P[G, "--seed"] = Probe(["--seed", "2"])
    P[G, "--chains"] = Probe(["--chains", "2"])
    P[G, "--out-freq"] = Probe(["--out-freq", "5"])
    P[G, "--thread"] = Probe(["--thread", "2"])
    P[G, "--checkpoint-every"] = Probe(["--checkpoint-every", "7"])
    P[G, "--resume"] = Probe(["--resume"])
    P[G, "--no-mcmc-bin"] = Probe(["--no-mcmc-bin"])
    P[G, "--no-netcdf"] = Probe(["--no-netcdf"], drop=["--no-netcdf"])
    P[G, "--gwas-summary"] = Probe(["--gwas-summary", f"{d}/sim2.ma"])
    P[G, "--mgwas-summary"] = Probe(["--mgwas-summary", f"{d}/traits.txt"],
                                    replaces=["--gwas-summary"])   # OUT.sim1000.* instead
    P[G, "--ldm"] = Probe(["--ldm", f"{d}/ld22.chr22.ldm.full"], replaces=["--mldm"],
                          only={"merge-block-ldm-info": ["--ldm", f"{d}/blk_alt"],
                                "make-ldm-eigen": ["--ldm", f"{d}/blk_alt.merged"]})
    P[G, "--mldm"] = Probe(["--mldm", f"{d}/pieces22.txt"],
                           only={a: ["--mldm", f"{d}/mldm2.txt"] for a in gctb_cli.SBAYES})
    P[G, "--impute-n"] = Probe(["--impute-n"])
    P[G, "--p-value"] = Probe(["--p-value", "0.5"])
    P[G, "--rsq"] = Probe(["--rsq", "0.3"])
    P[G, "--keep-ambiguous"] = Probe(["--keep-ambiguous"])
    P[G, "--impute-summary"] = Probe([])
    P[G, "--annot"] = Probe(["--annot", f"{d}/annot2.txt"])
    P[G, "--impute-ridge"] = Probe(["--impute-ridge", "0.5"])
    P[G, "--ldm-eigen"] = Probe(["--ldm-eigen", f"{d}/eig22"])
    P[G, "--ldm-eigen-cutoff"] = Probe(["--ldm-eigen-cutoff", "0.9"], only={
        f"sbayes-eigen-{m}": ["--ldm-eigen-cutoff", "0.99,0.9"] for m in ("C", "R", "S", "RC")})
    P[G, "--eigen-noise"] = Probe(["--eigen-noise", "lambda"])
    P[G, "--robust"] = Probe(["--robust"], same=True)
    P[G, "--no-robust"] = Probe(["--no-robust"])
    P[G, "--ld-ridge"] = Probe(["--ld-ridge", "0.3"])
    P[G, "--ld-layout"] = Probe(["--ld-layout", "csr"])
    P[G, "--min-eigenvalue"] = Probe(["--min-eigenvalue", "0.5"])
    P[G, "--ld-in-sample"] = Probe(["--ld-in-sample"])
    P[G, "--ld-out-of-sample"] = Probe(["--ld-out-of-sample"],
                                       context=["--gwas-summary", f"{d}/sim503.ma"])
    P[G, "--snp"] = Probe(["--snp", "1-30"])
    P[G, "--chisq"] = Probe(["--chisq", "60"])
    P[G, "--gen-map"] = Probe(["--gen-map", f"{d}/map2.txt"])
    P[G, "--cm-per-mb"] = Probe(["--cm-per-mb", "0.5"], replaces=["--gen-map"])
    P[G, "--ne"] = Probe(["--ne", "2000"])
    P[G, "--genmap-n"] = Probe(["--genmap-n", "40"])
    P[G, "--shrunk-cutoff"] = Probe(["--shrunk-cutoff", "0.05"])
    P[G, "--write-ldm-txt"] = Probe(["--write-ldm-txt"])
    # ----- bayesmix-mixer
    P[M, "--bfile"] = Probe(["--bfile", w["alt_bfile"]])
    P[M, "--r2min"] = Probe(["--r2min", "0.2"])
    P[M, "--ld-window-kb"] = Probe(["--ld-window-kb", "500"])
    P[M, "--chr"] = Probe(["--chr", "22"])
    def other_trait(file_flag, trait, flags=("--trait1-file", "--trait2-file"),
                    params=("--trait1-params-file", "--trait2-params-file"),
                    load="--load-params-file", tests=("test1", "test2")):
        """The statistics of ``trait`` for a trait's file flag, with a fit of them (fit2,
        test1 and test2 refuse the fit of other statistics, and fit2 the same statistics
        twice): test1 takes that trait's fit, fit2 and test2 the traits swapped with their
        fits swapped."""
        statistics = [file_flag, f"{d}/pair.trait{trait}.sumstats.gz"]
        swapped = [flags[0], f"{d}/pair.trait2.sumstats.gz", flags[1],
                   f"{d}/pair.trait1.sumstats.gz"]
        return Probe(statistics, only={
            "fit2": [*swapped, params[0], f"{d}/fit2.json", params[1], f"{d}/fit1.json"],
            tests[0]: [*statistics, load, f"{d}/fit{trait}.json"],
            tests[1]: [*swapped, load, f"{d}/fitba.json"]})

    def fit2_setting(args, params_flags=("--trait1-params-file", "--trait2-params-file"),
                     fits=None):
        """``args`` for every analysis; fit2 with univariate fits made with them (``fits``:
        the suffix of fit1c/fit1s), as it refuses others."""
        return Probe(args, only={"fit2": [*args, params_flags[0], f"{d}/fit1{fits}.json",
                                          params_flags[1], f"{d}/fit2{fits}.json"]})

    P[M, "--trait1-file"] = other_trait("--trait1-file", 2)
    P[M, "--trait2-file"] = other_trait("--trait2-file", 1)
    P[M, "--ld-file"] = Probe(["--ld-file", f"{d}/alt_chr@.ld"],
                              only={"snps": ["--ld-file", f"{d}/few_chr@.ld"]})
    P[M, "--bim-file"] = Probe(["--bim-file", f"{d}/tiny_chr@.bim"])
    P[M, "--chr2use"] = fit2_setting(["--chr2use", "6,22"], fits="c")
    P[M, "--extract"] = Probe(["--extract", f"{d}/extract.txt"])
    P[M, "--exclude"] = Probe(["--exclude", f"{d}/exclude.txt"])
    P[M, "--exclude-ranges"] = Probe(["--exclude-ranges", f"{d}/regions.txt"])
    P[M, "--randprune-n"] = Probe(["--randprune-n", "3"])
    P[M, "--ld-in-sample"] = fit2_setting(["--ld-in-sample"], fits="s")
    P[M, "--randprune-r2", ] = Probe(["--randprune-r2", "0.5"])
    P[M, "--seed"] = Probe(["--seed", "9"])
    P[M, "--threads"] = Probe(["--threads", "1"], only={"ld": ["--threads", "2"]})
    P[M, "--trait1-params-file"] = Probe(["--trait1-params-file", f"{d}/fit1b.json"])
    P[M, "--trait2-params-file"] = Probe(["--trait2-params-file", f"{d}/fit2b.json"])
    P[M, "--load-params-file"] = Probe(["--load-params-file", f"{d}/fit1b.json"],
                                       only={"test2": ["--load-params-file", f"{d}/fitb2.json"]})
    P[M, "--fit-sequence"] = Probe(["--fit-sequence", "infinitesimal"],
                                   only={"fit2": ["--fit-sequence", "infinitesimal", "fast",
                                                  "full"],
                                         **{a: ["--fit-sequence", "load"]
                                            for a in ("test1", "test2")}})
    P[M, "--kmax"] = Probe(["--kmax", "7"], only={"fit1": ["--kmax", "7", "--fit-sequence",
                                                            "infinitesimal", "neldermead-full"],
                                                   "fit2": ["--kmax", "7", "--fit-sequence",
                                                            "infinitesimal", "fast", "full"]},
                           context=[])
    P[M, "--n-draws"] = Probe(["--n-draws", "31"])
    P[M, "--z1max"] = Probe(["--z1max", "2.5"])
    P[M, "--nuts"] = Probe(["--nuts", "4"])
    P[M, "--profile-points"] = Probe(["--profile-points", "3"])
    P[M, "--qq-method"] = Probe(["--qq-method", "fast"])
    P[M, "--out"] = Probe([])
    P[M, "--resume"] = Probe(["--resume"])
    P[M, "--r2"] = Probe(["--r2", "0.3"])
    P[M, "--maf"] = Probe(["--maf", "0.3"])
    P[M, "--subset"] = Probe(["--subset", "20"])
    P[M, "--replicates"] = Probe(["--replicates", "2"])
    for flag, value in (("--replicate-r2", "0.3"), ("--replicate-maf", "0.3"),
                        ("--replicate-subset", "15")):
        P[M, flag] = Probe([flag, value], context=["--replicates", "2"])
    singles = ["--trait1-file", "--trait2-file", "--trait1-params-file", "--trait2-params-file"]
    traits = f"{d}/pair.trait1.sumstats.gz,{d}/pair.trait2.sumstats.gz"
    P[M, "--trait-files"] = Probe(["--trait-files", traits, "--trait-params-files",
                                   f"{d}/fit1.json,{d}/fit2.json"], replaces=singles)
    P[M, "--trait-params-files"] = Probe(
        ["--trait-params-files", f"{d}/fit1b.json,{d}/fit2b.json"], drop=singles,
        context=["--trait-files", traits, "--trait-params-files", f"{d}/fit1.json,{d}/fit2.json"])
    P[M, "--json"] = Probe(["--json", f"{d}/rep5.rep@.json"])
    P[M, "--rep2use"] = Probe(["--rep2use", "1"])
    # ----- bayesmix mixer
    P[N, "action"] = Probe([])
    native_trait = dict(flags=("--sumstats", "--sumstats2"), params=("--params", "--params2"),
                        load="--params", tests=("test", "test2"))
    P[N, "--sumstats"] = other_trait("--sumstats", 2, **native_trait)
    P[N, "--sumstats2"] = other_trait("--sumstats2", 1, **native_trait)
    P[N, "--ld"] = Probe(["--ld", f"{d}/alt_chr@.ld"])
    P[N, "--chr"] = fit2_setting(["--chr", "6,22"], ("--params", "--params2"), "c")
    P[N, "--out"] = Probe([])
    P[N, "--params"] = Probe(["--params", f"{d}/fit1b.json"],
                             only={"test2": ["--params", f"{d}/fitb2.json"]})
    P[N, "--params2"] = Probe(["--params2", f"{d}/fit2b.json"])
    P[N, "--method"] = Probe(["--method", "fast"], drop=["--sequence"])
    P[N, "--optimizer"] = Probe(["--optimizer", "neldermead"], drop=["--sequence"])
    P[N, "--sequence"] = Probe(["--sequence", "infinitesimal"],
                               only={"fit2": ["--sequence", "infinitesimal", "fast", "full"]})
    P[N, "--censor-z"] = Probe(["--censor-z", "2.5"])
    P[N, "--kmax"] = Probe(["--kmax", "7"], only={"fit": ["--kmax", "7", "--sequence",
                                                           "infinitesimal", "neldermead-full"],
                                                  "fit2": ["--kmax", "7", "--sequence",
                                                           "infinitesimal", "fast", "full"]})
    P[N, "--draws"] = Probe(["--draws", "31"])
    P[N, "--nuts"] = Probe(["--nuts", "4"])
    P[N, "--plots"] = Probe(["--plots"])
    P[N, "--qq-method"] = Probe(["--qq-method", "fast"],
                                context=[], only={"fit": ["--qq-method", "fast", "--plots"]})
    P[N, "--profile-points"] = Probe(["--profile-points", "3"])
    P[N, "--extract"] = Probe(["--extract", f"{d}/extract.txt"])
    P[N, "--exclude"] = Probe(["--exclude", f"{d}/exclude.txt"])
    P[N, "--exclude-ranges"] = Probe(["--exclude-ranges", f"{d}/regions.txt"])
    P[N, "--prune-passes"] = Probe(["--prune-passes", "3"])
    P[N, "--ld-in-sample"] = fit2_setting(["--ld-in-sample"], ("--params", "--params2"), "s")
    P[N, "--prune-r2"] = Probe(["--prune-r2", "0.5"])
    P[N, "--seed"] = Probe(["--seed", "9"])
    P[N, "--threads"] = Probe(["--threads", "1"])
    P[N, "--resume"] = Probe(["--resume"])
    # ----- bayesmix ld
    P[L, "action"] = Probe([])
    P[L, "inputs"] = Probe([], inputs=[f"{d}/bm22.ld"],
                           only={"merge": [f"{d}/bm1-30.ld"]})
    P[L, "--out"] = Probe([])
    P[L, "--bfile"] = Probe(["--bfile", w["alt_bfile"]])
    P[L, "--chr"] = Probe(["--chr", "22"], only={"eigen": ["--chr", "6"]})
    P[L, "--keep"] = Probe(["--keep", f"{d}/keep.txt"])
    P[L, "--remove"] = Probe(["--remove", f"{d}/remove.txt"])
    P[L, "--extract"] = Probe(["--extract", f"{d}/extract.txt"])
    P[L, "--exclude"] = Probe(["--exclude", f"{d}/exclude.txt"],
                              only={"eigen": ["--exclude", f"{d}/exclude.txt"]})
    P[L, "--maf"] = Probe(["--maf", "0.2"])
    P[L, "--missing"] = Probe(["--missing", "pairwise"])
    P[L, "--no-progress"] = Probe(["--no-progress"])
    P[L, "--kind"] = Probe([])
    P[L, "--snp"] = Probe(["--snp", "1-30"])
    P[L, "--tags"] = Probe(["--tags", f"{d}/extract.txt"])
    P[L, "--window-kb"] = Probe(["--window-kb", "150"])
    P[L, "--window-snps"] = Probe(["--window-snps", "5"])
    P[L, "--window-cm"] = Probe(["--window-cm", "0.2"])
    P[L, "--chisq"] = Probe(["--chisq", "60"])
    P[L, "--r2min"] = Probe(["--r2min", "0.2"])
    P[L, "--gen-map"] = Probe(["--gen-map", f"{d}/map2.txt"],
                              context=[], only={a: ["--gen-map", f"{d}/map2.txt",
                                                    "--window-cm", "0.2"]
                                                for a in ("build-window", "build-sparse",
                                                          "build-r2")})
    P[L, "--cm-per-mb"] = Probe(["--cm-per-mb", "0.5", "--window-cm", "0.2"],
                                only={"build-shrunk": ["--cm-per-mb", "0.5"]},
                                replaces=["--gen-map"])
    P[L, "--ne"] = Probe(["--ne", "2000"])
    P[L, "--genmap-n"] = Probe(["--genmap-n", "40"])
    P[L, "--cutoff"] = Probe(["--cutoff", "0.05"])
    P[L, "--threads"] = Probe(["--threads", "2"])
    P[L, "--max-memory"] = Probe(["--max-memory", "64"])
    P[L, "--block-size"] = Probe(["--block-size", "16"])
    for prog in (L, G, M):  # LD builds on Dask
        P[prog, "--cluster"] = Probe(["--cluster", "local:1"])
        P[prog, "--dask-scheduler"] = Probe(["--dask-scheduler", w["dask"]])
        P[prog, "--pieces"] = Probe(["--pieces", "3"], context=["--dask-scheduler", w["dask"]])
    P[L, "--dtype"] = Probe(["--dtype", "int16"])
    P[L, "--layout"] = Probe(["--layout", "upper"])
    P[L, "--to"] = Probe(["--to", "text"])
    P[L, "--gctb-type"] = Probe(["--gctb-type", "band"], context=["--to", "gctb"])
    P[L, "--ld-blocks"] = Probe(["--ld-blocks", f"{d}/blocks.txt"], replaces=["--block-snps"])
    P[L, "--block-snps"] = Probe(["--block-snps", "10"])
    P[L, "--prop"] = Probe(["--prop", "0.5"])
    P[L, "--passes"] = Probe(["--passes", "3"])
    P[L, "--max-r2"] = Probe(["--max-r2", "0.5"])
    P[L, "--seed"] = Probe(["--seed", "9"])
    P[L, "--resume"] = Probe(["--resume"])
    # ----- bayesmix munge
    P[U, "--sumstats"] = Probe(["--sumstats", f"{d}/sim2.sumstats.gz"])
    P[U, "--format"] = Probe(["--format", "generic"],
                             context=["--sumstats", f"{d}/extra.sumstats.gz"])
    P[U, "--column"] = Probe(["--column", "myp=P"], context=["--sumstats", f"{d}/myp.txt"])
    P[U, "--n"] = Probe(["--n", "777"], context=["--sumstats", f"{d}/partN.sumstats.gz"])
    P[U, "--ref"] = Probe(["--ref", w["alt_bfile"]])
    P[U, "--out"] = Probe([])
    P[U, "--match-by"] = Probe(["--match-by", "chrpos"], context=["--sumstats",
                                                                  f"{d}/pos.sumstats.gz"])
    P[U, "--keep-ambiguous"] = Probe(["--keep-ambiguous"])
    P[U, "--min-info"] = Probe(["--min-info", "0.5"], context=["--sumstats",
                                                               f"{d}/info.sumstats.gz"])
    P[U, "--min-maf"] = Probe(["--min-maf", "0.2"])
    P[U, "--max-freq-diff"] = Probe(["--max-freq-diff", "0.005"],
                                    context=["--sumstats", f"{d}/freq.ma"])
    P[U, "--impute-n"] = Probe(["--impute-n"], context=["--sumstats", f"{d}/sim.ma"])
    P[U, "--exclude-mhc"] = Probe(["--exclude-mhc", "hg19"])
    P[U, "--exclude-region"] = Probe(["--exclude-region", f"{d}/regions.txt"])
    # ----- bayesmix simulate
    P[S, "--bfile"] = Probe(["--bfile", w["alt_bfile"]])
    P[S, "--prior"] = Probe([])
    P[S, "--h2"] = Probe(["--h2", "0.2"], only={"mixer2": ["--h2", "0.2", "0.3"]})
    P[S, "--n-causal"] = Probe(["--n-causal", "7"], only={"mixer2": ["--n-causal", "1", "2", "4"],
                                                          "N": ["--n-causal", "2"],
                                                          "NS": ["--n-causal", "2"]})
    P[S, "--pi"] = Probe(["--pi", "0.6"], context=["--pi", "0.3"], drop=["--n-causal"])
    P[S, "--S"] = Probe(["--S", "-1.5"])
    P[S, "--pi-k"] = Probe(["--pi-k", "0.9", "0.05", "0.03", "0.02"])
    P[S, "--gamma"] = Probe(["--gamma", "0", "0.1", "0.5", "1"])
    P[S, "--nu"] = Probe(["--nu", "10"])
    P[S, "--pi-snp"] = Probe(["--pi-snp", "0.9"])
    P[S, "--window-kb"] = Probe(["--window-kb", "300"])
    mixer2_pis = ["--pi1", "0.05", "--pi2", "0.05", "--pi12", "0.05"]
    for flag in ("--pi1", "--pi2", "--pi12"):
        P[S, flag] = Probe([flag, "0.1"], context=mixer2_pis, drop=["--n-causal"])
    P[S, "--rho12"] = Probe(["--rho12", "0.5"])
    P[S, "--residual-corr"] = Probe(["--residual-corr", "0.5"])
    P[S, "--prevalence"] = Probe(["--prevalence", "0.3"])
    P[S, "--case-control"] = Probe(["--case-control", "100", "150"],
                                   context=["--prevalence", "0.3"])
    P[S, "--n-gwas"] = Probe(["--n-gwas", "5000"])
    P[S, "--n-overlap"] = Probe(["--n-overlap", "1000"], context=["--n-gwas", "5000"])
    P[S, "--ld-block-size"] = Probe(["--ld-block-size", "30"], context=["--n-gwas", "5000"])
    P[S, "--ld"] = Probe(["--ld", f"{d}/sim_ld22"], context=["--n-gwas", "5000", "--chr", "22"])
    P[S, "--maf"] = Probe(["--maf", "0.2"])
    P[S, "--chr"] = Probe(["--chr", "22"])
    P[S, "--extract"] = Probe(["--extract", f"{d}/extract.txt"])
    P[S, "--keep"] = Probe(["--keep", f"{d}/keep.txt"])
    P[S, "--seed"] = Probe(["--seed", "2"])
    P[S, "--out"] = Probe([])
    P[S, "--coalescent"] = Probe([])
    P[S, "--n-cohort"] = Probe(["--n-cohort", "40"])
    P[S, "--n-panel"] = Probe(["--n-panel", "30"])
    P[S, "--chromosomes"] = Probe(["--chromosomes", "2"])
    P[S, "--length-mb"] = Probe(["--length-mb", "0.3"])
    P[S, "--n-snps"] = Probe(["--n-snps", "20"])
    P[S, "--demography"] = Probe(["--demography", "constant"])
    P["bayesmix demo", "--out"] = Probe([])
    P["bayesmix demo", "--seed"] = Probe([])
    P["bayesmix example-data", "--out"] = Probe([])
    return P


# --------------------------------------------------------------------------- machinery
def split(argv):
    """Leading positionals, then (flag, values) segments."""
    argv = [str(a) for a in argv]
    first = next((i for i, a in enumerate(argv) if a.startswith("--")), len(argv))
    segments = []
    for token in argv[first:]:
        if token.startswith("--"):
            segments.append((token, []))
        else:
            segments[-1][1].append(token)
    return argv[:first], segments


def combine(base, args=(), drop=(), inputs=None):
    """``base`` with ``args``' flags replacing the same flags, ``drop`` removed and the
    positional inputs replaced by ``inputs``."""
    positionals, segments = split(base)
    _, new = split(list(args))
    gone = {flag for flag, _ in new} | set(drop)
    segments = [(f, v) for f, v in segments if f not in gone] + new
    if inputs is not None:
        positionals = positionals[:2] + [str(i) for i in inputs]
    return positionals + [token for f, v in segments for token in (f, *v)]


MAINS = {"bayesmix-gctb": gctb_cli.main, "bayesmix-mixer": mixer_cli.main}
VOLATILE_KEYS = re.compile(r"second|time|elapsed|options|version|command|created|date", re.I)


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if not VOLATILE_KEYS.search(k)}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def normalise_text(text: str, out: str) -> str:
    text = text.replace(out, "OUT")
    # progress lines ("LD blocks: 85/1,100 blocks (8%), ...") appear only when a step takes
    # long enough, which depends on the machine's load; the LD check's value is read back
    # (bayesmix.ld.check_cache) by every run after the first on the same LD
    lines = [line for line in text.splitlines()
             if not line.startswith(("Options:", "bayesmix", "usage", "LD check: read back"))
             and not re.search(r"\d[\d,]*/[\d,]+ .*\(\d+%\)", line)]
    text = "\n".join(lines)
    text = re.sub(r"\d+:\d\d:\d\d", "T", text)              # time left
    text = re.sub(r"\d+(\.\d+)? ?(s|ms)\b", "S", text)        # durations
    return text


def netcdf_layout(path) -> list:
    """(path, shape) of every variable of a netCDF-4 file, coordinates included, sorted:
    what the file holds, without its values (h5py lists it in milliseconds, where opening
    it as an xarray DataTree took 0.3 s, a tenth of the MiXeR option runs)."""
    import h5py

    layout = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: layout.append((name, item.shape))
                     if isinstance(item, h5py.Dataset) else None)
    return sorted(layout)


def observe(path_prefix: Path) -> dict:
    """What a run left under its output prefix, normalised (timings, the prefix itself)."""
    out = str(path_prefix)
    seen = {}
    for path in sorted(path_prefix.parent.iterdir()):
        if not path.name.startswith(path_prefix.name):
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            name = str(file).replace(out, "OUT")
            if file.suffix in (".png", ".pdf", ".lock"):
                seen[name] = "present"
            elif file.suffix == ".nc":
                seen[name] = netcdf_layout(file)
            elif file.suffix == ".json":
                seen[name] = json.dumps(_stable(json.loads(file.read_text())),
                                        sort_keys=True).replace(out, "OUT")
            else:
                raw = file.read_bytes()
                if raw[:2] == b"\x1f\x8b":
                    raw = gzip.decompress(raw)
                try:
                    seen[name] = normalise_text(raw.decode(), out)
                except UnicodeDecodeError:
                    seen[name] = raw
    return seen


def option_tokens(probe: Probe, opt, analysis) -> list:
    """The option's own flag and values within the probe's arguments."""
    _, segments = split(probe.for_analysis(analysis))
    for flag, values in segments:
        if flag in opt.flags:
            return [flag, *values]
    return [opt.name]


def _selects(prog, spec, argv, opt, analysis) -> bool:
    """Whether ``opt`` in ``argv`` is what makes it ``analysis`` (without it the command line
    is another analysis, or none)."""
    try:
        return _parse(prog, spec, combine(argv, (), opt.flags) + ["--out", "x"]).analysis != analysis
    except InputError:
        return True


def _segments(argv):
    positionals, segments = split(argv)
    return positionals, sorted((f, tuple(v)) for f, v in segments)


def _parse(prog, spec, argv):
    """Parse as the command's main does (subcommand parsers included)."""
    if prog == "bayesmix-gctb":
        return parse(spec, argv)
    parser = mixer_cli.build_parser() if prog == "bayesmix-mixer" else bayesmix_main.build_parser()
    return parse(spec, argv, namespace=parser.parse_args(argv))


# --------------------------------------------------------------------------- the check
def option_effect_problems(world, harness, prog, part) -> list:
    """Runs every applicable (analysis, option) pair of ``prog``'s analyses in ``part``
    against its base run; returns the problems found."""
    spec, table, base = SPECS[prog], probes(world), bases(world)
    analyses = [a for a in spec.analyses if part_of(prog, a) == part]
    assert analyses, (prog, part)
    problems = []
    for analysis in analyses:
        argv0 = base[prog, analysis]
        assert _parse(prog, spec, argv0 + ["--out", "x"]).analysis == analysis
        first = harness(prog, argv0, fresh=True)
        assert harness(prog, argv0, fresh=True) == first, (
            f"{prog} {analysis}: base run not reproducible")
        for opt in spec.options:
            if analysis not in opt.applies or opt.role in ("selector", "output"):
                continue
            probe = table[prog, opt.name]
            argv = combine(base[prog, analysis], probe.context, probe.drop)
            before = harness(prog, argv)
            changed = combine(argv, probe.for_analysis(analysis), probe.replaces, probe.inputs)
            if _segments(changed) == _segments(argv) and probe.inputs is None:
                if _selects(prog, spec, argv, opt, analysis):
                    continue  # the option is what picks this analysis
                problems.append((analysis, opt.name, "probe changes nothing on the command line"))
                continue
            after = harness(prog, changed)
            if probe.same and after != before:
                problems.append((analysis, opt.name, "differs from the default it asks for"))
            if not probe.same and after == before:
                problems.append((analysis, opt.name, "no effect"))
    return problems
