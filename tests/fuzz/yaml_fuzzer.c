/* Fuzz target: the shared YAML loader; every load succeeds or refuses with a placed, one-line error. */
#include <stdlib.h>
#include <string.h>

#include "liaison_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A mapping of a few fields of each kind libcyaml reads for Liaison. */
typedef struct raw_fuzz {
    char *name;           /* optional */
    unsigned *count;      /* optional */
    char **items;         /* optional */
    unsigned items_count; /* entries at items */
} raw_fuzz;

static const cyaml_schema_value_t item_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, 64),
};

static const cyaml_schema_field_t fuzz_fields[] = {
    CYAML_FIELD_STRING_PTR("name", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_fuzz, name, 0, 64),
    CYAML_FIELD_UINT_PTR("count", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_fuzz, count),
    CYAML_FIELD_SEQUENCE("items", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_fuzz, items,
                         &item_entry, 0, 16),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t fuzz_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_fuzz, fuzz_fields),
};

static const liaison_yaml_spec fuzz_spec = {
    .noun = "a fuzz file",
    .file_noun = "a fuzz file",
    .size_max = 65536,
    .nodes_max = 4096,
    .schema = &fuzz_schema,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    liaison_yaml_doc doc;
    liaison_yaml_log log;
    liaison_yaml_error err;
    liaison_yaml_detail d;
    raw_fuzz *raw = NULL;
    cyaml_err_t cerr;
    liaison_yaml_err rc;

    rc = liaison_yaml_load((const char *)data, size, &fuzz_spec, &fuzz_schema, (void **)&raw, &doc,
                           &log, &cerr, &err);
    if (rc != LIAISON_YAML_OK && rc != LIAISON_YAML_ERR_SCHEMA) {
        /* Every refusal says what, on one line; all but the size have a position. */
        liaison_yaml_message(d.text, sizeof(d.text), "fuzz.yaml", err.line, err.column, err.field,
                             err.what);
        if (raw != NULL || err.what[0] == '\0' || strchr(d.text, '\n') != NULL ||
            (rc != LIAISON_YAML_ERR_SIZE && rc != LIAISON_YAML_ERR_NOMEM && err.line == 0))
            abort();
    }
    for (size_t i = 0; i < doc.count; i++) {
        const liaison_yaml_node *n = &doc.nodes[i];

        /* Positions are 1-based, parents come first, a key ends its path. */
        if (n->line == 0 || n->column == 0 || n->parent >= (int32_t)i ||
            (i > 0 && n->parent < 0) || strlen(n->path) >= LIAISON_YAML_PATH_MAX ||
            strcmp(n->path + strlen(n->path) - strlen(n->key), n->key) != 0 ||
            liaison_yaml_find(&doc, n->path) == NULL)
            abort();
    }
    liaison_yaml_free(&fuzz_schema, raw);
    liaison_yaml_doc_clear(&doc);
    return 0;
}
