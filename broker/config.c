/* The broker's configuration file: YAML read through a libcyaml schema, checked with positions. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "config.h"

/*
 * How it works.  libcyaml loads the file into the raw_* structures below
 * and enforces the schema: known fields only, required fields present,
 * values of the right type.  libcyaml 1.3 keeps no positions, and the
 * positions in its log backtrace are those of the last event it read, so
 * a first pass with libyaml's event parser records every node of the
 * document (its YAML path, the line and column of its key and value, and
 * a scalar's text) in a node table.  A libcyaml error is then placed by
 * matching its code and message against that table, and the checks made
 * after loading (nations, endpoints, ranges, duplicate peers) look their
 * field up by path.  Every message reads "FILE:LINE:COL: FIELD: what".
 */

/* ---- The schema ---------------------------------------------------------- */

/* A peer as libcyaml loads it. */
typedef struct raw_peer {
    char *nation;   /* NULL if given as null or empty */
    char *endpoint; /* NULL if given as null or empty */
} raw_peer;

/* The limits block as libcyaml loads it; NULL pointers are absent fields. */
typedef struct raw_limits {
    uint64_t *max_message_bytes;      /* bytes */
    uint64_t *max_in_flight;          /* deliveries per agency */
    uint64_t *max_queue_depth;        /* messages per destination */
    uint64_t *max_pending_per_client; /* submits per connection */
} raw_limits;

/* The whole file as libcyaml loads it; NULL pointers are absent fields. */
typedef struct raw_config {
    char *nation;                      /* required */
    char *identity;                    /* required */
    char *roster;                      /* required */
    char *policy;                      /* required */
    char *data_dir;                    /* required */
    char *agency_endpoint;             /* required */
    char *federation_endpoint;         /* required */
    char *metrics_endpoint;            /* optional */
    raw_peer *peers;                   /* optional */
    unsigned peers_count;              /* entries at peers */
    raw_limits *limits;                /* optional */
    uint64_t *tree_head_interval_s;    /* optional */
    uint64_t *expiry_sweep_interval_s; /* optional */
    int *verify_signatures;            /* optional; 1 or 0 */
    uint64_t *verify_threads;          /* optional */
    int *log_level;                    /* optional; a proto_log_level */
} raw_config;

/* Strings may be null or empty in YAML; the loader then names the field. */
#define STR_FLAGS (CYAML_FLAG_POINTER_NULL_STR | CYAML_FLAG_OPTIONAL)
#define REQ_STR_FLAGS CYAML_FLAG_POINTER_NULL_STR
#define OPT_FLAGS (CYAML_FLAG_POINTER | CYAML_FLAG_OPTIONAL)
#define NATION_TEXT_MAX 64u /* longer is refused by libcyaml, shorter by our check */
#define NOT_A_NUMBER "is not a whole number (decimal digits, no sign or leading zero)"

static const cyaml_strval_t bool_strings[] = {
    {"true", 1}, {"false", 0}, {"True", 1}, {"False", 0}, {"TRUE", 1}, {"FALSE", 0},
};

static const cyaml_strval_t level_strings[] = {
    {"error", PROTO_LOG_ERROR},
    {"warn", PROTO_LOG_WARN},
    {"info", PROTO_LOG_INFO},
    {"debug", PROTO_LOG_DEBUG},
};

static const cyaml_schema_field_t peer_fields[] = {
    CYAML_FIELD_STRING_PTR("nation", REQ_STR_FLAGS, raw_peer, nation, 0, NATION_TEXT_MAX),
    CYAML_FIELD_STRING_PTR("endpoint", REQ_STR_FLAGS, raw_peer, endpoint, 0,
                           BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t peer_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, raw_peer, peer_fields),
};

