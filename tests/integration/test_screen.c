/* Integration tests of freeze screen, export and query: USA/TREASURY designates with the real tool
 * over real brokers, CAN/FINTRAC's agent receives, the tool screens and exports its store, and
 * freeze.query is answered by the designating unit's agent from its own designations only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define OUT_MAX (1u << 20)

static const char *const usa_can[] = {"USA", "CAN"};
static fed *F;                 /* the federation of the run */
static char out[OUT_MAX];      /* the last run's stdout */
static char err[OUT_MAX];      /* and its stderr */

static void
slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(buf, 1, len - 1, f) : 0;

    buf[n] = '\0';
    if (f != NULL)
        fclose(f);
}

/* Runs `liaison args...` (with agency's connection options when agency is not NULL, and
 * --state when state is not NULL); stdout in out, stderr in err; returns the exit status. */
static int
cli(const char *agency, const char *state, const char *const *args)
{
    return fed_tool(F, agency, state, args, out, err, sizeof(out));
}

#define assert_rc(call, want)                                                              \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != (want))                                                                 \
            fail_msg("exit status %d, expected %d\nstdout:\n%s\nstderr:\n%s", rc_, (want), \
                     out, err);                                                            \
    } while (0)

static json_t *
out_json(void)
{
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);

    if (j == NULL)
        fail_msg("stdout is not JSON (%s):\n%s", e.text, out);
    return j;
}

/* Writes text to a file in the federation's directory; returns its path (static, two slots). */
static const char *
write_file(const char *name, const char *text)
{
    static char path[2][1200];
    static int which;
    char *p = path[which++ % 2];
    FILE *fp;

    snprintf(p, sizeof(path[0]), "%s/%s", F->dir, name);
    fp = fopen(p, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
    return p;
}

static int
setup(void **state)
{
    (void)state;
    F = fed_new(usa_can, 2, NULL);
    if (F == NULL)
        return -1;
    fed_start(F, "USA");
    fed_start(F, "CAN");
    fed_agent_config(F, "CAN/FINTRAC", NULL);
    fed_agent_config(F, "USA/TREASURY", NULL);
    fed_agent_start(F, "CAN/FINTRAC");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&F);
    return 0;
}

/* True when CAN/FINTRAC's agent has stored every designation version sent (ctx: how many). */
static bool
all_received(void *ctx)
{
    return fed_agent_log_count(F, "CAN/FINTRAC", "A-DESIGNATION ") >= *(size_t *)ctx;
}

/* The candidates of a screen --json output for the customer id. */
static size_t
candidates_for(const json_t *j, const char *customer, const char *designation)
{
    size_t i, n = 0;
    const json_t *c;

    json_array_foreach(json_object_get(j, "candidates"), i, c) {
        const char *id = json_string_value(json_object_get(c, "customer_id"));

        if (id != NULL && strcmp(id, customer) == 0 &&
            (designation == NULL ||
             strcmp(json_string_value(json_object_get(c, "designation")), designation) == 0))
            n++;
    }
    return n;
}

static const json_t *
candidate(const json_t *j, const char *customer)
{
    size_t i;
    const json_t *c;

    json_array_foreach(json_object_get(j, "candidates"), i, c) {
        const char *id = json_string_value(json_object_get(c, "customer_id"));

        if (id != NULL && strcmp(id, customer) == 0)
            return c;
    }
    fail_msg("no candidate for %s:\n%s", customer, out);
    return NULL;
}

/* Writes USA/TREASURY's own designation record into its agent store, as the freeze commands
 * record what they send. */
