/* Unit tests of the sanctions list reader (client/tool/freeze_list.c) on the fixtures of
 * tests/data/freeze: the members each entry gives, and the refusals with their line and reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "freeze_list.h"

/* Every entry read, as members, by reference. */
typedef struct seen {
    json_t *by_ref;                /* reference -> members (copies) */
    json_t *order;                 /* references in file order */
    long lines[64];                /* each entry's first line */
} seen;

static int
collect(void *arg, json_t *members, long line)
{
    seen *s = arg;
    const char *ref = json_string_value(json_object_get(members, "reference"));

    assert_non_null(ref);
    if (json_array_size(s->order) < 64)
        s->lines[json_array_size(s->order)] = line;
    json_object_set_new(s->by_ref, ref, json_deep_copy(members));
    json_array_append_new(s->order, json_string(ref));
    return 0;
}

static char *
fixture(const char *name)
{
    const char *dir = getenv("LIAISON_TEST_DATA");
    char *p = malloc(1024);

    assert_non_null(dir);
    assert_non_null(p);
    snprintf(p, 1024, "%s/freeze/%s", dir, name);
    return p;
}

/* Reads fixture name in fmt; returns the error and fills s (and why). */
static freeze_list_err
read_fixture(const char *name, freeze_list_format fmt, seen *s, char *why, size_t why_len)
{
    char *path = fixture(name);
    size_t count = 0;
    freeze_list_err err;

    s->by_ref = json_object();
    s->order = json_array();
    err = freeze_list_read(path, fmt, collect, s, &count, why, why_len);
    if (err == FREEZE_LIST_OK)
        assert_int_equal(count, json_array_size(s->order));
    free(path);
    return err;
}

static void
seen_free(seen *s)
{
    json_decref(s->by_ref);
    json_decref(s->order);
}

static void
assert_json(const json_t *got, const char *want_text)
{
    json_error_t e;
    json_t *want = json_loads(want_text, 0, &e);

    if (want == NULL)
        fail_msg("bad expected JSON: %s", e.text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);

        fail_msg("got %s\nwant %s", g, want_text);
    }
    json_decref(want);
}

static const char *
str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- UN ------------------------------------------------------------------------------ */

