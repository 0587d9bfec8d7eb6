/* Unit tests of client/agent/screen.c, country.c and csv.c: scoring with reasons, the index
 * against exhaustive scoring, designations in force from a real agent store, countries, CSV. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "country.h"
#include "csv.h"
#include "helpers.h"
#include "screen.h"

#define T MATCH_DEFAULT_THRESHOLD

/* ---- Helpers ---------------------------------------------------------------------------- */

/* A designation record from JSON text (entity members as given). */
static json_t *
record(const char *text)
{
    json_error_t e;
    json_t *o = json_loads(text, 0, &e);

    if (o == NULL)
        fail_msg("bad test JSON: %s: %s", e.text, text);
    return o;
}

/* A set of the given records (JSON texts), indexed. */
static screen_set *
set_of(const char *const *texts, size_t n)
{
    screen_set *s = screen_set_new();

    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        json_t *r = record(texts[i]);
        bool added;

        assert_true(screen_set_add(s, r, NULL, &added));
        json_decref(r);
    }
    assert_true(screen_set_index(s));
    return s;
}

/* Screens subject; returns the candidates (the caller's). */
static json_t *
run(screen_set *s, const screen_subject *subject, double threshold)
{
    json_t *c = NULL;

    assert_true(screen_subject_run(s, subject, threshold, SCREEN_CANDIDATES_MAX, false, &c, NULL));
    assert_non_null(c);
    return c;
}

static double
score_of(const json_t *c)
{
    return json_real_value(json_object_get(c, "score"));
}

/* True if one of the candidate's reasons contains needle. */
static bool
has_reason(const json_t *c, const char *needle)
{
    size_t i;
    const json_t *r;

    json_array_foreach(json_object_get(c, "reasons"), i, r) {
        if (strstr(json_string_value(r), needle) != NULL)
            return true;
    }
    return false;
}

static const char *const northwind =
    "{\"designation\": \"OFAC-SDN:36\", \"version\": 2, \"action\": \"amend\", \"from\": "
    "\"USA/TREASURY\", \"list\": \"OFAC-SDN\", \"reference\": \"36\", \"entity\": {\"type\": "
    "\"entity\", \"name\": \"Northwind Trading LLC\", \"aliases\": [{\"name\": \"Northwind "
    "Trade\", \"quality\": \"strong\"}, {\"name\": \"NWT\", \"quality\": \"weak\"}], "
    "\"identifiers\": [{\"type\": \"registration\", \"value\": \"DE-12345\"}], \"addresses\": "
    "[{\"city\": \"Limassol\", \"country\": \"Cyprus\"}]}}";

static const char *const hassan =
    "{\"designation\": \"UN-SC:QDi.001\", \"version\": 1, \"action\": \"add\", \"from\": "
    "\"USA/TREASURY\", \"list\": \"UN-SC\", \"reference\": \"QDi.001\", \"entity\": {\"type\": "
    "\"individual\", \"name\": \"Abdul Rahman Hassan AL-JABOURI\", \"original_name\": "
    "\"\xd8\xb9\xd8\xa8\xd8\xaf \xd8\xa7\xd9\x84\xd8\xb1\xd8\xad\xd9\x85\xd9\x86\", "
    "\"aliases\": [{\"name\": \"Abu Bakr\", \"quality\": \"low\"}, \"Abdel Rahman Hasan\"], "
    "\"born\": [\"1960..1965\"], \"birth_places\": [\"Baghdad, Iraq\"], \"nationalities\": "
    "[\"Iraq\"], \"documents\": [{\"type\": \"passport\", \"number\": \"A1234567\", \"country\": "
    "\"IRQ\"}]}}";

static const char *const mueller =
    "{\"designation\": \"TREAS-2026-0009\", \"version\": 1, \"action\": \"add\", \"from\": "
    "\"USA/TREASURY\", \"entity\": {\"type\": \"individual\", \"name\": \"Jose Muller\", "
    "\"born\": [\"1971-04-02\"], \"nationalities\": [\"DEU\"]}}";

static const char *const delisted =
    "{\"designation\": \"TREAS-2026-0010\", \"version\": 3, \"action\": \"delist\", \"from\": "
    "\"USA/TREASURY\", \"entity\": {\"name\": \"Southwind Holdings\"}}";

/* ---- Scoring ------------------------------------------------------------------------------ */

