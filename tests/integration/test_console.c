/* Integration tests of liaison console: the real binary serving a real agency's casebook, over
 * HTTP (libcurl), with real brokers: logins, sessions, CSRF, Bearer tokens, read-only, the
 * drain, the broker's status, bad arguments and unsafe tokens files, SIGTERM. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "casebook.h"
#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define TOKEN "Tq3XUvE6m9yX1bq0yjT0rj6Zb1Rk8h2o4Ew8lQ5p7aI"    /* usa.fbi.jdoe */
#define TOKEN_DUTY "N7rB0kT2Jq5vL9sX3wY6zA1cD4eF8gH0iJ2kL4mN6oP" /* usa.fbi.duty */
#define BAD "Xx3XUvE6m9yX1bq0yjT0rj6Zb1Rk8h2o4Ew8lQ5p7aI"

static fed *F;                 /* USA and CAN, for every test */
static char out[1u << 16];     /* the last run's stdout */
static char err[1u << 16];     /* and its stderr */

/* A running console. */
typedef struct console {
    fed_run run;               /* the process */
    int port;                  /* where it serves */
    char tokens[1100];         /* its tokens file */
} console;

/* One HTTP exchange. */
typedef struct http {
    long status;               /* the response's status */
    char headers[16384];       /* its headers, as received */
    size_t hlen;               /* bytes in headers */
    char body[1u << 17];       /* its body, NUL-terminated (cut when larger) */
    size_t blen;               /* bytes in body */
} http;

static http H;                 /* the last exchange */

static size_t
on_header(char *p, size_t size, size_t n, void *ud)
{
    http *h = ud;
    size_t len = size * n;

    if (h->hlen + len < sizeof(h->headers)) {
        memcpy(h->headers + h->hlen, p, len);
        h->hlen += len;
        h->headers[h->hlen] = '\0';
    }
    return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
    http *h = ud;
    size_t len = size * n;

    if (h->blen + len < sizeof(h->body)) {
        memcpy(h->body + h->blen, p, len);
        h->blen += len;
        h->body[h->blen] = '\0';
    }
    return len;
}

/*
 * method path on console k, with cookie (the session's value, or NULL), extra headers
 * (NULL-ended, or NULL) and body (NULL: none).  Fills H; returns its status.
 */
static long
request(const console *k, const char *method, const char *path, const char *cookie,
        const char *const *headers, const char *body)
{
    struct curl_slist *list = NULL;
    char url[256], jar[200];
    CURL *c = curl_easy_init();
    CURLcode rc;

    assert_non_null(c);
    memset(&H, 0, sizeof(H));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", k->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &H);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &H);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (cookie != NULL) {
        snprintf(jar, sizeof(jar), "liaison_console=%s", cookie);
        curl_easy_setopt(c, CURLOPT_COOKIE, jar);
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    if (list != NULL)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &H.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return H.status;
}

/* The value of header name in H (case-insensitive name), into v; NULL when absent. */
static const char *
header(const char *name, char *v, size_t len)
{
    size_t n = strlen(name);

    for (const char *p = H.headers; p != NULL && *p != '\0';) {
        const char *eol = strstr(p, "\r\n");

        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *s = p + n + 1;
            size_t l;

            while (*s == ' ')
                s++;
            l = eol != NULL ? (size_t)(eol - s) : strlen(s);
            snprintf(v, len, "%.*s", (int)l, s);
            return v;
        }
        p = eol != NULL ? eol + 2 : NULL;
    }
    return NULL;
}

static json_t *
body_json(void)
{
    json_error_t e;
    json_t *j = json_loads(H.body, 0, &e);

    if (j == NULL)
        fail_msg("HTTP %ld: the body is not JSON (%s): %s", H.status, e.text, H.body);
    return j;
}

