/* liaison mlat: mutual legal assistance requests, their status and deadlines, evidence and bundles. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "casebook.h"
#include "cli.h"
#include "cli_bundle.h"
#include "cli_int.h"
#include "cli_mlat.h"
#include "liaison_proto.h"

#define SUB "mlat"
#define LIST_MAX 64
#define DEFAULT_WAIT_S 2
#define DEFAULT_DECIDE_DAYS 30
#define DEFAULT_EXECUTE_DAYS 90
#define DEFAULT_CHUNK (4u << 20)      /* bytes of an evidence chunk */
#define DEFAULT_MESSAGE (12u << 20)   /* bytes of chunks one evidence message carries */
#define CHUNK_MAX (15u << 20)         /* a chunk must fit a portion (16 MiB with its tag) */
#define DAY_MS (86400000ull)

static const char *const statuses[] = {
    "received", "accepted", "more-information-needed", "executing", "executed",
    "partially-executed", "refused", "withdrawn", "closed",
};

static const char usage_mlat[] =
    "NAME\n"
    "    liaison mlat - mutual legal assistance requests, their deadlines and evidence\n\n"
    "SYNOPSIS\n"
    "    liaison mlat submit --to AGENCY --case ID --treaty ID --offence CAT...\n"
    "                        --summary TEXT [--assistance TEXT...] [options]\n"
    "    liaison mlat status CASE [--now DATE] [--decide-days N] [--execute-days N]\n"
    "    liaison mlat respond CASE --status STATUS [--note TEXT] [--grounds TEXT]\n"
    "    liaison mlat evidence CASE --file PATH... [--custody ACTION...] [--chunk-size N]\n"
    "    liaison mlat export CASE --out DIR [--audit-data BROKER_DATA_DIR]\n"
    "    liaison mlat verify-bundle DIR [--roster TRUSTED_ROSTER]\n\n"
    "DESCRIPTION\n"
    "    Messages of the mlat.* family (docs/messages.md).  The casebook under --state\n"
    "    keeps each case: the request, every status, every evidence message as\n"
    "    received.  Each command has its own page: liaison mlat <command> --help.\n\n"
    "EXIT STATUS\n"
    "    0 done; 1 verify-bundle found a problem; 2 rejected by the broker (e.g. a\n"
    "    treaty that does not cover the offence); 64 bad usage; 65 bad data;\n"
    "    66 missing file or case; 69 broker unreachable; 75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_submit[] =
    "NAME\n"
    "    liaison mlat submit - submit a mutual legal assistance request\n\n"
    "SYNOPSIS\n"
    "    liaison mlat submit --to AGENCY --case ID --treaty ID --offence CATEGORY...\n"
    "                        --summary TEXT [--assistance TEXT...] [--labels LABELS]\n"
    "                        [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends an mlat.request for case ID (your authority's case id, the envelope's\n"
    "    case id) to the requested central authority.  Its labels carry\n"
    "    BASIS:<treaty> and OFFENCE:<categories>, which release policies check: a\n"
    "    request under a treaty that is not in force with the partner, or that does\n"
    "    not cover an offence, is rejected by the broker, and the rule that decided\n"
    "    (e.g. builtin:mlat-treaty) is printed.  The case is kept in the casebook;\n"
    "    follow it with mlat status.\n\n"
    "OPTIONS\n"
    "    --to AGENCY        the requested authority, e.g. USA/DOJ\n"
    "    --case ID          your case id, e.g. MEX-FGR-2026-0099 (at most 64)\n"
    "    --treaty ID        the treaty, e.g. USA-MEX-MLAT-1987\n"
    "    --offence CAT      an offence category, e.g. DRUG-TRAFFICKING; repeat or\n"
    "                       separate with commas (at most 8)\n"
    "    --summary TEXT     the facts and what is asked\n"
    "    --assistance TEXT  one measure asked for; repeatable\n"
    "    --labels LABELS    labels before BASIS and OFFENCE (default LES)\n"
    "    --json             print {id, case, result} (and rule when rejected)\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker (the rule id is printed); 64 bad usage;\n"
    "    65 case ID was submitted before; 69 broker unreachable; 75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n\n"
    "EXAMPLES\n"
    "    liaison mlat submit --to USA/DOJ --case MEX-FGR-2026-0099 \\\n"
    "        --treaty USA-MEX-MLAT-1987 --offence DRUG-TRAFFICKING \\\n"
    "        --summary 'cartel proceeds through US accounts' \\\n"
    "        --assistance 'bank records of account 1234'\n";

static const char usage_status[] =
    "NAME\n"
    "    liaison mlat status - a case's status timeline, evidence and deadlines\n\n"
    "SYNOPSIS\n"
    "    liaison mlat status CASE [--now DATE] [--decide-days N] [--execute-days N]\n"
    "                        [--wait SECONDS] [--offline] [--json] --state DIR\n"
    "                        [connection options]\n\n"
    "DESCRIPTION\n"
    "    Receives what the broker holds into the casebook (unless --offline), then\n"
    "    prints the case: request, every status in time order, the evidence files\n"
    "    and how many of their chunks arrived, and the treaty deadlines counted from\n"
    "    submission: a decision (accepted, refused or more-information-needed)\n"
    "    within --decide-days (default 30) and execution (executed or\n"
    "    partially-executed) within --execute-days (default 90).  A deadline passed\n"
    "    without the event is flagged OVERDUE.  Works on either side of a case.\n\n"
    "OPTIONS\n"
    "    --now DATE         judge the deadlines as of DATE (YYYY-MM-DD or RFC 3339),\n"
    "                       to see how a case will stand\n"
    "    --decide-days N    days to decide (default 30)\n"
    "    --execute-days N   days to execute (default 90)\n"
    "    --wait SECS        stop receiving after this long without a message (default 2)\n"
    "    --offline          do not contact the broker; show the casebook only\n"
    "    --json             print {case, role, treaty, offences, status, timeline,\n"
    "                       evidence, deadlines: {decide, execute}, overdue}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 printed (overdue or not: see the output); 64 bad usage; 66 the case is\n"
    "    not in the casebook.\n\n"
    "EXAMPLES\n"
    "    liaison mlat status MEX-FGR-2026-0099 --now 2027-03-01\n";

static const char usage_respond[] =
    "NAME\n"
    "    liaison mlat respond - send a status of a case\n\n"
    "SYNOPSIS\n"
    "    liaison mlat respond CASE --status STATUS [--note TEXT] [--grounds TEXT]\n"
    "                         [--labels LABELS] [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    On the requested side: STATUS is received, accepted, more-information-needed,\n"
    "    executing, executed, partially-executed or refused (refused needs --grounds).\n"
    "    On the requesting side: only withdrawn.  Either side: closed, when the case\n"
    "    is over (what a retention rule keeps for the case's life may then go).  The\n"
    "    request's id, its sender and its labels (BASIS, OFFENCE) come from the\n"
    "    casebook, which first receives what the broker holds.\n\n"
    "OPTIONS\n"
    "    --status STATUS    the new status\n"
    "    --note TEXT        what happened, for the other side\n"
    "    --grounds TEXT     the grounds of a refusal\n"
    "    --labels LABELS    labels (default: the request's)\n"
    "    --wait SECS        stop receiving after this long without a message (default 2)\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage or a status this side may\n"
    "    not send; 66 the case is not in the casebook; 69 broker unreachable;\n"
    "    75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_evidence[] =
    "NAME\n"
    "    liaison mlat evidence - send evidence files of a case, with chain of custody\n\n"
    "SYNOPSIS\n"
    "    liaison mlat evidence CASE --file PATH... [--custody ACTION...]\n"
    "                          [--chunk-size BYTES] [--message-size BYTES] [--labels L]\n"
    "                          [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Requested side.  Hashes each file (SHA-256), cuts it into chunks (4 MiB by\n"
    "    default), and sends the chunks in one or several mlat.evidence messages in\n"
    "    reply to the request, each with a manifest in portion 0 (docs/messages.md)\n"
    "    and each chunk in its own portion.  Every file gets one signed custody entry\n"
    "    per --custody ACTION (in order) and a last one, \"transmitted to\n"
    "    <requester>\"; each is signed with this agency's key (--key), so it can be\n"
    "    checked offline.  A progress bar is drawn on stderr when it is a terminal.\n\n"
    "OPTIONS\n"
    "    --file PATH          a file to send (its name in the case is its base name)\n"
    "    --custody ACTION     a custody action, e.g. 'collected from Bank of X'\n"
    "    --chunk-size BYTES   chunk size (default 4194304; at most 15 MiB; K or M suffix)\n"
    "    --message-size BYTES chunk bytes per message (default 12 MiB; the broker's\n"
    "                         limits.max_message_bytes must allow it)\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 every message accepted; 2 rejected by the broker; 64 bad usage; 66 a file\n"
    "    or the case is missing; 69 broker unreachable; 75 no answer in time.\n"
    "    77 the broker refused the agency's key (unknown or revoked).\n";

