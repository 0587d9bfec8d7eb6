/* The web console's freeze endpoints: designations sent and received, one designation, implement. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "console.h"
#include "console_data.h"
#include "liaison_proto.h"

#define DESIGNATIONS_MAX 1000   /* designations a list shows at most, sent and received each */
#define NOTE_MAX 2000           /* bytes of an implement note */
#define IMPLEMENT_WAIT_S 2      /* how long implement waits for the agent's freeze.ack */

/* A received designation as the list shows it, from a record {designation, version,
 * action, entity, from, received, ack, implement_requested, implemented}. */
static json_t *
received_row(const json_t *rec)
{
    const json_t *name = json_object_get(json_object_get(rec, "entity"), "name");
    const json_t *req = json_object_get(rec, "implement_requested");
    const json_t *done = json_object_get(rec, "implemented");
    const json_t *ack = json_object_get(rec, "ack");

    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "designation",
                     json_object_get(rec, "designation"), "from", json_object_get(rec, "from"),
                     "name", name != NULL ? name : json_null(), "version",
                     json_object_get(rec, "version"), "action", json_object_get(rec, "action"),
                     "received", json_object_get(rec, "received"), "ack",
                     ack != NULL ? ack : json_null(), "implement_requested",
                     req != NULL ? req : json_null(), "implemented",
                     done != NULL ? done : json_null());
}

/* Collects the agent's designation records as rows (agent_store_each). */
static int
collect_received(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    json_t *rows = ctx, *rec = agent_json_load(val, val_len), *row;

    (void)key;
    (void)key_len;
    if (rec == NULL)
        return 0;
    if (json_array_size(rows) < DESIGNATIONS_MAX && (row = received_row(rec)) != NULL)
        json_array_append_new(rows, row);
    json_decref(rec);
    return 0;
}

json_t *
console_freeze_received_agent(const char *agent_cfg_path, char *why, size_t why_len)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *rows = json_array(), *out = NULL;
    agent_store_err err;

    if (rows == NULL || cli_agent_config_load("console", agent_cfg_path, &cfg) != EX_OK ||
        cli_agent_store_open("console", cfg, false, &st) != EX_OK) {
        snprintf(why, why_len, "the agent's store (configuration %s) cannot be read", agent_cfg_path);
        goto done;
    }
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_store_each(t, AGENT_T_DESIGNATIONS, NULL, collect_received, rows)) !=
            AGENT_STORE_OK) {
        snprintf(why, why_len, "agent store: %s", agent_store_strerror(err));
        goto done;
    }
    out = rows;
    rows = NULL;
done:
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    json_decref(rows);
    return out;
}

/* The state of this agency's acknowledgements of (designation, version) among its sent
 * freeze.ack: "implemented", "received", or NULL. */
static const char *
casebook_ack(const casebook_list *acks, const char *designation, json_int_t version,
             const char **implemented_out)
{
    const char *state = NULL;

    *implemented_out = NULL;
    for (size_t i = 0; acks != NULL && i < acks->count; i++) {
        char bwhy[128];
        json_t *b = cli_body_parse(acks->entries[i]->body, "freeze.ack/1", bwhy);
        const char *d = json_string_value(json_object_get(b, "designation"));
        const char *s = json_string_value(json_object_get(b, "status"));

        if (d != NULL && s != NULL && strcmp(d, designation) == 0 &&
            json_integer_value(json_object_get(b, "version")) == version) {
            if (strcmp(s, "implemented") == 0) {
                state = "implemented";
                *implemented_out = "";
            } else if (state == NULL && strcmp(s, "received") == 0) {
                state = "received";
            }
        }
        json_decref(b);
    }
    return state;
}

