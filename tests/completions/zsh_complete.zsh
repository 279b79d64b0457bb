# zsh -f zsh_complete.zsh 'COMMAND LINE': the matches zsh offers for it, one a line. The line is
# typed into an interactive zsh in a pseudo-terminal (zpty), followed by TAB.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "source ${0:A:h}/zsh_capture.zsh"
local line
repeat 100; do zpty -r z line; [[ $line == *capture-ready* ]] && break; done
zpty -w z "$1"$'\t'
integer nul=0
while zpty -r z line; do
  if [[ $line == *$'\0'* ]]; then
    (( ++nul == 2 )) && break
    continue
  fi
  line=${line%$'\r'}
  (( nul == 1 )) && [[ -n $line ]] && print -r -- $line
done
zpty -d z
