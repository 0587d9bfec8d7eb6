/* The cargo family's content: ISO 6346 container numbers, IMO numbers, UN/LOCODEs, and the checks of each cargo message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cargo.h"
#include "liaison.h"
#include "liaison_proto.h"

#define ID_MAX 64u          /* characters of an alert, request or recommendation id */
#define PORTION_MAX 63      /* highest portion index a message can name */

static bool
fail(cargo_detail *d, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records where and why in d (may be NULL); always false, to return it. */
static bool
fail(cargo_detail *d, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (d == NULL)
        return false;
    snprintf(d->field, sizeof(d->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(d->text, sizeof(d->text), fmt, ap);
    va_end(ap);
    return false;
}

const char *
cargo_strerror(cargo_err code)
{
    switch (code) {
    case CARGO_OK: return "ok";
    case CARGO_ERR_SCHEMA: return "not a cargo message of that kind";
    case CARGO_ERR_MISSING: return "a required field is missing";
    case CARGO_ERR_INVALID: return "a field breaks its rule";
    case CARGO_ERR_DEADLINE: return "the deadline is past or after the departure";
    }
    return "unknown cargo error";
}

/* ---- Codes ------------------------------------------------------------------------ */

/* ISO 6346 value of a letter: 10 for A, counting on and skipping multiples of 11. */
static int
letter_value(char c)
{
    int v = 10;

    for (char l = 'A'; l < c; l++) {
        v++;
        if (v % 11 == 0)
            v++;
    }
    return v;
}

int
cargo_container_check_digit(const char *number)
{
    long sum = 0;

    if (number == NULL)
        return -1;
    for (int i = 0; i < 10; i++) {
        char c = number[i];
        int v;

        if (i < 3 && c >= 'A' && c <= 'Z')
            v = letter_value(c);
        else if (i == 3 && (c == 'U' || c == 'J' || c == 'Z'))
            v = letter_value(c);
        else if (i >= 4 && c >= '0' && c <= '9')
            v = c - '0';
        else
            return -1;
        sum += (long)v << i;
    }
    return (int)(sum % 11 % 10);
}

bool
cargo_container_valid(const char *number, cargo_detail *d)
{
    int digit;

    if (number == NULL || *number == '\0')
        return fail(d, "container", "a container number is required");
    if (strlen(number) != 11)
        return fail(d, "container",
                    "'%.40s' is not 11 characters (owner code, U/J/Z, 6 digits, check digit; "
                    "no spaces)", number);
    if ((digit = cargo_container_check_digit(number)) < 0 || number[10] < '0' || number[10] > '9')
        return fail(d, "container",
                    "'%s' is not of the form AAAU1234565 (3 capitals, U, J or Z, 7 digits)", number);
    if (number[10] - '0' != digit)
        return fail(d, "container", "'%s': the ISO 6346 check digit is %d, not %c", number, digit,
                    number[10]);
    return true;
}

bool
cargo_imo_valid(const char *imo)
{
    int sum = 0;

    if (imo == NULL || strlen(imo) != 7)
        return false;
    for (int i = 0; i < 7; i++) {
        if (imo[i] < '0' || imo[i] > '9')
            return false;
    }
    for (int i = 0; i < 6; i++)
        sum += (imo[i] - '0') * (7 - i);
    return sum % 10 == imo[6] - '0';
}

bool
cargo_locode_valid(const char *locode)
{
    if (locode == NULL || strlen(locode) != 5)
        return false;
    for (int i = 0; i < 5; i++) {
        char c = locode[i];

        if (!(c >= 'A' && c <= 'Z') && !(i >= 2 && c >= '2' && c <= '9'))
            return false;
    }
    return true;
}

bool
cargo_kind(const char *kind)
{
    static const char *const kinds[] = {"cargo.alert", "cargo.request", "cargo.ack",
                                        "cargo.result", "cargo.donotload"};

    for (size_t i = 0; kind != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kind, kinds[i]) == 0)
            return true;
    }
    return false;
}

/* ---- Fields ------------------------------------------------------------------------ */

/* Code points of UTF-8 text (jansson hands over valid UTF-8); SIZE_MAX if it
 * holds a control character. */
static size_t
text_chars(const char *s)
{
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return SIZE_MAX;
        if ((*p & 0xc0) != 0x80)
            n++;
    }
    return n;
}

