//! A whole deployment on loopback ports: the origin, blob storage and tiergate in front.

use crate::blob_store::BlobStore;
use crate::gate::{Gate, GateConfig};
use crate::origin::Origin;

/// The origin, s3s-fs and tiergate reading from both, each on its own free port, fresh for
/// one test.
#[derive(Debug)]
pub struct Stack {
    /// The origin API.
    pub origin: Origin,
    /// Blob storage, holding the archived records.
    pub store: BlobStore,
    /// tiergate, in front of both.
    pub gate: Gate,
}

impl Stack {
    /// Starts everything with tiergate's default settings.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(|config| config).await
    }

    /// Starts everything, with tiergate's settings changed by `configure`.
    pub async fn start_with(
        configure: impl FnOnce(GateConfig) -> GateConfig,
    ) -> anyhow::Result<Self> {
        let origin = Origin::start().await?;
        let store = BlobStore::start().await?;
        let config = configure(GateConfig::new(origin.url()).blob_endpoint(store.endpoint()));
        let gate = Gate::start(&config).await?;
        Ok(Self {
            origin,
            store,
            gate,
        })
    }
}
