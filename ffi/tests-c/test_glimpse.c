/*
 * C test suite of libglimpse: every bad input returns its documented code, none crashes, outputs are
 * untouched on failure, objects stay usable after a failed call. Run under AddressSanitizer and
 * valgrind by ffi/ci.sh. Prints one line per test and a final "N passed, M failed".
 */
#include <glimpse.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed;

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

/* ---- helpers ---- */

#define W 48
#define H 40
#define STRIDE (W * 4)
#define FRAME_LEN ((size_t)STRIDE * H)

static void fill(uint8_t *px, unsigned seed) {
    size_t i;
    for (i = 0; i < FRAME_LEN; i += 4) {
        size_t p = i / 4;
        px[i] = (uint8_t)((p / W) * 5 + seed);
        px[i + 1] = (uint8_t)((p % W) * 3);
        px[i + 2] = (uint8_t)(((p / W) / 8 + (p % W) / 8 + seed) % 3 * 100);
        px[i + 3] = 0xff;
    }
}

static glimpse_encoder *new_encoder(void) {
    glimpse_encoder_settings s;
    glimpse_encoder *enc = NULL;
    OK(glimpse_encoder_settings_init(&s));
    OK(glimpse_encoder_new(&s, &enc));
    return enc;
}

static glimpse_decoder *new_decoder(uint32_t format) {
    glimpse_decoder_settings s;
    glimpse_decoder *dec = NULL;
    OK(glimpse_decoder_settings_init(&s));
    s.output_format = format;
    OK(glimpse_decoder_new(&s, &dec));
    return dec;
}

/* Takes the next queued packet into a fresh malloc'd buffer (NULL if none). */
static uint8_t *take_packet(glimpse_encoder *enc, size_t *len, uint32_t *kind) {
    uint8_t *buf;
    size_t need = 0;
    glimpse_result r = glimpse_encoder_next_packet(enc, NULL, 0, &need, kind);
    if (r == GLIMPSE_RESULT_NO_PACKET) {
        return NULL;
    }
    EXPECT(r == GLIMPSE_RESULT_BUFFER_TOO_SMALL);
    buf = (uint8_t *)malloc(need);
    OK(glimpse_encoder_next_packet(enc, buf, need, len, kind));
    EXPECT(*len == need);
    return buf;
}

static int framebuffer_equals(glimpse_decoder *dec, const uint8_t *px) {
    glimpse_framebuffer fb;
    uint32_t y;
    if (glimpse_decoder_framebuffer(dec, &fb) != GLIMPSE_RESULT_OK || fb.width != W || fb.height != H) {
        return 0;
    }
    for (y = 0; y < H; y++) {
        if (memcmp(fb.pixels + (size_t)y * fb.stride, px + (size_t)y * STRIDE, W * 4) != 0) {
            return 0;
        }
    }
    return 1;
}

/* ---- tests ---- */

static void test_version(void) {
    char expect[32];
    EXPECT(strcmp(glimpse_version(), GLIMPSE_VERSION_STRING) == 0);
    snprintf(expect, sizeof expect, "%d.%d.%d", GLIMPSE_VERSION_MAJOR, GLIMPSE_VERSION_MINOR, GLIMPSE_VERSION_PATCH);
    EXPECT(strcmp(expect, GLIMPSE_VERSION_STRING) == 0);
}

static void test_result_messages(void) {
    uint32_t c;
    for (c = 0; c < 300; c++) {
        const char *m = glimpse_result_message(c);
        EXPECT(m != NULL && m[0] != '\0');
    }
    EXPECT(strcmp(glimpse_result_message(0xffffffffu), "unknown result code") == 0);
    EXPECT(strcmp(glimpse_result_message(GLIMPSE_RESULT_OK), "success") == 0);
    /* The engine's numbers (glimpse::Error::code) are part of the ABI. */
    EXPECT(GLIMPSE_RESULT_INVALID_DIMENSIONS == 10 && GLIMPSE_RESULT_INVALID_RECT == 14);
    EXPECT(GLIMPSE_RESULT_TRUNCATED == 20 && GLIMPSE_RESULT_CORRUPT_PAYLOAD == 27);
}

static void test_free_null(void) {
    glimpse_encoder_free(NULL);
    glimpse_decoder_free(NULL);
}

