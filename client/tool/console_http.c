/* The web console's HTTP server: security headers, logins, sessions, CSRF and Bearer tokens,
 * the embedded pages, the routing of the JSON API to its handlers, the broker's status and
 * the generation the pages poll (the command and the drain are cli_console.c). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <sodium.h>

#include "console_http.h"
#include "liaison_proto.h"

#define BODY_MAX (64u * 1024u)              /* largest request body */
#define BROKER_STATUS_MAX (4u << 20)        /* largest /status.json read from the broker */
#define BROKER_TIMEOUT_MS 2000L             /* how long the broker's status may take */
#define COOKIE "liaison_console"            /* the session cookie's name */
#define CSRF_HEADER "X-Liaison-CSRF"        /* the header a POST to /api/ carries */

pthread_mutex_t console_lock = PTHREAD_MUTEX_INITIALIZER;

/* A request being read: its body, bounded. */
typedef struct request {
    char body[BODY_MAX + 1];        /* the body so far, NUL-terminated */
    size_t len;                     /* bytes in body */
    bool too_big;                   /* the body is larger than BODY_MAX */
} request;

/* What to send. */
typedef struct reply {
    unsigned status;                /* HTTP status */
    const char *type;               /* Content-Type, or NULL */
    const void *body;               /* body bytes (may be NULL when len is 0) */
    size_t len;                     /* body length */
    bool owned;                     /* body is malloc'd: freed with the response */
    bool no_store;                  /* Cache-Control: no-store */
    const char *location;           /* Location, or NULL */
    const char *cookie;             /* Set-Cookie, or NULL */
    const char *allow;              /* Allow (405), or NULL */
} reply;

/* ---- Responses --------------------------------------------------------------------- */

