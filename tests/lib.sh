# SPDX-License-Identifier: MIT
# Shared helpers for integration and end-to-end tests. Source it:
#   . "$(dirname "$0")/../lib.sh"
# It makes a private temp dir $T (removed on exit), knows the build dir
# $BIN, starts a real midd on a free loopback port, and offers assertions
# that print what was expected and what was seen.
set -euo pipefail

TOP=${MIDSHIM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
B=${B:-build}
case $B in /*) BIN=$B ;; *) BIN=$TOP/$B ;; esac
SHIM=$BIN/libmidshim.so
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-test.XXXXXX")
MIDD_PID=
_cleanup_hooks=()

on_exit() { _cleanup_hooks+=("$1"); }

_cleanup() {
	local rc=$?
	local h
	for h in "${_cleanup_hooks[@]}"; do eval "$h" || true; done
	midd_stop || true
	if [ "$rc" -ne 0 ] && [ -f "$T/midd.log" ]; then
		echo "--- midd log (tail) ---" >&2
		tail -n 20 "$T/midd.log" >&2
	fi
	rm -rf "$T"
	exit "$rc"
}
trap _cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "# $*"; }

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

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# midd_init: create the database $T/midd.db and an org; keys land in
# $T/keys/org.key and $T/keys/admin.key and in ORG_KEY / ADMIN_KEY.
midd_init() {
	[ -f "$T/midd.db" ] && return 0
	"$BIN/midd" init --db "$T/midd.db" --write-keys "$T/keys" "$@" >"$T/init.out"
	ORG_KEY=$(cat "$T/keys/org.key")
	ADMIN_KEY=$(cat "$T/keys/admin.key")
	export ORG_KEY ADMIN_KEY
}

# midd_start [midd options...]: start midd on a free loopback port (or
# reuse MIDD_PORT after a restart) and wait until /healthz answers. Sets
# MIDD_PORT, MIDD_PID and exports MIDSHIM_URL.
midd_start() {
	midd_init
	MIDD_PORT=${MIDD_PORT:-$(free_port)}
	"$BIN/midd" --db "$T/midd.db" --listen "127.0.0.1:$MIDD_PORT" "$@" \
		>>"$T/midd.log" 2>&1 &
	MIDD_PID=$!
	export MIDSHIM_URL=http://127.0.0.1:$MIDD_PORT
	local i
	for i in $(seq 1 100); do
		if curl -fsS --max-time 1 "$MIDSHIM_URL/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$MIDD_PID" 2>/dev/null || fail "midd exited at start: $(tail -n 5 "$T/midd.log")"
		sleep 0.05
	done
	fail "midd did not answer /healthz within 5 s"
}

midd_stop() {
	[ -n "$MIDD_PID" ] || return 0
	kill -TERM "$MIDD_PID" 2>/dev/null || true
	wait "$MIDD_PID" 2>/dev/null || true
	MIDD_PID=
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
