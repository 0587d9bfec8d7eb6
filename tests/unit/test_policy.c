/* Unit tests of policy/: loading errors, every rule feature, built-ins, invariants. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers.h"
#include "liaison_policy.h"

#define D_2024 1717200000000ull /* 2024-06-01 */

static policy *
load_data(const char *rel)
{
    char path[512];
    policy *p = NULL;
    policy_load_error e;
    policy_err rc;

    test_data_path(rel, path, sizeof(path));
    rc = policy_load(path, &p, &e);
    if (rc != POLICY_OK)
        fail_msg("%s: %s:%u:%u: %s", policy_strerror(rc), e.file, e.line, e.column, e.message);
    return p;
}

/* ---- Malformed policies: one case per error class ------------------------- */

typedef struct bad_case {
    const char *file;        /* under tests/data/policy */
    policy_err err;          /* expected code */
    uint32_t line;           /* expected line */
    uint32_t column;         /* expected column */
    const char *text;        /* expected part of the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"bad_syntax.yaml", POLICY_ERR_SYNTAX, 6, 1, "YAML syntax error: did not find expected ','"},
    {"bad_unknown_field.yaml", POLICY_ERR_SCHEMA, 15, 9, "unknown field 'kindz' in partners[0].egress[0]"},
    {"bad_wrong_type.yaml", POLICY_ERR_SCHEMA, 6, 16, "wrong type for partners[0].egress[0].kinds: expected a list"},
    {"bad_wrong_type_int.yaml", POLICY_ERR_SCHEMA, 7, 17, "rate_limits[0].per_minute: Invalid"},
    {"bad_enum.yaml", POLICY_ERR_SCHEMA, 7, 17, "partners[0].egress[0].action"},
    {"bad_missing_field.yaml", POLICY_ERR_SCHEMA, 5, 9, "missing required field 'id'"},
    {"bad_duplicate_key.yaml", POLICY_ERR_SCHEMA, 2, 1, "field 'nation' appears twice"},
    {"bad_unknown_kind.yaml", POLICY_ERR_VOCABULARY, 6, 17, "unknown kind 'watchlist.qeury'"},
    {"bad_unknown_kind_family.yaml", POLICY_ERR_VOCABULARY, 6, 17, "unknown kind family 'mlt'"},
    {"bad_unknown_caveat.yaml", POLICY_ERR_VOCABULARY, 9, 19, "unknown caveat 'HUMNIT'"},
    {"bad_unknown_class.yaml", POLICY_ERR_VOCABULARY, 7, 18, "unknown classification 'SECERT'"},
    {"bad_duplicate_rule.yaml", POLICY_ERR_DUPLICATE, 9, 13, "duplicate rule id 'r1' (first defined at line 5)"},
    {"bad_duplicate_partner.yaml", POLICY_ERR_DUPLICATE, 4, 13, "partner 'MEX' is declared twice"},
    {"bad_unknown_partner.yaml", POLICY_ERR_PARTNER, 5, 14, "rate limit names partner 'BRA'"},
    {"bad_unknown_partner_treaty.yaml", POLICY_ERR_PARTNER, 4, 14, "treaty 'USA-BRA-MLAT' names partner 'BRA'"},
    {"bad_shadowed.yaml", POLICY_ERR_SHADOWED, 8, 13, "rule 'narrow' is shadowed: the earlier rule 'broad' (line 5)"},
    {"bad_address.yaml", POLICY_ERR_ADDRESS, 7, 14, "bad address 'mex/fgr' in 'to'"},
    {"bad_address_nation.yaml", POLICY_ERR_ADDRESS, 7, 14, "it must be an address of MEX"},
    {"bad_dates_reversed.yaml", POLICY_ERR_DATES, 6, 21, "dates reversed"},
};

static void
test_policy_malformed_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case *c = &bad_cases[i];
        char path[512];
        policy *p = NULL;
        policy_load_error e;
        policy_err rc;

        test_data_path("policy", path, sizeof(path));
        strncat(path, "/", sizeof(path) - strlen(path) - 1);
        strncat(path, c->file, sizeof(path) - strlen(path) - 1);
        rc = policy_load(path, &p, &e);
        if (rc != c->err || e.line != c->line || e.column != c->column ||
            strstr(e.message, c->text) == NULL || strcmp(e.file, path) != 0)
            fail_msg("%s: got %s at %u:%u '%s'; want %s at %u:%u '%s'", c->file,
                     policy_strerror(rc), e.line, e.column, e.message, policy_strerror(c->err),
                     c->line, c->column, c->text);
        assert_null(p);
    }
}

static void
test_policy_load_buffer_errors(void **state)
{
    static const struct {
        const char *text;
        policy_err err;
        const char *msg;
    } cases[] = {
        {"", POLICY_ERR_SCHEMA, "empty"},
        {"nation: USA\npartners:\n  - nation: MEX\n---\nnation: CAN\n", POLICY_ERR_SYNTAX,
         "one YAML document"},
        {"a: &x [1]\nb: *x\n", POLICY_ERR_SYNTAX, "aliases"},
        {"nation: usa\npartners:\n  - nation: MEX\n", POLICY_ERR_VALUE, "nation 'usa'"},
        {"nation: USA\npartners:\n  - nation: USA\n", POLICY_ERR_VALUE, "own nation"},
        {"nation: USA\nvocabulary:\n  classifications: [SECRET, CONFIDENTIAL]\npartners:\n  - "
         "nation: MEX\n",
         POLICY_ERR_VALUE, "out of order"},
        {"nation: USA\nvocabulary:\n  caveats: [LES]\npartners:\n  - nation: MEX\n",
         POLICY_ERR_VALUE, "built-in marking"},
        {"nation: USA\npartners:\n  - nation: MEX\n    egress:\n      - id: builtin:x\n        "
         "kinds: ['*']\n        action: release\n",
         POLICY_ERR_VALUE, "builtin:"},
        {"nation: USA\npartners:\n  - nation: MEX\n    egress:\n      - id: w\n        kinds: "
         "['*']\n        action: withhold\n",
         POLICY_ERR_VALUE, "needs a 'withhold' list"},
        {"nation: USA\npartners:\n  - nation: MEX\nrate_limits:\n  - partner: MEX\n    kinds: "
         "[watchlist.query]\n    per_minute: 0\n",
         POLICY_ERR_VALUE, "per_minute must be 1 to"},
        {"nation: USA\ntreaties:\n  - id: T\n    partner: MEX\n    in_force_from: 2001-02-30\n  "
         "  offences: [FRAUD]\npartners:\n  - nation: MEX\n",
         POLICY_ERR_DATES, "not a date"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        policy *p = NULL;
        policy_load_error e;
        policy_err rc = policy_load_buffer((const uint8_t *)cases[i].text,
                                           strlen(cases[i].text), "t.yaml", &p, &e);

        if (rc != cases[i].err || strstr(e.message, cases[i].msg) == NULL)
            fail_msg("case %zu: got %s '%s', want %s '%s'", i, policy_strerror(rc), e.message,
                     policy_strerror(cases[i].err), cases[i].msg);
        assert_null(p);
    }
}

/* A policy file that group or others can write, or whose directory they
 * can write, is refused with its name and mode, as a key file would be. */
static void
test_policy_refuses_writable_file(void **state)
{
    char src[512], dir[512], sub[600], path[700];
    uint8_t *text;
    size_t len;
    policy *p = NULL;
    policy_load_error e;
    FILE *out;

    (void)state;
    test_data_path("policy/rules.yaml", src, sizeof(src));
    text = test_read_file(src, &len);
    assert_non_null(text);
    test_scratch_dir(dir, sizeof(dir));
    snprintf(sub, sizeof(sub), "%s/etc", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(path, sizeof(path), "%s/usa.policy.yaml", sub);
    out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(text, 1, len, out), len);
    fclose(out);
    free(text);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(policy_load(path, &p, &e), POLICY_OK);
    policy_destroy(&p);
    assert_int_equal(chmod(path, 0646), 0);
    assert_int_equal(policy_load(path, &p, &e), POLICY_ERR_PERMISSION);
    assert_null(p);
    assert_string_equal(e.file, path);
    assert_non_null(strstr(e.message, "mode 0646"));
    assert_non_null(strstr(e.message, "chmod go-w"));
    assert_int_equal(chmod(path, 0620), 0);
    assert_int_equal(policy_load(path, &p, &e), POLICY_ERR_PERMISSION);
    assert_non_null(strstr(e.message, "mode 0620"));
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    assert_int_equal(policy_load(path, &p, &e), POLICY_ERR_PERMISSION);
    assert_null(p);
    assert_non_null(strstr(e.message, sub));
    assert_non_null(strstr(e.message, "mode 0777"));
    assert_int_equal(chmod(sub, 0755), 0);
    assert_int_equal(policy_load(path, &p, &e), POLICY_OK);
    policy_destroy(&p);
    test_scratch_remove(dir);
}

static void
test_policy_strerror_every_code(void **state)
{
    (void)state;
    for (int c = POLICY_OK; c <= POLICY_ERR_PERMISSION; c++)
        assert_string_not_equal(policy_strerror((policy_err)c), "unknown policy error");
    assert_string_equal(policy_strerror((policy_err)999), "unknown policy error");
}

/* ---- Decisions: every rule feature and every built-in, from a table -------- */

typedef struct dcase {
    const char *name;          /* what it shows */
    uint8_t dir;               /* direction */
    const char *partner;       /* partner */
    const char *kind;          /* kind */
    const char *labels;        /* message labels */
    const char *portions[5];   /* NULL-terminated portion labels */
    const char *from;          /* sender, or NULL */
    const char *to;            /* recipient, or NULL */
    const char *recipients[3]; /* NULL-terminated original recipients */
    const char *now;           /* date, or NULL: 2024-06-01 */
    uint8_t action;            /* expected action */
    const char *rule;          /* expected rule id */
    uint64_t withheld;         /* expected mask (checked when action is WITHHOLD) */
    uint8_t why;               /* expected reason code, 0: not checked */
} dcase;

#define E POLICY_EGRESS
#define I POLICY_INGRESS
#define REL POLICY_RELEASE
#define WH POLICY_WITHHOLD
#define DEN POLICY_DENY

static const dcase dcases[] = {
    /* kinds, from, to, ceiling */
    {"exact kind, agency from and to", E, "CAN", "watchlist.query", "LES", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, REL, "wl-query-fbi", 0, POLICY_WHY_RULE_RELEASE},
    {"at the ceiling", E, "CAN", "watchlist.query", "SECRET//LES", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, REL, "wl-query-fbi", 0, 0},
    {"above the ceiling", E, "CAN", "watchlist.query", "TOP SECRET//LES", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, DEN, "wl-query-fbi", 0, POLICY_WHY_CEILING},
    {"other sender falls to NATION/* rule", E, "CAN", "watchlist.query", "CONFIDENTIAL", {0}, "USA/CBP", "CAN/RCMP", {0}, 0, REL, "wl-query-nation", 0, 0},
    {"partner-level recipient matches NATION/*", E, "CAN", "watchlist.query", "LES", {0}, "USA/CBP", NULL, {0}, 0, REL, "wl-query-nation", 0, 0},
    {"NATION/* rule ceiling", E, "CAN", "watchlist.query", "SECRET", {0}, "USA/CBP", "CAN/RCMP", {0}, 0, DEN, "wl-query-nation", 0, POLICY_WHY_CEILING},
    /* prefix kinds, require, withhold, portion ceiling */
    {"withhold by caveat and portion ceiling", E, "CAN", "watchlist.publish", "LES", {"LES", "LES//HUMINT", "SECRET", "TOP SECRET", 0}, 0, 0, {0}, 0, WH, "wl-publish", 0xA, 0},
    {"require not met: default deny", E, "CAN", "watchlist.publish", "UNCLASSIFIED", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, POLICY_WHY_NO_RULE},
    {"require caveat: deny rule", E, "CAN", "watchlist.publish", "LES//GRAND-JURY", {0}, 0, 0, {0}, 0, DEN, "deny-gj", 0, POLICY_WHY_RULE_DENY},
    {"caveat outside vocabulary is OTHER", E, "CAN", "watchlist.publish", "LES//ZEBRA", {0}, 0, 0, {0}, 0, DEN, "deny-other", 0, 0},
    {"every portion withheld: deny", E, "CAN", "watchlist.publish", "LES", {"LES//HUMINT", "HUMINT", 0}, 0, 0, {0}, 0, DEN, "wl-publish", 0, POLICY_WHY_ALL_WITHHELD},
    {"withhold marking on portionless message", E, "CAN", "watchlist.publish", "LES//HUMINT", {0}, 0, 0, {0}, 0, DEN, "wl-publish", 0, POLICY_WHY_RULE_WITHHOLD},
    {"withhold rule releases clean portions", E, "CAN", "watchlist.withdraw", "LES", {"LES", 0}, 0, 0, {0}, 0, REL, "wl-publish", 0, 0},
    /* basis */
    {"basis listed", E, "CAN", "freeze.designation", "SECRET//BASIS:UN-1267", {0}, 0, 0, {0}, 0, REL, "freeze-basis", 0, 0},
    {"basis any", E, "CAN", "freeze.designation", "BASIS:EU-2580", {0}, 0, 0, {0}, 0, REL, "freeze-any-basis", 0, 0},
    {"basis any needs a basis", E, "CAN", "freeze.ack", "UNCLASSIFIED", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, 0},
    /* from */
    {"from matches", E, "CAN", "mlat.status", "LES", {0}, "USA/DOJ", 0, {0}, 0, REL, "mlat", 0, 0},
    {"from does not match", E, "CAN", "mlat.status", "LES", {0}, "USA/FBI", 0, {0}, 0, DEN, "builtin:default-deny", 0, 0},
    {"exact kind next to a prefix", E, "CAN", "consent.grant", "LES", {0}, "USA/DOJ", 0, {0}, 0, REL, "mlat", 0, 0},
    {"deny rule", E, "CAN", "traveldoc.check", "LES", {0}, 0, 0, {0}, 0, DEN, "traveldoc-deny", 0, 0},
    {"unlisted kind: default deny", E, "CAN", "traveldoc.report", "LES", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, 0},
    {"kind outside vocabulary", E, "CAN", "custom.thing", "LES", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, 0},
    {"partner without rules", E, "MEX", "watchlist.query", "LES", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, POLICY_WHY_NO_RULE},
    {"undeclared partner", E, "BRA", "watchlist.query", "LES", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, POLICY_WHY_NO_PARTNER},
    /* ingress */
    {"ingress release", I, "CAN", "watchlist.answer", "LES", {0}, 0, 0, {0}, 0, REL, "in-all", 0, 0},
    {"ingress exclude", I, "CAN", "watchlist.answer", "LES//HUMINT", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, 0},
    {"ingress ceiling", I, "CAN", "watchlist.answer", "TOP SECRET", {0}, 0, 0, {0}, 0, DEN, "in-all", 0, POLICY_WHY_CEILING},
    {"ingress empty list", I, "MEX", "watchlist.answer", "LES", {0}, 0, 0, {0}, 0, DEN, "builtin:default-deny", 0, 0},
    {"ingress NOFORN of partner", I, "CAN", "watchlist.answer", "LES//NOFORN", {0}, 0, 0, {0}, 0, DEN, "builtin:noforn", 0, 0},
    {"ingress third-party content", I, "CAN", "watchlist.answer", "LES//ORIGIN:MEX", {0}, 0, 0, {0}, 0, DEN, "builtin:third-party", 0, 0},
    {"ingress third-party released to us", I, "CAN", "watchlist.answer", "LES//ORIGIN:MEX//REL TO USA", {0}, 0, 0, {0}, 0, REL, "in-all", 0, 0},
    /* NOFORN */
    {"NOFORN message", E, "CAN", "watchlist.query", "LES//NOFORN", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, DEN, "builtin:noforn", 0, POLICY_WHY_NOFORN},
    {"NOFORN portion", E, "CAN", "watchlist.publish", "LES", {"LES", "NOFORN", 0}, 0, 0, {0}, 0, WH, "wl-publish", 0x2, 0},
    {"NOFORN content back to its origin", E, "CAN", "watchlist.query", "LES//NOFORN//ORIGIN:CAN", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, REL, "wl-query-fbi", 0, 0},
    /* REL TO */
    {"REL TO lists partner", E, "CAN", "watchlist.query", "LES//REL TO CAN,USA", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, REL, "wl-query-fbi", 0, 0},
    {"REL TO omits partner", E, "CAN", "watchlist.query", "LES//REL TO GBR,USA", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, DEN, "builtin:rel-to", 0, POLICY_WHY_REL_TO},
    {"REL TO portion", E, "CAN", "watchlist.publish", "LES", {"LES//REL TO USA", "LES//REL TO CAN", 0}, 0, 0, {0}, 0, WH, "wl-publish", 0x1, 0},
    /* third-party rule */
    {"third-party message", E, "CAN", "watchlist.query", "LES//ORIGIN:MEX", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, DEN, "builtin:third-party", 0, POLICY_WHY_THIRD_PARTY},
    {"third-party released by labels", E, "CAN", "watchlist.query", "LES//ORIGIN:MEX//REL TO CAN", {0}, "USA/FBI", "CAN/RCMP", {0}, 0, REL, "wl-query-fbi", 0, 0},
    {"third-party portion", E, "CAN", "watchlist.publish", "LES", {"LES", "LES//ORIGIN:GBR", 0}, 0, 0, {0}, 0, WH, "wl-publish", 0x2, 0},
    {"foreign sender is third party", E, "CAN", "watchlist.query", "LES", {0}, "GBR/NCA", "CAN/RCMP", {0}, 0, DEN, "builtin:third-party", 0, 0},
    /* ORCON */
    {"ORCON to an original recipient", E, "CAN", "watchlist.query", "LES//ORCON", {0}, "USA/FBI", "CAN/RCMP", {"CAN/RCMP", 0}, 0, REL, "wl-query-fbi", 0, 0},
    {"ORCON beyond the original recipients", E, "CAN", "watchlist.query", "LES//ORCON", {0}, "USA/FBI", "CAN/RCMP", {"MEX/FGR", 0}, 0, DEN, "builtin:orcon", 0, POLICY_WHY_ORCON},
    {"ORCON to everyone", E, "CAN", "watchlist.query", "LES//ORCON", {0}, "USA/FBI", "CAN/RCMP", {"*", 0}, 0, REL, "wl-query-fbi", 0, 0},
    {"ORCON of a third nation", E, "CAN", "watchlist.query", "LES//ORCON//ORIGIN:MEX//REL TO CAN", {0}, "USA/FBI", "CAN/RCMP", {"CAN/*", 0}, 0, DEN, "builtin:orcon", 0, POLICY_WHY_ORCON_THIRD},
    {"ORCON portion", E, "CAN", "watchlist.publish", "LES", {"LES//ORCON", "LES", 0}, 0, 0, {"MEX/*", "CAN/RCMP", 0}, 0, REL, "wl-publish", 0, 0},
    {"ORCON portion not addressed", E, "CAN", "watchlist.publish", "LES", {"LES//ORCON", "LES", 0}, 0, 0, {"MEX/*", 0}, 0, WH, "wl-publish", 0x1, 0},
    /* MLAT treaty */
    {"MLAT in force and covered", E, "CAN", "mlat.request", "LES//BASIS:MLAT-CAN//OFFENCE:FRAUD", {0}, "USA/DOJ", 0, {0}, 0, REL, "mlat", 0, 0},
    {"MLAT offence not covered", E, "CAN", "mlat.request", "LES//BASIS:MLAT-CAN//OFFENCE:FRAUD,TAX-EVASION", {0}, "USA/DOJ", 0, {0}, 0, DEN, "builtin:mlat-treaty", 0, POLICY_WHY_TREATY_OFFENCE},
    {"MLAT names no offence", E, "CAN", "mlat.request", "LES//BASIS:MLAT-CAN", {0}, "USA/DOJ", 0, {0}, 0, DEN, "builtin:mlat-treaty", 0, POLICY_WHY_NO_OFFENCE},
    {"MLAT basis not a treaty", E, "CAN", "mlat.request", "LES//BASIS:MLAT-MEX//OFFENCE:FRAUD", {0}, "USA/DOJ", 0, {0}, 0, DEN, "builtin:mlat-treaty", 0, POLICY_WHY_NO_TREATY},
    {"MLAT without basis", E, "CAN", "mlat.request", "LES//OFFENCE:FRAUD", {0}, "USA/DOJ", 0, {0}, 0, DEN, "builtin:mlat-treaty", 0, POLICY_WHY_NO_TREATY},
    {"MLAT before in force", E, "CAN", "mlat.request", "LES//BASIS:MLAT-CAN//OFFENCE:FRAUD", {0}, "USA/DOJ", 0, {0}, "1999-12-31", DEN, "builtin:mlat-treaty", 0, POLICY_WHY_TREATY_DATES},
    {"MLAT last day in force", E, "CAN", "mlat.request", "LES//BASIS:MLAT-CAN//OFFENCE:FRAUD", {0}, "USA/DOJ", 0, {0}, "2030-12-31", REL, "mlat", 0, 0},
    {"MLAT expired", E, "CAN", "mlat.request", "LES//BASIS:MLAT-CAN//OFFENCE:FRAUD", {0}, "USA/DOJ", 0, {0}, "2031-01-01", DEN, "builtin:mlat-treaty", 0, 0},
    {"MLAT evidence needs treaty too", E, "CAN", "mlat.evidence", "LES", {0}, "USA/DOJ", 0, {0}, 0, DEN, "builtin:mlat-treaty", 0, 0},
    {"MLAT status needs no treaty", E, "CAN", "mlat.status", "LES", {0}, "USA/DOJ", 0, {0}, 0, REL, "mlat", 0, 0},
};

static void
run_dcase(const policy *p, const dcase *c, policy_decision *d)
{
    policy_text_request t;
    policy_request_store *s = malloc(sizeof(*s));
    size_t np = 0, nr = 0;
    char why[PROTO_TEXT_MAX];

    assert_non_null(s);
    while (np < 5 && c->portions[np] != NULL)
        np++;
    while (nr < 3 && c->recipients[nr] != NULL)
        nr++;
    memset(&t, 0, sizeof(t));
    t.direction = c->dir;
    t.partner = c->partner;
    t.kind = c->kind;
    t.labels = c->labels;
    t.portions = c->portions;
    t.portion_count = np;
    t.from = c->from;
    t.to = c->to;
    t.recipients = nr > 0 ? c->recipients : NULL;
    t.recipient_count = nr;
    t.now_ms = D_2024;
    if (c->now != NULL)
        assert_int_equal(policy_date_parse(c->now, &t.now_ms), POLICY_OK);
    if (policy_request_from_text(p, &t, s, why, sizeof(why)) != POLICY_OK)
        fail_msg("%s: %s", c->name, why);
    assert_int_equal(policy_decide(p, &s->req, NULL, d), POLICY_OK);
    free(s);
}

static void
test_policy_decide_table(void **state)
{
    policy *p = load_data("policy/rules.yaml");
    policy_decision d;

    (void)state;
    for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
        const dcase *c = &dcases[i];
        char reason[POLICY_REASON_MAX];

        run_dcase(p, c, &d);
        policy_reason(&d.verdict, reason, sizeof(reason));
        if (d.action != c->action || strcmp(d.verdict.rule_id, c->rule) != 0 ||
            (c->action == WH && d.withheld != c->withheld) || (c->why != 0 && d.verdict.why != c->why))
            fail_msg("%s: got %s by %s (mask 0x%llx, why %u: %s); want %s by %s", c->name,
                     policy_action_name(d.action), d.verdict.rule_id,
                     (unsigned long long)d.withheld, d.verdict.why, reason,
                     policy_action_name(c->action), c->rule);
        if (c->action == DEN && d.portion_count > 0)
            assert_int_equal(d.withheld, (1ull << d.portion_count) - 1);
        assert_true(strlen(reason) > 10);
    }
    policy_destroy(&p);
    assert_null(p);
}

