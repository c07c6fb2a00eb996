"""--impute-summary (bayesmix.prepare.impute_summary): the imputed z against the dense formula
R~_ut R~_tt^-1 z_t, calibration on z simulated from known LD, GCTB's b/se and file format,
bad inputs, and the bayesmix-gctb command end to end."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from bayesmix.cli import gctb as gctb_cli
from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.io.sumstats import beta_se_from_z, read_sumstats, write_ma
from bayesmix.ld.eigen import eigen_decompose_blocks
from bayesmix.prepare.impute_summary import (IMPUTED, NO_TYPED, TYPED, impute_block_z,
                                             impute_summary,
                                             write_imputed_ma)

N_GWAS = 5000


@pytest.fixture(scope="module")
def region(bfile22):
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[:240])
    return Genotypes.open(bfile22, extract=ids)


@pytest.fixture(scope="module")
def eigen(region):
    """Three blocks of 80 SNPs, 99.5% of each block's LD kept."""
    return eigen_decompose_blocks(region, block_snps=80, prop=0.995, progress=False)


def gwas(eigen, seed=0, missing=0.2):
    """A .ma-like table: z ~ N(sqrt(n) R beta, R) per block (R the kept LD), b and se for a
    trait of variance 1 (so z = b / se), 20% of the SNPs dropped."""
    rng = np.random.default_rng(seed)
    z = []
    for b in range(eigen.n_blocks):
        values, vectors = eigen.block(b)
        u = vectors.astype(np.float64)
        beta = rng.normal(0, 0.02, len(u)) * (rng.random(len(u)) < 0.1)
        z.append(np.sqrt(N_GWAS) * (u * values) @ (u.T @ beta)
                 + u @ (np.sqrt(values) * rng.standard_normal(len(values))))
    z = np.concatenate(z)
    snps = eigen.snps
    freq = snps["freq"].to_numpy()
    b, se = beta_se_from_z(z, N_GWAS, freq)
    full = pd.DataFrame({"SNP": snps["snp"], "A1": snps["a1"], "A2": snps["a2"],
                         "FREQ": freq, "BETA": b, "SE": se, "Z": z,
                         "P": 2 * (1 - norm.cdf(np.abs(z))),
                         "N": float(N_GWAS)})
    keep = rng.random(len(full)) >= missing
    return full.loc[keep].reset_index(drop=True)


def as_sumstats(table, tmp_path, name="gwas.ma"):
    """Through a .ma file, as a user gives it."""
    path = tmp_path / name
    write_ma(table.assign(CHR=np.nan, BP=pd.NA, INFO=np.nan), path)
    return read_sumstats(path)


def dense_imputation(eigen, b, typed, z_typed, ridge=0.1):
    """R~_ut R~_tt^-1 z_t from the dense truncated LD of block b."""
    r = eigen.approximate_ld(b) + ridge * np.eye(int(np.diff(eigen.block_ptr)[b]))
    return r[np.ix_(~typed, typed)] @ np.linalg.solve(r[np.ix_(typed, typed)], z_typed)


