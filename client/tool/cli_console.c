/* liaison console: the web console of an agency, served over HTTP from the casebook (and the
 * agent's store): logins, sessions, security headers, embedded pages, the JSON API's routing,
 * the drain of the inbox and the broker's status; the JSON of the data is console_*.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <sodium.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "console.h"
#include "console_int.h"
#include "liaison_proto.h"

#define SUB "console"
#define BODY_MAX (64u * 1024u)              /* largest request body */
#define BROKER_STATUS_MAX (4u << 20)        /* largest /status.json read from the broker */
#define BROKER_TIMEOUT_MS 2000L             /* how long the broker's status may take */
#define DRAIN_EVERY_MS 2000u                /* the drain's period */
#define DRAIN_IDLE_MS 200u                  /* a drain ends after this long without an event */
#define COOKIE "liaison_console"            /* the session cookie's name */
#define CSRF_HEADER "X-Liaison-CSRF"        /* the header a POST to /api/ carries */

/* Every request and the drain take this lock around the casebook and the agent's store. */
static pthread_mutex_t console_lock = PTHREAD_MUTEX_INITIALIZER;

/* A data file whose changes move the generation. */
typedef struct watched {
    char path[1100];                /* its data.mdb, or "" */
    off_t size;                     /* size last seen */
    struct timespec mtime;          /* modification time last seen */
} watched;

/* The running console. */
typedef struct console {
    console_ctx ctx;                /* what the handlers get */
    const char *tokens_path;        /* the tokens file */
    const char *broker_http;        /* the broker's metrics URL, or NULL */
    bool draining;                  /* the drain thread runs */
    cli_conn drain_conn;            /* the drain's connection options (its own actor) */
    console_tokens tokens;          /* the tokens file's last good reading */
    console_sessions sessions;      /* logged-in officers (HTTP thread only) */
    console_fails fails;            /* failed logins per address (HTTP thread only) */
    uint64_t generation;            /* moves when the data change (under console_lock) */
    watched casebook_mdb;           /* the casebook's data file */
    watched agent_mdb;              /* the agent store's data file */
    atomic_bool stop;               /* the drain thread ends */
    pthread_cond_t wake;            /* wakes the drain thread to stop */
} console;

/* The options of liaison console. */
typedef struct console_opts {
    cli_conn conn;                  /* connection options */
    const char *tokens;             /* --tokens */
    const char *listen;             /* --listen */
    const char *agent_config;       /* --agent-config */
    const char *broker_http;        /* --broker-http */
    const char *audit_data;         /* --audit-data */
    bool read_only;                 /* --read-only */
    int drain;                      /* 1 --drain, 0 --no-drain, -1 default */
} console_opts;

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

/* ---- Usage ------------------------------------------------------------------------- */

