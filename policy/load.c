/* Reading policy files: libcyaml's schema, libyaml's marks for error positions. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

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
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t policy_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_policy, policy_fields),
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

const pol_pos *
pol_positions_find(const pol_positions *pp, const char *path)
{
    if (pp == NULL)
        return NULL;
    for (size_t i = 0; i < pp->count; i++) {
        if (strcmp(pp->items[i].path, path) == 0)
            return &pp->items[i];
    }
    return NULL;
}

void
pol_error_at(policy_load_error *err, const pol_positions *pp, const char *path, bool at_key,
             const char *fmt, ...)
{
    const pol_pos *pos = pol_positions_find(pp, path);
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

/* ---- Positions: a libyaml event pass ------------------------------------ */

typedef struct frame {
    bool mapping;              /* a mapping (else a sequence) */
    bool want_key;             /* mapping: the next node is a key */
    unsigned index;            /* sequence: index of the next item */
    size_t path_len;           /* length of this node's path */
    char key[128];             /* mapping: the pending key */
    uint32_t key_line;         /* mapping: where the pending key is */
    uint32_t key_column;       /* mapping: column of the pending key */
} frame;

void
pol_positions_free(pol_positions *pp)
{
    for (size_t i = 0; i < pp->count; i++)
        free(pp->items[i].path);
    free(pp->items);
    memset(pp, 0, sizeof(*pp));
}

static policy_err
positions_add(pol_positions *pp, const char *path, const frame *parent, uint32_t line,
              uint32_t column)
{
    pol_pos *pos;

    if (pp->count == pp->cap) {
        size_t cap = pp->cap == 0 ? 256 : pp->cap * 2;
        pol_pos *items = realloc(pp->items, cap * sizeof(*items));

        if (items == NULL)
            return POLICY_ERR_NOMEM;
        pp->items = items;
        pp->cap = cap;
    }
    pos = &pp->items[pp->count];
    pos->path = strdup(path);
    if (pos->path == NULL)
        return POLICY_ERR_NOMEM;
    pos->key_line = parent != NULL && parent->mapping ? parent->key_line : 0;
    pos->key_column = parent != NULL && parent->mapping ? parent->key_column : 0;
    pos->line = line;
    pos->column = column;
    pp->count++;
    return POLICY_OK;
}

/*
 * Walks the events of buf, recording the position of every node under its
 * path.  Refuses what libcyaml would misreport or what a policy never needs:
 * syntax errors (with libyaml's own mark), aliases, several documents,
 * non-scalar keys and deep nesting.
 */
policy_err
pol_positions_scan(const uint8_t *buf, size_t len, pol_positions *pp, policy_load_error *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    frame stack[DEPTH_MAX];
    size_t depth = 0;
    char path[PATH_MAX_LEN + 1] = "";
    unsigned documents = 0;
    bool done = false;
    policy_err rc = POLICY_OK;

    if (!yaml_parser_initialize(&parser))
        return POLICY_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, buf, len);
    while (!done) {
        uint32_t line, column;
        frame *top = depth > 0 ? &stack[depth - 1] : NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = POLICY_ERR_NOMEM;
            } else {
                pol_error_set(err, (uint32_t)parser.problem_mark.line + 1,
                          (uint32_t)parser.problem_mark.column + 1, "YAML syntax error: %s%s%s",
                          parser.problem != NULL ? parser.problem : "malformed document",
                          parser.context != NULL ? " " : "",
                          parser.context != NULL ? parser.context : "");
                rc = POLICY_ERR_SYNTAX;
            }
            break;
        }
        line = (uint32_t)ev.start_mark.line + 1;
        column = (uint32_t)ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                pol_error_set(err, line, column, "a policy file holds one YAML document, not several");
                rc = POLICY_ERR_SYNTAX;
            }
            break;
        case YAML_ALIAS_EVENT:
            pol_error_set(err, line, column, "YAML aliases (*name) are not allowed in a policy file");
            rc = POLICY_ERR_SYNTAX;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: {
            size_t base = top != NULL ? top->path_len : 0;
            int n = 0;

            if (top != NULL && top->mapping && top->want_key) {
                if (ev.type != YAML_SCALAR_EVENT) {
                    pol_error_set(err, line, column, "a mapping key must be a plain name");
                    rc = POLICY_ERR_SCHEMA;
                    break;
                }
                snprintf(top->key, sizeof(top->key), "%s", (const char *)ev.data.scalar.value);
                top->key_line = line;
                top->key_column = column;
                top->want_key = false;
                break;
            }
            path[base] = '\0';
            if (top != NULL && top->mapping) {
                n = snprintf(path + base, sizeof(path) - base, "%s%s", base > 0 ? "." : "",
                             top->key);
                top->want_key = true;
            } else if (top != NULL) {
                n = snprintf(path + base, sizeof(path) - base, "[%u]", top->index++);
            }
            if (n < 0 || (size_t)n >= sizeof(path) - base) {
                pol_error_set(err, line, column, "a key or path is too long");
                rc = POLICY_ERR_LIMIT;
                break;
            }
            rc = positions_add(pp, path, top, line, column);
            if (rc != POLICY_OK || ev.type == YAML_SCALAR_EVENT)
                break;
            if (depth == DEPTH_MAX) {
                pol_error_set(err, line, column, "nesting deeper than %u levels", DEPTH_MAX);
                rc = POLICY_ERR_LIMIT;
                break;
            }
            memset(&stack[depth], 0, sizeof(stack[depth]));
            stack[depth].mapping = ev.type == YAML_MAPPING_START_EVENT;
            stack[depth].want_key = true;
            stack[depth].path_len = strlen(path);
            depth++;
            break;
        }
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (rc != POLICY_OK)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* ---- libcyaml's log: the first error and its backtrace ------------------ */

