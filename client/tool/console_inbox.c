/* The web console's inbox, queries, recalls and consents, as JSON built from the casebook. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "console_inbox.h"
#include "liaison_proto.h"

/* ---- Keys of messages, and the newest of them in a bounded heap -------------------------- */

/* Where a message stands in a list, newest first: when it was stored here (the sender's
 * clock is the partner's word, and would let it pin its messages on top), then its id. */
typedef struct msg_key {
    uint64_t time_ms;                 /* when the casebook stored it */
    uint8_t id[CASEBOOK_ID_BYTES];    /* its id */
} msg_key;

static int
key_cmp(const msg_key *a, const msg_key *b)
{
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    return memcmp(a->id, b->id, CASEBOOK_ID_BYTES);
}

static int
key_cmp_desc(const void *a, const void *b)
{
    return key_cmp(b, a);
}

/* The cap newest keys offered: a min-heap (the oldest kept at the root). */
typedef struct newest {
    msg_key *keys;    /* cap entries */
    size_t count;     /* kept */
    size_t cap;       /* at most */
} newest;

static void
sift_down(newest *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        msg_key t;

        if (l < h->count && key_cmp(&h->keys[l], &h->keys[m]) < 0)
            m = l;
        if (r < h->count && key_cmp(&h->keys[r], &h->keys[m]) < 0)
            m = r;
        if (m == i)
            return;
        t = h->keys[i];
        h->keys[i] = h->keys[m];
        h->keys[m] = t;
        i = m;
    }
}

