/* Unit tests of client/agent/match.c over tests/data/names/pairs.tsv: recall and precision per script. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "match.h"

#define PAIRS_MAX 1024u  /* pairs the file may hold */
#define LINE_MAX_ 1024u  /* bytes of a line */
#define SCRIPTS_MAX 16u  /* scripts the file may name */
#define FIELD_MAX 256u   /* bytes of a field */

/* One labelled pair of the file. */
typedef struct pair {
    char script[32];     /* the script of name_a ("latin" for the controls) */
    char a[FIELD_MAX];   /* name_a */
    char b[FIELD_MAX];   /* name_b */
    int label;           /* 1 the same person, 0 another */
} pair;

/* Counts of one script at the default threshold. */
typedef struct tally {
    char script[32];     /* its name, "" for the total */
    unsigned tp, fn, fp, tn; /* true/false positives and negatives */
} tally;

/*
 * What the current code reaches on the file, per script: a change that
 * makes matching worse fails here.  Floors are the figures measured when
 * the set was written, rounded down; raise them when the code improves.
 */
static const struct {
    const char *script;  /* the script */
    double recall;       /* true pairs that hit, at least */
    double precision;    /* hits that are true pairs, at least */
} floors[] = {
    {"cyrillic", 0.93, 0.63}, {"greek", 0.96, 0.63},    {"arabic", 0.96, 0.67},
    {"hebrew", 0.92, 0.76},   {"han", 0.89, 0.58},      {"japanese", 0.92, 0.53},
    {"hangul", 0.92, 0.78},   {"latin", 0.86, 0.65},
};

static pair pairs[PAIRS_MAX];
static size_t pair_count;

/* Reads the file into pairs; fails the test on a malformed line. */
static int
setup(void **state)
{
    const char *dir = getenv("LIAISON_TEST_DATA");
    char path[1024], line[LINE_MAX_];
    FILE *f;
    unsigned lineno = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/names/pairs.tsv", dir != NULL ? dir : "tests/data");
    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "test_match_scripts: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *field[5], *save = NULL, *p = line;
        size_t n = 0;

        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        for (char *t = strtok_r(p, "\t", &save); t != NULL && n < 5; t = strtok_r(NULL, "\t", &save))
            field[n++] = t;
        if (n != 5 || pair_count == PAIRS_MAX || strlen(field[0]) >= sizeof(pairs[0].script) ||
            strlen(field[1]) >= FIELD_MAX || strlen(field[2]) >= FIELD_MAX ||
            (strcmp(field[3], "0") != 0 && strcmp(field[3], "1") != 0)) {
            fprintf(stderr, "test_match_scripts: %s:%u: not script, a, b, 0|1, note\n", path,
                    lineno);
            fclose(f);
            return -1;
        }
        snprintf(pairs[pair_count].script, sizeof(pairs[0].script), "%s", field[0]);
        snprintf(pairs[pair_count].a, FIELD_MAX, "%s", field[1]);
        snprintf(pairs[pair_count].b, FIELD_MAX, "%s", field[2]);
        pairs[pair_count].label = field[3][0] - '0';
        pair_count++;
    }
    fclose(f);
    return pair_count > 0 ? 0 : -1;
}

static double
ratio(unsigned num, unsigned den)
{
    return den > 0 ? (double)num / (double)den : 1.0;
}

static void
count(tally *t, int label, bool hit)
{
    if (label && hit)
        t->tp++;
    else if (label)
        t->fn++;
    else if (hit)
        t->fp++;
    else
        t->tn++;
}

