//! Letting viewers in: the host's side of each key exchange, key confirmation, the count of wrong
//! codes, approval, the content key sealed for each viewer, rotation, and each viewer's sealed
//! input.

use std::collections::BTreeMap;

use glimpse::session::{InputEvent, ViewerId};

use super::{HostEvent, HostSession, ViewerInfo, MAX_INPUT_PER_SECOND, MAX_WRONG_CODES};
use crate::crypto::{self, ContentKey, Key, PakeKeys, PAKE_MESSAGE_LEN};
use crate::error::ConnectError;
use crate::protocol::{
    clean_name, decode_inner, encode_inner, InputPayload, KeyPayload, Message, ViewerEntry,
};

/// Key exchanges started and not confirmed, at most: more joiners at once are refused. A relay
/// node lets a burst of 50 joiners through at once (its join queue), so this leaves room for a
/// burst from each of five nodes; an entry is a few hundred bytes.
const MAX_PENDING: usize = 256;
/// A key exchange not confirmed within this long counts as a wrong code.
const CONFIRM_TIMEOUT_MS: u64 = 10_000;
/// How long the keys of a viewer that left are kept for its resume token.
const RESUME_KEEP_MS: u64 = 120_000;

/// A viewer's keys once its exchange confirmed.
#[derive(Debug, Clone)]
struct ViewerKeys {
    wrap: Key,
    input: Key,
}

#[derive(Debug)]
struct Pending {
    keys: PakeKeys,
    address: String,
    since_ms: u64,
}

#[derive(Debug)]
struct Admitted {
    info: ViewerInfo,
    keys: ViewerKeys,
    /// The last input counter accepted (replays and reordering are refused).
    input_counter: u64,
    /// Input rate: tokens left and when they were counted.
    tokens: f64,
    tokens_at_ms: u64,
}

/// A viewer that left, kept a while for its resume token.
#[derive(Debug)]
pub(super) struct Departed {
    info: ViewerInfo,
    keys: ViewerKeys,
    left_ms: u64,
}

/// What a viewer that left was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Left {
    /// In: it saw the screen.
    Admitted,
    /// In the middle of its key exchange (from this address).
    Abandoned(String),
    /// Not known (or only waiting for approval).
    Nothing,
}

/// Every viewer the host knows, by stage.
#[derive(Debug, Default)]
pub(super) struct Admissions {
    pending: BTreeMap<ViewerId, Pending>,
    awaiting: BTreeMap<ViewerId, (ViewerInfo, ViewerKeys)>,
    admitted: BTreeMap<ViewerId, Admitted>,
    departed: BTreeMap<ViewerId, Departed>,
}

impl Admissions {
    pub fn is_admitted(&self, viewer: ViewerId) -> bool {
        self.admitted.contains_key(&viewer)
    }

    pub fn admitted_ids(&self) -> Vec<ViewerId> {
        self.admitted.keys().copied().collect()
    }

    pub fn admitted_info(&self) -> impl Iterator<Item = &ViewerInfo> {
        self.admitted.values().map(|a| &a.info)
    }

    /// Exchanges not confirmed in time: `(viewer, address)` of each, forgotten.
    pub fn expire(&mut self, now_ms: u64) -> Vec<(ViewerId, String)> {
        self.departed
            .retain(|_, d| now_ms.saturating_sub(d.left_ms) < RESUME_KEEP_MS);
        let late: Vec<ViewerId> = self
            .pending
            .iter()
            .filter(|(_, p)| now_ms.saturating_sub(p.since_ms) >= CONFIRM_TIMEOUT_MS)
            .map(|(v, _)| *v)
            .collect();
        late.into_iter()
            .filter_map(|v| self.pending.remove(&v).map(|p| (v, p.address)))
            .collect()
    }

