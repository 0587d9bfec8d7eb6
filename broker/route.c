/* Routing: resolve recipients, decide with the policy, build the batch item. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* One resolved recipient and what the policy said about it. */
typedef struct resolved {
    proto_addr addr;                        /* an agency */
    char text[PROTO_ADDR_TEXT_MAX + 1];     /* its address text */
    bool local;                             /* of this nation */
    uint8_t action;                         /* a policy_action */
    uint64_t withheld;                      /* portions withheld from it */
    bool own_withheld;                      /* our own rules withheld some (ingress) */
    uint64_t partner_withheld;              /* portions the forwarding partner withheld */
    char rule[PROTO_RULE_ID_MAX + 1];       /* the rule that decided */
    char reason[POLICY_REASON_MAX];         /* one line */
    const char *portion_rule[PROTO_PORTIONS_MAX]; /* the rule that withheld each portion, or
                                               NULL; borrowed from the policy, which is
                                               swapped only between two events of the main
                                               loop, so valid for this routing call */
} resolved;

/* Scratch for one routing decision; main thread only, so static. */
static resolved scratch[BROKER_RESOLVED_MAX];
static proto_labels portion_labels[PROTO_PORTIONS_MAX];

static int
resolved_cmp(const void *a, const void *b)
{
    return strcmp(((const resolved *)a)->text, ((const resolved *)b)->text);
}

/* Adds agency a unless it is the sender or already listed.  -1 when full. */
static int
add_resolved(size_t *count, const proto_addr *a, const proto_addr *sender)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];

    if (proto_addr_equal(a, sender))
        return 0;
    proto_addr_format(a, text, sizeof(text));
    for (size_t i = 0; i < *count; i++) {
        if (strcmp(scratch[i].text, text) == 0)
            return 0;
    }
    if (*count == BROKER_RESOLVED_MAX)
        return -1;
    memset(&scratch[*count], 0, sizeof(scratch[0]));
    scratch[*count].addr = *a;
    memcpy(scratch[*count].text, text, sizeof(text));
    (*count)++;
    return 0;
}

/*
 * Resolves the envelope's recipients through the roster: an agency address
 * names itself (it must be in the roster and not revoked); NATION/ * and *
 * name every agency (of that nation, or of the federation) whose card
 * accepts the kind (any_kind: every agency, for the recall kinds that
 * nobody may refuse).  The sender never receives its own message.
 */
static uint16_t
resolve(broker *b, const proto_envelope *env, bool any_kind, size_t *count, char *why,
        size_t why_len)
{
    const proto_roster *r;
    uint16_t code = 0;

    *count = 0;
    pthread_rwlock_rdlock(&b->roster.lock);
    r = b->roster.roster;
    for (size_t i = 0; i < env->recipient_count && code == 0; i++) {
        const proto_addr *sel = &env->recipients[i];
        char text[PROTO_ADDR_TEXT_MAX + 1];

        if (sel->kind == PROTO_ADDR_AGENCY) {
            const proto_roster_entry *e = proto_roster_find(r, sel);

            if (e == NULL || e->revoked) {
                snprintf(why, why_len, "recipient %s is %s",
                         proto_addr_format(sel, text, sizeof(text)),
                         e == NULL ? "not in the roster" : "revoked");
                code = PROTO_WIRE_RECIPIENT;
            } else if (add_resolved(count, sel, &env->sender) != 0) {
                code = PROTO_WIRE_RECIPIENT;
            }
            continue;
        }
        for (size_t k = 0; k < proto_roster_count(r) && code == 0; k++) {
            const proto_roster_entry *e = proto_roster_at(r, k);

            if (e->revoked || e->card.addr.kind != PROTO_ADDR_AGENCY ||
                !proto_addr_matches(sel, &e->card.addr) ||
                (!any_kind && !proto_roster_accepts(e, env->kind)))
                continue;
            if (add_resolved(count, &e->card.addr, &env->sender) != 0) {
                snprintf(why, why_len, "recipients resolve to more than %u agencies",
                         BROKER_RESOLVED_MAX);
                code = PROTO_WIRE_RECIPIENT;
            }
        }
    }
    pthread_rwlock_unlock(&b->roster.lock);
    if (code == 0 && *count == 0) {
        snprintf(why, why_len, "no agency accepts '%s' among the recipients", env->kind);
        code = PROTO_WIRE_RECIPIENT;
    }
    qsort(scratch, *count, sizeof(scratch[0]), resolved_cmp);
    return code;
}

/* Appends to r's reason the consent grant decision d used, if any: the
 * audit record of the release names it. */
static void
grant_note(resolved *r, const policy_decision *d, const policy_request *req)
{
    char id[2 * PROTO_ID_BYTES + 1], who[PROTO_ADDR_TEXT_MAX + 1], until[PROTO_TIME_TEXT_BYTES];
    char reason[sizeof(r->reason)];
    const proto_grant *g;

    if (d->grant < 0 || (size_t)d->grant >= req->grant_count || d->action == POLICY_DENY)
        return;
    g = &req->grants[d->grant];
    memcpy(reason, r->reason, sizeof(reason));
    snprintf(r->reason, sizeof(r->reason), "%.120s; consent grant %s by %s until %s", reason,
             proto_hex(g->id, PROTO_ID_BYTES, id), proto_addr_format(&g->grantor, who, sizeof(who)),
             proto_time_format(g->until_ms, until));
}

static void
verdict_copy(resolved *r, const policy_decision *d)
{
    r->action = d->action;
    r->withheld = d->action == POLICY_WITHHOLD ? d->withheld : 0;
    for (size_t i = 0; i < PROTO_PORTIONS_MAX; i++)
        r->portion_rule[i] = (r->withheld >> i & 1) && i < d->portion_count
                                 ? d->portions[i].rule_id
                                 : NULL;
    snprintf(r->rule, sizeof(r->rule), "%s", d->verdict.rule_id != NULL ? d->verdict.rule_id : "");
    policy_reason(&d->verdict, r->reason, sizeof(r->reason));
    /* For a partial release, say which portion went and why: that is what the
     * sender needs to know. */
    for (size_t i = 0; r->withheld != 0 && i < d->portion_count; i++) {
        if (r->withheld >> i & 1) {
            char why[POLICY_REASON_MAX];
            const char *rule = d->portions[i].rule_id;

            policy_reason(&d->portions[i], why, sizeof(why));
            snprintf(r->reason, sizeof(r->reason), "portion %zu withheld: %.200s", i, why);
            if (rule != NULL)
                snprintf(r->rule, sizeof(r->rule), "%s", rule);
            break;
        }
    }
}

