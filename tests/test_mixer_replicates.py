"""MiXeR's replicate fits, trait pairs, ``snps`` and ``combine`` (bayesmix-mixer), serially and
as Dask tasks: Dask gives the serial files bit for bit, a replicate equals MiXeR's two-command
workflow (``snps --seed S+k`` then ``fit1 --extract``), a pair equals its own fit2, the
combination equals numpy's mean/SD of the replicates, a worker killed mid-run changes
nothing, and an interrupted run resumes to the same files.

Data: the LD (r^2 >= 0.05) of the first 4,000 SNPs of the shipped chr22 subset, and a pair of
traits and a third trait simulated from it (GWAS of 100,000); fits use the cheap
infinitesimal -> fast sequence.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from bayesmix.cli import main as bayesmix_main  # noqa: E402
from bayesmix.cli import mixer as mixer_cli  # noqa: E402
from bayesmix.distributed import connect  # noqa: E402
from bayesmix.errors import InputError  # noqa: E402
from bayesmix.report.mixer_combine import combine_fits, replicate_paths  # noqa: E402
from test_ld_compute import first_snps_bfile  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FAST = ["--fit-sequence", "infinitesimal", "fast", "--n-draws", "20"]
SUBSET = ["--replicate-subset", "1500"]


@pytest.fixture(scope="module")
def client():
    with connect(cluster="local:2") as c:
        yield c


def build_reference(d, bfile) -> dict:
    """In folder ``d``: the MiXeR LD (r^2 >= 0.05) of the PLINK fileset ``bfile`` (chromosome
    22), a pair of traits (A, B) and a third trait (C) simulated from it (GWAS of 100,000),
    every third SNP as the tags (X.snps) and the three fit1 JSONs (the cheap sequence)."""
    run = lambda main, *argv: main([str(a) for a in argv])  # noqa: E731
    assert run(mixer_cli.main, "ld", "--bfile", bfile, "--out", d / "chr22.ld") == 0
    assert run(bayesmix_main.main, "simulate", "--bfile", bfile, "--prior", "mixer2", "--h2",
               0.4, 0.4, "--n-causal", 50, 50, 100, "--rho12", 0.5, "--n-gwas", 100000,
               "--ld", d / "chr22.ld", "--seed", 1, "--out", d / "AB") == 0
    assert run(bayesmix_main.main, "simulate", "--bfile", bfile, "--prior", "mixer", "--h2",
               0.3, "--n-causal", 80, "--n-gwas", 100000, "--ld", d / "chr22.ld", "--seed", 5,
               "--out", d / "C") == 0
    (d / "X.snps").write_text("".join(f"{s}\n" for s in np.loadtxt(
        f"{bfile}.bim", dtype=str, usecols=1)[::3]))
    common = ["--ld-file", d / "chr@.ld", "--chr2use", "22", "--exclude-ranges", "[]"]
    traits = {"A": d / "AB.trait1.sumstats.gz", "B": d / "AB.trait2.sumstats.gz",
              "C": d / "C.sumstats.gz"}
    for name, path in traits.items():
        assert run(mixer_cli.main, "fit1", "--trait1-file", path, *common, *FAST,
                   "--extract", d / "X.snps", "--out", d / f"{name}.fit") == 0
    return {"d": d, "bfile": str(bfile), "common": [str(c) for c in common], "traits": traits,
            "mixer": lambda *argv: run(mixer_cli.main, *argv)}


#: SNPs of the shipped chr22 subset the replicates' data use (its first ones): the tests check
#: the machinery, not the estimates (building the data took 18 s on all 10,000 SNPs, 8 s here)
REFERENCE_SNPS = 4000


@pytest.fixture(scope="module")
def ref(tmp_path_factory, bfile22):
    d = tmp_path_factory.mktemp("mixer_reps")
    return build_reference(d, first_snps_bfile(bfile22, d / "chr22", n_snps=REFERENCE_SNPS))


def fit_content(path):
    """A fit JSON without what legitimately differs between runs (options echo, timings,
    the run identifier)."""
    doc = json.loads(open(path).read())
    doc.pop("options", None)
    doc.pop("run_unit", None)
    for _, step in doc.get("optimize", []):
        step.pop("seconds", None)
    return doc


# ----------------------------------------------------------------------------------- snps
def test_snps_is_the_documented_rule(ref):
    """MAF filter, the `subset` candidates of smallest u, greedy pruning in increasing u, all
    recomputed here in numpy from the LD matrix (dense r^2 of the drawn SNPs)."""
    from bayesmix.ld.store import LDMatrix

    d = ref["d"]
    out = d / "S3.snps"
    assert ref["mixer"]("snps", "--ld-file", d / "chr@.ld", "--chr2use", "22", "--r2", 0.5,
                        "--maf", 0.1, "--subset", 400, "--seed", 3, "--out", out) == 0
    got = out.read_text().split()
    ld = LDMatrix.load(d / "chr22.ld")
    u = np.random.default_rng(3).random(ld.shape[0])
    freq = ld.snps["freq"].to_numpy()
    candidates = np.flatnonzero(np.minimum(freq, 1 - freq) >= 0.1)
    drawn = candidates[np.argsort(u[candidates])[:400]]
    r2 = ld.to_scipy().tocsr()[drawn][:, drawn].toarray() ** 2
    kept = []
    for i in np.argsort(u[drawn]):
        if all(r2[i, j] < 0.5 for j in kept):
            kept.append(i)
    expected = ld.snps["snp"].to_numpy()[np.sort(drawn[kept])]
    assert got == list(expected)
    assert 50 < len(got) < 400


def test_snps_refuses_an_ld_without_the_pairs(ref):
    d = ref["d"]
    with pytest.raises(InputError, match="only stores r\\^2 >= 0.05"):
        from bayesmix.prepare.mixer import draw_snp_subset

        draw_snp_subset(d / "chr@.ld", ["22"], r2=0.01, seed=1)


# ----------------------------------------------------------------------------- replicates
@pytest.fixture(scope="module")
def serial_reps(ref):
    d = ref["d"]
    assert ref["mixer"]("fit1", "--trait1-file", ref["traits"]["A"], *ref["common"], *FAST,
                        "--replicates", 3, *SUBSET, "--seed", 10, "--out", d / "A.rep") == 0
    return d / "A.rep"


def test_a_replicate_is_snps_then_fit1(ref, serial_reps):
    """Replicate k of --seed S is MiXeR's workflow with seed S + k."""
    d = ref["d"]
    assert ref["mixer"]("snps", "--ld-file", d / "chr@.ld", "--chr2use", "22", "--subset",
                        1500, "--seed", 12, "--out", d / "manual2.snps") == 0
    assert (d / "manual2.snps").read_text() == (d / "A.rep.rep2.snps").read_text()
    assert ref["mixer"]("fit1", "--trait1-file", ref["traits"]["A"], *ref["common"], *FAST,
                        "--extract", d / "manual2.snps", "--seed", 12,
                        "--out", d / "manual2") == 0
    assert fit_content(d / "manual2.json") == fit_content(f"{serial_reps}.rep2.json")


