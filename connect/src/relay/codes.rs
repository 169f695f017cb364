//! The relay's table of session lookups (the part of each code the relay sees): expiry, one-use
//! resume tokens for reconnecting viewers, and the first line against guessing: failures counted
//! per client network (a /24 for IPv4, a /64 for IPv6) and relay-wide. No clock, no randomness:
//! the caller passes `now_ms` and random bytes.
//!
//! The real protection is the code's secret part (the host burns a code after three failed key
//! exchanges); these limits keep guessing slow and cheap for the relay.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use glimpse::session::ViewerId;

use crate::error::ConnectError;
use crate::protocol::Lookup;

/// How long lookups and tokens live and how many failures are tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodePolicy {
    /// A lookup nobody used (joined or [touched](CodeRegistry::touch)) for this long expires
    /// (10 min).
    pub unused_ttl_ms: u64,
    /// A resume token is valid this long after it was issued (2 min).
    pub resume_ttl_ms: u64,
    /// Unknown lookups a client network may try within `failure_window_ms` (5); 0 turns the
    /// per-client limit off.
    pub max_failures: u32,
    /// Unknown lookups the whole relay tolerates within `failure_window_ms` (1000); past it every
    /// new join is refused until the window passes (resume tokens still work).
    pub max_relay_failures: u32,
    /// The sliding window failures are counted in (60 s).
    pub failure_window_ms: u64,
    /// Client networks whose failures are remembered at most (10 000). A full table never forgets
    /// a client that is limited; new clients then count only toward the relay-wide budget.
    pub max_tracked_clients: usize,
}

impl Default for CodePolicy {
    fn default() -> Self {
        CodePolicy {
            unused_ttl_ms: 10 * 60 * 1000,
            resume_ttl_ms: 2 * 60 * 1000,
            max_failures: 5,
            max_relay_failures: 1000,
            failure_window_ms: 60 * 1000,
            max_tracked_clients: 10_000,
        }
    }
}

/// Why [`CodeRegistry::lookup`] refused. Converts into the matching [`ConnectError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRejection {
    /// No session has this lookup.
    Unknown,
    /// The lookup's session was unused for too long.
    Expired,
    /// Too many failures from this client network, or at this relay: retry after
    /// `retry_after_ms`.
    RateLimited {
        /// Milliseconds until a retry may work.
        retry_after_ms: u64,
    },
}

impl From<CodeRejection> for ConnectError {
    fn from(r: CodeRejection) -> Self {
        match r {
            CodeRejection::Unknown => ConnectError::UnknownSession,
            CodeRejection::Expired => ConnectError::CodeExpired,
            CodeRejection::RateLimited { retry_after_ms } => {
                ConnectError::RateLimited { retry_after_ms }
            }
        }
    }
}

