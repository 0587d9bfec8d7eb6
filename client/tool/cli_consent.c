/* liaison consent: ask an originator for consent to pass its content on, grant or deny it, list. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define SUB "consent"
#define DEFAULT_GRANT_DAYS 30u

static const char usage_consent[] =
    "NAME\n"
    "    liaison consent - onward-sharing consent: request, grant, deny, list\n\n"
    "SYNOPSIS\n"
    "    liaison consent request CONTENT-MSGID --to ADDR... --kind KIND... --purpose P\n"
    "                            [--until DATE] [--record REF]... [--agent-config F]\n"
    "                            [options]\n"
    "    liaison consent grant REQUEST-MSGID [--until DATE] [--to ADDR]... [--kind KIND]...\n"
    "                          [--conditions TEXT] [--out FILE] [--agent-config F]\n"
    "                          [options]\n"
    "    liaison consent deny REQUEST-MSGID --reason TEXT [--agent-config F] [options]\n"
    "    liaison consent list [--json] [options]\n\n"
    "DESCRIPTION\n"
    "    Content a partner originated (ORIGIN of another nation) goes on to a third\n"
    "    nation only with the originator's consent (docs/policy.md, the third-party\n"
    "    rule).  request sends a consent.request to the sender of CONTENT-MSGID (a\n"
    "    message received, from the casebook, or, with --agent-config, one the\n"
    "    agency's agent received): which recipients, in which kinds,\n"
    "    why and until when.  The originator's grant signs a consent grant token\n"
    "    (docs/protocol.md section 11) with the agency's key and sends it back in a\n"
    "    consent.grant; deny sends a consent.deny with the reason.  list receives\n"
    "    what the broker holds first, then shows requests in and out, grants given\n"
    "    and received, and denials.  A grant received is used with\n"
    "    liaison send --grant GRANT-ID (or a token file).  Every command needs\n"
    "    --state DIR (the casebook) and an actor.\n\n"
    "OPTIONS\n"
    "    --to ADDR          an agency (NATION/AGENCY) or a whole nation (NATION/*)\n"
    "    --kind KIND        an exact kind that may carry the content\n"
    "    --purpose P        why the content should go on (request)\n"
    "    --until DATE       until when (YYYY-MM-DD or RFC 3339; grant default: what\n"
    "                       the request asked, else 30 days)\n"
    "    --record REF       only these records of the content (request)\n"
    "    --conditions TEXT  conditions of the grant (printable ASCII, 200 at most)\n"
    "    --out FILE         also write the grant token to FILE (grant)\n"
    "    --reason TEXT      why consent is refused (deny)\n"
    "    --labels LABELS    message labels (default LES)\n"
    "    --agent-config F   the agency's agent (or $LIAISON_AGENT_CONFIG): request looks\n"
    "                       for CONTENT-MSGID, grant and deny for REQUEST-MSGID, in its\n"
    "                       store when the casebook does not have it (the agent\n"
    "                       receives what comes to the agency)\n"
    "    --json             print JSON\n\n"
    CLI_CONN_HELP
    "EXIT STATUS\n"
    "    0 done; 2 rejected by the broker; 64 bad usage; 65 the request or content\n"
    "    is not in the casebook or unusable; 69 broker unreachable; 73 the token file\n"
    "    cannot be written; 75 no answer in time.\n";

typedef struct consent_opts {
    cli_conn conn;                      /* connection */
    const char *to[PROTO_GRANT_TO_MAX]; /* --to */
    size_t to_count;                    /* entries in to */
    const char *kinds[PROTO_GRANT_KINDS_MAX]; /* --kind */
    size_t kind_count;                  /* entries in kinds */
    const char *records[64];            /* --record */
    size_t record_count;                /* entries in records */
    const char *purpose;                /* --purpose */
    const char *until;                  /* --until */
    const char *conditions;             /* --conditions */
    const char *reason;                 /* --reason */
    const char *out;                    /* --out */
    const char *labels;                 /* --labels */
    bool json;                          /* --json */
    const char *arg;                    /* the message id argument */
    const char *agent_config;           /* --agent-config or $LIAISON_AGENT_CONFIG */
} consent_opts;

