/* libliaison: compose, seal and send messages; queries with a deadline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

#define READERS_MAX 1024u

/* One portion as the application gave it. */
typedef struct draft_portion {
    proto_labels labels;            /* parsed labels */
    uint8_t *data;                  /* copy of the bytes */
    size_t len;                     /* bytes at data */
    proto_addr *readers;            /* explicit readers, or NULL for the default */
    size_t reader_count;            /* entries in readers */
} draft_portion;

struct liaison_message {
    char kind[PROTO_KIND_MAX + 1];              /* the kind */
    proto_addr recipients[PROTO_RECIPIENTS_MAX];/* as given */
    size_t recipient_count;                     /* entries in recipients */
    proto_labels labels;                        /* message labels */
    char case_id[PROTO_CASE_ID_MAX + 1];        /* "" for none */
    char actor[PROTO_ACTOR_MAX + 1];            /* "": the client's default actor */
    uint8_t *grants[PROTO_GRANTS_MAX];          /* consent grant tokens (owned) */
    size_t grant_lens[PROTO_GRANTS_MAX];        /* bytes of each */
    size_t grant_count;                         /* entries in grants */
    uint8_t in_reply_to[PROTO_ID_BYTES];        /* zero for none */
    uint64_t expires_ms;                        /* 0: now + default */
    draft_portion portions[PROTO_PORTIONS_MAX]; /* content */
    size_t portion_count;                       /* entries in portions */
    uint8_t *sealed;                            /* the envelope once sealed: resends reuse it */
    size_t sealed_len;                          /* bytes at sealed */
    uint8_t id[PROTO_ID_BYTES];                 /* its id once sealed */
    char error[256];                            /* why the last call failed */
};

liaison_err
liaison_message_new(const char *kind, liaison_message **msg_out)
{
    liaison_message *m;

    if (kind == NULL || msg_out == NULL || proto_kind_check(kind, NULL) != PROTO_OK)
        return LIAISON_ERR_INVALID;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return LIAISON_ERR_NOMEM;
    snprintf(m->kind, sizeof(m->kind), "%s", kind);
    proto_labels_clear(&m->labels);
    *msg_out = m;
    return LIAISON_OK;
}

void
liaison_message_destroy(liaison_message **mp)
{
    liaison_message *m;

    if (mp == NULL || *mp == NULL)
        return;
    m = *mp;
    for (size_t i = 0; i < m->portion_count; i++) {
        if (m->portions[i].data != NULL) {
            proto_wipe(m->portions[i].data, m->portions[i].len);
            free(m->portions[i].data);
        }
        free(m->portions[i].readers);
    }
    for (size_t i = 0; i < m->grant_count; i++)
        free(m->grants[i]);
    free(m->sealed);
    free(m);
    *mp = NULL;
}

/* Changing a message after it was sealed would make a resend differ. */
static liaison_err
unseal(liaison_message *m)
{
    free(m->sealed);
    m->sealed = NULL;
    m->sealed_len = 0;
    memset(m->id, 0, sizeof(m->id));
    return LIAISON_OK;
}

liaison_err
liaison_message_add_recipient(liaison_message *m, const char *address)
{
    proto_addr a;

    if (address == NULL || m->recipient_count == PROTO_RECIPIENTS_MAX ||
        proto_addr_parse(address, &a, NULL) != PROTO_OK || a.kind == PROTO_ADDR_BROKER)
        return LIAISON_ERR_INVALID;
    for (size_t i = 0; i < m->recipient_count; i++) {
        if (proto_addr_equal(&m->recipients[i], &a))
            return LIAISON_OK;
    }
    m->recipients[m->recipient_count++] = a;
    return unseal(m);
}

liaison_err
liaison_message_set_labels(liaison_message *m, const char *labels)
{
    if (labels == NULL || proto_labels_parse(labels, &m->labels, NULL) != PROTO_OK)
        return LIAISON_ERR_INVALID;
    return unseal(m);
}

liaison_err
liaison_message_set_case(liaison_message *m, const char *case_id)
{
    if (case_id == NULL || strlen(case_id) > PROTO_CASE_ID_MAX)
        return LIAISON_ERR_INVALID;
    snprintf(m->case_id, sizeof(m->case_id), "%s", case_id);
    return unseal(m);
}

