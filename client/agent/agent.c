/* The liaison agent's daemon: receives for an agency, answers and acknowledges by kind, keeps what must last. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "liaison_policy.h"
#include "match.h"
#include "screen.h"

/*
 * Each message is handled in the same order of steps: what must be durable
 * is written to the agent store, an answer is sealed and kept in the
 * outbox before it is submitted, and only once the broker has accepted
 * (or refused) it is the incoming message receipted.  A message delivered
 * again after a crash finds its answer in the outbox and the same sealed
 * envelope is submitted again; the broker accepts a resubmitted id once
 * and stores nothing twice, so no query is ever answered twice.
 */

#define RECEIVE_WAIT_MS 500u   /* longest wait for an event before looking at the store */
#define SEND_WAIT_MS 5000u     /* longest wait for the broker to accept an answer */
#define RETRY_MS 1000u         /* pause before an answer the broker did not take is tried again */
#define IMPLEMENT_POLL_MS 500u /* how often implement requests are looked for */
#define KEPT_BODY_MAX 16384u   /* largest portion 0 kept in a kept message's metadata */
#define RETAIN_EVERY_MS 3600000u /* how often retention runs (and once at start) */

/* What became of a message or an outbox entry. */
typedef enum outcome {
    OUTCOME_DONE = 0,      /* handled (answered, kept, or refused for good): receipt it */
    OUTCOME_RETRY = 1,     /* the broker or the store was not reachable: try again later */
} outcome;

/* The running agent. */
typedef struct agent {
    const agent_config *cfg;                 /* its configuration (borrowed) */
    agent_store *st;                         /* its store */
    liaison_client *c;                       /* its connection */
    char address[PROTO_ADDR_TEXT_MAX + 1];   /* the agency it acts for */
    char nation[PROTO_NATION_LEN + 1];       /* that agency's nation */
    liaison_event *held;                     /* an event whose answer waits for the broker */
    uint64_t retry_ms;                       /* when held is tried again */
    uint64_t next_implement_ms;              /* when implement requests are looked at next */
    policy *pol;                             /* the policy whose retention applies, or NULL */
    uint64_t next_retain_ms;                 /* when retention runs next */
    bool refused;                            /* the broker refused its key: stopped */
} agent;

/* The answer a builder makes. */
typedef struct reply {
    const char *kind;                        /* its kind */
    json_t *body;                            /* portion 0 */
    char *extra;                             /* portion 1 (the details of an entry), or NULL */
    char extra_labels[PROTO_LABELS_TEXT_MAX]; /* labels of portion 1 ("" = the message's) */
} reply;

/* Makes the answer to message in (portion 0 parsed as in_json); false: not now (store). */
typedef bool (*reply_fn)(agent *a, const liaison_event *e, const json_t *in, reply *out);

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- Labels and messages --------------------------------------------------------- */

/*
 * The labels of an answer to `to`: answer_labels from the configuration, or
 * "LES//REL TO <to's nation>,<own nation>"; the request's legal basis and
 * offence categories are carried over, as release policies check them on
 * the way back (an MLAT answer travels under the request's treaty).
 */
static bool
answer_labels(agent *a, const char *to, const char *request_labels, char *out, size_t out_len)
{
    proto_labels l, in;
    char base[PROTO_LABELS_TEXT_MAX];

    if (a->cfg->answer_labels != NULL)
        snprintf(base, sizeof(base), "%s", a->cfg->answer_labels);
    else if (strncmp(to, a->nation, PROTO_NATION_LEN) == 0)
        snprintf(base, sizeof(base), "LES//REL TO %s", a->nation);
    else
        snprintf(base, sizeof(base), "LES//REL TO %.3s,%s", to, a->nation);
    if (proto_labels_parse(base, &l, NULL) != PROTO_OK)
        return false;
    if (request_labels != NULL && proto_labels_parse(request_labels, &in, NULL) == PROTO_OK) {
        if (l.basis[0] == '\0')
            memcpy(l.basis, in.basis, sizeof(l.basis));
        if (l.offence_count == 0) {
            l.offence_count = in.offence_count;
            memcpy(l.offences, in.offences, sizeof(l.offences));
        }
    }
    return proto_labels_format(&l, out, out_len) == PROTO_OK;
}

/* A message to `to` in reply to in_reply_to (may be NULL), with portion 0
 * the JSON body and portion 1 extra (may be NULL).  NULL on failure. */
static liaison_message *
make_message(agent *a, const char *kind, const char *to, const uint8_t *in_reply_to,
             const char *case_id, const char *request_labels, const json_t *body,
             const char *extra, const char *extra_labels)
{
    liaison_message *m = NULL;
    char labels[PROTO_LABELS_TEXT_MAX];
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6));
    bool ok;

    ok = text != NULL && answer_labels(a, to, request_labels, labels, sizeof(labels)) &&
         liaison_message_new(kind, &m) == LIAISON_OK &&
         liaison_message_add_recipient(m, to) == LIAISON_OK &&
         liaison_message_set_labels(m, labels) == LIAISON_OK &&
         (case_id == NULL || case_id[0] == '\0' ||
          liaison_message_set_case(m, case_id) == LIAISON_OK) &&
         (in_reply_to == NULL || liaison_message_set_in_reply_to(m, in_reply_to) == LIAISON_OK) &&
         liaison_message_add_portion(m, labels, text, strlen(text), NULL) == LIAISON_OK &&
         (extra == NULL ||
          liaison_message_add_portion(m, extra_labels != NULL && extra_labels[0] ? extra_labels
                                                                                  : labels,
                                      extra, strlen(extra), NULL) == LIAISON_OK);
    free(text);
    if (!ok)
        liaison_message_destroy(&m);
    return m;
}

/* ---- The outbox ------------------------------------------------------------------------ */

static void
outbox_key(const uint8_t id[16], uint8_t role, uint8_t key[AGENT_OUTBOX_KEY_BYTES])
{
    memcpy(key, id, 16);
    key[16] = role;
}

/* Records the final state of an outbox entry (the envelope is no longer needed). */
static void
outbox_settle(agent *a, const uint8_t key[AGENT_OUTBOX_KEY_BYTES], json_t *meta,
              const char *state, const char *reason)
{
    agent_txn *t = NULL;
    char now[32];
    agent_store_err err;

    json_object_set_new(meta, "state", json_string(state));
    json_object_set_new(meta, "settled", json_string(proto_time_format(liaison_now_ms(), now)));
    if (reason != NULL)
        json_object_set_new(meta, "reason", json_string(reason));
    err = agent_store_begin(a->st, true, &t);
    if (err == AGENT_STORE_OK)
        err = agent_blob_put(t, AGENT_T_OUTBOX, key, AGENT_OUTBOX_KEY_BYTES, meta, NULL, 0);
    if (err == AGENT_STORE_OK)
        err = agent_store_commit(&t);
    agent_store_abort(&t);
    /* Not fatal: a resubmission of the kept envelope is accepted without effect. */
    if (err != AGENT_STORE_OK)
        PROTO_LOG(PROTO_LOG_WARN, "A-STORE", "table=outbox op=settle error=\"%s\"",
                  agent_store_strerror(err));
}

/* The result of sending through the outbox. */
typedef enum sent {
    SENT_ACCEPTED = 0,   /* the broker accepted it (now or before) */
    SENT_REJECTED = 1,   /* the broker refused it for good, or it cannot be made */
    SENT_RETRY = 2,      /* not now: the broker or the store is not reachable */
} sent;

/*
 * Submits the message kept under key, or, when none is kept, takes *fresh
 * (made by the caller; may be NULL when it cannot be made), seals it, keeps
 * it and submits it.  reason receives the rejection.
 */