static const char usage_export[] =
    "NAME\n"
    "    liaison mlat export - write the evidence bundle of a case\n\n"
    "SYNOPSIS\n"
    "    liaison mlat export CASE --out DIR [--audit-data BROKER_DATA_DIR] [--offline]\n"
    "                        [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Requesting side.  Writes DIR (new or empty): files/ (the evidence files,\n"
    "    each chunk decrypted with --key and checked against its hash), envelopes/\n"
    "    (every message of the case as received, signed by its sender), proofs/\n"
    "    (with --audit-data: for each message, the audit records of the receiving\n"
    "    broker that name it, each with its RFC 9162 inclusion proof up to the\n"
    "    broker's latest signed tree head), roster, and manifest.json, signed by\n"
    "    this agency in manifest.sig.  See docs/cli.md for the layout.\n\n"
    "OPTIONS\n"
    "    --out DIR              where to write the bundle\n"
    "    --audit-data DIR       the data directory of your home broker (read-only;\n"
    "                           works while the broker runs)\n"
    "    --offline              do not receive from the broker first\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 written; 64 bad usage; 65 the evidence is incomplete or does not check;\n"
    "    66 the case or the audit data is missing; 73 DIR cannot be made;\n"
    "    75 no signed tree head covers the evidence yet (try again in a minute).\n";

static const char usage_verify[] =
    "NAME\n"
    "    liaison mlat verify-bundle - verify an evidence bundle offline\n\n"
    "SYNOPSIS\n"
    "    liaison mlat verify-bundle DIR [--roster TRUSTED_ROSTER] [--json]\n\n"
    "DESCRIPTION\n"
    "    Checks, without any network or key: the exporter's signature over\n"
    "    manifest.json; the SHA-256 of every file against it (and that no file is\n"
    "    unlisted); every envelope's signature with the bundle's roster; that each\n"
    "    evidence file is the sequence of its chunks, with the hashes the decrypted\n"
    "    manifests list and the lengths of the signed envelopes' portions; every\n"
    "    chain-of-custody signature; and every audit inclusion proof up to a tree\n"
    "    head signed by its broker.  With --roster, each card of the bundle's roster\n"
    "    must be the same in TRUSTED_ROSTER (the roster you got out of band).\n"
    "    A failure names the file.\n\n"
    "EXIT STATUS\n"
    "    0 the bundle verifies; 1 it does not; 64 bad usage; 66 no such directory.\n\n"
    "EXAMPLES\n"
    "    liaison mlat verify-bundle ./MEX-FGR-2026-0099.bundle --roster roster\n";

/* Options of the mlat commands. */
typedef struct ml_opts {
    cli_conn conn;                      /* connection */
    const char *case_id;                /* --case or the positional CASE */
    const char *to;                     /* --to */
    const char *treaty;                 /* --treaty */
    const char *offences[LIST_MAX];     /* --offence */
    size_t offence_count;               /* entries in offences */
    const char *summary;                /* --summary */
    const char *assistance[LIST_MAX];   /* --assistance */
    size_t assistance_count;            /* entries in assistance */
    const char *status;                 /* --status */
    const char *note;                   /* --note */
    const char *grounds;                /* --grounds */
    const char *files[LIST_MAX];        /* --file */
    size_t file_count;                  /* entries in files */
    const char *custody[LIST_MAX];      /* --custody */
    size_t custody_count;               /* entries in custody */
    uint64_t chunk_size;                /* --chunk-size */
    uint64_t message_size;              /* --message-size */
    const char *out;                    /* --out */
    const char *audit_data;             /* --audit-data */
    const char *labels;                 /* --labels, NULL: default */
    const char *now;                    /* --now */
    long decide_days;                   /* --decide-days */
    long execute_days;                  /* --execute-days */
    long wait_s;                        /* --wait */
    bool offline;                       /* --offline */
    bool json;                          /* --json */
} ml_opts;

static bool
parse_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return false;
    if (*end == 'K' || *end == 'k')
        v <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        v <<= 20, end++;
    if (*end != '\0' || v == 0)
        return false;
    *out = v;
    return true;
}