static const cyaml_schema_field_t limits_fields[] = {
    CYAML_FIELD_UINT_PTR("max_message_bytes", OPT_FLAGS, raw_limits, max_message_bytes),
    CYAML_FIELD_UINT_PTR("max_in_flight", OPT_FLAGS, raw_limits, max_in_flight),
    CYAML_FIELD_UINT_PTR("max_queue_depth", OPT_FLAGS, raw_limits, max_queue_depth),
    CYAML_FIELD_UINT_PTR("max_pending_per_client", OPT_FLAGS, raw_limits, max_pending_per_client),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t config_fields[] = {
    CYAML_FIELD_STRING_PTR("nation", REQ_STR_FLAGS, raw_config, nation, 0, NATION_TEXT_MAX),
    CYAML_FIELD_STRING_PTR("identity", REQ_STR_FLAGS, raw_config, identity, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("roster", REQ_STR_FLAGS, raw_config, roster, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("policy", REQ_STR_FLAGS, raw_config, policy, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("data_dir", REQ_STR_FLAGS, raw_config, data_dir, 0,
                           BROKER_CONFIG_PATH_MAX - 1),
    CYAML_FIELD_STRING_PTR("agency_endpoint", REQ_STR_FLAGS, raw_config, agency_endpoint, 0,
                           BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_STRING_PTR("federation_endpoint", REQ_STR_FLAGS, raw_config, federation_endpoint,
                           0, BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_STRING_PTR("metrics_endpoint", STR_FLAGS, raw_config, metrics_endpoint, 0,
                           BROKER_CONFIG_ENDPOINT_MAX),
    CYAML_FIELD_SEQUENCE("peers", CYAML_FLAG_POINTER_NULL | CYAML_FLAG_OPTIONAL, raw_config, peers,
                         &peer_schema, 0, BROKER_CONFIG_PEERS_MAX),
    CYAML_FIELD_MAPPING_PTR("limits", CYAML_FLAG_POINTER_NULL | CYAML_FLAG_OPTIONAL, raw_config,
                            limits, limits_fields),
    CYAML_FIELD_UINT_PTR("tree_head_interval_s", OPT_FLAGS, raw_config, tree_head_interval_s),
    CYAML_FIELD_UINT_PTR("expiry_sweep_interval_s", OPT_FLAGS, raw_config, expiry_sweep_interval_s),
    CYAML_FIELD_ENUM_PTR("verify_signatures", OPT_FLAGS | CYAML_FLAG_STRICT, raw_config,
                         verify_signatures, bool_strings, CYAML_ARRAY_LEN(bool_strings)),
    CYAML_FIELD_UINT_PTR("verify_threads", OPT_FLAGS, raw_config, verify_threads),
    CYAML_FIELD_ENUM_PTR("log_level", OPT_FLAGS | CYAML_FLAG_STRICT, raw_config, log_level,
                         level_strings, CYAML_ARRAY_LEN(level_strings)),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t config_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, raw_config, config_fields),
};

/* ---- The node table ------------------------------------------------------ */

#define NODES_MAX 4096u   /* YAML nodes in one file; more is refused */
#define DEPTH_MAX 16u     /* nesting of lists and mappings; more is refused */
#define KEY_MAX 64u       /* bytes of a key kept, with the NUL */
#define PATH_TEXT_MAX 128u /* bytes of a path kept, with the NUL */
#define TEXT_MAX 72u      /* bytes of a scalar kept, with the NUL */

enum { NODE_SCALAR = 1, NODE_SEQUENCE = 2, NODE_MAPPING = 3 };

/* One node of the document, as the libyaml pass saw it. */
typedef struct node {
    int parent;                         /* index of the enclosing node; -1 for the root */
    unsigned char kind;                 /* NODE_SCALAR, NODE_SEQUENCE or NODE_MAPPING */
    bool unknown;                       /* its key is no field of the parent's schema */
    bool key_cut;                       /* key holds only the start of a long key */
    bool text_cut;                      /* text holds only the start of a long scalar */
    unsigned key_line;                  /* 1-based line of its key; 0 if it has none */
    unsigned key_col;                   /* 1-based column of its key; 0 if it has none */
    unsigned line;                      /* 1-based line where its value starts */
    unsigned col;                       /* 1-based column where its value starts */
    const cyaml_schema_value_t *schema; /* what the schema expects here; NULL if nothing */
    char key[KEY_MAX];                  /* its key in the parent mapping; "" otherwise */
    char path[PATH_TEXT_MAX];           /* "peers[1].nation"; "" for the root */
    char text[TEXT_MAX];                /* a scalar's text (the start of it when cut) */
} node;

/* An open list or mapping during the libyaml pass. */
typedef struct frame {
    int node;             /* index of the list or mapping node */
    bool is_map;          /* a mapping (else a list) */
    bool want_key;        /* mapping: the next node is a key */
    bool key_cut;         /* mapping: the pending key was cut */
    unsigned next_index;  /* list: index of the next entry */
    unsigned key_line;    /* mapping: 1-based line of the pending key */
    unsigned key_col;     /* mapping: 1-based column of the pending key */
    char key[KEY_MAX];    /* mapping: the pending key */
} frame;

/* State of one load. */
typedef struct load_ctx {
    const char *file;               /* the name used in messages */
    const char *text;               /* the YAML */
    size_t len;                     /* bytes at text */
    char base[BROKER_CONFIG_PATH_MAX]; /* directory relative paths are resolved against */
    node *nodes;                    /* the node table, in document order */
    size_t node_count;              /* nodes in use */
    size_t node_cap;                /* nodes allocated */
    broker_config_detail *detail;   /* where the error goes; never NULL */
} load_ctx;

/* ---- Messages ------------------------------------------------------------ */

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

static broker_config_err fail_pos(load_ctx *c, broker_config_err code, unsigned line,
                                  unsigned col, const char *field, const char *fmt, ...)
    PROTO_PRINTF(6, 7);

/* Records an error at line:col (0: unknown) on field (NULL or "": none). */
static broker_config_err
fail_pos(load_ctx *c, broker_config_err code, unsigned line, unsigned col, const char *field,
         const char *fmt, ...)
{
    broker_config_detail *d = c->detail;
    char what[512];
    char where[300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (field == NULL)
        field = "";
    d->line = line;
    d->column = col;
    snprintf(d->field, sizeof(d->field), "%s", field);
    if (line > 0)
        cut_printf(where, sizeof(where), "%s:%u:%u", c->file, line, col);
    else
        cut_printf(where, sizeof(where), "%s", c->file);
    if (field[0] != '\0')
        cut_printf(d->text, sizeof(d->text), "%s: %s: %s", where, field, what);
    else
        cut_printf(d->text, sizeof(d->text), "%s: %s", where, what);
    /* Keys and values may hold line breaks and control bytes; a message is one line. */
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

/* The node at path, or NULL. */
static const node *
find_node(const load_ctx *c, const char *path)
{
    for (size_t i = 0; i < c->node_count; i++) {
        if (strcmp(c->nodes[i].path, path) == 0)
            return &c->nodes[i];
    }
    return NULL;
}

static broker_config_err fail_at(load_ctx *c, broker_config_err code, const char *path,
                                 const char *fmt, ...) PROTO_PRINTF(4, 5);

/* Records an error on the value of the field at path. */
static broker_config_err
fail_at(load_ctx *c, broker_config_err code, const char *path, const char *fmt, ...)
{
    const node *n = find_node(c, path);
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return fail_pos(c, code, n != NULL ? n->line : 0, n != NULL ? n->col : 0, path, "%s", what);
}

/* Copies text for a message: quotes kept out, control bytes shown as '?',
 * and anything past 60 bytes cut with "...". */
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

/* ---- The libyaml pass ---------------------------------------------------- */

/* 1-based line and column of a byte offset (for reader errors). */
static void
offset_position(const load_ctx *c, size_t offset, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < c->len; i++) {
        if (c->text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static broker_config_err
syntax_error(load_ctx *c, const yaml_parser_t *p)
{
    const char *problem = p->problem != NULL ? p->problem : "not well-formed";
    unsigned line, col;

    if (p->error == YAML_MEMORY_ERROR)
        return fail_pos(c, BROKER_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory reading YAML");
    if (p->error == YAML_READER_ERROR) {
        offset_position(c, p->problem_offset, &line, &col);
        return fail_pos(c, BROKER_CONFIG_ERR_SYNTAX, line, col, NULL, "YAML syntax error: %s",
                        problem);
    }
    line = (unsigned)p->problem_mark.line + 1;
    col = (unsigned)p->problem_mark.column + 1;
    if (p->context != NULL)
        return fail_pos(c, BROKER_CONFIG_ERR_SYNTAX, line, col, NULL,
                        "YAML syntax error: %s (%s at %u:%u)", problem, p->context,
                        (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
    return fail_pos(c, BROKER_CONFIG_ERR_SYNTAX, line, col, NULL, "YAML syntax error: %s", problem);
}

/* The schema field named key of a mapping schema, or NULL. */
static const cyaml_schema_field_t *
schema_field(const cyaml_schema_value_t *schema, const char *key)
{
    if (schema == NULL || schema->type != CYAML_MAPPING)
        return NULL;
    for (const cyaml_schema_field_t *f = schema->mapping.fields; f->key != NULL; f++) {
        if (strcmp(f->key, key) == 0)
            return f;
    }
    return NULL;
}

/* Copies at most cap - 1 bytes of src (len bytes); returns true if cut. */
static bool
copy_cut(char *dst, size_t cap, const unsigned char *src, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;

    memcpy(dst, src, n);
    dst[n] = '\0';
    return n < len;
}

/* Records a node event (scalar, list or mapping start); keys go to the frame. */
static broker_config_err
on_node(load_ctx *c, frame *stack, size_t *depth, const yaml_event_t *ev)
{
    frame *top = *depth > 0 ? &stack[*depth - 1] : NULL;
    unsigned line = (unsigned)ev->start_mark.line + 1;
    unsigned col = (unsigned)ev->start_mark.column + 1;
    node *n;

    if (top != NULL && top->is_map && top->want_key) {
        if (ev->type != YAML_SCALAR_EVENT)
            return fail_pos(c, BROKER_CONFIG_ERR_SYNTAX, line, col, c->nodes[top->node].path,
                            "a field name must be a plain word, not a list or mapping");
        top->key_cut = copy_cut(top->key, sizeof(top->key), ev->data.scalar.value,
                                ev->data.scalar.length);
        top->key_line = line;
        top->key_col = col;
        top->want_key = false;
        return BROKER_CONFIG_OK;
    }
    if (c->node_count == NODES_MAX)
        return fail_pos(c, BROKER_CONFIG_ERR_TOO_LARGE, line, col, NULL,
                        "more than %u YAML nodes; a configuration is much smaller", NODES_MAX);
    if (c->node_count == c->node_cap) {
        size_t cap = c->node_cap == 0 ? 64 : c->node_cap * 2;
        node *grown = realloc(c->nodes, cap * sizeof(*grown));

        if (grown == NULL)
            return fail_pos(c, BROKER_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
        c->nodes = grown;
        c->node_cap = cap;
    }
    n = &c->nodes[c->node_count];
    memset(n, 0, sizeof(*n));
    n->line = line;
    n->col = col;
    n->kind = ev->type == YAML_SCALAR_EVENT     ? NODE_SCALAR
              : ev->type == YAML_SEQUENCE_START_EVENT ? NODE_SEQUENCE
                                                      : NODE_MAPPING;
    if (top == NULL) {
        n->parent = -1;
        n->schema = &config_schema;
    } else {
        const node *parent = &c->nodes[top->node];

        n->parent = top->node;
        if (top->is_map) {
            const cyaml_schema_field_t *f = schema_field(parent->schema, top->key);

            memcpy(n->key, top->key, sizeof(n->key));
            n->key_cut = top->key_cut;
            n->key_line = top->key_line;
            n->key_col = top->key_col;
            cut_printf(n->path, sizeof(n->path), "%s%s%s", parent->path,
                     parent->path[0] != '\0' ? "." : "", n->key);
            n->schema = f != NULL ? &f->value : NULL;
            n->unknown = f == NULL && parent->schema != NULL &&
                         parent->schema->type == CYAML_MAPPING;
            for (size_t i = 0; i < c->node_count; i++) {
                const node *o = &c->nodes[i];

                if (o->parent == n->parent && !o->key_cut && !n->key_cut &&
                    strcmp(o->key, n->key) == 0)
                    return fail_pos(c, BROKER_CONFIG_ERR_DUPLICATE, n->key_line, n->key_col,
                                    n->path, "given twice (first at line %u)", o->key_line);
            }
            top->want_key = true;
        } else {
            cut_printf(n->path, sizeof(n->path), "%s[%u]", parent->path, top->next_index++);
            if (parent->schema != NULL && parent->schema->type == CYAML_SEQUENCE)
                n->schema = parent->schema->sequence.entry;
        }
    }
    if (n->kind == NODE_SCALAR)
        n->text_cut = copy_cut(n->text, sizeof(n->text), ev->data.scalar.value,
                               ev->data.scalar.length);
    c->node_count++;
    if (n->kind != NODE_SCALAR) {
        frame *f;

        if (*depth == DEPTH_MAX)
            return fail_pos(c, BROKER_CONFIG_ERR_TOO_LARGE, line, col, n->path,
                            "nested deeper than %u levels", DEPTH_MAX);
        f = &stack[(*depth)++];
        memset(f, 0, sizeof(*f));
        f->node = (int)(c->node_count - 1);
        f->is_map = n->kind == NODE_MAPPING;
        f->want_key = f->is_map;
    }
    return BROKER_CONFIG_OK;
}

/* Builds the node table; refuses what libyaml refuses and YAML we do not take
 * (aliases, several documents, non-scalar or repeated keys). */
static broker_config_err
map_positions(load_ctx *c)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    frame stack[DEPTH_MAX];
    size_t depth = 0;
    unsigned documents = 0;
    bool have_event = false, done = false;
    broker_config_err err = BROKER_CONFIG_OK;

    if (!yaml_parser_initialize(&parser))
        return fail_pos(c, BROKER_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)c->text, c->len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            err = syntax_error(c, &parser);
            goto out;
        }
        have_event = true;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                err = fail_pos(c, BROKER_CONFIG_ERR_SYNTAX, (unsigned)ev.start_mark.line + 1,
                               (unsigned)ev.start_mark.column + 1, NULL,
                               "a second YAML document starts here; a configuration is one document");
                goto out;
            }
            break;
        case YAML_ALIAS_EVENT:
            err = fail_pos(c, BROKER_CONFIG_ERR_SYNTAX, (unsigned)ev.start_mark.line + 1,
                           (unsigned)ev.start_mark.column + 1, NULL,
                           "YAML aliases (*name) are not allowed in a configuration");
            goto out;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            err = on_node(c, stack, &depth, &ev);
            if (err != BROKER_CONFIG_OK)
                goto out;
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
out:
    if (have_event)
        yaml_event_delete(&ev);
    yaml_parser_delete(&parser);
    return err;
}

/* ---- libcyaml's errors --------------------------------------------------- */

/* What libcyaml logged during one load. */
typedef struct cyaml_capture {
    char message[256];  /* its first error line, without "Load: " */
    char field[64];     /* innermost field of its backtrace; "" if none */
    unsigned line;      /* innermost backtrace position; 0 if none */
    unsigned column;    /* innermost backtrace column */
    bool in_backtrace;  /* the backtrace has begun */
} cyaml_capture;

static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
    PROTO_PRINTF(3, 0);

/* libcyaml's log callback: keeps its first error line and backtrace position. */
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
        const char *name = strstr(s, "field '");

        if (cap->line == 0 && pos != NULL &&
            sscanf(pos, "(line: %u, column: %u)", &cap->line, &cap->column) != 2)
            cap->line = 0;
        if (cap->field[0] == '\0' && name != NULL) {
            const char *end = strchr(name + 7, '\'');
            size_t len = end != NULL ? (size_t)(end - (name + 7)) : 0;

            if (len >= sizeof(cap->field))
                len = sizeof(cap->field) - 1;
            memcpy(cap->field, name + 7, len);
            cap->field[len] = '\0';
        }
    } else if (cap->message[0] == '\0') {
        cut_printf(cap->message, sizeof(cap->message), "%s", s);
    }
}

/* "a, b, c": the keys of a mapping schema or the names of an enum. */
static void
schema_names(const cyaml_schema_value_t *schema, char *buf, size_t buf_len)
{
    size_t n = 0;

    buf[0] = '\0';
    if (schema->type == CYAML_MAPPING) {
        for (const cyaml_schema_field_t *f = schema->mapping.fields; f->key != NULL; f++)
            n += (size_t)snprintf(buf + n, n < buf_len ? buf_len - n : 0, "%s%s",
                                  n > 0 ? ", " : "", f->key);
    } else if (schema->type == CYAML_ENUM) {
        for (uint32_t i = 0; i < schema->enumeration.count; i++)
            n += (size_t)snprintf(buf + n, n < buf_len ? buf_len - n : 0, "%s%s",
                                  n > 0 ? ", " : "", schema->enumeration.strings[i].str);
    }
}

static const char *
kind_name(unsigned char kind)
{
    return kind == NODE_SEQUENCE ? "a list" : kind == NODE_MAPPING ? "a mapping" : "a single value";
}

/* True if text is a plain decimal number: digits, no sign, no leading zero. */
static bool
is_decimal(const char *text, bool cut)
{
    if (cut || text[0] == '\0' || (text[0] == '0' && text[1] != '\0'))
        return false;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
    }
    return true;
}

/* Explains a value libcyaml refused at node n. */
static broker_config_err
explain_value(load_ctx *c, const node *n, cyaml_err_t e, const cyaml_capture *cap)
{
    const cyaml_schema_value_t *s = n->schema;
    char names[400], text[80];
    bool want_scalar;

    if (s == NULL)
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->col, n->path, "%s", cap->message);
    want_scalar = s->type != CYAML_MAPPING && s->type != CYAML_SEQUENCE;
    if ((s->type == CYAML_MAPPING && n->kind != NODE_MAPPING) ||
        (s->type == CYAML_SEQUENCE && n->kind != NODE_SEQUENCE) ||
        (want_scalar && n->kind != NODE_SCALAR)) {
        const char *want = s->type == CYAML_MAPPING    ? "a mapping of fields"
                           : s->type == CYAML_SEQUENCE ? "a list"
                           : s->type == CYAML_UINT     ? "a whole number"
                           : s->type == CYAML_ENUM     ? "a single value"
                                                       : "a string";
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->col, n->path,
                        "expected %s, found %s", want, kind_name(n->kind));
    }
    shown(n->text, text, sizeof(text));
    switch (s->type) {
    case CYAML_UINT:
        if (n->text[0] != '\0' && strspn(n->text, "0123456789") == strlen(n->text))
            return fail_pos(c, BROKER_CONFIG_ERR_RANGE, n->line, n->col, n->path,
                            "'%s' is too large", text);
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->col, n->path, "'%s' %s", text,
                        NOT_A_NUMBER);
    case CYAML_ENUM:
        if (s->enumeration.strings == bool_strings)
            return fail_pos(c, BROKER_CONFIG_ERR_TYPE, n->line, n->col, n->path,
                            "'%s' is not true or false", text);
        schema_names(s, names, sizeof(names));
        return fail_pos(c, BROKER_CONFIG_ERR_INVALID, n->line, n->col, n->path,
                        "'%s' is not one of: %s", text, names);
    case CYAML_STRING:
        if (e == CYAML_ERR_STRING_LENGTH_MIN)
            return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, n->line, n->col, n->path,
                            "has no value");
        if (e == CYAML_ERR_STRING_LENGTH_MAX)
            return fail_pos(c, BROKER_CONFIG_ERR_INVALID, n->line, n->col, n->path,
                            "longer than %u characters", s->string.max);
        break;
    default:
        break;
    }
    return fail_pos(c, BROKER_CONFIG_ERR_INVALID, n->line, n->col, n->path, "%s", cap->message);
}

/* The first mapping (document order) that lacks required field name. */
static const node *
find_missing(const load_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->node_count; i++) {
        const node *m = &c->nodes[i];
        const cyaml_schema_field_t *f;
        bool has = false;

        if (m->kind != NODE_MAPPING || (f = schema_field(m->schema, name)) == NULL ||
            (f->value.flags & CYAML_FLAG_OPTIONAL))
            continue;
        for (size_t j = i + 1; j < c->node_count && !has; j++)
            has = c->nodes[j].parent == (int)i && strcmp(c->nodes[j].key, name) == 0;
        if (!has)
            return m;
    }
    return NULL;
}

/* Turns a libcyaml failure into our error, placed with the node table. */
static broker_config_err
explain_cyaml(load_ctx *c, cyaml_err_t e, const cyaml_capture *cap)
{
    char names[400], path[PATH_TEXT_MAX];
    const node *n = NULL;

    if (e == CYAML_ERR_OOM)
        return fail_pos(c, BROKER_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
    if (c->node_count > 0 && c->nodes[0].kind == NODE_SCALAR && c->nodes[0].text[0] == '\0')
        return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, 1, 1, "nation",
                        "required field is missing (the configuration is empty)");
    if (c->node_count > 0 && c->nodes[0].kind != NODE_MAPPING)
        return fail_pos(c, BROKER_CONFIG_ERR_TYPE, c->nodes[0].line, c->nodes[0].col, NULL,
                        "a configuration is a mapping of 'field: value' lines, not %s",
                        kind_name(c->nodes[0].kind));
    if (e == CYAML_ERR_INVALID_KEY) {
        for (size_t i = 0; i < c->node_count && n == NULL; i++) {
            if (c->nodes[i].unknown)
                n = &c->nodes[i];
        }
        if (n != NULL) {
            schema_names(c->nodes[n->parent].schema, names, sizeof(names));
            return fail_pos(c, BROKER_CONFIG_ERR_UNKNOWN_FIELD, n->key_line, n->key_col, n->path,
                            "unknown field (known here: %s)", names);
        }
        return fail_pos(c, BROKER_CONFIG_ERR_UNKNOWN_FIELD, cap->line, cap->column, cap->field,
                        "%s", cap->message);
    }
    if (e == CYAML_ERR_MAPPING_FIELD_MISSING) {
        const char *name = strrchr(cap->message, ' ');

        name = name != NULL ? name + 1 : "";
        n = find_missing(c, name);
        if (n != NULL) {
            cut_printf(path, sizeof(path), "%s%s%s", n->path, n->path[0] != '\0' ? "." : "", name);
            return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, n->line, n->col, path,
                            "required field is missing");
        }
        return fail_pos(c, BROKER_CONFIG_ERR_MISSING_FIELD, 0, 0, name, "required field is missing");
    }
    if (cap->line > 0) {
        for (size_t i = 0; i < c->node_count; i++) {
            if (c->nodes[i].line == cap->line && c->nodes[i].col == cap->column)
                n = &c->nodes[i];
        }
    }
    if (n != NULL && e == CYAML_ERR_SEQUENCE_ENTRIES_MAX && n->parent >= 0)
        return fail_pos(c, BROKER_CONFIG_ERR_RANGE, n->line, n->col, c->nodes[n->parent].path,
                        "more than %u entries", c->nodes[n->parent].schema != NULL
                                                    ? c->nodes[n->parent].schema->sequence.max
                                                    : 0u);
    if (n != NULL)
        return explain_value(c, n, e, cap);
    return fail_pos(c, e == CYAML_ERR_ALIAS || e == CYAML_ERR_LIBYAML_PARSER ? BROKER_CONFIG_ERR_SYNTAX
                                                                             : BROKER_CONFIG_ERR_INVALID,
                    cap->line, cap->column, cap->field, "%s",
                    cap->message[0] != '\0' ? cap->message : cyaml_strerror(e));
}

/* ---- Checks after loading ------------------------------------------------ */

/* A copy of s, or NULL (the caller reports NOMEM). */
static char *
dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static broker_config_err
nomem(load_ctx *c)
{
    return fail_pos(c, BROKER_CONFIG_ERR_NOMEM, 0, 0, NULL, "out of memory");
}

static broker_config_err
check_nation(load_ctx *c, const char *path, const char *value, char out[PROTO_NATION_LEN + 1])
{
    char text[80];

    if (value == NULL)
        return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, path, "has no value");
    if (!proto_nation_valid(value))
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                       "'%s' is not an upper-case ISO 3166 alpha-3 code", shown(value, text, sizeof(text)));
    memcpy(out, value, PROTO_NATION_LEN + 1);
    return BROKER_CONFIG_OK;
}

