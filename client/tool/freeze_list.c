/* Published sanctions lists read as freeze.designation members: libxml2's streaming reader, one
 * entry at a time, every text and count bounded as docs/messages.md says. */
#include "freeze_list.h"

#include <libxml/xmlreader.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_ 48u       /* bytes of an element name kept in the path */
#define GROUP_FIELDS 16u    /* leaf fields kept for one group (an alias, an address) */
#define BUF_MAX (FREEZE_LIST_REASONS_MAX + 1u)

/* The leaf fields of the group being read (an alias, a date of birth, an address). */
typedef struct group {
    char names[GROUP_FIELDS][NAME_MAX_];                 /* leaf element names */
    char values[GROUP_FIELDS][FREEZE_LIST_TEXT_MAX + 1]; /* and their texts */
    size_t count;                                        /* fields set */
} group;

/* The set of references seen in the file (open addressing, grown by doubling). */
typedef struct refset {
    char **slots;                  /* NULL or an owned reference */
    size_t cap;                    /* slots (a power of two) */
    size_t count;                  /* references held */
} refset;

/* The reader's state. */
typedef struct rd {
    freeze_list_format fmt;        /* what is read */
    const char *path;              /* the file, for messages */
    xmlTextReaderPtr reader;       /* libxml2's reader */
    char *why;                     /* where the reason goes */
    size_t why_len;                /* bytes at why */
    bool failed;                   /* a reason was set */
    char xml_error[256];           /* libxml2's first error */
    int xml_error_line;            /* and its line */
    /* The entry being read. */
    bool in_entry;                 /* between an entry's start and end */
    int entry_depth;               /* the entry element's depth */
    long entry_line;               /* its first line */
    char entry_name[NAME_MAX_];    /* INDIVIDUAL, ENTITY, sdnEntry */
    char path_names[FREEZE_LIST_DEPTH_MAX][NAME_MAX_]; /* elements below the entry */
    size_t path_len;               /* entries in path_names */
    char text[BUF_MAX];            /* the current element's text */
    size_t text_len;               /* bytes in text */
    bool text_over;                /* the text went over BUF_MAX */
    json_t *m;                     /* the members being built (owned) */
    json_t *entity;                /* m's entity (borrowed) */
    char names[4][FREEZE_LIST_TEXT_MAX + 1]; /* name parts (UN: FIRST..FOURTH; OFAC: first, last) */
    char reference[FREEZE_LIST_TEXT_MAX + 1]; /* the entry's reference */
    char amended[16];              /* the latest amendment date */
    group g;                       /* the group being read */
    refset refs;                   /* references seen */
    size_t count;                  /* entries read */
    long size;                     /* bytes in the file */
} rd;

const char *
freeze_list_strerror(freeze_list_err code)
{
    switch (code) {
    case FREEZE_LIST_OK: return "ok";
    case FREEZE_LIST_ERR_INVALID: return "invalid argument";
    case FREEZE_LIST_ERR_NOINPUT: return "cannot open the file";
    case FREEZE_LIST_ERR_DATA: return "refused list";
    case FREEZE_LIST_ERR_NOMEM: return "out of memory";
    case FREEZE_LIST_ERR_STOPPED: return "stopped";
    }
    return "unknown error";
}

bool
freeze_list_format_parse(const char *name, freeze_list_format *fmt_out)
{
    if (strcmp(name, "un-xml") == 0)
        *fmt_out = FREEZE_LIST_UN_XML;
    else if (strcmp(name, "ofac-xml") == 0)
        *fmt_out = FREEZE_LIST_OFAC_XML;
    else
        return false;
    return true;
}

const char *
freeze_list_name(freeze_list_format fmt)
{
    return fmt == FREEZE_LIST_UN_XML ? "UN-SC" : "OFAC-SDN";
}

/* ---- Faults --------------------------------------------------------------------------- */

/* The line of the reader's current node, or the parser's line when the node has none. */
static long
line_now(rd *r)
{
    xmlNodePtr node = r->reader != NULL ? xmlTextReaderCurrentNode(r->reader) : NULL;
    long line = node != NULL ? xmlGetLineNo(node) : 0;

    if (line <= 0 && r->reader != NULL)
        line = xmlTextReaderGetParserLineNumber(r->reader);
    return line > 0 ? line : (r->in_entry ? r->entry_line : 0);
}