static void
test_freeze_list_un_fields(void **state)
{
    seen s;
    char why[512];
    json_t *m, *ent;

    (void)state;
    assert_int_equal(read_fixture("un_v1.xml", FREEZE_LIST_UN_XML, &s, why, sizeof(why)),
                     FREEZE_LIST_OK);
    assert_int_equal(json_array_size(s.order), 5);
    /* Individuals first, then entities, in file order. */
    assert_string_equal(json_string_value(json_array_get(s.order, 0)), "QDi.901");
    assert_string_equal(json_string_value(json_array_get(s.order, 3)), "QDe.910");
    assert_int_equal(s.lines[0], 6);

    m = json_object_get(s.by_ref, "QDi.901");
    ent = json_object_get(m, "entity");
    assert_string_equal(str(m, "list"), "UN-SC");
    assert_string_equal(str(m, "listed"), "2003-09-11");
    assert_string_equal(str(m, "amended"), "2011-05-10");
    assert_json(json_object_get(m, "programmes"), "[\"Al-Qaida\"]");
    /* Line breaks and runs of spaces in a text become one space. */
    assert_string_equal(str(m, "reasons"),
                        "Financier of an invented network. Review concluded on 2011-05-10.");
    assert_string_equal(str(ent, "type"), "individual");
    assert_string_equal(str(ent, "name"), "KARIM ABDULLAH AL-MUSTAQIL");
    assert_string_equal(str(ent, "original_name"), "كريم عبد الله المستقل");
    assert_json(json_object_get(ent, "aliases"),
                "[{\"name\": \"Abu Karim\", \"quality\": \"good\"},"
                " {\"name\": \"The Accountant\", \"quality\": \"low\"}]");
    assert_json(json_object_get(ent, "born"), "[\"1966-04-12\", \"1964..1968\"]");
    assert_json(json_object_get(ent, "birth_places"), "[\"Mosul, Nineveh, Iraq\"]");
    assert_json(json_object_get(ent, "nationalities"), "[\"Iraq\", \"Syrian Arab Republic\"]");
    assert_json(json_object_get(ent, "documents"),
                "[{\"type\": \"Passport\", \"number\": \"A1234567\", \"country\": \"Iraq\"},"
                " {\"type\": \"National Identification Number\", \"number\": \"00112233\","
                "  \"country\": \"Iraq\"}]");
    assert_json(json_object_get(ent, "addresses"),
                "[{\"street\": \"12 Example Street\", \"city\": \"Mosul\", \"region\": \"\","
                "  \"postal_code\": \"\", \"country\": \"Iraq\"}]");
    assert_json(json_object_get(ent, "identifiers"), "[]");
    /* Never the members of a version. */
    assert_null(json_object_get(m, "designation"));
    assert_null(json_object_get(m, "version"));
    assert_null(json_object_get(m, "action"));
    assert_null(json_object_get(m, "effective"));

    /* Empty groups give nothing; a year alone is a date of birth; no LAST_DAY_UPDATED value,
     * no amended. */
    m = json_object_get(s.by_ref, "TAi.950");
    ent = json_object_get(m, "entity");
    assert_string_equal(str(ent, "name"), "MOHAMMAD NAZIR");
    assert_null(json_object_get(m, "amended"));
    assert_null(json_object_get(m, "reasons"));
    assert_json(json_object_get(ent, "aliases"), "[]");
    assert_json(json_object_get(ent, "addresses"), "[]");
    assert_json(json_object_get(ent, "documents"), "[]");
    assert_json(json_object_get(ent, "born"), "[\"1970\"]");
    assert_json(json_object_get(ent, "birth_places"), "[\"Afghanistan\"]");

    /* An entity: two addresses, aliases of both qualities, CDATA text. */
    m = json_object_get(s.by_ref, "QDe.910");
    ent = json_object_get(m, "entity");
    assert_string_equal(str(ent, "type"), "entity");
    assert_string_equal(str(ent, "name"), "NORTHWIND RELIEF FOUNDATION");
    assert_int_equal(json_array_size(json_object_get(ent, "addresses")), 2);
    assert_string_equal(str(json_array_get(json_object_get(ent, "addresses"), 1), "region"), "Sindh");
    assert_string_equal(str(json_array_get(json_object_get(ent, "aliases"), 1), "quality"), "low");
    m = json_object_get(s.by_ref, "KPe.940");
    assert_string_equal(str(m, "reasons"),
                        "Operates vessels of an invented fleet; IMO 9000001 & others.");
    assert_string_equal(str(json_object_get(m, "entity"), "original_name"), "고려예시해운회사");
    seen_free(&s);
}

/* v2 differs from v1 by exactly one entry added, one amended, one removed. */
static void
test_freeze_list_un_versions(void **state)
{
    seen a, b;
    char why[512];
    size_t added = 0, removed = 0, changed = 0;
    const char *ref;
    json_t *m;

    (void)state;
    assert_int_equal(read_fixture("un_v1.xml", FREEZE_LIST_UN_XML, &a, why, sizeof(why)),
                     FREEZE_LIST_OK);
    assert_int_equal(read_fixture("un_v2.xml", FREEZE_LIST_UN_XML, &b, why, sizeof(why)),
                     FREEZE_LIST_OK);
    json_object_foreach(b.by_ref, ref, m) {
        json_t *old = json_object_get(a.by_ref, ref);

        if (old == NULL) {
            added++;
            assert_string_equal(ref, "QDe.911");
        } else if (!json_equal(old, m)) {
            char *x = freeze_list_canonical(old), *y = freeze_list_canonical(m);

            changed++;
            assert_string_equal(ref, "QDi.901");
            assert_string_not_equal(x, y);
            free(x);
            free(y);
        }
    }
    json_object_foreach(a.by_ref, ref, m) {
        if (json_object_get(b.by_ref, ref) == NULL) {
            removed++;
            assert_string_equal(ref, "TAi.950");
        }
    }
    assert_int_equal(added, 1);
    assert_int_equal(changed, 1);
    assert_int_equal(removed, 1);
    assert_string_equal(str(json_object_get(b.by_ref, "QDi.901"), "amended"), "2026-10-30");
    seen_free(&a);
    seen_free(&b);
}

/* ---- OFAC ---------------------------------------------------------------------------- */

