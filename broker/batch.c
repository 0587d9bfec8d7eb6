/* Building batch items: ops, audit records, states, reports, queue entries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

broker_op *
broker_op_begin(broker *b, uint8_t type)
{
    broker_commit *c = b->collecting;
    broker_op *op;
    size_t item;

    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        broker_op *ops = realloc(c->ops, cap * sizeof(*ops));

        if (ops == NULL)
            return NULL;
        c->ops = ops;
        c->cap = cap;
    }
    if (store_batch_add_item(c->batch, &item) != STORE_OK)
        return NULL;
    if (c->count == 0)
        c->first_ms = broker_now_ms();
    op = &c->ops[c->count++];
    memset(op, 0, sizeof(*op));
    op->type = type;
    op->item = item;
    if (type != BROKER_OP_PLAIN)
        c->waited++;
    return op;
}

void
broker_op_abort(broker *b)
{
    broker_commit *c = b->collecting;

    if (c->count == 0)
        return;
    store_batch_drop_item(c->batch);
    c->count--;
    broker_recall_dropped(b, c, c->ops[c->count].item);
    if (c->ops[c->count].type != BROKER_OP_PLAIN)
        c->waited--;
}

int
broker_audit_msg(broker *b, uint8_t event, const broker_about *about, const char *party,
                 const char *counterpart, const char *rule_id, const char *detail)
{
    static const broker_about none;
    store_audit_record rec;
    proto_detail d;

    if (about == NULL)
        about = &none;
    memset(&rec, 0, sizeof(rec));
    rec.time_ms = broker_now_ms();
    rec.event = event;
    if (about->id != NULL)
        memcpy(rec.id, about->id, PROTO_ID_BYTES);
    snprintf(rec.party, sizeof(rec.party), "%s", party != NULL ? party : "");
    snprintf(rec.counterpart, sizeof(rec.counterpart), "%s", counterpart != NULL ? counterpart : "");
    snprintf(rec.purpose, sizeof(rec.purpose), "%s", about->purpose != NULL ? about->purpose : "");
    snprintf(rec.rule_id, sizeof(rec.rule_id), "%s", rule_id != NULL ? rule_id : "");
    if (rule_id != NULL && rule_id[0] != '\0')
        memcpy(rec.policy_hash, policy_hash(b->pol), PROTO_HASH_BYTES);
    if (about->envelope_hash != NULL)
        memcpy(rec.envelope_hash, about->envelope_hash, PROTO_HASH_BYTES);
    snprintf(rec.detail, sizeof(rec.detail), "%s", detail != NULL ? detail : "");
    snprintf(rec.kind, sizeof(rec.kind), "%s", about->kind != NULL ? about->kind : "");
    snprintf(rec.actor, sizeof(rec.actor), "%s", about->actor != NULL ? about->actor : "");
    /* The store refuses control characters, and a record must never be lost
     * for what a peer wrote: a detail with any is escaped whole. */
    for (const char *p = rec.detail; *p != '\0'; p++) {
        if ((uint8_t)*p < 0x20 || *p == 0x7F) {
            proto_text_escape(detail, strlen(detail), rec.detail, sizeof(rec.detail));
            break;
        }
    }
    if (store_audit_append(b->collecting->batch, &rec, &d) != STORE_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-AUDIT", "event=%s error=\"%s\"",
                  store_audit_event_name(event), d.text);
        return -1;
    }
    return 0;
}

void
broker_audit_msg_item(broker *b, uint8_t event, const broker_about *about, const char *party,
                      const char *counterpart, const char *rule_id, const char *detail)
{
    if (broker_op_begin(b, BROKER_OP_PLAIN) != NULL &&
        broker_audit_msg(b, event, about, party, counterpart, rule_id, detail) != 0)
        broker_op_abort(b);
}

void
broker_about_envelope(broker_about *about, const proto_envelope *env, const uint8_t *h)
{
    memset(about, 0, sizeof(*about));
    about->id = env->id;
    about->kind = env->kind;
    about->actor = env->actor;
    about->purpose = env->labels.purpose;
    about->envelope_hash = h;
}

