/* Types of the Liaison store: errors, batches, queues, audit records, proofs. */
#ifndef LIAISON_STORE_T_H
#define LIAISON_STORE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto_t.h"

/* ---- Limits ------------------------------------------------------------- */

#define STORE_DEST_MAX        64u   /* bytes of a destination name ("CAN/RCMP", "peer:CAN") */
#define STORE_PARTY_MAX       64u   /* bytes of an audit actor or counterpart */
#define STORE_PURPOSE_MAX     PROTO_PURPOSE_MAX /* bytes of an audit purpose (200) */
#define STORE_RULE_MAX        PROTO_RULE_ID_MAX /* bytes of a policy rule id (64) */
#define STORE_DETAIL_MAX      255u  /* bytes of an audit detail */
#define STORE_META_KEY_MAX    128u  /* bytes of a meta key */
#define STORE_META_VALUE_MAX  4096u /* bytes of a meta value */
#define STORE_QUEUE_EXTRA_MAX 8192u /* bytes a caller may queue with an entry */
#define STORE_PROOF_MAX       128u  /* hashes a proof may hold (64 suffice below 2^64 leaves) */
#define STORE_HASH_BYTES      PROTO_HASH_BYTES /* SHA-256 */

/* Bytes of the longest canonical audit record (see docs/audit.md). */
#define STORE_AUDIT_RECORD_MAX                                                         \
    (1u + 8u + 1u + PROTO_ID_BYTES + (1u + STORE_PARTY_MAX) * 2u + (1u + STORE_PURPOSE_MAX) + \
     (1u + STORE_RULE_MAX) + 2u * PROTO_HASH_BYTES + (1u + STORE_DETAIL_MAX))
#define STORE_AUDIT_VERSION   1u    /* first byte of every audit record */

/* Signed tree heads: what is signed is the context (with its NUL), the tree
 * size (u64 BE), the root and the time (u64 BE ms). */
#define STORE_HEAD_CONTEXT       "liaison tree head v1"
#define STORE_HEAD_CONTEXT_BYTES 21u
#define STORE_HEAD_SIGNED_BYTES  (STORE_HEAD_CONTEXT_BYTES + 8u + PROTO_HASH_BYTES + 8u)

/* ---- Errors --------------------------------------------------------------- */

/* Errors of the store library.  Codes are appended, never renumbered. */
typedef enum store_err {
    STORE_OK = 0,
    STORE_ERR_INVALID = 1,     /* a caller passed an invalid argument */
    STORE_ERR_NOMEM = 2,       /* out of memory */
    STORE_ERR_IO = 3,          /* the file system or LMDB failed to read or write */
    STORE_ERR_NOT_FOUND = 4,   /* no such record, entry, key or data directory */
    STORE_ERR_DUPLICATE = 5,   /* the message id was seen within its duplicate window */
    STORE_ERR_LOCKED = 6,      /* another broker process holds the data directory */
    STORE_ERR_NETWORK_FS = 7,  /* the data directory is on a network file system */
    STORE_ERR_MAP_FULL = 8,    /* the LMDB map reached its configured maximum */
    STORE_ERR_LIMIT = 9,       /* a length, count or size is out of bounds */
    STORE_ERR_CORRUPT = 10,    /* stored data does not decode or does not match */
    STORE_ERR_VERSION = 11,    /* the data directory has an unknown format version */
    STORE_ERR_KEY = 12,        /* no signing key, or not the key this directory was made with */
    STORE_ERR_READONLY = 13,   /* a write on a store opened read-only */
    STORE_ERR_RANGE = 14,      /* a leaf index or tree size outside the log */
    STORE_ERR_PROOF = 15,      /* a Merkle proof does not verify */
    STORE_ERR_SIGNATURE = 16,  /* a tree head signature does not verify */
    STORE_ERR_STATE = 17,      /* an object is in the wrong state (batch committed twice) */
    STORE_ERR_DECODE = 18,     /* bytes are not a canonical audit record */
    STORE_ERR_PERMISSION = 19, /* the data directory may not be opened or created */
    STORE_ERR_EXISTS = 20,     /* the data directory holds, or held, a store already */
    STORE_ERR_LOST = 21,       /* the data directory held a store whose data file is gone */
    STORE_ERR_DISK_FULL = 22,  /* the file system of the data directory is full */
} store_err;

/* ---- Opening -------------------------------------------------------------- */

#define STORE_OPEN_READONLY 0x01u /* read only; no broker lock; the directory must exist */
#define STORE_OPEN_CREATE   0x02u /* create the directory and the store if missing */
#define STORE_OPEN_EXCL     0x04u /* with CREATE: STORE_ERR_EXISTS if there is, or was, a store */

/* Returns the time in Unix milliseconds; tests pass their own. */
typedef uint64_t (*store_clock_fn)(void *ctx);