/* Resolves a path field against the configuration's directory into *out. */
static broker_config_err
check_path(load_ctx *c, const char *path, const char *value, char **out)
{
    size_t base_len = strlen(c->base), len;
    bool slash;

    if (value == NULL)
        return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, path, "has no value");
    if (value[0] == '/' || c->base[0] == '\0') {
        *out = dup_text(value);
        return *out != NULL ? BROKER_CONFIG_OK : nomem(c);
    }
    slash = base_len > 0 && c->base[base_len - 1] == '/';
    len = base_len + (slash ? 0 : 1) + strlen(value) + 1;
    if (len > BROKER_CONFIG_PATH_MAX)
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                       "longer than %u bytes once resolved against %s", BROKER_CONFIG_PATH_MAX - 1,
                       c->base);
    *out = malloc(len);
    if (*out == NULL)
        return nomem(c);
    snprintf(*out, len, "%s%s%s", c->base, slash ? "" : "/", value);
    return BROKER_CONFIG_OK;
}

bool
broker_config_split_hostport(const char *text, char *host, size_t host_len, uint16_t *port_out,
                             char *why, size_t why_len)
{
    const char *colon, *h = text, *p;
    size_t hlen;
    unsigned long port = 0;
    unsigned char addr[16];

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL) {
            snprintf(why, why_len, "an IPv6 address in brackets lacks its ']'");
            return false;
        }
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
        if (*colon != ':') {
            snprintf(why, why_len, "missing ':PORT' after the address");
            return false;
        }
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(why, why_len, "missing ':PORT'");
            return false;
        }
        hlen = (size_t)(colon - text);
        if (memchr(text, ':', hlen) != NULL) {
            snprintf(why, why_len, "an IPv6 address must be written in brackets, [::1]:PORT");
            return false;
        }
    }
    if (hlen == 0) {
        snprintf(why, why_len, "missing HOST before ':PORT'");
        return false;
    }
    if (hlen >= host_len || hlen > 253) {
        snprintf(why, why_len, "the host is too long");
        return false;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (text[0] == '[') {
        if (inet_pton(AF_INET6, host, addr) != 1) {
            snprintf(why, why_len, "'%s' is not an IPv6 address", host);
            return false;
        }
    } else if (strcmp(host, "*") != 0) {
        bool numeric = strspn(host, "0123456789.") == hlen;

        if (strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != hlen ||
            host[0] == '-' || host[0] == '.') {
            snprintf(why, why_len, "the host is not an address or a host name");
            return false;
        }
        if (numeric && inet_pton(AF_INET, host, addr) != 1) {
            snprintf(why, why_len, "'%s' is not an IPv4 address", host);
            return false;
        }
    }
    p = colon + 1;
    if (p[0] == '\0' || p[0] == '0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5) {
        snprintf(why, why_len, "the port must be a number from 1 to 65535");
        return false;
    }
    port = strtoul(p, NULL, 10);
    if (port < 1 || port > 65535) {
        snprintf(why, why_len, "the port must be a number from 1 to 65535");
        return false;
    }
    *port_out = (uint16_t)port;
    return true;
}