/* Fills the policy request shared by every decision on env. */
static int
request_init(const broker_job *job, const proto_envelope *env, uint8_t direction,
             policy_request *req, uint64_t now)
{
    memset(req, 0, sizeof(*req));
    for (size_t i = 0; i < env->portion_count; i++) {
        if (proto_envelope_portion_labels(env, i, &portion_labels[i]) != PROTO_OK)
            return -1;
    }
    req->direction = direction;
    req->kind = env->kind;
    req->labels = &env->labels;
    req->sender = &env->sender;
    req->recipients = env->recipients;
    req->recipient_count = env->recipient_count;
    req->portions = portion_labels;
    req->portion_count = env->portion_count;
    req->now_ms = now;
    req->grants = job->grants;
    req->grant_count = job->grant_count;
    return 0;
}

/* Egress decisions for every foreign recipient; local ones are released. */
static void
decide_egress(broker *b, const broker_job *job, const proto_envelope *env, size_t count,
              uint64_t now)
{
    policy_request req;
    char last_partner[PROTO_NATION_LEN + 1] = "";

    if (request_init(job, env, POLICY_EGRESS, &req, now) != 0)
        return;
    for (size_t i = 0; i < count; i++) {
        resolved *r = &scratch[i];
        policy_decision d;
        bool first_of_partner;

        r->local = strcmp(r->addr.nation, b->id->addr.nation) == 0;
        if (r->local) {
            r->action = POLICY_RELEASE;
            snprintf(r->reason, sizeof(r->reason), "home nation");
            continue;
        }
        first_of_partner = strcmp(last_partner, r->addr.nation) != 0;
        memcpy(last_partner, r->addr.nation, sizeof(last_partner));
        memcpy(req.partner, r->addr.nation, sizeof(req.partner));
        req.recipient = &r->addr;
        /* Rate limits count a message once per partner, not once per agency. */
        if (policy_decide(b->pol, &req, first_of_partner ? b->rate : NULL, &d) != POLICY_OK) {
            r->action = POLICY_DENY;
            snprintf(r->rule, sizeof(r->rule), "%s", POLICY_BUILTIN_DEFAULT_DENY);
            snprintf(r->reason, sizeof(r->reason), "the request could not be evaluated");
            continue;
        }
        verdict_copy(r, &d);
        grant_note(r, &d, &req);
    }
}

/* True if message id names no message (all zero). */
static bool
id_zero(const uint8_t id[PROTO_ID_BYTES])
{
    for (size_t i = 0; i < PROTO_ID_BYTES; i++) {
        if (id[i] != 0)
            return false;
    }
    return true;
}

/* True if the delivery states of a message say it reached, or was queued
 * for, agency a (not denied here, not refused by a partner). */
static bool
states_reached(const proto_status_entry *states, size_t n, const proto_addr *a)
{
    for (size_t i = 0; i < n; i++) {
        if (proto_addr_equal(&states[i].recipient, a))
            return states[i].state != PROTO_STATE_DENIED &&
                   states[i].state != PROTO_STATE_REFUSED;
    }
    return false;
}

/*
 * builtin:recall, for a recall kind submitted here (docs/policy.md): checks
 * it against what the store knows of the message it answers and fills
 * scratch with its recipients, all released by the rule.  A recall.request
 * is the original's sender's only, and goes to the agencies of its
 * recipients (whatever kinds their cards accept) that the original reached
 * or was queued for; a recall.ack goes only to the sender of the recall it
 * answers.  0, or the wire code with why.
 */
static uint16_t
recall_resolve(broker *b, store_read *rd, const proto_envelope *env, size_t *count, char *why,
               size_t why_len)
{
    static proto_status_entry states[BROKER_RESOLVED_MAX];
    store_envelope_info info;
    proto_slice bytes;
    char sender[PROTO_ADDR_TEXT_MAX + 1], hex[2 * PROTO_ID_BYTES + 1];
    bool request = strcmp(env->kind, BROKER_KIND_RECALL) == 0, known;
    size_t ns = 0, kept = 0;
    uint16_t code;

    *count = 0;
    if (id_zero(env->in_reply_to)) {
        snprintf(why, why_len, "a %s names the message it answers in in_reply_to", env->kind);
        return PROTO_WIRE_MALFORMED;
    }
    proto_hex(env->in_reply_to, PROTO_ID_BYTES, hex);
    proto_addr_format(&env->sender, sender, sizeof(sender));
    known = store_envelope_get(rd, env->in_reply_to, &info, &bytes) == STORE_OK;
    if (request) {
        if (known && strcmp(info.sender, sender) != 0) {
            snprintf(why, why_len, "denied by %s: only %s, the originator, may recall %s",
                     POLICY_BUILTIN_RECALL, info.sender, hex);
            return PROTO_WIRE_DENIED;
        }
        if (store_state_list(rd, env->in_reply_to, states, BROKER_RESOLVED_MAX, &ns) != STORE_OK)
            ns = 0;
    } else {
        if (!known || strcmp(info.kind, BROKER_KIND_RECALL) != 0) {
            snprintf(why, why_len, "denied by %s: %s answers no recall known here",
                     POLICY_BUILTIN_RECALL, env->kind);
            return PROTO_WIRE_DENIED;
        }
        for (size_t i = 0; i < env->recipient_count; i++) {
            char text[PROTO_ADDR_TEXT_MAX + 1];

            if (strcmp(proto_addr_format(&env->recipients[i], text, sizeof(text)), info.sender) !=
                0) {
                snprintf(why, why_len,
                         "denied by %s: a recall.ack goes only to %s, the sender of recall %s",
                         POLICY_BUILTIN_RECALL, info.sender, hex);
                return PROTO_WIRE_DENIED;
            }
        }
    }
    if ((code = resolve(b, env, true, count, why, why_len)) != 0)
        return code;
    for (size_t i = 0; i < *count; i++) {
        resolved *r = &scratch[i];

        /* What the store says the original reached bounds the recall; a
         * broker that no longer knows it goes by the recipients named. */
        if (request && ns > 0 && !states_reached(states, ns, &r->addr))
            continue;
        if (kept != i)
            scratch[kept] = *r;
        r = &scratch[kept++];
        r->local = strcmp(r->addr.nation, b->id->addr.nation) == 0;
        r->action = POLICY_RELEASE;
        snprintf(r->rule, sizeof(r->rule), "%s", POLICY_BUILTIN_RECALL);
        snprintf(r->reason, sizeof(r->reason), request ? "recall of %s by its originator"
                                                        : "answer to the recall of %s",
                 hex);
    }
    *count = kept;
    if (kept == 0) {
        snprintf(why, why_len, "none of the recall's recipients received %s", hex);
        return PROTO_WIRE_RECIPIENT;
    }
    return 0;
}

