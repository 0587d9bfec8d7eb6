/* liaison watchlist: publish, withdraw, query partners (hit / no-hit) and request details. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define SUB "watchlist"
#define TO_MAX 64
#define DEFAULT_DEADLINE_S 30

static const char usage_watchlist[] =
    "NAME\n"
    "    liaison watchlist - share watchlist entries and ask partners about a subject\n\n"
    "SYNOPSIS\n"
    "    liaison watchlist query --to SELECTOR... --purpose TEXT --name NAME [--born DATE]\n"
    "                            [--passport N --country C] [options]\n"
    "    liaison watchlist request --to AGENCY --ref REF [--reply-to ID] [options]\n"
    "    liaison watchlist publish --to SELECTOR... --file ENTRIES.json [options]\n"
    "    liaison watchlist withdraw --to SELECTOR... --ref REF... [options]\n\n"
    "DESCRIPTION\n"
    "    Messages of the watchlist.* family (docs/messages.md).  Each command has its\n"
    "    own page: liaison watchlist <command> --help.\n\n"
    "EXIT STATUS\n"
    "    0 done; 2 rejected by the broker; 64 bad usage (a query without --purpose);\n"
    "    65 bad input data; 66 missing file; 69 broker unreachable; 75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_query[] =
    "NAME\n"
    "    liaison watchlist query - ask partners whether a subject is known to them\n\n"
    "SYNOPSIS\n"
    "    liaison watchlist query --to SELECTOR... --purpose TEXT\n"
    "                            (--name NAME [--born YYYY-MM-DD] | --passport N)\n"
    "                            [--passport N [--country C]] [--type person|entity]\n"
    "                            [--deadline SECONDS] [--labels LABELS] [--json]\n"
    "                            [--agent-config F] [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends one watchlist.query to every agency the selectors name (CAN/*, MEX/FGR,\n"
    "    * for every partner that accepts watchlist.*) and waits until each partner\n"
    "    nation has answered or the deadline passes.  Prints one row per answer: HIT\n"
    "    with each hit's reference (ask for details with `watchlist request`), or\n"
    "    no-hit; then the partners that did not answer in time.\n\n"
    "    A query must state its purpose: --purpose travels in the labels as\n"
    "    PURPOSE:<text> and is written to the audit log of every broker on the way,\n"
    "    as partners' data-protection laws require.  Without it the query is refused\n"
    "    before anything is sent.\n\n"
    "OPTIONS\n"
    "    --to SELECTOR      a partner agency or selector; repeat for several\n"
    "    --purpose TEXT     why you ask (printable, at most 200 characters, no //)\n"
    "    --name NAME        the subject's name, as you know it\n"
    "    --born DATE        date of birth, YYYY-MM-DD\n"
    "    --passport N       a passport number; --country C its issuing nation (ISO alpha-3)\n"
    "    --type TYPE        person (default) or entity\n"
    "    --agent-config F   first print the partners' published entries that the store\n"
    "                       of the agency's agent holds and that match (source, ref,\n"
    "                       score), then query live; with --json that is a first\n"
    "                       line {\"local\": [...]}\n"
    "    --deadline SECS    how long to wait for answers (default 30)\n"
    "    --labels LABELS    message labels before the purpose (default LES)\n"
    "    --json             print {id, answers: [{from, id, result, hits}], silent, complete}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 every partner answered; 75 at least one partner did not answer in time (the\n"
    "    answers received are printed); 2 rejected by the broker (policy, rate limit);\n"
    "    64 bad usage, e.g. no --purpose; 65 bad key or roster; 69 broker unreachable.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n\n"
    "EXAMPLES\n"
    "    liaison watchlist query --to 'CAN/*' --to 'MEX/*' --name 'Jon Doe' \\\n"
    "        --born 1980-02-29 --purpose 'fugitive investigation 2026-0042'\n";

static const char usage_request[] =
    "NAME\n"
    "    liaison watchlist request - ask a partner for the details behind a hit\n\n"
    "SYNOPSIS\n"
    "    liaison watchlist request --to AGENCY --ref REF [--reply-to ID] [--purpose TEXT]\n"
    "                              [--deadline SECONDS] [--labels LABELS] [--json]\n"
    "                              [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends a watchlist.request for reference REF (from a hit) to the agency that\n"
    "    holds it, in reply to ID (the answer or the query it follows up), and waits\n"
    "    for the watchlist.details, which it prints.  Without --purpose, the purpose\n"
    "    of the query that ID answers is used when the casebook (--state) knows it.\n\n"
    "OPTIONS\n"
    "    --to AGENCY        the agency that answered the hit, e.g. CAN/RCMP\n"
    "    --ref REF          the reference of the hit\n"
    "    --reply-to ID      the answer (or query) this follows up, 32 hex digits\n"
    "    --purpose TEXT     the stated purpose (default: the query's)\n"
    "    --deadline SECS    how long to wait for the details (default 30)\n"
    "    --labels LABELS    message labels (default LES)\n"
    "    --json             print {id, from, result, entry}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 details received (found or unknown); 75 no answer in time; 2 rejected by the\n"
    "    broker; 64 bad usage; 69 broker unreachable.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_publish[] =
    "NAME\n"
    "    liaison watchlist publish - share watchlist entries with partners\n\n"
    "SYNOPSIS\n"
    "    liaison watchlist publish --to SELECTOR... --file ENTRIES.json [--labels LABELS]\n"
    "                              [--grant GRANT-ID|FILE]... [--json] [connection options]\n\n"
    "DESCRIPTION\n"
    "    ENTRIES.json holds an array of entries, or an object with an \"entries\"\n"
    "    array, each as in docs/messages.md (ref, type, names, born, nationality,\n"
    "    documents, reason).  Every entry needs a \"ref\".  They are sent in one\n"
    "    watchlist.publish message.  Entries another nation originated (labels with\n"
    "    ORIGIN:) go on to a third nation only with its consent: --grant attaches a\n"
    "    consent grant, by the id of one received (from the casebook of --state) or\n"
    "    a token file (liaison consent --help).\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 65 the file is not valid\n"
    "    JSON or an entry lacks a ref; 66 no such file; 69 broker unreachable;\n"
    "    75 no answer from the broker in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_withdraw[] =
    "NAME\n"
    "    liaison watchlist withdraw - withdraw entries shared before\n\n"
    "SYNOPSIS\n"
    "    liaison watchlist withdraw --to SELECTOR... --ref REF... [--labels LABELS]\n"
    "                               [--json] [connection options]\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 69 broker unreachable;\n"
    "    75 no answer from the broker in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

/* Options every watchlist command understands (each uses some). */
typedef struct wl_opts {
    cli_conn conn;                 /* connection */
    const char *to[TO_MAX];        /* --to */
    size_t to_count;               /* entries in to */
    const char *refs[TO_MAX];      /* --ref */
    size_t ref_count;              /* entries in refs */
    const char *name;              /* --name */
    const char *born;              /* --born */
    const char *passport;          /* --passport */
    const char *country;           /* --country */
    const char *type;              /* --type */
    const char *purpose;           /* --purpose */
    const char *labels;            /* --labels */
    const char *file;              /* --file */
    const char *reply_to;          /* --reply-to */
    const char *agent_config;      /* --agent-config (query) */
    long deadline_s;               /* --deadline */
    bool json;                     /* --json */
    const char *grants[LIAISON_GRANTS_MAX]; /* --grant (publish) */
    size_t grant_count;            /* entries in grants */
} wl_opts;