/* Decides a USA/FBI watchlist.query to CAN/RCMP of content with labels,
 * carrying the given grants (rules.yaml: wl-query-fbi releases it). */
static void
decide_with_grants(const policy *p, const char *labels, const proto_grant *grants, size_t n,
                   policy_decision *d, policy_request_store *s)
{
    policy_text_request t;
    char why[256];

    memset(&t, 0, sizeof(t));
    t.direction = POLICY_EGRESS;
    t.partner = "CAN";
    t.kind = "watchlist.query";
    t.labels = labels;
    t.from = "USA/FBI";
    t.to = "CAN/RCMP";
    t.now_ms = D_2024;
    if (policy_request_from_text(p, &t, s, why, sizeof(why)) != POLICY_OK)
        fail_msg("%s", why);
    s->req.grants = grants;
    s->req.grant_count = n;
    assert_int_equal(policy_decide(p, &s->req, NULL, d), POLICY_OK);
}

static void
test_policy_decide_grants(void **state)
{
    policy *p = load_data("policy/rules.yaml");
    policy_request_store *s = calloc(1, sizeof(*s));
    policy_decision d;
    proto_grant g, other[2];
    char reason[POLICY_REASON_MAX], text[256];

    (void)state;
    assert_non_null(s);
    memset(&g, 0, sizeof(g));
    memset(g.id, 0x47, sizeof(g.id));
    assert_int_equal(proto_addr_parse("MEX/FGR", &g.grantor, NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse("USA/FBI", &g.grantee, NULL), PROTO_OK);
    g.to_count = 1;
    assert_int_equal(proto_addr_parse("CAN/RCMP", &g.to[0], NULL), PROTO_OK);
    g.kind_count = 1;
    strcpy(g.kinds[0], "watchlist.query");
    g.issued_ms = D_2024 - 86400000ull;
    g.until_ms = D_2024 + 86400000ull;

    /* Without a grant: the third-party rule, with the reason a user reads. */
    decide_with_grants(p, "LES//ORIGIN:MEX", NULL, 0, &d, s);
    assert_int_equal(d.action, POLICY_DENY);
    assert_string_equal(d.verdict.rule_id, POLICY_BUILTIN_THIRD_PARTY);
    assert_int_equal(d.grant, -1);
    assert_string_equal(policy_reason(&d.verdict, reason, sizeof(reason)),
                        "third-party rule: content of MEX is not released to CAN: no consent "
                        "grant from MEX");
    /* REL TO CAN with NO-ONWARD is no consent in advance. */
    decide_with_grants(p, "LES//HANDLING:NO-ONWARD//ORIGIN:MEX//REL TO CAN", NULL, 0, &d, s);
    assert_string_equal(d.verdict.rule_id, POLICY_BUILTIN_THIRD_PARTY);
    /* With the grant: released by the partner's rule, the decision names the grant. */
    decide_with_grants(p, "LES//ORIGIN:MEX", &g, 1, &d, s);
    assert_int_equal(d.action, POLICY_RELEASE);
    assert_string_equal(d.verdict.rule_id, "wl-query-fbi");
    assert_int_equal(d.grant, 0);
    /* It also meets REL TO, NO-ONWARD and ORCON for MEX's content ... */
    decide_with_grants(p, "LES//ORCON//HANDLING:NO-ONWARD//ORIGIN:MEX//REL TO USA", &g, 1, &d, s);
    assert_int_equal(d.action, POLICY_RELEASE);
    assert_int_equal(d.grant, 0);
    /* ... never NOFORN. */
    decide_with_grants(p, "LES//NOFORN//ORIGIN:MEX", &g, 1, &d, s);
    assert_int_equal(d.action, POLICY_DENY);
    assert_string_equal(d.verdict.rule_id, POLICY_BUILTIN_NOFORN);
    /* The sender's own content needs no grant and uses none. */
    decide_with_grants(p, "LES", &g, 1, &d, s);
    assert_int_equal(d.action, POLICY_RELEASE);
    assert_int_equal(d.grant, -1);

    /* Grants that do not fit, each for its own reason; the second of two fits. */
    other[0] = g;
    assert_int_equal(proto_addr_parse("USA/DEA", &other[0].grantee, NULL), PROTO_OK);
    other[1] = g;
    decide_with_grants(p, "LES//ORIGIN:MEX", other, 2, &d, s);
    assert_int_equal(d.grant, 1);
    decide_with_grants(p, "LES//ORIGIN:MEX", other, 1, &d, s);
    assert_string_equal(d.verdict.rule_id, POLICY_BUILTIN_THIRD_PARTY);
    assert_int_equal(policy_grant_check(p, &s->req, &other[0], "MEX"), POLICY_GRANT_GRANTEE);
    policy_grant_fit_text(POLICY_GRANT_GRANTEE, &s->req, &other[0], "MEX", text, sizeof(text));
    assert_string_equal(text, "wrong grantee: it lets USA/DEA pass the content on, not the "
                              "sender USA/FBI");
    other[0] = g;
    assert_int_equal(proto_addr_parse("CAN/GRC", &other[0].grantor, NULL), PROTO_OK);
    assert_int_equal(policy_grant_check(p, &s->req, &other[0], "MEX"), POLICY_GRANT_GRANTOR);
    other[0] = g;
    strcpy(other[0].kinds[0], "watchlist.publish");
    assert_int_equal(policy_grant_check(p, &s->req, &other[0], "MEX"), POLICY_GRANT_KIND);
    other[0] = g;
    assert_int_equal(proto_addr_parse("CAN/CBSA", &other[0].to[0], NULL), PROTO_OK);
    assert_int_equal(policy_grant_check(p, &s->req, &other[0], "MEX"), POLICY_GRANT_RECIPIENT);
    assert_int_equal(proto_addr_parse("CAN/*", &other[0].to[0], NULL), PROTO_OK);
    assert_int_equal(policy_grant_check(p, &s->req, &other[0], "MEX"), POLICY_GRANT_FITS);
    other[0] = g;
    other[0].until_ms = D_2024;
    assert_int_equal(policy_grant_check(p, &s->req, &other[0], "MEX"), POLICY_GRANT_EXPIRED);
    decide_with_grants(p, "LES//ORIGIN:MEX", other, 1, &d, s);
    assert_string_equal(d.verdict.rule_id, POLICY_BUILTIN_THIRD_PARTY);
    other[0].issued_ms = D_2024 + 1;
    other[0].until_ms = D_2024 + 2;
    assert_int_equal(policy_grant_check(p, &s->req, &other[0], "MEX"), POLICY_GRANT_NOT_YET);
    /* A partner-level decision (no recipient) needs the nation's selector. */
    s->req.recipient = NULL;
    assert_int_equal(policy_grant_check(p, &s->req, &g, "MEX"), POLICY_GRANT_RECIPIENT);
    free(s);
    policy_destroy(&p);
}

static void
test_policy_decide_portion_reasons(void **state)
{
    policy *p = load_data("policy/rules.yaml");
    policy_decision d;
    char reason[POLICY_REASON_MAX];

    (void)state;
    run_dcase(p, &dcases[6], &d); /* withhold by caveat and portion ceiling */
    assert_string_equal(d.portions[0].rule_id, "wl-publish");
    assert_int_equal(d.portions[0].why, POLICY_WHY_RELEASED_PORTION);
    assert_int_equal(d.portions[1].why, POLICY_WHY_RULE_WITHHOLD);
    assert_string_equal(policy_reason(&d.portions[1], reason, sizeof(reason)),
                        "carries HUMINT, which rule wl-publish withholds");
    assert_int_equal(d.portions[3].why, POLICY_WHY_CEILING);
    assert_string_equal(policy_reason(&d.portions[3], reason, sizeof(reason)),
                        "TOP SECRET is above the ceiling SECRET of rule wl-publish");
    policy_destroy(&p);
}

static void
test_policy_decide_invalid_request(void **state)
{
    policy *p = load_data("policy/rules.yaml");
    proto_labels l;
    proto_addr from;
    policy_request r;
    policy_decision d;

    (void)state;
    proto_labels_clear(&l);
    assert_int_equal(proto_addr_parse("USA/FBI", &from, NULL), PROTO_OK);
    memset(&r, 0, sizeof(r));
    r.direction = 7;
    memcpy(r.partner, "CAN", 4);
    r.kind = "watchlist.query";
    r.labels = &l;
    r.sender = &from;
    assert_int_equal(policy_decide(p, &r, NULL, &d), POLICY_ERR_INVALID);
    r.direction = POLICY_EGRESS;
    r.portion_count = 65;
    assert_int_equal(policy_decide(p, &r, NULL, &d), POLICY_ERR_INVALID);
    r.portion_count = 0;
    memcpy(r.partner, "USA", 4);
    assert_int_equal(policy_decide(p, &r, NULL, &d), POLICY_ERR_INVALID);
    policy_destroy(&p);
}

/* ---- Rate limits ------------------------------------------------------------ */

static void
test_policy_rate_limit_window(void **state)
{
    policy *p = load_data("policy/rules.yaml");
    policy *other = load_data("policy/rules.yaml");
    policy_rate *rate = NULL;
    policy_text_request t;
    policy_request_store *s = malloc(sizeof(*s));
    policy_decision d;
    char why[PROTO_TEXT_MAX];
    char reason[POLICY_REASON_MAX];

    (void)state;
    assert_non_null(s);
    assert_int_equal(policy_rate_new(p, &rate), POLICY_OK);
    memset(&t, 0, sizeof(t));
    t.partner = "CAN";
    t.kind = "watchlist.query";
    t.labels = "LES";
    t.from = "USA/FBI";
    t.to = "CAN/RCMP";
    t.now_ms = D_2024;
    assert_int_equal(policy_request_from_text(p, &t, s, why, sizeof(why)), POLICY_OK);
    for (int i = 0; i < 3; i++) {
        s->req.now_ms = D_2024 + (uint64_t)i * 1000;
        assert_int_equal(policy_decide(p, &s->req, rate, &d), POLICY_OK);
        assert_int_equal(d.action, POLICY_RELEASE);
    }
    s->req.now_ms = D_2024 + 59999;
    assert_int_equal(policy_decide(p, &s->req, rate, &d), POLICY_OK);
    assert_int_equal(d.action, POLICY_DENY);
    assert_string_equal(d.verdict.rule_id, POLICY_BUILTIN_RATE_LIMIT);
    assert_string_equal(policy_reason(&d.verdict, reason, sizeof(reason)),
                        "rate limit of 3 watchlist.query per minute toward CAN reached");
    /* Without a rate object no limit applies. */
    assert_int_equal(policy_decide(p, &s->req, NULL, &d), POLICY_OK);
    assert_int_equal(d.action, POLICY_RELEASE);
    /* The window slides: the first release is 60 s old now. */
    s->req.now_ms = D_2024 + 60000;
    assert_int_equal(policy_decide(p, &s->req, rate, &d), POLICY_OK);
    assert_int_equal(d.action, POLICY_RELEASE);
    assert_int_equal(policy_decide(p, &s->req, rate, &d), POLICY_OK);
    assert_int_equal(d.action, POLICY_DENY);
    /* A denied message does not count; another kind is not limited. */
    s->req.kind = "mlat.status";
    s->sender.agency[0] = '\0';
    assert_int_equal(proto_addr_parse("USA/DOJ", &s->sender, NULL), PROTO_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(policy_decide(p, &s->req, rate, &d), POLICY_OK);
        assert_int_equal(d.action, POLICY_RELEASE);
    }
    /* Ingress limit of 2 watchlist.* per partner ("*"). */
    t.direction = POLICY_INGRESS;
    t.kind = "watchlist.answer";
    t.from = "CAN/RCMP";
    t.to = "USA/FBI";
    assert_int_equal(policy_request_from_text(p, &t, s, why, sizeof(why)), POLICY_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(policy_decide(p, &s->req, rate, &d), POLICY_OK);
        assert_int_equal(d.action, i < 2 ? POLICY_RELEASE : POLICY_DENY);
    }
    /* A rate object belongs to one policy. */
    assert_int_equal(policy_decide(other, &s->req, rate, &d), POLICY_ERR_INVALID);
    policy_rate_destroy(&rate);
    assert_null(rate);
    policy_rate_destroy(&rate);
    free(s);
    policy_destroy(&other);
    policy_destroy(&p);
}

/* ---- Hash, reload, summaries, cases -------------------------------------------- */

static void
test_policy_hash_is_sha256_of_file(void **state)
{
    char path[512];
    size_t len = 0;
    uint8_t *bytes, want[PROTO_HASH_BYTES];
    policy *p = load_data("policy/rules.yaml");
    policy_info info;

    (void)state;
    test_data_path("policy/rules.yaml", path, sizeof(path));
    bytes = test_read_file(path, &len);
    assert_non_null(bytes);
    proto_sha256(bytes, len, want);
    assert_memory_equal(policy_hash(p), want, PROTO_HASH_BYTES);
    policy_info_get(p, &info);
    assert_memory_equal(info.hash, want, PROTO_HASH_BYTES);
    assert_string_equal(info.nation, "USA");
    assert_int_equal(info.partner_count, 2);
    assert_int_equal(info.rule_count, 10);
    assert_int_equal(info.treaty_count, 1);
    assert_int_equal(info.limit_count, 3);
    free(bytes);
    policy_destroy(&p);
}

static void
test_policy_reload_keeps_old_on_failure(void **state)
{
    char good[512], bad[512];
    policy *cur = load_data("policy/good.yaml");
    policy *before = cur, *old = NULL;
    policy_load_error e;

    (void)state;
    test_data_path("policy/rules.yaml", good, sizeof(good));
    test_data_path("policy/bad_shadowed.yaml", bad, sizeof(bad));
    assert_int_equal(policy_reload(bad, &cur, &old, &e), POLICY_ERR_SHADOWED);
    assert_ptr_equal(cur, before);
    assert_null(old);
    assert_int_equal(e.line, 8);
    assert_int_equal(policy_reload("/nonexistent/x.yaml", &cur, &old, &e), POLICY_ERR_NOFILE);
    assert_ptr_equal(cur, before);
    assert_int_equal(policy_reload(good, &cur, &old, &e), POLICY_OK);
    assert_ptr_equal(old, before);
    assert_ptr_not_equal(cur, before);
    assert_string_equal(policy_nation(cur), "USA");
    policy_destroy(&old);
    policy_destroy(&cur);
}

static void
test_policy_cases_file(void **state)
{
    char pass[512], failing[512];
    policy *p = load_data("policy/rules.yaml");
    policy_cases *c = NULL;
    policy_case_result r;
    policy_load_error e;
    size_t failed = 0;

    (void)state;
    test_data_path("policy/cases_pass.yaml", pass, sizeof(pass));
    test_data_path("policy/cases_fail.yaml", failing, sizeof(failing));
    assert_int_equal(policy_cases_load(pass, &c, &e), POLICY_OK);
    assert_int_equal(policy_cases_count(c), 4);
    for (size_t i = 0; i < policy_cases_count(c); i++) {
        assert_int_equal(policy_case_run(p, c, i, 0, &r), POLICY_OK);
        if (!r.passed)
            fail_msg("%s: %s", r.name, r.message);
    }
    assert_int_equal(policy_case_run(p, c, 99, 0, &r), POLICY_ERR_INVALID);
    policy_cases_destroy(&c);
    assert_int_equal(policy_cases_load(failing, &c, &e), POLICY_OK);
    for (size_t i = 0; i < policy_cases_count(c); i++) {
        assert_int_equal(policy_case_run(p, c, i, 0, &r), POLICY_OK);
        failed += !r.passed;
    }
    assert_int_equal(failed, 1);
    assert_int_equal(r.line, 12);
    assert_non_null(strstr(r.message, "expected release, got deny by traveldoc-deny"));
    policy_cases_destroy(&c);
    policy_destroy(&p);
}

static void
test_policy_examples_load(void **state)
{
    static const char *const files[] = {"usa", "can", "mex"};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        policy *p = NULL;
        policy_load_error e;

        snprintf(path, sizeof(path), "%s/../../deploy/examples/%s.policy.yaml",
                 getenv("LIAISON_TEST_DATA") != NULL ? getenv("LIAISON_TEST_DATA") : "tests/data",
                 files[i]);
        if (policy_load(path, &p, &e) != POLICY_OK)
            fail_msg("%s:%u:%u: %s", e.file, e.line, e.column, e.message);
        policy_destroy(&p);
    }
}

