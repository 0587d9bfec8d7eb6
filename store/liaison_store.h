/* The Liaison store: the broker's LMDB environment, message queues and audit log. */
#ifndef LIAISON_STORE_H
#define LIAISON_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto.h"
#include "liaison_store_t.h"

#if defined(__GNUC__)
#define STORE_MUST_CHECK __attribute__((warn_unused_result))
#define STORE_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#else
#define STORE_MUST_CHECK
#define STORE_NONNULL(...)
#endif

/*
 * Threads.  A store is used by one committing thread (store_batch_commit,
 * store_sweep, store_audit_head_sign; concurrent calls are serialised by
 * LMDB's writer lock) and by any number of threads that read through their
 * own store_read.  A batch or a store_read belongs to one thread at a time.
 *
 * Errors.  Every function that can fail returns a store_err.  Where a
 * proto_detail *detail_r is taken it receives the object and a one-line
 * reason; it may be NULL.  After a failure, out-parameters are left as they
 * were unless the function says otherwise.
 */

typedef struct store store;             /* an open data directory */
typedef struct store_batch store_batch; /* a group commit in the making */
typedef struct store_read store_read;   /* a read-only snapshot (LMDB read txn) */

/* ---- Library ------------------------------------------------------------ */

/* Returns a static, human-readable string for code; never NULL. */
const char *store_strerror(store_err code);

/* Returns a static name for an audit event ("received"), or NULL if unknown. */
const char *store_audit_event_name(uint8_t event);

/* Fills cfg with the defaults (see store_config); dir and identity are NULL. */
void store_config_init(store_config *cfg) STORE_NONNULL(1);

/* ---- Opening and closing ------------------------------------------------ */

/*
 * Opens the store in cfg->dir (the broker data directory; the LMDB files
 * live in cfg->dir/store/).  A writable open takes the directory's broker
 * lock (cfg->dir/broker.lock, holding the owner's PID), refuses a directory
 * on a network file system, clears stale LMDB reader slots, and with
 * STORE_OPEN_CREATE makes the directory and the store (with
 * STORE_OPEN_EXCL too: only where there is, and was, none).  The first
 * writable open writes cfg->dir/store.created; where it exists, a data file
 * that is missing (STORE_ERR_LOST) or empty (STORE_ERR_CORRUPT) is refused,
 * CREATE or not, so that a lost store never silently becomes a new one.  A
 * data file shorter than the pages its meta page says are in use is refused
 * (STORE_ERR_CORRUPT) before anything is read through the map, where it
 * would be a SIGBUS.  A store made with an
 * identity records its Ed25519 public key, and later writable opens must
 * pass the same identity.  A STORE_OPEN_READONLY open takes no broker lock,
 * so the offline tools can read while the broker runs.
 * LMDB forbids opening one environment twice in the same process: open a
 * directory once per process and share the store between threads.
 * cfg and cfg->identity are borrowed for the call; the secret key is copied
 * into guarded memory.  *store_out is the caller's, to close with store_close.
 * Errors: STORE_ERR_INVALID, STORE_ERR_NOT_FOUND (no store, without CREATE),
 * STORE_ERR_LOCKED (detail names the PID that holds it), STORE_ERR_NETWORK_FS,
 * STORE_ERR_VERSION, STORE_ERR_KEY, STORE_ERR_PERMISSION, STORE_ERR_IO,
 * STORE_ERR_CORRUPT (damaged, truncated or emptied: detail names the file),
 * STORE_ERR_LOST, STORE_ERR_EXISTS (EXCL), STORE_ERR_DISK_FULL,
 * STORE_ERR_NOMEM.
 */
store_err store_open(const store_config *cfg, store **store_out,
                     proto_detail *detail_r) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Closes the store, releases the broker lock, wipes the key, and sets *s to
 * NULL.  Every batch and store_read of it must be gone.  Accepts NULL. */