void
pol_cy_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    cy_log *log = ctx;
    char line[PROTO_TEXT_MAX];
    const char *s = line;
    size_t n;

    if (level < CYAML_LOG_ERROR)
        return;
    vsnprintf(line, sizeof(line), fmt, args);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = '\0';
    if (strncmp(s, "Load: ", 6) == 0)
        s += 6;
    if (strcmp(s, "Backtrace:") == 0) {
        log->in_backtrace = true;
        return;
    }
    if (log->in_backtrace) {
        const char *q1, *q2, *lp;
        unsigned l = 0, c = 0;

        while (*s == ' ')
            s++;
        if (strncmp(s, "in ", 3) != 0 || log->entry_count == DEPTH_MAX)
            return;
        lp = strstr(s, "(line: ");
        if (lp != NULL && sscanf(lp, "(line: %u, column: %u)", &l, &c) == 2 &&
            log->entry_count == 0) {
            log->line = l;
            log->column = c;
        }
        q1 = strchr(s, '\'');
        q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
        if (strncmp(s, "in mapping field ", 17) == 0 && q1 != NULL && q2 != NULL)
            snprintf(log->entries[log->entry_count], sizeof(log->entries[0]), ".%.*s",
                     (int)(q2 - q1 - 1), q1 + 1);
        else if (strncmp(s, "in sequence entry ", 18) == 0 && q1 != NULL && q2 != NULL)
            snprintf(log->entries[log->entry_count], sizeof(log->entries[0]), "[%ld]",
                     strtol(q1 + 1, NULL, 10) - 1);
        else
            log->entries[log->entry_count][0] = '\0';
        log->entry_count++;
        return;
    }
    if (!log->have_message) {
        snprintf(log->message, sizeof(log->message), "%s", s);
        log->have_message = true;
    }
}

