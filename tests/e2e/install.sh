#!/bin/bash
# SPDX-License-Identifier: MIT
# make install into a scratch DESTDIR lays out binaries, the library,
# manual pages and examples; the installed launcher finds the installed
# library by its own path and gates a program against the installed midd
# (allowed, then killed after a revoke with the installed midctl); make
# uninstall with the same DESTDIR removes every file again.
. "$(dirname "$0")/../lib.sh"
DEST=$T/dest
P=$DEST/usr/local
mk() { make -s -C "$TOP" --no-print-directory B="$B" DESTDIR="$DEST" PREFIX=/usr/local "$@"; }

mk install >"$T/make.out" 2>&1 || fail "make install: $(tail -n 20 "$T/make.out")"

# ---- the tree ----------------------------------------------------------------
for f in bin/midd bin/midctl bin/midshim; do
	[ -x "$P/$f" ] || fail "installed $f is missing or not executable"
done
assert_exists "$P/lib/midshim/libmidshim.so" "installed library"
for m in "$TOP"/man/*.[158]; do
	n=${m##*/}
	assert_exists "$P/share/man/man${n##*.}/$n" "installed manual page $n"
done
for n in midshim.1 midctl.1 midshim-policy.5; do
	assert_exists "$P/share/man/man${n##*.}/$n" "installed manual page $n"
done
ls "$P"/share/midshim/examples/*.json >/dev/null 2>&1 || fail "no example policies installed"
for f in systemd/midd.service systemd/midshim-dropin.conf cron/midshim.cron; do
	assert_exists "$P/share/midshim/examples/$f" "installed recipe $f"
done
[ -x "$P/share/midshim/examples/incident/wrap-next-start.sh" ] || fail "incident script not executable"
# Nothing installed may point back into the build tree.
if have readelf binutils "RPATH check of the installed files"; then
	for f in "$P"/bin/* "$P/lib/midshim/libmidshim.so"; do
		if readelf -d "$f" | grep -Eq 'RPATH|RUNPATH'; then
			fail "${f#"$DEST"}: has an RPATH/RUNPATH: $(readelf -d "$f" | grep -E 'RPATH|RUNPATH')"
		fi
	done
fi
out=$("$P/bin/midshim" --version)
assert_contains "$out" "midshim " "installed launcher runs"

# ---- the installed tools gate a program --------------------------------------
BUILD_BIN=$BIN
BIN=$P/bin # midd_start and midd_init use the installed midd
midd_start
export ORG_KEY ADMIN_KEY
DEV=test:e2e:install:01
run_installed() { launcher_run "$P/bin/midshim" "$DEV" "$1"; }
run_installed "$T/m1"
assert_eq 0 "$RC" "allowed run under the installed launcher; stderr: $(cat "$T/err")"
assert_exists "$T/m1" "allowed run did its side effect"
assert_contains "$(cat "$T/out")" "$P/lib/midshim/libmidshim.so" "the installed library is preloaded"
assert_not_contains "$(cat "$T/out")" "$BUILD_BIN/libmidshim.so" "no library from the build tree"

"$P/bin/midctl" --url "$MIDSHIM_URL" --admin-key-file "$T/admin/admin.key" revoke "$DEV" >"$T/ctl" 2>&1 ||
	fail "installed midctl revoke: $(cat "$T/ctl")"
grep -Eq "^revoked $DEV \(request_id $UUID_RE\)$" "$T/ctl" || fail "revoke output: $(cat "$T/ctl")"
sleep 0.2
run_installed "$T/m2"
assert_eq 137 "$RC" "run after the revoke killed; stderr: $(cat "$T/err")"
assert_absent "$T/m2" "no side effect after the revoke"
grep -Eq "midshim: denied .*\(device $DEV, code DEVICE_REVOKED, request_id $UUID_RE\): killed" "$T/err" ||
	fail "denial line: $(cat "$T/err")"
midd_stop

# ---- uninstall ---------------------------------------------------------------
mk uninstall >"$T/make.out" 2>&1 || fail "make uninstall: $(tail -n 20 "$T/make.out")"
left=$(find "$DEST" -type f -o -type l)
[ -z "$left" ] || fail "files left after uninstall: $left"
assert_absent "$P/lib/midshim" "library directory removed"
assert_absent "$P/share/midshim" "share directory removed"
