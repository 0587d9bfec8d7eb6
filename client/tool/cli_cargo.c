/* liaison cargo: container screening requests to the port of loading, their acknowledgements, results and do-not-load recommendations. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_bundle.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define SUB "cargo"
#define LIST_MAX 32u
#define SHIPMENT_MAX (64u * 1024u)   /* bytes of a --shipment file */
#define DEFAULT_WAIT_S 2
#define REQUESTS_MAX 4096u           /* requests one status lists */

static const char usage_cargo[] =
    "NAME\n"
    "    liaison cargo - container screening with the customs service of the port of loading\n\n"
    "SYNOPSIS\n"
    "    liaison cargo alert --alert ID --shipment FILE --risk high|medium|low\n"
    "                        --indicator TEXT... [options]\n"
    "    liaison cargo request --request ID --to AGENCY --shipment FILE --indicator TEXT...\n"
    "                          --examination scan|physical|scan-and-physical --deadline TIME\n"
    "                          [options]\n"
    "    liaison cargo donotload (--recommend | --lift) --recommendation ID --container C\n"
    "                            --reason TEXT --to AGENCY [options]\n"
    "    liaison cargo status [ID] [--now TIME] [--json] --state DIR [options]\n"
    "    liaison cargo result REQUEST --config AGENT_CONFIG --outcome OUTCOME --officer REF\n"
    "                         [--file PATH]... [options]\n"
    "    liaison cargo requests --config AGENT_CONFIG [--now TIME] [--json]\n\n"
    "DESCRIPTION\n"
    "    Messages of the cargo.* family (docs/messages.md).  The requesting service\n"
    "    sends alerts, requests and do-not-load recommendations, and follows them\n"
    "    with status (its casebook under --state).  The port of loading's agent\n"
    "    acknowledges each request; its officers record results with result, and\n"
    "    list what was received with requests.  Every message is checked before it\n"
    "    is sent.  Each command has its own page: liaison cargo <command> --help.\n\n"
    "EXIT STATUS\n"
    "    0 done; 2 rejected by the broker; 64 bad usage; 65 bad data (a bad\n"
    "    container number, a past deadline, a missing field); 66 no such request;\n"
    "    69 broker unreachable; 75 no answer from the broker in time; 77 the broker\n"
    "    refused the agency's key.\n";

static const char usage_alert[] =
    "NAME\n"
    "    liaison cargo alert - send a risk alert about a container\n\n"
    "SYNOPSIS\n"
    "    liaison cargo alert --alert ID --shipment FILE --risk high|medium|low\n"
    "                        --indicator TEXT... [--note TEXT] [--to SELECTOR...]\n"
    "                        [--labels LABELS] [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends a cargo.alert, with ID as the case id, to every partner service that\n"
    "    accepts cargo.* (--to *, the default) or to those named.  FILE holds the\n"
    "    shipment object of docs/messages.md (at most 64 KiB).  --note adds the\n"
    "    enforcement note in a portion of its own, labelled with the caveat\n"
    "    ENFORCEMENT as well, so partners' policies can withhold it.\n\n"
    "OPTIONS\n"
    "    --alert ID         the alert id, e.g. CBP-ALERT-2026-0001 (at most 64)\n"
    "    --shipment FILE    the shipment, JSON\n"
    "    --risk LEVEL       high, medium or low\n"
    "    --indicator TEXT   a risk indicator; repeat for several (1 to 32)\n"
    "    --note TEXT        the enforcement note\n"
    "    --to SELECTOR      recipients (default *)\n"
    "    --labels LABELS    labels of the message and portion 0 (default LES)\n"
    "    --json             print {id, alert, result}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 65 the shipment or a field\n"
    "    does not check (\"liaison: cargo: <field>: <reason>\"); 66 FILE cannot be read;\n"
    "    69 broker unreachable; 75 no answer in time; 77 the broker refused the key.\n";

static const char usage_request[] =
    "NAME\n"
    "    liaison cargo request - ask the port of loading to examine a container\n\n"
    "SYNOPSIS\n"
    "    liaison cargo request --request ID --to AGENCY --shipment FILE --indicator TEXT...\n"
    "                          --examination scan|physical|scan-and-physical --deadline TIME\n"
    "                          [--alert ID] [--note TEXT] [--labels LABELS] [--json]\n"
    "                          --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends a cargo.request to AGENCY, the customs service of the port of loading,\n"
    "    with ID as the case id; requesting is this agency, requested is AGENCY.\n"
    "    The request is checked first: the container number and its ISO 6346 check\n"
    "    digit, the ports, the vessel, and the deadline (RFC 3339 UTC), which must be\n"
    "    in the future and no later than the shipment's departure.  The port's agent\n"
    "    answers with cargo.ack received; its officer later with cargo.result (see\n"
    "    liaison cargo status).\n\n"
    "OPTIONS\n"
    "    --request ID       the request id, e.g. CBP-CSR-2026-0001 (at most 64)\n"
    "    --to AGENCY        the requested service, e.g. MEX/ANAM\n"
    "    --shipment FILE    the shipment, JSON (at most 64 KiB)\n"
    "    --indicator TEXT   a risk indicator; repeat for several (1 to 32)\n"
    "    --examination E    scan, physical or scan-and-physical\n"
    "    --deadline TIME    when the result is due, e.g. 2026-12-08T12:00:00Z\n"
    "    --alert ID         the alert the request follows\n"
    "    --note TEXT        the enforcement note (its own portion, caveat ENFORCEMENT)\n"
    "    --labels LABELS    labels (default LES)\n"
    "    --json             print {id, request, result}\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 65 a field does not\n"
    "    check (nothing is sent); 66 FILE cannot be read; 69 broker unreachable;\n"
    "    75 no answer in time; 77 the broker refused the key.\n\n"
    "EXAMPLES\n"
    "    liaison cargo request --request CBP-CSR-2026-0001 --to MEX/ANAM \\\n"
    "        --shipment msc-alina.json --indicator 'consignee first import' \\\n"
    "        --examination scan --deadline 2026-12-08T12:00:00Z\n";

static const char usage_donotload[] =
    "NAME\n"
    "    liaison cargo donotload - recommend not loading a container, or lift it\n\n"
    "SYNOPSIS\n"
    "    liaison cargo donotload (--recommend | --lift) --recommendation ID --container C\n"
    "                            --reason TEXT [--request ID] [--bl B/L] --to AGENCY\n"
    "                            [--labels LABELS] [--json] --state DIR [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends a cargo.donotload (action recommend or lift) with the recommendation\n"
    "    id as the case id.  A lift carries the recommendation's id.  liaison cargo\n"
    "    status shows DO-NOT-LOAD against the request while it is active.\n\n"
    "OPTIONS\n"
    "    --recommend | --lift   the action\n"
    "    --recommendation ID    its id (at most 64)\n"
    "    --container C          the ISO 6346 container number\n"
    "    --reason TEXT          why\n"
    "    --request ID           the request it follows\n"
    "    --bl B/L               the bill of lading\n"
    "    --to AGENCY            the port of loading's service\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 accepted; 2 rejected by the broker; 64 bad usage; 65 a field does not\n"
    "    check; 69 broker unreachable; 75 no answer in time; 77 the broker refused\n"
    "    the key.\n";

static const char usage_status[] =
    "NAME\n"
    "    liaison cargo status - the requester's view of its screening requests\n\n"
    "SYNOPSIS\n"
    "    liaison cargo status [ID] [--now TIME] [--wait SECONDS] [--json] --state DIR\n"
    "                         [connection options]\n\n"
    "DESCRIPTION\n"
    "    First receives what the broker holds for this agency into the casebook\n"
    "    (acknowledging each message only once it is stored), then prints one line\n"
    "    per request sent: id, container, requested service, deadline and state\n"
    "    (sent, received, accepted, declined, or result: OUTCOME, with ANOMALY).\n"
    "    Requests whose deadline passed without a result are marked OVERDUE, those\n"
    "    under an active do-not-load recommendation DO-NOT-LOAD; both are listed\n"
    "    first.  With ID, the request's timeline: the request, the acknowledgements,\n"
    "    the result with its findings, seals after, officer and files (each file's\n"
    "    SHA-256, and whether the bytes received match it and its custody signatures\n"
    "    verify with the roster), and the do-not-load recommendations.\n\n"
    "OPTIONS\n"
    "    --now TIME     judge deadlines at TIME instead of now\n"
    "    --wait SECS    stop receiving after this long without a message (default 2)\n"
    "    --json         print one JSON object ({requests: [...]}, or the request's)\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 printed; 64 bad usage or no --state; 65 bad key or roster; 66 no such\n"
    "    request in the casebook; 69/75/77 as for every command.\n";

