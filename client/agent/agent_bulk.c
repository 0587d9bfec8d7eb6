/* Bulk loading of the agency's own entries or reports from JSON Lines, in one write transaction (docs/agent.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* Bytes of one line at most: an entry of 16 names and 16 documents with details fits well. */
#define LINE_MAX_BYTES (1u << 20)

/* True if the line holds only white space. */
static bool
blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    }
    return true;
}

agent_store_err
agent_bulk_load(agent_store *st, agent_table table, FILE *f, const char *path,
                agent_check_fn check, const char *added, agent_bulk_result *res)
{
    agent_txn *txn = NULL;
    json_t *seen = json_object();
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    agent_store_err err = AGENT_STORE_ERR_NOMEM;

    memset(res, 0, sizeof(*res));
    if (seen == NULL)
        goto out;
    if ((err = agent_store_begin(st, true, &txn)) != AGENT_STORE_OK)
        goto out;
    while ((n = getline(&line, &cap, f)) != -1) {
        json_error_t jerr;
        json_t *o, *c;
        char why[300];
        const char *ref;
        const void *val;
        size_t len;

        res->lines++;
        if (blank(line, (size_t)n))
            continue;
        if ((size_t)n > LINE_MAX_BYTES) {
            snprintf(res->why, sizeof(res->why), "%s:%zu: the line is longer than %u bytes", path,
                     res->lines, LINE_MAX_BYTES);
            err = AGENT_STORE_ERR_INVALID;
            goto out;
        }
        if ((o = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
            snprintf(res->why, sizeof(res->why), "%s:%zu:%d: %s", path, res->lines, jerr.column,
                     jerr.text);
            err = AGENT_STORE_ERR_INVALID;
            goto out;
        }
        c = check(o, why, sizeof(why));
        json_decref(o);
        if (c == NULL) {
            snprintf(res->why, sizeof(res->why), "%s:%zu: %s", path, res->lines, why);
            err = AGENT_STORE_ERR_INVALID;
            goto out;
        }
        ref = json_string_value(json_object_get(c, "ref"));
        /* The refs seen so far, in a hash table: a repeat is found in constant time. */
        if (json_object_get(seen, ref) != NULL) {
            snprintf(res->why, sizeof(res->why), "%s:%zu: ref %s is given twice (first on line %lld)",
                     path, res->lines, ref,
                     (long long)json_integer_value(json_object_get(seen, ref)));
            json_decref(c);
            err = AGENT_STORE_ERR_INVALID;
            goto out;
        }
        if (json_object_set_new(seen, ref, json_integer((json_int_t)res->lines)) != 0) {
            json_decref(c);
            err = AGENT_STORE_ERR_NOMEM;
            goto out;
        }
        if (agent_store_get(txn, table, ref, strlen(ref), &val, &len) == AGENT_STORE_OK)
            res->replaced++;
        else
            res->added++;
        if (added != NULL)
            json_object_set_new(c, "added", json_string(added));
        err = agent_json_put(txn, table, ref, c);
        json_decref(c);
        if (err != AGENT_STORE_OK) {
            snprintf(res->why, sizeof(res->why), "%s:%zu: %s", path, res->lines,
                     agent_store_strerror(err));
            goto out;
        }
    }
    if (ferror(f)) {
        snprintf(res->why, sizeof(res->why), "%s: cannot be read", path);
        err = AGENT_STORE_ERR_IO;
        goto out;
    }
    err = agent_store_commit(&txn);
    if (err != AGENT_STORE_OK)
        snprintf(res->why, sizeof(res->why), "%s: %s", path, agent_store_strerror(err));
out:
    if (err != AGENT_STORE_OK)
        res->added = res->replaced = 0;
    agent_store_abort(&txn);
    free(line);
    json_decref(seen);
    return err;
}
