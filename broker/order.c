/* Verified jobs back in the order they were dispatched. */
#include "order.h"

size_t
broker_order_number(const broker_order *q, broker_ordered *first)
{
    uint64_t order = q->next_order;

    for (broker_ordered *o = first; o != NULL; o = o->chain)
        o->order = order++;
    return (size_t)(order - q->next_order);
}

void
broker_order_sent(broker_order *q, size_t n)
{
    q->next_order += n;
    q->in_pool += n;
}

/* Parks o in order; moves the run that can now be routed to *tail. */
static broker_ordered **
park(broker_order *q, broker_ordered *o, broker_ordered **tail)
{
    broker_ordered **at = &q->parked;

    /* Jobs come back nearly in order, so most join at the end. */
    if (q->parked_last != NULL && q->parked_last->order < o->order)
        at = &q->parked_last->next;
    while (*at != NULL && (*at)->order < o->order)
        at = &(*at)->next;
    o->next = *at;
    *at = o;
    if (o->next == NULL)
        q->parked_last = o;
    while (q->parked != NULL && q->parked->order == q->next_routed) {
        broker_ordered *r = q->parked;

        q->parked = r->next;
        r->next = NULL;
        *tail = r;
        tail = &r->next;
        q->next_routed++;
    }
    if (q->parked == NULL)
        q->parked_last = NULL;
    return tail;
}

broker_ordered *
broker_order_back(broker_order *q, broker_ordered *chain)
{
    broker_ordered *ready = NULL, **tail = &ready;

    while (chain != NULL) {
        broker_ordered *o = chain;

        chain = o->chain;
        o->chain = NULL;
        tail = park(q, o, tail);
        q->in_pool--;
    }
    return ready;
}

broker_ordered *
broker_order_drain(broker_order *q)
{
    broker_ordered *parked = q->parked;

    q->parked = q->parked_last = NULL;
    return parked;
}
