/* liaison traveldoc: report stolen, lost or forged travel documents and check numbers with partners. */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define SUB "traveldoc"
#define TO_MAX 64
#define DEFAULT_DEADLINE_S 30
/* Records of one published part at most, and their JSON bytes: a part stays
 * well inside a broker's default largest envelope (16 MiB). */
#define PUBLISH_PART_RECORDS 50000u
#define PUBLISH_PART_BYTES (12u << 20)
/* The publication's id when --publication is not given. */
#define PUBLISH_ID_DEFAULT "traveldoc-reports"

static const char usage_traveldoc[] =
    "NAME\n"
    "    liaison traveldoc - report and check lost, stolen or forged travel documents\n\n"
    "SYNOPSIS\n"
    "    liaison traveldoc report [--to SELECTOR...] --number N --country C --status S\n"
    "                             --ref REF [--type T] [--reported DATE] [options]\n"
    "    liaison traveldoc check [--to SELECTOR...] --number N [--country C] [--type T]\n"
    "                            --purpose TEXT [--deadline SECONDS]\n"
    "                            [--agent-config F [--local-only]] [options]\n"
    "    liaison traveldoc withdraw REF --reason TEXT [options]\n"
    "    liaison traveldoc publish --config AGENT.yaml [--hashed] [--to SELECTOR...]\n"
    "                              [options]\n\n"
    "DESCRIPTION\n"
    "    Messages of the traveldoc.* family (docs/messages.md).  Each command has its\n"
    "    own page: liaison traveldoc <command> --help.\n\n"
    "EXIT STATUS\n"
    "    0 done; 2 rejected by the broker; 64 bad usage (a check without --purpose);\n"
    "    69 broker unreachable; 75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_report[] =
    "NAME\n"
    "    liaison traveldoc report - report a stolen, lost or forged travel document\n\n"
    "SYNOPSIS\n"
    "    liaison traveldoc report [--to SELECTOR...] --number N --country C\n"
    "                             --status stolen|lost|forged|fraudulently-used --ref REF\n"
    "                             [--type passport] [--reported YYYY-MM-DD]\n"
    "                             [--labels LABELS] [--json] [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends a traveldoc.report to every agency the selectors name (default *: every\n"
    "    partner agency that accepts traveldoc.*), which keeps it for its own checks\n"
    "    and answers later checks of the number with a hit that carries REF.\n\n"
    "OPTIONS\n"
    "    --to SELECTOR      recipients (default *)\n"
    "    --number N         the document number as printed\n"
    "    --country C        the issuing nation, ISO 3166 alpha-3\n"
    "    --type T           passport (default), id-card, visa, ...\n"
    "    --status S         stolen, lost, forged or fraudulently-used\n"
    "    --ref REF          your reference for the report\n"
    "    --reported DATE    when it was reported (default today, UTC)\n"
    "    --labels LABELS    message labels (default LES)\n"
    "    --json             print {id, kind, result}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 69 broker unreachable;\n"
    "    75 no answer from the broker in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_check[] =
    "NAME\n"
    "    liaison traveldoc check - ask partners whether a document is reported\n\n"
    "SYNOPSIS\n"
    "    liaison traveldoc check [--to SELECTOR...] --number N [--country C] [--type T]\n"
    "                            --purpose TEXT [--deadline SECONDS] [--labels LABELS]\n"
    "                            [--json] [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends one traveldoc.check (by default to every agency of every partner\n"
    "    nation, NATION/* for each broker of the roster but your own, that accepts\n"
    "    traveldoc.*) and waits until each partner nation has answered or the\n"
    "    deadline passes; prints HIT with the report's reference, status and date, or\n"
    "    no-hit, per answering agency, then the partners that did not answer.  The\n"
    "    --purpose is required: it travels in the labels and every broker audits it.\n\n"
    "OPTIONS\n"
    "    --to SELECTOR      recipients (default: every partner nation's agencies)\n"
    "    --number N         the document number (partners compare it upper-cased,\n"
    "                       letters and digits only)\n"
    "    --country C        the issuing nation\n"
    "    --type T           passport (default)\n"
    "    --purpose TEXT     why you check (required)\n"
    "    --deadline SECS    how long to wait for answers (default 30)\n"
    "    --agent-config F   look first in the store of the agency's agent (or\n"
    "                       $LIAISON_AGENT_CONFIG): prints at once the partners'\n"
    "                       published reports that match (owner, ref, status,\n"
    "                       reported, version, labels) and published hashes that\n"
    "                       match (owner only: ask them), and the partners whose\n"
    "                       complete publication holds no hit; then asks only the\n"
    "                       owners of local hits (the follow-up) and the partner\n"
    "                       agencies that publish nothing complete\n"
    "    --local-only       with --agent-config: print what the store holds, send nothing\n"
    "    --json             print {id, answers: [{from, id, result, hits}], silent,\n"
    "                       not_answered: [{agency, reason, rule, detail}], complete};\n"
    "                       with --agent-config, the object also holds local,\n"
    "                       answered_locally and asked\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 every partner answered; 75 at least one did not answer in time (answers are\n"
    "    printed); 2 rejected by the broker; 64 bad usage, e.g. no --purpose;\n"
    "    69 broker unreachable.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n\n"
    "EXAMPLES\n"
    "    liaison traveldoc check --number AB123456 --country CAN \\\n"
    "        --purpose 'secondary inspection, port of entry Blaine WA'\n";