static void test_encoder_settings(void) {
    glimpse_encoder_settings s;
    glimpse_encoder *enc = (glimpse_encoder *)&s; /* sentinel: must stay untouched on failure */
    glimpse_encoder *const sentinel = enc;
    struct {
        glimpse_encoder_settings s;
        uint32_t newer[2];
    } big;

    EXPECT_CODE(glimpse_encoder_settings_init(NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    OK(glimpse_encoder_settings_init(&s));
    EXPECT(s.struct_size == sizeof s);
    EXPECT_CODE(glimpse_encoder_new(NULL, &enc), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_new(&s, NULL), GLIMPSE_RESULT_NULL_PARAMETER);

    s.struct_size = 0;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_SETTINGS_SIZE);
    s.struct_size = 4;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_SETTINGS_SIZE);
    OK(glimpse_encoder_settings_init(&s));
    s.motion_detection = 2;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_encoder_settings_init(&s));
    s.entropy = 5;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.entropy = 0xffffffffu;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.entropy = GLIMPSE_ENTROPY_DEFLATE;
    s.level = 0;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.level = 10;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.level = 256 + 5; /* must not wrap to 5 */
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.entropy = GLIMPSE_ENTROPY_ZSTD;
    s.level = 20;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.level = 0x80000001u; /* must not become negative */
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_encoder_settings_init(&s));
    s.scale_percent = 0;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.scale_percent = 65536;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_encoder_settings_init(&s));
    s.cache_tiles = 0xffffffffu;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    EXPECT(enc == sentinel);
    EXPECT(strlen(glimpse_last_error()) > 0);

    /* A caller built against a newer header: unknown fields must be zero. */
    memset(&big, 0, sizeof big);
    OK(glimpse_encoder_settings_init(&big.s));
    big.s.struct_size = sizeof big;
    enc = NULL;
    OK(glimpse_encoder_new(&big.s, &enc));
    glimpse_encoder_free(enc);
    big.newer[1] = 1;
    enc = sentinel;
    EXPECT_CODE(glimpse_encoder_new(&big.s, &enc), GLIMPSE_RESULT_SETTINGS_SIZE);
    EXPECT(enc == sentinel);

    /* Every entropy mode works. */
    {
        uint32_t e;
        for (e = 0; e <= GLIMPSE_ENTROPY_ZSTD; e++) {
            OK(glimpse_encoder_settings_init(&s));
            s.entropy = e;
            s.cache_tiles = 0;
            s.motion_detection = 0;
            enc = NULL;
            OK(glimpse_encoder_new(&s, &enc));
            EXPECT(enc != NULL);
            glimpse_encoder_free(enc);
        }
    }
}

static void test_decoder_settings(void) {
    glimpse_decoder_settings s;
    glimpse_decoder *dec = (glimpse_decoder *)&s;
    glimpse_decoder *const sentinel = dec;
    EXPECT_CODE(glimpse_decoder_settings_init(NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    OK(glimpse_decoder_settings_init(&s));
    EXPECT_CODE(glimpse_decoder_new(NULL, &dec), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_new(&s, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    s.output_format = 2;
    EXPECT_CODE(glimpse_decoder_new(&s, &dec), GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT);
    s.output_format = 0xffffffffu;
    EXPECT_CODE(glimpse_decoder_new(&s, &dec), GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT);
    OK(glimpse_decoder_settings_init(&s));
    s.max_width = 0;
    EXPECT_CODE(glimpse_decoder_new(&s, &dec), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.max_width = 8193;
    EXPECT_CODE(glimpse_decoder_new(&s, &dec), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_decoder_settings_init(&s));
    s.max_cache_tiles = 0xffffffffu;
    EXPECT_CODE(glimpse_decoder_new(&s, &dec), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_decoder_settings_init(&s));
    s.struct_size = 3;
    EXPECT_CODE(glimpse_decoder_new(&s, &dec), GLIMPSE_RESULT_SETTINGS_SIZE);
    EXPECT(dec == sentinel);
}

static void test_push_frame_bad_input(void) {
    static uint8_t px[FRAME_LEN];
    glimpse_rect hint = {0, 0, W, H};
    glimpse_encoder *enc = new_encoder();
    size_t queued = 99;
    fill(px, 1);

    EXPECT_CODE(glimpse_encoder_push_frame(NULL, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, NULL, FRAME_LEN, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, NULL, 0, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 1), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, 0, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, 0, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, 0xffffffffu, H, STRIDE, 0, NULL, 0),
                GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, 8193, 1, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE - 1, 0, NULL, 0), GLIMPSE_RESULT_INVALID_STRIDE);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, 0, 0, NULL, 0), GLIMPSE_RESULT_INVALID_STRIDE);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN - 1, W, H, STRIDE, 0, NULL, 0),
                GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, 0, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE + 4, 0, NULL, 0),
                GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, SIZE_MAX, 0, NULL, 0),
                GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, SIZE_MAX, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_INVALID_ARGUMENT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 2, NULL, 0), GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0xffffffffu, NULL, 0),
                GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, &hint, SIZE_MAX),
                GLIMPSE_RESULT_INVALID_ARGUMENT);
    hint.width = W + 1;
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, &hint, 1), GLIMPSE_RESULT_INVALID_RECT);
    hint.width = 0;
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, &hint, 1), GLIMPSE_RESULT_INVALID_RECT);
    hint.x = 0xffffffffu;
    hint.width = 2;
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, &hint, 1), GLIMPSE_RESULT_INVALID_RECT);
    EXPECT(strstr(glimpse_last_error(), "rectangle") != NULL);

    /* Nothing was produced by the failed calls; the encoder is still usable. */
    OK(glimpse_encoder_queued_packets(enc, &queued));
    EXPECT(queued == 0);
    EXPECT_CODE(glimpse_encoder_queued_packets(enc, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_queued_packets(NULL, &queued), GLIMPSE_RESULT_NULL_PARAMETER);
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, GLIMPSE_PIXEL_FORMAT_BGRA8, NULL, 0));
    OK(glimpse_encoder_queued_packets(enc, &queued));
    EXPECT(queued == 1);
    glimpse_encoder_free(enc); /* frees the queued packet */
}

