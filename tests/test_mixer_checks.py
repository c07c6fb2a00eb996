"""MiXeR inputs refused or warned about before any fit (bayesmix-mixer, ``bayesmix mixer``): a
chromosome given twice, a region ending before its start, the same statistics as both traits
of fit2, params files of other statistics or settings (test1, fit2, test2, and no checkpoint
left by a refused run), a missing file of --trait-files, replicate fits that are not of one
analysis (combine), and the warnings of a fit1 with h2 > 1 or sig2_zero at its floor.

Truths: the edit made to an input (a copied file, a changed recorded option), the file's
own SHA-256, and a clean run.

Data: test_mixer_replicates's (the LD of a PLINK fileset, a pair of traits and a third trait
simulated from it, their fit1 JSONs), built on the first 3,000 SNPs of the shipped chr22
subset; fits use the cheap infinitesimal -> fast sequence.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli import main as bayesmix_main
from bayesmix.cli.mixer_runs import fit1_warnings
from bayesmix.errors import InputError
from bayesmix.prepare.mixer import parse_chromosomes, parse_exclude_ranges
from bayesmix.report.mixer_combine import combine_fits, combined_summary
from test_ld_compute import first_snps_bfile
from test_mixer_replicates import build_reference

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

FAST = ["--fit-sequence", "infinitesimal", "fast", "--n-draws", "20"]
FIT2 = [*FAST, "--profile-points", "0"]
#: SNPs of the shipped chr22 subset the checks' data use: they need fits, not their size
CHECK_SNPS = 3000


@pytest.fixture(scope="module")
def ref(tmp_path_factory, bfile22):
    """test_mixer_replicates's data (:func:`build_reference`) on the first CHECK_SNPS SNPs."""
    d = tmp_path_factory.mktemp("mixer_checks")
    return build_reference(d, first_snps_bfile(bfile22, d / "chr22", n_snps=CHECK_SNPS))


def pair(ref, t1="A", t2="B", p1="A.fit.json", p2="B.fit.json"):
    d, t = ref["d"], ref["traits"]
    return ["--trait1-file", t[t1], "--trait2-file", t[t2], "--trait1-params-file", d / p1,
            "--trait2-params-file", d / p2, *ref["common"]]


# ------------------------------------------------------------------------ --chr2use, regions
def test_repeated_chromosome_is_refused(ref, capsys):
    assert parse_chromosomes("21,22") == ["21", "22"]
    for text in ("22,22", "21-22 22", "20-22,21"):
        with pytest.raises(InputError, match="chromosome (22|21) is given more than once"):
            parse_chromosomes(text)
    d, t = ref["d"], ref["traits"]
    assert ref["mixer"]("fit1", "--trait1-file", t["A"], "--ld-file", d / "chr@.ld",
                        "--chr2use", "22,22", *FAST, "--out", d / "dup") == 1
    assert "chromosome 22 is given more than once" in capsys.readouterr().err
    assert not (d / "dup.json").exists()
    assert bayesmix_main.main(["mixer", "fit", "--sumstats", str(t["A"]), "--ld",
                               str(d / "chr@.ld"), "--chr", "22,22", "--out",
                               str(d / "natdup")]) == 1
    assert "chromosome 22 is given more than once" in capsys.readouterr().err
    assert ref["mixer"]("snps", "--ld-file", d / "chr@.ld", "--chr2use", "22,22",
                        "--out", d / "dup.snps") == 1
    assert not (d / "dup.snps").exists()


def test_region_ending_before_its_start_is_refused_as_in_a_file(tmp_path):
    _, regions = parse_exclude_ranges("22:16-20MB")
    assert regions.to_dict("list") == {"chr": ["22"], "start": [16_000_000],
                                       "end": [20_000_000]}
    with pytest.raises(InputError, match="region end 16000000 is before its start 20000000"):
        parse_exclude_ranges("22:20-16MB")
    (tmp_path / "r.txt").write_text("22 20000000 16000000\n")
    with pytest.raises(InputError, match="region end 16000000 is before its start 20000000"):
        parse_exclude_ranges(str(tmp_path / "r.txt"))


# ------------------------------------------------------------------------ fit2's inputs
def test_same_statistics_as_both_traits_are_refused(ref, capsys):
    d, t = ref["d"], ref["traits"]
    shutil.copy(t["A"], d / "Acopy.sumstats.gz")   # another name, the same content
    assert ref["mixer"]("fit2", "--trait1-file", t["A"], "--trait2-file",
                        d / "Acopy.sumstats.gz", "--trait1-params-file", d / "A.fit.json",
                        "--trait2-params-file", d / "A.fit.json", *ref["common"], *FIT2,
                        "--out", d / "AA") == 1
    assert "the two traits' statistics have the same content" in capsys.readouterr().err
    assert not (d / "AA.json").exists()
    assert not (d / "AA.ckpt").exists()


