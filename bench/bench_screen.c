/* Benchmark of freeze screening: an agent store of 20 000 synthetic designations, a labelled set
 * of customers (true variants and false look-alikes), throughput, latency, index build time,
 * memory, and precision and recall at several thresholds.  Prints figures; asserts nothing. */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "bench_util.h"
#include "screen.h"

#define DESIGNATIONS 20000
#define TRUE_CUSTOMERS 1000
#define FALSE_CUSTOMERS 1000
#define EXHAUSTIVE_SAMPLE 200

static const char *const given[] = {
    "Mohammed", "Ahmed", "Ali", "Omar", "Hassan", "Hussein", "Abdul", "Yusuf", "Ibrahim",
    "Khalid", "Tariq", "Faisal", "Ivan", "Sergei", "Dmitri", "Alexei", "Viktor", "Nikolai",
    "Oleg", "Yuri", "Wei", "Jun", "Li", "Chen", "Hui", "Min", "Jose", "Juan", "Carlos", "Luis",
    "Miguel", "Pedro", "Maria", "Ana", "Elena", "Olga", "Fatima", "Aisha", "Leila", "Nadia",
    "John", "Michael", "David", "Robert", "James", "William", "Peter", "Thomas", "Kim", "Park",
    "Hamid", "Reza", "Mehdi", "Amir", "Kamal", "Samir", "Nabil", "Rashid", "Salim", "Jamal"};

static const char *const syl[] = {
    "al", "ba", "ker", "mo", "ham", "med", "ra", "shid", "ta", "rik", "no", "vak", "pe",
    "trov", "li", "wei", "san", "chez", "ki", "ro", "da", "vid", "son", "ma", "ria", "lo",
    "pez", "gu", "sta", "vo", "in", "dus", "zar", "kov", "ev", "en", "ber", "ger", "man",
    "stein", "ow", "ski", "ic", "ich", "ur", "at", "is", "us", "ho", "ssei", "ni", "ko",
    "fa", "rah", "ja", "bou", "ri", "qa", "dir", "mu", "sta", "fa", "go", "ld", "bl", "ack",
    "wa", "ter", "mi", "ller", "sch", "mid", "ne", "ville", "to", "mas", "ze", "na", "di"};

static const char *const company_words[] = {
    "Northwind", "Golden", "Crescent", "Atlas", "Orion", "Eastern", "Global", "Pacific",
    "Silk", "Road", "Star", "Falcon", "Delta", "Horizon", "Summit", "Phoenix", "Blue",
    "Ocean", "Desert", "Capital", "Union", "Alliance", "Royal", "United", "Meridian"};

static const char *const company_kinds[] = {"Trading", "Holdings", "Shipping", "Petroleum",
                                            "Logistics", "Investments", "Industries",
                                            "Exchange", "Group", "Resources"};

static const char *const company_suffix[] = {"LLC", "Ltd", "SA", "GmbH", "FZE", "Co", "JSC"};

static const char *const countries[] = {"Iraq", "IRN", "SY", "Russia", "RUS", "PRK",
                                        "Korea, North", "Cuba", "VEN", "Libya", "YEM", "SDN",
                                        "Afghanistan", "LBN", "Cyprus", "ARE", "TR", "China"};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static unsigned seed = 20261206;

/* Appends at most n bytes of s to out (len bytes in all), always terminated. */
static void
append(char *out, size_t len, const char *s, size_t n)
{
    size_t used = strlen(out), k = strnlen(s, n);

    if (used + k >= len)
        k = used + 1 < len ? len - used - 1 : 0;
    memcpy(out + used, s, k);
    out[used + k] = '\0';
}

static const char *
pick(const char *const *list, size_t n)
{
    return list[(size_t)rand_r(&seed) % n];
}

/* A syllable: onset, vowel and (half the time) a coda, about 1 000 kinds. */
static void
syllable(char *out, size_t len)
{
    static const char *const onset[] = {"b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r",
                                        "s", "t", "v", "z", "sh", "kh", "ch", "j", "y", "w", "dr"};
    static const char *const vowel[] = {"a", "e", "i", "o", "u", "ai", "ou"};
    static const char *const coda[] = {"n", "r", "l", "m", "s", "k", "t", "v"};

    append(out, len, pick(onset, N_OF(onset)), len);
    append(out, len, pick(vowel, N_OF(vowel)), len);
    if (rand_r(&seed) % 2 == 0)
        append(out, len, pick(coda, N_OF(coda)), len);
}