def test_combined_is_numpy_over_the_replicate_files(serial_reps):
    combined = json.loads(open(f"{serial_reps}.json").read())
    reps = [json.loads(open(f"{serial_reps}.rep{k}.json").read()) for k in (1, 2, 3)]
    assert combined["analysis"] == "univariate" and combined["n_replicates"] == 3
    for key, value in (("h2", lambda r: r["ci"]["h2"]["point"]),
                       ("nc", lambda r: r["ci"]["nc"]["point"]),
                       ("sig2_zero", lambda r: r["params"]["sig2_zero"]),
                       ("loglik", lambda r: r["loglik"])):
        values = np.array([value(r) for r in reps])
        entry = combined["ci"][key]
        assert entry["values"] == list(values)
        assert entry["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert entry["std"] == pytest.approx(np.std(values), rel=1e-12, abs=1e-300)
        assert entry["median"] == np.median(values)
    table = np.genfromtxt(f"{serial_reps}.csv", delimiter="\t", names=True, dtype=None,
                          encoding=None)
    row = table[table["quantity"] == "h2"][0]
    assert row["mean"] == pytest.approx(combined["ci"]["h2"]["mean"], rel=1e-5)
    assert os.path.getsize(f"{serial_reps}.replicates.png") > 0
    # the combine command gives the same record from the files
    again = combine_fits(replicate_paths(f"{serial_reps}.rep@.json"))
    assert again["ci"] == combined["ci"]


def test_replicates_on_dask_are_the_serial_files(ref, serial_reps, client):
    d = ref["d"]
    address = client.scheduler.address
    assert ref["mixer"]("fit1", "--trait1-file", ref["traits"]["A"], *ref["common"], *FAST,
                        "--replicates", 3, *SUBSET, "--seed", 10, "--dask-scheduler", address,
                        "--out", d / "A.dask") == 0
    for k in (1, 2, 3):
        assert fit_content(d / f"A.dask.rep{k}.json") == fit_content(
            f"{serial_reps}.rep{k}.json")
        assert (d / f"A.dask.rep{k}.snps").read_text() == open(
            f"{serial_reps}.rep{k}.snps").read()
    assert json.loads((d / "A.dask.json").read_text())["ci"] == json.loads(
        open(f"{serial_reps}.json").read())["ci"]
    assert "on the Dask scheduler at" in (d / "A.dask.log").read_text()


def test_a_worker_killed_mid_run_changes_nothing(ref, serial_reps, client):
    """SIGKILL one worker once the first replicate JSON is written: its task is rerun
    elsewhere (continuing from its checkpointed stages) and every file is the serial one."""
    d = ref["d"]
    victim = sorted(client.run(os.getpid).values())[0]
    seen = {}

    def kill_after_first_fit():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = list(d.glob("A.kill.rep*.json"))
            if done:
                seen["done_at_kill"] = len(done)
                os.kill(victim, signal.SIGKILL)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_first_fit)
    killer.start()
    rc = ref["mixer"]("fit1", "--trait1-file", ref["traits"]["A"], *ref["common"], *FAST,
                      "--replicates", 3, *SUBSET, "--seed", 10, "--dask-scheduler",
                      client.scheduler.address, "--out", d / "A.kill")
    killer.join()
    assert rc == 0
    assert 0 < seen["done_at_kill"] < 3
    for k in (1, 2, 3):
        assert fit_content(d / f"A.kill.rep{k}.json") == fit_content(
            f"{serial_reps}.rep{k}.json")
    assert not (d / "A.kill.ckpt").exists()
    client.wait_for_workers(2, timeout=60)


