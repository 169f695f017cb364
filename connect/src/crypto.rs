//! End-to-end encryption of a session, keyed by the code a person reads out.
//!
//! The code ([`JoinCode`]) has 10 digits, shown as `123 456 7890`: the first five (its lookup) tell the
//! relay which session a viewer wants; the last five (the secret) never leave the host and its
//! viewers. Each joining viewer runs SPAKE2 with the host through the relay (one password guess per
//! run, and the relay learns nothing it could test offline); both sides then prove they hold the
//! same key ([`PakeKeys::host_confirmation`], [`PakeKeys::viewer_confirmation`]). HKDF-SHA256
//! derives the viewer's keys from the SPAKE2 secret: one that wraps the session's content key for
//! it, one that seals its input to the host.
//!
//! The host seals every screen packet once with the session's [`ContentKey`]
//! (XChaCha20-Poly1305, a random 24-byte nonce per packet), so the relay's fan-out, checkpoints and
//! catch-up logs hold only ciphertext. The associated data binds each packet to its place: the key
//! epoch, a per-host counter (strictly increasing: replays and reordering are refused) and the
//! stream kind and `seq` the relay routes by.
//!
//! Everything here is RustCrypto (`spake2`, `chacha20poly1305`, `hkdf`, `hmac`, `sha2`) and
//! `getrandom` (its `js` backend in browsers), so the same code runs natively, in the C library and
//! in WebAssembly.
//!
//! ```
//! use glimpse_connect::crypto::{host_pake, viewer_pake};
//! use glimpse_connect::protocol::JoinCode;
//!
//! let code = JoinCode::parse("123 456 7890")?;
//! let (viewer, to_host) = viewer_pake(&code);
//! let (host, to_viewer) = host_pake(&code);
//! let host_keys = host.finish(&to_host)?;
//! let viewer_keys = viewer.finish(&to_viewer)?;
//! // Key confirmation both ways.
//! assert!(viewer_keys.check_host(&host_keys.host_confirmation()));
//! assert!(host_keys.check_viewer(&viewer_keys.viewer_confirmation()));
//! # Ok::<(), glimpse_connect::ConnectError>(())
//! ```

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

use crate::error::ConnectError;
use crate::protocol::JoinCode;

/// Bytes of a SPAKE2 message.
pub const PAKE_MESSAGE_LEN: usize = 33;
/// Bytes a sealed packet adds: the nonce and the tag.
pub const SEAL_OVERHEAD: usize = 24 + 16;

const PROTOCOL_LABEL: &[u8] = b"glimpse-connect v1";

fn password(code: &JoinCode) -> Password {
    let mut text = PROTOCOL_LABEL.to_vec();
    text.extend_from_slice(b" code ");
    text.extend_from_slice(code.digits().as_bytes());
    Password::new(text)
}

const VIEWER_ID: &[u8] = b"glimpse viewer";
const HOST_ID: &[u8] = b"glimpse host";

/// A viewer's half of a SPAKE2 run, waiting for the host's message.
pub struct ViewerPake {
    state: Spake2<Ed25519Group>,
    sent: Vec<u8>,
}

/// The host's half of a SPAKE2 run with one viewer, waiting for the viewer's message.
pub struct HostPake {
    state: Spake2<Ed25519Group>,
    sent: Vec<u8>,
}

impl fmt::Debug for HostPake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostPake")
    }
}

impl fmt::Debug for ViewerPake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ViewerPake")
    }
}

/// `Spake2::start_a` (the viewer's side) or `start_b` (the host's).
type StartSide = fn(&Password, &Identity, &Identity) -> (Spake2<Ed25519Group>, Vec<u8>);

/// Starts one side's SPAKE2 run: its state and its message.
fn start_pake(code: &JoinCode, start: StartSide) -> (Spake2<Ed25519Group>, Vec<u8>) {
    start(
        &password(code),
        &Identity::new(VIEWER_ID),
        &Identity::new(HOST_ID),
    )
}

/// Starts a viewer's run: its state and the message for the host.
pub fn viewer_pake(code: &JoinCode) -> (ViewerPake, Vec<u8>) {
    let (state, message) = start_pake(code, Spake2::<Ed25519Group>::start_a);
    let sent = message.clone();
    (ViewerPake { state, sent }, message)
}

