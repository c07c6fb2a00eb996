"""One declaration of every command-line option, with the analyses it applies to.

A command (``bayesmix-gctb``, a ``bayesmix-mixer`` or ``bayesmix`` subcommand) is a
:class:`CommandSpec`: its analyses (e.g. ``bayes-R``, ``sbayes-C``, ``make-sparse-ldm``), a
rule that tells from the given options which analysis was asked for, and its
:class:`Option` list. Each option says which analyses it applies to, which need it, what kind
of value it takes (input files are checked to exist before any work), and whether it changes
the results (then it enters checkpoint fingerprints).

:func:`parse` turns an argv into an :class:`Invocation`. It refuses, with a message naming
the option and the analysis:

- two analyses at once, or none;
- an option given to an analysis it does not apply to;
- a missing required option, an option without the option it needs (``requires``), or two
  options that exclude each other (``conflicts``);
- an input file or directory that does not exist.

So every option a command accepts is one the analysis uses; ``tests/test_cli_options.py``
walks every (command, analysis, option) of these declarations and checks that each accepted
option changes the analysis and each other one is refused.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bayesmix.errors import InputError

#: option roles: ``setting`` changes the results (and enters fingerprints); ``runtime``
#: changes speed, display or which outputs are written, not the numbers; ``output`` is the
#: output location; ``selector`` picks the analysis.
ROLES = ("setting", "runtime", "output", "selector")

#: input kinds checked before any work: ``file`` (a file), ``plink`` (PREFIX.bed/.bim/.fam),
#: ``ld`` (GCTB PREFIX.ldm.TYPE files or an LD folder), ``dir`` (a folder), ``list`` (a file
#: listing LD matrices, one per line), ``template`` (a path with ``@`` for the chromosome:
#: checked when the chromosomes are known)
INPUT_KINDS = ("file", "plink", "ld", "dir", "list", "template")


@dataclass(frozen=True)
class Option:
    """One command-line option.

    flags : option strings (``("--bfile",)``) or one positional name (``("action",)``).
    help : what the option does, in the terms of the analyses it applies to.
    applies : names of the analyses that use it (every other analysis refuses it).
    default : value when not given (for the analyses it applies to); a dict gives one
        value per analysis.
    required : analyses that cannot run without it.
    input : kind of input path (see :data:`INPUT_KINDS`), checked before any work.
    role : see :data:`ROLES`.
    requires : dests of options that must also be given when this one is (in the analyses
        of ``requires_in``; all analyses when empty).
    conflicts : dests of options that must not be given with this one.
    refused : a reason: the option is known (e.g. from GCTB or MiXeR) but not supported, and
        giving it is an error that says why (``applies`` is then empty).
    group : heading in ``--help``.
    argparse : further ``add_argument`` keywords (type, choices, action, nargs, metavar, dest).
    """

    flags: tuple
    help: str
    applies: frozenset
    default: object = None
    required: frozenset = frozenset()
    input: str | None = None
    role: str = "setting"
    requires: tuple = ()
    conflicts: tuple = ()
    group: str = "options"
    argparse: dict = field(default_factory=dict)
    requires_in: frozenset = frozenset()
    refused: str | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"{self.flags[0]}: role {self.role!r} not in {ROLES}")
        if self.input is not None and self.input not in INPUT_KINDS:
            raise ValueError(f"{self.flags[0]}: input kind {self.input!r} not in {INPUT_KINDS}")
        unknown = set(self.required) - set(self.applies)
        if unknown:
            raise ValueError(f"{self.flags[0]}: required by {unknown} but does not apply there")

    def default_for(self, analysis: str):
        return self.default.get(analysis) if isinstance(self.default, dict) else self.default

    @property
    def positional(self) -> bool:
        return not self.flags[0].startswith("-")

    @property
    def dest(self) -> str:
        if "dest" in self.argparse:
            return self.argparse["dest"]
        if self.positional:
            return self.flags[0]
        long = next((f for f in self.flags if f.startswith("--")), self.flags[0])
        return long.lstrip("-").replace("-", "_")

    @property
    def name(self) -> str:
        """The flag users type (``--bfile``), or the positional's name."""
        return self.flags[0] if self.positional else next(
            (f for f in self.flags if f.startswith("--")), self.flags[0])


def option(*flags, help: str, applies, default=None, required=(), input=None, role="setting",
           requires=(), conflicts=(), group="options", requires_in=(),
           **argparse_kwargs) -> Option:
    """Shorthand for :class:`Option` (``applies`` and ``required`` take any iterable)."""
    return Option(tuple(flags), help, frozenset(applies), default, frozenset(required), input,
                  role, tuple(requires), tuple(conflicts), group, argparse_kwargs,
                  frozenset(requires_in))


