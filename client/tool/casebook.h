/* The liaison tool's casebook: what an agency sent and received, per case, in LMDB. */
#ifndef LIAISON_CASEBOOK_H
#define LIAISON_CASEBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define CASEBOOK_MUST_CHECK __attribute__((warn_unused_result))
#else
#define CASEBOOK_MUST_CHECK
#endif

/*
 * The casebook lives in <state>/casebook/ (an LMDB environment, mode 0700
 * directory, 0600 files) beside libliaison's record of received ids in
 * <state>.  It keeps every message the tool sent (id, kind, case,
 * recipients, portion 0, time) and every message it received (the same,
 * plus the sender, in_reply_to and the envelope exactly as received), and
 * indexes both by "<family>/<case id>" ("mlat/MEX-FGR-2026-0099",
 * "freeze/TREAS-2026-0007": a designation id is the case id of its
 * messages).  It also keeps the signed delivery reports the broker sent
 * about the agency's messages.  Records are never changed once written,
 * except by a recall of a received message (casebook_recall), which
 * deletes it or some of its records and keeps a tombstone; writing the
 * same message twice is a no-op, so a message delivered again after a
 * crash is stored once.
 *
 * Thread-safety: one casebook per thread.  Several processes may open the
 * same casebook (LMDB serialises writers).
 */

/* Errors of the casebook.  Codes are appended, never renumbered. */
typedef enum casebook_err {
    CASEBOOK_OK = 0,
    CASEBOOK_ERR_INVALID = 1,    /* an argument is invalid */
    CASEBOOK_ERR_NOMEM = 2,      /* out of memory */
    CASEBOOK_ERR_IO = 3,         /* the directory or LMDB failed (why says which) */
    CASEBOOK_ERR_NOT_FOUND = 4,  /* no such record */
    CASEBOOK_ERR_CORRUPT = 5,    /* a stored record does not decode */
    CASEBOOK_ERR_FULL = 6,       /* the LMDB map is full */
} casebook_err;

/* Returns a static string for code; never NULL. */
const char *casebook_strerror(casebook_err code);

typedef struct casebook casebook;

#define CASEBOOK_ID_BYTES 16u
#define CASEBOOK_ADDR_MAX 40u     /* bytes of an address text, with its NUL */
#define CASEBOOK_KIND_MAX 65u     /* bytes of a kind, with its NUL */
#define CASEBOOK_CASE_MAX 65u     /* bytes of a case id, with its NUL */
#define CASEBOOK_LABELS_MAX 1400u /* bytes of a labels text, with its NUL */
#define CASEBOOK_ACTOR_MAX 65u    /* bytes of an actor, with its NUL */

/* One message the agency sent or received. */
typedef struct casebook_entry {
    bool sent;                              /* true: this agency sent it; false: received */
    uint8_t id[CASEBOOK_ID_BYTES];          /* message id */
    char kind[CASEBOOK_KIND_MAX];           /* "mlat.status" */
    char peer[CASEBOOK_ADDR_MAX];           /* received: the sender; sent: "" */
    char case_id[CASEBOOK_CASE_MAX];        /* "" when none */
    uint8_t in_reply_to[CASEBOOK_ID_BYTES]; /* all zero when none */
    bool has_reply_to;                      /* in_reply_to is set */
    char labels[CASEBOOK_LABELS_MAX];       /* message labels, text form */
    uint64_t time_ms;                       /* when it was sent or stored here */
    uint64_t created_ms;                    /* when its sender made it */
    char *recipients;                       /* sent: recipients, space separated; else NULL */
    char *body;                             /* portion 0 text (JSON), or NULL if unreadable */
    uint8_t *raw;                           /* received: the envelope as received, or NULL */
    size_t raw_len;                         /* bytes at raw */
    char actor[CASEBOOK_ACTOR_MAX];         /* received: the sender's actor; "" when none
                                             * (or stored before the casebook kept it) */
    char *withheld;                         /* received: the portions a broker withheld, a
                                             * JSON array [{"portion":1,"labels":"...",
                                             * "by":"USA"|null,"rule":"..."|null}], or NULL
                                             * when none (or stored before it was kept) */
} casebook_entry;

