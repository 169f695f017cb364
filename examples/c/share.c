/*
 * share: the host side of a Glimpse session through the C API.
 *
 *   share OUT.glim EXPECTED.ppm [--poll] [RAW WIDTH HEIGHT]
 *
 * Encodes frames and writes every packet to OUT.glim, each prefixed by its length (4 bytes,
 * little-endian). Frames come from RAW (concatenated BGRA frames of WIDTH x HEIGHT, "-" for
 * stdin, e.g. `zstd -dc --long=27 rec.bgra.zst | share out.glim last.ppm - 1280 720`) or, without
 * RAW, are synthesized. Packets arrive through the callback, or with --poll through
 * glimpse_encoder_next_packet. The last frame pushed is written to EXPECTED.ppm, to compare with
 * what the viewer shows.
 *
 * Video-like regions are sent as H.264 (lossy) while they play. At the end the last frame is pushed
 * again glimpse_encoder_top_off_bound_frames() times, as a capture loop would while the screen is
 * still: by then every pixel the viewer shows is exact again (the sharp-text guarantee).
 */
#include <glimpse.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE_NAME "share"
#include "example.h"

struct sink {
    FILE *out;
    unsigned long packets[5];
    unsigned long long bytes;
    int failed;
};

static void write_packet(struct sink *s, const uint8_t *data, size_t len, uint32_t kind) {
    uint8_t prefix[4];
    prefix[0] = (uint8_t)(len & 0xff);
    prefix[1] = (uint8_t)((len >> 8) & 0xff);
    prefix[2] = (uint8_t)((len >> 16) & 0xff);
    prefix[3] = (uint8_t)((len >> 24) & 0xff);
    if (fwrite(prefix, 1, 4, s->out) != 4 || fwrite(data, 1, len, s->out) != len) {
        s->failed = 1;
    }
    if (kind < 5) {
        s->packets[kind]++;
    }
    s->bytes += len;
}

/* The packet callback: called on this thread, inside the glimpse_encoder_* call that made the packet. */
static void on_packet(void *userdata, const uint8_t *data, size_t len, uint32_t kind) {
    write_packet((struct sink *)userdata, data, len, kind);
}

/* Drains the queue (poll mode), growing one buffer as needed. */
static int drain(glimpse_encoder *enc, struct sink *s, uint8_t **buf, size_t *cap) {
    for (;;) {
        size_t len = 0;
        uint32_t kind = 0;
        glimpse_result r = glimpse_encoder_next_packet(enc, *buf, *cap, &len, &kind);
        if (r == GLIMPSE_RESULT_NO_PACKET) {
            return 1;
        }
        if (r == GLIMPSE_RESULT_BUFFER_TOO_SMALL) {
            uint8_t *bigger = (uint8_t *)realloc(*buf, len);
            if (bigger == NULL) {
                return 0;
            }
            *buf = bigger;
            *cap = len;
            continue;
        }
        if (!check(r, "glimpse_encoder_next_packet")) {
            return 0;
        }
        write_packet(s, *buf, len, kind);
    }
}

static int write_ppm(const char *path, const uint8_t *bgra, uint32_t w, uint32_t h, size_t stride) {
    FILE *f = fopen(path, "wb");
    uint32_t x, y;
    if (f == NULL) {
        return 0;
    }
    fprintf(f, "P6\n%u %u\n255\n", (unsigned)w, (unsigned)h);
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            const uint8_t *p = bgra + (size_t)y * stride + (size_t)x * 4;
            uint8_t rgb[3];
            rgb[0] = p[2];
            rgb[1] = p[1];
            rgb[2] = p[0];
            fwrite(rgb, 1, 3, f);
        }
    }
    return fclose(f) == 0;
}

