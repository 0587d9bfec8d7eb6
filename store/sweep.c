/* The expiry sweep: expired messages leave their queues, and old duplicate-index entries go. */
#include <stdio.h>
#include <stdlib.h>

#include "store_int.h"

#define ID PROTO_ID_BYTES
#define DUP_PURGE_MAX 4096u /* duplicate-index entries dropped per sweep at most */

typedef struct sweep_ctx {
    uint64_t now;              /* the sweep's time */
    store_expired *out;        /* caller's array */
    size_t cap;                /* its capacity */
    size_t count;              /* entries filled */
    size_t pending;            /* entries collected for the current message */
    bool overflow;             /* the current message does not fit */
    bool more;                 /* work remains */
    store_frontier f;          /* the tree as the sweep appends to it */
} sweep_ctx;

static store_err
first_key(kv_txn *txn, store_db db, uint8_t *key, size_t klen, bool *found)
{
    kv_cursor c;
    proto_slice k;
    store_err err = kv_cursor_open(txn, db, &c);

    if (err != STORE_OK)
        return err;
    err = kv_cursor_seek(&c, NULL, 0, &k, NULL);
    if (err == STORE_OK) {
        if (k.len != klen)
            err = STORE_ERR_CORRUPT;
        else
            memcpy(key, k.data, klen);
    }
    kv_cursor_close(&c);
    *found = err == STORE_OK;
    return err == STORE_ERR_NOT_FOUND ? STORE_OK : err;
}

/* States that still wait for delivery or receipt. */
static bool
waiting(uint8_t state)
{
    return state == PROTO_STATE_QUEUED || state == PROTO_STATE_ACCEPTED ||
           state == PROTO_STATE_DELIVERED || state == PROTO_STATE_WITHHELD;
}

static store_err
collect(void *ctx, const proto_status_entry *e)
{
    sweep_ctx *c = ctx;

    if (!waiting(e->state))
        return STORE_OK;
    if (c->count + c->pending >= c->cap) {
        c->overflow = true;
        return STORE_OK;
    }
    c->out[c->count + c->pending].recipient = e->recipient;
    c->pending++;
    return STORE_OK;
}

/* Expires one message: its waiting states, queue entries, envelope. */
static store_err
expire_one(kv_txn *txn, sweep_ctx *c, const uint8_t key[8 + ID])
{
    const uint8_t *id = key + 8;
    store_envelope_info info;
    proto_slice v, bytes = {0};
    uint8_t env_hash[PROTO_HASH_BYTES] = {0}, rec_buf[STORE_AUDIT_RECORD_MAX];
    bool have_env;
    size_t removed, rec_len;
    proto_envelope *env = NULL;
    store_err err;

    err = kv_get(txn, DB_ENVELOPE, id, ID, &v);
    if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
        return err;
    have_env = err == STORE_OK;
    memset(&info, 0, sizeof(info));
    if (have_env) {
        if ((err = msg_env_decode(id, v, &info, &bytes)) != STORE_OK)
            return err;
        proto_sha256(bytes.data, bytes.len, env_hash);
        /* The envelope decoded when it was accepted; its purpose and actor go
         * into the audit records.  Without memory for it, or should it no
         * longer decode, the records name the kind alone. */
        env = malloc(sizeof(*env));
        if (env != NULL && proto_envelope_decode(bytes.data, bytes.len, env, NULL) != PROTO_OK) {
            free(env);
            env = NULL;
        }
    }
    c->pending = 0;
    c->overflow = false;
    if ((err = msg_states_each(txn, id, collect, c)) != STORE_OK)
        goto out;
    if (c->overflow) {
        err = c->count == 0 ? STORE_ERR_LIMIT : STORE_ERR_DUPLICATE; /* DUPLICATE: stop here */
        goto out;
    }
    for (size_t i = 0; i < c->pending; i++) {
        store_expired *x = &c->out[c->count + i];
        proto_status_entry e;
        store_audit_record rec;

        memcpy(x->id, id, ID);
        snprintf(x->sender, sizeof(x->sender), "%s", info.sender);
        snprintf(x->kind, sizeof(x->kind), "%s", info.kind);
        x->expires_ms = store_get_u64(key);
        memset(&e, 0, sizeof(e));
        e.recipient = x->recipient;
        e.state = PROTO_STATE_EXPIRED;
        e.time_ms = c->now;
        snprintf(e.detail, sizeof(e.detail), "expired before delivery");
        if ((err = msg_state_put(txn, id, &e)) != STORE_OK)
            goto out;
        memset(&rec, 0, sizeof(rec));
        rec.time_ms = c->now;
        rec.event = STORE_EV_EXPIRED;
        memcpy(rec.id, id, ID);
        snprintf(rec.party, sizeof(rec.party), "%s", info.sender);
        snprintf(rec.kind, sizeof(rec.kind), "%s", info.kind);
        proto_addr_format(&x->recipient, rec.counterpart, sizeof(rec.counterpart));
        if (env != NULL) {
            snprintf(rec.purpose, sizeof(rec.purpose), "%s", env->labels.purpose);
            snprintf(rec.actor, sizeof(rec.actor), "%s", env->actor);
        }
        memcpy(rec.envelope_hash, env_hash, PROTO_HASH_BYTES);
        snprintf(rec.detail, sizeof(rec.detail), "expired before delivery");
        if ((err = store_audit_encode(&rec, rec_buf, sizeof(rec_buf), &rec_len, NULL)) !=
                STORE_OK ||
            (err = audit_append_leaf(txn, &c->f, rec_buf, rec_len)) != STORE_OK)
            goto out;
    }
    if ((err = msg_dequeue_all(txn, id, NULL, 0, &removed)) != STORE_OK ||
        (have_env && (err = kv_del(txn, DB_ENVELOPE, id, ID)) != STORE_OK) ||
        (err = kv_del(txn, DB_EXPIRY, key, 8 + ID)) != STORE_OK)
        goto out;
    c->count += c->pending;
    err = STORE_OK;
out:
    free(env);
    return err;
}