static const char usage_result[] =
    "NAME\n"
    "    liaison cargo result - record the result of an examination (port side)\n\n"
    "SYNOPSIS\n"
    "    liaison cargo result REQUEST --config AGENT_CONFIG\n"
    "                         --outcome not-examined|scanned|physically-examined\n"
    "                         [--reason TEXT] [--findings TEXT] [--anomaly]\n"
    "                         [--seal-after SEAL]... --officer REF [--examined TIME]\n"
    "                         [--file PATH]... [--json]\n\n"
    "DESCRIPTION\n"
    "    Records the result of request REQUEST (received by the agent of\n"
    "    AGENT_CONFIG) in the agent's store and returns once it is durable; the\n"
    "    running agent then sends the cargo.result to the requester, in reply to the\n"
    "    request.  Each --file (at most 8, 4 MiB each, 12 MiB in all) travels in a\n"
    "    portion of its own with its SHA-256, and gets two custody entries signed\n"
    "    with the agency's key: collected (by the officer) and transmitted to the\n"
    "    requester.  A result is recorded once; one the broker refused may be\n"
    "    recorded again.\n\n"
    "OPTIONS\n"
    "    --outcome O        not-examined (then --reason), scanned or physically-examined\n"
    "                       (then --findings)\n"
    "    --reason TEXT      why it was not examined\n"
    "    --findings TEXT    what was found\n"
    "    --anomaly          an anomaly was found\n"
    "    --seal-after SEAL  a seal put on after the examination; repeatable\n"
    "    --officer REF      the officer's reference\n"
    "    --examined TIME    when (default now, for an examination)\n"
    "    --file PATH        an image or report; repeatable\n"
    "    --json             print {request, from, files, state}\n\n"
    "EXIT STATUS\n"
    "    0 recorded; 64 bad usage; 65 the result does not check, or one was recorded\n"
    "    already; 66 no such request received, or a file cannot be read; 74 the\n"
    "    agent store failed; 78 bad configuration.\n";

static const char usage_requests[] =
    "NAME\n"
    "    liaison cargo requests - the port's view of the requests received\n\n"
    "SYNOPSIS\n"
    "    liaison cargo requests --config AGENT_CONFIG [--now TIME] [--json]\n\n"
    "DESCRIPTION\n"
    "    Lists what the agent received: each request with its sender, container,\n"
    "    vessel, departure, deadline, the acknowledgement sent, and whether a result\n"
    "    was recorded and sent; requests past their deadline without a result are\n"
    "    marked OVERDUE and listed first; active do-not-load recommendations and\n"
    "    alerts follow.\n\n"
    "OPTIONS\n"
    "    --now TIME   judge deadlines at TIME instead of now\n"
    "    --json       print {requests, alerts, donotload}\n\n"
    "EXIT STATUS\n"
    "    0 printed; 64 bad usage; 74 the agent store failed; 78 bad configuration.\n";

/* Options of the cargo commands; each command allows some (a mask of OPT_ bits). */
enum {
    O_ALERT = 1u << 0, O_REQUEST = 1u << 1, O_SHIPMENT = 1u << 2, O_RISK = 1u << 3,
    O_INDICATOR = 1u << 4, O_NOTE = 1u << 5, O_TO = 1u << 6, O_LABELS = 1u << 7,
    O_JSON = 1u << 8, O_EXAM = 1u << 9, O_DEADLINE = 1u << 10, O_ACTION = 1u << 11,
    O_RECO = 1u << 12, O_CONTAINER = 1u << 13, O_REASON = 1u << 14, O_BL = 1u << 15,
    O_NOW = 1u << 16, O_CONFIG = 1u << 17, O_OUTCOME = 1u << 18, O_FINDINGS = 1u << 19,
    O_ANOMALY = 1u << 20, O_SEAL = 1u << 21, O_OFFICER = 1u << 22, O_EXAMINED = 1u << 23,
    O_FILE = 1u << 24, O_WAIT = 1u << 25, O_CONN = 1u << 26,
};

typedef struct cg_opts {
    cli_conn conn;                        /* connection */
    unsigned given;                       /* O_ bits of the options given */
    const char *id;                       /* positional ID or REQUEST */
    const char *alert, *request, *shipment, *risk, *note, *labels, *examination;
    const char *deadline, *action, *recommendation, *container, *reason, *bl;
    const char *config, *outcome, *findings, *officer, *examined;
    const char *indicators[LIST_MAX];     /* --indicator */
    size_t indicator_count;               /* entries in indicators */
    const char *to[LIST_MAX];             /* --to */
    size_t to_count;                      /* entries in to */
    const char *seals[CARGO_SEALS_MAX];   /* --seal-after */
    size_t seal_count;                    /* entries in seals */
    const char *files[CARGO_FILES_MAX];   /* --file */
    size_t file_count;                    /* entries in files */
    uint64_t now_ms;                      /* --now, or the clock */
    long wait_s;                          /* --wait */
    bool anomaly;                         /* --anomaly */
    bool json;                            /* --json */
} cg_opts;

/* Parses argv for command argv[0], which allows the options of mask and
 * takes a positional ID when positional.  Returns EX_OK, EX_USAGE, or -1
 * after printing help. */