static int
parse(int argc, char **argv, const char *usage, bool positional, ml_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"case", required_argument, NULL, 'C'},
        {"to", required_argument, NULL, 't'},
        {"treaty", required_argument, NULL, 'T'},
        {"offence", required_argument, NULL, 'o'},
        {"summary", required_argument, NULL, 's'},
        {"assistance", required_argument, NULL, 'a'},
        {"status", required_argument, NULL, 'S'},
        {"note", required_argument, NULL, 'n'},
        {"grounds", required_argument, NULL, 'g'},
        {"file", required_argument, NULL, 'f'},
        {"custody", required_argument, NULL, 'c'},
        {"chunk-size", required_argument, NULL, 'z'},
        {"message-size", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'O'},
        {"audit-data", required_argument, NULL, 'A'},
        {"labels", required_argument, NULL, 'l'},
        {"now", required_argument, NULL, 'N'},
        {"decide-days", required_argument, NULL, 'D'},
        {"execute-days", required_argument, NULL, 'E'},
        {"wait", required_argument, NULL, 'w'},
        {"offline", no_argument, NULL, 'x'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->chunk_size = DEFAULT_CHUNK;
    o->message_size = DEFAULT_MESSAGE;
    o->decide_days = DEFAULT_DECIDE_DAYS;
    o->execute_days = DEFAULT_EXECUTE_DAYS;
    o->wait_s = DEFAULT_WAIT_S;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        const char **list = NULL;
        size_t *n = NULL;

        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 'C': o->case_id = optarg; break;
        case 't': o->to = optarg; break;
        case 'T': o->treaty = optarg; break;
        case 'o': {
            /* Repeatable, and comma-separated lists split. */
            char *save = NULL;

            for (char *t = strtok_r(optarg, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
                if (o->offence_count == LIST_MAX) {
                    cli_error(SUB, "%s: too many --offence", argv[0]);
                    return EX_USAGE;
                }
                o->offences[o->offence_count++] = t;
            }
            break;
        }
        case 's': o->summary = optarg; break;
        case 'a': list = o->assistance; n = &o->assistance_count; break;
        case 'S': o->status = optarg; break;
        case 'n': o->note = optarg; break;
        case 'g': o->grounds = optarg; break;
        case 'f': list = o->files; n = &o->file_count; break;
        case 'c': list = o->custody; n = &o->custody_count; break;
        case 'z':
            if (!parse_size(optarg, &o->chunk_size) || o->chunk_size > CHUNK_MAX) {
                cli_error(SUB, "%s: --chunk-size takes 1 .. 15M bytes", argv[0]);
                return EX_USAGE;
            }
            break;
        case 'm':
            if (!parse_size(optarg, &o->message_size)) {
                cli_error(SUB, "%s: --message-size takes a number of bytes", argv[0]);
                return EX_USAGE;
            }
            break;
        case 'O': o->out = optarg; break;
        case 'A': o->audit_data = optarg; break;
        case 'l': o->labels = optarg; break;
        case 'N': o->now = optarg; break;
        case 'D':
        case 'E': {
            long v = atol(optarg);

            if (v <= 0 || v > 36500) {
                cli_error(SUB, "%s: %s takes a number of days", argv[0], argv[optind - 2]);
                return EX_USAGE;
            }
            *(opt == 'D' ? &o->decide_days : &o->execute_days) = v;
            break;
        }
        case 'w':
            o->wait_s = atol(optarg);
            if (o->wait_s <= 0) {
                cli_error(SUB, "%s: --wait takes a number of seconds", argv[0]);
                return EX_USAGE;
            }
            break;
        case 'x': o->offline = true; break;
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
    if (positional && optind + 1 == argc && o->case_id == NULL)
        o->case_id = argv[optind++];
    if (optind != argc) {
        cli_error(SUB, "%s: unexpected argument '%s' (see --help)", argv[0], argv[optind]);
        return EX_USAGE;
    }
    if (o->case_id == NULL) {
        cli_error(SUB, "%s: the case id is required (see --help)", argv[0]);
        return EX_USAGE;
    }
    if (strlen(o->case_id) > 64) {
        cli_error(SUB, "%s: a case id is at most 64 characters", argv[0]);
        return EX_USAGE;
    }
    return EX_OK;
}

/* ---- A case as the casebook holds it ----------------------------------------------- */

void
cli_mlat_case_free(cli_mlat_case *mc)
{
    json_decref(mc->body);
    casebook_list_free(&mc->list);
    memset(mc, 0, sizeof(*mc));
}

int
cli_mlat_case_load(casebook *cb, const char *state, const char *id, bool with_raw,
                   cli_mlat_case *mc, char *why, size_t why_len)
{
    char bwhy[128];
    casebook_err err;

    memset(mc, 0, sizeof(*mc));
    if ((err = casebook_list_case(cb, "mlat", id, with_raw, &mc->list)) != CASEBOOK_OK) {
        snprintf(why, why_len, "casebook: %s", casebook_strerror(err));
        return EX_IOERR;
    }
    for (size_t i = 0; i < mc->list->count && mc->request == NULL; i++) {
        if (strcmp(mc->list->entries[i]->kind, "mlat.request") == 0)
            mc->request = mc->list->entries[i];
    }
    if (mc->request == NULL) {
        casebook_tombstone *t = NULL;
        size_t n = 0;

        /* A request its sender recalled is gone for good: say so. */
        if (casebook_tombstones(cb, &t, &n) == CASEBOOK_OK) {
            for (size_t i = 0; i < n; i++) {
                char idh[33], at[PROTO_TIME_TEXT_BYTES];

                if (strcmp(t[i].kind, "mlat.request") != 0 || strcmp(t[i].case_id, id) != 0)
                    continue;
                snprintf(why, why_len, "case %s: its mlat.request %s was recalled by %s and "
                                       "deleted here on %s (reason: %s); nothing of it is kept",
                         id, proto_id_format(t[i].id, idh), t[i].peer,
                         proto_time_format(t[i].time_ms, at), t[i].reason);
                free(t);
                return EX_NOINPUT;
            }
        }
        free(t);
        snprintf(why, why_len, "case %s: no mlat.request is in the casebook at %s (submitted from "
                               "another --state, or not received yet?)", id,
                 state != NULL ? state : "(none)");
        return EX_NOINPUT;
    }
    mc->body = cli_body_parse(mc->request->body, "mlat.request/1", bwhy);
    if (mc->body == NULL) {
        snprintf(why, why_len, "case %s: the request cannot be read: %s", id, bwhy);
        return EX_DATAERR;
    }
    mc->requester = mc->request->sent;
    if (mc->requester) {
        const char *r = json_string_value(json_object_get(mc->body, "requested"));

        snprintf(mc->peer, sizeof(mc->peer), "%s", r != NULL ? r : mc->request->recipients);
    } else {
        snprintf(mc->peer, sizeof(mc->peer), "%s", mc->request->peer);
    }
    if (!proto_time_parse(json_string_value(json_object_get(mc->body, "submitted")), &mc->submitted_ms))
        mc->submitted_ms = mc->request->sent ? mc->request->time_ms : mc->request->created_ms;
    return EX_OK;
}

/* Loads case id as cli_mlat_case_load does, saying why on stderr on failure. */
static int
case_load(const char *sub, casebook *cb, const char *id, bool with_raw, const cli_conn *conn,
          cli_mlat_case *mc)
{
    char why[1024];
    int rc = cli_mlat_case_load(cb, conn->state, id, with_raw, mc, why, sizeof(why));

    if (rc != EX_OK)
        cli_error(sub, "%s", why);
    return rc;
}

/* Connects (for deliveries) and receives into the casebook, unless offline. */
static int
connect_drain(const char *sub, ml_opts *o, casebook *cb, liaison_client **c)
{
    int rc;

    if (o->offline)
        return EX_OK;
    if ((rc = cli_connect(sub, &o->conn, true, c)) != EX_OK)
        return rc;
    return cli_drain(sub, *c, cb, (unsigned)o->wait_s * 1000u, NULL);
}

/* ---- submit ---------------------------------------------------------------------------- */

static int
cmd_submit(int argc, char **argv)
{
    ml_opts o;
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    casebook *cb = NULL;
    casebook_list *existing = NULL;
    json_t *body = NULL;
    cli_outgoing out;
    char labels[2048], offences[1024], submitted[32], hex[33], d1[32], d2[32];
    const char *to[1];
    uint8_t id[16];
    uint64_t now = liaison_now_ms();
    size_t used;
    int rc;

    if ((rc = parse(argc, argv, usage_submit, false, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.to == NULL || o.treaty == NULL || o.offence_count == 0 || o.summary == NULL) {
        cli_error(SUB, "submit: --to, --case, --treaty, --offence and --summary are required");
        return EX_USAGE;
    }
    used = 0;
    offences[0] = '\0';
    for (size_t i = 0; i < o.offence_count && used < sizeof(offences); i++)
        used += (size_t)snprintf(offences + used, sizeof(offences) - used, "%s%s", i > 0 ? "," : "",
                                 o.offences[i]);
    snprintf(labels, sizeof(labels), "%s//BASIS:%s//OFFENCE:%s", o.labels != NULL ? o.labels : "LES",
             o.treaty, offences);
    if ((rc = cli_casebook_open("mlat submit", &o.conn, &cb)) != EX_OK)
        return rc;
    if (casebook_list_case(cb, "mlat", o.case_id, false, &existing) == CASEBOOK_OK) {
        for (size_t i = 0; i < existing->count; i++) {
            if (existing->entries[i]->sent && strcmp(existing->entries[i]->kind, "mlat.request") == 0) {
                cli_error(SUB, "submit: case %s was submitted before (see mlat status %s)",
                          o.case_id, o.case_id);
                rc = EX_DATAERR;
                goto done;
            }
        }
    }
    if ((rc = cli_connect("mlat submit", &o.conn, false, &c)) != EX_OK)
        goto done;
    body = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:o, s:s}", "schema", "mlat.request/1",
                     "case", o.case_id, "treaty", o.treaty, "offences",
                     json_array(), "requesting", liaison_client_address(c), "requested", o.to,
                     "summary", o.summary, "assistance", json_array(), "submitted",
                     proto_time_format(now, submitted));
    for (size_t i = 0; i < o.offence_count; i++)
        json_array_append_new(json_object_get(body, "offences"), json_string(o.offences[i]));
    for (size_t i = 0; i < o.assistance_count; i++)
        json_array_append_new(json_object_get(body, "assistance"), json_string(o.assistance[i]));
    to[0] = o.to;
    memset(&out, 0, sizeof(out));
    out.kind = "mlat.request";
    out.to = to;
    out.to_count = 1;
    out.labels = labels;
    out.portion_labels = o.labels != NULL ? o.labels : "LES";
    out.case_id = o.case_id;
    out.ttl_s = CLI_LONG_TTL_S;
    out.body = body;
    if ((rc = cli_outgoing_build("mlat submit", &out, &m)) != EX_OK)
        goto done;
    if ((rc = cli_outgoing_send("mlat submit", c, cb, &out, m, &o.conn, o.json, id)) != EX_OK)
        goto done;
    liaison_id_to_hex(id, hex);
    proto_date_format(now + (uint64_t)o.decide_days * DAY_MS, d1);
    proto_date_format(now + (uint64_t)o.execute_days * DAY_MS, d2);
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", hex, "case", o.case_id, "to", o.to,
                              "result", "accepted", "submitted", submitted);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: case %s to %s under %s (%s)\n", hex, o.case_id, o.to, o.treaty,
               offences);
        printf("deadlines: decision by %s, execution by %s (follow with: liaison mlat status %s)\n",
               d1, d2, o.case_id);
    }