static void
usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    liaison console - the agency's web console: inbox, MLAT deadlines, freezes, "
            "brokers\n\n"
            "SYNOPSIS\n"
            "    liaison console --tokens FILE --state DIR [--listen HOST:PORT]\n"
            "                    [--agent-config FILE] [--broker-http URL] [--read-only]\n"
            "                    [--drain | --no-drain] [--audit-data DIR] [connection options]\n"
            "    liaison console token --tokens FILE --actor REF\n\n"
            "DESCRIPTION\n"
            "    Serves the agency's casebook (and, with --agent-config, what its agent\n"
            "    keeps) as web pages and a JSON API to the officers named in the tokens\n"
            "    file.  Everything is compiled in: the console fetches nothing from the\n"
            "    network but the broker's status.  It prints one line when it serves:\n"
            "      liaison console: serving AGENCY at http://HOST:PORT/ (login: ...)\n"
            "    and runs until SIGTERM or SIGINT.  Unless the agency runs an agent\n"
            "    (--agent-config), the console receives the agency's messages every\n"
            "    2 seconds into the casebook, as liaison freeze status does.\n\n"
            "    console token appends a new token for the officer REF to the tokens\n"
            "    file (made 0600 when missing) and prints it once.\n\n"
            "OPTIONS\n"
            "    --tokens FILE        lines 'TOKEN ACTOR'; a regular file of the user\n"
            "                         running the console, mode 0600 or 0400\n"
            "    --listen HOST:PORT   where to serve (default 127.0.0.1:8080; port 0: any\n"
            "                         free port); a host other than loopback is warned of\n"
            "    --agent-config FILE  the agency's agent (or $LIAISON_AGENT_CONFIG): its\n"
            "                         store is read, and it receives (no drain)\n"
            "    --broker-http URL    the home broker's metrics listener, for /api/broker\n"
            "                         (http://127.0.0.1:9101)\n"
            "    --read-only          refuse every action\n"
            "    --drain, --no-drain  receive into the casebook, or not, whatever the default\n"
            "    --audit-data DIR     the home broker's data directory (MLAT export)\n"
            "    --help               this page\n\n" CLI_CONN_HELP
            "EXIT STATUS\n"
            "    0 stopped by SIGTERM or SIGINT; 64 bad usage; 65 the key or roster does\n"
            "    not parse; 66 a file is missing; 71 cannot listen; 73 cannot create the\n"
            "    state; 78 the tokens file is not safe or does not parse.\n\n"
            "EXAMPLES\n"
            "    liaison console token --tokens fbi.tokens --actor usa.fbi.jdoe\n"
            "    liaison console --tokens fbi.tokens --state ~/.liaison --listen 127.0.0.1:8081 \\\n"
            "        --broker-http http://127.0.0.1:9101\n"
            "    curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8081/api/session\n");
}

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
watched_changed(watched *w)
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

/* Moves the generation when a data file changed (under console_lock); returns it. */
static uint64_t
generation_check(console *c)
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
                  s != NULL ? s->csrf : NULL, "generation", (json_int_t)generation_check(c),
                  "now", proto_time_format(liaison_now_ms(), now));
    pthread_mutex_unlock(&console_lock);
    if (o != NULL && s == NULL)
        json_object_set_new(o, "csrf", json_null());
    return o;
}

/* True if text is a path segment a handler may get: printable ASCII without a slash. */
static bool
segment_ok(const char *text, size_t len)
{
    if (len == 0 || len > 128)
        return false;
    for (size_t i = 0; i < len; i++)
        if (text[i] <= ' ' || text[i] > '~' || text[i] == '/')
            return false;
    return true;
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
        out = json_pack("{s:I}", "generation", (json_int_t)generation_check(c));
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
    (void)generation_check(c);
    pthread_mutex_unlock(&console_lock);
    json_decref(body);
    if (rt->post) {
        if (out != NULL && status >= 200 && status < 300)
            PROTO_LOG(PROTO_LOG_INFO, "C-ACTION", "actor=%s action=%s.%s target=%s result=ok",
                      actor, rt->name, rt->action, arg);
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

static void
http_log(void *cls, const char *fmt, va_list ap)
{
    char line[256];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    PROTO_LOG(PROTO_LOG_WARN, "C-HTTP", "%s", line);
}

/* ---- The drain --------------------------------------------------------------------- */

static void *
drain_main(void *arg)
{
    console *c = arg;
    liaison_client *lc = NULL;
    int last = EX_OK;

    while (!atomic_load(&c->stop)) {
        struct timespec until;
        int rc = EX_OK;

        if (lc == NULL)
            rc = cli_connect(SUB " drain", &c->drain_conn, true, &lc);
        if (lc != NULL) {
            size_t stored = 0;

            pthread_mutex_lock(&console_lock);
            rc = cli_drain(SUB " drain", lc, c->ctx.cb, DRAIN_IDLE_MS, &stored);
            if (stored > 0)
                c->generation++;
            pthread_mutex_unlock(&console_lock);
        }
        if (rc != EX_OK && rc != last)
            PROTO_LOG(PROTO_LOG_ERROR, "C-DRAIN", "agency=%s error=\"%s\"", c->ctx.agency,
                      rc == EX_NOPERM ? "the broker refused the agency's key"
                                      : "cannot connect to the broker");
        else if (rc == EX_OK && last != EX_OK)
            PROTO_LOG(PROTO_LOG_INFO, "C-DRAIN", "agency=%s draining again", c->ctx.agency);
        last = rc;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += DRAIN_EVERY_MS / 1000;
        pthread_mutex_lock(&console_lock);
        while (!atomic_load(&c->stop) &&
               pthread_cond_timedwait(&c->wake, &console_lock, &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&console_lock);
    }
    liaison_client_close(&lc);
    return NULL;
}

/* ---- Start ------------------------------------------------------------------------- */

/* Splits HOST:PORT ("[::1]:8080" for IPv6) into host and *port_out; false when it is not. */
static bool
split_listen(const char *text, char *host, size_t host_len, uint16_t *port_out)
{
    const char *colon, *h = text;
    size_t hlen;
    char *end;
    unsigned long port;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':')
            return false;
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        if ((colon = strrchr(text, ':')) == NULL)
            return false;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= host_len || colon[1] == '\0')
        return false;
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port > 65535)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port_out = (uint16_t)port;
    return true;
}