static sent
outbox_send(agent *a, const uint8_t key[AGENT_OUTBOX_KEY_BYTES], liaison_message **fresh,
            const char *what, char *reason, size_t reason_len)
{
    agent_txn *t = NULL;
    json_t *meta = NULL;
    const uint8_t *env = NULL;
    size_t env_len = 0;
    liaison_message *m = NULL;
    uint8_t id[16];
    char hex[33], now[32];
    agent_store_err err;
    liaison_err lerr;
    sent result = SENT_RETRY;

    reason[0] = '\0';
    if ((err = agent_store_begin(a->st, false, &t)) != AGENT_STORE_OK)
        goto out;
    err = agent_blob_get(t, AGENT_T_OUTBOX, key, AGENT_OUTBOX_KEY_BYTES, &meta, &env, &env_len);
    if (err == AGENT_STORE_OK) {
        const char *state = json_string_value(json_object_get(meta, "state"));
        const char *why = json_string_value(json_object_get(meta, "reason"));

        if (state != NULL && strcmp(state, "accepted") == 0) {
            result = SENT_ACCEPTED;
            goto out;
        }
        if (state != NULL && strcmp(state, "rejected") == 0) {
            snprintf(reason, reason_len, "%s", why != NULL ? why : "rejected");
            result = SENT_REJECTED;
            goto out;
        }
        if (liaison_message_from_envelope(env, env_len, &m, id) != LIAISON_OK) {
            snprintf(reason, reason_len, "the kept envelope does not decode");
            result = SENT_REJECTED;
            goto out;
        }
        agent_store_abort(&t);
        liaison_id_to_hex(id, hex);
        PROTO_LOG(PROTO_LOG_INFO, "A-RESEND", "what=%s message=%s", what, hex);
    } else if (err == AGENT_STORE_ERR_NOT_FOUND) {
        const uint8_t *sealed;
        size_t sealed_len;

        err = AGENT_STORE_OK;
        agent_store_abort(&t);
        if (fresh == NULL || *fresh == NULL) {
            snprintf(reason, reason_len, "the answer cannot be composed");
            result = SENT_REJECTED;
            goto out;
        }
        m = *fresh;
        *fresh = NULL;
        if (liaison_message_seal(a->c, m, id) != LIAISON_OK ||
            liaison_message_envelope(m, &sealed, &sealed_len) != LIAISON_OK) {
            snprintf(reason, reason_len, "cannot seal: %s", liaison_client_error(a->c));
            result = SENT_REJECTED;
            goto out;
        }
        liaison_id_to_hex(id, hex);
        meta = json_object();
        json_object_set_new(meta, "message", json_string(hex));
        json_object_set_new(meta, "what", json_string(what));
        json_object_set_new(meta, "state", json_string("sealed"));
        json_object_set_new(meta, "sealed", json_string(proto_time_format(liaison_now_ms(), now)));
        if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK ||
            (err = agent_blob_put(t, AGENT_T_OUTBOX, key, AGENT_OUTBOX_KEY_BYTES, meta, sealed,
                                  sealed_len)) != AGENT_STORE_OK ||
            (err = agent_store_commit(&t)) != AGENT_STORE_OK)
            goto out;
    } else {
        goto out;
    }
    lerr = liaison_send(a->c, m, NULL, liaison_now_ms() + SEND_WAIT_MS);
    if (lerr == LIAISON_OK) {
        PROTO_LOG(PROTO_LOG_INFO, "A-SENT", "what=%s message=%s", what, hex);
        outbox_settle(a, key, meta, "accepted", NULL);
        result = SENT_ACCEPTED;
    } else if (lerr == LIAISON_ERR_REJECTED) {
        snprintf(reason, reason_len, "%s", liaison_client_error(a->c));
        PROTO_LOG(PROTO_LOG_WARN, "A-REJECTED", "what=%s message=%s reason=\"%s\"", what, hex,
                  reason);
        outbox_settle(a, key, meta, "rejected", reason);
        result = SENT_REJECTED;
    } else {
        snprintf(reason, reason_len, "%s", liaison_client_error(a->c));
        PROTO_LOG(PROTO_LOG_WARN, "A-RETRY", "what=%s message=%s reason=\"%s\"", what, hex, reason);
        result = SENT_RETRY;
    }
out:
    if (err != AGENT_STORE_OK) {
        snprintf(reason, reason_len, "agent store: %s", agent_store_strerror(err));
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "what=%s error=\"%s\"", what,
                  agent_store_strerror(err));
        result = SENT_RETRY;
    }
    agent_store_abort(&t);
    json_decref(meta);
    liaison_message_destroy(&m);
    return result;
}

/* ---- Keeping messages as received -------------------------------------------------- */

/*
 * Logs a store failure while handling e.  The message is tried again later;
 * but what was only to be kept is given up when the store is full, as
 * holding it would stop every delivery behind it.
 */
static outcome
store_failure(const liaison_event *e, const char *op, agent_store_err err, bool only_kept)
{
    PROTO_LOG(PROTO_LOG_ERROR, err == AGENT_STORE_ERR_FULL ? "A-STORE-FULL" : "A-STORE",
              "message=%s op=%s error=\"%s\"", e->id_hex, op, agent_store_strerror(err));
    return only_kept && err == AGENT_STORE_ERR_FULL ? OUTCOME_DONE : OUTCOME_RETRY;
}

/* The kinds kept with their portion 0 in their metadata. */
static bool
keeps_body(const char *kind)
{
    static const char *const kinds[] = {"mlat.status", "consent.request", "consent.grant",
                                        "consent.deny", "recall.ack"};

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kind, kinds[i]) == 0)
            return true;
    }
    return false;
}

/* Keeps e (its summary and its signed envelope) in the kept table. */
static outcome
keep(agent *a, const liaison_event *e, const char *reason)
{
    agent_txn *t = NULL;
    json_t *meta = json_object();
    char now[32], hex[33];
    agent_store_err err;

    json_object_set_new(meta, "kind", json_string(e->kind));
    json_object_set_new(meta, "from", json_string(e->sender));
    json_object_set_new(meta, "message", json_string(e->id_hex));
    json_object_set_new(meta, "labels", json_string(e->labels));
    json_object_set_new(meta, "received", json_string(proto_time_format(liaison_now_ms(), now)));
    json_object_set_new(meta, "reason", json_string(reason));
    json_object_set_new(meta, "created_ms", json_integer((json_int_t)e->created_ms));
    /* Kinds kept with their portion 0, which the tool's commands read here
     * when the agency runs an agent: a closed case ends keep: case; consent
     * answers and recall acknowledgements are shown and used from it. */
    if (keeps_body(e->kind) && e->portion_count > 0 && e->portions[0].readable &&
        e->portions[0].len <= KEPT_BODY_MAX) {
        json_t *in = json_loadb((const char *)e->portions[0].data, e->portions[0].len,
                                JSON_REJECT_DUPLICATES, NULL);
        const char *status = json_string_value(json_object_get(in, "status"));

        if (json_is_object(in)) {
            if (status != NULL && strlen(status) <= 64)
                json_object_set_new(meta, "status", json_string(status));
            json_object_set_new(meta, "body", in);
        } else {
            json_decref(in);
        }
    }
    if (e->case_id[0] != '\0')
        json_object_set_new(meta, "case", json_string(e->case_id));
    if (e->has_reply_to) {
        liaison_id_to_hex(e->in_reply_to, hex);
        json_object_set_new(meta, "in_reply_to", json_string(hex));
    }
    err = agent_store_begin(a->st, true, &t);
    if (err == AGENT_STORE_OK)
        err = agent_blob_put(t, AGENT_T_KEPT, e->id, 16, meta, e->raw, e->raw_len);
    if (err == AGENT_STORE_OK)
        err = agent_store_commit(&t);
    agent_store_abort(&t);
    json_decref(meta);
    if (err != AGENT_STORE_OK)
        return store_failure(e, "keep", err, true);
    PROTO_LOG(PROTO_LOG_INFO, "A-KEPT", "message=%s kind=%s from=%s reason=\"%s\"", e->id_hex,
              e->kind, e->sender, reason);
    return OUTCOME_DONE;
}

/* ---- Answers ----------------------------------------------------------------------------- */

static void
reply_clear(reply *r)
{
    json_decref(r->body);
    free(r->extra);
    memset(r, 0, sizeof(*r));
}

/* Answers e once: the answer kept in the outbox, or a new one from build. */
static outcome
respond(agent *a, const liaison_event *e, const json_t *in, reply_fn build)
{
    uint8_t key[AGENT_OUTBOX_KEY_BYTES];
    liaison_message *m = NULL;
    agent_txn *t = NULL;
    const void *val;
    size_t len;
    reply r;
    char reason[600], what[128];
    bool kept;
    sent s;

    outbox_key(e->id, AGENT_ROLE_ANSWER, key);
    memset(&r, 0, sizeof(r));
    /* An answer made before (a restart before the receipt) is sent as it was. */
    if (agent_store_begin(a->st, false, &t) != AGENT_STORE_OK)
        return OUTCOME_RETRY;
    kept = agent_store_get(t, AGENT_T_OUTBOX, key, sizeof(key), &val, &len) == AGENT_STORE_OK;
    agent_store_abort(&t);
    if (!kept) {
        if (!build(a, e, in, &r))
            return OUTCOME_RETRY;
        m = make_message(a, r.kind, e->sender, e->id, e->case_id, e->labels, r.body, r.extra,
                         r.extra_labels);
    }
    snprintf(what, sizeof(what), "%s to %s for %.32s", r.kind != NULL ? r.kind : "answer",
             e->sender, e->id_hex);
    s = outbox_send(a, key, &m, what, reason, sizeof(reason));
    liaison_message_destroy(&m);
    reply_clear(&r);
    if (s == SENT_RETRY)
        return OUTCOME_RETRY;
    if (s == SENT_REJECTED)
        PROTO_LOG(PROTO_LOG_WARN, "A-UNANSWERED", "message=%s kind=%s from=%s reason=\"%s\"",
                  e->id_hex, e->kind, e->sender, reason);
    return OUTCOME_DONE;
}

static bool
build_watchlist_answer(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    agent_txn *t = NULL;
    json_t *hits = NULL;
    agent_store_err err;

    (void)e;
    if ((err = agent_store_begin(a->st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_lookup_subject(t, json_object_get(in, "subject"), a->cfg->name_threshold,
                                    AGENT_SCOPE_OWN, false, &hits)) != AGENT_STORE_OK) {
        agent_store_abort(&t);
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "op=lookup error=\"%s\"", agent_store_strerror(err));
        return false;
    }
    agent_store_abort(&t);
    out->kind = "watchlist.answer";
    out->body = json_pack("{s:s, s:s, s:o}", "schema", "watchlist.answer/1", "result",
                          json_array_size(hits) > 0 ? "hit" : "no-hit", "hits", hits);
    return out->body != NULL;
}

static bool
build_traveldoc_answer(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    agent_txn *t = NULL;
    json_t *hits = NULL;
    agent_store_err err;

    (void)e;
    if ((err = agent_store_begin(a->st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_lookup_document(t, json_object_get(in, "document"), AGENT_SCOPE_OWN, false,
                                     &hits)) != AGENT_STORE_OK) {
        agent_store_abort(&t);
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "op=lookup error=\"%s\"", agent_store_strerror(err));
        return false;
    }
    agent_store_abort(&t);
    out->kind = "traveldoc.answer";
    out->body = json_pack("{s:s, s:s, s:o}", "schema", "traveldoc.answer/1", "result",
                          json_array_size(hits) > 0 ? "hit" : "no-hit", "hits", hits);
    return out->body != NULL;
}

