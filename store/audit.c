/* The audit log's Merkle tree: stored nodes, roots, proofs, tree heads, verify. */
#include <stdarg.h>
#include <stdio.h>

#include "store_int.h"

/*
 * Layout.  Record i is DB_AUDIT_REC[u64 i].  DB_AUDIT_TREE[u64 i] holds the
 * leaf hash of record i followed by the root of every perfect subtree that
 * leaf i completes: level 1, 2, ... t, where t is the number of trailing
 * one bits of i.  So node (level L, index j), covering leaves
 * [j * 2^L, (j + 1) * 2^L), is the L-th hash of entry (j + 1) * 2^L - 1,
 * and every write is an append.  A root or proof needs O(log n) reads.
 */

#define HB PROTO_HASH_BYTES

static unsigned
trailing_ones(uint64_t i)
{
    unsigned t = 0;

    while (i & 1) {
        t++;
        i >>= 1;
    }
    return t;
}

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static store_err
get_node(kv_txn *txn, unsigned level, uint64_t index, uint8_t out[HB])
{
    uint8_t key[8];
    proto_slice v;
    store_err err;

    store_put_u64(key, ((index + 1) << level) - 1);
    err = kv_get(txn, DB_AUDIT_TREE, key, 8, &v);
    if (err == STORE_ERR_NOT_FOUND)
        return STORE_ERR_CORRUPT;
    if (err != STORE_OK)
        return err;
    if (v.len < (size_t)(level + 1) * HB)
        return STORE_ERR_CORRUPT;
    memcpy(out, v.data + (size_t)level * HB, HB);
    return STORE_OK;
}

static store_err
tree_size(kv_txn *txn, uint64_t *size_out)
{
    kv_cursor c;
    proto_slice k;
    store_err err = kv_cursor_open(txn, DB_AUDIT_REC, &c);

    if (err != STORE_OK)
        return err;
    err = kv_cursor_last(&c, &k, NULL);
    kv_cursor_close(&c);
    if (err == STORE_ERR_NOT_FOUND) {
        *size_out = 0;
        return STORE_OK;
    }
    if (err != STORE_OK)
        return err;
    if (k.len != 8)
        return STORE_ERR_CORRUPT;
    *size_out = store_get_u64(k.data) + 1;
    return STORE_OK;
}

/* ---- The frontier (compact range of the whole tree) --------------------- */

store_err
audit_frontier_load(kv_txn *txn, store_frontier *f_out)
{
    store_frontier f;
    uint64_t size, start = 0;
    store_err err;

    memset(&f, 0, sizeof(f));
    err = tree_size(txn, &size);
    if (err != STORE_OK)
        return err;
    for (int level = 63; level >= 0; level--) {
        if (!(size & ((uint64_t)1 << level)))
            continue;
        err = get_node(txn, (unsigned)level, start >> level, f.hash[f.count]);
        if (err != STORE_OK)
            return err;
        f.level[f.count++] = (uint8_t)level;
        start += (uint64_t)1 << level;
    }
    f.size = size;
    *f_out = f;
    return STORE_OK;
}

void
audit_frontier_root(const store_frontier *f, uint8_t out[HB])
{
    uint8_t r[HB];

    if (f->count == 0) {
        proto_sha256(NULL, 0, out);
        return;
    }
    memcpy(r, f->hash[f->count - 1], HB);
    for (unsigned j = f->count - 1; j-- > 0;)
        proto_merkle_node(f->hash[j], r, r);
    memcpy(out, r, HB);
}

/* Adds leaf hash h to f; fills nodes (level 0 .. t) as stored for the leaf. */
static unsigned
frontier_push(store_frontier *f, const uint8_t h[HB], uint8_t nodes[64][HB])
{
    unsigned t = trailing_ones(f->size);
    uint8_t carry[HB];

    memcpy(carry, h, HB);
    memcpy(nodes[0], h, HB);
    for (unsigned level = 1; level <= t; level++) {
        f->count--;
        proto_merkle_node(f->hash[f->count], carry, carry);
        memcpy(nodes[level], carry, HB);
    }
    memcpy(f->hash[f->count], carry, HB);
    f->level[f->count++] = (uint8_t)t;
    f->size++;
    return t;
}

