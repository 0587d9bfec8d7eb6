/* Times as the message families write them: RFC 3339 UTC text and Unix milliseconds. */
#include <string.h>
#include <time.h>

#include "liaison_proto.h"

char *
proto_time_format(uint64_t ms, char buf[PROTO_TIME_TEXT_BYTES])
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(buf, PROTO_TIME_TEXT_BYTES, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(buf, "?");
    return buf;
}

char *
proto_date_format(uint64_t ms, char buf[PROTO_TIME_TEXT_BYTES])
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, PROTO_TIME_TEXT_BYTES, "%Y-%m-%d", &tm) == 0)
        strcpy(buf, "?");
    return buf;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool
digits(const char **p, int n, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + (unsigned)((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

bool
proto_time_parse(const char *text, uint64_t *ms_out)
{
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    unsigned y, mo, d, h = 0, mi = 0, s = 0, ms = 0;
    int64_t days;

    if (text == NULL || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
        *p++ != '-' || !digits(&p, 2, &d))
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
        return false;
    if (*p == 'T' || *p == 't') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
            !digits(&p, 2, &s) || h > 23 || mi > 59 || s > 60)
            return false;
        if (*p == '.') {
            unsigned scale = 100;

            p++;
            if (*p < '0' || *p > '9')
                return false;
            for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                ms += (unsigned)(*p - '0') * scale;
        }
        if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0)
            return false;
    } else if (*p != '\0') {
        return false;
    }
    days = days_from_civil(y, mo, d);
    *ms_out = ((uint64_t)days * 86400u + h * 3600u + mi * 60u + (s > 59 ? 59 : s)) * 1000u + ms;
    return true;
}
