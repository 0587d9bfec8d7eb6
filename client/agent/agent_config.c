/* The agent's configuration file: YAML read through a libcyaml schema, errors placed with libyaml's marks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include "agent.h"
#include "liaison_yaml.h"
#include "match.h"

/*
 * How it works (as broker/config.c does).  yaml/ (liaison_yaml_load) reads
 * the file: its libyaml pass records each node's position and refuses what
 * no Liaison file uses (aliases, several documents, repeated keys); the
 * check_node below refuses, as each node is recorded, what libcyaml would
 * take silently or place badly here: unknown fields and lists or mappings
 * where a value belongs.  libcyaml then loads the file through the schema,
 * and the checks after loading name their field by its recorded position.
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
    char *actor;          /* optional; the actor grammar */
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
    CYAML_FIELD_STRING_PTR("actor", OPT_STR, raw_config, actor, 0, TEXT_MAX),
    CYAML_FIELD_ENUM_PTR("log_level", CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT,
                         raw_config, log_level, level_strings, CYAML_ARRAY_LEN(level_strings)),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_config, config_fields),
};

/* ---- The load ------------------------------------------------------------------ */

#define NODES_MAX 4096u /* YAML nodes in one file, as for the broker's configuration */

/* What the configuration allows; yaml/ reads and refuses by it (load_buffer adds check_node). */
static const liaison_yaml_spec config_spec = {
    .noun = "a configuration",
    .file_noun = "a configuration file",
    .size_max = AGENT_CONFIG_MAX_BYTES,
    .nodes_max = NODES_MAX,
    .schema = &config_schema,
};

/* State of one load. */
typedef struct load_ctx {
    const char *file;                 /* the name used in messages */
    char base[AGENT_CONFIG_PATH_MAX]; /* directory relative paths resolve against */
    liaison_yaml_doc doc;             /* the nodes: the root mapping and its fields */
    agent_config_err refused;         /* what check_node refused the file with */
    agent_config_detail *detail;      /* where the error goes; never NULL */
} load_ctx;

static agent_config_err fail_pos(load_ctx *c, agent_config_err code, unsigned line, unsigned col,
                                 const char *field, const char *fmt, ...) PROTO_PRINTF(6, 7);

/* Records an error at line:col (0: unknown) on field (NULL: none); one line always. */
static agent_config_err
fail_pos(load_ctx *c, agent_config_err code, unsigned line, unsigned col, const char *field,
         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    liaison_yaml_detail_vset(c->detail, c->file, line, col, field, fmt, ap);
    va_end(ap);
    return code;
}

static agent_config_err fail_at(load_ctx *c, agent_config_err code, const char *key,
                                const char *fmt, ...) PROTO_PRINTF(4, 5);

/* Records an error on the value of top-level field key. */
static agent_config_err
fail_at(load_ctx *c, agent_config_err code, const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    liaison_yaml_detail_vat(c->detail, c->file, &c->doc, key, fmt, ap);
    va_end(ap);
    return code;
}

/*
 * The loader's check of each node as the libyaml pass records it: the
 * configuration is one mapping of known fields to single values, so what
 * libcyaml would take silently or place badly is refused here, in file order.
 */
static bool
check_node(void *ctx, const liaison_yaml_doc *doc, const liaison_yaml_node *n)
{
    load_ctx *c = ctx;
    char names[200], text[80];

    (void)doc;
    if (n->parent < 0 && n->kind != LIAISON_YAML_MAPPING) {
        bool empty = n->kind == LIAISON_YAML_SCALAR && n->text[0] == '\0' && !n->text_cut;

        c->refused = fail_pos(c, empty ? AGENT_CONFIG_ERR_MISSING_FIELD : AGENT_CONFIG_ERR_TYPE,
                              n->line, n->column, empty ? "key" : NULL, "%s",
                              empty ? "required field is missing (the configuration is empty)"
                                    : "a configuration is a mapping of 'field: value' lines");
        return false;
    }
    if (n->parent < 0)
        return true;
    if (n->unknown || n->key_cut) {
        liaison_yaml_schema_names(&config_schema, names, sizeof(names));
        c->refused = fail_pos(c, AGENT_CONFIG_ERR_UNKNOWN_FIELD, n->key_line, n->key_column, NULL,
                              "unknown field '%s' (known: %s)",
                              liaison_yaml_shown(n->key, text, sizeof(text)), names);
        return false;
    }
    if (n->kind != LIAISON_YAML_SCALAR) {
        c->refused = fail_pos(c, AGENT_CONFIG_ERR_TYPE, n->line, n->column, n->key,
                              "expected a single value, found %s",
                              n->kind == LIAISON_YAML_SEQUENCE ? "a list" : "a mapping");
        return false;
    }
    return true;
}