static void
newest_offer(newest *h, const msg_key *k)
{
    if (h->count < h->cap) {
        size_t i = h->count++;

        h->keys[i] = *k;
        while (i > 0 && key_cmp(&h->keys[i], &h->keys[(i - 1) / 2]) < 0) {
            msg_key t = h->keys[i];

            h->keys[i] = h->keys[(i - 1) / 2];
            h->keys[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (h->cap > 0 && key_cmp(k, &h->keys[0]) > 0) {
        h->keys[0] = *k;
        sift_down(h, 0);
    }
}

/* ---- Pieces of a row ------------------------------------------------------------------ */

static json_t *
time_or_null(uint64_t ms)
{
    char t[PROTO_TIME_TEXT_BYTES];

    return ms != 0 ? json_string(proto_time_format(ms, t)) : json_null();
}

static json_t *
text_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* The stated purpose in labels ("...//PURPOSE:<purpose>[//...]") into out, "" if none. */
static void
purpose_of(const char *labels, char *out, size_t len)
{
    const char *p = strstr(labels, "//PURPOSE:"), *end;

    out[0] = '\0';
    if (p == NULL)
        return;
    p += strlen("//PURPOSE:");
    end = strstr(p, "//");
    snprintf(out, len, "%.*s", (int)(end != NULL ? (size_t)(end - p) : strlen(p)), p);
}

/* Appends piece to the summary out (cap bytes), " - " between pieces; a piece that does
 * not fit is cut at a character boundary. */
static void
summary_add(char *out, size_t cap, const char *piece)
{
    size_t used = strlen(out), room, n;

    if (piece == NULL || piece[0] == '\0')
        return;
    if (used > 0) {
        if (used + 3 >= cap)
            return;
        memcpy(out + used, " - ", 4);
        used += 3;
    }
    room = cap - 1 - used;
    n = strlen(piece);
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)piece[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out + used, piece, n);
    out[used + n] = '\0';
}

/* The name a body speaks of: its own, its subject's, its entity's, or its first name. */
static const char *
name_in(json_t *b)
{
    static const char *const holders[] = {"subject", "entity", "entry"};
    const char *s = json_string_value(json_object_get(b, "name"));

    for (size_t i = 0; s == NULL && i < 3; i++) {
        json_t *h = json_object_get(b, holders[i]);

        s = json_string_value(json_object_get(h, "name"));
        if (s == NULL)
            s = json_string_value(json_array_get(json_object_get(h, "names"), 0));
    }
    return s;
}

/* One line of the content of body (portion 0 of a message of kind), from the fields known
 * per family: its result and hits, status or action, designation or reference, the name or
 * document it is about.  It stays partner data: text, never markup.  "" if none. */
static void
summary_of(const char *kind, json_t *b, char out[CONSOLE_SUMMARY_MAX])
{
    json_t *hits = json_object_get(b, "hits"), *doc = json_object_get(b, "document");
    const char *result = json_string_value(json_object_get(b, "result"));
    char piece[CONSOLE_SUMMARY_MAX];

    out[0] = '\0';
    if (result != NULL) {
        if (json_is_array(hits) && json_array_size(hits) > 0) {
            const char *first = json_string_value(json_object_get(json_array_get(hits, 0), "name"));

            snprintf(piece, sizeof(piece), "%s: %zu hit%s", result, json_array_size(hits),
                     json_array_size(hits) == 1 ? "" : "s");
            summary_add(out, CONSOLE_SUMMARY_MAX, piece);
            summary_add(out, CONSOLE_SUMMARY_MAX, first);
        } else {
            summary_add(out, CONSOLE_SUMMARY_MAX, result);
        }
    }
    summary_add(out, CONSOLE_SUMMARY_MAX, json_string_value(json_object_get(b, "status")));
    summary_add(out, CONSOLE_SUMMARY_MAX, json_string_value(json_object_get(b, "action")));
    summary_add(out, CONSOLE_SUMMARY_MAX, json_string_value(json_object_get(b, "designation")));
    if (strncmp(kind, "watchlist.", 10) == 0 || strncmp(kind, "traveldoc.", 10) == 0)
        summary_add(out, CONSOLE_SUMMARY_MAX, json_string_value(json_object_get(b, "ref")));
    if (strncmp(kind, "consent.", 8) == 0 || strncmp(kind, "recall.", 7) == 0) {
        summary_add(out, CONSOLE_SUMMARY_MAX, json_string_value(json_object_get(b, "content")));
        summary_add(out, CONSOLE_SUMMARY_MAX, json_string_value(json_object_get(b, "message")));
        summary_add(out, CONSOLE_SUMMARY_MAX, json_string_value(json_object_get(b, "reason")));
    }
    if (result == NULL || json_array_size(hits) == 0)
        summary_add(out, CONSOLE_SUMMARY_MAX, name_in(b));
    if (json_is_object(doc)) {
        const char *number = json_string_value(json_object_get(doc, "number"));
        const char *country = json_string_value(json_object_get(doc, "country"));

        if (number != NULL) {
            snprintf(piece, sizeof(piece), "%s%s%s%s", number, country != NULL ? " (" : "",
                     country != NULL ? country : "", country != NULL ? ")" : "");
            summary_add(out, CONSOLE_SUMMARY_MAX, piece);
        }
    }
}

/* The withheld portions of e as the console shows them: [{portion, labels, by, rule,
 * notice}], the notice as `liaison` commands word it.  *portion0 is set when portion 0 is
 * among them, and notice0 (len bytes) gets its notice. */
static json_t *
withheld_of(const casebook_entry *e, bool *portion0, char *notice0, size_t len)
{
    json_t *stored = e->withheld != NULL ? json_loads(e->withheld, 0, NULL) : NULL;
    json_t *list = json_array(), *w;
    size_t i;

    *portion0 = false;
    json_array_foreach(stored, i, w) {
        liaison_portion p;
        json_int_t index = json_integer_value(json_object_get(w, "portion"));
        const char *labels = json_string_value(json_object_get(w, "labels"));
        const char *by = json_string_value(json_object_get(w, "by"));
        const char *rule = json_string_value(json_object_get(w, "rule"));
        char notice[512];

        if (index < 0)
            continue;
        memset(&p, 0, sizeof(p));
        p.withheld = true;
        snprintf(p.labels, sizeof(p.labels), "%s", labels != NULL ? labels : "");
        snprintf(p.withheld_by, sizeof(p.withheld_by), "%s", by != NULL ? by : "");
        snprintf(p.withheld_rule, sizeof(p.withheld_rule), "%s", rule != NULL ? rule : "");
        cli_withheld_text(&p, (size_t)index, notice, sizeof(notice));
        if (index == 0) {
            *portion0 = true;
            snprintf(notice0, len, "%s", notice);
        }
        json_array_append_new(list, json_pack("{s:I, s:s, s:o, s:o, s:s}", "portion", index,
                                              "labels", p.labels, "by", text_or_null(by), "rule",
                                              text_or_null(rule), "notice", notice));
    }
    json_decref(stored);
    return list;
}

/* One received message as an inbox row (docs/console.md, "Inbox"). */
static json_t *
inbox_row(const casebook_entry *e)
{
    char hex[33], reply[33], labels[CASEBOOK_LABELS_MAX], purpose[CASEBOOK_LABELS_MAX];
    char summary[CONSOLE_SUMMARY_MAX] = "", notice0[512] = "";
    json_t *body = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL;
    json_t *row = json_object(), *unreadable = json_null();
    bool withheld0 = false;

    cli_labels_without_purpose(e->labels, labels, sizeof(labels));
    purpose_of(e->labels, purpose, sizeof(purpose));
    json_object_set_new(row, "id", json_string(proto_id_format(e->id, hex)));
    json_object_set_new(row, "kind", json_string(e->kind));
    json_object_set_new(row, "from", json_string(e->peer));
    json_object_set_new(row, "actor", text_or_null(e->actor));
    json_object_set_new(row, "case", text_or_null(e->case_id));
    json_object_set_new(row, "labels", json_string(labels));
    json_object_set_new(row, "purpose", text_or_null(purpose));
    json_object_set_new(row, "created", time_or_null(e->created_ms));
    json_object_set_new(row, "received", time_or_null(e->time_ms));
    json_object_set_new(row, "in_reply_to",
                        e->has_reply_to ? json_string(proto_id_format(e->in_reply_to, reply))
                                        : json_null());
    json_object_set_new(row, "withheld", withheld_of(e, &withheld0, notice0, sizeof(notice0)));
    if (json_is_object(body)) {
        summary_of(e->kind, body, summary);
    } else {
        json_decref(unreadable);
        unreadable = json_string(withheld0 ? notice0
                                 : e->body == NULL ? "portion 0 is not readable by this agency"
                                                   : "portion 0 is not a JSON object");
    }
    json_object_set_new(row, "summary", text_or_null(summary));
    json_object_set_new(row, "unreadable", unreadable);
    json_decref(body);
    return row;
}

/* ---- Inbox ------------------------------------------------------------------------------- */

/* A cursor: the key of the last message of a page, 16 hex digits of time then 32 of id. */
#define CURSOR_LEN 48u

static void
cursor_format(const msg_key *k, char out[CURSOR_LEN + 1])
{
    snprintf(out, 17, "%016" PRIx64, k->time_ms);
    proto_id_format(k->id, out + 16);
}

static bool
cursor_parse(const char *s, msg_key *k)
{
    char t[17];
    char *end = NULL;

    if (strlen(s) != CURSOR_LEN || strspn(s, "0123456789abcdef") != CURSOR_LEN)
        return false;
    memcpy(t, s, 16);
    t[16] = '\0';
    k->time_ms = strtoull(t, &end, 16);
    return end == t + 16 && proto_id_parse(s + 16, k->id) == PROTO_OK;
}

/* What the walk over the received messages collects for a page. */
typedef struct inbox_walk {
    newest heap;          /* the newest limit + 1 keys before the cursor */
    const msg_key *before; /* the cursor, or NULL */
    size_t total;         /* messages received in all */
} inbox_walk;

static int
each_inbox(void *arg, const casebook_entry *e)
{
    inbox_walk *w = arg;
    msg_key k;

    w->total++;
    k.time_ms = e->time_ms;
    memcpy(k.id, e->id, CASEBOOK_ID_BYTES);
    if (w->before == NULL || key_cmp(&k, w->before) < 0)
        newest_offer(&w->heap, &k);
    return 0;
}

json_t *
console_inbox_json(casebook *cb, size_t limit, const char *before, int *status, char *why,
                   size_t why_len)
{
    inbox_walk w;
    msg_key cursor;
    json_t *out = NULL, *rows = NULL;
    casebook_err err;
    size_t shown;

    memset(&w, 0, sizeof(w));
    if (limit == 0 || limit > CONSOLE_INBOX_LIMIT_MAX) {
        *status = 400;
        snprintf(why, why_len, "limit is 1 to %u", CONSOLE_INBOX_LIMIT_MAX);
        return NULL;
    }
    if (before != NULL) {
        if (!cursor_parse(before, &cursor)) {
            *status = 400;
            snprintf(why, why_len, "before is not a cursor of this inbox");
            return NULL;
        }
        w.before = &cursor;
    }
    w.heap.cap = limit + 1;
    if ((w.heap.keys = calloc(w.heap.cap, sizeof(*w.heap.keys))) == NULL) {
        *status = 500;
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    if ((err = casebook_each(cb, false, each_inbox, &w)) != CASEBOOK_OK) {
        *status = 500;
        snprintf(why, why_len, "the casebook cannot be read: %s", casebook_strerror(err));
        goto out;
    }
    qsort(w.heap.keys, w.heap.count, sizeof(*w.heap.keys), key_cmp_desc);
    shown = w.heap.count < limit ? w.heap.count : limit;
    rows = json_array();
    for (size_t i = 0; i < shown; i++) {
        casebook_entry *e = NULL;

        err = casebook_get(cb, false, w.heap.keys[i].id, false, &e);
        if (err == CASEBOOK_ERR_NOT_FOUND)
            continue; /* recalled since the walk: not to be shown */
        if (err != CASEBOOK_OK) {
            *status = 500;
            snprintf(why, why_len, "the casebook cannot be read: %s", casebook_strerror(err));
            goto out;
        }
        json_array_append_new(rows, inbox_row(e));
        casebook_entry_free(&e);
    }
    out = json_object();
    json_object_set_new(out, "total", json_integer((json_int_t)w.total));
    json_object_set_new(out, "messages", rows);
    rows = NULL;
    if (w.heap.count > limit) {
        char c[CURSOR_LEN + 1];

        cursor_format(&w.heap.keys[limit - 1], c);
        json_object_set_new(out, "next", json_string(c));
    } else {
        json_object_set_new(out, "next", json_null());
    }
out:
    json_decref(rows);
    free(w.heap.keys);
    return out;
}

/* ---- Queries ------------------------------------------------------------------------------ */

/* The kinds of query, and the schema of the answers to each. */
static const char *const query_kinds[][2] = {
    {"watchlist.query", "watchlist.answer/1"},
    {"traveldoc.check", "traveldoc.answer/1"},
    {"watchlist.request", "watchlist.details/1"},
    {"freeze.query", "freeze.answer/1"},
};
#define QUERY_KINDS (sizeof(query_kinds) / sizeof(query_kinds[0]))

static const char *
answer_schema(const char *kind)
{
    for (size_t i = 0; i < QUERY_KINDS; i++) {
        if (strcmp(kind, query_kinds[i][0]) == 0)
            return query_kinds[i][1];
    }
    return NULL;
}

static int
each_query_sent(void *arg, const casebook_entry *e)
{
    msg_key k;

    if (answer_schema(e->kind) == NULL)
        return 0;
    k.time_ms = e->time_ms;
    memcpy(k.id, e->id, CASEBOOK_ID_BYTES);
    newest_offer(arg, &k);
    return 0;
}

/* What a query is about, from its body: the name asked about, a document "AB123456 (CAN)",
 * or the reference requested.  "" if none. */
static void
subject_of(json_t *b, char *out, size_t len)
{
    json_t *s = json_object_get(b, "subject"), *doc = json_object_get(b, "document");
    const char *name = json_string_value(json_object_get(s, "name"));
    const char *ref = json_string_value(json_object_get(b, "ref"));

    if (!json_is_object(doc))
        doc = json_array_get(json_object_get(s, "documents"), 0);
    out[0] = '\0';
    if (name != NULL) {
        snprintf(out, len, "%s", name);
    } else if (json_is_object(doc) && json_string_value(json_object_get(doc, "number")) != NULL) {
        const char *country = json_string_value(json_object_get(doc, "country"));

        snprintf(out, len, "%s%s%s%s", json_string_value(json_object_get(doc, "number")),
                 country != NULL ? " (" : "", country != NULL ? country : "",
                 country != NULL ? ")" : "");
    } else if (ref != NULL) {
        snprintf(out, len, "%s", ref);
    }
}

/* A hit as the console shows it: ref (or designation), name, score, status, and the other
 * members as details. */
static json_t *
hit_json(json_t *h)
{
    static const char *const lead[] = {"ref", "designation", "name", "score", "status"};
    json_t *ref = json_object_get(h, "ref"), *name = json_object_get(h, "name");
    json_t *details = json_object(), *v;
    const char *key;

    if (ref == NULL)
        ref = json_object_get(h, "designation");
    if (name == NULL)
        name = json_array_get(json_object_get(h, "names"), 0);
    json_object_foreach(h, key, v) {
        bool shown = false;

        for (size_t i = 0; i < 5; i++)
            shown = shown || strcmp(key, lead[i]) == 0;
        if (!shown)
            json_object_set(details, key, v);
    }
    return json_pack("{s:O?, s:O?, s:O?, s:O?, s:o}", "ref", ref, "name", name, "score",
                     json_object_get(h, "score"), "status", json_object_get(h, "status"),
                     "details", details);
}

/* One query being built: its id, and its row once read. */
typedef struct query_slot {
    uint8_t id[CASEBOOK_ID_BYTES];   /* the query */
    const char *schema;              /* of its answers */
    json_t *answers;                 /* its answers (borrowed from its row) */
} query_slot;

typedef struct query_walk {
    query_slot *slots;   /* sorted by id */
    size_t count;        /* slots */
} query_walk;

static int
slot_cmp(const void *a, const void *b)
{
    return memcmp(((const query_slot *)a)->id, ((const query_slot *)b)->id, CASEBOOK_ID_BYTES);
}

/* One answer: from, id, actor, received, result, hits, withheld (and reason when it cannot
 * be read), its body parsed as the query commands parse it (cli_body_parse). */
static json_t *
answer_json(const casebook_entry *e, const char *schema)
{
    char hex[33], why[128], notice0[512] = "";
    bool withheld0 = false;
    json_t *withheld = withheld_of(e, &withheld0, notice0, sizeof(notice0));
    json_t *body = e->body != NULL ? cli_body_parse(e->body, schema, why) : NULL;
    json_t *hits = json_array(), *row, *h, *list;
    const char *result = json_string_value(json_object_get(body, "result"));
    size_t i;

    if (e->body == NULL)
        snprintf(why, sizeof(why), "%s", withheld0 ? notice0 : "portion 0 is not readable");
    list = json_object_get(body, "hits");
    json_array_foreach(list, i, h) {
        if (json_is_object(h))
            json_array_append_new(hits, hit_json(h));
    }
    if (json_is_object(json_object_get(body, "entry")))
        json_array_append_new(hits, hit_json(json_object_get(body, "entry")));
    row = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:o}", "from", e->peer, "id",
                    proto_id_format(e->id, hex), "actor", text_or_null(e->actor), "received",
                    time_or_null(e->time_ms), "result",
                    body == NULL ? "unreadable" : result != NULL ? result : "error", "hits", hits,
                    "withheld", withheld);
    if (body == NULL)
        json_object_set_new(row, "reason", json_string(why));
    json_decref(body);
    return row;
}

static int
each_answer(void *arg, const casebook_entry *e)
{
    query_walk *w = arg;
    query_slot probe, *q;

    if (!e->has_reply_to)
        return 0;
    memcpy(probe.id, e->in_reply_to, CASEBOOK_ID_BYTES);
    q = bsearch(&probe, w->slots, w->count, sizeof(*w->slots), slot_cmp);
    if (q != NULL && q->answers != NULL && json_array_size(q->answers) < CONSOLE_ANSWERS_MAX)
        json_array_append_new(q->answers, answer_json(e, q->schema));
    return 0;
}

/* Whether recipient r (an agency "CAN/RCMP", or a selector of all agencies of a nation, or
 * "*", when no roster resolved it) has an answer in answers: an answer from it, or from an agency it selects. */
static bool
answered(json_t *answers, const char *r)
{
    proto_addr sel, from_addr;
    bool selector = proto_addr_parse(r, &sel, NULL) == PROTO_OK &&
                    (sel.kind == PROTO_ADDR_NATION_ALL || sel.kind == PROTO_ADDR_ALL);
    size_t i, n = strlen(r);
    json_t *a;

    json_array_foreach(answers, i, a) {
        const char *from = json_string_value(json_object_get(a, "from"));

        if (from == NULL)
            continue;
        if (selector) {
            if (proto_addr_parse(from, &from_addr, NULL) == PROTO_OK &&
                proto_addr_matches(&sel, &from_addr))
                return true;
        } else if (strncmp(from, r, n) == 0 && (from[n] == '\0' || from[n] == '/')) {
            return true; /* the agency itself, or an agency of the nation r names */
        }
    }
    return false;
}

/* The agencies a query of kind to the recipients in to was addressed to: an agency as it is,
 * a selector (all agencies of a nation, or "*") resolved through roster to the agencies whose card accepts kind
 * (not revoked, self excepted), as the brokers resolve it.  Without a roster, or for a
 * recipient that does not parse, the recipient as it is. */
static json_t *
addressed(const proto_roster *roster, const char *self, const char *kind, json_t *to)
{
    json_t *out = json_array(), *r;
    size_t i;

    json_array_foreach(to, i, r) {
        const char *text = json_string_value(r);
        proto_addr sel;

        if (text == NULL)
            continue;
        if (roster == NULL || proto_addr_parse(text, &sel, NULL) != PROTO_OK ||
            (sel.kind != PROTO_ADDR_NATION_ALL && sel.kind != PROTO_ADDR_ALL)) {
            json_array_append(out, r);
            continue;
        }
        for (size_t k = 0; k < proto_roster_count(roster); k++) {
            const proto_roster_entry *e = proto_roster_at(roster, k);
            char addr[PROTO_ADDR_TEXT_MAX + 1];
            json_t *have;
            size_t j;
            bool dup = false;

            if (e->revoked || e->card.addr.kind != PROTO_ADDR_AGENCY ||
                !proto_addr_matches(&sel, &e->card.addr) || !proto_roster_accepts(e, kind))
                continue;
            proto_addr_format(&e->card.addr, addr, sizeof(addr));
            if (self != NULL && strcmp(addr, self) == 0)
                continue;
            json_array_foreach(out, j, have)
                dup = dup || strcmp(json_string_value(have), addr) == 0;
            if (!dup)
                json_array_append_new(out, json_string(addr));
        }
    }
    return out;
}

/* The delivery reports about query id that say it will not be answered (denied by policy,
 * refused, expired) as answers with that result. */
static casebook_err
refusals(casebook *cb, const uint8_t id[CASEBOOK_ID_BYTES], json_t *answers)
{
    casebook_report reports[64];
    size_t n = 0;
    casebook_err err = casebook_reports(cb, id, reports, 64, &n);

    for (size_t i = 0; err == CASEBOOK_OK && i < n; i++) {
        const casebook_report *r = &reports[i];

        if (strcmp(r->state, "denied") != 0 && strcmp(r->state, "refused") != 0 &&
            strcmp(r->state, "rejected") != 0 && strcmp(r->state, "expired") != 0)
            continue;
        json_array_append_new(answers,
                              json_pack("{s:s, s:n, s:n, s:o, s:s, s:[], s:[], s:o, s:o}",
                                        "from", r->recipient, "id", "actor", "received",
                                        time_or_null(r->time_ms), "result",
                                        strcmp(r->state, "expired") == 0 ? "expired" : "refused",
                                        "hits", "withheld", "reason", text_or_null(r->detail),
                                        "rule", text_or_null(r->rule_id)));
    }
    return err;
}

/* The row of a query sent, e; answers are added later. */
static json_t *
query_row(const casebook_entry *e, json_t **answers_out)
{
    char hex[33], purpose[CASEBOOK_LABELS_MAX], subject[256];
    json_t *body = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL;
    json_t *to = json_array(), *row;
    const char *r = e->recipients != NULL ? e->recipients : "";

    while (*r != '\0') {
        size_t n = strcspn(r, " ");

        if (n > 0)
            json_array_append_new(to, json_stringn(r, n));
        r += n;
        r += strspn(r, " ");
    }
    purpose_of(e->labels, purpose, sizeof(purpose));
    subject_of(body, subject, sizeof(subject));
    *answers_out = json_array();
    row = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:O}", "id", proto_id_format(e->id, hex),
                    "kind", e->kind, "sent", time_or_null(e->time_ms), "purpose",
                    text_or_null(purpose), "subject", text_or_null(subject), "to", to,
                    "answers", *answers_out);
    json_decref(*answers_out);
    json_decref(body);
    return row;
}

