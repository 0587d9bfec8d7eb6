/* Unit tests of client/agent/match.c: name folding, Jaro-Winkler, scoring, documents and dates. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "match.h"

#define T MATCH_DEFAULT_THRESHOLD

/* ---- Normalisation ---------------------------------------------------------------------- */

static void
test_match_normalise_folds_scripts(void **state)
{
    static const char *const cases[][2] = {
        /* case, punctuation, spacing */
        {"  John   DOE ", "john doe"},
        {"DOE, John", "doe john"},
        {"Jean-Pierre O'Brien", "jean pierre obrien"},
        {"O\xe2\x80\x99Neil", "oneil"},                       /* right single quote joins */
        {"J.R.R. Tolkien", "j r r tolkien"},
        /* Latin-1 Supplement and Latin Extended-A */
        {"Jos\xc3\xa9 M\xc3\xbcller", "jose muller"},        /* José Müller */
        {"\xc3\x86SIR \xc3\x98STERG\xc3\x85RD", "aesir ostergard"}, /* ÆSIR ØSTERGÅRD */
        {"Stra\xc3\x9f" "e", "strasse"},                    /* Straße */
        {"\xc5\x81ukasz \xc5\xbb\xc3\xb3\xc5\x82kiewski", "lukasz zolkiewski"}, /* Łukasz Żółkiewski */
        {"\xc4\x90or\xc4\x91" "e \xc4\x8c" "a\xc4\x8d" "i\xc4\x87", "dorde cacic"}, /* Đorđe Čačić */
        {"\xc3\x9e\xc3\xb3r \xc3\x90" "a", "thor da"},      /* Þór Ða */
        /* decomposed input: combining marks dropped */
        {"Jose\xcc\x81", "jose"},
        /* Cyrillic */
        {"\xd0\x94\xd0\xbc\xd0\xb8\xd1\x82\xd1\x80\xd0\xb8\xd0\xb9 \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2",
         "dmitriy ivanov"},                                  /* Дмитрий Иванов */
        {"\xd0\xae\xd1\x80\xd0\xb8\xd0\xb9 \xd0\xa9\xd0\xb5\xd1\x80\xd0\xb1\xd0\xb0\xd0\xba\xd0\xbe\xd0\xb2",
         "yuriy shcherbakov"},                               /* Юрий Щербаков */
        {"\xd0\x9e\xd0\xbb\xd1\x8c\xd0\xb3\xd0\xb0", "olga"}, /* Ольга: soft sign dropped */
        /* Greek, with accents and the digraph ου */
        {"\xce\x93\xce\xb5\xcf\x8e\xcf\x81\xce\xb3\xce\xb9\xce\xbf\xcf\x82 "
         "\xce\xa0\xce\xb1\xcf\x80\xce\xb1\xce\xb4\xcf\x8c\xcf\x80\xce\xbf\xcf\x85\xce\xbb\xce\xbf\xcf\x82",
         "georgios papadopoulos"},                           /* Γεώργιος Παπαδόπουλος */
        /* nothing but punctuation, and invalid UTF-8 as a separator */
        {"-- , --", ""},
        {"ab\xff" "cd", "ab cd"},
    };
    char buf[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        match_name_normalise(cases[i][0], buf, sizeof(buf));
        if (strcmp(buf, cases[i][1]) != 0)
            fail_msg("case %zu: '%s' normalised to '%s', expected '%s'", i, cases[i][0], buf,
                     cases[i][1]);
    }
}

