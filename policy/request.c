/* Requests in text form: parsing labels and addresses and filling the defaults. */
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

static policy_err
addr_from(const char *text, const char *what, proto_addr *out, char *why, size_t why_len)
{
    proto_detail d;

    memset(&d, 0, sizeof(d));
    if (proto_addr_parse(text, out, &d) != PROTO_OK) {
        snprintf(why, why_len, "%s '%s': %s", what, text, d.text);
        return POLICY_ERR_VALUE;
    }
    return POLICY_OK;
}

static policy_err
labels_from(const char *text, const char *what, proto_labels *out, char *why, size_t why_len)
{
    proto_detail d;

    memset(&d, 0, sizeof(d));
    if (proto_labels_parse(text, out, &d) != PROTO_OK) {
        snprintf(why, why_len, "%s '%.80s': %s", what, text, d.text);
        return POLICY_ERR_VALUE;
    }
    return POLICY_OK;
}

policy_err
policy_request_from_text(const policy *p, const policy_text_request *t,
                         policy_request_store *s, char *why, size_t why_len)
{
    policy_request *r = &s->req;
    const char *src, *dst;
    policy_err rc;

    if (why_len > 0)
        why[0] = '\0';
    if (t->partner == NULL || t->kind == NULL || t->labels == NULL ||
        (t->direction != POLICY_EGRESS && t->direction != POLICY_INGRESS)) {
        snprintf(why, why_len, "partner, kind and labels are required");
        return POLICY_ERR_INVALID;
    }
    memset(r, 0, sizeof(*r));
    r->direction = t->direction;
    if (!proto_nation_valid(t->partner)) {
        snprintf(why, why_len, "partner '%s' is not a nation code (e.g. CAN)", t->partner);
        return POLICY_ERR_VALUE;
    }
    if (strcmp(t->partner, p->nation) == 0) {
        snprintf(why, why_len, "partner '%s' is this policy's own nation", t->partner);
        return POLICY_ERR_VALUE;
    }
    memcpy(r->partner, t->partner, sizeof(r->partner));
    if (proto_kind_check(t->kind, NULL) != PROTO_OK) {
        snprintf(why, why_len, "kind '%.64s' is not a kind (lower-case 'family.verb')", t->kind);
        return POLICY_ERR_VALUE;
    }
    snprintf(s->kind, sizeof(s->kind), "%s", t->kind);
    r->kind = s->kind;
    src = t->direction == POLICY_EGRESS ? p->nation : r->partner;
    dst = t->direction == POLICY_EGRESS ? r->partner : p->nation;
    rc = labels_from(t->labels, "labels", &s->labels, why, why_len);
    if (rc != POLICY_OK)
        return rc;
    if (t->origin != NULL && s->labels.origin[0] == '\0') {
        if (!proto_nation_valid(t->origin)) {
            snprintf(why, why_len, "origin '%s' is not a nation code", t->origin);
            return POLICY_ERR_VALUE;
        }
        memcpy(s->labels.origin, t->origin, PROTO_NATION_LEN + 1);
    }
    r->labels = &s->labels;
    if (t->portion_count > PROTO_PORTIONS_MAX) {
        snprintf(why, why_len, "%zu portions, at most %u", t->portion_count, PROTO_PORTIONS_MAX);
        return POLICY_ERR_VALUE;
    }
    for (size_t i = 0; i < t->portion_count; i++) {
        char what[32];

        snprintf(what, sizeof(what), "portion %zu", i);
        rc = labels_from(t->portions[i], what, &s->portions[i], why, why_len);
        if (rc != POLICY_OK)
            return rc;
    }
    r->portions = s->portions;
    r->portion_count = t->portion_count;
    if (t->from != NULL) {
        rc = addr_from(t->from, "from", &s->sender, why, why_len);
        if (rc != POLICY_OK)
            return rc;
    } else {
        memset(&s->sender, 0, sizeof(s->sender));
        s->sender.kind = PROTO_ADDR_NATION_ALL;
        memcpy(s->sender.nation, src, PROTO_NATION_LEN + 1);
    }
    r->sender = &s->sender;
    if (t->to != NULL) {
        rc = addr_from(t->to, "to", &s->recipient, why, why_len);
        if (rc != POLICY_OK)
            return rc;
        r->recipient = &s->recipient;
    }
    if (t->recipient_count > PROTO_RECIPIENTS_MAX) {
        snprintf(why, why_len, "%zu recipients, at most %u", t->recipient_count,
                 PROTO_RECIPIENTS_MAX);
        return POLICY_ERR_VALUE;
    }
    if (t->recipients != NULL && t->recipient_count > 0) {
        for (size_t i = 0; i < t->recipient_count; i++) {
            rc = addr_from(t->recipients[i], "recipient", &s->recipients[i], why, why_len);
            if (rc != POLICY_OK)
                return rc;
        }
        r->recipient_count = t->recipient_count;
    } else if (t->to != NULL) {
        s->recipients[0] = s->recipient;
        r->recipient_count = 1;
    } else {
        memset(&s->recipients[0], 0, sizeof(s->recipients[0]));
        s->recipients[0].kind = PROTO_ADDR_NATION_ALL;
        memcpy(s->recipients[0].nation, dst, PROTO_NATION_LEN + 1);
        r->recipient_count = 1;
    }
    r->recipients = s->recipients;
    r->now_ms = t->now_ms;
    return POLICY_OK;
}
