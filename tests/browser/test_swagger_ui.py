"""Swagger UI renders its operations in a real headless Chromium with no network.

Run by `make test-browser` (it installs Debian's chromium when missing and the
pinned playwright, which drives that Chromium; playwright downloads no browser).
The app is served on loopback by a real HTTP server; every request the page
makes to any other origin is refused and recorded, host names do not resolve,
and any CSP violation or script error fails the check.
"""
import json
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (root in CI), and nothing that would phone home on its own.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-browser`, which installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context()
        yield context.new_page()
        context.close()
        browser.close()


def test_swagger_ui_renders_every_operation_offline(page, served, app_ctx, client, tmp_path):
    operations = sum(1 for item in client.get("/api/openapi.json").get_json()["paths"].values()
                     for method in item if method in {"get", "post", "put", "patch", "delete"})
    foreign, problems = [], []

    def only_this_origin(route):
        if route.request.url.startswith(served + "/"):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_origin)
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.add_init_script(REPORT_CSP_VIOLATIONS)

    page.goto(f"{served}/api/docs")
    page.wait_for_selector(".opblock", timeout=30_000)

    assert page.locator(".opblock").count() == operations
    assert "Evently API" in page.locator(".info .title").inner_text()
    assert page.locator(".opblock-summary-path", has_text="/api/bookings").count() >= 1

    # Try it out: the page may call the API on its own origin (connect-src 'self').
    index = page.locator(".opblock-get", has=page.locator(".opblock-summary-path[data-path='/api']"))
    index.locator(".opblock-summary").click()
    index.locator("button.try-out__btn").click()
    index.locator("button.execute").click()
    status = page.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip() == "200"

    page.screenshot(path=str(tmp_path / "swagger-ui.png"), full_page=False)
    assert foreign == [], f"requests to other origins: {foreign}"
    assert problems == [], problems


def operation_block(page, method, path):
    return page.locator(f".opblock-{method}", has=page.locator(f".opblock-summary-path[data-path='{path}']"))


def test_try_it_out_starts_from_the_examples_and_errors_show_their_codes(page, served):
    """What the OpenAPI document's examples look like where a newcomer meets them."""
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(served + "/")
               else route.abort())
    page.goto(f"{served}/api/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    booking = operation_block(page, "post", "/api/bookings")
    booking.locator(".opblock-summary").click()

    created = json.loads(booking.locator("tr.response[data-code='201'] .highlight-code").first.inner_text())
    conflict = booking.locator("tr.response[data-code='409']").inner_text()
    booking.locator("button.try-out__btn").click()
    body = json.loads(booking.locator("textarea.body-param__text").input_value())
    event = operation_block(page, "get", "/api/events/{event_id}")
    event.locator(".opblock-summary").click()
    event.locator("button.try-out__btn").click()

    assert body == {"eventId": 1, "quantity": 2, "allowPartial": True, "joinWaitlist": True}
    assert "bookingReference" in created["data"]["booking"]  # a nullable object drawn as itself, not {}
    assert "SOLD_OUT" in conflict and "No seats are left for this event." in conflict
    assert event.locator("tr[data-param-name='event_id'] input").input_value() == "1"