static void
test_match_normalise_limits(void **state)
{
    char name[4096], buf[64];
    match_name m;

    (void)state;
    /* More tokens than compared: the rest is ignored. */
    name[0] = '\0';
    for (int i = 0; i < 30; i++)
        strcat(name, "ab ");
    match_name_parse(name, &m);
    assert_int_equal(m.count, MATCH_TOKENS_MAX);
    /* A token longer than compared is cut. */
    memset(name, 'x', 100);
    name[100] = '\0';
    match_name_parse(name, &m);
    assert_int_equal(m.count, 1);
    assert_int_equal(m.lens[0], MATCH_TOKEN_CHARS_MAX);
    /* A small buffer is cut, not overrun, and stays terminated. */
    match_name_normalise("Jonathan Doe", buf, 5);
    assert_string_equal(buf, "jona");
    match_name_normalise(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

/* ---- Jaro-Winkler ----------------------------------------------------------------------- */

static void
test_match_jaro_winkler_known_values(void **state)
{
    /* Winkler's classic examples (upper case, as published). */
    static const struct {
        const char *a, *b;  /* the pair */
        double jw;          /* its Jaro-Winkler similarity */
    } cases[] = {
        {"MARTHA", "MARHTA", 0.9611},
        {"DWAYNE", "DUANE", 0.8400},
        {"DIXON", "DICKSONX", 0.8133},
        {"JONES", "JOHNSON", 0.8323},
        {"ABC", "ABC", 1.0},
        {"ABC", "XYZ", 0.0},
        {"", "", 1.0},
        {"A", "", 0.0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double jw = match_jaro_winkler_utf8(cases[i].a, cases[i].b);

        if (fabs(jw - cases[i].jw) > 0.0005)
            fail_msg("JW(%s, %s) = %.4f, expected %.4f", cases[i].a, cases[i].b, jw, cases[i].jw);
        /* Symmetric. */
        assert_true(fabs(jw - match_jaro_winkler_utf8(cases[i].b, cases[i].a)) < 1e-12);
    }
}

/* ---- Names: what hits and what does not ------------------------------------------------------- */

/* Pairs that must hit at the default threshold: typos, accents, scripts, order. */
static const char *const hits[][2] = {
    {"Jon Doe", "John DOE"},                      /* one letter missing */
    {"Jhon Doe", "John Doe"},                     /* transposition */
    {"Jon Doe", "Jonathan DOE"},                  /* short form */
    {"DOE, John", "John Doe"},                    /* word order */
    {"Doe John", "JOHN DOE"},
    {"Jose Muller", "Jos\xc3\xa9 M\xc3\xbcller"}, /* accents */
    {"Jose Mueller", "Jos\xc3\xa9 M\xc3\xbcller"},/* umlaut written out */
    {"Dmitri Ivanov",
     "\xd0\x94\xd0\xbc\xd0\xb8\xd1\x82\xd1\x80\xd0\xb8\xd0\xb9 \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2"},
    {"Yuri Gagarin",
     "\xd0\xae\xd1\x80\xd0\xb8\xd0\xb9 \xd0\x93\xd0\xb0\xd0\xb3\xd0\xb0\xd1\x80\xd0\xb8\xd0\xbd"},
    {"Georgios Papadopoulos",
     "\xce\x93\xce\xb5\xcf\x8e\xcf\x81\xce\xb3\xce\xb9\xce\xbf\xcf\x82 "
     "\xce\xa0\xce\xb1\xcf\x80\xce\xb1\xce\xb4\xcf\x8c\xcf\x80\xce\xbf\xcf\x85\xce\xbb\xce\xbf\xcf\x82"},
    {"Alexander Ivanov", "Aleksandr Ivanov"},     /* transliteration variants */
    {"Mohammed Ali", "Muhammad Ali"},
    {"Abdel Rahman Ali", "Abdelrahman Ali"},      /* words run together */
    {"John Doe", "John Michael Doe"},             /* a middle name more */
    {"J. Doe", "John Doe"},                       /* an initial */
    {"Anna Schmidt", "Anna Schmitt"},
    {"Jean-Pierre O'Brien", "Jean Pierre OBRIEN"},
};

/* Pairs that must not hit: other people, or too little to go on. */
static const char *const misses[][2] = {
    {"Michael Carter", "Michael Walker"},         /* a common first word does not carry the rest */
    {"Juan Abdullah Ivanov", "Juan Ivan Miller"},
    {"John Dough", "John Doe"},                   /* spelled by sound: the date of birth tells */
    {"Jane Doe", "John Doe"},
    {"John Smith", "John Doe"},
    {"Li Wei", "Li Na"},
    {"Doe", "John Doe"},                          /* a surname alone */
    {"John", "John Doe"},
    {"Peter Parker", "Mary Jane Watson"},
    {"Jonathan Doe", "John Doe"},                 /* a different given name */
    {"Robert Smith", "Roberto Smithers Junior Garcia"},
    {"", "John Doe"},
    {"--", "--"},
};

static void
test_match_names_that_hit(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hits) / sizeof(hits[0]); i++) {
        double s = match_name_score(hits[i][0], hits[i][1]);

        if (!match_is_hit(s, T))
            fail_msg("'%s' against '%s' scored %.4f, below %.2f", hits[i][0], hits[i][1], s, T);
        /* The score does not depend on which side is the query. */
        assert_true(fabs(s - match_name_score(hits[i][1], hits[i][0])) < 1e-12);
    }
}

static void
test_match_near_misses_do_not_hit(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        double s = match_name_score(misses[i][0], misses[i][1]);

        if (match_is_hit(s, T))
            fail_msg("'%s' against '%s' scored %.4f, a hit at %.2f", misses[i][0], misses[i][1], s,
                     T);
    }
}

