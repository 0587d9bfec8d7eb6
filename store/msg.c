/* Messages: envelopes, the duplicate index, destination queues, delivery states. */
#include <stdio.h>

#include "store_int.h"

#define ID PROTO_ID_BYTES
#define ENV_META_VERSION 1u
#define QKEY_MAX (1u + STORE_DEST_MAX + 8u)

bool
msg_dest_valid(const char *dest, size_t *len_out)
{
    size_t n = strnlen(dest, STORE_DEST_MAX + 1);

    if (n == 0 || n > STORE_DEST_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)dest[i];

        if (c <= 0x20 || c >= 0x7F)
            return false;
    }
    *len_out = n;
    return true;
}

/* ---- Encodings ------------------------------------------------------------ */

size_t
msg_env_meta_encode(const store_envelope_info *info, uint8_t *buf)
{
    size_t pos = 0, n;

    buf[pos++] = ENV_META_VERSION;
    store_put_u64(buf + pos, info->received_ms);
    store_put_u64(buf + pos + 8, info->expires_ms);
    store_put_u64(buf + pos + 16, info->dup_until_ms);
    pos += 24;
    n = strlen(info->sender);
    buf[pos++] = (uint8_t)n;
    memcpy(buf + pos, info->sender, n);
    pos += n;
    n = strlen(info->kind);
    buf[pos++] = (uint8_t)n;
    memcpy(buf + pos, info->kind, n);
    pos += n;
    return pos;
}

/* Decodes an envelope value: metadata into *info (id from the caller), and
 * the envelope bytes. */
store_err
msg_env_decode(const uint8_t id[ID], proto_slice v, store_envelope_info *info, proto_slice *bytes)
{
    const uint8_t *p = v.data;
    size_t left = v.len, n;

    memset(info, 0, sizeof(*info));
    memcpy(info->id, id, ID);
    if (left < 1 + 24 + 1 || p[0] != ENV_META_VERSION)
        return STORE_ERR_CORRUPT;
    info->received_ms = store_get_u64(p + 1);
    info->expires_ms = store_get_u64(p + 9);
    info->dup_until_ms = store_get_u64(p + 17);
    p += 25;
    left -= 25;
    n = p[0];
    if (n > PROTO_ADDR_TEXT_MAX || left < 1 + n + 1)
        return STORE_ERR_CORRUPT;
    memcpy(info->sender, p + 1, n);
    p += 1 + n;
    left -= 1 + n;
    n = p[0];
    if (n > PROTO_KIND_MAX || left < 1 + n)
        return STORE_ERR_CORRUPT;
    memcpy(info->kind, p + 1, n);
    p += 1 + n;
    left -= 1 + n;
    if (bytes != NULL) {
        bytes->data = p;
        bytes->len = left;
    }
    return STORE_OK;
}

size_t
msg_state_encode(const proto_status_entry *e, uint8_t *buf, size_t cap)
{
    size_t rl = strnlen(e->rule_id, PROTO_RULE_ID_MAX), dl = strnlen(e->detail, PROTO_TEXT_MAX - 1);
    size_t need = 1 + 8 + 1 + rl + 1 + dl, pos = 0;

    if (need > cap)
        return 0;
    buf[pos++] = e->state;
    store_put_u64(buf + pos, e->time_ms);
    pos += 8;
    buf[pos++] = (uint8_t)rl;
    memcpy(buf + pos, e->rule_id, rl);
    pos += rl;
    buf[pos++] = (uint8_t)dl;
    memcpy(buf + pos, e->detail, dl);
    return need;
}

