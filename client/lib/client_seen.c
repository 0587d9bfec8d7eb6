/* The ids a client has handed to its application, so none is handed out twice. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client_int.h"

static size_t
slot_of(const uint8_t id[PROTO_ID_BYTES], size_t cap)
{
    uint64_t h = proto_be64(id) ^ proto_be64(id + 8);

    return (size_t)(h * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

/* The slot holding id, or the empty slot where it would go. */
static size_t
find(const client_seen *s, const uint8_t id[PROTO_ID_BYTES])
{
    size_t i = slot_of(id, s->cap);

    while (!proto_id_is_zero(s->slots[i]) && memcmp(s->slots[i], id, PROTO_ID_BYTES) != 0)
        i = (i + 1) & (s->cap - 1);
    return i;
}

static uint8_t
mem_get(const client_seen *s, const uint8_t id[PROTO_ID_BYTES])
{
    size_t i;

    if (s->cap == 0)
        return CLIENT_SEEN_NONE;
    i = find(s, id);
    return proto_id_is_zero(s->slots[i]) ? CLIENT_SEEN_NONE : s->marks[i];
}

static int
mem_add(client_seen *s, const uint8_t id[PROTO_ID_BYTES], uint8_t mark)
{
    size_t i;

    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        client_seen bigger = {calloc(cap, PROTO_ID_BYTES), calloc(cap, 1), cap, 0, NULL, 0};

        if (bigger.slots == NULL || bigger.marks == NULL) {
            free(bigger.slots);
            free(bigger.marks);
            return -1;
        }
        for (size_t k = 0; k < s->cap; k++) {
            if (!proto_id_is_zero(s->slots[k])) {
                size_t j = find(&bigger, s->slots[k]);

                memcpy(bigger.slots[j], s->slots[k], PROTO_ID_BYTES);
                bigger.marks[j] = s->marks[k];
            }
        }
        free(s->slots);
        free(s->marks);
        s->slots = bigger.slots;
        s->marks = bigger.marks;
        s->cap = cap;
    }
    i = find(s, id);
    if (proto_id_is_zero(s->slots[i])) {
        memcpy(s->slots[i], id, PROTO_ID_BYTES);
        s->count++;
        s->marks[i] = mark;
    } else if (mark > s->marks[i]) {
        s->marks[i] = mark;
    }
    return 0;
}

int
client_seen_open(liaison_client *c, const char *dir, char *why, size_t why_len)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_len, "cannot create state directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if ((rc = mdb_env_create(&env)) != 0 || (rc = mdb_env_set_mapsize(env, 1ull << 30)) != 0 ||
        (rc = mdb_env_open(env, dir, 0, 0600)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 || (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
        goto fail;
    /* Load what was seen before into memory. */
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        goto fail;
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        if (k.mv_size == PROTO_ID_BYTES &&
            mem_add(&c->seen, k.mv_data, CLIENT_SEEN_RECEIPTED) != 0) {
            rc = ENOMEM;
            goto fail;
        }
    }
    mdb_cursor_close(cur);
    cur = NULL;
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        goto fail;
    }
    c->seen.env = env;
    c->seen.dbi = dbi;
    return 0;
fail:
    snprintf(why, why_len, "state directory %s: %s", dir, mdb_strerror(rc));
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (env != NULL)
        mdb_env_close(env);
    return -1;
}

void
client_seen_close(liaison_client *c)
{
    if (c->seen.env != NULL)
        mdb_env_close(c->seen.env);
    c->seen.env = NULL;
    free(c->seen.slots);
    free(c->seen.marks);
    c->seen.slots = NULL;
    c->seen.marks = NULL;
    c->seen.cap = c->seen.count = 0;
}

uint8_t
client_seen_get(liaison_client *c, const uint8_t id[PROTO_ID_BYTES])
{
    return mem_get(&c->seen, id);
}

int
client_seen_mark(liaison_client *c, const uint8_t id[PROTO_ID_BYTES], uint8_t mark)
{
    if (mark == CLIENT_SEEN_RECEIPTED && c->seen.env != NULL &&
        mem_get(&c->seen, id) != CLIENT_SEEN_RECEIPTED) {
        MDB_txn *txn = NULL;
        MDB_val k = {PROTO_ID_BYTES, (void *)(uintptr_t)id}, v = {0, (void *)""};
        uint8_t now[8];

        proto_put_be64(now, liaison_now_ms());
        v.mv_size = sizeof(now);
        v.mv_data = now;
        /* Committed (and synced) before the receipt goes out. */
        if (mdb_txn_begin(c->seen.env, NULL, 0, &txn) != 0)
            return -1;
        if (mdb_put(txn, c->seen.dbi, &k, &v, 0) != 0) {
            mdb_txn_abort(txn);
            return -1;
        }
        if (mdb_txn_commit(txn) != 0)
            return -1;
    }
    return mem_add(&c->seen, id, mark);
}
