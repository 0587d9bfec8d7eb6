/* Recall: what a recall.request takes back of the message it recalls. */
#include <stdio.h>
#include <string.h>

#include "broker.h"

/* Queue entries of one message the broker looks at, at most: one per
 * agency queue and partner queue, plus the reports toward its sender. */
#define RECALL_HITS_MAX (BROKER_RESOLVED_MAX + BROKER_PEERS_MAX + 64u)

bool
broker_recall_kind(const char *kind)
{
    return strcmp(kind, BROKER_KIND_RECALL) == 0 || strcmp(kind, BROKER_KIND_RECALL_ACK) == 0;
}

/* Index of agency a among targets[0..n), or n. */
static size_t
target_index(const proto_addr *targets, size_t n, const proto_addr *a)
{
    for (size_t i = 0; i < n; i++) {
        if (proto_addr_equal(&targets[i], a))
            return i;
    }
    return n;
}

bool
broker_recall_pending(const broker *b, const char *dest, uint64_t seq)
{
    for (size_t i = 0; i < b->withdrawn_count; i++) {
        if (b->withdrawn[i].seq == seq && strcmp(b->withdrawn[i].dest, dest) == 0)
            return true;
    }
    return false;
}

/* Forgets the pending removals of batch c (of its item item only, unless
 * all_items). */
static void
withdrawn_filter(broker *b, const broker_commit *c, bool all_items, size_t item)
{
    size_t kept = 0;

    for (size_t i = 0; i < b->withdrawn_count; i++) {
        const broker_withdrawn *w = &b->withdrawn[i];

        if (w->commit == c && (all_items || w->item == item))
            continue;
        b->withdrawn[kept++] = *w;
    }
    b->withdrawn_count = kept;
}

void
broker_recall_committed(broker *b, const broker_commit *c)
{
    withdrawn_filter(b, c, true, 0);
}

void
broker_recall_dropped(broker *b, const broker_commit *c, size_t item)
{
    withdrawn_filter(b, c, false, item);
}

/* Removes entry seq of dest in the current item, and notes it pending
 * until the batch commits, so that it is not sent meanwhile.  1 when it
 * cannot be noted (too many pending: it stays, and the recall follows it),
 * 0, or -1 when the batch refused the operation. */
static int
withdraw_entry(broker *b, const char *dest, uint64_t seq)
{
    broker_commit *c = b->collecting;
    broker_withdrawn *w;

    if (b->withdrawn_count == BROKER_WITHDRAWN_MAX || c->count == 0)
        return 1;
    if (store_batch_dequeue_if(c->batch, dest, seq) != STORE_OK)
        return -1;
    w = &b->withdrawn[b->withdrawn_count++];
    snprintf(w->dest, sizeof(w->dest), "%s", dest);
    w->seq = seq;
    w->commit = c;
    w->item = c->ops[c->count - 1].item;
    return 0;
}

/* True if queue entry seq of dest was sent already: to the agency on its
 * current connection, or to the partner and not yet acknowledged (in its
 * window).  Such an entry stays; the recall follows it. */
static bool
entry_sent(broker *b, const char *dest, const proto_addr *agency, uint64_t seq)
{
    if (strncmp(dest, "peer:", 5) == 0) {
        broker_peer *p = broker_peer_find(b, dest + 5);

        return p != NULL && seq <= p->cursor;
    }
    broker_session *s = broker_session_find(b, agency);

    if (s == NULL || seq > s->cursor)
        return false;
    return true;
}

/* Records that the queue entry of original for recipient r was removed:
 * state recalled with a report to the sender, and the audit record. */