liaison_err
liaison_message_set_actor(liaison_message *m, const char *actor)
{
    if (m == NULL || !proto_actor_valid(actor))
        return LIAISON_ERR_INVALID;
    snprintf(m->actor, sizeof(m->actor), "%s", actor);
    return unseal(m);
}

liaison_err
liaison_message_add_grant(liaison_message *m, const void *token, size_t len)
{
    uint8_t *copy;

    if (m == NULL || token == NULL || len == 0 || len > PROTO_GRANT_MAX ||
        m->grant_count >= PROTO_GRANTS_MAX)
        return LIAISON_ERR_INVALID;
    copy = malloc(len);
    if (copy == NULL)
        return LIAISON_ERR_NOMEM;
    memcpy(copy, token, len);
    m->grants[m->grant_count] = copy;
    m->grant_lens[m->grant_count] = len;
    m->grant_count++;
    return unseal(m);
}

liaison_err
liaison_message_set_in_reply_to(liaison_message *m, const uint8_t id[16])
{
    memcpy(m->in_reply_to, id, PROTO_ID_BYTES);
    return unseal(m);
}

liaison_err
liaison_message_set_expiry(liaison_message *m, uint64_t expires_ms)
{
    m->expires_ms = expires_ms;
    return unseal(m);
}

liaison_err
liaison_message_add_portion(liaison_message *m, const char *labels, const void *data, size_t len,
                            const char *const *readers)
{
    draft_portion *p;
    size_t n = 0;

    if (m->portion_count == PROTO_PORTIONS_MAX || labels == NULL || (data == NULL && len > 0))
        return LIAISON_ERR_INVALID;
    if (len > PROTO_PORTION_MAX - PROTO_AEAD_TAG_BYTES)
        return LIAISON_ERR_TOO_LARGE;
    p = &m->portions[m->portion_count];
    memset(p, 0, sizeof(*p));
    if (proto_labels_parse(labels, &p->labels, NULL) != PROTO_OK)
        return LIAISON_ERR_INVALID;
    while (readers != NULL && readers[n] != NULL)
        n++;
    if (n > 0) {
        p->readers = calloc(n, sizeof(*p->readers));
        if (p->readers == NULL)
            return LIAISON_ERR_NOMEM;
        for (size_t i = 0; i < n; i++) {
            if (proto_addr_parse(readers[i], &p->readers[i], NULL) != PROTO_OK ||
                p->readers[i].kind != PROTO_ADDR_AGENCY) {
                free(p->readers);
                p->readers = NULL;
                return LIAISON_ERR_INVALID;
            }
        }
        p->reader_count = n;
    }
    p->data = malloc(len > 0 ? len : 1);
    if (p->data == NULL) {
        free(p->readers);
        p->readers = NULL;
        return LIAISON_ERR_NOMEM;
    }
    if (len > 0)
        memcpy(p->data, data, len);
    p->len = len;
    m->portion_count++;
    return unseal(m);
}

/* ---- Sealing ------------------------------------------------------------- */

/* Resolves the recipients to agencies through the roster, as the broker does. */
static size_t
resolve(liaison_client *c, const liaison_message *m, const proto_roster_entry **out, size_t cap)
{
    size_t n = 0;

    for (size_t k = 0; k < proto_roster_count(c->roster); k++) {
        const proto_roster_entry *e = proto_roster_at(c->roster, k);
        bool match = false;

        if (e->revoked || e->card.addr.kind != PROTO_ADDR_AGENCY ||
            proto_addr_equal(&e->card.addr, &c->id->addr))
            continue;
        for (size_t i = 0; i < m->recipient_count && !match; i++) {
            const proto_addr *sel = &m->recipients[i];

            match = sel->kind == PROTO_ADDR_AGENCY
                        ? proto_addr_equal(sel, &e->card.addr)
                        : proto_addr_matches(sel, &e->card.addr) && proto_roster_accepts(e, m->kind);
        }
        if (match && n < cap)
            out[n++] = e;
    }
    return n;
}

/*
 * The reader lists live on the heap, one per call: a client belongs to one
 * thread, but clients of different threads seal at the same time, and
 * shared buffers would give one message another's readers.
 */
