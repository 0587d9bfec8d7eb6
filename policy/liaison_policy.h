/* Release policy: load a nation's per-partner policy, decide, explain, rate-limit. */
#ifndef LIAISON_POLICY_H
#define LIAISON_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_policy_t.h"
#include "liaison_proto.h"

/*
 * A policy is immutable once loaded: every function that takes a
 * `const policy *` is thread-safe, and policy_decide does no I/O and no
 * allocation.  Loading either returns a complete policy or an error, never
 * half of one; docs/policy.md is the reference of the file format and of the
 * semantics.
 */

/* Returns a static, human-readable string for code; never NULL. */
const char *policy_strerror(policy_err code);

/*
 * Loads and compiles the policy file at path.  On success *policy_out is the
 * caller's, to free with policy_destroy.  On failure *policy_out is left as
 * it was and err_r (may be NULL) holds file, line, column and message.
 * Errors: POLICY_ERR_NOFILE, POLICY_ERR_IO, POLICY_ERR_LIMIT,
 * POLICY_ERR_PERMISSION (group or others can write the file or its
 * directory: proto_file_check_writers), and every load error of
 * policy_load_buffer.
 */
policy_err policy_load(const char *path, policy **policy_out,
                       policy_load_error *err_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/*
 * Same, from len bytes at buf (borrowed for the call); name (may be NULL:
 * "<buffer>") is used in errors.  Errors: POLICY_ERR_SYNTAX, POLICY_ERR_SCHEMA,
 * POLICY_ERR_VOCABULARY, POLICY_ERR_DUPLICATE, POLICY_ERR_PARTNER,
 * POLICY_ERR_SHADOWED, POLICY_ERR_ADDRESS, POLICY_ERR_DATES, POLICY_ERR_VALUE,
 * POLICY_ERR_LIMIT, POLICY_ERR_NOMEM.
 */
policy_err policy_load_buffer(const uint8_t *buf, size_t len, const char *name,
                              policy **policy_out,
                              policy_load_error *err_r) PROTO_NONNULL(4) PROTO_MUST_CHECK;

/* Frees *p and sets *p to NULL.  Accepts NULL and *p == NULL. */
void policy_destroy(policy **p);

/*
 * Reload helper: loads path and, only if that succeeds, moves *current to
 * *old_out and the new policy to *current.  The caller destroys *old_out once
 * no decision uses it any more.  On failure *current and *old_out are
 * unchanged (the old policy stays in force) and err_r says why.
 */
policy_err policy_reload(const char *path, policy **current, policy **old_out,
                         policy_load_error *err_r) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* Writes "file:line:column: message" (or "file: message") into buf; returns buf. */
char *policy_load_error_format(const policy_load_error *err, char *buf,
                               size_t buf_len) PROTO_NONNULL(1, 2);

/* SHA-256 of the file bytes the policy was loaded from (borrowed, PROTO_HASH_BYTES). */
const uint8_t *policy_hash(const policy *p) PROTO_NONNULL(1);

/* The nation whose policy this is (borrowed). */
const char *policy_nation(const policy *p) PROTO_NONNULL(1);

/* Counts and hash, for summaries. */
void policy_info_get(const policy *p, policy_info *info_out) PROTO_NONNULL(1, 2);

/* Summary of the index-th partner (in nation order); false if out of range. */
bool policy_partner_at(const policy *p, size_t index,
                       policy_partner_info *info_out) PROTO_NONNULL(1, 3);

/* Where rule id is defined (1-based line and column); false if no such rule. */
bool policy_rule_position(const policy *p, const char *rule_id, uint32_t *line_out,
                          uint32_t *column_out) PROTO_NONNULL(1, 2, 3, 4);

/*
 * Decides whether the message described by req may leave toward (egress) or
 * enter from (ingress) req->partner.  Built-in semantics first (NOFORN, REL
 * TO, ORCON, third-party rule, MLAT treaty), then the partner's rules in
 * order, first match wins, default deny; then, if rate is not NULL and the
 * message would be released, the partner's rate limits.  rate may be NULL:
 * rate limits are then not applied.  Writes *decision_out in every case
 * except POLICY_ERR_INVALID (req is malformed: unknown direction, more than
 * PROTO_PORTIONS_MAX portions, missing labels, sender or kind).
 * No I/O, no allocation; thread-safe (rate has its own lock).
 */
policy_err policy_decide(const policy *p, const policy_request *req, policy_rate *rate,
                         policy_decision *decision_out) PROTO_NONNULL(1, 2, 4) PROTO_MUST_CHECK;

/*
 * Whether consent grant g lets content of nation origin reach the
 * recipient of req (req->recipient; with none, the whole destination
 * nation, which needs the nation's selector in `to`) at req->now_ms:
 * grantor of nation origin, grantee the sender, req->kind among its kinds,
 * the recipient covered by its `to`, issued_ms <= now < until_ms.  It does
 * not check the signature: the caller verified it.  Returns the first
 * reason it does not fit, or POLICY_GRANT_FITS.  Thread-safe.
 */
policy_grant_fit policy_grant_check(const policy *p, const policy_request *req,
                                    const proto_grant *g, const char *origin)
    PROTO_NONNULL(1, 2, 3, 4);

/* One line saying why a grant does not apply ("its grantee is CAN/RCMP, not
 * the sender MEX/FGR"), or that it applies; into buf, returned. */
char *policy_grant_fit_text(policy_grant_fit fit, const policy_request *req,
                            const proto_grant *g, const char *origin, char *buf,
                            size_t buf_len) PROTO_NONNULL(2, 3, 4, 5);

/* Writes the one-line reason of a verdict into buf (POLICY_REASON_MAX suffices); returns buf. */
char *policy_reason(const policy_verdict *v, char *buf, size_t buf_len) PROTO_NONNULL(1, 2);

/* "release", "release-with-withheld" or "deny" (static); "unknown" otherwise. */
const char *policy_action_name(uint8_t action);

/* Parses an action name as above (also "withheld"); POLICY_ERR_VALUE if none. */
policy_err policy_action_parse(const char *name, uint8_t *action_out) PROTO_NONNULL(1, 2);

/* "egress" or "ingress" (static); "unknown" otherwise. */
const char *policy_direction_name(uint8_t direction);

/*
 * Parses a date "YYYY-MM-DD" (UTC midnight) or a number of ms since the
 * epoch into *ms_out.  POLICY_ERR_DATES if it is neither.
 */
policy_err policy_date_parse(const char *text, uint64_t *ms_out) PROTO_NONNULL(1, 2);

/*
 * Makes the rate-limit state for p's limits (a sliding window of 60 s per
 * partner and limit).  *rate_out is the caller's, to free with
 * policy_rate_destroy; it must be used only with p.  Errors: POLICY_ERR_NOMEM.
 */
policy_err policy_rate_new(const policy *p, policy_rate **rate_out) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Frees *rate and sets *rate to NULL.  Accepts NULL and *rate == NULL. */
void policy_rate_destroy(policy_rate **rate);

/* ---- Retention and holds ------------------------------------------------ */

/*
 * Which retention rule applies to the message q describes (the first whose
 * kinds match and whose required markings it all carries) and whether a
 * hold covers it at now_ms (a hold naming its case id or its id, whose
 * until has not passed).  Writes *out in every case but POLICY_ERR_INVALID
 * (no kind).  Pure: no I/O, no allocation; thread-safe.
 */
policy_err policy_retention_lookup(const policy *p, const policy_retention_query *q,
                                   uint64_t now_ms,
                                   policy_retention *out) PROTO_NONNULL(1, 2, 4) PROTO_MUST_CHECK;

/* The index-th retention rule (file order); false if out of range. */
bool policy_retention_at(const policy *p, size_t index,
                         policy_retention_info *info_out) PROTO_NONNULL(1, 3);

/* The index-th hold (file order); false if out of range. */
bool policy_hold_at(const policy *p, size_t index, policy_hold_info *info_out) PROTO_NONNULL(1, 3);

/*
 * Parses a keep value: "Nd" (days), "Nw" (weeks), "Ny" (years of 365 days),
 * "Ns" (seconds; for tests and demonstrations) with N from 1, up to 100
 * years; or "case".  POLICY_ERR_VALUE otherwise.
 */
policy_err policy_keep_parse(const char *text, uint8_t *keep_out,
                             uint64_t *ms_out) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/* ---- Requests in text form, and files of test cases ------------------------ */

/* A request in text form, as `liaison policy explain` and case files give it. */
typedef struct policy_text_request {
    uint8_t direction;               /* a policy_direction */
    const char *partner;             /* "CAN"; required */
    const char *kind;                /* "watchlist.publish"; required */
    const char *labels;              /* message labels in text form; required */
    const char *const *portions;     /* each portion's labels in text form */
    size_t portion_count;            /* entries in portions */
    const char *from;                /* sender; NULL: every agency of the source nation */
    const char *to;                  /* recipient; NULL: the partner (or this nation) as a whole */
    const char *const *recipients;   /* original recipients; NULL: [to], or every agency of the destination */
    size_t recipient_count;          /* entries in recipients */
    const char *origin;              /* nation the content came from; NULL: as labels say */
    uint64_t now_ms;                 /* decision time */
} policy_text_request;

/* A request built from text, with the storage its pointers point into. */
typedef struct policy_request_store {
    policy_request req;                           /* points into the fields below */
    char kind[PROTO_KIND_MAX + 1];                /* copy of the kind */
    proto_labels labels;                          /* message labels */
    proto_addr sender;                            /* sender */
    proto_addr recipient;                         /* recipient, when given */
    proto_addr recipients[PROTO_RECIPIENTS_MAX];  /* original recipients */
    proto_labels portions[PROTO_PORTIONS_MAX];    /* portion labels */
} policy_request_store;

/*
 * Parses t into *store, filling the defaults documented in docs/policy.md
 * from p's nation.  Errors: POLICY_ERR_VALUE with a one-line reason in why
 * (why_len bytes; "--labels: ..." style), POLICY_ERR_INVALID.
 */
policy_err policy_request_from_text(const policy *p, const policy_text_request *t,
                                    policy_request_store *store, char *why,
                                    size_t why_len) PROTO_NONNULL(1, 2, 3, 4) PROTO_MUST_CHECK;

/* A loaded file of test cases (opaque). */
typedef struct policy_cases policy_cases;

/* The outcome of one test case. */
typedef struct policy_case_result {
    char name[128];                  /* the case's name, or "case N" */
    uint32_t line;                   /* where the case is in its file */
    bool passed;                     /* the decision is what was expected */
    uint8_t expect_action;           /* a policy_action */
    char expect_rule[PROTO_RULE_ID_MAX + 1]; /* expected rule id, "" if not checked */
    bool check_withheld;             /* expect_withheld is checked */
    uint64_t expect_withheld;        /* expected withheld portions */
    policy_decision decision;        /* what the policy decided (valid if the case ran) */
    char message[2 * PROTO_TEXT_MAX]; /* what differs, or why the case could not run */
} policy_case_result;

/*
 * Loads a cases file (YAML through libcyaml; docs/policy.md gives its format).
 * *cases_out is the caller's, to free with policy_cases_destroy.  Errors as
 * for policy_load, with file:line:column in err_r.
 */
policy_err policy_cases_load(const char *path, policy_cases **cases_out,
                             policy_load_error *err_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Frees *cases and sets it to NULL.  Accepts NULL and *cases == NULL. */
void policy_cases_destroy(policy_cases **cases);

/* Number of cases in the file. */
size_t policy_cases_count(const policy_cases *cases) PROTO_NONNULL(1);

/*
 * Runs case index against p without rate limits; now_ms is the decision time
 * for cases that give none.  A case that cannot run (bad labels) is a failure
 * with the reason in message.  Errors: POLICY_ERR_INVALID (index).
 */
policy_err policy_case_run(const policy *p, const policy_cases *cases, size_t index,
                           uint64_t now_ms, policy_case_result *result_out) PROTO_NONNULL(1, 2, 5);

#endif