/* Decodes a state key (id || recipient) and value into *e. */
static store_err
state_decode(proto_slice k, proto_slice v, proto_status_entry *e)
{
    const uint8_t *p = v.data;
    size_t rl, dl;

    memset(e, 0, sizeof(*e));
    if (k.len <= ID ||
        proto_addr_parse_n((const char *)k.data + ID, k.len - ID, &e->recipient, NULL) != PROTO_OK)
        return STORE_ERR_CORRUPT;
    if (v.len < 10)
        return STORE_ERR_CORRUPT;
    e->state = p[0];
    e->time_ms = store_get_u64(p + 1);
    rl = p[9];
    if (rl > PROTO_RULE_ID_MAX || v.len < 10 + rl + 1)
        return STORE_ERR_CORRUPT;
    memcpy(e->rule_id, p + 10, rl);
    dl = p[10 + rl];
    if (dl > PROTO_TEXT_MAX - 1 || v.len != 10 + rl + 1 + dl)
        return STORE_ERR_CORRUPT;
    memcpy(e->detail, p + 11 + rl, dl);
    return STORE_OK;
}

static size_t
queue_key(uint8_t *key, const char *dest, size_t dlen, uint64_t seq)
{
    key[0] = (uint8_t)dlen;
    memcpy(key + 1, dest, dlen);
    store_put_u64(key + 1 + dlen, seq);
    return 1 + dlen + 8;
}

/* ---- Depth counters -------------------------------------------------------- */

static store_err
depth_get(kv_txn *txn, const char *dest, size_t dlen, uint64_t *next_seq, uint64_t *depth)
{
    proto_slice v;
    store_err err = kv_get(txn, DB_DEPTH, dest, dlen, &v);

    if (err == STORE_ERR_NOT_FOUND) {
        *next_seq = 1;
        *depth = 0;
        return STORE_OK;
    }
    if (err != STORE_OK)
        return err;
    if (v.len != 16)
        return STORE_ERR_CORRUPT;
    *next_seq = store_get_u64(v.data);
    *depth = store_get_u64(v.data + 8);
    return STORE_OK;
}

static store_err
depth_put(kv_txn *txn, const char *dest, size_t dlen, uint64_t next_seq, uint64_t depth)
{
    uint8_t v[16];

    store_put_u64(v, next_seq);
    store_put_u64(v + 8, depth);
    return kv_put(txn, DB_DEPTH, dest, dlen, v, sizeof(v), 0);
}

/* ---- Applying batch operations --------------------------------------------- */

static store_err
apply_envelope(kv_txn *txn, const batch_op *op, const uint8_t *arena, uint64_t now)
{
    proto_slice v;
    uint8_t key[8 + ID], *space = NULL;
    uint64_t expires, until;
    store_err err;

    until = store_get_u64(arena + op->a_off + 17);
    expires = store_get_u64(arena + op->a_off + 9);
    err = kv_get(txn, DB_DUP, op->id, ID, &v);
    if (err == STORE_OK) {
        uint64_t old = v.len == 8 ? store_get_u64(v.data) : UINT64_MAX;

        if (old > now)
            return STORE_ERR_DUPLICATE;
        /* An ended window the sweep has not dropped yet: drop it now. */
        store_put_u64(key, old);
        memcpy(key + 8, op->id, ID);
        err = kv_del(txn, DB_DUP_EXPIRY, key, sizeof(key));
        if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
            return err;
    } else if (err != STORE_ERR_NOT_FOUND) {
        return err;
    }
    err = kv_reserve(txn, DB_ENVELOPE, op->id, ID, op->a_len + op->borrowed_len,
                     KV_NOOVERWRITE | KV_TAIL,
                     &space);
    if (err != STORE_OK)
        return err;
    memcpy(space, arena + op->a_off, op->a_len);
    memcpy(space + op->a_len, op->borrowed, op->borrowed_len);
    store_put_u64(key, until);
    if ((err = kv_put(txn, DB_DUP, op->id, ID, key, 8, KV_TAIL)) != STORE_OK)
        return err;
    memcpy(key + 8, op->id, ID);
    if ((err = kv_put(txn, DB_DUP_EXPIRY, key, sizeof(key), "", 0, KV_TAIL)) != STORE_OK)
        return err;
    store_put_u64(key, expires);
    return kv_put(txn, DB_EXPIRY, key, sizeof(key), "", 0, KV_TAIL);
}

