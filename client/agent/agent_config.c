/* The agent's configuration file: YAML read through a libcyaml schema, errors placed with libyaml's marks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "agent.h"
#include "match.h"

/*
 * How it works (as broker/config.c does).  libcyaml 1.3 keeps no
 * positions, so a first pass with libyaml's event parser records each
 * top-level field (key and value positions, the value's kind and text),
 * refusing what libcyaml would take silently or place badly: unknown or
 * repeated fields, lists or mappings where a value belongs, aliases,
 * several documents.  libcyaml then loads the file through the schema, and
 * the checks after loading name their field by its recorded position.
 * Every message reads "FILE:LINE:COL: FIELD: what".
 */

/* ---- The schema -------------------------------------------------------------- */

/* The file as libcyaml loads it; NULL pointers are absent fields. */
typedef struct raw_config {
    char *key;            /* required */
    char *roster;         /* required */
    char *broker;         /* required */
    char *store;          /* required */
    char *name_threshold; /* optional; a decimal number, checked here */
    char *answer_labels;  /* optional */
    int *log_level;       /* optional; a proto_log_level */
} raw_config;

#define REQ_STR CYAML_FLAG_POINTER_NULL_STR
#define OPT_STR (CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL)
#define TEXT_MAX 4000u /* longest value libcyaml takes */

static const cyaml_strval_t level_strings[] = {
    {"error", PROTO_LOG_ERROR},
    {"warn", PROTO_LOG_WARN},
    {"info", PROTO_LOG_INFO},
    {"debug", PROTO_LOG_DEBUG},
};

static const cyaml_schema_field_t config_fields[] = {
    CYAML_FIELD_STRING_PTR("key", REQ_STR, raw_config, key, 0, TEXT_MAX),
    CYAML_FIELD_STRING_PTR("roster", REQ_STR, raw_config, roster, 0, TEXT_MAX),
    CYAML_FIELD_STRING_PTR("broker", REQ_STR, raw_config, broker, 0, TEXT_MAX),
    CYAML_FIELD_STRING_PTR("store", REQ_STR, raw_config, store, 0, TEXT_MAX),
    CYAML_FIELD_STRING_PTR("name_threshold", OPT_STR, raw_config, name_threshold, 0, 32),
    CYAML_FIELD_STRING_PTR("answer_labels", OPT_STR, raw_config, answer_labels, 0, TEXT_MAX),
    CYAML_FIELD_ENUM_PTR("log_level", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
                         raw_config, log_level, level_strings, CYAML_ARRAY_LEN(level_strings)),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_config, config_fields),
};

/* ---- Positions ------------------------------------------------------------------ */

#define FIELDS_MAX 16u /* top-level fields recorded; the schema has 7 */

/* One top-level field as the libyaml pass saw it. */
typedef struct field_pos {
    char key[32];       /* its name (a known field's: longer names are refused first) */
    unsigned key_line;  /* 1-based line of the key */
    unsigned key_col;   /* 1-based column of the key */
    unsigned line;      /* 1-based line of the value */
    unsigned col;       /* 1-based column of the value */
    bool scalar;        /* the value is a single value */
    bool null;          /* the value is empty or null */
} field_pos;

/* State of one load. */
typedef struct load_ctx {
    const char *file;                  /* the name used in messages */
    const char *text;                  /* the YAML */
    size_t len;                        /* bytes at text */
    char base[AGENT_CONFIG_PATH_MAX];  /* directory relative paths resolve against */
    field_pos fields[FIELDS_MAX];      /* the top-level fields, in file order */
    size_t field_count;                /* entries used */
    unsigned map_line;                 /* where the top-level mapping starts */
    unsigned map_col;                  /* its column */
    agent_config_detail *detail;       /* where the error goes; never NULL */
} load_ctx;

static void cut_printf(char *dst, size_t cap, const char *fmt, ...) PROTO_PRINTF(3, 4);

/* snprintf for text that may be cut on purpose (long paths, long messages). */
static void
cut_printf(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
}

