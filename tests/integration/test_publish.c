/* Integration tests of traveldoc.publish: real brokers, a real receiving agent, the tool on both sides. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define OUT_BYTES (256u * 1024u)

static const char *const three[] = {"USA", "CAN", "MEX"};

/* The federation of the running test, stopped in teardown when a test fails. */
static fed *current;

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&current);
    return 0;
}

/* Writes n reports of numbers PREFIX000000.. to a file; returns its path (static). */
static const char *
reports_file(fed *f, const char *name, const char *prefix, const char *country, size_t n)
{
    static char path[1200];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("[", fp);
    for (size_t i = 0; i < n; i++)
        fprintf(fp, "%s{\"ref\": \"%s-%zu\", \"document\": {\"type\": \"passport\", \"number\": "
                "\"%s%06zu\", \"country\": \"%s\"}, \"status\": \"stolen\", \"reported\": "
                "\"2026-11-20\"}", i ? "," : "", prefix, i, prefix, i, country);
    fputs("]", fp);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static void
add_reports(fed *f, const char *addr, const char *file)
{
    const char *args[] = {"agent", "add-traveldoc", "--config",
                          fed_agent_config(f, addr, NULL)->config, "--file", file, NULL};
    char *out = malloc(OUT_BYTES);

    assert_non_null(out);
    if (fed_run_tool(args, out, OUT_BYTES) != 0)
        fail_msg("add-traveldoc at %s: %s", addr, out);
    free(out);
}

/* Publishes addr's reports to USA/CBP; returns the first part's id in id_hex (33 bytes). */
static void
publish(fed *f, const char *addr, const char *state, bool hashed, char *id_hex)
{
    const char *args[] = {"traveldoc", "publish", "--config",
                          fed_agent_config(f, addr, NULL)->config, "--to", "USA/CBP", "--json",
                          hashed ? "--hashed" : NULL, NULL};
    char *out = malloc(OUT_BYTES), *err = malloc(OUT_BYTES);
    json_t *j;

    assert_non_null(out);
    assert_non_null(err);
    if (fed_tool(f, addr, state, args, out, err, OUT_BYTES) != 0)
        fail_msg("publish at %s: %s%s", addr, out, err);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "form")), hashed ? "hashes" : "records");
    snprintf(id_hex, 33, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(j, "parts"), 0), "id")));
    json_decref(j);
    free(out);
    free(err);
}

static void
wait_log(fed *f, const char *addr, const char *needle, size_t count)
{
    for (int i = 0; i < 600 && fed_agent_log_count(f, addr, needle) < count; i++)
        usleep(50000);
    if (fed_agent_log_count(f, addr, needle) < count)
        fail_msg("%s: %zu of '%s' in the agent's log, not %zu", addr,
                 fed_agent_log_count(f, addr, needle), needle, count);
}

/* The local-only check of number at USA/CBP: the JSON object (the caller's). */
static json_t *
local_check(fed *f, const char *number)
{
    const char *args[] = {"traveldoc", "check", "--number", number, "--purpose", "border check",
                          "--agent-config", fed_agent_config(f, "USA/CBP", NULL)->config,
                          "--local-only", "--json", NULL};
    char out[16384], err[16384];
    json_t *j;

    if (fed_tool(f, NULL, NULL, args, out, err, sizeof(out)) != 0)
        fail_msg("local check: %s%s", out, err);
    j = json_loads(out, 0, NULL);
    if (j == NULL)
        fail_msg("local check printed '%s'", out);
    return j;
}

/* The local hit of owner in j, or NULL. */
static const json_t *
hit_of(const json_t *j, const char *owner)
{
    size_t i;
    const json_t *v;

    json_array_foreach(json_object_get(j, "local"), i, v) {
        if (strcmp(json_string_value(json_object_get(v, "owner")), owner) == 0)
            return v;
    }
    return NULL;
}

static const char *
str(const json_t *o, const char *member)
{
    const char *s = json_string_value(json_object_get(o, member));

    return s != NULL ? s : "";
}

/* Sends a traveldoc.publish of body from MEX/AIC to USA/CBP through libliaison. */
static void
send_raw(fed *f, const char *body)
{
    static const char *const to = "USA/CBP";
    liaison_client *c = fed_client(f, "MEX/AIC", false);
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new("traveldoc.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", body, strlen(body), NULL), LIAISON_OK);
    if (liaison_send(c, m, NULL, liaison_now_ms() + 10 * SECOND) != LIAISON_OK)
        fail_msg("send: %s", liaison_client_error(c));
    liaison_message_destroy(&m);
    liaison_client_close(&c);
}