static int
parse(int argc, char **argv, const char *usage, unsigned mask, bool positional, cg_opts *o)
{
    static const struct {
        const char *name;   /* option */
        int has_arg;        /* getopt's */
        unsigned bit;       /* its O_ bit */
    } table[] = {
        {"alert", 1, O_ALERT}, {"request", 1, O_REQUEST}, {"shipment", 1, O_SHIPMENT},
        {"risk", 1, O_RISK}, {"indicator", 1, O_INDICATOR}, {"note", 1, O_NOTE},
        {"to", 1, O_TO}, {"labels", 1, O_LABELS}, {"json", 0, O_JSON},
        {"examination", 1, O_EXAM}, {"deadline", 1, O_DEADLINE}, {"recommend", 0, O_ACTION},
        {"lift", 0, O_ACTION}, {"recommendation", 1, O_RECO}, {"container", 1, O_CONTAINER},
        {"reason", 1, O_REASON}, {"bl", 1, O_BL}, {"now", 1, O_NOW}, {"config", 1, O_CONFIG},
        {"outcome", 1, O_OUTCOME}, {"findings", 1, O_FINDINGS}, {"anomaly", 0, O_ANOMALY},
        {"seal-after", 1, O_SEAL}, {"officer", 1, O_OFFICER}, {"examined", 1, O_EXAMINED},
        {"file", 1, O_FILE}, {"wait", 1, O_WAIT},
    };
    enum { N = sizeof(table) / sizeof(table[0]) };
    /* The table, the connection options and --help, and a zeroed end. */
    struct option options[N + 16];
    const char *name;
    int opt, idx;
    uint64_t ms;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->labels = "LES";
    o->wait_s = DEFAULT_WAIT_S;
    o->now_ms = liaison_now_ms();
    memset(options, 0, sizeof(options));
    for (size_t i = 0; i < N; i++) {
        options[i].name = table[i].name;
        options[i].has_arg = table[i].has_arg ? required_argument : no_argument;
        options[i].val = 2000 + (int)i;
    }
    {
        const struct option conn[] = {CLI_CONN_OPTIONS, {"help", no_argument, NULL, 'h'}};

        _Static_assert(sizeof(conn) / sizeof(conn[0]) < 16, "room for the options' end");
        memcpy(&options[N], conn, sizeof(conn));
    }
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, &idx)) != -1) {
        if (opt == 'h') {
            fputs(usage, stdout);
            return -1;
        }
        if (opt >= CLI_OPT_KEY && opt <= CLI_OPT_ACTOR) {
            if (!(mask & O_CONN)) {
                cli_error(SUB, "%s: the connection options are not options of this command (it "
                               "works on the agent's store: --config)", argv[0]);
                return EX_USAGE;
            }
            (void)cli_conn_option(&o->conn, opt, optarg);
            continue;
        }
        if (opt < 2000 || opt >= 2000 + (int)N) {
            cli_error(SUB, "%s: unknown option or missing value '%s' (see --help)", argv[0],
                      argv[optind - 1]);
            return EX_USAGE;
        }
        name = table[opt - 2000].name;
        if (!(mask & table[opt - 2000].bit)) {
            cli_error(SUB, "%s: --%s is not an option of this command (see --help)", argv[0],
                      name);
            return EX_USAGE;
        }
        if ((o->given & table[opt - 2000].bit) &&
            !(table[opt - 2000].bit & (O_INDICATOR | O_TO | O_SEAL | O_FILE))) {
            cli_error(SUB, "%s: --%s is given twice", argv[0],
                      table[opt - 2000].bit == O_ACTION ? "recommend or --lift" : name);
            return EX_USAGE;
        }
        o->given |= table[opt - 2000].bit;
        switch (table[opt - 2000].bit) {
        case O_ALERT: o->alert = optarg; break;
        case O_REQUEST: o->request = optarg; break;
        case O_SHIPMENT: o->shipment = optarg; break;
        case O_RISK: o->risk = optarg; break;
        case O_NOTE: o->note = optarg; break;
        case O_LABELS: o->labels = optarg; break;
        case O_JSON: o->json = true; break;
        case O_EXAM: o->examination = optarg; break;
        case O_DEADLINE: o->deadline = optarg; break;
        case O_ACTION: o->action = strcmp(name, "lift") == 0 ? "lift" : "recommend"; break;
        case O_RECO: o->recommendation = optarg; break;
        case O_CONTAINER: o->container = optarg; break;
        case O_REASON: o->reason = optarg; break;
        case O_BL: o->bl = optarg; break;
        case O_CONFIG: o->config = optarg; break;
        case O_OUTCOME: o->outcome = optarg; break;
        case O_FINDINGS: o->findings = optarg; break;
        case O_ANOMALY: o->anomaly = true; break;
        case O_OFFICER: o->officer = optarg; break;
        case O_EXAMINED: o->examined = optarg; break;
        case O_NOW:
            if (!proto_time_parse(optarg, &ms)) {
                cli_error(SUB, "%s: --now takes a time, e.g. 2026-12-08T12:00:00Z", argv[0]);
                return EX_USAGE;
            }
            o->now_ms = ms;
            break;
        case O_WAIT: {
            char *end = NULL;

            o->wait_s = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || o->wait_s <= 0 || o->wait_s > 3600) {
                cli_error(SUB, "%s: --wait takes a number of seconds (1 to 3600)", argv[0]);
                return EX_USAGE;
            }
            break;
        }
        case O_INDICATOR:
        case O_TO:
        case O_SEAL:
        case O_FILE: {
            unsigned bit = table[opt - 2000].bit;
            const char **list = bit == O_INDICATOR ? o->indicators
                                : bit == O_TO      ? o->to
                                : bit == O_SEAL    ? o->seals
                                                   : o->files;
            size_t *n = bit == O_INDICATOR ? &o->indicator_count
                        : bit == O_TO      ? &o->to_count
                        : bit == O_SEAL    ? &o->seal_count
                                           : &o->file_count;
            size_t cap = bit == O_INDICATOR ? LIST_MAX
                         : bit == O_TO      ? LIST_MAX
                         : bit == O_SEAL    ? CARGO_SEALS_MAX
                                            : CARGO_FILES_MAX;

            if (*n == cap) {
                cli_error(SUB, "%s: --%s is given more than %zu times", argv[0], name, cap);
                return EX_USAGE;
            }
            list[(*n)++] = optarg;
            break;
        }
        default: break;
        }
    }
    if (positional && optind < argc)
        o->id = argv[optind++];
    if (optind != argc) {
        cli_error(SUB, "%s: unexpected argument '%s' (see --help)", argv[0], argv[optind]);
        return EX_USAGE;
    }
    return EX_OK;
}

/* Says which of the options named in need (NULL-ended pairs of value and
 * name) is missing. */
static int
need(const char *cmd, const char *const *pairs)
{
    for (size_t i = 0; pairs[i + 1] != NULL; i += 2) {
        if (pairs[i] == NULL || pairs[i][0] == '\0') {
            cli_error(SUB, "%s: %s is required (see --help)", cmd, pairs[i + 1]);
            return EX_USAGE;
        }
    }
    return EX_OK;
}

/* Checks body as kind with cargo_message_check; prints the field and reason. */
static int
check_body(const char *kind, const json_t *body, uint64_t now_ms)
{
    cargo_detail d;

    memset(&d, 0, sizeof(d));
    if (cargo_message_check(kind, body, now_ms, &d) == CARGO_OK)
        return EX_OK;
    cli_error(SUB, "%s: %s", d.field[0] ? d.field : kind, d.text);
    return EX_DATAERR;
}

