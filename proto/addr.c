// Addresses and selectors: NATION/AGENCY, NATION/*, *, and a broker's NATION.
#include <string.h>

#include "proto_int.h"

static bool
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool
is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool
proto_nation_valid(const char *nation)
{
    return is_upper(nation[0]) && is_upper(nation[1]) && is_upper(nation[2]) && nation[3] == '\0';
}

static proto_err
parse_nation(const char *s, size_t n, char out[PROTO_NATION_LEN + 1], proto_detail *detail,
             const char *field)
{
    char shown[PROTO_ESCAPED_MAX(16)]; /* what a detail quotes: escaped, it came from a peer */

    proto_text_escape(s, n > 16 ? 16 : n, shown, sizeof(shown));
    for (size_t i = 0; i < n; i++) {
        if (is_lower(s[i])) {
            proto_detail_set(detail, field,
                             "nation '%s' must be upper case (ISO 3166 alpha-3, e.g. USA)", shown);
            return PROTO_ERR_SYNTAX;
        }
        if (!is_upper(s[i])) {
            proto_detail_set(detail, field,
                             "nation '%s' has a character other than A-Z at position %zu", shown,
                             i + 1);
            return PROTO_ERR_SYNTAX;
        }
    }
    if (n != PROTO_NATION_LEN) {
        proto_detail_set(detail, field,
                         "nation '%s' must be exactly 3 letters (ISO 3166 alpha-3), not %zu", shown,
                         n);
        return n == 0 ? PROTO_ERR_SYNTAX : PROTO_ERR_LIMIT;
    }
    memcpy(out, s, PROTO_NATION_LEN);
    out[PROTO_NATION_LEN] = '\0';
    return PROTO_OK;
}

