/* The `liaison policy` subcommand: check, explain and test release policies. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_int.h"
#include "liaison_policy.h"

#define SUB "policy"

static const char usage_policy[] =
    "NAME\n"
    "    liaison policy - check, explain and test release policies\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison policy check [--json] FILE\n"
    "    liaison policy explain --policy FILE --partner NATION --kind KIND --labels LABELS\n"
    "                           [--portion LABELS]... [--from ADDR] [--to ADDR]\n"
    "                           [--recipients ADDR,...] [--origin NATION] [--ingress]\n"
    "                           [--now DATE] [--json]\n"
    "    liaison policy test [--json] FILE CASES.yaml\n"
    "    liaison policy <command> --help\n"
    "\n"
    "DESCRIPTION\n"
    "    A nation's release policy says, per partner, what may leave toward it\n"
    "    (egress) and what is accepted from it (ingress).  docs/policy.md is the\n"
    "    reference of the file format and of the decision semantics.\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 1 test cases failed; 64 bad usage; 65 bad policy, cases file\n"
    "    or argument value; 66 missing file; 70 internal error.\n";

static const char usage_check[] =
    "NAME\n"
    "    liaison policy check - validate a policy file and summarise it\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison policy check [--json] FILE\n"
    "\n"
    "DESCRIPTION\n"
    "    Loads FILE exactly as the broker would.  On success prints the nation,\n"
    "    the policy hash (SHA-256 of the file, as audit records name it) and,\n"
    "    per partner, how many egress and ingress rules, treaties and rate\n"
    "    limits apply.  On failure prints FILE:LINE:COLUMN: and what is wrong.\n"
    "\n"
    "OPTIONS\n"
    "    --json    print one JSON object instead of text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 the policy is valid; 65 it is not; 66 FILE does not exist; 64 bad usage.\n";

static const char usage_explain[] =
    "NAME\n"
    "    liaison policy explain - show the decision for one message and why\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison policy explain --policy FILE --partner NATION --kind KIND\n"
    "                           --labels LABELS [--portion LABELS]... [--from ADDR]\n"
    "                           [--to ADDR] [--recipients ADDR,...] [--origin NATION]\n"
    "                           [--ingress] [--now DATE] [--grant FILE]... [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Decides whether a message with these labels may leave toward NATION\n"
    "    (or, with --ingress, be accepted from it) and prints the decision, the\n"
    "    rule that made it with its place in FILE, a one-line reason, and for\n"
    "    each portion whether it is released or withheld and by which rule.\n"
    "    Rate limits are not applied: they need the broker's running counts.\n"
    "\n"
    "OPTIONS\n"
    "    --policy FILE      the policy file\n"
    "    --partner NATION   the partner nation, e.g. CAN\n"
    "    --kind KIND        the message kind, e.g. watchlist.publish\n"
    "    --labels LABELS    message labels, e.g. 'LES//REL TO USA,CAN'\n"
    "    --portion LABELS   one portion's labels; repeat per portion (0, 1, ...)\n"
    "    --from ADDR        sender (default: every agency of the sending nation)\n"
    "    --to ADDR          recipient (default: the receiving nation as a whole)\n"
    "    --recipients LIST  the envelope's original recipients, comma-separated,\n"
    "                       for ORCON (default: --to, else NATION/*)\n"
    "    --origin NATION    the nation the content came from, unless the labels\n"
    "                       carry ORIGIN: (default: the sender's nation)\n"
    "    --ingress          explain the ingress side: accepting from NATION\n"
    "    --now DATE         decision time, YYYY-MM-DD or ms since 1970 (default: now)\n"
    "    --grant FILE       a consent grant token the message carries (liaison consent\n"
    "                       grant --out, or a grant id received, from the casebook of\n"
    "                       $LIAISON_STATE); up to four.  Shows whether each applies\n"
    "                       and, if not, why (wrong grantee, expired, out of scope).\n"
    "                       Its signature is not checked here: brokers check it\n"
    "                       against the grantor's card\n"
    "    --json             print one JSON object instead of text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 a decision was made (whatever it is); 65 bad policy or argument value;\n"
    "    66 missing policy file; 64 bad usage.\n";

static const char usage_test[] =
    "NAME\n"
    "    liaison policy test - run a file of expected decisions against a policy\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison policy test [--json] [--now DATE] FILE CASES.yaml\n"
    "\n"
    "DESCRIPTION\n"
    "    Each case of CASES.yaml describes a message (partner, kind, labels,\n"
    "    portions, from, to, origin, ...) and the expected decision, rule id and\n"
    "    withheld portions.  Every mismatch is printed with the case's line;\n"
    "    the last line is 'N passed, N failed'.  Rate limits are not applied.\n"
    "\n"
    "OPTIONS\n"
    "    --now DATE  decision time for cases that give none (default: now)\n"
    "    --json      print one JSON object instead of text\n"
    "\n"
    "EXIT STATUS\n"
    "    0 every case passed; 1 some failed; 65 bad policy or cases file;\n"
    "    66 missing file; 64 bad usage.\n";

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int
load_exit(policy_err rc)
{
    switch (rc) {
    case POLICY_ERR_NOFILE:
        return EX_NOINPUT;
    case POLICY_ERR_NOMEM:
        return EX_SOFTWARE;
    case POLICY_ERR_IO:
        return EX_IOERR;
    default:
        return EX_DATAERR;
    }
}

static void
print_json(json_t *obj)
{
    char *s = json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (s != NULL) {
        puts(s);
        free(s);
    }
    json_decref(obj);
}

static json_t *
load_error_json(const policy_load_error *e)
{
    return json_pack("{s:s, s:i, s:i, s:s}", "file", e->file, "line", (json_int_t)e->line,
                     "column", (json_int_t)e->column, "message", e->message);
}

static int
load_policy(const char *path, bool json, policy **out)
{
    policy_load_error e;
    char line[600];
    policy_err rc = policy_load(path, out, &e);

    if (rc == POLICY_OK)
        return EX_OK;
    if (json)
        print_json(json_pack("{s:b, s:o}", "ok", 0, "error", load_error_json(&e)));
    else
        fprintf(stderr, "%s\n", policy_load_error_format(&e, line, sizeof(line)));
    return load_exit(rc);
}

/* ---- check ---------------------------------------------------------------- */

