"""``bayesmix simulate``: effects from a prior, a phenotype on a PLINK fileset's samples, GWAS
summary statistics and the truth; or (``--coalescent``) the genotypes of a cohort and an
independent reference panel from the coalescent.

Outputs (one trait): ``OUT.phen`` (GCTA: FID IID y), ``OUT.ma`` (GCTB/COJO),
``OUT.sumstats.gz`` (LDSC/MiXeR) and ``OUT.truth.json``. Two traits (``--prior mixer2``):
``OUT.phen`` has two phenotype columns and the summary statistics are
``OUT.trait1.ma``/``OUT.trait2.ma`` and ``OUT.trait{1,2}.sumstats.gz``. ``--coalescent``:
``OUT.cohort.bed/.bim/.fam``, ``OUT.panel.bed/.bim/.fam`` and ``OUT.coalescent.json``.
"""

from __future__ import annotations

from bayesmix.cli.options import (CommandSpec, finite_float, minor_allele_frequency,
                                  nonnegative_float, nonnegative_int, option, positive_float,
                                  positive_int, probability)

HELP = ("simulate effects, phenotypes and GWAS summary statistics (with the truth) on a PLINK "
        "fileset, or coalescent genotypes of a cohort and a reference panel")

DESCRIPTION = """\
Draw causal effects from a prior (BayesC/R/S/B/N/NS, MiXeR univariate, or MiXeR bivariate
'mixer2'), scaled to a target heritability h2 (standardised scale, phenotype variance 1);
simulate the phenotype y = g + e of the --bfile samples; and write GWAS summary statistics.

Without --n-gwas the GWAS is the marginal linear regression of y on each SNP over the
--bfile samples (as plink --linear; the effects are rescaled so the sample variance of g is
exactly h2). With --n-gwas N the summary statistics are instead drawn from the LD of the
--bfile genotypes as a GWAS of N individuals: z = sqrt(N) R b + e with e ~ N(0, R), R the
block-diagonal LD of consecutive --ld-block-size SNPs (or a saved LD matrix, --ld), effects
rescaled so b'Rb = h2; the phenotype file is still written for the --bfile samples.

Outputs: OUT.phen (GCTA: FID IID y [y2]), OUT.ma and OUT.sumstats.gz (two traits:
OUT.trait1.ma, OUT.trait2.ma, ...), OUT.truth.json (prior, parameters, seed, h2, and every
causal SNP with its per-allele effect beta and standardised effect b_std = beta sqrt(2p(1-p))).

--coalescent instead simulates genotypes (msprime; pip install 'bayesmix[sim]'): chromosomes of
--n-cohort + --n-panel diploid people of one population with human-like LD (a growth
demography after Tennessen et al. 2012, a synthetic recombination map with hotspots, 1 cM/Mb
on average, mutation rate 1.25e-8), biallelic SNPs with MAF >= --maf in cohort and panel
together, optionally thinned to --n-snps. Outputs: OUT.cohort.bed/.bim/.fam (the GWAS sample),
OUT.panel.bed/.bim/.fam (an independent reference panel: other people, same SNPs and alleles)
and OUT.coalescent.json (settings and SNP counts per filter). Traits on the cohort then come
from `bayesmix simulate --bfile OUT.cohort --prior ...`.
"""


PRIORS = ("C", "R", "S", "B", "N", "NS", "mixer", "mixer2")
ANALYSES = {**{p: f"--prior {p}" for p in PRIORS}, "coalescent": "--coalescent"}
SINGLE = tuple(p for p in PRIORS if p != "mixer2")
EVERY = (*PRIORS, "coalescent")