static void
test_screen_variant_spelling_and_reasons(void **state)
{
    const char *const recs[] = {northwind, hassan, mueller};
    screen_set *s = set_of(recs, 3);
    screen_subject q = {.name = "Nortwind Tradeing", .country = "CYP"};
    json_t *c = run(s, &q, T), *top;

    (void)state;
    assert_int_equal(json_array_size(c), 1);
    top = json_array_get(c, 0);
    assert_string_equal(json_string_value(json_object_get(top, "designation")), "OFAC-SDN:36");
    assert_int_equal(json_integer_value(json_object_get(top, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(top, "from")), "USA/TREASURY");
    assert_string_equal(json_string_value(json_object_get(top, "matched_name")), "Northwind Trade");
    assert_string_equal(json_string_value(json_object_get(top, "matched_as")), "alias");
    assert_true(has_reason(top, "name: 'Nortwind Tradeing' ~ alias 'Northwind Trade'"));
    assert_true(has_reason(top, "country: CYP agrees with address country Cyprus"));
    json_decref(c);
    screen_set_destroy(&s);
    assert_null(s);
}

/* A designated name in Arabic is found through the index by a Latin
 * spelling that shares no key of letters with it, and an Arabic subject
 * finds a Latin designation: the index finds what scoring everything does. */
static void
test_screen_abjad_names_through_the_index(void **state)
{
    static const char *const arabic_only =
        "{\"designation\": \"TREAS-2026-0011\", \"version\": 1, \"action\": \"add\", \"from\": "
        "\"USA/TREASURY\", \"entity\": {\"type\": \"individual\", \"name\": "
        "\"\xd9\x85\xd8\xad\xd9\x85\xd8\xaf \xd8\xb9\xd9\x84\xd9\x8a\"}}"; /* محمد علي */
    const char *const recs[] = {northwind, hassan, mueller, arabic_only};
    screen_set *s = set_of(recs, 4);
    screen_subject latin = {.name = "Muhammad Ali"};
    screen_subject arabic = {.name = "\xd8\xae\xd9\x88\xd8\xb3\xd9\x8a\xd9\x87 "
                                     "\xd9\x85\xd9\x88\xd9\x84\xd8\xb1"}; /* خوسيه مولر */
    const screen_subject *subjects[] = {&latin, &arabic};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        json_t *fast = NULL, *slow = NULL;

        assert_true(screen_subject_run(s, subjects[i], 0.8, 20, false, &fast, NULL));
        assert_true(screen_subject_run(s, subjects[i], 0.8, 20, true, &slow, NULL));
        assert_int_equal(json_array_size(fast), json_array_size(slow));
        for (size_t k = 0; k < json_array_size(fast); k++)
            assert_true(json_equal(json_array_get(fast, k), json_array_get(slow, k)));
        json_decref(fast);
        json_decref(slow);
    }
    {
        json_t *c = run(s, &latin, T);

        assert_true(json_array_size(c) >= 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "designation")),
                            "TREAS-2026-0011");
        json_decref(c);
    }
    screen_set_destroy(&s);
}

static void
test_screen_diacritics_and_word_order(void **state)
{
    const char *const recs[] = {northwind, hassan, mueller};
    screen_set *s = set_of(recs, 3);
    screen_subject diacritics = {.name = "Jos\xc3\xa9 M\xc3\xbcller"};
    screen_subject order = {.name = "MULLER, Jose"};
    screen_subject joined = {.name = "Abdelrahman Hassan Al Jabouri"};
    json_t *c;

    (void)state;
    c = run(s, &diacritics, T);
    assert_int_equal(json_array_size(c), 1);
    assert_true(score_of(json_array_get(c, 0)) > 0.999);
    json_decref(c);
    c = run(s, &order, T);
    assert_int_equal(json_array_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "designation")),
                        "TREAS-2026-0009");
    json_decref(c);
    c = run(s, &joined, T);
    assert_int_equal(json_array_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "designation")),
                        "UN-SC:QDi.001");
    json_decref(c);
    screen_set_destroy(&s);
}

static void
test_screen_weak_alias_counts_less(void **state)
{
    const char *const recs[] = {hassan};
    screen_set *s = set_of(recs, 1);
    screen_subject q = {.name = "Abu Bakr"};
    json_t *c;

    (void)state;
    c = run(s, &q, T);
    assert_int_equal(json_array_size(c), 1);
    assert_float_equal(score_of(json_array_get(c, 0)), SCREEN_WEAK_ALIAS_FACTOR, 0.001);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "matched_as")),
                        "weak alias");
    assert_true(has_reason(json_array_get(c, 0), "weak alias 'Abu Bakr' (1.00 x 0.92 = 0.92)"));
    json_decref(c);
    /* A strong alias matched as well scores 1; the weak one stays below 0.93. */
    c = run(s, &q, 0.93);
    assert_int_equal(json_array_size(c), 0);
    json_decref(c);
    screen_set_destroy(&s);
}

