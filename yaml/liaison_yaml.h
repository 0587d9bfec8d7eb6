/* The one YAML loader of Liaison's files: limits, positions (line:column) and error messages. */
#ifndef LIAISON_YAML_H
#define LIAISON_YAML_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cyaml/cyaml.h>

/*
 * How it works.  libcyaml loads a file into a caller's structures through a
 * schema, but version 1.3 keeps no positions, and the positions in its log
 * backtrace are those of the last event it read.  So liaison_yaml_load
 * first walks the file with libyaml's event parser and records every node
 * (its path such as "peers[1].nation", the line and column of its key and of
 * its value, the start of a scalar's text) in a node table, refusing on the
 * way what no Liaison file uses: syntax errors, aliases, several documents,
 * keys that are lists or mappings, a key given twice in one mapping, nesting
 * deeper than LIAISON_YAML_DEPTH_MAX, more nodes than the schema allows.
 * Then libcyaml loads the file with its log captured, so that the caller can
 * place its error with the node table.  Every message has one shape:
 * "FILE:LINE:COL: FIELD: what" (FIELD and the position left out when there
 * are none).
 *
 * Thread-safety: none of these functions keeps state between calls; distinct
 * documents may be loaded from several threads at once.
 */

#define LIAISON_YAML_DEPTH_MAX 16u  /* nesting of lists and mappings; deeper is refused */
#define LIAISON_YAML_KEY_MAX 128u   /* bytes of a key kept, with the NUL; longer keys are cut */
#define LIAISON_YAML_PATH_MAX 512u  /* bytes of a node path, with the NUL; longer is refused */
#define LIAISON_YAML_TEXT_MAX 72u   /* bytes of a scalar's text kept, with the NUL */
#define LIAISON_YAML_WHAT_MAX 512u  /* bytes of an error's explanation, with the NUL */

/* What a load can fail with; each loader turns these into its own codes. */
typedef enum liaison_yaml_err {
    LIAISON_YAML_OK = 0,            /* success */
    LIAISON_YAML_ERR_NOMEM = 1,     /* out of memory */
    LIAISON_YAML_ERR_SIZE = 2,      /* the file is larger than the schema allows */
    LIAISON_YAML_ERR_SYNTAX = 3,    /* not well-formed YAML (libyaml's own message) */
    LIAISON_YAML_ERR_ALIAS = 4,     /* an alias (*name) */
    LIAISON_YAML_ERR_DOCUMENTS = 5, /* a second document */
    LIAISON_YAML_ERR_KEY = 6,       /* a mapping key that is a list or mapping */
    LIAISON_YAML_ERR_DUPLICATE = 7, /* a key given twice in one mapping */
    LIAISON_YAML_ERR_DEPTH = 8,     /* nesting deeper than LIAISON_YAML_DEPTH_MAX */
    LIAISON_YAML_ERR_NODES = 9,     /* more nodes than the schema allows */
    LIAISON_YAML_ERR_PATH = 10,     /* a node path longer than LIAISON_YAML_PATH_MAX */
    LIAISON_YAML_ERR_REFUSED = 11,  /* the caller's check refused a node (its own error is set) */
    LIAISON_YAML_ERR_SCHEMA = 12,   /* libcyaml refused the document (see the log) */
    LIAISON_YAML_ERR_IO = 13,       /* the file cannot be read, or is no regular file */
} liaison_yaml_err;

/* An error found by the loader, before the caller words it for its file. */
typedef struct liaison_yaml_error {
    uint32_t line;                   /* 1-based line; 0 if unknown */
    uint32_t column;                 /* 1-based column; 0 if unknown */
    char field[LIAISON_YAML_PATH_MAX]; /* path of the node concerned; "" if none */
    char key[LIAISON_YAML_KEY_MAX];  /* DUPLICATE: the key given twice; "" otherwise */
    uint32_t first_line;             /* DUPLICATE: line of its first occurrence */
    char what[LIAISON_YAML_WHAT_MAX]; /* what is wrong, one line, without position or field */
} liaison_yaml_error;

/* What a node is. */
typedef enum liaison_yaml_kind {
    LIAISON_YAML_SCALAR = 1,   /* a single value */
    LIAISON_YAML_SEQUENCE = 2, /* a list */
    LIAISON_YAML_MAPPING = 3,  /* a mapping of keys to values */
} liaison_yaml_kind;