void store_close(store **s);

/* Copies the Ed25519 public key that signs this store's tree heads into out.
 * STORE_ERR_KEY if the store was made without one. */
store_err store_sign_public(const store *s, uint8_t out[PROTO_SIGN_PUBLIC_BYTES]) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/*
 * Lets the pages of the data file that this process has read leave its
 * resident set.  They stay in the kernel's page cache, and the next access
 * maps them again, so nothing borrowed from a read snapshot becomes invalid.
 * A long-running process calls it from time to time, so that its resident
 * memory does not grow with the size of its queues.  Safe at any time,
 * from any thread.
 */
void store_release_memory(store *s) STORE_NONNULL(1);

/* Bytes the LMDB map may use now, and bytes of the data file in use. */
void store_space(const store *s, uint64_t *map_bytes_out, uint64_t *used_bytes_out) STORE_NONNULL(1, 2, 3);

/* ---- Group commit --------------------------------------------------------- */

/*
 * Makes an empty batch for s.  A batch collects items; an item is a group
 * of operations that commit together or not at all (for example one
 * message's envelope, its queue entries, states and audit events).
 * *batch_out is the caller's, to free with store_batch_destroy.
 * Errors: STORE_ERR_READONLY, STORE_ERR_NOMEM.
 */
store_err store_batch_new(store *s, store_batch **batch_out) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Frees a batch and sets *b to NULL.  Accepts NULL. */
void store_batch_destroy(store_batch **b);

/* Empties a batch (after a commit, or to drop what it holds) for reuse. */
void store_batch_reset(store_batch *b) STORE_NONNULL(1);

/* Starts a new item; the operations added next belong to it.  *index_out
 * is the item's index for store_batch_result.  Errors: STORE_ERR_LIMIT,
 * STORE_ERR_STATE (already committed), STORE_ERR_NOMEM. */
store_err store_batch_add_item(store_batch *b, size_t *index_out) STORE_NONNULL(1) STORE_MUST_CHECK;

/*
 * Adds an envelope with its metadata.  The item is skipped as
 * STORE_ITEM_DUPLICATE if info->id is in the duplicate index and its window
 * (dup_until_ms) has not ended at commit time, or if an envelope with this
 * id is stored.  bytes are borrowed until the batch is committed, reset or
 * destroyed.  Errors (now): STORE_ERR_INVALID (no item, bad info),
 * STORE_ERR_LIMIT, STORE_ERR_NOMEM.
 */
store_err store_batch_put_envelope(store_batch *b, const store_envelope_info *info,
                                   const uint8_t *bytes, size_t len) STORE_NONNULL(1, 2, 3) STORE_MUST_CHECK;

/* Removes an envelope (its bytes and its expiry entry); its duplicate-index
 * entry and states stay.  At commit the item is rejected with
 * STORE_ERR_NOT_FOUND if there is no such envelope. */
store_err store_batch_remove_envelope(store_batch *b, const uint8_t id[PROTO_ID_BYTES]) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Appends message id to the queue of dest (1..STORE_DEST_MAX printable
 * bytes, no spaces) with the next sequence number of that queue, and
 * extra_len (at most STORE_QUEUE_EXTRA_MAX) bytes of the caller's that
 * store_queue_peek returns with the entry (copied now).
 * Errors: STORE_ERR_INVALID, STORE_ERR_LIMIT, STORE_ERR_NOMEM. */
store_err store_batch_enqueue(store_batch *b, const char *dest, const uint8_t id[PROTO_ID_BYTES],
                              uint64_t time_ms, const void *extra,
                              size_t extra_len) STORE_NONNULL(1, 2, 3) STORE_MUST_CHECK;

/* Removes the entry seq from the queue of dest; at commit the item is
 * rejected with STORE_ERR_NOT_FOUND if there is none. */
