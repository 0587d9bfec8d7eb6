/* Reading policy files: libcyaml's schema, read through yaml/ for limits and error positions. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_int.h"


/* ---- Schema ------------------------------------------------------------- */

static const cyaml_strval_t action_names[] = {
    {"release", POLICY_RELEASE},
    {"withhold", POLICY_WITHHOLD},
    {"deny", POLICY_DENY},
};

static const cyaml_strval_t direction_names[] = {
    {"egress", POLICY_EGRESS},
    {"ingress", POLICY_INGRESS},
};

static const cyaml_schema_value_t string_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 1, 256),
};

#define STR_FIELD(key, flags, type, member)                                            \
    CYAML_FIELD_STRING_PTR(key, CYAML_FLAG_POINTER | (flags), type, member, 1, 256)
#define LIST_FIELD(key, flags, type, member, max)                                      \
    CYAML_FIELD_SEQUENCE(key, CYAML_FLAG_POINTER | (flags), type, member, &string_entry, 0, max)

static const cyaml_schema_field_t rule_fields[] = {
    STR_FIELD("id", CYAML_FLAG_DEFAULT, raw_rule, id),
    CYAML_FIELD_SEQUENCE("kinds", CYAML_FLAG_POINTER, raw_rule, kinds, &string_entry, 1, 64),
    STR_FIELD("ceiling", CYAML_FLAG_OPTIONAL, raw_rule, ceiling),
    LIST_FIELD("require", CYAML_FLAG_OPTIONAL, raw_rule, require, 64),
    LIST_FIELD("exclude", CYAML_FLAG_OPTIONAL, raw_rule, exclude, 64),
    LIST_FIELD("basis", CYAML_FLAG_OPTIONAL, raw_rule, basis, 64),
    LIST_FIELD("from", CYAML_FLAG_OPTIONAL, raw_rule, from, 64),
    LIST_FIELD("to", CYAML_FLAG_OPTIONAL, raw_rule, to, 64),
    CYAML_FIELD_ENUM("action", CYAML_FLAG_STRICT, raw_rule, action, action_names,
                     CYAML_ARRAY_LEN(action_names)),
    LIST_FIELD("withhold", CYAML_FLAG_OPTIONAL, raw_rule, withhold, 64),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t rule_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_rule, rule_fields),
};

static const cyaml_schema_field_t partner_fields[] = {
    STR_FIELD("nation", CYAML_FLAG_DEFAULT, raw_partner, nation),
    CYAML_FIELD_SEQUENCE("egress", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_partner, egress,
                         &rule_entry, 0, POLICY_RULES_MAX),
    CYAML_FIELD_SEQUENCE("ingress", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_partner,
                         ingress, &rule_entry, 0, POLICY_RULES_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t partner_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_partner, partner_fields),
};

static const cyaml_schema_field_t treaty_fields[] = {
    STR_FIELD("id", CYAML_FLAG_DEFAULT, raw_treaty, id),
    STR_FIELD("partner", CYAML_FLAG_DEFAULT, raw_treaty, partner),
    STR_FIELD("in_force_from", CYAML_FLAG_DEFAULT, raw_treaty, in_force_from),
    STR_FIELD("in_force_until", CYAML_FLAG_OPTIONAL, raw_treaty, in_force_until),
    CYAML_FIELD_SEQUENCE("offences", CYAML_FLAG_POINTER, raw_treaty, offences, &string_entry, 1,
                         64),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t treaty_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_treaty, treaty_fields),
};

static const cyaml_schema_field_t limit_fields[] = {
    STR_FIELD("partner", CYAML_FLAG_DEFAULT, raw_limit, partner),
    CYAML_FIELD_ENUM("direction", CYAML_FLAG_STRICT | CYAML_FLAG_OPTIONAL, raw_limit, direction,
                     direction_names, CYAML_ARRAY_LEN(direction_names)),
    CYAML_FIELD_SEQUENCE("kinds", CYAML_FLAG_POINTER, raw_limit, kinds, &string_entry, 1, 64),
    CYAML_FIELD_UINT("per_minute", CYAML_FLAG_DEFAULT, raw_limit, per_minute),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t limit_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_limit, limit_fields),
};

