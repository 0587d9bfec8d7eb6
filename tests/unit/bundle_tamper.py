#!/usr/bin/env python3
"""Makes a tampered copy of an MLAT evidence bundle for the interop test.

Usage: bundle_tamper.py GOOD OUT VARIANT EXPORTER_KEY

Copies the bundle GOOD to OUT and applies VARIANT. A variant whose name
ends in "-resigned" then lists the new hashes in bundle_files and signs
manifest.json again with the exporter's test key (EXPORTER_KEY, a secret
key file of docs/protocol.md section 5.1): the forgery an exporter could
make, which only the deeper checks (envelope, custody, tree head
signatures, inclusion proofs, the trusted roster) can catch.
"""

import hashlib
import json
import os
import shutil
import sys

import nacl.signing


def flip(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def load(out):
    with open(os.path.join(out, "manifest.json"), "rb") as f:
        return json.loads(f.read())


def save(out, manifest):
    with open(os.path.join(out, "manifest.json"), "w") as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def evidence(manifest):
    return [m for m in manifest["messages"] if m["kind"] == "mlat.evidence"][0]


def resign(out, keyfile):
    manifest = load(out)
    listed = manifest["bundle_files"]
    for rel in listed:
        with open(os.path.join(out, rel), "rb") as f:
            listed[rel] = hashlib.sha256(f.read()).hexdigest()
    save(out, manifest)
    seed = None
    with open(keyfile) as f:
        for line in f:
            words = line.split()
            if words[:1] == ["sign-seed"]:
                seed = bytes.fromhex(words[1])
    with open(os.path.join(out, "manifest.json"), "rb") as f:
        data = f.read()
    sig = nacl.signing.SigningKey(seed).sign(b"liaison bundle v1\x00" + data).signature
    with open(os.path.join(out, "manifest.sig"), "w") as f:
        f.write(sig.hex() + "\n")


def main(good, out, variant, keyfile):
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(good, out)
    base = variant[:-len("-resigned")] if variant.endswith("-resigned") else variant
    manifest = load(out)
    ev = evidence(manifest)
    if base == "envelope-byte":
        # A byte inside the first portion's ciphertext of an evidence message.
        flip(os.path.join(out, ev["envelope"]), os.path.getsize(os.path.join(
            out, ev["envelope"])) // 2)
    elif base == "custody-entry":
        ev["content"]["custody"][0]["action"] = "destroyed"
        save(out, manifest)
    elif base == "proof-hash":
        path = os.path.join(out, "proofs", ev["id"] + ".json")
        with open(path) as f:
            proof = json.load(f)
        h = proof["records"][0]["inclusion"][0]
        proof["records"][0]["inclusion"][0] = ("0" if h[0] != "0" else "1") + h[1:]
        with open(path, "w") as f:
            f.write(json.dumps(proof, indent=2) + "\n")
    elif base == "tree-head":
        path = os.path.join(out, "proofs", ev["id"] + ".json")
        with open(path) as f:
            proof = json.load(f)
        proof["tree_head"]["time_ms"] += 1
        with open(path, "w") as f:
            f.write(json.dumps(proof, indent=2) + "\n")
    elif base == "manifest-sig-byte":
        path = os.path.join(out, "manifest.sig")
        with open(path) as f:
            sig = f.read()
        with open(path, "w") as f:
            f.write(("0" if sig[0] != "0" else "1") + sig[1:])
    elif base == "roster-swap":
        # The sign-public keys of USA/DOJ (the sender) and USA/FBI swapped.
        path = os.path.join(out, "roster")
        with open(path) as f:
            lines = f.read().split("\n")
        where = {}
        ident = None
        for i, line in enumerate(lines):
            if line.startswith("identity "):
                ident = line.split()[1]
            elif line.startswith("sign-public ") and ident in ("USA/DOJ", "USA/FBI"):
                where[ident] = i
        a, b = where["USA/DOJ"], where["USA/FBI"]
        lines[a], lines[b] = lines[b], lines[a]
        with open(path, "w") as f:
            f.write("\n".join(lines))
    elif base == "file-byte":
        # A changed evidence file whose new whole-file hash the manifest lists:
        # the chunk hashes and the sender's custody signatures catch it.
        name = manifest["files"][0]["name"]
        flip(os.path.join(out, "files", name), 100)
        with open(os.path.join(out, "files", name), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        manifest["files"][0]["sha256"] = digest
        save(out, manifest)
    elif base == "file-two-chunks":
        # Chunks 1 and 2 of ledger.csv changed, the manifest's hashes kept:
        # reading stops at chunk 1, chunk 0 still counts.
        flip(os.path.join(out, "files", "ledger.csv"), 600)
        flip(os.path.join(out, "files", "ledger.csv"), 1100)
    elif base == "chunk-portion":
        ev["content"]["files"][0]["portion"] = 0
        save(out, manifest)
    elif base == "proof-dropped":
        manifest["proofs"] = [p for p in manifest["proofs"] if p["message"] != ev["id"]]
        save(out, manifest)
    elif base == "size-not-integer":
        # 75 written as 75.0: a JSON number, not an integer (docs/bundle.md).
        name = manifest["files"][1]["name"]
        save(out, manifest)
        path = os.path.join(out, "manifest.json")
        with open(path) as f:
            text = f.read()
        size = manifest["files"][1]["size"]
        old = '"name": "%s",' % name
        at = text.index(old)
        at = text.index('"size": %d' % size, at)
        text = text[:at] + '"size": %d.0' % size + text[at + len('"size": %d' % size):]
        with open(path, "w") as f:
            f.write(text)
    elif base == "unlisted-file":
        with open(os.path.join(out, "files", "extra.txt"), "w") as f:
            f.write("not listed\n")
    else:
        sys.stderr.write("bundle_tamper.py: unknown variant %s\n" % variant)
        return 2
    if variant != base:
        resign(out, keyfile)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.stderr.write("usage: bundle_tamper.py GOOD OUT VARIANT EXPORTER_KEY\n")
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
