//! The relay's table of session keys: expiry, per-client rate limiting of wrong guesses, and one-use
//! resume tokens for reconnecting viewers. No clock, no randomness: the caller passes `now_ms` and
//! random bytes.

use std::collections::{HashMap, VecDeque};

use glimpse::session::ViewerId;

use crate::error::ConnectError;
use crate::protocol::SessionKey;

/// How long keys and tokens live and how many wrong keys a client may try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyPolicy {
    /// A key nobody used (looked up or [touched](KeyRegistry::touch)) for this long expires (10 min).
    pub unused_ttl_ms: u64,
    /// A resume token is valid this long after it was issued (2 min).
    pub resume_ttl_ms: u64,
    /// Wrong keys a client may try within `failure_window_ms` (5); 0 turns rate limiting off.
    pub max_failures: u32,
    /// The sliding window failures are counted in (60 s).
    pub failure_window_ms: u64,
    /// Clients whose failures are remembered at most (10 000); the one with the oldest failure is
    /// forgotten first.
    pub max_tracked_clients: usize,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy {
            unused_ttl_ms: 10 * 60 * 1000,
            resume_ttl_ms: 2 * 60 * 1000,
            max_failures: 5,
            failure_window_ms: 60 * 1000,
            max_tracked_clients: 10_000,
        }
    }
}

/// Why [`KeyRegistry::lookup`] refused a key. Converts into the matching [`ConnectError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRejection {
    /// No session has this key (or the text is not a key).
    Unknown,
    /// The key's session was unused for too long.
    Expired,
    /// This client tried too many wrong keys; it may try again after `retry_after_ms`.
    RateLimited {
        /// Milliseconds until the client may try again.
        retry_after_ms: u64,
    },
}

impl From<KeyRejection> for ConnectError {
    fn from(r: KeyRejection) -> Self {
        match r {
            KeyRejection::Unknown => ConnectError::UnknownSession,
            KeyRejection::Expired => ConnectError::KeyExpired,
            KeyRejection::RateLimited { retry_after_ms } => {
                ConnectError::RateLimited { retry_after_ms }
            }
        }
    }
}

struct KeyEntry<S> {
    session: S,
    last_used_ms: u64,
}

struct ResumeEntry<S> {
    session: S,
    viewer: ViewerId,
    issued_ms: u64,
}

/// The relay's table of live session keys, resume tokens and failed attempts; `S` is whatever the
/// relay uses to find a session (an id, an `Arc`, a channel). Memory is bounded by [`expire`]
/// (call it every few seconds) and by [`KeyPolicy::max_tracked_clients`].
///
/// [`expire`]: KeyRegistry::expire
pub struct KeyRegistry<S: Clone> {
    policy: KeyPolicy,
    keys: HashMap<SessionKey, KeyEntry<S>>,
    resumes: HashMap<[u8; 16], ResumeEntry<S>>,
    /// Per client: times of its latest failures, oldest first (at most `max_failures`).
    failures: HashMap<String, VecDeque<u64>>,
}

