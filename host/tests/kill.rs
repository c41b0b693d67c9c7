//! Real crashes: `tiergate archive --once` killed with SIGKILL at random moments, again and
//! again, against a running demo; then clean runs, and an audit that every record still
//! reads back through the edge with the bytes it had before, and that the API's database
//! kept exactly the recent ones.

// Shared with demo.rs; each test binary uses only part of it.
#[allow(dead_code)]
mod support;

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::{Demo, NEVER, TIERGATE, archive_once, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_runs_killed_at_random_lose_nothing() -> anyhow::Result<()> {
    let demo = Demo::start("kill-test", 150, NEVER)?;
    let (edge, api) = (&demo.edge, &demo.api);

    let listing = get(&format!("{api}/records?limit=1000")).await?.body;
    let ids: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&listing)?
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect();
    let mut before = BTreeMap::new();
    for id in &ids {
        let reply = get(&format!("{api}/records/{id}")).await?;
        assert_eq!(reply.status, 200);
        before.insert(id.clone(), hex::encode(Sha256::digest(&reply.body)));
    }

    let config = demo.config();
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
            let status = get(&format!("{edge}/records/{id}")).await?.status;
            assert_eq!(status, 200, "record {id} after kill {round}");
        }
    }

    // Claims of killed runs come free after the demo's 10 s lease.
    tokio::time::sleep(Duration::from_secs(11)).await;
    for _ in 0..4 {
        archive_once(&config)?;
    }
    let mut hot = 0;
    for (id, sha256) in &before {
        let reply = get(&format!("{edge}/records/{id}")).await?;
        assert_eq!(reply.status, 200, "record {id}");
        assert_eq!(
            &hex::encode(Sha256::digest(&reply.body)),
            sha256,
            "record {id}: same bytes"
        );
        if get(&format!("{api}/records/{id}")).await?.status == 200 {
            hot += 1;
        }
    }
    // 90 of 730 days are hot: about an eighth of the records stay in the API's database.
    assert!(
        (10..=30).contains(&hot),
        "{hot} of {} records still hot",
        before.len()
    );
    Ok(())
}
