#!/bin/bash
# SPDX-License-Identifier: MIT
# The start-up code (every function in .text.startup, run at every gated
# process start) reads no constant from the shim's .rodata: what it reads
# lies in .rodata.startup (shim/startup.ld), beside the code and the
# tables the loader reads anyway, so a start costs no page fault for it.
# A string literal added to start-up code in a file startup.ld does not
# list fails here, with the function that reads it.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${B:-build}
SO=$B/libmidshim.so
[ -f "$SO" ] || { echo "FAIL: $SO is not built" >&2; exit 1; }

# The start-up functions, by name, from the objects the preload is linked
# from (the archives' members included).
mapfile -t objs < <(ls "$B"/shim/preload/*.o "$B"/libmidshimcore.a "$B"/libmidclient.a \
	"$B"/libmidpolicy.a "$B"/libmidcommon.a)
mapfile -t names < <(objdump -t "${objs[@]}" 2>/dev/null |
	awk '$4 == ".text.startup" && $3 == "F" { print $NF }' | sort -u)
[ "${#names[@]}" -ge 20 ] || { echo "FAIL: found ${#names[@]} start-up functions, expected 20 or more" >&2; exit 1; }
for want in mid_exec_init mid_config_load_settings mid_url_parse; do
	printf '%s\n' "${names[@]}" | grep -qx "$want" ||
		{ echo "FAIL: $want is not in .text.startup" >&2; exit 1; }
done

# Their extent in the preload: GNU ld puts every .text.startup together.
declare -A want=()
for n in "${names[@]}"; do want[$n]=1; done
lo=0 hi=0
while read -r addr len type name; do
	[[ $type == [tT] && -n ${want[$name]:-} ]] || continue
	s=$((16#$addr)) e=$((16#$addr + 16#$len))
	((lo == 0 || s < lo)) && lo=$s
	((e > hi)) && hi=$e
done < <(nm -S "$SO" | awk 'NF == 4')
[ "$lo" -gt 0 ] && [ "$hi" -gt "$lo" ] || { echo "FAIL: no start-up code found in $SO" >&2; exit 1; }
size=$((hi - lo))
[ "$size" -lt 65536 ] || { echo "FAIL: the start-up code spans $size bytes, over one 64 KiB window" >&2; exit 1; }

read -r rlo rsize < <(readelf -SW "$SO" | sed 's/^ *\[ *[0-9]*\]//' | awk '$1 == ".rodata" { print $3, $5 }')
[ -n "${rlo:-}" ] || { echo "FAIL: $SO has no .rodata" >&2; exit 1; }
rlo=$((16#$rlo)) rsize=$((16#$rsize))
readelf -SW "$SO" | grep -q '\.rodata\.startup' || { echo "FAIL: $SO has no .rodata.startup" >&2; exit 1; }

# Every rip-relative operand objdump resolves ("# 2f1c0 <name>"), by function.
bad=$(objdump -d --no-show-raw-insn --start-address="$lo" --stop-address="$hi" "$SO" |
	awk '/^[0-9a-f]+ </ { fn = $2 } /# [0-9a-f]+ </ { i = index($0, "# "); split(substr($0, i + 2), t, " "); print fn, t[1], t[2] }' |
	while read -r fn addr what; do
		a=$((16#$addr))
		((a >= rlo && a < rlo + rsize)) && echo "$fn reads $addr $what"
	done || true)
if [ -n "$bad" ]; then
	echo "FAIL: start-up code reads .rodata (list its file in shim/startup.ld, or mark the constant MID_STARTUP_RODATA):" >&2
	echo "$bad" >&2
	exit 1
fi
echo "ok: ${#names[@]} start-up functions ($size bytes) read nothing in .rodata"
