/* The `liaison retention` subcommand, and the retention the casebook applies on every open. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison.h"
#include "liaison_policy.h"
#include "liaison_proto.h"

#define SUB "retention"
#define CLOSED_MAX 100000u /* closed cases one sweep remembers */

static const char usage_retention[] =
    "NAME\n"
    "    liaison retention - delete what the casebook keeps once its retention ends\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison retention sweep [--state DIR | --agent CONFIG] [--policy FILE]\n"
    "                            [--now DATE] [--dry-run] [--json]\n"
    "    liaison retention journal [--state DIR | --agent CONFIG] [--json]\n"
    "    liaison retention explain --policy FILE --kind KIND [--labels LABELS]\n"
    "                              [--case ID] [--id HEX] [--created DATE] [--now DATE]\n"
    "                              [--json]\n"
    "    liaison retention <command> --help\n"
    "\n"
    "DESCRIPTION\n"
    "    The retention: and holds: sections of a policy file say how long a\n"
    "    message is kept (docs/policy.md).  The casebook applies them every time\n"
    "    a command opens it while LIAISON_POLICY names the policy file; `sweep`\n"
    "    applies them now.  Each deletion is written to the casebook's deletion\n"
    "    journal (`journal`).  With --agent, the same for the store of the agent\n"
    "    of CONFIG (its kept messages; the agent applies its policy: at start and\n"
    "    every hour).  `explain` shows which rule and hold apply to a message\n"
    "    and when it is deleted.\n"
    "\n"
    "ENVIRONMENT\n"
    "    LIAISON_STATE   the state directory (default of --state)\n"
    "    LIAISON_POLICY  the policy file (default of --policy)\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 64 bad usage; 65 bad policy or argument value; 66 missing\n"
    "    policy file; 73 the casebook cannot be opened; 74 I/O error.\n"
    "\n"
    "EXAMPLES\n"
    "    liaison retention sweep --state ~/.liaison --policy usa.policy.yaml --dry-run\n"
    "    liaison retention journal --agent /etc/liaison/agents/usa-fbi.yaml\n";

static const char usage_sweep[] =
    "NAME\n"
    "    liaison retention sweep - delete the messages whose retention ended\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison retention sweep [--state DIR | --agent CONFIG] [--policy FILE]\n"
    "                            [--now DATE] [--dry-run] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Deletes from the casebook of DIR every message, sent or received, whose\n"
    "    retention under FILE has ended and that no hold covers: its record, the\n"
    "    envelope as received, its case index entry and its delivery reports.\n"
    "    A rule with keep: case deletes a message once its case is closed (an\n"
    "    mlat.status with status closed in the casebook).  Prints\n"
    "    one line per deletion (id, kind, counterpart, created, rule) and writes\n"
    "    each to the deletion journal.\n"
    "\n"
    "OPTIONS\n"
    "    --state DIR    the state directory (default: $LIAISON_STATE)\n"
    "    --agent CONFIG the agent store of this agent configuration instead: the\n"
    "                   messages it kept as received, counted from their receipt\n"
    "    --policy FILE  the policy file (default: $LIAISON_POLICY; with --agent,\n"
    "                   the configuration's policy:)\n"
    "    --now DATE     decide as of DATE, YYYY-MM-DD, RFC 3339 or ms (default: now)\n"
    "    --dry-run      print what would be deleted; delete nothing\n"
    "    --json         one JSON object per line\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 64 bad usage; 65 bad policy or date; 66 missing policy file;\n"
    "    73 the casebook cannot be opened; 74 I/O error.\n"
    "\n"
    "EXAMPLES\n"
    "    liaison retention sweep --policy usa.policy.yaml --now 2027-01-01 --dry-run\n";

