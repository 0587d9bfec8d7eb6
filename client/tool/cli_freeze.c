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
#include "agent.h"
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
    "    liaison freeze designate --designation ID --name NAME [designation options]\n"
    "    liaison freeze amend ID [designation options]\n"
    "    liaison freeze delist ID [--note TEXT] [options]\n"
    "    liaison freeze status ID [--wait SECONDS] [--json] [options]\n"
    "    liaison freeze import --format un-xml|ofac-xml FILE [--dry-run] [--json] [options]\n"
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

#define FZ_ENTITY_SYNOPSIS                                                                   \
    "                             [--type individual|entity|vessel|aircraft]\n"                  \
    "                             [--original-name NAME] [--alias A]... [--weak-alias A]...\n"   \
    "                             [--id TYPE=VALUE]... [--born DATE]... [--birth-place P]...\n"  \
    "                             [--nationality C]... [--document TYPE:NUMBER[:COUNTRY]]...\n" \
    "                             [--address KEY=VALUE[;KEY=VALUE]...]...\n"                    \
    "                             [--list L --reference R] [--programme P]...\n"                \
    "                             [--listed DATE] [--amended DATE] [--reasons TEXT]\n"          \
    "                             [--legal-basis TEXT]\n"

#define FZ_ENTITY_OPTIONS                                                                       \
    "    --type T           individual, entity (the default), vessel or aircraft\n"              \
    "    --original-name N  the name in its original script\n"                                \
    "    --alias ALIAS      another name (quality strong); repeat for several\n"              \
    "    --weak-alias ALIAS a weak alias (a nickname, a low-quality spelling)\n"              \
    "    --id TYPE=VALUE    an identifier, e.g. registration=DE-12345; repeatable\n"          \
    "    --born DATE        a date of birth: YYYY-MM-DD, YYYY-MM, YYYY or YYYY..YYYY\n"        \
    "    --birth-place P    a place of birth as published, e.g. 'Baghdad, Iraq'\n"           \
    "    --nationality C    a nationality: ISO 3166-1 alpha-3 code or country name\n"        \
    "    --document TYPE:NUMBER[:COUNTRY]  an identity document, e.g. passport:A123:IRQ\n"   \
    "    --address KEY=VALUE;...  an address; KEY street, city, region, postal_code,\n"     \
    "                       country, e.g. 'city=Limassol;country=Cyprus'\n"                  \
    "    --list L           the list it belongs to (UN-SC, OFAC-SDN, or your own)\n"        \
    "    --reference R      its reference in that list, e.g. QDi.001\n"                      \
    "    --programme P      a regime or programme it is listed under; repeatable\n"         \
    "    --listed DATE      when it was first listed, --amended DATE last amended\n"         \
    "    --reasons TEXT     the narrative summary of the reasons for listing\n"              \
    "    --legal-basis TEXT the legal basis, e.g. 'EO 13224'\n"

#define FZ_AGENT_OPTION                                                                         \
    "    --agent-config F   also record the version in the own designations of the\n"         \
    "                       agency's agent (configuration F, or $LIAISON_AGENT_CONFIG),\n"   \
    "                       which answers partners' freeze.query from them\n"

static const char usage_designate[] =
    "NAME\n"
    "    liaison freeze designate - designate an entity for an asset freeze (version 1)\n\n"
    "SYNOPSIS\n"
    "    liaison freeze designate --designation ID --name NAME\n"
    FZ_ENTITY_SYNOPSIS
    "                             [--effective YYYY-MM-DD] [--note TEXT] [--to SELECTOR...]\n"
    "                             [--labels LABELS] [--agent-config F] [--json] --state DIR\n"
    "                             [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends version 1 (action add) of designation ID to every partner unit that\n"
    "    accepts freeze.* (--to *, the default), with ID as the envelope's case id,\n"
    "    and records it in the casebook.  Each unit's agent acknowledges it\n"
    "    (received), and later its operator (implemented): see freeze status.  The\n"
    "    members and their bounds are those of docs/messages.md (freeze.*); a\n"
    "    designation that breaks one is refused before anything is sent.\n\n"
    "OPTIONS\n"
    "    --designation ID   your designation id, e.g. TREAS-2026-0007 (at most 64 of\n"
    "                       A-Z a-z 0-9 . _ : / -)\n"
    "    --name NAME        the entity's name, in Latin script\n"
    FZ_ENTITY_OPTIONS
    "    --effective DATE   when the freeze takes effect (default today, UTC)\n"
    "    --note TEXT        a note for the receiving units\n"
    "    --to SELECTOR      recipients (default *)\n"
    "    --labels LABELS    message labels (default LES)\n"
    FZ_AGENT_OPTION
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
    "        --id registration=DE-12345 --legal-basis 'EO 13224' \\\n"
    "        --address 'city=Limassol;country=Cyprus' --programme SDGT\n";

