#!/bin/sh
# interop.bundle_check: the independent verifier (bundle_check.py, written from
# docs/bundle.md alone) and `liaison mlat verify-bundle` on the committed vector
# and on tampered copies of it made here; both must accept the good bundle,
# reject every tampered one, and name the same bundle paths in their failures.
# Usage: bundle_check_test.sh LIAISON PYTHON3 SOURCE_DIR
set -u

liaison=$1
py=$2
src=$3
here=$src/tests/unit
vec=$src/tests/data/bundle
check="$here/bundle_check.py"

if [ -z "$py" ] || ! "$py" -c 'import nacl.signing' 2>/dev/null; then
    echo "python3 with PyNaCl (python3-nacl) is needed: scripts/deps.sh installs it"
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# The failures' paths and the counts of a --json report, one line each.
summary() {
    "$py" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print("ok", d["ok"])
print("checked", " ".join("%s=%d" % kv for kv in d["checked"].items()))
for f in sorted(set(f["file"] for f in d["failures"])):
    print("failure", f)' "$1"
}

# run NAME DIR WANT [--roster R]: both verifiers, the exit status, the same paths.
run() {
    name=$1
    dir=$2
    want=$3
    shift 3
    "$py" "$check" "$dir" "$@" > "$tmp/$name.py.txt" 2>&1
    rc_py=$?
    "$py" "$check" "$dir" "$@" --json > "$tmp/$name.py.json" 2>/dev/null
    "$liaison" mlat verify-bundle "$dir" "$@" --json > "$tmp/$name.tool.json" 2>/dev/null
    rc_tool=$?
    echo "== $name: bundle_check.py exit $rc_py, liaison exit $rc_tool"
    cat "$tmp/$name.py.txt"
    [ "$rc_py" -eq "$want" ] || fail "$name: bundle_check.py exits $rc_py, not $want"
    [ "$rc_tool" -eq "$want" ] || fail "$name: liaison mlat verify-bundle exits $rc_tool, not $want"
    summary "$tmp/$name.py.json" > "$tmp/$name.py.sum" || fail "$name: no bundle_check.py report"
    summary "$tmp/$name.tool.json" > "$tmp/$name.tool.sum" || fail "$name: no liaison report"
    if ! diff -u "$tmp/$name.tool.sum" "$tmp/$name.py.sum"; then
        fail "$name: the verifiers disagree (- liaison, + bundle_check.py)"
    fi
}

cd "$vec" || exit 1
run good good 0 --roster trusted.roster
run tampered tampered 1 --roster trusted.roster
grep -q 'FAIL files/ledger.csv:' "$tmp/tampered.py.txt" ||
    fail "tampered: bundle_check.py does not name files/ledger.csv"

# Tampered copies of good/ (the -resigned ones re-list the hashes and sign the
# manifest again with the exporter's test key, as a dishonest exporter could).
for v in envelope-byte envelope-byte-resigned custody-entry custody-entry-resigned \
         proof-hash proof-hash-resigned tree-head-resigned manifest-sig-byte \
         roster-swap roster-swap-resigned file-byte-resigned file-two-chunks-resigned chunk-portion-resigned \
         proof-dropped-resigned size-not-integer-resigned unlisted-file; do
    "$py" "$here/bundle_tamper.py" good "$tmp/$v" "$v" fed/keys/mex-fgr.key ||
        { fail "$v: could not make the copy"; continue; }
    run "$v" "$tmp/$v" 1 --roster trusted.roster
done
# Without the trusted roster a rewritten roster is consistent with itself;
# the swapped keys still break the sender's signatures.
run roster-swap-resigned-alone "$tmp/roster-swap-resigned" 1

# The verifier's envelope decoder (docs/protocol.md section 6) takes every
# portion state: the wire vectors' envelope, its redaction (state 2) and the
# same with the broker's note (state 3) decode, the note reads as written,
# and the sender's signature verifies over each; a note that breaks its
# grammar, or a state 4, is refused.
echo "== envelope vectors: bundle_check.py's decoder"
"$py" - "$here" "$src/tests/data/proto/vectors.txt" <<'PY' || fail "bundle_check.py's envelope decoder"
import re, sys
sys.path.insert(0, sys.argv[1])
import bundle_check as b

v, name = {}, None
for line in open(sys.argv[2]):
    m = re.match(r"# (.*) \((\d+) bytes\)", line)
    if m:
        name = m.group(1)
        v[name] = b""
    elif not line.startswith("#") and name:
        v[name] += bytes.fromhex(line.strip())
key = v["USA/FBI sign public"]
for name, states in (("envelope", [True, True]), ("redacted envelope", [True, False]),
                     ("noted envelope", [True, False])):
    env = b.decode_envelope(v[name])
    assert [p["present"] for p in env["portions"]] == states, name
    assert b.ed25519_ok(key, env["signed"], env["signature"]), name
for name, version_actor_grants in (("envelope", ("jdoe@fbi", 0)),
                                   ("granted envelope", ("jdoe@fbi", 1)),
                                   ("version 1 envelope", ("", 0))):
    env = b.decode_envelope(v[name])
    assert (env["actor"], env["grants"]) == version_actor_grants, name
    assert b.ed25519_ok(key, env["signed"], env["signature"]), name
assert b.decode_envelope(v["noted envelope"])["portions"][1]["note"] == "USA usa-orcon-mex"
noted = v["noted envelope"]
note_at = len(noted) - 64 - len(b"USA usa-orcon-mex")
for bad in (b"usa usa-orcon-mex", b"USA usa orcon mex", b"USA ", b"USA usa-orcon-mex!"):
    data = noted[:note_at - 1] + bytes([len(bad)]) + bad + noted[-64:]
    try:
        b.decode_envelope(data)
        raise SystemExit("a bad note %r decoded" % bad)
    except b.DecodeError:
        pass
state_at = note_at - 1 - 32 - 1
try:
    b.decode_envelope(noted[:state_at] + b"\x04" + noted[state_at + 1:note_at - 1] + noted[-64:])
    raise SystemExit("portion state 4 decoded")
except b.DecodeError:
    pass
print("  envelope, redacted (state 2) and noted (state 3) decode and verify")
PY

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all bundle checks passed"
