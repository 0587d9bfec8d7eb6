/* liaison recall: recall or rectify a message this agency sent, follow the recall, and apply
 * recalls received (delete, keep a tombstone, acknowledge). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define SUB "recall"
#define RECORDS_MAX 64      /* --record at most this often */
#define RECORD_LEN_MAX 64   /* bytes of a record reference */
#define REASON_MAX 500      /* bytes of a reason */
#define TO_MAX 64           /* recipients of the original */
#define ROWS_MAX 256        /* recipients in a status table */

static const char usage_recall[] =
    "NAME\n"
    "    liaison recall - recall or rectify a message this agency sent\n\n"
    "SYNOPSIS\n"
    "    liaison recall MSGID --reason TEXT [--record REF]... [--rectify FILE] [--json]\n"
    "                   [connection options]\n"
    "    liaison recall status MSGID [--wait SECONDS] [--agent-config F] [--json]\n"
    "                          [connection options]\n"
    "    liaison recall deleted [--wait SECONDS] [--offline] [--json] [connection options]\n\n"
    "DESCRIPTION\n"
    "    Sends a recall.request (docs/messages.md, recall.*) for MSGID, a message this\n"
    "    agency sent and keeps in its casebook (--state): to the same recipients, with\n"
    "    the same case id and the original's labels without its PURPOSE.  Every agency\n"
    "    that received the original deletes it (or only the records named) and answers\n"
    "    with a recall.ack; brokers that still hold it undelivered drop it.  Prints the\n"
    "    recall's id.\n\n"
    "    With --rectify FILE, first sends FILE (a JSON object: the corrected portion 0)\n"
    "    as a new message of the original's kind to the same recipients, then the recall\n"
    "    with action rectify naming it as the replacement: receivers keep the\n"
    "    replacement and delete the original.\n\n"
    "    recall status MSGID shows, per recipient of the original, the original's state,\n"
    "    the recall's state and the recall.ack (result and time) or pending.  When\n"
    "    the agency runs an agent, the agent receives the acks: with --agent-config F\n"
    "    (or $LIAISON_AGENT_CONFIG) status also reads the acks it kept.\n"
    "    recall deleted receives what the broker holds first (applying the recalls among\n"
    "    it), then lists what this agency deleted on others' recalls (tombstones: id,\n"
    "    kind, sender, envelope hash, recall, reason, time).\n\n"
    "OPTIONS\n"
    "    --reason TEXT    why (1 to 500 printable characters; partners see it)\n"
    "    --record REF     recall only this record of the message (repeatable), e.g. one\n"
    "                     watchlist entry\n"
    "    --rectify FILE   the corrected content, sent first as the replacement\n"
    "    --wait SECS      status, deleted: receive for this long first (default 2)\n"
    "    --offline        deleted: do not receive first\n"
    "    --agent-config F status: also the recall.acks the agency's agent received\n"
    "    --json           print JSON\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 sent (status: shown); 2 rejected by the broker; 64 bad usage (no --reason, a\n"
    "    bad MSGID); 65 MSGID is not a message this agency sent, or FILE is not a JSON\n"
    "    object; 66 FILE missing; 69 broker unreachable; 75 no answer in time;\n"
    "    77 the broker refused the agency's key.\n\n"
    "EXAMPLES\n"
    "    liaison recall 6f1c...e2 --record FBI-WL-2026-0042 --reason 'entered in error'\n"
    "    liaison recall status 6f1c...e2\n";

/* Options of the recall commands. */
typedef struct rc_opts {
    cli_conn conn;                      /* connection */
    const char *msgid;                  /* MSGID */
    const char *reason;                 /* --reason */
    const char *records[RECORDS_MAX];   /* --record */
    size_t record_count;                /* entries in records */
    const char *rectify;                /* --rectify FILE */
    long wait_s;                        /* --wait */
    bool json;                          /* --json */
    bool offline;                       /* --offline: no drain first */
    const char *agent_config;           /* --agent-config or $LIAISON_AGENT_CONFIG */
} rc_opts;

