/* liaison send, inbox, listen and status: messages from the command line. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_int.h"
#include "liaison.h"

/* ---- Connection options shared by every networked subcommand ------------ */

void
cli_conn_defaults(cli_conn *c)
{
    memset(c, 0, sizeof(*c));
    c->key = getenv("LIAISON_KEY");
    c->roster = getenv("LIAISON_ROSTER");
    c->broker = getenv("LIAISON_BROKER");
    c->state = getenv("LIAISON_STATE");
    c->actor = getenv("LIAISON_ACTOR");
    c->timeout_s = 10;
}

bool
cli_conn_option(cli_conn *c, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_KEY: c->key = arg; return true;
    case CLI_OPT_ROSTER: c->roster = arg; return true;
    case CLI_OPT_BROKER: c->broker = arg; return true;
    case CLI_OPT_STATE: c->state = arg; return true;
    case CLI_OPT_TIMEOUT: c->timeout_s = atoi(arg); return c->timeout_s > 0;
    case CLI_OPT_ACTOR: c->actor = arg; return true;
    default: return false;
    }
}

int
cli_connect(const char *sub, const cli_conn *conn, bool receive, liaison_client **client_out)
{
    liaison_config cfg;
    char why[512];
    liaison_err err;

    if (conn->key == NULL || conn->roster == NULL || conn->broker == NULL) {
        cli_error(sub, "--key, --roster and --broker (or LIAISON_KEY, LIAISON_ROSTER, "
                       "LIAISON_BROKER) are required");
        return EX_USAGE;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.key_file = conn->key;
    cfg.roster_file = conn->roster;
    cfg.endpoint = conn->broker;
    cfg.state_dir = receive ? conn->state : NULL;
    cfg.receive = receive;
    cfg.actor = conn->actor;
    err = liaison_client_open(&cfg, client_out, why, sizeof(why));
    if (err != LIAISON_OK) {
        cli_error(sub, "%s", why);
        return err == LIAISON_ERR_KEY || err == LIAISON_ERR_ROSTER ? EX_DATAERR
               : err == LIAISON_ERR_INVALID                        ? EX_USAGE
                                                                   : EX_UNAVAILABLE;
    }
    return EX_OK;
}

int
cli_actor_require(const char *sub, const cli_conn *conn)
{
    if (conn->actor != NULL && conn->actor[0] != '\0')
        return EX_OK;
    cli_error(sub, "no actor: give --actor or set LIAISON_ACTOR");
    return EX_USAGE;
}

int
cli_exit_for(liaison_err err)
{
    switch (err) {
    case LIAISON_OK: return EX_OK;
    case LIAISON_ERR_REJECTED: return CLI_EXIT_REJECTED;
    case LIAISON_ERR_TIMEOUT: return EX_TEMPFAIL;
    case LIAISON_ERR_INVALID: return EX_USAGE;
    case LIAISON_ERR_CONNECT: return EX_UNAVAILABLE;
    case LIAISON_ERR_REFUSED: return EX_NOPERM;
    default: return EX_SOFTWARE;
    }
}

uint64_t
cli_deadline(const cli_conn *conn)
{
    return liaison_now_ms() + (uint64_t)conn->timeout_s * 1000u;
}

/* ---- Events as JSON ---------------------------------------------------------- */

char *
cli_withheld_text(const liaison_portion *p, size_t index, char *out, size_t len)
{
    char who[128];

    /* The note's grammar (A-Z, a space, a rule id of A-Z a-z 0-9 . _ : -)
     * was checked by the library: nothing in it needs escaping. */
    if (p->withheld_by[0] != '\0' && p->withheld_rule[0] != '\0')
        snprintf(who, sizeof(who), "%s policy rule %s, as the broker states", p->withheld_by,
                 p->withheld_rule);
    else if (p->withheld_by[0] != '\0')
        snprintf(who, sizeof(who), "%s policy, as the broker states", p->withheld_by);
    else
        snprintf(who, sizeof(who), "a broker");
    {
        int room = (int)len - (int)strlen(who) - 40;

        snprintf(out, len, "portion %zu (%.*s) withheld by %s", index, room > 8 ? room : 8,
                 p->labels, who);
    }
    return out;
}

json_t *
cli_withheld_json(const liaison_portion *p)
{
    if (!p->withheld)
        return NULL;
    return json_pack("{s:o, s:o}", "by",
                     p->withheld_by[0] != '\0' ? json_string(p->withheld_by) : json_null(), "rule",
                     p->withheld_rule[0] != '\0' ? json_string(p->withheld_rule) : json_null());
}

static json_t *
portion_json(const liaison_portion *p, size_t index)
{
    json_t *o = json_object();

    json_object_set_new(o, "labels", json_string(p->labels));
    json_object_set_new(o, "withheld", json_boolean(p->withheld));
    if (p->withheld) {
        char text[512];

        json_object_set_new(o, "withheld_by", cli_withheld_json(p));
        json_object_set_new(o, "notice", json_string(cli_withheld_text(p, index, text,
                                                                        sizeof(text))));
    }
    json_object_set_new(o, "readable", json_boolean(p->readable));
    if (p->readable) {
        bool text = true;

        for (size_t i = 0; i < p->len && text; i++)
            text = p->data[i] >= 0x20 || p->data[i] == '\n' || p->data[i] == '\t';
        json_t *s = text ? json_stringn((const char *)p->data, p->len) : NULL;

        if (s != NULL) {
            json_object_set_new(o, "text", s);
        } else {
            char *hex = malloc(2 * p->len + 1);

            if (hex != NULL) {
                for (size_t i = 0; i < p->len; i++)
                    snprintf(hex + 2 * i, 3, "%02x", p->data[i]);
                json_object_set_new(o, "hex", json_string(p->len ? hex : ""));
                free(hex);
            }
        }
        json_object_set_new(o, "bytes", json_integer((json_int_t)p->len));
    }
    return o;
}

json_t *
cli_event_json(const liaison_event *e)
{
    json_t *o = json_object();

    json_object_set_new(o, "id", json_string(e->id_hex));
    if (e->type == LIAISON_EVENT_REPORT) {
        json_object_set_new(o, "type", json_string("report"));
        json_object_set_new(o, "broker", json_string(e->broker));
        json_object_set_new(o, "recipient", json_string(e->recipient));
        json_object_set_new(o, "state", json_string(e->state));
        json_object_set_new(o, "time_ms", json_integer((json_int_t)e->time_ms));
        if (e->rule_id[0])
            json_object_set_new(o, "rule", json_string(e->rule_id));
        if (e->detail[0])
            json_object_set_new(o, "detail", json_string(e->detail));
        return o;
    }
    json_object_set_new(o, "type", json_string("message"));
    json_object_set_new(o, "kind", json_string(e->kind));
    json_object_set_new(o, "from", json_string(e->sender));
    if (e->actor[0])
        json_object_set_new(o, "actor", json_string(e->actor));
    json_object_set_new(o, "labels", json_string(e->labels));
    if (e->grant_count > 0)
        json_object_set_new(o, "grants", json_integer((json_int_t)e->grant_count));
    if (e->case_id[0])
        json_object_set_new(o, "case", json_string(e->case_id));
    if (e->has_reply_to) {
        char hex[33];

        liaison_id_to_hex(e->in_reply_to, hex);
        json_object_set_new(o, "in_reply_to", json_string(hex));
    }
    json_object_set_new(o, "created_ms", json_integer((json_int_t)e->created_ms));
    {
        json_t *arr = json_array();

        for (size_t i = 0; i < e->portion_count; i++)
            json_array_append_new(arr, portion_json(&e->portions[i], i));
        json_object_set_new(o, "portions", arr);
    }
    return o;
}

void
cli_print_json(json_t *o, bool line)
{
    json_dumpf(o, stdout, line ? JSON_COMPACT : JSON_INDENT(2));
    putchar('\n');
    fflush(stdout);
}

/* ---- liaison send --------------------------------------------------------------- */

static void
send_usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    liaison send - seal, sign and submit one message\n\n"
            "SYNOPSIS\n"
            "    liaison send --kind KIND --to ADDRESS... --labels LABELS\n"
            "                 (--portion LABELS (--text TEXT | --file PATH))...\n"
            "                 [--case ID] [--reply-to ID] [--ttl SECONDS]\n"
            "                 [--grant GRANT-ID|FILE]... [--agent-config F] [--json]\n"
            "                 [connection options]\n\n"
            "DESCRIPTION\n"
            "    Each --portion starts a portion with its own labels; the --text or --file\n"
            "    that follows is its content.  Each portion is sealed to the recipients\n"
            "    whose nation its labels release to.  The message is accepted once the home\n"
            "    broker has committed it to disk; the id is printed.  --grant attaches a\n"
            "    consent grant (docs/policy.md, the third-party rule): the id of one\n"
            "    received in a consent.grant (from the casebook of --state, then, with\n"
            "    --agent-config F or $LIAISON_AGENT_CONFIG, from what the agency's agent\n"
            "    received), or a token file (liaison consent grant --out); at most four.\n\n"
            "%s"
            "EXIT STATUS\n"
            "    0 accepted; 2 rejected by the broker; 64 bad usage; 65 bad key or roster;\n"
            "    66 a --file is missing; 69 no broker; 75 no answer in time; 77 the broker\n"
            "    refused the agency's key.\n",
            CLI_CONN_HELP);
}