static const char usage_amend[] =
    "NAME\n"
    "    liaison freeze amend - send a new version of a designation\n\n"
    "SYNOPSIS\n"
    "    liaison freeze amend ID [--name NAME]\n"
    FZ_ENTITY_SYNOPSIS
    "                         [--effective DATE] [--note TEXT] [--to SELECTOR...]\n"
    "                         [--agent-config F] [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends version n+1 (action amend) of designation ID, where n is the last\n"
    "    version the casebook holds, to the recipients of the last version (or\n"
    "    --to).  The designation's data replace the previous version's: what is not\n"
    "    given is copied from it, and a repeatable option, when given, replaces the\n"
    "    whole list (--alias and --weak-alias together replace the aliases).\n\n"
    "OPTIONS\n"
    "    As for freeze designate (liaison freeze designate --help).\n\n"
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
    "                          [--agent-config F] [--json] --state DIR [connection options]\n\n"
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
    "    liaison freeze status ID [--wait SECONDS] [--agent-config F] [--json] --state DIR\n"
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
    "    --agent-config F  the agency's agent (or $LIAISON_AGENT_CONFIG): count the\n"
    "                  acknowledgements it received, and record the agency's own\n"
    "                  designations in its store (as freeze designate does)\n"
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
    const char *aliases[LIST_MAX];    /* --alias (quality strong) */
    size_t alias_count;               /* entries in aliases */
    const char *weak[LIST_MAX];       /* --weak-alias */
    size_t weak_count;                /* entries in weak */
    const char *ids[LIST_MAX];        /* --id TYPE=VALUE */
    size_t id_count;                  /* entries in ids */
    const char *born[LIST_MAX];       /* --born */
    size_t born_count;                /* entries in born */
    const char *places[LIST_MAX];     /* --birth-place */
    size_t place_count;               /* entries in places */
    const char *nationalities[LIST_MAX]; /* --nationality */
    size_t nationality_count;         /* entries in nationalities */
    const char *documents[LIST_MAX];  /* --document TYPE:NUMBER[:COUNTRY] */
    size_t document_count;            /* entries in documents */
    const char *addresses[LIST_MAX];  /* --address KEY=VALUE;... */
    size_t address_count;             /* entries in addresses */
    const char *programmes[LIST_MAX]; /* --programme */
    size_t programme_count;           /* entries in programmes */
    const char *to[LIST_MAX];         /* --to */
    size_t to_count;                  /* entries in to */
    const char *type;                 /* --type */
    const char *original_name;        /* --original-name */
    const char *list;                 /* --list */
    const char *reference;            /* --reference */
    const char *listed;               /* --listed */
    const char *amended;              /* --amended */
    const char *reasons;              /* --reasons */
    const char *legal_basis;          /* --legal-basis */
    const char *effective;            /* --effective */
    const char *note;                 /* --note */
    const char *labels;               /* --labels */
    const char *agent_config;         /* --agent-config or $LIAISON_AGENT_CONFIG */
    long wait_s;                      /* --wait */
    bool json;                        /* --json */
} fz_opts;

/* True if text is a date, YYYY-MM-DD. */
static bool
is_date(const char *text)
{
    uint64_t ms;

    return strlen(text) == 10 && proto_time_parse(text, &ms);
}