static int
parse(int argc, char **argv, bool want_arg, consent_opts *o)
{
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"to", required_argument, NULL, 't'},
        {"kind", required_argument, NULL, 'k'},
        {"record", required_argument, NULL, 'r'},
        {"purpose", required_argument, NULL, 'p'},
        {"until", required_argument, NULL, 'u'},
        {"conditions", required_argument, NULL, 'c'},
        {"reason", required_argument, NULL, 'R'},
        {"out", required_argument, NULL, 'o'},
        {"labels", required_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"agent-config", required_argument, NULL, 'G'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->agent_config = cli_agent_config_env();
    o->labels = "LES";
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case 't':
            if (o->to_count == PROTO_GRANT_TO_MAX) {
                cli_error(SUB, "at most %u --to", PROTO_GRANT_TO_MAX);
                return EX_USAGE;
            }
            o->to[o->to_count++] = optarg;
            break;
        case 'k':
            if (o->kind_count == PROTO_GRANT_KINDS_MAX) {
                cli_error(SUB, "at most %u --kind", PROTO_GRANT_KINDS_MAX);
                return EX_USAGE;
            }
            o->kinds[o->kind_count++] = optarg;
            break;
        case 'r':
            if (o->record_count == 64) {
                cli_error(SUB, "at most 64 --record");
                return EX_USAGE;
            }
            o->records[o->record_count++] = optarg;
            break;
        case 'p': o->purpose = optarg; break;
        case 'u': o->until = optarg; break;
        case 'c': o->conditions = optarg; break;
        case 'R': o->reason = optarg; break;
        case 'o': o->out = optarg; break;
        case 'l': o->labels = optarg; break;
        case 'j': o->json = true; break;
        case 'G': o->agent_config = optarg; break;
        case 'h':
            fputs(usage_consent, stdout);
            return -1;
        default:
            fputs(usage_consent, stderr);
            return EX_USAGE;
        }
    }
    if (want_arg) {
        if (optind + 1 != argc) {
            cli_error(SUB, "%s takes one message id", argv[0]);
            return EX_USAGE;
        }
        o->arg = argv[optind];
    } else if (optind != argc) {
        cli_error(SUB, "%s takes no argument", argv[0]);
        return EX_USAGE;
    }
    return EX_OK;
}

/* Base64 (the original variant, padded) of len bytes; the caller frees. */
static char *
b64_encode(const uint8_t *data, size_t len)
{
    size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(n);

    if (out != NULL)
        sodium_bin2base64(out, n, data, len, sodium_base64_VARIANT_ORIGINAL);
    return out;
}

/* Decodes base64 text into buf (cap bytes); -1 if it is not base64 or too long. */
static int
b64_decode(const char *text, uint8_t *buf, size_t cap, size_t *len_out)
{
    return sodium_base642bin(buf, cap, text, strlen(text), " \n\r\t", len_out, NULL,
                             sodium_base64_VARIANT_ORIGINAL) == 0
               ? 0
               : -1;
}

/* Receives what the broker holds into the casebook. */
static int
drain(const char *sub, consent_opts *o, casebook **cb_out)
{
    liaison_client *c = NULL;
    int rc;

    if ((rc = cli_casebook_open(sub, &o->conn, cb_out)) != EX_OK)
        return rc;
    if ((rc = cli_connect(sub, &o->conn, true, &c)) != EX_OK)
        return rc;
    rc = cli_drain(sub, c, *cb_out, 500, NULL);
    liaison_client_close(&c);
    return rc;
}

/*
 * A message that the agency's agent (configured at config) received and
 * kept with its portion 0, as a casebook entry (the caller's); EX_DATAERR
 * (nothing printed) when the agent's store does not have it so.
 */
