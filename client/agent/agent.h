/* The agent (client/agent): its configuration, its LMDB store, its records, its daemon and,
 * through match.h and cargo.h, its matching and the cargo family's checks; what the liaison
 * tool's commands use.  Not installed. */
#ifndef LIAISON_AGENT_H
#define LIAISON_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "liaison.h"
#include "liaison_proto.h"
#include "liaison_yaml.h"
#include "cargo.h"
#include "match.h"

#if defined(__GNUC__)
#define AGENT_MUST_CHECK __attribute__((warn_unused_result))
#else
#define AGENT_MUST_CHECK
#endif

/*
 * The agent acts for one agency: it answers watchlist.query,
 * watchlist.request and traveldoc.check from its own records, acknowledges
 * freeze.designation and mlat.request, and keeps what partners share.
 * docs/agent.md is the user's reference.  Everything here is
 * single-threaded: one object belongs to one thread.
 */

/* ---- Configuration (agent_config.c) ------------------------------------------ */

/* Errors of the configuration loader.  Codes are appended, never renumbered. */
typedef enum agent_config_err {
    AGENT_CONFIG_OK = 0,
    AGENT_CONFIG_ERR_IO = 1,            /* the file cannot be read */
    AGENT_CONFIG_ERR_TOO_LARGE = 2,     /* the file is larger than a configuration can be */
    AGENT_CONFIG_ERR_SYNTAX = 3,        /* not well-formed YAML, or YAML we do not take */
    AGENT_CONFIG_ERR_UNKNOWN_FIELD = 4, /* a field the schema does not know */
    AGENT_CONFIG_ERR_MISSING_FIELD = 5, /* a required field is absent or empty */
    AGENT_CONFIG_ERR_TYPE = 6,          /* a value of the wrong type */
    AGENT_CONFIG_ERR_RANGE = 7,         /* a number outside its range */
    AGENT_CONFIG_ERR_INVALID = 8,       /* a value that breaks its rule (endpoint, labels, ...) */
    AGENT_CONFIG_ERR_DUPLICATE = 9,     /* a field given twice */
    AGENT_CONFIG_ERR_NOMEM = 10,        /* out of memory */
} agent_config_err;

/* Largest configuration file read, in bytes. */
#define AGENT_CONFIG_MAX_BYTES (64u * 1024u)
/* Longest path after resolution against the configuration's directory, with its NUL. */
#define AGENT_CONFIG_PATH_MAX 4096u
/* Lowest and highest name_threshold accepted. */
#define AGENT_THRESHOLD_MIN 0.5
#define AGENT_THRESHOLD_MAX 1.0

/* Where and why a configuration was refused: line, column, field and the
 * whole message, "rcmp.yaml:4:17: name_threshold: ...". */
typedef liaison_yaml_detail agent_config_detail;

/* The actor of what the agent sends when its configuration names none. */
#define AGENT_ACTOR_DEFAULT "system:liaison-agent"

/* A loaded, checked configuration; paths are resolved, defaults filled in. */
typedef struct agent_config {
    char *source;                /* the file it came from, as named to the loader */
    char *key;                   /* the agency's secret key file */
    char *roster;                /* the federation roster */
    char *broker;                /* the home broker's agency endpoint */
    char *store;                 /* the agent's directory: STORE/agent (LMDB), STORE/client */
    double name_threshold;       /* a name score at or above this is a hit */
    char *answer_labels;         /* labels of every answer; NULL: computed per answer */
    char *actor;                 /* actor of every message it sends (AGENT_ACTOR_DEFAULT) */
    proto_log_level log_level;   /* highest level logged */
    char *policy;                /* policy file whose retention applies; NULL: none */
} agent_config;

/*
 * Loads and checks the configuration at path.  *cfg_out is the caller's,
 * to free with agent_config_destroy.  On failure nothing is returned and
 * detail_r (may be NULL) says where and why, as "FILE:LINE:COL: FIELD: what".
 */
agent_config_err agent_config_load(const char *path, agent_config **cfg_out,
                                   agent_config_detail *detail_r) AGENT_MUST_CHECK;

/* Same, from text (len bytes); relative paths resolve against the directory
 * of path_for_messages (or the working directory when it has none). */
