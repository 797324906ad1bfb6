# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared helpers for integration and end-to-end tests. Source it:
#   . "$(dirname "$0")/../lib.sh"
# It makes a private temp dir $T (removed on exit), knows the build dir
# $BIN, starts a real midd on a free loopback port, and offers assertions
# that print what was expected and what was seen.
set -euo pipefail

TOP=${MID_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
B=${B:-build}
case $B in /*) BIN=$B ;; *) BIN=$TOP/$B ;; esac
SHIM=$BIN/libmidshim.so
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-test.XXXXXX")
MIDD_PID=
_cleanup_hooks=()
_skipped=
# The helpers wait on the FIFO GO names (tests/helpers/go.h); only
# expect_revoked hands one to the program it runs.
unset GO

on_exit() { _cleanup_hooks+=("$1"); }

_cleanup() {
	local rc=$?
	local h
	for h in "${_cleanup_hooks[@]}"; do eval "$h" || true; done
	if ! _midd_stop; then
		echo "FAIL: $_midd_err" >&2
		[ "$rc" -ne 0 ] || rc=1
	fi
	keepers_stop
	if [ "$rc" -ne 0 ] && [ -f "$T/midd.log" ]; then
		echo "--- midd log (tail) ---" >&2
		tail -n 20 "$T/midd.log" >&2
	fi
	rm -rf "$T"
	# A test that passed what it ran but left a part out is a skip.
	[ "$rc" -ne 0 ] || [ -z "$_skipped" ] || rc=77
	exit "$rc"
}
trap _cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

# tests/run.sh counts exit 77 as a skip and shows the "SKIP:" lines.
# skip WHY: the whole test cannot run here.
skip() { echo "SKIP: $*"; exit 77; }
# have CMD PACKAGE [WHAT]: true if CMD is installed; if not, say which
# Debian package is missing, and the test (which goes on with its other
# cases) ends as a skip. make check fails such a skip when
# scripts/install-deps.sh installs PACKAGE.
have() {
	command -v "$1" >/dev/null 2>&1 && return 0
	echo "SKIP: ${3:-$1}: $1 is not installed (Debian package $2)"
	_skipped=1
	return 1
}
# need CMD PACKAGE: the whole test needs CMD.
need() { have "$@" || exit 77; }

assert_eq() { # expected actual what
	[ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}
assert_ne() { # unexpected actual what
	[ "$1" != "$2" ] || fail "$3: did not expect '$1'"
}
assert_contains() { # haystack needle what
	case $1 in *"$2"*) ;; *) fail "$3: expected to contain '$2', got: $1" ;; esac
}
assert_not_contains() { # haystack needle what
	case $1 in *"$2"*) fail "$3: expected not to contain '$2', got: $1" ;; *) ;; esac
}
assert_file_contains() { # file needle what
	[ -f "$1" ] || fail "$3: file $1 does not exist"
	grep -qF -- "$2" "$1" || fail "$3: $1 lacks '$2'; it holds: $(head -c 2000 "$1")"
}
assert_exists() { [ -e "$1" ] || fail "${2:-$1}: expected $1 to exist"; }
assert_absent() { [ ! -e "$1" ] || fail "${2:-$1}: expected $1 to be absent"; }

# free_port and midd_wait_ready.
# shellcheck source=scripts/lib.sh
. "$TOP/scripts/lib.sh"

# `make valgrind` runs midd and midctl under memcheck: any error or leak
# makes the program exit 99, which the tests see as a failure. midd starts
# several times slower under it, hence the longer wait for /healthz.
VG=()
if [ -n "${MIDSHIM_TEST_VALGRIND:-}" ]; then
	VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
	MIDD_READY_S=30
fi
# Under ASan, midd and midctl run with leak checking ("${OURS[@]}" in
# front of them), unlike gated programs (see PRELOAD below); a leak makes
# them exit non-zero. tests/lsan.supp lists known leaks, each with its reason.
OURS=()
if [ -n "${MIDSHIM_TEST_SANITIZER:-}" ]; then
	OURS=(env "ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0"
		"LSAN_OPTIONS=suppressions=$TOP/tests/lsan.supp:print_suppressions=0")
fi

# The database midd_init and midd_start use; a test may set it elsewhere
# (e.g. on a file system it mounts) before calling them. Under
# tests/integration/pg-suite.sh it is a PostgreSQL URL instead.
DB_FILE=${MIDSHIM_TEST_DB_URL:-$T/midd.db}

# midd_init: create the database $DB_FILE and an org; keys land in
# $T/keys/org.key and $T/admin/admin.key and in ORG_KEY / ADMIN_KEY.
# shellcheck disable=SC2120 # tests call it with arguments
midd_init() {
	[ -f "$DB_FILE" ] || [ -f "$T/keys/org.key" ] && return 0
	"${OURS[@]}" "$BIN/midd" init --db "$DB_FILE" --write-keys "$T/keys" --admin-key-dir "$T/admin" "$@" >"$T/init.out"
	ORG_KEY=$(cat "$T/keys/org.key")
	ADMIN_KEY=$(cat "$T/admin/admin.key")
	export ORG_KEY ADMIN_KEY
}

# midd_start [midd options...]: start midd on a free loopback port (or
# reuse MIDD_PORT after a restart) and wait until /healthz answers. Sets
# MIDD_PORT, MIDD_PID and exports MIDSHIM_URL.
midd_start() {
	midd_init
	MIDD_PORT=${MIDD_PORT:-$(free_port)}
	local db=(--db "$DB_FILE")
	case $DB_FILE in postgres*://*) db+=(--state-dir "$T" --replica-name test) ;; esac
	"${OURS[@]}" "${VG[@]}" "$BIN/midd" "${db[@]}" --listen "127.0.0.1:$MIDD_PORT" "$@" \
		>>"$T/midd.log" 2>&1 &
	MIDD_PID=$!
	export MIDSHIM_URL=http://127.0.0.1:$MIDD_PORT
	midd_ready "$MIDSHIM_URL" "$MIDD_PID" "$T/midd.log"
}

# midd_ready WHERE PID LOG: fail unless the midd PID, logging to LOG,
# answers /healthz at WHERE (see midd_wait_ready) within MIDD_READY_S.
midd_ready() {
	local rc=0
	midd_wait_ready "$1" "$2" || rc=$?
	case $rc in
	0) ;;
	1) fail "midd exited at start: $(tail -n 5 "$3")" ;;
	*) fail "midd did not answer /healthz at $1 within $MIDD_READY_S s" ;;
	esac
}

# midd_stop: stop midd with SIGTERM. The test fails unless it exits 0
# within 10 s (60 s under valgrind) and its log holds no sanitizer or
# valgrind report; the end of every test stops midd this way.
midd_stop() { _midd_stop || fail "$_midd_err"; }

_midd_err=
_midd_stop() {
	local rc=0 pid=$MIDD_PID
	if [ -n "$pid" ]; then
		MIDD_PID=
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 $((${#VG[@]} ? 1200 : 200))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			_midd_err="midd did not stop within $((${#VG[@]} ? 60 : 10)) s of SIGTERM"
			return 1
		fi
		wait "$pid" 2>/dev/null || rc=$?
		if [ "$rc" -ne 0 ]; then
			_midd_err="midd ended with status $rc, not 0 at SIGTERM: $(_midd_report || tail -n 30 "$T/midd.log")"
			return 1
		fi
	fi
	if _midd_report >/dev/null; then
		_midd_err="midd: a sanitizer or valgrind report: $(_midd_report)"
		return 1
	fi
	return 0
}

# The first sanitizer or valgrind report in midd's log, if any.
_midd_report() {
	[ -f "$T/midd.log" ] &&
		grep -E -m 1 -A 20 '(ERROR|WARNING|SUMMARY): [A-Za-z]+Sanitizer|runtime error:|^==[0-9]+== [A-Z]' "$T/midd.log"
}

# keepers_stop: end the push keepers midd started for this test (named in
# its log), by PID; a keeper outlives midd while gated processes hold
# channels.
keepers_stop() {
	local pid
	for pid in $(sed -n 's/.*push-keeper pid=\([0-9]*\).*/\1/p' "$T/midd.log" 2>/dev/null | sort -u); do
		if grep -qs push-keeper "/proc/$pid/cmdline"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

midd_kill9() {
	[ -n "$MIDD_PID" ] || return 0
	kill -KILL "$MIDD_PID" 2>/dev/null || true
	wait "$MIDD_PID" 2>/dev/null || true
	MIDD_PID=
}

# api METHOD PATH KEY [BODY]: call midd with curl; prints "STATUS BODY".
api() {
	local method=$1 path=$2 key=$3 body=${4:-}
	local hdr=x-org-key
	[ "$key" = "$ADMIN_KEY" ] && hdr=x-admin-key
	local args=(-sS --max-time 5 -X "$method" -H "$hdr: $key" -o "$T/api.body" -w '%{http_code}')
	[ -n "$body" ] && args+=(-H 'content-type: application/json' --data-binary "$body")
	local code
	code=$(curl "${args[@]}" "$MIDSHIM_URL$path")
	echo "$code $(cat "$T/api.body")"
}

# Shim environment for a gated program: device registered, key from file.
shim_env() { # device
	midd_init
	export MIDSHIM_DEVICE_ID=$1
	export MIDSHIM_ORG_KEY_FILE=$T/keys/org.key
	unset MIDSHIM_ORG_KEY
}

# ---- gated programs (e2e) ---------------------------------------------------
# The system's interpreter: a version manager's shim script in front of
# python3 would run its own programs (and boundaries) first.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
export PY
# A test device is registered by the shim itself at its first start.
# TTL is short so a revoke is seen quickly; tests wait out TTL explicitly.
export MIDSHIM_TTL_MS=${MIDSHIM_TTL_MS:-100}
# Tests of the gate at side effects revoke while a program waits: a push
# would kill it first. The push tests turn it on.
export MIDSHIM_PUSH=${MIDSHIM_PUSH:-off}
UUID_RE='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
# The sanitizer runtime must come first in LD_PRELOAD for ASan builds.
PRELOAD=$SHIM
if [ -n "${MIDSHIM_TEST_SANITIZER:-}" ]; then
	PRELOAD="$(gcc -print-file-name=libasan.so):$SHIM"
	# Leaks are not checked in gated programs (bash, python3...): the
	# shim's own allocations live as long as the process by design.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi

# launcher_run LAUNCHER DEVICE MARKER: an installed launcher runs a shell
# that prints its LD_PRELOAD and touches MARKER, with the TTL 100 ms and
# the test's midd and org key; no MIDSHIM_* of the test's environment
# reaches it. Output in $T/out and $T/err, status in RC.
launcher_run() {
	local v unset=() pre=
	[ -z "${MIDSHIM_TEST_SANITIZER:-}" ] || pre=${PRELOAD%:*}
	for v in ${!MIDSHIM_@}; do unset+=(-u "$v"); done
	set +e
	# shellcheck disable=SC2016 # expanded by the gated shell
	env "${unset[@]}" ${pre:+LD_PRELOAD=$pre} \
		"$1" run --device "$2" --url "$MIDSHIM_URL" --ttl-ms 100 \
		--org-key-file "$T/keys/org.key" -- \
		/bin/sh -c 'echo "$LD_PRELOAD"; touch "$1"' sh "$3" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	set -e
}

# shellcheck disable=SC2120 # tests call it with arguments
device_revoke() { # [device]
	local r
	r=$(api POST /api/v1/devices/revoke "$ADMIN_KEY" "{\"deviceId\":\"${1:-$MIDSHIM_DEVICE_ID}\"}")
	assert_contains "$r" '"revoked"' "revoke ${1:-$MIDSHIM_DEVICE_ID}"
}

# shellcheck disable=SC2120 # tests call it with arguments
device_restore() { # [device]
	local r
	r=$(api POST /api/v1/devices/unrevoke "$ADMIN_KEY" "{\"deviceId\":\"${1:-$MIDSHIM_DEVICE_ID}\"}")
	assert_contains "$r" '"active"' "restore ${1:-$MIDSHIM_DEVICE_ID}"
}

# revoke_reap PID SECS: revoke the device while PID, a gated child of this
# shell, runs; wait at most SECS for it to end, then restore the device.
# Its status in RC; the ms from the revoke's answer to its end in REAP_MS.
revoke_reap() {
	local t0
	device_revoke
	t0=${EPOCHREALTIME/./}
	set +e
	timeout "$2" tail -s 0.02 --pid="$1" -f /dev/null
	wait "$1"
	RC=$?
	set -e
	# shellcheck disable=SC2034 # for the caller
	REAP_MS=$(((${EPOCHREALTIME/./} - t0) / 1000))
	device_restore
}

# gated CMD...: run CMD under the shim; output in $T/out and $T/err,
# status in RC. Never fails by itself.
gated() {
	set +e
	LD_PRELOAD=$PRELOAD "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	set -e
}

# expect_allowed WHAT CMD...: CMD runs under the shim and exits 0.
expect_allowed() {
	local what=$1
	shift
	gated "$@"
	[ "$RC" -eq 0 ] || fail "$what: allowed run exited $RC; stderr: $(head -c 2000 "$T/err")"
	if grep -q 'midshim: denied' "$T/err"; then
		fail "$what: allowed run logged a denial: $(cat "$T/err")"
	fi
}

# expect_revoked WHAT KIND CMD...: CMD starts under the shim (passing its
# startup gate), prints "ready", then blocks reading the FIFO its
# environment's GO names, before its side effect. The device is revoked,
# TTL runs out, CMD is released: it must die by SIGKILL at that side
# effect with a DEVICE_REVOKED line naming KIND ("exec", "connect", "send",
# "write", "fs delete", ...). The device is restored afterwards. GO
# reaches CMD alone: a later program that found it would wait on a FIFO
# nobody writes.
expect_revoked() {
	local what=$1 kind=$2 pid go=$T/go
	shift 2
	rm -f "$go" "$T/out" "$T/err"
	mkfifo "$go"
	if [ -n "${STDIN_GO:-}" ]; then
		# The program reads its answer (e.g. to rm -i) from stdin:
		# a read-write open of the FIFO does not block here.
		exec 7<>"$go"
		GO=$go LD_PRELOAD=$PRELOAD "$@" >"$T/out" 2>"$T/err" <&7 &
	else
		GO=$go LD_PRELOAD=$PRELOAD "$@" >"$T/out" 2>"$T/err" </dev/null &
	fi
	pid=$!
	# Ready: it said so, or it sits in open() of the FIFO.
	local ready=
	for _ in $(seq 1 200); do
		case $(cat "/proc/$pid/wchan" 2>/dev/null) in
		wait_for_partner) ready=1 ;;
		*pipe_read | pipe_wait*) [ -z "${STDIN_GO:-}" ] || ready=1 ;;
		esac
		if [ -n "$ready" ] || grep -q ready "$T/out" 2>/dev/null; then
			ready=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$ready" ] || fail "$what: program never got ready; stderr: $(head -c 2000 "$T/err")"
	device_revoke
	sleep "$(((MIDSHIM_TTL_MS + 150) / 1000)).$(printf '%03d' $(((MIDSHIM_TTL_MS + 150) % 1000)))"
	# Release it; a timeout keeps a program that died early from
	# blocking the writer forever.
	if [ -n "${STDIN_GO:-}" ]; then
		printf '%s\n' "${GO_LINE:-y}" >&7
	else
		timeout 5 sh -c 'printf "%s\n" "$2" > "$1"' _ "$go" "${GO_LINE:-go}" || true
	fi
	set +e
	wait "$pid"
	RC=$?
	set -e
	[ -z "${STDIN_GO:-}" ] || exec 7>&-
	device_restore
	[ "$RC" -eq 137 ] || fail "$what: expected death by SIGKILL (137), got $RC; stderr: $(cat "$T/err")"
	grep -Eq "midshim: denied $kind .*\(device $MIDSHIM_DEVICE_ID, code DEVICE_REVOKED, request_id $UUID_RE\): killed" "$T/err" ||
		fail "$what: no '$kind ... DEVICE_REVOKED' denial line; stderr: $(cat "$T/err")"
}