static void
test_publish_records_and_hashes_local_first(void **state)
{
    fed *f = current = fed_new(three, 3, NULL);
    char id_cbsa[33], id_aic[33], id_aic2[33], out[16384], err[16384];
    const json_t *h;
    json_t *j;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    add_reports(f, "CAN/CBSA", reports_file(f, "cbsa.json", "CA", "CAN", 1000));
    add_reports(f, "MEX/AIC", reports_file(f, "aic.json", "MX", "MEX", 1000));
    fed_agent_start(f, "USA/CBP");

    /* CAN/CBSA publishes its reports, MEX/AIC only keyed hashes of its numbers. */
    publish(f, "CAN/CBSA", "cbsa", false, id_cbsa);
    publish(f, "MEX/AIC", "aic", true, id_aic);
    wait_log(f, "USA/CBP", "id=A-DOCS-PUBLISHED", 2);
    assert_int_equal(fed_agent_log_count(f, "USA/CBP", "complete=yes"), 2);

    /* A record hit: owner, ref, status, version; nothing went out. */
    j = local_check(f, "ca-000123");
    h = hit_of(j, "CAN/CBSA");
    assert_non_null(h);
    assert_string_equal(str(h, "kind"), "record");
    assert_string_equal(str(h, "ref"), "CA-123");
    assert_string_equal(str(h, "status"), "stolen");
    assert_int_equal(json_integer_value(json_object_get(h, "version")), 1);
    assert_string_equal(str(h, "labels"), "LES");
    assert_null(hit_of(j, "MEX/AIC"));
    assert_int_equal(json_array_size(json_object_get(j, "answered_locally")), 1);
    json_decref(j);
    /* A hash hit: the owner only. */
    j = local_check(f, "MX000999");
    h = hit_of(j, "MEX/AIC");
    assert_non_null(h);
    assert_string_equal(str(h, "kind"), "hash");
    assert_null(json_object_get(h, "ref"));
    assert_null(hit_of(j, "CAN/CBSA"));
    json_decref(j);
    /* A number published by no one: both publications answer no-hit locally. */
    j = local_check(f, "ZZ999999");
    assert_int_equal(json_array_size(json_object_get(j, "local")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "answered_locally")), 2);
    json_decref(j);

    /* The follow-up of a hash hit goes to its owner and to the partner agencies
     * with no publication (CAN/RCMP), not to CAN/CBSA, answered locally. */
    {
        const char *args[] = {"traveldoc", "check", "--number", "MX000999", "--purpose",
                              "border check", "--agent-config",
                              fed_agent_config(f, "USA/CBP", NULL)->config, "--deadline", "2",
                              "--json", NULL};
        const json_t *asked;
        bool aic = false, cbsa = false, rcmp = false;
        size_t i;

        (void)fed_tool(f, "USA/CBP", NULL, args, out, err, sizeof(out));
        /* One JSON object: the live query's, with what was found locally and whom it asked. */
        j = json_loads(out, 0, NULL);
        assert_non_null(j);
        assert_non_null(json_object_get(j, "answers"));
        assert_non_null(json_object_get(j, "not_answered"));
        assert_non_null(json_object_get(j, "local"));
        asked = json_object_get(j, "asked");
        for (i = 0; i < json_array_size(asked); i++) {
            const char *a = json_string_value(json_array_get(asked, i));

            aic = aic || strcmp(a, "MEX/AIC") == 0;
            cbsa = cbsa || strcmp(a, "CAN/CBSA") == 0;
            rcmp = rcmp || strcmp(a, "CAN/RCMP") == 0;
        }
        assert_true(aic);
        assert_true(rcmp);
        assert_false(cbsa);
        json_decref(j);
    }

    /* A new hashed version (the reports changed) replaces the old one. */
    {
        const char *args[] = {"agent", "remove", "--config",
                              fed_agent_config(f, "MEX/AIC", NULL)->config, "--ref", "MX-999",
                              NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
    }
    publish(f, "MEX/AIC", "aic", true, id_aic2);
    wait_log(f, "USA/CBP", "complete=yes", 3);
    j = local_check(f, "MX000999");
    assert_null(hit_of(j, "MEX/AIC"));
    json_decref(j);
    j = local_check(f, "MX000998");
    h = hit_of(j, "MEX/AIC");
    assert_non_null(h);
    assert_int_equal(json_integer_value(json_object_get(h, "version")), 2);
    json_decref(j);

    /* MEX/AIC recalls its publication: its hashes go. */
    {
        const char *args[] = {"recall", id_aic2, "--reason", "list withdrawn", NULL};

        if (fed_tool(f, "MEX/AIC", "aic", args, out, err, sizeof(out)) != 0)
            fail_msg("recall: %s%s", out, err);
    }
    wait_log(f, "USA/CBP", "id=A-RECALLED", 1);
    j = local_check(f, "MX000998");
    assert_null(hit_of(j, "MEX/AIC"));
    assert_int_equal(json_array_size(json_object_get(j, "answered_locally")), 1);
    json_decref(j);

    /* Bad publications are kept with the reason and file nothing. */
    {
        static const char *const bad[][2] = {
            {"{\"schema\": \"traveldoc.publish/1\", \"publication\": \"p\", \"version\": 9, "
             "\"part\": 1, \"parts\": 1, \"count\": 1, \"form\": \"hashes\", \"hashes\": "
             "{\"algorithm\": \"blake2b-128-keyed\", \"key\": "
             "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"values\": \"!!notbase64\"}}",
             "hashes.values"},
            {"{\"schema\": \"traveldoc.publish/1\", \"publication\": \"p\", \"version\": 9, "
             "\"part\": 1, \"parts\": 1, \"count\": 1, \"form\": \"hashes\", \"hashes\": "
             "{\"algorithm\": \"blake2b-128-keyed\", \"key\": "
             "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"values\": "
             "\"AAAAAAAAAAAAAAAAAAAA\"}}",
             "hashes.values: 15 bytes, not a multiple of 16"},
            {"{\"schema\": \"traveldoc.publish/1\", \"publication\": \"p\", \"version\": 9, "
             "\"part\": 2, \"parts\": 1, \"count\": 1, \"form\": \"hashes\", \"hashes\": "
             "{\"algorithm\": \"blake2b-128-keyed\", \"key\": "
             "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"values\": "
             "\"AAAAAAAAAAAAAAAAAAAAAA==\"}}",
             "part:"},
            {"{\"schema\": \"traveldoc.publish/1\", \"publication\": \"p\", \"version\": 9, "
             "\"part\": 1, \"parts\": 1, \"count\": 7, \"form\": \"hashes\", \"hashes\": "
             "{\"algorithm\": \"blake2b-128-keyed\", \"key\": "
             "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"values\": "
             "\"AAAAAAAAAAAAAAAAAAAAAA==\"}}",
             "count:"},
            {"{\"schema\": \"traveldoc.publish/1\", \"publication\": \"p\", \"version\": 9, "
             "\"part\": 1, \"parts\": 100000, \"count\": 1, \"form\": \"hashes\", \"hashes\": "
             "{\"algorithm\": \"blake2b-128-keyed\", \"key\": "
             "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"values\": "
             "\"AAAAAAAAAAAAAAAAAAAAAA==\"}}",
             "parts:"},
        };
        char needle[128];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            send_raw(f, bad[i][0]);
            snprintf(needle, sizeof(needle), "reason=\"%s", bad[i][1]);
            wait_log(f, "USA/CBP", needle, 1);
        }
        wait_log(f, "USA/CBP", "id=A-DOCS-REFUSED", 5);
        wait_log(f, "USA/CBP", "kind=traveldoc.publish from=MEX/AIC reason=\"traveldoc.publish "
                 "that does not check", 5);
        /* Nothing of MEX/AIC is held: no publication answers for it. */
        j = local_check(f, "MX000998");
        assert_null(hit_of(j, "MEX/AIC"));
        assert_int_equal(json_array_size(json_object_get(j, "answered_locally")), 1);
        json_decref(j);
    }

    /* watchlist query --agent-config: a partner's published entry held here is
     * printed before the live query. */
    {
        const char *file;
        const char *pub[] = {"watchlist", "publish", "--to", "USA/CBP", "--file", NULL, NULL};
        const char *query[] = {"watchlist", "query", "--to", "CAN/*", "--name", "Jonathan Doe",
                               "--born", "1980-02-29", "--purpose", "border check",
                               "--agent-config", fed_agent_config(f, "USA/CBP", NULL)->config,
                               "--deadline", "2", "--json", NULL};
        const json_t *hit;
        char *nl;
        FILE *fp;
        static char path[1200];

        snprintf(path, sizeof(path), "%s/entries.json", f->dir);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("[{\"ref\": \"CBSA-WL-1\", \"type\": \"person\", \"names\": "
              "[\"Jonathan DOE\"], \"born\": \"1980-02-29\"}]", fp);
        assert_int_equal(fclose(fp), 0);
        file = path;
        pub[5] = file;
        if (fed_tool(f, "CAN/CBSA", NULL, pub, out, err, sizeof(out)) != 0)
            fail_msg("watchlist publish: %s%s", out, err);
        wait_log(f, "USA/CBP", "id=A-PUBLISHED", 1);
        (void)fed_tool(f, "USA/CBP", NULL, query, out, err, sizeof(out));
        nl = strchr(out, '\n');
        assert_non_null(nl);
        *nl = '\0';
        j = json_loads(out, 0, NULL);
        if (j == NULL)
            fail_msg("watchlist query printed '%s'", out);
        hit = json_array_get(json_object_get(j, "local"), 0);
        assert_non_null(hit);
        assert_string_equal(str(hit, "source"), "CAN/CBSA");
        assert_string_equal(str(hit, "ref"), "CBSA-WL-1");
        json_decref(j);
    }
    (void)id_cbsa;
    (void)id_aic;
    assert_int_equal(fed_agent_stop(f, "USA/CBP"), 0);
    fed_destroy(&f);
    current = NULL;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_publish_records_and_hashes_local_first, teardown),
    };

    if (getenv("LIAISON_BROKER_BIN") == NULL || getenv("LIAISON_TOOL_BIN") == NULL) {
        fprintf(stderr, "LIAISON_BROKER_BIN and LIAISON_TOOL_BIN must be set (ctest sets them)\n");
        return 77;
    }
    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