agent_config_err agent_config_load_buffer(const char *text, size_t len,
                                          const char *path_for_messages,
                                          agent_config **cfg_out,
                                          agent_config_detail *detail_r) AGENT_MUST_CHECK;

/* Frees *cfg and sets it to NULL.  Accepts NULL. */
void agent_config_destroy(agent_config **cfg);

/* A static string for code; never NULL. */
const char *agent_config_strerror(agent_config_err code);

/* ---- Store (agent_store.c: the only file that calls LMDB) ----------------------- */

/* Creates directory path and those missing above it (mode 0700), as the
 * agent's store directory is made on first use.  0, or -1 with why. */
int agent_store_dir_make(const char *path, char *why, size_t why_len);

/* Errors of the store.  Codes are appended, never renumbered. */
typedef enum agent_store_err {
    AGENT_STORE_OK = 0,
    AGENT_STORE_ERR_NOT_FOUND = 1, /* no record under that key */
    AGENT_STORE_ERR_IO = 2,        /* the environment cannot be opened, read or written */
    AGENT_STORE_ERR_FULL = 3,      /* the map is full */
    AGENT_STORE_ERR_NOMEM = 4,     /* out of memory */
    AGENT_STORE_ERR_INVALID = 5,   /* a key or value out of bounds, or a read-only write */
    AGENT_STORE_ERR_VERSION = 6,   /* the store was made by an incompatible version */
} agent_store_err;

/* The tables of the store; docs/agent.md, "What is stored", names their records. */
typedef enum agent_table {
    AGENT_T_ENTRIES = 0,         /* own watchlist entries, by ref */
    AGENT_T_DOCS = 1,            /* own travel-document reports, by ref */
    AGENT_T_PARTNER_ENTRIES = 2, /* partners' published entries, by "FROM REF" */
    AGENT_T_PARTNER_DOCS = 3,    /* partners' document reports, by "FROM REF" */
    AGENT_T_DESIGNATIONS = 4,    /* designations received, by "FROM DESIGNATION VERSION" */
    AGENT_T_IMPLEMENT = 5,       /* implement requests not acknowledged yet, by designation key */
    AGENT_T_OUTBOX = 6,          /* sealed answers, by the id they answer and a role byte */
    AGENT_T_KEPT = 7,            /* messages kept as received (MLAT, designations, others) */
    AGENT_T_META = 8,            /* the store's format version */
    AGENT_T_CARGO = 9,           /* cargo requests, alerts and do-not-loads received, by
                                    "FROM request|alert|donotload ID" */
    AGENT_T_CARGO_RESULTS = 10,  /* cargo results recorded by officers, by the request's key */
    AGENT_T_OWN_DESIGNATIONS = 11, /* the agency's own designations: the latest version sent of
                                      each, by designation id (what freeze.query is answered
                                      from) */
    AGENT_T_FREEZE_ACKS = 12,    /* freeze.ack received about the agency's own designations,
                                    by "DESIGNATION VERSION FROM STATUS" (version as in
                                    agent_designation_key) */
    AGENT_T_JOURNAL = 13,        /* deletions by retention, by u64 time and message id */
    AGENT_T_FILED = 14,          /* messages that records were filed from (partner entries and
                                    reports, designations, cargo), by message id: kind, sender,
                                    labels, case, created time, envelope hash (what retention
                                    decides by) */
    AGENT_T_NAME_KEYS = 15,      /* the index: name keys of watchlist entries (own and
                                    partners'), docs/agent.md "The store's index" */
    AGENT_T_NAMES = 16,          /* the index: each indexed name, parsed, by its name id */
    AGENT_T_DOC_KEYS = 17,       /* the index: normalised document numbers of entries and
                                    reports (own and partners') */
    AGENT_T_DIGESTS = 18,        /* partners' published keyed hashes of document numbers */
    AGENT_T_PUBLICATIONS = 19,   /* partners' publications: origin, version, form, labels */
    AGENT_T_COUNT = 20,          /* number of tables */
} agent_table;

/* Longest key, in bytes. */
#define AGENT_STORE_KEY_MAX 480u

typedef struct agent_store agent_store;
typedef struct agent_txn agent_txn;

