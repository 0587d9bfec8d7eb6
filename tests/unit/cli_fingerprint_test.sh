#!/bin/sh
# liaison roster fingerprint: the card file's and the roster's copy give the same
# fingerprint, which is the SHA-256 of the card's text (docs/protocol.md 5.2);
# an address without a card is refused.
#   cli_fingerprint_test.sh LIAISON
set -eu
liaison=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "cli_fingerprint_test: $*" >&2; exit 1; }

"$liaison" keygen CAN/RCMP --key "$tmp/rcmp.key" --card "$tmp/rcmp.card" >/dev/null
"$liaison" keygen CAN/CBSA --key "$tmp/cbsa.key" --card "$tmp/cbsa.card" >/dev/null
"$liaison" roster add "$tmp/roster" "$tmp/rcmp.card" --accepts '*' >/dev/null
"$liaison" roster add "$tmp/roster" "$tmp/cbsa.card" --accepts 'traveldoc.*' >/dev/null

want=$(sha256sum "$tmp/rcmp.card" | cut -c1-64)
card=$("$liaison" roster fingerprint "$tmp/rcmp.card")
echo "$card"
got=$(echo "$card" | sed 's/^CAN\/RCMP *SHA256//' | tr -d ' ')
[ "$got" = "$want" ] || fail "card file: $got, not the SHA-256 of the card, $want"
in_roster=$("$liaison" roster fingerprint "$tmp/roster" CAN/RCMP)
[ "$in_roster" = "$card" ] || fail "the roster's copy prints '$in_roster', the card '$card'"
[ "$("$liaison" roster fingerprint "$tmp/roster" | wc -l)" -eq 2 ] || fail "not one line a card"
status=0
"$liaison" roster fingerprint "$tmp/roster" CAN/FINTRAC 2>/dev/null || status=$?
[ "$status" -eq 65 ] || fail "an address without a card gave exit $status, not 65"
echo "cli_fingerprint_test: card and roster agree, $want"