json_t *
console_queries_json(casebook *cb, const proto_roster *roster, const char *self, int *status,
                     char *why, size_t why_len)
{
    newest heap = {NULL, 0, CONSOLE_QUERIES_MAX};
    query_walk w = {NULL, 0};
    json_t *queries = json_array(), *out = NULL, *q;
    casebook_err err;
    size_t i;

    heap.keys = calloc(heap.cap, sizeof(*heap.keys));
    w.slots = calloc(heap.cap, sizeof(*w.slots));
    if (heap.keys == NULL || w.slots == NULL) {
        err = CASEBOOK_ERR_NOMEM;
        goto fail;
    }
    if ((err = casebook_each(cb, true, each_query_sent, &heap)) != CASEBOOK_OK)
        goto fail;
    qsort(heap.keys, heap.count, sizeof(*heap.keys), key_cmp_desc);
    for (i = 0; i < heap.count; i++) {
        casebook_entry *e = NULL;
        json_t *answers = NULL;

        if ((err = casebook_get(cb, true, heap.keys[i].id, false, &e)) != CASEBOOK_OK)
            goto fail;
        json_array_append_new(queries, query_row(e, &answers));
        memcpy(w.slots[w.count].id, e->id, CASEBOOK_ID_BYTES);
        w.slots[w.count].schema = answer_schema(e->kind);
        w.slots[w.count].answers = answers;
        w.count++;
        casebook_entry_free(&e);
    }
    qsort(w.slots, w.count, sizeof(*w.slots), slot_cmp);
    if (w.count > 0 && (err = casebook_each(cb, false, each_answer, &w)) != CASEBOOK_OK)
        goto fail;
    json_array_foreach(queries, i, q) {
        json_t *answers = json_object_get(q, "answers"), *waiting = json_array(), *r, *to;
        uint8_t id[CASEBOOK_ID_BYTES];
        size_t k;

        if (proto_id_parse(json_string_value(json_object_get(q, "id")), id) != PROTO_OK ||
            (err = refusals(cb, id, answers)) != CASEBOOK_OK) {
            json_decref(waiting);
            err = err != CASEBOOK_OK ? err : CASEBOOK_ERR_CORRUPT;
            goto fail;
        }
        to = addressed(roster, self, json_string_value(json_object_get(q, "kind")),
                       json_object_get(q, "to"));
        json_array_foreach(to, k, r) {
            if (!answered(answers, json_string_value(r)))
                json_array_append(waiting, r);
        }
        json_decref(to);
        json_object_set_new(q, "waiting", waiting);
    }
    out = json_pack("{s:O}", "queries", queries);
    goto done;
fail:
    *status = 500;
    snprintf(why, why_len, "the casebook cannot be read: %s", casebook_strerror(err));
done:
    json_decref(queries);
    free(heap.keys);
    free(w.slots);
    return out;
}

