/* Raw CurveZMQ connections to a test federation's brokers, to send what no
 * client library or broker would. */
#ifndef LIAISON_TEST_RAW_H
#define LIAISON_TEST_RAW_H

#include "federation.h"
#include "liaison_proto.h"

/* One DEALER with its own ZeroMQ context. */
typedef struct fed_raw {
    void *ctx;                  /* ZeroMQ context */
    void *sock;                 /* DEALER, connected */
    proto_identity *id;         /* the keys it authenticates with */
} fed_raw;

/* Connects as agency (its key from the federation) to its own nation's
 * agency endpoint.  Fails the test when it cannot. */
fed_raw *fed_raw_agency(fed *f, const char *agency);
/* Connects as the broker of as_nation (its key in the scratch directory) to
 * the federation endpoint of to_nation's broker, as a partner does. */
fed_raw *fed_raw_peer(fed *f, const char *as_nation, const char *to_nation);
/* Closes the connection and its context, frees it, clears *r; NULL is fine. */
void fed_raw_close(fed_raw **r);

#endif
