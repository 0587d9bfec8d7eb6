/* The bounds of a freeze.designation version (docs/messages.md, freeze.*): what every receiver and sender checks. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"

#define TEXT_MAX 512u            /* bytes of any text member */
#define LONG_TEXT_MAX 8192u      /* bytes of reasons and note */
#define ALIASES_MAX 512u
#define IDENTIFIERS_MAX 64u
#define BORN_MAX 64u
#define BIRTH_PLACES_MAX 64u
#define NATIONALITIES_MAX 64u
#define DOCUMENTS_MAX 128u
#define ADDRESSES_MAX 128u
#define PROGRAMMES_MAX 32u
#define VERSION_MAX 1000000000

/* Text of at most max bytes without control characters (empty allowed: optional members). */
static bool
text_ok(const json_t *v, size_t max)
{
    return agent_text_valid(v, 0, max);
}

/* True if the two digits at s make a number from lo to hi. */
static bool
two_digits(const char *s, int lo, int hi)
{
    int n;

    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    n = (s[0] - '0') * 10 + (s[1] - '0');
    return n >= lo && n <= hi;
}

/* True if s is "YYYY-MM-DD" with a month 01-12 and a day 01-31 (the
 * calendar beyond that is the sender's concern). */
static bool
date_ok(const char *s)
{
    return strlen(s) == 10 && two_digits(s, 0, 99) && two_digits(s + 2, 0, 99) && s[4] == '-' &&
           two_digits(s + 5, 1, 12) && s[7] == '-' && two_digits(s + 8, 1, 31);
}

/* True if the n characters at s are digits. */
static bool
digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* True if s is a designation id: 1..64 characters of the case-id grammar
 * (docs/protocol.md, section 3), since it is the case id of its messages. */
static bool
designation_id_ok(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr("._:/-", c) != NULL))
            return false;
    }
    return true;
}

/* Checks that member name of o, if present, is text of at most max bytes
 * (and, with date, a date).  Returns false with why. */
static bool
opt_text(const json_t *o, const char *where, const char *name, size_t max, bool date, char *why,
         size_t why_len)
{
    const json_t *v = json_object_get(o, name);

    if (v == NULL || json_is_null(v))
        return true;
    if (!text_ok(v, max))
        return agent_why(why, why_len, "%s%s: not text of at most %zu bytes without control "
                      "characters", where, name, max);
    if (date && json_string_length(v) > 0 && !date_ok(json_string_value(v)))
        return agent_why(why, why_len, "%s%s: '%s' is not a date YYYY-MM-DD", where, name,
                      json_string_value(v));
    return true;
}

/* Checks that member name of o, if present, is an array of at most max
 * elements; *arr_out gets it (NULL when absent). */
static bool
opt_array(const json_t *o, const char *where, const char *name, size_t max,
          const json_t **arr_out, char *why, size_t why_len)
{
    const json_t *v = json_object_get(o, name);

    *arr_out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_array(v))
        return agent_why(why, why_len, "%s%s: not a list", where, name);
    if (json_array_size(v) > max)
        return agent_why(why, why_len, "%s%s: %zu entries, at most %zu", where, name,
                      json_array_size(v), max);
    *arr_out = v;
    return true;
}

/* Checks a list of texts (programmes, nationalities, birth places). */
static bool
text_list(const json_t *o, const char *where, const char *name, size_t max, char *why,
          size_t why_len)
{
    const json_t *arr, *v;
    size_t i;

    if (!opt_array(o, where, name, max, &arr, why, why_len))
        return false;
    json_array_foreach(arr, i, v) {
        if (!text_ok(v, TEXT_MAX) || json_string_length(v) == 0)
            return agent_why(why, why_len, "%s%s[%zu]: not text of 1 to %u bytes", where, name, i,
                          TEXT_MAX);
    }
    return true;
}

/* Checks a list of objects whose members (names, NULL-terminated) are
 * optional texts; required names one member that must be non-empty. */
static bool
object_list(const json_t *o, const char *where, const char *name, size_t max,
            const char *const *members, const char *required, char *why, size_t why_len)
{
    const json_t *arr, *v;
    char at[96];
    size_t i;

    if (!opt_array(o, where, name, max, &arr, why, why_len))
        return false;
    json_array_foreach(arr, i, v) {
        snprintf(at, sizeof(at), "%s%s[%zu].", where, name, i);
        if (!json_is_object(v))
            return agent_why(why, why_len, "%s%s[%zu]: not an object", where, name, i);
        for (size_t m = 0; members[m] != NULL; m++) {
            if (!opt_text(v, at, members[m], TEXT_MAX, false, why, why_len))
                return false;
        }
        if (required != NULL && json_string_length(json_object_get(v, required)) == 0)
            return agent_why(why, why_len, "%s%s: required", at, required);
    }
    return true;
}

static bool
aliases_ok(const json_t *entity, char *why, size_t why_len)
{
    static const char *const qualities[] = {"strong", "weak", "good", "low", NULL};
    const json_t *arr, *v;
    size_t i;

    if (!opt_array(entity, "entity.", "aliases", ALIASES_MAX, &arr, why, why_len))
        return false;
    json_array_foreach(arr, i, v) {
        const json_t *name = json_is_object(v) ? json_object_get(v, "name") : v;
        const char *quality = json_string_value(json_object_get(v, "quality"));
        bool known = quality == NULL;

        if (!text_ok(name, TEXT_MAX) || json_string_length(name) == 0)
            return agent_why(why, why_len, "entity.aliases[%zu]: not a name of 1 to %u bytes (a "
                          "text, or an object with name and quality)", i, TEXT_MAX);
        if (json_is_object(v) && json_object_get(v, "quality") != NULL) {
            for (size_t q = 0; qualities[q] != NULL && quality != NULL; q++)
                known = known || strcmp(quality, qualities[q]) == 0;
            if (quality == NULL || !known)
                return agent_why(why, why_len, "entity.aliases[%zu].quality: not strong, weak, "
                              "good or low", i);
        }
    }
    return true;
}

