//! `glimpse::session`: fan-out with real encoders and decoders, and remote control. Everything
//! deterministic: time is a number, randomness a seeded generator.

mod common;

use bytes::Bytes;
use common::packed_frame;
use glimpse::session::{
    Control, ControlEvent, FanOut, FanOutConfig, FanOutEvent, InputEvent, StreamKind, ViewerId,
};
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Error, PacketKind};

// ---------------------------------------------------------------------------------------------
// Harness: a host with a real encoder, viewers with real decoders.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let z = self.0;
        (z ^ (z >> 29)).wrapping_mul(0xbf58476d1ce4e5b9) ^ (z >> 32)
    }
}

/// A host: a screen that changes a little every step (a 32x32 block of noise, about 4 KB coded, at
/// a moving place), and a moving cursor.
struct Host {
    encoder: Encoder,
    screen: Vec<u8>,
    width: u32,
    height: u32,
    rng: Rng,
    step: u32,
}

impl Host {
    fn new(width: u32, height: u32) -> Self {
        let mut config = EncoderConfig::default();
        config.video.enabled = false; // exact pixels, so viewers can be compared with the source
        Host {
            encoder: Encoder::new(config),
            screen: vec![0x40; (width * height * 4) as usize],
            width,
            height,
            rng: Rng(7),
            step: 0,
        }
    }

    fn frame(&mut self) -> Option<Bytes> {
        let frame = packed_frame(&self.screen, self.width, self.height);
        self.encoder.encode(&frame).unwrap().map(|p| p.into_bytes())
    }

    /// One step: change the screen, encode; returns the packets (frame update, cursor position).
    fn step(&mut self) -> Vec<Bytes> {
        self.step += 1;
        let bx = (self.step * 32) % (self.width - 32);
        let by = (self.step * 16) % (self.height - 32);
        for y in by..by + 32 {
            for x in bx..bx + 32 {
                let i = ((y * self.width + x) * 4) as usize;
                self.screen[i..i + 4]
                    .copy_from_slice(&(self.rng.next() as u32 | 0xff00_0000).to_le_bytes());
            }
        }
        let mut packets: Vec<Bytes> = self.frame().into_iter().collect();
        let s = self.step as i32;
        packets.extend(
            self.encoder
                .move_cursor(s * 3 % 100, s * 5 % 60, true)
                .map(|p| p.into_bytes()),
        );
        packets
    }
}

struct Viewer {
    id: ViewerId,
    decoder: Decoder,
    kinds: Vec<PacketKind>,
}

impl Viewer {
    fn new(fanout: &mut FanOut, now: u64) -> Self {
        Viewer {
            id: fanout.add_viewer(now),
            decoder: Decoder::new(DecoderConfig::default()),
            kinds: Vec::new(),
        }
    }

    /// Takes everything the fan-out has for this viewer, applies it and acknowledges it.
    fn drain(&mut self, fanout: &mut FanOut, now: u64) -> usize {
        let mut n = 0;
        while let Some(packet) = fanout.poll_send(self.id, now) {
            let update = self
                .decoder
                .apply(&packet)
                .expect("viewer applies every packet");
            self.kinds.push(update.kind);
            if let Some(seq) = self.decoder.seq() {
                fanout.ack(self.id, seq, now);
            }
            n += 1;
        }
        n
    }

    fn checkpoints(&self) -> usize {
        self.kinds
            .iter()
            .filter(|k| **k == PacketKind::Checkpoint)
            .count()
    }

    fn pixels(&self) -> &[u8] {
        self.decoder
            .framebuffer()
            .expect("viewer has a screen")
            .pixels
    }
}

type CursorState = Option<(i32, i32, bool, Option<Vec<u8>>)>;

fn cursor(v: &Viewer) -> CursorState {
    v.decoder
        .cursor()
        .map(|c| (c.x, c.y, c.visible, c.image.map(|i| i.pixels.clone())))
}

fn events(fanout: &mut FanOut) -> usize {
    let mut n = 0;
    while let Some(e) = fanout.poll_event() {
        assert_eq!(e, FanOutEvent::NeedCheckpoint);
        n += 1;
    }
    n
}

