/*
 * Checks shared by the C test suite's files (test_glimpse.c runs every test; test_host.c holds the
 * quick-connect tests). A failed check prints where and why and marks the running test failed.
 */
#ifndef GLIMPSE_TEST_CHECK_H
#define GLIMPSE_TEST_CHECK_H

#include <glimpse.h>

#include <stddef.h>
#include <stdint.h>
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

/* A frame-pushing export on some handle (glimpse_encoder_push_frame, glimpse_host_push_frame), its
 * handle passed as `handle`. */
typedef glimpse_result (*push_frame_fn)(void *handle, const uint8_t *pixels, size_t len, uint32_t width,
                                        uint32_t height, size_t stride, uint32_t pixel_format,
                                        const glimpse_rect *rects, size_t rect_count);

/* The argument checks every push_frame makes, on a `width` x `height` screen of packed `px`
 * (test_glimpse.c): a NULL buffer or rectangle list, zero size, a short stride or buffer, an
 * unknown pixel format, a rectangle count too large to address, rectangles outside or empty. */
void check_frame_arguments(push_frame_fn push, void *handle, const uint8_t *px, uint32_t width,
                           uint32_t height);

/* Quick-connect tests (test_host.c). */
void test_host_settings(void);
void test_host_null_handle(void);
void test_host_unreachable(void);
void test_host_round_trip(void);
void test_host_relay_stops(void);

#endif
