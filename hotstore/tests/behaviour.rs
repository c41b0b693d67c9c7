//! The archival protocol's steps, each run against SQLite and PostgreSQL.

mod common;

use common::{Fixture, T0, lease};
use std::collections::BTreeSet;
use tiergate_core::LedgerState;
use tiergate_core::digest::sha256_hex;
use tiergate_hotstore::{
    ArchivedCopy, BeforeWrite, Claim, ColdCursor, DeleteOutcome, HotConfig, HotStore, RestoredRow,
    RunRow, StaleCopy, StoreError, WalkResumes,
};

on_both_engines!(
    claims_oldest_first_up_to_the_limit,
    a_walk_goes_on_past_what_it_passed,
    a_walk_passes_a_long_stretch_of_copies_window_by_window,
    a_walk_is_kept_for_the_next_process,
    held_and_excluded_records_are_never_claimed,
    a_claimed_record_is_claimed_again_only_after_its_lease_expires,
    mark_archived_refuses_after_the_lease_moved_to_another_owner,
    release_holds_a_failed_record_until_its_retry_time,
    claim_due_waits_for_delete_after,
    claim_due_leaves_copies_made_since_the_run_began,
    delete_removes_an_unchanged_record_and_marks_it_deleted_together,
    delete_keeps_changed_held_excluded_and_missing_records,
    delete_without_the_lease_changes_nothing,
    delete_compares_the_body_not_only_a_version_that_repeats,
    delete_keeps_the_row_when_the_copy_was_not_published,
    a_write_finds_where_the_record_lives_and_a_restore_puts_it_back,
    a_restore_puts_back_every_column_exactly,
    retention_takes_deleted_copies_by_the_time_their_record_last_changed,
    a_ledger_of_schema_1_is_read_as_it_is_and_upgraded_by_the_archiver,
    claim_stale_finds_every_copy_that_no_longer_matches,
    claim_stale_since_looks_only_at_records_changed_since,
    count_cold_agrees_with_claim_cold,
    status_counts_records_and_bytes_per_tier,
    read_returns_the_record_with_its_version_and_time,
    an_owner_is_read_from_its_row_then_from_the_ledger_once_deleted,
    ledger_pages_in_id_order,
    a_missing_column_is_invalid_and_named,
    concurrent_claims_never_share_an_id,
);