fn config(max_log_bytes: usize, max_lag_bytes: usize, window_bytes: usize) -> FanOutConfig {
    let mut c = FanOutConfig::default();
    c.max_log_bytes = max_log_bytes;
    c.max_lag_bytes = max_lag_bytes;
    c.window_bytes = window_bytes;
    c
}

// ---------------------------------------------------------------------------------------------
// Fan-out

#[test]
fn joiners_before_the_first_checkpoint_wait_and_raise_one_request() {
    let mut host = Host::new(128, 96);
    let mut fanout = FanOut::new(FanOutConfig::default());
    let mut a = Viewer::new(&mut fanout, 0);
    let mut b = Viewer::new(&mut fanout, 1);
    assert_eq!(fanout.poll_event(), Some(FanOutEvent::NeedCheckpoint));
    assert_eq!(
        fanout.poll_event(),
        None,
        "coalesced: one request for both joiners"
    );
    assert_eq!(a.drain(&mut fanout, 2), 0);
    assert!(!fanout.viewer_stats(a.id).unwrap().in_sync);
    let _c = Viewer::new(&mut fanout, 3);
    assert_eq!(
        fanout.poll_event(),
        None,
        "still outstanding: not raised again"
    );

    // The host has nothing to send before its first frame; its first frame is the checkpoint.
    assert!(host.encoder.checkpoint().is_none());
    fanout.host_packet(host.frame().unwrap(), 4).unwrap();
    assert_eq!(a.drain(&mut fanout, 5), 1);
    assert_eq!(b.drain(&mut fanout, 5), 1);
    assert_eq!(a.kinds, [PacketKind::Checkpoint]);
    assert!(fanout.viewer_stats(a.id).unwrap().in_sync);
    assert_eq!(a.pixels(), &host.screen[..]);
    assert_eq!(events(&mut fanout), 0);
}

#[test]
fn late_joiner_gets_checkpoint_and_catch_up_log_and_matches_a_viewer_from_the_start() {
    let mut host = Host::new(128, 96);
    let mut fanout = FanOut::new(FanOutConfig::default());
    let mut a = Viewer::new(&mut fanout, 0);
    assert_eq!(events(&mut fanout), 1);
    fanout.host_packet(host.frame().unwrap(), 0).unwrap();
    a.drain(&mut fanout, 0);
    for now in 1..=15 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        a.drain(&mut fanout, now);
    }
    let mut late = Viewer::new(&mut fanout, 16);
    assert_eq!(
        events(&mut fanout),
        0,
        "the catch-up log serves the joiner: the host is not bothered"
    );
    let sent = late.drain(&mut fanout, 16);
    assert_eq!(late.kinds[0], PacketKind::Checkpoint);
    assert_eq!(late.checkpoints(), 1);
    assert_eq!(
        sent,
        1 + 15 * 2,
        "checkpoint, then 15 updates and 15 cursor moves"
    );
    assert_eq!(late.pixels(), a.pixels());
    assert_eq!(late.decoder.seq(), a.decoder.seq());
    assert_eq!(cursor(&late), cursor(&a));
    for now in 17..=25 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        a.drain(&mut fanout, now);
        late.drain(&mut fanout, now);
        assert_eq!(late.pixels(), &host.screen[..]);
        assert_eq!(a.pixels(), &host.screen[..]);
        assert_eq!(cursor(&late), cursor(&a));
    }
    assert_eq!(
        a.checkpoints(),
        1,
        "the viewer in step saw only its own first checkpoint"
    );
    assert_eq!(late.checkpoints(), 1);
    assert_eq!(fanout.viewer_count(), 2);
    fanout.remove_viewer(late.id);
    assert_eq!(fanout.viewer_count(), 1);
    assert!(fanout.viewer_stats(late.id).is_none());
}

