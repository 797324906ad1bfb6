#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash completions (contrib/bash-completion/midshim) complete what the
# tools accept: commands, options, option values, and after `midshim run
# --` a command name. Each case sources the file in a fresh bash, sets
# COMP_WORDS as bash would and checks COMPREPLY; every word offered for a
# tool's commands must also be one its --help names.
. "$(dirname "$0")/../lib.sh"
C=$TOP/contrib/bash-completion/midshim
bash -n "$C" || fail "completion file does not parse"

# complete FUNC CUR WORD...: what FUNC offers for the last word CUR.
complete_words() {
	local fn=$1
	shift
	bash --norc --noprofile -c '
		. "$1"; shift; fn=$1; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		"$fn"; printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$C" "$fn" "$@"
}

expect() { # what got want...
	local what=$1 got=$2 w
	shift 2
	for w in "$@"; do
		grep -qxF -- "$w" <<<"$got" || fail "$what: '$w' not offered; got: $(echo $got)"
	done
}

got=$(complete_words _midshim midshim "")
expect "midshim commands" "$got" run adopt policy explain
[ "$(wc -l <<<"$got")" -eq 6 ] || fail "midshim commands: $(echo $got)"
expect "run options" "$(complete_words _midshim midshim run --a)" --audit --audit-log --allow-static
expect "--on-deny values" "$(complete_words _midshim midshim run --on-deny "")" kill abort errno
expect "policy" "$(complete_words _midshim midshim policy "")" check suggest
expect "suggest options" "$(complete_words _midshim midshim policy suggest --)" --action --fold
expect "explain kinds" "$(complete_words _midshim midshim explain "")" exec connect send write fs
expect "explain fs ops" "$(complete_words _midshim midshim explain fs de)" delete
got=$(complete_words _midshim midshim run --device d:e:v:1 -- bas)
expect "the gated command" "$got" bash
got=$(cd "$T" && touch policy-a.json && complete_words _midshim midshim run --policy poli)
expect "--policy takes a file" "$got" policy-a.json

got=$(complete_words _midctl midctl "")
expect "midctl commands" "$got" revoke restore status list audit console rotate-key --url
expect "org" "$(complete_words _midctl midctl org "")" disable enable
expect "list --state" "$(complete_words _midctl midctl list --state "")" active revoked removed
expect "audit options" "$(complete_words _midctl midctl --url u audit --f)" --follow
expect "rotate-key" "$(complete_words _midctl midctl rotate-key "")" org admin

expect "midd" "$(complete_words _midd midd "")" init --db --listen --socket
expect "midd init" "$(complete_words _midd midd init --)" --write-keys --key-group
got=$(complete_words _midd midd init --write-keys --key-group "")
[ -n "$got" ] || fail "--key-group offers no group"

# No command is offered that the tool does not know.
for w in $(complete_words _midctl midctl "" | grep -v '^-'); do
	"$BIN/midctl" help "$w" >/dev/null 2>&1 || fail "midctl offers '$w', which midctl help does not know"
done
for w in $(complete_words _midshim midshim "" | grep -v '^-'); do
	"$BIN/midshim" "$w" --help >/dev/null 2>&1 || fail "midshim offers '$w', which has no --help"
done
note "ok: bash completion for midshim, midctl and midd"