/* The retention rules and holds, under the summary (nothing when there are none). */
static void
print_retention(const policy *p)
{
    policy_retention_info ri;
    policy_hold_info hi;
    char until[PROTO_TIME_TEXT_BYTES + 16], hex[33], hex2[PROTO_TIME_TEXT_BYTES];

    for (size_t i = 0; policy_retention_at(p, i, &ri); i++) {
        if (i == 0)
            printf("  retention   (first match decides; none: kept)\n");
        printf("    %-20s keep %-8s kinds %s%s%s (line %u)\n", ri.id, ri.keep_text, ri.kinds,
               ri.require[0] ? " require " : "", ri.require, ri.line);
    }
    for (size_t i = 0; policy_hold_at(p, i, &hi); i++) {
        if (i == 0)
            printf("  holds\n");
        if (hi.until_ms == UINT64_MAX)
            snprintf(until, sizeof(until), "until removed");
        else
            snprintf(until, sizeof(until), "before %s", proto_time_format(hi.until_ms, hex2));
        printf("    %-20s %s %s, %s: %s (line %u)\n", hi.id, hi.has_message ? "message" : "case",
               hi.has_message ? proto_id_format(hi.message, hex) : hi.case_id, until, hi.reason,
               hi.line);
    }
}

static void
retention_json(const policy *p, json_t *o)
{
    json_t *rules = json_array(), *holds = json_array();
    policy_retention_info ri;
    policy_hold_info hi;
    char hex[33];

    for (size_t i = 0; policy_retention_at(p, i, &ri); i++)
        json_array_append_new(rules, json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", ri.id, "keep",
                                               ri.keep_text, "kinds", ri.kinds, "require",
                                               ri.require, "line", (json_int_t)ri.line));
    for (size_t i = 0; policy_hold_at(p, i, &hi); i++) {
        json_t *h = json_pack("{s:s, s:s, s:I}", "id", hi.id, "reason", hi.reason, "line",
                              (json_int_t)hi.line);

        if (hi.has_message)
            json_object_set_new(h, "message", json_string(proto_id_format(hi.message, hex)));
        else
            json_object_set_new(h, "case", json_string(hi.case_id));
        if (hi.until_ms != UINT64_MAX)
            json_object_set_new(h, "until_ms", json_integer((json_int_t)hi.until_ms));
        json_array_append_new(holds, h);
    }
    json_object_set_new(o, "retention", rules);
    json_object_set_new(o, "holds", holds);
}

