"""``bayesmix munge``: read GWAS summary statistics, harmonise them to a PLINK reference, write
``OUT.ma`` (GCTB/COJO), ``OUT.sumstats.gz`` (LDSC/MiXeR) and ``OUT.qc.tsv`` (SNPs dropped per
QC rule; with ``--impute-n`` also GCTB's ``OUT.imputedPerSnpN``), and print the QC table."""

from __future__ import annotations

from pathlib import Path

from bayesmix.cli.options import (CommandSpec, minor_allele_frequency, option, positive_float,
                                  unit_interval)

HELP = "harmonise GWAS summary statistics to a PLINK reference and write .ma / .sumstats.gz"


MUNGE = ("munge",)

OPTIONS = [
    option("--sumstats", applies=MUNGE, required=MUNGE, input="file", metavar="FILE",
           help="summary statistics (plain or gzip)"),
    option("--format", applies=MUNGE, default="auto",
           choices=["auto", "ma", "ldsc", "mixer", "generic"],
           help="input format (auto: detected from the header)"),
    option("--column", applies=MUNGE, action="append", metavar="NAME=CANONICAL",
           help="explicit column map, e.g. --column pval=P (repeatable; implies generic)"),
    option("--n", applies=MUNGE, type=positive_float, metavar="N",
           help="sample size for SNPs without an N column/value"),
    option("--ref", applies=MUNGE, required=MUNGE, metavar="PREFIX",
           help="PLINK reference PREFIX.bim (allele frequencies from PREFIX.bed when "
                "present); '@' in PREFIX stands for the chromosome, as in MiXeR"),
    option("--out", applies=MUNGE, required=MUNGE, role="output", metavar="OUT",
           help="output prefix"),
    option("--match-by", applies=MUNGE, default="snp", choices=["snp", "chrpos"],
           help="match SNPs to the reference by id or by CHR:BP"),
    option("--keep-ambiguous", applies=MUNGE, action="store_true",
           help="keep strand-ambiguous A/T and C/G SNPs"),
    option("--min-info", applies=MUNGE, type=unit_interval, metavar="X",
           help="drop SNPs with INFO below X"),
    option("--min-maf", applies=MUNGE, type=minor_allele_frequency, metavar="X",
           help="drop SNPs with MAF below X"),
    option("--max-freq-diff", applies=MUNGE, type=unit_interval, metavar="X",
           help="drop SNPs whose allele frequency differs from the reference by more than X"),
    option("--impute-n", applies=MUNGE, action="store_true",
           help="GCTB's per-SNP sample size imputation: N_j from b, se and allele frequency, "
                "SNPs with an outlying N dropped; writes OUT.imputedPerSnpN"),
    option("--exclude-mhc", applies=MUNGE, choices=["hg19", "hg38"], metavar="BUILD",
           help="drop the MHC region of genome build hg19 or hg38"),
    option("--exclude-region", applies=MUNGE, input="file", metavar="FILE",
           help="drop SNPs in the regions of FILE (chr start end, 1-based inclusive)"),
]
SPEC = CommandSpec(prog="bayesmix munge", description=__doc__, analyses={"munge": "munge"},
                   options=OPTIONS, detect=lambda namespace: "munge")


