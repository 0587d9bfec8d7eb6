/* A cmocka fixture for the unit tests of what reads a casebook: before each test a
 * casebook is opened in a new scratch directory (dir, cb), after it the casebook is closed
 * and the directory removed.  Included by one test file each (its functions are static). */
#ifndef LIAISON_TEST_CASEBOOK_FIXTURE_H
#define LIAISON_TEST_CASEBOOK_FIXTURE_H

#include "casebook.h"
#include "helpers.h"

static char dir[1024];   /* the scratch state directory of the running test */
static casebook *cb;     /* its casebook, open while the test runs */

static int
setup(void **state)
{
    char why[128];

    (void)state;
    test_scratch_dir(dir, sizeof(dir));
    if (casebook_open(dir, &cb, why, sizeof(why)) != CASEBOOK_OK)
        fail_msg("casebook_open: %s", why);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    casebook_close(&cb);
    test_scratch_remove(dir);
    return 0;
}

#endif
