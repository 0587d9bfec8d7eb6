/* The only file that calls LMDB: environment, map growth, transactions, cursors. */
#define _DEFAULT_SOURCE /* madvise */
#include <errno.h>
#include <lmdb.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

struct kv_env {
    MDB_env *env;                 /* the LMDB environment */
    MDB_dbi dbi[DB_COUNT];        /* handles of the named databases */
    bool absent[DB_COUNT];        /* read-only open: a database the store does not have yet */
    pthread_rwlock_t resize;      /* read: a transaction is live; write: the map is resized */
    bool resize_init;             /* resize was initialised */
    bool readonly;                /* opened MDB_RDONLY */
    uint64_t map_max;             /* growth stops here */
    char path[4096];              /* the environment's directory, for disk-full checks */
};

static const char *const db_names[DB_COUNT] = {
    [DB_META] = "meta",
    [DB_KV] = "kv",
    [DB_AUDIT_REC] = "audit.records",
    [DB_AUDIT_TREE] = "audit.tree",
    [DB_AUDIT_HEAD] = "audit.heads",
    [DB_ENVELOPE] = "msg.envelopes",
    [DB_DUP] = "msg.dup",
    [DB_DUP_EXPIRY] = "msg.dup_expiry",
    [DB_EXPIRY] = "msg.expiry",
    [DB_QUEUE] = "msg.queues",
    [DB_QUEUE_INDEX] = "msg.queue_index",
    [DB_DEPTH] = "msg.depth",
    [DB_STATE] = "msg.states",
    [DB_RETAIN] = "msg.retention",
};

/* Translates an LMDB or errno code at the edge. */
static store_err
xlate(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return STORE_OK;
    case MDB_NOTFOUND:
    case ENOENT:
        return STORE_ERR_NOT_FOUND;
    case MDB_KEYEXIST:
        return STORE_ERR_DUPLICATE;
    case MDB_MAP_FULL:
        return STORE_ERR_MAP_FULL;
    case MDB_TXN_FULL:
    case MDB_BAD_VALSIZE:
    case MDB_DBS_FULL:
    case MDB_READERS_FULL:
        return STORE_ERR_LIMIT;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_INCOMPATIBLE:
        return STORE_ERR_CORRUPT;
    case MDB_VERSION_MISMATCH:
        return STORE_ERR_VERSION;
    case ENOMEM:
        return STORE_ERR_NOMEM;
    case ENOSPC:
    case EDQUOT:
        return STORE_ERR_DISK_FULL;
    case EACCES:
    case EPERM:
    case EROFS:
        return STORE_ERR_PERMISSION;
    default:
        return STORE_ERR_IO;
    }
}

/*
 * Below this many free bytes, a write that failed with EIO is taken for a
 * full disk: LMDB reports a short write (which is how a full disk shows)
 * as EIO, not ENOSPC.
 */
#define DISK_FULL_BELOW ((uint64_t)1 << 20)

/* Translates the code of an LMDB call that may have written to the disk. */
static store_err
xlate_write(kv_env *e, int rc)
{
    uint64_t avail = 0;

    if (rc == EIO && fs_free_bytes(e->path, &avail) && avail < DISK_FULL_BELOW)
        rc = ENOSPC;
    if (rc == ENOSPC || rc == EDQUOT)
        PROTO_LOG(PROTO_LOG_ERROR, "STO-DISK-FULL", "dir=%s free_bytes=%llu error=\"%s\"",
                  e->path, fs_free_bytes(e->path, &avail) ? (unsigned long long)avail : 0ull,
                  strerror(rc));
    return xlate(rc);
}

/*
 * Pages a data file may lack at its end without being damaged: a page that
 * the last transaction allocated and freed again before it committed is
 * counted in the meta page's last page number but is never written.
 */
#define SHORT_TAIL_PAGES 16u

/*
 * Checks that the data file holds every page the meta page says is in use
 * before anything is read through the map: a page past the end of the file
 * is not an error LMDB can return but a SIGBUS that kills the process.
 * mdb_env_open reads the two meta pages with read(), not through the map.
 */
