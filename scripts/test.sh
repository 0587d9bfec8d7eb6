#!/bin/sh
# Installs what is missing (Debian 12), builds Liaison with warnings as
# errors, and runs the whole test suite.
#   scripts/test.sh              normal build in build/
#   scripts/test.sh --sanitize   AddressSanitizer + UndefinedBehaviorSanitizer, in build-sanitize/
set -eu
cd "$(dirname "$0")/.."

sanitize=OFF
dir=build
for arg in "$@"; do
    case "$arg" in
    --sanitize) sanitize=ON; dir=build-sanitize ;;
    -h | --help)
        sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (see --help)" >&2; exit 64 ;;
    esac
done

scripts/deps.sh

cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLIAISON_WERROR=ON -DLIAISON_SANITIZE="$sanitize"
cmake --build "$dir"
# Under the sanitizers demo.stories is left out: browser.console runs the same demo (all its
# stories, which must succeed) before it drives the consoles, so the sanitized binaries play
# every story once, not twice.
if [ "$sanitize" = ON ]; then
    ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" -E '^demo\.stories$'
else
    ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
fi
