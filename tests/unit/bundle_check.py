#!/usr/bin/env python3
"""Independent verifier of a Liaison MLAT evidence bundle (docs/bundle.md).

Written from docs/bundle.md, docs/protocol.md (sections 5.3 and 6),
docs/audit.md and RFC 9162 alone: it shares no code with the project.

Usage: bundle_check.py DIR [--roster TRUSTED_ROSTER] [--json]

Runs the verification steps of docs/bundle.md section 5 in order, prints
every problem as "FAIL <bundle path>: <reason>" and exits 0 when the bundle
verifies, 1 when it does not, 2 on a usage error or when the inputs of
step 1 are unusable (not a directory, a trusted roster that does not parse).
With --json it prints the report of docs/bundle.md section 5.1 instead.
"""

import hashlib
import json
import os
import re
import stat
import struct
import sys

try:
    import nacl.exceptions
    import nacl.signing
except ImportError:  # pragma: no cover - reported as a usage error
    nacl = None

MIB = 1024 * 1024

HEX64 = re.compile(r"[0-9a-f]{64}\Z")
HEX128 = re.compile(r"[0-9a-fA-F]{128}\Z")
HEX64ANY = re.compile(r"[0-9a-fA-F]{64}\Z")
MSGID = re.compile(r"[0-9a-f]{32}\Z")
NATION = r"[A-Z]{3}"
AGENCY = r"[A-Z0-9][A-Z0-9_-]{0,31}"
AGENCY_ADDR = re.compile(NATION + "/" + AGENCY + r"\Z")
BROKER_ADDR = re.compile(NATION + r"\Z")
SELECTOR = re.compile(NATION + r"/\*\Z|\*\Z")
KIND = re.compile(r"[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+\Z|[a-z][a-z0-9-]*\Z")
CASE_ID = re.compile(r"[A-Za-z0-9._:/-]{0,64}\Z")
ACTOR = re.compile(r"[A-Za-z0-9._:@-]{1,64}\Z")
CAVEAT = re.compile(r"[A-Z]([A-Z0-9-]{0,22}[A-Z0-9])?\Z")
BASIS = re.compile(r"([A-Z0-9][A-Z0-9._-]*)?\Z")
# A withholding note (state 3): the broker's nation, optionally a space and
# a rule id; at most 68 bytes (docs/protocol.md section 6).
WITHHOLDING_NOTE = re.compile(r"[A-Z]{3}( [A-Za-z0-9._:-]{1,64})?\Z")
RESERVED_CAVEATS = set("UNCLASSIFIED RESTRICTED CONFIDENTIAL SECRET TOP LES ORCON "
                       "NOFORN REL HANDLING RESTRICT EVAL ORIGIN BASIS OFFENCE "
                       "PURPOSE".split())


def sha256(data):
    return hashlib.sha256(data).digest()


def ed25519_ok(public, message, signature):
    try:
        nacl.signing.VerifyKey(public).verify(message, signature)
        return True
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False


def is_address(text):
    return len(text) <= 36 and (AGENCY_ADDR.match(text) or BROKER_ADDR.match(text))


def is_name(text):
    """A name of docs/bundle.md section 1."""
    if not isinstance(text, str):
        return False
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if not 1 <= len(raw) <= 200 or raw.startswith(b"."):
        return False
    return not any(b == 0x2F or b < 0x20 or b == 0x7F for b in raw)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------
# JSON (RFC 8259): UTF-8, no duplicate keys at any depth, no NaN/Infinity.

class JsonError(Exception):
    pass