static store_err
apply_envelope_remove(kv_txn *txn, const uint8_t id[ID])
{
    store_envelope_info info;
    proto_slice v;
    uint8_t key[8 + ID];
    store_err err = kv_get(txn, DB_ENVELOPE, id, ID, &v);

    if (err != STORE_OK)
        return err;
    if ((err = msg_env_decode(id, v, &info, NULL)) != STORE_OK)
        return err;
    store_put_u64(key, info.expires_ms);
    memcpy(key + 8, id, ID);
    err = kv_del(txn, DB_EXPIRY, key, sizeof(key));
    if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
        return err;
    return kv_del(txn, DB_ENVELOPE, id, ID);
}

static store_err
apply_enqueue(kv_txn *txn, const char *dest, size_t dlen, const uint8_t id[ID], uint64_t time_ms,
              const uint8_t *extra, size_t extra_len)
{
    uint8_t key[QKEY_MAX], ikey[ID + QKEY_MAX], val[ID + 8 + STORE_QUEUE_EXTRA_MAX];
    uint64_t next, depth;
    size_t klen;
    store_err err = depth_get(txn, dest, dlen, &next, &depth);

    if (err != STORE_OK)
        return err;
    klen = queue_key(key, dest, dlen, next);
    memcpy(val, id, ID);
    store_put_u64(val + ID, time_ms);
    if (extra_len > 0)
        memcpy(val + ID + 8, extra, extra_len);
    if ((err = kv_put(txn, DB_QUEUE, key, klen, val, ID + 8 + extra_len,
                      KV_NOOVERWRITE | KV_TAIL)) !=
        STORE_OK)
        return err == STORE_ERR_DUPLICATE ? STORE_ERR_CORRUPT : err;
    memcpy(ikey, id, ID);
    memcpy(ikey + ID, key, klen);
    if ((err = kv_put(txn, DB_QUEUE_INDEX, ikey, ID + klen, "", 0, KV_TAIL)) != STORE_OK)
        return err;
    return depth_put(txn, dest, dlen, next + 1, depth + 1);
}

/* Removes queue entry (dest, seq), whose value names id; updates depth. */
static store_err
queue_remove(kv_txn *txn, const char *dest, size_t dlen, uint64_t seq, const uint8_t *id_or_null)
{
    uint8_t key[QKEY_MAX], ikey[ID + QKEY_MAX], id[ID];
    uint64_t next, depth;
    proto_slice v;
    size_t klen = queue_key(key, dest, dlen, seq);
    store_err err = kv_get(txn, DB_QUEUE, key, klen, &v);

    if (err != STORE_OK)
        return err;
    if (v.len < ID + 8 || v.len > ID + 8 + STORE_QUEUE_EXTRA_MAX)
        return STORE_ERR_CORRUPT;
    memcpy(id, v.data, ID);
    if (id_or_null != NULL && memcmp(id, id_or_null, ID) != 0)
        return STORE_ERR_CORRUPT;
    if ((err = kv_del(txn, DB_QUEUE, key, klen)) != STORE_OK)
        return err;
    memcpy(ikey, id, ID);
    memcpy(ikey + ID, key, klen);
    err = kv_del(txn, DB_QUEUE_INDEX, ikey, ID + klen);
    if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
        return err;
    if ((err = depth_get(txn, dest, dlen, &next, &depth)) != STORE_OK)
        return err;
    if (depth == 0)
        return STORE_ERR_CORRUPT;
    return depth_put(txn, dest, dlen, next, depth - 1);
}

