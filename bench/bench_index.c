/* Benchmark of the agent store's index: bulk loads, name queries and document checks at scale (prints figures, asserts nothing). */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent.h"
#include "bench_util.h"

/* Name frequencies follow Zipf's law shifted by ZIPF_OFFSET ranks (p(r) ~ 1 / (r + 10)), so
 * that the commonest given name is about 1.2 % of given names and the commonest surname about
 * 1.1 % of surnames, as in large national name lists; an unshifted law over a few thousand
 * names would give one name to one person in nine. */
#define GIVEN_NAMES 20000u
#define SURNAMES 50000u
#define NAME_CHARS 24u
#define ZIPF_OFFSET 10.0

typedef struct options {
    size_t persons;        /* persons loaded */
    size_t documents;      /* document reports loaded */
    size_t queries;        /* name queries */
    size_t checks;         /* document checks */
    size_t sample;         /* queries also run by a full scan */
    const char *dir;       /* where stores and files go */
} options;

static char given[GIVEN_NAMES][NAME_CHARS];
static char surnames[SURNAMES][NAME_CHARS];
static double zipf_given[GIVEN_NAMES], zipf_surnames[SURNAMES];
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t
rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static double
rng_unit(void)
{
    return (double)rng() / 4294967296.0;
}

/* A pronounceable name of 2 to 4 syllables, distinct by construction of index i. */
static void
make_name(size_t i, uint32_t salt, char *out)
{
    static const char *const onsets[] = {"b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r",
                                         "s", "t", "v", "z", "sh", "ch", "kh", "br", "tr"};
    static const char *const vowels[] = {"a", "e", "i", "o", "u", "ai", "ou", "ei"};
    size_t syl = 2 + (i + salt) % 3, x = i * 2654435761u + salt;

    out[0] = '\0';
    for (size_t s = 0; s < syl; s++) {
        strcat(out, onsets[x % 20]);
        x /= 20;
        strcat(out, vowels[x % 8]);
        x /= 8;
        x += i * 7 + s;
    }
    if (i % 3 == 0)
        strcat(out, (i / 3) % 2 ? "n" : "r");
}

static void
zipf_table(double *cdf, size_t n)
{
    double sum = 0.0;

    for (size_t r = 0; r < n; r++)
        sum += 1.0 / ((double)(r + 1) + ZIPF_OFFSET);
    for (size_t r = 0; r < n; r++)
        cdf[r] = (r == 0 ? 0.0 : cdf[r - 1]) + 1.0 / ((double)(r + 1) + ZIPF_OFFSET) / sum;
}

static size_t
zipf_pick(const double *cdf, size_t n)
{
    double u = rng_unit();
    size_t lo = 0, hi = n - 1;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A Latin name written in Cyrillic, letter by letter (match.c transliterates it back). */
static void
cyrillic(const char *latin, char *out, size_t out_len)
{
    static const char *const map[26] = {
        "а", "б", "ц", "д", "е", "ф", "г", "х", "и", "й", "к", "л", "м",
        "н", "о", "п", "к", "р", "с", "т", "у", "в", "в", "кс", "ы", "з"};

    out[0] = '\0';
    for (const char *p = latin; *p != '\0'; p++) {
        if (*p >= 'a' && *p <= 'z')
            snprintf(out + strlen(out), out_len - strlen(out), "%s", map[*p - 'a']);
        else
            snprintf(out + strlen(out), out_len - strlen(out), "%c", *p);
    }
}

/* Person i's name (its tokens). */
static size_t
person_tokens(size_t i, const char **tok)
{
    uint64_t saved = rng_state;
    size_t n;

    rng_state = (uint64_t)i * 0xD1B54A32D192ED03ull + 1;
    n = 1 + rng() % 3;
    for (size_t k = 0; k < n; k++)
        tok[k] = given[zipf_pick(zipf_given, GIVEN_NAMES)];
    tok[n] = surnames[zipf_pick(zipf_surnames, SURNAMES)];
    rng_state = saved;
    return n + 1;
}

static void
person_name(size_t i, char *out, size_t out_len)
{
    const char *tok[4];
    size_t n = person_tokens(i, tok);
    char latin[160] = "";

    for (size_t k = 0; k < n; k++)
        snprintf(latin + strlen(latin), sizeof(latin) - strlen(latin), "%s%s", k ? " " : "", tok[k]);
    if (i % 33 == 0)
        cyrillic(latin, out, out_len);
    else
        snprintf(out, out_len, "%s", latin);
}

static long
peak_rss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
pct(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);

    return n > 0 ? sorted[i] : 0.0;
}