/* A list of entries, oldest first: by created_ms (the sender's time), then
 * time_ms (when stored here), then id. */
typedef struct casebook_list {
    size_t count;                /* entries */
    casebook_entry **entries;    /* each owned by the list */
} casebook_list;

/* One signed delivery report the broker sent about a message of this agency. */
typedef struct casebook_report {
    uint8_t id[CASEBOOK_ID_BYTES];  /* the message it is about */
    char recipient[CASEBOOK_ADDR_MAX]; /* whose state it reports */
    char state[16];                 /* "delivered", "denied", ... */
    char broker[8];                 /* the broker that signed it */
    char rule_id[65];               /* the rule that decided, or "" */
    char detail[256];               /* its reason, or "" */
    uint64_t time_ms;               /* when the state was reached */
} casebook_report;

/*
 * Opens (creating if needed) the casebook of state_dir: makes state_dir
 * and state_dir/casebook with mode 0700 if missing.  *cb_out is the
 * caller's, to close with casebook_close.  Errors: CASEBOOK_ERR_INVALID,
 * CASEBOOK_ERR_IO, CASEBOOK_ERR_NOMEM; why (why_len bytes) says why.
 */
casebook_err casebook_open(const char *state_dir, casebook **cb_out, char *why,
                           size_t why_len) CASEBOOK_MUST_CHECK;

/* Closes the casebook and sets *cb to NULL.  Accepts NULL. */
void casebook_close(casebook **cb);

/*
 * Stores e (copied) durably, and indexes it under "<family of kind>/<case>"
 * when it has a case id.  Storing a message already stored (same
 * direction and id) changes nothing and returns CASEBOOK_OK.  Committed
 * and synced before it returns, so a caller may acknowledge the message
 * to the broker afterwards.  Errors: CASEBOOK_ERR_INVALID, CASEBOOK_ERR_IO,
 * CASEBOOK_ERR_FULL, CASEBOOK_ERR_NOMEM.
 */
casebook_err casebook_put(casebook *cb, const casebook_entry *e) CASEBOOK_MUST_CHECK;

/* Reads the message id sent (sent true) or received.  with_raw false skips
 * the envelope bytes.  *e_out is the caller's, to free with
 * casebook_entry_free.  Errors: CASEBOOK_ERR_NOT_FOUND, CASEBOOK_ERR_CORRUPT. */
casebook_err casebook_get(casebook *cb, bool sent, const uint8_t id[CASEBOOK_ID_BYTES],
                          bool with_raw, casebook_entry **e_out) CASEBOOK_MUST_CHECK;

/* Lists the messages of case case_id in family ("mlat"), sent and received,
 * oldest first.  An unknown case gives an empty list.  *list_out is the
 * caller's, to free with casebook_list_free. */
casebook_err casebook_list_case(casebook *cb, const char *family, const char *case_id,
                                bool with_raw, casebook_list **list_out) CASEBOOK_MUST_CHECK;

/* Lists every message of kind (exact) sent (sent true) or received, oldest first. */
casebook_err casebook_list_kind(casebook *cb, bool sent, const char *kind, bool with_raw,
                                casebook_list **list_out) CASEBOOK_MUST_CHECK;

/* Called by casebook_each_kind with one message; e is borrowed until it returns.  Returns 0 to
 * go on, anything else to stop. */
typedef int (*casebook_each_fn)(void *arg, const casebook_entry *e);

/* Calls fn for every message of kind (exact) sent (sent true) or received, in no particular
 * order, one at a time (without the envelope bytes), so that memory does not grow with the
 * casebook.  Returns CASEBOOK_OK, also when fn stopped it; CASEBOOK_ERR_CORRUPT,
 * CASEBOOK_ERR_IO, CASEBOOK_ERR_NOMEM or CASEBOOK_ERR_INVALID otherwise. */
casebook_err casebook_each_kind(casebook *cb, bool sent, const char *kind, casebook_each_fn fn,
                                void *arg) CASEBOOK_MUST_CHECK;