def test_fit2_records_digests_and_test1_test2_check_them(ref, capsys):
    d, t = ref["d"], ref["traits"]
    assert ref["mixer"]("fit2", *pair(ref), *FIT2, "--out", d / "AB.fit") == 0
    record = json.loads((d / "AB.fit.json").read_text())
    assert record["trait_sha256"] == [hashlib.sha256(t[k].read_bytes()).hexdigest()
                                      for k in "AB"]
    swapped = ["--trait1-file", t["B"], "--trait2-file", t["A"], *ref["common"]]
    assert ref["mixer"]("test2", *swapped, "--load-params-file", d / "AB.fit.json",
                        "--out", d / "BA.test") == 1
    assert "whose content differs" in capsys.readouterr().err
    assert not (d / "BA.test.json").exists()
    assert ref["mixer"]("test1", "--trait1-file", t["B"], *ref["common"],
                        "--load-params-file", d / "A.fit.json", "--out", d / "BA.t1") == 1
    assert "whose content differs" in capsys.readouterr().err
    # the right files pass (MiXeR's own JSONs, without digests, are not checked)
    assert ref["mixer"]("test1", "--trait1-file", t["A"], *ref["common"], "--qq-method",
                        "fast", "--load-params-file", d / "A.fit.json", "--out", d / "A.t1") == 0


def test_fit1_of_other_settings_is_refused_before_a_checkpoint(ref, capsys):
    d, t = ref["d"], ref["traits"]
    for option, value, shown in (("--chr2use", "21-22", "--chr2use 21,22"),
                                 ("--ld-in-sample", True, "with --ld-in-sample")):
        doc = json.loads((d / "A.fit.json").read_text())
        doc["options"][option] = value
        (d / "Aother.fit.json").write_text(json.dumps(doc))
        assert ref["mixer"]("fit2", *pair(ref, p1="Aother.fit.json"), *FIT2,
                            "--out", d / "other") == 1
        err = capsys.readouterr().err
        assert "this univariate fit was made" in err and shown in err
        assert [p.name for p in d.glob("other*")] == ["other.log"]   # no OUT.ckpt
    # --extract differing is a warning, naming both values
    doc = json.loads((d / "A.fit.json").read_text())
    doc["options"]["--extract"] = "X.snps"
    (d / "Aext.fit.json").write_text(json.dumps(doc))
    assert ref["mixer"]("fit2", *pair(ref, p1="Aext.fit.json"), *FIT2, "--out", d / "ext") == 0
    assert "made with --extract X.snps, this fit2 runs without --extract" in (
        capsys.readouterr().err)
    # swapped params of --trait-files: refused, and nothing blocks the corrected run
    files = f"{t['A']},{t['B']}"
    assert ref["mixer"]("fit2", "--trait-files", files, "--trait-params-files",
                        f"{d / 'B.fit.json'},{d / 'A.fit.json'}", *ref["common"], *FIT2,
                        "--out", d / "swp") == 1
    assert "whose content differs" in capsys.readouterr().err
    assert [p.name for p in d.glob("swp*")] == ["swp.log"]   # no swp.ckpt, plan
    assert ref["mixer"]("fit2", "--trait-files", files, "--trait-params-files",
                        f"{d / 'A.fit.json'},{d / 'B.fit.json'}", *ref["common"], *FIT2,
                        "--out", d / "swp") == 0


def test_missing_trait_file_of_trait_files(ref, capsys):
    d, t = ref["d"], ref["traits"]
    params = f"{d / 'A.fit.json'},{d / 'B.fit.json'}"
    for files, message in ((f"{t['A']},{d / 'none.sumstats.gz'}", "no such file"),
                           (f"{t['A']}, {t['B']}", "a space after a comma?")):
        assert ref["mixer"]("fit2", "--trait-files", files, "--trait-params-files", params,
                            *ref["common"], *FIT2, "--out", d / "miss") == 1
        err = capsys.readouterr().err
        assert "--trait-files: no such file" in err and message in err
        assert "Traceback" not in err


# ------------------------------------------------------------------------ combine
def test_combine_refuses_fits_of_other_traits_or_settings(ref, tmp_path):
    d = ref["d"]
    first = json.loads((d / "A.fit.json").read_text())

    def replicates(*docs):
        for k, doc in enumerate(docs, start=1):
            (tmp_path / f"T.rep{k}.json").write_text(json.dumps(doc))
        return [str(tmp_path / f"T.rep{k}.json") for k in range(1, len(docs) + 1)]

    def shifted(factor=1.01, **options):
        doc = json.loads(json.dumps(first))
        doc["params"]["pi"] *= factor
        doc["options"].update(options)
        return doc

    combined = combine_fits(replicates(first, shifted()))
    assert combined["n_replicates"] == 2
    with pytest.raises(InputError, match="T.rep2.json.*same fit as .*T.rep1.json"):
        combine_fits(replicates(first, first))
    with pytest.raises(InputError, match="with --ld-in-sample, the first without"):
        combine_fits(replicates(first, shifted(**{"--ld-in-sample": True})))
    with pytest.raises(InputError, match="--chr2use 21,22, the first with --chr2use 22"):
        combine_fits(replicates(first, shifted(**{"--chr2use": "21-22"})))
    # the same option string, other content: a fit of B under A's path
    other = json.loads((d / "B.fit.json").read_text())
    other["trait_file"] = other["options"]["--trait1-file"] = first["trait_file"]
    with pytest.raises(InputError, match="other summary statistics"):
        combine_fits(replicates(first, other))
    # replicate subsets differ by their number only: accepted
    combine_fits(replicates(shifted(**{"--extract": "X.rep1.snps"}),
                            shifted(1.02, **{"--extract": "X.rep2.snps"})))
    with pytest.raises(InputError, match="--extract"):
        combine_fits(replicates(shifted(**{"--extract": "X.rep1.snps"}), shifted()))