static bool
loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
    return false;
}

/* Listens on host:port; *fd_out gets the socket, *port_out the port bound, *family_out and
 * *loop_out what it is.  Prints why and returns a sysexits code on failure. */
static int
listen_on(const char *listen_text, const char *host, uint16_t port, int *fd_out,
          uint16_t *port_out, int *family_out, bool *loop_out)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    char service[8];
    int fd = -1, one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
        cli_error(SUB, "--listen %s: cannot resolve %s: %s", listen_text, host, gai_strerror(rc));
        return EX_USAGE;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        cli_error(SUB, "--listen %s: cannot listen: %s", listen_text, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return EX_OSERR;
    }
    *family_out = res->ai_family;
    *loop_out = loopback(res->ai_addr);
    *port_out = ntohs(bound.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                          : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    *fd_out = fd;
    freeaddrinfo(res);
    return EX_OK;
}

static int
token_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"tokens", required_argument, NULL, 't'},
        {"actor", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char token[CONSOLE_TOKEN_NEW_CHARS + 1], why[512];
    const char *path = NULL, *actor = NULL;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 't': path = optarg; break;
        case 'a': actor = optarg; break;
        case 'h': usage(stdout); return EX_OK;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind != argc || path == NULL || actor == NULL) {
        cli_error(SUB " token", "--tokens FILE and --actor REF are required (see liaison "
                                "console --help)");
        return EX_USAGE;
    }
    if ((rc = console_tokens_append(path, actor, token, why, sizeof(why))) != 0) {
        cli_error(SUB " token", "%s", why);
        return rc;
    }
    printf("%s\n", token);
    fflush(stdout);
    sodium_memzero(token, sizeof(token));
    fprintf(stderr, "liaison: console token: a token for %s was added to %s; it is shown "
                    "once, above\n", actor, path);
    return EX_OK;
}

