#!/bin/bash
# SPDX-License-Identifier: MIT
# systemd readiness: with NOTIFY_SOCKET set, midd sends READY=1 (and its
# MAINPID) once its sockets accept calls, and STOPPING=1 when it stops;
# both a path and an abstract ('@') socket name work.
. "$(dirname "$0")/../lib.sh"
midd_init

for kind in path abstract; do
	if [ "$kind" = path ]; then NS=$T/notify.sock; else NS=@midshim-test-notify-$$; fi
	rm -f "$T/notify.out" "$T/notify.out.bound"
	# A listener standing in for systemd: print each datagram; when
	# READY=1 arrives, call midd's unix socket at once (it must answer).
	python3 - "$NS" "$T/midd.sock" "$T/notify.out" <<'PY' &
import socket, sys
ns, sock, out = sys.argv[1], sys.argv[2], sys.argv[3]
addr = "\0" + ns[1:] if ns.startswith("@") else ns
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(addr)
s.settimeout(20)
open(out + ".bound", "w").close()
with open(out, "w") as f:
    for _ in range(2):
        msg = s.recv(4096).decode()
        f.write(msg.replace("\n", " ") + "\n")
        f.flush()
        if "READY=1" in msg:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(sock)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            f.write("healthz " + c.recv(64).decode().split("\r\n")[0] + "\n")
            f.flush()
PY
	LPID=$!
	for _ in $(seq 1 200); do
		[ -e "$T/notify.out.bound" ] && break
		sleep 0.05
	done
	NOTIFY_SOCKET=$NS "${OURS[@]}" "$BIN/midd" --db "$T/midd.db" --listen none --socket "$T/midd.sock" \
		>>"$T/midd.log" 2>&1 &
	MPID=$!
	for _ in $(seq 1 200); do
		grep -q "^healthz" "$T/notify.out" 2>/dev/null && break
		sleep 0.05
	done
	kill -TERM "$MPID"
	wait "$MPID" || fail "$kind: midd exited $?"
	wait "$LPID" || fail "$kind: the notify listener failed"
	assert_file_contains "$T/notify.out" "READY=1 MAINPID=$MPID STATUS=serving" "$kind: readiness"
	assert_file_contains "$T/notify.out" "healthz HTTP/1.1 200 OK" "$kind: midd answers once ready"
	assert_file_contains "$T/notify.out" "STOPPING=1" "$kind: stopping"
	note "ok: $kind NOTIFY_SOCKET"
done
grep -q "cannot notify" "$T/midd.log" && fail "midd warned: $(cat "$T/midd.log")"
# An unusable NOTIFY_SOCKET is a warning, not a failure.
NOTIFY_SOCKET=$T/none.sock "${OURS[@]}" "$BIN/midd" --db "$T/midd.db" --listen none --socket "$T/midd.sock" \
	>"$T/bad.log" 2>&1 &
MPID=$!
for _ in $(seq 1 100); do grep -q "cannot notify" "$T/bad.log" && break; sleep 0.05; done
kill -TERM "$MPID"
wait "$MPID" || fail "midd with a missing NOTIFY_SOCKET exited $?"
assert_file_contains "$T/bad.log" "warning: cannot notify systemd at \$NOTIFY_SOCKET" "missing socket warning"
note "ok: a missing NOTIFY_SOCKET is a warning"
