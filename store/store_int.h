/* Private to store/: the key/value layer over LMDB, OS calls, shared pieces. */
#ifndef LIAISON_STORE_INT_H
#define LIAISON_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "liaison_store.h"

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

#define STORE_FORMAT_VERSION 1u      /* meta "format"; bumped on an incompatible layout */
#define STORE_SUBDIR         "store" /* LMDB files live in <dir>/store/ */
#define STORE_LOCK_FILE      "broker.lock"
#define STORE_MARK_FILE      "store.created" /* <dir>/store.created: this directory holds a store */
#define STORE_MAP_MIN        (1u << 20) /* smallest map we accept, 1 MiB */

/* Records the field and reason of an error, if detail is not NULL. */
void store_detail_set(proto_detail *detail, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Big-endian integers ------------------------------------------------ */

static inline void
store_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t
store_get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- Allocation with test-only fault injection ------------------------- */

void *store_malloc(size_t n);
void *store_realloc(void *p, size_t n);
void store_free(void *p);

/*
 * Test hooks (never used by the broker).  store_fault_alloc(n): the n-th
 * allocation from now (0 = the next) fails; -1 turns it off.
 * store_fault_io(n): the n-th LMDB write operation (put, delete, commit)
 * from now fails as LMDB fails a write, with EIO; -1 turns it off.
 * store_fault_fs_type(t): statfs reports file system type t (0: the real
 * one).  store_fault_free_bytes(n): statvfs reports n bytes free (-1: the
 * real figure).  Not thread-safe.
 */
void store_fault_alloc(long n);
void store_fault_io(long n);
void store_fault_fs_type(long t);
void store_fault_free_bytes(long long n);
bool store_fault_io_hit(void);

/* ---- Key/value layer (lmdb_env.c is the only file that calls LMDB) ------ */

/* The named databases of the environment. */
typedef enum store_db {
    DB_META = 0,       /* store's own settings: format, public key */
    DB_KV,             /* the broker's key/value table */
    DB_AUDIT_REC,      /* u64 index -> canonical audit record */
    DB_AUDIT_TREE,     /* u64 index -> leaf hash || nodes completed at that leaf */
    DB_AUDIT_HEAD,     /* u64 tree size -> signed tree head */
    DB_ENVELOPE,       /* id -> metadata || envelope bytes */
    DB_DUP,            /* id -> u64 dup_until_ms */
    DB_DUP_EXPIRY,     /* u64 dup_until_ms || id -> "" */
    DB_EXPIRY,         /* u64 expires_ms || id -> "" */
    DB_QUEUE,          /* u8 len || dest || u64 seq -> id || u64 enqueued_ms */
    DB_QUEUE_INDEX,    /* id || u8 len || dest || u64 seq -> "" */
    DB_DEPTH,          /* dest -> u64 next_seq || u64 depth */
    DB_STATE,          /* id || recipient text -> state record */
    DB_COUNT
} store_db;

typedef struct kv_env kv_env;

/* A transaction; lives on the caller's stack between begin and commit/abort. */
typedef struct kv_txn {
    struct MDB_txn *txn;    /* the LMDB transaction; NULL once ended */
    kv_env *env;            /* its environment */
    bool write;             /* a write (or nested write) transaction */
    bool top;               /* holds the environment's resize lock */
} kv_txn;

/* A cursor over one database; closed with kv_cursor_close. */
typedef struct kv_cursor {
    struct MDB_cursor *cur; /* the LMDB cursor */
    kv_txn *txn;            /* its transaction */
} kv_cursor;

#define KV_APPEND      0x01u /* key is larger than every key of the db */
#define KV_NOOVERWRITE 0x02u /* STORE_ERR_DUPLICATE if the key exists */
#define KV_TAIL        0x04u /* keys mostly grow: append when past the last (see put) */

/* Opens the environment in path (a directory that exists). */
store_err kv_env_open(const char *path, bool readonly, uint64_t map_initial, uint64_t map_max,
                      kv_env **env_out, proto_detail *detail);
void kv_env_close(kv_env **env);
/* Doubles the map (up to map_max); no transaction of this process may be live
 * but the caller's resize lock is taken here.  STORE_ERR_MAP_FULL at the max. */
store_err kv_env_grow(kv_env *env, proto_detail *detail);
void kv_env_space(kv_env *env, uint64_t *map_out, uint64_t *used_out);
/* Drops the map's pages from this process's resident set (see store_release_memory). */
void kv_env_release(kv_env *env);

/* Begins a transaction; parent non-NULL makes a nested write transaction. */
store_err kv_begin(kv_env *env, kv_txn *parent, bool write, kv_txn *txn_out);
store_err kv_commit(kv_txn *txn);
void kv_abort(kv_txn *txn);

store_err kv_get(kv_txn *txn, store_db db, const void *key, size_t klen, proto_slice *val_out);
store_err kv_put(kv_txn *txn, store_db db, const void *key, size_t klen, const void *val,
                 size_t vlen, unsigned flags);
/* Puts a value of vlen bytes and lets the caller write it at *space_out
 * (valid until the next write in txn). */
store_err kv_reserve(kv_txn *txn, store_db db, const void *key, size_t klen, size_t vlen,
                     unsigned flags, uint8_t **space_out);
store_err kv_del(kv_txn *txn, store_db db, const void *key, size_t klen);

store_err kv_cursor_open(kv_txn *txn, store_db db, kv_cursor *cur_out);
void kv_cursor_close(kv_cursor *cur);
/* Positions at the first key >= key (or the first key when klen is 0). */
store_err kv_cursor_seek(kv_cursor *cur, const void *key, size_t klen, proto_slice *key_out,
                         proto_slice *val_out);
store_err kv_cursor_next(kv_cursor *cur, proto_slice *key_out, proto_slice *val_out);
store_err kv_cursor_last(kv_cursor *cur, proto_slice *key_out, proto_slice *val_out);
/* Deletes the entry the cursor is on. */
store_err kv_cursor_del(kv_cursor *cur);

/* ---- OS calls (fs.c) ---------------------------------------------------- */

/* Makes dir (mode 0700) if create and it is missing; STORE_ERR_NOT_FOUND otherwise. */
store_err fs_dir_prepare(const char *dir, bool create, proto_detail *detail);
/* STORE_ERR_NETWORK_FS if dir is on a network file system (names it in detail). */
store_err fs_check_local(const char *dir, proto_detail *detail);
/* Takes the exclusive broker lock file in dir and writes our PID into it;
 * *fd_out is the open lock file.  STORE_ERR_LOCKED names the holder's PID. */
store_err fs_lock_take(const char *dir, int *fd_out, proto_detail *detail);
void fs_lock_release(int *fd);
/* True if path exists. */
bool fs_exists(const char *path);
/* Size of the file at path into *size_out; STORE_ERR_NOT_FOUND if there is none. */
store_err fs_file_size(const char *path, uint64_t *size_out, proto_detail *detail);
/*
 * The marker that a data directory holds a store: dir/STORE_MARK_FILE,
 * written (and synced, with the directory) when a store is first opened
 * for writing, and never removed by the store.  It outlives a deleted or
 * emptied data file, so that such a directory is never taken for a new one.
 * fs_mark_read copies its first line into text (len bytes) and returns
 * true when it exists.
 */
store_err fs_mark_write(const char *dir, uint64_t now_ms, proto_detail *detail);
bool fs_mark_read(const char *dir, char *text, size_t len);
/* Bytes free for an unprivileged writer on the file system of dir; false
 * when it cannot be told. */
bool fs_free_bytes(const char *dir, uint64_t *free_out);

/* ---- Cryptography (crypto.c is the only file that calls libsodium) ------- */

/* Copies a 64-byte Ed25519 secret key into guarded memory. */
store_err sign_key_copy(const uint8_t secret[PROTO_SIGN_SECRET_BYTES], uint8_t **key_out);
void sign_key_free(uint8_t **key);
void sign_detached(const uint8_t *secret, const uint8_t *msg, size_t len,
                   uint8_t sig_out[PROTO_SIGNATURE_BYTES]);
bool sign_verify(const uint8_t pub[PROTO_SIGN_PUBLIC_BYTES], const uint8_t *msg, size_t len,
                 const uint8_t sig[PROTO_SIGNATURE_BYTES]);
/* Constant-time comparison. */
bool ct_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* ---- The open store ------------------------------------------------------ */

/* The compact range of the whole tree: roots of its perfect subtrees. */
typedef struct store_frontier {
    uint64_t size;                           /* leaves in the tree */
    unsigned count;                          /* subtree roots held */
    uint8_t level[64];                       /* level of each root, largest first */
    uint8_t hash[64][PROTO_HASH_BYTES];      /* the roots, left to right */
} store_frontier;

struct store {
    kv_env *env;                             /* the LMDB environment */
    int lock_fd;                             /* broker lock file, -1 when read-only */
    bool readonly;                           /* opened with STORE_OPEN_READONLY */
    uint8_t *sign_secret;                    /* guarded Ed25519 secret, NULL: cannot sign */
    bool have_public;                        /* sign_public is set */
    uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]; /* key recorded in the directory */
    store_frontier frontier;                 /* of the committed tree (writer only) */
    uint64_t last_head_ms;                   /* time of the newest stored head */
    uint64_t last_head_size;                 /* size of the newest stored head */
    store_config cfg;                        /* a copy; dir and identity not kept */
    pthread_mutex_t writer;                  /* held by commit, sweep and head signing */
    bool writer_init;                        /* writer was initialised */
};

