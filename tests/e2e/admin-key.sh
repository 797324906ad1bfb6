#!/bin/bash
# SPDX-License-Identifier: MIT
# A gated program can never hold the admin key, with which it could
# restore its own device. `midd init --write-keys` writes the admin key
# readable by its owner only, away from the org key; the shim and
# `midshim run` refuse to start a program that can read an admin key
# beside its org key, or that is given the admin key as its org key.
. "$(dirname "$0")/../lib.sh"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# Keys as an operator (root) writes them for gated programs in a group.
"$BIN/midd" init --db "$T/midd.db" --write-keys "$T/keys" --key-group nogroup >"$T/init.out"
ORG_KEY=$(cat "$T/keys/org.key")
ADMIN_KEY=$(cat "$T/keys/admin/admin.key")
export ORG_KEY ADMIN_KEY
midd_start
shim_env "test:e2e:adminkey:01"

assert_eq "750 root:nogroup" "$(stat -c '%a %U:%G' "$T/keys")" "key directory"
assert_eq "640 root:nogroup" "$(stat -c '%a %U:%G' "$T/keys/org.key")" "org.key"
assert_eq "700 root" "$(stat -c '%a %U' "$T/keys/admin")" "admin key directory"
assert_eq "400 root" "$(stat -c '%a %U' "$T/keys/admin/admin.key")" "admin.key"
assert_absent "$T/keys/admin.key" "no admin key beside the org key"
chmod 711 "$T"
mkdir -m 1777 "$T/pub"
"${NOBODY[@]}" cat "$T/keys/org.key" >/dev/null 2>&1 || fail "a gated user in the group cannot read org.key"
! "${NOBODY[@]}" cat "$T/keys/admin/admin.key" >/dev/null 2>&1 || fail "another user can read admin.key"

# refused START WHAT CMD...: CMD must stop before main with exit 126 and
# one line naming NEEDLE, and its side effect ($T/pub/m) must not happen.
refused() { # needle what cmd...
	local needle=$1 what=$2
	shift 2
	rm -f "$T/pub/m"
	set +e
	"$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	set -e
	[ "$RC" -eq 126 ] || fail "$what: expected exit 126, got $RC; stderr: $(cat "$T/err")"
	assert_absent "$T/pub/m" "$what: the program ran"
	assert_eq 1 "$(wc -l <"$T/err")" "$what: one line (stderr: $(cat "$T/err"))"
	assert_contains "$(cat "$T/err")" "$needle" "$what"
	! grep -qF -- "$ADMIN_KEY" "$T/err" "$T/out" || fail "$what: the admin key was printed"
	note "ok: $what"
}
touch_m=(sh -c "touch $T/pub/m")

# A gated program of another user reads its org key, not the admin key,
# and runs.
rm -f "$T/pub/m"
"${NOBODY[@]}" env LD_PRELOAD="$PRELOAD" "${touch_m[@]}" 2>"$T/err" ||
	fail "a gated program in the key group did not run: $(cat "$T/err")"
assert_exists "$T/pub/m" "the gated program of another user ran"

# The same layout, but the program runs as the owner of the admin key:
# it could restore itself, so it does not start.
refused "$T/keys/admin/admin.key, beside the org key, is readable by this program" \
	"the admin key's owner, gated" env LD_PRELOAD="$PRELOAD" "${touch_m[@]}"
refused "$T/keys/admin/admin.key, beside the org key, is readable by this program" \
	"the admin key's owner, through midshim run" \
	"$BIN/midshim" run --lib "$SHIM" --org-key-file "$T/keys/org.key" -- "${touch_m[@]}"

# Both keys in one directory, as `midd init` wrote them before: readable
# by the program, it is refused; made readable by the operator alone, the
# program runs.
cp "$T/keys/org.key" "$T/pub/org.key"
chmod 644 "$T/pub/org.key"
install -m 0644 "$T/keys/admin/admin.key" "$T/pub/admin.key"
MIDSHIM_ORG_KEY_FILE=$T/pub/org.key refused "$T/pub/admin.key, beside the org key" \
	"admin.key readable beside org.key" "${NOBODY[@]}" env LD_PRELOAD="$PRELOAD" "${touch_m[@]}"
# The org key a link to that file, from a directory with no admin key:
# the directory the link points into counts.
mkdir -m 0755 "$T/pub/elsewhere"
ln -s "$T/pub/org.key" "$T/pub/elsewhere/org.key"
MIDSHIM_ORG_KEY_FILE=$T/pub/elsewhere/org.key refused "$T/pub/admin.key, beside the org key" \
	"admin.key readable beside the file an org key link names" \
	"${NOBODY[@]}" env LD_PRELOAD="$PRELOAD" "${touch_m[@]}"
chmod 0400 "$T/pub/admin.key"
rm -f "$T/pub/m"
MIDSHIM_ORG_KEY_FILE=$T/pub/org.key "${NOBODY[@]}" env LD_PRELOAD="$PRELOAD" "${touch_m[@]}" \
	2>"$T/err" || fail "admin.key 0400 root beside org.key: refused: $(cat "$T/err")"
assert_exists "$T/pub/m" "the admin key unreadable, the program runs"

# The admin key given as the org key.
install -m 0644 "$T/keys/admin/admin.key" "$T/pub/wrong.key"
refused "holds an admin key" "midshim run --org-key-file admin.key" \
	"${NOBODY[@]}" "$BIN/midshim" run --lib "$SHIM" --org-key-file "$T/pub/wrong.key" -- "${touch_m[@]}"
MIDSHIM_ORG_KEY_FILE=$T/pub/wrong.key refused "holds an admin key" "MIDSHIM_ORG_KEY_FILE=admin.key" \
	"${NOBODY[@]}" env LD_PRELOAD="$PRELOAD" "${touch_m[@]}"
MIDSHIM_ORG_KEY=$ADMIN_KEY refused "MIDSHIM_ORG_KEY holds an admin key" "MIDSHIM_ORG_KEY=admin key" \
	"${NOBODY[@]}" env LD_PRELOAD="$PRELOAD" "${touch_m[@]}"
