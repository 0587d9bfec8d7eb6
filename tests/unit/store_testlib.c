/* Shared pieces of the store/ tests: scratch stores, records, raw LMDB damage. */
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

#include "store_testlib.h"

uint64_t tl_clock_now = 1700000000000ull;

uint64_t
tl_clock(void *ctx)
{
    (void)ctx;
    return tl_clock_now;
}

proto_identity *
tl_identity(void)
{
    static proto_identity *id;
    proto_addr addr;
    uint8_t seed[32];

    if (id == NULL) {
        memset(seed, 7, sizeof(seed));
        if (proto_addr_parse("USA", &addr, NULL) != PROTO_OK ||
            proto_identity_from_seed(&addr, seed, &id) != PROTO_OK)
            fail_msg("cannot make the test identity");
    }
    return id;
}

store *
tl_open_cfg(const char *dir, store_config *cfg)
{
    store *s = NULL;
    proto_detail d = {0};

    cfg->dir = dir;
    cfg->clock = tl_clock;
    assert_store_ok(store_open(cfg, &s, &d), &d);
    return s;
}

store *
tl_open(const char *dir)
{
    store_config cfg;

    store_config_init(&cfg);
    cfg.flags = STORE_OPEN_CREATE;
    cfg.identity = tl_identity();
    cfg.map_initial = 1u << 20;
    cfg.head_interval_ms = 0;
    return tl_open_cfg(dir, &cfg);
}

store *
tl_open_ro(const char *dir)
{
    store_config cfg;

    store_config_init(&cfg);
    cfg.flags = STORE_OPEN_READONLY;
    cfg.map_initial = 1u << 20;
    return tl_open_cfg(dir, &cfg);
}

void
tl_record(uint64_t i, store_audit_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->time_ms = 1700000000000ull + i;
    rec->event = (uint8_t)(1 + i % STORE_EV_MAX);
    rec->id[0] = 0x11;
    memcpy(rec->id + 8, &i, sizeof(i));
    rec->version = STORE_AUDIT_VERSION;
    snprintf(rec->party, sizeof(rec->party), "USA/FBI");
    snprintf(rec->kind, sizeof(rec->kind), "watchlist.query");
    snprintf(rec->actor, sizeof(rec->actor), "fbi.agent-%llu", (unsigned long long)(i % 4));
    snprintf(rec->counterpart, sizeof(rec->counterpart), "CAN/RCMP");
    snprintf(rec->detail, sizeof(rec->detail), "r%llu", (unsigned long long)i);
    if (i % 3 == 0)
        snprintf(rec->purpose, sizeof(rec->purpose), "fraud inquiry");
    if (i % 5 == 0) {
        snprintf(rec->rule_id, sizeof(rec->rule_id), "can-out-%llu", (unsigned long long)(i % 7));
        memset(rec->policy_hash, 0xAB, sizeof(rec->policy_hash));
    }
}

void
tl_append(store *s, uint64_t first, uint64_t n, size_t per_batch)
{
    store_batch *b = NULL;
    store_audit_record rec;
    proto_detail d = {0};
    uint64_t i = 0;

    assert_store_ok(store_batch_new(s, &b), &d);
    while (i < n) {
        store_batch_reset(b);
        assert_store_ok(store_batch_add_item(b, NULL), &d);
        for (size_t k = 0; k < per_batch && i < n; k++, i++) {
            tl_record(first + i, &rec);
            assert_store_ok(store_audit_append(b, &rec, &d), &d);
        }
        assert_store_ok(store_batch_commit(b, &d), &d);
        assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    }
    store_batch_destroy(&b);
}

void
tl_verify(const char *dir, store_verify_report *rep)
{
    store *s = tl_open_ro(dir);
    store_read *r = NULL;
    proto_detail d = {0};

    assert_store_ok(store_read_begin(s, &r), &d);
    assert_store_ok(store_audit_verify(r, NULL, rep), &d);
    store_read_end(&r);
    store_close(&s);
}

void
tl_key64(uint8_t key[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        key[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* Opens the raw environment and database; returns false on failure. */
static bool
raw_open(const char *dir, const char *db, MDB_env **env, MDB_txn **txn, MDB_dbi *dbi)
{
    char path[4200];

    snprintf(path, sizeof(path), "%s/store", dir);
    if (mdb_env_create(env) != 0)
        return false;
    mdb_env_set_maxdbs(*env, 32);
    /* The test damages data on purpose; it needs no durability. */
    if (mdb_env_open(*env, path, MDB_NOSYNC, 0600) != 0 ||
        mdb_txn_begin(*env, NULL, 0, txn) != 0) {
        mdb_env_close(*env);
        return false;
    }
    if (mdb_dbi_open(*txn, db, 0, dbi) != 0) {
        mdb_txn_abort(*txn);
        mdb_env_close(*env);
        return false;
    }
    return true;
}

bool
tl_raw_xor(const char *dir, const char *db, const void *key, size_t klen, size_t offset,
           uint8_t mask)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {klen, (void *)(uintptr_t)key}, v;
    uint8_t buf[8192];
    bool ok = false;

    if (!raw_open(dir, db, &env, &txn, &dbi))
        return false;
    if (mdb_get(txn, dbi, &k, &v) == 0 && offset < v.mv_size && v.mv_size <= sizeof(buf)) {
        memcpy(buf, v.mv_data, v.mv_size);
        buf[offset] ^= mask;
        v.mv_data = buf;
        ok = mdb_put(txn, dbi, &k, &v, 0) == 0;
    }
    if (ok)
        ok = mdb_txn_commit(txn) == 0;
    else
        mdb_txn_abort(txn);
    mdb_env_close(env);
    return ok;
}

size_t
tl_raw_len(const char *dir, const char *db, const void *key, size_t klen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {klen, (void *)(uintptr_t)key}, v;
    size_t n = 0;

    if (!raw_open(dir, db, &env, &txn, &dbi))
        return 0;
    if (mdb_get(txn, dbi, &k, &v) == 0)
        n = v.mv_size;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}
