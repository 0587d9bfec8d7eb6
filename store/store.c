/* Opening and closing a store, read snapshots, write transactions, error strings. */
#include <stdio.h>

#include "store_int.h"

const char *
store_strerror(store_err code)
{
    switch (code) {
    case STORE_OK: return "success";
    case STORE_ERR_INVALID: return "invalid argument";
    case STORE_ERR_NOMEM: return "out of memory";
    case STORE_ERR_IO: return "input/output error";
    case STORE_ERR_NOT_FOUND: return "not found";
    case STORE_ERR_DUPLICATE: return "duplicate message id";
    case STORE_ERR_LOCKED: return "data directory in use by another broker";
    case STORE_ERR_NETWORK_FS: return "data directory on a network file system";
    case STORE_ERR_MAP_FULL: return "the store's map size is reached (its configured maximum)";
    case STORE_ERR_LIMIT: return "length, count or size out of bounds";
    case STORE_ERR_CORRUPT: return "stored data is damaged";
    case STORE_ERR_VERSION: return "unknown store format version";
    case STORE_ERR_KEY: return "signing key missing or not this store's";
    case STORE_ERR_READONLY: return "store opened read-only";
    case STORE_ERR_RANGE: return "leaf index or tree size outside the log";
    case STORE_ERR_PROOF: return "Merkle proof does not verify";
    case STORE_ERR_SIGNATURE: return "tree head signature does not verify";
    case STORE_ERR_STATE: return "object in the wrong state";
    case STORE_ERR_DECODE: return "not a canonical audit record";
    case STORE_ERR_PERMISSION: return "permission denied";
    case STORE_ERR_EXISTS: return "the data directory holds, or held, a store already";
    case STORE_ERR_LOST: return "the data directory held a store whose data file is missing";
    case STORE_ERR_DISK_FULL: return "the disk is full";
    }
    return "unknown error";
}

void
store_config_init(store_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->map_initial = (uint64_t)64 << 20;
    cfg->map_max = (uint64_t)1 << 40;
    cfg->head_interval_ms = 60000;
    cfg->batch_ops_max = 100000;
    cfg->batch_bytes_max = (size_t)256 << 20;
}

void
store_writer_lock(store *s)
{
    pthread_mutex_lock(&s->writer);
}

void
store_writer_unlock(store *s)
{
    pthread_mutex_unlock(&s->writer);
}

uint64_t
store_now(const store *s)
{
    return s->cfg.clock != NULL ? s->cfg.clock(s->cfg.clock_ctx) : fs_now_ms();
}

store_err
store_write(store *s, store_err (*fn)(store *s, kv_txn *txn, void *ctx), void *ctx,
            proto_detail *detail)
{
    kv_txn t;
    store_err err;

    if (s->readonly)
        return STORE_ERR_READONLY;
    for (;;) {
        if ((err = kv_begin(s->env, NULL, true, &t)) != STORE_OK)
            return err;
        err = fn(s, &t, ctx);
        if (err == STORE_OK)
            err = kv_commit(&t);
        else
            kv_abort(&t);
        if (err != STORE_ERR_MAP_FULL)
            return err;
        if ((err = kv_env_grow(s->env, detail)) != STORE_OK)
            return err;
    }
}

/* ---- Opening ---------------------------------------------------------------- */

typedef struct open_ctx {
    const proto_identity *identity; /* the caller's, or NULL */
    proto_detail *detail;           /* where to explain */
} open_ctx;