/* One node of the document, as the libyaml pass saw it. */
typedef struct liaison_yaml_node {
    char *path;                         /* "peers[1].nation"; "" for the root */
    const char *key;                    /* its key (the end of path); "" if not in a mapping */
    char *text;                         /* a scalar's text (its start when cut); NULL otherwise */
    const cyaml_schema_value_t *schema; /* what the schema expects here; NULL if nothing */
    int32_t parent;                     /* index of the enclosing node; -1 for the root */
    int32_t prev;                       /* index of the previous sibling; -1 if none */
    uint32_t key_line;                  /* 1-based line of its key; 0 if it has none */
    uint32_t key_column;                /* 1-based column of its key; 0 if it has none */
    uint32_t line;                      /* 1-based line where its value starts */
    uint32_t column;                    /* 1-based column where its value starts */
    uint8_t kind;                       /* a liaison_yaml_kind */
    bool plain;                         /* a scalar written without quotes */
    bool unknown;                       /* its key is no field of the parent's schema */
    bool key_cut;                       /* key holds only the start of a long key */
    bool text_cut;                      /* text holds only the start of a long scalar */
} liaison_yaml_node;

/* The node table of one document, in document order. */
typedef struct liaison_yaml_doc {
    liaison_yaml_node *nodes; /* the nodes; nodes[0] is the root */
    size_t count;             /* nodes in use */
    size_t cap;               /* nodes allocated */
} liaison_yaml_doc;

/* Where and why a file was refused, in the one shape, ready to print. */
typedef struct liaison_yaml_detail {
    unsigned line;   /* 1-based line of the offending text; 0 when not known */
    unsigned column; /* 1-based column of it; 0 when not known */
    char field[128]; /* path of the field, e.g. "peers[1].nation"; empty if none */
    char text[640];  /* the whole message: "usa.yaml:12:13: peers[1].nation: ..." */
} liaison_yaml_detail;

/* What libcyaml logged about its first error. */
typedef struct liaison_yaml_log {
    char message[256];      /* its first error line, without "Load: " */
    char field[128];        /* innermost field named in its backtrace; "" if none */
    char path[LIAISON_YAML_PATH_MAX]; /* the node path rebuilt from the backtrace */
    uint32_t line;          /* innermost backtrace position; 0 if none */
    uint32_t column;        /* innermost backtrace column */
    bool in_backtrace;      /* the backtrace has begun */
    char entries[LIAISON_YAML_DEPTH_MAX + 2][128]; /* backtrace steps, innermost first */
    size_t entry_count;     /* entries used */
} liaison_yaml_log;

/*
 * Called for each node as soon as the pass records it (its key, value
 * position and text are set); returns false to stop the load, having
 * recorded its own error in ctx.  The load then returns
 * LIAISON_YAML_ERR_REFUSED.
 */
typedef bool (*liaison_yaml_check_fn)(void *ctx, const liaison_yaml_doc *doc,
                                      const liaison_yaml_node *node);

/* What one kind of file allows, and how messages name it. */
typedef struct liaison_yaml_spec {
    const char *noun;                   /* "a configuration": in "not allowed in a configuration" */
    const char *file_noun;              /* "a configuration file": in the size message */
    size_t size_max;                    /* bytes a file may have */
    size_t nodes_max;                   /* nodes a file may have */
    const cyaml_schema_value_t *schema; /* the top-level schema; NULL: no unknown-key marks */
    liaison_yaml_check_fn check;        /* called for each node; NULL: none */
    void *check_ctx;                    /* passed to check */
} liaison_yaml_spec;

/*
 * Reads the open file f whole, refusing what the spec does not allow.
 *   f           in: a file the caller opened (and checked); not closed here
 *   spec        in: size_max and file_noun
 *   text_out    out: the bytes, NUL-terminated; the caller's to free; NULL on failure
 *   len_out     out: bytes at *text_out, without the NUL
 *   err         out: what is wrong, at no position
 * Returns LIAISON_YAML_OK, ERR_IO (not a regular file, a read error, a file
 * that grew while it was read), ERR_SIZE or ERR_NOMEM.
 */
liaison_yaml_err liaison_yaml_read(FILE *f, const liaison_yaml_spec *spec, char **text_out,
                                   size_t *len_out, liaison_yaml_error *err)
    __attribute__((warn_unused_result, nonnull));

/*
 * Loads text (len bytes, no NUL needed) through schema into *data_out.
 *   text, len   in: the document
 *   spec        in: limits and nouns; borrowed for the call
 *   schema      in: libcyaml's top-level schema (a pointer mapping)
 *   data_out    out: what libcyaml loaded, NULL for an empty document; free it
 *               with liaison_yaml_free; left NULL on failure
 *   doc         out: the node table (also on failure, as far as the pass got);
 *               the caller clears it with liaison_yaml_doc_clear
 *   log         out: what libcyaml logged (meaningful for ERR_SCHEMA)
 *   err         out: where and what for every error but ERR_SCHEMA and ERR_REFUSED
 * Returns LIAISON_YAML_OK or an error above; ERR_SCHEMA carries libcyaml's code
 * in *cyaml_err_out (may be NULL).
 */