static const cyaml_schema_field_t vocabulary_fields[] = {
    LIST_FIELD("classifications", CYAML_FLAG_OPTIONAL, raw_vocabulary, classifications,
               PROTO_CLASS_COUNT + 8),
    LIST_FIELD("caveats", CYAML_FLAG_OPTIONAL, raw_vocabulary, caveats, POLICY_CAVEATS_MAX + 8),
    LIST_FIELD("kinds", CYAML_FLAG_OPTIONAL, raw_vocabulary, kinds, POLICY_KINDS_MAX + 8),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t retention_fields[] = {
    STR_FIELD("id", CYAML_FLAG_DEFAULT, raw_retention, id),
    CYAML_FIELD_SEQUENCE("kinds", CYAML_FLAG_POINTER, raw_retention, kinds, &string_entry, 1, 64),
    LIST_FIELD("require", CYAML_FLAG_OPTIONAL, raw_retention, require, 64),
    STR_FIELD("keep", CYAML_FLAG_DEFAULT, raw_retention, keep),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t retention_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_retention, retention_fields),
};

static const cyaml_schema_field_t hold_fields[] = {
    STR_FIELD("id", CYAML_FLAG_DEFAULT, raw_hold, id),
    STR_FIELD("case", CYAML_FLAG_OPTIONAL, raw_hold, case_id),
    STR_FIELD("message", CYAML_FLAG_OPTIONAL, raw_hold, message),
    STR_FIELD("until", CYAML_FLAG_OPTIONAL, raw_hold, until),
    STR_FIELD("reason", CYAML_FLAG_DEFAULT, raw_hold, reason),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t hold_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_hold, hold_fields),
};

static const cyaml_schema_field_t policy_fields[] = {
    STR_FIELD("nation", CYAML_FLAG_DEFAULT, raw_policy, nation),
    CYAML_FIELD_STRING_PTR("description", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_policy,
                           description, 0, 4096),
    CYAML_FIELD_MAPPING_PTR("vocabulary", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_policy,
                            vocabulary, vocabulary_fields),
    CYAML_FIELD_SEQUENCE("treaties", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_policy,
                         treaties, &treaty_entry, 0, POLICY_TREATIES_MAX),
    CYAML_FIELD_SEQUENCE("partners", CYAML_FLAG_POINTER, raw_policy, partners, &partner_entry, 1,
                         POLICY_PARTNERS_MAX),
    CYAML_FIELD_SEQUENCE("rate_limits", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_policy,
                         rate_limits, &limit_entry, 0, POLICY_LIMITS_MAX),
    CYAML_FIELD_SEQUENCE("retention", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_policy,
                         retention, &retention_entry, 0, POLICY_RETENTION_MAX),
    CYAML_FIELD_SEQUENCE("holds", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL, raw_policy, holds,
                         &hold_entry, 0, POLICY_HOLDS_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t policy_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_policy, policy_fields),
};

/* What a policy file allows; yaml/ reads and refuses by it. */
static const liaison_yaml_spec policy_spec = {
    .noun = "a policy file",
    .file_noun = "a policy file",
    .size_max = POLICY_FILE_MAX,
    .nodes_max = POL_NODES_MAX,
};

/* ---- Errors ------------------------------------------------------------- */

