/*
 * Helpers the C examples share (share.c, view.c, quick_share.c). Define EXAMPLE_NAME, the program
 * name errors start with, before including it. Every function is static inline: each example uses
 * only some of them.
 */
#ifndef GLIMPSE_EXAMPLE_H
#define GLIMPSE_EXAMPLE_H

#include <glimpse.h>

#include <stdio.h>

/* Returns 1 for GLIMPSE_RESULT_OK; otherwise prints what failed, the code's message and the detail
 * of glimpse_last_error(), and returns 0. */
static inline int check(glimpse_result r, const char *what) {
    if (r != GLIMPSE_RESULT_OK) {
        fprintf(stderr, EXAMPLE_NAME ": %s failed: %s (%u): %s\n", what, glimpse_result_message(r), (unsigned)r,
                glimpse_last_error());
        return 0;
    }
    return 1;
}

/* Frame i of a synthetic session: a gradient desktop, a "window" that moves, text-like stripes. */
static inline void synthesize(uint8_t *px, uint32_t w, uint32_t h, unsigned i) {
    uint32_t x, y;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            uint8_t *p = px + ((size_t)y * w + x) * 4;
            p[0] = (uint8_t)(x * 255 / w);
            p[1] = (uint8_t)(y * 255 / h);
            p[2] = 0x40;
            p[3] = 0xff;
        }
    }
    {
        uint32_t wx = 20 + (i * 7) % (w / 2), wy = 10 + (i * 3) % (h / 2);
        for (y = wy; y < wy + h / 3 && y < h; y++) {
            for (x = wx; x < wx + w / 3 && x < w; x++) {
                uint8_t *p = px + ((size_t)y * w + x) * 4;
                int ink = ((y - wy) % 12 < 8) && (((x - wx) * 31 + (y - wy) * 7 + i) % 11 < 5) &&
                          (x - wx) < (i * 9 + 10);
                p[0] = p[1] = p[2] = ink ? 0x10 : 0xf0;
            }
        }
    }
}

#endif