json_t *
console_freeze_received_casebook(struct casebook *cb, char *why, size_t why_len)
{
    casebook_list *list = NULL, *acks = NULL;
    json_t *rows = json_array(), *out = NULL;
    casebook_err err;

    if (rows == NULL ||
        (err = casebook_list_kind(cb, false, "freeze.designation", false, &list)) != CASEBOOK_OK ||
        (err = casebook_list_kind(cb, true, "freeze.ack", false, &acks)) != CASEBOOK_OK) {
        snprintf(why, why_len, "the casebook cannot be read");
        goto done;
    }
    for (size_t i = 0; i < list->count && json_array_size(rows) < DESIGNATIONS_MAX; i++) {
        const casebook_entry *e = list->entries[i];
        char bwhy[128], t[PROTO_TIME_TEXT_BYTES];
        json_t *b = cli_body_parse(e->body, "freeze.designation/1", bwhy), *row;
        const char *d = json_string_value(json_object_get(b, "designation"));
        const char *implemented = NULL, *ack;

        if (b == NULL || d == NULL) {
            json_decref(b);
            continue;
        }
        json_object_set_new(b, "from", json_string(e->peer));
        json_object_set_new(b, "received", json_string(proto_time_format(e->time_ms, t)));
        ack = casebook_ack(acks, d, json_integer_value(json_object_get(b, "version")),
                           &implemented);
        json_object_set_new(b, "ack", ack != NULL ? json_string(ack) : json_null());
        if ((row = received_row(b)) != NULL)
            json_array_append_new(rows, row);
        json_decref(b);
    }
    out = rows;
    rows = NULL;
done:
    casebook_list_free(&list);
    casebook_list_free(&acks);
    json_decref(rows);
    return out;
}

json_t *
console_freeze_sent(struct casebook *cb, const proto_roster *roster, const char *self,
                    const char *state, const char *agent_cfg_path, char *why, size_t why_len)
{
    casebook_case_ids *ids = NULL;
    json_t *rows = json_array(), *out = NULL;
    casebook_err err;

    if (rows == NULL || (err = casebook_cases(cb, "freeze", DESIGNATIONS_MAX, &ids)) != CASEBOOK_OK) {
        snprintf(why, why_len, "the casebook cannot be read");
        goto done;
    }
    for (size_t i = 0; i < ids->count; i++) {
        json_t *st = NULL, *row, *versions;
        char lwhy[512];
        int rc = cli_freeze_status_json(cb, roster, self, state, ids->ids[i], agent_cfg_path, &st,
                                        lwhy, sizeof(lwhy));

        if (rc == EX_NOINPUT)
            continue;  /* designations received, not sent: filed under the same family */
        if (rc != EX_OK) {
            snprintf(why, why_len, "designation %s: %s", ids->ids[i],
                     lwhy[0] ? lwhy : "the agent's store cannot be read");
            goto done;
        }
        versions = json_object_get(st, "versions");
        row = json_pack("{s:s, s:O, s:O, s:O}", "designation", ids->ids[i], "name",
                        json_object_get(json_object_get(st, "entity"), "name") != NULL
                            ? json_object_get(json_object_get(st, "entity"), "name")
                            : json_null(),
                        "latest", json_object_get(st, "latest"), "sent",
                        json_object_get(json_array_get(versions, json_array_size(versions) - 1),
                                        "sent"));
        json_decref(st);
        if (row != NULL)
            json_array_append_new(rows, row);
    }
    out = rows;
    rows = NULL;
done:
    casebook_case_ids_free(&ids);
    json_decref(rows);
    return out;
}

/* The roster of the console's connection, or NULL with *status and why. */
static proto_roster *
roster_load(const console_ctx *ctx, int *status, char *why, size_t why_len)
{
    proto_roster *roster = NULL;
    proto_detail d = {{0}, {0}};

    if (ctx->conn.roster == NULL || proto_roster_load(ctx->conn.roster, &roster, &d) != PROTO_OK) {
        *status = 500;
        snprintf(why, why_len, "the roster cannot be read: %s",
                 ctx->conn.roster == NULL ? "no --roster" : d.text);
        return NULL;
    }
    return roster;
}

json_t *
console_api_freeze_list(console_ctx *ctx, const console_req *req, int *status, char *why,
                        size_t why_len)
{
    proto_roster *roster = roster_load(ctx, status, why, why_len);
    json_t *sent = NULL, *received = NULL, *out = NULL;

    (void)req;
    if (roster == NULL)
        return NULL;
    sent = console_freeze_sent(ctx->cb, roster, ctx->agency, ctx->conn.state, ctx->agent_config,
                               why, why_len);
    if (sent != NULL)
        received = ctx->agent_config != NULL
                       ? console_freeze_received_agent(ctx->agent_config, why, why_len)
                       : console_freeze_received_casebook(ctx->cb, why, why_len);
    if (sent != NULL && received != NULL)
        out = json_pack("{s:O, s:O}", "sent", sent, "received", received);
    if (out == NULL)
        *status = 500;
    json_decref(sent);
    json_decref(received);
    proto_roster_destroy(&roster);
    return out;
}

