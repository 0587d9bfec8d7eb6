/* Integration test of onward-sharing consent: USA/FBI's content received by CAN/RCMP goes on
 * to MEX/FGR only with USA's signed grant; three real brokers and the liaison tool
 * (docs/policy.md, the third-party rule; docs/protocol.md section 11; docs/messages.md). */
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

#define OUT_MAX (1u << 20)

static fed *F;                 /* USA, CAN and MEX */
static char out[OUT_MAX];      /* the last run's stdout */
static char err[OUT_MAX];      /* and its stderr */

static const char usa_policy[] =
    "nation: USA\n"
    "partners:\n"
    "  - nation: CAN\n"
    "    egress:\n"
    "      - {id: usa-can, kinds: [watchlist.*, consent.*], action: release}\n"
    "    ingress:\n"
    "      - {id: can-usa-in, kinds: [\"*\"], action: release}\n"
    "  - nation: MEX\n"
    "    egress:\n"
    "      - {id: usa-mex-consent, kinds: [consent.*], action: release}\n"
    "    ingress:\n"
    "      - {id: mex-usa-in, kinds: [\"*\"], action: release}\n";
static const char can_policy[] =
    "nation: CAN\n"
    "partners:\n"
    "  - nation: USA\n"
    "    egress:\n"
    "      - {id: can-usa, kinds: [watchlist.*, consent.*], action: release}\n"
    "    ingress:\n"
    "      - {id: usa-can-in, kinds: [\"*\"], action: release}\n"
    "  - nation: MEX\n"
    "    egress:\n"
    "      - {id: can-mex-watchlist, kinds: [watchlist.*], action: release}\n"
    "    ingress:\n"
    "      - {id: mex-can-in, kinds: [\"*\"], action: release}\n";
static const char mex_policy[] =
    "nation: MEX\n"
    "partners:\n"
    "  - nation: USA\n"
    "    egress:\n"
    "      - {id: mex-usa, kinds: [consent.*], action: release}\n"
    "    ingress:\n"
    "      - {id: usa-mex-in, kinds: [\"*\"], action: release}\n"
    "  - nation: CAN\n"
    "    egress:\n"
    "      - {id: mex-can, kinds: [consent.*], action: release}\n"
    "    ingress:\n"
    "      - {id: can-mex-in, kinds: [\"*\"], action: release}\n";

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Runs `liaison args...` as agency (with the state directory state, may
 * be NULL); stdout in out, stderr in err.  Returns the exit status. */
static int
tool(const char *agency, const char *state, const char *const *args)
{
    return fed_tool(F, agency, state, args, out, err, sizeof(out));
}

static json_t *
out_json(void)
{
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);

    if (j == NULL)
        fail_msg("not JSON (%s): %s\nstderr: %s", jerr.text, out, err);
    return j;
}

/* The id a `send` printed ("<32 hex> accepted"), into id (33 bytes). */
static void
sent_id(char id[33])
{
    if (strlen(out) < 33 || strstr(out, " accepted") == NULL)
        fail_msg("no id in: %s\nstderr: %s", out, err);
    memcpy(id, out, 32);
    id[32] = '\0';
}

/* CAN/RCMP passes the content on to MEX/FGR, with the grant argument (may be NULL). */
static int
send_on(const char *grant)
{
    const char *args[] = {"send", "--kind", "watchlist.details", "--to", "MEX/FGR", "--labels",
                          "LES//ORCON//ORIGIN:USA//REL TO CAN", "--portion",
                          "LES//ORCON//ORIGIN:USA//REL TO CAN", "--text",
                          "{\"schema\":\"watchlist.details/1\",\"entry\":\"USA-0042\"}",
                          grant != NULL ? "--grant" : NULL, grant, NULL};

    return tool("CAN/RCMP", "rcmp", args);
}

/* Writes a token to path. */
static void
write_token(const char *path, const uint8_t *token, size_t len)
{
    unlink(path);
    write_file(path, token, len);
}

/* Signs a grant of USA/FBI's content for CAN/RCMP with the key file of
 * signer, claiming grantor (USA/FBI), edited by the caller before through
 * g; writes it to path. */
static void
forge(const char *signer, proto_grant *g, const char *path)
{
    proto_identity *id = NULL;
    proto_detail d;
    uint8_t *token = NULL;
    size_t len = 0;

    assert_int_equal(proto_keyfile_read(fed_agency_get(F, signer)->key, &id, &d), PROTO_OK);
    id->addr = g->grantor; /* a key of another agency, under USA/FBI's name */
    if (proto_grant_sign(g, id, &token, &len, &d) != PROTO_OK)
        fail_msg("sign: %s", d.text);
    write_token(path, token, len);
    free(token);
    proto_identity_destroy(&id);
}

