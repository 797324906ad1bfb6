#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The console's scenarios in headless Chromium; run by console.sh, which
starts midd and exports MIDSHIM_URL, the key files, PRELOAD, T and SHOTS.

Log in with the admin key; the org key and a wrong key are refused; at
375x667 revoke a device that a real gated program (a loop writing a file
every 50 ms under the shim) is using: the program dies, and the revoke's
request ID and the shim's denial (a validate answered DEVICE_REVOKED)
appear in the live audit view without a reload; restore; bulk revoke by
pattern after a confirmation naming the count; org disable (typed
confirmation) and enable; a state change without the CSRF token is
refused with 403; logout ends the session."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

URL = os.environ["MIDSHIM_URL"]
T = os.environ["T"]
SHOTS = os.environ["SHOTS"]
ADMIN = open(os.environ["ADMIN_KEY_FILE"]).read().strip()
ORG = open(os.environ["ORG_KEY_FILE"]).read().strip()
# Every wait is bounded: the gate acts within one allow-cache TTL
# (MIDSHIM_TTL_MS, 100 ms) of the revoke and midd flushes its audit queue
# within a second; 15 s leaves a wide margin on a loaded machine.
WAIT_S = 15


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


START = time.monotonic()


def note(msg):
    print("# %5.1f s  %s" % (time.monotonic() - START, msg), flush=True)


def until(what, fn, limit=WAIT_S):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            v = fn()
        except Exception:  # an element replaced while read: look again
            v = None
        if v:
            return v
        time.sleep(0.05)
    fail("%s: not within %d s" % (what, limit))


