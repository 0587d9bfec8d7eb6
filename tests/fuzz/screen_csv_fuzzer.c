/* Fuzz target: the CSV reader of freeze screen, and screening of what it reads; every row read
 * holds the reader's bounds, every refusal names its line, and scoring never fails. */
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "screen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A small set of designations, made once. */
static screen_set *
designations(void)
{
    static screen_set *set;
    static const char *const recs[] = {
        "{\"designation\": \"A\", \"version\": 1, \"action\": \"add\", \"entity\": {\"name\": "
        "\"Northwind Trading LLC\", \"aliases\": [{\"name\": \"NWT\", \"quality\": \"weak\"}], "
        "\"born\": [\"1960..1965\"], \"nationalities\": [\"Iraq\"], \"documents\": [{\"number\": "
        "\"A1234567\"}]}}",
        "{\"designation\": \"B\", \"version\": 2, \"action\": \"amend\", \"entity\": {\"type\": "
        "\"individual\", \"name\": \"Ivan Petrovich SIDOROV\", \"born\": [\"1968-03-02\"]}}",
    };

    if (set != NULL)
        return set;
    set = screen_set_new();
    if (set == NULL)
        abort();
    for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
        json_t *r = json_loads(recs[i], 0, NULL);
        bool added;

        if (r == NULL || !screen_set_add(set, r, "USA/TREASURY", &added) || !added)
            abort();
        json_decref(r);
    }
    if (!screen_set_index(set))
        abort();
    return set;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static csv_row row;
    csv_reader r;
    csv_err e;
    char why[256];
    size_t last_line = 0;

    csv_reader_init(&r, (const char *)data, size);
    while ((e = csv_row_read(&r, &row, why, sizeof(why))) == CSV_OK) {
        screen_subject s = {0};
        json_t *c = NULL;

        if (row.count == 0 || row.count > CSV_FIELDS_MAX || row.line <= last_line)
            abort();
        last_line = row.line;
        for (size_t i = 0; i < row.count; i++) {
            size_t n = strlen(row.fields[i]);

            if (n > CSV_FIELD_MAX || !csv_utf8_valid(row.fields[i], n))
                abort();
        }
        s.name = row.fields[0];
        s.born = row.count > 1 ? row.fields[1] : NULL;
        s.nationality = row.count > 2 ? row.fields[2] : NULL;
        s.document = row.count > 3 ? row.fields[3] : NULL;
        s.country = row.count > 4 ? row.fields[4] : NULL;
        s.type = row.count > 5 ? row.fields[5] : NULL;
        if (!screen_subject_run(designations(), &s, 0.5, 20, false, &c, NULL) ||
            json_array_size(c) > 20)
            abort();
        json_decref(c);
    }
    /* A refusal says "LINE: reason". */
    if (e == CSV_REFUSED && (why[0] < '1' || why[0] > '9' || strstr(why, ": ") == NULL))
        abort();
    return 0;
}