/* How to open a store; store_config_init fills in the defaults. */
typedef struct store_config {
    const char *dir;                 /* broker data directory; borrowed during store_open */
    unsigned flags;                  /* STORE_OPEN_* bits */
    const proto_identity *identity;  /* broker identity that signs tree heads; NULL: no signing */
    uint64_t map_initial;            /* LMDB map bytes at creation (default 64 MiB) */
    uint64_t map_max;                /* the map never grows beyond this (default 1 TiB) */
    uint64_t head_interval_ms;       /* sign a tree head at commit when older than this; 0 = never */
    size_t batch_ops_max;            /* operations one batch may hold (default 100000) */
    size_t batch_bytes_max;          /* bytes one batch may copy and borrow (default 256 MiB) */
    size_t batch_txn_items;          /* items per write transaction at most (default 0: all) */
    store_clock_fn clock;            /* NULL: the real-time clock */
    void *clock_ctx;                 /* passed to clock */
} store_config;

/* ---- Batches ------------------------------------------------------------- */

/* What became of one item of a committed batch. */
typedef enum store_item_status {
    STORE_ITEM_PENDING = 0,    /* not committed yet */
    STORE_ITEM_DURABLE = 1,    /* committed and synced to disk */
    STORE_ITEM_DUPLICATE = 2,  /* skipped: its envelope's id is a duplicate */
    STORE_ITEM_REJECTED = 3,   /* skipped: an operation could not apply (err says why) */
    STORE_ITEM_FAILED = 4,     /* its transaction failed; nothing of the item is durable */
} store_item_status;

/* The result of one item, readable after store_batch_commit. */
typedef struct store_item_result {
    uint8_t status;            /* a store_item_status */
    store_err err;             /* why it was skipped or failed; STORE_OK when durable */
    size_t failed_op;          /* index within the item of the operation that failed */
    uint64_t first_leaf;       /* audit leaf index of its first event, when durable */
    uint64_t leaf_count;       /* audit events it appended, when durable */
} store_item_result;

/* ---- Messages and queues -------------------------------------------------- */

/* What the store keeps beside an envelope's bytes. */
typedef struct store_envelope_info {
    uint8_t id[PROTO_ID_BYTES];             /* message id */
    uint64_t received_ms;                   /* when this broker received it */
    uint64_t expires_ms;                    /* the sweep removes it from then on */
    uint64_t dup_until_ms;                  /* its id stays a duplicate until then (>= expires_ms) */
    char sender[PROTO_ADDR_TEXT_MAX + 1];   /* the sender agency, as text */
    char kind[PROTO_KIND_MAX + 1];          /* "watchlist.query" */
} store_envelope_info;

/* One entry of a destination queue. */
typedef struct store_queue_entry {
    uint64_t seq;                   /* position in its queue, increasing */
    uint8_t id[PROTO_ID_BYTES];     /* the queued message */
    uint64_t enqueued_ms;           /* when it was queued */
    proto_slice extra;              /* the caller's bytes queued with it; borrowed until store_read_end */
} store_queue_entry;

/* A queue entry found by its message id: its queue and the entry. */
typedef struct store_queue_hit {
    char dest[STORE_DEST_MAX + 1];  /* the queue that holds it */
    store_queue_entry entry;        /* the entry; extra borrowed until store_read_end */
} store_queue_hit;

/* A destination and how many entries wait in its queue. */
typedef struct store_dest_depth {
    char dest[STORE_DEST_MAX + 1];  /* "CAN/RCMP" or "peer:CAN" */
    uint64_t depth;                 /* entries queued */
    uint64_t next_seq;              /* sequence the next entry will get */
} store_dest_depth;

/* One recipient whose delivery the expiry sweep gave up. */
typedef struct store_expired {
    uint8_t id[PROTO_ID_BYTES];             /* the message */
    char sender[PROTO_ADDR_TEXT_MAX + 1];   /* to whom the expiry is reported */
    char kind[PROTO_KIND_MAX + 1];          /* the message kind */
    proto_addr recipient;                   /* whose state became expired */
    uint64_t expires_ms;                    /* the message's expiry time */
} store_expired;

/* ---- Audit log ---------------------------------------------------------- */

/* Audit event codes (one byte in a record).  Appended, never renumbered. */
typedef enum store_audit_event {
    STORE_EV_RECEIVED = 1,            /* a message arrived from an agency or partner */
    STORE_EV_ACCEPTED = 2,            /* it was committed and acknowledged */
    STORE_EV_REJECTED = 3,            /* it was refused at submission */
    STORE_EV_RELEASED = 4,            /* egress policy released it to a recipient */
    STORE_EV_WITHHELD = 5,            /* released with portions withheld */
    STORE_EV_DENIED = 6,              /* egress policy denied it to a recipient */
    STORE_EV_FORWARDED = 7,           /* a partner broker committed it */
    STORE_EV_DELIVERED = 8,           /* handed to the recipient agency */
    STORE_EV_RECEIPTED = 9,           /* the recipient acknowledged it */
    STORE_EV_EXPIRED = 10,            /* it expired before delivery */
    STORE_EV_POLICY_RELOADED = 11,    /* a new policy version took effect */
    STORE_EV_PEER_UP = 12,            /* a partner broker connected */
    STORE_EV_PEER_DOWN = 13,          /* a partner broker went away */
    STORE_EV_KEY_REFUSED = 14,        /* a revoked or unknown key was refused */
    STORE_EV_TREE_HEAD_EXCHANGED = 15,/* a partner's signed tree head was checked */
    STORE_EV_CONSISTENCY_FAILED = 16, /* a partner's log failed a consistency check */
    STORE_EV_REFUSED = 17,            /* a partner refused it (its ingress policy) */
    STORE_EV_DAMAGED = 18,            /* its stored envelope no longer matched its hash */
    STORE_EV_ROSTER_UPDATED = 19,     /* a partner's signed roster section was applied */
    STORE_EV_RECALLED = 20,           /* its originator recalled it: removed from a queue, or
                                         the recall passed on toward a recipient */
    STORE_EV_DELETED = 21,            /* deleted when its retention ended (hashes kept here) */
    STORE_EV_HELD = 22,               /* its retention ended, but a hold keeps it */
} store_audit_event;
#define STORE_EV_MAX 22u