static agent_config_err fail_pos(load_ctx *c, agent_config_err code, unsigned line, unsigned col,
                                 const char *field, const char *fmt, ...) PROTO_PRINTF(6, 7);

/* Records an error at line:col (0: unknown) on field (NULL: none); one line always. */
static agent_config_err
fail_pos(load_ctx *c, agent_config_err code, unsigned line, unsigned col, const char *field,
         const char *fmt, ...)
{
    agent_config_detail *d = c->detail;
    char what[400], where[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    d->line = line;
    d->column = col;
    cut_printf(d->field, sizeof(d->field), "%s", field != NULL ? field : "");
    if (line > 0)
        cut_printf(where, sizeof(where), "%s:%u:%u", c->file, line, col);
    else
        cut_printf(where, sizeof(where), "%s", c->file);
    if (d->field[0] != '\0')
        cut_printf(d->text, sizeof(d->text), "%s: %s: %s", where, d->field, what);
    else
        cut_printf(d->text, sizeof(d->text), "%s: %s", where, what);
    for (char *p = d->text; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    for (char *p = d->field; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return code;
}

static const field_pos *
find_field(const load_ctx *c, const char *key)
{
    for (size_t i = 0; i < c->field_count; i++) {
        if (strcmp(c->fields[i].key, key) == 0)
            return &c->fields[i];
    }
    return NULL;
}

static agent_config_err fail_at(load_ctx *c, agent_config_err code, const char *key,
                                const char *fmt, ...) PROTO_PRINTF(4, 5);

/* Records an error on the value of top-level field key. */
static agent_config_err
fail_at(load_ctx *c, agent_config_err code, const char *key, const char *fmt, ...)
{
    const field_pos *f = find_field(c, key);
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return fail_pos(c, code, f != NULL ? f->line : 0, f != NULL ? f->col : 0, key, "%s", what);
}

/* Text for a message: control bytes and quotes as '?', cut at 60 bytes. */
static const char *
shown(const char *text, char *buf, size_t buf_len)
{
    size_t n = 0;

    for (const char *p = text; *p != '\0' && n + 4 < buf_len; p++) {
        unsigned char ch = (unsigned char)*p;

        if (n >= 60) {
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        buf[n++] = (ch < 0x20 || ch == 0x7f || ch == '\'') ? '?' : (char)ch;
    }
    buf[n] = '\0';
    return buf;
}

static const char *
known_fields(void)
{
    return "key, roster, broker, store, name_threshold, answer_labels, log_level";
}

static bool
is_known(const char *key)
{
    for (const cyaml_schema_field_t *f = config_fields; f->key != NULL; f++) {
        if (strcmp(f->key, key) == 0)
            return true;
    }
    return false;
}

static agent_config_err
syntax_error(load_ctx *c, const yaml_parser_t *p)
{
    const char *problem = p->problem != NULL ? p->problem : "not well-formed";

    if (p->error == YAML_MEMORY_ERROR)
        return fail_pos(c, AGENT_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory reading YAML");
    if (p->error == YAML_READER_ERROR) {
        unsigned line = 1, col = 1;

        for (size_t i = 0; i < p->problem_offset && i < c->len; i++) {
            if (c->text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return fail_pos(c, AGENT_CONFIG_ERR_SYNTAX, line, col, NULL, "YAML syntax error: %s",
                        problem);
    }
    return fail_pos(c, AGENT_CONFIG_ERR_SYNTAX, (unsigned)p->problem_mark.line + 1,
                    (unsigned)p->problem_mark.column + 1, NULL, "YAML syntax error: %s", problem);
}

/* Records one top-level field's key (ev is its key scalar). */
static agent_config_err
on_key(load_ctx *c, const yaml_event_t *ev)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    char key[64], text[80];
    size_t n = ev->data.scalar.length;
    field_pos *f;

    if (n >= sizeof(key) || memchr(ev->data.scalar.value, '\0', n) != NULL) {
        memcpy(key, ev->data.scalar.value, n < sizeof(key) - 1 ? n : sizeof(key) - 1);
        key[n < sizeof(key) - 1 ? n : sizeof(key) - 1] = '\0';
        return fail_pos(c, AGENT_CONFIG_ERR_UNKNOWN_FIELD, line, col, NULL,
                        "unknown field '%s' (known: %s)", shown(key, text, sizeof(text)),
                        known_fields());
    }
    memcpy(key, ev->data.scalar.value, n);
    key[n] = '\0';
    if (!is_known(key))
        return fail_pos(c, AGENT_CONFIG_ERR_UNKNOWN_FIELD, line, col, NULL,
                        "unknown field '%s' (known: %s)", shown(key, text, sizeof(text)),
                        known_fields());
    for (size_t i = 0; i < c->field_count; i++) {
        if (strcmp(c->fields[i].key, key) == 0)
            return fail_pos(c, AGENT_CONFIG_ERR_DUPLICATE, line, col, key,
                            "given twice (first at line %u)", c->fields[i].key_line);
    }
    /* Known fields are distinct, so there are never more than the schema's. */
    f = &c->fields[c->field_count++];
    memset(f, 0, sizeof(*f));
    cut_printf(f->key, sizeof(f->key), "%s", key);
    f->key_line = line;
    f->key_col = col;
    return AGENT_CONFIG_OK;
}

/* The libyaml pass: top-level fields and their positions. */
static agent_config_err
map_positions(load_ctx *c)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    unsigned documents = 0, depth = 0;
    bool have_event = false, done = false, want_key = false, root_seen = false;
    field_pos *pending = NULL;
    agent_config_err err = AGENT_CONFIG_OK;

    if (!yaml_parser_initialize(&parser))
        return fail_pos(c, AGENT_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)c->text, c->len);
    while (!done) {
        unsigned line, col;

        if (!yaml_parser_parse(&parser, &ev)) {
            err = syntax_error(c, &parser);
            goto out;
        }
        have_event = true;
        line = (unsigned)ev.start_mark.line + 1;
        col = (unsigned)ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                err = fail_pos(c, AGENT_CONFIG_ERR_SYNTAX, line, col, NULL,
                               "a second YAML document starts here; a configuration is one document");
                goto out;
            }
            break;
        case YAML_ALIAS_EVENT:
            err = fail_pos(c, AGENT_CONFIG_ERR_SYNTAX, line, col, NULL,
                           "YAML aliases (*name) are not allowed in a configuration");
            goto out;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth == 0) {
                root_seen = true;
                if (ev.type != YAML_MAPPING_START_EVENT) {
                    bool empty = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0;

                    err = fail_pos(c, empty ? AGENT_CONFIG_ERR_MISSING_FIELD : AGENT_CONFIG_ERR_TYPE,
                                   line, col, empty ? "key" : NULL, "%s",
                                   empty ? "required field is missing (the configuration is empty)"
                                         : "a configuration is a mapping of 'field: value' lines");
                    goto out;
                }
                c->map_line = line;
                c->map_col = col;
                depth = 1;
                want_key = true;
                break;
            }
            if (depth == 1 && want_key) {
                if (ev.type != YAML_SCALAR_EVENT) {
                    err = fail_pos(c, AGENT_CONFIG_ERR_SYNTAX, line, col, NULL,
                                   "a field name must be a plain word, not a list or mapping");
                    goto out;
                }
                if ((err = on_key(c, &ev)) != AGENT_CONFIG_OK)
                    goto out;
                pending = &c->fields[c->field_count - 1];
                want_key = false;
                break;
            }
            if (depth == 1 && pending != NULL) {
                pending->line = line;
                pending->col = col;
                pending->scalar = ev.type == YAML_SCALAR_EVENT;
                pending->null = pending->scalar &&
                                (ev.data.scalar.length == 0 ||
                                 (ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                                  (strcmp((const char *)ev.data.scalar.value, "null") == 0 ||
                                   strcmp((const char *)ev.data.scalar.value, "~") == 0)));
                if (!pending->scalar) {
                    err = fail_pos(c, AGENT_CONFIG_ERR_TYPE, line, col, pending->key,
                                   "expected a single value, found %s",
                                   ev.type == YAML_SEQUENCE_START_EVENT ? "a list" : "a mapping");
                    goto out;
                }
                pending = NULL;
                want_key = true;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        have_event = false;
    }
    if (!root_seen)
        err = fail_pos(c, AGENT_CONFIG_ERR_MISSING_FIELD, 1, 1, "key",
                       "required field is missing (the configuration is empty)");
out:
    if (have_event)
        yaml_event_delete(&ev);
    yaml_parser_delete(&parser);
    return err;
}

/* ---- libcyaml's errors ------------------------------------------------------------ */

/* What libcyaml logged during one load. */
typedef struct cyaml_capture {
    char message[256];  /* its first error line, without "Load: " */
    unsigned line;      /* innermost backtrace position; 0 if none */
    unsigned column;    /* its column */
    bool in_backtrace;  /* the backtrace has begun */
} cyaml_capture;

static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
    PROTO_PRINTF(3, 0);

static void
capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    cyaml_capture *cap = ctx;
    char line[512];
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
    while (*s == ' ')
        s++;
    if (strncmp(s, "Backtrace:", 10) == 0) {
        cap->in_backtrace = true;
    } else if (cap->in_backtrace) {
        const char *pos = strstr(s, "(line: ");

        if (cap->line == 0 && pos != NULL &&
            sscanf(pos, "(line: %u, column: %u)", &cap->line, &cap->column) != 2)
            cap->line = 0;
    } else if (cap->message[0] == '\0') {
        cut_printf(cap->message, sizeof(cap->message), "%s", s);
    }
}

/* Turns a libcyaml failure into our error; the libyaml pass refused most
 * shapes already, so what is left are bad values of a known field. */
static agent_config_err
explain_cyaml(load_ctx *c, cyaml_err_t e, const cyaml_capture *cap)
{
    const field_pos *f = NULL;

    if (e == CYAML_ERR_OOM)
        return fail_pos(c, AGENT_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
    if (e == CYAML_ERR_MAPPING_FIELD_MISSING) {
        const char *name = strrchr(cap->message, ' ');

        return fail_pos(c, AGENT_CONFIG_ERR_MISSING_FIELD, c->map_line, c->map_col,
                        name != NULL ? name + 1 : NULL, "required field is missing");
    }
    for (size_t i = 0; i < c->field_count && cap->line > 0; i++) {
        if (c->fields[i].line == cap->line && c->fields[i].col == cap->column)
            f = &c->fields[i];
    }
    if (f != NULL && strcmp(f->key, "log_level") == 0)
        return fail_pos(c, AGENT_CONFIG_ERR_INVALID, f->line, f->col, f->key,
                        "not one of: error, warn, info, debug");
    if (f != NULL && e == CYAML_ERR_STRING_LENGTH_MAX)
        return fail_pos(c, AGENT_CONFIG_ERR_INVALID, f->line, f->col, f->key, "too long");
    if (f != NULL)
        return fail_pos(c, AGENT_CONFIG_ERR_TYPE, f->line, f->col, f->key, "%s",
                        cap->message[0] != '\0' ? cap->message : cyaml_strerror(e));
    return fail_pos(c, AGENT_CONFIG_ERR_INVALID, cap->line, cap->column, NULL, "%s",
                    cap->message[0] != '\0' ? cap->message : cyaml_strerror(e));
}

/* ---- Checks after loading ------------------------------------------------------------ */

static agent_config_err
nomem(load_ctx *c)
{
    return fail_pos(c, AGENT_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
}

static char *
dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* A required value: present and not empty. */
static agent_config_err
need(load_ctx *c, const char *key, const char *value)
{
    const field_pos *f = find_field(c, key);

    if (f == NULL)
        return fail_pos(c, AGENT_CONFIG_ERR_MISSING_FIELD, c->map_line, c->map_col, key,
                        "required field is missing");
    if (value == NULL || value[0] == '\0')
        return fail_at(c, AGENT_CONFIG_ERR_MISSING_FIELD, key, "has no value");
    return AGENT_CONFIG_OK;
}

/* Resolves a path field against the configuration's directory into *out. */
static agent_config_err
check_path(load_ctx *c, const char *key, const char *value, char **out)
{
    size_t base_len = strlen(c->base), len;
    agent_config_err err = need(c, key, value);

    if (err != AGENT_CONFIG_OK)
        return err;
    if (memchr(value, '\n', strlen(value)) != NULL)
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, key, "a path cannot hold a line break");
    if (value[0] == '/' || base_len == 0) {
        *out = dup_text(value);
        return *out != NULL ? AGENT_CONFIG_OK : nomem(c);
    }
    len = base_len + 1 + strlen(value) + 1;
    if (len > AGENT_CONFIG_PATH_MAX)
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, key,
                       "longer than %u bytes once resolved against %s",
                       AGENT_CONFIG_PATH_MAX - 1, c->base);
    *out = malloc(len);
    if (*out == NULL)
        return nomem(c);
    snprintf(*out, len, "%s%s%s", c->base, c->base[base_len - 1] == '/' ? "" : "/", value);
    return AGENT_CONFIG_OK;
}

/* "tcp://HOST:PORT" (port 1..65535) or "ipc://PATH". */
static agent_config_err
check_broker(load_ctx *c, const char *value, char **out)
{
    agent_config_err err = need(c, "broker", value);
    const char *colon, *port;
    char text[80];
    unsigned long p;

    if (err != AGENT_CONFIG_OK)
        return err;
    if (strncmp(value, "ipc://", 6) == 0 && value[6] != '\0') {
        *out = dup_text(value);
        return *out != NULL ? AGENT_CONFIG_OK : nomem(c);
    }
    if (strncmp(value, "tcp://", 6) != 0)
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, "broker",
                       "'%s' is not an endpoint of the form tcp://HOST:PORT",
                       shown(value, text, sizeof(text)));
    colon = strrchr(value + 6, ':');
    port = colon != NULL ? colon + 1 : "";
    if (colon == NULL || colon == value + 6 || port[0] == '\0' || port[0] == '0' ||
        strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        (p = strtoul(port, NULL, 10)) < 1 || p > 65535 ||
        strspn(value + 6, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]") !=
            strlen(value + 6))
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, "broker",
                       "'%s' is not tcp://HOST:PORT with a port from 1 to 65535",
                       shown(value, text, sizeof(text)));
    *out = dup_text(value);
    return *out != NULL ? AGENT_CONFIG_OK : nomem(c);
}

