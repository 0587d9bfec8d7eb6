/* Files of test cases for `liaison policy test`: read through libcyaml, then run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_int.h"

#define CASES_MAX 10000u     /* cases one file may hold */

typedef struct raw_case {
    char *name;                /* shown in reports */
    int direction;             /* a policy_direction */
    char *partner;             /* partner nation */
    char *kind;                /* message kind */
    char *labels;              /* message labels, text form */
    char **portions;           /* portion labels, text form */
    unsigned portions_count;   /* entries in portions */
    char *from;                /* sender */
    char *to;                  /* recipient */
    char **recipients;         /* original recipients */
    unsigned recipients_count; /* entries in recipients */
    char *origin;              /* origin nation */
    char *now;                 /* decision time: YYYY-MM-DD or ms */
    int expect;                /* a policy_action */
    char *rule;                /* expected rule id */
    unsigned *withheld;        /* expected withheld portion indexes */
    unsigned withheld_count;   /* entries in withheld */
} raw_case;

typedef struct raw_cases {
    char *now;                 /* default decision time */
    raw_case *cases;           /* the cases */
    unsigned cases_count;      /* entries in cases */
} raw_cases;

struct policy_cases {
    raw_cases *raw;            /* as libcyaml read it */
    uint32_t *lines;           /* line of each case */
    uint64_t *now_ms;          /* decision time of each case, 0: the caller's */
};

static const cyaml_strval_t expect_names[] = {
    {"release", POLICY_RELEASE},
    {"release-with-withheld", POLICY_WITHHOLD},
    {"withheld", POLICY_WITHHOLD},
    {"deny", POLICY_DENY},
};

static const cyaml_strval_t direction_names[] = {
    {"egress", POLICY_EGRESS},
    {"ingress", POLICY_INGRESS},
};

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, PROTO_LABELS_TEXT_MAX),
};

static const cyaml_schema_value_t index_entry = {
    CYAML_VALUE_UINT(CYAML_FLAG_DEFAULT, unsigned),
};

#define STR(key, flags, member)                                                        \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | (flags), raw_case, member, 1,      \
                           PROTO_LABELS_TEXT_MAX)

static const cyaml_schema_field_t case_fields[] = {
    STR("name", CYAML_FLAG_OPTIONAL, name),
    CYAML_FIELD_ENUM("direction", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, raw_case, direction,
                     direction_names, CYAML_ARRAY_LEN(direction_names)),
    STR("partner", CYAML_FLAG_DEFAULT, partner),
    STR("kind", CYAML_FLAG_DEFAULT, kind),
    STR("labels", CYAML_FLAG_DEFAULT, labels),
    CYAML_FIELD_SEQUENCE("portions", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_case,
                         portions, &string_entry, 0, PROTO_PORTIONS_MAX),
    STR("from", CYAML_FLAG_OPTIONAL, from),
    STR("to", CYAML_FLAG_OPTIONAL, to),
    CYAML_FIELD_SEQUENCE("recipients", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_case,
                         recipients, &string_entry, 0, PROTO_RECIPIENTS_MAX),
    STR("origin", CYAML_FLAG_OPTIONAL, origin),
    STR("now", CYAML_FLAG_OPTIONAL, now),
    CYAML_FIELD_ENUM("expect", CYAML_FLAG_STRICT, raw_case, expect, expect_names,
                     CYAML_ARRAY_LEN(expect_names)),
    STR("rule", CYAML_FLAG_OPTIONAL, rule),
    CYAML_FIELD_SEQUENCE("withheld", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_case,
                         withheld, &index_entry, 0, PROTO_PORTIONS_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t case_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_case, case_fields),
};

static const cyaml_schema_field_t cases_fields[] = {
    CYAML_FIELD_STRING_PTR("now", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_cases, now, 1,
                           32),
    CYAML_FIELD_SEQUENCE("cases", CYAML_FLAG_POINTER, raw_cases, cases, &case_entry, 1,
                         CASES_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t cases_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_cases, cases_fields),
};

static const liaison_yaml_spec cases_spec = {
    .noun = "a cases file",
    .file_noun = "a cases file",
    .size_max = 16u * POLICY_FILE_MAX,
    .nodes_max = POL_NODES_MAX,
};

void
policy_cases_destroy(policy_cases **cp)
{
    policy_cases *c;

    if (cp == NULL || *cp == NULL)
        return;
    c = *cp;
    liaison_yaml_free(&cases_schema, c->raw);
    free(c->lines);
    free(c->now_ms);
    free(c);
    *cp = NULL;
}

static policy_err
cases_check(policy_cases *c, const liaison_yaml_doc *pp, policy_load_error *err)
{
    const raw_cases *raw = c->raw;
    uint64_t dflt = 0;
    char path[64];

    if (raw->now != NULL && policy_date_parse(raw->now, &dflt) != POLICY_OK) {
        pol_error_at(err, pp, "now", false, "'%s' is not a date (YYYY-MM-DD) or ms", raw->now);
        return POLICY_ERR_DATES;
    }
    for (unsigned i = 0; i < raw->cases_count; i++) {
        const raw_case *k = &raw->cases[i];
        const liaison_yaml_node *pos;

        snprintf(path, sizeof(path), "cases[%u]", i);
        pos = liaison_yaml_find(pp, path);
        c->lines[i] = pos != NULL ? pos->line : 0;
        c->now_ms[i] = dflt;
        if (k->now != NULL && policy_date_parse(k->now, &c->now_ms[i]) != POLICY_OK) {
            snprintf(path, sizeof(path), "cases[%u].now", i);
            pol_error_at(err, pp, path, false, "'%s' is not a date (YYYY-MM-DD) or ms", k->now);
            return POLICY_ERR_DATES;
        }
        for (unsigned j = 0; j < k->withheld_count; j++) {
            if (k->withheld[j] >= k->portions_count) {
                snprintf(path, sizeof(path), "cases[%u].withheld[%u]", i, j);
                pol_error_at(err, pp, path, false,
                             "portion %u does not exist (the case has %u portions, from 0)",
                             k->withheld[j], k->portions_count);
                return POLICY_ERR_VALUE;
            }
        }
    }
    return POLICY_OK;
}

