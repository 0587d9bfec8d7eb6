/* Unit tests of yaml/: what every Liaison YAML file gets (limits, positions, the message shape). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "liaison_yaml.h"

/* A small file of the usual kind: a mapping of a string, a number and a list. */
typedef struct raw_test {
    char *name;        /* required */
    unsigned count;    /* required */
    char **items;      /* optional */
    unsigned items_count; /* entries at items */
} raw_test;

static const cyaml_schema_value_t item_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, 64),
};

static const cyaml_schema_field_t test_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER, raw_test, name, 0, 64),
    CYAML_FIELD_UINT("count", CYAML_FLAG_DEFAULT, raw_test, count),
    CYAML_FIELD_SEQUENCE("items", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_test, items,
                         &item_entry, 0, 16),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t test_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_test, test_fields),
};

static const liaison_yaml_spec test_spec = {
    .noun = "a test file",
    .file_noun = "a test file",
    .size_max = 4096,
    .nodes_max = 64,
    .schema = &test_schema,
};

/* One load's results, cleared by teardown. */
typedef struct load {
    raw_test *raw;           /* what libcyaml loaded */
    liaison_yaml_doc doc;    /* the node table */
    liaison_yaml_log log;    /* libcyaml's log */
    liaison_yaml_error err;  /* the refusal */
    cyaml_err_t cerr;        /* libcyaml's code */
    char text[640];          /* the message, "t.yaml:LINE:COL: FIELD: what" */
} load;

static int
setup(void **state)
{
    load *l = calloc(1, sizeof(load));

    if (l == NULL)
        return -1;
    *state = l;
    return 0;
}

static int
teardown(void **state)
{
    load *l = *state;

    liaison_yaml_free(&test_schema, l->raw);
    liaison_yaml_doc_clear(&l->doc);
    free(l);
    return 0;
}

/* Loads text with spec as "t.yaml"; the message goes to l->text. */
static liaison_yaml_err
load_text(load *l, const liaison_yaml_spec *spec, const char *text)
{
    liaison_yaml_err rc;

    liaison_yaml_free(&test_schema, l->raw);
    liaison_yaml_doc_clear(&l->doc);
    rc = liaison_yaml_load(text, strlen(text), spec, &test_schema, (void **)&l->raw, &l->doc,
                           &l->log, &l->cerr, &l->err);
    liaison_yaml_message(l->text, sizeof(l->text), "t.yaml", l->err.line, l->err.column,
                         l->err.field, l->err.what);
    return rc;
}

static void
test_yaml_well_formed_loads_with_positions(void **state)
{
    load *l = *state;
    const liaison_yaml_node *n;

    assert_int_equal(load_text(l, &test_spec, "name: alpha\ncount: 3\nitems:\n  - one\n  - two\n"),
                     LIAISON_YAML_OK);
    assert_non_null(l->raw);
    assert_string_equal(l->raw->name, "alpha");
    assert_int_equal(l->raw->count, 3);
    assert_int_equal(l->raw->items_count, 2);
    assert_string_equal(l->raw->items[1], "two");
    n = liaison_yaml_find(&l->doc, "items[1]");
    assert_non_null(n);
    assert_int_equal(n->line, 5);
    assert_int_equal(n->column, 5);
    assert_string_equal(n->text, "two");
    n = liaison_yaml_find(&l->doc, "count");
    assert_non_null(n);
    assert_int_equal(n->key_line, 2);
    assert_int_equal(n->key_column, 1);
    assert_int_equal(n->column, 8);
    assert_false(n->unknown);
}

static void
test_yaml_oversize_refused_with_size_and_limit(void **state)
{
    load *l = *state;
    liaison_yaml_spec small = test_spec;

    small.size_max = 16;
    assert_int_equal(load_text(l, &small, "name: seventeen!\n"), LIAISON_YAML_ERR_SIZE);
    assert_true(liaison_yaml_err_limit(LIAISON_YAML_ERR_SIZE));
    assert_string_equal(l->text, "t.yaml: 17 bytes; a test file is at most 16");
    assert_null(l->raw);
}