def test_an_interrupted_run_resumes_to_the_same_files(ref, serial_reps, monkeypatch):
    """SIGINT-like stop after the first replicate: its JSON and OUT.ckpt are kept; the same
    command is refused without --resume and, with it, reuses that fit and finishes."""
    from bayesmix.cli import mixer_replicates
    from bayesmix.interrupt import Interrupted

    d = ref["d"]
    real, calls = mixer_replicates.run_unit, []

    def stop_at_second(unit):
        calls.append(unit.label)
        if len(calls) == 2:
            raise Interrupted(signal.SIGINT)
        return real(unit)

    argv = ["fit1", "--trait1-file", ref["traits"]["A"], *ref["common"], *FAST,
            "--replicates", 3, *SUBSET, "--seed", 10, "--out", d / "A.stop"]
    monkeypatch.setattr(mixer_replicates, "run_unit", stop_at_second)
    assert ref["mixer"](*argv) == 130
    monkeypatch.setattr(mixer_replicates, "run_unit", real)
    assert (d / "A.stop.rep1.json").exists() and not (d / "A.stop.rep2.json").exists()
    assert (d / "A.stop.ckpt" / "plan.json").exists()
    assert ref["mixer"](*argv) == 1                       # refused without --resume
    first = (d / "A.stop.rep1.json").stat().st_mtime_ns
    assert ref["mixer"](*argv, "--resume") == 0
    assert (d / "A.stop.rep1.json").stat().st_mtime_ns == first      # reused
    assert "finished before (reused)" in (d / "A.stop.log").read_text()
    for k in (1, 2, 3):
        assert fit_content(d / f"A.stop.rep{k}.json") == fit_content(
            f"{serial_reps}.rep{k}.json")
    # a resume with other settings is refused
    monkeypatch.setattr(mixer_replicates, "run_unit", stop_at_second)
    calls.clear()
    assert ref["mixer"](*argv) == 130
    monkeypatch.setattr(mixer_replicates, "run_unit", real)
    assert ref["mixer"](*[a if a != 10 else 11 for a in argv], "--resume") == 1