/*
 * Opens (creating if needed, mode 0700) the store in directory dir.  Several
 * processes may open one store at once: the running agent and the operator
 * commands.  *st_out is the caller's, to close with agent_store_close; why
 * (why_len bytes) receives the reason on failure.
 */
agent_store_err agent_store_open(const char *dir, agent_store **st_out, char *why,
                                 size_t why_len) AGENT_MUST_CHECK;
/* Closes *st (no transaction may be open) and sets it to NULL.  Accepts NULL. */
void agent_store_close(agent_store **st);

/* Starts a transaction; a write transaction waits for other writers (of
 * any process).  *txn_out is the caller's: commit or abort it. */
agent_store_err agent_store_begin(agent_store *st, bool write, agent_txn **txn_out) AGENT_MUST_CHECK;
/* Commits (durably, for writes) and frees *txn; sets it to NULL.  On failure
 * nothing of the transaction was written. */
agent_store_err agent_store_commit(agent_txn **txn) AGENT_MUST_CHECK;
/* Abandons *txn and sets it to NULL.  Accepts NULL. */
void agent_store_abort(agent_txn **txn);

/* The value under key: *val_out is borrowed until the transaction ends. */
agent_store_err agent_store_get(agent_txn *txn, agent_table table, const void *key, size_t key_len,
                                const void **val_out, size_t *val_len_out) AGENT_MUST_CHECK;
/* Stores val under key, replacing what was there. */
agent_store_err agent_store_put(agent_txn *txn, agent_table table, const void *key, size_t key_len,
                                const void *val, size_t val_len) AGENT_MUST_CHECK;
/* Removes key; AGENT_STORE_ERR_NOT_FOUND if it was absent. */
agent_store_err agent_store_del(agent_txn *txn, agent_table table, const void *key,
                                size_t key_len) AGENT_MUST_CHECK;

/* Called for each record in key order; returns 0 to go on, 1 to stop. Key
 * and value are borrowed for the call. */
typedef int (*agent_store_fn)(void *ctx, const void *key, size_t key_len, const void *val,
                              size_t val_len);
/* Calls fn for each record of table, from the first key at or after start
 * (NULL: from the beginning) while the key begins with start. */
agent_store_err agent_store_each(agent_txn *txn, agent_table table, const char *start,
                                 agent_store_fn fn, void *ctx) AGENT_MUST_CHECK;
/* The number of records in table. */
agent_store_err agent_store_count(agent_txn *txn, agent_table table, size_t *count_out) AGENT_MUST_CHECK;

/* A static string for code; never NULL. */
const char *agent_store_strerror(agent_store_err code);

/* Adds val under key to a table of many values per key (AGENT_T_NAME_KEYS,
 * AGENT_T_DOC_KEYS); a value already there is not added twice. */
agent_store_err agent_store_dup_put(agent_txn *txn, agent_table table, const void *key,
                                    size_t key_len, const void *val, size_t val_len) AGENT_MUST_CHECK;
/* Removes val under key from such a table; absent is success. */
agent_store_err agent_store_dup_del(agent_txn *txn, agent_table table, const void *key,
                                    size_t key_len, const void *val, size_t val_len) AGENT_MUST_CHECK;
/* Calls fn for the values under key of such a table: one value per call,
 * or, for AGENT_T_NAME_KEYS (8-byte values), a run of them per call
 * (val_len a multiple of 8).  Borrowed for the call. */
agent_store_err agent_store_dup_each(agent_txn *txn, agent_table table, const void *key,
                                     size_t key_len, agent_store_fn fn, void *ctx) AGENT_MUST_CHECK;
/* How many values key holds in such a table (0 when absent). */
agent_store_err agent_store_dup_count(agent_txn *txn, agent_table table, const void *key,
                                      size_t key_len, size_t *count_out) AGENT_MUST_CHECK;
/* AGENT_STORE_OK if key holds val in such a table, AGENT_STORE_ERR_NOT_FOUND if not. */
agent_store_err agent_store_dup_has(agent_txn *txn, agent_table table, const void *key,
                                    size_t key_len, const void *val, size_t val_len) AGENT_MUST_CHECK;
/* Removes every record of table (in the transaction). */
agent_store_err agent_store_empty(agent_txn *txn, agent_table table) AGENT_MUST_CHECK;
/* The bytes of the store's file in use. */
agent_store_err agent_store_size(agent_store *st, uint64_t *bytes_out) AGENT_MUST_CHECK;

