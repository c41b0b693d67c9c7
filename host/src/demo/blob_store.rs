//! The demo's blob storage: s3s-fs, the S3-compatible server, used as a library over a
//! local directory, checking every request's SigV4 signature like real S3.

use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use std::path::Path;

/// The bucket the demo archives to.
pub(super) const BUCKET: &str = "records";

/// An S3 service over `root` (the bucket is a directory in it), accepting only `key_id`
/// with `secret`.
pub(super) fn service(root: &Path, key_id: &str, secret: &str) -> anyhow::Result<S3Service> {
    std::fs::create_dir_all(root.join(BUCKET))?;
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("s3s-fs refused {}: {e:?}", root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(key_id, secret));
    Ok(builder.build())
}
