"""The playground in headless Chromium: controls change the formula, numbers and frames (as
the API computes them), the lists offer only valid values, an invalid setting shows
convzoo's one-line error in place (the old picture dimmed), an input too large to animate
still shows its numbers, switching kind starts from the new kind's defaults, clicking an
output cell shows its taps and running sum, pointing at a cell lights the cells linked to it,
the output grid is above the fold at 1280x900, and the stack view highlights a receptive
field through the layers (and dims it on an error).

``CONVZOO_PLAYGROUND_SCREENSHOT=docs/img/playground.png`` saves the 1280x900 screenshot the
docs show."""

from __future__ import annotations

import os

import pytest

from convzoo.serve.api import conv_api, kinds_api, stack_api
from convzoo.serve.choices import choices_api
from convzoo.viz.draw import COLOURS
from convzoo.viz.fonts import contrast_ratio

SCREENSHOT_ENV = "CONVZOO_PLAYGROUND_SCREENSHOT"

JS_STATE = """
const t = id => document.getElementById(id).textContent;
const limited = document.getElementById('limited');
return {pending: document.body.dataset.pending, query: document.body.dataset.query || "",
        choices: document.body.dataset.choices || "",
        formula: t('formula'), params: t('params'), macs: t('macs'), bytes: t('bytes'),
        rf: t('rf'), shape: t('shape'), frames: +document.getElementById('player').dataset.frames,
        drawn: document.querySelectorAll('#player svg.cz-frame text').length,
        error: document.getElementById('error').hidden ? null : t('error'),
        limited: limited.hidden ? null : limited.textContent,
        stale: document.getElementById('numbers').classList.contains('stale')};
"""


def state(browser):
    return browser.execute_script(JS_STATE)