def dask_options(applies, group="options", pieces=None) -> list[Option]:
    """``--cluster local:N``, ``--dask-scheduler ADDRESS`` and ``--pieces N``: the command's
    independent work as Dask tasks (:mod:`bayesmix.distributed`; LD row pieces, MCMC chains,
    traits), with the serial run's results (:func:`bayesmix.cli.common.dask_client` reads
    them). ``pieces``: the analyses that build LD in row pieces (default: all of
    ``applies``); ``--pieces`` is refused elsewhere."""
    pieces = applies if pieces is None else pieces
    return [
        option("--cluster", applies=applies, role="runtime", conflicts=("dask_scheduler",),
               group=group, metavar="local:N",
               help="run the command's independent pieces of work (LD row pieces, MCMC "
                    "chains, traits; docs/scale.md) as tasks on N local Dask worker "
                    "processes, with the serial run's results"),
        option("--dask-scheduler", applies=applies, role="runtime", conflicts=("cluster",),
               group=group, metavar="ADDRESS",
               help="the same on the workers of a running Dask scheduler (e.g. "
                    "dask-jobqueue's SLURMCluster; shared file system)"),
        option("--pieces", applies=pieces, role="runtime", type=positive_int, group=group,
               help="LD row pieces (Dask tasks) with --cluster/--dask-scheduler (default 4 "
                    "per worker)"),
    ]


def unsupported(*flags, reason: str, takes_value: bool = True, group="options") -> Option:
    """An option users know from GCTB or MiXeR that bayesmix refuses, saying why."""
    kwargs = {"metavar": "X"} if takes_value else {"action": "store_true"}
    return Option(tuple(flags), f"not supported: {reason}", frozenset(), role="runtime",
                  group=group, argparse=kwargs, refused=reason)


@dataclass
class CommandSpec:
    """A command: its analyses, the rule that picks one, and its options.

    analyses : analysis name -> label shown to users (e.g. ``"sbayes-R": "--sbayes R"``).
    detect : the parsed namespace as a dict (only given options; a subcommand's name under
        ``"command"``) -> analysis name; raises :class:`InputError` when none or several
        analyses are asked for.
    log_option : dest of the output prefix whose ``.log`` records the run (None: no log).
    """

    prog: str
    description: str
    analyses: dict
    options: list
    detect: Callable[[dict], str]
    log_option: str | None = "out"
    epilog: str | None = None

    def __post_init__(self):
        dests = [o.dest for o in self.options]
        duplicated = {d for d in dests if dests.count(d) > 1}
        if duplicated:
            raise ValueError(f"{self.prog}: options declared twice: {sorted(duplicated)}")
        for opt in self.options:
            unknown = set(opt.applies) - set(self.analyses)
            if unknown:
                raise ValueError(f"{self.prog} {opt.name}: unknown analyses {sorted(unknown)}")

    def option(self, dest: str) -> Option:
        for opt in self.options:
            if opt.dest == dest:
                return opt
        raise KeyError(dest)

    def label(self, analysis: str) -> str:
        return self.analyses[analysis]

    def add_to(self, parser: argparse.ArgumentParser, *, analysis: str | None = None) -> None:
        """Add every option to ``parser`` (defaults suppressed, so :func:`parse` sees what was
        given). With ``analysis``, options of other analyses are hidden from ``--help``."""
        groups = {}
        for opt in self.options:
            group = groups.get(opt.group)
            if group is None:
                group = groups[opt.group] = parser.add_argument_group(opt.group)
            kwargs = dict(opt.argparse)
            kwargs.setdefault("default", argparse.SUPPRESS)
            shown = analysis is None or analysis in opt.applies
            help_text = opt.help + _applies_note(self, opt) if shown else argparse.SUPPRESS
            default = opt.default_for(analysis) if analysis else opt.default
            if default is not None and shown and kwargs.get("action") not in (
                    "store_true", "store_false", "store_const"):
                help_text += (f" [default: {_show(default)}]" if not isinstance(default, dict)
                              else " [default: " + "; ".join(
                                  f"{self.analyses[a]} {_show(v)}" for a, v in default.items())
                              + "]")
            if opt.positional:
                kwargs.pop("dest", None)
                group.add_argument(opt.flags[0], help=help_text, **kwargs)
            else:
                group.add_argument(*opt.flags, help=help_text, **kwargs)


def _show(value) -> str:
    if isinstance(value, (list, tuple)) and not isinstance(value, SnpRange):
        return ",".join(str(v) for v in value)
    return str(value)


