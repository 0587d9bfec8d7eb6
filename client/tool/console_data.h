/* Private to the liaison tool: the JSON builders behind the console's MLAT and freeze endpoints. */
#ifndef LIAISON_CONSOLE_DATA_H
#define LIAISON_CONSOLE_DATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "console.h"

struct casebook;

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

#endif
