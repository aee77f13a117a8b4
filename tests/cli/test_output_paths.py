"""Output paths are checked before any work: one-line errors (exit 2), nothing rendered,
built or trained first (the expensive functions are replaced by ones that fail the test)."""

from __future__ import annotations

import pytest

from convzoo.cli.main import main
from convzoo.paths import check_output_dir, check_output_file


@pytest.fixture
def no_work(monkeypatch):
    """Rendering an animation or building the report fails the test."""
    from importlib import import_module

    def refuse(*args, **kwargs):
        raise AssertionError("the expensive work started before the path was checked")

    # import_module: the package convzoo.viz rebinds its attribute ``animate`` to the function
    monkeypatch.setattr(import_module("convzoo.viz.animate"), "animate", refuse)
    monkeypatch.setattr(import_module("convzoo.viz.report"), "report", refuse)


@pytest.mark.parametrize(("argv", "message"), [
    (["animate", "conv", "-o", "missing/x.gif"],
     "`--output` (='missing/x.gif') cannot be written: folder 'missing' does not exist"),
    (["report", "-o", "missing/r.html"],
     "`--output` (='missing/r.html') cannot be written: folder 'missing' does not exist"),
    (["report", "-o", "/etc/passwd/r.html"],
     "`--output` (='/etc/passwd/r.html') cannot be written: '/etc/passwd' is not a directory"),
    (["tour", "--report", "missing/r.html"],
     "`--report` (='missing/r.html') cannot be written: folder 'missing' does not exist"),
], ids=["animate", "report", "report-under-a-file", "tour"])
def test_bad_output_path_is_one_line_before_any_work(no_work, capsys, tmp_path, monkeypatch,
                                                     argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err == f"convzoo: error: {message}\n" and out == ""


def test_a_directory_is_not_an_output_file(no_work, capsys, tmp_path):
    assert main(["animate", "conv", "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"convzoo: error: `--output` (={str(tmp_path)!r}) is a directory; give a file name\n")


def test_checks_accept_writable_places(tmp_path):
    assert check_output_file(tmp_path / "a.gif", "-o") == tmp_path / "a.gif"
    assert check_output_dir(tmp_path / "new" / "deeper", "--out") == tmp_path / "new" / "deeper"
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"'.*file' is not a directory$"):
        check_output_dir(tmp_path / "file" / "sub", "--out")
