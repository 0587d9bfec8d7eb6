/* The web console's MLAT endpoints: the cases, one case, and the respond and export actions. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "casebook.h"
#include "cli.h"
#include "cli_bundle.h"
#include "cli_int.h"
#include "cli_mlat.h"
#include "console.h"
#include "console_data.h"
#include "liaison_proto.h"

#define CASES_MAX 1000          /* cases a list shows at most */
#define EXPORTS_MAX 100         /* exports of a case the record keeps (the newest) */
#define NOTE_MAX 2000           /* bytes of a respond note or grounds */
#define EXPORTS_DIR "console-exports"
#define EXPORTS_RECORD "console-exports.json"

bool
console_ref_check(const char *what, const char *id, char *why, size_t why_len)
{
    size_t n = id != NULL ? strlen(id) : 0;

    if (n == 0 || n > 64) {
        snprintf(why, why_len, "the %s must be 1 to 64 characters (it is %zu)", what, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':')) {
            snprintf(why, why_len, "the %s may hold only A-Z a-z 0-9 - _ . : (character %zu is "
                                   "not one)", what, i + 1);
            return false;
        }
    }
    if (id[0] == '.') {
        snprintf(why, why_len, "the %s may not start with a dot", what);
        return false;
    }
    return true;
}

bool
console_case_id_check(const char *id, char *why, size_t why_len)
{
    return console_ref_check("case id", id, why, why_len);
}

/* Loads case id, mapping the codes of cli_mlat_case_load to HTTP statuses. */
static bool
load(console_ctx *ctx, const char *id, bool with_raw, cli_mlat_case *mc, int *status, char *why,
     size_t why_len)
{
    int rc = cli_mlat_case_load(ctx->cb, ctx->conn.state, id, with_raw, mc, why, why_len);

    if (rc == EX_OK)
        return true;
    *status = rc == EX_NOINPUT ? 404 : 500;
    return false;
}

/* The next deadline still open of a case's status JSON, for sorting: its due time, or
 * the end of time when none is open. */
static const char *
next_due(const json_t *st)
{
    const json_t *dl = json_object_get(st, "deadlines");
    const char *names[] = {"decide", "execute"};

    for (size_t i = 0; i < 2; i++) {
        const json_t *d = json_object_get(dl, names[i]);

        if (json_is_integer(json_object_get(d, "days_left")))
            return json_string_value(json_object_get(d, "due"));
    }
    return "9999";
}

json_t *
console_mlat_row(const json_t *st)
{
    json_t *timeline = json_object_get(st, "timeline"), *f;
    json_t *last = json_array_get(timeline, json_array_size(timeline) - 1);
    size_t i, complete = 0;
    json_t *row;

    json_array_foreach(json_object_get(st, "evidence"), i, f) complete +=
        json_is_true(json_object_get(f, "complete"));
    row = json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:I, s:b}", "case",
                    json_object_get(st, "case"), "role", json_object_get(st, "role"), "peer",
                    json_object_get(st, "peer"), "treaty", json_object_get(st, "treaty"),
                    "offences", json_object_get(st, "offences"), "status",
                    json_object_get(st, "status"), "submitted", json_object_get(st, "submitted"),
                    "last", last != NULL ? json_object_get(last, "time") : json_null(),
                    "overdue", json_object_get(st, "overdue"), "deadlines",
                    json_object_get(st, "deadlines"), "evidence_files",
                    (json_int_t)json_array_size(json_object_get(st, "evidence")),
                    "evidence_complete",
                    json_array_size(json_object_get(st, "evidence")) > 0 &&
                        complete == json_array_size(json_object_get(st, "evidence")));
    if (row != NULL)
        json_object_set_new(row, "next_due", json_string(next_due(st)));
    return row;
}