/* A string member of 1..max characters; absent is an error when required. */
static cargo_err
text(const json_t *o, const char *name, const char *path, size_t max, bool required,
     cargo_detail *d)
{
    json_t *v = json_object_get(o, name);
    size_t n;

    if (v == NULL || (json_is_string(v) && json_string_length(v) == 0)) {
        if (!required)
            return CARGO_OK;
        fail(d, path, "required");
        return CARGO_ERR_MISSING;
    }
    if (!json_is_string(v)) {
        fail(d, path, "must be a string");
        return CARGO_ERR_INVALID;
    }
    n = text_chars(json_string_value(v));
    if (n == SIZE_MAX || n > max) {
        fail(d, path, n == SIZE_MAX ? "holds a control character" : "longer than %zu characters",
             max);
        return CARGO_ERR_INVALID;
    }
    return CARGO_OK;
}

/* An identifier: 1..ID_MAX printable ASCII characters, no space. */
static cargo_err
ident(const json_t *o, const char *name, bool required, cargo_detail *d)
{
    const char *s = json_string_value(json_object_get(o, name));
    cargo_err err;

    if ((err = text(o, name, name, ID_MAX, required, d)) != CARGO_OK || s == NULL || *s == '\0')
        return err;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p <= ' ' || *p > '~') {
            fail(d, name, "'%.64s' must be printable ASCII without spaces", s);
            return CARGO_ERR_INVALID;
        }
    }
    return CARGO_OK;
}

/* One of the words of a NULL-terminated list. */
static cargo_err
word(const json_t *o, const char *name, const char *const *words, cargo_detail *d)
{
    const char *s = json_string_value(json_object_get(o, name));
    char list[128] = "";

    for (size_t i = 0; words[i] != NULL; i++) {
        if (s != NULL && strcmp(s, words[i]) == 0)
            return CARGO_OK;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i > 0 ? ", " : "",
                 words[i]);
    }
    if (s == NULL || *s == '\0') {
        fail(d, name, "required (one of %s)", list);
        return CARGO_ERR_MISSING;
    }
    fail(d, name, "'%.40s' is not one of %s", s, list);
    return CARGO_ERR_INVALID;
}

/* An RFC 3339 UTC time into *ms_out. */
static cargo_err
when(const json_t *o, const char *name, const char *path, uint64_t *ms_out, cargo_detail *d)
{
    const char *s = json_string_value(json_object_get(o, name));

    if (s == NULL || *s == '\0') {
        fail(d, path, "required (an RFC 3339 UTC time, 2026-12-08T18:00:00Z)");
        return CARGO_ERR_MISSING;
    }
    if (!proto_time_parse(s, ms_out)) {
        fail(d, path, "'%.40s' is not an RFC 3339 UTC time (2026-12-08T18:00:00Z)", s);
        return CARGO_ERR_INVALID;
    }
    return CARGO_OK;
}

/* A list of at most max strings of 1..chars characters; at least one if required. */
static cargo_err
texts(const json_t *o, const char *name, size_t max, size_t chars, bool required, cargo_detail *d)
{
    json_t *a = json_object_get(o, name), *v;
    size_t i, n;

    if (a == NULL || (json_is_array(a) && json_array_size(a) == 0)) {
        if (!required)
            return CARGO_OK;
        fail(d, name, "required (a list of 1 to %zu)", max);
        return CARGO_ERR_MISSING;
    }
    if (!json_is_array(a) || json_array_size(a) > max) {
        fail(d, name, "must be a list of at most %zu", max);
        return CARGO_ERR_INVALID;
    }
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            (n = text_chars(json_string_value(v))) == SIZE_MAX || n > chars) {
            char path[64];

            snprintf(path, sizeof(path), "%s[%zu]", name, i);
            fail(d, path, "must be text of 1 to %zu characters", chars);
            return CARGO_ERR_INVALID;
        }
    }
    return CARGO_OK;
}