static int
cmd_check(int argc, char **argv)
{
    const char *file = NULL;
    bool json = false;
    policy *p = NULL;
    policy_info info;
    char hex[2 * PROTO_HASH_BYTES + 1];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_check, stdout);
        return EX_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' || file != NULL) {
            cli_error(SUB, "check: unexpected argument '%s' (see --help)", argv[i]);
            return EX_USAGE;
        } else {
            file = argv[i];
        }
    }
    if (file == NULL) {
        cli_error(SUB, "check: which file? (see liaison policy check --help)");
        return EX_USAGE;
    }
    rc = load_policy(file, json, &p);
    if (rc != EX_OK)
        return rc;
    policy_info_get(p, &info);
    proto_hex(info.hash, PROTO_HASH_BYTES, hex);
    if (json) {
        json_t *partners = json_array();
        policy_partner_info pi;

        for (size_t i = 0; policy_partner_at(p, i, &pi); i++)
            json_array_append_new(
                partners, json_pack("{s:s, s:I, s:I, s:I, s:I}", "nation", pi.nation, "egress_rules",
                                    (json_int_t)pi.egress_rules, "ingress_rules",
                                    (json_int_t)pi.ingress_rules, "treaties",
                                    (json_int_t)pi.treaties, "rate_limits", (json_int_t)pi.limits));
        json_t *o = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "ok", 1, "file",
                              file, "nation", info.nation, "hash", hex, "rules",
                              (json_int_t)info.rule_count, "treaties",
                              (json_int_t)info.treaty_count, "kinds", (json_int_t)info.kind_count,
                              "caveats", (json_int_t)info.caveat_count, "partners", partners);

        if (o != NULL && (info.retention_count > 0 || info.hold_count > 0))
            retention_json(p, o);
        print_json(o);
    } else {
        policy_partner_info pi;

        printf("%s: valid policy of %s\n", file, info.nation);
        printf("  hash        sha256:%s\n", hex);
        printf("  vocabulary  %zu kinds, %zu caveats\n", info.kind_count, info.caveat_count);
        printf("  partners    %zu, with %zu rules, %zu treaties and %zu rate limits\n",
               info.partner_count, info.rule_count, info.treaty_count, info.limit_count);
        for (size_t i = 0; policy_partner_at(p, i, &pi); i++)
            printf("    %s  %zu egress rules, %zu ingress rules, %zu treaties, %zu rate limits\n",
                   pi.nation, pi.egress_rules, pi.ingress_rules, pi.treaties, pi.limits);
        print_retention(p);
    }
    policy_destroy(&p);
    return EX_OK;
}

/* ---- explain -------------------------------------------------------------- */

static const char *
verdict_rule_where(const policy *p, const char *rule_id, char *buf, size_t len, const char *file)
{
    uint32_t line, column;

    if (policy_rule_position(p, rule_id, &line, &column))
        snprintf(buf, len, " (%s:%u:%u)", file, line, column);
    else
        buf[0] = '\0';
    return buf;
}