static int
parse(int argc, char **argv, rc_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"reason", required_argument, NULL, 'r'},
        {"record", required_argument, NULL, 'R'},
        {"rectify", required_argument, NULL, 'f'},
        {"wait", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"offline", no_argument, NULL, 'o'},
        {"agent-config", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->agent_config = cli_agent_config_env();
    o->wait_s = 2;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 'r': o->reason = optarg; break;
        case 'R':
            if (o->record_count == RECORDS_MAX) {
                cli_error(SUB, "at most %d of --record", RECORDS_MAX);
                return EX_USAGE;
            }
            if (optarg[0] == '\0' || strlen(optarg) > RECORD_LEN_MAX) {
                cli_error(SUB, "--record takes a reference of 1 to %d characters",
                          RECORD_LEN_MAX);
                return EX_USAGE;
            }
            o->records[o->record_count++] = optarg;
            break;
        case 'f': o->rectify = optarg; break;
        case 'w':
            o->wait_s = atol(optarg);
            if (o->wait_s < 0 || o->wait_s > 3600) {
                cli_error(SUB, "--wait takes 0 to 3600 seconds");
                return EX_USAGE;
            }
            break;
        case 'j': o->json = true; break;
        case 'o': o->offline = true; break;
        case 'G': o->agent_config = optarg; break;
        case 'h': fputs(usage_recall, stdout); return -1;
        default:
            cli_error(SUB, "unknown option or missing value '%s' (see --help)", argv[optind - 1]);
            return EX_USAGE;
        }
    }
    if (optind < argc)
        o->msgid = argv[optind++];
    if (optind != argc) {
        cli_error(SUB, "unexpected argument '%s' (see --help)", argv[optind]);
        return EX_USAGE;
    }
    return EX_OK;
}

/* A reason partners can read: 1..500 bytes, no control characters. */
static bool
reason_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > REASON_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

void
cli_labels_without_purpose(const char *labels, char *out, size_t len)
{
    const char *p = strstr(labels, "//PURPOSE:");

    if (p == NULL) {
        snprintf(out, len, "%s", labels);
        return;
    }
    /* PURPOSE is the last marking the tool writes; anything after it stays. */
    {
        const char *rest = strstr(p + 2, "//");

        snprintf(out, len, "%.*s%s", (int)(p - labels), labels, rest != NULL ? rest : "");
    }
}

