"""LD engine: LD matrices from genotypes, the LDMatrix store, GCTB .ldm interop, LD scores, pruning weights.

Public entry points (imported lazily so that ``import bayesmix.ld`` does not load numba):

- :class:`LDMatrix` (``bayesmix.ld.store``): the CSR store; ``LDMatrix.load(path)``, ``.save``,
  ``.snps``, ``.to_scipy()``, ``.csr_arrays()``, ``.r2()``, ``.subset``, ``.iter_columns``.
- :func:`merge`: join row pieces built with ``snp_range``; :func:`combine_ld`: chromosomes
  (or blocks) as one block-diagonal matrix.
- :func:`open_ld`, :func:`open_ld_list`, :func:`open_reference_ld`, :func:`thin_to_sparse`
  (``bayesmix.ld.open``): any LD on disk (bayesmix folder, eigen folder, GCTB files) by path.
- :func:`build_ld` (``bayesmix.ld.compute``): LD of one chromosome from PLINK genotypes.
- :func:`read_gctb_ldm`, :func:`write_gctb_ldm`, :func:`write_ldm_text`,
  :func:`read_gctb_pieces`, :func:`merge_gctb_pieces`, :func:`read_gctb_list`
  (``bayesmix.ld.gctb``; GCTB files, GCTB's ``--snp i-j`` row pieces and ``--mldm`` lists).
- :func:`ld_scores` (``bayesmix.ld.scores``), :func:`random_pruning_weights` and
  :func:`random_pruned_subset` (MiXeR's ``snps``; ``bayesmix.ld.pruning``),
  :func:`match_snps` (``bayesmix.ld.check``).
- :func:`eigen_decompose_blocks`, :class:`EigenBlocks` (``bayesmix.ld.eigen``): truncated
  eigen-decompositions of LD blocks; :func:`open_eigen` (``bayesmix.ld.open``) opens them in
  either format; GCTB's block-LD folders (``bayesmix.ld.gctb_eigen``): :func:`read_gctb_eigen`,
  :func:`write_gctb_eigen`, :func:`make_block_ldm`, :func:`merge_block_ldm_info`,
  :func:`make_ldm_eigen`, :func:`make_ldm_eigen_from_genotypes`.
- :func:`ld_min_eigenvalue`, :func:`ridge_for_min_eigenvalue` (``bayesmix.ld.spectrum``): the
  smallest eigenvalue of an LD matrix and the ridge that lifts it;
  :func:`high_ld_filter` (``bayesmix.ld.pruning``): GCTB's ``--rsq`` filter;
  :func:`nearest_psd_blocks` (``bayesmix.ld.repair``): block-wise PSD repair of indefinite LD.
"""

from bayesmix.ld.store import LDMatrix, combine_ld, merge

_LAZY = {
    "build_ld": "bayesmix.ld.compute",
    "Window": "bayesmix.ld.compute",
    "read_gctb_ldm": "bayesmix.ld.gctb",
    "write_gctb_ldm": "bayesmix.ld.gctb",
    "write_ldm_text": "bayesmix.ld.gctb",
    "read_gctb_pieces": "bayesmix.ld.gctb",
    "merge_gctb_pieces": "bayesmix.ld.gctb",
    "read_gctb_list": "bayesmix.ld.gctb",
    "ld_scores": "bayesmix.ld.scores",
    "random_pruning_weights": "bayesmix.ld.pruning",
    "random_pruned_subset": "bayesmix.ld.pruning",
    "high_ld_filter": "bayesmix.ld.pruning",
    "ld_min_eigenvalue": "bayesmix.ld.spectrum",
    "ridge_for_min_eigenvalue": "bayesmix.ld.spectrum",
    "nearest_psd_blocks": "bayesmix.ld.repair",
    "match_snps": "bayesmix.ld.check",
    "EigenBlocks": "bayesmix.ld.eigen",
    "eigen_decompose_blocks": "bayesmix.ld.eigen",
    "ld_from_eigen_blocks": "bayesmix.ld.eigen",
    "read_gctb_eigen": "bayesmix.ld.gctb_eigen",
    "write_gctb_eigen": "bayesmix.ld.gctb_eigen",
    "make_block_ldm": "bayesmix.ld.gctb_eigen",
    "merge_block_ldm_info": "bayesmix.ld.gctb_eigen",
    "make_ldm_eigen": "bayesmix.ld.gctb_eigen",
    "make_ldm_eigen_from_genotypes": "bayesmix.ld.gctb_eigen",
    "open_eigen": "bayesmix.ld.open",
    "open_ld": "bayesmix.ld.open",
    "open_ld_list": "bayesmix.ld.open",
    "open_reference_ld": "bayesmix.ld.open",
    "thin_to_sparse": "bayesmix.ld.open",
}

__all__ = ["LDMatrix", "combine_ld", "merge", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bayesmix.ld' has no attribute {name!r}")