static bool
build_watchlist_details(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    const char *ref = json_string_value(json_object_get(in, "ref"));
    agent_txn *t = NULL;
    json_t *entry = NULL, *details;
    agent_store_err err;

    (void)e;
    if ((err = agent_store_begin(a->st, false, &t)) != AGENT_STORE_OK)
        return false;
    err = agent_json_get(t, AGENT_T_ENTRIES, ref, &entry);
    agent_store_abort(&t);
    out->kind = "watchlist.details";
    if (err == AGENT_STORE_ERR_NOT_FOUND || err == AGENT_STORE_ERR_INVALID) {
        out->body = json_pack("{s:s, s:s, s:s}", "schema", "watchlist.details/1", "ref", ref,
                              "result", "unknown");
        return out->body != NULL;
    }
    if (err != AGENT_STORE_OK)
        return false;
    /* Details travel in a portion of their own, under their own labels. */
    details = json_object_get(entry, "details");
    if (details != NULL) {
        out->extra = json_is_string(details) ? strdup(json_string_value(details))
                                             : json_dumps(details, JSON_COMPACT);
        if (json_is_string(json_object_get(entry, "details_labels")))
            snprintf(out->extra_labels, sizeof(out->extra_labels), "%s",
                     json_string_value(json_object_get(entry, "details_labels")));
        json_object_del(entry, "details");
        json_object_set_new(entry, "details_portion", json_integer(1));
    }
    json_object_del(entry, "details_labels");
    json_object_del(entry, "added");
    out->body = json_pack("{s:s, s:s, s:s, s:o}", "schema", "watchlist.details/1", "ref", ref,
                          "result", "found", "entry", entry);
    return out->body != NULL;
}

/*
 * A freeze.answer from the agency's own designations in force only (never
 * what partners designated: the third-party rule), scored as screening
 * scores (screen.h), at most AGENT_HITS_MAX hits, best first.
 */
static bool
build_freeze_answer(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    screen_subject subject;
    screen_set *set = screen_set_new();
    agent_txn *t = NULL;
    json_t *cands = NULL, *hits = json_array();
    agent_store_err err = AGENT_STORE_ERR_NOMEM;
    char why[200];
    size_t i;
    const json_t *c;
    bool ok = false;

    (void)e;
    if (!screen_subject_from_json(json_object_get(in, "subject"), &subject, why, sizeof(why)) ||
        set == NULL || hits == NULL)
        goto out;
    if ((err = agent_store_begin(a->st, false, &t)) != AGENT_STORE_OK ||
        (err = screen_set_load(t, SCREEN_OWN, set)) != AGENT_STORE_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "op=screen error=\"%s\"", agent_store_strerror(err));
        goto out;
    }
    agent_store_abort(&t);
    if (!screen_subject_run(set, &subject, a->cfg->name_threshold, AGENT_HITS_MAX, false, &cands,
                            NULL))
        goto out;
    json_array_foreach(cands, i, c) {
        json_array_append_new(
            hits, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "designation",
                            json_object_get(c, "designation"), "list", json_object_get(c, "list"),
                            "reference", json_object_get(c, "reference"), "version",
                            json_object_get(c, "version"), "name", json_object_get(c, "name"),
                            "score", json_object_get(c, "score"), "reasons",
                            json_object_get(c, "reasons")));
    }
    out->kind = "freeze.answer";
    out->body = json_pack("{s:s, s:s, s:O}", "schema", "freeze.answer/1", "result",
                          json_array_size(hits) > 0 ? "hit" : "no-hit", "hits", hits);
    ok = out->body != NULL;
out:
    agent_store_abort(&t);
    screen_set_destroy(&set);
    json_decref(cands);
    json_decref(hits);
    return ok;
}

static bool
build_freeze_received(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    (void)a;
    (void)e;
    out->kind = "freeze.ack";
    out->body = json_pack("{s:s, s:O, s:O, s:s, s:s}", "schema", "freeze.ack/1", "designation",
                          json_object_get(in, "designation"), "version",
                          json_object_get(in, "version"), "status", "received", "note", "");
    return out->body != NULL;
}

static bool
build_mlat_received(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    const char *case_id = json_string_value(json_object_get(in, "case"));

    (void)a;
    out->kind = "mlat.status";
    out->body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "schema", "mlat.status/1", "case",
                          case_id != NULL ? case_id : e->case_id, "status", "received", "note",
                          "received by the requested authority's agent; a decision follows",
                          "grounds", "");
    return out->body != NULL;
}

/* ---- Handlers ------------------------------------------------------------------------------ */

static bool
is_text(const json_t *v, size_t max)
{
    return json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= max &&
           strlen(json_string_value(v)) == json_string_length(v);
}

static outcome
on_designation(agent *a, const liaison_event *e, const json_t *in)
{
    const char *designation = json_string_value(json_object_get(in, "designation"));
    const char *action = json_string_value(json_object_get(in, "action"));
    json_int_t version = json_integer_value(json_object_get(in, "version"));
    char key[AGENT_STORE_KEY_MAX], now[32], why[200], reason[240];
    agent_txn *t = NULL;
    json_t *rec = NULL;
    agent_store_err err;

    if (!agent_designation_check(in, why, sizeof(why))) {
        snprintf(reason, sizeof(reason), "freeze.designation refused: %s", why);
        return keep(a, e, reason);
    }
    agent_designation_key(e->sender, designation, (uint32_t)version, key, sizeof(key));
    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK)
        goto out;
    /* A version delivered again (or sent twice) keeps its first record. */
    err = agent_json_get(t, AGENT_T_DESIGNATIONS, key, &rec);
    if (err == AGENT_STORE_ERR_NOT_FOUND) {
        rec = json_deep_copy(in);
        if (rec == NULL) {
            err = AGENT_STORE_ERR_NOMEM;
            goto out;
        }
        json_object_del(rec, "schema");
        json_object_set_new(rec, "from", json_string(e->sender));
        json_object_set_new(rec, "message", json_string(e->id_hex));
        json_object_set_new(rec, "case", json_string(e->case_id));
        json_object_set_new(rec, "received", json_string(proto_time_format(liaison_now_ms(), now)));
        json_object_set_new(rec, "ack", json_string("received"));
        if ((err = agent_json_put(t, AGENT_T_DESIGNATIONS, key, rec)) != AGENT_STORE_OK ||
            (err = agent_filed_put(t, e)) != AGENT_STORE_OK)
            goto out;
    } else if (err != AGENT_STORE_OK) {
        goto out;
    }
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    json_decref(rec);
    if (err != AGENT_STORE_OK)
        return store_failure(e, "designation", err, false);
    PROTO_LOG(PROTO_LOG_INFO, "A-DESIGNATION", "designation=%s version=%lld action=%s from=%s",
              designation, (long long)version, action, e->sender);
    if (keep(a, e, "freeze.designation: acknowledged received") == OUTCOME_RETRY)
        return OUTCOME_RETRY;
    return respond(a, e, in, build_freeze_received);
}

/*
 * A partner unit's acknowledgement of one of the agency's own designations:
 * filed in freeze_acks, where `liaison freeze status --agent-config` finds
 * it (the agent receives what is addressed to its agency, so the tool's own
 * drain may never see it), and kept as received.
 */
static outcome
on_freeze_ack(agent *a, const liaison_event *e, const json_t *in)
{
    const char *designation = json_string_value(json_object_get(in, "designation"));
    const char *status = json_string_value(json_object_get(in, "status"));
    json_int_t version = json_integer_value(json_object_get(in, "version"));
    char key[AGENT_STORE_KEY_MAX], now[32], created[32], hex[33];
    agent_txn *t = NULL;
    json_t *rec = NULL, *have = NULL;
    agent_store_err err;

    if (!is_text(json_object_get(in, "designation"), 64) || strchr(designation, ' ') != NULL ||
        !json_is_integer(json_object_get(in, "version")) || version < 1 ||
        version > 1000000000 || !is_text(json_object_get(in, "status"), 32) ||
        strchr(status, ' ') != NULL ||
        (json_object_get(in, "note") != NULL && !json_is_string(json_object_get(in, "note"))))
        return keep(a, e, "freeze.ack without a valid designation, version and status");
    snprintf(key, sizeof(key), "%s %010u %s %s", designation, (unsigned)version, e->sender,
             status);
    rec = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "designation", designation,
                    "version", version, "status", status, "note",
                    json_is_string(json_object_get(in, "note"))
                        ? json_string_value(json_object_get(in, "note")) : "",
                    "from", e->sender, "message", e->id_hex, "created",
                    proto_time_format(e->created_ms, created), "received",
                    proto_time_format(liaison_now_ms(), now));
    if (rec == NULL) {
        err = AGENT_STORE_ERR_NOMEM;
        goto out;
    }
    if (e->has_reply_to) {
        liaison_id_to_hex(e->in_reply_to, hex);
        json_object_set_new(rec, "in_reply_to", json_string(hex));
    }
    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK)
        goto out;
    /* The first acknowledgement of a status stands; a repeat changes nothing. */
    err = agent_json_get(t, AGENT_T_FREEZE_ACKS, key, &have);
    if (err == AGENT_STORE_ERR_NOT_FOUND)
        err = agent_json_put(t, AGENT_T_FREEZE_ACKS, key, rec);
    if (err == AGENT_STORE_OK)
        err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    json_decref(rec);
    json_decref(have);
    if (err != AGENT_STORE_OK)
        return store_failure(e, "freeze.ack", err, false);
    PROTO_LOG(PROTO_LOG_INFO, "A-FREEZE-ACK", "designation=%s version=%lld status=%s from=%s",
              designation, (long long)version, status, e->sender);
    return keep(a, e, "freeze.ack: filed for freeze status");
}