def _pairs(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise JsonError("duplicate key %r" % key)
        obj[key] = value
    return obj


def _constant(name):
    raise JsonError("%s is not JSON" % name)


def parse_json(data):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError("not UTF-8 (%s)" % exc) from None
    if text.startswith("\ufeff"):
        raise JsonError("starts with a byte order mark")
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except JsonError:
        raise
    except ValueError as exc:
        raise JsonError(str(exc)) from None


def utf8(text):
    """The bytes of a JSON string value; None when it has no UTF-8 form."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


# --------------------------------------------------------------------------
# Roster (docs/protocol.md section 5.3).

class RosterError(Exception):
    pass


def parse_roster(data):
    """Returns a list of cards: dicts with identity, sign (32 bytes), revoked."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RosterError("not UTF-8") from None
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    cards = []
    card = None
    header = False
    section = None          # the nation whose section is open
    sections = set()        # nations that have a section
    expect_serial = False   # after "nation X"
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == "" or stripped.startswith("#"):
            continue
        words = stripped.split(" ")
        if not header:
            if words != ["liaison-roster", "1"]:
                raise RosterError("line %d: not a roster (no 'liaison-roster 1')" % number)
            header = True
            continue
        if card is None:
            # Nation sections (docs/protocol.md 5.5) group cards; their
            # signatures are the nations' business, not the bundle's.
            if expect_serial:
                if (len(words) != 2 or words[0] != "serial" or not words[1].isdigit()
                        or words[1].startswith("0")):
                    raise RosterError("line %d: 'serial N' expected" % number)
                expect_serial = False
                continue
            if len(words) == 2 and words[0] == "nation" and section is None:
                if not re.fullmatch(r"[A-Z]{3}", words[1]) or words[1] in sections:
                    raise RosterError("line %d: bad or repeated section" % number)
                section = words[1]
                sections.add(section)
                expect_serial = True
                continue
            if len(words) == 2 and words[0] == "signature" and section is not None:
                if not re.fullmatch(r"[0-9a-fA-F]{128}", words[1]):
                    raise RosterError("line %d: bad signature" % number)
                section = None
                continue
            if words != ["card"]:
                raise RosterError("line %d: 'card' expected" % number)
            card = {}
            continue
        key = words[0]
        if key == "end" and len(words) == 1:
            for need in ("identity", "sign-public", "box-public", "curve-public"):
                if need not in card:
                    raise RosterError("line %d: card without %s" % (number, need))
            cards.append({"identity": card["identity"],
                          "sign": bytes.fromhex(card["sign-public"]),
                          "revoked": "revoked" in card})
            card = None
            continue
        if key in card:
            raise RosterError("line %d: %s repeated" % (number, key))
        if key == "identity":
            if len(words) != 2 or not is_address(words[1]):
                raise RosterError("line %d: bad identity" % number)
            card[key] = words[1]
        elif key in ("sign-public", "box-public", "curve-public"):
            if len(words) != 2 or not HEX64.match(words[1]):
                raise RosterError("line %d: bad %s" % (number, key))
            card[key] = words[1]
        elif key == "accepts":
            card[key] = words[1:]
        elif key == "revoked":
            if len(words) < 2 or not words[1].isdigit():
                raise RosterError("line %d: bad revoked" % number)
            card[key] = words[1]
        else:
            raise RosterError("line %d: unknown line %r" % (number, key))
    if not header:
        raise RosterError("empty roster")
    if card is not None:
        raise RosterError("last card has no 'end'")
    if section is not None or expect_serial:
        raise RosterError("section %s has no 'signature'" % section)
    live = {}
    keys = set()
    for c in cards:
        if c["sign"] in keys:
            raise RosterError("a signing key appears on two cards")
        keys.add(c["sign"])
        if not c["revoked"]:
            if c["identity"] in live:
                raise RosterError("two cards of %s are not revoked" % c["identity"])
            live[c["identity"]] = c
    return cards


def usable_keys(cards):
    """address -> signing key of its card that is not revoked (section 4)."""
    return {c["identity"]: c["sign"] for c in cards if not c["revoked"]}


# --------------------------------------------------------------------------
# Envelope decoder (docs/protocol.md section 6, 6.6).

class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data, start=0, end=None):
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    def take(self, n):
        if n > self.end - self.pos:
            raise DecodeError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def str8(self):
        return self.take(self.u8())


def _ascii(raw, what):
    if b"\x00" in raw:
        raise DecodeError("%s holds a NUL byte" % what)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError("%s is not ASCII" % what) from None


def _label_text(raw, limit, what):
    if len(raw) > limit:
        raise DecodeError("%s too long" % what)
    text = _ascii(raw, what)
    if text == "":
        return text
    if any(not 0x20 <= ord(ch) <= 0x7E for ch in text) or "//" in text:
        raise DecodeError("%s breaks the text grammar" % what)
    if text[0] in " /" or text[-1] in " /":
        raise DecodeError("%s breaks the text grammar" % what)
    return text


def _ascending_list(rd, count, max_count, what, check):
    if count > max_count:
        raise DecodeError("too many %s" % what)
    prev = None
    for _ in range(count):
        item = check(rd)
        if prev is not None and not item > prev:
            raise DecodeError("%s not strictly ascending" % what)
        prev = item