static const char usage_publish[] =
    "NAME\n"
    "    liaison traveldoc publish - publish the agency's whole list of document reports\n\n"
    "SYNOPSIS\n"
    "    liaison traveldoc publish --config AGENT.yaml [--hashed] [--to SELECTOR...]\n"
    "                              [--publication ID] [--labels LABELS] [--json]\n"
    "                              [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends every document report of the agent's store (liaison agent add-traveldoc)\n"
    "    as the next version of the agency's publication, a traveldoc.publish in parts\n"
    "    of at most 50000 reports (and 12 MiB) or 500000 hashes (docs/messages.md).  A\n"
    "    partner's agent keeps the version once every part has landed, replaces the\n"
    "    one before it, and answers its officers' checks from it without asking.  The\n"
    "    version is counted in the store.  The key, roster and broker default to the\n"
    "    agent configuration's.\n\n"
    "OPTIONS\n"
    "    --config FILE      the agent's configuration (its store holds the reports)\n"
    "    --hashed           publish only keyed hashes of the document numbers (a new\n"
    "                       random key each version): partners learn that a number\n"
    "                       they test is reported here, nothing more (docs/trust.md)\n"
    "    --to SELECTOR      recipients (default *)\n"
    "    --publication ID   the publication's id (default " PUBLISH_ID_DEFAULT ")\n"
    "    --labels LABELS    message labels (default LES)\n"
    "    --json             print {publication, version, form, count, parts: [{id, part}]}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 every part accepted; 2 rejected by the broker; 64 bad usage; 65 no report to\n"
    "    publish; 66 no configuration or store; 69 broker unreachable.\n";

static const char usage_withdraw[] =
    "NAME\n"
    "    liaison traveldoc withdraw - withdraw a document report (the document was found)\n\n"
    "SYNOPSIS\n"
    "    liaison traveldoc withdraw REF --reason TEXT [--json] [connection options]\n\n"
    "DESCRIPTION\n"
    "    Recalls the traveldoc.report this agency sent with reference REF (found in the\n"
    "    casebook at --state) with records [REF] (docs/messages.md, recall.*): every\n"
    "    partner agency that received it deletes it and acknowledges, so that a later\n"
    "    check of that document is a no-hit.  Prints the recall's id; follow it with\n"
    "    liaison recall status ID-OF-THE-REPORT.\n\n"
    "OPTIONS\n"
    "    --reason TEXT      why (required; 1 to 500 characters), e.g. 'passport recovered'\n"
    "    --json             print {id, kind, result, message}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 sent; 2 rejected by the broker; 64 bad usage; 65 no report REF in the\n"
    "    casebook; 69 broker unreachable; 75 no answer from the broker in time.\n";

/* Options of the commands. */
typedef struct td_opts {
    cli_conn conn;                 /* connection */
    const char *to[TO_MAX];        /* --to */
    size_t to_count;               /* entries in to */
    const char *number;            /* --number */
    const char *country;           /* --country */
    const char *type;              /* --type */
    const char *status;            /* --status */
    const char *ref;               /* --ref */
    const char *reported;          /* --reported */
    const char *purpose;           /* --purpose */
    const char *labels;            /* --labels */
    const char *reason;            /* --reason */
    const char *config;            /* --config */
    const char *agent_config;      /* --agent-config */
    const char *publication;       /* --publication */
    long deadline_s;               /* --deadline */
    bool json;                     /* --json */
    bool hashed;                   /* --hashed */
    bool local_only;               /* --local-only */
    bool to_default;               /* no --to given: to holds the default */
} td_opts;

