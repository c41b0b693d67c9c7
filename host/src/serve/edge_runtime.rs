//! The edge component on wasmtime: one engine, the component compiled once and linked
//! with the host context's imports and the next hop, instantiated per worker.

use crate::config::Config;
use crate::context::HostContext;
use crate::kv::KvBackend;
use crate::restore::endpoint::InProcessRestore;
use crate::serve::next_hop::{NextHop, Origin};
use crate::serve::owners::Owners;
use crate::wasm::Allocation;
use crate::wasm::outbound::{HttpClient, InProcess, Outbound};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::error::Context as _;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// The edge component, built by `build.rs` and embedded in the binary.
pub(super) const EDGE_COMPONENT: &[u8] = include_bytes!(env!("TIERGATE_EDGE_WASM"));

/// Requests one instance serves before it is replaced, and at once: wasmtime serve's p3
/// defaults, which keep instance state (and its memory) from growing without bound.
const REQUESTS_PER_INSTANCE: usize = 128;
const CONCURRENT_PER_INSTANCE: usize = 16;
/// How long an idle instance is kept for the next request.
const IDLE_INSTANCE: Duration = Duration::from_secs(10);
/// Instances the pooling allocator reserves room for.
const POOLED_INSTANCES: u32 = 256;

/// The data of one edge instance's store: the host context, with the next hop as the
/// edge's own part.
pub(super) type StoreData = HostContext<Origin>;

/// What every instance shares.
struct Shared {
    /// The edge cache.
    kv: Arc<dyn KvBackend>,
    /// The component's settings.
    variables: Arc<HashMap<String, String>>,
    /// The next hop.
    origin: Origin,
    /// Outbound client and policy.
    client: HttpClient,
    /// Where the component may send requests: blob storage, the token issuer.
    allowed_authorities: Arc<[String]>,
    /// The restore endpoint, answered in process, when there is a hot database.
    restore: Option<Arc<dyn InProcess>>,
    /// Longest a request may take inside the component.
    request_timeout: Duration,
    /// Set when the server stops: workers dropped from then on were stopped, not broken.
    stopping: Arc<AtomicBool>,
}

/// The compiled edge, ready to instantiate per worker.
pub(super) struct EdgeRuntime {
    engine: Engine,
    pre: ProxyPre<StoreData>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EdgeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeRuntime")
            .field("allowed_authorities", &self.shared.allowed_authorities)
            .field("request_timeout", &self.shared.request_timeout)
            .finish_non_exhaustive()
    }
}

impl EdgeRuntime {
    /// Compiles the embedded edge component and links it.
    pub(super) fn new(config: &Config, kv: Arc<dyn KvBackend>) -> wasmtime::Result<Self> {
        let engine = crate::wasm::engine(Allocation::Pooled(POOLED_INSTANCES))?;
        let component =
            Component::new(&engine, EDGE_COMPONENT).context("compiling the edge component")?;
        let mut linker = crate::context::linker(&engine)?;
        crate::wasm::bindings::wasi::http::handler::add_to_linker::<_, NextHop>(
            &mut linker,
            |d: &mut StoreData| &d.component,
        )?;
        let pre = linker
            .instantiate_pre(&component)
            .context("linking the edge component")?;
        let pre =
            ProxyPre::P3(ServicePre::new(pre).context("the edge must export wasi:http/handler")?);

        let client = HttpClient::new();
        let restore = InProcessRestore::from_config(config, kv.clone());
        // With an owner column (`[edge.auth] owner_column`), owners come from the hot
        // database the restores use.
        let by_column = config
            .archive
            .as_ref()
            .is_some_and(|archive| archive.hot.owner_column.is_some());
        let owners = restore.as_ref().filter(|_| by_column).map(|restore| {
            Owners::new(
                config.record_route.clone(),
                restore.restorer.hot_store().clone(),
            )
        });
        let restore = restore.map(|restore| restore as Arc<dyn InProcess>);
        let shared = Arc::new(Shared {
            restore,
            kv,
            variables: Arc::new(config.edge_variables.clone()),
            origin: Origin::new(client.clone(), &config.origin.url, config.origin.timeout)?
                .with_owners(owners),
            client,
            allowed_authorities: config
                .blob_authority
                .iter()
                .cloned()
                .chain(
                    config
                        .auth_url
                        .as_ref()
                        .map(crate::wasm::outbound::authority_of),
                )
                .collect(),
            request_timeout: config.origin.timeout + Duration::from_secs(30),
            stopping: Arc::default(),
        });
        Ok(Self {
            engine,
            pre,
            shared,
        })
    }

