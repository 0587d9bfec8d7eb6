/* Validating a policy file as read and compiling it into lookup structures. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* The default vocabulary of kinds, for a policy that lists none (docs/policy.md). */
static const char *const default_kinds[] = {
    "cargo.ack",        "cargo.alert",      "cargo.donotload",    "cargo.request",
    "cargo.result",
    "consent.deny",     "consent.grant",    "consent.request",    "freeze.ack",
    "freeze.designation",
    "mlat.evidence",    "mlat.request",     "mlat.status",        "recall.ack",
    "recall.request",   "traveldoc.answer",
    "traveldoc.check",  "traveldoc.report", "watchlist.answer",   "watchlist.details",
    "watchlist.publish", "watchlist.query", "watchlist.request",  "watchlist.withdraw",
};

/* Markings a rule may name besides the vocabulary's caveats. */
static const struct {
    const char *name;
    uint64_t bit;
} builtin_marks[] = {
    {"LES", PROTO_LABEL_LES},
    {"ORCON", PROTO_LABEL_ORCON},
    {"NOFORN", PROTO_LABEL_NOFORN},
    {"CRIME-ONLY", PROTO_LABEL_CRIME_ONLY},
    {"NO-COURT", PROTO_LABEL_NO_COURT},
    {"NO-ONWARD", PROTO_LABEL_NO_ONWARD},
    {"OTHER", POL_MARK_OTHER},
};

typedef struct ctx {
    const raw_policy *raw;         /* what libcyaml read */
    const liaison_yaml_doc *pp;    /* node positions */
    policy_load_error *err;        /* where errors go */
    policy *p;                     /* being built */
    char path[256];                /* scratch for node paths */
} ctx;

static const char *
at(ctx *c, const char *fmt, ...) PROTO_PRINTF(2, 3);

/* Formats a node path into the context's scratch buffer. */
static const char *
at(ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->path, sizeof(c->path), fmt, ap);
    va_end(ap);
    return c->path;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* ---- Vocabulary --------------------------------------------------------- */

static policy_err
class_level(ctx *c, const char *name, const char *path, uint8_t *level_out)
{
    for (uint8_t l = 0; l < PROTO_CLASS_COUNT; l++) {
        if (strcmp(proto_class_name(l), name) == 0) {
            if (!(c->p->class_mask & (1u << l)))
                break;
            *level_out = l;
            return POLICY_OK;
        }
    }
    pol_error_at(c->err, c->pp, path, false,
                 "unknown classification '%s' (not in the vocabulary's classifications)", name);
    return POLICY_ERR_VOCABULARY;
}

static policy_err
vocab_classes(ctx *c, const raw_vocabulary *v)
{
    int last = -1;

    if (v == NULL || v->classifications == NULL) {
        c->p->class_mask = (1u << PROTO_CLASS_COUNT) - 1;
        return POLICY_OK;
    }
    for (unsigned i = 0; i < v->classifications_count; i++) {
        const char *name = v->classifications[i];
        const char *path = at(c, "vocabulary.classifications[%u]", i);
        int level = -1;

        for (uint8_t l = 0; l < PROTO_CLASS_COUNT; l++) {
            if (strcmp(proto_class_name(l), name) == 0)
                level = l;
        }
        if (level < 0) {
            pol_error_at(c->err, c->pp, path, false,
                         "unknown classification '%s' (known: UNCLASSIFIED, RESTRICTED, "
                         "CONFIDENTIAL, SECRET, TOP SECRET)",
                         name);
            return POLICY_ERR_VOCABULARY;
        }
        if (level <= last) {
            pol_error_at(c->err, c->pp, path, false,
                         "classification '%s' is out of order or repeated: list the levels "
                         "from lowest to highest",
                         name);
            return POLICY_ERR_VALUE;
        }
        last = level;
        c->p->class_mask |= (uint8_t)(1u << level);
    }
    if (c->p->class_mask == 0) {
        pol_error_at(c->err, c->pp, "vocabulary.classifications", false,
                     "the vocabulary lists no classification level");
        return POLICY_ERR_VALUE;
    }
    return POLICY_OK;
}

static policy_err
vocab_caveats(ctx *c, const raw_vocabulary *v)
{
    unsigned n = v != NULL && v->caveats != NULL ? v->caveats_count : 0;

    if (n > POLICY_CAVEATS_MAX) {
        pol_error_at(c->err, c->pp, "vocabulary.caveats", false,
                     "%u caveats, at most %u allowed", n, POLICY_CAVEATS_MAX);
        return POLICY_ERR_LIMIT;
    }
    c->p->caveats = calloc(n + 1, sizeof(char *));
    if (c->p->caveats == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < n; i++) {
        const char *tok = v->caveats[i];
        const char *path = at(c, "vocabulary.caveats[%u]", i);
        proto_labels l;

        for (size_t b = 0; b < sizeof(builtin_marks) / sizeof(builtin_marks[0]); b++) {
            if (strcmp(tok, builtin_marks[b].name) == 0) {
                pol_error_at(c->err, c->pp, path, false,
                             "'%s' is a built-in marking, not a caveat to declare", tok);
                return POLICY_ERR_VALUE;
            }
        }
        if (strlen(tok) > PROTO_TOKEN_MAX || proto_labels_parse(tok, &l, NULL) != PROTO_OK ||
            l.caveat_count != 1 || strcmp(l.caveats[0], tok) != 0) {
            pol_error_at(c->err, c->pp, path, false,
                         "'%s' is not a caveat token (upper case A-Z, 0-9 and '-', at most %u "
                         "characters, not a label keyword)",
                         tok, PROTO_TOKEN_MAX);
            return POLICY_ERR_VALUE;
        }
        for (size_t j = 0; j < c->p->caveat_count; j++) {
            if (strcmp(c->p->caveats[j], tok) == 0) {
                pol_error_at(c->err, c->pp, path, false, "caveat '%s' is listed twice", tok);
                return POLICY_ERR_DUPLICATE;
            }
        }
        c->p->caveats[i] = dup_str(tok);
        if (c->p->caveats[i] == NULL)
            return POLICY_ERR_NOMEM;
        c->p->caveat_count++;
    }
    return POLICY_OK;
}