int
cli_send_main(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"kind", required_argument, NULL, 'k'},
        {"to", required_argument, NULL, 't'},
        {"labels", required_argument, NULL, 'l'},
        {"portion", required_argument, NULL, 'p'},
        {"text", required_argument, NULL, 'x'},
        {"file", required_argument, NULL, 'f'},
        {"case", required_argument, NULL, 'c'},
        {"reply-to", required_argument, NULL, 'r'},
        {"ttl", required_argument, NULL, 'e'},
        {"grant", required_argument, NULL, 'g'},
        {"agent-config", required_argument, NULL, 'G'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *grants[LIAISON_GRANTS_MAX], *agent_config = cli_agent_config_env();
    size_t grant_count = 0;
    cli_conn conn;
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    const char *portion_labels = NULL, *kind = NULL;
    size_t to_count = 0;
    bool json = false;
    uint8_t id[16];
    char hex[33];
    int opt, rc = EX_USAGE;
    liaison_err err;

    cli_conn_defaults(&conn);
    optind = 1;
    /* First pass: the kind, to build the message. */
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (opt == 'k')
            kind = optarg;
        if (opt == 'h') {
            send_usage(stdout);
            return EX_OK;
        }
        if (opt == '?') {
            send_usage(stderr);
            return EX_USAGE;
        }
    }
    if (kind == NULL || liaison_message_new(kind, &m) != LIAISON_OK) {
        cli_error("send", kind == NULL ? "--kind is required"
                                       : "--kind '%s' is not a kind (family.verb, lower case)",
                  kind);
        return EX_USAGE;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&conn, opt, optarg))
            continue;
        switch (opt) {
        case 'k':
            break;
        case 't':
            if (liaison_message_add_recipient(m, optarg) != LIAISON_OK) {
                cli_error("send", "--to '%s' is not an address (NATION/AGENCY, NATION/*, *)",
                          optarg);
                goto out;
            }
            to_count++;
            break;
        case 'l':
            if (liaison_message_set_labels(m, optarg) != LIAISON_OK) {
                cli_error("send", "--labels '%s' do not parse (see docs/protocol.md, Labels)",
                          optarg);
                goto out;
            }
            break;
        case 'p':
            portion_labels = optarg;
            break;
        case 'x':
        case 'f': {
            uint8_t *data = (uint8_t *)optarg;
            size_t len = strlen(optarg);

            if (portion_labels == NULL) {
                cli_error("send", "--%s must follow a --portion LABELS", opt == 'x' ? "text" : "file");
                goto out;
            }
            if (opt == 'f' && cli_read_file(optarg, &data, &len) != 0) {
                cli_error("send", "cannot read %s: %s", optarg, strerror(errno));
                rc = EX_NOINPUT;
                goto out;
            }
            err = liaison_message_add_portion(m, portion_labels, data, len, NULL);
            if (opt == 'f')
                free(data);
            if (err != LIAISON_OK) {
                cli_error("send", "portion '%s': %s", portion_labels,
                          err == LIAISON_ERR_TOO_LARGE ? "too large (16 MiB at most)"
                                                       : "labels do not parse");
                goto out;
            }
            portion_labels = NULL;
            break;
        }
        case 'c':
            if (liaison_message_set_case(m, optarg) != LIAISON_OK) {
                cli_error("send", "--case is at most 64 characters");
                goto out;
            }
            break;
        case 'r': {
            uint8_t rid[16];

            if (liaison_id_from_hex(optarg, rid) != LIAISON_OK) {
                cli_error("send", "--reply-to takes a message id (32 hex digits)");
                goto out;
            }
            (void)liaison_message_set_in_reply_to(m, rid);
            break;
        }
        case 'e': {
            long ttl = atol(optarg);

            if (ttl <= 0) {
                cli_error("send", "--ttl takes a number of seconds");
                goto out;
            }
            (void)liaison_message_set_expiry(m, liaison_now_ms() + (uint64_t)ttl * 1000u);
            break;
        }
        case 'g':
            if (grant_count == LIAISON_GRANTS_MAX) {
                cli_error("send", "at most %u --grant", LIAISON_GRANTS_MAX);
                goto out;
            }
            grants[grant_count++] = optarg;
            break;
        case 'G':
            agent_config = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            send_usage(stderr);
            goto out;
        }
    }
    if (to_count == 0 || portion_labels != NULL || optind != argc) {
        cli_error("send", to_count == 0 ? "at least one --to is required"
                                        : "each --portion needs a --text or --file");
        goto out;
    }
    for (size_t i = 0; i < grant_count; i++) {
        uint8_t *token = NULL;
        size_t token_len = 0;

        if ((rc = cli_grant_load("send", &conn, agent_config, grants[i], &token, &token_len)) != EX_OK)
            goto out;
        err = liaison_message_add_grant(m, token, token_len);
        free(token);
        if (err != LIAISON_OK) {
            cli_error("send", "--grant %s cannot be attached", grants[i]);
            rc = EX_USAGE;
            goto out;
        }
    }
    rc = EX_USAGE;
    if ((rc = cli_actor_require("send", &conn)) != EX_OK ||
        (rc = cli_connect("send", &conn, false, &c)) != EX_OK)
        goto out;
    err = liaison_send(c, m, id, cli_deadline(&conn));
    liaison_id_to_hex(id, hex);
    if (json) {
        json_t *o = json_object();
        const char *text = "";
        uint16_t code = liaison_client_rejection(c, &text);

        json_object_set_new(o, "id", json_string(hex));
        json_object_set_new(o, "result", json_string(err == LIAISON_OK ? "accepted"
                                                     : err == LIAISON_ERR_REJECTED ? "rejected"
                                                                                   : "error"));
        if (err == LIAISON_ERR_REJECTED) {
            json_object_set_new(o, "code", json_integer(code));
            json_object_set_new(o, "reason", json_string(text));
        } else if (err != LIAISON_OK) {
            json_object_set_new(o, "reason", json_string(liaison_client_error(c)));
        }
        cli_print_json(o, false);
        json_decref(o);
    } else if (err == LIAISON_OK) {
        printf("%s accepted\n", hex);
    } else {
        cli_error("send", "%s %s", hex, liaison_client_error(c));
    }
    rc = cli_exit_for(err);
