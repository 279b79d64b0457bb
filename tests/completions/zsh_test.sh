#!/usr/bin/env bash
# Drives completions/_reuserun in a real zsh (-f, compinit, in a pseudo-terminal): options, their
# values, `ctl`, then the child command and its own completion.
# $1: source dir, $2: directory of the reuserun binary (put on PATH, as installed).
set -uo pipefail
src=$1
bin=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
shell_name=zsh
source "$here/expect.sh"
complete_line() {
  PATH=$bin:$PATH REUSERUN_COMPLETIONS=$src/completions timeout 20 \
    zsh -f "$here/zsh_complete.zsh" "$1" 2>&1 | tr -d '\r' | sed 's/[[:space:]]*$//'
}

expect 'reuserun --rea' --ready --ready-timeout --ready-interval --ready-host
expect 'reuserun --log-level ' trace debug info warn error off
expect 'reuserun --protocol ' systemd einhorn server-starter nginx
expect 'reuserun ctl ' restart status upgrade
expect 'reuserun --reexec' --reexec-as
expect 'reuserun ctl --j' --json
expect 'reuserun --port 8080 -- reuseru' reuserun
expect 'reuserun --port 8080 -- ls --colo' --color
finish
