#!/bin/bash
# SPDX-License-Identifier: MIT
# Addresses the gate once could not read, each tried after a revoke:
# sendto with an AF_UNSPEC address on a TCP socket connected while
# allowed (the kernel ignores the address and sends to the peer), and
# IPv6 addresses in RFC 2133's 24-byte form on connect, a UDP sendto and
# a TCP Fast Open sendto. Each must die at the gate, and nothing may
# reach the listener. (tests/unit/check_shim.c has the table of families
# and lengths.)
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:escape-addr:01"
ESC=$BIN/helpers/escape
LOG=$T/listener.log
listener_start "$LOG"

# An IPv6 loopback listener, TCP and UDP on one port, logging what comes.
LOG6=$T/listener6.log
PORT6=$(free_port)
python3 - "$PORT6" "$LOG6" <<'PY' &
import select, socket, sys
port, log = int(sys.argv[1]), sys.argv[2]
t = socket.socket(socket.AF_INET6)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.setsockopt(socket.IPPROTO_TCP, 23, 16)  # TCP_FASTOPEN: take data in the SYN
t.bind(("::1", port))
t.listen(16)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("::1", port))
with open(log, "a") as f:
    while True:
        r, _, _ = select.select([t, u], [], [], 120)
        if not r:
            break
        if u in r:
            f.write("udp:" + u.recv(4096).decode(errors="replace").strip() + "\n")
        if t in r:
            c, _ = t.accept()
            c.settimeout(2)
            f.write("connected\n")
            try:
                d = c.recv(4096)
                if d:
                    f.write("data:" + d.decode(errors="replace").strip() + "\n")
            except socket.timeout:
                pass
            c.close()
        f.flush()
PY
on_exit "kill $! 2>/dev/null"
wait_listening ::1 "$PORT6"
sleep 0.2

# sendto(AF_UNSPEC) on a connected TCP socket.
: >"$LOG"
expect_allowed "sendto-unspec" "$ESC" sendto-unspec 127.0.0.1 "$LISTEN_PORT"
sleep 0.3
assert_file_contains "$LOG" "data:payload" "sendto-unspec: allowed send"
: >"$LOG"
expect_revoked "sendto-unspec" send "$ESC" sendto-unspec 127.0.0.1 "$LISTEN_PORT"
sleep 0.3
if grep -q payload "$LOG"; then fail "sendto-unspec: data reached the peer after the revoke"; fi
note "ok: sendto-unspec"

check6() { # op kind what-the-listener-logs
	local op=$1 kind=$2 seen=$3
	: >"$LOG6"
	expect_allowed "$op" "$ESC" "$op" ::1 "$PORT6"
	sleep 0.3
	assert_file_contains "$LOG6" "$seen" "$op: allowed run reached the listener"
	: >"$LOG6"
	expect_revoked "$op" "$kind" "$ESC" "$op" ::1 "$PORT6"
	sleep 0.3
	[ ! -s "$LOG6" ] || fail "$op: reached the listener after the revoke: $(cat "$LOG6")"
	note "ok: $op"
}
check6 connect-in6-24 connect connected
check6 sendto-in6-24 send "udp:payload"
check6 fastopen-in6-24 send "data:payload"