/* ---- The store's index (agent_index.c; docs/agent.md, "The store's index") ------ */

/* The version of the index's layout and keys; with MATCH_NORMALISE_VERSION,
 * recorded in the meta table under "index". */
#define AGENT_INDEX_VERSION 2

/* True for the tables whose records the index covers: AGENT_T_ENTRIES,
 * AGENT_T_DOCS, AGENT_T_PARTNER_ENTRIES, AGENT_T_PARTNER_DOCS.
 * agent_store_put and agent_store_del keep the index of these themselves. */
bool agent_index_covers(agent_table table);
/* Indexes the record val (JSON, as stored) under key of table; a record
 * that does not parse is not indexed. */
agent_store_err agent_index_add(agent_txn *txn, agent_table table, const void *key,
                                size_t key_len, const void *val, size_t val_len) AGENT_MUST_CHECK;
/* Takes out of the index what agent_index_add put there for that record. */
agent_store_err agent_index_remove(agent_txn *txn, agent_table table, const void *key,
                                   size_t key_len, const void *val, size_t val_len) AGENT_MUST_CHECK;
/* Empties the index and indexes every covered record again (a write
 * transaction); *records_out (may be NULL) gets how many were indexed. */
agent_store_err agent_index_rebuild(agent_txn *txn, size_t *records_out) AGENT_MUST_CHECK;
/* Rebuilds the index when the meta table records none or another version;
 * *rebuilt_out says whether it did.  A read-only transaction fails with
 * AGENT_STORE_ERR_INVALID when a rebuild is needed. */
agent_store_err agent_index_ensure(agent_txn *txn, bool *rebuilt_out) AGENT_MUST_CHECK;

/* A record the index found: its table and key. */
typedef struct agent_index_rec {
    agent_table table;          /* AGENT_T_ENTRIES ... AGENT_T_PARTNER_DOCS */
    size_t key_len;             /* bytes of key */
    char key[AGENT_STORE_KEY_MAX + 1]; /* its key, NUL-terminated */
} agent_index_rec;

/* Records found, in the order a scan of their tables meets them once sorted. */
typedef struct agent_index_recs {
    agent_index_rec *recs;      /* the records (owned) */
    size_t count;               /* in use */
    size_t cap;                 /* allocated */
} agent_index_recs;

/*
 * Adds to *recs the watchlist records (tables of scope) one of whose
 * names is a candidate for one of names[0..count) by the index's rule and
 * scores a hit (match_is_hit at threshold) against it; *scored_out gets
 * the names scored.
 */
agent_store_err agent_index_names(agent_txn *txn, const match_name *names, size_t count,
                                  double threshold, unsigned scope, agent_index_recs *recs,
                                  size_t *scored_out) AGENT_MUST_CHECK;
/* Adds to *recs the records listing the normalised document number norm:
 * watchlist entries (entries true) or reports (false), of the tables of scope. */
agent_store_err agent_index_docs(agent_txn *txn, const char *norm, bool entries, unsigned scope,
                                 agent_index_recs *recs) AGENT_MUST_CHECK;
/* A record check: agent_entry_check or agent_doc_check. */
typedef json_t *(*agent_check_fn)(const json_t *record, char *why, size_t why_len);

/* What agent_bulk_load did. */
typedef struct agent_bulk_result {
    size_t lines;               /* lines read */
    size_t added;               /* records new to the table */
    size_t replaced;            /* records that replaced one with their ref */
    char why[512];              /* on failure: "FILE:LINE: why" */
} agent_bulk_result;

/*
 * Loads JSON Lines from f (named path in messages) into table: each
 * non-blank line one record, checked with check and stored under its ref
 * with "added" set to added (when not NULL), the index kept as for any
 * put.  One write transaction holds the whole file: a bad line (JSON that
 * does not parse, a refused record, a ref given twice) or a full map
 * stores nothing, and res->why names the line.  Memory: one line and the
 * set of refs seen; LMDB spills the transaction's pages to the file.
 * AGENT_STORE_ERR_INVALID for bad input.
 */
agent_store_err agent_bulk_load(agent_store *st, agent_table table, FILE *f, const char *path,
                                agent_check_fn check, const char *added,
                                agent_bulk_result *res) AGENT_MUST_CHECK;