void
audit_frontier_add(store_frontier *f, const uint8_t h[HB])
{
    uint8_t nodes[64][HB];

    frontier_push(f, h, nodes);
}

store_err
audit_append_leaf(kv_txn *txn, store_frontier *f, const uint8_t *rec, size_t len)
{
    uint8_t key[8], h[HB];
    uint8_t nodes[64][HB];
    store_frontier next = *f;
    unsigned t;
    store_err err;

    store_put_u64(key, f->size);
    err = kv_put(txn, DB_AUDIT_REC, key, 8, rec, len, KV_APPEND);
    if (err == STORE_ERR_DUPLICATE)
        return STORE_ERR_CORRUPT; /* a record beyond the tree exists */
    if (err != STORE_OK)
        return err;
    proto_merkle_leaf(rec, len, h);
    t = frontier_push(&next, h, nodes);
    err = kv_put(txn, DB_AUDIT_TREE, key, 8, nodes, (size_t)(t + 1) * HB, KV_APPEND);
    if (err == STORE_ERR_DUPLICATE)
        return STORE_ERR_CORRUPT;
    if (err != STORE_OK)
        return err;
    *f = next;
    return STORE_OK;
}

/* ---- Hashes of ranges, with a small memo for the ragged right edges ----- */

typedef struct memo_entry {
    uint64_t a, b;         /* the range [a, b) */
    uint8_t h[HB];         /* its hash */
} memo_entry;

typedef struct range_ctx {
    kv_txn *txn;           /* where nodes are read */
    size_t used;           /* memo entries filled */
    memo_entry memo[128];  /* ranges already hashed */
} range_ctx;

/* MTH(D[a:b]) for b > a, reading stored perfect subtrees. */
static store_err
range_hash(range_ctx *c, uint64_t a, uint64_t b, uint8_t out[HB])
{
    uint64_t n = b - a, k;
    uint8_t l[HB], r[HB];
    store_err err;

    if ((n & (n - 1)) == 0 && (a & (n - 1)) == 0)
        return get_node(c->txn, (unsigned)__builtin_ctzll(n), a / n, out);
    for (size_t i = 0; i < c->used; i++) {
        if (c->memo[i].a == a && c->memo[i].b == b) {
            memcpy(out, c->memo[i].h, HB);
            return STORE_OK;
        }
    }
    k = split_point(n);
    if ((err = range_hash(c, a, a + k, l)) != STORE_OK ||
        (err = range_hash(c, a + k, b, r)) != STORE_OK)
        return err;
    proto_merkle_node(l, r, out);
    if (c->used < sizeof(c->memo) / sizeof(c->memo[0])) {
        c->memo[c->used].a = a;
        c->memo[c->used].b = b;
        memcpy(c->memo[c->used].h, out, HB);
        c->used++;
    }
    return STORE_OK;
}

static store_err
root_of(range_ctx *c, uint64_t size, uint8_t out[HB])
{
    if (size == 0) {
        proto_sha256(NULL, 0, out);
        return STORE_OK;
    }
    return range_hash(c, 0, size, out);
}

/* RFC 9162 2.1.3.1: PATH(m, D[a:b]); hashes are appended leaf first. */
static store_err
inclusion_path(range_ctx *c, uint64_t m, uint64_t a, uint64_t b, store_inclusion_proof *p)
{
    uint64_t n = b - a, k;
    store_err err;

    if (n == 1)
        return STORE_OK;
    k = split_point(n);
    if (m < k) {
        if ((err = inclusion_path(c, m, a, a + k, p)) != STORE_OK)
            return err;
        err = range_hash(c, a + k, b, p->path[p->count]);
    } else {
        if ((err = inclusion_path(c, m - k, a + k, b, p)) != STORE_OK)
            return err;
        err = range_hash(c, a, a + k, p->path[p->count]);
    }
    if (err == STORE_OK)
        p->count++;
    return err;
}

