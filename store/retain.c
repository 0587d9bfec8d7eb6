/* The retention sweep: messages whose retention ended are deleted, or kept by a hold, and audited. */
#include <stdio.h>

#include "store_int.h"

#define ID PROTO_ID_BYTES
#define DAY_MS 86400000ull

/* ---- The retention record ------------------------------------------------ */

static size_t
put_str8(uint8_t *p, const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n > max)
        return 0;
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return 1 + n;
}

size_t
retain_encode(const store_retention *r, uint8_t *buf, size_t cap)
{
    const char *texts[5] = {r->kind, r->case_id, r->rule, r->sender, r->held};
    const size_t maxes[5] = {PROTO_KIND_MAX, PROTO_CASE_ID_MAX, STORE_RULE_MAX,
                             PROTO_ADDR_TEXT_MAX, STORE_RULE_MAX};
    size_t off = 8 + 8 + PROTO_HASH_BYTES;

    if (cap < RETAIN_VALUE_MAX)
        return 0;
    store_put_u64(buf, r->created_ms);
    store_put_u64(buf + 8, r->keep_ms);
    memcpy(buf + 16, r->envelope_hash, PROTO_HASH_BYTES);
    for (int i = 0; i < 5; i++) {
        size_t n = put_str8(buf + off, texts[i], maxes[i]);

        if (n == 0)
            return 0;
        off += n;
    }
    return off;
}

static bool
get_str8(proto_slice v, size_t *off, char *out, size_t size)
{
    size_t n;

    if (*off >= v.len)
        return false;
    n = v.data[*off];
    if (n >= size || *off + 1 + n > v.len)
        return false;
    memcpy(out, v.data + *off + 1, n);
    out[n] = '\0';
    *off += 1 + n;
    return true;
}

static store_err
retain_decode(const uint8_t key[8 + ID], proto_slice v, store_retention *r)
{
    size_t off = 8 + 8 + PROTO_HASH_BYTES;

    memset(r, 0, sizeof(*r));
    if (v.len < off)
        return STORE_ERR_CORRUPT;
    r->due_ms = store_get_u64(key);
    memcpy(r->id, key + 8, ID);
    r->created_ms = store_get_u64(v.data);
    r->keep_ms = store_get_u64(v.data + 8);
    memcpy(r->envelope_hash, v.data + 16, PROTO_HASH_BYTES);
    if (!get_str8(v, &off, r->kind, sizeof(r->kind)) ||
        !get_str8(v, &off, r->case_id, sizeof(r->case_id)) ||
        !get_str8(v, &off, r->rule, sizeof(r->rule)) ||
        !get_str8(v, &off, r->sender, sizeof(r->sender)) ||
        !get_str8(v, &off, r->held, sizeof(r->held)) || off != v.len)
        return STORE_ERR_CORRUPT;
    return STORE_OK;
}

/* ---- The sweep -------------------------------------------------------------- */

typedef struct retain_ctx {
    uint64_t now;              /* the sweep's time */
    store_hold_fn held_fn;     /* the caller's hold lookup, or NULL */
    void *held_ctx;            /* passed to it */
    size_t deleted;            /* messages deleted */
    size_t held;               /* messages a hold kept */
    bool more;                 /* work remains */
    store_frontier f;          /* the tree as the sweep appends to it */
} retain_ctx;

/* "183d" when whole days, else "90s". */
static void
duration_text(uint64_t ms, char *out, size_t cap)
{
    if (ms % DAY_MS == 0)
        snprintf(out, cap, "%llud", (unsigned long long)(ms / DAY_MS));
    else
        snprintf(out, cap, "%llus", (unsigned long long)(ms / 1000u));
}

static store_err
audit(kv_txn *txn, retain_ctx *c, const store_retention *r, uint8_t event, const char *rule,
      const char *detail)
{
    store_audit_record rec;
    uint8_t buf[STORE_AUDIT_RECORD_MAX];
    size_t len;
    store_err err;

    memset(&rec, 0, sizeof(rec));
    rec.time_ms = c->now;
    rec.event = event;
    memcpy(rec.id, r->id, ID);
    snprintf(rec.party, sizeof(rec.party), "%s", r->sender);
    snprintf(rec.kind, sizeof(rec.kind), "%s", r->kind);
    snprintf(rec.rule_id, sizeof(rec.rule_id), "%s", rule);
    memcpy(rec.envelope_hash, r->envelope_hash, PROTO_HASH_BYTES);
    snprintf(rec.detail, sizeof(rec.detail), "%s", detail);
    if ((err = store_audit_encode(&rec, buf, sizeof(buf), &len, NULL)) != STORE_OK)
        return err;
    return audit_append_leaf(txn, &c->f, buf, len);
}