/* Checks or writes the meta of a writable open; loads the frontier. */
static store_err
open_meta(store *s, kv_txn *txn, void *ctx)
{
    open_ctx *o = ctx;
    proto_slice v;
    uint8_t buf[8];
    store_tree_head head;
    store_err err;

    err = kv_get(txn, DB_META, "format", 6, &v);
    if (err == STORE_ERR_NOT_FOUND) {
        buf[0] = STORE_FORMAT_VERSION;
        if ((err = kv_put(txn, DB_META, "format", 6, buf, 1, 0)) != STORE_OK)
            return err;
        store_put_u64(buf, store_now(s));
        if ((err = kv_put(txn, DB_META, "created_ms", 10, buf, 8, 0)) != STORE_OK)
            return err;
    } else if (err != STORE_OK) {
        return err;
    } else if (v.len != 1 || v.data[0] != STORE_FORMAT_VERSION) {
        store_detail_set(o->detail, "format", "store format %u; this build reads format %u",
                         v.len == 1 ? v.data[0] : 0, STORE_FORMAT_VERSION);
        return STORE_ERR_VERSION;
    }
    err = kv_get(txn, DB_META, "sign_public", 11, &v);
    if (err == STORE_OK) {
        if (v.len != PROTO_SIGN_PUBLIC_BYTES)
            return STORE_ERR_CORRUPT;
        memcpy(s->sign_public, v.data, PROTO_SIGN_PUBLIC_BYTES);
        s->have_public = true;
        if (o->identity != NULL &&
            !ct_equal(v.data, o->identity->sign_public, PROTO_SIGN_PUBLIC_BYTES)) {
            store_detail_set(o->detail, "identity",
                             "this data directory's tree heads are signed by another key");
            return STORE_ERR_KEY;
        }
    } else if (err == STORE_ERR_NOT_FOUND) {
        if (o->identity != NULL) {
            err = kv_put(txn, DB_META, "sign_public", 11, o->identity->sign_public,
                         PROTO_SIGN_PUBLIC_BYTES, 0);
            if (err != STORE_OK)
                return err;
            memcpy(s->sign_public, o->identity->sign_public, PROTO_SIGN_PUBLIC_BYTES);
            s->have_public = true;
        }
    } else {
        return err;
    }
    if ((err = audit_frontier_load(txn, &s->frontier)) != STORE_OK) {
        store_detail_set(o->detail, "audit", "cannot load the audit tree: %s", store_strerror(err));
        return err;
    }
    err = audit_head_latest(txn, &head);
    if (err == STORE_OK) {
        s->last_head_ms = head.time_ms;
        s->last_head_size = head.tree_size;
    } else if (err != STORE_ERR_NOT_FOUND) {
        return err;
    }
    return STORE_OK;
}

/* Reads the meta of a read-only open. */
static store_err
open_meta_readonly(store *s, proto_detail *detail)
{
    kv_txn t;
    proto_slice v;
    store_err err;

    if ((err = kv_begin(s->env, NULL, false, &t)) != STORE_OK)
        return err;
    err = kv_get(&t, DB_META, "format", 6, &v);
    if (err == STORE_ERR_NOT_FOUND) {
        store_detail_set(detail, "format", "the store was never initialised");
    } else if (err == STORE_OK && (v.len != 1 || v.data[0] != STORE_FORMAT_VERSION)) {
        store_detail_set(detail, "format", "unknown store format");
        err = STORE_ERR_VERSION;
    }
    if (err == STORE_OK) {
        err = kv_get(&t, DB_META, "sign_public", 11, &v);
        if (err == STORE_OK && v.len == PROTO_SIGN_PUBLIC_BYTES) {
            memcpy(s->sign_public, v.data, PROTO_SIGN_PUBLIC_BYTES);
            s->have_public = true;
        }
        err = err == STORE_ERR_NOT_FOUND || err == STORE_OK ? STORE_OK : err;
    }
    kv_abort(&t);
    return err;
}

/*
 * Looks at the data file before LMDB does: LMDB takes a missing or empty
 * file for a new environment, so a directory that held a store (its marker
 * says so) whose file was deleted or emptied would silently start over
 * empty, its queues and audit history gone.  Without CREATE there must be
 * a store; with EXCL there must be none, nor any sign of one.
 */
