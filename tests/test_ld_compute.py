"""LD builders against a dense float64 numpy computation on the shipped chr22 subset."""

import numpy as np
import pytest

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld, merge
from bayesmix.ld.store import LDMatrix

N_REGION = 800


@pytest.fixture(scope="module")
def region(bfile22):
    """The first N_REGION SNPs of chr22 and their dense float64 correlation matrix."""
    full = Genotypes.open(bfile22)
    ids = set(full.snps["snp"].iloc[:N_REGION])
    genotypes = Genotypes.open(bfile22, extract=ids)
    x = genotypes.read(standardize=False).astype(np.float64)
    return genotypes, np.corrcoef(x.T)


def first_snps_bfile(bfile, prefix, *, n_snps, missing_per_snp=0, seed=7):
    """Copy the first ``n_snps`` SNPs of ``bfile`` to ``prefix``, with ``missing_per_snp``
    random calls of each set missing."""
    import shutil

    n = len(open(f"{bfile}.fam").read().splitlines())
    row = (n + 3) // 4
    bed = bytearray(open(f"{bfile}.bed", "rb").read()[: 3 + n_snps * row])
    rng = np.random.default_rng(seed)
    for j in range(n_snps):
        for i in rng.choice(n, missing_per_snp, replace=False):
            k, shift = 3 + j * row + i // 4, 2 * (i % 4)
            bed[k] = (bed[k] & ~(3 << shift)) | (1 << shift)    # 01 = missing call
    open(f"{prefix}.bed", "wb").write(bytes(bed))
    open(f"{prefix}.bim", "w").write("".join(open(f"{bfile}.bim").readlines()[:n_snps]))
    shutil.copy(f"{bfile}.fam", f"{prefix}.fam")
    return prefix


def test_missing_calls_mean_imputed_and_pairwise(tmp_path, bfile22):
    prefix = first_snps_bfile(bfile22, tmp_path / "miss", n_snps=90, missing_per_snp=40)
    genotypes = Genotypes.open(prefix)
    imputed = genotypes.read(standardize=False).astype(np.float64)
    ld = build_ld(genotypes, "full", progress=False, block_size=16, max_memory_mb=0.05)
    np.testing.assert_allclose(dense(ld), np.corrcoef(imputed.T), atol=6e-8, rtol=0)
    raw = imputed.copy()
    raw[imputed != np.rint(imputed)] = np.nan     # imputed 2p values are not integers here
    pairwise = build_ld(genotypes, "full", missing="pairwise", progress=False, block_size=16)
    got = dense(pairwise)
    for i, j in [(0, 1), (5, 80), (33, 34), (89, 2)]:
        ok = ~np.isnan(raw[:, i]) & ~np.isnan(raw[:, j])
        assert got[i, j] == pytest.approx(np.corrcoef(raw[ok, i], raw[ok, j])[0, 1], abs=6e-8)


def test_halves_weak_ld_with_missing_calls_imputes_each_half_at_its_own_mean(tmp_path, bfile22):
    """With missing calls the halves' products are not the whole panel's split in two (each
    half is imputed at its own mean): their weak-LD sums against np.corrcoef of each half's
    counts imputed at the half's means, over the pairs the whole panel (imputed at its means)
    leaves out."""
    prefix = first_snps_bfile(bfile22, tmp_path / "miss", n_snps=90, missing_per_snp=40)
    genotypes = Genotypes.open(prefix)
    raw = genotypes.read(standardize=False, impute=False).astype(np.float64)
    assert np.isnan(raw).any()

    def imputed_r(x):
        x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.corrcoef(x.T)

    n = len(raw)
    r = imputed_r(raw)
    freq = genotypes.snps["freq"].to_numpy()
    het = 2 * freq * (1 - freq)
    left_out = np.float32(r).astype(np.float64) ** 2 < 0.05
    np.fill_diagonal(left_out, False)
    ld = build_ld(genotypes, "r2", r2min=0.05, window_kb=100_000, progress=False,
                  block_size=16, max_memory_mb=0.05)
    for h in range(2):
        half = raw[h::2]
        r_half = imputed_r(half)
        n_half = np.where(np.isnan(r_half), n, len(half))
        r_half = np.where(np.isnan(r_half), np.float32(r), r_half)
        expect = (left_out * het[None, :] * (r_half**2 - (1 - r_half**2) / (n_half - 2))).sum(1)
        np.testing.assert_allclose(ld.weak_ld_halves[:, h], expect, rtol=1e-9, atol=1e-12)