/// Integer ids (the common `bigint` key), through every step that finds a record by id:
/// claims, reads, the delete, a write's look-up, a restore, the stale pass and owners.
async fn integer_ids_go_through_every_step(f: &Fixture) {
    let now = T0 + 5_000;
    f.insert("7", T0, b"seven").await;
    f.insert("42", T0 + 250, b"forty-two").await;
    f.insert("1000", T0 + 9_000, b"hot").await;
    let gone = due(f, "42", "a", now).await;
    let before = f.store.read("42").await.unwrap().unwrap();
    assert_eq!(before.id, "42");
    assert_eq!(
        delete(f, "a", now + 10, &gone).await,
        DeleteOutcome::Deleted
    );
    assert!(!f.exists("42").await);
    assert_eq!(
        f.store.before_write("1000", now).await.unwrap(),
        BeforeWrite::Hot
    );
    let BeforeWrite::Archived(copy) = f.store.before_write("42", now + 60_000).await.unwrap()
    else {
        panic!("the deleted record is not reported archived");
    };
    let row = RestoredRow {
        id: "42".into(),
        body: b"forty-two".to_vec(),
        content_type: before.content_type.clone(),
        version: copy.version,
        now_ms: now + 20,
    };
    assert!(f.store.restore_row(&row).await.unwrap());
    assert_eq!(f.store.read("42").await.unwrap(), Some(before));
    assert_eq!(
        f.store.before_write("42", now + 60_000).await.unwrap(),
        BeforeWrite::StaleCopy
    );
    let later = now + 1_000;
    let stale = f
        .store
        .claim_stale(&lease("b", later), 100, None)
        .await
        .unwrap();
    assert_eq!(
        stale.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["42"]
    );
    assert!(f.store.forget(&lease("b", later), "42").await.unwrap());
    let by_owner = HotStore::open(&HotConfig {
        owner_column: Some("state".into()),
        ..f.config.clone()
    })
    .await
    .unwrap();
    f.update("7", "state = 'ACME'").await;
    assert_eq!(by_owner.owner("7").await.unwrap().as_deref(), Some("ACME"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_ids_go_through_every_step_on_sqlite() {
    let fixture = Fixture::sqlite_with_ids("INTEGER").await;
    integer_ids_go_through_every_step(&fixture).await;
    fixture.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_ids_go_through_every_step_on_postgres() {
    if let Some(fixture) = Fixture::postgres_with_ids("bigint").await {
        integer_ids_go_through_every_step(&fixture).await;
        fixture.cleanup().await;
    }
}

/// Claims cold records for `owner` at `now` (unless it holds `id` already) and marks `id`
/// archived with a deletion time of `delete_after`; returns the copy as recorded.
async fn archive(f: &Fixture, id: &str, owner: &str, now: i64, delete_after: i64) -> ArchivedCopy {
    f.store
        .claim_cold(&lease(owner, now), now, 1_000, &mut ColdCursor::default())
        .await
        .unwrap();
    let row = f
        .ledger(id)
        .await
        .unwrap_or_else(|| panic!("{id} was not claimed"));
    assert_eq!(
        (row.state, row.lease_owner.as_deref()),
        (LedgerState::Copying, Some(owner)),
        "ledger of {id}"
    );
    let record = f.store.read(id).await.unwrap().expect("a claimed record");
    let copy = ArchivedCopy {
        id: id.into(),
        version: row.version,
        blob_key: format!("records/{id}"),
        sha256: sha256_hex(&record.body),
        size: 100,
        stored_size: 40,
        stored_sha256: "cd".repeat(32),
        encoding: "zstd".into(),
        delete_after_ms: delete_after,
    };
    assert!(
        f.store
            .mark_archived(&lease(owner, now), &copy)
            .await
            .unwrap(),
        "{id} not marked"
    );
    copy
}

/// Archives `id` and claims it for deletion at `now` (its grace period over).
async fn due(f: &Fixture, id: &str, owner: &str, now: i64) -> ArchivedCopy {
    archive(f, id, owner, now, now).await;
    let due = f
        .store
        .claim_due(&lease(owner, now), now + 1, 1_000)
        .await
        .unwrap();
    due.into_iter()
        .find(|copy| copy.id == id)
        .unwrap_or_else(|| panic!("{id} not due"))
}

/// A publish step that succeeds at once.
async fn published() -> bool {
    true
}

/// The delete step of `copy` for `owner` at `now`, its copy published at once.
async fn delete(f: &Fixture, owner: &str, now: i64, copy: &ArchivedCopy) -> DeleteOutcome {
    f.store
        .delete_if_unchanged(
            &lease(owner, now),
            &copy.id,
            &copy.version,
            &copy.sha256,
            published(),
        )
        .await
        .unwrap()
}

fn ids(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|claim| claim.id.as_str()).collect()
}

async fn state_of(f: &Fixture, id: &str) -> Option<LedgerState> {
    f.ledger(id).await.map(|row| row.state)
}

/// A run's claims go on from where its walk got to: a record it passed and that came free
/// again (a failure released at once) waits for the next run's walk, which starts over.
async fn a_walk_goes_on_past_what_it_passed(f: &Fixture) {
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        f.insert(id, T0 + 1_000 * i as i64, id.as_bytes()).await;
    }
    let now = T0 + 20_000;
    let mut walk = ColdCursor::default();
    let first = f
        .store
        .claim_cold(&lease("run-1", now), now, 1, &mut walk)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["a"], "{}", f.db.engine());
    assert!(
        f.store
            .release(&lease("run-1", now), "a", "refused", now)
            .await
            .unwrap()
    );
    let next = f
        .store
        .claim_cold(&lease("run-1", now), now, 5, &mut walk)
        .await
        .unwrap();
    assert_eq!(ids(&next), ["b", "c"], "the walk went on past a");
    let next_run = f
        .store
        .claim_cold(&lease("run-2", now), now, 5, &mut ColdCursor::default())
        .await
        .unwrap();
    assert_eq!(ids(&next_run), ["a"], "the next run's walk starts over");
}

/// A claim looks at the walk a window at a time: a stretch of copies in their grace period
/// many windows long is passed statement by statement, and a window with more claimable
/// records than the batch leaves the rest for the next claim.
async fn a_walk_passes_a_long_stretch_of_copies_window_by_window(f: &Fixture) {
    let name = |i: i64| format!("r{i:03}");
    for i in 0..280 {
        f.insert(&name(i), T0 + i, b"x").await;
    }
    let now = T0 + 10_000;
    for i in 0..280 {
        archive(f, &name(i), "earlier", now, now + 86_400_000).await;
    }
    for i in 280..300 {
        f.insert(&name(i), T0 + i, b"x").await;
    }
    let batches = |store: HotStore, owner: &'static str, at: i64| async move {
        let (mut walk, mut batches) = (ColdCursor::default(), Vec::new());
        loop {
            let claims = store
                .claim_cold(&lease(owner, at), now, 5, &mut walk)
                .await
                .unwrap();
            if claims.is_empty() {
                return batches;
            }
            batches.push(ids(&claims).join(","));
        }
    };
    let expected: Vec<String> = (0..4)
        .map(|batch| {
            (280 + 5 * batch..285 + 5 * batch)
                .map(name)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let engine = f.db.engine();
    assert_eq!(
        batches(f.store.clone(), "run-2", now).await,
        expected,
        "{engine}"
    );
    // Without the index: PostgreSQL walks by id, SQLite scans. Run 2's leases are over.
    let index = match engine {
        "sqlite" => format!("{}_updated_at", f.table),
        _ => format!("{}_updated_at_idx", f.table),
    };
    f.db.exec(&format!("DROP INDEX {index}")).await;
    let store = HotStore::open(&f.config).await.unwrap();
    assert!(!store.changed_indexed(), "{engine}");
    let later = now + 5_000;
    assert_eq!(
        batches(store, "run-3", later).await,
        expected,
        "{engine}, no index"
    );
}

/// Where a walk got to outlives the store that walked: another store (the next
/// `archive --once`, a process of its own) goes on from there. A ledger of schema version 2
/// gains the table when the archiver's store opens it, and reads as nothing kept.
async fn a_walk_is_kept_for_the_next_process(f: &Fixture) {
    for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
        f.insert(id, T0 + 1_000 * i as i64, id.as_bytes()).await;
    }
    let now = T0 + 20_000;
    let l = &f.config.ledger_table;
    f.db.exec(&format!(
        "DROP TABLE {l}_walk; DROP INDEX \"{l}_archived_due\"; \
         CREATE INDEX \"{l}_state_due\" ON {l} (state, delete_after); \
         UPDATE {l}_schema SET version = 2"
    ))
    .await;
    let store = HotStore::open(&f.config).await.unwrap();
    let kept = store.walk().await.unwrap();
    assert!(kept.end.is_none() && kept.resumed == 0, "{kept:?}");
    let mut walk = ColdCursor::default();
    let first = store
        .claim_cold(&lease("run-1", now), now, 1, &mut walk)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["a"], "{}", f.db.engine());
    assert!(
        store
            .release(&lease("run-1", now), "a", "refused", now)
            .await
            .unwrap()
    );
    let end = WalkResumes {
        end: Some(walk),
        resumed: 3,
    };
    store.keep_walk(&end).await.unwrap();
    drop(store);

    let next = HotStore::open(&f.config).await.unwrap();
    let kept = next.walk().await.unwrap();
    assert_eq!(kept.resumed, 3);
    let mut walk = kept.end.expect("the walk's end was kept");
    let rest = next
        .claim_cold(&lease("run-2", now), now, 5, &mut walk)
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["b", "c"], "the next process went on past a");
    next.keep_walk(&WalkResumes::default()).await.unwrap();
    let kept = next.walk().await.unwrap();
    assert!(kept.end.is_none() && kept.resumed == 0, "{kept:?}");
}

async fn claims_oldest_first_up_to_the_limit(f: &Fixture) {
    f.insert("c", T0 + 3_000, b"c").await;
    f.insert("a", T0 + 1_000, b"a").await;
    f.insert("b2", T0 + 2_000, b"b").await;
    f.insert("b1", T0 + 2_000, b"b").await;
    f.insert("new", T0 + 10_000, b"n").await;
    let now = T0 + 20_000;
    let cutoff = T0 + 10_000; // "new" changed exactly at the cutoff: not cold yet
    let mut walk = ColdCursor::default();
    let first = f
        .store
        .claim_cold(&lease("run-1", now), cutoff, 3, &mut walk)
        .await
        .unwrap();
    assert_eq!(ids(&first), ["a", "b1", "b2"], "{}", f.db.engine());
    let rest = f
        .store
        .claim_cold(&lease("run-1", now), cutoff, 3, &mut walk)
        .await
        .unwrap();
    assert_eq!(ids(&rest), ["c"]);
    assert!(
        f.store
            .claim_cold(&lease("run-1", now), cutoff, 3, &mut walk)
            .await
            .unwrap()
            .is_empty()
    );
    let row = f.ledger("a").await.unwrap();
    assert_eq!(row.state, LedgerState::Copying);
    assert_eq!(row.version, first[0].version);
    assert_eq!(row.lease_owner.as_deref(), Some("run-1"));
    assert_eq!(row.lease_until, Some(now + 1_000));
    assert_eq!((row.attempts, row.claimed_at), (1, Some(now)));
}