static const char usage_journal[] =
    "NAME\n"
    "    liaison retention journal - list what retention deleted from the casebook\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison retention journal [--state DIR | --agent CONFIG] [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the casebook's deletion journal, oldest first: when, the message\n"
    "    id, sent or received, kind, counterpart, case, when it was created, the\n"
    "    rule, and the SHA-256 of the envelope as received (received messages).\n"
    "\n"
    "OPTIONS\n"
    "    --state DIR      the state directory (default: $LIAISON_STATE)\n"
    "    --agent CONFIG   the journal of this agent's store instead\n"
    "    --json           one JSON object per line\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 64 bad usage; 73 the casebook cannot be opened; 74 I/O error.\n"
    "\n"
    "EXAMPLES\n"
    "    liaison retention journal --state ~/.liaison --json\n";

static const char usage_explain[] =
    "NAME\n"
    "    liaison retention explain - which retention rule and hold apply to a message\n"
    "\n"
    "SYNOPSIS\n"
    "    liaison retention explain --policy FILE --kind KIND [--labels LABELS]\n"
    "                              [--case ID] [--id HEX] [--created DATE] [--now DATE]\n"
    "                              [--json]\n"
    "\n"
    "DESCRIPTION\n"
    "    Prints the retention rule that applies to a message of KIND with these\n"
    "    labels (the first that matches), how long it keeps it and when it ends,\n"
    "    and whether a hold covers the message at --now.\n"
    "\n"
    "OPTIONS\n"
    "    --policy FILE   the policy file (default: $LIAISON_POLICY)\n"
    "    --kind KIND     the message kind\n"
    "    --labels LABELS its labels (default: none)\n"
    "    --case ID       its case id\n"
    "    --id HEX        its message id (32 hex digits)\n"
    "    --created DATE  when it was created (default: now)\n"
    "    --now DATE      as of when (default: now)\n"
    "    --json          print one JSON object\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 64 bad usage; 65 bad policy or argument value; 66 missing file.\n"
    "\n"
    "EXAMPLES\n"
    "    liaison retention explain --policy usa.policy.yaml --kind watchlist.answer \\\n"
    "        --labels 'LES' --case MEX-FGR-2026-0099 --created 2026-06-01\n";

/* Loads path; prints why and returns a sysexits code on failure. */
static int
load_policy(const char *sub, const char *path, policy **out)
{
    policy_load_error e;
    char line[1024];
    policy_err rc;

    if (path == NULL || path[0] == '\0') {
        cli_error(sub, "no policy: give --policy FILE or set LIAISON_POLICY");
        return EX_USAGE;
    }
    rc = policy_load(path, out, &e);
    if (rc == POLICY_OK)
        return EX_OK;
    cli_error(sub, "%s", policy_load_error_format(&e, line, sizeof(line)));
    return rc == POLICY_ERR_NOFILE ? EX_NOINPUT : rc == POLICY_ERR_IO ? EX_IOERR : EX_DATAERR;
}

/* ---- Deciding for the casebook ------------------------------------------- */

typedef struct decider {
    const policy *pol;      /* the policy */
    char **closed;          /* case ids of closed cases, sorted */
    size_t closed_count;    /* entries in closed */
    size_t closed_cap;      /* allocated */
    bool failed;            /* out of memory while collecting */
} decider;

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Remembers the case of an mlat.status that closes it (status closed). */
static int
collect_closed(void *arg, const casebook_entry *e)
{
    decider *d = arg;
    json_t *body;
    const char *status;
    bool closes;

    if (e->case_id[0] == '\0' || e->body == NULL)
        return 0;
    body = json_loads(e->body, 0, NULL);
    status = json_string_value(json_object_get(body, "status"));
    closes = status != NULL && strcmp(status, "closed") == 0;
    json_decref(body);
    if (!closes || d->closed_count >= CLOSED_MAX)
        return 0;
    if (d->closed_count == d->closed_cap) {
        size_t cap = d->closed_cap == 0 ? 16 : d->closed_cap * 2;
        char **grown = realloc(d->closed, cap * sizeof(*grown));

        if (grown == NULL) {
            d->failed = true;
            return 1;
        }
        d->closed = grown;
        d->closed_cap = cap;
    }
    if ((d->closed[d->closed_count] = strdup(e->case_id)) == NULL) {
        d->failed = true;
        return 1;
    }
    d->closed_count++;
    return 0;
}

