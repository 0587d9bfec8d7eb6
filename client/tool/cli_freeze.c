/* liaison freeze: asset-freeze designations (add, amend, delist) and who received and implemented them. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casebook.h"
#include "cli.h"
#include "cli_freeze_screen.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define SUB "freeze"
#define LIST_MAX 64
#define UNITS_MAX 256
#define VERSIONS_MAX 1024
#define DEFAULT_WAIT_S 2

static const char usage_freeze[] =
    "NAME\n"
    "    liaison freeze - broadcast asset-freeze designations and follow them up\n\n"
    "SYNOPSIS\n"
    "    liaison freeze designate --designation ID --name NAME [--alias A]...\n"
    "                             [--id TYPE=VALUE]... [--legal-basis TEXT] [options]\n"
    "    liaison freeze amend ID [--name NAME] [--alias A]... [--id TYPE=VALUE]... [options]\n"
    "    liaison freeze delist ID [--note TEXT] [options]\n"
    "    liaison freeze status ID [--wait SECONDS] [--json] [options]\n"
    "    liaison freeze screen --config AGENT.yaml FILE.csv [--format text|csv|json] [options]\n"
    "    liaison freeze export --config AGENT.yaml [--format csv|json] [--output FILE]\n"
    "    liaison freeze query --name NAME [--to SELECTOR]... --purpose P [options]\n\n"
    "DESCRIPTION\n"
    "    Messages of the freeze.* family (docs/messages.md).  Every version of a\n"
    "    designation and every freeze.ack received is kept in the casebook under\n"
    "    --state, which these commands require.  Each command has its own page:\n"
    "    liaison freeze <command> --help.\n\n"
    "EXIT STATUS\n"
    "    0 done; 2 rejected by the broker; 64 bad usage; 65 the designation exists\n"
    "    already, or was delisted; 66 no such designation in the casebook;\n"
    "    69 broker unreachable; 75 no answer from the broker in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_designate[] =
    "NAME\n"
    "    liaison freeze designate - designate an entity for an asset freeze (version 1)\n\n"
    "SYNOPSIS\n"
    "    liaison freeze designate --designation ID --name NAME [--alias ALIAS]...\n"
    "                             [--id TYPE=VALUE]... [--legal-basis TEXT]\n"
    "                             [--effective YYYY-MM-DD] [--note TEXT] [--to SELECTOR...]\n"
    "                             [--labels LABELS] [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends version 1 (action add) of designation ID to every partner unit that\n"
    "    accepts freeze.* (--to *, the default), with ID as the envelope's case id,\n"
    "    and records it in the casebook.  Each unit's agent acknowledges it\n"
    "    (received), and later its operator (implemented): see freeze status.\n\n"
    "OPTIONS\n"
    "    --designation ID   your designation id, e.g. TREAS-2026-0007 (at most 64)\n"
    "    --name NAME        the entity's name\n"
    "    --alias ALIAS      another name; repeat for several\n"
    "    --id TYPE=VALUE    an identifier, e.g. registration=DE-12345; repeatable\n"
    "    --legal-basis TEXT the legal basis, e.g. 'EO 13224'\n"
    "    --effective DATE   when the freeze takes effect (default today, UTC)\n"
    "    --note TEXT        a note for the receiving units\n"
    "    --to SELECTOR      recipients (default *)\n"
    "    --labels LABELS    message labels (default LES)\n"
    "    --json             print {id, designation, version, action, result}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage or no --state;\n"
    "    65 designation ID was sent before (use amend); 69 broker unreachable;\n"
    "    75 no answer from the broker in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n\n"
    "EXAMPLES\n"
    "    liaison freeze designate --designation TREAS-2026-0007 \\\n"
    "        --name 'Northwind Trading LLC' --alias 'Northwind Trade' \\\n"
    "        --id registration=DE-12345 --legal-basis 'EO 13224'\n";

static const char usage_amend[] =
    "NAME\n"
    "    liaison freeze amend - send a new version of a designation\n\n"
    "SYNOPSIS\n"
    "    liaison freeze amend ID [--name NAME] [--alias ALIAS]... [--id TYPE=VALUE]...\n"
    "                         [--legal-basis TEXT] [--effective DATE] [--note TEXT]\n"
    "                         [--to SELECTOR...] [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends version n+1 (action amend) of designation ID, where n is the last\n"
    "    version the casebook holds, to the recipients of the last version (or\n"
    "    --to).  The entity data replace the previous version's: what is not given\n"
    "    is copied from it (--alias and --id, when given, replace the whole list).\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 65 the designation was\n"
    "    delisted; 66 ID is not in the casebook; 69 broker unreachable; 75 no answer\n"
    "    from the broker in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_delist[] =
    "NAME\n"
    "    liaison freeze delist - lift a designation\n\n"
    "SYNOPSIS\n"
    "    liaison freeze delist ID [--note TEXT] [--effective DATE] [--to SELECTOR...]\n"
    "                          [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends version n+1 (action delist) of designation ID with the last version's\n"
    "    entity data.  No version can follow a delisting.\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 65 already delisted;\n"
    "    66 ID is not in the casebook; 69 broker unreachable; 75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_status[] =
    "NAME\n"
    "    liaison freeze status - partner-by-status table of a designation\n\n"
    "SYNOPSIS\n"
    "    liaison freeze status ID [--wait SECONDS] [--json] --state DIR\n"
    "                          [connection options]\n\n"
    "DESCRIPTION\n"
    "    First receives what the broker holds for this agency into the casebook\n"
    "    (acknowledging each message only once it is stored), then prints, for each\n"
    "    unit the designation resolved to (the roster's agencies that accept\n"
    "    freeze.*, or those the recipients named; never this agency), one row per\n"
    "    version: action, when the unit acknowledged it as received and as\n"
    "    implemented, and the broker's last delivery report when there is one.\n"
    "    Units that have not acknowledged a version are marked NOT ACKNOWLEDGED.\n\n"
    "OPTIONS\n"
    "    --wait SECS   stop receiving after this long without a message (default 2)\n"
    "    --json        print {designation, entity, versions, units: [{unit,\n"
    "                  versions: [{version, action, received, implemented,\n"
    "                  delivery}]}], latest}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 printed; 64 bad usage or no --state; 66 ID is not in the casebook;\n"
    "    65 bad key or roster.\n\n"
    "EXAMPLES\n"
    "    $ liaison freeze status TREAS-2026-0007\n"
    "    designation TREAS-2026-0007: Northwind Trading LLC (latest version 1, add)\n"
    "    UNIT          VER ACTION  RECEIVED              IMPLEMENTED           DELIVERY\n"
    "    CAN/FINTRAC   1   add     2026-11-25T19:20:03Z  2026-11-25T19:31:10Z  -\n"
    "    MEX/UIF       1   add     2026-11-25T19:20:04Z  -                     -\n"
    "    version 1: received by 2 of 2 units, implemented by 1 of 2\n";

/* Options of the freeze commands. */
typedef struct fz_opts {
    cli_conn conn;                    /* connection */
    const char *designation;          /* --designation or the positional ID */
    const char *name;                 /* --name */
    const char *aliases[LIST_MAX];    /* --alias */
    size_t alias_count;               /* entries in aliases */
    const char *ids[LIST_MAX];        /* --id TYPE=VALUE */
    size_t id_count;                  /* entries in ids */
    const char *to[LIST_MAX];         /* --to */
    size_t to_count;                  /* entries in to */
    const char *legal_basis;          /* --legal-basis */
    const char *effective;            /* --effective */
    const char *note;                 /* --note */
    const char *labels;               /* --labels */
    long wait_s;                      /* --wait */
    bool json;                        /* --json */
} fz_opts;

