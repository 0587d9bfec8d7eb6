/* Audit records: the canonical encoding (docs/audit.md), RFC 9162 hashing and proofs, and the
 * signed tree head check; pure functions, no LMDB (libliaison links them to verify bundles). */
#include "store_int.h"

static const char *const event_names[STORE_EV_MAX + 1] = {
    [STORE_EV_RECEIVED] = "received",
    [STORE_EV_ACCEPTED] = "accepted",
    [STORE_EV_REJECTED] = "rejected",
    [STORE_EV_RELEASED] = "released",
    [STORE_EV_WITHHELD] = "withheld",
    [STORE_EV_DENIED] = "denied",
    [STORE_EV_FORWARDED] = "forwarded",
    [STORE_EV_DELIVERED] = "delivered",
    [STORE_EV_RECEIPTED] = "receipted",
    [STORE_EV_EXPIRED] = "expired",
    [STORE_EV_POLICY_RELOADED] = "policy-reloaded",
    [STORE_EV_PEER_UP] = "peer-up",
    [STORE_EV_PEER_DOWN] = "peer-down",
    [STORE_EV_KEY_REFUSED] = "key-refused",
    [STORE_EV_TREE_HEAD_EXCHANGED] = "tree-head-exchanged",
    [STORE_EV_CONSISTENCY_FAILED] = "consistency-failed",
    [STORE_EV_REFUSED] = "refused",
    [STORE_EV_DAMAGED] = "damaged",
    [STORE_EV_ROSTER_UPDATED] = "roster-updated",
    [STORE_EV_RECALLED] = "recalled",
    [STORE_EV_DELETED] = "deleted",
    [STORE_EV_HELD] = "held",
};

const char *
store_audit_event_name(uint8_t event)
{
    return event >= 1 && event <= STORE_EV_MAX ? event_names[event] : NULL;
}

/* ---- Encoding ------------------------------------------------------------ */

/* The text fields, in encoding order, with their limits. */
typedef struct text_field {
    const char *name;  /* for details */
    size_t max;        /* bytes */
} text_field;

static const text_field f_party = {"party", STORE_PARTY_MAX};
static const text_field f_counterpart = {"counterpart", STORE_PARTY_MAX};
static const text_field f_purpose = {"purpose", STORE_PURPOSE_MAX};
static const text_field f_rule = {"rule_id", STORE_RULE_MAX};
static const text_field f_detail = {"detail", STORE_DETAIL_MAX};
static const text_field f_kind = {"kind", STORE_KIND_MAX};
static const text_field f_actor = {"actor", STORE_ACTOR_MAX};

/* Text is bytes 0x20..0x7E and 0x80..0xFF: no control characters, so that
 * records print safely; UTF-8 is not checked. */
static bool
text_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return false;
    }
    return true;
}

static store_err
put_text(uint8_t *buf, size_t *pos, const char *s, size_t max_field, const text_field *f,
         proto_detail *detail)
{
    size_t n = strnlen(s, max_field + 1);

    (void)max_field;
    if (n > f->max) {
        store_detail_set(detail, f->name, "%s is longer than %zu bytes", f->name, f->max);
        return STORE_ERR_LIMIT;
    }
    if (!text_ok((const uint8_t *)s, n)) {
        store_detail_set(detail, f->name, "%s contains a control character", f->name);
        return STORE_ERR_INVALID;
    }
    buf[(*pos)++] = (uint8_t)n;
    memcpy(buf + *pos, s, n);
    *pos += n;
    return STORE_OK;
}

store_err
store_audit_encode(const store_audit_record *rec, uint8_t *buf, size_t cap, size_t *len_out,
                   proto_detail *detail)
{
    uint8_t tmp[STORE_AUDIT_RECORD_MAX];
    size_t pos = 0;
    store_err err;
    bool v1;

    if (store_audit_event_name(rec->event) == NULL) {
        store_detail_set(detail, "event", "unknown audit event %u", rec->event);
        return STORE_ERR_INVALID;
    }
    /* A record read from a version-1 leaf encodes back to the same bytes; any
     * other record is written as version 2. */
    v1 = rec->version == STORE_AUDIT_VERSION_1;
    if (v1 && (rec->kind[0] != '\0' || rec->actor[0] != '\0')) {
        store_detail_set(detail, "version", "a version-1 record has no kind and no actor");
        return STORE_ERR_INVALID;
    }
    tmp[pos++] = v1 ? STORE_AUDIT_VERSION_1 : STORE_AUDIT_VERSION;
    store_put_u64(tmp + pos, rec->time_ms);
    pos += 8;
    tmp[pos++] = rec->event;
    memcpy(tmp + pos, rec->id, PROTO_ID_BYTES);
    pos += PROTO_ID_BYTES;
    if ((err = put_text(tmp, &pos, rec->party, sizeof(rec->party), &f_party, detail)) != STORE_OK ||
        (err = put_text(tmp, &pos, rec->counterpart, sizeof(rec->counterpart), &f_counterpart,
                        detail)) != STORE_OK ||
        (err = put_text(tmp, &pos, rec->purpose, sizeof(rec->purpose), &f_purpose, detail)) !=
            STORE_OK ||
        (err = put_text(tmp, &pos, rec->rule_id, sizeof(rec->rule_id), &f_rule, detail)) != STORE_OK)
        return err;
    memcpy(tmp + pos, rec->policy_hash, PROTO_HASH_BYTES);
    pos += PROTO_HASH_BYTES;
    memcpy(tmp + pos, rec->envelope_hash, PROTO_HASH_BYTES);
    pos += PROTO_HASH_BYTES;
    if ((err = put_text(tmp, &pos, rec->detail, sizeof(rec->detail), &f_detail, detail)) != STORE_OK)
        return err;
    if (!v1 &&
        ((err = put_text(tmp, &pos, rec->kind, sizeof(rec->kind), &f_kind, detail)) != STORE_OK ||
         (err = put_text(tmp, &pos, rec->actor, sizeof(rec->actor), &f_actor, detail)) != STORE_OK))
        return err;
    if (pos > cap) {
        store_detail_set(detail, "record", "record needs %zu bytes, buffer has %zu", pos, cap);
        return STORE_ERR_LIMIT;
    }
    memcpy(buf, tmp, pos);
    *len_out = pos;
    return STORE_OK;
}

