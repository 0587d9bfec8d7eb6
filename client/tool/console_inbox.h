/* The web console's inbox, queries, recalls and consents: the JSON of their endpoints, built
 * from the casebook (docs/console.md, "The JSON API").  console_inbox_api.c serves them. */
#ifndef LIAISON_CONSOLE_INBOX_H
#define LIAISON_CONSOLE_INBOX_H

#include <jansson.h>
#include <stddef.h>

struct casebook;

#define CONSOLE_INBOX_LIMIT 100u      /* messages of an inbox page by default */
#define CONSOLE_INBOX_LIMIT_MAX 500u  /* and at most */
#define CONSOLE_QUERIES_MAX 200u      /* queries listed, the newest */
#define CONSOLE_ANSWERS_MAX 100u      /* answers listed per query */
#define CONSOLE_RECALLS_MAX 200u      /* recalls sent listed, and tombstones, the newest */
#define CONSOLE_CONSENTS_MAX 500u     /* entries of each consent list, the newest */
#define CONSOLE_SUMMARY_MAX 160u      /* bytes of a summary, with its NUL */

/*
 * One page of the messages received, newest first (by when they were stored here, then
 * id): {"total", "messages": [...], "next": CURSOR|null}.  limit is 1..500; before is the
 * "next" of the previous page, or NULL for the first.  The casebook is read once, one
 * message at a time, keeping only the limit + 1 newest keys in a heap (O(n log limit) time,
 * O(limit) memory for n messages received), then the page's messages are read by id.
 * Returns a new reference, or NULL with *status (400 for a cursor that does not parse, 500)
 * and why.
 */
json_t *console_inbox_json(struct casebook *cb, size_t limit, const char *before, int *status,
                           char *why, size_t why_len);

/* The queries sent (watchlist.query, traveldoc.check, watchlist.request, freeze.query),
 * newest first, at most 200, each with the answers received in reply and, in "waiting",
 * the agencies addressed that have not answered: a selector recipient (all agencies of a
 * nation, or "*") stands for the agencies of roster whose card accepts the query's kind, self (this agency) excepted;
 * roster may be NULL (selectors then stay as they are, answered by any agency they
 * select).  {"queries": [...]}.  Reads the casebook twice, one message at a time.  NULL
 * with *status 500 and why when the casebook cannot be read. */
json_t *console_queries_json(struct casebook *cb, const struct proto_roster *roster,
                             const char *self, int *status, char *why, size_t why_len);

/* The recalls sent, with each recipient's state as `liaison recall status` computes it
 * (agent_config, may be NULL, adds the acks the agency's agent kept), and the tombstones
 * of the messages partners recalled here, as `liaison recall deleted`: {"sent": [...],
 * "received": [...]}, newest first, at most 200 each. */
json_t *console_recalls_json(struct casebook *cb, const char *agent_config, int *status,
                             char *why, size_t why_len);

/* The consent requests, grants and denials, as `liaison consent list` reads them, sorted
 * into {"requests_in", "requests_out", "grants", "denials"}; agency (this agency's
 * address) is the grantor of the grants sent and the grantee of those received. */
json_t *console_consents_json(struct casebook *cb, const char *agency, int *status, char *why,
                              size_t why_len);

#endif
