/* The agent's records: checks of entries and reports, JSON in the store, and lookups with the matcher. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "match.h"

#define NAMES_MAX 16u       /* names of one entry */
#define DOCUMENTS_MAX 16u   /* documents of one entry or subject */
#define TEXT_FIELD_MAX 256u /* bytes of a name, type, country or number */

/* ---- Small helpers ----------------------------------------------------------------- */

void
agent_designation_key(const char *from, const char *designation, uint32_t version, char *buf,
                      size_t buf_len)
{
    snprintf(buf, buf_len, "%s %s %010u", from, designation, version);
}

json_t *
agent_json_load(const void *val, size_t len)
{
    return json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
}

agent_store_err
agent_json_put(agent_txn *txn, agent_table table, const char *key, const json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    agent_store_err err;

    if (text == NULL)
        return AGENT_STORE_ERR_NOMEM;
    err = agent_store_put(txn, table, key, strlen(key), text, strlen(text));
    free(text);
    return err;
}

agent_store_err
agent_json_get(agent_txn *txn, agent_table table, const char *key, json_t **o_out)
{
    const void *val;
    size_t len;
    agent_store_err err = agent_store_get(txn, table, key, strlen(key), &val, &len);

    if (err != AGENT_STORE_OK)
        return err;
    *o_out = agent_json_load(val, len);
    return *o_out != NULL ? AGENT_STORE_OK : AGENT_STORE_ERR_INVALID;
}

agent_store_err
agent_blob_put(agent_txn *txn, agent_table table, const void *key, size_t key_len,
               const json_t *meta, const void *data, size_t len)
{
    char *text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    size_t tlen = text != NULL ? strlen(text) : 0;
    uint8_t *buf = NULL;
    agent_store_err err = AGENT_STORE_ERR_NOMEM;

    if (text == NULL || tlen > UINT32_MAX || (buf = malloc(4 + tlen + len)) == NULL)
        goto out;
    buf[0] = (uint8_t)(tlen >> 24);
    buf[1] = (uint8_t)(tlen >> 16);
    buf[2] = (uint8_t)(tlen >> 8);
    buf[3] = (uint8_t)tlen;
    memcpy(buf + 4, text, tlen);
    if (len > 0)
        memcpy(buf + 4 + tlen, data, len);
    err = agent_store_put(txn, table, key, key_len, buf, 4 + tlen + len);
out:
    free(buf);
    free(text);
    return err;
}

agent_store_err
agent_blob_get(agent_txn *txn, agent_table table, const void *key, size_t key_len,
               json_t **meta_out, const uint8_t **data_out, size_t *len_out)
{
    const void *val;
    const uint8_t *v;
    size_t len, tlen;
    agent_store_err err = agent_store_get(txn, table, key, key_len, &val, &len);

    if (err != AGENT_STORE_OK)
        return err;
    v = val;
    if (len < 4)
        return AGENT_STORE_ERR_INVALID;
    tlen = (size_t)v[0] << 24 | (size_t)v[1] << 16 | (size_t)v[2] << 8 | v[3];
    if (tlen > len - 4)
        return AGENT_STORE_ERR_INVALID;
    *meta_out = agent_json_load(v + 4, tlen);
    if (*meta_out == NULL)
        return AGENT_STORE_ERR_INVALID;
    *data_out = v + 4 + tlen;
    *len_out = len - 4 - tlen;
    return AGENT_STORE_OK;
}

/* ---- Checks ----------------------------------------------------------------------- */

bool
agent_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return false;
}

bool
agent_text_valid(const json_t *v, size_t min, size_t max)
{
    const char *s;
    size_t n;

    if (!json_is_string(v))
        return false;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n < min || n > max || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

/* A string member of 1 to max bytes without control characters. */
static bool
text_ok(const json_t *v, size_t max)
{
    return agent_text_valid(v, 1, max);
}

static bool
optional_text(const json_t *o, const char *member, size_t max, char *why, size_t why_len)
{
    const json_t *v = json_object_get(o, member);

    if (v == NULL || text_ok(v, max))
        return true;
    return agent_why(why, why_len, "\"%s\" must be a non-empty string without control characters", member);
}

static bool
date_ok(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    size_t n = strlen(s);

    if (n != 4 && n != 7 && n != 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != '-')
            return false;
    }
    return true;
}