def decode_labels(rd):
    classification = rd.u8()
    if classification > 4:
        raise DecodeError("bad classification")
    flags = rd.u8()
    if flags & 0xC0:
        raise DecodeError("reserved label flags set")
    source = rd.u8()
    info = rd.u8()
    if source not in (0, ord("A"), ord("B"), ord("C"), ord("X")) or info > 4:
        raise DecodeError("bad evaluation grade")
    if (source == 0) != (info == 0):
        raise DecodeError("lone evaluation grade")
    if rd.u8() != 0:
        raise DecodeError("reserved label byte set")
    origin = rd.take(3)
    if origin != b"\x00\x00\x00" and not re.match(NATION + r"\Z", _ascii(origin, "origin")):
        raise DecodeError("bad origin")

    def nation(r):
        raw = r.take(3)
        if not re.match(NATION + r"\Z", _ascii(raw, "REL TO")):
            raise DecodeError("bad REL TO nation")
        return raw

    rel_count = rd.u8()
    _ascending_list(rd, rel_count, 32, "REL TO nations", nation)
    if flags & 0x04 and rel_count:
        raise DecodeError("NOFORN with REL TO")

    def caveat(r):
        raw = r.str8()
        text = _ascii(raw, "caveat")
        if not CAVEAT.match(text) or text in RESERVED_CAVEATS:
            raise DecodeError("bad caveat")
        return raw

    def offence(r):
        raw = r.str8()
        if not CAVEAT.match(_ascii(raw, "offence")):
            raise DecodeError("bad offence")
        return raw

    _ascending_list(rd, rd.u8(), 8, "caveats", caveat)
    _ascending_list(rd, rd.u8(), 8, "offences", offence)
    basis = rd.str8()
    if len(basis) > 48 or not BASIS.match(_ascii(basis, "basis")):
        raise DecodeError("bad basis")
    _label_text(rd.str8(), 128, "restriction")
    _label_text(rd.str8(), 200, "purpose")


