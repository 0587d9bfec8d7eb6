/* The agent's store: one LMDB environment with a named database per table; the only file that calls LMDB. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"

/* The map: room for many messages kept with their envelopes; the file grows as needed. */
#define MAP_BYTES (8ull << 30)
/* The format written in the meta table; a store of another format is refused. */
#define FORMAT "liaison-agent-store 1"

static const char *const table_names[AGENT_T_COUNT] = {
    "entries", "docs", "partner_entries", "partner_docs", "designations",
    "implement", "outbox", "kept", "meta", "cargo", "cargo_results", "own_designations",
    "freeze_acks", "journal", "filed", "name_keys", "names", "doc_keys", "digests",
    "publications",
};

struct agent_store {
    MDB_env *env;                  /* the environment */
    MDB_dbi dbi[AGENT_T_COUNT];    /* one database per table */
};

struct agent_txn {
    agent_store *st;               /* its store */
    MDB_txn *txn;                  /* the LMDB transaction */
    bool write;                    /* a write transaction */
};

/* The tables of the index hold many values per key (docs/agent.md, "The store's index"). */
static unsigned
table_flags(size_t table)
{
    if (table == AGENT_T_NAME_KEYS)
        return MDB_DUPSORT | MDB_DUPFIXED;
    if (table == AGENT_T_DOC_KEYS)
        return MDB_DUPSORT;
    return 0;
}

/* Opens table i; a table of the index made with other flags (before the index existed) is
 * dropped and made again: the index is rebuilt from the records anyway. */
static int
table_open(MDB_txn *txn, size_t i, MDB_dbi *dbi)
{
    int rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE | table_flags(i), dbi);

    if (rc == MDB_INCOMPATIBLE && table_flags(i) != 0) {
        if ((rc = mdb_dbi_open(txn, table_names[i], 0, dbi)) != 0 ||
            (rc = mdb_drop(txn, *dbi, 1)) != 0)
            return rc;
        rc = mdb_dbi_open(txn, table_names[i], MDB_CREATE | table_flags(i), dbi);
    }
    return rc;
}

const char *
agent_store_strerror(agent_store_err code)
{
    switch (code) {
    case AGENT_STORE_OK: return "success";
    case AGENT_STORE_ERR_NOT_FOUND: return "no such record";
    case AGENT_STORE_ERR_IO: return "the agent store cannot be used";
    case AGENT_STORE_ERR_FULL: return "the agent store is full";
    case AGENT_STORE_ERR_NOMEM: return "out of memory";
    case AGENT_STORE_ERR_INVALID: return "invalid key or value";
    case AGENT_STORE_ERR_VERSION: return "the agent store has another format";
    }
    return "unknown error";
}

/* LMDB's codes, translated at the edge. */
static agent_store_err
from_mdb(int rc)
{
    switch (rc) {
    case 0: return AGENT_STORE_OK;
    case MDB_NOTFOUND: return AGENT_STORE_ERR_NOT_FOUND;
    case MDB_MAP_FULL: return AGENT_STORE_ERR_FULL;
    case ENOMEM: return AGENT_STORE_ERR_NOMEM;
    case MDB_BAD_VALSIZE:
    case EACCES:
    case EINVAL: return AGENT_STORE_ERR_INVALID;
    default: return AGENT_STORE_ERR_IO;
    }
}

int
agent_store_dir_make(const char *path, char *why, size_t why_len)
{
    char p[AGENT_CONFIG_PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(p)) {
        snprintf(why, why_len, "cannot create '%.80s': the path is empty or too long", path);
        return -1;
    }
    memcpy(p, path, n + 1);
    /* Each missing directory on the way, then the last one. */
    for (char *c = p + 1; ; c++) {
        if (*c != '/' && *c != '\0')
            continue;
        char saved = *c;

        *c = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            snprintf(why, why_len, "cannot create %s: %s", p, strerror(errno));
            return -1;
        }
        *c = saved;
        if (saved == '\0')
            break;
    }
    return 0;
}