/* Finds the first queue-index entry of id (and of dest, if dlen > 0). */
static store_err
index_first(kv_txn *txn, const uint8_t id[ID], const char *dest, size_t dlen, char *dest_out,
            size_t *dlen_out, uint64_t *seq_out)
{
    uint8_t prefix[ID + 1 + STORE_DEST_MAX];
    size_t plen = ID;
    kv_cursor c;
    proto_slice k;
    store_err err;

    memcpy(prefix, id, ID);
    if (dlen > 0) {
        prefix[ID] = (uint8_t)dlen;
        memcpy(prefix + ID + 1, dest, dlen);
        plen += 1 + dlen;
    }
    if ((err = kv_cursor_open(txn, DB_QUEUE_INDEX, &c)) != STORE_OK)
        return err;
    err = kv_cursor_seek(&c, prefix, plen, &k, NULL);
    if (err == STORE_OK) {
        if (k.len < plen || memcmp(k.data, prefix, plen) != 0) {
            err = STORE_ERR_NOT_FOUND;
        } else if (k.len < ID + 1 + 8 || k.len != ID + 1 + (size_t)k.data[ID] + 8 ||
                   k.data[ID] == 0 || k.data[ID] > STORE_DEST_MAX) {
            err = STORE_ERR_CORRUPT;
        } else {
            *dlen_out = k.data[ID];
            memcpy(dest_out, k.data + ID + 1, *dlen_out);
            dest_out[*dlen_out] = '\0';
            *seq_out = store_get_u64(k.data + ID + 1 + *dlen_out);
        }
    }
    kv_cursor_close(&c);
    return err;
}

/* Removes every queue entry of id (of dest only, if dlen > 0). */
store_err
msg_dequeue_all(kv_txn *txn, const uint8_t id[ID], const char *dest, size_t dlen,
                size_t *removed_out)
{
    char d[STORE_DEST_MAX + 1];
    size_t n = 0, len;
    uint64_t seq;
    store_err err;

    for (;;) {
        err = index_first(txn, id, dest, dlen, d, &len, &seq);
        if (err == STORE_ERR_NOT_FOUND)
            break;
        if (err != STORE_OK)
            return err;
        err = queue_remove(txn, d, len, seq, id);
        if (err == STORE_ERR_NOT_FOUND) {
            /* An index entry without its queue entry: drop the index entry. */
            uint8_t ikey[ID + QKEY_MAX];

            memcpy(ikey, id, ID);
            err = kv_del(txn, DB_QUEUE_INDEX, ikey, ID + queue_key(ikey + ID, d, len, seq));
        }
        if (err != STORE_OK)
            return err;
        n++;
    }
    *removed_out = n;
    return STORE_OK;
}

/* Whether op would refuse its item, found by lookups alone: the same answer
 * msg_apply gives, without writing anything. */
store_err
msg_precheck(kv_txn *txn, const batch_op *op, const uint8_t *arena, uint64_t now)
{
    const char *a = (const char *)arena + op->a_off;
    uint8_t key[QKEY_MAX];
    char d[STORE_DEST_MAX + 1];
    size_t dlen;
    uint64_t seq;
    proto_slice v;
    store_err err;

    switch (op->kind) {
    case OP_ENVELOPE:
        err = kv_get(txn, DB_DUP, op->id, ID, &v);
        if (err == STORE_OK && (v.len != 8 || store_get_u64(v.data) > now))
            return STORE_ERR_DUPLICATE;
        if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
            return err;
        err = kv_get(txn, DB_ENVELOPE, op->id, ID, &v);
        return err == STORE_OK ? STORE_ERR_DUPLICATE : err == STORE_ERR_NOT_FOUND ? STORE_OK : err;
    case OP_ENVELOPE_REMOVE:
        return kv_get(txn, DB_ENVELOPE, op->id, ID, &v);
    case OP_DEQUEUE:
        return kv_get(txn, DB_QUEUE, key, queue_key(key, a, op->a_len, op->num), &v);
    case OP_DEQUEUE_ID:
        return index_first(txn, op->id, a, op->a_len, d, &dlen, &seq);
    default:
        return STORE_OK;
    }
}