static int
from_agent(const char *sub, const char *config, const uint8_t id[16], casebook_entry **e_out)
{
    json_t *meta = NULL;
    const char *from, *kind, *case_id;
    casebook_entry *e;
    int rc;

    if ((rc = cli_agent_message(sub, config, id, &meta)) != EX_OK)
        return rc;
    from = json_string_value(json_object_get(meta, "from"));
    kind = json_string_value(json_object_get(meta, "kind"));
    case_id = json_string_value(json_object_get(meta, "case"));
    if (from == NULL || kind == NULL || !json_is_object(json_object_get(meta, "body")) ||
        (e = calloc(1, sizeof(*e))) == NULL) {
        json_decref(meta);
        return EX_DATAERR;
    }
    memcpy(e->id, id, 16);
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    snprintf(e->peer, sizeof(e->peer), "%s", from);
    snprintf(e->case_id, sizeof(e->case_id), "%s", case_id != NULL ? case_id : "");
    e->body = json_dumps(json_object_get(meta, "body"), JSON_COMPACT);
    json_decref(meta);
    if (e->body == NULL) {
        casebook_entry_free(&e);
        return EX_DATAERR;
    }
    *e_out = e;
    return EX_OK;
}

/* A received message of kind, from the casebook (or, with agent_config, the
 * agency's agent); prints why and returns EX_DATAERR when there is none. */
static int
received(const char *sub, casebook *cb, const char *agent_config, const char *hex,
         const char *kind, casebook_entry **e_out)
{
    uint8_t id[16];
    int rc;

    if (liaison_id_from_hex(hex, id) != LIAISON_OK) {
        cli_error(sub, "'%s' is not a message id (32 hex digits)", hex);
        return EX_USAGE;
    }
    if (casebook_get(cb, false, id, false, e_out) != CASEBOOK_OK) {
        rc = agent_config != NULL ? from_agent(sub, agent_config, id, e_out) : EX_DATAERR;
        if (rc == EX_DATAERR)
            cli_error(sub, "no message %s received in the casebook%s%s", hex,
                      agent_config != NULL ? " or by the agent of " : "",
                      agent_config != NULL ? agent_config : "");
        if (rc != EX_OK)
            return rc;
    }
    if (kind != NULL && strcmp((*e_out)->kind, kind) != 0) {
        cli_error(sub, "message %s is a %s, not a %s", hex, (*e_out)->kind, kind);
        casebook_entry_free(e_out);
        return EX_DATAERR;
    }
    return EX_OK;
}