done:
    json_decref(body);
    casebook_list_free(&existing);
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    return rc;
}

/* ---- status ----------------------------------------------------------------------------- */

static bool
is_decision(const char *s)
{
    return strcmp(s, "accepted") == 0 || strcmp(s, "refused") == 0 ||
           strcmp(s, "more-information-needed") == 0;
}

static bool
is_execution(const char *s)
{
    return strcmp(s, "executed") == 0 || strcmp(s, "partially-executed") == 0;
}

/* One evidence file seen in the case's manifests. */
typedef struct ml_file {
    char name[BUNDLE_NAME_MAX + 1];  /* its name */
    uint64_t size;                   /* bytes */
    char sha256[65];                 /* hex */
    uint64_t chunks;                 /* chunk count */
    uint64_t seen;                   /* chunks named by the manifests */
} ml_file;

/* One deadline. */
typedef struct ml_deadline {
    uint64_t due_ms;            /* submission + days */
    uint64_t met_ms;            /* when the event happened, 0 if not yet */
    const char *met_by;         /* the status that met it */
    bool closed;                /* the case ended without it being needed */
    bool overdue;               /* not met, not closed, and now is past due */
} ml_deadline;

/* Whole days left before due (negative: overdue by), as the text output counts them. */
static long
days_left(const ml_deadline *d, uint64_t now)
{
    if (now > d->due_ms)
        return -(long)((now - d->due_ms) / DAY_MS + 1);
    return (long)((d->due_ms - now) / DAY_MS);
}

static json_t *
deadline_json(const ml_deadline *d, const char *what, long days, uint64_t now)
{
    char t[32];
    json_t *o = json_pack("{s:s, s:i, s:s, s:b}", "what", what, "days", (int)days, "due",
                          proto_time_format(d->due_ms, t), "overdue", d->overdue);

    if (d->met_ms != 0) {
        json_object_set_new(o, "met", json_string(proto_time_format(d->met_ms, t)));
        json_object_set_new(o, "met_by", json_string(d->met_by));
        json_object_set_new(o, "late", json_boolean(d->met_ms > d->due_ms));
    }
    if (d->closed)
        json_object_set_new(o, "closed", json_true());
    json_object_set_new(o, "days_left", d->met_ms != 0 || d->closed
                                            ? json_null()
                                            : json_integer(days_left(d, now)));
    return o;
}

/* Prints one deadline of the text output from its JSON (deadline_json). */
static void
deadline_print(const json_t *d)
{
    const char *what = json_string_value(json_object_get(d, "what"));
    const char *met = json_string_value(json_object_get(d, "met"));
    uint64_t due_ms = 0;
    char due[32];

    (void)proto_time_parse(json_string_value(json_object_get(d, "due")), &due_ms);
    proto_date_format(due_ms, due);
    printf("  %-8s within %3ld days, by %s: ", what,
           (long)json_integer_value(json_object_get(d, "days")), due);
    if (met != NULL)
        printf("%s %s%s\n", json_string_value(json_object_get(d, "met_by")), met,
               json_is_true(json_object_get(d, "late")) ? " (LATE)" : "");
    else if (json_is_true(json_object_get(d, "closed")))
        printf("not needed (case closed)\n");
    else if (json_is_true(json_object_get(d, "overdue")))
        printf("OVERDUE by %llu days\n",
               (unsigned long long)-json_integer_value(json_object_get(d, "days_left")));
    else
        printf("open, %llu days left\n",
               (unsigned long long)json_integer_value(json_object_get(d, "days_left")));
}

json_t *
cli_mlat_status_json(const cli_mlat_case *mc, const char *case_id, uint64_t now,
                     long decide_days, long execute_days)
{
    json_t *timeline = json_array(), *evidence = json_array(), *j = NULL;
    ml_file *files = NULL;
    size_t file_count = 0;
    ml_deadline decide, execute;
    const char *current = "submitted";
    char t[32];

    if (timeline == NULL || evidence == NULL)
        goto done;
    memset(&decide, 0, sizeof(decide));
    memset(&execute, 0, sizeof(execute));
    decide.due_ms = mc->submitted_ms + (uint64_t)decide_days * DAY_MS;
    execute.due_ms = mc->submitted_ms + (uint64_t)execute_days * DAY_MS;
    for (size_t i = 0; i < mc->list->count; i++) {
        const casebook_entry *e = mc->list->entries[i];
        uint64_t when = e->sent ? e->time_ms : e->created_ms;
        char why[128], what[512], hex[33];
        json_t *row;

        liaison_id_to_hex(e->id, hex);
        if (e == mc->request) {
            when = mc->submitted_ms;
            snprintf(what, sizeof(what), "request %s %s", e->sent ? "submitted to" : "received from",
                     mc->peer);
        } else if (strcmp(e->kind, "mlat.status") == 0) {
            json_t *b = cli_body_parse(e->body, "mlat.status/1", why);
            const char *s = b != NULL ? json_string_value(json_object_get(b, "status")) : NULL;
            const char *note = b != NULL ? json_string_value(json_object_get(b, "note")) : NULL;
            const char *grounds = b != NULL ? json_string_value(json_object_get(b, "grounds")) : NULL;
            bool known = false;

            for (size_t k = 0; s != NULL && k < sizeof(statuses) / sizeof(statuses[0]); k++)
                known = known || strcmp(s, statuses[k]) == 0;
            if (!known) {
                snprintf(what, sizeof(what), "status unreadable (%s)", b == NULL ? why : "unknown status");
            } else {
                current = statuses[0];
                for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
                    if (strcmp(s, statuses[k]) == 0)
                        current = statuses[k];
                }
                snprintf(what, sizeof(what), "%s%s%s%s%s", s, note != NULL && note[0] ? ": " : "",
                         note != NULL ? note : "", grounds != NULL && grounds[0] ? "; grounds: " : "",
                         grounds != NULL ? grounds : "");
                if (is_decision(s) && decide.met_ms == 0) {
                    decide.met_ms = when;
                    decide.met_by = current;
                }
                if (is_execution(s) && execute.met_ms == 0) {
                    execute.met_ms = when;
                    execute.met_by = current;
                }
                if (strcmp(s, "refused") == 0 || strcmp(s, "withdrawn") == 0 ||
                    strcmp(s, "closed") == 0) {
                    execute.closed = execute.met_ms == 0;
                    decide.closed = decide.met_ms == 0;
                }
            }
            json_decref(b);
        } else if (strcmp(e->kind, "mlat.evidence") == 0) {
            json_t *b = cli_body_parse(e->body, "mlat.evidence/1", why), *fe;
            size_t k, chunks = 0, used;
            char list[300] = "";

            json_array_foreach(b != NULL ? json_object_get(b, "files") : NULL, k, fe) {
                const char *name = json_string_value(json_object_get(fe, "name"));
                const char *sha = json_string_value(json_object_get(fe, "sha256"));
                size_t f;

                if (name == NULL || sha == NULL)
                    continue;
                chunks++;
                for (f = 0; f < file_count; f++) {
                    if (strcmp(files[f].name, name) == 0 && strcmp(files[f].sha256, sha) == 0)
                        break;
                }
                if (f == file_count) {
                    ml_file *grown = realloc(files, (file_count + 1) * sizeof(*files));

                    if (grown == NULL)
                        continue;
                    files = grown;
                    memset(&files[f], 0, sizeof(files[f]));
                    snprintf(files[f].name, sizeof(files[f].name), "%s", name);
                    snprintf(files[f].sha256, sizeof(files[f].sha256), "%s", sha);
                    files[f].size = (uint64_t)json_integer_value(json_object_get(fe, "size"));
                    files[f].chunks = (uint64_t)json_integer_value(json_object_get(fe, "chunks"));
                    file_count++;
                }
                files[f].seen++;
                /* "statements.bin 0-2/6, summary.txt 0/1": what this batch carried. */
                used = strlen(list);
                if (used + 1 < sizeof(list)) {
                    json_int_t c0 = json_integer_value(json_object_get(fe, "chunk"));
                    const char *prev = k > 0 ? json_string_value(json_object_get(
                                                   json_array_get(json_object_get(b, "files"), k - 1),
                                                   "name"))
                                             : NULL;

                    if (prev != NULL && strcmp(prev, name) == 0) {
                        /* Same file as the chunk before: widen its range. */
                        char *dash = strrchr(list, ' ');
                        char *cut = dash != NULL ? strchr(dash, '-') : NULL;

                        if (cut == NULL)
                            cut = dash != NULL ? strchr(dash, '/') : NULL;
                        if (cut != NULL)
                            snprintf(cut, sizeof(list) - (size_t)(cut - list), "-%lld/%llu",
                                     (long long)c0, (unsigned long long)files[f].chunks);
                    } else {
                        snprintf(list + used, sizeof(list) - used, "%s%s %lld/%llu",
                                 used > 0 ? ", " : "", name, (long long)c0,
                                 (unsigned long long)files[f].chunks);
                    }
                }
            }
            snprintf(what, sizeof(what), "evidence batch %lld: %zu chunk%s%s%s",
                     b != NULL ? (long long)json_integer_value(json_object_get(b, "batch")) : 0LL,
                     chunks, chunks == 1 ? "" : "s", list[0] ? ": " : "",
                     b == NULL ? " (manifest unreadable)" : list);
            json_decref(b);
        } else {
            snprintf(what, sizeof(what), "%s", e->kind);
        }
        row = json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", proto_time_format(when, t), "kind",
                        e->kind, "from", e->sent ? "" : e->peer, "event", what, "id", hex);
        json_object_set_new(row, "sent", json_boolean(e->sent));
        json_array_append_new(timeline, row);
    }
    decide.overdue = decide.met_ms == 0 && !decide.closed && now > decide.due_ms;
    execute.overdue = execute.met_ms == 0 && !execute.closed && now > execute.due_ms;
    for (size_t f = 0; f < file_count; f++)
        json_array_append_new(evidence,
                              json_pack("{s:s, s:I, s:s, s:I, s:I, s:b}", "name", files[f].name,
                                        "size", (json_int_t)files[f].size, "sha256",
                                        files[f].sha256, "chunks", (json_int_t)files[f].chunks,
                                        "chunks_seen", (json_int_t)files[f].seen, "complete",
                                        files[f].seen >= files[f].chunks));
    j = json_pack("{s:s, s:s, s:s, s:O, s:O, s:s, s:s, s:O, s:O}", "case", case_id, "role",
                  mc->requester ? "requesting" : "requested", "peer", mc->peer, "treaty",
                  json_object_get(mc->body, "treaty"), "offences",
                  json_object_get(mc->body, "offences"), "status", current, "submitted",
                  proto_time_format(mc->submitted_ms, t), "timeline", timeline, "evidence",
                  evidence);
    if (j == NULL)
        goto done;
    json_object_set_new(j, "now", json_string(proto_time_format(now, t)));
    json_object_set_new(j, "deadlines",
                        json_pack("{s:o, s:o}", "decide",
                                  deadline_json(&decide, "decide", decide_days, now), "execute",
                                  deadline_json(&execute, "execute", execute_days, now)));
    json_object_set_new(j, "overdue", json_boolean(decide.overdue || execute.overdue));