# --------------------------------------------------------------------------- the formula
@pytest.mark.parametrize("n_typed", [70, 15])
def test_block_solve_equals_the_dense_formula(n_typed):
    """Both solves (k x k Woodbury form when m_t >= k, m_t x m_t otherwise) equal the dense
    R~_ut R~_tt^-1 z_t on a random low-rank block."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 90)) @ np.diag(rng.uniform(0.5, 2, 90))
    r = np.corrcoef(x.T)
    values, vectors = np.linalg.eigh(r)
    values, vectors = values[::-1][:30], vectors[:, ::-1][:, :30]
    typed = np.zeros(90, bool)
    typed[rng.choice(90, n_typed, replace=False)] = True
    z_t = rng.standard_normal(n_typed)
    dense = (vectors * values) @ vectors.T + 0.1 * np.eye(90)
    expected = dense[np.ix_(~typed, typed)] @ np.linalg.solve(dense[np.ix_(typed, typed)], z_t)
    got = impute_block_z(vectors * np.sqrt(values), typed, z_t, 0.1)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)


def test_imputed_z_equal_the_dense_formula(eigen, tmp_path):
    observed = gwas(eigen)
    table, report = impute_summary(as_sumstats(observed, tmp_path), eigen)
    assert report.n_typed == len(observed) and report.n_imputed == len(eigen.snps) - len(observed)
    z_file = table["Z"].to_numpy()
    for b in range(eigen.n_blocks):
        lo, hi = eigen.block_ptr[b], eigen.block_ptr[b + 1]
        typed = (table["STATUS"].to_numpy()[lo:hi] == TYPED)
        expected = dense_imputation(eigen, b, typed, z_file[lo:hi][typed])
        np.testing.assert_allclose(z_file[lo:hi][~typed], expected, rtol=1e-7, atol=1e-9)
    # a lower eigenvalue share re-truncates by GCTB's rule, and changes the imputation
    values, _ = eigen.kept(0, 0.9)
    share = np.cumsum(values) / eigen.positive_sum[0]
    assert share[-1] > 0.9 and (len(values) == 1 or share[-2] <= 0.9)
    lower, _ = impute_summary(as_sumstats(observed, tmp_path), eigen, cutoff=0.9)
    imputed = table["STATUS"] == IMPUTED
    assert not np.allclose(lower["Z"][imputed], table["Z"][imputed])


def test_imputation_is_calibrated_on_known_ld(bfile22):
    """z ~ N(0, S) with S = R + R^2 (R the full LD of 100 SNPs, every 10th of the shipped
    chr22, from the genotypes; the second term a polygenic signal), 20% of the SNPs untyped:
    over replicates, each imputed z correlates with the true z as the linear predictor
    W = R~_ut R~_tt^-1 implies, corr = (W S_tu)_jj / sqrt((W S_tt W')_jj S_jj), and the
    imputation error has the mean square that formula predicts."""
    ids = set(Genotypes.open(bfile22).snps["snp"].iloc[:1000:10])
    region = Genotypes.open(bfile22, extract=ids)
    eigen = eigen_decompose_blocks(region, block_snps=100, prop=0.995, progress=False)
    x = region.read(standardize=False).astype(np.float64)
    r = np.corrcoef(x.T)
    s = r + r @ r
    rng = np.random.default_rng(4)
    typed = rng.random(100) >= 0.2
    reps = 3000
    s_vals, s_vecs = np.linalg.eigh(s)
    draws = (s_vecs * np.sqrt(np.maximum(s_vals, 0))) @ rng.standard_normal((100, reps))
    values, vectors = eigen.kept(0, None)
    q = vectors * np.sqrt(values)
    imputed = np.column_stack([impute_block_z(q, typed, draws[typed, i]) for i in range(reps)])
    truth = draws[~typed]
    # the prediction, from the dense truncated LD and S alone
    rt = eigen.approximate_ld(0) + 0.1 * np.eye(100)
    w = rt[np.ix_(~typed, typed)] @ np.linalg.inv(rt[np.ix_(typed, typed)])
    cov = np.einsum("ij,ji->i", w, s[np.ix_(typed, ~typed)])
    var_hat = np.einsum("ij,jk,ik->i", w, s[np.ix_(typed, typed)], w)
    var_true = np.diag(s)[~typed]
    predicted = cov / np.sqrt(var_hat * var_true)
    assert predicted.min() < 0.75 and np.median(predicted) > 0.7   # informative, not trivial
    empirical = np.array([np.corrcoef(a, t)[0, 1] for a, t in zip(imputed, truth)])
    tolerance = 4.5 * (1 - predicted**2) / np.sqrt(reps) + 1e-4
    assert np.all(np.abs(empirical - predicted) < tolerance)
    mse = np.mean((imputed - truth) ** 2, axis=1)
    np.testing.assert_allclose(mse.sum(), (var_true - 2 * cov + var_hat).sum(), rtol=0.05)


# --------------------------------------------------------------------------- GCTB's outputs
def test_b_se_n_follow_gctb_and_typed_rows_keep_theirs(eigen, tmp_path):
    observed = gwas(eigen, seed=2)
    observed["N"] = np.random.default_rng(8).uniform(4000, 6000, len(observed)).round()
    observed.loc[::5, "FREQ"] = -1  # GCTB's unknown frequency
    swap = observed.index[3]
    swapped = observed.copy()
    swapped.loc[swap, ["A1", "A2"]] = observed.loc[swap, ["A2", "A1"]].to_numpy()
    swapped.loc[swap, ["BETA", "Z"]] *= -1
    swapped.loc[swap, "FREQ"] = 1 - observed.loc[swap, "FREQ"]
    table, report = impute_summary(as_sumstats(swapped, tmp_path), eigen)
    assert report.qc.n_swapped == 1
    by_snp = table.set_index("SNP")
    np.testing.assert_allclose(by_snp.loc[observed["SNP"], "BETA"], observed["BETA"], rtol=1e-7)
    np.testing.assert_allclose(by_snp.loc[observed["SNP"], "SE"], observed["SE"], rtol=1e-7)
    np.testing.assert_array_equal(table["FREQ"], eigen.snps["freq"])  # reference freq
    imputed = table["STATUS"] == IMPUTED
    np.testing.assert_allclose(table["BETA"][imputed] / table["SE"][imputed],
                               table["Z"][imputed], rtol=1e-12)
    for b in range(eigen.n_blocks):
        rows = table.iloc[eigen.block_ptr[b]:eigen.block_ptr[b + 1]]
        t = observed.loc[observed["SNP"].isin(rows["SNP"])]
        p_gwas = np.where(t["FREQ"] == -1, by_snp.loc[t["SNP"], "FREQ"], t["FREQ"])
        v = 2 * p_gwas * (1 - p_gwas) * (t["N"] * t["SE"]**2 + t["BETA"]**2)
        v_med = np.sort(v)[len(v) // 2]             # GCTB's (upper) median
        n_med = np.sort(t["N"])[len(t) // 2]
        u = rows.loc[rows["STATUS"] == IMPUTED]
        p = u["FREQ"]
        se = np.sqrt(v_med) / np.sqrt(2 * p * (1 - p) * (n_med + u["Z"] ** 2))
        np.testing.assert_allclose(u["SE"], se, rtol=1e-7)   # the .ma has 8 digits
        np.testing.assert_array_equal(u["N"], n_med)
        np.testing.assert_allclose(u["P"], 2 * (1 - norm.cdf(
            np.abs(u["Z"]))), rtol=1e-8)


def test_output_file_is_gctb_format(eigen, tmp_path):
    observed = gwas(eigen, seed=3)
    table, _ = impute_summary(as_sumstats(observed, tmp_path), eigen)
    path = tmp_path / "out.imputed.ma"
    assert write_imputed_ma(table, path) == len(eigen.snps)
    lines = path.read_text().splitlines()
    assert lines[0] == ("            SNP         A1         A2            freq               b"
                        "              se               p               N")
    assert all(len(line) == 117 and len(line.split()) == 8 for line in lines)
    back = pd.read_csv(path, sep=r"\s+")
    assert list(back.columns) == ["SNP", "A1", "A2", "freq", "b", "se", "p", "N"]
    assert list(back["SNP"]) == list(eigen.snps["snp"])
    assert list(back["A1"]) == list(eigen.snps["a1"])
    for name, column in (("freq", "FREQ"), ("b", "BETA"), ("se", "SE"), ("p", "P")):
        np.testing.assert_allclose(back[name], table[column], rtol=5e-6)   # 6 digits
    np.testing.assert_array_equal(back["N"], table["N"])


# --------------------------------------------------------------------------- bad input
def test_block_without_typed_snp_and_outlying_n(eigen, tmp_path):
    observed = gwas(eigen, seed=5)
    block1 = set(eigen.snps["snp"].iloc[eigen.block_ptr[1]:eigen.block_ptr[2]])
    observed = observed.loc[~observed["SNP"].isin(block1)].reset_index(drop=True)
    outlier = observed["SNP"].iloc[0]
    observed.loc[0, "N"] = 20 * N_GWAS
    table, report = impute_summary(as_sumstats(observed, tmp_path), eigen)
    assert report.blocks_without_typed == 1
    assert report.not_imputed == {NO_TYPED: len(block1)}
    assert set(table.loc[table["STATUS"] == NO_TYPED, "SNP"]) == block1
    assert report.qc.dropped("N further than 3 SD from the median") == 1
    row = table.set_index("SNP").loc[outlier]
    assert row["STATUS"] == IMPUTED and row["N"] == N_GWAS   # dropped, then re-imputed
    assert report.n_qc_imputed == 1
    written = write_imputed_ma(table, tmp_path / "o.ma")
    assert written == len(eigen.snps) - len(block1)
    assert "no typed SNP in its LD block" in str(report)


def test_no_overlap_and_other_bad_input(eigen, tmp_path):
    observed = gwas(eigen, seed=6)
    other = observed.assign(SNP="x" + observed["SNP"])
    with pytest.raises(InputError, match="nothing to impute from"):
        impute_summary(as_sumstats(other, tmp_path), eigen)
    with pytest.raises(InputError, match="no LD block on chromosome 21"):
        impute_summary(as_sumstats(observed, tmp_path), eigen, chrom="21")
    with pytest.raises(InputError, match="block 4 asked for, but the LD eigen folder has 3"):
        impute_summary(as_sumstats(observed, tmp_path), eigen, block=4)
    z_only = tmp_path / "z.sumstats"
    observed[["SNP", "A1", "A2", "Z", "N"]].to_csv(z_only, sep="\t", index=False)
    with pytest.raises(InputError, match="needs BETA and SE"):
        impute_summary(read_sumstats(z_only), eigen)
    with pytest.raises(ValueError, match="positive"):
        impute_block_z(np.ones((3, 1)), np.array([True, False, True]), np.ones(2), 0.0)


# --------------------------------------------------------------------------- the command
def test_bayesmix_gctb_impute_summary(eigen, tmp_path):
    folder = eigen.save(tmp_path / "eig22")
    observed = gwas(eigen, seed=7)
    write_ma(observed.assign(CHR=np.nan, BP=pd.NA, INFO=np.nan), tmp_path / "trait.ma")
    (tmp_path / "exclude.txt").write_text("\n".join(observed["SNP"].iloc[:10]) + "\n")
    base = ["--ldm-eigen", str(folder), "--gwas-summary", str(tmp_path / "trait.ma"),
            "--impute-summary"]
    assert gctb_cli.main([*base, "--out", str(tmp_path / "imp")]) == 0
    back = pd.read_csv(tmp_path / "imp.imputed.ma", sep=r"\s+")
    assert len(back) == len(eigen.snps)
    status = pd.read_csv(tmp_path / "imp.imputed.status", sep="\t")
    assert list(status.columns) == ["SNP", "BLOCK", "STATUS", "Z"]
    assert (status["STATUS"] == "imputed").sum() == len(eigen.snps) - len(observed)
    log = (tmp_path / "imp.log").read_text()
    assert f"({len(eigen.snps) - len(observed)} imputed)" in log and "Imputation finished" in log
    # --exclude removes statistics, which are then imputed; --impute-ridge changes them
    assert gctb_cli.main([*base, "--exclude", str(tmp_path / "exclude.txt"),
                          "--impute-ridge", "0.5", "--out", str(tmp_path / "exc")]) == 0
    other = pd.read_csv(tmp_path / "exc.imputed.status", sep="\t")
    assert (other["STATUS"] == "imputed").sum() == len(eigen.snps) - len(observed) + 10
    assert not np.allclose(other["Z"], status["Z"])
    # --block N: that block alone, its rows as in the whole run, into OUT.block<ID>...
    assert gctb_cli.main([*base, "--block", "2", "--out", str(tmp_path / "one")]) == 0
    block = (tmp_path / f"one.block{eigen.meta['blocks'][1]}.imputed.ma").read_text()
    whole = (tmp_path / "imp.imputed.ma").read_text().splitlines()
    assert block.splitlines() == [whole[0], *whole[1 + 80:1 + 160]]
    # an option of another analysis is refused
    assert gctb_cli.main([*base, "--chain-length", "10", "--out", str(tmp_path / "x")]) != 0