static int
parse(int argc, char **argv, const char *usage, wl_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"to", required_argument, NULL, 't'},
        {"ref", required_argument, NULL, 'r'},
        {"name", required_argument, NULL, 'n'},
        {"born", required_argument, NULL, 'b'},
        {"passport", required_argument, NULL, 'p'},
        {"country", required_argument, NULL, 'c'},
        {"type", required_argument, NULL, 'y'},
        {"purpose", required_argument, NULL, 'P'},
        {"labels", required_argument, NULL, 'l'},
        {"file", required_argument, NULL, 'f'},
        {"reply-to", required_argument, NULL, 'R'},
        {"deadline", required_argument, NULL, 'd'},
        {"grant", required_argument, NULL, 'g'},
        {"agent-config", required_argument, NULL, 'A'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->labels = "LES";
    o->type = "person";
    o->deadline_s = DEFAULT_DEADLINE_S;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 't':
        case 'r': {
            const char **list = opt == 't' ? o->to : o->refs;
            size_t *n = opt == 't' ? &o->to_count : &o->ref_count;

            if (*n == TO_MAX) {
                cli_error(SUB, "%s: at most %d of --%s", argv[0], TO_MAX, opt == 't' ? "to" : "ref");
                return EX_USAGE;
            }
            list[(*n)++] = optarg;
            break;
        }
        case 'g':
            if (usage != usage_publish || o->grant_count == LIAISON_GRANTS_MAX) {
                cli_error(SUB, "%s: %s", argv[0],
                          usage != usage_publish ? "--grant is an option of publish only"
                                                 : "at most 4 of --grant");
                return EX_USAGE;
            }
            o->grants[o->grant_count++] = optarg;
            break;
        case 'n': o->name = optarg; break;
        case 'b': o->born = optarg; break;
        case 'p': o->passport = optarg; break;
        case 'c': o->country = optarg; break;
        case 'y': o->type = optarg; break;
        case 'P': o->purpose = optarg; break;
        case 'l': o->labels = optarg; break;
        case 'f': o->file = optarg; break;
        case 'R': o->reply_to = optarg; break;
        case 'A':
            if (usage != usage_query) {
                cli_error(SUB, "%s: --agent-config is an option of query only", argv[0]);
                return EX_USAGE;
            }
            o->agent_config = optarg;
            break;
        case 'd':
            o->deadline_s = atol(optarg);
            if (o->deadline_s <= 0) {
                cli_error(SUB, "%s: --deadline takes a number of seconds", argv[0]);
                return EX_USAGE;
            }
            break;
        case 'j': o->json = true; break;
        case 'h': fputs(usage, stdout); return -1;
        default:
            cli_error(SUB, "%s: unknown option or missing value '%s' (see --help)", argv[0],
                      argv[optind - 1]);
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        cli_error(SUB, "%s: unexpected argument '%s' (see --help)", argv[0], argv[optind]);
        return EX_USAGE;
    }
    return EX_OK;
}