/* Deletes what the store holds of r: envelope, expiry entry, queue entries, states. */
static store_err
delete_one(kv_txn *txn, retain_ctx *c, const store_retention *r)
{
    store_envelope_info info;
    proto_slice v;
    uint8_t xkey[8 + ID];
    char created[PROTO_TIME_TEXT_BYTES], kept[24], detail[STORE_DETAIL_MAX + 1];
    size_t removed;
    store_err err;

    err = kv_get(txn, DB_ENVELOPE, r->id, ID, &v);
    if (err == STORE_OK) {
        if ((err = msg_env_decode(r->id, v, &info, NULL)) != STORE_OK)
            return err;
        store_put_u64(xkey, info.expires_ms);
        memcpy(xkey + 8, r->id, ID);
        err = kv_del(txn, DB_EXPIRY, xkey, sizeof(xkey));
        if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
            return err;
        if ((err = kv_del(txn, DB_ENVELOPE, r->id, ID)) != STORE_OK)
            return err;
    } else if (err != STORE_ERR_NOT_FOUND) {
        return err;
    }
    if ((err = msg_dequeue_all(txn, r->id, NULL, 0, &removed)) != STORE_OK ||
        (err = msg_states_delete(txn, r->id)) != STORE_OK)
        return err;
    proto_time_format(r->created_ms, created);
    duration_text(r->keep_ms, kept, sizeof(kept));
    snprintf(detail, sizeof(detail), "retention %s: created %s, kept %s", r->rule, created, kept);
    return audit(txn, c, r, STORE_EV_DELETED, r->rule, detail);
}

/* Keeps r for a hold: audits it once per hold, and looks again when it ends. */
static store_err
keep_one(kv_txn *txn, retain_ctx *c, const uint8_t key[8 + ID], store_retention *r,
         const store_hold *h)
{
    uint8_t nkey[8 + ID], val[RETAIN_VALUE_MAX];
    char detail[STORE_DETAIL_MAX + 1];
    size_t vlen;
    store_err err;

    if (strcmp(r->held, h->id) != 0) {
        int room = (int)(sizeof(detail) - 8u - strlen(h->id)); /* the reason is cut to fit */

        snprintf(detail, sizeof(detail), "hold %s: %.*s", h->id, room, h->reason);
        if ((err = audit(txn, c, r, STORE_EV_HELD, h->id, detail)) != STORE_OK)
            return err;
        snprintf(r->held, sizeof(r->held), "%s", h->id);
    }
    if ((err = kv_del(txn, DB_RETAIN, key, 8 + ID)) != STORE_OK)
        return err;
    r->due_ms = h->until_ms == UINT64_MAX || h->until_ms <= c->now ? c->now + DAY_MS
                                                                   : h->until_ms;
    store_put_u64(nkey, r->due_ms);
    memcpy(nkey + 8, r->id, ID);
    if ((vlen = retain_encode(r, val, sizeof(val))) == 0)
        return STORE_ERR_CORRUPT;
    return kv_put(txn, DB_RETAIN, nkey, sizeof(nkey), val, vlen, 0);
}

static store_err
retain_fn(store *s, kv_txn *txn, void *ctx)
{
    retain_ctx *c = ctx;
    kv_cursor cur;
    proto_slice k, v;
    uint8_t key[8 + ID];
    store_retention r;
    store_hold h;
    store_err err;

    c->deleted = 0;
    c->held = 0;
    c->more = false;
    c->f = s->frontier;
    for (unsigned i = 0; i < STORE_RETAIN_SWEEP_MAX; i++) {
        if ((err = kv_cursor_open(txn, DB_RETAIN, &cur)) != STORE_OK)
            return err;
        err = kv_cursor_seek(&cur, NULL, 0, &k, &v);
        if (err == STORE_OK && k.len != sizeof(key))
            err = STORE_ERR_CORRUPT;
        if (err == STORE_OK) {
            memcpy(key, k.data, sizeof(key));
            err = retain_decode(key, v, &r);
        }
        kv_cursor_close(&cur);
        if (err == STORE_ERR_NOT_FOUND)
            return STORE_OK;
        if (err != STORE_OK)
            return err;
        if (r.due_ms > c->now)
            return STORE_OK;
        memset(&h, 0, sizeof(h));
        if (c->held_fn != NULL)
            c->held_fn(c->held_ctx, &r, c->now, &h);
        if (h.held && h.id[0] != '\0') {
            if ((err = keep_one(txn, c, key, &r, &h)) != STORE_OK)
                return err;
            c->held++;
            continue;
        }
        if ((err = delete_one(txn, c, &r)) != STORE_OK ||
            (err = kv_del(txn, DB_RETAIN, key, sizeof(key))) != STORE_OK)
            return err;
        c->deleted++;
    }
    c->more = true;
    return STORE_OK;
}

store_err
store_retention_sweep(store *s, uint64_t now_ms, store_hold_fn held, void *ctx,
                      size_t *deleted_out, size_t *held_out, bool *more_out,
                      proto_detail *detail)
{
    retain_ctx c;
    store_err err;

    if (s->readonly)
        return STORE_ERR_READONLY;
    memset(&c, 0, sizeof(c));
    c.now = now_ms;
    c.held_fn = held;
    c.held_ctx = ctx;
    store_writer_lock(s);
    err = store_write(s, retain_fn, &c, detail);
    if (err == STORE_OK)
        s->frontier = c.f;
    store_writer_unlock(s);
    if (err != STORE_OK)
        return err;
    *deleted_out = c.deleted;
    *held_out = c.held;
    *more_out = c.more;
    if (c.deleted > 0 || c.held > 0)
        PROTO_LOG(PROTO_LOG_INFO, "STO-RETAIN", "deleted=%zu held=%zu more=%d", c.deleted,
                  c.held, c.more);
    return STORE_OK;
}