static policy_err
vocab_kinds(ctx *c, const raw_vocabulary *v)
{
    bool dflt = v == NULL || v->kinds == NULL;
    size_t n = dflt ? sizeof(default_kinds) / sizeof(default_kinds[0]) : v->kinds_count;

    if (n > POLICY_KINDS_MAX) {
        pol_error_at(c->err, c->pp, "vocabulary.kinds", false, "%zu kinds, at most %u allowed",
                     n, POLICY_KINDS_MAX);
        return POLICY_ERR_LIMIT;
    }
    c->p->kinds = calloc(n + 1, sizeof(char *));
    if (c->p->kinds == NULL)
        return POLICY_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *k = dflt ? default_kinds[i] : v->kinds[i];

        if (!dflt && proto_kind_check(k, NULL) != PROTO_OK) {
            pol_error_at(c->err, c->pp, at(c, "vocabulary.kinds[%zu]", i), false,
                         "'%s' is not a kind (lower-case 'family.verb')", k);
            return POLICY_ERR_VALUE;
        }
        for (size_t j = 0; j < c->p->kind_count; j++) {
            if (strcmp(c->p->kinds[j], k) == 0) {
                pol_error_at(c->err, c->pp, at(c, "vocabulary.kinds[%zu]", i), false,
                             "kind '%s' is listed twice", k);
                return POLICY_ERR_DUPLICATE;
            }
        }
        c->p->kinds[i] = dup_str(k);
        if (c->p->kinds[i] == NULL)
            return POLICY_ERR_NOMEM;
        c->p->kind_count++;
    }
    qsort(c->p->kinds, c->p->kind_count, sizeof(char *), cmp_str);
    return POLICY_OK;
}

/* ---- Pieces of rules ---------------------------------------------------- */

static policy_err
add_pattern(char ***arr, size_t *count, const char *s)
{
    char **grown = realloc(*arr, (*count + 1) * sizeof(char *));

    if (grown == NULL)
        return POLICY_ERR_NOMEM;
    *arr = grown;
    grown[*count] = dup_str(s);
    if (grown[*count] == NULL)
        return POLICY_ERR_NOMEM;
    (*count)++;
    return POLICY_OK;
}

/* Compiles kind patterns at "<base>[i]" into set. */
static policy_err
kindset_build(ctx *c, char *const *pats, unsigned count, const char *base, pol_kindset *set)
{
    char bpath[200];

    snprintf(bpath, sizeof(bpath), "%s", base);
    for (unsigned i = 0; i < count; i++) {
        const char *k = pats[i];
        size_t n = strlen(k);
        const char *path = at(c, "%s[%u]", bpath, i);
        policy_err rc;

        if (strcmp(k, "*") == 0) {
            set->any = true;
            continue;
        }
        if (n >= 3 && strcmp(k + n - 2, ".*") == 0) {
            char stem[PROTO_KIND_MAX + 8];
            bool known = false;

            if (n - 1 > PROTO_KIND_MAX) {
                pol_error_at(c->err, c->pp, path, false, "kind pattern '%s' is too long", k);
                return POLICY_ERR_VALUE;
            }
            /* "family.*" is valid if "family.x" is a valid kind. */
            snprintf(stem, sizeof(stem), "%.*sx", (int)(n - 1), k);
            if (proto_kind_check(stem, NULL) != PROTO_OK) {
                pol_error_at(c->err, c->pp, path, false,
                             "'%s' is not a kind pattern (write 'family.verb', 'family.*' or "
                             "'*')",
                             k);
                return POLICY_ERR_VALUE;
            }
            for (size_t j = 0; j < c->p->kind_count; j++) {
                if (strncmp(c->p->kinds[j], k, n - 1) == 0) {
                    set->mask |= 1ull << j;
                    known = true;
                }
            }
            if (!known) {
                pol_error_at(c->err, c->pp, path, false,
                             "unknown kind family '%.*s': no kind of the vocabulary starts "
                             "with '%.*s'",
                             (int)(n - 2), k, (int)(n - 1), k);
                return POLICY_ERR_VOCABULARY;
            }
            snprintf(stem, sizeof(stem), "%.*s", (int)(n - 1), k);
            rc = add_pattern(&set->prefixes, &set->prefix_count, stem);
            if (rc != POLICY_OK)
                return rc;
            continue;
        }
        if (proto_kind_check(k, NULL) != PROTO_OK) {
            pol_error_at(c->err, c->pp, path, false,
                         "'%s' is not a kind pattern (write 'family.verb', 'family.*' or '*')",
                         k);
            return POLICY_ERR_VALUE;
        }
        {
            int idx = pol_kind_index(c->p, k);

            if (idx < 0) {
                pol_error_at(c->err, c->pp, path, false,
                             "unknown kind '%s' (not in the vocabulary's kinds)", k);
                return POLICY_ERR_VOCABULARY;
            }
            set->mask |= 1ull << idx;
            rc = add_pattern(&set->exact, &set->exact_count, k);
            if (rc != POLICY_OK)
                return rc;
        }
    }
    return POLICY_OK;
}