static void
test_yaml_read_refuses_oversize_file(void **state)
{
    liaison_yaml_spec small = test_spec;
    liaison_yaml_error err;
    char *text = NULL;
    size_t len = 0;
    FILE *f = tmpfile();

    (void)state;
    assert_non_null(f);
    fputs("name: seventeen!\n", f);
    rewind(f);
    assert_int_equal(liaison_yaml_read(f, &test_spec, &text, &len, &err), LIAISON_YAML_OK);
    assert_int_equal(len, 17);
    assert_string_equal(text, "name: seventeen!\n");
    free(text);
    rewind(f);
    small.size_max = 16;
    assert_int_equal(liaison_yaml_read(f, &small, &text, &len, &err), LIAISON_YAML_ERR_SIZE);
    assert_null(text);
    assert_string_equal(err.what, "17 bytes; a test file is at most 16");
    fclose(f);
}

static void
test_yaml_depth_over_limit_refused_at_its_position(void **state)
{
    load *l = *state;
    char text[128] = "items: ";
    char want[200];
    size_t n = strlen(text);

    /* The root mapping is the first level: the list that opens level
     * DEPTH_MAX + 1 starts at column 8 + DEPTH_MAX - 1. */
    for (unsigned i = 0; i < LIAISON_YAML_DEPTH_MAX; i++)
        text[n++] = '[';
    for (unsigned i = 0; i < LIAISON_YAML_DEPTH_MAX; i++)
        text[n++] = ']';
    text[n] = '\0';
    assert_int_equal(load_text(l, &test_spec, text), LIAISON_YAML_ERR_DEPTH);
    snprintf(want, sizeof(want), "t.yaml:1:%u: items", 8 + LIAISON_YAML_DEPTH_MAX - 1);
    assert_int_equal(strncmp(l->text, want, strlen(want)), 0);
    assert_non_null(strstr(l->text, "nested deeper than 16 levels"));
}

static void
test_yaml_alias_refused_at_its_position(void **state)
{
    load *l = *state;

    assert_int_equal(load_text(l, &test_spec, "name: &n alpha\ncount: 3\nitems: [*n]\n"),
                     LIAISON_YAML_ERR_ALIAS);
    assert_string_equal(l->text, "t.yaml:3:9: YAML aliases (*name) are not allowed in a test file");
}

static void
test_yaml_syntax_error_has_file_line_column(void **state)
{
    load *l = *state;

    assert_int_equal(load_text(l, &test_spec, "name: alpha\ncount: 3\nitems: [one, two\n"),
                     LIAISON_YAML_ERR_SYNTAX);
    assert_string_equal(l->text, "t.yaml:4:1: YAML syntax error: did not find expected ',' or ']' "
                                 "(while parsing a flow sequence at 3:8)");
}

static void
test_yaml_unknown_key_named_at_its_position(void **state)
{
    load *l = *state;
    const liaison_yaml_node *n;
    char names[64];

    assert_int_equal(load_text(l, &test_spec, "name: alpha\ncount: 3\ncolour: red\n"),
                     LIAISON_YAML_ERR_SCHEMA);
    assert_non_null(strstr(l->log.message, "colour"));
    n = liaison_yaml_find(&l->doc, "colour");
    assert_non_null(n);
    assert_true(n->unknown);
    assert_int_equal(n->key_line, 3);
    assert_int_equal(n->key_column, 1);
    liaison_yaml_schema_names(&test_schema, names, sizeof(names));
    assert_string_equal(names, "name, count, items");
}

static void
test_yaml_wrong_type_placed_at_its_value(void **state)
{
    load *l = *state;
    const liaison_yaml_node *n;

    assert_int_equal(load_text(l, &test_spec, "name: alpha\ncount: [3]\n"),
                     LIAISON_YAML_ERR_SCHEMA);
    assert_string_equal(l->log.field, "count");
    n = liaison_yaml_find_at(&l->doc, l->log.line, l->log.column);
    assert_non_null(n);
    assert_string_equal(n->path, "count");
    assert_int_equal(n->kind, LIAISON_YAML_SEQUENCE);
    assert_int_equal(n->line, 2);
    assert_int_equal(n->column, 8);
}

