//! `tiergate demo`: the whole system in one process on embedded defaults. A sample billing
//! API over SQLite (the origin), generated records spread over two years, s3s-fs as blob
//! storage over a local directory, the edge in front of the API, and the archiver on a
//! short schedule, all on loopback, all keeping their data in one directory so that a
//! restart carries on where the last run stopped.
//!
//! - [`dataset`]: the generated billing records;
//! - [`billing_api`]: the sample API;
//! - [`blob_store`]: the embedded S3-compatible store;
//! - [`issuer`]: with `--auth jwt`, a token issuer and its keys.

mod billing_api;
mod blob_store;
mod dataset;
mod issuer;

use crate::archive::Archiver;
use crate::config::Config;
use crate::kv;
use crate::ops::admin::{self, Admin};
use crate::ops::plain_server::serve;
use crate::restore::endpoint::InProcessRestore;
use crate::serve::{RunningServer, Server};
use anyhow::Context as _;
use billing_api::BillingApi;
use hyper::body::Incoming;
use hyper::service::service_fn;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the demo runs with.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the edge serves.
    pub listen: SocketAddr,
    /// Where `/metrics` is served.
    pub admin: SocketAddr,
    /// Where everything is kept.
    pub data_dir: PathBuf,
    /// Records generated on first start.
    pub records: u64,
    /// When the archiver runs (cron with seconds).
    pub schedule: String,
    /// Seconds an archived record stays in the API's database.
    pub grace_seconds: u64,
    /// Whether access is checked: bearer tokens from a token issuer of the demo's own.
    pub jwt: bool,
}

/// With `--auth jwt`: tokens for two customers, to read the example old record with.
#[derive(Debug, Clone)]
pub struct DemoTokens {
    /// The customer the example old record belongs to, and a token of theirs.
    pub owner: (String, String),
    /// Another customer, and a token of theirs.
    pub other: (String, String),
    /// A token of support staff, who read every record (`records.read_all`).
    pub staff: String,
}

/// The demo, running.
#[derive(Debug)]
pub struct RunningDemo {
    /// The edge.
    pub edge: RunningServer,
    /// The metrics endpoint.
    pub admin: Admin,
    /// The sample API (the origin).
    pub api_url: String,
    /// The blob store.
    pub blob_url: String,
    /// The config the demo runs with, for `tiergate status` and `archive --once`.
    pub config_path: PathBuf,
    /// Records in the API's database when the demo started.
    pub hot_records: u64,
    /// An old record (archived within a run or two) and a recent one, to try.
    pub examples: (String, String),
    /// With `--auth jwt`, tokens to read them with.
    pub tokens: Option<DemoTokens>,
    /// What it was started with.
    pub options: DemoOptions,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningDemo {
    /// Stops the edge (letting open requests finish), the archiver and the servers.
    pub async fn shutdown(self) {
        self.admin.stopping();
        for task in &self.tasks {
            task.abort();
        }
        self.edge.shutdown().await;
    }
}

/// Starts everything; generates the records on the first start in `data_dir`.
pub async fn start(options: &DemoOptions) -> anyhow::Result<RunningDemo> {
    let dir = &options.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;

    let db_path = dir.join("records.db");
    let api = BillingApi::open(&db_path)?;
    if api.count()? == 0 {
        generate(&api, options.records)?;
    }
    let hot_records = api.count()?;
    let now = SystemTime::now();
    let old = dataset::record(0, options.records, now);
    let examples = (
        old.id.clone(),
        dataset::record(options.records - 1, options.records, now).id,
    );
    let mut tasks = Vec::new();
    let (issuer, tokens) = if options.jwt {
        let (issuer, task) = issuer::Issuer::start().await?;
        tasks.push(task);
        let owner = serde_json::from_str::<serde_json::Value>(&old.body)?["customer"]["id"]
            .as_str()
            .context("demo records name their customer")?
            .to_owned();
        // A customer id the dataset never makes (it counts to CUST-04999).
        let other = "CUST-99999".to_owned();
        let tokens = DemoTokens {
            owner: (owner.clone(), issuer.token(&owner, None)?),
            other: (other.clone(), issuer.token(&other, None)?),
            staff: issuer.token("support", Some(issuer::READ_ALL))?,
        };
        (Some(issuer), Some(tokens))
    } else {
        (None, None)
    };

    let api_listener = TcpListener::bind("127.0.0.1:0").await?;
    let api_url = format!("http://{}", api_listener.local_addr()?);
    let api_task = serve(
        api_listener,
        service_fn(move |request: http::Request<Incoming>| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(request).await) }
        }),
    );

    let (key_id, secret) = credentials(&dir)?;
    let blob_listener = TcpListener::bind("127.0.0.1:0").await?;
    let blob_url = format!("http://{}", blob_listener.local_addr()?);
    let blob_task = serve(
        blob_listener,
        blob_store::service(&dir.join("blob"), &key_id, &secret)?,
    );

    // Bound before the config is written, so that it names the port (`archive --once`
    // drops cached copies through it).
    let admin_listener = admin::bind(options.admin).await?;
    let admin_addr = admin_listener.local_addr()?;
    let config_path = dir.join("tiergate.toml");
    std::fs::write(
        &config_path,
        config_text(
            options,
            admin_addr,
            &dir,
            &api_url,
            &blob_url,
            issuer.as_ref(),
        ),
    )
    .with_context(|| format!("writing {}", config_path.display()))?;
    let config = Config::load(&config_path)?;
    let cache = kv::open(&config.cache)?;
    let restore = InProcessRestore::from_config(&config, cache.clone());
    let admin = Admin::start(admin_listener, restore, Some(cache.clone())).await?;
    let archiver = Archiver::new(&config, cache.clone()).await?;
    let schedule = config
        .archive
        .as_ref()
        .and_then(|a| a.schedule.clone())
        .expect("the demo's config has a schedule");
    let archive_task = crate::archive::schedule::spawn(
        Some(Arc::new(archiver)),
        config.clone(),
        cache.clone(),
        schedule,
        None,
    );
    let edge = Server::start_with_cache(config, cache).await?;
    admin.ready();
    tasks.extend([api_task, blob_task, archive_task]);
    Ok(RunningDemo {
        edge,
        admin,
        api_url,
        blob_url,
        config_path,
        hot_records,
        examples,
        tokens,
        options: options.clone(),
        tasks,
    })
}