# expect_fault WHAT CODE: a gated `touch $M` is stopped at its startup gate
# by SIGKILL with a denial naming CODE, and $M is not made.
expect_fault() {
	rm -f "$M"
	gated sh -c "touch $M"
	[ "$RC" -eq 137 ] || fail "$1: expected SIGKILL (137), got $RC; stderr: $(cat "$T/err")"
	assert_absent "$M" "$1: side effect happened"
	grep -Eq "midshim: denied start .*code $2, request_id -\): killed" "$T/err" ||
		fail "$1: no denial with code $2; stderr: $(cat "$T/err")"
	note "ok: $1 -> $2"
}

# A loopback TCP listener, not gated, that appends each connection's
# bytes (or "connected") to $1. Sets LISTEN_PORT and LISTEN_PID.
# wait_listening HOST PORT: until a TCP connect succeeds (at most 5 s).
wait_listening() {
	for _ in $(seq 1 100); do
		python3 -c "import socket; socket.create_connection(('$1', $2), 1).close()" 2>/dev/null && return
		sleep 0.05
	done
}

listener_start() {
	local log=$1
	LISTEN_PORT=$(free_port)
	python3 - "$LISTEN_PORT" "$log" <<'PY' &
import socket, sys
port, log = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
s.settimeout(120)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.settimeout(10)
    with open(log, "a") as f:
        f.write("connected\n")
        f.flush()
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                f.write("data:" + d.decode(errors="replace").strip() + "\n")
                f.flush()
                if d.startswith(b"GET "):
                    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
                    break
        except Exception:
            pass
    c.close()
PY
	LISTEN_PID=$!
	on_exit "kill $LISTEN_PID 2>/dev/null"
	wait_listening 127.0.0.1 "$LISTEN_PORT"
	# The probe connection above is logged; start from a clean log.
	sleep 0.1
	: >"$log"
}