agent_store_err
agent_store_open(const char *dir, agent_store **st_out, char *why, size_t why_len)
{
    agent_store *st = NULL;
    MDB_txn *txn = NULL;
    MDB_val k = {sizeof("format") - 1, (void *)(uintptr_t)"format"}, v;
    agent_store_err err = AGENT_STORE_ERR_IO;
    int rc = 0, dead = 0;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, why_len, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        rc = ENOMEM;
        goto out;
    }
    if ((rc = mdb_env_create(&st->env)) != 0 ||
        (rc = mdb_env_set_maxdbs(st->env, AGENT_T_COUNT)) != 0 ||
        (rc = mdb_env_set_mapsize(st->env, (size_t)MAP_BYTES)) != 0 ||
        (rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600)) != 0)
        goto out;
    /* Reader slots left by a process that died are freed. */
    (void)mdb_reader_check(st->env, &dead);
    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0)
        goto out;
    for (size_t i = 0; i < AGENT_T_COUNT && rc == 0; i++)
        rc = table_open(txn, i, &st->dbi[i]);
    if (rc != 0)
        goto out;
    rc = mdb_get(txn, st->dbi[AGENT_T_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        v.mv_size = sizeof(FORMAT) - 1;
        v.mv_data = (void *)(uintptr_t)FORMAT;
        rc = mdb_put(txn, st->dbi[AGENT_T_META], &k, &v, 0);
    } else if (rc == 0 &&
               (v.mv_size != sizeof(FORMAT) - 1 || memcmp(v.mv_data, FORMAT, v.mv_size) != 0)) {
        snprintf(why, why_len, "%s: the store was written by another version (%.*s)", dir,
                 (int)(v.mv_size < 64 ? v.mv_size : 64), (const char *)v.mv_data);
        err = AGENT_STORE_ERR_VERSION;
        goto out;
    }
    if (rc != 0)
        goto out;
    /* A store made before the index, or indexed by another version, is indexed now. */
    {
        agent_txn t = {st, txn, true};
        bool rebuilt;

        err = agent_index_ensure(&t, &rebuilt);
        if (err != AGENT_STORE_OK) {
            snprintf(why, why_len, "agent store %s: indexing: %s", dir, agent_store_strerror(err));
            goto out;
        }
        err = AGENT_STORE_ERR_IO;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto out;
    *st_out = st;
    st = NULL;
    err = AGENT_STORE_OK;
out:
    if (err != AGENT_STORE_OK && rc != 0) {
        err = rc == ENOMEM ? AGENT_STORE_ERR_NOMEM : AGENT_STORE_ERR_IO;
        snprintf(why, why_len, "agent store %s: %s", dir, mdb_strerror(rc));
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (st != NULL && st->env != NULL)
        mdb_env_close(st->env);
    free(st);
    return err;
}

void
agent_store_close(agent_store **stp)
{
    if (stp == NULL || *stp == NULL)
        return;
    mdb_env_close((*stp)->env);
    free(*stp);
    *stp = NULL;
}

agent_store_err
agent_store_begin(agent_store *st, bool write, agent_txn **txn_out)
{
    agent_txn *t = calloc(1, sizeof(*t));
    int rc;

    if (t == NULL)
        return AGENT_STORE_ERR_NOMEM;
    rc = mdb_txn_begin(st->env, NULL, write ? 0 : MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return from_mdb(rc);
    }
    t->st = st;
    t->write = write;
    *txn_out = t;
    return AGENT_STORE_OK;
}

agent_store_err
agent_store_commit(agent_txn **tp)
{
    int rc;

    if (tp == NULL || *tp == NULL)
        return AGENT_STORE_ERR_INVALID;
    rc = mdb_txn_commit((*tp)->txn);
    free(*tp);
    *tp = NULL;
    return from_mdb(rc);
}

void
agent_store_abort(agent_txn **tp)
{
    if (tp == NULL || *tp == NULL)
        return;
    mdb_txn_abort((*tp)->txn);
    free(*tp);
    *tp = NULL;
}

static bool
key_ok(agent_table table, size_t key_len)
{
    return (unsigned)table < AGENT_T_COUNT && key_len > 0 && key_len <= AGENT_STORE_KEY_MAX;
}

agent_store_err
agent_store_get(agent_txn *t, agent_table table, const void *key, size_t key_len,
                const void **val_out, size_t *val_len_out)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
    int rc;

    if (!key_ok(table, key_len))
        return AGENT_STORE_ERR_INVALID;
    rc = mdb_get(t->txn, t->st->dbi[table], &k, &v);
    if (rc != 0)
        return from_mdb(rc);
    *val_out = v.mv_data;
    *val_len_out = v.mv_size;
    return AGENT_STORE_OK;
}

/* Takes the record under key out of the index, if there is one: its value is copied first,
 * since LMDB's pointer does not outlive the index's own writes. */
static agent_store_err
unindex_old(agent_txn *t, agent_table table, MDB_val *k)
{
    MDB_val v;
    void *copy;
    agent_store_err err;
    int rc = mdb_get(t->txn, t->st->dbi[table], k, &v);

    if (rc == MDB_NOTFOUND)
        return AGENT_STORE_OK;
    if (rc != 0)
        return from_mdb(rc);
    if ((copy = malloc(v.mv_size > 0 ? v.mv_size : 1)) == NULL)
        return AGENT_STORE_ERR_NOMEM;
    memcpy(copy, v.mv_data, v.mv_size);
    err = agent_index_remove(t, table, k->mv_data, k->mv_size, copy, v.mv_size);
    free(copy);
    return err;
}

agent_store_err
agent_store_put(agent_txn *t, agent_table table, const void *key, size_t key_len, const void *val,
                size_t val_len)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v = {val_len, (void *)(uintptr_t)val};
    agent_store_err err;

    if (!t->write || !key_ok(table, key_len))
        return AGENT_STORE_ERR_INVALID;
    if (!agent_index_covers(table))
        return from_mdb(mdb_put(t->txn, t->st->dbi[table], &k, &v, 0));
    /* An indexed record: the index follows in the same transaction. */
    if ((err = unindex_old(t, table, &k)) != AGENT_STORE_OK)
        return err;
    if ((err = from_mdb(mdb_put(t->txn, t->st->dbi[table], &k, &v, 0))) != AGENT_STORE_OK)
        return err;
    return agent_index_add(t, table, key, key_len, val, val_len);
}