def wait(browser, until, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(until)


def settle(browser, until):
    wait(browser, lambda d: (s := state(d))["pending"] == "false" and s["choices"] == "ready"
         and until(s))
    return state(browser)


def set_field(browser, name, value):
    """Set a control as a user would: a select only to a value it offers (waiting for the
    list of valid values to arrive), a text field to any text."""
    if value != "" and browser.execute_script(
            "return document.querySelector(`#controls [name=${arguments[0]}]`).tagName",
            name) == "SELECT":
        wait(browser, lambda d: d.execute_script(
            "const el = document.querySelector(`#controls [name=${arguments[0]}]`);"
            "return document.body.dataset.choices === 'ready' && "
            "Array.from(el.options).some(o => o.value === arguments[1])", name, value))
    browser.execute_script(
        "const el = document.querySelector(`#controls [name=${arguments[0]}]`);"
        "el.value = arguments[1]; el.dispatchEvent(new Event('input', {bubbles: true}));"
        "el.dispatchEvent(new Event('change', {bubbles: true}));", name, value)
    assert browser.execute_script(
        "return document.querySelector(`#controls [name=${arguments[0]}]`).value", name) == value


def options(browser, name):
    return browser.execute_script(
        "return Array.from(document.querySelector(`#controls [name=${arguments[0]}]`).options)"
        ".map(o => o.value)", name)


def fresh(browser, server):
    browser.get(server)
    settle(browser, lambda s: s["frames"] > 0)
    return browser


@pytest.fixture(scope="module")
def page(browser, server):
    return fresh(browser, server)


def test_first_view_shows_the_apis_numbers(page):
    s = state(page)
    r = conv_api({"kind": "conv"})
    totals = r["numbers"]["totals"]
    assert s["formula"].splitlines()[1:] == ["  " + f for f in r["numbers"]["stages"][0]
                                             ["formulas"]]
    assert (s["params"], s["macs"]) == (f"{totals['params']:,}", f"{totals['macs']:,}")
    assert s["frames"] == r["frames"] == 9 and s["drawn"] > 20 and s["error"] is None
    assert s["limited"] is None
    severe = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_the_lists_offer_only_valid_values(page):
    choices = choices_api({"kind": "conv"})["choices"]
    for name in ("k", "s", "p", "d", "g", "in", "out"):
        assert options(page, name) == ["", *choices[name]]  # "" is the kind's default
    assert "6" not in options(page, "k")  # 5x5 input: d(k-1)+1 <= 5
    for k in options(page, "k")[1:]:  # each offered kernel is a valid request
        conv_api({"kind": "conv", "k": k})
    set_field(page, "in", "6")
    set_field(page, "out", "4")
    settle(page, lambda s: "in=6" in s["query"] and "out=4" in s["query"])
    assert options(page, "g") == ["", "1", "2"]  # the divisors of both
    set_field(page, "g", "2")
    s = settle(page, lambda s: "g=2" in s["query"])
    assert s["error"] is None and s["params"] == f"{conv_api({'in': '6', 'out': '4', 'g': '2'})['numbers']['totals']['params']:,}"  # noqa: E501
    assert page.find_element("id", "f-frames").get_attribute("max") == "256"


def test_changing_controls_updates_formula_numbers_and_frames(browser, server):
    page = fresh(browser, server)
    set_field(page, "input", "6x6")
    set_field(page, "s", "2")
    s = settle(page, lambda s: "s=2" in s["query"] and "input=6x6" in s["query"])
    r = conv_api({"kind": "conv", "input": "6x6", "s": "2"})
    totals = r["numbers"]["totals"]
    assert "/ 2) + 1 = 2" in s["formula"] and s["frames"] == r["frames"] == 4
    assert s["macs"] == f"{totals['macs']:,}" and s["bytes"] == f"{totals['bytes']:,}"
    assert s["rf"] == " | ".join(totals["rf"]) and s["shape"] == "1x1x2x2"
    set_field(page, "kind", "transposed")
    set_field(page, "input", "3x3")
    set_field(page, "p", "1")
    set_field(page, "op", "1")
    s = settle(page, lambda s: "kind=transposed" in s["query"] and "op=1" in s["query"])
    r = conv_api({"kind": "transposed", "input": "3x3", "s": "2", "p": "1", "op": "1"})
    assert s["frames"] == r["frames"] == 36 and s["shape"] == "1x1x6x6"
    assert r["numbers"]["stages"][0]["formulas"][0] in s["formula"]
    set_field(page, "mode", "scatter")
    s = settle(page, lambda s: "mode=scatter" in s["query"])
    assert s["frames"] == conv_api({"kind": "transposed", "input": "3x3", "s": "2", "p": "1",
                                    "op": "1", "mode": "scatter"})["frames"] == 9


def test_switching_kind_starts_from_the_new_kinds_defaults(browser, server):
    page = fresh(browser, server)
    set_field(page, "kind", "transposed")
    set_field(page, "s", "3")
    set_field(page, "k", "2")
    settle(page, lambda s: "kind=transposed" in s["query"] and "s=3" in s["query"])
    set_field(page, "kind", "dilated")
    s = settle(page, lambda s: "kind=dilated" in s["query"])
    assert s["query"] == "kind=dilated"  # no stride 3 or kernel 2 carried over
    for name in ("s", "k", "p", "d"):
        assert page.find_element("css selector", f"#controls [name={name}]").get_attribute(
            "value") == ""
    totals = conv_api({"kind": "dilated"})["numbers"]["totals"]
    assert (s["params"], s["shape"]) == (f"{totals['params']:,}", "1x1x7x7")
    hidden = page.execute_script("return Array.from(document.querySelectorAll("
                                 "'#controls select.off, #controls input.off')).map(e => e.name)")
    assert set(hidden) == {"op", "mode", "factor", "rates"}  # what dilated does not take


def test_a_large_input_shows_its_numbers_and_says_why_there_are_no_frames(browser, server):
    page = fresh(browser, server)
    set_field(page, "input", "100x100")
    set_field(page, "in", "3")
    s = settle(page, lambda s: "input=100x100" in s["query"] and "in=3" in s["query"])
    r = conv_api({"input": "100x100", "in": "3"})
    totals = r["numbers"]["totals"]
    assert s["error"] is None and not s["stale"] and s["frames"] == r["frames"] == 0
    assert (s["params"], s["macs"], s["bytes"], s["shape"]) == (
        f"{totals['params']:,}", f"{totals['macs']:,}", f"{totals['bytes']:,}", "1x1x98x98")
    assert s["limited"] == r["limited"] and "No frames drawn" in s["limited"]
    assert "30000 cells, more than the limit of 2048" in s["limited"]
    assert not page.find_element("css selector", "#player svg.cz-frame").is_displayed()
    assert page.find_element("id", "limited").is_displayed()
    set_field(page, "in", "")
    set_field(page, "input", "40x40")
    set_field(page, "frames", "256")
    s = settle(page, lambda s: "frames=256" in s["query"] and "input=40x40" in s["query"])
    assert s["frames"] == 31 and s["limited"].startswith("Frames limited to 31 (of the 256")
    assert page.find_element("css selector", "#player svg.cz-frame").is_displayed()


def test_an_invalid_setting_shows_convzoos_error_in_place(browser, server):
    page = fresh(browser, server)
    set_field(page, "input", "2x2")
    set_field(page, "p", "1")
    set_field(page, "k", "4")  # offered: 2 + 1 + 1 >= 4
    settle(page, lambda s: "k=4" in s["query"] and s["error"] is None)
    set_field(page, "input", "1x1")  # a free text field: the server's checks decide
    s = settle(page, lambda s: s["error"] is not None)
    with pytest.raises(ValueError) as e:
        conv_api({"kind": "conv", "input": "1x1", "p": "1", "k": "4"})
    assert s["error"] == str(e.value) and s["stale"]
    assert s["drawn"] > 0  # the last good picture stays, dimmed: never a blank page
    opacity = page.execute_script(
        "return +getComputedStyle(document.getElementById('player')).opacity")
    assert opacity < 0.5
    assert "4 (not valid with the other settings)" in page.execute_script(
        "return Array.from(document.querySelector('#controls [name=k]').options)"
        ".map(o => o.textContent)")
    set_field(page, "input", "1000000x1000000")  # beyond what even the numbers take
    s = settle(page, lambda s: s["error"] is not None and "elements, more than the limit"
               in s["error"])
    set_field(page, "k", "")
    set_field(page, "input", "4x4")
    s = settle(page, lambda s: s["error"] is None and "input=4x4" in s["query"])
    assert not s["stale"]


def _target(page, frame):
    return page.find_element("css selector", f"#player rect.cz-target[data-frame='{frame}']")


def test_clicking_an_output_cell_shows_its_taps_and_running_sum(browser, server):
    page = fresh(browser, server)
    set_field(page, "input", "4x4")
    set_field(page, "p", "1")
    settle(page, lambda s: "p=1" in s["query"] and "input=4x4" in s["query"])
    r = conv_api({"kind": "conv", "input": "4x4", "p": "1"})
    frame = r["player"]["targets"][5][4]
    target = _target(page, frame)
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", target)
    target.click()  # selenium's own click, at the element's centre
    assert page.find_element("id", "player").get_attribute("data-frame") == str(frame)
    tap = r["taps"][frame]
    rows = page.execute_script(
        "return Array.from(document.querySelectorAll('#tap-table tr')).slice(1).map("
        "r => Array.from(r.cells).map(c => +c.textContent))")
    assert [row[1:] for row in rows] == [list(t) for t in tap["terms"]]
    caption = page.execute_script("return document.querySelector('#tap-table caption')"
                                  ".textContent")
    assert caption == f"y[{', '.join(map(str, tap['output']))}] = {tap['value']:g}"
    page.find_element("css selector", "#player button.cz-next").click()
    assert page.find_element("id", "player").get_attribute("data-frame") == str(frame + 1)
    # by pointer, at the cell's pixels, while the animation plays
    from selenium.webdriver.common.action_chains import ActionChains

    page.find_element("css selector", "#player button.cz-play").click()
    other = r["player"]["targets"][2][4]
    ActionChains(page).move_to_element(_target(page, other)).click().perform()
    assert page.find_element("id", "player").get_attribute("data-frame") == str(other)
    assert page.find_element("id", "player").get_attribute("data-playing") == "false"
    # and by keyboard: a target takes the focus, Enter shows its frame
    from selenium.webdriver.common.keys import Keys

    page.execute_script("arguments[0].focus()", _target(page, 7))
    page.switch_to.active_element.send_keys(Keys.ENTER)
    assert page.find_element("id", "player").get_attribute("data-frame") == "7"
    assert page.switch_to.active_element.get_attribute("data-frame") == "7"  # focus kept


def _lit(page):
    return page.execute_script(
        "const out = {input: [], kernel: [], output: []};"
        "document.querySelectorAll('#player rect.cz-lit').forEach(r => "
        "out[r.dataset.role].push(+r.dataset.cell)); return out")


def test_pointing_at_a_cell_lights_the_cells_linked_to_it(browser, server):
    """ezyang's visualizer's hover: an output lights its inputs and weights (each pair in
    one colour), an input the outputs it feeds, a weight the inputs it multiplies."""
    from selenium.webdriver.common.action_chains import ActionChains

    page = fresh(browser, server)
    set_field(page, "input", "4x4")
    set_field(page, "in", "2")
    settle(page, lambda s: "in=2" in s["query"] and "input=4x4" in s["query"])
    data = conv_api({"input": "4x4", "in": "2"})["player"]
    cells, links = data["cells"], data["links"]
    frame = 3
    row = links[frame]
    ActionChains(page).move_to_element(_target(page, frame)).perform()
    lit = _lit(page)
    assert lit["output"] == [row[0]]
    assert sorted(lit["input"]) == sorted(row[2::2]) and len(row[2::2]) == 2 * 9
    assert sorted(lit["kernel"]) == sorted(row[3::2])
    colours = page.execute_script(
        "const c = {}; document.querySelectorAll('#player rect.cz-lit').forEach(r => "
        "c[r.dataset.role + r.dataset.cell] = r.getAttribute('stroke')); return c")
    for i, w in zip(row[2::2], row[3::2]):  # an input and its weight share an outline colour
        assert colours[f"input{i}"] == colours[f"kernel{w}"]

    def point(cell):
        page.execute_script("document.getElementById('player').czPlayer.point(arguments[0])",
                            cell)
        return _lit(page)

    corner = row[2]  # an input cell of this window: the outputs it feeds
    fed = sorted(r[0] for r in links if r and corner in r[2::2])
    lit = point(corner)
    assert sorted(lit["output"]) == fed and lit["input"] == [corner] and len(fed) >= 1
    weight = row[3]  # a weight: the inputs it multiplies, one per output
    lit = point(weight)
    assert lit["kernel"] == [weight] and len(lit["output"]) == len(links)
    assert sorted(lit["input"]) == sorted(r[2 + r[3::2].index(weight) * 2] for r in links)
    ActionChains(page).move_to_element(page.find_element("tag name", "h1")).perform()
    assert _lit(page) == {"input": [], "kernel": [], "output": []}
    assert all(0 <= c < len(cells) for c in row[2:])


def test_at_1280x900_the_output_grid_and_the_numbers_are_above_the_fold(browser, server):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        page = fresh(browser, server)
        assert page.execute_script("return [innerWidth, innerHeight]") == [1280, 900]
        shot = os.environ.get(SCREENSHOT_ENV)
        if shot:
            page.save_screenshot(shot)
        for kind in ("conv", "dilated", "transposed", "group", "depthwise", "aspp"):
            set_field(page, "kind", kind)
            settle(page, lambda s, kind=kind: f"kind={kind}" in s["query"] and s["frames"] > 0)
            page.execute_script("window.scrollTo(0, 0)")
            bottom = page.execute_script(
                "return Math.max(...Array.from(document.querySelectorAll("
                "'#player rect.cz-target')).map(r => r.getBoundingClientRect().bottom))")
            assert 0 < bottom <= 900, kind
            for cell in ("params", "macs", "shape"):
                box = page.find_element("id", cell).rect
                assert box["y"] + box["height"] <= 900, (kind, cell)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_channel_colours_differ_from_the_kernels_and_page_text_reads(browser, server):
    page = fresh(browser, server)
    set_field(page, "kind", "group")
    s = settle(page, lambda s: "kind=group" in s["query"] and s["frames"] > 0)
    fills = page.execute_script(
        "return Array.from(document.querySelectorAll('#player svg.cz-frame rect'))"
        ".map(r => r.getAttribute('fill'))")
    assert COLOURS["kernel"] in fills and "#f28e2b" not in fills  # Tableau's orange is gone
    pairs = page.execute_script("""
        const rgb = s => s.match(/[0-9.]+/g).slice(0, 3).map(Number);
        const hex = c => '#' + rgb(c).map(v => v.toString(16).padStart(2, '0')).join('');
        const bg = el => { for (; el; el = el.parentElement) {
            const c = getComputedStyle(el).backgroundColor;
            if (c !== 'rgba(0, 0, 0, 0)') return hex(c); } return '#ffffff'; };
        return Array.from(document.querySelectorAll(
            'label, .note, #limited, #error, th, td, h1, h2, nav a, button, option'))
          .filter(e => e.textContent.trim()).map(e =>
            [e.tagName + '#' + e.id + '.' + e.className, hex(getComputedStyle(e).color), bg(e)]);
    """)
    assert pairs
    for what, colour, background in pairs:
        assert contrast_ratio(colour, background) >= 4.5, (what, colour, background)
    assert s["error"] is None


def test_the_articles_are_named_by_title(page):
    info = kinds_api()
    set_field(page, "kind", "transposed")
    settle(page, lambda s: "kind=transposed" in s["query"])
    text = page.find_element("id", "articles").text
    for a in info["articles"]["transposed"]:
        assert f"\u201c{a['english']}\u201d (seed {a['seed']})" in text
    items = page.execute_script("return Array.from(document.querySelectorAll('#source-list li'))"
                                ".map(li => [li.id, li.textContent])")
    assert [i for i, _ in items] == [f"source-{s['seed']}" for s in info["sources"]]
    assert all(t.startswith(s["cite"]) for (_, t), s in zip(items, info["sources"]))
    assert "seed 000" not in page.find_element("id", "description").text


def test_stack_view_highlights_the_field_under_the_pointer(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains

    page = fresh(browser, server)
    wait(page, lambda d: d.execute_script("return document.body.dataset.stack") == "ready")
    s = stack_api({"input": "16", "layers": "3,1,1,1; 3,2,1,1; 3,1,2,2"})
    top = page.find_elements("css selector", "#stack .level[data-level='3'] .cell")
    assert len(top) == s["sizes"][-1]
    ActionChains(page).move_to_element(top[2]).perform()
    lit = page.execute_script(
        "return Array.from(document.querySelectorAll('#stack .level')).map(r => "
        "[+r.dataset.level, Array.from(r.querySelectorAll('.cell.on')).map("
        "c => +c.dataset.index)])")
    assert {lvl: cells for lvl, cells in lit} == dict(enumerate(s["fields"][2]))
    levels = page.execute_script(
        "return Array.from(document.querySelectorAll('#stack-levels tr')).slice(1).map("
        "r => r.cells[3].textContent)")
    assert levels == [lv["rf"][0] for lv in s["levels"]]


def test_a_stack_error_dims_the_old_diagram_and_says_why(browser, server):
    page = fresh(browser, server)
    wait(page, lambda d: d.execute_script("return document.body.dataset.stack") == "ready")

    def set_layers(text):
        page.execute_script(
            "const el = document.querySelector('#stack-controls [name=layers]');"
            "el.value = arguments[0]; el.dispatchEvent(new Event('input', {bubbles: true}));",
            text)

    set_layers("3,1")
    wait(page, lambda d: d.execute_script("return document.body.dataset.stack") == "error")
    with pytest.raises(ValueError) as e:
        stack_api({"input": "16", "layers": "3,1"})
    assert page.find_element("id", "stack-error").text == str(e.value)
    for box in ("stack", "stack-levels"):
        element = page.find_element("id", box)
        assert "stale" in element.get_attribute("class")
        assert float(element.value_of_css_property("opacity")) < 0.5
    assert page.find_element("id", "stack").get_attribute("aria-disabled") == "true"
    set_layers("5,1,2,1")
    wait(page, lambda d: d.execute_script("return document.body.dataset.stack") == "ready")
    assert "stale" not in page.find_element("id", "stack").get_attribute("class")
    assert not page.find_element("id", "stack-error").is_displayed()
