#!/bin/sh
# Key ceremony of the example federation (USA, CAN, MEX): generates fresh
# keys for every broker and agency, the roster that lists their public
# cards and the kinds each agency accepts, and lays out the brokers'
# configurations and policies beside them.  No secret key is ever committed:
# run this to make them.
#
#   deploy/key-ceremony.sh DIR
#
# DIR/keys/*.key    secret key files (mode 0600, directory 0700)
# DIR/keys/<n>.nation-key   each nation's nation key, which signs its section
# DIR/cards/*.card  public cards, as operators would exchange them
# DIR/cards/<n>.nation-card the nation cards partners pin
# DIR/roster        the federation roster, one signed section per nation
# DIR/*.broker.yaml, DIR/*.policy.yaml   copied from deploy/examples, each
#                   broker configuration with the nation keys pinned
#
# LIAISON names the liaison tool (default: build/client/tool/liaison).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
liaison=${LIAISON:-$root/build/client/tool/liaison}
dir=${1:-}

if [ -z "$dir" ] || [ "$dir" = "-h" ] || [ "$dir" = "--help" ]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    [ -n "$dir" ] && exit 0
    exit 64
fi
if [ ! -x "$liaison" ]; then
    echo "key-ceremony: $liaison not found; build first (scripts/test.sh) or set LIAISON" >&2
    exit 69
fi
if [ -e "$dir/roster" ]; then
    echo "key-ceremony: $dir/roster exists; refusing to overwrite a federation's keys" >&2
    exit 73
fi

mkdir -p "$dir/keys" "$dir/cards"
chmod 700 "$dir/keys"

# Who takes part, and the kinds each agency accepts (selectors such as CAN/*
# and * resolve through these).
agencies="
USA/FBI       watchlist.* traveldoc.* mlat.*
USA/TREASURY  freeze.*
USA/DOJ       mlat.*
USA/CBP       watchlist.* traveldoc.* cargo.*
CAN/RCMP      watchlist.* traveldoc.* mlat.*
CAN/FINTRAC   freeze.*
CAN/CBSA      traveldoc.* cargo.*
MEX/FGR       mlat.*
MEX/AIC       watchlist.* traveldoc.*
MEX/UIF       freeze.*
MEX/ANAM      cargo.*
"

lower() { echo "$1" | tr 'A-Z/' 'a-z-'; }

for nation in USA CAN MEX; do
    n=$(lower "$nation")
    "$liaison" keygen "$nation" --key "$dir/keys/$n-broker.key" --card "$dir/cards/$n-broker.card" >/dev/null
    "$liaison" roster add "$dir/roster" "$dir/cards/$n-broker.card"
done
echo "$agencies" | while read -r agency accepts; do
    [ -n "$agency" ] || continue
    a=$(lower "$agency")
    "$liaison" keygen "$agency" --key "$dir/keys/$a.key" --card "$dir/cards/$a.card" >/dev/null
    "$liaison" roster add "$dir/roster" "$dir/cards/$a.card" --accepts "$accepts"
done
# Each nation signs its own section of the roster with its nation key
# (docs/protocol.md 5.5); partners pin the nation cards.
set --
for nation in USA CAN MEX; do
    n=$(lower "$nation")
    "$liaison" keygen "$nation" --nation --key "$dir/keys/$n.nation-key" \
        --card "$dir/cards/$n.nation-card" >/dev/null
    "$liaison" roster sign "$dir/roster" --key "$dir/keys/$n.nation-key"
    set -- "$@" --nation-card "$dir/cards/$n.nation-card"
done
# The brokers run in signed roster mode: each configuration pins its own
# nation key and every peer's (the sign-public of each nation card), after
# its `nation:` line and after each peer's `- nation:` line.
pin() {
    sed -n 's/^sign-public //p' "$dir/cards/$(lower "$1").nation-card"
}
pins="USA $(pin USA) CAN $(pin CAN) MEX $(pin MEX)"
for n in usa can mex; do
    cp "$here/examples/$n.policy.yaml" "$dir/"
    awk -v pins="$pins" '
        BEGIN { k = split(pins, a, " "); for (i = 1; i < k; i += 2) key[a[i]] = a[i + 1] }
        { print }
        /^nation: [A-Z][A-Z][A-Z]/ { print "nation_key: " key[$2] "     # this nation'"'"'s nation card, sign-public" }
        /^  - nation: [A-Z][A-Z][A-Z]/ { print "    nation_key: " key[$3] }
    ' "$here/examples/$n.broker.yaml" >"$dir/$n.broker.yaml"
done
"$liaison" roster verify "$dir/roster" "$@"
echo "key-ceremony: keys in $dir/keys (0600), roster in $dir/roster"