static void
test_screen_born_range_and_disagreement(void **state)
{
    const char *const recs[] = {hassan};
    screen_set *s = set_of(recs, 1);
    screen_subject plain = {.name = "Abdul Rahman Hasan Al Jabouri"};
    screen_subject inside = {.name = "Abdul Rahman Hasan Al Jabouri", .born = "1962-05-01"};
    screen_subject outside = {.name = "Abdul Rahman Hasan Al Jabouri", .born = "1970"};
    json_t *a = run(s, &plain, 0.5), *b = run(s, &inside, 0.5), *c = run(s, &outside, 0.5);

    (void)state;
    assert_int_equal(json_array_size(a), 1);
    assert_int_equal(json_array_size(b), 1);
    assert_int_equal(json_array_size(c), 1);
    assert_true(has_reason(json_array_get(b, 0), "born: 1962-05-01 agrees with 1960..1965"));
    assert_true(has_reason(json_array_get(c, 0), "born: 1970 disagrees with 1960..1965"));
    assert_true(score_of(json_array_get(b, 0)) >= score_of(json_array_get(a, 0)));
    assert_float_equal(score_of(json_array_get(a, 0)) - score_of(json_array_get(c, 0)),
                       SCREEN_BORN_DIFFERS, 0.002);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    /* The disagreeing date takes a name that hits on its own below the threshold. */
    c = run(s, &outside, T);
    assert_int_equal(json_array_size(c), 0);
    json_decref(c);
    screen_set_destroy(&s);
}

static void
test_screen_nationality_by_name_or_code(void **state)
{
    const char *const recs[] = {hassan};
    screen_set *s = set_of(recs, 1);
    static const char *const agree[] = {"IRQ", "iq", "Iraq", "IRAQ", "Republic of Iraq"};
    screen_subject q = {.name = "Abdul Rahman Hassan Al-Jabouri"};
    json_t *c;

    (void)state;
    for (size_t i = 0; i < sizeof(agree) / sizeof(agree[0]); i++) {
        q.nationality = agree[i];
        c = run(s, &q, T);
        assert_int_equal(json_array_size(c), 1);
        if (!has_reason(json_array_get(c, 0), "agrees with Iraq"))
            fail_msg("nationality %s does not agree with Iraq", agree[i]);
        json_decref(c);
    }
    q.nationality = "Iran";
    c = run(s, &q, 0.5);
    assert_true(has_reason(json_array_get(c, 0), "nationality: Iran disagrees with Iraq"));
    json_decref(c);
    /* The country of a place of birth: "Baghdad, Iraq". */
    q.nationality = NULL;
    q.country = "IQ";
    c = run(s, &q, T);
    assert_true(has_reason(json_array_get(c, 0), "country: IQ agrees with place of birth Baghdad, Iraq"));
    json_decref(c);
    screen_set_destroy(&s);
}

static void
test_screen_document_and_identifier(void **state)
{
    const char *const recs[] = {northwind, hassan};
    screen_set *s = set_of(recs, 2);
    screen_subject doc = {.name = "Somebody Else Entirely", .document = "a123-4567"};
    screen_subject id = {.name = "Unrelated Name", .document = "DE 12345"};
    json_t *c;
    size_t examined = 0;

    (void)state;
    c = run(s, &doc, T);
    assert_int_equal(json_array_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "designation")),
                        "UN-SC:QDi.001");
    assert_true(score_of(json_array_get(c, 0)) >= SCREEN_DOCUMENT_FLOOR);
    assert_true(has_reason(json_array_get(c, 0), "document: a123-4567 is the designation's passport A1234567"));
    json_decref(c);
    assert_true(screen_subject_run(s, &id, T, 20, false, &c, &examined));
    assert_int_equal(json_array_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "designation")),
                        "OFAC-SDN:36");
    assert_true(examined >= 1 && examined <= 2);
    json_decref(c);
    screen_set_destroy(&s);
}

static void
test_screen_empty_set(void **state)
{
    screen_set *s = set_of(NULL, 0);
    screen_subject q = {.name = "Northwind Trading", .document = "X1"};
    json_t *c;

    (void)state;
    c = run(s, &q, 0.5);
    assert_int_equal(json_array_size(c), 0);
    json_decref(c);
    screen_set_destroy(&s);
}