static int
parse(int argc, char **argv, console_opts *o)
{
    enum {
        OPT_TOKENS = 1100,
        OPT_LISTEN,
        OPT_AGENT_CONFIG,
        OPT_BROKER_HTTP,
        OPT_READ_ONLY,
        OPT_DRAIN,
        OPT_NO_DRAIN,
        OPT_AUDIT_DATA,
    };
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"tokens", required_argument, NULL, OPT_TOKENS},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"agent-config", required_argument, NULL, OPT_AGENT_CONFIG},
        {"broker-http", required_argument, NULL, OPT_BROKER_HTTP},
        {"read-only", no_argument, NULL, OPT_READ_ONLY},
        {"drain", no_argument, NULL, OPT_DRAIN},
        {"no-drain", no_argument, NULL, OPT_NO_DRAIN},
        {"audit-data", required_argument, NULL, OPT_AUDIT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->listen = "127.0.0.1:8080";
    o->agent_config = cli_agent_config_env();
    o->drain = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case OPT_TOKENS: o->tokens = optarg; break;
        case OPT_LISTEN: o->listen = optarg; break;
        case OPT_AGENT_CONFIG: o->agent_config = optarg; break;
        case OPT_BROKER_HTTP: o->broker_http = optarg; break;
        case OPT_READ_ONLY: o->read_only = true; break;
        case OPT_DRAIN: o->drain = 1; break;
        case OPT_NO_DRAIN: o->drain = 0; break;
        case OPT_AUDIT_DATA: o->audit_data = optarg; break;
        case 'h': usage(stdout); return -1;
        case CLI_OPT_TIMEOUT:
            cli_error(SUB, "--timeout '%s' is not a number of seconds above 0", optarg);
            return EX_USAGE;
        default:
            fprintf(stderr, "liaison: console: see liaison console --help\n");
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        cli_error(SUB, "unexpected argument '%s' (see liaison console --help)", argv[optind]);
        return EX_USAGE;
    }
    if (o->tokens == NULL) {
        cli_error(SUB, "--tokens FILE is required: the officers' tokens (liaison console token "
                       "makes them)");
        return EX_USAGE;
    }
    if (o->conn.state == NULL) {
        cli_error(SUB, "--state DIR (or LIAISON_STATE) is required: the casebook there is what "
                       "the console shows");
        return EX_USAGE;
    }
    if (o->broker_http != NULL && strncmp(o->broker_http, "http://", 7) != 0 &&
        strncmp(o->broker_http, "https://", 8) != 0) {
        cli_error(SUB, "--broker-http '%s' is not an http:// or https:// URL", o->broker_http);
        return EX_USAGE;
    }
    return EX_OK;
}

/* Where the agent configured at path keeps its data file, into out. */
static int
agent_mdb_path(const char *path, char *out, size_t len)
{
    agent_config *cfg = NULL;
    int rc;

    if ((rc = cli_agent_config_load(SUB, path, &cfg)) != EX_OK)
        return rc;
    snprintf(out, len, "%s/agent/data.mdb", cfg->store);
    agent_config_destroy(&cfg);
    return EX_OK;
}