/*
 * builtin:recall for a partner's forward of a recall kind, whose targets
 * are scratch[0..count) (those the roster refuses already denied): the
 * same checks as recall_resolve with what this broker knows, and each
 * target released by the rule, or denied when this broker's states say the
 * original never reached it.  0, or the wire code with why (the whole
 * forward is refused).
 */
static uint16_t
recall_forward(broker *b, const proto_envelope *env, size_t count, char *why, size_t why_len)
{
    static proto_status_entry states[BROKER_RESOLVED_MAX];
    store_read *rd = NULL;
    store_envelope_info info;
    proto_slice bytes;
    char sender[PROTO_ADDR_TEXT_MAX + 1], hex[2 * PROTO_ID_BYTES + 1];
    bool request = strcmp(env->kind, BROKER_KIND_RECALL) == 0, known;
    size_t ns = 0;
    uint16_t code = 0;

    if (id_zero(env->in_reply_to)) {
        snprintf(why, why_len, "a %s names the message it answers in in_reply_to", env->kind);
        return PROTO_WIRE_MALFORMED;
    }
    if (store_read_begin(b->st, &rd) != STORE_OK) {
        snprintf(why, why_len, "the store cannot be read");
        return PROTO_WIRE_INTERNAL;
    }
    proto_hex(env->in_reply_to, PROTO_ID_BYTES, hex);
    proto_addr_format(&env->sender, sender, sizeof(sender));
    known = store_envelope_get(rd, env->in_reply_to, &info, &bytes) == STORE_OK;
    if (request && known && strcmp(info.sender, sender) != 0) {
        snprintf(why, why_len, "denied by %s: only %s, the originator, may recall %s",
                 POLICY_BUILTIN_RECALL, info.sender, hex);
        code = PROTO_WIRE_DENIED;
    } else if (!request && (!known || strcmp(info.kind, BROKER_KIND_RECALL) != 0)) {
        snprintf(why, why_len, "denied by %s: %s answers no recall known here",
                 POLICY_BUILTIN_RECALL, env->kind);
        code = PROTO_WIRE_DENIED;
    } else if (request &&
               store_state_list(rd, env->in_reply_to, states, BROKER_RESOLVED_MAX, &ns) !=
                   STORE_OK) {
        ns = 0;
    }
    store_read_end(&rd);
    for (size_t i = 0; i < count && code == 0; i++) {
        resolved *r = &scratch[i];

        if (r->action == POLICY_DENY)
            continue;
        if (!request && strcmp(r->text, info.sender) != 0) {
            snprintf(why, why_len,
                     "denied by %s: a recall.ack goes only to %s, the sender of recall %s",
                     POLICY_BUILTIN_RECALL, info.sender, hex);
            code = PROTO_WIRE_DENIED;
            break;
        }
        snprintf(r->rule, sizeof(r->rule), "%s", POLICY_BUILTIN_RECALL);
        if (request && ns > 0 && !states_reached(states, ns, &r->addr)) {
            r->action = POLICY_DENY;
            snprintf(r->reason, sizeof(r->reason), "%s never received %s", r->text, hex);
            continue;
        }
        r->action = POLICY_RELEASE;
        r->withheld = 0;
        snprintf(r->reason, sizeof(r->reason), request ? "recall of %s by its originator"
                                                        : "answer to the recall of %s",
                 hex);
    }
    return code;
}

/* For a recall.request: adds to the current item what it takes back of
 * the original for the released recipients in scratch[0..count). */
static int
recall_item(broker *b, const proto_envelope *env, size_t count)
{
    static proto_addr targets[BROKER_RESOLVED_MAX];
    store_read *rd = NULL;
    store_envelope_info info;
    proto_slice bytes;
    uint8_t hash[PROTO_HASH_BYTES];
    const uint8_t *h = NULL;
    char sender[PROTO_ADDR_TEXT_MAX + 1];
    broker_about about;
    size_t n = 0;
    int rc;

    if (strcmp(env->kind, BROKER_KIND_RECALL) != 0)
        return 0;
    for (size_t i = 0; i < count; i++) {
        if (scratch[i].action != POLICY_DENY)
            targets[n++] = scratch[i].addr;
    }
    if (store_read_begin(b->st, &rd) != STORE_OK)
        return -1;
    if (store_envelope_get(rd, env->in_reply_to, &info, &bytes) == STORE_OK) {
        proto_sha256(bytes.data, bytes.len, hash);
        h = hash;
    }
    about.id = env->in_reply_to;
    about.kind = h != NULL ? info.kind : "";
    about.actor = env->actor;
    about.purpose = env->labels.purpose;
    about.envelope_hash = h;
    rc = broker_recall_withdraw(b, rd, &about, env->id, targets, n,
                                proto_addr_format(&env->sender, sender, sizeof(sender)));
    store_read_end(&rd);
    return rc;
}

/* The detail of a message's `received` record: the message it answers
 * ("in reply to <32 hex>"), so that an audit report links answers to what
 * they answer; "" when it answers none. */
static const char *
received_detail(const proto_envelope *env, char *buf, size_t len)
{
    char id[2 * PROTO_ID_BYTES + 1];

    if (proto_id_is_zero(env->in_reply_to))
        return "";
    proto_id_format(env->in_reply_to, id);
    snprintf(buf, len, "in reply to %s", id);
    return buf;
}