static bool
case_closed(const decider *d, const char *case_id)
{
    return case_id[0] != '\0' && d->closed_count > 0 &&
           bsearch(&case_id, d->closed, d->closed_count, sizeof(char *), cmp_str) != NULL;
}

static bool
decide(void *arg, const casebook_entry *e, uint64_t now, char rule[65])
{
    const decider *d = arg;
    policy_retention_query q;
    policy_retention r;
    proto_labels labels;

    memset(&q, 0, sizeof(q));
    q.kind = e->kind;
    q.labels = proto_labels_parse(e->labels, &labels, NULL) == PROTO_OK ? &labels : NULL;
    q.case_id = e->case_id;
    q.id = e->id;
    q.created_ms = e->created_ms != 0 ? e->created_ms : e->time_ms;
    if (policy_retention_lookup(d->pol, &q, now, &r) != POLICY_OK || r.held)
        return false;
    if (!r.ended && !(r.keep == POLICY_KEEP_CASE && case_closed(d, e->case_id)))
        return false;
    snprintf(rule, 65, "%s", r.rule);
    return true;
}

static void
decider_free(decider *d)
{
    for (size_t i = 0; i < d->closed_count; i++)
        free(d->closed[i]);
    free(d->closed);
    memset(d, 0, sizeof(*d));
}

/* Runs the retention of pol over cb as of now; returns a casebook error. */
static casebook_err
sweep(casebook *cb, const policy *pol, uint64_t now, bool dry_run, casebook_deleted_fn report,
      void *arg, size_t *count)
{
    decider d;
    casebook_err err;

    memset(&d, 0, sizeof(d));
    d.pol = pol;
    if ((err = casebook_each_kind(cb, true, "mlat.status", collect_closed, &d)) == CASEBOOK_OK &&
        (err = casebook_each_kind(cb, false, "mlat.status", collect_closed, &d)) == CASEBOOK_OK) {
        if (d.failed) {
            err = CASEBOOK_ERR_NOMEM;
        } else {
            if (d.closed_count > 1) /* qsort takes no null base, even for nothing */
                qsort(d.closed, d.closed_count, sizeof(char *), cmp_str);
            err = casebook_retention_sweep(cb, now, dry_run, decide, &d, report, arg, count);
        }
    }
    decider_free(&d);
    return err;
}

int
cli_retention_apply(const char *sub, casebook *cb)
{
    const char *path = getenv("LIAISON_POLICY");
    policy *pol = NULL;
    casebook_err err;
    int rc;

    if (path == NULL || path[0] == '\0')
        return EX_OK;
    if ((rc = load_policy(sub, path, &pol)) != EX_OK)
        return rc;
    err = sweep(cb, pol, liaison_now_ms(), false, NULL, NULL, NULL);
    policy_destroy(&pol);
    if (err != CASEBOOK_OK) {
        cli_error(sub, "retention of the casebook: %s", casebook_strerror(err));
        return EX_IOERR;
    }
    return EX_OK;
}

/* ---- Printing deletions ------------------------------------------------------ */

typedef struct printer {
    bool json;       /* one JSON object per line */
    bool dry_run;    /* nothing was deleted */
} printer;

static void
print_deletion(void *arg, const casebook_deletion *d)
{
    const printer *pr = arg;
    char id[33], hash[65], created[PROTO_TIME_TEXT_BYTES], deleted[PROTO_TIME_TEXT_BYTES];

    proto_id_format(d->id, id);
    if (d->has_hash)
        proto_hex(d->envelope_hash, 32, hash);
    else
        hash[0] = '\0';
    proto_time_format(d->created_ms, created);
    proto_time_format(d->deleted_ms, deleted);
    if (pr->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", id,
                              "direction", d->sent ? "sent" : "received", "kind", d->kind,
                              "counterpart", d->counterpart, "case", d->case_id, "created",
                              created, "deleted", deleted, "rule", d->rule, "envelope_hash",
                              hash);

        if (o != NULL && pr->dry_run)
            json_object_set_new(o, "dry_run", json_true());
        cli_print_json(o, true);
        json_decref(o);
        return;
    }
    printf("%s %s %s %-8s %-20s %-18s created %s rule %s%s%s\n",
           pr->dry_run ? "would delete" : deleted, id, d->sent ? "sent" : "received",
           d->sent ? "to" : "from", d->counterpart, d->kind, created, d->rule,
           d->has_hash ? " envelope sha256:" : "", hash);
}