/*
 * Calls fn for every message sent (sent true) or received, of every kind, in no particular
 * order (by id), one at a time and without the envelope bytes: memory does not grow with
 * the casebook.  It costs one read transaction and the decoding of every record (a JSON
 * parse each), so O(n) time for n messages.  A caller that wants the newest N keeps them in
 * a heap of N (console_inbox.c).  Returns as casebook_each_kind does.
 */
casebook_err casebook_each(casebook *cb, bool sent, casebook_each_fn fn,
                           void *arg) CASEBOOK_MUST_CHECK;

/* Stores a delivery report (one per message, recipient and state; a
 * repeat changes nothing). */
casebook_err casebook_put_report(casebook *cb, const casebook_report *r) CASEBOOK_MUST_CHECK;

/* Reads up to cap reports about message id into out; *count_out gets how many. */
casebook_err casebook_reports(casebook *cb, const uint8_t id[CASEBOOK_ID_BYTES],
                              casebook_report *out, size_t cap,
                              size_t *count_out) CASEBOOK_MUST_CHECK;

/* ---- Retention ------------------------------------------------------------- */

/* One message the casebook deleted when its retention ended (its journal). */
typedef struct casebook_deletion {
    bool sent;                              /* this agency sent it (else received it) */
    uint8_t id[CASEBOOK_ID_BYTES];          /* message id */
    char kind[CASEBOOK_KIND_MAX];           /* its kind */
    char counterpart[CASEBOOK_ADDR_MAX];    /* received: the sender; sent: first recipient */
    char case_id[CASEBOOK_CASE_MAX];        /* its case, "" when none */
    uint8_t envelope_hash[32];              /* SHA-256 of the envelope kept (received); zero */
    bool has_hash;                          /* envelope_hash is set */
    uint64_t created_ms;                    /* when its sender made it */
    uint64_t deleted_ms;                    /* when it was deleted */
    char rule[65];                          /* the retention rule */
} casebook_deletion;

/* Decides whether to delete e now: true, with the rule's id copied into
 * rule (65 bytes), to delete it.  e is borrowed for the call. */
typedef bool (*casebook_retain_fn)(void *arg, const casebook_entry *e, uint64_t now_ms,
                                   char rule[65]);

/* Called with each deletion made (or, in a dry run, that would be made). */
typedef void (*casebook_deleted_fn)(void *arg, const casebook_deletion *d);

/*
 * Asks decide about every message sent and received, then, unless dry_run,
 * deletes in one transaction those it names: the record (envelope bytes
 * included), its case index entry and its delivery reports, and writes one
 * journal entry each (casebook_journal_each).  report (may be NULL) hears
 * of each.  *count_out (may be NULL) gets how many.  Errors:
 * CASEBOOK_ERR_IO, CASEBOOK_ERR_FULL, CASEBOOK_ERR_CORRUPT, CASEBOOK_ERR_NOMEM.
 */
casebook_err casebook_retention_sweep(casebook *cb, uint64_t now_ms, bool dry_run,
                                      casebook_retain_fn decide, void *arg,
                                      casebook_deleted_fn report, void *report_arg,
                                      size_t *count_out) CASEBOOK_MUST_CHECK;

/* Calls fn with every journal entry, oldest deletion first. */
casebook_err casebook_journal_each(casebook *cb, casebook_deleted_fn fn,
                                   void *arg) CASEBOOK_MUST_CHECK;
/* ---- Recall: deleting a received message, keeping a tombstone ---------------- */

#define CASEBOOK_REASON_MAX 501u    /* bytes of a recall's reason, with its NUL */
#define CASEBOOK_RECORDS_MAX 512u   /* bytes of the records deleted, space separated, with NUL */

/* What is left of a received message its sender recalled: enough to show
 * that it existed and was deleted, nothing of its content. */