store_err
msg_apply(kv_txn *txn, const batch_op *op, const uint8_t *arena, uint64_t now)
{
    const char *a = (const char *)arena + op->a_off;
    uint8_t key[ID + PROTO_ADDR_TEXT_MAX];
    size_t removed;
    store_err err;

    switch (op->kind) {
    case OP_ENVELOPE:
        return apply_envelope(txn, op, arena, now);
    case OP_ENVELOPE_REMOVE:
        return apply_envelope_remove(txn, op->id);
    case OP_ENQUEUE:
        return apply_enqueue(txn, a, op->a_len, op->id, op->num, arena + op->b_off, op->b_len);
    case OP_DEQUEUE:
        return queue_remove(txn, a, op->a_len, op->num, NULL);
    case OP_DEQUEUE_IF:
        err = queue_remove(txn, a, op->a_len, op->num, NULL);
        return err == STORE_ERR_NOT_FOUND ? STORE_OK : err;
    case OP_DEQUEUE_ID:
        err = msg_dequeue_all(txn, op->id, a, op->a_len, &removed);
        if (err == STORE_OK && removed == 0)
            err = STORE_ERR_NOT_FOUND;
        return err;
    case OP_STATE:
        memcpy(key, op->id, ID);
        memcpy(key + ID, a, op->a_len);
        return kv_put(txn, DB_STATE, key, ID + op->a_len, arena + op->b_off, op->b_len, KV_TAIL);
    case OP_META_PUT:
        return kv_put(txn, DB_KV, a, op->a_len, arena + op->b_off, op->b_len, 0);
    case OP_META_DELETE:
        err = kv_del(txn, DB_KV, a, op->a_len);
        return err == STORE_ERR_NOT_FOUND ? STORE_OK : err;
    default:
        return STORE_ERR_INVALID;
    }
}

/* ---- States of one message (sweep) ----------------------------------------- */

store_err
msg_states_each(kv_txn *txn, const uint8_t id[ID],
                store_err (*fn)(void *ctx, const proto_status_entry *e), void *ctx)
{
    kv_cursor c;
    proto_slice k, v;
    proto_status_entry e;
    store_err err;

    if ((err = kv_cursor_open(txn, DB_STATE, &c)) != STORE_OK)
        return err;
    err = kv_cursor_seek(&c, id, ID, &k, &v);
    while (err == STORE_OK && k.len > ID && memcmp(k.data, id, ID) == 0) {
        if ((err = state_decode(k, v, &e)) != STORE_OK)
            break;
        if ((err = fn(ctx, &e)) != STORE_OK)
            break;
        err = kv_cursor_next(&c, &k, &v);
    }
    kv_cursor_close(&c);
    return err == STORE_ERR_NOT_FOUND ? STORE_OK : err;
}

store_err
msg_states_delete(kv_txn *txn, const uint8_t id[ID])
{
    kv_cursor c;
    proto_slice k;
    store_err err;

    if ((err = kv_cursor_open(txn, DB_STATE, &c)) != STORE_OK)
        return err;
    for (;;) {
        err = kv_cursor_seek(&c, id, ID, &k, NULL);
        if (err != STORE_OK || k.len <= ID || memcmp(k.data, id, ID) != 0)
            break;
        if ((err = kv_cursor_del(&c)) != STORE_OK)
            break;
    }
    kv_cursor_close(&c);
    return err == STORE_ERR_NOT_FOUND || err == STORE_OK ? STORE_OK : err;
}

store_err
msg_state_put(kv_txn *txn, const uint8_t id[ID], const proto_status_entry *e)
{
    uint8_t key[ID + PROTO_ADDR_TEXT_MAX + 1], val[1 + 8 + 1 + PROTO_RULE_ID_MAX + 1 + PROTO_TEXT_MAX];
    char text[PROTO_ADDR_TEXT_MAX + 1];
    size_t tl, vl;

    proto_addr_format(&e->recipient, text, sizeof(text));
    tl = strlen(text);
    memcpy(key, id, ID);
    memcpy(key + ID, text, tl);
    vl = msg_state_encode(e, val, sizeof(val));
    return kv_put(txn, DB_STATE, key, ID + tl, val, vl, KV_TAIL);
}

