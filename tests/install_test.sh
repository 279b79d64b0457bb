#!/usr/bin/env bash
# `cmake --install` into a DESTDIR: the binary, the man page and the three completions land where
# GNUInstallDirs and the shells look for them, the installed binary runs, and man(1) renders the
# installed page. $1: build dir.
set -euo pipefail
build=$1
destdir=$(mktemp -d)
trap 'rm -rf "$destdir"' EXIT
DESTDIR=$destdir cmake --install "$build" --prefix /usr/local >/dev/null
root=$destdir/usr/local
failed=0
for file in bin/reuserun share/man/man1/reuserun.1 share/bash-completion/completions/reuserun \
  share/zsh/vendor-completions/_reuserun share/fish/vendor_completions.d/reuserun.fish; do
  [[ -f $root/$file ]] || { echo "missing: $root/$file"; failed=1; }
done
[[ -x $root/bin/reuserun ]] || { echo "not executable: bin/reuserun"; failed=1; }
grep -q '^reuserun ' <<<"$("$root/bin/reuserun" --version)" ||
  { echo "installed binary does not run"; failed=1; }
page=$(MANWIDTH=80 MANPAGER=cat man -l "$root/share/man/man1/reuserun.1" 2>&1)
for section in NAME SYNOPSIS DESCRIPTION OPTIONS CONTROL "EXIT STATUS" EXAMPLES; do
  grep -q "^$section" <<<"$page" || { echo "man -l: no $section section"; failed=1; }
done
grep -q -- '--drain-timeout' <<<"$page" || { echo "man -l: options not rendered"; failed=1; }
[[ $failed -eq 0 ]] && echo "install: $(cd "$destdir" && find . -type f | wc -l) files in place, man -l renders"
exit $failed