def mth(leaves):
    """RFC 9162 MTH over leaf hashes that are already hashed."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def decode_envelope(data):
    """Decodes an envelope; returns a dict or raises DecodeError."""
    if len(data) > 64 * MIB:
        raise DecodeError("longer than 64 MiB")
    rd = Reader(data)
    if rd.take(4) != b"LSNE":
        raise DecodeError("wrong magic")
    version = rd.u8()
    if version not in (1, 2):
        raise DecodeError("version is not 1 or 2")
    header_len = rd.u32()
    header_end = rd.pos + header_len
    if header_end > len(data):
        raise DecodeError("header runs past the input")
    hd = Reader(data, rd.pos, header_end)
    kind = _ascii(hd.str8(), "kind")
    if len(kind) > 64 or not KIND.match(kind):
        raise DecodeError("bad kind")
    message_id = hd.take(16)
    if message_id == bytes(16):
        raise DecodeError("all-zero message id")
    created = hd.u64()
    expires = hd.u64()
    if expires <= created:
        raise DecodeError("expires_ms <= created_ms")
    sender = _ascii(hd.str8(), "sender")
    if len(sender) > 36 or not AGENCY_ADDR.match(sender):
        raise DecodeError("bad sender")
    actor = ""
    if version == 2:
        actor = _ascii(hd.str8(), "actor")
        if not ACTOR.match(actor):
            raise DecodeError("bad actor")
    count = hd.u8()
    if not 1 <= count <= 64:
        raise DecodeError("bad recipient count")
    prev = None
    for _ in range(count):
        raw = hd.str8()
        text = _ascii(raw, "recipient")
        if len(text) > 36 or not (AGENCY_ADDR.match(text) or SELECTOR.match(text)):
            raise DecodeError("bad recipient")
        if prev is not None and not raw > prev:
            raise DecodeError("recipients not strictly ascending")
        prev = raw
    case_id = _ascii(hd.str8(), "case id")
    if not CASE_ID.match(case_id):
        raise DecodeError("bad case id")
    hd.take(16)  # in_reply_to
    decode_labels(hd)
    portion_count = hd.u8()
    if not 1 <= portion_count <= 64:
        raise DecodeError("bad portion count")
    for _ in range(portion_count):
        decode_labels(hd)
    grants = 0
    if version == 2:
        grants = hd.u8()
        if grants > 4:
            raise DecodeError("more than 4 consent grants")
        for _ in range(grants):
            grant_len = hd.u16()
            if not 1 <= grant_len <= 1024:
                raise DecodeError("bad consent grant length")
            hd.take(grant_len)
    if hd.pos != header_end:
        raise DecodeError("bytes after the header's last field")
    header_block = data[:header_end]
    rd.pos = header_end
    portions = []
    leaves = []
    for index in range(portion_count):
        start = rd.pos
        state = rd.u8()
        if state == 1:
            rd.take(24 + 32)
            ct_len = rd.u32()
            if not 16 <= ct_len <= 16 * MIB:
                raise DecodeError("bad ciphertext length")
            rd.take(ct_len)
            seals = rd.u8()
            prev = None
            for _ in range(seals):
                raw = rd.str8()
                text = _ascii(raw, "seal reader")
                if len(text) > 36 or not AGENCY_ADDR.match(text):
                    raise DecodeError("bad seal reader")
                if prev is not None and not raw > prev:
                    raise DecodeError("seals not strictly ascending")
                prev = raw
                rd.take(80)
            record = data[start:rd.pos]
            leaves.append(sha256(b"\x00" + bytes([index]) + record))
            portions.append({"present": True, "plaintext_len": ct_len - 16})
        elif state == 2:
            leaves.append(rd.take(32))
            portions.append({"present": False})
        elif state == 3:
            # Withheld with the broker's note: the note is not signed by
            # the sender and enters no hash.
            leaves.append(rd.take(32))
            raw = rd.str8()
            note = _ascii(raw, "withholding note")
            if len(raw) > 68 or not WITHHOLDING_NOTE.match(note):
                raise DecodeError("bad withholding note")
            portions.append({"present": False, "note": note})
        else:
            raise DecodeError("bad portion state %d" % state)
    signature = rd.take(64)
    if rd.pos != len(data):
        raise DecodeError("bytes after the signature")
    signed = (b"liaison envelope v1\x00" + sha256(header_block) + mth(leaves))
    return {"kind": kind, "id": message_id.hex(), "sender": sender, "actor": actor,
            "case": case_id, "grants": grants, "portions": portions, "signed": signed, "signature": signature}


# --------------------------------------------------------------------------
# Audit records (docs/audit.md) and RFC 9162 inclusion proofs.

def decode_audit_record(data):
    if len(data) > 742:
        raise DecodeError("longer than 742 bytes")
    rd = Reader(data)
    if rd.u8() != 1:
        raise DecodeError("version is not 1")
    rd.u64()
    event = rd.u8()
    if not 1 <= event <= 18:
        raise DecodeError("unknown event %d" % event)
    message_id = rd.take(16)
    for limit in (64, 64, 200, 64):
        raw = rd.str8()
        if len(raw) > limit or any(b < 0x20 or b == 0x7F for b in raw):
            raise DecodeError("bad text field")
    rd.take(32)
    envelope_hash = rd.take(32)
    raw = rd.str8()
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise DecodeError("bad detail")
    if rd.pos != len(data):
        raise DecodeError("trailing bytes")
    return {"event": event, "id": message_id.hex(), "envelope_hash": envelope_hash}


def verify_inclusion(leaf_index, tree_size, leaf_hash, path, root):
    """RFC 9162 section 2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --------------------------------------------------------------------------
# The verification of docs/bundle.md section 5.

class Stop(Exception):
    pass