/* Reads the shipment file (at most SHIPMENT_MAX bytes) as a JSON object. */
static int
read_shipment(const char *path, json_t **out)
{
    struct stat sb;
    uint8_t *data = NULL;
    size_t len = 0;
    json_error_t jerr;

    if (stat(path, &sb) != 0) {
        cli_error(SUB, "%s: %s", path, strerror(errno));
        return EX_NOINPUT;
    }
    if (sb.st_size > (off_t)SHIPMENT_MAX) {
        cli_error(SUB, "%s: a shipment file is at most %u bytes", path, SHIPMENT_MAX);
        return EX_DATAERR;
    }
    if (cli_read_file(path, &data, &len) != 0) {
        cli_error(SUB, "%s: %s", path, strerror(errno));
        return EX_NOINPUT;
    }
    *out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    free(data);
    if (*out == NULL || !json_is_object(*out)) {
        if (*out == NULL)
            cli_error(SUB, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        else
            cli_error(SUB, "%s: the shipment must be a JSON object", path);
        json_decref(*out);
        *out = NULL;
        return EX_DATAERR;
    }
    return EX_OK;
}

static json_t *
str_array(const char *const *items, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

/* labels with the caveat ENFORCEMENT added, into out. */
static int
enforcement_labels(const char *labels, char *out, size_t out_len)
{
    proto_labels l;
    proto_detail d = {{0}, {0}};

    if (proto_labels_parse(labels, &l, &d) != PROTO_OK) {
        cli_error(SUB, "--labels: %s", d.text);
        return EX_USAGE;
    }
    {
        bool have = false;

        for (size_t i = 0; i < l.caveat_count; i++)
            have = have || strcmp(l.caveats[i], "ENFORCEMENT") == 0;
        /* Without its caveat the note would go wherever portion 0 goes. */
        if (!have && l.caveat_count == PROTO_CAVEATS_MAX) {
            cli_error(SUB, "--labels: %u caveats already; no room for ENFORCEMENT on the note",
                      (unsigned)PROTO_CAVEATS_MAX);
            return EX_USAGE;
        }
        if (!have)
            snprintf(l.caveats[l.caveat_count++], sizeof(l.caveats[0]), "ENFORCEMENT");
    }
    if (proto_labels_format(&l, out, out_len) != PROTO_OK) {
        cli_error(SUB, "--labels: too long with the caveat ENFORCEMENT");
        return EX_USAGE;
    }
    return EX_OK;
}

/* ---- alert, request, donotload ------------------------------------------------------------ */

/* Checks body as kind at now, then sends it (with the note portion when
 * note is not NULL) to to, with case_id, and records it in the casebook. */
static int
send_checked(const char *cmd, cg_opts *o, const char *kind, json_t *body, const char *case_id,
             const char *const *to, size_t to_count, const char *note)
{
    liaison_message *m = NULL;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    cli_outgoing out;
    json_t *note_body = NULL;
    char *note_text = NULL, note_labels[PROTO_LABELS_TEXT_MAX], hex[33];
    const uint8_t *extra[1];
    size_t extra_len[1];
    uint8_t id[16];
    int rc;

    if (note != NULL) {
        json_object_set_new(body, "note_portion", json_integer(1));
        if ((rc = enforcement_labels(o->labels, note_labels, sizeof(note_labels))) != EX_OK)
            goto done;
        note_body = json_pack("{s:s, s:s}", "schema", "cargo.note/1", "note", note);
        note_text = json_dumps(note_body, JSON_COMPACT);
        if (note_text == NULL) {
            rc = EX_SOFTWARE;
            goto done;
        }
        extra[0] = (const uint8_t *)note_text;
        extra_len[0] = strlen(note_text);
    }
    if ((rc = check_body(kind, body, o->now_ms)) != EX_OK)
        goto done;
    if ((rc = cli_casebook_open(cmd, &o->conn, &cb)) != EX_OK)
        goto done;
    memset(&out, 0, sizeof(out));
    out.kind = kind;
    out.to = to;
    out.to_count = to_count;
    out.labels = o->labels;
    out.case_id = case_id;
    out.ttl_s = CLI_LONG_TTL_S;
    out.body = body;
    if ((rc = cli_outgoing_build(cmd, &out, &m)) != EX_OK)
        goto done;
    /* The note portion carries the caveat, portion 0 only the labels given
     * (cli_outgoing_build labels every portion alike). */
    if (note != NULL &&
        liaison_message_add_portion(m, note_labels, extra[0], extra_len[0], NULL) != LIAISON_OK) {
        cli_error(SUB, "%s: the note portion cannot be added under '%s'", cmd, note_labels);
        rc = EX_USAGE;
        goto done;
    }
    if ((rc = cli_connect(cmd, &o->conn, false, &c)) != EX_OK)
        goto done;
    if ((rc = cli_outgoing_send(cmd, c, cb, &out, m, &o->conn, o->json, id)) != EX_OK)
        goto done;
    liaison_id_to_hex(id, hex);
    if (o->json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "id", hex, "kind", kind, "case", case_id,
                              "result", "accepted");

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: %s %s\n", hex, kind, case_id);
    }
done:
    free(note_text);
    json_decref(note_body);
    liaison_client_close(&c);
    liaison_message_destroy(&m);
    casebook_close(&cb);
    return rc;
}

static int
cmd_alert(int argc, char **argv)
{
    cg_opts o;
    json_t *shipment = NULL, *body = NULL;
    static const char *const star[] = {"*"};
    int rc = parse(argc, argv, usage_alert,
                   O_ALERT | O_SHIPMENT | O_RISK | O_INDICATOR | O_NOTE | O_TO | O_LABELS |
                       O_JSON | O_CONN,
                   false, &o);

    if (rc != EX_OK)
        return rc < 0 ? EX_OK : rc;
    {
        const char *const req[] = {o.alert, "--alert", o.shipment, "--shipment", o.risk, "--risk",
                                   o.indicator_count ? "x" : NULL, "--indicator", NULL, NULL};

        if ((rc = need("alert", req)) != EX_OK)
            return rc;
    }
    if ((rc = read_shipment(o.shipment, &shipment)) != EX_OK)
        return rc;
    body = json_pack("{s:s, s:s, s:O, s:s, s:o}", "schema", "cargo.alert/1", "alert", o.alert,
                     "shipment", shipment, "risk", o.risk, "indicators",
                     str_array(o.indicators, o.indicator_count));
    rc = send_checked("cargo alert", &o, "cargo.alert", body, o.alert,
                      o.to_count ? o.to : star, o.to_count ? o.to_count : 1, o.note);
    json_decref(body);
    json_decref(shipment);
    return rc;
}

static int
cmd_request(int argc, char **argv)
{
    cg_opts o;
    json_t *shipment = NULL, *body = NULL;
    proto_identity *me = NULL;
    proto_detail d = {{0}, {0}};
    char self[PROTO_ADDR_TEXT_MAX + 1];
    int rc = parse(argc, argv, usage_request,
                   O_REQUEST | O_TO | O_SHIPMENT | O_INDICATOR | O_EXAM | O_DEADLINE | O_ALERT |
                       O_NOTE | O_LABELS | O_JSON | O_CONN,
                   false, &o);

    if (rc != EX_OK)
        return rc < 0 ? EX_OK : rc;
    {
        const char *const req[] = {o.request, "--request", o.to_count ? "x" : NULL, "--to",
                                   o.shipment, "--shipment", o.indicator_count ? "x" : NULL,
                                   "--indicator", o.examination, "--examination", o.deadline,
                                   "--deadline", NULL, NULL};

        if ((rc = need("request", req)) != EX_OK)
            return rc;
    }
    if (o.to_count != 1) {
        cli_error(SUB, "request: --to names one agency, the port of loading's customs service");
        return EX_USAGE;
    }
    if (o.conn.key == NULL || proto_keyfile_read(o.conn.key, &me, &d) != PROTO_OK) {
        cli_error(SUB, "request: the requesting agency is the key's: %s",
                  o.conn.key == NULL ? "no key file given (--key or LIAISON_KEY)" : d.text);
        return o.conn.key == NULL ? EX_USAGE : EX_DATAERR;
    }
    proto_addr_format(&me->addr, self, sizeof(self));
    proto_identity_destroy(&me);
    if ((rc = read_shipment(o.shipment, &shipment)) != EX_OK)
        return rc;
    body = json_pack("{s:s, s:s, s:s, s:s, s:O, s:o, s:s, s:s}", "schema", "cargo.request/1",
                     "request", o.request, "requesting", self, "requested", o.to[0], "shipment",
                     shipment, "indicators", str_array(o.indicators, o.indicator_count),
                     "examination", o.examination, "deadline", o.deadline);
    if (o.alert != NULL)
        json_object_set_new(body, "alert", json_string(o.alert));
    rc = send_checked("cargo request", &o, "cargo.request", body, o.request, o.to, 1, o.note);
    json_decref(body);
    json_decref(shipment);
    return rc;
}

static int
cmd_donotload(int argc, char **argv)
{
    cg_opts o;
    json_t *body = NULL;
    int rc = parse(argc, argv, usage_donotload,
                   O_ACTION | O_RECO | O_CONTAINER | O_REASON | O_REQUEST | O_BL | O_TO |
                       O_LABELS | O_JSON | O_CONN,
                   false, &o);

    if (rc != EX_OK)
        return rc < 0 ? EX_OK : rc;
    {
        const char *const req[] = {o.action, "--recommend or --lift", o.recommendation,
                                   "--recommendation", o.container, "--container", o.reason,
                                   "--reason", o.to_count ? "x" : NULL, "--to", NULL, NULL};

        if ((rc = need("donotload", req)) != EX_OK)
            return rc;
    }
    body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "schema", "cargo.donotload/1", "recommendation",
                     o.recommendation, "action", o.action, "container", o.container, "reason",
                     o.reason);
    if (o.request != NULL)
        json_object_set_new(body, "request", json_string(o.request));
    if (o.bl != NULL)
        json_object_set_new(body, "bill_of_lading", json_string(o.bl));
    rc = send_checked("cargo donotload", &o, "cargo.donotload", body, o.recommendation, o.to,
                      o.to_count, NULL);
    json_decref(body);
    return rc;
}

/* ---- status ------------------------------------------------------------------------------------ */

static json_t *
time_json(uint64_t ms)
{
    char t[32];

    return ms == 0 ? json_null() : json_string(proto_time_format(ms, t));
}

static const char *
str_of(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));

    return s != NULL ? s : "";
}

/* Checks the files of a received cargo.result (entry, with its envelope):
 * each file's bytes, opened with me, against its chunk hash and its hash,
 * and its custody signatures with roster.  Returns the files as JSON. */
