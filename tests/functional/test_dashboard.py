"""The dashboard page (torus.dashboard, torus/ui) on a real torus filled through the karbon path:
its files over HTTP (types, caching, HEAD, no way out of the folder), then in Debian's chromium
driven by Playwright: the tree, a chart's points read from the page, the range, a shared link,
the token prompt, the keyboard and a phone's width. Screenshots go to tests/artifacts/."""
import http.client
import json
import time
import uuid

import pytest

from tests.functional.browser_support import launch, require_browser, screenshot
from tests.functional.torus_support import (POINTS, T0, TorusProcess, cleanup, load, serving,
                                            write_config)
from torus.access import token_digest

TOKEN = "torus_dash-" + uuid.uuid4().hex
WINDOW = (T0, T0 + 3600)  # 60 one-minute points: T0+60 ... T0+3600


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from serving(tmp_path_factory, "dashboard")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A torus with TOKENS: the page is open, the API needs a token."""
    folder = tmp_path_factory.mktemp("dashboard_tokens")
    path = write_config(folder / "conf.py", "sqlite", folder, "t" + uuid.uuid4().hex[:10],
                        "TOKENS = {'viewer': {'sha256': %r, 'read': ['c.*']}}\n" % token_digest(TOKEN))
    config = load([path], POINTS)
    process = TorusProcess([path])
    yield process
    code = process.stop()
    cleanup(config)
    assert code == 0, process.log


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 720}, timezone_id="UTC")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert errors == []


def raw(server, path, method="GET", headers=None):
    """``(status, headers, body)`` with the path sent exactly as given (no client clean-up)."""
    connection = http.client.HTTPConnection(*server.address, timeout=10)
    connection.request(method, path, headers=headers or {})
    response = connection.getresponse()
    answer = response.status, response.msg, response.read()
    connection.close()
    return answer


# -- the files over HTTP ----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/ui", "/ui/"])
def test_page_is_html_and_names_its_files_with_a_version(server, path):
    status, headers, body = raw(server, path)
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert b"/ui/static/vendor/uPlot.iife.min.js?v=" in body and b"{{version}}" not in body


@pytest.mark.parametrize("path, kind", [
    ("/ui/static/app.js", "text/javascript; charset=utf-8"),
    ("/ui/static/dashboard.css", "text/css; charset=utf-8"),
    ("/ui/static/vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    ("/ui/static/vendor/uPlot.LICENSE", "text/plain; charset=utf-8"),
])
def test_static_files_have_their_type_caching_and_etag(server, path, kind):
    status, headers, body = raw(server, path)
    assert status == 200 and headers["Content-Type"] == kind and body
    assert headers["Cache-Control"] == "public, max-age=3600"
    assert int(headers["Content-Length"]) == len(body)
    status, again, empty = raw(server, path, headers={"If-None-Match": headers["ETag"]})
    assert (status, empty, again["ETag"]) == (304, b"", headers["ETag"])
    status, head, empty = raw(server, path, method="HEAD")
    assert (status, empty, head["Content-Length"]) == (200, b"", headers["Content-Length"])


@pytest.mark.parametrize("path", [
    "/ui/static/../../web.py", "/ui/static/../index.html", "/ui/static/vendor/../../dashboard.py",
    "/ui/static/%2e%2e/%2e%2e/web.py", "/ui/static/..%2f..%2fweb.py", "/ui/static//etc/passwd",
    "/ui/static/..\\..\\web.py", "/ui/static/", "/ui/static/vendor", "/ui/static/nope.js",
    "/ui/static/./app.js",
])
def test_nothing_outside_the_static_folder_is_served(server, path):
    status, headers, body = raw(server, path)
    assert status == 404 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["status"] == 404


def test_page_takes_get_and_head_only(server):
    status, headers, body = raw(server, "/", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD" and json.loads(body)["status"] == 405


def test_page_needs_no_token_but_the_api_does(guarded):
    assert raw(guarded, "/")[0] == 200 and raw(guarded, "/ui/static/app.js")[0] == 200
    status, headers, _ = raw(guarded, "/metrics/find?query=*")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    # the page's calls: a Bearer challenge only, or the browser would show its own dialog
    status, headers, _ = raw(guarded, "/metrics/find?query=*", headers={"X-Torus-Dashboard": "1"})
    assert status == 401 and headers.get_all("WWW-Authenticate") == ['Bearer realm="torus"']


# -- in the browser ---------------------------------------------------------------------------
def until(page, expression, timeout=15):
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function evaluates
    its predicate with eval(), which the page's Content-Security-Policy forbids, rightly.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError("still false after %ss: %s" % (timeout, expression))
        time.sleep(0.05)


def ready(page):
    """Wait until the page has loaded its tree and drawn every chart."""
    until(page, "window.torusDashboard && window.torusDashboard.ready !== undefined")
    page.evaluate("window.torusDashboard.ready")
    until(page, "window.torusDashboard.charts.every(c => c.element.dataset.status !== 'loading')")


def drawn(page):
    """What each chart drew: its series' names, its timestamps, its values (read from the page)."""
    return page.evaluate("""window.torusDashboard.charts.map(c => ({
        names: c.names, targets: c.targets, x: c.data[0], ys: c.data.slice(1),
        points: Number(c.element.dataset.points)}))""")