async fn held_and_excluded_records_are_never_claimed(f: &Fixture) {
    f.insert("held", T0, b"x").await;
    f.hold("held").await;
    f.insert("draft", T0, b"x").await;
    f.update("draft", "state = 'draft'").await;
    f.insert("final", T0, b"x").await;
    f.update("final", "state = 'final'").await;
    f.insert("plain", T0, b"x").await;
    let claims = f
        .store
        .claim_cold(
            &lease("run-1", T0 + 5_000),
            T0 + 1,
            100,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&claims), ["final", "plain"]);
    assert_eq!(state_of(f, "held").await, None);
    assert_eq!(state_of(f, "draft").await, None);
}

async fn a_claimed_record_is_claimed_again_only_after_its_lease_expires(f: &Fixture) {
    f.insert("r1", T0, b"x").await;
    let now = T0 + 5_000;
    assert_eq!(
        ids(&f
            .store
            .claim_cold(&lease("a", now), now, 10, &mut ColdCursor::default())
            .await
            .unwrap()),
        ["r1"]
    );
    let during = f
        .store
        .claim_cold(&lease("b", now + 999), now, 10, &mut ColdCursor::default())
        .await
        .unwrap();
    assert!(during.is_empty(), "claimed while leased: {during:?}");
    let after = f
        .store
        .claim_cold(
            &lease("b", now + 1_000),
            now,
            10,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&after), ["r1"]);
    let row = f.ledger("r1").await.unwrap();
    assert_eq!((row.lease_owner.as_deref(), row.attempts), (Some("b"), 2));
}