json_t *
console_api_freeze_one(console_ctx *ctx, const console_req *req, int *status, char *why,
                       size_t why_len)
{
    proto_roster *roster;
    json_t *out = NULL;
    int rc;

    if (!console_ref_check("designation id", req->arg, why, why_len)) {
        *status = 400;
        return NULL;
    }
    if ((roster = roster_load(ctx, status, why, why_len)) == NULL)
        return NULL;
    rc = cli_freeze_status_json(ctx->cb, roster, ctx->agency, ctx->conn.state, req->arg,
                                ctx->agent_config, &out, why, why_len);
    if (rc != EX_OK) {
        *status = rc == EX_NOINPUT ? 404 : 500;
        if (why[0] == '\0')
            snprintf(why, why_len, "the agent's store cannot be read");
    }
    proto_roster_destroy(&roster);
    return out;
}

json_t *
console_api_freeze_implement(console_ctx *ctx, const console_req *req, int *status, char *why,
                             size_t why_len)
{
    const json_t *jv = json_object_get(req->body, "version");
    const json_t *jf = json_object_get(req->body, "from");
    const json_t *jn = json_object_get(req->body, "note");
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    json_t *res = NULL, *out = NULL;
    proto_addr from_addr;
    long version = 0;
    int rc = EX_USAGE;

    if (!console_ref_check("designation id", req->arg, why, why_len))
        goto bad;
    if (jv != NULL && !json_is_null(jv)) {
        if (!json_is_integer(jv) || json_integer_value(jv) < 1 ||
            json_integer_value(jv) > 1000000000) {
            snprintf(why, why_len, "version: a whole number from 1");
            goto bad;
        }
        version = (long)json_integer_value(jv);
    }
    if (jf != NULL && !json_is_null(jf) &&
        (!json_is_string(jf) || proto_addr_parse(json_string_value(jf), &from_addr, NULL) !=
                                    PROTO_OK || from_addr.kind != PROTO_ADDR_AGENCY)) {
        snprintf(why, why_len, "from: an agency address such as USA/TREASURY");
        goto bad;
    }
    if (jn != NULL && !json_is_null(jn) &&
        (!json_is_string(jn) || strlen(json_string_value(jn)) > NOTE_MAX)) {
        snprintf(why, why_len, "note: a string of at most %d bytes", NOTE_MAX);
        goto bad;
    }
    if (ctx->agent_config == NULL) {
        *status = 409;
        snprintf(why, why_len, "the console runs without an agent (--agent-config): the agent "
                               "sends freeze.ack implemented");
        goto done;
    }
    if (cli_agent_config_load("console", ctx->agent_config, &cfg) != EX_OK ||
        cli_agent_store_open("console", cfg, false, &st) != EX_OK) {
        *status = 500;
        snprintf(why, why_len, "the agent's store (configuration %s) cannot be opened",
                 ctx->agent_config);
        goto done;
    }
    rc = cli_agent_implement(cfg, st, req->arg, json_is_string(jf) ? json_string_value(jf) : NULL,
                             version, json_is_string(jn) ? json_string_value(jn) : "",
                             IMPLEMENT_WAIT_S, &res, why, why_len);
    if (rc == EX_OK || rc == EX_TEMPFAIL) {
        bool done_now = strcmp(json_string_value(json_object_get(res, "ack")), "implemented") == 0;

        out = json_pack("{s:s, s:O, s:O, s:O, s:O}", "result",
                        done_now ? "implemented" : "requested", "message",
                        json_object_get(res, "message"), "designation",
                        json_object_get(res, "designation"), "version",
                        json_object_get(res, "version"), "from", json_object_get(res, "from"));
        if (out == NULL)
            *status = 500;
    } else {
        *status = rc == EX_DATAERR ? 404 : rc == EX_USAGE ? 400 : rc == EX_UNAVAILABLE ? 502 : 500;
        if (why[0] == '\0')
            snprintf(why, why_len, "the agent's store cannot be written");
    }
    goto done;
bad:
    *status = 400;
done:
    json_decref(res);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return out;
}
