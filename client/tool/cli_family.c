/* What the message-family subcommands share: times, the casebook inbox drain, sending, progress. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

#define DRAIN_CAP_MS (300u * 1000u) /* a drain never runs longer than this */

/* ---- The casebook and the inbox --------------------------------------------- */

int
cli_casebook_open(const char *sub, const cli_conn *conn, casebook **cb_out)
{
    int rc = cli_casebook_open_plain(sub, conn, cb_out);

    if (rc == EX_OK && (rc = cli_retention_apply(sub, *cb_out)) != EX_OK)
        casebook_close(cb_out);
    return rc;
}

int
cli_casebook_open_plain(const char *sub, const cli_conn *conn, casebook **cb_out)
{
    char why[512];

    if (conn->state == NULL) {
        cli_error(sub, "--state DIR (or LIAISON_STATE) is required: the casebook there keeps "
                       "what was sent and received");
        return EX_USAGE;
    }
    if (casebook_open(conn->state, cb_out, why, sizeof(why)) != CASEBOOK_OK) {
        cli_error(sub, "%s", why);
        return EX_CANTCREAT;
    }
    return EX_OK;
}

/* The portions of message e that a broker withheld, as the casebook keeps them
 * (casebook_entry.withheld): *text_out gets a malloc'd JSON array, or NULL when
 * none was withheld.  0, or -1 when memory was short. */
static int
withheld_record(const liaison_event *e, char **text_out)
{
    json_t *list = NULL;

    *text_out = NULL;
    for (size_t i = 0; i < e->portion_count; i++) {
        const liaison_portion *p = &e->portions[i];
        json_t *by = NULL, *row;

        if (!p->withheld)
            continue;
        if ((list == NULL && (list = json_array()) == NULL) ||
            (by = cli_withheld_json(p)) == NULL)
            goto nomem;
        row = json_pack("{s:I, s:s, s:O, s:O}", "portion", (json_int_t)i, "labels", p->labels,
                        "by", json_object_get(by, "by"), "rule", json_object_get(by, "rule"));
        json_decref(by);
        if (row == NULL || json_array_append_new(list, row) != 0)
            goto nomem;
    }
    if (list != NULL && (*text_out = json_dumps(list, JSON_COMPACT)) == NULL)
        goto nomem;
    json_decref(list);
    return 0;
nomem:
    json_decref(list);
    return -1;
}

int
cli_store_event(casebook *cb, const liaison_event *e)
{
    casebook_entry ce;

    if (e->type == LIAISON_EVENT_REPORT) {
        casebook_report r;

        memset(&r, 0, sizeof(r));
        memcpy(r.id, e->id, 16);
        snprintf(r.recipient, sizeof(r.recipient), "%s", e->recipient);
        snprintf(r.state, sizeof(r.state), "%s", e->state);
        snprintf(r.broker, sizeof(r.broker), "%s", e->broker);
        snprintf(r.rule_id, sizeof(r.rule_id), "%s", e->rule_id);
        snprintf(r.detail, sizeof(r.detail), "%s", e->detail);
        r.time_ms = e->time_ms;
        return casebook_put_report(cb, &r) == CASEBOOK_OK ? 0 : -1;
    }
    memset(&ce, 0, sizeof(ce));
    ce.sent = false;
    memcpy(ce.id, e->id, 16);
    snprintf(ce.kind, sizeof(ce.kind), "%s", e->kind);
    snprintf(ce.peer, sizeof(ce.peer), "%s", e->sender);
    snprintf(ce.case_id, sizeof(ce.case_id), "%s", e->case_id);
    memcpy(ce.in_reply_to, e->in_reply_to, 16);
    ce.has_reply_to = e->has_reply_to;
    snprintf(ce.labels, sizeof(ce.labels), "%s", e->labels);
    ce.time_ms = liaison_now_ms();
    ce.created_ms = e->created_ms;
    ce.raw = e->raw;
    ce.raw_len = e->raw_len;
    snprintf(ce.actor, sizeof(ce.actor), "%s", e->actor);
    if (withheld_record(e, &ce.withheld) != 0)
        return -1;
    if (e->portion_count > 0 && e->portions[0].readable) {
        const liaison_portion *p = &e->portions[0];
        char *body = malloc(p->len + 1);
        int rc;

        if (body == NULL) {
            free(ce.withheld);
            return -1;
        }
        memcpy(body, p->data, p->len);
        body[p->len] = '\0';
        /* An answer without a case id (a freeze.ack may omit it) is filed
         * under the designation it names. */
        if (ce.case_id[0] == '\0' && strncmp(ce.kind, "freeze.", 7) == 0) {
            json_t *o = json_loads(body, 0, NULL);
            const char *d = json_string_value(json_object_get(o, "designation"));

            if (d != NULL && strlen(d) < sizeof(ce.case_id))
                snprintf(ce.case_id, sizeof(ce.case_id), "%s", d);
            json_decref(o);
        }
        ce.body = body;
        rc = casebook_put(cb, &ce) == CASEBOOK_OK ? 0 : -1;
        proto_wipe(body, p->len);
        free(body);
        free(ce.withheld);
        return rc;
    }
    {
        int rc = casebook_put(cb, &ce) == CASEBOOK_OK ? 0 : -1;

        free(ce.withheld);
        return rc;
    }
}