/* ---- Recalls ---------------------------------------------------------------------------- */

/* Splits the space-separated text s into a JSON array of strings. */
static json_t *
words(const char *s)
{
    json_t *a = json_array();

    while (s != NULL && *s != '\0') {
        size_t n = strcspn(s, " ");

        if (n > 0)
            json_array_append_new(a, json_stringn(s, n));
        s += n;
        s += strspn(s, " ");
    }
    return a;
}

/* One recall sent, e, with its recipients' states as `liaison recall status` has them. */
static int
recall_sent_row(casebook *cb, const casebook_entry *e, const char *agent_config, json_t **row_out)
{
    char hex[33];
    json_t *body = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL, *st = NULL;
    json_t *recipients = json_array(), *r;
    const char *msg = json_string_value(json_object_get(body, "message"));
    casebook_entry *orig = NULL;
    uint8_t mid[CASEBOOK_ID_BYTES];
    size_t i;
    int rc = EX_OK;

    *row_out = NULL;
    if (msg != NULL && proto_id_parse(msg, mid) == PROTO_OK) {
        if (casebook_get(cb, true, mid, false, &orig) != CASEBOOK_OK)
            orig = NULL; /* gone by retention: its recall is still shown */
        rc = cli_recall_status_json("console", cb, mid, orig != NULL ? orig->kind : "", agent_config,
                                    &st);
    }
    if (rc != EX_OK)
        goto out;
    json_array_foreach(json_object_get(st, "recipients"), i, r) {
        json_t *ack = json_object_get(r, "ack");

        json_array_append_new(recipients,
                              json_pack("{s:O, s:O, s:O, s:O, s:O}", "agency",
                                        json_object_get(r, "recipient"), "original",
                                        json_object_get(r, "original"), "recall",
                                        json_object_get(r, "recall"), "ack",
                                        json_is_object(ack) ? json_object_get(ack, "result")
                                                            : json_null(),
                                        "acked",
                                        json_is_object(ack) ? json_object_get(ack, "at")
                                                            : json_null()));
    }
    *row_out = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:O}", "id",
                         proto_id_format(e->id, hex), "message", text_or_null(msg), "kind",
                         text_or_null(orig != NULL ? orig->kind : NULL), "action",
                         text_or_null(json_string_value(json_object_get(body, "action"))),
                         "reason", text_or_null(json_string_value(json_object_get(body, "reason"))),
                         "sent", time_or_null(e->time_ms), "records",
                         json_is_array(json_object_get(body, "records"))
                             ? json_incref(json_object_get(body, "records"))
                             : json_array(),
                         "recipients", recipients);