store_err store_batch_dequeue(store_batch *b, const char *dest, uint64_t seq) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Removes every entry of message id from the queue of dest; at commit the
 * item is rejected with STORE_ERR_NOT_FOUND if there is none. */
store_err store_batch_dequeue_id(store_batch *b, const char *dest,
                                 const uint8_t id[PROTO_ID_BYTES]) STORE_NONNULL(1, 2, 3) STORE_MUST_CHECK;

/* Removes the entry seq from the queue of dest if it is still there; when
 * it is not (taken meanwhile), nothing happens and the item still commits.
 * Errors (now): STORE_ERR_INVALID, STORE_ERR_LIMIT, STORE_ERR_NOMEM. */
store_err store_batch_dequeue_if(store_batch *b, const char *dest, uint64_t seq) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Sets the delivery state of message id for entry->recipient (replacing the
 * previous one).  entry is copied.  Errors: STORE_ERR_INVALID. */
store_err store_batch_set_state(store_batch *b, const uint8_t id[PROTO_ID_BYTES],
                                const proto_status_entry *entry) STORE_NONNULL(1, 2, 3) STORE_MUST_CHECK;

/*
 * Appends an audit record to the current item.  The record is encoded and
 * checked now (STORE_ERR_INVALID or STORE_ERR_LIMIT with the field in
 * detail_r); its leaf index is assigned at commit, in item order.  There is
 * no operation that updates or deletes an audit record.
 */
store_err store_audit_append(store_batch *b, const store_audit_record *rec,
                             proto_detail *detail_r) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Sets key (1..STORE_META_KEY_MAX bytes of text) to len bytes (at most
 * STORE_META_VALUE_MAX) in the broker's key/value table.  Copied. */
store_err store_batch_meta_put(store_batch *b, const char *key, const void *value,
                               size_t len) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Deletes key from the broker's key/value table (no error if absent). */
store_err store_batch_meta_delete(store_batch *b, const char *key) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/*
 * Commits the batch in one LMDB write transaction and one fsync; or, when
 * the store was opened with batch_txn_items, in one for each batch_txn_items
 * items, in order.  LMDB keeps the pages a transaction dirtied for reuse and
 * never frees them, so that bounds what a large batch leaves resident.  Each item applies whole or not at all: an item whose
 * operation cannot apply is skipped (DUPLICATE or REJECTED) and the others
 * commit.  When the map is full it grows (doubling, up to map_max) and the
 * transaction is retried.  When head_interval_ms has passed since the last
 * tree head, a new head is signed in the last transaction.  Returns STORE_OK
 * once every transaction is durable; then each item's result says DURABLE,
 * DUPLICATE or REJECTED, and a DURABLE item's audit leaves are first_leaf ..
 * first_leaf + leaf_count - 1.  On any other return, the items of the
 * transaction that failed and of every later one read STORE_ITEM_FAILED and
 * nothing of them is durable; the items before them are durable as their
 * results say.  If no transaction had committed, the store is as before and
 * the batch may be committed again; otherwise it may not (STORE_ERR_STATE).
 * Errors: STORE_ERR_STATE (already committed), STORE_ERR_MAP_FULL,
 * STORE_ERR_DISK_FULL (the file system is full: ENOSPC, or EIO from a short
 * write with less than 1 MiB left), STORE_ERR_IO, STORE_ERR_NOMEM,
 * STORE_ERR_LIMIT, STORE_ERR_CORRUPT.  The
 * caller acknowledges nothing before this returns, and then only the items
 * whose results say so.
 */
store_err store_batch_commit(store_batch *b, proto_detail *detail_r) STORE_NONNULL(1) STORE_MUST_CHECK;

/* Drops the last item and every operation added to it, as if it had never
 * been started (so that a caller that fails half-way through building an
 * item commits none of it).  Does nothing after a commit or on an empty batch. */
void store_batch_drop_item(store_batch *b) STORE_NONNULL(1);

/* Items in the batch. */
size_t store_batch_items(const store_batch *b) STORE_NONNULL(1);