/* Answers a submit that will not be committed, and audits the refusal: a
 * `rejected` record, preceded, when egress policy denied it to every
 * recipient (denials, the count of scratch, else 0), by each recipient's
 * `denied` record with its rule, as for a message denied to some of them. */
static void
refuse_submit(broker *b, broker_job *job, uint16_t code, const char *why, size_t denials)
{
    broker_session *s = broker_session_find(b, &job->from);
    char party[PROTO_ADDR_TEXT_MAX + 1];
    const uint8_t *id = job->decoded ? job->id : NULL;
    broker_about about = {id, NULL, NULL, NULL, id != NULL ? job->envelope_hash : NULL};
    bool ok;

    broker_agency_reject(b, job->rid, job->rid_len, job->corr, id, code, why);
    broker_metrics_inc_rejected(b->metrics, code);
    if (s != NULL && s->pending > 0)
        s->pending--;
    if (job->decoded && job->env != NULL)
        broker_about_envelope(&about, job->env, job->envelope_hash);
    proto_addr_format(&job->from, party, sizeof(party));
    broker_metrics_note_refusal(
        b->metrics, &(broker_metrics_refusal){
                        BROKER_METRICS_REFUSED_SUBMISSION, broker_now_ms(), party,
                        job->decoded && job->env != NULL ? job->env->kind : NULL,
                        proto_wire_code_name(code), denials > 0 ? scratch[0].rule : NULL, why});
    if (broker_op_begin(b, BROKER_OP_PLAIN) != NULL) {
        ok = true;
        for (size_t i = 0; i < denials && ok; i++)
            ok = broker_audit_msg(b, STORE_EV_DENIED, &about, party, scratch[i].text,
                                  scratch[i].rule, scratch[i].reason) == 0;
        if (!ok || broker_audit_msg(b, STORE_EV_REJECTED, &about, party, "", "", why) != 0)
            broker_op_abort(b);
    }
    broker_job_free(&job);
}

/* True if a queue already holds as many entries as the configuration allows. */
static bool
queue_full(broker *b, store_read *rd, const char *dest)
{
    uint64_t depth = 0;

    if (store_queue_depth(rd, dest, &depth) != STORE_OK)
        return false;
    return depth >= b->cfg->limits.max_queue_depth;
}

/* Notes for redaction (docs/protocol.md section 6.5), and the pointers to
 * them that broker_enqueue_message takes; main thread only. */
static char note_text[PROTO_PORTIONS_MAX][PROTO_NOTE_MAX + 1];
static const char *notes[PROTO_PORTIONS_MAX];

/* Notes portion i as withheld by nation, by rule when rule is not NULL. */
static void
note_set(size_t i, const char *nation, const char *rule)
{
    if (rule != NULL && rule[0] != '\0')
        snprintf(note_text[i], sizeof(note_text[i]), "%s %.*s", nation, PROTO_RULE_ID_MAX, rule);
    else
        snprintf(note_text[i], sizeof(note_text[i]), "%s", nation);
    notes[i] = note_text[i];
}

/* The rule that withheld portion i from every released target of
 * scratch[from..to), or NULL when they differ (or none is known). */
static const char *
common_rule(size_t from, size_t to, size_t i)
{
    const char *rule = NULL;

    for (size_t k = from; k < to; k++) {
        const char *r = scratch[k].portion_rule[i];

        if (scratch[k].action == POLICY_DENY)
            continue;
        if (r == NULL || (rule != NULL && strcmp(rule, r) != 0))
            return NULL;
        rule = r;
    }
    return rule;
}

/* Adds every foreign target of partner nation (scratch[from..to)) as one
 * queue entry toward it: the copy drops portions withheld from all of them,
 * each noted with this nation and the rule that withheld it, when one rule
 * withheld it from all of them (else the nation alone). */
static int
enqueue_partner(broker *b, const proto_envelope *env, const uint8_t *hash, size_t from, size_t to)
{
    proto_target targets[BROKER_TARGETS_MAX];
    uint8_t buf[1 + BROKER_TARGETS_MAX * (1 + PROTO_ADDR_TEXT_MAX + 8)];
    uint64_t common = ~(uint64_t)0;
    size_t n = 0, len;
    char dest[16];
    broker_about about;

    for (size_t i = from; i < to; i++) {
        if (scratch[i].action == POLICY_DENY)
            continue;
        if (n == BROKER_TARGETS_MAX)
            return -1;
        targets[n].agency = scratch[i].addr;
        targets[n].withheld = scratch[i].withheld;
        common &= scratch[i].withheld;
        n++;
    }
    if (n == 0)
        return 0;
    if (env->portion_count < 64)
        common &= ((uint64_t)1 << env->portion_count) - 1;
    for (size_t i = 0; i < PROTO_PORTIONS_MAX; i++) {
        notes[i] = NULL;
        if (common >> i & 1)
            note_set(i, b->id->addr.nation, common_rule(from, to, i));
    }
    if (proto_targets_encode(targets, n, buf, sizeof(buf), &len) != PROTO_OK)
        return -1;
    snprintf(dest, sizeof(dest), "peer:%s", scratch[from].addr.nation);
    broker_about_envelope(&about, env, hash);
    return broker_enqueue_message(b, dest, &about, common, &env->sender, notes, buf, len);
}

/* Adds to the current item the message's retention at this broker, when a
 * retention rule keeps it for a time (docs/policy.md); "case" and no rule
 * mean the broker keeps it as before. */
static int
add_retention(broker *b, const proto_envelope *env, const uint8_t *hash, const char *sender)
{
    policy_retention_query q;
    policy_retention pr;
    store_retention r;

    memset(&q, 0, sizeof(q));
    q.kind = env->kind;
    q.labels = &env->labels;
    q.case_id = env->case_id;
    q.id = env->id;
    q.created_ms = env->created_ms;
    if (policy_retention_lookup(b->pol, &q, 0, &pr) != POLICY_OK || pr.keep != POLICY_KEEP_FOR)
        return 0;
    memset(&r, 0, sizeof(r));
    memcpy(r.id, env->id, PROTO_ID_BYTES);
    r.due_ms = pr.until_ms;
    r.created_ms = env->created_ms;
    r.keep_ms = pr.keep_ms;
    memcpy(r.envelope_hash, hash, PROTO_HASH_BYTES);
    snprintf(r.kind, sizeof(r.kind), "%s", env->kind);
    snprintf(r.case_id, sizeof(r.case_id), "%s", env->case_id);
    snprintf(r.rule, sizeof(r.rule), "%s", pr.rule);
    snprintf(r.sender, sizeof(r.sender), "%s", sender);
    return store_batch_retain(b->collecting->batch, &r) == STORE_OK ? 0 : -1;
}

