//! The portal's restore tokens, kept in a small text file so that its share dialog is asked once.
//!
//! One line per kind of session (`key token`): a token restores the choice made for that key
//! (`monitor`, `monitor-2`, `window`, the same with `+input` for remote-control sessions). The
//! portal hands out a new token with every session; the old one is then used up.

use crate::CaptureError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `$XDG_STATE_HOME/glimpse/portal-restore-tokens`, or `~/.local/state/glimpse/...` without the
/// variable; `None` when neither the variable nor `HOME` is set.
pub(crate) fn default_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("glimpse/portal-restore-tokens"))
}

/// The token stored for `key`, if any (a missing or unreadable file has none).
pub(crate) fn load(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|line| {
        let (k, token) = line.split_once(' ')?;
        (k == key && !token.trim().is_empty()).then(|| token.trim().to_string())
    })
}

/// Stores `token` for `key` (replacing the old one; `None` removes it). The file is written
/// whole, readable by its owner only, and replaced atomically.
pub(crate) fn store(path: &Path, key: &str, token: Option<&str>) -> Result<(), CaptureError> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut text: String = old
        .lines()
        .filter(|line| line.split_once(' ').is_some_and(|(k, _)| k != key))
        .map(|line| format!("{line}\n"))
        .collect();
    if let Some(token) = token {
        if token.contains(char::is_whitespace) {
            return Err(CaptureError::Portal(format!(
                "the portal returned an odd restore token {token:?}"
            )));
        }
        text.push_str(&format!("{key} {token}\n"));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_per_key_and_replaced() {
        let dir = std::env::temp_dir().join(format!("glimpse-tokens-{}", std::process::id()));
        let path = dir.join("sub/tokens");
        assert_eq!(load(&path, "monitor"), None);
        store(&path, "monitor", Some("aaaa-1")).unwrap();
        store(&path, "window", Some("bbbb-2")).unwrap();
        store(&path, "monitor", Some("cccc-3")).unwrap();
        assert_eq!(load(&path, "monitor").as_deref(), Some("cccc-3"));
        assert_eq!(load(&path, "window").as_deref(), Some("bbbb-2"));
        store(&path, "window", None).unwrap();
        assert_eq!(load(&path, "window"), None);
        assert!(store(&path, "monitor", Some("a b")).is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