static void
rfc3339(uint64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Splits the space-separated recipients of e into to (pointers into buf). */
static size_t
split_recipients(const casebook_entry *e, char *buf, size_t len, const char **to)
{
    size_t n = 0;
    char *save = NULL;

    snprintf(buf, len, "%s", e->recipients != NULL ? e->recipients : "");
    for (char *tok = strtok_r(buf, " ", &save); tok != NULL && n < TO_MAX;
         tok = strtok_r(NULL, " ", &save))
        to[n++] = tok;
    return n;
}

/* Reads MSGID and the sent message it names from the casebook. */
static int
load_original(const char *sub, casebook *cb, const rc_opts *o, uint8_t id[16],
              casebook_entry **e_out)
{
    casebook_err err;

    if (o->msgid == NULL) {
        cli_error(sub, "name the message: MSGID (32 hex digits, as send printed it)");
        return EX_USAGE;
    }
    if (strlen(o->msgid) != 32 || proto_id_parse(o->msgid, id) != PROTO_OK) {
        cli_error(sub, "'%s' is not a message id (32 hex digits)", o->msgid);
        return EX_USAGE;
    }
    err = casebook_get(cb, true, id, false, e_out);
    if (err == CASEBOOK_ERR_NOT_FOUND) {
        cli_error(sub, "%s is not a message this agency sent (not in the casebook at %s); "
                       "only the originator may recall a message", o->msgid, o->conn.state);
        return EX_DATAERR;
    }
    if (err != CASEBOOK_OK) {
        cli_error(sub, "casebook: %s", casebook_strerror(err));
        return EX_IOERR;
    }
    return EX_OK;
}

/* Sends one message of kind with body to the original's recipients, case and labels. */
static int
send_like(const char *sub, liaison_client *c, casebook *cb, const rc_opts *o,
          const casebook_entry *orig, const char *kind, const uint8_t *reply_to,
          const char *labels, json_t *body, uint8_t id_out[16])
{
    char buf[4096];
    const char *to[TO_MAX];
    cli_outgoing out;
    liaison_message *m = NULL;
    int rc;

    memset(&out, 0, sizeof(out));
    out.kind = kind;
    out.to = to;
    out.to_count = split_recipients(orig, buf, sizeof(buf), to);
    out.labels = labels;
    out.case_id = orig->case_id;
    out.reply_to = reply_to;
    out.ttl_s = CLI_LONG_TTL_S;
    out.body = body;
    if ((rc = cli_outgoing_build(sub, &out, &m)) != EX_OK)
        return rc;
    rc = cli_outgoing_send(sub, c, cb, &out, m, &o->conn, o->json, id_out);
    liaison_message_destroy(&m);
    return rc;
}

int
cli_recall_send(const char *sub, const cli_conn *conn, const char *msgid, const char *reason,
                const char *const *recs, size_t record_count, const char *rectify, bool json)
{
    rc_opts o;
    casebook *cb = NULL;
    casebook_entry *orig = NULL;
    liaison_client *c = NULL;
    json_t *body = NULL, *fixed = NULL, *records = NULL;
    uint8_t id[16], rid[16], repl[16];
    char hex[33], rhex[33], phex[33], labels[CASEBOOK_LABELS_MAX];
    int rc;

    memset(&o, 0, sizeof(o));
    o.conn = *conn;
    o.msgid = msgid;
    o.json = json;
    if (!reason_ok(reason)) {
        cli_error(sub, reason == NULL ? "--reason TEXT is required: partners see why"
                                      : "--reason takes 1 to %d printable characters",
                  REASON_MAX);
        return EX_USAGE;
    }
    if (rectify != NULL) {
        uint8_t *data = NULL;
        size_t len = 0;
        json_error_t je;

        if (cli_read_file(rectify, &data, &len) != 0) {
            cli_error(sub, "cannot read %s: %s", rectify, strerror(errno));
            return EX_NOINPUT;
        }
        fixed = json_loadb((const char *)data, len, 0, &je);
        free(data);
        if (!json_is_object(fixed)) {
            cli_error(sub, "%s: not a JSON object (line %d: %s)", rectify, je.line,
                      fixed == NULL ? je.text : "not an object");
            json_decref(fixed);
            return EX_DATAERR;
        }
    }
    if ((rc = cli_casebook_open(sub, &o.conn, &cb)) != EX_OK)
        goto out;
    if ((rc = load_original(sub, cb, &o, id, &orig)) != EX_OK)
        goto out;
    if ((rc = cli_actor_require(sub, &o.conn)) != EX_OK)
        goto out;
    if (orig->recipients == NULL || orig->recipients[0] == '\0') {
        cli_error(sub, "%s: the casebook does not name its recipients", msgid);
        rc = EX_DATAERR;
        goto out;
    }
    if ((rc = cli_connect(sub, &o.conn, false, &c)) != EX_OK)
        goto out;
    proto_id_format(id, hex);
    cli_labels_without_purpose(orig->labels, labels, sizeof(labels));
    if (fixed != NULL) {
        rc = send_like(sub, c, cb, &o, orig, orig->kind,
                       orig->has_reply_to ? orig->in_reply_to : NULL, orig->labels, fixed, repl);
        if (rc != EX_OK)
            goto out;
    }
    body = json_pack("{s:s, s:s, s:s, s:s}", "schema", "recall.request/1", "message", hex,
                     "action", fixed != NULL ? "rectify" : "recall", "reason", reason);
    if (body == NULL) {
        rc = EX_SOFTWARE;
        goto out;
    }
    if (record_count > 0) {
        records = json_array();
        for (size_t i = 0; i < record_count; i++)
            json_array_append_new(records, json_string(recs[i]));
        json_object_set_new(body, "records", records);
    }
    if (fixed != NULL)
        json_object_set_new(body, "replacement", json_string(proto_id_format(repl, phex)));
    if ((rc = send_like(sub, c, cb, &o, orig, "recall.request", id, labels, body, rid)) != EX_OK)
        goto out;
    proto_id_format(rid, rhex);
    if (json) {
        json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "id", rhex, "kind", "recall.request",
                              "result", "accepted", "message", hex);

        if (fixed != NULL)
            json_object_set_new(r, "replacement", json_string(phex));
        cli_print_json(r, false);
        json_decref(r);
    } else {
        if (fixed != NULL)
            printf("replacement %s\n", phex);
        printf("%s\n", rhex);
    }
out:
    json_decref(body);
    json_decref(fixed);
    liaison_client_close(&c);
    casebook_entry_free(&orig);
    casebook_close(&cb);
    return rc;
}