def http(method, path, body=None, headers=None):
    """(status, headers, parsed JSON or text) of one call to midd."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(URL + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            raw, st, hd = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        raw, st, hd = e.read(), e.code, e.headers
    try:
        return st, hd, json.loads(raw)
    except ValueError:
        return st, hd, raw.decode(errors="replace")


def admin(method, path, body=None):
    return http(method, path, json.dumps(body) if body is not None else None,
                {"x-admin-key": ADMIN, "content-type": "application/json"})


def state(dev):
    st, _, j = admin("GET", "/api/v1/devices/list?deviceId=" + dev)
    return j["devices"][0]["state"] if st == 200 and j["devices"] else "none"


# ---- the page's own headers -------------------------------------------------
st, hd, _ = http("GET", "/console")
if st != 200:
    fail("GET /console answered %d" % st)
csp = hd.get("Content-Security-Policy", "")
for want in ("script-src 'self'", "frame-ancestors 'none'", "default-src 'none'"):
    if want not in csp:
        fail("CSP lacks %r: %r" % (want, csp))
if "unsafe-inline" in csp:
    fail("CSP allows inline code: " + csp)
if hd.get("X-Frame-Options") != "DENY" or hd.get("X-Content-Type-Options") != "nosniff":
    fail("frame or sniffing headers missing: %s" % dict(hd))
note("ok: the page's security headers")

# ---- devices, and a real gated program ------------------------------------------
for d in ("svc:prod:a", "svc:prod:b", "svc:dev:c"):
    st, _, j = http("POST", "/api/v1/devices/register", json.dumps({"deviceId": d}),
                    {"x-org-key": ORG, "content-type": "application/json"})
    if st != 200:
        fail("register %s: %d %s" % (d, st, j))
LOOP = "svc:prod:loop"
out = os.path.join(T, "loop.out")
env = dict(os.environ, LD_PRELOAD=os.environ["PRELOAD"], MIDSHIM_DEVICE_ID=LOOP,
           MIDSHIM_ORG_KEY_FILE=os.environ["ORG_KEY_FILE"])
env.pop("MIDSHIM_ORG_KEY", None)
err = open(os.path.join(T, "loop.err"), "w")
prog = subprocess.Popen(["bash", "-c", 'while :; do echo x >>"$0"; sleep 0.05; done', out],
                        env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL)
until("the gated loop writes", lambda: os.path.exists(out) and os.path.getsize(out) >= 6)
if prog.poll() is not None:
    fail("the gated loop ended at once: %s" % open(err.name).read())

# ---- the browser -----------------------------------------------------------------
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
          "--window-size=1280,800", "--no-first-run", "--disable-extensions",
          "--user-data-dir=" + os.path.join(T, "chromium")):
    opts.add_argument(a)
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
note("chromium started")
try:
    drv.set_page_load_timeout(WAIT_S)

    def size(w, h):
        drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 500})

    def by_id(i):
        return drv.find_element(By.ID, i)

    def visible(i):
        return by_id(i).is_displayed()

    def login(key):
        until("the login form", lambda: visible("login-view"))
        by_id("key").send_keys(key)
        by_id("login").find_element(By.CSS_SELECTOR, "button").click()

    def click(css):
        """Click the element at 'css', found again if the view replaced it."""
        def once():
            drv.find_element(By.CSS_SELECTOR, css).click()
            return True
        until("click " + css, once)

    def session_cookie():
        return [c for c in drv.get_cookies() if c["name"] == "midsession"]

    size(1280, 800)
    drv.get(URL + "/console")
    login("mid_adm_" + "0" * 64)
    until("wrong key refused", lambda: "Wrong key" in by_id("login-error").text)
    if session_cookie():
        fail("a wrong key got a session cookie")
    login(ORG)
    until("org key refused", lambda: "org key cannot log in" in by_id("login-error").text)
    if session_cookie() or visible("app-view"):
        fail("the org key opened the console")
    note("ok: a wrong key and the org key are refused")

    login(ADMIN)
    until("logged in", lambda: visible("app-view"))
    c = session_cookie()
    if not c or not c[0]["httpOnly"] or c[0].get("sameSite") != "Strict" or c[0]["path"] != "/":
        fail("session cookie is not HttpOnly, SameSite=Strict, Path=/: %s" % c)
    if ADMIN in drv.page_source or ADMIN in drv.current_url:
        fail("the admin key is left in the page or its URL")
    until("the gated device listed",
          lambda: drv.find_elements(By.CSS_SELECTOR, 'li[data-device="%s"] button.revoke' % LOOP))
    note("ok: logged in with the admin key")

    # ---- phone: revoke the gated program's device ----
    size(375, 667)
    drv.execute_script("window.__same_page = 1")
    row = 'li[data-device="%s"]' % LOOP
    m = until("revoke button", lambda: drv.execute_script("""
        const b = document.querySelector(arguments[0]);
        b.scrollIntoView({block: 'center'});
        const r = b.getBoundingClientRect();
        return [r.left, r.right, window.innerWidth, document.documentElement.scrollWidth];""",
                                                            row + " button.revoke"))
    if m[2] != 375 or m[0] < 0 or m[1] > m[2] or m[3] > m[2]:
        fail("at 375x667 the revoke button is at %.0f..%.0f of %d px (page %d px wide)" % tuple(m))
    drv.save_screenshot(os.path.join(SHOTS, "console-phone.png"))
    note("ok: at 375x667 the revoke button is reachable without horizontal scrolling")
    t0 = time.monotonic()
    click(row + " button.revoke")
    rid = until("the revoke's request_id", lambda: (lambda t: t.split("request_id ")[1].rstrip(")")
                                                    if t.startswith("revoked " + LOOP) else None)(by_id("notice").text))
    note("revoke answered %.2f s after the click" % (time.monotonic() - t0))
    rc = until("the gated program dies", lambda: prog.poll() is not None and [prog.returncode])[0]
    note("gated program ended %.2f s after the click, status %d" % (time.monotonic() - t0, rc))
    if rc != -9:
        fail("the gated program should die by SIGKILL, ended with %d: %s" % (rc, open(err.name).read()))
    if "code DEVICE_REVOKED" not in open(err.name).read():
        fail("no DEVICE_REVOKED denial line: " + open(err.name).read())
    until("the revoke's request_id in the audit view",
          lambda: drv.find_elements(By.CSS_SELECTOR, 'ol#audit li[data-rid="%s"]' % rid))
    deny = until("the shim's denial in the audit view", lambda: [
        li for li in drv.find_elements(By.CSS_SELECTOR, 'ol#audit li[data-code="DEVICE_REVOKED"]')
        if LOOP in li.text and "validate" in li.text])
    if drv.execute_script("return window.__same_page") != 1:
        fail("the page was reloaded")
    note("ok: revoke %s: the program died, the audit view shows %s and the denial %s live"
         % (LOOP, rid, deny[0].text))
    if state(LOOP) != "revoked":
        fail("midd does not hold %s revoked" % LOOP)

    # ---- restore ----
    click(row + " button.restore")
    until("restored in the view", lambda: drv.find_elements(By.CSS_SELECTOR, row + " .badge.active"))
    if state(LOOP) != "active":
        fail("restore did not make %s active" % LOOP)
    note("ok: restore")

    # ---- bulk revoke by pattern, with the count confirmed ----
    size(1280, 800)
    by_id("glob").send_keys("svc:prod:*")
    by_id("bulk").find_element(By.CSS_SELECTOR, "button").click()
    txt = until("the confirmation", lambda: visible("confirm") and by_id("confirm-text").text)
    if not txt.startswith("Revoke 3 devices matching svc:prod:*?"):
        fail("the confirmation should name the count: %r" % txt)
    if state("svc:prod:a") != "active":
        fail("the bulk revoke acted before its confirmation")
    by_id("confirm-ok").click()
    until("bulk notice", lambda: by_id("notice").text.startswith("revoked 3 devices matching svc:prod:*"))
    for d in ("svc:prod:a", "svc:prod:b", LOOP):
        if state(d) != "revoked":
            fail("bulk revoke left %s %s" % (d, state(d)))
    if state("svc:dev:c") != "active":
        fail("bulk revoke reached svc:dev:c")
    note("ok: bulk revoke of svc:prod:* after a confirmation naming 3")
    until("the bulk revoke in the audit view", lambda: len(drv.find_elements(
        By.XPATH, '//ol[@id="audit"]/li[contains(., " revoke ")]')) >= 4)
    drv.execute_script("window.scrollTo(0, 0)")
    drv.save_screenshot(os.path.join(SHOTS, "console-desktop.png"))

    # ---- org disable (typed confirmation) and enable ----
    by_id("org-toggle").click()
    until("the typed confirmation", lambda: visible("confirm-input"))
    if by_id("confirm-ok").is_enabled():
        fail("org disable may be confirmed without typing the org's name")
    by_id("confirm-input").send_keys("default")
    until("confirm enabled", lambda: by_id("confirm-ok").is_enabled())
    by_id("confirm-ok").click()
    until("org disabled in the view", lambda: by_id("org-state").text == "disabled")
    if not admin("GET", "/api/v1/usage")[2]["org_disabled"]:
        fail("midd does not hold the org disabled")
    by_id("org-toggle").click()
    until("the confirmation", lambda: visible("confirm") and "Enable" in by_id("confirm-text").text)
    by_id("confirm-ok").click()
    until("org enabled in the view", lambda: by_id("org-state").text == "enabled")
    if admin("GET", "/api/v1/usage")[2]["org_disabled"]:
        fail("midd still holds the org disabled")
    note("ok: org disable and enable")

    # ---- a state change without the CSRF token ----
    st = drv.execute_async_script("""const done = arguments[0];
        fetch('/api/v1/devices/revoke', {method: 'POST', headers: {'content-type': 'application/json'},
            body: JSON.stringify({deviceId: 'svc:dev:c'})}).then(r => done(r.status), e => done(String(e)));""")
    if st != 403:
        fail("a revoke without the CSRF token answered %s, not 403" % st)
    if state("svc:dev:c") != "active":
        fail("a revoke without the CSRF token changed the device")
    note("ok: no CSRF token: 403, nothing changed")

    # ---- logout ----
    old = session_cookie()[0]["value"]
    by_id("logout").click()
    until("back at the login form", lambda: visible("login-view"))
    if session_cookie():
        fail("the session cookie is still set after logout")
    st, _, _ = http("GET", "/console/session", headers={"cookie": "midsession=" + old})
    if st != 401:
        fail("the ended session still answers %d" % st)
    st, _, _ = http("GET", "/api/v1/usage", headers={"cookie": "midsession=" + old})
    if st != 401:
        fail("the ended session still reads the API: %d" % st)
    note("ok: logout ends the session")
finally:
    drv.quit()
    if prog.poll() is None:
        prog.kill()
        prog.wait()
