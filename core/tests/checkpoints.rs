//! Late joiners: a viewer that starts from a checkpoint taken at any frame and then applies the
//! following updates sees exactly what a viewer that followed the whole stream sees.

mod common;

use common::{encode_bgra, encode_screen, fb, random_edit, snapshot, Lcg, Screen};
use glimpse::{Decoder, DecoderConfig, Encoder, EncoderConfig, Error, PacketKind, Rect};
use glimpse_corpus::Corpus;

/// A viewer that joined at frame `joined`.
struct Joiner {
    joined: usize,
    decoder: Decoder,
}

/// Feeds `frames` (packed BGRA) to one encoder. After every frame a checkpoint is taken and a new
/// viewer starts from it; the continuous viewer never applies checkpoints. Every viewer is compared
/// with the continuous one (and with the source) at every frame. Joiners stay for `keep` frames, and
/// every `long_every`-th joiner stays to the end.
fn late_joiners(
    config: EncoderConfig,
    size: (u32, u32),
    frames: impl Iterator<Item = Vec<u8>>,
    checkpoint_every: usize,
    keep: usize,
    long_every: usize,
) -> usize {
    let (w, h) = size;
    let mut encoder = Encoder::new(config);
    let mut continuous = Decoder::new(DecoderConfig::default());
    let mut joiners: Vec<Joiner> = Vec::new();
    let mut checked = 0;
    for (i, frame) in frames.enumerate() {
        if let Some(p) = encode_bgra(&mut encoder, &frame, w, h) {
            continuous.apply(p.as_bytes()).unwrap();
            for j in &mut joiners {
                j.decoder
                    .apply(p.as_bytes())
                    .unwrap_or_else(|e| panic!("joiner from frame {} at frame {i}: {e}", j.joined));
            }
        }
        assert!(
            fb(&continuous) == &frame[..],
            "continuous viewer differs from the source at frame {i}"
        );
        for j in &joiners {
            assert!(
                fb(&j.decoder) == &frame[..],
                "viewer that joined at frame {} differs at frame {i}",
                j.joined
            );
            assert_eq!(
                j.decoder.seq(),
                continuous.seq(),
                "joiner from frame {}",
                j.joined
            );
            checked += 1;
        }
        if i % checkpoint_every == 0 {
            let cp = encoder.checkpoint().expect("a screen exists");
            assert_eq!(cp.kind(), PacketKind::Checkpoint);
            let mut decoder = Decoder::new(DecoderConfig::default());
            let update = decoder.apply(cp.as_bytes()).unwrap();
            assert!(update.resized);
            assert!(
                fb(&decoder) == &frame[..],
                "checkpoint at frame {i} differs from the source"
            );
            joiners.push(Joiner { joined: i, decoder });
        }
        joiners.retain(|j| i - j.joined < keep || (j.joined / checkpoint_every) % long_every == 0);
    }
    checked
}

#[test]
fn checkpoint_at_any_frame_of_synthetic_screens() {
    for (seed, (w, h), cache_tiles) in [
        (1u64, (200u32, 130u32), 2048u32),
        (2, (130, 70), 3),
        (3, (64, 64), 0),
        (4, (1, 1), 4),
        (5, (257, 65), 17),
    ] {
        let mut config = EncoderConfig::default();
        config.cache_tiles = cache_tiles;
        let mut rng = Lcg(seed);
        let mut screen = Screen::new(w, h, 0xff33_6699);
        screen.noise(Rect::new(0, 0, w, h / 2 + 1), 7, 4);
        let frames: Vec<Vec<u8>> = (0..60)
            .map(|_| {
                for _ in 0..rng.below(3) {
                    random_edit(&mut screen, &mut rng);
                }
                screen.bgra()
            })
            .collect();
        // Every joiner stays to the end: each starting frame is checked against every later frame.
        let checked = late_joiners(config, (w, h), frames.into_iter(), 1, usize::MAX, 1);
        assert_eq!(checked, 59 * 60 / 2, "seed {seed}");
    }
}

#[test]
fn checkpoint_at_any_frame_of_a_real_recording() {
    let corpus = Corpus::shared()
        .filter(|c| c.at(1280, 720).any(|s| s.name == "window_drag"))
        .map_or_else(Corpus::bundled, Ok)
        .unwrap();
    // window_drag (copies) when shared, else scroll_terminal (scrolls, cache) from the bundled corpus.
    let s = corpus
        .at(1280, 720)
        .find(|s| s.name == "window_drag" || s.name == "scroll_terminal")
        .expect("a scrolling scenario");
    println!("{} from {}", s.name, corpus.dir.display());
    let frames = s.load_all().unwrap();
    let n = frames.len();
    // A checkpoint at every frame; each joiner is followed for 6 frames, every 10th to the end.
    let checked = late_joiners(
        EncoderConfig::default(),
        (s.width, s.height),
        frames.iter().cloned(),
        1,
        6,
        10,
    );
    assert!(checked >= 5 * (n - 6), "checked {checked}");
    // Checkpoints every 9th frame let the tile cache grow between them; a small cache forces
    // evictions across checkpoints.
    let mut config = EncoderConfig::default();
    config.cache_tiles = 40;
    late_joiners(config, (s.width, s.height), frames.into_iter(), 9, 12, 3);
}