static store_err
check_size(kv_env *e, const char *path, bool *short_out, proto_detail *detail)
{
    MDB_envinfo info;
    MDB_stat st;
    struct stat fst;
    mdb_filehandle_t fd;
    uint64_t need, have;

    if (mdb_env_get_fd(e->env, &fd) != 0 || fstat(fd, &fst) != 0) {
        store_detail_set(detail, "data", "cannot stat %s/data.mdb: %s", path, strerror(errno));
        return STORE_ERR_IO;
    }
    mdb_env_info(e->env, &info);
    mdb_env_stat(e->env, &st);
    need = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    have = (uint64_t)fst.st_size;
    *short_out = have < need;
    if (have >= need)
        return STORE_OK;
    if (need - have > (uint64_t)SHORT_TAIL_PAGES * st.ms_psize) {
        store_detail_set(detail, "data",
                         "%s/data.mdb is %llu bytes, but its pages in use reach %llu bytes: the "
                         "file was truncated; restore the store from a backup",
                         path, (unsigned long long)have, (unsigned long long)need);
        PROTO_LOG(PROTO_LOG_ERROR, "STO-TRUNCATED", "path=%s/data.mdb bytes=%llu needed=%llu",
                  path, (unsigned long long)have, (unsigned long long)need);
        return STORE_ERR_CORRUPT;
    }
    /* Pages freed unwritten: give them room, so that reading them never
     * faults.  A read-only open may not write; it never reads free pages. */
    if (!e->readonly && ftruncate(fd, (off_t)need) != 0) {
        store_detail_set(detail, "data", "cannot extend %s/data.mdb to %llu bytes: %s", path,
                         (unsigned long long)need, strerror(errno));
        return xlate(errno);
    }
    return STORE_OK;
}

/*
 * Reads every entry of every database, so that every branch and leaf page in
 * use is visited: run when the data file ends before the last page in use
 * (check_size), to tell pages freed unwritten from pages cut off.  A cut-off
 * page reads as zeros once the file is extended, and LMDB refuses a page
 * that is neither branch nor leaf with MDB_CORRUPTED.  Overflow pages (large
 * envelopes) are not checked here; their hash is, before each delivery.
 */
static store_err
walk_pages(kv_env *e, const char *path, proto_detail *detail)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0;
    size_t entries = 0;

    rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn);
    /* LMDB's own two first (0: the free list, which the last commit writes
     * at the end of the file more often than not; 1: the names), then ours. */
    for (int i = -2; i < DB_COUNT && rc == 0; i++) {
        MDB_dbi dbi = i < 0 ? (MDB_dbi)(i + 2) : e->dbi[i];
        const char *name = i == -2 ? "(free pages)" : i == -1 ? "(names)" : db_names[i];

        if (i >= 0 && e->absent[i])
            continue;

        rc = mdb_cursor_open(txn, dbi, &cur);
        while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
            entries++;
        if (rc == MDB_NOTFOUND)
            rc = 0;
        if (rc != 0)
            store_detail_set(detail, "data",
                             "%s/data.mdb ends before its last page in use and database %s "
                             "does not read whole (%s): the file was truncated; restore the "
                             "store from a backup",
                             path, name, mdb_strerror(rc));
        mdb_cursor_close(cur);
        cur = NULL;
    }
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (rc != 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "STO-TRUNCATED", "path=%s/data.mdb error=\"%s\"", path,
                  mdb_strerror(rc));
        return STORE_ERR_CORRUPT;
    }
    PROTO_LOG(PROTO_LOG_INFO, "STO-SHORT-TAIL",
              "path=%s/data.mdb entries=%zu action=\"every database read whole: the missing "
              "tail pages were free\"",
              path, entries);
    return STORE_OK;
}

static store_err
open_dbis(kv_env *e, proto_detail *detail)
{
    MDB_txn *txn = NULL;
    int rc;
    store_err err = STORE_OK;

    rc = mdb_txn_begin(e->env, NULL, e->readonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        store_detail_set(detail, "store", "cannot begin a transaction: %s", mdb_strerror(rc));
        return xlate(rc);
    }
    for (int i = 0; i < DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, db_names[i], e->readonly ? 0 : MDB_CREATE, &e->dbi[i]);
        if (rc == MDB_NOTFOUND && e->readonly && i == DB_RETAIN) {
            /* A store no writable open has seen since retention came: only
             * the retention sweep, which writes, reads this database. */
            e->absent[i] = true;
            rc = 0;
            continue;
        }
        if (rc != 0) {
            store_detail_set(detail, db_names[i], "cannot open database %s: %s", db_names[i],
                             mdb_strerror(rc));
            err = rc == MDB_NOTFOUND ? STORE_ERR_CORRUPT : xlate(rc);
            mdb_txn_abort(txn);
            return err;
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        store_detail_set(detail, "store", "cannot commit: %s", mdb_strerror(rc));
        return xlate(rc);
    }
    return STORE_OK;
}