/* A surname of 2 or 3 syllables (a quarter of them from a list of common ones), capitalised. */
static void
surname(char *out, size_t len)
{
    size_t n = 2 + (size_t)(rand_r(&seed) % 2);

    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (rand_r(&seed) % 4 == 0)
            append(out, len, pick(syl, N_OF(syl)), len);
        else
            syllable(out, len);
    }
    out[0] = (char)(out[0] >= 'a' && out[0] <= 'z' ? out[0] - 'a' + 'A' : out[0]);
}

/* A name of an individual (kind 0) or an entity (kind 1). */
static void
make_name(int kind, char *out, size_t len)
{
    char s1[40], s2[40];

    surname(s1, sizeof(s1));
    if (kind == 0) {
        if (rand_r(&seed) % 3 == 0) {
            surname(s2, sizeof(s2));
            snprintf(out, len, "%s %s %s", pick(given, N_OF(given)), s2, s1);
        } else {
            snprintf(out, len, "%s %s", pick(given, N_OF(given)), s1);
        }
    } else {
        snprintf(out, len, "%s %s %s %s", rand_r(&seed) % 2 ? pick(company_words, N_OF(company_words)) : s1,
                 rand_r(&seed) % 2 ? s1 : pick(company_words, N_OF(company_words)),
                 pick(company_kinds, N_OF(company_kinds)), pick(company_suffix, N_OF(company_suffix)));
    }
}

/* One generated designation, as the bench keeps it for making customers. */
typedef struct gen {
    char id[32];        /* designation id */
    char name[128];     /* primary name */
    char weak[64];      /* a weak alias, "" when none */
    char born[16];      /* "" for entities */
    int individual;     /* 1 individual, 0 entity */
} gen;

static gen *gens;

/* Every token of every designated name and alias, lower-case, sorted and unique after
 * tokens_seal: the false customers' distinctive words are kept away from them. */
static char (*tokens)[48];
static size_t token_count, token_cap;

