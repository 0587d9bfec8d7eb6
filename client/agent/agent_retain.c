/* Retention in the agent's store: messages whose retention ended, and the records filed from them, are deleted and journalled. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "liaison_policy.h"

typedef struct retain_walk {
    const policy *pol;             /* the policy */
    uint64_t now;                  /* as of when */
    json_t *closed;                /* case ids closed by a kept mlat.status (object used as a set) */
    json_t *listed;                /* ids (hex) of the deletions found (object used as a set) */
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

/* The JSON metadata of a kept record (see agent_blob_put), or NULL. */
static json_t *
kept_meta(const uint8_t *v, size_t val_len, size_t *mlen_out)
{
    size_t mlen;

    if (val_len < 4)
        return NULL;
    mlen = ((size_t)v[0] << 24) | ((size_t)v[1] << 16) | ((size_t)v[2] << 8) | v[3];
    if (mlen > val_len - 4)
        return NULL;
    *mlen_out = mlen;
    return agent_json_load(v + 4, mlen);
}

/* Remembers the case of a kept mlat.status that closes it (closed or completed). */
static int
closing(void *ctx, const uint8_t id[16], const json_t *meta)
{
    retain_walk *w = ctx;
    const char *status = json_string_value(json_object_get(meta, "status"));
    const char *case_id = json_string_value(json_object_get(meta, "case"));

    (void)id;
    if (status != NULL && case_id != NULL && case_id[0] != '\0' &&
        strcmp(status, "closed") == 0 &&
        json_object_set_new(w->closed, case_id, json_true()) != 0)
        w->failed = true;
    return w->failed ? 1 : 0;
}

/*
 * Decides one message (described by meta: kind, from, labels, case) created
 * at created_ms: adds it to the deletions when its retention ended or its
 * case closed under a keep: case rule, and no hold covers it.
 */
static int
decide(retain_walk *w, const uint8_t id[16], const json_t *meta, uint64_t created_ms,
       const char *hash_hex)
{
    policy_retention_query q;
    policy_retention r;
    proto_labels labels;
    char kind[PROTO_KIND_MAX + 1], label_text[PROTO_LABELS_TEXT_MAX], case_id[PROTO_CASE_ID_MAX + 1];
    char hex[33];
    agent_deletion *d;

    text_of(meta, "kind", kind, sizeof(kind));
    text_of(meta, "labels", label_text, sizeof(label_text));
    text_of(meta, "case", case_id, sizeof(case_id));
    proto_hex(id, 16, hex);
    if (kind[0] == '\0' || json_object_get(w->listed, hex) != NULL)
        return 0;
    memset(&q, 0, sizeof(q));
    q.kind = kind;
    q.labels = proto_labels_parse(label_text, &labels, NULL) == PROTO_OK ? &labels : NULL;
    q.case_id = case_id;
    q.id = id;
    q.created_ms = created_ms;
    if (policy_retention_lookup(w->pol, &q, w->now, &r) != POLICY_OK || r.held)
        return 0;
    if (!r.ended && !(r.keep == POLICY_KEEP_CASE && case_id[0] != '\0' &&
                      json_object_get(w->closed, case_id) != NULL))
        return 0;
    if (w->count == w->cap) {
        size_t cap = w->cap == 0 ? 32 : w->cap * 2;
        agent_deletion *grown = realloc(w->d, cap * sizeof(*grown));

        if (grown == NULL) {
            w->failed = true;
            return 1;
        }
        w->d = grown;
        w->cap = cap;
    }
    if (json_object_set_new(w->listed, hex, json_true()) != 0) {
        w->failed = true;
        return 1;
    }
    d = &w->d[w->count++];
    memset(d, 0, sizeof(*d));
    snprintf(d->id, sizeof(d->id), "%s", hex);
    snprintf(d->kind, sizeof(d->kind), "%s", kind);
    text_of(meta, "from", d->counterpart, sizeof(d->counterpart));
    snprintf(d->case_id, sizeof(d->case_id), "%s", case_id);
    snprintf(d->envelope_hash, sizeof(d->envelope_hash), "%s", hash_hex);
    d->created_ms = created_ms;
    d->deleted_ms = w->now;
    snprintf(d->rule, sizeof(d->rule), "%s", r.rule);
    return 0;
}

/* Looks at one kept message: its JSON metadata, then its envelope.  Its
 * retention counts from its created time (from when it was received for
 * what was kept before the created time was). */
static int
look_kept(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    retain_walk *w = ctx;
    const uint8_t *v = val;
    uint8_t hash[PROTO_HASH_BYTES];
    char hash_hex[2 * PROTO_HASH_BYTES + 1], when[64];
    uint64_t created = 0;
    size_t mlen = 0;
    json_t *meta;
    int rc;

    if (key_len != 16 || (meta = kept_meta(v, val_len, &mlen)) == NULL)
        return 0;
    if (json_is_integer(json_object_get(meta, "created_ms"))) {
        created = (uint64_t)json_integer_value(json_object_get(meta, "created_ms"));
    } else {
        text_of(meta, "received", when, sizeof(when));
        if (!proto_time_parse(when, &created)) {
            json_decref(meta);
            return 0;
        }
    }
    proto_sha256(v + 4 + mlen, val_len - 4 - mlen, hash);
    proto_hex(hash, PROTO_HASH_BYTES, hash_hex);
    rc = decide(w, key, meta, created, hash_hex);
    json_decref(meta);
    return rc;
}