static liaison_err
seal(liaison_client *c, liaison_message *m)
{
    const proto_roster_entry **agencies = NULL;
    proto_reader (*readers)[PROTO_SEALS_MAX] = NULL;
    proto_draft_portion portions[PROTO_PORTIONS_MAX];
    proto_slice grants[PROTO_GRANTS_MAX];
    proto_draft d;
    proto_detail det = {{0}, {0}};
    size_t count;
    const char *home = c->id->addr.nation;
    liaison_err err = LIAISON_OK;

    if (m->recipient_count == 0)
        return client_fail(c, LIAISON_ERR_INVALID, "the message has no recipient");
    if (m->portion_count == 0)
        return client_fail(c, LIAISON_ERR_INVALID, "the message has no portion");
    if (m->actor[0] == '\0' && c->actor[0] == '\0')
        return client_fail(c, LIAISON_ERR_INVALID,
                           "no actor: name the officer or system that sends (docs/protocol.md "
                           "section 6)");
    agencies = calloc(READERS_MAX, sizeof(*agencies));
    readers = calloc(m->portion_count, sizeof(*readers));
    if (agencies == NULL || readers == NULL) {
        err = client_fail(c, LIAISON_ERR_NOMEM, "out of memory");
        goto out;
    }
    count = resolve(c, m, agencies, READERS_MAX);
    memset(&d, 0, sizeof(d));
    memset(portions, 0, sizeof(portions));
    for (size_t i = 0; i < m->portion_count; i++) {
        draft_portion *p = &m->portions[i];
        size_t n = 0;

        if (p->reader_count > 0) {
            for (size_t r = 0; r < p->reader_count && n < PROTO_SEALS_MAX; r++) {
                const proto_roster_entry *e = proto_roster_find(c->roster, &p->readers[r]);

                if (e == NULL || e->revoked) {
                    err = client_fail(c, LIAISON_ERR_ROSTER, "reader %s.%s is not in the roster",
                                      p->readers[r].nation, p->readers[r].agency);
                    goto out;
                }
                readers[i][n].addr = e->card.addr;
                memcpy(readers[i][n].box_public, e->card.box_public, PROTO_BOX_PUBLIC_BYTES);
                n++;
            }
        } else {
            /* By default, every recipient whose nation both label sets release to. */
            for (size_t r = 0; r < count && n < PROTO_SEALS_MAX; r++) {
                const char *nation = agencies[r]->card.addr.nation;

                if (!proto_labels_releasable_to(&p->labels, home, nation) ||
                    !proto_labels_releasable_to(&m->labels, home, nation))
                    continue;
                readers[i][n].addr = agencies[r]->card.addr;
                memcpy(readers[i][n].box_public, agencies[r]->card.box_public,
                       PROTO_BOX_PUBLIC_BYTES);
                n++;
            }
        }
        portions[i].labels = p->labels;
        portions[i].plain = p->data;
        portions[i].plain_len = p->len;
        portions[i].readers = readers[i];
        portions[i].reader_count = n;
    }
    d.kind = m->kind;
    d.actor = m->actor[0] != '\0' ? m->actor : c->actor;
    for (size_t i = 0; i < m->grant_count; i++)
        grants[i] = (proto_slice){m->grants[i], m->grant_lens[i]};
    d.grants = m->grant_count > 0 ? grants : NULL;
    d.grant_count = m->grant_count;
    d.created_ms = liaison_now_ms();
    d.expires_ms = m->expires_ms != 0 ? m->expires_ms : d.created_ms + 24ull * 3600u * 1000u;
    d.recipients = m->recipients;
    d.recipient_count = m->recipient_count;
    d.case_id = m->case_id;
    memcpy(d.in_reply_to, m->in_reply_to, PROTO_ID_BYTES);
    d.labels = m->labels;
    d.portions = portions;
    d.portion_count = m->portion_count;
    proto_id_new(d.created_ms, d.id);
    if (proto_envelope_seal(&d, c->id, &m->sealed, &m->sealed_len, &det) != PROTO_OK) {
        err = client_fail(c, LIAISON_ERR_INVALID, "cannot seal: %s: %s", det.field, det.text);
        goto out;
    }
    memcpy(m->id, d.id, PROTO_ID_BYTES);
out:
    free(agencies);
    free(readers);
    return err;
}

liaison_err
liaison_message_seal(liaison_client *c, liaison_message *m, uint8_t id_out[16])
{
    liaison_err err;

    if (m->sealed == NULL && (err = seal(c, m)) != LIAISON_OK)
        return err;
    if (id_out != NULL)
        memcpy(id_out, m->id, PROTO_ID_BYTES);
    return LIAISON_OK;
}

