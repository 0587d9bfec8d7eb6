/* Integration tests of the web console's actions: mlat respond and freeze implement, called
 * as the console calls them, with real brokers, the real tool and a real agent. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "casebook.h"
#include "console.h"
#include "console_data.h"
#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define OUT_MAX 65536

static const char *const three[] = {"USA", "CAN", "MEX"};
static const char *const usa_mex[] = {"USA", "MEX"};
static fed *F;
static char out[OUT_MAX];
static char err[OUT_MAX];

/* The core's console_param: these tests' requests have no query parameters. */
const char *
console_param(const console_req *req, const char *name)
{
    (void)req;
    (void)name;
    return NULL;
}

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&F);
    return 0;
}

static int
cli(const char *agency, const char *state, const char *const *args)
{
    return fed_tool(F, agency, state, args, out, err, sizeof(out));
}

/* A console context for agency, over the casebook of the tool's state directory name. */
static void
ctx_open(console_ctx *ctx, const char *agency, const char *state, char *sdir, size_t sdir_len)
{
    fed_agency *a = fed_agency_get(F, agency);
    fed_nation *n = fed_nation_get(F, (char[4]){agency[0], agency[1], agency[2], 0});
    char why[256];

    snprintf(sdir, sdir_len, "%s/state-%s", F->dir, state);
    memset(ctx, 0, sizeof(*ctx));
    cli_conn_defaults(&ctx->conn);
    ctx->conn.key = a->key;
    ctx->conn.roster = F->roster;
    ctx->conn.broker = n->agency_endpoint;
    ctx->conn.state = sdir;
    ctx->agency = agency;
    if (casebook_open(sdir, &ctx->cb, why, sizeof(why)) != CASEBOOK_OK)
        fail_msg("casebook %s: %s", sdir, why);
}

