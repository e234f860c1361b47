"""The dashboard in a real browser (Playwright driving Debian's headless Chromium) against a
two-node `raylite start` cluster with a workload in progress.

Skipped, saying why, only when Playwright or /usr/bin/chromium is missing (`.ci/run` installs
both). Screenshots go to the test's tmp directory, or to $RAYLITE_DASHBOARD_SCREENSHOTS
(the one in docs/ was made so).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.state_cluster import StateCluster, state_cluster

CHROMIUM = "/usr/bin/chromium"

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install playwright)"),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"),
]

WORKLOAD = """
import sys, threading, time
import numpy as np
import raylite as ray

ray.init(address="auto", log_to_driver=False)  # its stdout is READY and DONE only

@ray.remote
def shout():
    print("a line for the logs page", flush=True)

@ray.remote
def tick(i):
    time.sleep(0.3)  # the workload's own pace: tasks that take a moment, so some are always running
    return i

@ray.remote
class Pinger:
    def ping(self):
        return "pong"

ray.get(shout.remote())
pinger = Pinger.options(name="pinger").remote()
assert ray.get(pinger.ping.remote()) == "pong"
big = ray.put(np.zeros(2_000_000, dtype=np.uint8))
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
first = True
while not stop.is_set():
    assert ray.get([tick.remote(i) for i in range(3)]) == [0, 1, 2]
    if first:
        print("READY", flush=True)
        first = False