/* ---- Randomized invariants ------------------------------------------------------ */

static const char *const nations[] = {"CAN", "MEX", "GBR", "FRA", "DEU"};
static const char *const kinds[] = {"watchlist.query", "watchlist.publish", "mlat.request",
                                    "mlat.evidence", "mlat.status", "freeze.designation",
                                    "traveldoc.check", "custom.kind"};
static const char *const kind_pats[] = {"'*'", "'*'", "'*'", "watchlist.*", "watchlist.query", "mlat.*",
                                        "mlat.request", "freeze.designation", "traveldoc.*"};
static const char *const marks[] = {"LES", "ORCON", "NOFORN", "HUMINT", "FININT", "NO-ONWARD"};
static const char *const offences[] = {"FRAUD", "DRUG-TRAFFICKING", "TAX-EVASION"};

typedef struct rng {
    uint64_t s;     /* xorshift state */
} rng;

static uint32_t
rnd(rng *r, uint32_t n)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return (uint32_t)((r->s >> 11) % n);
}

/* Treaties of a generated policy: per partner index, offences bitmask and years. */
typedef struct gen_treaty {
    bool present;            /* there is one */
    unsigned offences;       /* bits over offences[] */
    unsigned from_year;      /* in force from Jan 1 */
    unsigned until_year;     /* in force until Dec 31 */
} gen_treaty;