struct store_read {
    store *s;                                /* the store read */
    kv_txn txn;                              /* the read transaction */
};

/* Serialise the store's writers (commit, sweep, head signing): the
 * in-memory frontier changes after LMDB's writer lock is released. */
void store_writer_lock(store *s);
void store_writer_unlock(store *s);

/* Now, by the store's clock. */
uint64_t store_now(const store *s);

/* ---- Audit tree (audit.c) ------------------------------------------------ */

/* Loads the frontier of the tree of size leaves from the stored nodes. */
store_err audit_frontier_load(kv_txn *txn, store_frontier *f_out);
/* Appends one encoded record as leaf f->size: stores it and the nodes it
 * completes, and updates *f. */
store_err audit_append_leaf(kv_txn *txn, store_frontier *f, const uint8_t *rec, size_t len);
/* Adds a leaf hash to a frontier (no storage; tests use it on raw leaves). */
void audit_frontier_add(store_frontier *f, const uint8_t h[PROTO_HASH_BYTES]);
/* Root of the frontier's tree. */
void audit_frontier_root(const store_frontier *f, uint8_t out[PROTO_HASH_BYTES]);
/* Signs and stores the head of the frontier's tree at time now. */
store_err audit_head_put(store *s, kv_txn *txn, const store_frontier *f, uint64_t now,
                         store_tree_head *head_out);