out:
    liaison_message_destroy(&m);
    liaison_client_close(&c);
    return rc;
}

/* ---- liaison inbox / listen ------------------------------------------------------ */

static void
inbox_usage(FILE *out, const char *name)
{
    fprintf(out,
            "NAME\n"
            "    liaison %s - print what the broker delivers, one JSON line each\n\n"
            "SYNOPSIS\n"
            "    liaison %s [--wait SECONDS] [--max N] [--kind KIND] [connection options]\n\n"
            "DESCRIPTION\n"
            "    Connects for deliveries and prints each message (verified and opened) and\n"
            "    each signed delivery report as a JSON line, then acknowledges it to the\n"
            "    broker.  With --state DIR, received ids are kept durably so that nothing is\n"
            "    printed twice across restarts.  inbox stops after --wait seconds without an\n"
            "    event (default 2) or after --max events; listen runs until interrupted.\n"
            "    A message or report that does not verify (or decode) is not printed and\n"
            "    not acknowledged: its id, sender and the reason go to stderr, and the\n"
            "    broker keeps it.\n\n"
            "%s"
            "EXIT STATUS\n"
            "    0 done; 64 bad usage; 65 bad key or roster; 69 no broker; 76 something\n"
            "    delivered did not verify or decode (named on stderr, not acknowledged);\n"
            "    77 the broker refused the agency's key.\n",
            name, name, CLI_CONN_HELP);
}

