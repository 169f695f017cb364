//! Embeds the viewer page (`web/dist`, built by `scripts/build-web.sh`) into the relay when it has
//! been built, so a relay binary serves its page from anywhere. When it has not, the relay serves a
//! page that says how to build it. Set `GLIMPSE_WEB_DIST=DIR` to embed another folder.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=GLIMPSE_WEB_DIST");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dist = std::env::var_os("GLIMPSE_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../web/dist"));
    // A path that does not exist makes cargo rerun this script, and rebuild the crate, on every
    // build: watch the nearest folder that exists instead (it changes when `dist` appears).
    let watched = dist.ancestors().find(|p| p.exists()).unwrap_or(&manifest);
    println!("cargo:rerun-if-changed={}", watched.display());
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut code = String::from("/// Files of the viewer page: (path inside the page, bytes).\n");
    code.push_str("pub static FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        code.push_str(&format!("    ({name:?}, include_bytes!({path:?})),\n"));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("web_files.rs"), code).expect("write web_files.rs");
}

/// Every regular file under `dir`, as (path relative to `root` with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            let relative = path
                .strip_prefix(root)
                .expect("under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let absolute = path.canonicalize().unwrap_or(path.clone());
            files.push((relative, absolute.to_string_lossy().into_owned()));
        }
    }
}
