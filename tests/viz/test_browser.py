"""The report in headless Chromium: it loads offline, logs no error, every image decodes,
no table is empty, and every animation's player plays, pauses, steps and scrubs.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them);
skipped, saying so, only when they are absent. Selenium is pointed at
``/usr/bin/chromedriver`` so that selenium-manager never downloads a driver.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
#: Set to a path to save the screenshot there (the docs' docs/img/report.png is made so).
SCREENSHOT_ENV = "CONVZOO_REPORT_SCREENSHOT"

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="headless Chromium is not installed (/usr/bin/chromium and /usr/bin/chromedriver; "
    "`apt-get install chromium chromium-driver`, which .ci/run does)",
)


def make_browser(tmp_path_factory):
    """A headless Chromium driven by selenium through the system chromedriver."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--window-size=1200,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = make_browser(tmp_path_factory)
    yield driver
    driver.quit()


def test_report_loads_in_chromium(browser, small_report, tmp_path):
    result, _ = small_report
    browser.get(result.path.resolve().as_uri())
    assert browser.title.startswith("convzoo")
    sections = browser.execute_script(
        "return Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert sections == [*result.sections, "comparison", "sources"]
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    assert len(images) == result.images
    broken = [alt for complete, width, alt in images if not (complete and width > 0)]
    assert broken == []
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "report.png")
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_no_table_of_the_report_is_empty(browser, small_report):
    result, _ = small_report
    browser.get(result.path.resolve().as_uri())
    rows = browser.execute_script(
        "return Array.from(document.querySelectorAll('table')).map(t => "
        "[t.closest('section').id, t.querySelectorAll('tr').length, "
        "t.querySelectorAll('td').length])")
    assert rows and all(trs >= 2 and tds > 0 for _, trs, tds in rows), rows
    sections = {sid for sid, _, _ in rows}
    assert {"transposed", "depthwise", "wavenet", "comparison"} <= sections


def test_every_player_steps_scrubs_and_plays(browser, small_report):
    result, _ = small_report
    browser.get(result.path.resolve().as_uri())
    players = browser.execute_script(
        "return Array.from(document.querySelectorAll('.cz-player')).map(p => "
        "[p.id, +p.dataset.frames, p.czPlayer.frames, +p.dataset.frame, "
        "p.querySelectorAll('svg.cz-frame text').length])")
    assert len(players) == result.players
    for pid, declared, loaded, frame, texts in players:
        assert declared == loaded > 1 and frame == 0 and texts > 5, pid
    pid = players[0][0]
    root = browser.find_element("id", pid)
    root.find_element("css selector", "button.cz-next").click()
    root.find_element("css selector", "button.cz-next").click()
    assert root.get_attribute("data-frame") == "2"
    root.find_element("css selector", "button.cz-prev").click()
    assert root.get_attribute("data-frame") == "1"
    browser.execute_script(
        "const s = arguments[0]; s.value = s.max; s.dispatchEvent(new Event('input'));",
        root.find_element("css selector", "input.cz-scrub"))
    assert root.get_attribute("data-frame") == str(players[0][1] - 1)
    play = root.find_element("css selector", "button.cz-play")
    play.click()
    assert root.get_attribute("data-playing") == "true" and play.text == "Pause"
    play.click()
    assert root.get_attribute("data-playing") == "false" and play.text == "Play"