def _applies_note(spec: CommandSpec, opt: Option) -> str:
    if not opt.applies or set(opt.applies) == set(spec.analyses) or len(spec.analyses) == 1:
        return ""
    return f" ({describe_analyses(spec, opt.applies)})"


def describe_analyses(spec: CommandSpec, names) -> str:
    """``--bayes B/C/S``-style summary of a set of analyses, in declaration order."""
    labels = [spec.analyses[a] for a in spec.analyses if a in set(names)]
    merged, seen = [], {}
    for label in labels:  # "--bayes B", "--bayes C" -> "--bayes B/C"
        head, _, tail = label.rpartition(" ")
        if head and head in seen:
            merged[seen[head]] += f"/{tail}"
        else:
            if head:
                seen[head] = len(merged)
            merged.append(label)
    return ", ".join(merged)


@dataclass
class Invocation:
    """A parsed command line: the analysis, every applicable option's value, what was given.

    args : argparse-like namespace; options that do not apply are None.
    given : dests the user typed (the rest hold defaults).
    argv : the command line as typed (echoed in logs).
    """

    spec: CommandSpec
    analysis: str
    args: argparse.Namespace
    given: frozenset
    argv: list

    @property
    def label(self) -> str:
        return self.spec.label(self.analysis)

    def applicable(self) -> list[Option]:
        return [o for o in self.spec.options if self.analysis in o.applies]

    def record(self) -> dict:
        """Every applicable option's value by its flag (for results files that echo them)."""
        from bayesmix.io.files import json_types

        return {opt.name: json_types(getattr(self.args, opt.dest)) for opt in self.applicable()}

    def fingerprint(self) -> dict[str, str]:
        """What the results depend on, for checkpoints: the analysis and each applicable
        ``setting`` option's value, input files by content
        (:func:`bayesmix.io.digest.options_fingerprint`; a list file's entries and a
        ``@`` template's chromosome files too). Output and runtime options are left out."""
        from bayesmix.io.digest import options_fingerprint

        options, files = {"analysis": self.label}, []
        for opt in self.applicable():
            value = getattr(self.args, opt.dest)
            if opt.role != "setting" or value is None:
                continue
            if opt.input == "template":
                matches = sorted(glob.glob(glob.escape(str(value)).replace("@", "*")))
                if not matches:  # the loader names the missing chromosome file
                    options[opt.name] = str(value)
                    continue
                value = matches
            elif opt.input == "list":
                from bayesmix.ld.open import read_ld_list

                options[f"{opt.name} entries"] = read_ld_list(value)
                files.append(f"{opt.name} entries")
            if opt.input is not None:
                files.append(opt.name)
            options[opt.name] = value if opt.input else _show(value)
        return options_fingerprint(options, files=files)