static outcome
on_publish(agent *a, const liaison_event *e, const json_t *in)
{
    const json_t *entries = json_object_get(in, "entries");
    agent_txn *t = NULL;
    agent_store_err err;
    size_t i, stored = 0;
    const json_t *v;
    char now[32];

    if (!json_is_array(entries))
        return keep(a, e, "watchlist.publish without entries");
    proto_time_format(liaison_now_ms(), now);
    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK)
        goto out;
    json_array_foreach(entries, i, v) {
        char why[256], key[AGENT_STORE_KEY_MAX];
        json_t *entry = agent_entry_check(v, why, sizeof(why)), *rec;

        if (entry == NULL) {
            PROTO_LOG(PROTO_LOG_WARN, "A-ENTRY-REFUSED", "message=%s from=%s index=%zu reason=\"%s\"",
                      e->id_hex, e->sender, i, why);
            continue;
        }
        snprintf(key, sizeof(key), "%s %s", e->sender, json_string_value(json_object_get(entry, "ref")));
        rec = json_pack("{s:s, s:s, s:s, s:o}", "from", e->sender, "received", now, "message",
                        e->id_hex, "entry", entry);
        err = rec != NULL ? agent_json_put(t, AGENT_T_PARTNER_ENTRIES, key, rec) : AGENT_STORE_ERR_NOMEM;
        json_decref(rec);
        if (err != AGENT_STORE_OK)
            goto out;
        stored++;
    }
    if (stored > 0 && (err = agent_filed_put(t, e)) != AGENT_STORE_OK)
        goto out;
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    if (err != AGENT_STORE_OK)
        return store_failure(e, "publish", err, true);
    PROTO_LOG(PROTO_LOG_INFO, "A-PUBLISHED", "message=%s from=%s entries=%zu", e->id_hex, e->sender,
              stored);
    return OUTCOME_DONE;
}

static outcome
on_withdraw(agent *a, const liaison_event *e, const json_t *in)
{
    const json_t *refs = json_object_get(in, "refs");
    agent_txn *t = NULL;
    agent_store_err err;
    size_t i, removed = 0;
    const json_t *v;

    if (!json_is_array(refs))
        return keep(a, e, "watchlist.withdraw without refs");
    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK)
        goto out;
    json_array_foreach(refs, i, v) {
        char key[AGENT_STORE_KEY_MAX];

        if (!is_text(v, AGENT_REF_MAX))
            continue;
        snprintf(key, sizeof(key), "%s %s", e->sender, json_string_value(v));
        err = agent_store_del(t, AGENT_T_PARTNER_ENTRIES, key, strlen(key));
        if (err == AGENT_STORE_OK)
            removed++;
        else if (err != AGENT_STORE_ERR_NOT_FOUND)
            goto out;
    }
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    if (err != AGENT_STORE_OK)
        return store_failure(e, "withdraw", err, false);
    PROTO_LOG(PROTO_LOG_INFO, "A-WITHDRAWN", "message=%s from=%s entries=%zu", e->id_hex, e->sender,
              removed);
    return OUTCOME_DONE;
}

static outcome
on_report(agent *a, const liaison_event *e, const json_t *in)
{
    char why[256], key[AGENT_STORE_KEY_MAX], now[32];
    json_t *report = agent_doc_check(in, why, sizeof(why)), *rec = NULL;
    agent_txn *t = NULL;
    agent_store_err err = AGENT_STORE_ERR_NOMEM;

    if (report == NULL) {
        PROTO_LOG(PROTO_LOG_WARN, "A-REPORT-REFUSED", "message=%s from=%s reason=\"%s\"", e->id_hex,
                  e->sender, why);
        return keep(a, e, "traveldoc.report that does not check");
    }
    snprintf(key, sizeof(key), "%s %s", e->sender, json_string_value(json_object_get(report, "ref")));
    rec = json_pack("{s:s, s:s, s:s, s:o}", "from", e->sender, "received",
                    proto_time_format(liaison_now_ms(), now), "message", e->id_hex,
                    "report", report);
    if (rec == NULL ||
        (err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK ||
        (err = agent_json_put(t, AGENT_T_PARTNER_DOCS, key, rec)) != AGENT_STORE_OK ||
        (err = agent_filed_put(t, e)) != AGENT_STORE_OK)
        goto out;
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    json_decref(rec);
    if (err != AGENT_STORE_OK)
        return store_failure(e, "report", err, true);
    PROTO_LOG(PROTO_LOG_INFO, "A-DOC-REPORTED", "message=%s from=%s", e->id_hex, e->sender);
    return OUTCOME_DONE;
}

/*
 * A part of a partner's publication (traveldoc.publish): checked, then filed
 * with the message in the filed table, in one transaction.  A part that does
 * not check, or does not fit its version, is kept with the reason and files
 * nothing.
 */
static outcome
on_traveldoc_publish(agent *a, const liaison_event *e, const json_t *in)
{
    agent_publication_part p;
    agent_txn *t = NULL;
    agent_store_err err;
    bool refused = false, complete = false;
    char why[300], reason[400];

    if (!agent_publication_check(in, &p, why, sizeof(why))) {
        PROTO_LOG(PROTO_LOG_WARN, "A-DOCS-REFUSED", "message=%s from=%s reason=\"%s\"",
                  e->id_hex, e->sender, why);
        snprintf(reason, sizeof(reason), "traveldoc.publish that does not check: %s", why);
        return keep(a, e, reason);
    }
    if ((err = agent_store_begin(a->st, true, &t)) == AGENT_STORE_OK &&
        (err = agent_publication_file(t, e, &p, &refused, &complete, why, sizeof(why))) ==
            AGENT_STORE_OK &&
        (refused || (err = agent_filed_put(t, e)) == AGENT_STORE_OK))
        err = agent_store_commit(&t); /* refused: what the version filed may have been dropped */
    agent_store_abort(&t);
    if (err != AGENT_STORE_OK) {
        agent_publication_part_clear(&p);
        return store_failure(e, "publish", err, true);
    }
    if (refused) {
        PROTO_LOG(PROTO_LOG_WARN, "A-DOCS-REFUSED", "message=%s from=%s reason=\"%s\"",
                  e->id_hex, e->sender, why);
        snprintf(reason, sizeof(reason), "traveldoc.publish not filed: %s", why);
        agent_publication_part_clear(&p);
        return keep(a, e, reason);
    }
    PROTO_LOG(PROTO_LOG_INFO, "A-DOCS-PUBLISHED", "message=%s from=%s publication=%s version=%u "
              "part=%u/%u form=%s complete=%s", e->id_hex, e->sender, p.publication, p.version,
              p.part, p.parts, p.hashed ? "hashes" : "records", complete ? "yes" : "no");
    agent_publication_part_clear(&p);
    return OUTCOME_DONE;
}

/* ---- Recall --------------------------------------------------------------------------------- */

/*
 * True if the store holds records of message hex (a rectification's
 * replacement) from sender: a replacement that carried the same references
 * took the original's place already, so the original was rectified.
 */
static bool
replacement_held(agent_txn *t, const char *sender, const char *hex)
{
    size_t found = 0;

    return hex != NULL &&
           agent_records_of_message(t, hex, sender, NULL, false, NULL, &found, NULL) ==
               AGENT_STORE_OK &&
           found > 0;
}

static bool
build_recall_ack(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    char now[32];

    (void)a;
    (void)e;
    out->kind = "recall.ack";
    out->body = json_pack("{s:s, s:O, s:O, s:O, s:s}", "schema", "recall.ack/1", "message",
                          json_object_get(in, "message"), "result", json_object_get(in, "result"),
                          "deleted", json_object_get(in, "deleted"), "at",
                          proto_time_format(liaison_now_ms(), now));
    return out->body != NULL;
}

/*
 * A recall.request: deletes every record filed from the recalled message (or
 * only the named records) and keeps the recall with its result, in one
 * transaction; then answers recall.ack through the outbox.  A recall of a
 * message that came from another sender than the recall's is kept and not
 * acted upon.  Delivered again (a restart before the receipt), it finds its
 * result kept and sends the same ack.
 */
static outcome
on_recall(agent *a, const liaison_event *e, const json_t *in)
{
    const char *hex = json_string_value(json_object_get(in, "message"));
    const char *action = json_string_value(json_object_get(in, "action"));
    const json_t *records = json_object_get(in, "records");
    uint8_t id[16];
    agent_txn *t = NULL;
    json_t *meta = NULL, *ackin = NULL, *refs = json_array();
    const char *foreign = NULL;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    char foreign_buf[40] = "", now[32], reason[200];
    bool held = false;
    agent_store_err err;
    outcome o = OUTCOME_RETRY;

    if (hex == NULL || strlen(hex) != 32 || liaison_id_from_hex(hex, id) != LIAISON_OK ||
        !e->has_reply_to || memcmp(id, e->in_reply_to, 16) != 0 || action == NULL ||
        (strcmp(action, "recall") != 0 && strcmp(action, "rectify") != 0) ||
        !agent_text_valid(json_object_get(in, "reason"), 1, 500) ||
        (records != NULL && (!json_is_array(records) || json_array_size(records) == 0))) {
        o = keep(a, e, "recall.request that does not check: not applied");
        goto done;
    }
    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK)
        goto store;
    /* Applied before: the same ack again. */
    if (agent_blob_get(t, AGENT_T_KEPT, e->id, 16, &meta, &raw, &raw_len) == AGENT_STORE_OK &&
        json_is_string(json_object_get(meta, "result"))) {
        agent_store_abort(&t);
        ackin = json_pack("{s:s, s:O, s:O}", "message", hex, "result",
                          json_object_get(meta, "result"), "deleted",
                          json_is_array(json_object_get(meta, "deleted"))
                              ? json_object_get(meta, "deleted") : refs);
        goto answer;
    }
    json_decref(meta);
    meta = NULL;
    {
        size_t found = 0;

        err = agent_records_of_message(t, hex, e->sender, records, true, refs, &found,
                                       foreign_buf);
        if (err != AGENT_STORE_OK)
            goto store;
        if (foreign_buf[0] != '\0')
            foreign = foreign_buf;
        held = found > 0;
        /* All of it recalled: retention has nothing left to find of it. */
        if (records == NULL && foreign == NULL &&
            (err = agent_store_del(t, AGENT_T_FILED, id, 16)) != AGENT_STORE_OK &&
            err != AGENT_STORE_ERR_NOT_FOUND)
            goto store;
    }
    /* The message as received (kept: MLAT requests, designations, others). */
    if ((err = agent_blob_get(t, AGENT_T_KEPT, id, 16, &meta, &raw, &raw_len)) == AGENT_STORE_OK) {
        const char *from = json_string_value(json_object_get(meta, "from"));

        if (from == NULL || strcmp(from, e->sender) != 0) {
            snprintf(foreign_buf, sizeof(foreign_buf), "%s", from != NULL ? from : "?");
            foreign = foreign_buf;
        } else if (records == NULL || held) {
            held = true;
            err = agent_store_del(t, AGENT_T_KEPT, id, 16);
        }
    } else if (err == AGENT_STORE_ERR_NOT_FOUND) {
        err = AGENT_STORE_OK;
    }
    json_decref(meta);
    meta = NULL;
    if (err != AGENT_STORE_OK)
        goto store;
    if (foreign != NULL) {
        agent_store_abort(&t);
        PROTO_LOG(PROTO_LOG_WARN, "A-RECALL-REFUSED",
                  "message=%s recall=%s from=%s originator=%s", hex, e->id_hex, e->sender, foreign);
        snprintf(reason, sizeof(reason), "recall.request refused: only %s, the sender of %.32s, "
                 "may recall it", foreign, hex);
        o = keep(a, e, reason);
        goto done;
    }
    if (!held && strcmp(action, "rectify") == 0)
        held = replacement_held(t, e->sender, json_string_value(json_object_get(in, "replacement")));
    ackin = json_pack("{s:s, s:s, s:O}", "message", hex, "result",
                      !held ? "not-held" : strcmp(action, "rectify") == 0 ? "rectified" : "deleted",
                      "deleted", refs);
    /* The recall itself is kept with its result: the tombstone of what it deleted. */
    meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s}", "kind", e->kind,
                     "from", e->sender, "message", e->id_hex, "labels", e->labels, "received",
                     proto_time_format(liaison_now_ms(), now), "reason",
                     json_string_value(json_object_get(in, "reason")), "recalled", hex,
                     "result", json_object_get(ackin, "result"), "deleted", refs, "case",
                     e->case_id);
    if (ackin == NULL || meta == NULL) {
        err = AGENT_STORE_ERR_NOMEM;
        goto store;
    }
    if ((err = agent_blob_put(t, AGENT_T_KEPT, e->id, 16, meta, e->raw, e->raw_len)) !=
            AGENT_STORE_OK ||
        (err = agent_store_commit(&t)) != AGENT_STORE_OK)
        goto store;
    PROTO_LOG(PROTO_LOG_INFO, "A-RECALLED", "message=%s recall=%s from=%s action=%s result=%s "
              "records=%zu", hex, e->id_hex, e->sender, action,
              json_string_value(json_object_get(ackin, "result")), json_array_size(refs));
