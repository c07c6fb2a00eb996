"""``--sbayes`` reading of a GCTB ``.ma`` against an LD matrix, checked against GCTB 2.05.

GCTB's ``GCTB::inputSnpInfo`` for summary data on an LD matrix (gctb.cpp) calls
``Data::readGwasSummaryFile(..., removeOutlierN = true)``: after matching the alleles and the
``--p-value`` selection, every SNP whose per-SNP N lies outside median +- 3 SD is dropped, the
median being ``Gadget::findMedian`` (element n / 2 of the sorted values: the upper middle
value) and the SD ``sqrt(Gadget::calcVariance)`` (population SD, divisor n) of the N of the
SNPs still included (data.cpp, "removed ... SNPs with per-SNP sample size beyond 3 SD around
the median value"). The expected SNP sets below are computed with that rule, written out here,
not taken from bayesmix.
"""

import numpy as np
import pandas as pd
import pytest

from bayesmix.cli.gctb import main
from bayesmix.io.sumstats import read_sumstats, write_ma
from bayesmix.ld.gctb import write_gctb_ldm
from bayesmix.ld.store import LDMatrix
from bayesmix.prepare.summary import SummarySelection, load_summary_data
from bayesmix.prepare.summary_data import prepare_summary_data

M = 40
N_GWAS = 10_000.0