# ---------------------------------------------------------------------------------- pairs
def test_pairs_serial_dask_and_single_fit2_agree(ref, client):
    d, t = ref["d"], ref["traits"]
    files = ",".join(str(t[k]) for k in "ABC")
    params = ",".join(str(d / f"{k}.fit.json") for k in "ABC")
    pair = ["--trait-files", files, "--trait-params-files", params, *ref["common"], *FAST,
            "--profile-points", 0, "--extract", d / "X.snps"]
    assert ref["mixer"]("fit2", *pair, "--out", d / "P") == 0
    assert ref["mixer"]("fit2", *pair, "--dask-scheduler", client.scheduler.address,
                        "--out", d / "Q") == 0
    names = ["AB.trait1_vs_AB.trait2", "AB.trait1_vs_C", "AB.trait2_vs_C"]
    for name in names:
        assert fit_content(d / f"P.{name}.json") == fit_content(d / f"Q.{name}.json")
    assert ref["mixer"]("fit2", "--trait1-file", t["A"], "--trait2-file", t["C"],
                        "--trait1-params-file", d / "A.fit.json", "--trait2-params-file",
                        d / "C.fit.json", *ref["common"], *FAST, "--profile-points", 0,
                        "--extract", d / "X.snps", "--out", d / "AC") == 0
    assert fit_content(d / "AC.json") == fit_content(d / "P.AB.trait1_vs_C.json")
    table = (d / "P.pairs.csv").read_text().splitlines()
    assert [line.split("\t")[0] for line in table[1:]] == names


def test_fit2_replicates_with_replicate_params_and_bivariate_combine(ref, serial_reps):
    """fit2 --replicates reads trait k's params from '@' = k; combine of bivariate fits."""
    d, t = ref["d"], ref["traits"]
    assert ref["mixer"]("fit2", "--trait1-file", t["A"], "--trait2-file", t["B"],
                        "--trait1-params-file", f"{serial_reps}.rep@.json",
                        "--trait2-params-file", d / "B.fit.json", *ref["common"], *FAST,
                        "--profile-points", 0, "--replicates", 2, *SUBSET, "--seed", 10,
                        "--out", d / "AA") == 0
    rep2 = json.loads((d / "AA.rep2.json").read_text())
    own = json.loads(open(f"{serial_reps}.rep2.json").read())["params"]
    assert rep2["univariate"]["trait1"]["pi"] == own["pi"]
    combined = json.loads((d / "AA.json").read_text())
    assert combined["analysis"] == "bivariate"
    values = [json.loads((d / f"AA.rep{k}.json").read_text())["ci"]["rg"]["point"]
              for k in (1, 2)]
    assert combined["ci"]["rg"]["mean"] == pytest.approx(np.mean(values), rel=1e-12)
    assert combined["ci"]["rho12"]["values"] == [
        json.loads((d / f"AA.rep{k}.json").read_text())["params"]["rho12"] for k in (1, 2)]
    # univariate and bivariate replicates do not mix
    (d / "mix.rep1.json").write_text((d / "AA.rep1.json").read_text())
    (d / "mix.rep2.json").write_text(open(f"{serial_reps}.rep1.json").read())
    assert ref["mixer"]("combine", "--json", d / "mix.rep@.json", "--out", d / "mix") == 1
    with pytest.raises(InputError, match="univariate and bivariate"):
        combine_fits(replicate_paths(str(d / "mix.rep@.json")))


def test_settings_warnings_once_per_params_file_and_resume_without_checkpoint(
        ref, serial_reps, capsys):
    """fit2 of several pairs or replicates warned about a fit1 made with other settings once
    per pair and replicate (audit): each params file's warning comes once, its replicates
    named ('@'). --resume with no OUT.ckpt is warned about once, not per fit."""
    d, t = ref["d"], ref["traits"]
    capsys.readouterr()
    files = ",".join(str(t[k]) for k in "ABC")
    params = ",".join(str(d / f"{k}.fit.json") for k in "ABC")
    assert ref["mixer"]("fit2", "--trait-files", files, "--trait-params-files", params,
                        *ref["common"], *FAST, "--profile-points", 0, "--resume",
                        "--out", d / "W") == 0   # the fit1s had --extract X.snps, not this
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("warning:")]
    assert warnings == [
        *(f"warning: {d / f'{k}.fit.json'}: this univariate fit was made with --extract "
          f"{d / 'X.snps'}, this fit2 runs without --extract (the univariate parameters may "
          "not fit this fit2's tag SNPs)" for k in "ABC"),
        f"warning: --resume: no checkpoint {d / 'W.ckpt'} to continue; starting from the "
        "beginning (resuming needs the interrupted command's --out)"]
    assert ref["mixer"]("fit2", "--trait1-file", t["A"], "--trait2-file", t["B"],
                        "--trait1-params-file", f"{serial_reps}.rep@.json",
                        "--trait2-params-file", d / "B.fit.json", *ref["common"], *FAST,
                        "--profile-points", 0, "--replicates", 2, *SUBSET, "--seed", 10,
                        "--extract", d / "X.snps", "--out", d / "WR") == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        f"warning: {serial_reps}.rep@.json (replicates 1-2): this univariate fit was made "
        f"without --extract, this fit2 runs with --extract {d / 'X.snps'} (the univariate "
        "parameters may not fit this fit2's tag SNPs)"]
    assert "no checkpoint" not in err


