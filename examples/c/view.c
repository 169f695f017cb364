/*
 * view: the viewer side of a Glimpse session through the C API.
 *
 *   view IN.glim SCREEN.ppm
 *
 * Reads the length-prefixed packets written by `share`, applies each to a decoder, and writes
 * the final screen to SCREEN.ppm. Prints how many rectangles the updates damaged. Video regions
 * (H.264) are drawn by the decoder; a picture that fails to decode does not fail the packet, and
 * glimpse_decoder_last_video_errors counts such pictures.
 */
#include <glimpse.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_NAME "view"
#include "example.h"

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t cap = 0, n;
    *len = 0;
    if (f == NULL) {
        return NULL;
    }
    for (;;) {
        if (*len == cap) {
            uint8_t *bigger;
            cap = cap ? cap * 2 : 1 << 20;
            bigger = (uint8_t *)realloc(data, cap);
            if (bigger == NULL) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = bigger;
        }
        n = fread(data + *len, 1, cap - *len, f);
        if (n == 0) {
            break;
        }
        *len += n;
    }
    fclose(f);
    return data;
}

int main(int argc, char **argv) {
    size_t len = 0, pos = 0, damage_total = 0, count = 0;
    unsigned long packets = 0, video_errors = 0;
    uint8_t *data;
    int ok;
    glimpse_decoder_settings settings;
    glimpse_decoder *dec = NULL;
    glimpse_framebuffer fb;
    glimpse_cursor cursor;
    glimpse_rect *rects = NULL;
    size_t rect_cap = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: view IN.glim SCREEN.ppm\n");
        return 2;
    }
    data = read_file(argv[1], &len);
    if (data == NULL) {
        perror(argv[1]);
        return 1;
    }
    ok = check(glimpse_decoder_settings_init(&settings), "glimpse_decoder_settings_init") &&
         check(glimpse_decoder_new(&settings, &dec), "glimpse_decoder_new");
    while (ok && pos < len) {
        size_t n;
        glimpse_result r;
        if (len - pos < 4) {
            fprintf(stderr, "view: truncated length prefix at byte %lu\n", (unsigned long)pos);
            ok = 0;
            break;
        }
        n = (size_t)data[pos] | (size_t)data[pos + 1] << 8 | (size_t)data[pos + 2] << 16 | (size_t)data[pos + 3] << 24;
        pos += 4;
        if (n > len - pos) {
            fprintf(stderr, "view: packet at byte %lu runs past the end\n", (unsigned long)pos);
            ok = 0;
            break;
        }
        ok = check(glimpse_decoder_apply(dec, data + pos, n), "glimpse_decoder_apply");
        pos += n;
        packets++;
        if (ok) {
            uint32_t errors = 0;
            ok = check(glimpse_decoder_last_video_errors(dec, &errors), "glimpse_decoder_last_video_errors");
            video_errors += errors;
        }
        /* The damaged rectangles of this update: ask for the count, then fetch them. */
        while (ok) {
            r = glimpse_decoder_damage(dec, rects, rect_cap, &count);
            if (r == GLIMPSE_RESULT_BUFFER_TOO_SMALL) {
                glimpse_rect *bigger = (glimpse_rect *)realloc(rects, count * sizeof *rects);
                if (bigger == NULL) {
                    ok = 0;
                    break;
                }
                rects = bigger;
                rect_cap = count;
                continue;
            }
            ok = check(r, "glimpse_decoder_damage");
            damage_total += count;
            break;
        }
    }
    if (ok) {
        ok = check(glimpse_decoder_framebuffer(dec, &fb), "glimpse_decoder_framebuffer");
    }
    if (ok) {
        FILE *f = fopen(argv[2], "wb");
        uint32_t x, y;
        ok = f != NULL;
        if (ok) {
            fprintf(f, "P6\n%u %u\n255\n", (unsigned)fb.width, (unsigned)fb.height);
            for (y = 0; y < fb.height; y++) {
                for (x = 0; x < fb.width; x++) {
                    const uint8_t *p = fb.pixels + (size_t)y * fb.stride + (size_t)x * 4;
                    uint8_t rgb[3];
                    int bgra = fb.pixel_format == GLIMPSE_PIXEL_FORMAT_BGRA8;
                    rgb[0] = bgra ? p[2] : p[0];
                    rgb[1] = p[1];
                    rgb[2] = bgra ? p[0] : p[2];
                    fwrite(rgb, 1, 3, f);
                }
            }
            ok = fclose(f) == 0;
        }
        printf("view: %lu packets, %lu damaged rectangles, %lu video decode errors, screen %ux%u", packets,
               (unsigned long)damage_total, video_errors, (unsigned)fb.width, (unsigned)fb.height);
        if (glimpse_decoder_cursor(dec, &cursor) == GLIMPSE_RESULT_OK) {
            printf(", cursor at %d,%d (%ux%u image)", (int)cursor.x, (int)cursor.y, (unsigned)cursor.image_width,
                   (unsigned)cursor.image_height);
        }
        printf("\n");
    }
    glimpse_decoder_free(dec);
    free(rects);
    free(data);
    return ok ? 0 : 1;
}
