#!/usr/bin/env bash
# Drives completions/reuserun.fish in fish with `complete -C`, as fish's own tests do: options,
# their values, `ctl`, then the child command and its own completion.
# $1: source dir, $2: directory of the reuserun binary (put on PATH, as installed).
set -uo pipefail
src=$1
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
bin=$(cd "$2" && pwd)  # fish ignores relative PATH entries
shell_name=fish
source "$(dirname "$0")/expect.sh"
complete_line() {
  HOME=$home XDG_CONFIG_HOME=$home PATH=$bin:$PATH fish -c "
    source '$src/completions/reuserun.fish'
    complete -c mytool -x -a 'alpha beta'
    complete -C '$1'" 2>&1 | cut -f1
}

expect 'reuserun --rea' --ready --ready-timeout --ready-interval --ready-host
expect 'reuserun --log-level ' trace debug info warn error off
expect 'reuserun --protocol ' systemd einhorn server-starter nginx
expect 'reuserun ct' ctl
expect 'reuserun ctl ' restart status upgrade
expect 'reuserun --reexec' --reexec-as
expect 'reuserun --reexec-as /opt/reuserun --port 8080 mytool al' alpha
expect 'reuserun ctl --j' --json
expect 'reuserun --port 8080 -- reuseru' reuserun
expect 'reuserun --port 8080 -- mytool ' alpha beta
expect 'reuserun --port 8080 mytool al' alpha
finish