/* Checks a {"type", "number", "country"} object. */
static bool
document_ok(const json_t *d, char *why, size_t why_len)
{
    char norm[MATCH_DOC_MAX];

    if (!json_is_object(d))
        return agent_why(why, why_len, "a document must be an object {type, number, country}");
    if (!text_ok(json_object_get(d, "number"), TEXT_FIELD_MAX) ||
        !match_doc_normalise(json_string_value(json_object_get(d, "number")), norm, sizeof(norm)))
        return agent_why(why, why_len, "a document needs a \"number\" with letters or digits (at most %u "
                    "once normalised)", MATCH_DOC_MAX - 1);
    return optional_text(d, "type", 64, why, why_len) &&
           optional_text(d, "country", 64, why, why_len);
}

json_t *
agent_entry_check(const json_t *entry, char *why, size_t why_len)
{
    json_t *e = NULL, *names, *v;
    const char *ref;
    size_t i;

    if (!json_is_object(entry)) {
        agent_why(why, why_len, "an entry must be a JSON object");
        return NULL;
    }
    if (!text_ok(json_object_get(entry, "ref"), AGENT_REF_MAX)) {
        agent_why(why, why_len, "an entry needs a \"ref\" (1 to %u bytes, no control characters)", AGENT_REF_MAX);
        return NULL;
    }
    ref = json_string_value(json_object_get(entry, "ref"));
    e = json_deep_copy(entry);
    if (e == NULL) {
        agent_why(why, why_len, "out of memory");
        return NULL;
    }
    json_object_del(e, "details_portion");
    if (json_object_get(e, "type") == NULL)
        json_object_set_new(e, "type", json_string("person"));
    if (!optional_text(e, "type", 64, why, why_len))
        goto bad;
    if ((v = json_object_get(e, "name")) != NULL) {
        if (json_object_get(e, "names") != NULL) {
            agent_why(why, why_len, "entry %s: give \"names\" or \"name\", not both", ref);
            goto bad;
        }
        names = json_array();
        json_array_append(names, v);
        json_object_set_new(e, "names", names);
        json_object_del(e, "name");
    }
    names = json_object_get(e, "names");
    if (!json_is_array(names) || json_array_size(names) == 0 || json_array_size(names) > NAMES_MAX) {
        agent_why(why, why_len, "entry %s: \"names\" must list 1 to 16 names", ref);
        goto bad;
    }
    json_array_foreach(names, i, v) {
        match_name m;

        if (!text_ok(v, TEXT_FIELD_MAX)) {
            agent_why(why, why_len, "entry %s: each name must be a non-empty string", ref);
            goto bad;
        }
        match_name_parse(json_string_value(v), &m);
        if (m.count == 0) {
            agent_why(why, why_len, "entry %s: a name has no letters or digits", ref);
            goto bad;
        }
    }
    if ((v = json_object_get(e, "born")) != NULL &&
        (!json_is_string(v) || !date_ok(json_string_value(v)))) {
        agent_why(why, why_len, "entry %s: \"born\" must be YYYY-MM-DD, YYYY-MM or YYYY", ref);
        goto bad;
    }
    if ((v = json_object_get(e, "documents")) != NULL) {
        json_t *d;

        if (!json_is_array(v) || json_array_size(v) > DOCUMENTS_MAX) {
            agent_why(why, why_len, "entry %s: \"documents\" must be a list of at most 16", ref);
            goto bad;
        }
        json_array_foreach(v, i, d) {
            char inner[200];

            if (!document_ok(d, inner, sizeof(inner))) {
                snprintf(why, why_len, "entry %s: %s", ref, inner);
                goto bad;
            }
        }
    }
    if ((v = json_object_get(e, "details")) != NULL && !json_is_string(v) && !json_is_object(v)) {
        agent_why(why, why_len, "entry %s: \"details\" must be a string or an object", ref);
        goto bad;
    }
    if ((v = json_object_get(e, "details_labels")) != NULL) {
        proto_labels l;

        if (!json_is_string(v) || proto_labels_parse(json_string_value(v), &l, NULL) != PROTO_OK) {
            agent_why(why, why_len, "entry %s: \"details_labels\" do not parse as labels", ref);
            goto bad;
        }
    }
    return e;
bad:
    json_decref(e);
    return NULL;
}

