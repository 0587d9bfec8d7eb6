/* Helpers of every liaison subcommand: errors on stderr, --help, whole files. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_int.h"

int
cli_read_file(const char *path, uint8_t **data_out, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (f == NULL)
        return -1;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        errno = EISDIR; /* a directory, a pipe: nothing to read as a whole */
        return -1;
    }
    if (n > CLI_FILE_MAX) {
        fclose(f);
        errno = EFBIG;
        return -1;
    }
    if ((buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        errno = EIO;
        return -1;
    }
    fclose(f);
    buf[n] = '\0';
    *data_out = buf;
    *len_out = (size_t)n;
    return 0;
}

bool
cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
        if (strcmp(argv[i], "--") == 0)
            break;
    }
    return false;
}

void
cli_error(const char *sub, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "liaison: %s: ", sub);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