print("DONE", flush=True)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateCluster]:
    # listening on every interface, the dashboard asks for the token
    with state_cluster(tmp_path_factory.mktemp("dash"), [{"cpus": 1}], head_cpus=1, dashboard_host="0.0.0.0") as c:
        driver = c.driver(WORKLOAD)
        try:
            line = driver.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("READY"), driver.stderr.read()  # type: ignore[union-attr]
            yield c
        finally:
            stdout, stderr = driver.communicate("stop\n", timeout=120)
            assert driver.returncode == 0 and "DONE" in stdout, stderr


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("RAYLITE_DASHBOARD_SCREENSHOTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def base(cluster: StateCluster) -> str:
    return f"http://127.0.0.1:{cluster.dashboard_port}"


def api(cluster: StateCluster, path: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(base(cluster) + path)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_head_printed_where_the_dashboard_is(cluster: StateCluster) -> None:
    assert f":{cluster.dashboard_port}" in cluster.head_stdout  # type: ignore[attr-defined]
    assert "View the dashboard at" in cluster.head_stdout  # type: ignore[attr-defined]


def test_a_request_without_the_token_is_refused(cluster: StateCluster) -> None:
    status, body = api(cluster, "/api/status")
    assert status == 401 and "token" in body["error"]
    status, body = api(cluster, "/api/tasks", token="not-the-token")
    assert status == 401
    status, body = api(cluster, "/api/status", token=cluster.token)
    assert status == 200 and len(body["result"]["nodes"]) == 2


def test_every_page_in_a_browser(cluster: StateCluster, shots: Path) -> None:
    status, known = api(cluster, "/api/tasks?filter=name=tick&filter=state=FINISHED&limit=1", token=cluster.token)
    assert status == 200 and known["result"], known
    task_id = known["result"][0]["task_id"]
    with sync_playwright() as p:  # type: ignore[misc]
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            # without the token: the login page, not the dashboard
            stranger = browser.new_page()
            stranger.goto(base(cluster) + "/")
            expect(stranger.locator("input[name=token]")).to_be_visible()
            assert stranger.url.endswith("/login")
            stranger.close()

            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base(cluster) + f"/?token={cluster.token}#overview")
            assert "token" not in page.url  # the token went into a cookie, out of the address bar
            overview(page, shots)
            tasks(page, task_id, shots)
            actors(page, shots)
            objects(page, shots)
            placement_groups(page, shots)
            logs(page, cluster, shots)
        finally:
            browser.close()


def overview(page: Page, shots: Path) -> None:
    expect(page.get_by_test_id("nodes-alive")).to_have_text("2")
    expect(page.get_by_test_id("resource-CPU")).to_contain_text("/ 2")
    expect(page.locator("#nodes-table tbody tr")).to_have_count(2)
    expect(page.locator("#nodes-table")).to_contain_text("head")
    finished = page.get_by_test_id("tasks-finished")
    expect(finished).not_to_have_text("")
    before = finished.text_content()
    # live: the number changes without a reload, as the workload's tasks finish
    page.wait_for_function(
        "before => document.querySelector('[data-testid=tasks-finished]').textContent !== before",
        arg=before,
        timeout=60_000,
    )
    assert int(finished.text_content() or 0) > int(before or 0)
    expect(page.locator("[data-testid$=-store]").first).to_contain_text("MiB")
    page.screenshot(path=str(shots / "dashboard.png"))


def tasks(page: Page, task_id: str, shots: Path) -> None:
    page.click("nav a[data-page=tasks]")
    expect(page.locator("#task-summary")).to_contain_text("tick")
    expect(page.get_by_test_id("state-FINISHED")).not_to_have_text("")
    page.fill("#task-search", task_id)
    rows = page.locator("#tasks-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(task_id[:12])
    rows.first.click()
    detail = page.locator("#task-detail")
    expect(detail).to_contain_text(task_id)
    expect(detail).to_contain_text("Story")
    story = detail.locator(".story li")
    expect(story.last).to_contain_text("FINISHED")
    if "ran on a lease" in detail.inner_text():  # RAYLITE_TASK_LEASES=1: the head never queued it
        expect(story).to_have_count(3)  # NEW, RUNNING, FINISHED, all from its submitter's record
        expect(detail).to_contain_text("its lease's answer was recorded")
    else:
        expect(story).to_have_count(4)  # NEW, READY, RUNNING, FINISHED
        expect(detail).to_contain_text("its results arrived")
    page.screenshot(path=str(shots / "dashboard-tasks.png"))
    page.fill("#task-search", "no-task-is-called-this")
    expect(rows).to_have_count(0)


def actors(page: Page, shots: Path) -> None:
    page.click("nav a[data-page=actors]")
    row = page.locator("#actors-table tbody tr", has_text="Pinger")
    expect(row).to_contain_text("ALIVE")
    expect(row).to_contain_text("pinger")
    row.click()
    expect(page.locator("#actor-detail")).to_contain_text("Story")
    page.screenshot(path=str(shots / "dashboard-actors.png"))


def objects(page: Page, shots: Path) -> None:
    page.click("nav a[data-page=objects]")
    expect(page.locator("#objects-table tbody")).to_contain_text("1.9 MiB")
    page.screenshot(path=str(shots / "dashboard-objects.png"))


def placement_groups(page: Page, shots: Path) -> None:
    page.click("nav a[data-page=placement-groups]")
    expect(page.locator("#pgs-table")).to_contain_text("No placement groups.")
    assert page.locator("#page-overview").is_hidden()


def logs(page: Page, cluster: StateCluster, shots: Path) -> None:
    # where the line is: the node and executor file the API finds it in (the page is then told to show it)
    status, nodes = api(cluster, "/api/nodes", token=cluster.token)
    assert status == 200, nodes
    where = None
    for node in nodes["result"]:
        status, listing = api(cluster, f"/api/logs?node={node['node_id']}", token=cluster.token)
        assert status == 200, listing
        for f in listing["result"]["files"]:
            if f["name"].endswith(".out"):
                _, got = api(cluster, f"/api/logs/file?node={node['node_id']}&name={f['name']}", token=cluster.token)
                if "a line for the logs page" in got["result"]["data"]:
                    where = (node["node_id"], f["name"])
    assert where is not None, "no executor log of either node holds the line shout printed"
    status, refused = api(cluster, f"/api/logs/file?node={where[0]}&name=..%2Fhead.log", token=cluster.token)
    assert status == 400 and "not the name of a file" in refused["error"]
    page.click("nav a[data-page=logs]")
    page.select_option("#log-node", where[0])
    row = page.locator("#log-files tbody tr", has_text=where[1])
    expect(row).to_have_count(1)
    row.click()
    expect(page.get_by_test_id("log-text")).to_contain_text("a line for the logs page")
    expect(page.locator("#log-name")).to_have_text(where[1])
    page.screenshot(path=str(shots / "dashboard-logs.png"))
