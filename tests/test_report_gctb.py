"""GCTB output layouts (.parRes, .snpRes, .covRes, .mcmcsamples.*) on a hand-made result.

Two chains of chain length 40, burn-in 20, thin 10 keep iterations 30 and 40 (rows 2 and 3 of
GCTB's 4 = 40 / 10 sample rows). Expected numbers are worked out by hand below; the binary
file is decoded with numpy as GCTB's layout describes it (3 uint32, then uint32 row, uint32
SNP, float32 value records)."""

import numpy as np
import pandas as pd
import pytest

from bayesmix.inference.chain import ChainResult, ChainSettings, SnpAccumulator
from bayesmix.inference.results import ChainsResult
from bayesmix.report.gctb import (format_par_res, read_snp_effect_samples, write_outputs,
                                  write_snp_effect_samples)

FREQ = np.array([0.5, 0.1, 0.2])
HET = 2 * FREQ * (1 - FREQ)                       # 0.5, 0.18, 0.32
SETTINGS = ChainSettings(chain_length=40, burn_in=20, thin=10, out_freq=0, seed=1,
                         store_snp_draws=True)


def chain(k, hsq, pi, alpha, draws):
    acc = SnpAccumulator.empty(3, 2)
    for _, idx, values in draws:
        beta = np.zeros(3)
        beta[idx] = values
        acc.count += 1
        acc.sum_beta += beta
        acc.sum_beta2 += beta**2
        acc.nonzero += beta != 0
    return ChainResult(k, {"Pi": np.array(pi), "hsq": np.array(hsq)}, np.array(alpha),
                       np.array([30, 40]), acc,
                       [(it, np.array(i, np.int32), np.array(v, np.float32))
                        for it, i, v in draws], completed=40)


def result(method="C", n_chains=2, design=("Intercept", "age"), store=True):
    chains = [chain(0, [0.2, 0.4], [0.01, 0.03], [[1.0, 0.5], [3.0, 0.5]],
                    [(30, [0], [0.25]), (40, [0, 2], [0.5, -0.125])]),
              chain(1, [0.3, 0.5], [0.02, 0.02], [[2.0, 1.5], [2.0, 1.5]],
                    [(30, [1], [0.75]), (40, [], [])])][:n_chains]
    if not store:
        for c in chains:
            c.snp_draws = []
    snps = pd.DataFrame({"chr": ["22"] * 3, "snp": ["rs1", "rs2", "rs3"],
                         "bp": [100, 200, 300], "a1": ["A", "C", "G"], "a2": ["G", "T", "A"]})
    factor = 1 / np.sqrt(HET) if method != "S" else np.ones(3)   # X scale -> per allele
    return ChainsResult(method, SETTINGS, chains, snps, FREQ, factor,
                        list(design), 2)


def test_par_res_is_gctbs_table_pooled_over_chains(tmp_path):
    write_outputs(result(), tmp_path / "out", netcdf=False)
    text = (tmp_path / "out.parRes").read_text()
    assert not text.startswith("Posterior") and text.split("\n")[0].split() == [
        "Mean", "SD", "ESS_bulk", "R_hat"]
    table = pd.read_csv(tmp_path / "out.parRes", sep=r"\s+")   # first column -> row names
    # hsq draws 0.2, 0.4, 0.3, 0.5: mean 0.35, SD sqrt((.15^2 + .05^2 + .05^2 + .15^2) / 3)
    assert table.loc["hsq", "Mean"] == pytest.approx(0.35, abs=1e-6)
    assert table.loc["hsq", "SD"] == pytest.approx(np.sqrt(0.05 / 3), abs=1e-6)
    assert table.loc["Pi", "Mean"] == pytest.approx(0.02, abs=1e-6)
    assert np.isnan(table.loc["Pi", "ESS_bulk"])          # two draws per chain: "NA"
    one = format_par_res(result(n_chains=1))
    assert one.split("\n")[0].split() == ["Mean", "SD", "ESS_bulk"]   # no R-hat with 1 chain
    assert one.split("\n")[2].split()[:3] == ["hsq", "0.300000", "0.141421"]  # sqrt(.02)