static int
parse(int argc, char **argv, const char *usage, td_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"to", required_argument, NULL, 't'},
        {"number", required_argument, NULL, 'n'},
        {"country", required_argument, NULL, 'c'},
        {"type", required_argument, NULL, 'y'},
        {"status", required_argument, NULL, 's'},
        {"ref", required_argument, NULL, 'r'},
        {"reported", required_argument, NULL, 'D'},
        {"purpose", required_argument, NULL, 'P'},
        {"labels", required_argument, NULL, 'l'},
        {"deadline", required_argument, NULL, 'd'},
        {"reason", required_argument, NULL, 'W'},
        {"json", no_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'C'},
        {"agent-config", required_argument, NULL, 'A'},
        {"publication", required_argument, NULL, 'B'},
        {"hashed", no_argument, NULL, 'H'},
        {"local-only", no_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->labels = "LES";
    o->type = "passport";
    o->deadline_s = DEFAULT_DEADLINE_S;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 't':
            if (o->to_count == TO_MAX) {
                cli_error(SUB, "%s: at most %d of --to", argv[0], TO_MAX);
                return EX_USAGE;
            }
            o->to[o->to_count++] = optarg;
            break;
        case 'n': o->number = optarg; break;
        case 'c': o->country = optarg; break;
        case 'y': o->type = optarg; break;
        case 's': o->status = optarg; break;
        case 'r': o->ref = optarg; break;
        case 'D': o->reported = optarg; break;
        case 'P': o->purpose = optarg; break;
        case 'l': o->labels = optarg; break;
        case 'W': o->reason = optarg; break;
        case 'd':
            o->deadline_s = atol(optarg);
            if (o->deadline_s <= 0) {
                cli_error(SUB, "%s: --deadline takes a number of seconds", argv[0]);
                return EX_USAGE;
            }
            break;
        case 'j': o->json = true; break;
        case 'C': o->config = optarg; break;
        case 'A': o->agent_config = optarg; break;
        case 'B': o->publication = optarg; break;
        case 'H': o->hashed = true; break;
        case 'L': o->local_only = true; break;
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
    if ((o->config != NULL || o->hashed || o->publication != NULL) && usage != usage_publish) {
        cli_error(SUB, "%s: --config, --hashed and --publication are options of publish only",
                  argv[0]);
        return EX_USAGE;
    }
    if ((o->agent_config != NULL || o->local_only) && usage != usage_check) {
        cli_error(SUB, "%s: --agent-config and --local-only are options of check only", argv[0]);
        return EX_USAGE;
    }
    o->to_default = o->to_count == 0;
    if (o->to_count == 0)
        o->to[o->to_count++] = "*";
    return EX_OK;
}

/*
 * The default recipients of a check: every agency of every partner nation
 * (a NATION selector, written NATION then a slash and a star, for each broker
 * card of the roster that is not revoked and not of the asking agency's own
 * nation, me), so that the officer's own agencies, which hold nothing a
 * border check needs from partners, are not asked and waited for.  sel holds
 * the selectors' text.
 */
static int
partner_selectors(const cli_conn *conn, const char *me, char sel[][PROTO_NATION_LEN + 3],
                  const char **to, size_t *to_count)
{
    proto_roster *r = NULL;
    proto_detail d = {{0}, {0}};
    size_t n = 0;

    if (proto_roster_load(conn->roster, &r, &d) != PROTO_OK) {
        cli_error(SUB, "check: %s", d.text);
        return EX_NOINPUT;
    }
    for (size_t i = 0; i < proto_roster_count(r) && n < TO_MAX; i++) {
        const proto_roster_entry *e = proto_roster_at(r, i);
        size_t len = strlen(e->card.addr.nation);

        if (e->card.addr.kind != PROTO_ADDR_BROKER || e->revoked ||
            (strncmp(me, e->card.addr.nation, len) == 0 && me[len] == '/'))
            continue;
        snprintf(sel[n], sizeof(sel[n]), "%s/*", e->card.addr.nation);
        to[n] = sel[n];
        n++;
    }
    proto_roster_destroy(&r);
    if (n == 0) {
        cli_error(SUB, "check: the roster names no partner nation; name recipients with --to");
        return EX_DATAERR;
    }
    *to_count = n;
    return EX_OK;
}

static json_t *
document(const td_opts *o)
{
    json_t *doc = json_pack("{s:s, s:s}", "type", o->type, "number", o->number);

    if (o->country != NULL)
        json_object_set_new(doc, "country", json_string(o->country));
    return doc;
}

static int
cmd_report(int argc, char **argv)
{
    static const char *const statuses[] = {"stolen", "lost", "forged", "fraudulently-used"};
    td_opts o;
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    json_t *body = NULL;
    cli_outgoing out;
    char today[32], hex[33];
    uint8_t id[16];
    uint64_t ms;
    bool known = false;
    int rc;

    if ((rc = parse(argc, argv, usage_report, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.number == NULL || o.country == NULL || o.status == NULL || o.ref == NULL) {
        cli_error(SUB, "report: --number, --country, --status and --ref are required");
        return EX_USAGE;
    }
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        known = known || strcmp(o.status, statuses[i]) == 0;
    if (!known) {
        cli_error(SUB, "report: --status is stolen, lost, forged or fraudulently-used");
        return EX_USAGE;
    }
    if (o.reported != NULL && (strlen(o.reported) != 10 || !proto_time_parse(o.reported, &ms))) {
        cli_error(SUB, "report: --reported takes a date, YYYY-MM-DD");
        return EX_USAGE;
    }
    body = json_pack("{s:s, s:s, s:o, s:s, s:s}", "schema", "traveldoc.report/1", "ref", o.ref,
                     "document", document(&o), "status", o.status, "reported",
                     o.reported != NULL ? o.reported : proto_date_format(liaison_now_ms(), today));
    memset(&out, 0, sizeof(out));
    out.kind = "traveldoc.report";
    out.ttl_s = CLI_LONG_TTL_S;
    out.to = o.to;
    out.to_count = o.to_count;
    out.labels = o.labels;
    out.body = body;
    if ((rc = cli_outgoing_build("traveldoc report", &out, &m)) != EX_OK)
        goto done;
    if (o.conn.state != NULL && (rc = cli_casebook_open("traveldoc report", &o.conn, &cb)) != EX_OK)
        goto done;
    if ((rc = cli_connect("traveldoc report", &o.conn, false, &c)) != EX_OK)
        goto done;
    if ((rc = cli_outgoing_send("traveldoc report", c, cb, &out, m, &o.conn, o.json, id)) != EX_OK)
        goto done;
    liaison_id_to_hex(id, hex);
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "id", hex, "kind", out.kind, "result",
                              "accepted", "ref", o.ref);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: %s %s %s reported %s (ref %s)\n", hex, o.type, o.number, o.country,
               o.status, o.ref);
    }
