/* Integration test of liaison freeze import: USA/TREASURY imports published lists (the fixtures
 * of tests/data/freeze) through a real broker to the real agents of CAN/FINTRAC and MEX/UIF. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define OUT_MAX (1u << 20)

static fed *F;                 /* USA, CAN, MEX */
static char out[OUT_MAX];      /* the last run's stdout */
static char err[OUT_MAX];      /* and its stderr */

/* Runs `liaison args...` as USA/TREASURY (--state <dir>/state-treasury) when treasury is true;
 * returns its exit status; stdout in out, stderr in err. */
static int
tool(bool treasury, const char *const *args)
{
    return fed_tool(F, treasury ? "USA/TREASURY" : NULL, treasury ? "treasury" : NULL, args, out,
                    err, sizeof(out));
}

#define assert_rc(got, want)                                                               \
    do {                                                                                   \
        int rc_ = (got);                                                                   \
        if (rc_ != (want))                                                                 \
            fail_msg("exit %d, wanted %d\nstdout: %s\nstderr: %s", rc_, (want), out, err); \
    } while (0)

static json_t *
out_json(void)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);

    if (j == NULL)
        fail_msg("output is not JSON (%s): %s\nstderr: %s", e.text, out, err);
    return j;
}

static const char *
fixture(const char *name)
{
    static char path[4][1024];
    static int which;
    const char *dir = getenv("LIAISON_TEST_DATA");
    char *p = path[which++ % 4];

    if (dir == NULL)
        fail_msg("LIAISON_TEST_DATA is not set");
    snprintf(p, sizeof(path[0]), "%s/freeze/%s", dir, name);
    return p;
}

/* Runs freeze import of fixture name in format, with --json and the extra argument (or NULL);
 * returns the JSON (the caller's). */
static json_t *
import(const char *format, const char *name, const char *extra, int want_rc)
{
    const char *args[] = {"freeze", "import", "--format", format, fixture(name), "--json",
                          extra, NULL};

    assert_rc(tool(true, args), want_rc);
    return out_json();
}

/* Asserts that array member key of j holds exactly the texts given (NULL-terminated). */
static void
assert_refs(json_t *j, const char *key, const char *const *want)
{
    json_t *a = json_object_get(j, key);
    size_t n = 0;

    while (want[n] != NULL)
        n++;
    if (json_array_size(a) != n) {
        char *t = json_dumps(j, JSON_COMPACT);

        fail_msg("%s: %zu entries, wanted %zu: %s", key, json_array_size(a), n, t);
    }
    for (size_t i = 0; i < n; i++) {
        bool found = false;

        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(json_string_value(json_array_get(a, k)), want[i]) == 0;
        if (!found)
            fail_msg("%s lacks %s", key, want[i]);
    }
}

static long long
integer(json_t *j, const char *key)
{
    return json_integer_value(json_object_get(j, key));
}

/* The designations the agent of addr holds (`liaison agent list --json`), the caller's. */
static json_t *
agent_designations(const char *addr)
{
    const char *args[] = {"agent", "list", "--config", fed_agent_config(F, addr, NULL)->config,
                          "--json", NULL};
    json_t *j, *d;

    assert_rc(tool(false, args), 0);
    j = out_json();
    d = json_incref(json_object_get(j, "designations"));
    json_decref(j);
    assert_non_null(d);
    return d;
}

/* Waits (up to 20 s) until both agents hold n designation versions, each acknowledged; fails
 * when they hold more. */
static void
wait_agents(size_t n)
{
    static const char *const units[] = {"CAN/FINTRAC", "MEX/UIF"};

    for (size_t u = 0; u < 2; u++) {
        size_t have = 0;

        for (int i = 0; i < 80; i++) {
            json_t *d = agent_designations(units[u]);

            have = json_array_size(d);
            json_decref(d);
            if (have >= n)
                break;
            usleep(250000);
        }
        if (have != n)
            fail_msg("%s holds %zu designation versions, wanted %zu", units[u], have, n);
    }
}

/* The record of designation id version v at addr's agent, or NULL (the caller's). */
static json_t *
agent_version(const char *addr, const char *id, int v)
{
    json_t *d = agent_designations(addr), *x, *found = NULL;
    size_t i;

    json_array_foreach(d, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "designation")), id) == 0 &&
            integer(x, "version") == v)
            found = json_incref(x);
    }
    json_decref(d);
    return found;
}

/* Treasury's freeze status of id shows both units acknowledged its latest version (up to 20 s). */
static void
wait_acknowledged(const char *id)
{
    const char *args[] = {"freeze", "status", id, "--wait", "1", "--json", NULL};

    for (int i = 0; i < 20; i++) {
        json_t *j, *latest;

        assert_rc(tool(true, args), 0);
        j = out_json();
        latest = json_object_get(j, "latest");
        if (integer(latest, "units") == 2 && integer(latest, "received") == 2) {
            json_decref(j);
            return;
        }
        json_decref(j);
    }
    fail_msg("%s was never acknowledged by both units: %s", id, out);
}

