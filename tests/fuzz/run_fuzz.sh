#!/usr/bin/env bash
# Runs the parsers' fuzzer (built by tests/fuzz/CMakeLists.txt) over the checked-in corpus.
#   run_fuzz.sh FUZZER SEEDS_DIR
# By default, the test: every seed once, then FUZZ_RUNS (default 500000, about 8 s) inputs mutated
# from a fixed seed (FUZZ_SEED, default 1), so the same commit always gets the same verdict. A
# fixed seed alone is not enough: libFuzzer feeds the values its target compares back into its
# mutations, pointers included, so address randomization is turned off for the run (setarch -R),
# and so is the time-based corpus reload.
# On demand, random and long: FUZZ_SECONDS=600 run_fuzz.sh FUZZER SEEDS_DIR (a random seed; what
# it finds is kept in the work folder it prints, and belongs in SEEDS_DIR with its fix).
set -euo pipefail
fuzzer=$1
seeds=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/reuserun-fuzz.XXXXXX")
# A fresh corpus each run: what an earlier run added must not change this one's verdict.
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
if [[ -n ${FUZZ_SECONDS:-} ]]; then
  mode=(-max_total_time="$FUZZ_SECONDS")
  fixed=()
  echo "random fuzzing for ${FUZZ_SECONDS}s; corpus and findings in $work"
else
  mode=(-seed="${FUZZ_SEED:-1}" -runs="${FUZZ_RUNS:-500000}" -reload=0)
  if setarch -R true 2>/dev/null; then
    fixed=(setarch -R)
  else
    fixed=()
    echo "setarch -R is refused here: addresses stay random, and so may this run's path"
  fi
fi
status=0
"${fixed[@]}" "$fuzzer" "${mode[@]}" -print_final_stats=1 -artifact_prefix="$work/" \
  "$work/corpus" >"$work/log" 2>&1 || status=$?
grep -E "^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|==|SUMMARY|.*ERROR)" \
  "$work/log" || true
# libFuzzer leaves crash-*, leak-*, timeout-* or oom-* files when it finds something.
shopt -s nullglob
findings=("$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*)
for finding in "${findings[@]}"; do
  echo "finding: $finding: $(od -An -c "$finding" | tr -s ' ' | head -c 200)"
done
if ((${#findings[@]} > 0 || status != 0)); then
  tail -n 30 "$work/log"
  echo "kept in $work: add the finding to tests/fuzz/seeds with its fix"
  exit 1
fi
[[ -n ${FUZZ_SECONDS:-} ]] || rm -rf "$work"
