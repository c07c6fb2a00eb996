"""LD against plink 1.9 (`--r`, `--r2`) on the shipped chr22 subset (skipped without plink)."""

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from bayesmix.ld import build_ld
from test_ld_compute import first_snps_bfile

PLINK = shutil.which("plink1.9") or shutil.which("plink")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(PLINK is None, reason="plink1.9 is not installed")]


def run_plink(bfile, out, *args):
    cmd = [PLINK, "--bfile", str(bfile), "--keep-allele-order", "--ld-window", "999999",
           "--threads", "1", "--out", str(out), *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return pd.read_csv(f"{out}.ld", sep=r"\s+")


def upper_pairs(ld):
    """(SNP_A, SNP_B) -> r for the stored pairs i < j."""
    coo = ld.to_scipy().tocoo()
    keep = coo.row < coo.col
    snp = ld.snps["snp"].to_numpy()
    return pd.Series(coo.data[keep], index=pd.MultiIndex.from_arrays(
        [snp[coo.row[keep]], snp[coo.col[keep]]]))


def test_r_equals_plink_r_within_window(tmp_path, bfile22):
    table = run_plink(bfile22, tmp_path / "r", "--r", "--ld-window-r2", "0",
                      "--ld-window-kb", "100")
    ld = build_ld(bfile22, "window", window_kb=100, progress=False)
    ours = upper_pairs(ld)
    theirs = pd.Series(table["R"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [table["SNP_A"], table["SNP_B"]]))
    assert len(ours) == len(theirs) > 50_000
    np.testing.assert_allclose(ours.reindex(theirs.index).to_numpy(), theirs.to_numpy(),
                               atol=1e-5, rtol=0)


def test_r2_threshold_equals_plink_r2(tmp_path, bfile22):
    table = run_plink(bfile22, tmp_path / "r2", "--r2", "--ld-window-r2", "0.2",
                      "--ld-window-kb", "1000")
    ld = build_ld(bfile22, "r2", r2min=0.2, window_kb=1000, progress=False, dtype="int16")
    ours = upper_pairs(ld) ** 2
    theirs = pd.Series(table["R2"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [table["SNP_A"], table["SNP_B"]]))
    assert set(ours.index) == set(theirs.index)
    np.testing.assert_allclose(ours.reindex(theirs.index).to_numpy(), theirs.to_numpy(),
                               atol=5e-5, rtol=0)


def test_pairwise_missing_matches_plink_with_missing_calls(tmp_path, bfile22):
    """plink drops samples missing at either SNP; missing='pairwise' does the same."""
    prefix = first_snps_bfile(bfile22, tmp_path / "miss", n_snps=120, missing_per_snp=30)
    table = run_plink(prefix, tmp_path / "miss", "--r", "--ld-window-r2", "0",
                      "--ld-window-kb", "100000")
    ld = build_ld(prefix, "full", missing="pairwise", progress=False, block_size=50)
    ours = upper_pairs(ld)
    theirs = pd.Series(table["R"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [table["SNP_A"], table["SNP_B"]]))
    np.testing.assert_allclose(ours.reindex(theirs.index).to_numpy(), theirs.to_numpy(),
                               atol=1e-5, rtol=0)