#[test]
fn a_join_checkpoint_goes_to_the_joiner_only() {
    // A small catch-up bound: after a few updates the log is dropped, so a joiner needs a new one.
    let mut host = Host::new(128, 96);
    let mut fanout = FanOut::new(config(12_000, 1 << 20, 0));
    let mut a = Viewer::new(&mut fanout, 0);
    let mut b = Viewer::new(&mut fanout, 0);
    events(&mut fanout);
    fanout.host_packet(host.frame().unwrap(), 0).unwrap();
    let mut requests = 0;
    for now in 1..=10 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        requests += events(&mut fanout);
        a.drain(&mut fanout, now);
        b.drain(&mut fanout, now);
    }
    assert_eq!(
        requests, 1,
        "the catch-up log passed its bound once; one request, unanswered"
    );
    let mut late = Viewer::new(&mut fanout, 11);
    assert_eq!(
        events(&mut fanout),
        0,
        "coalesced with the outstanding request"
    );
    assert_eq!(late.drain(&mut fanout, 11), 0, "waits for the checkpoint");
    fanout
        .host_packet(host.encoder.checkpoint().unwrap().into_bytes(), 12)
        .unwrap();
    assert_eq!(
        a.drain(&mut fanout, 12),
        0,
        "viewers in step skip the join checkpoint"
    );
    assert_eq!(late.drain(&mut fanout, 12), 1);
    for now in 13..=20 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        for v in [&mut a, &mut b, &mut late] {
            v.drain(&mut fanout, now);
            assert_eq!(v.pixels(), &host.screen[..]);
        }
    }
    assert_eq!(
        (a.checkpoints(), b.checkpoints(), late.checkpoints()),
        (1, 1, 1)
    );
    assert_eq!(late.decoder.seq(), a.decoder.seq());
    assert_eq!(cursor(&late), cursor(&a));
}

#[test]
fn a_slow_viewer_skips_to_a_new_checkpoint_while_memory_stays_bounded() {
    let (max_log, max_lag) = (40_000, 20_000);
    let mut host = Host::new(128, 96);
    let mut fanout = FanOut::new(config(max_log, max_lag, 0));
    let mut fast = Viewer::new(&mut fanout, 0);
    let mut slow = Viewer::new(&mut fanout, 0);
    events(&mut fanout);
    fanout.host_packet(host.frame().unwrap(), 0).unwrap();
    fast.drain(&mut fanout, 0);
    slow.drain(&mut fanout, 0);
    let mut largest_checkpoint = 0;
    let mut skips_seen = 0;
    for now in 1..=120 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        let skips = fanout.viewer_stats(slow.id).unwrap().skips;
        let requests = events(&mut fanout);
        assert!(requests <= 1, "coalesced");
        if skips > skips_seen {
            skips_seen = skips;
            assert_eq!(
                requests, 1,
                "the slow viewer's skip asks for a checkpoint at once"
            );
            assert!(!fanout.viewer_stats(slow.id).unwrap().in_sync);
        }
        if requests == 1 {
            // The host answers, as a real one would.
            let cp = host.encoder.checkpoint().unwrap().into_bytes();
            largest_checkpoint = largest_checkpoint.max(cp.len());
            fanout.host_packet(cp, now).unwrap();
            assert_eq!(events(&mut fanout), 0);
        }
        assert_eq!(
            fast.drain(&mut fanout, now),
            2,
            "never delayed: update and cursor, right away"
        );
        assert_eq!(fast.decoder.seq(), Some(u64::from(host.step)));
        assert_eq!(fast.pixels(), &host.screen[..]);
        assert!(
            fanout.log_bytes() <= max_log.max(max_lag) + largest_checkpoint,
            "log holds {} bytes at step {now}",
            fanout.log_bytes()
        );
        assert!(fanout.viewer_stats(slow.id).unwrap().lag_bytes <= max_lag + largest_checkpoint);
    }
    assert!(
        skips_seen >= 5,
        "the stuck viewer skipped again and again ({skips_seen})"
    );
    assert_eq!(
        fast.checkpoints(),
        1,
        "the fast viewer never saw a checkpoint after its first"
    );
    assert_eq!(fanout.viewer_stats(fast.id).unwrap().skips, 0);

    // The slow viewer wakes up: the newest checkpoint, then updates, pixel-exact.
    slow.kinds.clear();
    slow.drain(&mut fanout, 121);
    assert_eq!(slow.kinds[0], PacketKind::Checkpoint);
    assert_eq!(slow.checkpoints(), 1);
    assert_eq!(slow.pixels(), &host.screen[..]);
    assert_eq!(slow.decoder.seq(), fast.decoder.seq());
    for now in 122..130 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        assert_eq!(events(&mut fanout), 0);
        fast.drain(&mut fanout, now);
        slow.drain(&mut fanout, now);
        assert_eq!(slow.pixels(), &host.screen[..]);
    }
    assert_eq!(slow.checkpoints(), 1);
    assert!(fanout.viewer_stats(slow.id).unwrap().in_sync);
}

