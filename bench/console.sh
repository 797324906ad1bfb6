#!/bin/bash
# SPDX-License-Identifier: MIT
# The browser console's weight and time to first render: a throwaway midd
# on loopback, its /console loaded ROUNDS times (default 7) in a fresh
# headless Chromium page each, with the browser's cache off. Writes a
# "## Browser console" section (between console:begin/end markers) into
# RESULTS (default bench/results.md), replacing the one there.
#
#   B=build bench/console.sh [RESULTS]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
# shellcheck source=bench/common.sh
. "$TOP/bench/common.sh"
msg_prefix bench/console.sh
B=${B:-build}
case $B in /*) BIN=$B ;; *) BIN=$TOP/$B ;; esac
RESULTS=${1:-$TOP/bench/results.md}
ROUNDS=${BENCH_CONSOLE_ROUNDS:-7}
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-bench-console.XXXXXX")
MIDD_PID=
cleanup() {
	midd_kill
	rm -rf "$T"
}
trap cleanup EXIT
for p in /usr/bin/chromium /usr/bin/chromedriver; do
	[ -x "$p" ] || die "$p is missing (scripts/install-deps.sh)"
done

"$BIN/midd" init --db "$T/midd.db" --write-keys "$T/keys" >/dev/null
port=$(free_port)
"$BIN/midd" --db "$T/midd.db" --listen "127.0.0.1:$port" 2>"$T/midd.log" &
MIDD_PID=$!
URL=http://127.0.0.1:$port
midd_wait_ready "$URL" "$MIDD_PID" || die "midd did not answer at $URL: $(tail -n 5 "$T/midd.log")"
# A few devices, so the page renders rows as it would in use.
for i in $(seq 1 20); do
	curl -fsS -H "x-org-key: $(cat "$T/keys/org.key")" -d "{\"deviceId\":\"svc:prod:$i\"}" \
		"$URL/api/v1/devices/register" >/dev/null
done

# Bytes on the wire for the page and its two files, without compression
# (midd sends none): the body and the headers, as curl counts them.
weight=0 rows=()
for f in /console /console/app.js /console/app.css; do
	read -r body head < <(curl -fsS -o /dev/null -w '%{size_download} %{size_header}\n' "$URL$f")
	ms=$(for _ in $(seq 1 "$ROUNDS"); do
		curl -fsS -o /dev/null -w '%{time_total}\n' "$URL$f"; done |
		sort -n | awk '{ a[NR] = $1 * 1000 } END { printf "%.2f", a[int((NR + 1) / 2)] }')
	rows+=("| \`$f\` | $body | $head | $ms |")
	weight=$((weight + body + head))
done

URL=$URL ADMIN=$(cat "$T/keys/admin/admin.key") ROUNDS=$ROUNDS T=$T "$PY" - >"$T/render" <<'PYEOF'
import os, statistics
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
          "--window-size=375,667", "--user-data-dir=" + os.path.join(os.environ["T"], "chr")):
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
d.execute_cdp_cmd("Network.enable", {})
d.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
fcp, dcl, load = [], [], []
try:
    d.get(os.environ["URL"] + "/console")  # the renderer started, not timed
    for _ in range(int(os.environ["ROUNDS"])):
        d.get(os.environ["URL"] + "/console")
        t = d.execute_script("""
            const n = performance.getEntriesByType('navigation')[0];
            const p = performance.getEntriesByName('first-contentful-paint')[0];
            return [p ? p.startTime : -1, n.domContentLoadedEventEnd, n.loadEventEnd];""")
        fcp.append(t[0]); dcl.append(t[1]); load.append(t[2])
finally:
    d.quit()
def f(xs):
    xs = [x for x in xs if x >= 0]  # a load without a paint entry is left out
    return "%.0f (%.0f–%.0f, n=%d)" % (statistics.median(xs), min(xs), max(xs), len(xs)) if xs else "none"
print(f(fcp) + "|" + f(dcl) + "|" + f(load))
PYEOF
IFS='|' read -r fcp dcl load <"$T/render"

kib=$(( (weight + 1023) / 1024 ))
chromium_version=$(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}')
cat >"$T/section" <<EOF
<!-- console:begin -->
## Browser console

Measured by \`bench/console.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit
$(git rev-parse --short HEAD 2>/dev/null || echo unknown), load average $(cut -d' ' -f1-3 /proc/loadavg):
\`midd\` on loopback with 20 devices, \`/console\` loaded $ROUNDS times in
headless Chromium $chromium_version at 375×667, cache off, before login (the
page a phone opens first); the first load, which starts the renderer, is
not counted. On a loaded machine these times are mostly the browser
waiting for a core: compare the load average.

| file | body bytes | header bytes | midd's answer, ms (curl, median) |
| --- | --- | --- | --- |
$(printf '%s\n' "${rows[@]}")

Page weight: **$weight bytes** ($kib KiB) in three requests, one round trip for
the page and one for its script and style (no compression, no other
origin; target: well under 100 KiB).

| time from navigation, ms: median (min–max) | |
| --- | --- |
| first contentful paint | $fcp |
| DOMContentLoaded | $dcl |
| load | $load |
<!-- console:end -->

EOF
if grep -q '<!-- console:begin -->' "$RESULTS" 2>/dev/null; then
	"$PY" - "$RESULTS" "$T/section" <<'PYEOF'
import re, sys
p, new = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
s = open(p).read()
s = re.sub(r"<!-- console:begin -->.*?<!-- console:end -->", lambda m: new, s, flags=re.S)
open(p, "w").write(s)
PYEOF
else
	{ echo; cat "$T/section"; } >>"$RESULTS"
fi
echo "bench/console.sh: page weight $weight bytes; first contentful paint, ms: $fcp"
