/* The web console (liaison console): what its HTTP core and its JSON handlers share.
 *
 * The core (cli_console.c) serves the pages and routes each /api/ request to one handler
 * below, holding console_lock around the call: the casebook and the agent's store are
 * used by one thread at a time.  A handler builds the JSON answer of its endpoint from
 * the casebook (ctx->cb), the agent's store (ctx->agent_config), and, for an action, a
 * connection of its own to the broker (ctx->conn, with the session's actor).  The
 * endpoints and their JSON are docs/console.md, "The JSON API". */
#ifndef LIAISON_CONSOLE_H
#define LIAISON_CONSOLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli_int.h"

struct casebook;

/* What every handler may use; the core fills it at start. */
typedef struct console_ctx {
    cli_conn conn;              /* key, roster, broker, state; actor set per action */
    const char *agency;         /* "USA/FBI": the agency whose key the console holds */
    const char *agent_config;   /* the agent's configuration file, or NULL */
    const char *audit_data;     /* the home broker's data directory (mlat export), or NULL */
    struct casebook *cb;        /* the casebook of conn.state (use under console_lock) */
    bool read_only;             /* actions are refused (the core checks before calling) */
} console_ctx;

/* One request, as the core parsed it. */
typedef struct console_req {
    const char *arg;            /* the path after the endpoint ("MEX-FGR-2026-0099"), "" if none */
    const char *actor;          /* the logged-in officer's actor */
    json_t *body;               /* POST: the JSON body (an object), else NULL; borrowed */
    void *conn;                 /* the core's handle for console_param */
} console_req;

/* The value of query parameter name ("?limit=50"), URL-decoded, or NULL. */
const char *console_param(const console_req *req, const char *name);

/*
 * A handler: returns a new JSON reference to send with status 200 (or *status when the
 * handler set it), or NULL with *status (400 bad parameter, 404 not found, 409 refused
 * by the broker or not possible here, 500, 502) and why (why_len bytes), which the core
 * sends as {"error": why}.
 */
typedef json_t *(*console_api_fn)(console_ctx *ctx, const console_req *req, int *status,
                                  char *why, size_t why_len);

/* MLAT cases and freeze designations (console_mlat.c, console_freeze.c). */
json_t *console_api_mlat_list(console_ctx *ctx, const console_req *req, int *status, char *why,
                              size_t why_len);
json_t *console_api_mlat_case(console_ctx *ctx, const console_req *req, int *status, char *why,
                              size_t why_len);
json_t *console_api_mlat_respond(console_ctx *ctx, const console_req *req, int *status,
                                 char *why, size_t why_len);
json_t *console_api_mlat_export(console_ctx *ctx, const console_req *req, int *status,
                                char *why, size_t why_len);
json_t *console_api_freeze_list(console_ctx *ctx, const console_req *req, int *status,
                                char *why, size_t why_len);
json_t *console_api_freeze_one(console_ctx *ctx, const console_req *req, int *status,
                               char *why, size_t why_len);
json_t *console_api_freeze_implement(console_ctx *ctx, const console_req *req, int *status,
                                     char *why, size_t why_len);

/* The inbox, queries and answers, recalls, consents (console_inbox.c). */
json_t *console_api_inbox(console_ctx *ctx, const console_req *req, int *status, char *why,
                          size_t why_len);
json_t *console_api_queries(console_ctx *ctx, const console_req *req, int *status, char *why,
                            size_t why_len);
json_t *console_api_recalls(console_ctx *ctx, const console_req *req, int *status, char *why,
                            size_t why_len);
json_t *console_api_consents(console_ctx *ctx, const console_req *req, int *status,
                             char *why, size_t why_len);

#endif