done:
    free(files);
    json_decref(timeline);
    json_decref(evidence);
    return j;
}

json_t *
cli_mlat_statuses_allowed(const cli_mlat_case *mc, const char *current)
{
    json_t *a = json_array();

    if (a == NULL || (current != NULL && strcmp(current, "closed") == 0))
        return a;
    for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
        bool closed = strcmp(statuses[k], "closed") == 0;
        bool withdrawn = strcmp(statuses[k], "withdrawn") == 0;

        /* The rule cmd_respond applies: closed on either side, withdrawn only by the
         * requesting authority, every other status only by the requested one. */
        if (closed || mc->requester == withdrawn)
            json_array_append_new(a, json_string(statuses[k]));
    }
    return a;
}

/* Prints the text output of mlat status from its JSON (cli_mlat_status_json). */
static void
status_print(const json_t *j, const char *case_id)
{
    bool requester = strcmp(json_string_value(json_object_get(j, "role")), "requesting") == 0;
    const char *treaty = json_string_value(json_object_get(j, "treaty"));
    const char *peer = json_string_value(json_object_get(j, "peer"));
    json_t *row, *f;
    size_t i;

    json_array_foreach(json_object_get(j, "timeline"), i, row) {
        bool sent = json_is_true(json_object_get(row, "sent"));

        if (i == 0) {
            printf("case %s: %s request under %s, %s %s\n", case_id,
                   requester ? "your" : "incoming", treaty != NULL ? treaty : "?",
                   requester ? "to" : "from", peer);
            printf("TIMELINE\n");
        }
        printf("  %s  %-8s %s\n", json_string_value(json_object_get(row, "time")),
               sent ? "you" : json_string_value(json_object_get(row, "from")),
               json_string_value(json_object_get(row, "event")));
    }
    printf("STATUS\n  %s\n", json_string_value(json_object_get(j, "status")));
    printf("EVIDENCE\n");
    if (json_array_size(json_object_get(j, "evidence")) == 0)
        printf("  none yet\n");
    json_array_foreach(json_object_get(j, "evidence"), i, f) {
        bool complete = json_is_true(json_object_get(f, "complete"));

        printf("  %-28s %12llu bytes  %llu/%llu chunks%s  sha256 %.16s...\n",
               json_string_value(json_object_get(f, "name")),
               (unsigned long long)json_integer_value(json_object_get(f, "size")),
               (unsigned long long)json_integer_value(json_object_get(f, "chunks_seen")),
               (unsigned long long)json_integer_value(json_object_get(f, "chunks")),
               complete ? " (complete)" : "", json_string_value(json_object_get(f, "sha256")));
    }
    printf("DEADLINES (as of %s)\n", json_string_value(json_object_get(j, "now")));
    deadline_print(json_object_get(json_object_get(j, "deadlines"), "decide"));
    deadline_print(json_object_get(json_object_get(j, "deadlines"), "execute"));
    if (json_is_true(json_object_get(j, "overdue")))
        printf("OVERDUE: case %s is past its treaty deadline\n", case_id);
}

static int
cmd_status(int argc, char **argv)
{
    ml_opts o;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    cli_mlat_case mc;
    json_t *j = NULL;
    uint64_t now = liaison_now_ms();
    int rc;

    memset(&mc, 0, sizeof(mc));
    if ((rc = parse(argc, argv, usage_status, true, &o)) != EX_OK)
        goto done;
    if (o.now != NULL && !proto_time_parse(o.now, &now)) {
        cli_error(SUB, "status: --now takes YYYY-MM-DD or an RFC 3339 UTC time");
        rc = EX_USAGE;
        goto done;
    }
    if ((rc = cli_casebook_open("mlat status", &o.conn, &cb)) != EX_OK ||
        (rc = connect_drain("mlat status", &o, cb, &c)) != EX_OK ||
        (rc = case_load("mlat status", cb, o.case_id, false, &o.conn, &mc)) != EX_OK)
        goto done;
    j = cli_mlat_status_json(&mc, o.case_id, now, o.decide_days, o.execute_days);
    if (j == NULL) {
        cli_error(SUB, "status: out of memory");
        rc = EX_SOFTWARE;
        goto done;
    }
    if (o.json)
        cli_print_json(j, false);
    else
        status_print(j, o.case_id);
    rc = EX_OK;
done:
    json_decref(j);
    cli_mlat_case_free(&mc);
    liaison_client_close(&c);
    casebook_close(&cb);
    return rc < 0 ? EX_OK : rc;
}