int
broker_audit(broker *b, uint8_t event, const uint8_t *id, const char *party,
             const char *counterpart, const char *purpose, const char *rule_id,
             const uint8_t *envelope_hash, const char *detail)
{
    broker_about about = {id, NULL, NULL, purpose, envelope_hash};

    return broker_audit_msg(b, event, &about, party, counterpart, rule_id, detail);
}

void
broker_audit_item(broker *b, uint8_t event, const uint8_t *id, const char *party,
                  const char *counterpart, const char *purpose, const char *rule_id,
                  const uint8_t *envelope_hash, const char *detail)
{
    broker_about about = {id, NULL, NULL, purpose, envelope_hash};

    broker_audit_msg_item(b, event, &about, party, counterpart, rule_id, detail);
}

void
broker_dirty(broker *b, const char *dest)
{
    broker_commit *c = b->collecting;

    if (c->all_dirty)
        return;
    for (size_t i = 0; i < c->dirty_count; i++) {
        if (strcmp(c->dirty[i], dest) == 0)
            return;
    }
    if (c->dirty_count == sizeof(c->dirty) / sizeof(c->dirty[0])) {
        c->all_dirty = true;
        return;
    }
    snprintf(c->dirty[c->dirty_count++], sizeof(c->dirty[0]), "%s", dest);
}

/* Looks at the queues a committed batch added to: their entries are durable
 * now and may go out. */
static void
deliver_dirty(broker *b, broker_commit *c)
{
    for (size_t i = 0; i < b->session_count; i++) {
        broker_session *s = &b->sessions[i];
        bool hit = c->all_dirty;

        for (size_t k = 0; !hit && k < c->dirty_count; k++)
            hit = strcmp(c->dirty[k], s->dest) == 0;
        if (hit)
            broker_agency_deliver(b, s);
    }
    for (size_t i = 0; i < b->peer_count; i++) {
        broker_peer *p = &b->peers[i];
        bool hit = c->all_dirty;

        for (size_t k = 0; !hit && k < c->dirty_count; k++)
            hit = strcmp(c->dirty[k], p->dest) == 0;
        if (hit)
            broker_peer_send(b, p);
    }
    c->dirty_count = 0;
    c->all_dirty = false;
}

/* The accepted answers of one commit, gathered per connection so that each
 * client gets one accepted command listing its submits of the commit. */
#define ACCEPTS_CONNS 16u
static struct {
    struct {
        uint8_t rid[BROKER_RID_MAX];        /* the connection */
        size_t rid_len;                     /* bytes in rid */
        proto_ack items[PROTO_ACKS_MAX];    /* corr and id of each submit */
        size_t count;                       /* items in use */
    } conn[ACCEPTS_CONNS];
    size_t count;                           /* conns in use */
} accepts; /* the main thread's */

static void
accepts_send(broker *b, size_t i)
{
    if (accepts.conn[i].count > 0)
        broker_agency_accepted(b, accepts.conn[i].rid, accepts.conn[i].rid_len,
                               accepts.conn[i].items, accepts.conn[i].count);
    accepts.conn[i].count = 0;
}

static void
accepts_flush(broker *b)
{
    for (size_t i = 0; i < accepts.count; i++)
        accepts_send(b, i);
    accepts.count = 0;
}

static void
accepts_add(broker *b, const uint8_t *rid, size_t rid_len, uint64_t corr,
            const uint8_t id[PROTO_ID_BYTES])
{
    size_t i = 0;

    while (i < accepts.count && (accepts.conn[i].rid_len != rid_len ||
                                 memcmp(accepts.conn[i].rid, rid, rid_len) != 0))
        i++;
    if (i == ACCEPTS_CONNS) {
        accepts_flush(b);
        i = 0;
    }
    if (i == accepts.count) {
        memcpy(accepts.conn[i].rid, rid, rid_len);
        accepts.conn[i].rid_len = rid_len;
        accepts.conn[i].count = 0;
        accepts.count++;
    }
    if (accepts.conn[i].count == PROTO_ACKS_MAX)
        accepts_send(b, i);
    accepts.conn[i].items[accepts.conn[i].count].n = corr;
    memcpy(accepts.conn[i].items[accepts.conn[i].count].id, id, PROTO_ID_BYTES);
    accepts.conn[i].count++;
}

