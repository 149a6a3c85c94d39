"""A headless Chromium for the page tests (Debian's chromium through /usr/bin/chromedriver), shared
by report_browser.py and worklist_browser.py."""

import os
import shutil

CHROMEDRIVER = "/usr/bin/chromedriver"


def start(width, height):
    """(driver, None), or (None, why it cannot start) when selenium, chromium or chromedriver is
    missing. The driver keeps every browser console entry (driver.get_log("browser"))."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        return None, f"python selenium is missing ({error}); run scripts/setup"
    browser = shutil.which("chromium")
    if browser is None or not os.access(CHROMEDRIVER, os.X_OK):
        return None, "chromium or /usr/bin/chromedriver is missing; run scripts/setup"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--hide-scrollbars"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options), None
