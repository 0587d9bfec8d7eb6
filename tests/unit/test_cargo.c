/* Unit tests of client/agent/cargo.c: ISO 6346, IMO and UN/LOCODE codes, and the checks of each cargo message. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cargo.h"
#include "helpers.h"
#include "liaison_proto.h"

/* ---- Codes ------------------------------------------------------------------------------ */

static void
test_cargo_check_digit_published_examples(void **state)
{
    cargo_detail d;

    (void)state;
    /* The example of the ISO 6346 article and of BIC-based check-digit tools. */
    assert_int_equal(cargo_container_check_digit("CSQU305438"), 3);
    assert_true(cargo_container_valid("CSQU3054383", NULL));
    /* "ABCU123456 gives 0", a check-digit tool's published example. */
    assert_int_equal(cargo_container_check_digit("ABCU123456"), 0);
    assert_true(cargo_container_valid("ABCU1234560", NULL));
    /* A sum whose remainder mod 11 is 10 has check digit 0 (10 mod 10). */
    assert_int_equal(cargo_container_check_digit("MSCU100007"), 0);
    /* J (detachable equipment) and Z (trailers, chassis) are categories too. */
    assert_true(cargo_container_check_digit("CSQJ305438") >= 0);
    assert_true(cargo_container_check_digit("CSQZ305438") >= 0);

    assert_false(cargo_container_valid("CSQU3054384", &d));
    assert_string_equal(d.field, "container");
    assert_non_null(strstr(d.text, "check digit is 3, not 4"));
}

static void
test_cargo_container_refuses_bad_forms(void **state)
{
    static const char *const bad[] = {
        "",             /* empty */
        "CSQU305438",   /* no check digit */
        "CSQU30543833", /* too long */
        "csqu3054383",  /* lower case */
        "CSQ U3054383", /* a space */
        "CSQX3054383",  /* X is not an equipment category */
        "CS1U3054383",  /* a digit in the owner code */
        "CSQU30A4383",  /* a letter in the serial number */
        "CSQU305438A",  /* a letter as check digit */
    };
    cargo_detail d;

    (void)state;
    assert_false(cargo_container_valid(NULL, &d));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&d, 0, sizeof(d));
        assert_false(cargo_container_valid(bad[i], &d));
        assert_string_equal(d.field, "container");
        assert_true(d.text[0] != '\0');
    }
    assert_int_equal(cargo_container_check_digit("CSQX305438"), -1);
    assert_int_equal(cargo_container_check_digit("CSQ"), -1);
}

static void
test_cargo_imo_and_locode(void **state)
{
    (void)state;
    /* 9074729: 9x7 + 0x6 + 7x5 + 4x4 + 7x3 + 2x2 = 139, check digit 9. */
    assert_true(cargo_imo_valid("9074729"));
    assert_true(cargo_imo_valid("9461867"));
    assert_false(cargo_imo_valid("9074728"));
    assert_false(cargo_imo_valid("907472"));
    assert_false(cargo_imo_valid("IMO9074729"));
    assert_false(cargo_imo_valid(NULL));

    assert_true(cargo_locode_valid("MXZLO"));
    assert_true(cargo_locode_valid("USLGB"));
    assert_true(cargo_locode_valid("DEHAM"));
    assert_true(cargo_locode_valid("USNY2"));
    assert_false(cargo_locode_valid("mxzlo"));
    assert_false(cargo_locode_valid("MXZL1")); /* 0 and 1 are not used: they read as O and I */
    assert_false(cargo_locode_valid("M1ZLO")); /* the country part is letters */
    assert_false(cargo_locode_valid("MX ZLO"));
    assert_false(cargo_locode_valid("MXZL"));
}

/* ---- Messages --------------------------------------------------------------------------- */

#define SHIPMENT                                                                             \
    "{\"container\": \"CSQU3054383\", \"seals\": [\"MX0048812\"],"                           \
    " \"bill_of_lading\": \"MEDUMX123456\","                                                 \
    " \"vessel\": {\"name\": \"MSC ALINA\", \"imo\": \"9461867\", \"voyage\": \"0412N\"},"   \
    " \"port_of_loading\": \"MXZLO\", \"port_of_discharge\": \"USLGB\","                     \
    " \"shipper\": {\"name\": \"Autopartes del Pacifico SA\", \"country\": \"MEX\"},"        \
    " \"consignee\": {\"name\": \"Lakeside Distribution LLC\", \"country\": \"USA\"},"       \
    " \"goods\": \"auto parts, HS 8708\", \"departure\": \"2026-12-08T18:00:00Z\"}"

