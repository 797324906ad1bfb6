#!/bin/bash
# SPDX-License-Identifier: MIT
# make deb builds a Debian package that lintian passes; dpkg installs it
# into a throwaway root (its own dpkg database), where the packaged
# launcher, library, midd and midctl gate a program (allowed, then killed
# after a revoke), the recipes name /usr, and dpkg -r removes every file
# again. Needs the tools of `scripts/install-deps.sh deb`, and, since a
# package build and lintian take minutes on a loaded machine (over the
# time make check may spend), MIDSHIM_TEST_DEB=1; otherwise it is a skip:
#   MIDSHIM_TEST_DEB=1 B=build MID_TOP=$PWD bash tests/e2e/deb.sh
. "$(dirname "$0")/../lib.sh"
[ "${MIDSHIM_TEST_DEB:-}" = 1 ] ||
	skip "make deb takes minutes: run it with MIDSHIM_TEST_DEB=1 (tools: scripts/install-deps.sh deb)"
need dpkg-buildpackage dpkg-dev
need dh debhelper
need lintian lintian
make -s -C "$TOP" --no-print-directory B="$B" deb >"$T/make.out" 2>&1 ||
	fail "make deb: $(tail -n 30 "$T/make.out")"
debs=("$BIN"/deb/midshim_*.deb)
[ -f "${debs[0]}" ] || fail "make deb left no package in $BIN/deb: $(cat "$T/make.out")"
DEB=${debs[0]}
note "built $(basename "$DEB") ($(stat -c %s "$DEB") bytes)"

R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
: >"$R/var/lib/dpkg/status"
# --force-depends: libc and the other libraries are the host's, not in
# this root's database.
dpkg --root="$R" --force-depends -i "$DEB" >"$T/dpkg.out" 2>&1 || fail "dpkg -i: $(cat "$T/dpkg.out")"
dpkg --root="$R" -s midshim | grep -q '^Status: install ok installed' || fail "not installed"
for f in usr/bin/midd usr/bin/midctl usr/bin/midshim usr/lib/midshim/libmidshim.so \
	usr/share/man/man1/midshim.1.gz usr/share/bash-completion/completions/midctl \
	usr/share/doc/midshim/copyright; do
	assert_exists "$R/$f" "packaged $f"
done
assert_file_contains "$R/usr/share/midshim/examples/systemd/midd.service" "ExecStart=/usr/bin/midd" \
	"the packaged unit names /usr/bin/midd"

BIN=$R/usr/bin # midd_start uses the packaged midd
midd_start
DEV=test:e2e:deb:01
run_packaged() { launcher_run "$R/usr/bin/midshim" "$DEV" "$1"; }
run_packaged "$T/m1"
assert_eq 0 "$RC" "allowed run under the packaged launcher; stderr: $(cat "$T/err")"
assert_exists "$T/m1" "the allowed run did its side effect"
assert_contains "$(cat "$T/out")" "$R/usr/lib/midshim/libmidshim.so" "the packaged library is preloaded"
"$R/usr/bin/midctl" --url "$MIDSHIM_URL" --admin-key-file "$T/admin/admin.key" revoke "$DEV" \
	>"$T/ctl" 2>&1 || fail "packaged midctl revoke: $(cat "$T/ctl")"
sleep 0.2
run_packaged "$T/m2"
assert_eq 137 "$RC" "run after the revoke; stderr: $(cat "$T/err")"
assert_absent "$T/m2" "no side effect after the revoke"
midd_stop

dpkg --root="$R" -r midshim >"$T/dpkg.out" 2>&1 || fail "dpkg -r: $(cat "$T/dpkg.out")"
left=$(find "$R" -path "$R/var/lib/dpkg" -prune -o \( -type f -o -type l \) -print)
[ -z "$left" ] || fail "files left after dpkg -r: $left"
note "ok: make deb, lintian, dpkg -i, midshim run, dpkg -r"
