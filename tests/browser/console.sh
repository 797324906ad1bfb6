#!/bin/bash
# SPDX-License-Identifier: MIT
# The browser console in a real headless Chromium (python3-selenium with
# Debian's chromium and chromium-driver), against a real midd and a real
# gated program: see console.py for the scenarios. Screenshots (1280x800
# and 375x667) land in $B/console-shots/.
. "$(dirname "$0")/../lib.sh"
need chromium chromium
need chromedriver chromium-driver
"$PY" -c "import selenium" 2>/dev/null ||
	skip "python3 cannot import selenium (Debian package python3-selenium)"
midd_start
SHOTS=$BIN/console-shots
mkdir -p "$SHOTS"
export T SHOTS PRELOAD MIDSHIM_URL
export ORG_KEY_FILE=$T/keys/org.key ADMIN_KEY_FILE=$T/admin/admin.key
# The gated program's own settings: the org key from its file, a short
# allow-cache TTL, push off so that its end is the gate's own denial.
export MIDSHIM_TTL_MS=100 MIDSHIM_PUSH=off
timeout -k 5 150 "$PY" "$(dirname "$0")/console.py"
midd_stop