/// Starts the host's run for one viewer: its state and the message for that viewer.
pub fn host_pake(code: &JoinCode) -> (HostPake, Vec<u8>) {
    let (state, message) = start_pake(code, Spake2::<Ed25519Group>::start_b);
    let sent = message.clone();
    (HostPake { state, sent }, message)
}

fn bad_pake(_: spake2::Error) -> ConnectError {
    ConnectError::Protocol("malformed key exchange message".into())
}

impl ViewerPake {
    /// The viewer's keys, from the host's message. They match the host's only when both used the
    /// same code: check [`PakeKeys::check_host`] before trusting anything.
    pub fn finish(self, from_host: &[u8]) -> Result<PakeKeys, ConnectError> {
        let shared = self.state.finish(from_host).map_err(bad_pake)?;
        Ok(PakeKeys::derive(&shared, &self.sent, from_host))
    }
}

impl HostPake {
    /// The host's keys for this viewer, from its message.
    pub fn finish(self, from_viewer: &[u8]) -> Result<PakeKeys, ConnectError> {
        let shared = self.state.finish(from_viewer).map_err(bad_pake)?;
        Ok(PakeKeys::derive(&shared, from_viewer, &self.sent))
    }
}

/// A 32-byte symmetric key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A fresh random key.
    pub fn random() -> Result<Key, ConnectError> {
        Ok(Key(random_bytes()?))
    }

    /// The key's bytes (to store it with the session).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }
}

/// What one SPAKE2 run gives one viewer and the host.
#[derive(Debug, Clone)]
pub struct PakeKeys {
    confirm_host: Key,
    confirm_viewer: Key,
    transcript: Vec<u8>,
    /// Wraps the content key for this viewer.
    pub wrap: Key,
    /// Seals this viewer's input for the host.
    pub input: Key,
}

type HmacSha256 = Hmac<Sha256>;

impl PakeKeys {
    fn derive(shared: &[u8], viewer_message: &[u8], host_message: &[u8]) -> PakeKeys {
        let hkdf = Hkdf::<Sha256>::new(Some(PROTOCOL_LABEL), shared);
        let key = |info: &[u8]| {
            let mut k = [0u8; 32];
            // 32 bytes is far below HKDF-SHA256's limit of 8160.
            hkdf.expand(info, &mut k).expect("32 bytes of HKDF output");
            Key(k)
        };
        let mut transcript = viewer_message.to_vec();
        transcript.extend_from_slice(host_message);
        PakeKeys {
            confirm_host: key(b"host confirmation"),
            confirm_viewer: key(b"viewer confirmation"),
            transcript,
            wrap: key(b"content key wrap"),
            input: key(b"viewer input"),
        }
    }

    fn mac(key: &Key, transcript: &[u8]) -> [u8; 32] {
        // HMAC takes keys of any length.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key.0).expect("any key length");
        mac.update(transcript);
        mac.finalize().into_bytes().into()
    }

    /// What the host sends to prove it holds the same key.
    pub fn host_confirmation(&self) -> [u8; 32] {
        Self::mac(&self.confirm_host, &self.transcript)
    }

    /// What the viewer sends to prove it holds the same key.
    pub fn viewer_confirmation(&self) -> [u8; 32] {
        Self::mac(&self.confirm_viewer, &self.transcript)
    }

    /// True when the host's confirmation matches (same code, no one in the middle).
    pub fn check_host(&self, confirmation: &[u8]) -> bool {
        verify(&self.confirm_host, &self.transcript, confirmation)
    }

    /// True when the viewer's confirmation matches.
    pub fn check_viewer(&self, confirmation: &[u8]) -> bool {
        verify(&self.confirm_viewer, &self.transcript, confirmation)
    }
}

fn verify(key: &Key, transcript: &[u8], confirmation: &[u8]) -> bool {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&key.0).expect("any key length");
    mac.update(transcript);
    mac.verify_slice(confirmation).is_ok()
}

/// The session's content key: every screen packet is sealed with it. `epoch` grows by one at each
/// rotation (a viewer removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentKey {
    /// Rotation number.
    pub epoch: u32,
    /// The key.
    pub key: Key,
}

impl ContentKey {
    /// A fresh random key for `epoch`.
    pub fn random(epoch: u32) -> Result<ContentKey, ConnectError> {
        Ok(ContentKey {
            epoch,
            key: Key::random()?,
        })
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ConnectError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b)
        .map_err(|e| ConnectError::Protocol(format!("no random source: {e}")))?;
    Ok(b)
}

