"""convzoo.viz.report and ``convzoo report``: a self-contained page with the engine's numbers."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from convzoo.cli.main import main
from convzoo.viz.report import ReportConfig, report, stage_arithmetic
from convzoo.viz.sections import SECTION_NAMES, section

SMALL_VARIANTS = ("transposed", "depthwise", "wavenet")  # the conftest fixture's


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def test_small_report_is_self_contained(small_report):
    result, steps = small_report
    text = result.path.read_text(encoding="utf-8")
    tags = _tags(text)
    names = {t for t, _ in tags}
    assert "link" not in names and "iframe" not in names
    scripts = [a for t, a in tags if t == "script"]
    assert scripts and all("src" not in a for a in scripts)  # inline only: the player
    assert text.count('class="cz-player"') == result.players == 4  # transposed has two
    images = [a["src"] for t, a in tags if t == "img"]
    assert len(images) == result.images > 0
    assert all(src.startswith(("data:image/gif;base64,", "data:image/png;base64,",
                               "data:image/svg+xml;base64,")) for src in images)
    assert not re.search(r"(src|href)=['\"](https?:|//)", text)  # nothing fetched
    sections = [a["id"] for t, a in tags if t == "section"]
    assert sections == [*SMALL_VARIANTS, "comparison", "sources"]
    assert result.bytes == result.path.stat().st_size
    assert result.sections == SMALL_VARIANTS
    assert steps[0] == "measuring compare (upsample)" and "drawing wavenet" in steps


def test_small_report_numbers_are_compares(small_report):
    result, _ = small_report
    text = result.path.read_text(encoding="utf-8")
    comp = result.comparisons["upsample"]
    assert set(result.comparisons) == {"upsample"}  # no same-resolution variant asked for
    # compare's own table serves (every digit, spreads and noise marks): each of its cells,
    # measured latencies included, is a cell of the page
    (spec,) = comp.table_specs(wide=True)
    for row in spec.rows:
        for cell in row:
            assert f">{html.escape(cell)}</td>" in text, cell
    assert "±" in text and all(v.forward_ms is not None for v in comp.variants)
    assert "every same-resolution variant" not in text  # that table was not asked for
    # the depthwise section's arithmetic: 32 channels, 3x3, 32x32 input
    assert "C_out*(C_in/g)*prod(k) + bias = 32*(32/32)*3*3 + 32 = 320" in text
    assert section("depthwise").purpose.split(":")[0] in text


def test_stage_arithmetic_follows_each_stage():
    stages = stage_arithmetic(section("separable").layer(), section("separable").shape)
    assert [s for s, _ in stages] == ["depthwise on input 1x32x32x32",
                                      "pointwise on input 1x32x32x32"]
    assert stages[1][1].splitlines()[-1] == (
        "MACs = N*C_out*prod(out)*(C_in/g)*prod(k) = 1*64*32*32*(32/1)*1*1 = 2097152")
    wavenet = stage_arithmetic(section("wavenet").layer(), section("wavenet").shape)
    assert len(wavenet) == 4 and all(t.startswith("out[0] = ") and "= 1024" in t.splitlines()[0]
                                     for _, t in wavenet)


@pytest.mark.parametrize("kwargs, message", [
    (dict(variants=("nope",)), "`variants` entry (='nope') must be one of: conv, dilated"),
    (dict(variants=("dilatd",)), "`variants` entry (='dilatd') is not a report section; did "
                                 "you mean 'dilated'? Valid: conv, dilated"),
    (dict(variants=()), "`variants` (=()) must name at least one of conv"),
    (dict(repeats=0), "`repeats` (=0) must be an int >= 1"),
    (dict(max_frames=1), "`max_frames` (=1) must be an int >= 2"),
])
def test_config_errors_are_pinned(kwargs, message):
    with pytest.raises(ValueError) as e:
        ReportConfig(**kwargs)
    assert str(e.value).startswith(message)


def test_report_path_must_be_html(tmp_path):
    with pytest.raises(ValueError, match=r"`path` \(=.*r\.txt'\) must end in .html"):
        report(tmp_path / "r.txt", ReportConfig(variants=("pointwise",)))


def test_every_section_is_reachable():
    from convzoo.arithmetic import Variant

    assert SECTION_NAMES[0] == "conv" and len(set(SECTION_NAMES)) == len(SECTION_NAMES)
    assert all(Variant(n) for n in SECTION_NAMES)  # the one vocabulary
    assert section("standard").name == "conv" and section("grouped").name == "group"
    assert ReportConfig(variants=("standard", "atrous")).variants == ("conv", "dilated")
    for name in SECTION_NAMES:
        s = section(name)
        assert s.animations and len(s.purpose) > 100
        assert s.table in ("same", "upsample", "extra")


def test_cli_report(tmp_path, capsys):
    out = tmp_path / "r.html"
    code = main(["report", "-o", str(out), "--variants", "pointwise", "--repeats", "1",
                 "--max-frames", "4", "--no-figures"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "1 variants" in printed
    assert '<section id="pointwise">' in out.read_text(encoding="utf-8")
    assert main(["report", "-o", str(out), "--variants", "bogus"]) == 2
    assert "`variants` entry (='bogus') must be one of: " in capsys.readouterr().err


def test_the_report_names_the_articles_by_title(small_report):
    """The articles of each section, by title (original and English), from the one table the
    tour and the playground read; listed at the end with their sources."""
    import html

    from convzoo.tour.articles import ARTICLES, articles_on

    text = html.unescape(small_report[0].path.read_text(encoding="utf-8"))
    for name in SMALL_VARIANTS:
        body = text.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]
        cites = [a.cite() for a in articles_on(name)]
        assert ("Explained in: " + "; ".join(cites) + ".") in re.sub(r"<[^>]+>", "", body) \
            if cites else "Not in the seed articles" in body
    assert articles_on("depthwise") and articles_on("wavenet")
    sources = text.split('<section id="sources">', 1)[1]
    for a in ARTICLES:
        assert f'<li id="source-{a.seed}">{a.cite()}, {a.source}</li>' in sources
    for m in re.finditer(r"seed \d{3}", text):  # never a bare "seed 000": after its title
        assert text[m.start() - 2:m.start()] == "; ", text[m.start() - 80:m.end()]


def test_numbers_table_keeps_the_baseline_when_it_is_the_only_row():
    from convzoo.analysis import compare
    from convzoo.viz.report import _numbers_table

    comp = compare(4, 8, 3, (8, 8), measure=False)
    table = _numbers_table(section("conv"), {"same": comp}, {})
    assert table.count("<tr>") == 2 and ">conv</td>" in table  # header + the row
    table = _numbers_table(section("group"), {"same": comp}, {})
    assert table.count("<tr>") == 4  # header, the baseline, g=2, g=4


def test_no_internal_names_in_the_text():
    from convzoo.viz.report import readable_name

    for name in SECTION_NAMES:
        s = section(name)
        for label, text in stage_arithmetic(s.layer(), s.shape):
            assert not re.search(r"[a-z_]+\.\d", label + text), label
    assert readable_name("branches.2.conv") == "branch 3 conv"


def test_cli_constants_are_the_animation_ones():
    """cli/animate.py keeps copies so that ``--help`` imports no drawing code."""
    from convzoo.arithmetic.variants import Variant
    from convzoo.cli.animate import MAX_FRAMES as CLI_MAX_FRAMES
    from convzoo.cli.animate import MODES as CLI_MODES
    from convzoo.viz.animate import KINDS, MAX_FRAMES, MODES

    assert (CLI_MODES, CLI_MAX_FRAMES) == (MODES, MAX_FRAMES)
    assert KINDS == tuple(v.value for v in Variant)


def test_max_frames_default_is_the_animation_limit():
    from convzoo.cli.report import FRAME_LIMIT
    from convzoo.viz.animate import FRAME_LIMIT as LIMIT

    assert FRAME_LIMIT == LIMIT == ReportConfig().max_frames


@pytest.mark.slow
def test_full_report_under_a_minute(tmp_path):
    result = report(tmp_path / "full.html")
    assert result.sections == SECTION_NAMES
    assert result.seconds < 60  # the brief's budget for this machine
    text = result.path.read_text(encoding="utf-8")
    assert all(f'<section id="{n}">' in text for n in SECTION_NAMES)


def test_no_internal_names_anywhere_in_the_page(small_report):
    import base64
    import html as html_lib

    result, _ = small_report
    page = result.path.read_text(encoding="utf-8")
    svgs = [base64.b64decode(m).decode() for m in
            re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", page)]
    body = re.sub(r"data:[^\"']+", "", re.sub(r"<script>.*?</script>", "", page, flags=re.S))
    words = [html_lib.unescape(re.sub(r"<[^>]+>", " ", part)) for part in [body, *svgs]]
    words += re.findall(r'\["text",[^\]]*?,"((?:[^"\\]|\\.)*)",\d+,"#', page)  # the players
    text = " ".join(words)
    assert "computing y[" in text  # the players' captions are part of what is checked
    assert not re.search(r"\b[a-z_]+\.\d+\b", text) and "rf_network" not in text
