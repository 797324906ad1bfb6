#!/bin/bash
# SPDX-License-Identifier: MIT
# make install PREFIX=/opt/... rewrites the recipes (systemd unit and
# drop-in, cron file, incident script) to name the tools and the library
# where that PREFIX put them, not /usr/local; a program of the user's that
# a recipe names under /usr/local stays as it is. The bash completions go
# to PREFIX/share/bash-completion/completions, and make uninstall removes
# everything again.
. "$(dirname "$0")/../lib.sh"
DEST=$T/dest
PFX=/opt/midshim-test
P=$DEST$PFX
mk() { make -s -C "$TOP" --no-print-directory B="$B" DESTDIR="$DEST" PREFIX="$PFX" "$@"; }

mk install >"$T/make.out" 2>&1 || fail "make install: $(tail -n 20 "$T/make.out")"
E=$P/share/midshim/examples
left=$(grep -rn -e /usr/local/bin/mid -e /usr/local/lib/midshim -e 'PATH=/usr/local/bin' "$E" || true)
[ -z "$left" ] || fail "recipes still name /usr/local: $left"
assert_file_contains "$E/systemd/midd.service" "ExecStart=$PFX/bin/midd --db" "unit's ExecStart"
assert_file_contains "$E/systemd/midshim-dropin.conf" "LD_PRELOAD=$PFX/lib/midshim/libmidshim.so" "drop-in's library"
assert_file_contains "$E/cron/midshim.cron" "PATH=$PFX/bin:/usr/bin:/bin" "cron PATH"
assert_file_contains "$E/cron/midshim.cron" "/usr/local/bin/report --all" "the user's own program is left alone"
assert_file_contains "$E/incident/wrap-next-start.sh" "PRELOAD=\${PRELOAD:-$PFX/lib/midshim/libmidshim.so}" "incident script"
[ -x "$E/incident/wrap-next-start.sh" ] || fail "incident script not executable"
bash -n "$E/incident/wrap-next-start.sh" || fail "rewritten incident script does not parse"
# The rewritten library path is where the library is.
lib=$(sed -n 's/^Environment=LD_PRELOAD=//p' "$E/systemd/midshim-dropin.conf")
assert_exists "$DEST$lib" "the drop-in's library after install"
for t in midshim midctl midd; do
	assert_exists "$P/share/bash-completion/completions/$t" "completion for $t"
done
# The source tree keeps the default paths.
assert_file_contains "$TOP/examples/systemd/midd.service" "ExecStart=/usr/local/bin/midd" "source unit unchanged"

mk uninstall >"$T/make.out" 2>&1 || fail "make uninstall: $(tail -n 20 "$T/make.out")"
left=$(find "$DEST" -type f -o -type l)
[ -z "$left" ] || fail "files left after uninstall: $left"
note "ok: recipes follow PREFIX=$PFX"
