/* Group commit: a batch of items becomes one write transaction and one fsync. */
#include <stdio.h>

#include "store_int.h"

struct store_batch {
    store *s;                     /* the store it commits to */
    batch_op *ops;                /* operations, in order */
    size_t nops, ops_cap;         /* used and allocated entries of ops */
    uint8_t *arena;               /* bytes the operations copied */
    size_t arena_len, arena_cap;  /* used and allocated bytes of arena */
    size_t borrowed;              /* envelope bytes borrowed */
    size_t *item_first;           /* index of each item's first operation */
    store_item_result *results;   /* each item's result */
    size_t nitems, items_cap;     /* used and allocated items */
    bool committed;               /* committed durably; reset before reuse */
    /* Filled while committing. */
    size_t from, to;              /* the items of the transaction being written */
    store_frontier frontier;      /* the tree after the batch */
    bool head_signed;             /* a tree head was signed in the transaction */
    store_tree_head head;         /* that head */
};

store_err
store_batch_new(store *s, store_batch **batch_out)
{
    store_batch *b;

    if (s->readonly)
        return STORE_ERR_READONLY;
    b = store_malloc(sizeof(*b));
    if (b == NULL)
        return STORE_ERR_NOMEM;
    memset(b, 0, sizeof(*b));
    b->s = s;
    *batch_out = b;
    return STORE_OK;
}

void
store_batch_destroy(store_batch **bp)
{
    store_batch *b = bp != NULL ? *bp : NULL;

    if (b == NULL)
        return;
    store_free(b->ops);
    store_free(b->arena);
    store_free(b->item_first);
    store_free(b->results);
    store_free(b);
    *bp = NULL;
}

void
store_batch_reset(store_batch *b)
{
    b->nops = 0;
    b->arena_len = 0;
    b->borrowed = 0;
    b->nitems = 0;
    b->committed = false;
}

void
store_batch_drop_item(store_batch *b)
{
    size_t first;

    if (b->committed || b->nitems == 0)
        return;
    first = b->item_first[b->nitems - 1];
    for (size_t i = first; i < b->nops; i++)
        b->borrowed -= b->ops[i].borrowed_len;
    if (first < b->nops)
        b->arena_len = b->ops[first].a_off;
    b->nops = first;
    b->nitems--;
}

size_t
store_batch_items(const store_batch *b)
{
    return b->nitems;
}

const store_item_result *
store_batch_result(const store_batch *b, size_t index)
{
    return index < b->nitems ? &b->results[index] : NULL;
}

/* ---- Building -------------------------------------------------------------- */

static store_err
grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    void *q;

    while (n < need)
        n *= 2;
    if (n == *cap)
        return STORE_OK;
    q = store_realloc(*p, n * elem);
    if (q == NULL)
        return STORE_ERR_NOMEM;
    *p = q;
    *cap = n;
    return STORE_OK;
}

store_err
store_batch_add_item(store_batch *b, size_t *index_out)
{
    store_err err;

    if (b->committed)
        return STORE_ERR_STATE;
    if (b->nitems >= b->s->cfg.batch_ops_max)
        return STORE_ERR_LIMIT;
    if (b->nitems == b->items_cap) {
        size_t cap1 = b->items_cap, cap2 = b->items_cap;

        if ((err = grow((void **)&b->item_first, &cap1, b->nitems + 1, sizeof(size_t))) !=
            STORE_OK)
            return err;
        if ((err = grow((void **)&b->results, &cap2, b->nitems + 1, sizeof(store_item_result))) !=
            STORE_OK)
            return err;
        /* Both arrays grow in step; a failure above leaves the smaller cap. */
        b->items_cap = cap1 < cap2 ? cap1 : cap2;
    }
    b->item_first[b->nitems] = b->nops;
    memset(&b->results[b->nitems], 0, sizeof(store_item_result));
    if (index_out != NULL)
        *index_out = b->nitems;
    b->nitems++;
    return STORE_OK;
}