/* Completes one op of a committed batch. */
static void
complete(broker *b, broker_commit *c, broker_op *op)
{
    const store_item_result *r = store_batch_result(c->batch, op->item);
    /* Per item: when a later transaction of a large batch fails, the items of
     * the earlier ones are durable all the same. */
    bool durable = r != NULL && (r->status == STORE_ITEM_DURABLE || r->status == STORE_ITEM_DUPLICATE);
    proto_cmd cmd;

    memset(&cmd, 0, sizeof(cmd));
    switch (op->type) {
    case BROKER_OP_SUBMIT: {
        broker_job *job = op->job;
        broker_session *s = broker_session_find(b, &job->from);

        if (s != NULL && s->pending > 0)
            s->pending--;
        if (durable) {
            accepts_add(b, job->rid, job->rid_len, job->corr, job->id);
            broker_metrics_inc(b->metrics, r->status == STORE_ITEM_DUPLICATE
                                               ? BROKER_METRICS_DUPLICATES_DROPPED
                                               : BROKER_METRICS_ACCEPTED, 1);
        } else {
            char why[PROTO_TEXT_MAX];

            snprintf(why, sizeof(why), "not committed (%s); nothing was accepted, resend",
                     c->err != STORE_OK ? store_strerror(c->err)
                                        : store_strerror(r != NULL ? r->err : STORE_ERR_IO));
            broker_agency_reject(b, job->rid, job->rid_len, job->corr, job->id,
                                 PROTO_WIRE_INTERNAL, why);
            broker_metrics_inc_rejected(b->metrics, PROTO_WIRE_INTERNAL);
        }
        break;
    }
    case BROKER_OP_FORWARD_IN:
    case BROKER_OP_REPORT_IN:
        cmd.type = PROTO_CMD_FORWARD_ACK;
        if (op->type == BROKER_OP_FORWARD_IN) {
            cmd.seq = op->job->corr;
            memcpy(cmd.id, op->job->id, PROTO_ID_BYTES);
        } else {
            cmd.seq = op->seq;
            memcpy(cmd.id, op->id, PROTO_ID_BYTES);
        }
        if (!durable) {
            cmd.code = PROTO_WIRE_INTERNAL;
            snprintf(cmd.text, sizeof(cmd.text), "not committed; resend");
        }
        broker_fed_answer(b, op->job != NULL ? op->job->rid : op->rid,
                          op->job != NULL ? op->job->rid_len : op->rid_len, &cmd);
        break;
    default:
        if (!durable && r != NULL && r->status == STORE_ITEM_REJECTED)
            PROTO_LOG(PROTO_LOG_DEBUG, "B-ITEM-SKIPPED", "error=\"%s\"", store_strerror(r->err));
        break;
    }
    broker_job_free(&op->job);
}

void
broker_commit_done(broker *b)
{
    broker_commit *c = NULL;

    if (zmq_recv(b->commit_sock, &c, sizeof(c), ZMQ_DONTWAIT) != sizeof(c) || c == NULL)
        return;
    b->committing = false;
    if (c->err != STORE_OK)
        PROTO_LOG(PROTO_LOG_ERROR, "B-COMMIT", "items=%zu error=\"%s\" detail=\"%s\"",
                  c->count, store_strerror(c->err), c->detail.text);
    else if (c->count > 0)
        broker_metrics_observe_commit(b->metrics, c->seconds);
    for (size_t i = 0; i < c->count; i++)
        complete(b, c, &c->ops[i]);
    accepts_flush(b);
    c->count = 0;
    c->waited = 0;
    store_batch_reset(c->batch);
    b->sweep_more = c->sweep_more;
    if (c->sign_head && c->head_err != STORE_OK)
        PROTO_LOG(PROTO_LOG_WARN, "B-HEAD", "error=\"%s\"", store_strerror(c->head_err));
    else if (c->sign_head)
        broker_metrics_set_tree_head(b->metrics, c->head.tree_size, c->head.root, c->head.time_ms);
    /* Tell senders what expired: the sweep set the states and audited it. */
    for (size_t i = 0; i < c->expired_count; i++) {
        const store_expired *x = &c->expired[i];
        proto_addr sender;
        uint8_t zero[PROTO_HASH_BYTES] = {0};

        if (proto_addr_parse(x->sender, &sender, NULL) != PROTO_OK ||
            broker_op_begin(b, BROKER_OP_PLAIN) == NULL)
            continue;
        if (broker_state(b, x->id, &sender, &x->recipient, PROTO_STATE_EXPIRED, "",
                         "expired before delivery", zero) != 0)
            broker_op_abort(b);
        broker_metrics_inc(b->metrics, BROKER_METRICS_EXPIRED, 1);
    }
    c->expired_count = 0;
    /* Entries recalls removed are gone from the store now (or, if the
     * commit failed, stay and go out after the next reconnect). */
    broker_recall_committed(b, c);
    deliver_dirty(b, c);
    broker_commit_kick(b);
}

