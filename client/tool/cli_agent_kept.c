/* What the agency's agent received, for the tool's commands that otherwise read the casebook. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"

const char *
cli_agent_config_env(void)
{
    const char *path = getenv("LIAISON_AGENT_CONFIG");

    return path != NULL && path[0] != '\0' ? path : NULL;
}

/* Opens the store of the agent configured at config, to read. */
static int
open_store(const char *sub, const char *config, agent_store **st_out)
{
    agent_config *cfg = NULL;
    int rc;

    if ((rc = cli_agent_config_load(sub, config, &cfg)) == EX_OK)
        rc = cli_agent_store_open(sub, cfg, false, st_out);
    agent_config_destroy(&cfg);
    return rc;
}

int
cli_agent_message(const char *sub, const char *config, const uint8_t id[16], json_t **meta_out)
{
    agent_store *st = NULL;
    agent_txn *t = NULL;
    agent_store_err err;
    int rc;

    *meta_out = NULL;
    if ((rc = open_store(sub, config, &st)) != EX_OK)
        return rc;
    if ((err = agent_store_begin(st, false, &t)) == AGENT_STORE_OK)
        err = agent_message_meta(t, id, meta_out);
    agent_store_abort(&t);
    agent_store_close(&st);
    if (err == AGENT_STORE_ERR_NOT_FOUND)
        return EX_DATAERR;
    if (err != AGENT_STORE_OK) {
        cli_error(sub, "agent store: %s", agent_store_strerror(err));
        return EX_IOERR;
    }
    return EX_OK;
}

static int
collect(void *arg, const uint8_t id[16], const json_t *meta)
{
    json_t *list = arg, *copy = json_deep_copy(meta);
    char hex[33];

    if (copy == NULL)
        return 1;
    proto_hex(id, 16, hex);
    json_object_set_new(copy, "id", json_string(hex));
    return json_array_append_new(list, copy) == 0 ? 0 : 1;
}

int
cli_agent_kept(const char *sub, const char *config, const char *kind, json_t **list_out)
{
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *list = json_array();
    agent_store_err err = AGENT_STORE_ERR_NOMEM;
    int rc;

    *list_out = NULL;
    if ((rc = open_store(sub, config, &st)) != EX_OK) {
        json_decref(list);
        return rc;
    }
    if (list != NULL && (err = agent_store_begin(st, false, &t)) == AGENT_STORE_OK)
        err = agent_kept_each_kind(t, kind, collect, list);
    agent_store_abort(&t);
    agent_store_close(&st);
    if (err != AGENT_STORE_OK) {
        json_decref(list);
        cli_error(sub, "agent store: %s", agent_store_strerror(err));
        return EX_IOERR;
    }
    *list_out = list;
    return EX_OK;
}
