"""Coalescent genomes of one population: a GWAS cohort and an independent reference panel.

:func:`simulate_coalescent` draws the chromosomes of ``n_cohort + n_panel`` diploid people
of one population with msprime (Baumdicker et al. 2022, Genetics 220:iyab229): the
coalescent with recombination along a recombination map, under a human-like demography, then
neutral mutations. The first ``n_cohort`` people are the cohort (the GWAS sample), the other
``n_panel`` the reference panel: disjoint people of the same population, so LD estimated
from the panel differs from the cohort's by sampling only, as with a real external reference
(unlike a panel that is the GWAS sample itself). :meth:`CoalescentData.write` writes PLINK 1
``.bed/.bim/.fam`` files for both with the same SNPs and the same allele coding.

Model (every default is a module constant with its source):

- demography: :func:`human_demography`, the European branch of Tennessen et al. 2012
  (Science 337:64; parameters as in stdpopsim's ``OutOfAfrica_2T12``): ancestral size
  7,310, growth to 14,474 148 kya, the out-of-Africa bottleneck (1,861) 51 kya, a founder
  size of 1,032 23 kya growing 0.307% per generation, then 1.95% per generation over the
  last 5.1 kya to ~500,000 today (25 years per generation). Migration with Africa is left
  out: one population. :func:`constant_demography` (N = 10,000) is the textbook case whose
  expected number of segregating sites is Watterson's theta * sum_{i<2n} 1/i.
- recombination: :func:`hotspot_map`, a synthetic map (no genetic map ships with bayesmix):
  hotspots 2 kb wide, one per 50 kb on average (Poisson positions), carrying 60% of the
  crossovers with exponentially distributed intensities, on top of a flat background; the mean
  rate is 1e-8 per bp per generation (1 cM/Mb), so a 5 Mb chromosome is 5 cM long. Real
  maps concentrate most crossovers in hotspots of 1-2 kb, a few tens of kb apart (Myers et
  al. 2005, Science 310:321; International HapMap Consortium 2007, Nature 449:851); broad-
  scale variation of the rate is not modelled. Any ``msprime.RateMap`` can be given instead.
- mutation: 1.25e-8 per bp per generation (Kong et al. 2012, Nature 488:471), finite sites
  (one base per bp) under HKY with transition/transversion bias kappa = 4.2 (a Ts/Tv ratio
  of 2.1, as in human SNP data) and base frequencies of a 41% GC genome, so alleles are
  real bases and ~16% of SNPs are strand-ambiguous (A/T, C/G), as in real arrays. The rate
  counts mutations that change the base (msprime's HKY also draws silent ones; the rate
  handed to msprime is raised to make up for them).

SNPs kept (per chromosome, counts in :attr:`CoalescentChromosome.counts`):

1. sites with exactly two alleles among the sampled genomes (``biallelic``); sites hit
   twice with three or four bases are dropped;
2. minor allele frequency >= ``maf`` in the cohort and the panel together (one pooled
   frequency, so the same SNPs are kept in both files) (``maf``);
3. polymorphic in the cohort and in the panel separately (a GWAS and an LD matrix need
   both) (``kept`` before thinning);
4. with ``n_snps``: a uniformly random subset of that size (sorted by position).

A1 (the counted allele, ``.bim`` column 5) is the minor allele of cohort and panel together.
SNP ids are ``snp<chr>_<bp>``, bp is 1-based, cM is the map's cumulative rate at the SNP.
People are ``cohort<k>`` and ``panel<k>`` (FID = IID).

Seeds: one integer seeds everything (per chromosome: map, ancestry, mutations, thinning,
through :class:`numpy.random.SeedSequence`): the same seed gives the same files, byte for
byte, on one machine. Requires the ``sim`` extra (``pip install bayesmix[sim]``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesmix.errors import InputError

#: per bp per generation (Kong et al. 2012)
MUTATION_RATE = 1.25e-8
#: mean crossover rate, per bp per generation (~1 cM/Mb, the human genome average)
RECOMBINATION_RATE = 1e-8
#: HKY transition/transversion rate ratio: Ts/Tv = kappa / 2 = 2.1
KAPPA = 4.2
#: base frequencies A, C, G, T of a genome with 41% GC
BASE_FREQUENCIES = (0.295, 0.205, 0.205, 0.295)
#: size of :func:`constant_demography`
CONSTANT_NE = 10_000
#: Tennessen et al. 2012, European branch: (start of the epoch in generations ago, size at
#: its recent end, size at its old end); 25 years per generation
TENNESSEN_EUROPEAN = (
    (0.0, 501_436.0, 9_279.0),      # 1.95%/generation growth over the last 204.6 generations
    (204.6, 9_279.0, 1_032.0),      # 0.307%/generation growth since the founding 23 kya
    (920.0, 1_861.0, 1_861.0),      # out-of-Africa bottleneck, 51-23 kya
    (2_040.0, 14_474.0, 14_474.0),  # African expansion, 148-51 kya
    (5_920.0, 7_310.0, 7_310.0),    # ancestral size
)
#: :func:`hotspot_map` defaults: mean spacing and width of hotspots (bp), share of crossovers
HOTSPOT_SPACING = 50_000
HOTSPOT_WIDTH = 2_000
HOTSPOT_SHARE = 0.6


def _msprime():
    try:
        import msprime
    except ImportError:
        raise InputError("coalescent simulation needs msprime and tskit: pip install "
                         "'bayesmix[sim]'") from None
    return msprime


def human_demography():
    """One population under :data:`TENNESSEN_EUROPEAN` (sizes in diploid individuals,
    times in generations), as an ``msprime.Demography``."""
    msprime = _msprime()
    demography = msprime.Demography()
    (_, recent, old), *older = TENNESSEN_EUROPEAN
    first_end = older[0][0]
    demography.add_population(name="pop", initial_size=recent,
                              growth_rate=math.log(recent / old) / first_end)
    for i, (start, recent, old) in enumerate(older):
        end = older[i + 1][0] if i + 1 < len(older) else None
        rate = 0.0 if end is None or recent == old else math.log(recent / old) / (end - start)
        demography.add_population_parameters_change(time=start, initial_size=recent,
                                                    growth_rate=rate, population="pop")
    return demography


def constant_demography(ne: float = CONSTANT_NE):
    """One population of constant size ``ne`` (diploid individuals)."""
    msprime = _msprime()
    demography = msprime.Demography()
    demography.add_population(name="pop", initial_size=ne)
    return demography


def hotspot_map(length_bp: int, rng: np.random.Generator, *,
                mean_rate: float = RECOMBINATION_RATE, spacing_bp: float = HOTSPOT_SPACING,
                width_bp: int = HOTSPOT_WIDTH, hotspot_share: float = HOTSPOT_SHARE):
    """A synthetic recombination map of ``length_bp`` bp (``msprime.RateMap``, rates per bp
    per generation).

    Hotspot starts are uniform over the chromosome (their number Poisson with mean
    ``length_bp / spacing_bp``; overlapping ones merge), each ``width_bp`` wide. A flat
    background rate carries ``1 - hotspot_share`` of the map's length; on top of it the
    hotspots carry the rest, split in proportion to exponential intensities. The map's total
    length is exactly ``mean_rate * length_bp`` Morgans.
    """
    msprime = _msprime()
    if not 0.0 <= hotspot_share < 1.0:
        raise InputError(f"hotspot_share must be in [0, 1), got {hotspot_share}")
    total = mean_rate * length_bp
    count = rng.poisson(length_bp / spacing_bp) if length_bp > width_bp else 0
    if count == 0:
        return msprime.RateMap.uniform(length_bp, mean_rate)
    starts = np.sort(rng.integers(0, length_bp - width_bp, count))
    heat = rng.exponential(size=count)
    extra = hotspot_share * total * heat / heat.sum()   # Morgans above the background
    edges, masses = [0.0], []                            # masses: None for background
    for start, mass in zip(starts, extra):
        if start < edges[-1]:                            # overlaps the previous hotspot
            masses[-1] += mass
            edges[-1] = max(edges[-1], float(start + width_bp))
            continue
        if start > edges[-1]:
            edges.append(float(start))
            masses.append(None)
        edges.append(float(start + width_bp))
        masses.append(mass)
    if edges[-1] < length_bp:
        edges.append(float(length_bp))
        masses.append(None)
    widths = np.diff(edges)
    excess = np.array([0.0 if m is None else m for m in masses]) / widths
    background = (1.0 - hotspot_share) * total / length_bp
    return msprime.RateMap(position=edges, rate=background + excess)


def simulate_chromosome(n_individuals: int, recombination_map, *, demography, seed: int,
                        mutation_rate: float = MUTATION_RATE):
    """The ancestry and mutations of ``n_individuals`` diploid people along one chromosome
    (``tskit.TreeSequence``; individual i has sample nodes ``individuals_nodes[i]``).

    ``recombination_map``: ``msprime.RateMap`` (its length is the chromosome's); the
    mutation model is HKY (:data:`KAPPA`, :data:`BASE_FREQUENCIES`) with ``mutation_rate``
    base-changing mutations per bp per generation. ``seed`` seeds both steps.
    """
    msprime = _msprime()
    seeds = np.random.SeedSequence(seed).generate_state(2)
    ancestry = msprime.sim_ancestry(samples=n_individuals, ploidy=2, demography=demography,
                                    recombination_rate=recombination_map,
                                    random_seed=int(seeds[0]) + 1)
    model = msprime.HKY(kappa=KAPPA, equilibrium_frequencies=list(BASE_FREQUENCIES))
    # msprime's HKY jumps are partly silent (a base "mutating" to itself): raise the rate
    # so that base changes happen at mutation_rate
    silent = float(np.dot(model.root_distribution, np.diag(model.transition_matrix)))
    return msprime.sim_mutations(ancestry, rate=mutation_rate / (1.0 - silent), model=model,
                                 random_seed=int(seeds[1]) + 1)


@dataclass
class CoalescentChromosome:
    """One simulated chromosome and its kept SNPs.

    tree_sequence : ancestry and mutations of every sampled genome (``tskit.TreeSequence``).
    recombination_map : the map used (``msprime.RateMap``, per bp per generation).
    snps : the kept SNPs, in .bim order: chr, snp, cm, bp, a1, a2, site (tskit site id),
        a1_index (index of A1 in the site's alleles), freq (A1 frequency in cohort and panel
        together).
    counts : sites at each filter step: ``segregating`` (polymorphic among the sampled
        genomes), ``biallelic``, ``maf``, ``polymorphic_in_both``, ``kept``.
    """

    name: str
    tree_sequence: object
    recombination_map: object
    snps: pd.DataFrame
    counts: dict


@dataclass
class CoalescentData:
    """A simulated cohort and reference panel (see the module docstring).

    Individuals ``0..n_cohort-1`` of each tree sequence are the cohort, the next
    ``n_panel`` the panel. ``settings`` records what was simulated.
    """

    n_cohort: int
    n_panel: int
    chromosomes: list
    settings: dict = field(default_factory=dict)

    @property
    def snps(self) -> pd.DataFrame:
        """Every kept SNP (.bim columns and the bookkeeping of :class:`CoalescentChromosome`)."""
        return pd.concat([c.snps for c in self.chromosomes], ignore_index=True)

    def iter_dosages(self):
        """Yield the int8 A1 counts of every person (cohort first) at each kept SNP, in
        .bim order."""
        import tskit

        for chromosome in self.chromosomes:
            ts = chromosome.tree_sequence
            nodes = ts.individuals_nodes
            variant = tskit.Variant(ts, samples=nodes.ravel())
            for site, a1 in zip(chromosome.snps["site"], chromosome.snps["a1_index"]):
                variant.decode(int(site))
                haplotypes = (variant.genotypes == a1).reshape(nodes.shape)
                yield haplotypes.sum(axis=1, dtype=np.int8)

    def genotypes(self, part: str = "cohort") -> np.ndarray:
        """The (people, SNPs) int8 matrix of A1 counts of ``part`` (``"cohort"``,
        ``"panel"`` or ``"all"``)."""
        rows = self._rows(part)
        columns = [dosage[rows] for dosage in self.iter_dosages()]
        n = rows.stop - rows.start
        return np.stack(columns, axis=1) if columns else np.zeros((n, 0), dtype=np.int8)

    def fam(self, part: str) -> pd.DataFrame:
        """The people of ``part`` (fid = iid = ``cohort<k>`` / ``panel<k>``, 1-based)."""
        n = self.n_cohort if part == "cohort" else self.n_panel
        ids = [f"{part}{k}" for k in range(1, n + 1)]
        return pd.DataFrame({"fid": ids, "iid": ids})

    def write(self, cohort_prefix, panel_prefix) -> None:
        """Write ``cohort_prefix.bed/.bim/.fam`` and ``panel_prefix.bed/.bim/.fam``
        (same SNPs, same A1), one SNP at a time."""
        import contextlib

        from bed_reader import create_bed

        from bayesmix.simulate.genotypes import _atomic_bfile, _properties

        bim = self.snps[["chr", "snp", "cm", "bp", "a1", "a2"]]
        m = len(bim)
        with contextlib.ExitStack() as stack:
            writers = []
            for part, prefix in (("cohort", cohort_prefix), ("panel", panel_prefix)):
                fam = self.fam(part)
                paths = stack.enter_context(_atomic_bfile(prefix))
                writers.append(stack.enter_context(create_bed(
                    paths["bed"], len(fam), m, properties=_properties(fam, bim),
                    fam_location=paths["fam"], bim_location=paths["bim"])))
            for dosage in self.iter_dosages():
                writers[0].write(dosage[:self.n_cohort])
                writers[1].write(dosage[self.n_cohort:])

    def summary(self) -> dict:
        """Settings and per-chromosome counts and map lengths, as JSON types."""
        per_chromosome = [{"chr": c.name, "length_bp": int(c.recombination_map.sequence_length),
                        "map_length_cM": float(c.recombination_map.total_mass * 100),
                        **{k: int(v) for k, v in c.counts.items()}} for c in self.chromosomes]
        return {**self.settings, "n_snps_kept": int(sum(c["kept"] for c in per_chromosome)),
                "per_chromosome": per_chromosome}

    def _rows(self, part: str) -> slice:
        total = self.n_cohort + self.n_panel
        rows = {"cohort": slice(0, self.n_cohort), "panel": slice(self.n_cohort, total),
                "all": slice(0, total)}
        if part not in rows:
            raise InputError(f"part must be cohort, panel or all, not {part!r}")
        return rows[part]


def site_allele_counts(ts, n_cohort: int):
    """Per site: number of alleles among the sampled genomes, the two alleles' indices when
    there are two (else -1), and the count of the second one in the cohort and the panel.

    Returns ``(n_present, first, second, cohort_count, panel_count, alleles)`` over sites;
    ``alleles[s]`` is the site's allele tuple (indices as in ``tskit.Variant.alleles``).
    Genomes are ordered by individual (cohort first), two per person.
    """
    nodes = ts.individuals_nodes.ravel()
    split = 2 * n_cohort
    n_sites = ts.num_sites
    n_present = np.zeros(n_sites, dtype=np.int64)
    first = np.full(n_sites, -1, dtype=np.int64)
    second = np.full(n_sites, -1, dtype=np.int64)
    cohort_count = np.zeros(n_sites, dtype=np.int64)
    panel_count = np.zeros(n_sites, dtype=np.int64)
    alleles = []
    for s, variant in enumerate(ts.variants(samples=nodes, copy=False)):  # sites in id order
        g = variant.genotypes
        alleles.append(variant.alleles)
        if variant.num_alleles == 2:  # ancestral (0) and one derived allele (1)
            in_cohort, in_panel = np.count_nonzero(g[:split]), np.count_nonzero(g[split:])
            present = [0, 1] if 0 < in_cohort + in_panel < len(g) else []
        else:
            tally = np.bincount(g, minlength=variant.num_alleles)
            present = np.flatnonzero(tally).tolist()
            if len(present) == 2:
                in_cohort = np.count_nonzero(g[:split] == present[1])
                in_panel = np.count_nonzero(g[split:] == present[1])
        n_present[s] = max(len(present), 1)
        if len(present) == 2:
            first[s], second[s] = present
            cohort_count[s], panel_count[s] = in_cohort, in_panel
    return n_present, first, second, cohort_count, panel_count, alleles


def select_snps(ts, name: str, recombination_map, *, n_cohort: int, n_panel: int,
                maf: float, n_snps: int | None, rng: np.random.Generator):
    """The kept SNPs of one chromosome (.bim table with bookkeeping columns) and the counts
    at each filter step (see the module docstring)."""
    n_present, first, second, in_cohort, in_panel, alleles = site_allele_counts(ts, n_cohort)
    biallelic = n_present == 2
    pooled = (in_cohort + in_panel) / (2.0 * (n_cohort + n_panel))
    minor = np.minimum(pooled, 1.0 - pooled)
    passes_maf = biallelic & (minor >= maf)
    both = (passes_maf & (in_cohort > 0) & (in_cohort < 2 * n_cohort)
            & (in_panel > 0) & (in_panel < 2 * n_panel))
    sites = np.flatnonzero(both)
    counts = {"segregating": int((n_present >= 2).sum()), "biallelic": int(biallelic.sum()),
              "maf": int(passes_maf.sum()), "polymorphic_in_both": int(len(sites))}
    if n_snps is not None:
        if n_snps > len(sites):
            raise InputError(f"chromosome {name}: {len(sites)} SNPs pass the filters, fewer "
                             f"than the {n_snps} asked for: simulate longer chromosomes "
                             "(--length-mb) or lower --maf")
        sites = np.sort(rng.choice(sites, size=n_snps, replace=False))
    counts["kept"] = int(len(sites))
    # A1: the pooled minor allele (the second allele on a tie)
    second_is_a1 = pooled[sites] <= 0.5
    a1_index = np.where(second_is_a1, second[sites], first[sites])
    a2_index = np.where(second_is_a1, first[sites], second[sites])
    positions = ts.sites_position[sites].astype(np.int64)
    a1 = [alleles[s][i] for s, i in zip(sites, a1_index)]
    a2 = [alleles[s][i] for s, i in zip(sites, a2_index)]
    freq = np.where(second_is_a1, pooled[sites], 1.0 - pooled[sites])
    snps = pd.DataFrame({
        "chr": name, "snp": [f"snp{name}_{p + 1}" for p in positions],
        "cm": 100.0 * recombination_map.get_cumulative_mass(positions.astype(np.float64)),
        "bp": positions + 1, "a1": a1, "a2": a2, "site": sites, "a1_index": a1_index,
        "freq": freq})
    return snps, counts


def simulate_coalescent(*, n_cohort: int, n_panel: int, seed: int, chromosomes: int = 1,
                        length_mb: float = 5.0, n_snps: int | None = None, maf: float = 0.01,
                        demography="human", recombination_map=None,
                        mutation_rate: float = MUTATION_RATE, progress=None) -> CoalescentData:
    """Simulate a cohort and an independent reference panel of one population.

    Parameters
    ----------
    n_cohort, n_panel : diploid people in the cohort (GWAS sample) and in the panel.
    seed : integer seeding everything (same seed, same data).
    chromosomes : number of chromosomes, named 1..K, simulated independently.
    length_mb : length of each chromosome in Mb (10^6 bp); ignored with a ``RateMap``.
    n_snps : keep this many SNPs in all (a random subset of those passing the filters,
        split evenly over the chromosomes); None keeps all.
    maf : minimum minor allele frequency in cohort and panel together.
    demography : ``"human"`` (:func:`human_demography`), ``"constant"``
        (:func:`constant_demography`) or an ``msprime.Demography`` of one population.
    recombination_map : None (a :func:`hotspot_map` per chromosome), a number (a flat
        rate per bp per generation) or an ``msprime.RateMap`` used for every chromosome.
    mutation_rate : base-changing mutations per bp per generation.
    progress : optional callable receiving one line per chromosome.
    """
    msprime = _msprime()
    for name, value in (("n_cohort", n_cohort), ("n_panel", n_panel),
                        ("chromosomes", chromosomes)):
        if int(value) != value or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value}")
    if not 0.0 <= maf < 0.5:
        raise InputError(f"maf must be in [0, 0.5), got {maf}")
    if n_snps is not None and n_snps < chromosomes:
        raise InputError(f"n_snps ({n_snps}) must be at least one per chromosome")
    model = {"human": human_demography, "constant": constant_demography}
    if isinstance(demography, str):
        if demography not in model:
            raise InputError(f"demography must be human, constant or an msprime.Demography, "
                             f"not {demography!r}")
        demography_name, demography = demography, model[demography]()
    else:
        demography_name = "custom"
    if demography.num_populations != 1:
        raise InputError("the demography must have exactly one population")
    length_bp = int(round(length_mb * 1e6))
    if recombination_map is None and length_bp < 1:
        raise InputError(f"length_mb must be positive, got {length_mb}")
    shares = (None if n_snps is None else
              [n_snps // chromosomes + (c < n_snps % chromosomes) for c in range(chromosomes)])
    streams = np.random.SeedSequence(seed).spawn(chromosomes)
    done = []
    for c, stream in enumerate(streams):
        name = str(c + 1)
        map_seed, sim_seed, thin_seed = stream.spawn(3)
        if recombination_map is None:
            rate_map = hotspot_map(length_bp, np.random.default_rng(map_seed))
        elif isinstance(recombination_map, (int, float)):
            rate_map = msprime.RateMap.uniform(length_bp, float(recombination_map))
        else:
            rate_map = recombination_map
        ts = simulate_chromosome(n_cohort + n_panel, rate_map, demography=demography,
                                 seed=int(sim_seed.generate_state(1)[0]),
                                 mutation_rate=mutation_rate)
        snps, counts = select_snps(ts, name, rate_map, n_cohort=n_cohort, n_panel=n_panel,
                                   maf=maf, n_snps=None if shares is None else shares[c],
                                   rng=np.random.default_rng(thin_seed))
        done.append(CoalescentChromosome(name, ts, rate_map, snps, counts))
        if progress is not None:
            progress(f"chromosome {name}: {rate_map.sequence_length / 1e6:g} Mb, "
                     f"{rate_map.total_mass * 100:.2f} cM, {counts['segregating']} segregating "
                     f"sites, {counts['biallelic']} biallelic, {counts['maf']} with MAF >= "
                     f"{maf:g}, {counts['polymorphic_in_both']} polymorphic in cohort and "
                     f"panel, {counts['kept']} kept")
    settings = {"n_cohort": n_cohort, "n_panel": n_panel, "seed": seed,
                "chromosomes": chromosomes, "length_mb": length_mb, "n_snps": n_snps,
                "maf": maf, "maf_on": "cohort and panel together",
                "demography": demography_name, "mutation_rate": mutation_rate,
                "mutation_model": f"HKY kappa={KAPPA} base frequencies {list(BASE_FREQUENCIES)}",
                "recombination_map": ("hotspots" if recombination_map is None else
                                      "flat" if isinstance(recombination_map, (int, float))
                                      else "given")}
    if recombination_map is None:
        settings["hotspots"] = {"mean_rate": RECOMBINATION_RATE, "spacing_bp": HOTSPOT_SPACING,
                                "width_bp": HOTSPOT_WIDTH, "share": HOTSPOT_SHARE}
    return CoalescentData(n_cohort, n_panel, done, settings)