typedef struct casebook_tombstone {
    uint8_t id[CASEBOOK_ID_BYTES];         /* the recalled message */
    char kind[CASEBOOK_KIND_MAX];          /* its kind */
    char peer[CASEBOOK_ADDR_MAX];          /* its sender (the originator) */
    char case_id[CASEBOOK_CASE_MAX];       /* its case id, "" when none */
    uint8_t envelope_hash[32];             /* SHA-256 of its envelope as received; zero if none */
    bool has_hash;                         /* envelope_hash is set */
    uint8_t recall[CASEBOOK_ID_BYTES];     /* the recall.request that deleted it */
    char action[12];                       /* "recall" or "rectify" */
    char reason[CASEBOOK_REASON_MAX];      /* the originator's reason */
    char records[CASEBOOK_RECORDS_MAX];    /* records deleted, space separated; "" for all */
    bool whole;                            /* the whole message was deleted (else some records) */
    uint8_t replacement[CASEBOOK_ID_BYTES]; /* rectify: the corrected message */
    bool has_replacement;                  /* replacement is set */
    uint64_t time_ms;                      /* when it was deleted here */
} casebook_tombstone;

/*
 * Deletes what the casebook holds of received message t->id, in one durable
 * transaction, and keeps the tombstone t.  The caller fills t->id,
 * t->recall, t->action, t->reason, t->replacement and t->time_ms; this fills
 * kind, peer, case_id, envelope_hash, records and whole.
 *
 * With record_count 0 the whole message goes: its record (body and
 * envelope bytes) and its place in the case index.  With records, only the
 * entries of the body's "entries" array whose "ref" is named go, and the
 * envelope bytes (which hold them) with them; when no entry is left, or the
 * body names a single record ("ref") that is named, the whole message goes.
 *
 * Returns CASEBOOK_OK (also when the same recall was applied before: t
 * then gets the tombstone kept then), CASEBOOK_ERR_NOT_FOUND when the
 * casebook holds no such message or none of the named records (nothing
 * changes), CASEBOOK_ERR_INVALID, CASEBOOK_ERR_IO, CASEBOOK_ERR_FULL,
 * CASEBOOK_ERR_NOMEM, CASEBOOK_ERR_CORRUPT.
 */
casebook_err casebook_recall(casebook *cb, const char *const *records, size_t record_count,
                             casebook_tombstone *t) CASEBOOK_MUST_CHECK;

/* Reads every tombstone, oldest deletion first: *out gets a malloc'd array
 * (the caller's to free) of *count_out entries. */
casebook_err casebook_tombstones(casebook *cb, casebook_tombstone **out,
                                 size_t *count_out) CASEBOOK_MUST_CHECK;

/* Reads the first tombstone of message id into *t; CASEBOOK_ERR_NOT_FOUND
 * if it was never recalled here. */
casebook_err casebook_tombstone_get(casebook *cb, const uint8_t id[CASEBOOK_ID_BYTES],
                                    casebook_tombstone *t) CASEBOOK_MUST_CHECK;

/* Frees an entry and sets *e to NULL.  Accepts NULL. */
void casebook_entry_free(casebook_entry **e);

/* Frees a list and its entries and sets *l to NULL.  Accepts NULL. */
void casebook_list_free(casebook_list **l);

/* ---- Walking the case index ----------------------------------------------------------- */

/* The case ids filed under one family, in the index's (byte) order. */
typedef struct casebook_case_ids {
    size_t count;                        /* ids */
    size_t cap;                          /* room in ids */
    char (*ids)[CASEBOOK_CASE_MAX];      /* each NUL-terminated */
    bool truncated;                      /* more cases than the max asked */
} casebook_case_ids;

/*
 * The ids of the cases of family ("mlat") that the casebook holds a message
 * of, each once, at most max of them (then truncated is set).  *ids_out is
 * the caller's (casebook_case_ids_free).  CASEBOOK_ERR_INVALID for an empty
 * family or one with a '/'; on failure *ids_out is left alone.
 */
casebook_err casebook_cases(casebook *cb, const char *family, size_t max,
                            casebook_case_ids **ids_out) CASEBOOK_MUST_CHECK;
void casebook_case_ids_free(casebook_case_ids **ids);

#endif
