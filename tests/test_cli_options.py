"""Every option a command accepts changes the analysis, or is refused (issue 11).

The commands declare each option once with the analyses it applies to
(:mod:`bayesmix.cli.options`). This test walks every (command, analysis, option) of those
declarations:

- the option applies: the analysis runs twice on tiny data, without and with the option
  (:data:`PROBES`), and what the user gets (output files, normalised; the run log without
  the echoed command line and timings) must differ. Each base run is repeated first and must
  give exactly the same observation, so a difference is the option's doing. Options that
  only change speed or display are checked through the line the run logs about them;
  ``--robust`` (GCTB's flag for what is bayesmix's default) must equal the default run.
- the option does not apply: the command line is refused with a message naming the option
  and the analysis.
- options known from GCTB/MiXeR that bayesmix does not support are refused, saying why.

An option declared without an entry in :data:`PROBES` fails the test, so a new option cannot
slip in without a check that it does something.

The machinery (inputs, base runs, probes) is tests/cli_options_harness.py; the option-effect
runs of GCTB's and MiXeR's commands are in test_cli_options_{gctb,gctb_eigen,mixer,
mixer_native}.py (one file per part of :func:`cli_options_harness.part_of`, so that the two
xdist workers share them); this file runs those of the other commands.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_options_harness import (PARTS, SPECS, _parse, bases, combine, dask_scheduler,  # noqa: F401
                                 harness, option_effect_problems, option_tokens, part_of,
                                 probes, progs_in, world)

from bayesmix.cli import cmd_demo
from bayesmix.errors import InputError

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:Numba will use object mode")]

PART = "other"


def test_every_declared_option_has_a_probe(world):
    table = probes(world)
    missing = [(prog, opt.name) for prog, spec in SPECS.items() for opt in spec.options
               if opt.refused is None and (prog, opt.name) not in table]
    assert missing == [], f"options without an entry in PROBES: {missing}"
    stale = [key for key in table if key[0] not in SPECS
             or all(o.name != key[1] for o in SPECS[key[0]].options)]
    assert stale == [], f"PROBES entries for options that no longer exist: {stale}"
    base = bases(world)
    assert {(prog, a) for prog, spec in SPECS.items() for a in spec.analyses} == set(base)


def test_options_are_refused_where_they_do_not_apply(world):
    """Parse only (no run): every (analysis, option) outside the declaration is refused,
    naming the option and the analysis; unsupported GCTB/MiXeR options say why."""
    table, base = probes(world), bases(world)
    problems = []
    for prog, spec in SPECS.items():
        for opt in spec.options:
            if opt.positional or opt.role == "selector" or opt.role == "output":
                continue
            for analysis in spec.analyses:
                if opt.refused is not None:
                    tokens = [opt.name] + (["1"] if "action" not in opt.argparse else [])
                elif analysis in opt.applies:
                    continue
                else:
                    probe = table[prog, opt.name]
                    donor = next(iter(opt.applies))
                    tokens = option_tokens(probe, opt, donor)
                argv = combine(base[prog, analysis], tokens)
                try:
                    _parse(prog, spec, argv + ["--out", str(world["dir"] / "never")])
                except InputError as exc:
                    wants = (("is not supported",) if opt.refused else
                             ("does not apply", "one analysis per run"))  # or selects another
                    if opt.name not in str(exc) or not any(w in str(exc) for w in wants):
                        problems.append((prog, analysis, opt.name, str(exc)))
                else:
                    problems.append((prog, analysis, opt.name, "accepted"))
    assert problems == [], "\n".join(map(str, problems))


def test_every_analysis_is_in_a_test_file():
    """Each (command, analysis) belongs to a part whose test file runs it, naming the part."""
    here = Path(__file__).parent
    parts = {part_of(prog, a) for prog, spec in SPECS.items() for a in spec.analyses
             if prog != "bayesmix demo"}
    assert parts == set(PARTS)
    for part, suffix in PARTS.items():
        assert f'PART = "{part}"' in (here / f"test_cli_options{suffix}.py").read_text(), part


@pytest.mark.parametrize("prog", progs_in(PART))
def test_each_accepted_option_changes_the_analysis(world, harness, prog):
    """Runs every applicable (analysis, option) pair of ``prog`` against its base run."""
    problems = option_effect_problems(world, harness, prog, PART)
    assert problems == [], f"{prog}: {problems}"


def test_demo_options(world):
    """The demo's steps are commands (each covered above); its options reach them."""
    plan = cmd_demo.steps(str(world["dir"] / "demo_a"), 1)
    other = cmd_demo.steps(str(world["dir"] / "demo_b"), 2)
    assert all(str(world["dir"] / "demo_a") in " ".join(argv) for _, argv in plan)
    seeds = [argv[argv.index("--seed") + 1] for _, argv in plan if "--seed" in argv]
    assert seeds and set(seeds) == {"1"}
    assert [argv[argv.index("--seed") + 1] for _, argv in other if "--seed" in argv][0] == "2"
