/* A cmocka fixture for the unit tests of the agent's store: before each test a store is
 * opened in a new scratch directory (a fixture, as *state), after it the store is closed and
 * the directory removed.  Included by one test file each (its functions are static). */
#ifndef LIAISON_TEST_AGENT_STORE_FIXTURE_H
#define LIAISON_TEST_AGENT_STORE_FIXTURE_H

#include <stdlib.h>

#include "agent.h"
#include "helpers.h"

typedef struct fixture {
    char dir[512];         /* the store's directory */
    agent_store *st;       /* the store */
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    char why[256];

    assert_non_null(f);
    test_scratch_dir(f->dir, sizeof(f->dir));
    assert_int_equal(agent_store_open(f->dir, &f->st, why, sizeof(why)), AGENT_STORE_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    agent_store_close(&f->st);
    test_scratch_remove(f->dir);
    free(f);
    return 0;
}

#endif