static int
cmd_recall(int argc, char **argv)
{
    rc_opts o;
    int rc;

    if ((rc = parse(argc, argv, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    return cli_recall_send(SUB, &o.conn, o.msgid, o.reason, o.records, o.record_count,
                           o.rectify, o.json);
}

/* ---- status -------------------------------------------------------------------- */

/* One recipient's row. */
typedef struct rc_row {
    char who[CASEBOOK_ADDR_MAX];      /* the recipient agency */
    char orig[16];                    /* the original's latest state */
    uint64_t orig_ms;                 /* and when */
    char recall[16];                  /* the recall's latest state */
    uint64_t recall_ms;               /* and when */
    char ack[16];                     /* the ack's result, or "" */
    uint64_t ack_ms;                  /* when it was made */
} rc_row;

static rc_row *
row_for(rc_row *rows, size_t *n, const char *who)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(rows[i].who, who) == 0)
            return &rows[i];
    }
    if (*n == ROWS_MAX)
        return NULL;
    memset(&rows[*n], 0, sizeof(rows[*n]));
    snprintf(rows[*n].who, sizeof(rows[*n].who), "%s", who);
    return &rows[(*n)++];
}

/* The later of two states: by time; at the same time, the later in the life of a message. */
static void
note_state(char *state, uint64_t *at, const casebook_report *r)
{
    if (state[0] == '\0' || r->time_ms >= *at) {
        snprintf(state, 16, "%s", r->state);
        *at = r->time_ms;
    }
}

/* Fills the ack column from the recall.acks received in reply to rid. */
typedef struct find_acks {
    const uint8_t *rid;   /* the recall */
    rc_row *rows;         /* the table */
    size_t *n;            /* its rows */
} find_acks;

static int
each_ack(void *arg, const casebook_entry *e)
{
    find_acks *f = arg;
    json_t *o;
    rc_row *row;
    const char *result;

    if (!e->has_reply_to || memcmp(e->in_reply_to, f->rid, 16) != 0)
        return 0;
    o = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL;
    result = json_string_value(json_object_get(o, "result"));
    if (result != NULL && (row = row_for(f->rows, f->n, e->peer)) != NULL) {
        snprintf(row->ack, sizeof(row->ack), "%s", result);
        row->ack_ms = e->created_ms;
    }
    json_decref(o);
    return 0;
}

/* Fills the ack column from the recall.acks in reply to rid that the agency's
 * agent received and kept (with --agent-config: the agent, not the casebook,
 * receives what comes to the agency). */
static int
agent_acks(const char *sub, const char *config, const uint8_t rid[16], rc_row *rows, size_t *n)
{
    json_t *kept = NULL, *x;
    char rhex[33];
    size_t i;
    int rc;

    if ((rc = cli_agent_kept(sub, config, "recall.ack", &kept)) != EX_OK)
        return rc;
    proto_id_format(rid, rhex);
    json_array_foreach(kept, i, x) {
        const char *reply = json_string_value(json_object_get(x, "in_reply_to"));
        const char *from = json_string_value(json_object_get(x, "from"));
        const json_t *body = json_object_get(x, "body");
        const char *result = json_string_value(json_object_get(body, "result"));
        const char *at = json_string_value(json_object_get(body, "at"));
        uint64_t at_ms = (uint64_t)json_integer_value(json_object_get(x, "created_ms"));
        rc_row *row;

        if (reply == NULL || from == NULL || result == NULL || strcmp(reply, rhex) != 0 ||
            (row = row_for(rows, n, from)) == NULL)
            continue;
        if (at != NULL)
            (void)proto_time_parse(at, &at_ms);
        if (row->ack[0] != '\0' && at_ms < row->ack_ms)
            continue;
        snprintf(row->ack, sizeof(row->ack), "%s", result);
        row->ack_ms = at_ms;
    }
    json_decref(kept);
    return EX_OK;
}