/* An endpoint as parsed for the overlap check. */
typedef struct endpoint {
    char host[256];  /* without brackets */
    uint16_t port;   /* 1 .. 65535 */
} endpoint;

/* Checks "tcp://HOST:PORT" (tcp) or "HOST:PORT"; a peer's may not be "*". */
static broker_config_err
check_endpoint(load_ctx *c, const char *path, const char *value, bool tcp, bool bind,
               char **out, endpoint *ep)
{
    char why[160], text[80];
    const char *rest = value;

    if (value == NULL)
        return fail_at(c, BROKER_CONFIG_ERR_MISSING_FIELD, path, "has no value");
    if (tcp) {
        if (strncmp(value, "tcp://", 6) != 0)
            return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                           "'%s' is not an endpoint of the form tcp://HOST:PORT",
                           shown(value, text, sizeof(text)));
        rest = value + 6;
    }
    if (!broker_config_split_hostport(rest, ep->host, sizeof(ep->host), &ep->port, why, sizeof(why)))
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path, "'%s' is not %s: %s",
                       shown(value, text, sizeof(text)), tcp ? "tcp://HOST:PORT" : "HOST:PORT", why);
    if (!bind && strcmp(ep->host, "*") == 0)
        return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                       "'%s' names no host; '*' is only for endpoints this broker binds",
                       shown(value, text, sizeof(text)));
    *out = dup_text(value);
    return *out != NULL ? BROKER_CONFIG_OK : nomem(c);
}

