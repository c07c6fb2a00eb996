"""PLINK genotype reader: hand-computed values and agreement with plink1.9 / plink2 filters."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bed_reader import to_bed

from bayesmix.io.plink import Genotypes, read_bim

PLINK1 = shutil.which("plink1.9") or shutil.which("plink")
PLINK2 = shutil.which("plink2")


def write_bfile(prefix: Path, genotypes: np.ndarray, chroms=None, fids=None) -> Path:
    """Write an (n, m) array of A1 counts (NaN = missing) as a PLINK 1 fileset."""
    n, m = genotypes.shape
    props = {
        "fid": fids if fids is not None else [f"F{i}" for i in range(n)],
        "iid": [f"I{i}" for i in range(n)],
        "sid": [f"s{j}" for j in range(m)],
        "chromosome": chroms if chroms is not None else ["1"] * m,
        "bp_position": list(range(1000, 1000 + 10 * m, 10)),
        "allele_1": ["A"] * m,
        "allele_2": ["G"] * m,
    }
    to_bed(f"{prefix}.bed", genotypes.astype(np.float32), properties=props, count_A1=True)
    return prefix


def test_hand_computed_frequencies_imputation_and_standardisation(tmp_path):
    x = np.array([[0, 2, 2],
                  [1, 2, np.nan],
                  [2, 2, 1],
                  [np.nan, 2, 1]])
    geno = Genotypes.open(write_bfile(tmp_path / "h", x))
    np.testing.assert_allclose(geno.snps["freq"], [3 / 6, 1.0, 4 / 6])
    assert geno.snps["n_obs"].tolist() == [3, 4, 3]
    raw = geno.read(standardize=False)
    np.testing.assert_allclose(raw[:, 0], [0, 1, 2, 1])            # missing -> 2p = 1
    np.testing.assert_allclose(raw[:, 2], [2, 8 / 6, 1, 1], rtol=1e-6)
    std = geno.read()
    np.testing.assert_allclose(std[:, 0], np.array([-1, 0, 1, 0]) / np.sqrt(0.5), rtol=1e-6)
    np.testing.assert_allclose(std[:, 1], 0.0)                       # monomorphic
    h = 2 * (4 / 6) * (2 / 6)
    np.testing.assert_allclose(std[:, 2], (np.array([2, 8 / 6, 1, 1]) - 8 / 6) / np.sqrt(h), rtol=1e-6)
    assert raw.flags.f_contiguous and raw.dtype == np.float32
    np.testing.assert_allclose(geno.heterozygosity, [0.5, 0.0, h])


def test_iter_blocks_tile_the_full_read(bfile22):
    geno = Genotypes.open(bfile22, extract=None, chrom="22")
    cols = slice(0, 250)
    full = geno.read(cols)
    sub = Genotypes.open(bfile22, extract=set(geno.snps["snp"][:250]))
    pieces = [(a, b, blk) for a, b, blk in sub.iter_blocks(64)]
    assert [a for a, _, _ in pieces] == list(range(0, 250, 64))
    np.testing.assert_array_equal(np.hstack([blk for *_, blk in pieces]), full)


def test_filter_counts_and_report(tmp_path, bfile22):
    keep = tmp_path / "keep.txt"
    fam = pd.read_csv(f"{bfile22}.fam", sep=r"\s+", header=None)
    fam.iloc[:100, :2].to_csv(keep, sep=" ", header=False, index=False)
    geno = Genotypes.open(bfile22, keep=keep, remove=fam.iloc[:10, :2].set_axis(["fid", "iid"], axis=1),
                          exclude=["rs9617528", "not-a-snp"], chrom=22)
    assert geno.n_samples == 90
    assert geno.filter_counts["samples not in --keep"] == 403
    assert geno.filter_counts["samples in --remove"] == 10
    assert geno.filter_counts["SNPs in --exclude"] == 1
    text = geno.filter_report()
    assert "503 samples, 10000 SNPs" in text and "kept 90 samples and 9999 SNPs" in text


@pytest.mark.skipif(PLINK2 is None, reason="plink2 not installed")
def test_a1_frequencies_match_plink2(tmp_path, bfile22):
    keep = tmp_path / "keep.txt"
    fam = pd.read_csv(f"{bfile22}.fam", sep=r"\s+", header=None)
    fam.iloc[::3, :2].to_csv(keep, sep=" ", header=False, index=False)
    subprocess.run([PLINK2, "--bfile", str(bfile22), "--keep", str(keep), "--freq",
                    "--out", str(tmp_path / "f")], check=True, capture_output=True)
    afreq = pd.read_csv(tmp_path / "f.afreq", sep="\t")
    geno = Genotypes.open(bfile22, keep=keep)
    assert (afreq["ID"].to_numpy() == geno.snps["snp"].to_numpy()).all()
    assert (afreq["ALT"].to_numpy() == geno.snps["a1"].to_numpy()).all()  # .bim col 5 = ALT = A1
    np.testing.assert_allclose(geno.snps["freq"], afreq["ALT_FREQS"], atol=1e-6)


@pytest.fixture
def missing_bfile(tmp_path):
    """61 x 60 genotypes, 2 chromosomes, varied frequency (some rare) and missingness."""
    rng = np.random.default_rng(11)
    n, m = 61, 60
    p = rng.uniform(0.005, 0.5, m)
    x = rng.binomial(2, p, size=(n, m)).astype(float)
    x[rng.uniform(size=(n, m)) < rng.uniform(0, 0.3, m)] = np.nan
    fids = [f"F{i % 7}" for i in range(n)]
    return write_bfile(tmp_path / "miss", x, chroms=["1"] * 30 + ["2"] * 30, fids=fids), x


@pytest.mark.skipif(PLINK1 is None, reason="plink1.9 not installed")
def test_sample_and_snp_filters_match_plink19(tmp_path, missing_bfile):
    prefix, _ = missing_bfile
    fam = pd.read_csv(f"{prefix}.fam", sep=r"\s+", header=None)
    (tmp_path / "keep").write_text("".join(f"{f} {i}\n" for f, i in fam.iloc[:50, :2].itertuples(index=False)))
    (tmp_path / "remove").write_text("".join(f"{f} {i}\n" for f, i in fam.iloc[::9, :2].itertuples(index=False)))
    (tmp_path / "extract").write_text("".join(f"s{j}\n" for j in range(5, 58)))
    (tmp_path / "exclude").write_text("s7\ns40\n")
    args = dict(keep=tmp_path / "keep", remove=tmp_path / "remove", extract=tmp_path / "extract",
                exclude=tmp_path / "exclude", chrom=["1", "2"], maf=0.0537, max_missing=0.1237)
    subprocess.run([PLINK1, "--bfile", str(prefix), "--keep-allele-order",
                    "--keep", str(args["keep"]), "--remove", str(args["remove"]),
                    "--extract", str(args["extract"]), "--exclude", str(args["exclude"]),
                    "--chr", "1-2", "--maf", "0.0537", "--geno", "0.1237",
                    "--make-bed", "--out", str(tmp_path / "p")], check=True, capture_output=True)
    geno = Genotypes.open(prefix, **args)
    plink_bim = read_bim(tmp_path / "p.bim")
    plink_fam = pd.read_csv(tmp_path / "p.fam", sep=r"\s+", header=None)
    assert geno.snps["snp"].tolist() == plink_bim["snp"].tolist()
    assert geno.samples["iid"].tolist() == plink_fam[1].tolist()
    assert 0 < geno.n_snps < 53  # the thresholds did bite
    assert geno.filter_counts["SNPs below MAF threshold"] > 0
    assert geno.filter_counts["SNPs above missingness threshold"] > 0
    # genotypes re-read from plink's output, mean-imputed by hand, equal ours
    plink_geno = Genotypes.open(tmp_path / "p")
    ref = plink_geno._bed.read(dtype="float64")
    mean = np.nanmean(ref, axis=0)
    ref = np.where(np.isnan(ref), mean, ref)
    np.testing.assert_allclose(geno.read(standardize=False), ref, rtol=1e-6)
    np.testing.assert_allclose(geno.snps["freq"], mean / 2, rtol=1e-12)


@pytest.mark.skipif(PLINK1 is None, reason="plink1.9 not installed")
def test_unscaled_genotypes_match_plink_recode_a(tmp_path, missing_bfile):
    prefix, _ = missing_bfile
    subprocess.run([PLINK1, "--bfile", str(prefix), "--keep-allele-order", "--recode", "A",
                    "--out", str(tmp_path / "r")], check=True, capture_output=True)
    raw = pd.read_csv(tmp_path / "r.raw", sep=r"\s+").iloc[:, 6:].to_numpy(dtype=np.float64)
    geno = Genotypes.open(prefix)
    p = np.nanmean(raw, axis=0) / 2
    imputed = np.where(np.isnan(raw), 2 * p, raw)
    np.testing.assert_allclose(geno.read(standardize=False), imputed, rtol=1e-6)
    h = 2 * p * (1 - p)
    expected = np.where(h > 0, (imputed - 2 * p) / np.sqrt(np.where(h > 0, h, 1)), 0.0)
    np.testing.assert_allclose(geno.read(), expected, rtol=1e-5, atol=1e-6)