out:
    json_decref(recipients);
    json_decref(st);
    json_decref(body);
    casebook_entry_free(&orig);
    return rc;
}

json_t *
console_recalls_json(casebook *cb, const char *agent_config, int *status, char *why,
                     size_t why_len)
{
    casebook_list *l = NULL;
    json_t *sent = json_array(), *received = json_array(), *dead = NULL, *out = NULL, *t;
    size_t i, first;
    int rc;

    if (casebook_list_kind(cb, true, "recall.request", false, &l) != CASEBOOK_OK ||
        cli_recall_deleted_json(cb, &dead) != 0) {
        snprintf(why, why_len, "the casebook cannot be read");
        *status = 500;
        goto out;
    }
    first = l->count > CONSOLE_RECALLS_MAX ? l->count - CONSOLE_RECALLS_MAX : 0;
    for (i = l->count; i-- > first;) {
        json_t *row = NULL;

        if ((rc = recall_sent_row(cb, l->entries[i], agent_config, &row)) != EX_OK) {
            snprintf(why, why_len, "the recall status of %s cannot be read (exit %d)",
                     l->entries[i]->kind, rc);
            *status = 500;
            goto out;
        }
        json_array_append_new(sent, row);
    }
    for (i = json_array_size(dead); i-- > 0 && json_array_size(received) < CONSOLE_RECALLS_MAX;) {
        t = json_array_get(dead, i);
        json_array_append_new(
            received,
            json_pack("{s:O, s:O, s:O, s:o, s:O, s:O, s:o, s:O, s:O}", "message",
                      json_object_get(t, "message"), "kind", json_object_get(t, "kind"), "from",
                      json_object_get(t, "sender"), "case",
                      text_or_null(json_string_value(json_object_get(t, "case"))), "reason",
                      json_object_get(t, "reason"), "action", json_object_get(t, "action"),
                      "records", words(json_string_value(json_object_get(t, "records"))),
                      "whole", json_object_get(t, "whole"), "deleted",
                      json_object_get(t, "deleted")));
    }
    out = json_pack("{s:O, s:O}", "sent", sent, "received", received);
out:
    casebook_list_free(&l);
    json_decref(dead);
    json_decref(sent);
    json_decref(received);
    return out;
}