#[test]
fn viewer_that_also_applies_checkpoints_stays_in_step() {
    let mut rng = Lcg(11);
    let mut screen = Screen::new(190, 140, 0xff10_2030);
    let mut encoder = Encoder::new(EncoderConfig::default());
    let (mut plain, mut eager) = (
        Decoder::new(DecoderConfig::default()),
        Decoder::new(DecoderConfig::default()),
    );
    for i in 0..80 {
        random_edit(&mut screen, &mut rng);
        if let Some(p) = encode_screen(&mut encoder, &screen) {
            plain.apply(p.as_bytes()).unwrap();
            eager.apply(p.as_bytes()).unwrap();
        }
        if i % 3 == 0 {
            let cp = encoder.checkpoint().unwrap();
            let update = eager.apply(cp.as_bytes()).unwrap();
            assert!(!update.resized);
        }
        assert_eq!(fb(&plain), &screen.bgra()[..], "frame {i}");
        assert_eq!(fb(&eager), fb(&plain), "frame {i}");
    }
}

#[test]
fn checkpoint_after_a_resize() {
    let mut rng = Lcg(5);
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut continuous = Decoder::new(DecoderConfig::default());
    let mut small = Screen::new(150, 100, 0xff00_00ff);
    small.noise(Rect::new(0, 0, 150, 100), 3, 5);
    for _ in 0..5 {
        random_edit(&mut small, &mut rng);
        if let Some(p) = encode_screen(&mut encoder, &small) {
            continuous.apply(p.as_bytes()).unwrap();
        }
    }
    // A viewer that joined before the resize follows it through the stream.
    let mut early = Decoder::new(DecoderConfig::default());
    early
        .apply(encoder.checkpoint().unwrap().as_bytes())
        .unwrap();
    assert_eq!(fb(&early), &small.bgra()[..]);

    let mut big = Screen::new(210, 97, 0xff00_ff00);
    big.noise(Rect::new(20, 20, 150, 60), 9, 0);
    let p = encode_screen(&mut encoder, &big).expect("a resize always gives a packet");
    assert_eq!(p.kind(), PacketKind::Checkpoint);
    for d in [&mut continuous, &mut early] {
        let update = d.apply(p.as_bytes()).unwrap();
        assert!(update.resized);
        assert_eq!(update.damage, vec![Rect::new(0, 0, 210, 97)]);
        assert_eq!(fb(d), &big.bgra()[..]);
    }
    let mut late: Vec<Decoder> = Vec::new();
    for i in 0..30 {
        random_edit(&mut big, &mut rng);
        if let Some(p) = encode_screen(&mut encoder, &big) {
            for d in [&mut continuous, &mut early]
                .into_iter()
                .chain(late.iter_mut())
            {
                d.apply(p.as_bytes()).unwrap();
            }
        }
        let cp = encoder.checkpoint().unwrap();
        let mut d = Decoder::new(DecoderConfig::default());
        d.apply(cp.as_bytes()).unwrap();
        assert_eq!(d.session().map(|s| (s.width, s.height)), Some((210, 97)));
        late.push(d);
        for d in [&continuous, &early].into_iter().chain(late.iter()) {
            assert_eq!(fb(d), &big.bgra()[..], "frame {i} after the resize");
        }
    }
}

#[test]
fn missed_update_gives_out_of_sync_until_the_next_checkpoint() {
    let mut rng = Lcg(21);
    let mut screen = Screen::new(160, 120, 0xffee_eeee);
    let mut encoder = Encoder::new(EncoderConfig::default());
    let mut viewer = Decoder::new(DecoderConfig::default());
    let mut packets = Vec::new();
    while packets.len() < 12 {
        random_edit(&mut screen, &mut rng);
        screen.fill(
            Rect::new(packets.len() as u32, 0, 1, 1),
            0xff00_0000 | packets.len() as u32,
        ); // always a change
        packets.push(encode_screen(&mut encoder, &screen).unwrap());
    }
    for p in &packets[..5] {
        viewer.apply(p.as_bytes()).unwrap();
    }
    let seq = viewer.seq().unwrap();
    let before = snapshot(&viewer);
    // packets[5] is lost.
    for (i, p) in packets[6..].iter().enumerate() {
        match viewer.apply(p.as_bytes()) {
            Err(Error::OutOfSync { expected, got }) => {
                assert_eq!(expected, seq + 1);
                assert_eq!(got, seq + 2 + i as u64);
            }
            other => panic!("update after a loss: {other:?}"),
        }
        assert_eq!(
            snapshot(&viewer),
            before,
            "a rejected update changed the viewer"
        );
    }
    // Replaying an already applied update is out of sync too.
    assert!(matches!(
        viewer.apply(packets[4].as_bytes()),
        Err(Error::OutOfSync { .. })
    ));
    assert_eq!(snapshot(&viewer), before);
    // The next checkpoint recovers, and the updates after it apply.
    let update = viewer
        .apply(encoder.checkpoint().unwrap().as_bytes())
        .unwrap();
    assert!(!update.resized);
    assert_eq!(fb(&viewer), &screen.bgra()[..]);
    for i in 0..10 {
        random_edit(&mut screen, &mut rng);
        if let Some(p) = encode_screen(&mut encoder, &screen) {
            viewer.apply(p.as_bytes()).unwrap();
        }
        assert_eq!(fb(&viewer), &screen.bgra()[..], "step {i} after recovery");
    }
}
