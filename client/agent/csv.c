/* CSV: a bounded RFC 4180 reader and a writer that neutralises spreadsheet formulas (csv.h). */
#include <stdarg.h>
#include <string.h>

#include "csv.h"

bool
csv_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            n = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n > len)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

void
csv_reader_init(csv_reader *r, const char *text, size_t len)
{
    memset(r, 0, sizeof(*r));
    r->text = text;
    r->len = len;
    r->line = 1;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        r->pos = 3;
}

/* Says why (printf-style) and gives CSV_REFUSED. */
static csv_err __attribute__((format(printf, 3, 4)))
refuse(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return CSV_REFUSED;
}

csv_err
csv_row_read(csv_reader *r, csv_row *row, char *why, size_t why_len)
{
    const char *t = r->text;
    size_t used = 0, field_start = 0, start = r->pos;

    if (r->pos >= r->len)
        return CSV_END;
    if (r->rows >= CSV_ROWS_MAX + 1)
        return refuse(why, why_len, "%zu: more than %u rows", r->line, CSV_ROWS_MAX);
    row->count = 0;
    row->line = r->line;
    for (;;) {
        bool quoted = false;

        if (row->count == CSV_FIELDS_MAX)
            return refuse(why, why_len, "%zu: more than %u fields in a row", r->line, CSV_FIELDS_MAX);
        field_start = used;
        row->fields[row->count++] = row->buf + used;
        if (r->pos < r->len && t[r->pos] == '"') {
            quoted = true;
            r->pos++;
        }
        for (;;) {
            char ch;

            if (r->pos >= r->len) {
                if (quoted)
                    return refuse(why, why_len, "%zu: a quoted field is not closed before the end of the file",
                           row->line);
                break;
            }
            ch = t[r->pos];
            if (ch == '\0')
                return refuse(why, why_len, "%zu: a NUL byte", r->line);
            if (quoted) {
                if (ch == '"') {
                    if (r->pos + 1 < r->len && t[r->pos + 1] == '"') {
                        r->pos++; /* a doubled quote is one quote */
                    } else {
                        r->pos++;
                        quoted = false;
                        if (r->pos < r->len && t[r->pos] != ',' && t[r->pos] != '\n' &&
                            !(t[r->pos] == '\r' && r->pos + 1 < r->len && t[r->pos + 1] == '\n'))
                            return refuse(why, why_len, "%zu: text after the closing quote of a field", r->line);
                        break;
                    }
                } else if (ch == '\n') {
                    r->line++;
                }
            } else {
                if (ch == ',' || ch == '\n' ||
                    (ch == '\r' && r->pos + 1 < r->len && t[r->pos + 1] == '\n'))
                    break;
                if (ch == '"')
                    return refuse(why, why_len, "%zu: a quote inside an unquoted field (quote the whole field and "
                           "double the quote)", r->line);
            }
            if (used - field_start >= CSV_FIELD_MAX)
                return refuse(why, why_len, "%zu: a field longer than %u bytes", r->line, CSV_FIELD_MAX);
            if (r->pos - start >= CSV_ROW_MAX)
                return refuse(why, why_len, "%zu: a row longer than %u bytes", row->line, CSV_ROW_MAX);
            row->buf[used++] = ch;
            r->pos++;
        }
        row->buf[used++] = '\0';
        if (!csv_utf8_valid(row->fields[row->count - 1], used - 1 - field_start))
            return refuse(why, why_len, "%zu: field %zu is not UTF-8 text", row->line, row->count);
        if (r->pos < r->len && t[r->pos] == ',') {
            r->pos++;
            continue;
        }
        /* The end of the row: CRLF, LF, or the end of the text. */
        if (r->pos < r->len && t[r->pos] == '\r')
            r->pos++;
        if (r->pos < r->len && t[r->pos] == '\n')
            r->pos++;
        r->line++;
        break;
    }
    r->rows++;
    return CSV_OK;
}

void
csv_field_write(FILE *f, const char *field, bool neutralise)
{
    size_t n;
    bool quote, prefix;

    if (field == NULL || field[0] == '\0')
        return;
    n = strlen(field);
    prefix = neutralise && strchr("=+-@\t\r", field[0]) != NULL;
    quote = strpbrk(field, ",\"\r\n") != NULL || field[0] == ' ' || field[n - 1] == ' ' || prefix;
    if (quote)
        fputc('"', f);
    if (prefix)
        fputc('\'', f);
    for (const char *p = field; *p != '\0'; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    if (quote)
        fputc('"', f);
}