int
cli_console_main(int argc, char **argv)
{
    static console c; /* large (sessions, tokens): not on the stack */
    console_opts o;
    struct MHD_Daemon *daemon = NULL;
    liaison_client *lc = NULL;
    pthread_t drain;
    bool drain_started = false, loop = false;
    char host[256], why[512], *agency = NULL;
    uint16_t port = 0, bound = 0;
    sigset_t sigs;
    int rc, fd = -1, family = AF_INET, sig;

    if (argc >= 2 && strcmp(argv[1], "token") == 0)
        return token_main(argc - 1, argv + 1);
    if ((rc = parse(argc, argv, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    /* Signals are taken by sigwait below: every thread (libliaison's, the HTTP server's, the
     * drain) blocks them, so none ends the process on its own. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (!split_listen(o.listen, host, sizeof(host), &port)) {
        cli_error(SUB, "--listen '%s' is not HOST:PORT (127.0.0.1:8080, [::1]:8080; port 0: "
                       "any free port)", o.listen);
        return EX_USAGE;
    }
    proto_log_configure(NULL, NULL, PROTO_LOG_INFO);
    memset(&c, 0, sizeof(c));
    c.tokens_path = o.tokens;
    if ((rc = console_tokens_load(o.tokens, &c.tokens, why, sizeof(why))) != 0) {
        cli_error(SUB, "%s", why);
        return rc;
    }
    if (c.tokens.count == 0)
        fprintf(stderr, "liaison: console: warning: %s holds no token yet: nobody can log in "
                        "(liaison console token adds one)\n", o.tokens);
    c.ctx.conn = o.conn;
    c.ctx.conn.actor = NULL;
    /* The drain acknowledges recalls: it sends as the console's --actor, or as itself. */
    c.drain_conn = o.conn;
    if (c.drain_conn.actor == NULL || c.drain_conn.actor[0] == '\0')
        c.drain_conn.actor = "system:liaison-console";
    c.ctx.agent_config = o.agent_config;
    c.ctx.audit_data = o.audit_data;
    c.ctx.read_only = o.read_only;
    c.broker_http = o.broker_http;
    c.draining = o.drain >= 0 ? o.drain == 1 : o.agent_config == NULL;
    if (o.agent_config != NULL &&
        (rc = agent_mdb_path(o.agent_config, c.agent_mdb.path, sizeof(c.agent_mdb.path))) != EX_OK)
        return rc;
    /* The agency, from its key (the connection completes in the background, if ever). */
    if ((rc = cli_connect(SUB, &o.conn, false, &lc)) != EX_OK)
        return rc;
    agency = strdup(liaison_client_address(lc));
    liaison_client_close(&lc);
    if (agency == NULL)
        return EX_OSERR;
    c.ctx.agency = agency;
    if ((rc = cli_casebook_open(SUB, &o.conn, &c.ctx.cb)) != EX_OK)
        goto done;
    snprintf(c.casebook_mdb.path, sizeof(c.casebook_mdb.path), "%s/casebook/data.mdb",
             o.conn.state);
    (void)generation_check(&c);
    c.generation = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        cli_error(SUB, "cannot initialise libcurl");
        rc = EX_SOFTWARE;
        goto done;
    }
    if ((rc = listen_on(o.listen, host, port, &fd, &bound, &family, &loop)) != EX_OK)
        goto done;
    daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                                  (family == AF_INET6 ? MHD_USE_IPv6 : 0),
                              0, NULL, NULL, on_request, &c, MHD_OPTION_EXTERNAL_LOGGER, http_log,
                              NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                              MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 64u,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (daemon == NULL) {
        close(fd);
        cli_error(SUB, "--listen %s: the HTTP server would not start", o.listen);
        rc = EX_OSERR;
        goto done;
    }
    atomic_store(&c.stop, false);
    pthread_cond_init(&c.wake, NULL);
    if (c.draining) {
        if (pthread_create(&drain, NULL, drain_main, &c) != 0) {
            cli_error(SUB, "cannot start the drain thread");
            rc = EX_OSERR;
            goto done;
        }
        drain_started = true;
    }
    if (!loop)
        fprintf(stderr, "liaison: console: warning: --listen %s is not a loopback address: "
                        "other machines can reach the console (plain HTTP; put TLS in front)\n",
                o.listen);
    printf("liaison console: serving %s at http://%s%s%s:%u/ (login: a token of %s; %s)\n", agency,
           family == AF_INET6 ? "[" : "", host, family == AF_INET6 ? "]" : "", (unsigned)bound,
           o.tokens, loop ? "loopback only" : "reachable from the network");
    fflush(stdout);
    PROTO_LOG(PROTO_LOG_INFO, "C-SERVING", "agency=%s port=%u read_only=%s draining=%s", agency,
              (unsigned)bound, o.read_only ? "true" : "false", c.draining ? "true" : "false");
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            /* Nothing to reload: the tokens file is read again at every login. */
            PROTO_LOG(PROTO_LOG_INFO, "C-TOKENS", "file=%s read at each login", o.tokens);
            continue;
        }
        break;
    }
    PROTO_LOG(PROTO_LOG_INFO, "C-STOP", "agency=%s signal=%d", agency, sig);
    rc = EX_OK;
done:
    if (drain_started) {
        pthread_mutex_lock(&console_lock);
        atomic_store(&c.stop, true);
        pthread_cond_broadcast(&c.wake);
        pthread_mutex_unlock(&console_lock);
        pthread_join(drain, NULL);
    }
    if (daemon != NULL)
        MHD_stop_daemon(daemon); /* closes the listening socket */
    casebook_close(&c.ctx.cb);
    curl_global_cleanup();
    sodium_memzero(&c.tokens, sizeof(c.tokens));
    sodium_memzero(&c.sessions, sizeof(c.sessions));
    free(agency);
    return rc;
}
