/* The one YAML loader: a libyaml pass for positions and limits, then libcyaml with its log captured. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "liaison_yaml.h"

/* ---- Messages ------------------------------------------------------------ */

static void set_error(liaison_yaml_error *err, uint32_t line, uint32_t column, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Records where and what; field NULL: none. */
static void
set_error(liaison_yaml_error *err, uint32_t line, uint32_t column, const char *field,
          const char *fmt, ...)
{
    va_list ap;

    err->line = line;
    err->column = column;
    snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(err->what, sizeof(err->what), fmt, ap);
    va_end(ap);
}

void
liaison_yaml_one_line(char *s)
{
    for (char *p = s; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
}

void
liaison_yaml_message(char *text, size_t text_len, const char *file, uint32_t line,
                     uint32_t column, const char *field, const char *what)
{
    char where[300];
    int cut; /* a long file name, field or text is cut on purpose: no need to look */

    if (line > 0)
        cut = snprintf(where, sizeof(where), "%s:%u:%u", file, line, column);
    else
        cut = snprintf(where, sizeof(where), "%s", file);
    if (field != NULL && field[0] != '\0')
        cut = snprintf(text, text_len, "%s: %s: %s", where, field, what);
    else
        cut = snprintf(text, text_len, "%s: %s", where, what);
    (void)cut;
    liaison_yaml_one_line(text);
}

void
liaison_yaml_detail_vset(liaison_yaml_detail *d, const char *file, unsigned line,
                         unsigned column, const char *field, const char *fmt, va_list ap)
{
    char what[LIAISON_YAML_WHAT_MAX];

    vsnprintf(what, sizeof(what), fmt, ap);
    d->line = line;
    d->column = column;
    snprintf(d->field, sizeof(d->field), "%s", field != NULL ? field : "");
    liaison_yaml_one_line(d->field);
    liaison_yaml_message(d->text, sizeof(d->text), file, line, column, field, what);
}

void
liaison_yaml_detail_vat(liaison_yaml_detail *d, const char *file, const liaison_yaml_doc *doc,
                        const char *path, const char *fmt, va_list ap)
{
    const liaison_yaml_node *n = liaison_yaml_find(doc, path);

    liaison_yaml_detail_vset(d, file, n != NULL ? n->line : 0, n != NULL ? n->column : 0, path,
                             fmt, ap);
}

const char *
liaison_yaml_shown(const char *text, char *buf, size_t buf_len)
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

/* ---- Paths in a file ---------------------------------------------------- */

void
liaison_yaml_base_dir(const char *file, char *base, size_t base_len)
{
    const char *slash = file != NULL ? strrchr(file, '/') : NULL;
    char cwd[4096];
    size_t dir_len;

    base[0] = '\0';
    if (slash != NULL && file[0] == '/') {
        dir_len = slash == file ? 1 : (size_t)(slash - file);
        if (dir_len < base_len) {
            memcpy(base, file, dir_len);
            base[dir_len] = '\0';
        }
        return;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return;
    dir_len = slash != NULL ? (size_t)(slash - file) : 0;
    if (dir_len == 1 && file[0] == '.')
        dir_len = 0;
    if (snprintf(base, base_len, "%s%s%.*s", cwd,
                 dir_len == 0 || strcmp(cwd, "/") == 0 ? "" : "/", (int)dir_len,
                 dir_len > 0 ? file : "") >= (int)base_len)
        base[0] = '\0';
}

liaison_yaml_err
liaison_yaml_resolve(const char *base, const char *value, size_t max, char **out)
{
    size_t base_len = strlen(base), len;
    bool slash;

    *out = NULL;
    if (value[0] == '/' || base[0] == '\0') {
        *out = strdup(value);
        return *out != NULL ? LIAISON_YAML_OK : LIAISON_YAML_ERR_NOMEM;
    }
    slash = base[base_len - 1] == '/';
    len = base_len + (slash ? 0 : 1) + strlen(value) + 1;
    if (len > max)
        return LIAISON_YAML_ERR_PATH;
    *out = malloc(len);
    if (*out == NULL)
        return LIAISON_YAML_ERR_NOMEM;
    snprintf(*out, len, "%s%s%s", base, slash ? "" : "/", value);
    return LIAISON_YAML_OK;
}

/* ---- Schemas ------------------------------------------------------------- */

const cyaml_schema_field_t *
liaison_yaml_schema_field(const cyaml_schema_value_t *schema, const char *key)
{
    if (schema == NULL || schema->type != CYAML_MAPPING)
        return NULL;
    for (const cyaml_schema_field_t *f = schema->mapping.fields; f->key != NULL; f++) {
        if (strcmp(f->key, key) == 0)
            return f;
    }
    return NULL;
}

void
liaison_yaml_schema_names(const cyaml_schema_value_t *schema, char *buf, size_t buf_len)
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

/* ---- The node table ------------------------------------------------------ */

/* An open list or mapping during the libyaml pass. */
typedef struct frame {
    int32_t node;                 /* index of the list or mapping node */
    int32_t last_child;           /* index of its last child so far; -1 if none */
    bool is_map;                  /* a mapping (else a list) */
    bool want_key;                /* mapping: the next node is a key */
    bool key_cut;                 /* mapping: the pending key was cut */
    uint32_t next_index;          /* list: index of the next entry */
    uint32_t key_line;            /* mapping: 1-based line of the pending key */
    uint32_t key_column;          /* mapping: 1-based column of the pending key */
    char key[LIAISON_YAML_KEY_MAX]; /* mapping: the pending key */
} frame;

/* State of one pass. */
typedef struct pass {
    const char *text;             /* the YAML */
    size_t len;                   /* bytes at text */
    const liaison_yaml_spec *spec; /* limits and nouns */
    liaison_yaml_doc *doc;        /* the table being built */
    liaison_yaml_error *err;      /* where an error goes */
    frame stack[LIAISON_YAML_DEPTH_MAX]; /* open lists and mappings */
    size_t depth;                 /* entries of stack in use */
} pass;

void
liaison_yaml_doc_clear(liaison_yaml_doc *doc)
{
    for (size_t i = 0; i < doc->count; i++) {
        free(doc->nodes[i].path);
        free(doc->nodes[i].text);
    }
    free(doc->nodes);
    memset(doc, 0, sizeof(*doc));
}

const liaison_yaml_node *
liaison_yaml_find(const liaison_yaml_doc *doc, const char *path)
{
    for (size_t i = 0; i < doc->count; i++) {
        if (strcmp(doc->nodes[i].path, path) == 0)
            return &doc->nodes[i];
    }
    return NULL;
}

const liaison_yaml_node *
liaison_yaml_find_at(const liaison_yaml_doc *doc, uint32_t line, uint32_t column)
{
    const liaison_yaml_node *n = NULL;

    for (size_t i = 0; i < doc->count && line > 0; i++) {
        if (doc->nodes[i].line == line && doc->nodes[i].column == column)
            n = &doc->nodes[i];
    }
    return n;
}

/* Copies at most cap - 1 bytes of src (len bytes); true if cut or if src holds a NUL. */
static bool
copy_cut(char *dst, size_t cap, const unsigned char *src, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;

    memcpy(dst, src, n);
    dst[n] = '\0';
    return n < len || memchr(src, '\0', n) != NULL;
}

/* 1-based line and column of a byte offset (for reader errors). */
static void
offset_position(const pass *ps, size_t offset, uint32_t *line, uint32_t *column)
{
    *line = 1;
    *column = 1;
    for (size_t i = 0; i < offset && i < ps->len; i++) {
        if (ps->text[i] == '\n') {
            (*line)++;
            *column = 1;
        } else {
            (*column)++;
        }
    }
}

static liaison_yaml_err
syntax_error(pass *ps, const yaml_parser_t *p)
{
    const char *problem = p->problem != NULL ? p->problem : "not well-formed";
    uint32_t line, column;

    if (p->error == YAML_MEMORY_ERROR) {
        set_error(ps->err, 0, 0, NULL, "out of memory reading YAML");
        return LIAISON_YAML_ERR_NOMEM;
    }
    if (p->error == YAML_READER_ERROR) {
        offset_position(ps, p->problem_offset, &line, &column);
        set_error(ps->err, line, column, NULL, "YAML syntax error: %s", problem);
        return LIAISON_YAML_ERR_SYNTAX;
    }
    line = (uint32_t)p->problem_mark.line + 1;
    column = (uint32_t)p->problem_mark.column + 1;
    if (p->context != NULL)
        set_error(ps->err, line, column, NULL, "YAML syntax error: %s (%s at %u:%u)", problem,
                  p->context, (unsigned)p->context_mark.line + 1,
                  (unsigned)p->context_mark.column + 1);
    else
        set_error(ps->err, line, column, NULL, "YAML syntax error: %s", problem);
    return LIAISON_YAML_ERR_SYNTAX;
}

/* Records a key of the open mapping top; refuses one given twice. */
static liaison_yaml_err
on_key(pass *ps, frame *top, const yaml_event_t *ev, uint32_t line, uint32_t column)
{
    const liaison_yaml_doc *doc = ps->doc;
    const char *parent = doc->nodes[top->node].path;

    top->key_cut = copy_cut(top->key, sizeof(top->key), ev->data.scalar.value,
                            ev->data.scalar.length);
    top->key_line = line;
    top->key_column = column;
    top->want_key = false;
    for (int32_t i = top->last_child; i >= 0 && !top->key_cut; i = doc->nodes[i].prev) {
        const liaison_yaml_node *o = &doc->nodes[i];
        char path[LIAISON_YAML_PATH_MAX];
        int cut; /* a long path is cut on purpose: the message names its start */

        if (o->key_cut || strcmp(o->key, top->key) != 0)
            continue;
        cut = snprintf(path, sizeof(path), "%s%s%s", parent, parent[0] != '\0' ? "." : "",
                       top->key);
        (void)cut;
        set_error(ps->err, line, column, path, "given twice (first at line %u)", o->key_line);
        snprintf(ps->err->key, sizeof(ps->err->key), "%s", top->key);
        ps->err->first_line = o->key_line;
        return LIAISON_YAML_ERR_DUPLICATE;
    }
    return LIAISON_YAML_OK;
}

/* Records a node event (scalar, list or mapping start); keys go to the frame. */
static liaison_yaml_err
on_node(pass *ps, const yaml_event_t *ev)
{
    liaison_yaml_doc *doc = ps->doc;
    frame *top = ps->depth > 0 ? &ps->stack[ps->depth - 1] : NULL;
    uint32_t line = (uint32_t)ev->start_mark.line + 1;
    uint32_t column = (uint32_t)ev->start_mark.column + 1;
    char path[LIAISON_YAML_PATH_MAX];
    size_t key_off = 0;
    liaison_yaml_node *n;
    int len = 0;

    if (top != NULL && top->is_map && top->want_key) {
        if (ev->type != YAML_SCALAR_EVENT) {
            set_error(ps->err, line, column, doc->nodes[top->node].path,
                      "a field name must be a plain word, not a list or mapping");
            return LIAISON_YAML_ERR_KEY;
        }
        return on_key(ps, top, ev, line, column);
    }
    if (doc->count == ps->spec->nodes_max) {
        set_error(ps->err, line, column, NULL, "more than %zu YAML nodes; %s is much smaller",
                  ps->spec->nodes_max, ps->spec->noun);
        return LIAISON_YAML_ERR_NODES;
    }
    if (top == NULL) {
        path[0] = '\0';
    } else {
        const char *parent = doc->nodes[top->node].path;

        if (top->is_map) {
            len = snprintf(path, sizeof(path), "%s%s%s", parent, parent[0] != '\0' ? "." : "",
                           top->key);
            key_off = strlen(parent) + (parent[0] != '\0' ? 1 : 0);
        } else {
            len = snprintf(path, sizeof(path), "%s[%u]", parent, top->next_index);
        }
        if (len < 0 || (size_t)len >= sizeof(path)) {
            set_error(ps->err, line, column, NULL, "a key or path is too long (more than %u bytes)",
                      LIAISON_YAML_PATH_MAX - 1);
            return LIAISON_YAML_ERR_PATH;
        }
    }
    if (doc->count == doc->cap) {
        size_t cap = doc->cap == 0 ? 64 : doc->cap * 2;
        liaison_yaml_node *grown = realloc(doc->nodes, cap * sizeof(*grown));

        if (grown == NULL)
            goto nomem;
        doc->nodes = grown;
        doc->cap = cap;
    }
    n = &doc->nodes[doc->count];
    memset(n, 0, sizeof(*n));
    n->path = strdup(path);
    if (n->path == NULL)
        goto nomem;
    n->key = n->path + key_off;
    if (top == NULL || !top->is_map)
        n->key = n->path + strlen(n->path);
    n->line = line;
    n->column = column;
    n->parent = -1;
    n->prev = -1;
    n->kind = ev->type == YAML_SCALAR_EVENT           ? LIAISON_YAML_SCALAR
              : ev->type == YAML_SEQUENCE_START_EVENT ? LIAISON_YAML_SEQUENCE
                                                      : LIAISON_YAML_MAPPING;
    if (n->kind == LIAISON_YAML_SCALAR) {
        n->text = malloc(LIAISON_YAML_TEXT_MAX);
        if (n->text == NULL) {
            free(n->path);
            goto nomem;
        }
        n->text_cut = copy_cut(n->text, LIAISON_YAML_TEXT_MAX, ev->data.scalar.value,
                               ev->data.scalar.length);
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
    doc->count++;
    if (top == NULL) {
        n->schema = ps->spec->schema;
    } else {
        const liaison_yaml_node *parent = &doc->nodes[top->node];

        n->parent = top->node;
        n->prev = top->last_child;
        top->last_child = (int32_t)(doc->count - 1);
        if (top->is_map) {
            const cyaml_schema_field_t *f = liaison_yaml_schema_field(parent->schema, top->key);

            n->key_cut = top->key_cut;
            n->key_line = top->key_line;
            n->key_column = top->key_column;
            n->schema = f != NULL && !top->key_cut ? &f->value : NULL;
            n->unknown = n->schema == NULL && parent->schema != NULL &&
                         parent->schema->type == CYAML_MAPPING;
            top->want_key = true;
        } else {
            top->next_index++;
            if (parent->schema != NULL && parent->schema->type == CYAML_SEQUENCE)
                n->schema = parent->schema->sequence.entry;
        }
    }
    if (ps->spec->check != NULL && !ps->spec->check(ps->spec->check_ctx, doc, n))
        return LIAISON_YAML_ERR_REFUSED;
    if (n->kind != LIAISON_YAML_SCALAR) {
        frame *f;

        if (ps->depth == LIAISON_YAML_DEPTH_MAX) {
            set_error(ps->err, line, column, n->path, "nested deeper than %u levels",
                      LIAISON_YAML_DEPTH_MAX);
            return LIAISON_YAML_ERR_DEPTH;
        }
        f = &ps->stack[ps->depth++];
        memset(f, 0, sizeof(*f));
        f->node = (int32_t)(doc->count - 1);
        f->last_child = -1;
        f->is_map = n->kind == LIAISON_YAML_MAPPING;
        f->want_key = f->is_map;
    }
    return LIAISON_YAML_OK;
nomem:
    set_error(ps->err, 0, 0, NULL, "out of memory");
    return LIAISON_YAML_ERR_NOMEM;
}

/* Builds the node table; refuses what libyaml refuses and YAML no Liaison file uses. */
static liaison_yaml_err
scan(pass *ps)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    unsigned documents = 0;
    bool have_event = false, done = false;
    liaison_yaml_err rc = LIAISON_YAML_OK;

    if (!yaml_parser_initialize(&parser)) {
        set_error(ps->err, 0, 0, NULL, "out of memory");
        return LIAISON_YAML_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)ps->text, ps->len);
    while (!done) {
        uint32_t line, column;

        if (!yaml_parser_parse(&parser, &ev)) {
            rc = syntax_error(ps, &parser);
            goto out;
        }
        have_event = true;
        line = (uint32_t)ev.start_mark.line + 1;
        column = (uint32_t)ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++documents > 1) {
                set_error(ps->err, line, column, NULL,
                          "a second YAML document starts here; %s is one document",
                          ps->spec->noun);
                rc = LIAISON_YAML_ERR_DOCUMENTS;
                goto out;
            }
            break;
        case YAML_ALIAS_EVENT:
            set_error(ps->err, line, column, NULL, "YAML aliases (*name) are not allowed in %s",
                      ps->spec->noun);
            rc = LIAISON_YAML_ERR_ALIAS;
            goto out;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            rc = on_node(ps, &ev);
            if (rc != LIAISON_YAML_OK)
                goto out;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (ps->depth > 0)
                ps->depth--;
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
    return rc;
}

/* ---- libcyaml's log ------------------------------------------------------ */

static void capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
    __attribute__((format(printf, 3, 0)));

/* libcyaml's log callback: keeps its first error line and its backtrace. */
static void
capture_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    liaison_yaml_log *log = ctx;
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
        log->in_backtrace = true;
    } else if (log->in_backtrace) {
        const char *pos = strstr(s, "(line: ");
        const char *name = strstr(s, "field '");
        const char *q1 = strchr(s, '\'');
        const char *q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
        char *entry;

        if (log->line == 0 && pos != NULL &&
            sscanf(pos, "(line: %u, column: %u)", &log->line, &log->column) != 2)
            log->line = 0;
        if (log->field[0] == '\0' && name != NULL) {
            const char *end = strchr(name + 7, '\'');
            size_t len = end != NULL ? (size_t)(end - (name + 7)) : 0;

            if (len >= sizeof(log->field))
                len = sizeof(log->field) - 1;
            memcpy(log->field, name + 7, len);
            log->field[len] = '\0';
        }
        if (strncmp(s, "in ", 3) != 0 ||
            log->entry_count == sizeof(log->entries) / sizeof(log->entries[0]))
            return;
        entry = log->entries[log->entry_count++];
        if (strncmp(s, "in mapping field ", 17) == 0 && q1 != NULL && q2 != NULL)
            snprintf(entry, sizeof(log->entries[0]), ".%.*s", (int)(q2 - q1 - 1), q1 + 1);
        else if (strncmp(s, "in sequence entry ", 18) == 0 && q1 != NULL && q2 != NULL)
            snprintf(entry, sizeof(log->entries[0]), "[%ld]", strtol(q1 + 1, NULL, 10) - 1);
        else
            entry[0] = '\0';
    } else if (log->message[0] == '\0') {
        size_t len = strlen(s) < sizeof(log->message) ? strlen(s) : sizeof(log->message) - 1;

        memcpy(log->message, s, len); /* a long message is cut on purpose */
        log->message[len] = '\0';
    }
}