/* A plain decimal fraction: "0.88", "1", "1.0", ".9". */
static agent_config_err
check_threshold(load_ctx *c, const char *value, double *out)
{
    char text[80];
    size_t digits = strspn(value != NULL ? value : "", "0123456789");
    const char *rest = value != NULL ? value + digits : "";

    if (value == NULL) {
        *out = MATCH_DEFAULT_THRESHOLD;
        return AGENT_CONFIG_OK;
    }
    if (rest[0] == '.') {
        size_t frac = strspn(rest + 1, "0123456789");

        digits += frac;
        rest += 1 + frac;
    }
    if (digits == 0 || rest[0] != '\0' || strlen(value) > 12)
        return fail_at(c, AGENT_CONFIG_ERR_TYPE, "name_threshold",
                       "'%s' is not a decimal number such as 0.88",
                       shown(value, text, sizeof(text)));
    *out = strtod(value, NULL);
    if (*out < AGENT_THRESHOLD_MIN || *out > AGENT_THRESHOLD_MAX)
        return fail_at(c, AGENT_CONFIG_ERR_RANGE, "name_threshold",
                       "%s is out of range (%.2f .. %.2f)", shown(value, text, sizeof(text)),
                       AGENT_THRESHOLD_MIN, AGENT_THRESHOLD_MAX);
    return AGENT_CONFIG_OK;
}