static agent_store *
store_new(const options *o, const char *name, char *dir, size_t dir_len)
{
    agent_store *st = NULL;
    char why[512];

    snprintf(dir, dir_len, "%s/%s", o->dir, name);
    if (agent_store_open(dir, &st, why, sizeof(why)) != AGENT_STORE_OK) {
        fprintf(stderr, "bench_index: %s\n", why);
        exit(1);
    }
    return st;
}

static void
remove_tree(const char *dir)
{
    char cmd[1200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_index: cannot remove %s\n", dir);
}

/* Loads the JSON Lines file at path into table, printing the figures. */
static void
load(agent_store *st, agent_table table, const char *path, size_t count, const char *what)
{
    FILE *f = fopen(path, "r");
    agent_bulk_result res;
    agent_store_err err;
    uint64_t bytes = 0;
    double t0 = bench_now(), secs;

    if (f == NULL) {
        perror(path);
        exit(1);
    }
    err = agent_bulk_load(st, table, f, path,
                          table == AGENT_T_ENTRIES ? agent_entry_check : agent_doc_check, NULL, &res);
    secs = bench_now() - t0;
    fclose(f);
    if (err != AGENT_STORE_OK) {
        fprintf(stderr, "bench_index: load: %s (%s)\n", agent_store_strerror(err), res.why);
        exit(1);
    }
    if (agent_store_size(st, &bytes) != AGENT_STORE_OK)
        bytes = 0;
    printf("load %zu %s: %.1f s, %.0f per s, store %.1f MB (%.0f bytes each), peak RSS %.1f MB\n",
           count, what, secs, (double)count / secs, (double)bytes / 1e6, (double)bytes / (double)count,
           (double)peak_rss_kb() / 1024.0);
}

static void
bench_persons(const options *o)
{
    static const char *const kinds[] = {"as is", "one typo", "reordered", "middle dropped", "absent"};
    char dir[1024], path[1100], name[256], text[512];
    agent_store *st;
    FILE *f;
    double *ms = calloc(o->queries + 1, sizeof(double)), *cands = calloc(o->queries + 1, sizeof(double));
    size_t alike = 0, left_out = 0, extra = 0, scan_hits = 0, sampled = 0;
    double scan_ms = 0.0;

    st = store_new(o, "persons", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/persons.jsonl", o->dir);
    if ((f = fopen(path, "w")) == NULL || ms == NULL || cands == NULL) {
        perror(path);
        exit(1);
    }
    for (size_t i = 0; i < o->persons; i++) {
        person_name(i, name, sizeof(name));
        fprintf(f, "{\"ref\": \"P%07zu\", \"name\": \"%s\", \"born\": \"%04zu-%02zu-%02zu\"", i, name,
                1940 + i % 65, 1 + i % 12, 1 + i % 28);
        if (i % 3 == 0)
            fprintf(f, ", \"documents\": [{\"type\": \"passport\", \"number\": \"X%08zu\"}]", i);
        fputs("}\n", f);
    }
    fclose(f);
    load(st, AGENT_T_ENTRIES, path, o->persons, "persons");
    remove(path);
    for (size_t q = 0; q < o->queries; q++) {
        size_t src = rng() % o->persons, kind = q % 5, n;
        const char *tok[4];
        json_t *subject, *hits = NULL, *scan = NULL;
        agent_lookup_how how = {false, 0};
        agent_txn *t = NULL;
        double t0;

        n = person_tokens(src, tok);
        name[0] = '\0';
        for (size_t k = 0; k < n; k++) {
            size_t at = kind == 2 ? (k + 1) % n : k;
            char w[NAME_CHARS + 4];

            if (kind == 3 && n >= 3 && k == 1)
                continue;
            snprintf(w, sizeof(w), "%s", tok[at]);
            if (kind == 1 && k == n - 1 && strlen(w) > 3)
                w[2] = w[2] == 'x' ? 'q' : 'x';
            if (kind == 4)
                snprintf(w, sizeof(w), "%sq%s", k == 0 ? "zy" : "", tok[at]);
            snprintf(name + strlen(name), sizeof(name) - strlen(name), "%s%s", k ? " " : "", w);
        }
        snprintf(text, sizeof(text), "{\"name\": \"%s\"}", name);
        subject = json_loads(text, 0, NULL);
        if (agent_store_begin(st, false, &t) != AGENT_STORE_OK)
            exit(1);
        t0 = bench_now();
        if (agent_lookup_subject_how(t, subject, MATCH_DEFAULT_THRESHOLD, AGENT_SCOPE_OWN, false, &how,
                                     &hits) != AGENT_STORE_OK)
            exit(1);
        ms[q] = (bench_now() - t0) * 1e3;
        cands[q] = (double)how.candidates;
        if (sampled < o->sample && q % (o->queries / (o->sample > 0 ? o->sample : 1) + 1) == 0) {
            agent_lookup_how full = {true, 0};
            size_t i;
            const json_t *h, *g;

            sampled++;
            t0 = bench_now();
            if (agent_lookup_subject_how(t, subject, MATCH_DEFAULT_THRESHOLD, AGENT_SCOPE_OWN, false,
                                         &full, &scan) != AGENT_STORE_OK)
                exit(1);
            scan_ms += (bench_now() - t0) * 1e3;
            if (json_equal(scan, hits))
                alike++;
            json_array_foreach(scan, i, h) {
                bool in = false;
                size_t j;

                scan_hits++;
                json_array_foreach(hits, j, g)
                    in = in || json_equal(json_object_get(h, "ref"), json_object_get(g, "ref"));
                left_out += !in;
                if (!in && getenv("BENCH_DEBUG") != NULL)
                    fprintf(stderr, "LEFT %s | %s %.3f (scan %zu hits)\n",
                            json_string_value(json_object_get(subject, "name")),
                            json_string_value(json_object_get(h, "name")),
                            json_real_value(json_object_get(h, "score")), json_array_size(scan));
            }
            extra += json_array_size(hits) > json_array_size(scan)
                         ? json_array_size(hits) - json_array_size(scan) : 0;
        }
        agent_store_abort(&t);
        json_decref(scan);
        json_decref(hits);
        json_decref(subject);
    }
    {
        double mean = 0.0;

        for (size_t q = 0; q < o->queries; q++)
            mean += cands[q];
        mean /= (double)(o->queries > 0 ? o->queries : 1);
        qsort(ms, o->queries, sizeof(double), cmp_double);
        qsort(cands, o->queries, sizeof(double), cmp_double);
        printf("%zu name queries at %zu persons (%s, %s, %s, %s, %s in turn): p50 %.3f ms, p95 %.3f ms, "
               "p99 %.3f ms, max %.3f ms; names scored per query: mean %.0f, p99 %.0f\n",
               o->queries, o->persons, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4],
               pct(ms, o->queries, 0.5), pct(ms, o->queries, 0.95), pct(ms, o->queries, 0.99),
               o->queries > 0 ? ms[o->queries - 1] : 0.0, mean, pct(cands, o->queries, 0.99));
        printf("index against a full scan on %zu queries: answers alike %zu; hits of the scan %zu, "
               "left out by the index %zu; full scan %.0f ms per query\n",
               sampled, alike, scan_hits, left_out, sampled > 0 ? scan_ms / (double)sampled : 0.0);
    }
    agent_store_close(&st);
    remove_tree(dir);
    free(ms);
    free(cands);
}

static void
bench_documents(const options *o)
{
    static const char *const statuses[] = {"stolen", "lost", "forged", "fraudulently-used"};
    char dir[1024], path[1100], number[32];
    agent_store *st;
    FILE *f;
    double *ms = calloc(o->checks + 1, sizeof(double));
    size_t found = 0;

    st = store_new(o, "documents", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/documents.jsonl", o->dir);
    if ((f = fopen(path, "w")) == NULL || ms == NULL) {
        perror(path);
        exit(1);
    }
    for (size_t i = 0; i < o->documents; i++)
        fprintf(f, "{\"ref\": \"D%08zu\", \"document\": {\"type\": \"passport\", \"number\": "
                "\"%c%c%08zu\", \"country\": \"CAN\"}, \"status\": \"%s\", \"reported\": \"2026-01-%02zu\"}\n",
                i, 'A' + (int)(i % 26), 'A' + (int)(i / 26 % 26), i, statuses[i % 4], 1 + i % 28);
    fclose(f);
    load(st, AGENT_T_DOCS, path, o->documents, "document reports");
    remove(path);
    for (size_t q = 0; q < o->checks; q++) {
        size_t i = rng() % o->documents;
        json_t *d, *hits = NULL;
        agent_txn *t = NULL;
        double t0;

        /* Half present (written with other spacing), half absent. */
        if (q % 2 == 0)
            snprintf(number, sizeof(number), "%c%c %08zu", 'a' + (int)(i % 26), 'a' + (int)(i / 26 % 26), i);
        else
            snprintf(number, sizeof(number), "ZZ%08zu", i);
        d = json_pack("{s:s}", "number", number);
        if (agent_store_begin(st, false, &t) != AGENT_STORE_OK)
            exit(1);
        t0 = bench_now();
        if (agent_lookup_document(t, d, AGENT_SCOPE_OWN, false, &hits) != AGENT_STORE_OK)
            exit(1);
        ms[q] = (bench_now() - t0) * 1e3;
        found += json_array_size(hits) > 0;
        agent_store_abort(&t);
        json_decref(hits);
        json_decref(d);
    }
    qsort(ms, o->checks, sizeof(double), cmp_double);
    printf("%zu document checks at %zu reports (half present, %zu found): p50 %.4f ms, p99 %.4f ms, "
           "max %.3f ms; peak RSS %.1f MB\n",
           o->checks, o->documents, found, pct(ms, o->checks, 0.5), pct(ms, o->checks, 0.99),
           o->checks > 0 ? ms[o->checks - 1] : 0.0, (double)peak_rss_kb() / 1024.0);
    agent_store_close(&st);
    remove_tree(dir);
    free(ms);
}

int
main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"persons", required_argument, NULL, 'p'}, {"documents", required_argument, NULL, 'd'},
        {"queries", required_argument, NULL, 'q'}, {"checks", required_argument, NULL, 'c'},
        {"sample", required_argument, NULL, 's'},  {"dir", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    options o = {1000000, 10000000, 10000, 100000, 200, NULL};
    char tmpl[512];
    int opt;

    while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'p': o.persons = strtoul(optarg, NULL, 10); break;
        case 'd': o.documents = strtoul(optarg, NULL, 10); break;
        case 'q': o.queries = strtoul(optarg, NULL, 10); break;
        case 'c': o.checks = strtoul(optarg, NULL, 10); break;
        case 's': o.sample = strtoul(optarg, NULL, 10); break;
        case 'D': o.dir = optarg; break;
        default:
            printf("usage: bench_index [--persons N] [--documents N] [--queries N] [--checks N]\n"
                   "                   [--sample N] [--dir DIR]\n"
                   "  defaults: 1000000 persons, 10000000 documents, 10000 queries, 100000\n"
                   "  checks, 200 queries also run by a full scan; stores in a new directory\n"
                   "  under $TMPDIR (deleted at the end)\n");
            return opt == 'h' ? 0 : 64;
        }
    }
    if (o.persons == 0 || o.documents == 0) {
        fprintf(stderr, "bench_index: --persons and --documents must be positive\n");
        return 64;
    }
    if (o.dir == NULL) {
        snprintf(tmpl, sizeof(tmpl), "%s/bench_index.XXXXXX",
                 getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
        if (mkdtemp(tmpl) == NULL) {
            perror(tmpl);
            return 1;
        }
        o.dir = tmpl;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    bench_print_machine();
    for (size_t i = 0; i < GIVEN_NAMES; i++)
        make_name(i, 1, given[i]);
    for (size_t i = 0; i < SURNAMES; i++)
        make_name(i + GIVEN_NAMES, 5, surnames[i]);
    zipf_table(zipf_given, GIVEN_NAMES);
    zipf_table(zipf_surnames, SURNAMES);
    bench_persons(&o);
    bench_documents(&o);
    if (o.dir == tmpl)
        remove_tree(tmpl);
    return 0;
}