static void
test_freeze_list_ofac_fields(void **state)
{
    seen s;
    char why[512];
    json_t *m, *ent;

    (void)state;
    assert_int_equal(read_fixture("ofac_v1.xml", FREEZE_LIST_OFAC_XML, &s, why, sizeof(why)),
                     FREEZE_LIST_OK);
    assert_int_equal(json_array_size(s.order), 4);

    m = json_object_get(s.by_ref, "9001");
    ent = json_object_get(m, "entity");
    assert_string_equal(str(m, "list"), "OFAC-SDN");
    assert_json(json_object_get(m, "programmes"), "[\"SDGT\", \"IRGC\"]");
    assert_string_equal(str(m, "reasons"), "Invented financier; acts for an invented network.");
    /* The SDN list carries no per-entry dates. */
    assert_null(json_object_get(m, "listed"));
    assert_null(json_object_get(m, "amended"));
    assert_string_equal(str(ent, "type"), "individual");
    assert_string_equal(str(ent, "name"), "Ivan PETROVSKY");
    assert_json(json_object_get(ent, "aliases"),
                "[{\"name\": \"Ivan PETROVSKI\", \"quality\": \"strong\"},"
                " {\"name\": \"VANYA\", \"quality\": \"weak\"}]");
    assert_json(json_object_get(ent, "documents"),
                "[{\"type\": \"Passport\", \"number\": \"P7654321\", \"country\": \"Azerbaijan\"}]");
    assert_json(json_object_get(ent, "identifiers"),
                "[{\"type\": \"Tax ID No.\", \"value\": \"1234509876\"}]");
    assert_json(json_object_get(ent, "addresses"),
                "[{\"street\": \"Flat 7, 21 Example Prospekt\", \"city\": \"Baku\", \"region\": \"\","
                "  \"postal_code\": \"AZ1000\", \"country\": \"Azerbaijan\"}]");
    assert_json(json_object_get(ent, "nationalities"), "[\"Russia\", \"Azerbaijan\"]");
    assert_json(json_object_get(ent, "born"), "[\"1960-01-12\", \"1958..1962\"]");
    assert_json(json_object_get(ent, "birth_places"), "[\"Baku, Azerbaijan\"]");

    m = json_object_get(s.by_ref, "9002");
    ent = json_object_get(m, "entity");
    assert_string_equal(str(ent, "type"), "entity");
    assert_string_equal(str(ent, "name"), "NORTHWIND TRADING LLC");
    assert_json(json_object_get(ent, "identifiers"),
                "[{\"type\": \"Registration ID\", \"value\": \"DE-12345\"},"
                " {\"type\": \"SWIFT/BIC\", \"value\": \"NWTRCY2L\"}]");

    /* A vessel: its call sign, flag and owner become identifiers. */
    m = json_object_get(s.by_ref, "9003");
    ent = json_object_get(m, "entity");
    assert_string_equal(str(ent, "type"), "vessel");
    assert_json(json_object_get(ent, "identifiers"),
                "[{\"type\": \"Vessel Registration Identification\", \"value\": \"IMO 9000002\"},"
                " {\"type\": \"call sign\", \"value\": \"9BXX1\"},"
                " {\"type\": \"flag\", \"value\": \"Panama\"},"
                " {\"type\": \"owner\", \"value\": \"NORTHWIND TRADING LLC\"}]");

    m = json_object_get(s.by_ref, "9004");
    ent = json_object_get(m, "entity");
    assert_string_equal(str(ent, "name"), "Maria Elena LOPEZ FICTICIA");
    assert_json(json_object_get(ent, "born"), "[\"1975-03\", \"1976\"]");
    assert_string_equal(str(json_array_get(json_object_get(ent, "documents"), 0), "type"),
                        "C.U.R.P.");
    /* A gender given as an id is not carried. */
    assert_int_equal(json_array_size(json_object_get(ent, "documents")), 1);
    assert_json(json_object_get(ent, "identifiers"), "[]");
    seen_free(&s);
}

