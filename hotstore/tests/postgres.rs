//! PostgreSQL's own cases: `timestamp` columns read as UTC, schema-qualified tables, text
//! bodies, and column types the queries cannot use.

mod common;

use common::{Fixture, T0, lease, postgres_db, unique};
use tiergate_core::LedgerState;
use tiergate_hotstore::{ArchivedCopy, ColdCursor, DeleteOutcome, HotStore, StoreError};

#[tokio::test]
async fn timestamp_columns_in_a_schema_are_read_as_utc() {
    let Some((db, mut config)) = postgres_db().await else {
        return;
    };
    let schema = unique("billing");
    db.exec(&format!(
        "CREATE SCHEMA {schema}; \
         CREATE TABLE {schema}.records (id text PRIMARY KEY, updated_at timestamp NOT NULL, body text); \
         INSERT INTO {schema}.records VALUES ('r1', '2023-11-14 22:13:20.25', '{{\"total\": 42}}')"
    ))
    .await;
    config.table = format!("{schema}.records");
    config.ledger_table = format!("{schema}.tiergate_ledger");
    let f = Fixture::open(db, config, None).await;

    let record = f.store.read("r1").await.unwrap().expect("r1 not found");
    assert_eq!(record.changed_ms, T0 + 250);
    assert_eq!(record.body, b"{\"total\": 42}");
    assert_eq!(record.version, "2023-11-14 22:13:20.25");
    let now = T0 + 5_000;
    let claims = f
        .store
        .claim_cold(&lease("a", now), T0 + 251, 10, &mut ColdCursor::default())
        .await
        .unwrap();
    assert_eq!(
        claims.len(),
        1,
        "not claimed at a cutoff just after its time"
    );
    let copy = ArchivedCopy {
        id: "r1".into(),
        blob_key: "records/r1".into(),
        sha256: tiergate_core::digest::sha256_hex(&record.body),
        version: record.version,
        size: 13,
        stored_size: 13,
        stored_sha256: "ab".repeat(32),
        encoding: "identity".into(),
        delete_after_ms: now,
    };
    assert!(
        f.store
            .mark_archived(&lease("a", now), &copy)
            .await
            .unwrap()
    );
    assert_eq!(
        f.store
            .claim_due(&lease("a", now), now + 1, 10)
            .await
            .unwrap(),
        std::slice::from_ref(&copy)
    );
    let outcome = f
        .store
        .delete_if_unchanged(
            &lease("a", now),
            "r1",
            "2023-11-14 22:13:20.25",
            &copy.sha256,
            async { true },
        )
        .await
        .unwrap();
    assert_eq!(outcome, DeleteOutcome::Deleted);
    assert_eq!(f.ledger("r1").await.unwrap().state, LedgerState::Deleted);
    assert_eq!(f.store.status().await.unwrap().hot_records, 0);
    f.db.exec(&format!("DROP SCHEMA {schema} CASCADE")).await;
}

#[tokio::test]
async fn a_changed_column_that_is_not_a_timestamp_is_invalid_and_named() {
    let Some((db, config)) = postgres_db().await else {
        return;
    };
    let table = &config.table;
    db.exec(&format!(
        "CREATE TABLE {table} (id text PRIMARY KEY, updated_at bigint NOT NULL, body bytea)"
    ))
    .await;
    let error = HotStore::open(&config).await.unwrap_err();
    db.exec(&format!(
        "DROP TABLE {table}; DROP TABLE IF EXISTS {0}, {0}_runs, {0}_walk, {0}_schema",
        config.ledger_table
    ))
    .await;
    assert!(
        matches!(&error, StoreError::Invalid(m) if m.contains("hot.changed_column") && m.contains("bigint")),
        "{error}"
    );
}

#[tokio::test]
async fn a_read_only_store_creates_nothing() {
    let Some((db, config)) = postgres_db().await else {
        return;
    };
    let (t, l) = (&config.table, &config.ledger_table);
    db.exec(&format!(
        "CREATE TABLE {t} (id text PRIMARY KEY, updated_at timestamptz NOT NULL, body bytea);
         INSERT INTO {t} VALUES ('INV-1', '2020-01-01T00:00:00Z', '\\x7b7d');"
    ))
    .await;
    let store = HotStore::open_read_only(&config).await.unwrap();
    let status = store.status().await.unwrap();
    assert_eq!(status.hot_records, 1);
    assert!(status.states.iter().all(|s| s.records == 0), "{status:?}");
    assert_eq!(store.count_cold(T0, T0).await.unwrap().records, 1);
    // Seen from another session, as every other client of the database sees it.
    for table in [
        l.clone(),
        format!("{l}_runs"),
        format!("{l}_walk"),
        format!("{l}_schema"),
    ] {
        assert_eq!(
            db.count(&format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}' AND schemaname NOT LIKE 'pg_temp%'"))
                .await,
            0,
            "{table} was created"
        );
    }
    drop(store);
    db.exec(&format!("DROP TABLE {t}")).await;
}

/// A claim's walk casts its position back to the key columns' own types (here `varchar`
/// and `timestamp`): by changed time where an index leads with the changed column, by id
/// otherwise. Either way each record is claimed once and the walk ends empty.
#[tokio::test]
async fn a_walk_goes_by_changed_time_with_an_index_and_by_id_without() {
    for indexed in [false, true] {
        let Some((db, config)) = postgres_db().await else {
            return;
        };
        let table = &config.table;
        // Ids rise as changed times fall, so the two walks go opposite ways.
        db.exec(&format!(
            "CREATE TABLE {table} (id varchar(8) PRIMARY KEY, updated_at timestamp NOT NULL, body text); \
             INSERT INTO {table} SELECT lpad(i::text, 2, '0'), \
             timestamp '2023-11-14 00:00:00.5' - i * interval '1.25 second', 'x' \
             FROM generate_series(1, 10) AS i"
        ))
        .await;
        if indexed {
            db.exec(&format!("CREATE INDEX ON {table} (updated_at)"))
                .await;
        }
        let f = Fixture::open(db, config, None).await;
        assert_eq!(f.store.changed_indexed(), indexed);
        let (now, mut walk, mut order) = (T0 + 5_000, ColdCursor::default(), Vec::new());
        loop {
            let claims = f
                .store
                .claim_cold(&lease("a", now), now, 3, &mut walk)
                .await
                .unwrap();
            if claims.is_empty() {
                break;
            }
            order.extend(claims.into_iter().map(|c| c.id.parse::<u32>().unwrap()));
        }
        let expected: Vec<u32> = if indexed {
            (1..=10).rev().collect()
        } else {
            (1..=10).collect()
        };
        assert_eq!(order, expected, "indexed: {indexed}");
        f.cleanup().await;
    }
}