void
pol_error_set(policy_load_error *err, uint32_t line, uint32_t column, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    err->line = line;
    err->column = column;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

void
pol_error_at(policy_load_error *err, const liaison_yaml_doc *doc, const char *path, bool at_key,
             const char *fmt, ...)
{
    const liaison_yaml_node *pos = liaison_yaml_find(doc, path);
    va_list ap;

    if (err == NULL)
        return;
    err->line = 0;
    err->column = 0;
    if (pos != NULL) {
        bool key = at_key && pos->key_line != 0;

        err->line = key ? pos->key_line : pos->line;
        err->column = key ? pos->key_column : pos->column;
    }
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

/* Turns what yaml/ refused into a policy error; the text keeps the one
 * message shape, "FIELD: what" after the position. */
static policy_err
yaml_refusal(liaison_yaml_err rc, const liaison_yaml_error *e, policy_load_error *err)
{
    switch (rc) {
    case LIAISON_YAML_ERR_NOMEM:
        return POLICY_ERR_NOMEM;
    case LIAISON_YAML_ERR_DOCUMENTS:
        pol_error_set(err, e->line, e->column,
                      "a second YAML document starts here; a policy or cases file is one YAML "
                      "document");
        return POLICY_ERR_SYNTAX;
    case LIAISON_YAML_ERR_DUPLICATE:
        pol_error_set(err, e->line, e->column, "field '%s' appears twice (first at line %u)",
                      e->key, e->first_line);
        return POLICY_ERR_SCHEMA;
    default:
        break;
    }
    if (e->field[0] != '\0')
        pol_error_set(err, e->line, e->column, "%s: %s", e->field, e->what);
    else
        pol_error_set(err, e->line, e->column, "%s", e->what);
    return rc == LIAISON_YAML_ERR_KEY  ? POLICY_ERR_SCHEMA
           : rc == LIAISON_YAML_ERR_IO ? POLICY_ERR_IO
           : liaison_yaml_err_limit(rc) ? POLICY_ERR_LIMIT
                                        : POLICY_ERR_SYNTAX;
}

/* ---- libcyaml's errors --------------------------------------------------- */

/* Removes the last ".field" or "[n]" of path. */
static void
path_parent(char *path)
{
    char *dot = strrchr(path, '.');
    char *br = strrchr(path, '[');
    char *cut = dot > br ? dot : br;

    if (cut != NULL)
        *cut = '\0';
    else
        path[0] = '\0';
}

static const char *
path_where(const char *path)
{
    return path[0] != '\0' ? path : "the top level";
}

/* Turns libcyaml's error into a message at the right position. */
static policy_err
cy_error(liaison_yaml_log *log, cyaml_err_t cerr, const liaison_yaml_doc *pp,
             policy_load_error *err)
{
    const char *m = log->message;
    char arg[128] = "";
    const char *colon = strchr(m, ':');

    if (cerr == CYAML_ERR_OOM)
        return POLICY_ERR_NOMEM;
    liaison_yaml_log_path(log);
    if (colon != NULL) {
        const char *a = colon + 1;

        while (*a == ' ')
            a++;
        snprintf(arg, sizeof(arg), "%s", a);
    }
    if (strncmp(m, "Unexpected key", 14) == 0) {
        char child[LIAISON_YAML_PATH_MAX + 160];

        snprintf(child, sizeof(child), "%s%s%s", log->path, log->path[0] ? "." : "", arg);
        /* The backtrace may stop at the last known field; find the key beside it. */
        if (liaison_yaml_find(pp, child) == NULL) {
            path_parent(log->path);
            snprintf(child, sizeof(child), "%s%s%s", log->path, log->path[0] ? "." : "", arg);
        }
        pol_error_at(err, pp, child, true, "unknown field '%s' in %s", arg,
                     path_where(log->path));
        if (err != NULL && err->line == 0)
            pol_error_set(err, log->line, log->column, "unknown field '%s'", arg);
        return POLICY_ERR_SCHEMA;
    }
    if (strncmp(m, "Missing required mapping field", 30) == 0) {
        if (log->entry_count > 0 && log->entries[0][0] == '.')
            path_parent(log->path);
        pol_error_at(err, pp, log->path, false, "missing required field '%s' in %s", arg,
                     path_where(log->path));
        if (err != NULL && err->line == 0)
            pol_error_set(err, log->line, log->column, "missing required field '%s'", arg);
        return POLICY_ERR_SCHEMA;
    }
    if (strncmp(m, "Expecting ", 10) == 0) {
        const char *want = strstr(m, "SEQUENCE") == m + 10  ? "a list ([a, b])"
                           : strstr(m, "MAPPING") == m + 10 ? "a mapping (key: value)"
                                                            : "a single value";
        const char *got = strstr(m, "got event: SCALAR") != NULL     ? "a single value"
                          : strstr(m, "got event: SEQUENCE") != NULL ? "a list"
                                                                     : "a mapping";

        pol_error_at(err, pp, log->path, false, "wrong type for %s: expected %s, got %s",
                     path_where(log->path), want, got);
        if (err != NULL && err->line == 0)
            pol_error_set(err, log->line, log->column, "wrong type: expected %s, got %s", want,
                          got);
        return POLICY_ERR_SCHEMA;
    }
    pol_error_at(err, pp, log->path, false, "wrong type or value for %s: %s",
                 path_where(log->path), log->message[0] != '\0' ? m : cyaml_strerror(cerr));
    if (err != NULL && err->line == 0)
        pol_error_set(err, log->line, log->column, "wrong type or value: %s",
                  log->message[0] != '\0' ? m : cyaml_strerror(cerr));
    return POLICY_ERR_SCHEMA;
}

/* ---- Loading ------------------------------------------------------------ */

policy_err
pol_yaml_load(const uint8_t *buf, size_t len, const liaison_yaml_spec *spec,
              const cyaml_schema_value_t *schema, void **data_out, liaison_yaml_doc *doc,
              const char *empty, policy_load_error *err)
{
    liaison_yaml_log log;
    liaison_yaml_error ye;
    cyaml_err_t cerr;
    liaison_yaml_err rc;

    rc = liaison_yaml_load((const char *)buf, len, spec, schema, data_out, doc, &log, &cerr, &ye);
    if (rc == LIAISON_YAML_ERR_SCHEMA && doc->count > 0)
        return cy_error(&log, cerr, doc, err);
    if (rc != LIAISON_YAML_OK && rc != LIAISON_YAML_ERR_SCHEMA)
        return yaml_refusal(rc, &ye, err);
    if (*data_out == NULL) {
        /* No document, or an empty one: libcyaml loads nothing. */
        pol_error_set(err, 1, 1, "%s", empty);
        return POLICY_ERR_SCHEMA;
    }
    return POLICY_OK;
}

policy_err
policy_load_buffer(const uint8_t *buf, size_t len, const char *name, policy **policy_out,
                   policy_load_error *err)
{
    liaison_yaml_doc doc;
    raw_policy *raw = NULL;
    policy *p = NULL;
    policy_err rc;

    memset(&doc, 0, sizeof(doc));
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->file, sizeof(err->file), "%s", name != NULL ? name : "<buffer>");
    }
    if (buf == NULL && len > 0)
        return POLICY_ERR_INVALID;
    if (len == 0 || buf == NULL) {
        pol_error_set(err, 1, 1, "policy file is empty");
        return POLICY_ERR_SCHEMA;
    }
    if (len <= POLICY_FILE_MAX && memchr(buf, '\0', len) != NULL) {
        pol_error_set(err, 0, 0, "policy file contains a NUL byte (is it a text file?)");
        return POLICY_ERR_SYNTAX;
    }
    rc = pol_yaml_load(buf, len, &policy_spec, &policy_schema, (void **)&raw, &doc,
                       "policy file is empty", err);
    if (rc != POLICY_OK)
        goto out;
    rc = pol_compile(raw, &doc, buf, len, &p, err);
    if (rc != POLICY_OK)
        goto out;
    *policy_out = p;
    p = NULL;
out:
    liaison_yaml_free(&policy_schema, raw);
    policy_destroy(&p);
    liaison_yaml_doc_clear(&doc);
    if (rc == POLICY_ERR_NOMEM && err != NULL && err->message[0] == '\0')
        pol_error_set(err, 0, 0, "out of memory");
    return rc;
}