int main(int argc, char **argv) {
    const char *out_path, *ppm_path, *raw_path = NULL;
    int poll = 0, argi = 3, ok = 1;
    uint32_t w = 320, h = 200;
    unsigned frames = 0, max_synth = 40;
    FILE *raw = NULL;
    uint8_t *px, *pollbuf = NULL;
    size_t frame_bytes, pollcap = 0;
    struct sink sink;
    glimpse_encoder_settings settings;
    glimpse_encoder *enc = NULL;
    uint8_t cursor[16 * 16 * 4];

    if (argc < 3) {
        fprintf(stderr, "usage: share OUT.glim EXPECTED.ppm [--poll] [RAW WIDTH HEIGHT]\n");
        return 2;
    }
    out_path = argv[1];
    ppm_path = argv[2];
    if (argi < argc && strcmp(argv[argi], "--poll") == 0) {
        poll = 1;
        argi++;
    }
    if (argi + 3 == argc) {
        raw_path = argv[argi];
        w = (uint32_t)strtoul(argv[argi + 1], NULL, 10);
        h = (uint32_t)strtoul(argv[argi + 2], NULL, 10);
        raw = strcmp(raw_path, "-") == 0 ? stdin : fopen(raw_path, "rb");
        if (raw == NULL) {
            perror(raw_path);
            return 1;
        }
    } else if (argi != argc) {
        fprintf(stderr, "share: expected RAW WIDTH HEIGHT\n");
        return 2;
    }
    if (w == 0 || h == 0 || w > 8192 || h > 8192) {
        fprintf(stderr, "share: bad size %ux%u\n", (unsigned)w, (unsigned)h);
        return 2;
    }
    frame_bytes = (size_t)w * h * 4;
    px = (uint8_t *)malloc(frame_bytes);
    memset(&sink, 0, sizeof sink);
    sink.out = fopen(out_path, "wb");
    if (px == NULL || sink.out == NULL) {
        perror("share");
        return 1;
    }

    printf("libglimpse %s (header %s)\n", glimpse_version(), GLIMPSE_VERSION_STRING);
    ok = check(glimpse_encoder_settings_init(&settings), "glimpse_encoder_settings_init") &&
         check(glimpse_encoder_new(&settings, &enc), "glimpse_encoder_new");
    if (ok && !poll) {
        ok = check(glimpse_encoder_set_callback(enc, on_packet, &sink), "glimpse_encoder_set_callback");
    }
    {
        /* A 16x16 arrow-ish cursor, hotspot at its tip. */
        int x, y;
        for (y = 0; y < 16; y++) {
            for (x = 0; x < 16; x++) {
                uint8_t *p = cursor + (y * 16 + x) * 4;
                uint8_t on = x <= y ? 0xff : 0x00;
                p[0] = p[1] = p[2] = (x == 0 || x == y) ? 0x00 : 0xff;
                p[3] = on;
            }
        }
    }
    while (ok) {
        if (raw != NULL) {
            if (fread(px, 1, frame_bytes, raw) != frame_bytes) {
                break;
            }
        } else {
            if (frames == max_synth) {
                break;
            }
            synthesize(px, w, h, frames);
        }
        ok = check(glimpse_encoder_push_frame(enc, px, frame_bytes, w, h, (size_t)w * 4, GLIMPSE_PIXEL_FORMAT_BGRA8,
                                              NULL, 0),
                   "glimpse_encoder_push_frame");
        if (ok && frames == 1) {
            ok = check(glimpse_encoder_set_cursor_shape(enc, cursor, sizeof cursor, 16, 16, 64,
                                                        GLIMPSE_PIXEL_FORMAT_BGRA8, 0, 0),
                       "glimpse_encoder_set_cursor_shape");
        }
        if (ok && frames >= 1) {
            ok = check(glimpse_encoder_move_cursor(enc, (int32_t)((frames * 13) % w), (int32_t)((frames * 5) % h), 1),
                       "glimpse_encoder_move_cursor");
        }
        if (ok && frames == 20) {
            /* A viewer joins: the stream that follows suits old and new viewers alike. */
            ok = check(glimpse_encoder_request_checkpoint(enc), "glimpse_encoder_request_checkpoint");
        }
        if (ok && poll) {
            ok = drain(enc, &sink, &pollbuf, &pollcap);
        }
        frames++;
    }
    if (ok && frames > 0) {
        /* The screen is still from here on: within this many frames viewers are exact everywhere. */
        uint32_t settle = 0, i;
        size_t lossy = 0;
        ok = check(glimpse_encoder_top_off_bound_frames(enc, &settle), "glimpse_encoder_top_off_bound_frames");
        for (i = 0; ok && i < settle; i++) {
            ok = check(glimpse_encoder_push_frame(enc, px, frame_bytes, w, h, (size_t)w * 4, GLIMPSE_PIXEL_FORMAT_BGRA8,
                                                  NULL, 0),
                       "glimpse_encoder_push_frame");
            if (ok && poll) {
                ok = drain(enc, &sink, &pollbuf, &pollcap);
            }
        }
        if (ok) {
            ok = check(glimpse_encoder_lossy_rects(enc, NULL, 0, &lossy), "glimpse_encoder_lossy_rects");
        }
        if (ok && lossy != 0) {
            fprintf(stderr, "share: %lu lossy rectangles left after %u still frames\n", (unsigned long)lossy,
                    (unsigned)settle);
            ok = 0;
        }
    }
    if (ok) {
        glimpse_encoder_stats stats;
        stats.struct_size = sizeof stats; /* versioned: say which fields this program knows */
        ok = check(glimpse_encoder_get_stats(enc, &stats), "glimpse_encoder_get_stats");
        if (ok) {
            printf("share: %llu frames pushed, %llu H.264 pictures (%llu bytes) for video regions\n",
                   (unsigned long long)stats.frames, (unsigned long long)stats.video_pictures,
                   (unsigned long long)stats.video_bytes);
        }
    }
    if (ok) {
        ok = write_ppm(ppm_path, px, w, h, (size_t)w * 4);
    }
    glimpse_encoder_free(enc);
    if (fclose(sink.out) != 0 || sink.failed) {
        ok = 0;
    }
    if (raw != NULL && raw != stdin) {
        fclose(raw);
    }
    free(px);
    free(pollbuf);
    printf("share: %u frames %ux%u (%s, %s) -> %llu bytes: %lu checkpoints, %lu updates, %lu cursor shapes, %lu "
           "cursor positions\n",
           frames, (unsigned)w, (unsigned)h, raw_path ? raw_path : "synthesized", poll ? "poll" : "callback",
           sink.bytes, sink.packets[1], sink.packets[2], sink.packets[3], sink.packets[4]);
    return ok ? 0 : 1;
}
