# Sourced by fish_test.sh and zsh_test.sh, which define `complete_line LINE`: the words the shell
# offers for LINE, one a line. `expect LINE WANT...` records a failure for every WANT it does not
# offer; `finish SHELL` reports and exits.
failed=0
expect() {
  local line=$1 want got
  shift
  got=$(complete_line "$line")
  for want in "$@"; do
    grep -qxF -- "$want" <<<"$got" || {
      echo "$shell_name: '$line' should offer '$want', got: $(tr '\n' ' ' <<<"$got")"
      failed=1
    }
  done
}
finish() {
  [[ $failed -eq 0 ]] && echo "$shell_name completion: all cases pass"
  exit $failed
}