/* Reserves an operation and arena space for a and c bytes; fills offsets. */
static store_err
op_add(store_batch *b, uint8_t kind, size_t a_len, size_t c_len, size_t borrowed, batch_op **op_out)
{
    batch_op *op;
    store_err err;

    if (b->committed)
        return STORE_ERR_STATE;
    if (b->nitems == 0)
        return STORE_ERR_INVALID; /* add an item first */
    if (b->nops >= b->s->cfg.batch_ops_max ||
        b->arena_len + a_len + c_len + b->borrowed + borrowed > b->s->cfg.batch_bytes_max) {
        PROTO_LOG(PROTO_LOG_WARN, "STO-BATCH-FULL", "batch of %zu operations is full", b->nops);
        return STORE_ERR_LIMIT;
    }
    if ((err = grow((void **)&b->ops, &b->ops_cap, b->nops + 1, sizeof(batch_op))) != STORE_OK ||
        (err = grow((void **)&b->arena, &b->arena_cap, b->arena_len + a_len + c_len, 1)) !=
            STORE_OK)
        return err;
    op = &b->ops[b->nops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->a_off = b->arena_len;
    op->a_len = a_len;
    op->b_off = b->arena_len + a_len;
    op->b_len = c_len;
    b->arena_len += a_len + c_len;
    b->borrowed += borrowed;
    *op_out = op;
    return STORE_OK;
}

store_err
store_batch_put_envelope(store_batch *b, const store_envelope_info *info, const uint8_t *bytes,
                         size_t len)
{
    uint8_t meta[MSG_ENV_META_MAX];
    size_t mlen;
    batch_op *op;
    store_err err;

    if (proto_id_is_zero(info->id) || info->dup_until_ms < info->expires_ms ||
        strnlen(info->sender, sizeof(info->sender)) > PROTO_ADDR_TEXT_MAX ||
        strnlen(info->kind, sizeof(info->kind)) > PROTO_KIND_MAX)
        return STORE_ERR_INVALID;
    if (len == 0 || len > PROTO_ENVELOPE_MAX)
        return STORE_ERR_LIMIT;
    mlen = msg_env_meta_encode(info, meta);
    if ((err = op_add(b, OP_ENVELOPE, mlen, 0, len, &op)) != STORE_OK)
        return err;
    memcpy(op->id, info->id, PROTO_ID_BYTES);
    memcpy(b->arena + op->a_off, meta, mlen);
    op->borrowed = bytes;
    op->borrowed_len = len;
    return STORE_OK;
}

store_err
store_batch_remove_envelope(store_batch *b, const uint8_t id[PROTO_ID_BYTES])
{
    batch_op *op;
    store_err err = op_add(b, OP_ENVELOPE_REMOVE, 0, 0, 0, &op);

    if (err == STORE_OK)
        memcpy(op->id, id, PROTO_ID_BYTES);
    return err;
}

static store_err
dest_op(store_batch *b, uint8_t kind, const char *dest, const uint8_t *id, uint64_t num)
{
    size_t dlen;
    batch_op *op;
    store_err err;

    if (!msg_dest_valid(dest, &dlen))
        return STORE_ERR_INVALID;
    if ((err = op_add(b, kind, dlen, 0, 0, &op)) != STORE_OK)
        return err;
    memcpy(b->arena + op->a_off, dest, dlen);
    if (id != NULL)
        memcpy(op->id, id, PROTO_ID_BYTES);
    op->num = num;
    return STORE_OK;
}

store_err
store_batch_enqueue(store_batch *b, const char *dest, const uint8_t id[PROTO_ID_BYTES],
                    uint64_t time_ms, const void *extra, size_t extra_len)
{
    size_t dlen;
    batch_op *op;
    store_err err;

    if (!msg_dest_valid(dest, &dlen) || (extra == NULL && extra_len > 0))
        return STORE_ERR_INVALID;
    if (extra_len > STORE_QUEUE_EXTRA_MAX)
        return STORE_ERR_LIMIT;
    if ((err = op_add(b, OP_ENQUEUE, dlen, extra_len, 0, &op)) != STORE_OK)
        return err;
    memcpy(b->arena + op->a_off, dest, dlen);
    if (extra_len > 0)
        memcpy(b->arena + op->b_off, extra, extra_len);
    memcpy(op->id, id, PROTO_ID_BYTES);
    op->num = time_ms;
    return STORE_OK;
}

store_err
store_batch_dequeue(store_batch *b, const char *dest, uint64_t seq)
{
    return dest_op(b, OP_DEQUEUE, dest, NULL, seq);
}

store_err
store_batch_dequeue_if(store_batch *b, const char *dest, uint64_t seq)
{
    return dest_op(b, OP_DEQUEUE_IF, dest, NULL, seq);
}

store_err
store_batch_dequeue_id(store_batch *b, const char *dest, const uint8_t id[PROTO_ID_BYTES])
{
    return dest_op(b, OP_DEQUEUE_ID, dest, id, 0);
}

store_err
store_batch_set_state(store_batch *b, const uint8_t id[PROTO_ID_BYTES],
                      const proto_status_entry *entry)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];
    uint8_t val[1 + 8 + 1 + PROTO_RULE_ID_MAX + 1 + PROTO_TEXT_MAX];
    size_t tl, vl;
    batch_op *op;
    store_err err;

    if (entry->state == 0 || entry->state > PROTO_STATE_MAX ||
        entry->recipient.kind == PROTO_ADDR_ALL ||
        strnlen(entry->rule_id, sizeof(entry->rule_id)) > PROTO_RULE_ID_MAX ||
        strnlen(entry->detail, sizeof(entry->detail)) >= sizeof(entry->detail) ||
        !proto_nation_valid(entry->recipient.nation))
        return STORE_ERR_INVALID;
    proto_addr_format(&entry->recipient, text, sizeof(text));
    tl = strlen(text);
    vl = msg_state_encode(entry, val, sizeof(val));
    if ((err = op_add(b, OP_STATE, tl, vl, 0, &op)) != STORE_OK)
        return err;
    memcpy(op->id, id, PROTO_ID_BYTES);
    memcpy(b->arena + op->a_off, text, tl);
    memcpy(b->arena + op->b_off, val, vl);
    return STORE_OK;
}

