#!/bin/bash
# SPDX-License-Identifier: MIT
# midctl's edges: usage errors exit 2 before anything is sent; key files
# (first line, trailing blanks, a warning for a readable file, no key at
# all); a unix socket URL; a stopped midd, a silent server and a server
# that answers too much each end in the documented status and one line.
. "$(dirname "$0")/../lib.sh"
unset MIDSHIM_ADMIN_KEY MIDSHIM_ADMIN_KEY_FILE MIDSHIM_ORG_KEY MIDSHIM_ORG_KEY_FILE
D=tool:test:errors:01

# ---- usage errors: exit 2, one "midctl: " line, nothing on stdout -------------
export MIDSHIM_ADMIN_KEY=unused-key-for-usage-checks
export MIDSHIM_URL=http://127.0.0.1:9
usage_error() { # what args...
	local what=$1
	shift
	midctl_expect 2 "$what" "$@"
	assert_eq "" "$OUT" "$what: stdout"
	case $ERR in "midctl: "*) ;; *) fail "$what: message lacks the prefix: $ERR" ;; esac
}
usage_error "no command"
usage_error "unknown command" frobnicate "$D"
assert_contains "$ERR" "unknown command 'frobnicate'" "unknown command message"
for cmd in register revoke restore unrevoke remove; do
	usage_error "$cmd without a device" "$cmd"
	assert_contains "$ERR" "$cmd needs DEVICE" "$cmd: missing device message"
	usage_error "$cmd with two devices" "$cmd" "$D" "$D"
done
# status without a device is midd's storage health.
usage_error "status with two devices" status "$D" "$D"
usage_error "status with an empty device" status ""
usage_error "an empty device" revoke ""
usage_error "a device with a newline" revoke "$(printf 'a\nb')"
usage_error "an overlong device" revoke "$(printf 'x%.0s' $(seq 1 300))"
usage_error "list with an argument" list extra
usage_error "unknown option" --frob list
usage_error "a key in argv is no option" --admin-key secret list
usage_error "option without its value" list --timeout-ms
usage_error "timeout not a number" --timeout-ms soon list
usage_error "an ftp URL" --url ftp://127.0.0.1/ list
usage_error "a URL with a query" --url "http://127.0.0.1:1/?x=1" list
usage_error "an empty unix socket" --url unix: list
usage_error "help for an unknown command" help frobnicate

midctl_expect 0 "--help" --help
assert_contains "$OUT" "usage: midctl" "--help text"
for cmd in register revoke restore remove status list usage org audit rotate-key console; do
	assert_contains "$OUT" "  $cmd" "--help lists $cmd"
done
midctl_expect 0 "help revoke" help revoke
assert_contains "$OUT" "usage: midctl [OPTIONS] revoke DEVICE" "help revoke"
midctl_expect 0 "revoke --help" revoke --help
assert_contains "$OUT" "DEVICE_REVOKED" "revoke --help text"
midctl_expect 0 "--version" --version
assert_contains "$OUT" "midctl " "--version"
note "ok: usage errors"

# ---- keys ------------------------------------------------------------------------
unset MIDSHIM_ADMIN_KEY
midctl_expect 2 "no key at all" list
assert_contains "$ERR" "no key configured" "no key message"
MIDSHIM_ADMIN_KEY_FILE=$T/missing.key midctl_expect 2 "missing key file" list
assert_contains "$ERR" "$T/missing.key" "missing key file named"
: >"$T/empty.key"
chmod 600 "$T/empty.key"
midctl_expect 2 "empty key file" --admin-key-file "$T/empty.key" list
assert_contains "$ERR" "empty" "empty key file message"
midctl_expect 2 "a directory as key file" --admin-key-file "$T" list

# One device slot, so that the limit can be reached below.
midd_init --device-limit 1
midd_start
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
chmod 600 "$T/admin/admin.key" "$T/keys/org.key"
# First line only, trailing blanks stripped.
printf '%s \t\r\nsecond line\n' "$ADMIN_KEY" >"$T/padded.key"
chmod 600 "$T/padded.key"
midctl_expect 0 "padded key file" --admin-key-file "$T/padded.key" register "$D"
assert_eq "" "$ERR" "no warning for a private key file"
# A key file others may read works, with a warning.
cp "$T/admin/admin.key" "$T/open.key"
chmod 644 "$T/open.key"
midctl_expect 0 "readable key file" --admin-key-file "$T/open.key" list
assert_contains "$ERR" "midctl: warning: key file $T/open.key is readable by other users" "open key file warning"
# The admin key wins over the org key: revoke works with both set.
MIDSHIM_ORG_KEY_FILE=$T/keys/org.key midctl_expect 0 "admin key preferred" revoke "$D"
# MIDSHIM_ADMIN_KEY beats MIDSHIM_ADMIN_KEY_FILE, --admin-key-file beats both.
MIDSHIM_ADMIN_KEY=wrong-key midctl_expect 1 "MIDSHIM_ADMIN_KEY first" list
MIDSHIM_ADMIN_KEY=wrong-key midctl_expect 0 "--admin-key-file first" --admin-key-file "$T/admin/admin.key" list
note "ok: keys"