/*
 * A message its recipient's agent would answer, queued where no one will
 * take it soon, is news for its sender, who may be waiting for the answer
 * (docs/protocol.md section 7.3): r, released to a local agency with no
 * receiving connection, is reported unattended; toward a partner broker
 * whose link is down, unreachable.  Neither changes the stored state: the
 * message stays queued and goes when the agency or the link comes back.
 */
static int
notice_waits(broker *b, const proto_envelope *env, const resolved *r, const uint8_t *hash,
             uint64_t now)
{
    char detail[64];

    if (r->action == POLICY_DENY || !proto_kind_answered(env->kind))
        return 0;
    if (r->local) {
        if (broker_agency_attended(b, &r->addr, now))
            return 0;
        return broker_notice(b, env->id, &env->sender, &r->addr, PROTO_STATE_UNATTENDED,
                             "no agent of the agency is connected", hash);
    }
    {
        broker_peer *p = broker_peer_find(b, r->addr.nation);

        if (p != NULL && !broker_peer_unreachable(p, now))
            return 0;
        snprintf(detail, sizeof(detail), "the link to partner broker %s is down",
                 r->addr.nation);
        return broker_notice(b, env->id, &env->sender, &r->addr, PROTO_STATE_UNREACHABLE,
                             detail, hash);
    }
}

/* Adds the item of an accepted submit; -1 if the batch refused an operation. */
static int
build_submit_item(broker *b, broker_job *job, size_t count, uint64_t now)
{
    const proto_envelope *env = job->env;
    store_envelope_info info;
    char sender[PROTO_ADDR_TEXT_MAX + 1], reply[48];
    const uint8_t *h = job->envelope_hash;
    broker_about about;

    broker_about_envelope(&about, env, h);
    memset(&info, 0, sizeof(info));
    memcpy(info.id, env->id, PROTO_ID_BYTES);
    info.received_ms = now;
    info.expires_ms = env->expires_ms;
    info.dup_until_ms = env->expires_ms + BROKER_DUP_WINDOW_MS;
    proto_addr_format(&env->sender, sender, sizeof(sender));
    snprintf(info.sender, sizeof(info.sender), "%s", sender);
    snprintf(info.kind, sizeof(info.kind), "%s", env->kind);
    if (store_batch_put_envelope(b->collecting->batch, &info, zmq_msg_data(&job->msg),
                                 zmq_msg_size(&job->msg)) != STORE_OK ||
        add_retention(b, env, h, sender) != 0 ||
        broker_audit_msg(b, STORE_EV_RECEIVED, &about, sender, "", "",
                         received_detail(env, reply, sizeof(reply))) != 0 ||
        recall_item(b, env, count) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        resolved *r = &scratch[i];
        uint8_t event = r->action == POLICY_DENY       ? STORE_EV_DENIED
                        : r->action == POLICY_WITHHOLD ? STORE_EV_WITHHELD
                                                       : STORE_EV_RELEASED;

        if (broker_audit_msg(b, event, &about, sender, r->text, r->rule, r->reason) != 0)
            return -1;
        if (r->action == POLICY_DENY) {
            if (broker_state(b, env->id, &env->sender, &r->addr, PROTO_STATE_DENIED, r->rule,
                             r->reason, h) != 0)
                return -1;
            continue;
        }
        if (r->action == POLICY_WITHHOLD &&
            broker_state(b, env->id, &env->sender, &r->addr, PROTO_STATE_WITHHELD, r->rule,
                         r->reason, h) != 0)
            return -1;
        if (broker_state(b, env->id, NULL, &r->addr, PROTO_STATE_QUEUED, r->rule, "", h) != 0)
            return -1;
        if (r->local &&
            broker_enqueue_message(b, r->text, &about, 0, &env->sender, NULL, NULL, 0) != 0)
            return -1;
        if (r->local)
            broker_reply_answer(b, &r->addr, env->id, env->in_reply_to);
        if (notice_waits(b, env, r, h, now) != 0)
            return -1;
    }
    for (size_t i = 0; i < count;) {
        size_t j = i;

        while (j < count && strcmp(scratch[j].addr.nation, scratch[i].addr.nation) == 0)
            j++;
        if (!scratch[i].local && enqueue_partner(b, env, h, i, j) != 0)
            return -1;
        i = j;
    }
    return broker_audit_msg(b, STORE_EV_ACCEPTED, &about, sender, "", "", NULL);
}

