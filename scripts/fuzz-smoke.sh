#!/bin/sh
# Builds the libFuzzer targets with clang and runs each on a copy of its
# seed corpus for a short smoke run.
#   scripts/fuzz-smoke.sh [SECONDS]    (default 30 per target)
set -eu
cd "$(dirname "$0")/.."
seconds="${1:-30}"

scripts/deps.sh
CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLIAISON_WERROR=ON -DLIAISON_FUZZ=ON
cmake --build build-fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for fuzzer in build-fuzz/tests/fuzz/*_fuzzer; do
    name=$(basename "$fuzzer" _fuzzer)
    mkdir -p "$work/$name"
    cp tests/fuzz/corpus/"$name"/* "$work/$name"/
    echo "fuzz-smoke: $name for ${seconds}s"
    if ! "$fuzzer" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
            -artifact_prefix="$work/$name-" "$work/$name" >"$work/$name.log" 2>&1; then
        tail -n 40 "$work/$name.log"
        for crash in "$work/$name"-*; do
            [ -e "$crash" ] && echo "fuzz-smoke: $name crashed on $crash" && od -A x -t x1z "$crash" | head -20
        done
        status=1
    else
        grep -E "stat::number_of_executed_units|Done" "$work/$name.log" | tail -n 2
    fi
done
exit $status