static json_t *
result_files(const casebook_entry *e, const json_t *result, const proto_identity *me,
             const proto_roster *roster)
{
    json_t *out = json_array(), *f;
    proto_envelope *env = malloc(sizeof(*env));
    proto_detail d = {{0}, {0}};
    bool decoded = env != NULL && e->raw != NULL &&
                   proto_envelope_decode(e->raw, e->raw_len, env, &d) == PROTO_OK;
    size_t i;

    json_array_foreach(json_object_get(result, "files"), i, f) {
        const char *name = str_of(f, "name"), *sha = str_of(f, "sha256");
        json_int_t portion = json_integer_value(json_object_get(f, "portion"));
        json_t *x = json_pack("{s:s, s:O, s:s}", "name", name, "size", json_object_get(f, "size"),
                              "sha256", sha), *c;
        char why[320] = "", hex[65] = "";
        size_t k, custody = 0, custody_ok = 0;
        bool hash_ok = false;

        if (decoded && portion >= 1 && (size_t)portion < env->portion_count && me != NULL) {
            size_t len = proto_envelope_plain_len(env, (size_t)portion), n = 0;
            uint8_t *plain = malloc(len > 0 ? len : 1), h[PROTO_HASH_BYTES];

            if (plain != NULL &&
                proto_envelope_open(env, (size_t)portion, me, plain, &n) == PROTO_OK) {
                proto_sha256(plain, n, h);
                proto_hex(h, sizeof(h), hex);
                hash_ok = strcmp(hex, str_of(f, "chunk_sha256")) == 0 && strcmp(hex, sha) == 0 &&
                          (json_int_t)n == json_integer_value(json_object_get(f, "size"));
                if (!hash_ok)
                    snprintf(why, sizeof(why), "the bytes received hash to %.16s...", hex);
            } else if (proto_envelope_portion_withheld(env, (size_t)portion)) {
                char nation[PROTO_NATION_LEN + 1], rule[PROTO_RULE_ID_MAX + 1];

                /* The note is the withholding broker's word, not the sender's. */
                if (!proto_envelope_portion_note(env, (size_t)portion, nation, rule))
                    snprintf(why, sizeof(why), "portion %lld withheld by a broker",
                             (long long)portion);
                else
                    snprintf(why, sizeof(why), "portion %lld withheld by %s policy%s%s, as the "
                             "broker states", (long long)portion, nation,
                             rule[0] != '\0' ? " rule " : "", rule);
            } else {
                snprintf(why, sizeof(why), "portion %lld cannot be opened", (long long)portion);
            }
            free(plain);
        } else {
            snprintf(why, sizeof(why), "portion %lld is not in the message", (long long)portion);
        }
        json_array_foreach(json_object_get(result, "custody"), k, c) {
            char cwhy[200];

            if (strcmp(str_of(c, "file"), name) != 0)
                continue;
            custody++;
            if (strcmp(str_of(c, "sha256"), sha) == 0 &&
                bundle_custody_check(c, roster, cwhy, sizeof(cwhy)) == 0)
                custody_ok++;
            else if (why[0] == '\0')
                snprintf(why, sizeof(why), "custody: %s",
                         strcmp(str_of(c, "sha256"), sha) != 0 ? "an entry names another hash"
                                                               : cwhy);
        }
        json_object_set_new(x, "hash_ok", json_boolean(hash_ok));
        json_object_set_new(x, "custody", json_integer((json_int_t)custody));
        json_object_set_new(x, "custody_ok", json_boolean(custody > 0 && custody_ok == custody));
        if (why[0] != '\0')
            json_object_set_new(x, "problem", json_string(why));
        json_array_append_new(out, x);
    }
    free(env);
    return out;
}

/* The latest action of each do-not-load recommendation sent:
 * {recommendation: {action, request, container, reason, time}}. */
static json_t *
donotloads(const casebook_list *dnl)
{
    json_t *by = json_object();

    for (size_t i = 0; i < dnl->count; i++) {
        char why[128];
        json_t *b = cli_body_parse(dnl->entries[i]->body, "cargo.donotload/1", why), *old;
        const char *id = str_of(b, "recommendation");

        if (b == NULL)
            continue;
        old = json_object_get(by, id);
        if (old == NULL || (uint64_t)json_integer_value(json_object_get(old, "ms")) <=
                               dnl->entries[i]->time_ms) {
            json_object_set_new(b, "ms", json_integer((json_int_t)dnl->entries[i]->time_ms));
            json_object_set(by, id, b);
        }
        json_decref(b);
    }
    return by;
}

/* What the casebook says of the request sent as entry: a JSON summary, and
 * with detail the timeline and the checked files. */
static json_t *
request_view(casebook *cb, const casebook_entry *sent, json_t *dnl, uint64_t now,
             bool detail, const proto_identity *me, const proto_roster *roster)
{
    char why[128], t[32];
    json_t *req = cli_body_parse(sent->body, "cargo.request/1", why), *v, *timeline, *dl, *r;
    casebook_list *list = NULL;
    const char *id, *container, *state = "sent", *k;
    uint64_t deadline = 0;
    bool has_result = false, anomaly = false, active = false;
    char statebuf[96];

    if (req == NULL)
        return NULL;
    id = str_of(req, "request");
    container = str_of(json_object_get(req, "shipment"), "container");
    (void)proto_time_parse(str_of(req, "deadline"), &deadline);
    timeline = json_array();
    json_array_append_new(timeline, json_pack("{s:o, s:s, s:s}", "time", time_json(sent->time_ms),
                                              "from", "", "kind", "cargo.request"));
    v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "request", id, "container", container,
                  "requested", str_of(req, "requested"), "examination",
                  str_of(req, "examination"), "deadline", str_of(req, "deadline"), "sent",
                  proto_time_format(sent->time_ms, t));
    if (casebook_list_case(cb, "cargo", id, detail, &list) == CASEBOOK_OK) {
        for (size_t i = 0; i < list->count; i++) {
            const casebook_entry *e = list->entries[i];
            uint64_t when = e->created_ms != 0 ? e->created_ms : e->time_ms;
            json_t *b;

            if (e->sent)
                continue;
            if (strcmp(e->kind, "cargo.ack") == 0 &&
                (b = cli_body_parse(e->body, "cargo.ack/1", why)) != NULL) {
                if (!has_result)
                    state = strcmp(str_of(b, "status"), "declined") == 0   ? "declined"
                            : strcmp(str_of(b, "status"), "accepted") == 0 ? "accepted"
                            : strcmp(state, "accepted") == 0               ? state
                                                                           : "received";
                json_array_append_new(timeline,
                                      json_pack("{s:o, s:s, s:s, s:s, s:s}", "time",
                                                time_json(when), "from", e->peer, "kind",
                                                "cargo.ack", "status", str_of(b, "status"),
                                                "note", str_of(b, "note")));
                json_decref(b);
            } else if (strcmp(e->kind, "cargo.result") == 0 &&
                       (b = cli_body_parse(e->body, "cargo.result/1", why)) != NULL) {
                json_t *x = json_pack("{s:o, s:s, s:s, s:O}", "time", time_json(when), "from",
                                      e->peer, "kind", "cargo.result", "result", b);

                has_result = true;
                anomaly = json_is_true(json_object_get(b, "anomaly"));
                snprintf(statebuf, sizeof(statebuf), "result: %s%s", str_of(b, "outcome"),
                         anomaly ? " ANOMALY" : "");
                state = statebuf;
                if (detail)
                    json_object_set_new(x, "files", result_files(e, b, me, roster));
                json_array_append_new(timeline, x);
                json_decref(b);
            }
        }
    }
    casebook_list_free(&list);
    dl = json_array();
    json_object_foreach(dnl, k, r) {
        if (strcmp(str_of(r, "request"), id) == 0 ||
            (str_of(r, "request")[0] == '\0' && strcmp(str_of(r, "container"), container) == 0)) {
            bool on = strcmp(str_of(r, "action"), "recommend") == 0;

            active = active || on;
            json_array_append_new(dl, json_pack("{s:s, s:s, s:s, s:b}", "recommendation", k,
                                                "action", str_of(r, "action"), "reason",
                                                str_of(r, "reason"), "active", on));
        }
    }
    json_object_set_new(v, "state", json_string(state));
    json_object_set_new(v, "anomaly", json_boolean(anomaly));
    json_object_set_new(v, "overdue", json_boolean(!has_result && deadline != 0 && now > deadline));
    json_object_set_new(v, "donotload", json_boolean(active));
    json_object_set_new(v, "recommendations", dl);
    if (detail)
        json_object_set_new(v, "timeline", timeline);
    else
        json_decref(timeline);
    json_decref(req);
    return v;
}