/// Seals `plaintext` with `key`, binding `aad`: random nonce, then ciphertext and tag.
pub fn seal(key: &Key, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, ConnectError> {
    let nonce: [u8; 24] = random_bytes()?;
    let cipher = XChaCha20Poly1305::new((&key.0).into());
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| ConnectError::Protocol("sealing failed".into()))?;
    let mut out = Vec::with_capacity(24 + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`seal`] made with the same key and `aad`; any change to either is an error.
pub fn open(key: &Key, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, ConnectError> {
    if sealed.len() < SEAL_OVERHEAD {
        return Err(ConnectError::Protocol("sealed data too short".into()));
    }
    let (nonce, body) = sealed.split_at(24);
    XChaCha20Poly1305::new((&key.0).into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
        .map_err(|_| ConnectError::Protocol("sealed data does not authenticate".into()))
}

/// A random 64-bit number (for code secrets and the like).
pub fn random_u64() -> Result<u64, ConnectError> {
    Ok(u64::from_le_bytes(random_bytes()?))
}

/// The associated data of a content key sealed for `viewer` (`Admit`, `Rekey`).
pub fn key_aad(viewer: u64) -> [u8; 16] {
    let mut aad = [0u8; 16];
    aad[..8].copy_from_slice(b"glimpse\x02");
    aad[8..].copy_from_slice(&viewer.to_le_bytes());
    aad
}

/// The associated data of `viewer`'s sealed input.
pub fn input_aad(viewer: u64) -> [u8; 16] {
    let mut aad = [0u8; 16];
    aad[..8].copy_from_slice(b"glimpse\x03");
    aad[8..].copy_from_slice(&viewer.to_le_bytes());
    aad
}

/// The associated data of a viewer's sealed name.
pub const NAME_AAD: &[u8] = b"glimpse\x04 name";

/// The stream kind as one byte, for [`stream_aad`].
pub fn kind_tag(kind: glimpse::session::StreamKind) -> u8 {
    use glimpse::session::StreamKind;
    match kind {
        StreamKind::Checkpoint { restart: true } => 1,
        StreamKind::Checkpoint { restart: false } => 2,
        StreamKind::Update => 3,
        StreamKind::Cursor => 4,
    }
}

/// The associated data of a screen packet: key epoch, host counter, stream kind and `seq`.
pub fn stream_aad(epoch: u32, counter: u64, kind: u8, seq: u64) -> [u8; 29] {
    let mut aad = [0u8; 29];
    aad[..4].copy_from_slice(&epoch.to_le_bytes());
    aad[4..12].copy_from_slice(&counter.to_le_bytes());
    aad[12] = kind;
    aad[13..21].copy_from_slice(&seq.to_le_bytes());
    aad[21..].copy_from_slice(b"glimpse\x01");
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_code_gives_keys_that_do_not_confirm() {
        let right = JoinCode::parse("11111 22222").unwrap();
        let wrong = JoinCode::parse("11111 22223").unwrap();
        let (viewer, to_host) = viewer_pake(&wrong);
        let (host, to_viewer) = host_pake(&right);
        let hk = host.finish(&to_host).unwrap();
        let vk = viewer.finish(&to_viewer).unwrap();
        assert!(!vk.check_host(&hk.host_confirmation()));
        assert!(!hk.check_viewer(&vk.viewer_confirmation()));
        assert!(host_pake(&right).0.finish(b"short").is_err());
    }

    #[test]
    fn sealed_data_opens_only_unchanged() {
        let key = Key::random().unwrap();
        let aad = stream_aad(1, 2, 3, 4);
        let sealed = seal(&key, &aad, b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(open(&key, &aad, &sealed).unwrap(), b"hello");
        for i in 0..sealed.len() {
            let mut flipped = sealed.clone();
            flipped[i] ^= 1;
            assert!(open(&key, &aad, &flipped).is_err(), "bit flipped at {i}");
        }
        assert!(
            open(&key, &stream_aad(1, 3, 3, 4), &sealed).is_err(),
            "other counter"
        );
        assert!(
            open(&Key::random().unwrap(), &aad, &sealed).is_err(),
            "other key"
        );
        assert!(open(&key, &aad, &sealed[..20]).is_err());
    }
}