done:
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    json_decref(body);
    return rc;
}

/* ---- The local-first check ----------------------------------------------------------- */

static const char *
str_of(const json_t *o, const char *member)
{
    const char *s = json_string_value(json_object_get(o, member));

    return s != NULL ? s : "";
}

/* A record hit of the partner documents table, with what the store knows of it. */
static json_t *
record_hit(agent_txn *t, const json_t *hit)
{
    char key[AGENT_STORE_KEY_MAX];
    json_t *rec = NULL, *meta = NULL, *o;
    uint8_t id[16];

    snprintf(key, sizeof(key), "%s %s", str_of(hit, "source"), str_of(hit, "ref"));
    o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", "record", "owner", str_of(hit, "source"),
                  "ref", str_of(hit, "ref"), "status", str_of(hit, "status"), "reported",
                  str_of(hit, "reported"));
    if (o == NULL || agent_json_get(t, AGENT_T_PARTNER_DOCS, key, &rec) != AGENT_STORE_OK)
        return o;
    if (json_is_string(json_object_get(rec, "publication"))) {
        json_object_set(o, "publication", json_object_get(rec, "publication"));
        json_object_set(o, "version", json_object_get(rec, "version"));
    }
    if (json_is_string(json_object_get(rec, "labels"))) {
        json_object_set(o, "labels", json_object_get(rec, "labels"));
    } else if (liaison_id_from_hex(str_of(rec, "message"), id) == LIAISON_OK &&
               agent_message_meta(t, id, &meta) == AGENT_STORE_OK &&
               json_is_string(json_object_get(meta, "labels"))) {
        json_object_set(o, "labels", json_object_get(meta, "labels"));
    }
    json_object_set(o, "received", json_object_get(rec, "received"));
    json_decref(meta);
    json_decref(rec);
    return o;
}

/*
 * Looks the document up in the agent's store: *local_out gets the hits
 * (records, then hashes), *complete_out the complete publications held.
 */
