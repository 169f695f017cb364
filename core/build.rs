//! Says when OpenH264 (feature `h264`) is built without its x86 assembly.
//!
//! The `openh264-sys2` crate compiles OpenH264 from source and, on x86 and x86_64, assembles its SIMD
//! kernels with `nasm` when it finds one (the `NASM` variable, else `nasm` on the `PATH`) and
//! `OPENH264_NO_ASM` is unset. Without it, it builds plain C, prints nothing a user sees and keeps that
//! build in `target/` for good: H.264 encoding is then about three times slower (a 1920x1080 screen with
//! a video region went from 8 to 24 ms per frame). This script makes the same decision and prints a
//! cargo warning (or fails the build when `GLIMPSE_REQUIRE_NASM` is set), and tells the library
//! (`glimpse::video::OPENH264_ASSEMBLY`).

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in ["OPENH264_NO_ASM", "NASM", "GLIMPSE_REQUIRE_NASM"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let h264 = std::env::var_os("CARGO_FEATURE_H264").is_some();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    // OpenH264 only uses nasm on x86; ARM builds assemble their NEON kernels with the C compiler, and
    // WebAssembly builds have no OpenH264.
    if !h264 || !matches!(arch.as_str(), "x86" | "x86_64") {
        println!("cargo:rustc-env=GLIMPSE_OPENH264_ASSEMBLY=1");
        return;
    }
    let problem = if std::env::var_os("OPENH264_NO_ASM").is_some() {
        Some("OPENH264_NO_ASM is set".to_string())
    } else {
        find_nasm().err()
    };
    let Some(problem) = problem else {
        println!("cargo:rustc-env=GLIMPSE_OPENH264_ASSEMBLY=1");
        return;
    };
    let message = format!(
        "OpenH264 builds without its assembly ({problem}): H.264 video regions encode about 3x \
         slower. Install nasm first (Debian/Ubuntu: apt-get install nasm; macOS: brew install \
         nasm; Windows: winget install nasm), then rebuild OpenH264: cargo clean -p openh264-sys2 \
         -p glimpse"
    );
    if std::env::var_os("GLIMPSE_REQUIRE_NASM").is_some() {
        eprintln!("error: {message} (GLIMPSE_REQUIRE_NASM is set)");
        std::process::exit(1);
    }
    println!("cargo:warning={message}");
    println!("cargo:rustc-env=GLIMPSE_OPENH264_ASSEMBLY=0");
}

/// Looks for nasm the way the `nasm-rs` crate (used by `openh264-sys2`) does: the `NASM` variable,
/// else `nasm` itself and then every `PATH` entry, the first that runs `nasm -v`.
fn find_nasm() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("NASM") {
        Some(path) => vec![PathBuf::from(path)],
        None => std::iter::once(PathBuf::from("nasm"))
            .chain(
                std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                    .map(|dir| dir.join("nasm")),
            )
            .collect(),
    };
    candidates
        .into_iter()
        .find(|path| {
            Command::new(path).arg("-v").output().is_ok_and(|out| {
                out.status.success()
                    && String::from_utf8_lossy(&out.stdout).starts_with("NASM version")
            })
        })
        .ok_or_else(|| "nasm was not found".to_string())
}
