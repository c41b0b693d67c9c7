//! `jwt` mode at the edge: the request's bearer token checked before any tier answers, with
//! the issuer's keys fetched, kept and refreshed here (the checks are `tiergate-core`'s).
//!
//! Keys live in this instance's memory, parsed, and in the KV store as the issuer's JWKS
//! document, so that a new instance (and every host sharing a Redis cache) starts from the
//! keys another fetched. They are fetched again once `auth_jwks_refresh_seconds` have
//! passed, and at once when a token names a key they do not hold (the issuer has rotated
//! its keys), at most once per [`UNKNOWN_KEY_REFETCH`] so that tokens with made-up key ids
//! cannot turn into a flood of requests to the issuer.
//!
//! Memos spare the work a cache hit would otherwise repeat on every request: tokens
//! verified in the last [`VERIFIED_FOR`] seconds, by a SHA-256 of token and rules (never the
//! token), and the owners of records, by their etag (the SHA-256 of their bytes), both in
//! this instance and in the KV store, so that a signature is checked and a 300 KB body
//! parsed once, not per read nor per instance.

use crate::{body, outbound};
use sha2::{Digest as _, Sha256};
use spin_sdk::http::{EmptyBody, HeaderMap};
use spin_sdk::key_value::Store;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tiergate_core::ETag;
use tiergate_core::access::{
    Caller, JwtRules, KeySource, OwnerAt, Reader, Refusal, RefusalAnswer, owner_of,
};
use tiergate_core::jwt::{self, Keys, Rejected};

/// The KV key of the issuer's JWKS document: 8 bytes of the unix second it was fetched at
/// (big-endian), then the document.
const KV_KEY: &str = "auth:jwks";

/// Least time between two fetches made for an unknown key, or after a failed fetch.
const UNKNOWN_KEY_REFETCH: u64 = 10;

/// How long the issuer has to answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest JWKS document read (issuers publish a handful of keys).
const JWKS_LIMIT: usize = 256 * 1024;

/// How long a verified token is taken at its word without checking its signature again:
/// a key the issuer withdraws stops working within this, or at the token's expiry if
/// sooner.
const VERIFIED_FOR: u64 = 60;

/// Most entries in each memo; a full memo is emptied (simpler than an LRU, and refilled by
/// the next requests at the cost of one check each).
const MEMO_ENTRIES: usize = 4_096;

/// A memo of this instance: a map made on first use.
type Memo<K, V> = Mutex<Option<HashMap<K, V>>>;

/// Tokens verified lately, by SHA-256: who they make the caller, and until when.
static VERIFIED: Memo<[u8; 32], (Caller, u64)> = Mutex::new(None);

/// Owners of records, by etag and pointer.
static OWNERS: Memo<(String, String), Option<String>> = Mutex::new(None);

/// The keys this instance holds.
static HELD: Mutex<Option<Held>> = Mutex::new(None);

struct Held {
    keys: Arc<Keys>,
    /// When they were fetched (unix seconds); `u64::MAX` for inline keys, never refetched.
    fetched_at: u64,
    /// When a fetch was last tried out of turn (unknown key) or failed.
    tried_at: u64,
}

/// Who the request's bearer token says is calling, or why it is refused.
pub(crate) async fn caller(
    rules: &JwtRules,
    headers: &HeaderMap,
    now: u64,
) -> Result<Caller, Refusal> {
    let authorization = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let token = jwt::bearer(authorization)?;
    // The rules that decide who a token makes the caller are part of the key: hosts that
    // share a Redis cache under other settings must not take each other's verdicts.
    let mut hasher = Sha256::new();
    let owner_claim = rules
        .owner
        .as_ref()
        .map_or("", |owner| owner.claim.as_str());
    let read_all = rules.read_all.as_deref().unwrap_or("");
    for part in [token, &rules.issuer, &rules.audience, owner_claim, read_all] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if let Some((caller, until)) = memo(&VERIFIED).as_ref().and_then(|m| m.get(&digest))
        && now <= *until
    {
        return Ok(caller.clone());
    }
    // Another instance may have verified it: a signature check (an RSA verification in
    // wasm) costs more than a KV read.
    let kv_key = format!("auth:token:{}", hex::encode(digest));
    let store = Store::open_default().await.ok();
    if let Some(store) = &store
        && let Ok(Some(value)) = store.get(&kv_key).await
        && let Some((until, caller)) = value.split_first_chunk::<8>()
        && now <= u64::from_be_bytes(*until)
        && let Some(caller) = decode_caller(caller)
    {
        remember(
            &VERIFIED,
            digest,
            (caller.clone(), u64::from_be_bytes(*until)),
        );
        return Ok(caller);
    }
    let keys = keys(rules, now, false).await?;
    let claims = match jwt::verify(token, rules, &keys, now) {
        Err(Rejected::UnknownKey) => {
            let fresh = keys_for_unknown_kid(rules, now).await?;
            jwt::verify(token, rules, &fresh, now)
        }
        verified => verified,
    }?;
    let caller = rules.caller(&claims)?;
    let expires = claims["exp"].as_f64().map_or(0, |exp| exp as u64);
    let until = (now + VERIFIED_FOR).min(expires.saturating_add(rules.leeway.as_secs()));
    remember(&VERIFIED, digest, (caller.clone(), until));
    if let Some(store) = &store {
        let mut value = until.to_be_bytes().to_vec();
        value.extend(encode_caller(&caller));
        if let Err(e) = store.set(&kv_key, &value).await {
            eprintln!("tiergate edge: keeping a verified token's digest failed: {e:?}");
        }
    }
    Ok(caller)
}