# ---- midctl -----------------------------------------------------------------
# midctl_run ARGS...: run the operator console; stdout in $OUT, stderr in
# $ERR, exit status in $RC; every run's output also goes to $T/midctl.all.
# Never fails by itself. stdin is the caller's.
midctl_run() {
	set +e
	"${OURS[@]}" "${VG[@]}" "$BIN/midctl" "$@" >"$T/midctl.out" 2>"$T/midctl.err"
	RC=$?
	set -e
	cat "$T/midctl.out" "$T/midctl.err" >>"$T/midctl.all"
	OUT=$(cat "$T/midctl.out")
	ERR=$(cat "$T/midctl.err")
}

# midctl_expect RC WHAT ARGS...: midctl_run ARGS and fail unless it exits RC.
midctl_expect() {
	local want=$1 what=$2
	shift 2
	midctl_run "$@"
	[ "$RC" -eq "$want" ] ||
		fail "$what: midctl $* exited $RC, expected $want; stdout: $OUT; stderr: $ERR"
}

# out_field KEY: the value of the "KEY   value" line of the last
# midctl_run's output (status, usage, keys).
out_field() { printf '%s\n' "$OUT" | awk -v k="$1" '$0 ~ "^"k"  " { sub("^"k" +", ""); print }'; }

# validate_code DEVICE: the code midd's validate gives DEVICE now (with the
# org key; it counts as the device's traffic).
validate_code() {
	api POST /api/v1/devices/validate "$ORG_KEY" "{\"deviceId\":\"$1\"}" |
		python3 -c 'import json, sys; print(json.loads(sys.stdin.read().partition(" ")[2])["code"])'
}

# device_state DEVICE: the state midd itself reports ("none" if unknown).
device_state() {
	api GET "/api/v1/devices/list?deviceId=$1" "$ADMIN_KEY" | python3 -c '
import json, sys
status, _, body = sys.stdin.read().partition(" ")
devs = [d for d in json.loads(body).get("devices", []) if d.get("deviceId") == sys.argv[1]]
print(devs[0].get("state") if devs else "none")' "$1"
}

# assert_json WHAT TEXT: TEXT parses as JSON.
assert_json() {
	printf '%s' "$2" | python3 -c 'import json, sys; json.load(sys.stdin)' 2>/dev/null ||
		fail "$1: not JSON: $(printf '%s' "$2" | head -c 2000)"
}
