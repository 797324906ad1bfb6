#!/bin/bash
# SPDX-License-Identifier: MIT
# midctl console driven through stdin, as an operator's script would:
# status, revoke, status, restore, status for one device shows each
# transition in order and midd's own state agrees; errors inside the
# console are printed and it reads on; the prompt appears only on a
# terminal; the exit status is 0 at EOF or quit, 3 when midd was
# unreachable for the last command.
. "$(dirname "$0")/../lib.sh"
# `printf ... | midctl_expect` must set OUT, ERR and RC in this shell.
shopt -s lastpipe
midd_start
export MIDSHIM_ADMIN_KEY_FILE=$T/admin/admin.key
unset MIDSHIM_ADMIN_KEY MIDSHIM_ORG_KEY MIDSHIM_ORG_KEY_FILE
D=tool:test:console:01
E=tool:test:console-other:02
midctl_expect 0 "register" register "$D"
midctl_expect 0 "register" register "$E"

# ---- the kill-switch sequence ------------------------------------------------------
printf 'status\nrevoke\nstatus\nrestore\nstatus\nquit\n' |
	midctl_expect 0 "console sequence" console --device "$D"
assert_eq "" "$ERR" "console stderr"
assert_not_contains "$OUT" "midctl>" "no prompt without a terminal"
# The lines that matter, in order.
seq=$(grep -E '^(state|validate) |^(revoked|restored) ' <<<"$OUT" | sed -E 's/ \(request_id .*//; s/  +/ /')
expected="state active
validate allowed
revoked $D
state revoked
validate DEVICE_REVOKED
restored $D
state active
validate allowed"
assert_eq "$expected" "$seq" "console transitions"
assert_eq active "$(device_state "$D")" "midd's state after the console sequence"

# Each step reaches midd when it is made, not at the end.
printf 'revoke\n' | midctl_expect 0 "console revoke" console --device "$D"
assert_eq revoked "$(device_state "$D")" "midd's state after a console revoke"
printf 'restore %s\nrevoke %s\n' "$D" "$E" | midctl_expect 0 "explicit devices" console --device "$D"
assert_eq active "$(device_state "$D")" "console restore of a named device"
assert_eq revoked "$(device_state "$E")" "a named device overrides --device"
printf 'unrevoke %s\n' "$E" | midctl_expect 0 "unrevoke in the console" console
assert_eq active "$(device_state "$E")" "console unrevoke"
note "ok: kill-switch sequence"

# ---- list, disable, enable, help ----------------------------------------------------
printf 'list\ndisable\ndisable org\nstatus %s\nenable\nstatus %s\nhelp\nexit\nstatus %s\n' "$D" "$D" "$D" |
	midctl_expect 0 "console org switch" console
assert_contains "$OUT" "DEVICE" "console list header"
assert_contains "$OUT" "$E" "console list rows"
assert_contains "$OUT" "org disabled: every validate now answers ORG_DISABLED" "console disable"
assert_contains "$OUT" "org enabled" "console enable"
assert_eq "ORG_DISABLED allowed" "$(awk '/^validate /{ printf "%s ", $2 }' <<<"$OUT" | sed 's/ $//')" "validate answers across the switch"
assert_contains "$OUT" "revoke [DEVICE]" "console help"
assert_eq 2 "$(grep -c '^validate ' <<<"$OUT")" "nothing runs after exit"
note "ok: list, disable, enable, help, exit"

# ---- disable asks for a typed confirmation -------------------------------------------
printf 'disable\ny\nstatus %s\n' "$D" | midctl_expect 0 "disable not confirmed" console
assert_contains "$OUT" 'Type "disable org" to go on' "the question"
assert_contains "$ERR" "disable: not confirmed; the org is unchanged" "the refusal"
assert_contains "$OUT" "validate    allowed" "the org still validates"
printf 'disable\n' | midctl_expect 0 "disable at end of input" console
assert_contains "$ERR" "not confirmed" "end of input is no confirmation"
midctl_expect 0 "usage" usage
assert_contains "$OUT" "enabled" "the org was never disabled"
note "ok: disable confirmation"

# ---- errors are printed and the console reads on -------------------------------------
printf 'revoke\nfrobnicate\nrevoke %s\nstatus %s\n\n# a comment\nlist extra\nstatus %s\n' \
	tool:test:unknown:09 tool:test:unknown:09 "$D" | midctl_expect 0 "console errors" console