# ---- unix socket ---------------------------------------------------------------
midd_stop
midd_start --socket "$T/midd.sock"
assert_exists "$T/midd.sock" "midd's socket"
midctl_expect 0 "status over the socket" --url "unix:$T/midd.sock" status "$D"
assert_contains "$OUT" "revoked" "status over the socket"
midctl_expect 0 "restore over the socket" --url "unix:$T/midd.sock" restore "$D"
assert_eq active "$(device_state "$D")" "restore over the socket reached midd"
MIDSHIM_URL=unix:$T/midd.sock midctl_expect 0 "MIDSHIM_URL socket" --json list
assert_json "list over the socket" "$OUT"
midctl_expect 3 "a missing socket" --url "unix:$T/nope.sock" list
assert_contains "$ERR" "unix:$T/nope.sock" "missing socket named"
note "ok: unix socket"

# ---- the device limit: register refuses, remove frees the slot -----------------
F=tool:test:errors-second:02
midctl_expect 1 "register over the limit" register "$F"
assert_contains "$ERR" "midctl: register $F: limit_reached" "limit message"
assert_eq "" "$OUT" "limit: nothing on stdout"
assert_eq none "$(device_state "$F")" "no device over the limit"
midctl_expect 0 "remove frees a slot" remove "$D"
midctl_expect 0 "register in the freed slot" register "$F"
assert_eq active "$(device_state "$F")" "registered in the freed slot"
note "ok: device limit"

# ---- midd stopped: exit 3, the URL and a hint ------------------------------------
URL=$MIDSHIM_URL
midd_stop
for args in "list" "revoke $D" "status $D" "org disable"; do
	# shellcheck disable=SC2086
	midctl_expect 3 "stopped midd: $args" $args
	assert_contains "$ERR" "cannot reach midd at $URL" "stopped midd: $args names the URL"
	assert_contains "$ERR" "is midd running?" "stopped midd: $args hint"
	assert_contains "$ERR" "MIDSHIM_URL" "stopped midd: $args names the variable"
	[ "$(printf '%s\n' "$ERR" | wc -l)" -eq 1 ] || fail "stopped midd: not one line: $ERR"
done
note "ok: midd stopped"

# ---- a server that accepts and never answers; one that answers 2 MiB -------------
PORT=$(free_port)
python3 - "$PORT" <<'PY' &
import socket, sys, threading, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
s.settimeout(60)
def serve(c):
    c.settimeout(10)
    try:
        req = c.recv(65536)
        if b" /api/v1/usage" in req:
            time.sleep(5)          # silent: the client must give up first
        else:
            body = b"[" + b"0," * (1024 * 1024) + b"0]"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    c.close()
end = time.time() + 60
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
FAKE_PID=$!
on_exit "kill $FAKE_PID 2>/dev/null"
wait_listening 127.0.0.1 "$PORT"
# The time a refused call takes is midctl's own start and exit; a silent
# server may add the 300 ms deadline and a margin of 300 ms, no more.
t0=$(date +%s%N)
midctl_expect 3 "refused, for the time of a start" --url "$URL" --timeout-ms 300 usage
base=$((($(date +%s%N) - t0) / 1000000))
t0=$(date +%s%N)
midctl_expect 3 "silent server" --url "http://127.0.0.1:$PORT" --timeout-ms 300 usage
ms=$((($(date +%s%N) - t0) / 1000000))
note "silent server: midctl gave up after $ms ms, a refused call took $base ms (limit: that + 300 + 300 ms)"
[ $((ms - base)) -le 600 ] || fail "timeout of 300 ms took $ms ms, $((ms - base)) ms over a refused call"
assert_contains "$ERR" "did not answer within 300 ms" "timeout message"
assert_contains "$ERR" "http://127.0.0.1:$PORT" "timeout names the URL"
midctl_expect 1 "oversized reply" --url "http://127.0.0.1:$PORT" list
assert_contains "$ERR" "larger than 1048576 bytes" "oversized reply message"
note "ok: silent and oversized servers"

! grep -qF -- "$ADMIN_KEY" "$T/midctl.all" || fail "the admin key was printed"
note "ok: midctl errors"
