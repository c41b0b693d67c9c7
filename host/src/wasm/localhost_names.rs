//! Host names under `localhost` resolved to loopback without asking DNS, as RFC 6761
//! reserves them and as browsers and systemd-resolved do; glibc's resolver does not. S3's
//! virtual-hosted style needs it for a store on the same machine: the bucket's host is
//! then `bucket.localhost`. Every other name goes to the system's resolver.

use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use tower_service::Service;

/// The outbound connector's resolver.
#[derive(Clone, Debug)]
pub struct LocalhostNames(GaiResolver);

impl LocalhostNames {
    /// A resolver that asks the system for every name not under `localhost`.
    pub fn new() -> Self {
        Self(GaiResolver::new())
    }
}

impl Default for LocalhostNames {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `host` is a subdomain of `localhost` (`localhost` itself is left to the
/// system, whose hosts file may name it otherwise).
fn under_localhost(host: &str) -> bool {
    host.trim_end_matches('.')
        .to_ascii_lowercase()
        .strip_suffix(".localhost")
        .is_some_and(|subdomain| !subdomain.is_empty())
}

impl Service<Name> for LocalhostNames {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if under_localhost(name.as_str()) {
            // The connector puts the URL's port on these.
            let loopback = vec![
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
            ];
            return Box::pin(std::future::ready(Ok(loopback.into_iter())));
        }
        let lookup = self.0.call(name);
        Box::pin(async move { Ok(lookup.await?.collect::<Vec<_>>().into_iter()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subdomains_of_localhost_are_loopback_and_other_names_ask_the_system() {
        assert!(under_localhost("archive.localhost"));
        assert!(under_localhost("a.b.LOCALHOST."));
        assert!(!under_localhost("localhost"));
        assert!(!under_localhost("notlocalhost"));
        assert!(!under_localhost("archive.localhost.example.com"));
        assert!(
            !under_localhost("é.localhos"),
            "no byte slicing inside a character"
        );

        let mut resolver = LocalhostNames::new();
        let addrs: Vec<_> = resolver
            .call("archive.localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
        let system: Vec<_> = resolver
            .call("127.0.0.1".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(system[0].ip(), Ipv4Addr::LOCALHOST);
    }
}