static void
test_freeze_list_ofac_versions(void **state)
{
    seen a, b;
    char why[512];

    (void)state;
    assert_int_equal(read_fixture("ofac_v1.xml", FREEZE_LIST_OFAC_XML, &a, why, sizeof(why)),
                     FREEZE_LIST_OK);
    assert_int_equal(read_fixture("ofac_v2.xml", FREEZE_LIST_OFAC_XML, &b, why, sizeof(why)),
                     FREEZE_LIST_OK);
    assert_null(json_object_get(a.by_ref, "9005"));
    assert_non_null(json_object_get(b.by_ref, "9005"));
    assert_null(json_object_get(b.by_ref, "9003"));
    assert_false(json_equal(json_object_get(a.by_ref, "9002"), json_object_get(b.by_ref, "9002")));
    assert_true(json_equal(json_object_get(a.by_ref, "9001"), json_object_get(b.by_ref, "9001")));
    assert_true(json_equal(json_object_get(a.by_ref, "9004"), json_object_get(b.by_ref, "9004")));
    seen_free(&a);
    seen_free(&b);
}

/* ---- Refusals ------------------------------------------------------------------------ */

static void
refused(const char *name, freeze_list_format fmt, freeze_list_err want, const char *where,
        const char *reason)
{
    seen s;
    char why[512];
    freeze_list_err err = read_fixture(name, fmt, &s, why, sizeof(why));

    if (err != want)
        fail_msg("%s: error %d (%s), wanted %d", name, err, why, want);
    if (strstr(why, where) == NULL || strstr(why, reason) == NULL)
        fail_msg("%s: reason '%s', wanted '%s' and '%s'", name, why, where, reason);
    seen_free(&s);
}

static void
test_freeze_list_refusals(void **state)
{
    (void)state;
    refused("un_malformed.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "un_malformed.xml:11: ",
            "malformed XML: Opening and ending tag mismatch");
    refused("un_truncated.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "un_truncated.xml:100: ",
            "the file ends before </CONSOLIDATED_LIST> (truncated?)");
    refused("un_noref.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "un_noref.xml:10: ",
            "has no reference (REFERENCE_NUMBER)");
    refused("un_dupref.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "un_dupref.xml:10: ",
            "reference QDi.1 appears twice in the file");
    refused("un_oversize.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "un_oversize.xml:5: ",
            "FIRST_NAME is longer than 512 bytes");
    refused("un_toomany.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "un_toomany.xml:74: ",
            "more than 64 nationalities in entry QDi.1");
    refused("un_badref.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "un_badref.xml:4: ",
            "does not make a designation id");
    refused("ofac_malformed.xml", FREEZE_LIST_OFAC_XML, FREEZE_LIST_ERR_DATA,
            "ofac_malformed.xml:9: ", "malformed XML");
    refused("ofac_truncated.xml", FREEZE_LIST_OFAC_XML, FREEZE_LIST_ERR_DATA,
            "ofac_truncated.xml:139: ", "the file ends before </sdnList>");
    refused("ofac_entity.xml", FREEZE_LIST_OFAC_XML, FREEZE_LIST_ERR_DATA, "ofac_entity.xml:",
            "a document type declaration");
    refused("ofac_baddate.xml", FREEZE_LIST_OFAC_XML, FREEZE_LIST_ERR_DATA, "ofac_baddate.xml:10: ",
            "dateOfBirth 'sometime in 1960' is none of");
    /* The wrong format for the file. */
    refused("un_v1.xml", FREEZE_LIST_OFAC_XML, FREEZE_LIST_ERR_DATA, "un_v1.xml:4: ",
            "the root element is <CONSOLIDATED_LIST>, not <sdnList>");
    refused("ofac_v1.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_DATA, "ofac_v1.xml:4: ",
            "the root element is <sdnList>, not <CONSOLIDATED_LIST>");
    refused("no_such_file.xml", FREEZE_LIST_UN_XML, FREEZE_LIST_ERR_NOINPUT, "no_such_file.xml",
            "cannot open");
}

/* Texts from memory: control characters, an undeclared entity, an empty document, an entry
 * that is not closed, and a stop asked by the callback. */
static int
stop_at_first(void *arg, json_t *members, long line)
{
    (void)members;
    (void)line;
    (*(int *)arg)++;
    return 1;
}

