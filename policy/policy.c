/* The policy object: errors, lifecycle, accessors, reload, names and reasons. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

const char *
policy_strerror(policy_err code)
{
    switch (code) {
    case POLICY_OK:
        return "success";
    case POLICY_ERR_INVALID:
        return "invalid argument";
    case POLICY_ERR_NOMEM:
        return "out of memory";
    case POLICY_ERR_NOFILE:
        return "policy file does not exist";
    case POLICY_ERR_IO:
        return "policy file could not be read";
    case POLICY_ERR_SYNTAX:
        return "policy file is not well-formed YAML";
    case POLICY_ERR_SCHEMA:
        return "unknown field, wrong type, or missing or repeated field";
    case POLICY_ERR_VOCABULARY:
        return "unknown kind, caveat or classification";
    case POLICY_ERR_DUPLICATE:
        return "declared twice";
    case POLICY_ERR_PARTNER:
        return "names a partner that is not declared";
    case POLICY_ERR_SHADOWED:
        return "rule shadowed by an earlier rule";
    case POLICY_ERR_ADDRESS:
        return "bad sender or recipient address";
    case POLICY_ERR_DATES:
        return "bad or reversed dates";
    case POLICY_ERR_VALUE:
        return "value out of its domain";
    case POLICY_ERR_LIMIT:
        return "policy file or list too large";
    case POLICY_ERR_PERMISSION:
        return "policy file or its directory is writable by others";
    }
    return "unknown policy error";
}

void
pol_kindset_free(pol_kindset *set)
{
    for (size_t i = 0; i < set->prefix_count; i++)
        free(set->prefixes[i]);
    for (size_t i = 0; i < set->exact_count; i++)
        free(set->exact[i]);
    free(set->prefixes);
    free(set->exact);
    memset(set, 0, sizeof(*set));
}

static void
rule_free(pol_rule *r)
{
    pol_kindset_free(&r->kinds);
    for (size_t i = 0; i < r->basis_count; i++)
        free(r->basis[i]);
    free(r->basis);
    free(r->from);
    free(r->to);
}

void
policy_destroy(policy **pp)
{
    policy *p;

    if (pp == NULL || *pp == NULL)
        return;
    p = *pp;
    for (size_t i = 0; p->kinds != NULL && p->kinds[i] != NULL; i++)
        free(p->kinds[i]);
    free(p->kinds);
    for (size_t i = 0; p->caveats != NULL && p->caveats[i] != NULL; i++)
        free(p->caveats[i]);
    free(p->caveats);
    if (p->partners != NULL) {
        /* Partners may be half-built after a failed compile: counts say what is set. */
        for (size_t i = 0; i < p->partner_count; i++) {
            pol_partner *pt = &p->partners[i];

            for (size_t d = 0; d < 2; d++) {
                for (size_t j = 0; j < pt->rule_count[d]; j++)
                    rule_free(&pt->rules[d][j]);
                free(pt->rules[d]);
            }
            free(pt->treaties);
            for (size_t j = 0; j < pt->limit_count; j++)
                pol_kindset_free(&pt->limits[j].kinds);
            free(pt->limits);
        }
    }
    free(p->partners);
    for (size_t i = 0; i < p->treaty_count; i++)
        free(p->treaties[i].offences);
    free(p->treaties);
    free(p->slot_sizes);
    for (size_t i = 0; i < p->retention_count; i++)
        pol_kindset_free(&p->retention[i].kinds);
    free(p->retention);
    free(p->holds);
    free(p);
    *pp = NULL;
}

policy_err
policy_reload(const char *path, policy **current, policy **old_out, policy_load_error *err)
{
    policy *fresh = NULL;
    policy_err rc = policy_load(path, &fresh, err);

    if (rc != POLICY_OK)
        return rc;
    *old_out = *current;
    *current = fresh;
    return POLICY_OK;
}

char *
policy_load_error_format(const policy_load_error *err, char *buf, size_t buf_len)
{
    if (buf_len == 0)
        return buf;
    if (err->line > 0)
        snprintf(buf, buf_len, "%s:%u:%u: %s", err->file, err->line, err->column, err->message);
    else
        snprintf(buf, buf_len, "%s: %s", err->file, err->message);
    return buf;
}

const uint8_t *
policy_hash(const policy *p)
{
    return p->hash;
}

const char *
policy_nation(const policy *p)
{
    return p->nation;
}