/* True if every kind that b matches, a matches too. */
static bool
kindset_covers(const pol_kindset *a, const pol_kindset *b)
{
    if (a->any)
        return true;
    if (b->any)
        return false;
    for (size_t i = 0; i < b->exact_count; i++) {
        bool hit = false;

        for (size_t j = 0; j < a->exact_count && !hit; j++)
            hit = strcmp(a->exact[j], b->exact[i]) == 0;
        for (size_t j = 0; j < a->prefix_count && !hit; j++)
            hit = strncmp(b->exact[i], a->prefixes[j], strlen(a->prefixes[j])) == 0;
        if (!hit)
            return false;
    }
    for (size_t i = 0; i < b->prefix_count; i++) {
        bool hit = false;

        for (size_t j = 0; j < a->prefix_count && !hit; j++)
            hit = strncmp(b->prefixes[i], a->prefixes[j], strlen(a->prefixes[j])) == 0;
        if (!hit)
            return false;
    }
    return true;
}

static policy_err
marks_build(ctx *c, char *const *toks, unsigned count, const char *base, uint64_t *bits)
{
    char bpath[200];

    snprintf(bpath, sizeof(bpath), "%s", base);
    for (unsigned i = 0; i < count; i++) {
        const char *t = toks[i];
        bool found = false;

        for (size_t b = 0; b < sizeof(builtin_marks) / sizeof(builtin_marks[0]) && !found; b++) {
            if (strcmp(t, builtin_marks[b].name) == 0) {
                *bits |= builtin_marks[b].bit;
                found = true;
            }
        }
        for (size_t j = 0; j < c->p->caveat_count && !found; j++) {
            if (strcmp(t, c->p->caveats[j]) == 0) {
                *bits |= 1ull << (POL_MARK_CAVEAT0 + j);
                found = true;
            }
        }
        if (!found) {
            pol_error_at(c->err, c->pp, at(c, "%s[%u]", bpath, i), false,
                         "unknown caveat '%s' (not a built-in marking nor in the vocabulary's "
                         "caveats)",
                         t);
            return POLICY_ERR_VOCABULARY;
        }
    }
    return POLICY_OK;
}

static policy_err
selectors_build(ctx *c, char *const *txt, unsigned count, const char *base, const char *nation,
                const char *field, const char *whose, proto_addr **out, size_t *out_count)
{
    char bpath[200];

    snprintf(bpath, sizeof(bpath), "%s", base);
    if (count == 0)
        return POLICY_OK;
    *out = calloc(count, sizeof(proto_addr));
    if (*out == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < count; i++) {
        proto_addr a;
        proto_detail d;
        const char *path = at(c, "%s[%u]", bpath, i);

        memset(&d, 0, sizeof(d));
        if (proto_addr_parse(txt[i], &a, &d) != PROTO_OK) {
            pol_error_at(c->err, c->pp, path, false, "bad address '%s' in '%s': %s", txt[i],
                         field, d.text);
            return POLICY_ERR_ADDRESS;
        }
        if (a.kind == PROTO_ADDR_BROKER) {
            pol_error_at(c->err, c->pp, path, false,
                         "bad address '%s' in '%s': name an agency (%s/AGENCY) or a nation's "
                         "agencies (%s/*)",
                         txt[i], field, a.nation, a.nation);
            return POLICY_ERR_ADDRESS;
        }
        if (a.kind != PROTO_ADDR_ALL && strcmp(a.nation, nation) != 0) {
            pol_error_at(c->err, c->pp, path, false,
                         "bad address '%s' in '%s': it must be an address of %s (%s)", txt[i],
                         field, nation, whose);
            return POLICY_ERR_ADDRESS;
        }
        (*out)[(*out_count)++] = a;
    }
    return POLICY_OK;
}

static bool
selectors_cover(const proto_addr *a, size_t an, const proto_addr *b, size_t bn)
{
    if (an == 0)
        return true;
    if (bn == 0)
        return false;
    for (size_t i = 0; i < bn; i++) {
        bool hit = false;

        for (size_t j = 0; j < an && !hit; j++)
            hit = pol_selector_covers(&a[j], &b[i]);
        if (!hit)
            return false;
    }
    return true;
}

static bool
basis_valid(const char *s)
{
    char text[PROTO_BASIS_MAX + 16];
    proto_labels l;

    if (strlen(s) == 0 || strlen(s) > PROTO_BASIS_MAX)
        return false;
    snprintf(text, sizeof(text), "BASIS:%s", s);
    return proto_labels_parse(text, &l, NULL) == PROTO_OK && strcmp(l.basis, s) == 0;
}

static bool
basis_covers(const pol_rule *a, const pol_rule *b)
{
    if (a->basis_count == 0 && !a->basis_any)
        return true;
    if (b->basis_count == 0 && !b->basis_any)
        return false;
    if (a->basis_any)
        return true;
    if (b->basis_any)
        return false;
    for (size_t i = 0; i < b->basis_count; i++) {
        bool hit = false;

        for (size_t j = 0; j < a->basis_count && !hit; j++)
            hit = strcmp(a->basis[j], b->basis[i]) == 0;
        if (!hit)
            return false;
    }
    return true;
}