/* ---- respond ------------------------------------------------------------------------------ */

/* Fills out with a reply in case mc to its request (recipient: the other side). */
static void
reply_to_case(const cli_mlat_case *mc, const char *case_id, const char *labels, const char **to,
              cli_outgoing *out)
{
    to[0] = mc->peer;
    memset(out, 0, sizeof(*out));
    out->to = to;
    out->to_count = 1;
    out->labels = labels != NULL ? labels : mc->request->labels;
    out->portion_labels = labels != NULL ? labels : "LES";
    out->case_id = case_id;
    out->reply_to = mc->request->id;
    out->ttl_s = CLI_LONG_TTL_S;
}

int
cli_mlat_respond_check(const char *status, const char *grounds, char *why, size_t why_len)
{
    bool known = false;

    for (size_t k = 0; status != NULL && k < sizeof(statuses) / sizeof(statuses[0]); k++)
        known = known || strcmp(status, statuses[k]) == 0;
    if (!known) {
        snprintf(why, why_len, "--status is one of received, accepted, more-information-needed, "
                               "executing, executed, partially-executed, refused, withdrawn, "
                               "closed");
        return EX_USAGE;
    }
    if (strcmp(status, "refused") == 0 && (grounds == NULL || grounds[0] == '\0')) {
        snprintf(why, why_len, "a refusal needs --grounds");
        return EX_USAGE;
    }
    return EX_OK;
}

int
cli_mlat_respond_side_check(const cli_mlat_case *mc, const char *status, char *why,
                            size_t why_len)
{
    if (strcmp(status, "closed") != 0 && mc->requester != (strcmp(status, "withdrawn") == 0)) {
        snprintf(why, why_len, "%s",
                 mc->requester ? "on the requesting side the only status is withdrawn"
                               : "withdrawn is the requesting authority's to send");
        return EX_USAGE;
    }
    return EX_OK;
}

int
cli_mlat_respond_send(const char *sub, liaison_client *c, casebook *cb, const cli_conn *conn,
                      const cli_mlat_case *mc, const char *case_id, const char *status,
                      const char *note, const char *grounds, const char *labels, bool json,
                      json_t **result_out, char *why, size_t why_len)
{
    liaison_message *m = NULL;
    json_t *body = NULL;
    cli_outgoing out;
    const char *to[1];
    uint8_t id[16];
    char hex[33];
    int rc;

    why[0] = '\0';
    if ((rc = cli_mlat_respond_side_check(mc, status, why, why_len)) != EX_OK)
        return rc;
    body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "schema", "mlat.status/1", "case", case_id,
                     "status", status, "note", note != NULL ? note : "", "grounds",
                     grounds != NULL ? grounds : "");
    reply_to_case(mc, case_id, labels, to, &out);
    out.kind = "mlat.status";
    out.body = body;
    if ((rc = cli_outgoing_build(sub, &out, &m)) != EX_OK ||
        (rc = cli_outgoing_send(sub, c, cb, &out, m, conn, json, id)) !=
            EX_OK)
        goto done;
    liaison_id_to_hex(id, hex);
    *result_out = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", hex, "case", case_id,
                            "status", status, "to", mc->peer, "result", "accepted");
    if (*result_out == NULL)
        rc = EX_SOFTWARE;
done:
    json_decref(body);
    liaison_message_destroy(&m);
    return rc;
}