int
cli_recall_status_json(const char *sub, casebook *cb, const uint8_t id[16], const char *kind,
                       const char *agent_config, json_t **out_json)
{
    casebook_report reports[ROWS_MAX];
    rc_row rows[ROWS_MAX];
    size_t n = 0, nrep = 0;
    char hex[33], rhex[33];
    uint8_t rid[16];
    bool recalled;
    json_t *out, *arr;
    int rc;

    *out_json = NULL;
    proto_id_format(id, hex);
    if (casebook_reports(cb, id, reports, ROWS_MAX, &nrep) != CASEBOOK_OK)
        return EX_IOERR;
    for (size_t i = 0; i < nrep; i++) {
        rc_row *row = row_for(rows, &n, reports[i].recipient);

        if (row != NULL)
            note_state(row->orig, &row->orig_ms, &reports[i]);
    }
    if (cli_newest_sent(cb, "recall.request", "message", hex, rid, &recalled) != 0)
        return EX_IOERR;
    if (recalled) {
        find_acks fa = {rid, rows, &n};

        if (casebook_reports(cb, rid, reports, ROWS_MAX, &nrep) != CASEBOOK_OK ||
            casebook_each_kind(cb, false, "recall.ack", each_ack, &fa) != CASEBOOK_OK)
            return EX_IOERR;
        if (agent_config != NULL && (rc = agent_acks(sub, agent_config, rid, rows, &n)) != EX_OK)
            return rc;
        for (size_t i = 0; i < nrep; i++) {
            rc_row *row = row_for(rows, &n, reports[i].recipient);

            if (row != NULL)
                note_state(row->recall, &row->recall_ms, &reports[i]);
        }
        proto_id_format(rid, rhex);
    }
    out = json_object();
    arr = json_array();
    json_object_set_new(out, "message", json_string(hex));
    json_object_set_new(out, "kind", json_string(kind));
    json_object_set_new(out, "recall", recalled ? json_string(rhex) : json_null());
    for (size_t i = 0; i < n; i++) {
        char at[32];
        json_t *r = json_pack("{s:s, s:s, s:s}", "recipient", rows[i].who, "original",
                              rows[i].orig[0] ? rows[i].orig : "unknown", "recall",
                              rows[i].recall[0] ? rows[i].recall : "pending");

        if (rows[i].ack[0]) {
            rfc3339(rows[i].ack_ms, at);
            json_object_set_new(r, "ack", json_pack("{s:s, s:s}", "result", rows[i].ack,
                                                    "at", at));
        } else {
            json_object_set_new(r, "ack", json_null());
        }
        json_array_append_new(arr, r);
    }
    json_object_set_new(out, "recipients", arr);
    *out_json = out;
    return EX_OK;
}