/* Reads the newest stored head; STORE_ERR_NOT_FOUND if none. */
store_err audit_head_latest(kv_txn *txn, store_tree_head *head_out);

/* ---- Messages (msg.c) ---------------------------------------------------- */

/* Checks a destination name. */
bool msg_dest_valid(const char *dest, size_t *len_out);

/* Operation kinds of a batch. */
typedef enum batch_op_kind {
    OP_ENVELOPE = 1,       /* put an envelope */
    OP_ENVELOPE_REMOVE,    /* remove an envelope */
    OP_ENQUEUE,            /* append to a queue */
    OP_DEQUEUE,            /* remove a queue entry by seq */
    OP_DEQUEUE_ID,         /* remove a queue's entries of one id */
    OP_STATE,              /* set a delivery state */
    OP_AUDIT,              /* append an audit record */
    OP_META_PUT,           /* set a broker meta key */
    OP_META_DELETE,        /* delete a broker meta key */
    OP_DEQUEUE_IF,         /* remove a queue entry by seq, if it is there */
} batch_op_kind;

/* One operation; variable bytes live in the batch's arena. */
typedef struct batch_op {
    uint8_t kind;                     /* a batch_op_kind */
    uint8_t id[PROTO_ID_BYTES];       /* message id, when it has one */
    uint64_t num;                     /* seq or time, by kind */
    size_t a_off, a_len;              /* first arena run (dest, record, key, info) */
    size_t b_off, b_len;              /* second arena run (meta value) */
    const uint8_t *borrowed;          /* envelope bytes (OP_ENVELOPE) */
    size_t borrowed_len;              /* bytes at borrowed */
} batch_op;

/* Applies one operation within txn at time now.  Item-level refusals come
 * back as STORE_ERR_DUPLICATE / STORE_ERR_NOT_FOUND; other errors abort
 * the whole commit. */
store_err msg_apply(kv_txn *txn, const batch_op *op, const uint8_t *arena, uint64_t now);
/* The refusal msg_apply would give op (STORE_ERR_DUPLICATE or
 * STORE_ERR_NOT_FOUND), found by lookups alone; STORE_OK if it would not refuse. */
store_err msg_precheck(kv_txn *txn, const batch_op *op, const uint8_t *arena, uint64_t now);

/* Encodes a state record value; 0 if it does not fit in cap. */
size_t msg_state_encode(const proto_status_entry *e, uint8_t *buf, size_t cap);
/* Bytes of the envelope metadata prefix at most, and its encoder. */
#define MSG_ENV_META_MAX (1u + 24u + 1u + PROTO_ADDR_TEXT_MAX + 1u + PROTO_KIND_MAX)
size_t msg_env_meta_encode(const store_envelope_info *info, uint8_t *buf);
/* Decodes a stored envelope value into *info and (if not NULL) its bytes. */
store_err msg_env_decode(const uint8_t id[PROTO_ID_BYTES], proto_slice v, store_envelope_info *info,
                         proto_slice *bytes);
/* Removes every queue entry of id (only of dest when dlen > 0). */
store_err msg_dequeue_all(kv_txn *txn, const uint8_t id[PROTO_ID_BYTES], const char *dest,
                          size_t dlen, size_t *removed_out);
/* Calls fn for each stored state of id, in recipient order. */
store_err msg_states_each(kv_txn *txn, const uint8_t id[PROTO_ID_BYTES],
                          store_err (*fn)(void *ctx, const proto_status_entry *e), void *ctx);
/* Deletes every state of id. */
store_err msg_states_delete(kv_txn *txn, const uint8_t id[PROTO_ID_BYTES]);
/* Sets one state of id. */
store_err msg_state_put(kv_txn *txn, const uint8_t id[PROTO_ID_BYTES], const proto_status_entry *e);

/* ---- Write transactions (store.c) ---------------------------------------- */

/* Runs fn in a write transaction and commits it; when the map is full,
 * aborts, grows the map and runs fn again (so fn must start afresh). */
store_err store_write(store *s, store_err (*fn)(store *s, kv_txn *txn, void *ctx), void *ctx,
                      proto_detail *detail);
/* The real-time clock in Unix ms (fs.c). */
uint64_t fs_now_ms(void);

#endif