static const char alert_text[] =
    "{\"schema\": \"cargo.alert/1\", \"alert\": \"CBP-ALERT-2026-0001\", \"shipment\": " SHIPMENT
    ", \"risk\": \"high\", \"indicators\": [\"consignee first import\"], \"note_portion\": 1}";

static const char request_text[] =
    "{\"schema\": \"cargo.request/1\", \"request\": \"CBP-CSR-2026-0001\","
    " \"alert\": \"CBP-ALERT-2026-0001\", \"requesting\": \"USA/CBP\", \"requested\": \"MEX/ANAM\","
    " \"shipment\": " SHIPMENT ", \"indicators\": [\"consignee first import\"],"
    " \"examination\": \"scan\", \"deadline\": \"2026-12-08T12:00:00Z\"}";

static const char result_text[] =
    "{\"schema\": \"cargo.result/1\", \"request\": \"CBP-CSR-2026-0001\","
    " \"container\": \"CSQU3054383\", \"outcome\": \"scanned\", \"reason\": \"\", \"anomaly\": true,"
    " \"findings\": \"density anomaly behind the front wall\", \"seals_after\": [\"MX0051177\"],"
    " \"officer\": \"ANAM-MZO-4411\", \"examined\": \"2026-12-07T15:30:00Z\","
    " \"files\": [{\"name\": \"scan-0412.png\", \"size\": 48213,"
    " \"sha256\": \"ad1f0e0a3a4b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbc\","
    " \"chunk\": 0, \"chunks\": 1, \"portion\": 1,"
    " \"chunk_sha256\": \"ad1f0e0a3a4b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbc\"}],"
    " \"custody\": [{\"time\": \"2026-12-07T15:31:00Z\", \"actor\": \"MEX/ANAM\","
    " \"action\": \"collected\", \"file\": \"scan-0412.png\","
    " \"sha256\": \"ad1f0e0a3a4b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbc\","
    " \"signature\": \"00\"}]}";

static json_t *
parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);

    if (j == NULL)
        fail_msg("test JSON at %d:%d: %s", e.line, e.column, e.text);
    return j;
}

/* Checks doc as kind and expects err with field (when not CARGO_OK). */
static void
expect(const char *kind, json_t *doc, uint64_t now, cargo_err err, const char *field)
{
    cargo_detail d;
    cargo_err got = cargo_message_check(kind, doc, now, &d);

    if (got != err)
        fail_msg("%s: got %s (%s: %s), expected %s", kind, cargo_strerror(got), d.field, d.text,
                 cargo_strerror(err));
    if (field != NULL)
        assert_string_equal(d.field, field);
}

static void
test_cargo_messages_good(void **state)
{
    const char *ack = "{\"schema\": \"cargo.ack/1\", \"request\": \"CBP-CSR-2026-0001\","
                      " \"status\": \"received\", \"note\": \"\"}";
    const char *dnl = "{\"schema\": \"cargo.donotload/1\", \"recommendation\": \"CBP-DNL-2026-0001\","
                      " \"action\": \"recommend\", \"request\": \"CBP-CSR-2026-0001\","
                      " \"container\": \"CSQU3054383\", \"bill_of_lading\": \"MEDUMX123456\","
                      " \"reason\": \"anomaly found by MEX/ANAM scan\"}";
    json_t *j;
    uint64_t before;

    (void)state;
    assert_true(proto_time_parse("2026-12-06T00:00:00Z", &before));
    expect("cargo.alert", j = parse(alert_text), 0, CARGO_OK, NULL);
    json_decref(j);
    expect("cargo.request", j = parse(request_text), before, CARGO_OK, NULL);
    json_decref(j);
    expect("cargo.ack", j = parse(ack), 0, CARGO_OK, NULL);
    json_decref(j);
    expect("cargo.result", j = parse(result_text), 0, CARGO_OK, NULL);
    json_decref(j);
    expect("cargo.donotload", j = parse(dnl), 0, CARGO_OK, NULL);
    json_decref(j);
    assert_true(cargo_kind("cargo.request"));
    assert_false(cargo_kind("cargo.requests"));
    assert_false(cargo_kind("mlat.request"));
}