static size_t
gen_policy(rng *r, char *buf, size_t cap, bool declared[5], gen_treaty treaties[5])
{
    size_t n = 0;
    unsigned rule_no = 0;

#define OUT(...) n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__)
    OUT("nation: USA\nvocabulary:\n  caveats: [HUMINT, FININT]\n");
    for (int i = 0; i < 5; i++) {
        declared[i] = rnd(r, 4) != 0 || i == 4; /* at least one partner */
        treaties[i].present = declared[i] && rnd(r, 2);
        if (!treaties[i].present)
            continue;
        if (n < 64 || strstr(buf, "treaties:") == NULL)
            OUT("treaties:\n");
        treaties[i].offences = 1 + rnd(r, 7);
        treaties[i].from_year = 1990 + rnd(r, 40);
        treaties[i].until_year = treaties[i].from_year + rnd(r, 20);
        OUT("  - id: T-%s\n    partner: %s\n    in_force_from: \"%u-01-01\"\n    "
            "in_force_until: \"%u-12-31\"\n    offences: [",
            nations[i], nations[i], treaties[i].from_year, treaties[i].until_year);
        for (unsigned b = 0, first = 1; b < 3; b++) {
            if (treaties[i].offences & (1u << b)) {
                OUT("%s%s", first ? "" : ", ", offences[b]);
                first = 0;
            }
        }
        OUT("]\n");
    }
    OUT("partners:\n");
    for (int i = 0; i < 5; i++) {
        if (!declared[i])
            continue;
        OUT("  - nation: %s\n", nations[i]);
        for (int dir = 0; dir < 2; dir++) {
            unsigned count = rnd(r, 6);

            if (count == 0)
                continue;
            OUT("    %s:\n", dir == 0 ? "egress" : "ingress");
            for (unsigned j = 0; j < count; j++) {
                unsigned action = rnd(r, 4) < 2 ? 1 : 2 + rnd(r, 2);
                unsigned req = rnd(r, 64), exc = rnd(r, 64) & ~req;

                OUT("      - id: r%u\n        kinds: [%s]\n", rule_no++,
                    kind_pats[rnd(r, sizeof(kind_pats) / sizeof(kind_pats[0]))]);
                if (rnd(r, 2))
                    OUT("        ceiling: %s\n", proto_class_name((uint8_t)rnd(r, 5)));
                if (rnd(r, 3) == 0 && req) {
                    OUT("        require: [");
                    for (unsigned b = 0, f = 1; b < 6; b++)
                        if (req & (1u << b)) {
                            OUT("%s%s", f ? "" : ", ", marks[b]);
                            f = 0;
                        }
                    OUT("]\n");
                }
                if (rnd(r, 3) == 0 && exc) {
                    OUT("        exclude: [");
                    for (unsigned b = 0, f = 1; b < 6; b++)
                        if (exc & (1u << b)) {
                            OUT("%s%s", f ? "" : ", ", marks[b]);
                            f = 0;
                        }
                    OUT("]\n");
                }
                if (rnd(r, 4) == 0)
                    OUT("        from: [%s/*]\n", dir == 0 ? "USA" : nations[i]);
                OUT("        action: %s\n",
                    action == 1 ? "release" : action == 2 ? "withhold" : "deny");
                if (action == 2)
                    OUT("        withhold: [%s]\n", marks[rnd(r, 6)]);
            }
        }
    }
    if (rnd(r, 2))
        OUT("rate_limits:\n  - partner: \"*\"\n    kinds: [watchlist.query]\n    per_minute: 5\n");
#undef OUT
    return n;
}

