#!/bin/bash
# SPDX-License-Identifier: MIT
# Real work under the gate: a clean `make -j2` of this repository (gcc,
# ar, sh), a git session on a few hundred files (init, add, commit,
# status, diff, log) and a python3 test suite (the standard library's
# test_shutil: file I/O, archives, tar and zip run as subprocesses). Each
# runs three ways in one series of rounds, the order turned around every
# round: ungated, under an empty preload (what any preload costs a start)
# and under the shim against the run's midd, with the built-in policy
# (every exec, write open, connect... is validated; the row's device is
# active, so everything is allowed) and the default TTL, so a long job's
# children validate on their own and hold push channels as they would in
# production. Judged on CPU time, like the exec storm: the figure is the
# median of the rounds' shim / none ratios.
#
#   BIN=$PWD/build MIDD_PORT=P KEYS=DIR [ADMIN_KEY_FILE=F] bench/realwork.sh [ROUNDS]
#
# ROUNDS (or BENCH_WORK_ROUNDS, default 3) for the git and python3 rows,
# BENCH_WORK_MAKE_ROUNDS (default 2) for the build.
# against the midd serving 127.0.0.1:P with DIR/org.key (bench/run.sh
# passes its own). Before a row is timed its setup proves the gated run is
# gated: with the row's device revoked, a cheap step of the workload must
# die with DEVICE_REVOKED and leave nothing behind; restored, the same
# step must succeed. Every round checks that the three ways produced the
# same result (the build's files, the session's commits and diffs, the
# suite's counts). Prints one summary row per workload on stdout, in the
# form of bench/results.md; for a missed row it appends to
# $LOG/realwork.profiles.md where the extra cost goes: CPU time and page
# faults of the three ways, and the user-space instructions of a small
# piece of the workload (callgrind, every process counted). Raw rounds go
# to $LOG/realwork-*.rounds. BENCH_QUICK=1: one round of a small piece of
# each workload (checks the harness, not the numbers; no profiles unless
# BENCH_PROFILE_ALL=1 asks for them).
set -Eeuo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/common.sh
. "$TOP/bench/common.sh"
msg_prefix realwork
[ -d "${BIN:-}" ] || die "set BIN to the build directory (absolute)"
: "${MIDD_PORT:?}" "${KEYS:?}"
SHIM=$BIN/libmidshim.so
SPAWN=$BIN/bench/spawn
LOG=${LOG:-$BIN/bench-logs}
ADMIN_KEY=$(cat "${ADMIN_KEY_FILE:-$KEYS/../admin/admin.key}")
ORG_KEY=$(cat "$KEYS/org.key")
URL=http://127.0.0.1:$MIDD_PORT
ROUNDS=${1:-${BENCH_WORK_ROUNDS:-3}}
# A clean build takes some 30 s of CPU: two rounds of it keep the three
# rows within about four minutes on two cores.
MAKE_ROUNDS=${BENCH_WORK_MAKE_ROUNDS:-2}
TARGET=1.05
PY=/usr/bin/python3     # Debian's, with its test suite; not a pyenv shim
N_GIT_FILES=300
MAKE_GOAL=build-all
PY_ARGS=(-m unittest -q test.test_shutil)
if [ -n "${BENCH_QUICK:-}" ]; then
	ROUNDS=1 MAKE_ROUNDS=1 N_GIT_FILES=20
	MAKE_GOAL=libmidcommon.a
	PY_ARGS=(-m unittest -q -k test_make_tarball test.test_shutil)
fi
PROFILES=$LOG/realwork.profiles.md

need_built "$SHIM" "$SPAWN"
need_tools make gcc git curl jq "$PY"
"$PY" -c 'import test.test_shutil' 2>/dev/null || die "$PY has no test suite (scripts/install-deps.sh)"

# Nothing of the caller's gate or make leaks into the workloads: the shim
# way gets its settings below, and an outer `make bench`'s job server
# must not steer the timed `make -j2`.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(MIDSHIM_|MAKE|MFLAGS$|LD_PRELOAD$)' || true)
mkdir -p "$LOG"
: >"$PROFILES"
W=$(mktemp -d "${TMPDIR:-/tmp}/midshim-realwork.XXXXXX")
trap 'rm -rf "$W"' EXIT
# After the scrub above, and named so that it cannot match it: bench/spawn
# takes a path, not a name.
MAKE_BIN=$(command -v make)

echo 'int midshim_bench_empty;' >"$W/empty.c"
cc -shared -fPIC -o "$W/empty.so" "$W/empty.c"