class Verifier:
    PREFIXES = ("files/", "envelopes/", "proofs/")

    def __init__(self, bundle, trusted):
        self.dir = bundle
        self.trusted = trusted
        self.failures = []
        self.warnings = []
        self.checked = {"envelopes": 0, "files": 0, "chunks": 0, "custody": 0, "proofs": 0}
        self.case = None
        self.keys = {}
        self.manifest = None
        self.envelopes = {}   # message index -> decoded envelope
        self.envelope_hash = {}  # message id -> SHA-256 of its envelope file

    def fail(self, path, reason):
        self.failures.append({"file": path, "message": reason})

    def path_of(self, rel):
        return os.path.join(self.dir, rel)

    def read(self, rel, limit):
        """The bytes of a regular file of the bundle, or None."""
        full = self.path_of(rel)
        try:
            st = os.stat(full)
            if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
                return None
            with open(full, "rb") as f:
                return f.read()
        except OSError:
            return None

    def listed_path(self, key):
        if not isinstance(key, str):
            return False
        if key == "roster":
            return True
        return any(key.startswith(p) and is_name(key[len(p):]) for p in self.PREFIXES)

    def run(self):
        try:
            self.step2_roster()
            self.step3_manifest()
            self.step4_roster_listed()
            self.step5_listed_files()
            self.step6_envelopes()
            self.step7_files()
            self.step8_custody()
            self.step9_proofs()
        except Stop:
            pass
        return not self.failures

    # Step 2.
    def step2_roster(self):
        data = self.read("roster", 8 * MIB)
        if data is None:
            self.fail("roster", "missing, unreadable or longer than 8 MiB")
            raise Stop()
        try:
            cards = parse_roster(data)
        except RosterError as exc:
            self.fail("roster", "does not parse as a roster: %s" % exc)
            raise Stop() from None
        self.keys = usable_keys(cards)
        if self.trusted is not None:
            trusted = usable_keys(self.trusted)
            for c in cards:
                if c["revoked"]:
                    continue
                ident = c["identity"]
                if ident not in trusted:
                    self.fail("roster", "card %s is missing or revoked in the trusted roster"
                              % ident)
                elif trusted[ident] != c["sign"]:
                    self.fail("roster", "card %s has a different signing key in the trusted "
                              "roster" % ident)

    # Step 3.
    def step3_manifest(self):
        data = self.read("manifest.json", 64 * MIB)
        if data is None:
            self.fail("manifest.json", "missing, unreadable or longer than 64 MiB")
            raise Stop()
        try:
            manifest = parse_json(data)
        except JsonError as exc:
            self.fail("manifest.json", "not JSON: %s" % exc)
            raise Stop() from None
        if not isinstance(manifest, dict):
            self.fail("manifest.json", "not a JSON object")
            raise Stop()
        if isinstance(manifest.get("case"), str):
            self.case = manifest["case"]
        if manifest.get("schema") != "liaison.bundle/1":
            self.fail("manifest.json", "schema is not liaison.bundle/1")
            raise Stop()
        exporter = manifest.get("exporter")
        if not isinstance(exporter, str) or exporter not in self.keys:
            self.fail("manifest.json", "the exporter %r has no usable card in the roster"
                      % (exporter,))
            raise Stop()
        sig = self.read("manifest.sig", 4096)
        if sig is None:
            self.fail("manifest.sig", "missing or unreadable")
            raise Stop()
        sig = sig.rstrip(b"\r\n")
        if not re.match(rb"[0-9a-fA-F]{128}\Z", sig):
            self.fail("manifest.sig", "not 128 hex digits")
            raise Stop()
        if not ed25519_ok(self.keys[exporter], b"liaison bundle v1\x00" + data,
                          bytes.fromhex(sig.decode())):
            self.fail("manifest.json", "the signature of %s (manifest.sig) does not verify"
                      % exporter)
            raise Stop()
        self.manifest = manifest

    # Step 4.
    def step4_roster_listed(self):
        listed = self.manifest.get("bundle_files")
        if not isinstance(listed, dict) or "roster" not in listed:
            self.fail("manifest.json", "bundle_files does not list the roster")

    # Step 5.
    def step5_listed_files(self):
        listed = self.manifest.get("bundle_files")
        if not isinstance(listed, dict):
            self.fail("manifest.json", "bundle_files is not an object")
            return
        for key, value in listed.items():
            if not self.listed_path(key) or not isinstance(value, str):
                self.fail("manifest.json", "bundle_files entry %r is not a bundle path with "
                          "a string value" % key)
                continue
            data = self.read(key, 1 << 62)
            if data is None:
                self.fail(key, "listed in manifest.json but missing or not a regular file")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != value:
                self.fail(key, "its SHA-256 %s is not the %s that manifest.json lists"
                          % (digest, value))
        present = []
        try:
            top = sorted(os.listdir(self.dir))
        except OSError:
            top = []
        for entry in top:
            if entry in ("manifest.json", "manifest.sig"):
                continue
            if entry in ("files", "envelopes", "proofs") and \
                    os.path.isdir(self.path_of(entry)) and \
                    not os.path.islink(self.path_of(entry)):
                for sub in sorted(os.listdir(self.path_of(entry))):
                    present.append(entry + "/" + sub)
                continue
            present.append(entry)
        for rel in present:
            if rel not in listed:
                self.fail(rel, "not listed in manifest.json's bundle_files")

    def messages(self):
        msgs = self.manifest.get("messages")
        return msgs if isinstance(msgs, list) else []

    # Step 6.
    def step6_envelopes(self):
        msgs = self.manifest.get("messages")
        if not isinstance(msgs, list):
            return  # treated as empty: the later steps find what is missing
        case = self.manifest.get("case")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not all(
                    isinstance(m.get(k), str) for k in ("id", "kind", "envelope")) \
                    or not self.listed_path(m["envelope"]):
                self.fail("manifest.json", "messages[%d]: id, kind or envelope missing or "
                          "invalid" % i)
                continue
            path = m["envelope"]
            data = self.read(path, 64 * MIB)
            if data is None:
                self.fail(path, "missing, unreadable or longer than 64 MiB")
                continue
            self.envelope_hash.setdefault(m["id"], sha256(data))
            try:
                env = decode_envelope(data)
            except DecodeError as exc:
                self.fail(path, "does not decode as an envelope: %s" % exc)
                continue
            self.envelopes[i] = env
            if env["id"] != m["id"]:
                self.fail(path, "its message id %s is not %s" % (env["id"], m["id"]))
            if env["kind"] != m["kind"]:
                self.fail(path, "its kind %s is not %s" % (env["kind"], m["kind"]))
            if env["case"] != case:
                self.fail(path, "its case id %s is not the manifest's case" % env["case"])
            key = self.keys.get(env["sender"])
            if key is None:
                self.fail(path, "its sender %s has no usable card" % env["sender"])
            elif not ed25519_ok(key, env["signed"], env["signature"]):
                self.fail(path, "the signature of %s does not verify" % env["sender"])
            else:
                self.checked["envelopes"] += 1  # counts the signatures that verify

    def content_entries(self, key):
        """(message index, message, list) for each message's content[key] list."""
        for i, m in enumerate(self.messages()):
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, dict) and isinstance(content.get(key), list):
                yield i, m, content[key]

    # Step 7.
    def step7_files(self):
        files = self.manifest.get("files")
        if not isinstance(files, list) or not files:
            self.fail("manifest.json", "files is not a non-empty array")
            return
        for n, f in enumerate(files):
            if not (isinstance(f, dict) and is_name(f.get("name"))
                    and f.get("path") == "files/" + f["name"]
                    and isinstance(f.get("sha256"), str) and HEX64.match(f["sha256"])
                    and is_int(f.get("size")) and f["size"] >= 0
                    and is_int(f.get("chunks")) and 1 <= f["chunks"] <= 1048576
                    and isinstance(f.get("chunk_sha256s"), list)
                    and len(f["chunk_sha256s"]) == f["chunks"]):
                self.fail("manifest.json", "files[%d] is malformed" % n)
                continue
            self.check_file(f)

    def check_file(self, f):
        name, path, chunks = f["name"], f["path"], f["chunks"]
        lengths = {}
        ok = True
        for i, m, entries in self.content_entries("files"):
            env = self.envelopes.get(i)
            for e in entries:
                if not isinstance(e, dict) or e.get("name") != name:
                    continue
                chunk = e.get("chunk")
                if not (is_int(chunk) and 0 <= chunk < chunks
                        and e.get("chunk_sha256") == f["chunk_sha256s"][chunk]
                        and e.get("size") == f["size"] and is_int(e.get("size"))
                        and e.get("chunks") == f["chunks"] and is_int(e.get("chunks"))
                        and e.get("sha256") == f["sha256"]):
                    self.fail("manifest.json", "message %s lists a chunk of %s that does not "
                              "agree with files[]" % (m.get("id"), name))
                    ok = False
                    continue
                if chunk in lengths:
                    self.fail("manifest.json", "chunk %d of %s is listed twice" % (chunk, name))
                    ok = False
                    continue
                portion = e.get("portion")
                envpath = m.get("envelope") if isinstance(m.get("envelope"), str) \
                    else "manifest.json"
                if env is None or not is_int(portion) or portion < 1 or \
                        portion >= len(env["portions"]) or \
                        not env["portions"][portion]["present"]:
                    self.fail(envpath, "portion %r, chunk %d of %s, is not a present portion "
                              "of the decoded envelope" % (portion, chunk, name))
                    ok = False
                    continue
                lengths[chunk] = env["portions"][portion]["plaintext_len"]
        for k in range(chunks):
            if k not in lengths:
                self.fail(path, "chunk %d is listed by no message" % k)
                ok = False
        if not ok:
            return
        data = self.read(path, 1 << 62)
        if data is None:
            self.fail(path, "missing or not a regular file")
            return
        offset = 0
        for k in range(chunks):
            piece = data[offset:offset + lengths[k]]
            if len(piece) < lengths[k]:
                self.fail(path, "the file ends inside chunk %d" % k)
                return
            if hashlib.sha256(piece).hexdigest() != f["chunk_sha256s"][k]:
                self.fail(path, "bytes %d..%d (chunk %d) do not hash to the chunk's SHA-256"
                          % (offset, offset + lengths[k], k))
                return
            self.checked["chunks"] += 1
            offset += lengths[k]
        if offset != len(data):
            self.fail(path, "the file goes on after its last chunk")
            return
        bad = False
        if len(data) != f["size"]:
            self.fail(path, "its size %d is not %d" % (len(data), f["size"]))
            bad = True
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            self.fail(path, "its SHA-256 is not files[].sha256")
            bad = True
        if not bad:
            self.checked["files"] += 1

    # Step 8.
    def step8_custody(self):
        files = self.manifest.get("files")
        if not isinstance(files, list):
            return
        for f in files:
            if not isinstance(f, dict) or not is_name(f.get("name")):
                continue
            name, digest = f["name"], f.get("sha256")
            count = 0
            for _, m, entries in self.content_entries("custody"):
                for c in entries:
                    if not isinstance(c, dict) or c.get("file") != name:
                        continue
                    count += 1
                    if self.custody_ok(c, digest, m):
                        self.checked["custody"] += 1
            if count == 0:
                self.fail("manifest.json", "%s has no custody entry" % name)

    def custody_ok(self, c, digest, m):
        fields = ("time", "actor", "action", "file", "sha256", "signature")
        where = "custody entry of %s in message %s" % (c.get("file"), m.get("id"))
        if not all(isinstance(c.get(k), str) for k in fields):
            self.fail("manifest.json", "%s: its six values are not all strings" % where)
            return False
        if c["sha256"] != digest:
            self.fail("manifest.json", "%s does not carry the file's SHA-256" % where)
            return False
        key = self.keys.get(c["actor"])
        if key is None:
            self.fail("manifest.json", "%s: actor %s has no usable card" % (where, c["actor"]))
            return False
        if not HEX128.match(c["signature"]):
            self.fail("manifest.json", "%s: signature is not 128 hex digits" % where)
            return False
        parts = [utf8(c[k]) for k in fields[:5]]
        if any(p is None for p in parts):
            self.fail("manifest.json", "%s: a value has no UTF-8 form" % where)
            return False
        signed = b"liaison custody v1\x00" + b"\x00".join(parts)
        if not ed25519_ok(key, signed, bytes.fromhex(c["signature"])):
            self.fail("manifest.json", "%s: the signature of %s does not verify"
                      % (where, c["actor"]))
            return False
        return True

    # Step 9.
    def step9_proofs(self):
        proofs = self.manifest.get("proofs")
        if proofs is None or proofs == []:
            self.warnings.append("the bundle holds no audit inclusion proofs")
            return
        if not isinstance(proofs, list):
            self.fail("manifest.json", "proofs is not an array")
            return
        covered = {p.get("message") for p in proofs if isinstance(p, dict)}
        for m in self.messages():
            if isinstance(m, dict) and m.get("kind") == "mlat.evidence" and \
                    m.get("id") not in covered:
                self.fail("manifest.json", "evidence message %s has no audit proof"
                          % m.get("id"))
        for n, p in enumerate(proofs):
            if not (isinstance(p, dict) and isinstance(p.get("message"), str)
                    and MSGID.match(p["message"]) and isinstance(p.get("path"), str)
                    and p["path"].startswith("proofs/") and self.listed_path(p["path"])):
                self.fail("manifest.json", "proofs[%d]: message or path invalid" % n)
                continue
            self.check_proof(p["message"], p["path"])

    def check_proof(self, message, path):
        data = self.read(path, 64 * MIB)
        try:
            if data is None:
                raise DecodeError("missing or unreadable")
            doc = parse_json(data)
            if not isinstance(doc, dict):
                raise DecodeError("not a JSON object")
            if doc.get("message") != message:
                raise DecodeError("its message is not %s" % message)
            broker = doc.get("broker")
            if not isinstance(broker, str) or not BROKER_ADDR.match(broker) or \
                    broker not in self.keys:
                raise DecodeError("broker %r has no usable broker card" % (broker,))
            head = doc.get("tree_head")
            if not isinstance(head, dict):
                raise DecodeError("no tree_head object")
            size, time_ms = head.get("tree_size"), head.get("time_ms")
            if not (is_int(size) and 0 <= size < 1 << 64 and is_int(time_ms)
                    and 0 <= time_ms < 1 << 64):
                raise DecodeError("tree_size or time_ms is not a u64")
            root, sig = head.get("root"), head.get("signature")
            if not (isinstance(root, str) and HEX64ANY.match(root)):
                raise DecodeError("tree_head.root is not 64 hex digits")
            if not (isinstance(sig, str) and HEX128.match(sig)):
                raise DecodeError("tree_head.signature is not 128 hex digits")
            root = bytes.fromhex(root)
            signed = (b"liaison tree head v1\x00" + struct.pack(">Q", size) + root
                      + struct.pack(">Q", time_ms))
            if not ed25519_ok(self.keys[broker], signed, bytes.fromhex(sig)):
                raise DecodeError("the tree head signature of %s does not verify" % broker)
            records = doc.get("records")
            if not isinstance(records, list) or not records:
                raise DecodeError("records is not a non-empty array")
        except (DecodeError, JsonError) as exc:
            self.fail(path, str(exc))
            return
        want = self.envelope_hash.get(message)  # None: no such message or envelope
        carries = False
        for r in records:
            try:
                if not isinstance(r, dict) or not isinstance(r.get("record"), str) or \
                        len(r["record"]) % 2 or not re.match(r"[0-9a-fA-F]*\Z", r["record"]):
                    raise DecodeError("a record is not hex")
                raw = bytes.fromhex(r["record"])
                rec = decode_audit_record(raw)
                if rec["id"] != message:
                    raise DecodeError("a record names message %s" % rec["id"])
            except DecodeError as exc:
                self.fail(path, "record: %s" % exc)
                continue
            if want is not None and rec["envelope_hash"] == want:
                carries = True
            inc = r.get("inclusion")
            index = r.get("leaf_index")
            if not (isinstance(inc, list) and len(inc) <= 128
                    and all(isinstance(h, str) and HEX64ANY.match(h) for h in inc)
                    and is_int(index) and index >= 0):
                self.fail(path, "record: inclusion path or leaf_index malformed")
                continue
            if not verify_inclusion(index, size, sha256(b"\x00" + raw),
                                    [bytes.fromhex(h) for h in inc], root):
                self.fail(path, "record at leaf %d: the inclusion proof does not lead to "
                          "the tree head's root" % index)
                continue
            self.checked["proofs"] += 1
        if not carries:
            self.fail(path, "no record carries the SHA-256 of the message's envelope")

    def report(self, shown_dir):
        out = {"ok": not self.failures}
        if self.case is not None:
            out["case"] = self.case
        out["dir"] = shown_dir
        out["checked"] = self.checked
        out["failures"] = self.failures
        out["warnings"] = self.warnings
        return out


