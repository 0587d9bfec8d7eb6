#!/usr/bin/env python3
"""An independent RFC 9162 checker for `liaison audit proof|consistency --json` output.

It shares no code with Liaison: hashlib and the verification algorithms of
RFC 9162 sections 2.1.3.2 and 2.1.4.2, written from the RFC.
Usage: rfc9162_check.py proof FILE | consistency FILE.  Exit 0 if valid.
"""
import hashlib
import json
import sys


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf_hash, path, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, path):
    if first > second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def main():
    kind, name = sys.argv[1], sys.argv[2]
    with open(name) as f:
        j = json.load(f)
    h = bytes.fromhex
    if kind == "proof":
        ok = verify_inclusion(j["leaf_index"], j["tree_size"], h(j["leaf_hash"]),
                              [h(x) for x in j["inclusion"]], h(j["root"]))
        # A changed path must fail.
        if ok and j["inclusion"]:
            bad = [h(x) for x in j["inclusion"]]
            bad[0] = bytes([bad[0][0] ^ 1]) + bad[0][1:]
            ok = not verify_inclusion(j["leaf_index"], j["tree_size"], h(j["leaf_hash"]), bad,
                                      h(j["root"]))
    else:
        ok = verify_consistency(j["first"], j["second"], h(j["first_root"]), h(j["second_root"]),
                                [h(x) for x in j["consistency"]])
    print("%s %s: %s" % (kind, name, "valid" if ok else "INVALID"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