answer:
    o = respond(a, e, ackin, build_recall_ack);
    goto done;
store:
    agent_store_abort(&t);
    o = store_failure(e, "recall", err, false);
done:
    agent_store_abort(&t);
    json_decref(meta);
    json_decref(ackin);
    json_decref(refs);
    return o;
}

/* ---- The cargo family ---------------------------------------------------------------------- */

/* A cargo id usable in a store key: 1..64 printable characters without spaces. */
static bool
cargo_id_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    }
    return true;
}

/* The request id an acknowledgement names: the request's own, else its case id. */
static const char *
cargo_request_id(const liaison_event *e, const json_t *in)
{
    const char *request = json_string_value(json_object_get(in, "request"));

    if (cargo_id_ok(request))
        return request;
    return cargo_id_ok(e->case_id) ? e->case_id : e->id_hex;
}

static bool
build_cargo_ack(agent *a, const liaison_event *e, const json_t *in, reply *out)
{
    cargo_detail d;
    char note[400] = "";
    bool good = cargo_message_check("cargo.request", in, 0, &d) == CARGO_OK;

    (void)a;
    if (!good)
        snprintf(note, sizeof(note), "%s: %s", d.field, d.text);
    out->kind = "cargo.ack";
    out->body = json_pack("{s:s, s:s, s:s, s:s}", "schema", "cargo.ack/1", "request",
                          cargo_request_id(e, in), "status", good ? "received" : "declined",
                          "note", note);
    return out->body != NULL;
}

/* The portions of e a broker withheld, each with who withheld it as the
 * withholding broker's note states (not signed by the sender): [{portion,
 * labels, by, rule}], by and rule null where the note says nothing. */
static json_t *
withheld_json(const liaison_event *e)
{
    json_t *list = json_array();

    for (size_t i = 0; i < e->portion_count; i++) {
        const liaison_portion *p = &e->portions[i];

        if (!p->withheld)
            continue;
        json_array_append_new(
            list, json_pack("{s:I, s:s, s:o, s:o}", "portion", (json_int_t)i, "labels", p->labels,
                            "by", p->withheld_by[0] ? json_string(p->withheld_by) : json_null(),
                            "rule",
                            p->withheld_rule[0] ? json_string(p->withheld_rule) : json_null()));
    }
    return list;
}

/*
 * A cargo.request, cargo.alert or cargo.donotload: checked as the sender
 * checks it (without the clock: a request may arrive after its deadline),
 * recorded in the cargo table, kept as received, and, for a request,
 * acknowledged (received, or declined naming the field).  A request
 * delivered again keeps its first record; a do-not-load record holds the
 * latest action of its recommendation.  Other cargo kinds (an ack or a
 * result sent to this agency) are only kept.
 */
static outcome
on_cargo(agent *a, const liaison_event *e, const json_t *in)
{
    const char *what, *field, *id;
    char key[AGENT_STORE_KEY_MAX], now[32], note[400] = "";
    cargo_detail d;
    cargo_err cerr;
    agent_txn *t = NULL;
    json_t *rec = NULL, *old = NULL;
    agent_store_err err;
    bool is_request = strcmp(e->kind, "cargo.request") == 0;

    if (is_request) {
        what = "request";
        field = "request";
    } else if (strcmp(e->kind, "cargo.alert") == 0) {
        what = "alert";
        field = "alert";
    } else if (strcmp(e->kind, "cargo.donotload") == 0) {
        what = "donotload";
        field = "recommendation";
    } else {
        return keep(a, e, "cargo message kept as received");
    }
    cerr = cargo_message_check(e->kind, in, 0, &d);
    if (cerr != CARGO_OK) {
        snprintf(note, sizeof(note), "%s: %s", d.field, d.text);
        PROTO_LOG(PROTO_LOG_WARN, "A-CARGO-DECLINED", "message=%s kind=%s from=%s field=%s "
                  "reason=\"%s\"", e->id_hex, e->kind, e->sender, d.field, d.text);
        if (!is_request)
            return keep(a, e, note);
    }
    id = json_string_value(json_object_get(in, field));
    if (!cargo_id_ok(id))
        id = e->id_hex;
    agent_cargo_key(e->sender, what, id, key, sizeof(key));
    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK)
        goto out;
    err = agent_json_get(t, AGENT_T_CARGO, key, &old);
    if (err == AGENT_STORE_OK && (is_request || strcmp(e->kind, "cargo.alert") == 0 ||
                                  (uint64_t)json_integer_value(json_object_get(old, "created")) >
                                      e->created_ms)) {
        /* Kept as first recorded (or a newer action of the recommendation is). */
        err = AGENT_STORE_OK;
    } else if (err == AGENT_STORE_OK || err == AGENT_STORE_ERR_NOT_FOUND ||
               err == AGENT_STORE_ERR_INVALID) {
        rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:O, s:s, s:s}", "kind", e->kind,
                        "id", id, "from", e->sender, "message", e->id_hex, "case", e->case_id,
                        "created", (json_int_t)e->created_ms, "received",
                        proto_time_format(liaison_now_ms(), now), "body", in, "labels",
                        e->labels, "note", note);
        if (rec == NULL) {
            err = AGENT_STORE_ERR_NOMEM;
            goto out;
        }
        if (is_request)
            json_object_set_new(rec, "ack", json_string(cerr == CARGO_OK ? "received" : "declined"));
        {
            json_t *withheld = withheld_json(e);

            if (json_array_size(withheld) > 0)
                json_object_set_new(rec, "withheld", withheld);
            else
                json_decref(withheld);
        }
        if ((err = agent_json_put(t, AGENT_T_CARGO, key, rec)) != AGENT_STORE_OK ||
            (err = agent_filed_put(t, e)) != AGENT_STORE_OK)
            goto out;
    } else {
        goto out;
    }
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    json_decref(rec);
    json_decref(old);
    if (err != AGENT_STORE_OK)
        return store_failure(e, "cargo", err, false);
    if (is_request)
        PROTO_LOG(PROTO_LOG_INFO, "A-CARGO-REQUEST", "request=%s from=%s container=%s deadline=%s "
                  "ack=%s", id, e->sender,
                  json_string_value(json_object_get(json_object_get(in, "shipment"), "container"))
                      ? json_string_value(json_object_get(json_object_get(in, "shipment"), "container"))
                      : "-",
                  json_string_value(json_object_get(in, "deadline"))
                      ? json_string_value(json_object_get(in, "deadline"))
                      : "-",
                  cerr == CARGO_OK ? "received" : "declined");
    else
        PROTO_LOG(PROTO_LOG_INFO, "A-CARGO-KEPT", "kind=%s id=%s from=%s%s%s", e->kind, id,
                  e->sender, strcmp(what, "donotload") == 0 ? " action=" : "",
                  strcmp(what, "donotload") == 0
                      ? json_string_value(json_object_get(in, "action"))
                      : "");
    if (keep(a, e, is_request ? "cargo.request: acknowledged" : "cargo: recorded") == OUTCOME_RETRY)
        return OUTCOME_RETRY;
    return is_request ? respond(a, e, in, build_cargo_ack) : OUTCOME_DONE;
}