    /// A flag to set when the server stops, so that the workers dropped with the runtime are
    /// not reported as failed.
    pub(super) fn stopping(&self) -> Arc<AtomicBool> {
        self.shared.stopping.clone()
    }

    /// The edge's next hop, on the same pooled client, for requests the host passes itself.
    pub(super) fn origin(&self) -> Origin {
        self.shared.origin.clone()
    }
}

impl HandlerState for EdgeRuntime {
    type StoreData = StoreData;
    type WorkerExpiration = Expiration;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<StoreData, Expiration, Worker>> {
        let outbound = Outbound {
            client: self.shared.client.clone(),
            allowed_authorities: self.shared.allowed_authorities.clone(),
            in_process: self.shared.restore.clone(),
            default_timeout: self.shared.request_timeout,
        };
        let data = StoreData::new(
            "edge",
            outbound,
            self.shared.kv.clone(),
            self.shared.variables.clone(),
            self.shared.origin.clone(),
        );
        let mut store = Store::new(&self.engine, data);
        let proxy = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            proxy,
            view: |d: &mut StoreData| d.http(),
            expiration: Expiration::new(self.shared.request_timeout),
            state: Worker {
                request_timeout: self.shared.request_timeout,
                stopping: self.shared.stopping.clone(),
            },
        })
    }
}

/// When a worker stops taking requests.
pub(super) struct Worker {
    request_timeout: Duration,
    stopping: Arc<AtomicBool>,
}

impl WorkerState for Worker {
    type StoreData = StoreData;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= REQUESTS_PER_INSTANCE {
            ShouldAccept::Never
        } else if concurrent >= CONCURRENT_PER_INSTANCE {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _: StoreContextMut<'_, StoreData>,
        _: (),
        _: wasmtime::component::GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        Box::pin(tokio::time::sleep(self.request_timeout))
    }

    fn drop(&self, _: Store<StoreData>, result: wasmtime::Result<()>) {
        let Err(e) = result else { return };
        // wasmtime reports a worker whose task was dropped as "worker panicked"; when the
        // server stops, the runtime drops every idle worker's task that way, and nothing
        // went wrong. A real panic still unwinds through here.
        if self.stopping.load(Ordering::Acquire) && !std::thread::panicking() {
            tracing::debug!(error = %format!("{e:#}"), "edge instance stopped with the server");
        } else {
            tracing::warn!(error = %format!("{e:#}"), "edge instance ended with an error");
        }
    }
}

/// When a worker's instance is dropped: idle too long, or a request over its deadline
/// (enforced here too, as the handler docs ask, since a busy guest can starve the inner loop).
pub(super) struct Expiration {
    request_timeout: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Expiration {
    fn new(request_timeout: Duration) -> Self {
        Self {
            request_timeout,
            timer: Box::pin(tokio::time::sleep(IDLE_INSTANCE)),
        }
    }
}

impl WorkerExpiration for Expiration {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let limit = match status {
            WorkerStatus::Idle => IDLE_INSTANCE,
            WorkerStatus::Requests | WorkerStatus::PostReturn => self.request_timeout,
        };
        let deadline = start + limit;
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        self.timer.as_mut().reset(deadline.into());
        // Registers the waker for the deadline; the answer is taken from the clock above.
        let _ = self.timer.as_mut().poll(cx);
        Poll::Pending
    }
}
