"""The operator console in a real browser: headless Chromium driven through WebDriver
(selenium, Debian's chromium and chromium-driver) against a running service.

    .venv/bin/python tests/console/console_test.py BASE ADMIN_KEY [--screenshots DIR]

It makes its own wallets through the API (their labels start with a run id, so the test runs
on a database that holds others), then checks what an operator sees: the key asked for, the
wallet list, a chart whose numbers are the journal's, a hostile label shown as text, a
wallet-limited key's view, a voided hold, a reversed transfer, the live events, the back
button, an API error with its detail, labelled controls, a phone-width window. It prints the
time from navigation to a drawn chart (a report, not a check).
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

JSONAPI = "application/vnd.api+json"
HOSTILE = '<img src=x onerror="window.pwned=1">'
RUN = datetime.now(timezone.utc).strftime("c%H%M%S%f")


class Api:
    def __init__(self, base, key):
        self.base, self.key = base, key

    def call(self, method, path, body=None, expect=(200,)):
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.key}", "Accept": JSONAPI, "Content-Type": JSONAPI},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        assert status in expect, f"{method} {path}: {status} {text[:500]!r}"
        return json.loads(text) if text else None

    def create(self, type_name, attributes, relationships=None):
        data = {"type": type_name, "attributes": attributes}
        if relationships:
            data["relationships"] = {
                name: {"data": [{"type": t, "id": i} for t, i in target] if isinstance(target, list) else {"type": target[0], "id": target[1]}}
                for name, target in relationships.items()
            }
        return self.call("POST", f"/{type_name}", {"data": data}, expect=(201,))["data"]

    def wallet(self, label, currency="USD"):
        return self.create("wallets", {"label": label, "currency": currency})["id"]

    def book(self, wallet, amount, txid):
        return self.create("transactions", {"txid": txid, "amount": amount}, {"wallet": ("wallets", wallet)})

    def journal(self, wallet):
        entries, path = [], f"/wallets/{wallet}/balance-changes?page%5Bsize%5D=100"
        while path:
            page = self.call("GET", path)
            entries += page["data"]
            link = page.get("links", {}).get("next")
            path = link[len(self.base):] if link else None
        return entries


def browser(width=1280, height=800):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver, condition, what, seconds=20):
    try:
        return WebDriverWait(
            driver, seconds, poll_frequency=0.05, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
        ).until(lambda d: condition(d))
    except Exception as error:
        problem = driver.find_elements(By.ID, "problem")
        shown = problem[0].text if problem and problem[0].is_displayed() else ""
        raise AssertionError(f"waited {seconds} s for {what}; the page shows: {shown!r}; at {driver.current_url}") from error


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def sign_in(driver, base, key):
    driver.get(base + "/console")
    field = wait(driver, lambda d: d.find_element(By.ID, "key"), "the key to be asked for")
    field.clear()
    field.send_keys(key, Keys.ENTER)


def rows(driver, selector="main table tbody tr"):
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in css(driver, selector)]


def minute(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(second=0, microsecond=0)


def expected_buckets(journal):
    """Each minute of the journal: balance and held at its end, lowest and highest balance
    within it (from the balance it started with), computed here from the entries alone."""
    buckets = {}
    for entry in sorted(journal, key=lambda e: int(e["id"])):
        a = entry["attributes"]
        balance, start = Decimal(a["balance"]), Decimal(a["balance"]) - Decimal(a["delta"])
        bucket = buckets.setdefault(minute(a["changedAt"]), {"min": start, "max": start})
        bucket.update(balance=balance, held=Decimal(a["held"]))
        bucket["min"], bucket["max"] = min(bucket["min"], balance), max(bucket["max"], balance)
    return buckets


def show_wallet(base, key, wallet, screenshots):
    """The time from navigation to a drawn chart of one wallet, per range, as JSON (the
    page's own clock: navigation start to the chart in the page); screenshots if asked (a
    window tall enough for the numbers and the whole chart, and a phone's)."""
    driver = browser(1280, 1040)
    timings = {}
    try:
        sign_in(driver, base, key)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "main h1"), "the console")
        for name in ("day", "30d", "all"):
            driver.get(f"{base}/console?wallet={wallet}&range={name}")
            chart = wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#chart[data-drawn]"), "the chart", 120)
            timings[name] = {"ms": round(float(chart.get_attribute("data-drawn"))),
                             "buckets": int(chart.get_attribute("data-buckets")),
                             "bucketSize": chart.get_attribute("data-bucket-size")}
        if screenshots:
            Path(screenshots).mkdir(parents=True, exist_ok=True)
            driver.get(f"{base}/console?wallet={wallet}")
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart[data-drawn]"), "the chart")
            driver.save_screenshot(str(Path(screenshots) / "console-wallet.png"))
            driver.set_window_size(390, 844)
            driver.refresh()
            wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart[data-drawn]"), "the chart")
            driver.save_screenshot(str(Path(screenshots) / "console-wallet-phone.png"))
    finally:
        driver.quit()
    print(json.dumps(timings))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("key")
    parser.add_argument("--screenshots")
    parser.add_argument("--wallet", help="only time and photograph this wallet's page (no checks)")
    args = parser.parse_args()
    base, api = args.base.rstrip("/"), Api(args.base.rstrip("/"), args.key)
    if args.wallet:
        return show_wallet(base, args.key, args.wallet, args.screenshots)

    # The ledger the browser is shown.
    hostile = api.wallet(f"{RUN} {HOSTILE}")
    busy = api.wallet(f"{RUN} client account")
    other = api.wallet(f"{RUN} settlement")
    for n, amount in enumerate(["100.00", "50.25", "-120.00", "30.00", "7.50"]):
        api.book(busy, amount, f"{RUN}-{n}")
    hold = api.create("holds", {"amount": "20.00"}, {"wallet": ("wallets", busy)})["id"]
    transfer = api.create("transfers", {"txid": f"{RUN}-t", "amount": "12.00"}, {"source": ("wallets", busy), "destination": ("wallets", other)})["id"]
    api.book(other, "5.00", f"{RUN}-other")
    limited_key = api.call(
        "POST",
        "/api-keys",
        {"data": {"type": "api-keys", "attributes": {"name": f"console-{RUN}", "scopes": ["read"]},
                  "relationships": {"wallets": {"data": [{"type": "wallets", "id": other}]}}}},
        expect=(201,),
    )["meta"]["secret"]

    driver = browser()
    checks = []

    def check(name):
        checks.append(name)
        print(f"console: {name}")

    try:
        # The key is asked for; nothing is shown or fetched without it.
        driver.get(base + "/console")
        wait(driver, lambda d: d.find_elements(By.ID, "key"), "the key form")
        assert driver.switch_to.active_element.get_attribute("id") == "key", "the key field has the focus"
        assert not css(driver, "main table"), "no table before a key"
        assert driver.execute_script("return sessionStorage.length") == 0
        check("the key is asked for, with the focus in its field")

        # Signed in: the wallet list, searched by label.
        sign_in(driver, base, args.key)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "main table tbody tr"), "the wallet list")
        assert driver.execute_script("return sessionStorage.getItem('wallet-api.key')") == args.key
        assert args.key not in driver.current_url
        search = driver.find_element(By.ID, "search-label")
        search.send_keys(RUN, Keys.ENTER)
        wait(driver, lambda d: "label=" in d.current_url and len(rows(d)) == 3, "the three wallets of this run")
        listed = {row[0]: row for row in rows(driver)}
        assert set(listed) == {hostile, busy, other}, listed
        detail = api.call("GET", f"/wallets/{busy}")["data"]["attributes"]
        assert listed[busy][3:6] == [detail["balance"], detail["held"], detail["available"]], listed[busy]
        cell = css(driver, f"tr[data-id='{busy}'] td")[3]
        assert cell.value_of_css_property("text-align") in ("right", "end"), "money is right-aligned"
        check("the wallet list renders, searched by label, money right-aligned at the currency's scale")

        # A hostile label is text, and runs nothing.
        label_cell = css(driver, f"tr[data-id='{hostile}'] td")[1]
        assert label_cell.text == f"{RUN} {HOSTILE}", label_cell.text
        assert not css(driver, "main img"), "the label made an element"
        assert driver.execute_script("return window.pwned") is None
        check("a label <img src=x onerror=...> shows as text and runs nothing")

        # A wallet: its numbers and a chart whose numbers are its journal's.
        list_url = driver.current_url
        started = time.perf_counter()
        driver.find_element(By.CSS_SELECTOR, f"tr[data-id='{busy}'] a").click()
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart[data-drawn]"), "the chart")
        drawn_ms = (time.perf_counter() - started) * 1000
        assert driver.find_element(By.ID, "wallet-balance").text.startswith(detail["balance"])
        assert driver.find_element(By.ID, "wallet-held").text.startswith("20.00")
        chart = driver.find_element(By.ID, "chart")
        assert chart.get_attribute("data-bucket-size") == "1m"
        buckets = int(chart.get_attribute("data-buckets"))
        assert buckets >= 1
        points = driver.find_element(By.CSS_SELECTOR, "#chart polyline.balance").get_attribute("points").split()
        assert len(points) == 3 * buckets - 1, (len(points), buckets)
        journal = api.journal(busy)
        expected = expected_buckets(journal)
        driver.execute_script("document.querySelector('#chart details').open = true")
        shown = {}
        for row in css(driver, "#chart details tbody tr"):
            start = row.find_element(By.TAG_NAME, "time").get_attribute("datetime")
            cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
            shown[minute(start)] = [Decimal(v) for v in cells[1:]]
        for moment, bucket in expected.items():
            assert moment in shown, f"the chart has no bucket at {moment}: {sorted(shown)}"
            balance, held, available, low, high = shown[moment]
            assert (balance, held, low, high) == (bucket["balance"], bucket["held"], bucket["min"], bucket["max"]), (moment, shown[moment], bucket)
            assert available == balance - held
        last = max(shown)
        assert shown[last][0] == Decimal(detail["balance"]), "the last bucket ends at today's balance"
        check(f"a wallet with a known journal ({len(journal)} entries) draws a chart whose points match it")
        print(f"console: from navigation to a drawn chart: {drawn_ms:.0f} ms ({len(journal)} journal entries, {buckets} one-minute buckets)")

        # The wallet's sections.
        journal_rows = rows(driver, "#journal tbody tr")
        assert len(journal_rows) == min(10, len(journal)) and "api" in journal_rows[0], journal_rows[0]
        assert len(rows(driver, "#transactions tbody tr")) == 6
        assert rows(driver, "#transfers tbody tr")[0][2] == "out"
        hold_row = rows(driver, "#holds tbody tr")[0]
        assert hold_row[2] == "pending" and hold_row[4] == "never", hold_row
        assert not rows(driver, "#revisions tbody tr"), "the wallet's changes wait to be asked for"
        driver.find_element(By.CSS_SELECTOR, "button[data-action='load-revisions']").click()
        wait(driver, lambda d: rows(d, "#revisions tbody tr"), "the wallet's changes")
        created = rows(driver, "#revisions tbody tr")[0]
        assert created[:2] == ["1", "wallet.created"] and created[3] == f"{RUN} client account", created
        check("the wallet's holds, transactions, transfers, journal (origin api) and changes are listed")

        if args.screenshots:
            Path(args.screenshots).mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(Path(args.screenshots) / "console-wallet.png"))

        # Void the hold, behind a confirmation; cancelling first changes nothing.
        driver.find_element(By.CSS_SELECTOR, f"button[data-action='void'][data-hold='{hold}']").click()
        dialog = wait(driver, lambda d: d.find_element(By.ID, "confirm") if d.find_element(By.ID, "confirm").is_displayed() else None, "the confirmation")
        dialog.find_element(By.CSS_SELECTOR, "button[value='cancel']").click()
        assert api.call("GET", f"/holds/{hold}")["data"]["attributes"]["status"] == "pending"
        driver.find_element(By.CSS_SELECTOR, f"button[data-action='void'][data-hold='{hold}']").click()
        wait(driver, lambda d: d.find_element(By.ID, "confirm").is_displayed(), "the confirmation")
        driver.find_element(By.ID, "confirm-yes").click()
        wait(driver, lambda d: d.find_element(By.ID, "wallet-held").text.startswith("0.00"), "the held amount to fall")
        assert api.call("GET", f"/holds/{hold}")["data"]["attributes"]["status"] == "voided"
        assert api.call("GET", f"/wallets/{busy}")["data"]["attributes"]["held"] == "0.00"
        check("a voided hold (confirmed; a cancel first changes nothing) leaves the wallet's held amount")

        # Reverse the transfer, its amount proposed.
        driver.find_element(By.CSS_SELECTOR, f"button[data-action='reverse'][data-transfer='{transfer}']").click()
        wait(driver, lambda d: d.find_element(By.ID, "confirm").is_displayed(), "the confirmation")
        assert driver.find_element(By.ID, "reverse-amount").get_attribute("value") == "12.00"
        driver.find_element(By.ID, "confirm-yes").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, f"button[data-transfer='{transfer}']"), "the reversal")
        assert api.call("GET", f"/transfers/{transfer}")["data"]["attributes"]["reversedAmount"] == "12.00"
        check("a transfer reversed from the console, confirmed")

        # The back button returns to the list as it was.
        driver.back()
        wait(driver, lambda d: d.current_url == list_url and len(rows(d)) == 3, "the list again")
        assert driver.find_element(By.ID, "search-label").get_attribute("value") == RUN
        driver.forward()
        wait(driver, lambda d: d.find_elements(By.ID, "wallet-balance"), "the wallet again")
        check("the back button returns to the list; forward to the wallet")

        # A shared link opens the same view.
        driver.get(f"{base}/console?wallet={other}&range=30d")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart[data-drawn]"), "the chart over 30 days")
        assert driver.find_element(By.ID, "chart").get_attribute("data-bucket-size") == "1h"
        check("a shared link opens its view (a wallet over 30 days)")

        # Live events: a booking made while the page follows the stream shows up.
        driver.get(base + "/console?view=events")
        wait(driver, lambda d: "Following" in d.find_element(By.ID, "stream-state").text, "the stream")
        booked = api.book(other, "1.25", f"{RUN}-live")
        wait(driver, lambda d: any(r[1] == "transaction.created" and r[7] == f"transactions {booked['id']}" for r in rows(d, "#events-table tbody tr")), "the live event")
        check("the live events page shows a booking as it happens")

        # Webhooks and keys (admin) render; an API error is shown with its detail.
        driver.get(base + "/console?view=keys")
        wait(driver, lambda d: any(r[1] == f"console-{RUN}" for r in rows(d)), "the API keys")
        endpoint = api.create("webhook-endpoints", {"url": "http://127.0.0.1:9/console-test", "status": "disabled", "description": HOSTILE})["id"]
        driver.get(base + "/console?view=webhooks")
        wait(driver, lambda d: any(r[0] == endpoint for r in rows(d)), "the webhook endpoint")
        shown = next(r for r in rows(driver) if r[0] == endpoint)
        assert shown[2] == "disabled" and shown[4] == "up to date" and shown[6] == HOSTILE, shown
        driver.find_element(By.CSS_SELECTOR, f"tr[data-id='{endpoint}'] a").click()
        wait(driver, lambda d: f"endpoint={endpoint}" in d.current_url and "No delivery." in d.find_element(By.ID, "main").text, "its delivery log")
        api.call("DELETE", f"/webhook-endpoints/{endpoint}", expect=(204,))
        driver.get(base + "/console?wallet=999999999999")
        problem = wait(driver, lambda d: d.find_element(By.ID, "problem") if d.find_element(By.ID, "problem").is_displayed() else None, "the error")
        assert "404" in problem.text and "999999999999" in problem.text, problem.text
        check("the keys, a webhook endpoint and its delivery log render; a missing wallet shows the API's 404 and its detail")

        # Every control has a label; focus is visible.
        for page in ("/console", "/console?view=events", f"/console?wallet={busy}"):
            driver.get(base + page)
            wait(driver, lambda d: not d.find_element(By.ID, "main").get_attribute("aria-busy") and d.find_elements(By.CSS_SELECTOR, "main h1"), page)
            unlabelled = driver.execute_script(
                "return [...document.querySelectorAll('input, select, textarea')].filter(e => !e.labels || !e.labels.length).map(e => e.id || e.name)")
            assert unlabelled == [], (page, unlabelled)
        first_link = driver.find_element(By.CSS_SELECTOR, ".bar nav a")
        driver.execute_script("arguments[0].focus()", first_link)
        outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", outline
        # The keyboard alone: from the search field, Tab reaches a wallet, Enter opens it.
        driver.get(f"{base}/console?label={RUN}")
        wait(driver, lambda d: len(rows(d)) == 3, "the list")
        driver.find_element(By.ID, "search-label").click()
        for _ in range(12):
            driver.switch_to.active_element.send_keys(Keys.TAB)
            if driver.switch_to.active_element.get_attribute("href") and "wallet=" in driver.switch_to.active_element.get_attribute("href"):
                break
        target = driver.switch_to.active_element.get_attribute("href")
        assert target and "wallet=" in target, target
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait(driver, lambda d: d.current_url == target and d.find_elements(By.ID, "wallet-balance"), "the wallet, by keyboard")
        check("every control is labelled, the focus is visible, the keyboard alone opens a wallet")

        # Forgetting the key; a wallet-limited key sees its wallet alone.
        driver.find_element(By.ID, "forget").click()
        wait(driver, lambda d: d.find_elements(By.ID, "key"), "the key form again")
        assert driver.execute_script("return sessionStorage.getItem('wallet-api.key')") is None
        sign_in(driver, base, limited_key)
        wait(driver, lambda d: len(rows(d)) >= 1 and not d.find_element(By.ID, "main").get_attribute("aria-busy"), "the limited list")
        assert [row[0] for row in rows(driver)] == [other], rows(driver)
        driver.get(f"{base}/console?wallet={busy}")
        problem = wait(driver, lambda d: d.find_element(By.ID, "problem") if d.find_element(By.ID, "problem").is_displayed() else None, "the refusal")
        assert "404" in problem.text, problem.text
        check("a wallet-limited key sees only its wallet, and another's is not found")

        # Nothing was loaded from another origin; nothing was logged as a policy violation.
        origins = driver.execute_script("return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)")
        assert set(origins) <= {base}, origins
        violations = [entry for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
        assert not violations, violations

        # A phone-width window: nothing wider than the screen but the tables' own scroll.
        driver.set_window_size(390, 844)
        driver.find_element(By.ID, "forget").click()
        sign_in(driver, base, args.key)
        driver.get(f"{base}/console?wallet={busy}")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#chart[data-drawn]"), "the chart on a phone")
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than the window"
        if args.screenshots:
            driver.save_screenshot(str(Path(args.screenshots) / "console-wallet-phone.png"))
        check("a phone-width window shows the wallet without sideways scrolling")
    finally:
        driver.quit()
    print(f"console: {len(checks)} checks passed in Chromium")


if __name__ == "__main__":
    sys.exit(main())
