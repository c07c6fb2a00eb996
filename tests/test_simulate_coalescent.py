"""Coalescent cohort and reference panel (bayesmix.simulate.coalescent) against truths that do
not come from the simulator's own code: Watterson's expected number of segregating sites,
population genetics' LD expectations (decay with distance, broken by a hotspot), genotypes
decoded straight from the tree sequences, plink 1.9's allele frequencies, and the published
Tennessen et al. 2012 sizes."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

msprime = pytest.importorskip("msprime")

from bed_reader import open_bed  # noqa: E402

from bayesmix.cli.main import main  # noqa: E402
from bayesmix.errors import InputError  # noqa: E402
from bayesmix.simulate.coalescent import (TENNESSEN_EUROPEAN, hotspot_map,  # noqa: E402
                                          human_demography, simulate_coalescent)

PLINK = shutil.which("plink1.9") or shutil.which("plink")


def _mean_r2(genotypes: np.ndarray, bp: np.ndarray, pair_filter) -> float:
    """Mean squared correlation of the genotype columns i < j with pair_filter(bp_i, bp_j)."""
    r2 = np.corrcoef(genotypes.T.astype(np.float64)) ** 2
    i, j = np.triu_indices(len(bp), 1)
    keep = pair_filter(bp[i], bp[j])
    assert keep.sum() > 200, "too few pairs for a stable mean"
    return float(r2[i[keep], j[keep]].mean())


def _people_genotypes(ts, snps) -> np.ndarray:
    """A1 counts of every individual at the kept sites, from tskit's genotype matrix, each
    individual's node list and the site's mutations (not the simulator's decoder)."""
    matrix = ts.genotype_matrix()             # (sites, sample nodes): allele indices
    column = {node: k for k, node in enumerate(ts.samples())}
    genomes = np.array([[column[n] for n in ts.individual(i).nodes]
                        for i in range(ts.num_individuals)])
    out = np.zeros((ts.num_individuals, len(snps)), dtype=np.int64)
    for col, (site_id, a1) in enumerate(zip(snps["site"], snps["a1"])):
        site = ts.site(int(site_id))
        alleles = [site.ancestral_state]      # tskit's allele order: ancestral, then derived
        alleles += [m.derived_state for m in site.mutations]
        alleles = list(dict.fromkeys(alleles))
        out[:, col] = (matrix[site.id][genomes] == alleles.index(a1)).sum(axis=1)
    return out


# ---------------------------------------------------------------- (a) segregating sites
def test_segregating_sites_match_wattersons_expectation():
    """Constant size N = 10,000: E[S] = theta * sum_{i<2n} 1/i, theta = 4 N mu L (Watterson
    1975), for the sites polymorphic among the 2n sampled genomes before any filter. 30
    independent 0.5 Mb chromosomes; the mean must lie within 4 standard errors."""
    n_people, length = 40, 500_000
    data = simulate_coalescent(n_cohort=25, n_panel=15, seed=11, chromosomes=30,
                               length_mb=length / 1e6, demography="constant",
                               recombination_map=1e-8, maf=0.0)
    counts = np.array([c.counts["segregating"] for c in data.chromosomes], dtype=np.float64)
    theta = 4 * 10_000 * 1.25e-8 * length
    expected = theta * sum(1.0 / i for i in range(1, 2 * n_people))
    standard_error = counts.std(ddof=1) / np.sqrt(len(counts))
    assert abs(counts.mean() - expected) < 4 * standard_error, (counts.mean(), expected)
    # and the bound is sharp enough to matter (e.g. to see msprime's silent HKY jumps, 14%)
    assert 4 * standard_error < 0.05 * expected
    for c in data.chromosomes:   # the segregating sites are those of the tree sequence
        matrix = c.tree_sequence.genotype_matrix()
        assert c.counts["segregating"] == int((matrix.min(1) != matrix.max(1)).sum())


# ---------------------------------------------------------------- (b) LD structure
def test_ld_decays_with_distance():
    """On a flat 1 cM/Mb map, mean r^2 falls with distance (E[r^2] ~ 1 / (1 + 4 N r d))."""
    data = simulate_coalescent(n_cohort=80, n_panel=40, seed=2, chromosomes=1, length_mb=1.0,
                               demography="constant", recombination_map=1e-8, maf=0.05)
    g, bp = data.genotypes("all"), data.snps["bp"].to_numpy()
    near = _mean_r2(g, bp, lambda a, b: b - a < 5_000)
    middle = _mean_r2(g, bp, lambda a, b: (b - a > 20_000) & (b - a < 50_000))
    far = _mean_r2(g, bp, lambda a, b: (b - a > 200_000) & (b - a < 500_000))
    assert near > 1.5 * middle > 1.5 * 1.5 * far, (near, middle, far)


def test_ld_is_broken_by_a_hotspot():
    """Two 100 kb stretches of low recombination (0.2 cM/Mb) joined by a 2 kb hotspot of 2 cM:
    pairs 20-60 kb apart on the same side are in strong LD, pairs spanning the hotspot in
    almost none (4 N r = 800 across it)."""
    rate_map = msprime.RateMap(position=[0, 100_000, 102_000, 200_000],
                               rate=[2e-9, 1e-5, 2e-9])
    data = simulate_coalescent(n_cohort=70, n_panel=30, seed=1, chromosomes=3,
                               demography="constant", recombination_map=rate_map, maf=0.05)
    for c in data.chromosomes:
        assert c.tree_sequence.sequence_length == 200_000
    g, snps = data.genotypes("all"), data.snps
    within, across = [], []
    for name in ("1", "2", "3"):
        cols = (snps["chr"] == name).to_numpy()
        bp = snps["bp"].to_numpy()[cols]
        apart = lambda a, b: (b - a > 20_000) & (b - a < 60_000)  # noqa: E731
        within.append(_mean_r2(g[:, cols], bp, lambda a, b: apart(a, b) & (
            (b <= 100_000) | (a > 102_000))))
        across.append(_mean_r2(g[:, cols], bp, lambda a, b: apart(a, b) & (a <= 100_000)
                               & (b > 102_000)))
    assert min(within) > 5 * max(across), (within, across)
    # the .bim's genetic positions follow the map: ~0.02 cM before, 2 cM more after
    cm = snps["cm"].to_numpy()
    bp = snps["bp"].to_numpy()
    assert cm[bp <= 100_000].max() <= 0.02 + 1e-9
    assert cm[bp > 102_001].min() >= 2.02 - 1e-9


# ---------------------------------------------------------------- (c) people and filters
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("coalescent")
    data = simulate_coalescent(n_cohort=60, n_panel=25, seed=7, chromosomes=2, length_mb=0.3,
                               maf=0.05)
    data.write(d / "cohort", d / "panel")
    return d, data


def test_cohort_and_panel_are_disjoint_people_and_filters_hold(written):
    d, data = written
    cohort_fam = pd.read_csv(d / "cohort.fam", sep=r"\s+", header=None)
    panel_fam = pd.read_csv(d / "panel.fam", sep=r"\s+", header=None)
    assert len(cohort_fam) == 60 and len(panel_fam) == 25
    assert not set(cohort_fam[1]) & set(panel_fam[1])
    cohort_bim = pd.read_csv(d / "cohort.bim", sep=r"\s+", header=None)
    panel_bim = pd.read_csv(d / "panel.bim", sep=r"\s+", header=None)
    assert cohort_bim.astype(str).equals(panel_bim.astype(str))       # same SNPs and alleles
    cohort = open_bed(d / "cohort.bed").read(dtype="int8")
    panel = open_bed(d / "panel.bed").read(dtype="int8")
    for c in data.chromosomes:
        ts = c.tree_sequence
        assert ts.num_individuals == 85
        # every individual has its own two genomes: cohort and panel share none
        nodes = [set(ts.individual(i).nodes) for i in range(85)]
        assert set().union(*nodes[:60]).isdisjoint(set().union(*nodes[60:]))
        # the files hold individuals 0..59 (cohort) and 60..84 (panel), A1 counted
        cols = (cohort_bim[0].astype(str) == c.name).to_numpy()
        truth = _people_genotypes(ts, c.snps)
        np.testing.assert_array_equal(cohort[:, cols], truth[:60])
        np.testing.assert_array_equal(panel[:, cols], truth[60:])
        # brute-force filters on tskit's genotype matrix: biallelic among the 170 genomes,
        # pooled MAF >= 0.05, polymorphic in cohort and in panel
        matrix = ts.genotype_matrix()
        order = np.concatenate([ts.individual(i).nodes for i in range(85)])
        matrix = matrix[:, np.searchsorted(ts.samples(), order)]
        expected = []
        for site, row in enumerate(matrix):
            present = np.unique(row)
            if len(present) != 2:
                continue
            hits = row == present[1]
            p = hits.mean()
            if min(p, 1 - p) >= 0.05 and 0 < hits[:120].sum() < 120 and 0 < hits[120:].sum() < 50:
                expected.append(site)
        assert c.snps["site"].tolist() == expected
    # A1 is the minor allele of cohort and panel together
    pooled = np.concatenate([cohort, panel]).mean(axis=0) / 2
    assert (pooled <= 0.5).all() and (pooled >= 0.05).all()


# ---------------------------------------------------------------- (d) plink's frequencies
@pytest.mark.skipif(PLINK is None, reason="plink1.9 is not installed")
def test_plink_frequencies_match_the_tree_sequences(written, tmp_path):
    d, data = written
    for part, people in (("cohort", slice(0, 60)), ("panel", slice(60, 85))):
        subprocess.run([PLINK, "--bfile", str(d / part), "--freq", "--out",
                        str(tmp_path / part)], check=True, capture_output=True)
        frq = pd.read_csv(tmp_path / f"{part}.frq", sep=r"\s+")
        truth = []
        for c in data.chromosomes:
            counts = _people_genotypes(c.tree_sequence, c.snps)[people]
            freq_a1 = counts.mean(axis=0) / 2
            truth.append(pd.DataFrame({"SNP": c.snps["snp"], "a1": c.snps["a1"],
                                       "a2": c.snps["a2"], "f": freq_a1}))
        truth = pd.concat(truth, ignore_index=True)
        assert frq["SNP"].tolist() == truth["SNP"].tolist()
        # plink reports the frequency of its A1 (it may swap to its own minor allele)
        f = np.where(frq["A1"] == truth["a1"], truth["f"], 1 - truth["f"])
        assert (np.where(frq["A1"] == truth["a1"], frq["A2"] == truth["a2"],
                         (frq["A1"] == truth["a2"]) & (frq["A2"] == truth["a1"]))).all()
        np.testing.assert_allclose(frq["MAF"], f, atol=5e-5)


# ---------------------------------------------------------------- (e) seeds
def _simulate_cli(folder, seed, *extra):
    """Run the command into an empty ``folder``; the bytes of its outputs (then removed, so
    the next run writes to the same paths, which the JSON records)."""
    folder.mkdir(exist_ok=True)
    argv = ["simulate", "--coalescent", "--n-cohort", "30", "--n-panel", "12",
            "--chromosomes", "2", "--length-mb", "0.2", "--seed", str(seed),
            "--out", str(folder / "sim"), *extra]
    assert main(argv) == 0
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix != ".log"}
    for path in folder.iterdir():
        path.unlink()
    return files


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    first = _simulate_cli(tmp_path, 5)
    again = _simulate_cli(tmp_path, 5)
    other = _simulate_cli(tmp_path, 6)
    assert sorted(first) == ["sim.coalescent.json", "sim.cohort.bed", "sim.cohort.bim",
                             "sim.cohort.fam", "sim.panel.bed", "sim.panel.bim",
                             "sim.panel.fam"]
    assert first == again
    for name in ("sim.cohort.bed", "sim.cohort.bim", "sim.panel.bed", "sim.panel.bim"):
        assert first[name] != other[name], name
    summary = json.loads(first["sim.coalescent.json"])
    assert summary["seed"] == 5 and summary["n_cohort"] == 30
    assert summary["n_snps_kept"] == len(first["sim.cohort.bim"].splitlines())


