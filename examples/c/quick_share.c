/*
 * quick_share: share a screen through a Glimpse relay from C, with no network code of its own.
 *
 *   quick_share --relay URL [--frames N] [--fps F] [--size WxH] [--name NAME]
 *               [--wait-viewers N] [--final FILE.bgra] [--linger SECONDS]
 *
 * Starts a session on the relay (glimpse_host_new), prints "code: 123 456 7890" and the join
 * link, then shares N synthesized frames (a moving window over a gradient) at F frames per second.
 * With --wait-viewers it first waits until that many viewers joined (at most a minute). Events
 * (viewers joining and leaving, control requests, input) are printed as they come; the event wait
 * is also the frame clock. At the end the last frame is pushed glimpse_host_top_off_bound_frames()
 * more times, as a capture loop would while the screen is still, so every pixel viewers show is
 * exact; it is written to --final as BGRA rows packed (compare with `glimpse-view --expect FILE
 * --expect-size WxH`). The session stays up --linger seconds more, then glimpse_host_free ends it.
 *
 * Exit status: 0 when everything worked, 1 when a call failed or the session ended early, 2 for
 * bad arguments.
 */
#define _POSIX_C_SOURCE 200809L

#include <glimpse.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXAMPLE_NAME "quick_share"
#include "example.h"

struct share {
    glimpse_host *host;
    unsigned viewers; /* connected now */
    int ended;        /* GLIMPSE_HOST_EVENT_ENDED came */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints one event and acts on it (this demo shares view-only: control requests are refused). */
static int on_event(struct share *s, const glimpse_host_event *ev) {
    switch (ev->kind) {
    case GLIMPSE_HOST_EVENT_KIND_READY:
        printf("quick_share: session live\n");
        break;
    case GLIMPSE_HOST_EVENT_KIND_VIEWER_JOINED:
        s->viewers++;
        printf("quick_share: viewer %llu joined from %s (name \"%s\")\n", (unsigned long long)ev->viewer, ev->address,
               ev->name);
        break;
    case GLIMPSE_HOST_EVENT_KIND_VIEWER_LEFT:
        if (s->viewers > 0) {
            s->viewers--;
        }
        printf("quick_share: viewer %llu left\n", (unsigned long long)ev->viewer);
        break;
    case GLIMPSE_HOST_EVENT_KIND_CONTROL_REQUESTED:
        printf("quick_share: viewer %llu asks for control: refused\n", (unsigned long long)ev->viewer);
        return check(glimpse_host_refuse(s->host, ev->viewer), "glimpse_host_refuse");
    case GLIMPSE_HOST_EVENT_KIND_POINTER_MOVE:
    case GLIMPSE_HOST_EVENT_KIND_POINTER_BUTTON:
    case GLIMPSE_HOST_EVENT_KIND_WHEEL:
    case GLIMPSE_HOST_EVENT_KIND_KEY:
        printf("quick_share: input %u from viewer %llu\n", (unsigned)ev->kind, (unsigned long long)ev->viewer);
        break;
    case GLIMPSE_HOST_EVENT_KIND_DISCONNECTED:
        printf("quick_share: relay link lost, reconnecting\n");
        break;
    case GLIMPSE_HOST_EVENT_KIND_RECONNECTED:
        printf("quick_share: relay link back, same code %s\n", ev->code);
        break;
    case GLIMPSE_HOST_EVENT_KIND_WRONG_CODE:
        printf("quick_share: a wrong code was tried from %s (%u of 3)\n", ev->address, (unsigned)ev->count);
        break;
    case GLIMPSE_HOST_EVENT_KIND_CODE_REPLACED:
        printf("quick_share: code burned after three wrong attempts; new code: %s\n", ev->code);
        break;
    case GLIMPSE_HOST_EVENT_KIND_ENDED:
        s->ended = 1;
        fprintf(stderr, "quick_share: the session ended: %s (%u)\n", ev->reason, (unsigned)ev->end_code);
        return 0;
    default:
        break;
    }
    fflush(stdout);
    return 1;
}

/* Handles events until `until` (a now_s() time): the frame clock. */
static int pump_until(struct share *s, double until) {
    for (;;) {
        glimpse_host_event ev;
        glimpse_result r;
        double left = until - now_s();
        uint32_t wait_ms = left > 0 ? (uint32_t)(left * 1000.0) : 0;
        ev.struct_size = sizeof ev; /* versioned: say which fields this program knows */
        r = glimpse_host_next_event(s->host, wait_ms, &ev);
        if (r == GLIMPSE_RESULT_TIMEOUT) {
            if (now_s() >= until) {
                return 1;
            }
            continue;
        }
        if (r == GLIMPSE_RESULT_CLOSED) {
            fprintf(stderr, "quick_share: the session is closed\n");
            return 0;
        }
        if (!check(r, "glimpse_host_next_event") || !on_event(s, &ev)) {
            return 0;
        }
    }
}

static int write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (f == NULL) {
        perror(path);
        return 0;
    }
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

struct options {
    const char *relay, *name, *final_path;
    unsigned frames, fps, wait_viewers;
    double linger;
    uint32_t w, h;
};

static int parse(int argc, char **argv, struct options *o) {
    int i;
    o->relay = NULL;
    o->name = "quick_share";
    o->final_path = NULL;
    o->frames = 40;
    o->fps = 20;
    o->wait_viewers = 0;
    o->linger = 2.0;
    o->w = 320;
    o->h = 200;
    for (i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--relay") == 0) {
            o->relay = v;
        } else if (strcmp(k, "--frames") == 0) {
            o->frames = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(k, "--fps") == 0) {
            o->fps = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(k, "--size") == 0) {
            unsigned long w = 0, h = 0;
            if (sscanf(v, "%lux%lu", &w, &h) != 2) {
                return 0;
            }
            o->w = (uint32_t)w;
            o->h = (uint32_t)h;
        } else if (strcmp(k, "--name") == 0) {
            o->name = v;
        } else if (strcmp(k, "--wait-viewers") == 0) {
            o->wait_viewers = (unsigned)strtoul(v, NULL, 10);
        } else if (strcmp(k, "--final") == 0) {
            o->final_path = v;
        } else if (strcmp(k, "--linger") == 0) {
            o->linger = strtod(v, NULL);
        } else {
            return 0;
        }
    }
    return i == argc && o->relay != NULL && o->fps >= 1 && o->fps <= 120 && o->w >= 16 && o->h >= 16 &&
           o->w <= 8192 && o->h <= 8192;
}

