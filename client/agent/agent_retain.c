/* Retention in the agent's store: kept messages whose retention ended are deleted and journalled. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "liaison_policy.h"

typedef struct retain_walk {
    const policy *pol;             /* the policy */
    uint64_t now;                  /* as of when */
    agent_deletion *d;             /* deletions found */
    size_t count;                  /* entries in d */
    size_t cap;                    /* allocated */
    bool failed;                   /* out of memory */
} retain_walk;

static void
text_of(const json_t *meta, const char *key, char *out, size_t cap)
{
    const char *t = json_string_value(json_object_get(meta, key));

    snprintf(out, cap, "%s", t != NULL ? t : "");
}

/* Looks at one kept message: its JSON metadata, then its envelope. */
static int
look(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    retain_walk *w = ctx;
    const uint8_t *v = val;
    policy_retention_query q;
    policy_retention r;
    proto_labels labels;
    char kind[PROTO_KIND_MAX + 1], label_text[PROTO_LABELS_TEXT_MAX], case_id[PROTO_CASE_ID_MAX + 1];
    char when[64];
    uint8_t hash[PROTO_HASH_BYTES];
    uint64_t received = 0;
    size_t mlen;
    json_t *meta;
    agent_deletion *d;

    if (key_len != 16 || val_len < 4)
        return 0;
    mlen = ((size_t)v[0] << 24) | ((size_t)v[1] << 16) | ((size_t)v[2] << 8) | v[3];
    if (mlen > val_len - 4 || (meta = agent_json_load(v + 4, mlen)) == NULL)
        return 0;
    text_of(meta, "kind", kind, sizeof(kind));
    text_of(meta, "labels", label_text, sizeof(label_text));
    text_of(meta, "case", case_id, sizeof(case_id));
    text_of(meta, "received", when, sizeof(when));
    if (kind[0] == '\0' || !proto_time_parse(when, &received)) {
        json_decref(meta);
        return 0;
    }
    memset(&q, 0, sizeof(q));
    q.kind = kind;
    q.labels = proto_labels_parse(label_text, &labels, NULL) == PROTO_OK ? &labels : NULL;
    q.case_id = case_id;
    q.id = key;
    q.created_ms = received;
    if (policy_retention_lookup(w->pol, &q, w->now, &r) != POLICY_OK || !r.ended || r.held) {
        json_decref(meta);
        return 0;
    }
    if (w->count == w->cap) {
        size_t cap = w->cap == 0 ? 32 : w->cap * 2;
        agent_deletion *grown = realloc(w->d, cap * sizeof(*grown));

        if (grown == NULL) {
            json_decref(meta);
            w->failed = true;
            return 1;
        }
        w->d = grown;
        w->cap = cap;
    }
    d = &w->d[w->count++];
    memset(d, 0, sizeof(*d));
    proto_hex(key, 16, d->id);
    snprintf(d->kind, sizeof(d->kind), "%s", kind);
    text_of(meta, "from", d->counterpart, sizeof(d->counterpart));
    snprintf(d->case_id, sizeof(d->case_id), "%s", case_id);
    proto_sha256(v + 4 + mlen, val_len - 4 - mlen, hash);
    proto_hex(hash, PROTO_HASH_BYTES, d->envelope_hash);
    d->created_ms = received;
    d->deleted_ms = w->now;
    snprintf(d->rule, sizeof(d->rule), "%s", r.rule);
    json_decref(meta);
    return 0;
}

static agent_store_err
journal_put(agent_txn *t, const agent_deletion *d)
{
    uint8_t key[8 + 16];
    json_t *o;
    char *text;
    agent_store_err err;

    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(d->deleted_ms >> (56 - 8 * i));
    if (proto_unhex(d->id, key + 8, 16) != PROTO_OK)
        return AGENT_STORE_ERR_INVALID;
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id", d->id, "kind", d->kind,
                  "counterpart", d->counterpart, "case", d->case_id, "envelope_hash",
                  d->envelope_hash, "created_ms", (json_int_t)d->created_ms, "deleted_ms",
                  (json_int_t)d->deleted_ms, "rule", d->rule);
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return AGENT_STORE_ERR_NOMEM;
    err = agent_store_put(t, AGENT_T_JOURNAL, key, sizeof(key), text, strlen(text));
    free(text);
    return err;
}

agent_store_err
agent_retention_sweep(agent_store *st, const policy *pol, uint64_t now_ms, bool dry_run,
                      agent_deleted_fn report, void *arg, size_t *count_out)
{
    retain_walk w;
    agent_txn *t = NULL;
    agent_store_err err;

    memset(&w, 0, sizeof(w));
    w.pol = pol;
    w.now = now_ms;
    if ((err = agent_store_begin(st, !dry_run, &t)) != AGENT_STORE_OK)
        return err;
    err = agent_store_each(t, AGENT_T_KEPT, NULL, look, &w);
    if (err == AGENT_STORE_OK && w.failed)
        err = AGENT_STORE_ERR_NOMEM;
    for (size_t i = 0; err == AGENT_STORE_OK && !dry_run && i < w.count; i++) {
        uint8_t id[16];

        if (proto_unhex(w.d[i].id, id, 16) != PROTO_OK)
            err = AGENT_STORE_ERR_INVALID;
        else if ((err = agent_store_del(t, AGENT_T_KEPT, id, 16)) == AGENT_STORE_OK)
            err = journal_put(t, &w.d[i]);
    }
    if (err == AGENT_STORE_OK && !dry_run)
        err = agent_store_commit(&t);
    agent_store_abort(&t);
    if (err == AGENT_STORE_OK) {
        for (size_t i = 0; report != NULL && i < w.count; i++)
            report(arg, &w.d[i]);
        if (count_out != NULL)
            *count_out = w.count;
        for (size_t i = 0; !dry_run && i < w.count; i++)
            PROTO_LOG(PROTO_LOG_INFO, "A-DELETED", "message=%s kind=%s from=%s rule=%s",
                      w.d[i].id, w.d[i].kind, w.d[i].counterpart, w.d[i].rule);
    }
    free(w.d);
    return err;
}

typedef struct journal_walk {
    agent_deleted_fn fn;   /* the caller's */
    void *arg;             /* passed to it */
} journal_walk;

static int
journal_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    journal_walk *j = ctx;
    json_t *o = agent_json_load(val, val_len);
    agent_deletion d;

    (void)key;
    (void)key_len;
    if (o == NULL)
        return 0;
    memset(&d, 0, sizeof(d));
    text_of(o, "id", d.id, sizeof(d.id));
    text_of(o, "kind", d.kind, sizeof(d.kind));
    text_of(o, "counterpart", d.counterpart, sizeof(d.counterpart));
    text_of(o, "case", d.case_id, sizeof(d.case_id));
    text_of(o, "envelope_hash", d.envelope_hash, sizeof(d.envelope_hash));
    text_of(o, "rule", d.rule, sizeof(d.rule));
    d.created_ms = (uint64_t)json_integer_value(json_object_get(o, "created_ms"));
    d.deleted_ms = (uint64_t)json_integer_value(json_object_get(o, "deleted_ms"));
    json_decref(o);
    j->fn(j->arg, &d);
    return 0;
}

agent_store_err
agent_journal_each(agent_store *st, agent_deleted_fn fn, void *arg)
{
    journal_walk j = {fn, arg};
    agent_txn *t = NULL;
    agent_store_err err;

    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK)
        return err;
    err = agent_store_each(t, AGENT_T_JOURNAL, NULL, journal_one, &j);
    agent_store_abort(&t);
    return err;
}