static int
parse(int argc, char **argv, const char *usage, bool positional, fz_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"designation", required_argument, NULL, 'D'},
        {"name", required_argument, NULL, 'n'},
        {"alias", required_argument, NULL, 'a'},
        {"id", required_argument, NULL, 'i'},
        {"to", required_argument, NULL, 't'},
        {"legal-basis", required_argument, NULL, 'b'},
        {"effective", required_argument, NULL, 'e'},
        {"note", required_argument, NULL, 'N'},
        {"labels", required_argument, NULL, 'l'},
        {"wait", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    uint64_t ms;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->labels = "LES";
    o->wait_s = DEFAULT_WAIT_S;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        const char **list = NULL;
        size_t *n = NULL;

        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 'D': o->designation = optarg; break;
        case 'n': o->name = optarg; break;
        case 'a': list = o->aliases; n = &o->alias_count; break;
        case 'i':
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                cli_error(SUB, "%s: --id takes TYPE=VALUE, e.g. registration=DE-12345", argv[0]);
                return EX_USAGE;
            }
            list = o->ids;
            n = &o->id_count;
            break;
        case 't': list = o->to; n = &o->to_count; break;
        case 'b': o->legal_basis = optarg; break;
        case 'e':
            if (strlen(optarg) != 10 || !proto_time_parse(optarg, &ms)) {
                cli_error(SUB, "%s: --effective takes a date, YYYY-MM-DD", argv[0]);
                return EX_USAGE;
            }
            o->effective = optarg;
            break;
        case 'N': o->note = optarg; break;
        case 'l': o->labels = optarg; break;
        case 'w':
            o->wait_s = atol(optarg);
            if (o->wait_s <= 0) {
                cli_error(SUB, "%s: --wait takes a number of seconds", argv[0]);
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
        if (list != NULL) {
            if (*n == LIST_MAX) {
                cli_error(SUB, "%s: too many of %s", argv[0], argv[optind - 2]);
                return EX_USAGE;
            }
            list[(*n)++] = optarg;
        }
    }
    if (positional && optind + 1 == argc && o->designation == NULL)
        o->designation = argv[optind++];
    if (optind != argc) {
        cli_error(SUB, "%s: unexpected argument '%s' (see --help)", argv[0], argv[optind]);
        return EX_USAGE;
    }
    if (o->designation == NULL) {
        cli_error(SUB, "%s: the designation ID is required (see --help)", argv[0]);
        return EX_USAGE;
    }
    if (strlen(o->designation) > 64) {
        cli_error(SUB, "%s: a designation id is at most 64 characters", argv[0]);
        return EX_USAGE;
    }
    return EX_OK;
}