/* True if rule a, earlier in the list, matches every message that b matches. */
static bool
rule_covers(const pol_rule *a, const pol_rule *b)
{
    return kindset_covers(&a->kinds, &b->kinds) && (a->require & ~b->require) == 0 &&
           (a->exclude & ~b->exclude) == 0 && basis_covers(a, b) &&
           selectors_cover(a->from, a->from_count, b->from, b->from_count) &&
           selectors_cover(a->to, a->to_count, b->to, b->to_count);
}

static bool
rule_id_valid(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > PROTO_RULE_ID_MAX || strncmp(id, "builtin:", 8) == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return false;
    }
    return true;
}

static policy_err
rule_build(ctx *c, const raw_rule *r, const char *base, uint8_t dir, const char *partner,
           pol_rule *out)
{
    char b[160];
    const char *home = c->p->nation;
    const char *src = dir == POLICY_EGRESS ? home : partner;
    const char *dst = dir == POLICY_EGRESS ? partner : home;
    const liaison_yaml_node *pos;
    policy_err rc;

    snprintf(b, sizeof(b), "%s", base);
    pos = liaison_yaml_find(c->pp, b);
    if (pos != NULL) {
        out->line = pos->line;
        out->column = pos->column;
    }
    if (!rule_id_valid(r->id)) {
        pol_error_at(c->err, c->pp, at(c, "%s.id", b), false,
                     "rule id '%s' must be 1-%u of A-Z, a-z, 0-9, '-', '_', '.', ':' and may "
                     "not start with 'builtin:'",
                     r->id, PROTO_RULE_ID_MAX);
        return POLICY_ERR_VALUE;
    }
    snprintf(out->id, sizeof(out->id), "%s", r->id);
    out->action = (uint8_t)r->action;
    rc = kindset_build(c, r->kinds, r->kinds_count, at(c, "%s.kinds", b), &out->kinds);
    if (rc != POLICY_OK)
        return rc;
    out->ceiling = PROTO_CLASS_TOP_SECRET;
    if (r->ceiling != NULL) {
        rc = class_level(c, r->ceiling, at(c, "%s.ceiling", b), &out->ceiling);
        if (rc != POLICY_OK)
            return rc;
    }
    if ((rc = marks_build(c, r->require, r->require_count, at(c, "%s.require", b),
                          &out->require)) != POLICY_OK ||
        (rc = marks_build(c, r->exclude, r->exclude_count, at(c, "%s.exclude", b),
                          &out->exclude)) != POLICY_OK ||
        (rc = marks_build(c, r->withhold, r->withhold_count, at(c, "%s.withhold", b),
                          &out->withhold)) != POLICY_OK)
        return rc;
    if (out->require & out->exclude) {
        pol_error_at(c->err, c->pp, at(c, "%s.exclude", b), false,
                     "rule '%s' requires and excludes the same marking, so it never matches",
                     r->id);
        return POLICY_ERR_VALUE;
    }
    if (r->action == POLICY_WITHHOLD && r->withhold_count == 0) {
        pol_error_at(c->err, c->pp, at(c, "%s.action", b), false,
                     "rule '%s': action withhold needs a 'withhold' list of markings", r->id);
        return POLICY_ERR_VALUE;
    }
    if (r->action != POLICY_WITHHOLD && r->withhold_count > 0) {
        pol_error_at(c->err, c->pp, at(c, "%s.withhold", b), true,
                     "rule '%s': 'withhold' is only for action withhold", r->id);
        return POLICY_ERR_VALUE;
    }
    for (unsigned i = 0; i < r->basis_count; i++) {
        const char *s = r->basis[i];

        if (strcmp(s, "*") == 0) {
            out->basis_any = true;
            continue;
        }
        if (!basis_valid(s)) {
            pol_error_at(c->err, c->pp, at(c, "%s.basis[%u]", b, i), false,
                         "'%s' is not a legal basis id (upper case A-Z, 0-9, '-', '.', '_')", s);
            return POLICY_ERR_VALUE;
        }
        rc = add_pattern(&out->basis, &out->basis_count, s);
        if (rc != POLICY_OK)
            return rc;
    }
    if (out->basis_any && out->basis_count > 0) {
        pol_error_at(c->err, c->pp, at(c, "%s.basis", b), false,
                     "rule '%s': basis '*' already accepts every basis; list nothing else",
                     r->id);
        return POLICY_ERR_VALUE;
    }
    rc = selectors_build(c, r->from, r->from_count, at(c, "%s.from", b), src, "from",
                         dir == POLICY_EGRESS ? "this nation, the sender side"
                                              : "the partner, the sender side",
                         &out->from, &out->from_count);
    if (rc != POLICY_OK)
        return rc;
    return selectors_build(c, r->to, r->to_count, at(c, "%s.to", b), dst, "to",
                           dir == POLICY_EGRESS ? "the partner, the recipient side"
                                                : "this nation, the recipient side",
                           &out->to, &out->to_count);
}

/* ---- Treaties, partners, limits ----------------------------------------- */

