"""Input files of ``bayesmix-gctb`` read as GCTB 2.05 reads them (``data.cpp``).

Each test states GCTB's rule and checks bayesmix against an independent truth built from the
input files themselves; the paths come from the command line's own parser, so the tests fail
if an option stops marking its file for GCTB's rules.
"""

import re

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli.gctb import SPEC
from bayesmix.cli.options import build_parser
from bayesmix.io.gctb_rules import GctbRules
from bayesmix.io.plink import Genotypes
from bayesmix.io.regions import MHC_REGIONS, read_regions, region_masks
from bayesmix.prepare.alphabet import SampleSnpFilters, load_alphabet_data

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")


def parsed(*argv):
    """bayesmix-gctb's parsed options (an SBayes command; the file options are shared)."""
    return build_parser(SPEC).parse_args(["--sbayes", "C", *map(str, argv)])


@pytest.fixture(scope="module")
def phen(bfile22, tmp_path_factory):
    """A phenotype for every genotyped sample of the shipped chr22 files."""
    tmp = tmp_path_factory.mktemp("alphabet_inputs")
    fam = pd.read_csv(f"{bfile22}.fam", sep=r"\s+", header=None, dtype=str)
    y = np.random.default_rng(11).normal(size=len(fam))
    path = tmp / "y.phen"
    pd.DataFrame({0: fam[0], 1: fam[1], 2: y}).to_csv(path, sep=" ", header=False, index=False)
    bim = pd.read_csv(f"{bfile22}.bim", sep=r"\s+", header=None, dtype=str)
    return tmp, path, bim[1].to_numpy()


@pytest.mark.parametrize("which", ["extract", "exclude"])
def test_snp_list_with_several_ids_per_line_uses_every_id(phen, bfile22, which):
    # GCTB's includeSnp/excludeSnp read the list with `in >> id`: every whitespace-separated
    # token is a SNP id (as PLINK 1.9's --extract/--exclude), so "rs1 rs2 rs3" on one line
    # lists three SNPs. Reading only the first field of each line kept 100 SNPs of 300
    # (--extract) or left 200 of the 300 in (--exclude), silently.
    tmp, path, snps = phen
    listed = snps[:300]
    lst = tmp / f"{which}.txt"
    lst.write_text("\n".join(" ".join(listed[k:k + 3]) for k in range(0, 300, 3)) + "\n")
    given = getattr(parsed(f"--{which}", lst), which)
    assert isinstance(given, GctbRules)
    data = load_alphabet_data(bfile22, path, filters=SampleSnpFilters(**{which: given})).data
    used = set(data.snps["snp"])
    # every shipped SNP is polymorphic in the 503 samples, so nothing else drops a SNP
    expected = set(listed) if which == "extract" else set(snps) - set(listed)
    assert used == expected
    # bayesmix's own commands keep their rule: the first field of each line
    own = load_alphabet_data(bfile22, path, filters=SampleSnpFilters(**{which: str(lst)})).data
    first = set(listed[::3])
    assert set(own.snps["snp"]) == (first if which == "extract" else set(snps) - first)


def test_region_file_leaves_out_snps_strictly_inside_as_gctb(bfile22, tmp_path):
    # GCTB's Data::excludeRegion drops a SNP when start < bp < end: a region written with
    # the positions of two SNPs keeps both; bayesmix's inclusive reading dropped them too.
    snps = Genotypes.open(bfile22).snps
    bp = snps["bp"].to_numpy(np.int64)
    lo, hi = int(bp[100]), int(bp[120])
    path = tmp_path / "regions.txt"
    path.write_text(f"22 {lo} {hi}\n22 {lo} {lo + 1}\n")  # the second has nothing inside
    given = parsed("--exclude-region", path).exclude_region
    assert isinstance(given, GctbRules)
    chrom = np.full(len(bp), "22")
    (_, gctb_mask), = region_masks(chrom, bp, exclude_regions=given)
    np.testing.assert_array_equal(gctb_mask, (bp > lo) & (bp < hi))
    assert not gctb_mask[100] and not gctb_mask[120] and gctb_mask[110]
    assert len(read_regions(given)) == 1
    (_, own_mask), = region_masks(chrom, bp, exclude_regions=str(path))  # inclusive
    np.testing.assert_array_equal(own_mask, (bp >= lo) & (bp <= hi))