/// A caller as the KV store keeps it: 0 for everything, or 1 and the owner's bytes.
fn encode_caller(caller: &Caller) -> Vec<u8> {
    match caller {
        Caller::Everything => vec![0],
        Caller::Owner(owner) => [&[1][..], owner.as_bytes()].concat(),
    }
}

fn decode_caller(value: &[u8]) -> Option<Caller> {
    match value.split_first()? {
        (0, []) => Some(Caller::Everything),
        (1, owner) => String::from_utf8(owner.to_vec()).ok().map(Caller::Owner),
        _ => None,
    }
}

/// What to answer instead of the record `etag`, `body`, if it is not the `reader`'s;
/// `stored_owner` is the owner the tier had with it (an owner column's value).
pub(crate) async fn refusal(
    reader: Option<&Reader<'_>>,
    etag: &ETag,
    body: &[u8],
    stored_owner: Option<&str>,
) -> Option<RefusalAnswer> {
    let reader = reader?;
    let owner = match reader.owner_at() {
        Some(OwnerAt::Pointer(pointer)) => owner(etag, body, pointer).await,
        Some(OwnerAt::Column(_)) => stored_owner.map(str::to_owned),
        None => None,
    };
    reader.refusal(owner.as_deref())
}

/// The owner of a record at `pointer`: from this instance's memo, else from the KV store
/// (where another instance put it), else parsed from the body and kept in both. Keyed by
/// etag, a digest of the bytes, so never stale.
async fn owner(etag: &ETag, body: &[u8], pointer: &str) -> Option<String> {
    let key = (etag.as_str().to_owned(), pointer.to_owned());
    if let Some(owner) = memo(&OWNERS).as_ref().and_then(|m| m.get(&key)) {
        return owner.clone();
    }
    let kv_key = format!("owner:{}:{pointer}", etag.as_str());
    let store = Store::open_default().await.ok();
    let kept = match &store {
        Some(store) => store.get(&kv_key).await.ok().flatten(),
        None => None,
    };
    // One byte, 1 for an owner (its bytes follow) or 0 for none.
    let owner = match kept.as_deref().and_then(<[u8]>::split_first) {
        Some((1, owner)) => String::from_utf8(owner.to_vec()).ok(),
        Some(_) => None,
        None => {
            let owner = owner_of(body, pointer);
            if let Some(store) = &store {
                let mut value = vec![u8::from(owner.is_some())];
                value.extend(owner.iter().flat_map(|o| o.as_bytes()));
                if let Err(e) = store.set(&kv_key, &value).await {
                    eprintln!("tiergate edge: keeping a record's owner failed: {e:?}");
                }
            }
            owner
        }
    };
    remember(&OWNERS, key, owner.clone());
    owner
}