static void
print_agent_deletion(void *arg, const agent_deletion *d)
{
    const printer *pr = arg;
    char created[PROTO_TIME_TEXT_BYTES], deleted[PROTO_TIME_TEXT_BYTES];

    proto_time_format(d->created_ms, created);
    proto_time_format(d->deleted_ms, deleted);
    if (pr->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", d->id,
                              "direction", "received", "kind", d->kind, "counterpart",
                              d->counterpart, "case", d->case_id, "created", created, "deleted",
                              deleted, "rule", d->rule, "envelope_hash", d->envelope_hash);
        json_t *records = json_array();
        char refs[AGENT_DELETION_REFS_MAX], *save = NULL;

        /* The refs of the records filed from the message that went with it. */
        snprintf(refs, sizeof(refs), "%s", d->records);
        for (char *r = strtok_r(refs, " ", &save); r != NULL; r = strtok_r(NULL, " ", &save))
            json_array_append_new(records, json_string(r));
        if (o != NULL)
            json_object_set_new(o, "records", records);
        else
            json_decref(records);

        if (o != NULL && pr->dry_run)
            json_object_set_new(o, "dry_run", json_true());
        cli_print_json(o, true);
        json_decref(o);
        return;
    }
    printf("%s %s received from     %-20s %-18s created %s rule %s envelope sha256:%s%s%s\n",
           pr->dry_run ? "would delete" : deleted, d->id, d->counterpart, d->kind, created,
           d->rule, d->envelope_hash, d->records[0] != '\0' ? " records " : "", d->records);
}

/* Sweeps, or lists the journal of, the agent store of the configuration at
 * config (policy: file, else the configuration's policy). */
static int
agent_run_cmd(const char *sub, const char *config, const char *file, bool journal, uint64_t now,
              printer *pr)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    policy *pol = NULL;
    size_t count = 0;
    agent_store_err err;
    int rc;

    if ((rc = cli_agent_config_load(sub, config, &cfg)) != EX_OK)
        return rc;
    if (!journal && (rc = load_policy(sub, file != NULL ? file : cfg->policy, &pol)) != EX_OK)
        goto out;
    if ((rc = cli_agent_store_open(sub, cfg, false, &st)) != EX_OK)
        goto out;
    err = journal ? agent_journal_each(st, print_agent_deletion, pr)
                  : agent_retention_sweep(st, pol, now, pr->dry_run, print_agent_deletion, pr,
                                          &count);
    if (err != AGENT_STORE_OK) {
        cli_error(sub, "%s", agent_store_strerror(err));
        rc = EX_IOERR;
    } else if (!journal && !pr->json) {
        fprintf(stderr, "%zu message%s %s\n", count, count == 1 ? "" : "s",
                pr->dry_run ? "would be deleted" : "deleted");
    }
out:
    agent_store_close(&st);
    policy_destroy(&pol);
    agent_config_destroy(&cfg);
    return rc;
}

/* ---- Commands ----------------------------------------------------------------- */

static int
open_casebook(const char *sub, const char *state, casebook **cb)
{
    cli_conn conn;

    memset(&conn, 0, sizeof(conn));
    conn.state = state;
    return cli_casebook_open_plain(sub, &conn, cb);
}