static int
cmd_status(int argc, char **argv)
{
    rc_opts o;
    casebook *cb = NULL;
    casebook_entry *orig = NULL;
    liaison_client *c = NULL;
    json_t *out = NULL, *r;
    uint8_t id[16];
    size_t i;
    bool recalled;
    int rc;

    if ((rc = parse(argc, argv, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if ((rc = cli_casebook_open("recall status", &o.conn, &cb)) != EX_OK)
        goto out;
    if ((rc = load_original("recall status", cb, &o, id, &orig)) != EX_OK)
        goto out;
    if ((rc = cli_connect("recall status", &o.conn, true, &c)) != EX_OK ||
        (rc = cli_drain("recall status", c, cb, (unsigned)o.wait_s * 1000u, NULL)) != EX_OK)
        goto out;
    if ((rc = cli_recall_status_json("recall status", cb, id, orig->kind, o.agent_config,
                                     &out)) != EX_OK)
        goto out;
    if (o.json) {
        cli_print_json(out, false);
        goto out;
    }
    recalled = json_is_string(json_object_get(out, "recall"));
    printf("%s %s", orig->kind, json_string_value(json_object_get(out, "message")));
    if (recalled)
        printf("  recall %s", json_string_value(json_object_get(out, "recall")));
    else
        printf("  (not recalled)");
    printf("\n%-24s %-12s %-12s %s\n", "RECIPIENT", "ORIGINAL", "RECALL", "ACK");
    json_array_foreach(json_object_get(out, "recipients"), i, r) {
        json_t *ack = json_object_get(r, "ack");
        const char *result = json_string_value(json_object_get(ack, "result"));
        const char *at = json_string_value(json_object_get(ack, "at"));

        /* Without a recall, its state is no state at all ("-"), not one pending. */
        printf("%-24s %-12s %-12s %s%s%s\n", json_string_value(json_object_get(r, "recipient")),
               json_string_value(json_object_get(r, "original")),
               recalled ? json_string_value(json_object_get(r, "recall")) : "-",
               result != NULL ? result : (recalled ? "pending" : "-"), at != NULL ? " " : "",
               at != NULL ? at : "");
    }
out:
    json_decref(out);
    liaison_client_close(&c);
    casebook_entry_free(&orig);
    casebook_close(&cb);
    return rc;
}

/* ---- deleted ------------------------------------------------------------------- */

int
cli_recall_deleted_json(casebook *cb, json_t **arr_out)
{
    casebook_tombstone *t = NULL;
    size_t n = 0;
    json_t *arr;

    *arr_out = NULL;
    if (casebook_tombstones(cb, &t, &n) != CASEBOOK_OK)
        return -1;
    arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char at[32], idh[33], rh[33], hh[65] = "";
        json_t *r;

        rfc3339(t[i].time_ms, at);
        proto_id_format(t[i].id, idh);
        proto_id_format(t[i].recall, rh);
        if (t[i].has_hash)
            proto_hex(t[i].envelope_hash, 32, hh);
        r = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "message", idh,
                      "kind", t[i].kind, "sender", t[i].peer, "case", t[i].case_id,
                      "envelope_sha256", hh, "recall", rh, "action", t[i].action, "reason",
                      t[i].reason, "whole", t[i].whole, "deleted", at);
        if (t[i].records[0])
            json_object_set_new(r, "records", json_string(t[i].records));
        json_array_append_new(arr, r);
    }
    free(t);
    *arr_out = arr;
    return 0;
}

static int
cmd_deleted(int argc, char **argv)
{
    rc_opts o;
    casebook *cb = NULL;
    liaison_client *c = NULL;
    json_t *arr = NULL, *r;
    size_t i;
    int rc;

    if ((rc = parse(argc, argv, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.msgid != NULL) {
        cli_error("recall deleted", "unexpected argument '%s' (see --help)", o.msgid);
        return EX_USAGE;
    }
    if ((rc = cli_casebook_open("recall deleted", &o.conn, &cb)) != EX_OK)
        return rc;
    if (!o.offline) {
        if ((rc = cli_connect("recall deleted", &o.conn, true, &c)) == EX_OK)
            rc = cli_drain("recall deleted", c, cb, (unsigned)o.wait_s * 1000u, NULL);
        liaison_client_close(&c);
        if (rc != EX_OK) {
            casebook_close(&cb);
            return rc;
        }
    }
    if (cli_recall_deleted_json(cb, &arr) != 0) {
        cli_error("recall deleted", "the casebook cannot be read");
        casebook_close(&cb);
        return EX_IOERR;
    }
    if (o.json) {
        cli_print_json(arr, false);
    } else {
        printf("%-20s %-32s %-20s %-10s %-8s %s\n", "DELETED", "MESSAGE", "KIND", "FROM",
               "ACTION", "REASON");
        json_array_foreach(arr, i, r) {
            const char *recs = json_string_value(json_object_get(r, "records"));

            printf("%-20s %-32s %-20s %-10s %-8s %s%s%s%s\n",
                   json_string_value(json_object_get(r, "deleted")),
                   json_string_value(json_object_get(r, "message")),
                   json_string_value(json_object_get(r, "kind")),
                   json_string_value(json_object_get(r, "sender")),
                   json_string_value(json_object_get(r, "action")),
                   json_string_value(json_object_get(r, "reason")), recs != NULL ? " (records: " : "",
                   recs != NULL ? recs : "", recs != NULL ? ")" : "");
        }
    }
    json_decref(arr);
    casebook_close(&cb);
    return EX_OK;
}

int
cli_recall_main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "status") == 0)
        return cmd_status(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "deleted") == 0)
        return cmd_deleted(argc - 1, argv + 1);
    return cmd_recall(argc, argv);
}