# way WAY DEVICE: sets PRE, the command words that run a program
# ungated (none), under an empty preload (empty) or under the shim as
# DEVICE with the default TTL (shim).
way() {
	case $1 in
	none) PRE=(env -u LD_PRELOAD) ;;
	empty) PRE=(env LD_PRELOAD="$W/empty.so") ;;
	shim) PRE=(env LD_PRELOAD="$SHIM" MIDSHIM_URL="$URL" MIDSHIM_ORG_KEY_FILE="$KEYS/org.key"
		MIDSHIM_DEVICE_ID="$2") ;;
	esac
}

admin() { # ACTION DEVICE: revoke or unrevoke; fails unless midd says 200
	local code
	code=$(curl -sS --max-time 10 -o "$W/admin.out" -w '%{http_code}' -X POST \
		-H "x-admin-key: $ADMIN_KEY" -H 'content-type: application/json' \
		--data-binary "{\"deviceId\":\"$2\"}" "$URL/api/v1/devices/$1")
	[ "$code" = 200 ] || die "$1 $2 answered $code: $(cat "$W/admin.out")"
}

# prove_gated NAME DEVICE: the workload's cheap step (p_NAME, which
# makes P_NAME) is stopped before it acts while DEVICE is revoked, and
# runs once the device is active again.
prove_gated() {
	local name=$1 dev=$2 rc=0 art state
	art=P_$name
	art=${!art}
	way shim "$dev"
	"p_$name" timeout 120 "${PRE[@]}" >/dev/null 2>"$W/probe.err" ||
		die "$name: the gated probe fails: $(tail -n 3 "$W/probe.err")"
	rm -rf "$art"
	admin revoke "$dev"
	"p_$name" timeout 120 "${PRE[@]}" >/dev/null 2>"$W/probe.err" || rc=$?
	admin unrevoke "$dev"
	[ "$rc" -ne 0 ] || die "$name: $dev revoked, yet the probe ran"
	grep -q DEVICE_REVOKED "$W/probe.err" ||
		die "$name: $dev revoked, yet the probe exited $rc: $(tail -n 3 "$W/probe.err")"
	[ ! -e "$art" ] || die "$name: $dev revoked, yet the probe made $art"
	"p_$name" timeout 120 "${PRE[@]}" >/dev/null 2>"$W/probe.err" ||
		die "$name: restored, the gated probe fails: $(tail -n 3 "$W/probe.err")"
	[ -e "$art" ] || die "$name: restored, the probe did not make $art"
	curl -fsS --max-time 10 -H "x-org-key: $ORG_KEY" "$URL/api/v1/devices/list" >"$W/list.json"
	state=$(jq -r --arg d "$dev" '[.. | objects | select(.deviceId? == $d) | .state][0]' "$W/list.json")
	[ "$state" = active ] || die "$name: midd lists $dev as '$state', not active"
	say "$name: $dev revoked, the probe died with DEVICE_REVOKED and made nothing; active, it ran"
}

# ---- the workloads ------------------------------------------------------
# Each workload NAME has: w_NAME PREFIX..., the timed run; c_NAME
# PREFIX..., a small piece of it for callgrind; p_NAME PREFIX..., a cheap
# step that makes the file P_NAME, for prove_gated; and r_NAME, which
# prints a digest of what the last run produced. PREFIX is the way and
# the device (and the timer or the profiler) the command runs under.

# A clean build into a build directory of its own: the same path every
# run, so the files must come out byte for byte the same.
MAKE_ARGS=(-s -C "$TOP" B="$W/make" NO_DEPS=1)
w_make() {
	local goal=$MAKE_GOAL
	[ "$goal" = build-all ] || goal=$W/make/$goal
	rm -rf "$W/make"
	"$@" "$MAKE_BIN" -j2 "${MAKE_ARGS[@]}" "$goal"
}
r_make() { (cd "$W/make" && find . -type f ! -name '*.d' | LC_ALL=C sort | xargs sha256sum | sha256sum); }
P_make=$W/probe-make/common/bind.o
p_make() { "$@" make -s -C "$TOP" B="$W/probe-make" NO_DEPS=1 "$P_make"; }
c_make() { rm -rf "$W/cg-make" && "$@" make -s -C "$TOP" B="$W/cg-make" NO_DEPS=1 "$W/cg-make/common/bind.o"; }