#[test]
fn ack_pacing_holds_packets_until_acknowledged() {
    let mut host = Host::new(128, 96);
    let mut fanout = FanOut::new(config(1 << 20, 1 << 20, 1));
    let v = fanout.add_viewer(0);
    events(&mut fanout);
    fanout.host_packet(host.frame().unwrap(), 0).unwrap();
    for now in 1..=3 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
    }
    let mut decoder = Decoder::new(DecoderConfig::default());
    let first = fanout
        .poll_send(v, 4)
        .expect("the window is empty: one packet goes");
    decoder.apply(&first).unwrap();
    assert_eq!(fanout.poll_send(v, 5), None, "window full");
    fanout.ack(v, 99, 5); // acks nothing in flight: ignored
    assert_eq!(fanout.poll_send(v, 5), None);
    assert_eq!(fanout.viewer_stats(v).unwrap().acked_seq, None);
    let mut received = 1;
    while received < 7 {
        let seq = decoder.seq().unwrap();
        fanout.ack(v, seq, 6);
        assert_eq!(fanout.viewer_stats(v).unwrap().acked_seq, Some(seq));
        // After an ack, the next packet goes, then the window is full again.
        let p = fanout.poll_send(v, 6).expect("window freed");
        decoder.apply(&p).unwrap();
        assert_eq!(fanout.poll_send(v, 6), None);
        received += 1;
    }
    assert_eq!(received, 7, "checkpoint + 3 updates + 3 cursor moves");
    assert_eq!(decoder.framebuffer().unwrap().pixels, &host.screen[..]);
    let stats = fanout.viewer_stats(v).unwrap();
    assert_eq!(stats.lag_bytes, 0);
    assert!(stats.sent_bytes > 3 * 1000);

    // Window 0: no pacing at all.
    let mut unpaced = FanOut::new(config(1 << 20, 1 << 20, 0));
    let w = unpaced.add_viewer(0);
    unpaced
        .host_packet(host.encoder.checkpoint().unwrap().into_bytes(), 0)
        .unwrap();
    for p in host.step() {
        unpaced.host_packet(p, 1).unwrap();
    }
    assert_eq!(std::iter::from_fn(|| unpaced.poll_send(w, 2)).count(), 3);
}

#[test]
fn a_new_screen_size_restarts_every_viewer() {
    let mut host = Host::new(128, 96);
    let mut fanout = FanOut::new(FanOutConfig::default());
    let mut a = Viewer::new(&mut fanout, 0);
    fanout.host_packet(host.frame().unwrap(), 0).unwrap();
    for now in 1..=3 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        a.drain(&mut fanout, now);
    }
    host.width = 160;
    host.screen = vec![0x11; 160 * 96 * 4];
    let restart = host.frame().unwrap();
    assert_eq!(
        glimpse::protocol::peek_kind(&restart).unwrap(),
        PacketKind::Checkpoint
    );
    fanout.host_packet(restart, 4).unwrap();
    assert_eq!(a.drain(&mut fanout, 4), 1);
    assert_eq!(
        a.checkpoints(),
        2,
        "a restart checkpoint reaches viewers in step too"
    );
    assert_eq!(a.decoder.framebuffer().unwrap().width, 160);
    for now in 5..=8 {
        for p in host.step() {
            fanout.host_packet(p, now).unwrap();
        }
        a.drain(&mut fanout, now);
        assert_eq!(a.pixels(), &host.screen[..]);
    }
}