/* ---- What the casebook knows of a designation ------------------------------------- */

/* One version sent. */
typedef struct fz_version {
    int version;                 /* 1, 2, ... */
    char action[16];             /* add, amend, delist */
    uint8_t id[16];              /* its message id */
    uint64_t sent_ms;            /* when it was sent */
    json_t *body;                /* its designation JSON (owned) */
    char *recipients;            /* as sent, space separated (borrowed from the list) */
} fz_version;

/* A designation as the casebook holds it. */
typedef struct fz_case {
    casebook_list *list;               /* every message filed under it */
    fz_version versions[VERSIONS_MAX]; /* sent, by version */
    size_t version_count;              /* entries in versions */
} fz_case;

static void
case_free(fz_case *fc)
{
    for (size_t i = 0; i < fc->version_count; i++)
        json_decref(fc->versions[i].body);
    casebook_list_free(&fc->list);
    memset(fc, 0, sizeof(*fc));
}

static int
by_version(const void *a, const void *b)
{
    return ((const fz_version *)a)->version - ((const fz_version *)b)->version;
}

/* Loads designation id from the casebook: its versions sent, in order. */
static int
case_load(const char *sub, casebook *cb, const char *id, fz_case *fc)
{
    char why[128];
    casebook_err err;

    memset(fc, 0, sizeof(*fc));
    if ((err = casebook_list_case(cb, "freeze", id, false, &fc->list)) != CASEBOOK_OK) {
        cli_error(sub, "casebook: %s", casebook_strerror(err));
        return EX_IOERR;
    }
    for (size_t i = 0; i < fc->list->count; i++) {
        casebook_entry *e = fc->list->entries[i];
        json_t *body;
        fz_version *v;

        if (!e->sent || strcmp(e->kind, "freeze.designation") != 0 ||
            fc->version_count == VERSIONS_MAX)
            continue;
        body = cli_body_parse(e->body, "freeze.designation/1", why);
        if (body == NULL)
            continue;
        v = &fc->versions[fc->version_count++];
        v->version = (int)json_integer_value(json_object_get(body, "version"));
        snprintf(v->action, sizeof(v->action), "%s",
                 json_string_value(json_object_get(body, "action")) != NULL
                     ? json_string_value(json_object_get(body, "action"))
                     : "?");
        memcpy(v->id, e->id, 16);
        v->sent_ms = e->time_ms;
        v->body = body;
        v->recipients = e->recipients;
    }
    qsort(fc->versions, fc->version_count, sizeof(fc->versions[0]), by_version);
    return EX_OK;
}