/* Sends body as kind to one agency, in reply to reply_to; prints the id. */
static int
send_one(const char *sub, consent_opts *o, casebook *cb, const char *kind, const char *to,
         const uint8_t reply_to[16], const char *case_id, json_t *body, uint8_t id_out[16])
{
    liaison_client *c = NULL;
    liaison_message *m = NULL;
    cli_outgoing out;
    const char *recipients[1] = {to};
    char labels[2048];
    int rc;

    memset(&out, 0, sizeof(out));
    out.kind = kind;
    out.to = recipients;
    out.to_count = 1;
    /* A request states its purpose in the labels too, so that every broker
     * audits it with the actor, as for a query. */
    out.labels = o->purpose != NULL
                     ? cli_labels_with_purpose(o->labels, o->purpose, labels, sizeof(labels))
                     : o->labels;
    out.reply_to = reply_to;
    out.case_id = case_id != NULL && case_id[0] != '\0' ? case_id : NULL;
    out.ttl_s = CLI_LONG_TTL_S;
    out.body = body;
    if ((rc = cli_actor_require(sub, &o->conn)) != EX_OK ||
        (rc = cli_outgoing_build(sub, &out, &m)) != EX_OK ||
        (rc = cli_connect(sub, &o->conn, false, &c)) != EX_OK)
        goto out;
    rc = cli_outgoing_send(sub, c, cb, &out, m, &o->conn, o->json, id_out);
out:
    liaison_message_destroy(&m);
    liaison_client_close(&c);
    return rc;
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
cmd_request(int argc, char **argv)
{
    consent_opts o;
    casebook *cb = NULL;
    casebook_entry *content = NULL;
    json_t *body = NULL, *to = NULL, *kinds = NULL, *found = NULL;
    uint64_t until_ms = 0;
    char hex[33], until[PROTO_TIME_TEXT_BYTES], originator[CASEBOOK_ADDR_MAX];
    char case_id[PROTO_CASE_ID_MAX + 1];
    uint8_t id[16], content_id[16];
    int rc;

    if ((rc = parse(argc, argv, true, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.to_count == 0 || o.kind_count == 0) {
        cli_error(SUB, "request: at least one --to and one --kind are required");
        return EX_USAGE;
    }
    if ((rc = cli_purpose_check("consent request", o.purpose)) != EX_OK)
        return rc;
    if (o.until != NULL && !proto_time_parse(o.until, &until_ms)) {
        cli_error(SUB, "request: --until takes a date (YYYY-MM-DD) or an RFC 3339 time");
        return EX_USAGE;
    }
    to = json_array();
    kinds = json_array();
    for (size_t i = 0; i < o.to_count; i++) {
        proto_addr a;

        if (proto_addr_parse(o.to[i], &a, NULL) != PROTO_OK ||
            (a.kind != PROTO_ADDR_AGENCY && a.kind != PROTO_ADDR_NATION_ALL)) {
            cli_error(SUB, "request: --to '%s' is not NATION/AGENCY or NATION/*", o.to[i]);
            rc = EX_USAGE;
            goto out;
        }
        json_array_append_new(to, json_string(o.to[i]));
    }
    for (size_t i = 0; i < o.kind_count; i++) {
        if (proto_kind_check(o.kinds[i], NULL) != PROTO_OK) {
            cli_error(SUB, "request: --kind '%s' is not an exact kind", o.kinds[i]);
            rc = EX_USAGE;
            goto out;
        }
        json_array_append_new(kinds, json_string(o.kinds[i]));
    }
    if ((rc = drain("consent request", &o, &cb)) != EX_OK)
        goto out;
    if (liaison_id_from_hex(o.arg, content_id) != LIAISON_OK) {
        cli_error(SUB, "request: '%s' is not a message id (32 hex digits)", o.arg);
        rc = EX_USAGE;
        goto out;
    }
    if (casebook_get(cb, false, content_id, false, &content) == CASEBOOK_OK) {
        snprintf(originator, sizeof(originator), "%s", content->peer);
        snprintf(case_id, sizeof(case_id), "%s", content->case_id);
    } else if (o.agent_config != NULL &&
               (rc = cli_agent_message("consent request", o.agent_config, content_id, &found)) !=
                   EX_DATAERR) {
        /* Received by the agency's agent (a partner's publish it filed). */
        if (rc != EX_OK)
            goto out;
        if (!json_is_string(json_object_get(found, "from"))) {
            cli_error("consent request", "the agent's store does not name the sender of %s",
                      o.arg);
            rc = EX_DATAERR;
            goto out;
        }
        snprintf(originator, sizeof(originator), "%s",
                 json_string_value(json_object_get(found, "from")));
        snprintf(case_id, sizeof(case_id), "%s",
                 json_is_string(json_object_get(found, "case"))
                     ? json_string_value(json_object_get(found, "case")) : "");
    } else {
        cli_error("consent request", "no message %s received in the casebook%s%s", o.arg,
                  o.agent_config != NULL ? " or by the agent of " : "",
                  o.agent_config != NULL ? o.agent_config : "");
        rc = EX_DATAERR;
        goto out;
    }
    body = json_pack("{s:s, s:s, s:O, s:O, s:s}", "schema", "consent.request/1", "content", o.arg,
                     "to", to, "kinds", kinds, "purpose", o.purpose);
    if (until_ms != 0)
        json_object_set_new(body, "until", json_string(proto_time_format(until_ms, until)));
    if (o.record_count > 0) {
        json_t *records = json_array();

        for (size_t i = 0; i < o.record_count; i++)
            json_array_append_new(records, json_string(o.records[i]));
        json_object_set_new(body, "records", records);
    }
    if ((rc = send_one("consent request", &o, cb, "consent.request", originator, content_id,
                       case_id, body, id)) != EX_OK)
        goto out;
    liaison_id_to_hex(id, hex);
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s, s:s}", "id", hex, "result", "accepted", "originator",
                              originator);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: consent requested from %s for %s\n", hex, originator, o.arg);
    }
out:
    json_decref(body);
    json_decref(to);
    json_decref(kinds);
    json_decref(found);
    casebook_entry_free(&content);
    casebook_close(&cb);
    return rc;
}