/* ---- Consents ----------------------------------------------------------------------------- */

static int
created_desc(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "created"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "created"));

    return strcmp(y != NULL ? y : "", x != NULL ? x : "");
}

/* Sorts list (of objects with "created", RFC 3339 UTC text) newest first. */
static void
sort_newest(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **items = n > 1 ? calloc(n, sizeof(*items)) : NULL;

    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(list, i));
    qsort(items, n, sizeof(*items), created_desc);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, items[i]);
    free(items);
}

/* A consent.grant row of `consent list` as a grant: who granted it to whom, for what. */
static json_t *
grant_json(json_t *row, const char *agency)
{
    json_t *b = json_object_get(row, "body");
    bool out = strcmp(json_string_value(json_object_get(row, "direction")), "out") == 0;
    json_t *to = json_object_get(b, "to"), *kinds = json_object_get(b, "kinds");

    return json_pack("{s:o, s:O, s:O, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:O}", "id",
                     text_or_null(json_string_value(json_object_get(b, "id"))), "message",
                     json_object_get(row, "id"), "direction", json_object_get(row, "direction"),
                     "grantor", out ? json_string(agency) : json_incref(json_object_get(row, "from")),
                     "grantee", out ? json_incref(json_object_get(row, "to")) : json_string(agency),
                     "recipients", json_is_array(to) ? json_incref(to) : json_array(), "kinds",
                     json_is_array(kinds) ? json_incref(kinds) : json_array(), "until",
                     text_or_null(json_string_value(json_object_get(b, "until"))), "content",
                     text_or_null(json_string_value(json_object_get(b, "content"))),
                     "conditions",
                     text_or_null(json_string_value(json_object_get(b, "conditions"))),
                     "created", json_object_get(row, "created"));
}