static int
setup(void **state)
{
    static const char *const nations[] = {"USA", "CAN", "MEX"};

    (void)state;
    test_quiet_logs();
    F = fed_new(nations, 3, NULL);
    for (size_t i = 0; i < 3; i++)
        fed_start(F, nations[i]);
    fed_agent_start(F, "CAN/FINTRAC");
    fed_agent_start(F, "MEX/UIF");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    (void)fed_agent_stop(F, "CAN/FINTRAC");
    (void)fed_agent_stop(F, "MEX/UIF");
    fed_destroy(&F);
    return 0;
}

static void
test_freeze_import_un(void **state)
{
    static const char *const v1_refs[] = {"QDi.901", "TAi.950", "KPi.930", "QDe.910", "KPe.940",
                                          NULL};
    static const char *const none[] = {NULL};
    static const char *const added[] = {"QDe.911", NULL};
    static const char *const amended[] = {"QDi.901", NULL};
    static const char *const delisted[] = {"TAi.950", NULL};
    static const char *const relisted[] = {"TAi.950", NULL};
    static const char *const help[] = {"freeze", "import", "--help", NULL};
    json_t *j, *r;

    (void)state;
    assert_rc(tool(false, help), 0);
    assert_non_null(strstr(out, "SYNOPSIS"));
    assert_non_null(strstr(out, "EXIT STATUS"));

    /* Version 1 of the list: five designations, each to both units, each acknowledged. */
    j = import("un-xml", "un_v1.xml", NULL, 0);
    assert_refs(j, "added", v1_refs);
    assert_refs(j, "amended", none);
    assert_refs(j, "delisted", none);
    assert_int_equal(integer(j, "sent"), 5);
    assert_string_equal(json_string_value(json_object_get(j, "list")), "UN-SC");
    json_decref(j);
    wait_agents(5);
    for (size_t i = 0; v1_refs[i] != NULL; i++) {
        char id[80];

        snprintf(id, sizeof(id), "UN-SC:%s", v1_refs[i]);
        wait_acknowledged(id);
    }
    r = agent_version("MEX/UIF", "UN-SC:QDi.901", 1);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "add");
    assert_string_equal(json_string_value(json_object_get(r, "list")), "UN-SC");
    assert_string_equal(json_string_value(json_object_get(r, "reference")), "QDi.901");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "entity"), "name")),
                        "KARIM ABDULLAH AL-MUSTAQIL");
    assert_string_equal(json_string_value(json_object_get(r, "case")), "UN-SC:QDi.901");
    json_decref(r);

    /* Version 2: exactly one add, one amend, one delist. */
    j = import("un-xml", "un_v2.xml", NULL, 0);
    assert_refs(j, "added", added);
    assert_refs(j, "amended", amended);
    assert_refs(j, "delisted", delisted);
    assert_int_equal(integer(j, "sent"), 3);
    assert_int_equal(integer(j, "unchanged"), 3);
    json_decref(j);
    wait_agents(8);
    r = agent_version("CAN/FINTRAC", "UN-SC:QDi.901", 2);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "amend");
    assert_string_equal(json_string_value(json_object_get(r, "amended")), "2026-10-30");
    json_decref(r);
    r = agent_version("CAN/FINTRAC", "UN-SC:TAi.950", 2);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "delist");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "entity"), "name")),
                        "MOHAMMAD NAZIR");
    json_decref(r);
    r = agent_version("MEX/UIF", "UN-SC:QDe.911", 1);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "add");
    json_decref(r);
    wait_acknowledged("UN-SC:TAi.950");

    /* The same file again sends nothing. */
    j = import("un-xml", "un_v2.xml", NULL, 0);
    assert_refs(j, "added", none);
    assert_refs(j, "amended", none);
    assert_refs(j, "delisted", none);
    assert_int_equal(integer(j, "sent"), 0);
    assert_int_equal(integer(j, "unchanged"), 5);
    json_decref(j);

    /* A dry run prints the difference and sends nothing; the delisted entry that is back in
     * the file cannot be re-versioned. */
    j = import("un-xml", "un_v1.xml", "--dry-run", 0);
    assert_true(json_is_true(json_object_get(j, "dry_run")));
    assert_refs(j, "amended", amended);
    assert_refs(j, "delisted", added);
    assert_refs(j, "relisted", relisted);
    assert_int_equal(integer(j, "to_send"), 2);
    assert_int_equal(integer(j, "sent"), 0);
    json_decref(j);
    {
        const char *args[] = {"freeze", "import", "--format", "un-xml", fixture("un_v1.xml"),
                              "--dry-run", NULL};

        assert_rc(tool(true, args), 0);
        assert_non_null(strstr(out, "amended   UN-SC:QDi.901  KARIM ABDULLAH AL-MUSTAQIL"));
        assert_non_null(strstr(out, "delisted  UN-SC:QDe.911  EASTERLY HAWALA NETWORK"));
        assert_non_null(strstr(out, "relisted  UN-SC:TAi.950"));
        assert_non_null(strstr(out, "dry run: nothing sent"));
    }

    /* A malformed file, and a truncated one, send nothing and say where. */
    {
        const char *bad[] = {"freeze", "import", "--format", "un-xml", fixture("un_malformed.xml"),
                             NULL};
        const char *cut[] = {"freeze", "import", "--format", "un-xml", fixture("un_truncated.xml"),
                             NULL};

        assert_rc(tool(true, bad), 65);
        assert_non_null(strstr(err, "un_malformed.xml:11: malformed XML"));
        assert_non_null(strstr(err, "nothing sent"));
        assert_rc(tool(true, cut), 65);
        assert_non_null(strstr(err, "un_truncated.xml:100: the file ends before"));
    }
    usleep(1500000);
    wait_agents(8);
}

