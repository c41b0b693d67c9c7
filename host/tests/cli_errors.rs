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

/// A webhook on a loopback port that takes one alert and answers 200; the alert's body
/// arrives on the returned channel.
fn one_alert_webhook() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("bound"));
    let (sent, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("the alert arrives");
        let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a header line");
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("the alert's body");
        let _ = (&stream).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        let _ = sent.send(String::from_utf8_lossy(&body).into_owned());
    });
    (url, received)
}

#[test]
fn an_archive_once_run_that_breaks_off_alerts() {
    let (webhook, alerts) = one_alert_webhook();
    let dir = std::env::temp_dir().join(format!("tiergate-cli-alert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = dir.join("tiergate.toml");
    // Nothing listens on port 1: the hot database is unreachable.
    std::fs::write(
        &config,
        format!(
            r#"
[origin]
url = "http://127.0.0.1:1"
[blob]
backend = "s3"
endpoint = "http://127.0.0.1:1"
bucket = "archive"
[hot]
engine = "postgres"
url = "postgres://tiergate@127.0.0.1:1/billing"
table = "records"
[archive]
after_days = 90
[alerts]
webhook_url = "{webhook}"
"#
        ),
    )
    .expect("the config is written");
    let out = Command::new(TIERGATE)
        .args(["archive", "--once", "--config"])
        .arg(&config)
        .env("TIERGATE_BLOB_ACCESS_KEY_ID", "id")
        .env("TIERGATE_BLOB_SECRET_ACCESS_KEY", "secret")
        .output()
        .expect("tiergate runs");
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let alert = alerts
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no alert was sent; stderr: {stderr}"));
    let alert: serde_json::Value = serde_json::from_str(&alert).expect("a JSON alert");
    assert_eq!(alert["event"], "archive_run_failed", "{alert}");
    assert!(
        alert["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("archiver run broke off: ")),
        "{alert}"
    );
}