liaison_err
liaison_message_envelope(const liaison_message *m, const uint8_t **data_out, size_t *len_out)
{
    if (m == NULL || m->sealed == NULL)
        return LIAISON_ERR_INVALID;
    *data_out = m->sealed;
    *len_out = m->sealed_len;
    return LIAISON_OK;
}

liaison_err
liaison_message_from_envelope(const void *data, size_t len, liaison_message **msg_out,
                              uint8_t id_out[16])
{
    proto_envelope *env = NULL;
    liaison_message *m = NULL;
    liaison_err err = LIAISON_ERR_INVALID;

    if (data == NULL || msg_out == NULL)
        goto out;
    env = malloc(sizeof(*env));
    m = calloc(1, sizeof(*m));
    if (env == NULL || m == NULL || (m->sealed = malloc(len > 0 ? len : 1)) == NULL) {
        err = LIAISON_ERR_NOMEM;
        goto out;
    }
    if (proto_envelope_decode(data, len, env, NULL) != PROTO_OK)
        goto out;
    memcpy(m->sealed, data, len);
    m->sealed_len = len;
    memcpy(m->id, env->id, PROTO_ID_BYTES);
    snprintf(m->kind, sizeof(m->kind), "%s", env->kind);
    snprintf(m->actor, sizeof(m->actor), "%s", env->actor);
    proto_labels_clear(&m->labels);
    if (id_out != NULL)
        memcpy(id_out, m->id, PROTO_ID_BYTES);
    *msg_out = m;
    m = NULL;
    err = LIAISON_OK;
out:
    free(env);
    liaison_message_destroy(&m);
    return err;
}

liaison_err
liaison_send(liaison_client *c, liaison_message *m, uint8_t id_out[16], uint64_t deadline_ms)
{
    proto_cmd cmd, reply;
    liaison_err err;
    int rc;

    if (m->sealed == NULL && (err = seal(c, m)) != LIAISON_OK)
        return err;
    if (id_out != NULL)
        memcpy(id_out, m->id, PROTO_ID_BYTES);
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_SUBMIT;
    cmd.corr = c->next_corr++;
    cmd.envelope = (proto_slice){m->sealed, m->sealed_len};
    if ((err = client_send(c, &cmd, deadline_ms)) != LIAISON_OK)
        return err;
    while ((rc = client_pump(c, deadline_ms, cmd.corr, &reply)) == 0)
        ;
    if (rc == -2)
        return LIAISON_ERR_REFUSED;
    if (rc < 0)
        return client_fail(c, LIAISON_ERR_TIMEOUT,
                           "no answer from the broker before the deadline; send again to retry");
    if (reply.type == PROTO_CMD_REJECTED) {
        c->reject_code = reply.code;
        snprintf(c->reject_text, sizeof(c->reject_text), "%s", reply.text);
        return client_fail(c, LIAISON_ERR_REJECTED, "rejected (%s): %s",
                           proto_wire_code_name(reply.code), reply.text);
    }
    if (reply.type != PROTO_CMD_ACCEPTED || memcmp(reply.id, m->id, PROTO_ID_BYTES) != 0)
        return client_fail(c, LIAISON_ERR_PROTOCOL, "unexpected answer to submit");
    return LIAISON_OK;
}

/* ---- Queries ------------------------------------------------------------------ */

void
liaison_answers_free(liaison_answers **ap)
{
    if (ap == NULL || *ap == NULL)
        return;
    for (size_t i = 0; i < (*ap)->count; i++)
        liaison_event_free(&(*ap)->answers[i]);
    free((*ap)->answers);
    free((*ap)->not_answered);
    free(*ap);
    *ap = NULL;
}

/* Fills a's lists of who did not answer from t: the agencies not answered
 * (those still waiting as client_tally_close names them), and the nations
 * none of whose agencies answered.  -1 when out of memory. */
