//! `tiergate demo` as a newcomer runs it: the real binary as a process on free ports, read
//! through its edge, archived with `tiergate archive --once` against its config, read again.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TIERGATE: &str = env!("CARGO_BIN_EXE_tiergate");

/// The demo process, killed on drop.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Reply {
    status: u16,
    source: Option<String>,
    body: Bytes,
}

async fn get(url: &str) -> anyhow::Result<Reply> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(url.parse()?).await?;
    let status = response.status().as_u16();
    let source = response
        .headers()
        .get("x-tiergate-source")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok(Reply {
        status,
        source,
        body,
    })
}

fn archive_once(config: &Path) -> anyhow::Result<String> {
    let output = Command::new(TIERGATE)
        .args(["archive", "--once", "--config"])
        .arg(config)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "archive --once failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_every_tier_and_archives_on_demand() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("tiergate-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(TIERGATE)
        .args(["demo", "--listen", "127.0.0.1:0", "--records", "120"])
        // No scheduled run during the test: `archive --once` does the work, and deletes
        // at its second run.
        .args(["--schedule", "0 0 0 1 1 *", "--grace-seconds", "0"])
        .arg("--data-dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let demo = Demo(child);
    // Drained to the end on a thread of its own: a closed pipe would kill the demo.
    let (lines, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let (mut edge, mut api) = (None, None);
    while edge.is_none() || api.is_none() {
        let line = printed.recv_timeout(Duration::from_secs(120))?;
        let url = |label: &str| {
            let rest = line.trim().strip_prefix(label)?;
            rest.split_whitespace().next().map(str::to_owned)
        };
        api = api.or_else(|| url("sample API"));
        edge = edge.or_else(|| url("edge (use this)"));
    }
    let (edge, api) = (edge.expect("loop ended"), api.expect("loop ended"));

    let listing = get(&format!("{edge}/records?limit=1000")).await?;
    assert_eq!(listing.status, 200);
    let ids: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&listing.body)?
        .iter()
        .map(|r| r["id"].as_str().expect("every entry has an id").to_owned())
        .collect();
    assert_eq!(ids.len(), 120, "the listing shows every record");
    let (old, new) = (ids.first().unwrap(), ids.last().unwrap());

    let old_before = get(&format!("{edge}/records/{old}")).await?;
    let new_before = get(&format!("{edge}/records/{new}")).await?;
    assert_eq!((old_before.status, new_before.status), (200, 200));
    assert_eq!(old_before.source.as_deref(), Some("origin"));

    let config = dir.join("tiergate.toml");
    let first = archive_once(&config)?;
    assert!(first.contains("archived"), "{first}");
    let second = archive_once(&config)?;
    assert!(second.contains("hot rows deleted"), "{second}");

    let old_after = get(&format!("{edge}/records/{old}")).await?;
    assert_eq!(
        old_after.status, 200,
        "record {old} still served after archiving"
    );
    assert!(
        matches!(old_after.source.as_deref(), Some("blob" | "cache")),
        "record {old} from {:?}",
        old_after.source
    );
    assert_eq!(
        old_after.body, old_before.body,
        "record {old}: the same bytes"
    );
    let new_after = get(&format!("{edge}/records/{new}")).await?;
    assert!(matches!(
        new_after.source.as_deref(),
        Some("origin" | "cache")
    ));
    assert_eq!(
        new_after.body, new_before.body,
        "record {new}: the same bytes"
    );

    // The old record is gone from the API's database: only the edge still has it.
    assert_eq!(get(&format!("{api}/records/{old}")).await?.status, 404);
    assert_eq!(get(&format!("{api}/records/{new}")).await?.status, 200);
    let status = Command::new(TIERGATE)
        .args(["status", "--config"])
        .arg(&config)
        .output()?;
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("deleted"), "{status}");
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