static store_err
check_data_file(const char *dir, const char *data, bool marked, const char *mark, unsigned flags,
                proto_detail *detail)
{
    bool create = (flags & STORE_OPEN_CREATE) != 0 && (flags & STORE_OPEN_READONLY) == 0;
    uint64_t size = 0;
    store_err err = fs_file_size(data, &size, detail);

    if (err != STORE_OK && err != STORE_ERR_NOT_FOUND)
        return err;
    if (err == STORE_ERR_NOT_FOUND || size == 0) {
        if (marked) {
            /* The file names come first: a long path may cut the rest. */
            store_detail_set(detail, "data",
                             "%s is %s, but this directory held a store (%s: %s): restore it "
                             "from a backup; to start afresh, remove store/ and %s, then --init",
                             data, err == STORE_ERR_NOT_FOUND ? "missing" : "empty (0 bytes)",
                             STORE_MARK_FILE, mark, STORE_MARK_FILE);
            PROTO_LOG(PROTO_LOG_ERROR, "STO-LOST", "dir=%s data=%s state=%s", dir, data,
                      err == STORE_ERR_NOT_FOUND ? "missing" : "empty");
            return err == STORE_ERR_NOT_FOUND ? STORE_ERR_LOST : STORE_ERR_CORRUPT;
        }
        if (!create && err == STORE_ERR_NOT_FOUND) {
            store_detail_set(detail, "dir", "no store in %s (no %s)", dir, data);
            return STORE_ERR_NOT_FOUND;
        }
        if (!create) {
            store_detail_set(detail, "data", "%s is empty (0 bytes): not a store", data);
            return STORE_ERR_CORRUPT;
        }
        return STORE_OK;
    }
    if ((flags & STORE_OPEN_EXCL) != 0 && create) {
        store_detail_set(detail, "dir", "%s holds a store already (%s, %llu bytes)", dir, data,
                         (unsigned long long)size);
        return STORE_ERR_EXISTS;
    }
    return STORE_OK;
}

store_err
store_open(const store_config *cfg, store **store_out, proto_detail *detail)
{
    store *s = NULL;
    char sub[4096], data[4200];
    bool readonly = (cfg->flags & STORE_OPEN_READONLY) != 0;
    bool create = (cfg->flags & STORE_OPEN_CREATE) != 0 && !readonly;
    open_ctx o = {cfg->identity, detail};
    char mark[160];
    bool marked;
    store_err err;
    int n;

    if (cfg->dir == NULL || cfg->dir[0] == '\0' || cfg->map_initial < STORE_MAP_MIN ||
        cfg->map_max < cfg->map_initial || cfg->batch_ops_max == 0 ||
        (readonly && cfg->identity != NULL)) {
        store_detail_set(detail, "config", "invalid store configuration");
        return STORE_ERR_INVALID;
    }
    n = snprintf(sub, sizeof(sub), "%s/%s", cfg->dir, STORE_SUBDIR);
    if (n < 0 || (size_t)n >= sizeof(sub)) {
        store_detail_set(detail, "dir", "data directory path too long");
        return STORE_ERR_LIMIT;
    }
    snprintf(data, sizeof(data), "%s/data.mdb", sub);
    s = store_malloc(sizeof(*s));
    if (s == NULL)
        return STORE_ERR_NOMEM;
    memset(s, 0, sizeof(*s));
    s->lock_fd = -1;
    s->readonly = readonly;
    s->cfg = *cfg;
    s->cfg.dir = NULL;
    s->cfg.identity = NULL;
    if (pthread_mutex_init(&s->writer, NULL) != 0) {
        err = STORE_ERR_NOMEM;
        goto out;
    }
    s->writer_init = true;

    if ((err = fs_dir_prepare(cfg->dir, create, detail)) != STORE_OK ||
        (err = fs_check_local(cfg->dir, detail)) != STORE_OK)
        goto out;
    if (!readonly && (err = fs_lock_take(cfg->dir, &s->lock_fd, detail)) != STORE_OK)
        goto out;
    marked = fs_mark_read(cfg->dir, mark, sizeof(mark));
    if ((err = check_data_file(cfg->dir, data, marked, mark, cfg->flags, detail)) != STORE_OK ||
        (err = fs_dir_prepare(sub, create, detail)) != STORE_OK)
        goto out;
    if ((err = kv_env_open(sub, readonly, cfg->map_initial, cfg->map_max, &s->env, detail)) !=
        STORE_OK)
        goto out;
    if (readonly) {
        err = open_meta_readonly(s, detail);
    } else {
        if (cfg->identity != NULL &&
            (err = sign_key_copy(cfg->identity->sign_secret, &s->sign_secret)) != STORE_OK)
            goto out;
        err = store_write(s, open_meta, &o, detail);
    }
    /* From here on the directory is known to hold a store. */
    if (err == STORE_OK && !readonly && !marked)
        err = fs_mark_write(cfg->dir, store_now(s), detail);
    if (err != STORE_OK)
        goto out;
    *store_out = s;
    s = NULL;
out:
    if (err != STORE_OK && detail != NULL && detail->text[0] == '\0')
        store_detail_set(detail, "store", "cannot open the store in %s: %s", cfg->dir,
                         store_strerror(err));
    store_close(&s);
    return err;
}

