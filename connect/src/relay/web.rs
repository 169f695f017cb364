//! The viewer page's files: built into the program at compile time (when `web/dist` was built), or
//! read from `--web DIR`. Never a path of the build machine at run time.

use std::path::PathBuf;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_files.rs"));
}

/// What to do when the page is not built in (for programs to print).
pub fn web_build_hint() -> &'static str {
    "the viewer page is not built into this program: run `bash scripts/build-web.sh` and build \
     again, or pass --web DIR"
}

const NOT_BUILT_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<title>Glimpse relay</title><body style=\"font:16px system-ui;margin:2em\"><h1>Glimpse relay</h1>\
<p>This relay works, but its viewer page was not built into it.</p>\
<p>On the machine that builds it, run <code>bash scripts/build-web.sh</code> and build the relay \
again, or start it with <code>--web DIR</code> pointing at a built page.</p></body></html>";

pub(super) struct WebFiles {
    dir: Option<PathBuf>,
}

impl WebFiles {
    pub fn new(dir: Option<PathBuf>) -> Self {
        WebFiles { dir }
    }

    /// True when there is a page to serve.
    pub fn ready(&self) -> bool {
        match &self.dir {
            Some(dir) => dir.join("index.html").is_file(),
            None => !embedded::FILES.is_empty(),
        }
    }

    /// The response for `path` (without its leading `/`; empty for the page itself).
    pub async fn serve(&self, path: &str) -> Response {
        let path = if path.is_empty() { "index.html" } else { path };
        if !is_safe(path) {
            return not_found();
        }
        let body: Option<Vec<u8>> = match &self.dir {
            Some(dir) => tokio::fs::read(dir.join(path)).await.ok(),
            None => embedded::FILES
                .iter()
                .find(|(name, _)| *name == path)
                .map(|(_, bytes)| bytes.to_vec()),
        };
        match body {
            Some(body) => (
                [
                    (header::CONTENT_TYPE, mime(path)),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response(),
            None if path == "index.html" => (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                NOT_BUILT_PAGE,
            )
                .into_response(),
            None => not_found(),
        }
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// Relative paths of plain names only: no `..`, no hidden files, no odd characters.
fn is_safe(path: &str) -> bool {
    path.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    })
}

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt" | "ts") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::is_safe;

    #[test]
    fn only_plain_relative_paths_are_served() {
        for ok in [
            "index.html",
            "glimpse-web/dist/glimpse_wasm_bg.wasm",
            "app.js",
        ] {
            assert!(is_safe(ok), "{ok}");
        }
        for bad in [
            "../secret",
            "a/../../b",
            "/etc/passwd",
            ".env",
            "a//b",
            "a/.git/config",
            "a%2f..",
            "a\\b",
            "",
        ] {
            assert!(!is_safe(bad), "{bad}");
        }
    }
}