static int
answers_close(liaison_answers *a, client_tally *t)
{
    size_t n = 0;

    client_tally_close(t);
    for (size_t i = 0; i < t->count; i++)
        n += t->agencies[i].status != CLIENT_TALLY_ANSWERED;
    if (n > 0 && (a->not_answered = calloc(n, sizeof(*a->not_answered))) == NULL)
        return -1;
    for (size_t i = 0; i < t->count; i++) {
        client_tally_agency *g = &t->agencies[i];
        bool nation_answered = false, listed = false;

        if (g->status == CLIENT_TALLY_ANSWERED)
            continue;
        a->not_answered[a->not_answered_count++] = g->why;
        for (size_t k = 0; k < t->count && !nation_answered; k++)
            nation_answered = t->agencies[k].status == CLIENT_TALLY_ANSWERED &&
                              strcmp(t->agencies[k].addr.nation, g->addr.nation) == 0;
        for (size_t k = 0; k < a->silent_count && !listed; k++)
            listed = strcmp(a->silent[k], g->addr.nation) == 0;
        if (!nation_answered && !listed && a->silent_count < 64)
            memcpy(a->silent[a->silent_count++], g->addr.nation, PROTO_NATION_LEN + 1);
    }
    return 0;
}

liaison_err
liaison_query(liaison_client *c, liaison_message *query, uint64_t deadline_ms,
              liaison_answers **answers_out)
{
    /* On the heap, not static: clients of different threads query at the same time. */
    const proto_roster_entry **agencies = calloc(READERS_MAX, sizeof(*agencies));
    client_tally tally;
    size_t count;
    liaison_answers *a = NULL;
    client_queued *kept_head = NULL, *kept_tail = NULL;
    uint8_t id[PROTO_ID_BYTES];
    liaison_err err = LIAISON_OK;
    bool refused = false;

    memset(&tally, 0, sizeof(tally));
    if (agencies == NULL)
        return client_fail(c, LIAISON_ERR_NOMEM, "out of memory");
    /* The agencies asked: those the recipients resolve to. */
    count = resolve(c, query, agencies, READERS_MAX);
    if (count > 0 && client_tally_init(&tally, agencies, count, query->kind) != 0) {
        free(agencies);
        return client_fail(c, LIAISON_ERR_NOMEM, "out of memory");
    }
    free(agencies);
    if (count == 0)
        return client_fail(c, LIAISON_ERR_INVALID, "the query's recipients resolve to nobody");
    if ((err = liaison_send(c, query, id, deadline_ms)) != LIAISON_OK)
        goto out;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        err = LIAISON_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        liaison_event *e = client_dequeue(c);
        client_queued *q;

        if (e == NULL) {
            int rc = 0;

            if (client_tally_waiting(&tally) == 0 ||
                (rc = client_pump(c, deadline_ms, 0, NULL)) < 0) {
                if (rc == -2)
                    refused = true;
                break;
            }
            continue;
        }
        if (e->type == LIAISON_EVENT_MESSAGE && e->has_reply_to &&
            memcmp(e->in_reply_to, id, PROTO_ID_BYTES) == 0) {
            liaison_event **grown = realloc(a->answers, (a->count + 1) * sizeof(*grown));

            if (grown == NULL) {
                liaison_event_free(&e);
                continue;
            }
            a->answers = grown;
            (void)client_tally_answer(&tally, e->sender);
            /* The answer is the application's now: acknowledge it. */
            (void)liaison_receipt(c, e);
            a->answers[a->count++] = e;
            continue;
        }
        /* A report about the query is also kept for liaison_receive (the
         * application may record it), after it told who will not answer. */
        if (e->type == LIAISON_EVENT_REPORT && memcmp(e->id, id, PROTO_ID_BYTES) == 0)
            (void)client_tally_report(&tally, e->broker, e->recipient, e->state, e->rule_id,
                                      e->detail);
        /* Not an answer: keep it, in order, for liaison_receive. */
        q = calloc(1, sizeof(*q));
        if (q == NULL) {
            liaison_event_free(&e);
            continue;
        }
        q->event = e;
        if (kept_tail != NULL)
            kept_tail->next = q;
        else
            kept_head = q;
        kept_tail = q;
    }
    if (kept_head != NULL) {
        kept_tail->next = c->queue_head;
        c->queue_head = kept_head;
        if (c->queue_tail == NULL)
            c->queue_tail = kept_tail;
    }
    if (refused) {
        err = LIAISON_ERR_REFUSED;
        goto out;
    }
    if (answers_close(a, &tally) != 0) {
        err = client_fail(c, LIAISON_ERR_NOMEM, "out of memory");
        goto out;
    }
    *answers_out = a;
    a = NULL;
out:
    liaison_answers_free(&a);
    client_tally_free(&tally);
    return err;
}