void
policy_info_get(const policy *p, policy_info *info)
{
    memset(info, 0, sizeof(*info));
    memcpy(info->nation, p->nation, sizeof(info->nation));
    info->partner_count = p->partner_count;
    info->rule_count = p->rule_total;
    info->treaty_count = p->treaty_count;
    info->limit_count = p->slot_count;
    info->kind_count = p->kind_count;
    info->caveat_count = p->caveat_count;
    memcpy(info->hash, p->hash, sizeof(info->hash));
    info->retention_count = p->retention_count;
    info->hold_count = p->hold_count;
}

bool
policy_partner_at(const policy *p, size_t index, policy_partner_info *info)
{
    const pol_partner *pt;

    if (index >= p->partner_count)
        return false;
    pt = &p->partners[index];
    memset(info, 0, sizeof(*info));
    memcpy(info->nation, pt->nation, sizeof(info->nation));
    info->egress_rules = pt->rule_count[POLICY_EGRESS];
    info->ingress_rules = pt->rule_count[POLICY_INGRESS];
    info->treaties = pt->treaty_count;
    info->limits = pt->limit_count;
    return true;
}

bool
policy_rule_position(const policy *p, const char *rule_id, uint32_t *line, uint32_t *column)
{
    for (size_t i = 0; i < p->partner_count; i++) {
        for (size_t d = 0; d < 2; d++) {
            for (size_t j = 0; j < p->partners[i].rule_count[d]; j++) {
                const pol_rule *r = &p->partners[i].rules[d][j];

                if (strcmp(r->id, rule_id) == 0) {
                    *line = r->line;
                    *column = r->column;
                    return true;
                }
            }
        }
    }
    return false;
}

const char *
policy_action_name(uint8_t action)
{
    switch (action) {
    case POLICY_RELEASE:
        return "release";
    case POLICY_WITHHOLD:
        return "release-with-withheld";
    case POLICY_DENY:
        return "deny";
    default:
        return "unknown";
    }
}

policy_err
policy_action_parse(const char *name, uint8_t *action_out)
{
    if (strcmp(name, "release") == 0)
        *action_out = POLICY_RELEASE;
    else if (strcmp(name, "release-with-withheld") == 0 || strcmp(name, "withheld") == 0)
        *action_out = POLICY_WITHHOLD;
    else if (strcmp(name, "deny") == 0)
        *action_out = POLICY_DENY;
    else
        return POLICY_ERR_VALUE;
    return POLICY_OK;
}

const char *
policy_direction_name(uint8_t direction)
{
    return direction == POLICY_EGRESS ? "egress" : direction == POLICY_INGRESS ? "ingress"
                                                                               : "unknown";
}

policy_err
policy_date_parse(const char *s, uint64_t *ms_out)
{
    size_t n = strlen(s);

    if (n == 10)
        return proto_time_parse(s, ms_out) ? POLICY_OK : POLICY_ERR_DATES;
    if (n > 0 && n <= 19) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return POLICY_ERR_DATES;
            v = v * 10 + (uint64_t)(s[i] - '0');
        }
        *ms_out = v;
        return POLICY_OK;
    }
    return POLICY_ERR_DATES;
}