/// The network a client is counted in: its /24 (IPv4) or /64 (IPv6), so that one machine with many
/// addresses counts once and a whole office behind one address is not split.
pub fn client_network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => client_network(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Why [`CodeRegistry::resume`] refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeRefusal {
    /// Never issued, used already, or expired (or the relay restarted): join with the code.
    Unknown,
    /// The host removed the viewer that holds it.
    Removed,
}

struct LookupEntry<S> {
    session: S,
    last_used_ms: u64,
}

struct ResumeEntry<S> {
    session: S,
    viewer: ViewerId,
    issued_ms: u64,
}

/// The relay's table of live lookups, resume tokens and failed attempts; `S` is whatever the relay
/// uses to find a session. Memory is bounded by [`expire`](Self::expire) (call it every few
/// seconds) and by [`CodePolicy::max_tracked_clients`].
pub struct CodeRegistry<S: Clone> {
    policy: CodePolicy,
    lookups: HashMap<Lookup, LookupEntry<S>>,
    resumes: HashMap<[u8; 16], ResumeEntry<S>>,
    /// Tokens of viewers the host removed, and when: a resume with one is told so.
    removed: HashMap<[u8; 16], u64>,
    /// Per client network: times of its latest failures, oldest first (at most `max_failures`).
    failures: HashMap<String, VecDeque<u64>>,
    /// Times of the relay's latest failures, oldest first (at most `max_relay_failures`).
    relay_failures: VecDeque<u64>,
}

impl<S: Clone> CodeRegistry<S> {
    /// An empty registry.
    pub fn new(policy: CodePolicy) -> Self {
        CodeRegistry {
            policy,
            lookups: HashMap::new(),
            resumes: HashMap::new(),
            removed: HashMap::new(),
            failures: HashMap::new(),
            relay_failures: VecDeque::new(),
        }
    }

    /// Registers `lookup` for `session`. False if a live session has it: draw another.
    pub fn insert(&mut self, lookup: Lookup, session: S, now_ms: u64) -> bool {
        if let Some(entry) = self.lookups.get(&lookup) {
            if now_ms.saturating_sub(entry.last_used_ms) < self.policy.unused_ttl_ms {
                return false;
            }
        }
        self.lookups.insert(
            lookup,
            LookupEntry {
                session,
                last_used_ms: now_ms,
            },
        );
        true
    }

    /// Finds the session of `lookup` for a viewer from `client` (its [`client_network`]).
    ///
    /// While the relay-wide failure budget is spent every join is refused. A client network over
    /// its own limit is refused only for lookups that do not exist: a right lookup still reaches
    /// its host, whose key exchange is the real check (a limit on the address must not lock out
    /// an office because one person mistyped). Unknown and expired lookups count as failures.
    pub fn lookup(
        &mut self,
        lookup: Lookup,
        client: &str,
        now_ms: u64,
    ) -> Result<S, CodeRejection> {
        if let Some(retry_after_ms) = self.relay_retry_after(now_ms) {
            return Err(CodeRejection::RateLimited { retry_after_ms });
        }
        let rejection = match self.lookups.get_mut(&lookup) {
            Some(entry)
                if now_ms.saturating_sub(entry.last_used_ms) < self.policy.unused_ttl_ms =>
            {
                entry.last_used_ms = entry.last_used_ms.max(now_ms);
                return Ok(entry.session.clone());
            }
            Some(_) => CodeRejection::Expired,
            None => CodeRejection::Unknown,
        };
        let limited = self.client_retry_after(client, now_ms);
        self.record_failure(client, now_ms);
        Err(match limited {
            Some(retry_after_ms) => CodeRejection::RateLimited { retry_after_ms },
            None => rejection,
        })
    }

    /// The session of `lookup`, without counting anything (a host taking its session back).
    pub fn get(&self, lookup: Lookup) -> Option<S> {
        self.lookups.get(&lookup).map(|e| e.session.clone())
    }

    /// A viewer is connected to the session of `lookup`: keeps the lookup from expiring.
    pub fn touch(&mut self, lookup: Lookup, now_ms: u64) {
        if let Some(entry) = self.lookups.get_mut(&lookup) {
            entry.last_used_ms = entry.last_used_ms.max(now_ms);
        }
    }

    /// Forgets `lookup` (the session ended, or its code was burned).
    pub fn remove(&mut self, lookup: Lookup) {
        self.lookups.remove(&lookup);
    }

    /// Remembers that `token` (16 random bytes, sent to the viewer in
    /// [`Welcome`](crate::protocol::Message::Welcome)) lets `viewer` of `session` reconnect once
    /// within `resume_ttl_ms`.
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
    pub fn resume(
        &mut self,
        token: &[u8; 16],
        now_ms: u64,
    ) -> Result<(S, ViewerId), ResumeRefusal> {
        let ttl = self.policy.resume_ttl_ms;
        if let Some(&at) = self.removed.get(token) {
            if now_ms.saturating_sub(at) < ttl {
                return Err(ResumeRefusal::Removed);
            }
        }
        let entry = self.resumes.remove(token).ok_or(ResumeRefusal::Unknown)?;
        if now_ms.saturating_sub(entry.issued_ms) >= ttl {
            return Err(ResumeRefusal::Unknown);
        }
        Ok((entry.session, entry.viewer))
    }

    /// Remembers for `resume_ttl_ms` that the viewer holding `token` was removed by the host, so
    /// that a viewer which never got its close frame (a reset connection) and comes back with
    /// its token is told it was removed instead of being sent to join again with the code.
    pub fn refuse_resume(&mut self, token: [u8; 16], now_ms: u64) {
        self.resumes.remove(&token);
        self.removed.insert(token, now_ms);
    }

    /// Forgets every resume token of sessions for which `is_gone` is true.
    pub fn forget_resumes(&mut self, mut is_gone: impl FnMut(&S) -> bool) {
        self.resumes.retain(|_, e| !is_gone(&e.session));
    }

    /// Drops expired lookups and tokens and failure records older than the window.
    pub fn expire(&mut self, now_ms: u64) {
        let policy = self.policy;
        self.lookups
            .retain(|_, e| now_ms.saturating_sub(e.last_used_ms) < policy.unused_ttl_ms);
        self.resumes
            .retain(|_, e| now_ms.saturating_sub(e.issued_ms) < policy.resume_ttl_ms);
        self.removed
            .retain(|_, &mut at| now_ms.saturating_sub(at) < policy.resume_ttl_ms);
        self.failures.retain(|_, times| {
            times
                .back()
                .is_some_and(|&t| now_ms.saturating_sub(t) < policy.failure_window_ms)
        });
        while self
            .relay_failures
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= policy.failure_window_ms)
        {
            self.relay_failures.pop_front();
        }
    }

    /// `Some(ms to wait)` while the relay-wide failure budget is spent: every new join is refused
    /// (checked before asking a cluster's directory about a lookup this relay does not hold).
    pub fn relay_limited(&self, now_ms: u64) -> Option<u64> {
        self.relay_retry_after(now_ms)
    }

    /// Live lookups (including expired ones [`expire`](Self::expire) has not dropped yet).
    pub fn lookup_count(&self) -> usize {
        self.lookups.len()
    }

    /// Client networks whose failures are remembered.
    pub fn tracked_clients(&self) -> usize {
        self.failures.len()
    }

    /// `Some(ms to wait)` when the last `limit` of `times` all lie inside the window.
    fn over(&self, times: &VecDeque<u64>, limit: u32, now_ms: u64) -> Option<u64> {
        let limit = limit as usize;
        if limit == 0 || times.len() < limit {
            return None;
        }
        let until = times[times.len() - limit].saturating_add(self.policy.failure_window_ms);
        (now_ms < until).then(|| until - now_ms)
    }

    fn client_retry_after(&self, client: &str, now_ms: u64) -> Option<u64> {
        self.over(self.failures.get(client)?, self.policy.max_failures, now_ms)
    }

    fn relay_retry_after(&self, now_ms: u64) -> Option<u64> {
        self.over(&self.relay_failures, self.policy.max_relay_failures, now_ms)
    }

    fn record_failure(&mut self, client: &str, now_ms: u64) {
        let relay_max = self.policy.max_relay_failures as usize;
        if relay_max > 0 {
            self.relay_failures.push_back(now_ms);
            while self.relay_failures.len() > relay_max {
                self.relay_failures.pop_front();
            }
        }
        let max = self.policy.max_failures as usize;
        if max == 0 {
            return;
        }
        if !self.failures.contains_key(client)
            && self.failures.len() >= self.policy.max_tracked_clients.max(1)
        {
            // Make room only from clients whose failures are all outside the window: a limited
            // client is never forgotten early. When there is none, this client is not tracked
            // (the relay-wide budget still counts it).
            let window = self.policy.failure_window_ms;
            let stale = self
                .failures
                .iter()
                .find(|(_, t)| {
                    t.back()
                        .is_none_or(|&last| now_ms.saturating_sub(last) >= window)
                })
                .map(|(c, _)| c.clone());
            match stale {
                Some(c) => {
                    self.failures.remove(&c);
                }
                None => return,
            }
        }
        let times = self.failures.entry(client.to_owned()).or_default();
        times.push_back(now_ms);
        while times.len() > max {
            times.pop_front();
        }
    }
}