/* Starts the session and prints its key and link. */
static int start(struct share *s, const struct options *o) {
    glimpse_host_settings settings;
    glimpse_encoder_settings encoder;
    char key[GLIMPSE_HOST_KEY_SIZE], *link = NULL;
    size_t len = 0;
    int ok;
    if (!check(glimpse_host_settings_init(&settings), "glimpse_host_settings_init") ||
        !check(glimpse_encoder_settings_init(&encoder), "glimpse_encoder_settings_init")) {
        return 0;
    }
    encoder.video_fps = o->fps; /* the H.264 rate control of video regions spreads its bits over them */
    settings.relay_url = o->relay;
    settings.name = o->name;
    settings.encoder = &encoder;
    if (!check(glimpse_host_new(&settings, &s->host), "glimpse_host_new") ||
        !check(glimpse_host_key(s->host, key, sizeof key, &len), "glimpse_host_key")) {
        return 0;
    }
    printf("code: %s\n", key);
    /* The (buf, cap, out_len) protocol: ask for the size first, then copy. */
    if (glimpse_host_join_link(s->host, NULL, 0, &len) != GLIMPSE_RESULT_BUFFER_TOO_SMALL ||
        (link = (char *)malloc(len)) == NULL) {
        fprintf(stderr, "quick_share: cannot size the join link\n");
        return 0;
    }
    ok = check(glimpse_host_join_link(s->host, link, len, &len), "glimpse_host_join_link");
    if (ok) {
        printf("join link: %s\n", link);
    }
    free(link);
    fflush(stdout);
    return ok;
}

/* Pushes the frames, then the still tail; `px` holds the last frame at the end. */
static int share_frames(struct share *s, const struct options *o, uint8_t *px) {
    size_t len = (size_t)o->w * o->h * 4;
    double period = 1.0 / o->fps, next = now_s();
    uint32_t settle = 0, i;
    int ok = check(glimpse_host_top_off_bound_frames(s->host, &settle), "glimpse_host_top_off_bound_frames");
    for (i = 0; ok && i < o->frames + settle; i++) {
        if (i < o->frames) {
            synthesize(px, o->w, o->h, i);
        } /* else: the screen is still, the last frame again */
        ok = check(glimpse_host_push_frame(s->host, px, len, o->w, o->h, (size_t)o->w * 4, GLIMPSE_PIXEL_FORMAT_BGRA8,
                                           NULL, 0),
                   "glimpse_host_push_frame");
        next += period;
        ok = ok && pump_until(s, next);
    }
    return ok;
}

int main(int argc, char **argv) {
    struct options o;
    struct share s;
    uint8_t *px;
    int ok;
    glimpse_host_stats stats;

    if (!parse(argc, argv, &o)) {
        fprintf(stderr, "usage: quick_share --relay URL [--frames N] [--fps F] [--size WxH] [--name NAME]\n"
                        "                   [--wait-viewers N] [--final FILE.bgra] [--linger SECONDS]\n");
        return 2;
    }
    px = (uint8_t *)malloc((size_t)o.w * o.h * 4);
    if (px == NULL) {
        perror("quick_share");
        return 1;
    }
    memset(&s, 0, sizeof s);
    printf("libglimpse %s (header %s)\n", glimpse_version(), GLIMPSE_VERSION_STRING);
    ok = start(&s, &o);
    if (ok && o.wait_viewers > 0) {
        double give_up = now_s() + 60.0;
        printf("quick_share: waiting for %u viewer(s)\n", o.wait_viewers);
        fflush(stdout);
        while (ok && s.viewers < o.wait_viewers && now_s() < give_up) {
            ok = pump_until(&s, now_s() + 0.2);
        }
        if (ok && s.viewers < o.wait_viewers) {
            fprintf(stderr, "quick_share: no viewer came within a minute\n");
            ok = 0;
        }
    }
    ok = ok && share_frames(&s, &o, px);
    if (ok && o.final_path != NULL) {
        ok = write_file(o.final_path, px, (size_t)o.w * o.h * 4);
    }
    ok = ok && pump_until(&s, now_s() + o.linger);
    stats.struct_size = sizeof stats;
    if (ok && check(glimpse_host_get_stats(s.host, &stats), "glimpse_host_get_stats")) {
        printf("quick_share: %llu frames %ux%u, %llu packets (%llu bytes, %llu checkpoints), %llu bytes sent, %llu "
               "dropped\n",
               (unsigned long long)stats.frames, (unsigned)o.w, (unsigned)o.h, (unsigned long long)stats.packets,
               (unsigned long long)stats.packet_bytes, (unsigned long long)stats.checkpoints,
               (unsigned long long)stats.sent_bytes, (unsigned long long)stats.dropped_packets);
    }
    glimpse_host_free(s.host); /* ends the session for every viewer; NULL if glimpse_host_new failed */
    free(px);
    printf("quick_share: %s\n", ok ? "done" : "failed");
    return ok ? 0 : 1;
}