static enum MHD_Result
respond(struct MHD_Connection *conn, const reply *rp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(rp->len, (void *)(uintptr_t)rp->body,
                                        rp->owned ? MHD_RESPMEM_MUST_FREE
                                                  : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (rp->owned)
            free((void *)(uintptr_t)rp->body);
        return MHD_NO;
    }
    /* The security headers, set in this one place for every response. */
    for (size_t i = 0; console_headers[i].name != NULL; i++)
        MHD_add_response_header(r, console_headers[i].name, console_headers[i].value);
    if (rp->type != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rp->type);
    if (rp->no_store)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (rp->location != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, rp->location);
    if (rp->cookie != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, rp->cookie);
    if (rp->allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rp->allow);
    ret = MHD_queue_response(conn, rp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends o (a new reference, taken) as JSON with status. */
static enum MHD_Result
send_json(struct MHD_Connection *conn, unsigned status, json_t *o)
{
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    reply rp = {.status = status, .type = "application/json", .no_store = true, .owned = true};

    json_decref(o);
    if (text == NULL)
        return MHD_NO;
    rp.body = text;
    rp.len = strlen(text);
    return respond(conn, &rp);
}

/* Sends {"error": why} with status. */
static enum MHD_Result
send_error(struct MHD_Connection *conn, unsigned status, const char *why)
{
    return send_json(conn, status, json_pack("{s:s}", "error", why));
}

static enum MHD_Result
send_method_not_allowed(struct MHD_Connection *conn, const char *allow)
{
    char *text = NULL;
    json_t *o = json_pack("{s:s}", "error", "method not allowed");
    reply rp = {.status = MHD_HTTP_METHOD_NOT_ALLOWED, .type = "application/json",
                .no_store = true, .owned = true, .allow = allow};

    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return MHD_NO;
    rp.body = text;
    rp.len = strlen(text);
    return respond(conn, &rp);
}

static enum MHD_Result
send_redirect(struct MHD_Connection *conn, const char *location, const char *cookie)
{
    reply rp = {.status = MHD_HTTP_SEE_OTHER, .type = "text/plain; charset=utf-8",
                .body = "see other\n", .len = 10, .no_store = true, .location = location,
                .cookie = cookie};

    return respond(conn, &rp);
}

/* Sends the asset at path with status; the login page, with failed, carries data-failed on
 * its body element, which its style shows as "that token is not valid". */
static enum MHD_Result
send_asset(struct MHD_Connection *conn, const char *path, unsigned status, bool failed)
{
    const console_asset *a = console_asset_find(path);
    reply rp = {.status = status, .no_store = strcmp(path, "login.html") == 0};
    const char *at;

    if (a == NULL)
        return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
    rp.type = a->type;
    rp.body = a->bytes;
    rp.len = a->len;
    if (failed && (at = strstr((const char *)a->bytes, "<body")) != NULL) {
        static const char mark[] = " data-failed=\"\"";
        size_t head = (size_t)(at - (const char *)a->bytes) + 5;
        char *copy = malloc(a->len + sizeof(mark));

        if (copy == NULL)
            return MHD_NO;
        memcpy(copy, a->bytes, head);
        memcpy(copy + head, mark, sizeof(mark) - 1);
        memcpy(copy + head + sizeof(mark) - 1, a->bytes + head, a->len - head);
        rp.body = copy;
        rp.len = a->len + sizeof(mark) - 1;
        rp.owned = true;
    }
    return respond(conn, &rp);
}

/* ---- Who asks ---------------------------------------------------------------------- */

/* The client's address, numeric, into out. */
static void
client_address(struct MHD_Connection *conn, char out[64])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    socklen_t len;

    snprintf(out, 64, "unknown");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                 : sizeof(struct sockaddr_in);
    (void)getnameinfo(ci->client_addr, len, out, 64, NULL, 0, NI_NUMERICHOST);
}

/* Reads the tokens file again (a login or a Bearer token); keeps the last good reading
 * when it has become unreadable or unsafe, and says so. */
static void
tokens_reload(console *c)
{
    char why[512];

    if (console_tokens_load(c->tokens_path, &c->tokens, why, sizeof(why)) != 0)
        PROTO_LOG(PROTO_LOG_ERROR, "C-TOKENS", "error=\"%s\" (the last good reading is used)",
                  why);
}

/* How a request is authenticated. */
typedef enum auth {
    AUTH_NONE,                      /* no cookie of a live session, no Bearer token */
    AUTH_SESSION,                   /* a session cookie */
    AUTH_BEARER,                    /* a good Bearer token */
    AUTH_BEARER_BAD,                /* a Bearer token that is not valid */
    AUTH_BLOCKED,                   /* a Bearer token from an address over the limit */
} auth;

/* Who sends the request: *actor_out (borrowed until the next request) and, for a session,
 * *s_out. */
static auth
authenticate(console *c, struct MHD_Connection *conn, const char *from,
             const console_session **s_out, const char **actor_out)
{
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
    const char *authz = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
    const console_session *s;
    const char *actor;

    *s_out = NULL;
    *actor_out = NULL;
    if (cookie != NULL && (s = console_session_find(&c->sessions, cookie, liaison_now_ms())) != NULL) {
        *s_out = s;
        *actor_out = s->actor;
        return AUTH_SESSION;
    }
    if (authz == NULL || strncmp(authz, "Bearer ", 7) != 0)
        return AUTH_NONE;
    if (console_fails_blocked(&c->fails, from, liaison_now_ms()))
        return AUTH_BLOCKED;
    tokens_reload(c);
    if ((actor = console_tokens_match(&c->tokens, authz + 7)) == NULL) {
        console_fails_add(&c->fails, from, liaison_now_ms());
        PROTO_LOG(PROTO_LOG_WARN, "C-LOGIN-FAILED", "from=%s with=bearer", from);
        return AUTH_BEARER_BAD;
    }
    *actor_out = actor;
    return AUTH_BEARER;
}

/* ---- Login ------------------------------------------------------------------------- */

/* The value of field name in a form body (application/x-www-form-urlencoded), decoded,
 * into out (len bytes); false when it is missing or too long. */
static bool
form_field(const char *body, const char *name, char *out, size_t len)
{
    size_t nlen = strlen(name);
    const char *p = body;

    while (p != NULL && *p != '\0') {
        if (strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;

            for (p += nlen + 1; *p != '\0' && *p != '&'; p++) {
                char ch = *p;

                if (ch == '+')
                    ch = ' ';
                else if (ch == '%' && p[1] != '\0' && p[2] != '\0') {
                    char hex[3] = {p[1], p[2], '\0'};
                    char *end;
                    long v = strtol(hex, &end, 16);

                    if (*end != '\0' || v == 0)
                        return false;
                    ch = (char)v;
                    p += 2;
                }
                if (o + 1 >= len)
                    return false;
                out[o++] = ch;
            }
            out[o] = '\0';
            return true;
        }
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return false;
}

static enum MHD_Result
login(console *c, struct MHD_Connection *conn, const request *r, const char *from)
{
    char token[CONSOLE_TOKEN_MAX + 2], cookie[160];
    const console_session *s;
    const char *actor = NULL;
    enum MHD_Result ret;

    if (console_fails_blocked(&c->fails, from, liaison_now_ms())) {
        reply rp = {.status = MHD_HTTP_TOO_MANY_REQUESTS, .type = "text/plain; charset=utf-8",
                    .no_store = true,
                    .body = "too many failed logins from this address: try again in a minute\n"};

        rp.len = strlen(rp.body);
        PROTO_LOG(PROTO_LOG_WARN, "C-LOGIN-FAILED", "from=%s blocked=true", from);
        return respond(conn, &rp);
    }
    tokens_reload(c);
    if (form_field(r->body, "token", token, sizeof(token)))
        actor = console_tokens_match(&c->tokens, token);
    sodium_memzero(token, sizeof(token));
    if (actor == NULL) {
        console_fails_add(&c->fails, from, liaison_now_ms());
        PROTO_LOG(PROTO_LOG_WARN, "C-LOGIN-FAILED", "from=%s", from);
        return send_asset(conn, "login.html", MHD_HTTP_UNAUTHORIZED, true);
    }
    s = console_session_open(&c->sessions, actor, liaison_now_ms());
    PROTO_LOG(PROTO_LOG_INFO, "C-LOGIN", "actor=%s from=%s", s->actor, from);
    snprintf(cookie, sizeof(cookie), COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%u",
             s->id, (unsigned)(CONSOLE_SESSION_MS / 1000));
    ret = send_redirect(conn, "/", cookie);
    sodium_memzero(cookie, sizeof(cookie));
    return ret;
}

static enum MHD_Result
logout(console *c, struct MHD_Connection *conn, const char *from)
{
    const char *cookie = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
    const console_session *s;

    if (cookie != NULL && (s = console_session_find(&c->sessions, cookie, liaison_now_ms())) != NULL) {
        PROTO_LOG(PROTO_LOG_INFO, "C-LOGOUT", "actor=%s from=%s", s->actor, from);
        console_session_close(&c->sessions, cookie);
    }
    return send_redirect(conn, "/login",
                         COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

/* ---- Generation -------------------------------------------------------------------- */

/* True if the file of w changed since it was last seen (under console_lock). */
static bool
watched_changed(console_watched *w)
{
    struct stat st;
    bool changed;

    if (w->path[0] == '\0' || stat(w->path, &st) != 0)
        return false;
    changed = st.st_size != w->size || st.st_mtim.tv_sec != w->mtime.tv_sec ||
              st.st_mtim.tv_nsec != w->mtime.tv_nsec;
    w->size = st.st_size;
    w->mtime = st.st_mtim;
    return changed;
}

uint64_t
console_generation_check(console *c)
{
    bool a = watched_changed(&c->casebook_mdb), b = watched_changed(&c->agent_mdb);

    if (a || b)
        c->generation++;
    return c->generation;
}

/* ---- The broker's status ----------------------------------------------------------- */

/* A body read by libcurl, bounded. */
typedef struct fetched {
    char *data;                     /* bytes so far */
    size_t len;                     /* their number */
    bool too_big;                   /* more than BROKER_STATUS_MAX came */
} fetched;

static size_t
fetch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    fetched *f = userdata;
    size_t n = size * nmemb;
    char *grown;

    if (f->len + n > BROKER_STATUS_MAX) {
        f->too_big = true;
        return 0;
    }
    if ((grown = realloc(f->data, f->len + n + 1)) == NULL)
        return 0;
    f->data = grown;
    memcpy(f->data + f->len, ptr, n);
    f->len += n;
    f->data[f->len] = '\0';
    return n;
}

/* GET <broker-http>/status.json, parsed; NULL with *status and why when it cannot be read. */
static json_t *
broker_status(console *c, int *status, char *why, size_t why_len)
{
    char url[600], cerr[CURL_ERROR_SIZE];
    fetched f = {NULL, 0, false};
    json_t *o = NULL;
    json_error_t jerr;
    CURL *h = NULL;
    CURLcode rc;
    long code = 0;
    size_t blen;

    if (c->broker_http == NULL) {
        *status = MHD_HTTP_NOT_FOUND;
        snprintf(why, why_len, "the console was started without --broker-http");
        return NULL;
    }
    blen = strlen(c->broker_http);
    while (blen > 0 && c->broker_http[blen - 1] == '/')
        blen--;
    snprintf(url, sizeof(url), "%.*s/status.json", (int)blen, c->broker_http);
    *status = MHD_HTTP_BAD_GATEWAY;
    cerr[0] = '\0';
    if ((h = curl_easy_init()) == NULL) {
        snprintf(why, why_len, "the broker's status at %.300s cannot be read: no HTTP client", url);
        return NULL;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, BROKER_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (f.too_big)
        snprintf(why, why_len, "the broker's status at %.300s cannot be read: larger than %u bytes",
                 url, BROKER_STATUS_MAX);
    else if (rc != CURLE_OK)
        snprintf(why, why_len, "the broker's status at %.300s cannot be read: %s", url,
                 cerr[0] != '\0' ? cerr : curl_easy_strerror(rc));
    else if (code != 200)
        snprintf(why, why_len, "the broker's status at %.300s cannot be read: HTTP status %ld", url,
                 code);
    else if ((o = json_loadb(f.data != NULL ? f.data : "", f.len, 0, &jerr)) == NULL ||
             !json_is_object(o)) {
        snprintf(why, why_len, "the broker's status at %.300s cannot be read: not a JSON object%s%.100s",
                 url, o == NULL ? ": " : "", o == NULL ? jerr.text : "");
        json_decref(o);
        o = NULL;
    }
    curl_easy_cleanup(h);
    free(f.data);
    return o;
}

/* ---- The JSON API ------------------------------------------------------------------ */

/* The endpoints that the core answers itself. */
typedef enum core_api {
    CORE_NONE,                      /* a handler of console.h */
    CORE_SESSION,                   /* GET /api/session */
    CORE_CHANGES,                   /* GET /api/changes */
    CORE_BROKER,                    /* GET /api/broker */
} core_api;

/* One endpoint: /api/NAME, /api/NAME/ARG or /api/NAME/ARG/ACTION. */
typedef struct route {
    const char *name;               /* "mlat" */
    bool arg;                       /* an ARG follows */
    const char *action;             /* "respond", or NULL */
    bool post;                      /* POST (an action), else GET */
    core_api core;                  /* answered by the core, or */
    console_api_fn fn;              /* by this handler */
} route;

static const route routes[] = {
    {"session", false, NULL, false, CORE_SESSION, NULL},
    {"changes", false, NULL, false, CORE_CHANGES, NULL},
    {"broker", false, NULL, false, CORE_BROKER, NULL},
    {"inbox", false, NULL, false, CORE_NONE, console_api_inbox},
    {"queries", false, NULL, false, CORE_NONE, console_api_queries},
    {"recalls", false, NULL, false, CORE_NONE, console_api_recalls},
    {"consents", false, NULL, false, CORE_NONE, console_api_consents},
    {"mlat", false, NULL, false, CORE_NONE, console_api_mlat_list},
    {"mlat", true, NULL, false, CORE_NONE, console_api_mlat_case},
    {"mlat", true, "respond", true, CORE_NONE, console_api_mlat_respond},
    {"mlat", true, "export", true, CORE_NONE, console_api_mlat_export},
    {"freeze", false, NULL, false, CORE_NONE, console_api_freeze_list},
    {"freeze", true, NULL, false, CORE_NONE, console_api_freeze_one},
    {"freeze", true, "implement", true, CORE_NONE, console_api_freeze_implement},
    {NULL, false, NULL, false, CORE_NONE, NULL},
};

const char *
console_param(const console_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static json_t *
session_json(console *c, const console_session *s, const char *actor)
{
    char now[PROTO_TIME_TEXT_BYTES];
    json_t *o;

    pthread_mutex_lock(&console_lock);
    o = json_pack("{s:s,s:s,s:b,s:b,s:b,s:s?,s:b,s:s?,s:I,s:s}", "agency", c->ctx.agency,
                  "actor", actor, "read_only", c->ctx.read_only, "agent",
                  c->ctx.agent_config != NULL, "draining", c->draining, "broker",
                  c->ctx.conn.broker, "broker_http", c->broker_http != NULL, "csrf",
                  s != NULL ? s->csrf : NULL, "generation", (json_int_t)console_generation_check(c),
                  "now", proto_time_format(liaison_now_ms(), now));
    pthread_mutex_unlock(&console_lock);
    if (o != NULL && s == NULL)
        json_object_set_new(o, "csrf", json_null());
    return o;
}

/* True if text is a path segment a handler may get: printable ASCII without a slash, and not
 * "." or ".." (a handler may make a file name of it). */
static bool
segment_ok(const char *text, size_t len)
{
    if (len == 0 || len > 128 || strncmp(text, "..", len) == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (text[i] <= ' ' || text[i] > '~' || text[i] == '/')
            return false;
    return true;
}

/* What an action that succeeded did, for its C-ACTION line: the answer's "result"
 * ("accepted", "implemented", "requested"), "verified" or "unverified" for an export, else
 * "ok". */
static const char *
action_result(const json_t *out)
{
    const char *r = json_string_value(json_object_get(out, "result"));
    const json_t *v = json_object_get(out, "verified");

    if (r != NULL)
        return r;
    if (json_is_boolean(v))
        return json_is_true(v) ? "verified" : "unverified";
    return "ok";
}

static enum MHD_Result
api(console *c, struct MHD_Connection *conn, const char *url, const char *method,
    const request *r, const char *from)
{
    const char *path = url + 5; /* after "/api/" */
    const console_session *s = NULL;
    const char *actor = NULL, *slash, *csrf;
    char name[32], arg[129], action[32], why[512];
    const route *rt = NULL, *by_path = NULL;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    console_req req;
    json_t *body = NULL, *out = NULL;
    int status = MHD_HTTP_OK;
    size_t n;

    switch (authenticate(c, conn, from, &s, &actor)) {
    case AUTH_NONE: return send_error(conn, MHD_HTTP_UNAUTHORIZED, "login required");
    case AUTH_BEARER_BAD: return send_error(conn, MHD_HTTP_UNAUTHORIZED, "that token is not valid");
    case AUTH_BLOCKED:
        return send_error(conn, MHD_HTTP_TOO_MANY_REQUESTS,
                          "too many failed logins from this address: try again in a minute");
    case AUTH_SESSION:
    case AUTH_BEARER: break;
    }
    /* NAME[/ARG[/ACTION]] */
    name[0] = arg[0] = action[0] = '\0';
    slash = strchr(path, '/');
    n = slash != NULL ? (size_t)(slash - path) : strlen(path);
    if (n >= sizeof(name) || !segment_ok(path, n))
        goto not_found;
    memcpy(name, path, n);
    name[n] = '\0';
    if (slash != NULL) {
        const char *a = slash + 1, *b = strchr(a, '/');

        n = b != NULL ? (size_t)(b - a) : strlen(a);
        if (!segment_ok(a, n))
            goto not_found;
        memcpy(arg, a, n);
        arg[n] = '\0';
        if (b != NULL) {
            n = strlen(b + 1);
            if (n >= sizeof(action) || !segment_ok(b + 1, n))
                goto not_found;
            memcpy(action, b + 1, n + 1);
        }
    }
    for (size_t i = 0; routes[i].name != NULL; i++) {
        const route *x = &routes[i];

        if (strcmp(x->name, name) != 0 || x->arg != (arg[0] != '\0') ||
            strcmp(x->action != NULL ? x->action : "", action) != 0)
            continue;
        by_path = x;
        if (x->post ? post : get)
            rt = x;
    }
    if (by_path == NULL)
        goto not_found;
    if (rt == NULL)
        return send_method_not_allowed(conn, by_path->post ? "POST" : "GET, HEAD");
    if (rt->post) {
        csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, CSRF_HEADER);
        /* A session's POST proves it comes from the console's own page; a Bearer token
         * cannot be sent by another site's page, so it needs no CSRF value. */
        if (s != NULL && (csrf == NULL || strlen(csrf) != CONSOLE_SECRET_HEX ||
                          sodium_memcmp(csrf, s->csrf, CONSOLE_SECRET_HEX) != 0))
            return send_error(conn, MHD_HTTP_FORBIDDEN,
                              "the " CSRF_HEADER " header is missing or wrong (reload the page)");
        if (c->ctx.read_only)
            return send_error(conn, MHD_HTTP_FORBIDDEN, "the console is read-only");
        if (r->len == 0)
            body = json_object();
        else {
            json_error_t jerr;

            body = json_loadb(r->body, r->len, 0, &jerr);
            if (body == NULL || !json_is_object(body)) {
                json_decref(body);
                return send_error(conn, MHD_HTTP_BAD_REQUEST, "the body is not a JSON object");
            }
        }
    }
    switch (rt->core) {
    case CORE_SESSION:
        return send_json(conn, MHD_HTTP_OK, session_json(c, s, actor));
    case CORE_CHANGES:
        pthread_mutex_lock(&console_lock);
        out = json_pack("{s:I}", "generation", (json_int_t)console_generation_check(c));
        pthread_mutex_unlock(&console_lock);
        return send_json(conn, MHD_HTTP_OK, out);
    case CORE_BROKER:
        if ((out = broker_status(c, &status, why, sizeof(why))) == NULL)
            return send_error(conn, (unsigned)status, why);
        return send_json(conn, MHD_HTTP_OK, out);
    case CORE_NONE: break;
    }
    req.arg = arg;
    req.actor = actor;
    req.body = body;
    req.conn = conn;
    why[0] = '\0';
    pthread_mutex_lock(&console_lock);
    if (rt->post)
        c->ctx.conn.actor = actor; /* the action is sent as the officer's */
    out = rt->fn(&c->ctx, &req, &status, why, sizeof(why));
    c->ctx.conn.actor = NULL;
    (void)console_generation_check(c);
    pthread_mutex_unlock(&console_lock);
    json_decref(body);
    if (rt->post) {
        if (out != NULL && status >= 200 && status < 300)
            PROTO_LOG(PROTO_LOG_INFO, "C-ACTION", "actor=%s action=%s.%s target=%s result=%s",
                      actor, rt->name, rt->action, arg, action_result(out));
        else
            PROTO_LOG(PROTO_LOG_WARN, "C-ACTION",
                      "actor=%s action=%s.%s target=%s result=%d error=\"%s\"", actor, rt->name,
                      rt->action, arg, status, why);
    }
    if (out == NULL) {
        if (status < 400)
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return send_error(conn, (unsigned)status, why[0] != '\0' ? why : "the request failed");
    }
    return send_json(conn, (unsigned)status, out);

not_found:
    snprintf(why, sizeof(why), "no such endpoint: %.200s", url);
    return send_error(conn, MHD_HTTP_NOT_FOUND, why);
}

/* ---- Requests ---------------------------------------------------------------------- */

static enum MHD_Result
dispatch(console *c, struct MHD_Connection *conn, const char *url, const char *method,
         const request *r)
{
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    const console_session *s = NULL;
    const char *actor = NULL;
    const console_asset *a;
    char from[64];
    auth how;

    client_address(conn, from);
    if (r->too_big)
        return send_error(conn, 413, "the request body is larger than 64 KiB");
    if (strncmp(url, "/api/", 5) == 0)
        return api(c, conn, url, method, r, from);
    if (strcmp(url, "/login") == 0) {
        if (get)
            return send_asset(conn, "login.html", MHD_HTTP_OK,
                              MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "failed") != NULL);
        if (post)
            return login(c, conn, r, from);
        return send_method_not_allowed(conn, "GET, HEAD, POST");
    }
    if (strcmp(url, "/logout") == 0)
        return post ? logout(c, conn, from) : send_method_not_allowed(conn, "POST");
    /* Assets other than pages hold no data: served without a login. */
    a = console_asset_find(url + 1);
    if (a != NULL && strstr(a->path, ".html") == NULL)
        return get ? send_asset(conn, a->path, MHD_HTTP_OK, false)
                   : send_method_not_allowed(conn, "GET, HEAD");
    how = authenticate(c, conn, from, &s, &actor);
    if (how != AUTH_SESSION && how != AUTH_BEARER)
        return send_redirect(conn, "/login", NULL);
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        return get ? send_asset(conn, "index.html", MHD_HTTP_OK, false)
                   : send_method_not_allowed(conn, "GET, HEAD");
    return send_error(conn, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    request *r = *req_cls;

    (void)version;
    if (r == NULL) {
        const char *clen = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_CONTENT_LENGTH);

        if ((r = calloc(1, sizeof(*r))) == NULL)
            return MHD_NO;
        *req_cls = r;
        /* A body announced too large is refused before it is read. */
        if (clen != NULL && strtoull(clen, NULL, 10) > BODY_MAX) {
            r->too_big = true;
            return dispatch(cls, conn, url, method, r);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (!r->too_big && r->len + *upload_data_size <= BODY_MAX) {
            memcpy(r->body + r->len, upload_data, *upload_data_size);
            r->len += *upload_data_size;
            r->body[r->len] = '\0';
        } else
            r->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return dispatch(cls, conn, url, method, r);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode toe)
{
    request *r = *req_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (r != NULL)
        sodium_memzero(r->body, r->len);
    free(r);
    *req_cls = NULL;
}

/* libmicrohttpd's error log, into ours. */
static void http_log(void *cls, const char *fmt, va_list ap) PROTO_PRINTF(2, 0);

static void
http_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    proto_log_library("C-HTTP", __func__, fmt, ap);
}

struct MHD_Daemon *
console_http_start(console *c, int fd, bool ipv6)
{
    struct MHD_Daemon *d;

    /* One thread serves every connection: the sessions and failed logins need no lock. */
    d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                             (ipv6 ? MHD_USE_IPv6 : 0),
                         0, NULL, NULL, on_request, c, MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 64u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (d == NULL)
        close(fd);
    return d;
}

void
console_http_stop(struct MHD_Daemon **d)
{
    if (*d == NULL)
        return;
    MHD_stop_daemon(*d); /* closes the listening socket */
    *d = NULL;
}
