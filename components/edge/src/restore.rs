//! Before a record write goes to the origin: the tiergate host's restore endpoint makes
//! sure the record's hot row is there (it puts an archived record back, and keeps the
//! archiver from deleting a row in its grace period while the write is on its way). A
//! write that cannot be made safe goes nowhere: the origin would answer for a record it no
//! longer holds, and the copy would keep answering reads.

use crate::{body, outbound};
use spin_sdk::http::EmptyBody;
use std::time::{Duration, SystemTime};
use tiergate_core::RecordId;
use tiergate_core::restore_auth::HEADER;
use tiergate_core::settings::RestoreSettings;

/// How long a restore may take: one copy read, one row inserted.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The most of the endpoint's answer kept for an error message.
const ANSWER_LIMIT: usize = 4_096;

/// Asks the restore endpoint to make record `id` writable. `Err` carries the message for
/// the client (the endpoint's own, which never holds the key).
pub(crate) async fn before_write(restore: &RestoreSettings, id: &RecordId) -> Result<(), String> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let url = format!("{}/{id}", restore.url);
    let request = http::Request::builder()
        .method("POST")
        .uri(&url)
        .header(HEADER, restore.key.sign("POST", id, now))
        .extension(outbound::bounded(TIMEOUT))
        .body(EmptyBody::new())
        .map_err(|e| format!("cannot build the restore request for record {id}: {e}"))?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|e| restore_failed(id, &format!("the restore endpoint did not answer: {e:?}")))?;
    let (parts, answer) = response.into_parts();
    if parts.status == http::StatusCode::OK {
        return Ok(());
    }
    let text = body::read_whole(answer, None, ANSWER_LIMIT)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    Err(restore_failed(
        id,
        &format!(
            "the restore endpoint answered {}: {}",
            parts.status,
            text.trim()
        ),
    ))
}

fn restore_failed(id: &RecordId, why: &str) -> String {
    format!(
        "tiergate: the write was not sent: record {id} may be archived, and could not be \
         made writable ({why}); nothing was changed, try again\n"
    )
}