/* Drops one duplicate-index entry whose window ended, with the states. */
static store_err
purge_dup(kv_txn *txn, const uint8_t key[8 + ID], bool *stop)
{
    const uint8_t *id = key + 8;
    proto_slice v;
    store_err err;

    err = kv_get(txn, DB_ENVELOPE, id, ID, &v);
    if (err == STORE_OK) {
        *stop = true; /* its envelope waits for the expiry sweep first */
        return STORE_OK;
    }
    if (err != STORE_ERR_NOT_FOUND)
        return err;
    err = kv_get(txn, DB_DUP, id, ID, &v);
    if (err == STORE_OK && v.len == 8 && memcmp(v.data, key, 8) == 0) {
        if ((err = kv_del(txn, DB_DUP, id, ID)) != STORE_OK)
            return err;
        if ((err = msg_states_delete(txn, id)) != STORE_OK)
            return err;
    } else if (err != STORE_OK && err != STORE_ERR_NOT_FOUND) {
        return err;
    }
    return kv_del(txn, DB_DUP_EXPIRY, key, 8 + ID);
}

static store_err
sweep_fn(store *s, kv_txn *txn, void *ctx)
{
    sweep_ctx *c = ctx;
    uint8_t key[8 + ID];
    bool found, stop = false;
    store_err err;

    c->count = 0;
    c->more = false;
    c->f = s->frontier;
    for (;;) {
        if ((err = first_key(txn, DB_EXPIRY, key, sizeof(key), &found)) != STORE_OK)
            return err;
        if (!found || store_get_u64(key) > c->now)
            break;
        err = expire_one(txn, c, key);
        if (err == STORE_ERR_DUPLICATE) {
            c->more = true;
            return STORE_OK;
        }
        if (err != STORE_OK)
            return err;
    }
    for (unsigned i = 0; i < DUP_PURGE_MAX; i++) {
        if ((err = first_key(txn, DB_DUP_EXPIRY, key, sizeof(key), &found)) != STORE_OK)
            return err;
        if (!found || store_get_u64(key) > c->now)
            return STORE_OK;
        if ((err = purge_dup(txn, key, &stop)) != STORE_OK)
            return err;
        if (stop)
            return STORE_OK;
    }
    c->more = true;
    return STORE_OK;
}

store_err
store_sweep(store *s, uint64_t now_ms, store_expired *out, size_t cap, size_t *count_out,
            bool *more_out, proto_detail *detail)
{
    sweep_ctx c;
    store_err err;

    if (s->readonly)
        return STORE_ERR_READONLY;
    if (cap == 0)
        return STORE_ERR_INVALID;
    memset(&c, 0, sizeof(c));
    c.now = now_ms;
    c.out = out;
    c.cap = cap;
    store_writer_lock(s);
    err = store_write(s, sweep_fn, &c, detail);
    if (err == STORE_OK)
        s->frontier = c.f;
    store_writer_unlock(s);
    if (err != STORE_OK) {
        if (err == STORE_ERR_LIMIT)
            store_detail_set(detail, "cap", "one message has more recipients than %zu", cap);
        return err;
    }
    *count_out = c.count;
    *more_out = c.more;
    if (c.count > 0)
        PROTO_LOG(PROTO_LOG_INFO, "STO-SWEEP", "expired=%zu recipients more=%d", c.count, c.more);
    return STORE_OK;
}
