#!/bin/bash
# SPDX-License-Identifier: MIT
# A signal handler must not run while the shim's own code is busy (its
# re-entrancy guard up), or the handler's calls go through ungated. The
# case found: execve of a FIFO, whose check by the shim once blocked in
# open(); a SIGALRM handler then wrote a file after the revoke. (The
# guard is raised in one place, which blocks every signal:
# tests/static/guard.sh.)
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:escape-signal:01"
ESC=$BIN/helpers/escape
F=$T/data.txt
P=$T/fifo
mkfifo "$P"

# Allowed: the kernel refuses to execute a FIFO, at once.
gated timeout 20 "$ESC" fifo-exec "$F" "$P"
[ "$RC" -eq 1 ] || fail "fifo-exec allowed: expected the exec to fail (exit 1), got $RC; $(cat "$T/err")"
assert_contains "$(cat "$T/err")" "Permission denied" "fifo-exec allowed: the kernel's answer"
assert_absent "$F" "fifo-exec allowed: no handler ran"

expect_revoked "fifo-exec" exec "$ESC" fifo-exec "$F" "$P"
assert_absent "$F" "fifo-exec: the handler wrote after the revoke"
note "ok: fifo-exec"
