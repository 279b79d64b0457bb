#!/usr/bin/env bash
# Builds tests/fuzz/parsers_fuzz.cpp with clang's libFuzzer (plus ASan and UBSan) and runs it for
# a few seconds from the seed corpus: a short run in every test command, a longer one on demand
# (FUZZ_SECONDS=600 tests/fuzz/run_fuzz.sh SRC_DIR WORK_DIR).
set -euo pipefail
src=$1
work=$2
seconds=${FUZZ_SECONDS:-10}
rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
mkdir -p "$work/corpus"
cp "$src/tests/fuzz/seeds/"* "$work/corpus/"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -DSPDLOG_HEADER_ONLY -DSPDLOG_FMT_EXTERNAL -DFMT_HEADER_ONLY -I "$src/lib" \
  "$src/tests/fuzz/parsers_fuzz.cpp" "$src/lib/address.cpp" "$src/lib/duration.cpp" \
  "$src/lib/signal_name.cpp" "$src/lib/handover.cpp" "$src/lib/supervisor.cpp" "$src/lib/supervisor_rollout.cpp" \
  -o "$work/parsers_fuzz"
cd "$work"
./parsers_fuzz -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/" corpus \
  2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==|SUMMARY|.*ERROR)" || true
# libFuzzer leaves crash-*, leak-*, timeout-* or oom-* files when it finds something.
shopt -s nullglob
findings=("$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*)
if ((${#findings[@]} > 0)); then
  for finding in "${findings[@]}"; do
    echo "finding: $finding: $(od -An -c "$finding" | tr -s ' ' | head -c 200)"
  done
  exit 1
fi