/* Overdue first, then by the next due date, then by case id. */
static int
by_urgency(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    bool ox = json_is_true(json_object_get(x, "overdue"));
    bool oy = json_is_true(json_object_get(y, "overdue"));
    int c;

    if (ox != oy)
        return ox ? -1 : 1;
    c = strcmp(json_string_value(json_object_get(x, "next_due")),
               json_string_value(json_object_get(y, "next_due")));
    if (c != 0)
        return c;
    return strcmp(json_string_value(json_object_get(x, "case")),
                  json_string_value(json_object_get(y, "case")));
}

json_t *
console_mlat_cases(casebook *cb, const char *state, uint64_t now_ms, char *why, size_t why_len)
{
    casebook_case_ids *ids = NULL;
    json_t **rows = NULL, *out = NULL, *cases = NULL;
    size_t n = 0;
    casebook_err err;

    if ((err = casebook_cases(cb, "mlat", CASES_MAX, &ids)) != CASEBOOK_OK) {
        snprintf(why, why_len, "casebook: %s", casebook_strerror(err));
        return NULL;
    }
    if (ids->count > 0 && (rows = calloc(ids->count, sizeof(*rows))) == NULL)
        goto nomem;
    for (size_t i = 0; i < ids->count; i++) {
        cli_mlat_case mc;
        char lwhy[512];
        json_t *st;

        /* A case of which only statuses are held (its request recalled, or from
         * another state directory) has no deadlines: it is not listed. */
        if (cli_mlat_case_load(cb, state, ids->ids[i], false, &mc, lwhy, sizeof(lwhy)) != EX_OK) {
            cli_mlat_case_free(&mc);
            continue;
        }
        st = cli_mlat_status_json(&mc, ids->ids[i], now_ms, CLI_MLAT_DECIDE_DAYS,
                                  CLI_MLAT_EXECUTE_DAYS);
        cli_mlat_case_free(&mc);
        if (st == NULL)
            goto nomem;
        rows[n] = console_mlat_row(st);
        json_decref(st);
        if (rows[n] == NULL)
            goto nomem;
        n++;
    }
    if (n > 1)
        qsort(rows, n, sizeof(*rows), by_urgency);
    if ((cases = json_array()) == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        json_object_del(rows[i], "next_due");
        json_array_append_new(cases, rows[i]);
        rows[i] = NULL;
    }
    out = json_pack("{s:o, s:b}", "cases", cases, "truncated", ids->truncated);
    cases = NULL;
    if (out == NULL)
        goto nomem;
    goto done;
nomem:
    snprintf(why, why_len, "out of memory");
done:
    for (size_t i = 0; i < n; i++)
        json_decref(rows[i]);
    free(rows);
    json_decref(cases);
    casebook_case_ids_free(&ids);
    return out;
}

/* <state>/console-exports */
static void
exports_root(const console_ctx *ctx, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", ctx->conn.state, EXPORTS_DIR);
}

json_t *
console_mlat_exports(const char *state, const char *case_id)
{
    char path[4096];
    json_t *rec, *list;

    snprintf(path, sizeof(path), "%s/%s/%s", state, EXPORTS_DIR, EXPORTS_RECORD);
    rec = json_load_file(path, 0, NULL);
    list = json_object_get(rec, case_id);
    list = json_is_array(list) ? json_deep_copy(list) : json_array();
    json_decref(rec);
    return list;
}

/* Appends an export to the record of the console's exports (the newest EXPORTS_MAX of a
 * case are kept).  0, or -1 when it cannot be written. */
static int
exports_record(const console_ctx *ctx, const char *case_id, json_t *entry)
{
    char root[4096], path[4200], tmp[4300];
    json_t *rec, *list;
    int rc;

    exports_root(ctx, root, sizeof(root));
    snprintf(path, sizeof(path), "%s/%s", root, EXPORTS_RECORD);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    rec = json_load_file(path, 0, NULL);
    if (!json_is_object(rec)) {
        json_decref(rec);
        rec = json_object();
    }
    list = json_object_get(rec, case_id);
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(rec, case_id, list);
    }
    json_array_append(list, entry);
    while (json_array_size(list) > EXPORTS_MAX)
        json_array_remove(list, 0);
    rc = json_dump_file(rec, tmp, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    json_decref(rec);
    return rc;
}