static int
withdrawn(broker *b, const uint8_t original[PROTO_ID_BYTES], const broker_entry_msg *m,
          const proto_addr *r, const char *recall_hex, const char *purpose)
{
    proto_addr sender;
    char rtext[PROTO_ADDR_TEXT_MAX + 1], detail[128];

    if (proto_addr_parse(m->sender, &sender, NULL) != PROTO_OK)
        return 0; /* an entry we wrote ourselves; its sender always parses */
    snprintf(detail, sizeof(detail), "recall %s: removed before delivery", recall_hex);
    if (broker_state(b, original, &sender, r, PROTO_STATE_RECALLED, POLICY_BUILTIN_RECALL, detail,
                     m->hash) != 0 ||
        broker_audit(b, STORE_EV_RECALLED, original, m->sender,
                     proto_addr_format(r, rtext, sizeof(rtext)), purpose, POLICY_BUILTIN_RECALL,
                     m->hash, detail) != 0)
        return -1;
    return 0;
}

int
broker_recall_withdraw(broker *b, store_read *rd, const uint8_t original[PROTO_ID_BYTES],
                       const uint8_t recall[PROTO_ID_BYTES], const proto_addr *targets, size_t n,
                       const uint8_t *original_hash, const char *originator, const char *purpose)
{
    static store_queue_hit hits[RECALL_HITS_MAX];
    static proto_target peer_targets[BROKER_TARGETS_MAX];
    static bool removed[BROKER_RESOLVED_MAX];
    char recall_hex[2 * PROTO_ID_BYTES + 1];
    size_t count = 0;
    bool more = false;
    int rc;

    if (n > BROKER_RESOLVED_MAX)
        return -1;
    proto_hex(recall, PROTO_ID_BYTES, recall_hex);
    memset(removed, 0, sizeof(removed[0]) * n);
    if (store_queue_find(rd, original, hits, RECALL_HITS_MAX, &count, &more) != STORE_OK)
        return -1;
    for (size_t i = 0; i < count; i++) {
        const store_queue_hit *h = &hits[i];
        broker_entry_msg m;

        if (broker_entry_message_parse(h->entry.extra, &m) != 0)
            continue; /* a report toward the sender: it stays */
        if (original_hash == NULL)
            original_hash = m.hash;
        if (strncmp(h->dest, "peer:", 5) == 0) {
            size_t tc = 0;
            bool covered = true;

            if (entry_sent(b, h->dest, NULL, h->entry.seq) ||
                proto_targets_decode(m.targets.data, m.targets.len, peer_targets,
                                     BROKER_TARGETS_MAX, &tc, NULL) != PROTO_OK)
                continue;
            /* One entry carries every target of that nation: it goes only
             * if the recall covers them all. */
            for (size_t k = 0; k < tc && covered; k++)
                covered = target_index(targets, n, &peer_targets[k].agency) < n;
            if (!covered || tc == 0)
                continue;
            if ((rc = withdraw_entry(b, h->dest, h->entry.seq)) != 0) {
                if (rc < 0)
                    return -1;
                continue;
            }
            for (size_t k = 0; k < tc; k++) {
                if (withdrawn(b, original, &m, &peer_targets[k].agency, recall_hex, purpose) != 0)
                    return -1;
                removed[target_index(targets, n, &peer_targets[k].agency)] = true;
            }
        } else {
            proto_addr a;
            size_t t;

            if (proto_addr_parse(h->dest, &a, NULL) != PROTO_OK)
                continue;
            t = target_index(targets, n, &a);
            if (t == n || entry_sent(b, h->dest, &a, h->entry.seq))
                continue;
            if ((rc = withdraw_entry(b, h->dest, h->entry.seq)) != 0) {
                if (rc < 0)
                    return -1;
                continue;
            }
            if (withdrawn(b, original, &m, &a, recall_hex, purpose) != 0)
                return -1;
            removed[t] = true;
        }
    }
    /* What went out already stays delivered: the recall follows it, and the
     * audit log says so for each of those recipients too. */
    for (size_t t = 0; t < n; t++) {
        char rtext[PROTO_ADDR_TEXT_MAX + 1], detail[128];

        if (removed[t])
            continue;
        snprintf(detail, sizeof(detail), "recall %s follows the message", recall_hex);
        if (broker_audit(b, STORE_EV_RECALLED, original, originator,
                         proto_addr_format(&targets[t], rtext, sizeof(rtext)), purpose,
                         POLICY_BUILTIN_RECALL, original_hash, detail) != 0)
            return -1;
    }
    return 0;
}