/* Strings of a JSON array into out (cap entries); the count, or -1. */
static int
json_strings(json_t *a, const char **out, size_t cap)
{
    size_t i;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > cap)
        return -1;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            return -1;
        out[i] = json_string_value(v);
    }
    return (int)json_array_size(a);
}

static int
cmd_grant(int argc, char **argv)
{
    consent_opts o;
    casebook *cb = NULL;
    casebook_entry *req = NULL;
    json_t *rbody = NULL, *body = NULL, *to = NULL, *kinds = NULL;
    proto_identity *me = NULL;
    proto_detail detail;
    proto_grant g;
    uint8_t *token = NULL, id[16];
    size_t token_len = 0;
    char *b64 = NULL, hex[33], gid[33], until[PROTO_TIME_TEXT_BYTES], why[128];
    const char *content;
    int rc, n;

    if ((rc = parse(argc, argv, true, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if ((rc = cli_actor_require("consent grant", &o.conn)) != EX_OK)
        return rc;
    if (o.conditions != NULL && strlen(o.conditions) > PROTO_GRANT_COND_MAX) {
        cli_error(SUB, "grant: --conditions has at most %u characters", PROTO_GRANT_COND_MAX);
        return EX_USAGE;
    }
    memset(&g, 0, sizeof(g));
    if (o.until != NULL && !proto_time_parse(o.until, &g.until_ms)) {
        cli_error(SUB, "grant: --until takes a date (YYYY-MM-DD) or an RFC 3339 time");
        return EX_USAGE;
    }
    if ((rc = drain("consent grant", &o, &cb)) != EX_OK ||
        (rc = received("consent grant", cb, o.agent_config, o.arg, "consent.request", &req)) != EX_OK)
        goto out;
    rbody = cli_body_parse(req->body != NULL ? req->body : "", "consent.request/1", why);
    if (rbody == NULL || (content = json_string_value(json_object_get(rbody, "content"))) == NULL ||
        proto_id_parse(content, g.content) != PROTO_OK) {
        cli_error(SUB, "grant: request %s is not a usable consent.request: %s", o.arg,
                  rbody == NULL ? why : "no content id");
        rc = EX_DATAERR;
        goto out;
    }
    if (o.to_count == 0 &&
        (n = json_strings(json_object_get(rbody, "to"), o.to, PROTO_GRANT_TO_MAX)) > 0)
        o.to_count = (size_t)n;
    if (o.kind_count == 0 &&
        (n = json_strings(json_object_get(rbody, "kinds"), o.kinds, PROTO_GRANT_KINDS_MAX)) > 0)
        o.kind_count = (size_t)n;
    if (g.until_ms == 0 &&
        !proto_time_parse(json_string_value(json_object_get(rbody, "until")), &g.until_ms))
        g.until_ms = liaison_now_ms() + DEFAULT_GRANT_DAYS * 86400000ull;
    if (o.to_count == 0 || o.kind_count == 0) {
        cli_error(SUB, "grant: the request names no recipients or kinds; give --to and --kind");
        rc = EX_USAGE;
        goto out;
    }
    /* The token lists both sorted and unique (its canonical form). */
    qsort(o.to, o.to_count, sizeof(o.to[0]), str_cmp);
    qsort(o.kinds, o.kind_count, sizeof(o.kinds[0]), str_cmp);
    for (size_t i = 0; i < o.to_count; i++) {
        if (i > 0 && strcmp(o.to[i - 1], o.to[i]) == 0)
            continue;
        if (proto_addr_parse(o.to[i], &g.to[g.to_count], NULL) != PROTO_OK) {
            cli_error(SUB, "grant: '%s' is not an address", o.to[i]);
            rc = EX_USAGE;
            goto out;
        }
        g.to_count++;
    }
    for (size_t i = 0; i < o.kind_count; i++) {
        if (i > 0 && strcmp(o.kinds[i - 1], o.kinds[i]) == 0)
            continue;
        snprintf(g.kinds[g.kind_count++], sizeof(g.kinds[0]), "%s", o.kinds[i]);
    }
    if (o.conn.key == NULL || proto_keyfile_read(o.conn.key, &me, &detail) != PROTO_OK) {
        cli_error(SUB, "grant: cannot read the agency's key file %s", o.conn.key ? o.conn.key : "(none: give --key)");
        rc = EX_DATAERR;
        goto out;
    }
    g.grantor = me->addr;
    snprintf(g.grantor_actor, sizeof(g.grantor_actor), "%s", o.conn.actor);
    if (proto_addr_parse(req->peer, &g.grantee, NULL) != PROTO_OK) {
        rc = EX_DATAERR;
        goto out;
    }
    g.issued_ms = liaison_now_ms();
    proto_id_new(g.issued_ms, g.id);
    snprintf(g.conditions, sizeof(g.conditions), "%s", o.conditions != NULL ? o.conditions : "");
    if (proto_grant_sign(&g, me, &token, &token_len, &detail) != PROTO_OK) {
        cli_error(SUB, "grant: %s", detail.text);
        rc = EX_USAGE;
        goto out;
    }
    proto_hex(g.id, PROTO_ID_BYTES, gid);
    if (o.out != NULL) {
        FILE *f = fopen(o.out, "wbx");

        if (f == NULL || fwrite(token, 1, token_len, f) != token_len || fclose(f) != 0) {
            cli_error(SUB, "grant: cannot write %s: %s", o.out, strerror(errno));
            rc = EX_CANTCREAT;
            goto out;
        }
    }
    b64 = b64_encode(token, token_len);
    to = json_array();
    kinds = json_array();
    for (size_t i = 0; i < g.to_count; i++) {
        char a[PROTO_ADDR_TEXT_MAX + 1];

        json_array_append_new(to, json_string(proto_addr_format(&g.to[i], a, sizeof(a))));
    }
    for (size_t i = 0; i < g.kind_count; i++)
        json_array_append_new(kinds, json_string(g.kinds[i]));
    body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:s}", "schema", "consent.grant/1",
                     "request", o.arg, "id", gid, "grant", b64 != NULL ? b64 : "", "content",
                     content, "to", to, "kinds", kinds, "until",
                     proto_time_format(g.until_ms, until));
    if (g.conditions[0] != '\0')
        json_object_set_new(body, "conditions", json_string(g.conditions));
    if ((rc = send_one("consent grant", &o, cb, "consent.grant", req->peer, req->id, req->case_id,
                       body, id)) != EX_OK)
        goto out;
    liaison_id_to_hex(id, hex);
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", hex, "result", "accepted",
                              "grant", gid, "grantee", req->peer, "until", until);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: consent grant %s to %s until %s\n", hex, gid, req->peer, until);
    }