int
broker_enqueue_message(broker *b, const char *dest, const broker_about *about, uint64_t mask,
                       const proto_addr *sender, const char *const *notes, const uint8_t *targets,
                       size_t targets_len)
{
    uint8_t extra[STORE_QUEUE_EXTRA_MAX];
    size_t len = 0;

    if (broker_entry_message_encode(about, mask, sender, notes, targets, targets_len, extra,
                                    sizeof(extra), &len) != 0 ||
        store_batch_enqueue(b->collecting->batch, dest, about->id, broker_now_ms(), extra, len) !=
            STORE_OK)
        return -1;
    broker_dirty(b, dest);
    return 0;
}

/* The notes of entry m as redaction takes them: notes[i] for each bit i of
 * the mask, NUL-terminated in text (main thread only, like the caller). */
static void
notes_decode(const broker_entry_msg *m, const char *notes[PROTO_PORTIONS_MAX],
             char text[PROTO_PORTIONS_MAX][PROTO_NOTE_MAX + 1])
{
    const uint8_t *p = m->notes.data;

    for (size_t i = 0; i < PROTO_PORTIONS_MAX; i++) {
        notes[i] = NULL;
        if (!(m->mask >> i & 1) || p == NULL)
            continue;
        /* Parse checked that each note lies within the entry. */
        if (p[0] <= PROTO_NOTE_MAX) {
            memcpy(text[i], p + 1, p[0]);
            text[i][p[0]] = '\0';
            notes[i] = text[i];
        }
        p += 1 + p[0];
    }
}

int
broker_entry_envelope(store_read *rd, const store_queue_entry *e, broker_entry_msg *m,
                      proto_slice *bytes, uint8_t **owned)
{
    static proto_envelope env; /* the main thread's */
    store_envelope_info info;
    size_t owned_len = 0;
    uint8_t h[PROTO_HASH_BYTES];
    store_err err;

    *owned = NULL;
    if (broker_entry_message_parse(e->extra, m) != 0)
        return 1;
    /* Gone is expired (the sweep removes the entry); what no longer even
     * decodes is as damaged as bytes that do not match. */
    err = store_envelope_get(rd, e->id, &info, bytes);
    if (err == STORE_ERR_CORRUPT)
        return BROKER_ENTRY_DAMAGED;
    if (err != STORE_OK)
        return 1;
    /* What is handed on must be what was accepted: the disk, or anything
     * else, may have changed the stored bytes since. */
    proto_sha256(bytes->data, bytes->len, h);
    if (memcmp(h, m->hash, PROTO_HASH_BYTES) != 0)
        return BROKER_ENTRY_DAMAGED;
    if (m->mask != 0) {
        static char text[PROTO_PORTIONS_MAX][PROTO_NOTE_MAX + 1];
        const char *notes[PROTO_PORTIONS_MAX];

        notes_decode(m, notes, text);
        if (proto_envelope_decode(bytes->data, bytes->len, &env, NULL) != PROTO_OK ||
            proto_envelope_redact_noted(&env, m->mask, notes, owned, &owned_len) != PROTO_OK)
            return 1;
        *bytes = (proto_slice){*owned, owned_len};
    }
    return 0;
}