static int
cmd_explain(int argc, char **argv)
{
    const char *file = NULL, *recipients_arg = NULL, *now_arg = NULL;
    const char *portions[PROTO_PORTIONS_MAX];
    const char *grant_args[PROTO_GRANTS_MAX];
    size_t grant_arg_count = 0;
    proto_grant grants[PROTO_GRANTS_MAX];
    char origin[PROTO_NATION_LEN + 1];
    char *recip_copy = NULL;
    const char *recips[PROTO_RECIPIENTS_MAX];
    policy_text_request t;
    policy_request_store *store = NULL;
    policy_decision *d = NULL;
    policy *p = NULL;
    bool json = false;
    char why[PROTO_TEXT_MAX], reason[POLICY_REASON_MAX], where[320];
    char hex[2 * PROTO_HASH_BYTES + 1];
    int rc = EX_OK;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_explain, stdout);
        return EX_OK;
    }
    memset(&t, 0, sizeof(t));
    t.portions = portions;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;

        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (strcmp(a, "--ingress") == 0) {
            t.direction = POLICY_INGRESS;
            continue;
        }
        if (strcmp(a, "--policy") == 0)
            slot = &file;
        else if (strcmp(a, "--partner") == 0)
            slot = &t.partner;
        else if (strcmp(a, "--kind") == 0)
            slot = &t.kind;
        else if (strcmp(a, "--labels") == 0)
            slot = &t.labels;
        else if (strcmp(a, "--from") == 0)
            slot = &t.from;
        else if (strcmp(a, "--to") == 0)
            slot = &t.to;
        else if (strcmp(a, "--origin") == 0)
            slot = &t.origin;
        else if (strcmp(a, "--recipients") == 0)
            slot = &recipients_arg;
        else if (strcmp(a, "--now") == 0)
            slot = &now_arg;
        else if (strcmp(a, "--grant") == 0) {
            if (grant_arg_count == PROTO_GRANTS_MAX) {
                cli_error(SUB, "explain: at most %u grants", PROTO_GRANTS_MAX);
                return EX_USAGE;
            }
            slot = &grant_args[grant_arg_count++];
        } else if (strcmp(a, "--portion") == 0) {
            if (t.portion_count == PROTO_PORTIONS_MAX) {
                cli_error(SUB, "explain: at most %u portions", PROTO_PORTIONS_MAX);
                return EX_USAGE;
            }
            slot = &portions[t.portion_count++];
        } else {
            cli_error(SUB, "explain: unknown option '%s' (see --help)", a);
            return EX_USAGE;
        }
        if (i + 1 >= argc) {
            cli_error(SUB, "explain: %s needs a value", a);
            return EX_USAGE;
        }
        *slot = argv[++i];
    }
    if (file == NULL || t.partner == NULL || t.kind == NULL || t.labels == NULL) {
        cli_error(SUB, "explain: --policy, --partner, --kind and --labels are required "
                       "(see --help)");
        return EX_USAGE;
    }
    t.now_ms = now_ms();
    if (now_arg != NULL && policy_date_parse(now_arg, &t.now_ms) != POLICY_OK) {
        cli_error(SUB, "explain: --now '%s' is not YYYY-MM-DD or ms since 1970", now_arg);
        return EX_USAGE;
    }
    if (recipients_arg != NULL) {
        char *save = NULL;

        recip_copy = strdup(recipients_arg);
        if (recip_copy == NULL)
            return EX_SOFTWARE;
        for (char *tok = strtok_r(recip_copy, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (t.recipient_count == PROTO_RECIPIENTS_MAX) {
                cli_error(SUB, "explain: at most %u recipients", PROTO_RECIPIENTS_MAX);
                rc = EX_USAGE;
                goto out;
            }
            recips[t.recipient_count++] = tok;
        }
        t.recipients = recips;
    }
    rc = load_policy(file, json, &p);
    if (rc != EX_OK)
        goto out;
    store = malloc(sizeof(*store));
    d = malloc(sizeof(*d));
    if (store == NULL || d == NULL) {
        rc = EX_SOFTWARE;
        goto out;
    }
    if (policy_request_from_text(p, &t, store, why, sizeof(why)) != POLICY_OK) {
        cli_error(SUB, "explain: %s", why);
        rc = EX_DATAERR;
        goto out;
    }
    for (size_t i = 0; i < grant_arg_count; i++) {
        cli_conn conn;
        uint8_t *token = NULL;
        size_t len = 0;
        proto_detail detail;
        proto_err perr;

        cli_conn_defaults(&conn);
        if ((rc = cli_grant_load("policy explain", &conn, cli_agent_config_env(), grant_args[i], &token,
                                 &len)) != EX_OK)
            goto out;
        perr = proto_grant_decode(token, len, &grants[i], &detail);
        free(token);
        if (perr != PROTO_OK) {
            cli_error(SUB, "explain: --grant %s is not a valid consent grant: %s", grant_args[i],
                      detail.text);
            rc = EX_DATAERR;
            goto out;
        }
    }
    store->req.grants = grants;
    store->req.grant_count = grant_arg_count;
    /* The origin grants are weighed against: the message's, else the first
     * portion's that names one, else the sender's nation. */
    snprintf(origin, sizeof(origin), "%s",
             store->req.labels->origin[0] != '\0' ? store->req.labels->origin
             : store->req.sender->nation[0] != '\0' ? store->req.sender->nation
                                                    : policy_nation(p));
    for (size_t i = 0; store->req.labels->origin[0] == '\0' && i < store->req.portion_count; i++) {
        if (store->req.portions[i].origin[0] != '\0') {
            snprintf(origin, sizeof(origin), "%s", store->req.portions[i].origin);
            break;
        }
    }
    if (policy_decide(p, &store->req, NULL, d) != POLICY_OK) {
        cli_error(SUB, "explain: the request is not valid");
        rc = EX_SOFTWARE;
        goto out;
    }
    proto_hex(policy_hash(p), PROTO_HASH_BYTES, hex);
    policy_reason(&d->verdict, reason, sizeof(reason));
    if (json) {
        json_t *ports = json_array();
        json_t *withheld = json_array();
        uint32_t line = 0, column = 0;
        json_t *obj;

        for (size_t i = 0; i < d->portion_count; i++) {
            bool w = (d->withheld >> i) & 1u;

            if (w)
                json_array_append_new(withheld, json_integer((json_int_t)i));
            json_array_append_new(
                ports, json_pack("{s:I, s:s, s:s, s:s}", "index", (json_int_t)i, "decision",
                                 w ? "withheld" : "released", "rule", d->portions[i].rule_id,
                                 "reason", policy_reason(&d->portions[i], why, sizeof(why))));
        }
        obj = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "ok", 1,
                        "decision", policy_action_name(d->action), "rule", d->verdict.rule_id,
                        "reason", reason, "direction", policy_direction_name(t.direction),
                        "partner", t.partner, "policy_hash", hex, "rate_limits", "not applied",
                        "withheld", withheld, "portions", ports);
        if (policy_rule_position(p, d->verdict.rule_id, &line, &column))
            json_object_set_new(obj, "rule_line", json_integer((json_int_t)line));
        if (grant_arg_count > 0) {
            json_t *ga = json_array();

            for (size_t i = 0; i < grant_arg_count; i++) {
                policy_grant_fit fit = policy_grant_check(p, &store->req, &grants[i], origin);
                char gid[2 * PROTO_ID_BYTES + 1], who[PROTO_ADDR_TEXT_MAX + 1];
                char until[PROTO_TIME_TEXT_BYTES], fit_text[256];

                json_array_append_new(
                    ga, json_pack("{s:s, s:s, s:s, s:b, s:b, s:s}", "id",
                                  proto_hex(grants[i].id, PROTO_ID_BYTES, gid), "grantor",
                                  proto_addr_format(&grants[i].grantor, who, sizeof(who)),
                                  "until", proto_time_format(grants[i].until_ms, until),
                                  "applies", fit == POLICY_GRANT_FITS, "used", d->grant == (int)i,
                                  "why", policy_grant_fit_text(fit, &store->req, &grants[i], origin,
                                                               fit_text, sizeof(fit_text))));
            }
            json_object_set_new(obj, "grants", ga);
        }
        print_json(obj);
    } else {
        printf("decision:  %s\n", policy_action_name(d->action));
        printf("rule:      %s%s\n", d->verdict.rule_id,
               verdict_rule_where(p, d->verdict.rule_id, where, sizeof(where), file));
        printf("reason:    %s\n", reason);
        printf("direction: %s %s %s, rate limits not applied\n",
               policy_direction_name(t.direction),
               t.direction == POLICY_EGRESS ? "toward" : "from", t.partner);
        printf("policy:    %s sha256:%s\n", policy_nation(p), hex);
        for (size_t i = 0; i < d->portion_count; i++) {
            bool w = (d->withheld >> i) & 1u;

            printf("portion %zu: %-8s %s: %s\n", i, w ? "withheld" : "released",
                   d->portions[i].rule_id, policy_reason(&d->portions[i], why, sizeof(why)));
        }
        for (size_t i = 0; i < grant_arg_count; i++) {
            policy_grant_fit fit = policy_grant_check(p, &store->req, &grants[i], origin);
            char gid[2 * PROTO_ID_BYTES + 1], who[PROTO_ADDR_TEXT_MAX + 1], fit_text[256];

            printf("grant %s by %s: %s%s\n", proto_hex(grants[i].id, PROTO_ID_BYTES, gid),
                   proto_addr_format(&grants[i].grantor, who, sizeof(who)),
                   d->grant == (int)i ? "used: " : fit == POLICY_GRANT_FITS ? "not needed: " : "",
                   policy_grant_fit_text(fit, &store->req, &grants[i], origin, fit_text,
                                         sizeof(fit_text)));
        }
    }
    rc = EX_OK;
