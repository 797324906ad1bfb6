#!/bin/bash
# SPDX-License-Identifier: MIT
# https:// through the lazily loaded libcurl: a loopback TLS server with a
# throwaway certificate answers like midd. With its CA the client gets
# allows, denials, HTTP errors and over-cap replies mapped as over plain
# HTTP, on one kept-alive connection; without it, verification fails and
# the call is a deny (MIDSHIM_UNREACHABLE).
. "$(dirname "$0")/../lib.sh"
MC=$BIN/helpers/midclient
[ -x "$MC" ] || fail "$MC is not built"
need openssl openssl

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/openssl.err" ||
	fail "openssl: $(cat "$T/openssl.err")"
echo test-org-key >"$T/org.key"
PORT=$(free_port)

# The server answers by deviceId; it stops by itself after 60 s.
python3 - "$PORT" "$T/cert.pem" "$T/key.pem" <<'PY' >"$T/srv.log" 2>&1 &
import http.server, json, ssl, sys, threading, uuid
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, status, body):
        # One write: a head and body in two would meet Nagle and a
        # delayed ACK and time the server, not the client.
        head = "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        self.wfile.write((head % (status, len(body))).encode() + body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        dev = json.loads(self.rfile.read(n))["deviceId"]
        if self.headers.get("x-org-key") != "test-org-key":
            return self.reply(401, b'{"error":"bad key"}')
        rid = str(uuid.uuid4())
        if self.path.endswith("/register"):
            return self.reply(200, json.dumps({"status": "ok", "deviceId": dev}).encode())
        if dev.endswith(":big"):
            return self.reply(200, b'{"allowed":true,"pad":"' + b"x" * (10 << 20) + b'"}')
        if dev.endswith(":fail"):
            return self.reply(500, b'{"allowed":true,"error":"boom"}')
        allowed = not dev.endswith(":revoked")
        self.reply(200, json.dumps({"allowed": allowed,
            "code": "ALLOW" if allowed else "DEVICE_REVOKED", "request_id": rid}).encode())

srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
threading.Timer(60, srv.shutdown).start()
srv.serve_forever()
PY
SRV=$!
on_exit "kill $SRV 2>/dev/null"
wait_listening 127.0.0.1 "$PORT"
URL=https://127.0.0.1:$PORT
export MIDCLIENT_CA_FILE=$T/cert.pem

mc() { # expected-exit args...
	local want=$1 rc
	shift
	set +e
	OUT=$("$MC" "$@" 2>"$T/mc.err")
	rc=$?
	set -e
	[ "$rc" -eq "$want" ] || fail "midclient $*: exit $rc, not $want: $OUT $(cat "$T/mc.err")"
}

mc 0 "$URL" "$T/org.key" register test:https:client:01
assert_contains "$OUT" "allowed=1 code=ALLOW request_id=- http=200" "register"
assert_contains "$OUT" "status=ok" "register status"

mc 0 "$URL" "$T/org.key" validate test:https:client:01 100
assert_eq 100 "$(grep -Ec "^allowed=1 code=ALLOW request_id=$UUID_RE http=200 " <<<"$OUT")" "100 allows"
assert_contains "$(cat "$T/mc.err")" "calls=100 connects=1 " "one kept-alive TLS connection"
note "100 validates over https: $(tail -n 1 "$T/mc.err")"

mc 1 "$URL" "$T/org.key" validate test:https:client:revoked
assert_contains "$OUT" "allowed=0 code=DEVICE_REVOKED request_id=" "revoked"
mc 1 "$URL" "$T/org.key" validate test:https:client:fail
assert_contains "$OUT" "allowed=0 code=MIDSHIM_HTTP_500 request_id=- http=500" "HTTP 500"
mc 1 "$URL" "$T/org.key" validate test:https:client:big
assert_contains "$OUT" "allowed=0 code=MIDSHIM_TOO_LARGE" "10 MB reply"
echo other-key >"$T/bad.key"
mc 1 "$URL" "$T/bad.key" validate test:https:client:01
assert_contains "$OUT" "allowed=0 code=MIDSHIM_HTTP_401" "wrong key"

# Without the test CA the server cannot be verified: no answer is trusted.
unset MIDCLIENT_CA_FILE
mc 1 "$URL" "$T/org.key" validate test:https:client:01
assert_contains "$OUT" "allowed=0 code=MIDSHIM_UNREACHABLE request_id=- http=0" "unverified server"
note "unverified: $(head -n 1 "$T/mc.err")"