assert_contains "$ERR" "midctl: revoke: which device?" "missing device in the console"
assert_contains "$ERR" "midctl: unknown command 'frobnicate'" "unknown console command"
assert_contains "$ERR" "DEVICE_NOT_FOUND" "refused revoke in the console"
assert_contains "$ERR" "list takes no argument" "extra argument in the console"
assert_eq 5 "$(wc -l <<<"$ERR")" "one line per error"
assert_contains "$OUT" "state       active" "the console went on after the errors"
# EOF without quit ends it with 0. An overlong line is refused whole: its
# first part alone would read "revoke D".
{ printf 'revoke %s' "$D"; printf ' %.0s' $(seq 1 2000); printf 'junk\nstatus %s\n' "$D"; } |
	midctl_expect 0 "overlong line" console
assert_contains "$ERR" "line longer than" "overlong line message"
assert_eq active "$(device_state "$D")" "half of an overlong line did not run"
note "ok: console errors"

# ---- exit status 3 when midd is gone for the last command ----------------------------
midd_stop
printf 'status\n' | midctl_expect 3 "unreachable last command" console --device "$D"
assert_contains "$ERR" "cannot reach midd at $MIDSHIM_URL" "console names the URL"
printf 'status\nhelp\n' | midctl_expect 0 "unreachable, then a local command" console --device "$D"
midd_start
printf 'status\n' | midctl_expect 0 "midd back" console --device "$D"
note "ok: console exit status"

# ---- on a terminal: banner and prompt ------------------------------------------------
# session ARGV STEPS (python): run midctl on a pty, send each step's keys
# and wait for its token, then quit; true when every token came and it
# exited 0.
SESSION_PY='
import os, pty, select, sys, time
def session(argv, steps):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out = b""
    def read_until(token, secs=10):
        nonlocal out
        end = time.time() + secs
        while token not in out and time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return token in out
    ok = read_until(b"midctl> ")
    for keys, token in steps:
        os.write(fd, keys)
        ok = ok and read_until(token)
    os.write(fd, b"quit\r")
    read_until(b"\x00", 2)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace"))
    return ok and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, out
'
python3 -c "$SESSION_PY"'
ok, _ = session([sys.argv[1], "console", "--device", sys.argv[2]],
                [(b"status\n", b"validate    allowed")])
sys.exit(0 if ok else 1)' "$BIN/midctl" "$D" >"$T/tty.out" 2>&1 || fail "console on a terminal: $(cat "$T/tty.out")"
assert_file_contains "$T/tty.out" "midctl console: midd at $MIDSHIM_URL, device $D" "console banner on a terminal"
[ "$(grep -o 'midctl> ' "$T/tty.out" | wc -l)" -ge 2 ] || fail "prompt shown for each line: $(cat "$T/tty.out")"
note "ok: terminal prompt"

# ---- on a terminal: line editing and history (libedit) ------------------------------
# A line is edited (Ctrl-A to its start, a word typed there), an earlier
# one is recalled with the up arrow, and the history is kept in
# ~/.midctl_history (0600) for the next console, whose up arrow finds it.
mkdir -p "$T/home"
HOME=$T/home python3 -c "$SESSION_PY"'
dev = sys.argv[2].encode()
argv = [sys.argv[1], "console"]
# " " + dev typed, then Ctrl-A and "status" before it: the command runs;
# then the up arrow runs it again.
ok, out = session(argv, [(b" " + dev + b"\x01status\r", b"validate    allowed"),
                         (b"\x1b[A\r", b"")])
ok = ok and out.count(b"validate    allowed") == 2
# A new console: two up arrows reach the line of the last one.
ok2, _ = session(argv, [(b"\x1b[A\x1b[A\r", b"validate    allowed")])
sys.exit(0 if ok and ok2 else 1)' "$BIN/midctl" "$D" >"$T/tty.out" 2>&1 || fail "line editing: $(cat "$T/tty.out")"
# libedit's format: a header line, spaces written as \040.
assert_file_contains "$T/home/.midctl_history" "status\\040$D" "the history file"
assert_eq 600 "$(stat -c %a "$T/home/.midctl_history")" "history file mode"
note "ok: line editing and history"
note "ok: midctl console"