def run(invocation, run_log) -> int:
    import logging

    from bayesmix.errors import InputError
    from bayesmix.io.harmonise import harmonise
    from bayesmix.io.plink import reference_snps
    from bayesmix.io.sumstats import (fill_beta_se, read_sumstats, reading_notes,
                                      require_sample_size, write_ma, write_sumstats)

    log = logging.getLogger("bayesmix")
    args = invocation.args
    column_map = None
    if args.column:
        column_map = {}
        for item in args.column:
            name, sep, target = item.partition("=")
            if not sep or not name or not target:
                raise InputError(f"--column expects NAME=CANONICAL, got {item!r}")
            if name in column_map:
                raise InputError(f"--column maps {name} twice ({name}={column_map[name]}, "
                                 f"{item}); give one")
            column_map[name] = target
    sumstats = read_sumstats(args.sumstats, args.format, column_map, n=args.n)
    require_sample_size(sumstats, "pass --n N")
    log.info("read %d SNPs from %s (format %s)", len(sumstats), args.sumstats,
             sumstats.attrs["format"])
    for line in reading_notes(sumstats, args.sumstats):
        run_log.say(line)
    max_freq_diff = args.max_freq_diff
    if max_freq_diff is not None and sumstats["FREQ"].isna().all():
        max_freq_diff = None  # FREQ would be the reference's own: nothing to compare

    log.info("reading the reference %s (allele frequencies from the .bed when present)", args.ref)
    reference = reference_snps(args.ref, progress=True)
    log.info("harmonising to %d reference SNPs", len(reference))
    aligned, report = harmonise(
        sumstats, reference, match_by=args.match_by, keep_ambiguous=args.keep_ambiguous,
        min_info=args.min_info, min_maf=args.min_maf, max_freq_diff=max_freq_diff,
        impute_n=args.impute_n, exclude_mhc=args.exclude_mhc, exclude_regions=args.exclude_region,
        fill_freq=True,
    )
    if max_freq_diff is None and args.max_freq_diff is not None:
        report.notes.append("--max-freq-diff not applied: the summary statistics have no FREQ")
    warning = _few_matched(report, args.match_by)
    if aligned.empty:
        run_log.say(str(report))
        _say_warning(run_log, warning)
        raise InputError("no SNP survived harmonisation (see the table above)", args.sumstats)
    aligned, n_filled = fill_beta_se(aligned)
    if n_filled:
        report.notes.append(f"BETA/SE of {n_filled} SNPs derived from Z, N and FREQ for a "
                            "variance-1 trait (Zhu et al. 2016)")
    if aligned[["BETA", "SE"]].isna().any().any():
        raise InputError("cannot write .ma: BETA/SE unknown and no allele frequency to derive "
                         "them from Z; give a reference with a .bed or a file with FREQ",
                         args.sumstats)

    out = Path(args.out)
    write_ma(aligned, f"{out}.ma")
    write_sumstats(aligned, f"{out}.sumstats.gz")
    report.write_tsv(f"{out}.qc.tsv")
    if report.imputed_n is not None:
        from bayesmix.io.impute_n import write_imputed_n

        write_imputed_n(report.imputed_n, f"{out}.imputedPerSnpN")
    run_log.say(str(report))
    _say_warning(run_log, warning)
    log.info("wrote %s.ma, %s.sumstats.gz, %s.qc.tsv", out, out, out)
    return 0


def _few_matched(report, match_by: str) -> str | None:
    """A warning when fewer than half of the SNPs that could match do match the reference:
    of the statistics' SNPs left before the reference look-up, or of the reference's SNPs
    when it has fewer (a reference of HapMap3 SNPs for a GWAS of imputed SNPs is fine)."""
    table = report.table().set_index("rule")
    if "absent from the reference" not in table.index:
        return None
    dropped, matched = table.loc["absent from the reference", ["dropped", "remaining"]]
    could = min(int(dropped + matched), report.n_reference)
    if not could or matched * 2 >= could:
        return None
    advice = {"snp": "SNP id: do the statistics and the reference use the same kind of ids "
                     "(rs ids, CHR:BP, ...)? With positions on the reference's genome build, "
                     "try --match-by chrpos",
              "chrpos": "CHR:BP: are the statistics and the reference on the same genome "
                        "build? Lift the positions over, or match by id (--match-by snp)"}
    return (f"only {int(matched)} of {int(dropped + matched)} SNPs matched a reference SNP "
            f"({report.n_reference} in the reference) by {advice[match_by]}")


def _say_warning(run_log, warning: str | None) -> None:
    if warning is not None:
        run_log.say(f"warning: {warning}")