static void
test_freeze_list_memory(void **state)
{
    static const char good[] =
        "<CONSOLIDATED_LIST><INDIVIDUALS>"
        "<INDIVIDUAL><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER></INDIVIDUAL>"
        "<INDIVIDUAL><FIRST_NAME>B</FIRST_NAME><REFERENCE_NUMBER>QDi.2</REFERENCE_NUMBER></INDIVIDUAL>"
        "</INDIVIDUALS></CONSOLIDATED_LIST>";
    static const char control[] =
        "<CONSOLIDATED_LIST><INDIVIDUALS>\n<INDIVIDUAL><FIRST_NAME>A&#x7f;B</FIRST_NAME>"
        "<REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>";
    static const char entity[] = "<sdnList>\n<sdnEntry><uid>1</uid><lastName>&x;</lastName>"
                                 "</sdnEntry></sdnList>";
    static const char noname[] = "<sdnList><sdnEntry><uid>1</uid><sdnType>Entity</sdnType>"
                                 "</sdnEntry></sdnList>";
    static const char badtype[] = "<sdnList><sdnEntry><uid>1</uid><lastName>X</lastName>"
                                  "<sdnType>Ship</sdnType></sdnEntry></sdnList>";
    char why[512];
    int calls = 0;
    size_t count = 9;

    (void)state;
    assert_int_equal(freeze_list_read_memory(good, strlen(good), "mem", FREEZE_LIST_UN_XML,
                                             stop_at_first, &calls, &count, why, sizeof(why)),
                     FREEZE_LIST_ERR_STOPPED);
    assert_int_equal(calls, 1);
    assert_int_equal(freeze_list_read_memory(control, strlen(control), "mem", FREEZE_LIST_UN_XML,
                                             stop_at_first, &calls, &count, why, sizeof(why)),
                     FREEZE_LIST_ERR_DATA);
    assert_non_null(strstr(why, "mem:2: FIRST_NAME holds a control character"));
    assert_int_equal(freeze_list_read_memory(entity, strlen(entity), "mem", FREEZE_LIST_OFAC_XML,
                                             stop_at_first, &calls, &count, why, sizeof(why)),
                     FREEZE_LIST_ERR_DATA);
    assert_non_null(strstr(why, "mem:2: "));
    assert_non_null(strstr(why, "Entity 'x' not defined"));
    assert_int_equal(freeze_list_read_memory("", 0, "mem", FREEZE_LIST_OFAC_XML, stop_at_first,
                                             &calls, &count, why, sizeof(why)),
                     FREEZE_LIST_ERR_DATA);
    assert_int_equal(freeze_list_read_memory(noname, strlen(noname), "mem", FREEZE_LIST_OFAC_XML,
                                             stop_at_first, &calls, &count, why, sizeof(why)),
                     FREEZE_LIST_ERR_DATA);
    assert_non_null(strstr(why, "entry 1 has no name"));
    assert_int_equal(freeze_list_read_memory(badtype, strlen(badtype), "mem", FREEZE_LIST_OFAC_XML,
                                             stop_at_first, &calls, &count, why, sizeof(why)),
                     FREEZE_LIST_ERR_DATA);
    assert_non_null(strstr(why, "sdnType 'Ship' is none of"));
    assert_int_equal(calls, 1);
}

/* The canonical text sorts keys, so the order members were built in does not matter. */
static void
test_freeze_list_canonical(void **state)
{
    json_t *a = json_loads("{\"reference\": \"1\", \"list\": \"UN-SC\", \"version\": 3,"
                           " \"entity\": {\"type\": \"entity\", \"name\": \"X\"}}", 0, NULL);
    json_t *b = json_loads("{\"entity\": {\"name\": \"X\", \"type\": \"entity\"}, \"list\": \"UN-SC\","
                           " \"reference\": \"1\", \"action\": \"add\"}", 0, NULL);
    json_t *ma = freeze_list_members(a), *mb = freeze_list_members(b);
    char *x = freeze_list_canonical(ma), *y = freeze_list_canonical(mb);

    (void)state;
    assert_string_equal(x, y);
    assert_string_equal(x, "{\"entity\":{\"name\":\"X\",\"type\":\"entity\"},\"list\":\"UN-SC\","
                           "\"reference\":\"1\"}");
    free(x);
    free(y);
    json_decref(a);
    json_decref(b);
    json_decref(ma);
    json_decref(mb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_freeze_list_un_fields),
        cmocka_unit_test(test_freeze_list_un_versions),
        cmocka_unit_test(test_freeze_list_ofac_fields),
        cmocka_unit_test(test_freeze_list_ofac_versions),
        cmocka_unit_test(test_freeze_list_refusals),
        cmocka_unit_test(test_freeze_list_memory),
        cmocka_unit_test(test_freeze_list_canonical),
    };
    int rc;

    xmlInitParser();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    xmlCleanupParser();
    return rc;
}
