/* Unit tests of the web console's core (client/tool/console_auth.c and its embedded pages):
 * the tokens file, constant-time token checks, sessions, failed logins, headers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "console_int.h"
#include "helpers.h"

#define GOOD "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"   /* 43 characters */
#define OTHER "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static char dir[1024];
static char path[1100];
static console_tokens tokens;
static console_sessions sessions;
static console_fails fails;

static int
setup(void **state)
{
    (void)state;
    test_scratch_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/console.tokens", dir);
    memset(&tokens, 0, sizeof(tokens));
    memset(&sessions, 0, sizeof(sessions));
    memset(&fails, 0, sizeof(fails));
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    test_scratch_remove(dir);
    return 0;
}

/* Writes text to the tokens file with mode. */
static void
write_tokens(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

/* Loads the tokens file: its result, and why into why. */
static int
load(char *why, size_t len)
{
    why[0] = '\0';
    return console_tokens_load(path, &tokens, why, len);
}

static void
test_console_tokens_good(void **state)
{
    char why[512];

    (void)state;
    write_tokens("# officers of USA/FBI\n\n" GOOD " usa.fbi.jdoe\n  " OTHER "\tusa.fbi.duty@night\n",
                 0600);
    assert_int_equal(load(why, sizeof(why)), 0);
    assert_int_equal(tokens.count, 2);
    assert_string_equal(tokens.v[0].actor, "usa.fbi.jdoe");
    assert_string_equal(tokens.v[1].actor, "usa.fbi.duty@night");
    assert_string_equal(console_tokens_match(&tokens, GOOD), "usa.fbi.jdoe");
    assert_string_equal(console_tokens_match(&tokens, OTHER), "usa.fbi.duty@night");
    assert_null(console_tokens_match(&tokens, GOOD "A"));
    assert_null(console_tokens_match(&tokens, "AAAA"));
    assert_null(console_tokens_match(&tokens, ""));
    /* 0400 is as good as 0600. */
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(load(why, sizeof(why)), 0);
}

static void
test_console_tokens_short(void **state)
{
    char why[512];

    (void)state;
    write_tokens(GOOD " usa.fbi.jdoe\nshorttoken usa.fbi.x\n", 0600);
    tokens.count = 7;
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    assert_non_null(strstr(why, ":2: the token has 10 characters"));
    assert_non_null(strstr(why, path));
    assert_int_equal(tokens.count, 7); /* unchanged on failure */
}

static void
test_console_tokens_bad_actor(void **state)
{
    char why[512];

    (void)state;
    write_tokens(GOOD " usa fbi\n", 0600);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    assert_non_null(strstr(why, ":1: expected 'TOKEN ACTOR'"));
    write_tokens(GOOD "\n", 0600);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    write_tokens(GOOD " usa/fbi\n", 0600);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    write_tokens("AAAA+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA usa.fbi\n", 0600);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    assert_non_null(strstr(why, "not base64url"));
}

static void
test_console_tokens_mode(void **state)
{
    char why[512];

    (void)state;
    write_tokens(GOOD " usa.fbi.jdoe\n", 0644);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    assert_non_null(strstr(why, "mode 0644 lets others read it"));
    assert_non_null(strstr(why, path));
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    assert_int_equal(chmod(path, 0602), 0);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
}

static void
test_console_tokens_owner(void **state)
{
    char why[512];

    (void)state;
    write_tokens(GOOD " usa.fbi.jdoe\n", 0600);
    if (geteuid() != 0)
        skip(); /* only root can give a file away */
    assert_int_equal(chown(path, 4242, 4242), 0);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    assert_non_null(strstr(why, "owned by uid 4242, not by the user running the console"));
}

static void
test_console_tokens_missing_and_not_file(void **state)
{
    char why[512];

    (void)state;
    assert_int_equal(load(why, sizeof(why)), EX_NOINPUT);
    assert_non_null(strstr(why, "cannot open"));
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(load(why, sizeof(why)), EX_CONFIG);
    assert_non_null(strstr(why, "not a regular file"));
}

static void
test_console_tokens_append(void **state)
{
    char a[CONSOLE_TOKEN_NEW_CHARS + 1], b[CONSOLE_TOKEN_NEW_CHARS + 1], why[512];
    struct stat st;

    (void)state;
    assert_int_equal(console_tokens_append(path, "usa.fbi.jdoe", a, why, sizeof(why)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(console_tokens_append(path, "usa.fbi.rroe", b, why, sizeof(why)), 0);
    assert_int_equal(strlen(a), CONSOLE_TOKEN_NEW_CHARS);
    assert_string_not_equal(a, b);
    assert_int_equal(load(why, sizeof(why)), 0);
    assert_int_equal(tokens.count, 2);
    assert_string_equal(console_tokens_match(&tokens, a), "usa.fbi.jdoe");
    assert_string_equal(console_tokens_match(&tokens, b), "usa.fbi.rroe");
    assert_int_equal(console_tokens_append(path, "not an actor", a, why, sizeof(why)), EX_USAGE);
    /* An unsafe file is not appended to. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(console_tokens_append(path, "usa.fbi.x", a, why, sizeof(why)), EX_CONFIG);
}

static void
test_console_token_equal(void **state)
{
    char longer[CONSOLE_TOKEN_MAX + 10];

    (void)state;
    assert_true(console_token_equal(GOOD, GOOD));
    assert_false(console_token_equal(GOOD, OTHER));
    assert_false(console_token_equal(GOOD, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"));
    assert_false(console_token_equal(GOOD, "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_false(console_token_equal(GOOD, GOOD "A"));
    assert_false(console_token_equal(GOOD "A", GOOD));
    assert_false(console_token_equal(GOOD, ""));
    /* Two strings longer than the longest token are never equal (they were cut). */
    memset(longer, 'A', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_false(console_token_equal(longer, longer));
}

static void
test_console_session_expiry(void **state)
{
    const console_session *s;
    char id[CONSOLE_SECRET_HEX + 1];
    uint64_t t0 = 1000000;

    (void)state;
    s = console_session_open(&sessions, "usa.fbi.jdoe", t0);
    assert_int_equal(strlen(s->id), CONSOLE_SECRET_HEX);
    assert_int_equal(strlen(s->csrf), CONSOLE_SECRET_HEX);
    assert_string_not_equal(s->id, s->csrf);
    snprintf(id, sizeof(id), "%s", s->id);
    assert_ptr_equal(console_session_find(&sessions, id, t0 + 1), s);
    assert_ptr_equal(console_session_find(&sessions, id, t0 + CONSOLE_SESSION_MS - 1), s);
    assert_null(console_session_find(&sessions, id, t0 + CONSOLE_SESSION_MS));
    /* Dropped when found expired: not found again even at an earlier time. */
    assert_null(console_session_find(&sessions, id, t0 + 1));
    assert_int_equal(console_session_count(&sessions, t0), 0);
    /* Closed: gone. */
    s = console_session_open(&sessions, "usa.fbi.jdoe", t0);
    snprintf(id, sizeof(id), "%s", s->id);
    console_session_close(&sessions, id);
    assert_null(console_session_find(&sessions, id, t0 + 1));
    assert_null(console_session_find(&sessions, "", t0));
    assert_null(console_session_find(&sessions, "00", t0));
}

static void
test_console_session_capacity(void **state)
{
    char first[CONSOLE_SECRET_HEX + 1], second[CONSOLE_SECRET_HEX + 1];
    const console_session *s;
    uint64_t t0 = 5000;

    (void)state;
    for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++) {
        s = console_session_open(&sessions, "usa.fbi.jdoe", t0 + i);
        if (i == 0)
            snprintf(first, sizeof(first), "%s", s->id);
        if (i == 1)
            snprintf(second, sizeof(second), "%s", s->id);
    }
    assert_int_equal(console_session_count(&sessions, t0 + 1000), CONSOLE_SESSIONS_MAX);
    assert_non_null(console_session_find(&sessions, first, t0 + 1000));
    /* One more: the session that ends first makes room, the others stay. */
    s = console_session_open(&sessions, "usa.fbi.rroe", t0 + 1000);
    assert_string_equal(s->actor, "usa.fbi.rroe");
    assert_int_equal(console_session_count(&sessions, t0 + 1000), CONSOLE_SESSIONS_MAX);
    assert_null(console_session_find(&sessions, first, t0 + 1000));
    assert_non_null(console_session_find(&sessions, second, t0 + 1000));
}

static void
test_console_fails_limit(void **state)
{
    uint64_t t0 = 1000000;

    (void)state;
    for (int i = 0; i < CONSOLE_FAILS_MAX; i++) {
        assert_false(console_fails_blocked(&fails, "127.0.0.1", t0 + (uint64_t)i));
        console_fails_add(&fails, "127.0.0.1", t0 + (uint64_t)i);
    }
    assert_true(console_fails_blocked(&fails, "127.0.0.1", t0 + 10));
    assert_true(console_fails_blocked(&fails, "127.0.0.1", t0 + CONSOLE_FAIL_WINDOW_MS - 1));
    assert_false(console_fails_blocked(&fails, "10.0.0.1", t0 + 10));
    /* The window ends a minute after the first failure. */
    assert_false(console_fails_blocked(&fails, "127.0.0.1", t0 + CONSOLE_FAIL_WINDOW_MS));
    console_fails_add(&fails, "127.0.0.1", t0 + CONSOLE_FAIL_WINDOW_MS);
    assert_false(console_fails_blocked(&fails, "127.0.0.1", t0 + CONSOLE_FAIL_WINDOW_MS + 1));
}

static void
test_console_fails_many_addresses(void **state)
{
    char addr[64];

    (void)state;
    /* More addresses than remembered: each still gets its own count. */
    for (int i = 0; i < CONSOLE_FAIL_ADDRS + 10; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
        for (int k = 0; k < CONSOLE_FAILS_MAX; k++)
            console_fails_add(&fails, addr, 1000u + (uint64_t)i);
        assert_true(console_fails_blocked(&fails, addr, 1000u + (uint64_t)i));
    }
}

static void
test_console_headers_csp(void **state)
{
    bool csp = false, nosniff = false, frame = false, referrer = false;

    (void)state;
    for (size_t i = 0; console_headers[i].name != NULL; i++) {
        const console_header *h = &console_headers[i];

        if (strcmp(h->name, "Content-Security-Policy") == 0) {
            csp = true;
            assert_non_null(strstr(h->value, "default-src 'none'"));
            assert_non_null(strstr(h->value, "script-src 'self'"));
            assert_non_null(strstr(h->value, "frame-ancestors 'none'"));
            assert_null(strstr(h->value, "unsafe"));
        }
        nosniff |= strcmp(h->name, "X-Content-Type-Options") == 0 &&
                   strcmp(h->value, "nosniff") == 0;
        frame |= strcmp(h->name, "X-Frame-Options") == 0 && strcmp(h->value, "DENY") == 0;
        referrer |= strcmp(h->name, "Referrer-Policy") == 0 && strcmp(h->value, "no-referrer") == 0;
    }
    assert_true(csp && nosniff && frame && referrer);
}

static void
test_console_assets_embedded(void **state)
{
    const char *need[] = {"index.html", "login.html", "app.js", "style.css"};

    (void)state;
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        const console_asset *a = console_asset_find(need[i]);

        assert_non_null(a);
        assert_true(a->len > 0);
        assert_int_equal(a->bytes[a->len], '\0');
        assert_int_equal(strlen((const char *)a->bytes), a->len);
        if (strstr(need[i], ".html") != NULL) {
            /* No inline script or style: the CSP would refuse it. */
            assert_string_equal(a->type, "text/html; charset=utf-8");
            assert_null(strstr((const char *)a->bytes, "<script>"));
            assert_null(strstr((const char *)a->bytes, "<style"));
            assert_null(strstr((const char *)a->bytes, " style="));
            assert_null(strstr((const char *)a->bytes, " onclick="));
        }
    }
    /* The login form posts the field token to /login. */
    assert_non_null(strstr((const char *)console_asset_find("login.html")->bytes, "action=\"/login\""));
    assert_non_null(strstr((const char *)console_asset_find("login.html")->bytes, "name=\"token\""));
    assert_null(console_asset_find("nothing.js"));
    assert_null(console_asset_find("../CMakeLists.txt"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_tokens_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tokens_short, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tokens_bad_actor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tokens_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tokens_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tokens_missing_and_not_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_tokens_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_token_equal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_session_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_session_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_fails_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_fails_many_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_headers_csp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console_assets_embedded, setup, teardown),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
