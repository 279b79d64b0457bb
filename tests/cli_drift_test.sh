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

# What an option's value is called: the same in --help ("  --port PORT") and the man page
# (.BI \-\-port " PORT").
help_values=$({ "$reuserun" --help; "$reuserun" ctl --help; } |
  grep -oE -- '^  --[a-z][a-z0-9-]+ [^ ]+' | sort -u)
man_values=$(grep -E '^\.BI \\-\\-' "$root/man/reuserun.1" |
  sed -E 's/\\-/-/g; s/^\.BI (--[a-z0-9-]+) " ([^"]+)".*/  \1 \2/' | sort -u)
while read -r value; do
  grep -qxF -- "  $value" <<<"$man_values" ||
    { echo "--help says '$value', the man page does not (.BI)"; failed=1; }
done <<<"$help_values"

# Every exit status of lib/core/exit_code.hpp (reuserun's kExit*, ctl's kCtl*) has its line in
# --help and in the man page. A prefix that matches nothing is a moved file, not a pass.
statuses() {
  local found
  found=$(grep -oE "$1[A-Za-z]+ = [0-9]+" "$root/lib/core/exit_code.hpp" | awk '{print $3}')
  [[ -n $found ]] || { echo "lib/core/exit_code.hpp: no $1* status found" >&2; echo 999; }
  echo "$found"
}
exit_lines() { sed -n '/^Exit status:/,/^$/p' | grep -oE '^  [0-9]+' | tr -d ' '; }
run_statuses=$("$reuserun" --help | exit_lines)
ctl_statuses=$("$reuserun" ctl --help | exit_lines)
man_statuses=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$root/man/reuserun.1" |
  grep -A1 -x '\.TP' | grep -oE '^\.B [0-9]+$' | awk '{print $2}')
for code in $(statuses kExit); do
  grep -qx "$code" <<<"$run_statuses" || { echo "--help: exit status $code missing"; failed=1; }
  grep -qx "$code" <<<"$man_statuses" || { echo "man page: exit status $code missing"; failed=1; }
done
for code in $(statuses kCtl); do
  grep -qx "$code" <<<"$ctl_statuses" ||
    { echo "ctl --help: exit status $code missing"; failed=1; }
done

[[ $failed -eq 0 ]] && echo "$(wc -w <<<"$help_options") options in step across --help, man page and 3 completions"
exit $failed