/* The error member of H's JSON body, into v. */
static const char *
body_error(char *v, size_t len)
{
    json_t *j = body_json();

    snprintf(v, len, "%s", json_string_value(json_object_get(j, "error")) != NULL
                               ? json_string_value(json_object_get(j, "error"))
                               : "");
    json_decref(j);
    return v;
}

/* Writes the tokens file of k (mode 0600): jdoe and duty. */
static void
tokens_write(console *k, const char *name, mode_t mode)
{
    FILE *f;

    snprintf(k->tokens, sizeof(k->tokens), "%s/%s.tokens", F->dir, name);
    f = fopen(k->tokens, "w");
    assert_non_null(f);
    fprintf(f, "# the officers of USA/FBI\n%s usa.fbi.jdoe\n%s usa.fbi.duty\n", TOKEN, TOKEN_DUTY);
    fclose(f);
    assert_int_equal(chmod(k->tokens, mode), 0);
}

/* Starts liaison console for USA/FBI with state and the options extra (NULL-ended), and
 * waits for its "serving" line. */
static void
console_start(console *k, const char *state, const char *const *extra)
{
    const char *args[24];
    size_t n = 0;
    char line[512];

    args[n++] = "console";
    args[n++] = "--tokens";
    args[n++] = k->tokens;
    args[n++] = "--listen";
    args[n++] = "127.0.0.1:0";
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    fed_tool_start(F, &k->run, "USA/FBI", state, args);
    k->port = 0;
    for (int waited = 0; waited < 15000 && k->port == 0; waited += 50) {
        FILE *f = fopen(k->run.out_path, "r");

        if (f != NULL) {
            if (fgets(line, sizeof(line), f) != NULL) {
                const char *at = strstr(line, " at http://127.0.0.1:");

                assert_non_null(strstr(line, "liaison console: serving USA/FBI at http://"));
                assert_non_null(strstr(line, "loopback only"));
                if (at != NULL)
                    k->port = atoi(at + strlen(" at http://127.0.0.1:"));
            }
            fclose(f);
        }
        if (k->port == 0)
            usleep(50000);
    }
    if (k->port == 0) {
        kill(k->run.pid, SIGKILL);
        fed_tool_wait(&k->run, out, err, sizeof(out));
        fail_msg("the console did not say where it serves; stderr: %s", err);
    }
}

/* SIGTERM, then its exit status; stdout and stderr land in out and err. */
static int
console_stop(console *k)
{
    kill(k->run.pid, SIGTERM);
    return fed_tool_wait(&k->run, out, err, sizeof(out));
}

/* Logs in with token on k; returns the session cookie's value into cookie (65 bytes). */
static void
login(const console *k, const char *token, char cookie[65])
{
    char body[128], v[512];
    const char *at;

    snprintf(body, sizeof(body), "token=%s", token);
    assert_int_equal(request(k, "POST", "/login", NULL, NULL, body), 303);
    assert_non_null(header("Location", v, sizeof(v)));
    assert_string_equal(v, "/");
    assert_non_null(header("Set-Cookie", v, sizeof(v)));
    assert_non_null(strstr(v, "HttpOnly"));
    assert_non_null(strstr(v, "SameSite=Strict"));
    at = strstr(v, "liaison_console=");
    assert_non_null(at);
    snprintf(cookie, 65, "%.64s", at + strlen("liaison_console="));
    assert_int_equal(strlen(cookie), 64);
}

/* The generation /api/changes says, with cookie. */
static long long
generation(const console *k, const char *cookie)
{
    json_t *j;
    long long g;

    assert_int_equal(request(k, "GET", "/api/changes", cookie, NULL, NULL), 200);
    j = body_json();
    g = json_integer_value(json_object_get(j, "generation"));
    json_decref(j);
    return g;
}