/* ---- Reads ------------------------------------------------------------------ */

store_err
store_envelope_get(store_read *r, const uint8_t id[ID], store_envelope_info *info_out,
                   proto_slice *bytes_out)
{
    store_envelope_info info;
    proto_slice v, b;
    store_err err = kv_get(&r->txn, DB_ENVELOPE, id, ID, &v);

    if (err != STORE_OK)
        return err;
    if ((err = msg_env_decode(id, v, &info, &b)) != STORE_OK)
        return err;
    *info_out = info;
    *bytes_out = b;
    return STORE_OK;
}

store_err
store_dup_seen(store_read *r, const uint8_t id[ID], uint64_t now_ms, bool *seen_out)
{
    proto_slice v;
    store_err err = kv_get(&r->txn, DB_DUP, id, ID, &v);

    if (err == STORE_ERR_NOT_FOUND) {
        *seen_out = false;
        return STORE_OK;
    }
    if (err != STORE_OK)
        return err;
    if (v.len != 8)
        return STORE_ERR_CORRUPT;
    *seen_out = store_get_u64(v.data) > now_ms;
    return STORE_OK;
}

store_err
store_queue_peek(store_read *r, const char *dest, uint64_t after_seq, store_queue_entry *entries,
                 size_t cap, size_t *count_out)
{
    uint8_t key[QKEY_MAX];
    size_t dlen, n = 0;
    kv_cursor c;
    proto_slice k, v;
    store_err err;

    if (!msg_dest_valid(dest, &dlen) || after_seq == UINT64_MAX)
        return STORE_ERR_INVALID;
    queue_key(key, dest, dlen, after_seq + 1);
    if ((err = kv_cursor_open(&r->txn, DB_QUEUE, &c)) != STORE_OK)
        return err;
    err = kv_cursor_seek(&c, key, 1 + dlen + 8, &k, &v);
    while (err == STORE_OK && n < cap) {
        if (k.len != 1 + dlen + 8 || memcmp(k.data, key, 1 + dlen) != 0)
            break;
        if (v.len < ID + 8 || v.len > ID + 8 + STORE_QUEUE_EXTRA_MAX) {
            err = STORE_ERR_CORRUPT;
            break;
        }
        entries[n].seq = store_get_u64(k.data + 1 + dlen);
        memcpy(entries[n].id, v.data, ID);
        entries[n].enqueued_ms = store_get_u64(v.data + ID);
        entries[n].extra = (proto_slice){v.len > ID + 8 ? v.data + ID + 8 : NULL, v.len - ID - 8};
        n++;
        err = kv_cursor_next(&c, &k, &v);
    }
    kv_cursor_close(&c);
    if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
        return err;
    *count_out = n;
    return STORE_OK;
}

