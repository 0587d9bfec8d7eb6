/* Allocation for store/, with test-only allocation and I/O fault injection. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_int.h"

static long fault_alloc_at = -1; /* allocations to let through before one fails */
static long fault_io_at = -1;    /* LMDB writes to let through before one fails */

void
store_fault_alloc(long n)
{
    fault_alloc_at = n;
}

void
store_fault_io(long n)
{
    fault_io_at = n;
}

static bool
alloc_fails(void)
{
    if (fault_alloc_at < 0)
        return false;
    return fault_alloc_at-- == 0;
}

bool
store_fault_io_hit(void)
{
    if (fault_io_at < 0)
        return false;
    return fault_io_at-- == 0;
}

void *
store_malloc(size_t n)
{
    return alloc_fails() ? NULL : malloc(n);
}

void *
store_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : realloc(p, n);
}

void
store_free(void *p)
{
    free(p);
}

void
store_detail_set(proto_detail *detail, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL)
        return;
    snprintf(detail->field, sizeof(detail->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(detail->text, sizeof(detail->text), fmt, ap);
    va_end(ap);
}