fn generate(api: &BillingApi, count: u64) -> anyhow::Result<()> {
    let now = SystemTime::now();
    let bar = indicatif::ProgressBar::new(count).with_message("generating billing records");
    api.insert_all((0..count).map(|n| {
        bar.inc(1);
        let record = dataset::record(n, count, now);
        let changed = chrono::DateTime::<chrono::Utc>::from(record.changed)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        (record.id, record.body, changed)
    }))?;
    bar.finish_and_clear();
    Ok(())
}

/// The blob store's key pair: made on the first start and kept in the data directory, in
/// the file the config names as `credentials_file`.
fn credentials(dir: &Path) -> anyhow::Result<(String, String)> {
    let path = dir.join("blob-credentials");
    if !path.exists() {
        let seed = format!(
            "{:?}{}{}",
            SystemTime::now(),
            std::process::id(),
            dir.display()
        );
        let secret = hex::encode(Sha256::digest(seed.as_bytes()));
        std::fs::write(
            &path,
            format!(
                "# The demo blob store's keys (this directory only).\n\
                 {}=tiergate-demo\n{}={secret}\n",
                crate::config::ENV_BLOB_ACCESS_KEY_ID,
                crate::config::ENV_BLOB_SECRET_ACCESS_KEY
            ),
        )?;
    }
    let text = std::fs::read_to_string(&path)?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
            .with_context(|| format!("{} lacks {name}", path.display()))
    };
    Ok((
        value(crate::config::ENV_BLOB_ACCESS_KEY_ID)?,
        value(crate::config::ENV_BLOB_SECRET_ACCESS_KEY)?,
    ))
}

fn config_text(
    options: &DemoOptions,
    admin: SocketAddr,
    dir: &Path,
    api_url: &str,
    blob_url: &str,
    issuer: Option<&issuer::Issuer>,
) -> String {
    // With an issuer, the cache hits go through the component, which checks every token.
    let (auth, hits_in_host) = match issuer {
        None => ("mode = \"none\"".to_owned(), true),
        Some(issuer) => (
            format!(
                "mode = \"jwt\"\nissuer = \"{}\"\naudience = \"{}\"\njwks_url = \"{}\"\n\
                 owner_claim = \"customer_id\"\nowner_pointer = \"/customer/id\"\n\
                 read_all = \"{}\"",
                issuer::ISSUER,
                issuer::AUDIENCE,
                issuer.jwks_url,
                issuer::READ_ALL
            ),
            false,
        ),
    };
    format!(
        r#"# Written by `tiergate demo` at each start (its ports change): use it with
# `tiergate status --config {dir}/tiergate.toml` while the demo runs.

[server]
listen = "{listen}"
admin_listen = "{admin}"

[edge.auth]
{auth}

[origin]
url = "{api_url}"

[cache]
backend = "memory"
ttl_seconds = 300
answer_hits_in_host = {hits_in_host}

[blob]
backend = "s3"
endpoint = "{blob_url}"
bucket = "{bucket}"
path_style = true
credentials_file = '{dir}/blob-credentials'

[hot]
engine = "sqlite"
path = '{dir}/records.db'
content_type_column = "content_type"
version_column = "version"

[archive]
schedule = "{schedule}"
after_days = 90
grace_seconds = {grace}
lease_seconds = 10
"#,
        dir = dir.display(),
        listen = options.listen,
        bucket = blob_store::BUCKET,
        schedule = options.schedule,
        grace = options.grace_seconds,
    )
}
