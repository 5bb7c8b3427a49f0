"""The pipeline page (make ui, make flow) in a real browser: Playwright driving Debian's
headless chromium (.ci/run installs it; no browser is downloaded). The page is served by
`ddblab flow` as a user starts it, on a free port, against the test's stack: the chain shows
every function, a user POSTed through the API reaches the tail within 2 s and its journey
shows the replicated row, and a disabled mapping turns red with the command that fixes it.
The first test takes the screenshot the README shows: into the test's own folder on every run,
and into docs/flow.png with UPDATE_SCREENSHOT=1 (so a test run leaves the tree as it found it)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from ddblab.core.aws import mappings_of
from ddblab.core.settings import ROOT
from ddblab.core.waiting import wait_for
from ddblab.emulator import admin_ui
from ddblab.emulator.health import free_port, port_open
from tests.integration.helpers import http

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
README_SCREENSHOT = ROOT / "docs" / "flow.png"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("headless chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def serve(settings, tmp_path):
    """`ddblab flow` on a free port for the stack of `settings`, until the test ends."""
    port = free_port()
    env = {**os.environ, "AWS_ENDPOINT_URL": settings.endpoint_url, "STACK_PREFIX": settings.prefix, "NO_COLOR": "1"}
    log = open(tmp_path / "flow.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-m", "ddblab", "flow", "--port", str(port)], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        wait_for(lambda: port_open(port) or process.poll() is not None, f"ddblab flow to listen on {port}", timeout=60)
        assert process.poll() is None, (tmp_path / "flow.log").read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture
def page_of(browser, tmp_path):
    """page_of(settings): a browser page open on the pipeline page of that stack."""
    servers, pages = [], []

    def open_page(settings):
        server = serve(settings, tmp_path)
        url = next(server)
        servers.append(server)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        pages.append(page)
        page.goto(url)
        return page

    yield open_page
    for page in pages:
        page.close()
    for server in servers:
        server.close()


def node(page, node_id: str):
    return page.locator(f'[data-node="{node_id}"]')


def test_flow_page_chain_tail_and_journey_of_a_posted_user(live, page_of, email, tmp_path):
    prefix = live.settings.prefix
    # GIVEN the pipeline page of the test stack
    page = page_of(live.settings)
    # THEN the chain shows every function of the stack, the three of the design by name, and
    # doctor's verdict reaches them (a node is drawn grey until the first checks come)
    expected = {f"{prefix}users_api", f"{prefix}replicate", f"{prefix}audit"}
    assert expected <= {f.name for f in live.stack.functions}
    for function in {f.name for f in live.stack.functions}:
        node(page, f"function:{function}").wait_for(timeout=10_000)
    page.wait_for_selector(f'[data-node="function:{prefix}replicate"].pass', timeout=30_000)
    assert node(page, f"table:{prefix}users_by_location").is_visible()
    assert node(page, f"queue:{prefix}users-dlq").is_visible()
    assert live.api_url in node(page, "api").inner_text()

    # WHEN a user is POSTed through the API
    status, _ = http("POST", live.api_url, {"email": email, "state": "Ohio", "city": "Dayton", "zipcode": "45402"})
    posted = time.monotonic()
    assert status == 201
    # THEN its INSERT is in the tail within 2 s of the API's answer
    row = page.locator(f'#tail-rows tr[data-key="{email}"]')
    row.wait_for(timeout=2_000)
    assert time.monotonic() - posted < 2.0
    assert row.locator("td").nth(1).inner_text() == "INSERT"

    # WHEN the record is clicked, THEN its journey shows the diff, replicate's row in
    # users_by_location and audit's line about the record (clicked again until both consumers
    # have had it)
    replicated = page.locator(f'[data-consumer="{prefix}replicate"] [data-table="{prefix}users_by_location"].found')
    audited = page.locator(f'[data-consumer="{prefix}audit"] pre')

    def journey_shows_both():
        row.click()
        page.wait_for_selector(f'[data-consumer="{prefix}audit"]', timeout=5_000)
        return (replicated.count() == 1 and email in replicated.inner_text() and "Dayton" in replicated.inner_text()
                and '"audit": "INSERT"' in audited.inner_text() and email in audited.inner_text())

    wait_for(journey_shows_both, "the journey to show the replicated row and audit's line", timeout=30)
    diff = page.locator('[data-part="diff"]').inner_text()
    assert "Dayton" in diff and "45402" in diff
    shot = README_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "flow.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes().startswith(b"\x89PNG")


def test_flow_page_filters_pauses_and_shows_a_keys_history_with_its_diff(live, page_of, email):
    prefix = live.settings.prefix
    # GIVEN the pipeline page, and a user POSTed then moved through the API
    page = page_of(live.settings)
    page.locator("#tail-rows").wait_for(state="attached")
    assert http("POST", live.api_url, {"email": email, "state": "Ohio", "city": "Dayton", "zipcode": "45402"})[0] == 201
    page.locator(f'#tail-rows tr[data-key="{email}"]').wait_for(timeout=5_000)
    assert http("PATCH", f"{live.api_url}/{email}", {"city": "Akron", "zipcode": "44308"})[0] == 200
    rows = page.locator(f'#tail-rows tr[data-key="{email}"]')
    wait_for(lambda: rows.count() == 2, "the MODIFY in the tail", timeout=5)
    # WHEN the tail is filtered by the key and MODIFY, THEN only the move is shown
    page.fill("#filter-key", email)
    page.select_option("#filter-event", "MODIFY")
    assert [r.inner_text().split("\t")[1] for r in page.locator("#tail-rows tr").all()] == ["MODIFY"]
    page.select_option("#filter-event", "")
    # WHEN the tail is paused, THEN a new record waits until it is resumed
    page.click("#pause")
    assert http("PATCH", f"{live.api_url}/{email}", {"zipcode": "44309"})[0] == 200
    wait_for(lambda: page.evaluate("(key) => tail.filter((r) => r.keys.email === key).length", email) == 3,
             "the third record to reach the paused page", timeout=5)
    assert rows.count() == 2
    page.click("#pause")
    assert rows.count() == 3
    # WHEN the key's history is searched, THEN its three records are listed, oldest first, and
    # the move's journey shows old and new side by side, and replicate's row where it is now
    page.fill("#search-key", email)
    page.click("#search button")
    history = page.locator("#history tr")
    wait_for(lambda: history.count() == 3, "the key's history", timeout=5)
    assert [h.locator("td").nth(1).inner_text() for h in history.all()] == ["INSERT", "MODIFY", "MODIFY"]
    history.nth(1).click()
    city = page.locator('[data-part="diff"] tr.changed', has_text="city")
    city.wait_for(timeout=5_000)
    assert city.locator("td").all_inner_texts() == ["city", "Dayton", "Akron"]
    assert page.locator('[data-part="diff"] tr:not(.changed)', has_text="state").locator("td").all_inner_texts() == [
        "state", "Ohio", "Ohio"]
    # and the INSERT's journey: no row where it was placed then, the row of the moved user now
    # (clicked again until replicate has moved the row)
    now = page.locator(f'[data-consumer="{prefix}replicate"] [data-table-current="{prefix}users_by_location"]')

    def moved_row_shown():
        history.nth(0).click()
        page.wait_for_selector('[data-part="diff"] tr.changed >> text=zipcode', timeout=5_000)
        return now.count() == 1 and "Akron" in now.inner_text()

    wait_for(moved_row_shown, "the INSERT's journey to show the moved row", timeout=30)
    assert "44309" not in now.inner_text()  # zipcode is not copied


def test_flow_page_disabled_mapping_turns_red_with_the_fix(own, page_of):
    prefix = own.settings.prefix
    replicate = f"{prefix}replicate"
    # GIVEN the pipeline page of a stack of this test's own, all green
    page = page_of(own.settings)
    page.wait_for_selector(f'[data-node="mapping:{replicate}"].pass', timeout=30_000)
    # WHEN replicate's mapping is disabled
    lam = own.client("lambda")
    (mapping,) = mappings_of(lam, replicate)
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    # THEN its node turns red, with doctor's reason and the command that fixes it
    failed = page.locator(f'[data-node="mapping:{replicate}"].fail')
    failed.wait_for(timeout=30_000)
    text = failed.inner_text()
    assert "the function gets no records" in text
    assert "make bootstrap" in text
    assert node(page, f"mapping:{prefix}audit").get_attribute("class") == "node pass"


def test_make_ui_serves_the_pipeline_page_beside_dynamodb_admin(live, tmp_path):
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("make ui's dynamodb-admin needs Node.js and npm, which this machine lacks")
    admin_ui.install(quiet=True)
    admin, flow = free_port(), free_port()
    env = {**os.environ, "AWS_ENDPOINT_URL": live.settings.endpoint_url, "STACK_PREFIX": live.settings.prefix,
           "NO_COLOR": "1"}
    # GIVEN `ddblab ui` (make ui) started on two free ports
    with open(tmp_path / "ui.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "ddblab", "ui", "--port", str(admin), "--flow-port", str(flow)],
                                   cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            # THEN both answer: the pipeline page, and dynamodb-admin (its table list is drawn by
            # its scripts: test_ui.py opens it in chromium)
            wait_for(lambda: port_open(admin) and port_open(flow), "make ui's two pages to listen", timeout=60)
            status, page = get(f"http://127.0.0.1:{flow}/")
            assert status == 200 and "<title>ddb-streams-lab: the pipeline</title>" in page
            # dynamodb-admin's page lists every table of the emulator and describes each: under
            # make test, another worker's stack being removed meanwhile makes one describe fail, and
            # the page answers 500 (dist/backend.js, Promise.all). Asked again until it answers.
            status, tables = wait_for(lambda: get(f"http://127.0.0.1:{admin}/"), "dynamodb-admin's table list",
                                      timeout=30, transient=answered_500)
            assert status == 200 and "<title>DynamoDB Admin</title>" in tables
        finally:
            # WHEN it is stopped, THEN both stop
            process.terminate()
            process.wait(timeout=20)
    wait_for(lambda: not port_open(admin) and not port_open(flow), "both pages to stop listening", timeout=15)
    printed = (tmp_path / "ui.log").read_text()
    assert f"http://127.0.0.1:{admin}" in printed and f"http://127.0.0.1:{flow}" in printed


def answered_500(error: BaseException) -> bool:
    return isinstance(error, urllib.error.HTTPError) and error.code == 500


def get(url: str) -> tuple:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.status, answer.read().decode()