static void
own_designation(const char *id, int version, const char *action, const char *name)
{
    fed_agent *ag = fed_agent_config(F, "USA/TREASURY", NULL);
    char dir[1200], why[256];
    agent_store *st = NULL;
    agent_txn *t = NULL;
    json_t *rec = json_pack("{s:s, s:i, s:s, s:{s:s, s:s, s:[{s:s, s:s}]}, s:s, s:s}",
                            "designation", id, "version", version, "action", action, "entity",
                            "type", "entity", "name", name, "aliases", "name", "Northwind Trade",
                            "quality", "strong", "message", "00112233445566778899aabbccddeeff",
                            "sent", "2026-12-06T12:00:00Z");

    assert_int_equal(agent_store_dir_make(ag->store, why, sizeof(why)), 0);
    snprintf(dir, sizeof(dir), "%s/agent", ag->store);
    assert_int_equal(agent_store_open(dir, &st, why, sizeof(why)), AGENT_STORE_OK);
    assert_int_equal(agent_store_begin(st, true, &t), AGENT_STORE_OK);
    assert_int_equal(agent_json_put(t, AGENT_T_OWN_DESIGNATIONS, id, rec), AGENT_STORE_OK);
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);
    agent_store_close(&st);
    json_decref(rec);
}

/* The answer of from in a query --json output; NULL when it did not answer. */
static const json_t *
answer_of(const json_t *j, const char *from)
{
    size_t i;
    const json_t *a;

    json_array_foreach(json_object_get(j, "answers"), i, a) {
        if (strcmp(json_string_value(json_object_get(a, "from")), from) == 0)
            return a;
    }
    return NULL;
}

