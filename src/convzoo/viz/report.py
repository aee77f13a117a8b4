"""``report(...)``: one self-contained HTML page explaining and measuring every variant.

A section per variant (:mod:`convzoo.viz.sections`): its animation(s) in the one player
(play, pause, step, scrub; every frame; :func:`convzoo.viz.animate.player_html`), what it is
for, its arithmetic (output size, params and MACs formulas of each conv stage, from
:class:`~convzoo.spec.ConvSpec`), its numbers from :func:`convzoo.compare` measured on this
machine; then the figures (channel connectivity, checkerboard artifacts, receptive-field
growth, theoretical vs effective field, params/MACs/latency bars) and the comparison tables.
Every image is inlined as a ``data:`` URI, the CSS and the player's script are inline: the
file needs no network and no other file.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from convzoo.analysis import COMPARE_CONVENTIONS, Comparison, compare, summary
from convzoo.analysis.html import tables_html
from convzoo.analysis.timing import interleaved
from convzoo.viz.animate import FRAME_LIMIT, animate, player_html, player_script
from convzoo.viz.sections import CHANNELS, SECTION_NAMES, SIZE, Section, section
from convzoo.viz.svg import data_uri, png_bytes, svg_uri

__all__ = ["ReportConfig", "ReportResult", "report", "stage_arithmetic", "CSS"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0 auto;
max-width:1100px;padding:0 24px 48px;color:#222;line-height:1.45}
h1{margin-top:24px}h2{border-bottom:2px solid #4e79a7;padding-bottom:4px;margin-top:40px}
nav a{margin-right:10px}figure{margin:12px 0}figcaption{font-size:13px;color:#555}
img{max-width:100%;height:auto;border:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eef3f8}
td:first-child,th:first-child{text-align:left}
pre{background:#f6f8fa;padding:8px 12px;overflow-x:auto;font-size:12px}
.note{font-size:13px;color:#555}
.cz-player{margin:12px 0}.cz-player button{font-size:14px;padding:2px 10px}
"""