def parse(spec: CommandSpec, argv, parser: argparse.ArgumentParser | None = None,
          namespace: argparse.Namespace | None = None) -> Invocation:
    """Parse ``argv`` for ``spec`` and validate it (see the module docstring).

    ``namespace`` may hold an already parsed command line (e.g. a subcommand's); argparse
    errors (an unknown flag, a value of the wrong type) exit with status 2 as usual.
    """
    argv = list(argv)
    if namespace is None:
        parser = parser or build_parser(spec)
        namespace = parser.parse_args(argv)
    known = {o.dest for o in spec.options}
    given = {k: v for k, v in vars(namespace).items() if k in known}
    analysis = spec.detect(vars(namespace))
    label = spec.label(analysis)
    for dest in given:
        opt = spec.option(dest)
        if opt.refused is not None:
            raise InputError(f"{opt.name} is not supported by {spec.prog}: {opt.refused}")
        if analysis not in opt.applies:
            where = describe_analyses(spec, opt.applies)
            raise InputError(f"{opt.name} does not apply to {label}"
                             + (f" (it applies to {where})" if where else ""))
    missing = [o.name for o in spec.options if analysis in o.required and o.dest not in given]
    if missing:
        raise InputError(f"{label} needs {' and '.join(missing)}")
    for dest in given:
        opt = spec.option(dest)
        for need in opt.requires if not opt.requires_in or analysis in opt.requires_in else ():
            if need not in given:
                raise InputError(f"{opt.name} needs {spec.option(need).name}")
        for other in opt.conflicts:
            if other in given:
                raise InputError(f"{opt.name} and {spec.option(other).name} exclude each other")
    values = {}
    for opt in spec.options:
        if analysis not in opt.applies:
            values[opt.dest] = None
        elif opt.dest in given:
            values[opt.dest] = given[opt.dest]
        elif opt.default is None and opt.argparse.get("action") == "store_true":
            values[opt.dest] = False
        else:
            values[opt.dest] = opt.default_for(analysis)
    args = argparse.Namespace(**values)
    for dest in given:
        _check_input(spec.option(dest), getattr(args, dest))
    return Invocation(spec, analysis, args, frozenset(given), argv)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose complaints (unknown option, bad value) are an
    :class:`InputError`, so every refused command line gets the same one-line error and exit
    code 1 (subcommand parsers inherit the class)."""

    def error(self, message):
        raise InputError(f"{self.prog}: {message} (see {self.prog} --help)")


def build_parser(spec: CommandSpec) -> argparse.ArgumentParser:
    from bayesmix import __version__

    parser = Parser(prog=spec.prog, description=spec.description,
                                     epilog=spec.epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"{spec.prog} (bayesmix) {__version__}")
    spec.add_to(parser)
    return parser


def steps_of(tokens, step_type, flag: str) -> list:
    """Each token through ``step_type`` (an argparse type); its complaint as an InputError."""
    try:
        return [step_type(token) for token in tokens]
    except argparse.ArgumentTypeError as exc:
        raise InputError(f"{flag}: {exc}") from None


def _check_input(opt: Option, value) -> None:
    """One-line errors for input paths that do not exist (layouts are checked by readers)."""
    if opt.input is None or value is None:
        return
    paths = value if isinstance(value, (list, tuple)) else [value]
    for path in paths:
        path = os.fspath(path)
        if opt.input in ("file", "list") and not Path(path).is_file():
            what = "is a directory, not a file" if Path(path).is_dir() else "file not found"
            raise InputError(f"{opt.name}: {what}", path)
        if opt.input == "dir" and not Path(path).is_dir():
            raise InputError(f"{opt.name}: directory not found", path)
        if opt.input == "plink":
            absent = [s for s in (".bed", ".bim", ".fam") if not Path(path + s).is_file()]
            if len(absent) == 3:
                raise InputError(f"{opt.name}: PLINK fileset not found (no .bed, .bim or "
                                 ".fam with this prefix)", path)
            if absent:
                raise InputError(f"{opt.name}: PLINK fileset incomplete, missing "
                                 f"{', '.join(path + s for s in absent)}", path)
        if opt.input == "ld" and not (Path(path).exists() or Path(f"{path}.bin").exists()
                                      or Path(f"{path}.info").exists()):
            raise InputError(f"{opt.name}: LD matrix not found (expected PREFIX.ldm.TYPE "
                             ".bin/.info files or an LD folder)", path)


# ------------------------------------------------------------------------- value parsers
def float_list(text: str) -> tuple[float, ...]:
    """``"0,0.01,0.1,1"`` -> (0.0, 0.01, 0.1, 1.0) (argparse type); finite numbers only."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers, got {text!r}")
    return values


def _bounded(kind, low=None, high=None, low_open=False, high_open=False):
    """An argparse type: ``kind`` (int or float) within the bounds given; a float must be a
    finite number (``nan``, ``inf`` are refused: NaN passes every comparison with a bound)."""
    def parse_value(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if low is not None and (value < low or (low_open and value == low)):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text}")
        if high is not None and (value > high or (high_open and value == high)):
            raise argparse.ArgumentTypeError(f"must be {'<' if high_open else '<='} {high}, got {text}")
        return value
    parse_value.__name__ = kind.__name__
    return parse_value


#: argparse types with ranges (the message names the bound)
positive_int = _bounded(int, 1)
nonnegative_int = _bounded(int, 0)
positive_float = _bounded(float, 0, low_open=True)
nonnegative_float = _bounded(float, 0)
probability = _bounded(float, 0, 1, low_open=True, high_open=True)
unit_interval = _bounded(float, 0, 1)
half_open_unit = _bounded(float, 0, 1, high_open=True)
finite_float = _bounded(float)
#: a minor allele frequency threshold (``--maf``): above 0.5 no SNP could pass
minor_allele_frequency = _bounded(float, 0, 0.5)


class SnpRange(tuple):
    """GCTB's ``--snp i-j``: rows i..j, 1-based inclusive; ``str`` gives ``"i-j"`` back."""

    def __str__(self) -> str:
        return f"{self[0]}-{self[1]}"


def snp_range(text: str) -> SnpRange:
    """``"i-j"`` -> SnpRange((i, j)) (argparse type)."""
    parts = text.split("-")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected i-j (e.g. 1-5000), not {text!r}")
    first, last = int(parts[0]), int(parts[1])
    if not 1 <= first <= last:
        raise argparse.ArgumentTypeError(f"{text}: expected 1 <= i <= j")
    return SnpRange((first, last))
