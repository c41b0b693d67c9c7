//! Directories that tests own for their lifetime (blob storage roots, cache files).

use anyhow::Context as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static ROOT: OnceLock<PathBuf> = OnceLock::new();

/// A directory of its own under the system's temp directory (or [`ScratchDir::put_under`]'s
/// root), removed on drop.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Puts the scratch directories created from now on under `root` instead of the
    /// system's temp directory; the first call decides.
    pub fn put_under(root: PathBuf) -> anyhow::Result<()> {
        ROOT.set(root).map_err(|root| {
            anyhow::anyhow!(
                "scratch directories already go under {}",
                ROOT.get().unwrap_or(&root).display()
            )
        })
    }

    /// Creates an empty directory whose name says what it is for.
    pub fn create(purpose: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "tiergate-tests-{purpose}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let path = ROOT
            .get()
            .cloned()
            .unwrap_or_else(std::env::temp_dir)
            .join(name);
        // A leftover from an earlier run of the same process id is stale.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("creating scratch directory {}", path.display()))?;
        Ok(Self(path))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