static void
gen_labels(rng *r, proto_labels *l)
{
    static const char *const rel_pool[] = {"CAN", "DEU", "FRA", "GBR", "MEX", "USA"};
    static const char *const origin_pool[] = {"", "", "", "", "", "USA", "CAN", "MEX", "GBR"};
    const char *o;

    proto_labels_clear(l);
    l->classification = (uint8_t)rnd(r, 5);
    l->flags = (uint8_t)(rnd(r, 64) & rnd(r, 64) & rnd(r, 64));
    if (rnd(r, 3) == 0) {
        for (size_t i = 0; i < 6; i++) {
            if (rnd(r, 2))
                memcpy(l->rel_to[l->rel_to_count++], rel_pool[i], 4);
        }
    }
    if (rnd(r, 3) == 0)
        snprintf(l->caveats[l->caveat_count++], sizeof(l->caveats[0]), "%s",
                 rnd(r, 3) ? "HUMINT" : "ZEBRA");
    o = origin_pool[rnd(r, 9)];
    memcpy(l->origin, o, strlen(o) + 1);
}

static bool
listed(const proto_labels *l, const char *n)
{
    for (size_t i = 0; i < l->rel_to_count; i++)
        if (strcmp(l->rel_to[i], n) == 0)
            return true;
    return false;
}

