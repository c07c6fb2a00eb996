"""Command-line front ends: ``bayesmix`` (own subcommands), ``bayesmix-gctb`` (GCTB's flags)
and ``bayesmix-mixer`` (MiXeR's subcommands and flags)."""