/* The kinds the agent acts upon, with the schema each must carry. */
static const struct {
    const char *kind;     /* envelope kind */
    const char *schema;   /* portion 0 "schema" */
} handled_kinds[] = {
    {"watchlist.query", "watchlist.query/1"},
    {"watchlist.request", "watchlist.request/1"},
    {"traveldoc.check", "traveldoc.check/1"},
    {"freeze.designation", "freeze.designation/1"},
    {"freeze.ack", "freeze.ack/1"},
    {"freeze.query", "freeze.query/1"},
    {"mlat.request", "mlat.request/1"},
    {"watchlist.publish", "watchlist.publish/1"},
    {"watchlist.withdraw", "watchlist.withdraw/1"},
    {"traveldoc.report", "traveldoc.report/1"},
    {"traveldoc.publish", "traveldoc.publish/1"},
    {"recall.request", "recall.request/1"},
};

static outcome
on_message(agent *a, const liaison_event *e)
{
    const char *schema = NULL;
    json_t *in = NULL;
    json_error_t jerr;
    char reason[200];
    outcome o;
    size_t k, n = sizeof(handled_kinds) / sizeof(handled_kinds[0]);

    for (k = 0; k < n && strcmp(handled_kinds[k].kind, e->kind) != 0; k++)
        ;
    if (k == n && !cargo_kind(e->kind))
        return keep(a, e, "not a kind the agent acts upon");
    if (e->portion_count > 0 && e->portions[0].withheld) {
        const liaison_portion *p = &e->portions[0];

        /* The note is the withholding broker's word, not the sender's. */
        if (p->withheld_by[0] != '\0')
            snprintf(reason, sizeof(reason), "portion 0 was withheld by %s policy%s%s, as the "
                     "broker states", p->withheld_by, p->withheld_rule[0] ? " rule " : "",
                     p->withheld_rule);
        else
            snprintf(reason, sizeof(reason), "portion 0 was withheld by a broker");
        return keep(a, e, reason);
    }
    if (e->portion_count == 0 || !e->portions[0].readable)
        return keep(a, e, "portion 0 is not readable by this agency");
    in = json_loadb((const char *)e->portions[0].data, e->portions[0].len, JSON_REJECT_DUPLICATES,
                    &jerr);
    if (!json_is_object(in)) {
        json_decref(in);
        return keep(a, e, "portion 0 is not a JSON object");
    }
    if (k == n) {
        /* The cargo checks name a wrong schema as the field it is. */
        o = on_cargo(a, e, in);
        goto out;
    }
    schema = json_string_value(json_object_get(in, "schema"));
    if (schema == NULL || strcmp(schema, handled_kinds[k].schema) != 0) {
        snprintf(reason, sizeof(reason), "unknown schema '%.60s' (expected %s)",
                 schema != NULL ? schema : "", handled_kinds[k].schema);
        o = keep(a, e, reason);
        goto out;
    }
    if (strcmp(e->kind, "watchlist.query") == 0) {
        o = json_is_object(json_object_get(in, "subject"))
                ? respond(a, e, in, build_watchlist_answer)
                : keep(a, e, "watchlist.query without a subject");
    } else if (strcmp(e->kind, "watchlist.request") == 0) {
        o = is_text(json_object_get(in, "ref"), AGENT_REF_MAX)
                ? respond(a, e, in, build_watchlist_details)
                : keep(a, e, "watchlist.request without a ref");
    } else if (strcmp(e->kind, "traveldoc.check") == 0) {
        const json_t *d = json_object_get(in, "document");

        o = json_is_object(d) && is_text(json_object_get(d, "number"), 256)
                ? respond(a, e, in, build_traveldoc_answer)
                : keep(a, e, "traveldoc.check without a document number");
    } else if (strcmp(e->kind, "freeze.query") == 0) {
        screen_subject subject;
        char why[160];

        if (screen_subject_from_json(json_object_get(in, "subject"), &subject, why, sizeof(why))) {
            o = respond(a, e, in, build_freeze_answer);
        } else {
            snprintf(reason, sizeof(reason), "freeze.query without a usable subject: %s", why);
            o = keep(a, e, reason);
        }
    } else if (strcmp(e->kind, "freeze.designation") == 0) {
        o = on_designation(a, e, in);
    } else if (strcmp(e->kind, "freeze.ack") == 0) {
        o = on_freeze_ack(a, e, in);
    } else if (strcmp(e->kind, "mlat.request") == 0) {
        o = keep(a, e, "mlat.request: acknowledged received; the rest is the operator's");
        if (o == OUTCOME_DONE)
            o = respond(a, e, in, build_mlat_received);
    } else if (strcmp(e->kind, "watchlist.publish") == 0) {
        o = on_publish(a, e, in);
    } else if (strcmp(e->kind, "watchlist.withdraw") == 0) {
        o = on_withdraw(a, e, in);
    } else if (strcmp(e->kind, "recall.request") == 0) {
        o = on_recall(a, e, in);
    } else if (strcmp(e->kind, "traveldoc.publish") == 0) {
        o = on_traveldoc_publish(a, e, in);
    } else {
        o = on_report(a, e, in);
    }
out:
    json_decref(in);
    return o;
}

static outcome
on_event(agent *a, const liaison_event *e)
{
    if (e->type == LIAISON_EVENT_REPORT) {
        /* Reports about the agent's own answers: the ordinary states are
         * debug; an answer that did not reach its recipient is a warning. */
        bool bad = strcmp(e->state, "denied") == 0 || strcmp(e->state, "refused") == 0 ||
                   strcmp(e->state, "expired") == 0 || strcmp(e->state, "withheld") == 0 ||
                   strcmp(e->state, "damaged") == 0;

        PROTO_LOG(bad ? PROTO_LOG_WARN : PROTO_LOG_DEBUG, "A-REPORT",
                  "message=%s recipient=%s state=%s broker=%s%s%s%s%s%s", e->id_hex,
                  e->recipient, e->state, e->broker, e->rule_id[0] ? " rule=" : "", e->rule_id,
                  e->detail[0] ? " detail=\"" : "", e->detail, e->detail[0] ? "\"" : "");
        return OUTCOME_DONE;
    }
    PROTO_LOG(PROTO_LOG_INFO, "A-RECEIVED", "message=%s kind=%s from=%s actor=%s", e->id_hex,
              e->kind, e->sender, e->actor[0] != '\0' ? e->actor : "-");
    return on_message(a, e);
}

/* ---- Implement requests -------------------------------------------------------------------- */

/* One designation key waiting for its implemented acknowledgement. */
typedef struct pending_list {
    char keys[64][AGENT_STORE_KEY_MAX]; /* designation keys, in key order */
    size_t count;                       /* entries used */
} pending_list;

static int
collect_pending(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    pending_list *p = ctx;

    (void)val;
    (void)val_len;
    if (key_len < AGENT_STORE_KEY_MAX) {
        memcpy(p->keys[p->count], key, key_len);
        p->keys[p->count][key_len] = '\0';
        p->count++;
    }
    return p->count == 64 ? 1 : 0;
}

/* Finishes one implement request: the designation record says implemented
 * (or why not), and the request is removed. */
static void
implement_settle(agent *a, const char *key, const char *state, const char *reason)
{
    agent_txn *t = NULL;
    json_t *rec = NULL;
    char now[32];
    agent_store_err err;

    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK)
        goto out;
    if (agent_json_get(t, AGENT_T_DESIGNATIONS, key, &rec) == AGENT_STORE_OK) {
        if (state != NULL) {
            json_object_set_new(rec, "ack", json_string(state));
            json_object_set_new(rec, "implemented", json_string(proto_time_format(liaison_now_ms(), now)));
            json_object_del(rec, "implement_error");
        } else {
            json_object_set_new(rec, "implement_error", json_string(reason));
        }
        if ((err = agent_json_put(t, AGENT_T_DESIGNATIONS, key, rec)) != AGENT_STORE_OK)
            goto out;
    }
    err = agent_store_del(t, AGENT_T_IMPLEMENT, key, strlen(key));
    if (err != AGENT_STORE_OK && err != AGENT_STORE_ERR_NOT_FOUND)
        goto out;
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    json_decref(rec);
    if (err != AGENT_STORE_OK)
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "designation=\"%s\" op=implement error=\"%s\"", key,
                  agent_store_strerror(err));
}

/* Drops the sealed message under okey from the outbox after the broker
 * rejected it, so that the officer's next command makes a fresh one; what
 * and key name it in the log if the drop cannot be committed. */
