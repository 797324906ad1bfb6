#!/bin/bash
# SPDX-License-Identifier: MIT
# The benchmark harness behind `make bench`: what the gate costs a gated
# program, and how fast the control plane answers. Every figure is
# measured in this one run; a ratio comes from rounds in which the
# ungated and the gated run alternate (ABBA order), and the figure is the
# median of the rounds' ratios. Writes bench/results.md, bench/latency.png
# (when gnuplot can be had) and the README's table, and has
# bench/console.sh add the browser console's page weight and first render;
# raw output is kept in $B/bench-logs/.
#
#   B=build bench/run.sh
#
# Knobs (environment): BENCH_ROUNDS (hot path rounds, default 21),
# BENCH_COUNTS_ROUNDS (counting's cost, 101; see bench/counts.sh),
# BENCH_SPAWN_ROUNDS (5), BENCH_PTRACE_ROUNDS (3), BENCH_WORK_ROUNDS (the git
# and python3 rows of real work, 3; BENCH_WORK_MAKE_ROUNDS for the build, 2;
# see bench/realwork.sh), BENCH_QUIET_WAIT
# (seconds to wait for a quiet machine first, 60), BENCH_OUT (where
# results.md and latency.png go, default bench/), BENCH_LIVE_LEVELS
# (numbers of live gated processes, default "1000 5000 10000"),
# BENCH_QUICK=1 (tiny runs that only check the harness works).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
# shellcheck source=bench/common.sh
. "$TOP/bench/common.sh"
msg_prefix bench
B=${B:-build}
case $B in /*) BIN=$B ;; *) BIN=$TOP/$B ;; esac
SHIM=$BIN/libmidshim.so
BB=$BIN/bench
OUT=${BENCH_OUT:-$TOP/bench}
LOG=$BIN/bench-logs
ROUNDS=${BENCH_ROUNDS:-21}
COUNT_ROUNDS=${BENCH_COUNTS_ROUNDS:-101}
SPAWN_ROUNDS=${BENCH_SPAWN_ROUNDS:-5}
PTRACE_ROUNDS=${BENCH_PTRACE_ROUNDS:-3}
WORK_ROUNDS=${BENCH_WORK_ROUNDS:-3}
WORK_MAKE_ROUNDS=${BENCH_WORK_MAKE_ROUNDS:-2}

# Many short rounds rather than a few long ones: on a shared machine the
# median of many ratios is what survives other tenants' bursts.
N_NULL=300000      # writes to /dev/null per run
N_FILE=100000      # 4 KiB writes per run
N_PTRACE_NULL=100000
N_PTRACE_FILE=50000
N_SPAWN=1000
N_VALIDATE=20000
N_IDLE=50
LOAD_CONNS=32
LOAD_THREADS=2
LOAD_SECS=5
TTL_HOT=30000
LIVE_LEVELS=${BENCH_LIVE_LEVELS:-1000 5000 10000}
DEVICE_LEVELS=${BENCH_DEVICE_LEVELS:-10000 100000 1000000}
# A quick pass that checks the harness itself, not the numbers.
if [ -n "${BENCH_QUICK:-}" ]; then
	ROUNDS=1 SPAWN_ROUNDS=1 PTRACE_ROUNDS=1 WORK_ROUNDS=1 WORK_MAKE_ROUNDS=1
	N_NULL=10000 N_FILE=10000 N_PTRACE_NULL=1000 N_PTRACE_FILE=1000 N_SPAWN=20
	N_VALIDATE=2000 LOAD_SECS=1 LIVE_LEVELS=20 N_IDLE=3 DEVICE_LEVELS=2000
	: "${BENCH_QUIET_WAIT:=0}"
fi
SH_LOOP='i=0; while [ $i -lt 1000 ]; do /bin/true; i=$((i + 1)); done'
# The system calls a ptrace-based gate has to stop at: the same side
# effects the shim gates.
PTRACE_SET=write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg,sendmmsg,connect,execve,execveat,open,openat,creat,truncate,ftruncate,unlink,unlinkat,rename,renameat,renameat2,mkdir,mkdirat,rmdir,link,linkat,symlink,symlinkat,chmod,fchmodat,chown,fchownat
PTRACE="strace -f -qq --seccomp-bpf -o /dev/null -e trace=$PTRACE_SET"

need_built "$SHIM" "$BB/libmidshim-nocount.so" "$BIN/midd" "$BB/hotpath" "$BB/spawn" "$BB/validate" "$BB/loadgen" "$BB/live" \
	"$BB/static_supcost"
need_tools strace curl awk

rm -rf "$LOG"
mkdir -p "$LOG" "$OUT"
T=$(mktemp -d "${TMPDIR:-/tmp}/midshim-bench.XXXXXX")
MIDD_PID=
cleanup() {
	midd_kill
	rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND (logs in $LOG)" >&2' ERR

# ---- numbers -----------------------------------------------------------
# median, calc, verdict and is_num are in bench/common.sh.
thousands() { printf '%.0f' "$1" | sed -e ':a' -e 's/\B[0-9]\{3\}\>/,&/' -e 'ta'; }

# ---- the control plane --------------------------------------------------
# Start midd as the tests do: a temp database, a free loopback port, a
# unix socket beside it; wait until /healthz answers. Another program
# may take the port first: up to five ports are tried.
midd_start() {
	"$BIN/midd" init --db "$T/midd.db" --write-keys "$T/keys" --admin-key-dir "$T/admin" >"$LOG/midd-init.out"
	for _ in 1 2 3 4 5; do
		MIDD_PORT=$(free_port)
		"$BIN/midd" --db "$T/midd.db" --listen "127.0.0.1:$MIDD_PORT" --socket "$T/midd.sock" \
			--quiet >>"$LOG/midd.log" 2>&1 &
		MIDD_PID=$!
		midd_wait_ready "http://127.0.0.1:$MIDD_PORT" "$MIDD_PID" && return 0
		kill -TERM "$MIDD_PID" 2>/dev/null || true
		wait "$MIDD_PID" 2>/dev/null || true
		MIDD_PID=
	done
	die "midd did not start: $(tail -n 5 "$LOG/midd.log")"
}

# ---- running a workload three ways --------------------------------------
# run MODE CMD...: CMD ungated (none), under the shim (shim) or under a
# ptrace gate (ptrace). Output goes to stdout, errors to the log.
run() {
	local mode=$1
	shift
	case $mode in
	none) timeout 300 env -u LD_PRELOAD "$@" ;;
	shim) timeout 300 env LD_PRELOAD="$SHIM" "$@" ;;
	empty) timeout 300 env LD_PRELOAD="$T/empty.so" "$@" ;;
	ptrace) timeout 300 $PTRACE "$@" ;;
	esac 2>>"$LOG/stderr.log"
}

# The workloads; each prints one number: CPU time (user + system, the
# program's and its children's) when METRIC=cpu, wall time when
# METRIC=wall. The shim is judged on CPU time, which leaves out waiting
# for a core another program holds; the ptrace gate on wall time,
# because the tracer's own CPU time is not the traced program's.
METRIC=cpu
# Each prints the metric, then the other one.
field() { if [ "$METRIC" = cpu ]; then awk '{ print $5, $3 }'; else awk '{ print $3, $5 }'; fi; }
w_null() { run "$1" "$BB/hotpath" null "${2:-$N_NULL}" | field; }
w_file() { run "$1" "$BB/hotpath" file "${2:-$N_FILE}" "$T" | field; }
w_spawn() { run "$1" "$BB/spawn" "$N_SPAWN" | field; }
w_sh() { run "$1" "$BB/spawn" 1 /bin/sh -c "$SH_LOOP" | field; }

# ab NAME ROUNDS MODE WORKLOAD [ARGS]: alternate ungated and MODE runs;
# sets A and M (medians of each side) and R (median of the ratios) of
# the metric, and R2, the median ratio of the other measure.
ab() {
	local name=$1 rounds=$2 mode=$3 w=$4 r a m a2 m2
	shift 4
	: >"$LOG/$name.rounds"
	for r in $(seq 1 "$rounds"); do
		if [ $((r % 2)) -eq 1 ]; then
			read -r a a2 <<<"$("$w" none "$@")"
			read -r m m2 <<<"$("$w" "$mode" "$@")"
		else
			read -r m m2 <<<"$("$w" "$mode" "$@")"
			read -r a a2 <<<"$("$w" none "$@")"
		fi
		for v in "$a" "$m" "$a2" "$m2"; do is_num "$v"; done
		echo "$r $a $m $(calc '%.3f' "$m / $a") $a2 $m2 $(calc '%.3f' "$m2 / $a2")" >>"$LOG/$name.rounds"
	done
	medians "$name"
	say "$name: none $A, $mode $M, ratio $R ($METRIC; other measure $R2; $rounds rounds)"
}

# medians NAME: A, M, R and R2 from the columns ab writes to NAME.rounds.
medians() {
	A=$(awk '{ print $2 }' "$LOG/$1.rounds" | median)
	M=$(awk '{ print $3 }' "$LOG/$1.rounds" | median)
	R=$(awk '{ print $4 }' "$LOG/$1.rounds" | median)
	R2=$(awk '{ print $7 }' "$LOG/$1.rounds" | median)
}

# abe NAME ROUNDS WORKLOAD: ab's rounds with a third run under an empty
# preload (what any preload costs), the order turned each round; sets
# A, M, R and R2 as ab does (its columns first), E (the empty preload's
# median) and RE (its median ratio to none).
abe() {
	local name=$1 rounds=$2 w=$3 r way ways
	local -A c o
	: >"$LOG/$name.rounds"
	for r in $(seq 1 "$rounds"); do
		ways="none empty shim"
		[ $((r % 2)) -eq 1 ] || ways="shim empty none"
		for way in $ways; do
			read -r "c[$way]" "o[$way]" <<<"$("$w" "$way")"
			is_num "${c[$way]}"
			is_num "${o[$way]}"
		done
		echo "$r ${c[none]} ${c[shim]} $(calc '%.3f' "${c[shim]} / ${c[none]}")" \
			"${o[none]} ${o[shim]} $(calc '%.3f' "${o[shim]} / ${o[none]}")" \
			"${c[empty]} $(calc '%.3f' "${c[empty]} / ${c[none]}")" >>"$LOG/$name.rounds"
	done
	medians "$name"
	E=$(awk '{ print $8 }' "$LOG/$name.rounds" | median)
	RE=$(awk '{ print $9 }' "$LOG/$name.rounds" | median)
	say "$name: none $A, empty preload $E (${RE}x), shim $M, ratio $R ($METRIC; other measure $R2; $rounds rounds)"
}

ROWS=()
PTRACE_ROWS=()
MISSED=()
row() { ROWS+=("| $1 | $2 | $3 | $4 |"); [ "$4" = met ] || MISSED+=("$5"); }
# add_rows NAME: the summary rows a script left in $LOG/NAME.rows, each
# into ROWS, and NAME into MISSED for each one not met.
add_rows() {
	local line
	while IFS= read -r line; do
		ROWS+=("$line")
		[[ $line == *"| met |" ]] || MISSED+=("$1")
	done <"$LOG/$1.rows"
}

# ---- the machine ----------------------------------------------------------
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cores=$(nproc)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kernel=$(uname -srm)
glibc=$(ldd --version 2>&1 | sed -n 1p | sed 's/^ldd //')
gccv=$(gcc --version | sed -n 1p)
# Shared machines: give other work up to BENCH_QUIET_WAIT seconds
# (default 60) to calm down, so the 1-minute load is below half the cores.
quiet_wait=${BENCH_QUIET_WAIT:-60}
waited=0
while [ "$waited" -lt "$quiet_wait" ] &&
	awk -v c="$(nproc)" '{ exit !($1 >= c / 2) }' /proc/loadavg; do
	[ "$waited" -eq 0 ] && say "load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores; waiting up to ${quiet_wait}s for it to drop"
	sleep 5
	waited=$((waited + 5))
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
when=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- shim client policy common server 2>/dev/null || commit="$commit (with local changes)"

midd_start
say "midd on 127.0.0.1:$MIDD_PORT and $T/midd.sock"
export MIDSHIM_URL=http://127.0.0.1:$MIDD_PORT
export MIDSHIM_ORG_KEY_FILE=$T/keys/org.key
export MIDSHIM_DEVICE_ID=bench:gate:hotpath:01
export MIDSHIM_TTL_MS=$TTL_HOT
unset MIDSHIM_ORG_KEY MIDSHIM_POLICY MIDSHIM_MODE MIDSHIM_ON_DENY MIDSHIM_AUDIT_LOG
# One gated start registers the device before anything is timed.
run shim "$BB/hotpath" null 10 >/dev/null || die "a gated hotpath does not run: $(tail -n 5 "$LOG/stderr.log")"

# ---- 1. hot path, fresh cache -------------------------------------------
ab hot-null "$ROUNDS" shim w_null
row 'hot path: `write(/dev/null)`, shim / none' '≤ 1.02x' \
	"**${R}x** ($A → $M CPU ns/op; wall ${R2}x)" "$(verdict "$R" 1.02)" hot-null
ab hot-file "$ROUNDS" shim w_file
row 'hot path: 4 KiB file `write`, shim / none' '≤ 1.02x' \
	"**${R}x** ($A → $M CPU ns/op; wall ${R2}x)" "$(verdict "$R" 1.02)" hot-file

# ---- 1b. counting's cost on the hot path ------------------------------------
# bench/counts.sh: the hot-path program under this shim and under the same
# shim built without the budgets' counting (libmidshim-nocount.so), taking
# turns chunk by chunk, with this midd and device.
B=$B LOG=$LOG timeout 1800 bash bench/counts.sh "$COUNT_ROUNDS" >"$LOG/counts.rows" 2>>"$LOG/counts.err" ||
	die "counts.sh failed: $(tail -n 3 "$LOG/counts.err")"
add_rows counts
say "counting's cost: $(grep -c . "$LOG/counts.rows") rows"

# ---- 2. exec storm ----------------------------------------------------------
# The target is 5 % above what an empty preload costs (1.07x here at most).
echo 'int midshim_bench_empty;' >"$T/empty.c"
cc -shared -fPIC -o "$T/empty.so" "$T/empty.c" || die "cannot build an empty preload"
abe spawn "$SPAWN_ROUNDS" w_spawn
row "exec storm: $N_SPAWN × \`posix_spawn\` /bin/true, shim / none" '≤ 1.12x' \
	"**${R}x** ($A → $M CPU ms; empty preload ${RE}x; wall ${R2}x)" "$(verdict "$R" 1.12)" spawn
abe sh-loop "$SPAWN_ROUNDS" w_sh
row 'exec storm: `sh -c` loop of 1000 commands, shim / none' '≤ 1.12x' \
	"**${R}x** ($A → $M CPU ms; empty preload ${RE}x; wall ${R2}x)" "$(verdict "$R" 1.12)" sh-loop

# ---- 2b. real work -----------------------------------------------------------
# bench/realwork.sh: a clean `make -j2` of this repository, a git session
# and a python3 test suite, each ungated, under an empty preload and gated
# by this midd (a device of its own per row, the default TTL), rounds
# interleaved. Quick mode runs a small piece of each.
BIN=$BIN MIDD_PORT=$MIDD_PORT KEYS=$T/keys ADMIN_KEY_FILE=$T/admin/admin.key LOG=$LOG \
	BENCH_WORK_MAKE_ROUNDS=$WORK_MAKE_ROUNDS timeout 1800 bash bench/realwork.sh "$WORK_ROUNDS" \
	>"$LOG/realwork.rows" 2>>"$LOG/realwork.err" ||
	die "realwork.sh failed: $(tail -n 3 "$LOG/realwork.err")"
add_rows realwork
say "real work: $(grep -c . "$LOG/realwork.rows") rows"

# ---- 3. cold validate round trip --------------------------------------------
# Three runs per transport, alternating; the figure is the median run's
# p50 and p99; the last run's samples make the plot.
VDEV=bench:validate:client:01
: >"$LOG/validate.rounds"
for r in 1 2 3; do
	for tr in unix tcp; do
		url=unix:$T/midd.sock
		[ "$tr" = tcp ] && url=$MIDSHIM_URL
		line=$(timeout 120 "$BB/validate" "$url" "$T/keys/org.key" "$VDEV" "$N_VALIDATE" \
			"$LOG/lat-$tr.txt" 2>>"$LOG/stderr.log") || die "validate over $tr failed: $(tail -n 3 "$LOG/stderr.log")"
		echo "$tr $line" >>"$LOG/validate.rounds"
	done
done
for tr in unix tcp; do
	p50=$(awk -v t="$tr" '$1 == t { print $5 }' "$LOG/validate.rounds" | median)
	p99=$(awk -v t="$tr" '$1 == t { print $9 }' "$LOG/validate.rounds" | median)
	v50=$(verdict "$p50" 30)
	v99=$(verdict "$p99" 150)
	v=met
	[ "$v50" = met ] && [ "$v99" = met ] || v=missed
	name='TCP `http://127.0.0.1`'
	[ "$tr" = unix ] && name='unix socket'
	row "cold validate, cache off, $name: p50 / p99" '≤ 30 / ≤ 150 µs' \
		"**$p50 / $p99 µs**" "$v" "validate-$tr"
	say "validate $tr: p50 $p50 µs, p99 $p99 µs"
done

# ---- 4. midd throughput ---------------------------------------------------
: >"$LOG/loadgen.rounds"
for r in 1 2 3; do
	line=$(timeout 120 "$BB/loadgen" "$MIDSHIM_URL" "$T/keys/org.key" "$VDEV" "$LOAD_CONNS" \
		"$LOAD_SECS" "$LOAD_THREADS" 2>>"$LOG/stderr.log") || die "loadgen failed: $(tail -n 3 "$LOG/stderr.log")"
	echo "$line" >>"$LOG/loadgen.rounds"
done
RATE=$(awk '{ sub("/s", "", $NF); print $NF }' "$LOG/loadgen.rounds" | median)
ERRS=$(awk '{ e += $13 + $11 } END { print e + 0 }' "$LOG/loadgen.rounds")
row "\`midd\` throughput: validates/s, $LOAD_CONNS keep-alive TCP connections" '≥ 50,000' \
	"**$(thousands "$RATE")/s** (non-200 or errors: $ERRS)" "$(verdict "$RATE" 50000 ge)" throughput
say "throughput: $RATE/s"

# ---- 4b. two replicas on PostgreSQL -------------------------------------------
if REP=$(B=$B bash bench/replicas.sh 2>>"$LOG/stderr.log"); then
	echo "$REP" >"$LOG/replicas.txt"
	RRATE=$(awk '$1 == "replicas-rate" { print $4 }' <<<"$REP")
	read -r rp50 rp99 rmax <<<"$(awk '$1 == "replicas-latency" { print $4, $8, $10 }' <<<"$REP")"
	row "two \`midd\` replicas on PostgreSQL: validates/s together, 16 connections each" '≥ 50,000' \
		"**$(thousands "$RRATE")/s**" "$(verdict "$RRATE" 50000 ge)" replicas-rate
	row "revoke on replica A → deny on replica B: p50 / p99 / max of 200" '≤ 50 ms p99' \
		"**$rp50 / $rp99 / $rmax ms**" "$(verdict "$rp99" 50)" replicas-latency
	say "replicas: $REP"
else
	row "two \`midd\` replicas on PostgreSQL" 'runs' "failed: see $LOG/stderr.log" missed replicas
fi

# ---- 5. revoke → halt --------------------------------------------------------
HALT=()
for ttl in 100 1000; do
	BIN=$BIN MIDD_PORT=$MIDD_PORT KEYS=$T/keys ADMIN_KEY_FILE=$T/admin/admin.key DEVICE=bench:halt:busy:01 \
		timeout 120 bash bench/halt.sh "$ttl" 5 >"$LOG/halt-$ttl.out" 2>>"$LOG/halt.err" ||
		die "halt.sh $ttl failed: $(grep -v Killed "$LOG/halt.err" | tail -n 3)"
	read -r _ _ _ _ _ _ hmed _ hmax <<<"$(tail -n 1 "$LOG/halt-$ttl.out")"
	HALT+=("$ttl $hmed $hmax")
	row "revoke → halt of a busy writer, TTL $ttl ms: median / max of 5" "≤ TTL + 1 ms = $((ttl + 1)) ms" \
		"**$hmed / $hmax ms**" "$(verdict "$hmax" $((ttl + 1)))" "halt-$ttl"
	say "halt TTL $ttl: median $hmed ms, max $hmax ms"
done
# An idle program (asleep, 30 s TTL): only push revocation stops it.
for mode in preload launcher; do
	BIN=$BIN MIDD_PORT=$MIDD_PORT KEYS=$T/keys ADMIN_KEY_FILE=$T/admin/admin.key \
		DEVICE=bench:halt:idle:01 timeout 300 python3 bench/halt_idle.py "$mode" "$N_IDLE" \
		>"$LOG/halt-idle-$mode.out" 2>>"$LOG/halt.err" ||
		die "halt_idle.py $mode failed: $(tail -n 3 "$LOG/halt.err")"
	read -r _ _ _ _ _ imed _ ip99 _ imax <<<"$(tail -n 1 "$LOG/halt-idle-$mode.out")"
	met=$(verdict "$imed" 10)
	[ "$met" = met ] && met=$(verdict "$ip99" 50)
	row "revoke → halt of an idle program (\`sleep 600\`, TTL 30 s), $mode: median / p99 / max of $N_IDLE" \
		'median ≤ 10 ms, p99 ≤ 50 ms' "**$imed / $ip99 / $imax ms**" "$met" "halt-idle-$mode"
	say "halt idle $mode: median $imed ms, p99 $ip99 ms, max $imax ms"
done

# ---- 6. extra RSS ---------------------------------------------------------
# rss MODE CMD...: VmRSS in KiB of CMD once it is idle: after it printed
# "ready" (hotpath pause) or sits in nanosleep (sleep).
rss() {
	local mode=$1 pid kb=
	shift
	rm -f "$T/rss.out"
	# env execs the program, so $! is the program itself. Both programs
	# end by themselves within a minute.
	if [ "$mode" = shim ]; then
		env LD_PRELOAD="$SHIM" "$@" >"$T/rss.out" 2>>"$LOG/stderr.log" &
	else
		env -u LD_PRELOAD "$@" >"$T/rss.out" 2>>"$LOG/stderr.log" &
	fi
	pid=$!
	for _ in $(seq 1 300); do
		if grep -q ready "$T/rss.out" 2>/dev/null ||
			[ "$(cat "/proc/$pid/wchan" 2>/dev/null)" = hrtimer_nanosleep ]; then
			break
		fi
		sleep 0.01
	done
	kb=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "${kb:-x}"
}
: >"$LOG/rss.rounds"
for r in 1 2 3 4 5; do
	a=$(rss none "$BB/hotpath" pause "$T")
	m=$(rss shim "$BB/hotpath" pause "$T")
	sa=$(rss none sleep 30)
	sm=$(rss shim sleep 30)
	for v in "$a" "$m" "$sa" "$sm"; do is_num "$v"; done
	echo "$r $a $m $((m - a)) $sa $sm $((sm - sa))" >>"$LOG/rss.rounds"
done
RSS_HOT=$(awk '{ print $4 }' "$LOG/rss.rounds" | median)
RSS_SLEEP=$(awk '{ print $7 }' "$LOG/rss.rounds" | median)
RSS_MAX=$RSS_HOT
[ "$RSS_SLEEP" -gt "$RSS_MAX" ] && RSS_MAX=$RSS_SLEEP
row 'extra RSS per gated process (`hotpath` paused / `sleep`), median of 5' '≤ 1 MiB' \
	"**$RSS_HOT / $RSS_SLEEP KiB**" "$(verdict "$RSS_MAX" 1024)" rss
say "rss: hotpath +$RSS_HOT KiB, sleep +$RSS_SLEEP KiB"

# ---- 6b. many live processes ------------------------------------------------
# bench/live.sh keeps LEVEL gated processes alive at once against this
# midd, each with its connection and push channel, and prints one summary row per level.
BIN=$BIN MIDD_PORT=$MIDD_PORT MIDD_PID=$MIDD_PID KEYS=$T/keys timeout 3600 \
	bash bench/live.sh $LIVE_LEVELS >"$LOG/live.rows" 2>>"$LOG/live.err" ||
	die "live.sh failed: $(tail -n 3 "$LOG/live.err")"
add_rows live
say "live processes: $(grep -c . "$LOG/live.rows") levels"

# ---- 6c. many registered devices --------------------------------------------
# bench/devices.sh starts a midd of its own on a database of LEVEL devices
# and prints one summary row per level.
BIN=$BIN timeout 3600 bash bench/devices.sh $DEVICE_LEVELS >"$LOG/devices.rows" 2>>"$LOG/devices.err" ||
	die "devices.sh failed: $(tail -n 3 "$LOG/devices.err")"
add_rows devices
say "registered devices: $(grep -c . "$LOG/devices.rows") levels"

# ---- 7. the ptrace comparison ----------------------------------------------
METRIC=wall
ab ptrace-null "$PTRACE_ROUNDS" ptrace w_null "$N_PTRACE_NULL"
PTRACE_ROWS+=("| hot path: \`write(/dev/null)\` | $A ns/op | $M ns/op | **${R}x** |")
ab ptrace-file "$PTRACE_ROUNDS" ptrace w_file "$N_PTRACE_FILE"
PTRACE_ROWS+=("| hot path: 4 KiB file \`write\` | $A ns/op | $M ns/op | **${R}x** |")
ab ptrace-spawn "$PTRACE_ROUNDS" ptrace w_spawn
PTRACE_ROWS+=("| exec storm: $N_SPAWN × \`posix_spawn\` | $A ms | $M ms | **${R}x** |")
ab ptrace-sh "$PTRACE_ROUNDS" ptrace w_sh
PTRACE_ROWS+=("| exec storm: \`sh -c\` loop | $A ms | $M ms | **${R}x** |")

# ---- 8. instruction counts of the hot path -----------------------------------
# User-space instructions per write, from two callgrind runs of different
# length (the difference cancels start-up): what the hook adds, free of
# timing noise. Only when valgrind is there.
IR_ROWS=()
if command -v valgrind >/dev/null; then
	for kind in null file; do
		extra=()
		[ "$kind" = file ] && extra=("$T")
		for mode in none shim; do
			pre=
			[ "$mode" = shim ] && pre=$SHIM
			ir=$(ir_per_write "$T/cg.out" "$pre" "$BB/hotpath" "$kind" 20000 "${extra[@]}") ||
				{ say "callgrind failed"; break 2; }
			eval "IR_${kind}_$mode=$ir"
		done
		n=IR_${kind}_none
		s=IR_${kind}_shim
		IR_ROWS+=("| $kind | ${!n} | ${!s} | $(calc '%+.1f' "${!s} - ${!n}") |")
	done
fi

# ---- 9. profiles of missed targets -----------------------------------------
PROFILES=$T/profiles.md
: >"$PROFILES"
# The functions that cost the most instructions in a callgrind output,
# with paths made relative to the repository.
top_functions() { # FILE COUNT
	callgrind_annotate --inclusive=no "$1" 2>/dev/null |
		grep -E '^ *[0-9,]+ \([ 0-9.]+%\) ' | grep -v 'PROGRAM TOTALS' | sed -n "1,$2p" |
		sed -e "s|$TOP/||g" -e 's|\./[a-z]*/\./||' | cut -c1-150
}
cg_total() { awk '/^(summary|totals):/ { print $2; exit }' "$1"; }
profile_hot() { # null|file
	local kind=$1 extra=()
	[ "$kind" = file ] && extra=("$T")
	command -v valgrind >/dev/null || return 0
	env LD_PRELOAD="$SHIM" timeout 300 valgrind --tool=callgrind \
		--callgrind-out-file="$LOG/callgrind-$kind.out" \
		"$BB/hotpath" "$kind" 100000 "${extra[@]}" >/dev/null 2>>"$LOG/valgrind.log" || return 0
	{
		echo "#### hot path ($kind): where the gated run's user-space instructions go"
		echo
		echo "110,001 writes (100,000 timed plus the warm-up); self cost per function:"
		echo
		echo '```'
		echo "\$ LD_PRELOAD=$B/libmidshim.so valgrind --tool=callgrind $B/bench/hotpath $kind 100000 ${extra[*]:+DIR}"
		echo "\$ callgrind_annotate --inclusive=no callgrind.out"
		top_functions "$LOG/callgrind-$kind.out" 12
		echo '```'
		echo
	} >>"$PROFILES"
}
# Where a gated start's time goes: 300 spawns with no preload, an empty
# preload and the shim; CPU ms, median of 3 alternating rounds, and the
# children's page faults per start (a count, free of timing noise: on a
# virtual machine a fault is much of what a start costs).
preload_split() {
	local v r out
	: >"$T/split"
	for r in 1 2 3; do
		for v in none empty.so shim; do
			case $v in
			none) out=$(timeout 120 env -u LD_PRELOAD "$BB/spawn" 300) ;;
			shim) out=$(timeout 120 env LD_PRELOAD="$SHIM" "$BB/spawn" 300) ;;
			*) out=$(timeout 120 env LD_PRELOAD="$T/$v" "$BB/spawn" 300) ;;
			esac || return 0
			echo "$v $(echo "$out" | awk '{ print $5, $7 }')" >>"$T/split"
		done
	done
	cp "$T/split" "$LOG/preload-split.rounds"
	echo
	echo "What a start costs with each preload: CPU ms of \`$B/bench/spawn 300\`," \
		"median of 3 rounds run one after the other, and page faults per start:"
	echo
	echo "| preload | CPU ms | vs none | page faults per start |"
	echo "| --- | --- | --- | --- |"
	local base
	base=$(awk '$1 == "none" { print $2 }' "$T/split" | median)
	for v in none empty.so shim; do
		local m f name=$v
		m=$(awk -v v="$v" '$1 == v { print $2 }' "$T/split" | median)
		f=$(awk -v v="$v" '$1 == v { print $3 }' "$T/split" | median)
		case $v in
		empty.so) name='an empty `.so`' ;;
		shim) name="\`libmidshim.so\`" ;;
		esac
		echo "| $name | $m | $(calc '%.3fx' "$m / $base") | $f |"
	done
}
profile_exec() {
	{
		echo "#### exec storm: system calls of 200 spawns, none vs shim"
		echo
		for mode in none shim; do
			# strace itself stays ungated: -E gives the tracee the preload.
			local pre=()
			[ "$mode" = shim ] && pre=(-E "LD_PRELOAD=$SHIM")
			echo '```'
			echo "\$ strace ${pre:+-E LD_PRELOAD=$B/libmidshim.so }-c -f $B/bench/spawn 200"
			timeout 120 strace "${pre[@]}" -c -f -o "$T/sc" "$BB/spawn" 200 >/dev/null 2>&1 || true
			head -n 14 "$T/sc" 2>/dev/null
			echo '```'
		done
		preload_split
		if command -v valgrind >/dev/null; then
			timeout 120 valgrind --tool=callgrind --callgrind-out-file="$LOG/callgrind-true0.out" \
				/bin/true 2>>"$LOG/valgrind.log" || true
			env LD_PRELOAD="$SHIM" timeout 120 valgrind --tool=callgrind \
				--callgrind-out-file="$LOG/callgrind-true.out" /bin/true 2>>"$LOG/valgrind.log" || true
			echo
			echo "User-space instructions of one \`/bin/true\`, start to exit:" \
				"$(cg_total "$LOG/callgrind-true0.out") ungated," \
				"$(cg_total "$LOG/callgrind-true.out") gated. Gated, by function (self cost):"
			echo
			echo '```'
			echo "\$ LD_PRELOAD=$B/libmidshim.so valgrind --tool=callgrind /bin/true"
			echo "\$ callgrind_annotate --inclusive=no callgrind.out"
			top_functions "$LOG/callgrind-true.out" 12
			echo '```'
			echo
			echo "The same, inclusive cost of the loader's relocation and of the shim's constructor:"
			echo
			echo '```'
			callgrind_annotate --inclusive=yes "$LOG/callgrind-true.out" 2>/dev/null |
				grep -E '^ *[0-9,]+ \(' | grep -E '_dl_relocate_object \[|:setup \[|mid_config_load \[|mid_client_new \[|mid_exec_init \[' |
				sed -e "s|$TOP/||g" | cut -c1-150
			echo "# ungated:"
			callgrind_annotate --inclusive=yes "$LOG/callgrind-true0.out" 2>/dev/null |
				grep -E '^ *[0-9,]+ \(' | grep -E '_dl_relocate_object \[' | cut -c1-150
			echo '```'
		fi
		echo
	} >>"$PROFILES"
}
profile_validate() {
	local url
	{
		echo "#### cold validate: the client's system calls, and where the two processes run"
		echo
		echo '```'
		echo "\$ strace -c -f $B/bench/validate http://127.0.0.1:PORT KEYFILE $VDEV 2000   # + register, 1000 warm-up calls"
		timeout 60 strace -c -f -o "$T/sc" "$BB/validate" "$MIDSHIM_URL" "$T/keys/org.key" "$VDEV" 2000 \
			>/dev/null 2>&1 || true
		head -n 8 "$T/sc" 2>/dev/null
		echo '```'
		if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
			echo
			echo "The same $N_VALIDATE calls with \`midd\` pinned to CPU 0 and the client pinned to CPU 0 or 1"
			echo "(\`taskset -a -p -c 0 MIDD_PID; taskset -c N $B/bench/validate ...\`):"
			echo
			echo "| transport | client on | p50 µs | p99 µs |"
			echo "| --- | --- | --- | --- |"
			taskset -a -p -c 0 "$MIDD_PID" >/dev/null
			for url in "unix:$T/midd.sock" "$MIDSHIM_URL"; do
				for cpu in 0 1; do
					# shellcheck disable=SC2046 # the answer's words are wanted
					set -- $(timeout 120 taskset -c "$cpu" "$BB/validate" "$url" "$T/keys/org.key" \
						"$VDEV" "$N_VALIDATE" 2>/dev/null || echo x)
					local tr=TCP
					[ "${url%%:*}" = unix ] && tr=unix
					echo "| $tr | CPU $cpu ($([ "$cpu" = 0 ] && echo "same as midd" || echo "the other one")) | ${4:-?} | ${8:-?} |"
				done
			done
			taskset -a -p -c "0-$(($(nproc) - 1))" "$MIDD_PID" >/dev/null
			echo
			echo "The floor: the same exchange with no work on either side, a 400-byte"
			echo "request and a 200-byte answer between two processes over a unix socket"
			echo "pair, waited for with poll (\`$B/bench/roundtrip $N_VALIDATE\`):"
			echo
			echo "| processes on | p50 µs | p99 µs |"
			echo "| --- | --- | --- |"
			# shellcheck disable=SC2046 # the answer's words are wanted
			set -- $(timeout 120 "$BB/roundtrip" "$N_VALIDATE" 2>/dev/null || echo x)
			echo "| two CPUs (unpinned) | ${4:-?} | ${6:-?} |"
			# shellcheck disable=SC2046
			set -- $(timeout 120 taskset -c 0 "$BB/roundtrip" "$N_VALIDATE" 2>/dev/null || echo x)
			echo "| one CPU | ${4:-?} | ${6:-?} |"
		fi
		echo
	} >>"$PROFILES"
}
profile_midd() {
	{
		echo "#### midd under load: its system calls during 3 s of the load generator"
		echo
		echo '```'
		echo "\$ strace -c -f -p \$(pidof midd) & $B/bench/loadgen URL KEYFILE DEVICE $LOAD_CONNS 3 $LOAD_THREADS"
		timeout 30 strace -c -f -o "$T/sc" -p "$MIDD_PID" >/dev/null 2>&1 &
		local sp=$!
		sleep 0.5
		timeout 60 "$BB/loadgen" "$MIDSHIM_URL" "$T/keys/org.key" "$VDEV" "$LOAD_CONNS" 3 \
			"$LOAD_THREADS" >/dev/null 2>&1 || true
		kill -INT "$sp" 2>/dev/null || true
		wait "$sp" 2>/dev/null || true
		head -n 14 "$T/sc" 2>/dev/null
		echo '```'
		echo
	} >>"$PROFILES"
}
done_validate=
done_exec=
# BENCH_PROFILE_ALL=1 takes every profile, missed or not (for work on
# the harness itself).
profile_list=("${MISSED[@]}")
[ -z "${BENCH_PROFILE_ALL:-}" ] || profile_list=(hot-null hot-file spawn validate-tcp throughput)
for m in "${profile_list[@]}"; do
	case $m in
	hot-null) profile_hot null ;;
	hot-file) profile_hot file ;;
	spawn | sh-loop)
		[ -n "$done_exec" ] || profile_exec
		done_exec=1 ;;
	validate-*)
		[ -n "$done_validate" ] || profile_validate
		done_validate=1 ;;
	throughput) profile_midd ;;
	esac
