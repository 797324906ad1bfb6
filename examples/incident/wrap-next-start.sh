#!/bin/bash
# SPDX-License-Identifier: MIT
# Incident helper: make the NEXT start of a tool gated by midshim, when it
# is already deployed and nobody can change its code or its packaging in a
# hurry. Nothing here touches a process that is running now: a preload is
# only read when a program starts. To stop a running instance, restart it
# after wrapping (it then comes up gated) or kill it.
#
#   wrap-next-start.sh unit NAME.service DEVICE   # a systemd service
#   wrap-next-start.sh binary /PATH/TO/TOOL DEVICE # anything started by path
#   wrap-next-start.sh unwrap-unit NAME.service
#   wrap-next-start.sh unwrap-binary /PATH/TO/TOOL
#
# unit: writes a drop-in /etc/systemd/system/NAME.service.d/midshim.conf
#   that sets LD_PRELOAD and the MIDSHIM_* variables, then runs
#   `systemctl daemon-reload`. The unit file itself is left alone, so a
#   package update does not undo the gate, and removing the drop-in does.
#
# binary: for tools started by cron, scripts or people. The real binary
#   gets a second name, TOOL.ungated (a hard link: running instances and
#   open file handles are unaffected), and a small wrapper script takes the
#   original path in one atomic rename, so no start can find the path
#   missing. The wrapper execs `midshim run ... -- TOOL.ungated "$@"`.
#   Caveats: a package update of the tool replaces the wrapper; a caller
#   that runs TOOL.ungated directly is not gated; a static or setuid tool
#   cannot be gated at all (refused here).
#
# Run as root. Settings come from the environment of this script:
#   URL       control plane (default unix:/run/midd/midd.sock)
#   KEY_FILE  org key file (default /etc/midshim/org.key)
#   LAUNCHER  midshim launcher (default /usr/local/bin/midshim)
#   PRELOAD   the library (default /usr/local/lib/midshim/libmidshim.so)
#   UNIT_DIR  systemd unit directory (default /etc/systemd/system)
# Afterwards, `midctl revoke DEVICE` stops the tool at its next side effect.
set -euo pipefail

URL=${URL:-unix:/run/midd/midd.sock}
KEY_FILE=${KEY_FILE:-/etc/midshim/org.key}
LAUNCHER=${LAUNCHER:-/usr/local/bin/midshim}
PRELOAD=${PRELOAD:-/usr/local/lib/midshim/libmidshim.so}
UNIT_DIR=${UNIT_DIR:-/etc/systemd/system}

die() { echo "wrap-next-start: $*" >&2; exit 1; }

usage() {
	sed -n '9,12p' "$0" | sed 's/^# *//' >&2
	exit 2
}

check_device() {
	# service:env:role:instance; stricter than midshim(1) so that the
	# name needs no quoting in the files written below.
	[[ $1 =~ ^[A-Za-z0-9._:@+-]{1,256}$ ]] || die "device '$1': use letters, digits and . _ : @ + -, like report:prod:nightly:01"
}

wrap_unit() {
	local unit=$1 device=$2 dir
	[[ $unit == *.service ]] || die "unit '$unit': give the full name, e.g. report.service"
	check_device "$device"
	[ -r "$PRELOAD" ] || die "$PRELOAD not found; install midshim first (make install)"
	[ -r "$KEY_FILE" ] || die "$KEY_FILE not found; see examples/systemd/midd.service"
	dir=$UNIT_DIR/$unit.d
	install -d -m 0755 "$dir"
	# Written to a temporary name first so systemd never reads half a file.
	cat >"$dir/.midshim.conf.new" <<-EOF
		# Added by wrap-next-start.sh: gate $unit with midshim.
		# Remove this file and run 'systemctl daemon-reload' to undo.
		[Unit]
		Wants=midd.service
		After=midd.service

		[Service]
		Environment=LD_PRELOAD=$PRELOAD
		Environment=MIDSHIM_DEVICE_ID=$device
		Environment=MIDSHIM_ORG_KEY_FILE=$KEY_FILE
		Environment=MIDSHIM_URL=$URL
		SupplementaryGroups=midshim
		RestartPreventExitStatus=SIGKILL
	EOF
	chmod 0644 "$dir/.midshim.conf.new"
	mv -f "$dir/.midshim.conf.new" "$dir/midshim.conf"
	systemctl daemon-reload
	echo "$unit: gated from its next start (drop-in $dir/midshim.conf)."
	echo "Running instances are not gated; to gate them now without a restart:"
	echo "  midshim adopt --device $device --url $URL --org-key-file $KEY_FILE --systemd-unit $unit"
	echo "or restart them: systemctl restart $unit"
}

