"""LD engine: LD matrices from genotypes, the LDMatrix store, GCTB .ldm interop, LD scores, pruning weights."""