/* RFC 9162 2.1.4.1: SUBPROOF(m, D[a:b], flag). */
static store_err
subproof(range_ctx *c, uint64_t m, uint64_t a, uint64_t b, bool flag,
         store_consistency_proof *p)
{
    uint64_t n = b - a, k;
    store_err err;

    if (m == n) {
        if (flag)
            return STORE_OK;
        err = range_hash(c, a, b, p->path[p->count]);
        if (err == STORE_OK)
            p->count++;
        return err;
    }
    k = split_point(n);
    if (m <= k) {
        if ((err = subproof(c, m, a, a + k, flag, p)) != STORE_OK)
            return err;
        err = range_hash(c, a + k, b, p->path[p->count]);
    } else {
        if ((err = subproof(c, m - k, a + k, b, false, p)) != STORE_OK)
            return err;
        err = range_hash(c, a, a + k, p->path[p->count]);
    }
    if (err == STORE_OK)
        p->count++;
    return err;
}

/* ---- Public reads --------------------------------------------------------- */

store_err
store_audit_size(store_read *r, uint64_t *size_out)
{
    return tree_size(&r->txn, size_out);
}

store_err
store_audit_get_raw(store_read *r, uint64_t index, proto_slice *bytes_out)
{
    uint8_t key[8];
    store_err err;

    store_put_u64(key, index);
    err = kv_get(&r->txn, DB_AUDIT_REC, key, 8, bytes_out);
    return err == STORE_ERR_NOT_FOUND ? STORE_ERR_RANGE : err;
}

store_err
store_audit_get(store_read *r, uint64_t index, store_audit_record *rec_out)
{
    proto_slice v;
    store_err err = store_audit_get_raw(r, index, &v);

    if (err != STORE_OK)
        return err;
    return store_audit_decode(v.data, v.len, rec_out, NULL) == STORE_OK ? STORE_OK
                                                                        : STORE_ERR_CORRUPT;
}

store_err
store_audit_root(store_read *r, uint64_t size, uint8_t root_out[HB])
{
    range_ctx c = {.txn = &r->txn};
    uint64_t n;
    store_err err = tree_size(&r->txn, &n);

    if (err != STORE_OK)
        return err;
    if (size > n)
        return STORE_ERR_RANGE;
    return root_of(&c, size, root_out);
}

store_err
store_audit_inclusion(store_read *r, uint64_t leaf, uint64_t size, store_inclusion_proof *proof_out)
{
    range_ctx c = {.txn = &r->txn};
    store_inclusion_proof *p = proof_out;
    uint64_t n;
    store_err err = tree_size(&r->txn, &n);

    if (err != STORE_OK)
        return err;
    if (size > n || leaf >= size)
        return STORE_ERR_RANGE;
    p->leaf_index = leaf;
    p->tree_size = size;
    p->count = 0;
    if ((err = get_node(&r->txn, 0, leaf, p->leaf_hash)) != STORE_OK ||
        (err = inclusion_path(&c, leaf, 0, size, p)) != STORE_OK ||
        (err = root_of(&c, size, p->root)) != STORE_OK)
        return err;
    return STORE_OK;
}

store_err
store_audit_consistency(store_read *r, uint64_t first, uint64_t second,
                        store_consistency_proof *proof_out)
{
    range_ctx c = {.txn = &r->txn};
    store_consistency_proof *p = proof_out;
    uint64_t n;
    store_err err = tree_size(&r->txn, &n);

    if (err != STORE_OK)
        return err;
    if (second > n || first > second)
        return STORE_ERR_RANGE;
    p->first = first;
    p->second = second;
    p->count = 0;
    if (first > 0 && first < second && (err = subproof(&c, first, 0, second, true, p)) != STORE_OK)
        return err;
    if ((err = root_of(&c, first, p->first_root)) != STORE_OK ||
        (err = root_of(&c, second, p->second_root)) != STORE_OK)
        return err;
    return STORE_OK;
}

/* ---- Signed tree heads ---------------------------------------------------- */

#define HEAD_VALUE_BYTES (8u + HB + 8u + PROTO_SIGNATURE_BYTES)