static void
test_match_one_letter_typos_hit(void **state)
{
    static const char *const base = "Katarina Novakovic";
    char typo[64];

    (void)state;
    /* Each single-letter substitution, deletion and insertion still hits. */
    for (size_t i = 0; i < strlen(base); i++) {
        if (base[i] == ' ')
            continue;
        snprintf(typo, sizeof(typo), "%s", base);
        typo[i] = typo[i] == 'x' ? 'y' : 'x';
        assert_true(match_is_hit(match_name_score(typo, base), T));
        snprintf(typo, sizeof(typo), "%.*s%s", (int)i, base, base + i + 1);
        assert_true(match_is_hit(match_name_score(typo, base), T));
        snprintf(typo, sizeof(typo), "%.*sq%s", (int)i, base, base + i);
        assert_true(match_is_hit(match_name_score(typo, base), T));
    }
}

static void
test_match_threshold_edges(void **state)
{
    /* "jon" against "john": Jaro (1 + 3/4 + 1) / 3 = 0.91667, prefix 2:
     * 0.91667 + 0.2 * 0.08333 = 0.93333; "doe" equal; as many tokens on
     * each side, so the pairs weigh 3 + 4 and 3 + 3. */
    double expected = (7 * (11.0 / 12 + 0.2 * (1.0 / 12)) + 6 * 1.0) / 13;
    double s = match_name_score("Jon Doe", "John Doe");

    (void)state;
    assert_true(fabs(s - expected) < 1e-9);
    assert_true(match_is_hit(s, s));
    assert_true(match_is_hit(s, s - 0.001));
    assert_false(match_is_hit(s, s + 0.001));
    /* Equal names score 1 and hit at the strictest threshold. */
    assert_true(match_is_hit(match_name_score("John Doe", "JOHN  DOE"), 1.0));
    /* Names without letters never hit, even at the lowest threshold. */
    assert_false(match_is_hit(match_name_score("", ""), 0.5));
    /* Score lies in [0, 1]. */
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        double v = match_name_score(misses[i][0], misses[i][1]);

        assert_true(v >= 0.0 && v <= 1.0);
    }
}

/* ---- Documents and dates ----------------------------------------------------------------- */

static void
test_match_documents_exact_after_normalisation(void **state)
{
    char buf[MATCH_DOC_MAX];

    (void)state;
    assert_true(match_doc_normalise("ab 123-456", buf, sizeof(buf)));
    assert_string_equal(buf, "AB123456");
    assert_false(match_doc_normalise(" - / ", buf, sizeof(buf)));
    assert_false(match_doc_normalise(NULL, buf, sizeof(buf)));
    assert_false(match_doc_normalise("ABCDEFGHIJ", buf, 5)); /* would not fit */
    assert_true(match_doc_same("ab 123-456", "passport", "CAN", "AB123456", "Passport", "can"));
    assert_true(match_doc_same("AB123456", NULL, NULL, "AB123456", "passport", "CAN"));
    assert_true(match_doc_same("AB123456", "", "CAN", "AB123456", "passport", NULL));
    assert_false(match_doc_same("AB123456", "passport", "CAN", "AB123456", "passport", "USA"));
    assert_false(match_doc_same("AB123456", "passport", NULL, "AB123456", "id-card", NULL));
    assert_false(match_doc_same("AB123457", NULL, NULL, "AB123456", NULL, NULL));
    assert_false(match_doc_same("AB12345", NULL, NULL, "AB123456", NULL, NULL));  /* no prefix match */
    assert_false(match_doc_same("", NULL, NULL, "", NULL, NULL));
}

static void
test_match_dates(void **state)
{
    (void)state;
    assert_int_equal(match_date_compare("1980-02-29", "1980-02-29"), MATCH_DATE_SAME);
    assert_int_equal(match_date_compare("1980", "1980-02-29"), MATCH_DATE_SAME);
    assert_int_equal(match_date_compare("1980-02-29", "1980-02"), MATCH_DATE_SAME);
    assert_int_equal(match_date_compare("1980-02-28", "1980-02-29"), MATCH_DATE_DIFFERENT);
    assert_int_equal(match_date_compare("1981", "1980-02-29"), MATCH_DATE_DIFFERENT);
    assert_int_equal(match_date_compare("29/02/1980", "1980-02-29"), MATCH_DATE_DIFFERENT);
    assert_int_equal(match_date_compare("29/02/1980", "29/02/1980"), MATCH_DATE_SAME);
    assert_int_equal(match_date_compare(NULL, "1980-02-29"), MATCH_DATE_ABSENT);
    assert_int_equal(match_date_compare("1980", ""), MATCH_DATE_ABSENT);
}