static policy_err
treaties_build(ctx *c)
{
    const raw_policy *raw = c->raw;

    if (raw->treaties_count == 0)
        return POLICY_OK;
    c->p->treaties = calloc(raw->treaties_count, sizeof(pol_treaty));
    if (c->p->treaties == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < raw->treaties_count; i++) {
        const raw_treaty *t = &raw->treaties[i];
        pol_treaty *out = &c->p->treaties[i];
        uint64_t until;

        c->p->treaty_count++;
        if (!basis_valid(t->id)) {
            pol_error_at(c->err, c->pp, at(c, "treaties[%u].id", i), false,
                         "treaty id '%s' must be a legal basis id (upper case A-Z, 0-9, '-', "
                         "'.', '_'; at most %u characters)",
                         t->id, PROTO_BASIS_MAX);
            return POLICY_ERR_VALUE;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(raw->treaties[j].id, t->id) == 0) {
                pol_error_at(c->err, c->pp, at(c, "treaties[%u].id", i), false,
                             "treaty '%s' is declared twice", t->id);
                return POLICY_ERR_DUPLICATE;
            }
        }
        snprintf(out->id, sizeof(out->id), "%s", t->id);
        {
            bool declared = false;

            for (unsigned j = 0; j < raw->partners_count && !declared; j++)
                declared = strcmp(raw->partners[j].nation, t->partner) == 0;
            if (!declared) {
                pol_error_at(c->err, c->pp, at(c, "treaties[%u].partner", i), false,
                             "treaty '%s' names partner '%s', which is not declared under "
                             "partners",
                             t->id, t->partner);
                return POLICY_ERR_PARTNER;
            }
        }
        snprintf(out->partner, sizeof(out->partner), "%s", t->partner);
        if (policy_date_parse(t->in_force_from, &out->from_ms) != POLICY_OK ||
            strchr(t->in_force_from, '-') == NULL) {
            pol_error_at(c->err, c->pp, at(c, "treaties[%u].in_force_from", i), false,
                         "'%s' is not a date (write YYYY-MM-DD)", t->in_force_from);
            return POLICY_ERR_DATES;
        }
        out->until_ms = UINT64_MAX;
        if (t->in_force_until != NULL) {
            if (policy_date_parse(t->in_force_until, &until) != POLICY_OK ||
                strchr(t->in_force_until, '-') == NULL) {
                pol_error_at(c->err, c->pp, at(c, "treaties[%u].in_force_until", i), false,
                             "'%s' is not a date (write YYYY-MM-DD)", t->in_force_until);
                return POLICY_ERR_DATES;
            }
            if (until < out->from_ms) {
                pol_error_at(c->err, c->pp, at(c, "treaties[%u].in_force_until", i), false,
                             "treaty '%s' is in force until %s, before it comes into force on "
                             "%s (dates reversed?)",
                             t->id, t->in_force_until, t->in_force_from);
                return POLICY_ERR_DATES;
            }
            out->until_ms = until + 86400000ull; /* "until" is the last day in force */
        }
        out->offences = calloc(t->offences_count, sizeof(*out->offences));
        if (out->offences == NULL)
            return POLICY_ERR_NOMEM;
        for (unsigned j = 0; j < t->offences_count; j++) {
            char text[PROTO_TOKEN_MAX + 16];
            proto_labels l;

            snprintf(text, sizeof(text), "OFFENCE:%s", t->offences[j]);
            if (strlen(t->offences[j]) > PROTO_TOKEN_MAX ||
                proto_labels_parse(text, &l, NULL) != PROTO_OK || l.offence_count != 1) {
                pol_error_at(c->err, c->pp, at(c, "treaties[%u].offences[%u]", i, j), false,
                             "'%s' is not an offence category token (upper case A-Z, 0-9, "
                             "'-')",
                             t->offences[j]);
                return POLICY_ERR_VALUE;
            }
            for (size_t k = 0; k < out->offence_count; k++) {
                if (strcmp(out->offences[k], t->offences[j]) == 0) {
                    pol_error_at(c->err, c->pp, at(c, "treaties[%u].offences[%u]", i, j),
                                 false, "offence '%s' is listed twice", t->offences[j]);
                    return POLICY_ERR_DUPLICATE;
                }
            }
            snprintf(out->offences[out->offence_count++], PROTO_TOKEN_MAX + 1, "%s",
                     t->offences[j]);
        }
    }
    return POLICY_OK;
}

typedef struct rule_ref {
    const char *id;             /* rule id */
    unsigned partner;           /* index in raw partners */
    unsigned dir;               /* direction */
    unsigned index;             /* index in its list */
} rule_ref;

static int
cmp_ref(const void *a, const void *b)
{
    const rule_ref *x = a, *y = b;
    int d = strcmp(x->id, y->id);

    if (d != 0)
        return d;
    if (x->partner != y->partner)
        return x->partner < y->partner ? -1 : 1;
    if (x->dir != y->dir)
        return x->dir < y->dir ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static const char *const dir_names[2] = {"egress", "ingress"};

/* Rule ids are unique across the file, so an audit record's rule id is unambiguous. */
static policy_err
rule_ids_unique(ctx *c)
{
    const raw_policy *raw = c->raw;
    size_t total = 0, n = 0;
    rule_ref *refs;
    policy_err rc = POLICY_OK;

    for (unsigned i = 0; i < raw->partners_count; i++)
        total += raw->partners[i].egress_count + raw->partners[i].ingress_count;
    if (total == 0)
        return POLICY_OK;
    refs = calloc(total, sizeof(*refs));
    if (refs == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < raw->partners_count; i++) {
        const raw_partner *rp = &raw->partners[i];

        for (unsigned j = 0; j < rp->egress_count; j++)
            refs[n++] = (rule_ref){rp->egress[j].id, i, 0, j};
        for (unsigned j = 0; j < rp->ingress_count; j++)
            refs[n++] = (rule_ref){rp->ingress[j].id, i, 1, j};
    }
    qsort(refs, n, sizeof(*refs), cmp_ref);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(refs[i - 1].id, refs[i].id) == 0) {
            /* Report the later of the two, in file order. */
            const rule_ref *a = &refs[i - 1], *b = &refs[i];
            const liaison_yaml_node *pa, *pb;
            char path_a[128];

            snprintf(path_a, sizeof(path_a), "partners[%u].%s[%u].id", a->partner,
                     dir_names[a->dir], a->index);
            pa = liaison_yaml_find(c->pp, path_a);
            pb = liaison_yaml_find(c->pp, at(c, "partners[%u].%s[%u].id", b->partner,
                                              dir_names[b->dir], b->index));
            if (pa != NULL && pb != NULL && pa->line > pb->line) {
                const rule_ref *t = a;

                a = b;
                b = t;
                pa = pb;
            }
            pol_error_at(c->err, c->pp,
                         at(c, "partners[%u].%s[%u].id", b->partner, dir_names[b->dir],
                            b->index),
                         false, "duplicate rule id '%s' (first defined at line %u)", b->id,
                         pa != NULL ? pa->line : 0);
            rc = POLICY_ERR_DUPLICATE;
            break;
        }
    }
    free(refs);
    return rc;
}

