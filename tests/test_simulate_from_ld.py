"""Summary statistics drawn from LD: conditional and prior moments of z against their
analytic values, noise covariance (one and two traits), clipping, input types, the block LD
helper and the per-allele table."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

from bayesmix.errors import InputError
from bayesmix.io.plink import Genotypes
from bayesmix.simulate.effects import draw_effects
from bayesmix.simulate.from_ld import (LDSampler, block_diagonal_ld, draw_from_genotype_blocks,
                                       genetic_variance, ld_blocks, overlap_rho0,
                                       sumstats_from_ld, sumstats_table, weak_ld_signal)
from bayesmix.simulate.genotypes import default_bim, simulate_genotypes, write_bfile

N_GWAS = 50_000


@pytest.fixture(scope="module")
def geno(bfile22):
    snps = pd.read_csv(f"{bfile22}.bim", sep=r"\s+", header=None)[1]
    return Genotypes.open(bfile22, extract=snps.iloc[2000:2300])


@pytest.fixture(scope="module")
def ld(geno):
    return block_diagonal_ld(geno, 50)


@pytest.fixture(scope="module")
def sampler(ld):
    return LDSampler(ld)


def test_conditional_second_moment(geno, ld, sampler):
    """Given b: E[z_j^2] = N (R b)_j^2 + 1 and var(z_j^2) = 2 + 4 N (R b)_j^2."""
    b = draw_effects("mixer", geno.heterozygosity, 0.2, np.random.default_rng(1), pi=0.05).b_std
    rng = np.random.default_rng(2)
    reps = 3000
    z2 = np.zeros(geno.n_snps)
    for _ in range(reps):
        z2 += sumstats_from_ld(sampler, b, N_GWAS, rng=rng) ** 2
    z2 /= reps
    mu2 = N_GWAS * (ld @ b) ** 2
    dev = (z2 - 1 - mu2) / np.sqrt((2 + 4 * mu2) / reps)
    assert np.abs(dev).max() < 4.5
    assert mu2.max() > 10  # the test has signal to get wrong


def test_noise_covariance_one_and_two_traits(ld, sampler):
    rng = np.random.default_rng(3)
    reps = 4000
    rho0 = 0.3
    idx = np.arange(50, 100)  # one LD block
    r = ld.toarray()[np.ix_(idx, idx)]
    s11 = np.zeros((50, 50))
    s12 = np.zeros((50, 50))
    for _ in range(reps):
        e = sampler.noise(rng, n_traits=2, rho0=rho0)[idx]
        s11 += np.outer(e[:, 0], e[:, 0])
        s12 += np.outer(e[:, 0], e[:, 1])
    s11 /= reps
    s12 /= reps
    assert np.abs((s11 - r) / np.sqrt((1 + r**2) / reps)).max() < 5
    se12 = np.sqrt((1 + rho0**2 * r**2) / reps)
    assert np.abs((s12 - rho0 * r) / se12).max() < 5
    # blocks are independent
    e = np.array([sampler.noise(rng)[[0, 60]] for _ in range(reps)])
    assert abs(np.mean(e[:, 0] * e[:, 1])) < 5 / np.sqrt(reps)


def test_mean_chisq_over_random_effects(geno, ld, sampler):
    """MiXeR prior, b_i independent with var pi sig2_beta H_i: averaged over effects and
    noise, mean_j E[z_j^2] = 1 + N pi sig2_beta mean_j(l_j), l_j = sum_i H_i r_ij^2."""
    het = geno.heterozygosity
    rng = np.random.default_rng(4)
    chisq = []
    for _ in range(800):
        effects = draw_effects("mixer", het, 0.3, rng, pi=0.2)
        chisq.append((sumstats_from_ld(sampler, effects.b_std, N_GWAS, rng=rng) ** 2).mean())
    l = (ld.multiply(ld)) @ het
    params = effects.params
    expected = 1 + N_GWAS * params["pi"] * params["sig2_beta"] * l.mean()
    chisq = np.asarray(chisq)
    assert abs(chisq.mean() - expected) < 4 * chisq.std() / np.sqrt(len(chisq))
    # the same in LD-score form for BayesC: 1 + N h2 mean(L) / M
    chisq = []
    for _ in range(800):
        effects = draw_effects("C", het, 0.3, rng, pi=0.2)
        chisq.append((sumstats_from_ld(sampler, effects.b_std, N_GWAS, rng=rng) ** 2).mean())
    ldscore = np.asarray(ld.multiply(ld).sum(axis=1)).ravel()
    expected = 1 + N_GWAS * 0.3 * ldscore.mean() / geno.n_snps
    chisq = np.asarray(chisq)
    assert abs(chisq.mean() - expected) < 4 * chisq.std() / np.sqrt(len(chisq))


def test_two_traits_cross_moment(geno, ld, sampler):
    """E[z1_j z2_j | b] = sqrt(N1 N2) (R b1)_j (R b2)_j + rho0."""
    effects = draw_effects("mixer2", geno.heterozygosity, (0.3, 0.3), np.random.default_rng(5),
                           pi1=0.02, pi2=0.02, pi12=0.05, rho12=0.8)
    n = (40_000, 90_000)
    rho0 = overlap_rho0(n[0], n[1], 20_000, 0.5)
    assert np.isclose(rho0, 20_000 / np.sqrt(n[0] * n[1]) * 0.5)
    rng = np.random.default_rng(6)
    reps = 2000
    prod = np.zeros(geno.n_snps)
    for _ in range(reps):
        z = sumstats_from_ld(sampler, effects.b_std, n, rng=rng, rho0=rho0)
        prod += z[:, 0] * z[:, 1]
    prod /= reps
    m1, m2 = np.sqrt(n[0]) * ld @ effects.b_std[:, 0], np.sqrt(n[1]) * ld @ effects.b_std[:, 1]
    var = m1**2 + m2**2 + 1 + rho0**2 + 2 * m1 * m2 * rho0  # var(z1 z2), bivariate normal
    dev = (prod - m1 * m2 - rho0) / np.sqrt(var / reps)
    assert np.abs(dev).max() < 4.5


def test_indefinite_matrix_is_clipped():
    """The noise of an indefinite R has the covariance of R with its negative eigenvalues
    clipped, rescaled to R's unit diagonal: every SNP's noise variance stays 1."""
    r = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]])
    w, v = np.linalg.eigh(r)
    assert w.min() < -0.5
    clipped = (v * np.clip(w, 0, None)) @ v.T
    assert np.all(np.diag(clipped) > 1.1)
    psd = clipped / np.sqrt(np.outer(np.diag(clipped), np.diag(clipped)))
    sampler = LDSampler(r)
    assert np.isclose(sampler.clipped, w[w < 0].sum())
    (_, root), = sampler.blocks
    np.testing.assert_allclose(root @ root.T, psd, atol=1e-12)
    rng = np.random.default_rng(7)
    e = np.array([sampler.noise(rng) for _ in range(20000)])
    np.testing.assert_allclose(e.T @ e / len(e), psd, atol=5 * np.sqrt(2 * 2.5**2 / len(e)))


def test_input_types_agree(ld):
    b = np.random.default_rng(8).normal(0, 0.01, ld.shape[0])

    class Store:
        def to_scipy(self):
            return sp.csr_matrix(ld)

    z = [sumstats_from_ld(x, b, 1e5, rng=np.random.default_rng(9))
         for x in (ld, ld.toarray(), sp.coo_matrix(ld), Store())]
    for other in z[1:]:
        np.testing.assert_allclose(other, z[0], rtol=1e-10, atol=1e-10)
    with pytest.raises(InputError):
        sumstats_from_ld(ld, b[:10], 1e5, rng=np.random.default_rng(0))
    with pytest.raises(InputError):
        sumstats_from_ld(np.ones((3, 4)), b[:3], 1e5, rng=np.random.default_rng(0))
    with pytest.raises(InputError):
        sumstats_from_ld(ld, b, -5, rng=np.random.default_rng(0))


def test_block_diagonal_ld(tmp_path):
    x = simulate_genotypes(400, 70, rng=np.random.default_rng(10), block_size=35, rho=0.9)
    bim = default_bim(70)
    bim.loc[40:, "chr"] = "2"
    write_bfile(tmp_path / "g", x, bim=bim)
    geno = Genotypes.open(tmp_path / "g")
    r = block_diagonal_ld(geno, 25, dtype=np.float64).toarray()
    bounds = [(0, 25), (25, 40), (40, 65), (65, 70)]  # blocks restart on chromosome 2
    expected = np.zeros((70, 70))
    for a, b in bounds:
        expected[a:b, a:b] = np.corrcoef(x[:, a:b].T)
    np.testing.assert_allclose(r, expected, atol=1e-12)
    assert [len(b) for b in ld_blocks(r)] == [25, 15, 25, 5]
    b = np.random.default_rng(11).normal(size=70)
    assert np.isclose(genetic_variance(r, b), b @ expected @ b)


def test_sumstats_table_per_allele_scale(geno):
    z = np.random.default_rng(13).normal(size=geno.n_snps) * 3
    table = sumstats_table(z, 1e5, geno.snps)
    het = geno.heterozygosity
    np.testing.assert_allclose(het * (table["N"] * table["SE"] ** 2 + table["BETA"] ** 2), 1.0)
    np.testing.assert_allclose(table["BETA"] / table["SE"], z)
    np.testing.assert_allclose(table["P"], 2 * stats.norm.sf(np.abs(z)))
    assert table["SNP"].tolist() == geno.snps["snp"].tolist()


def test_streamed_blocks_equal_the_block_diagonal_matrix(geno):
    """The per-block path (no matrix held) gives the same draw as the assembled matrix."""
    b = draw_effects("mixer2", geno.heterozygosity, (0.3, 0.4), np.random.default_rng(14),
                     pi1=0.05, pi2=0.05, pi12=0.05, rho12=0.3).b_std
    streamed = draw_from_genotype_blocks(geno, b, rng=np.random.default_rng(15), block_size=70)
    r = block_diagonal_ld(geno, 70, dtype=np.float64)
    whole = LDSampler(r).draw(b, np.random.default_rng(15))
    for field in ("rb", "noise", "genetic_cov"):
        np.testing.assert_allclose(getattr(streamed, field), getattr(whole, field), atol=1e-10)
    np.testing.assert_allclose(streamed.genetic_cov, b.T @ r @ b)
    z = streamed.zscores((1e5, 2e5), scale=(2.0, 0.5), rho0=0.2)
    expected = np.sqrt([1e5, 2e5]) * (r @ b) * [2.0, 0.5]
    noise = streamed.noise.copy()
    noise[:, 1] = 0.2 * noise[:, 0] + np.sqrt(1 - 0.04) * noise[:, 1]
    np.testing.assert_allclose(z, expected + noise)


def test_per_snp_chisq_follows_ld_score_infinitesimal(geno, ld, sampler):
    """BayesC with pi = 1 (b_i ~ N(0, h2/M) for all i): z_j ~ N(0, 1 + N h2 L_j / M)
    exactly, so the per-SNP mean of z_j^2 over draws is 1 + N h2 L_j / M with variance
    2 (1 + N h2 L_j / M)^2 / reps."""
    h2, reps = 0.4, 1500
    rng = np.random.default_rng(16)
    z2 = np.zeros(geno.n_snps)
    for _ in range(reps):
        b = draw_effects("C", geno.heterozygosity, h2, rng, pi=1.0).b_std
        z2 += sumstats_from_ld(sampler, b, N_GWAS, rng=rng) ** 2
    z2 /= reps
    ldscore = np.asarray(ld.multiply(ld).sum(axis=1)).ravel()
    expected = 1 + N_GWAS * h2 * ldscore / geno.n_snps
    dev = (z2 - expected) / (np.sqrt(2 / reps) * expected)
    assert np.abs(dev).max() < 4.5
    assert np.ptp(expected) > 10  # L_j varies: the test distinguishes LD-score dependence


def test_large_components_are_cut_for_the_noise_but_not_for_r_b():
    """A 30-SNP AR(1) correlation matrix is one component; with max_block 10 the noise keeps
    R within each 10-SNP piece exactly (empirical covariance over many draws) and has no
    correlation across pieces, while R b still uses the whole matrix."""
    import numpy as np

    from bayesmix.simulate.from_ld import LDSampler, ld_blocks

    m, rho = 30, 0.8
    r = rho ** np.abs(np.subtract.outer(np.arange(m), np.arange(m)))
    pieces = ld_blocks(r, max_block=10)
    assert [p.tolist() for p in pieces] == [list(range(0, 10)), list(range(10, 20)),
                                            list(range(20, 30))]
    sampler = LDSampler(r, max_block=10)
    assert sampler.n_cut == 1
    rng = np.random.default_rng(0)
    noise = np.stack([sampler.noise(rng) for _ in range(20000)])
    cov = np.cov(noise, rowvar=False)
    within = np.kron(np.eye(3), np.ones((10, 10))).astype(bool)
    np.testing.assert_allclose(cov[within], r[within], atol=0.04)
    np.testing.assert_allclose(cov[~within], 0.0, atol=0.04)
    b = rng.normal(size=m)
    np.testing.assert_allclose(sampler.draw(b, rng).rb[:, 0], r @ b)


def test_weak_ld_signal_has_the_covariance_of_the_weak_pairs():
    """Without fourth-moment sums, per SNP j the weak-LD signal of two traits is Gaussian of
    covariance weak_j C, C = mean_i b_i b_i' / H_i: checked against the empirical covariance
    over many draws, and an LDMatrix with weak sums adds it to R b (without them R b is
    unchanged)."""
    from bayesmix.ld.store import LDMatrix

    rng = np.random.default_rng(3)
    m = 40
    het = rng.uniform(0.1, 0.5, m)
    beta = rng.multivariate_normal([0, 0], [[2e-4, 1e-4], [1e-4, 3e-4]], m)
    b_std = beta * np.sqrt(het)[:, None]
    weak = rng.uniform(0.0, 4.0, m)
    draws = np.stack([weak_ld_signal(weak, het, b_std, rng) for _ in range(20000)])
    c = beta.T @ beta / m
    for j in (0, 7, 23):
        np.testing.assert_allclose(np.cov(draws[:, j].T), weak[j] * c, rtol=0.06,
                                   atol=0.06 * weak[j] * np.sqrt(c[0, 0] * c[1, 1]))
    snps = pd.DataFrame({"snp": [f"s{i}" for i in range(m)], "chr": "1",
                         "bp": np.arange(m) + 1, "a1": "A", "a2": "G",
                         "freq": (1 - np.sqrt(1 - 2 * het)) / 2})
    identity = sp.identity(m, format="csr")
    plain = LDMatrix.from_scipy(identity, snps)
    with_weak = LDMatrix.from_csr(plain.indptr, plain.indices, plain.values(), snps,
                                  weak_ld=weak)
    assert np.array_equal(LDSampler(plain).draw(b_std, np.random.default_rng(1)).rb, b_std)
    extra = LDSampler(with_weak).draw(b_std, np.random.default_rng(1)).rb - b_std
    assert np.all(extra[weak > 0] != 0) and extra.shape == b_std.shape


def test_weak_ld_signal_is_the_convolve_likelihoods_pseudo_snps(monkeypatch):
    """With fourth-moment sums the weak-LD signal of SNP j is sqrt(x_j) times the sum of K
    per-allele effects drawn uniformly from the M SNPs', each with a random sign (K =
    floor(nu_j) or that plus one, with mean nu_j; nu_j = weak_j^2 / weak4_j, x_j = weak4_j /
    weak_j). Against the exact values over many draws: the characteristic function
    E cos(t s) = E_K [mean_i cos(t sqrt(x_j) beta_i)]^K (for a sparse trait mostly the
    chance of no causal term), E s^2 = weak_j C, E s^4 = x_j^2 E[K m4 + 3 K (K - 1) m2^2]
    (m2, m4 the effects' moments); both traits take the same SNP's effects (cross moment
    weak_j C_12). A SNP expecting more nonzero terms than PSEUDO_SNP_GAUSSIAN_ABOVE is
    Gaussian. Half the draws are made 64 terms at a time (the chunks of a genome-wide
    draw).

    The draws of one call are independent given the effects, so one call makes them all:
    the 400 SNPs' effects tiled 400 times (the effect drawn for a partner has the same
    distribution, uniform over the 400) and the four weak-LD settings given to a quarter of
    the rows each."""
    from bayesmix.simulate import from_ld

    rng = np.random.default_rng(11)
    m = 400
    het = rng.uniform(0.1, 0.5, m)
    beta = np.zeros((m, 2))
    causal = rng.choice(m, 6, replace=False)      # a sparse trait: f = 6 / 400
    beta[causal] = rng.multivariate_normal([0, 0], [[0.04, 0.02], [0.02, 0.03]], 6)
    b_std = beta * np.sqrt(het)[:, None]
    weak = np.array([0.8, 0.3, 2.5, 1e6])
    weak4 = np.array([0.004, 0.01, 0.0125, 1e-2])  # nu = 160, 9, 500 and 1e14
    n_draws, tiles = 40_000, 400
    setting = np.arange(m * tiles) % 4              # row -> its weak-LD setting
    draws = []
    for terms_per_chunk in (64, 1 << 22):
        monkeypatch.setattr(from_ld, "PSEUDO_SNP_TERMS_PER_CHUNK", terms_per_chunk)
        drawn = weak_ld_signal(weak[setting], np.tile(het, tiles), np.tile(b_std, (tiles, 1)),
                               rng, weak4[setting])
        draws.append(np.stack([drawn[setting == j][:n_draws // 2] for j in range(4)], axis=1))
    draws = np.concatenate(draws)
    f = len(causal) / m
    c = beta.T @ beta / m

    def within(draws_of, expected, n_se=5):   # the mean within n_se standard errors
        se = np.std(draws_of) / np.sqrt(len(draws_of))
        assert abs(np.mean(draws_of) - expected) < n_se * se, (np.mean(draws_of), expected)

    for j in range(3):
        nu, x = weak[j] ** 2 / weak4[j], weak4[j] / weak[j]
        k = np.array([np.floor(nu), np.floor(nu) + 1])
        p = np.array([1 - (nu - k[0]), nu - k[0]])
        for a in (0.5, 2.0, 8.0):   # characteristic function of trait 1 at a / its SD
            t = a / np.sqrt(weak[j] * c[0, 0])
            term = np.mean(np.cos(t * np.sqrt(x) * beta[:, 0]))
            within(np.cos(t * draws[:, j, 0]), np.sum(p * term ** k))
        within(draws[:, j, 0] * draws[:, j, 1], weak[j] * c[0, 1])
        for t in range(2):
            s_t = draws[:, j, t]
            m2, m4 = np.mean(beta[:, t] ** 2), np.mean(beta[:, t] ** 4)
            within(s_t ** 2, weak[j] * m2)
            within(s_t ** 4, x ** 2 * np.sum(p * (k * m4 + 3 * k * (k - 1) * m2 ** 2)))
    # the last SNP expects ~1.5e12 nonzero terms: drawn as Gaussian of covariance weak_j C
    assert weak[3] ** 2 / weak4[3] * f > from_ld.PSEUDO_SNP_GAUSSIAN_ABOVE
    big = draws[:, 3]
    assert np.mean(big[:, 0] == 0) == 0
    np.testing.assert_allclose(np.cov(big.T), weak[3] * c, rtol=0.05,
                               atol=0.05 * weak[3] * np.sqrt(c[0, 0] * c[1, 1]))
    assert abs(stats.kurtosis(big[:, 0])) < 0.1


def test_a_sparse_trait_drawn_from_ld_is_fitted_in_sample(tmp_path, bfile22):
    """End to end, a sparse trait at a large N: ``bayesmix simulate --prior mixer --ld`` on
    MiXeR-style LD (r^2 >= 0.05 within 10 Mb, with weak-LD sums), fitted by fit1 (convolve)
    as in-sample LD, recovers the truth: the causal count (20), sig2_zero 1 and the realised
    h2 on MiXeR's scale, sum_i H_i * mean_i beta_i^2 (per-allele effects beta). The weak-LD
    signal then dominates a null tag's variance (N pi sig2_beta weak_j ~ 40 here); drawn as
    Gaussian, as the convolve likelihood does not model it, the fit had 160 causal SNPs and
    sig2_zero 2.4."""
    import json

    from bayesmix.cli import main as bayesmix_main
    from bayesmix.cli import mixer as mixer_cli
    from bayesmix.ld.store import LDMatrix

    ref = tmp_path / "ref_chr22.ld"
    assert mixer_cli.main(["ld", "--bfile", str(bfile22), "--ld-window-kb", "10000",
                           "--out", str(ref)]) == 0
    assert bayesmix_main.main(["simulate", "--bfile", str(bfile22), "--prior", "mixer",
                               "--h2", "0.3", "--n-causal", "20", "--n-gwas", "1000000",
                               "--ld", str(ref), "--seed", "22",
                               "--out", str(tmp_path / "t")]) == 0
    snps = pd.read_csv(f"{bfile22}.bim", sep=r"\s+", header=None)[1]
    (tmp_path / "tags.snps").write_text("\n".join(snps.iloc[::2]) + "\n")
    assert mixer_cli.main(["fit1", "--trait1-file", str(tmp_path / "t.sumstats.gz"),
                           "--ld-file", str(tmp_path / "ref_chr@.ld"), "--chr2use", "22",
                           "--extract", str(tmp_path / "tags.snps"), "--ld-in-sample",
                           "--n-draws", "50", "--out", str(tmp_path / "fit")]) == 0
    fit = json.loads((tmp_path / "fit.json").read_text())
    truth = json.loads((tmp_path / "t.truth.json").read_text())
    freq = LDMatrix.load(ref).snps["freq"].to_numpy()
    het = 2 * freq * (1 - freq)
    per_allele_sq = np.array(truth["causal"]["b_std"]) ** 2 / het[truth["causal"]["index"]]
    realised_h2 = per_allele_sq.sum() / len(het) * het.sum()
    assert fit["ci"]["nc"]["point"] == pytest.approx(truth["n_causal"], rel=0.3)
    assert fit["params"]["sig2_zero"] == pytest.approx(1.0, abs=0.15)
    assert fit["ci"]["h2"]["point"] == pytest.approx(realised_h2, rel=0.25)