/* Whether grant g lets content of origin reach the request's recipient
 * (written again here from docs/policy.md, not with policy_grant_check). */
static bool
grant_fits(const proto_grant *g, const char *origin, const char *dst, const policy_request *req)
{
    bool kind = false, to = false;

    for (size_t i = 0; i < g->kind_count; i++)
        kind |= strcmp(g->kinds[i], req->kind) == 0;
    for (size_t i = 0; i < g->to_count; i++) {
        if (req->recipient != NULL && req->recipient->kind == PROTO_ADDR_AGENCY)
            to |= strcmp(g->to[i].nation, req->recipient->nation) == 0 &&
                  (g->to[i].kind == PROTO_ADDR_NATION_ALL ||
                   strcmp(g->to[i].agency, req->recipient->agency) == 0);
        else
            to |= g->to[i].kind == PROTO_ADDR_NATION_ALL && strcmp(g->to[i].nation, dst) == 0;
    }
    return strcmp(g->grantor.nation, origin) == 0 && proto_addr_equal(&g->grantee, req->sender) &&
           kind && to && g->issued_ms <= req->now_ms && req->now_ms < g->until_ms;
}

/* The invariants every released piece of content must satisfy, whatever the rules. */
static void
check_content(const proto_labels *l, const char *origin, const char *src, const char *dst,
              const char *sender_nation, const policy_request *req, const char *what)
{
    bool home = strcmp(origin, dst) == 0;
    bool consent = false;

    for (size_t i = 0; i < req->grant_count; i++)
        consent |= grant_fits(&req->grants[i], origin, dst, req);
    if ((l->flags & PROTO_LABEL_NOFORN) && !home)
        fail_msg("%s: NOFORN content of %s released to %s", what, origin, dst);
    if (strcmp(origin, src) != 0 && !home) {
        if (consent)
            return; /* the origin's grant: REL TO, third-party and ORCON are met */
        if (!listed(l, dst) || (l->flags & PROTO_LABEL_NO_ONWARD))
            fail_msg("%s: third-party content of %s released to %s without consent", what,
                     origin, dst);
    }
    if (l->rel_to_count > 0 && !home && !listed(l, dst))
        fail_msg("%s: REL TO content released to unlisted %s", what, dst);
    if ((l->flags & PROTO_LABEL_ORCON) && !home) {
        bool named = false;

        if (strcmp(origin, sender_nation) != 0)
            fail_msg("%s: ORCON content of third nation %s released to %s", what, origin, dst);
        for (size_t i = 0; i < req->recipient_count; i++)
            named |= req->recipients[i].kind == PROTO_ADDR_ALL ||
                     strcmp(req->recipients[i].nation, dst) == 0;
        if (!named)
            fail_msg("%s: ORCON content released to %s beyond the original recipients", what,
                     dst);
    }
}

/* Random grants, some of which fit the request and most of which do not. */
static size_t
gen_grants(rng *r, proto_grant *grants, const char *src, const char *dst,
           const proto_addr *sender, const char *kind, uint64_t now_ms)
{
    static const char *const grantors[] = {"USA", "CAN", "MEX", "GBR", "FRA"};
    size_t n = rnd(r, 3);

    for (size_t i = 0; i < n; i++) {
        proto_grant *g = &grants[i];

        memset(g, 0, sizeof(*g));
        g->grantor.kind = PROTO_ADDR_AGENCY;
        memcpy(g->grantor.nation, grantors[rnd(r, 5)], 4);
        memcpy(g->grantor.agency, "GR", 3);
        g->grantee = *sender;
        if (rnd(r, 4) == 0)
            memcpy(g->grantee.nation, rnd(r, 2) ? src : "GBR", 4);
        if (rnd(r, 6) == 0)
            memcpy(g->grantee.agency, "OTHER", 6);
        g->kind_count = 1;
        snprintf(g->kinds[0], sizeof(g->kinds[0]), "%s", rnd(r, 4) ? kind : "watchlist.details");
        g->to_count = 1;
        g->to[0].kind = rnd(r, 3) ? PROTO_ADDR_NATION_ALL : PROTO_ADDR_AGENCY;
        memcpy(g->to[0].nation, rnd(r, 4) ? dst : grantors[rnd(r, 5)], 4);
        if (g->to[0].kind == PROTO_ADDR_AGENCY)
            memcpy(g->to[0].agency, rnd(r, 2) ? "AG" : "ZZ", 3);
        g->issued_ms = now_ms - rnd(r, 4) * 86400000ull + 43200000ull;
        g->until_ms = g->issued_ms + (1 + rnd(r, 3)) * 86400000ull - 43200000ull * rnd(r, 2);
    }
    return n;
}

