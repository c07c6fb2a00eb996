"""GCTB's LD sampling variance on its own dense-row LD files, recomputed by hand.

GCTB 2.05 (data.cpp, Data::readMultiLDmatBinFile and Data::readLDmatrixBinFile for full,
band and shrunk files; Data::buildSparseMME, lines 3898-3907) gives SNP j

    LDsamplVar_j = (n_j + N_j) / M * sum_{k in window_j} (1 - r_jk^2)^2 / N_j
                   + (M - |window_j|) / M,

where window_j is the run of columns WindStart..WindEnd of the row in the ``.bin`` (every
value of it, whatever its size, an exact 0 included; Data::resizeWindow keeps the window's
SNPs that are still included), n_j the GWAS N, N_j the panel size of the ``.info`` and M
the number of SNPs analysed. With shrunk LD many entries of a window are tiny (|r| below
the int16 resolution of 1.5e-5): bayesmix-gctb held those as absent, which took up to 39%
(20% on average) off LDsamplVar on a two-chromosome shrunk LD of 20,000 SNPs, and SBayesS
then gave Pi 0.0079 and hsq 0.350 where GCTB gave 0.0064 and 0.330 on the same files
(docs/sbayes.md, "Against GCTB 2.05: SBayesS").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesmix.prepare.summary import load_summary_data

N_REF = 500
HALF_WIDTH = 30          # window: columns within 30 SNPs of the row, inside the chromosome
DECAY = 0.6              # r = 0.6^|i - j|: below 1.5e-5 from a distance of 22 on
ZEROS = ((5, 12), (40, 47), (47, 40))   # exact zeros stored inside windows (row, column)


def _write_chromosome(prefix, chrom, m, rng):
    """A GCTB shrunk LD file pair for ``m`` SNPs; returns (info, dense r as float32)."""
    idx = np.arange(m)
    r = (DECAY ** np.abs(idx[:, None] - idx[None, :])).astype(np.float32)
    for i, j in ZEROS:
        if max(i, j) < m:
            r[i, j] = 0.0
    start = np.maximum(idx - HALF_WIDTH, 0)
    end = np.minimum(idx + HALF_WIDTH, m - 1)
    freq = rng.uniform(0.1, 0.5, m).round(4)
    ids = [f"c{chrom}s{k}" for k in idx]
    with open(f"{prefix}.bin", "wb") as fh:
        for j in idx:
            fh.write(r[j, start[j]:end[j] + 1].astype("<f4").tobytes())
    info = pd.DataFrame({
        "Chrom": chrom, "ID": ids, "GenPos": 0.001 * (idx + 1), "PhysPos": 1000 * (idx + 1),
        "A1": "A", "A2": "G", "A1Freq": freq, "Index": idx, "WindStart": start,
        "WindEnd": end, "WindSize": end - start + 1, "WindWidth": 1000 * (end - start),
        "N": N_REF, "SamplVar": 0,
        "LDsum": [float(r[j, start[j]:end[j] + 1].astype(np.float64).sum()) for j in idx]})
    info.to_csv(f"{prefix}.info", sep=" ", index=False)
    return info, r


def _gctb_ld_sampling_variance(infos, rs, ma):
    """GCTB's LDsamplVar of the SNPs of ``ma`` (in LD order), from the files' float32 r."""
    kept = set(ma["SNP"])
    n_gwas = ma.set_index("SNP")["N"]
    m = len(kept)
    out = []
    for info, r in zip(infos, rs):
        included = info["ID"].isin(kept).to_numpy()
        for j in np.flatnonzero(included):
            cols = np.arange(info["WindStart"][j], info["WindEnd"][j] + 1)
            cols = cols[included[cols]]                      # Data::resizeWindow
            v = r[j, cols].astype(np.float64)
            samp = ((1.0 - v * v) ** 2).sum() / info["N"][j]
            n = n_gwas[info["ID"][j]]
            out.append((n + info["N"][j]) / m * samp + (m - len(cols)) / m)
    return np.array(out)


@pytest.fixture(scope="module")
def gctb_files(tmp_path_factory):
    rng = np.random.default_rng(7)
    folder = tmp_path_factory.mktemp("gctb_shrunk")
    infos, rs, rows = [], [], []
    for chrom, m in ((1, 60), (2, 45)):
        prefix = folder / f"ref.chr{chrom}.ldm.shrunk"
        info, r = _write_chromosome(prefix, chrom, m, rng)
        infos.append(info)
        rs.append(r)
        n = rng.integers(95_000, 105_001, m).astype(float)
        h = 2 * info["A1Freq"] * (1 - info["A1Freq"])
        se = 1.0 / np.sqrt(h * n)
        b = rng.normal(0, 1, m) * se
        rows.append(pd.DataFrame({"SNP": info["ID"], "A1": "A", "A2": "G",
                                  "freq": info["A1Freq"], "b": b, "se": se, "p": 0.5, "N": n}))
    ma = pd.concat(rows, ignore_index=True)
    ma_path = folder / "gwas.ma"
    ma.to_csv(ma_path, sep=" ", index=False)
    # the same statistics without two SNPs: their LD rows and columns leave the analysis
    dropped = ma[~ma["SNP"].isin(["c1s20", "c2s3"])]
    dropped_path = folder / "gwas_dropped.ma"
    dropped.to_csv(dropped_path, sep=" ", index=False)
    mldm = folder / "ref.mldm"
    mldm.write_text("".join(f"{folder}/ref.chr{c}.ldm.shrunk\n" for c in (1, 2)))
    return dict(infos=infos, rs=rs, ma=ma, ma_path=ma_path, dropped=dropped,
                dropped_path=dropped_path, mldm=mldm, chr1=folder / "ref.chr1.ldm.shrunk")


def test_the_files_hold_entries_below_int16_resolution(gctb_files):
    r = gctb_files["rs"][0]
    info = gctb_files["infos"][0]
    j = 30
    window = r[j, info["WindStart"][j]:info["WindEnd"][j] + 1]
    assert ((np.abs(window) < 1.5e-5) & (window != 0)).sum() >= 10
    assert (window == 0).sum() == 0 and (r[5, 12] == 0)


@pytest.mark.parametrize("dtype", ["int16", "float32"])
@pytest.mark.parametrize("statistics", ["ma", "dropped"])
def test_ld_sampling_variance_is_gctbs(gctb_files, dtype, statistics):
    ma = gctb_files[statistics]
    data = load_summary_data(gctb_files[f"{statistics}_path"] if statistics == "dropped"
                             else gctb_files["ma_path"], mldm=gctb_files["mldm"],
                             ld_dtype=dtype, say=lambda *a: None)
    assert list(data.snps["snp"]) == list(ma["SNP"])
    expected = _gctb_ld_sampling_variance(gctb_files["infos"], gctb_files["rs"], ma)
    np.testing.assert_allclose(data.ld_sampling_var, expected, rtol=1e-6)


def test_one_ldm_file_too(gctb_files):
    info, r = gctb_files["infos"][0], gctb_files["rs"][0]
    ma = gctb_files["ma"][gctb_files["ma"]["SNP"].str.startswith("c1s")]
    path = gctb_files["ma_path"].with_name("gwas_chr1.ma")
    ma.to_csv(path, sep=" ", index=False)
    data = load_summary_data(path, ldm=gctb_files["chr1"], say=lambda *a: None)
    np.testing.assert_allclose(data.ld_sampling_var,
                               _gctb_ld_sampling_variance([info], [r], ma), rtol=1e-6)