done
# bench/realwork.sh profiled its own missed rows as it ran.
[ ! -s "$LOG/realwork.profiles.md" ] || cat "$LOG/realwork.profiles.md" >>"$PROFILES"

# ---- supervise mode (bench/supervise.sh) ------------------------------------------
# The rows to a file first: the script's own status says whether it
# failed (a loop's status would be its last test's).
B=$B BENCH_SUP_ROWS_ONLY=1 bench/supervise.sh >"$LOG/supervise.rows" 2>>"$LOG/supervise.log" ||
	say "supervise rows failed; see $LOG/supervise.log"
while IFS= read -r l; do
	ROWS+=("$l")
	if [[ $l == *"| missed |" ]]; then MISSED+=("supervise"); fi
done <"$LOG/supervise.rows"

# ---- 10. the plot --------------------------------------------------------------
PLOT=
if ! command -v gnuplot >/dev/null; then
	say "gnuplot is missing; installing it with scripts/install-deps.sh"
	scripts/install-deps.sh >>"$LOG/install.log" 2>&1 || say "could not install gnuplot; no plot"
fi
if command -v gnuplot >/dev/null; then
	for tr in unix tcp; do
		# Down to ~2000 points of the CDF: latency (µs), fraction below.
		awk -v n="$N_VALIDATE" 'NR % 10 == 0 || NR == n { print $1, NR / n }' "$LOG/lat-$tr.txt" >"$T/cdf-$tr.dat"
	done
	gnuplot >>"$LOG/gnuplot.log" 2>&1 <<EOF && PLOT=1 || say "gnuplot failed; see $LOG/gnuplot.log"