int
broker_entry_damaged(broker *b, const char *dest, const store_queue_entry *e,
                     const broker_entry_msg *m, const proto_addr *recipient)
{
    static proto_target targets[BROKER_TARGETS_MAX];
    static const char why[] = "the broker's stored copy no longer matches the envelope it "
                              "accepted; not delivered: send it again";
    proto_addr sender;
    size_t count = 1;
    char idhex[PROTO_ID_BYTES * 2 + 1], hhex[PROTO_HASH_BYTES * 2 + 1];
    broker_about about;
    bool ok;

    broker_about_entry(&about, e->id, m);
    proto_id_format(e->id, idhex);
    proto_hex(m->hash, PROTO_HASH_BYTES, hhex);
    PROTO_LOG(PROTO_LOG_ERROR, "B-ENVELOPE-DAMAGED",
              "id=%s queue=%s seq=%llu sender=%s accepted_hash=%s action=dropped", idhex, dest,
              (unsigned long long)e->seq, m->sender, hhex);
    if (proto_addr_parse(m->sender, &sender, NULL) != PROTO_OK)
        return -1;
    if (recipient == NULL) {
        if (proto_targets_decode(m->targets.data, m->targets.len, targets, BROKER_TARGETS_MAX,
                                 &count, NULL) != PROTO_OK)
            return -1;
    } else {
        targets[0].agency = *recipient;
    }
    if (broker_op_begin(b, BROKER_OP_PLAIN) == NULL)
        return -1;
    /* The dequeue goes first: when the entry is gone (found twice before
     * the commit), the whole item is skipped, states and audit included. */
    ok = store_batch_dequeue(b->collecting->batch, dest, e->seq) == STORE_OK;
    for (size_t i = 0; i < count && ok; i++) {
        char rtext[PROTO_ADDR_TEXT_MAX + 1];

        proto_addr_format(&targets[i].agency, rtext, sizeof(rtext));
        ok = broker_state(b, e->id, &sender, &targets[i].agency, PROTO_STATE_DAMAGED, "", why,
                          m->hash) == 0 &&
             broker_audit_msg(b, STORE_EV_DAMAGED, &about, m->sender, rtext, "",
                              "stored envelope does not match its hash") == 0;
    }
    if (!ok) {
        broker_op_abort(b);
        return -1;
    }
    broker_metrics_inc(b->metrics, BROKER_METRICS_DAMAGED, count);
    return 0;
}

static int report_enqueue(broker *b, const uint8_t id[PROTO_ID_BYTES], const proto_addr *sender,
                          const proto_status_entry *ep,
                          const uint8_t envelope_hash[PROTO_HASH_BYTES]);

/* The queue a report for sender goes to: its own, or its broker's. */
static void
report_dest(broker *b, const proto_addr *sender, char *dest, size_t len)
{
    if (strcmp(sender->nation, b->id->addr.nation) == 0)
        proto_addr_format(sender, dest, len);
    else
        snprintf(dest, len, "peer:%s", sender->nation);
}

int
broker_state(broker *b, const uint8_t id[PROTO_ID_BYTES], const proto_addr *sender,
             const proto_addr *recipient, uint8_t state, const char *rule_id, const char *detail,
             const uint8_t envelope_hash[PROTO_HASH_BYTES])
{
    proto_status_entry e;

    memset(&e, 0, sizeof(e));
    e.recipient = *recipient;
    e.state = state;
    e.time_ms = broker_now_ms();
    snprintf(e.rule_id, sizeof(e.rule_id), "%s", rule_id != NULL ? rule_id : "");
    snprintf(e.detail, sizeof(e.detail), "%s", detail != NULL ? detail : "");
    if (store_batch_set_state(b->collecting->batch, id, &e) != STORE_OK)
        return -1;
    if (sender == NULL)
        return 0;
    return report_enqueue(b, id, sender, &e, envelope_hash);
}

int
broker_notice(broker *b, const uint8_t id[PROTO_ID_BYTES], const proto_addr *sender,
              const proto_addr *recipient, uint8_t state, const char *detail,
              const uint8_t envelope_hash[PROTO_HASH_BYTES])
{
    proto_status_entry e;

    memset(&e, 0, sizeof(e));
    e.recipient = *recipient;
    e.state = state;
    e.time_ms = broker_now_ms();
    snprintf(e.detail, sizeof(e.detail), "%s", detail != NULL ? detail : "");
    return report_enqueue(b, id, sender, &e, envelope_hash);
}

/* Queues the report of e for sender, to be signed when it is sent: state,
 * time, recipient, rule, detail, hash. */