static int
inbox(int argc, char **argv, bool forever)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"wait", required_argument, NULL, 'w'},
        {"max", required_argument, NULL, 'm'},
        {"kind", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = forever ? "listen" : "inbox";
    cli_conn conn;
    liaison_client *c = NULL;
    long wait_s = 2, max = -1, seen = 0;
    const char *kind = NULL;
    bool unverified = false;
    int opt, rc;

    cli_conn_defaults(&conn);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&conn, opt, optarg))
            continue;
        switch (opt) {
        case 'w': wait_s = atol(optarg); break;
        case 'm': max = atol(optarg); break;
        case 'k': kind = optarg; break;
        case 'j': break;
        case 'h': inbox_usage(stdout, name); return EX_OK;
        default: inbox_usage(stderr, name); return EX_USAGE;
        }
    }
    if (optind != argc || wait_s < 0) {
        inbox_usage(stderr, name);
        return EX_USAGE;
    }
    if ((rc = cli_connect(name, &conn, true, &c)) != EX_OK)
        return rc;
    while (max < 0 || seen < max) {
        liaison_event *e = NULL;
        uint64_t deadline = forever ? 0 : liaison_now_ms() + (uint64_t)wait_s * 1000u;
        liaison_err err = liaison_receive(c, &e, deadline);

        if (err == LIAISON_ERR_TIMEOUT)
            break;
        if (err == LIAISON_ERR_REFUSED) {
            cli_error(name, "%s", liaison_client_error(c));
            rc = EX_NOPERM;
            break;
        }
        if (err != LIAISON_OK) {
            /* A delivery that does not verify: named, not acknowledged. */
            unverified = unverified || err == LIAISON_ERR_SIGNATURE || err == LIAISON_ERR_PROTOCOL;
            cli_error(name, "%s", liaison_client_error(c));
            continue;
        }
        if (kind == NULL || (e->type == LIAISON_EVENT_MESSAGE && strcmp(e->kind, kind) == 0)) {
            json_t *o = cli_event_json(e);

            cli_print_json(o, true);
            json_decref(o);
            seen++;
        }
        if (liaison_receipt(c, e) != LIAISON_OK)
            cli_error(name, "%s", liaison_client_error(c));
        liaison_event_free(&e);
    }
    liaison_client_close(&c);
    return rc != EX_OK ? rc : unverified ? EX_PROTOCOL : EX_OK;
}