/* Every pair at the default threshold: the table, and the floors. */
static void
test_match_scripts_recall_and_precision(void **state)
{
    tally tallies[SCRIPTS_MAX + 1];
    size_t n = 0;

    (void)state;
    memset(tallies, 0, sizeof(tallies));
    for (size_t i = 0; i < pair_count; i++) {
        const pair *p = &pairs[i];
        double s = match_name_score(p->a, p->b);
        bool hit = match_is_hit(s, MATCH_DEFAULT_THRESHOLD);
        size_t k = 0;

        while (k < n && strcmp(tallies[k].script, p->script) != 0)
            k++;
        if (k == n) {
            assert_true(n < SCRIPTS_MAX);
            snprintf(tallies[n++].script, sizeof(tallies[0].script), "%s", p->script);
        }
        count(&tallies[k], p->label, hit);
        count(&tallies[SCRIPTS_MAX], p->label, hit);
        if (hit != (p->label == 1))
            printf("  %-5s %-9s %.4f  %s | %s\n", hit ? "FP" : "FN", p->script, s, p->a, p->b);
    }
    printf("\n  %-9s %5s %5s %5s %5s %8s %10s\n", "script", "TP", "FN", "FP", "TN", "recall",
           "precision");
    for (size_t k = 0; k <= n; k++) {
        const tally *t = k < n ? &tallies[k] : &tallies[SCRIPTS_MAX];

        printf("  %-9s %5u %5u %5u %5u %8.3f %10.3f\n", k < n ? t->script : "all", t->tp, t->fn,
               t->fp, t->tn, ratio(t->tp, t->tp + t->fn), ratio(t->tp, t->tp + t->fp));
    }
    for (size_t f = 0; f < sizeof(floors) / sizeof(floors[0]); f++) {
        const tally *t = NULL;

        for (size_t k = 0; k < n; k++) {
            if (strcmp(tallies[k].script, floors[f].script) == 0)
                t = &tallies[k];
        }
        if (t == NULL)
            fail_msg("no pair of script %s", floors[f].script);
        if (ratio(t->tp, t->tp + t->fn) + 1e-9 < floors[f].recall ||
            ratio(t->tp, t->tp + t->fp) + 1e-9 < floors[f].precision)
            fail_msg("%s: recall %.3f (floor %.2f), precision %.3f (floor %.2f)", t->script,
                     ratio(t->tp, t->tp + t->fn), floors[f].recall, ratio(t->tp, t->tp + t->fp),
                     floors[f].precision);
    }
}

/* The score is symmetric, and the explanation gives it bit for bit. */
static void
test_match_scripts_symmetric_and_explained(void **state)
{
    (void)state;
    for (size_t i = 0; i < pair_count; i++) {
        const pair *p = &pairs[i];
        match_explanation ex;
        double s = match_name_score(p->a, p->b);
        double e = match_name_explain(p->a, p->b, &ex);

        if (memcmp(&s, &e, sizeof(s)) != 0 || memcmp(&s, &ex.score, sizeof(s)) != 0)
            fail_msg("%s | %s: score %.17g, explained %.17g", p->a, p->b, s, e);
        if (fabs(s - match_name_score(p->b, p->a)) > 1e-12)
            fail_msg("%s | %s: %.17g one way, %.17g the other", p->a, p->b, s,
                     match_name_score(p->b, p->a));
        /* Every pair of the explanation names tokens that exist. */
        assert_true(ex.pair_count <= ex.side[0].name.count && ex.pair_count <= ex.side[1].name.count);
        for (size_t k = 0; k < ex.pair_count; k++) {
            assert_true(ex.pairs[k].a < ex.side[0].name.count);
            assert_true(ex.pairs[k].b < ex.side[1].name.count);
        }
    }
}

/* A parsed name of every script packs and unpacks to the same tokens and flags. */
static void
test_match_scripts_pack_keeps_flags(void **state)
{
    (void)state;
    for (size_t i = 0; i < pair_count; i++) {
        match_name m, back;
        uint8_t buf[MATCH_PACKED_MAX];
        size_t len;

        match_name_parse(pairs[i].a, &m);
        len = match_name_pack(&m, buf);
        assert_true(match_name_unpack(buf, len, &back));
        assert_memory_equal(&m, &back, sizeof(m));
        assert_true(match_name_score_parsed(&back, &m) == match_name_score_parsed(&m, &m));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_scripts_recall_and_precision),
        cmocka_unit_test(test_match_scripts_symmetric_and_explained),
        cmocka_unit_test(test_match_scripts_pack_keeps_flags),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
