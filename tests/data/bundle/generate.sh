#!/bin/sh
# Regenerates the evidence bundle test vector of this folder (see README.md)
# with the real brokers and the real liaison tool, on loopback, with the
# fixed keys of fed/.
#
#   tests/data/bundle/generate.sh [BUILD_DIR]
#
# BUILD_DIR holds the built binaries (default: build/).  The tests never run
# this: they read the committed files.  Every run makes a new vector (new
# message ids, nonces, times and signatures); commit all of it together.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bdir=${1:-$root/build}
liaison=$bdir/client/tool/liaison
broker=$bdir/broker/liaison-broker
for bin in "$liaison" "$broker"; do
    [ -x "$bin" ] || { echo "generate: $bin is missing; build first" >&2; exit 69; }
done

# The fixed keys: made once by deploy/key-ceremony.sh, kept in fed/ (the
# agencies and brokers this vector needs, and the whole roster).
if [ ! -e "$here/fed/roster" ]; then
    tmp=$(mktemp -d /tmp/liaison-bundle-keys-XXXXXX)
    LIAISON=$liaison "$root/deploy/key-ceremony.sh" "$tmp" >/dev/null
    mkdir -p "$here/fed/keys"
    cp "$tmp/roster" "$here/fed/roster"
    for k in usa-broker mex-broker usa-doj mex-fgr; do cp "$tmp/keys/$k.key" "$here/fed/keys/"; done
    rm -rf "$tmp"
fi

work=$(mktemp -d /tmp/liaison-bundle-gen-XXXXXX)
pids=""
cleanup() {
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/keys" "$work/state" "$work/logs"
chmod 700 "$work/keys"
cp "$here/fed/roster" "$work/roster"
cp "$here/fed/keys/"*.key "$work/keys/"
chmod 600 "$work/keys/"*.key
# The example brokers of USA and MEX on ports of their own (2xxxx), signing a
# tree head every second so that the export soon finds the evidence covered.
for n in usa mex; do
    cp "$root/deploy/examples/$n.policy.yaml" "$work/"
    sed -e 's|127\.0\.0\.1:\([0-9]\{4\}\)|127.0.0.1:2\1|g' \
        -e 's/^tree_head_interval_s: [0-9]*/tree_head_interval_s: 1 /' \
        "$root/deploy/examples/$n.broker.yaml" >"$work/$n.broker.yaml"
    (cd "$work" && "$broker" --config "$n.broker.yaml" --init >/dev/null 2>"logs/$n-init.log")
done
for n in usa mex; do
    (cd "$work" && exec "$broker" --config "$n.broker.yaml" 2>"logs/$n-broker.log") &
    pids="$pids $!"
done
sleep 1

as() {
    a=$1
    shift
    port=27001
    [ "$a" = mex-fgr ] && port=27003
    LIAISON_KEY=$work/keys/$a.key LIAISON_ROSTER=$work/roster \
        LIAISON_BROKER=tcp://127.0.0.1:$port LIAISON_STATE=$work/state/$a "$liaison" "$@"
}
retry() {
    for _ in $(seq 1 30); do
        if "$@" >"$work/out" 2>&1; then return 0; fi
        sleep 1
    done
    cat "$work/out" >&2
    return 1
}

case=MEX-FGR-2026-0099
as mex-fgr mlat submit --to USA/DOJ --case $case --treaty USA-MEX-MLAT-1987 \
    --offence DRUG-TRAFFICKING --summary 'proceeds laundered through account 4410-2231' \
    --assistance 'bank records of account 4410-2231' >/dev/null
retry as usa-doj mlat respond $case --status received --wait 1
as usa-doj mlat respond $case --status accepted --wait 1 >/dev/null
# Two small evidence files of fixed content; the first is cut into three
# chunks (two messages: --message-size holds two chunks per message).
awk 'BEGIN { print "date,amount,counterparty";
             for (i = 1; i <= 40; i++) printf "2026-01-%02d,%d.00,ACME-%03d\n", (i % 28) + 1, i * 137, i }' \
    >"$work/ledger.csv"
printf 'Account 4410-2231: 40 transfers, January 2026, certified by the custodian.\n' \
    >"$work/summary.txt"
as usa-doj mlat evidence $case --file "$work/ledger.csv" --file "$work/summary.txt" \
    --chunk-size 512 --message-size 1200 --custody collected --custody verified --wait 1 >/dev/null
as usa-doj mlat respond $case --status executed --wait 1 >/dev/null
# FGR receives everything into its casebook, then exports once a signed tree
# head of the MEX broker covers the evidence (75 until then).
for _ in $(seq 1 20); do
    as mex-fgr mlat status $case --wait 1 --json >"$work/status.json"
    grep -q '"executed"' "$work/status.json" && break
    sleep 1
done
for _ in $(seq 1 30); do
    rc=0
    as mex-fgr mlat export $case --out "$work/bundle" --audit-data "$work/data/mex" \
        >"$work/out" 2>&1 || rc=$?
    [ "$rc" -eq 75 ] || break
    sleep 1
done
[ "$rc" -eq 0 ] || { cat "$work/out" >&2; exit 1; }

# The vector: the bundle, the roster a court would hold, a tampered copy
# (one byte of files/ledger.csv changed), and what verification reports.
rm -rf "$here/good" "$here/tampered"
cp -r "$work/bundle" "$here/good"
cp "$work/roster" "$here/trusted.roster"
cp -r "$here/good" "$here/tampered"
off=100
byte=$(od -An -tu1 -j $off -N 1 "$here/tampered/files/ledger.csv" | tr -d ' ')
printf "\\$(printf '%03o' $(( byte ^ 1 )))" |
    dd of="$here/tampered/files/ledger.csv" bs=1 seek=$off conv=notrunc 2>/dev/null
find "$here/good" "$here/tampered" -type d -exec chmod 755 {} + 
find "$here/good" "$here/tampered" -type f -exec chmod 644 {} +
cd "$here"
"$liaison" mlat verify-bundle good --roster trusted.roster --json >good.expected.json
rc=0
"$liaison" mlat verify-bundle tampered --roster trusted.roster --json >tampered.expected.json 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || { echo "generate: the tampered copy did not fail (exit $rc)" >&2; exit 1; }
echo "generate: wrote good/, tampered/, trusted.roster and the expected reports in $here"