static proto_err
parse_agency(const char *s, size_t n, char out[PROTO_AGENCY_MAX + 1], proto_detail *detail,
             const char *field)
{
    if (n == 0) {
        proto_detail_set(detail, field, "agency name is empty (write NATION/AGENCY or NATION/*)");
        return PROTO_ERR_SYNTAX;
    }
    if (n > PROTO_AGENCY_MAX) {
        proto_detail_set(detail, field, "agency name has %zu characters, at most %u allowed", n,
                         PROTO_AGENCY_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        char shown[PROTO_ESCAPED_MAX(PROTO_AGENCY_MAX)]; /* escaped: it came from a peer */

        if (is_upper(c) || is_digit(c) || (i > 0 && (c == '-' || c == '_')))
            continue;
        proto_text_escape(s, n, shown, sizeof(shown));
        if (is_lower(c)) {
            proto_detail_set(detail, field, "agency '%s' must be upper case", shown);
            return PROTO_ERR_SYNTAX;
        }
        proto_detail_set(detail, field,
                         "agency '%s' has a stray character at position %zu "
                         "(allowed: A-Z, 0-9, '-' and '_', not first)",
                         shown, i + 1);
        return PROTO_ERR_SYNTAX;
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return PROTO_OK;
}

proto_err
proto_addr_parse_n(const char *text, size_t len, proto_addr *addr_out, proto_detail *detail)
{
    const char *field = "address";
    proto_addr a;
    const char *slash;
    proto_err err;

    memset(&a, 0, sizeof(a));
    if (len == 0 || text == NULL) {
        proto_detail_set(detail, field, "address is empty");
        return PROTO_ERR_SYNTAX;
    }
    if (len > PROTO_ADDR_TEXT_MAX) {
        proto_detail_set(detail, field, "address has %zu characters, at most %u allowed", len,
                         PROTO_ADDR_TEXT_MAX);
        return PROTO_ERR_LIMIT;
    }
    if (memchr(text, '\0', len) != NULL) {
        proto_detail_set(detail, field, "address contains a NUL byte");
        return PROTO_ERR_SYNTAX;
    }
    if (len == 1 && text[0] == '*') {
        a.kind = PROTO_ADDR_ALL;
        *addr_out = a;
        return PROTO_OK;
    }
    slash = memchr(text, '/', len);
    if (slash == NULL) {
        err = parse_nation(text, len, a.nation, detail, field);
        if (err != PROTO_OK)
            return err;
        a.kind = PROTO_ADDR_BROKER;
        *addr_out = a;
        return PROTO_OK;
    }
    err = parse_nation(text, (size_t)(slash - text), a.nation, detail, field);
    if (err != PROTO_OK)
        return err;
    {
        const char *rest = slash + 1;
        size_t rest_len = len - (size_t)(rest - text);

        if (rest_len == 1 && rest[0] == '*') {
            a.kind = PROTO_ADDR_NATION_ALL;
        } else {
            err = parse_agency(rest, rest_len, a.agency, detail, field);
            if (err != PROTO_OK)
                return err;
            a.kind = PROTO_ADDR_AGENCY;
        }
    }
    *addr_out = a;
    return PROTO_OK;
}

proto_err
proto_addr_parse(const char *text, proto_addr *addr_out, proto_detail *detail)
{
    size_t n = strnlen(text, PROTO_ADDR_TEXT_MAX + 1);

    return proto_addr_parse_n(text, n, addr_out, detail);
}

char *
proto_addr_format(const proto_addr *addr, char *buf, size_t buf_len)
{
    size_t need;

    if (buf_len == 0)
        return buf;
    switch (addr->kind) {
    case PROTO_ADDR_ALL:
        need = 1;
        break;
    case PROTO_ADDR_BROKER:
        need = PROTO_NATION_LEN;
        break;
    case PROTO_ADDR_NATION_ALL:
        need = PROTO_NATION_LEN + 2;
        break;
    case PROTO_ADDR_AGENCY:
        need = PROTO_NATION_LEN + 1 + strlen(addr->agency);
        break;
    default:
        buf[0] = '\0';
        return buf;
    }
    if (need + 1 > buf_len) {
        buf[0] = '\0';
        return buf;
    }
    switch (addr->kind) {
    case PROTO_ADDR_ALL:
        memcpy(buf, "*", 2);
        break;
    case PROTO_ADDR_BROKER:
        memcpy(buf, addr->nation, PROTO_NATION_LEN + 1);
        break;
    case PROTO_ADDR_NATION_ALL:
        memcpy(buf, addr->nation, PROTO_NATION_LEN);
        memcpy(buf + PROTO_NATION_LEN, "/*", 3);
        break;
    default:
        memcpy(buf, addr->nation, PROTO_NATION_LEN);
        buf[PROTO_NATION_LEN] = '/';
        memcpy(buf + PROTO_NATION_LEN + 1, addr->agency, strlen(addr->agency) + 1);
        break;
    }
    return buf;
}

bool
proto_addr_equal(const proto_addr *a, const proto_addr *b)
{
    return a->kind == b->kind && strcmp(a->nation, b->nation) == 0 &&
           strcmp(a->agency, b->agency) == 0;
}

bool
proto_addr_matches(const proto_addr *selector, const proto_addr *agency)
{
    switch (selector->kind) {
    case PROTO_ADDR_ALL:
        return agency->kind == PROTO_ADDR_AGENCY;
    case PROTO_ADDR_NATION_ALL:
        return agency->kind == PROTO_ADDR_AGENCY &&
               strcmp(selector->nation, agency->nation) == 0;
    default:
        return proto_addr_equal(selector, agency);
    }
}

proto_err
proto_addr_check(const proto_addr *addr, proto_detail *detail, const char *field)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];
    proto_addr again;
    proto_err err;

    if (addr->kind < PROTO_ADDR_AGENCY || addr->kind > PROTO_ADDR_BROKER) {
        proto_detail_set(detail, field, "%s: unknown address kind %u", field, addr->kind);
        return PROTO_ERR_INVALID;
    }
    proto_addr_format(addr, text, sizeof(text));
    err = proto_addr_parse(text, &again, detail);
    if (err != PROTO_OK || !proto_addr_equal(&again, addr)) {
        proto_detail_set(detail, field, "%s: not a valid address", field);
        return PROTO_ERR_INVALID;
    }
    return PROTO_OK;
}

proto_err
proto_addr_from_slice(proto_slice s, proto_addr *out, proto_detail *detail, const char *field)
{
    proto_err err = proto_addr_parse_n((const char *)s.data, s.len, out, detail);

    if (err != PROTO_OK && detail != NULL) {
        char text[sizeof(detail->text)];

        memcpy(text, detail->text, sizeof(text));
        proto_detail_set(detail, field, "%s: %s", field, text);
    }
    return err;
}

void
proto_addr_write(proto_wr *wr, const proto_addr *addr)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];

    proto_addr_format(addr, text, sizeof(text));
    proto_wr_str8(wr, text, strlen(text));
}