/* An optional portion index, 1..PORTION_MAX. */
static cargo_err
portion(const json_t *o, const char *name, cargo_detail *d)
{
    json_t *v = json_object_get(o, name);

    if (v == NULL)
        return CARGO_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > PORTION_MAX) {
        fail(d, name, "must be a portion index from 1 to %d", PORTION_MAX);
        return CARGO_ERR_INVALID;
    }
    return CARGO_OK;
}

/* A container member. */
static cargo_err
container(const json_t *o, const char *path, cargo_detail *d)
{
    const char *s = json_string_value(json_object_get(o, "container"));

    if (!cargo_container_valid(s, d)) {
        if (d != NULL)
            snprintf(d->field, sizeof(d->field), "%s", path);
        return s == NULL || *s == '\0' ? CARGO_ERR_MISSING : CARGO_ERR_INVALID;
    }
    return CARGO_OK;
}

/* A party: {name, country}. */
static cargo_err
party(const json_t *shipment, const char *name, cargo_detail *d)
{
    json_t *p = json_object_get(shipment, name);
    const char *country = json_string_value(json_object_get(p, "country"));
    char path[64];
    cargo_err err;

    snprintf(path, sizeof(path), "shipment.%s", name);
    if (!json_is_object(p)) {
        fail(d, path, "required ({\"name\": ..., \"country\": \"MEX\"})");
        return CARGO_ERR_MISSING;
    }
    snprintf(path, sizeof(path), "shipment.%s.name", name);
    if ((err = text(p, "name", path, 200, true, d)) != CARGO_OK)
        return err;
    snprintf(path, sizeof(path), "shipment.%s.country", name);
    if (country == NULL || strlen(country) != 3 || country[0] < 'A' || country[0] > 'Z' ||
        country[1] < 'A' || country[1] > 'Z' || country[2] < 'A' || country[2] > 'Z') {
        fail(d, path, "must be an ISO 3166 alpha-3 country code (MEX)");
        return country == NULL ? CARGO_ERR_MISSING : CARGO_ERR_INVALID;
    }
    return CARGO_OK;
}

/* Prefixes d's field with "shipment." when the check was of a shipment member. */
static cargo_err
in_shipment(cargo_err err, cargo_detail *d)
{
    if (err != CARGO_OK && d != NULL && strncmp(d->field, "shipment.", 9) != 0) {
        size_t n = strnlen(d->field, sizeof(d->field) - 10);

        memmove(d->field + 9, d->field, n);
        memcpy(d->field, "shipment.", 9);
        d->field[9 + n] = '\0';
    }
    return err;
}