void
store_close(store **sp)
{
    store *s = sp != NULL ? *sp : NULL;

    if (s == NULL)
        return;
    kv_env_close(&s->env);
    fs_lock_release(&s->lock_fd);
    sign_key_free(&s->sign_secret);
    if (s->writer_init)
        pthread_mutex_destroy(&s->writer);
    store_free(s);
    *sp = NULL;
}

store_err
store_sign_public(const store *s, uint8_t out[PROTO_SIGN_PUBLIC_BYTES])
{
    if (!s->have_public)
        return STORE_ERR_KEY;
    memcpy(out, s->sign_public, PROTO_SIGN_PUBLIC_BYTES);
    return STORE_OK;
}

void
store_space(const store *s, uint64_t *map_bytes_out, uint64_t *used_bytes_out)
{
    kv_env_space(s->env, map_bytes_out, used_bytes_out);
}

void
store_release_memory(store *s)
{
    kv_env_release(s->env);
}

/* ---- Read snapshots -------------------------------------------------------- */

store_err
store_read_begin(store *s, store_read **r_out)
{
    store_read *r = store_malloc(sizeof(*r));
    store_err err;

    if (r == NULL)
        return STORE_ERR_NOMEM;
    r->s = s;
    if ((err = kv_begin(s->env, NULL, false, &r->txn)) != STORE_OK) {
        store_free(r);
        return err;
    }
    *r_out = r;
    return STORE_OK;
}

void
store_read_end(store_read **rp)
{
    store_read *r = rp != NULL ? *rp : NULL;

    if (r == NULL)
        return;
    kv_abort(&r->txn);
    store_free(r);
    *rp = NULL;
}

/* ---- Tree heads on demand ---------------------------------------------------- */

typedef struct head_ctx {
    store_tree_head head;   /* what was signed */
} head_ctx;

static store_err
head_fn(store *s, kv_txn *txn, void *ctx)
{
    head_ctx *h = ctx;

    return audit_head_put(s, txn, &s->frontier, store_now(s), &h->head);
}

store_err
store_audit_head_sign(store *s, store_tree_head *head_out, proto_detail *detail)
{
    head_ctx h;
    store_err err;

    if (s->readonly)
        return STORE_ERR_READONLY;
    if (s->sign_secret == NULL) {
        store_detail_set(detail, "identity", "the store was opened without a signing key");
        return STORE_ERR_KEY;
    }
    store_writer_lock(s);
    err = store_write(s, head_fn, &h, detail);
    if (err == STORE_OK && (h.head.tree_size > s->last_head_size || s->last_head_ms == 0)) {
        s->last_head_size = h.head.tree_size;
        s->last_head_ms = h.head.time_ms;
    }
    store_writer_unlock(s);
    if (err != STORE_OK)
        return err;
    *head_out = h.head;
    return STORE_OK;
}
