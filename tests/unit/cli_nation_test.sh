#!/bin/sh
# liaison keygen --nation and the signed sections of the roster
# (docs/protocol.md 5.5): sign, verify with the nation card, a changed byte
# caught and named, add --sign raises the serial, a change without --sign
# refused, import of a partner's section with and without its card, export.
#   cli_nation_test.sh LIAISON
set -eu
liaison=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "cli_nation_test: $*" >&2; exit 1; }
# expect STATUS CMD...: runs CMD, output in $tmp/out (stdout and stderr).
expect() {
    want=$1
    shift
    status=0
    "$@" >"$tmp/out" 2>&1 || status=$?
    cat "$tmp/out"
    [ "$status" -eq "$want" ] || fail "'$*' exited $status, not $want"
}
has() { grep -q -- "$1" "$tmp/out" || fail "output lacks '$1'"; }

# Nation keys and their cards; the key file is 0600, the card fingerprints.
expect 0 "$liaison" keygen USA --nation --key "$tmp/usa.nation-key" --card "$tmp/usa.nation-card"
expect 0 "$liaison" keygen CAN --nation --key "$tmp/can.nation-key" --card "$tmp/can.nation-card"
[ "$(stat -c %a "$tmp/usa.nation-key")" = 600 ] || fail "the nation key is not mode 0600"
expect 73 "$liaison" keygen USA --nation --key "$tmp/usa.nation-key"
expect 64 "$liaison" keygen USA/FBI --nation --key "$tmp/x.nation-key"
expect 0 "$liaison" roster fingerprint "$tmp/usa.nation-card"
want=$(sha256sum "$tmp/usa.nation-card" | cut -c1-64)
got=$(sed 's/^nation USA *SHA256//' "$tmp/out" | tr -d ' ')
[ "$got" = "$want" ] || fail "nation card fingerprint $got is not its SHA-256 $want"

# USA's roster: broker and FBI, then signed.
for who in USA USA/FBI CAN CAN/RCMP; do
    f=$(echo "$who" | tr 'A-Z/' 'a-z-')
    "$liaison" keygen "$who" --key "$tmp/$f.key" --card "$tmp/$f.card" >/dev/null
done
"$liaison" roster add "$tmp/usa.roster" "$tmp/usa.card" >/dev/null
"$liaison" roster add "$tmp/usa.roster" "$tmp/usa-fbi.card" --accepts '*' >/dev/null
expect 0 "$liaison" roster sign "$tmp/usa.roster" --key "$tmp/usa.nation-key"
has "USA section serial 1 signed (2 cards)"
expect 0 "$liaison" roster verify "$tmp/usa.roster" --nation-card "$tmp/usa.nation-card"
has "section USA serial 1: 2 cards, signature good"
# Without the card the signature is unchecked, not a failure.
expect 0 "$liaison" roster verify "$tmp/usa.roster"
has "signature unchecked"
# Another nation's card does not verify USA's section.
sed 's/^nation CAN$/nation USA/' "$tmp/can.nation-card" >"$tmp/fake.nation-card"
expect 1 "$liaison" roster verify "$tmp/usa.roster" --nation-card "$tmp/fake.nation-card"
has "section USA serial 1: 2 cards, signature BAD"

# One changed byte in a key of the section: verify fails and names the section.
cp "$tmp/usa.roster" "$tmp/tampered.roster"
sed -i '/^identity USA\/FBI$/{n;s/^sign-public \(.\)/sign-public X\1/;s/^sign-public X0/sign-public 1/;s/^sign-public X./sign-public 0/}' \
    "$tmp/tampered.roster"
cmp -s "$tmp/usa.roster" "$tmp/tampered.roster" && fail "the roster was not changed"
expect 1 "$liaison" roster verify "$tmp/tampered.roster" --nation-card "$tmp/usa.nation-card"
has "section USA serial 1: 2 cards, signature BAD"
# A damaged line is named by file and line.
printf 'liaison-roster 1\nnation USA\nserial 01\n' >"$tmp/bad.roster"
expect 1 "$liaison" roster verify "$tmp/bad.roster"
has "bad.roster: line 3: serial of section USA"