def dense(ld):
    return ld.to_scipy().toarray().astype(np.float64)


def test_full_matches_dense_correlation_under_any_memory_bound(region):
    genotypes, r = region
    big = build_ld(genotypes, "full", progress=False)
    small = build_ld(genotypes, "full", progress=False, max_memory_mb=1, block_size=64)
    assert big.nnz == N_REGION**2
    # exact integer cross-products: only the final float32 rounding remains
    np.testing.assert_allclose(dense(big), r, atol=6e-8, rtol=0)
    np.testing.assert_array_equal(dense(small), dense(big))


def test_window_kinds_store_exactly_the_pairs_in_the_window(region):
    genotypes, r = region
    bp = genotypes.snps["bp"].to_numpy()
    dist_bp = np.abs(bp[:, None] - bp[None, :])
    idx = np.arange(N_REGION)
    cases = [
        (dict(window_kb=100), dist_bp <= 100_000),
        (dict(window_snps=25), np.abs(idx[:, None] - idx[None, :]) <= 25),
        (dict(window_kb=300, window_snps=40),
         (dist_bp <= 300_000) & (np.abs(idx[:, None] - idx[None, :]) <= 40)),
    ]
    for options, mask in cases:
        ld = build_ld(genotypes, "window", progress=False, block_size=100, **options)
        pattern = ld.to_scipy().toarray() != 0
        np.testing.assert_array_equal(pattern, mask)
        np.testing.assert_allclose(dense(ld), np.where(mask, r, 0), atol=1e-5)


def test_sparse_and_r2_thresholds(region):
    genotypes, r = region
    n = genotypes.n_samples
    sparse = build_ld(genotypes, "sparse", progress=False, block_size=128)
    keep = (n * r**2 >= 10) | np.eye(N_REGION, dtype=bool)
    # entries within float32 rounding of the threshold may fall either way
    borderline = np.abs(n * r**2 - 10) < 1e-3
    pattern = sparse.to_scipy().toarray() != 0
    assert np.all((pattern == keep) | borderline)
    np.testing.assert_allclose(dense(sparse)[pattern], r[pattern], atol=1e-5)

    r2 = build_ld(genotypes, "r2", r2min=0.2, window_kb=500, progress=False)
    bp = genotypes.snps["bp"].to_numpy()
    keep = ((r**2 >= 0.2) & (np.abs(bp[:, None] - bp[None, :]) <= 500_000)) | np.eye(N_REGION, dtype=bool)
    borderline = np.abs(r**2 - 0.2) < 1e-5
    pattern = r2.to_scipy().toarray() != 0
    assert np.all((pattern == keep) | borderline)
    assert r2.meta["min_r2"] == 0.2 and sparse.meta["min_r2"] == pytest.approx(10 / n)


