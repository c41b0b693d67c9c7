//! Builds the edge and archiver components for wasm32-wasip2 and hands their paths to the
//! crate, which embeds them: one `tiergate` binary carries the components it runs.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let workspace = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .expect("host/ sits in the workspace")
        .to_owned();
    // A target dir of its own (the outer build holds the lock on the main one), under the
    // outer build's target dir when one is set.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from)
        .join("components");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    // Relative to host/, not absolute: build script runs are shared by every checkout that
    // uses the same target dir (their fingerprints do not depend on where the workspace
    // is), and an absolute path would watch the checkout that ran last instead of this one.
    for watched in [
        "components/edge",
        "components/archiver",
        "components/core",
        "wit",
        "Cargo.lock",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed=../{watched}");
    }
    ensure_wasm_target();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--package",
            "tiergate-edge",
            "--package",
            "tiergate-archiver",
            "--profile",
            "component",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags meant for the host build (coverage, clippy, sanitizers) must not leak into wasm.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .status()
        .expect("running cargo to build the components");
    assert!(
        status.success(),
        "building the components for wasm32-wasip2 failed (see the errors above)"
    );
    let built = target_dir.join("wasm32-wasip2/component");
    for (var, file) in [
        ("TIERGATE_EDGE_WASM", "tiergate_edge.wasm"),
        ("TIERGATE_ARCHIVER_WASM", "tiergate_archiver.wasm"),
    ] {
        println!("cargo:rustc-env={var}={}", built.join(file).display());
    }
}

/// Adds the wasm32-wasip2 target to the toolchain building us when it lacks it.
/// `rust-toolchain.toml` lists the target, but rustup adds listed targets only to a toolchain
/// it installs itself: on a machine that already has Rust 1.95, the README's first command
/// would otherwise end in "can't find crate for `core`".
fn ensure_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        return;
    }
    println!(
        "cargo:warning=adding the wasm32-wasip2 target to this toolchain \
         (rustup target add wasm32-wasip2): the components are built for it"
    );
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", "wasm32-wasip2"]);
    if let Ok(toolchain) = std::env::var("RUSTUP_TOOLCHAIN") {
        rustup.args(["--toolchain", &toolchain]);
    }
    let added = rustup.status().is_ok_and(|status| status.success());
    assert!(
        added,
        "the wasm32-wasip2 target is missing from the toolchain at {} and rustup could not \
         add it; add it with `rustup target add wasm32-wasip2` (or your toolchain's way)",
        sysroot.display()
    );
}