/* ---- query ---------------------------------------------------------------------- */

/*
 * The first step of a query with an agent: the partners' entries that the
 * agent's store holds (watchlist.publish received) and that match subject,
 * printed at once (with json, one line {"local": [...]}) before the live
 * query goes out.
 */
static int
query_local(const char *config, const json_t *subject, bool json)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *hits = NULL, *v;
    agent_store_err err = AGENT_STORE_OK;
    size_t i;
    int rc;

    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, false, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_lookup_subject(t, subject, cfg->name_threshold, AGENT_SCOPE_PARTNERS, true,
                                    &hits)) != AGENT_STORE_OK)
        goto out;
    if (json) {
        json_t *j = json_pack("{s:O}", "local", hits);

        cli_print_json(j, true);
        json_decref(j);
    } else {
        json_array_foreach(hits, i, v) {
            printf("LOCAL HIT    %-14s ref %s score %.2f %s\n",
                   json_string_value(json_object_get(v, "source")),
                   json_string_value(json_object_get(v, "ref")),
                   json_real_value(json_object_get(v, "score")),
                   json_string_value(json_object_get(v, "name")) != NULL
                       ? json_string_value(json_object_get(v, "name")) : "");
        }
        if (json_array_size(hits) == 0)
            printf("LOCAL        no partner entry held here matches\n");
    }
    fflush(stdout);
out:
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    json_decref(hits);
    if (rc == EX_OK && err != AGENT_STORE_OK) {
        cli_error(SUB, "query: agent store: %s", agent_store_strerror(err));
        rc = EX_IOERR;
    }
    return rc;
}

