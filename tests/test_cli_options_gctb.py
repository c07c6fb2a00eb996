"""Every option of bayesmix-gctb's analyses, except SBayes on eigen-decomposed LD, changes
the analysis (see test_cli_options.py; the machinery is tests/cli_options_harness.py). A
file of its own so that the two xdist workers share the option runs."""

from __future__ import annotations

import pytest
from cli_options_harness import (dask_scheduler, harness, option_effect_problems,  # noqa: F401
                                 progs_in, world)

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning"),
              pytest.mark.filterwarnings("ignore:Numba will use object mode")]

PART = "gctb"


@pytest.mark.parametrize("prog", progs_in(PART))
def test_each_accepted_option_changes_the_analysis(world, harness, prog):
    """Runs every applicable (analysis, option) pair of ``prog`` in this part against its
    base run."""
    problems = option_effect_problems(world, harness, prog, PART)
    assert problems == [], f"{prog}: {problems}"