static int
check_local(const char *config, const json_t *doc, const char *number, json_t **local_out,
            json_t **complete_out)
{
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *recs = NULL, *hashes = NULL, *local = json_array(), *v;
    agent_store_err err = AGENT_STORE_OK;
    size_t i;
    int rc;

    if ((rc = cli_agent_config_load(SUB, config, &cfg)) != EX_OK ||
        (rc = cli_agent_store_open(SUB, cfg, false, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_lookup_document(t, doc, AGENT_SCOPE_PARTNERS, true, &recs)) !=
            AGENT_STORE_OK ||
        (err = agent_publication_lookup(t, number, &hashes, complete_out)) != AGENT_STORE_OK)
        goto out;
    json_array_foreach(recs, i, v)
        json_array_append_new(local, record_hit(t, v));
    json_array_foreach(hashes, i, v) {
        json_object_set_new(v, "kind", json_string("hash"));
        json_array_append(local, v);
    }
    *local_out = local;
    local = NULL;
out:
    agent_store_abort(&t);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    json_decref(recs);
    json_decref(hashes);
    json_decref(local);
    if (rc == EX_OK && err != AGENT_STORE_OK) {
        cli_error(SUB, "check: agent store: %s", agent_store_strerror(err));
        rc = EX_IOERR;
    }
    return rc;
}

/* True if owner has a hit in local. */
static bool
local_hit_at(const json_t *local, const char *owner)
{
    size_t i;
    const json_t *v;

    json_array_foreach(local, i, v) {
        if (strcmp(str_of(v, "owner"), owner) == 0)
            return true;
    }
    return false;
}

/* Prints the local hits and the publications that answer without asking. */
static void
print_local(const json_t *local, const json_t *answered)
{
    size_t i;
    const json_t *v;

    json_array_foreach(local, i, v) {
        if (strcmp(str_of(v, "kind"), "record") == 0) {
            printf("LOCAL HIT    %-14s ref %s %s reported %s", str_of(v, "owner"), str_of(v, "ref"),
                   str_of(v, "status"), str_of(v, "reported"));
            if (json_is_integer(json_object_get(v, "version")))
                printf(" (publication %s version %lld", str_of(v, "publication"),
                       (long long)json_integer_value(json_object_get(v, "version")));
            else
                printf(" (report");
            printf(", labels %s)\n", str_of(v, "labels"));
        } else {
            printf("LOCAL HASH   %-14s a report exists at %s; ask them (publication %s version "
                   "%lld of %s)\n", str_of(v, "owner"), str_of(v, "owner"),
                   str_of(v, "publication"),
                   (long long)json_integer_value(json_object_get(v, "version")),
                   str_of(v, "published"));
        }
    }
    json_array_foreach(answered, i, v)
        printf("LOCAL NO-HIT %-14s no hit in %s's publication version %lld of %s\n",
               str_of(v, "owner"), str_of(v, "owner"),
               (long long)json_integer_value(json_object_get(v, "version")),
               str_of(v, "published"));
    fflush(stdout);
}

/*
 * The recipients of the live check after a local look: the owners of local
 * hits (the follow-up), and every agency of a partner nation (not me's, not
 * revoked, accepting traveldoc.check) that has no complete publication here.
 * names holds the addresses' text.
 */
static int
local_recipients(const cli_conn *conn, const char *me, const json_t *local,
                 const json_t *complete, char names[][PROTO_ADDR_TEXT_MAX + 1], const char **to,
                 size_t *to_count)
{
    proto_roster *r = NULL;
    proto_detail d = {{0}, {0}};
    size_t n = 0, i;
    const json_t *v;

    json_array_foreach(local, i, v) {
        bool dup = false;

        for (size_t k = 0; k < n; k++)
            dup = dup || strcmp(names[k], str_of(v, "owner")) == 0;
        if (!dup && n < TO_MAX) {
            snprintf(names[n], PROTO_ADDR_TEXT_MAX + 1, "%s", str_of(v, "owner"));
            to[n] = names[n];
            n++;
        }
    }
    if (proto_roster_load(conn->roster, &r, &d) != PROTO_OK) {
        cli_error(SUB, "check: %s", d.text);
        return EX_NOINPUT;
    }
    for (i = 0; i < proto_roster_count(r) && n < TO_MAX; i++) {
        const proto_roster_entry *e = proto_roster_at(r, i);
        size_t len = strlen(e->card.addr.nation);
        char addr[PROTO_ADDR_TEXT_MAX + 1];
        bool accepts = false, published = false, dup = false;
        size_t k;
        const json_t *c;

        if (e->card.addr.kind != PROTO_ADDR_AGENCY || e->revoked ||
            (strncmp(me, e->card.addr.nation, len) == 0 && me[len] == '/'))
            continue;
        for (k = 0; k < e->accept_count; k++)
            accepts = accepts || proto_kind_matches(e->accepts[k], "traveldoc.check");
        proto_addr_format(&e->card.addr, addr, sizeof(addr));
        json_array_foreach(complete, k, c)
            published = published || strcmp(str_of(c, "owner"), addr) == 0;
        for (k = 0; k < n; k++)
            dup = dup || strcmp(names[k], addr) == 0;
        if (!accepts || published || dup)
            continue;
        snprintf(names[n], PROTO_ADDR_TEXT_MAX + 1, "%s", addr);
        to[n] = names[n];
        n++;
    }
    proto_roster_destroy(&r);
    *to_count = n;
    return EX_OK;
}

static int
cmd_check(int argc, char **argv)
{
    td_opts o;
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    json_t *body = NULL, *local = NULL, *complete = NULL, *answered = NULL, *extra = NULL;
    cli_outgoing out;
    char labels[2048], partners[TO_MAX][PROTO_NATION_LEN + 3];
    char names[TO_MAX][PROTO_ADDR_TEXT_MAX + 1];
    const char *agent_cfg;
    size_t i;
    json_t *v;
    int rc;

    if ((rc = parse(argc, argv, usage_check, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if ((rc = cli_purpose_check("traveldoc check", o.purpose)) != EX_OK)
        return rc;
    if (o.number == NULL) {
        cli_error(SUB, "check: --number is required");
        return EX_USAGE;
    }
    agent_cfg = o.agent_config != NULL ? o.agent_config : cli_agent_config_env();
    if (o.local_only && agent_cfg == NULL) {
        cli_error(SUB, "check: --local-only needs --agent-config (or $LIAISON_AGENT_CONFIG)");
        return EX_USAGE;
    }
    body = json_pack("{s:s, s:o}", "schema", "traveldoc.check/1", "document", document(&o));
    /* First step: what the store holds, printed before anything is sent. */
    if (agent_cfg != NULL) {
        rc = check_local(agent_cfg, json_object_get(body, "document"), o.number, &local,
                         &complete);
        /* Named by the environment only, an agent whose store cannot be read
         * leaves the check as it is without one. */
        if (rc != EX_OK && o.agent_config == NULL && !o.local_only) {
            cli_error(SUB, "check: the agent store of $LIAISON_AGENT_CONFIG cannot be read; "
                      "checking live only");
            local = NULL;
            complete = NULL;
            rc = EX_OK;
        } else if (rc != EX_OK) {
            goto done;
        }
    }
    if (local != NULL) {
        answered = json_array();
        json_array_foreach(complete, i, v) {
            if (!local_hit_at(local, str_of(v, "owner")))
                json_array_append(answered, v);
        }
        if (!o.json)
            print_local(local, answered);
        if (o.local_only) {
            if (o.json) {
                json_t *j = json_pack("{s:O, s:O, s:[]}", "local", local, "answered_locally",
                                      answered, "asked");

                cli_print_json(j, false);
                json_decref(j);
            }
            goto done;
        }
    }
    if (o.conn.state != NULL && (rc = cli_casebook_open("traveldoc check", &o.conn, &cb)) != EX_OK)
        goto done;
    if ((rc = cli_connect("traveldoc check", &o.conn, true, &c)) != EX_OK)
        goto done;
    if (o.to_default && local != NULL) {
        if ((rc = local_recipients(&o.conn, liaison_client_address(c), local, complete, names,
                                   o.to, &o.to_count)) != EX_OK)
            goto done;
    } else if (o.to_default &&
               (rc = partner_selectors(&o.conn, liaison_client_address(c), partners, o.to,
                                       &o.to_count)) != EX_OK) {
        goto done;
    }
    if (local != NULL) {
        json_t *asked = json_array();

        for (i = 0; i < o.to_count; i++)
            json_array_append_new(asked, json_string(o.to[i]));
        if (o.json) {
            /* One JSON object: the query's, with these members, or these alone. */
            extra = json_pack("{s:O, s:O, s:o}", "local", local, "answered_locally", answered,
                              "asked", asked);
            if (o.to_count == 0)
                cli_print_json(extra, false);
        } else {
            printf("asking %zu agenc%s:", o.to_count, o.to_count == 1 ? "y" : "ies");
            for (i = 0; i < o.to_count; i++)
                printf(" %s", o.to[i]);
            printf("\n");
            fflush(stdout);
            json_decref(asked);
        }
        if (o.to_count == 0)
            goto done;
    }
    memset(&out, 0, sizeof(out));
    out.kind = "traveldoc.check";
    out.to = o.to;
    out.to_count = o.to_count;
    out.labels = cli_labels_with_purpose(o.labels, o.purpose, labels, sizeof(labels));
    out.portion_labels = o.labels;
    out.body = body;
    out.json_extra = extra;
    if ((rc = cli_outgoing_build("traveldoc check", &out, &m)) != EX_OK)
        goto done;
    rc = cli_query_run("traveldoc check", c, cb, &o.conn, &out, m,
                       liaison_now_ms() + (uint64_t)o.deadline_s * 1000u, "traveldoc.answer/1",
                       o.json, NULL, NULL);
done:
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    json_decref(body);
    json_decref(local);
    json_decref(complete);
    json_decref(answered);
    json_decref(extra);
    return rc;
}

static int
cmd_withdraw(int argc, char **argv)
{
    td_opts o;
    casebook *cb = NULL;
    uint8_t id[16];
    bool found;
    char *args[64], hex[33];
    const char *records[1];
    const char *ref = NULL;
    int n = 0, rc;

    /* REF is the first argument that is not an option. */
    for (int i = 0; i < argc && n < 63; i++) {
        if (i > 0 && ref == NULL && argv[i][0] != '-' && argv[i - 1][0] != '-') {
            ref = argv[i];
            continue;
        }
        /* After a flag, or an option written --name=value, it is REF too. */
        if (i > 0 && ref == NULL && argv[i][0] != '-' &&
            (strchr(argv[i - 1], '=') != NULL || strcmp(argv[i - 1], "--json") == 0)) {
            ref = argv[i];
            continue;
        }
        args[n++] = argv[i];
    }
    args[n] = NULL;
    if ((rc = parse(n, args, usage_withdraw, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (ref == NULL && (ref = o.ref) == NULL) {
        cli_error(SUB, "withdraw: name the report: REF (its --ref when it was reported)");
        return EX_USAGE;
    }
    if ((rc = cli_casebook_open("traveldoc withdraw", &o.conn, &cb)) != EX_OK)
        return rc;
    if (cli_newest_sent(cb, "traveldoc.report", "ref", ref, id, &found) != 0) {
        cli_error(SUB, "withdraw: the casebook cannot be read");
        casebook_close(&cb);
        return EX_IOERR;
    }
    casebook_close(&cb);
    if (!found) {
        cli_error(SUB, "withdraw: no traveldoc.report with ref %s in the casebook at %s", ref,
                  o.conn.state);
        return EX_DATAERR;
    }
    records[0] = ref;
    return cli_recall_send("traveldoc withdraw", &o.conn, proto_id_format(id, hex), o.reason,
                           records, 1, NULL, o.json);
}

/* ---- publish ----------------------------------------------------------------------- */

static int
collect_doc(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    json_t *rec = agent_json_load(val, val_len);

    (void)key;
    (void)key_len;
    if (json_is_object(rec))
        json_array_append(ctx, rec);
    json_decref(rec);
    return 0;
}

/* The agency's own reports and the next version of its publication. */
static int
publish_load(const agent_config *cfg, json_t *docs, uint32_t *version_out)
{
    agent_store *st = NULL;
    agent_txn *t = NULL;
    agent_store_err err;
    int rc;

    if ((rc = cli_agent_store_open(SUB, cfg, false, &st)) != EX_OK)
        return rc;
    if ((err = agent_store_begin(st, true, &t)) != AGENT_STORE_OK ||
        (err = agent_store_each(t, AGENT_T_DOCS, NULL, collect_doc, docs)) != AGENT_STORE_OK)
        goto out;
    if (json_array_size(docs) == 0) {
        cli_error(SUB, "publish: the agent's store holds no document report (liaison agent "
                  "add-traveldoc adds them)");
        rc = EX_DATAERR;
        goto out;
    }
    if ((err = agent_publication_next_version(t, version_out)) != AGENT_STORE_OK)
        goto out;
    err = agent_store_commit(&t);
out:
    agent_store_abort(&t);
    agent_store_close(&st);
    if (rc == EX_OK && err != AGENT_STORE_OK) {
        cli_error(SUB, "publish: agent store: %s", agent_store_strerror(err));
        rc = EX_IOERR;
    }
    return rc;
}

/*
 * The parts of a version: bodies without "part", "parts" and "count", which
 * are set once all are made.  Records are cut at PUBLISH_PART_RECORDS or
 * PUBLISH_PART_BYTES, hashes at AGENT_PUBLISH_HASHES_MAX.
 */
static int
publish_parts(const td_opts *o, json_t *docs, uint32_t version, json_t *parts,
              size_t *count_out)
{
    size_t i, count = 0;
    json_t *d;

    if (o->hashed) {
        uint8_t key[AGENT_PUBLISH_KEY_BYTES];
        size_t n = json_array_size(docs), made = 0, first;
        uint8_t *values = malloc(n * AGENT_PUBLISH_HASH_BYTES + 1);
        char kb[sodium_base64_ENCODED_LEN(AGENT_PUBLISH_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL)];

        if (values == NULL)
            return EX_OSERR;
        /* A fresh key each version: hashes of two versions cannot be compared. */
        randombytes_buf(key, sizeof(key));
        json_array_foreach(docs, i, d) {
            const char *number =
                json_string_value(json_object_get(json_object_get(d, "document"), "number"));

            if (number != NULL &&
                agent_publication_hash(key, number, values + made * AGENT_PUBLISH_HASH_BYTES))
                made++;
        }
        sodium_bin2base64(kb, sizeof(kb), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
        sodium_memzero(key, sizeof(key));
        for (first = 0; first < made; first += AGENT_PUBLISH_HASHES_MAX) {
            size_t k = made - first < AGENT_PUBLISH_HASHES_MAX ? made - first
                                                               : AGENT_PUBLISH_HASHES_MAX;
            size_t blen = sodium_base64_encoded_len(k * AGENT_PUBLISH_HASH_BYTES,
                                                    sodium_base64_VARIANT_ORIGINAL);
            char *vb = malloc(blen);

            if (vb == NULL) {
                free(values);
                return EX_OSERR;
            }
            sodium_bin2base64(vb, blen, values + first * AGENT_PUBLISH_HASH_BYTES,
                              k * AGENT_PUBLISH_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
            json_array_append_new(parts, json_pack("{s:s, s:s, s:I, s:s, s:{s:s, s:s, s:s}}",
                                                   "schema", "traveldoc.publish/1", "publication",
                                                   o->publication, "version", (json_int_t)version,
                                                   "form", "hashes", "hashes", "algorithm",
                                                   AGENT_PUBLISH_ALGORITHM, "key", kb, "values",
                                                   vb));
            free(vb);
        }
        free(values);
        count = made;
    } else {
        json_t *recs = NULL;
        size_t bytes = 0;

        json_array_foreach(docs, i, d) {
            char *text = json_dumps(d, JSON_COMPACT);
            size_t len = text != NULL ? strlen(text) : 0;

            free(text);
            if (recs != NULL && (json_array_size(recs) == PUBLISH_PART_RECORDS ||
                                 bytes + len > PUBLISH_PART_BYTES)) {
                json_array_append_new(parts, json_pack("{s:s, s:s, s:I, s:s, s:o}", "schema",
                                                       "traveldoc.publish/1", "publication",
                                                       o->publication, "version",
                                                       (json_int_t)version, "form", "records",
                                                       "records", recs));
                recs = NULL;
            }
            if (recs == NULL) {
                recs = json_array();
                bytes = 0;
            }
            json_array_append(recs, d);
            bytes += len + 1;
            count++;
        }
        if (recs != NULL)
            json_array_append_new(parts, json_pack("{s:s, s:s, s:I, s:s, s:o}", "schema",
                                                   "traveldoc.publish/1", "publication",
                                                   o->publication, "version", (json_int_t)version,
                                                   "form", "records", "records", recs));
    }
    if (count == 0) {
        cli_error(SUB, "publish: no report has a document number to publish");
        return EX_DATAERR;
    }
    json_array_foreach(parts, i, d) {
        json_object_set_new(d, "part", json_integer((json_int_t)i + 1));
        json_object_set_new(d, "parts", json_integer((json_int_t)json_array_size(parts)));
        json_object_set_new(d, "count", json_integer((json_int_t)count));
    }
    *count_out = count;
    return EX_OK;
}

static int
cmd_publish(int argc, char **argv)
{
    td_opts o;
    agent_config *cfg = NULL;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    json_t *docs = json_array(), *parts = json_array(), *sent = json_array(), *body;
    uint32_t version = 0;
    size_t count = 0, i;
    int rc;

    if ((rc = parse(argc, argv, usage_publish, &o)) != EX_OK) {
        rc = rc < 0 ? EX_OK : rc;
        goto done;
    }
    if (o.publication == NULL)
        o.publication = PUBLISH_ID_DEFAULT;
    if (o.config == NULL) {
        cli_error(SUB, "publish: --config AGENT.yaml is required (its store holds the reports)");
        rc = EX_USAGE;
        goto done;
    }
    if (strlen(o.publication) > AGENT_PUBLISH_ID_MAX || strpbrk(o.publication, " \t") != NULL) {
        cli_error(SUB, "publish: --publication takes 1 to %u characters without spaces",
                  AGENT_PUBLISH_ID_MAX);
        rc = EX_USAGE;
        goto done;
    }
    if ((rc = cli_agent_config_load(SUB, o.config, &cfg)) != EX_OK)
        goto done;
    if (o.conn.key == NULL)
        o.conn.key = cfg->key;
    if (o.conn.roster == NULL)
        o.conn.roster = cfg->roster;
    if (o.conn.broker == NULL)
        o.conn.broker = cfg->broker;
    if ((rc = publish_load(cfg, docs, &version)) != EX_OK ||
        (rc = publish_parts(&o, docs, version, parts, &count)) != EX_OK)
        goto done;
    if (o.conn.state != NULL && (rc = cli_casebook_open("traveldoc publish", &o.conn, &cb)) != EX_OK)
        goto done;
    if ((rc = cli_connect("traveldoc publish", &o.conn, false, &c)) != EX_OK)
        goto done;
    json_array_foreach(parts, i, body) {
        liaison_message *m = NULL;
        cli_outgoing out;
        uint8_t id[16];
        char hex[33];

        memset(&out, 0, sizeof(out));
        out.kind = "traveldoc.publish";
        out.ttl_s = CLI_LONG_TTL_S;
        out.to = o.to;
        out.to_count = o.to_count;
        out.labels = o.labels;
        out.body = body;
        if ((rc = cli_outgoing_build("traveldoc publish", &out, &m)) == EX_OK)
            rc = cli_outgoing_send("traveldoc publish", c, cb, &out, m, &o.conn, o.json, id);
        liaison_message_destroy(&m);
        if (rc != EX_OK)
            goto done;
        liaison_id_to_hex(id, hex);
        json_array_append_new(sent, json_pack("{s:s, s:I}", "id", hex, "part", (json_int_t)i + 1));
        if (!o.json)
            printf("%s accepted: traveldoc.publish %s version %u part %zu/%zu\n", hex,
                   o.publication, version, i + 1, json_array_size(parts));
    }
    if (o.json) {
        json_t *j = json_pack("{s:s, s:I, s:s, s:I, s:O}", "publication", o.publication,
                              "version", (json_int_t)version, "form",
                              o.hashed ? "hashes" : "records", "count", (json_int_t)count,
                              "parts", sent);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("published %s version %u: %zu %s in %zu part%s\n", o.publication, version, count,
               o.hashed ? "hashes" : "reports", json_array_size(parts),
               json_array_size(parts) == 1 ? "" : "s");
    }
done:
    liaison_client_close(&c);
    casebook_close(&cb);
    agent_config_destroy(&cfg);
    json_decref(docs);
    json_decref(parts);
    json_decref(sent);
    return rc;
}

int
cli_traveldoc_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_traveldoc, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_traveldoc, stdout);
        return EX_OK;
    }
    if (strcmp(argv[1], "report") == 0)
        return cmd_report(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "withdraw") == 0)
        return cmd_withdraw(argc - 1, argv + 1);
    if (strcmp(argv[1], "publish") == 0)
        return cmd_publish(argc - 1, argv + 1);
    cli_error(SUB, "unknown command '%s' (see liaison traveldoc --help)", argv[1]);
    return EX_USAGE;
}