store_err
store_audit_append(store_batch *b, const store_audit_record *rec, proto_detail *detail)
{
    uint8_t buf[STORE_AUDIT_RECORD_MAX];
    size_t len;
    batch_op *op;
    store_err err;

    if ((err = store_audit_encode(rec, buf, sizeof(buf), &len, detail)) != STORE_OK)
        return err;
    if ((err = op_add(b, OP_AUDIT, len, 0, 0, &op)) != STORE_OK)
        return err;
    memcpy(b->arena + op->a_off, buf, len);
    return STORE_OK;
}

store_err
store_batch_meta_put(store_batch *b, const char *key, const void *value, size_t len)
{
    size_t kl = strnlen(key, STORE_META_KEY_MAX + 1);
    batch_op *op;
    store_err err;

    if (kl == 0 || kl > STORE_META_KEY_MAX || len > STORE_META_VALUE_MAX ||
        (value == NULL && len > 0))
        return STORE_ERR_INVALID;
    if ((err = op_add(b, OP_META_PUT, kl, len, 0, &op)) != STORE_OK)
        return err;
    memcpy(b->arena + op->a_off, key, kl);
    if (len > 0)
        memcpy(b->arena + op->b_off, value, len);
    return STORE_OK;
}

store_err
store_batch_meta_delete(store_batch *b, const char *key)
{
    size_t kl = strnlen(key, STORE_META_KEY_MAX + 1);
    batch_op *op;
    store_err err;

    if (kl == 0 || kl > STORE_META_KEY_MAX)
        return STORE_ERR_INVALID;
    if ((err = op_add(b, OP_META_DELETE, kl, 0, 0, &op)) != STORE_OK)
        return err;
    memcpy(b->arena + op->a_off, key, kl);
    return STORE_OK;
}

/* ---- Committing ------------------------------------------------------------- */

/* True if an operation of this kind can refuse an item (a duplicate, or an
 * entry that is not there); the others only fail when the store does. */
static bool
may_refuse(uint8_t kind)
{
    return kind == OP_ENVELOPE || kind == OP_ENVELOPE_REMOVE || kind == OP_DEQUEUE ||
           kind == OP_DEQUEUE_ID;
}

/* Applies the operations first..end of item i directly in txn: nothing may
 * refuse here, so any failure is the store's and fails the whole commit. */
static store_err
apply_direct(store_batch *b, kv_txn *txn, size_t i, size_t first, size_t end, uint64_t now)
{
    store_item_result *res = &b->results[i];
    store_frontier before = b->frontier;

    for (size_t j = first; j < end; j++) {
        const batch_op *op = &b->ops[j];
        store_err err = op->kind == OP_AUDIT
                            ? audit_append_leaf(txn, &b->frontier, b->arena + op->a_off, op->a_len)
                            : msg_apply(txn, op, b->arena, now);

        if (err != STORE_OK) {
            b->frontier = before;
            res->failed_op = j - first;
            return err == STORE_ERR_DUPLICATE || err == STORE_ERR_NOT_FOUND ? STORE_ERR_CORRUPT
                                                                            : err;
        }
    }
    res->status = STORE_ITEM_DURABLE; /* once the top transaction commits */
    res->first_leaf = before.size;
    res->leaf_count = b->frontier.size - before.size;
    return STORE_OK;
}

/* Applies item i so that a refused item leaves nothing behind.  An item with
 * no operation that may refuse it goes straight into txn; so does one whose
 * only such operation comes first, once lookups show it will not refuse (the
 * common case: a submit, a receipt).  Any other item gets a nested
 * transaction, which LMDB makes costly: it copies every page it touches. */
