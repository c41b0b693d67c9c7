//! Real crashes: `tiergate archive --once` killed with SIGKILL at random moments, again and
//! again, against a running demo; then clean runs, and an audit that every record still
//! reads back through the edge with the bytes it had before, and that the API's database
//! kept exactly the recent ones.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TIERGATE: &str = env!("CARGO_BIN_EXE_tiergate");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(url: &str) -> anyhow::Result<(u16, Bytes)> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client.get(url.parse()?).await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_runs_killed_at_random_lose_nothing() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("tiergate-kill-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(TIERGATE)
        .args(["demo", "--listen", "127.0.0.1:0", "--records", "150"])
        .args(["--schedule", "0 0 0 1 1 *", "--grace-seconds", "0"])
        .arg("--data-dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let _demo = Killed(child);
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

    let (_, listing) = get(&format!("{api}/records?limit=1000")).await?;
    let ids: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&listing)?
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect();
    let mut before = BTreeMap::new();
    for id in &ids {
        let (status, body) = get(&format!("{api}/records/{id}")).await?;
        assert_eq!(status, 200);
        before.insert(id.clone(), hex::encode(Sha256::digest(&body)));
    }

    let config = dir.join("tiergate.toml");
    // A fixed sequence of kill times, spread over a run's life (start-up, copies, deletes).
    for (round, delay_ms) in [900, 1300, 1700, 2100, 1100, 2500, 1500, 3000, 1900, 2300]
        .into_iter()
        .enumerate()
    {
        let mut run = Command::new(TIERGATE)
            .args(["archive", "--once", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let _ = run.kill();
        let _ = run.wait();
        for (id, _) in before.iter().step_by(7) {
            let (status, _) = get(&format!("{edge}/records/{id}")).await?;
            assert_eq!(status, 200, "record {id} after kill {round}");
        }
    }

    // Claims of killed runs come free after the demo's 10 s lease.
    tokio::time::sleep(Duration::from_secs(11)).await;
    for _ in 0..4 {
        let output = Command::new(TIERGATE)
            .args(["archive", "--once", "--config"])
            .arg(&config)
            .output()?;
        assert!(
            output.status.success(),
            "a clean run after the kills: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    let mut hot = 0;
    for (id, sha256) in &before {
        let (status, body) = get(&format!("{edge}/records/{id}")).await?;
        assert_eq!(status, 200, "record {id}");
        assert_eq!(
            &hex::encode(Sha256::digest(&body)),
            sha256,
            "record {id}: same bytes"
        );
        if get(&format!("{api}/records/{id}")).await?.0 == 200 {
            hot += 1;
        }
    }
    // 90 of 730 days are hot: about an eighth of the records stay in the API's database.
    assert!(
        (10..=30).contains(&hot),
        "{hot} of {} records still hot",
        before.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