/* ---- designate, amend, delist --------------------------------------------------- */

static json_t *
str_array(const char *const *items, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static json_t *
identifiers(const char *const *items, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(items[i], '=');

        json_array_append_new(a, json_pack("{s:s%, s:s}", "type", items[i], (size_t)(eq - items[i]),
                                           "value", eq + 1));
    }
    return a;
}

/* Splits a recipients text ("* CAN/FINTRAC") into to (pointers into buf). */
static size_t
split_recipients(const char *text, char *buf, size_t len, const char **to, size_t cap)
{
    size_t n = 0;
    char *save = NULL;

    snprintf(buf, len, "%s", text != NULL ? text : "*");
    for (char *t = strtok_r(buf, " ", &save); t != NULL && n < cap; t = strtok_r(NULL, " ", &save))
        to[n++] = t;
    return n;
}

static int
send_version(const char *sub, fz_opts *o, const char *action)
{
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    fz_case fc;
    json_t *body = NULL, *entity = NULL;
    const fz_version *last = NULL;
    const char *to[LIST_MAX];
    char today[32], hex[33], rbuf[2048];
    cli_outgoing out;
    uint8_t id[16];
    size_t to_count;
    int rc, version;

    memset(&fc, 0, sizeof(fc));
    if ((rc = cli_casebook_open(sub, &o->conn, &cb)) != EX_OK)
        return rc;
    if ((rc = case_load(sub, cb, o->designation, &fc)) != EX_OK)
        goto done;
    if (fc.version_count > 0)
        last = &fc.versions[fc.version_count - 1];
    if (strcmp(action, "add") == 0 && last != NULL) {
        cli_error(sub, "designation %s was sent before (version %d, %s); use freeze amend",
                  o->designation, last->version, last->action);
        rc = EX_DATAERR;
        goto done;
    }
    if (strcmp(action, "add") != 0 && last == NULL) {
        cli_error(sub, "designation %s is not in the casebook at %s (designate it first, from "
                       "this --state)", o->designation, o->conn.state);
        rc = EX_NOINPUT;
        goto done;
    }
    if (last != NULL && strcmp(last->action, "delist") == 0) {
        cli_error(sub, "designation %s was delisted in version %d; no version can follow",
                  o->designation, last->version);
        rc = EX_DATAERR;
        goto done;
    }
    version = last != NULL ? last->version + 1 : 1;
    /* The entity: the previous version's, with what is given replacing it. */
    entity = last != NULL ? json_deep_copy(json_object_get(last->body, "entity")) : NULL;
    if (!json_is_object(entity)) {
        json_decref(entity);
        entity = json_object();
    }
    if (o->name != NULL)
        json_object_set_new(entity, "name", json_string(o->name));
    if (o->alias_count > 0 || json_object_get(entity, "aliases") == NULL)
        json_object_set_new(entity, "aliases", str_array(o->aliases, o->alias_count));
    if (o->id_count > 0 || json_object_get(entity, "identifiers") == NULL)
        json_object_set_new(entity, "identifiers", identifiers(o->ids, o->id_count));
    if (!json_is_string(json_object_get(entity, "name"))) {
        cli_error(sub, "--name is required");
        rc = EX_USAGE;
        goto done;
    }
    body = json_pack("{s:s, s:s, s:i, s:s, s:s, s:O}", "schema", "freeze.designation/1",
                     "designation", o->designation, "version", version, "action", action,
                     "effective",
                     o->effective != NULL ? o->effective : proto_date_format(liaison_now_ms(), today),
                     "entity", entity);
    if (o->legal_basis != NULL)
        json_object_set_new(body, "legal_basis", json_string(o->legal_basis));
    else if (last != NULL && json_is_string(json_object_get(last->body, "legal_basis")))
        json_object_set(body, "legal_basis", json_object_get(last->body, "legal_basis"));
    if (o->note != NULL)
        json_object_set_new(body, "note", json_string(o->note));
    if (o->to_count > 0) {
        memcpy(to, o->to, o->to_count * sizeof(to[0]));
        to_count = o->to_count;
    } else {
        to_count = split_recipients(last != NULL ? last->recipients : "*", rbuf, sizeof(rbuf), to,
                                    LIST_MAX);
    }
    memset(&out, 0, sizeof(out));
    out.kind = "freeze.designation";
    out.to = to;
    out.to_count = to_count;
    out.labels = o->labels;
    out.case_id = o->designation;
    out.ttl_s = CLI_LONG_TTL_S;
    out.body = body;
    if ((rc = cli_outgoing_build(sub, &out, &m)) != EX_OK)
        goto done;
    if ((rc = cli_connect(sub, &o->conn, false, &c)) != EX_OK)
        goto done;
    if ((rc = cli_outgoing_send(sub, c, cb, &out, m, &o->conn, o->json, id)) != EX_OK)
        goto done;
    liaison_id_to_hex(id, hex);
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:s}", "id", hex, "designation",
                              o->designation, "version", version, "action", action, "result",
                              "accepted");

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: designation %s version %d (%s)\n", hex, o->designation, version,
               action);
    }
