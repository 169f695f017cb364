/*
 * C test suite of libglimpse: every bad input returns its documented code, none crashes, outputs are
 * untouched on failure, objects stay usable after a failed call. Run under AddressSanitizer and
 * valgrind by ffi/ci.sh. Prints one line per test and a final "N passed, M failed". The quick-connect
 * tests (glimpse_host_*) are in test_host.c; their relay tests need the environment ffi/ci.sh sets
 * (GLIMPSE_TEST_RELAY, GLIMPSE_TEST_RELAY_BIN, GLIMPSE_TEST_VIEW) and are skipped without it.
 */
#include "check.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int test_failed;

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
    EXPECT(GLIMPSE_RESULT_CONTROL_NOT_GRANTED == 30 && GLIMPSE_RESULT_POINTER_OUTSIDE_SCREEN == 31);
    EXPECT(GLIMPSE_RESULT_INVALID_CODE == 32 && GLIMPSE_RESULT_UNKNOWN_SESSION == 33);
    EXPECT(GLIMPSE_RESULT_CODE_EXPIRED == 34 && GLIMPSE_RESULT_RATE_LIMITED == 35 && GLIMPSE_RESULT_WRONG_CODE == 36 && GLIMPSE_RESULT_NOT_ADMITTED == 37);
    /* Quick connect's numbers (glimpse_connect::ConnectError::code). */
    EXPECT(GLIMPSE_RESULT_RELAY_UNREACHABLE == 40 && GLIMPSE_RESULT_TLS == 41 && GLIMPSE_RESULT_INVALID_RELAY_URL == 42);
    EXPECT(GLIMPSE_RESULT_PROTOCOL_ERROR == 43 && GLIMPSE_RESULT_SESSION_ENDED == 44 && GLIMPSE_RESULT_REMOVED == 45);
    EXPECT(GLIMPSE_RESULT_RELAY_FULL == 46 && GLIMPSE_RESULT_CONNECTION_LOST == 47 && GLIMPSE_RESULT_CLOSED == 48);
    EXPECT(GLIMPSE_RESULT_TIMEOUT == 49 && GLIMPSE_RESULT_CODE_IN_USE == 50 && GLIMPSE_RESULT_INVALID_REQUEST == 51);
    EXPECT(GLIMPSE_RESULT_SESSION_BUSY == 52);
    for (c = 30; c <= 37; c++) {
        EXPECT(strcmp(glimpse_result_message(c), "unknown result code") != 0);
    }
    for (c = 40; c <= 52; c++) {
        EXPECT(strcmp(glimpse_result_message(c), "unknown result code") != 0);
    }
    EXPECT(strcmp(glimpse_result_message(29), "unknown result code") == 0);
    EXPECT(strcmp(glimpse_result_message(38), "unknown result code") == 0);
    EXPECT(strcmp(glimpse_result_message(39), "unknown result code") == 0);
    EXPECT(strcmp(glimpse_result_message(53), "unknown result code") == 0);
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
    OK(glimpse_encoder_settings_init(&s));
    s.video_enabled = 2;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_encoder_settings_init(&s));
    s.video_fps = 0;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.video_fps = GLIMPSE_MAX_VIDEO_FPS + 1;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    OK(glimpse_encoder_settings_init(&s));
    s.video_settle_frames = GLIMPSE_MAX_VIDEO_SETTLE_FRAMES + 1;
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    s.video_settle_frames = 0xffffffffu; /* must not overflow the top-off bound */
    EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_INVALID_ARGUMENT);
    EXPECT(enc == sentinel);
    EXPECT(strlen(glimpse_last_error()) > 0);

    /* Defaults: video on (native builds have H.264), auto bit rate, 10 fps, settle after 3 frames. */
    OK(glimpse_encoder_settings_init(&s));
    EXPECT(s.video_enabled == 1 && s.video_bitrate_bps == 0 && s.video_fps == 10 && s.video_settle_frames == 3);
    {
        uint32_t bound = 0;
        s.video_settle_frames = 7;
        s.video_bitrate_bps = 1; /* any bit rate is accepted */
        enc = NULL;
        OK(glimpse_encoder_new(&s, &enc));
        EXPECT_CODE(glimpse_encoder_top_off_bound_frames(NULL, &bound), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT_CODE(glimpse_encoder_top_off_bound_frames(enc, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT(bound == 0);
        OK(glimpse_encoder_top_off_bound_frames(enc, &bound));
        EXPECT(bound == 8);
        glimpse_encoder_free(enc);
        s.video_settle_frames = 0; /* acts as 1 */
        enc = NULL;
        OK(glimpse_encoder_new(&s, &enc));
        OK(glimpse_encoder_top_off_bound_frames(enc, &bound));
        EXPECT(bound == 2);
        glimpse_encoder_free(enc);

        /* A caller built against the first header: the video fields are not read (garbage here) and
         * keep their defaults. */
        OK(glimpse_encoder_settings_init(&s));
        s.struct_size = (uint32_t)offsetof(glimpse_encoder_settings, video_enabled);
        s.video_enabled = 7;
        s.video_fps = 0;
        s.video_settle_frames = 0xffffffffu;
        enc = NULL;
        OK(glimpse_encoder_new(&s, &enc));
        OK(glimpse_encoder_top_off_bound_frames(enc, &bound));
        EXPECT(bound == 4);
        glimpse_encoder_free(enc);
        /* One byte less than the first version is too small. */
        s.struct_size -= 1;
        enc = sentinel;
        EXPECT_CODE(glimpse_encoder_new(&s, &enc), GLIMPSE_RESULT_SETTINGS_SIZE);
        EXPECT(enc == sentinel);
    }

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
    OK(glimpse_decoder_settings_init(&s));
    EXPECT(s.struct_size == sizeof s && s.decode_video == 1);
    s.decode_video = 2;
    EXPECT_CODE(glimpse_decoder_new(&s, &dec), GLIMPSE_RESULT_INVALID_ARGUMENT);
    EXPECT(dec == sentinel);
    /* The first version of the struct ends before decode_video: garbage there is not read. */
    s.struct_size = (uint32_t)offsetof(glimpse_decoder_settings, decode_video);
    dec = NULL;
    OK(glimpse_decoder_new(&s, &dec));
    {
        uint32_t errors = 99;
        EXPECT_CODE(glimpse_decoder_last_video_errors(NULL, &errors), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT_CODE(glimpse_decoder_last_video_errors(dec, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT(errors == 99);
        OK(glimpse_decoder_last_video_errors(dec, &errors));
        EXPECT(errors == 0);
    }
    glimpse_decoder_free(dec);
}

void check_frame_arguments(push_frame_fn push, void *handle, const uint8_t *px, uint32_t width,
                           uint32_t height) {
    size_t stride = (size_t)width * 4, len = stride * height;
    glimpse_rect hint = {0, 0, width, height};
    EXPECT_CODE(push(handle, NULL, len, width, height, stride, 0, NULL, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(push(handle, px, len, width, height, stride, 0, NULL, 1), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(push(handle, px, len, 0, height, stride, 0, NULL, 0), GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(push(handle, px, len, width, height, stride - 1, 0, NULL, 0), GLIMPSE_RESULT_INVALID_STRIDE);
    EXPECT_CODE(push(handle, px, len - 1, width, height, stride, 0, NULL, 0), GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(push(handle, px, len, width, height, SIZE_MAX, 0, NULL, 0), GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(push(handle, px, SIZE_MAX, width, height, stride, 0, NULL, 0), GLIMPSE_RESULT_INVALID_ARGUMENT);
    EXPECT_CODE(push(handle, px, len, width, height, stride, 2, NULL, 0), GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT);
    EXPECT_CODE(push(handle, px, len, width, height, stride, 0, &hint, SIZE_MAX), GLIMPSE_RESULT_INVALID_ARGUMENT);
    hint.width = width + 1;
    EXPECT_CODE(push(handle, px, len, width, height, stride, 0, &hint, 1), GLIMPSE_RESULT_INVALID_RECT);
    hint.width = 0;
    EXPECT_CODE(push(handle, px, len, width, height, stride, 0, &hint, 1), GLIMPSE_RESULT_INVALID_RECT);
}

static glimpse_result encoder_push(void *enc, const uint8_t *pixels, size_t len, uint32_t width, uint32_t height,
                                   size_t stride, uint32_t format, const glimpse_rect *rects, size_t count) {
    return glimpse_encoder_push_frame(enc, pixels, len, width, height, stride, format, rects, count);
}

static void test_push_frame_bad_input(void) {
    static uint8_t px[FRAME_LEN];
    glimpse_rect hint = {0, 0, W, H};
    glimpse_encoder *enc = new_encoder();
    size_t queued = 99;
    fill(px, 1);

    check_frame_arguments(encoder_push, enc, px, W, H);
    EXPECT_CODE(glimpse_encoder_push_frame(NULL, px, FRAME_LEN, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, NULL, 0, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, 0, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, 0xffffffffu, H, STRIDE, 0, NULL, 0),
                GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, 8193, 1, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_INVALID_DIMENSIONS);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, 0, 0, NULL, 0), GLIMPSE_RESULT_INVALID_STRIDE);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, 0, W, H, STRIDE, 0, NULL, 0), GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE + 4, 0, NULL, 0),
                GLIMPSE_RESULT_FRAME_DATA_TOO_SHORT);
    EXPECT_CODE(glimpse_encoder_push_frame(enc, px, FRAME_LEN, W, H, STRIDE, 0xffffffffu, NULL, 0),
                GLIMPSE_RESULT_UNKNOWN_PIXEL_FORMAT);
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
        struct {
            glimpse_encoder_stats st;
            uint64_t newer[2];
        } big;
        const uint32_t v1 = (uint32_t)offsetof(glimpse_encoder_stats, video_pictures);
        memset(&st, 0xab, sizeof st);
        st.struct_size = sizeof st;
        EXPECT_CODE(glimpse_encoder_get_stats(NULL, &st), GLIMPSE_RESULT_NULL_PARAMETER);
        EXPECT_CODE(glimpse_encoder_get_stats(enc, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
        /* Smaller than the first version: nothing written. */
        st.struct_size = v1 - 1;
        EXPECT_CODE(glimpse_encoder_get_stats(enc, &st), GLIMPSE_RESULT_SETTINGS_SIZE);
        EXPECT(st.struct_size == v1 - 1 && st.frames == 0xababababababababull);
        st.struct_size = 0;
        EXPECT_CODE(glimpse_encoder_get_stats(enc, &st), GLIMPSE_RESULT_SETTINGS_SIZE);
        st.struct_size = sizeof st;
        OK(glimpse_encoder_get_stats(enc, &st));
        EXPECT(st.struct_size == sizeof st);
        EXPECT(st.frames == 1 && st.checkpoints == 1 && st.bytes > 0);
        EXPECT(st.video_pictures == 0 && st.video_bytes == 0 && st.video_pixels == 0 && st.lossy_pixels == 0);
        /* A caller built against the first header: the fields past its struct are not touched. */
        memset(&st, 0xab, sizeof st);
        st.struct_size = v1;
        OK(glimpse_encoder_get_stats(enc, &st));
        EXPECT(st.struct_size == v1 && st.frames == 1 && st.cache_hits == 0);
        EXPECT(st.video_pictures == 0xababababababababull && st.lossy_pixels == 0xababababababababull);
        /* A caller built against a newer header: the fields this library does not know read 0. */
        memset(&big, 0xab, sizeof big);
        big.st.struct_size = sizeof big;
        OK(glimpse_encoder_get_stats(enc, &big.st));
        EXPECT(big.st.struct_size == sizeof big.st && big.st.frames == 1);
        EXPECT(big.newer[0] == 0 && big.newer[1] == 0);
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

/* ---- video regions ---- */

#define VW 640
#define VH 480
#define VSTRIDE (VW * 4)
#define VLEN ((size_t)VSTRIDE * VH)
#define VIDEO_X 160 /* the photographic region: 320x240, not aligned to the 64-pixel tiles */
#define VIDEO_Y 112
#define VIDEO_W 320
#define VIDEO_H 240
#define PLAYING_FRAMES 20
#define STATIC_FRAMES 6

/* Frame t of the video sequence: a static text-like page with smooth colour waves that move every
 * frame in the middle (frames after the playing ones repeat the last playing frame). */
static void video_frame(uint8_t *px, unsigned t) {
    uint32_t x, y;
    double phase;
    if (t >= PLAYING_FRAMES) {
        t = PLAYING_FRAMES - 1;
    }
    phase = 0.35 * t;
    for (y = 0; y < VH; y++) {
        for (x = 0; x < VW; x++) {
            uint8_t *p = px + (size_t)y * VSTRIDE + (size_t)x * 4;
            if (x >= VIDEO_X && x < VIDEO_X + VIDEO_W && y >= VIDEO_Y && y < VIDEO_Y + VIDEO_H) {
                double u = (x - VIDEO_X) / 23.0, v = (y - VIDEO_Y) / 19.0;
                p[0] = (uint8_t)(128 + 100 * sin(u + phase) * cos(v * 0.7 - phase * 0.5));
                p[1] = (uint8_t)(128 + 100 * cos(u * 0.6 - v + phase * 1.3));
                p[2] = (uint8_t)(128 + 100 * sin(v * 1.1 + u * 0.3 + phase * 0.8));
            } else {
                /* Lines of "glyphs": dark strokes on white, 16-pixel line pitch. */
                int ink = (y % 16) >= 3 && (y % 16) < 12 && ((x / 7 + y / 16) % 5 != 0) && ((x * 3 + (y % 16) * 5) % 7 < 3);
                p[0] = p[1] = p[2] = ink ? 0x20 : 0xf4;
            }
            p[3] = 0xff;
        }
    }
}

static int inside_any(uint32_t x, uint32_t y, const glimpse_rect *rects, size_t count) {
    size_t i;
    for (i = 0; i < count; i++) {
        if (x >= rects[i].x && x - rects[i].x < rects[i].width && y >= rects[i].y && y - rects[i].y < rects[i].height) {
            return 1;
        }
    }
    return 0;
}

/* Pixels of the decoder's framebuffer that differ from `px` outside `lossy` (all pixels with count 0). */
static unsigned long differing_outside(glimpse_decoder *dec, const uint8_t *px, const glimpse_rect *lossy, size_t count) {
    glimpse_framebuffer fb;
    unsigned long bad = 0;
    uint32_t x, y;
    if (glimpse_decoder_framebuffer(dec, &fb) != GLIMPSE_RESULT_OK || fb.width != VW || fb.height != VH) {
        return VW * VH;
    }
    for (y = 0; y < VH; y++) {
        const uint8_t *got = fb.pixels + (size_t)y * fb.stride, *want = px + (size_t)y * VSTRIDE;
        if (memcmp(got, want, VSTRIDE) == 0) {
            continue;
        }
        for (x = 0; x < VW; x++) {
            if (memcmp(got + x * 4, want + x * 4, 4) != 0 && !inside_any(x, y, lossy, count)) {
                bad++;
            }
        }
    }
    return bad;
}

/* Encodes the sequence with video on or off and decodes it with a decoder that draws the H.264
 * pictures and one that skips them. Every frame: pixels outside the encoder's lossy rectangles are
 * exact in both. Once the screen is still for top_off_bound_frames frames: every pixel is exact. */
static void run_video(uint32_t video_enabled) {
    uint8_t *px = (uint8_t *)malloc(VLEN);
    glimpse_encoder_settings es;
    glimpse_decoder_settings ds;
    glimpse_encoder *enc = NULL;
    glimpse_decoder *dec = NULL, *skip = NULL;
    glimpse_encoder_stats st;
    glimpse_rect lossy[128];
    uint32_t bound = 0, errors = 99;
    unsigned t, lossy_frames = 0, max_lossy = 0, inexact_frames = 0;

    OK(glimpse_encoder_settings_init(&es));
    es.video_enabled = video_enabled;
    OK(glimpse_encoder_new(&es, &enc));
    OK(glimpse_decoder_settings_init(&ds));
    OK(glimpse_decoder_new(&ds, &dec));
    ds.decode_video = 0;
    OK(glimpse_decoder_new(&ds, &skip));
    OK(glimpse_encoder_top_off_bound_frames(enc, &bound));
    EXPECT(bound == 4 && bound <= STATIC_FRAMES);
    if (px == NULL || enc == NULL || dec == NULL || skip == NULL) {
        test_failed = 1;
        goto done;
    }
    for (t = 0; t < PLAYING_FRAMES + STATIC_FRAMES; t++) {
        uint8_t *p;
        size_t len, count = 0, i;
        uint32_t kind;
        uint64_t area = 0;
        video_frame(px, t);
        OK(glimpse_encoder_push_frame(enc, px, VLEN, VW, VH, VSTRIDE, GLIMPSE_PIXEL_FORMAT_BGRA8, NULL, 0));
        while ((p = take_packet(enc, &len, &kind)) != NULL) {
            OK(glimpse_decoder_apply(dec, p, len));
            OK(glimpse_decoder_last_video_errors(dec, &errors));
            EXPECT(errors == 0);
            OK(glimpse_decoder_apply(skip, p, len));
            OK(glimpse_decoder_last_video_errors(skip, &errors));
            EXPECT(errors == 0);
            free(p);
        }
        OK(glimpse_encoder_lossy_rects(enc, lossy, sizeof lossy / sizeof lossy[0], &count));
        st.struct_size = sizeof st;
        OK(glimpse_encoder_get_stats(enc, &st));
        for (i = 0; i < count; i++) {
            area += (uint64_t)lossy[i].width * lossy[i].height;
            EXPECT(lossy[i].width > 0 && lossy[i].height > 0 && lossy[i].x + lossy[i].width <= VW &&
                   lossy[i].y + lossy[i].height <= VH);
        }
        EXPECT(area == st.lossy_pixels);
        if (count > 0) {
            /* The rectangle-list protocol: too small a buffer gets the count and nothing else. */
            size_t need = 0;
            glimpse_rect one = {1, 2, 3, 4};
            EXPECT_CODE(glimpse_encoder_lossy_rects(enc, NULL, 0, &need), GLIMPSE_RESULT_BUFFER_TOO_SMALL);
            EXPECT(need == count);
            if (count > 1) {
                EXPECT_CODE(glimpse_encoder_lossy_rects(enc, &one, 1, &need), GLIMPSE_RESULT_BUFFER_TOO_SMALL);
                EXPECT(one.x == 1 && one.y == 2 && one.width == 3 && one.height == 4);
            }
            lossy_frames++;
        }
        if (count > max_lossy) {
            max_lossy = (unsigned)count;
        }
        EXPECT(differing_outside(dec, px, lossy, count) == 0);
        EXPECT(differing_outside(skip, px, lossy, count) == 0);
        if (differing_outside(dec, px, NULL, 0) > 0) {
            inexact_frames++;
        }
        if (t + 1 >= PLAYING_FRAMES + bound) {
            /* Still for `bound` frames: the sharp-text guarantee. */
            EXPECT(count == 0 && st.lossy_pixels == 0);
            EXPECT(differing_outside(dec, px, NULL, 0) == 0);
            EXPECT(differing_outside(skip, px, NULL, 0) == 0);
        }
        if (!video_enabled) {
            EXPECT(count == 0);
            EXPECT(differing_outside(dec, px, NULL, 0) == 0);
        }
    }
    st.struct_size = sizeof st;
    OK(glimpse_encoder_get_stats(enc, &st));
    if (video_enabled) {
        /* The region was found and sent as H.264 (the test would prove nothing otherwise). */
        EXPECT(lossy_frames > 0 && inexact_frames > 0 && st.video_pictures > 0 && st.video_bytes > 0 && st.video_bytes < st.bytes);
        EXPECT(st.video_pixels >= st.video_pictures * 4 * 64 * 64);
        printf("  video: %u frames with lossy tiles (up to %u; %u frames inexact), %llu pictures, %llu of %llu bytes\n",
               lossy_frames, max_lossy, inexact_frames, (unsigned long long)st.video_pictures, (unsigned long long)st.video_bytes,
               (unsigned long long)st.bytes);
    } else {
        EXPECT(lossy_frames == 0 && st.video_pictures == 0 && st.video_bytes == 0 && st.video_pixels == 0);
    }
    EXPECT(st.frames == PLAYING_FRAMES + STATIC_FRAMES && st.lossy_pixels == 0);
done:
    glimpse_encoder_free(enc);
    glimpse_decoder_free(dec);
    glimpse_decoder_free(skip);
    free(px);
}

static void test_video(void) {
    size_t count = 7;
    glimpse_rect r;
    glimpse_encoder *enc = new_encoder();
    /* Argument checks; before the first frame nothing is lossy. */
    EXPECT_CODE(glimpse_encoder_lossy_rects(NULL, &r, 1, &count), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_lossy_rects(enc, &r, 1, NULL), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT_CODE(glimpse_encoder_lossy_rects(enc, NULL, 1, &count), GLIMPSE_RESULT_NULL_PARAMETER);
    EXPECT(count == 7);
    OK(glimpse_encoder_lossy_rects(enc, NULL, 0, &count));
    EXPECT(count == 0);
    glimpse_encoder_free(enc);
    run_video(1);
}

static void test_video_disabled(void) {
    run_video(0);
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
        {"video", test_video},
        {"video_disabled", test_video_disabled},
        {"host_settings", test_host_settings},
        {"host_null_handle", test_host_null_handle},
        {"host_unreachable", test_host_unreachable},
        {"host_round_trip", test_host_round_trip},
        {"host_relay_stops", test_host_relay_stops},
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
