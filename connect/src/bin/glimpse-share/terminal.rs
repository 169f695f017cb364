//! What `glimpse-share` prints about the session, and the commands typed at the host: `y N` grants
//! control to viewer N (or lets it in, with `--approve-viewers`), `n N` refuses, `r` revokes, `k N`
//! removes a viewer. A bare `y` or `n` answers the only pending question; with several pending it
//! asks which.

use std::collections::BTreeMap;
use std::io::Write;

use glimpse::session::{ControlEvent, ViewerId};
use glimpse_connect::{Host, HostEvent};

use crate::input::InputPump;

/// Prints the code, the join link, and the link as a QR code for phones.
pub fn print_code(host: &Host) {
    println!("share: code: {}", host.code());
    let link = host.join_link();
    let page = link.split("/#").next().unwrap_or_default();
    println!("share: viewers open {page}/ and type the code, or open {link}");
    if let Some(qr) = qr_text(&link) {
        println!("share: or scan this with a phone:\n{qr}");
    }
    let _ = std::io::stdout().flush();
}

/// `text` as a QR code in half-block characters (two modules per character, a quiet zone around),
/// drawn light on dark so that it scans from the usual dark terminal.
pub fn qr_text(text: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// What a pending question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Question {
    Control,
    Admission,
}

pub struct Terminal {
    /// Viewers waiting for an answer (remote control, or being let in).
    pending: Vec<(ViewerId, Question)>,
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
            HostEvent::Ready { code, resumed } => {
                if resumed {
                    println!("share: reconnected to the relay; same code {code}");
                }
            }
            HostEvent::WrongCode { address, attempts } => {
                println!("share: a wrong code was tried from {address} ({attempts} of 3)");
            }
            HostEvent::CodeReplaced { .. } => {
                println!("share: three wrong codes: this code is burned; viewers already in stay");
                print_code(host);
            }
            HostEvent::ApprovalNeeded(info) if self.stdin_open => {
                self.names.insert(info.viewer, info.name.clone());
                self.pending.push((info.viewer, Question::Admission));
                println!(
                    "share: {} from {} wants to watch: type y {} to let in, n {} to turn away",
                    self.who(info.viewer),
                    info.address,
                    info.viewer,
                    info.viewer
                );
            }
            HostEvent::ApprovalNeeded(info) => {
                println!(
                    "share: {} from {} wants to watch (no terminal to answer: turned away)",
                    match info.name.as_str() {
                        "" => "a viewer",
                        name => name,
                    },
                    info.address
                );
                let _ = host.deny(info.viewer);
            }
            HostEvent::Disconnected => println!("share: lost the relay; reconnecting..."),
            HostEvent::ViewerJoined(entry) => {
                self.names.insert(entry.viewer, entry.name.clone());
                self.pending.retain(|(v, _)| *v != entry.viewer);
                let watching = self.names.len();
                println!(
                    "share: {} joined from {} ({watching} watching)",
                    self.who(entry.viewer),
                    entry.address
                );
            }
            HostEvent::ViewerLeft { viewer } => {
                self.pending.retain(|(v, _)| *v != viewer);
                let who = self.who(viewer);
                self.names.remove(&viewer);
                println!("share: {who} left ({} watching)", self.names.len());
            }
            HostEvent::ControlRequested { viewer } if self.stdin_open => {
                self.pending.push((viewer, Question::Control));
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
        for (viewer, question) in self.pending.drain(..) {
            let _ = match question {
                Question::Control => host.refuse(viewer),
                Question::Admission => host.deny(viewer),
            };
        }
    }

    pub fn line(&mut self, line: &str, host: &Host) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let viewer = |word: &str| word.parse::<ViewerId>().ok();
        match words.as_slice() {
            [answer @ ("y" | "yes" | "n" | "no"), rest @ ..] => {
                let target = match rest {
                    [id] => viewer(id).and_then(|v| self.pending.iter().copied().find(|(p, _)| *p == v)),
                    [] if self.pending.len() == 1 => self.pending.first().copied(),
                    [] if self.pending.is_empty() => {
                        println!("share: no request to answer");
                        return;
                    }
                    _ => None,
                };
                let Some((v, question)) = target else {
                    println!(
                        "share: which viewer? pending: {}",
                        self.pending
                            .iter()
                            .map(|(v, _)| format!("{answer} {v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    return;
                };
                self.pending.retain(|(p, _)| *p != v);
                let r = match (question, answer.starts_with('y')) {
                    (Question::Control, true) => host.grant(v),
                    (Question::Control, false) => host.refuse(v),
                    (Question::Admission, true) => host.approve(v),
                    (Question::Admission, false) => host.deny(v),
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
                    println!("share: viewer {v} removed; the stream's key was changed");
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