void
broker_route_submit(broker *b, broker_job *job)
{
    uint64_t now = broker_now_ms();
    const proto_envelope *env = job->env;
    store_read *rd = NULL;
    char why[PROTO_TEXT_MAX] = "";
    uint16_t code = 0;
    size_t count = 0, denied = 0;
    bool seen = false;
    broker_op *op;

    /* Once the envelope decodes, the first question is who sent it. */
    if (job->decoded && !proto_addr_equal(&env->sender, &job->from)) {
        char a[PROTO_ADDR_TEXT_MAX + 1], c[PROTO_ADDR_TEXT_MAX + 1];

        snprintf(why, sizeof(why), "envelope sender %s is not the authenticated agency %s",
                 proto_addr_format(&env->sender, a, sizeof(a)),
                 proto_addr_format(&job->from, c, sizeof(c)));
        refuse_submit(b, job, PROTO_WIRE_SENDER, why, 0);
        return;
    }
    if (job->result != PROTO_OK) {
        refuse_submit(b, job, job->wire_code, job->why, 0);
        return;
    }
    if (env->expires_ms <= now) {
        refuse_submit(b, job, PROTO_WIRE_EXPIRED, "the message expired before it arrived", 0);
        return;
    }
    if (env->created_ms > now + BROKER_CLOCK_SKEW_MS) {
        refuse_submit(b, job, PROTO_WIRE_EXPIRED,
                      "the message is created more than 5 minutes in the future", 0);
        return;
    }
    if (store_read_begin(b->st, &rd) != STORE_OK) {
        refuse_submit(b, job, PROTO_WIRE_INTERNAL, "the store cannot be read", 0);
        return;
    }
    if (store_dup_seen(rd, env->id, now, &seen) == STORE_OK && seen) {
        /* Already accepted: answer so again, store nothing twice. */
        broker_session *s = broker_session_find(b, &job->from);
        proto_ack again = {job->corr, {0}};

        store_read_end(&rd);
        memcpy(again.id, env->id, PROTO_ID_BYTES);
        broker_agency_accepted(b, job->rid, job->rid_len, &again, 1);
        broker_metrics_inc(b->metrics, BROKER_METRICS_DUPLICATES_DROPPED, 1);
        if (s != NULL && s->pending > 0)
            s->pending--;
        broker_job_free(&job);
        return;
    }
    if (broker_recall_kind(env->kind)) {
        code = recall_resolve(b, rd, env, &count, why, sizeof(why));
    } else {
        code = resolve(b, env, false, &count, why, sizeof(why));
        if (code == 0)
            decide_egress(b, job, env, count, now);
    }
    if (code == 0) {
        for (size_t i = 0; i < count && code == 0; i++) {
            char dest[16];

            if (scratch[i].action == POLICY_DENY) {
                denied++;
                continue;
            }
            if (!scratch[i].local)
                snprintf(dest, sizeof(dest), "peer:%s", scratch[i].addr.nation);
            if (queue_full(b, rd, scratch[i].local ? scratch[i].text : dest)) {
                snprintf(why, sizeof(why), "the queue toward %s is full",
                         scratch[i].local ? scratch[i].text : dest);
                code = PROTO_WIRE_BUSY;
            }
        }
    }
    store_read_end(&rd);
    if (code == 0 && denied == count) {
        snprintf(why, sizeof(why), "denied by %.64s: %.170s", scratch[0].rule, scratch[0].reason);
        code = PROTO_WIRE_DENIED;
        broker_metrics_inc(b->metrics, BROKER_METRICS_DENIED, count);
    }
    if (code != 0) {
        refuse_submit(b, job, code, why, code == PROTO_WIRE_DENIED ? count : 0);
        return;
    }
    op = broker_op_begin(b, BROKER_OP_SUBMIT);
    if (op == NULL) {
        refuse_submit(b, job, PROTO_WIRE_BUSY, "the broker is committing too much; retry", 0);
        return;
    }
    if (build_submit_item(b, job, count, now) != 0) {
        broker_op_abort(b);
        refuse_submit(b, job, PROTO_WIRE_INTERNAL, "the message could not be queued", 0);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        if (scratch[i].action == POLICY_DENY)
            broker_metrics_inc(b->metrics, BROKER_METRICS_DENIED, 1);
        else if (scratch[i].action == POLICY_WITHHOLD)
            broker_metrics_inc(b->metrics, BROKER_METRICS_WITHHELD, 1);
        else
            broker_metrics_inc(b->metrics, BROKER_METRICS_RELEASED, 1);
    }
    /* Its answers go to the connection that submitted it, if it receives. */
    broker_reply_query(b, &job->from, env->id, job->rid, job->rid_len);
    /* The decoded envelope is not needed any more; its bytes wait for the commit. */
    free(job->env);
    job->env = NULL;
    op->job = job;
    broker_commit_kick(b);
}

/* ---- Forwards from partner brokers -------------------------------------- */

void
broker_refuse_partner(broker *b, broker_job *job, uint16_t code, const char *why)
{
    proto_cmd ack;
    char peer[PROTO_ADDR_TEXT_MAX + 1];

    memset(&ack, 0, sizeof(ack));
    ack.type = PROTO_CMD_FORWARD_ACK;
    ack.seq = job->corr;
    if (job->decoded)
        memcpy(ack.id, job->id, PROTO_ID_BYTES);
    else
        memset(ack.id, 0xff, PROTO_ID_BYTES); /* unknown: an id no message has */
    ack.code = code;
    snprintf(ack.text, sizeof(ack.text), "%s", why);
    /* Logged before the partner hears it, so the log never lags the answer. */
    PROTO_LOG(PROTO_LOG_WARN, job->type == PROTO_CMD_REPORT ? "B-REPORT-REFUSED" : "B-FWD-REFUSED",
              "peer=%s code=%s why=\"%s\"", proto_addr_format(&job->from, peer, sizeof(peer)),
              proto_wire_code_name(code), why);
    /* Counted before the answer too, so a scrape after it sees the count. */
    if (job->type == PROTO_CMD_REPORT) {
        broker_metrics_inc(b->metrics, BROKER_METRICS_REPORTS_REFUSED_IN, 1);
    } else {
        broker_metrics_inc(b->metrics, BROKER_METRICS_FORWARDS_REFUSED_IN, 1);
        broker_metrics_inc_rejected(b->metrics, code);
    }
    proto_addr_format(&job->from, peer, sizeof(peer)); /* the log line may have skipped it */
    broker_metrics_note_refusal(
        b->metrics, &(broker_metrics_refusal){
                        BROKER_METRICS_REFUSED_FORWARD, broker_now_ms(), peer,
                        job->decoded && job->env != NULL ? job->env->kind : NULL,
                        proto_wire_code_name(code), NULL, why});
    broker_fed_answer(b, job->rid, job->rid_len, &ack);
    {
        broker_about about = {job->decoded ? job->id : NULL, NULL, NULL, NULL, NULL};

        if (job->decoded && job->env != NULL)
            broker_about_envelope(&about, job->env, job->envelope_hash);
        broker_audit_msg_item(b, STORE_EV_REJECTED, &about, peer, b->id->addr.nation, "", why);
    }
    broker_job_free(&job);
}

/*
 * Notes what r gets withheld of a forwarded message: what the partner
 * withheld (its targets' mask, or a portion that came withheld without a
 * note) names the partner's nation alone, since the rule is the partner's;
 * what our own ingress rules withheld names our nation and the rule.  A
 * portion that came with a note keeps it (redaction copies it).
 */