cargo_err
cargo_shipment_check(const json_t *s, cargo_detail *d)
{
    json_t *vessel = json_object_get(s, "vessel");
    const char *imo = json_string_value(json_object_get(vessel, "imo"));
    static const char *const ports[] = {"port_of_loading", "port_of_discharge"};
    uint64_t ms;
    cargo_err err;

    if (!json_is_object(s)) {
        fail(d, "shipment", "required (an object: container, vessel, ports, parties, goods)");
        return CARGO_ERR_MISSING;
    }
    if ((err = container(s, "shipment.container", d)) != CARGO_OK ||
        (err = in_shipment(texts(s, "seals", CARGO_SEALS_MAX, 32, false, d), d)) != CARGO_OK ||
        (err = in_shipment(ident(s, "bill_of_lading", true, d), d)) != CARGO_OK)
        return err;
    if (json_string_length(json_object_get(s, "bill_of_lading")) > 35) {
        fail(d, "shipment.bill_of_lading", "longer than 35 characters");
        return CARGO_ERR_INVALID;
    }
    if (!json_is_object(vessel)) {
        fail(d, "shipment.vessel", "required ({\"name\": ..., \"voyage\": ..., \"imo\": ...})");
        return CARGO_ERR_MISSING;
    }
    if ((err = text(vessel, "name", "shipment.vessel.name", 64, true, d)) != CARGO_OK ||
        (err = text(vessel, "voyage", "shipment.vessel.voyage", 17, true, d)) != CARGO_OK)
        return err;
    if (json_object_get(vessel, "imo") != NULL && !cargo_imo_valid(imo)) {
        fail(d, "shipment.vessel.imo", "'%.20s' is not a 7-digit IMO number with a good check digit",
             imo != NULL ? imo : "(not a string)");
        return CARGO_ERR_INVALID;
    }
    for (size_t i = 0; i < 2; i++) {
        const char *code = json_string_value(json_object_get(s, ports[i]));
        char path[64];

        snprintf(path, sizeof(path), "shipment.%s", ports[i]);
        if (code == NULL || *code == '\0') {
            fail(d, path, "required (a UN/LOCODE such as MXZLO)");
            return CARGO_ERR_MISSING;
        }
        if (!cargo_locode_valid(code)) {
            fail(d, path, "'%.20s' is not a UN/LOCODE (2 letters, then 3 of A-Z and 2-9)", code);
            return CARGO_ERR_INVALID;
        }
    }
    if ((err = party(s, "shipper", d)) != CARGO_OK || (err = party(s, "consignee", d)) != CARGO_OK ||
        (err = text(s, "goods", "shipment.goods", 500, true, d)) != CARGO_OK ||
        (err = when(s, "departure", "shipment.departure", &ms, d)) != CARGO_OK)
        return err;
    return CARGO_OK;
}

/* ---- Messages ---------------------------------------------------------------------- */

/* The schema member must name kind, version 1. */
static cargo_err
schema(const char *kind, const json_t *doc, cargo_detail *d)
{
    const char *s = json_string_value(json_object_get(doc, "schema"));
    size_t n = strlen(kind);

    if (!json_is_object(doc)) {
        fail(d, "schema", "portion 0 is not a JSON object");
        return CARGO_ERR_SCHEMA;
    }
    if (s == NULL || strncmp(s, kind, n) != 0 || strcmp(s + n, "/1") != 0) {
        fail(d, "schema", "'%.40s' is not %s/1", s != NULL ? s : "(none)", kind);
        return CARGO_ERR_SCHEMA;
    }
    return CARGO_OK;
}

static cargo_err
check_alert(const json_t *doc, cargo_detail *d)
{
    static const char *const risks[] = {"high", "medium", "low", NULL};
    cargo_err err;

    if ((err = ident(doc, "alert", true, d)) != CARGO_OK ||
        (err = cargo_shipment_check(json_object_get(doc, "shipment"), d)) != CARGO_OK ||
        (err = word(doc, "risk", risks, d)) != CARGO_OK ||
        (err = texts(doc, "indicators", CARGO_INDICATORS_MAX, 200, true, d)) != CARGO_OK)
        return err;
    return portion(doc, "note_portion", d);
}

/* An agency address member (USA/CBP). */
static cargo_err
agency(const json_t *doc, const char *name, cargo_detail *d)
{
    const char *s = json_string_value(json_object_get(doc, name));
    proto_addr a;
    proto_detail pd;

    if (s == NULL || *s == '\0') {
        fail(d, name, "required (an agency, NATION/AGENCY)");
        return CARGO_ERR_MISSING;
    }
    if (proto_addr_parse(s, &a, &pd) != PROTO_OK || a.kind != PROTO_ADDR_AGENCY) {
        fail(d, name, "'%.40s' is not an agency address (NATION/AGENCY)", s);
        return CARGO_ERR_INVALID;
    }
    return CARGO_OK;
}

