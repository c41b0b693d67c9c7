//! `tiergate demo` as a newcomer runs it: the real binary as a process on free ports, read
//! through its edge, archived with `tiergate archive --once` against its config, read again.

mod support;

use std::process::Command;
use support::{Demo, TIERGATE, archive_once, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_every_tier_and_archives_on_demand() -> anyhow::Result<()> {
    let demo = Demo::start("demo-test", 120)?;
    let (edge, api) = (&demo.edge, &demo.api);

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

    let config = demo.config();
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
    Ok(())
}