/* A grant like USA's, for content, valid now; the caller changes one field. */
static void
grant_base(proto_grant *g, const char *content)
{
    memset(g, 0, sizeof(*g));
    proto_id_new(liaison_now_ms(), g->id);
    assert_int_equal(proto_addr_parse("USA/FBI", &g->grantor, NULL), PROTO_OK);
    strcpy(g->grantor_actor, "usa.fbi.officer");
    assert_int_equal(proto_addr_parse("CAN/RCMP", &g->grantee, NULL), PROTO_OK);
    assert_int_equal(proto_id_parse(content, g->content), PROTO_OK);
    g->to_count = 1;
    assert_int_equal(proto_addr_parse("MEX/FGR", &g->to[0], NULL), PROTO_OK);
    g->kind_count = 1;
    strcpy(g->kinds[0], "watchlist.details");
    g->issued_ms = liaison_now_ms() - 60000;
    g->until_ms = liaison_now_ms() + 86400000ull;
}

/* Waits until MEX/FGR has received message id; true if it came. */
static bool
mex_received(const char *id)
{
    for (int i = 0; i < 40; i++) {
        const char *args[] = {"inbox", "--json", NULL};

        assert_int_equal(tool("MEX/FGR", "fgr", args), 0);
        if (strstr(out, id) != NULL)
            return true;
        usleep(250000);
    }
    return false;
}