policy_err
pol_yaml_read(const char *path, const liaison_yaml_spec *spec, const char *role, uint8_t **buf_out,
              size_t *len_out, policy_load_error *err)
{
    FILE *f = NULL;
    liaison_yaml_error ye;
    liaison_yaml_err yrc;
    policy_err rc = POLICY_OK;

    *buf_out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        pol_error_set(err, 0, 0, "cannot open: %s", strerror(errno));
        return errno == ENOENT ? POLICY_ERR_NOFILE : POLICY_ERR_IO;
    }
    if (role != NULL) {
        proto_detail d = {{0}, {0}};
        proto_err perr = proto_file_check_writers(fileno(f), path, role, &d);

        if (perr != PROTO_OK) {
            pol_error_set(err, 0, 0, "%s", d.text);
            rc = perr == PROTO_ERR_PERMISSION ? POLICY_ERR_PERMISSION : POLICY_ERR_IO;
            goto out;
        }
    }
    yrc = liaison_yaml_read(f, spec, (char **)buf_out, len_out, &ye);
    if (yrc != LIAISON_YAML_OK)
        rc = yaml_refusal(yrc, &ye, err);
out:
    fclose(f);
    return rc;
}

policy_err
policy_load(const char *path, policy **policy_out, policy_load_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    policy_err rc;

    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->file, sizeof(err->file), "%s", path);
    }
    /* The policy decides what leaves the nation: a file or directory others
     * can write would let them change it. */
    rc = pol_yaml_read(path, &policy_spec, "policy", &buf, &len, err);
    if (rc == POLICY_OK)
        rc = policy_load_buffer(buf, len, path, policy_out, err);
    free(buf);
    return rc;
}
