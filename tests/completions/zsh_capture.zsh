# Sourced into an interactive `zsh -f` by zsh_test.sh: compinit with completions/ first in fpath,
# and a compadd that prints the matches completion would offer, between two NUL lines.
PROMPT=
fpath=($REUSERUN_COMPLETIONS $fpath)
autoload -Uz compinit
compinit -u -D
bindkey '^I' complete-word
null-line() { echo -E - $'\0' }
compprefuncs=(null-line)
comppostfuncs=(null-line exit)
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
compadd() {
  # Calls that only ask (-O, -A, -D) go through; the others print their matches instead.
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
    builtin compadd "$@"
    return $?
  fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -l -- $__hits
}
echo capture-ready
