/* Deciding: built-in semantics, then the partner's rules, then rate limits. */
#include <string.h>

#include "policy_int.h"

/* Names of the marking bits, for reasons. */
static const char *const flag_names[7] = {
    "LES", "ORCON", "NOFORN", "CRIME-ONLY", "NO-COURT", "NO-ONWARD", "OTHER",
};

/* Kinds that need a treaty in force with the partner (docs/policy.md). */
static bool
needs_treaty(const char *kind)
{
    return strcmp(kind, "mlat.request") == 0 || strcmp(kind, "mlat.evidence") == 0;
}

int
pol_kind_index(const policy *p, const char *kind)
{
    size_t lo = 0, hi = p->kind_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(p->kinds[mid], kind);

        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

bool
pol_kindset_has(const policy *p, const pol_kindset *set, const char *kind, int kind_index)
{
    (void)p;
    if (set->any)
        return true;
    if (kind_index >= 0)
        return (set->mask >> kind_index) & 1u;
    for (size_t i = 0; i < set->prefix_count; i++) {
        if (strncmp(kind, set->prefixes[i], strlen(set->prefixes[i])) == 0)
            return true;
    }
    return false;
}

bool
pol_selector_covers(const proto_addr *a, const proto_addr *b)
{
    switch (a->kind) {
    case PROTO_ADDR_ALL:
        return true;
    case PROTO_ADDR_NATION_ALL:
        return b->kind != PROTO_ADDR_ALL && strcmp(a->nation, b->nation) == 0;
    default:
        return proto_addr_equal(a, b);
    }
}

static const pol_partner *
partner_find(const policy *p, const char *nation)
{
    uint32_t key = pol_nation_key(nation);
    size_t lo = 0, hi = p->partner_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (p->partners[mid].key == key)
            return &p->partners[mid];
        if (p->partners[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool
nation_eq(const char *a, const char *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

static void
verdict_set(policy_verdict *v, uint8_t why, const char *rule_id, uint8_t direction,
            const char *nation)
{
    v->rule_id = rule_id;
    v->token = NULL;
    v->why = why;
    v->direction = direction;
    v->level = 0;
    v->ceiling = 0;
    memcpy(v->nation, nation, PROTO_NATION_LEN + 1);
    v->origin[0] = '\0';
    v->text[0] = '\0';
    v->number = 0;
}

static bool
rel_to_lists(const proto_labels *l, const char *nation)
{
    for (size_t i = 0; i < l->rel_to_count; i++) {
        if (nation_eq(l->rel_to[i], nation))
            return true;
    }
    return false;
}

/* Where the content is going (dst) and whence (src), from one nation's view. */
typedef struct route {
    const char *src;              /* nation the content leaves: home on egress, partner on ingress */
    const char *dst;              /* nation the content reaches */
    const char *sender_nation;    /* the sender's nation */
    const policy_request *req;    /* the request */
} route;

policy_grant_fit
policy_grant_check(const policy *p, const policy_request *req, const proto_grant *g,
                   const char *origin)
{
    const char *dst = req->direction == POLICY_EGRESS ? req->partner : p->nation;

    if (!nation_eq(g->grantor.nation, origin))
        return POLICY_GRANT_GRANTOR;
    if (!proto_addr_equal(&g->grantee, req->sender))
        return POLICY_GRANT_GRANTEE;
    if (!proto_grant_has_kind(g, req->kind))
        return POLICY_GRANT_KIND;
    if (req->recipient != NULL && req->recipient->kind == PROTO_ADDR_AGENCY
            ? !proto_grant_covers(g, req->recipient)
            : !proto_grant_covers_nation(g, req->recipient != NULL ? req->recipient->nation : dst))
        return POLICY_GRANT_RECIPIENT;
    if (req->now_ms < g->issued_ms)
        return POLICY_GRANT_NOT_YET;
    if (req->now_ms >= g->until_ms)
        return POLICY_GRANT_EXPIRED;
    return POLICY_GRANT_FITS;
}

/* The first grant of the request that lets content of origin reach the
 * recipient, or -1. */
static int
grant_find(const policy *p, const policy_request *req, const char *origin)
{
    for (size_t i = 0; i < req->grant_count; i++) {
        if (policy_grant_check(p, req, &req->grants[i], origin) == POLICY_GRANT_FITS)
            return (int)i;
    }
    return -1;
}

/*
 * The built-in semantics for content with labels l whose origin is origin.
 * Returns true if it may reach rt->dst; otherwise fills v.  Content of a
 * third nation (neither the source nor the destination) needs that
 * nation's consent: its REL TO listing the destination counts as consent
 * given in advance unless it is ORCON or NO-ONWARD; otherwise a grant of
 * the request must fit (policy_grant_check), and *grant_used is then its
 * index.  A grant never lifts NOFORN.
 */
static bool
builtin_allows(const policy *p, const route *rt, const proto_labels *l, const char *origin,
               policy_verdict *v, int *grant_used)
{
    const char *dst = rt->dst;
    bool at_home = nation_eq(dst, origin);
    bool third = !nation_eq(origin, rt->src) && !at_home;
    int grant = -1;

    if ((l->flags & PROTO_LABEL_NOFORN) && !at_home) {
        verdict_set(v, POLICY_WHY_NOFORN, POLICY_BUILTIN_NOFORN, rt->req->direction, dst);
        goto fail;
    }
    if (third) {
        bool in_advance = rel_to_lists(l, dst) && !(l->flags & PROTO_LABEL_NO_ONWARD);

        grant = grant_find(p, rt->req, origin);
        if (grant >= 0) {
            if (*grant_used < 0)
                *grant_used = grant;
            return true; /* consent of the origin: REL TO, third-party and ORCON are met */
        }
        if (!in_advance) {
            verdict_set(v, POLICY_WHY_THIRD_PARTY, POLICY_BUILTIN_THIRD_PARTY,
                        rt->req->direction, dst);
            v->number = (uint32_t)rt->req->grant_count;
            goto fail;
        }
    }
    if (l->rel_to_count > 0 && !at_home && !rel_to_lists(l, dst)) {
        verdict_set(v, POLICY_WHY_REL_TO, POLICY_BUILTIN_REL_TO, rt->req->direction, dst);
        goto fail;
    }
    if ((l->flags & PROTO_LABEL_ORCON) && !at_home) {
        bool named = false;

        if (!nation_eq(origin, rt->sender_nation)) {
            verdict_set(v, POLICY_WHY_ORCON_THIRD, POLICY_BUILTIN_ORCON, rt->req->direction, dst);
            goto fail;
        }
        for (size_t i = 0; i < rt->req->recipient_count && !named; i++) {
            const proto_addr *r = &rt->req->recipients[i];

            named = r->kind == PROTO_ADDR_ALL || nation_eq(r->nation, dst);
        }
        if (!named) {
            verdict_set(v, POLICY_WHY_ORCON, POLICY_BUILTIN_ORCON, rt->req->direction, dst);
            goto fail;
        }
    }
    return true;
fail:
    memcpy(v->origin, origin, PROTO_NATION_LEN + 1);
    return false;
}

/* The MLAT check: a treaty in force with the partner covering every offence. */
static bool
treaty_allows(const pol_partner *pt, const policy_request *req, policy_verdict *v)
{
    const proto_labels *l = req->labels;
    const pol_treaty *t = NULL;

    for (size_t i = 0; pt != NULL && i < pt->treaty_count && t == NULL; i++) {
        if (strcmp(pt->treaties[i]->id, l->basis) == 0)
            t = pt->treaties[i];
    }
    if (t == NULL) {
        verdict_set(v, POLICY_WHY_NO_TREATY, POLICY_BUILTIN_MLAT_TREATY, req->direction,
                    req->partner);
        memcpy(v->text, l->basis, sizeof(v->text));
        return false;
    }
    if (req->now_ms < t->from_ms || req->now_ms >= t->until_ms) {
        verdict_set(v, POLICY_WHY_TREATY_DATES, POLICY_BUILTIN_MLAT_TREATY, req->direction,
                    req->partner);
        v->token = t->id;
        return false;
    }
    if (l->offence_count == 0) {
        verdict_set(v, POLICY_WHY_NO_OFFENCE, POLICY_BUILTIN_MLAT_TREATY, req->direction,
                    req->partner);
        v->token = t->id;
        return false;
    }
    for (size_t i = 0; i < l->offence_count; i++) {
        bool covered = false;

        for (size_t j = 0; j < t->offence_count && !covered; j++)
            covered = strcmp(t->offences[j], l->offences[i]) == 0;
        if (!covered) {
            verdict_set(v, POLICY_WHY_TREATY_OFFENCE, POLICY_BUILTIN_MLAT_TREATY, req->direction,
                        req->partner);
            v->token = t->id;
            memcpy(v->text, l->offences[i], PROTO_TOKEN_MAX + 1);
            return false;
        }
    }
    return true;
}

/* The marking bits of labels: flags, then OTHER or vocabulary caveats. */
uint64_t
pol_marks_of(const policy *p, const proto_labels *l)
{
    uint64_t m = l->flags & PROTO_LABEL_FLAGS_ALL;

    for (size_t i = 0; i < l->caveat_count; i++) {
        size_t j = 0;

        while (j < p->caveat_count && strcmp(p->caveats[j], l->caveats[i]) != 0)
            j++;
        m |= j < p->caveat_count ? 1ull << (POL_MARK_CAVEAT0 + j) : POL_MARK_OTHER;
    }
    return m;
}

static const char *
mark_name(const policy *p, uint64_t bits)
{
    for (unsigned b = 0; b < 64; b++) {
        if (!((bits >> b) & 1u))
            continue;
        if (b < 7)
            return flag_names[b];
        if (b >= POL_MARK_CAVEAT0 && b - POL_MARK_CAVEAT0 < p->caveat_count)
            return p->caveats[b - POL_MARK_CAVEAT0];
    }
    return "?";
}

static bool
rule_matches(const policy *p, const pol_rule *r, const policy_request *req, int kind_index,
             uint64_t marks, const proto_addr *recipient)
{
    const proto_labels *l = req->labels;

    if (!pol_kindset_has(p, &r->kinds, req->kind, kind_index))
        return false;
    if ((marks & r->require) != r->require || (marks & r->exclude) != 0)
        return false;
    if (r->basis_any && l->basis[0] == '\0')
        return false;
    if (r->basis_count > 0) {
        bool hit = false;

        for (size_t i = 0; i < r->basis_count && !hit; i++)
            hit = strcmp(r->basis[i], l->basis) == 0;
        if (!hit)
            return false;
    }
    if (r->from_count > 0) {
        bool hit = false;

        for (size_t i = 0; i < r->from_count && !hit; i++)
            hit = pol_selector_covers(&r->from[i], req->sender);
        if (!hit)
            return false;
    }
    if (r->to_count > 0) {
        bool hit = false;

        for (size_t i = 0; i < r->to_count && !hit; i++)
            hit = pol_selector_covers(&r->to[i], recipient);
        if (!hit)
            return false;
    }
    return true;
}

static bool
request_valid(const policy *p, const policy_request *req)
{
    return (req->direction == POLICY_EGRESS || req->direction == POLICY_INGRESS) &&
           req->kind != NULL && req->labels != NULL && req->sender != NULL &&
           req->portion_count <= PROTO_PORTIONS_MAX &&
           (req->portion_count == 0 || req->portions != NULL) &&
           (req->recipient_count == 0 || req->recipients != NULL) &&
           req->grant_count <= POLICY_GRANTS_MAX && (req->grant_count == 0 || req->grants != NULL) &&
           proto_nation_valid(req->partner) && !nation_eq(req->partner, p->nation);
}

policy_err
policy_decide(const policy *p, const policy_request *req, policy_rate *rate, policy_decision *d)
{
    const proto_labels *l = req->labels;
    const uint8_t dir = req->direction;
    const pol_partner *pt;
    const pol_rule *rule = NULL;
    const char *msg_origin;
    const char *kind_token;
    proto_addr partner_broker;
    const proto_addr *recipient;
    uint64_t all_mask, marks;
    int kind_index, grant_used = -1;
    route rt;

    if (!request_valid(p, req) || (rate != NULL && rate->owner != p))
        return POLICY_ERR_INVALID;
    d->action = POLICY_DENY;
    d->withheld = 0;
    d->grant = -1;
    d->portion_count = (uint8_t)req->portion_count;
    all_mask = req->portion_count == 64 ? UINT64_MAX : (1ull << req->portion_count) - 1;

    rt.req = req;
    rt.src = dir == POLICY_EGRESS ? p->nation : req->partner;
    rt.dst = dir == POLICY_EGRESS ? req->partner : p->nation;
    rt.sender_nation = req->sender->nation[0] != '\0' ? req->sender->nation : rt.src;
    msg_origin = l->origin[0] != '\0' ? l->origin : rt.sender_nation;
    kind_index = pol_kind_index(p, req->kind);
    kind_token = kind_index >= 0 ? p->kinds[kind_index] : NULL;

    /* 1. Built-ins on the message as a whole: a violation denies all of it. */
    if (!builtin_allows(p, &rt, l, msg_origin, &d->verdict, &grant_used))
        goto deny_all;
    pt = partner_find(p, req->partner);
    if (pt == NULL) {
        verdict_set(&d->verdict, POLICY_WHY_NO_PARTNER, POLICY_BUILTIN_DEFAULT_DENY, dir,
                    req->partner);
        goto deny_all;
    }
    if (needs_treaty(req->kind) && !treaty_allows(pt, req, &d->verdict))
        goto deny_all;

    /* 2. Built-ins per portion: a violation withholds that portion. */
    for (size_t i = 0; i < req->portion_count; i++) {
        const proto_labels *pl = &req->portions[i];
        const char *origin = pl->origin[0] != '\0' ? pl->origin : msg_origin;

        if (!builtin_allows(p, &rt, pl, origin, &d->portions[i], &grant_used))
            d->withheld |= 1ull << i;
    }
    if (req->portion_count > 0 && d->withheld == all_mask)
        goto all_withheld;

    /* 3. The partner's rules in order; the first that matches decides. */
    marks = pol_marks_of(p, l);
    if (req->recipient != NULL) {
        recipient = req->recipient;
    } else {
        memset(&partner_broker, 0, sizeof(partner_broker));
        partner_broker.kind = PROTO_ADDR_BROKER;
        memcpy(partner_broker.nation, rt.dst, PROTO_NATION_LEN + 1);
        recipient = &partner_broker;
    }
    for (size_t i = 0; i < pt->rule_count[dir] && rule == NULL; i++) {
        if (rule_matches(p, &pt->rules[dir][i], req, kind_index, marks, recipient))
            rule = &pt->rules[dir][i];
    }
    if (rule == NULL) {
        verdict_set(&d->verdict, POLICY_WHY_NO_RULE, POLICY_BUILTIN_DEFAULT_DENY, dir,
                    req->partner);
        d->verdict.token = kind_token;
        goto deny_all;
    }
    if (rule->action == POLICY_DENY) {
        verdict_set(&d->verdict, POLICY_WHY_RULE_DENY, rule->id, dir, req->partner);
        d->verdict.token = kind_token;
        goto deny_all;
    }
    if (l->classification > rule->ceiling) {
        verdict_set(&d->verdict, POLICY_WHY_CEILING, rule->id, dir, req->partner);
        d->verdict.level = l->classification;
        d->verdict.ceiling = rule->ceiling;
        goto deny_all;
    }
    if (req->portion_count == 0 && (marks & rule->withhold) != 0) {
        verdict_set(&d->verdict, POLICY_WHY_RULE_WITHHOLD, rule->id, dir, req->partner);
        d->verdict.token = mark_name(p, marks & rule->withhold);
        goto deny_all;
    }
    for (size_t i = 0; i < req->portion_count; i++) {
        const proto_labels *pl = &req->portions[i];
        policy_verdict *v = &d->portions[i];
        uint64_t hit;

        if (d->withheld & (1ull << i))
            continue;
        if (pl->classification > rule->ceiling) {
            verdict_set(v, POLICY_WHY_CEILING, rule->id, dir, req->partner);
            v->level = pl->classification;
            v->ceiling = rule->ceiling;
            d->withheld |= 1ull << i;
        } else if (rule->withhold != 0 && (hit = pol_marks_of(p, pl) & rule->withhold) != 0) {
            verdict_set(v, POLICY_WHY_RULE_WITHHOLD, rule->id, dir, req->partner);
            v->token = mark_name(p, hit);
            d->withheld |= 1ull << i;
        } else {
            verdict_set(v, POLICY_WHY_RELEASED_PORTION, rule->id, dir, req->partner);
        }
    }
    if (req->portion_count > 0 && d->withheld == all_mask)
        goto all_withheld;

    /* 4. Rate limits, on what would otherwise be released. */
    if (rate != NULL && pt->limit_count > 0) {
        const pol_limit *hit = NULL;

        if (!pol_rate_admit(rate, pt, dir, req->kind, kind_index, req->now_ms, &hit)) {
            verdict_set(&d->verdict, POLICY_WHY_RATE, POLICY_BUILTIN_RATE_LIMIT, dir,
                        req->partner);
            d->verdict.token = hit->pattern;
            d->verdict.number = hit->per_minute;
            goto deny_all;
        }
    }
    verdict_set(&d->verdict, POLICY_WHY_RULE_RELEASE, rule->id, dir, req->partner);
    d->verdict.token = kind_token;
    d->action = d->withheld != 0 ? POLICY_WITHHOLD : POLICY_RELEASE;
    d->grant = (int8_t)grant_used;
    return POLICY_OK;

all_withheld: {
    const policy_verdict *first = &d->portions[0];

    verdict_set(&d->verdict, POLICY_WHY_ALL_WITHHELD, first->rule_id, dir, req->partner);
    d->verdict.token = first->rule_id;
}
deny_all:
    /* Nothing is released: every portion goes with the message's verdict. */
    for (size_t i = 0; i < req->portion_count; i++) {
        if (!(d->withheld & (1ull << i)))
            d->portions[i] = d->verdict;
    }
    d->withheld = all_mask;
    d->action = POLICY_DENY;
    return POLICY_OK;
}
