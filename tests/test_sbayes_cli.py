"""``bayesmix-gctb`` summary-data command lines (GCTB tutorial style) on the shipped chr22 panel."""

import numpy as np
import pytest

from bayesmix.cli.gctb import main
from bayesmix.io.plink import Genotypes
from bayesmix.ld.gctb import read_gctb_ldm


@pytest.fixture(scope="module")
def panel(bfile22, tmp_path_factory):
    """400 SNPs of chr22: an --extract list and the folder for outputs."""
    work = tmp_path_factory.mktemp("sbayes_cli")
    snps = Genotypes.open(bfile22).snps.iloc[5000:5400]
    (work / "snps.txt").write_text("\n".join(snps["snp"]) + "\n")
    return bfile22, work, snps.reset_index(drop=True)


def test_ld_pieces_merge_to_the_full_matrix(panel):
    bfile, work, snps = panel
    ref = str(work / "ref")
    base = ["--bfile", str(bfile), "--extract", str(work / "snps.txt"), "--out", ref]
    assert main(base + ["--make-full-ldm"]) == 0
    assert main(base + ["--make-full-ldm", "--snp", "1-250"]) == 0
    assert main(base + ["--make-full-ldm", "--snp", "251-400"]) == 0
    (work / "pieces.txt").write_text(f"{ref}.snp1-250.ldm.full\n{ref}.snp251-400.ldm.full\n")
    assert main(["--mldm", str(work / "pieces.txt"), "--make-full-ldm", "--out",
                 str(work / "merged")]) == 0
    whole = read_gctb_ldm(f"{ref}.ldm.full").to_scipy().toarray()
    merged = read_gctb_ldm(f"{work}/merged.ldm.full").to_scipy().toarray()
    np.testing.assert_array_equal(whole, merged)
    geno = Genotypes.open(bfile, extract=set(snps["snp"]))
    x = geno.read(np.arange(400), standardize=False).astype(np.float64)
    np.testing.assert_allclose(whole, np.corrcoef(x, rowvar=False), atol=2e-6)
    # sparse from the full matrix keeps n r^2 >= chisq (and the diagonal)
    assert main(["--ldm", f"{ref}.ldm.full", "--make-sparse-ldm", "--chisq", "10", "--out",
                 str(work / "thin")]) == 0
    thin = read_gctb_ldm(f"{work}/thin.ldm.sparse").to_scipy().toarray()
    keep = (whole**2 * len(x) >= 10) | np.eye(400, dtype=bool)
    np.testing.assert_array_equal(thin != 0, keep & (whole != 0))
    assert main(["--ldm", f"{ref}.ldm.full", "--write-ldm-txt", "--out", str(work / "txt")]) == 0
    assert (work / "txt.ldm.txt").exists()
