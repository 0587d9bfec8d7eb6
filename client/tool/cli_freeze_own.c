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

/* The latest version sent of each designation in the casebook, as the
 * own_designations table keeps it: the body without "schema", plus
 * "message" (its id) and "sent".  A new object keyed by designation id. */
static int
latest_versions(const char *sub, casebook *cb, json_t **latest_out)
{
    casebook_list *l = NULL;
    json_t *latest = json_object();
    casebook_err err;

    *latest_out = NULL;
    if ((err = casebook_list_kind(cb, true, "freeze.designation", false, &l)) != CASEBOOK_OK) {
        cli_error(sub, "casebook: %s", casebook_strerror(err));
        json_decref(latest);
        return EX_IOERR;
    }
    for (size_t i = 0; i < l->count; i++) {
        const casebook_entry *e = l->entries[i];
        char why[128], hex[33], sent[32];
        json_t *body = cli_body_parse(e->body, "freeze.designation/1", why);
        const char *id = json_string_value(json_object_get(body, "designation"));
        const json_t *have = id != NULL ? json_object_get(latest, id) : NULL;

        if (id == NULL || (have != NULL && json_integer_value(json_object_get(have, "version")) >=
                                               json_integer_value(json_object_get(body, "version")))) {
            json_decref(body);
            continue;
        }
        liaison_id_to_hex(e->id, hex);
        json_object_del(body, "schema");
        json_object_set_new(body, "message", json_string(hex));
        json_object_set_new(body, "sent", json_string(proto_time_format(e->time_ms, sent)));
        json_object_set_new(latest, id, body);
    }
    casebook_list_free(&l);
    *latest_out = latest;
    return EX_OK;
}

int
cli_freeze_own_record(const char *sub, casebook *cb, const char *config_path,
                      size_t *recorded_out)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *latest = NULL, *rec;
    agent_store_err err = AGENT_STORE_OK;
    const char *id;
    size_t recorded = 0;
    int rc;

    *recorded_out = 0;
    if ((rc = latest_versions(sub, cb, &latest)) != EX_OK ||
        (rc = cli_agent_config_load(sub, config_path, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(sub, cfg, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, true, &t)) != AGENT_STORE_OK)
        goto out;
    json_object_foreach(latest, id, rec) {
        json_t *have = NULL;

        if (strlen(id) > AGENT_STORE_KEY_MAX)
            continue;
        err = agent_json_get(t, AGENT_T_OWN_DESIGNATIONS, id, &have);
        if (err != AGENT_STORE_OK && err != AGENT_STORE_ERR_NOT_FOUND && err != AGENT_STORE_ERR_INVALID)
            goto out;
        /* A record of the same message is there already: nothing to write. */
        if (err == AGENT_STORE_OK && json_equal(json_object_get(have, "message"),
                                                json_object_get(rec, "message"))) {
            json_decref(have);
            continue;
        }
        json_decref(have);
        if ((err = agent_json_put(t, AGENT_T_OWN_DESIGNATIONS, id, rec)) != AGENT_STORE_OK)
            goto out;
        recorded++;
    }
    if ((err = agent_store_commit(&t)) == AGENT_STORE_OK)
        *recorded_out = recorded;
out:
    if (rc == EX_OK && err != AGENT_STORE_OK) {
        cli_error(sub, "the agent's store of %s: %s", config_path, agent_store_strerror(err));
        rc = EX_IOERR;
    }
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    json_decref(latest);
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
        (rc = cli_agent_store_open(sub, cfg, &st)) != EX_OK)
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