static void
outbox_drop(agent *a, const uint8_t okey[AGENT_OUTBOX_KEY_BYTES], const char *what,
            const char *key)
{
    agent_txn *w = NULL;

    if (agent_store_begin(a->st, true, &w) == AGENT_STORE_OK) {
        agent_store_err d = agent_store_del(w, AGENT_T_OUTBOX, okey, AGENT_OUTBOX_KEY_BYTES);

        if ((d == AGENT_STORE_OK || d == AGENT_STORE_ERR_NOT_FOUND) &&
            agent_store_commit(&w) != AGENT_STORE_OK)
            PROTO_LOG(PROTO_LOG_WARN, "A-STORE", "table=outbox op=drop %s=\"%s\"", what, key);
    }
    agent_store_abort(&w);
}

static void
implement_one(agent *a, const char *key)
{
    agent_txn *t = NULL;
    json_t *rec = NULL, *req = NULL, *body = NULL;
    liaison_message *m = NULL;
    uint8_t msg_id[16], okey[AGENT_OUTBOX_KEY_BYTES];
    const char *from, *designation, *ack, *note;
    char reason[600], what[200];
    agent_store_err err;
    sent s;

    if ((err = agent_store_begin(a->st, false, &t)) != AGENT_STORE_OK)
        goto out;
    err = agent_json_get(t, AGENT_T_DESIGNATIONS, key, &rec);
    if (err == AGENT_STORE_OK)
        err = agent_json_get(t, AGENT_T_IMPLEMENT, key, &req);
    agent_store_abort(&t);
    if (err != AGENT_STORE_OK) {
        PROTO_LOG(PROTO_LOG_WARN, "A-IMPLEMENT", "designation=\"%s\" error=\"%s\"", key,
                  agent_store_strerror(err));
        if (err == AGENT_STORE_ERR_NOT_FOUND || err == AGENT_STORE_ERR_INVALID)
            implement_settle(a, key, NULL, "no such designation in the store");
        goto out;
    }
    from = json_string_value(json_object_get(rec, "from"));
    designation = json_string_value(json_object_get(rec, "designation"));
    ack = json_string_value(json_object_get(rec, "ack"));
    note = json_string_value(json_object_get(req, "note"));
    if (ack != NULL && strcmp(ack, "implemented") == 0) {
        implement_settle(a, key, "implemented", NULL);
        goto out;
    }
    if (from == NULL || designation == NULL ||
        liaison_id_from_hex(json_string_value(json_object_get(rec, "message")), msg_id) != LIAISON_OK) {
        implement_settle(a, key, NULL, "the designation record is damaged");
        goto out;
    }
    outbox_key(msg_id, AGENT_ROLE_IMPLEMENTED, okey);
    body = json_pack("{s:s, s:s, s:O, s:s, s:s}", "schema", "freeze.ack/1", "designation",
                     designation, "version", json_object_get(rec, "version"), "status",
                     "implemented", "note", note != NULL ? note : "");
    if (body != NULL)
        m = make_message(a, "freeze.ack", from, msg_id,
                         json_string_value(json_object_get(rec, "case")) != NULL &&
                                 json_string_value(json_object_get(rec, "case"))[0] != '\0'
                             ? json_string_value(json_object_get(rec, "case"))
                             : designation,
                         NULL, body, NULL, NULL);
    snprintf(what, sizeof(what), "freeze.ack implemented %.64s v%lld to %s", designation,
             (long long)json_integer_value(json_object_get(rec, "version")), from);
    s = outbox_send(a, okey, &m, what, reason, sizeof(reason));
    if (s == SENT_ACCEPTED) {
        implement_settle(a, key, "implemented", NULL);
        PROTO_LOG(PROTO_LOG_INFO, "A-IMPLEMENTED", "designation=%s version=%lld to=%s", designation,
                  (long long)json_integer_value(json_object_get(rec, "version")), from);
    } else if (s == SENT_REJECTED) {
        /* A later `agent implement` tries again with a fresh message. */
        outbox_drop(a, okey, "designation", key);
        implement_settle(a, key, NULL, reason);
    }
out:
    liaison_message_destroy(&m);
    json_decref(body);
    json_decref(rec);
    json_decref(req);
}

/* ---- Cargo results recorded by officers ------------------------------------------------------- */

/* Marks the result under key sent (or refused, with reason); its files are
 * no longer kept, the sealed envelope in the outbox had them. */
static void
cargo_result_settle(agent *a, const char *key, const char *state, const char *reason)
{
    agent_txn *t = NULL;
    json_t *meta = NULL;
    const uint8_t *data;
    size_t len;
    char now[32];
    agent_store_err err;

    if ((err = agent_store_begin(a->st, true, &t)) != AGENT_STORE_OK ||
        (err = agent_blob_get(t, AGENT_T_CARGO_RESULTS, key, strlen(key), &meta, &data, &len)) !=
            AGENT_STORE_OK)
        goto out;
    json_object_set_new(meta, "state", json_string(state));
    json_object_set_new(meta, strcmp(state, "sent") == 0 ? "sent" : "settled",
                        json_string(proto_time_format(liaison_now_ms(), now)));
    if (reason != NULL)
        json_object_set_new(meta, "reason", json_string(reason));
    if ((err = agent_blob_put(t, AGENT_T_CARGO_RESULTS, key, strlen(key), meta,
                              strcmp(state, "sent") == 0 ? NULL : data,
                              strcmp(state, "sent") == 0 ? 0 : len)) != AGENT_STORE_OK)
        goto out;
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    json_decref(meta);
    if (err != AGENT_STORE_OK)
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "cargo=\"%s\" op=result error=\"%s\"", key,
                  agent_store_strerror(err));
}

/* The cargo.result of body to the requester `to`, in reply to request
 * message in_reply_to: portion 0 the body, then each file's bytes (taken
 * in order from data) in the portion its entry names.  NULL on failure. */
static liaison_message *
cargo_result_message(agent *a, const char *to, const uint8_t in_reply_to[16], const char *case_id,
                     const char *request_labels, const json_t *body, const uint8_t *data,
                     size_t len)
{
    liaison_message *m = NULL;
    char labels[PROTO_LABELS_TEXT_MAX];
    char *text = json_dumps(body, JSON_COMPACT);
    const json_t *files = json_object_get(body, "files"), *f;
    size_t i, off = 0;
    bool ok;

    ok = text != NULL && answer_labels(a, to, request_labels, labels, sizeof(labels)) &&
         liaison_message_new("cargo.result", &m) == LIAISON_OK &&
         liaison_message_add_recipient(m, to) == LIAISON_OK &&
         liaison_message_set_labels(m, labels) == LIAISON_OK &&
         liaison_message_set_case(m, case_id) == LIAISON_OK &&
         liaison_message_set_in_reply_to(m, in_reply_to) == LIAISON_OK &&
         liaison_message_add_portion(m, labels, text, strlen(text), NULL) == LIAISON_OK;
    json_array_foreach(files, i, f) {
        size_t size = (size_t)json_integer_value(json_object_get(f, "size"));

        /* The tool wrote portions 1, 2, ... in file order; anything else is damage. */
        if (!ok || json_integer_value(json_object_get(f, "portion")) != (json_int_t)(i + 1) ||
            size > len - off) {
            ok = false;
            break;
        }
        ok = liaison_message_add_portion(m, labels, data + off, size, NULL) == LIAISON_OK;
        off += size;
    }
    free(text);
    if (!ok || off != len)
        liaison_message_destroy(&m);
    return m;
}

static void
cargo_result_one(agent *a, const char *key)
{
    agent_txn *t = NULL;
    json_t *meta = NULL, *req = NULL;
    const uint8_t *bytes;
    uint8_t *data = NULL, msg_id[16], okey[AGENT_OUTBOX_KEY_BYTES];
    size_t len = 0;
    liaison_message *m = NULL;
    const char *from, *state, *id;
    char reason[600], what[200];
    agent_store_err err;
    sent s;

    if ((err = agent_store_begin(a->st, false, &t)) != AGENT_STORE_OK)
        goto out;
    err = agent_blob_get(t, AGENT_T_CARGO_RESULTS, key, strlen(key), &meta, &bytes, &len);
    if (err == AGENT_STORE_OK && len > 0) {
        data = malloc(len);
        if (data == NULL)
            err = AGENT_STORE_ERR_NOMEM;
        else
            memcpy(data, bytes, len);
    }
    if (err == AGENT_STORE_OK)
        err = agent_json_get(t, AGENT_T_CARGO, key, &req);
    agent_store_abort(&t);
    if (err != AGENT_STORE_OK) {
        PROTO_LOG(PROTO_LOG_WARN, "A-CARGO-RESULT", "request=\"%s\" error=\"%s\"", key,
                  agent_store_strerror(err));
        if (err == AGENT_STORE_ERR_NOT_FOUND || err == AGENT_STORE_ERR_INVALID)
            cargo_result_settle(a, key, "rejected", "no such request in the store");
        goto out;
    }
    state = json_string_value(json_object_get(meta, "state"));
    if (state == NULL || strcmp(state, "recorded") != 0)
        goto out;
    from = json_string_value(json_object_get(req, "from"));
    id = json_string_value(json_object_get(req, "id"));
    if (from == NULL || id == NULL ||
        liaison_id_from_hex(json_string_value(json_object_get(req, "message")), msg_id) !=
            LIAISON_OK) {
        cargo_result_settle(a, key, "rejected", "the request record is damaged");
        goto out;
    }
    outbox_key(msg_id, AGENT_ROLE_CARGO_RESULT, okey);
    m = cargo_result_message(a, from, msg_id, id,
                             json_string_value(json_object_get(req, "labels")),
                             json_object_get(meta, "body"), data, len);
    snprintf(what, sizeof(what), "cargo.result %.64s to %s", id, from);
    s = outbox_send(a, okey, &m, what, reason, sizeof(reason));
    if (s == SENT_ACCEPTED) {
        cargo_result_settle(a, key, "sent", NULL);
        PROTO_LOG(PROTO_LOG_INFO, "A-CARGO-RESULT-SENT", "request=%s to=%s outcome=%s files=%zu",
                  id, from, json_string_value(json_object_get(json_object_get(meta, "body"),
                                                              "outcome")),
                  json_array_size(json_object_get(json_object_get(meta, "body"), "files")));
    } else if (s == SENT_REJECTED) {
        /* A later `cargo result` records it again and the agent makes a fresh message. */
        outbox_drop(a, okey, "cargo", key);
        PROTO_LOG(PROTO_LOG_WARN, "A-CARGO-RESULT-REJECTED", "request=%s to=%s reason=\"%s\"", id,
                  from, reason);
        cargo_result_settle(a, key, "rejected", reason);
    }
out:
    liaison_message_destroy(&m);
    free(data);
    json_decref(meta);
    json_decref(req);
}