static int
cmd_respond(int argc, char **argv)
{
    ml_opts o;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    cli_mlat_case mc;
    json_t *j = NULL;
    char why[256];
    int rc;

    memset(&mc, 0, sizeof(mc));
    if ((rc = parse(argc, argv, usage_respond, true, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if ((rc = cli_mlat_respond_check(o.status, o.grounds, why, sizeof(why))) != EX_OK) {
        cli_error(SUB, "respond: %s", why);
        return rc;
    }
    if ((rc = cli_casebook_open("mlat respond", &o.conn, &cb)) != EX_OK)
        return rc;
    o.offline = false;
    if ((rc = connect_drain("mlat respond", &o, cb, &c)) != EX_OK ||
        (rc = case_load("mlat respond", cb, o.case_id, false, &o.conn, &mc)) != EX_OK)
        goto done;
    rc = cli_mlat_respond_send("mlat respond", c, cb, &o.conn, &mc, o.case_id, o.status, o.note,
                               o.grounds, o.labels, o.json, &j, why, sizeof(why));
    if (rc != EX_OK) {
        if (why[0] != '\0')
            cli_error(SUB, "respond: %s", why);
        goto done;
    }
    if (o.json)
        cli_print_json(j, false);
    else
        printf("%s accepted: case %s is %s (sent to %s)\n",
               json_string_value(json_object_get(j, "id")), o.case_id, o.status, mc.peer);
done:
    json_decref(j);
    cli_mlat_case_free(&mc);
    liaison_client_close(&c);
    casebook_close(&cb);
    return rc;
}

/* ---- evidence ---------------------------------------------------------------------------- */

/* One file to send. */
typedef struct ev_file {
    const char *path;            /* as given */
    const char *name;            /* its base name */
    uint64_t size;               /* bytes */
    char sha256[65];             /* hex of the whole file */
    uint64_t chunks;             /* chunk count */
    bool custody_sent;           /* its custody entries went out */
} ev_file;

/* Progress while hashing: bytes of the files before this one, plus this one's. */
typedef struct ev_progress {
    cli_progress *bar;           /* the bar */
    uint64_t base;               /* bytes of earlier files */
    const char *what;            /* label */
} ev_progress;

static void
hash_progress(void *ctx, uint64_t done)
{
    ev_progress *p = ctx;

    cli_progress_show(p->bar, p->what, p->base + done);
}

/* Reads len bytes at offset of path into buf. */
static int
read_at(const char *path, uint64_t offset, uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    int rc = -1;

    if (f == NULL)
        return -1;
    if (fseeko(f, (off_t)offset, SEEK_SET) == 0 && fread(buf, 1, len, f) == len)
        rc = 0;
    fclose(f);
    return rc;
}

static int
cmd_evidence(int argc, char **argv)
{
    ml_opts o;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    proto_identity *me = NULL;
    proto_detail d = {{0}, {0}};
    cli_mlat_case mc;
    ev_file files[LIST_MAX];
    cli_progress bar;
    uint64_t total = 0, sent_bytes = 0;
    size_t f = 0, batch = 0, messages = 0;
    uint64_t k = 0;
    json_t *ids = json_array();
    int rc;

    memset(&mc, 0, sizeof(mc));
    if ((rc = parse(argc, argv, usage_evidence, true, &o)) != EX_OK) {
        json_decref(ids);
        return rc < 0 ? EX_OK : rc;
    }
    if (o.file_count == 0) {
        cli_error(SUB, "evidence: at least one --file is required");
        json_decref(ids);
        return EX_USAGE;
    }
    if ((rc = cli_casebook_open("mlat evidence", &o.conn, &cb)) != EX_OK)
        goto done;
    if (o.conn.key == NULL || proto_keyfile_read(o.conn.key, &me, &d) != PROTO_OK) {
        cli_error(SUB, "evidence: custody entries are signed with --key: %s",
                  o.conn.key == NULL ? "no key file given" : d.text);
        rc = o.conn.key == NULL ? EX_USAGE : EX_DATAERR;
        goto done;
    }
    /* The files: names unique, each hashed whole first (the manifests carry it). */
    memset(files, 0, sizeof(files));
    for (size_t i = 0; i < o.file_count; i++) {
        const char *slash = strrchr(o.files[i], '/');

        files[i].path = o.files[i];
        files[i].name = slash != NULL ? slash + 1 : o.files[i];
        if (!liaison_bundle_name_ok(files[i].name)) {
            cli_error(SUB, "evidence: '%s' cannot name a file of a case (no leading '.', no "
                           "control characters, at most %u bytes)", files[i].name, BUNDLE_NAME_MAX);
            rc = EX_USAGE;
            goto done;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(files[j].name, files[i].name) == 0) {
                cli_error(SUB, "evidence: two files are named %s", files[i].name);
                rc = EX_USAGE;
                goto done;
            }
        }
        {
            FILE *fp = fopen(files[i].path, "rb");
            off_t size = -1;

            if (fp != NULL && fseeko(fp, 0, SEEK_END) == 0)
                size = ftello(fp);
            if (fp != NULL)
                fclose(fp);
            if (size < 0) {
                cli_error(SUB, "evidence: cannot read %s: %s", files[i].path, strerror(errno));
                rc = EX_NOINPUT;
                goto done;
            }
            total += (uint64_t)size;
        }
    }
    if ((rc = connect_drain("mlat evidence", &o, cb, &c)) != EX_OK ||
        (rc = case_load("mlat evidence", cb, o.case_id, false, &o.conn, &mc)) != EX_OK)
        goto done;
    if (mc.requester) {
        cli_error(SUB, "evidence: case %s is your own request; evidence comes from the requested "
                       "authority", o.case_id);
        rc = EX_USAGE;
        goto done;
    }
    for (size_t i = 0; i < mc.list->count; i++)
        batch += mc.list->entries[i]->sent && strcmp(mc.list->entries[i]->kind, "mlat.evidence") == 0;
    cli_progress_start(&bar, total);
    {
        ev_progress hp = {&bar, 0, "hashing"};
        char why[256];

        for (size_t i = 0; i < o.file_count; i++) {
            if (bundle_file_sha256(files[i].path, &files[i].size, files[i].sha256, hash_progress,
                                   &hp, why, sizeof(why)) != 0) {
                cli_progress_end(&bar);
                cli_error(SUB, "evidence: %s", why);
                rc = EX_NOINPUT;
                goto done;
            }
            hp.base += files[i].size;
            files[i].chunks = bundle_chunk_count(files[i].size, o.chunk_size);
        }
    }
    /* The messages: chunks in file order, as many per message as --message-size allows. */
    while (f < o.file_count) {
        json_t *manifest = json_pack("{s:s, s:s, s:I, s:[], s:[]}", "schema", "mlat.evidence/1",
                                     "case", o.case_id, "batch", (json_int_t)(batch + 1), "files",
                                     "custody");
        uint8_t *data[PROTO_PORTIONS_MAX];
        size_t lens[PROTO_PORTIONS_MAX], portions = 0;
        uint64_t bytes = 0;
        liaison_message *m = NULL;
        cli_outgoing out;
        const char *to[1];
        uint8_t id[16];
        char hex[33];

        while (f < o.file_count && portions < PROTO_PORTIONS_MAX - 1) {
            ev_file *ef = &files[f];
            uint64_t off = k * o.chunk_size;
            size_t len = (size_t)(ef->size - off < o.chunk_size ? ef->size - off : o.chunk_size);
            char csha[65];

            if (portions > 0 && bytes + len > o.message_size)
                break;
            data[portions] = malloc(len > 0 ? len : 1);
            if (data[portions] == NULL || (len > 0 && read_at(ef->path, off, data[portions], len) != 0)) {
                free(data[portions]);
                cli_progress_end(&bar);
                cli_error(SUB, "evidence: cannot read %s: %s", ef->path, strerror(errno));
                rc = EX_NOINPUT;
                for (size_t p = 0; p < portions; p++)
                    free(data[p]);
                json_decref(manifest);
                goto done;
            }
            lens[portions] = len;
            {
                uint8_t h[PROTO_HASH_BYTES];

                proto_sha256(data[portions], len, h);
                proto_hex(h, sizeof(h), csha);
            }
            json_array_append_new(json_object_get(manifest, "files"),
                                  json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:s}", "name", ef->name,
                                            "size", (json_int_t)ef->size, "sha256", ef->sha256,
                                            "chunk", (json_int_t)k, "chunks",
                                            (json_int_t)ef->chunks, "portion",
                                            (json_int_t)(portions + 1), "chunk_sha256", csha));
            if (!ef->custody_sent) {
                uint64_t now = liaison_now_ms();
                char last[128];

                for (size_t i = 0; i < o.custody_count; i++)
                    json_array_append_new(json_object_get(manifest, "custody"),
                                          bundle_custody_new(me, now, o.custody[i], ef->name,
                                                             ef->sha256));
                snprintf(last, sizeof(last), "transmitted to %s", mc.peer);
                json_array_append_new(json_object_get(manifest, "custody"),
                                      bundle_custody_new(me, now, last, ef->name, ef->sha256));
                ef->custody_sent = true;
            }
            portions++;
            bytes += len;
            if (++k == ef->chunks) {
                k = 0;
                f++;
            }
        }
        reply_to_case(&mc, o.case_id, o.labels, to, &out);
        out.kind = "mlat.evidence";
        out.body = manifest;
        out.extra_count = portions;
        out.extra = (const uint8_t *const *)data;
        out.extra_len = lens;
        rc = cli_outgoing_build("mlat evidence", &out, &m);
        for (size_t p = 0; p < portions; p++) {
            proto_wipe(data[p], lens[p]);
            free(data[p]);
        }
        if (rc == EX_OK) {
            bar.last_ms = 0; /* always drawn: sealing and sending a message takes a while */
            cli_progress_show(&bar, "sealing and sending", sent_bytes);
            rc = cli_outgoing_send("mlat evidence", c, cb, &out, m, &o.conn, o.json, id);
        }
        liaison_message_destroy(&m);
        json_decref(manifest);
        if (rc != EX_OK) {
            cli_progress_end(&bar);
            goto done;
        }
        batch++;
        messages++;
        sent_bytes += bytes;
        cli_progress_show(&bar, "sent", sent_bytes);
        liaison_id_to_hex(id, hex);
        json_array_append_new(ids, json_string(hex));
    }
    cli_progress_end(&bar);
    if (o.json) {
        json_t *j = json_pack("{s:s, s:O, s:I, s:I, s:s}", "case", o.case_id, "messages", ids,
                              "files", (json_int_t)o.file_count, "bytes", (json_int_t)total,
                              "result", "accepted");

        cli_print_json(j, false);
        json_decref(j);
    } else {
        size_t i;
        json_t *x;

        printf("case %s: %zu file%s (%llu bytes) sent to %s in %zu message%s\n", o.case_id,
               o.file_count, o.file_count == 1 ? "" : "s", (unsigned long long)total, mc.peer,
               messages, messages == 1 ? "" : "s");
        for (size_t n = 0; n < o.file_count; n++)
            printf("  %-28s %12llu bytes  %llu chunk%s  sha256 %s\n", files[n].name,
                   (unsigned long long)files[n].size, (unsigned long long)files[n].chunks,
                   files[n].chunks == 1 ? "" : "s", files[n].sha256);
        json_array_foreach(ids, i, x) printf("  message %s accepted\n", json_string_value(x));
    }
    rc = EX_OK;
done:
    json_decref(ids);
    cli_mlat_case_free(&mc);
    proto_identity_destroy(&me);
    liaison_client_close(&c);
    casebook_close(&cb);
    return rc;
}

/* ---- export and verify-bundle ------------------------------------------------------------ */

/* The messages of MLAT case case_id that were recalled and deleted here (the casebook's
 * tombstones), as a JSON array of {message, kind, sender, recall, reason, deleted}: an export
 * names them instead of resurrecting them.  NULL if the casebook cannot be read. */
static json_t *
recalled_of_case(casebook *cb, const char *case_id)
{
    casebook_tombstone *t = NULL;
    size_t n = 0;
    json_t *arr;

    if (casebook_tombstones(cb, &t, &n) != CASEBOOK_OK || (arr = json_array()) == NULL) {
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char idh[33], rh[33], at[PROTO_TIME_TEXT_BYTES];

        if (!t[i].whole || strcmp(t[i].case_id, case_id) != 0 ||
            strncmp(t[i].kind, "mlat.", 5) != 0)
            continue;
        proto_time_format(t[i].time_ms, at);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "message",
                                             proto_id_format(t[i].id, idh), "kind", t[i].kind,
                                             "sender", t[i].peer, "recall",
                                             proto_id_format(t[i].recall, rh), "reason",
                                             t[i].reason, "deleted", at));
    }
    free(t);
    return arr;
}

