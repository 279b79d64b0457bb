#!/usr/bin/env bash
# The README is for users first (issue 27, finding 8), and its benchmark numbers are the latest
# run's: a newcomer met two commands before the title, Usage after ~170 lines of benchmark tables
# that contradicted the text, and the code's layout on the front page. Each check prints one line
# naming what is wrong.
#   tests/docs_test.sh SOURCE_DIR
set -euo pipefail
root=$1
readme=$root/README.md
failed=0
fail() {
  echo "docs: $*"
  failed=1
}

# The title first, then (after one sentence) the two commands that work on a fresh Debian 12.
[[ $(head -n 1 "$readme") == "# reuserun" ]] || fail "README.md: line 1 is not '# reuserun'"
commands=$(awk '/^```/ { if (open) exit; open = 1; next } open' "$readme" |
  sed 's/#.*//; s/[[:space:]]*$//' | grep -v '^$' || true)
[[ $commands == $'scripts/demo\nscripts/test' ]] ||
  fail "README.md: the first code block is not exactly the commands scripts/demo and scripts/test"

# A user reaches how to run it on the first screens, not after the benchmark.
heading=$(grep -nE '^## (Quick start|Usage)$' "$readme" | head -n 1 | cut -d: -f1)
[[ -n $heading && $heading -le 80 ]] ||
  fail "README.md: no '## Quick start' or '## Usage' within the first 80 lines (${heading:-none})"
for section in "Will my server work?" "Limits"; do
  grep -qxF "## $section" "$readme" || fail "README.md: no '## $section' section"
done

# The code's layout is for contributors; the benchmark tables live in bench/README.md.
! grep -q '^## Layout' "$readme" ||
  fail "README.md: has a '## Layout' section (it belongs in docs/CONTRIBUTING.md)"
grep -q '^## Layout' "$root/docs/CONTRIBUTING.md" ||
  fail "docs/CONTRIBUTING.md: no '## Layout' section"
# A benchmark row starts with a contender (restart_bench) or is a table headed "contender" or
# "scenario" (restart_bench, workers_bench, upgrade_bench).
first_cell='reuserun[:-][^ |]+|naive|reuseport|server-starter|direct|contender|scenario'
rows=$(grep -cE "^\| ($first_cell) \|" "$readme" || true)
[[ $rows -eq 0 ]] || fail "README.md: $rows benchmark table lines (they belong in bench/README.md)"
if [[ -f $root/bench/README.md ]]; then
  grep -q '^| contender |' "$root/bench/README.md" || fail "bench/README.md: no benchmark table"
else
  fail "bench/README.md: missing (the benchmark tables)"
fi
! grep -qs 'misses a target' "$readme" "$root/bench/README.md" ||
  fail "a '(misses a target)' label: say which target is missed, in words"

# Every number the README's benchmark summary gives is in the latest run's results: a number with
# a unit (ms, KiB, requests, resets, failed, timeouts, restarts) or a decimal point must equal a
# value of bench/results.json to the precision it is written with; the run's date must match.
results=$root/bench/results.json
summary=$(awk '/^## Benchmark/ { open = 1; next } /^## / { open = 0 } open' "$readme")
if [[ -z $summary ]]; then
  fail "README.md: no '## Benchmark' section"
else
  date=$(grep -oE '"date": "[0-9-]+"' "$results" | grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}')
  grep -q "Latest run: $date" <<<"$summary" ||
    fail "README.md: the benchmark summary is not of the latest run (bench/results.json: $date)"
  units='ms|KiB|requests?|resets?|failed|timeouts?|restarts?'
  numbers=$({
    grep -oE "[0-9]+(\.[0-9]+)? ?($units)\b" <<<"$summary" | grep -oE '^[0-9.]+'
    grep -oE '[0-9]+\.[0-9]+' <<<"$summary"
  } | sort -u)
  missing=$(awk 'NR == FNR { value[NR] = $0 + 0; count = NR; next }
    {
      decimals = index($0, ".") ? length($0) - index($0, ".") : 0
      tolerance = 0.5 / 10 ^ decimals + 1e-9
      for (i = 1; i <= count; ++i) {
        difference = value[i] - $0
        if (difference < 0) difference = -difference
        if (difference <= tolerance) next
      }
      print
    }' <(grep -oE '[0-9]+(\.[0-9]+)?' "$results") <(printf '%s\n' "$numbers") | tr '\n' ' ')
  [[ -z $missing ]] ||
    fail "README.md: benchmark numbers not in bench/results.json: ${missing% }"
  # Nearly any small number is close to some value of the run, so the headline numbers are also
  # computed from it, printed as restart_bench prints them, and must be in the summary: auto's
  # switch (median, max; new connections, ready at once), the p99 ratio, reuserun's peak RSS.
  auto=$(grep -F '"scenario": "new-conn, ready at once", "contender": "reuserun:auto"' "$results")
  field() { grep -oE "\"$1\": [0-9.]+" "$results" | grep -oE '[0-9.]+$'; }
  switch='s/.*"switch_ms": \{"median": ([0-9.]+), "max": ([0-9.]+)\}.*/\1 \2/p'
  headline="$(sed -nE "$switch" <<<"$auto")"
  headline+=" $(field p99_ratio_reuserun_over_direct) $(field reuserun_peak_rss_kib)"
  for value in $headline; do
    shown=$(awk -v v="$value" 'BEGIN { printf(v < 10 ? "%.2f" : "%.0f", v) }')
    grep -qE "(^|[^0-9.])$shown([^0-9]|$)" <<<"$summary" ||
      fail "README.md: the benchmark summary does not give $shown (bench/results.json: $value)"
  done
fi

# The man page says the same: either way of giving a socket, and what ctl status --json holds.
synopsis=$(mandoc -T ascii "$root/man/reuserun.1" | sed 's/.\x08//g' |
  awk '/^SYNOPSIS/ { open = 1; next } /^[A-Z]/ { open = 0 } open' | tr -s ' \n' '  ')
grep -qE -- '--port PORT \| --listen SPEC' <<<"$synopsis" ||
  fail "man/reuserun.1: the SYNOPSIS does not show --port PORT | --listen SPEC"
grep -q 'ready_by' "$root/man/reuserun.1" ||
  fail "man/reuserun.1: the JSON of ctl status does not document ready_by"

[[ $failed -eq 0 ]] && echo "README, bench/README.md, CONTRIBUTING and the man page in shape;" \
  "$(wc -w <<<"$numbers") benchmark numbers of the README found in bench/results.json"
exit $failed