int
cli_drain(const char *sub, liaison_client *c, casebook *cb, unsigned idle_ms, size_t *stored_out)
{
    uint64_t cap = liaison_now_ms() + DRAIN_CAP_MS;
    size_t stored = 0;
    int rc = EX_OK;

    for (;;) {
        liaison_event *e = NULL;
        uint64_t deadline = liaison_now_ms() + idle_ms;
        liaison_err err;

        if (deadline > cap)
            deadline = cap;
        err = liaison_receive(c, &e, deadline);
        if (err == LIAISON_ERR_TIMEOUT)
            break;
        if (err == LIAISON_ERR_SIGNATURE || err == LIAISON_ERR_PROTOCOL) {
            /* Not verified: named, not stored, not acknowledged; go on. */
            cli_error(sub, "%s", liaison_client_error(c));
            continue;
        }
        if (err != LIAISON_OK) {
            cli_error(sub, "%s", liaison_client_error(c));
            if (err == LIAISON_ERR_REFUSED)
                rc = EX_NOPERM;
            break;
        }
        if (cli_store_event(cb, e) != 0 || cli_recall_apply(sub, c, cb, e) != 0) {
            /* Not acknowledged: the broker delivers it again next time. */
            cli_error(sub, "cannot store %s %s in the casebook; it stays in the inbox",
                      e->type == LIAISON_EVENT_MESSAGE ? e->kind : "report", e->id_hex);
        } else {
            if (e->type == LIAISON_EVENT_MESSAGE)
                stored++;
            if (liaison_receipt(c, e) != LIAISON_OK)
                cli_error(sub, "%s", liaison_client_error(c));
        }
        liaison_event_free(&e);
    }
    if (stored_out != NULL)
        *stored_out = stored;
    return rc;
}

/* ---- Sending ------------------------------------------------------------------- */

int
cli_outgoing_build(const char *sub, const cli_outgoing *out, liaison_message **msg_out)
{
    liaison_message *m = NULL;
    char *text = NULL;
    const char *plabels = out->portion_labels != NULL ? out->portion_labels : out->labels;
    int rc = EX_USAGE;
    liaison_err err;

    if (liaison_message_new(out->kind, &m) != LIAISON_OK) {
        cli_error(sub, "cannot make a %s message", out->kind);
        return EX_SOFTWARE;
    }
    for (size_t i = 0; i < out->to_count; i++) {
        if (liaison_message_add_recipient(m, out->to[i]) != LIAISON_OK) {
            cli_error(sub, "--to '%s' is not an address (NATION/AGENCY, NATION/* or *)", out->to[i]);
            goto fail;
        }
    }
    if (out->to_count == 0) {
        cli_error(sub, "at least one --to is required");
        goto fail;
    }
    if (liaison_message_set_labels(m, out->labels) != LIAISON_OK) {
        cli_error(sub, "the labels '%s' do not parse (see docs/protocol.md, Labels)", out->labels);
        goto fail;
    }
    if (out->case_id != NULL && out->case_id[0] != '\0' &&
        liaison_message_set_case(m, out->case_id) != LIAISON_OK) {
        cli_error(sub, "a case id is at most 64 characters");
        goto fail;
    }
    if (out->reply_to != NULL)
        (void)liaison_message_set_in_reply_to(m, out->reply_to);
    if (out->ttl_s > 0)
        (void)liaison_message_set_expiry(m, liaison_now_ms() + out->ttl_s * 1000u);
    text = json_dumps(out->body, JSON_COMPACT);
    if (text == NULL) {
        rc = EX_SOFTWARE;
        goto fail;
    }
    err = liaison_message_add_portion(m, plabels, text, strlen(text), NULL);
    for (size_t i = 0; i < out->extra_count && err == LIAISON_OK; i++)
        err = liaison_message_add_portion(m, plabels, out->extra[i], out->extra_len[i], NULL);
    if (err != LIAISON_OK) {
        cli_error(sub, err == LIAISON_ERR_TOO_LARGE ? "a portion is larger than 16 MiB"
                                                   : "the portion labels '%s' do not parse",
                  plabels);
        goto fail;
    }
    free(text);
    *msg_out = m;
    return EX_OK;
fail:
    free(text);
    liaison_message_destroy(&m);
    return rc;
}