# A change to a signed section needs --sign; with it the serial goes up.
"$liaison" keygen USA/CBP --key "$tmp/cbp.key" --card "$tmp/cbp.card" >/dev/null
expect 64 "$liaison" roster add "$tmp/usa.roster" "$tmp/cbp.card" --accepts 'cargo.*'
has "give --sign"
expect 64 "$liaison" roster revoke "$tmp/usa.roster" USA/FBI --reason test
has "give --sign"
expect 64 "$liaison" roster add "$tmp/usa.roster" "$tmp/cbp.card" --sign "$tmp/can.nation-key"
has "is the nation key of CAN, not of USA"
expect 0 "$liaison" roster add "$tmp/usa.roster" "$tmp/cbp.card" --accepts 'cargo.*' \
    --sign "$tmp/usa.nation-key"
has "USA section serial 2 signed (3 cards)"
expect 0 "$liaison" roster revoke "$tmp/usa.roster" USA/CBP --reason test \
    --sign "$tmp/usa.nation-key"
has "USA section serial 3 signed (3 cards)"
expect 0 "$liaison" roster verify "$tmp/usa.roster" --nation-card "$tmp/usa.nation-card"
has "section USA serial 3: 3 cards, signature good"

# CAN exports its section; USA imports it, refused without CAN's card.
"$liaison" roster add "$tmp/can.roster" "$tmp/can.card" >/dev/null
"$liaison" roster add "$tmp/can.roster" "$tmp/can-rcmp.card" --accepts '*' >/dev/null
"$liaison" roster sign "$tmp/can.roster" --key "$tmp/can.nation-key" >/dev/null
expect 0 "$liaison" roster export "$tmp/can.roster" CAN --out "$tmp/can.section"
head -3 "$tmp/can.section" | tr '\n' '|' | grep -q '^liaison-roster 1||nation CAN|' ||
    fail "the export is not CAN's section alone"
expect 0 "$liaison" roster export "$tmp/can.roster" CAN
cmp -s "$tmp/out" "$tmp/can.section" || fail "export to stdout and --out differ"
expect 65 "$liaison" roster export "$tmp/can.roster" MEX
cp "$tmp/usa.roster" "$tmp/before"
expect 1 "$liaison" roster import "$tmp/usa.roster" "$tmp/can.section"
has "skipped CAN section serial 1: no --nation-card of CAN given"
cmp -s "$tmp/usa.roster" "$tmp/before" || fail "a refused import changed the roster"
expect 64 "$liaison" roster import "$tmp/usa.roster" "$tmp/can.section" \
    --nation-card "$tmp/fake.nation-card" --nation-card "$tmp/usa.nation-card"
has "are both nation cards of USA"
expect 1 "$liaison" roster import "$tmp/usa.roster" "$tmp/can.section" \
    --nation-card "$tmp/usa.nation-card"
has "no --nation-card of CAN"
expect 0 "$liaison" roster import "$tmp/usa.roster" "$tmp/can.section" \
    --nation-card "$tmp/can.nation-card"
has "took CAN section serial 1 (2 cards)"
expect 0 "$liaison" roster import "$tmp/usa.roster" "$tmp/can.section" \
    --nation-card "$tmp/can.nation-card"
has "skipped CAN section serial 1: .* holds serial 1"
expect 0 "$liaison" roster verify "$tmp/usa.roster" --nation-card "$tmp/usa.nation-card" \
    --nation-card "$tmp/can.nation-card"
has "section CAN serial 1: 2 cards, signature good"
# Without CAN's card, verify with pins fails: a section no card checks.
expect 1 "$liaison" roster verify "$tmp/usa.roster" --nation-card "$tmp/usa.nation-card"
has "no --nation-card of this nation"
# An unsigned card fails a verify with pins.
"$liaison" keygen MEX/FGR --key "$tmp/fgr.key" --card "$tmp/fgr.card" >/dev/null
"$liaison" roster add "$tmp/usa.roster" "$tmp/fgr.card" --accepts '*' >/dev/null
expect 1 "$liaison" roster verify "$tmp/usa.roster" --nation-card "$tmp/usa.nation-card" \
    --nation-card "$tmp/can.nation-card"
has "unsigned card MEX/FGR"
# A tampered section is refused by import, naming the card file.
sed 's/^accepts \*$/accepts watchlist.*/' "$tmp/can.section" >"$tmp/evil.section"
cmp -s "$tmp/evil.section" "$tmp/can.section" && fail "the section was not changed"
expect 1 "$liaison" roster import "$tmp/can.roster" "$tmp/evil.section" \
    --nation-card "$tmp/can.nation-card"
has "signature does not verify with"
for c in sign import export verify fingerprint add revoke; do
    "$liaison" roster "$c" --help | grep -q "^    liaison roster $c " || fail "roster $c --help"
done
echo "cli_nation_test: nation keys, signing, verify, import and export behave"