done:
    json_decref(body);
    json_decref(entity);
    case_free(&fc);
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    return rc;
}

static int
cmd_designate(int argc, char **argv)
{
    fz_opts o;
    int rc = parse(argc, argv, usage_designate, false, &o);

    if (rc != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.name == NULL) {
        cli_error(SUB, "designate: --name is required");
        return EX_USAGE;
    }
    return send_version("freeze designate", &o, "add");
}

static int
cmd_amend(int argc, char **argv)
{
    fz_opts o;
    int rc = parse(argc, argv, usage_amend, true, &o);

    if (rc != EX_OK)
        return rc < 0 ? EX_OK : rc;
    return send_version("freeze amend", &o, "amend");
}

static int
cmd_delist(int argc, char **argv)
{
    fz_opts o;
    int rc = parse(argc, argv, usage_delist, true, &o);

    if (rc != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.name != NULL || o.alias_count > 0 || o.id_count > 0) {
        cli_error(SUB, "delist: the entity cannot change in a delisting (use amend first)");
        return EX_USAGE;
    }
    return send_version("freeze delist", &o, "delist");
}

/* ---- status --------------------------------------------------------------------------- */

/* What one unit said about one version. */
typedef struct fz_cell {
    uint64_t received_ms;        /* its received ack, 0 if none */
    uint64_t implemented_ms;     /* its implemented ack, 0 if none */
    char note[128];              /* the last ack's note */
    char delivery[96];           /* the broker's last report: "receipted", "denied (rule)" */
} fz_cell;