static void
send_to_fbi(uint8_t id_out[16])
{
    liaison_client *rcmp = fed_client(F, "CAN/RCMP", false);
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/FBI"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//REL TO CAN,USA//PURPOSE:fugitive search"),
                     LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(
                         m, "LES//REL TO CAN,USA",
                         "{\"schema\": \"watchlist.query/1\", \"name\": \"DOE, JOHN\"}", 51, NULL),
                     LIAISON_OK);
    if (liaison_send(rcmp, m, id_out, liaison_now_ms() + 20 * SECOND) != LIAISON_OK)
        fail_msg("send to USA/FBI: %s", liaison_client_error(rcmp));
    liaison_message_destroy(&m);
    liaison_client_close(&rcmp);
}

static int
setup(void **state)
{
    static const char *const nations[] = {"USA", "CAN"};

    (void)state;
    test_quiet_logs();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    F = fed_new(nations, 2, NULL);
    fed_start(F, "USA");
    fed_start(F, "CAN");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&F);
    curl_global_cleanup();
    return 0;
}

/* ---- Logins, sessions, CSRF, Bearer, the drain, the broker's status, SIGTERM ------- */

static void
test_console_serves(void **state)
{
    static console k;
    char cookie[65], csrf[80], hdr[600], v[1024], path[1200], bearer[128], bad_bearer[128];
    char big_body[70000];
    const char *csrf_hdr[2] = {hdr, NULL}, *bearer_hdr[2] = {bearer, NULL},
               *bad_hdr[2] = {bad_bearer, NULL}, *json_hdr[2] = {"Content-Type: application/json", NULL};
    const char *extra[4];
    casebook *cb = NULL;
    casebook_entry *e = NULL;
    uint8_t id[16];
    long long g0;
    json_t *j;
    char why[256];
    int i;

    (void)state;
    snprintf(v, sizeof(v), "http://127.0.0.1:%d", fed_nation_get(F, "USA")->metrics_port);
    extra[0] = "--broker-http";
    extra[1] = v;
    extra[2] = NULL;
    tokens_write(&k, "fbi", 0600);
    console_start(&k, "fbi", extra);

    /* Not logged in: pages go to /login, the API answers 401, the assets without data are
     * served; every response carries the security headers. */
    assert_int_equal(request(&k, "GET", "/", NULL, NULL, NULL), 303);
    assert_string_equal(header("Location", v, sizeof(v)), "/login");
    assert_non_null(header("Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "default-src 'none'"));
    assert_string_equal(header("X-Frame-Options", v, sizeof(v)), "DENY");
    assert_string_equal(header("X-Content-Type-Options", v, sizeof(v)), "nosniff");
    assert_string_equal(header("Referrer-Policy", v, sizeof(v)), "no-referrer");
    assert_int_equal(request(&k, "GET", "/api/session", NULL, NULL, NULL), 401);
    assert_string_equal(body_error(v, sizeof(v)), "login required");
    assert_string_equal(header("Cache-Control", v, sizeof(v)), "no-store");
    assert_non_null(header("Content-Security-Policy", v, sizeof(v)));
    assert_int_equal(request(&k, "GET", "/api/inbox", NULL, NULL, NULL), 401);
    assert_int_equal(request(&k, "GET", "/login", NULL, NULL, NULL), 200);
    assert_non_null(strstr(H.body, "name=\"token\""));
    assert_string_equal(header("Cache-Control", v, sizeof(v)), "no-store");
    assert_int_equal(request(&k, "GET", "/app.js", NULL, NULL, NULL), 200);
    assert_non_null(strstr(header("Content-Type", v, sizeof(v)), "javascript"));
    assert_int_equal(request(&k, "GET", "/style.css", NULL, NULL, NULL), 200);

    /* A good token: 303 to / with the session cookie; the session says who. */
    login(&k, TOKEN, cookie);
    assert_int_equal(request(&k, "GET", "/", cookie, NULL, NULL), 200);
    assert_non_null(strstr(header("Content-Type", v, sizeof(v)), "text/html"));
    assert_int_equal(request(&k, "GET", "/api/session", cookie, NULL, NULL), 200);
    j = body_json();
    assert_string_equal(json_string_value(json_object_get(j, "agency")), "USA/FBI");
    assert_string_equal(json_string_value(json_object_get(j, "actor")), "usa.fbi.jdoe");
    assert_true(json_is_false(json_object_get(j, "read_only")));
    assert_true(json_is_true(json_object_get(j, "draining")));
    assert_true(json_is_false(json_object_get(j, "agent")));
    assert_true(json_is_true(json_object_get(j, "broker_http")));
    assert_non_null(json_string_value(json_object_get(j, "now")));
    assert_int_equal(strlen(json_string_value(json_object_get(j, "csrf"))), 64);
    snprintf(csrf, sizeof(csrf), "%s", json_string_value(json_object_get(j, "csrf")));
    json_decref(j);

    /* A POST to the API needs the session's CSRF value. */
    assert_int_equal(request(&k, "POST", "/api/mlat/MEX-FGR-2026-0099/respond", cookie, json_hdr,
                             "{\"status\": \"received\"}"),
                     403);
    assert_non_null(strstr(body_error(v, sizeof(v)), "X-Liaison-CSRF"));
    snprintf(hdr, sizeof(hdr), "X-Liaison-CSRF: %s", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    assert_int_equal(request(&k, "POST", "/api/mlat/MEX-FGR-2026-0099/respond", cookie, csrf_hdr,
                             "{\"status\": \"received\"}"),
                     403);
    snprintf(hdr, sizeof(hdr), "X-Liaison-CSRF: %s", csrf);
    request(&k, "POST", "/api/mlat/MEX-FGR-2026-0099/respond", cookie, csrf_hdr,
            "{\"status\": \"received\"}");
    assert_true(H.status != 403 && H.status != 401 && H.status != 404 && H.status != 405);
    assert_non_null(body_json());
    /* A body that is not a JSON object is refused. */
    assert_int_equal(request(&k, "POST", "/api/mlat/MEX-FGR-2026-0099/respond", cookie, csrf_hdr,
                             "[1, 2]"),
                     400);

    /* Routing: unknown paths, wrong methods, bodies too large. */
    assert_int_equal(request(&k, "GET", "/api/nothing", cookie, NULL, NULL), 404);
    assert_non_null(strstr(body_error(v, sizeof(v)), "no such endpoint"));
    assert_int_equal(request(&k, "GET", "/api/mlat/A/B/C", cookie, NULL, NULL), 404);
    assert_int_equal(request(&k, "GET", "/api/mlat/MEX-FGR-2026-0099/respond", cookie, NULL, NULL),
                     405);
    assert_string_equal(header("Allow", v, sizeof(v)), "POST");
    assert_int_equal(request(&k, "POST", "/api/session", cookie, csrf_hdr, "{}"), 405);
    memset(big_body, 'a', sizeof(big_body) - 1);
    big_body[sizeof(big_body) - 1] = '\0';
    assert_int_equal(request(&k, "POST", "/api/mlat/X/respond", cookie, csrf_hdr, big_body), 413);
    assert_int_equal(request(&k, "GET", "/nothing", cookie, NULL, NULL), 404);

    /* A Bearer token instead of the cookie; no CSRF value needed. */
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", TOKEN_DUTY);
    assert_int_equal(request(&k, "GET", "/api/session", NULL, bearer_hdr, NULL), 200);
    j = body_json();
    assert_string_equal(json_string_value(json_object_get(j, "actor")), "usa.fbi.duty");
    assert_true(json_is_null(json_object_get(j, "csrf")));
    json_decref(j);
    request(&k, "POST", "/api/freeze/0123456789abcdef0123456789abcdef/implement", NULL, bearer_hdr,
            "{}");
    assert_true(H.status != 403 && H.status != 401);

    /* The drain: a message to USA/FBI lands in the casebook and moves the generation. */
    g0 = generation(&k, cookie);
    send_to_fbi(id);
    for (i = 0; i < 150 && generation(&k, cookie) == g0; i++)
        usleep(100000);
    assert_true(generation(&k, cookie) > g0);

    /* The broker's status: as the broker serves it, or 502 naming the URL. */
    request(&k, "GET", "/api/broker", cookie, NULL, NULL);
    if (H.status == 200) {
        j = body_json();
        assert_string_equal(json_string_value(json_object_get(j, "broker")), "USA");
        json_decref(j);
    } else {
        assert_int_equal(H.status, 502);
        snprintf(path, sizeof(path), "http://127.0.0.1:%d/status.json",
                 fed_nation_get(F, "USA")->metrics_port);
        assert_non_null(strstr(body_error(v, sizeof(v)), path));
    }

    /* Log out: the session is gone. */
    assert_int_equal(request(&k, "POST", "/logout", cookie, NULL, ""), 303);
    assert_string_equal(header("Location", v, sizeof(v)), "/login");
    assert_int_equal(request(&k, "GET", "/api/session", cookie, NULL, NULL), 401);

    /* Bad tokens: 401 with the login page saying so, then 429 after five in a minute (a
     * wrong Bearer token counts too), even for a good token. */
    snprintf(bad_bearer, sizeof(bad_bearer), "Authorization: Bearer %s", BAD);
    assert_int_equal(request(&k, "GET", "/api/session", NULL, bad_hdr, NULL), 401);
    for (i = 0; i < 4; i++) {
        assert_int_equal(request(&k, "POST", "/login", NULL, NULL, "token=" BAD), 401);
        assert_non_null(strstr(H.body, "data-failed"));
    }
    assert_int_equal(request(&k, "POST", "/login", NULL, NULL, "token=" BAD), 429);
    assert_int_equal(request(&k, "POST", "/login", NULL, NULL, "token=" TOKEN), 429);
    assert_int_equal(request(&k, "GET", "/api/session", NULL, bearer_hdr, NULL), 429);

    /* SIGTERM: exit 0; logins and failures were logged. */
    assert_int_equal(console_stop(&k), 0);
    assert_non_null(strstr(err, "id=C-LOGIN "));
    assert_non_null(strstr(err, "actor=usa.fbi.jdoe from=127.0.0.1"));
    assert_non_null(strstr(err, "id=C-LOGIN-FAILED"));
    assert_non_null(strstr(err, "id=C-ACTION"));
    assert_null(strstr(err, TOKEN));

    /* The casebook holds the message the drain received. */
    snprintf(path, sizeof(path), "%s/state-fbi", F->dir);
    if (casebook_open(path, &cb, why, sizeof(why)) != CASEBOOK_OK)
        fail_msg("casebook_open: %s", why);
    assert_int_equal(casebook_get(cb, false, id, false, &e), CASEBOOK_OK);
    assert_string_equal(e->kind, "watchlist.query");
    assert_string_equal(e->peer, "CAN/RCMP");
    casebook_entry_free(&e);
    casebook_close(&cb);
}

/* ---- Read-only ------------------------------------------------------------------- */

static void
test_console_read_only(void **state)
{
    static console k;
    static const char *const extra[] = {"--read-only", "--no-drain", NULL};
    char cookie[65], hdr[120], v[512];
    const char *csrf_hdr[2] = {hdr, NULL};
    json_t *j;

    (void)state;
    tokens_write(&k, "fbi-ro", 0400);
    console_start(&k, "fbi-ro", extra);
    login(&k, TOKEN, cookie);
    assert_int_equal(request(&k, "GET", "/api/session", cookie, NULL, NULL), 200);
    j = body_json();
    assert_true(json_is_true(json_object_get(j, "read_only")));
    assert_true(json_is_false(json_object_get(j, "draining")));
    assert_true(json_is_false(json_object_get(j, "broker_http")));
    snprintf(hdr, sizeof(hdr), "X-Liaison-CSRF: %s", json_string_value(json_object_get(j, "csrf")));
    json_decref(j);
    assert_int_equal(request(&k, "POST", "/api/mlat/MEX-FGR-2026-0099/respond", cookie, csrf_hdr,
                             "{\"status\": \"received\"}"),
                     403);
    assert_string_equal(body_error(v, sizeof(v)), "the console is read-only");
    assert_int_equal(request(&k, "POST", "/api/freeze/X/implement", cookie, csrf_hdr, "{}"), 403);
    assert_int_equal(request(&k, "GET", "/api/broker", cookie, NULL, NULL), 404);
    assert_non_null(strstr(body_error(v, sizeof(v)), "--broker-http"));
    assert_int_equal(console_stop(&k), 0);
}

/* ---- Bad arguments, unsafe tokens files ------------------------------------------- */

static void
test_console_refuses(void **state)
{
    static console k;
    static const char *const no_tokens[] = {"console", "--listen", "127.0.0.1:0", NULL};
    static const char *const bad_listen[] = {"console", "--tokens", "x", "--listen", "nowhere",
                                             NULL};
    static const char *const bad_option[] = {"console", "--tokens", "x", "--bogus", NULL};
    static const char *const bad_url[] = {"console", "--tokens", "x", "--broker-http",
                                          "ftp://example", NULL};
    static const char *const help[] = {"console", "--help", NULL};
    const char *args[8];

    (void)state;
    assert_int_equal(fed_tool(F, "USA/FBI", "refuse", no_tokens, out, err, sizeof(out)), 64);
    assert_non_null(strstr(err, "--tokens FILE is required"));
    assert_int_equal(fed_tool(F, "USA/FBI", "refuse", bad_listen, out, err, sizeof(out)), 64);
    assert_non_null(strstr(err, "--listen 'nowhere' is not HOST:PORT"));
    assert_int_equal(fed_tool(F, "USA/FBI", "refuse", bad_option, out, err, sizeof(out)), 64);
    assert_int_equal(fed_tool(F, "USA/FBI", "refuse", bad_url, out, err, sizeof(out)), 64);
    assert_non_null(strstr(err, "is not an http:// or https:// URL"));
    assert_int_equal(fed_tool(F, "USA/FBI", NULL, help, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "SYNOPSIS"));
    assert_non_null(strstr(out, "EXIT STATUS"));
    assert_non_null(strstr(out, "EXAMPLES"));

    /* A tokens file others can read: 78, saying which file and why. */
    tokens_write(&k, "open", 0644);
    args[0] = "console";
    args[1] = "--tokens";
    args[2] = k.tokens;
    args[3] = "--listen";
    args[4] = "127.0.0.1:0";
    args[5] = NULL;
    assert_int_equal(fed_tool(F, "USA/FBI", "refuse", args, out, err, sizeof(out)), 78);
    assert_non_null(strstr(err, k.tokens));
    assert_non_null(strstr(err, "mode 0644"));

    /* console token: appends, prints the token once; it then logs in. */
    snprintf(k.tokens, sizeof(k.tokens), "%s/made.tokens", F->dir);
    args[0] = "console";
    args[1] = "token";
    args[2] = "--tokens";
    args[3] = k.tokens;
    args[4] = "--actor";
    args[5] = "usa.fbi.jdoe";
    args[6] = NULL;
    assert_int_equal(fed_tool(F, NULL, NULL, args, out, err, sizeof(out)), 0);
    assert_int_equal(strlen(out), 44); /* 43 characters and a newline */
    {
        char token[64], cookie[65];

        snprintf(token, sizeof(token), "%.43s", out);
        console_start(&k, "made", NULL);
        login(&k, token, cookie);
        assert_int_equal(console_stop(&k), 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_serves),
        cmocka_unit_test(test_console_read_only),
        cmocka_unit_test(test_console_refuses),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