/* The result of item index (borrowed until the batch is reset or destroyed);
 * NULL if there is no such item. */
const store_item_result *store_batch_result(const store_batch *b, size_t index) STORE_NONNULL(1);

/* ---- Expiry ------------------------------------------------------------- */

/*
 * Expires, in one durable transaction, messages whose expires_ms <= now_ms:
 * removes their queue entries and envelope, sets the states still waiting
 * (queued, accepted, delivered, withheld) to expired, and appends one
 * `expired` audit event per such recipient.  It also drops duplicate-index
 * entries (and the states) of messages whose dup_until_ms <= now_ms.  Fills
 * out with up to cap expired recipients; *more_out is true when more work
 * remains (call again).  A message whose recipients do not fit in the space
 * left waits for the next call; STORE_ERR_LIMIT if one alone exceeds cap.
 * Errors: STORE_ERR_READONLY, STORE_ERR_LIMIT, STORE_ERR_IO, STORE_ERR_MAP_FULL,
 * STORE_ERR_CORRUPT, STORE_ERR_NOMEM.
 */
store_err store_sweep(store *s, uint64_t now_ms, store_expired *out, size_t cap,
                      size_t *count_out, bool *more_out,
                      proto_detail *detail_r) STORE_NONNULL(1, 3, 5, 6) STORE_MUST_CHECK;

/* ---- Reading ------------------------------------------------------------ */

/* Starts a read-only snapshot of s.  Slices returned through it are
 * borrowed until store_read_end.  Errors: STORE_ERR_IO, STORE_ERR_NOMEM. */
store_err store_read_begin(store *s, store_read **r_out) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Ends the snapshot and sets *r to NULL.  Accepts NULL. */
void store_read_end(store_read **r);

/* Reads an envelope: its metadata into *info_out and its bytes (borrowed)
 * into *bytes_out.  Errors: STORE_ERR_NOT_FOUND, STORE_ERR_CORRUPT. */
store_err store_envelope_get(store_read *r, const uint8_t id[PROTO_ID_BYTES],
                             store_envelope_info *info_out,
                             proto_slice *bytes_out) STORE_NONNULL(1, 2, 3, 4) STORE_MUST_CHECK;

/* Sets *seen_out if id is in the duplicate index with a window that has not
 * ended at now_ms. */
store_err store_dup_seen(store_read *r, const uint8_t id[PROTO_ID_BYTES], uint64_t now_ms,
                         bool *seen_out) STORE_NONNULL(1, 2, 4) STORE_MUST_CHECK;

/* Reads up to cap entries of the queue of dest with seq > after_seq (pass
 * 0 for the head: sequences start at 1), oldest first. */
store_err store_queue_peek(store_read *r, const char *dest, uint64_t after_seq,
                           store_queue_entry *entries, size_t cap,
                           size_t *count_out) STORE_NONNULL(1, 2, 4, 6) STORE_MUST_CHECK;

/* Lists up to cap queue entries of message id, in every queue (agencies'
 * queues, partner queues, report queues), in queue-name then seq order,
 * from the queue index: no queue is scanned.  *count_out is how many were
 * filled; *more_out is true when there were more than cap.  Errors:
 * STORE_ERR_CORRUPT, STORE_ERR_IO. */
store_err store_queue_find(store_read *r, const uint8_t id[PROTO_ID_BYTES], store_queue_hit *hits,
                           size_t cap, size_t *count_out,
                           bool *more_out) STORE_NONNULL(1, 2, 3, 5, 6) STORE_MUST_CHECK;

/* Entries in the queue of dest (a counter; 0 for an unknown dest). */
store_err store_queue_depth(store_read *r, const char *dest, uint64_t *depth_out) STORE_NONNULL(1, 2, 3) STORE_MUST_CHECK;

