/* A court's own verifier of an evidence bundle, built only from an installed libliaison. */
#include <liaison.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * court_verify DIR TRUSTED_ROSTER: prints the case, what was checked and every
 * problem; exits 0 if the bundle verifies, 1 if it does not, 2 if it could
 * not be read.  It includes liaison.h and links libliaison, nothing more of
 * Liaison, as a program written outside the project would.
 */
int
main(int argc, char **argv)
{
    liaison_bundle_report *report = NULL;
    liaison_bundle_counts counts;
    const char *case_id;
    liaison_err err;
    size_t i;

    if (argc != 3) {
        fprintf(stderr, "usage: court_verify DIR TRUSTED_ROSTER\n");
        return 2;
    }
    err = liaison_bundle_verify(argv[1], argv[2], &report);
    if (report == NULL) {
        fprintf(stderr, "court_verify: %s: %s\n", argv[1], liaison_strerror(err));
        return 2;
    }
    liaison_bundle_report_counts(report, &counts);
    case_id = liaison_bundle_report_case(report);
    printf("case %s: %s\n", case_id != NULL ? case_id : "(unreadable manifest)",
           liaison_bundle_report_ok(report) ? "verified" : "FAILED");
    printf("envelopes %zu files %zu chunks %zu custody %zu proofs %zu\n", counts.envelopes,
           counts.files, counts.chunks, counts.custody, counts.proofs);
    for (i = 0; i < liaison_bundle_report_problem_count(report); i++) {
        const char *file = NULL;
        const char *reason = NULL;

        if (liaison_bundle_report_problem(report, i, &file, &reason) == LIAISON_OK)
            printf("problem: %s: %s\n", file != NULL ? file : "-", reason);
    }
    liaison_bundle_report_destroy(&report);
    return err == LIAISON_OK ? 0 : 1;
}