/* A packed name unpacks to the same tokens and flags, and scores as the name itself. */
static void
test_match_pack_round_trip(void **state)
{
    static const char *const names[] = {"Jon DOE", "José Müller-Lüdenscheidt", "Дмитрий Иванов",
                                        "李 小龍", "a b c d e f g h i j k l m n", ""};
    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        match_name m, back;
        uint8_t buf[MATCH_PACKED_MAX + 1];
        size_t n;

        match_name_parse(names[i], &m);
        m.flags[0] = 3;
        n = match_name_pack(&m, buf);
        assert_true(n <= MATCH_PACKED_MAX);
        assert_true(match_name_unpack(buf, n, &back));
        assert_int_equal(back.count, m.count);
        for (size_t t = 0; t < m.count; t++) {
            assert_int_equal(back.lens[t], m.lens[t]);
            assert_int_equal(back.flags[t], m.flags[t]);
            assert_memory_equal(back.tokens[t], m.tokens[t], m.lens[t] * sizeof(uint32_t));
        }
        /* Cut short or with a byte too many, it is refused. */
        if (n > 1)
            assert_false(match_name_unpack(buf, n - 1, &back));
        buf[n] = 0;
        assert_false(match_name_unpack(buf, n + 1, &back));
    }
}

static const char *
skeleton_of(const char *name, char *out)
{
    match_name m;

    match_name_parse(name, &m);
    match_token_skeleton(m.tokens[0], m.lens[0], out);
    return out;
}

/* Spellings that differ in vowels, doubled letters, c/k/q and ph/f share a skeleton. */
static void
test_match_skeletons(void **state)
{
    char a[MATCH_SKELETON_MAX], b[MATCH_SKELETON_MAX];

    (void)state;
    assert_string_equal(skeleton_of("Mohammed", a), "mhmd");
    assert_string_equal(skeleton_of("Muhammad", b), a);
    assert_string_equal(skeleton_of("mhmd", b), a);
    assert_string_equal(skeleton_of("Qadir", a), skeleton_of("Kadir", b));
    assert_string_equal(skeleton_of("Philip", a), skeleton_of("Filip", b));
    assert_string_not_equal(skeleton_of("Omar", a), skeleton_of("Amin", b));
    assert_string_equal(skeleton_of("Aeiou", a), "");
}

/* Other scripts go through ICU: their Latin forms, flags and scripts. */
static void
test_match_icu_scripts(void **state)
{
    static const struct {
        const char *name;   /* as written */
        const char *latin;  /* its normalised form */
        uint8_t flags;      /* the flags of its first token */
        unsigned scripts;   /* the scripts seen */
    } cases[] = {
        {"\xd9\x85\xd8\xad\xd9\x85\xd8\xaf \xd8\xb9\xd9\x84\xd9\x8a", "mhmd ly",
         MATCH_FLAG_TRANSLITERATED | MATCH_FLAG_ABJAD, MATCH_SCRIPT_ARABIC},     /* محمد علي */
        {"\xd7\x9e\xd7\xa9\xd7\x94 \xd7\x9b\xd7\x94\xd7\x9f", "msh khn",
         MATCH_FLAG_TRANSLITERATED | MATCH_FLAG_ABJAD, MATCH_SCRIPT_HEBREW},     /* משה כהן */
        {"\xea\xb9\x80\xec\xa0\x95\xec\x9d\x80", "gim jeong eun",
         MATCH_FLAG_TRANSLITERATED | MATCH_FLAG_HANGUL, MATCH_SCRIPT_HANGUL},    /* 김정은 */
        {"\xe6\xaf\x9b\xe6\xb3\xbd\xe4\xb8\x9c", "mao ze dong", MATCH_FLAG_TRANSLITERATED,
         MATCH_SCRIPT_HAN},                                                      /* 毛泽东 */
        {"\xe3\x82\xb9\xe3\x82\xba\xe3\x82\xad \xe3\x82\xa4\xe3\x83\x81\xe3\x83\xad\xe3\x83\xbc",
         "suzuki ichiro", MATCH_FLAG_TRANSLITERATED, MATCH_SCRIPT_KANA},         /* スズキ イチロー */
        {"\xd0\x9f\xd1\x91\xd1\x82\xd1\x80 \xd0\xa7\xd0\xb0\xd0\xb9\xd0\xba\xd0\xbe\xd0\xb2\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9",
         "petr chaykovskiy", MATCH_FLAG_TRANSLITERATED, MATCH_SCRIPT_CYRILLIC},  /* Пётр Чайковский */
        {"Jos\xc3\xa9 M\xc3\xbcller", "jose muller", 0, MATCH_SCRIPT_LATIN},
    };
    char buf[256];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        match_explanation ex;
        match_name m;

        match_name_normalise(cases[i].name, buf, sizeof(buf));
        if (strcmp(buf, cases[i].latin) != 0)
            fail_msg("'%s' normalised to '%s', expected '%s'", cases[i].name, buf, cases[i].latin);
        match_name_parse(cases[i].name, &m);
        assert_int_equal(m.flags[0], cases[i].flags);
        match_name_explain(cases[i].name, "x", &ex);
        assert_int_equal(ex.side[0].scripts, cases[i].scripts);
        assert_string_equal(ex.side[0].latin, cases[i].latin);
        /* Latin names do not reach ICU: no transform is named. */
        if (cases[i].scripts == MATCH_SCRIPT_LATIN)
            assert_null(ex.side[0].transform);
        else
            assert_non_null(strstr(ex.side[0].transform, "Any-Latin"));
    }
    assert_int_equal(MATCH_NORMALISE_VERSION, 2);
}

