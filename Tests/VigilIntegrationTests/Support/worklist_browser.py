#!/usr/bin/env python3
"""Drives the worklist page of `vigil api` in a real headless Chromium (Debian's chromium, through
chromedriver) as a counselor would: sign in with a token, find the overdue escalation in red, take
it, open the client's page, record a reached contact on a follow-up. Also posts a form without its
CSRF token (with the signed-in session's cookie) and reports the status.

Usage: worklist_browser.py BASE_URL TOKEN SCREENSHOT_DIR

Prints one JSON object: what the page showed at each step, the screenshots saved (phone and desktop
widths), every browser console entry, and the CSRF probe's status. Exit 0 when every step worked;
1 otherwise; 77 when selenium, chromium or chromedriver is missing (the caller skips loudly).
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ among the test sources (SwiftPM would warn)
import headless_chromium  # noqa: E402

PHONE = (390, 844)
DESKTOP = (1280, 900)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Reports a redirect (as an HTTPError) instead of following it."""

    def redirect_request(self, *args):
        return None


def main():
    base, token, out = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    driver, missing = headless_chromium.start(*PHONE)
    if driver is None:
        print(json.dumps({"skip": missing}))
        return 77
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def submit(button):
        """Clicks a form's button and waits until the browser has left the page (the POST is sent
        and answered), so that nothing runs ahead of it."""
        page = driver.find_element(By.TAG_NAME, "html")
        button.click()
        WebDriverWait(driver, 15).until(expected_conditions.staleness_of(page))

    os.makedirs(out, exist_ok=True)
    result = {"screenshots": [], "problems": [], "pages": []}

    def shoot(name):
        for label, (width, height) in [("phone", PHONE), ("desktop", DESKTOP)]:
            driver.set_window_size(width, height)
            path = os.path.join(out, f"{name}-{label}.png")
            driver.save_screenshot(path)
            result["screenshots"].append(path)
            # Nothing wider than the screen: the page is usable on a phone without sideways scrolling.
            if label == "phone":
                overflow = driver.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                if overflow > 2:
                    result["problems"].append(f"{name}: {overflow}px wider than a phone screen")
        driver.set_window_size(*PHONE)
        result["pages"].append(driver.page_source)

    try:
        driver.get(base + "/")
        result["first_url"] = driver.current_url
        driver.find_element(By.NAME, "token").send_keys(token)
        submit(driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button"))
        result["after_sign_in"] = driver.current_url
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        result["rows"] = len(rows)
        overdue = [row for row in rows if "overdue" in (row.get_attribute("class") or "")]
        result["overdue_rows"] = len(overdue)
        if not overdue:
            result["problems"].append("no overdue row")
            raise RuntimeError("no overdue row")
        row = overdue[0]
        result["overdue_task"] = row.get_attribute("id").removeprefix("task-")
        cell = row.find_element(By.CSS_SELECTOR, "td")
        result["overdue_color"] = cell.value_of_css_property("color")
        result["overdue_background"] = cell.value_of_css_property("background-color")
        shoot("worklist")

        submit(row.find_element(By.CSS_SELECTOR, "form[action$='/take'] button"))
        result["after_take"] = driver.current_url

        session = driver.get_cookie("vigil_session")
        result["cookie"] = {key: session.get(key) for key in ["httpOnly", "sameSite", "path"]} if session else None
        # The daemon applies the take within moments: the worklist shows it on a reload.
        for _ in range(50):
            driver.get(base + "/")
            row = driver.find_element(By.ID, "task-" + result["overdue_task"])
            taken = row.find_element(By.CSS_SELECTOR, "td[data-label='Taken by']").text.strip()
            if taken != "nobody yet":
                break
            time.sleep(0.2)
        result["taken_by_shown"] = taken
        row_client = row.find_element(By.CSS_SELECTOR, "td[data-label='Client'] a")
        client = row_client.text.strip()
        row_client.click()
        result["client_url"] = driver.current_url
        shoot("client")

        follow_ups = [item for item in driver.find_elements(By.CSS_SELECTOR, "li")
                      if item.text.startswith("follow_up")]
        if not follow_ups:
            result["problems"].append("no follow-up on the client's page")
            raise RuntimeError("no follow-up")
        form = follow_ups[0].find_element(By.CSS_SELECTOR, "form[action$='/contact']")
        result["contact_task"] = form.get_attribute("action").split("/tasks/")[1].split("/")[0]
        Select(form.find_element(By.NAME, "outcome")).select_by_value("reached")
        submit(form.find_element(By.CSS_SELECTOR, "button"))
        result["after_contact"] = driver.current_url

        # A form post without the CSRF token, with the session's cookie: refused.
        request = urllib.request.Request(
            base + f"/tasks/{result['overdue_task']}/ack", data=b"back=%2F", method="POST",
            headers={"Cookie": f"vigil_session={session['value']}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                result["csrf_probe_status"] = answer.status
        except urllib.error.HTTPError as error:
            result["csrf_probe_status"] = error.code
        # A form that asks to go back to another host is sent back to the worklist.
        csrf = driver.find_element(By.CSS_SELECTOR, "input[name='csrf']").get_attribute("value")
        hostile = urllib.request.Request(
            base + f"/tasks/{result['overdue_task']}/take",
            data=urllib.parse.urlencode({"csrf": csrf, "back": "/\\evil.example/x"}).encode(), method="POST",
            headers={"Cookie": f"vigil_session={session['value']}",
                     "Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.build_opener(NoRedirect).open(hostile, timeout=10)
        except urllib.error.HTTPError as error:
            result["hostile_back"] = {"status": error.code, "location": error.headers.get("Location")}
        result["client"] = client
    except Exception as error:  # noqa: BLE001 - reported to the test, which fails
        result["problems"].append(f"{type(error).__name__}: {error}")
    finally:
        result["console"] = [entry for entry in driver.get_log("browser")]
        driver.quit()
    severe = [entry for entry in result["console"] if entry.get("level") == "SEVERE"]
    if severe:
        result["problems"].append(f"console errors: {severe}")
    print(json.dumps(result))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
