#!/bin/bash
# SPDX-License-Identifier: MIT
# send under the shim: a program connects while allowed, then the device is
# revoked; its next send (send(), write() on a socket, perl syswrite,
# bash's echo to /dev/tcp) never reaches the peer and the program dies.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:send:01"
SFX=$BIN/helpers/sidefx
LOG=$T/listener.log
listener_start "$LOG"
export LISTEN_PORT

check() { # name cmd... (sends "payload")
	local name=$1
	shift
	: >"$LOG"
	expect_allowed "$name" "$@"
	sleep 0.2
	assert_file_contains "$LOG" "data:payload" "$name: allowed send reached the listener"
	: >"$LOG"
	expect_revoked "$name" send "$@"
	sleep 0.3
	assert_file_contains "$LOG" connected "$name: connect before the revoke"
	if grep -q payload "$LOG"; then
		fail "$name: data sent after revoke reached the listener: $(cat "$LOG")"
	fi
	note "ok: $name"
}

check "C send" "$SFX" send 127.0.0.1 "$LISTEN_PORT" payload
check "bash /dev/tcp" bash -c 'exec 3<>/dev/tcp/127.0.0.1/$LISTEN_PORT; echo ready; [ -z "${GO:-}" ] || read -r _ < "$GO"; echo payload >&3'
check "python3 sendall" "$PY" -c '
import os, socket
s = socket.create_connection(("127.0.0.1", int(os.environ["LISTEN_PORT"])), 5)
print("ready", flush=True)
if os.environ.get("GO"): open(os.environ["GO"]).read()
s.sendall(b"payload\n")
s.close()'
check "perl syswrite" perl -MIO::Socket::INET -e '
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ENV{LISTEN_PORT}") or exit 1;
$| = 1; print "ready\n";
if ($ENV{GO}) { open(my $g, "<", $ENV{GO}) or die; <$g>; }
syswrite($s, "payload\n") or exit 1;'