static int
parse(int argc, char **argv, const char *usage, bool positional, fz_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"designation", required_argument, NULL, 'D'},
        {"name", required_argument, NULL, 'n'},
        {"alias", required_argument, NULL, 'a'},
        {"weak-alias", required_argument, NULL, 'W'},
        {"id", required_argument, NULL, 'i'},
        {"born", required_argument, NULL, 'B'},
        {"birth-place", required_argument, NULL, 'P'},
        {"nationality", required_argument, NULL, 'C'},
        {"document", required_argument, NULL, 'd'},
        {"address", required_argument, NULL, 'A'},
        {"programme", required_argument, NULL, 'p'},
        {"type", required_argument, NULL, 'T'},
        {"original-name", required_argument, NULL, 'O'},
        {"list", required_argument, NULL, 'L'},
        {"reference", required_argument, NULL, 'R'},
        {"listed", required_argument, NULL, 's'},
        {"amended", required_argument, NULL, 'm'},
        {"reasons", required_argument, NULL, 'r'},
        {"to", required_argument, NULL, 't'},
        {"legal-basis", required_argument, NULL, 'b'},
        {"effective", required_argument, NULL, 'e'},
        {"note", required_argument, NULL, 'N'},
        {"labels", required_argument, NULL, 'l'},
        {"agent-config", required_argument, NULL, 'G'},
        {"wait", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->labels = "LES";
    o->wait_s = DEFAULT_WAIT_S;
    o->agent_config = getenv("LIAISON_AGENT_CONFIG");
    if (o->agent_config != NULL && o->agent_config[0] == '\0')
        o->agent_config = NULL;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        const char **list = NULL;
        size_t *n = NULL;
        const char **date = NULL;

        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 'D': o->designation = optarg; break;
        case 'n': o->name = optarg; break;
        case 'a': list = o->aliases; n = &o->alias_count; break;
        case 'W': list = o->weak; n = &o->weak_count; break;
        case 'i':
            if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
                cli_error(SUB, "%s: --id takes TYPE=VALUE, e.g. registration=DE-12345", argv[0]);
                return EX_USAGE;
            }
            list = o->ids;
            n = &o->id_count;
            break;
        case 'B':
            if (!agent_born_valid(optarg)) {
                cli_error(SUB, "%s: --born '%s' is not YYYY-MM-DD, YYYY-MM, YYYY or YYYY..YYYY",
                          argv[0], optarg);
                return EX_USAGE;
            }
            list = o->born;
            n = &o->born_count;
            break;
        case 'P': list = o->places; n = &o->place_count; break;
        case 'C': list = o->nationalities; n = &o->nationality_count; break;
        case 'd': list = o->documents; n = &o->document_count; break;
        case 'A': list = o->addresses; n = &o->address_count; break;
        case 'p': list = o->programmes; n = &o->programme_count; break;
        case 'T': o->type = optarg; break;
        case 'O': o->original_name = optarg; break;
        case 'L': o->list = optarg; break;
        case 'R': o->reference = optarg; break;
        case 's': date = &o->listed; break;
        case 'm': date = &o->amended; break;
        case 'r': o->reasons = optarg; break;
        case 't': list = o->to; n = &o->to_count; break;
        case 'b': o->legal_basis = optarg; break;
        case 'e': date = &o->effective; break;
        case 'N': o->note = optarg; break;
        case 'l': o->labels = optarg; break;
        case 'G': o->agent_config = optarg; break;
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
        if (date != NULL) {
            if (!is_date(optarg)) {
                cli_error(SUB, "%s: %s takes a date, YYYY-MM-DD", argv[0], argv[optind - 2]);
                return EX_USAGE;
            }
            *date = optarg;
        }
        if (list != NULL) {
            if (*n == LIST_MAX) {
                cli_error(SUB, "%s: too many of %s (at most %d)", argv[0], argv[optind - 2],
                          LIST_MAX);
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

/* Loads designation id from the casebook: its versions sent, in order.  EX_IOERR with
 * *err_out when the casebook cannot be read. */
static int
case_load_why(casebook *cb, const char *id, fz_case *fc, casebook_err *err_out)
{
    char why[128];
    casebook_err err;

    memset(fc, 0, sizeof(*fc));
    if ((err = casebook_list_case(cb, "freeze", id, false, &fc->list)) != CASEBOOK_OK) {
        *err_out = err;
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

/* Loads designation id, saying why on stderr when the casebook cannot be read. */
static int
case_load(const char *sub, casebook *cb, const char *id, fz_case *fc)
{
    casebook_err err = CASEBOOK_OK;
    int rc = case_load_why(cb, id, fc, &err);

    if (rc != EX_OK)
        cli_error(sub, "casebook: %s", casebook_strerror(err));
    return rc;
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

/* Aliases of quality strong, then weak, as docs/messages.md gives them. */
static json_t *
aliases_json(const fz_opts *o)
{
    json_t *a = json_array();

    for (size_t i = 0; i < o->alias_count; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", o->aliases[i], "quality",
                                           "strong"));
    for (size_t i = 0; i < o->weak_count; i++)
        json_array_append_new(a, json_pack("{s:s, s:s}", "name", o->weak[i], "quality", "weak"));
    return a;
}

/* --document TYPE:NUMBER[:COUNTRY] into {type, number, country}; NULL if malformed. */
static json_t *
documents_json(const char *sub, const fz_opts *o)
{
    json_t *a = json_array();

    for (size_t i = 0; i < o->document_count; i++) {
        const char *t = o->documents[i], *c1 = strchr(t, ':');
        const char *c2 = c1 != NULL ? strchr(c1 + 1, ':') : NULL;
        size_t number_len = c1 == NULL ? 0 : (c2 != NULL ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1));

        if (c1 == NULL || c1 == t || number_len == 0 || (c2 != NULL && strchr(c2 + 1, ':'))) {
            cli_error(sub, "--document '%s' is not TYPE:NUMBER or TYPE:NUMBER:COUNTRY "
                      "(passport:A1234567:IRQ)", t);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, json_pack("{s:s%, s:s%, s:s}", "type", t, (size_t)(c1 - t),
                                           "number", c1 + 1, number_len, "country",
                                           c2 != NULL ? c2 + 1 : ""));
    }
    return a;
}

/* --address 'street=...;city=...;postal_code=...;country=...' into an object; NULL if malformed. */
static json_t *
addresses_json(const char *sub, const fz_opts *o)
{
    static const char *const keys[] = {"street", "city", "region", "postal_code", "country", NULL};
    json_t *a = json_array();

    for (size_t i = 0; i < o->address_count; i++) {
        json_t *addr = json_object();
        char buf[1024], *save = NULL;

        snprintf(buf, sizeof(buf), "%s", o->addresses[i]);
        for (char *kv = strtok_r(buf, ";", &save); kv != NULL; kv = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(kv, '=');
            size_t k = 0;

            while (eq != NULL && keys[k] != NULL &&
                   (strlen(keys[k]) != (size_t)(eq - kv) || strncmp(kv, keys[k], (size_t)(eq - kv))))
                k++;
            if (eq == NULL || keys[k] == NULL) {
                cli_error(sub, "--address '%s': '%s' is not KEY=VALUE with KEY street, city, "
                          "region, postal_code or country", o->addresses[i], kv);
                json_decref(addr);
                json_decref(a);
                return NULL;
            }
            json_object_set_new(addr, keys[k], json_string(eq + 1));
        }
        if (json_object_size(addr) == 0) {
            cli_error(sub, "--address is empty");
            json_decref(addr);
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, addr);
    }
    return a;
}

/* Sets member of o to value when given (it replaces), else keeps the previous
 * version's (from prev, may be NULL), else sets fallback (may be NULL: leave it out).
 * Takes value and fallback over. */
static void
carry(json_t *o, const char *member, json_t *value, const json_t *prev, json_t *fallback)
{
    const json_t *old = prev != NULL ? json_object_get(prev, member) : NULL;

    if (value != NULL)
        json_object_set_new(o, member, value);
    else if (old != NULL)
        json_object_set(o, member, (json_t *)(uintptr_t)old);
    else if (fallback != NULL)
        json_object_set_new(o, member, fallback);
    if (value != NULL || old != NULL)
        json_decref(fallback);
}

/* A text option as JSON, or NULL when it was not given. */
static json_t *
opt_string(const char *text)
{
    return text != NULL ? json_string(text) : NULL;
}

/* A repeatable option as a JSON list, or NULL when it was not given. */
static json_t *
opt_list(const char *const *items, size_t n)
{
    return n > 0 ? str_array(items, n) : NULL;
}

/*
 * Builds version `version` (action) of the designation: the previous
 * version's members (last, may be NULL), with what the options give
 * replacing them (a repeatable option, when given, replaces the whole
 * list), checked against docs/messages.md.  *body_out is the caller's.
 */
static int
build_body(const char *sub, const fz_opts *o, const fz_version *last, int version,
           const char *action, json_t **body_out)
{
    const json_t *prev = last != NULL ? last->body : NULL;
    const json_t *prev_entity = prev != NULL ? json_object_get(prev, "entity") : NULL;
    json_t *body = NULL, *entity = json_object(), *docs = NULL, *addrs = NULL;
    char today[32], why[200];

    *body_out = NULL;
    if (o->document_count > 0 && (docs = documents_json(sub, o)) == NULL)
        goto usage;
    if (o->address_count > 0 && (addrs = addresses_json(sub, o)) == NULL)
        goto usage;
    /* Members of a previous version that this tool does not set are kept as they were. */
    if (json_is_object(prev_entity))
        json_object_update(entity, (json_t *)(uintptr_t)prev_entity);
    carry(entity, "type", opt_string(o->type), prev_entity, NULL);
    carry(entity, "name", opt_string(o->name), prev_entity, NULL);
    carry(entity, "original_name", opt_string(o->original_name), prev_entity, NULL);
    carry(entity, "aliases", o->alias_count + o->weak_count > 0 ? aliases_json(o) : NULL,
          prev_entity, json_array());
    carry(entity, "identifiers", o->id_count > 0 ? identifiers(o->ids, o->id_count) : NULL,
          prev_entity, json_array());
    carry(entity, "born", opt_list(o->born, o->born_count), prev_entity, NULL);
    carry(entity, "birth_places", opt_list(o->places, o->place_count), prev_entity, NULL);
    carry(entity, "nationalities", opt_list(o->nationalities, o->nationality_count), prev_entity,
          NULL);
    carry(entity, "documents", docs, prev_entity, NULL);
    docs = NULL;
    carry(entity, "addresses", addrs, prev_entity, NULL);
    addrs = NULL;
    if (!json_is_string(json_object_get(entity, "name"))) {
        cli_error(sub, "--name is required");
        goto usage;
    }
    body = json_pack("{s:s, s:s, s:i, s:s, s:s, s:O}", "schema", "freeze.designation/1",
                     "designation", o->designation, "version", version, "action", action,
                     "effective",
                     o->effective != NULL ? o->effective : proto_date_format(liaison_now_ms(), today),
                     "entity", entity);
    carry(body, "list", opt_string(o->list), prev, NULL);
    carry(body, "reference", opt_string(o->reference), prev, NULL);
    carry(body, "programmes", opt_list(o->programmes, o->programme_count), prev, NULL);
    carry(body, "listed", opt_string(o->listed), prev, NULL);
    carry(body, "amended", opt_string(o->amended), prev, NULL);
    carry(body, "reasons", opt_string(o->reasons), prev, NULL);
    carry(body, "legal_basis", opt_string(o->legal_basis), prev, NULL);
    if (o->note != NULL)
        json_object_set_new(body, "note", json_string(o->note));
    if (!agent_designation_check(body, why, sizeof(why))) {
        cli_error(sub, "the designation cannot be sent: %s (docs/messages.md, freeze.*)", why);
        goto usage;
    }
    json_decref(entity);
    *body_out = body;
    return EX_OK;
usage:
    json_decref(docs);
    json_decref(addrs);
    json_decref(entity);
    json_decref(body);
    return EX_USAGE;
}

/* With --agent-config, records the agency's own designations in its agent's
 * store (cli_freeze_own_record); a failure is reported as such, since the
 * message itself was sent (a later freeze command records it). */
static int
record_own(const char *sub, const fz_opts *o, casebook *cb)
{
    size_t n = 0;
    int rc;

    if (o->agent_config == NULL)
        return EX_OK;
    rc = cli_freeze_own_record(sub, cb, o->agent_config, &n);
    if (rc != EX_OK)
        cli_error(sub, "the designation was sent, but not recorded in the agent's store; any "
                  "freeze command with --agent-config %s records it", o->agent_config);
    else if (!o->json && n > 0)
        printf("recorded in the agent's own designations (%s): %zu\n", o->agent_config, n);
    return rc;
}

static int
send_version(const char *sub, fz_opts *o, const char *action)
{
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    fz_case fc;
    json_t *body = NULL;
    const fz_version *last = NULL;
    const char *to[LIST_MAX];
    char hex[33], rbuf[2048];
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
    if ((rc = build_body(sub, o, last, version, action, &body)) != EX_OK)
        goto done;
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
    rc = record_own(sub, o, cb);
done:
    json_decref(body);
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
    if (o.name != NULL || o.alias_count + o.weak_count + o.id_count + o.born_count +
                              o.place_count + o.nationality_count + o.document_count +
                              o.address_count + o.programme_count > 0 ||
        o.type != NULL || o.original_name != NULL || o.list != NULL || o.reference != NULL ||
        o.listed != NULL || o.amended != NULL || o.reasons != NULL) {
        cli_error(SUB, "delist: the designation's data cannot change in a delisting (use amend "
                       "first)");
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

/* Enters one freeze.ack (its body ack, from peer, in reply to reply_to
 * when not NULL, made at t) in the cell of its unit and version. */
static void
apply_ack(const fz_case *fc, fz_unit *units, size_t *unit_count, const char *peer,
          const json_t *ack, const uint8_t *reply_to, uint64_t t)
{
    int version = (int)json_integer_value(json_object_get(ack, "version"));
    const char *status = json_string_value(json_object_get(ack, "status"));
    const char *note = json_string_value(json_object_get(ack, "note"));
    fz_cell *cell;
    size_t v;
    int u;

    for (v = 0; v < fc->version_count; v++) {
        if (version != 0 ? fc->versions[v].version == version
                         : reply_to != NULL && memcmp(reply_to, fc->versions[v].id, 16) == 0)
            break;
    }
    if (peer == NULL || status == NULL || v == fc->version_count)
        return;
    if ((u = unit_index(units, unit_count, peer, fc->version_count)) < 0)
        return;
    cell = &units[u].cells[v];
    if (strcmp(status, "received") == 0 && (cell->received_ms == 0 || t < cell->received_ms))
        cell->received_ms = t;
    if (strcmp(status, "implemented") == 0 && (cell->implemented_ms == 0 || t < cell->implemented_ms))
        cell->implemented_ms = t;
    if (note != NULL && note[0] != '\0')
        snprintf(cell->note, sizeof(cell->note), "%s", note);
}

static json_t *
time_json(uint64_t ms)
{
    char t[32];

    return ms == 0 ? json_null() : json_string(proto_time_format(ms, t));
}

int
cli_freeze_status_json(casebook *cb, const proto_roster *roster, const char *self,
                       const char *state, const char *designation, const char *agent_store_config,
                       json_t **out, char *why, size_t why_len)
{
    fz_unit *units = calloc(UNITS_MAX, sizeof(*units));
    fz_case fc;
    size_t unit_count = 0;
    json_t *j = NULL;
    casebook_err err = CASEBOOK_OK;
    int rc;

    memset(&fc, 0, sizeof(fc));
    why[0] = '\0';
    if (units == NULL) {
        snprintf(why, why_len, "out of memory");
        return EX_SOFTWARE;
    }
    if ((rc = case_load_why(cb, designation, &fc, &err)) != EX_OK) {
        snprintf(why, why_len, "casebook: %s", casebook_strerror(err));
        goto done;
    }
    if (fc.version_count == 0) {
        snprintf(why, why_len, "designation %s is not in the casebook at %s (it is kept where it "
                               "was designated)", designation, state);
        rc = EX_NOINPUT;
        goto done;
    }
    for (size_t v = 0; v < fc.version_count; v++)
        resolve_units(roster, self, fc.versions[v].recipients, units, &unit_count,
                      fc.version_count);
    /* Acknowledgements: those the tool's drains filed in the casebook, and,
     * with --agent-config, those the agency's agent received. */
    for (size_t i = 0; i < fc.list->count; i++) {
        casebook_entry *e = fc.list->entries[i];
        char bwhy[128];
        json_t *ack;

        if (e->sent || strcmp(e->kind, "freeze.ack") != 0)
            continue;
        ack = cli_body_parse(e->body, "freeze.ack/1", bwhy);
        if (ack == NULL) {
            cli_error(SUB, "status: an acknowledgement from %s is ignored: %s", e->peer, bwhy);
            continue;
        }
        apply_ack(&fc, units, &unit_count, e->peer, ack, e->has_reply_to ? e->in_reply_to : NULL,
                  e->created_ms != 0 ? e->created_ms : e->time_ms);
        json_decref(ack);
    }
    if (agent_store_config != NULL) {
        json_t *acks = NULL, *ack;
        size_t i;

        if ((rc = cli_freeze_agent_acks("freeze status", agent_store_config, designation, &acks)) !=
            EX_OK) {
            why[0] = '\0';
            goto done;
        }
        json_array_foreach(acks, i, ack) {
            uint8_t reply_to[16];
            const char *hex = json_string_value(json_object_get(ack, "in_reply_to"));
            bool has_reply_to = hex != NULL && liaison_id_from_hex(hex, reply_to) == LIAISON_OK;
            const char *created = json_string_value(json_object_get(ack, "created"));
            uint64_t t = 0;

            if (created == NULL || !proto_time_parse(created, &t))
                t = 0;
            apply_ack(&fc, units, &unit_count, json_string_value(json_object_get(ack, "from")), ack,
                      has_reply_to ? reply_to : NULL, t);
        }
        json_decref(acks);
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
        size_t got = 0, done_n = 0;

        for (size_t u = 0; u < unit_count; u++) {
            got += units[u].cells[fc.version_count - 1].received_ms != 0 ||
                   units[u].cells[fc.version_count - 1].implemented_ms != 0;
            done_n += units[u].cells[fc.version_count - 1].implemented_ms != 0;
        }
        j = json_object();
        json_t *vs = json_array(), *us = json_array();

        json_object_set_new(j, "designation", json_string(designation));
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
    }
    *out = j;
    j = NULL;
    rc = EX_OK;
done:
    for (size_t u = 0; u < unit_count; u++)
        free(units[u].cells);
    free(units);
    json_decref(j);
    case_free(&fc);
    return rc;
}

/* Prints the text output of freeze status from its JSON (cli_freeze_status_json). */
static void
status_print(const json_t *j)
{
    const json_t *latest = json_object_get(j, "latest"), *unit;
    const char *name = json_string_value(json_object_get(json_object_get(j, "entity"), "name"));
    size_t unit_count = (size_t)json_integer_value(json_object_get(latest, "units"));
    size_t u;

    printf("designation %s: %s (latest version %d, %s)\n",
           json_string_value(json_object_get(j, "designation")), name != NULL ? name : "?",
           (int)json_integer_value(json_object_get(latest, "version")),
           json_string_value(json_object_get(latest, "action")));
    printf("%-14s%-4s%-8s%-22s%-22s%s\n", "UNIT", "VER", "ACTION", "RECEIVED", "IMPLEMENTED",
           "DELIVERY");
    json_array_foreach(json_object_get(j, "units"), u, unit) {
        const json_t *cell;
        size_t v;

        json_array_foreach(json_object_get(unit, "versions"), v, cell) {
            const char *r = json_string_value(json_object_get(cell, "received"));
            const char *im = json_string_value(json_object_get(cell, "implemented"));
            const char *delivery = json_string_value(json_object_get(cell, "delivery"));

            printf("%-14s%-4d%-8s%-22s%-22s%s%s%s\n",
                   json_string_value(json_object_get(unit, "unit")),
                   (int)json_integer_value(json_object_get(cell, "version")),
                   json_string_value(json_object_get(cell, "action")), r != NULL ? r : "-",
                   im != NULL ? im : "-", delivery != NULL ? delivery : "-",
                   json_is_true(json_object_get(cell, "acknowledged")) ? "" : "  NOT ACKNOWLEDGED",
                   "");
        }
    }
    printf("version %d: received by %zu of %zu unit%s, implemented by %zu of %zu\n",
           (int)json_integer_value(json_object_get(latest, "version")),
           (size_t)json_integer_value(json_object_get(latest, "received")), unit_count,
           unit_count == 1 ? "" : "s",
           (size_t)json_integer_value(json_object_get(latest, "implemented")), unit_count);
}

static int
cmd_status(int argc, char **argv)
{
    fz_opts o;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    proto_roster *roster = NULL;
    proto_detail d = {{0}, {0}};
    json_t *j = NULL;
    char why[512];
    int rc;

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
    if ((rc = cli_drain("freeze status", c, cb, (unsigned)o.wait_s * 1000u, NULL)) != EX_OK)
        goto done;
    if (o.agent_config != NULL && (rc = record_own("freeze status", &o, cb)) != EX_OK)
        goto done;
    rc = cli_freeze_status_json(cb, roster, liaison_client_address(c), o.conn.state,
                                o.designation, o.agent_config, &j, why, sizeof(why));
    if (rc == EX_NOINPUT)
        cli_error(SUB, "status: %s", why);
    else if (rc != EX_OK && why[0] != '\0')
        cli_error("freeze status", "%s", why);
    if (rc != EX_OK)
        goto done;
    if (o.json)
        cli_print_json(j, false);
    else
        status_print(j);
done:
    json_decref(j);
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
        {"import", cli_freeze_import},
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
