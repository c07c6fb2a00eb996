"""Small real-data subset shipped with the package for the demo, examples and tests.

1000 Genomes Phase 3, 503 European-ancestry individuals, the first 10,000 HapMap3 SNPs of
chromosome 21 and of chromosome 22 (PLINK 1 binary, A1 = column 5 of the .bim is counted).
The .bim carries no genetic map (cM column 0). Cite The 1000 Genomes Project Consortium,
Nature 526:68-74 (2015).
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
CHROMOSOMES = ("21", "22")


def example_bfile(chrom: str | int = 22) -> Path:
    """PLINK prefix (no extension) of the shipped subset of chromosome ``chrom`` (21 or 22)."""
    chrom = str(chrom)
    if chrom not in CHROMOSOMES:
        raise ValueError(f"shipped genotypes cover chromosomes {', '.join(CHROMOSOMES)}, not {chrom}")
    return DATA_DIR / f"g1000_eur_chr{chrom}_sub"