void
liaison_yaml_log_path(liaison_yaml_log *log)
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

/* libcyaml's configuration: errors only, to the capture; no aliases. */
static void
config_init(cyaml_config_t *cfg, liaison_yaml_log *log)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->log_fn = capture_log;
    cfg->log_ctx = log;
    cfg->mem_fn = cyaml_mem;
    cfg->log_level = CYAML_LOG_ERROR;
    cfg->flags = CYAML_CFG_NO_ALIAS;
}

/* ---- Loading ------------------------------------------------------------- */

liaison_yaml_err
liaison_yaml_read(FILE *f, const liaison_yaml_spec *spec, char **text_out, size_t *len_out,
                  liaison_yaml_error *err)
{
    struct stat st;
    char *buf = NULL;
    size_t got;

    *text_out = NULL;
    *len_out = 0;
    memset(err, 0, sizeof(*err));
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        set_error(err, 0, 0, NULL, "not a regular file");
        return LIAISON_YAML_ERR_IO;
    }
    if ((uint64_t)st.st_size > spec->size_max) {
        set_error(err, 0, 0, NULL, "%lld bytes; %s is at most %zu", (long long)st.st_size,
                  spec->file_noun, spec->size_max);
        return LIAISON_YAML_ERR_SIZE;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        set_error(err, 0, 0, NULL, "out of memory");
        return LIAISON_YAML_ERR_NOMEM;
    }
    /* One byte more than its size: a file that grows while it is read is refused. */
    got = fread(buf, 1, (size_t)st.st_size + 1, f);
    if (ferror(f) || got > (size_t)st.st_size) {
        if (ferror(f))
            set_error(err, 0, 0, NULL, "cannot read: %s", strerror(errno));
        else
            set_error(err, 0, 0, NULL, "cannot read: the file changed while it was read");
        free(buf);
        return LIAISON_YAML_ERR_IO;
    }
    buf[got] = '\0';
    *text_out = buf;
    *len_out = got;
    return LIAISON_YAML_OK;
}

