/* Test helpers: scratch directories, free ports, asserts that print error text. */
#ifndef LIAISON_TEST_HELPERS_H
#define LIAISON_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "liaison_proto.h"

/* Fails the test with the error's name and detail unless err is PROTO_OK. */
#define assert_proto_ok(err, detail)                                                   \
    do {                                                                               \
        proto_err e_ = (err);                                                          \
        if (e_ != PROTO_OK)                                                            \
            fail_msg("%s: %s (%s: %s)", #err, proto_strerror(e_), (detail)->field,     \
                     (detail)->text);                                                  \
    } while (0)

/* Makes a fresh directory under $TMPDIR (or /tmp); path is written to out. */
void test_scratch_dir(char *out, size_t out_len);

/* Removes a directory tree made by test_scratch_dir. */
void test_scratch_remove(const char *path);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int test_free_port(void);

/* A deterministic rng for drafts: ChaCha20 stream of a 32-byte seed. */
typedef struct test_rng {
    uint8_t seed[32];   /* fixed by the test */
    uint64_t counter;   /* bumped per call, so each call draws fresh bytes */
} test_rng;
void test_rng_fill(void *ctx, uint8_t *buf, size_t len);

/* Path of a file under tests/data (LIAISON_TEST_DATA), into out. */
void test_data_path(const char *rel, char *out, size_t out_len);

/* Reads a whole file into a malloc'd buffer; NULL on failure. */
uint8_t *test_read_file(const char *path, size_t *len_out);

/* Silences proto's log for a test binary (logs are captured, not printed). */
void test_quiet_logs(void);

#endif
