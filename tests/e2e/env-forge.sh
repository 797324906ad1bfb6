#!/bin/bash
# SPDX-License-Identifier: MIT
# Settings a gated program adds to its environment never reach its
# children: a MIDSHIM_MODE=audit or a permissive MIDSHIM_POLICY set with
# setenv before system(), posix_spawn or execve with an environment of the
# program's making. Children get exactly the settings captured at start,
# and no LD_AUDIT, whose library could refuse to load the preload.
. "$(dirname "$0")/../lib.sh"
midd_start
shim_env "test:e2e:envforge:01"
M=$T/marker
printf '{"version": 1, "default": "allow", "rules": []}\n' >"$T/open.json"
export M T OPEN=$T/open.json

# The child's environment, as `env` prints it into $T/env.out, when the
# program starts it by HOW after forging its own environment.
child_env() { # how
	rm -f "$T/env.out"
	expect_allowed "$1" "$PY" -c '
import os, sys
forged = {"MIDSHIM_MODE": "audit", "MIDSHIM_POLICY": os.environ["OPEN"],
          "MIDSHIM_TTL_MS": "30000", "LD_AUDIT": "/nonexistent/audit.so"}
cmd = ["/bin/sh", "-c", "env > \"$T/env.out\""]
how = sys.argv[1]
if how == "system":
    os.environ.update(forged)
    os.environ["LD_PRELOAD"] = ""
    sys.exit(os.waitstatus_to_exitcode(os.system(cmd[2])))
env = {"T": os.environ["T"], **forged}
if how == "posix_spawn":
    pid = os.posix_spawn(cmd[0], cmd, env)
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
os.execve(cmd[0], cmd, env)' "$1"
	assert_exists "$T/env.out" "$1: the child ran"
	local e
	e=$(cat "$T/env.out")
	assert_not_contains "$e" "MIDSHIM_MODE=" "$1: a forged MIDSHIM_MODE reaches the child"
	assert_not_contains "$e" "MIDSHIM_POLICY=" "$1: a forged MIDSHIM_POLICY reaches the child"
	assert_not_contains "$e" "LD_AUDIT=" "$1: LD_AUDIT reaches the child"
	assert_contains "$e" "MIDSHIM_TTL_MS=$MIDSHIM_TTL_MS"$'\n' "$1: the captured TTL, not the forged one"
	assert_contains "$e" "MIDSHIM_DEVICE_ID=$MIDSHIM_DEVICE_ID" "$1: the captured device"
	assert_contains "$e" "LD_PRELOAD=$PRELOAD" "$1: the captured preload"
	note "ok: $1 passes exactly the captured settings"
}
child_env system
child_env posix_spawn
child_env execve

# The effect that matters: a child started with a forged setting before
# the revoke keeps acting after it. With the captured settings it dies at
# its next side effect like any gated process.
forged_child() { # what VAR VALUE
	rm -f "$M"
	expect_revoked "$1" exec "$PY" -c '
import os, sys
os.environ[sys.argv[1]] = sys.argv[2]
st = os.system("echo ready; read x < \"$GO\"; touch \"$M\"")
rc = os.waitstatus_to_exitcode(st)
sys.exit(128 - rc if rc < 0 else rc)' "$2" "$3"
	assert_absent "$M" "$1: the child acted after the revoke"
	note "ok: $1"
}
forged_child "system() after setenv MIDSHIM_MODE=audit" MIDSHIM_MODE audit
forged_child "system() after setenv MIDSHIM_POLICY=allow-all" MIDSHIM_POLICY "$OPEN"