/* Sorts *recs in scan order (table, then key as LMDB orders keys) and drops repeats. */
void agent_index_recs_sort(agent_index_recs *recs);
/* Frees what *recs holds and empties it. */
void agent_index_recs_free(agent_index_recs *recs);

/* ---- Records (agent_records.c): JSON records, checks and lookups ---------------- */

/* Longest ref accepted, in bytes. */
#define AGENT_REF_MAX 128u
/* Hits listed in one answer at most. */
#define AGENT_HITS_MAX 20u

/*
 * Checks a watchlist entry (as in watchlist.publish) and returns a copy
 * cleaned for storing: "type" defaults to "person", "name" becomes
 * "names".  NULL on failure, with the reason in why.
 */
json_t *agent_entry_check(const json_t *entry, char *why, size_t why_len);

/* Checks a traveldoc report ({"ref", "document", "status", "reported"}) and
 * returns a copy for storing; NULL on failure, with the reason in why. */
json_t *agent_doc_check(const json_t *report, char *why, size_t why_len);

/* Where a lookup searches. */
typedef enum agent_scope {
    AGENT_SCOPE_OWN = 1,      /* the agency's own entries and reports (what partners are answered from) */
    AGENT_SCOPE_PARTNERS = 2, /* what partners published or reported (local lookups only) */
} agent_scope;

/*
 * Looks subject ({"type", "name" or "names", "born", "documents"}) up in
 * the watchlist tables of scope (AGENT_SCOPE_* bits).  *hits_out gets a
 * new JSON array of hits, best first, at most AGENT_HITS_MAX:
 * {"ref", "score", "matched", "name"} plus "source" ("own" or the
 * partner's address) when with_source.
 */
agent_store_err agent_lookup_subject(agent_txn *txn, const json_t *subject, double threshold,
                                     unsigned scope, bool with_source, json_t **hits_out) AGENT_MUST_CHECK;

/* How a lookup runs (agent_lookup_subject_how, agent_lookup_document_how). */
typedef struct agent_lookup_how {
    bool full_scan;             /* in: score every record instead of the index's candidates */
    size_t candidates;          /* out: names (or records, in a full scan) scored */
} agent_lookup_how;

/* agent_lookup_subject, through the index or by a full scan as how says. */
agent_store_err agent_lookup_subject_how(agent_txn *txn, const json_t *subject, double threshold,
                                         unsigned scope, bool with_source, agent_lookup_how *how,
                                         json_t **hits_out) AGENT_MUST_CHECK;
/* agent_lookup_document, through the index or by a full scan as how says. */
agent_store_err agent_lookup_document_how(agent_txn *txn, const json_t *document, unsigned scope,
                                          bool with_source, agent_lookup_how *how,
                                          json_t **hits_out) AGENT_MUST_CHECK;

/* Looks a document ({"type", "number", "country"}) up in the traveldoc
 * tables of scope; *hits_out gets {"ref", "status", "reported"} (plus
 * "source" when with_source). */
agent_store_err agent_lookup_document(agent_txn *txn, const json_t *document, unsigned scope,
                                      bool with_source, json_t **hits_out) AGENT_MUST_CHECK;

/* JSON text of a record value (NUL-terminated copy), parsed; NULL if it does not parse. */
json_t *agent_json_load(const void *val, size_t len);

/* Stores o (compact JSON) under key. */
agent_store_err agent_json_put(agent_txn *txn, agent_table table, const char *key,
                               const json_t *o) AGENT_MUST_CHECK;

/* Reads the JSON record under key; AGENT_STORE_ERR_NOT_FOUND when absent,
 * AGENT_STORE_ERR_INVALID when it does not parse.  *o_out is the caller's. */
agent_store_err agent_json_get(agent_txn *txn, agent_table table, const char *key,
                               json_t **o_out) AGENT_MUST_CHECK;

/*
 * A record of JSON metadata followed by bytes (the outbox keeps sealed
 * answers so, the kept table envelopes as received): four bytes of JSON
 * length (big-endian), the JSON, then the bytes.
 */
agent_store_err agent_blob_put(agent_txn *txn, agent_table table, const void *key, size_t key_len,
                               const json_t *meta, const void *data, size_t len) AGENT_MUST_CHECK;