int
cli_mlat_export_bundle(casebook *cb, const cli_mlat_case *mc, const char *case_id,
                       const proto_identity *me, const char *roster_path, const char *out_dir,
                       const char *audit_data, json_t **summary_out, char *why, size_t why_len)
{
    bundle_export_args a;
    json_t *summary = NULL, *recalled = NULL;
    int rc;

    memset(&a, 0, sizeof(a));
    a.case_id = case_id;
    a.messages = mc->list;
    a.me = me;
    a.roster_path = roster_path;
    a.out_dir = out_dir;
    a.audit_data = audit_data;
    a.now_ms = liaison_now_ms();
    if ((rc = bundle_export(&a, &summary, why, why_len)) != EX_OK)
        return rc;
    recalled = recalled_of_case(cb, case_id);
    if (recalled == NULL) {
        snprintf(why, why_len, "the casebook's tombstones cannot be read");
        json_decref(summary);
        return EX_IOERR;
    }
    json_object_set_new(summary, "recalled", recalled);
    *summary_out = summary;
    return EX_OK;
}

static int
cmd_export(int argc, char **argv)
{
    ml_opts o;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    proto_identity *me = NULL;
    proto_detail d = {{0}, {0}};
    cli_mlat_case mc;
    json_t *summary = NULL, *recalled = NULL;
    char why[512];
    int rc;

    memset(&mc, 0, sizeof(mc));
    if ((rc = parse(argc, argv, usage_export, true, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.out == NULL) {
        cli_error(SUB, "export: --out DIR is required");
        return EX_USAGE;
    }
    if (o.conn.key == NULL || o.conn.roster == NULL) {
        cli_error(SUB, "export: --key and --roster are required (the evidence is decrypted with "
                       "the key, and the bundle signed with it)");
        return EX_USAGE;
    }
    if (proto_keyfile_read(o.conn.key, &me, &d) != PROTO_OK) {
        cli_error(SUB, "export: %s", d.text);
        return EX_DATAERR;
    }
    if ((rc = cli_casebook_open("mlat export", &o.conn, &cb)) != EX_OK ||
        (rc = connect_drain("mlat export", &o, cb, &c)) != EX_OK ||
        (rc = case_load("mlat export", cb, o.case_id, true, &o.conn, &mc)) != EX_OK)
        goto done;
    rc = cli_mlat_export_bundle(cb, &mc, o.case_id, me, o.conn.roster, o.out, o.audit_data,
                                &summary, why, sizeof(why));
    if (rc != EX_OK) {
        cli_error(SUB, "export: %s", why);
        goto done;
    }
    recalled = json_incref(json_object_get(summary, "recalled"));
    if (o.json) {
        cli_print_json(summary, false);
    } else {
        printf("case %s: bundle written to %s: %lld file%s, %lld message%s, %lld audit proof "
               "file%s\n",
               o.case_id, o.out, (long long)json_integer_value(json_object_get(summary, "files")),
               json_integer_value(json_object_get(summary, "files")) == 1 ? "" : "s",
               (long long)json_integer_value(json_object_get(summary, "messages")),
               json_integer_value(json_object_get(summary, "messages")) == 1 ? "" : "s",
               (long long)json_integer_value(json_object_get(summary, "proofs")),
               json_integer_value(json_object_get(summary, "proofs")) == 1 ? "" : "s");
        if (o.audit_data == NULL)
            printf("no audit proofs: pass --audit-data with your broker's data directory to add "
                   "them\n");
        printf("check it with: liaison mlat verify-bundle %s\n", o.out);
        for (size_t i = 0; i < json_array_size(recalled); i++) {
            json_t *r = json_array_get(recalled, i);

            printf("recalled, not exported: %s %s from %s, deleted %s (recall %s: %s)\n",
                   json_string_value(json_object_get(r, "kind")),
                   json_string_value(json_object_get(r, "message")),
                   json_string_value(json_object_get(r, "sender")),
                   json_string_value(json_object_get(r, "deleted")),
                   json_string_value(json_object_get(r, "recall")),
                   json_string_value(json_object_get(r, "reason")));
        }
    }
done:
    json_decref(recalled);
    json_decref(summary);
    cli_mlat_case_free(&mc);
    proto_identity_destroy(&me);
    liaison_client_close(&c);
    casebook_close(&cb);
    return rc;
}

static int
cmd_verify_bundle(int argc, char **argv)
{
    const char *dir = NULL, *trusted = NULL;
    bool json = false;
    json_t *report = NULL, *x;
    size_t i;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_verify, stdout);
        return EX_OK;
    }
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[k], "--roster") == 0 && k + 1 < argc) {
            trusted = argv[++k];
        } else if (argv[k][0] != '-' && dir == NULL) {
            dir = argv[k];
        } else {
            cli_error(SUB, "verify-bundle: unexpected '%s' (see --help)", argv[k]);
            return EX_USAGE;
        }
    }
    if (dir == NULL) {
        cli_error(SUB, "verify-bundle: the bundle directory is required");
        return EX_USAGE;
    }
    rc = bundle_verify(dir, trusted, &report);
    if (rc == EX_NOINPUT) {
        cli_error(SUB, "verify-bundle: %s: %s", trusted != NULL ? "the bundle or the trusted roster"
                                                                : dir,
                  json_string_value(json_object_get(report, "error")));
        json_decref(report);
        return rc;
    }
    if (json) {
        cli_print_json(report, false);
    } else {
        json_t *ck = json_object_get(report, "checked");

        printf("bundle %s (case %s)\n", dir,
               json_string_value(json_object_get(report, "case")) != NULL
                   ? json_string_value(json_object_get(report, "case"))
                   : "?");
        printf("  envelopes  %lld signatures verify\n",
               (long long)json_integer_value(json_object_get(ck, "envelopes")));
        printf("  files      %lld file%s, %lld chunk%s match their hashes\n",
               (long long)json_integer_value(json_object_get(ck, "files")),
               json_integer_value(json_object_get(ck, "files")) == 1 ? "" : "s",
               (long long)json_integer_value(json_object_get(ck, "chunks")),
               json_integer_value(json_object_get(ck, "chunks")) == 1 ? "" : "s");
        printf("  custody    %lld signatures verify\n",
               (long long)json_integer_value(json_object_get(ck, "custody")));
        printf("  proofs     %lld audit records proven in signed tree heads\n",
               (long long)json_integer_value(json_object_get(ck, "proofs")));
        json_array_foreach(json_object_get(report, "warnings"), i, x) printf("  warning: %s\n",
                                                                            json_string_value(x));
        json_array_foreach(json_object_get(report, "failures"), i, x)
            printf("  FAIL %s: %s\n", json_string_value(json_object_get(x, "file")),
                   json_string_value(json_object_get(x, "message")));
        printf(rc == 0 ? "OK: the bundle verifies\n" : "FAILED: the bundle does not verify\n");
    }
    if (rc != 0) {
        x = json_array_get(json_object_get(report, "failures"), 0);
        cli_error(SUB, "verify-bundle: %zu problem%s; first: %s: %s",
                  json_array_size(json_object_get(report, "failures")),
                  json_array_size(json_object_get(report, "failures")) == 1 ? "" : "s",
                  json_string_value(json_object_get(x, "file")),
                  json_string_value(json_object_get(x, "message")));
    }
    json_decref(report);
    return rc;
}

int
cli_mlat_main(int argc, char **argv)
{
    static const struct {
        const char *name;  /* subcommand */
        cli_main_fn fn;    /* its entry point */
    } cmds[] = {
        {"submit", cmd_submit},
        {"status", cmd_status},
        {"respond", cmd_respond},
        {"evidence", cmd_evidence},
        {"export", cmd_export},
        {"verify-bundle", cmd_verify_bundle},
    };

    /* Library logs would mix with the output; the commands report errors themselves. */
    proto_log_configure(NULL, NULL, PROTO_LOG_ERROR);
    if (argc < 2) {
        fputs(usage_mlat, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_mlat, stdout);
        return EX_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    cli_error(SUB, "unknown command '%s' (see liaison mlat --help)", argv[1]);
    return EX_USAGE;
}