static void
test_freeze_import_ofac_resumes(void **state)
{
    static const char *const v1_refs[] = {"9001", "9002", "9003", "9004", NULL};
    static const char *const added[] = {"9005", NULL};
    static const char *const amended[] = {"9002", NULL};
    static const char *const delisted[] = {"9003", NULL};
    json_t *j;

    (void)state;
    j = import("ofac-xml", "ofac_v1.xml", NULL, 0);
    assert_refs(j, "added", v1_refs);
    assert_int_equal(integer(j, "sent"), 4);
    json_decref(j);
    wait_agents(8 + 4);

    /* The broker is away: the import stops, says what was not sent, and a re-run sends the
     * rest. */
    assert_int_equal(fed_stop(F, "USA"), 0);
    {
        const char *args[] = {"freeze", "import", "--format", "ofac-xml", fixture("ofac_v2.xml"),
                              "--timeout", "2", NULL};
        int rc = tool(true, args);

        if (rc != 69 && rc != 75)
            fail_msg("exit %d with the broker away\nstdout: %s\nstderr: %s", rc, out, err);
        assert_non_null(strstr(err, "stopped after sending 0 of 3 versions"));
        assert_non_null(strstr(err, "OFAC-SDN:9002 version 2 (amend) was not sent"));
    }
    fed_start(F, "USA");
    j = import("ofac-xml", "ofac_v2.xml", NULL, 0);
    assert_refs(j, "added", added);
    assert_refs(j, "amended", amended);
    assert_refs(j, "delisted", delisted);
    assert_int_equal(integer(j, "sent"), 3);
    json_decref(j);
    wait_agents(8 + 4 + 3);
    j = import("ofac-xml", "ofac_v2.xml", NULL, 0);
    assert_int_equal(integer(j, "sent"), 0);
    assert_int_equal(integer(j, "to_send"), 0);
    json_decref(j);

    /* With --agent-config the agency's designations, as last sent, become the own designations
     * of USA/TREASURY's agent (what it answers freeze.query from), even with nothing to send. */
    {
        const char *config = fed_agent_config(F, "USA/TREASURY", NULL)->config;
        const char *args[] = {"freeze", "import", "--format", "ofac-xml", fixture("ofac_v2.xml"),
                              "--agent-config", config, NULL};
        const char *list[] = {"agent", "list", "--config", config, "--json", NULL};
        json_t *own, *d;
        size_t i, ofac = 0;

        assert_rc(tool(true, args), 0);
        assert_non_null(strstr(err, "recorded in the agent's own designations"));
        assert_rc(tool(false, list), 0);
        j = out_json();
        own = json_object_get(j, "own_designations");
        json_array_foreach(own, i, d) {
            const char *id = json_string_value(json_object_get(d, "designation"));

            ofac += strncmp(id, "OFAC-SDN:", 9) == 0;

            if (strcmp(id, "OFAC-SDN:9003") == 0)
                assert_string_equal(json_string_value(json_object_get(d, "action")), "delist");
            if (strcmp(id, "OFAC-SDN:9002") == 0)
                assert_int_equal(integer(d, "version"), 2);
        }
        /* Every own designation the casebook holds: the UN list's of the test before, too. */
        assert_int_equal(ofac, 5);
        assert_int_equal(json_array_size(own), 5 + 6);
        json_decref(j);
        /* A second run records nothing new. */
        assert_rc(tool(true, args), 0);
        assert_null(strstr(err, "recorded in the agent's own designations"));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freeze_import_un),
        cmocka_unit_test(test_freeze_import_ofac_resumes),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