/* Lists up to cap destinations that have, or had, a queue, in name order,
 * with their depths; *total_out (may be NULL) receives how many there are. */
store_err store_queue_list(store_read *r, store_dest_depth *entries, size_t cap,
                           size_t *count_out, size_t *total_out) STORE_NONNULL(1, 2, 4) STORE_MUST_CHECK;

/* Lists up to cap recipients' delivery states of message id, in recipient
 * order.  *count_out is 0 for an unknown message. */
store_err store_state_list(store_read *r, const uint8_t id[PROTO_ID_BYTES],
                           proto_status_entry *entries, size_t cap,
                           size_t *count_out) STORE_NONNULL(1, 2, 3, 5) STORE_MUST_CHECK;

/* Reads a key of the broker's key/value table (value borrowed).
 * Errors: STORE_ERR_NOT_FOUND, STORE_ERR_INVALID. */
store_err store_meta_get(store_read *r, const char *key, proto_slice *value_out) STORE_NONNULL(1, 2, 3) STORE_MUST_CHECK;

/* ---- Audit log: reading and proofs --------------------------------------- */

/* Records in the log (the tree size). */
store_err store_audit_size(store_read *r, uint64_t *size_out) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Reads and decodes record index.  Errors: STORE_ERR_RANGE, STORE_ERR_CORRUPT. */
store_err store_audit_get(store_read *r, uint64_t index,
                          store_audit_record *rec_out) STORE_NONNULL(1, 3) STORE_MUST_CHECK;

/* Borrows the encoded bytes of record index.  Errors: STORE_ERR_RANGE. */
store_err store_audit_get_raw(store_read *r, uint64_t index,
                              proto_slice *bytes_out) STORE_NONNULL(1, 3) STORE_MUST_CHECK;

/* Root of the tree of the first size records (size 0: SHA-256 of nothing),
 * from O(log n) stored nodes.  Errors: STORE_ERR_RANGE, STORE_ERR_CORRUPT. */
store_err store_audit_root(store_read *r, uint64_t size,
                           uint8_t root_out[PROTO_HASH_BYTES]) STORE_NONNULL(1, 3) STORE_MUST_CHECK;

/* Inclusion proof of leaf in the tree of size records (RFC 9162 2.1.3.1),
 * from O(log n) stored nodes.  Errors: STORE_ERR_RANGE (leaf >= size or
 * size beyond the log), STORE_ERR_CORRUPT. */
store_err store_audit_inclusion(store_read *r, uint64_t leaf, uint64_t size,
                                store_inclusion_proof *proof_out) STORE_NONNULL(1, 4) STORE_MUST_CHECK;

/* Consistency proof between tree sizes first <= second (RFC 9162 2.1.4.1).
 * Errors: STORE_ERR_RANGE, STORE_ERR_CORRUPT. */
store_err store_audit_consistency(store_read *r, uint64_t first, uint64_t second,
                                  store_consistency_proof *proof_out) STORE_NONNULL(1, 4) STORE_MUST_CHECK;

/* The stored tree head with the largest size.  STORE_ERR_NOT_FOUND if none. */
store_err store_audit_head_latest(store_read *r, store_tree_head *head_out) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* The stored tree head for size.  STORE_ERR_NOT_FOUND if none. */
store_err store_audit_head_get(store_read *r, uint64_t size,
                               store_tree_head *head_out) STORE_NONNULL(1, 3) STORE_MUST_CHECK;

/* Copies the Ed25519 public key recorded in the data directory (works on
 * read-only opens).  STORE_ERR_KEY if none was recorded. */
store_err store_audit_public_key(store_read *r, uint8_t out[PROTO_SIGN_PUBLIC_BYTES]) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/*
 * Recomputes the whole tree from the records and compares every stored leaf
 * hash, inner node and tree head (root and signature, with sign_public, or
 * with the key recorded in the directory when sign_public is NULL).  Returns
 * STORE_OK when the check ran; report_out->failure says what it found, and
 * index the first record that does not match.  Errors: STORE_ERR_KEY (no
 * key to check heads with), STORE_ERR_IO.
 */