static agent_config_err
check_labels(load_ctx *c, const char *value, char **out)
{
    proto_labels l;
    proto_detail d = {{0}, {0}};
    char text[80];

    if (value == NULL)
        return AGENT_CONFIG_OK;
    if (value[0] == '\0')
        return fail_at(c, AGENT_CONFIG_ERR_MISSING_FIELD, "answer_labels",
                       "has no value (leave the field out for the default)");
    if (proto_labels_parse(value, &l, &d) != PROTO_OK)
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, "answer_labels", "'%s' do not parse: %s%s%s",
                       shown(value, text, sizeof(text)), d.field, d.field[0] ? ": " : "", d.text);
    *out = dup_text(value);
    return *out != NULL ? AGENT_CONFIG_OK : nomem(c);
}

static agent_config_err
build(load_ctx *c, const raw_config *raw, agent_config **cfg_out)
{
    agent_config *cfg = calloc(1, sizeof(*cfg));
    agent_config_err err;

    if (cfg == NULL || (cfg->source = dup_text(c->file)) == NULL) {
        err = nomem(c);
        goto out;
    }
    if ((err = check_path(c, "key", raw->key, &cfg->key)) != AGENT_CONFIG_OK ||
        (err = check_path(c, "roster", raw->roster, &cfg->roster)) != AGENT_CONFIG_OK ||
        (err = check_broker(c, raw->broker, &cfg->broker)) != AGENT_CONFIG_OK ||
        (err = check_path(c, "store", raw->store, &cfg->store)) != AGENT_CONFIG_OK ||
        (err = check_threshold(c, raw->name_threshold, &cfg->name_threshold)) != AGENT_CONFIG_OK ||
        (err = check_labels(c, raw->answer_labels, &cfg->answer_labels)) != AGENT_CONFIG_OK)
        goto out;
    cfg->log_level = raw->log_level != NULL ? (proto_log_level)*raw->log_level : PROTO_LOG_INFO;
    *cfg_out = cfg;
    cfg = NULL;
out:
    agent_config_destroy(&cfg);
    return err;
}