static void
forward_notes(const proto_envelope *env, const resolved *r, const char *partner,
              const char *own)
{
    for (size_t i = 0; i < PROTO_PORTIONS_MAX; i++) {
        notes[i] = NULL;
        if (!(r->withheld >> i & 1) || i >= env->portion_count)
            continue;
        if (r->partner_withheld >> i & 1)
            note_set(i, partner, NULL);
        else
            note_set(i, own, r->portion_rule[i]);
    }
}

static int
build_forward_item(broker *b, broker_job *job, size_t count, uint64_t now)
{
    const proto_envelope *env = job->env;
    const uint8_t *h = job->envelope_hash;
    store_envelope_info info;
    char sender[PROTO_ADDR_TEXT_MAX + 1], peer[PROTO_ADDR_TEXT_MAX + 1], reply[48];
    size_t released = 0;
    broker_about about;

    broker_about_envelope(&about, env, h);
    memset(&info, 0, sizeof(info));
    memcpy(info.id, env->id, PROTO_ID_BYTES);
    info.received_ms = now;
    info.expires_ms = env->expires_ms;
    info.dup_until_ms = env->expires_ms + BROKER_DUP_WINDOW_MS;
    proto_addr_format(&env->sender, sender, sizeof(sender));
    proto_addr_format(&job->from, peer, sizeof(peer));
    snprintf(info.sender, sizeof(info.sender), "%s", sender);
    snprintf(info.kind, sizeof(info.kind), "%s", env->kind);
    if (store_batch_put_envelope(b->collecting->batch, &info, zmq_msg_data(&job->msg),
                                 zmq_msg_size(&job->msg)) != STORE_OK ||
        add_retention(b, env, h, sender) != 0 ||
        broker_audit_msg(b, STORE_EV_RECEIVED, &about, sender, peer, "",
                         received_detail(env, reply, sizeof(reply))) != 0 ||
        recall_item(b, env, count) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        resolved *r = &scratch[i];

        if (r->action == POLICY_DENY) {
            if (broker_audit_msg(b, STORE_EV_DENIED, &about, sender, r->text, r->rule,
                                 r->reason) != 0 ||
                broker_state(b, env->id, &env->sender, &r->addr, PROTO_STATE_REFUSED, r->rule,
                             r->reason, h) != 0)
                return -1;
            continue;
        }
        released++;
        forward_notes(env, r, job->from.nation, b->id->addr.nation);
        if (broker_audit_msg(b, r->own_withheld ? STORE_EV_WITHHELD : STORE_EV_RELEASED, &about,
                             sender, r->text, r->rule, r->reason) != 0 ||
            broker_state(b, env->id, &env->sender, &r->addr,
                         r->own_withheld ? PROTO_STATE_WITHHELD : PROTO_STATE_ACCEPTED, r->rule,
                         r->own_withheld ? r->reason : "", h) != 0 ||
            broker_enqueue_message(b, r->text, &about, r->withheld, &env->sender, notes, NULL,
                                   0) != 0 ||
            notice_waits(b, env, r, h, now) != 0)
            return -1;
        broker_reply_answer(b, &r->addr, env->id, env->in_reply_to);
    }
    return broker_audit_msg(b, released > 0 ? STORE_EV_ACCEPTED : STORE_EV_REFUSED, &about,
                            sender, peer, "", NULL);
}

/*
 * Checks that every target of a partner's forward is one the sender signed
 * for: an agency of this nation that the envelope names, or that one of its
 * selectors (NATION/ *, *) matches and whose card accepts the kind, the way
 * resolve() picks the agencies of a submit (for a recall kind, whatever
 * kinds its card accepts).  A partner that lists any other
 * target misroutes, so the whole forward is refused rather than the bad
 * targets dropped: 0, or PROTO_WIRE_RECIPIENT with why naming the target.
 * A named target that is missing from our roster or revoked is not refused
 * here: rosters can differ for a while between nations, and such a target
 * is denied on its own below.
 */
static uint16_t
check_targets(broker *b, const broker_job *job, char *why, size_t why_len)
{
    const proto_envelope *env = job->env;
    const char *nation = b->id->addr.nation;
    uint16_t code = 0;

    pthread_rwlock_rdlock(&b->roster.lock);
    for (size_t i = 0; i < job->target_count && code == 0; i++) {
        const proto_addr *t = &job->targets[i].agency;
        const proto_roster_entry *e = proto_roster_find(b->roster.roster, t);
        char text[PROTO_ADDR_TEXT_MAX + 1];
        bool signed_for = false;

        proto_addr_format(t, text, sizeof(text));
        if (t->kind != PROTO_ADDR_AGENCY || strcmp(t->nation, nation) != 0) {
            snprintf(why, why_len, "target %s is not an agency of %s", text, nation);
            code = PROTO_WIRE_RECIPIENT;
            break;
        }
        for (size_t k = 0; k < env->recipient_count && !signed_for; k++) {
            const proto_addr *sel = &env->recipients[k];

            if (sel->kind == PROTO_ADDR_AGENCY)
                signed_for = proto_addr_equal(sel, t);
            else
                signed_for = proto_addr_matches(sel, t) && e != NULL && !e->revoked &&
                             (broker_recall_kind(env->kind) ||
                              proto_roster_accepts(e, env->kind));
        }
        if (!signed_for) {
            snprintf(why, why_len,
                     "target %s is not among the recipients the sender signed (kind '%s')", text,
                     env->kind);
            code = PROTO_WIRE_RECIPIENT;
        }
    }
    pthread_rwlock_unlock(&b->roster.lock);
    return code;
}

/* Ingress decisions for the targets of a partner's forward in
 * scratch[0..count) (those the roster refuses already denied).  -1 when
 * the portion labels do not decode. */