/* The statuses of docs/messages.md, traveldoc.report. */
static bool
status_ok(const char *s)
{
    return strcmp(s, "stolen") == 0 || strcmp(s, "lost") == 0 || strcmp(s, "forged") == 0 ||
           strcmp(s, "fraudulently-used") == 0;
}

json_t *
agent_doc_check(const json_t *report, char *why, size_t why_len)
{
    json_t *r = NULL, *v;
    char today[32];

    if (!json_is_object(report)) {
        agent_why(why, why_len, "a report must be a JSON object");
        return NULL;
    }
    if (!text_ok(json_object_get(report, "ref"), AGENT_REF_MAX)) {
        agent_why(why, why_len, "a report needs a \"ref\" (1 to %u bytes, no control characters)", AGENT_REF_MAX);
        return NULL;
    }
    if (!document_ok(json_object_get(report, "document"), why, why_len))
        return NULL;
    v = json_object_get(report, "status");
    if (!json_is_string(v) || !status_ok(json_string_value(v))) {
        agent_why(why, why_len, "\"status\" must be one of stolen, lost, forged, fraudulently-used");
        return NULL;
    }
    v = json_object_get(report, "reported");
    if (v != NULL && (!json_is_string(v) || !date_ok(json_string_value(v)))) {
        agent_why(why, why_len, "\"reported\" must be a date YYYY-MM-DD");
        return NULL;
    }
    r = json_deep_copy(report);
    if (r == NULL) {
        agent_why(why, why_len, "out of memory");
        return NULL;
    }
    json_object_del(r, "schema");
    if (v == NULL) {
        proto_date_format(liaison_now_ms(), today);
        json_object_set_new(r, "reported", json_string(today));
    }
    return r;
}

/* ---- Lookups ---------------------------------------------------------------------- */

/* One subject being looked up, parsed once. */
typedef struct subject {
    match_name names[NAMES_MAX];     /* its names, parsed */
    size_t name_count;               /* entries used */
    const char *type;                /* "person", ...; NULL if not given */
    const char *born;                /* its date of birth; NULL if not given */
    const json_t *documents;         /* its documents (array), or NULL */
    double threshold;                /* a name hit at or above this */
} subject;

/* State of one search. */
typedef struct search {
    const subject *subj;             /* what is looked for (watchlist) */
    const json_t *document;          /* what is looked for (traveldoc) */
    bool partners;                   /* the table holds partners' records */
    bool with_source;                /* add "source" to each hit */
    json_t *hits;                    /* the hits so far */
} search;

