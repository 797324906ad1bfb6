#!/bin/bash
# SPDX-License-Identifier: MIT
# The deployment recipes in examples/ parse: shell scripts pass bash -n
# and shellcheck, the systemd unit and drop-in pass systemd-analyze
# verify (systemd need not run), and the
# cron file's job lines have five time fields, a user and a command that
# uses the launcher with a key file. Nothing here is executed.
. "$(dirname "$0")/../lib.sh"
E=$TOP/examples
for f in systemd/midd.service systemd/midshim-dropin.conf cron/midshim.cron incident/wrap-next-start.sh; do
	assert_exists "$E/$f" "example $f"
done

for f in "$E"/*/*.sh; do
	bash -n "$f" 2>"$T/err" || fail "${f#"$TOP"/}: $(cat "$T/err")"
	[ -x "$f" ] || fail "${f#"$TOP"/}: not executable"
	if have shellcheck shellcheck "shellcheck of ${f#"$TOP"/}"; then
		shellcheck -S warning "$f" >"$T/sc" 2>&1 || fail "${f#"$TOP"/}: shellcheck: $(head -c 2000 "$T/sc")"
	fi
done

# The drop-in sets what the shim needs, and no admin key.
D=$E/systemd/midshim-dropin.conf
for v in LD_PRELOAD=/usr/local/lib/midshim/libmidshim.so MIDSHIM_DEVICE_ID= \
	MIDSHIM_ORG_KEY_FILE=/etc/midshim/org.key MIDSHIM_URL=unix:/run/midd/midd.sock; do
	assert_file_contains "$D" "Environment=$v" "drop-in"
done
grep -q '^Environment=MIDSHIM_ADMIN' "$D" && fail "the drop-in hands the admin key to the service"

if have systemd-analyze systemd "systemd unit verification"; then
	# verify wants every ExecStart= binary to exist: point it at one that does.
	mkdir -p "$T/units/example.service.d"
	sed 's#^ExecStart=/usr/local/bin/midd #ExecStart=/bin/true #' "$E/systemd/midd.service" >"$T/units/midd.service"
	printf '[Unit]\nDescription=a service to gate\n[Service]\nExecStart=/bin/true\n' >"$T/units/example.service"
	cp "$D" "$T/units/example.service.d/midshim.conf"
	(cd "$T/units" && SYSTEMD_UNIT_PATH=$T/units: systemd-analyze verify --man=no \
		midd.service example.service) >"$T/verify" 2>&1 ||
		fail "systemd-analyze verify failed: $(head -c 2000 "$T/verify")"
	[ ! -s "$T/verify" ] || fail "systemd-analyze verify: $(head -c 2000 "$T/verify")"
fi

# cron.d: "m h dom mon dow user command", no unescaped '%'.
jobs=$(grep -Ev '^[[:space:]]*(#|$|[A-Z_]+=)' "$E/cron/midshim.cron")
[ -n "$jobs" ] || fail "cron file has no job line"
while read -r m h dom mon dow user cmd; do
	for x in "$m" "$h" "$dom" "$mon" "$dow"; do
		[[ $x =~ ^[0-9*/,-]+$ ]] || fail "cron time field '$x' in: $m $h $dom $mon $dow $user $cmd"
	done
	[[ $user =~ ^[a-z_][a-z0-9_-]*$ ]] || fail "cron user field '$user'"
	assert_contains "$cmd" "midshim run " "cron job uses the launcher"
	assert_contains "$cmd" "--org-key-file /etc/midshim/org.key" "cron job takes the key from a file"
	assert_not_contains "$cmd" "%" "cron command has no '%' (cron turns it into a newline)"
done <<<"$jobs"