static int
cmd_sweep(int argc, char **argv)
{
    const char *state = getenv("LIAISON_STATE"), *file = getenv("LIAISON_POLICY");
    const char *agent = NULL, *file_arg = NULL;
    uint64_t now = liaison_now_ms();
    printer pr = {false, false};
    policy *pol = NULL;
    casebook *cb = NULL;
    size_t count = 0;
    casebook_err err;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_sweep, stdout);
        return EX_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--json") == 0) {
            pr.json = true;
        } else if (strcmp(a, "--dry-run") == 0) {
            pr.dry_run = true;
        } else if (i + 1 < argc && strcmp(a, "--state") == 0) {
            state = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--policy") == 0) {
            file = file_arg = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--agent") == 0) {
            agent = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--now") == 0) {
            if (!proto_time_parse(argv[++i], &now)) {
                cli_error(SUB, "sweep: --now '%s' is not a date (YYYY-MM-DD, RFC 3339)", argv[i]);
                return EX_DATAERR;
            }
        } else {
            cli_error(SUB, "sweep: unexpected argument '%s' (see --help)", a);
            return EX_USAGE;
        }
    }
    if (agent != NULL)
        return agent_run_cmd(SUB " sweep", agent, file_arg != NULL ? file_arg : NULL, false, now,
                             &pr);
    if ((rc = load_policy(SUB " sweep", file, &pol)) != EX_OK)
        return rc;
    if ((rc = open_casebook(SUB " sweep", state, &cb)) != EX_OK) {
        policy_destroy(&pol);
        return rc;
    }
    err = sweep(cb, pol, now, pr.dry_run, print_deletion, &pr, &count);
    casebook_close(&cb);
    policy_destroy(&pol);
    if (err != CASEBOOK_OK) {
        cli_error(SUB, "sweep: %s", casebook_strerror(err));
        return EX_IOERR;
    }
    if (!pr.json)
        fprintf(stderr, "%zu message%s %s\n", count, count == 1 ? "" : "s",
                pr.dry_run ? "would be deleted" : "deleted");
    return EX_OK;
}

static int
cmd_journal(int argc, char **argv)
{
    const char *state = getenv("LIAISON_STATE"), *agent = NULL;
    printer pr = {false, false};
    casebook *cb = NULL;
    casebook_err err;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_journal, stdout);
        return EX_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            pr.json = true;
        } else if (i + 1 < argc && strcmp(argv[i], "--state") == 0) {
            state = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--agent") == 0) {
            agent = argv[++i];
        } else {
            cli_error(SUB, "journal: unexpected argument '%s' (see --help)", argv[i]);
            return EX_USAGE;
        }
    }
    if (agent != NULL)
        return agent_run_cmd(SUB " journal", agent, NULL, true, 0, &pr);
    if ((rc = open_casebook(SUB " journal", state, &cb)) != EX_OK)
        return rc;
    err = casebook_journal_each(cb, print_deletion, &pr);
    casebook_close(&cb);
    if (err != CASEBOOK_OK) {
        cli_error(SUB, "journal: %s", casebook_strerror(err));
        return EX_IOERR;
    }
    return EX_OK;
}