void
cli_rejection_rule(const char *text, char rule[65])
{
    const char *p = text != NULL ? strstr(text, "denied by ") : NULL;
    size_t n;

    rule[0] = '\0';
    if (p == NULL)
        return;
    p += strlen("denied by ");
    /* "denied by RULE: reason"; rule ids may hold ':' ("builtin:mlat-treaty"). */
    n = strstr(p, ": ") != NULL ? (size_t)(strstr(p, ": ") - p) : strcspn(p, " ");
    if (n > 0 && n < 65) {
        memcpy(rule, p, n);
        rule[n] = '\0';
    }
}

int
cli_record_sent(casebook *cb, const uint8_t id[16], const cli_outgoing *out, const char *body_text)
{
    casebook_entry ce;
    size_t len = 1;
    char *to = NULL;
    int rc;

    if (cb == NULL)
        return 0;
    for (size_t i = 0; i < out->to_count; i++)
        len += strlen(out->to[i]) + 1;
    to = calloc(1, len);
    if (to == NULL)
        return -1;
    for (size_t i = 0; i < out->to_count; i++) {
        if (i > 0)
            strcat(to, " ");
        strcat(to, out->to[i]);
    }
    memset(&ce, 0, sizeof(ce));
    ce.sent = true;
    memcpy(ce.id, id, 16);
    snprintf(ce.kind, sizeof(ce.kind), "%s", out->kind);
    snprintf(ce.case_id, sizeof(ce.case_id), "%s", out->case_id != NULL ? out->case_id : "");
    if (out->reply_to != NULL) {
        memcpy(ce.in_reply_to, out->reply_to, 16);
        ce.has_reply_to = true;
    }
    snprintf(ce.labels, sizeof(ce.labels), "%s", out->labels);
    ce.time_ms = ce.created_ms = liaison_now_ms();
    ce.recipients = to;
    ce.body = (char *)(uintptr_t)body_text;
    rc = casebook_put(cb, &ce) == CASEBOOK_OK ? 0 : -1;
    free(to);
    return rc;
}

int
cli_outgoing_send(const char *sub, liaison_client *c, casebook *cb, const cli_outgoing *out,
                  liaison_message *msg, const cli_conn *conn, bool json, uint8_t id_out[16])
{
    uint8_t id[16];
    char hex[33], rule[65];
    liaison_err err;
    const char *text = "";
    uint16_t code;
    int need = cli_actor_require(sub, conn);

    if (need != EX_OK)
        return need;
    err = liaison_send(c, msg, id, cli_deadline(conn));
    liaison_id_to_hex(id, hex);
    if (id_out != NULL)
        memcpy(id_out, id, 16);
    if (err == LIAISON_OK) {
        char *body = json_dumps(out->body, JSON_COMPACT);
        int rc = body != NULL ? cli_record_sent(cb, id, out, body) : -1;

        free(body);
        if (rc != 0) {
            cli_error(sub, "%s %s was accepted but could not be recorded in the casebook",
                      out->kind, hex);
            return EX_IOERR;
        }
        return EX_OK;
    }
    code = liaison_client_rejection(c, &text);
    cli_rejection_rule(err == LIAISON_ERR_REJECTED ? text : NULL, rule);
    if (json) {
        json_t *o = json_object();

        json_object_set_new(o, "id", json_string(hex));
        json_object_set_new(o, "kind", json_string(out->kind));
        json_object_set_new(o, "result",
                            json_string(err == LIAISON_ERR_REJECTED ? "rejected" : "error"));
        if (err == LIAISON_ERR_REJECTED) {
            json_object_set_new(o, "code", json_integer(code));
            json_object_set_new(o, "reason", json_string(text));
            if (rule[0])
                json_object_set_new(o, "rule", json_string(rule));
        } else {
            json_object_set_new(o, "reason", json_string(liaison_client_error(c)));
        }
        cli_print_json(o, false);
        json_decref(o);
    }
    if (err == LIAISON_ERR_REJECTED)
        cli_error(sub, "%s rejected by the broker: %s%s%s", out->kind, text,
                  rule[0] ? "; rule " : "", rule);
    else
        cli_error(sub, "%s", liaison_client_error(c));
    return cli_exit_for(err);
}