int
cli_inbox_main(int argc, char **argv)
{
    return inbox(argc, argv, false);
}

int
cli_listen_main(int argc, char **argv)
{
    return inbox(argc, argv, true);
}

/* ---- liaison status ---------------------------------------------------------------- */

static void
status_usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    liaison status - the state of a message you sent, per recipient\n\n"
            "SYNOPSIS\n"
            "    liaison status ID [--json] [connection options]\n\n"
            "DESCRIPTION\n"
            "    Asks the home broker for each recipient's state of message ID: queued,\n"
            "    forwarded, delivered, receipted, withheld or denied by policy (with the\n"
            "    rule), refused by a partner, or expired.\n\n"
            "%s"
            "EXIT STATUS\n"
            "    0 answered; 2 the broker does not know the message; 64 bad usage;\n"
            "    69 no broker; 75 no answer in time; 77 the broker refused the agency's key.\n",
            CLI_CONN_HELP);
}

int
cli_status_main(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static liaison_status_entry entries[1024];
    cli_conn conn;
    liaison_client *c = NULL;
    bool json = false;
    uint8_t id[16];
    size_t n = 0;
    int opt, rc;
    liaison_err err;

    cli_conn_defaults(&conn);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&conn, opt, optarg))
            continue;
        switch (opt) {
        case 'j': json = true; break;
        case 'h': status_usage(stdout); return EX_OK;
        default: status_usage(stderr); return EX_USAGE;
        }
    }
    if (optind + 1 != argc || liaison_id_from_hex(argv[optind], id) != LIAISON_OK) {
        cli_error("status", "expected one message id (32 hex digits)");
        return EX_USAGE;
    }
    if ((rc = cli_connect("status", &conn, false, &c)) != EX_OK)
        return rc;
    err = liaison_status(c, id, entries, 1024, &n, cli_deadline(&conn));
    if (err != LIAISON_OK) {
        cli_error("status", "%s", liaison_client_error(c));
        liaison_client_close(&c);
        return cli_exit_for(err);
    }
    if (json) {
        json_t *arr = json_array();

        for (size_t i = 0; i < n; i++) {
            json_t *o = json_object();

            json_object_set_new(o, "recipient", json_string(entries[i].recipient));
            json_object_set_new(o, "state", json_string(entries[i].state));
            json_object_set_new(o, "time_ms", json_integer((json_int_t)entries[i].time_ms));
            if (entries[i].rule_id[0])
                json_object_set_new(o, "rule", json_string(entries[i].rule_id));
            if (entries[i].detail[0])
                json_object_set_new(o, "detail", json_string(entries[i].detail));
            json_array_append_new(arr, o);
        }
        cli_print_json(arr, false);
        json_decref(arr);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%-20s %-10s %s%s%s\n", entries[i].recipient, entries[i].state,
                   entries[i].rule_id, entries[i].detail[0] ? "  " : "", entries[i].detail);
    }
    liaison_client_close(&c);
    return EX_OK;
}