static int
cmp_partner(const void *a, const void *b)
{
    const pol_partner *x = a, *y = b;

    return x->key < y->key ? -1 : (x->key > y->key);
}

static policy_err
partners_build(ctx *c)
{
    const raw_policy *raw = c->raw;
    policy *p = c->p;
    policy_err rc;

    p->partners = calloc(raw->partners_count, sizeof(pol_partner));
    if (p->partners == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < raw->partners_count; i++) {
        const char *n = raw->partners[i].nation;

        if (!proto_nation_valid(n)) {
            pol_error_at(c->err, c->pp, at(c, "partners[%u].nation", i), false,
                         "partner '%s' is not a nation code (three upper-case letters, ISO "
                         "3166 alpha-3)",
                         n);
            return POLICY_ERR_VALUE;
        }
        if (strcmp(n, p->nation) == 0) {
            pol_error_at(c->err, c->pp, at(c, "partners[%u].nation", i), false,
                         "partner '%s' is this policy's own nation", n);
            return POLICY_ERR_VALUE;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(raw->partners[j].nation, n) == 0) {
                const liaison_yaml_node *first =
                    liaison_yaml_find(c->pp, at(c, "partners[%u].nation", j));
                uint32_t line = first != NULL ? first->line : 0;

                pol_error_at(c->err, c->pp, at(c, "partners[%u].nation", i), false,
                             "partner '%s' is declared twice (first at line %u)", n, line);
                return POLICY_ERR_DUPLICATE;
            }
        }
    }
    rc = rule_ids_unique(c);
    if (rc != POLICY_OK)
        return rc;
    for (unsigned i = 0; i < raw->partners_count; i++) {
        const raw_partner *rp = &raw->partners[i];
        pol_partner *pp = &p->partners[i];

        snprintf(pp->nation, sizeof(pp->nation), "%s", rp->nation);
        pp->key = pol_nation_key(pp->nation);
        p->partner_count++;
        for (unsigned d = 0; d < 2; d++) {
            const raw_rule *list = d == 0 ? rp->egress : rp->ingress;
            unsigned count = d == 0 ? rp->egress_count : rp->ingress_count;

            if (count == 0)
                continue;
            pp->rules[d] = calloc(count, sizeof(pol_rule));
            if (pp->rules[d] == NULL)
                return POLICY_ERR_NOMEM;
            for (unsigned j = 0; j < count; j++) {
                char base[96];

                snprintf(base, sizeof(base), "partners[%u].%s[%u]", i, dir_names[d], j);
                pp->rule_count[d]++;
                rc = rule_build(c, &list[j], base, (uint8_t)d, pp->nation, &pp->rules[d][j]);
                if (rc != POLICY_OK)
                    return rc;
                for (unsigned k = 0; k < j; k++) {
                    if (rule_covers(&pp->rules[d][k], &pp->rules[d][j])) {
                        pol_error_at(c->err, c->pp, at(c, "%s.id", base), false,
                                     "rule '%s' is shadowed: the earlier rule '%s' (line %u) "
                                     "matches everything it matches, so it can never fire",
                                     pp->rules[d][j].id, pp->rules[d][k].id,
                                     pp->rules[d][k].line);
                        return POLICY_ERR_SHADOWED;
                    }
                }
                p->rule_total++;
            }
        }
        for (size_t t = 0; t < p->treaty_count; t++) {
            if (strcmp(p->treaties[t].partner, pp->nation) == 0)
                pp->treaty_count++;
        }
        if (pp->treaty_count > 0) {
            size_t k = 0;

            pp->treaties = calloc(pp->treaty_count, sizeof(pol_treaty *));
            if (pp->treaties == NULL)
                return POLICY_ERR_NOMEM;
            for (size_t t = 0; t < p->treaty_count; t++) {
                if (strcmp(p->treaties[t].partner, pp->nation) == 0)
                    pp->treaties[k++] = &p->treaties[t];
            }
        }
    }
    return POLICY_OK;
}