static void
test_consent_story(void **state)
{
    char content[33], request[33], grant_id[33], onward[33], path[1100], bad[1100];
    char deny_req[33], needle[160];
    uint8_t *token = NULL;
    size_t token_len = 0;
    proto_grant g;
    json_t *j;

    (void)state;
    /* 1. USA/FBI sends a watchlist entry to CAN/RCMP, ORCON and released to CAN only. */
    {
        const char *args[] = {"send", "--kind", "watchlist.details", "--to", "CAN/RCMP",
                              "--labels", "LES//ORCON//REL TO CAN", "--portion",
                              "LES//ORCON//REL TO CAN", "--text",
                              "{\"schema\":\"watchlist.details/1\",\"entry\":\"USA-0042\"}", NULL};

        assert_int_equal(tool("USA/FBI", "fbi", args), 0);
        sent_id(content);
    }
    /* CAN/RCMP receives it into its casebook. */
    for (int i = 0; i < 40; i++) {
        {
            const char *get[] = {"consent", "request", content, "--to", "MEX/FGR", "--kind",
                                 "watchlist.details", "--purpose",
                                 "joint investigation MEX-FGR-2026-0099", "--json", NULL};
            int rc = tool("CAN/RCMP", "rcmp", get);

            if (rc == 0) {
                j = out_json();
                snprintf(request, sizeof(request), "%s",
                         json_string_value(json_object_get(j, "id")));
                assert_string_equal(json_string_value(json_object_get(j, "originator")),
                                    "USA/FBI");
                json_decref(j);
                break;
            }
            if (i == 39)
                fail_msg("consent request: %d %s", rc, err);
        }
        usleep(250000);
    }

    /* 2. Without consent, the onward send is denied by the third-party rule. */
    assert_int_equal(send_on(NULL), 2);
    assert_non_null(strstr(err, "builtin:third-party"));
    assert_non_null(strstr(err, "content of USA is not released to MEX: no consent grant from USA"));

    /* 3. USA/FBI grants what was asked; the token is also written to a file. */
    snprintf(path, sizeof(path), "%s/grant.tok", F->dir);
    for (int i = 0; i < 40; i++) {
        const char *args[] = {"consent", "grant", request, "--conditions",
                              "for case MEX-FGR-2026-0099 only", "--out", path, "--json", NULL};
        int rc = tool("USA/FBI", "fbi", args);

        if (rc == 0)
            break;
        if (i == 39)
            fail_msg("consent grant: %d %s", rc, err);
        usleep(250000);
    }
    j = out_json();
    snprintf(grant_id, sizeof(grant_id), "%s", json_string_value(json_object_get(j, "grant")));
    assert_string_equal(json_string_value(json_object_get(j, "grantee")), "CAN/RCMP");
    json_decref(j);

    /* 4. CAN/RCMP receives the grant (consent list shows it) and sends with it. */
    for (int i = 0; i < 40; i++) {
        const char *args[] = {"consent", "list", NULL};

        assert_int_equal(tool("CAN/RCMP", "rcmp", args), 0);
        if (strstr(out, grant_id) != NULL)
            break;
        if (i == 39)
            fail_msg("no grant %s in consent list:\n%s", grant_id, out);
        usleep(250000);
    }
    assert_int_equal(send_on(grant_id), 0);
    sent_id(onward);
    assert_true(mex_received(onward));
    /* The token file works as well as the id. */
    assert_int_equal(send_on(path), 0);

    /* 5. Forged grants are refused: one byte changed, or signed by a CAN key. */
    {
        uint8_t *data = NULL;
        size_t len = 0;
        FILE *fp = fopen(path, "rb");

        assert_non_null(fp);
        data = malloc(PROTO_GRANT_TOKEN_MAX);
        len = fread(data, 1, PROTO_GRANT_TOKEN_MAX, fp);
        fclose(fp);
        snprintf(bad, sizeof(bad), "%s/byte.tok", F->dir);
        data[len - 80] ^= 0x01; /* inside issued / until / conditions: it still decodes */
        write_token(bad, data, len);
        assert_int_equal(send_on(bad), 2);
        assert_non_null(strstr(err, "does not verify with the key of its grantor USA/FBI"));
        data[len - 80] ^= 0x01;
        data[len - 1] ^= 0x80; /* the signature */
        write_token(bad, data, len);
        assert_int_equal(send_on(bad), 2);
        assert_non_null(strstr(err, "does not verify"));
        free(data);
    }
    grant_base(&g, content);
    snprintf(bad, sizeof(bad), "%s/can.tok", F->dir);
    forge("CAN/RCMP", &g, bad);
    assert_int_equal(send_on(bad), 2);
    assert_non_null(strstr(err, "does not verify with the key of its grantor USA/FBI"));

    /* 6. Grants signed by USA/FBI but out of scope are denied by the third-party rule. */
    for (int k = 0; k < 4; k++) {
        grant_base(&g, content);
        if (k == 0)
            assert_int_equal(proto_addr_parse("MEX/AIC", &g.to[0], NULL), PROTO_OK);
        if (k == 1)
            strcpy(g.kinds[0], "watchlist.answer");
        if (k == 2) {
            g.issued_ms = liaison_now_ms() - 2 * 86400000ull;
            g.until_ms = liaison_now_ms() - 86400000ull;
        }
        if (k == 3)
            assert_int_equal(proto_addr_parse("CAN/CBSA", &g.grantee, NULL), PROTO_OK);
        snprintf(bad, sizeof(bad), "%s/scope-%d.tok", F->dir, k);
        forge("USA/FBI", &g, bad);
        if (send_on(bad) != 2 || strstr(err, "builtin:third-party") == NULL)
            fail_msg("out-of-scope grant %d was not denied: %s %s", k, out, err);
    }
    /* policy explain says why such a grant does not apply. */
    {
        const char *args[] = {"policy", "explain", "--policy", fed_nation_get(F, "CAN")->policy,
                              "--partner", "MEX", "--kind", "watchlist.details", "--labels",
                              "LES//ORIGIN:USA", "--from", "CAN/RCMP", "--to", "MEX/FGR",
                              "--grant", bad, NULL};

        assert_int_equal(tool(NULL, NULL, args), 0);
        assert_non_null(strstr(out, "wrong grantee: it lets CAN/CBSA pass the content on"));
    }

    /* watchlist publish passes entries on with a grant too: the kind must be granted. */
    {
        char entries[1100], pub_grant[1100];
        const char *entries_json = "[{\"ref\": \"USA-0042\", \"type\": \"person\"}]";
        const char *args[] = {"watchlist", "publish", "--to", "MEX/FGR", "--labels",
                              "LES//ORIGIN:USA", "--file", entries, "--grant", NULL, NULL};

        snprintf(entries, sizeof(entries), "%s/entries.json", F->dir);
        write_file(entries, entries_json, strlen(entries_json));
        args[9] = grant_id; /* granted for watchlist.details only */
        assert_int_equal(tool("CAN/RCMP", "rcmp", args), 2);
        assert_non_null(strstr(err, "builtin:third-party"));
        grant_base(&g, content);
        g.kind_count = 2;
        strcpy(g.kinds[1], "watchlist.publish");
        snprintf(pub_grant, sizeof(pub_grant), "%s/publish.tok", F->dir);
        forge("USA/FBI", &g, pub_grant);
        args[9] = pub_grant;
        if (tool("CAN/RCMP", "rcmp", args) != 0)
            fail_msg("publish with a grant: %s %s", out, err);
    }

    /* 7. A second request, denied: consent list shows the denial. */
    {
        const char *args[] = {"consent", "request", content, "--to", "MEX/*", "--kind",
                              "watchlist.details", "--purpose", "wider circulation", NULL};

        assert_int_equal(tool("CAN/RCMP", "rcmp", args), 0);
        sent_id(deny_req);
    }
    for (int i = 0; i < 40; i++) {
        const char *args[] = {"consent", "deny", deny_req, "--reason",
                              "source protection: not beyond FGR", NULL};
        int rc = tool("USA/FBI", "fbi", args);

        if (rc == 0)
            break;
        if (i == 39)
            fail_msg("consent deny: %d %s", rc, err);
        usleep(250000);
    }
    for (int i = 0; i < 40; i++) {
        const char *args[] = {"consent", "list", NULL};

        assert_int_equal(tool("CAN/RCMP", "rcmp", args), 0);
        if (strstr(out, "denied: source protection: not beyond FGR") != NULL)
            break;
        if (i == 39)
            fail_msg("no denial in consent list:\n%s", out);
        usleep(250000);
    }
    free(token);
    (void)token_len;

    /* 8. The audit records of the release name the grant, at CAN (egress) and MEX (ingress). */
    assert_int_equal(fed_stop(F, "CAN"), 0);
    assert_int_equal(fed_stop(F, "MEX"), 0);
    snprintf(needle, sizeof(needle), "consent grant %s by USA/FBI until", grant_id);
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(F, "CAN")->data,
                              "--event", "released", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        if (strstr(out, needle) == NULL)
            fail_msg("CAN's audit does not name the grant:\n%s", out);
    }
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(F, "MEX")->data,
                              "--event", "released", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        if (strstr(out, needle) == NULL)
            fail_msg("MEX's audit does not name the grant:\n%s", out);
    }
    fed_assert_audit_verifies(F, "CAN");
    fed_assert_audit_verifies(F, "MEX");
}