agent_store_err
agent_store_del(agent_txn *t, agent_table table, const void *key, size_t key_len)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key};
    agent_store_err err;

    if (!t->write || !key_ok(table, key_len))
        return AGENT_STORE_ERR_INVALID;
    if (agent_index_covers(table) && (err = unindex_old(t, table, &k)) != AGENT_STORE_OK)
        return err;
    return from_mdb(mdb_del(t->txn, t->st->dbi[table], &k, NULL));
}

/* ---- Tables of many values per key (the index) ------------------------------------- */

agent_store_err
agent_store_dup_put(agent_txn *t, agent_table table, const void *key, size_t key_len,
                    const void *val, size_t val_len)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v = {val_len, (void *)(uintptr_t)val};
    int rc;

    if (!t->write || !key_ok(table, key_len) || table_flags(table) == 0 || val_len == 0 ||
        val_len > AGENT_STORE_KEY_MAX + 8)
        return AGENT_STORE_ERR_INVALID;
    rc = mdb_put(t->txn, t->st->dbi[table], &k, &v, MDB_NODUPDATA);
    return rc == MDB_KEYEXIST ? AGENT_STORE_OK : from_mdb(rc);
}

agent_store_err
agent_store_dup_del(agent_txn *t, agent_table table, const void *key, size_t key_len,
                    const void *val, size_t val_len)
{
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v = {val_len, (void *)(uintptr_t)val};
    int rc;

    if (!t->write || !key_ok(table, key_len) || table_flags(table) == 0)
        return AGENT_STORE_ERR_INVALID;
    rc = mdb_del(t->txn, t->st->dbi[table], &k, &v);
    return rc == MDB_NOTFOUND ? AGENT_STORE_OK : from_mdb(rc);
}

agent_store_err
agent_store_dup_count(agent_txn *t, agent_table table, const void *key, size_t key_len,
                      size_t *count_out)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
    size_t dups = 0;
    int rc;

    *count_out = 0;
    if (!key_ok(table, key_len) || table_flags(table) == 0)
        return AGENT_STORE_ERR_INVALID;
    if ((rc = mdb_cursor_open(t->txn, t->st->dbi[table], &cur)) != 0)
        return from_mdb(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    if (rc == 0)
        rc = mdb_cursor_count(cur, &dups);
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        return AGENT_STORE_OK;
    *count_out = dups;
    return from_mdb(rc);
}