/* A name in an abjad matches its Latin spellings both ways, by skeleton. */
static void
test_match_abjad_skeletons(void **state)
{
    static const char *const arabic = "\xd9\x85\xd8\xad\xd9\x85\xd8\xaf \xd8\xb9\xd9\x84\xd9\x8a";
    static const char *const latin[] = {"Mohammed Ali", "Muhammad Ali", "Mohamed Aly"};
    match_explanation ex;

    (void)state;
    for (size_t i = 0; i < sizeof(latin) / sizeof(latin[0]); i++) {
        double s = match_name_score(arabic, latin[i]);

        assert_true(match_is_hit(s, T));
        assert_true(s == match_name_score(latin[i], arabic));
        assert_true(match_name_explain(latin[i], arabic, &ex) == s);
        assert_int_equal(ex.pair_count, 2);
        assert_int_equal(ex.pairs[0].how, MATCH_HOW_SKELETON);
    }
    /* The same letters, Latin on both sides: Jaro-Winkler alone, as before. */
    assert_true(fabs(match_name_score("Mohammed Ali", "Muhammad Ali") - 0.8914) < 0.0005);
    assert_false(match_is_hit(match_name_score(arabic, "John Smith"), T));
}

/* Threads parse concurrently, each with its own transliterator. */
static void *
parse_many(void *arg)
{
    char buf[64];
    int *ok = arg;

    *ok = 1;
    for (int i = 0; i < 200; i++) {
        match_name_normalise("\xd7\x9e\xd7\xa9\xd7\x94 \xd7\x9b\xd7\x94\xd7\x9f", buf, sizeof(buf));
        if (strcmp(buf, "msh khn") != 0)
            *ok = 0;
        match_name_normalise("\xd0\x94\xd0\xbc\xd0\xb8\xd1\x82\xd1\x80\xd0\xb8\xd0\xb9", buf, sizeof(buf));
        if (strcmp(buf, "dmitriy") != 0)
            *ok = 0;
    }
    return NULL;
}

static void
test_match_threads(void **state)
{
    pthread_t th[4];
    int ok[4];

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, parse_many, &ok[i]), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ok[i], 1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_normalise_folds_scripts),
        cmocka_unit_test(test_match_normalise_limits),
        cmocka_unit_test(test_match_jaro_winkler_known_values),
        cmocka_unit_test(test_match_names_that_hit),
        cmocka_unit_test(test_match_near_misses_do_not_hit),
        cmocka_unit_test(test_match_one_letter_typos_hit),
        cmocka_unit_test(test_match_threshold_edges),
        cmocka_unit_test(test_match_documents_exact_after_normalisation),
        cmocka_unit_test(test_match_dates),
        cmocka_unit_test(test_match_pack_round_trip),
        cmocka_unit_test(test_match_skeletons),
        cmocka_unit_test(test_match_icu_scripts),
        cmocka_unit_test(test_match_abjad_skeletons),
        cmocka_unit_test(test_match_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
