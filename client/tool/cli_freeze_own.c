/* The agency's own designations in its agent's store (what its agent answers freeze.query from),
 * and the acknowledgements its agent received for them. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

/* What recording walks through: the agent's write transaction and the counts. */
typedef struct own_walk {
    agent_txn *t;                  /* the agent store's write transaction */
    agent_store_err err;           /* the first store error, or AGENT_STORE_OK */
    size_t recorded;               /* versions written */
} own_walk;

/*
 * One designation version the casebook holds as sent: written to
 * own_designations (the body without "schema", plus "message" and "sent")
 * unless the table holds that version or a later one already.  The
 * casebook gives versions in no particular order, so the comparison keeps
 * the latest.
 */
static int
record_one(void *arg, const casebook_entry *e)
{
    own_walk *w = arg;
    char why[128], hex[33], sent[32];
    json_t *body = cli_body_parse(e->body, "freeze.designation/1", why), *have = NULL;
    const char *id = json_string_value(json_object_get(body, "designation"));
    json_int_t version = json_integer_value(json_object_get(body, "version"));
    agent_store_err err;

    if (id == NULL || strlen(id) > AGENT_STORE_KEY_MAX) {
        json_decref(body);
        return 0;
    }
    err = agent_json_get(w->t, AGENT_T_OWN_DESIGNATIONS, id, &have);
    if (err == AGENT_STORE_OK &&
        json_integer_value(json_object_get(have, "version")) >= version) {
        json_decref(have);
        json_decref(body);
        return 0;
    }
    json_decref(have);
    if (err != AGENT_STORE_OK && err != AGENT_STORE_ERR_NOT_FOUND && err != AGENT_STORE_ERR_INVALID) {
        w->err = err;
        json_decref(body);
        return 1;
    }
    liaison_id_to_hex(e->id, hex);
    json_object_del(body, "schema");
    json_object_set_new(body, "message", json_string(hex));
    json_object_set_new(body, "sent", json_string(proto_time_format(e->time_ms, sent)));
    if ((err = agent_json_put(w->t, AGENT_T_OWN_DESIGNATIONS, id, body)) != AGENT_STORE_OK) {
        w->err = err;
        json_decref(body);
        return 1;
    }
    w->recorded++;
    json_decref(body);
    return 0;
}

int
cli_freeze_own_record(const char *sub, casebook *cb, const char *config_path,
                      size_t *recorded_out)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    own_walk w = {NULL, AGENT_STORE_OK, 0};
    casebook_err cerr;
    int rc;

    *recorded_out = 0;
    if ((rc = cli_agent_config_load(sub, config_path, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(sub, cfg, true, &st)) != EX_OK)
        goto out;
    if ((w.err = agent_store_begin(st, true, &w.t)) != AGENT_STORE_OK)
        goto out;
    cerr = casebook_each_kind(cb, true, "freeze.designation", record_one, &w);
    if (cerr != CASEBOOK_OK) {
        cli_error(sub, "casebook: %s", casebook_strerror(cerr));
        rc = EX_IOERR;
        goto out;
    }
    if (w.err == AGENT_STORE_OK && (w.err = agent_store_commit(&w.t)) == AGENT_STORE_OK)
        *recorded_out = w.recorded;
out:
    if (rc == EX_OK && w.err != AGENT_STORE_OK) {
        cli_error(sub, "the agent's store of %s: %s", config_path, agent_store_strerror(w.err));
        rc = EX_IOERR;
    }
    agent_store_abort(&w.t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

/* Collects the records of a freeze_acks table into an array. */
static int
collect_ack(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    json_t *rec = agent_json_load(val, val_len);

    (void)key;
    (void)key_len;
    if (rec != NULL)
        json_array_append_new(ctx, rec);
    return 0;
}

int
cli_freeze_agent_acks(const char *sub, const char *config_path, const char *designation,
                      json_t **acks_out)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *acks = json_array();
    agent_store_err err = AGENT_STORE_OK;
    char prefix[80];
    int rc;

    *acks_out = NULL;
    snprintf(prefix, sizeof(prefix), "%.64s ", designation);
    if ((rc = cli_agent_config_load(sub, config_path, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(sub, cfg, false, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, false, &t)) == AGENT_STORE_OK)
        err = agent_store_each(t, AGENT_T_FREEZE_ACKS, prefix, collect_ack, acks);
    if (err != AGENT_STORE_OK) {
        cli_error(sub, "the agent's store of %s: %s", config_path, agent_store_strerror(err));
        rc = EX_IOERR;
        goto out;
    }
    *acks_out = acks;
    acks = NULL;
out:
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    json_decref(acks);
    return rc;
}