static void
tokens_add(const char *name)
{
    char buf[160];

    snprintf(buf, sizeof(buf), "%s", name);
    for (char *t = strtok(buf, " "); t != NULL; t = strtok(NULL, " ")) {
        if (token_count == token_cap) {
            token_cap = token_cap > 0 ? token_cap * 2 : 4096;
            tokens = realloc(tokens, token_cap * sizeof(tokens[0]));
            if (tokens == NULL)
                abort();
        }
        snprintf(tokens[token_count], sizeof(tokens[0]), "%s", t);
        for (char *p = tokens[token_count]; *p != '\0'; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        token_count++;
    }
}

static int
cmp_token(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
tokens_seal(void)
{
    size_t n = 0;

    qsort(tokens, token_count, sizeof(tokens[0]), cmp_token);
    for (size_t i = 0; i < token_count; i++) {
        if (n == 0 || strcmp(tokens[n - 1], tokens[i]) != 0)
            memmove(tokens[n++], tokens[i], sizeof(tokens[0]));
    }
    token_count = n;
}

/* True if a and b are equal or one edit apart (a substitution, an insertion or deletion, or
 * two adjacent letters swapped). */
static bool
one_edit(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i = 0;

    if (la + 1 < lb || lb + 1 < la)
        return false;
    while (i < la && i < lb && a[i] == b[i])
        i++;
    if (i == la && i == lb)
        return true;
    if (la == lb)
        return strcmp(a + i + 1, b + i + 1) == 0 ||
               (i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
                strcmp(a + i + 2, b + i + 2) == 0);
    return la > lb ? strcmp(a + i + 1, b + i) == 0 : strcmp(a + i, b + i + 1) == 0;
}

/* A surname that no designated name or alias carries, even one edit apart. */
static void
fresh_surname(char *out, size_t len)
{
    for (;;) {
        char low[48];
        bool taken = false;

        surname(out, len);
        snprintf(low, sizeof(low), "%s", out);
        low[0] = (char)(low[0] - 'A' + 'a');
        for (size_t i = 0; i < token_count && !taken; i++)
            taken = one_edit(low, tokens[i]);
        if (!taken)
            return;
    }
}

/* A false customer: another identity of the same shape as the designated ones.  An
 * individual is a common given name with a surname (and a third of the time a middle name)
 * no designation carries; an entity has a distinctive word no designation carries, beside
 * (half the time) a common company word, a kind and a suffix that designations share. */
static void
other_identity(int kind, char *out, size_t len)
{
    char s1[40], s2[40];

    fresh_surname(s1, sizeof(s1));
    if (kind == 0) {
        if (rand_r(&seed) % 3 == 0) {
            fresh_surname(s2, sizeof(s2));
            snprintf(out, len, "%s %s %s", pick(given, N_OF(given)), s2, s1);
        } else {
            snprintf(out, len, "%s %s", pick(given, N_OF(given)), s1);
        }
    } else if (rand_r(&seed) % 2 == 0) {
        snprintf(out, len, "%s %s %s %s", pick(company_words, N_OF(company_words)), s1,
                 pick(company_kinds, N_OF(company_kinds)), pick(company_suffix, N_OF(company_suffix)));
    } else {
        snprintf(out, len, "%s %s %s", s1, pick(company_kinds, N_OF(company_kinds)),
                 pick(company_suffix, N_OF(company_suffix)));
    }
}

static json_t *
designation_json(size_t i)
{
    gen *g = &gens[i];
    json_t *aliases = json_array(), *born = json_array(), *nats = json_array();
    char alias[128];

    g->individual = rand_r(&seed) % 10 < 6;
    snprintf(g->id, sizeof(g->id), "SYN-%05zu", i);
    make_name(g->individual ? 0 : 1, g->name, sizeof(g->name));
    tokens_add(g->name);
    for (int k = rand_r(&seed) % 3; k > 0; k--) {
        make_name(g->individual ? 0 : 1, alias, sizeof(alias));
        tokens_add(alias);
        json_array_append_new(aliases, json_pack("{s:s, s:s}", "name", alias, "quality", "strong"));
    }
    g->weak[0] = '\0';
    if (rand_r(&seed) % 4 == 0) {
        char s[40];

        surname(s, sizeof(s));
        snprintf(g->weak, sizeof(g->weak), "Abu %s", s);
        tokens_add(g->weak);
        json_array_append_new(aliases, json_pack("{s:s, s:s}", "name", g->weak, "quality", "weak"));
    }
    g->born[0] = '\0';
    if (g->individual) {
        int y = 1940 + rand_r(&seed) % 60;

        if (rand_r(&seed) % 5 == 0)
            snprintf(g->born, sizeof(g->born), "%d..%d", y, y + 3);
        else
            snprintf(g->born, sizeof(g->born), "%d-%02d-%02d", y, 1 + rand_r(&seed) % 12,
                     1 + rand_r(&seed) % 28);
        json_array_append_new(born, json_string(g->born));
        json_array_append_new(nats, json_string(pick(countries, N_OF(countries))));
    }
    return json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:o, s:o, s:o}, s:s, s:s}",
                     "designation", g->id, "version", 1, "action", "add", "from", "USA/TREASURY",
                     "list", "SYN", "reference", g->id + 4, "entity", "type",
                     g->individual ? "individual" : "entity", "name", g->name, "aliases", aliases,
                     "born", born, "nationalities", nats, "received", "2026-12-06T10:00:00Z",
                     "ack", "received");
}