static policy_err
limits_build(ctx *c)
{
    const raw_policy *raw = c->raw;
    policy *p = c->p;
    size_t slots = 0;
    policy_err rc;

    for (unsigned i = 0; i < raw->rate_limits_count; i++) {
        const raw_limit *l = &raw->rate_limits[i];
        bool all = strcmp(l->partner, "*") == 0;
        pol_kindset probe;
        bool declared = all;

        for (size_t j = 0; j < p->partner_count && !declared; j++)
            declared = strcmp(p->partners[j].nation, l->partner) == 0;
        if (!declared) {
            pol_error_at(c->err, c->pp, at(c, "rate_limits[%u].partner", i), false,
                         "rate limit names partner '%s', which is not declared under partners "
                         "(or write \"*\" for each partner)",
                         l->partner);
            return POLICY_ERR_PARTNER;
        }
        if (l->per_minute == 0 || l->per_minute > POLICY_PER_MINUTE_MAX) {
            pol_error_at(c->err, c->pp, at(c, "rate_limits[%u].per_minute", i), false,
                         "per_minute must be 1 to %u, not %u", POLICY_PER_MINUTE_MAX,
                         l->per_minute);
            return POLICY_ERR_VALUE;
        }
        memset(&probe, 0, sizeof(probe));
        rc = kindset_build(c, l->kinds, l->kinds_count, at(c, "rate_limits[%u].kinds", i),
                           &probe);
        pol_kindset_free(&probe);
        if (rc != POLICY_OK)
            return rc;
        slots += all ? p->partner_count : 1;
    }
    if (slots == 0)
        return POLICY_OK;
    if (slots > 65536) {
        pol_error_at(c->err, c->pp, "rate_limits", false, "too many rate limits (%zu)", slots);
        return POLICY_ERR_LIMIT;
    }
    p->slot_sizes = calloc(slots, sizeof(uint32_t));
    if (p->slot_sizes == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < raw->rate_limits_count; i++) {
        const raw_limit *l = &raw->rate_limits[i];
        bool all = strcmp(l->partner, "*") == 0;

        for (size_t j = 0; j < p->partner_count; j++) {
            pol_partner *pp = &p->partners[j];
            pol_limit *grown, *lim;

            if (!all && strcmp(pp->nation, l->partner) != 0)
                continue;
            grown = realloc(pp->limits, (pp->limit_count + 1) * sizeof(pol_limit));
            if (grown == NULL)
                return POLICY_ERR_NOMEM;
            pp->limits = grown;
            lim = &pp->limits[pp->limit_count++];
            memset(lim, 0, sizeof(*lim));
            lim->slot = p->slot_count;
            lim->direction = (uint8_t)l->direction;
            lim->per_minute = l->per_minute;
            snprintf(lim->pattern, sizeof(lim->pattern), "%s", l->kinds[0]);
            p->slot_sizes[p->slot_count++] = l->per_minute;
            rc = kindset_build(c, l->kinds, l->kinds_count, at(c, "rate_limits[%u].kinds", i),
                               &lim->kinds);
            if (rc != POLICY_OK)
                return rc;
        }
    }
    return POLICY_OK;
}

/* ---- Retention and holds ------------------------------------------------- */

static bool
case_text_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > PROTO_CASE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '/' || ch == '-'))
            return false;
    }
    return true;
}