/* Keys of results recorded and not sent yet. */
static int
collect_recorded(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    pending_list *p = ctx;
    json_t *meta = NULL;

    /* The state sits in the blob's JSON head; decode only that. */
    if (val_len >= 4) {
        size_t jlen = ((size_t)((const uint8_t *)val)[0] << 24) |
                      ((size_t)((const uint8_t *)val)[1] << 16) |
                      ((size_t)((const uint8_t *)val)[2] << 8) | ((const uint8_t *)val)[3];

        if (jlen <= val_len - 4)
            meta = json_loadb((const char *)val + 4, jlen, 0, NULL);
    }
    if (key_len < AGENT_STORE_KEY_MAX && json_is_string(json_object_get(meta, "state")) &&
        strcmp(json_string_value(json_object_get(meta, "state")), "recorded") == 0) {
        memcpy(p->keys[p->count], key, key_len);
        p->keys[p->count][key_len] = '\0';
        p->count++;
    }
    json_decref(meta);
    return p->count == 64 ? 1 : 0;
}

/* Runs one(a, key) for each key of table that collect picks (a pass takes at most
 * as many as a pending_list holds; the next pass takes the rest). */
static void
run_pending(agent *a, agent_table table, agent_store_fn collect,
            void (*one)(agent *a, const char *key))
{
    pending_list p;
    agent_txn *t = NULL;
    size_t n = 0;

    if (agent_store_begin(a->st, false, &t) != AGENT_STORE_OK)
        return;
    p.count = 0;
    if (agent_store_count(t, table, &n) == AGENT_STORE_OK && n > 0 &&
        agent_store_each(t, table, NULL, collect, &p) != AGENT_STORE_OK)
        p.count = 0;
    agent_store_abort(&t);
    for (size_t i = 0; i < p.count && !stop_requested; i++)
        one(a, p.keys[i]);
}

/* ---- The loop ------------------------------------------------------------------------------- */

static void
finish(agent *a, liaison_event **e)
{
    if (liaison_receipt(a->c, *e) != LIAISON_OK)
        PROTO_LOG(PROTO_LOG_WARN, "A-RECEIPT", "message=%s error=\"%s\"", (*e)->id_hex,
                  liaison_client_error(a->c));
    liaison_event_free(e);
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};

    (void)nanosleep(&ts, NULL);
}

static void
loop(agent *a)
{
    while (!stop_requested) {
        uint64_t now = liaison_now_ms();

        if (a->pol != NULL && now >= a->next_retain_ms) {
            size_t n = 0;
            agent_store_err err = agent_retention_sweep(a->st, a->pol, now, false, NULL, NULL, &n);

            if (err != AGENT_STORE_OK)
                PROTO_LOG(PROTO_LOG_ERROR, "A-RETAIN", "error=\"%s\"", agent_store_strerror(err));
            else if (n > 0)
                PROTO_LOG(PROTO_LOG_INFO, "A-RETAIN", "deleted=%zu", n);
            a->next_retain_ms = now + RETAIN_EVERY_MS;
        }
        if (now >= a->next_implement_ms) {
            run_pending(a, AGENT_T_IMPLEMENT, collect_pending, implement_one);
            run_pending(a, AGENT_T_CARGO_RESULTS, collect_recorded, cargo_result_one);
            a->next_implement_ms = liaison_now_ms() + IMPLEMENT_POLL_MS;
        }
        if (a->held != NULL) {
            if (now < a->retry_ms) {
                sleep_ms(100);
                continue;
            }
            if (on_event(a, a->held) == OUTCOME_DONE)
                finish(a, &a->held);
            else
                a->retry_ms = liaison_now_ms() + RETRY_MS;
            continue;
        }
        {
            liaison_event *e = NULL;
            liaison_err err = liaison_receive(a->c, &e, liaison_now_ms() + RECEIVE_WAIT_MS);

            if (err == LIAISON_ERR_TIMEOUT)
                continue;
            if (err == LIAISON_ERR_REFUSED) {
                /* Final: the broker takes nothing more from this key. */
                PROTO_LOG(PROTO_LOG_ERROR, "A-REFUSED", "agency=%s error=\"%s\"", a->address,
                          liaison_client_error(a->c));
                a->refused = true;
                return;
            }
            if (err != LIAISON_OK) {
                PROTO_LOG(PROTO_LOG_WARN, "A-RECEIVE", "error=\"%s\"", liaison_client_error(a->c));
                continue;
            }
            if (on_event(a, e) == OUTCOME_DONE) {
                finish(a, &e);
            } else {
                a->held = e;
                a->retry_ms = liaison_now_ms() + RETRY_MS;
            }
        }
    }
}

/* Opens STORE/agent.lock and takes (take) or tests its write lock.  Returns
 * the open descriptor when taken, -1 otherwise; *held says whether another
 * process holds it. */
static int
store_lock(const agent_config *cfg, bool take, bool *held)
{
    char path[AGENT_CONFIG_PATH_MAX + 16];
    struct flock fl;
    int fd;

    *held = false;
    snprintf(path, sizeof(path), "%s/agent.lock", cfg->store);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (take) {
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return fd;
        *held = errno == EACCES || errno == EAGAIN;
    } else if (fcntl(fd, F_GETLK, &fl) == 0) {
        *held = fl.l_type != F_UNLCK;
    }
    close(fd);
    return -1;
}

bool
agent_running(const agent_config *cfg)
{
    bool held;

    (void)store_lock(cfg, false, &held);
    return held;
}

int
agent_run(const agent_config *cfg)
{
    agent a;
    liaison_config lc;
    struct sigaction sa;
    char dir[AGENT_CONFIG_PATH_MAX + 16], state[AGENT_CONFIG_PATH_MAX + 16], why[512];
    liaison_err lerr;
    bool held;
    int rc = EX_OK, lock;

    memset(&a, 0, sizeof(a));
    a.cfg = cfg;
    proto_log_configure(NULL, NULL, cfg->log_level);
    if (agent_store_dir_make(cfg->store, why, sizeof(why)) != 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "dir=%s error=\"%s\"", cfg->store, why);
        return EX_CANTCREAT;
    }
    lock = store_lock(cfg, true, &held);
    if (lock < 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "A-LOCK", "store=%s error=\"%s\"", cfg->store,
                  held ? "another agent runs with this store" : strerror(errno));
        return held ? EX_TEMPFAIL : EX_CANTCREAT;
    }
    snprintf(dir, sizeof(dir), "%s/agent", cfg->store);
    snprintf(state, sizeof(state), "%s/client", cfg->store);
    if (agent_store_open(dir, &a.st, why, sizeof(why)) != AGENT_STORE_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "A-STORE", "error=\"%s\"", why);
        rc = EX_CANTCREAT;
        goto out;
    }
    if (cfg->policy != NULL) {
        policy_load_error pe;

        if (policy_load(cfg->policy, &a.pol, &pe) != POLICY_OK) {
            PROTO_LOG(PROTO_LOG_ERROR, "A-POLICY", "error=\"%s\"",
                      policy_load_error_format(&pe, why, sizeof(why)));
            rc = EX_CONFIG;
            goto out;
        }
    }
    memset(&lc, 0, sizeof(lc));
    lc.key_file = cfg->key;
    lc.roster_file = cfg->roster;
    lc.endpoint = cfg->broker;
    lc.state_dir = state;
    lc.receive = true;
    lc.actor = cfg->actor;
    lerr = liaison_client_open(&lc, &a.c, why, sizeof(why));
    if (lerr != LIAISON_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "A-CONNECT", "error=\"%s\"", why);
        rc = lerr == LIAISON_ERR_KEY || lerr == LIAISON_ERR_ROSTER ? EX_DATAERR
             : lerr == LIAISON_ERR_STATE                          ? EX_CANTCREAT
                                                                  : EX_UNAVAILABLE;
        goto out;
    }
    snprintf(a.address, sizeof(a.address), "%s", liaison_client_address(a.c));
    memcpy(a.nation, a.address, PROTO_NATION_LEN);
    a.nation[PROTO_NATION_LEN] = '\0';
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    PROTO_LOG(PROTO_LOG_INFO, "A-START", "agency=%s actor=%s broker=%s store=%s threshold=%.2f",
              a.address, cfg->actor, cfg->broker, cfg->store, cfg->name_threshold);
    loop(&a);
    if (a.refused)
        rc = EX_NOPERM;
    PROTO_LOG(PROTO_LOG_INFO, "A-STOP", "agency=%s%s", a.address,
              a.held != NULL ? " held=1 (it will be delivered again)" : "");
out:
    liaison_event_free(&a.held);
    liaison_client_close(&a.c);
    agent_store_close(&a.st);
    policy_destroy(&a.pol);
    close(lock);
    return rc;
}