OPTIONS = [
    option("--bfile", applies=PRIORS, required=PRIORS, input="plink", metavar="PREFIX",
           help="PLINK 1 fileset"),
    option("--prior", applies=PRIORS, required=PRIORS, role="selector", choices=list(PRIORS),
           help="effect-size prior: BayesC, BayesR, BayesS, BayesB, BayesN, BayesNS, MiXeR, "
                "or the bivariate MiXeR prior (two traits)"),
    option("--h2", applies=PRIORS, required=PRIORS, type=finite_float, nargs="+", metavar="H",
           help="heritability in (0, 1); two values with --prior mixer2"),
    option("--n-causal", applies=PRIORS, type=nonnegative_int, nargs="+", metavar="K",
           conflicts=("pi",),
           help="number of causal SNPs (N/NS: windows with an effect; mixer2: three counts, "
                "trait-1 only, trait-2 only, shared)"),
    option("--pi", applies=SINGLE, type=probability, metavar="P", conflicts=("n_causal",),
           help="causal fraction (each polymorphic SNP causal with probability P; N/NS: the "
                "share of windows with an effect)"),
    option("--S", applies=("S", "NS"), type=finite_float, metavar="s",
           help="per-allele effect variance proportional to (2p(1-p))^S (default -0.5)"),
    option("--pi-k", applies=("R",), type=probability, nargs="+", metavar="PI",
           help="BayesR mixture weights (default 0.95 0.02 0.02 0.01)"),
    option("--gamma", applies=("R",), type=nonnegative_float, nargs="+", metavar="G",
           help="BayesR relative variances (default 0 0.01 0.1 1)"),
    option("--nu", applies=("B",), type=positive_float,
           help="degrees of freedom of BayesB's t slab (default 4)"),
    option("--pi-snp", applies=("N", "NS"), type=probability, metavar="P",
           help="share of SNPs with an effect inside a window with an effect (default 0.1)"),
    option("--window-kb", applies=("N", "NS"), type=positive_float, metavar="KB",
           help="window size in kb (default 1000)"),
    option("--pi1", applies=("mixer2",), type=probability, conflicts=("n_causal",),
           help="fraction causal for trait 1 only"),
    option("--pi2", applies=("mixer2",), type=probability, conflicts=("n_causal",),
           help="fraction causal for trait 2 only"),
    option("--pi12", applies=("mixer2",), type=probability, conflicts=("n_causal",),
           help="fraction causal for both traits"),
    option("--rho12", applies=("mixer2",), default=0.0, type=finite_float,
           help="correlation of the shared effects"),
    option("--residual-corr", applies=("mixer2",), default=0.0, type=finite_float,
           help="correlation of the two traits' residuals"),
    option("--prevalence", applies=PRIORS, type=probability, metavar="K",
           conflicts=("n_gwas",),
           help="binary trait: liability threshold with population prevalence K; the .phen "
                "holds 1 = case, 0 = control and the GWAS is a linear regression on that 0/1 "
                "trait"),
    option("--case-control", applies=SINGLE, type=positive_int, nargs=2,
           metavar=("NCASE", "NCONTROL"), requires=("prevalence",),
           help="sample this many cases and controls (GCTA --simu-cc); other samples get NA "
                "in the .phen and no GWAS"),
    option("--n-gwas", applies=PRIORS, type=positive_float, nargs="+", metavar="N",
           conflicts=("prevalence",),
           help="draw the summary statistics from LD as a GWAS of N people (mixer2: one or "
                "two values) instead of regressing on the --bfile samples"),
    option("--n-overlap", applies=("mixer2",), default=0.0, type=nonnegative_float,
           metavar="NS", requires=("n_gwas",),
           help="people shared by the two GWAS (correlated noise rho0 = NS / sqrt(N1 N2) * "
                "phenotypic correlation)"),
    option("--ld-block-size", applies=PRIORS, default=200, type=positive_int, metavar="K",
           requires=("n_gwas",), conflicts=("ld",),
           help="SNPs per block of the block-diagonal LD of --n-gwas"),
    option("--ld", applies=PRIORS, input="dir", metavar="DIR", requires=("n_gwas",),
           conflicts=("ld_block_size",),
           help="a saved LD matrix (bayesmix LD folder) to draw the --n-gwas statistics from"),
    option("--maf", applies=EVERY, default={**dict.fromkeys(PRIORS, 0.0), "coalescent": 0.01},
           type=minor_allele_frequency,
           help="drop SNPs with MAF below this (--coalescent: MAF of cohort and panel "
                "together)"),
    option("--chr", applies=PRIORS, metavar="CHR", help="use only this chromosome"),
    option("--extract", applies=PRIORS, input="file", metavar="FILE", help="SNPs to use"),
    option("--keep", applies=PRIORS, input="file", metavar="FILE",
           help="samples to use (FID IID)"),
    option("--seed", applies=EVERY, type=nonnegative_int, metavar="S",
           help="random seed (default: fresh entropy, recorded in the truth or "
                "OUT.coalescent.json)"),
    option("--out", applies=EVERY, required=EVERY, role="output", metavar="OUT",
           help="output prefix"),
    # ------------------------------------------------------------------ --coalescent
    option("--coalescent", applies=("coalescent",), role="selector", action="store_true",
           group="coalescent genotypes",
           help="simulate coalescent genotypes of a cohort and an independent reference panel "
                "instead of a trait"),
    *(option(flag, applies=("coalescent",), group="coalescent genotypes", help=text, **kwargs)
      for flag, text, kwargs in (
          ("--n-cohort", "diploid people in the cohort (the GWAS sample)",
           dict(default=2000, type=positive_int, metavar="N")),
          ("--n-panel", "diploid people in the reference panel (other people of the same "
           "population)", dict(default=500, type=positive_int, metavar="N")),
          ("--chromosomes", "number of chromosomes (named 1..K, independent)",
           dict(default=1, type=positive_int, metavar="K")),
          ("--length-mb", "length of each chromosome in Mb",
           dict(default=5.0, type=positive_float, metavar="MB")),
          ("--n-snps", "keep a random M of the SNPs passing the filters (split evenly over "
           "the chromosomes; default: all)", dict(type=positive_int, metavar="M")),
          ("--demography", "human: growth model after Tennessen et al. 2012 (European "
           "branch); constant: 10,000 people throughout",
           dict(default="human", choices=["human", "constant"])),
      )),
]