liaison_yaml_err
liaison_yaml_load(const char *text, size_t len, const liaison_yaml_spec *spec,
                  const cyaml_schema_value_t *schema, void **data_out, liaison_yaml_doc *doc,
                  liaison_yaml_log *log, cyaml_err_t *cyaml_err_out, liaison_yaml_error *err)
{
    cyaml_config_t cfg;
    cyaml_data_t *data = NULL;
    cyaml_err_t e;
    pass ps;
    liaison_yaml_err rc;

    *data_out = NULL;
    memset(doc, 0, sizeof(*doc));
    memset(log, 0, sizeof(*log));
    memset(err, 0, sizeof(*err));
    if (cyaml_err_out != NULL)
        *cyaml_err_out = CYAML_OK;
    if (text == NULL)
        len = 0;
    if (len > spec->size_max) {
        set_error(err, 0, 0, NULL, "%zu bytes; %s is at most %zu", len, spec->file_noun,
                  spec->size_max);
        return LIAISON_YAML_ERR_SIZE;
    }
    memset(&ps, 0, sizeof(ps));
    ps.text = text != NULL ? text : "";
    ps.len = len;
    ps.spec = spec;
    ps.doc = doc;
    ps.err = err;
    rc = scan(&ps);
    if (rc != LIAISON_YAML_OK)
        return rc;
    config_init(&cfg, log);
    e = cyaml_load_data((const uint8_t *)ps.text, len, &cfg, schema, &data, NULL);
    if (e != CYAML_OK) {
        if (cyaml_err_out != NULL)
            *cyaml_err_out = e;
        return LIAISON_YAML_ERR_SCHEMA;
    }
    *data_out = data;
    return LIAISON_YAML_OK;
}

bool
liaison_yaml_err_limit(liaison_yaml_err rc)
{
    return rc == LIAISON_YAML_ERR_SIZE || rc == LIAISON_YAML_ERR_DEPTH ||
           rc == LIAISON_YAML_ERR_NODES || rc == LIAISON_YAML_ERR_PATH;
}

void
liaison_yaml_free(const cyaml_schema_value_t *schema, void *data)
{
    cyaml_config_t cfg;
    liaison_yaml_log log;

    if (data == NULL)
        return;
    memset(&log, 0, sizeof(log));
    config_init(&cfg, &log);
    cyaml_free(&cfg, schema, data, 0);
}