static cargo_err
check_request(const json_t *doc, uint64_t now_ms, cargo_detail *d)
{
    static const char *const exams[] = {"scan", "physical", "scan-and-physical", NULL};
    const json_t *shipment = json_object_get(doc, "shipment");
    uint64_t deadline, departure;
    char t[PROTO_TIME_TEXT_BYTES];
    cargo_err err;

    if ((err = ident(doc, "request", true, d)) != CARGO_OK ||
        (err = ident(doc, "alert", false, d)) != CARGO_OK ||
        (err = agency(doc, "requesting", d)) != CARGO_OK ||
        (err = agency(doc, "requested", d)) != CARGO_OK ||
        (err = cargo_shipment_check(shipment, d)) != CARGO_OK ||
        (err = texts(doc, "indicators", CARGO_INDICATORS_MAX, 200, true, d)) != CARGO_OK ||
        (err = word(doc, "examination", exams, d)) != CARGO_OK ||
        (err = when(doc, "deadline", "deadline", &deadline, d)) != CARGO_OK ||
        (err = portion(doc, "note_portion", d)) != CARGO_OK)
        return err;
    if (!proto_time_parse(json_string_value(json_object_get(shipment, "departure")), &departure))
        return CARGO_ERR_INVALID; /* cargo_shipment_check parsed it */
    if (deadline > departure) {
        fail(d, "deadline", "%s is after the vessel's departure, %s",
             json_string_value(json_object_get(doc, "deadline")),
             json_string_value(json_object_get(shipment, "departure")));
        return CARGO_ERR_DEADLINE;
    }
    if (now_ms != 0 && deadline <= now_ms) {
        fail(d, "deadline", "%s has passed (it is %s now)",
             json_string_value(json_object_get(doc, "deadline")), proto_time_format(now_ms, t));
        return CARGO_ERR_DEADLINE;
    }
    return CARGO_OK;
}

static cargo_err
check_ack(const json_t *doc, cargo_detail *d)
{
    static const char *const states[] = {"received", "accepted", "declined", NULL};
    const char *status = json_string_value(json_object_get(doc, "status"));
    cargo_err err;

    if ((err = ident(doc, "request", true, d)) != CARGO_OK ||
        (err = word(doc, "status", states, d)) != CARGO_OK)
        return err;
    return text(doc, "note", "note", 1000, strcmp(status, "declined") == 0, d);
}

/* A lower-case SHA-256 in hex. */
static bool
hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (; *s != '\0'; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    }
    return true;
}

/* A result's files: each whole in one chunk, in its own portion. */
static cargo_err
result_files(const json_t *doc, cargo_detail *d)
{
    json_t *files = json_object_get(doc, "files"), *custody = json_object_get(doc, "custody"), *f;
    uint64_t total = 0;
    size_t i;

    if (files == NULL) {
        if (custody == NULL || (json_is_array(custody) && json_array_size(custody) == 0))
            return CARGO_OK;
        fail(d, "custody", "custody entries without files");
        return CARGO_ERR_INVALID;
    }
    if (!json_is_array(files) || json_array_size(files) > CARGO_FILES_MAX) {
        fail(d, "files", "must be a list of at most %u files", CARGO_FILES_MAX);
        return CARGO_ERR_INVALID;
    }
    json_array_foreach(files, i, f) {
        json_t *size = json_object_get(f, "size"), *p = json_object_get(f, "portion");
        char path[64];

        snprintf(path, sizeof(path), "files[%zu]", i);
        if (!liaison_bundle_name_ok(json_string_value(json_object_get(f, "name"))) ||
            !json_is_integer(size) || json_integer_value(size) < 0 ||
            json_integer_value(size) > (json_int_t)CARGO_FILE_MAX ||
            !hex64(json_string_value(json_object_get(f, "sha256"))) ||
            !hex64(json_string_value(json_object_get(f, "chunk_sha256"))) ||
            !json_is_integer(json_object_get(f, "chunk")) ||
            json_integer_value(json_object_get(f, "chunk")) != 0 ||
            !json_is_integer(json_object_get(f, "chunks")) ||
            json_integer_value(json_object_get(f, "chunks")) != 1 || !json_is_integer(p) ||
            json_integer_value(p) < 1 || json_integer_value(p) > PORTION_MAX) {
            fail(d, path,
                 "must be {name, size (at most %u bytes), sha256, chunk 0, chunks 1, portion, "
                 "chunk_sha256}",
                 CARGO_FILE_MAX);
            return CARGO_ERR_INVALID;
        }
        total += (uint64_t)json_integer_value(size);
    }
    if (total > CARGO_FILES_TOTAL_MAX) {
        fail(d, "files", "%llu bytes in all; a result carries at most %u",
             (unsigned long long)total, CARGO_FILES_TOTAL_MAX);
        return CARGO_ERR_INVALID;
    }
    if (!json_is_array(custody) || json_array_size(custody) == 0) {
        fail(d, "custody", "files need their custody entries");
        return custody == NULL ? CARGO_ERR_MISSING : CARGO_ERR_INVALID;
    }
    json_array_foreach(custody, i, f) {
        static const char *const members[] = {"time", "actor", "action", "file", "sha256",
                                              "signature"};

        for (size_t k = 0; k < sizeof(members) / sizeof(members[0]); k++) {
            if (!json_is_string(json_object_get(f, members[k]))) {
                char path[64];

                snprintf(path, sizeof(path), "custody[%zu].%s", i, members[k]);
                fail(d, path, "required");
                return CARGO_ERR_MISSING;
            }
        }
    }
    return CARGO_OK;
}