static void
test_cargo_request_deadlines(void **state)
{
    json_t *j = parse(request_text);
    uint64_t now;

    (void)state;
    /* After the deadline: refused when sending, accepted (overdue) when received. */
    assert_true(proto_time_parse("2026-12-08T12:00:01Z", &now));
    expect("cargo.request", j, now, CARGO_ERR_DEADLINE, "deadline");
    expect("cargo.request", j, 0, CARGO_OK, NULL);
    /* A deadline after the vessel sails is refused even by a receiver. */
    json_object_set_new(j, "deadline", json_string("2026-12-08T18:00:01Z"));
    expect("cargo.request", j, 0, CARGO_ERR_DEADLINE, "deadline");
    json_object_set_new(j, "deadline", json_string("tomorrow"));
    expect("cargo.request", j, 0, CARGO_ERR_INVALID, "deadline");
    json_object_del(j, "deadline");
    expect("cargo.request", j, 0, CARGO_ERR_MISSING, "deadline");
    json_decref(j);
}

static void
test_cargo_request_fields(void **state)
{
    static const struct {
        const char *path;   /* member to change: "x" or "shipment.x" or "shipment.vessel.x" */
        const char *value;  /* JSON value; NULL deletes it */
        cargo_err err;
        const char *field;
    } cases[] = {
        {"shipment.container", "\"CSQU3054384\"", CARGO_ERR_INVALID, "shipment.container"},
        {"shipment.container", NULL, CARGO_ERR_MISSING, "shipment.container"},
        {"shipment.vessel.imo", "\"9461868\"", CARGO_ERR_INVALID, "shipment.vessel.imo"},
        {"shipment.vessel.voyage", NULL, CARGO_ERR_MISSING, "shipment.vessel.voyage"},
        {"shipment.port_of_loading", "\"Manzanillo\"", CARGO_ERR_INVALID, "shipment.port_of_loading"},
        {"shipment.bill_of_lading", "\"MEDU MX1\"", CARGO_ERR_INVALID, "shipment.bill_of_lading"},
        {"shipment.bill_of_lading", "\"A123456789012345678901234567890123456\"", CARGO_ERR_INVALID,
         "shipment.bill_of_lading"},
        {"shipment.seals", "[\"\"]", CARGO_ERR_INVALID, "shipment.seals[0]"},
        {"shipment.goods", "\"a\\u0007bell\"", CARGO_ERR_INVALID, "shipment.goods"},
        {"shipment.departure", NULL, CARGO_ERR_MISSING, "shipment.departure"},
        {"shipment", NULL, CARGO_ERR_MISSING, "shipment"},
        {"requested", "\"MEX\"", CARGO_ERR_INVALID, "requested"},
        {"requesting", NULL, CARGO_ERR_MISSING, "requesting"},
        {"examination", "\"x-ray\"", CARGO_ERR_INVALID, "examination"},
        {"indicators", "[]", CARGO_ERR_MISSING, "indicators"},
        {"request", "\"CBP CSR 1\"", CARGO_ERR_INVALID, "request"},
        {"note_portion", "0", CARGO_ERR_INVALID, "note_portion"},
        {"schema", "\"cargo.request/2\"", CARGO_ERR_SCHEMA, "schema"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = parse(request_text), *o = j;
        char path[64], *p = path, *dot;

        snprintf(path, sizeof(path), "%s", cases[i].path);
        while ((dot = strchr(p, '.')) != NULL) {
            *dot = '\0';
            o = json_object_get(o, p);
            p = dot + 1;
        }
        if (cases[i].value == NULL)
            json_object_del(o, p);
        else
            json_object_set_new(o, p, parse(cases[i].value));
        expect("cargo.request", j, 0, cases[i].err, cases[i].field);
        json_decref(j);
    }
}

static void
test_cargo_result_rules(void **state)
{
    json_t *j = parse(result_text);

    (void)state;
    /* Not examined: a reason is required, findings and the time are not. */
    json_object_set_new(j, "outcome", json_string("not-examined"));
    expect("cargo.result", j, 0, CARGO_ERR_MISSING, "reason");
    json_object_set_new(j, "reason", json_string("vessel sailed early"));
    json_object_set_new(j, "findings", json_string(""));
    json_object_set_new(j, "examined", json_string(""));
    expect("cargo.result", j, 0, CARGO_OK, NULL);
    /* Scanned: findings and when are required. */
    json_object_set_new(j, "outcome", json_string("scanned"));
    expect("cargo.result", j, 0, CARGO_ERR_MISSING, "findings");
    json_object_set_new(j, "findings", json_string("nothing found"));
    expect("cargo.result", j, 0, CARGO_ERR_MISSING, "examined");
    json_object_set_new(j, "examined", json_string("2026-12-07T15:30:00Z"));
    expect("cargo.result", j, 0, CARGO_OK, NULL);
    /* Files need custody; a file spans one chunk; the container must be good. */
    json_object_del(j, "custody");
    expect("cargo.result", j, 0, CARGO_ERR_MISSING, "custody");
    json_decref(j);
    j = parse(result_text);
    json_object_set_new(json_array_get(json_object_get(j, "files"), 0), "chunks", json_integer(2));
    expect("cargo.result", j, 0, CARGO_ERR_INVALID, "files[0]");
    json_decref(j);
    j = parse(result_text);
    {
        json_t *files = json_object_get(j, "files"), *f = json_array_get(files, 0);

        /* Three files of 4 MiB are over the 12 MiB a result carries in all. */
        json_object_set_new(f, "size", json_integer(CARGO_FILE_MAX));
        json_array_append_new(files, json_deep_copy(f));
        json_array_append_new(files, json_deep_copy(f));
        expect("cargo.result", j, 0, CARGO_OK, NULL);
        json_object_set_new(json_array_get(files, 2), "size", json_integer(CARGO_FILE_MAX + 1));
        expect("cargo.result", j, 0, CARGO_ERR_INVALID, "files[2]");
        json_object_set_new(json_array_get(files, 2), "size", json_integer(CARGO_FILE_MAX));
        json_array_append_new(files, json_deep_copy(f));
        expect("cargo.result", j, 0, CARGO_ERR_INVALID, "files");
        while (json_array_size(files) > 1)
            json_array_remove(files, 1);
    }
    json_object_set_new(json_array_get(json_object_get(j, "files"), 0), "name", json_string("../x"));
    expect("cargo.result", j, 0, CARGO_ERR_INVALID, "files[0]");
    json_object_del(j, "files");
    expect("cargo.result", j, 0, CARGO_ERR_INVALID, "custody");
    json_object_del(j, "custody");
    json_object_set_new(j, "anomaly", json_string("yes"));
    expect("cargo.result", j, 0, CARGO_ERR_INVALID, "anomaly");
    json_object_set_new(j, "anomaly", json_false());
    json_object_set_new(j, "container", json_string("CSQU3054380"));
    expect("cargo.result", j, 0, CARGO_ERR_INVALID, "container");
    json_decref(j);
}

static void
test_cargo_ack_and_donotload_rules(void **state)
{
    json_t *j = parse("{\"schema\": \"cargo.ack/1\", \"request\": \"R-1\", \"status\": \"declined\"}");

    (void)state;
    expect("cargo.ack", j, 0, CARGO_ERR_MISSING, "note");
    json_object_set_new(j, "note", json_string("no examination capacity before departure"));
    expect("cargo.ack", j, 0, CARGO_OK, NULL);
    json_object_set_new(j, "status", json_string("done"));
    expect("cargo.ack", j, 0, CARGO_ERR_INVALID, "status");
    /* A message of another kind is not a cargo.ack. */
    expect("cargo.donotload", j, 0, CARGO_ERR_SCHEMA, "schema");
    expect("freeze.ack", j, 0, CARGO_ERR_SCHEMA, "kind");
    json_decref(j);

    j = parse("{\"schema\": \"cargo.donotload/1\", \"recommendation\": \"CBP-DNL-1\","
              " \"action\": \"lift\", \"container\": \"CSQU3054383\"}");
    expect("cargo.donotload", j, 0, CARGO_ERR_MISSING, "reason");
    json_object_set_new(j, "reason", json_string("examined, nothing found"));
    expect("cargo.donotload", j, 0, CARGO_OK, NULL);
    json_object_set_new(j, "action", json_string("cancel"));
    expect("cargo.donotload", j, 0, CARGO_ERR_INVALID, "action");
    json_decref(j);
    /* Not an object at all. */
    j = json_array();
    expect("cargo.alert", j, 0, CARGO_ERR_SCHEMA, "schema");
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cargo_check_digit_published_examples),
        cmocka_unit_test(test_cargo_container_refuses_bad_forms),
        cmocka_unit_test(test_cargo_imo_and_locode),
        cmocka_unit_test(test_cargo_messages_good),
        cmocka_unit_test(test_cargo_request_deadlines),
        cmocka_unit_test(test_cargo_request_fields),
        cmocka_unit_test(test_cargo_result_rules),
        cmocka_unit_test(test_cargo_ack_and_donotload_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