static void
print_timeline(const json_t *v)
{
    const json_t *ev, *r;
    size_t i;

    printf("request %s: container %s to %s, %s by %s\n", str_of(v, "request"),
           str_of(v, "container"), str_of(v, "requested"), str_of(v, "examination"),
           str_of(v, "deadline"));
    printf("  state: %s%s%s\n", str_of(v, "state"),
           json_is_true(json_object_get(v, "overdue")) ? "  OVERDUE" : "",
           json_is_true(json_object_get(v, "donotload")) ? "  DO-NOT-LOAD" : "");
    json_array_foreach(json_object_get(v, "timeline"), i, ev) {
        const json_t *res = json_object_get(ev, "result"), *f, *s;
        const char *from = str_of(ev, "from");
        size_t k;

        printf("  %-22s %-10s %s", json_is_string(json_object_get(ev, "time"))
                                       ? str_of(ev, "time") : "-",
               from[0] ? from : "sent", str_of(ev, "kind"));
        if (strcmp(str_of(ev, "kind"), "cargo.ack") == 0) {
            printf(" %s%s%s\n", str_of(ev, "status"), str_of(ev, "note")[0] ? ": " : "",
                   str_of(ev, "note"));
            continue;
        }
        if (res == NULL) {
            putchar('\n');
            continue;
        }
        printf(" %s%s\n", str_of(res, "outcome"),
               json_is_true(json_object_get(res, "anomaly")) ? " ANOMALY" : "");
        if (str_of(res, "findings")[0])
            printf("      findings:   %s\n", str_of(res, "findings"));
        if (str_of(res, "reason")[0])
            printf("      reason:     %s\n", str_of(res, "reason"));
        if (json_array_size(json_object_get(res, "seals_after")) > 0) {
            printf("      seals after:");
            json_array_foreach(json_object_get(res, "seals_after"), k, s)
                printf(" %s", json_string_value(s));
            putchar('\n');
        }
        printf("      officer:    %s, examined %s\n", str_of(res, "officer"),
               str_of(res, "examined")[0] ? str_of(res, "examined") : "-");
        json_array_foreach(json_object_get(ev, "files"), k, f) {
            printf("      file %s  %lld bytes  sha256 %s\n", str_of(f, "name"),
                   (long long)json_integer_value(json_object_get(f, "size")), str_of(f, "sha256"));
            printf("        hash %s; custody %s (%lld entr%s)%s%s\n",
                   json_is_true(json_object_get(f, "hash_ok")) ? "checks" : "DOES NOT CHECK",
                   json_is_true(json_object_get(f, "custody_ok")) ? "signatures verify"
                                                                  : "DOES NOT VERIFY",
                   (long long)json_integer_value(json_object_get(f, "custody")),
                   json_integer_value(json_object_get(f, "custody")) == 1 ? "y" : "ies",
                   str_of(f, "problem")[0] ? ": " : "", str_of(f, "problem"));
        }
    }
    json_array_foreach(json_object_get(v, "recommendations"), i, r)
        printf("  do-not-load %s: %s (%s)%s\n", str_of(r, "recommendation"), str_of(r, "action"),
               str_of(r, "reason"), json_is_true(json_object_get(r, "active")) ? "  DO-NOT-LOAD" : "");
}

static bool
flagged(const json_t *v)
{
    return json_is_true(json_object_get(v, "overdue")) ||
           json_is_true(json_object_get(v, "donotload"));
}

static int
cmd_status(int argc, char **argv)
{
    cg_opts o;
    liaison_client *c = NULL;
    casebook *cb = NULL;
    casebook_list *reqs = NULL, *dnl = NULL;
    proto_roster *roster = NULL;
    proto_identity *me = NULL;
    proto_detail d = {{0}, {0}};
    json_t *by_dnl = NULL, *views = json_array(), *v;
    size_t i;
    int rc;

    if ((rc = parse(argc, argv, usage_status, O_NOW | O_WAIT | O_JSON | O_CONN, true, &o)) != EX_OK) {
        json_decref(views);
        return rc < 0 ? EX_OK : rc;
    }
    if ((rc = cli_casebook_open("cargo status", &o.conn, &cb)) != EX_OK)
        goto done;
    if ((rc = cli_connect("cargo status", &o.conn, true, &c)) != EX_OK)
        goto done;
    if (proto_roster_load(o.conn.roster, &roster, &d) != PROTO_OK ||
        proto_keyfile_read(o.conn.key, &me, &d) != PROTO_OK) {
        cli_error(SUB, "status: %s", d.text);
        rc = EX_DATAERR;
        goto done;
    }
    if ((rc = cli_drain("cargo status", c, cb, (unsigned)o.wait_s * 1000u, NULL)) != EX_OK)
        goto done;
    if (casebook_list_kind(cb, true, "cargo.request", false, &reqs) != CASEBOOK_OK ||
        casebook_list_kind(cb, true, "cargo.donotload", false, &dnl) != CASEBOOK_OK) {
        cli_error(SUB, "status: the casebook cannot be read");
        rc = EX_IOERR;
        goto done;
    }
    by_dnl = donotloads(dnl);
    for (i = 0; i < reqs->count; i++) {
        char why[128];
        json_t *b = cli_body_parse(reqs->entries[i]->body, "cargo.request/1", why);
        bool want = o.id == NULL || (b != NULL && strcmp(str_of(b, "request"), o.id) == 0);

        json_decref(b);
        if (!want)
            continue;
        /* With ID, the timeline: request_view reads the replies' envelopes to check the files. */
        v = request_view(cb, reqs->entries[i], by_dnl, o.now_ms, o.id != NULL, me, roster);
        if (v != NULL)
            json_array_append_new(views, v);
    }
    if (o.id != NULL && json_array_size(views) == 0) {
        cli_error(SUB, "status: no request %s in the casebook at %s (it is kept where it was sent)",
                  o.id, o.conn.state);
        rc = EX_NOINPUT;
        goto done;
    }
    if (o.id != NULL) {
        /* The last request sent under this id is the one that counts. */
        v = json_array_get(views, json_array_size(views) - 1);
        if (o.json)
            cli_print_json(v, false);
        else
            print_timeline(v);
    } else if (o.json) {
        json_t *j = json_pack("{s:O}", "requests", views);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        size_t flagged_n = 0;

        printf("%-24s %-12s %-10s %-21s %s\n", "REQUEST", "CONTAINER", "TO", "DEADLINE", "STATE");
        /* Overdue requests and those under a do-not-load first. */
        for (int pass = 0; pass < 2; pass++) {
            json_array_foreach(views, i, v) {
                if (flagged(v) != (pass == 0))
                    continue;
                flagged_n += pass == 0;
                printf("%-24s %-12s %-10s %-21s %s%s%s\n", str_of(v, "request"),
                       str_of(v, "container"), str_of(v, "requested"), str_of(v, "deadline"),
                       str_of(v, "state"),
                       json_is_true(json_object_get(v, "overdue")) ? "  OVERDUE" : "",
                       json_is_true(json_object_get(v, "donotload")) ? "  DO-NOT-LOAD" : "");
            }
        }
        printf("%zu request%s, %zu needing attention\n", json_array_size(views),
               json_array_size(views) == 1 ? "" : "s", flagged_n);
    }
    rc = EX_OK;
done:
    json_decref(views);
    json_decref(by_dnl);
    casebook_list_free(&reqs);
    casebook_list_free(&dnl);
    proto_identity_destroy(&me);
    proto_roster_destroy(&roster);
    liaison_client_close(&c);
    casebook_close(&cb);
    return rc;
}

/* ---- The port side: result, requests ----------------------------------------------------------- */

static int
port_open(const char *config, agent_config **cfg_out, agent_store **st_out)
{
    agent_config_detail d;
    agent_config_err cerr;
    char dir[AGENT_CONFIG_PATH_MAX + 16], why[512];

    if (config == NULL) {
        cli_error(SUB, "--config AGENT_CONFIG is required (the port agent's configuration)");
        return EX_USAGE;
    }
    if ((cerr = agent_config_load(config, cfg_out, &d)) != AGENT_CONFIG_OK) {
        cli_error(SUB, "%s", d.text);
        return cerr == AGENT_CONFIG_ERR_IO ? EX_NOINPUT : EX_CONFIG;
    }
    if (mkdir((*cfg_out)->store, 0700) != 0 && errno != EEXIST) {
        cli_error(SUB, "cannot create %s: %s", (*cfg_out)->store, strerror(errno));
        return EX_CANTCREAT;
    }
    snprintf(dir, sizeof(dir), "%s/agent", (*cfg_out)->store);
    if (agent_store_open(dir, st_out, why, sizeof(why)) != AGENT_STORE_OK) {
        cli_error(SUB, "%s", why);
        return EX_IOERR;
    }
    return EX_OK;
}

/* The records of the cargo table, each with its key as "key". */
static int
collect_cargo(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    json_t *rec = agent_json_load(val, val_len);

    if (rec != NULL) {
        json_object_set_new(rec, "key", json_stringn(key, key_len));
        json_array_append_new(ctx, rec);
    }
    return 0;
}