static void
test_yaml_refuses_what_no_file_uses(void **state)
{
    load *l = *state;

    assert_int_equal(load_text(l, &test_spec, "name: a\ncount: 1\nname: b\n"),
                     LIAISON_YAML_ERR_DUPLICATE);
    assert_string_equal(l->text, "t.yaml:3:1: name: given twice (first at line 1)");
    assert_string_equal(l->err.key, "name");
    assert_int_equal(l->err.first_line, 1);
    assert_int_equal(load_text(l, &test_spec, "name: a\n---\nname: b\n"),
                     LIAISON_YAML_ERR_DOCUMENTS);
    assert_string_equal(l->text,
                        "t.yaml:2:1: a second YAML document starts here; a test file is one document");
    assert_int_equal(load_text(l, &test_spec, "? [a]\n: b\n"), LIAISON_YAML_ERR_KEY);
    assert_string_equal(l->text, "t.yaml:1:3: a field name must be a plain word, not a list or mapping");
    assert_int_equal(load_text(l, &test_spec, "items: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, "
                                              "o, p, q, r, s, t, u, v, w, x, y, z, a, b, c, d, e, "
                                              "f, g, h, i, j, k, l, m, n, o, p, q, r, s, t, u, v, "
                                              "w, x, y, z, a, b, c, d, e, f, g, h, i, j, k, l]\n"),
                     LIAISON_YAML_ERR_NODES);
    assert_non_null(strstr(l->text, "more than 64 YAML nodes; a test file is much smaller"));
}

/* A check that refuses any node named "forbidden". */
static bool
refuse_forbidden(void *ctx, const liaison_yaml_doc *doc, const liaison_yaml_node *node)
{
    (void)doc;
    if (strcmp(node->key, "forbidden") != 0)
        return true;
    *(uint32_t *)ctx = node->key_line;
    return false;
}

static void
test_yaml_check_refuses_in_file_order(void **state)
{
    load *l = *state;
    liaison_yaml_spec checked = test_spec;
    uint32_t line = 0;

    checked.check = refuse_forbidden;
    checked.check_ctx = &line;
    /* The check stops the pass before the alias on the next line is seen. */
    assert_int_equal(load_text(l, &checked, "name: &n a\nforbidden: 1\ncount: *n\n"),
                     LIAISON_YAML_ERR_REFUSED);
    assert_int_equal(line, 2);
}

static void
test_yaml_message_is_one_line(void **state)
{
    char text[128], shown[80];

    (void)state;
    liaison_yaml_message(text, sizeof(text), "t.yaml", 0, 0, "a\nb", "what\tnow");
    assert_string_equal(text, "t.yaml: a?b: what?now");
    assert_string_equal(liaison_yaml_shown("it's", shown, sizeof(shown)), "it?s");
}

static void
test_yaml_paths_resolve_against_the_file(void **state)
{
    char base[64], *out = NULL;

    (void)state;
    liaison_yaml_base_dir("/etc/liaison/usa.yaml", base, sizeof(base));
    assert_string_equal(base, "/etc/liaison");
    assert_int_equal(liaison_yaml_resolve(base, "keys/usa.key", 64, &out), LIAISON_YAML_OK);
    assert_string_equal(out, "/etc/liaison/keys/usa.key");
    free(out);
    assert_int_equal(liaison_yaml_resolve(base, "/abs", 64, &out), LIAISON_YAML_OK);
    assert_string_equal(out, "/abs");
    free(out);
    assert_int_equal(liaison_yaml_resolve(base, "keys/usa.key", 16, &out), LIAISON_YAML_ERR_PATH);
    assert_null(out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_yaml_well_formed_loads_with_positions, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_yaml_oversize_refused_with_size_and_limit, setup,
                                        teardown),
        cmocka_unit_test(test_yaml_read_refuses_oversize_file),
        cmocka_unit_test_setup_teardown(test_yaml_depth_over_limit_refused_at_its_position, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_yaml_alias_refused_at_its_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_syntax_error_has_file_line_column, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_yaml_unknown_key_named_at_its_position, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_yaml_wrong_type_placed_at_its_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_refuses_what_no_file_uses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_check_refuses_in_file_order, setup, teardown),
        cmocka_unit_test(test_yaml_message_is_one_line),
        cmocka_unit_test(test_yaml_paths_resolve_against_the_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
