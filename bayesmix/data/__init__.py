"""Small real-data subset shipped with the package for the demo, examples, docs and tests.

1000 Genomes Phase 3, 503 European-ancestry individuals, the first 10,000 HapMap3 SNPs of
chromosome 21 and of chromosome 22 (PLINK 1 binary, A1 = column 5 of the .bim is counted).
The .bim carries no genetic map (cM column 0). Cite The 1000 Genomes Project Consortium,
Nature 526:68-74 (2015).
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
CHROMOSOMES = ("21", "22")
PLINK_SUFFIXES = (".bed", ".bim", ".fam")


def example_bfile(chrom: str | int = 22) -> Path:
    """PLINK prefix (no extension) of the shipped subset of chromosome ``chrom`` (21 or 22)."""
    chrom = str(chrom)
    if chrom not in CHROMOSOMES:
        raise ValueError(f"shipped genotypes cover chromosomes {', '.join(CHROMOSOMES)}, not {chrom}")
    return DATA_DIR / f"g1000_eur_chr{chrom}_sub"


def copy_example_data(directory) -> list[Path]:
    """Copy the shipped filesets to ``directory`` as ``chr21.bed/.bim/.fam`` and
    ``chr22.bed/.bim/.fam`` (the short names the docs use); returns the PLINK prefixes written.

    ``directory`` is created if missing (its parent must exist); files already there under
    these names are replaced. Each file is written atomically.
    """
    import shutil

    from bayesmix.errors import InputError
    from bayesmix.io.files import atomic_path

    directory = Path(directory)
    if not directory.parent.is_dir():
        raise InputError(f"the directory {directory.parent} does not exist (create it first)",
                         directory)
    if directory.exists() and not directory.is_dir():
        raise InputError("exists and is not a directory", directory)
    directory.mkdir(exist_ok=True)
    prefixes = []
    for chrom in CHROMOSOMES:
        prefix = directory / f"chr{chrom}"
        for suffix in PLINK_SUFFIXES:
            with atomic_path(f"{prefix}{suffix}") as tmp:
                shutil.copyfile(f"{example_bfile(chrom)}{suffix}", tmp)
        prefixes.append(prefix)
    return prefixes