/* A file given to result: read whole, at most CARGO_FILE_MAX bytes. */
typedef struct cg_file {
    char name[BUNDLE_NAME_MAX + 1];   /* its name in the message */
    uint8_t *data;                    /* its bytes */
    size_t len;                       /* bytes at data */
    char sha256[65];                  /* hex */
} cg_file;

static int
read_result_file(const char *path, cg_file *f)
{
    struct stat sb;
    const char *slash = strrchr(path, '/');
    uint8_t h[PROTO_HASH_BYTES];
    int rc;

    snprintf(f->name, sizeof(f->name), "%s", slash != NULL ? slash + 1 : path);
    if (!liaison_bundle_name_ok(f->name)) {
        cli_error(SUB, "result: %s: the file name cannot travel (no leading '.', no control "
                       "characters, at most %u bytes)", path, BUNDLE_NAME_MAX);
        return EX_USAGE;
    }
    if (stat(path, &sb) != 0) {
        cli_error(SUB, "result: %s: %s", path, strerror(errno));
        return EX_NOINPUT;
    }
    if (sb.st_size > (off_t)CARGO_FILE_MAX) {
        cli_error(SUB, "files[%s]: %s is %lld bytes; a result's file is at most %u", f->name,
                  path, (long long)sb.st_size, CARGO_FILE_MAX);
        return EX_DATAERR;
    }
    if ((rc = cli_read_file(path, &f->data, &f->len)) != EX_OK)
        return rc;
    if (f->len > CARGO_FILE_MAX) {
        cli_error(SUB, "result: %s grew past %u bytes while read", path, CARGO_FILE_MAX);
        return EX_DATAERR;
    }
    proto_sha256(f->data, f->len, h);
    proto_hex(h, sizeof(h), f->sha256);
    return EX_OK;
}

static int
cmd_result(int argc, char **argv)
{
    cg_opts o;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    proto_identity *me = NULL;
    proto_detail pd = {{0}, {0}};
    json_t *recs = json_array(), *rec = NULL, *body = NULL, *files = json_array(),
           *custody = json_array(), *meta = NULL, *old = NULL, *r;
    cg_file cf[CARGO_FILES_MAX];
    uint8_t *all = NULL, okey[AGENT_OUTBOX_KEY_BYTES];
    const uint8_t *oldd;
    size_t i, total = 0, oldl, matches = 0;
    char now[32], key[AGENT_STORE_KEY_MAX], action[200];
    agent_store_err err;
    int rc;

    memset(cf, 0, sizeof(cf));
    rc = parse(argc, argv, usage_result,
               O_CONFIG | O_OUTCOME | O_REASON | O_FINDINGS | O_ANOMALY | O_SEAL | O_OFFICER |
                   O_EXAMINED | O_FILE | O_JSON,
               true, &o);
    if (rc != EX_OK) {
        rc = rc < 0 ? EX_OK : rc;
        goto out;
    }
    {
        const char *const req[] = {o.id, "REQUEST", o.config, "--config", o.outcome, "--outcome",
                                   o.officer, "--officer", NULL, NULL};

        if ((rc = need("result", req)) != EX_OK)
            goto out;
    }
    if ((rc = port_open(o.config, &cfg, &st)) != EX_OK)
        goto out;
    if (proto_keyfile_read(cfg->key, &me, &pd) != PROTO_OK) {
        cli_error(SUB, "result: custody entries are signed with the agency's key: %s", pd.text);
        rc = EX_DATAERR;
        goto out;
    }
    /* The request, from whoever sent it. */
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_store_each(t, AGENT_T_CARGO, NULL, collect_cargo, recs)) != AGENT_STORE_OK) {
        cli_error(SUB, "agent store: %s", agent_store_strerror(err));
        rc = EX_IOERR;
        goto out;
    }
    agent_store_abort(&t);
    json_array_foreach(recs, i, r) {
        if (strcmp(str_of(r, "kind"), "cargo.request") == 0 && strcmp(str_of(r, "id"), o.id) == 0) {
            matches++;
            rec = r;
        }
    }
    if (rec == NULL) {
        cli_error(SUB, "result: no request %s was received (liaison cargo requests lists them)",
                  o.id);
        rc = EX_NOINPUT;
        goto out;
    }
    if (matches > 1) {
        cli_error(SUB, "result: request %s was received from several agencies", o.id);
        rc = EX_DATAERR;
        goto out;
    }
    if (strcmp(str_of(rec, "ack"), "declined") == 0) {
        cli_error(SUB, "result: request %s was declined (%s); it takes no result", o.id,
                  str_of(rec, "note"));
        rc = EX_DATAERR;
        goto out;
    }
    snprintf(key, sizeof(key), "%s", str_of(rec, "key"));
    proto_time_format(o.now_ms, now);
    for (i = 0; i < o.file_count; i++) {
        if ((rc = read_result_file(o.files[i], &cf[i])) != EX_OK)
            goto out;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(cf[k].name, cf[i].name) == 0) {
                cli_error(SUB, "result: two files are named %s", cf[i].name);
                rc = EX_USAGE;
                goto out;
            }
        }
        total += cf[i].len;
        json_array_append_new(files, json_pack("{s:s, s:I, s:s, s:i, s:i, s:I, s:s}", "name",
                                               cf[i].name, "size", (json_int_t)cf[i].len, "sha256",
                                               cf[i].sha256, "chunk", 0, "chunks", 1, "portion",
                                               (json_int_t)(i + 1), "chunk_sha256", cf[i].sha256));
        snprintf(action, sizeof(action), "collected by officer %s", o.officer);
        json_array_append_new(custody, bundle_custody_new(me, o.now_ms, action, cf[i].name,
                                                          cf[i].sha256));
        snprintf(action, sizeof(action), "transmitted to %s", str_of(rec, "from"));
        json_array_append_new(custody, bundle_custody_new(me, o.now_ms, action, cf[i].name,
                                                          cf[i].sha256));
    }
    body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:o, s:s, s:s}", "schema",
                     "cargo.result/1", "request", o.id, "container",
                     str_of(json_object_get(json_object_get(rec, "body"), "shipment"), "container"),
                     "outcome", o.outcome, "reason", o.reason != NULL ? o.reason : "", "anomaly",
                     o.anomaly, "findings", o.findings != NULL ? o.findings : "", "seals_after",
                     str_array(o.seals, o.seal_count), "officer", o.officer, "examined",
                     o.examined != NULL                     ? o.examined
                     : strcmp(o.outcome, "not-examined") == 0 ? ""
                                                              : now);
    if (o.file_count > 0) {
        json_object_set(body, "files", files);
        json_object_set(body, "custody", custody);
    }
    if ((rc = check_body("cargo.result", body, o.now_ms)) != EX_OK)
        goto out;
    all = malloc(total > 0 ? total : 1);
    if (all == NULL) {
        rc = EX_OSERR;
        goto out;
    }
    total = 0;
    for (i = 0; i < o.file_count; i++) {
        memcpy(all + total, cf[i].data, cf[i].len);
        total += cf[i].len;
    }
    meta = json_pack("{s:s, s:s, s:s, s:s, s:O}", "request", o.id, "from", str_of(rec, "from"),
                     "state", "recorded", "recorded", now, "body", body);
    if ((err = agent_store_begin(st, true, &t)) != AGENT_STORE_OK)
        goto store_failed;
    err = agent_blob_get(t, AGENT_T_CARGO_RESULTS, key, strlen(key), &old, &oldd, &oldl);
    if (err == AGENT_STORE_OK && strcmp(str_of(old, "state"), "rejected") != 0) {
        cli_error(SUB, "result: a result of %s was recorded already (%s, %s)", o.id,
                  str_of(old, "state"), str_of(old, "recorded"));
        rc = EX_DATAERR;
        goto out;
    }
    if (err != AGENT_STORE_OK && err != AGENT_STORE_ERR_NOT_FOUND)
        goto store_failed;
    /* A result the broker refused leaves no sealed message behind: a fresh one is made. */
    if (liaison_id_from_hex(str_of(rec, "message"), okey) == LIAISON_OK) {
        okey[16] = AGENT_ROLE_CARGO_RESULT;
        err = agent_store_del(t, AGENT_T_OUTBOX, okey, sizeof(okey));
        if (err != AGENT_STORE_OK && err != AGENT_STORE_ERR_NOT_FOUND)
            goto store_failed;
    }
    if ((err = agent_blob_put(t, AGENT_T_CARGO_RESULTS, key, strlen(key), meta, all, total)) !=
            AGENT_STORE_OK ||
        (err = agent_store_commit(&t)) != AGENT_STORE_OK)
        goto store_failed;
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:b}", "request", o.id, "from",
                              str_of(rec, "from"), "files", (json_int_t)o.file_count, "state",
                              "recorded", "agent_running", agent_running(cfg));

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("result of %s recorded (%s, %zu file%s); %s sends cargo.result to %s\n", o.id,
               o.outcome, o.file_count, o.file_count == 1 ? "" : "s",
               agent_running(cfg) ? "the running agent" : "the agent, when it starts,",
               str_of(rec, "from"));
    }
    rc = EX_OK;
    goto out;