static int
cmd_query(int argc, char **argv)
{
    wl_opts o;
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    json_t *body = NULL, *subject;
    char labels[2048];
    uint64_t born_ms;
    cli_outgoing out;
    int rc;

    if ((rc = parse(argc, argv, usage_query, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if ((rc = cli_purpose_check("watchlist query", o.purpose)) != EX_OK)
        return rc;
    if (o.to_count == 0 || (o.name == NULL && o.passport == NULL)) {
        cli_error(SUB, "query: %s", o.to_count == 0 ? "at least one --to is required"
                                                    : "--name or --passport is required");
        return EX_USAGE;
    }
    if (o.born != NULL && (strlen(o.born) != 10 || !proto_time_parse(o.born, &born_ms))) {
        cli_error(SUB, "query: --born takes a date, YYYY-MM-DD");
        return EX_USAGE;
    }
    if (strcmp(o.type, "person") != 0 && strcmp(o.type, "entity") != 0) {
        cli_error(SUB, "query: --type is person or entity");
        return EX_USAGE;
    }
    body = json_pack("{s:s}", "schema", "watchlist.query/1");
    subject = json_pack("{s:s}", "type", o.type);
    if (o.name != NULL)
        json_object_set_new(subject, "name", json_string(o.name));
    if (o.born != NULL)
        json_object_set_new(subject, "born", json_string(o.born));
    if (o.passport != NULL) {
        json_t *doc = json_pack("{s:s, s:s}", "type", "passport", "number", o.passport);

        if (o.country != NULL)
            json_object_set_new(doc, "country", json_string(o.country));
        json_object_set_new(subject, "documents", json_pack("[o]", doc));
    }
    json_object_set_new(body, "subject", subject);
    /* First step: what partners published that the agent's store holds. */
    if (o.agent_config != NULL && (rc = query_local(o.agent_config, subject, o.json)) != EX_OK)
        goto done;
    memset(&out, 0, sizeof(out));
    out.kind = "watchlist.query";
    out.to = o.to;
    out.to_count = o.to_count;
    out.labels = cli_labels_with_purpose(o.labels, o.purpose, labels, sizeof(labels));
    out.portion_labels = o.labels;
    out.body = body;
    if ((rc = cli_outgoing_build("watchlist query", &out, &m)) != EX_OK)
        goto done;
    if (o.conn.state != NULL && (rc = cli_casebook_open("watchlist query", &o.conn, &cb)) != EX_OK)
        goto done;
    if ((rc = cli_connect("watchlist query", &o.conn, true, &c)) != EX_OK)
        goto done;
    rc = cli_query_run("watchlist query", c, cb, &o.conn, &out, m,
                       liaison_now_ms() + (uint64_t)o.deadline_s * 1000u, "watchlist.answer/1",
                       o.json, NULL, NULL);
done:
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    json_decref(body);
    return rc;
}

/* ---- request ---------------------------------------------------------------------- */

/* The PURPOSE: of a labels text, into out (201 bytes); false if none. */
static bool
labels_purpose(const char *labels, char *out, size_t len)
{
    const char *p = strstr(labels, "PURPOSE:");
    size_t n;

    if (p == NULL)
        return false;
    p += strlen("PURPOSE:");
    n = strcspn(p, "/");
    while (p[n] == '/' && p[n + 1] != '/' && p[n + 1] != '\0')
        n += 1 + strcspn(p + n + 1, "/");
    snprintf(out, len, "%.*s", (int)n, p);
    return out[0] != '\0';
}

/* The purpose of the query that id is (sent) or answers (received), from the casebook. */
static bool
purpose_of(casebook *cb, const uint8_t id[16], char *out, size_t len)
{
    casebook_entry *e = NULL;
    bool found = false;

    if (cb == NULL)
        return false;
    if (casebook_get(cb, true, id, false, &e) == CASEBOOK_OK) {
        found = labels_purpose(e->labels, out, len);
    } else if (casebook_get(cb, false, id, false, &e) == CASEBOOK_OK && e->has_reply_to) {
        casebook_entry *q = NULL;

        if (casebook_get(cb, true, e->in_reply_to, false, &q) == CASEBOOK_OK)
            found = labels_purpose(q->labels, out, len);
        casebook_entry_free(&q);
    }
    casebook_entry_free(&e);
    return found;
}

static int
cmd_request(int argc, char **argv)
{
    wl_opts o;
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    liaison_answers *a = NULL;
    casebook *cb = NULL;
    json_t *body = NULL, *details = NULL;
    char labels[2048], purpose[256], why[128];
    uint8_t reply[16];
    cli_outgoing out;
    int rc;
    liaison_err err;

    if ((rc = parse(argc, argv, usage_request, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.to_count != 1 || o.ref_count != 1) {
        cli_error(SUB, "request: one --to AGENCY and one --ref REF are required");
        return EX_USAGE;
    }
    if (o.reply_to != NULL && liaison_id_from_hex(o.reply_to, reply) != LIAISON_OK) {
        cli_error(SUB, "request: --reply-to takes a message id (32 hex digits)");
        return EX_USAGE;
    }
    if (o.conn.state != NULL && (rc = cli_casebook_open("watchlist request", &o.conn, &cb)) != EX_OK)
        return rc;
    purpose[0] = '\0';
    if (o.purpose != NULL)
        snprintf(purpose, sizeof(purpose), "%s", o.purpose);
    else if (o.reply_to != NULL)
        (void)purpose_of(cb, reply, purpose, sizeof(purpose));
    if (purpose[0] != '\0' && (rc = cli_purpose_check("watchlist request", purpose)) != EX_OK)
        goto done;
    body = json_pack("{s:s, s:s}", "schema", "watchlist.request/1", "ref", o.refs[0]);
    memset(&out, 0, sizeof(out));
    out.kind = "watchlist.request";
    out.to = o.to;
    out.to_count = 1;
    out.labels = cli_labels_with_purpose(o.labels, purpose, labels, sizeof(labels));
    out.portion_labels = o.labels;
    out.reply_to = o.reply_to != NULL ? reply : NULL;
    out.body = body;
    if ((rc = cli_outgoing_build("watchlist request", &out, &m)) != EX_OK)
        goto done;
    if ((rc = cli_connect("watchlist request", &o.conn, true, &c)) != EX_OK)
        goto done;
    {
        uint8_t id[16];
        char hex[33];

        if ((rc = cli_outgoing_send("watchlist request", c, cb, &out, m, &o.conn, o.json, id)) !=
            EX_OK)
            goto done;
        liaison_id_to_hex(id, hex);
        err = liaison_query(c, m, liaison_now_ms() + (uint64_t)o.deadline_s * 1000u, &a);
        if (err != LIAISON_OK) {
            cli_error(SUB, "request: %s", liaison_client_error(c));
            rc = cli_exit_for(err);
            goto done;
        }
        if (a->count == 0) {
            cli_error(SUB, "request %s: no details from %s within %ld s", hex, o.to[0],
                      o.deadline_s);
            if (o.json) {
                json_t *j = json_pack("{s:s, s:s, s:s}", "id", hex, "from", o.to[0], "result",
                                      "no-answer");

                cli_print_json(j, false);
                json_decref(j);
            }
            rc = EX_TEMPFAIL;
            goto done;
        }
        if (cb != NULL && cli_store_event(cb, a->answers[0]) != 0)
            cli_error(SUB, "request: the details could not be recorded in the casebook");
        details = cli_event_body(a->answers[0], "watchlist.details/1", why);
        if (details == NULL) {
            cli_error(SUB, "request: the answer from %s cannot be read: %s",
                      a->answers[0]->sender, why);
            rc = EX_DATAERR;
            goto done;
        }
        if (o.json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:O}", "id", hex, "from", a->answers[0]->sender,
                                  "answer", a->answers[0]->id_hex, "details", details);

            cli_print_json(j, false);
            json_decref(j);
        } else {
            const char *result = json_string_value(json_object_get(details, "result"));
            json_t *entry = json_object_get(details, "entry");

            printf("%s %s: %s\n", a->answers[0]->sender, o.refs[0],
                   result != NULL ? result : "(no result)");
            if (json_is_object(entry)) {
                const char *key;
                json_t *v;

                json_object_foreach(entry, key, v) {
                    char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

                    printf("  %-12s %s\n", key, t != NULL ? t : json_string_value(v));
                    free(t);
                }
            }
        }
        rc = EX_OK;
    }
done:
    json_decref(details);
    liaison_answers_free(&a);
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    json_decref(body);
    return rc;
}

/* ---- publish and withdraw ----------------------------------------------------------------- */

/* Sends a one-portion message and prints its id. */
static int
send_one(const char *sub, wl_opts *o, cli_outgoing *out, const char *what)
{
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    uint8_t id[16];
    char hex[33];
    int rc;

    if ((rc = cli_outgoing_build(sub, out, &m)) != EX_OK)
        return rc;
    for (size_t i = 0; i < o->grant_count; i++) {
        uint8_t *token = NULL;
        size_t len = 0;
        liaison_err err;

        if ((rc = cli_grant_load(sub, &o->conn, cli_agent_config_env(), o->grants[i], &token, &len)) != EX_OK)
            goto done;
        err = liaison_message_add_grant(m, token, len);
        free(token);
        if (err != LIAISON_OK) {
            cli_error(sub, "--grant %s cannot be attached", o->grants[i]);
            rc = EX_USAGE;
            goto done;
        }
    }
    if (o->conn.state != NULL && (rc = cli_casebook_open(sub, &o->conn, &cb)) != EX_OK)
        goto done;
    if ((rc = cli_connect(sub, &o->conn, false, &c)) != EX_OK)
        goto done;
    if ((rc = cli_outgoing_send(sub, c, cb, out, m, &o->conn, o->json, id)) != EX_OK)
        goto done;
    liaison_id_to_hex(id, hex);
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "id", hex, "kind", out->kind, "result", "accepted");

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: %s\n", hex, what);
    }
done:
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    return rc;
}

static int
cmd_publish(int argc, char **argv)
{
    wl_opts o;
    json_t *file = NULL, *entries, *body = NULL, *e;
    json_error_t jerr;
    cli_outgoing out;
    char what[128];
    size_t i;
    int rc;

    if ((rc = parse(argc, argv, usage_publish, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.to_count == 0 || o.file == NULL) {
        cli_error(SUB, "publish: --to and --file are required");
        return EX_USAGE;
    }
    file = json_load_file(o.file, JSON_REJECT_DUPLICATES, &jerr);
    if (file == NULL) {
        FILE *f = fopen(o.file, "r");

        if (f == NULL) {
            cli_error(SUB, "publish: cannot open %s: %s", o.file, strerror(errno));
            return EX_NOINPUT;
        }
        fclose(f);
        cli_error(SUB, "publish: %s:%d:%d: %s", o.file, jerr.line, jerr.column, jerr.text);
        return EX_DATAERR;
    }
    entries = json_is_array(file) ? file : json_object_get(file, "entries");
    if (!json_is_array(entries) || json_array_size(entries) == 0) {
        cli_error(SUB, "publish: %s holds no entries (an array, or {\"entries\": [...]})", o.file);
        rc = EX_DATAERR;
        goto done;
    }
    json_array_foreach(entries, i, e) {
        if (!json_is_object(e) || !json_is_string(json_object_get(e, "ref"))) {
            cli_error(SUB, "publish: %s: entry %zu has no \"ref\"", o.file, i);
            rc = EX_DATAERR;
            goto done;
        }
    }
    body = json_pack("{s:s, s:O}", "schema", "watchlist.publish/1", "entries", entries);
    memset(&out, 0, sizeof(out));
    out.kind = "watchlist.publish";
    out.ttl_s = CLI_LONG_TTL_S;
    out.to = o.to;
    out.to_count = o.to_count;
    out.labels = o.labels;
    out.body = body;
    snprintf(what, sizeof(what), "%zu entr%s published", json_array_size(entries),
             json_array_size(entries) == 1 ? "y" : "ies");
    rc = send_one("watchlist publish", &o, &out, what);
done:
    json_decref(body);
    json_decref(file);
    return rc;
}

static int
cmd_withdraw(int argc, char **argv)
{
    wl_opts o;
    json_t *body, *refs = json_array();
    cli_outgoing out;
    char what[128];
    int rc;

    if ((rc = parse(argc, argv, usage_withdraw, &o)) != EX_OK) {
        json_decref(refs);
        return rc < 0 ? EX_OK : rc;
    }
    if (o.to_count == 0 || o.ref_count == 0) {
        cli_error(SUB, "withdraw: --to and at least one --ref are required");
        json_decref(refs);
        return EX_USAGE;
    }
    for (size_t i = 0; i < o.ref_count; i++)
        json_array_append_new(refs, json_string(o.refs[i]));
    body = json_pack("{s:s, s:o}", "schema", "watchlist.withdraw/1", "refs", refs);
    memset(&out, 0, sizeof(out));
    out.kind = "watchlist.withdraw";
    out.ttl_s = CLI_LONG_TTL_S;
    out.to = o.to;
    out.to_count = o.to_count;
    out.labels = o.labels;
    out.body = body;
    snprintf(what, sizeof(what), "%zu reference%s withdrawn", o.ref_count, o.ref_count == 1 ? "" : "s");
    rc = send_one("watchlist withdraw", &o, &out, what);
    json_decref(body);
    return rc;
}

int
cli_watchlist_main(int argc, char **argv)
{
    static const struct {
        const char *name;  /* subcommand */
        cli_main_fn fn;    /* its entry point */
    } cmds[] = {
        {"query", cmd_query},
        {"request", cmd_request},
        {"publish", cmd_publish},
        {"withdraw", cmd_withdraw},
    };

    if (argc < 2) {
        fputs(usage_watchlist, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_watchlist, stdout);
        return EX_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    cli_error(SUB, "unknown command '%s' (see liaison watchlist --help)", argv[1]);
    return EX_USAGE;
}
