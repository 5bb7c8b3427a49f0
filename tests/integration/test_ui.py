"""make ui: dynamodb-admin against the emulator, opened in headless Chromium (Debian's
chromium), shows both tables and a user written to users. Needs Node.js and chromium:
.ci/run installs chromium; without Node.js (or chromium outside CI) the test says so and skips."""
from __future__ import annotations

import os
import shutil
import subprocess
from urllib.parse import quote

import pytest

from ddblab.core.waiting import wait_for
from ddblab.emulator import admin_ui
from ddblab.emulator.health import free_port, port_open
from tests.integration.helpers import user_item

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--virtual-time-budget=5000"]


def page(url: str) -> str:
    """The page's DOM after its scripts ran, as Chromium renders it."""
    result = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    return result.stdout


@pytest.fixture
def admin(live, tmp_path):
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("make ui needs Node.js and npm, which this machine lacks")
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("headless chromium is not installed (apt-get install -y chromium)")
    admin_ui.install(quiet=True)
    port = free_port()
    with open(tmp_path / "dynamodb-admin.log", "wb") as log:
        process = admin_ui.start(live.settings, port, log=log)
        try:
            wait_for(lambda: port_open(port), f"dynamodb-admin to listen on {port}", timeout=30)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_ui_in_headless_chromium_shows_both_tables_and_a_user(live, admin, email):
    # GIVEN a user in the users table
    live.dynamodb.put_item(TableName=live.names.users, Item=user_item(email))
    # WHEN the tables page, the users table and the user's item are opened in the browser
    # (the table page shows its first page of items only: on a busy test stack the user
    # may be further on, so the user is looked at on its own item page too)
    tables = page(admin + "/")
    users = page(f"{admin}/tables/{quote(live.names.users)}")
    item = page(f"{admin}/tables/{quote(live.names.users)}/items/{quote(email)}")
    # THEN both tables are listed, the users table opens, and the user is shown. By their links:
    # the users table's name is part of the target's, and a table that does not open shows an
    # error that names it; only an opened table has its meta page link.
    for table in (live.names.users, live.names.target):
        assert f'href="/tables/{quote(table)}"' in tables, table
    assert f'href="/tables/{quote(live.names.users)}/meta"' in users
    assert email in item
