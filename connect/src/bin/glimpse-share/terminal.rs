//! What `glimpse-share` prints about the session, and the commands typed at the host: `y N` grants
//! control to viewer N, `n N` refuses, `r` revokes, `k N` removes a viewer. A bare `y` or `n`
//! answers the only pending request; with several pending it asks which.

use std::collections::BTreeMap;
use std::io::Write;

use glimpse::session::{ControlEvent, ViewerId};
use glimpse_connect::{Host, HostEvent};

use crate::input::InputPump;

pub struct Terminal {
    /// Viewers asking for control, with their names.
    pending: Vec<ViewerId>,
    names: BTreeMap<ViewerId, String>,
    /// Stdin is still open (someone can answer requests).
    stdin_open: bool,
}

/// What the event loop does next.
pub enum Next {
    Continue,
    /// The session is over.
    Stop(Option<String>),
}

impl Terminal {
    pub fn new() -> Self {
        Terminal {
            pending: Vec::new(),
            names: BTreeMap::new(),
            stdin_open: true,
        }
    }

    fn who(&self, viewer: ViewerId) -> String {
        match self.names.get(&viewer).filter(|n| !n.is_empty()) {
            Some(name) => format!("viewer {viewer} ({name})"),
            None => format!("viewer {viewer}"),
        }
    }

    pub fn event(&mut self, event: HostEvent, host: &Host, pump: Option<&InputPump>) -> Next {
        match event {
            HostEvent::Ready { key, resumed } => {
                if resumed {
                    println!("share: reconnected to the relay; same key {key}");
                }
            }
            HostEvent::Disconnected => println!("share: lost the relay; reconnecting..."),
            HostEvent::ViewerJoined(entry) => {
                self.names.insert(entry.viewer, entry.name.clone());
                let watching = self.names.len();
                println!(
                    "share: {} joined from {} ({watching} watching)",
                    self.who(entry.viewer),
                    entry.address
                );
            }
            HostEvent::ViewerLeft { viewer } => {
                self.pending.retain(|v| *v != viewer);
                let who = self.who(viewer);
                self.names.remove(&viewer);
                println!("share: {who} left ({} watching)", self.names.len());
            }
            HostEvent::ControlRequested { viewer } if self.stdin_open => {
                self.pending.push(viewer);
                println!(
                    "share: {} asks for remote control: type y {viewer} to grant, n {viewer} to refuse",
                    self.who(viewer)
                );
            }
            HostEvent::ControlRequested { viewer } => {
                println!(
                    "share: {} asks for remote control (no terminal to answer: refused)",
                    self.who(viewer)
                );
                let _ = host.refuse(viewer);
            }
            HostEvent::Control(ControlEvent::Granted(v)) => {
                if let Some(pump) = pump {
                    pump.set_active(true);
                }
                println!(
                    "share: {} controls this screen (move the mouse or type to take it back; r revokes)",
                    self.who(v)
                );
            }
            HostEvent::Control(ControlEvent::Refused(v)) => {
                println!("share: remote control refused to {}", self.who(v));
            }
            HostEvent::Control(ControlEvent::Revoked(v)) => {
                if let Some(pump) = pump {
                    pump.set_active(false);
                }
                println!("share: remote control taken back from {}", self.who(v));
            }
            HostEvent::Control(_) | HostEvent::CheckpointNeeded => {}
            HostEvent::Input { event, .. } => {
                if let Some(pump) = pump {
                    pump.push(event);
                }
            }
            HostEvent::Ended(e) => return Next::Stop(Some(e.to_string())),
        }
        let _ = std::io::stdout().flush();
        Next::Continue
    }

    /// Stdin closed: nobody can answer requests any more.
    pub fn stdin_closed(&mut self, host: &Host) {
        self.stdin_open = false;
        for viewer in self.pending.drain(..) {
            let _ = host.refuse(viewer);
        }
    }

    pub fn line(&mut self, line: &str, host: &Host) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let viewer = |word: &str| word.parse::<ViewerId>().ok();
        match words.as_slice() {
            [answer @ ("y" | "yes" | "n" | "no"), rest @ ..] => {
                let target = match rest {
                    [id] => viewer(id).filter(|v| self.pending.contains(v)),
                    [] if self.pending.len() == 1 => self.pending.first().copied(),
                    [] if self.pending.is_empty() => {
                        println!("share: no request to answer");
                        return;
                    }
                    _ => None,
                };
                let Some(v) = target else {
                    println!(
                        "share: which viewer? pending: {}",
                        self.pending
                            .iter()
                            .map(|v| format!("{answer} {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    return;
                };
                self.pending.retain(|p| *p != v);
                let r = if answer.starts_with('y') {
                    host.grant(v)
                } else {
                    host.refuse(v)
                };
                if let Err(e) = r {
                    println!("share: {e}");
                }
            }
            ["r" | "revoke"] => {
                let _ = host.revoke();
            }
            ["k" | "kick", id] => match viewer(id) {
                Some(v) => {
                    let _ = host.remove(v);
                }
                None => println!("share: k takes a viewer number"),
            },
            [] => {}
            _ => println!(
                "share: commands: y N (grant control to viewer N), n N (refuse), r (revoke), k N (remove viewer N)"
            ),
        }
        let _ = std::io::stdout().flush();
    }
}