static int
decide_ingress(broker *b, const broker_job *job, size_t count, uint64_t now)
{
    const proto_envelope *env = job->env;
    policy_request req;

    if (request_init(job, env, POLICY_INGRESS, &req, now) != 0)
        return -1;
    memcpy(req.partner, job->from.nation, sizeof(req.partner));
    for (size_t i = 0; i < count; i++) {
        policy_decision d;
        uint64_t asked = scratch[i].withheld;

        if (scratch[i].action == POLICY_DENY)
            continue;
        req.recipient = &scratch[i].addr;
        if (policy_decide(b->pol, &req, i == 0 ? b->rate : NULL, &d) != POLICY_OK) {
            scratch[i].action = POLICY_DENY;
            snprintf(scratch[i].rule, sizeof(scratch[i].rule), "%s", POLICY_BUILTIN_DEFAULT_DENY);
            snprintf(scratch[i].reason, sizeof(scratch[i].reason), "not evaluated");
            continue;
        }
        verdict_copy(&scratch[i], &d);
        grant_note(&scratch[i], &d, &req);
        /* What the partner withheld stays withheld, on top of our own rules;
         * own_withheld says whether our ingress rules withheld anything. */
        scratch[i].own_withheld = scratch[i].withheld != 0;
        scratch[i].partner_withheld = asked | proto_envelope_withheld_mask(env);
        scratch[i].withheld |= scratch[i].partner_withheld;
        if (scratch[i].action != POLICY_DENY && env->portion_count < 64 &&
            scratch[i].withheld == ((uint64_t)1 << env->portion_count) - 1) {
            scratch[i].action = POLICY_DENY;
            snprintf(scratch[i].rule, sizeof(scratch[i].rule), "%s", "builtin:all-withheld");
            snprintf(scratch[i].reason, sizeof(scratch[i].reason), "every portion is withheld");
        }
    }
    return 0;
}

void
broker_route_forward(broker *b, broker_job *job)
{
    uint64_t now = broker_now_ms();
    const proto_envelope *env = job->env;
    const char *nation = b->id->addr.nation;
    char why[PROTO_TEXT_MAX] = "";
    store_read *rd = NULL;
    size_t count = 0;
    bool seen = false;
    broker_op *op;

    if (job->result != PROTO_OK) {
        broker_refuse_partner(b, job, job->wire_code, job->why);
        return;
    }
    /* A partner forwards only what its own agencies wrote. */
    if (strcmp(env->sender.nation, job->from.nation) != 0) {
        snprintf(why, sizeof(why), "sender nation %s is not the forwarding broker %s",
                 env->sender.nation, job->from.nation);
        broker_refuse_partner(b, job, PROTO_WIRE_SENDER, why);
        return;
    }
    for (size_t i = 0; i < job->hop_count; i++) {
        if (strcmp(job->hops[i], nation) == 0 || job->hop_count >= PROTO_HOPS_MAX) {
            broker_refuse_partner(b, job, PROTO_WIRE_LOOP, "the message has already crossed this broker");
            return;
        }
    }
    /* Before anything is stored: a misrouting partner gets nothing through. */
    if (check_targets(b, job, why, sizeof(why)) != 0) {
        broker_refuse_partner(b, job, PROTO_WIRE_RECIPIENT, why);
        return;
    }
    if (store_read_begin(b->st, &rd) != STORE_OK) {
        broker_refuse_partner(b, job, PROTO_WIRE_INTERNAL, "the store cannot be read");
        return;
    }
    /* A forward resent after a lost acknowledgement (the link dropped, or a
     * broker restarted) is answered as accepted again, before the checks
     * that follow (expiry, roster, policy), and changes nothing: the
     * recipient gets it once.  A copy that
     * races the first one through the pool is dropped when the batch
     * commits (the store refuses the second envelope) and acknowledged then. */
    if (store_dup_seen(rd, env->id, now, &seen) == STORE_OK && seen) {
        proto_cmd ack;

        store_read_end(&rd);
        memset(&ack, 0, sizeof(ack));
        ack.type = PROTO_CMD_FORWARD_ACK;
        ack.seq = job->corr;
        memcpy(ack.id, env->id, PROTO_ID_BYTES);
        broker_fed_answer(b, job->rid, job->rid_len, &ack);
        broker_metrics_inc(b->metrics, BROKER_METRICS_DUPLICATES_DROPPED, 1);
        broker_job_free(&job);
        return;
    }
    store_read_end(&rd);
    if (env->expires_ms <= now) {
        broker_refuse_partner(b, job, PROTO_WIRE_EXPIRED, "the message expired on its way");
        return;
    }
    /* Targets: agencies of this nation, as the partner resolved them. */
    pthread_rwlock_rdlock(&b->roster.lock);
    for (size_t i = 0; i < job->target_count; i++) {
        const proto_target *t = &job->targets[i];
        const proto_roster_entry *e = proto_roster_find(b->roster.roster, &t->agency);

        memset(&scratch[count], 0, sizeof(scratch[0]));
        scratch[count].addr = t->agency;
        proto_addr_format(&t->agency, scratch[count].text, sizeof(scratch[0].text));
        scratch[count].withheld = t->withheld;
        scratch[count].local = true;
        if (strcmp(t->agency.nation, nation) != 0 || e == NULL || e->revoked) {
            scratch[count].action = POLICY_DENY;
            snprintf(scratch[count].rule, sizeof(scratch[0].rule), "roster");
            snprintf(scratch[count].reason, sizeof(scratch[0].reason),
                     "%s is not an agency of %s in the roster", scratch[count].text, nation);
        }
        count++;
    }
    pthread_rwlock_unlock(&b->roster.lock);
    if (broker_recall_kind(env->kind)) {
        uint16_t code = recall_forward(b, env, count, why, sizeof(why));

        if (code != 0) {
            broker_refuse_partner(b, job, code, why);
            return;
        }
    } else if (decide_ingress(b, job, count, now) != 0) {
        broker_refuse_partner(b, job, PROTO_WIRE_MALFORMED, "portion labels do not decode");
        return;
    }
    op = broker_op_begin(b, BROKER_OP_FORWARD_IN);
    if (op == NULL) {
        broker_refuse_partner(b, job, PROTO_WIRE_BUSY, "the broker is committing too much; retry");
        return;
    }
    if (build_forward_item(b, job, count, now) != 0) {
        broker_op_abort(b);
        broker_refuse_partner(b, job, PROTO_WIRE_INTERNAL, "the message could not be queued");
        return;
    }
    free(job->env);
    job->env = NULL;
    op->job = job;
    broker_commit_kick(b);
}