char *
policy_reason(const policy_verdict *v, char *buf, size_t len)
{
    const char *tok = v->token != NULL ? v->token : "";
    const char *lvl = proto_class_name(v->level);
    const char *ceil = proto_class_name(v->ceiling);

    if (len == 0)
        return buf;
    lvl = lvl != NULL ? lvl : "?";
    ceil = ceil != NULL ? ceil : "?";
    switch (v->why) {
    case POLICY_WHY_RULE_RELEASE:
        snprintf(buf, len, "rule %s releases %s %s %s", v->rule_id, tok[0] ? tok : "this kind",
                 v->direction == POLICY_INGRESS ? "from" : "toward", v->nation);
        break;
    case POLICY_WHY_RULE_DENY:
        snprintf(buf, len, "rule %s denies %s %s %s", v->rule_id, tok[0] ? tok : "this kind",
                 v->direction == POLICY_INGRESS ? "from" : "toward", v->nation);
        break;
    case POLICY_WHY_RULE_WITHHOLD:
        snprintf(buf, len, "carries %s, which rule %s withholds", tok, v->rule_id);
        break;
    case POLICY_WHY_CEILING:
        snprintf(buf, len, "%s is above the ceiling %s of rule %s", lvl, ceil, v->rule_id);
        break;
    case POLICY_WHY_NO_RULE:
        snprintf(buf, len, "no %s rule for %s %s %s matches (default deny)",
                 policy_direction_name(v->direction), tok[0] ? tok : "this kind",
                 v->direction == POLICY_INGRESS ? "from" : "toward", v->nation);
        break;
    case POLICY_WHY_NO_PARTNER:
        snprintf(buf, len, "%s is not a partner in this policy (default deny)", v->nation);
        break;
    case POLICY_WHY_NOFORN:
        snprintf(buf, len, "NOFORN: content of %s never goes to %s", v->origin, v->nation);
        break;
    case POLICY_WHY_REL_TO:
        snprintf(buf, len, "REL TO does not list %s", v->nation);
        break;
    case POLICY_WHY_ORCON:
        snprintf(buf, len, "ORCON: %s is not among the original recipients", v->nation);
        break;
    case POLICY_WHY_ORCON_THIRD:
        snprintf(buf, len, "ORCON: content of %s goes only back to %s without its consent, "
                 "not to %s", v->origin, v->origin, v->nation);
        break;
    case POLICY_WHY_THIRD_PARTY:
        snprintf(buf, len, "third-party rule: content of %s is not released to %s: no consent "
                 "grant from %s%s", v->origin, v->nation, v->origin,
                 v->number > 0 ? " fits (see policy explain --grant)" : "");
        break;
    case POLICY_WHY_NO_TREATY:
        if (v->text[0] == '\0')
            snprintf(buf, len, "MLAT: no legal basis given (BASIS: must name a treaty with %s)",
                     v->nation);
        else
            snprintf(buf, len, "MLAT: basis '%s' is not a treaty with %s", v->text, v->nation);
        break;
    case POLICY_WHY_TREATY_DATES:
        snprintf(buf, len, "MLAT: treaty %s with %s is not in force at this time", tok,
                 v->nation);
        break;
    case POLICY_WHY_TREATY_OFFENCE:
        snprintf(buf, len, "MLAT: treaty %s with %s does not cover offence %s", tok, v->nation,
                 v->text);
        break;
    case POLICY_WHY_NO_OFFENCE:
        snprintf(buf, len, "MLAT: the request names no offence category");
        break;
    case POLICY_WHY_ALL_WITHHELD:
        snprintf(buf, len, "every portion is withheld (first by %s), so nothing is released",
                 tok);
        break;
    case POLICY_WHY_RATE:
        snprintf(buf, len, "rate limit of %u %s per minute %s %s reached", v->number, tok,
                 v->direction == POLICY_INGRESS ? "from" : "toward", v->nation);
        break;
    case POLICY_WHY_RELEASED_PORTION:
        snprintf(buf, len, "released with the message by rule %s", v->rule_id);
        break;
    default:
        snprintf(buf, len, "unknown reason");
        break;
    }
    return buf;
}

char *
policy_grant_fit_text(policy_grant_fit fit, const policy_request *req, const proto_grant *g,
                      const char *origin, char *buf, size_t len)
{
    char a[PROTO_ADDR_TEXT_MAX + 1], b[PROTO_ADDR_TEXT_MAX + 1], t[PROTO_TIME_TEXT_BYTES];
    char n[PROTO_TIME_TEXT_BYTES];

    switch (fit) {
    case POLICY_GRANT_FITS:
        snprintf(buf, len, "consent grant applies: by %s until %s",
                 proto_addr_format(&g->grantor, a, sizeof(a)), proto_time_format(g->until_ms, t));
        break;
    case POLICY_GRANT_GRANTOR:
        snprintf(buf, len, "its grantor %s is not of %s, the nation the content came from",
                 proto_addr_format(&g->grantor, a, sizeof(a)), origin);
        break;
    case POLICY_GRANT_GRANTEE:
        snprintf(buf, len, "wrong grantee: it lets %s pass the content on, not the sender %s",
                 proto_addr_format(&g->grantee, a, sizeof(a)),
                 proto_addr_format(req->sender, b, sizeof(b)));
        break;
    case POLICY_GRANT_KIND:
        snprintf(buf, len, "out of scope: kind %s is not among the kinds it allows", req->kind);
        break;
    case POLICY_GRANT_RECIPIENT:
        if (req->recipient != NULL)
            snprintf(buf, len, "out of scope: its recipients do not cover %s",
                     proto_addr_format(req->recipient, a, sizeof(a)));
        else
            snprintf(buf, len, "out of scope: its recipients do not cover every agency of %s "
                     "(%s/*)", req->partner, req->partner);
        break;
    case POLICY_GRANT_NOT_YET:
        snprintf(buf, len, "not yet valid: issued %s, after the decision time %s",
                 proto_time_format(g->issued_ms, t), proto_time_format(req->now_ms, n));
        break;
    case POLICY_GRANT_EXPIRED:
        snprintf(buf, len, "expired: valid until %s, the decision time is %s",
                 proto_time_format(g->until_ms, t), proto_time_format(req->now_ms, n));
        break;
    default:
        snprintf(buf, len, "unknown");
        break;
    }
    return buf;
}