policy_err
policy_cases_load(const char *path, policy_cases **cases_out, policy_load_error *err)
{
    liaison_yaml_doc pp;
    policy_cases *c = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    policy_err rc;

    memset(&pp, 0, sizeof(pp));
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->file, sizeof(err->file), "%s", path);
    }
    rc = pol_yaml_read(path, &cases_spec, NULL, &buf, &len, err);
    if (rc != POLICY_OK)
        goto out;
    if (len == 0 || memchr(buf, '\0', len) != NULL) {
        pol_error_set(err, 1, 1, "cases file is empty or not text");
        rc = POLICY_ERR_SCHEMA;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = POLICY_ERR_NOMEM;
        goto out;
    }
    rc = pol_yaml_load(buf, len, &cases_spec, &cases_schema, (void **)&c->raw, &pp,
                       "cases file is empty", err);
    if (rc != POLICY_OK)
        goto out;
    c->lines = calloc(c->raw->cases_count, sizeof(uint32_t));
    c->now_ms = calloc(c->raw->cases_count, sizeof(uint64_t));
    if (c->lines == NULL || c->now_ms == NULL) {
        rc = POLICY_ERR_NOMEM;
        goto out;
    }
    rc = cases_check(c, &pp, err);
    if (rc != POLICY_OK)
        goto out;
    *cases_out = c;
    c = NULL;
out:
    policy_cases_destroy(&c);
    liaison_yaml_doc_clear(&pp);
    free(buf);
    return rc;
}

size_t
policy_cases_count(const policy_cases *c)
{
    return c->raw->cases_count;
}

policy_err
policy_case_run(const policy *p, const policy_cases *c, size_t index, uint64_t now_ms,
                policy_case_result *res)
{
    const raw_case *k;
    policy_text_request t;
    policy_request_store *store = NULL;
    char why[PROTO_TEXT_MAX];
    char reason[POLICY_REASON_MAX];
    const policy_decision *d = &res->decision;
    policy_err rc;

    if (index >= c->raw->cases_count)
        return POLICY_ERR_INVALID;
    k = &c->raw->cases[index];
    memset(res, 0, sizeof(*res));
    if (k->name != NULL)
        snprintf(res->name, sizeof(res->name), "%s", k->name);
    else
        snprintf(res->name, sizeof(res->name), "case %zu", index + 1);
    res->line = c->lines[index];
    res->expect_action = (uint8_t)k->expect;
    if (k->rule != NULL)
        snprintf(res->expect_rule, sizeof(res->expect_rule), "%s", k->rule);
    for (unsigned j = 0; j < k->withheld_count; j++)
        res->expect_withheld |= 1ull << k->withheld[j];
    res->check_withheld = k->withheld_count > 0;

    memset(&t, 0, sizeof(t));
    t.direction = (uint8_t)k->direction;
    t.partner = k->partner;
    t.kind = k->kind;
    t.labels = k->labels;
    t.portions = (const char *const *)k->portions;
    t.portion_count = k->portions_count;
    t.from = k->from;
    t.to = k->to;
    t.recipients = (const char *const *)k->recipients;
    t.recipient_count = k->recipients_count;
    t.origin = k->origin;
    t.now_ms = c->now_ms[index] != 0 ? c->now_ms[index] : now_ms;
    store = malloc(sizeof(*store));
    if (store == NULL)
        return POLICY_ERR_NOMEM;
    rc = policy_request_from_text(p, &t, store, why, sizeof(why));
    if (rc != POLICY_OK) {
        snprintf(res->message, sizeof(res->message), "cannot run: %s", why);
        rc = POLICY_OK;
        goto out;
    }
    rc = policy_decide(p, &store->req, NULL, &res->decision);
    if (rc != POLICY_OK) {
        snprintf(res->message, sizeof(res->message), "cannot run: %s", policy_strerror(rc));
        rc = POLICY_OK;
        goto out;
    }
    policy_reason(&d->verdict, reason, sizeof(reason));
    if (d->action != res->expect_action) {
        snprintf(res->message, sizeof(res->message), "expected %s, got %s by %s: %s",
                 policy_action_name(res->expect_action), policy_action_name(d->action),
                 d->verdict.rule_id, reason);
    } else if (res->expect_rule[0] != '\0' && strcmp(res->expect_rule, d->verdict.rule_id) != 0) {
        snprintf(res->message, sizeof(res->message), "expected rule %s, got %s: %s",
                 res->expect_rule, d->verdict.rule_id, reason);
    } else if (res->check_withheld && res->expect_withheld != d->withheld) {
        snprintf(res->message, sizeof(res->message),
                 "expected withheld portions mask 0x%llx, got 0x%llx",
                 (unsigned long long)res->expect_withheld, (unsigned long long)d->withheld);
    } else {
        res->passed = true;
    }
out:
    free(store);
    return rc;
}