def _analysis(namespace: dict) -> str:
    from bayesmix.errors import InputError

    if namespace.get("coalescent"):
        if "prior" in namespace:
            raise InputError("one analysis per run: --coalescent and --prior were both asked "
                             "for; simulate the genotypes first, then a trait on "
                             "OUT.cohort with --bfile")
        return "coalescent"
    if "prior" not in namespace:
        raise InputError("simulate needs --prior (a trait) or --coalescent (genotypes)")
    return namespace["prior"]


SPEC = CommandSpec(prog="bayesmix simulate", description=DESCRIPTION, analyses=ANALYSES,
                   options=OPTIONS, detect=_analysis)


def run(invocation, run_log) -> int:
    if invocation.analysis == "coalescent":
        return _run_coalescent(invocation.args)
    return _run_trait(invocation)


def _fresh_seed() -> int:
    import numpy as np

    return int(np.random.SeedSequence().entropy % 2**63)


def _run_coalescent(args) -> int:
    import json
    import logging

    from bayesmix.io.files import atomic_open
    from bayesmix.simulate.coalescent import simulate_coalescent

    log = logging.getLogger("bayesmix")
    seed = args.seed if args.seed is not None else _fresh_seed()
    log.info("coalescent: %d cohort + %d panel people, %d chromosome(s) of %g Mb, %s "
             "demography, seed %d", args.n_cohort, args.n_panel, args.chromosomes,
             args.length_mb, args.demography, seed)
    data = simulate_coalescent(n_cohort=args.n_cohort, n_panel=args.n_panel, seed=seed,
                               chromosomes=args.chromosomes, length_mb=args.length_mb,
                               n_snps=args.n_snps, maf=args.maf, demography=args.demography,
                               progress=log.info)
    out = args.out
    data.write(f"{out}.cohort", f"{out}.panel")
    summary = data.summary()
    written = [f"{out}.{part}.{ext}" for part in ("cohort", "panel")
               for ext in ("bed", "bim", "fam")]
    summary["files"] = written + [f"{out}.coalescent.json"]
    with atomic_open(f"{out}.coalescent.json", "wt") as fh:
        json.dump(summary, fh, indent=1)
        fh.write("\n")
    log.info("%d SNPs; wrote %s and %s.coalescent.json", summary["n_snps_kept"],
             ", ".join(written), out)
    return 0


