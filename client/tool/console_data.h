/* Private to the liaison tool: the JSON builders behind the console's MLAT and freeze endpoints. */
#ifndef LIAISON_CONSOLE_DATA_H
#define LIAISON_CONSOLE_DATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"

struct casebook;

/* True when id, a reference from a URL (what: "case id", "designation id"),
 * is 1..64 of A-Z a-z 0-9 - _ . : not starting with a dot; else false with why. */
bool console_ref_check(const char *what, const char *id, char *why, size_t why_len);

/* True when id is a case id the console accepts from a URL: 1..64 of A-Z a-z
 * 0-9 - _ . : and not starting with a dot; else false with why. */
bool console_case_id_check(const char *id, char *why, size_t why_len);

/*
 * GET /api/mlat: {"cases": [...], "truncated": bool}, each row {case, role,
 * peer, treaty, offences, status, submitted, last, overdue, deadlines,
 * evidence_files, evidence_complete}, overdue first, then by the next open
 * deadline, judged as of now_ms; at most 1000 cases.  NULL with why on failure.
 */
json_t *console_mlat_cases(struct casebook *cb, const char *state, uint64_t now_ms, char *why,
                           size_t why_len);

/* One row of that list from the case's status JSON (cli_mlat_status_json). */
json_t *console_mlat_row(const json_t *st);

/* GET /api/mlat/CASE as of now_ms: NULL with *status (400, 404, 500) and why on failure. */
json_t *console_mlat_case(console_ctx *ctx, const char *case_id, uint64_t now_ms, int *status,
                          char *why, size_t why_len);

/* The console's earlier exports of case_id under state (a new array, empty when none). */
json_t *console_mlat_exports(const char *state, const char *case_id);

/* GET /api/freeze, "sent": this agency's designations, each {designation, name,
 * latest {version, action, units, received, implemented}, sent}, from the casebook cb
 * (and the acknowledgements the agent of agent_cfg_path, may be NULL, filed); at most
 * 1000.  NULL with why on failure. */
struct proto_roster;
json_t *console_freeze_sent(struct casebook *cb, const struct proto_roster *roster,
                            const char *self, const char *state, const char *agent_cfg_path,
                            char *why, size_t why_len);

/* "received": designations received, each {designation, from, name, version, action,
 * received, ack, implement_requested, implemented}, from the agent's store, or, without
 * an agent, from the casebook (ack: this agency's freeze.ack sent).  At most 1000. */
json_t *console_freeze_received_agent(const char *agent_cfg_path, char *why, size_t why_len);
json_t *console_freeze_received_casebook(struct casebook *cb, char *why, size_t why_len);

#endif