/* One row group of the table: a unit and its cells, one per version. */
typedef struct fz_unit {
    char addr[40];               /* "CAN/FINTRAC" */
    fz_cell *cells;              /* one per version, by index in fz_case.versions (owned) */
} fz_unit;

/* Adds addr to units (if new) with cells for versions; returns its index,
 * or -1 when the table is full or memory is short. */
static int
unit_index(fz_unit *units, size_t *count, const char *addr, size_t versions)
{
    for (size_t i = 0; i < *count; i++) {
        if (strcmp(units[i].addr, addr) == 0)
            return (int)i;
    }
    if (*count == UNITS_MAX)
        return -1;
    memset(&units[*count], 0, sizeof(units[0]));
    units[*count].cells = calloc(versions, sizeof(fz_cell));
    if (units[*count].cells == NULL)
        return -1;
    snprintf(units[*count].addr, sizeof(units[0].addr), "%s", addr);
    return (int)(*count)++;
}

/* Adds the roster's agencies that the recipients text names (never self). */
static void
resolve_units(const proto_roster *roster, const char *self, const char *recipients,
              fz_unit *units, size_t *count, size_t versions)
{
    const char *to[LIST_MAX];
    char buf[2048];
    size_t n = split_recipients(recipients, buf, sizeof(buf), to, LIST_MAX);
    proto_addr sel[LIST_MAX];
    size_t sel_count = 0;

    for (size_t i = 0; i < n; i++) {
        if (proto_addr_parse(to[i], &sel[sel_count], NULL) == PROTO_OK)
            sel_count++;
    }
    for (size_t k = 0; k < proto_roster_count(roster); k++) {
        const proto_roster_entry *e = proto_roster_at(roster, k);
        char addr[PROTO_ADDR_TEXT_MAX + 1];
        bool match = false;

        if (e->revoked || e->card.addr.kind != PROTO_ADDR_AGENCY)
            continue;
        proto_addr_format(&e->card.addr, addr, sizeof(addr));
        if (strcmp(addr, self) == 0)
            continue;
        for (size_t i = 0; i < sel_count && !match; i++)
            match = sel[i].kind == PROTO_ADDR_AGENCY
                        ? proto_addr_equal(&sel[i], &e->card.addr)
                        : proto_addr_matches(&sel[i], &e->card.addr) &&
                              proto_roster_accepts(e, "freeze.designation");
        if (match)
            (void)unit_index(units, count, addr, versions);
    }
}

static json_t *
time_json(uint64_t ms)
{
    char t[32];

    return ms == 0 ? json_null() : json_string(proto_time_format(ms, t));
}

