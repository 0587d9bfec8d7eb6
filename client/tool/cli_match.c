/* liaison match: score two names as the agent and screening do, and say why. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "agent.h"
#include "cli.h"
#include "cli_int.h"
#include "match.h"

/* Bytes of one token as UTF-8, with its NUL. */
#define TOKEN_TEXT_MAX (4u * MATCH_TOKEN_CHARS_MAX + 1u)

static void
usage(FILE *out)
{
    fprintf(out,
            "NAME\n    liaison match - score two names and explain the score\n\n"
            "SYNOPSIS\n    liaison match [--threshold X | --config FILE] [--json] [--] NAME NAME\n\n"
            "DESCRIPTION\n"
            "    Scores NAME against NAME exactly as the agent (watchlist.query,\n"
            "    traveldoc.check) and screening do, and prints the score, whether it is\n"
            "    a hit at the threshold, and why: the scripts of each name, the ICU\n"
            "    transform that made it Latin and its Latin form, the token pairing\n"
            "    with each pair's similarity and how it was reached (jaro-winkler,\n"
            "    initial, skeleton), the token-count penalty, and whether the names run\n"
            "    together scored better.  The score is symmetric.\n\n"
            "OPTIONS\n"
            "    --threshold X  a hit is a score at or above X (0.5 to 1; default %.2f)\n"
            "    --config FILE  the threshold is the name_threshold of this agent\n"
            "                   configuration\n"
            "    --json         one JSON object instead of text\n\n"
            "EXIT STATUS\n"
            "    0 a hit; 1 no hit; 64 bad usage; 66 the configuration cannot be read;\n"
            "    78 the configuration is not valid.\n",
            MATCH_DEFAULT_THRESHOLD);
}