json_t *
console_consents_json(casebook *cb, const char *agency, int *status, char *why, size_t why_len)
{
    json_t *rows = NULL, *out, *r;
    json_t *lists[4];
    size_t i;

    if (cli_consent_rows(cb, &rows) != 0) {
        *status = 500;
        snprintf(why, why_len, "the casebook cannot be read");
        return NULL;
    }
    for (i = 0; i < 4; i++)
        lists[i] = json_array();
    /* Newest first: consent list gives each kind and direction oldest first. */
    for (i = json_array_size(rows); i-- > 0;) {
        const char *kind, *dir;
        size_t which;

        r = json_array_get(rows, i);
        kind = json_string_value(json_object_get(r, "kind"));
        dir = json_string_value(json_object_get(r, "direction"));
        which = strcmp(kind, "consent.request") == 0 ? (strcmp(dir, "in") == 0 ? 0 : 1)
                : strcmp(kind, "consent.grant") == 0 ? 2
                                                     : 3;
        if (json_array_size(lists[which]) >= CONSOLE_CONSENTS_MAX)
            continue;
        json_array_append_new(lists[which], which == 2 ? grant_json(r, agency) : json_incref(r));
    }
    for (i = 0; i < 4; i++)
        sort_newest(lists[i]);
    out = json_pack("{s:o, s:o, s:o, s:o}", "requests_in", lists[0], "requests_out", lists[1],
                    "grants", lists[2], "denials", lists[3]);
    json_decref(rows);
    return out;
}
