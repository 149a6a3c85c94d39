#!/usr/bin/env python3
"""Opens `vigil report --html` in a real headless Chromium (Debian's chromium, through chromedriver).

Usage: report_browser.py REPORT.html SCREENSHOT_DIR

Prints one JSON object: the follow-up measures read from the DOM (each row's data- attributes and the
numbers a reader sees, which must agree), the weekly charts the browser laid out, every browser
console entry, and the files saved (screenshots of the page on screen and as printed, and the PDF
Chromium prints). Exit 0 when the page loaded with no SEVERE console entry; 1 otherwise; 77 when
selenium, chromium or chromedriver is missing (the caller skips loudly).
"""

import base64
import json
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ among the test sources (SwiftPM would warn)
import headless_chromium  # noqa: E402

MEASURES = [
    "follow_up_7_days",
    "follow_up_30_days",
    "episode_follow_up_24_hours",
    "episode_follow_up_72_hours",
]


def main():
    html, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    driver, missing = headless_chromium.start(1280, 1000)
    if driver is None:
        print(json.dumps({"skip": missing}))
        return 77
    from selenium.webdriver.common.by import By

    os.makedirs(out, exist_ok=True)
    result = {"screenshots": [], "measures": {}, "problems": []}
    try:
        driver.get("file://" + html)
        result["title"] = driver.title
        for key in MEASURES:
            row = driver.find_element(By.ID, "measure-" + key)
            figures = {}
            for name in ["numerator", "denominator", "pending"]:
                attribute = row.get_attribute("data-" + name)
                shown = row.find_element(By.CSS_SELECTOR, "td." + name).text.strip()
                if attribute != shown:
                    result["problems"].append(f"{key} {name}: data-{name}={attribute!r} but the cell reads {shown!r}")
                figures[name] = int(shown)
            result["measures"][key] = figures
        # The weekly charts as laid out: each drawn with a size, with its title and values.
        result["charts"] = driver.execute_script(
            """
            return Array.from(document.querySelectorAll('svg[id^="chart-"]')).map(svg => {
              const box = svg.getBoundingClientRect();
              return {id: svg.id, width: box.width, height: box.height,
                      title: (svg.querySelector('title') || {}).textContent || '',
                      marks: svg.querySelectorAll('rect[data-value], circle[data-value]').length,
                      texts: svg.querySelectorAll('text').length};
            });
            """)
        result["scripts"] = driver.execute_script("return document.scripts.length")
        result["resources"] = driver.execute_script(
            "return performance.getEntriesByType('resource').map(entry => entry.name)")

        def save(name, png):
            path = os.path.join(out, name)
            with open(path, "wb") as file:
                file.write(png)
            result["screenshots"].append(path)

        save("report-top.png", driver.get_screenshot_as_png())
        # The whole page: the window as tall as the document.
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(height + 100, 16000))
        save("report-full.png", driver.get_screenshot_as_png())
        # As printed (@media print), and the PDF Chromium prints.
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(height + 100, 16000))
        save("report-print.png", driver.get_screenshot_as_png())
        pdf = driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})
        path = os.path.join(out, "report.pdf")
        with open(path, "wb") as file:
            file.write(base64.b64decode(pdf["data"]))
        result["pdf"] = path
        result["console"] = driver.get_log("browser")
    finally:
        driver.quit()
    severe = [entry for entry in result["console"] if entry.get("level") == "SEVERE"]
    if severe:
        result["problems"].append(f"{len(severe)} SEVERE console entries")
    print(json.dumps(result, indent=1))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
