"""The trait list of ``--mgwas-summary LIST`` (bayesmix-gctb, SBayes on several traits).

One trait per line: its statistics file, optionally followed by the trait's name (default:
the file name without ``.gz`` and its extension, characters other than letters, digits and
``_.+-`` replaced by ``_``: :func:`default_name`). Blank lines and lines starting with ``#``
are skipped; relative file names are relative to the working directory, as GCTB reads
``--mldm`` lists. File names with spaces:

- a line that is, as a whole, the path of an existing file is that file (``my trait.ma``);
- a line with a tab holds tab-separated fields (``my trait.ma<TAB>height``), spaces inside
  them kept;
- a line starting with a quote is split as a shell would (``"my trait.ma" height``);
- any other line is split at whitespace (``height.ma height``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from bayesmix.errors import InputError

#: a trait name that can be part of an output file name
_TRAIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def trait_name(path) -> str:
    """A trait's name from its statistics file: the file name without ``.gz`` and then
    without its last extension (``height.ma.gz`` -> ``height``, ``bmi.2018.txt`` ->
    ``bmi.2018``)."""
    name = Path(str(path)).name
    if name.endswith(".gz"):
        name = name[:-3]
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


#: the advice of a refused line split at its spaces
_SPACES = ("for a file name with spaces, quote it (\"my trait.ma\" NAME) or put a tab between "
           "the file and the name")


def _fields(text: str, path, number: int) -> tuple[list[str], bool]:
    """The fields of one line of the list (module docstring) and whether they came from
    splitting it at its spaces."""
    text = text.strip()
    if Path(text).is_file():
        return [text], False
    if "\t" in text:
        return [field.strip() for field in text.split("\t") if field.strip()], False
    if text[0] in "\"'":
        try:
            return shlex.split(text), False
        except ValueError:
            raise InputError(f"unbalanced quotes in {text!r}", path, number) from None
    fields = text.split()
    return fields, len(fields) > 1


def default_name(file) -> str:
    """The trait name of ``file`` when the list gives none: :func:`trait_name`, with each run
    of characters other than letters, digits and ``_.+-`` replaced by ``_`` and none at its
    ends (``my trait.ma`` -> ``my_trait``, ``bmi (2018).ma`` -> ``bmi_2018``)."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", trait_name(file)).strip("_").lstrip(".+-")


def read_trait_list(path) -> list[tuple[str, str]]:
    """(name, statistics file) per line of a trait list (module docstring).

    Raises :class:`InputError` naming the line for a missing file (with the advice for names
    with spaces when the line was split at its spaces), a name that cannot be part of a file
    name, a repeated name (ignoring case) or an empty list.
    """
    from bayesmix.io.files import open_text

    traits, seen = [], {}
    with open_text(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields, split = _fields(line, path, number)
            advice = (f" (nor is the whole line, {line.strip()!r}, a file; {_SPACES})"
                      if split else "")
            if len(fields) > 2:
                raise InputError(f"expected a statistics file and optionally a trait name, "
                                 f"found {len(fields)} fields{advice}", path, number)
            file = fields[0]
            name = fields[1] if len(fields) == 2 else default_name(file)
            if not Path(file).is_file():
                raise InputError(f"no such statistics file: {file}{advice}", path, number)
            if not _TRAIT_NAME.match(name):
                raise InputError(f"trait name {name!r} cannot be part of an output file name "
                                 "(letters, digits and _.+- only, not starting with one of "
                                 "_.+-); give a name after the file name", path, number)
            if name.lower() in seen:   # (case-insensitive file systems: macOS, Windows)
                raise InputError(f"trait name {name!r} is also that of line "
                                 f"{seen[name.lower()]} (names are compared ignoring case): "
                                 "the outputs OUT.NAME.* would collide; give each trait its "
                                 "own name after the file name", path, number)
            seen[name.lower()] = number
            traits.append((name, file))
    if not traits:
        raise InputError("lists no statistics file", path)
    return traits