/* Looks at one message that records were filed from (the filed index). */
static int
look_filed(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    retain_walk *w = ctx;
    json_t *meta;
    char hash_hex[2 * PROTO_HASH_BYTES + 1];
    int rc;

    if (key_len != 16 || (meta = agent_json_load(val, val_len)) == NULL)
        return 0;
    text_of(meta, "envelope_hash", hash_hex, sizeof(hash_hex));
    rc = decide(w, key, meta,
                (uint64_t)json_integer_value(json_object_get(meta, "created_ms")), hash_hex);
    json_decref(meta);
    return rc;
}

/*
 * Looks at a message known only by a record filed from it (an older agent
 * filed it before the filed table): its labels are not known, so it is
 * decided only when the first rule for its kind requires no marking (the
 * rule the labels could not change); otherwise it is kept.
 */
static int
look_unindexed(void *ctx, const uint8_t id[16], const json_t *meta)
{
    retain_walk *w = ctx;
    const char *kind = json_string_value(json_object_get(meta, "kind"));
    policy_retention_info ri;

    for (size_t i = 0; policy_retention_at(w->pol, i, &ri); i++) {
        char kinds[sizeof(ri.kinds)], *save = NULL;
        bool hit = false;

        snprintf(kinds, sizeof(kinds), "%s", ri.kinds);
        for (char *k = strtok_r(kinds, ", ", &save); k != NULL && !hit;
             k = strtok_r(NULL, ", ", &save))
            hit = proto_kind_matches(k, kind);
        if (hit && ri.require[0] != '\0')
            return 0;
        if (hit)
            break;
    }
    return decide(w, id, meta, (uint64_t)json_integer_value(json_object_get(meta, "created_ms")),
                  "");
}

/* Deletes what d names: the records filed from it, its index entry and the
 * message as kept (either may be absent); notes the records in d. */
static agent_store_err
delete_one(agent_txn *t, agent_deletion *d, bool remove)
{
    uint8_t id[16];
    json_t *refs = json_array();
    size_t found = 0, used = 0, i;
    json_t *x;
    agent_store_err err;

    if (refs == NULL)
        return AGENT_STORE_ERR_NOMEM;
    if (proto_unhex(d->id, id, 16) != PROTO_OK) {
        json_decref(refs);
        return AGENT_STORE_ERR_INVALID;
    }
    err = agent_records_of_message(t, d->id, d->counterpart, NULL, remove, refs, &found, NULL);
    if (err == AGENT_STORE_OK && remove) {
        if ((err = agent_store_del(t, AGENT_T_KEPT, id, 16)) == AGENT_STORE_ERR_NOT_FOUND)
            err = AGENT_STORE_OK;
        if (err == AGENT_STORE_OK &&
            (err = agent_store_del(t, AGENT_T_FILED, id, 16)) == AGENT_STORE_ERR_NOT_FOUND)
            err = AGENT_STORE_OK;
    }
    d->record_count = found;
    d->records[0] = '\0';
    json_array_foreach(refs, i, x) {
        const char *ref = json_string_value(x);
        size_t n = strlen(ref) + (used > 0 ? 1 : 0);

        if (used + n + 4 >= sizeof(d->records)) {
            snprintf(d->records + used, sizeof(d->records) - used, "%s...", used > 0 ? " " : "");
            break;
        }
        used += (size_t)snprintf(d->records + used, sizeof(d->records) - used, "%s%s",
                                 used > 0 ? " " : "", ref);
    }
    json_decref(refs);
    return err;
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
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s}", "id", d->id, "kind",
                  d->kind, "counterpart", d->counterpart, "case", d->case_id, "envelope_hash",
                  d->envelope_hash, "created_ms", (json_int_t)d->created_ms, "deleted_ms",
                  (json_int_t)d->deleted_ms, "rule", d->rule, "record_count",
                  (json_int_t)d->record_count, "records", d->records);
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
    w.closed = json_object();
    w.listed = json_object();
    if (w.closed == NULL || w.listed == NULL)
        err = AGENT_STORE_ERR_NOMEM;
    else
        err = agent_store_begin(st, !dry_run, &t);
    if (err != AGENT_STORE_OK) {
        json_decref(w.closed);
        json_decref(w.listed);
        return err;
    }
    err = agent_kept_each_kind(t, "mlat.status", closing, &w);
    if (err == AGENT_STORE_OK && !w.failed)
        err = agent_store_each(t, AGENT_T_KEPT, NULL, look_kept, &w);
    if (err == AGENT_STORE_OK && !w.failed)
        err = agent_store_each(t, AGENT_T_FILED, NULL, look_filed, &w);
    if (err == AGENT_STORE_OK && !w.failed)
        err = agent_records_unindexed_each(t, look_unindexed, &w);
    if (err == AGENT_STORE_OK && w.failed)
        err = AGENT_STORE_ERR_NOMEM;
    for (size_t i = 0; err == AGENT_STORE_OK && i < w.count; i++) {
        if ((err = delete_one(t, &w.d[i], !dry_run)) == AGENT_STORE_OK && !dry_run)
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
            PROTO_LOG(PROTO_LOG_INFO, "A-DELETED", "message=%s kind=%s from=%s rule=%s records=%zu",
                      w.d[i].id, w.d[i].kind, w.d[i].counterpart, w.d[i].rule,
                      w.d[i].record_count);
    }
    json_decref(w.closed);
    json_decref(w.listed);
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
    text_of(o, "records", d.records, sizeof(d.records));
    d.record_count = (size_t)json_integer_value(json_object_get(o, "record_count"));
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