/* ---- Receiving a recall ------------------------------------------------------------- */

/* A recall.request body, checked (docs/messages.md, recall.*). */
typedef struct rc_request {
    uint8_t message[16];                 /* the recalled message */
    bool rectify;                        /* action rectify */
    const char *reason;                  /* borrowed from the JSON */
    const char *records[RECORDS_MAX];    /* borrowed from the JSON */
    size_t record_count;                 /* entries in records */
    uint8_t replacement[16];             /* rectify: the corrected message */
} rc_request;

/* Reads a recall.request body; false (why says why) when it is not one. */
static bool
request_parse(json_t *o, const liaison_event *e, rc_request *r, char why[128])
{
    const char *m = json_string_value(json_object_get(o, "message"));
    const char *a = json_string_value(json_object_get(o, "action"));
    const char *p = json_string_value(json_object_get(o, "replacement"));
    json_t *recs = json_object_get(o, "records"), *x;
    size_t i;

    memset(r, 0, sizeof(*r));
    if (m == NULL || strlen(m) != 32 || proto_id_parse(m, r->message) != PROTO_OK) {
        snprintf(why, 128, "no message id");
        return false;
    }
    if (!e->has_reply_to || memcmp(e->in_reply_to, r->message, 16) != 0) {
        snprintf(why, 128, "its in_reply_to is not the message it recalls");
        return false;
    }
    if (a == NULL || (strcmp(a, "recall") != 0 && strcmp(a, "rectify") != 0)) {
        snprintf(why, 128, "action is neither recall nor rectify");
        return false;
    }
    r->rectify = strcmp(a, "rectify") == 0;
    r->reason = json_string_value(json_object_get(o, "reason"));
    if (!reason_ok(r->reason)) {
        snprintf(why, 128, "no reason of 1 to %d characters", REASON_MAX);
        return false;
    }
    if (r->rectify && (p == NULL || strlen(p) != 32 || proto_id_parse(p, r->replacement) != PROTO_OK)) {
        snprintf(why, 128, "a rectification without its replacement");
        return false;
    }
    if (recs != NULL) {
        if (!json_is_array(recs) || json_array_size(recs) == 0 ||
            json_array_size(recs) > RECORDS_MAX) {
            snprintf(why, 128, "records is not a list of 1 to %d references", RECORDS_MAX);
            return false;
        }
        json_array_foreach(recs, i, x) {
            if (!json_is_string(x)) {
                snprintf(why, 128, "a record reference is not a string");
                return false;
            }
            r->records[r->record_count++] = json_string_value(x);
        }
    }
    return true;
}

