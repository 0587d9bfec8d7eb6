/* CSV as RFC 4180 writes it: a bounded reader of customer files and a writer that quotes and
 * neutralises spreadsheet formulas (pure, no I/O). */
#ifndef LIAISON_CSV_H
#define LIAISON_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Bytes of one field at most, after unquoting. */
#define CSV_FIELD_MAX 4096u
/* Fields of one row at most. */
#define CSV_FIELDS_MAX 64u
/* Bytes of one row (a record, quoted newlines included) at most. */
#define CSV_ROW_MAX (64u * 1024u)
/* Data rows of one file at most (the header not counted). */
#define CSV_ROWS_MAX 1000000u

/* What reading a row gave. */
typedef enum csv_err {
    CSV_OK = 0,      /* a row was read */
    CSV_END = 1,     /* no more rows */
    CSV_REFUSED = 2, /* the text breaks a rule or a bound; the reason says which */
} csv_err;

/* One row: its fields, NUL-terminated, borrowed until the next read. */
typedef struct csv_row {
    size_t count;                      /* fields in the row */
    size_t line;                       /* the line the row starts on, from 1 */
    char *fields[CSV_FIELDS_MAX];      /* the fields, unquoted */
    char buf[CSV_ROW_MAX + CSV_FIELDS_MAX]; /* their bytes */
} csv_row;

/* A reader over text in memory (not copied: it must outlive the reader). */
typedef struct csv_reader {
    const char *text; /* the whole file */
    size_t len;       /* its bytes */
    size_t pos;       /* where the next row starts */
    size_t line;      /* the line at pos, from 1 */
    size_t rows;      /* rows read so far, the header included */
} csv_reader;

/* Starts reading text (len bytes); a UTF-8 byte-order mark is skipped. */
void csv_reader_init(csv_reader *r, const char *text, size_t len);

/*
 * Reads the next row into *row: fields separated by commas, a field in
 * double quotes may hold commas, CR, LF and doubled quotes; rows end with
 * CRLF or LF (a last row may end with neither).  A blank last line is not a
 * row.  CSV_REFUSED for: a quote inside an unquoted field, text after a
 * closing quote, a quote left open at the end of the text, a NUL byte,
 * text that is not UTF-8, a field over CSV_FIELD_MAX bytes, a row over
 * CSV_ROW_MAX bytes or CSV_FIELDS_MAX fields, more than CSV_ROWS_MAX rows;
 * why (why_len bytes) then says "LINE: reason" with the line where the
 * fault is.  The reader should not be used after a refusal.
 */
csv_err csv_row_read(csv_reader *r, csv_row *row, char *why, size_t why_len);

/*
 * Writes field to f as one CSV field: quoted (quotes doubled) when it holds
 * a comma, a quote, CR or LF, or begins or ends with a space; and, when
 * neutralise is true, a field that begins with = + - @ TAB or CR gets a
 * leading apostrophe so that a spreadsheet shows it as text instead of
 * running it as a formula.  NULL writes an empty field.
 */
void csv_field_write(FILE *f, const char *field, bool neutralise);

/* True if s (len bytes) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF). */
bool csv_utf8_valid(const char *s, size_t len);

#endif