impl<S: Clone> KeyRegistry<S> {
    /// An empty registry.
    pub fn new(policy: KeyPolicy) -> Self {
        KeyRegistry {
            policy,
            keys: HashMap::new(),
            resumes: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    /// Registers `key` for `session`. False if the key is taken by a live session: draw another.
    pub fn insert(&mut self, key: SessionKey, session: S, now_ms: u64) -> bool {
        if let Some(entry) = self.keys.get(&key) {
            if !self.key_expired(entry, now_ms) {
                return false;
            }
        }
        self.keys.insert(
            key,
            KeyEntry {
                session,
                last_used_ms: now_ms,
            },
        );
        true
    }

    /// Finds the session of `key`. Unknown and expired keys count as failures of `client` (e.g.
    /// its IP address); a client with `max_failures` failures inside the window is refused, even
    /// with a right key, until the window passed. A found key is kept alive.
    pub fn lookup(
        &mut self,
        key: SessionKey,
        client: &str,
        now_ms: u64,
    ) -> Result<S, KeyRejection> {
        if let Some(retry_after_ms) = self.retry_after(client, now_ms) {
            return Err(KeyRejection::RateLimited { retry_after_ms });
        }
        let rejection = match self.keys.get_mut(&key) {
            None => KeyRejection::Unknown,
            Some(entry)
                if now_ms.saturating_sub(entry.last_used_ms) >= self.policy.unused_ttl_ms =>
            {
                KeyRejection::Expired
            }
            Some(entry) => {
                entry.last_used_ms = entry.last_used_ms.max(now_ms);
                return Ok(entry.session.clone());
            }
        };
        self.record_failure(client, now_ms);
        Err(rejection)
    }

    /// A viewer is connected to the session of `key`: keeps the key from expiring.
    pub fn touch(&mut self, key: SessionKey, now_ms: u64) {
        if let Some(entry) = self.keys.get_mut(&key) {
            entry.last_used_ms = entry.last_used_ms.max(now_ms);
        }
    }

    /// Forgets `key` (the session ended).
    pub fn remove(&mut self, key: SessionKey) {
        self.keys.remove(&key);
    }

    /// The session registered under `key`, without counting a failure or keeping it alive (a host
    /// taking its session back).
    pub fn get(&self, key: SessionKey) -> Option<S> {
        self.keys.get(&key).map(|e| e.session.clone())
    }

    /// Forgets every resume token of sessions for which `is_gone` is true.
    pub fn forget_resumes(&mut self, mut is_gone: impl FnMut(&S) -> bool) {
        self.resumes.retain(|_, e| !is_gone(&e.session));
    }

    /// Remembers that `token` (16 random bytes, sent to the viewer in
    /// [`Welcome`](crate::protocol::Message::Welcome)) lets `viewer` of `session` reconnect once within
    /// `resume_ttl_ms`.
    pub fn issue_resume(&mut self, session: S, viewer: ViewerId, token: [u8; 16], now_ms: u64) {
        self.resumes.insert(
            token,
            ResumeEntry {
                session,
                viewer,
                issued_ms: now_ms,
            },
        );
    }

    /// The session and viewer id a token was issued for. One use: the token is gone afterwards.
    pub fn resume(&mut self, token: &[u8; 16], now_ms: u64) -> Option<(S, ViewerId)> {
        let entry = self.resumes.remove(token)?;
        if now_ms.saturating_sub(entry.issued_ms) >= self.policy.resume_ttl_ms {
            return None;
        }
        Some((entry.session, entry.viewer))
    }

    /// Drops expired keys and tokens and failure records older than the window.
    pub fn expire(&mut self, now_ms: u64) {
        let policy = self.policy;
        self.keys
            .retain(|_, e| now_ms.saturating_sub(e.last_used_ms) < policy.unused_ttl_ms);
        self.resumes
            .retain(|_, e| now_ms.saturating_sub(e.issued_ms) < policy.resume_ttl_ms);
        self.failures.retain(|_, times| {
            times
                .back()
                .is_some_and(|&t| now_ms.saturating_sub(t) < policy.failure_window_ms)
        });
    }

    /// Live keys (including expired ones [`expire`](Self::expire) has not dropped yet).
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Clients whose failures are remembered.
    pub fn tracked_clients(&self) -> usize {
        self.failures.len()
    }

    fn key_expired(&self, entry: &KeyEntry<S>, now_ms: u64) -> bool {
        now_ms.saturating_sub(entry.last_used_ms) >= self.policy.unused_ttl_ms
    }

    /// `Some(ms to wait)` if `client` is rate limited now.
    fn retry_after(&self, client: &str, now_ms: u64) -> Option<u64> {
        let max = self.policy.max_failures as usize;
        let times = self.failures.get(client)?;
        if max == 0 || times.len() < max {
            return None;
        }
        // The oldest of the last `max` failures: limited until it leaves the window.
        let oldest = times[times.len() - max];
        let until = oldest.saturating_add(self.policy.failure_window_ms);
        (now_ms < until).then(|| until - now_ms)
    }

    fn record_failure(&mut self, client: &str, now_ms: u64) {
        let max = self.policy.max_failures as usize;
        if max == 0 {
            return;
        }
        if !self.failures.contains_key(client)
            && self.failures.len() >= self.policy.max_tracked_clients.max(1)
        {
            let oldest = self
                .failures
                .iter()
                .min_by_key(|(_, times)| times.back().copied().unwrap_or(0))
                .map(|(c, _)| c.clone());
            if let Some(c) = oldest {
                self.failures.remove(&c);
            }
        }
        let times = self.failures.entry(client.to_owned()).or_default();
        times.push_back(now_ms);
        while times.len() > max {
            times.pop_front();
        }
    }
}