static void
head_encode(const store_tree_head *h, uint8_t out[HEAD_VALUE_BYTES])
{
    store_put_u64(out, h->tree_size);
    memcpy(out + 8, h->root, HB);
    store_put_u64(out + 8 + HB, h->time_ms);
    memcpy(out + 16 + HB, h->signature, PROTO_SIGNATURE_BYTES);
}

static store_err
head_decode(proto_slice key, proto_slice v, store_tree_head *h)
{
    if (key.len != 8 || v.len != HEAD_VALUE_BYTES)
        return STORE_ERR_CORRUPT;
    h->tree_size = store_get_u64(v.data);
    memcpy(h->root, v.data + 8, HB);
    h->time_ms = store_get_u64(v.data + 8 + HB);
    memcpy(h->signature, v.data + 16 + HB, PROTO_SIGNATURE_BYTES);
    return h->tree_size == store_get_u64(key.data) ? STORE_OK : STORE_ERR_CORRUPT;
}

store_err
audit_head_put(store *s, kv_txn *txn, const store_frontier *f, uint64_t now,
               store_tree_head *head_out)
{
    store_tree_head h;
    uint8_t msg[STORE_HEAD_SIGNED_BYTES], key[8], val[HEAD_VALUE_BYTES];
    store_err err;

    if (s->sign_secret == NULL)
        return STORE_ERR_KEY;
    memset(&h, 0, sizeof(h));
    h.tree_size = f->size;
    h.time_ms = now;
    audit_frontier_root(f, h.root);
    store_tree_head_signed_input(&h, msg);
    sign_detached(s->sign_secret, msg, sizeof(msg), h.signature);
    store_put_u64(key, h.tree_size);
    head_encode(&h, val);
    /* One head per size: the first one signed for a size is kept. */
    err = kv_put(txn, DB_AUDIT_HEAD, key, 8, val, sizeof(val), KV_NOOVERWRITE);
    if (err != STORE_OK && err != STORE_ERR_DUPLICATE)
        return err;
    if (head_out != NULL)
        *head_out = h;
    return STORE_OK;
}

store_err
audit_head_latest(kv_txn *txn, store_tree_head *head_out)
{
    kv_cursor c;
    proto_slice k, v;
    store_err err = kv_cursor_open(txn, DB_AUDIT_HEAD, &c);

    if (err != STORE_OK)
        return err;
    err = kv_cursor_last(&c, &k, &v);
    if (err == STORE_OK)
        err = head_decode(k, v, head_out);
    kv_cursor_close(&c);
    return err;
}

store_err
store_audit_head_latest(store_read *r, store_tree_head *head_out)
{
    return audit_head_latest(&r->txn, head_out);
}

store_err
store_audit_head_get(store_read *r, uint64_t size, store_tree_head *head_out)
{
    uint8_t key[8];
    proto_slice v;
    store_err err;

    store_put_u64(key, size);
    err = kv_get(&r->txn, DB_AUDIT_HEAD, key, 8, &v);
    if (err != STORE_OK)
        return err;
    return head_decode((proto_slice){key, 8}, v, head_out);
}

store_err
store_audit_public_key(store_read *r, uint8_t out[PROTO_SIGN_PUBLIC_BYTES])
{
    proto_slice v;
    store_err err = kv_get(&r->txn, DB_META, "sign_public", 11, &v);

    if (err == STORE_ERR_NOT_FOUND)
        return STORE_ERR_KEY;
    if (err != STORE_OK)
        return err;
    if (v.len != PROTO_SIGN_PUBLIC_BYTES)
        return STORE_ERR_CORRUPT;
    memcpy(out, v.data, PROTO_SIGN_PUBLIC_BYTES);
    return STORE_OK;
}

/* ---- Verify --------------------------------------------------------------- */

typedef struct verifier {
    kv_txn *txn;                     /* read transaction */
    kv_cursor heads;                 /* over DB_AUDIT_HEAD */
    bool head_more;                  /* heads has a current entry */
    proto_slice hk, hv;              /* its key and value */
    const uint8_t *pub;              /* key heads are checked with, or NULL */
    store_verify_report *rep;        /* what we found */
} verifier;