/* ---- Decoding ------------------------------------------------------------ */

typedef struct rd {
    const uint8_t *p;  /* next unread byte */
    size_t left;       /* bytes left */
} rd;

static bool
rd_bytes(rd *r, void *out, size_t n)
{
    if (r->left < n)
        return false;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return true;
}

static store_err
rd_text(rd *r, const text_field *f, char *out, proto_detail *detail)
{
    size_t n;

    if (r->left < 1) {
        store_detail_set(detail, f->name, "record ends before %s", f->name);
        return STORE_ERR_DECODE;
    }
    n = r->p[0];
    if (n > f->max) {
        store_detail_set(detail, f->name, "%s: %zu bytes, at most %zu allowed", f->name, n, f->max);
        return STORE_ERR_DECODE;
    }
    if (r->left - 1 < n) {
        store_detail_set(detail, f->name, "record ends inside %s", f->name);
        return STORE_ERR_DECODE;
    }
    if (!text_ok(r->p + 1, n)) {
        store_detail_set(detail, f->name, "%s contains a control character or NUL", f->name);
        return STORE_ERR_DECODE;
    }
    memcpy(out, r->p + 1, n);
    out[n] = '\0';
    r->p += 1 + n;
    r->left -= 1 + n;
    return STORE_OK;
}

store_err
store_audit_decode(const uint8_t *buf, size_t len, store_audit_record *rec_out,
                   proto_detail *detail)
{
    store_audit_record rec;
    rd r = {buf, len};
    uint8_t version, time_be[8];
    store_err err;

    if (buf == NULL && len != 0)
        return STORE_ERR_INVALID;
    memset(&rec, 0, sizeof(rec));
    if (!rd_bytes(&r, &version, 1)) {
        store_detail_set(detail, "version", "empty record");
        return STORE_ERR_DECODE;
    }
    if (version != STORE_AUDIT_VERSION_1 && version != STORE_AUDIT_VERSION) {
        store_detail_set(detail, "version", "unknown record version %u", version);
        return STORE_ERR_DECODE;
    }
    if (!rd_bytes(&r, time_be, 8) || !rd_bytes(&r, &rec.event, 1) ||
        !rd_bytes(&r, rec.id, PROTO_ID_BYTES)) {
        store_detail_set(detail, "header", "record ends inside its header");
        return STORE_ERR_DECODE;
    }
    rec.version = version;
    rec.time_ms = store_get_u64(time_be);
    if (store_audit_event_name(rec.event) == NULL) {
        store_detail_set(detail, "event", "unknown audit event %u", rec.event);
        return STORE_ERR_DECODE;
    }
    if ((err = rd_text(&r, &f_party, rec.party, detail)) != STORE_OK ||
        (err = rd_text(&r, &f_counterpart, rec.counterpart, detail)) != STORE_OK ||
        (err = rd_text(&r, &f_purpose, rec.purpose, detail)) != STORE_OK ||
        (err = rd_text(&r, &f_rule, rec.rule_id, detail)) != STORE_OK)
        return err;
    if (!rd_bytes(&r, rec.policy_hash, PROTO_HASH_BYTES) ||
        !rd_bytes(&r, rec.envelope_hash, PROTO_HASH_BYTES)) {
        store_detail_set(detail, "hashes", "record ends inside its hashes");
        return STORE_ERR_DECODE;
    }
    if ((err = rd_text(&r, &f_detail, rec.detail, detail)) != STORE_OK)
        return err;
    /* Version 1 ends here; version 2 appends the kind and the actor. */
    if (version == STORE_AUDIT_VERSION &&
        ((err = rd_text(&r, &f_kind, rec.kind, detail)) != STORE_OK ||
         (err = rd_text(&r, &f_actor, rec.actor, detail)) != STORE_OK))
        return err;
    if (r.left != 0) {
        store_detail_set(detail, "record", "%zu unexpected bytes after the last field", r.left);
        return STORE_ERR_DECODE;
    }
    *rec_out = rec;
    return STORE_OK;
}