@dataclass(frozen=True)
class ReportConfig:
    """What :func:`report` draws and measures.

    Attributes:
        variants: section names (default all of :data:`~convzoo.viz.sections.SECTION_NAMES`).
        repeats: timed repeats of ``compare`` (default 5); warmup: untimed rounds (default 2).
        max_frames: at most this many frames per animation (default :data:`FRAME_LIMIT`:
            every frame of every section's animation).
        figures: also draw the figures and the bars (default True).
        title: the page title.
    """

    variants: tuple[str, ...] = SECTION_NAMES
    repeats: int = 5
    warmup: int = 2
    max_frames: int = FRAME_LIMIT
    figures: bool = True
    title: str = "convzoo: every convolution, animated and measured"

    def __post_init__(self) -> None:
        names = (self.variants,) if isinstance(self.variants, str) else tuple(self.variants)
        if not names:
            raise ValueError("`variants` (=()) must name at least one of "
                             + ", ".join(SECTION_NAMES))
        names = tuple(section(n).name for n in names)  # raises with the list of names
        object.__setattr__(self, "variants", names)
        for name, low in (("repeats", 1), ("warmup", 0), ("max_frames", 2)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise ValueError(f"`{name}` (={v!r}) must be an int >= {low}")
        if self.max_frames > FRAME_LIMIT:
            raise ValueError(f"`max_frames` (={self.max_frames!r}) must be at most {FRAME_LIMIT}")


@dataclass
class ReportResult:
    """What :func:`report` wrote: ``path``, ``bytes``, ``seconds``, ``images`` (count),
    ``sections`` (names), the comparisons it measured and ``players`` (animations, count)."""

    path: Path
    bytes: int
    seconds: float
    images: int
    sections: tuple[str, ...]
    comparisons: dict[str, Comparison] = field(default_factory=dict)
    players: int = 0


def _e(text: Any) -> str:
    return html.escape(str(text))


def _img(uri: str, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{uri}" alt="{_e(alt)}">{cap}</figure>'


def readable_name(name: str) -> str:
    """A module path as words: ``'stages.0'`` -> ``'stage 1'``, ``'axes.1'`` -> ``'axis 2'``,
    ``'branches.2.conv'`` -> ``'branch 3 conv'`` (no internal attribute paths in the text).

    >>> readable_name("stages.0"), readable_name("axes.1"), readable_name("depthwise")
    ('stage 1', 'axis 2', 'depthwise')
    """
    words: list[str] = []
    for part in name.split("."):
        if part.isdigit() and words:
            last = words[-1]
            if last.endswith("xes"):  # axes -> axis
                last = last[:-2] + "is"
            elif last.endswith(("ches", "shes", "sses")):  # branches -> branch
                last = last[:-2]
            else:
                last = last.removesuffix("s")
            words[-1] = f"{last} {int(part) + 1}"
        else:
            words.append(part)
    return " ".join(words)


def stage_arithmetic(module: nn.Module, input_shape: Sequence[int]) -> list[tuple[str, str]]:
    """``(stage, formulas)`` per conv stage of ``module`` run on ``input_shape``: the stage's
    name and input shape; its output size per axis, params and MACs, each formula from the
    stage's ConvSpec.

    >>> from convzoo.layers import Conv
    >>> stage, text = stage_arithmetic(Conv(3, 8, 3), (1, 3, 5, 5))[0]
    >>> stage, text.splitlines()[0]
    ('Conv on input 1x3x5x5', 'out[0] = floor((5 + 0 + 0 - 1*(3-1) - 1) / 1) + 1 = 3')
    """
    seen: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    convs = [(n, m) for n, m in module.named_modules()
             if hasattr(m, "spec") and not any(hasattr(c, "spec") for c in m.children())]
    hooks = [m.register_forward_pre_hook(
        lambda mod, args, n=n: seen.append((n, mod, tuple(args[0].shape)))) for n, m in convs]
    try:
        with torch.no_grad():
            module(torch.zeros(tuple(input_shape)))
    finally:
        for h in hooks:
            h.remove()
    out = []
    for name, mod, shape in seen:
        name = readable_name(name)
        spec = mod.call_spec(shape[2:]) if hasattr(mod, "call_spec") else mod.spec
        lines = [f"out[{a}] = {f}" for a, f in enumerate(spec.output_formulas(shape))]
        lines += [f"params = {spec.params_formula()}", f"MACs = {spec.macs_formula(shape)}"]
        label = f"{name or type(mod).__name__} on input {'x'.join(map(str, shape))}"
        out.append((label, "\n".join(lines)))
    return out


def _extra_rows(sections: Sequence[Section], repeats: int, warmup: int) -> dict[str, dict]:
    """Counts (summary) and forward latency (interleaved medians) of the 'extra' layers."""
    torch.manual_seed(0)
    built = {s.name: (s.layer().eval(), s.shape) for s in sections if s.table == "extra"}
    if not built:
        return {}
    rows, calls = {}, {}
    for name, (m, shape) in built.items():
        s = summary(m, shape)
        rows[name] = {"params": s.totals.params, "macs": s.totals.macs, "shape": shape}
        x = torch.randn(shape)

        def run(m: nn.Module = m, x: torch.Tensor = x) -> object:
            with torch.no_grad():
                return m(x)

        calls[name] = run
    for name, t in interleaved(calls, repeats, warmup).items():
        rows[name]["forward_ms"] = t.median_ms
    return rows


def _comparison_table(comp: Comparison) -> str:
    """``compare``'s own table (every digit, spreads, noise marks), as HTML."""
    return tables_html([spec.rich() for spec in comp.table_specs(wide=True)])


def _numbers_table(sec: Section, comparisons: dict[str, Comparison], extra: dict) -> str:
    if sec.table == "extra":
        r = extra[sec.name]
        shape = "x".join(map(str, r["shape"]))
        return ("<table><tr><th>layer</th><th>input</th><th>params</th><th>MACs</th>"
                "<th>forward ms</th></tr>"
                f"<tr><td>{_e(sec.name)}</td><td>{shape}</td><td>{r['params']:,}</td>"
                f"<td>{r['macs']:,}</td><td>{r['forward_ms']:.3f}</td></tr></table>"
                "<p class='note'>Not a row of <code>compare</code> (a different layer "
                "shape): counted by <code>convzoo.summary</code>, timed by the same "
                "interleaved median timer on this machine.</p>")
    comp = comparisons[sec.table]
    # the baseline first, then the section's rows; a row named twice is shown once (the
    # baseline can be the section's only row: conv, transposed)
    return _comparison_table(comp.subset(sec.rows)) + (
        f"<p class='note'>From <code>compare</code> ({_e(_config_text(comp))}); ratios to "
        f"'{_e(comp.baseline)}'; ± is half the interquartile range, ~ marks a ratio inside "
        "the noise.</p>")


def _config_text(comp: Comparison) -> str:
    c = comp.config
    what = (f"x{c['upscale_factor']} upsampling" if c["upscale_factor"]
            else "stride 1, 'same'")
    return (f"{c['in_channels']} -> {c['out_channels']} channels, k="
            f"{'x'.join(map(str, c['kernel_size']))}, input {'x'.join(map(str, c['input_shape']))}"
            f", {what}; median of {comp.repeats} interleaved repeats")


def _figure(name: str) -> str:
    """One figure by name, as HTML (images inlined)."""
    if name.startswith("connectivity:"):
        from convzoo.viz.connectivity import connectivity

        kind = name.split(":", 1)[1]
        d = connectivity(kind, 8, 2)
        return _img(svg_uri(d.svg()), d.title, f"channel connectivity: {d.title}")
    if name == "checkerboard":
        from convzoo.viz.checkerboard import checkerboard, checkerboard_figure

        return _img(data_uri(png_bytes(checkerboard_figure(checkerboard())), "image/png"),
                    "checkerboard artifacts",
                    "Checkerboard artifacts: a transposed conv with k=3, stride 2 (k not "
                    "divisible by the stride) vs resize-conv and sub-pixel conv with ICNR, on "
                    "scikit-image's camera photograph.")
    if name == "receptive-growth":
        from convzoo.viz.fields import (
            effective_field,
            effective_field_figure,
            rf_growth,
            rf_growth_svg,
            rf_network,
        )

        net, shape = rf_network(), (1, 1, 64, 64)
        steps = rf_growth(net, shape)
        erf = effective_field(net, shape, threshold=0.1)
        return (_img(svg_uri(rf_growth_svg(steps, "receptive field across a network (3x3 "
                                                  "convs, a stride-2 conv, dilations 2 and 4)")),
                     "receptive field growth", "Receptive field after each layer "
                     "(convzoo.analysis.receptive_field).")
                + _img(data_uri(png_bytes(effective_field_figure(erf)), "image/png"),
                       "effective receptive field",
                       "Theoretical vs effective receptive field of the centre output: input "
                       "gradient with weights 1 (the number of paths), threshold 10% of max."))
    raise ValueError(f"`figure` (={name!r}) is unknown")


def report(
    path: str | Path,
    config: ReportConfig | None = None,
    progress: Callable[[str], Any] | None = None,
) -> ReportResult:
    """Write the HTML report to ``path``.

    Args:
        path: the ``.html`` file to write.
        config: what to include (default :class:`ReportConfig()`: every variant).
        progress: called with a short description before each step (the CLI drives a rich
            progress bar with it); ``None`` for silence.

    Returns:
        A :class:`ReportResult` (path, size in bytes, seconds taken...).
    """
    start = time.perf_counter()
    config = config or ReportConfig()
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"`path` (={str(path)!r}) must end in .html")
    step = progress or (lambda what: None)
    sections = [section(n) for n in config.variants]
    tables = sorted({s.table for s in sections} - {"extra"})
    comparisons: dict[str, Comparison] = {}
    ci, co = CHANNELS
    for t in tables:
        step(f"measuring compare ({t})")
        size = SIZE if t == "same" else tuple(v // 2 for v in SIZE)
        comparisons[t] = compare(ci, co, 3, size,
                                 upscale_factor=2 if t == "upsample" else None,
                                 repeats=config.repeats, warmup=config.warmup)
    step("measuring the other layers")
    extra = _extra_rows(sections, config.repeats, config.warmup)
    parts, images, players = [], 0, 0
    for sec in sections:
        step(f"drawing {sec.name}")
        html_parts = [f'<section id="{sec.name}"><h2>{_e(sec.title)}</h2>',
                      f"<p>{_e(sec.purpose)}</p>", _articles_note(sec.name)]
        for caption, kind, opts in sec.animations:
            scenes = animate(kind, max_frames=config.max_frames, **opts)
            html_parts.append(
                f"<figure>{player_html(scenes, f'{sec.name} animation', script=False)}"
                f"<figcaption>{_e(caption)} ({len(scenes)} frames; "
                f"<code>convzoo animate {_e(scenes.kind)}</code>)</figcaption></figure>")
            players += 1
        html_parts.append("<h3>Arithmetic</h3>")
        for stage, text in stage_arithmetic(sec.layer(), sec.shape):
            html_parts.append(f"<pre>{_e(stage)}:\n{_e(text)}</pre>")
        html_parts.append("<h3>Numbers measured on this machine</h3>")
        html_parts.append(_numbers_table(sec, comparisons, extra))
        if config.figures:
            for fig in sec.figures:
                html_parts.append(_figure(fig))
                images += 1 + (fig == "receptive-growth")
        html_parts.append("</section>")
        parts.append("\n".join(html_parts))
    step("comparison tables and bars")
    parts.append(_comparison_section(comparisons, config.figures))
    images += len(comparisons) if config.figures else 0
    elapsed = time.perf_counter() - start
    page = _page(config, sections, parts, comparisons, elapsed)
    path.write_text(page, encoding="utf-8")
    return ReportResult(path, path.stat().st_size, time.perf_counter() - start, images,
                        tuple(config.variants), comparisons, players)


def _articles_note(variant: str) -> str:
    """'Explained in: <the articles, by title>' (from convzoo.tour.articles, the one table)."""
    from convzoo.tour.articles import articles_on

    found = articles_on(variant)
    if not found:
        return "<p class='note'>Not in the seed articles (convzoo adds it).</p>"
    return ("<p class='note'>Explained in: " + "; ".join(
        f'<a href="#source-{a.seed}">{_e(a.cite())}</a>' for a in found) + ".</p>")


def _sources() -> str:
    from convzoo.tour.articles import ARTICLES

    items = "".join(f'<li id="source-{a.seed}">{_e(a.cite())}, {_e(a.source)}</li>'
                    for a in ARTICLES)
    return ('<section id="sources"><h2>The articles</h2><p class="note">convzoo was built from '
            f"these articles (in Chinese; the titles in English follow).</p><ul>{items}</ul>"
            "</section>")


def _comparison_section(comparisons: dict[str, Comparison], figures: bool) -> str:
    from convzoo.viz.bars import comparison_bars_svg

    out = ['<section id="comparison"><h2>The variants compared</h2>']
    for key, comp in comparisons.items():
        title = ("every same-resolution variant vs the standard conv" if key == "same"
                 else "x2 upsampling vs the transposed conv")
        out.append(f"<h3>{_e(title)}</h3><p class='note'>{_e(_config_text(comp))}</p>")
        out.append(_comparison_table(comp))
        out.append("<ul class='note'>" + "".join(
            f"<li>{_e(v.name)}: {_e(v.note)}</li>" for v in comp.variants if v.note) + "</ul>")
        if figures:
            out.append(_img(svg_uri(comparison_bars_svg(comp, title)), f"bars: {title}",
                            "Params, MACs and latency (ratio to the first row); latency bars "
                            "are medians with whiskers over the interquartile range, a ratio "
                            "marked ~ (grey) is inside the noise."))
    out.append("<h3>Conventions</h3><ul class='note'>"
               + "".join(f"<li>{_e(c)}</li>" for c in COMPARE_CONVENTIONS) + "</ul></section>")
    return "\n".join(out)


def _page(config: ReportConfig, sections: Sequence[Section], parts: list[str],
          comparisons: dict[str, Comparison], elapsed: float) -> str:
    env = next(iter(comparisons.values())).environment if comparisons else {}
    machine = (f"torch {env.get('torch')}, {env.get('threads')} threads, {env.get('machine')}"
               if env else "")
    nav = "".join(f'<a href="#{s.name}">{_e(s.title)}</a>' for s in sections)
    nav += '<a href="#comparison">Comparison</a><a href="#sources">The articles</a>'
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(config.title)}</title><style>{CSS}</style>"
        f"<script>{player_script()}</script></head><body>"
        f"<h1>{_e(config.title)}</h1>"
        "<p>Each animation highlights the input cells feeding the output element being "
        "computed (exactly those the NumPy reference engine uses), writes the kernel's weights "
        "over them and prints the running arithmetic; play, pause, step or scrub through every "
        "frame. Numbers were measured on this machine"
        f"{' (' + _e(machine) + ')' if machine else ''}; sections computed in "
        f"{elapsed:.1f} s.</p><nav>{nav}</nav>"
        + "\n".join(parts) + _sources() + "</body></html>\n"
    )