def main(argv):
    args = argv[1:]
    bundle, roster_path, as_json = None, None, False
    while args:
        a = args.pop(0)
        if a == "--roster" and args:
            roster_path = args.pop(0)
        elif a == "--json":
            as_json = True
        elif not a.startswith("-") and bundle is None:
            bundle = a
        else:
            bundle = None
            break
    if bundle is None:
        sys.stderr.write("usage: bundle_check.py DIR [--roster TRUSTED_ROSTER] [--json]\n")
        return 2
    if nacl is None:
        sys.stderr.write("bundle_check.py: PyNaCl (python3-nacl) is needed\n")
        return 2
    # Step 1.
    if not os.path.isdir(bundle):
        sys.stderr.write("bundle_check.py: %s is not a directory\n" % bundle)
        return 2
    trusted = None
    if roster_path is not None:
        try:
            with open(roster_path, "rb") as f:
                trusted = parse_roster(f.read())
        except (OSError, RosterError) as exc:
            sys.stderr.write("bundle_check.py: trusted roster %s: %s\n" % (roster_path, exc))
            return 2
    v = Verifier(bundle, trusted)
    ok = v.run()
    if as_json:
        print(json.dumps(v.report(bundle), indent=2))
    else:
        print("bundle %s (case %s)" % (bundle, v.case))
        c = v.checked
        print("  envelopes  %d signatures verify" % c["envelopes"])
        print("  files      %d files, %d chunks match their hashes" % (c["files"], c["chunks"]))
        print("  custody    %d signatures verify" % c["custody"])
        print("  proofs     %d audit records proven in signed tree heads" % c["proofs"])
        for w in v.warnings:
            print("  WARNING %s" % w)
        for f in v.failures:
            print("  FAIL %s: %s" % (f["file"], f["message"]))
        print("OK: the bundle verifies" if ok else "FAILED: the bundle does not verify")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