fn memo<K, V>(memo: &'static Memo<K, V>) -> MutexGuard<'static, Option<HashMap<K, V>>> {
    memo.lock().unwrap_or_else(PoisonError::into_inner)
}

fn remember<K: Eq + Hash, V>(memo_of: &'static Memo<K, V>, key: K, value: V) {
    let mut guard = memo(memo_of);
    let map = guard.get_or_insert_with(HashMap::new);
    if map.len() >= MEMO_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

async fn keys_for_unknown_kid(rules: &JwtRules, now: u64) -> Result<Arc<Keys>, Refusal> {
    let may_fetch = matches!(rules.keys, KeySource::Url(_))
        && lock()
            .as_ref()
            .is_none_or(|held| now >= held.tried_at.saturating_add(UNKNOWN_KEY_REFETCH));
    if may_fetch {
        keys(rules, now, true).await
    } else {
        Err(Rejected::UnknownKey.into())
    }
}

/// The keys to check tokens with: held ones while fresh, else the KV store's while fresh,
/// else fetched (always fetched when `refetch`).
async fn keys(rules: &JwtRules, now: u64, refetch: bool) -> Result<Arc<Keys>, Refusal> {
    let url = match &rules.keys {
        KeySource::Inline(document) => return inline(document),
        KeySource::Url(url) => url,
    };
    let refresh = rules.keys_refresh.as_secs();
    let fresh = |fetched_at: u64| now < fetched_at.saturating_add(refresh);
    // Keys held past their time still serve while the issuer cannot be reached; an instance
    // that never had any answers 503 meanwhile.
    let (stale, tried_at) = {
        let held = lock();
        match held.as_ref() {
            Some(held) if !refetch && fresh(held.fetched_at) => return Ok(held.keys.clone()),
            Some(held) => (
                Some(held.keys.clone()).filter(|keys| !keys.is_empty()),
                held.tried_at,
            ),
            None => (None, 0),
        }
    };
    let store = Store::open_default().await.ok();
    if !refetch
        && let Some(store) = &store
        && let Ok(Some(value)) = store.get(KV_KEY).await
        && let Some((fetched_at, document)) = value.split_first_chunk::<8>()
        && fresh(u64::from_be_bytes(*fetched_at))
        && let Ok(keys) = Keys::from_jwks(document)
    {
        return Ok(hold(keys, u64::from_be_bytes(*fetched_at), tried_at));
    }
    // After a failed fetch, the keys at hand serve (and a first fetch is not retried) until
    // the issuer has had time to come back.
    if !refetch && now < tried_at.saturating_add(UNKNOWN_KEY_REFETCH) {
        return stale.ok_or_else(unavailable);
    }
    match fetch(url).await {
        Ok((document, keys)) => {
            if let Some(store) = &store {
                let mut value = now.to_be_bytes().to_vec();
                value.extend_from_slice(&document);
                if let Err(e) = store.set(KV_KEY, &value).await {
                    eprintln!(
                        "tiergate edge: keeping the issuer's keys in the cache failed: {e:?}"
                    );
                }
            }
            Ok(hold(keys, now, if refetch { now } else { tried_at }))
        }
        Err(why) => {
            eprintln!("tiergate edge: fetching the issuer's keys from {url} failed: {why}");
            let mut held = lock();
            match held.as_mut() {
                Some(held) => held.tried_at = now,
                None => {
                    *held = Some(Held {
                        keys: Arc::default(),
                        fetched_at: 0,
                        tried_at: now,
                    });
                }
            }
            stale.ok_or_else(unavailable)
        }
    }
}

fn unavailable() -> Refusal {
    Refusal::KeysUnavailable("the issuer's keys could not be fetched".into())
}

fn inline(document: &str) -> Result<Arc<Keys>, Refusal> {
    if let Some(held) = lock().as_ref() {
        return Ok(held.keys.clone());
    }
    // Checked when the settings were read: a parse error here cannot happen.
    let keys = Keys::from_jwks(document.as_bytes()).map_err(Refusal::KeysUnavailable)?;
    Ok(hold(keys, u64::MAX, 0))
}

fn hold(keys: Keys, fetched_at: u64, tried_at: u64) -> Arc<Keys> {
    let keys = Arc::new(keys);
    *lock() = Some(Held {
        keys: keys.clone(),
        fetched_at,
        tried_at,
    });
    keys
}

fn lock() -> std::sync::MutexGuard<'static, Option<Held>> {
    HELD.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The issuer's JWKS document and its keys.
async fn fetch(url: &str) -> Result<(Vec<u8>, Keys), String> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .extension(outbound::bounded(FETCH_TIMEOUT))
        .body(EmptyBody::new())
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|e| format!("no answer: {e:?}"))?;
    let (parts, body) = response.into_parts();
    if parts.status != http::StatusCode::OK {
        return Err(format!("the issuer answered {}", parts.status));
    }
    let document = body::read_whole(body, None, JWKS_LIMIT)
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    let keys = Keys::from_jwks(&document)?;
    if keys.is_empty() {
        return Err("the document holds no RS256 or ES256 signing key".into());
    }
    Ok((document, keys))
}