def _run_trait(invocation) -> int:
    import json
    import logging
    import sys

    import numpy as np

    from bayesmix.errors import InputError
    from bayesmix.io.files import atomic_open
    from bayesmix.io.plink import Genotypes
    from bayesmix.io.sumstats import write_ma, write_sumstats
    from bayesmix.simulate.phenotype import write_phen
    from bayesmix.simulate.scenario import check_ld_snps, simulate_gwas

    log = logging.getLogger("bayesmix")
    args = invocation.args
    bivariate = args.prior == "mixer2"
    h2 = _check_h2(args.h2, 2 if bivariate else 1)
    params = _prior_params(args, InputError)
    seed = args.seed if args.seed is not None else _fresh_seed()
    rng = np.random.default_rng(seed)

    ld, extract = None, args.extract
    if args.ld is not None:
        from bayesmix.io.plink import read_snp_list
        from bayesmix.ld import LDMatrix

        ld = LDMatrix.load(args.ld)
        extract = set(ld.snps["snp"])
        if args.extract is not None:
            extract &= read_snp_list(args.extract)
    # monomorphic SNPs can carry no effect and have no GWAS estimate: leave them out
    genotypes = Genotypes.open(args.bfile, keep=args.keep, extract=extract, chrom=args.chr,
                               maf=args.maf, drop_monomorphic=True)
    for reason, count in genotypes.filter_counts.items():
        if count:
            if ld is not None and reason == "SNPs not in --extract":
                reason = "SNPs not in --ld" + (" or --extract" if args.extract else "")
            log.info("dropped %d %s", count, reason)
    log.info("%d samples, %d SNPs from %s", genotypes.n_samples, genotypes.n_snps, args.bfile)
    if ld is not None:
        if len(ld.snps) != genotypes.n_snps:
            ld = ld.subset(genotypes.snps["snp"])
        check_ld_snps(ld, genotypes, args.ld)

    if args.n_gwas is None:
        log.info("GWAS: marginal regression on %d samples", genotypes.n_samples)
    else:
        log.info("GWAS: drawn from LD (%s) for N = %s", args.ld or
                 f"block-diagonal, {args.ld_block_size} SNPs per block",
                 " ".join(f"{n:g}" for n in args.n_gwas))
    bivariate_options = (dict(residual_corr=args.residual_corr, n_overlap=args.n_overlap)
                         if bivariate else {})
    sim = simulate_gwas(genotypes, args.prior, h2 if bivariate else h2[0], rng=rng,
                        n_gwas=args.n_gwas, ld=ld, ld_block_size=args.ld_block_size,
                        prevalence=args.prevalence, case_control=args.case_control,
                        progress=True, **bivariate_options, **params)
    log.info("prior %s: %d causal SNPs", args.prior, len(sim.effects.causal))
    if "ld_note" in sim.gwas:
        log.info("note: %s", sim.gwas["ld_note"])

    out = args.out
    written = [f"{out}.phen"]
    write_phen(f"{out}.phen", sim.phenotypes.samples, sim.phenotypes.y)
    for t, table in enumerate(sim.sumstats):
        estimable = table[["BETA", "SE"]].notna().all(axis=1).to_numpy()
        if not estimable.all():  # e.g. a SNP observed in too few samples
            log.info("trait %d: %d SNPs without an estimate left out of the summary statistics",
                     t + 1, int((~estimable).sum()))
            table = table[estimable]
        stem = f"{out}.trait{t + 1}" if bivariate else out
        write_ma(table, f"{stem}.ma")
        write_sumstats(table, f"{stem}.sumstats.gz")
        written += [f"{stem}.ma", f"{stem}.sumstats.gz"]
    gwas = dict(sim.gwas, ld=args.ld) if args.ld is not None else sim.gwas
    truth = {**sim.effects.truth(genotypes.snps), "seed": seed, "command": " ".join(sys.argv),
             "bfile": str(args.bfile), "n_samples": genotypes.n_samples,
             "h2": h2.tolist() if bivariate else float(h2[0]),
             "h2_sample": sim.phenotypes.h2_sample.tolist(), "gwas": gwas}
    if args.prevalence is not None:
        truth["prevalence"] = args.prevalence
        truth["case_fraction"] = np.nanmean(sim.phenotypes.y, axis=0).tolist()
        if args.case_control is not None:
            truth["case_control"] = args.case_control
    truth["files"] = written + [f"{out}.truth.json"]
    with atomic_open(f"{out}.truth.json", "wt") as fh:
        # one line per top-level key: readable, and long per-SNP lists stay compact
        fh.write("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}"
                                      for k, v in truth.items()) + "\n}\n")
    log.info("wrote %s and %s.truth.json", ", ".join(written), out)
    return 0


def _check_h2(values, n_traits):
    """--h2 as an array, one value per trait (the range is checked by the prior)."""
    import numpy as np

    from bayesmix.errors import InputError

    if len(values) != n_traits:
        raise InputError(f"--h2 needs {n_traits} value(s) for this prior, got {len(values)}")
    return np.asarray(values, dtype=np.float64)


#: options of the prior's effect function: option dest -> the priors that take it
PRIOR_OPTIONS = {"S": ("S", "NS"), "pi_k": ("R",), "gamma": ("R",), "nu": ("B",),
                 "pi_snp": ("N", "NS"), "window_kb": ("N", "NS"), "pi1": ("mixer2",),
                 "pi2": ("mixer2",), "pi12": ("mixer2",)}


def _prior_params(args, error) -> dict:
    """Keyword arguments of the prior's effect function from the command line (which options
    apply to which prior is checked by :data:`SPEC`)."""
    if args.prior == "mixer2":
        params = {"pi1": args.pi1, "pi2": args.pi2, "pi12": args.pi12, "rho12": args.rho12}
        if args.n_causal is not None:
            if len(args.n_causal) != 3:
                raise error("--prior mixer2 needs --n-causal K1 K2 K12 (three counts)")
            params["n_causal"] = tuple(args.n_causal)
        elif all(params[k] is None for k in ("pi1", "pi2", "pi12")):
            raise error("--prior mixer2 needs --pi1/--pi2/--pi12 or --n-causal K1 K2 K12")
        return params
    if args.n_causal is not None and len(args.n_causal) != 1:
        raise error("--n-causal takes one count for this prior")
    params = {"pi": args.pi, "n_causal": None if args.n_causal is None else args.n_causal[0]}
    if args.prior != "R" and params["pi"] is None and params["n_causal"] is None:
        raise error(f"--prior {args.prior} needs --n-causal K or --pi P")
    for name, priors in PRIOR_OPTIONS.items():
        if args.prior in priors and getattr(args, name) is not None:
            params[name] = getattr(args, name)
    return params
