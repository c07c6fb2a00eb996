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


def _inputs(argv):
    """bayesmix-mixer's MixerInputs of a command line (parsed as the command parses it)."""
    from bayesmix.cli.options import parse

    return mixer_cli.inputs_from(parse(mixer_cli.SPEC, argv, mixer_cli.build_parser()).args)


def _z_files(tmp):
    """Statistics whose Z is 1.1 x BETA / SE on every row, with one row's Z missing (its BETA
    and SE given), and the same Z without BETA and SE (that row left out)."""
    table = pd.read_csv(tmp / "t1.sumstats.gz", sep="\t")
    table["Z"] = 1.1 * table["BETA"] / table["SE"]
    table.loc[7, "Z"] = np.nan
    table.to_csv(tmp / "zbeta.sumstats.gz", sep="\t", index=False, na_rep="NA")
    table.drop(index=7).drop(columns=["BETA", "SE", "P"]).to_csv(
        tmp / "zonly.sumstats.gz", sep="\t", index=False)
    return table


def test_fit1_analyses_the_z_column_as_mixer_reads_it(chr6):
    """MiXeR reads only the Z (and N) column of its statistics (bgmg_parse.cc
    SumstatFile::read: z_col, a row whose Z is 'na' skipped); bayesmix's reader analysed
    BETA / SE wherever they disagree with Z (h2 ~17% lower for a Z 1.1 x BETA/SE) and filled
    a missing Z from BETA / SE. bayesmix-mixer analyses the file's Z, with the warning; the
    native command keeps BETA / SE."""
    from bayesmix.prepare.mixer import load_mixer_data

    tmp, ld = chr6
    table = _z_files(tmp)
    inputs = _inputs(["fit1", "--trait1-file", str(tmp / "zbeta.sumstats.gz"), "--ld-file",
                      str(tmp / "ref_chr@.ld"), "--chr2use", "6", "--exclude-ranges", "[]",
                      "--out", "x"])
    data, _, lines = inputs.load_univariate()
    given = table.set_index("SNP")
    tags = data.tags["snp"].to_numpy()
    assert table.loc[7, "SNP"] not in set(tags) and len(tags) == len(table) - 1
    np.testing.assert_allclose(data.z, given.loc[tags, "Z"].to_numpy(), rtol=1e-6)
    assert any("used as it is (MiXeR reads only Z)" in line for line in lines), lines
    native, _, lines = load_mixer_data(tmp / "zbeta.sumstats.gz", str(tmp / "ref_chr@.ld"),
                                       ["6"], exclude_ranges="[]")
    ratio = (given["BETA"] / given["SE"]).loc[native.tags["snp"].to_numpy()].to_numpy()
    np.testing.assert_allclose(native.z, ratio, rtol=1e-6)
    assert any("Z = BETA / SE is used" in line for line in lines), lines
    # the fit: that of the same Z given alone (MiXeR's input), to the last digit
    fits = {}
    for name in ("zbeta", "zonly"):
        assert mixer_cli.main(["fit1", "--trait1-file", str(tmp / f"{name}.sumstats.gz"),
                               "--ld-file", str(tmp / "ref_chr@.ld"), "--chr2use", "6",
                               "--ld-in-sample", "--fit-sequence", "infinitesimal",
                               "--n-draws", "20", "--threads", "1",
                               "--out", str(tmp / f"fit_{name}")]) == 0
        fits[name] = json.loads((tmp / f"fit_{name}.json").read_text())
    assert fits["zbeta"]["params"] == fits["zonly"]["params"]
    assert fits["zbeta"]["n_tags"] == fits["zonly"]["n_tags"]


#: MiXeR's nc@p9 factor (precimed/bivar_mixer/utils.py, _calculate_univariate_uncertainty_funcs:
#: NCKoef = 0.319, ('nc@p9', lambda x: x._pi * num_snps * NCKoef); the bivariate counts
#: nc1@p9, nc2@p9, nc12@p9 likewise of pi1, pi2, pi12)
MIXER_NC_KOEF = 0.319