# N_GIT_FILES source-like files in 10 directories, made once.
git_files() {
	awk -v n="$N_GIT_FILES" -v d="$W/git-src" 'BEGIN {
		for(i = 0; i < 10; i++)
			system("mkdir -p " d "/dir" i)
		for(i = 0; i < n; i++) {
			f = sprintf("%s/dir%d/file%03d.c", d, i % 10, i)
			for(l = 0; l < 60; l++)
				printf "static int f%d_%d(int x) { return x * %d + %d; }\n", i, l, l, i >f
			close(f)
		}
	}'
}
# The session: import, three rounds of edits to a tenth of the files,
# each looked at and committed, then the history read back. Fixed names
# and dates make the commits the same in every run.
GIT_SESSION='set -e
rm -rf "$1/repo"
git -c init.defaultBranch=main init -q "$1/repo"
cd "$1/repo"
cp -R "$1/git-src/." .
git add -A
git commit -q -m import
for r in 1 2 3; do
	for f in dir$r/*.c; do echo "int edit$r;" >>"$f"; done
	git status --short >/dev/null
	git diff --stat >/dev/null
	git add -A
	git commit -q -m "edit $r"
done
git log --stat >"$1/git.log"
git diff HEAD~3 HEAD >"$1/git.diff"
git rev-parse HEAD >"$1/git.head"'
git_env() {
	export HOME=$W GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org \
		GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org \
		GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
}
w_git() { (git_env && "$@" /bin/sh -c "$GIT_SESSION" sh "$W"); }
r_git() { cat "$W/git.head" "$W/git.log" "$W/git.diff" | sha256sum; }
P_git=$W/probe-git
p_git() { (git_env && "$@" git -c init.defaultBranch=main init -q "$P_git"); }
c_git() { w_git "$@"; }

# The suite runs in a directory of its own, its temp files beside it;
# its summary (tests run, skipped, failed) is its result.
py_env() { mkdir -p "$W/py/tmp" && cd "$W/py" && export TMPDIR=$W/py/tmp; }
w_python() { (py_env && "$@" "$PY" "${PY_ARGS[@]}"); }
r_python() { grep -E '^(Ran [0-9]+ tests?|OK|FAILED)' "$W/out.err" | sed 's/ in [0-9.]*s$//'; }
P_python=$W/probe-py
p_python() { "$@" "$PY" -c "open('$P_python', 'w').write('x')"; }
c_python() { (py_env && "$@" "$PY" -m unittest -q -k test_make_tarball test.test_shutil); }

# ---- timing ---------------------------------------------------------------
# once NAME WAY DEVICE: one run through bench/spawn, which prints wall ms,
# CPU ms (its own and its children's) and the children's page faults.
# Sets CPU, WALL and FAULTS, and DIGEST, the digest of what it produced.
once() {
	local name=$1 w=$2 dev=$3 line
	way "$w" "$dev"
	"w_$name" timeout 900 "${PRE[@]}" "$SPAWN" 1 >"$W/out" 2>"$W/out.err" ||
		die "$name ($w) failed: $(tail -n 5 "$W/out.err") $(tail -n 5 "$W/out")"
	line=$(grep '^spawn 1 ' "$W/out" | tail -n 1)
	read -r _ _ WALL _ CPU _ FAULTS _ <<<"$line"
	[[ $CPU =~ ^[0-9.]+$ && $FAULTS =~ ^[0-9.]+$ ]] || die "$name ($w): spawn printed '$line'"
	DIGEST=$("r_$name")
	[ -n "$DIGEST" ] || die "$name ($w): no result to compare"
}

# series NAME DEVICE ROUNDS: ROUNDS rounds of the three ways, the order turned
# around every round; every run must produce what the warm-up run did.
# Leaves the rounds in $LOG/realwork-NAME.rounds: round, CPU ms, page
# faults and wall ms, each for none, empty and shim.
series() {
	local name=$1 dev=$2 rounds=$3 r w ways ref
	local -A c f wl
	if [ "$name" = make ]; then
		ref=
	else
		once "$name" none "$dev"
		ref=$DIGEST
	fi
	: >"$LOG/realwork-$name.rounds"
	for r in $(seq 1 "$rounds"); do
		ways="none empty shim"
		[ $((r % 2)) -eq 1 ] || ways="shim empty none"
		for w in $ways; do
			once "$name" "$w" "$dev"
			[ -n "$ref" ] || ref=$DIGEST
			[ "$DIGEST" = "$ref" ] || die "$name ($w, round $r) produced another result: '$DIGEST', not '$ref'"
			c[$w]=$CPU f[$w]=$FAULTS wl[$w]=$WALL
		done
		echo "$r ${c[none]} ${c[empty]} ${c[shim]} ${f[none]} ${f[empty]} ${f[shim]}" \
			"${wl[none]} ${wl[empty]} ${wl[shim]}" >>"$LOG/realwork-$name.rounds"
	done
}

col() { awk -v c="$2" '{ print $c }' "$1" | median; }
ratio() { awk -v a="$2" -v b="$3" '{ printf "%.3f\n", $b / $a }' "$1" | median | xargs printf "%.3f\n"; }

# cg_run NAME WAY DEVICE: user-space instructions of c_NAME run the WAY, every
# process of it counted; prints the total and the number of processes.
cg_run() {
	local name=$1 w=$2 d=$W/cg-$2
	rm -rf "$d" && mkdir -p "$d"
	way "$w" "$3"
	"c_$name" timeout 600 "${PRE[@]}" valgrind --tool=callgrind --trace-children=yes \
		--callgrind-out-file="$d/cg.%p" >/dev/null 2>>"$LOG/realwork-valgrind.log" || return 1
	cat "$d"/cg.* | awk '/^(summary|totals):/ { s += $2; n++ } END { printf "%d %d\n", s, n }'
}

# profile NAME DEVICE TITLE PIECE: where a missed row's time goes.
profile() {
	local name=$1 dev=$2 title=$3 piece=$4 rf=$LOG/realwork-$1.rounds w i n
	local names=(none 'an empty `.so`' '`libmidshim.so`')
	{
		echo "#### real work, $title: CPU time, page faults and instructions, three ways"
		echo
		echo "Medians of the row's $(grep -c . "$rf") rounds:"
		echo
		echo "| way | CPU ms | vs none | page faults | vs none |"
		echo "| --- | --- | --- | --- | --- |"
		for i in 0 1 2; do
			echo "| ${names[$i]} | $(col "$rf" $((2 + i))) | $(ratio "$rf" 2 $((2 + i)))x |" \
				"$(col "$rf" $((5 + i))) | $(ratio "$rf" 5 $((5 + i)))x |"
		done
		if command -v valgrind >/dev/null; then
			echo
			echo "User-space instructions of $piece (callgrind \`--trace-children=yes\`," \
				"every process summed; a gated process validates as usual, and runs"\
				"about 50 times slower under callgrind, so its children ask \`midd\`" \
				"more often than they would):"
			echo
			echo "| way | instructions | vs none | processes |"
			echo "| --- | --- | --- | --- |"
			local base=
			for w in none empty shim; do
				read -r i n <<<"$(cg_run "$name" "$w" "$dev")" || { echo "| $w | callgrind failed | | |"; continue; }
				[ -n "$base" ] || base=$i
				echo "| $w | $i | $(calc '%.3fx' "$i / $base") | $n |"
			done
		fi
		echo
	} >>"$PROFILES"
}

# row NAME DEVICE FIGURE TITLE PIECE: setup, rounds, one summary row.
row() {
	local name=$1 dev=$2 figure=$3 title=$4 piece=$5 rf=$LOG/realwork-$1.rounds r re rw v
	local rounds=$ROUNDS
	[ "$name" != make ] || rounds=$MAKE_ROUNDS
	prove_gated "$name" "$dev"
	series "$name" "$dev" "$rounds"
	r=$(ratio "$rf" 2 4)
	re=$(ratio "$rf" 2 3)
	rw=$(ratio "$rf" 8 10)
	v=$(verdict "$r" "$TARGET")
	echo "| $figure, shim / none | ≤ ${TARGET}x | **${r}x** ($(col "$rf" 2) → $(col "$rf" 4) CPU ms;" \
		"empty preload ${re}x; page faults $(col "$rf" 5) → $(col "$rf" 7); wall ${rw}x) | $v |"
	say "$name: shim / none ${r}x, empty / none ${re}x, wall ${rw}x ($rounds rounds)"
	# BENCH_PROFILE_ALL (as for bench/run.sh) profiles every row.
	if [ -n "${BENCH_PROFILE_ALL:-}" ] || { [ "$v" = missed ] && [ -z "${BENCH_QUICK:-}" ]; }; then
		profile "$name" "$dev" "$title" "$piece"
	fi
}

git_files
goal="$(cd "$TOP" && find common policy client shim server cli -name '*.c' | wc -l) C files"
[ "$MAKE_GOAL" = build-all ] || goal=$MAKE_GOAL
row make bench:work:make:01 "real work: clean \`make -j2\` of this repository ($goal)" \
	'clean `make -j2`' 'one `make` of `common/bind.o` (make, sh, gcc, cc1, as)'
row git bench:work:git:01 "real work: a \`git\` session (init, add, 4 commits, status, diff, log; $N_GIT_FILES files)" \
	'`git` session' "the same session"
row python bench:work:python:01 "real work: \`python3 ${PY_ARGS[*]}\`" \
	'`python3` test suite' '`-k test_make_tarball` of the same suite'
