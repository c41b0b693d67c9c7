//! SQLite's own column types: changed times as ISO-8601 text in both common spellings or as
//! integer unix seconds, text bodies, integer versions.

mod common;

use common::{Fixture, T0, lease, sqlite_db};
use tiergate_hotstore::{Claim, ColdCursor, HotConfig, HotStore};

/// A store over `create` (a records table named `{table}`), configured by `configure`.
async fn fixture(create: &str, configure: impl FnOnce(&mut HotConfig)) -> Fixture {
    let (dir, db, mut config) = sqlite_db();
    db.exec(&create.replace("{table}", &config.table)).await;
    configure(&mut config);
    Fixture::open(db, config, Some(dir)).await
}

fn ids(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|claim| claim.id.as_str()).collect()
}

#[tokio::test]
async fn iso_text_times_are_read_in_both_spellings() {
    let f = fixture(
        "CREATE TABLE {table} (id TEXT PRIMARY KEY, updated_at TEXT, body TEXT)",
        |_| {},
    )
    .await;
    let t = &f.table;
    // T0 = 2023-11-14T22:13:20Z
    f.db.exec(&format!(
        "INSERT INTO {t} VALUES ('strftime', '2023-11-14T22:13:20.250Z', '{{}}'), \
         ('datetime', '2023-11-14 22:13:20', '{{\"a\": 1}}'), \
         ('later', datetime('2023-11-14 22:13:21'), '{{}}')"
    ))
    .await;
    let strftime = f.store.read("strftime").await.unwrap().unwrap();
    assert_eq!(strftime.changed_ms, T0 + 250);
    assert_eq!(strftime.version, "2023-11-14T22:13:20.250Z");
    assert_eq!(
        strftime.content_type, None,
        "no content-type column configured"
    );
    let datetime = f.store.read("datetime").await.unwrap().unwrap();
    assert_eq!(
        (datetime.changed_ms, datetime.body),
        (T0, b"{\"a\": 1}".to_vec())
    );

    let claims = f
        .store
        .claim_cold(
            &lease("a", T0 + 5_000),
            T0 + 1_000,
            10,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&claims), ["datetime", "strftime"]);
    f.cleanup().await;
}

#[tokio::test]
async fn integer_unix_seconds_are_read_as_milliseconds() {
    let f = fixture(
        "CREATE TABLE {table} (id TEXT PRIMARY KEY, changed INTEGER NOT NULL, rev INTEGER, data BLOB)",
        |config| {
            config.changed_column = "changed".into();
            config.version_column = Some("rev".into());
            config.body_column = "data".into();
        },
    )
    .await;
    let (t, s) = (&f.table, T0 / 1_000);
    f.db.exec(&format!(
        "INSERT INTO {t} VALUES ('old', {s}, 7, X'00FF'), ('edge', {}, 1, X''), ('new', {}, 1, X'')",
        s + 1,
        s + 2
    ))
    .await;
    let old = f.store.read("old").await.unwrap().unwrap();
    assert_eq!((old.changed_ms, old.version.as_str()), (T0, "7"));
    assert_eq!(old.body, [0x00, 0xff]);
    // "edge" changed at exactly the cutoff: not cold yet.
    let claims = f
        .store
        .claim_cold(
            &lease("a", T0 + 5_000),
            T0 + 1_000,
            10,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&claims), ["old"]);
    assert_eq!(claims[0].version, "7");
    f.cleanup().await;
}

#[tokio::test]
async fn claims_use_an_index_on_the_changed_column_and_still_see_every_spelling() {
    // Claims compare the column itself with a bound two days after the cutoff (so that an
    // index on it serves them), then decide on the exact time: a local time whose date is
    // a day past the cutoff's (a +14:00 offset), a space-separated one and integer seconds
    // are all cold; a time at the cutoff is not.
    let f = fixture(
        "CREATE TABLE {table} (id TEXT PRIMARY KEY, body BLOB, updated_at);
         CREATE INDEX {table}_updated_at ON {table} (updated_at)",
        |_| {},
    )
    .await;
    let (t, s) = (&f.table, T0 / 1_000);
    // T0 = 2023-11-14T22:13:20Z; the cutoff is T0 + 1 s.
    f.db.exec(&format!(
        "INSERT INTO {t} VALUES ('ahead', X'01', '2023-11-15T12:13:20+14:00'), \
         ('spaced', X'01', '2023-11-14 22:13:19'), ('seconds', X'01', {s}), \
         ('at-cutoff', X'01', '2023-11-14T22:13:21Z'), ('new', X'01', '2023-11-17T00:00:00Z')"
    ))
    .await;
    let mut claimed = ids(&f
        .store
        .claim_cold(
            &lease("a", T0 + 5_000),
            T0 + 1_000,
            10,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap())
    .into_iter()
    .map(str::to_owned)
    .collect::<Vec<_>>();
    claimed.sort();
    assert_eq!(claimed, ["ahead", "seconds", "spaced"]);
    f.cleanup().await;
}

#[tokio::test]
async fn a_read_only_store_answers_without_changing_a_byte_of_the_file() {
    let (_dir, db, config) = sqlite_db();
    let t = &config.table;
    db.exec(&format!(
        "CREATE TABLE {t} (id TEXT PRIMARY KEY, updated_at TEXT NOT NULL, body BLOB);
         INSERT INTO {t} VALUES ('INV-1', '2020-01-01T00:00:00Z', x'7b7d');"
    ))
    .await;
    let path = config.path.clone().expect("a SQLite path");
    let before = std::fs::read(&path).unwrap();

    let store = HotStore::open_read_only(&config).await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.hot_records, 1);
    assert!(status.states.iter().all(|s| s.records == 0), "{status:?}");
    assert_eq!(store.count_cold(T0, T0).await.unwrap().records, 1);
    assert!(store.ledger_page(None, 10).await.unwrap().is_empty());
    drop(store);

    assert_eq!(std::fs::read(&path).unwrap(), before, "the file changed");
    assert_eq!(
        db.count("SELECT count(*) FROM sqlite_master WHERE name LIKE 'ledger%'")
            .await,
        0,
        "tiergate's tables were created"
    );
    let journal: String = match &db {
        common::Db::Sqlite(conn) => conn
            .lock()
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap(),
        common::Db::Postgres(_) => unreachable!(),
    };
    assert_eq!(journal, "delete", "the journal mode was switched");

    // The archiver's own store then creates them as ever.
    HotStore::open(&config).await.unwrap();
    assert_eq!(
        db.count("SELECT count(*) FROM sqlite_master WHERE name LIKE 'ledger%' AND type = 'table'")
            .await,
        4,
        "the ledger, its runs, where the walk got to, its schema version"
    );
}