static void
test_screen_type_and_delisted(void **state)
{
    const char *const recs[] = {northwind, delisted, mueller};
    screen_set *s = set_of(recs, 3);
    screen_subject person = {.name = "Northwind Trading LLC", .type = "person"};
    screen_subject gone = {.name = "Southwind Holdings"};
    json_t *c;

    (void)state;
    /* A delisted designation is not in the set at all. */
    assert_int_equal(screen_set_count(s), 2);
    c = run(s, &gone, 0.5);
    for (size_t i = 0; i < json_array_size(c); i++)
        assert_string_not_equal(
            json_string_value(json_object_get(json_array_get(c, i), "designation")),
            "TREAS-2026-0010");
    json_decref(c);
    c = run(s, &person, 0.5);
    assert_true(has_reason(json_array_get(c, 0), "type: person differs from entity"));
    assert_float_equal(score_of(json_array_get(c, 0)), 1.0 - SCREEN_TYPE_DIFFERS, 0.002);
    json_decref(c);
    screen_set_destroy(&s);
}

/* ---- The index against exhaustive scoring ------------------------------------------------- */

static const char *const syllables[] = {"al", "ba", "ker", "mo", "ham", "med", "ra", "shid",
                                        "ta", "rik", "no", "vak", "pe", "trov", "li", "wei",
                                        "san", "chez", "ki", "ro", "da", "vid", "son", "ma",
                                        "ria", "lo", "pez", "gu", "sta", "vo", "in", "dus"};

/* A pseudo-random word of 2-3 syllables, capitalised. */
static void
word(unsigned *seed, char *out, size_t len)
{
    size_t n = 2 + (size_t)(rand_r(seed) % 2);

    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strncat(out, syllables[rand_r(seed) % (sizeof(syllables) / sizeof(syllables[0]))],
                len - strlen(out) - 1);
    out[0] = (char)(out[0] - 'a' + 'A');
}

/* name with one edit: a substitution, a transposition, a dropped or a doubled letter. */
static void
typo(unsigned *seed, const char *name, char *out, size_t len)
{
    size_t n = strlen(name), at = 1 + (size_t)rand_r(seed) % (n - 2);

    snprintf(out, len, "%s", name);
    switch (rand_r(seed) % 4) {
    case 0: out[at] = out[at] == 'x' ? 'z' : 'x'; break;
    case 1: { char ch = out[at]; out[at] = out[at + 1]; out[at + 1] = ch; } break;
    case 2: memmove(out + at, out + at + 1, n - at); break;
    default: memmove(out + at + 1, out + at, n - at + 1); break;
    }
}

/* name with its first token moved to the end ("SURNAME Given" order), or with drop its middle
 * token dropped when it has three. */
static void
reorder(const char *name, bool drop, char *out, size_t len)
{
    const char *first_end = strchr(name, ' '), *last = strrchr(name, ' ');

    if (drop && first_end != last)
        snprintf(out, len, "%.*s%s", (int)(first_end - name), name, last);
    else
        snprintf(out, len, "%s %.*s", first_end + 1, (int)(first_end - name), name);
}

/* The candidate of designation id in list, or NULL. */
static const json_t *
candidate_of(const json_t *list, const char *id)
{
    size_t i;
    const json_t *c;

    json_array_foreach(list, i, c) {
        if (strcmp(json_string_value(json_object_get(c, "designation")), id) == 0)
            return c;
    }
    return NULL;
}

