"""Output paths checked before any work: one-line ``ValueError``s instead of a traceback after
the expensive part (a trained epoch, a rendered animation, a built report).

At the bottom of the package (no torch): the CLI (:mod:`convzoo.cli.output`) and the library
(``convzoo.train``) call the same checks.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["check_output_dir", "check_output_file", "check_run_dir"]


def _writable_dir(folder: Path, argument: str, value: str) -> None:
    if not folder.is_dir():
        raise ValueError(f"`{argument}` (={value!r}) cannot be written: '{folder}' is not a "
                         "directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"`{argument}` (={value!r}) cannot be written: no permission to write "
                         f"in '{folder}'")


def check_output_file(path: str | os.PathLike, argument: str) -> Path:
    """``path`` as a Path if a file can be written there: its folder exists (it is not
    created) and is writable, and ``path`` is not a directory; ValueError naming
    ``argument`` otherwise.

    >>> check_output_file("missing/x.gif", "-o")
    Traceback (most recent call last):
    ...
    ValueError: `-o` (='missing/x.gif') cannot be written: folder 'missing' does not exist
    """
    value = os.fspath(path)
    p = Path(value).expanduser()
    if p.is_dir():
        raise ValueError(f"`{argument}` (={value!r}) is a directory; give a file name")
    folder = p.parent
    if not folder.exists():
        raise ValueError(f"`{argument}` (={value!r}) cannot be written: folder '{folder}' does "
                         "not exist")
    _writable_dir(folder, argument, value)
    return p


def check_output_dir(path: str | os.PathLike, argument: str) -> Path:
    """``path`` as a Path if a directory can be used or created there: an existing one must be
    a writable directory; otherwise its nearest existing ancestor must be (the missing
    folders are created when the first file is written). ValueError naming ``argument``.

    >>> check_output_dir("/etc/passwd/x", "--out")
    Traceback (most recent call last):
    ...
    ValueError: `--out` (='/etc/passwd/x') cannot be written: '/etc/passwd' is not a directory
    """
    value = os.fspath(path)
    p = Path(value).expanduser()
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    _writable_dir(existing if existing.exists() else Path("."), argument, value)
    return p


def check_run_dir(
    path: str | os.PathLike, argument: str, resume: bool, force: bool,
    flags: tuple[str, str] = ("resume", "force"),
) -> Path:
    """:func:`check_output_dir`, and refuse a directory that already holds files (a previous
    run's checkpoint and metrics would be overwritten) unless ``resume`` (continue that run)
    or ``force`` (start afresh over it); ``flags`` names those two in the message.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "last.pt").write_bytes(b"")
    ...     check_run_dir(d, "out", resume=False, force=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `out` (='...') already holds a run (last.pt); pass resume to continue it or \
force to overwrite it
    """
    p = check_output_dir(path, argument)
    if p.is_dir() and not (resume or force):
        held = sorted(child.name for child in p.iterdir())
        if held:
            shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
            raise ValueError(f"`{argument}` (={os.fspath(path)!r}) already holds a run "
                             f"({shown}); pass {flags[0]} to continue it or {flags[1]} to "
                             "overwrite it")
    return p