json_t *
console_api_mlat_list(console_ctx *ctx, const console_req *req, int *status, char *why,
                      size_t why_len)
{
    const char *now = console_param(req, "now");
    uint64_t now_ms = liaison_now_ms();
    json_t *out;

    if (now != NULL && !proto_time_parse(now, &now_ms)) {
        *status = 400;
        snprintf(why, why_len, "now: takes YYYY-MM-DD or an RFC 3339 UTC time");
        return NULL;
    }
    out = console_mlat_cases(ctx->cb, ctx->conn.state, now_ms, why, why_len);
    if (out == NULL)
        *status = 500;
    return out;
}

json_t *
console_mlat_case(console_ctx *ctx, const char *case_id, uint64_t now_ms, int *status,
                  char *why, size_t why_len)
{
    cli_mlat_case mc;
    json_t *j = NULL;

    if (!console_case_id_check(case_id, why, why_len)) {
        *status = 400;
        return NULL;
    }
    if (!load(ctx, case_id, false, &mc, status, why, why_len))
        goto done;
    j = cli_mlat_status_json(&mc, case_id, now_ms, CLI_MLAT_DECIDE_DAYS, CLI_MLAT_EXECUTE_DAYS);
    if (j == NULL) {
        *status = 500;
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    json_object_set_new(j, "statuses",
                        cli_mlat_statuses_allowed(&mc, json_string_value(json_object_get(j, "status"))));
    json_object_set_new(j, "exports", console_mlat_exports(ctx->conn.state, case_id));
done:
    cli_mlat_case_free(&mc);
    return j;
}

json_t *
console_api_mlat_case(console_ctx *ctx, const console_req *req, int *status, char *why,
                      size_t why_len)
{
    const char *now = console_param(req, "now");
    uint64_t now_ms = liaison_now_ms();

    if (now != NULL && !proto_time_parse(now, &now_ms)) {
        *status = 400;
        snprintf(why, why_len, "now: takes YYYY-MM-DD or an RFC 3339 UTC time");
        return NULL;
    }
    return console_mlat_case(ctx, req->arg, now_ms, status, why, why_len);
}

/* A string member of a request body, or NULL when absent; false (why said) when present
 * but not a string, longer than max, or holding a control character. */
static bool
body_text(const json_t *body, const char *name, size_t max, const char **out, char *why,
          size_t why_len)
{
    const json_t *v = json_object_get(body, name);
    const char *s;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        snprintf(why, why_len, "%s: must be a string", name);
        return false;
    }
    s = json_string_value(v);
    if (strlen(s) > max) {
        snprintf(why, why_len, "%s: at most %zu bytes", name, max);
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 && *p != '\n' && *p != '\t') {
            snprintf(why, why_len, "%s: control characters are not allowed", name);
            return false;
        }
    }
    *out = s;
    return true;
}

json_t *
console_api_mlat_respond(console_ctx *ctx, const console_req *req, int *status, char *why,
                         size_t why_len)
{
    const char *st = NULL, *note = NULL, *grounds = NULL, *text = "";
    cli_conn conn = ctx->conn;
    liaison_client *c = NULL;
    cli_mlat_case mc;
    json_t *result = NULL;
    char rule[65];
    int rc;

    memset(&mc, 0, sizeof(mc));
    if (!console_case_id_check(req->arg, why, why_len) ||
        !body_text(req->body, "status", 64, &st, why, why_len) ||
        !body_text(req->body, "note", NOTE_MAX, &note, why, why_len) ||
        !body_text(req->body, "grounds", NOTE_MAX, &grounds, why, why_len)) {
        *status = 400;
        return NULL;
    }
    if (cli_mlat_respond_check(st, grounds, why, why_len) != EX_OK) {
        *status = 400;
        return NULL;
    }
    if (!load(ctx, req->arg, false, &mc, status, why, why_len))
        goto done;
    if (cli_mlat_respond_side_check(&mc, st, why, why_len) != EX_OK) {
        *status = 409;
        goto done;
    }
    conn.actor = req->actor;
    if ((rc = cli_connect("console", &conn, false, &c)) != EX_OK) {
        *status = 502;
        snprintf(why, why_len, "the broker %s cannot be reached", conn.broker);
        goto done;
    }
    rc = cli_mlat_respond_send("console", c, ctx->cb, &conn, &mc, req->arg, st, note, grounds,
                               NULL, false, &result, why, why_len);
    if (rc == EX_USAGE && why[0] != '\0') {
        *status = 409;
    } else if (rc == CLI_EXIT_REJECTED) {
        (void)liaison_client_rejection(c, &text);
        cli_rejection_rule(text, rule);
        *status = 409;
        snprintf(why, why_len, "rejected by the broker: %s%s%s", text, rule[0] ? "; rule " : "",
                 rule);
    } else if (rc != EX_OK) {
        *status = 502;
        snprintf(why, why_len, "%s", liaison_client_error(c));
    }
done:
    liaison_client_close(&c);
    cli_mlat_case_free(&mc);
    return result;
}