/* One audit record, decoded.  Text fields hold no NUL and no plaintext content. */
typedef struct store_audit_record {
    uint64_t time_ms;                        /* when the event happened, Unix ms */
    uint8_t event;                           /* a store_audit_event */
    uint8_t id[PROTO_ID_BYTES];              /* message id, all zero when none */
    char actor[STORE_PARTY_MAX + 1];         /* sender agency or peer, "" when none */
    char counterpart[STORE_PARTY_MAX + 1];   /* recipient or peer, "" when none */
    char purpose[STORE_PURPOSE_MAX + 1];     /* the purpose the sender gave, "" when none */
    char rule_id[STORE_RULE_MAX + 1];        /* policy rule that decided, "" when none */
    uint8_t policy_hash[PROTO_HASH_BYTES];   /* policy version that decided, zero when none */
    uint8_t envelope_hash[PROTO_HASH_BYTES]; /* SHA-256 of the envelope, zero when none */
    char detail[STORE_DETAIL_MAX + 1];       /* short reason, "" when none */
} store_audit_record;

/* A signed tree head. */
typedef struct store_tree_head {
    uint64_t tree_size;                        /* leaves covered */
    uint8_t root[PROTO_HASH_BYTES];            /* RFC 9162 root of those leaves */
    uint64_t time_ms;                          /* when it was signed */
    uint8_t signature[PROTO_SIGNATURE_BYTES];  /* Ed25519 over the signed input */
} store_tree_head;

/* An RFC 9162 inclusion proof (audit path). */
typedef struct store_inclusion_proof {
    uint64_t leaf_index;                          /* 0-based */
    uint64_t tree_size;                           /* tree the proof is for */
    uint8_t leaf_hash[PROTO_HASH_BYTES];          /* SHA-256(0x00 || record) */
    uint8_t root[PROTO_HASH_BYTES];               /* root of the tree of tree_size */
    size_t count;                                 /* hashes in path */
    uint8_t path[STORE_PROOF_MAX][PROTO_HASH_BYTES]; /* from the leaf upwards */
} store_inclusion_proof;

/* An RFC 9162 consistency proof between two tree sizes. */
typedef struct store_consistency_proof {
    uint64_t first;                               /* the older tree size */
    uint64_t second;                              /* the newer tree size */
    uint8_t first_root[PROTO_HASH_BYTES];         /* root at first */
    uint8_t second_root[PROTO_HASH_BYTES];        /* root at second */
    size_t count;                                 /* hashes in path */
    uint8_t path[STORE_PROOF_MAX][PROTO_HASH_BYTES]; /* as RFC 9162 section 2.1.4.1 */
} store_consistency_proof;

/* What store_audit_verify found wrong first. */
typedef enum store_verify_failure {
    STORE_VERIFY_OK = 0,        /* nothing */
    STORE_VERIFY_RECORD = 1,    /* a record is missing or does not decode */
    STORE_VERIFY_LEAF = 2,      /* a record's hash differs from its stored leaf hash */
    STORE_VERIFY_NODE = 3,      /* a stored inner node differs from the recomputed one */
    STORE_VERIFY_HEAD = 4,      /* a stored tree head's root or size does not match */
    STORE_VERIFY_SIGNATURE = 5, /* a stored tree head's signature does not verify */
    STORE_VERIFY_EXTRA = 6,     /* stored tree nodes beyond the last record */
} store_verify_failure;

/* The outcome of store_audit_verify. */
typedef struct store_verify_report {
    uint8_t failure;                   /* a store_verify_failure; STORE_VERIFY_OK if all is well */
    uint64_t index;                    /* first record index that does not match (failures 1-3, 6) */
    uint8_t level;                     /* tree level of a bad node (failure 3) */
    uint64_t head_size;                /* tree size of a bad head (failures 4, 5) */
    uint64_t tree_size;                /* records checked */
    uint64_t heads_checked;            /* tree heads checked */
    uint8_t root[PROTO_HASH_BYTES];    /* recomputed root of all records */
    char text[PROTO_TEXT_MAX];         /* one line for a human */
} store_verify_report;

#endif