/* A true variant of designation g into out; the kind of change in *what. */
static void
variant(const gen *g, char *out, size_t len, const char **what)
{
    char toks[8][64];
    size_t n = 0, at;
    char buf[128];

    snprintf(buf, sizeof(buf), "%s", g->name);
    for (char *t = strtok(buf, " "); t != NULL && n < 8; t = strtok(NULL, " "))
        snprintf(toks[n++], sizeof(toks[0]), "%s", t);
    switch (rand_r(&seed) % 7) {
    case 0: /* a typo */
        at = (size_t)rand_r(&seed) % n;
        if (strlen(toks[at]) > 3)
            toks[at][1 + rand_r(&seed) % (strlen(toks[at]) - 2)] = 'x';
        *what = "typo";
        break;
    case 1: /* a transposition */
        at = (size_t)rand_r(&seed) % n;
        if (strlen(toks[at]) > 3) {
            size_t k = 1 + (size_t)rand_r(&seed) % (strlen(toks[at]) - 2);
            char ch = toks[at][k];

            toks[at][k] = toks[at][k + 1];
            toks[at][k + 1] = ch;
        }
        *what = "transposition";
        break;
    case 2: /* a dropped token (a middle name, a suffix) */
        if (n > 2) {
            at = 1 + (size_t)rand_r(&seed) % (n - 1);
            memmove(toks[at], toks[at + 1], (n - at - 1) * sizeof(toks[0]));
            n--;
        }
        *what = "dropped token";
        break;
    case 3: /* reordered: SURNAME, Given */
        if (n >= 2) {
            char first[64];

            snprintf(first, sizeof(first), "%s", toks[0]);
            memmove(toks[0], toks[1], (n - 1) * sizeof(toks[0]));
            snprintf(toks[n - 1], sizeof(toks[0]), "%s", first);
        }
        *what = "reordered";
        break;
    case 4: { /* diacritics: the first a, e, o or u of each token accented */
        out[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            char tok[128] = "";
            bool done = false;

            for (const char *p = toks[i]; *p != '\0'; p++) {
                const char *rep = NULL;

                if (!done && *p == 'a') rep = "\xc3\xa1";
                if (!done && *p == 'e') rep = "\xc3\xa9";
                if (!done && *p == 'o') rep = "\xc3\xb6";
                if (!done && *p == 'u') rep = "\xc3\xbc";
                if (rep != NULL) {
                    append(tok, sizeof(tok), rep, 8);
                    done = true;
                } else {
                    append(tok, sizeof(tok), p, 1);
                }
            }
            append(out, len, i > 0 ? " " : "", len);
            append(out, len, tok, len);
        }
        *what = "diacritics";
        return;
    }
    case 5: /* the weak alias, when there is one */
        if (g->weak[0] != '\0') {
            snprintf(out, len, "%s", g->weak);
            *what = "weak alias";
            return;
        }
        *what = "exact";
        break;
    default: /* an upper-case surname and typo-free */
        for (char *p = toks[n - 1]; *p != '\0'; p++)
            *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        *what = "case";
        break;
    }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        append(out, len, i > 0 ? " " : "", len);
        append(out, len, toks[i], len);
    }
}

static long
rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = atol(line + 6);
    }
    if (f != NULL)
        fclose(f);
    return kib;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* One customer of the labelled set. */
typedef struct customer {
    char name[160];     /* as screened */
    char born[16];      /* for an individual: the designated date (true) or a random one */
    int truth;          /* index of the designation it is a variant of, or -1 */
} customer;

/* Precision and recall at each threshold, with or without the customers' dates of birth. */
static int
quality(screen_set *set, const customer *cust, size_t n_cust, bool dates)
{
    static const double thresholds[] = {0.80, 0.85, MATCH_DEFAULT_THRESHOLD, 0.92, 0.95};

    printf("%s\n%-9s  %-6s  %-9s  %-9s  %-5s  %-5s  %-5s  %s\n",
           dates ? "names and dates of birth of individuals:" : "names only:", "threshold",
           "recall", "precision", "customers", "TP", "FP", "FN", "false customers flagged");
    for (size_t ti = 0; ti < N_OF(thresholds); ti++) {
        size_t tp = 0, fp = 0, fn = 0, false_flagged = 0, true_flagged = 0;

        for (size_t i = 0; i < n_cust; i++) {
            screen_subject s = {.name = cust[i].name, .born = dates ? cust[i].born : NULL};
            json_t *c = NULL;
            bool found = false;
            size_t k;
            const json_t *v;

            if (!screen_subject_run(set, &s, thresholds[ti], SCREEN_CANDIDATES_MAX, false, &c, NULL))
                return 1;
            json_array_foreach(c, k, v) {
                if (cust[i].truth >= 0 &&
                    strcmp(json_string_value(json_object_get(v, "designation")),
                           gens[cust[i].truth].id) == 0)
                    found = true;
                else
                    fp++;
            }
            if (cust[i].truth >= 0) {
                tp += found;
                fn += !found;
                true_flagged += json_array_size(c) > 0;
            } else if (json_array_size(c) > 0) {
                false_flagged++;
            }
            json_decref(c);
        }
        printf("%-9.2f  %-6.3f  %-9.3f  %-9.3f  %-5zu  %-5zu  %-5zu  %zu of %d\n", thresholds[ti],
               (double)tp / TRUE_CUSTOMERS, tp + fp > 0 ? (double)tp / (double)(tp + fp) : 1.0,
               true_flagged + false_flagged > 0
                   ? (double)true_flagged / (double)(true_flagged + false_flagged)
                   : 1.0,
               tp, fp, fn, false_flagged, FALSE_CUSTOMERS);
    }
    return 0;
}