store_err store_audit_verify(store_read *r, const uint8_t *sign_public,
                             store_verify_report *report_out) STORE_NONNULL(1, 3) STORE_MUST_CHECK;

/* ---- Audit log: signed tree heads ---------------------------------------- */

/* Signs the current tree head with the broker key, stores it (one durable
 * transaction; a head for the same size is replaced only if absent) and
 * copies it to *head_out.  Errors: STORE_ERR_READONLY, STORE_ERR_KEY,
 * STORE_ERR_IO, STORE_ERR_MAP_FULL. */
store_err store_audit_head_sign(store *s, store_tree_head *head_out,
                                proto_detail *detail_r) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* Writes the bytes a tree head signature covers into out. */
void store_tree_head_signed_input(const store_tree_head *head,
                                  uint8_t out[STORE_HEAD_SIGNED_BYTES]) STORE_NONNULL(1, 2);

/* Checks head's signature with sign_public.  STORE_OK or STORE_ERR_SIGNATURE. */
store_err store_tree_head_verify(const store_tree_head *head,
                                 const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]) STORE_NONNULL(1, 2) STORE_MUST_CHECK;

/* ---- Audit records and RFC 9162 hashing (pure functions) ---------------- */

/*
 * Encodes rec canonically (docs/audit.md) into buf (cap bytes;
 * STORE_AUDIT_RECORD_MAX suffice).  Errors: STORE_ERR_INVALID (unknown
 * event, NUL-free text required) or STORE_ERR_LIMIT (a field too long), with
 * the field in detail_r.
 */
store_err store_audit_encode(const store_audit_record *rec, uint8_t *buf, size_t cap,
                             size_t *len_out, proto_detail *detail_r) STORE_NONNULL(1, 2, 4) STORE_MUST_CHECK;

/* Decodes exactly len bytes; refuses an unknown version or event, over-long
 * fields, NUL bytes in text and trailing bytes.  Error: STORE_ERR_DECODE. */
store_err store_audit_decode(const uint8_t *buf, size_t len, store_audit_record *rec_out,
                             proto_detail *detail_r) STORE_NONNULL(3) STORE_MUST_CHECK;

/* SHA-256(0x00 || data): the RFC 9162 leaf hash. */
void store_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[PROTO_HASH_BYTES]) STORE_NONNULL(3);

/* SHA-256(0x01 || left || right): the RFC 9162 node hash. */
void store_merkle_node_hash(const uint8_t left[PROTO_HASH_BYTES], const uint8_t right[PROTO_HASH_BYTES],
                            uint8_t out[PROTO_HASH_BYTES]) STORE_NONNULL(1, 2, 3);

/* Verifies an inclusion proof as RFC 9162 section 2.1.3.2.  STORE_OK or
 * STORE_ERR_PROOF. */
store_err store_merkle_verify_inclusion(uint64_t leaf_index, uint64_t tree_size,
                                        const uint8_t leaf_hash[PROTO_HASH_BYTES],
                                        const uint8_t (*path)[PROTO_HASH_BYTES], size_t count,
                                        const uint8_t root[PROTO_HASH_BYTES]) STORE_NONNULL(3, 6) STORE_MUST_CHECK;

/* Verifies a consistency proof as RFC 9162 section 2.1.4.2.  STORE_OK or
 * STORE_ERR_PROOF. */
store_err store_merkle_verify_consistency(uint64_t first, uint64_t second,
                                          const uint8_t first_root[PROTO_HASH_BYTES],
                                          const uint8_t second_root[PROTO_HASH_BYTES],
                                          const uint8_t (*path)[PROTO_HASH_BYTES],
                                          size_t count) STORE_NONNULL(3, 4) STORE_MUST_CHECK;

#endif