static bool
fail(store_verify_report *rep, uint8_t what, uint64_t index, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static bool
fail(store_verify_report *rep, uint8_t what, uint64_t index, const char *fmt, ...)
{
    va_list ap;

    rep->failure = what;
    rep->index = index;
    va_start(ap, fmt);
    vsnprintf(rep->text, sizeof(rep->text), fmt, ap);
    va_end(ap);
    return false;
}

/* Checks every head whose size is f->size; false on the first bad one. */
static store_err
check_heads(verifier *v, const store_frontier *f, bool *ok)
{
    store_tree_head h;
    uint8_t root[HB];
    store_err err;

    *ok = true;
    while (v->head_more) {
        uint64_t size = v->hk.len == 8 ? store_get_u64(v->hk.data) : UINT64_MAX;

        if (size > f->size)
            return STORE_OK;
        if (head_decode(v->hk, v->hv, &h) != STORE_OK || size < f->size) {
            /* size < f->size cannot happen with sorted keys unless damaged. */
            v->rep->head_size = size;
            *ok = fail(v->rep, STORE_VERIFY_HEAD, size, "tree head stored for size %llu is damaged",
                       (unsigned long long)size);
            return STORE_OK;
        }
        audit_frontier_root(f, root);
        if (!ct_equal(root, h.root, HB)) {
            v->rep->head_size = size;
            *ok = fail(v->rep, STORE_VERIFY_HEAD, size,
                       "tree head for size %llu has a root that the records do not give",
                       (unsigned long long)size);
            return STORE_OK;
        }
        if (v->pub == NULL || store_tree_head_verify(&h, v->pub) != STORE_OK) {
            v->rep->head_size = size;
            *ok = fail(v->rep, STORE_VERIFY_SIGNATURE, size,
                       "tree head for size %llu: signature does not verify",
                       (unsigned long long)size);
            return STORE_OK;
        }
        v->rep->heads_checked++;
        err = kv_cursor_next(&v->heads, &v->hk, &v->hv);
        if (err == STORE_ERR_NOT_FOUND)
            v->head_more = false;
        else if (err != STORE_OK)
            return err;
    }
    return STORE_OK;
}

/* Checks leaf idx: its record and its tree entry; advances f. */
static bool
check_leaf(verifier *v, store_frontier *f, uint64_t idx, proto_slice rk, proto_slice rv,
           store_err tree_err, proto_slice tk, proto_slice tv)
{
    store_audit_record rec;
    proto_detail d;
    uint8_t h[HB], nodes[64][HB];
    unsigned t;

    if (rk.len != 8 || store_get_u64(rk.data) != idx)
        return fail(v->rep, STORE_VERIFY_RECORD, idx, "record %llu is missing",
                    (unsigned long long)idx);
    if (store_audit_decode(rv.data, rv.len, &rec, &d) != STORE_OK)
        return fail(v->rep, STORE_VERIFY_RECORD, idx, "record %llu does not decode: %s",
                    (unsigned long long)idx, d.text);
    if (tree_err != STORE_OK || tk.len != 8 || store_get_u64(tk.data) != idx)
        return fail(v->rep, STORE_VERIFY_LEAF, idx, "tree entry of record %llu is missing",
                    (unsigned long long)idx);
    t = trailing_ones(idx);
    if (tv.len != (size_t)(t + 1) * HB)
        return fail(v->rep, STORE_VERIFY_NODE, idx,
                    "tree entry of record %llu has %zu bytes, %u expected",
                    (unsigned long long)idx, tv.len, (t + 1) * HB);
    proto_merkle_leaf(rv.data, rv.len, h);
    frontier_push(f, h, nodes);
    for (unsigned level = 0; level <= t; level++) {
        if (!ct_equal(nodes[level], tv.data + (size_t)level * HB, HB)) {
            v->rep->level = (uint8_t)level;
            if (level == 0)
                return fail(v->rep, STORE_VERIFY_LEAF, idx,
                            "record %llu does not match its stored leaf hash",
                            (unsigned long long)idx);
            return fail(v->rep, STORE_VERIFY_NODE, idx,
                        "stored node at level %u completed by record %llu (records %llu..%llu) "
                        "does not match",
                        level, (unsigned long long)idx,
                        (unsigned long long)(idx + 1 - ((uint64_t)1 << level)),
                        (unsigned long long)idx);
        }
    }
    return true;
}

store_err
store_audit_verify(store_read *r, const uint8_t *sign_public, store_verify_report *report_out)
{
    verifier v;
    store_verify_report rep;
    store_frontier f;
    kv_cursor recs = {0}, tree = {0};
    proto_slice rk, rv, tk = {0}, tv = {0};
    uint8_t stored_pub[PROTO_SIGN_PUBLIC_BYTES];
    store_err err, rerr, terr;
    uint64_t idx = 0;
    bool ok = true;

    memset(&v, 0, sizeof(v));
    memset(&rep, 0, sizeof(rep));
    memset(&f, 0, sizeof(f));
    v.txn = &r->txn;
    v.rep = &rep;
    v.pub = sign_public;
    if (v.pub == NULL) {
        err = store_audit_public_key(r, stored_pub);
        if (err == STORE_OK)
            v.pub = stored_pub;
        else if (err != STORE_ERR_KEY)
            return err;
    }
    if ((err = kv_cursor_open(&r->txn, DB_AUDIT_HEAD, &v.heads)) != STORE_OK)
        return err;
    if ((err = kv_cursor_open(&r->txn, DB_AUDIT_REC, &recs)) != STORE_OK ||
        (err = kv_cursor_open(&r->txn, DB_AUDIT_TREE, &tree)) != STORE_OK)
        goto out;
    err = kv_cursor_seek(&v.heads, NULL, 0, &v.hk, &v.hv);
    if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
        goto out;
    v.head_more = err == STORE_OK;
    if (v.head_more && v.pub == NULL) {
        err = STORE_ERR_KEY;
        goto out;
    }
    rerr = kv_cursor_seek(&recs, NULL, 0, &rk, &rv);
    terr = kv_cursor_seek(&tree, NULL, 0, &tk, &tv);
    for (;;) {
        if ((err = check_heads(&v, &f, &ok)) != STORE_OK || !ok)
            goto out;
        if (rerr == STORE_ERR_NOT_FOUND)
            break;
        if (rerr != STORE_OK) {
            err = rerr;
            goto out;
        }
        if (terr != STORE_OK && terr != STORE_ERR_NOT_FOUND) {
            err = terr;
            goto out;
        }
        if (!check_leaf(&v, &f, idx, rk, rv, terr, tk, tv)) {
            ok = false;
            goto out;
        }
        idx++;
        rerr = kv_cursor_next(&recs, &rk, &rv);
        terr = kv_cursor_next(&tree, &tk, &tv);
    }
    if (terr == STORE_OK) {
        ok = fail(&rep, STORE_VERIFY_EXTRA, idx, "tree entries stored beyond the last record %llu",
                  (unsigned long long)idx);
        goto out;
    }
    if (v.head_more) {
        uint64_t size = v.hk.len == 8 ? store_get_u64(v.hk.data) : 0;

        rep.head_size = size;
        ok = fail(&rep, STORE_VERIFY_HEAD, size,
                  "tree head for size %llu is beyond the log of %llu records",
                  (unsigned long long)size, (unsigned long long)idx);
        rep.index = idx;
        goto out;
    }
    err = STORE_OK;
out:
    kv_cursor_close(&tree);
    kv_cursor_close(&recs);
    kv_cursor_close(&v.heads);
    if (err != STORE_OK)
        return err;
    rep.tree_size = f.size;
    audit_frontier_root(&f, rep.root);
    if (ok) {
        rep.failure = STORE_VERIFY_OK;
        snprintf(rep.text, sizeof(rep.text), "%llu records and %llu tree heads verified",
                 (unsigned long long)rep.tree_size, (unsigned long long)rep.heads_checked);
    }
    *report_out = rep;
    return STORE_OK;
}