static store_err
apply_item(store_batch *b, kv_txn *txn, size_t i, uint64_t now)
{
    size_t first = b->item_first[i];
    size_t end = i + 1 < b->nitems ? b->item_first[i + 1] : b->nops;
    store_item_result *res = &b->results[i];
    store_frontier before = b->frontier;
    size_t refusing = 0;
    kv_txn child;
    store_err err;

    memset(res, 0, sizeof(*res));
    for (size_t j = first; j < end; j++)
        refusing += may_refuse(b->ops[j].kind);
    if (refusing == 0)
        return apply_direct(b, txn, i, first, end, now);
    if (refusing == 1 && may_refuse(b->ops[first].kind)) {
        err = msg_precheck(txn, &b->ops[first], b->arena, now);
        if (err == STORE_OK)
            return apply_direct(b, txn, i, first, end, now);
        if (err == STORE_ERR_DUPLICATE || err == STORE_ERR_NOT_FOUND) {
            res->status = err == STORE_ERR_DUPLICATE ? STORE_ITEM_DUPLICATE : STORE_ITEM_REJECTED;
            res->err = err;
            return STORE_OK;
        }
        return err;
    }
    if ((err = kv_begin(txn->env, txn, true, &child)) != STORE_OK)
        return err;
    for (size_t j = first; j < end; j++) {
        const batch_op *op = &b->ops[j];

        if (op->kind == OP_AUDIT)
            err = audit_append_leaf(&child, &b->frontier, b->arena + op->a_off, op->a_len);
        else
            err = msg_apply(&child, op, b->arena, now);
        if (err != STORE_OK) {
            res->failed_op = j - first;
            break;
        }
    }
    if (err == STORE_OK)
        err = kv_commit(&child);
    else
        kv_abort(&child);
    if (err == STORE_OK) {
        res->status = STORE_ITEM_DURABLE; /* once the top transaction commits */
        res->first_leaf = before.size;
        res->leaf_count = b->frontier.size - before.size;
        return STORE_OK;
    }
    b->frontier = before;
    if (err == STORE_ERR_DUPLICATE || err == STORE_ERR_NOT_FOUND) {
        res->status = err == STORE_ERR_DUPLICATE ? STORE_ITEM_DUPLICATE : STORE_ITEM_REJECTED;
        res->err = err;
        return STORE_OK;
    }
    return err;
}

static store_err
commit_fn(store *s, kv_txn *txn, void *ctx)
{
    store_batch *b = ctx;
    uint64_t now = store_now(s);
    store_err err;

    b->frontier = s->frontier;
    b->head_signed = false;
    for (size_t i = b->from; i < b->to; i++) {
        if ((err = apply_item(b, txn, i, now)) != STORE_OK)
            return err;
    }
    if (b->to == b->nitems && s->cfg.head_interval_ms > 0 && s->sign_secret != NULL &&
        b->frontier.size > s->last_head_size && now >= s->last_head_ms + s->cfg.head_interval_ms) {
        if ((err = audit_head_put(s, txn, &b->frontier, now, &b->head)) != STORE_OK)
            return err;
        b->head_signed = true;
    }
    return STORE_OK;
}

store_err
store_batch_commit(store_batch *b, proto_detail *detail)
{
    store *s = b->s;
    size_t per_txn = s->cfg.batch_txn_items > 0 ? s->cfg.batch_txn_items : b->nitems;
    store_err err = STORE_OK;

    if (b->committed)
        return STORE_ERR_STATE;
    store_writer_lock(s);
    /* One transaction for each per_txn items (and one for an empty batch). */
    b->from = 0;
    for (;;) {
        b->to = b->nitems - b->from > per_txn ? b->from + per_txn : b->nitems;
        if ((err = store_write(s, commit_fn, b, detail)) != STORE_OK)
            break;
        s->frontier = b->frontier;
        if (b->head_signed) {
            s->last_head_ms = b->head.time_ms;
            s->last_head_size = b->head.tree_size;
        }
        if (b->to == b->nitems)
            break;
        b->from = b->to;
    }
    store_writer_unlock(s);
    if (err != STORE_OK) {
        for (size_t i = b->from; i < b->nitems; i++) {
            memset(&b->results[i], 0, sizeof(b->results[i]));
            b->results[i].status = STORE_ITEM_FAILED;
            b->results[i].err = err;
        }
        if (detail != NULL && detail->text[0] == '\0')
            store_detail_set(detail, "batch", "commit of %zu items failed from item %zu on: %s",
                             b->nitems, b->from, store_strerror(err));
        PROTO_LOG(PROTO_LOG_ERROR, "STO-COMMIT", "items=%zu failed_from=%zu commit failed: %s",
                  b->nitems, b->from, store_strerror(err));
        /* What an earlier transaction made durable must not be written twice. */
        b->committed = b->from > 0;
        return err;
    }
    b->committed = true;
    return STORE_OK;
}
