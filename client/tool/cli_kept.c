/* Messages an agency's agent kept without acting on them, filed into the tool's casebook. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

/* The ids of every message the agent kept. */
typedef struct kept_ids {
    uint8_t (*ids)[16];
    size_t count;
    size_t cap;
} kept_ids;

static int
collect(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    kept_ids *k = ctx;

    (void)val;
    (void)val_len;
    if (key_len != 16)
        return 0;
    if (k->count == k->cap) {
        size_t cap = k->cap == 0 ? 16 : 2 * k->cap;
        uint8_t(*grown)[16] = realloc(k->ids, cap * sizeof(*grown));

        if (grown == NULL)
            return -1;
        k->ids = grown;
        k->cap = cap;
    }
    memcpy(k->ids[k->count++], key, 16);
    return 0;
}

/* Verifies and opens one kept envelope, and files it as received.  False,
 * with why, if it does not verify or open (it is left where it is). */
static bool
file_one(casebook *cb, const proto_roster *roster, const proto_identity *me, const uint8_t *raw,
         size_t raw_len, char *why, size_t why_len)
{
    proto_envelope env;
    proto_detail d = {{0}, {0}};
    const proto_roster_entry *sender;
    casebook_entry ce;
    uint8_t *plain = NULL;
    size_t n = 0;
    bool ok = false;

    if (proto_envelope_decode(raw, raw_len, &env, &d) != PROTO_OK) {
        snprintf(why, why_len, "does not decode: %.40s: %.100s", d.field, d.text);
        return false;
    }
    sender = proto_roster_find(roster, &env.sender);
    if (sender == NULL || proto_envelope_verify(&env, sender->card.sign_public) != PROTO_OK) {
        snprintf(why, why_len, "its sender's signature does not verify with the roster");
        return false;
    }
    memset(&ce, 0, sizeof(ce));
    if (env.portion_count > 0) {
        n = proto_envelope_plain_len(&env, 0);
        plain = malloc(n + 1);
        if (plain == NULL || proto_envelope_open(&env, 0, me, plain, &n) != PROTO_OK) {
            snprintf(why, why_len, "portion 0 does not open with this agency's key");
            goto out;
        }
        plain[n] = '\0';
        ce.body = (char *)plain;
    }
    ce.sent = false;
    memcpy(ce.id, env.id, 16);
    snprintf(ce.kind, sizeof(ce.kind), "%s", env.kind);
    proto_addr_format(&env.sender, ce.peer, sizeof(ce.peer));
    snprintf(ce.case_id, sizeof(ce.case_id), "%s", env.case_id);
    memcpy(ce.in_reply_to, env.in_reply_to, 16);
    ce.has_reply_to = !proto_id_is_zero(env.in_reply_to);
    if (proto_labels_format(&env.labels, ce.labels, sizeof(ce.labels)) != PROTO_OK)
        ce.labels[0] = '\0';
    ce.time_ms = liaison_now_ms();
    ce.created_ms = env.created_ms;
    ce.raw = (uint8_t *)(uintptr_t)raw;
    ce.raw_len = raw_len;
    ok = casebook_put(cb, &ce) == CASEBOOK_OK;
    if (!ok)
        snprintf(why, why_len, "the casebook did not take it");
out:
    if (plain != NULL) {
        proto_wipe(plain, n);
        free(plain);
    }
    return ok;
}

int
cli_agent_kept_file(const char *sub, const cli_conn *conn, const char *config_path, casebook *cb,
                    const char *prefix)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    proto_roster *roster = NULL;
    proto_identity *me = NULL;
    proto_detail d = {{0}, {0}};
    kept_ids k = {NULL, 0, 0};
    int rc;

    if (config_path == NULL || config_path[0] == '\0')
        return EX_OK;
    if ((rc = cli_agent_config_load(sub, config_path, &cfg)) != EX_OK)
        return rc;
    if ((rc = cli_agent_store_open(sub, cfg, false, &st)) != EX_OK)
        goto out;
    rc = EX_DATAERR;
    if (conn->key == NULL || proto_keyfile_read(conn->key, &me, &d) != PROTO_OK ||
        conn->roster == NULL || proto_roster_load(conn->roster, &roster, &d) != PROTO_OK) {
        cli_error(sub, "the agent's messages need the agency's key and the roster: %s",
                  d.text[0] != '\0' ? d.text : "--key and --roster (or LIAISON_KEY, LIAISON_ROSTER)");
        goto out;
    }
    rc = EX_SOFTWARE;
    if (agent_store_begin(st, false, &t) != AGENT_STORE_OK ||
        agent_store_each(t, AGENT_T_KEPT, NULL, collect, &k) != AGENT_STORE_OK) {
        cli_error(sub, "cannot read the messages the agent kept (%s)", cfg->store);
        goto out;
    }
    for (size_t i = 0; i < k.count; i++) {
        json_t *meta = NULL;
        const uint8_t *raw;
        size_t raw_len;
        char why[160], hex[33];

        const char *kind;
        bool wanted;

        if (agent_blob_get(t, AGENT_T_KEPT, k.ids[i], 16, &meta, &raw, &raw_len) != AGENT_STORE_OK)
            continue;
        kind = json_string_value(json_object_get(meta, "kind"));
        wanted = kind != NULL && strncmp(kind, prefix, strlen(prefix)) == 0;
        json_decref(meta);
        if (wanted && !file_one(cb, roster, me, raw, raw_len, why, sizeof(why)))
            fprintf(stderr, "liaison: %s: message %s kept by the agent %s; not filed\n", sub,
                    proto_hex(k.ids[i], 16, hex), why);
    }
    rc = EX_OK;
out:
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    proto_roster_destroy(&roster);
    proto_identity_destroy(&me);
    free(k.ids);
    return rc;
}
