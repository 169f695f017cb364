//! The RemoteDesktop portal's dialog, answered by the person at the host.

use crate::shot::{bbox, bluish, centre, Shot, ACCENT, SWITCH_OFF};
use crate::LocalUser;
use glimpse::Rect;
use std::time::{Duration, Instant};

/// How long a screen may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(30);

/// Takes screens from `next` until `accept` holds for one, for 30 s at most (then the last one
/// is saved as `name`.ppm and the test fails). `next` paces itself (it waits for a frame).
pub fn wait_for_shot(
    name: &str,
    mut next: impl FnMut() -> Shot,
    accept: impl Fn(&Shot) -> bool,
) -> Shot {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let shot = next();
        if accept(&shot) {
            return shot;
        }
        if Instant::now() > deadline {
            panic!(
                "{name}: not seen within {} s; the last screen is in {:?}",
                PATIENCE.as_secs(),
                shot.write_ppm(&format!("{name}.ppm"))
            );
        }
    }
}

/// What the person at the host answers the dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogAnswer {
    /// Turns "Allow remote interaction" on and clicks Share.
    ShareWithInput,
    /// Clicks Cancel.
    Cancel,
}

/// Waits for the RemoteDesktop portal's dialog on the screens `next` takes (xdg-desktop-portal-gnome
/// 43: the monitor is preselected, "Allow remote interaction" is off; the screen is saved as
/// `remote-desktop-dialog.ppm`) and answers it as `user`. Buttons are found by colour: the Share
/// button is the accent-blue box; the switch is the grey track in the rows below it.
pub fn answer_dialog(mut next: impl FnMut() -> Shot, user: &LocalUser, answer: DialogAnswer) {
    let full = Rect::new(0, 0, u32::MAX, u32::MAX);
    let shot = wait_for_shot("remote-desktop-dialog", &mut next, |s| {
        bbox(s, full, |c| c == ACCENT).is_some()
    });
    shot.write_ppm("remote-desktop-dialog.ppm");
    let button = bbox(&shot, full, |c| c == ACCENT).expect("Share button");
    if answer == DialogAnswer::Cancel {
        // Cancel: the grey button at the other end of the header bar (a little inside its left
        // edge: the title's antialiasing shares its grey).
        let header = Rect::new(0, button.y, button.x.saturating_sub(1), button.height);
        let cancel = bbox(&shot, header, |c| c == 0xd9d9d9).expect("Cancel button");
        let (x, y) = (cancel.x + 12, centre(button).1);
        user.move_to(f64::from(x), f64::from(y));
        user.click();
        return;
    }
    let track = switch_track(&shot, button);
    let (x, y) = centre(track);
    user.move_to(f64::from(x), f64::from(y));
    user.click();
    wait_for_shot("switch-on", &mut next, |s| bbox(s, track, bluish).is_some());
    let (x, y) = centre(button);
    user.move_to(f64::from(x), f64::from(y));
    user.click();
}

/// The track of the "Allow remote interaction" switch: in the rows below the Share button, under
/// it, with many track-grey pixels.
fn switch_track(shot: &Shot, button: Rect) -> Rect {
    let below = Rect::new(
        button.x.saturating_sub(20),
        button.bottom() + 40,
        button.width + 20,
        400,
    );
    let rows: Vec<u32> = (below.y..below.bottom().min(shot.height))
        .filter(|&y| {
            (below.x..below.right())
                .filter(|&x| shot.rgb(x, y) == SWITCH_OFF)
                .count()
                >= 15
        })
        .collect();
    let (first, last) = (*rows.first().expect("switch track"), *rows.last().unwrap());
    bbox(
        shot,
        Rect::new(below.x, first, below.width, last - first + 1),
        |c| c == SWITCH_OFF,
    )
    .expect("switch track")
}
