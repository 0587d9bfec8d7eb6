/* Verified jobs back in the order they were dispatched.  The verify workers
 * finish out of order; routing keeps the order in which messages arrived,
 * so each sender's messages stay in order.  Self-contained, so unit tests
 * link it. */
#ifndef LIAISON_BROKER_ORDER_H
#define LIAISON_BROKER_ORDER_H

#include <stddef.h>
#include <stdint.h>

/* A job's place in dispatch order; the first member of a broker_job. */
typedef struct broker_ordered {
    uint64_t order;                /* dispatch order */
    struct broker_ordered *next;   /* link while parked, and in a list of ready ones */
    struct broker_ordered *chain;  /* the ones dispatched with this one, after it */
} broker_ordered;

/* The main thread's side of the pool. */
typedef struct broker_order {
    uint64_t next_order;           /* order of the next one dispatched */
    uint64_t next_routed;          /* order of the next one to route */
    size_t in_pool;                /* dispatched and not back yet */
    broker_ordered *parked;        /* back, waiting for earlier ones, by order */
    broker_ordered *parked_last;   /* the last of them: most come back in order */
} broker_order;

/* Numbers first and those chained after it, from q's next order on; returns
 * how many.  Nothing is taken until broker_order_sent says they went. */
size_t broker_order_number(const broker_order *q, broker_ordered *first);
/* The n numbered last went to the pool. */
void broker_order_sent(broker_order *q, size_t n);
/* Takes back a chain the pool is done with; returns the ones that may now be
 * routed, linked by next, in dispatch order (possibly none). */
broker_ordered *broker_order_back(broker_order *q, broker_ordered *chain);
/* Empties the parked list and returns it, linked by next (to free at stop). */
broker_ordered *broker_order_drain(broker_order *q);

#endif