out:
    free(recip_copy);
    free(store);
    free(d);
    policy_destroy(&p);
    return rc;
}

/* ---- test ----------------------------------------------------------------- */

static int
cmd_test(int argc, char **argv)
{
    const char *file = NULL, *cases_file = NULL, *now_arg = NULL;
    policy *p = NULL;
    policy_cases *cases = NULL;
    policy_case_result *res = NULL;
    policy_load_error e;
    bool json = false;
    size_t passed = 0, failed = 0;
    uint64_t now;
    json_t *arr = NULL;
    char line[600];
    policy_err prc;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_test, stdout);
        return EX_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc) {
            now_arg = argv[++i];
        } else if (argv[i][0] == '-') {
            cli_error(SUB, "test: unknown option '%s' (see --help)", argv[i]);
            return EX_USAGE;
        } else if (file == NULL) {
            file = argv[i];
        } else if (cases_file == NULL) {
            cases_file = argv[i];
        } else {
            cli_error(SUB, "test: unexpected argument '%s' (see --help)", argv[i]);
            return EX_USAGE;
        }
    }
    if (file == NULL || cases_file == NULL) {
        cli_error(SUB, "test: needs a policy FILE and a CASES.yaml (see --help)");
        return EX_USAGE;
    }
    now = now_ms();
    if (now_arg != NULL && policy_date_parse(now_arg, &now) != POLICY_OK) {
        cli_error(SUB, "test: --now '%s' is not YYYY-MM-DD or ms since 1970", now_arg);
        return EX_USAGE;
    }
    rc = load_policy(file, json, &p);
    if (rc != EX_OK)
        return rc;
    prc = policy_cases_load(cases_file, &cases, &e);
    if (prc != POLICY_OK) {
        if (json)
            print_json(json_pack("{s:b, s:o}", "ok", 0, "error", load_error_json(&e)));
        else
            fprintf(stderr, "%s\n", policy_load_error_format(&e, line, sizeof(line)));
        rc = load_exit(prc);
        goto out;
    }
    res = malloc(sizeof(*res));
    arr = json_array();
    if (res == NULL || arr == NULL) {
        rc = EX_SOFTWARE;
        goto out;
    }
    for (size_t i = 0; i < policy_cases_count(cases); i++) {
        if (policy_case_run(p, cases, i, now, res) != POLICY_OK) {
            rc = EX_SOFTWARE;
            goto out;
        }
        if (res->passed)
            passed++;
        else
            failed++;
        if (json) {
            json_t *c = json_pack("{s:s, s:I, s:b}", "name", res->name, "line",
                                  (json_int_t)res->line, "passed", res->passed);

            json_object_set_new(c, "decision",
                                json_string(policy_action_name(res->decision.action)));
            if (res->decision.verdict.rule_id != NULL)
                json_object_set_new(c, "rule", json_string(res->decision.verdict.rule_id));
            if (!res->passed)
                json_object_set_new(c, "message", json_string(res->message));
            json_array_append_new(arr, c);
        } else if (!res->passed) {
            printf("FAIL %s:%u: %s: %s\n", cases_file, res->line, res->name, res->message);
        }
    }
    if (json) {
        print_json(json_pack("{s:b, s:s, s:o, s:I, s:I}", "ok", failed == 0, "rate_limits",
                             "not applied", "cases", arr, "passed", (json_int_t)passed, "failed",
                             (json_int_t)failed));
        arr = NULL;
    } else {
        printf("%zu passed, %zu failed\n", passed, failed);
    }
    rc = failed == 0 ? EX_OK : 1;
out:
    json_decref(arr);
    free(res);
    policy_cases_destroy(&cases);
    policy_destroy(&p);
    return rc;
}

int
cli_policy_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_policy, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "explain") == 0)
        return cmd_explain(argc - 1, argv + 1);
    if (strcmp(argv[1], "test") == 0)
        return cmd_test(argc - 1, argv + 1);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_policy, stdout);
        return EX_OK;
    }
    cli_error(SUB, "unknown command '%s' (see liaison policy --help)", argv[1]);
    return EX_USAGE;
}