static void
test_policy_random_invariants(void **state)
{
    rng r = {0x9E3779B97F4A7C15ull};
    char *buf = malloc(1 << 16);
    proto_labels *portions = calloc(PROTO_PORTIONS_MAX, sizeof(proto_labels));
    size_t decisions = 0, released = 0, policies = 0, shadowed = 0, granted = 0;
    size_t why_count[32] = {0};

    (void)state;
    assert_non_null(buf);
    assert_non_null(portions);
    while (decisions < 250000) {
        bool declared[5];
        gen_treaty treaties[5];
        size_t len = gen_policy(&r, buf, 1 << 16, declared, treaties);
        policy *p = NULL;
        policy_rate *rate = NULL;
        policy_load_error e;
        policy_err rc = policy_load_buffer((const uint8_t *)buf, len, "gen", &p, &e);

        if (rc == POLICY_ERR_SHADOWED) {
            shadowed++;
            continue;
        }
        if (rc != POLICY_OK)
            fail_msg("generated policy refused: %u:%u: %s\n%s", e.line, e.column, e.message,
                     buf);
        policies++;
        assert_int_equal(policy_rate_new(p, &rate), POLICY_OK);
        for (int k = 0; k < 3000; k++, decisions++) {
            static const char *const partners[] = {"CAN", "MEX", "GBR", "FRA", "DEU", "BRA"};
            proto_labels l;
            proto_addr sender, recipients[2], recipient;
            proto_grant grants[POLICY_GRANTS_MAX];
            policy_request req;
            policy_decision d;
            const char *src, *dst, *msg_origin, *sender_nation;
            int pidx = (int)rnd(&r, 6);
            size_t np = rnd(&r, 5);

            memset(&req, 0, sizeof(req));
            req.direction = (uint8_t)rnd(&r, 2);
            memcpy(req.partner, partners[pidx], 4);
            req.kind = kinds[rnd(&r, sizeof(kinds) / sizeof(kinds[0]))];
            gen_labels(&r, &l);
            if (rnd(&r, 2)) {
                snprintf(l.basis, sizeof(l.basis), "T-%s", partners[rnd(&r, 6)]);
                unsigned pick = rnd(&r, 8);

                for (unsigned b = 0; b < 3; b++) {
                    if (pick & (1u << b))
                        snprintf(l.offences[l.offence_count++], sizeof(l.offences[0]), "%s",
                                 offences[b]);
                }
            }
            for (size_t i = 0; i < np; i++)
                gen_labels(&r, &portions[i]);
            memset(&sender, 0, sizeof(sender));
            sender.kind = PROTO_ADDR_AGENCY;
            src = req.direction == POLICY_EGRESS ? "USA" : req.partner;
            dst = req.direction == POLICY_EGRESS ? req.partner : "USA";
            memcpy(sender.nation, rnd(&r, 8) ? src : "GBR", 4);
            memcpy(sender.agency, "AG", 3);
            memset(recipients, 0, sizeof(recipients));
            recipients[0].kind = rnd(&r, 5) == 0 ? PROTO_ADDR_ALL : PROTO_ADDR_NATION_ALL;
            memcpy(recipients[0].nation, rnd(&r, 2) ? dst : partners[rnd(&r, 6)], 4);
            if (recipients[0].kind == PROTO_ADDR_ALL)
                recipients[0].nation[0] = '\0';
            req.labels = &l;
            req.sender = &sender;
            req.recipients = recipients;
            req.recipient_count = 1;
            req.portions = portions;
            req.portion_count = np;
            req.now_ms = (uint64_t)(1990 + rnd(&r, 60) - 1970) * 31557600000ull;
            if (rnd(&r, 3) == 0) {
                memset(&recipient, 0, sizeof(recipient));
                recipient.kind = PROTO_ADDR_AGENCY;
                memcpy(recipient.nation, dst, 4);
                memcpy(recipient.agency, "AG", 3);
                req.recipient = &recipient;
            }
            req.grants = grants;
            req.grant_count = gen_grants(&r, grants, src, dst, &sender, req.kind, req.now_ms);
            assert_int_equal(policy_decide(p, &req, rnd(&r, 2) ? rate : NULL, &d), POLICY_OK);
            why_count[d.verdict.why & 31]++;
            if (d.grant >= 0) {
                granted++;
                assert_true((size_t)d.grant < req.grant_count);
                assert_int_not_equal(d.action, POLICY_DENY);
            }
            if (d.action == POLICY_DENY) {
                assert_int_equal(d.withheld, np == 64 ? UINT64_MAX : (1ull << np) - 1);
                continue;
            }
            released++;
            /* Default deny: something released was released by a rule of the policy. */
            {
                uint32_t line, col;

                if (strncmp(d.verdict.rule_id, "builtin:", 8) == 0 ||
                    !policy_rule_position(p, d.verdict.rule_id, &line, &col))
                    fail_msg("released by %s, not by a rule", d.verdict.rule_id);
                if (pidx == 5 || !declared[pidx])
                    fail_msg("released toward undeclared partner %s", req.partner);
            }
            assert_true((d.action == POLICY_WITHHOLD) == (d.withheld != 0));
            sender_nation = sender.nation;
            msg_origin = l.origin[0] ? l.origin : sender_nation;
            check_content(&l, msg_origin, src, dst, sender_nation, &req, "message");
            for (size_t i = 0; i < np; i++) {
                if (d.withheld & (1ull << i))
                    continue;
                check_content(&portions[i], portions[i].origin[0] ? portions[i].origin : msg_origin,
                              src, dst, sender_nation, &req, "portion");
            }
            /* MLAT: released only under a treaty in force covering every offence. */
            if (strcmp(req.kind, "mlat.request") == 0 || strcmp(req.kind, "mlat.evidence") == 0) {
                const gen_treaty *t = &treaties[pidx];
                char want[16];
                uint64_t from_ms = 0, until_ms = 0;
                char date[16];

                snprintf(want, sizeof(want), "T-%s", req.partner);
                if (!t->present || strcmp(l.basis, want) != 0 || l.offence_count == 0)
                    fail_msg("MLAT released without a treaty (basis '%s')", l.basis);
                snprintf(date, sizeof(date), "%u-01-01", t->from_year);
                assert_int_equal(policy_date_parse(date, &from_ms), POLICY_OK);
                snprintf(date, sizeof(date), "%u-12-31", t->until_year);
                assert_int_equal(policy_date_parse(date, &until_ms), POLICY_OK);
                if (req.now_ms < from_ms || req.now_ms >= until_ms + 86400000ull)
                    fail_msg("MLAT released outside the treaty's dates");
                for (size_t o = 0; o < l.offence_count; o++) {
                    bool ok = false;

                    for (unsigned b = 0; b < 3; b++)
                        ok |= (t->offences & (1u << b)) && strcmp(offences[b], l.offences[o]) == 0;
                    if (!ok)
                        fail_msg("MLAT released for uncovered offence %s", l.offences[o]);
                }
            }
        }
        policy_rate_destroy(&rate);
        policy_destroy(&p);
    }
    print_message("%zu decisions over %zu policies (%zu shadowed drafts refused), %zu released, "
                  "%zu by a consent grant\n", decisions, policies, shadowed, released, granted);
    assert_true(granted > 100);
    for (size_t w = 0; w < 32; w++) {
        if (why_count[w] > 0)
            print_message("  reason %zu: %zu\n", w, why_count[w]);
    }
    assert_true(released > 1000);
    free(portions);
    free(buf);
}

/* ---- Retention and holds -------------------------------------------------- */

#define RET_HEAD "nation: USA\npartners:\n  - nation: MEX\n"