/* Our code for what yaml/ refused. */
static agent_config_err
yaml_code(liaison_yaml_err rc)
{
    return rc == LIAISON_YAML_ERR_NOMEM       ? AGENT_CONFIG_ERR_NOMEM
           : rc == LIAISON_YAML_ERR_DUPLICATE ? AGENT_CONFIG_ERR_DUPLICATE
           : liaison_yaml_err_limit(rc)       ? AGENT_CONFIG_ERR_TOO_LARGE
                                              : AGENT_CONFIG_ERR_SYNTAX;
}

/* Turns what the shared loader refused into our code and message. */
static agent_config_err
yaml_refusal(load_ctx *c, liaison_yaml_err rc, const liaison_yaml_error *e)
{
    if (rc == LIAISON_YAML_ERR_REFUSED)
        return c->refused;
    return fail_pos(c, yaml_code(rc), e->line, e->column, e->field, "%s", e->what);
}

/* ---- libcyaml's errors ------------------------------------------------------------ */

static agent_config_err
explain_cyaml(load_ctx *c, cyaml_err_t e, const liaison_yaml_log *cap)
{
    const liaison_yaml_node *root = &c->doc.nodes[0]; /* check_node saw a root mapping */
    const liaison_yaml_node *f;

    if (e == CYAML_ERR_OOM)
        return fail_pos(c, AGENT_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
    if (e == CYAML_ERR_MAPPING_FIELD_MISSING) {
        const char *name = strrchr(cap->message, ' ');

        return fail_pos(c, AGENT_CONFIG_ERR_MISSING_FIELD, root->line, root->column,
                        name != NULL ? name + 1 : NULL, "required field is missing");
    }
    f = liaison_yaml_find_at(&c->doc, cap->line, cap->column);
    if (f != NULL && strcmp(f->key, "log_level") == 0)
        return fail_pos(c, AGENT_CONFIG_ERR_INVALID, f->line, f->column, f->key,
                        "not one of: error, warn, info, debug");
    if (f != NULL && e == CYAML_ERR_STRING_LENGTH_MAX)
        return fail_pos(c, AGENT_CONFIG_ERR_INVALID, f->line, f->column, f->key, "too long");
    if (f != NULL)
        return fail_pos(c, AGENT_CONFIG_ERR_TYPE, f->line, f->column, f->key, "%s",
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

/* A required value: present and not empty. */
static agent_config_err
need(load_ctx *c, const char *key, const char *value)
{
    const liaison_yaml_node *f = liaison_yaml_find(&c->doc, key);

    if (f == NULL)
        return fail_pos(c, AGENT_CONFIG_ERR_MISSING_FIELD, c->doc.nodes[0].line,
                        c->doc.nodes[0].column, key,
                        "required field is missing");
    if (value == NULL || value[0] == '\0')
        return fail_at(c, AGENT_CONFIG_ERR_MISSING_FIELD, key, "has no value");
    return AGENT_CONFIG_OK;
}

/* Resolves a path field against the configuration's directory into *out. */
static agent_config_err
check_path(load_ctx *c, const char *key, const char *value, char **out)
{
    agent_config_err err = need(c, key, value);
    liaison_yaml_err rc;

    if (err != AGENT_CONFIG_OK)
        return err;
    if (memchr(value, '\n', strlen(value)) != NULL)
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, key, "a path cannot hold a line break");
    rc = liaison_yaml_resolve(c->base, value, AGENT_CONFIG_PATH_MAX, out);
    if (rc == LIAISON_YAML_ERR_PATH)
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, key,
                       "longer than %u bytes once resolved against %s",
                       AGENT_CONFIG_PATH_MAX - 1, c->base);
    return rc == LIAISON_YAML_OK ? AGENT_CONFIG_OK : nomem(c);
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
        *out = strdup(value);
        return *out != NULL ? AGENT_CONFIG_OK : nomem(c);
    }
    if (strncmp(value, "tcp://", 6) != 0)
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, "broker",
                       "'%s' is not an endpoint of the form tcp://HOST:PORT",
                       liaison_yaml_shown(value, text, sizeof(text)));
    colon = strrchr(value + 6, ':');
    port = colon != NULL ? colon + 1 : "";
    if (colon == NULL || colon == value + 6 || port[0] == '\0' || port[0] == '0' ||
        strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        (p = strtoul(port, NULL, 10)) < 1 || p > 65535 ||
        strspn(value + 6, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]") !=
            strlen(value + 6))
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, "broker",
                       "'%s' is not tcp://HOST:PORT with a port from 1 to 65535",
                       liaison_yaml_shown(value, text, sizeof(text)));
    *out = strdup(value);
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
                       liaison_yaml_shown(value, text, sizeof(text)));
    *out = strtod(value, NULL);
    if (*out < AGENT_THRESHOLD_MIN || *out > AGENT_THRESHOLD_MAX)
        return fail_at(c, AGENT_CONFIG_ERR_RANGE, "name_threshold",
                       "%s is out of range (%.2f .. %.2f)", liaison_yaml_shown(value, text, sizeof(text)),
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
                       liaison_yaml_shown(value, text, sizeof(text)), d.field, d.field[0] ? ": " : "", d.text);
    *out = strdup(value);
    return *out != NULL ? AGENT_CONFIG_OK : nomem(c);
}