store_err
kv_env_open(const char *path, bool readonly, uint64_t map_initial, uint64_t map_max,
            kv_env **env_out, proto_detail *detail)
{
    kv_env *e = NULL;
    store_err err = STORE_OK;
    int rc;
    int dead = 0;
    bool short_tail = false;
    /* Never MDB_NOSYNC, MDB_NOMETASYNC or MDB_WRITEMAP: every commit is
     * durable when it returns.  MDB_NORDAHEAD: queues and indexes are read
     * at random, and read-ahead would only swell the resident set.  MDB_NOTLS ties a read slot to its
     * transaction, not its thread. */
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (readonly ? MDB_RDONLY : 0);

    e = store_malloc(sizeof(*e));
    if (e == NULL)
        return STORE_ERR_NOMEM;
    memset(e, 0, sizeof(*e));
    e->readonly = readonly;
    e->map_max = map_max;
    snprintf(e->path, sizeof(e->path), "%s", path);
    if (pthread_rwlock_init(&e->resize, NULL) != 0) {
        err = STORE_ERR_NOMEM;
        goto out;
    }
    e->resize_init = true;
    rc = mdb_env_create(&e->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(e->env, DB_COUNT + 2);
    if (rc == 0)
        rc = mdb_env_set_mapsize(e->env, (size_t)map_initial);
    if (rc != 0) {
        store_detail_set(detail, "store", "cannot create the LMDB environment: %s",
                         mdb_strerror(rc));
        err = xlate(rc);
        goto out;
    }
    rc = mdb_env_open(e->env, path, flags, 0600);
    if (rc != 0) {
        store_detail_set(detail, "store", "cannot open LMDB environment %s: %s", path,
                         mdb_strerror(rc));
        err = xlate(rc);
        goto out;
    }
    if ((err = check_size(e, path, &short_tail, detail)) != STORE_OK)
        goto out;
    /* A broker killed while reading leaves its reader slot behind. */
    rc = mdb_reader_check(e->env, &dead);
    if (rc != 0) {
        store_detail_set(detail, "store", "reader check failed: %s", mdb_strerror(rc));
        err = xlate(rc);
        goto out;
    }
    if (dead > 0)
        PROTO_LOG(PROTO_LOG_INFO, "STO-READERS", "path=%s cleared=%d stale reader slots",
                  path, dead);
    err = open_dbis(e, detail);
    if (err != STORE_OK)
        goto out;
    /* Read-only, the missing pages cannot be given room (check_size), and a
     * walk could fault on them: only a writable open looks. */
    if (short_tail && !readonly && (err = walk_pages(e, path, detail)) != STORE_OK)
        goto out;
    *env_out = e;
    e = NULL;
out:
    kv_env_close(&e);
    return err;
}

void
kv_env_close(kv_env **envp)
{
    kv_env *e = envp != NULL ? *envp : NULL;

    if (e == NULL)
        return;
    if (e->env != NULL)
        mdb_env_close(e->env);
    if (e->resize_init)
        pthread_rwlock_destroy(&e->resize);
    store_free(e);
    *envp = NULL;
}

store_err
kv_env_grow(kv_env *e, proto_detail *detail)
{
    MDB_envinfo info;
    uint64_t next;
    int rc;
    store_err err = STORE_OK;

    pthread_rwlock_wrlock(&e->resize);
    mdb_env_info(e->env, &info);
    if ((uint64_t)info.me_mapsize >= e->map_max) {
        store_detail_set(detail, "store", "the map is full at its maximum of %llu bytes",
                         (unsigned long long)e->map_max);
        err = STORE_ERR_MAP_FULL;
        goto out;
    }
    next = (uint64_t)info.me_mapsize * 2;
    if (next > e->map_max)
        next = e->map_max;
    rc = mdb_env_set_mapsize(e->env, (size_t)next);
    if (rc != 0) {
        store_detail_set(detail, "store", "cannot grow the map to %llu bytes: %s",
                         (unsigned long long)next, mdb_strerror(rc));
        err = xlate(rc);
        goto out;
    }
    PROTO_LOG(PROTO_LOG_INFO, "STO-GROW", "map grew from %llu to %llu bytes",
              (unsigned long long)info.me_mapsize, (unsigned long long)next);
out:
    pthread_rwlock_unlock(&e->resize);
    return err;
}

/*
 * LMDB does not say where it mapped the data file (me_mapaddr is only set
 * with MDB_FIXEDMAP), so the mapping is found in /proc/self/maps by the
 * file's device and inode.
 */
void
kv_env_release(kv_env *e)
{
    struct stat st;
    mdb_filehandle_t fd;
    FILE *maps;
    char line[1024];

    if (mdb_env_get_fd(e->env, &fd) != 0 || fstat(fd, &st) != 0)
        return;
    /* The read side of the resize lock keeps the map where it is meanwhile. */
    pthread_rwlock_rdlock(&e->resize);
    maps = fopen("/proc/self/maps", "r");
    while (maps != NULL && fgets(line, sizeof(line), maps) != NULL) {
        unsigned long long start, end, inode;
        unsigned major, minor;

        if (sscanf(line, "%llx-%llx %*s %*s %x:%x %llu", &start, &end, &major, &minor, &inode) != 5 ||
            inode != (unsigned long long)st.st_ino || makedev(major, minor) != st.st_dev)
            continue;
        if (madvise((void *)(uintptr_t)start, (size_t)(end - start), MADV_DONTNEED) != 0)
            PROTO_LOG(PROTO_LOG_WARN, "STO-MADVISE", "madvise failed: %s", strerror(errno));
    }
    if (maps != NULL)
        fclose(maps);
    pthread_rwlock_unlock(&e->resize);
}

void
kv_env_space(kv_env *e, uint64_t *map_out, uint64_t *used_out)
{
    MDB_envinfo info;
    MDB_stat st;

    mdb_env_info(e->env, &info);
    mdb_env_stat(e->env, &st);
    *map_out = info.me_mapsize;
    *used_out = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
}

store_err
kv_begin(kv_env *e, kv_txn *parent, bool write, kv_txn *txn_out)
{
    MDB_txn *t = NULL;
    int rc;

    memset(txn_out, 0, sizeof(*txn_out));
    txn_out->env = e;
    txn_out->write = write;
    if (parent != NULL) {
        rc = mdb_txn_begin(e->env, parent->txn, 0, &t);
        if (rc != 0)
            return xlate(rc);
        txn_out->txn = t;
        return STORE_OK;
    }
    if (write && e->readonly)
        return STORE_ERR_READONLY;
    for (;;) {
        pthread_rwlock_rdlock(&e->resize);
        rc = mdb_txn_begin(e->env, NULL, write ? 0 : MDB_RDONLY, &t);
        if (rc != MDB_MAP_RESIZED)
            break;
        /* Another process grew the map: adopt its size, then try again. */
        pthread_rwlock_unlock(&e->resize);
        pthread_rwlock_wrlock(&e->resize);
        rc = mdb_env_set_mapsize(e->env, 0);
        pthread_rwlock_unlock(&e->resize);
        if (rc != 0)
            return xlate(rc);
    }
    if (rc != 0) {
        pthread_rwlock_unlock(&e->resize);
        return xlate(rc);
    }
    txn_out->txn = t;
    txn_out->top = true;
    return STORE_OK;
}

static void
txn_done(kv_txn *txn)
{
    txn->txn = NULL;
    if (txn->top) {
        txn->top = false;
        pthread_rwlock_unlock(&txn->env->resize);
    }
}

store_err
kv_commit(kv_txn *txn)
{
    int rc;

    if (txn->txn == NULL)
        return STORE_ERR_STATE;
    if (txn->write && store_fault_io_hit()) {
        kv_abort(txn);
        return xlate_write(txn->env, EIO);
    }
    rc = mdb_txn_commit(txn->txn);
    txn_done(txn);
    return xlate_write(txn->env, rc);
}

void
kv_abort(kv_txn *txn)
{
    if (txn->txn == NULL)
        return;
    mdb_txn_abort(txn->txn);
    txn_done(txn);
}

store_err
kv_get(kv_txn *txn, store_db db, const void *key, size_t klen, proto_slice *val_out)
{
    MDB_val k = {klen, (void *)(uintptr_t)key}, v;
    int rc = mdb_get(txn->txn, txn->env->dbi[db], &k, &v);

    if (rc != 0)
        return xlate(rc);
    val_out->data = v.mv_data;
    val_out->len = v.mv_size;
    return STORE_OK;
}

/*
 * One put.  KV_TAIL first tries MDB_APPEND, which LMDB refuses with
 * MDB_KEYEXIST, touching nothing, unless the key is past the database's
 * last; a key that is not is put in place.  Appending splits a full page
 * at its end rather than its middle, so keys that mostly grow (message ids
 * begin with their creation time) leave pages full instead of half empty:
 * fewer pages to write at each commit and to keep on disk.
 */
static int
put(kv_txn *txn, store_db db, MDB_val *k, MDB_val *v, unsigned flags, unsigned mflags)
{
    MDB_dbi dbi = txn->env->dbi[db];

    if (flags & KV_APPEND)
        mflags |= MDB_APPEND;
    if (flags & KV_NOOVERWRITE)
        mflags |= MDB_NOOVERWRITE;
    if (flags & KV_TAIL) {
        MDB_val keep = *v;
        int rc = mdb_put(txn->txn, dbi, k, v, mflags | MDB_APPEND);

        if (rc != MDB_KEYEXIST)
            return rc;
        *v = keep;
    }
    return mdb_put(txn->txn, dbi, k, v, mflags);
}

store_err
kv_put(kv_txn *txn, store_db db, const void *key, size_t klen, const void *val, size_t vlen,
       unsigned flags)
{
    MDB_val k = {klen, (void *)(uintptr_t)key}, v = {vlen, (void *)(uintptr_t)val};

    if (store_fault_io_hit())
        return xlate_write(txn->env, EIO);
    return xlate_write(txn->env, put(txn, db, &k, &v, flags, 0));
}

store_err
kv_reserve(kv_txn *txn, store_db db, const void *key, size_t klen, size_t vlen, unsigned flags,
           uint8_t **space_out)
{
    MDB_val k = {klen, (void *)(uintptr_t)key}, v = {vlen, NULL};
    int rc;

    if (store_fault_io_hit())
        return xlate_write(txn->env, EIO);
    rc = put(txn, db, &k, &v, flags, MDB_RESERVE);
    if (rc != 0)
        return xlate_write(txn->env, rc);
    *space_out = v.mv_data;
    return STORE_OK;
}

store_err
kv_del(kv_txn *txn, store_db db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};

    if (store_fault_io_hit())
        return xlate_write(txn->env, EIO);
    return xlate_write(txn->env, mdb_del(txn->txn, txn->env->dbi[db], &k, NULL));
}