/* ---- Checks and bodies ------------------------------------------------------------ */

const char *
cli_labels_with_purpose(const char *labels, const char *purpose, char *buf, size_t len)
{
    if (purpose == NULL || purpose[0] == '\0')
        return labels;
    snprintf(buf, len, "%s//PURPOSE:%s", labels, purpose);
    return buf;
}

int
cli_purpose_check(const char *sub, const char *purpose)
{
    char text[PROTO_PURPOSE_MAX + 16];
    proto_labels l;
    proto_detail d = {{0}, {0}};

    if (purpose == NULL || purpose[0] == '\0') {
        cli_error(sub, "a query must state its purpose: add --purpose TEXT (it travels in the "
                       "labels and every broker audits it, as partners' data-protection laws "
                       "require)");
        return EX_USAGE;
    }
    if (strlen(purpose) > PROTO_PURPOSE_MAX) {
        cli_error(sub, "--purpose is at most %u characters", PROTO_PURPOSE_MAX);
        return EX_USAGE;
    }
    snprintf(text, sizeof(text), "PURPOSE:%s", purpose);
    if (proto_labels_parse(text, &l, &d) != PROTO_OK) {
        cli_error(sub, "--purpose '%s' cannot be used: %s", purpose, d.text);
        return EX_USAGE;
    }
    return EX_OK;
}