#[test]
fn host_packet_refuses_garbage_and_gaps() {
    let mut host = Host::new(64, 64);
    let mut fanout = FanOut::new(FanOutConfig::default());
    for garbage in [
        &b""[..],
        b"G",
        b"hello",
        b"G\x01",
        b"G\x01\x63",
        b"G\x09\x01",
        b"X\x01\x02\x00",
    ] {
        assert!(
            fanout
                .host_packet(Bytes::copy_from_slice(garbage), 0)
                .is_err(),
            "{garbage:?}"
        );
    }
    // Kind 16 and up are not screen packets.
    assert!(fanout
        .host_packet(Bytes::from_static(b"G\x01\x10\x00"), 0)
        .is_err());
    let first = host.frame().unwrap();
    let mut updates: Vec<Bytes> = Vec::new();
    for _ in 0..3 {
        updates.extend(
            host.step()
                .into_iter()
                .filter(|p| p[2] == PacketKind::FrameUpdate as u8),
        );
    }
    // An update before any checkpoint.
    assert_eq!(
        fanout.host_packet(updates[0].clone(), 0),
        Err(Error::NoCheckpoint)
    );
    assert_eq!(fanout.log_bytes(), 0);
    fanout.host_packet(first.clone(), 0).unwrap();
    fanout.host_packet(updates[0].clone(), 1).unwrap();
    // Update 3 after update 1: a gap.
    assert_eq!(
        fanout.host_packet(updates[2].clone(), 2),
        Err(Error::OutOfSync {
            expected: 2,
            got: 3
        })
    );
    // Update 1 again: a repeat.
    assert!(matches!(
        fanout.host_packet(updates[0].clone(), 2),
        Err(Error::OutOfSync { .. })
    ));
    // A truncated checkpoint header.
    assert!(fanout.host_packet(first.slice(..4), 2).is_err());
    fanout.host_packet(updates[1].clone(), 3).unwrap();
    fanout.host_packet(updates[2].clone(), 3).unwrap();
    // Failed calls changed nothing: a viewer follows from the first checkpoint, pixel-exact.
    let mut v = Viewer::new(&mut fanout, 4);
    assert_eq!(v.drain(&mut fanout, 4), 4);
    assert_eq!(v.pixels(), &host.screen[..]);
}

/// The declared-kind entry point (for relays that cannot read sealed packets) keeps the same rules:
/// no update before a checkpoint, no gap, a join checkpoint must repeat the stream's `seq`, and a
/// restart moves every viewer.
#[test]
fn declared_stream_kinds_follow_the_same_rules() {
    let mut host = Host::new(64, 64);
    let mut fanout = FanOut::new(FanOutConfig::default());
    let first = host.frame().unwrap();
    let update = |host: &mut Host| {
        host.step()
            .into_iter()
            .find(|p| p[2] == PacketKind::FrameUpdate as u8)
            .unwrap()
    };
    let u1 = update(&mut host);
    assert_eq!(
        fanout.push(u1.clone(), StreamKind::Update, 1, 0),
        Err(Error::NoCheckpoint)
    );
    // Cursor packets before the stream starts are dropped, not errors.
    assert_eq!(
        fanout.push(Bytes::from_static(b"c"), StreamKind::Cursor, 9, 0),
        Ok(())
    );
    assert_eq!(fanout.log_bytes(), 0);
    let restart = StreamKind::Checkpoint { restart: true };
    fanout.push(first, restart, 0, 0).unwrap();
    fanout.push(u1, StreamKind::Update, 1, 0).unwrap();
    let mut v = Viewer::new(&mut fanout, 1);
    v.drain(&mut fanout, 1);
    let u2 = update(&mut host);
    assert_eq!(
        fanout.push(u2.clone(), StreamKind::Update, 3, 2),
        Err(Error::OutOfSync {
            expected: 2,
            got: 3
        })
    );
    fanout.push(u2, StreamKind::Update, 2, 2).unwrap();
    // A join checkpoint must sit at the stream's current seq.
    let join = host.encoder.checkpoint().unwrap().into_bytes();
    let declared_join = StreamKind::Checkpoint { restart: false };
    assert_eq!(
        fanout.push(join.clone(), declared_join, 1, 3),
        Err(Error::OutOfSync {
            expected: 2,
            got: 1
        })
    );
    fanout.push(join, declared_join, 2, 3).unwrap();
    // The viewer in step skips the join checkpoint: only update 2 reaches it.
    assert_eq!(v.drain(&mut fanout, 4), 1);
    assert_eq!(v.pixels(), &host.screen[..]);
    // A restart checkpoint at any seq moves everybody.
    let restart_packet = host.encoder.checkpoint().unwrap().into_bytes();
    fanout.push(restart_packet, restart, 2, 5).unwrap();
    assert_eq!(v.drain(&mut fanout, 6), 1);
    assert_eq!(v.pixels(), &host.screen[..]);
}