static void
cy_log_path(cy_log *log)
{
    size_t len = 0;

    log->path[0] = '\0';
    for (size_t i = log->entry_count; i-- > 0;) {
        const char *e = log->entries[i];
        int n;

        if (e[0] == '.' && len == 0)
            e++;
        n = snprintf(log->path + len, sizeof(log->path) - len, "%s", e);
        if (n < 0 || (size_t)n >= sizeof(log->path) - len)
            break;
        len += (size_t)n;
    }
}

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
policy_err
pol_cy_error(cy_log *log, cyaml_err_t cerr, const pol_positions *pp, policy_load_error *err)
{
    const char *m = log->message;
    char arg[128] = "";
    const char *colon = strchr(m, ':');

    if (cerr == CYAML_ERR_OOM)
        return POLICY_ERR_NOMEM;
    cy_log_path(log);
    if (colon != NULL) {
        const char *a = colon + 1;

        while (*a == ' ')
            a++;
        snprintf(arg, sizeof(arg), "%s", a);
    }
    if (strncmp(m, "Unexpected key", 14) == 0) {
        char child[PATH_MAX_LEN + 160];

        snprintf(child, sizeof(child), "%s%s%s", log->path, log->path[0] ? "." : "", arg);
        /* The backtrace may stop at the last known field; find the key beside it. */
        if (pol_positions_find(pp, child) == NULL) {
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
    if (strncmp(m, "Mapping field already seen", 26) == 0) {
        const pol_pos *first = pol_positions_find(pp, log->path);
        const pol_pos *second = NULL;

        for (size_t i = first != NULL ? (size_t)(first - pp->items) + 1 : pp->count;
             i < pp->count && second == NULL; i++) {
            if (strcmp(pp->items[i].path, log->path) == 0)
                second = &pp->items[i];
        }
        if (second != NULL)
            pol_error_set(err, second->key_line, second->key_column, "field '%s' appears twice",
                      arg);
        else
            pol_error_set(err, log->line, log->column, "field '%s' appears twice", arg);
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
                 path_where(log->path), log->have_message ? m : cyaml_strerror(cerr));
    if (err != NULL && err->line == 0)
        pol_error_set(err, log->line, log->column, "wrong type or value: %s",
                  log->have_message ? m : cyaml_strerror(cerr));
    return POLICY_ERR_SCHEMA;
}

/* ---- Loading ------------------------------------------------------------ */

policy_err
policy_load_buffer(const uint8_t *buf, size_t len, const char *name, policy **policy_out,
                   policy_load_error *err)
{
    pol_positions pp = {NULL, 0, 0};
    cy_log log;
    cyaml_config_t cfg;
    raw_policy *raw = NULL;
    policy *p = NULL;
    cyaml_err_t cerr;
    policy_err rc;

    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->file, sizeof(err->file), "%s", name != NULL ? name : "<buffer>");
    }
    if (buf == NULL && len > 0)
        return POLICY_ERR_INVALID;
    if (len > POLICY_FILE_MAX) {
        pol_error_set(err, 0, 0, "policy file has %zu bytes, at most %u allowed", len,
                  POLICY_FILE_MAX);
        return POLICY_ERR_LIMIT;
    }
    if (len == 0 || buf == NULL) {
        pol_error_set(err, 1, 1, "policy file is empty");
        return POLICY_ERR_SCHEMA;
    }
    if (memchr(buf, '\0', len) != NULL) {
        pol_error_set(err, 0, 0, "policy file contains a NUL byte (is it a text file?)");
        return POLICY_ERR_SYNTAX;
    }
    rc = pol_positions_scan(buf, len, &pp, err);
    if (rc != POLICY_OK)
        goto out;
    if (pp.count == 0 || pp.items[0].path[0] != '\0') {
        pol_error_set(err, 1, 1, "policy file is empty");
        rc = POLICY_ERR_SCHEMA;
        goto out;
    }
    memset(&log, 0, sizeof(log));
    memset(&cfg, 0, sizeof(cfg));
    cfg.log_fn = pol_cy_log_fn;
    cfg.log_ctx = &log;
    cfg.mem_fn = cyaml_mem;
    cfg.log_level = CYAML_LOG_ERROR;
    cfg.flags = CYAML_CFG_NO_ALIAS;
    cerr = cyaml_load_data(buf, len, &cfg, &policy_schema, (cyaml_data_t **)&raw, NULL);
    if (cerr != CYAML_OK) {
        raw = NULL;
        rc = pol_cy_error(&log, cerr, &pp, err);
        goto out;
    }
    if (raw == NULL) {
        pol_error_set(err, 1, 1, "policy file is empty");
        rc = POLICY_ERR_SCHEMA;
        goto out;
    }
    rc = pol_compile(raw, &pp, buf, len, &p, err);
    if (rc != POLICY_OK)
        goto out;
    *policy_out = p;
    p = NULL;
out:
    if (raw != NULL)
        cyaml_free(&cfg, &policy_schema, raw, 0);
    policy_destroy(&p);
    pol_positions_free(&pp);
    if (rc == POLICY_ERR_NOMEM && err != NULL && err->message[0] == '\0')
        pol_error_set(err, 0, 0, "out of memory");
    return rc;
}

policy_err
policy_load(const char *path, policy **policy_out, policy_load_error *err)
{
    FILE *f = NULL;
    uint8_t *buf = NULL;
    struct stat st;
    size_t got;
    policy_err rc;

    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        snprintf(err->file, sizeof(err->file), "%s", path);
    }
    f = fopen(path, "rb");
    if (f == NULL) {
        pol_error_set(err, 0, 0, "cannot open: %s", strerror(errno));
        rc = errno == ENOENT ? POLICY_ERR_NOFILE : POLICY_ERR_IO;
        goto out;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        pol_error_set(err, 0, 0, "not a regular file");
        rc = POLICY_ERR_IO;
        goto out;
    }
    /* The policy decides what leaves the nation: a file or directory others
     * can write would let them change it. */
    {
        proto_detail d = {{0}, {0}};
        proto_err perr = proto_file_check_writers(fileno(f), path, "policy", &d);

        if (perr != PROTO_OK) {
            pol_error_set(err, 0, 0, "%s", d.text);
            rc = perr == PROTO_ERR_PERMISSION ? POLICY_ERR_PERMISSION : POLICY_ERR_IO;
            goto out;
        }
    }
    if ((uint64_t)st.st_size > POLICY_FILE_MAX) {
        pol_error_set(err, 0, 0, "policy file has %lld bytes, at most %u allowed",
                  (long long)st.st_size, POLICY_FILE_MAX);
        rc = POLICY_ERR_LIMIT;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = POLICY_ERR_NOMEM;
        goto out;
    }
    got = fread(buf, 1, (size_t)st.st_size + 1, f);
    if (ferror(f) || got > (size_t)st.st_size) {
        pol_error_set(err, 0, 0, "cannot read (or the file changed while it was read)");
        rc = POLICY_ERR_IO;
        goto out;
    }
    rc = policy_load_buffer(buf, got, path, policy_out, err);
out:
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}