    /// The viewer left: what it was. An exchange left unconfirmed counts as a wrong code (a guesser
    /// who learned its guess was wrong must not get free tries); an admitted viewer's keys are
    /// kept for its resume token.
    pub fn left(&mut self, viewer: ViewerId, now_ms: u64) -> Left {
        if let Some(p) = self.pending.remove(&viewer) {
            return Left::Abandoned(p.address);
        }
        self.awaiting.remove(&viewer);
        match self.admitted.remove(&viewer) {
            Some(a) => {
                self.departed.insert(
                    viewer,
                    Departed {
                        info: a.info,
                        keys: a.keys,
                        left_ms: now_ms,
                    },
                );
                Left::Admitted
            }
            None => Left::Nothing,
        }
    }

    /// The viewer is removed for good; true when it was in.
    pub fn forget(&mut self, viewer: ViewerId) -> bool {
        self.pending.remove(&viewer);
        self.awaiting.remove(&viewer);
        self.departed.remove(&viewer);
        self.admitted.remove(&viewer).is_some()
    }

    /// Opens a viewer's sealed input: its event when it authenticates, follows the previous one,
    /// and stays within the viewer's rate.
    pub fn open_input(
        &mut self,
        viewer: ViewerId,
        sealed: &[u8],
        now_ms: u64,
    ) -> Option<InputEvent> {
        let a = self.admitted.get_mut(&viewer)?;
        let plain = crypto::open(&a.keys.input, &crypto::input_aad(viewer), sealed).ok()?;
        let payload: InputPayload = decode_inner(&plain).ok()?;
        if payload.counter <= a.input_counter {
            return None; // a replay, or out of order
        }
        a.input_counter = payload.counter;
        let rate = f64::from(MAX_INPUT_PER_SECOND);
        let elapsed = now_ms.saturating_sub(a.tokens_at_ms) as f64 / 1000.0;
        a.tokens = (a.tokens + elapsed * rate).min(2.0 * rate);
        a.tokens_at_ms = now_ms;
        if a.tokens < 1.0 {
            return None;
        }
        a.tokens -= 1.0;
        Some(payload.event)
    }
}

impl HostSession {
    pub(super) fn on_join(
        &mut self,
        entry: ViewerEntry,
        pake: Option<Vec<u8>>,
        now_ms: u64,
    ) -> Result<(), ConnectError> {
        let viewer = entry.viewer;
        let Some(message) = pake else {
            // Back with its resume token: its keys still hold, if the host still has them.
            return match self.admissions.departed.remove(&viewer) {
                Some(d) => {
                    let info = ViewerInfo {
                        address: entry.address,
                        ..d.info
                    };
                    self.admit(info, d.keys, now_ms)
                }
                None => {
                    self.send(Message::Reject {
                        viewer,
                        wrong_code: false,
                    });
                    Ok(())
                }
            };
        };
        let Some(code) = self.code else {
            self.send(Message::Reject {
                viewer,
                wrong_code: false,
            });
            return Ok(());
        };
        if self.admissions.pending.len() >= MAX_PENDING {
            self.send(Message::Reject {
                viewer,
                wrong_code: false,
            });
            return Ok(());
        }
        let (pake, reply) = crypto::host_pake(&code);
        let keys = match (message.len() == PAKE_MESSAGE_LEN)
            .then(|| pake.finish(&message).ok())
            .flatten()
        {
            Some(keys) => keys,
            None => {
                self.wrong_code(viewer, entry.address);
                return Ok(());
            }
        };
        self.send(Message::PakeReply {
            viewer,
            pake: reply,
            confirmation: keys.host_confirmation(),
        });
        self.admissions.pending.insert(
            viewer,
            Pending {
                keys,
                address: entry.address,
                since_ms: now_ms,
            },
        );
        Ok(())
    }

