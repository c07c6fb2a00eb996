"""``bayesmix-mixer`` against MiXeR's own behaviour (precimed/mixer v2.2.1 sources:
precimed/common/utils_cli.py, precimed/bivar_mixer/cli.py, src/bgmg_calculator.cc), where a
MiXeR user moving a command over would otherwise get another analysis without a word."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli import mixer as mixer_cli

N_GWAS = 100_000
#: MiXeR's MHC: utils_cli.make_ranges maps "MHC" to 6:25-35MB, and ChrBpRange::contains keeps
#: both ends (from_bp <= bp <= to_bp)
MIXER_MHC = (25_000_000, 35_000_000)


@pytest.fixture(scope="module")
def chr6(tmp_path_factory, bfile22):
    """The shipped chr22 genotypes relabelled as chromosome 6 at 24.0-36.0 Mb (through
    MiXeR's MHC), their LD folder (bayesmix-mixer ld) and null statistics of every SNP."""
    from bayesmix.io.plink import read_bim
    from bayesmix.io.sumstats import write_sumstats
    from bayesmix.ld.store import LDMatrix
    from bayesmix.simulate.from_ld import sumstats_table

    tmp = tmp_path_factory.mktemp("mixer_audit")
    for ext in ("bed", "fam"):
        shutil.copy(f"{bfile22}.{ext}", tmp / f"chr6.{ext}")
    bim = read_bim(f"{bfile22}.bim")
    bp = 24_000_000 + 1_200 * np.arange(1, len(bim) + 1)
    pd.DataFrame({"chr": 6, "snp": bim["snp"], "cm": 0, "bp": bp, "a1": bim["a1"],
                  "a2": bim["a2"]}).to_csv(tmp / "chr6.bim", sep="\t", header=False,
                                           index=False)
    assert mixer_cli.main(["ld", "--bfile", str(tmp / "chr6"), "--threads", "1",
                           "--out", str(tmp / "ref_chr6.ld")]) == 0
    ld = LDMatrix.load(tmp / "ref_chr6.ld")
    z = np.random.default_rng(5).standard_normal(ld.shape[0])
    write_sumstats(sumstats_table(z, N_GWAS, ld.snps), tmp / "t1.sumstats.gz")
    return tmp, ld


def _fit1_tags(tmp, out, *extra) -> int:
    rc = mixer_cli.main(["fit1", "--trait1-file", str(tmp / "t1.sumstats.gz"),
                         "--ld-file", str(tmp / "ref_chr@.ld"), "--chr2use", "6",
                         "--ld-in-sample", "--fit-sequence", "infinitesimal", "--n-draws",
                         "20", "--threads", "1", *extra, "--out", str(tmp / out)])
    assert rc == 0
    return json.loads((tmp / f"{out}.json").read_text())["n_tags"]


def test_default_exclude_ranges_is_mixers_mhc(chr6):
    """MiXeR's --exclude-ranges default ['MHC'] leaves out the tags at 6:25-35MB
    (utils_cli.py: parser_add_argument_extract_and_exclude, make_ranges); bayesmix-mixer
    excluded the hg19 extended MHC (28.48-33.45 Mb) instead, keeping ~4,200 more tags of
    this chromosome."""
    tmp, ld = chr6
    bp = ld.snps["bp"].to_numpy()
    outside = int(((bp < MIXER_MHC[0]) | (bp > MIXER_MHC[1])).sum())
    assert 0 < outside < len(bp)
    assert _fit1_tags(tmp, "default") == outside
    assert _fit1_tags(tmp, "mhc", "--exclude-ranges", "MHC") == outside
    assert _fit1_tags(tmp, "none", "--exclude-ranges", "[]") == len(bp)


def test_exclude_ranges_takes_mixers_tokens():
    """MiXeR's --exclude-ranges is nargs='+' of chr:from-to tokens with a 'chr' prefix of
    any case, KB/MB suffixes and the names MHC and APOE (make_ranges)."""
    from bayesmix.prepare.mixer import parse_exclude_ranges

    text = mixer_cli.mixer_exclude_ranges(["MHC", "APOE", "CHR8:7-13MB", "chr1:100-200KB"])
    _, regions = parse_exclude_ranges(text)
    assert regions.to_dict("list") == {
        "chr": ["6", "19", "8", "1"],
        "start": [25_000_000, 45_000_000, 7_000_000, 100_000],
        "end": [35_000_000, 46_000_000, 13_000_000, 200_000]}
    assert mixer_cli.mixer_exclude_ranges(["[]"]) == "[]"
    args = mixer_cli.build_parser().parse_args(
        ["fit1", "--exclude-ranges", "MHC", "APOE", "--out", "x"])
    assert args.exclude_ranges == ["MHC", "APOE"]


def test_bivariate_pruning_weights_are_among_the_shared_tags(chr6):
    """MiXeR's set_weights_randprune prunes among the tags with z and N defined in both
    traits (bgmg_calculator.cc: defvec skips a tag whose zvec1/nvec1/zvec2/nvec2 is not
    finite); bayesmix pruned among trait 1's tags and kept the shared ones' weights, so the
    SNPs trait 2 lacks still counted as LD neighbours (here 37% less total weight)."""
    from bayesmix.ld.pruning import random_pruning_weights
    from bayesmix.prepare.mixer import load_bivariate_data

    tmp, ld = chr6
    full = pd.read_csv(tmp / "t1.sumstats.gz", sep="\t")
    half = full[np.random.default_rng(0).random(len(full)) < 0.5].copy()
    half["Z"] = np.random.default_rng(1).standard_normal(len(half))
    half.to_csv(tmp / "t2half.sumstats.gz", sep="\t", index=False)
    options = dict(exclude_ranges="[]", randprune_n=64, randprune_r2=0.1, seed=3)
    data = load_bivariate_data((tmp / "t1.sumstats.gz", tmp / "t2half.sumstats.gz"),
                               str(tmp / "ref_chr@.ld"), ["6"], **options)
    tags = data.trait1.tags["snp"].to_numpy()
    assert len(tags) == len(half)
    rows = pd.Index(ld.snps["snp"]).get_indexer(tags)
    shared = np.zeros(ld.shape[0], bool)
    shared[rows] = True
    expected = random_pruning_weights(ld, n_passes=64, max_r2=0.1, seed=3,
                                      eligible=shared)[rows]
    np.testing.assert_array_equal(data.weights, expected)
    # symmetric in the traits, as MiXeR's tag set is
    swapped = load_bivariate_data((tmp / "t2half.sumstats.gz", tmp / "t1.sumstats.gz"),
                                  str(tmp / "ref_chr@.ld"), ["6"], **options)
    order = pd.Index(swapped.trait1.tags["snp"]).get_indexer(tags)
    np.testing.assert_array_equal(swapped.weights[order], data.weights)
    np.testing.assert_array_equal(swapped.trait2.z[order], data.trait1.z)


def test_test_sequences_are_mixers_choices():
    """MiXeR's test1/test2 take --fit-sequence from 'load' and 'inflation' (bivar_mixer/cli.py,
    default 'load inflation'); anything else is refused rather than run as something else."""
    from bayesmix.errors import InputError

    assert mixer_cli.TEST_SEQUENCE == ("load", "inflation")
    assert mixer_cli.inflation_requested(["load", "inflation"])
    assert not mixer_cli.inflation_requested(["load"])
    for bad in (["inflation"], ["load", "diffevo-fast"], ["inflation", "load"]):
        with pytest.raises(InputError, match="'load' or 'load inflation'"):
            mixer_cli.inflation_requested(bad)
