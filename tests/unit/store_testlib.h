/* Shared pieces of the store/ tests: scratch stores, records, raw LMDB damage. */
#ifndef LIAISON_STORE_TESTLIB_H
#define LIAISON_STORE_TESTLIB_H

#include "helpers.h"
#include "liaison_store.h"

/* Fails the test with the error's name and detail unless err is STORE_OK. */
#define assert_store_ok(err, detail)                                                   \
    do {                                                                               \
        store_err e_ = (err);                                                          \
        if (e_ != STORE_OK)                                                            \
            fail_msg("%s: %s (%s: %s)", #err, store_strerror(e_), (detail)->field,     \
                     (detail)->text);                                                  \
    } while (0)

/* The broker identity every test store is made with (a fixed seed). */
proto_identity *tl_identity(void);

/* A clock the tests move by hand. */
extern uint64_t tl_clock_now;
uint64_t tl_clock(void *ctx);

/* Opens (creating) a store in dir with the test identity, the test clock, a
 * 1 MiB map and no automatic tree heads; fails the test on error. */
store *tl_open(const char *dir);
/* Same with a caller-adjusted config (dir and clock filled in here). */
store *tl_open_cfg(const char *dir, store_config *cfg);
/* Opens dir read-only. */
store *tl_open_ro(const char *dir);

/* Record number i: deterministic, short fields. */
void tl_record(uint64_t i, store_audit_record *rec);

/* Appends records first..first+n-1 in batches of per_batch events, one item each. */
void tl_append(store *s, uint64_t first, uint64_t n, size_t per_batch);

/* Opens dir read-only, runs store_audit_verify, closes. */
void tl_verify(const char *dir, store_verify_report *rep);

/* Raw LMDB on the store of dir (no store code): XORs mask into byte offset
 * of the value at key in database db; returns false if there is no such
 * value or it is shorter. */
bool tl_raw_xor(const char *dir, const char *db, const void *key, size_t klen, size_t offset,
                uint8_t mask);
/* Length of the value at key, or 0 if none. */
size_t tl_raw_len(const char *dir, const char *db, const void *key, size_t klen);

/* A u64 key, big-endian. */
void tl_key64(uint8_t key[8], uint64_t v);

#endif
