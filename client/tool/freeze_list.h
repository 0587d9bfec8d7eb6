/* Published sanctions lists (the UN Security Council Consolidated List, OFAC's SDN list) read as
 * freeze.designation members, streamed with libxml2's reader, one entry at a time. */
#ifndef LIAISON_FREEZE_LIST_H
#define LIAISON_FREEZE_LIST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__)
#define FREEZE_LIST_MUST_CHECK __attribute__((warn_unused_result))
#else
#define FREEZE_LIST_MUST_CHECK
#endif

/* Errors of the list reader.  Codes are appended, never renumbered. */
typedef enum freeze_list_err {
    FREEZE_LIST_OK = 0,
    FREEZE_LIST_ERR_INVALID = 1,   /* an argument is invalid */
    FREEZE_LIST_ERR_NOINPUT = 2,   /* the file cannot be opened */
    FREEZE_LIST_ERR_DATA = 3,      /* malformed, truncated or out of bounds (why says where) */
    FREEZE_LIST_ERR_NOMEM = 4,     /* out of memory */
    FREEZE_LIST_ERR_STOPPED = 5,   /* the entry callback asked to stop */
} freeze_list_err;

/* Returns a static string for code; never NULL. */
const char *freeze_list_strerror(freeze_list_err code);

/* The published formats read. */
typedef enum freeze_list_format {
    FREEZE_LIST_UN_XML = 1,        /* UN Security Council Consolidated List, XML */
    FREEZE_LIST_OFAC_XML = 2,      /* OFAC's SDN list, XML (sdn.xml) */
} freeze_list_format;

/* Bounds of docs/messages.md ("freeze.*") the reader enforces, and its own. */
#define FREEZE_LIST_TEXT_MAX 512u        /* bytes of a text */
#define FREEZE_LIST_REASONS_MAX 8192u    /* bytes of reasons */
#define FREEZE_LIST_ALIASES_MAX 512u
#define FREEZE_LIST_IDENTIFIERS_MAX 64u
#define FREEZE_LIST_BORN_MAX 64u
#define FREEZE_LIST_PLACES_MAX 64u
#define FREEZE_LIST_NATIONALITIES_MAX 64u
#define FREEZE_LIST_DOCUMENTS_MAX 128u
#define FREEZE_LIST_ADDRESSES_MAX 128u
#define FREEZE_LIST_PROGRAMMES_MAX 32u
#define FREEZE_LIST_ID_MAX 64u           /* characters of "LIST:REFERENCE" */
#define FREEZE_LIST_ENTRIES_MAX 500000u  /* entries in one file */
#define FREEZE_LIST_DEPTH_MAX 12u        /* element nesting */

/* Parses name ("un-xml", "ofac-xml") into *fmt_out; false when unknown. */
bool freeze_list_format_parse(const char *name, freeze_list_format *fmt_out);

/* The list name designation ids start with: "UN-SC" or "OFAC-SDN". */
const char *freeze_list_name(freeze_list_format fmt);

/*
 * Called once per entry, in file order.  members holds the list-derived
 * members of a freeze.designation (list, reference, programmes, listed,
 * amended, entity, reasons; never designation, version, action or
 * effective), borrowed until the callback returns; line is the entry's
 * first line in the file.  Returns 0 to go on, anything else to stop
 * (freeze_list_read then returns FREEZE_LIST_ERR_STOPPED).
 */
typedef int (*freeze_list_entry_fn)(void *arg, json_t *members, long line);

/*
 * Reads the list at path in format fmt and calls fn for each entry.  The
 * file is streamed (xmlTextReader: no network, no DTD loading, no entity
 * substitution; a document type declaration or an entity reference is
 * refused), so memory stays bounded by one entry plus the set of
 * references seen (to refuse a duplicate).  Entries before a fault have
 * been passed to fn: a caller that must not act on a bad file reads it
 * whole first.  *count_out (may be NULL) gets the number of entries read.
 * Errors: FREEZE_LIST_ERR_NOINPUT, FREEZE_LIST_ERR_DATA (why, why_len
 * bytes, says "FILE:LINE: reason"), FREEZE_LIST_ERR_NOMEM,
 * FREEZE_LIST_ERR_STOPPED, FREEZE_LIST_ERR_INVALID.  Thread-safety: one
 * call per thread (libxml2 must have been initialised by the program).
 */
freeze_list_err freeze_list_read(const char *path, freeze_list_format fmt, freeze_list_entry_fn fn,
                                 void *arg, size_t *count_out, char *why,
                                 size_t why_len) FREEZE_LIST_MUST_CHECK;

/* The same, from len bytes at data (borrowed), named name in messages. */
freeze_list_err freeze_list_read_memory(const char *data, size_t len, const char *name,
                                        freeze_list_format fmt, freeze_list_entry_fn fn, void *arg,
                                        size_t *count_out, char *why,
                                        size_t why_len) FREEZE_LIST_MUST_CHECK;

/*
 * A new object holding only the list-derived members of body (a
 * designation, or members as freeze_list_read gives them): list,
 * reference, programmes, listed, amended, entity, reasons.  NULL when
 * memory is short.  The caller owns it.
 */
json_t *freeze_list_members(const json_t *body);

/* The canonical text of members (sorted keys, compact), the caller's to
 * free; NULL when memory is short.  Two entries with the same data have
 * the same text. */
char *freeze_list_canonical(const json_t *members);

#endif