static void
test_screen_index_equals_exhaustive(void **state)
{
    enum { N = 3000, Q = 400 };
    screen_set *s = screen_set_new();
    static char names[N][96];
    unsigned seed = 20261206;
    size_t examined_total = 0, hits = 0, lookalike_misses = 0, cohits = 0, cohit_misses = 0, variant_misses = 0;

    (void)state;
    for (size_t i = 0; i < N; i++) {
        char a[32], b[32], c[32], id[32];
        json_t *r;
        bool added;

        word(&seed, a, sizeof(a));
        word(&seed, b, sizeof(b));
        word(&seed, c, sizeof(c));
        snprintf(names[i], sizeof(names[i]), i % 3 == 0 ? "%s %s %s" : "%s %s", a, b, c);
        snprintf(id, sizeof(id), "SYN-%05zu", i);
        r = json_pack("{s:s, s:i, s:s, s:{s:s, s:[s]}}", "designation", id, "version", 1,
                      "action", "add", "entity", "name", names[i], "aliases", c);
        assert_true(screen_set_add(s, r, "USA/TREASURY", &added));
        assert_true(added);
        json_decref(r);
    }
    assert_true(screen_set_index(s));
    for (size_t q = 0; q < Q; q++) {
        char name[128];
        screen_subject subj = {.name = name};
        json_t *fast = NULL, *slow = NULL;
        size_t examined;

        size_t from = (size_t)rand_r(&seed) % N;
        char from_id[32];

        if (q % 2 == 0)
            typo(&seed, names[from], name, sizeof(name));
        else if (q % 4 == 1)
            reorder(names[from], q % 8 == 1, name, sizeof(name));
        else
            snprintf(name, sizeof(name), "%s", names[from]);
        snprintf(from_id, sizeof(from_id), "SYN-%05zu", from);
        if (q % 5 == 0) {
            char a[32], b[32];

            word(&seed, a, sizeof(a));
            word(&seed, b, sizeof(b));
            snprintf(name, sizeof(name), "%s %s", a, b);
        }
        assert_true(screen_subject_run(s, &subj, T, 1000, false, &fast, &examined));
        assert_true(screen_subject_run(s, &subj, T, 1000, true, &slow, NULL));
        examined_total += examined;
        hits += json_array_size(slow);
        /* The index only leaves out: what it finds, scoring everything finds, in the
         * same order with the same scores and reasons. */
        for (size_t i = 0, j = 0; i < json_array_size(fast); i++, j++) {
            while (j < json_array_size(slow) &&
                   !json_equal(json_array_get(fast, i), json_array_get(slow, j)))
                j++;
            if (j == json_array_size(slow))
                fail_msg("the index found what scoring everything did not for '%s'", name);
        }
        if (q % 5 == 0) {
            lookalike_misses += !json_equal(fast, slow);
        } else {
            /* A variant of a designation's name finds that designation exactly as
             * scoring everything does.  Other designations that score at the threshold
             * against it through one shared token and a second token only similar
             * (Jaro-Winkler of 0.7 to 0.8) may be left out; they are counted.  Variants
             * are typos, the name reordered, a middle token dropped, the name as is. */
            if (candidate_of(slow, from_id) != NULL &&
                !json_equal(candidate_of(fast, from_id), candidate_of(slow, from_id)))
                fail_msg("the index and scoring everything differ on %s for '%s'", from_id,
                         name);
            /* A typo that leaves a short word unlike itself may score below the threshold
             * for both: counted, and rare. */
            variant_misses += candidate_of(slow, from_id) == NULL;
            if (candidate_of(slow, from_id) == NULL)
                print_message("below the threshold: %s '%s'\n", from_id, name);
            cohit_misses += json_array_size(slow) - json_array_size(fast);
            cohits += json_array_size(slow) - 1;
        }
        json_decref(fast);
        json_decref(slow);
    }
    /* The index looks at a fraction of the set. */
    print_message("index: %zu designations examined per query on average (of %d); %zu hits; "
                  "%zu of %d look-alikes differ; %zu of %zu other designations scoring at the "
                  "threshold against a variant left out\n", examined_total / Q, N, hits,
                  lookalike_misses, Q / 5, cohit_misses, cohits);
    print_message("%zu variants of %d score below the threshold\n", variant_misses, Q);
    assert_true(variant_misses * 50 <= Q);
    assert_true(lookalike_misses <= Q / 5 / 20);
    assert_true(cohit_misses * 10 <= cohits);
    assert_true(examined_total / Q < N / 2);
    assert_true(hits >= Q / 2);
    screen_set_destroy(&s);
}

/* ---- Designations in force from a store ---------------------------------------------------- */

static void
put(agent_txn *t, agent_table table, const char *key, const char *text)
{
    json_t *o = record(text);

    assert_int_equal(agent_json_put(t, table, key, o), AGENT_STORE_OK);
    json_decref(o);
}

static int
collect(void *ctx, const json_t *rec)
{
    char buf[160];

    snprintf(buf, sizeof(buf), "%s v%lld;", json_string_value(json_object_get(rec, "designation")),
             (long long)json_integer_value(json_object_get(rec, "version")));
    strcat(ctx, buf);
    return 0;
}

