#!/bin/bash
# SPDX-License-Identifier: MIT
# A program that will not load the shim is "unfollowable": with the
# policy's "unfollowable": "deny" its start is refused, otherwise it runs
# with a warning. Beside a static binary, that is a "#!" script whose
# interpreter is static (the kernel starts the interpreter directly, no
# libc exec in between), a script of a script of one, a program whose
# PT_INTERP names another program interpreter than the system's loader,
# and a program of another architecture. Ordinary dynamic programs and
# scripts of dynamic interpreters still run.
. "$(dirname "$0")/../lib.sh"
need gcc gcc
midd_start
shim_env "test:e2e:unfollowable:01"
cat >"$T/deny.json" <<'JSON'
{ "version": 1, "default": "validate", "unfollowable": "deny" }
JSON
STATIC=$BIN/helpers/static_true

# A static interpreter for scripts, and scripts of it, one and two deep.
printf '#!%s\necho never\n' "$STATIC" >"$T/s1"
printf '#!  %s -x\n' "$T/s1" >"$T/s2"
# A dynamic program whose loader is a static program (it runs instead of
# ld.so, and ignores LD_PRELOAD).
printf 'int main(void) { return 0; }\n' >"$T/m.c"
cp "$STATIC" "$T/ld.so"
gcc -o "$T/foreign-loader" -Wl,--dynamic-linker="$T/ld.so" "$T/m.c" ||
	fail "cannot build a program with its own loader"
# An ELF of another machine (the header is enough: the check reads it).
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\002\000\267\000' >"$T/arm64"
head -c 100 /dev/zero >>"$T/arm64"
# A script of a dynamic interpreter, and a plain dynamic program.
printf '#!/bin/sh\nexit 0\n' >"$T/ok.sh"
chmod +x "$T/s1" "$T/s2" "$T/arm64" "$T/ok.sh"

for p in "$STATIC" "$T/s1" "$T/s2" "$T/foreign-loader" "$T/arm64"; do
	MIDSHIM_POLICY=$T/deny.json gated sh -c 'exec "$1"' _ "$p"
	[ "$RC" -ne 0 ] || fail "$p: ran under \"unfollowable\": \"deny\""
	assert_contains "$(cat "$T/err")" "UNFOLLOWABLE" "$p: the denial's code"
	note "ok: $(basename "$p") refused"
	# Without the rule: a warning, and the start goes on.
	gated sh -c 'exec "$1"' _ "$p"
	assert_contains "$(cat "$T/err")" "warning: $p is" "$p: the warning"
done
# The warning names the reason.
gated sh -c 'exec "$1"' _ "$T/s2"
assert_contains "$(cat "$T/err")" "a script whose interpreter is unfollowable" "the reason for a script"
gated sh -c 'exec "$1"' _ "$T/foreign-loader"
assert_contains "$(cat "$T/err")" "loaded by another program interpreter" "the reason for a foreign loader"
gated sh -c 'exec "$1"' _ "$T/arm64"
assert_contains "$(cat "$T/err")" "built for another architecture" "the reason for another machine"

for p in "$T/ok.sh" /bin/true; do
	MIDSHIM_POLICY=$T/deny.json expect_allowed "$p" sh -c 'exec "$1"' _ "$p"
	! grep -q warning "$T/err" || fail "$p: warned: $(cat "$T/err")"
done
note "ok: scripts and dynamic programs run"
