"""The report in headless Chromium: it loads offline, logs no error, every image decodes.

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


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
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
    yield driver
    driver.quit()


def test_report_loads_in_chromium(browser, small_report, tmp_path):
    result, _ = small_report
    browser.get(result.path.resolve().as_uri())
    assert browser.title.startswith("convzoo")
    sections = browser.execute_script(
        "return Array.from(document.querySelectorAll('section')).map(s => s.id)")
    assert sections == [*result.sections, "comparison"]
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