static void
test_screen_in_force_from_store(void **state)
{
    char dir[512], key[AGENT_STORE_KEY_MAX], why[256], seen[2048] = "";
    agent_store *st = NULL;
    agent_txn *t = NULL;
    screen_set *s = screen_set_new();
    screen_subject q = {.name = "Northwind Trading"};
    json_t *c;

    (void)state;
    test_scratch_dir(dir, sizeof(dir));
    assert_int_equal(agent_store_open(dir, &st, why, sizeof(why)), AGENT_STORE_OK);
    assert_int_equal(agent_store_begin(st, true, &t), AGENT_STORE_OK);
    /* A: add, amend (in force at version 2).  B: add, delist (not in force).  C from another
     * unit, same id as A: in force at its version 1. */
    agent_designation_key("USA/TREASURY", "A", 1, key, sizeof(key));
    put(t, AGENT_T_DESIGNATIONS, key, "{\"designation\": \"A\", \"version\": 1, \"action\": "
        "\"add\", \"from\": \"USA/TREASURY\", \"entity\": {\"name\": \"Northwind Trading\"}}");
    agent_designation_key("USA/TREASURY", "A", 2, key, sizeof(key));
    put(t, AGENT_T_DESIGNATIONS, key, "{\"designation\": \"A\", \"version\": 2, \"action\": "
        "\"amend\", \"from\": \"USA/TREASURY\", \"entity\": {\"name\": \"Northwind Trading\"}}");
    agent_designation_key("USA/TREASURY", "B", 1, key, sizeof(key));
    put(t, AGENT_T_DESIGNATIONS, key, "{\"designation\": \"B\", \"version\": 1, \"action\": "
        "\"add\", \"from\": \"USA/TREASURY\", \"entity\": {\"name\": \"Northwind Trading\"}}");
    agent_designation_key("USA/TREASURY", "B", 2, key, sizeof(key));
    put(t, AGENT_T_DESIGNATIONS, key, "{\"designation\": \"B\", \"version\": 2, \"action\": "
        "\"delist\", \"from\": \"USA/TREASURY\", \"entity\": {\"name\": \"Northwind Trading\"}}");
    agent_designation_key("MEX/UIF", "A", 1, key, sizeof(key));
    put(t, AGENT_T_DESIGNATIONS, key, "{\"designation\": \"A\", \"version\": 1, \"action\": "
        "\"add\", \"from\": \"MEX/UIF\", \"entity\": {\"name\": \"Northwind Trading\"}}");
    /* Own designations: one in force, one delisted. */
    put(t, AGENT_T_OWN_DESIGNATIONS, "OWN-1", "{\"designation\": \"OWN-1\", \"version\": 1, "
        "\"action\": \"add\", \"message\": \"00\", \"sent\": \"2026-12-06T10:00:00Z\", "
        "\"entity\": {\"name\": \"Northwind Trading\"}}");
    put(t, AGENT_T_OWN_DESIGNATIONS, "OWN-2", "{\"designation\": \"OWN-2\", \"version\": 2, "
        "\"action\": \"delist\", \"entity\": {\"name\": \"Northwind Trading\"}}");
    assert_int_equal(agent_store_commit(&t), AGENT_STORE_OK);

    assert_int_equal(agent_store_begin(st, false, &t), AGENT_STORE_OK);
    assert_int_equal(screen_each_in_force(t, AGENT_T_DESIGNATIONS, collect, seen), AGENT_STORE_OK);
    assert_string_equal(seen, "A v1;A v2;");
    seen[0] = '\0';
    assert_int_equal(screen_set_load(t, SCREEN_RECEIVED, s), AGENT_STORE_OK);
    assert_int_equal(screen_set_count(s), 2);
    c = run(s, &q, T);
    assert_int_equal(json_array_size(c), 2);
    /* Best first, then by unit and id: MEX/UIF A v1, USA/TREASURY A v2. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "from")), "MEX/UIF");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(c, 1), "version")), 2);
    json_decref(c);
    screen_set_destroy(&s);
    /* Own only: the third-party rule's set. */
    s = screen_set_new();
    assert_int_equal(screen_set_load(t, SCREEN_OWN, s), AGENT_STORE_OK);
    assert_int_equal(screen_set_count(s), 1);
    c = run(s, &q, T);
    assert_int_equal(json_array_size(c), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(c, 0), "designation")),
                        "OWN-1");
    json_decref(c);
    agent_store_abort(&t);
    screen_set_destroy(&s);
    agent_store_close(&st);
    test_scratch_remove(dir);
}

