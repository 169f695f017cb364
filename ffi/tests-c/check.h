/*
 * Checks shared by the C test suite's files (test_glimpse.c runs every test; test_host.c holds the
 * quick-connect tests). A failed check prints where and why and marks the running test failed.
 */
#ifndef GLIMPSE_TEST_CHECK_H
#define GLIMPSE_TEST_CHECK_H

#include <glimpse.h>

#include <stdio.h>

/* Set by a failed check; reset by the runner before each test. */
extern int test_failed;

#define EXPECT(cond)                                                                      \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "  %s:%d: expected %s (last error: %s)\n", __FILE__, __LINE__, \
                    #cond, glimpse_last_error());                                         \
            test_failed = 1;                                                              \
        }                                                                                 \
    } while (0)

#define EXPECT_CODE(call, code)                                                                   \
    do {                                                                                          \
        glimpse_result r_ = (call);                                                               \
        if (r_ != (code)) {                                                                       \
            fprintf(stderr, "  %s:%d: %s returned %u (%s), expected %u (%s): %s\n", __FILE__,     \
                    __LINE__, #call, (unsigned)r_, glimpse_result_message(r_), (unsigned)(code), \
                    glimpse_result_message(code), glimpse_last_error());                         \
            test_failed = 1;                                                                      \
        }                                                                                         \
    } while (0)

#define OK(call) EXPECT_CODE(call, GLIMPSE_RESULT_OK)

/* Quick-connect tests (test_host.c). */
void test_host_settings(void);
void test_host_null_handle(void);
void test_host_unreachable(void);
void test_host_round_trip(void);
void test_host_relay_stops(void);

#endif
