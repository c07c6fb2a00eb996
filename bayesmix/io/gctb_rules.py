"""Paths whose files are read with GCTB's rules (``bayesmix-gctb``'s list and region files).

No imports beyond the standard library: the command line's option table uses it.
"""

from __future__ import annotations


class GctbRules(str):
    """A path given to ``bayesmix-gctb`` whose file is read with GCTB's rules where they
    differ from bayesmix's own: a SNP list (``--extract``/``--exclude``) takes every
    whitespace-separated field as an id (GCTB reads it with ``in >> id``: ``rs1 rs2`` on one
    line lists two SNPs; :func:`bayesmix.io.plink.read_snp_list`), and a region file
    (``--exclude-region``) covers the positions strictly inside each region, start < bp <
    end (GCTB's ``Data::excludeRegion``; :func:`bayesmix.io.regions.read_regions`). A str,
    so it passes unchanged through every path argument, pickle and JSON to the reader."""


def gctb_rules(path) -> bool:
    """Whether ``path`` is to be read with GCTB's rules (:class:`GctbRules`)."""
    return isinstance(path, GctbRules)
