#!/bin/sh
# The long soak of the fault suite: every scenario of tests/faults/fault_driver
# for ROUNDS rounds each (default 50), one after the other, with a summary of
# the figures each printed (docs/operations.md, "Fault testing").
#   scripts/soak.sh [ROUNDS] [--build-dir DIR] [--rate R] [--seed S] [--only SCENARIO]...
#   scripts/soak.sh --help
# Exit status: 0 if every scenario passed (or was skipped), 1 if one failed.
# disk-full needs root (it mounts a tmpfs) and is skipped without it;
# power-loss needs the shim built beside the driver.
set -u
cd "$(dirname "$0")/.."

rounds=50
dir=build
rate=40
seed=""
only=""
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    --build-dir) dir=$2; shift ;;
    --rate) rate=$2; shift ;;
    --seed) seed=$2; shift ;;
    --only) only="$only $2"; shift ;;
    [0-9]*) rounds=$1 ;;
    *) echo "soak.sh: unknown argument '$1' (see --help)" >&2; exit 64 ;;
    esac
    shift
done

driver="$dir/tests/faults/fault_driver"
if [ ! -x "$driver" ]; then
    echo "soak.sh: $driver is not built; build first (cmake --build $dir)" >&2
    exit 66
fi
LIAISON_TEST_DATA="$PWD/tests/data"
LIAISON_BROKER_BIN="$PWD/$dir/broker/liaison-broker"
LIAISON_TOOL_BIN="$PWD/$dir/client/tool/liaison"
LIAISON_POWERLOSS_SHIM="$PWD/$dir/tests/faults/liaison_powerloss_shim.so"
export LIAISON_TEST_DATA LIAISON_BROKER_BIN LIAISON_TOOL_BIN LIAISON_POWERLOSS_SHIM

scenarios=${only:-"partner-restart partner-pause sender-broker-kill receiver-broker-kill mixed disk-full power-loss truncated-file missing-file"}
logdir=$(mktemp -d "${TMPDIR:-/tmp}/liaison-soak-XXXXXX")
failed=0
summary=""
for s in $scenarios; do
    log="$logdir/$s.log"
    echo "== $s: $rounds rounds (log: $log)"
    if [ -n "$seed" ]; then
        "$driver" --scenario "$s" --rounds "$rounds" --rate "$rate" --seed "$seed" >"$log" 2>&1
    else
        "$driver" --scenario "$s" --rounds "$rounds" --rate "$rate" >"$log" 2>&1
    fi
    rc=$?
    case $rc in
    0) verdict=PASS ;;
    77) verdict=SKIP ;;
    *) verdict="FAIL (exit $rc)"; failed=1 ;;
    esac
    figures=$(grep '^FIGURES' "$log" | tail -1)
    grep -E '^(VIOLATION|SKIP|RESULT)' "$log" | head -20
    summary="$summary
$s: $verdict ${figures#FIGURES }"
done
echo
echo "== summary ($rounds rounds a scenario; logs in $logdir)$summary"
exit $failed