static agent_config_err
check_actor(load_ctx *c, const char *value, char **out)
{
    char text[80];

    if (value == NULL)
        value = AGENT_ACTOR_DEFAULT;
    if (!proto_actor_valid(value))
        return fail_at(c, AGENT_CONFIG_ERR_INVALID, "actor",
                       "'%s' is not an actor: 1 to %u of A-Z a-z 0-9 . _ : @ - "
                       "(\"system:liaison-agent\")",
                       liaison_yaml_shown(value, text, sizeof(text)), PROTO_ACTOR_MAX);
    *out = strdup(value);
    return *out != NULL ? AGENT_CONFIG_OK : nomem(c);
}

static agent_config_err
build(load_ctx *c, const raw_config *raw, agent_config **cfg_out)
{
    agent_config *cfg = calloc(1, sizeof(*cfg));
    agent_config_err err;

    if (cfg == NULL || (cfg->source = strdup(c->file)) == NULL) {
        err = nomem(c);
        goto out;
    }
    if ((err = check_path(c, "key", raw->key, &cfg->key)) != AGENT_CONFIG_OK ||
        (err = check_path(c, "roster", raw->roster, &cfg->roster)) != AGENT_CONFIG_OK ||
        (err = check_broker(c, raw->broker, &cfg->broker)) != AGENT_CONFIG_OK ||
        (err = check_path(c, "store", raw->store, &cfg->store)) != AGENT_CONFIG_OK ||
        (err = check_threshold(c, raw->name_threshold, &cfg->name_threshold)) != AGENT_CONFIG_OK ||
        (err = check_labels(c, raw->answer_labels, &cfg->answer_labels)) != AGENT_CONFIG_OK ||
        (err = check_actor(c, raw->actor, &cfg->actor)) != AGENT_CONFIG_OK)
        goto out;
    cfg->log_level = raw->log_level != NULL ? (proto_log_level)*raw->log_level : PROTO_LOG_INFO;
    *cfg_out = cfg;
    cfg = NULL;
out:
    agent_config_destroy(&cfg);
    return err;
}

/* ---- Public functions ------------------------------------------------------------------ */

agent_config_err
agent_config_load_buffer(const char *text, size_t len, const char *path_for_messages,
                         agent_config **cfg_out, agent_config_detail *detail_r)
{
    agent_config_detail scratch;
    load_ctx c;
    liaison_yaml_spec spec = config_spec;
    liaison_yaml_log cap;
    liaison_yaml_error ye;
    raw_config *raw = NULL;
    cyaml_err_t e;
    liaison_yaml_err rc;
    agent_config_err err;

    memset(&c, 0, sizeof(c));
    spec.check = check_node;
    spec.check_ctx = &c;
    c.file = path_for_messages != NULL ? path_for_messages : "<config>";
    c.detail = detail_r != NULL ? detail_r : &scratch;
    memset(c.detail, 0, sizeof(*c.detail));
    liaison_yaml_base_dir(path_for_messages, c.base, sizeof(c.base));
    rc = liaison_yaml_load(text, len, &spec, &config_schema, (void **)&raw, &c.doc, &cap, &e, &ye);
    if (rc == LIAISON_YAML_ERR_SCHEMA && c.doc.count > 0) {
        err = explain_cyaml(&c, e, &cap);
        goto out;
    }
    if (rc != LIAISON_YAML_OK && rc != LIAISON_YAML_ERR_SCHEMA) {
        err = yaml_refusal(&c, rc, &ye);
        goto out;
    }
    if (raw == NULL) {
        /* No document, or an empty one: libcyaml loads nothing. */
        err = fail_pos(&c, AGENT_CONFIG_ERR_MISSING_FIELD, 1, 1, "key",
                       "required field is missing (the configuration is empty)");
        goto out;
    }
    err = build(&c, raw, cfg_out);
out:
    liaison_yaml_free(&config_schema, raw);
    liaison_yaml_doc_clear(&c.doc);
    return err;
}

agent_config_err
agent_config_load(const char *path, agent_config **cfg_out, agent_config_detail *detail_r)
{
    agent_config_detail scratch;
    agent_config_detail *d = detail_r != NULL ? detail_r : &scratch;
    agent_config_err err;
    liaison_yaml_error ye;
    liaison_yaml_err rc;
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
    rc = liaison_yaml_read(f, &config_spec, &buf, &len, &ye);
    if (rc != LIAISON_YAML_OK) {
        liaison_yaml_message(d->text, sizeof(d->text), path, 0, 0, NULL, ye.what);
        err = rc == LIAISON_YAML_ERR_IO ? AGENT_CONFIG_ERR_IO : yaml_code(rc);
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
    free(cfg->actor);
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
