#!/bin/sh
# Runs the real `liaison audit` on a scratch data directory.
# Usage: cli_audit_test.sh LIAISON AUDIT_FIXTURE [PYTHON3]
set -u
LIAISON=$1
FIX=$2
PY=${3:-}
W=$(mktemp -d "${TMPDIR:-/tmp}/liaison-cli-audit-XXXXXX")
HOLDER=
cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
D=$W/data
failures=0
passed=0

# expect CODE NAME COMMAND...: runs COMMAND, output in $W/out, checks the exit code.
expect() {
    want=$1
    name=$2
    shift 2
    "$@" >"$W/out" 2>"$W/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"
        cat "$W/out" "$W/err"
        failures=$((failures + 1))
        return 1
    fi
    passed=$((passed + 1))
    return 0
}

# contains NAME FILE TEXT
contains() {
    if grep -q -- "$3" "$2"; then
        passed=$((passed + 1))
    else
        echo "FAIL $1: '$3' not in output:"
        cat "$2"
        failures=$((failures + 1))
    fi
}

"$FIX" make "$D" 300 || { echo "FAIL fixture"; exit 1; }

expect 0 "help" "$LIAISON" audit --help && contains "help" "$W/out" "SYNOPSIS"
expect 0 "proof help" "$LIAISON" audit proof --help && contains "proof help" "$W/out" "EXIT STATUS"
expect 64 "no subcommand" "$LIAISON" audit
expect 64 "no --data" "$LIAISON" audit verify
expect 64 "bad number" "$LIAISON" audit proof --data "$D" --leaf x
expect 64 "no --leaf" "$LIAISON" audit proof --data "$D"
expect 66 "missing dir" "$LIAISON" audit verify --data "$W/nowhere"

expect 0 "verify" "$LIAISON" audit verify --data "$D" && contains "verify" "$W/out" "ok: 300 records and 5 signed tree heads"
expect 0 "verify json" "$LIAISON" audit verify --data "$D" --json && contains "verify json" "$W/out" '"ok": true'
expect 0 "verify key" "$LIAISON" audit verify --data "$D" --key "$D/broker.card"
expect 1 "verify other key" "$LIAISON" audit verify --data "$D" --key "$D/other.card"
expect 0 "head" "$LIAISON" audit head --data "$D" --json && contains "head" "$W/out" '"signature_valid": true'
contains "head size" "$W/out" '"tree_size": 300'

expect 0 "proof" "$LIAISON" audit proof --data "$D" --leaf 41 --size 200 --json
cp "$W/out" "$W/proof.json"
contains "proof keys" "$W/proof.json" '"leaf_index": 41'
contains "proof keys" "$W/proof.json" '"inclusion": \['
expect 0 "proof default size" "$LIAISON" audit proof --data "$D" --leaf 299 --json
cp "$W/out" "$W/proof2.json"
contains "proof signed head" "$W/proof2.json" '"signed_head"'
expect 65 "proof out of range" "$LIAISON" audit proof --data "$D" --leaf 300
expect 0 "consistency" "$LIAISON" audit consistency --data "$D" --from 77 --to 300 --json
cp "$W/out" "$W/cons.json"
contains "consistency keys" "$W/cons.json" '"first_root"'
expect 0 "consistency text" "$LIAISON" audit consistency --data "$D" --from 64
expect 65 "consistency out of range" "$LIAISON" audit consistency --data "$D" --from 301

if [ -n "$PY" ]; then
    expect 0 "independent inclusion check" "$PY" "$(dirname "$0")/rfc9162_check.py" proof "$W/proof.json"
    expect 0 "independent inclusion check 2" "$PY" "$(dirname "$0")/rfc9162_check.py" proof "$W/proof2.json"
    expect 0 "independent consistency check" "$PY" "$(dirname "$0")/rfc9162_check.py" consistency "$W/cons.json"
fi

# While a broker holds the directory, the offline commands still read it.
"$FIX" hold "$D" &
HOLDER=$!
i=0
while [ ! -e "$D/held" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
expect 0 "verify while held" "$LIAISON" audit verify --data "$D"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null
HOLDER=

# Damage record 123 through raw LMDB: verify fails and names it.
"$FIX" damage "$D" 123 || { echo "FAIL damage"; exit 1; }
expect 1 "verify damaged" "$LIAISON" audit verify --data "$D" && contains "damaged index" "$W/out" "does not match: 123"
expect 1 "verify damaged json" "$LIAISON" audit verify --data "$D" --json && contains "damaged json" "$W/out" '"index": 123'

echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