    pub(super) fn on_confirm(
        &mut self,
        viewer: ViewerId,
        confirmation: &[u8; 32],
        sealed_name: &[u8],
    ) -> Result<(), ConnectError> {
        let Some(pending) = self.admissions.pending.remove(&viewer) else {
            return Ok(()); // timed out already, or never asked
        };
        if !pending.keys.check_viewer(confirmation) {
            self.wrong_code(viewer, pending.address);
            return Ok(());
        }
        let name = crypto::open(&pending.keys.wrap, crypto::NAME_AAD, sealed_name)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(|n| clean_name(&n))
            .unwrap_or_default();
        let info = ViewerInfo {
            viewer,
            address: pending.address,
            name,
        };
        let keys = ViewerKeys {
            wrap: pending.keys.wrap,
            input: pending.keys.input,
        };
        if self.options.approve_viewers {
            self.events
                .push_back(HostEvent::ApprovalNeeded(info.clone()));
            self.admissions.awaiting.insert(viewer, (info, keys));
            Ok(())
        } else {
            self.admit(info, keys, 0)
        }
    }

    /// Lets a viewer that waits for approval in.
    pub fn approve(&mut self, viewer: ViewerId) -> Result<(), ConnectError> {
        let (info, keys) = self.admissions.awaiting.remove(&viewer).ok_or_else(|| {
            ConnectError::InvalidRequest(format!("viewer {viewer} is not waiting for approval"))
        })?;
        self.admit(info, keys, 0)
    }

    /// Turns away a viewer that waits for approval.
    pub fn deny(&mut self, viewer: ViewerId) {
        if self.admissions.awaiting.remove(&viewer).is_some() {
            self.send(Message::Reject {
                viewer,
                wrong_code: false,
            });
        }
    }

    fn admit(
        &mut self,
        info: ViewerInfo,
        keys: ViewerKeys,
        now_ms: u64,
    ) -> Result<(), ConnectError> {
        let viewer = info.viewer;
        let sealed_key = self.sealed_content_key(viewer, &keys.wrap)?;
        self.send(Message::Admit { viewer, sealed_key });
        self.admissions.admitted.insert(
            viewer,
            Admitted {
                info: info.clone(),
                keys,
                input_counter: 0,
                tokens: 2.0 * f64::from(MAX_INPUT_PER_SECOND),
                tokens_at_ms: now_ms,
            },
        );
        self.events.push_back(HostEvent::ViewerJoined(info));
        Ok(())
    }

    fn sealed_content_key(&self, viewer: ViewerId, wrap: &Key) -> Result<Vec<u8>, ConnectError> {
        let payload = KeyPayload {
            epoch: self.content.epoch,
            key: *self.content.key.bytes(),
            host_name: self.options.name.clone(),
        };
        crypto::seal(wrap, &crypto::key_aad(viewer), &encode_inner(&payload))
    }

    /// A failed key confirmation (or a malformed or abandoned exchange): the viewer is turned
    /// away, the program told, and after [`MAX_WRONG_CODES`] the code is burned.
    pub(super) fn wrong_code(&mut self, viewer: ViewerId, address: String) {
        self.send(Message::Reject {
            viewer,
            wrong_code: true,
        });
        self.count_wrong_code(address);
    }

    /// Counts a wrong code; burns the code after [`MAX_WRONG_CODES`].
    pub(super) fn count_wrong_code(&mut self, address: String) {
        self.wrong_codes += 1;
        self.events.push_back(HostEvent::WrongCode {
            address,
            attempts: self.wrong_codes,
        });
        if self.wrong_codes >= MAX_WRONG_CODES && !self.burning {
            self.burning = true;
            self.send(Message::NewCode);
        }
    }

    /// A new content key for everybody still in; the stream restarts with it.
    pub(super) fn rotate(&mut self) -> Result<(), ConnectError> {
        self.content = ContentKey::random(self.content.epoch.wrapping_add(1))?;
        let viewers: Vec<(ViewerId, Key)> = self
            .admissions
            .admitted
            .iter()
            .map(|(v, a)| (*v, a.keys.wrap.clone()))
            .collect();
        for (viewer, wrap) in viewers {
            let sealed_key = self.sealed_content_key(viewer, &wrap)?;
            self.send(Message::Rekey { viewer, sealed_key });
        }
        // Keys of departed viewers are dropped: they rejoin with the code.
        self.admissions.departed.clear();
        self.synced = false; // the next checkpoint restarts the stream under the new key
        self.events.push_back(HostEvent::CheckpointNeeded);
        Ok(())
    }
}
