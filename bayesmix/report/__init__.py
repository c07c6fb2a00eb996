"""Reports: GCTB-format outputs and MiXeR-style JSON, as views of result objects."""
