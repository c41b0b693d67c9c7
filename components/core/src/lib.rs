//! tiergate's logic, with no I/O: everything the edge and archiver components decide, as
//! plain functions and small state types that are tested natively.
//!
//! The components are thin adapters: they perform the I/O the core asks for (KV lookups,
//! signed HTTP requests, calls to the next hop) and feed the results back in. Time is always
//! passed in, never read here, so tests control it.
//!
//! - [`access`]: who reads which record ([`access::AccessMode`]); [`jwt`]: bearer tokens
//!   checked against the issuer's keys.
//! - [`archival`]: the archival protocol's decisions ([`PreparedCopy`], [`CopyFacts`]).
//! - [`instance_shares`](instance_shares()): a run's record limit shared among its instances.
//! - [`record_id`]: what a record id may look like ([`RecordId`]).
//! - [`route`]: which requests are record reads or writes ([`RecordRoute`], [`RequestKind`]).
//! - [`blob_key`]: where a record lives in blob storage ([`BlobKey`]).
//! - [`blob_object`]: the metadata stored with an archived record ([`ObjectMeta`]).
//! - [`blob_copy`]: a copy's GET, HEAD, PUT and DELETE, signed and their answers read
//!   ([`ReadCopy`], [`PutCopy`], [`DeleteCopy`]); [`blob_error`]: what went wrong
//!   ([`BlobError`]).
//! - [`cache_entry`]: the value stored in the edge KV cache, with its expiry ([`CacheEntry`]).
//! - [`digest`]: SHA-256 of records and objects, natively or by the host ([`digest::sha256_hex`]).
//! - [`encoding`]: how archived records are stored, compressed ([`Encoding`]).
//! - [`etag`]: stable entity tags and `if-none-match` ([`ETag`]).
//! - [`ledger`]: the states of a record in tiergate's ledger ([`LedgerState`]).
//! - [`put_checksum`]: the checksum a store checks a copy's PUT against ([`PutChecksum`]).
//! - [`read_plan`]: what to answer when a tier fails ([`ReadPlan`]).
//! - [`record_answer`]: the status, headers and bytes that serve a record
//!   ([`ReadRequest`], [`RecordAnswer`]).
//! - [`blob_backend`]: the blob stores behind one type ([`BlobBackend`]);
//!   [`s3`]: SigV4 presigned URLs ([`S3Signer`]); [`azure`]: Azure service SAS
//!   ([`AzureSigner`]); [`signed_url`]: URLs that carry their signature ([`SignedUrl`]).
//! - [`restore_auth`]: the restore endpoint's signed requests ([`restore_auth::RestoreKey`]).
//! - [`shared_cache`]: whether an origin answer may be kept in the shared edge cache.
//! - [`settings`]: the edge's settings, read by name from `wasi:config`/Spin variables.
//! - [`server_timing`]: the `server-timing` header.
//! - [`timed_out!`]: which `wasi:http` failures are timeouts.
//! - [`stale_sweeps`] and [`walk_resumes`]: which records a run's stale pass looks at, and
//!   where its walk over cold records starts.

pub mod access;
pub mod archival;
pub mod azure;
pub mod blob_backend;
pub mod blob_copy;
pub mod blob_error;
pub mod blob_key;
pub mod blob_object;
pub mod cache_entry;
pub mod digest;
pub mod encoding;
pub mod etag;
pub mod instance_shares;
pub mod jwt;
pub mod ledger;
pub mod put_checksum;
pub mod read_plan;
pub mod record_answer;
pub mod record_id;
pub mod restore_auth;
pub mod route;
pub mod run_report;
pub mod s3;
pub mod server_timing;
pub mod settings;
pub mod shared_cache;
pub mod signed_url;
pub mod stale_sweeps;
pub mod timed_out;
pub mod walk_resumes;

pub use archival::{CopyFacts, MAX_RECORD_BYTES, PreparedCopy};
pub use azure::AzureSigner;
pub use blob_backend::BlobBackend;
pub use blob_copy::{DeleteCopy, PutCopy, ReadCopy};
pub use blob_error::{BlobError, BlobProblem};
pub use blob_key::BlobKey;
pub use blob_object::ObjectMeta;
pub use cache_entry::CacheEntry;
pub use encoding::Encoding;
pub use etag::ETag;
pub use instance_shares::instance_shares;
pub use ledger::LedgerState;
pub use put_checksum::{PutChecksum, PutReceipt};
pub use read_plan::{BlobMiss, Failure, OriginFailure, ReadPlan, Source, Verdict};
pub use record_answer::{AnswerBody, ReadRequest, RecordAnswer, RecordFacts};
pub use record_id::RecordId;
pub use route::{RecordRoute, RequestKind};
pub use run_report::{RecordError, RunReport, WaitingForRetry};
pub use s3::S3Signer;
pub use settings::{ArchiverSettings, EdgeSettings};
pub use signed_url::{SignedPut, SignedUrl};
pub use stale_sweeps::StaleSweeps;
pub use walk_resumes::WalkResumes;