static bool
entity_ok(const json_t *entity, char *why, size_t why_len)
{
    static const char *const types[] = {"individual", "entity", "vessel", "aircraft", NULL};
    static const char *const identifier[] = {"type", "value", NULL};
    static const char *const document[] = {"type", "number", "country", NULL};
    static const char *const address[] = {"street", "city", "region", "postal_code", "country",
                                          NULL};
    const char *type = json_string_value(json_object_get(entity, "type"));
    const json_t *born, *v;
    size_t i;

    if (!json_is_object(entity))
        return agent_why(why, why_len, "entity: missing or not an object");
    if (!text_ok(json_object_get(entity, "name"), TEXT_MAX) ||
        json_string_length(json_object_get(entity, "name")) == 0)
        return agent_why(why, why_len, "entity.name: missing, or not text of 1 to %u bytes",
                      TEXT_MAX);
    if (json_object_get(entity, "type") != NULL) {
        bool known = false;

        for (size_t t = 0; types[t] != NULL && type != NULL; t++)
            known = known || strcmp(type, types[t]) == 0;
        if (!known)
            return agent_why(why, why_len, "entity.type: not individual, entity, vessel or "
                          "aircraft");
    }
    if (!opt_text(entity, "entity.", "original_name", TEXT_MAX, false, why, why_len) ||
        !aliases_ok(entity, why, why_len) ||
        !object_list(entity, "entity.", "identifiers", IDENTIFIERS_MAX, identifier, "value", why,
                     why_len) ||
        !text_list(entity, "entity.", "birth_places", BIRTH_PLACES_MAX, why, why_len) ||
        !text_list(entity, "entity.", "nationalities", NATIONALITIES_MAX, why, why_len) ||
        !object_list(entity, "entity.", "documents", DOCUMENTS_MAX, document, "number", why,
                     why_len) ||
        !object_list(entity, "entity.", "addresses", ADDRESSES_MAX, address, NULL, why, why_len) ||
        !opt_array(entity, "entity.", "born", BORN_MAX, &born, why, why_len))
        return false;
    json_array_foreach(born, i, v) {
        if (!text_ok(v, 16) || !agent_born_valid(json_string_value(v)))
            return agent_why(why, why_len, "entity.born[%zu]: not YYYY-MM-DD, YYYY-MM, YYYY or "
                          "YYYY..YYYY", i);
    }
    return true;
}

bool
agent_born_valid(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;

    switch (len) {
    case 4: /* YYYY */
        return digits(s, 4);
    case 7: /* YYYY-MM */
        return digits(s, 4) && s[4] == '-' && two_digits(s + 5, 1, 12);
    case 10: /* YYYY-MM-DD, or YYYY..YYYY with the first year not after the second */
        if (s[4] == '.')
            return digits(s, 4) && s[5] == '.' && digits(s + 6, 4) && strncmp(s, s + 6, 4) <= 0;
        return date_ok(s);
    default:
        return false;
    }
}

bool
agent_designation_check(const json_t *body, char *why, size_t why_len)
{
    static const char *const actions[] = {"add", "amend", "delist", NULL};
    const json_t *designation = json_object_get(body, "designation");
    const json_t *version = json_object_get(body, "version");
    const char *action = json_string_value(json_object_get(body, "action"));
    bool known = false;

    if (!json_is_object(body))
        return agent_why(why, why_len, "not a JSON object");
    if (!text_ok(designation, 64) || !designation_id_ok(json_string_value(designation)))
        return agent_why(why, why_len, "designation: missing, or not 1 to 64 characters of "
                      "A-Z a-z 0-9 . _ : / -");
    if (!json_is_integer(version) || json_integer_value(version) < 1 ||
        json_integer_value(version) > VERSION_MAX)
        return agent_why(why, why_len, "version: missing, or not a number from 1 to %d",
                      VERSION_MAX);
    for (size_t i = 0; actions[i] != NULL && action != NULL; i++)
        known = known || strcmp(action, actions[i]) == 0;
    if (!known)
        return agent_why(why, why_len, "action: missing, or not add, amend or delist");
    return opt_text(body, "", "effective", 10, true, why, why_len) &&
           opt_text(body, "", "list", 64, false, why, why_len) &&
           opt_text(body, "", "reference", 128, false, why, why_len) &&
           text_list(body, "", "programmes", PROGRAMMES_MAX, why, why_len) &&
           opt_text(body, "", "listed", 10, true, why, why_len) &&
           opt_text(body, "", "amended", 10, true, why, why_len) &&
           opt_text(body, "", "reasons", LONG_TEXT_MAX, false, why, why_len) &&
           opt_text(body, "", "legal_basis", TEXT_MAX, false, why, why_len) &&
           opt_text(body, "", "note", LONG_TEXT_MAX, false, why, why_len) &&
           entity_ok(json_object_get(body, "entity"), why, why_len);
}
