//! `tiergate demo` as a newcomer runs it: the real binary as a process on free ports, read
//! through its edge, archived with `tiergate archive --once` against its config, read again.

mod support;

use std::process::Command;
use support::{Demo, NEVER, TIERGATE, archive_once, get, get_as, put};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_every_tier_and_archives_on_demand() -> anyhow::Result<()> {
    let demo = Demo::start("demo-test", 120, NEVER)?;
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

    // The bill, from what was measured: the records gone from the API are the archived ones.
    let in_api = get(&format!("{api}/records?limit=1000")).await?;
    let in_api = serde_json::from_slice::<Vec<serde_json::Value>>(&in_api.body)?.len();
    let chart = demo.dir.join("cost.svg");
    let cost = Command::new(TIERGATE)
        .args(["cost", "--config"])
        .arg(&config)
        .arg("--chart")
        .arg(&chart)
        .output()?;
    let table = String::from_utf8_lossy(&cost.stdout);
    assert!(
        cost.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&cost.stderr)
    );
    assert!(
        table.contains(&format!("{} archived", 120 - in_api)),
        "{table}"
    );
    assert!(
        table.contains("without tiergate") && table.contains("saving"),
        "{table}"
    );
    assert!(table.contains("Projection: 2,000,000 records"), "{table}");
    assert!(std::fs::read_to_string(&chart)?.contains("<svg"));

    // An operator puts the old record back in the API's database, byte for byte; a second
    // restore finds it hot, and an unknown id fails the command.
    let restore = |ids: &[&str]| {
        Command::new(TIERGATE)
            .args(["restore", "--config"])
            .arg(&config)
            .args(ids)
            .output()
    };
    let restored = restore(&[old])?;
    let said = String::from_utf8_lossy(&restored.stdout);
    assert!(restored.status.success(), "{said}");
    assert!(said.contains(&format!("{old}: restored")), "{said}");
    let back = get(&format!("{api}/records/{old}")).await?;
    assert_eq!(
        back.status, 200,
        "record {old} is back in the API's database"
    );
    assert_eq!(
        back.body, old_before.body,
        "record {old}: restored byte for byte"
    );
    let again = restore(&[old, "not/an-id"])?;
    let said = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("{old}: in the hot database already")),
        "{said}"
    );
    assert!(
        said.contains("not/an-id: FAILED: not a record id"),
        "{said}"
    );

    // By time range: none in a day long ago, every other archived record before 2100, and
    // a range that ends before it starts is refused.
    let range = |args: &[&str]| {
        Command::new(TIERGATE)
            .args(["restore", "--config"])
            .arg(&config)
            .args(args)
            .output()
    };
    let none = range(&[
        "--changed-from",
        "2000-01-01",
        "--changed-until",
        "2000-01-02",
    ])?;
    let said = String::from_utf8_lossy(&none.stdout);
    assert!(none.status.success(), "{said}");
    assert!(
        said.contains(
            "0 archived records last changed from 2000-01-01T00:00:00Z until 2000-01-02T00:00:00Z"
        ),
        "{said}"
    );
    let all = range(&["--changed-until", "2100-01-01"])?;
    let said = String::from_utf8_lossy(&all.stdout);
    assert!(all.status.success(), "{said}");
    let found: usize = said
        .split_once(" archived records last changed before 2100-01-01T00:00:00Z")
        .and_then(|(count, _)| count.rsplit('\n').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count of records found: {said}"));
    assert!(found >= 1, "{said}");
    assert!(
        said.contains(&format!("{found} restored, 0 already hot, 0 failed")),
        "{said}"
    );
    let in_api_now = get(&format!("{api}/records?limit=1000")).await?;
    assert_eq!(
        serde_json::from_slice::<Vec<serde_json::Value>>(&in_api_now.body)?.len(),
        120,
        "every record is back in the API's database"
    );
    let inverted = range(&[
        "--changed-from",
        "2024-02-01",
        "--changed-until",
        "2024-01-01",
    ])?;
    assert_eq!(inverted.status.code(), Some(1));
    let said = String::from_utf8_lossy(&inverted.stderr);
    assert!(said.contains("must come before --changed-until"), "{said}");

    // What the edge served, counted from the component's own headers.
    let reads = |source: &str| {
        format!(r#"tiergate_requests_total{{route="read",source="{source}",status="2xx"}}"#)
    };
    assert!(demo.metric(&reads("origin")).await? >= 2.0);
    assert!(demo.metric(&reads("blob")).await? + demo.metric(&reads("cache")).await? >= 1.0);
    assert!(
        demo.metric(r#"tiergate_requests_total{route="pass",source="origin",status="2xx"}"#)
            .await?
            >= 1.0,
        "the listing passed through"
    );
    assert!(
        demo.metric(r#"tiergate_tier_requests_total{tier="cache",outcome="miss"}"#)
            .await?
            >= 2.0
    );
    assert!(
        demo.metric(r#"tiergate_tier_duration_seconds_count{tier="origin",outcome="hit"}"#)
            .await?
            >= 2.0
    );
    assert!(demo.metric("tiergate_cache_writes_total").await? >= 1.0);
    assert!(demo.metric("tiergate_cache_bytes").await? > 0.0);

    // Every request logged with its id; no credential or signature in any line.
    let log = demo.log();
    let access: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|line: &serde_json::Value| line["target"] == "tiergate::access")
        .collect();
    assert_eq!(
        access.len(),
        5,
        "one access line per request through the edge"
    );
    assert!(
        access.iter().all(|line| line["fields"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())),
        "every access line has a request id"
    );
    let secret = std::fs::read_to_string(demo.dir.join("blob-credentials"))?
        .lines()
        .find_map(|l| l.strip_prefix("TIERGATE_BLOB_SECRET_ACCESS_KEY="))
        .expect("the demo wrote its secret")
        .to_owned();
    for leak in [secret.as_str(), "X-Amz-Signature", "X-Amz-Credential"] {
        assert!(!log.contains(leak), "the log shows {leak:?}");
    }
    Ok(())
}

/// A record the application writes again around the edge, straight to its API, after its
/// hot row was archived: the demo's edge keeps serving its cached copy until the next run,
/// and an `archive --once` run in its own process drops that copy from the demo's memory
/// cache (through the admin address) as it hides the blob copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_once_run_drops_what_it_hides_from_the_servers_cache() -> anyhow::Result<()> {
    let demo = Demo::start("drops-test", 40, NEVER)?;
    let config = demo.config();
    let ids = async || -> anyhow::Result<Vec<String>> {
        let listing = get(&format!("{}/records?limit=1000", demo.api)).await?;
        Ok(
            serde_json::from_slice::<Vec<serde_json::Value>>(&listing.body)?
                .iter()
                .map(|r| r["id"].as_str().expect("every entry has an id").to_owned())
                .collect(),
        )
    };
    let before = ids().await?;
    archive_once(&config)?;
    archive_once(&config)?;
    let hot = ids().await?;
    let old = before
        .into_iter()
        .find(|id| !hot.contains(id))
        .expect("a record whose hot row was archived");
    let url = format!("{}/records/{old}", demo.edge);
    let archived = get(&url).await?;
    assert_eq!(archived.source.as_deref(), Some("blob"), "{old} archived");
    assert_eq!(get(&url).await?.source.as_deref(), Some("cache"));

    const AROUND: &[u8] = br#"{"written":"around the edge"}"#;
    let written = put(&format!("{}/records/{old}", demo.api), AROUND).await?;
    assert_eq!(written.status, 204, "the API created {old} again");
    let hidden = get(&url).await?;
    assert_eq!(
        (hidden.source.as_deref(), &hidden.body),
        (Some("cache"), &archived.body),
        "until the next run, the copy may hide a write around the API"
    );
    let ran = archive_once(&config)?;
    let after = get(&url).await?;
    assert_eq!(
        (after.status, after.source.as_deref()),
        (200, Some("origin")),
        "after the run, the API's record, not the cached copy: {ran}"
    );
    assert_eq!(after.body.as_ref(), AROUND);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_show_in_the_metrics() -> anyhow::Result<()> {
    let demo = Demo::start("metrics-test", 60, "*/2 * * * * *")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    // Two runs: the first copies, the second (no grace) deletes the hot rows.
    while demo
        .metric(r#"tiergate_archiver_runs_total{outcome="ok"}"#)
        .await?
        < 2.0
    {
        anyhow::ensure!(std::time::Instant::now() < deadline, "no two runs in 120 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let archived = demo
        .metric(r#"tiergate_archiver_records_total{action="archived"}"#)
        .await?;
    assert!(archived >= 1.0, "records archived: {archived}");
    assert!(
        demo.metric(r#"tiergate_archiver_bytes_total{side="read"}"#)
            .await?
            > demo
                .metric(r#"tiergate_archiver_bytes_total{side="stored"}"#)
                .await?,
        "stored compressed"
    );
    assert!(
        demo.metric("tiergate_archiver_last_success_timestamp_seconds")
            .await?
            > 1.7e9
    );
    let in_ledger = demo
        .metric(r#"tiergate_ledger_records{state="archived"}"#)
        .await?
        + demo
            .metric(r#"tiergate_ledger_records{state="deleted"}"#)
            .await?;
    assert_eq!(
        in_ledger, archived,
        "the ledger holds every archived record"
    );
    assert!(demo.metric("tiergate_hot_records").await? < 60.0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_jwt_an_archived_invoice_reaches_only_its_customer() -> anyhow::Result<()> {
    let demo = Demo::start_with("demo-jwt-test", 60, NEVER, &["--auth", "jwt"])?;
    let owner = demo.printed_after("OWNER_TOKEN=")?;
    let other = demo.printed_after("OTHER_TOKEN=")?;
    let staff = demo.printed_after("STAFF_TOKEN=")?;
    // The printed curl line of the owner's read: its URL is the old record's.
    let line = demo.printed_after(
        r#"curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer $OWNER_TOKEN" "#,
    )?;
    let url = line.split_whitespace().next().expect("a URL").to_owned();
    assert!(line.contains("# 200"), "{line}");

    let config = demo.config();
    archive_once(&config)?;
    archive_once(&config)?;
    let id = url.rsplit('/').next().expect("an id");
    assert_eq!(
        get(&format!("{}/records/{id}", demo.api)).await?.status,
        404,
        "deleted from the API"
    );

    let mine = get_as(&url, Some(&owner)).await?;
    assert_eq!((mine.status, mine.source.as_deref()), (200, Some("blob")));
    assert_eq!(
        get_as(&url, Some(&other)).await?.status,
        404,
        "another customer's"
    );
    assert_eq!(get_as(&url, None).await?.status, 401, "no token");
    let support = get_as(&url, Some(&staff)).await?;
    assert_eq!((support.status, support.body), (200, mine.body));
    Ok(())
}