store_failed:
    cli_error(SUB, "agent store: %s", agent_store_strerror(err));
    rc = EX_IOERR;
out:
    agent_store_abort(&t);
    for (i = 0; i < CARGO_FILES_MAX; i++)
        free(cf[i].data);
    free(all);
    json_decref(old);
    json_decref(meta);
    json_decref(body);
    json_decref(files);
    json_decref(custody);
    json_decref(recs);
    proto_identity_destroy(&me);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

/* The state of the result of request key: "", "recorded", "sent", "rejected". */
static const char *
result_state(agent_txn *t, const char *key, json_t **meta_out)
{
    const uint8_t *d;
    size_t l;

    *meta_out = NULL;
    if (agent_blob_get(t, AGENT_T_CARGO_RESULTS, key, strlen(key), meta_out, &d, &l) !=
        AGENT_STORE_OK)
        return "";
    return str_of(*meta_out, "state");
}

/* Prints, under a request of the port's view, each portion a broker
 * withheld from it and who did, as the withholding broker's note states
 * (the agent recorded them; the note is not signed by the sender). */
static void
print_withheld(const json_t *v)
{
    size_t k;
    json_t *w;

    json_array_foreach(json_object_get(v, "withheld"), k, w) {
        const char *by = str_of(w, "by"), *rule = str_of(w, "rule");

        if (by[0] == '\0')
            printf("  portion %lld (%s) withheld by a broker\n",
                   (long long)json_integer_value(json_object_get(w, "portion")), str_of(w, "labels"));
        else
            printf("  portion %lld (%s) withheld by %s policy%s%s, as the broker states\n",
                   (long long)json_integer_value(json_object_get(w, "portion")), str_of(w, "labels"),
                   by, rule[0] ? " rule " : "", rule);
    }
}

static int
cmd_requests(int argc, char **argv)
{
    cg_opts o;
    agent_config *cfg = NULL;
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *recs = json_array(), *reqs = json_array(), *alerts = json_array(),
           *dnl = json_array(), *r, *v;
    agent_store_err err;
    size_t i;
    int rc;

    rc = parse(argc, argv, usage_requests, O_CONFIG | O_NOW | O_JSON, false, &o);
    if (rc != EX_OK) {
        rc = rc < 0 ? EX_OK : rc;
        goto out;
    }
    if ((rc = port_open(o.config, &cfg, &st)) != EX_OK)
        goto out;
    if ((err = agent_store_begin(st, false, &t)) != AGENT_STORE_OK ||
        (err = agent_store_each(t, AGENT_T_CARGO, NULL, collect_cargo, recs)) != AGENT_STORE_OK) {
        cli_error(SUB, "agent store: %s", agent_store_strerror(err));
        rc = EX_IOERR;
        goto out;
    }
    json_array_foreach(recs, i, r) {
        const json_t *b = json_object_get(r, "body"), *sh = json_object_get(b, "shipment");
        const char *kind = str_of(r, "kind");

        if (strcmp(kind, "cargo.request") == 0) {
            json_t *meta = NULL;
            const char *state = result_state(t, str_of(r, "key"), &meta);
            uint64_t deadline = 0;

            (void)proto_time_parse(str_of(b, "deadline"), &deadline);
            v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "request",
                          str_of(r, "id"), "from", str_of(r, "from"), "container",
                          str_of(sh, "container"), "vessel",
                          str_of(json_object_get(sh, "vessel"), "name"), "departure",
                          str_of(sh, "departure"), "deadline", str_of(b, "deadline"),
                          "examination", str_of(b, "examination"), "received",
                          str_of(r, "received"), "ack", str_of(r, "ack"), "result",
                          state[0] ? state : "none", "overdue",
                          state[0] == '\0' && strcmp(str_of(r, "ack"), "declined") != 0 &&
                              deadline != 0 && o.now_ms > deadline);
            if (str_of(r, "note")[0])
                json_object_set_new(v, "note", json_string(str_of(r, "note")));
            if (json_is_array(json_object_get(r, "withheld")))
                json_object_set(v, "withheld", json_object_get(r, "withheld"));
            if (meta != NULL && str_of(meta, "reason")[0])
                json_object_set_new(v, "result_error", json_string(str_of(meta, "reason")));
            json_decref(meta);
            json_array_append_new(reqs, v);
        } else if (strcmp(kind, "cargo.alert") == 0) {
            json_array_append_new(alerts, json_pack("{s:s, s:s, s:s, s:s}", "alert",
                                                    str_of(r, "id"), "from", str_of(r, "from"),
                                                    "container", str_of(sh, "container"), "risk",
                                                    str_of(b, "risk")));
        } else if (strcmp(kind, "cargo.donotload") == 0) {
            json_array_append_new(dnl, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}",
                                                 "recommendation", str_of(r, "id"), "from",
                                                 str_of(r, "from"), "action", str_of(b, "action"),
                                                 "request", str_of(b, "request"), "container",
                                                 str_of(b, "container"), "reason",
                                                 str_of(b, "reason"), "active",
                                                 strcmp(str_of(b, "action"), "recommend") == 0));
        }
    }
    agent_store_abort(&t);
    if (o.json) {
        json_t *j = json_pack("{s:O, s:O, s:O}", "requests", reqs, "alerts", alerts, "donotload",
                              dnl);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%-24s %-10s %-12s %-16s %-21s %-21s %-9s %s\n", "REQUEST", "FROM", "CONTAINER",
               "VESSEL", "DEPARTURE", "DEADLINE", "ACK", "RESULT");
        for (int pass = 0; pass < 2; pass++) {
            json_array_foreach(reqs, i, v) {
                bool over = json_is_true(json_object_get(v, "overdue"));

                if (over != (pass == 0))
                    continue;
                printf("%-24s %-10s %-12s %-16.16s %-21s %-21s %-9s %s%s\n", str_of(v, "request"),
                       str_of(v, "from"), str_of(v, "container"), str_of(v, "vessel"),
                       str_of(v, "departure"), str_of(v, "deadline"), str_of(v, "ack"),
                       str_of(v, "result"), over ? "  OVERDUE" : "");
                print_withheld(v);
            }
        }
        json_array_foreach(dnl, i, v)
            printf("do-not-load %s from %s: %s %s%s%s (%s)%s\n", str_of(v, "recommendation"),
                   str_of(v, "from"), str_of(v, "action"), str_of(v, "container"),
                   str_of(v, "request")[0] ? ", request " : "", str_of(v, "request"),
                   str_of(v, "reason"), json_is_true(json_object_get(v, "active")) ? "  DO-NOT-LOAD" : "");
        json_array_foreach(alerts, i, v)
            printf("alert %s from %s: %s risk %s\n", str_of(v, "alert"), str_of(v, "from"),
                   str_of(v, "container"), str_of(v, "risk"));
    }
    rc = EX_OK;
out:
    agent_store_abort(&t);
    json_decref(recs);
    json_decref(reqs);
    json_decref(alerts);
    json_decref(dnl);
    agent_store_close(&st);
    agent_config_destroy(&cfg);
    return rc;
}

int
cli_cargo_main(int argc, char **argv)
{
    static const struct {
        const char *name;  /* subcommand */
        cli_main_fn fn;    /* its entry point */
    } cmds[] = {
        {"alert", cmd_alert},   {"request", cmd_request}, {"donotload", cmd_donotload},
        {"status", cmd_status}, {"result", cmd_result},   {"requests", cmd_requests},
    };

    if (argc < 2) {
        fputs(usage_cargo, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_cargo, stdout);
        return EX_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    cli_error(SUB, "unknown command '%s' (see liaison cargo --help)", argv[1]);
    return EX_USAGE;
}