def test_snp_res_cov_res_and_par_samples(tmp_path):
    paths = write_outputs(result(), tmp_path / "out", netcdf=False)
    snp = pd.read_csv(tmp_path / "out.snpRes", sep=r"\s+")
    assert list(snp.columns) == ["Id", "Name", "Chrom", "Position", "A1", "A2", "A1Frq",
                                 "A1Effect", "SE", "PIP", "LastSampleEff"]
    # per-allele = X-scale / sqrt(2pq); chain 0's last draw: rs1 0.5, rs3 -0.125
    np.testing.assert_allclose(snp["LastSampleEff"], [0.5 / np.sqrt(0.5), 0.0,
                                                      -0.125 / np.sqrt(0.32)], rtol=1e-7)
    # X-scale draws pooled: rs1 0.25, 0.5, 0, 0 -> mean 0.1875
    assert snp.loc[0, "A1Effect"] == pytest.approx(0.1875 / np.sqrt(0.5), rel=1e-7)
    assert snp.loc[1, "PIP"] == pytest.approx(0.25)
    cov = open(tmp_path / "out.covRes").read().splitlines()
    assert len(cov) == 2                                              # no header line
    # intercept draws 1, 3, 2, 2: mean 2, SD sqrt(2 / 3)
    name, mean, sd = cov[0].split()
    assert name == "Intercept" and float(mean) == 2.0 and float(sd) == pytest.approx(
        np.sqrt(2 / 3), abs=1e-6)
    par = pd.read_csv(tmp_path / "out.mcmcsamples.Par", sep=r"\s+")
    assert list(par.columns) == ["Pi", "hsq"] and par["hsq"].tolist() == [0.2, 0.4]
    other = pd.read_csv(tmp_path / "out.chain1.mcmcsamples.Par", sep=r"\s+")
    assert other["hsq"].tolist() == [0.3, 0.5]
    assert str(tmp_path / "out.chain1.mcmcsamples.SnpEffects") in paths


def test_no_cov_res_without_fixed_effects_and_na_without_draws(tmp_path):
    paths = write_outputs(result(design=(), store=False, n_chains=1), tmp_path / "s",
                          mcmc_bin=False, netcdf=False)
    assert not (tmp_path / "s.covRes").exists() and not any("covRes" in p for p in paths)
    assert pd.read_csv(tmp_path / "s.snpRes", sep=r"\s+")["LastSampleEff"].isna().all()


def decode(path):
    raw = open(path, "rb").read()
    header = np.frombuffer(raw[:12], "<u4")
    records = np.frombuffer(raw[12:], [("row", "<u4"), ("snp", "<u4"), ("value", "<f4")])
    return header, records


@pytest.mark.parametrize("method, unscaled", [("C", False), ("C", True), ("S", False)])
def test_snp_effects_binary_is_gctbs_sparse_triplets(tmp_path, method, unscaled):
    res = result(method)
    path = tmp_path / "e.mcmcsamples.SnpEffects"
    write_snp_effect_samples(res, path, unscaled=unscaled)
    header, records = decode(path)
    assert header.tolist() == [4, 3, 3]            # 40 / 10 rows, 3 SNPs, 3 records
    assert records["row"].tolist() == [2, 3, 3]     # iterations 30, 40 -> rows 2, 3
    assert records["snp"].tolist() == [0, 0, 2]
    x = np.array([0.25, 0.5, -0.125])              # X-scale draws of chain 0
    if method == "S":                               # unscaled model: X scale is per allele
        expected = x
    elif unscaled:                                  # per allele: X scale / sqrt(2pq)
        expected = x / np.sqrt(HET[[0, 0, 2]])
    else:                                           # GCTB's scaled genotypes: the X scale
        expected = x
    np.testing.assert_allclose(records["value"], expected, rtol=1e-7)
    matrix = read_snp_effect_samples(path)
    assert matrix.shape == (4, 3) and matrix[3, 2] == pytest.approx(expected[2], rel=1e-7)