static void
test_screen_subject_from_json(void **state)
{
    screen_subject s;
    char why[128];
    json_t *good = record("{\"type\": \"entity\", \"name\": \"Nortwind\", \"born\": \"\", "
                          "\"country\": \"CYP\"}");
    json_t *noname = record("{\"born\": \"1970\"}");
    json_t *number = record("{\"name\": \"X\", \"born\": 1970}");

    (void)state;
    assert_true(screen_subject_from_json(good, &s, why, sizeof(why)));
    assert_string_equal(s.name, "Nortwind");
    assert_string_equal(s.country, "CYP");
    assert_false(screen_subject_from_json(noname, &s, why, sizeof(why)));
    assert_string_equal(why, "subject.name: missing");
    assert_false(screen_subject_from_json(number, &s, why, sizeof(why)));
    assert_non_null(strstr(why, "subject.born"));
    json_decref(good);
    json_decref(noname);
    json_decref(number);
}

/* ---- Countries ------------------------------------------------------------------------------ */

static void
test_screen_country_table(void **state)
{
    int civ = country_lookup("CIV");

    (void)state;
    assert_true(country_count() >= 249);
    assert_int_not_equal(civ, COUNTRY_NONE);
    assert_int_equal(country_lookup("ci"), civ);
    assert_int_equal(country_lookup("C\xc3\xb4te d'Ivoire"), civ);
    assert_int_equal(country_lookup("Ivory Coast"), civ);
    assert_string_equal(country_alpha3(country_lookup("Russia")), "RUS");
    assert_string_equal(country_alpha3(country_lookup("Russian Federation")), "RUS");
    assert_string_equal(country_alpha3(country_lookup("Korea, North")), "PRK");
    assert_string_equal(country_alpha3(country_lookup("Democratic People's Republic of Korea")),
                        "PRK");
    assert_string_equal(country_alpha3(country_lookup("Iran (Islamic Republic of)")), "IRN");
    assert_string_equal(country_alpha3(country_lookup("  usa ")), "USA");
    assert_string_equal(country_alpha3(country_lookup("United States of America")), "USA");
    assert_string_equal(country_alpha3(country_lookup("UK")), "GBR");
    assert_string_equal(country_alpha2(country_lookup("T\xc3\xbcrkiye")), "TR");
    assert_string_equal(country_alpha3(country_lookup_place("Baghdad, Iraq")), "IRQ");
    assert_int_equal(country_lookup("Atlantis"), COUNTRY_NONE);
    assert_int_equal(country_lookup("XX"), COUNTRY_NONE);
    assert_int_equal(country_lookup(""), COUNTRY_NONE);
    assert_int_equal(country_lookup(NULL), COUNTRY_NONE);
    /* Every country is found by its codes and its ISO short name. */
    for (size_t i = 0; i < country_count(); i++) {
        assert_int_equal(country_lookup(country_alpha3((int)i)), (int)i);
        assert_int_equal(country_lookup(country_alpha2((int)i)), (int)i);
        if (country_lookup(country_name((int)i)) != (int)i)
            fail_msg("%s is not found by its name", country_name((int)i));
    }
}

/* ---- CSV -------------------------------------------------------------------------------------- */

static void
test_screen_csv_reads_rfc4180(void **state)
{
    static const char text[] = "\xEF\xBB\xBFname,born,id\r\n"
                               "\"DOE, John\",1980,C1\r\n"
                               "\"He said \"\"hi\"\"\",,C2\n"
                               "\"two\nlines\",1970,C3\n"
                               "last,,C4";
    csv_reader r;
    csv_row *row = malloc(sizeof(*row));
    char why[200];

    (void)state;
    csv_reader_init(&r, text, sizeof(text) - 1);
    assert_int_equal(csv_row_read(&r, row, why, sizeof(why)), CSV_OK);
    assert_int_equal(row->count, 3);
    assert_string_equal(row->fields[0], "name");
    assert_int_equal(csv_row_read(&r, row, why, sizeof(why)), CSV_OK);
    assert_string_equal(row->fields[0], "DOE, John");
    assert_int_equal(row->line, 2);
    assert_int_equal(csv_row_read(&r, row, why, sizeof(why)), CSV_OK);
    assert_string_equal(row->fields[0], "He said \"hi\"");
    assert_string_equal(row->fields[1], "");
    assert_int_equal(csv_row_read(&r, row, why, sizeof(why)), CSV_OK);
    assert_string_equal(row->fields[0], "two\nlines");
    assert_int_equal(row->line, 4);
    assert_int_equal(csv_row_read(&r, row, why, sizeof(why)), CSV_OK);
    assert_int_equal(row->line, 6);
    assert_string_equal(row->fields[2], "C4");
    assert_int_equal(csv_row_read(&r, row, why, sizeof(why)), CSV_END);
    free(row);
}