def set_window(page, start, end):
    page.fill("#from", "2013-03-01T%s" % start)
    page.fill("#until", "2013-03-01T%s" % end)
    page.click("#custom-range button[type=submit]")
    until(page, "location.hash.includes('from=%d')" % WINDOW[0])
    until(page, "window.torusDashboard.charts.every(c => c.element.dataset.status === 'ready')")


def test_tree_range_chart_and_shared_link(server, page, browser):
    page.goto(server.url + "/")
    ready(page)
    assert page.locator("#tree > li > button").all_inner_texts() == ["c", "g", "s", "t", "u"]
    page.click("#tree button[data-path=c]")
    page.click("#tree button[data-path='c.a']")
    until(page, "window.torusDashboard.charts.length === 1")
    set_window(page, "00:00", "01:00")
    [chart] = drawn(page)
    assert chart["targets"] == ["c.a"] and chart["names"] == ["c.a"]
    assert chart["x"] == list(range(T0 + 60, T0 + 3601, 60)) and chart["points"] == 60
    values = {x: y for x, y in zip(chart["x"], chart["ys"][0]) if y is not None}
    assert values == {T0 + 60: 2, T0 + 3600: 5}  # what /render answers for the same window
    status, answer = server.get("/render?target=c.a&format=json&from=%d&until=%d" % WINDOW)
    assert [[v, t] for v, t in answer[0]["datapoints"]] == [[y, x] for x, y in zip(chart["x"], chart["ys"][0])]
    assert page.locator(".chart .u-legend").count() == 1
    # hover: the legend shows the value under the cursor
    box = page.locator(".chart .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2)
    until(page, "document.querySelector('.u-legend .u-series:nth-child(2) .u-value').textContent === '5'")
    page.select_option("#refresh", "1m")
    screenshot(page, "dashboard-1280.png")

    link = page.url
    assert "g=c.a" in link and "from=%d" % WINDOW[0] in link and "refresh=1m" in link
    other = page.context.new_page()
    other.goto(link)
    ready(other)
    assert drawn(other) == [chart]
    assert other.input_value("#from") == "2013-03-01T00:00" and other.input_value("#refresh") == "1m"

    page.click("#ranges button:text('6h')")  # a preset: relative to now, where nothing is stored
    until(page, "location.hash.includes('from=-6h')")
    assert page.get_attribute("#ranges button:text('6h')", "aria-pressed") == "true"


def test_several_targets_with_functions_and_a_second_chart(server, page):
    page.goto(server.url + "/#from=%d&until=%d" % WINDOW)
    ready(page)
    page.fill("#query", "c.*")
    page.click("#search button[type=submit]")
    page.wait_for_selector("#results button:text('c.b')")
    assert page.locator("#results button").all_inner_texts() == ["c.a", "c.all", "c.b"]
    page.click("#results button:text('c.b')")
    page.click("#new-chart")
    page.fill("#query", "sumSeries(c.{a,b})")
    page.click("#plot")
    page.fill("#query", "scale(t.x,10)")
    page.click("#plot")
    until(page, "window.torusDashboard.charts.length === 2 && "
                           "window.torusDashboard.charts[1].names.length === 2")
    first, second = drawn(page)
    assert first["names"] == ["c.b"] and second["targets"] == ["sumSeries(c.{a,b})", "scale(t.x,10)"]
    sums = {x: y for x, y in zip(second["x"], second["ys"][0]) if y is not None}
    assert sums == {T0 + 60: 2, T0 + 120: 4, T0 + 3600: 5}  # c.a + c.b, bucket by bucket
    assert [y for y in second["ys"][1] if y is not None] == [20]
    page.fill("#query", "nope(c.a)")
    page.click("#plot")
    until(page, "window.torusDashboard.charts[1].element.dataset.status === 'error'")
    assert "unknown function 'nope'" in page.inner_text(".chart:nth-of-type(2) .status")
    page.click(".chart:nth-of-type(2) button[aria-label='Remove nope(c.a)']")
    assert "g=" in page.url and "nope" not in page.url


def test_interval_choice_draws_one_point_per_interval(server, page):
    """Interval 5 min over the hour: graphite-web's consolidation averages five minutes into
    each point; the choice is kept in the shared link."""
    page.goto(server.url + "/#g=c.a&from=%d&until=%d" % WINDOW)
    ready(page)
    assert drawn(page)[0]["points"] == 60  # auto: one point a minute (the chart is wider)
    page.select_option("#interval", "5m")
    until(page, "location.hash.includes('interval=5m')")
    until(page, "window.torusDashboard.charts[0].element.dataset.points === '12'")
    [chart] = drawn(page)
    assert {b - a for a, b in zip(chart["x"], chart["x"][1:])} == {300}
    status, answer = server.get("/render?target=c.a&format=json&from=%d&until=%d&maxDataPoints=12"
                                % WINDOW)
    assert [v for v, _ in answer[0]["datapoints"]] == chart["ys"][0]
    other = page.context.new_page()
    other.goto(page.url)
    ready(other)
    assert other.input_value("#interval") == "5m" and drawn(other) == [chart]


def test_keyboard_opens_the_tree_and_plots(server, page):
    page.goto(server.url + "/#from=%d&until=%d" % WINDOW)
    ready(page)
    page.focus("#tree button[data-path=c]")
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#tree button[data-path='c.a']")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.path") == "c.a"
    page.keyboard.press("Enter")
    until(page, "window.torusDashboard.charts.length === 1 && "
                           "window.torusDashboard.charts[0].element.dataset.status === 'ready'")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.dataset.path") == "c"
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#tree button[data-path=c]", "aria-expanded") == "false"
    for control in ["#query", "#refresh", "#from", "#until", "#token"]:  # every field has a label
        assert page.evaluate("document.querySelector('%s').labels.length" % control) == 1


def test_phone_width(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="UTC",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(server.url + "/#g=c.a%%0Ac.b&from=%d&until=%d" % WINDOW)
    ready(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    canvas = page.locator(".chart canvas").bounding_box()
    assert 250 <= canvas["width"] <= 390
    assert drawn(page)[0]["points"] == 60
    page.locator(".chart").scroll_into_view_if_needed()
    screenshot(page, "dashboard-390.png")
    context.close()


def test_token_prompt(guarded, page):
    page.goto(guarded.url + "/#g=c.a&from=%d&until=%d" % WINDOW)
    page.wait_for_selector("#token-box:not([hidden])")
    assert "needs a token" in page.inner_text("#token-reason")
    screenshot(page, "dashboard-token.png")
    page.fill("#token", "wrong")
    page.click("#token-form button[type=submit]")
    until(page, "document.querySelector('#token-reason').textContent.includes('not valid')")
    assert page.is_visible("#token-box")
    page.fill("#token", TOKEN)
    page.click("#token-form button[type=submit]")
    ready(page)
    assert page.is_hidden("#token-box")
    assert page.locator("#tree > li > button").all_inner_texts() == ["c"]  # its scope: c.*
    assert drawn(page)[0]["points"] == 60
    assert page.evaluate("sessionStorage.getItem('torus.token')") == TOKEN
    page.reload()  # the same tab keeps its token
    ready(page)
    assert page.is_hidden("#token-box") and drawn(page)[0]["points"] == 60