static const char *
str_member(const json_t *o, const char *member)
{
    const json_t *v = json_object_get(o, member);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
doc_matches(const json_t *a, const json_t *b)
{
    return match_doc_same(str_member(a, "number"), str_member(a, "type"), str_member(a, "country"),
                          str_member(b, "number"), str_member(b, "type"), str_member(b, "country"));
}

static double
rounded(double score)
{
    return (double)(long)(score * 1000.0 + 0.5) / 1000.0;
}

/* Adds a hit in score order, keeping at most AGENT_HITS_MAX. */
static void
add_hit(json_t *hits, json_t *hit)
{
    double score = json_real_value(json_object_get(hit, "score"));
    size_t at = json_array_size(hits);

    for (size_t i = 0; i < json_array_size(hits); i++) {
        if (score > json_real_value(json_object_get(json_array_get(hits, i), "score"))) {
            at = i;
            break;
        }
    }
    json_array_insert_new(hits, at, hit);
    while (json_array_size(hits) > AGENT_HITS_MAX)
        json_array_remove(hits, json_array_size(hits) - 1);
}

/* Compares one entry with the subject; adds a hit when it is one. */
static void
consider_entry(search *s, const json_t *entry, const char *source)
{
    const subject *subj = s->subj;
    const char *type = str_member(entry, "type");
    const json_t *names = json_object_get(entry, "names");
    const json_t *docs = json_object_get(entry, "documents");
    double best = 0.0;
    const char *best_name = NULL;
    bool doc_hit = false, name_hit;
    match_date born;
    json_t *hit, *matched;
    size_t i, k;
    const json_t *n, *d, *q;

    if (subj->type != NULL && type != NULL && strcmp(subj->type, type) != 0)
        return;
    json_array_foreach(names, i, n) {
        match_name m;

        if (!json_is_string(n))
            continue;
        match_name_parse(json_string_value(n), &m);
        for (k = 0; k < subj->name_count; k++) {
            double score = match_name_score_parsed(&subj->names[k], &m);

            if (score > best || best_name == NULL) {
                best = score;
                best_name = json_string_value(n);
            }
        }
    }
    if (json_is_array(docs) && json_is_array(subj->documents)) {
        json_array_foreach(docs, i, d) {
            json_array_foreach(subj->documents, k, q) {
                if (doc_matches(d, q))
                    doc_hit = true;
            }
        }
    }
    born = match_date_compare(subj->born, str_member(entry, "born"));
    /* A name hit needs the score and no disagreement on the date of birth;
     * a document listed with the entry is a hit on its own. */
    name_hit = subj->name_count > 0 && match_is_hit(best, subj->threshold) &&
               born != MATCH_DATE_DIFFERENT;
    if (!name_hit && !doc_hit)
        return;
    hit = json_object();
    matched = json_array();
    json_object_set_new(hit, "ref", json_string(str_member(entry, "ref")));
    json_object_set_new(hit, "score", json_real(doc_hit ? 1.0 : rounded(best)));
    if (name_hit) {
        json_array_append_new(matched, json_string("name"));
        if (born == MATCH_DATE_SAME)
            json_array_append_new(matched, json_string("born"));
    }
    if (doc_hit)
        json_array_append_new(matched, json_string("document"));
    json_object_set_new(hit, "matched", matched);
    if (best_name != NULL)
        json_object_set_new(hit, "name", json_string(best_name));
    if (s->with_source)
        json_object_set_new(hit, "source", json_string(source));
    add_hit(s->hits, hit);
}

static int
each_entry(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    search *s = ctx;
    json_t *rec = agent_json_load(val, val_len);

    (void)key;
    (void)key_len;
    if (rec == NULL)
        return 0;
    if (s->partners)
        consider_entry(s, json_object_get(rec, "entry"), str_member(rec, "from"));
    else
        consider_entry(s, rec, "own");
    json_decref(rec);
    return 0;
}

/* Scores the records the index found, in scan order, as a scan would have. */
static agent_store_err
consider_found(agent_txn *txn, search *s, const agent_index_recs *recs, agent_store_fn each)
{
    for (size_t i = 0; i < recs->count; i++) {
        const agent_index_rec *r = &recs->recs[i];
        const void *val;
        size_t len;
        agent_store_err err = agent_store_get(txn, r->table, r->key, r->key_len, &val, &len);

        if (err == AGENT_STORE_ERR_NOT_FOUND)
            continue;
        if (err != AGENT_STORE_OK)
            return err;
        s->partners = r->table == AGENT_T_PARTNER_ENTRIES || r->table == AGENT_T_PARTNER_DOCS;
        each(s, r->key, r->key_len, val, len);
    }
    return AGENT_STORE_OK;
}

agent_store_err
agent_lookup_subject_how(agent_txn *txn, const json_t *subj_json, double threshold,
                         unsigned scope, bool with_source, agent_lookup_how *how,
                         json_t **hits_out)
{
    subject subj;
    search s;
    const json_t *v;
    agent_index_recs recs;
    agent_store_err err = AGENT_STORE_OK;
    size_t own = 0, partners = 0;

    memset(&subj, 0, sizeof(subj));
    memset(&recs, 0, sizeof(recs));
    subj.threshold = threshold;
    subj.type = str_member(subj_json, "type");
    subj.born = str_member(subj_json, "born");
    subj.documents = json_object_get(subj_json, "documents");
    if ((v = json_object_get(subj_json, "name")) != NULL && json_is_string(v))
        match_name_parse(json_string_value(v), &subj.names[subj.name_count++]);
    if ((v = json_object_get(subj_json, "names")) != NULL && json_is_array(v)) {
        size_t i;
        const json_t *n;

        json_array_foreach(v, i, n) {
            if (json_is_string(n) && subj.name_count < NAMES_MAX)
                match_name_parse(json_string_value(n), &subj.names[subj.name_count++]);
        }
    }
    memset(&s, 0, sizeof(s));
    s.subj = &subj;
    s.with_source = with_source;
    s.hits = json_array();
    if (s.hits == NULL)
        return AGENT_STORE_ERR_NOMEM;
    how->candidates = 0;
    if (!how->full_scan) {
        /* The index's candidates: names that score a hit, records listing a document. */
        const json_t *d;
        size_t i;

        err = agent_index_names(txn, subj.names, subj.name_count, threshold, scope, &recs,
                                &how->candidates);
        json_array_foreach(subj.documents, i, d) {
            char norm[MATCH_DOC_MAX];
            const char *number = str_member(d, "number");

            if (err == AGENT_STORE_OK && number != NULL &&
                match_doc_normalise(number, norm, sizeof(norm)))
                err = agent_index_docs(txn, norm, true, scope, &recs);
        }
        if (err != AGENT_STORE_OK)
            goto out;
        agent_index_recs_sort(&recs);
        if ((err = consider_found(txn, &s, &recs, each_entry)) != AGENT_STORE_OK)
            goto out;
        goto done;
    }
    if ((scope & AGENT_SCOPE_OWN) &&
        (err = agent_store_each(txn, AGENT_T_ENTRIES, NULL, each_entry, &s)) != AGENT_STORE_OK)
        goto out;
    s.partners = true;
    if ((scope & AGENT_SCOPE_PARTNERS) &&
        (err = agent_store_each(txn, AGENT_T_PARTNER_ENTRIES, NULL, each_entry, &s)) !=
            AGENT_STORE_OK)
        goto out;
    if ((scope & AGENT_SCOPE_OWN) &&
        (err = agent_store_count(txn, AGENT_T_ENTRIES, &own)) != AGENT_STORE_OK)
        goto out;
    if ((scope & AGENT_SCOPE_PARTNERS) &&
        (err = agent_store_count(txn, AGENT_T_PARTNER_ENTRIES, &partners)) != AGENT_STORE_OK)
        goto out;
    how->candidates = own + partners;
done:
    *hits_out = s.hits;
    s.hits = NULL;
out:
    agent_index_recs_free(&recs);
    json_decref(s.hits);
    return err;
}

agent_store_err
agent_lookup_subject(agent_txn *txn, const json_t *subj_json, double threshold, unsigned scope,
                     bool with_source, json_t **hits_out)
{
    agent_lookup_how how = {false, 0};

    return agent_lookup_subject_how(txn, subj_json, threshold, scope, with_source, &how, hits_out);
}

static int
each_doc(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    search *s = ctx;
    json_t *rec = agent_json_load(val, val_len);
    const json_t *report;
    json_t *hit;

    (void)key;
    (void)key_len;
    if (rec == NULL)
        return 0;
    report = s->partners ? json_object_get(rec, "report") : rec;
    if (doc_matches(json_object_get(report, "document"), s->document)) {
        hit = json_object();
        json_object_set_new(hit, "ref", json_string(str_member(report, "ref")));
        json_object_set_new(hit, "status", json_string(str_member(report, "status")));
        json_object_set_new(hit, "reported", json_string(str_member(report, "reported")));
        if (s->with_source)
            json_object_set_new(hit, "source",
                                json_string(s->partners ? str_member(rec, "from") : "own"));
        if (json_array_size(s->hits) < AGENT_HITS_MAX)
            json_array_append_new(s->hits, hit);
        else
            json_decref(hit);
    }
    json_decref(rec);
    return 0;
}

agent_store_err
agent_lookup_document_how(agent_txn *txn, const json_t *document, unsigned scope,
                          bool with_source, agent_lookup_how *how, json_t **hits_out)
{
    search s;
    agent_index_recs recs;
    agent_store_err err = AGENT_STORE_OK;

    memset(&s, 0, sizeof(s));
    memset(&recs, 0, sizeof(recs));
    s.document = document;
    s.with_source = with_source;
    s.hits = json_array();
    if (s.hits == NULL)
        return AGENT_STORE_ERR_NOMEM;
    how->candidates = 0;
    if (!how->full_scan) {
        char norm[MATCH_DOC_MAX];
        const char *number = str_member(document, "number");

        if (number != NULL && match_doc_normalise(number, norm, sizeof(norm)) &&
            (err = agent_index_docs(txn, norm, false, scope, &recs)) != AGENT_STORE_OK)
            goto out;
        agent_index_recs_sort(&recs);
        how->candidates = recs.count;
        if ((err = consider_found(txn, &s, &recs, each_doc)) != AGENT_STORE_OK)
            goto out;
        goto done;
    }
    if ((scope & AGENT_SCOPE_OWN) &&
        (err = agent_store_each(txn, AGENT_T_DOCS, NULL, each_doc, &s)) != AGENT_STORE_OK)
        goto out;
    s.partners = true;
    if ((scope & AGENT_SCOPE_PARTNERS) &&
        (err = agent_store_each(txn, AGENT_T_PARTNER_DOCS, NULL, each_doc, &s)) != AGENT_STORE_OK)
        goto out;
done:
    *hits_out = s.hits;
    s.hits = NULL;
out:
    agent_index_recs_free(&recs);
    json_decref(s.hits);
    return err;
}

agent_store_err
agent_lookup_document(agent_txn *txn, const json_t *document, unsigned scope, bool with_source,
                      json_t **hits_out)
{
    agent_lookup_how how = {false, 0};

    return agent_lookup_document_how(txn, document, scope, with_source, &how, hits_out);
}

void
agent_cargo_key(const char *from, const char *what, const char *id, char *buf, size_t buf_len)
{
    snprintf(buf, buf_len, "%s %s %s", from, what, id);
}

/* ---- Records filed from one message (recall and retention) ------------------------- */

/* What one table holds of one message. */
typedef struct recall_scan {
    const char *hex;           /* the message's id */
    const char *sender;        /* its sender */
    const json_t *records;     /* the named records, or NULL for all */
    const char *holder;        /* the member holding the record ("entry", "report"), or NULL */
    const char *ref_field;     /* the record's reference inside it ("ref", "designation", "id") */
    json_t *keys;              /* keys to delete */
    json_t *refs;              /* their references */
    const char *foreign;       /* a record of the message from another sender: that sender */
    size_t found;              /* records of the message found */
    char foreign_buf[40];      /* its storage */
} recall_scan;

static int
recall_each(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    recall_scan *sc = ctx;
    json_t *rec = agent_json_load(val, val_len), *holder;
    const char *msg = json_string_value(json_object_get(rec, "message"));
    const char *from = json_string_value(json_object_get(rec, "from"));
    const char *ref;
    bool named = sc->records == NULL;
    size_t i;
    json_t *x;

    if (rec == NULL || msg == NULL || strcmp(msg, sc->hex) != 0)
        goto out;
    if (from == NULL || strcmp(from, sc->sender) != 0) {
        snprintf(sc->foreign_buf, sizeof(sc->foreign_buf), "%s", from != NULL ? from : "?");
        sc->foreign = sc->foreign_buf;
        goto out;
    }
    holder = sc->holder != NULL ? json_object_get(rec, sc->holder) : rec;
    ref = json_string_value(json_object_get(holder, sc->ref_field));
    json_array_foreach(sc->records, i, x) {
        if (ref != NULL && json_is_string(x) && strcmp(json_string_value(x), ref) == 0)
            named = true;
    }
    if (named)
        sc->found++;
    if (named && sc->keys != NULL) {
        json_array_append_new(sc->keys, json_stringn(key, key_len));
        if (ref != NULL)
            json_array_append_new(sc->refs, json_string(ref));
    }
out:
    json_decref(rec);
    return 0;
}

/* The tables that hold records filed from a partner's message. */
static const struct {
    agent_table table;         /* the table */
    const char *holder;        /* the member holding the record, or NULL */
    const char *ref_field;     /* its reference */
    const char *kind;          /* the kind of message it is filed from; NULL: the record's "kind" */
} filed_tables[] = {
    {AGENT_T_PARTNER_ENTRIES, "entry", "ref", "watchlist.publish"},
    {AGENT_T_PARTNER_DOCS, "report", "ref", "traveldoc.report"},
    {AGENT_T_DESIGNATIONS, NULL, "designation", "freeze.designation"},
    {AGENT_T_CARGO, NULL, "id", NULL},
};

agent_store_err
agent_records_of_message(agent_txn *txn, const char *hex, const char *sender,
                         const json_t *records, bool remove, json_t *refs, size_t *found_out,
                         char *foreign)
{
    agent_store_err err = AGENT_STORE_OK;
    size_t found = 0;

    if (foreign != NULL)
        foreign[0] = '\0';
    for (size_t i = 0; err == AGENT_STORE_OK && i < sizeof(filed_tables) / sizeof(filed_tables[0]);
         i++) {
        recall_scan sc;

        memset(&sc, 0, sizeof(sc));
        sc.hex = hex;
        sc.sender = sender;
        sc.records = records;
        sc.holder = filed_tables[i].holder;
        sc.ref_field = filed_tables[i].ref_field;
        sc.keys = json_array();
        sc.refs = refs != NULL ? refs : json_array();
        if (sc.keys == NULL || sc.refs == NULL)
            err = AGENT_STORE_ERR_NOMEM;
        if (err == AGENT_STORE_OK)
            err = agent_store_each(txn, filed_tables[i].table, NULL, recall_each, &sc);
        if (sc.foreign != NULL && foreign != NULL)
            snprintf(foreign, 40, "%s", sc.foreign);
        found += sc.found;
        for (size_t k = 0; remove && err == AGENT_STORE_OK && k < json_array_size(sc.keys); k++) {
            const char *key = json_string_value(json_array_get(sc.keys, k));

            err = agent_store_del(txn, filed_tables[i].table, key, strlen(key));
            /* A designation's pending implement request goes with it. */
            if (err == AGENT_STORE_OK && filed_tables[i].table == AGENT_T_DESIGNATIONS &&
                (err = agent_store_del(txn, AGENT_T_IMPLEMENT, key, strlen(key))) ==
                    AGENT_STORE_ERR_NOT_FOUND)
                err = AGENT_STORE_OK;
        }
        json_decref(sc.keys);
        if (refs == NULL)
            json_decref(sc.refs);
    }
    /* A publication's part: the hashes of its version go with it. */
    if (err == AGENT_STORE_OK && records == NULL)
        err = agent_publication_of_message(txn, hex, sender, remove, refs, &found);
    if (err == AGENT_STORE_OK && found_out != NULL)
        *found_out = found;
    return err;
}

agent_store_err
agent_filed_put(agent_txn *txn, const liaison_event *e)
{
    uint8_t hash[PROTO_HASH_BYTES];
    char hash_hex[2 * PROTO_HASH_BYTES + 1];
    json_t *o;
    char *text;
    agent_store_err err;

    proto_sha256(e->raw, e->raw_len, hash);
    proto_hex(hash, PROTO_HASH_BYTES, hash_hex);
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "kind", e->kind, "from", e->sender,
                  "message", e->id_hex, "labels", e->labels, "case", e->case_id, "created_ms",
                  (json_int_t)e->created_ms, "envelope_hash", hash_hex);
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return AGENT_STORE_ERR_NOMEM;
    err = agent_store_put(txn, AGENT_T_FILED, e->id, 16, text, strlen(text));
    free(text);
    return err;
}

