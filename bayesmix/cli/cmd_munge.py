"""``bayesmix munge``: read GWAS summary statistics, harmonise them to a PLINK reference, write
``OUT.ma`` (GCTB/COJO), ``OUT.sumstats.gz`` (LDSC/MiXeR) and ``OUT.qc.tsv`` (SNPs dropped per
QC rule), and print the QC table."""

from __future__ import annotations

from pathlib import Path

HELP = "harmonise GWAS summary statistics to a PLINK reference and write .ma / .sumstats.gz"


def add_arguments(parser) -> None:
    parser.add_argument("--sumstats", required=True, metavar="FILE",
                        help="summary statistics (plain or gzip)")
    parser.add_argument("--format", default="auto",
                        choices=["auto", "ma", "ldsc", "mixer", "generic"],
                        help="input format (default: auto-detect from the header)")
    parser.add_argument("--column", action="append", default=[], metavar="NAME=CANONICAL",
                        help="explicit column map, e.g. --column pval=P (repeatable; implies generic)")
    parser.add_argument("--n", type=float, default=None, metavar="N",
                        help="sample size for SNPs without an N column/value")
    parser.add_argument("--ref", required=True, metavar="PREFIX",
                        help="PLINK reference PREFIX.bim (allele frequencies from PREFIX.bed when "
                             "present); '@' in PREFIX stands for the chromosome, as in MiXeR")
    parser.add_argument("--out", required=True, metavar="OUT", help="output prefix")
    parser.add_argument("--match-by", choices=["snp", "chrpos"], default="snp",
                        help="match SNPs to the reference by id or by CHR:BP (default snp)")
    parser.add_argument("--keep-ambiguous", action="store_true",
                        help="keep strand-ambiguous A/T and C/G SNPs")
    parser.add_argument("--min-info", type=float, default=None, metavar="X",
                        help="drop SNPs with INFO below X")
    parser.add_argument("--min-maf", type=float, default=None, metavar="X",
                        help="drop SNPs with MAF below X")
    parser.add_argument("--max-freq-diff", type=float, default=None, metavar="X",
                        help="drop SNPs whose allele frequency differs from the reference by more than X")
    parser.add_argument("--impute-n", action="store_true",
                        help="drop SNPs whose N is more than 3 SD from the median N (as GCTB)")
    parser.add_argument("--exclude-mhc", choices=["hg19", "hg38"], default=None, metavar="BUILD",
                        help="drop the MHC region of genome build hg19 or hg38")
    parser.add_argument("--exclude-region", default=None, metavar="FILE",
                        help="drop SNPs in the regions of FILE (chr start end, 1-based inclusive)")


def run(args) -> int:
    import logging

    from bayesmix.errors import InputError
    from bayesmix.io.harmonise import harmonise
    from bayesmix.io.plink import reference_snps
    from bayesmix.io.sumstats import fill_beta_se, read_sumstats, write_ma, write_sumstats

    log = logging.getLogger("bayesmix")
    column_map = None
    if args.column:
        column_map = {}
        for item in args.column:
            name, sep, target = item.partition("=")
            if not sep or not name or not target:
                raise InputError(f"--column expects NAME=CANONICAL, got {item!r}")
            column_map[name] = target
    sumstats = read_sumstats(args.sumstats, args.format, column_map, n=args.n)
    log.info("read %d SNPs from %s (format %s)", len(sumstats), args.sumstats,
             sumstats.attrs["format"])

    log.info("reading the reference %s (allele frequencies from the .bed when present)", args.ref)
    reference = reference_snps(args.ref, progress=True)
    log.info("harmonising to %d reference SNPs", len(reference))
    aligned, report = harmonise(
        sumstats, reference, match_by=args.match_by, keep_ambiguous=args.keep_ambiguous,
        min_info=args.min_info, min_maf=args.min_maf, max_freq_diff=args.max_freq_diff,
        impute_n=args.impute_n, exclude_mhc=args.exclude_mhc, exclude_regions=args.exclude_region,
        fill_freq=True,
    )
    if aligned.empty:
        print(report)
        raise InputError("no SNP survived harmonisation (see the table above)", args.sumstats)
    if aligned["N"].isna().all():
        raise InputError("no sample size: the file has no N column; pass --n", args.sumstats)
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
    print(report)
    log.info("wrote %s.ma, %s.sumstats.gz, %s.qc.tsv", out, out, out)
    return 0