async fn mark_archived_refuses_after_the_lease_moved_to_another_owner(f: &Fixture) {
    f.insert("r1", T0, b"x").await;
    let now = T0 + 5_000;
    let claimed = f
        .store
        .claim_cold(&lease("a", now), now, 10, &mut ColdCursor::default())
        .await
        .unwrap();
    f.store
        .claim_cold(
            &lease("b", now + 2_000),
            now,
            10,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    let copy = ArchivedCopy {
        id: "r1".into(),
        version: claimed[0].version.clone(),
        blob_key: "records/r1".into(),
        sha256: "ab".repeat(32),
        size: 1,
        stored_size: 1,
        stored_sha256: "ab".repeat(32),
        encoding: "identity".into(),
        delete_after_ms: now + 10_000,
    };
    assert!(
        !f.store
            .mark_archived(&lease("a", now + 2_500), &copy)
            .await
            .unwrap()
    );
    assert_eq!(state_of(f, "r1").await, Some(LedgerState::Copying));
    assert!(
        f.store
            .mark_archived(&lease("b", now + 2_500), &copy)
            .await
            .unwrap()
    );
    let row = f.ledger("r1").await.unwrap();
    assert_eq!(row.state, LedgerState::Archived);
    assert_eq!(row.blob_key.as_deref(), Some("records/r1"));
    assert_eq!((row.size, row.stored_size), (Some(1), Some(1)));
    assert_eq!(
        (row.archived_at, row.delete_after),
        (Some(now + 2_500), Some(now + 10_000))
    );
    assert_eq!((row.lease_owner, row.lease_until), (None, None));
    // Archived rows are not claimed for copying again.
    assert!(
        f.store
            .claim_cold(
                &lease("c", now + 9_000),
                now,
                10,
                &mut ColdCursor::default()
            )
            .await
            .unwrap()
            .is_empty()
    );
}

async fn release_holds_a_failed_record_until_its_retry_time(f: &Fixture) {
    f.insert("r1", T0, b"x").await;
    let now = T0 + 5_000;
    f.store
        .claim_cold(&lease("a", now), now, 10, &mut ColdCursor::default())
        .await
        .unwrap();
    assert!(
        !f.store
            .release(&lease("b", now), "r1", "not mine", now + 10_000)
            .await
            .unwrap()
    );
    assert!(
        f.store
            .release(
                &lease("a", now + 100),
                "r1",
                "blob PUT failed: 503",
                now + 10_000
            )
            .await
            .unwrap()
    );
    let row = f.ledger("r1").await.unwrap();
    assert_eq!(row.last_error.as_deref(), Some("blob PUT failed: 503"));
    assert_eq!(
        (row.lease_owner, row.lease_until),
        (None, Some(now + 10_000))
    );
    let early = f
        .store
        .claim_cold(
            &lease("b", now + 9_999),
            now,
            10,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert!(early.is_empty(), "retried before its time: {early:?}");
    let retry = f
        .store
        .claim_cold(
            &lease("b", now + 10_000),
            now,
            10,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert_eq!(ids(&retry), ["r1"]);
}

async fn claim_due_waits_for_delete_after(f: &Fixture) {
    f.insert("r1", T0, b"x").await;
    let now = T0 + 5_000;
    let copy = archive(f, "r1", "a", now, now + 1_000).await;
    assert!(
        f.store
            .claim_due(&lease("b", now + 999), now + 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = f
        .store
        .claim_due(&lease("b", now + 1_000), now + 1, 10)
        .await
        .unwrap();
    assert_eq!(due, [copy]);
    let row = f.ledger("r1").await.unwrap();
    assert_eq!(row.lease_owner.as_deref(), Some("b"));
    assert!(
        f.store
            .claim_due(&lease("c", now + 1_500), now + 1, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased row claimed twice"
    );
    assert_eq!(
        f.store
            .claim_due(&lease("c", now + 2_000), now + 1, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Two instances of one run: a copy one made after the run began is not the other's to
/// delete, even with no grace period; the next run deletes it.
async fn claim_due_leaves_copies_made_since_the_run_began(f: &Fixture) {
    f.insert("r1", T0, b"x").await;
    let run_began = T0 + 5_000;
    let copied = run_began + 10;
    let copy = archive(f, "r1", "a", copied, copied).await;
    for copied_before in [run_began, copied] {
        assert!(
            f.store
                .claim_due(&lease("b", copied + 1), copied_before, 10)
                .await
                .unwrap()
                .is_empty(),
            "a copy made at {copied} claimed by a run that began at {copied_before}"
        );
    }
    let next_run = copied + 1;
    let due = f
        .store
        .claim_due(&lease("c", next_run), next_run, 10)
        .await
        .unwrap();
    assert_eq!(due, [copy]);
}

async fn delete_removes_an_unchanged_record_and_marks_it_deleted_together(f: &Fixture) {
    f.insert("r1", T0, b"x").await;
    let now = T0 + 5_000;
    let copy = due(f, "r1", "a", now).await;
    let outcome = delete(f, "a", now + 10, &copy).await;
    assert_eq!(outcome, DeleteOutcome::Deleted);
    assert!(!f.exists("r1").await, "record still in {}", f.table);
    let row = f.ledger("r1").await.unwrap();
    assert_eq!(row.state, LedgerState::Deleted);
    assert_eq!(
        (row.deleted_at, row.lease_owner, row.lease_until),
        (Some(now + 10), None, None)
    );
    // Compacted: what the copy's claim, copying and grace period needed is gone; what
    // verify, a restore, the stale pass and retention read stays.
    assert_eq!(
        (row.claimed_at, row.archived_at, row.delete_after),
        (None, None, None)
    );
    assert_eq!(
        (row.blob_key.as_deref(), row.sha256.as_deref(), row.size),
        (
            Some(copy.blob_key.as_str()),
            Some(copy.sha256.as_str()),
            Some(copy.size)
        )
    );
    assert_eq!(
        (
            row.stored_sha256.as_deref(),
            row.stored_size,
            row.encoding.as_deref()
        ),
        (
            Some(copy.stored_sha256.as_str()),
            Some(copy.stored_size),
            Some(copy.encoding.as_str())
        )
    );
    // Repeating it (a crash before the caller saw the answer) changes nothing.
    let again = delete(f, "a", now + 20, &copy).await;
    assert_eq!(again, DeleteOutcome::LeaseLost);
}

async fn delete_keeps_changed_held_excluded_and_missing_records(f: &Fixture) {
    let now = T0 + 5_000;
    for id in ["changed", "held", "draft", "missing"] {
        f.insert(id, T0, b"x").await;
    }
    let mut copies = Vec::new();
    for id in ["changed", "held", "draft", "missing"] {
        copies.push(due(f, id, "a", now).await);
    }
    f.touch("changed", T0 + 1_000).await;
    f.hold("held").await;
    f.update("draft", "state = 'draft'").await;
    f.remove("missing").await;
    let expected = [
        DeleteOutcome::Changed,
        DeleteOutcome::Held,
        DeleteOutcome::Held,
        DeleteOutcome::Missing,
    ];
    for (copy, expected) in copies.iter().zip(expected) {
        let outcome = delete(f, "a", now + 10, copy).await;
        assert_eq!(outcome, expected, "record {}", copy.id);
        assert_eq!(
            f.exists(&copy.id).await,
            expected != DeleteOutcome::Missing,
            "record {}",
            copy.id
        );
        let row = f.ledger(&copy.id).await.unwrap();
        assert_eq!(row.state, LedgerState::Archived, "ledger of {}", copy.id);
        assert_eq!(
            row.lease_owner.as_deref(),
            Some("a"),
            "ledger of {}",
            copy.id
        );
    }
}

async fn delete_without_the_lease_changes_nothing(f: &Fixture) {
    let now = T0 + 5_000;
    f.insert("archived", T0, b"x").await;
    f.insert("copying", T0 + 1, b"x").await;
    let copy = due(f, "archived", "a", now).await;
    let copying = f.ledger("copying").await.unwrap();
    assert_eq!(
        (copying.state, copying.lease_owner.as_deref()),
        (LedgerState::Copying, Some("a"))
    );
    let cases = [
        (
            "archived",
            "b",
            copy.version.as_str(),
            LedgerState::Archived,
        ),
        (
            "copying",
            "a",
            copying.version.as_str(),
            LedgerState::Copying,
        ),
    ];
    for (id, owner, version, state) in cases {
        let outcome = f
            .store
            .delete_if_unchanged(
                &lease(owner, now + 10),
                id,
                version,
                &copy.sha256,
                published(),
            )
            .await
            .unwrap();
        assert_eq!(outcome, DeleteOutcome::LeaseLost, "record {id}");
        assert!(f.exists(id).await, "record {id} deleted without the lease");
        assert_eq!(state_of(f, id).await, Some(state), "ledger of {id}");
    }
}

async fn delete_compares_the_body_not_only_a_version_that_repeats(f: &Fixture) {
    let now = T0 + 5_000;
    f.insert("r1", T0, b"first").await;
    let copy = due(f, "r1", "a", now).await;
    // Deleted and created again in the same instant: same version, other content.
    f.remove("r1").await;
    f.insert("r1", T0, b"again").await;
    let outcome = delete(f, "a", now + 10, &copy).await;
    assert_eq!(outcome, DeleteOutcome::Changed);
    assert!(f.exists("r1").await, "the re-created record was deleted");
    assert_eq!(state_of(f, "r1").await, Some(LedgerState::Archived));
}

async fn delete_keeps_the_row_when_the_copy_was_not_published(f: &Fixture) {
    let now = T0 + 5_000;
    f.insert("r1", T0, b"first").await;
    let copy = due(f, "r1", "a", now).await;
    let outcome = f
        .store
        .delete_if_unchanged(
            &lease("a", now + 10),
            "r1",
            &copy.version,
            &copy.sha256,
            async { false },
        )
        .await
        .unwrap();
    assert_eq!(outcome, DeleteOutcome::NotPublished);
    assert!(f.exists("r1").await, "deleted without a published copy");
    assert_eq!(state_of(f, "r1").await, Some(LedgerState::Archived));
    // The step can be done again, by the same run.
    let outcome = delete(f, "a", now + 20, &copy).await;
    assert_eq!(outcome, DeleteOutcome::Deleted);
}

async fn a_write_finds_where_the_record_lives_and_a_restore_puts_it_back(f: &Fixture) {
    let now = T0 + 5_000;
    f.insert("gone", T0 + 250, b"archived body").await;
    f.insert("grace", T0, b"in its grace period").await;
    f.insert("hot", T0 + 9_000, b"never archived").await;
    let gone = due(f, "gone", "a", now).await;
    let before = f.store.read("gone").await.unwrap().unwrap();
    assert_eq!(
        delete(f, "a", now + 10, &gone).await,
        DeleteOutcome::Deleted
    );
    archive(f, "grace", "a", now, now + 1_000).await;

    assert_eq!(
        f.store.before_write("hot", now + 60_000).await.unwrap(),
        BeforeWrite::Hot
    );
    assert_eq!(
        f.store.before_write("nobody", now + 60_000).await.unwrap(),
        BeforeWrite::Hot
    );
    // A copy in its grace period: the row stays for the write, its delete put off.
    assert_eq!(
        f.store.before_write("grace", now + 60_000).await.unwrap(),
        BeforeWrite::Hot
    );
    assert_eq!(
        f.ledger("grace").await.unwrap().delete_after,
        Some(now + 60_000)
    );
    let BeforeWrite::Archived(copy) = f.store.before_write("gone", now + 60_000).await.unwrap()
    else {
        panic!("the deleted record is not reported archived");
    };
    assert_eq!(
        (copy.sha256, copy.version.clone()),
        (gone.sha256.clone(), gone.version.clone())
    );

    let row = RestoredRow {
        id: "gone".into(),
        body: b"archived body".to_vec(),
        content_type: before.content_type.clone(),
        version: copy.version,
        now_ms: now + 20,
    };
    assert!(f.store.restore_row(&row).await.unwrap());
    // Exactly the row that left: body, content type, and the changed time that is its
    // version (this table has no version column).
    assert_eq!(f.store.read("gone").await.unwrap(), Some(before));
    assert!(!f.store.restore_row(&row).await.unwrap(), "restored twice");
    // Until the copy is removed and the ledger row forgotten, the copy is stale.
    assert_eq!(
        f.store.before_write("gone", now + 60_000).await.unwrap(),
        BeforeWrite::StaleCopy
    );
    assert!(f.store.forget_restored("gone").await.unwrap());
    assert_eq!(
        f.store.before_write("gone", now + 60_000).await.unwrap(),
        BeforeWrite::Hot
    );
    assert!(!f.store.forget_restored("hot").await.unwrap());
}

/// Columns of many types, the kinds a billing table has, added after the store opened (so
/// the store must read the table as it is, not as it was), a generated column and, on
/// PostgreSQL, an identity column: archived, deleted and restored, the row is the same to
/// the last bit. A row the ledger did not keep whole (deleted by tiergate before it did)
/// comes back with its configured columns.
async fn a_restore_puts_back_every_column_exactly(f: &Fixture) {
    let (columns, values) = match f.db {
        common::Db::Sqlite(_) => (
            "ADD COLUMN customer TEXT NOT NULL DEFAULT 'none'; ADD COLUMN amount NUMERIC; \
             ADD COLUMN ratio REAL; ADD COLUMN raw BLOB; ADD COLUMN note TEXT; ADD COLUMN loose; \
             ADD COLUMN bytes_text TEXT; ADD COLUMN total GENERATED ALWAYS AS (amount * 2) VIRTUAL",
            "customer = 'C-7', amount = '1234.50', ratio = 0.30000000000000004, \
             raw = X'00ff10', note = NULL, loose = 7.25, bytes_text = CAST(X'ff41' AS TEXT)",
        ),
        common::Db::Postgres(_) => (
            "ADD COLUMN customer text NOT NULL DEFAULT 'none', ADD COLUMN amount numeric(12,2), \
             ADD COLUMN issued timestamptz, ADD COLUMN lines jsonb, ADD COLUMN raw json, \
             ADD COLUMN note text, ADD COLUMN tags text[], ADD COLUMN ratio float8, \
             ADD COLUMN \"Mixed Case\" smallint, \
             ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY, \
             ADD COLUMN total numeric GENERATED ALWAYS AS (amount * 2) STORED",
            "customer = 'C-7', amount = 1234.50, issued = '2024-02-29 12:34:56.789012+05:30', \
             lines = '{\"b\": 1, \"a\": [1.10, 2]}', raw = '{ \"keep\" :  \"spacing\" , \"k\": 1.50 }', \
             note = NULL, tags = ARRAY['x', 'y z'], ratio = 0.30000000000000004, \"Mixed Case\" = -3",
        ),
    };
    let alter = match f.db {
        // SQLite takes one column per ALTER TABLE.
        common::Db::Sqlite(_) => columns
            .split("; ")
            .map(|add| format!("ALTER TABLE {} {add};", f.table))
            .collect::<String>(),
        common::Db::Postgres(_) => format!("ALTER TABLE {} {columns}", f.table),
    };
    f.db.exec(&alter).await;
    let now = T0 + 5_000;
    for id in ["whole", "legacy"] {
        f.insert(id, T0 + 250, b"the body").await;
        f.update(id, values).await;
    }
    let before = f.db.snapshot(&f.table, "whole").await;
    let legacy_before = f.store.read("legacy").await.unwrap().unwrap();
    for id in ["whole", "legacy"] {
        let copy = due(f, id, "a", now).await;
        assert_eq!(
            delete(f, "a", now + 10, &copy).await,
            DeleteOutcome::Deleted
        );
        assert!(!f.exists(id).await);
    }
    f.db.exec(&format!(
        "UPDATE {} SET row_columns = NULL WHERE id = 'legacy'",
        f.config.ledger_table
    ))
    .await;
    let restore = |id: &str, record: &tiergate_hotstore::HotRecord| RestoredRow {
        id: id.into(),
        body: b"the body".to_vec(),
        content_type: record.content_type.clone(),
        version: record.version.clone(),
        now_ms: now + 20,
    };
    assert!(
        f.store
            .restore_row(&restore("whole", &legacy_before))
            .await
            .unwrap()
    );
    assert_eq!(
        f.db.snapshot(&f.table, "whole").await,
        before,
        "{}",
        f.db.engine()
    );
    assert!(
        f.store
            .restore_row(&restore("legacy", &legacy_before))
            .await
            .unwrap()
    );
    assert_eq!(f.store.read("legacy").await.unwrap(), Some(legacy_before));
}

/// Only `deleted` records whose last change (kept by the delete step, not the time of the
/// copy) is before the cutoff expire; a count agrees with the claim; an expired record is
/// `Expired` to a write and forgets the row the ledger kept; one the API creates again is
/// hot, and the stale pass lets its expired row go.
async fn retention_takes_deleted_copies_by_the_time_their_record_last_changed(f: &Fixture) {
    let now = T0 + 50_000;
    f.insert("old", T0, b"old").await;
    f.insert("younger", T0 + 1_000, b"younger").await;
    f.insert("grace", T0, b"in its grace period").await;
    for id in ["old", "younger"] {
        let copy = due(f, id, "a", now).await;
        assert_eq!(
            delete(f, "a", now + 10, &copy).await,
            DeleteOutcome::Deleted
        );
    }
    archive(f, "grace", "a", now, now + 60_000).await;

    let cutoff = T0 + 500;
    let expiring = f.store.count_expiring(cutoff).await.unwrap();
    assert_eq!(
        (expiring.records, expiring.sample.clone()),
        (1, vec!["old".to_owned()])
    );
    let claimed = f
        .store
        .claim_expired(&lease("b", now + 20), cutoff, 10)
        .await
        .unwrap();
    assert_eq!(claimed, ["old"]);
    // Leased: another run takes nothing until the lease runs out.
    let other = f
        .store
        .claim_expired(&lease("c", now + 21), cutoff, 10)
        .await
        .unwrap();
    assert!(other.is_empty(), "{other:?}");
    assert!(
        !f.store
            .mark_expired(&lease("c", now + 22), "old")
            .await
            .unwrap()
    );
    assert!(
        f.store
            .mark_expired(&lease("b", now + 22), "old")
            .await
            .unwrap()
    );
    assert_eq!(state_of(f, "old").await, Some(LedgerState::Expired));
    let kept = format!(
        "SELECT count(*) FROM {} WHERE row_columns IS NOT NULL AND id = 'old'",
        f.config.ledger_table
    );
    assert_eq!(
        f.db.count(&kept).await,
        0,
        "an expired record's columns were kept"
    );
    assert!(f.store.count_expiring(cutoff).await.unwrap().records == 0);
    assert_eq!(
        f.store.before_write("old", now + 60_000).await.unwrap(),
        BeforeWrite::Expired
    );

    f.insert("old", now + 30, b"created again").await;
    assert_eq!(
        f.store.before_write("old", now + 60_000).await.unwrap(),
        BeforeWrite::Hot
    );
    let stale = f
        .store
        .claim_stale(&lease("d", now + 40), 10, None)
        .await
        .unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(
        (stale[0].id.as_str(), stale[0].state),
        ("old", LedgerState::Expired)
    );
}

/// A ledger written by a tiergate before schema version 2 (no whole rows, no changed
/// times): read-only commands read it as it is (and say what they cannot tell yet); the
/// archiver's store upgrades it, and retention counts a deleted row from its claim. That
/// tiergate published copies in their grace period beside the hot row: they become stale
/// copies, which a write hides and the stale pass removes.
async fn a_ledger_of_schema_1_is_read_as_it_is_and_upgraded_by_the_archiver(f: &Fixture) {
    // Built with today's steps, then taken back to what schema 1 had (a deleted row kept
    // the times of its claim and copy then).
    let now = T0 + 5_000;
    f.insert("before", T0, b"deleted by the old version").await;
    let copy = due(f, "before", "a", now).await;
    assert_eq!(
        delete(f, "a", now + 10, &copy).await,
        DeleteOutcome::Deleted
    );
    f.insert("in-grace", T0, b"copied, its hot row kept").await;
    archive(f, "in-grace", "a", now + 20, now + 1_000_000).await;
    let l = &f.config.ledger_table;
    f.db.exec(&format!(
        "DROP INDEX \"{l}_state_changed\"; ALTER TABLE {l} DROP COLUMN row_columns; \
         ALTER TABLE {l} DROP COLUMN record_changed_at; DROP TABLE {l}_walk; \
         DROP INDEX \"{l}_archived_due\"; CREATE INDEX \"{l}_state_due\" ON {l} (state, delete_after); \
         UPDATE {l} SET claimed_at = {now}, archived_at = {now} WHERE state = 'deleted'; \
         UPDATE {l}_schema SET version = 1"
    ))
    .await;

    let reader = HotStore::open_read_only(&f.config).await.unwrap();
    let status = reader.status().await.unwrap();
    assert_eq!(status.states[2].records, 1, "{status:?}");
    let behind = reader.count_expiring(now).await.unwrap_err().to_string();
    assert!(behind.contains("schema version 1"), "{behind}");
    assert_eq!(
        f.db.count(&format!(
            "SELECT CAST(max(version) AS bigint) FROM {l}_schema"
        ))
        .await,
        1,
        "a read-only open upgraded the ledger"
    );
    drop(reader);

    let upgraded = HotStore::open(&f.config).await.unwrap();
    assert_eq!(
        f.db.count(&format!(
            "SELECT CAST(max(version) AS bigint) FROM {l}_schema"
        ))
        .await,
        3
    );
    assert!(upgraded.walk().await.unwrap().end.is_none());
    // Its claim (at `now`) stands in for its last change.
    assert_eq!(upgraded.count_expiring(now).await.unwrap().records, 0);
    assert_eq!(upgraded.count_expiring(now + 1).await.unwrap().records, 1);
    assert_eq!(
        upgraded
            .before_write("in-grace", now + 60_000)
            .await
            .unwrap(),
        BeforeWrite::StaleCopy
    );
    let stale = upgraded
        .claim_stale(&lease("b", now + 30), 10, None)
        .await
        .unwrap();
    assert_eq!(
        stale
            .iter()
            .map(|s| (s.id.as_str(), s.state))
            .collect::<Vec<_>>(),
        [("in-grace", LedgerState::Deleted)]
    );
    // Opening again finds nothing to do.
    HotStore::open(&f.config).await.unwrap();
}

/// Looking only at the records changed since a time finds what the application wrote
/// since; what it deleted or wrote earlier waits for a pass over everything.
async fn claim_stale_since_looks_only_at_records_changed_since(f: &Fixture) {
    let now = T0 + 5_000;
    for id in ["changed-early", "changed-late", "gone", "deleted-back"] {
        f.insert(id, T0, id.as_bytes()).await;
    }
    for id in ["changed-early", "changed-late", "gone"] {
        archive(f, id, "a", now, now).await;
    }
    let copy = due(f, "deleted-back", "a", now).await;
    assert_eq!(delete(f, "a", now, &copy).await, DeleteOutcome::Deleted);
    f.touch("changed-early", T0 + 1_000).await;
    f.touch("changed-late", T0 + 3_000).await;
    f.remove("gone").await;
    f.insert("deleted-back", T0 + 4_000, b"new").await;

    let later = now + 1_000;
    let since = f
        .store
        .claim_stale(&lease("b", later), 100, Some(T0 + 2_000))
        .await
        .unwrap();
    let mut since: Vec<String> = since.into_iter().map(|copy| copy.id).collect();
    since.sort();
    assert_eq!(since, ["changed-late", "deleted-back"], "{}", f.db.engine());
    let rest = f
        .store
        .claim_stale(&lease("c", later), 100, None)
        .await
        .unwrap();
    let mut rest: Vec<String> = rest.into_iter().map(|copy| copy.id).collect();
    rest.sort();
    assert_eq!(rest, ["changed-early", "gone"]);
}

async fn claim_stale_finds_every_copy_that_no_longer_matches(f: &Fixture) {
    let now = T0 + 5_000;
    let records = [
        "archived-gone",
        "archived-changed",
        "archived-held",
        "copying-gone",
        "copying-changed",
        "deleted-back",
        "archived-ok",
        "deleted-ok",
        "copying-ok",
    ];
    for id in records {
        f.insert(id, T0, id.as_bytes()).await;
    }
    for id in [
        "archived-gone",
        "archived-changed",
        "archived-held",
        "archived-ok",
    ] {
        archive(f, id, "a", now, now).await;
    }
    for id in ["deleted-back", "deleted-ok"] {
        let copy = due(f, id, "a", now).await;
        let outcome = delete(f, "a", now, &copy).await;
        assert_eq!(outcome, DeleteOutcome::Deleted, "record {id}");
    }
    for id in ["copying-changed", "copying-gone", "copying-ok"] {
        assert_eq!(
            state_of(f, id).await,
            Some(LedgerState::Copying),
            "ledger of {id}"
        );
    }
    f.remove("archived-gone").await;
    f.touch("archived-changed", T0 + 1_000).await;
    f.hold("archived-held").await;
    f.remove("copying-gone").await;
    f.touch("copying-changed", T0 + 1_000).await;
    f.insert("deleted-back", T0 + 2_000, b"new").await;

    let later = now + 1_000; // the copying leases have expired
    let mut found = f
        .store
        .claim_stale(&lease("b", later), 100, None)
        .await
        .unwrap();
    found.sort_by(|a, b| a.id.cmp(&b.id));
    let stale = |id: &str, state| StaleCopy {
        id: id.into(),
        blob_key: (state != LedgerState::Copying).then(|| format!("records/{id}")),
        state,
    };
    let expected = [
        stale("archived-changed", LedgerState::Archived),
        stale("archived-gone", LedgerState::Archived),
        stale("archived-held", LedgerState::Archived),
        stale("copying-changed", LedgerState::Copying),
        stale("copying-gone", LedgerState::Copying),
        stale("deleted-back", LedgerState::Deleted),
    ];
    assert_eq!(found, expected);
    assert!(
        f.store
            .claim_stale(&lease("c", later), 100, None)
            .await
            .unwrap()
            .is_empty(),
        "stale rows claimed twice"
    );

    assert!(
        !f.store
            .forget(&lease("c", later), "archived-gone")
            .await
            .unwrap(),
        "forgot another run's row"
    );
    for StaleCopy { id, .. } in &expected {
        assert!(
            f.store.forget(&lease("b", later), id).await.unwrap(),
            "forget {id}"
        );
        assert_eq!(state_of(f, id).await, None, "ledger of {id}");
    }
    // Forgotten, the re-created record is an ordinary hot record again.
    let claims = f
        .store
        .claim_cold(
            &lease("c", later),
            T0 + 2_001,
            100,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert!(ids(&claims).contains(&"deleted-back"), "{claims:?}");
}

async fn count_cold_agrees_with_claim_cold(f: &Fixture) {
    let mut expected_bytes = 0;
    for i in 0..15_i64 {
        let body = vec![b'x'; 10 * (i as usize + 1)];
        f.insert(&format!("r{i:02}"), T0 + (15 - i) * 1_000, &body)
            .await;
        if i % 5 != 4 {
            expected_bytes += body.len() as u64;
        }
    }
    for i in [4, 9, 14] {
        f.hold(&format!("r{i:02}")).await;
    }
    f.insert("young", T0 + 100_000, b"young").await;
    let now = T0 + 200_000;
    let cutoff = T0 + 50_000;
    let count = f.store.count_cold(now, cutoff).await.unwrap();
    assert_eq!((count.records, count.bytes), (12, expected_bytes));
    let estimate = f.store.estimate_cold(now, cutoff).await.unwrap();
    match f.db.engine() {
        "sqlite" => assert_eq!(estimate, 12, "SQLite counts"),
        // The planner's guess for a table it has not analyzed: a number, not a count.
        _ => assert!(estimate >= 1, "PostgreSQL estimates {estimate}"),
    }
    let claims = f
        .store
        .claim_cold(&lease("a", now), cutoff, 100, &mut ColdCursor::default())
        .await
        .unwrap();
    assert_eq!(claims.len(), 12);
    assert_eq!(count.sample, ids(&claims)[..10]);
    assert_eq!(f.store.count_cold(now, cutoff).await.unwrap().records, 0);
    // Once the leases have expired, the rows could be claimed again, and are counted again.
    assert_eq!(
        f.store
            .count_cold(now + 1_000, cutoff)
            .await
            .unwrap()
            .records,
        12
    );
}

async fn status_counts_records_and_bytes_per_tier(f: &Fixture) {
    let now = T0 + 5_000;
    f.insert("a", T0, &[1; 100]).await;
    f.insert("b", T0, &[2; 50]).await;
    f.insert("c", T0, &[3; 7]).await;
    f.insert("d", T0 + 9_000, b"").await;
    let copy = due(f, "a", "run", now).await; // claims "c" too: it stays copying
    archive(f, "b", "run", now, now + 1_000).await;
    delete(f, "run", now, &copy).await;

    let status = f.store.status().await.unwrap();
    assert_eq!((status.hot_records, status.hot_bytes), (3, 57));
    let counts: Vec<_> = status
        .states
        .iter()
        .map(|s| (s.state, s.records, s.bytes, s.stored_bytes))
        .collect();
    assert_eq!(
        counts,
        [
            (LedgerState::Copying, 1, 0, 0),
            (LedgerState::Archived, 1, 100, 40),
            (LedgerState::Deleted, 1, 100, 40),
            (LedgerState::Expired, 0, 0, 0),
        ]
    );
    assert_eq!(status.last_run, None);

    let run = |started_ms, errors: Vec<String>| RunRow {
        owner: "run".into(),
        started_ms,
        finished_ms: started_ms + 10,
        claimed: 3,
        archived: 2,
        deleted: 1,
        restored: 0,
        failed: errors.len() as u64,
        bytes_in: 157,
        bytes_out: 80,
        dry_run: false,
        errors,
    };
    f.store.record_run(&run(now, vec![])).await.unwrap();
    let latest = run(
        now + 100,
        vec![
            "record c: blob PUT failed: 503".into(),
            "record d: timeout".into(),
        ],
    );
    f.store.record_run(&latest).await.unwrap();
    assert_eq!(f.store.status().await.unwrap().last_run, Some(latest));
}

async fn read_returns_the_record_with_its_version_and_time(f: &Fixture) {
    f.insert("r1", T0 + 1_234, b"{\"total\": 42}").await;
    let record = f.store.read("r1").await.unwrap().expect("r1 not found");
    assert_eq!(record.body, b"{\"total\": 42}");
    assert_eq!(record.changed_ms, T0 + 1_234);
    assert_eq!(record.content_type.as_deref(), Some("application/pdf"));
    let claims = f
        .store
        .claim_cold(
            &lease("a", T0 + 5_000),
            T0 + 5_000,
            1,
            &mut ColdCursor::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        claims[0].version, record.version,
        "claim and read disagree on the version"
    );
    f.touch("r1", T0 + 2_000).await;
    let changed = f.store.read("r1").await.unwrap().unwrap();
    assert_ne!(changed.version, record.version);
    assert_eq!(f.store.read("nope").await.unwrap(), None);
}

async fn an_owner_is_read_from_its_row_then_from_the_ledger_once_deleted(f: &Fixture) {
    let by_owner = HotStore::open(&HotConfig {
        owner_column: Some("state".into()),
        ..f.config.clone()
    })
    .await
    .unwrap();
    f.insert("r1", T0, b"x").await;
    f.update("r1", "state = 'ACME'").await;
    f.insert("r2", T0, b"y").await;
    let record = by_owner.read("r1").await.unwrap().unwrap();
    assert_eq!(record.owner.as_deref(), Some("ACME"));
    assert_eq!(f.store.read("r1").await.unwrap().unwrap().owner, None);
    assert_eq!(by_owner.owner("r1").await.unwrap().as_deref(), Some("ACME"));
    assert_eq!(by_owner.owner("r2").await.unwrap(), None, "a NULL owner");
    assert_eq!(by_owner.owner("nope").await.unwrap(), None);
    assert_eq!(f.store.owner("r1").await.unwrap(), None, "no owner column");
    // Deleted after its copy: a read that raced the delete still finds the owner, in the
    // ledger's image of the row.
    let now = T0 + 5_000;
    let copy = due(f, "r1", "a", now).await;
    assert_eq!(
        delete(f, "a", now + 10, &copy).await,
        DeleteOutcome::Deleted
    );
    assert!(!f.exists("r1").await);
    assert_eq!(by_owner.owner("r1").await.unwrap().as_deref(), Some("ACME"));
}

async fn ledger_pages_in_id_order(f: &Fixture) {
    for id in ["d", "b", "e", "a", "c"] {
        f.insert(id, T0, b"x").await;
    }
    f.store
        .claim_cold(&lease("a", T0 + 1), T0 + 1, 10, &mut ColdCursor::default())
        .await
        .unwrap();
    let first = f.store.ledger_page(None, 2).await.unwrap();
    let second = f.store.ledger_page(Some("b"), 2).await.unwrap();
    let last = f.store.ledger_page(Some("d"), 2).await.unwrap();
    let page_ids = |page: &[tiergate_hotstore::LedgerRow]| {
        page.iter().map(|r| r.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        (page_ids(&first), page_ids(&second), page_ids(&last)),
        (
            vec!["a".to_owned(), "b".into()],
            vec!["c".into(), "d".into()],
            vec!["e".into()]
        )
    );
}

async fn a_missing_column_is_invalid_and_named(f: &Fixture) {
    let open = |config: HotConfig| async move { HotStore::open(&config).await.unwrap_err() };
    let missing_column = HotConfig {
        version_column: Some("revision".into()),
        ..f.config.clone()
    };
    let error = open(missing_column).await;
    assert!(
        matches!(&error, StoreError::Invalid(m) if m.contains("hot.version_column") && m.contains("revision")),
        "{error}"
    );
    let missing_table = HotConfig {
        table: "no_such_records".into(),
        ..f.config.clone()
    };
    let error = open(missing_table).await;
    assert!(
        matches!(&error, StoreError::Invalid(m) if m.contains("hot.table") && m.contains("no_such_records")),
        "{error}"
    );
    let injected = HotConfig {
        id_column: "id; drop table x".into(),
        ..f.config.clone()
    };
    let error = open(injected).await;
    assert!(
        matches!(&error, StoreError::Invalid(m) if m.starts_with("hot.id_column")),
        "{error}"
    );
    let bad_predicate = HotConfig {
        exclude_where: Some("no_such_column = 1".into()),
        ..f.config.clone()
    };
    let error = open(bad_predicate).await;
    assert!(
        matches!(&error, StoreError::Invalid(m) if m.contains("exclude_where")),
        "{error}"
    );
}

/// Two stores (two hosts) each walk the table in claims of 7 from two tasks: no id twice,
/// none left.
async fn concurrent_claims_never_share_an_id(f: &Fixture) {
    for i in 0..200 {
        f.insert(&format!("r{i:03}"), T0 + i, b"x").await;
    }
    let other = HotStore::open(&f.config).await.unwrap();
    let now = T0 + 10_000;
    let claim_all = |store: HotStore, owner: &'static str| {
        tokio::spawn(async move {
            let (mut mine, mut walk) = (Vec::new(), ColdCursor::default());
            loop {
                let claims = store
                    .claim_cold(&lease(owner, now), now, 7, &mut walk)
                    .await
                    .unwrap();
                if claims.is_empty() {
                    return mine;
                }
                mine.extend(claims.into_iter().map(|claim| claim.id));
            }
        })
    };
    let (a, b) = tokio::join!(claim_all(f.store.clone(), "a"), claim_all(other, "b"));
    let (a, b) = (a.unwrap(), b.unwrap());
    let all: BTreeSet<&String> = a.iter().chain(&b).collect();
    assert_eq!(all.len(), a.len() + b.len(), "an id was claimed twice");
    assert_eq!(all.len(), 200, "records left unclaimed");
    eprintln!(
        "{}: a claimed {}, b claimed {}",
        f.db.engine(),
        a.len(),
        b.len()
    );
}