static cargo_err
check_result(const json_t *doc, cargo_detail *d)
{
    static const char *const outcomes[] = {"not-examined", "scanned", "physically-examined", NULL};
    const char *outcome = json_string_value(json_object_get(doc, "outcome"));
    json_t *anomaly = json_object_get(doc, "anomaly");
    bool examined;
    uint64_t ms;
    cargo_err err;

    if ((err = ident(doc, "request", true, d)) != CARGO_OK ||
        (err = container(doc, "container", d)) != CARGO_OK ||
        (err = word(doc, "outcome", outcomes, d)) != CARGO_OK)
        return err;
    examined = strcmp(outcome, "not-examined") != 0;
    if ((err = text(doc, "reason", "reason", 1000, !examined, d)) != CARGO_OK ||
        (err = text(doc, "findings", "findings", 4000, examined, d)) != CARGO_OK ||
        (err = texts(doc, "seals_after", CARGO_SEALS_MAX, 32, false, d)) != CARGO_OK ||
        (err = text(doc, "officer", "officer", ID_MAX, true, d)) != CARGO_OK)
        return err;
    if (anomaly != NULL && !json_is_boolean(anomaly)) {
        fail(d, "anomaly", "must be true or false");
        return CARGO_ERR_INVALID;
    }
    if ((examined || json_string_length(json_object_get(doc, "examined")) > 0) &&
        (err = when(doc, "examined", "examined", &ms, d)) != CARGO_OK)
        return err;
    return result_files(doc, d);
}

static cargo_err
check_donotload(const json_t *doc, cargo_detail *d)
{
    static const char *const actions[] = {"recommend", "lift", NULL};
    cargo_err err;

    if ((err = ident(doc, "recommendation", true, d)) != CARGO_OK ||
        (err = word(doc, "action", actions, d)) != CARGO_OK ||
        (err = ident(doc, "request", false, d)) != CARGO_OK ||
        (err = container(doc, "container", d)) != CARGO_OK ||
        (err = ident(doc, "bill_of_lading", false, d)) != CARGO_OK)
        return err;
    return text(doc, "reason", "reason", 1000, true, d);
}

cargo_err
cargo_message_check(const char *kind, const json_t *doc, uint64_t now_ms, cargo_detail *d)
{
    cargo_err err;

    if (d != NULL)
        memset(d, 0, sizeof(*d));
    if (!cargo_kind(kind)) {
        fail(d, "kind", "'%.40s' is not a cargo kind", kind != NULL ? kind : "(none)");
        return CARGO_ERR_SCHEMA;
    }
    if ((err = schema(kind, doc, d)) != CARGO_OK)
        return err;
    if (strcmp(kind, "cargo.alert") == 0)
        return check_alert(doc, d);
    if (strcmp(kind, "cargo.request") == 0)
        return check_request(doc, now_ms, d);
    if (strcmp(kind, "cargo.ack") == 0)
        return check_ack(doc, d);
    if (strcmp(kind, "cargo.result") == 0)
        return check_result(doc, d);
    return check_donotload(doc, d);
}
