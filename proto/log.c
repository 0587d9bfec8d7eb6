/* The one log module: levels, a pluggable sink, logfmt lines. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto_int.h"

static proto_log_sink log_sink;        /* NULL: stderr */
static void *log_ctx;                  /* passed to log_sink */
static proto_log_level log_max = PROTO_LOG_INFO; /* highest level written */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
proto_log_configure(proto_log_sink sink, void *ctx, proto_log_level max_level)
{
    log_sink = sink;
    log_ctx = ctx;
    log_max = max_level;
}

bool
proto_log_enabled(proto_log_level level)
{
    return level <= log_max;
}

void
proto_log_write(proto_log_level level, const char *id, const char *func, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int w;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
    w = snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s id=%s func=%s ",
                 ts.tv_nsec / 1000000, level_names[level], id, func);
    if (w > 0 && (size_t)w < sizeof(line) - n) {
        n += (size_t)w;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        va_end(ap);
    }
    if (log_sink != NULL)
        log_sink(log_ctx, level, line);
    else
        fprintf(stderr, "%s\n", line);
}

void
proto_log_library(const char *id, const char *func, const char *fmt, va_list ap)
{
    char line[256];
    size_t n;

    if (!proto_log_enabled(PROTO_LOG_WARN))
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    proto_log_write(PROTO_LOG_WARN, id, func, "%s", line);
}
