"""Summary-data preparation: .ma rows harmonised to an LD matrix -> X'y, X'X, y'y, data summary.

Truth: an individual-level GWAS on the shipped chr22 panel computed here with numpy, so the
standardised marginal effects, phenotypic variance and per-allele effects are known exactly.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.io.sumstats import read_sumstats, write_ma
from bayesmix.ld.store import LDMatrix
from bayesmix.prepare.summary_data import prepare_summary_data


@pytest.fixture(scope="module")
def gwas(bfile22, tmp_path_factory):
    """In-sample LD (full) of 60 SNPs and the .ma of a simulated trait (n = 503, var(y) = 4)."""
    geno = Genotypes.open(bfile22)
    cols = np.arange(3000, 3060)
    x = geno.read(cols, standardize=False).astype(np.float64)
    n = len(x)
    rng = np.random.default_rng(2)
    y = 2.0 * (x[:, [5, 30]] @ np.array([0.3, -0.4]) + rng.normal(size=n))
    xc, yc = x - x.mean(0), y - y.mean()
    sxx = (xc**2).sum(0)
    b = xc.T @ yc / sxx
    resid_var = ((yc[:, None] - xc * b) ** 2).sum(0) / (n - 2)
    se = np.sqrt(resid_var / sxx)
    snps = geno.snps.iloc[cols].reset_index(drop=True)
    freq = x.mean(0) / 2
    ma = pd.DataFrame({"SNP": snps["snp"], "A1": snps["a1"], "A2": snps["a2"], "FREQ": freq,
                       "BETA": b, "SE": se, "P": 0.5, "N": float(n)})
    r = np.corrcoef(x, rowvar=False)
    ld = LDMatrix.from_scipy(r, snps.assign(n=n), meta={"kind": "full", "n_samples": n})
    path = tmp_path_factory.mktemp("sbayes") / "trait.ma"
    return dict(ma=ma, path=path, ld=ld, x=x, y=y, b=b, freq=freq, n=n)


def standardised_marginal(x, y):
    xs = (x - x.mean(0)) / x.std(0)
    ys = (y - y.mean()) / y.std()
    return xs.T @ ys / len(y)


def test_normal_equations_match_individual_level(gwas):
    write_ma(gwas["ma"], gwas["path"])
    data = prepare_summary_data(read_sumstats(gwas["path"]), gwas["ld"])
    n = gwas["n"]
    assert data.n_snps == 60 and data.nobs == n and data.yty == n
    truth = standardised_marginal(gwas["x"], gwas["y"])
    # z / sqrt(n + z^2) is the standardised coefficient up to the GWAS's n - 2 residual df
    np.testing.assert_allclose(data.xty / n, truth, rtol=3 / n, atol=1e-6)
    np.testing.assert_allclose(data.xtx_diag, n, rtol=1e-6)
    # per-SNP phenotypic variance V_j = H_j (n se^2 + b^2) estimates var(y) (= 4 here)
    assert data.vp == pytest.approx(gwas["y"].var(), rel=0.05)
    # standardised -> per-allele conversion returns the GWAS effects
    np.testing.assert_allclose(data.per_allele(data.stats["B_STD"]), gwas["b"], rtol=0.05,
                               atol=0.02 * np.abs(gwas["b"]).max())
    table = data.summary_table()
    assert table.loc["GWAS SNP sample size", "mean"] == n
    assert table.loc["MME left-hand-side diagonals", "mean"] == pytest.approx(n, rel=1e-6)
    np.testing.assert_allclose(data.ld_score, (np.corrcoef(gwas["x"], rowvar=False) ** 2).sum(1),
                               rtol=1e-5)
    assert "Data summary" in data.format_summary()


def test_summary_of_ld_without_panel_size_is_nan_without_numpy_warnings(gwas):
    """LD without a panel size (GCTB .info N 0) has no LD sampling variance: the data summary
    shows NaN for it (the other rows unchanged) instead of leaking numpy's empty-slice warnings."""
    write_ma(gwas["ma"], gwas["path"])
    ld = gwas["ld"]
    no_size = LDMatrix.from_scipy(ld.to_scipy(), ld.snps.assign(n=0), meta={"kind": "full"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = prepare_summary_data(read_sumstats(gwas["path"]), no_size)
        table = data.summary_table()
    assert table.loc["LD sampling variance"].isna().all()
    assert table.loc["GWAS SNP sample size", "mean"] == gwas["n"]
    assert table.loc["GWAS SNP SE", "sd"] == pytest.approx(gwas["ma"]["SE"].std(ddof=1))


def test_divergence_advice_points_at_contradicting_sample_sizes(gwas, tmp_path):
    """N tripled on every other SNP (each within the 4 x QC rule) makes the per-SNP
    phenotypic variances H (N SE^2 + BETA^2) disagree; the divergence advice says so with
    their 5-95% range, computed here by hand. Consistent statistics get no such sentence."""
    from bayesmix.models.sbayes import _inconsistent_statistics_note

    write_ma(gwas["ma"], gwas["path"])
    assert _inconsistent_statistics_note(
        prepare_summary_data(read_sumstats(gwas["path"]), gwas["ld"])) == ""
    ma = gwas["ma"].copy()
    ma.loc[1::2, "N"] *= 3
    write_ma(ma, tmp_path / "mixed.ma")
    note = _inconsistent_statistics_note(
        prepare_summary_data(read_sumstats(tmp_path / "mixed.ma"), gwas["ld"]))
    vp = 2 * ma["FREQ"] * (1 - ma["FREQ"]) * (ma["N"] * ma["SE"] ** 2 + ma["BETA"] ** 2)
    low, high = np.percentile(vp, [5, 95])
    assert f"range from {low:.4g} to {high:.4g}" in note
    assert f"GWAS N from {gwas['n']:,.0f} to {3 * gwas['n']:,.0f}" in note


def test_swapped_alleles_and_missing_snps_are_handled(gwas, tmp_path):
    ma = gwas["ma"].copy()
    swap = np.arange(0, 60, 7)
    ma.loc[swap, ["A1", "A2"]] = ma.loc[swap, ["A2", "A1"]].to_numpy()
    ma.loc[swap, "BETA"] *= -1
    ma.loc[swap, "FREQ"] = 1 - ma.loc[swap, "FREQ"]
    ma = ma.drop(index=[3, 4, 50])  # LD SNPs without statistics
    extra = ma.iloc[:2].assign(SNP=["rsNotInLD1", "rsNotInLD2"])
    path = tmp_path / "swapped.ma"
    write_ma(pd.concat([ma, extra], ignore_index=True), path)
    data = prepare_summary_data(read_sumstats(path), gwas["ld"])
    assert data.n_snps == 57 and data.ld.shape == (57, 57)
    assert data.qc.dropped("absent from the reference") == 2
    assert any("3 of 60 LD SNPs" in note for note in data.qc.notes)
    assert data.qc.n_swapped == len(swap)
    keep = np.setdiff1d(np.arange(60), [3, 4, 50])
    truth = standardised_marginal(gwas["x"][:, keep], gwas["y"])
    np.testing.assert_allclose(data.xty / gwas["n"], truth, rtol=3 / gwas["n"], atol=1e-6)
    r = np.corrcoef(gwas["x"][:, keep], rowvar=False)
    np.testing.assert_allclose(data.ld.to_scipy().toarray(), r, atol=1e-6)


def test_monomorphic_snp_is_dropped_and_counted(gwas, tmp_path):
    """A GWAS FREQ of 0 (no information) is QC rule 3's; it used to stop the preparation."""
    ma = gwas["ma"].copy()
    ma.loc[10, "FREQ"] = 0.0
    path = tmp_path / "mono.ma"
    write_ma(ma, path)
    data = prepare_summary_data(read_sumstats(path), gwas["ld"])
    assert dict(data.qc.steps)["FREQ outside (0, 1) or P outside [0, 1]"] == 1
    assert ma.loc[10, "SNP"] not in set(data.snps["snp"]) and data.n_snps == len(ma) - 1


def test_impute_n_recovers_per_snp_sample_sizes(gwas, tmp_path):
    """GCTB's --impute-n: a file with one average N for every SNP gets back the per-SNP N its
    BETA, SE and frequency imply; a SNP whose SE is inconsistent with any plausible N goes."""
    ma = gwas["ma"].copy()
    n_true = np.linspace(300, 503, 60).round()
    # statistics of SNPs with fewer genotyped people: SE grows like 1 / sqrt(n)
    ma["SE"] = ma["SE"] * np.sqrt(gwas["n"] / n_true)
    ma["N"] = float(n_true.mean())
    ma.loc[40, "SE"] = ma.loc[40, "SE"] / 20  # an outlier: implies a 400x larger N
    path = tmp_path / "avg_n.ma"
    write_ma(ma, path)
    data = prepare_summary_data(read_sumstats(path), gwas["ld"], impute_n=True)
    assert data.n_snps == 59 and "rs" in data.stats["SNP"].iloc[0]
    assert data.qc.dropped("imputed N outside median +- 3 SD (--impute-n)") == 1
    keep = np.setdiff1d(np.arange(60), [40])
    # per-SNP variance estimates of 503 people scatter by a few %; the average N was off by
    # up to 25%
    np.testing.assert_allclose(data.n, n_true[keep], rtol=0.12)
    assert np.corrcoef(data.n, n_true[keep])[0, 1] > 0.95


def test_combine_ld_is_block_diagonal_per_chromosome(bfile21, bfile22):
    """--mldm: one LD matrix per chromosome -> one block-diagonal matrix, SNP tables stacked."""
    from bayesmix.errors import InputError
    from bayesmix.ld.store import combine_ld

    blocks, tables = [], []
    for bfile, n_snps in ((bfile21, 30), (bfile22, 20)):
        geno = Genotypes.open(bfile)
        x = geno.read(np.arange(n_snps), standardize=False).astype(np.float64)
        blocks.append(np.corrcoef(x, rowvar=False))
        tables.append(geno.snps.iloc[:n_snps].assign(n=len(x)))
    lds = [LDMatrix.from_scipy(r, t, meta={"n_samples": 503}, dtype="int16")
           for r, t in zip(blocks, tables)]
    combined = combine_ld(lds)
    assert combined.shape == (50, 50) and combined.dtype == "int16" and combined.n_samples == 503
    dense = combined.to_scipy().toarray()
    np.testing.assert_allclose(dense[:30, :30], blocks[0], atol=2e-5)
    np.testing.assert_allclose(dense[30:, 30:], blocks[1], atol=2e-5)
    assert not dense[:30, 30:].any() and not dense[30:, :30].any()
    assert list(combined.snps["snp"]) == list(tables[0]["snp"]) + list(tables[1]["snp"])
    with pytest.raises(InputError, match="more than one LD matrix"):
        combine_ld([lds[0], lds[0]])


def test_eigen_decomposed_ld_feeds_the_model(bfile22):
    """Eigen-decomposed LD blocks (bayesmix ld eigen) -> the block-diagonal LD they keep."""
    from bayesmix.ld.eigen import ld_from_eigen_blocks
    from bayesmix.ld.eigen import eigen_decompose_blocks

    geno = Genotypes.open(bfile22, extract=set(Genotypes.open(bfile22).snps["snp"].iloc[:250]))
    eigen = eigen_decompose_blocks(geno, block_snps=100, prop=0.99, progress=False)
    ld = ld_from_eigen_blocks(eigen, dtype="float32")
    dense = ld.to_scipy().toarray()
    for b in range(eigen.n_blocks):
        lo, hi = eigen.block_ptr[b], eigen.block_ptr[b + 1]
        np.testing.assert_allclose(dense[lo:hi, lo:hi], eigen.approximate_ld(b), atol=1e-6)
        assert not dense[lo:hi, hi:].any()
    assert np.linalg.eigvalsh(dense.astype(np.float64))[0] > -1e-5  # PSD
    x = geno.read(np.arange(250), standardize=False).astype(np.float64)
    full = np.corrcoef(x, rowvar=False)
    block = slice(0, 100)
    assert np.abs(dense[block, block] - full[block, block]).max() < 0.15  # 99% of the variance


def test_rsq_filter_leaves_no_high_ld_pair_and_keeps_the_strongest(gwas):
    """--rsq 0.8 (pairs ranked by the file's p-values, as GCTB): among the kept SNPs no pair
    has r^2 > 0.8 (dense correlations of the genotypes), every dropped SNP has r^2 > 0.8 with a
    SNP of larger |z| or is tied, the most significant SNP is kept, and the QC report counts
    the dropped SNPs."""
    from scipy.stats import norm

    ma = gwas["ma"]
    write_ma(ma.assign(P=2 * norm.sf(np.abs(ma["BETA"] / ma["SE"]))), gwas["path"])
    data_all = prepare_summary_data(read_sumstats(gwas["path"]), gwas["ld"])
    data = prepare_summary_data(read_sumstats(gwas["path"]), gwas["ld"], rsq=0.8)
    r2 = np.corrcoef(gwas["x"], rowvar=False) ** 2
    ids = list(gwas["ma"]["SNP"])
    kept = np.array([ids.index(s) for s in data.stats["SNP"]])
    dropped = np.setdiff1d(np.arange(len(ids)), kept)
    assert len(dropped) > 0
    sub = r2[np.ix_(kept, kept)]
    assert (sub[~np.eye(len(kept), dtype=bool)] <= 0.8 + 1e-5).all()
    z = np.abs(data_all.stats["Z"].to_numpy())
    assert np.argmax(z) in kept
    for j in dropped:
        partners = np.flatnonzero(r2[j] > 0.8 - 1e-5)
        assert (z[partners[partners != j]] >= z[j] - 1e-9).any()
    assert dict(data.qc.steps)["in LD r^2 > 0.8 with a more significant SNP (--rsq)"] == len(dropped)
    assert data.ld.shape[0] == len(kept) == data.n_snps


def test_ld_without_panel_size_names_the_ld_and_the_way_out(gwas, tmp_path):
    """A GCTB .info with N 0 gives no panel size for the LD sampling-variance correction: the
    error names the LD and --ld-in-sample (it named a Python argument only)."""
    from bayesmix.ld.gctb import read_gctb_ldm, write_gctb_ldm
    from bayesmix.models.sbayes import SBayesModel

    prefix = write_gctb_ldm(gwas["ld"], tmp_path / "panel", "full")
    info = pd.read_csv(f"{prefix}.info", sep=r"\s+")
    info.assign(N=0).to_csv(f"{prefix}.info", sep=" ", index=False)
    write_ma(gwas["ma"], tmp_path / "t.ma")
    data = prepare_summary_data(read_sumstats(tmp_path / "t.ma"), read_gctb_ldm(prefix),
                                ld_in_sample=False)
    with pytest.raises(InputError, match="--ld-in-sample") as err:
        SBayesModel(data, "C")
    assert str(prefix) in str(err.value)


def test_p_value_selection_tests_missing_p_values_by_z(gwas, tmp_path):
    """--p-value keeps SNPs with p <= the threshold; a row whose P is missing (NA) was kept
    whatever its statistics (NaN > t is false). Its p is the normal p-value of BETA/SE, as
    --rsq ranks such SNPs; truth from scipy on the individual-level GWAS."""
    from scipy.stats import norm

    from bayesmix.prepare.summary import SummarySelection, read_selected_sumstats

    truth_p = 2 * norm.sf(np.abs(gwas["b"] / gwas["ma"]["SE"].to_numpy()))
    ma = gwas["ma"].assign(P=truth_p)
    path = tmp_path / "p_missing.ma"
    write_ma(ma, path)
    lines = path.read_text().splitlines()
    missing = [k for k in range(60) if truth_p[k] > 0.2][:5] + [int(np.argmin(truth_p))]
    assert len(missing) == 6
    for k in missing:  # P column (7th) of data line k -> NA
        fields = lines[k + 1].split()
        fields[6] = "NA"
        lines[k + 1] = " ".join(fields)
    path.write_text("\n".join(lines) + "\n")
    kept = read_selected_sumstats(path, SummarySelection(p_value=0.2), lambda line: None)
    assert set(kept["SNP"]) == set(ma["SNP"][truth_p <= 0.2])