/* ---- Messages received, by kind or by id ------------------------------------------ */

typedef struct kind_walk {
    const char *kind;      /* the kind sought */
    agent_kept_fn fn;      /* the caller's */
    void *arg;             /* passed to it */
} kind_walk;

static int
kept_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    kind_walk *w = ctx;
    const uint8_t *v = val;
    size_t mlen;
    json_t *meta;
    const char *kind;
    int rc = 0;

    if (key_len != 16 || val_len < 4)
        return 0;
    mlen = (size_t)v[0] << 24 | (size_t)v[1] << 16 | (size_t)v[2] << 8 | v[3];
    if (mlen > val_len - 4 || (meta = agent_json_load(v + 4, mlen)) == NULL)
        return 0;
    kind = json_string_value(json_object_get(meta, "kind"));
    if (kind != NULL && strcmp(kind, w->kind) == 0)
        rc = w->fn(w->arg, key, meta);
    json_decref(meta);
    return rc;
}

agent_store_err
agent_kept_each_kind(agent_txn *txn, const char *kind, agent_kept_fn fn, void *arg)
{
    kind_walk w = {kind, fn, arg};

    return agent_store_each(txn, AGENT_T_KEPT, NULL, kept_one, &w);
}

typedef struct record_find {
    const char *hex;       /* the message id sought */
    json_t *found;         /* {from, message, case} of the first record filed from it */
} record_find;