def gctb_n_outliers(n: np.ndarray) -> np.ndarray:
    """GCTB's removeOutlierN on the N of the included SNPs: True where dropped."""
    median = np.sort(n)[len(n) // 2]
    sd = np.sqrt(np.mean((n - n.mean()) ** 2))
    return (n < median - 3 * sd) | (n > median + 3 * sd)


@pytest.fixture()
def files(tmp_path):
    """A 40-SNP LD matrix (GCTB full format, r = 0.2 between neighbours) and a .ma whose N
    is 10,000 except for two SNPs (20,000 and 3,000), with no other problem."""
    rng = np.random.default_rng(7)
    alleles = [("A", "G"), ("C", "T"), ("G", "A"), ("T", "C")]
    snps = pd.DataFrame({
        "chr": "22", "snp": [f"rs{1000 + j}" for j in range(M)],
        "cm": 0.0, "bp": 16_000_000 + 1_000 * np.arange(M),
        "a1": [alleles[j % 4][0] for j in range(M)], "a2": [alleles[j % 4][1] for j in range(M)],
        "freq": rng.uniform(0.1, 0.5, M), "n": int(N_GWAS)})
    r = np.eye(M) + 0.2 * (np.eye(M, k=1) + np.eye(M, k=-1))
    ld = LDMatrix.from_scipy(r, snps, meta={"kind": "full", "n_samples": int(N_GWAS)})
    prefix = tmp_path / "ref"
    write_gctb_ldm(ld, prefix, "full")
    n = np.full(M, N_GWAS)
    n[5], n[20] = 20_000.0, 3_000.0
    freq = snps["freq"].to_numpy()
    se = 1.0 / np.sqrt(2 * freq * (1 - freq) * n)
    z = rng.normal(size=M)
    ma = pd.DataFrame({"SNP": snps["snp"], "A1": snps["a1"], "A2": snps["a2"], "FREQ": freq,
                       "BETA": z * se, "SE": se, "P": 0.5, "N": n})
    write_ma(ma, tmp_path / "trait.ma")
    return dict(ldm=f"{prefix}.ldm.full", ma=tmp_path / "trait.ma", snps=snps, n=n,
                ld=ld, work=tmp_path)


def test_gctb_rule_drops_the_two_snps(files):
    """The premise: GCTB's rule, as written in its source, drops exactly SNPs 5 and 20."""
    assert np.flatnonzero(gctb_n_outliers(files["n"])).tolist() == [5, 20]


def test_sbayes_drops_per_snp_n_outliers_as_gctb(files):
    """load_summary_data (what --sbayes runs) keeps the SNPs GCTB keeps: N outliers dropped,
    and counted in the QC report."""
    data = load_summary_data(str(files["ma"]), ldm=files["ldm"], say=lambda line: None)
    expected = files["snps"]["snp"][~gctb_n_outliers(files["n"])].tolist()
    assert data.stats["SNP"].tolist() == expected
    assert data.qc.dropped("N further than 3 SD from the median") == 2
    assert data.nobs == N_GWAS


def test_n_outliers_judged_after_the_p_value_selection(files):
    """GCTB marks the SNPs above --p-value excluded before it takes the median and SD of N:
    six SNPs of N 40,000 selected away by --p-value no longer widen the SD, so SNP 20 with
    N 12,000 is an outlier among the SNPs left (it would not be among all 40)."""
    ma = read_sumstats(files["ma"])
    n = np.full(M, N_GWAS)
    n[20], n[30:36] = 12_000.0, 40_000.0
    p = np.full(M, 0.01)
    p[30:36] = 0.9
    freq = files["snps"]["freq"].to_numpy()
    se = 1.0 / np.sqrt(2 * freq * (1 - freq) * n)     # SEs that agree with the new N
    ma["BETA"], ma["SE"] = ma["Z"] * se, se
    ma["N"], ma["P"] = n, p
    path = files["work"] / "p.ma"
    write_ma(ma, path)
    data = load_summary_data(str(path), ldm=files["ldm"],
                             selection=SummarySelection(p_value=0.05), say=lambda line: None)
    left = p <= 0.05
    assert not gctb_n_outliers(n)[20]           # among all 40 SNPs: kept
    dropped = np.zeros(M, dtype=bool)
    dropped[left] = gctb_n_outliers(n[left])
    assert np.flatnonzero(dropped).tolist() == [20]
    assert data.stats["SNP"].tolist() == files["snps"]["snp"][left & ~dropped].tolist()
    assert data.qc.dropped("per-SNP phenotypic variance > 4 x or < 1/4 x the median") == 0


def test_one_n_for_every_snp_loses_nothing(files):
    ma = read_sumstats(files["ma"])
    ma["N"] = N_GWAS
    assert prepare_summary_data(ma, files["ld"]).n_snps == M


def test_rule_can_be_turned_off_from_python(files):
    data = prepare_summary_data(read_sumstats(files["ma"]), files["ld"], n_outlier_sd=None)
    assert data.n_snps == M


def test_command_line_snpres_lists_the_snps_gctb_keeps(files):
    """bayesmix-gctb --sbayes C: the .snpRes lists GCTB's SNPs (no N outlier)."""
    out = files["work"] / "run"
    assert main(["--sbayes", "C", "--ldm", files["ldm"], "--gwas-summary", str(files["ma"]),
                 "--chain-length", "30", "--burn-in", "10", "--out-freq", "0",
                 "--no-netcdf", "--out", str(out)]) == 0
    snp_res = pd.read_csv(f"{out}.snpRes", sep=r"\s+")
    expected = files["snps"]["snp"][~gctb_n_outliers(files["n"])].tolist()
    assert snp_res["Name"].tolist() == expected


def test_sbayes_s_prior_uses_gctbs_back_derived_heterozygosity(files):
    """On an LD matrix GCTB replaces each SNP's 2pq by Vp / (N se^2 + b^2) for the model
    (``Data::buildSparseMME``: Vp the median of 2pq (N se^2 + b^2) over the SNPs), which
    SBayesS's H^S weights and --unscale-genotype use; per-allele effects keep the frequency's
    2pq. SNP 3's SE is 1.3 times what its frequency implies, so the two differ there."""
    from bayesmix.models.alphabet import AlphabetPrior
    from bayesmix.models.sbayes import SBayesModel

    ma = read_sumstats(files["ma"])
    ma["N"] = N_GWAS
    ma.loc[3, "SE"] *= 1.3
    data = prepare_summary_data(ma, files["ld"])
    freq_het = 2 * ma["FREQ"].to_numpy() * (1 - ma["FREQ"].to_numpy())
    spread = freq_het * (ma["N"].to_numpy() * ma["SE"].to_numpy() ** 2 + ma["BETA"].to_numpy() ** 2)
    vp = np.median(spread)
    gctb_het = vp / (ma["N"].to_numpy() * ma["SE"].to_numpy() ** 2 + ma["BETA"].to_numpy() ** 2)
    assert abs(gctb_het[3] / freq_het[3] - 1) > 0.3
    model = SBayesModel(data, AlphabetPrior("S"))
    np.testing.assert_allclose(model._slab_weight(-0.5), gctb_het ** 0.5, rtol=1e-12)
    np.testing.assert_allclose(model.per_allele_factor, np.sqrt(vp / freq_het), rtol=1e-12)
    unscaled = SBayesModel(data, AlphabetPrior("C"), unscaled=True)
    np.testing.assert_allclose(unscaled._slab_weight(0.0), gctb_het, rtol=1e-12)
    summary = data.summary_table()
    assert summary.loc["GWAS SNP heterozygosity", "mean"] == pytest.approx(gctb_het.mean())