/* Waits until the agent of addr has logged needle; true if it did. */
static bool
agent_logged(const char *addr, const char *needle)
{
    char cmd[2048];

    for (int i = 0; i < 80; i++) {
        if (fed_agent_log_count(F, addr, needle) > 0)
            return true;
        usleep(250000);
    }
    snprintf(cmd, sizeof(cmd), "cat '%s' >&2", fed_agent_config(F, addr, NULL)->log);
    (void)system(cmd);
    return false;
}

/* Both agencies run an agent: what comes to an agency reaches its agent, not
 * the tool's casebook.  A watchlist.publish of USA/FBI that CAN/RCMP's agent
 * filed is what CAN/RCMP asks consent for (consent request --agent-config);
 * USA/FBI grants the request its agent received (consent grant
 * --agent-config); the grant CAN/RCMP's agent received is what the onward
 * send attaches (send --grant ID --agent-config). */
static void
test_consent_through_agent(void **state)
{
    static const char publish[] =
        "{\"schema\": \"watchlist.publish/1\", \"entries\": [{\"ref\": \"FBI-WL-2026-0777\","
        " \"names\": [\"Walter WHITE\"], \"born\": \"1958-09-07\", \"reason\": \"wanted\"}]}";
    char content[33], request[33], grant_id[33], needle[160];
    fed_agent *ag, *fbi;
    json_t *j;

    (void)state;
    ag = fed_agent_config(F, "CAN/RCMP", NULL);
    fbi = fed_agent_config(F, "USA/FBI", NULL);
    fed_agent_start(F, "CAN/RCMP");
    fed_agent_start(F, "USA/FBI");
    {
        const char *args[] = {"send", "--kind", "watchlist.publish", "--to", "CAN/RCMP",
                              "--labels", "LES//ORCON//REL TO CAN", "--portion",
                              "LES//ORCON//REL TO CAN", "--text", publish, NULL};

        assert_int_equal(tool("USA/FBI", "fbi", args), 0);
        sent_id(content);
    }
    snprintf(needle, sizeof(needle), "message=%s from=USA/FBI entries=1", content);
    if (!agent_logged("CAN/RCMP", needle)) {
        const char *st[] = {"status", content, NULL};

        (void)tool("USA/FBI", "fbi", st);
        fail_msg("the agent did not file %s; its state at USA: %s %s", content, out, err);
    }
    /* The casebook never saw it: without the agent, nothing to ask consent for. */
    {
        const char *args[] = {"consent", "request", content, "--to", "MEX/FGR", "--kind",
                              "watchlist.details", "--purpose", "joint investigation", NULL};

        unsetenv("LIAISON_AGENT_CONFIG");
        assert_int_equal(tool("CAN/RCMP", "rcmp", args), 65);
        assert_non_null(strstr(err, "no message"));
    }
    {
        const char *args[] = {"consent", "request", content, "--to", "MEX/FGR", "--kind",
                              "watchlist.details", "--purpose", "joint investigation",
                              "--agent-config", ag->config, "--json", NULL};

        assert_int_equal(tool("CAN/RCMP", "rcmp", args), 0);
        j = out_json();
        snprintf(request, sizeof(request), "%s", json_string_value(json_object_get(j, "id")));
        assert_string_equal(json_string_value(json_object_get(j, "originator")), "USA/FBI");
        json_decref(j);
    }
    /* USA/FBI's agent receives the request; consent grant finds it there. */
    snprintf(needle, sizeof(needle), "message=%s kind=consent.request from=CAN/RCMP", request);
    assert_true(agent_logged("USA/FBI", needle));
    {
        const char *args[] = {"consent", "grant", request, "--json", NULL};

        assert_int_equal(tool("USA/FBI", "fbi", args), 65);
        assert_non_null(strstr(err, "no message"));
    }
    {
        const char *args[] = {"consent", "grant", request, "--agent-config", fbi->config,
                              "--json", NULL};

        assert_int_equal(tool("USA/FBI", "fbi", args), 0);
    }
    j = out_json();
    snprintf(grant_id, sizeof(grant_id), "%s", json_string_value(json_object_get(j, "grant")));
    json_decref(j);
    /* The grant reaches CAN/RCMP's agent, which keeps it. */
    assert_true(agent_logged("CAN/RCMP", "kind=consent.grant from=USA/FBI"));
    assert_int_equal(send_on(grant_id), 65);
    assert_non_null(strstr(err, "no consent grant with that id received in the casebook"));
    {
        const char *args[] = {"send", "--kind", "watchlist.details", "--to", "MEX/FGR", "--labels",
                              "LES//ORCON//ORIGIN:USA//REL TO CAN", "--portion",
                              "LES//ORCON//ORIGIN:USA//REL TO CAN", "--text",
                              "{\"schema\":\"watchlist.details/1\",\"entry\":\"FBI-WL-2026-0777\"}",
                              "--grant", grant_id, "--agent-config", ag->config, NULL};
        char onward[33];

        assert_int_equal(tool("CAN/RCMP", "rcmp", args), 0);
        sent_id(onward);
        assert_true(mex_received(onward));
    }
    assert_int_equal(fed_agent_stop(F, "CAN/RCMP"), 0);
    assert_int_equal(fed_agent_stop(F, "USA/FBI"), 0);
}