static int
record_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    record_find *f = ctx;
    json_t *rec = agent_json_load(val, val_len);
    const char *msg = json_string_value(json_object_get(rec, "message"));
    const char *from = json_string_value(json_object_get(rec, "from"));
    const char *case_id = json_string_value(json_object_get(rec, "case"));

    (void)key;
    (void)key_len;
    if (msg != NULL && from != NULL && strcmp(msg, f->hex) == 0)
        f->found = json_pack("{s:s, s:s, s:s}", "from", from, "message", msg, "case",
                             case_id != NULL ? case_id : "");
    json_decref(rec);
    return f->found != NULL ? 1 : 0;
}

agent_store_err
agent_message_meta(agent_txn *txn, const uint8_t id[16], json_t **meta_out)
{
    const uint8_t *raw;
    size_t raw_len;
    const void *val;
    size_t len;
    char hex[33];
    record_find f;
    agent_store_err err;

    err = agent_blob_get(txn, AGENT_T_KEPT, id, 16, meta_out, &raw, &raw_len);
    if (err != AGENT_STORE_ERR_NOT_FOUND)
        return err;
    err = agent_store_get(txn, AGENT_T_FILED, id, 16, &val, &len);
    if (err == AGENT_STORE_OK)
        return (*meta_out = agent_json_load(val, len)) != NULL ? AGENT_STORE_OK
                                                              : AGENT_STORE_ERR_INVALID;
    if (err != AGENT_STORE_ERR_NOT_FOUND)
        return err;
    proto_hex(id, 16, hex);
    memset(&f, 0, sizeof(f));
    f.hex = hex;
    for (size_t i = 0; f.found == NULL && i < sizeof(filed_tables) / sizeof(filed_tables[0]);
         i++) {
        if ((err = agent_store_each(txn, filed_tables[i].table, NULL, record_one, &f)) !=
            AGENT_STORE_OK)
            return err;
    }
    if (f.found == NULL)
        return AGENT_STORE_ERR_NOT_FOUND;
    *meta_out = f.found;
    return AGENT_STORE_OK;
}