unwrap_unit() {
	local unit=$1
	rm -f "$UNIT_DIR/$unit.d/midshim.conf"
	rmdir "$UNIT_DIR/$unit.d" 2>/dev/null || true
	systemctl daemon-reload
	echo "$unit: drop-in removed; its next start is not gated."
}

wrap_binary() {
	local bin=$1 device=$2 real tmp
	check_device "$device"
	[ -x "$LAUNCHER" ] || die "$LAUNCHER not found; install midshim first (make install)"
	[ -r "$KEY_FILE" ] || die "$KEY_FILE not found"
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		die "$bin is not an executable file"
	fi
	[ ! -L "$bin" ] || die "$bin is a symbolic link; wrap its target: $(readlink -f "$bin")"
	case $bin in
	/*) ;;
	*) die "$bin: give an absolute path" ;;
	esac
	case $bin$URL$KEY_FILE$LAUNCHER in
	*"'"* | *$'\n'*) die "a path or URL holds a quote or newline; the wrapper would not run" ;;
	esac
	real=$bin.ungated
	[ ! -e "$real" ] || die "$real exists: $bin looks wrapped already"
	if head -c 2 "$bin" | grep -q '^#!'; then
		: # a script: its interpreter is what runs, and is checked at start
	elif file -L "$bin" | grep -q 'statically linked'; then
		die "$bin is statically linked: a preload cannot see it; it cannot be gated"
	fi
	if [ -u "$bin" ] || [ -g "$bin" ]; then
		die "$bin is setuid/setgid: the loader ignores LD_PRELOAD for it"
	fi

	tmp=$(mktemp "$(dirname "$bin")/.wrap.XXXXXX")
	cat >"$tmp" <<-EOF
		#!/bin/sh
		# Added by wrap-next-start.sh: run $real gated by midshim.
		# Undo: wrap-next-start.sh unwrap-binary $bin
		exec $LAUNCHER run --device '$device' --url '$URL' \\
		    --org-key-file '$KEY_FILE' -- '$real' "\$@"
	EOF
	chmod --reference="$bin" "$tmp"
	chown --reference="$bin" "$tmp"
	ln "$bin" "$real"
	mv -f "$tmp" "$bin"
	echo "$bin: gated from its next start (the real program is now $real)."
	echo "Running instances are not gated; restart them to gate them."
}

unwrap_binary() {
	local bin=$1 real=$1.ungated
	[ -f "$real" ] || die "$real not found: $bin is not wrapped"
	grep -q 'wrap-next-start.sh' "$bin" 2>/dev/null || die "$bin is not our wrapper; leaving it"
	mv -f "$real" "$bin"
	echo "$bin: restored; its next start is not gated."
}

[ $# -ge 2 ] || usage
[ "$(id -u)" -eq 0 ] || die "run as root"
case $1 in
unit) [ $# -eq 3 ] || usage; wrap_unit "$2" "$3" ;;
binary) [ $# -eq 3 ] || usage; wrap_binary "$2" "$3" ;;
unwrap-unit) unwrap_unit "$2" ;;
unwrap-binary) unwrap_binary "$2" ;;
*) usage ;;
esac