store_err
store_queue_find(store_read *r, const uint8_t id[PROTO_ID_BYTES], store_queue_hit *hits, size_t cap,
                 size_t *count_out, bool *more_out)
{
    kv_cursor c;
    proto_slice k, v;
    size_t n = 0;
    store_err err;

    *more_out = false;
    if ((err = kv_cursor_open(&r->txn, DB_QUEUE_INDEX, &c)) != STORE_OK)
        return err;
    err = kv_cursor_seek(&c, id, ID, &k, NULL);
    while (err == STORE_OK) {
        size_t dlen;

        if (k.len < ID || memcmp(k.data, id, ID) != 0)
            break;
        if (n == cap) {
            *more_out = true;
            break;
        }
        dlen = k.len > ID ? k.data[ID] : 0;
        if (dlen == 0 || dlen > STORE_DEST_MAX || k.len != ID + 1 + dlen + 8) {
            err = STORE_ERR_CORRUPT;
            break;
        }
        err = kv_get(&r->txn, DB_QUEUE, k.data + ID, k.len - ID, &v);
        if (err == STORE_ERR_NOT_FOUND) {
            /* An index entry without its queue entry: nothing queued there. */
            err = kv_cursor_next(&c, &k, NULL);
            continue;
        }
        if (err != STORE_OK)
            break;
        if (v.len < ID + 8 || v.len > ID + 8 + STORE_QUEUE_EXTRA_MAX ||
            memcmp(v.data, id, ID) != 0) {
            err = STORE_ERR_CORRUPT;
            break;
        }
        memcpy(hits[n].dest, k.data + ID + 1, dlen);
        hits[n].dest[dlen] = '\0';
        hits[n].entry.seq = store_get_u64(k.data + ID + 1 + dlen);
        memcpy(hits[n].entry.id, id, ID);
        hits[n].entry.enqueued_ms = store_get_u64(v.data + ID);
        hits[n].entry.extra =
            (proto_slice){v.len > ID + 8 ? v.data + ID + 8 : NULL, v.len - ID - 8};
        n++;
        err = kv_cursor_next(&c, &k, NULL);
    }
    kv_cursor_close(&c);
    if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
        return err;
    *count_out = n;
    return STORE_OK;
}

store_err
store_queue_depth(store_read *r, const char *dest, uint64_t *depth_out)
{
    uint64_t next;
    size_t dlen;

    if (!msg_dest_valid(dest, &dlen))
        return STORE_ERR_INVALID;
    return depth_get(&r->txn, dest, dlen, &next, depth_out);
}

store_err
store_queue_list(store_read *r, store_dest_depth *entries, size_t cap, size_t *count_out,
                 size_t *total_out)
{
    kv_cursor c;
    proto_slice k, v;
    size_t n = 0, total = 0;
    store_err err;

    if ((err = kv_cursor_open(&r->txn, DB_DEPTH, &c)) != STORE_OK)
        return err;
    err = kv_cursor_seek(&c, NULL, 0, &k, &v);
    while (err == STORE_OK) {
        if (k.len == 0 || k.len > STORE_DEST_MAX || v.len != 16) {
            err = STORE_ERR_CORRUPT;
            break;
        }
        if (n < cap) {
            memcpy(entries[n].dest, k.data, k.len);
            entries[n].dest[k.len] = '\0';
            entries[n].next_seq = store_get_u64(v.data);
            entries[n].depth = store_get_u64(v.data + 8);
            n++;
        }
        total++;
        err = kv_cursor_next(&c, &k, &v);
    }
    kv_cursor_close(&c);
    if (err != STORE_ERR_NOT_FOUND)
        return err;
    *count_out = n;
    if (total_out != NULL)
        *total_out = total;
    return STORE_OK;
}

typedef struct list_ctx {
    proto_status_entry *entries;  /* caller's array */
    size_t cap;                   /* its capacity */
    size_t n;                     /* filled */
} list_ctx;

static store_err
list_one(void *ctx, const proto_status_entry *e)
{
    list_ctx *l = ctx;

    if (l->n < l->cap)
        l->entries[l->n++] = *e;
    return STORE_OK;
}

store_err
store_state_list(store_read *r, const uint8_t id[ID], proto_status_entry *entries, size_t cap,
                 size_t *count_out)
{
    list_ctx l = {entries, cap, 0};
    store_err err = msg_states_each(&r->txn, id, list_one, &l);

    if (err != STORE_OK)
        return err;
    *count_out = l.n;
    return STORE_OK;
}

store_err
store_meta_get(store_read *r, const char *key, proto_slice *value_out)
{
    size_t n = strnlen(key, STORE_META_KEY_MAX + 1);

    if (n == 0 || n > STORE_META_KEY_MAX)
        return STORE_ERR_INVALID;
    return kv_get(&r->txn, DB_KV, key, n, value_out);
}
