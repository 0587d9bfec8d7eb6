#!/bin/sh
# The web console's load times with a full inbox (not a test: it prints figures).
#
#   bench/console_load.sh [--build-dir DIR] [--no-build] [--messages N]
#
# Runs the demo with --keep (fixed ports: nothing else may use them), fills
# USA/FBI's inbox with N messages (default 10000) from CAN/RCMP with
# bench_fill_inbox, waits until USA/FBI's console has drained them into its
# casebook, then opens each page of the console in headless Chromium, cold
# (a new browser) and warm (the same page again), and prints a FIGURES line per
# page.  The demo is stopped at the end.  DIR (default build-bench/) is
# configured with LIAISON_BENCH=ON and built unless --no-build.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bdir=$root/build-bench
build=true
n=10000
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) bdir=${2:?--build-dir needs a directory}; shift ;;
    --no-build) build=false ;;
    --messages) n=${2:?--messages needs a number}; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "console_load: unknown option '$1' (see --help)" >&2; exit 64 ;;
    esac
    shift
done
case "$bdir" in /*) ;; *) bdir=$(pwd)/$bdir ;; esac
if $build; then
    cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLIAISON_BENCH=ON >/dev/null
    cmake --build "$bdir" --target liaison liaison-broker bench_fill_inbox >/dev/null
fi

scratch=$(mktemp -d /tmp/liaison-console-load-XXXXXX)
demo=$scratch/demo
trap '"$root/deploy/demo.sh" --stop "$demo" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
echo "console_load: the demo (deploy/demo.sh --keep), log in $scratch/demo.log"
DEMO_DIR=$demo "$root/deploy/demo.sh" --keep --no-build --build-dir "$bdir" >"$scratch/demo.log" 2>&1 ||
    { tail -n 40 "$scratch/demo.log"; echo "console_load: the demo failed" >&2; exit 1; }

token=$(cat "$demo/console/usa-fbi.token")
total() {
    python3 -c '
import json, sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:8081/api/inbox?limit=1",
                             headers={"Authorization": "Bearer " + sys.argv[1]})
print(json.load(urllib.request.urlopen(req, timeout=30))["total"])' "$token"
}
before=$(total)
echo "console_load: USA/FBI's inbox holds $before messages; sending $n from CAN/RCMP"
"$bdir/bench/bench_fill_inbox" "$demo/keys/can-rcmp.key" "$demo/roster" tcp://127.0.0.1:7002 \
    USA/FBI "$n"
t0=$(date +%s)
while :; do
    now=$(total)
    [ "$now" -ge $((before + n)) ] && break
    if [ $(($(date +%s) - t0)) -gt 900 ]; then
        echo "console_load: after 900 s the console holds $now of $((before + n))" >&2
        exit 1
    fi
    sleep 2
done
echo "FIGURES console drain: $n messages stored by the console's drain within $(($(date +%s) - t0)) s of the last send"

python3 "$root/bench/console_load.py" "$demo" "$scratch/shots"