json_t *
console_api_mlat_export(console_ctx *ctx, const console_req *req, int *status, char *why,
                        size_t why_len)
{
    proto_identity *me = NULL;
    proto_detail d = {{0}, {0}};
    cli_mlat_case mc;
    json_t *summary = NULL, *report = NULL, *out = NULL, *entry = NULL;
    char root[4096], dir[4300], stamp[32], t[PROTO_TIME_TEXT_BYTES];
    uint64_t now = liaison_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    int rc, vrc;

    memset(&mc, 0, sizeof(mc));
    if (!console_case_id_check(req->arg, why, why_len)) {
        *status = 400;
        return NULL;
    }
    if (ctx->conn.key == NULL || ctx->conn.roster == NULL ||
        proto_keyfile_read(ctx->conn.key, &me, &d) != PROTO_OK) {
        *status = 500;
        snprintf(why, why_len, "the agency's key cannot be read: %s",
                 ctx->conn.key == NULL ? "no --key" : d.text);
        goto done;
    }
    if (!load(ctx, req->arg, true, &mc, status, why, why_len))
        goto done;
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    exports_root(ctx, root, sizeof(root));
    snprintf(dir, sizeof(dir), "%s/%s-%s", root, req->arg, stamp);
    if (mkdir(root, 0700) != 0 && errno != EEXIST) {
        *status = 500;
        snprintf(why, why_len, "%s cannot be made: %s", root, strerror(errno));
        goto done;
    }
    rc = cli_mlat_export_bundle(ctx->cb, &mc, req->arg, me, ctx->conn.roster, dir,
                                ctx->audit_data, &summary, why, why_len);
    if (rc != EX_OK) {
        /* The case is not ready (incomplete evidence, no tree head yet) or the
         * directory is taken (two exports in one second): not possible now. */
        *status = rc == EX_DATAERR || rc == EX_TEMPFAIL || rc == EX_CANTCREAT ? 409 : 500;
        goto done;
    }
    vrc = bundle_verify(dir, NULL, &report);
    entry = json_pack("{s:s, s:s, s:b, s:I}", "dir", dir, "time", proto_time_format(now, t),
                      "verified", vrc == 0, "problems",
                      (json_int_t)json_array_size(json_object_get(report, "failures")));
    if (entry == NULL || exports_record(ctx, req->arg, entry) != 0) {
        *status = 500;
        snprintf(why, why_len, "the bundle was written to %s but the record of exports cannot "
                               "be", dir);
        goto done;
    }
    out = json_pack("{s:s, s:b, s:O, s:O}", "dir", dir, "verified", vrc == 0, "report",
                    report != NULL ? report : json_null(), "summary", summary);
    if (out == NULL) {
        *status = 500;
        snprintf(why, why_len, "out of memory");
    }
done:
    json_decref(entry);
    json_decref(report);
    json_decref(summary);
    cli_mlat_case_free(&mc);
    proto_identity_destroy(&me);
    return out;
}
