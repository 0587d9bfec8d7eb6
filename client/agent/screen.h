/* Screening: customers against the designations in force, with an index of name keys, scores and
 * the reasons for each candidate (docs/agent.md, "Screening"). */
#ifndef LIAISON_SCREEN_H
#define LIAISON_SCREEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent.h"

/*
 * A screen_set holds the designations to screen against, in a compact form
 * (names, dates of birth, countries as ISO 3166-1 indexes, normalised
 * document numbers and identifiers) with an index from blocking keys to
 * names, so that one subject is scored against the few designations whose
 * keys it shares (docs/agent.md, "The index"), not against all.  A set belongs to one thread
 * (screening writes its scratch marks).
 */

/* Where designations are loaded from (bits). */
#define SCREEN_RECEIVED 1u /* the designations table: what partner units designated */
#define SCREEN_OWN 2u      /* own_designations: what this agency designated */

/* A weak (OFAC) or low (UN) quality alias counts this much of its name score. */
#define SCREEN_WEAK_ALIAS_FACTOR 0.92
/* Evidence: what each field that agrees adds, or that disagrees takes away. */
#define SCREEN_BORN_AGREES 0.03
#define SCREEN_BORN_DIFFERS 0.15
#define SCREEN_NATIONALITY_AGREES 0.02
#define SCREEN_NATIONALITY_DIFFERS 0.05
#define SCREEN_COUNTRY_AGREES 0.02
#define SCREEN_TYPE_DIFFERS 0.10
/* A document number or identifier equal to the subject's: the score is at least this. */
#define SCREEN_DOCUMENT_FLOOR 0.95
/* ... and the agreement then adds this. */
#define SCREEN_DOCUMENT_AGREES 0.03
/* Candidates listed per subject by default. */
#define SCREEN_CANDIDATES_MAX 20u
/* Bytes of a subject field that are read (longer fields are refused by the callers). */
#define SCREEN_FIELD_MAX 512u

/* What is screened: each member NULL or "" when not known. */
typedef struct screen_subject {
    const char *name;        /* the name (required for a name match) */
    const char *born;        /* date of birth: YYYY-MM-DD, YYYY-MM or YYYY */
    const char *nationality; /* alpha-2, alpha-3 or an English name */
    const char *country;     /* a country the subject is tied to (residence, registration) */
    const char *document;    /* a document number or identifier */
    const char *type;        /* individual (or person) or entity (vessel, aircraft) */
} screen_subject;

typedef struct screen_set screen_set;

/* A new, empty set; NULL if out of memory.  Destroy with screen_set_destroy. */
screen_set *screen_set_new(void);
/* Frees *set and sets it to NULL.  Accepts NULL. */
void screen_set_destroy(screen_set **set);

/*
 * Adds one designation version (a record of the designations table or of
 * own_designations: the body without "schema", plus "from" for received
 * ones); from overrides the record's "from" when not NULL.  A record
 * without a designation id, a version or an entity name, or whose action is
 * delist, is skipped (*added_out false).  Members past the bounds of
 * docs/messages.md are ignored.  Returns false only when out of memory
 * (the set is then unchanged).  The set must be indexed again before
 * screening (screen_set_index).
 */
bool screen_set_add(screen_set *set, const json_t *rec, const char *from, bool *added_out);

/* Called with each designation in force: rec is borrowed for the call;
 * return 0 to go on, 1 to stop. */
typedef int (*screen_record_fn)(void *ctx, const json_t *rec);

/*
 * Calls fn for each designation in force in table (AGENT_T_DESIGNATIONS:
 * per sender and designation id the latest version, unless its action is
 * delist; AGENT_T_OWN_DESIGNATIONS: each record unless delist), in key
 * order.  Records that do not parse are skipped.
 */
agent_store_err screen_each_in_force(agent_txn *txn, agent_table table, screen_record_fn fn,
                                     void *ctx) AGENT_MUST_CHECK;

/* Loads the designations in force of sources (SCREEN_* bits) into set and
 * indexes it.  AGENT_STORE_ERR_NOMEM when out of memory. */
agent_store_err screen_set_load(agent_txn *txn, unsigned sources, screen_set *set) AGENT_MUST_CHECK;

/* Builds (or rebuilds) the index of the designations added so far; false
 * when out of memory (the set then screens exhaustively). */
bool screen_set_index(screen_set *set);

/* The number of designations in the set. */
size_t screen_set_count(const screen_set *set);

/* Figures of the index: distinct keys, postings (key-designation pairs),
 * and bytes of memory the set holds. */
void screen_set_stats(const screen_set *set, size_t *keys_out, size_t *postings_out,
                      size_t *bytes_out);

/*
 * Screens subject against set: *candidates_out gets a new JSON array of at
 * most max candidates whose score is at or above threshold, best first
 * (then by sender and designation id), each {"from", "designation",
 * "version", "list", "reference", "type", "name", "score", "name_score",
 * "matched_name", "matched_as", "reasons"}; "matched_as" is "name",
 * "original_name", "alias" or "weak alias", "reasons" a list of sentences.
 * With exhaustive, every designation is scored (no index); otherwise only
 * the candidates of the index (a name sharing keys with min(2, its tokens,
 * the subject's) distinct tokens of the subject, or its head, or a
 * document), which score as they would when every one is scored.  *examined_out (may be
 * NULL) gets the number of designations scored.  Returns false when out of
 * memory.
 */
bool screen_subject_run(screen_set *set, const screen_subject *subject, double threshold,
                        size_t max, bool exhaustive, json_t **candidates_out,
                        size_t *examined_out) AGENT_MUST_CHECK;

/*
 * The subject of a freeze.query ({"type", "name", "born", "nationality",
 * "document", "country"}, every member but name optional) into *out, whose
 * strings are borrowed from query.  False (why says which member) when name
 * is missing or a member is not a string of at most SCREEN_FIELD_MAX bytes.
 */
bool screen_subject_from_json(const json_t *query, screen_subject *out, char *why, size_t why_len);

#endif
