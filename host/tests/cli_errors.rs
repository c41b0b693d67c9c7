//! What an operator sees when a command fails: the error and its causes, each once, exit
//! status 1, and no stack backtrace, even with `RUST_BACKTRACE` set.

use std::process::Command;

const TIERGATE: &str = env!("CARGO_BIN_EXE_tiergate");

fn status_with_config(contents: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("tiergate-cli-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = dir.join("tiergate.toml");
    std::fs::write(&config, contents).expect("the config is written");
    let out = Command::new(TIERGATE)
        .args(["status", "--config"])
        .arg(&config)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("tiergate runs");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn a_malformed_config_is_named_and_explained_once_without_a_backtrace() {
    let out = status_with_config("[server\nlisten = 1\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.starts_with("Error: config file ") && stderr.contains("tiergate.toml: "),
        "stderr: {stderr}"
    );
    assert_eq!(
        stderr.matches("TOML parse error").count(),
        1,
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("backtrace"), "stderr: {stderr}");
}

#[test]
fn a_missing_config_file_is_named() {
    let out = Command::new(TIERGATE)
        .args(["status", "--config", "/nonexistent/tiergate.toml"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("tiergate runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.starts_with("Error: cannot read config file /nonexistent/tiergate.toml: "),
        "stderr: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
    assert!(!stderr.contains("backtrace"), "stderr: {stderr}");
}