def test_fit1_nc_at_p9_is_mixers(chr6):
    """bayesmix-mixer's nc@p9 is MiXeR's 0.319 pi num_snp (point and every summary of the
    draws); bayesmix's count from the reference's heterozygosities (0.39 x nc on the shipped
    reference) is kept as nc@p9_het, in the JSON and in OUT.nc."""
    import xarray as xr

    from bayesmix.inference.mle import causal_share_for_h2

    tmp, ld = chr6
    assert mixer_cli.main(["fit1", "--trait1-file", str(tmp / "t1.sumstats.gz"), "--ld-file",
                           str(tmp / "ref_chr@.ld"), "--chr2use", "6", "--ld-in-sample",
                           "--fit-sequence", "infinitesimal", "constrained", "fast",
                           "--n-draws", "200", "--threads", "1",
                           "--out", str(tmp / "p9")]) == 0
    doc = json.loads((tmp / "p9.json").read_text())
    ci, n_ref = doc["ci"], ld.shape[0]
    assert doc["n_ref"] == n_ref
    assert ci["nc@p9"]["point"] == pytest.approx(
        MIXER_NC_KOEF * doc["params"]["pi"] * n_ref, rel=1e-12)
    for stat in ("mean", "median", "std", "lower", "upper"):
        if ci["nc"][stat] is not None:
            assert ci["nc@p9"][stat] == pytest.approx(MIXER_NC_KOEF * ci["nc"][stat],
                                                      rel=1e-9)
    freq = ld.snps["freq"].to_numpy()
    share = causal_share_for_h2(2 * freq * (1 - freq))
    assert abs(share / MIXER_NC_KOEF - 1) > 0.1   # the two definitions differ here
    assert ci["nc@p9_het"]["point"] == pytest.approx(ci["nc"]["point"] * share, rel=1e-12)
    tree = xr.open_datatree(tmp / "p9.nc", engine="h5netcdf")
    summary = tree["summary"]
    for name in ("nc@p9", "nc@p9_het"):
        assert float(summary["point"].sel(quantity=name)) == ci[name]["point"]


def test_mixer_counts_of_a_bivariate_fit():
    """fit2's nc1@p9, nc2@p9, nc12@p9 (and total@p9) are MiXeR's 0.319 x the counts, the
    Venn diagram's p9 numbers with them; bayesmix's are kept as X@p9_het."""
    from dataclasses import dataclass, field

    from bayesmix.cli.mixer_runs import with_mixer_counts
    from bayesmix.inference.mle import summarize_draws
    from bayesmix.inference.mle_bivariate import venn_counts

    @dataclass
    class Fit:
        ci: dict
        draws: dict = field(default_factory=dict)

    rng = np.random.default_rng(2)
    draws = {k: rng.normal(mu, 5, 50) for k, mu in (("nc1", 100), ("nc2", 80), ("nc12", 40),
                                                   ("total", 220), ("rg", 0.3))}
    draws.update({f"{k}@p9": 0.25 * draws[k] for k in ("nc1", "nc2", "nc12", "total")})
    ci = {k: {**summarize_draws(v), "point": float(v[0])} for k, v in draws.items()}
    fit = with_mixer_counts(Fit(ci, draws))
    for key in ("nc1", "nc2", "nc12", "total"):
        assert fit.ci[f"{key}@p9"]["point"] == MIXER_NC_KOEF * draws[key][0]
        assert fit.ci[f"{key}@p9"]["std"] == pytest.approx(
            MIXER_NC_KOEF * np.std(draws[key], ddof=1), rel=1e-12)
        np.testing.assert_array_equal(fit.draws[f"{key}@p9"], MIXER_NC_KOEF * draws[key])
        assert fit.ci[f"{key}@p9_het"] == ci[f"{key}@p9"]
    assert fit.ci["rg"] == ci["rg"] and "rg_het" not in fit.ci
    assert venn_counts(fit.ci)["p9"]["n12"]["count"] == MIXER_NC_KOEF * draws["nc12"][0]


def test_seed_default_is_mixers(chr6):
    """MiXeR's --seed default is 123 for fit1/test1/fit2/test2 and snps
    (precimed/bivar_mixer/cli.py: parser_add_common_arguments and parser_snps_add_arguments,
    type=int, default=123); bayesmix-mixer's was 0."""
    tmp, _ = chr6
    seed = mixer_cli.SPEC.option("seed")
    for command in ("fit1", "test1", "fit2", "test2", "snps"):
        assert seed.default_for(command) == 123, command
    inputs = _inputs(["fit1", "--trait1-file", str(tmp / "t1.sumstats.gz"), "--ld-file",
                      str(tmp / "ref_chr@.ld"), "--chr2use", "6", "--out", "x"])
    assert inputs.seed == 123


def test_ld_has_no_window_by_default_as_mixer(monkeypatch, tmp_path, bfile22):
    """MiXeR's `mixer.py ld` bounds pairs by --ld-window-kb and --ld-window, both 0 by
    default, and 0 disables the bound (gsa_mixer/cli.py parser_ld_add_arguments;
    ld_matrix.cc checks `ld_window_bp > 0`): the whole chromosome. bayesmix-mixer used a
    10,000 kb window by default and refused 0."""
    import types

    import bayesmix.ld.compute as compute

    seen = []

    def fake_build_ld(bfile, kind, *, window_kb, **kwargs):
        seen.append(window_kb)
        return types.SimpleNamespace(save=lambda out: None, shape=(1, 1), nnz=1)

    monkeypatch.setattr(compute, "build_ld", fake_build_ld)
    for extra in ([], ["--ld-window-kb", "0"], ["--ld-window-kb", "10000"]):
        assert mixer_cli.main(["ld", "--bfile", str(bfile22), *extra,
                               "--out", str(tmp_path / f"ld{len(seen)}")]) == 0
    longest_chromosome_kb = 250_000   # chr1, 249 Mb
    assert seen[0] > 1000 * longest_chromosome_kb and seen[1] == seen[0]
    assert seen[2] == 10000