json_t *
cli_body_parse(const char *text, const char *schema, char why[128])
{
    json_error_t jerr;
    json_t *o;
    const char *s;

    if (text == NULL) {
        snprintf(why, 128, "no readable content");
        return NULL;
    }
    o = json_loads(text, 0, &jerr);
    if (o == NULL || !json_is_object(o)) {
        snprintf(why, 128, "portion 0 is not a JSON object: %.90s", o == NULL ? jerr.text : "");
        json_decref(o);
        return NULL;
    }
    s = json_string_value(json_object_get(o, "schema"));
    if (s == NULL || strcmp(s, schema) != 0) {
        snprintf(why, 128, "schema '%.40s' is not %.40s", s != NULL ? s : "(none)", schema);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The portions of e that a broker withheld, beyond portion 0 (which
 * cli_event_body names): into row as "withheld" when row is not NULL, else
 * printed one a line unless json. */
static void
withheld_rows(const liaison_event *e, json_t *row, bool json)
{
    json_t *list = json_array();

    for (size_t i = 1; i < e->portion_count; i++) {
        const liaison_portion *p = &e->portions[i];
        char text[512];

        if (!p->withheld)
            continue;
        cli_withheld_text(p, i, text, sizeof(text));
        if (row == NULL && !json)
            printf("  %s\n", text);
        json_array_append_new(list, json_pack("{s:I, s:s, s:o, s:s}", "portion", (json_int_t)i,
                                              "labels", p->labels, "withheld_by",
                                              cli_withheld_json(p), "notice", text));
    }
    if (row != NULL && json_array_size(list) > 0)
        json_object_set_new(row, "withheld", json_incref(list));
    json_decref(list);
}

json_t *
cli_event_body(const liaison_event *e, const char *schema, char why[128])
{
    json_t *o;
    char *text;

    if (e->portion_count == 0 || !e->portions[0].readable) {
        if (e->portion_count > 0 && e->portions[0].withheld)
            cli_withheld_text(&e->portions[0], 0, why, 128);
        else
            snprintf(why, 128, "portion 0 is not readable");
        return NULL;
    }
    text = malloc(e->portions[0].len + 1);
    if (text == NULL) {
        snprintf(why, 128, "out of memory");
        return NULL;
    }
    memcpy(text, e->portions[0].data, e->portions[0].len);
    text[e->portions[0].len] = '\0';
    o = cli_body_parse(text, schema, why);
    free(text);
    return o;
}

/* ---- Progress ---------------------------------------------------------------------- */

void
cli_progress_start(cli_progress *p, uint64_t total)
{
    memset(p, 0, sizeof(*p));
    p->on = isatty(STDERR_FILENO) == 1;
    p->bytes = true;
    p->total = total;
    p->pass_ms = liaison_now_ms();
}

void
cli_progress_start_count(cli_progress *p)
{
    memset(p, 0, sizeof(*p));
    p->on = isatty(STDERR_FILENO) == 1;
}

/* A duration as m:ss, or h:mm:ss from an hour on. */
static void
duration_text(char *buf, size_t len, uint64_t seconds)
{
    if (seconds >= 3600u)
        snprintf(buf, len, "%llu:%02u:%02u", (unsigned long long)(seconds / 3600u),
                 (unsigned)(seconds / 60u % 60u), (unsigned)(seconds % 60u));
    else
        snprintf(buf, len, "%u:%02u", (unsigned)(seconds / 60u), (unsigned)(seconds % 60u));
}

/* Formats the bar's text (without \r): label, bar, MiB done/total, MiB/s
 * and time left, given the bytes moved in elapsed_ms of the current pass;
 * the rate and time left read "--" until the pass has moved anything. */
static void
progress_format(char *buf, size_t len, const char *what, uint64_t done, uint64_t total,
                uint64_t moved, uint64_t elapsed_ms)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1], rate[24], left[32];
    size_t fill;

    if (done > total)
        done = total;
    fill = total > 0 ? (size_t)(done * WIDTH / total) : WIDTH;
    for (size_t i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    if (done == total) {
        snprintf(left, sizeof(left), "0:00");
    } else if (moved == 0 || elapsed_ms == 0) {
        snprintf(left, sizeof(left), "--:--");
    } else {
        /* Whole seconds, rounded up: "0:00 left" only when nothing is. */
        uint64_t remaining = total - done;
        uint64_t ms = (uint64_t)((double)remaining * (double)elapsed_ms / (double)moved);

        duration_text(left, sizeof(left), (ms + 999u) / 1000u);
    }
    if (moved == 0 || elapsed_ms == 0)
        snprintf(rate, sizeof(rate), "  -- MiB/s");
    else
        snprintf(rate, sizeof(rate), "%6.1f MiB/s",
                 (double)moved / 1048576.0 * 1000.0 / (double)elapsed_ms);
    snprintf(buf, len, "%-22.22s [%s] %7.1f/%.1f MiB %s %s left", what, bar,
             (double)done / 1048576.0, (double)total / 1048576.0, rate, left);
}

void
cli_progress_show(cli_progress *p, const char *what, uint64_t done)
{
    uint64_t now = liaison_now_ms();
    char line[256];

    if (!p->on)
        return;
    if (done < p->prev_done) { /* a new pass: its own rate */
        p->pass_ms = now;
        p->pass_done = done;
    }
    p->prev_done = done;
    if (now - p->last_ms < 100 && done < p->total)
        return;
    p->last_ms = now;
    progress_format(line, sizeof(line), what, done, p->total, done - p->pass_done,
                    now - p->pass_ms);
    /* \033[K wipes what a longer line before left behind. */
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = true;
}

void
cli_progress_count(cli_progress *p, const char *what, uint64_t done, uint64_t total)
{
    uint64_t now = liaison_now_ms();

    if (!p->on || (now - p->last_ms < 200 && done != total))
        return;
    p->last_ms = now;
    if (total > 0)
        fprintf(stderr, "\r%s %llu of %llu   ", what, (unsigned long long)done,
                (unsigned long long)total);
    else
        fprintf(stderr, "\r%s %llu   ", what, (unsigned long long)done);
    fflush(stderr);
    p->drawn = true;
}

void
cli_progress_end(cli_progress *p)
{
    if (p->on && p->bytes)
        fputc('\n', stderr);
    else if (p->on && p->drawn)
        fputs("\r\033[K", stderr);
    p->last_ms = 0;
    p->drawn = false;
}

/* ---- Queries (scatter-gather) ---------------------------------------------------- */

/* One value of a hit, as text: strings as they are, arrays joined with ','. */
static void
value_text(json_t *v, char *buf, size_t len)
{
    if (json_is_string(v)) {
        snprintf(buf, len, "%s", json_string_value(v));
    } else if (json_is_array(v)) {
        size_t i, used = 0;
        json_t *x;

        buf[0] = '\0';
        json_array_foreach(v, i, x) {
            char one[128];

            value_text(x, one, sizeof(one));
            used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
                                     i > 0 ? "," : "", one);
            if (used >= len)
                break;
        }
    } else if (json_is_number(v)) {
        snprintf(buf, len, "%g", json_number_value(v));
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

        snprintf(buf, len, "%s", t != NULL ? t : "?");
        free(t);
    }
}

