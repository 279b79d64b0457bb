#!/usr/bin/env bash
# Drives completions/reuserun.fish in fish with `complete -C`, as fish's own tests do: options,
# their values, `ctl`, then the child command and its own completion.
# $1: source dir, $2: directory of the reuserun binary (put on PATH, as installed).
set -uo pipefail
src=$1
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
failed=0
bin=$(cd "$2" && pwd)  # fish ignores relative PATH entries
# expect 'COMMAND LINE' EXPECTED...: completing it offers (at least) each EXPECTED.
expect() {
  local line=$1 want got
  shift
  got=$(HOME=$home XDG_CONFIG_HOME=$home PATH=$bin:$PATH fish -c "
    source '$src/completions/reuserun.fish'
    complete -c mytool -x -a 'alpha beta'
    complete -C '$line'" 2>&1 | cut -f1)
  for want in "$@"; do
    grep -qxF -- "$want" <<<"$got" || {
      echo "fish: '$line' should offer '$want', got: $(tr '\n' ' ' <<<"$got")"
      failed=1
    }
  done
}

expect 'reuserun --rea' --ready --ready-timeout --ready-interval --ready-host
expect 'reuserun --log-level ' trace debug info warn error off
expect 'reuserun --protocol ' systemd einhorn server-starter nginx
expect 'reuserun ct' ctl
expect 'reuserun ctl ' restart status
expect 'reuserun ctl --j' --json
expect 'reuserun --port 8080 -- reuseru' reuserun
expect 'reuserun --port 8080 -- mytool ' alpha beta
expect 'reuserun --port 8080 mytool al' alpha
[[ $failed -eq 0 ]] && echo "fish completion: all cases pass"
exit $failed
