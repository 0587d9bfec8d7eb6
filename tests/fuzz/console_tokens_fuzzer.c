/* Fuzz target: the web console's tokens file.  Whatever the bytes, reading them either fails
 * with EX_CONFIG and a reason, or gives tokens of 32 to 128 base64url characters, each with
 * an actor of the actor grammar, each of which logs in as the first actor it names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "console_int.h"
#include "liaison_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static console_tokens t;
    char path[] = "/tmp/liaison-tokens-fuzz-XXXXXX";
    char why[512];
    int fd, rc;

    if (proto_init() != PROTO_OK || (fd = mkstemp(path)) < 0)
        abort();
    if (write(fd, data, size) != (ssize_t)size || fchmod(fd, 0600) != 0)
        abort();
    close(fd);
    why[0] = '\0';
    memset(&t, 0, sizeof(t));
    rc = console_tokens_load(path, &t, why, sizeof(why));
    unlink(path);
    if (rc != 0) {
        if (rc != EX_CONFIG || why[0] == '\0' || t.count != 0)
            abort();
        return 0;
    }
    for (size_t i = 0; i < t.count; i++) {
        const char *actor = console_tokens_match(&t, t.v[i].token);
        size_t n = strlen(t.v[i].token), first = i;

        if (n < CONSOLE_TOKEN_MIN || n > CONSOLE_TOKEN_MAX ||
            strspn(t.v[i].token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-_") != n)
            abort();
        if (!proto_actor_valid(t.v[i].actor))
            abort();
        /* A token written twice logs in as the first line that has it. */
        for (size_t k = 0; k < i && first == i; k++)
            if (strcmp(t.v[k].token, t.v[i].token) == 0)
                first = k;
        if (actor != t.v[first].actor)
            abort();
    }
    return 0;
}