agent_store_err
agent_store_dup_has(agent_txn *t, agent_table table, const void *key, size_t key_len,
                    const void *val, size_t val_len)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v = {val_len, (void *)(uintptr_t)val};
    int rc;

    if (!key_ok(table, key_len) || table_flags(table) == 0)
        return AGENT_STORE_ERR_INVALID;
    if ((rc = mdb_cursor_open(t->txn, t->st->dbi[table], &cur)) != 0)
        return from_mdb(rc);
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
    mdb_cursor_close(cur);
    return from_mdb(rc);
}

agent_store_err
agent_store_dup_each(agent_txn *t, agent_table table, const void *key, size_t key_len,
                     agent_store_fn fn, void *ctx)
{
    MDB_cursor *cur = NULL;
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
    int rc;

    if (!key_ok(table, key_len) || table_flags(table) == 0)
        return AGENT_STORE_ERR_INVALID;
    if ((rc = mdb_cursor_open(t->txn, t->st->dbi[table], &cur)) != 0)
        return from_mdb(rc);
    if (table_flags(table) & MDB_DUPFIXED) {
        /* Fixed-size values come a page at a time. */
        size_t dups = 0;

        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        if (rc == 0)
            rc = mdb_cursor_count(cur, &dups);
        /* A single value is not kept as a run: MDB_SET_KEY gave it. */
        if (rc == 0 && dups == 1) {
            (void)fn(ctx, key, key_len, v.mv_data, v.mv_size);
            rc = MDB_NOTFOUND;
        } else if (rc == 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_MULTIPLE);
        }
        while (rc == 0) {
            if (fn(ctx, key, key_len, v.mv_data, v.mv_size) != 0)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_MULTIPLE);
        }
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
        while (rc == 0) {
            if (fn(ctx, key, key_len, v.mv_data, v.mv_size) != 0)
                break;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
        }
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? AGENT_STORE_OK : from_mdb(rc);
}

agent_store_err
agent_store_empty(agent_txn *t, agent_table table)
{
    if (!t->write || (unsigned)table >= AGENT_T_COUNT)
        return AGENT_STORE_ERR_INVALID;
    return from_mdb(mdb_drop(t->txn, t->st->dbi[table], 0));
}

agent_store_err
agent_store_size(agent_store *st, uint64_t *bytes_out)
{
    MDB_envinfo info;
    MDB_stat s;
    int rc;

    if ((rc = mdb_env_info(st->env, &info)) != 0 || (rc = mdb_env_stat(st->env, &s)) != 0)
        return from_mdb(rc);
    *bytes_out = (uint64_t)(info.me_last_pgno + 1) * s.ms_psize;
    return AGENT_STORE_OK;
}

agent_store_err
agent_store_each(agent_txn *t, agent_table table, const char *start, agent_store_fn fn, void *ctx)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t start_len = start != NULL ? strlen(start) : 0;
    int rc;

    if ((unsigned)table >= AGENT_T_COUNT || start_len > AGENT_STORE_KEY_MAX)
        return AGENT_STORE_ERR_INVALID;
    rc = mdb_cursor_open(t->txn, t->st->dbi[table], &cur);
    if (rc != 0)
        return from_mdb(rc);
    if (start_len > 0) {
        k.mv_size = start_len;
        k.mv_data = (void *)(uintptr_t)start;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == 0) {
        if (start_len > 0 && (k.mv_size < start_len || memcmp(k.mv_data, start, start_len) != 0))
            break;
        if (fn(ctx, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0)
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? AGENT_STORE_OK : from_mdb(rc);
}

agent_store_err
agent_store_count(agent_txn *t, agent_table table, size_t *count_out)
{
    MDB_stat s;
    int rc;

    if ((unsigned)table >= AGENT_T_COUNT)
        return AGENT_STORE_ERR_INVALID;
    rc = mdb_stat(t->txn, t->st->dbi[table], &s);
    if (rc != 0)
        return from_mdb(rc);
    *count_out = s.ms_entries;
    return AGENT_STORE_OK;
}
