"""The HTML report in a real browser: Debian's Chromium, headless, driven by Playwright (never a downloaded
browser). The page must load from the file alone, draw every chart, and zoom, pan and reset on the shared
time axis."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from asterrl.backtest.report import ReportPaths

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

_COUNT_PAINTED = """
() => Array.from(document.querySelectorAll('.chart canvas')).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
})
"""


@pytest.fixture(scope="module")
def page(written: ReportPaths) -> Iterator[tuple[Any, list[str], list[str]]]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip(
            "Debian's chromium is not installed (`apt-get install -y chromium`; `make test` tries it)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a pinned dev dependency")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        requests: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto(written.html.as_uri())
        tab.wait_for_function("window.asterrlReport && window.asterrlReport.ready", timeout=20_000)
        yield tab, errors, requests
        browser.close()


def _view(tab: Any) -> tuple[float, float]:
    x0, x1 = tab.evaluate("[asterrlReport.view.x0, asterrlReport.view.x1]")
    return float(x0), float(x1)


@pytest.mark.slow
def test_page_loads_offline_and_draws_every_chart(page: tuple[Any, list[str], list[str]]) -> None:
    tab, errors, requests = page
    assert errors == []
    assert requests and all(u.startswith("file://") for u in requests)
    painted = tab.evaluate(_COUNT_PAINTED)
    assert len(painted) == 7 and min(painted) > 2_000
    assert tab.locator("table.heat td").count() > 12


@pytest.mark.slow
def test_wheel_zooms_drag_pans_and_double_click_resets_every_chart(
    page: tuple[Any, list[str], list[str]],
) -> None:
    tab, errors, _ = page
    full = _view(tab)
    canvas = tab.locator("#c-equity canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    tab.mouse.move(cx, cy)
    tab.mouse.wheel(0, -300)
    tab.wait_for_timeout(200)
    zoomed = _view(tab)
    assert zoomed[1] - zoomed[0] < 0.9 * (full[1] - full[0])
    assert full[0] < zoomed[0] and zoomed[1] < full[1]  # zoomed around the cursor, inside the span
    tab.mouse.move(cx, cy)
    tab.mouse.down()
    tab.mouse.move(cx - 150, cy, steps=5)
    tab.mouse.up()
    panned = _view(tab)
    assert panned[0] > zoomed[0] and panned[1] - panned[0] == pytest.approx(zoomed[1] - zoomed[0])
    # one shared view: a zoom in the equity chart moved the fan chart's axis too (all charts redraw)
    assert tab.evaluate("asterrlReport.charts.every(c => typeof c.X === 'function')")
    canvas.dblclick()
    assert _view(tab) == pytest.approx(full)
    assert errors == []
