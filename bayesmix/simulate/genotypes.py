"""Simulated genotypes with block LD, and PLINK 1 writers (through bed-reader).

Model: SNPs fall into consecutive LD blocks of ``block_size``; blocks are independent. Each
of an individual's two haplotypes carries, per block, a latent stationary Gaussian AR(1)
sequence u_1..u_k with lag-one correlation ``rho`` (corr(u_i, u_j) = rho^|i-j|); the haplotype
carries A1 at SNP j when u_j < Phi^-1(p_j), so P(A1) = p_j exactly. The genotype (A1 count)
is the sum of the two haplotypes, so Hardy-Weinberg equilibrium holds and the genotype
correlation of SNPs i, j in one block is r_ij = D_ij / sqrt(p_i q_i p_j q_j) with
D_ij = Phi_2(Phi^-1(p_i), Phi^-1(p_j); rho^|i-j|) - p_i p_j (Phi_2 the bivariate normal CDF).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import signal
from scipy.special import ndtri

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_path

MISSING_INT8 = -127


def iter_simulated_blocks(n: int, m: int, *, rng: np.random.Generator, freqs=None,
                          block_size: int = 100, rho: float = 0.9, maf_range=(0.05, 0.5)):
    """Yield ``(start, stop, block)``: int8 (n, stop - start) A1 counts, one LD block each.

    ``freqs`` are the A1 frequencies (default: uniform in ``maf_range``, A1 the minor or the
    major allele at random). Memory: two n x block_size float64 arrays at a time.
    """
    if n < 1 or m < 1 or block_size < 1:
        raise InputError("n, m and block_size must be positive")
    if not 0.0 <= rho < 1.0:
        raise InputError(f"rho must be in [0, 1), got {rho}")
    if freqs is None:
        low, high = maf_range
        if not 0.0 < low <= high <= 0.5:
            raise InputError(f"maf_range must satisfy 0 < low <= high <= 0.5, got {maf_range}")
        minor = rng.uniform(low, high, m)
        freqs = np.where(rng.random(m) < 0.5, minor, 1.0 - minor)
    freqs = np.asarray(freqs, dtype=np.float64)
    if freqs.shape != (m,) or ((freqs < 0) | (freqs > 1)).any():
        raise InputError(f"freqs must be {m} A1 frequencies in [0, 1]")
    thresholds = ndtri(freqs)   # scipy.stats.norm.ppf
    innovation = np.sqrt(1.0 - rho**2)
    for start in range(0, m, block_size):
        stop = min(start + block_size, m)
        counts = np.zeros((n, stop - start), dtype=np.int8)
        for _ in range(2):
            noise = rng.standard_normal((n, stop - start))
            noise[:, 0] /= innovation
            # u_j = rho u_{j-1} + sqrt(1 - rho^2) e_j along the SNPs, u_1 = e_1 (stationary).
            latent = signal.lfilter([innovation], [1.0, -rho], noise, axis=1)
            counts += latent < thresholds[start:stop]
        yield start, stop, counts


def simulate_genotypes(n: int, m: int, *, rng: np.random.Generator, freqs=None,
                       block_size: int = 100, rho: float = 0.9, maf_range=(0.05, 0.5)) -> np.ndarray:
    """The whole (n, m) int8 matrix of A1 counts (see :func:`iter_simulated_blocks`)."""
    out = np.empty((n, m), dtype=np.int8)
    for start, stop, block in iter_simulated_blocks(n, m, rng=rng, freqs=freqs,
                                                    block_size=block_size, rho=rho,
                                                    maf_range=maf_range):
        out[:, start:stop] = block
    return out


def default_fam(n: int) -> pd.DataFrame:
    """Sample table for simulated people: fid = iid = ``ind<k>`` (1-based)."""
    ids = [f"ind{k}" for k in range(1, n + 1)]
    return pd.DataFrame({"fid": ids, "iid": ids})


def default_bim(m: int, chrom: str = "1", spacing_bp: int = 1000) -> pd.DataFrame:
    """SNP table for simulated SNPs: ``snp<k>`` on one chromosome, every ``spacing_bp``,
    alleles A1 = A, A2 = G (cm 0)."""
    return pd.DataFrame({"chr": str(chrom), "snp": [f"snp{k}" for k in range(1, m + 1)],
                         "cm": 0.0, "bp": spacing_bp * np.arange(1, m + 1, dtype=np.int64),
                         "a1": "A", "a2": "G"})


def write_bfile(prefix, genotypes, *, fam: pd.DataFrame | None = None,
                bim: pd.DataFrame | None = None) -> Path:
    """Write an (n, m) matrix of A1 counts (0/1/2; -127 or NaN missing) as PLINK 1 files.

    ``fam`` (columns fid, iid) and ``bim`` (chr, snp, cm, bp, a1, a2) default to
    :func:`default_fam` / :func:`default_bim`. The three files are written atomically.
    Returns the prefix.
    """
    genotypes = np.asarray(genotypes)
    n, m = genotypes.shape
    fam = default_fam(n) if fam is None else fam
    bim = default_bim(m) if bim is None else bim
    if len(fam) != n or len(bim) != m:
        raise InputError(f"{len(fam)} samples and {len(bim)} SNPs described for a "
                         f"{n} x {m} genotype matrix")
    with _atomic_bfile(prefix) as paths:
        from bed_reader import to_bed

        to_bed(paths["bed"], genotypes, properties=_properties(fam, bim),
               fam_filepath=paths["fam"], bim_filepath=paths["bim"], num_threads=1)
    return Path(prefix)


def simulate_bfile(prefix, n: int, m: int, *, rng: np.random.Generator, freqs=None,
                   block_size: int = 100, rho: float = 0.9, maf_range=(0.05, 0.5),
                   chrom: str = "1") -> Path:
    """Simulate genotypes block by block (:func:`iter_simulated_blocks`) straight into
    ``prefix.bed/.bim/.fam`` without holding the n x m matrix (e.g. 5,000 x 20,000)."""
    from bed_reader import create_bed

    fam, bim = default_fam(n), default_bim(m, chrom)
    with _atomic_bfile(prefix) as paths:
        with create_bed(paths["bed"], n, m, properties=_properties(fam, bim),
                        fam_location=paths["fam"], bim_location=paths["bim"]) as writer:
            for _, _, block in iter_simulated_blocks(n, m, rng=rng, freqs=freqs,
                                                     block_size=block_size, rho=rho,
                                                     maf_range=maf_range):
                for column in block.T:
                    writer.write(column)
    return Path(prefix)


@contextlib.contextmanager
def _atomic_bfile(prefix):
    """Temporary paths for the .bed/.bim/.fam of ``prefix``, moved into place together."""
    with contextlib.ExitStack() as stack:
        paths = {ext: stack.enter_context(atomic_path(f"{prefix}.{ext}"))
                 for ext in ("bed", "bim", "fam")}
        yield paths


def _properties(fam: pd.DataFrame, bim: pd.DataFrame) -> dict:
    return {"fid": fam["fid"].astype(str).to_numpy(), "iid": fam["iid"].astype(str).to_numpy(),
            "chromosome": bim["chr"].astype(str).to_numpy(), "sid": bim["snp"].to_numpy(),
            "cm_position": bim["cm"].to_numpy(dtype=np.float64),
            "bp_position": bim["bp"].to_numpy(dtype=np.int64),
            "allele_1": bim["a1"].to_numpy(), "allele_2": bim["a2"].to_numpy()}
