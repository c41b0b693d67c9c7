//! `--client-cpus`: wrk on some cores, every server on the others.
//!
//! On a small machine wrk shares the cores with the servers it measures and is often the
//! busiest process (a whole core at 8 connections on 2 cores), so the servers wait on it
//! and the ratio says little about them. Split, each server has the same cores to itself
//! and wrk cannot take them.

use anyhow::{bail, ensure};
use serde::Serialize;

/// Which cores the load generator runs on; the servers get the rest (in the report's
/// settings as they are).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Split {
    /// wrk's cores, as `taskset -c` takes them.
    pub(crate) client: Vec<usize>,
    /// The servers' cores.
    pub(crate) servers: Vec<usize>,
}

impl Split {
    /// Splits this machine's online cores: `client` for wrk, the others for the servers.
    pub(crate) fn new(client: &[usize]) -> anyhow::Result<Self> {
        let online = online();
        for &cpu in client {
            ensure!(
                cpu < online,
                "--client-cpus {cpu}: this machine has cores 0 to {}",
                online - 1
            );
        }
        let servers: Vec<usize> = (0..online).filter(|c| !client.contains(c)).collect();
        if servers.is_empty() {
            bail!("--client-cpus leaves no core for the servers");
        }
        Ok(Self {
            client: client.to_vec(),
            servers,
        })
    }

    /// Moves this process, and so every thread and child it starts later (tiergate, nginx,
    /// the origin, the blob store), onto the servers' cores. Call before any thread starts.
    pub(crate) fn pin_servers(&self) -> anyhow::Result<()> {
        // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes within it for
        // cores below CPU_SETSIZE, which `new` checked are online.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &cpu in &self.servers {
                libc::CPU_SET(cpu, &mut set);
            }
            if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
                bail!(
                    "pinning to cores {:?}: {}",
                    self.servers,
                    std::io::Error::last_os_error()
                );
            }
        }
        Ok(())
    }

    /// wrk's cores as `taskset -c` takes them: `1,3`.
    pub(crate) fn client_list(&self) -> String {
        list(&self.client)
    }

    /// The servers' cores, for the report.
    pub(crate) fn servers_list(&self) -> String {
        list(&self.servers)
    }
}

/// The machine's online cores, whatever this process is pinned to.
pub(crate) fn online() -> usize {
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online).unwrap_or(1)
}

fn list(cpus: &[usize]) -> String {
    cpus.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
