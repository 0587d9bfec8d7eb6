/* Private to the liaison tool: what liaison mlat computes, shared with the web console. */
#ifndef LIAISON_CLI_MLAT_H
#define LIAISON_CLI_MLAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "casebook.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define CLI_MLAT_DECIDE_DAYS 30    /* days to decide, counted from submission */
#define CLI_MLAT_EXECUTE_DAYS 90   /* days to execute */

/* One case, as the casebook holds it. */
typedef struct cli_mlat_case {
    casebook_list *list;           /* its messages, oldest first */
    const casebook_entry *request; /* the request (borrowed from list) */
    json_t *body;                  /* the request's content (owned) */
    bool requester;                /* this agency sent the request */
    char peer[40];                 /* the other authority */
    uint64_t submitted_ms;         /* when it was submitted */
} cli_mlat_case;

/*
 * Loads case id from cb (with_raw: with the envelopes as received).  Returns
 * EX_OK; EX_NOINPUT when no request is filed under id (recalled, or never
 * received; state, the casebook's directory, is named in why), EX_DATAERR
 * when the request does not parse, EX_IOERR when the casebook cannot be
 * read, each with why (why_len bytes).  mc is then to be freed all the same.
 */
int cli_mlat_case_load(casebook *cb, const char *state, const char *id, bool with_raw,
                       cli_mlat_case *mc, char *why, size_t why_len);
void cli_mlat_case_free(cli_mlat_case *mc);

/*
 * The case as `liaison mlat status CASE --json` prints it: {case, role, peer,
 * treaty, offences, status, submitted, timeline, evidence, now, deadlines:
 * {decide, execute}, overdue}, judged as of now_ms with the deadlines of
 * decide_days and execute_days.  Each deadline has days_left: the whole days
 * left before it is due, negative when it is overdue (by that many days),
 * null when it was met or is not needed.  A new reference, NULL when out of
 * memory.
 */
json_t *cli_mlat_status_json(const cli_mlat_case *mc, const char *case_id, uint64_t now_ms,
                             long decide_days, long execute_days);

/* The statuses this side of mc may send now (an array), given the current status. */
json_t *cli_mlat_statuses_allowed(const cli_mlat_case *mc, const char *current);

/* Checks a status to send and its grounds: EX_OK, or EX_USAGE with why. */
int cli_mlat_respond_check(const char *status, const char *grounds, char *why, size_t why_len);

/* Checks that this side of mc may send status (closed: either side; withdrawn:
 * the requesting one; any other: the requested one): EX_OK, or EX_USAGE with why. */
int cli_mlat_respond_side_check(const cli_mlat_case *mc, const char *status, char *why,
                                size_t why_len);

/*
 * Sends status (checked by cli_mlat_respond_check) of case mc through c,
 * recording it in cb, with note and grounds (may be NULL) and labels (NULL:
 * the request's); with json, a failure is also printed as JSON on stdout
 * (as the command does).  *result_out gets {id, case, status, to,
 * result: "accepted"}, the caller's.  Returns EX_OK; EX_USAGE with why when this side
 * may not send that status; else the code of cli_outgoing_send, which said
 * why on stderr (why is then "", and the broker's rejection is
 * liaison_client_rejection(c)).
 */
int cli_mlat_respond_send(const char *sub, liaison_client *c, casebook *cb, const cli_conn *conn,
                          const cli_mlat_case *mc, const char *case_id, const char *status,
                          const char *note, const char *grounds, const char *labels, bool json,
                          json_t **result_out, char *why, size_t why_len);

/*
 * Writes the evidence bundle of case mc (loaded with raw) into out_dir, as
 * `liaison mlat export` does, signed by me, with roster_path and audit_data
 * (may be NULL).  *summary_out gets {dir, files, messages, proofs, recalled}.
 * Returns EX_OK or the code of bundle_export (or EX_IOERR) with why.
 */
int cli_mlat_export_bundle(casebook *cb, const cli_mlat_case *mc, const char *case_id,
                           const proto_identity *me, const char *roster_path,
                           const char *out_dir, const char *audit_data, json_t **summary_out,
                           char *why, size_t why_len);

#endif
