#!/usr/bin/env bash
# Drives completions/reuserun in bash with bash-completion's own functions, as an interactive
# shell would: options, their values, `ctl`, then the child command and its own completion.
# $1: source dir, $2: directory of the reuserun binary (put on PATH, as installed).
set -uo pipefail
src=$1
PATH=$2:$PATH
source /usr/share/bash-completion/bash_completion
source "$src/completions/reuserun"
complete -W "alpha beta" mytool  # a child command with a completion of its own
compopt() { :; }  # only meaningful inside a real completion; harmless to skip here

failed=0
# expect WORDS... '=>' EXPECTED...: completing the last word gives (at least) EXPECTED.
expect() {
  local words=() expected=()
  while [[ $1 != '=>' ]]; do words+=("$1"); shift; done
  shift
  expected=("$@")
  COMP_WORDS=("${words[@]}")
  COMP_CWORD=$((${#words[@]} - 1))
  COMP_LINE="${words[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _reuserun reuserun "${words[-1]}" "${words[-2]}"
  local want
  for want in "${expected[@]}"; do
    # Not `printf | grep -q`: grep leaves at the first match, printf may then die of SIGPIPE,
    # and pipefail turns a found word into a failure (seen once in CI).
    if ! grep -qxF -- "$want" <<<"$(printf '%s\n' "${COMPREPLY[@]}")"; then
      echo "bash: '${words[*]}' should offer '$want', got: ${COMPREPLY[*]}"
      failed=1
    fi
  done
}

expect reuserun --rea '=>' --ready --ready-timeout --ready-interval --ready-host
expect reuserun --log-level "" '=>' trace debug info warn error off
expect reuserun --ready "" '=>' auto notify accept
expect reuserun --protocol "" '=>' systemd einhorn server-starter nginx
expect reuserun --stop-signal "" '=>' TERM INT
expect reuserun ct '=>' ctl
expect reuserun ctl "" '=>' restart status upgrade
expect reuserun --reexec '=>' --reexec-as
expect reuserun --reexec-as /opt/reuserun --port 8080 mytool al '=>' alpha
expect reuserun ctl --j '=>' --json
expect reuserun --port 8080 -- reuseru '=>' reuserun
expect reuserun --port 8080 -- mytool "" '=>' alpha beta
expect reuserun --port 8080 mytool al '=>' alpha
[[ $failed -eq 0 ]] && echo "bash completion: all cases pass"
exit $failed