out:
    free(b64);
    free(token);
    proto_identity_destroy(&me);
    json_decref(rbody);
    json_decref(body);
    json_decref(to);
    json_decref(kinds);
    casebook_entry_free(&req);
    casebook_close(&cb);
    return rc;
}

static int
cmd_deny(int argc, char **argv)
{
    consent_opts o;
    casebook *cb = NULL;
    casebook_entry *req = NULL;
    json_t *body = NULL;
    uint8_t id[16];
    char hex[33];
    int rc;

    if ((rc = parse(argc, argv, true, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if (o.reason == NULL || o.reason[0] == '\0' || strlen(o.reason) > 500) {
        cli_error(SUB, "deny: --reason is required (1 to 500 characters)");
        return EX_USAGE;
    }
    if ((rc = cli_actor_require("consent deny", &o.conn)) != EX_OK ||
        (rc = drain("consent deny", &o, &cb)) != EX_OK ||
        (rc = received("consent deny", cb, o.agent_config, o.arg, "consent.request", &req)) != EX_OK)
        goto out;
    body = json_pack("{s:s, s:s, s:s}", "schema", "consent.deny/1", "request", o.arg, "reason",
                     o.reason);
    if ((rc = send_one("consent deny", &o, cb, "consent.deny", req->peer, req->id, req->case_id,
                       body, id)) != EX_OK)
        goto out;
    liaison_id_to_hex(id, hex);
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s}", "id", hex, "result", "accepted");

        cli_print_json(j, false);
        json_decref(j);
    } else {
        printf("%s accepted: consent denied to %s\n", hex, req->peer);
    }
out:
    json_decref(body);
    casebook_entry_free(&req);
    casebook_close(&cb);
    return rc;
}

/* One row of consent list: direction, kind, ids, counterpart and body. */
static json_t *
list_row(const casebook_entry *e)
{
    char hex[33], reply[33], created[PROTO_TIME_TEXT_BYTES];
    json_t *body = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL;
    json_t *row;

    liaison_id_to_hex(e->id, hex);
    row = json_pack("{s:s, s:s, s:s, s:s}", "direction", e->sent ? "out" : "in", "kind", e->kind,
                    "id", hex, "created", proto_time_format(e->created_ms, created));

    if (e->sent)
        json_object_set_new(row, "to", json_string(e->recipients != NULL ? e->recipients : ""));
    else
        json_object_set_new(row, "from", json_string(e->peer));
    if (e->has_reply_to) {
        liaison_id_to_hex(e->in_reply_to, reply);
        json_object_set_new(row, "in_reply_to", json_string(reply));
    }
    json_object_set_new(row, "body", body != NULL ? body : json_null());
    return row;
}

int
cli_consent_rows(casebook *cb, json_t **rows_out)
{
    static const char *const kinds[] = {"consent.request", "consent.grant", "consent.deny"};
    json_t *rows = json_array();

    *rows_out = NULL;
    for (size_t k = 0; k < 3; k++) {
        for (int sent = 1; sent >= 0; sent--) {
            casebook_list *l = NULL;

            if (casebook_list_kind(cb, sent, kinds[k], false, &l) != CASEBOOK_OK) {
                json_decref(rows);
                return -1;
            }
            for (size_t i = 0; i < l->count; i++)
                json_array_append_new(rows, list_row(l->entries[i]));
            casebook_list_free(&l);
        }
    }
    *rows_out = rows;
    return 0;
}

static int
cmd_list(int argc, char **argv)
{
    consent_opts o;
    casebook *cb = NULL;
    json_t *rows = NULL;
    int rc;

    if ((rc = parse(argc, argv, false, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    if ((rc = drain("consent list", &o, &cb)) != EX_OK)
        goto out;
    if (cli_consent_rows(cb, &rows) != 0) {
        cli_error(SUB, "list: the casebook cannot be read");
        rc = EX_IOERR;
        goto out;
    }
    if (o.json) {
        json_t *j = json_pack("{s:O}", "consent", rows);

        cli_print_json(j, false);
        json_decref(j);
    } else {
        size_t i;
        json_t *r;

        printf("%-3s %-15s %-32s %-10s %s\n", "DIR", "KIND", "ID", "WITH", "WHAT");
        json_array_foreach(rows, i, r) {
            json_t *b = json_object_get(r, "body");
            const char *with = json_string_value(json_object_get(r, "from"));
            char what[256];
            const char *k = json_string_value(json_object_get(r, "kind"));

            if (with == NULL)
                with = json_string_value(json_object_get(r, "to"));
            if (strcmp(k, "consent.request") == 0)
                snprintf(what, sizeof(what), "content %s: %s",
                         json_string_value(json_object_get(b, "content")) ?: "?",
                         json_string_value(json_object_get(b, "purpose")) ?: "");
            else if (strcmp(k, "consent.grant") == 0)
                snprintf(what, sizeof(what), "grant %s until %s",
                         json_string_value(json_object_get(b, "id")) ?: "?",
                         json_string_value(json_object_get(b, "until")) ?: "?");
            else
                snprintf(what, sizeof(what), "denied: %s",
                         json_string_value(json_object_get(b, "reason")) ?: "");
            printf("%-3s %-15s %-32s %-10s %s\n", json_string_value(json_object_get(r, "direction")),
                   k, json_string_value(json_object_get(r, "id")), with != NULL ? with : "", what);
        }
    }
out:
    json_decref(rows);
    casebook_close(&cb);
    return rc;
}

/* The token of the consent.grant whose body is b, if its grant id is id; NULL otherwise. */
static uint8_t *
grant_token(const json_t *b, const uint8_t id[16], size_t *len_out)
{
    const char *gid = json_string_value(json_object_get(b, "id"));
    const char *text = json_string_value(json_object_get(b, "grant"));
    uint8_t want[16], *token;

    if (gid == NULL || text == NULL || strlen(gid) != 32 ||
        liaison_id_from_hex(gid, want) != LIAISON_OK || memcmp(want, id, 16) != 0 ||
        (token = malloc(PROTO_GRANT_TOKEN_MAX)) == NULL)
        return NULL;
    if (b64_decode(text, token, PROTO_GRANT_TOKEN_MAX, len_out) != 0) {
        free(token);
        return NULL;
    }
    return token;
}

int
cli_grant_load(const char *sub, const cli_conn *conn, const char *agent_config, const char *arg,
               uint8_t **token_out, size_t *len_out)
{
    uint8_t *data = NULL, *token = NULL;
    size_t len = 0;
    uint8_t id[16];

    /* A grant id received in a consent.grant: from the casebook, then from
     * what the agency's agent kept (it receives what comes to the agency). */
    if (strlen(arg) == 32 && liaison_id_from_hex(arg, id) == LIAISON_OK) {
        casebook *cb = NULL;
        casebook_list *l = NULL;
        json_t *kept = NULL, *x;
        size_t i;
        int rc;

        if ((rc = cli_casebook_open(sub, conn, &cb)) != EX_OK)
            return rc;
        rc = EX_DATAERR;
        if (casebook_list_kind(cb, false, "consent.grant", false, &l) == CASEBOOK_OK) {
            for (i = 0; i < l->count && token == NULL; i++) {
                char why[128];
                json_t *b = cli_body_parse(l->entries[i]->body ? l->entries[i]->body : "",
                                           "consent.grant/1", why);

                token = grant_token(b, id, &len);
                json_decref(b);
            }
        }
        casebook_list_free(&l);
        casebook_close(&cb);
        if (token == NULL && agent_config != NULL) {
            if ((rc = cli_agent_kept(sub, agent_config, "consent.grant", &kept)) != EX_OK)
                return rc;
            rc = EX_DATAERR;
            json_array_foreach(kept, i, x) {
                const json_t *b = json_object_get(x, "body");
                const char *schema = json_string_value(json_object_get(b, "schema"));

                if (token == NULL && schema != NULL && strcmp(schema, "consent.grant/1") == 0)
                    token = grant_token(b, id, &len);
            }
            json_decref(kept);
        }
        if (token == NULL) {
            cli_error(sub, "--grant %s: no consent grant with that id received in the casebook%s%s",
                      arg, agent_config != NULL ? " or by the agent of " : "",
                      agent_config != NULL ? agent_config : "");
            return rc;
        }
        *token_out = token;
        *len_out = len;
        return EX_OK;
    }
    /* A token file: the token's bytes, or their base64. */
    if (cli_read_file(arg, &data, &len) != 0) {
        cli_error(sub, "--grant %s: cannot read it: %s", arg, strerror(errno));
        return EX_NOINPUT;
    }
    if (len < 4 || memcmp(data, "LSNG", 4) != 0) {
        token = malloc(PROTO_GRANT_TOKEN_MAX);
        if (token == NULL || b64_decode((const char *)data, token, PROTO_GRANT_TOKEN_MAX, &len) != 0) {
            free(token);
            free(data);
            cli_error(sub, "--grant %s: not a consent grant token", arg);
            return EX_DATAERR;
        }
        free(data);
        data = token;
    }
    if (len == 0 || len > PROTO_GRANT_TOKEN_MAX) {
        free(data);
        cli_error(sub, "--grant %s: a token has 1 to %u bytes", arg, PROTO_GRANT_TOKEN_MAX);
        return EX_DATAERR;
    }
    *token_out = data;
    *len_out = len;
    return EX_OK;
}

int
cli_consent_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_consent, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_consent, stdout);
        return EX_OK;
    }
    if (strcmp(argv[1], "request") == 0)
        return cmd_request(argc - 1, argv + 1);
    if (strcmp(argv[1], "grant") == 0)
        return cmd_grant(argc - 1, argv + 1);
    if (strcmp(argv[1], "deny") == 0)
        return cmd_deny(argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    cli_error(SUB, "unknown command '%s' (see liaison consent --help)", argv[1]);
    return EX_USAGE;
}