/* Reads text to its end; returns the refusal text, or "" if every row read. */
static const char *
refusal(const char *text, size_t len)
{
    static char why[256];
    csv_reader r;
    csv_row *row = malloc(sizeof(*row));
    csv_err e;

    why[0] = '\0';
    csv_reader_init(&r, text, len);
    while ((e = csv_row_read(&r, row, why, sizeof(why))) == CSV_OK)
        ;
    free(row);
    return e == CSV_REFUSED ? why : "";
}

static void
test_screen_csv_refusals(void **state)
{
    static const char open_quote[] = "name,id\nok,1\n\"never closed,2\nmore,3\n";
    static const char stray[] = "name,id\nok,1\nO\"Brien,2\n";
    static const char after[] = "name,id\n\"A\"B,1\n";
    static const char nul[] = "name,id\nA\0B,1\n";
    static const char bad_utf8[] = "name,id\nA\xC3(,1\n";
    char *many = malloc(CSV_FIELDS_MAX * 3 + 64), *big = malloc(CSV_FIELD_MAX + 64);
    size_t n = 0;

    (void)state;
    assert_string_equal(refusal(open_quote, sizeof(open_quote) - 1),
                        "3: a quoted field is not closed before the end of the file");
    assert_non_null(strstr(refusal(stray, sizeof(stray) - 1), "3: a quote inside an unquoted field"));
    assert_string_equal(refusal(after, sizeof(after) - 1), "2: text after the closing quote of a field");
    assert_string_equal(refusal(nul, sizeof(nul) - 1), "2: a NUL byte");
    assert_string_equal(refusal(bad_utf8, sizeof(bad_utf8) - 1), "2: field 1 is not UTF-8 text");
    n = (size_t)sprintf(many, "name\nx\n");
    for (size_t i = 0; i <= CSV_FIELDS_MAX; i++)
        n += (size_t)sprintf(many + n, "%sf", i > 0 ? "," : "");
    assert_string_equal(refusal(many, n), "3: more than 64 fields in a row");
    n = (size_t)sprintf(big, "name\n");
    memset(big + n, 'a', CSV_FIELD_MAX + 1);
    n += CSV_FIELD_MAX + 1;
    assert_string_equal(refusal(big, n), "2: a field longer than 4096 bytes");
    /* Exactly the largest field is read. */
    assert_string_equal(refusal(big, n - 1), "");
    free(many);
    free(big);
}

static void
test_screen_csv_writer_neutralises(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    csv_field_write(f, "plain", true);
    fputc('|', f);
    csv_field_write(f, "=HYPERLINK(\"http://x\")", true);
    fputc('|', f);
    csv_field_write(f, "+1", true);
    fputc('|', f);
    csv_field_write(f, "@SUM(A1)", true);
    fputc('|', f);
    csv_field_write(f, "-2", false);
    fputc('|', f);
    csv_field_write(f, "a,b\nc", true);
    fputc('|', f);
    csv_field_write(f, NULL, true);
    fclose(f);
    assert_string_equal(buf, "plain|\"'=HYPERLINK(\"\"http://x\"\")\"|\"'+1\"|\"'@SUM(A1)\"|-2|"
                             "\"a,b\nc\"|");
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_screen_variant_spelling_and_reasons),
        cmocka_unit_test(test_screen_diacritics_and_word_order),
        cmocka_unit_test(test_screen_abjad_names_through_the_index),
        cmocka_unit_test(test_screen_weak_alias_counts_less),
        cmocka_unit_test(test_screen_born_range_and_disagreement),
        cmocka_unit_test(test_screen_nationality_by_name_or_code),
        cmocka_unit_test(test_screen_document_and_identifier),
        cmocka_unit_test(test_screen_type_and_delisted),
        cmocka_unit_test(test_screen_empty_set),
        cmocka_unit_test(test_screen_index_equals_exhaustive),
        cmocka_unit_test(test_screen_in_force_from_store),
        cmocka_unit_test(test_screen_subject_from_json),
        cmocka_unit_test(test_screen_country_table),
        cmocka_unit_test(test_screen_csv_reads_rfc4180),
        cmocka_unit_test(test_screen_csv_refusals),
        cmocka_unit_test(test_screen_csv_writer_neutralises),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