static bool
wildcard(const char *host)
{
    return strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* True if two endpoints this broker binds would take the same port. */
static bool
overlap(const endpoint *a, const endpoint *b)
{
    return a->port == b->port &&
           (strcmp(a->host, b->host) == 0 || wildcard(a->host) || wildcard(b->host));
}

/* Checks an optional whole number at path against min .. max; absent gives dflt. */
static broker_config_err
check_uint(load_ctx *c, const char *path, const uint64_t *value, uint64_t min, uint64_t max,
           uint64_t dflt, uint64_t *out)
{
    const node *n;
    char text[80];

    if (value == NULL) {
        *out = dflt;
        return BROKER_CONFIG_OK;
    }
    /* libcyaml reads integers with strtoull, which also takes "-1", "12abc",
     * "0x10" and "1.5"; only plain decimal digits are a number here. */
    n = find_node(c, path);
    if (n != NULL && !is_decimal(n->text, n->text_cut))
        return fail_at(c, BROKER_CONFIG_ERR_TYPE, path, "'%s' %s", shown(n->text, text, sizeof(text)),
                       NOT_A_NUMBER);
    if (*value < min || *value > max)
        return fail_at(c, BROKER_CONFIG_ERR_RANGE, path, "%llu is out of range (%llu .. %llu)",
                       (unsigned long long)*value, (unsigned long long)min,
                       (unsigned long long)max);
    *out = *value;
    return BROKER_CONFIG_OK;
}

static broker_config_err
check_peers(load_ctx *c, const raw_config *raw, broker_config *cfg)
{
    broker_config_err err;
    char path[64], text[80];
    endpoint ep;

    if (raw->peers_count == 0)
        return BROKER_CONFIG_OK;
    cfg->peers = calloc(raw->peers_count, sizeof(*cfg->peers));
    if (cfg->peers == NULL)
        return nomem(c);
    cfg->peer_count = raw->peers_count;
    for (unsigned i = 0; i < raw->peers_count; i++) {
        broker_config_peer *p = &cfg->peers[i];

        snprintf(path, sizeof(path), "peers[%u].nation", i);
        err = check_nation(c, path, raw->peers[i].nation, p->nation);
        if (err != BROKER_CONFIG_OK)
            return err;
        if (strcmp(p->nation, cfg->nation) == 0)
            return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                           "'%s' is this broker's own nation; a broker does not peer with itself",
                           p->nation);
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(cfg->peers[j].nation, p->nation) == 0) {
                char first[64];
                const node *n;

                snprintf(first, sizeof(first), "peers[%u].nation", j);
                n = find_node(c, first);
                return fail_at(c, BROKER_CONFIG_ERR_DUPLICATE, path,
                               "'%s' is listed twice (first as %s, line %u)", p->nation, first,
                               n != NULL ? n->line : 0);
            }
        }
        snprintf(path, sizeof(path), "peers[%u].endpoint", i);
        err = check_endpoint(c, path, raw->peers[i].endpoint, true, false, &p->endpoint, &ep);
        if (err != BROKER_CONFIG_OK)
            return err;
        if (strcmp(p->endpoint, cfg->federation_endpoint) == 0)
            return fail_at(c, BROKER_CONFIG_ERR_INVALID, path,
                           "'%s' is this broker's own federation_endpoint",
                           shown(p->endpoint, text, sizeof(text)));
    }
    return BROKER_CONFIG_OK;
}

