#!/usr/bin/env bash
# The CLI is a contract: every long option in `reuserun --help` appears in the man page and in
# the bash, zsh and fish completions, and none of them names an option that no longer exists.
set -euo pipefail
reuserun=$1
root=$2

long_options() { grep -oE -- '--[a-z][a-z0-9-]+' | sort -u; }
# Run mode and `reuserun ctl` together: the man page and completions cover both.
help_options=$({ "$reuserun" --help; "$reuserun" ctl --help; } | long_options)
failed=0

compare() {  # $1: file name, stdin: the long options that file names
  local file=$1 found option
  found=$(long_options)
  for option in $help_options; do
    grep -qx -- "$option" <<<"$found" || { echo "$file: missing $option"; failed=1; }
  done
  for option in $found; do
    grep -qx -- "$option" <<<"$help_options" ||
      { echo "$file: names $option, which --help does not have"; failed=1; }
  done
}

# Each file spells options its own way: man as \-\-name, zsh as '--name[', fish as "-l name".
# (Fed by process substitution, not a pipe: compare must run in this shell to set $failed.)
# Example blocks (.EX ... .EE) show other programs' options: left out.
compare man/reuserun.1 < <(sed '/^\.EX/,/^\.EE/d; s/\\-/-/g' "$root/man/reuserun.1")
compare completions/reuserun <"$root/completions/reuserun"
compare completions/_reuserun < <(grep -oE -- '--[a-z][a-z0-9-]+\[' "$root/completions/_reuserun")
compare completions/reuserun.fish < <(grep -E '^complete ' "$root/completions/reuserun.fish" |
  grep -oE -- ' -l [a-z][a-z0-9-]+' | sed 's/^ -l /--/')

[[ $failed -eq 0 ]] && echo "$(wc -w <<<"$help_options") options in step across --help, man page and 3 completions"
exit $failed
