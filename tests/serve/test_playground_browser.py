"""The playground in headless Chromium: controls change the formula, numbers and frames (as
the API computes them), an invalid setting shows convzoo's one-line error in place, clicking
an output cell shows its taps and running sum, and the stack view highlights a receptive
field through the layers."""

from __future__ import annotations

import pytest

from convzoo.serve.api import conv_api, stack_api

JS_STATE = """
const t = id => document.getElementById(id).textContent;
return {pending: document.body.dataset.pending, query: document.body.dataset.query || "",
        formula: t('formula'), params: t('params'), macs: t('macs'), bytes: t('bytes'),
        rf: t('rf'), shape: t('shape'), frames: +document.getElementById('player').dataset.frames,
        drawn: document.querySelectorAll('#player svg.cz-frame text').length,
        error: document.getElementById('error').hidden ? null : t('error'),
        stale: document.getElementById('numbers').classList.contains('stale')};
"""


def state(browser):
    return browser.execute_script(JS_STATE)


def settle(browser, until):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20, poll_frequency=0.05).until(
        lambda d: (s := state(d))["pending"] == "false" and until(s))
    return state(browser)


def set_field(browser, name, value):
    browser.execute_script(
        "const el = document.querySelector(`#controls [name=${arguments[0]}]`);"
        "el.value = arguments[1]; el.dispatchEvent(new Event('input', {bubbles: true}));"
        "el.dispatchEvent(new Event('change', {bubbles: true}));", name, value)


def expected(query):
    r = conv_api(query)
    totals = r["numbers"]["totals"]
    return r, totals


@pytest.fixture(scope="module")
def page(browser, server):
    browser.get(server)
    settle(browser, lambda s: s["frames"] > 0)
    return browser


def test_first_view_shows_the_apis_numbers(page):
    s = state(page)
    r, totals = expected({"kind": "conv"})
    assert s["formula"].splitlines()[1:] == ["  " + f for f in r["numbers"]["stages"][0]
                                             ["formulas"]]
    assert (s["params"], s["macs"]) == (f"{totals['params']:,}", f"{totals['macs']:,}")
    assert s["frames"] == r["frames"] == 9 and s["drawn"] > 20 and s["error"] is None
    severe = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


def test_changing_controls_updates_formula_numbers_and_frames(page):
    set_field(page, "input", "6x6")
    set_field(page, "s", "2")
    s = settle(page, lambda s: "s=2" in s["query"] and "input=6x6" in s["query"])
    r, totals = expected({"kind": "conv", "input": "6x6", "s": "2"})
    assert "/ 2) + 1 = 2" in s["formula"] and s["frames"] == r["frames"] == 4
    assert s["macs"] == f"{totals['macs']:,}" and s["bytes"] == f"{totals['bytes']:,}"
    assert s["rf"] == " | ".join(totals["rf"]) and s["shape"] == "1x1x2x2"
    set_field(page, "kind", "transposed")
    set_field(page, "input", "3x3")
    set_field(page, "p", "1")
    set_field(page, "op", "1")
    s = settle(page, lambda s: "kind=transposed" in s["query"] and "op=1" in s["query"])
    r, totals = expected({"kind": "transposed", "input": "3x3", "s": "2", "p": "1", "op": "1"})
    assert s["frames"] == r["frames"] == 36 and s["shape"] == "1x1x6x6"
    assert r["numbers"]["stages"][0]["formulas"][0] in s["formula"]
    set_field(page, "mode", "scatter")
    s = settle(page, lambda s: "mode=scatter" in s["query"])
    assert s["frames"] == conv_api({"kind": "transposed", "input": "3x3", "s": "2", "p": "1",
                                    "op": "1", "mode": "scatter"})["frames"] == 9


def test_an_invalid_setting_shows_convzoos_error_in_place(page):
    set_field(page, "kind", "conv")
    set_field(page, "mode", "")
    set_field(page, "op", "")
    set_field(page, "g", "2")
    s = settle(page, lambda s: s["error"] is not None)
    with pytest.raises(ValueError) as e:
        conv_api({"kind": "conv", "input": "3x3", "s": "2", "p": "1", "g": "2"})
    assert s["error"] == str(e.value) and s["stale"]
    assert s["drawn"] > 0  # the last good picture stays, dimmed: never a blank page
    set_field(page, "input", "1000000x1000000")
    s = settle(page, lambda s: s["error"] is not None and "1000000000000 cells" in s["error"])
    set_field(page, "g", "")
    set_field(page, "input", "4x4")
    s = settle(page, lambda s: s["error"] is None and "input=4x4" in s["query"])
    assert not s["stale"]


def test_clicking_an_output_cell_shows_its_taps_and_running_sum(page):
    set_field(page, "s", "1")
    set_field(page, "p", "1")
    settle(page, lambda s: "s=1" in s["query"] and "input=4x4" in s["query"])
    r = conv_api({"kind": "conv", "input": "4x4", "s": "1", "p": "1"})
    x0, y0, x1, y1, frame = r["player"]["targets"][5]
    svg = page.find_element("css selector", "#player svg.cz-frame")
    # bring the cell into view, then click it where the browser draws it (viewport pixels)
    cx, cy = page.execute_script(
        "const svg = arguments[0], w = arguments[1], x = arguments[2], y = arguments[3];"
        "let b = svg.getBoundingClientRect(); const k = b.width / w;"
        "window.scrollBy(0, b.top + y * k - window.innerHeight / 2);"
        "b = svg.getBoundingClientRect(); return [b.left + x * k, b.top + y * k];",
        svg, r["player"]["width"], (x0 + x1) / 2, (y0 + y1) / 2)
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    builder = ActionBuilder(page)
    builder.pointer_action.move_to_location(int(cx), int(cy)).click()
    builder.perform()
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


def test_stack_view_highlights_the_field_under_the_pointer(page):
    from selenium.webdriver.common.action_chains import ActionChains

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