/* ---- RFC 9162 hashing ---------------------------------------------------- */

void
store_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[PROTO_HASH_BYTES])
{
    proto_merkle_leaf(data, len, out);
}

void
store_merkle_node_hash(const uint8_t left[PROTO_HASH_BYTES], const uint8_t right[PROTO_HASH_BYTES],
                       uint8_t out[PROTO_HASH_BYTES])
{
    proto_merkle_node(left, right, out);
}

/* RFC 9162 section 2.1.3.2. */
store_err
store_merkle_verify_inclusion(uint64_t leaf_index, uint64_t tree_size,
                              const uint8_t leaf_hash[PROTO_HASH_BYTES],
                              const uint8_t (*path)[PROTO_HASH_BYTES], size_t count,
                              const uint8_t root[PROTO_HASH_BYTES])
{
    uint8_t r[PROTO_HASH_BYTES];

    if (count > STORE_PROOF_MAX ||
        proto_merkle_root_from_path(leaf_index, tree_size, leaf_hash, path, count, r) != PROTO_OK)
        return STORE_ERR_PROOF;
    return ct_equal(r, root, PROTO_HASH_BYTES) ? STORE_OK : STORE_ERR_PROOF;
}

/* RFC 9162 section 2.1.4.2. */
store_err
store_merkle_verify_consistency(uint64_t first, uint64_t second,
                                const uint8_t first_root[PROTO_HASH_BYTES],
                                const uint8_t second_root[PROTO_HASH_BYTES],
                                const uint8_t (*path)[PROTO_HASH_BYTES], size_t count)
{
    uint8_t fr[PROTO_HASH_BYTES], sr[PROTO_HASH_BYTES];
    uint64_t fn, sn;
    size_t i = 0;

    if (first > second || count > STORE_PROOF_MAX || (count > 0 && path == NULL))
        return STORE_ERR_PROOF;
    if (first == second) {
        /* Same tree: no proof, same root. */
        if (count != 0)
            return STORE_ERR_PROOF;
        return ct_equal(first_root, second_root, PROTO_HASH_BYTES) ? STORE_OK : STORE_ERR_PROOF;
    }
    if (first == 0) {
        /* Every tree is consistent with the empty tree; the proof is empty. */
        return count == 0 ? STORE_OK : STORE_ERR_PROOF;
    }
    if (count == 0)
        return STORE_ERR_PROOF;
    fn = first - 1;
    sn = second - 1;
    /* Step 2: if first is an exact power of 2, prepend first_root. */
    bool pow2 = (first & (first - 1)) == 0;
    const uint8_t *c0 = pow2 ? first_root : path[0];
    if (!pow2)
        i = 1;
    /* Step 4: shift while LSB(fn) is set. */
    while ((fn & 1) == 1) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, c0, PROTO_HASH_BYTES);
    memcpy(sr, c0, PROTO_HASH_BYTES);
    for (; i < count; i++) {
        if (sn == 0)
            return STORE_ERR_PROOF;
        if ((fn & 1) == 1 || fn == sn) {
            proto_merkle_node(path[i], fr, fr);
            proto_merkle_node(path[i], sr, sr);
            if ((fn & 1) == 0) {
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            proto_merkle_node(sr, path[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return STORE_ERR_PROOF;
    if (!ct_equal(fr, first_root, PROTO_HASH_BYTES) || !ct_equal(sr, second_root, PROTO_HASH_BYTES))
        return STORE_ERR_PROOF;
    return STORE_OK;
}

/* ---- Signed tree heads ---------------------------------------------------- */

void
store_tree_head_signed_input(const store_tree_head *head, uint8_t out[STORE_HEAD_SIGNED_BYTES])
{
    memcpy(out, STORE_HEAD_CONTEXT, STORE_HEAD_CONTEXT_BYTES); /* with its NUL */
    store_put_u64(out + STORE_HEAD_CONTEXT_BYTES, head->tree_size);
    memcpy(out + STORE_HEAD_CONTEXT_BYTES + 8, head->root, PROTO_HASH_BYTES);
    store_put_u64(out + STORE_HEAD_CONTEXT_BYTES + 8 + PROTO_HASH_BYTES, head->time_ms);
}

store_err
store_tree_head_verify(const store_tree_head *head, const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES])
{
    uint8_t msg[STORE_HEAD_SIGNED_BYTES];

    store_tree_head_signed_input(head, msg);
    return sign_verify(sign_public, msg, sizeof(msg), head->signature) ? STORE_OK
                                                                       : STORE_ERR_SIGNATURE;
}