/* The directory of file, absolute, into c->base ("" if it cannot be known). */
static void
set_base(load_ctx *c, const char *file)
{
    const char *slash = file != NULL ? strrchr(file, '/') : NULL;
    char cwd[AGENT_CONFIG_PATH_MAX];
    size_t dir_len;

    c->base[0] = '\0';
    if (slash != NULL && file[0] == '/') {
        dir_len = slash == file ? 1 : (size_t)(slash - file);
        if (dir_len < sizeof(c->base)) {
            memcpy(c->base, file, dir_len);
            c->base[dir_len] = '\0';
        }
        return;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return;
    if (slash == NULL) {
        snprintf(c->base, sizeof(c->base), "%s", cwd);
        return;
    }
    dir_len = (size_t)(slash - file);
    if (strlen(cwd) + 1 + dir_len >= sizeof(c->base))
        return;
    memcpy(c->base, cwd, strlen(cwd) + 1);
    if (strcmp(cwd, "/") != 0)
        strcat(c->base, "/");
    strncat(c->base, file, dir_len);
}

/* ---- Public functions ------------------------------------------------------------------ */

agent_config_err
agent_config_load_buffer(const char *text, size_t len, const char *path_for_messages,
                         agent_config **cfg_out, agent_config_detail *detail_r)
{
    agent_config_detail scratch;
    load_ctx c;
    cyaml_capture cap;
    cyaml_config_t cc;
    raw_config *raw = NULL;
    cyaml_err_t e;
    agent_config_err err;

    memset(&c, 0, sizeof(c));
    memset(&cap, 0, sizeof(cap));
    memset(&cc, 0, sizeof(cc));
    cc.log_fn = capture_log;
    cc.log_ctx = &cap;
    cc.mem_fn = cyaml_mem;
    cc.log_level = CYAML_LOG_ERROR;
    cc.flags = CYAML_CFG_NO_ALIAS;
    c.file = path_for_messages != NULL ? path_for_messages : "<config>";
    c.text = text != NULL ? text : "";
    c.len = text != NULL ? len : 0;
    c.detail = detail_r != NULL ? detail_r : &scratch;
    memset(c.detail, 0, sizeof(*c.detail));
    set_base(&c, path_for_messages);
    if (c.len > AGENT_CONFIG_MAX_BYTES) {
        err = fail_pos(&c, AGENT_CONFIG_ERR_TOO_LARGE, 0, 0, NULL,
                       "%zu bytes; a configuration file is at most %u", c.len,
                       AGENT_CONFIG_MAX_BYTES);
        goto out;
    }
    if ((err = map_positions(&c)) != AGENT_CONFIG_OK)
        goto out;
    e = cyaml_load_data((const uint8_t *)c.text, c.len, &cc, &config_schema,
                        (cyaml_data_t **)&raw, NULL);
    if (e != CYAML_OK) {
        err = explain_cyaml(&c, e, &cap);
        goto out;
    }
    if (raw == NULL) {
        err = fail_pos(&c, AGENT_CONFIG_ERR_MISSING_FIELD, 1, 1, "key",
                       "required field is missing (the configuration is empty)");
        goto out;
    }
    err = build(&c, raw, cfg_out);
out:
    if (raw != NULL)
        cyaml_free(&cc, &config_schema, raw, 0);
    return err;
}

agent_config_err
agent_config_load(const char *path, agent_config **cfg_out, agent_config_detail *detail_r)
{
    agent_config_detail scratch;
    agent_config_detail *d = detail_r != NULL ? detail_r : &scratch;
    agent_config_err err;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len;

    memset(d, 0, sizeof(*d));
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(d->text, sizeof(d->text), "%.300s: cannot open: %s", path, strerror(errno));
        err = AGENT_CONFIG_ERR_IO;
        goto out;
    }
    buf = malloc(AGENT_CONFIG_MAX_BYTES + 1);
    if (buf == NULL) {
        snprintf(d->text, sizeof(d->text), "%.300s: out of memory", path);
        err = AGENT_CONFIG_ERR_NOMEM;
        goto out;
    }
    len = fread(buf, 1, AGENT_CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(d->text, sizeof(d->text), "%.300s: cannot read: %s", path, strerror(errno));
        err = AGENT_CONFIG_ERR_IO;
        goto out;
    }
    if (len > AGENT_CONFIG_MAX_BYTES) {
        snprintf(d->text, sizeof(d->text), "%.300s: larger than %u bytes; not a configuration file",
                 path, AGENT_CONFIG_MAX_BYTES);
        err = AGENT_CONFIG_ERR_TOO_LARGE;
        goto out;
    }
    err = agent_config_load_buffer(buf, len, path, cfg_out, d);
out:
    free(buf);
    if (f != NULL)
        fclose(f);
    return err;
}

