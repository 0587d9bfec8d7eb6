/* Unit tests of client/agent/designation.c: the bounds every receiver checks on a freeze.designation. */
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "helpers.h"

/* The example of docs/messages.md (freeze.*), without schema. */
static const char good[] =
    "{\"designation\": \"OFAC-SDN:36\", \"version\": 1, \"action\": \"add\","
    " \"effective\": \"2026-11-25\", \"list\": \"OFAC-SDN\", \"reference\": \"36\","
    " \"programmes\": [\"SDGT\"], \"listed\": \"2001-10-12\", \"amended\": \"2024-05-01\","
    " \"entity\": {\"type\": \"entity\", \"name\": \"Northwind Trading LLC\","
    "   \"original_name\": \"\","
    "   \"aliases\": [{\"name\": \"Northwind Trade\", \"quality\": \"strong\"},"
    "                 {\"name\": \"NWT\", \"quality\": \"weak\"}, \"North Wind\"],"
    "   \"identifiers\": [{\"type\": \"registration\", \"value\": \"DE-12345\"}],"
    "   \"born\": [\"1970-01-31\", \"1970-01\", \"1970\", \"1968..1972\"],"
    "   \"birth_places\": [\"Baghdad, Iraq\"], \"nationalities\": [\"IRQ\", \"Iraq\"],"
    "   \"documents\": [{\"type\": \"passport\", \"number\": \"A1234567\", \"country\": \"IRQ\"}],"
    "   \"addresses\": [{\"street\": \"4 Harbour Road\", \"city\": \"Limassol\","
    "                   \"postal_code\": \"3035\", \"country\": \"Cyprus\"}]},"
    " \"reasons\": \"owned or controlled by ...\", \"legal_basis\": \"EO 13224\","
    " \"later_member\": {\"ignored\": true}}";

static json_t *
load(const char *text)
{
    json_t *o = json_loads(text, 0, NULL);

    assert_non_null(o);
    return o;
}

/* Checks good with path (a JSON pointer-like "a.b" of objects, or "a.b[i]")
 * replaced by value; returns the check's result and why. */
static bool
check_with(const char *member, const char *sub, json_t *value, char *why, size_t why_len)
{
    json_t *o = load(good);
    json_t *target = sub != NULL ? json_object_get(o, sub) : o;
    bool ok;

    json_object_set_new(target, member, value);
    ok = agent_designation_check(o, why, why_len);
    json_decref(o);
    return ok;
}

static void
test_designation_accepts_the_documented_example(void **state)
{
    char why[200] = "";
    json_t *o = load(good);

    (void)state;
    assert_true(agent_designation_check(o, why, sizeof(why)));
    /* The smallest: id, version, action and a name. */
    json_decref(o);
    o = load("{\"designation\": \"TREAS-2026-0007\", \"version\": 3, \"action\": \"delist\","
             " \"entity\": {\"name\": \"Northwind\"}}");
    assert_true(agent_designation_check(o, why, sizeof(why)));
    json_decref(o);
}

static void
test_designation_refuses_each_broken_member_with_its_name(void **state)
{
    char why[200], big[9000];
    static const struct {
        const char *member;
        const char *sub;
        const char *json;
        const char *says;
    } cases[] = {
        {"designation", NULL, "\"has space\"", "designation:"},
        {"designation", NULL, "\"\"", "designation:"},
        {"designation", NULL, "\"x123456789x123456789x123456789x123456789x123456789x123456789xxxxx\"",
         "designation:"},
        {"version", NULL, "0", "version:"},
        {"version", NULL, "\"1\"", "version:"},
        {"version", NULL, "1000000001", "version:"},
        {"action", NULL, "\"remove\"", "action:"},
        {"effective", NULL, "\"25 Nov 2026\"", "effective:"},
        {"listed", NULL, "\"2001-13-01\"", "listed:"},
        {"programmes", NULL, "\"SDGT\"", "programmes: not a list"},
        {"programmes", NULL, "[\"\"]", "programmes[0]"},
        {"entity", NULL, "[]", "entity:"},
        {"name", "entity", "\"\"", "entity.name"},
        {"name", "entity", "\"tab\\there\"", "entity.name"},
        {"type", "entity", "\"ship\"", "entity.type"},
        {"aliases", "entity", "[{\"name\": \"X\", \"quality\": \"medium\"}]",
         "entity.aliases[0].quality"},
        {"aliases", "entity", "[{\"quality\": \"weak\"}]", "entity.aliases[0]"},
        {"aliases", "entity", "[7]", "entity.aliases[0]"},
        {"born", "entity", "[\"1972..1968\"]", "entity.born[0]"},
        {"born", "entity", "[\"31/01/1970\"]", "entity.born[0]"},
        {"documents", "entity", "[{\"type\": \"passport\"}]", "entity.documents[0].number"},
        {"addresses", "entity", "[{\"city\": 5}]", "entity.addresses[0].city"},
        {"nationalities", "entity", "[null]", "entity.nationalities[0]"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

        assert_non_null(v);
        why[0] = '\0';
        if (check_with(cases[i].member, cases[i].sub, v, why, sizeof(why)))
            fail_msg("case %zu (%s = %s) was accepted", i, cases[i].member, cases[i].json);
        if (strstr(why, cases[i].says) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, why, cases[i].says);
    }
    /* Texts beyond their bounds: a name of 513 bytes, reasons of 8193. */
    memset(big, 'a', sizeof(big));
    big[513] = '\0';
    assert_false(check_with("name", "entity", json_string(big), why, sizeof(why)));
    assert_non_null(strstr(why, "entity.name"));
    big[513] = 'a';
    big[8193] = '\0';
    assert_false(check_with("reasons", NULL, json_string(big), why, sizeof(why)));
    assert_non_null(strstr(why, "reasons"));
    big[8192] = '\0';
    assert_true(check_with("reasons", NULL, json_string(big), why, sizeof(why)));
}

static void
test_designation_bounds_list_lengths(void **state)
{
    char why[200];
    json_t *aliases = json_array(), *programmes = json_array();

    (void)state;
    for (int i = 0; i < 513; i++)
        json_array_append_new(aliases, json_string("alias"));
    assert_false(check_with("aliases", "entity", json_incref(aliases), why, sizeof(why)));
    assert_non_null(strstr(why, "513 entries, at most 512"));
    json_array_remove(aliases, 0);
    assert_true(check_with("aliases", "entity", aliases, why, sizeof(why)));
    for (int i = 0; i < 33; i++)
        json_array_append_new(programmes, json_string("SDGT"));
    assert_false(check_with("programmes", NULL, programmes, why, sizeof(why)));
    assert_non_null(strstr(why, "at most 32"));
}

static void
test_designation_born_forms(void **state)
{
    (void)state;
    assert_true(agent_born_valid("1970-01-31"));
    assert_true(agent_born_valid("1970-12"));
    assert_true(agent_born_valid("1970"));
    assert_true(agent_born_valid("1968..1972"));
    assert_true(agent_born_valid("1970..1970"));
    assert_false(agent_born_valid("1972..1968"));
    assert_false(agent_born_valid("1970-13"));
    assert_false(agent_born_valid("70"));
    assert_false(agent_born_valid("1970-1-1"));
    assert_false(agent_born_valid(""));
    assert_false(agent_born_valid(NULL));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_designation_accepts_the_documented_example),
        cmocka_unit_test(test_designation_refuses_each_broken_member_with_its_name),
        cmocka_unit_test(test_designation_bounds_list_lengths),
        cmocka_unit_test(test_designation_born_forms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