/* Reads such a record: *meta_out is the caller's; *data_out is borrowed
 * until the transaction ends.  AGENT_STORE_ERR_INVALID if it is malformed. */
agent_store_err agent_blob_get(agent_txn *txn, agent_table table, const void *key, size_t key_len,
                               json_t **meta_out, const uint8_t **data_out,
                               size_t *len_out) AGENT_MUST_CHECK;

/* The key of a designation version: "FROM DESIGNATION VERSION" with the
 * version zero-padded to ten digits, so versions sort in order. */
void agent_designation_key(const char *from, const char *designation, uint32_t version,
                           char *buf, size_t buf_len);

/* Writes the reason (printf-style) into why (why_len bytes) and returns
 * false, so that a check reads `return agent_why(why, len, "...")`. */
bool agent_why(char *why, size_t why_len, const char *fmt, ...) PROTO_PRINTF(3, 4);

/* True if v is a JSON string of min to max bytes of UTF-8 without control
 * characters (and without a NUL inside). */
bool agent_text_valid(const json_t *v, size_t min, size_t max);

/*
 * Checks a freeze.designation version (its portion 0, "schema" aside)
 * against the members and bounds of docs/messages.md (freeze.*): the
 * designation id, version, action, dates, and the entity's texts and list
 * lengths.  Returns true if it may be stored and acknowledged; otherwise
 * false with the member and the reason in why ("entity.aliases[3].quality:
 * not strong, weak, good or low").  Members it does not know are ignored.
 */
bool agent_designation_check(const json_t *body, char *why, size_t why_len);

/* True if s is a date of birth as a designation gives it: YYYY-MM-DD,
 * YYYY-MM, YYYY, or a range of years YYYY..YYYY (first not after last). */
bool agent_born_valid(const char *s);

/* Outbox roles: what the kept message is to the message it answers. */
#define AGENT_ROLE_ANSWER 'A'       /* the answer or acknowledgement on receipt */
#define AGENT_ROLE_IMPLEMENTED 'I'  /* freeze.ack implemented */
#define AGENT_ROLE_CARGO_RESULT 'R' /* cargo.result recorded by an officer */
/* Bytes of an outbox key: the id answered, then the role. */
#define AGENT_OUTBOX_KEY_BYTES 17u

/* The key of a cargo record: "FROM WHAT ID" (what: request, alert, donotload). */
void agent_cargo_key(const char *from, const char *what, const char *id, char *buf,
                     size_t buf_len);

/*
 * The records filed from message hex (32 hex digits) of sender: partner
 * watchlist entries, partner travel-document reports, designations received
 * (with their pending implement requests) and cargo records.  With records
 * (a JSON array of refs; NULL: all of them) only those named.  With remove,
 * deletes them in txn; otherwise only counts them.  The refs of what is (or
 * would be) deleted are appended to refs (may be NULL); *found_out gets how
 * many.  A record of that message id filed from another sender is not
 * touched: foreign (40 bytes, may be NULL) gets that sender ("" when none).
 * What recall and retention both delete.
 */
agent_store_err agent_records_of_message(agent_txn *txn, const char *hex, const char *sender,
                                         const json_t *records, bool remove, json_t *refs,
                                         size_t *found_out, char *foreign) AGENT_MUST_CHECK;

/*
 * Indexes message e's id in the filed table with what retention decides by
 * (kind, sender, labels, case, created time, envelope hash); called in the
 * transaction that files records from it.
 */
agent_store_err agent_filed_put(agent_txn *txn, const liaison_event *e) AGENT_MUST_CHECK;

/* Called with each kept message of a kind: its id and its JSON metadata
 * (borrowed for the call); returns 0 to go on, 1 to stop. */
typedef int (*agent_kept_fn)(void *arg, const uint8_t id[16], const json_t *meta);

/*
 * Calls fn for each message of kind in the kept table (as received: a
 * consent.grant, a recall.ack, an mlat.status...), in id order.  The
 * metadata holds "body", the message's portion 0, for the kinds whose
 * content the tool's commands need (docs/agent.md, "What is stored").
 */
agent_store_err agent_kept_each_kind(agent_txn *txn, const char *kind, agent_kept_fn fn,
                                     void *arg) AGENT_MUST_CHECK;