int
cli_recall_apply(const char *sub, liaison_client *c, casebook *cb, const liaison_event *e)
{
    json_t *o = NULL, *ack = NULL, *deleted = NULL;
    casebook_entry *orig = NULL;
    casebook_tombstone t;
    rc_request r;
    cli_conn conn;
    cli_outgoing out;
    liaison_message *m = NULL;
    char why[128], at[32], labels[CASEBOOK_LABELS_MAX];
    const char *result = "not-held", *to[1];
    casebook_err err;
    int rc = 0;

    if (e->type != LIAISON_EVENT_MESSAGE || strcmp(e->kind, "recall.request") != 0)
        return 0;
    if ((o = cli_event_body(e, "recall.request/1", why)) == NULL ||
        !request_parse(o, e, &r, why)) {
        cli_error(sub, "recall %s from %s kept, not applied: %s", e->id_hex, e->sender, why);
        goto out;
    }
    err = casebook_get(cb, false, r.message, false, &orig);
    if (err == CASEBOOK_ERR_NOT_FOUND && casebook_tombstone_get(cb, r.message, &t) == CASEBOOK_OK &&
        strcmp(t.peer, e->sender) != 0) {
        cli_error(sub, "recall %s from %s kept, not applied: only %s, the sender of the "
                       "message, may recall it", e->id_hex, e->sender, t.peer);
        goto out;
    }
    if (err == CASEBOOK_OK && strcmp(orig->peer, e->sender) != 0) {
        cli_error(sub, "recall %s from %s kept, not applied: only %s, the sender of the "
                       "message, may recall it", e->id_hex, e->sender, orig->peer);
        goto out;
    }
    memset(&t, 0, sizeof(t));
    memcpy(t.id, r.message, 16);
    memcpy(t.recall, e->id, 16);
    snprintf(t.action, sizeof(t.action), "%s", r.rectify ? "rectify" : "recall");
    snprintf(t.reason, sizeof(t.reason), "%s", r.reason);
    if (r.rectify) {
        memcpy(t.replacement, r.replacement, 16);
        t.has_replacement = true;
    }
    t.time_ms = liaison_now_ms();
    err = casebook_recall(cb, r.record_count > 0 ? r.records : NULL, r.record_count, &t);
    if (err == CASEBOOK_OK && strcmp(t.peer, e->sender) != 0) {
        /* Only a tombstone of an earlier recall by the same sender is found here. */
        cli_error(sub, "recall %s from %s kept, not applied: only %s may recall it", e->id_hex,
                  e->sender, t.peer);
        goto out;
    }
    if (err != CASEBOOK_OK && err != CASEBOOK_ERR_NOT_FOUND) {
        cli_error(sub, "recall %s: the casebook: %s", e->id_hex, casebook_strerror(err));
        rc = -1;
        goto out;
    }
    deleted = json_array();
    if (err == CASEBOOK_OK) {
        char recs[CASEBOOK_RECORDS_MAX], *save = NULL;

        result = r.rectify ? "rectified" : "deleted";
        snprintf(recs, sizeof(recs), "%s", t.records);
        for (char *tok = strtok_r(recs, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
            json_array_append_new(deleted, json_string(tok));
    }
    rfc3339(liaison_now_ms(), at);
    ack = json_pack("{s:s, s:s, s:s, s:O, s:s}", "schema", "recall.ack/1", "message",
                    json_string_value(json_object_get(o, "message")), "result", result,
                    "deleted", deleted, "at", at);
    cli_labels_without_purpose(e->labels, labels, sizeof(labels));
    to[0] = e->sender;
    memset(&out, 0, sizeof(out));
    out.kind = "recall.ack";
    out.to = to;
    out.to_count = 1;
    out.labels = labels;
    out.case_id = e->case_id;
    out.reply_to = e->id;
    out.ttl_s = CLI_LONG_TTL_S;
    out.body = ack;
    cli_conn_defaults(&conn);
    /* The ack goes out under the client's own default actor (the officer or
     * system that drains); without one, liaison_send refuses and says so. */
    conn.actor = "client";
    if (ack == NULL || cli_outgoing_build(sub, &out, &m) != EX_OK ||
        cli_outgoing_send(sub, c, cb, &out, m, &conn, false, NULL) != EX_OK) {
        cli_error(sub, "recall %s: the recall.ack was not sent; the recall stays in the inbox",
                  e->id_hex);
        rc = -1;
    }
out:
    liaison_message_destroy(&m);
    json_decref(ack);
    json_decref(deleted);
    json_decref(o);
    casebook_entry_free(&orig);
    return rc;
}