int
main(void)
{
    char dir[] = "/tmp/bench-screen-XXXXXX", path[256], why[256], key[AGENT_STORE_KEY_MAX];
    agent_store *st = NULL;
    agent_txn *t = NULL;
    screen_set *set = NULL;
    customer *cust = calloc(TRUE_CUSTOMERS + FALSE_CUSTOMERS, sizeof(customer));
    double *lat = calloc(TRUE_CUSTOMERS + FALSE_CUSTOMERS, sizeof(double));
    size_t n_cust = TRUE_CUSTOMERS + FALSE_CUSTOMERS, keys, postings, bytes, examined_total = 0;
    double t0, t1, t_load, t_index;
    long rss0, rss1;

    gens = calloc(DESIGNATIONS, sizeof(gen));
    if (cust == NULL || lat == NULL || gens == NULL || mkdtemp(dir) == NULL)
        return 1;
    bench_print_machine();
    snprintf(path, sizeof(path), "%s/agent", dir);
    if (agent_store_open(path, &st, why, sizeof(why)) != AGENT_STORE_OK) {
        fprintf(stderr, "store: %s\n", why);
        return 1;
    }
    /* The store: 20 000 designations from USA/TREASURY. */
    t0 = bench_now();
    if (agent_store_begin(st, true, &t) != AGENT_STORE_OK)
        return 1;
    for (size_t i = 0; i < DESIGNATIONS; i++) {
        json_t *d = designation_json(i);

        agent_designation_key("USA/TREASURY", gens[i].id, 1, key, sizeof(key));
        if (agent_json_put(t, AGENT_T_DESIGNATIONS, key, d) != AGENT_STORE_OK)
            return 1;
        json_decref(d);
    }
    if (agent_store_commit(&t) != AGENT_STORE_OK)
        return 1;
    printf("store: %d designations written in %.2f s (%s)\n", DESIGNATIONS, bench_now() - t0, path);

    /* The labelled customers: true variants, then false look-alikes. */
    {
        size_t kinds[8] = {0};
        static const char *const kind_names[] = {"typo", "transposition", "dropped token",
                                                 "reordered", "diacritics", "weak alias",
                                                 "exact", "case"};

        for (size_t i = 0; i < TRUE_CUSTOMERS; i++) {
            int g = rand_r(&seed) % DESIGNATIONS;
            const char *what = "";

            variant(&gens[g], cust[i].name, sizeof(cust[i].name), &what);
            cust[i].truth = g;
            if (gens[g].born[0] != '\0' && gens[g].born[4] == '-')
                snprintf(cust[i].born, sizeof(cust[i].born), "%s", gens[g].born);
            else if (gens[g].born[0] != '\0') /* a range of years: a date inside it */
                snprintf(cust[i].born, sizeof(cust[i].born), "%d-06-15",
                         (atoi(gens[g].born) + 1) % 10000);
            for (size_t k = 0; k < 8; k++)
                if (strcmp(what, kind_names[k]) == 0)
                    kinds[k]++;
        }
        tokens_seal();
        for (size_t i = TRUE_CUSTOMERS; i < n_cust; i++) {
            int individual = rand_r(&seed) % 10 < 6;

            other_identity(individual ? 0 : 1, cust[i].name, sizeof(cust[i].name));
            cust[i].truth = -1;
            if (individual)
                snprintf(cust[i].born, sizeof(cust[i].born), "%d-%02d-%02d",
                         1940 + rand_r(&seed) % 60, 1 + rand_r(&seed) % 12, 1 + rand_r(&seed) % 28);
        }
        printf("customers: %d true variants (", TRUE_CUSTOMERS);
        for (size_t k = 0; k < 8; k++)
            printf("%s%s %zu", k > 0 ? ", " : "", kind_names[k], kinds[k]);
        printf("), %d other identities of the same shape (surnames and distinctive words no "
               "designation carries, even one edit apart, among %zu designated tokens)\n",
               FALSE_CUSTOMERS, token_count);
    }

    /* Load and index, as freeze screen does, in a read transaction. */
    rss0 = rss_kib();
    set = screen_set_new();
    t0 = bench_now();
    if (agent_store_begin(st, false, &t) != AGENT_STORE_OK)
        return 1;
    {
        /* Load without the index first, to time each part. */
        screen_set *plain = screen_set_new();
        double a = bench_now();

        if (screen_set_load(t, SCREEN_RECEIVED, plain) != AGENT_STORE_OK)
            return 1;
        t_load = bench_now() - a;
        screen_set_destroy(&plain);
    }
    t1 = bench_now();
    if (screen_set_load(t, SCREEN_RECEIVED, set) != AGENT_STORE_OK)
        return 1;
    agent_store_abort(&t);
    t_index = bench_now() - t1;
    {
        double a = bench_now();

        if (!screen_set_index(set))
            return 1;
        t_index = bench_now() - a;
    }
    rss1 = rss_kib();
    screen_set_stats(set, &keys, &postings, &bytes);
    printf("set: %zu designations in force; load from LMDB and parse %.3f s; index build %.3f s; "
           "%zu keys, %zu postings; set %.1f MiB; process RSS %.1f MiB (+%.1f MiB)\n",
           screen_set_count(set), t_load, t_index, keys, postings, (double)bytes / 1048576.0,
           (double)rss1 / 1024.0, (double)(rss1 - rss0) / 1024.0);
    (void)t0;

    /* Throughput and latency at the default threshold, with the index. */
    {
        double total0 = bench_now();

        for (size_t i = 0; i < n_cust; i++) {
            screen_subject s = {.name = cust[i].name};
            json_t *c = NULL;
            size_t examined;
            double a = bench_now();

            if (!screen_subject_run(set, &s, MATCH_DEFAULT_THRESHOLD, SCREEN_CANDIDATES_MAX,
                                    false, &c, &examined))
                return 1;
            lat[i] = bench_now() - a;
            examined_total += examined;
            json_decref(c);
        }
        double total = bench_now() - total0;

        qsort(lat, n_cust, sizeof(double), cmp_double);
        printf("screening (index): %zu customers in %.2f s = %.0f customers/s; latency p50 %.3f ms, "
               "p99 %.3f ms, max %.3f ms; %.0f designations scored per customer on average\n",
               n_cust, total, (double)n_cust / total, lat[n_cust / 2] * 1e3,
               lat[n_cust * 99 / 100] * 1e3, lat[n_cust - 1] * 1e3,
               (double)examined_total / (double)n_cust);
    }
    /* Exhaustive scoring of a sample, for comparison. */
    {
        double a = bench_now();

        for (size_t i = 0; i < EXHAUSTIVE_SAMPLE; i++) {
            size_t k = i * (n_cust / EXHAUSTIVE_SAMPLE);
            screen_subject s = {.name = cust[k].name};
            json_t *c = NULL;

            if (!screen_subject_run(set, &s, MATCH_DEFAULT_THRESHOLD, SCREEN_CANDIDATES_MAX, true,
                                    &c, NULL))
                return 1;
            json_decref(c);
        }
        double total = bench_now() - a;

        printf("screening (exhaustive, %d customers): %.0f customers/s, %.3f ms per customer\n",
               EXHAUSTIVE_SAMPLE, EXHAUSTIVE_SAMPLE / total, total / EXHAUSTIVE_SAMPLE * 1e3);
    }
    /* Precision and recall, by candidate (every candidate other than the labelled designation
     * is false) and by customer (flagged customers that are true ones). */
    if (quality(set, cust, n_cust, false) != 0 || quality(set, cust, n_cust, true) != 0)
        return 1;
    screen_set_destroy(&set);
    agent_store_close(&st);
    {
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (getenv("BENCH_KEEP") == NULL && system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
        else if (getenv("BENCH_KEEP") != NULL)
            printf("store kept in %s\n", dir);
    }
    free(cust);
    free(lat);
    free(gens);
    return 0;
}