static void test_poll_api(void) {
    static uint8_t px[FRAME_LEN];
    uint8_t small[8];
    uint8_t *buf;
    size_t len = 12345, need = 0, queued = 0;
    uint32_t kind = 77;
    glimpse_encoder *enc = new_encoder();
    fill(px, 2);

    EXPECT_CODE(glimpse_encoder_next_packet(enc, small, sizeof small, &len, &kind), GLIMPSE_RESULT_NO_PACKET);
    EXPECT(len == 12345 && kind == 77);
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    EXPECT_CODE(glimpse_encoder_next_packet(NULL, small, sizeof small, &len, &kind), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_next_packet(enc, small, sizeof small, NULL, &kind), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_next_packet(enc, NULL, 100, &len, &kind), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT(len == 12345 && kind == 77);
    /* Too small: the needed size comes back and the packet stays queued. */
    EXPECT_CODE(glimpse_encoder_next_packet(enc, small, sizeof small, &need, &kind), GLIMPSE_RESULT_BUFFER_TOO_SMALL);
    EXPECT(need > sizeof small && kind == 77);
    OK(glimpse_encoder_queued_packets(enc, &queued));
    EXPECT(queued == 1);
    buf = (uint8_t *)malloc(need);
    EXPECT_CODE(glimpse_encoder_next_packet(enc, buf, need - 1, &len, NULL), GLIMPSE_RESULT_BUFFER_TOO_SMALL);
    OK(glimpse_encoder_next_packet(enc, buf, need, &len, &kind));
    EXPECT(len == need && kind == GLIMPSE_PACKET_KIND_CHECKPOINT);
    {
        uint32_t peeked = 0;
        OK(glimpse_packet_peek_kind(buf, len, &peeked));
        EXPECT(peeked == GLIMPSE_PACKET_KIND_CHECKPOINT);
        EXPECT_CODE(glimpse_packet_peek_kind(buf, len, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT_CODE(glimpse_packet_peek_kind(NULL, 5, &peeked), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT_CODE(glimpse_packet_peek_kind(NULL, 0, &peeked), GLIMPSE_RESULT_TRUNCATED);
        EXPECT_CODE(glimpse_packet_peek_kind(buf, 1, &peeked), GLIMPSE_RESULT_TRUNCATED);
    }
    EXPECT_CODE(glimpse_encoder_next_packet(enc, buf, need, &len, &kind), GLIMPSE_RESULT_NO_PACKET);
    free(buf);
    glimpse_encoder_free(enc);
}

static void test_queue_bound(void) {
    static uint8_t px[FRAME_LEN];
    unsigned i;
    size_t queued = 0, len;
    uint32_t kind;
    uint8_t *p;
    glimpse_encoder *enc = new_encoder();
    for (i = 0; i < GLIMPSE_MAX_QUEUED_PACKETS; i++) {
        fill(px, i);
        OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    }
    OK(glimpse_encoder_queued_packets(enc, &queued));
    EXPECT(queued == GLIMPSE_MAX_QUEUED_PACKETS);
    fill(px, 1000);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_QUEUE_FULL);
    EXPECT_CODE(glimpse_encoder_move_cursor(enc, 1, 1, 1), GLIMPSE_RESULT_QUEUE_FULL);
    EXPECT_CODE(glimpse_encoder_request_checkpoint(enc), GLIMPSE_RESULT_QUEUE_FULL);
    /* Nothing was lost: the queued stream decodes to the last accepted frame. */
    {
        glimpse_decoder *dec = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
        while ((p = take_packet(enc, &len, &kind)) != NULL) {
            OK(glimpse_decoder_apply(dec, p, len));
            free(p);
        }
        fill(px, GLIMPSE_MAX_QUEUED_PACKETS - 1);
        EXPECT(framebuffer_equals(dec, px));
        fill(px, 1000);
        OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
        p = take_packet(enc, &len, &kind);
        EXPECT(p != NULL && kind == GLIMPSE_PACKET_KIND_FRAME_UPDATE);
        if (p != NULL) {
            OK(glimpse_decoder_apply(dec, p, len));
        }
        free(p);
        EXPECT(framebuffer_equals(dec, px));
        glimpse_decoder_free(dec);
    }
    glimpse_encoder_free(enc);
}

struct collected {
    glimpse_encoder *enc;
    glimpse_decoder *dec;
    unsigned count[5];
    int reentered;
    glimpse_result reenter_result;
    glimpse_result apply_result;
};

static void collect(void *userdata, const uint8_t *data, size_t len, uint32_t kind) {
    struct collected *c = (struct collected *)userdata;
    size_t queued;
    if (kind < 5) {
        c->count[kind]++;
    }
    if (glimpse_decoder_apply(c->dec, data, len) != GLIMPSE_RESULT_OK) {
        c->apply_result = GLIMPSE_RESULT_PANIC;
    }
    if (!c->reentered) {
        /* Calls back into the encoder from its callback are allowed. */
        c->reentered = 1;
        c->reenter_result = glimpse_encoder_queued_packets(c->enc, &queued);
        if (c->reenter_result == GLIMPSE_RESULT_OK) {
            c->reenter_result = glimpse_encoder_move_cursor(c->enc, 3, 4, 1);
        }
    }
}

static void test_callback(void) {
    static uint8_t px[FRAME_LEN];
    struct collected c;
    size_t queued = 9;
    glimpse_cursor cur;
    memset(&c, 0, sizeof c);
    c.enc = new_encoder();
    c.dec = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
    EXPECT_CODE(glimpse_encoder_set_callback(NULL, collect, &c), GLIMPSE_RESULT_NULL_PARAMETER);
    OK(glimpse_encoder_set_callback(c.enc, collect, &c));
    fill(px, 3);
    OK(glimpse_encoder_push_frame(c.enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    fill(px, 4);
    OK(glimpse_encoder_push_frame(c.enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    OK(glimpse_encoder_push_frame(c.enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0)); /* unchanged: no packet */
    EXPECT(c.count[GLIMPSE_PACKET_KIND_CHECKPOINT] == 1 && c.count[GLIMPSE_PACKET_KIND_FRAME_UPDATE] == 1);
    EXPECT(c.count[GLIMPSE_PACKET_KIND_CURSOR_POSITION] == 1);
    EXPECT(c.reenter_result == GLIMPSE_RESULT_OK && c.apply_result == GLIMPSE_RESULT_OK);
    EXPECT(framebuffer_equals(c.dec, px));
    OK(glimpse_decoder_cursor(c.dec, &cur));
    EXPECT(cur.x == 3 && cur.y == 4 && cur.visible == 1 && cur.image == NULL);
    OK(glimpse_encoder_queued_packets(c.enc, &queued));
    EXPECT(queued == 0);
    /* Back to queue mode. */
    OK(glimpse_encoder_set_callback(c.enc, NULL, NULL));
    OK(glimpse_encoder_request_checkpoint(c.enc));
    OK(glimpse_encoder_queued_packets(c.enc, &queued));
    EXPECT(queued == 1 && c.count[GLIMPSE_PACKET_KIND_CHECKPOINT] == 1);
    glimpse_encoder_free(c.enc);
    glimpse_decoder_free(c.dec);
}

static void test_cursor(void) {
    static uint8_t px[FRAME_LEN];
    uint8_t img[8 * 8 * 4];
    static uint8_t big[300 * 300 * 4];
    uint8_t *p;
    size_t len;
    uint32_t kind;
    glimpse_cursor cur;
    glimpse_encoder *enc = new_encoder();
    glimpse_decoder *dec = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
    memset(img, 0x80, sizeof img);
    fill(px, 5);

    EXPECT_CODE(glimpse_decoder_cursor(dec, &cur), GLIMPSE_RESULT_NOT_AVAILABLE);
    EXPECT_CODE(glimpse_decoder_cursor(NULL, &cur), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_cursor(dec, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_set_cursor_shape(NULL, img, sizeof img, 8, 8, 32, 0, 0, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_set_cursor_shape(enc, NULL, sizeof img, 8, 8, 32, 0, 0, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_set_cursor_shape(enc, img, sizeof img, 8, 8, 31, 0, 0, 0), GLIMPSE_RESULT_INVALID_STRIDE);
    EXPECT_CODE(glimpse_encoder_set_cursor_shape(enc, img, sizeof img, 8, 8, 32, 5, 0, 0), GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT);
    EXPECT_CODE(glimpse_encoder_set_cursor_shape(enc, img, sizeof img, 8, 8, 32, 0, 8, 0), GLIMPSE_RESULT_INVALID_RECT);
    EXPECT_CODE(glimpse_encoder_set_cursor_shape(enc, img, sizeof img, 8, 8, 32, 0, 0, 0xffffffffu), GLIMPSE_RESULT_INVALID_RECT);
    EXPECT_CODE(glimpse_encoder_set_cursor_shape(enc, big, sizeof big, 300, 300, 1200, 0, 0, 0), GLIMPSE_RESULT_LIMIT_EXCEEDED);
    EXPECT_CODE(glimpse_encoder_move_cursor(NULL, 0, 0, 1), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_move_cursor(enc, 0, 0, 2), GLIMPSE_RESULT_INVALID_ARGUMENT);

    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    OK(glimpse_encoder_set_cursor_shape(enc, img, sizeof img, 8, 8, 32, GLIMPSE_PIXEL_FORMAT_RGBA8, 2, 3));
    OK(glimpse_encoder_move_cursor(enc, -5, 70000, 1));
    while ((p = take_packet(enc, &len, &kind)) != NULL) {
        OK(glimpse_decoder_apply(dec, p, len));
        free(p);
    }
    OK(glimpse_decoder_cursor(dec, &cur));
    EXPECT(cur.x == -5 && cur.y == 70000 && cur.visible == 1);
    EXPECT(cur.image != NULL && cur.image_width == 8 && cur.image_height == 8 && cur.hotspot_x == 2 && cur.hotspot_y == 3);
    if (cur.image != NULL) {
        EXPECT(memcmp(cur.image, img, sizeof img) == 0);
    }
    glimpse_encoder_free(enc);
    glimpse_decoder_free(dec);
}

static void test_checkpoint_and_session(void) {
    static uint8_t px[FRAME_LEN];
    glimpse_session s;
    glimpse_encoder *enc = new_encoder();
    glimpse_decoder *dec = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
    uint8_t *p;
    size_t len;
    uint32_t kind;
    memset(&s, 0xab, sizeof s);
    EXPECT_CODE(glimpse_encoder_request_checkpoint(NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_request_checkpoint(enc), GLIMPSE_RESULT_NOT_AVAILABLE);
    EXPECT_CODE(glimpse_encoder_session(enc, &s), GLIMPSE_RESULT_NOT_AVAILABLE);
    EXPECT_CODE(glimpse_encoder_session(enc, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_session(dec, &s), GLIMPSE_RESULT_NOT_AVAILABLE);
    EXPECT_CODE(glimpse_decoder_session(NULL, &s), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT(s.width == 0xabababab);
    fill(px, 6);
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    OK(glimpse_encoder_session(enc, &s));
    EXPECT(s.width == W && s.height == H && s.scale_percent == 100);
    {
        glimpse_encoder_stats st;
        EXPECT_CODE(glimpse_encoder_get_stats(NULL, &st), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT_CODE(glimpse_encoder_get_stats(enc, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
        OK(glimpse_encoder_get_stats(enc, &st));
        EXPECT(st.frames == 1 && st.checkpoints == 1 && st.bytes > 0);
    }
    free(take_packet(enc, &len, &kind));
    OK(glimpse_encoder_request_checkpoint(enc));
    p = take_packet(enc, &len, &kind);
    EXPECT(p != NULL && kind == GLIMPSE_PACKET_KIND_CHECKPOINT);
    if (p != NULL) {
        OK(glimpse_decoder_apply(dec, p, len));
    }
    free(p);
    EXPECT(framebuffer_equals(dec, px));
    OK(glimpse_decoder_session(dec, &s));
    EXPECT(s.width == W && s.height == H);
    glimpse_encoder_free(enc);
    glimpse_decoder_free(dec);
}

static void test_privacy_masks(void) {
    static uint8_t px[FRAME_LEN];
    glimpse_rect mask = {4, 5, 6, 7}, empty = {1, 1, 0, 3};
    glimpse_framebuffer fb;
    glimpse_encoder *enc = new_encoder();
    glimpse_decoder *dec = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
    uint8_t *p;
    size_t len;
    uint32_t kind;
    fill(px, 7);
    EXPECT_CODE(glimpse_encoder_set_privacy_masks(NULL, &mask, 1), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_set_privacy_masks(enc, NULL, 1), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_set_privacy_masks(enc, &empty, 1), GLIMPSE_RESULT_INVALID_RECT);
    EXPECT_CODE(glimpse_encoder_set_privacy_masks(enc, &mask, SIZE_MAX), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_encoder_set_privacy_masks(enc, &mask, 1));
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    p = take_packet(enc, &len, &kind);
    OK(glimpse_decoder_apply(dec, p, len));
    free(p);
    OK(glimpse_decoder_framebuffer(dec, &fb));
    {
        const uint8_t *in = fb.pixels + 6 * fb.stride + 5 * 4, *out = fb.pixels;
        EXPECT(in[0] == 0x20 && in[1] == 0x20 && in[2] == 0x20 && in[3] == 0xff);
        EXPECT(memcmp(out, px, 4) == 0);
    }
    /* Removing the masks reveals the pixels again. */
    OK(glimpse_encoder_set_privacy_masks(enc, NULL, 0));
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    p = take_packet(enc, &len, &kind);
    EXPECT(p != NULL);
    if (p != NULL) {
        OK(glimpse_decoder_apply(dec, p, len));
    }
    free(p);
    EXPECT(framebuffer_equals(dec, px));
    glimpse_encoder_free(enc);
    glimpse_decoder_free(dec);
}

static void test_formats_stride_hints(void) {
    static uint8_t px[FRAME_LEN];
    const size_t pad_stride = STRIDE + 12;
    uint8_t *padded = (uint8_t *)calloc(pad_stride * H, 1);
    uint8_t *rgba = (uint8_t *)malloc(FRAME_LEN);
    glimpse_encoder *enc = new_encoder();
    glimpse_decoder *bgra_dec = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
    glimpse_decoder *rgba_dec = new_decoder(GLIMPSE_PIXEL_FORMAT_RGBA8);
    glimpse_framebuffer fb;
    glimpse_rect hint = {10, 10, 5, 5};
    uint8_t *p;
    size_t len, i;
    uint32_t kind, y;
    fill(px, 8);
    for (i = 0; i < FRAME_LEN; i += 4) {
        rgba[i] = px[i + 2];
        rgba[i + 1] = px[i + 1];
        rgba[i + 2] = px[i];
        rgba[i + 3] = px[i + 3];
    }
    /* RGBA input, padded rows, the last row without padding. */
    for (y = 0; y < H; y++) {
        memcpy(padded + y * pad_stride, rgba + y * STRIDE, STRIDE);
    }
    OK(glimpse_encoder_push_frame(enc, padded, pad_stride * (H - 1) + STRIDE, W, H, pad_stride,
                                  GLIMPSE_PIXEL_FORMAT_RGBA8, NULL, 0));
    /* A change inside the hint, BGRA input this time. */
    px[(12 * W + 12) * 4] ^= 0xff;
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, GLIMPSE_PIXEL_FORMAT_BGRA8, &hint, 1));
    rgba[(12 * W + 12) * 4 + 2] ^= 0xff;
    while ((p = take_packet(enc, &len, &kind)) != NULL) {
        OK(glimpse_decoder_apply(bgra_dec, p, len));
        OK(glimpse_decoder_apply(rgba_dec, p, len));
        free(p);
    }
    EXPECT(framebuffer_equals(bgra_dec, px));
    EXPECT(framebuffer_equals(rgba_dec, rgba));
    OK(glimpse_decoder_framebuffer(rgba_dec, &fb));
    EXPECT(fb.pixel_format == GLIMPSE_PIXEL_FORMAT_RGBA8 && fb.len >= fb.stride * H);
    glimpse_encoder_free(enc);
    glimpse_decoder_free(bgra_dec);
    glimpse_decoder_free(rgba_dec);
    free(padded);
    free(rgba);
}

static int is_packet_error(glimpse_result r) {
    return r == GLIMPSE_RESULT_TRUNCATED || r == GLIMPSE_RESULT_MALFORMED || r == GLIMPSE_RESULT_UNSUPPORTED_VERSION ||
           r == GLIMPSE_RESULT_LIMIT_EXCEEDED || r == GLIMPSE_RESULT_MISSING_CACHE_ENTRY ||
           r == GLIMPSE_RESULT_OUT_OF_SYNC || r == GLIMPSE_RESULT_NO_CHECKPOINT || r == GLIMPSE_RESULT_CORRUPT_PAYLOAD ||
           r == GLIMPSE_RESULT_INVALID_DIMENSIONS || r == GLIMPSE_RESULT_INVALID_RECT;
}

static void test_decoder_bad_packets(void) {
    static uint8_t px[FRAME_LEN], px2[FRAME_LEN], px3[FRAME_LEN];
    glimpse_encoder *enc = new_encoder();
    glimpse_decoder *dec = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
    uint8_t *cp, *up, *up2, *bad;
    size_t cp_len = 0, up_len = 0, up2_len = 0, i, count = 0;
    uint32_t kind;
    glimpse_framebuffer fb;
    glimpse_rect rects[64];
    unsigned crashes_avoided = 0;

    fill(px, 9);
    fill(px2, 10);
    memcpy(px3, px2, FRAME_LEN);
    memset(px3 + 100, 0x33, 200);
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    cp = take_packet(enc, &cp_len, &kind);
    OK(glimpse_encoder_push_frame(enc, px2, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    up = take_packet(enc, &up_len, &kind);
    OK(glimpse_encoder_push_frame(enc, px3, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    up2 = take_packet(enc, &up2_len, &kind);
    EXPECT(cp != NULL && up != NULL && up2 != NULL);
    if (cp == NULL || up == NULL || up2 == NULL) {
        free(cp);
        free(up);
        free(up2);
        glimpse_encoder_free(enc);
        glimpse_decoder_free(dec);
        return;
    }

    EXPECT_CODE(glimpse_decoder_apply(NULL, cp, cp_len), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_apply(dec, NULL, cp_len), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_apply(dec, NULL, 0), GLIMPSE_RESULT_TRUNCATED);
    EXPECT_CODE(glimpse_decoder_apply(dec, cp, SIZE_MAX), GLIMPSE_RESULT_INVALID_ARGUMENT);
    EXPECT_CODE(glimpse_decoder_framebuffer(dec, &fb), GLIMPSE_RESULT_NOT_AVAILABLE);
    EXPECT_CODE(glimpse_decoder_framebuffer(NULL, &fb), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_framebuffer(dec, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    OK(glimpse_decoder_damage(dec, rects, 64, &count));
    EXPECT(count == 0);
    EXPECT_CODE(glimpse_decoder_apply(dec, up, up_len), GLIMPSE_RESULT_NO_CHECKPOINT);

    /* Every truncation of the checkpoint fails (cleanly) on a fresh decoder. */
    for (i = 0; i < cp_len; i++) {
        glimpse_result r = glimpse_decoder_apply(dec, cp, i);
        EXPECT(is_packet_error(r));
        crashes_avoided++;
    }
    EXPECT_CODE(glimpse_decoder_framebuffer(dec, &fb), GLIMPSE_RESULT_NOT_AVAILABLE);
    OK(glimpse_decoder_apply(dec, cp, cp_len));
    EXPECT(framebuffer_equals(dec, px));
    /* Damage after a checkpoint: the whole screen. */
    EXPECT_CODE(glimpse_decoder_damage(NULL, rects, 64, &count), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_damage(dec, rects, 64, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_decoder_damage(dec, NULL, 64, &count), GLIMPSE_RESULT_NULL_PARAMETER);
    count = 0;
    EXPECT_CODE(glimpse_decoder_damage(dec, NULL, 0, &count), GLIMPSE_RESULT_BUFFER_TOO_SMALL);
    EXPECT(count == 1);
    OK(glimpse_decoder_damage(dec, rects, 64, &count));
    EXPECT(count == 1 && rects[0].x == 0 && rects[0].y == 0 && rects[0].width == W && rects[0].height == H);

    /* Skipping an update: out of sync, nothing changes. */
    EXPECT_CODE(glimpse_decoder_apply(dec, up2, up2_len), GLIMPSE_RESULT_OUT_OF_SYNC);
    EXPECT(framebuffer_equals(dec, px));

    /* Every truncation of an update fails and leaves the screen as it was. */
    for (i = 0; i < up_len; i++) {
        EXPECT(is_packet_error(glimpse_decoder_apply(dec, up, i)));
        crashes_avoided++;
    }
    EXPECT(framebuffer_equals(dec, px));

    /* Corrupted updates: each byte flipped in turn. Either applied (a pixel byte) or rejected with a
     * packet code and no change. */
    bad = (uint8_t *)malloc(up_len);
    for (i = 0; i < up_len; i++) {
        glimpse_decoder *fresh = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
        glimpse_result r;
        OK(glimpse_decoder_apply(fresh, cp, cp_len));
        memcpy(bad, up, up_len);
        bad[i] ^= (uint8_t)(0x55 + i);
        r = glimpse_decoder_apply(fresh, bad, up_len);
        EXPECT(r == GLIMPSE_RESULT_OK || is_packet_error(r));
        if (r != GLIMPSE_RESULT_OK) {
            EXPECT(framebuffer_equals(fresh, px));
            /* Use after a failed call: the good packet still applies. */
            OK(glimpse_decoder_apply(fresh, up, up_len));
            EXPECT(framebuffer_equals(fresh, px2));
        }
        glimpse_decoder_free(fresh);
        crashes_avoided++;
    }
    /* Corrupted checkpoints: bytes flipped, a fresh decoder each time. */
    free(bad);
    bad = (uint8_t *)malloc(cp_len);
    for (i = 0; i < cp_len; i += (cp_len / 400) + 1) {
        glimpse_decoder *fresh = new_decoder(GLIMPSE_PIXEL_FORMAT_BGRA8);
        glimpse_result r;
        memcpy(bad, cp, cp_len);
        bad[i] ^= 0xff;
        r = glimpse_decoder_apply(fresh, bad, cp_len);
        EXPECT(r == GLIMPSE_RESULT_OK || is_packet_error(r));
        glimpse_decoder_free(fresh);
        crashes_avoided++;
    }
    /* Garbage of every small size. */
    memset(bad, 0xff, cp_len);
    for (i = 0; i < 64 && i < cp_len; i++) {
        EXPECT(is_packet_error(glimpse_decoder_apply(dec, bad, i)));
    }
    free(bad);

    /* And the stream goes on. */
    OK(glimpse_decoder_apply(dec, up, up_len));
    EXPECT(framebuffer_equals(dec, px2));
    OK(glimpse_decoder_damage(dec, NULL, 0, &count) == GLIMPSE_RESULT_BUFFER_TOO_SMALL ? GLIMPSE_RESULT_OK
                                                                                        : GLIMPSE_RESULT_PANIC);
    OK(glimpse_decoder_apply(dec, up2, up2_len));
    EXPECT(framebuffer_equals(dec, px3));
    EXPECT(crashes_avoided > 0);
    free(cp);
    free(up);
    free(up2);
    glimpse_encoder_free(enc);
    glimpse_decoder_free(dec);
}

static void test_last_error(void) {
    glimpse_encoder *enc = new_encoder();
    static uint8_t px[FRAME_LEN];
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, 7, 0, NULL, 0), GLIMPSE_RESULT_INVALID_STRIDE);
    EXPECT(strstr(glimpse_last_error(), "stride 7") != NULL);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, NULL, FRAME_LEN, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT(strstr(glimpse_last_error(), "pixels") != NULL);
    OK(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0));
    EXPECT(strstr(glimpse_last_error(), "pixels") != NULL); /* unchanged by success */
    glimpse_encoder_free(enc);
}

/* ---- runner ---- */

struct test {
    const char *name;
    void (*run)(void);
};

int main(void) {
    static const struct test tests[] = {
        {"version", test_version},
        {"result_messages", test_result_messages},
        {"free_null", test_free_null},
        {"encoder_settings", test_encoder_settings},
        {"decoder_settings", test_decoder_settings},
        {"push_frame_bad_input", test_push_frame_bad_input},
        {"poll_api", test_poll_api},
        {"queue_bound", test_queue_bound},
        {"callback", test_callback},
        {"cursor", test_cursor},
        {"checkpoint_and_session", test_checkpoint_and_session},
        {"privacy_masks", test_privacy_masks},
        {"formats_stride_hints", test_formats_stride_hints},
        {"decoder_bad_packets", test_decoder_bad_packets},
        {"last_error", test_last_error},
    };
    unsigned passed = 0, failed = 0, i;
    for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        test_failed = 0;
        tests[i].run();
        printf("%s %s\n", test_failed ? "FAIL" : "ok  ", tests[i].name);
        if (test_failed) {
            failed++;
        } else {
            passed++;
        }
    }
    printf("%u passed, %u failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