static int
cmd_status(int argc, char **argv)
{
    static fz_unit units[UNITS_MAX];
    fz_opts o;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    proto_roster *roster = NULL;
    proto_detail d = {{0}, {0}};
    fz_case fc;
    size_t unit_count = 0;
    const char *self;
    int rc;

    memset(&fc, 0, sizeof(fc));
    if ((rc = parse(argc, argv, usage_status, true, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if ((rc = cli_casebook_open("freeze status", &o.conn, &cb)) != EX_OK)
        return rc;
    if ((rc = cli_connect("freeze status", &o.conn, true, &c)) != EX_OK)
        goto done;
    if (proto_roster_load(o.conn.roster, &roster, &d) != PROTO_OK) {
        cli_error(SUB, "status: %s", d.text);
        rc = EX_DATAERR;
        goto done;
    }
    self = liaison_client_address(c);
    if ((rc = cli_drain("freeze status", c, cb, (unsigned)o.wait_s * 1000u, NULL)) != EX_OK)
        goto done;
    if ((rc = case_load("freeze status", cb, o.designation, &fc)) != EX_OK)
        goto done;
    if (fc.version_count == 0) {
        cli_error(SUB, "status: designation %s is not in the casebook at %s (it is kept where "
                       "it was designated)", o.designation, o.conn.state);
        rc = EX_NOINPUT;
        goto done;
    }
    for (size_t v = 0; v < fc.version_count; v++)
        resolve_units(roster, self, fc.versions[v].recipients, units, &unit_count,
                      fc.version_count);
    /* Acknowledgements. */
    for (size_t i = 0; i < fc.list->count; i++) {
        casebook_entry *e = fc.list->entries[i];
        char why[128];
        json_t *ack;
        const char *status, *note;
        int version = 0, u;
        size_t v;

        if (e->sent || strcmp(e->kind, "freeze.ack") != 0)
            continue;
        ack = cli_body_parse(e->body, "freeze.ack/1", why);
        if (ack == NULL) {
            cli_error(SUB, "status: an acknowledgement from %s is ignored: %s", e->peer, why);
            continue;
        }
        version = (int)json_integer_value(json_object_get(ack, "version"));
        for (v = 0; v < fc.version_count; v++) {
            if (version != 0 ? fc.versions[v].version == version
                             : e->has_reply_to && memcmp(e->in_reply_to, fc.versions[v].id, 16) == 0)
                break;
        }
        status = json_string_value(json_object_get(ack, "status"));
        note = json_string_value(json_object_get(ack, "note"));
        u = unit_index(units, &unit_count, e->peer, fc.version_count);
        if (v < fc.version_count && u >= 0 && status != NULL) {
            fz_cell *cell = &units[u].cells[v];
            uint64_t t = e->created_ms != 0 ? e->created_ms : e->time_ms;

            if (strcmp(status, "received") == 0 && (cell->received_ms == 0 || t < cell->received_ms))
                cell->received_ms = t;
            if (strcmp(status, "implemented") == 0 &&
                (cell->implemented_ms == 0 || t < cell->implemented_ms))
                cell->implemented_ms = t;
            if (note != NULL && note[0] != '\0')
                snprintf(cell->note, sizeof(cell->note), "%s", note);
        }
        json_decref(ack);
    }
    /* The brokers' signed delivery reports, when any came back. */
    for (size_t v = 0; v < fc.version_count; v++) {
        casebook_report reps[64];
        size_t n = 0;

        if (casebook_reports(cb, fc.versions[v].id, reps, 64, &n) != CASEBOOK_OK)
            continue;
        for (size_t u = 0; u < unit_count; u++) {
            const casebook_report *best = NULL;

            for (size_t k = 0; k < n; k++) {
                if (strcmp(reps[k].recipient, units[u].addr) == 0 &&
                    (best == NULL || reps[k].time_ms >= best->time_ms))
                    best = &reps[k];
            }
            if (best != NULL)
                snprintf(units[u].cells[v].delivery, sizeof(units[u].cells[v].delivery), "%s%s%s%s",
                         best->state, best->rule_id[0] ? " (" : "", best->rule_id,
                         best->rule_id[0] ? ")" : "");
        }
    }
    {
        const fz_version *latest = &fc.versions[fc.version_count - 1];
        const char *name = json_string_value(json_object_get(json_object_get(latest->body, "entity"), "name"));
        size_t got = 0, done_n = 0;

        for (size_t u = 0; u < unit_count; u++) {
            got += units[u].cells[fc.version_count - 1].received_ms != 0 ||
                   units[u].cells[fc.version_count - 1].implemented_ms != 0;
            done_n += units[u].cells[fc.version_count - 1].implemented_ms != 0;
        }
        if (o.json) {
            json_t *j = json_object(), *vs = json_array(), *us = json_array();

            json_object_set_new(j, "designation", json_string(o.designation));
            json_object_set(j, "entity", json_object_get(latest->body, "entity"));
            for (size_t v = 0; v < fc.version_count; v++) {
                char hex[33];

                liaison_id_to_hex(fc.versions[v].id, hex);
                json_array_append_new(vs, json_pack("{s:i, s:s, s:s, s:o}", "version",
                                                    fc.versions[v].version, "action",
                                                    fc.versions[v].action, "id", hex, "sent",
                                                    time_json(fc.versions[v].sent_ms)));
            }
            json_object_set_new(j, "versions", vs);
            for (size_t u = 0; u < unit_count; u++) {
                json_t *cells = json_array();

                for (size_t v = 0; v < fc.version_count; v++) {
                    const fz_cell *cell = &units[u].cells[v];
                    json_t *x = json_pack("{s:i, s:s, s:o, s:o, s:b}", "version",
                                          fc.versions[v].version, "action", fc.versions[v].action,
                                          "received", time_json(cell->received_ms), "implemented",
                                          time_json(cell->implemented_ms), "acknowledged",
                                          cell->received_ms != 0 || cell->implemented_ms != 0);

                    if (cell->delivery[0])
                        json_object_set_new(x, "delivery", json_string(cell->delivery));
                    if (cell->note[0])
                        json_object_set_new(x, "note", json_string(cell->note));
                    json_array_append_new(cells, x);
                }
                json_array_append_new(us, json_pack("{s:s, s:o}", "unit", units[u].addr,
                                                    "versions", cells));
            }
            json_object_set_new(j, "units", us);
            json_object_set_new(j, "latest",
                                json_pack("{s:i, s:s, s:I, s:I, s:I}", "version", latest->version,
                                          "action", latest->action, "units", (json_int_t)unit_count,
                                          "received", (json_int_t)got, "implemented",
                                          (json_int_t)done_n));
            cli_print_json(j, false);
            json_decref(j);
        } else {
            printf("designation %s: %s (latest version %d, %s)\n", o.designation,
                   name != NULL ? name : "?", latest->version, latest->action);
            printf("%-14s%-4s%-8s%-22s%-22s%s\n", "UNIT", "VER", "ACTION", "RECEIVED",
                   "IMPLEMENTED", "DELIVERY");
            for (size_t u = 0; u < unit_count; u++) {
                for (size_t v = 0; v < fc.version_count; v++) {
                    const fz_cell *cell = &units[u].cells[v];
                    char r[32] = "-", im[32] = "-";
                    bool acked = cell->received_ms != 0 || cell->implemented_ms != 0;

                    if (cell->received_ms)
                        proto_time_format(cell->received_ms, r);
                    if (cell->implemented_ms)
                        proto_time_format(cell->implemented_ms, im);
                    printf("%-14s%-4d%-8s%-22s%-22s%s%s%s\n", units[u].addr,
                           fc.versions[v].version, fc.versions[v].action, r, im,
                           cell->delivery[0] ? cell->delivery : "-",
                           acked ? "" : "  NOT ACKNOWLEDGED", "");
                }
            }
            printf("version %d: received by %zu of %zu unit%s, implemented by %zu of %zu\n",
                   latest->version, got, unit_count, unit_count == 1 ? "" : "s", done_n, unit_count);
        }
    }
    rc = EX_OK;
done:
    for (size_t u = 0; u < unit_count; u++)
        free(units[u].cells);
    case_free(&fc);
    proto_roster_destroy(&roster);
    liaison_client_close(&c);
    casebook_close(&cb);
    return rc;
}

int
cli_freeze_main(int argc, char **argv)
{
    static const struct {
        const char *name;  /* subcommand */
        cli_main_fn fn;    /* its entry point */
    } cmds[] = {
        {"designate", cmd_designate},
        {"amend", cmd_amend},
        {"delist", cmd_delist},
        {"status", cmd_status},
        {"screen", cli_freeze_screen},
        {"export", cli_freeze_export},
        {"query", cli_freeze_query},
    };

    if (argc < 2) {
        fputs(usage_freeze, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_freeze, stdout);
        return EX_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    cli_error(SUB, "unknown command '%s' (see liaison freeze --help)", argv[1]);
    return EX_USAGE;
}