typedef struct unindexed_walk {
    agent_txn *txn;        /* the transaction */
    const char *kind;      /* the table's kind, or NULL */
    agent_kept_fn fn;      /* the caller's */
    void *arg;             /* passed to it */
} unindexed_walk;

static int
unindexed_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    unindexed_walk *w = ctx;
    json_t *rec = agent_json_load(val, val_len), *meta = NULL;
    const char *msg = json_string_value(json_object_get(rec, "message"));
    const char *from = json_string_value(json_object_get(rec, "from"));
    const char *kind = w->kind != NULL ? w->kind : json_string_value(json_object_get(rec, "kind"));
    const char *case_id = json_string_value(json_object_get(rec, "case"));
    const char *received = json_string_value(json_object_get(rec, "received"));
    const void *v;
    size_t len;
    uint8_t id[16];
    uint64_t created = 0;
    int rc = 0;

    (void)key;
    (void)key_len;
    if (msg == NULL || from == NULL || kind == NULL || strlen(msg) != 32 ||
        proto_unhex(msg, id, 16) != PROTO_OK ||
        agent_store_get(w->txn, AGENT_T_FILED, id, 16, &v, &len) != AGENT_STORE_ERR_NOT_FOUND ||
        agent_store_get(w->txn, AGENT_T_KEPT, id, 16, &v, &len) != AGENT_STORE_ERR_NOT_FOUND)
        goto out;
    if (json_is_integer(json_object_get(rec, "created")))
        created = (uint64_t)json_integer_value(json_object_get(rec, "created"));
    else if (received == NULL || !proto_time_parse(received, &created))
        goto out;
    meta = json_pack("{s:s, s:s, s:s, s:s, s:I}", "kind", kind, "from", from, "message", msg,
                     "case", case_id != NULL ? case_id : "", "created_ms", (json_int_t)created);
    if (meta != NULL)
        rc = w->fn(w->arg, id, meta);
out:
    json_decref(meta);
    json_decref(rec);
    return rc;
}

agent_store_err
agent_records_unindexed_each(agent_txn *txn, agent_kept_fn fn, void *arg)
{
    agent_store_err err = AGENT_STORE_OK;

    for (size_t i = 0; err == AGENT_STORE_OK && i < sizeof(filed_tables) / sizeof(filed_tables[0]);
         i++) {
        unindexed_walk w = {txn, filed_tables[i].kind, fn, arg};

        err = agent_store_each(txn, filed_tables[i].table, NULL, unindexed_one, &w);
    }
    return err;
}