/*
 * What the store knows of a message received, by id: the metadata of the
 * kept table, else of the filed table, else {from, message, case} of a
 * record filed from it (records filed before the filed table).  *meta_out
 * is the caller's and holds at least "from".  AGENT_STORE_ERR_NOT_FOUND if
 * the store holds nothing of it.
 */
agent_store_err agent_message_meta(agent_txn *txn, const uint8_t id[16],
                                   json_t **meta_out) AGENT_MUST_CHECK;

/*
 * Calls fn for each record filed from a message that neither the filed nor
 * the kept table knows (filed by an agent older than the filed table), with
 * what the record tells of its message: {kind (by the table: watchlist.publish,
 * traveldoc.report, freeze.designation, or the cargo record's kind), from,
 * message, case, created_ms (the cargo record's created time, else when it
 * was received)}; labels are not known.  Once per record, so a message may
 * come more than once.
 */
agent_store_err agent_records_unindexed_each(agent_txn *txn, agent_kept_fn fn,
                                             void *arg) AGENT_MUST_CHECK;

/* ---- Publications (agent_publish.c): traveldoc.publish, sent and received ---- */

/* Parts of one version at most. */
#define AGENT_PUBLISH_PARTS_MAX 1000u
/* Records of one part at most (form "records"). */
#define AGENT_PUBLISH_RECORDS_MAX 50000u
/* Hashes of one part at most (form "hashes"): 10.7 MB of base64, inside a broker's
 * default largest envelope (16 MiB). */
#define AGENT_PUBLISH_HASHES_MAX 500000u
/* Bytes of a published hash (keyed BLAKE2b of a normalised document number). */
#define AGENT_PUBLISH_HASH_BYTES 16u
/* Bytes of a version's hash key. */
#define AGENT_PUBLISH_KEY_BYTES 32u
/* Longest publication id, in bytes. */
#define AGENT_PUBLISH_ID_MAX 64u
/* The hash algorithm's name in a publication. */
#define AGENT_PUBLISH_ALGORITHM "blake2b-128-keyed"

/* One part of a traveldoc.publish, checked (agent_publication_check). */
typedef struct agent_publication_part {
    char publication[AGENT_PUBLISH_ID_MAX + 1]; /* the publication's id */
    uint32_t version;          /* its version, 1 or more */
    uint32_t part;             /* this part, 1 to parts */
    uint32_t parts;            /* parts of the version */
    uint64_t count;            /* records or hashes of the whole version */
    bool hashed;               /* form "hashes" (else "records") */
    json_t *records;           /* form records: the checked reports (agent_doc_check), owned */
    uint8_t key[AGENT_PUBLISH_KEY_BYTES]; /* form hashes: the version's key */
    uint8_t *hashes;           /* form hashes: hash_count hashes of 16 bytes, owned */
    size_t hash_count;         /* hashes in this part */
} agent_publication_part;

/*
 * Checks a traveldoc.publish portion 0 against docs/messages.md: schema,
 * publication id, version, part and parts, count, form, and the records (each
 * as agent_doc_check) or the hashes (base64 of a multiple of 16 bytes, the
 * key of 32).  On success fills *out (free with agent_publication_part_clear)
 * and returns true; otherwise false with the reason in why, and *out holds
 * nothing to free.
 */
bool agent_publication_check(const json_t *body, agent_publication_part *out, char *why,
                             size_t why_len);

/* Frees what *p owns and clears it.  Accepts a cleared part. */
void agent_publication_part_clear(agent_publication_part *p);

/*
 * The published hash of a document number: keyed BLAKE2b (16 bytes) of the
 * number as match_doc_normalise gives it.  False if nothing of the number is
 * left once normalised.
 */
bool agent_publication_hash(const uint8_t key[AGENT_PUBLISH_KEY_BYTES], const char *number,
                            uint8_t out[AGENT_PUBLISH_HASH_BYTES]);

/*
 * Files part p of message e (from e->sender) in txn: records into the partner
 * documents table, hashes into the digests table, the part into the
 * publications table; when the version's last part lands, the version is
 * complete and the one before it is deleted.  A part that does not fit what
 * the store holds of its version (another id, form, key, parts or count, a
 * version older than the complete one) files nothing: *refused_out gets true
 * and why the reason.  *complete_out (may be NULL) gets true when this part
 * completed its version.
 */