static void
test_console_respond_sends_the_status(void **state)
{
    static const char *const submit[] = {
        "mlat", "submit", "--to", "USA/DOJ", "--case", "MEX-FGR-2026-0099", "--treaty",
        "USA-MEX-MLAT-1987", "--offence", "DRUG-TRAFFICKING", "--summary",
        "proceeds of cocaine sales moved through US accounts", "--json", NULL};
    static const char *const doj_status[] = {"mlat", "status", "MEX-FGR-2026-0099", "--wait", "1",
                                             "--json", NULL};
    console_ctx ctx;
    console_req req = {"MEX-FGR-2026-0099", "usa.doj.duty-officer", NULL, NULL};
    char sdir[1200], why[512] = "";
    int status = 200, rc = -1;
    json_t *body, *res, *j = NULL;

    (void)state;
    F = fed_new(usa_mex, 2, NULL);
    fed_start(F, "USA");
    fed_start(F, "MEX");
    assert_int_equal(cli("MEX/FGR", "fgr", submit), 0);
    for (int i = 0; i < 30 && (rc = cli("USA/DOJ", "doj", doj_status)) != 0; i++)
        usleep(500000);
    if (rc != 0)
        fail_msg("USA/DOJ never received the request: %s", err);

    ctx_open(&ctx, "USA/DOJ", "doj", sdir, sizeof(sdir));
    /* The requested side may not withdraw: refused before anything is sent. */
    body = json_pack("{s:s}", "status", "withdrawn");
    req.body = body;
    assert_null(console_api_mlat_respond(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 409);
    json_decref(body);
    body = json_pack("{s:s, s:s}", "status", "accepted", "note", "assigned to AUSA <b>Ruiz</b>");
    req.body = body;
    status = 200;
    res = console_api_mlat_respond(&ctx, &req, &status, why, sizeof(why));
    if (res == NULL)
        fail_msg("respond: %d %s", status, why);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(res, "result")), "accepted");
    assert_int_equal(strlen(json_string_value(json_object_get(res, "id"))), 32);
    json_decref(res);
    json_decref(body);
    /* Sent from the console, it is in the casebook as the command would have it. */
    {
        int st2 = 200;
        json_t *c = console_mlat_case(&ctx, "MEX-FGR-2026-0099", liaison_now_ms(), &st2, why,
                                      sizeof(why));

        assert_non_null(c);
        assert_string_equal(json_string_value(json_object_get(c, "status")), "accepted");
        json_decref(c);
    }
    casebook_close(&ctx.cb);

    /* The partner sees the status, with its actor-stamped note. */
    for (int i = 0; i < 30; i++) {
        const char *const st[] = {"mlat", "status", "MEX-FGR-2026-0099", "--wait", "1", "--json",
                                  NULL};

        assert_int_equal(cli("MEX/FGR", "fgr", st), 0);
        json_decref(j);
        j = json_loads(out, 0, NULL);
        if (strcmp(json_string_value(json_object_get(j, "status")), "accepted") == 0)
            break;
        usleep(300000);
    }
    assert_string_equal(json_string_value(json_object_get(j, "status")), "accepted");
    assert_non_null(strstr(out, "assigned to AUSA <b>Ruiz</b>"));
    json_decref(j);

    /* The requesting side exports the case from its console: written, verified, recorded. */
    ctx_open(&ctx, "MEX/FGR", "fgr", sdir, sizeof(sdir));
    req.actor = "mex.fgr.prosecutor";
    req.body = NULL;
    /* Before any evidence there is nothing to export. */
    status = 200;
    assert_null(console_api_mlat_export(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 409);
    assert_non_null(strstr(why, "no evidence"));
    {
        char file[1100];
        FILE *fp;
        const char *ev[] = {"mlat", "evidence", "MEX-FGR-2026-0099", "--file", file,
                            "--custody", "collected from Bank of X", NULL};
        const char *st[] = {"mlat", "status", "MEX-FGR-2026-0099", "--wait", "1", "--json",
                            NULL};

        snprintf(file, sizeof(file), "%s/statements.csv", F->dir);
        assert_non_null(fp = fopen(file, "w"));
        assert_true(fputs("account,amount\n1234,99000\n", fp) >= 0);
        assert_int_equal(fclose(fp), 0);
        assert_int_equal(cli("USA/DOJ", "doj", ev), 0);
        /* The tool receives it into the casebook the console reads. */
        casebook_close(&ctx.cb);
        for (int i = 0; i < 30; i++) {
            assert_int_equal(cli("MEX/FGR", "fgr", st), 0);
            if (strstr(out, "\"complete\": true") != NULL)
                break;
            usleep(300000);
        }
        assert_non_null(strstr(out, "\"complete\": true"));
        ctx_open(&ctx, "MEX/FGR", "fgr", sdir, sizeof(sdir));
    }
    status = 200;
    res = console_api_mlat_export(&ctx, &req, &status, why, sizeof(why));
    if (res == NULL)
        fail_msg("export: %d %s", status, why);
    assert_true(json_is_true(json_object_get(res, "verified")));
    assert_non_null(strstr(json_string_value(json_object_get(res, "dir")),
                           "/console-exports/MEX-FGR-2026-0099-"));
    assert_true(json_is_true(json_object_get(json_object_get(res, "report"), "ok")));
    {
        int st2 = 200;
        json_t *c = console_mlat_case(&ctx, "MEX-FGR-2026-0099", liaison_now_ms(), &st2, why,
                                      sizeof(why));
        json_t *ex = json_array_get(json_object_get(c, "exports"), 0);

        assert_non_null(ex);
        assert_string_equal(json_string_value(json_object_get(ex, "dir")),
                            json_string_value(json_object_get(res, "dir")));
        assert_true(json_is_true(json_object_get(ex, "verified")));
        assert_int_equal(json_integer_value(json_object_get(ex, "problems")), 0);
        json_decref(c);
    }
    json_decref(res);
    /* A hostile id never reaches the file system. */
    req.arg = "../../../tmp/x";
    status = 200;
    assert_null(console_api_mlat_export(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 400);
    casebook_close(&ctx.cb);
}

/* The cell of unit for version 1 in `freeze status --json` output. */
static const json_t *
cell(const json_t *j, const char *unit)
{
    const json_t *u;
    size_t i;

    json_array_foreach(json_object_get(j, "units"), i, u) {
        if (strcmp(json_string_value(json_object_get(u, "unit")), unit) == 0)
            return json_array_get(json_object_get(u, "versions"), 0);
    }
    return NULL;
}

static void
test_console_implement_sends_the_ack(void **state)
{
    static const char *const designate[] = {
        "freeze", "designate", "--designation", "TREAS-2026-0007", "--name",
        "Northwind Trading LLC", "--legal-basis", "EO 13224", "--json", NULL};
    static const char *const fstatus[] = {"freeze", "status", "TREAS-2026-0007", "--wait", "1",
                                          "--json", NULL};
    console_ctx ctx;
    console_req req = {"TREAS-2026-0007", "can.fintrac.analyst", NULL, NULL};
    char sdir[1200], why[512] = "";
    const char *config;
    int status = 200;
    json_t *body, *res = NULL, *rows = NULL, *j = NULL;
    const json_t *c = NULL;

    (void)state;
    F = fed_new(three, 3, NULL);
    fed_start(F, "USA");
    fed_start(F, "CAN");
    fed_start(F, "MEX");
    fed_agent_start(F, "CAN/FINTRAC");
    config = fed_agent_config(F, "CAN/FINTRAC", NULL)->config;
    assert_int_equal(cli("USA/TREASURY", "treasury", designate), 0);

    /* The console of CAN/FINTRAC lists it once the agent has it. */
    for (int i = 0; i < 100; i++) {
        json_decref(rows);
        rows = console_freeze_received_agent(config, why, sizeof(why));
        if (rows != NULL && json_array_size(rows) == 1)
            break;
        usleep(200000);
    }
    assert_non_null(rows);
    assert_int_equal(json_array_size(rows), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "ack")),
                        "received");
    json_decref(rows);

    ctx_open(&ctx, "CAN/FINTRAC", "fintrac", sdir, sizeof(sdir));
    body = json_pack("{s:s}", "note", "accounts blocked at 3 banks");
    req.body = body;
    /* Without an agent the console cannot implement. */
    assert_null(console_api_freeze_implement(&ctx, &req, &status, why, sizeof(why)));
    assert_int_equal(status, 409);
    ctx.agent_config = config;
    status = 200;
    res = console_api_freeze_implement(&ctx, &req, &status, why, sizeof(why));
    if (res == NULL)
        fail_msg("implement: %d %s", status, why);
    assert_int_equal(status, 200);
    assert_non_null(json_string_value(json_object_get(res, "message")));
    json_decref(res);
    json_decref(body);
    casebook_close(&ctx.cb);

    /* The designating agency sees freeze.ack implemented from CAN/FINTRAC. */
    for (int i = 0; i < 40; i++) {
        assert_int_equal(cli("USA/TREASURY", "treasury", fstatus), 0);
        json_decref(j);
        j = json_loads(out, 0, NULL);
        c = cell(j, "CAN/FINTRAC");
        if (c != NULL && json_is_string(json_object_get(c, "implemented")))
            break;
        usleep(300000);
    }
    assert_non_null(c);
    assert_true(json_is_string(json_object_get(c, "implemented")));
    assert_string_equal(json_string_value(json_object_get(c, "note")),
                        "accounts blocked at 3 banks");
    json_decref(j);
    assert_int_equal(fed_agent_stop(F, "CAN/FINTRAC"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_console_respond_sends_the_status, teardown),
        cmocka_unit_test_teardown(test_console_implement_sends_the_ack, teardown),
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