/* Token t of m as UTF-8 into out (TOKEN_TEXT_MAX bytes). */
static const char *
token_text(const match_name *m, size_t t, char *out)
{
    size_t n = 0;

    for (size_t k = 0; k < m->lens[t]; k++) {
        uint32_t cp = m->tokens[t][k];

        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else if (cp < 0x800) {
            out[n++] = (char)(0xC0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[n++] = (char)(0xE0 | (cp >> 12));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | (cp >> 18));
            out[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[n] = '\0';
    return out;
}

/* The scripts of side as "arabic, latin" into out. */
static const char *
scripts_text(unsigned scripts, char *out, size_t len)
{
    size_t n = 0;

    out[0] = '\0';
    for (unsigned bit = 1; bit <= MATCH_SCRIPT_OTHER; bit <<= 1) {
        if (scripts & bit)
            n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n > 0 ? ", " : "",
                                  match_script_name(bit));
    }
    return out;
}

static json_t *
side_json(const char *given, const match_side *s)
{
    json_t *o = json_object(), *scripts = json_array(), *tokens = json_array();
    char tok[TOKEN_TEXT_MAX];

    for (unsigned bit = 1; bit <= MATCH_SCRIPT_OTHER; bit <<= 1) {
        if (s->scripts & bit)
            json_array_append_new(scripts, json_string(match_script_name(bit)));
    }
    for (size_t t = 0; t < s->name.count; t++) {
        json_t *tj = json_object();

        json_object_set_new(tj, "text", json_string(token_text(&s->name, t, tok)));
        json_object_set_new(tj, "transliterated",
                            json_boolean(s->name.flags[t] & MATCH_FLAG_TRANSLITERATED));
        json_object_set_new(tj, "abjad", json_boolean(s->name.flags[t] & MATCH_FLAG_ABJAD));
        json_object_set_new(tj, "hangul", json_boolean(s->name.flags[t] & MATCH_FLAG_HANGUL));
        json_array_append_new(tokens, tj);
    }
    json_object_set_new(o, "name", json_string(given));
    json_object_set_new(o, "scripts", scripts);
    json_object_set_new(o, "transform",
                        s->transform != NULL ? json_string(s->transform) : json_null());
    json_object_set_new(o, "icu_failed", json_boolean(s->icu_failed));
    json_object_set_new(o, "latin", json_string(s->latin));
    json_object_set_new(o, "tokens", tokens);
    return o;
}

static void
print_json(const char *a, const char *b, const match_explanation *ex, double threshold, bool hit)
{
    json_t *o = json_object(), *pairs = json_array();
    char ta[TOKEN_TEXT_MAX], tb[TOKEN_TEXT_MAX];

    for (size_t p = 0; p < ex->pair_count; p++) {
        const match_pair *q = &ex->pairs[p];
        json_t *pj = json_object();

        json_object_set_new(pj, "a", json_string(token_text(&ex->side[0].name, q->a, ta)));
        json_object_set_new(pj, "b", json_string(token_text(&ex->side[1].name, q->b, tb)));
        json_object_set_new(pj, "similarity", json_real(q->similarity));
        json_object_set_new(pj, "how", json_string(match_how_name(q->how)));
        if (q->how == MATCH_HOW_SKELETON) {
            json_object_set_new(pj, "skeleton_a", json_string(q->skeleton_a));
            json_object_set_new(pj, "skeleton_b", json_string(q->skeleton_b));
        }
        json_array_append_new(pairs, pj);
    }
    json_object_set_new(o, "score", json_real(ex->score));
    json_object_set_new(o, "threshold", json_real(threshold));
    json_object_set_new(o, "hit", json_boolean(hit));
    json_object_set_new(o, "a", side_json(a, &ex->side[0]));
    json_object_set_new(o, "b", side_json(b, &ex->side[1]));
    json_object_set_new(o, "pairs", pairs);
    json_object_set_new(o, "tokens", json_real(ex->tokens));
    json_object_set_new(o, "factor", json_real(ex->factor));
    json_object_set_new(o, "joined", json_real(ex->joined));
    json_object_set_new(o, "joined_skeleton", json_boolean(ex->joined_skeleton));
    json_object_set_new(o, "joined_won", json_boolean(ex->joined_won));
    cli_print_json(o, false);
    json_decref(o);
}

static void
print_side(const char *label, const char *given, const match_side *s)
{
    char scripts[128];

    printf("%s: %s\n", label, given);
    printf("    scripts    %s\n", s->scripts != 0 ? scripts_text(s->scripts, scripts, sizeof(scripts))
                                                  : "(none)");
    if (s->transform != NULL)
        printf("    transform  %s\n", s->transform);
    else if (s->icu_failed)
        printf("    transform  none: ICU could not transliterate; code points kept\n");
    else
        printf("    transform  none (Latin: folded by table)\n");
    printf("    latin      %s\n", s->latin[0] != '\0' ? s->latin : "(no letters)");
}

static void
print_text(const char *a, const char *b, const match_explanation *ex, double threshold, bool hit)
{
    char ta[TOKEN_TEXT_MAX], tb[TOKEN_TEXT_MAX];

    printf("score %.4f: %s at threshold %.2f\n", ex->score, hit ? "hit" : "no hit", threshold);
    print_side("a", a, &ex->side[0]);
    print_side("b", b, &ex->side[1]);
    printf("pairs:\n");
    if (ex->pair_count == 0)
        printf("    (none)\n");
    for (size_t p = 0; p < ex->pair_count; p++) {
        const match_pair *q = &ex->pairs[p];

        printf("    %-14s ~ %-14s %.4f  %s", token_text(&ex->side[0].name, q->a, ta),
               token_text(&ex->side[1].name, q->b, tb), q->similarity, match_how_name(q->how));
        if (q->how == MATCH_HOW_SKELETON)
            printf(" (%s %s %s)", q->skeleton_a,
                   strcmp(q->skeleton_a, q->skeleton_b) == 0 ? "=" : "~", q->skeleton_b);
        printf("\n");
    }
    printf("tokens %.4f x penalty factor %.2f = %.4f\n", ex->tokens, ex->factor,
           ex->tokens * ex->factor);
    printf("run together %.4f%s\n", ex->joined,
           ex->joined_skeleton ? " (skeletons)" : ex->joined == 0.0 ? " (not compared or no match)" : "");
    printf("the score is %s\n", ex->joined_won ? "the run-together comparison" : "the token pairing");
}

int
cli_match_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"threshold", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *threshold_text = NULL;
    double threshold = MATCH_DEFAULT_THRESHOLD;
    bool json = false, hit;
    match_explanation *ex = NULL;
    int c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+", options, NULL)) != -1) {
        switch (c) {
        case 't':
            threshold_text = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (argc - optind != 2 || (threshold_text != NULL && config != NULL)) {
        usage(stderr);
        return EX_USAGE;
    }
    if (threshold_text != NULL) {
        char *end = NULL;

        threshold = strtod(threshold_text, &end);
        if (end == threshold_text || *end != '\0' || !(threshold >= AGENT_THRESHOLD_MIN) ||
            !(threshold <= AGENT_THRESHOLD_MAX)) {
            cli_error("match", "--threshold: '%s' is not a number from %.1f to %.1f",
                      threshold_text, AGENT_THRESHOLD_MIN, AGENT_THRESHOLD_MAX);
            return EX_USAGE;
        }
    }
    if (config != NULL) {
        agent_config *cfg = NULL;

        if ((rc = cli_agent_config_load("match", config, &cfg)) != EX_OK)
            return rc;
        threshold = cfg->name_threshold;
        agent_config_destroy(&cfg);
    }
    ex = malloc(sizeof(*ex));
    if (ex == NULL) {
        cli_error("match", "out of memory");
        return EX_SOFTWARE;
    }
    match_name_explain(argv[optind], argv[optind + 1], ex);
    hit = match_is_hit(ex->score, threshold);
    if (json)
        print_json(argv[optind], argv[optind + 1], ex, threshold, hit);
    else
        print_text(argv[optind], argv[optind + 1], ex, threshold, hit);
    free(ex);
    return hit ? EX_OK : 1;
}
