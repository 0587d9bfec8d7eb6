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
    op = &c->ops[c->count++];
    memset(op, 0, sizeof(*op));
    op->type = type;
    op->item = item;
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
}

int
broker_audit(broker *b, uint8_t event, const uint8_t *id, const char *actor,
             const char *counterpart, const char *purpose, const char *rule_id,
             const uint8_t *envelope_hash, const char *detail)
{
    store_audit_record rec;
    proto_detail d;

    memset(&rec, 0, sizeof(rec));
    rec.time_ms = broker_now_ms();
    rec.event = event;
    if (id != NULL)
        memcpy(rec.id, id, PROTO_ID_BYTES);
    snprintf(rec.actor, sizeof(rec.actor), "%s", actor != NULL ? actor : "");
    snprintf(rec.counterpart, sizeof(rec.counterpart), "%s", counterpart != NULL ? counterpart : "");
    snprintf(rec.purpose, sizeof(rec.purpose), "%s", purpose != NULL ? purpose : "");
    snprintf(rec.rule_id, sizeof(rec.rule_id), "%s", rule_id != NULL ? rule_id : "");
    if (rule_id != NULL && rule_id[0] != '\0')
        memcpy(rec.policy_hash, policy_hash(b->pol), PROTO_HASH_BYTES);
    if (envelope_hash != NULL)
        memcpy(rec.envelope_hash, envelope_hash, PROTO_HASH_BYTES);
    snprintf(rec.detail, sizeof(rec.detail), "%s", detail != NULL ? detail : "");
    if (store_audit_append(b->collecting->batch, &rec, &d) != STORE_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-AUDIT", "event=%s error=\"%s\"",
                  store_audit_event_name(event), d.text);
        return -1;
    }
    return 0;
}

void
broker_dirty(broker *b, const char *dest)
{
    if (b->all_dirty)
        return;
    for (size_t i = 0; i < b->dests_dirty_count; i++) {
        if (strcmp(b->dests_dirty[i], dest) == 0)
            return;
    }
    if (b->dests_dirty_count == sizeof(b->dests_dirty) / sizeof(b->dests_dirty[0])) {
        b->all_dirty = true;
        return;
    }
    snprintf(b->dests_dirty[b->dests_dirty_count++], sizeof(b->dests_dirty[0]), "%s", dest);
}

int
broker_enqueue_message(broker *b, const char *dest, const uint8_t id[PROTO_ID_BYTES],
                       uint64_t mask, const uint8_t *targets, size_t targets_len)
{
    uint8_t extra[1 + 8 + 4096];
    size_t len = 1 + 8;

    if (targets_len > sizeof(extra) - len)
        return -1;
    extra[0] = BROKER_ENTRY_MESSAGE;
    proto_put_be64(extra + 1, mask);
    if (targets_len > 0) {
        memcpy(extra + len, targets, targets_len);
        len += targets_len;
    }
    if (store_batch_enqueue(b->collecting->batch, dest, id, broker_now_ms(), extra, len) !=
        STORE_OK)
        return -1;
    broker_dirty(b, dest);
    return 0;
}

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
    uint8_t extra[1 + 1 + 8 + 1 + PROTO_ADDR_TEXT_MAX + 1 + PROTO_RULE_ID_MAX + 1 + 255 +
                  PROTO_HASH_BYTES];
    char rtext[PROTO_ADDR_TEXT_MAX + 1], dest[STORE_DEST_MAX + 1];
    size_t len = 0, n;

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
    /* The report, signed when it is sent: state, time, recipient, rule, detail, hash. */
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

int
broker_report_build(broker *b, const uint8_t id[PROTO_ID_BYTES], proto_slice extra,
                    uint8_t **buf_out, size_t *len_out)
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
    return proto_report_sign(&r, b->id, buf_out, len_out) == PROTO_OK ? 0 : -1;
}