def test_r2_kind_keeps_the_weak_ld_it_leaves_out(region, tmp_path):
    """weak_ld_j = sum over the window's pairs with r^2 < r2min of H_i (r^2 - (1 - r^2)/(n - 2))
    and weak_ld4_j of H_i^2 (r^4 - 6 v r^2 + 3 v^2), v = (1 - r^2)/(n - 2), from the dense
    correlation matrix; the same from pieces, for tag rows and after a reload."""
    genotypes, r = region
    n = genotypes.n_samples
    freq = genotypes.snps["freq"].to_numpy()
    het = 2 * freq * (1 - freq)
    bp = genotypes.snps["bp"].to_numpy()
    r2 = r**2
    left_out = (r2 < 0.05) & (np.abs(bp[:, None] - bp[None, :]) <= 300_000)
    np.fill_diagonal(left_out, False)
    expect = np.maximum((left_out * het[None, :] * (r2 - (1 - r2) / (n - 2))).sum(axis=1), 0)
    ld = build_ld(genotypes, "r2", r2min=0.05, window_kb=300, progress=False, block_size=64)
    # the build sums float32-rounded r (1e-7 relative); pairs within rounding of the threshold
    # may fall either way
    slack = (np.abs(r2 - 0.05) < 1e-6).sum(axis=1) * 0.05 + 1e-6
    assert np.all(np.abs(ld.weak_ld - expect) <= slack)
    v = (1 - r2) / (n - 2)
    expect4 = np.maximum((left_out * het[None, :] ** 2 * (r2 ** 2 - 6 * v * r2 + 3 * v ** 2))
                         .sum(axis=1), 0)
    assert np.all(np.abs(ld.weak_ld4 - expect4) <= slack * 0.05 + 1e-9)
    pieces = merge(build_ld(genotypes, "r2", r2min=0.05, window_kb=300, snp_range=rows,
                            progress=False) for rows in [(1, 250), (251, N_REGION)])
    np.testing.assert_allclose(pieces.weak_ld, ld.weak_ld, rtol=1e-12, atol=1e-12)
    tags = list(genotypes.snps["snp"].iloc[::9])
    tag_ld = build_ld(genotypes, "r2", r2min=0.05, window_kb=300, tags=tags, progress=False)
    np.testing.assert_allclose(tag_ld.weak_ld, ld.weak_ld[::9], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pieces.weak_ld_halves, ld.weak_ld_halves, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tag_ld.weak_ld_halves, ld.weak_ld_halves[::9], rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(pieces.weak_ld4, ld.weak_ld4, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tag_ld.weak_ld4, ld.weak_ld4[::9], rtol=1e-12, atol=1e-15)
    reloaded = LDMatrix.load(ld.save(tmp_path / "r2.ld"))
    np.testing.assert_array_equal(reloaded.weak_ld, ld.weak_ld)
    np.testing.assert_array_equal(reloaded.weak_ld_halves, ld.weak_ld_halves)
    np.testing.assert_array_equal(reloaded.weak_ld4, ld.weak_ld4)
    window = build_ld(genotypes, "window", window_kb=300, progress=False)
    assert window.weak_ld is None and window.weak_ld_halves is None and window.weak_ld4 is None


def test_r2_kind_sums_the_weak_ld_of_each_half_of_the_panel(region):
    """weak_ld_halves[:, h]: the same pairs (those the whole panel leaves out), each half's
    own r and n (even / odd samples), from the genotypes directly."""
    genotypes, r = region
    n = genotypes.n_samples
    x = genotypes.read(standardize=False).astype(np.float64)   # no missing calls here
    freq = genotypes.snps["freq"].to_numpy()
    het = 2 * freq * (1 - freq)
    bp = genotypes.snps["bp"].to_numpy()
    left_out = (r**2 < 0.05) & (np.abs(bp[:, None] - bp[None, :]) <= 300_000)
    np.fill_diagonal(left_out, False)
    ld = build_ld(genotypes, "r2", r2min=0.05, window_kb=300, progress=False, block_size=64)
    safe = ~np.any(np.abs(r**2 - 0.05) < 1e-6, axis=1)   # no pair at the threshold
    for h, samples in enumerate((slice(0, None, 2), slice(1, None, 2))):
        half = x[samples]
        with np.errstate(invalid="ignore", divide="ignore"):
            r_half = np.corrcoef(half.T)
        # a SNP monomorphic in the half has no r there: the whole panel's term stands in
        n_half = np.where(np.isnan(r_half), n, len(half))
        r_half = np.where(np.isnan(r_half), r.astype(np.float32), r_half)
        expect = (left_out * het[None, :] * (r_half**2 - (1 - r_half**2) / (n_half - 2))).sum(1)
        np.testing.assert_allclose(ld.weak_ld_halves[safe, h], expect[safe], atol=1e-6)


def test_pieces_merge_to_the_whole_matrix(region):
    genotypes, _ = region
    whole = build_ld(genotypes, "window", window_kb=200, progress=False)
    pieces = [build_ld(genotypes, "window", window_kb=200, snp_range=rng, progress=False)
              for rng in [(301, 10_000), (1, 120), (121, 300)]]
    assert pieces[1].meta["snp_range"] == [1, 120] and pieces[0].shape == (500, N_REGION)
    merged = merge(pieces)
    assert merged.is_square
    np.testing.assert_allclose(dense(merged), dense(whole), atol=1e-5)
    np.testing.assert_array_equal(dense(merged) != 0, dense(whole) != 0)


def test_tag_by_reference_matrix(region):
    genotypes, r = region
    tags = list(genotypes.snps["snp"].iloc[::7])
    ld = build_ld(genotypes, "window", window_kb=150, tags=tags + ["rs_absent"],
                  progress=False, dtype="int16")
    rows = np.arange(0, N_REGION, 7)
    assert ld.shape == (len(rows), N_REGION) and not ld.is_square
    assert list(ld.snps["snp"]) == tags and len(ld.ref_snps) == N_REGION
    assert ld.meta["missing"] == "mean"
    bp = genotypes.snps["bp"].to_numpy()
    mask = np.abs(bp[rows, None] - bp[None, :]) <= 150_000
    np.testing.assert_allclose(dense(ld), np.where(mask, r[rows], 0), atol=1e-5 + 0.5 / 32767)


def test_bad_inputs(tmp_path, bfile22, bfile21):
    import shutil

    genotypes = Genotypes.open(bfile22)
    with pytest.raises(InputError, match="needs --window"):
        build_ld(genotypes, "window", progress=False)
    with pytest.raises(InputError, match="genetic map"):
        build_ld(genotypes, "shrunk", progress=False)
    with pytest.raises(InputError, match="unknown LD kind"):
        build_ld(genotypes, "banana", progress=False)
    # unsorted positions: swap two .bim lines' positions
    prefix = tmp_path / "unsorted"
    for ext in ("bed", "fam"):
        shutil.copy(f"{bfile22}.{ext}", f"{prefix}.{ext}")
    lines = open(f"{bfile22}.bim").read().splitlines()
    fields = lines[10].split("\t")
    fields[3] = "1"
    lines[10] = "\t".join(fields)
    open(f"{prefix}.bim", "w").write("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="not sorted") as err:
        build_ld(prefix, "window", window_kb=10, progress=False)
    assert err.value.line == 11 and err.value.column == 4
    # two chromosomes in one fileset
    both = tmp_path / "both"
    merged_bim = open(f"{bfile22}.bim").read().splitlines()[:5]
    merged_bim[0] = merged_bim[0].replace("22\t", "21\t", 1)
    for ext in ("fam",):
        shutil.copy(f"{bfile22}.{ext}", f"{both}.{ext}")
    n = len(open(f"{bfile22}.fam").read().splitlines())
    bed = open(f"{bfile22}.bed", "rb").read()[: 3 + 5 * ((n + 3) // 4)]
    open(f"{both}.bed", "wb").write(bed)
    open(f"{both}.bim", "w").write("\n".join(merged_bim) + "\n")
    with pytest.raises(InputError, match="per chromosome"):
        build_ld(both, "full", progress=False)
    ld = build_ld(both, "full", chrom="22", progress=False)
    assert ld.shape == (4, 4)
    ld = build_ld(Genotypes.open(both), "full", chrom="21", progress=False)
    assert ld.shape == (1, 1) and ld.meta["dropped"]["SNPs on other chromosomes"] == 4
    # a .bed that does not match the .bim/.fam
    open(f"{both}.bed", "wb").write(bed[:-3])
    with pytest.raises(InputError, match="does not match"):
        build_ld(both, "full", chrom="22", progress=False)


def test_monomorphic_snps_are_dropped_with_a_count(tmp_path, bfile22, caplog):
    import logging
    import shutil

    prefix = tmp_path / "mono"
    shutil.copy(f"{bfile22}.fam", f"{prefix}.fam")
    n = len(open(f"{bfile22}.fam").read().splitlines())
    row = (n + 3) // 4
    bed = bytearray(open(f"{bfile22}.bed", "rb").read()[: 3 + 6 * row])
    bed[3 + 2 * row: 3 + 3 * row] = b"\xff" * row       # SNP 3: every sample hom. A2... (code 11)
    open(f"{prefix}.bed", "wb").write(bytes(bed))
    open(f"{prefix}.bim", "w").write("\n".join(open(f"{bfile22}.bim").read().splitlines()[:6]) + "\n")
    with caplog.at_level(logging.INFO, logger="bayesmix"):
        ld = build_ld(prefix, "full", progress=False)
    assert ld.shape == (5, 5)
    assert ld.meta["dropped"] == {"monomorphic SNPs (r undefined)": 1}
    assert "dropped 1 monomorphic" in caplog.text