def test_combine_refuses_pair_fits_of_a_trait_files_run(ref, tmp_path):
    """The pairs of one --trait-files run share one command line: told apart by digests."""
    d, t = ref["d"], ref["traits"]
    assert ref["mixer"]("fit2", "--trait-files", f"{t['A']},{t['B']}",
                        "--trait-params-files", f"{d / 'A.fit.json'},{d / 'B.fit.json'}",
                        *ref["common"], *FIT2, "--out", tmp_path / "P") == 0
    (path,) = tmp_path.glob("P.*_vs_*.json")
    doc = json.loads(path.read_text())
    other = json.loads(json.dumps(doc))
    other["trait_sha256"] = other["trait_sha256"][::-1]   # as the pair B_vs_A would be
    other["params"]["rho12"] *= 0.5
    (tmp_path / "R.rep1.json").write_text(json.dumps(doc))
    (tmp_path / "R.rep2.json").write_text(json.dumps(other))
    assert other["options"] == doc["options"]
    with pytest.raises(InputError, match="other summary statistics"):
        combine_fits([tmp_path / "R.rep1.json", tmp_path / "R.rep2.json"])


def test_combined_summary_counts_the_finite_values():
    combined = {"analysis": "univariate", "n_replicates": 3,
                "ci": {"h2": {"mean": 0.3, "std": 0.01, "n": 3},
                       "nc": {"mean": 100.0, "std": 5.0, "n": 2}}}
    line = combined_summary(combined)
    assert "h2 0.3 (SD 0.01)" in line
    assert "nc 100 (SD 5, 2 of the 3 finite)" in line


def test_pairs_table_of_replicate_pair_fits(ref, tmp_path, caplog):
    d, t = ref["d"], ref["traits"]
    exclude = tmp_path / "ex.snps"
    ids = [line.split()[1] for line in open(f"{ref['bfile']}.bim")]
    exclude.write_text("".join(f"{snp}\n" for snp in ids[::5]))
    assert ref["mixer"]("fit2", "--trait-files", f"{t['A']},{t['B']}",
                        "--trait-params-files", f"{d / 'A.fit.json'},{d / 'B.fit.json'}",
                        *ref["common"], *FIT2, "--replicates", 2, "--replicate-subset", 1500,
                        "--exclude", exclude, "--out", tmp_path / "P") == 0
    name = "AB.trait1_vs_AB.trait2"
    table = pd.read_csv(tmp_path / "P.pairs.csv", sep="\t")
    reps = [json.loads((tmp_path / f"P.{name}.rep{k}.json").read_text()) for k in (1, 2)]
    rg = [r["ci"]["rg"]["point"] for r in reps]
    assert table["pair"].tolist() == [name]
    assert table["rg"].iloc[0] == pytest.approx(np.mean(rg), rel=1e-5)
    assert table["rg_se"].iloc[0] == pytest.approx(np.std(rg), rel=1e-5, abs=1e-9)
    n12 = [r["venn"]["p9"]["n12"]["count"] for r in reps]
    assert table["n12_thousands"].iloc[0] == pytest.approx(np.mean(n12) / 1000, rel=1e-5)
    drawn = set((tmp_path / f"P.{name}.rep1.snps").read_text().split())
    left_out = len(drawn & set(exclude.read_text().split()))
    assert left_out > 0
    assert f"{len(drawn)} SNPs in the subset, {left_out} of them left out by --exclude" in (
        caplog.text + (tmp_path / "P.log").read_text())


# ------------------------------------------------------------------------ fit1's warnings
def test_fit1_warnings_for_h2_above_one_and_sig2_zero_at_its_floor():
    def fit(h2, sig2_zero, aic=5.0):
        return SimpleNamespace(ci={"h2": {"point": h2}}, params={"sig2_zero": sig2_zero},
                               criteria={"AIC": aic})

    assert fit1_warnings(fit(0.37, 1.02), ld_in_sample=False) == []
    (above,) = fit1_warnings(fit(1.4, 1.02), ld_in_sample=False)
    assert "h2 = 1.4 is above 1" in above and "N" in above
    (floor,) = fit1_warnings(fit(0.37, 4e-7), ld_in_sample=False)
    assert "at its lower boundary" in floor and "--ld-in-sample is missing" in floor
    (floor,) = fit1_warnings(fit(0.37, 4e-7), ld_in_sample=True)
    assert "--ld-in-sample is missing" not in floor
    assert len(fit1_warnings(fit(0.37, 1.0, aic=-1), ld_in_sample=False)) == 1