def test_bare_exclude_mhc_is_gctbs_28_to_34_mb():
    # GCTB's Data::excludeMHC: chromosome 6, 28e6 < bp < 34e6. The hg19 extended MHC
    # (28.48-33.45 Mb) kept the SNPs of the flanks that GCTB leaves out.
    assert parsed("--exclude-mhc").exclude_mhc == "gctb"
    assert parsed("--exclude-mhc", "hg19").exclude_mhc == "hg19"
    bp = np.array([28_000_000, 28_000_001, 28_400_000, 33_500_000, 33_999_999, 34_000_000])
    chrom = np.full(len(bp), MHC_REGIONS["gctb"][0])
    (_, mask), = region_masks(chrom, bp, exclude_mhc="gctb")
    np.testing.assert_array_equal(mask, (bp > 28e6) & (bp < 34e6))
    (_, hg19), = region_masks(chrom, bp, exclude_mhc="hg19")
    assert mask.sum() == 4 and hg19.sum() == 0


def test_bayesns_genotypes_are_standardised_as_gctbs_and_n_fixes_pi_at_gctbs_default(
        phen, bfile22, tmp_path):
    # GCTB 2.05 forces unscaled genotypes for BayesS (options.cpp) but not for BayesNS, whose
    # S is then on the standardised scale (GCTB S -0.005 against bayesmix's per-allele -1.2
    # before); --unscale-genotype gives the per-allele model. GCTB's --pi defaults to 0.05,
    # for BayesN the share of windows with an effect, which --fix-pi keeps (bayesmix kept 0.5).
    from bayesmix.cli.gctb import main

    tmp, path, snps = phen
    (tmp_path / "snps.txt").write_text("\n".join(snps[:300]) + "\n")
    common = ["--bfile", str(bfile22), "--pheno", str(path), "--extract",
              str(tmp_path / "snps.txt"), "--chain-length", "30", "--burn-in", "10",
              "--out-freq", "0", "--wind", "0.2"]
    for extra, scaling in (([], "standardised"), (["--unscale-genotype"], "centred")):
        out = tmp_path / f"ns{len(extra)}"
        assert main(["--bayes", "NS", *common, *extra, "--out", str(out)]) == 0
        assert f"genotypes {scaling}" in open(f"{out}.log").read()
    out = tmp_path / "n_fixed"
    assert main(["--bayes", "N", "--fix-pi", *common, "--out", str(out)]) == 0
    par = pd.read_csv(f"{out}.parRes", sep=r"\s+", skiprows=1, header=None, index_col=0)
    assert par.loc["Pi", 1] == pytest.approx(0.05) and par.loc["Pi", 2] == 0


def test_default_bayesr_prior_is_gctb_205s(phen, bfile22, tmp_path, capsys):
    # GCTB 2.05's defaults (options.hpp lines 177 and 206-209): starting hsq 0.1, BayesR with
    # five components, gamma 0, 0.001, 0.01, 0.1, 1 and pi 0.95, 0.02, 0.01, 0.01, 0.01. A
    # command without them runs exactly the chain of one that spells them out; a four-value
    # --pi without --gamma is refused, as GCTB refuses it.
    from bayesmix.cli.gctb import main

    tmp, path, snps = phen
    (tmp_path / "snps.txt").write_text("\n".join(snps[:200]) + "\n")
    common = ["--bayes", "R", "--bfile", str(bfile22), "--pheno", str(path), "--extract",
              str(tmp_path / "snps.txt"), "--chain-length", "20", "--burn-in", "5",
              "--out-freq", "0"]
    spelled = ["--gamma", "0,0.001,0.01,0.1,1", "--pi", "0.95,0.02,0.01,0.01,0.01", "--hsq", "0.1"]
    for name, extra in (("default", []), ("spelled", spelled)):
        assert main([*common, *extra, "--out", str(tmp_path / name)]) == 0
    default, spelled_out = (open(tmp_path / f"{name}.parRes").read()
                            for name in ("default", "spelled"))
    assert "NumSnp5" in default and default == spelled_out
    assert open(tmp_path / "default.snpRes").read() == open(tmp_path / "spelled.snpRes").read()
    assert main([*common, "--pi", "0.95,0.02,0.02,0.01", "--out", str(tmp_path / "four")]) == 1
    assert re.search(r"--pi needs 5 values.*\(0,0.001,0.01,0.1,1\)", capsys.readouterr().err)
