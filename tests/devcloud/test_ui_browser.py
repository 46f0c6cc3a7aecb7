"""The side-by-side pages in a real browser: Debian's chromium, driven by
selenium, against the proxy serving real HTTP in front of devcloud. Each
page must show what Nova holds, and the token typed into it must stay in
the tab (sessionStorage), never in the URL, a cookie or localStorage.
A screenshot of each page lands in var/screenshots/."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fuzz import serving
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from users import token

from vnext_proxy.config import NovaSettings, Settings, TaskSettings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
# Debian's own builds: with both paths given, selenium never asks
# selenium-manager to download a browser or a driver.
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MEMBER_A = "alice"
MV = "2.100"
#: devcloud is slow: a page may wait on several Nova calls.
PAGE_TIMEOUT = 60


def api(sent: str | None = None) -> dict[str, str]:
    """Headers with the token ``sent``, or else alice's."""
    return {"X-Auth-Token": sent or token(MEMBER_A), "Accept": "application/json"}


@pytest.fixture(scope="module")
def endpoint(devcloud: str, mappings: MappingSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The proxy on a port of its own: a browser cannot reach a TestClient."""
    store = tmp_path_factory.mktemp("ui-browser") / "tasks.sqlite3"
    settings = Settings(
        nova=NovaSettings(endpoint=devcloud), store_url=f"sqlite:///{store}", tasks=TaskSettings(poll_interval=0.5)
    )
    with serving() as thread:
        yield thread.serve(create_app(settings, mappings))


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        reason = f"{' and '.join(missing)} missing: `make system-packages` installs chromium and chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    # The page itself 1400x1000, whatever the window's frame takes.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}
    )
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def server_id(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    booted: str = boot_server("ui-browser", flavor="1")
    yield booted
    forget_servers([booted])


@pytest.fixture(scope="module")
def small_type(endpoint: str) -> dict[str, Any]:
    types = requests.get(f"{endpoint}/server_types", headers=api(), timeout=60).json()["server_types"]
    small: dict[str, Any] = next(t for t in types if t["name"] == "m1.small")
    return small


@pytest.fixture(scope="module")
def resized(endpoint: str, server_id: str, small_type: dict[str, Any]) -> dict[str, Any]:
    """A RESIZE task to m1.small, started through the proxy, once COMPLETED."""
    resp = requests.post(
        f"{endpoint}/servers/{server_id}/tasks",
        json={"action": "RESIZE", "type_id": small_type["id"]},
        headers=api(),
        timeout=60,
    )
    assert resp.status_code == 202, resp.text
    task: dict[str, Any] = resp.json()
    deadline = time.monotonic() + 180
    while task["state"] == "RUNNING":
        assert time.monotonic() < deadline, f"the resize is still running: {task}"
        time.sleep(1)
        task = requests.get(f"{endpoint}/server_tasks/{task['id']}", headers=api(), timeout=60).json()
    assert task["state"] == "COMPLETED", task
    return task


# ---- driving a page -----------------------------------------------------------


def state(browser: WebDriver) -> str | None:
    return browser.find_element(By.TAG_NAME, "body").get_attribute("data-state")


def wait_for_answer(browser: WebDriver) -> str:
    WebDriverWait(browser, PAGE_TIMEOUT).until(lambda b: state(b) in ("loaded", "error"))
    return state(browser) or ""


def show(browser: WebDriver, url: str, typed: str | None = None) -> str:
    """Open ``url``, type the token ``typed`` (or else alice's), press Show; the page's final state."""
    browser.get(url)
    field = browser.find_element(By.ID, "token")
    field.clear()
    field.send_keys(typed or token(MEMBER_A))
    browser.find_element(By.ID, "show").click()
    return wait_for_answer(browser)


def loaded(browser: WebDriver, url: str) -> None:
    outcome = show(browser, url)
    assert outcome == "loaded", text(browser.find_element(By.ID, "error"))


def text(element: WebElement) -> str:
    """What the DOM holds, not how CSS shows it (badges are upper-cased)."""
    return (element.get_attribute("textContent") or "").strip()


def cell(row: WebElement, selector: str) -> str:
    return text(row.find_element(By.CSS_SELECTOR, selector))


def field_row(browser: WebDriver, field: str) -> WebElement:
    return browser.find_element(By.CSS_SELECTOR, f'#fields tr[data-field="{field}"]')


def screenshot(browser: WebDriver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def nova_server(nova_as, server_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    server: dict[str, Any] = nova_as(MEMBER_A).compute.get(f"/servers/{server_id}", microversion=MV).json()["server"]
    return server


# ---- the pages -------------------------------------------------------------------


def test_a_server_beside_novas_server(browser: WebDriver, endpoint: str, server_id: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    loaded(browser, f"{endpoint}/_compare/servers/{server_id}")
    nova = nova_server(nova_as, server_id)
    virt = field_row(browser, "virt_state")
    assert cell(virt, "td.vnext-value") == nova["OS-EXT-STS:vm_state"].upper()
    assert cell(virt, "td.nova-value") == nova["OS-EXT-STS:vm_state"]
    assert cell(virt, "td.nova-fields") == "OS-EXT-STS:vm_state"
    assert f"{nova['OS-EXT-STS:vm_state']} →" in cell(virt, "td.transform")
    # Nova's fields that no vNext field is made from, with Nova's values.
    unshown = requests.get(f"{endpoint}/_compare/servers/{server_id}", headers=api(), timeout=60).json()["nova_only"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#nova-only tr[data-nova-field]")
    assert [r.get_attribute("data-nova-field") for r in rows] == list(unshown)
    for key in ("created", "hostId"):
        (row,) = [r for r in rows if r.get_attribute("data-nova-field") == key]
        assert cell(row, "td.nova-value") == nova[key]
    href = browser.find_element(By.ID, "vnext-href").get_attribute("href") or ""
    assert href.endswith(f"/servers/{server_id}")
    # The Nova calls made for the page, as explain shows them.
    (call,) = browser.find_elements(By.CSS_SELECTOR, f'#nova-calls tr[data-path="/servers/{server_id}"]')
    assert (cell(call, "td.method"), cell(call, "td.status"), cell(call, "td.microversion")) == ("GET", "200", "2.100")
    assert cell(call, "td.request-id").startswith("req-")
    screenshot(browser, "compare-server")
    # The declared link opens the mapping file at the line that makes the field.
    declared = virt.find_element(By.CSS_SELECTOR, "td.declared a").get_attribute("href") or ""
    match = re.search(r"/_mappings/servers\.yaml#L(\d+)$", declared)
    assert match, declared
    browser.get(declared)
    assert "virt_state" in text(browser.find_element(By.ID, f"L{match[1]}"))


def test_a_server_type_beside_novas_flavor(
    browser: WebDriver, endpoint: str, small_type: dict[str, Any], nova_as
) -> None:  # type: ignore[no-untyped-def]
    loaded(browser, f"{endpoint}/_compare/server_types/{small_type['id']}")
    flavor = next(f for f in nova_as(MEMBER_A).compute.flavors() if f.name == "m1.small")
    memory = field_row(browser, "spec.memory_mb")
    assert cell(memory, "td.vnext-value") == cell(memory, "td.nova-value") == str(flavor.ram)
    assert cell(memory, "td.nova-fields") == "ram"
    assert cell(field_row(browser, "id"), "td.nova-value") == flavor.id
    screenshot(browser, "compare-server-type")


def test_a_resize_task_beside_novas_instance_action(
    browser: WebDriver, endpoint: str, server_id: str, resized: dict[str, Any], nova_as
) -> None:  # type: ignore[no-untyped-def]
    loaded(browser, f"{endpoint}/_compare/server_tasks/{resized['id']}")
    action = nova_instance_action(nova_as, server_id, resized["nova_request_id"])
    row = field_row(browser, "action")
    assert (
        (cell(row, "td.vnext-value"), cell(row, "td.nova-value"))
        == ("RESIZE", action["action"])
        == (
            "RESIZE",
            "resize",
        )
    )
    assert cell(field_row(browser, "nova_request_id"), "td.nova-value") == action["request_id"]
    assert cell(field_row(browser, "state"), "td.vnext-value") == "COMPLETED"
    screenshot(browser, "compare-task")


def nova_instance_action(nova_as, server_id: str, request_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    path = f"/servers/{server_id}/os-instance-actions/{request_id}"
    action: dict[str, Any] = nova_as(MEMBER_A).compute.get(path, microversion=MV).json()["instanceAction"]
    return action


def percent_of(style: str, prop: str) -> float:
    match = re.search(rf"(?<![-\w]){prop}:\s*([\d.]+)%", style)
    assert match, style
    return float(match[1])


def test_a_resize_task_on_a_timeline(
    browser: WebDriver, endpoint: str, server_id: str, resized: dict[str, Any], nova_as
) -> None:  # type: ignore[no-untyped-def]
    url = f"{endpoint}/_timeline/server_tasks/{resized['id']}"
    loaded(browser, url)
    timeline = requests.get(url, headers=api(), timeout=60).json()
    assert timeline["steps"], timeline
    steps = browser.find_elements(By.CSS_SELECTOR, "#steps .step")
    assert [s.get_attribute("data-action") for s in steps] == [s["action"] for s in timeline["steps"]]
    for element, step in zip(steps, timeline["steps"], strict=True):
        style = element.find_element(By.CSS_SELECTOR, ".bar").get_attribute("style") or ""
        left, width = percent_of(style, "left"), percent_of(style, "width")
        assert left >= 0, style
        assert width > 0, style
        assert left + width <= 100.001, style
        # Shown to 0.01 s, or to 0.1 s from 10 s on.
        shown_to = 0.1 if step["seconds"] >= 10 else 0.01
        assert float(cell(element, ".seconds").split()[0]) == pytest.approx(step["seconds"], abs=shown_to / 2 + 1e-9)
        assert cell(element, ".nova-states").startswith("".join(step["nova_task_states"]))
    action = nova_instance_action(nova_as, server_id, resized["nova_request_id"])
    by_start = sorted(action["events"], key=lambda e: e["start_time"])
    rows = browser.find_elements(By.CSS_SELECTOR, "#events tbody tr[data-event]")
    assert [r.get_attribute("data-event") for r in rows] == [e["event"] for e in by_start]
    assert [cell(r, "td.result") for r in rows] == [e["result"] for e in by_start]
    nova = nova_server(nova_as, server_id)
    now = text(browser.find_element(By.ID, "server-now"))
    assert f"vm_state{nova['OS-EXT-STS:vm_state']}" in now
    assert f"status{nova['status']}" in now
    assert text(browser.find_element(By.ID, "task-action")) == "RESIZE"
    screenshot(browser, "timeline")


def test_coverage_needs_no_token_and_counts_the_requests(browser: WebDriver, endpoint: str, server_id: str) -> None:
    made = 3
    for _ in range(made):
        assert requests.get(f"{endpoint}/servers/{server_id}", headers=api(), timeout=60).status_code == 200
    browser.get(f"{endpoint}/_coverage")
    browser.find_element(By.ID, "forget").click()
    browser.refresh()
    assert wait_for_answer(browser) == "loaded", text(browser.find_element(By.ID, "error"))
    assert browser.execute_script("return sessionStorage.getItem('vnext-token')") is None
    coverage = requests.get(f"{endpoint}/_coverage", headers={"Accept": "application/json"}, timeout=60).json()
    (wanted,) = [r for r in coverage["rows"] if r["route"] == "GET /servers/{server_id}"]
    (row,) = [
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#coverage tr[data-purpose]")
        if r.get_attribute("data-purpose") == wanted["purpose"]
    ]
    assert cell(row, "td.status") == "mapped" == wanted["status"]
    assert "status-mapped" in (row.find_element(By.CSS_SELECTOR, "td.status").get_attribute("class") or "")
    assert int(cell(row, "td.requests")) >= made
    assert re.fullmatch(r"4xx \d+(\.\d)?%5xx \d+(\.\d)?%", cell(row, "td.error-share"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#coverage tr[data-purpose]")) == len(coverage["rows"])
    for status in {r["status"] for r in coverage["rows"]}:
        count = sum(r["status"] == status for r in coverage["rows"])
        assert cell(browser.find_element(By.ID, "summary"), f'[data-status="{status}"] b') == str(count)
    inapplicable = next(r for r in coverage["rows"] if r["status"] == "not_applicable")
    shown = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "#coverage tr[data-status=not_applicable]")
        if r.get_attribute("data-purpose") == inapplicable["purpose"]
    )
    assert shown.get_attribute("title") == inapplicable["reason"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#extensions tbody tr")) == len(coverage["extensions"])
    screenshot(browser, "coverage")


def test_the_token_stays_in_the_tab(browser: WebDriver, endpoint: str, server_id: str) -> None:
    url = f"{endpoint}/_compare/servers/{server_id}"
    loaded(browser, url)
    assert token(MEMBER_A) not in browser.current_url
    assert browser.get_cookies() == []
    assert browser.execute_script("return localStorage.length") == 0
    assert browser.execute_script("return sessionStorage.getItem('vnext-token')") == token(MEMBER_A)
    assert token(MEMBER_A) not in browser.page_source
    # The next page load in the same tab reuses it, untyped.
    browser.refresh()
    assert wait_for_answer(browser) == "loaded"
    assert browser.find_elements(By.CSS_SELECTOR, '#fields tr[data-field="virt_state"]')
    browser.find_element(By.ID, "forget").click()
    assert browser.execute_script("return sessionStorage.getItem('vnext-token')") is None
    assert state(browser) == "idle"
    assert not browser.find_elements(By.ID, "fields")
    browser.refresh()
    assert state(browser) == "idle"


def test_a_wrong_token_shows_the_proxys_error(browser: WebDriver, endpoint: str, server_id: str) -> None:
    url = f"{endpoint}/_compare/servers/{server_id}"
    expected = requests.get(url, headers=api("not-a-devcloud-token"), timeout=60)
    assert expected.status_code == 401
    assert show(browser, url, typed="not-a-devcloud-token") == "error"
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed()
    assert expected.json()["error"]["message"] in text(error)
    assert re.fullmatch(r"req-[0-9a-f-]{36}", cell(error, ".request-id code"))
    assert not browser.find_elements(By.ID, "fields")
    browser.find_element(By.ID, "forget").click()