/* One hit: its lead field (a watchlist or document "ref", a freeze.answer's
 * "designation"), then the others as key=value. */
static void
print_hit(json_t *hit)
{
    const char *key, *lead = json_object_get(hit, "ref") != NULL ? "ref" : "designation";
    json_t *v;
    char text[256];

    value_text(json_object_get(hit, lead), text, sizeof(text));
    printf("  %s", text);
    json_object_foreach(hit, key, v) {
        if (strcmp(key, lead) == 0)
            continue;
        value_text(v, text, sizeof(text));
        printf("  %s=%s", key, text);
    }
    putchar('\n');
}

const char *
cli_not_answered_words(const liaison_not_answered *n, char *buf, size_t len)
{
    const char *r = n->reason;
    char nation[4];

    snprintf(nation, sizeof(nation), "%.3s", n->agency);
    if (strcmp(r, "no-agent") == 0)
        snprintf(buf, len, "no agent connected (its broker %s reports unattended)",
                 n->broker[0] ? n->broker : nation);
    else if (strcmp(r, "partner-down") == 0)
        snprintf(buf, len, "partner broker %s unreachable", nation);
    else if (strcmp(r, "kind-not-accepted") == 0)
        snprintf(buf, len, "its card does not accept this kind, and no answer came");
    else if (strcmp(r, "denied") == 0)
        snprintf(buf, len, "denied by rule %s%s%s", n->rule_id[0] ? n->rule_id : "(none)",
                 n->detail[0] ? ": " : "", n->detail);
    else if (strcmp(r, "refused") == 0)
        snprintf(buf, len, "refused by %s, rule %s%s%s", n->broker[0] ? n->broker : nation,
                 n->rule_id[0] ? n->rule_id : "(none)", n->detail[0] ? ": " : "", n->detail);
    else if (strcmp(r, "deadline") == 0)
        snprintf(buf, len, "no answer before the deadline");
    else
        snprintf(buf, len, "%s%s%s", r, n->detail[0] ? ": " : "", n->detail);
    return buf;
}