static void
test_consent_usage(void **state)
{
    const char *no_to[] = {"consent", "request", "00112233445566778899aabbccddeeff", "--kind",
                           "watchlist.details", "--purpose", "x", NULL};
    const char *no_reason[] = {"consent", "deny", "00112233445566778899aabbccddeeff", NULL};
    const char *help[] = {"consent", "--help", NULL};
    const char *missing[] = {"send", "--kind", "watchlist.details", "--to", "MEX/FGR", "--labels",
                             "LES", "--portion", "LES", "--text", "x", "--grant",
                             "/nonexistent/grant.tok", NULL};

    (void)state;
    assert_int_equal(tool("CAN/RCMP", "rcmp", no_to), 64);
    assert_non_null(strstr(err, "at least one --to"));
    assert_int_equal(tool("CAN/RCMP", "rcmp", no_reason), 64);
    assert_non_null(strstr(err, "--reason is required"));
    assert_int_equal(tool(NULL, NULL, help), 0);
    assert_non_null(strstr(out, "SYNOPSIS"));
    assert_int_equal(tool("CAN/RCMP", "rcmp", missing), 66);
    assert_non_null(strstr(err, "cannot read it"));
}

static int
setup(void **state)
{
    static const char *const nations[] = {"USA", "CAN", "MEX"};

    (void)state;
    test_quiet_logs();
    F = fed_new(nations, 3, NULL);
    write_file(fed_nation_get(F, "USA")->policy, usa_policy, strlen(usa_policy));
    write_file(fed_nation_get(F, "CAN")->policy, can_policy, strlen(can_policy));
    write_file(fed_nation_get(F, "MEX")->policy, mex_policy, strlen(mex_policy));
    fed_start(F, "USA");
    fed_start(F, "CAN");
    fed_start(F, "MEX");
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    fed_destroy(&F);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_consent_usage),
        /* Before the story, which stops CAN and MEX at its end. */
        cmocka_unit_test(test_consent_through_agent),
        cmocka_unit_test(test_consent_story),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