/* Turns the loaded raw configuration into a checked broker_config. */
static broker_config_err
build(load_ctx *c, const raw_config *raw, broker_config **cfg_out)
{
    broker_config *cfg = NULL;
    const raw_limits none = {0};
    const raw_limits *lim = raw->limits != NULL ? raw->limits : &none;
    endpoint agency, federation, metrics;
    broker_config_err err;
    uint64_t v;
    char text[80];

    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL) {
        err = nomem(c);
        goto out;
    }
    cfg->source = dup_text(c->file);
    if (cfg->source == NULL) {
        err = nomem(c);
        goto out;
    }
    if ((err = check_nation(c, "nation", raw->nation, cfg->nation)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "identity", raw->identity, &cfg->identity)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "roster", raw->roster, &cfg->roster)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "policy", raw->policy, &cfg->policy)) != BROKER_CONFIG_OK ||
        (err = check_path(c, "data_dir", raw->data_dir, &cfg->data_dir)) != BROKER_CONFIG_OK ||
        (err = check_endpoint(c, "agency_endpoint", raw->agency_endpoint, true, true,
                              &cfg->agency_endpoint, &agency)) != BROKER_CONFIG_OK ||
        (err = check_endpoint(c, "federation_endpoint", raw->federation_endpoint, true, true,
                              &cfg->federation_endpoint, &federation)) != BROKER_CONFIG_OK)
        goto out;
    if (overlap(&agency, &federation)) {
        err = fail_at(c, BROKER_CONFIG_ERR_INVALID, "federation_endpoint",
                      "'%s' takes the same port as agency_endpoint",
                      shown(cfg->federation_endpoint, text, sizeof(text)));
        goto out;
    }
    if (raw->metrics_endpoint != NULL) {
        err = check_endpoint(c, "metrics_endpoint", raw->metrics_endpoint, false, true,
                             &cfg->metrics_endpoint, &metrics);
        if (err != BROKER_CONFIG_OK)
            goto out;
        if (overlap(&metrics, &agency) || overlap(&metrics, &federation)) {
            err = fail_at(c, BROKER_CONFIG_ERR_INVALID, "metrics_endpoint",
                          "'%s' takes the same port as %s", shown(cfg->metrics_endpoint, text, sizeof(text)),
                          overlap(&metrics, &agency) ? "agency_endpoint" : "federation_endpoint");
            goto out;
        }
    }
    err = check_peers(c, raw, cfg);
    if (err != BROKER_CONFIG_OK)
        goto out;

    if ((err = check_uint(c, "limits.max_message_bytes", lim->max_message_bytes, 1024,
                          64u << 20, 16u << 20, &cfg->limits.max_message_bytes)) != BROKER_CONFIG_OK)
        goto out;
    if ((err = check_uint(c, "limits.max_in_flight", lim->max_in_flight, 1, 10000, 64, &v)) !=
        BROKER_CONFIG_OK)
        goto out;
    cfg->limits.max_in_flight = (uint32_t)v;
    if ((err = check_uint(c, "limits.max_queue_depth", lim->max_queue_depth, 1, 100000000,
                          1000000, &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->limits.max_queue_depth = (uint32_t)v;
    if ((err = check_uint(c, "limits.max_pending_per_client", lim->max_pending_per_client, 1,
                          1000000, 1024, &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->limits.max_pending_per_client = (uint32_t)v;
    if ((err = check_uint(c, "tree_head_interval_s", raw->tree_head_interval_s, 1, 86400, 60,
                          &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->tree_head_interval_s = (uint32_t)v;
    if ((err = check_uint(c, "expiry_sweep_interval_s", raw->expiry_sweep_interval_s, 1, 3600, 5,
                          &v)) != BROKER_CONFIG_OK)
        goto out;
    cfg->expiry_sweep_interval_s = (uint32_t)v;
    if ((err = check_uint(c, "verify_threads", raw->verify_threads, 0, 64, 0, &v)) !=
        BROKER_CONFIG_OK)
        goto out;
    cfg->verify_threads = (uint32_t)v;
    cfg->verify_signatures = raw->verify_signatures == NULL || *raw->verify_signatures != 0;
    cfg->log_level = raw->log_level != NULL ? (proto_log_level)*raw->log_level : PROTO_LOG_INFO;

    *cfg_out = cfg;
    cfg = NULL;
out:
    broker_config_destroy(&cfg);
    return err;
}

/* The directory of file, absolute, into c->base ("" if it cannot be known). */
static void
set_base(load_ctx *c, const char *file)
{
    const char *slash = file != NULL ? strrchr(file, '/') : NULL;
    char cwd[BROKER_CONFIG_PATH_MAX];
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
    if (dir_len == 1 && file[0] == '.') {
        snprintf(c->base, sizeof(c->base), "%s", cwd);
        return;
    }
    if (strlen(cwd) + 1 + dir_len >= sizeof(c->base))
        return;
    cut_printf(c->base, sizeof(c->base), "%s%s%.*s", cwd, strcmp(cwd, "/") == 0 ? "" : "/",
             (int)dir_len, file);
}

/* ---- Public functions ------------------------------------------------------ */

broker_config_err
broker_config_load_buffer(const char *text, size_t len, const char *path_for_messages,
                          broker_config **cfg_out, broker_config_detail *detail_r)
{
    broker_config_detail scratch;
    load_ctx c;
    cyaml_capture cap;
    cyaml_config_t cc;
    raw_config *raw = NULL;
    cyaml_err_t e;
    broker_config_err err;

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

    if (c.len > BROKER_CONFIG_MAX_BYTES) {
        err = fail_pos(&c, BROKER_CONFIG_ERR_TOO_LARGE, 0, 0, NULL,
                       "%zu bytes; a configuration file is at most %u", c.len,
                       BROKER_CONFIG_MAX_BYTES);
        goto out;
    }
    err = map_positions(&c);
    if (err != BROKER_CONFIG_OK)
        goto out;

    e = cyaml_load_data((const uint8_t *)c.text, c.len, &cc, &config_schema, (cyaml_data_t **)&raw,
                        NULL);
    if (e != CYAML_OK) {
        err = explain_cyaml(&c, e, &cap);
        goto out;
    }
    if (raw == NULL) {
        /* An empty document: libcyaml loads nothing and calls it success. */
        err = fail_pos(&c, BROKER_CONFIG_ERR_MISSING_FIELD, 1, 1, "nation",
                       "required field is missing (the configuration is empty)");
        goto out;
    }
    err = build(&c, raw, cfg_out);
out:
    if (raw != NULL)
        cyaml_free(&cc, &config_schema, raw, 0);
    free(c.nodes);
    return err;
}

broker_config_err
broker_config_load(const char *path, broker_config **cfg_out, broker_config_detail *detail_r)
{
    broker_config_detail scratch;
    broker_config_detail *d = detail_r != NULL ? detail_r : &scratch;
    broker_config_err err;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0;

    memset(d, 0, sizeof(*d));
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(d->text, sizeof(d->text), "%s: cannot open: %s", path, strerror(errno));
        err = BROKER_CONFIG_ERR_IO;
        goto out;
    }
    /* The configuration names the key, roster and policy the broker trusts:
     * others who could write it could name their own. */
    {
        proto_detail pd = {{0}, {0}};
        proto_err perr = proto_file_check_writers(fileno(f), path, "configuration", &pd);

        if (perr != PROTO_OK) {
            snprintf(d->text, sizeof(d->text), "%s", pd.text);
            err = perr == PROTO_ERR_PERMISSION ? BROKER_CONFIG_ERR_PERMISSION
                                               : BROKER_CONFIG_ERR_IO;
            goto out;
        }
    }
    buf = malloc(BROKER_CONFIG_MAX_BYTES + 1);
    if (buf == NULL) {
        snprintf(d->text, sizeof(d->text), "%s: out of memory", path);
        err = BROKER_CONFIG_ERR_NOMEM;
        goto out;
    }
    len = fread(buf, 1, BROKER_CONFIG_MAX_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(d->text, sizeof(d->text), "%s: cannot read: %s", path, strerror(errno));
        err = BROKER_CONFIG_ERR_IO;
        goto out;
    }
    if (len > BROKER_CONFIG_MAX_BYTES) {
        snprintf(d->text, sizeof(d->text), "%s: larger than %u bytes; not a configuration file",
                 path, BROKER_CONFIG_MAX_BYTES);
        err = BROKER_CONFIG_ERR_TOO_LARGE;
        goto out;
    }
    err = broker_config_load_buffer(buf, len, path, cfg_out, d);
out:
    free(buf);
    if (f != NULL)
        fclose(f);
    return err;
}

void
broker_config_destroy(broker_config **cfg)
{
    broker_config *c;

    if (cfg == NULL || *cfg == NULL)
        return;
    c = *cfg;
    for (size_t i = 0; i < c->peer_count; i++)
        free(c->peers[i].endpoint);
    free(c->peers);
    free(c->source);
    free(c->identity);
    free(c->roster);
    free(c->policy);
    free(c->data_dir);
    free(c->agency_endpoint);
    free(c->federation_endpoint);
    free(c->metrics_endpoint);
    free(c);
    *cfg = NULL;
}

const char *
broker_config_strerror(broker_config_err code)
{
    switch (code) {
    case BROKER_CONFIG_OK: return "success";
    case BROKER_CONFIG_ERR_IO: return "configuration file cannot be read";
    case BROKER_CONFIG_ERR_TOO_LARGE: return "configuration is too large";
    case BROKER_CONFIG_ERR_SYNTAX: return "configuration is not well-formed YAML";
    case BROKER_CONFIG_ERR_UNKNOWN_FIELD: return "unknown configuration field";
    case BROKER_CONFIG_ERR_MISSING_FIELD: return "required configuration field is missing";
    case BROKER_CONFIG_ERR_TYPE: return "configuration value has the wrong type";
    case BROKER_CONFIG_ERR_RANGE: return "configuration value is out of range";
    case BROKER_CONFIG_ERR_INVALID: return "configuration value is invalid";
    case BROKER_CONFIG_ERR_DUPLICATE: return "configuration field or peer given twice";
    case BROKER_CONFIG_ERR_NOMEM: return "out of memory";
    case BROKER_CONFIG_ERR_PERMISSION: return "configuration file or its directory is writable by others";
    }
    return "unknown error";
}

const broker_config_peer *
broker_config_peer_find(const broker_config *cfg, const char *nation)
{
    for (size_t i = 0; i < cfg->peer_count; i++) {
        if (strcmp(cfg->peers[i].nation, nation) == 0)
            return &cfg->peers[i];
    }
    return NULL;
}

unsigned
broker_config_verify_thread_count(const broker_config *cfg)
{
    long n;

    if (cfg->verify_threads > 0)
        return cfg->verify_threads;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > 64 ? 64u : (unsigned)n;
}
