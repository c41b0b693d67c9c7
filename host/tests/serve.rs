//! `tiergate serve` as a process, as an operator and a load balancer see it: readiness, the
//! default log level, a clean stop on SIGTERM, several processes sharing a cache in Redis.

#[allow(dead_code)]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{TIERGATE, get, put};
use tiergate_tests::records::CONTENT_TYPE;
use tiergate_tests::{Origin, RedisServer, billing_record};

/// A `tiergate serve` on free ports, in front of blob storage that refuses connections and
/// `origin` (one that refuses too if `None`): the edge still answers (502/503), which is all
/// most of these tests need.
struct Serving {
    child: Child,
    dir: PathBuf,
    edge: String,
    admin: String,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("bound").port()
}

impl Serving {
    /// Starts it with `RUST_LOG` unset (the default level) and `extra` appended to its
    /// config; returns at once.
    fn start(test: &str, origin: Option<&str>, extra: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tiergate-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let (edge, admin, refused) = (free_port(), free_port(), free_port());
        let origin = origin.map_or_else(|| format!("http://127.0.0.1:{refused}"), str::to_owned);
        let config = dir.join("tiergate.toml");
        std::fs::write(
            &config,
            format!(
                r#"
[server]
listen = "127.0.0.1:{edge}"
admin_listen = "127.0.0.1:{admin}"
[origin]
url = "{origin}"
[blob]
backend = "s3"
endpoint = "http://127.0.0.1:{refused}"
bucket = "archive"
{extra}
"#
            ),
        )
        .expect("the config is written");
        let child = Command::new(TIERGATE)
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("RUST_LOG")
            .env("TIERGATE_BLOB_ACCESS_KEY_ID", "id")
            .env("TIERGATE_BLOB_SECRET_ACCESS_KEY", "secret")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr")).expect("a log file"))
            .spawn()
            .expect("tiergate starts");
        Self {
            child,
            dir,
            edge: format!("http://127.0.0.1:{edge}"),
            admin: format!("http://127.0.0.1:{admin}"),
        }
    }

    /// Polls `/healthz` until it answers 200, and says what it answered before.
    async fn wait_until_ready(&self) -> Vec<u16> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut before = Vec::new();
        loop {
            assert!(
                Instant::now() < deadline,
                "not ready in 60 s: {}",
                self.log()
            );
            if let Ok(reply) = get(&format!("{}/healthz", self.admin)).await {
                if reply.status == 200 {
                    return before;
                }
                before.push(reply.status);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to end; its exit code.
    fn terminate(&mut self) -> Option<i32> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_says_ok_only_once_the_edge_answers() {
    let serving = Serving::start("serve-ready", None, "");
    let before = serving.wait_until_ready().await;
    // The moment it says ready, the edge answers (here 502/503: nothing behind it runs).
    let answered = get(&format!("{}/records/INV-1", serving.edge)).await;
    assert!(
        answered.is_ok(),
        "healthz said ok (after {before:?}) but the edge did not answer: {:?}\n{}",
        answered.as_ref().err(),
        serving.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_level_logs_guest_lines_without_wasi_debug_lines_and_sigterm_stops_cleanly() {
    let mut serving = Serving::start("serve-logs", None, "");
    serving.wait_until_ready().await;
    // Blob storage refuses: the component writes a line to stderr, which the host logs.
    let reply = get(&format!("{}/records/INV-1", serving.edge))
        .await
        .expect("the edge answers");
    assert!(reply.status >= 500, "status {}", reply.status);
    let code = serving.terminate();
    let log = serving.log();
    assert_eq!(code, Some(0), "exit after SIGTERM; log:\n{log}");
    assert!(
        log.contains("blob storage failed"),
        "the guest's line: {log}"
    );
    for noise in ["DEBUG", "TRACE", "ERROR"] {
        assert!(
            !log.contains(noise),
            "{noise} line at the default level:\n{log}"
        );
    }
    assert!(
        !log.contains("ended with an error"),
        "a clean stop logs no error:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_hot_database_down_at_start_the_edge_serves_and_the_archiver_retries() {
    // Nothing listens on the hot database's port.
    let refused = free_port();
    let serving = Serving::start(
        "serve-pg-down",
        None,
        &format!(
            r#"
[hot]
engine = "postgres"
url = "postgres://tiergate@127.0.0.1:{refused}/billing"
table = "records"
[archive]
schedule = "* * * * * *"
"#
        ),
    );
    serving.wait_until_ready().await;
    let reply = get(&format!("{}/records/INV-1", serving.edge))
        .await
        .expect("the edge answers with the hot database down");
    assert!(
        reply.status >= 500,
        "nothing behind it runs: {}",
        reply.status
    );
    // The schedule tries again every second, and says so each time.
    let deadline = Instant::now() + Duration::from_secs(20);
    while serving.log().matches("archiver run failed").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "no retries logged:\n{}",
            serving.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = serving.log();
    assert!(
        log.contains("the hot database is unreachable: serving reads"),
        "{log}"
    );
}

/// Two `tiergate serve` processes with `[cache] backend = "redis"` on one Redis, in front of
/// one origin: what one caches the other serves, a write through one is seen through the
/// other at once, and Redis stopped and started again fails no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_share_one_cache_in_redis() -> anyhow::Result<()> {
    let Some(mut redis) = RedisServer::start_if_installed().await? else {
        return Ok(());
    };
    let origin = Origin::start().await?;
    let cache = format!("[cache]\nbackend = \"redis\"\nurl = \"{}\"\n", redis.url());
    let a = Serving::start("serve-redis-a", Some(&origin.url()), &cache);
    let b = Serving::start("serve-redis-b", Some(&origin.url()), &cache);
    a.wait_until_ready().await;
    b.wait_until_ready().await;
    let id = "INV-2024-000888";
    let path = format!("/records/{id}");
    let first = billing_record(id, 1, 20_000);
    origin.insert(id, first.clone(), CONTENT_TYPE);
    let read = async |serving: &Serving| get(&format!("{}{path}", serving.edge)).await;

    let from_a = read(&a).await?;
    assert_eq!(
        (from_a.status, from_a.source.as_deref()),
        (200, Some("origin"))
    );
    let from_b = read(&b).await?;
    assert_eq!(
        (from_b.status, from_b.source.as_deref()),
        (200, Some("cache"))
    );
    assert_eq!((from_a.body, from_b.body), (first.clone(), first));
    assert_eq!(origin.requests_to(&path), 1, "warmed once, for both");

    let second = billing_record(id, 2, 20_000);
    let written = put(&format!("{}{path}", b.edge), second.clone()).await?;
    assert_eq!(written.status, 204, "PUT through b");
    let from_a = read(&a).await?;
    assert_eq!(
        (from_a.status, from_a.source.as_deref(), &from_a.body),
        (200, Some("origin"), &second),
        "a write through b is seen through a at once"
    );

    redis.stop();
    for serving in [&a, &b, &a, &b] {
        let reply = read(serving).await?;
        assert_eq!((reply.status, &reply.body), (200, &second), "Redis down");
    }
    redis.restart().await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = read(&b).await?;
        assert_eq!((reply.status, &reply.body), (200, &second), "Redis back");
        if reply.source.as_deref() == Some("cache") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never served from the cache again: {}",
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