int
cli_query_run(const char *sub, liaison_client *c, casebook *cb, const cli_conn *conn,
              const cli_outgoing *out, liaison_message *msg, uint64_t deadline_ms,
              const char *answer_schema, bool json, uint8_t id_out[16],
              liaison_answers **answers_out)
{
    liaison_answers *a = NULL;
    uint8_t id[16];
    char hex[33];
    json_t *rows = json_array(), *o = NULL;
    int rc;
    liaison_err err;

    /* Sent first on its own, so that its id is known (and recorded) even if
     * nobody answers; liaison_query's resubmission of the same sealed
     * message is acknowledged by the broker as a duplicate, not sent twice. */
    if ((rc = cli_outgoing_send(sub, c, cb, out, msg, conn, json, id)) != EX_OK)
        goto out;
    liaison_id_to_hex(id, hex);
    if (id_out != NULL)
        memcpy(id_out, id, 16);
    err = liaison_query(c, msg, deadline_ms, &a);
    if (err != LIAISON_OK) {
        cli_error(sub, "%s", liaison_client_error(c));
        rc = cli_exit_for(err);
        goto out;
    }
    if (!json)
        printf("%s %s sent; %zu answer%s\n", out->kind, hex, a->count, a->count == 1 ? "" : "s");
    for (size_t i = 0; i < a->count; i++) {
        const liaison_event *e = a->answers[i];
        char why[128];
        json_t *body = cli_event_body(e, answer_schema, why), *row = json_object();
        const char *result = body != NULL ? json_string_value(json_object_get(body, "result")) : NULL;
        json_t *hits = body != NULL ? json_object_get(body, "hits") : NULL;

        if (cb != NULL && cli_store_event(cb, e) != 0)
            cli_error(sub, "answer %s could not be recorded in the casebook", e->id_hex);
        json_object_set_new(row, "from", json_string(e->sender));
        if (e->actor[0])
            json_object_set_new(row, "actor", json_string(e->actor));
        json_object_set_new(row, "id", json_string(e->id_hex));
        json_object_set_new(row, "result", json_string(result != NULL ? result : "unreadable"));
        if (body == NULL)
            json_object_set_new(row, "reason", json_string(why));
        json_object_set_new(row, "hits", json_is_array(hits) ? json_incref(hits) : json_array());
        withheld_rows(e, row, json);
        if (!json) {
            printf("%-14s %-8s", e->sender,
                   result == NULL ? "UNREADABLE" : strcmp(result, "hit") == 0 ? "HIT" : result);
            if (body == NULL)
                printf(" (%s)", why);
            printf("  answer %s%s%s\n", e->id_hex, e->actor[0] ? " by " : "", e->actor);
            withheld_rows(e, NULL, false);
            if (json_is_array(hits)) {
                size_t k;
                json_t *h;

                json_array_foreach(hits, k, h) {
                    if (json_is_object(h))
                        print_hit(h);
                }
            }
        }
        json_array_append_new(rows, row);
        json_decref(body);
    }
    if (!json) {
        for (size_t i = 0; i < a->not_answered_count; i++) {
            char words[400];

            printf("%-14s NO ANSWER: %s\n", a->not_answered[i].agency,
                   cli_not_answered_words(&a->not_answered[i], words, sizeof(words)));
        }
    } else {
        json_t *silent = json_array(), *missing = json_array();

        for (size_t i = 0; i < a->silent_count; i++)
            json_array_append_new(silent, json_string(a->silent[i]));
        for (size_t i = 0; i < a->not_answered_count; i++) {
            const liaison_not_answered *n = &a->not_answered[i];
            json_t *row = json_object();

            json_object_set_new(row, "agency", json_string(n->agency));
            json_object_set_new(row, "reason", json_string(n->reason));
            json_object_set_new(row, "rule", json_string(n->rule_id));
            json_object_set_new(row, "detail", json_string(n->detail));
            json_array_append_new(missing, row);
        }
        o = json_object();
        json_object_set_new(o, "id", json_string(hex));
        json_object_set_new(o, "kind", json_string(out->kind));
        json_object_set_new(o, "result", json_string("accepted"));
        json_object_set_new(o, "answers", json_incref(rows));
        json_object_set_new(o, "silent", silent);
        json_object_set_new(o, "not_answered", missing);
        json_object_set_new(o, "complete", json_boolean(a->not_answered_count == 0));
        if (out->json_extra != NULL)
            json_object_update(o, (json_t *)(uintptr_t)out->json_extra);
        cli_print_json(o, false);
    }
    rc = a->not_answered_count == 0 ? EX_OK : EX_TEMPFAIL;
    if (answers_out != NULL) {
        *answers_out = a;
        a = NULL;
    }
out:
    liaison_answers_free(&a);
    json_decref(rows);
    json_decref(o);
    return rc;
}

/* What cli_newest_sent looks for, and what it found. */
typedef struct newest_sent {
    const char *member;   /* the member of portion 0 compared */
    const char *value;    /* the value it must have */
    uint8_t *id;          /* the newest match's id */
    uint64_t at;          /* when it was sent */
    bool *found;          /* one matched */
} newest_sent;

static int
each_newest(void *arg, const casebook_entry *e)
{
    newest_sent *n = arg;
    json_t *o = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(o, n->member));

    if (v != NULL && strcmp(v, n->value) == 0 && (!*n->found || e->time_ms >= n->at)) {
        memcpy(n->id, e->id, 16);
        n->at = e->time_ms;
        *n->found = true;
    }
    json_decref(o);
    return 0;
}

int
cli_newest_sent(casebook *cb, const char *kind, const char *member, const char *value,
                uint8_t id_out[16], bool *found_out)
{
    newest_sent n = {member, value, id_out, 0, found_out};

    *found_out = false;
    return casebook_each_kind(cb, true, kind, each_newest, &n) == CASEBOOK_OK ? 0 : -1;
}