static void
test_policy_retention_errors(void **state)
{
    static const struct {
        const char *text;
        policy_err err;
        uint32_t line;
        const char *msg;
    } cases[] = {
        {RET_HEAD "retention:\n  - id: r\n    kinds: [watchlist.answer]\n    keep: 6mo\n",
         POLICY_ERR_VALUE, 7, "keep '6mo' is not a duration"},
        {RET_HEAD "retention:\n  - id: r\n    kinds: [watchlist.answer]\n    keep: 0d\n",
         POLICY_ERR_VALUE, 7, "keep '0d'"},
        {RET_HEAD "retention:\n  - id: r\n    kinds: [watchlist.answer]\n    keep: 101y\n",
         POLICY_ERR_VALUE, 7, "at most 100 years"},
        {RET_HEAD "retention:\n  - id: r\n    kinds: [watchlist.answr]\n    keep: 1d\n",
         POLICY_ERR_VOCABULARY, 6, "unknown kind 'watchlist.answr'"},
        {RET_HEAD "retention:\n  - id: r\n    kinds: ['*']\n    require: [HUMNIT]\n    keep: 1d\n",
         POLICY_ERR_VOCABULARY, 7, "unknown caveat 'HUMNIT'"},
        {RET_HEAD "retention:\n  - id: r\n    kinds: ['*']\n    keep: 1d\n  - id: r\n    kinds: "
                  "['*']\n    keep: 2d\n",
         POLICY_ERR_DUPLICATE, 8, "retention rule id 'r' is declared twice"},
        {RET_HEAD "retention:\n  - id: r\n    kinds: ['*']\n    keap: 1d\n", POLICY_ERR_SCHEMA, 7,
         "keap"},
        {RET_HEAD "holds:\n  - id: h\n    reason: x\n", POLICY_ERR_SCHEMA, 5,
         "exactly one of case or message"},
        {RET_HEAD "holds:\n  - id: h\n    case: A\n    message: 00\n    reason: x\n",
         POLICY_ERR_SCHEMA, 5, "exactly one of case or message"},
        {RET_HEAD "holds:\n  - id: h\n    message: 0123\n    reason: x\n", POLICY_ERR_VALUE, 6,
         "not a message id"},
        {RET_HEAD "holds:\n  - id: h\n    case: 'A B'\n    reason: x\n", POLICY_ERR_VALUE, 6,
         "not a case id"},
        {RET_HEAD "holds:\n  - id: h\n    case: A\n    until: 2027-02-30\n    reason: x\n",
         POLICY_ERR_DATES, 7, "until '2027-02-30' is not a date"},
        {RET_HEAD "holds:\n  - id: h\n    case: A\n    reason: x\n  - id: h\n    case: B\n    "
                  "reason: y\n",
         POLICY_ERR_DUPLICATE, 8, "hold id 'h' is declared twice"},
        {RET_HEAD "holds:\n  - id: h\n    case: A\n", POLICY_ERR_SCHEMA, 5, "reason"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        policy *p = NULL;
        policy_load_error e;
        policy_err rc = policy_load_buffer((const uint8_t *)cases[i].text,
                                           strlen(cases[i].text), "t.yaml", &p, &e);

        if (rc != cases[i].err || strstr(e.message, cases[i].msg) == NULL ||
            e.line != cases[i].line)
            fail_msg("case %zu: got %s %u '%s', want %s %u '%s'", i, policy_strerror(rc),
                     e.line, e.message, policy_strerror(cases[i].err), cases[i].line,
                     cases[i].msg);
        assert_null(p);
    }
}

static void
test_policy_keep_parse(void **state)
{
    uint8_t keep;
    uint64_t ms;

    (void)state;
    assert_int_equal(policy_keep_parse("183d", &keep, &ms), POLICY_OK);
    assert_int_equal(keep, POLICY_KEEP_FOR);
    assert_int_equal(ms, 183ull * 86400000ull);
    assert_int_equal(policy_keep_parse("2w", &keep, &ms), POLICY_OK);
    assert_int_equal(ms, 14ull * 86400000ull);
    assert_int_equal(policy_keep_parse("7y", &keep, &ms), POLICY_OK);
    assert_int_equal(ms, 7ull * 365ull * 86400000ull);
    assert_int_equal(policy_keep_parse("30s", &keep, &ms), POLICY_OK);
    assert_int_equal(ms, 30000ull);
    assert_int_equal(policy_keep_parse("100y", &keep, &ms), POLICY_OK);
    assert_int_equal(policy_keep_parse("case", &keep, &ms), POLICY_OK);
    assert_int_equal(keep, POLICY_KEEP_CASE);
    assert_int_equal(policy_keep_parse("5215w", &keep, &ms), POLICY_ERR_VALUE);
    assert_int_equal(policy_keep_parse("d", &keep, &ms), POLICY_ERR_VALUE);
    assert_int_equal(policy_keep_parse("01d", &keep, &ms), POLICY_ERR_VALUE);
    assert_int_equal(policy_keep_parse("1m", &keep, &ms), POLICY_ERR_VALUE);
    assert_int_equal(policy_keep_parse("-1d", &keep, &ms), POLICY_ERR_VALUE);
    assert_int_equal(policy_keep_parse("99999999999d", &keep, &ms), POLICY_ERR_VALUE);
    assert_int_equal(policy_keep_parse("Case", &keep, &ms), POLICY_ERR_VALUE);
}

static void
test_policy_retention_lookup(void **state)
{
    static const char text[] =
        RET_HEAD "retention:\n"
                 "  - id: answers-les\n    kinds: [watchlist.answer, traveldoc.answer]\n"
                 "    require: [LES]\n    keep: 183d\n"
                 "  - id: answers\n    kinds: [watchlist.answer]\n    keep: 30d\n"
                 "  - id: mlat-case-life\n    kinds: [mlat.*]\n    keep: case\n"
                 "holds:\n"
                 "  - id: hold-trial\n    case: MEX-FGR-2026-0099\n    until: 2027-06-30\n"
                 "    reason: trial (court order 2026/441)\n"
                 "  - id: hold-one\n    message: 000102030405060708090a0b0c0d0e0f\n"
                 "    reason: inquiry\n";
    static const uint8_t held_id[PROTO_ID_BYTES] = {0, 1, 2, 3, 4, 5, 6, 7,
                                                    8, 9, 10, 11, 12, 13, 14, 15};
    uint8_t other_id[PROTO_ID_BYTES] = {1};
    const uint64_t day = 86400000ull, t0 = D_2024;
    policy *p = NULL;
    policy_load_error e;
    policy_info info;
    policy_retention_info ri;
    policy_hold_info hi;
    proto_labels les, plain;
    policy_retention r;
    policy_retention_query q;

    (void)state;
    assert_int_equal(policy_load_buffer((const uint8_t *)text, strlen(text), "t", &p, &e),
                     POLICY_OK);
    policy_info_get(p, &info);
    assert_int_equal(info.retention_count, 3);
    assert_int_equal(info.hold_count, 2);
    assert_true(policy_retention_at(p, 0, &ri));
    assert_string_equal(ri.id, "answers-les");
    assert_string_equal(ri.kinds, "watchlist.answer, traveldoc.answer");
    assert_string_equal(ri.require, "LES");
    assert_string_equal(ri.keep_text, "183d");
    assert_int_equal(ri.line, 5);
    assert_false(policy_retention_at(p, 3, &ri));
    assert_true(policy_hold_at(p, 0, &hi));
    assert_string_equal(hi.case_id, "MEX-FGR-2026-0099");
    assert_string_equal(hi.reason, "trial (court order 2026/441)");
    assert_true(policy_hold_at(p, 1, &hi));
    assert_true(hi.has_message);
    assert_memory_equal(hi.message, held_id, PROTO_ID_BYTES);
    assert_int_equal(hi.until_ms, UINT64_MAX);
    assert_false(policy_hold_at(p, 2, &hi));

    assert_int_equal(proto_labels_parse("UNCLASSIFIED//LES", &les, NULL), PROTO_OK);
    assert_int_equal(proto_labels_parse("UNCLASSIFIED", &plain, NULL), PROTO_OK);
    memset(&q, 0, sizeof(q));
    q.kind = "watchlist.answer";
    q.labels = &les;
    q.id = other_id;
    q.created_ms = t0;
    /* First match wins: LES answers keep 183 days. */
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 182 * day, &r), POLICY_OK);
    assert_string_equal(r.rule, "answers-les");
    assert_int_equal(r.keep, POLICY_KEEP_FOR);
    assert_int_equal(r.until_ms, t0 + 183 * day);
    assert_false(r.ended);
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 183 * day, &r), POLICY_OK);
    assert_true(r.ended);
    assert_false(r.held);
    /* Without LES the second rule applies. */
    q.labels = &plain;
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 31 * day, &r), POLICY_OK);
    assert_string_equal(r.rule, "answers");
    assert_true(r.ended);
    /* A traveldoc answer without LES matches nothing: kept. */
    q.kind = "traveldoc.answer";
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 9999 * day, &r), POLICY_OK);
    assert_int_equal(r.keep, POLICY_KEEP_FOREVER);
    assert_string_equal(r.rule, "");
    assert_false(r.ended);
    /* keep: case never ends by time. */
    q.kind = "mlat.request";
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 9999 * day, &r), POLICY_OK);
    assert_int_equal(r.keep, POLICY_KEEP_CASE);
    assert_string_equal(r.rule, "mlat-case-life");
    assert_false(r.ended);
    /* A hold by case covers until the end of its until day. */
    q.kind = "watchlist.answer";
    q.case_id = "MEX-FGR-2026-0099";
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 31 * day, &r), POLICY_OK);
    assert_true(r.ended);
    assert_true(r.held);
    assert_string_equal(r.hold, "hold-trial");
    assert_string_equal(r.hold_reason, "trial (court order 2026/441)");
    assert_int_equal(policy_date_parse("2027-07-01", &hi.until_ms), POLICY_OK);
    assert_int_equal(r.hold_until_ms, hi.until_ms);
    assert_int_equal(policy_retention_lookup(p, &q, hi.until_ms - 1, &r), POLICY_OK);
    assert_true(r.held);
    assert_int_equal(policy_retention_lookup(p, &q, hi.until_ms, &r), POLICY_OK);
    assert_false(r.held);
    q.case_id = "MEX-FGR-2026-0098";
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 31 * day, &r), POLICY_OK);
    assert_false(r.held);
    /* A hold by message id. */
    q.id = held_id;
    assert_int_equal(policy_retention_lookup(p, &q, t0 + 31 * day, &r), POLICY_OK);
    assert_true(r.held);
    assert_string_equal(r.hold, "hold-one");
    q.kind = NULL;
    assert_int_equal(policy_retention_lookup(p, &q, t0, &r), POLICY_ERR_INVALID);
    policy_destroy(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_malformed_files),
        cmocka_unit_test(test_policy_load_buffer_errors),
        cmocka_unit_test(test_policy_refuses_writable_file),
        cmocka_unit_test(test_policy_strerror_every_code),
        cmocka_unit_test(test_policy_decide_table),
        cmocka_unit_test(test_policy_decide_grants),
        cmocka_unit_test(test_policy_decide_portion_reasons),
        cmocka_unit_test(test_policy_decide_invalid_request),
        cmocka_unit_test(test_policy_rate_limit_window),
        cmocka_unit_test(test_policy_hash_is_sha256_of_file),
        cmocka_unit_test(test_policy_reload_keeps_old_on_failure),
        cmocka_unit_test(test_policy_cases_file),
        cmocka_unit_test(test_policy_examples_load),
        cmocka_unit_test(test_policy_random_invariants),
        cmocka_unit_test(test_policy_retention_errors),
        cmocka_unit_test(test_policy_keep_parse),
        cmocka_unit_test(test_policy_retention_lookup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