def test_thinning_keeps_a_subset_split_over_chromosomes():
    full = simulate_coalescent(n_cohort=30, n_panel=10, seed=3, chromosomes=3, length_mb=0.2)
    thin = simulate_coalescent(n_cohort=30, n_panel=10, seed=3, chromosomes=3, length_mb=0.2,
                               n_snps=100)
    assert [c.counts["kept"] for c in thin.chromosomes] == [34, 33, 33]
    assert set(thin.snps["snp"]) <= set(full.snps["snp"])
    assert thin.snps["bp"].is_monotonic_increasing is False  # three chromosomes
    for c in thin.chromosomes:
        assert c.snps["bp"].is_monotonic_increasing
    with pytest.raises(InputError, match="fewer than the 100000 asked for"):
        simulate_coalescent(n_cohort=30, n_panel=10, seed=3, length_mb=0.2, n_snps=100_000)


def test_trait_simulation_runs_on_the_cohort(tmp_path):
    """The cohort is an ordinary PLINK fileset for `bayesmix simulate --prior`."""
    out = tmp_path / "trait"
    assert main(["simulate", "--coalescent", "--n-cohort", "30", "--n-panel", "12",
                 "--length-mb", "0.2", "--seed", "1", "--out", str(tmp_path / "sim")]) == 0
    assert main(["simulate", "--bfile", str(tmp_path / "sim.cohort"), "--prior", "C",
                 "--h2", "0.5", "--n-causal", "5", "--seed", "1", "--out", str(out)]) == 0
    truth = json.loads((tmp_path / "trait.truth.json").read_text())
    assert truth["n_samples"] == 30 and len(truth["causal"]["index"]) == 5