static int
cmd_explain(int argc, char **argv)
{
    const char *file = getenv("LIAISON_POLICY"), *kind = NULL, *labels_text = NULL;
    const char *case_id = NULL, *id_text = NULL;
    uint64_t now = liaison_now_ms(), created;
    bool json = false;
    policy_retention_query q;
    policy_retention r;
    proto_labels labels;
    uint8_t id[16];
    policy *pol = NULL;
    char until[PROTO_TIME_TEXT_BYTES], hold_until[PROTO_TIME_TEXT_BYTES];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_explain, stdout);
        return EX_OK;
    }
    created = now;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (i + 1 < argc && strcmp(a, "--policy") == 0) {
            file = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--kind") == 0) {
            kind = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--labels") == 0) {
            labels_text = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--case") == 0) {
            case_id = argv[++i];
        } else if (i + 1 < argc && strcmp(a, "--id") == 0) {
            id_text = argv[++i];
        } else if (i + 1 < argc && (strcmp(a, "--now") == 0 || strcmp(a, "--created") == 0)) {
            if (!proto_time_parse(argv[i + 1], strcmp(a, "--now") == 0 ? &now : &created)) {
                cli_error(SUB, "explain: %s '%s' is not a date (YYYY-MM-DD, RFC 3339)", a,
                          argv[i + 1]);
                return EX_DATAERR;
            }
            i++;
        } else {
            cli_error(SUB, "explain: unexpected argument '%s' (see --help)", a);
            return EX_USAGE;
        }
    }
    if (kind == NULL) {
        cli_error(SUB, "explain: --kind KIND is required (see --help)");
        return EX_USAGE;
    }
    memset(&q, 0, sizeof(q));
    q.kind = kind;
    q.case_id = case_id;
    q.created_ms = created;
    if (labels_text != NULL) {
        if (proto_labels_parse(labels_text, &labels, NULL) != PROTO_OK) {
            cli_error(SUB, "explain: --labels '%s' are not labels", labels_text);
            return EX_DATAERR;
        }
        q.labels = &labels;
    }
    if (id_text != NULL) {
        if (proto_id_parse(id_text, id) != PROTO_OK) {
            cli_error(SUB, "explain: --id '%s' is not a message id (32 hex digits)", id_text);
            return EX_DATAERR;
        }
        q.id = id;
    }
    if ((rc = load_policy(SUB " explain", file, &pol)) != EX_OK)
        return rc;
    if (policy_retention_lookup(pol, &q, now, &r) != POLICY_OK) {
        policy_destroy(&pol);
        cli_error(SUB, "explain: the kind is required");
        return EX_USAGE;
    }
    policy_destroy(&pol);
    if (r.until_ms != UINT64_MAX)
        proto_time_format(r.until_ms, until);
    else
        snprintf(until, sizeof(until), "never");
    if (r.hold_until_ms != UINT64_MAX)
        proto_time_format(r.hold_until_ms, hold_until);
    else
        snprintf(hold_until, sizeof(hold_until), "until removed");
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b}", "kind", kind, "rule", r.rule, "keep",
                              r.keep == POLICY_KEEP_FOR    ? "for"
                              : r.keep == POLICY_KEEP_CASE ? "case"
                                                           : "kept",
                              "ended", r.ended, "held", r.held);

        if (r.keep == POLICY_KEEP_FOR) {
            json_object_set_new(o, "keep_ms", json_integer((json_int_t)r.keep_ms));
            json_object_set_new(o, "until", json_string(until));
        }
        if (r.held) {
            json_object_set_new(o, "hold", json_string(r.hold));
            json_object_set_new(o, "hold_reason", json_string(r.hold_reason));
            json_object_set_new(o, "hold_until", json_string(hold_until));
        }
        cli_print_json(o, false);
        json_decref(o);
        return EX_OK;
    }
    if (r.keep == POLICY_KEEP_FOREVER)
        printf("kept: no retention rule matches %s (kept as before)\n", kind);
    else if (r.keep == POLICY_KEEP_CASE)
        printf("rule %s: kept for the life of its case (deleted once an mlat.status closes it)\n",
               r.rule);
    else
        printf("rule %s: kept until %s%s\n", r.rule, until, r.ended ? " (ended)" : "");
    if (r.held)
        printf("held by %s (%s): %s\n", r.hold, hold_until, r.hold_reason);
    return EX_OK;
}

int
cli_retention_main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_retention, argc < 2 ? stderr : stdout);
        return argc < 2 ? EX_USAGE : EX_OK;
    }
    if (strcmp(argv[1], "sweep") == 0)
        return cmd_sweep(argc - 1, argv + 1);
    if (strcmp(argv[1], "journal") == 0)
        return cmd_journal(argc - 1, argv + 1);
    if (strcmp(argv[1], "explain") == 0)
        return cmd_explain(argc - 1, argv + 1);
    cli_error(SUB, "unknown command '%s' (see liaison retention --help)", argv[1]);
    return EX_USAGE;
}