/* Sets the reason, "FILE:LINE: ...", once; returns FREEZE_LIST_ERR_DATA. */
__attribute__((format(printf, 3, 4))) static freeze_list_err
fault(rd *r, long line, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->failed)
        return FREEZE_LIST_ERR_DATA;
    r->failed = true;
    n = snprintf(r->why, r->why_len, "%s:%ld: ", r->path, line);
    if (n >= 0 && (size_t)n < r->why_len) {
        va_start(ap, fmt);
        vsnprintf(r->why + n, r->why_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return FREEZE_LIST_ERR_DATA;
}

/* libxml2 2.12 made the error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *xml_error_arg;
#else
typedef xmlErrorPtr xml_error_arg;
#endif

static void
on_xml_error(void *arg, xml_error_arg e)
{
    rd *r = arg;
    size_t n;

    if (e == NULL || r->xml_error[0] != '\0' || e->level < XML_ERR_ERROR)
        return;
    snprintf(r->xml_error, sizeof(r->xml_error), "%s", e->message != NULL ? e->message : "error");
    n = strlen(r->xml_error);
    while (n > 0 && (r->xml_error[n - 1] == '\n' || r->xml_error[n - 1] == ' '))
        r->xml_error[--n] = '\0';
    r->xml_error_line = e->line;
}

/* ---- The set of references ------------------------------------------------------------ */

static uint64_t
hash_text(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* Adds ref; *dup_out is true when it was there already.  False when memory is short. */
static bool
refset_add(refset *s, const char *ref, bool *dup_out)
{
    size_t i;

    *dup_out = false;
    if (s->count * 2 >= s->cap) {
        size_t cap = s->cap == 0 ? 1024 : s->cap * 2;
        char **slots = calloc(cap, sizeof(char *));

        if (slots == NULL)
            return false;
        for (size_t k = 0; k < s->cap; k++) {
            if (s->slots[k] == NULL)
                continue;
            for (i = hash_text(s->slots[k]) & (cap - 1); slots[i] != NULL; i = (i + 1) & (cap - 1))
                ;
            slots[i] = s->slots[k];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    for (i = hash_text(ref) & (s->cap - 1); s->slots[i] != NULL; i = (i + 1) & (s->cap - 1)) {
        if (strcmp(s->slots[i], ref) == 0) {
            *dup_out = true;
            return true;
        }
    }
    if ((s->slots[i] = strdup(ref)) == NULL)
        return false;
    s->count++;
    return true;
}

static void
refset_free(refset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        free(s->slots[i]);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

/* ---- Texts ---------------------------------------------------------------------------- */

/* Collapses runs of white space (space, tab, CR, LF) into one space and trims the ends, in
 * place; false when another control character remains. */
static bool
tidy(char *s)
{
    size_t w = 0;
    bool space = false;

    for (size_t i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            space = w > 0;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            return false;
        if (space)
            s[w++] = ' ';
        space = false;
        s[w++] = (char)c;
    }
    s[w] = '\0';
    return true;
}

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return true;
}

/* True for YYYY-MM-DD with a month 01-12 and a day 01-31. */
static bool
is_date(const char *s)
{
    int mo, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !all_digits(s, 4) ||
        !all_digits(s + 5, 2) || !all_digits(s + 8, 2))
        return false;
    mo = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

static bool
is_year(const char *s)
{
    return strlen(s) == 4 && all_digits(s, 4);
}

/* The field's text from the group, or "". */
static const char *
gf(const rd *r, const char *name)
{
    for (size_t i = 0; i < r->g.count; i++) {
        if (strcmp(r->g.names[i], name) == 0)
            return r->g.values[i];
    }
    return "";
}

/* Appends part to buf (len bytes) after sep when both are non-empty. */
static void
join(char *buf, size_t len, const char *sep, const char *part)
{
    size_t used = strlen(buf);

    if (part[0] == '\0')
        return;
    snprintf(buf + used, len - used, "%s%s", used > 0 ? sep : "", part);
}

/* Checks a text bound; the caller has tidied it. */
static freeze_list_err
check_text(rd *r, const char *what, const char *s, size_t max)
{
    if (strlen(s) > max)
        return fault(r, line_now(r), "%s is longer than %zu bytes", what, max);
    return FREEZE_LIST_OK;
}

/* Appends item (taken over) to the entity's array key, bounded by max; duplicates of a text
 * already there are dropped. */
static freeze_list_err
push(rd *r, json_t *container, const char *key, json_t *item, size_t max)
{
    json_t *a = json_object_get(container, key);
    json_t *x;
    size_t i;

    if (item == NULL)
        return FREEZE_LIST_ERR_NOMEM;
    json_array_foreach(a, i, x) {
        if (json_equal(x, item)) {
            json_decref(item);
            return FREEZE_LIST_OK;
        }
    }
    if (json_array_size(a) >= max) {
        json_decref(item);
        return fault(r, line_now(r), "more than %zu %s in entry %s", max, key,
                     r->reference[0] ? r->reference : "(no reference yet)");
    }
    if (json_array_append_new(a, item) != 0)
        return FREEZE_LIST_ERR_NOMEM;
    return FREEZE_LIST_OK;
}

static freeze_list_err
push_text(rd *r, json_t *container, const char *key, const char *s, size_t max)
{
    freeze_list_err err;

    if (s[0] == '\0')
        return FREEZE_LIST_OK;
    if ((err = check_text(r, key, s, FREEZE_LIST_TEXT_MAX)) != FREEZE_LIST_OK)
        return err;
    return push(r, container, key, json_string(s), max);
}

/* ---- Entries -------------------------------------------------------------------------- */

static freeze_list_err
entry_begin(rd *r, const char *name)
{
    static const char *const arrays[] = {"aliases",  "identifiers", "born",     "birth_places",
                                         "nationalities", "documents", "addresses"};

    r->in_entry = true;
    r->entry_depth = xmlTextReaderDepth(r->reader);
    r->entry_line = line_now(r);
    snprintf(r->entry_name, sizeof(r->entry_name), "%s", name);
    r->path_len = 0;
    memset(r->names, 0, sizeof(r->names));
    r->reference[0] = '\0';
    r->amended[0] = '\0';
    r->g.count = 0;
    r->m = json_object();
    r->entity = json_object();
    if (r->m == NULL || r->entity == NULL)
        return FREEZE_LIST_ERR_NOMEM;
    json_object_set_new(r->m, "list", json_string(freeze_list_name(r->fmt)));
    json_object_set_new(r->m, "programmes", json_array());
    json_object_set_new(r->entity, "type",
                        json_string(strcmp(name, "INDIVIDUAL") == 0 ? "individual" : "entity"));
    json_object_set_new(r->entity, "original_name", json_string(""));
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        json_object_set_new(r->entity, arrays[i], json_array());
    json_object_set_new(r->m, "entity", r->entity);
    return FREEZE_LIST_OK;
}

/* Sets a text member of obj after checking its bound; an empty text is left out when omit. */
static freeze_list_err
set_text(rd *r, json_t *obj, const char *key, const char *s, size_t max, bool omit)
{
    freeze_list_err err;

    if (omit && s[0] == '\0')
        return FREEZE_LIST_OK;
    if ((err = check_text(r, key, s, max)) != FREEZE_LIST_OK)
        return err;
    return json_object_set_new(obj, key, json_string(s)) == 0 ? FREEZE_LIST_OK
                                                               : FREEZE_LIST_ERR_NOMEM;
}

/* The designation id's characters: A-Z a-z 0-9 . _ : / - */
static bool
id_chars(const char *s)
{
    for (; *s != '\0'; s++) {
        char c = *s;

        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '-'))
            return false;
    }
    return true;
}

static freeze_list_err
entry_end(rd *r, freeze_list_entry_fn fn, void *arg)
{
    char name[4 * (FREEZE_LIST_TEXT_MAX + 1)] = "";
    freeze_list_err err = FREEZE_LIST_OK;
    bool dup;

    if (r->reference[0] == '\0')
        return fault(r, r->entry_line, "entry %s has no reference (%s)", r->entry_name,
                     r->fmt == FREEZE_LIST_UN_XML ? "REFERENCE_NUMBER" : "uid");
    if (strlen(freeze_list_name(r->fmt)) + 1 + strlen(r->reference) > FREEZE_LIST_ID_MAX ||
        !id_chars(r->reference))
        return fault(r, r->entry_line,
                     "reference '%.80s' does not make a designation id (at most %u characters "
                     "of A-Z a-z 0-9 . _ : / -, with the list name)",
                     r->reference, FREEZE_LIST_ID_MAX);
    if (!refset_add(&r->refs, r->reference, &dup))
        return FREEZE_LIST_ERR_NOMEM;
    if (dup)
        return fault(r, r->entry_line, "reference %s appears twice in the file", r->reference);
    if (r->refs.count > FREEZE_LIST_ENTRIES_MAX)
        return fault(r, r->entry_line, "more than %u entries", FREEZE_LIST_ENTRIES_MAX);
    if (r->fmt == FREEZE_LIST_UN_XML) {
        for (size_t i = 0; i < 4; i++)
            join(name, sizeof(name), " ", r->names[i]);
    } else {
        join(name, sizeof(name), " ", r->names[0]);
        join(name, sizeof(name), " ", r->names[1]);
    }
    if (name[0] == '\0')
        return fault(r, r->entry_line, "entry %s has no name", r->reference);
    if ((err = set_text(r, r->entity, "name", name, FREEZE_LIST_TEXT_MAX, false)) != FREEZE_LIST_OK ||
        (err = set_text(r, r->m, "reference", r->reference, FREEZE_LIST_TEXT_MAX, false)) !=
            FREEZE_LIST_OK ||
        (err = set_text(r, r->m, "amended", r->amended, 16, true)) != FREEZE_LIST_OK)
        return err;
    r->count++;
    r->in_entry = false;
    if (fn(arg, r->m, r->entry_line) != 0)
        err = FREEZE_LIST_ERR_STOPPED;
    json_decref(r->m);
    r->m = NULL;
    r->entity = NULL;
    return err;
}

/* ---- UN Security Council Consolidated List ---------------------------------------------- */

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A date of the UN list: YYYY-MM-DD, perhaps with a time after it. */
static bool
un_date(const char *s, char out[11])
{
    if (strlen(s) < 10)
        return false;
    memcpy(out, s, 10);
    out[10] = '\0';
    return is_date(out) && (s[10] == '\0' || s[10] == 'T');
}

/* A leaf directly below the entry. */
static freeze_list_err
un_leaf1(rd *r, const char *name, const char *text)
{
    char d[11];

    if (strcmp(name, "REFERENCE_NUMBER") == 0) {
        if (check_text(r, name, text, FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
            return FREEZE_LIST_ERR_DATA;
        snprintf(r->reference, sizeof(r->reference), "%s", text);
        return FREEZE_LIST_OK;
    }
    if (strcmp(name, "FIRST_NAME") == 0 || strcmp(name, "SECOND_NAME") == 0 ||
        strcmp(name, "THIRD_NAME") == 0 || strcmp(name, "FOURTH_NAME") == 0) {
        int i = name[1] == 'I' ? 0 : name[1] == 'E' ? 1 : name[1] == 'H' ? 2 : 3;

        if (check_text(r, name, text, FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
            return FREEZE_LIST_ERR_DATA;
        snprintf(r->names[i], sizeof(r->names[i]), "%s", text);
        return FREEZE_LIST_OK;
    }
    if (strcmp(name, "UN_LIST_TYPE") == 0)
        return push_text(r, r->m, "programmes", text, FREEZE_LIST_PROGRAMMES_MAX);
    if (strcmp(name, "LISTED_ON") == 0) {
        if (text[0] == '\0')
            return FREEZE_LIST_OK;
        if (!un_date(text, d))
            return fault(r, line_now(r), "LISTED_ON '%.40s' is not a date YYYY-MM-DD", text);
        return set_text(r, r->m, "listed", d, 16, false);
    }
    if (strcmp(name, "NAME_ORIGINAL_SCRIPT") == 0)
        return set_text(r, r->entity, "original_name", text, FREEZE_LIST_TEXT_MAX, false);
    if (strcmp(name, "COMMENTS1") == 0)
        return set_text(r, r->m, "reasons", text, FREEZE_LIST_REASONS_MAX, true);
    return FREEZE_LIST_OK;
}

/* A leaf two levels below the entry whose value is taken at once (not kept in the group). */
static freeze_list_err
un_leaf2(rd *r, const char *parent, const char *name, const char *text, bool *taken)
{
    char d[11];

    *taken = false;
    if (strcmp(name, "VALUE") != 0)
        return FREEZE_LIST_OK;
    if (strcmp(parent, "NATIONALITY") == 0) {
        *taken = true;
        return push_text(r, r->entity, "nationalities", text, FREEZE_LIST_NATIONALITIES_MAX);
    }
    if (strcmp(parent, "LAST_DAY_UPDATED") == 0) {
        *taken = true;
        if (text[0] == '\0')
            return FREEZE_LIST_OK;
        if (!un_date(text, d))
            return fault(r, line_now(r), "LAST_DAY_UPDATED '%.40s' is not a date YYYY-MM-DD", text);
        if (strcmp(d, r->amended) > 0)
            snprintf(r->amended, sizeof(r->amended), "%s", d);
    }
    return FREEZE_LIST_OK;
}

static freeze_list_err
un_group_end(rd *r, const char *name)
{
    if (ends_with(name, "_ALIAS")) {
        const char *q = gf(r, "QUALITY");

        if (gf(r, "ALIAS_NAME")[0] == '\0')
            return FREEZE_LIST_OK;
        if (check_text(r, "ALIAS_NAME", gf(r, "ALIAS_NAME"), FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
            return FREEZE_LIST_ERR_DATA;
        return push(r, r->entity, "aliases",
                    json_pack("{s:s, s:s}", "name", gf(r, "ALIAS_NAME"), "quality",
                              strcasecmp(q, "low") == 0 ? "low" : "good"),
                    FREEZE_LIST_ALIASES_MAX);
    }
    if (strcmp(name, "INDIVIDUAL_DATE_OF_BIRTH") == 0) {
        const char *date = gf(r, "DATE"), *year = gf(r, "YEAR");
        const char *from = gf(r, "FROM_YEAR"), *to = gf(r, "TO_YEAR");
        char v[16], d[11];

        if (date[0] != '\0') {
            if (!un_date(date, d))
                return fault(r, line_now(r), "DATE '%.40s' is not a date YYYY-MM-DD", date);
            snprintf(v, sizeof(v), "%s", d);
        } else if (year[0] != '\0') {
            if (!is_year(year))
                return fault(r, line_now(r), "YEAR '%.40s' is not a year", year);
            snprintf(v, sizeof(v), "%s", year);
        } else if (from[0] != '\0' || to[0] != '\0') {
            if (!is_year(from) || !is_year(to) || strcmp(from, to) > 0)
                return fault(r, line_now(r), "FROM_YEAR '%.10s' and TO_YEAR '%.10s' are not a range "
                                             "of years", from, to);
            snprintf(v, sizeof(v), "%s..%s", from, to);
        } else {
            return FREEZE_LIST_OK;
        }
        return push(r, r->entity, "born", json_string(v), FREEZE_LIST_BORN_MAX);
    }
    if (strcmp(name, "INDIVIDUAL_PLACE_OF_BIRTH") == 0) {
        char p[4 * (FREEZE_LIST_TEXT_MAX + 2)] = "";

        join(p, sizeof(p), ", ", gf(r, "STREET"));
        join(p, sizeof(p), ", ", gf(r, "CITY"));
        join(p, sizeof(p), ", ", gf(r, "STATE_PROVINCE"));
        join(p, sizeof(p), ", ", gf(r, "COUNTRY"));
        return push_text(r, r->entity, "birth_places", p, FREEZE_LIST_PLACES_MAX);
    }
    if (strcmp(name, "INDIVIDUAL_DOCUMENT") == 0) {
        const char *country = gf(r, "ISSUING_COUNTRY")[0] ? gf(r, "ISSUING_COUNTRY")
                                                           : gf(r, "COUNTRY_OF_ISSUE");

        if (gf(r, "NUMBER")[0] == '\0' && gf(r, "TYPE_OF_DOCUMENT")[0] == '\0')
            return FREEZE_LIST_OK;
        return push(r, r->entity, "documents",
                    json_pack("{s:s, s:s, s:s}", "type", gf(r, "TYPE_OF_DOCUMENT"), "number",
                              gf(r, "NUMBER"), "country", country),
                    FREEZE_LIST_DOCUMENTS_MAX);
    }
    if (ends_with(name, "_ADDRESS")) {
        if (gf(r, "STREET")[0] == '\0' && gf(r, "CITY")[0] == '\0' &&
            gf(r, "STATE_PROVINCE")[0] == '\0' && gf(r, "ZIP_CODE")[0] == '\0' &&
            gf(r, "COUNTRY")[0] == '\0')
            return FREEZE_LIST_OK;
        return push(r, r->entity, "addresses",
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "street", gf(r, "STREET"), "city",
                              gf(r, "CITY"), "region", gf(r, "STATE_PROVINCE"), "postal_code",
                              gf(r, "ZIP_CODE"), "country", gf(r, "COUNTRY")),
                    FREEZE_LIST_ADDRESSES_MAX);
    }
    return FREEZE_LIST_OK;
}

/* ---- OFAC SDN list ---------------------------------------------------------------------- */

/* An OFAC date of birth ("12 Jan 1960", "Jan 1960", "1960", "1958 to 1962", "circa 1960")
 * in the forms of docs/messages.md; false when it is none of them. */
static bool
ofac_date(const char *s, char out[16])
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char a[8] = "", b[8] = "", c[8] = "", extra[2] = "";
    int n = sscanf(s, "%7s %7s %7s %1s", a, b, c, extra);
    int mo = 0;

    if (n == 1 && is_year(a)) {
        snprintf(out, 16, "%s", a);
        return true;
    }
    if (n == 1 && is_date(a)) {
        snprintf(out, 16, "%s", a);
        return true;
    }
    if (n == 2 && strcasecmp(a, "circa") == 0 && is_year(b)) {
        snprintf(out, 16, "%s", b);
        return true;
    }
    if (n == 3 && is_year(a) && strcasecmp(b, "to") == 0 && is_year(c) && strcmp(a, c) <= 0) {
        snprintf(out, 16, "%s..%s", a, c);
        return true;
    }
    for (int i = 0; i < 12; i++) {
        if (strcasecmp(n == 2 ? a : b, months[i]) == 0)
            mo = i + 1;
    }
    if (n == 2 && mo > 0 && is_year(b)) {
        snprintf(out, 16, "%s-%02d", b, mo);
        return true;
    }
    if (n == 3 && mo > 0 && is_year(c) && strlen(a) <= 2 && all_digits(a, strlen(a)) &&
        atoi(a) >= 1 && atoi(a) <= 31) {
        snprintf(out, 16, "%s-%02d-%02d", c, mo, atoi(a));
        return true;
    }
    return false;
}

/* True for an OFAC id type that names a travel or identity document. */
static bool
ofac_is_document(const char *type)
{
    static const char *const words[] = {"passport", "national id", "identification number",
                                        "cedula", "driver", "identity card", "d.n.i.", "c.u.r.p."};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        size_t k = strlen(words[i]);

        for (const char *p = type; *p != '\0'; p++) {
            if (strncasecmp(p, words[i], k) == 0)
                return true;
        }
    }
    return false;
}

/* True for an OFAC id type that describes the entry rather than identifies it (a gender, a
 * sanctions note); such ids are not carried. */
static bool
ofac_is_note(const char *type)
{
    static const char *const prefixes[] = {"gender", "secondary sanctions risk",
                                           "additional sanctions information",
                                           "transactions prohibited"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (strncasecmp(type, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    }
    return false;
}

static freeze_list_err
ofac_leaf1(rd *r, const char *name, const char *text)
{
    if (strcmp(name, "uid") == 0) {
        if (check_text(r, name, text, FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
            return FREEZE_LIST_ERR_DATA;
        snprintf(r->reference, sizeof(r->reference), "%s", text);
        return FREEZE_LIST_OK;
    }
    if (strcmp(name, "firstName") == 0 || strcmp(name, "lastName") == 0) {
        if (check_text(r, name, text, FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
            return FREEZE_LIST_ERR_DATA;
        snprintf(r->names[name[0] == 'f' ? 0 : 1], sizeof(r->names[0]), "%s", text);
        return FREEZE_LIST_OK;
    }
    if (strcmp(name, "sdnType") == 0) {
        static const char *const types[] = {"individual", "entity", "vessel", "aircraft"};

        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(text, types[i]) == 0)
                return set_text(r, r->entity, "type", types[i], 16, false);
        }
        return fault(r, line_now(r), "sdnType '%.40s' is none of Individual, Entity, Vessel, "
                                     "Aircraft", text);
    }
    if (strcmp(name, "remarks") == 0)
        return set_text(r, r->m, "reasons", text, FREEZE_LIST_REASONS_MAX, true);
    return FREEZE_LIST_OK;
}

/* A leaf two levels below the entry: a programme, or vessel information. */
static freeze_list_err
ofac_leaf2(rd *r, const char *parent, const char *name, const char *text, bool *taken)
{
    static const struct {
        const char *field;         /* vesselInfo's leaf */
        const char *type;          /* the identifier type it becomes */
    } vessel[] = {{"callSign", "call sign"}, {"vesselFlag", "flag"}, {"vesselOwner", "owner"}};

    *taken = false;
    if (strcmp(parent, "programList") == 0 && strcmp(name, "program") == 0) {
        *taken = true;
        return push_text(r, r->m, "programmes", text, FREEZE_LIST_PROGRAMMES_MAX);
    }
    if (strcmp(parent, "vesselInfo") == 0) {
        *taken = true;
        for (size_t i = 0; i < sizeof(vessel) / sizeof(vessel[0]); i++) {
            if (strcmp(name, vessel[i].field) != 0 || text[0] == '\0')
                continue;
            if (check_text(r, name, text, FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
                return FREEZE_LIST_ERR_DATA;
            return push(r, r->entity, "identifiers",
                        json_pack("{s:s, s:s}", "type", vessel[i].type, "value", text),
                        FREEZE_LIST_IDENTIFIERS_MAX);
        }
    }
    return FREEZE_LIST_OK;
}

static freeze_list_err
ofac_group_end(rd *r, const char *name)
{
    if (strcmp(name, "aka") == 0) {
        char n[2 * (FREEZE_LIST_TEXT_MAX + 1)] = "";
        const char *cat = gf(r, "category");

        join(n, sizeof(n), " ", gf(r, "firstName"));
        join(n, sizeof(n), " ", gf(r, "lastName"));
        if (n[0] == '\0')
            return FREEZE_LIST_OK;
        if (check_text(r, "aka", n, FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
            return FREEZE_LIST_ERR_DATA;
        return push(r, r->entity, "aliases",
                    json_pack("{s:s, s:s}", "name", n, "quality",
                              strcasecmp(cat, "weak") == 0 ? "weak" : "strong"),
                    FREEZE_LIST_ALIASES_MAX);
    }
    if (strcmp(name, "id") == 0) {
        const char *type = gf(r, "idType"), *number = gf(r, "idNumber");

        if (number[0] == '\0' || ofac_is_note(type))
            return FREEZE_LIST_OK;
        if (ofac_is_document(type))
            return push(r, r->entity, "documents",
                        json_pack("{s:s, s:s, s:s}", "type", type, "number", number, "country",
                                  gf(r, "idCountry")),
                        FREEZE_LIST_DOCUMENTS_MAX);
        return push(r, r->entity, "identifiers", json_pack("{s:s, s:s}", "type", type, "value", number),
                    FREEZE_LIST_IDENTIFIERS_MAX);
    }
    if (strcmp(name, "address") == 0) {
        char street[3 * (FREEZE_LIST_TEXT_MAX + 2)] = "";

        join(street, sizeof(street), ", ", gf(r, "address1"));
        join(street, sizeof(street), ", ", gf(r, "address2"));
        join(street, sizeof(street), ", ", gf(r, "address3"));
        if (check_text(r, "address", street, FREEZE_LIST_TEXT_MAX) != FREEZE_LIST_OK)
            return FREEZE_LIST_ERR_DATA;
        if (street[0] == '\0' && gf(r, "city")[0] == '\0' && gf(r, "stateOrProvince")[0] == '\0' &&
            gf(r, "postalCode")[0] == '\0' && gf(r, "country")[0] == '\0')
            return FREEZE_LIST_OK;
        return push(r, r->entity, "addresses",
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "street", street, "city", gf(r, "city"),
                              "region", gf(r, "stateOrProvince"), "postal_code",
                              gf(r, "postalCode"), "country", gf(r, "country")),
                    FREEZE_LIST_ADDRESSES_MAX);
    }
    if (strcmp(name, "nationality") == 0 || strcmp(name, "citizenship") == 0)
        return push_text(r, r->entity, "nationalities", gf(r, "country"),
                         FREEZE_LIST_NATIONALITIES_MAX);
    if (strcmp(name, "dateOfBirthItem") == 0) {
        const char *s = gf(r, "dateOfBirth");
        char v[16];

        if (s[0] == '\0')
            return FREEZE_LIST_OK;
        if (!ofac_date(s, v))
            return fault(r, line_now(r), "dateOfBirth '%.40s' is none of 'DD Mon YYYY', 'Mon YYYY', "
                                         "'YYYY', 'YYYY to YYYY', 'circa YYYY'", s);
        return push(r, r->entity, "born", json_string(v), FREEZE_LIST_BORN_MAX);
    }
    if (strcmp(name, "placeOfBirthItem") == 0)
        return push_text(r, r->entity, "birth_places", gf(r, "placeOfBirth"), FREEZE_LIST_PLACES_MAX);
    return FREEZE_LIST_OK;
}

/* ---- The walk ---------------------------------------------------------------------------- */

/* The element where groups start: directly below the entry (UN), or below a *List (OFAC). */
static size_t
group_level(const rd *r)
{
    return r->fmt == FREEZE_LIST_UN_XML ? 1 : 2;
}

/* An element below the entry ends; path_names[path_len - 1] is its name. */
static freeze_list_err
element_end(rd *r)
{
    const char *name = r->path_names[r->path_len - 1];
    const char *parent = r->path_len >= 2 ? r->path_names[r->path_len - 2] : r->entry_name;
    size_t level = r->path_len;
    bool taken = false;
    freeze_list_err err;

    if (r->text_over)
        return fault(r, line_now(r), "%s is longer than %u bytes", name, FREEZE_LIST_REASONS_MAX);
    r->text[r->text_len] = '\0';
    if (!tidy(r->text))
        return fault(r, line_now(r), "%s holds a control character", name);
    if (level == 1) {
        err = r->fmt == FREEZE_LIST_UN_XML ? un_leaf1(r, name, r->text) : ofac_leaf1(r, name, r->text);
        if (err != FREEZE_LIST_OK)
            return err;
        if (level == group_level(r))
            err = r->fmt == FREEZE_LIST_UN_XML ? un_group_end(r, name) : ofac_group_end(r, name);
        return err;
    }
    if (level == 2) {
        err = r->fmt == FREEZE_LIST_UN_XML ? un_leaf2(r, parent, name, r->text, &taken)
                                           : ofac_leaf2(r, parent, name, r->text, &taken);
        if (err != FREEZE_LIST_OK || taken)
            return err;
        if (level == group_level(r))
            return ofac_group_end(r, name);
    }
    /* A leaf of the group being read. */
    if (level == group_level(r) + 1 && r->g.count < GROUP_FIELDS) {
        if (strlen(r->text) > FREEZE_LIST_TEXT_MAX)
            return fault(r, line_now(r), "%s is longer than %u bytes", name, FREEZE_LIST_TEXT_MAX);
        memcpy(r->g.names[r->g.count], name, strlen(name) + 1); /* both NAME_MAX_ bytes */
        memcpy(r->g.values[r->g.count], r->text, strlen(r->text) + 1);
        r->g.count++;
    }
    return FREEZE_LIST_OK;
}

static void
text_append(rd *r, const char *s)
{
    size_t n = strlen(s);

    if (r->text_len + n >= BUF_MAX) {
        r->text_over = true;
        return;
    }
    memcpy(r->text + r->text_len, s, n);
    r->text_len += n;
}

/* A start element below the root. */
static freeze_list_err
element_start(rd *r, const char *name, int depth)
{
    if (!r->in_entry) {
        bool entry = r->fmt == FREEZE_LIST_UN_XML
                         ? depth == 2 && (strcmp(name, "INDIVIDUAL") == 0 || strcmp(name, "ENTITY") == 0)
                         : depth == 1 && strcmp(name, "sdnEntry") == 0;

        return entry ? entry_begin(r, name) : FREEZE_LIST_OK;
    }
    if (r->path_len == FREEZE_LIST_DEPTH_MAX)
        return fault(r, line_now(r), "elements nested deeper than %u in entry %s",
                     FREEZE_LIST_DEPTH_MAX, r->reference[0] ? r->reference : r->entry_name);
    snprintf(r->path_names[r->path_len++], NAME_MAX_, "%s", name);
    if (r->path_len == group_level(r))
        r->g.count = 0;
    r->text_len = 0;
    r->text_over = false;
    return FREEZE_LIST_OK;
}

static freeze_list_err
walk(rd *r, freeze_list_entry_fn fn, void *arg)
{
    const char *root = r->fmt == FREEZE_LIST_UN_XML ? "CONSOLIDATED_LIST" : "sdnList";
    bool seen_root = false;
    freeze_list_err err = FREEZE_LIST_OK;
    int ret;

    while ((ret = xmlTextReaderRead(r->reader)) == 1) {
        int type = xmlTextReaderNodeType(r->reader);
        int depth = xmlTextReaderDepth(r->reader);
        const char *name = (const char *)xmlTextReaderConstLocalName(r->reader);

        if (name == NULL)
            name = "";
        switch (type) {
        case XML_READER_TYPE_DOCUMENT_TYPE:
            return fault(r, line_now(r), "a document type declaration (before this line) is refused");
        case XML_READER_TYPE_ENTITY_REFERENCE:
        case XML_READER_TYPE_ENTITY:
            return fault(r, line_now(r), "entity references are refused (&%s;)", name);
        case XML_READER_TYPE_ELEMENT:
            if (depth == 0) {
                if (seen_root || strcmp(name, root) != 0)
                    return fault(r, line_now(r), "the root element is <%s>, not <%s> (is this "
                                                 "the %s?)", name, root,
                                 r->fmt == FREEZE_LIST_UN_XML ? "UN consolidated list"
                                                              : "OFAC SDN list");
                seen_root = true;
                break;
            }
            if (r->in_entry && depth <= r->entry_depth)
                return fault(r, line_now(r), "unexpected <%s>", name);
            if ((err = element_start(r, name, depth)) != FREEZE_LIST_OK)
                return err;
            if (xmlTextReaderIsEmptyElement(r->reader)) {
                if (r->in_entry && depth == r->entry_depth) {
                    if ((err = entry_end(r, fn, arg)) != FREEZE_LIST_OK)
                        return err;
                } else if (r->in_entry) {
                    if ((err = element_end(r)) != FREEZE_LIST_OK)
                        return err;
                    r->path_len--;
                    r->text_len = 0;
                }
            }
            break;
        case XML_READER_TYPE_END_ELEMENT:
            if (!r->in_entry)
                break;
            if (depth == r->entry_depth) {
                if ((err = entry_end(r, fn, arg)) != FREEZE_LIST_OK)
                    return err;
            } else if (r->path_len > 0) {
                if ((err = element_end(r)) != FREEZE_LIST_OK)
                    return err;
                r->path_len--;
                r->text_len = 0;
                r->text_over = false;
            }
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
        case XML_READER_TYPE_WHITESPACE:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            if (r->in_entry) {
                const char *v = (const char *)xmlTextReaderConstValue(r->reader);

                if (v != NULL)
                    text_append(r, v);
            }
            break;
        default:
            break;
        }
    }
    if (ret < 0 || r->xml_error[0] != '\0') {
        long consumed = xmlTextReaderByteConsumed(r->reader);

        /* libxml2's reader calls a file that stops inside its root "extra content"; when it
         * stopped at the end (but for a last line feed), say what happened. */
        if (seen_root && r->size > 0 && consumed + 1 >= r->size)
            return fault(r, r->xml_error_line > 0 ? r->xml_error_line : line_now(r),
                         "the file ends before </%s> (truncated?): %s", root,
                         r->xml_error[0] ? r->xml_error : "unreadable");
        return fault(r, r->xml_error_line > 0 ? r->xml_error_line : line_now(r),
                     "malformed XML: %s", r->xml_error[0] ? r->xml_error : "unreadable");
    }
    if (!seen_root)
        return fault(r, line_now(r), "no <%s> element (empty file?)", root);
    if (r->in_entry)
        return fault(r, r->entry_line, "the file ends inside an entry");
    return FREEZE_LIST_OK;
}

/* Reads with reader (taken over, freed here), named path in messages, size bytes long. */
static freeze_list_err
read_with(xmlTextReaderPtr reader, const char *path, long size, freeze_list_format fmt,
          freeze_list_entry_fn fn, void *arg, size_t *count_out, char *why, size_t why_len)
{
    rd *r = NULL;
    freeze_list_err err;

    if (reader == NULL) {
        snprintf(why, why_len, "%s: cannot open the file as XML", path);
        return FREEZE_LIST_ERR_NOINPUT;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        xmlFreeTextReader(reader);
        return FREEZE_LIST_ERR_NOMEM;
    }
    r->fmt = fmt;
    r->size = size;
    r->path = path;
    r->why = why;
    r->why_len = why_len;
    r->reader = reader;
    xmlTextReaderSetStructuredErrorHandler(r->reader, on_xml_error, r);
    err = walk(r, fn, arg);
    if (count_out != NULL)
        *count_out = r->count;
    json_decref(r->m);
    xmlFreeTextReader(r->reader);
    refset_free(&r->refs);
    free(r);
    return err;
}

/* No network, no DTD loaded, no entity substituted (XML_PARSE_NOENT is not given); line
 * numbers past 65535 kept. */
#define READER_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES)

static bool
args_ok(const char *path, freeze_list_format fmt, freeze_list_entry_fn fn, char *why,
        size_t why_len)
{
    return path != NULL && fn != NULL && why != NULL && why_len > 0 &&
           (fmt == FREEZE_LIST_UN_XML || fmt == FREEZE_LIST_OFAC_XML);
}

freeze_list_err
freeze_list_read(const char *path, freeze_list_format fmt, freeze_list_entry_fn fn, void *arg,
                 size_t *count_out, char *why, size_t why_len)
{
    FILE *probe;
    long size;

    if (count_out != NULL)
        *count_out = 0;
    if (!args_ok(path, fmt, fn, why, why_len))
        return FREEZE_LIST_ERR_INVALID;
    why[0] = '\0';
    if ((probe = fopen(path, "rb")) == NULL) {
        snprintf(why, why_len, "%s: cannot open the file", path);
        return FREEZE_LIST_ERR_NOINPUT;
    }
    size = fseek(probe, 0, SEEK_END) == 0 ? ftell(probe) : -1;
    fclose(probe);
    return read_with(xmlReaderForFile(path, NULL, READER_OPTIONS), path, size, fmt, fn, arg,
                     count_out, why, why_len);
}

freeze_list_err
freeze_list_read_memory(const char *data, size_t len, const char *name, freeze_list_format fmt,
                        freeze_list_entry_fn fn, void *arg, size_t *count_out, char *why,
                        size_t why_len)
{
    if (count_out != NULL)
        *count_out = 0;
    if (data == NULL || len > (size_t)INT32_MAX || !args_ok(name, fmt, fn, why, why_len))
        return FREEZE_LIST_ERR_INVALID;
    why[0] = '\0';
    return read_with(xmlReaderForMemory(data, (int)len, name, NULL, READER_OPTIONS), name,
                     (long)len, fmt, fn, arg, count_out, why, why_len);
}

json_t *
freeze_list_members(const json_t *body)
{
    static const char *const keys[] = {"list", "reference", "programmes", "listed",
                                       "amended", "entity", "reasons"};
    json_t *m = json_object();

    if (m == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(body, keys[i]);

        if (v != NULL && json_object_set(m, keys[i], v) != 0) {
            json_decref(m);
            return NULL;
        }
    }
    return m;
}

char *
freeze_list_canonical(const json_t *members)
{
    return json_dumps(members, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
}