static int
report_enqueue(broker *b, const uint8_t id[PROTO_ID_BYTES], const proto_addr *sender,
               const proto_status_entry *ep, const uint8_t envelope_hash[PROTO_HASH_BYTES])
{
    proto_status_entry e = *ep;
    uint8_t extra[1 + 1 + 8 + 1 + PROTO_ADDR_TEXT_MAX + 1 + PROTO_RULE_ID_MAX + 1 + 255 +
                  PROTO_HASH_BYTES];
    char rtext[PROTO_ADDR_TEXT_MAX + 1], dest[STORE_DEST_MAX + 1];
    size_t len = 0, n;
    const proto_addr *recipient = &e.recipient;
    uint8_t state = e.state;

    extra[len++] = BROKER_ENTRY_REPORT;
    extra[len++] = state;
    proto_put_be64(extra + len, e.time_ms);
    len += 8;
    proto_addr_format(recipient, rtext, sizeof(rtext));
    n = strlen(rtext);
    extra[len++] = (uint8_t)n;
    memcpy(extra + len, rtext, n);
    len += n;
    n = strlen(e.rule_id);
    extra[len++] = (uint8_t)n;
    memcpy(extra + len, e.rule_id, n);
    len += n;
    n = strlen(e.detail);
    extra[len++] = (uint8_t)n;
    memcpy(extra + len, e.detail, n);
    len += n;
    memcpy(extra + len, envelope_hash, PROTO_HASH_BYTES);
    len += PROTO_HASH_BYTES;
    report_dest(b, sender, dest, sizeof(dest));
    if (store_batch_enqueue(b->collecting->batch, dest, id, e.time_ms, extra, len) != STORE_OK)
        return -1;
    broker_dirty(b, dest);
    return 0;
}

/* The report a report queue entry stands for, as broker_state wrote it. */
static int
report_parse(broker *b, const uint8_t id[PROTO_ID_BYTES], proto_slice extra, proto_report *out)
{
    proto_report r;
    const uint8_t *p = extra.data, *end = extra.data + extra.len;
    size_t n;

    memset(&r, 0, sizeof(r));
    if (extra.len < 1 + 1 + 8 + 3 + PROTO_HASH_BYTES || p[0] != BROKER_ENTRY_REPORT)
        return -1;
    memcpy(r.id, id, PROTO_ID_BYTES);
    r.broker = b->id->addr;
    r.entry.state = p[1];
    r.entry.time_ms = proto_be64(p + 2);
    p += 10;
    n = *p++;
    if ((size_t)(end - p) < n || proto_addr_parse_n((const char *)p, n, &r.entry.recipient, NULL) != PROTO_OK)
        return -1;
    p += n;
    n = *p++;
    if ((size_t)(end - p) < n || n > PROTO_RULE_ID_MAX)
        return -1;
    memcpy(r.entry.rule_id, p, n);
    p += n;
    n = *p++;
    if ((size_t)(end - p) < n + PROTO_HASH_BYTES || n >= sizeof(r.entry.detail))
        return -1;
    memcpy(r.entry.detail, p, n);
    p += n;
    memcpy(r.envelope_hash, p, PROTO_HASH_BYTES);
    *out = r;
    return 0;
}

int
broker_reports_sign(broker *b, const store_queue_entry *entries, size_t n, broker_signed *out)
{
    proto_report reports[BROKER_SEND_MAX];
    uint8_t *bufs[BROKER_SEND_MAX];
    size_t lens[BROKER_SEND_MAX], which[BROKER_SEND_MAX], count = 0;

    for (size_t i = 0; i < n; i++) {
        out[i] = (broker_signed){NULL, 0};
        if (i < BROKER_SEND_MAX && entries[i].extra.len > 0 &&
            entries[i].extra.data[0] == BROKER_ENTRY_REPORT &&
            report_parse(b, entries[i].id, entries[i].extra, &reports[count]) == 0)
            which[count++] = i;
    }
    if (count == 0)
        return 0;
    if (proto_report_sign_batch(reports, count, b->id, bufs, lens) != PROTO_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-REPORT-SIGN", "reports=%zu error=\"cannot sign\"", count);
        return -1;
    }
    for (size_t k = 0; k < count; k++)
        out[which[k]] = (broker_signed){bufs[k], lens[k]};
    return 0;
}

void
broker_reports_free(broker_signed *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(out[i].data);
        out[i] = (broker_signed){NULL, 0};
    }
}