static void
test_screen_export_and_query(void **state)
{
    static const char *const designate_a[] = {
        "freeze", "designate", "--designation", "TREAS-2026-A", "--name", "Northwind Trading LLC",
        "--alias", "Northwind Trade", "--id", "registration=DE-12345", "--legal-basis",
        "EO 13224", NULL};
    static const char *const designate_b[] = {"freeze", "designate", "--designation",
                                              "TREAS-2026-B", "--name", "Ivan Petrovich SIDOROV",
                                              NULL};
    static const char *const designate_c[] = {"freeze", "designate", "--designation",
                                              "TREAS-2026-C", "--name", "Southwind Holdings",
                                              NULL};
    static const char *const amend_a[] = {"freeze", "amend", "TREAS-2026-A", "--alias",
                                          "Northwind Trade", "--alias", "NW Trading Co", NULL};
    static const char *const delist_c[] = {"freeze", "delist", "TREAS-2026-C", NULL};
    static const char *const designate_d[] = {"freeze", "designate", "--designation",
                                              "TREAS-2026-D", "--name",
                                              "=cmd|' /C calc'!A0, \"Quoted\" Ltd", NULL};
    const char *config = fed_agent_config(F, "CAN/FINTRAC", NULL)->config;
    const char *customers, *none, *bad, *export_path;
    size_t versions = 6;
    json_t *j;
    const json_t *c, *a;
    char path[1200];

    (void)state;
    assert_rc(cli("USA/TREASURY", "treasury", designate_a), 0);
    assert_rc(cli("USA/TREASURY", "treasury", designate_b), 0);
    assert_rc(cli("USA/TREASURY", "treasury", designate_c), 0);
    assert_rc(cli("USA/TREASURY", "treasury", amend_a), 0);
    assert_rc(cli("USA/TREASURY", "treasury", delist_c), 0);
    assert_rc(cli("USA/TREASURY", "treasury", designate_d), 0);
    if (!fed_wait_until(all_received, &versions, 20 * SECOND))
        fail_msg("CAN/FINTRAC's agent did not store the 6 versions");

    /* Screening: a variant spelling, word order, the delisted one, hostile text. */
    customers = write_file("customers.csv",
                           "id,name,born,country\r\n"
                           "C-001,Nortwind Tradeing,,\r\n"
                           "C-002,Southwind Holdings,,\r\n"
                           "C-003,\"SIDOROV, Ivan Petrovich\",1971,RU\r\n"
                           "C-004,\"=HYPERLINK(\"\"http://x\"\"),\n\x1b[31mred\",,\r\n"
                           "C-005,Maple Leaf Bakery,,\r\n");
    {
        const char *args[] = {"freeze", "screen", "--config", config, customers, "--json", NULL};

        assert_rc(cli(NULL, NULL, args), 0);
    }
    j = out_json();
    assert_int_equal(json_integer_value(json_object_get(j, "rows")), 5);
    assert_int_equal(json_integer_value(json_object_get(j, "designations")), 3);
    c = candidate(j, "C-001");
    assert_string_equal(json_string_value(json_object_get(c, "designation")), "TREAS-2026-A");
    assert_int_equal(json_integer_value(json_object_get(c, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(c, "from")), "USA/TREASURY");
    assert_int_equal(json_integer_value(json_object_get(c, "line")), 2);
    assert_non_null(strstr(json_string_value(json_array_get(json_object_get(c, "reasons"), 0)),
                           "name: 'Nortwind Tradeing' ~ alias 'Northwind Trade'"));
    assert_int_equal(candidates_for(j, "C-003", "TREAS-2026-B"), 1);
    assert_int_equal(candidates_for(j, "C-002", NULL), 0);
    assert_int_equal(candidates_for(j, "C-005", NULL), 0);
    json_decref(j);
    {
        const char *text[] = {"freeze", "screen", "--config", config, customers, NULL};
        const char *csv[] = {"freeze", "screen", "--config", config, customers, "--format", "csv",
                             NULL};

        assert_rc(cli(NULL, NULL, text), 0);
        assert_non_null(strstr(out, "TREAS-2026-A"));
        assert_non_null(strstr(out, "name: 'Nortwind Tradeing' ~ alias 'Northwind Trade'"));
        assert_non_null(strstr(out, "5 rows screened against 3 designations in force"));
        assert_null(strstr(out, "\x1b"));
        assert_rc(cli(NULL, NULL, csv), 0);
        assert_non_null(strstr(out, "line,customer_id,customer_name,rank,score,from,"));
        assert_non_null(strstr(out, "2,C-001,Nortwind Tradeing,1,"));
    }
    /* Nothing matches: 1. */
    none = write_file("none.csv", "name\nSouthwind Holdings\nMaple Leaf Bakery\n");
    {
        const char *args[] = {"freeze", "screen", "--config", config, none, NULL};

        assert_rc(cli(NULL, NULL, args), 1);
        assert_non_null(strstr(out, "0 candidates"));
    }
    /* Refused input: 65 with FILE:LINE; no such file: 66; usage: 64. */
    bad = write_file("bad.csv", "name,id\nok,1\n\"never closed,2\n");
    {
        const char *args[] = {"freeze", "screen", "--config", config, bad, NULL};
        const char *missing_col[] = {"freeze", "screen", "--config", config, none, "--born-column",
                                     "dob", NULL};
        const char *columns[] = {"freeze", "screen", "--config", config, NULL, NULL};
        const char *nofile[] = {"freeze", "screen", "--config", config, "/nonexistent/x.csv", NULL};
        const char *usage[] = {"freeze", "screen", "--config", config, NULL};
        char want[1400];

        assert_rc(cli(NULL, NULL, args), 65);
        snprintf(want, sizeof(want), "%s:3: a quoted field is not closed", bad);
        assert_non_null(strstr(err, want));
        assert_rc(cli(NULL, NULL, missing_col), 65);
        assert_non_null(strstr(err, ":1: no column 'dob' in the header"));
        columns[4] = write_file("columns.csv", "name,id\nok,1\nmore,2,3\n");
        assert_rc(cli(NULL, NULL, columns), 65);
        assert_non_null(strstr(err, "columns.csv:3: 3 fields, the header has 2"));
        assert_rc(cli(NULL, NULL, nofile), 66);
        assert_rc(cli(NULL, NULL, usage), 64);
    }

    /* Export: the two in force with their versions. */
    {
        const char *json_args[] = {"freeze", "export", "--config", config, "--format", "json", NULL};
        const char *csv_args[] = {"freeze", "export", "--config", config, "--output", NULL, NULL};

        assert_rc(cli(NULL, NULL, json_args), 0);
        j = out_json();
        assert_int_equal(json_array_size(j), 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "designation")),
                            "TREAS-2026-A");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "version")), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "nation")),
                            "USA");
        assert_int_equal(json_array_size(json_object_get(json_array_get(j, 0), "aliases")), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(j, 1), "designation")),
                            "TREAS-2026-B");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 1), "version")), 1);
        json_decref(j);
        snprintf(path, sizeof(path), "%s/export.csv", F->dir);
        export_path = path;
        csv_args[5] = export_path;
        assert_rc(cli(NULL, NULL, csv_args), 0);
        slurp(export_path, out, sizeof(out));
        assert_non_null(strstr(out, "nation,from,list,reference,designation,version,type,name,"));
        assert_non_null(strstr(out, "USA,USA/TREASURY,,,TREAS-2026-A,2,entity,Northwind Trading LLC,"));
        assert_non_null(strstr(out, "Northwind Trade (strong); NW Trading Co (strong)"));
        assert_null(strstr(out, "TREAS-2026-C"));
        /* A hostile name: quoted, quotes doubled, the formula neutralised. */
        assert_non_null(strstr(out, ",\"'=cmd|' /C calc'!A0, \"\"Quoted\"\" Ltd\","));
    }

    /* freeze.query: USA/TREASURY's agent answers from its own designations only. */
    own_designation("TREAS-2026-A", 2, "amend", "Northwind Trading LLC");
    own_designation("TREAS-2026-C", 2, "delist", "Southwind Holdings");
    fed_agent_start(F, "USA/TREASURY");
    {
        const char *hit[] = {"freeze", "query", "--to", "USA/TREASURY", "--name",
                             "Nortwind Tradeing", "--purpose", "account opening KYC",
                             "--deadline", "15", "--json", NULL};
        const char *nohit[] = {"freeze", "query", "--to", "USA/TREASURY", "--name",
                               "Southwind Holdings", "--purpose", "account opening KYC",
                               "--deadline", "15", "--json", NULL};
        const char *third[] = {"freeze", "query", "--to", "CAN/FINTRAC", "--name",
                               "Northwind Trading LLC", "--purpose", "account opening KYC",
                               "--deadline", "15", "--json", NULL};
        const char *nopurpose[] = {"freeze", "query", "--to", "USA/TREASURY", "--name", "X", NULL};

        assert_rc(cli("CAN/FINTRAC", NULL, hit), 0);
        j = out_json();
        a = answer_of(j, "USA/TREASURY");
        assert_non_null(a);
        assert_string_equal(json_string_value(json_object_get(a, "result")), "hit");
        c = json_array_get(json_object_get(a, "hits"), 0);
        assert_string_equal(json_string_value(json_object_get(c, "designation")), "TREAS-2026-A");
        assert_int_equal(json_integer_value(json_object_get(c, "version")), 2);
        assert_non_null(strstr(json_string_value(json_array_get(json_object_get(c, "reasons"), 0)),
                               "alias 'Northwind Trade'"));
        json_decref(j);
        assert_rc(cli("CAN/FINTRAC", NULL, nohit), 0);
        j = out_json();
        a = answer_of(j, "USA/TREASURY");
        assert_non_null(a);
        assert_string_equal(json_string_value(json_object_get(a, "result")), "no-hit");
        json_decref(j);
        /* CAN/FINTRAC holds TREAS-2026-A only as received: it answers no-hit. */
        assert_rc(cli("USA/TREASURY", NULL, third), 0);
        j = out_json();
        a = answer_of(j, "CAN/FINTRAC");
        assert_non_null(a);
        assert_string_equal(json_string_value(json_object_get(a, "result")), "no-hit");
        json_decref(j);
        assert_rc(cli("CAN/FINTRAC", NULL, nopurpose), 64);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_screen_export_and_query),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