# ---------------------------------------------------------------- model components
def test_human_demography_has_the_published_sizes():
    """Sizes of Tennessen et al. 2012's European branch at the epoch boundaries."""
    debug = human_demography().debug()
    times = np.array([0.0, 204.6, 204.7, 919.9, 920.0, 2039.9, 2040.0, 5919.9, 5920.0, 1e5])
    sizes = debug.population_size_trajectory(times)[:, 0]
    expected = [501_436, 9_279, 9_279, 1_032, 1_861, 1_861, 14_474, 14_474, 7_310, 7_310]
    np.testing.assert_allclose(sizes, expected, rtol=2e-3)
    assert len(TENNESSEN_EUROPEAN) == 5


def test_hotspot_map_mass_and_share():
    rng = np.random.default_rng(4)
    rate_map = hotspot_map(5_000_000, rng)
    assert rate_map.sequence_length == 5_000_000
    np.testing.assert_allclose(rate_map.total_mass, 1e-8 * 5_000_000, rtol=1e-12)
    rates, widths = rate_map.rate, np.diff(rate_map.position)
    background = rates.min()
    hot = rates > background * (1 + 1e-9)
    np.testing.assert_allclose(background, 0.4e-8, rtol=1e-9)
    np.testing.assert_allclose(((rates - background) * widths).sum() / rate_map.total_mass,
                               0.6, rtol=1e-9)
    assert 60 < hot.sum() <= 120                     # ~100 hotspots, some merged
    assert widths[hot].sum() / 5_000_000 < 0.05      # in under 5% of the sequence


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match="demography must be"):
        simulate_coalescent(n_cohort=5, n_panel=5, seed=1, demography="european")
    with pytest.raises(InputError, match="maf must be"):
        simulate_coalescent(n_cohort=5, n_panel=5, seed=1, maf=0.6)
    with pytest.raises(InputError, match="n_cohort"):
        simulate_coalescent(n_cohort=0, n_panel=5, seed=1)