# ---------------------------------------------------------------------------------- errors
def test_combine_errors(ref, serial_reps, tmp_path):
    with pytest.raises(InputError, match="needs '@'"):
        replicate_paths(str(tmp_path / "T.json"))
    with pytest.raises(InputError, match="no file matches"):
        replicate_paths(str(tmp_path / "T.rep@.json"))
    for k in (1, 3):
        (tmp_path / f"T.rep{k}.json").write_text(open(f"{serial_reps}.rep{k}.json").read())
    with pytest.raises(InputError, match="replicate\\(s\\) 2 of 1-3 are missing"):
        replicate_paths(str(tmp_path / "T.rep@.json"))
    assert len(replicate_paths(str(tmp_path / "T.rep@.json"), [1, 3])) == 2
    with pytest.raises(InputError, match="do not exist.*T.rep4.json"):
        replicate_paths(str(tmp_path / "T.rep@.json"), [1, 4])
    (tmp_path / "T.rep2.json").write_text('{"analysis": "univariate",\n "ci": {,}}')
    with pytest.raises(InputError, match="line 2, column 9: invalid JSON"):
        combine_fits(replicate_paths(str(tmp_path / "T.rep@.json")))
    (tmp_path / "T.rep2.json").write_text('{"analysis": "univariate-test", "params": {}}')
    with pytest.raises(InputError, match="not a fit1/fit2 result"):
        combine_fits(replicate_paths(str(tmp_path / "T.rep@.json")))
    other = json.loads(open(f"{serial_reps}.rep2.json").read())
    other["options"]["--trait1-file"] = "other.sumstats.gz"
    other.pop("trait_sha256")   # compared by the recorded files when a digest is missing
    other.pop("trait_file")
    (tmp_path / "T.rep2.json").write_text(json.dumps(other))
    with pytest.raises(InputError, match="other summary statistics"):
        combine_fits(replicate_paths(str(tmp_path / "T.rep@.json")))
    # a native `bayesmix mixer` fit (nc@p9 from the reference's heterozygosities, no
    # nc@p9_het) among bayesmix-mixer's (MiXeR's 0.319 x nc) would average two quantities
    native = json.loads(open(f"{serial_reps}.rep2.json").read())
    native["ci"] = {k: v for k, v in native["ci"].items() if not k.endswith("@p9_het")}
    (tmp_path / "T.rep2.json").write_text(json.dumps(native))
    with pytest.raises(InputError, match="nc@p9 counts are bayesmix's .* MiXeR's"):
        combine_fits(replicate_paths(str(tmp_path / "T.rep@.json")))


def test_options_refused_for_fits(ref, capsys):
    d, t = ref["d"], ref["traits"]
    base = ["fit1", "--trait1-file", t["A"], *ref["common"], *FAST, "--out", d / "refused"]
    cases = {("--pieces", "3", "--cluster", "local:1"): "--pieces does not apply to fit1",
             ("--replicate-r2", "0.5"): "--replicate-r2 needs --replicates",
             ("--replicates", "2", "--nuts", "5"): "--nuts samples one fit"}
    for extra, message in cases.items():
        assert ref["mixer"](*base, *extra) == 1
        assert message in capsys.readouterr().err
    pair = ["fit2", *ref["common"], *FAST, "--out", d / "refused2"]
    assert ref["mixer"](*pair, "--trait-files", f"{t['A']},{t['B']}", "--trait-params-files",
                        d / "A.fit.json") == 1
    assert "lists 1 files for the 2" in capsys.readouterr().err
    assert ref["mixer"](*pair, "--trait-files", f"{t['A']},{d / 'x' / t['A'].name}",
                        "--trait-params-files", f"{d / 'A.fit.json'},{d / 'A.fit.json'}") == 1
    assert "two traits are named" in capsys.readouterr().err
    assert ref["mixer"](*pair, "--trait1-file", t["A"], "--trait2-file", t["B"]) == 1
    assert "fit2 needs --trait1-file" in capsys.readouterr().err
    assert ref["mixer"](*pair, "--trait1-file", t["A"], "--trait2-file", t["B"],
                        "--trait1-params-file", d / "A.rep@.json", "--trait2-params-file",
                        d / "B.fit.json") == 1
    assert "give --replicates" in capsys.readouterr().err