// ---------------------------------------------------------------------------------------------
// Remote control

#[test]
fn remote_control_lifecycle() {
    let screen = (800, 600);
    let mv = InputEvent::PointerMove { x: 10, y: 20 };
    let key = InputEvent::Key {
        keysym: 0x61,
        down: true,
    };
    let mut c = Control::new();
    assert_eq!(c.holder(), None);
    assert_eq!(
        c.accept_input(1, &mv, screen),
        Err(Error::ControlNotGranted { viewer: 1 })
    );
    assert_eq!(c.request(1), Some(ControlEvent::Requested(1)));
    assert_eq!(c.holder(), None, "a request alone grants nothing");
    assert_eq!(
        c.request(1),
        None,
        "a repeated request reaches the host once"
    );
    assert_eq!(c.refuse(1), ControlEvent::Refused(1));
    assert_eq!(
        c.request(1),
        Some(ControlEvent::Requested(1)),
        "asking again after an answer"
    );
    c.forget_request(1);
    assert_eq!(
        c.request(1),
        Some(ControlEvent::Requested(1)),
        "asking again after a lost request"
    );
    assert_eq!(c.grant(1), [ControlEvent::Granted(1)]);
    assert_eq!(c.request(1), None, "the holder need not ask");
    assert_eq!(c.accept_input(1, &mv, screen), Ok(mv));
    assert_eq!(c.accept_input(1, &key, screen), Ok(key));
    assert_eq!(
        c.accept_input(2, &key, screen),
        Err(Error::ControlNotGranted { viewer: 2 })
    );
    // Pointer outside the screen.
    for (x, y) in [(-1, 0), (0, -1), (800, 0), (0, 600), (i32::MIN, i32::MAX)] {
        let e = c
            .accept_input(1, &InputEvent::PointerMove { x, y }, screen)
            .unwrap_err();
        assert_eq!(
            e,
            Error::PointerOutsideScreen {
                x,
                y,
                width: 800,
                height: 600
            }
        );
        assert_eq!(e.code(), 31);
    }
    assert!(c
        .accept_input(1, &InputEvent::PointerMove { x: 799, y: 599 }, screen)
        .is_ok());
    // Granting another viewer revokes the first.
    assert_eq!(
        c.grant(2),
        [ControlEvent::Revoked(1), ControlEvent::Granted(2)]
    );
    assert!(c.accept_input(1, &key, screen).is_err());
    assert!(c.accept_input(2, &key, screen).is_ok());
    assert_eq!(
        c.grant(2),
        [ControlEvent::Granted(2)],
        "granting the holder again revokes nobody"
    );
    // Host revoke.
    assert_eq!(c.revoke(), Some(ControlEvent::Revoked(2)));
    assert_eq!(c.revoke(), None);
    assert!(c.accept_input(2, &key, screen).is_err());
    // Local input takes control back at once.
    c.grant(3);
    assert_eq!(c.local_input(100), Some(ControlEvent::Revoked(3)));
    assert_eq!(c.holder(), None);
    assert_eq!(c.local_input(101), None);
    // Refusals.
    assert_eq!(c.refuse(4), ControlEvent::Refused(4));
    assert_eq!(c.holder(), None);
    // A leaving holder clears control; another viewer leaving changes nothing.
    c.grant(5);
    assert_eq!(c.viewer_left(6), None);
    assert_eq!(c.holder(), Some(5));
    assert_eq!(c.viewer_left(5), Some(ControlEvent::Revoked(5)));
    assert_eq!(c.holder(), None);
    assert!(c
        .accept_input(5, &InputEvent::Wheel { dx: 0, dy: 1 }, screen)
        .is_err());
}