set terminal pngcairo size 900,520 font ",10"
set output "$OUT/latency.png"
set title "midshim: cold validate round trip to a local midd ($N_VALIDATE calls each)"
set xlabel "latency (µs, log scale)"
set ylabel "fraction of calls at or below"
set logscale x
set grid
set key bottom right
set yrange [0:1]
set arrow from 30, graph 0 to 30, graph 1 nohead dt 2 lc rgb "gray40"
set arrow from 150, graph 0 to 150, graph 1 nohead dt 2 lc rgb "gray40"
set label "p50 target" at 30, 0.05 offset 0.5,0
set label "p99 target" at 150, 0.05 offset 0.5,0
plot "$T/cdf-unix.dat" using 1:2 with lines lw 2 title "unix socket", \
     "$T/cdf-tcp.dat" using 1:2 with lines lw 2 title "TCP 127.0.0.1"
EOF
fi

load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 11. results.md ------------------------------------------------------------
{
	cat <<EOF
# midshim benchmarks

Measured by \`make bench\` (\`bench/run.sh\`) on $when, commit $commit.

| | |
| --- | --- |
| CPU | $cpu |
| cores | $cores |
| memory | $mem |
| kernel | $kernel |
| glibc | $glibc |
| compiler | $gccv |
| load average (1/5/15 min) | $load0 at the start (after waiting ${waited}s for a quiet machine), $load1 at the end |

To reproduce: \`make bench\` (builds the programs in \`bench/\`, then runs
\`B=build bench/run.sh\`; about five minutes on two cores). Raw numbers of
every round are left in \`build/bench-logs/\`. Everything runs on this one
machine: \`midd\`, the gated programs and the load generator share its
$cores cores, so a figure is only as quiet as the machine was.

How a figure is made: each ratio comes from rounds in which the ungated
and the gated program alternate (the order flips every round); the
figure is the median of the rounds' ratios, the times in brackets are
the medians of each side. The hot path and the exec storm are judged on
CPU time (user + system, of the program and the children it waited
for): it leaves out time spent waiting for a core another program
holds, though not the slowdown that programs sharing the caches and the
host cause. The wall-clock ratio of the same rounds follows in brackets.
The shim runs with its built-in policy (writes to character devices such
as /dev/null are allowed by policy; file writes and execs are validated)
and \`MIDSHIM_TTL_MS=$TTL_HOT\`, so the cache is fresh for the whole run:
one validate at start, none in the timed loop.

## Summary

<!-- summary:begin -->
| figure | target | measured | verdict |
| --- | --- | --- | --- |
EOF
	printf '%s\n' "${ROWS[@]}"
	cat <<EOF
<!-- summary:end -->

## Commands

Environment of every gated run: \`LD_PRELOAD=$B/libmidshim.so\`,
\`MIDSHIM_URL=http://127.0.0.1:PORT\` (a \`midd --quiet\` started for the run
on a temp database, with \`--socket DIR/midd.sock\`),
\`MIDSHIM_DEVICE_ID=bench:gate:hotpath:01\`,
\`MIDSHIM_ORG_KEY_FILE=DIR/keys/org.key\`, \`MIDSHIM_TTL_MS=$TTL_HOT\`.
An ungated run is the same command with \`LD_PRELOAD\` unset.

| figure | command (one round = ungated and gated) | rounds |
| --- | --- | --- |
| hot path, /dev/null | \`$B/bench/hotpath null $N_NULL\` | $ROUNDS |
| hot path, file | \`$B/bench/hotpath file $N_FILE DIR\` | $ROUNDS |
| counting's cost | \`bench/counts.sh $COUNT_ROUNDS\`: in each round \`$B/bench/hotpath turns null 20000 200\` (then \`turns file 10000 100 DIR\`) under \`$B/libmidshim.so\` and under \`$B/bench/libmidshim-nocount.so\` at once, taking turns chunk by chunk | $COUNT_ROUNDS |
| exec storm, spawn | \`$B/bench/spawn $N_SPAWN\` ungated, with an empty preload and gated, the order turned each round | $SPAWN_ROUNDS |
| exec storm, shell | \`$B/bench/spawn 1 /bin/sh -c '$SH_LOOP'\`, the same three ways | $SPAWN_ROUNDS |
| real work | \`bench/realwork.sh $WORK_ROUNDS\`: each of \`make -s -j2 B=DIR NO_DEPS=1 build-all\` (a clean build), a \`git\` session on a few hundred generated files, \`/usr/bin/python3 -m unittest -q test.test_shutil\`, as \`$B/bench/spawn 1 CMD\` ungated, with an empty preload and gated | $WORK_MAKE_ROUNDS (build), $WORK_ROUNDS (others) |
| cold validate | \`$B/bench/validate unix:DIR/midd.sock KEYFILE $VDEV $N_VALIDATE\` and \`... http://127.0.0.1:PORT ...\`, alternating | 3 each |
| throughput | \`$B/bench/loadgen http://127.0.0.1:PORT KEYFILE $VDEV $LOAD_CONNS $LOAD_SECS $LOAD_THREADS\` | 3 |
| replicas | \`bench/replicas.sh\`: a throwaway PostgreSQL cluster, two replicas, \`loadgen\` against each at once (16 connections, 5 s), then \`tests/integration/replica_probe.py latency\` (200 trials) | 1 |
| revoke → halt | \`bench/halt.sh TTL 5\` for TTL 100 and 1000 | 5 each |
| revoke → halt, idle | \`bench/halt_idle.py preload $N_IDLE\` and \`... launcher $N_IDLE\` | $N_IDLE each |
| RSS | VmRSS of \`$B/bench/hotpath pause DIR\` and of \`sleep 30\`, gated minus ungated | 5 |
| live processes | \`bench/live.sh $LIVE_LEVELS\`: LEVEL × \`$B/bench/live 900 DIR\` at once, then \`$B/bench/validate ... 5000\` | 1 per level |
| registered devices | \`bench/devices.sh $DEVICE_LEVELS\`: a database of LEVEL devices, \`midd\`'s start line, \`$B/bench/validate ... 5000\`, \`midctl list --json\` | 1 per level |

Notes on the figures:

- *counting's cost on the hot path*: what the budgets' counting
  (\`midctl budget\`) adds to a write the gate lets through at once. The
  other preload is this shim built with the hooks' counting compiled out
  (\`MIDSHIM_NO_COUNTS\`; never installed). Whole runs one after the other
  differ by several percent on a shared machine, much more than counting
  costs, so the two programs run at once and take turns: one writes a
  chunk (200 writes to /dev/null, or 100 to the file, some 0.3 ms), hands
  the turn over a FIFO, and so on. Each chunk is timed on its thread's CPU
  clock; a round's ratio is the median of the ratios of neighbouring
  chunks, the figure the median over the rounds (who goes first flips
  every round), and the times in brackets are the medians of each build's
  chunks. The instructions per write (callgrind, the difference of a
  20,000- and a 40,000-write run) are each build's, libc included.
- *real work*: three rows, each run three ways per round (ungated, an
  empty \`LD_PRELOAD\`, the shim), the order turned around every round;
  CPU time of the whole tree as for the exec storm, the figure the median
  of the rounds' shim / none ratios, the empty preload's ratio and the
  page faults beside it. Gated runs use the default TTL (1 s), a device of
  their own per row and the built-in policy, so every exec and write is
  validated and a job's children that outlive the parent's allow ask
  \`midd\` themselves. Each row's setup revokes its device and checks that
  a cheap step of the workload (one compile, a \`git init\`, a python3 file
  write) dies with \`DEVICE_REVOKED\` and leaves nothing, then restores
  it; every run must produce the result of the first (the build's files
  byte for byte, the same commits and diff, the suite's counts). A missed
  row gets the split of CPU time, page faults and callgrind's user-space
  instructions (every process of a small piece of the workload) under
  *Missed targets*.
- *cold validate* calls \`mid_client_validate\` (the shim's own client) in a
  loop on one kept-alive connection: 1000 warm-up calls, then
  $N_VALIDATE timed ones, each timed with \`clock_gettime\`. It is the
  cost a gated program pays at a boundary when its cached allow has run
  out (or with \`MIDSHIM_TTL_MS=0\`). The plot \`latency.png\` shows the
  distribution of the last run of each transport.
- *throughput*: \`loadgen\` keeps $LOAD_CONNS connections open with one
  request in flight each, driven by $LOAD_THREADS epoll threads, for
  $LOAD_SECS s, and counts whole 200 answers. The load generator runs on
  the same $cores cores as \`midd\`, so it takes a share of the CPU the
  server would otherwise have.
- *revoke → halt*: a gated \`hotpath busy\` writes 4 KiB blocks without
  pause; after a random part of TTL the device is revoked over a raw
  connection, and the clock runs from the revoke's reply (read by the
  shell) to the writer's death (reaped by \`wait\`). The allow cached just
  before the revoke may run for a whole TTL, so the bound is TTL plus one
  validate and the kill.
- *revoke → halt, idle*: \`sleep 600\` under the preload (it holds its
  own push channel once its start is validated) or under \`midshim run\`
  (the launcher holds the channel and kills the tree), with a 30 s TTL so
  that only the push can stop it. The clock runs from the revoke's reply
  to the program's death seen through a pidfd. midd sends the kill before
  it answers, so most deaths come before the reply has been read.
- *RSS*: the paused \`hotpath\` has done a gated open, a validate and a
  write of each kind, so the shim's client, cache and tables are live.
- *live processes*: each \`bench/live\` validated in its start-up gate
  and keeps its kept-alive connection (it validates again every 20 s, under
  \`midd\`'s 30 s idle deadline). \`midd\`'s RSS and descriptors are read
  once every process holds its connection, against \`midd\` just before;
  the fresh client is \`bench/validate\` (the shim's own client, 1000
  warm-up calls, then 5000 timed) run meanwhile. Every process is killed
  by its PID before the next level. A level the machine cannot hold
  (memory, processes, descriptors) is reported as not measured.
- *registered devices*: the devices are written into a fresh database
  with \`sqlite3\` as \`midd\` writes a registered one; \`midd\`'s start
  figures are its own (\`ready_ms\`, from \`main\` to serving, and
  \`cpu_ms\`, the CPU time spent by then, on its start line); RSS per
  device is against a \`midd\` on an empty database; the validate row beside
  the target is that empty-database run. \`midctl list --json\` reads
  every page (5,000 devices a call).

## Against a ptrace-based gate

What a user reaches for without a preload: stop the program at each
system call that has a side effect and decide there. Measured as
\`strace -f -qq --seccomp-bpf -o /dev/null -e trace=SET CMD\`, where SET is
the side-effect calls the shim gates ($(echo "$PTRACE_SET" | tr ',' ' ' | wc -w) calls: write*, send*,
connect, exec*, open*, unlink*, rename*, mkdir*, ...). \`--seccomp-bpf\` is
the kind variant: only the listed calls stop the tracee, and no decision
is made, so a real gate costs at least this much. Same workloads, fewer
writes per run (N = $N_PTRACE_NULL and $N_PTRACE_FILE), $PTRACE_ROUNDS rounds, wall
time (the tracer's CPU time is not the traced program's, so CPU time
would hide most of the cost).

| workload | ungated | ptrace gate | ratio |
| --- | --- | --- | --- |
EOF
	printf '%s\n' "${PTRACE_ROWS[@]}"
	if [ ${#IR_ROWS[@]} -gt 0 ]; then
		cat <<EOF

## Instructions per write

User-space instructions per \`write\` (callgrind; the difference of a
20,000- and a 40,000-write run, so start-up cancels out). Kernel work is
not counted: this is what the hook itself adds, free of timing noise.

| write to | ungated | gated | added by the shim |
| --- | --- | --- | --- |
EOF
		printf '%s\n' "${IR_ROWS[@]}"
	fi
	if [ -s "$PROFILES" ]; then
		cat <<EOF

## Missed targets

Missed in this run: ${MISSED[*]:-none}. Profiles taken right after the
measurements:

EOF
		cat "$PROFILES"
		if [ -f "$TOP/bench/analysis.md" ]; then
			echo "### Analysis"
			echo
			cat "$TOP/bench/analysis.md"
		fi
	fi
} >"$OUT/results.md"
# The browser console's page weight and first render (its own section).
B=$B bash bench/console.sh "$OUT/results.md" || say "the console's figures were not measured"

[ -n "$PLOT" ] && say "wrote $OUT/results.md and $OUT/latency.png" || say "wrote $OUT/results.md"
if [ "$OUT" = "$TOP/bench" ]; then
	bench/readme-table.sh || say "README table not updated"
fi
