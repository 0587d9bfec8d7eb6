/* libliaison: verify and open what the broker delivers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

/*
 * Makes the event that stands for a delivery or report not handed out
 * (type CLIENT_EVENT_UNVERIFIED or _UNDECODABLE): it is not receipted, so
 * the broker keeps the entry; it is delivered again after a reconnect.
 */
static int __attribute__((format(printf, 5, 6)))
refused(liaison_client *c, const proto_tagged *item, liaison_event **event_out, uint8_t type,
        const char *fmt, ...)
{
    liaison_event *e = calloc(1, sizeof(*e));
    char why[200], text[sizeof(e->detail)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(text, sizeof(text), "%s; not receipted: it stays with the broker", why);
    client_fail(c, type == CLIENT_EVENT_UNVERIFIED ? LIAISON_ERR_SIGNATURE : LIAISON_ERR_PROTOCOL,
                "%s", text);
    if (e == NULL)
        return -1;
    e->type = type;
    e->tag = item->tag;
    memcpy(e->detail, text, sizeof(text));
    *event_out = e;
    return 0;
}

/* client_open_delivery with the envelope decoded into env (the caller's). */
static int
open_into(liaison_client *c, const proto_tagged *item, liaison_event **event_out,
          proto_envelope *env)
{
    const proto_roster_entry *sender;
    liaison_event *e = NULL;
    proto_detail d = {{0}, {0}};
    char who[PROTO_ADDR_TEXT_MAX + 1], hex[PROTO_ID_BYTES * 2 + 1];

    *event_out = NULL;
    if (proto_envelope_decode(item->bytes.data, item->bytes.len, env, &d) != PROTO_OK)
        return refused(c, item, event_out, CLIENT_EVENT_UNDECODABLE,
                       "a delivered envelope (delivery tag %llu) does not decode: %s",
                       (unsigned long long)item->tag, d.text);
    switch (client_seen_get(c, env->id)) {
    case CLIENT_SEEN_RECEIPTED:
        /* The broker did not get our receipt: acknowledge again, hand out nothing. */
        (void)client_receipt_add(c, item->tag, env->id);
        return 0;
    case CLIENT_SEEN_HANDED:
        /* Delivered again after a reconnect; the application's receipt will come. */
        return 0;
    default:
        break;
    }
    sender = proto_roster_find(c->roster, &env->sender);
    if (sender == NULL || sender->revoked ||
        proto_envelope_verify(env, sender->card.sign_public) != PROTO_OK)
        /* Never handed out, and never receipted: a receipt would tell the
         * sender it arrived. */
        return refused(c, item, event_out, CLIENT_EVENT_UNVERIFIED,
                       "message %s from %s does not verify: %s", proto_id_format(env->id, hex),
                       proto_addr_format(&env->sender, who, sizeof(who)),
                       sender == NULL    ? "the sender is not in the roster"
                       : sender->revoked ? "the sender's key is revoked in the roster"
                                         : "its signature does not match the sender's key in "
                                           "the roster");
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return -1;
    e->type = LIAISON_EVENT_MESSAGE;
    e->tag = item->tag;
    memcpy(e->id, env->id, PROTO_ID_BYTES);
    proto_id_format(env->id, e->id_hex);
    snprintf(e->kind, sizeof(e->kind), "%s", env->kind);
    proto_addr_format(&env->sender, e->sender, sizeof(e->sender));
    snprintf(e->actor, sizeof(e->actor), "%s", env->actor);
    snprintf(e->case_id, sizeof(e->case_id), "%s", env->case_id);
    memcpy(e->in_reply_to, env->in_reply_to, PROTO_ID_BYTES);
    e->has_reply_to = !proto_id_is_zero(env->in_reply_to);
    if (proto_labels_format(&env->labels, e->labels, sizeof(e->labels)) != PROTO_OK)
        e->labels[0] = '\0';
    e->created_ms = env->created_ms;
    e->expires_ms = env->expires_ms;
    e->portion_count = env->portion_count;
    e->portions = calloc(env->portion_count, sizeof(*e->portions));
    e->raw = malloc(item->bytes.len);
    if (e->portions == NULL || e->raw == NULL)
        goto fail;
    memcpy(e->raw, item->bytes.data, item->bytes.len);
    e->raw_len = item->bytes.len;
    if (env->grant_count > 0) {
        e->grants = calloc(env->grant_count, sizeof(*e->grants));
        if (e->grants == NULL)
            goto fail;
        for (size_t i = 0; i < env->grant_count; i++) {
            e->grants[i].data = malloc(env->grants[i].len);
            if (e->grants[i].data == NULL)
                goto fail;
            memcpy(e->grants[i].data, env->grants[i].data, env->grants[i].len);
            e->grants[i].len = env->grants[i].len;
            e->grant_count = i + 1;
        }
    }
    for (size_t i = 0; i < env->portion_count; i++) {
        liaison_portion *p = &e->portions[i];
        proto_labels l;
        size_t n;

        if (proto_envelope_portion_labels(env, i, &l) != PROTO_OK ||
            proto_labels_format(&l, p->labels, sizeof(p->labels)) != PROTO_OK)
            p->labels[0] = '\0';
        p->withheld = proto_envelope_portion_withheld(env, i);
        _Static_assert(sizeof(p->withheld_by) == PROTO_NATION_LEN + 1 &&
                           sizeof(p->withheld_rule) == PROTO_RULE_ID_MAX + 1,
                       "liaison_portion holds a note's nation and rule");
        /* The note's grammar (checked by decode) needs no escaping. */
        (void)proto_envelope_portion_note(env, i, p->withheld_by, p->withheld_rule);
        if (p->withheld || !proto_envelope_has_seal(env, i, &c->id->addr))
            continue;
        n = proto_envelope_plain_len(env, i);
        p->data = malloc(n > 0 ? n : 1);
        if (p->data == NULL)
            goto fail;
        if (proto_envelope_open(env, i, c->id, p->data, &p->len) != PROTO_OK) {
            free(p->data);
            p->data = NULL;
            continue;
        }
        p->readable = true;
    }
    if (client_seen_mark(c, env->id, CLIENT_SEEN_HANDED) != 0)
        goto fail;
    *event_out = e;
    return 0;
fail:
    liaison_event_free(&e);
    return -1;
}

int
client_open_delivery(liaison_client *c, const proto_tagged *item, liaison_event **event_out)
{
    proto_envelope *env = malloc(sizeof(*env));
    int rc;

    *event_out = NULL;
    if (env == NULL) {
        client_fail(c, LIAISON_ERR_NOMEM, "out of memory");
        return -1;
    }
    rc = open_into(c, item, event_out, env);
    free(env);
    return rc;
}

/* True if the report's bytes were handed out before (by their hash). */
static bool
report_seen(liaison_client *c, const uint8_t h[PROTO_HASH_BYTES], bool add)
{
    for (size_t i = 0; i < c->report_count; i++) {
        if (memcmp(c->report_hashes[i], h, PROTO_HASH_BYTES) == 0)
            return true;
    }
    if (add) {
        if (c->report_count == c->report_cap) {
            size_t cap = c->report_cap ? c->report_cap * 2 : 256;
            void *p = realloc(c->report_hashes, cap * PROTO_HASH_BYTES);

            if (p == NULL)
                return false;
            c->report_hashes = p;
            c->report_cap = cap;
        }
        memcpy(c->report_hashes[c->report_count++], h, PROTO_HASH_BYTES);
    }
    return false;
}

int
client_open_report(liaison_client *c, const proto_tagged *item, liaison_event **event_out)
{
    const proto_roster_entry *broker;
    proto_report r;
    liaison_event *e;
    uint8_t h[PROTO_HASH_BYTES];

    *event_out = NULL;
    if (proto_report_decode(item->bytes.data, item->bytes.len, &r, NULL) != PROTO_OK)
        return refused(c, item, event_out, CLIENT_EVENT_UNDECODABLE,
                       "a report (delivery tag %llu) does not decode",
                       (unsigned long long)item->tag);
    proto_sha256(item->bytes.data, item->bytes.len, h);
    broker = proto_roster_find(c->roster, &r.broker);
    if (broker == NULL || broker->revoked ||
        proto_report_verify_cached(item->bytes.data, item->bytes.len, broker->card.sign_public,
                                   &c->report_cache) != PROTO_OK) {
        char hex[PROTO_ID_BYTES * 2 + 1];

        return refused(c, item, event_out, CLIENT_EVENT_UNVERIFIED,
                       "a report about message %s from broker %s does not verify",
                       proto_id_format(r.id, hex), r.broker.nation);
    }
    if (report_seen(c, h, false)) {
        (void)client_receipt_add(c, item->tag, r.id);
        return 0;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return -1;
    e->type = LIAISON_EVENT_REPORT;
    e->tag = item->tag;
    memcpy(e->id, r.id, PROTO_ID_BYTES);
    proto_id_format(r.id, e->id_hex);
    snprintf(e->broker, sizeof(e->broker), "%s", r.broker.nation);
    proto_addr_format(&r.entry.recipient, e->recipient, sizeof(e->recipient));
    snprintf(e->state, sizeof(e->state), "%s", proto_state_name(r.entry.state));
    snprintf(e->rule_id, sizeof(e->rule_id), "%s", r.entry.rule_id);
    snprintf(e->detail, sizeof(e->detail), "%s", r.entry.detail);
    e->time_ms = r.entry.time_ms;
    e->raw = malloc(item->bytes.len);
    if (e->raw == NULL) {
        liaison_event_free(&e);
        return -1;
    }
    memcpy(e->raw, item->bytes.data, item->bytes.len);
    e->raw_len = item->bytes.len;
    (void)report_seen(c, h, true);
    *event_out = e;
    return 0;
}