/* Joins list into out as "a, b, c" (cut short if it does not fit). */
static void
join_list(char *const *list, unsigned count, char *out, size_t cap)
{
    size_t used = 0;

    out[0] = '\0';
    for (unsigned i = 0; i < count && used < cap; i++) {
        int n = snprintf(out + used, cap - used, "%s%s", i > 0 ? ", " : "", list[i]);

        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static policy_err
retention_build(ctx *c)
{
    const raw_policy *raw = c->raw;
    policy *p = c->p;
    policy_err rc;

    if (raw->retention_count == 0)
        return POLICY_OK;
    p->retention = calloc(raw->retention_count, sizeof(pol_retention));
    if (p->retention == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < raw->retention_count; i++) {
        const raw_retention *r = &raw->retention[i];
        pol_retention *out = &p->retention[p->retention_count++];
        const liaison_yaml_node *pos = liaison_yaml_find(c->pp, at(c, "retention[%u]", i));

        if (pos != NULL)
            out->info.line = pos->line;
        if (!rule_id_valid(r->id)) {
            pol_error_at(c->err, c->pp, at(c, "retention[%u].id", i), false,
                         "retention rule id '%s' must be 1-%u of A-Z, a-z, 0-9, '-', '_', '.', "
                         "':' and may not start with 'builtin:'",
                         r->id, PROTO_RULE_ID_MAX);
            return POLICY_ERR_VALUE;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(raw->retention[j].id, r->id) == 0) {
                pol_error_at(c->err, c->pp, at(c, "retention[%u].id", i), false,
                             "retention rule id '%s' is declared twice (first as retention[%u])",
                             r->id, j);
                return POLICY_ERR_DUPLICATE;
            }
        }
        snprintf(out->info.id, sizeof(out->info.id), "%s", r->id);
        if (policy_keep_parse(r->keep, &out->info.keep, &out->info.keep_ms) != POLICY_OK) {
            pol_error_at(c->err, c->pp, at(c, "retention[%u].keep", i), false,
                         "keep '%s' is not a duration (Nd days, Nw weeks, Ny years of 365 days, "
                         "Ns seconds for tests; N from 1, at most %u years) nor \"case\"",
                         r->keep, POLICY_KEEP_YEARS_MAX);
            return POLICY_ERR_VALUE;
        }
        snprintf(out->info.keep_text, sizeof(out->info.keep_text), "%s", r->keep);
        rc = kindset_build(c, r->kinds, r->kinds_count, at(c, "retention[%u].kinds", i),
                           &out->kinds);
        if (rc != POLICY_OK)
            return rc;
        rc = marks_build(c, r->require, r->require_count, at(c, "retention[%u].require", i),
                         &out->require);
        if (rc != POLICY_OK)
            return rc;
        join_list(r->kinds, r->kinds_count, out->info.kinds, sizeof(out->info.kinds));
        join_list(r->require, r->require_count, out->info.require, sizeof(out->info.require));
    }
    return POLICY_OK;
}

static policy_err
holds_build(ctx *c)
{
    const raw_policy *raw = c->raw;
    policy *p = c->p;

    if (raw->holds_count == 0)
        return POLICY_OK;
    p->holds = calloc(raw->holds_count, sizeof(policy_hold_info));
    if (p->holds == NULL)
        return POLICY_ERR_NOMEM;
    for (unsigned i = 0; i < raw->holds_count; i++) {
        const raw_hold *h = &raw->holds[i];
        policy_hold_info *out = &p->holds[p->hold_count++];
        const liaison_yaml_node *pos = liaison_yaml_find(c->pp, at(c, "holds[%u]", i));

        if (pos != NULL)
            out->line = pos->line;
        if (!rule_id_valid(h->id)) {
            pol_error_at(c->err, c->pp, at(c, "holds[%u].id", i), false,
                         "hold id '%s' must be 1-%u of A-Z, a-z, 0-9, '-', '_', '.', ':' and "
                         "may not start with 'builtin:'",
                         h->id, PROTO_RULE_ID_MAX);
            return POLICY_ERR_VALUE;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(raw->holds[j].id, h->id) == 0) {
                pol_error_at(c->err, c->pp, at(c, "holds[%u].id", i), false,
                             "hold id '%s' is declared twice (first as holds[%u])", h->id, j);
                return POLICY_ERR_DUPLICATE;
            }
        }
        snprintf(out->id, sizeof(out->id), "%s", h->id);
        if ((h->case_id == NULL) == (h->message == NULL)) {
            pol_error_at(c->err, c->pp, at(c, "holds[%u]", i), false,
                         "hold '%s' must name exactly one of case or message", h->id);
            return POLICY_ERR_SCHEMA;
        }
        if (h->case_id != NULL) {
            if (!case_text_valid(h->case_id)) {
                pol_error_at(c->err, c->pp, at(c, "holds[%u].case", i), false,
                             "case '%s' is not a case id (1-%u of A-Z, a-z, 0-9, '.', '_', ':', "
                             "'/', '-')",
                             h->case_id, PROTO_CASE_ID_MAX);
                return POLICY_ERR_VALUE;
            }
            snprintf(out->case_id, sizeof(out->case_id), "%s", h->case_id);
        } else {
            if (strlen(h->message) != 2u * PROTO_ID_BYTES ||
                proto_id_parse(h->message, out->message) != PROTO_OK) {
                pol_error_at(c->err, c->pp, at(c, "holds[%u].message", i), false,
                             "message '%s' is not a message id (32 hex digits)", h->message);
                return POLICY_ERR_VALUE;
            }
            out->has_message = true;
        }
        out->until_ms = UINT64_MAX;
        if (h->until != NULL) {
            uint64_t day;

            if (policy_date_parse(h->until, &day) != POLICY_OK) {
                pol_error_at(c->err, c->pp, at(c, "holds[%u].until", i), false,
                             "until '%s' is not a date (YYYY-MM-DD)", h->until);
                return POLICY_ERR_DATES;
            }
            out->until_ms = day + 86400000ull; /* inclusive: the whole day */
        }
        if (strlen(h->reason) == 0 || strlen(h->reason) > POLICY_HOLD_REASON_MAX) {
            pol_error_at(c->err, c->pp, at(c, "holds[%u].reason", i), false,
                         "reason must be 1-%u bytes", POLICY_HOLD_REASON_MAX);
            return POLICY_ERR_VALUE;
        }
        for (const char *q = h->reason; *q != '\0'; q++) {
            if ((unsigned char)*q < 0x20 || *q == 0x7f) {
                pol_error_at(c->err, c->pp, at(c, "holds[%u].reason", i), false,
                             "reason may not hold control characters");
                return POLICY_ERR_VALUE;
            }
        }
        snprintf(out->reason, sizeof(out->reason), "%s", h->reason);
    }
    return POLICY_OK;
}

policy_err
pol_compile(const raw_policy *raw, const liaison_yaml_doc *pp, const uint8_t *bytes, size_t len,
            policy **out, policy_load_error *err)
{
    ctx c;
    policy_err rc;

    memset(&c, 0, sizeof(c));
    c.raw = raw;
    c.pp = pp;
    c.err = err;
    c.p = calloc(1, sizeof(policy));
    if (c.p == NULL)
        return POLICY_ERR_NOMEM;
    proto_sha256(bytes, len, c.p->hash);
    if (!proto_nation_valid(raw->nation)) {
        pol_error_at(err, pp, "nation", false,
                     "nation '%s' is not a nation code (three upper-case letters, ISO 3166 "
                     "alpha-3)",
                     raw->nation);
        rc = POLICY_ERR_VALUE;
        goto out;
    }
    snprintf(c.p->nation, sizeof(c.p->nation), "%s", raw->nation);
    if ((rc = vocab_classes(&c, raw->vocabulary)) != POLICY_OK ||
        (rc = vocab_caveats(&c, raw->vocabulary)) != POLICY_OK ||
        (rc = vocab_kinds(&c, raw->vocabulary)) != POLICY_OK ||
        (rc = treaties_build(&c)) != POLICY_OK || (rc = partners_build(&c)) != POLICY_OK ||
        (rc = limits_build(&c)) != POLICY_OK ||
        (rc = retention_build(&c)) != POLICY_OK || (rc = holds_build(&c)) != POLICY_OK)
        goto out;
    qsort(c.p->partners, c.p->partner_count, sizeof(pol_partner), cmp_partner);
    *out = c.p;
    c.p = NULL;
out:
    policy_destroy(&c.p);
    return rc;
}