liaison_yaml_err liaison_yaml_load(const char *text, size_t len, const liaison_yaml_spec *spec,
                                   const cyaml_schema_value_t *schema, void **data_out,
                                   liaison_yaml_doc *doc, liaison_yaml_log *log,
                                   cyaml_err_t *cyaml_err_out, liaison_yaml_error *err)
    __attribute__((warn_unused_result, nonnull(3, 4, 5, 6, 7, 9)));

/* True if rc is a limit (SIZE, DEPTH, NODES, PATH): the file is too large. */
bool liaison_yaml_err_limit(liaison_yaml_err rc);

/* Frees what liaison_yaml_load loaded (data may be NULL). */
void liaison_yaml_free(const cyaml_schema_value_t *schema, void *data);

/* Frees the node table and leaves it empty; accepts an empty table. */
void liaison_yaml_doc_clear(liaison_yaml_doc *doc) __attribute__((nonnull));

/* The node at path, or NULL; borrowed until the table is cleared. */
const liaison_yaml_node *liaison_yaml_find(const liaison_yaml_doc *doc, const char *path)
    __attribute__((nonnull));

/* The last node whose value starts at line:column, or NULL (line 0: NULL). */
const liaison_yaml_node *liaison_yaml_find_at(const liaison_yaml_doc *doc, uint32_t line,
                                              uint32_t column) __attribute__((nonnull));

/* The path libcyaml's backtrace names ("" for the top level), into log->path. */
void liaison_yaml_log_path(liaison_yaml_log *log) __attribute__((nonnull));

/* "a, b, c": the keys of a mapping schema or the names of an enum, into buf. */
void liaison_yaml_schema_names(const cyaml_schema_value_t *schema, char *buf, size_t buf_len)
    __attribute__((nonnull));

/* The schema field named key of a mapping schema, or NULL (schema may be NULL). */
const cyaml_schema_field_t *liaison_yaml_schema_field(const cyaml_schema_value_t *schema,
                                                      const char *key);

/*
 * Text of a value for a message: quotes and control bytes shown as '?',
 * anything past 60 bytes cut with "...".  Returns buf.
 */
const char *liaison_yaml_shown(const char *text, char *buf, size_t buf_len)
    __attribute__((nonnull));

/*
 * Writes the one message shape, "FILE:LINE:COL: FIELD: what" (no position
 * when line is 0, no FIELD when field is NULL or ""), into text (cut to
 * text_len); control bytes become '?' so the message is one line.
 */
void liaison_yaml_message(char *text, size_t text_len, const char *file, uint32_t line,
                          uint32_t column, const char *field, const char *what)
    __attribute__((nonnull(1, 3, 7)));

/*
 * The directory that relative paths in the file named file resolve against,
 * made absolute, into base (base_len bytes); "" if it cannot be known (no
 * working directory, or longer than base_len).
 */
void liaison_yaml_base_dir(const char *file, char *base, size_t base_len)
    __attribute__((nonnull(2)));

/*
 * value resolved against base (from liaison_yaml_base_dir): value itself if
 * it is absolute or base is "".  *out is the caller's to free.  Returns
 * LIAISON_YAML_OK, ERR_PATH if the result would take more than max bytes
 * with its NUL (*out NULL), or ERR_NOMEM.
 */
liaison_yaml_err liaison_yaml_resolve(const char *base, const char *value, size_t max, char **out)
    __attribute__((warn_unused_result, nonnull));

/*
 * Fills d: line, column, field (NULL: none) and the message in the one
 * shape, "FILE:LINE:COL: FIELD: what", what formatted from fmt and ap; both
 * field and text are cut to fit and made one line.
 */
void liaison_yaml_detail_vset(liaison_yaml_detail *d, const char *file, unsigned line,
                              unsigned column, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0), nonnull(1, 2, 6)));

/* As liaison_yaml_detail_vset, at the value of the node at path in doc
 * (no position if there is none). */
void liaison_yaml_detail_vat(liaison_yaml_detail *d, const char *file,
                             const liaison_yaml_doc *doc, const char *path, const char *fmt,
                             va_list ap) __attribute__((format(printf, 5, 0), nonnull));

/* Replaces control bytes of s by '?' (a field or message is one line). */
void liaison_yaml_one_line(char *s) __attribute__((nonnull));

#endif