agent_store_err agent_publication_file(agent_txn *txn, const liaison_event *e,
                                       const agent_publication_part *p, bool *refused_out,
                                       bool *complete_out, char *why,
                                       size_t why_len) AGENT_MUST_CHECK;

/*
 * What recall and retention delete of message hex of sender beyond its
 * records: if it is a part of a publication held here, the hashes of its
 * version (the version is no longer whole), and the version's state.  With
 * remove false, only counts.  Appends "hashes:SENDER:PUBLICATION:VERSION" to
 * refs (may be NULL) when hashes are (or would be) deleted; adds their number
 * to *found_out.
 */
agent_store_err agent_publication_of_message(agent_txn *txn, const char *hex, const char *sender,
                                             bool remove, json_t *refs,
                                             size_t *found_out) AGENT_MUST_CHECK;

/*
 * Looks number up in what partners published: *hits_out gets a JSON array of
 * hash hits {"owner", "form": "hashes", "publication", "version", "published"}
 * (records are found by agent_lookup_document); *complete_out gets every
 * complete publication held {"owner", "form", "publication", "version",
 * "published", "count", "labels"}.  Both are the caller's.
 */
agent_store_err agent_publication_lookup(agent_txn *txn, const char *number, json_t **hits_out,
                                         json_t **complete_out) AGENT_MUST_CHECK;

/*
 * The next version of the agency's own publication, counted in the meta
 * table: reads it, adds one and stores it in txn; *version_out gets it.
 */
agent_store_err agent_publication_next_version(agent_txn *txn,
                                               uint32_t *version_out) AGENT_MUST_CHECK;

/* ---- Retention (agent_retain.c) ------------------------------------------------ */

struct policy;

/* Bytes of an agent_deletion's list of record refs, with its NUL. */
#define AGENT_DELETION_REFS_MAX 1024u

/* One message that retention deleted, with the records filed from it (the journal). */
typedef struct agent_deletion {
    char id[33];                  /* message id, hex */
    char kind[PROTO_KIND_MAX + 1];/* its kind */
    char counterpart[40];         /* its sender */
    char case_id[PROTO_CASE_ID_MAX + 1]; /* its case, "" when none */
    char envelope_hash[65];       /* SHA-256 of the envelope as received, hex */
    uint64_t created_ms;          /* when its sender created it (retention counts from then) */
    uint64_t deleted_ms;          /* when it was deleted */
    char rule[PROTO_RULE_ID_MAX + 1]; /* the retention rule */
    size_t record_count;          /* records filed from it that were deleted with it */
    char records[AGENT_DELETION_REFS_MAX]; /* their refs, separated by spaces; "..." ends a list
                                             too long to hold */
} agent_deletion;

typedef void (*agent_deleted_fn)(void *arg, const agent_deletion *d);

/*
 * Deletes every message whose retention under pol has ended at now_ms
 * (counted from its created time) and that no hold covers: the message as
 * kept, and every record filed from it (agent_records_of_message); a rule
 * with keep: case deletes it once an mlat.status kept here closed its case
 * (status closed or completed).  Writes each to the journal table, in one
 * transaction; with dry_run, only reports.  report (may be NULL) hears of each; *count_out
 * (may be NULL) gets how many.
 */
agent_store_err agent_retention_sweep(agent_store *st, const struct policy *pol, uint64_t now_ms,
                                      bool dry_run, agent_deleted_fn report, void *arg,
                                      size_t *count_out) AGENT_MUST_CHECK;

/* Calls fn with every journal entry, oldest first. */
agent_store_err agent_journal_each(agent_store *st, agent_deleted_fn fn, void *arg) AGENT_MUST_CHECK;

/* ---- The daemon and the operator commands (agent.c, cli_agent.c) ------------ */

/* Runs the agent until SIGTERM or SIGINT; returns a sysexits code.  One
 * agent at a time per store: a second is refused (EX_TEMPFAIL). */
int agent_run(const agent_config *cfg);

/* True if an agent runs with the store at cfg->store (it holds the lock
 * on STORE/agent.lock). */
bool agent_running(const agent_config *cfg);

#endif