void
agent_config_destroy(agent_config **cfgp)
{
    agent_config *cfg;

    if (cfgp == NULL || *cfgp == NULL)
        return;
    cfg = *cfgp;
    free(cfg->source);
    free(cfg->key);
    free(cfg->roster);
    free(cfg->broker);
    free(cfg->store);
    free(cfg->answer_labels);
    free(cfg);
    *cfgp = NULL;
}

const char *
agent_config_strerror(agent_config_err code)
{
    switch (code) {
    case AGENT_CONFIG_OK: return "success";
    case AGENT_CONFIG_ERR_IO: return "configuration file cannot be read";
    case AGENT_CONFIG_ERR_TOO_LARGE: return "configuration is too large";
    case AGENT_CONFIG_ERR_SYNTAX: return "configuration is not well-formed YAML";
    case AGENT_CONFIG_ERR_UNKNOWN_FIELD: return "unknown configuration field";
    case AGENT_CONFIG_ERR_MISSING_FIELD: return "required configuration field is missing";
    case AGENT_CONFIG_ERR_TYPE: return "configuration value has the wrong type";
    case AGENT_CONFIG_ERR_RANGE: return "configuration value is out of range";
    case AGENT_CONFIG_ERR_INVALID: return "configuration value is invalid";
    case AGENT_CONFIG_ERR_DUPLICATE: return "configuration field given twice";
    case AGENT_CONFIG_ERR_NOMEM: return "out of memory";
    }
    return "unknown error";
}