store_err
kv_cursor_open(kv_txn *txn, store_db db, kv_cursor *cur_out)
{
    cur_out->txn = txn;
    cur_out->cur = NULL;
    return xlate(mdb_cursor_open(txn->txn, txn->env->dbi[db], &cur_out->cur));
}

void
kv_cursor_close(kv_cursor *cur)
{
    if (cur->cur != NULL)
        mdb_cursor_close(cur->cur);
    cur->cur = NULL;
}

static store_err
cursor_get(kv_cursor *cur, MDB_val *k, MDB_cursor_op op, proto_slice *key_out,
           proto_slice *val_out)
{
    MDB_val v;
    int rc = mdb_cursor_get(cur->cur, k, &v, op);

    if (rc != 0)
        return xlate(rc);
    if (key_out != NULL) {
        key_out->data = k->mv_data;
        key_out->len = k->mv_size;
    }
    if (val_out != NULL) {
        val_out->data = v.mv_data;
        val_out->len = v.mv_size;
    }
    return STORE_OK;
}

store_err
kv_cursor_seek(kv_cursor *cur, const void *key, size_t klen, proto_slice *key_out,
               proto_slice *val_out)
{
    MDB_val k = {klen, (void *)(uintptr_t)key};

    return cursor_get(cur, &k, klen == 0 ? MDB_FIRST : MDB_SET_RANGE, key_out, val_out);
}

store_err
kv_cursor_next(kv_cursor *cur, proto_slice *key_out, proto_slice *val_out)
{
    MDB_val k = {0, NULL};

    return cursor_get(cur, &k, MDB_NEXT, key_out, val_out);
}

store_err
kv_cursor_last(kv_cursor *cur, proto_slice *key_out, proto_slice *val_out)
{
    MDB_val k = {0, NULL};

    return cursor_get(cur, &k, MDB_LAST, key_out, val_out);
}

store_err
kv_cursor_del(kv_cursor *cur)
{
    if (store_fault_io_hit())
        return xlate_write(cur->txn->env, EIO);
    return xlate_write(cur->txn->env, mdb_cursor_del(cur->cur, 0));
}
