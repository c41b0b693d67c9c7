//! `tiergate-bench`: tiergate side by side with what users would run instead, in the same
//! run on the same machine, with 300 KB billing-like records on loopback:
//!
//! - cache hits, beside nginx `proxy_cache` hits in front of the same origin, with the cache
//!   in the host's memory and (`redis-cache`) shared in a Redis server of the bench's own,
//!   whose CPU time and memory count as tiergate's; and (`jwt-cache`) in the component with
//!   `[edge.auth] mode = "jwt"`, every request carrying an RS256 bearer token checked by the
//!   edge (the issuer's key held, the owner compared with the record's), beside the same
//!   hits with access unchecked (`component-cache`);
//! - blob reads with caching off, of objects stored as the archiver writes them (lz4 unless
//!   `--blob-encoding`), beside a direct presigned GET to the blob store (s3s-fs) of the same
//!   objects (`blob`) and of the same records stored as they are (`blob-vs-plain`: what a
//!   team without tiergate would keep in a bucket and read);
//! - passthrough (a route that is not the record route), beside a direct GET to the origin,
//!   sent on by the host, and (`component-passthrough`, not run by default) through the
//!   component, as under Spin;
//! - the peak memory of each tiergate host, and of nginx;
//! - the archiver's MB/s (`archiver`): the `archiver` bench program, lz4, beside the same
//!   per-record work done natively.
//!
//! The origin and s3s-fs run in this process (the test harness's); tiergate runs as the real
//! `tiergate serve --config FILE` binary, one process per scenario; nginx and wrk are the
//! Debian packages. Each pair is measured interleaved (tiergate, reference, tiergate, ...)
//! for a few rounds, and the medians are compared, because the machine is shared and noisy.
//!
//! - [`wrk`]: the load generator and its script;
//! - [`archiver_run`]: the archiver bench, run from this one;
//! - [`cpus`]: `--client-cpus`, wrk and the servers on separate cores;
//! - [`host_process`]: `tiergate serve` in a process of its own;
//! - [`nginx`]: nginx's config and process;
//! - [`proc_stats`]: peak memory and CPU time from `/proc`;
//! - [`report`]: the table, the machine, the versions and the JSON file.
//!
//! Run it with `scripts/bench [--quick]`, which installs nginx and wrk and builds in release.

mod archiver_run;
mod cpus;
mod host_process;
mod nginx;
mod proc_stats;
mod report;
mod wrk;

use anyhow::{Context as _, ensure};
use clap::{Parser, ValueEnum};
use cpus::Split;
use host_process::HostProcess;
use nginx::Nginx;
use proc_stats::Process;
use report::{Machine, Memory, Results, Row, Settings, Side, Versions};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tiergate_core::{BlobKey, Encoding, RecordId};
use tiergate_tests::issuer::{AUDIENCE, ISSUER, Signer};
use tiergate_tests::records::CONTENT_TYPE;
use tiergate_tests::{
    BlobStore, CacheBackend, GateConfig, HttpClient, Issuer, Origin, RedisServer, billing_record,
};
use wrk::Wrk;

/// Benchmark tiergate side by side with nginx proxy_cache, direct signed GETs and the origin,
/// on loopback, with wrk.
#[derive(Parser)]
#[command(about, long_about)]
struct Args {
    /// A few seconds per measurement and one round: checks that the harness works (CI).
    #[arg(long)]
    quick: bool,
    /// Distinct records per scenario.
    #[arg(long, default_value_t = 64)]
    records: usize,
    /// Size of each record in bytes.
    #[arg(long, default_value_t = 300_000)]
    size: usize,
    /// How the archived records are stored (identity, lz4, gzip or zstd); the direct signed
    /// GET reads the same objects. lz4 is what the archiver writes unless told otherwise.
    #[arg(long, default_value = "lz4")]
    blob_encoding: Encoding,
    /// Seconds of load per measurement [default: 5, or 2 with --quick].
    #[arg(long)]
    seconds: Option<u64>,
    /// Interleaved rounds of each pair, and worlds of the archiver run [default: 3, or 1
    /// with --quick].
    #[arg(long)]
    rounds: Option<usize>,
    /// Records the archiver moves in each world [default: 1000, or 200 with --quick].
    #[arg(long)]
    archiver_records: Option<usize>,
    /// Connection counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    connections: Vec<usize>,
    /// Scenarios to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "cache,component-cache,jwt-cache,redis-cache,blob,blob-vs-plain,passthrough,archiver"
    )]
    scenarios: Vec<ScenarioKind>,
    /// Cores for wrk alone, comma-separated (e.g. 1); tiergate, nginx, the origin and the
    /// blob store then run on the others, so the load generator cannot take the servers'
    /// CPU and the ratios measure the servers [default: everything shares every core].
    #[arg(long, value_delimiter = ',')]
    client_cpus: Vec<usize>,
    /// The tiergate binary [default: `tiergate` next to this program].
    #[arg(long)]
    tiergate: Option<PathBuf>,
    /// Where the JSON results go.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    out: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScenarioKind {
    /// Cache hits, beside nginx proxy_cache hits.
    Cache,
    /// Cache hits answered by the edge component rather than the host (as under Spin).
    ComponentCache,
    /// Cache hits answered by the edge component with `[edge.auth] mode = "jwt"`: an RS256
    /// token on every request, its owner compared with the record's.
    JwtCache,
    /// Cache hits from a cache shared in Redis (`[cache] backend = "redis"`), the Redis
    /// server's CPU counted with the host's.
    RedisCache,
    /// Blob reads with caching off, beside direct signed GETs of the same objects.
    Blob,
    /// Blob reads with caching off, beside direct signed GETs of the same records stored as
    /// they are.
    BlobVsPlain,
    /// Non-record requests, beside direct GETs to the origin.
    Passthrough,
    /// Non-record requests passed on by the edge component rather than the host (as under
    /// Spin).
    ComponentPassthrough,
    /// The archiver's copy and delete runs (MB/s), beside the same work done natively.
    Archiver,
}

/// One scenario: tiergate and its reference, each a base URL and a file of paths.
struct Scenario {
    name: &'static str,
    tiergate: Target,
    reference_label: &'static str,
    reference: Target,
}

struct Target {
    url: String,
    paths: PathBuf,
    /// Request headers, `Name: value`.
    headers: Vec<String>,
    /// The process serving it, whose CPU time is accounted.
    server: Process,
}

/// Everything that serves during the run; dropped (stopped) at its end.
struct Running {
    hosts: Vec<(&'static str, HostProcess)>,
    nginx: Option<Nginx>,
    redis: Option<RedisServer>,
    issuer: Option<Issuer>,
    _store: BlobStore,
    _origin: Origin,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let split = (!args.client_cpus.is_empty())
        .then(|| Split::new(&args.client_cpus))
        .transpose()?;
    if let Some(split) = &split {
        split.pin_servers()?;
    }
    let settings = Settings {
        quick: args.quick,
        records: args.records,
        size: args.size,
        blob_encoding: args.blob_encoding,
        seconds: args.seconds.unwrap_or(if args.quick { 2 } else { 5 }),
        rounds: args.rounds.unwrap_or(if args.quick { 1 } else { 3 }),
        connections: args.connections.clone(),
        cores: split.clone(),
    };
    let date = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let command = std::iter::once("tiergate-bench".to_owned())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");

    // Configs, logs, nginx's prefix and the path lists; kept after the run for a look.
    let dir = std::env::temp_dir().join("tiergate-bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let wrk = Wrk::new(&dir, split.as_ref())?;
    let binary = args
        .tiergate
        .clone()
        .unwrap_or_else(|| beside_this("tiergate"));

    // The origin and the blob store serve on this runtime while wrk runs in other processes.
    let servers = tokio::runtime::Runtime::new()?;
    let (scenarios, running) =
        servers.block_on(start(&args.scenarios, &settings, &binary, &dir))?;

    let cores = split.as_ref().map_or_else(
        || "all cores shared".to_owned(),
        |split| {
            format!(
                "wrk on cores {}, servers on {}",
                split.client_list(),
                split.servers_list()
            )
        },
    );
    eprintln!(
        "tiergate-bench: {} records of {} bytes (archived ones stored as {}), {} s per measurement, {} round(s), connections {:?}, {cores}; logs in {}",
        settings.records,
        settings.size,
        settings.blob_encoding,
        settings.seconds,
        settings.rounds,
        settings.connections,
        dir.display()
    );
    println!("{}", Row::HEADER);
    let duration = Duration::from_secs(settings.seconds);
    let mut rows = Vec::new();
    for scenario in &scenarios {
        for &connections in &settings.connections {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for _ in 0..settings.rounds {
                let t = &scenario.tiergate;
                ours.push(wrk.run(
                    &t.url,
                    &t.paths,
                    &t.headers,
                    t.server,
                    connections,
                    duration,
                )?);
                let r = &scenario.reference;
                theirs.push(wrk.run(
                    &r.url,
                    &r.paths,
                    &r.headers,
                    r.server,
                    connections,
                    duration,
                )?);
            }
            let row = Row::new(
                scenario.name,
                connections,
                Side::new("tiergate", ours),
                Side::new(scenario.reference_label, theirs),
            );
            println!("{}", row.markdown());
            rows.push(row);
        }
    }

    let mut memory = Memory::default();
    for (name, host) in &running.hosts {
        let kib = host.process().peak_memory_kib();
        memory
            .tiergate_kib
            .insert(name, kib.context("tiergate's VmHWM")?);
    }
    if let Some(nginx) = &running.nginx {
        memory.nginx_kib = nginx.process().peak_memory_kib();
    }
    println!("\n{}", memory.markdown());
    // The servers are done: the archiver gets the machine to itself.
    drop(running);

    let archiver = if args.scenarios.contains(&ScenarioKind::Archiver) {
        let records = args
            .archiver_records
            .unwrap_or(if args.quick { 200 } else { 1000 });
        println!();
        let report = archiver_run::run(
            &beside_this("archiver"),
            records,
            settings.rounds,
            args.quick,
            &dir,
        )?;
        println!("\n{}", archiver_run::summary(&report)?);
        Some(report)
    } else {
        None
    };

    let results = Results {
        date,
        command,
        settings,
        machine: Machine::this(),
        versions: Versions::found(),
        rows,
        memory,
        archiver,
    };
    let path = results.write(&args.out)?;
    println!(
        "{} ({} cores), tiergate {}, {}, {}, {}\nJSON: {}",
        results.machine.cpu,
        results.machine.cores,
        results.versions.tiergate,
        results.versions.nginx,
        results.versions.wrk,
        results.versions.rustc,
        path.display()
    );
    let errors: u64 = results
        .rows
        .iter()
        .map(|r| r.tiergate.median.errors + r.reference.median.errors)
        .sum();
    ensure!(errors == 0, "{errors} requests failed; see the table");
    Ok(())
}

/// Starts the origin and the blob store with the records, then each scenario's tiergate and
/// reference, warmed and checked.
async fn start(
    kinds: &[ScenarioKind],
    settings: &Settings,
    binary: &Path,
    dir: &Path,
) -> anyhow::Result<(Vec<Scenario>, Running)> {
    let origin = Origin::start().await?;
    let store = BlobStore::start().await?;
    let mut hot = Vec::new();
    let mut archived = Vec::new();
    let mut plain = Vec::new();
    for n in 0..settings.records {
        let id = format!("HOT-{n:06}");
        origin.insert(
            &id,
            of_customer(billing_record(&id, n as u64, settings.size)),
            CONTENT_TYPE,
        );
        hot.push(format!("/records/{id}"));
        let id = format!("ARC-{n:06}");
        let body = billing_record(&id, n as u64, settings.size);
        store
            .archive_encoded(&id, &body, CONTENT_TYPE, settings.blob_encoding)
            .await?;
        archived.push(id);
        let id = format!("PLN-{n:06}");
        store.archive(&id, &body, CONTENT_TYPE).await?;
        plain.push(id);
    }
    let hot_paths = write_paths(dir, "hot", &hot)?;
    let archived_paths = write_paths(
        dir,
        "archived",
        &archived
            .iter()
            .map(|id| format!("/records/{id}"))
            .collect::<Vec<_>>(),
    )?;
    // Signed for longer than the run: the reference measures reads, not signing.
    let signer = store.signer();
    let sign = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| {
                let key = BlobKey::for_record(&RecordId::parse(id).expect("valid id"));
                let url = signer.presign_get(&key, SystemTime::now(), Duration::from_secs(3600));
                let url = url::Url::parse(url.expose()).expect("signed URLs parse");
                format!("{}?{}", url.path(), url.query().unwrap_or_default())
            })
            .collect()
    };
    let signed = sign(&archived);
    let signed_paths = write_paths(dir, "signed", &signed)?;
    let signed_plain = sign(&plain);
    let signed_plain_paths = write_paths(dir, "signed-plain", &signed_plain)?;

    let client = HttpClient::new();
    let check = Check {
        client: &client,
        size: settings.size,
        headers: Vec::new(),
    };
    let mut running = Running {
        hosts: Vec::new(),
        nginx: None,
        redis: None,
        issuer: None,
        _store: store,
        _origin: origin,
    };
    let (origin, store) = (running._origin.url(), running._store.endpoint());
    let mut scenarios = Vec::new();
    for kind in kinds {
        let (name, config) = match kind {
            // Run after the pairs, by its own program.
            ScenarioKind::Archiver => continue,
            ScenarioKind::Cache => ("cache", GateConfig::new(&origin).blob_endpoint(&store)),
            ScenarioKind::ComponentCache => (
                "component-cache",
                GateConfig::new(&origin)
                    .blob_endpoint(&store)
                    .answer_hits_in_host(false),
            ),
            ScenarioKind::JwtCache => {
                let issuer = Issuer::start().await?;
                let config = GateConfig::new(&origin)
                    .blob_endpoint(&store)
                    .answer_hits_in_host(false)
                    .edge_extra(&format!(
                        "[edge.auth]\nmode = \"jwt\"\nissuer = \"{ISSUER}\"\n\
                         audience = \"{AUDIENCE}\"\njwks_url = \"{}\"\n\
                         owner_claim = \"customer_id\"\nowner_pointer = \"/customer\"",
                        issuer.jwks_url()
                    ));
                running.issuer = Some(issuer);
                ("jwt-cache", config)
            }
            ScenarioKind::RedisCache => {
                let redis = RedisServer::start_if_installed()
                    .await?
                    .context("the redis-cache scenario needs redis-server")?;
                let config = GateConfig::new(&origin)
                    .blob_endpoint(&store)
                    .cache_backend(CacheBackend::Redis(redis.url()));
                running.redis = Some(redis);
                ("redis-cache", config)
            }
            ScenarioKind::Blob | ScenarioKind::BlobVsPlain => (
                if *kind == ScenarioKind::Blob {
                    "blob"
                } else {
                    "blob-vs-plain"
                },
                GateConfig::new(&origin)
                    .blob_endpoint(&store)
                    .cache_max_record_bytes(0),
            ),
            ScenarioKind::Passthrough => (
                "passthrough",
                GateConfig::new(&origin)
                    .blob_endpoint(&store)
                    .record_route("/elsewhere/{id}"),
            ),
            ScenarioKind::ComponentPassthrough => (
                "component-passthrough",
                GateConfig::new(&origin)
                    .blob_endpoint(&store)
                    .record_route("/elsewhere/{id}")
                    .pass_in_host(false),
            ),
        };
        let host = HostProcess::start(binary, &config.to_toml(), dir, name)?;
        let scenario = match kind {
            ScenarioKind::Archiver => {
                unreachable!("skipped above: the archiver bench starts its own servers")
            }
            ScenarioKind::Cache
            | ScenarioKind::ComponentCache
            | ScenarioKind::JwtCache
            | ScenarioKind::RedisCache => {
                let headers: Vec<String> = running
                    .issuer
                    .as_ref()
                    .filter(|_| *kind == ScenarioKind::JwtCache)
                    .map(|issuer| {
                        // Valid for longer than the run.
                        let mut claims = Issuer::claims(CUSTOMER);
                        claims["exp"] = (jiff::Timestamp::now().as_second() + 86_400).into();
                        format!(
                            "Authorization: Bearer {}",
                            issuer.sign(Signer::Rsa, &claims)
                        )
                    })
                    .into_iter()
                    .collect();
                let check = Check {
                    headers: headers.clone(),
                    ..check
                };
                for path in &hot {
                    check.get(&host.url(), path, None).await?;
                }
                check.get(&host.url(), &hot[0], Some("cache")).await?;
                let nginx = match running.nginx.take() {
                    Some(nginx) => nginx,
                    None => start_nginx(&check, dir, &origin, &hot).await?,
                };
                let mut server = host.process();
                if *kind == ScenarioKind::RedisCache {
                    server.helper = running.redis.as_ref().and_then(RedisServer::pid);
                }
                let scenario = Scenario {
                    name: match kind {
                        ScenarioKind::Cache => "cache hit",
                        ScenarioKind::RedisCache => "cache hit, shared in Redis",
                        ScenarioKind::JwtCache => "cache hit, in the component, jwt checked",
                        _ => "cache hit, in the component",
                    },
                    tiergate: Target {
                        url: host.url(),
                        paths: hot_paths.clone(),
                        headers,
                        server,
                    },
                    reference_label: "nginx proxy_cache hit",
                    reference: Target {
                        url: nginx.url(),
                        paths: hot_paths.clone(),
                        headers: Vec::new(),
                        server: nginx.process(),
                    },
                };
                running.nginx = Some(nginx);
                scenario
            }
            ScenarioKind::Blob | ScenarioKind::BlobVsPlain => {
                check
                    .get(&host.url(), "/records/ARC-000000", Some("blob"))
                    .await?;
                // The direct GET reads the object as stored (`blob`) or the record as it is
                // (`blob-vs-plain`); either way it must decode to the record.
                let (label, encoding, signed, paths) = if *kind == ScenarioKind::Blob {
                    let label = "signed GET of the same object";
                    (label, settings.blob_encoding, &signed, &signed_paths)
                } else {
                    let label = "signed GET of the record as is";
                    (
                        label,
                        Encoding::Identity,
                        &signed_plain,
                        &signed_plain_paths,
                    )
                };
                let object = check.fetch(&store, &signed[0]).await?;
                let record = billing_record("ARC-000000", 0, settings.size);
                ensure!(
                    encoding.decodes_to(&object.body, &record)?,
                    "GET {store}{}: the object does not decode to the record",
                    signed[0]
                );
                Scenario {
                    name: "blob read (cache off)",
                    tiergate: Target {
                        url: host.url(),
                        paths: archived_paths.clone(),
                        headers: Vec::new(),
                        server: host.process(),
                    },
                    reference_label: label,
                    reference: Target {
                        url: store.clone(),
                        paths: paths.clone(),
                        headers: Vec::new(),
                        server: this_process(),
                    },
                }
            }
            ScenarioKind::Passthrough | ScenarioKind::ComponentPassthrough => {
                check.get(&host.url(), &hot[0], None).await?;
                Scenario {
                    name: if *kind == ScenarioKind::Passthrough {
                        "passthrough"
                    } else {
                        "passthrough, in the component"
                    },
                    tiergate: Target {
                        url: host.url(),
                        paths: hot_paths.clone(),
                        headers: Vec::new(),
                        server: host.process(),
                    },
                    reference_label: "origin direct",
                    reference: Target {
                        url: origin.clone(),
                        paths: hot_paths.clone(),
                        headers: Vec::new(),
                        server: this_process(),
                    },
                }
            }
        };
        running.hosts.push((name, host));
        scenarios.push(scenario);
    }
    Ok((scenarios, running))
}

/// The customer every hot record belongs to, so that one token reads them all.
const CUSTOMER: &str = "CUST-000001";

/// `record` (a billing record) made [`CUSTOMER`]'s: its `customer` field, the same length.
fn of_customer(record: bytes::Bytes) -> bytes::Bytes {
    let field = br#""customer":""#;
    let mut record = record.to_vec();
    if let Some(at) = record.windows(field.len()).position(|w| w == field) {
        let start = at + field.len();
        record[start..start + CUSTOMER.len()].copy_from_slice(CUSTOMER.as_bytes());
    }
    record.into()
}

/// Starts nginx in front of the origin and warms its cache with the records at `paths`.
async fn start_nginx(
    check: &Check<'_>,
    dir: &Path,
    origin: &str,
    paths: &[String],
) -> anyhow::Result<Nginx> {
    let nginx_dir = dir.join("nginx");
    std::fs::create_dir_all(&nginx_dir)?;
    let nginx = Nginx::start(&nginx_dir, origin.trim_start_matches("http://"))?;
    for path in paths {
        check.get(&nginx.url(), path, None).await?;
    }
    let reply = check.get(&nginx.url(), &paths[0], None).await?;
    ensure!(
        reply.header("x-cache-status") == Some("HIT"),
        "nginx did not cache {}: X-Cache-Status {:?}",
        paths[0],
        reply.header("x-cache-status")
    );
    Ok(nginx)
}

/// A GET before the load, checking that the answer is the whole record (and, for tiergate,
/// from the expected tier).
#[derive(Clone)]
struct Check<'a> {
    client: &'a HttpClient,
    size: usize,
    /// Request headers, `Name: value`.
    headers: Vec<String>,
}

impl Check<'_> {
    /// GETs `base` + `path`, which must answer 200 with the record's size (from `source`,
    /// when given, by tiergate's `x-tiergate-source`).
    async fn get(
        &self,
        base: &str,
        path: &str,
        source: Option<&str>,
    ) -> anyhow::Result<tiergate_tests::Reply> {
        let reply = self.fetch(base, path).await?;
        ensure!(
            reply.body.len() == self.size,
            "GET {base}{path}: {} bytes, expected {}",
            reply.body.len(),
            self.size
        );
        if let Some(source) = source {
            ensure!(
                reply.source() == Some(source),
                "GET {base}{path}: served from {:?}, expected {source}",
                reply.source()
            );
        }
        Ok(reply)
    }

    /// GETs `base` + `path`, which must answer 200.
    async fn fetch(&self, base: &str, path: &str) -> anyhow::Result<tiergate_tests::Reply> {
        let url = format!("{base}{path}");
        let mut request = http::Request::get(&url);
        for header in &self.headers {
            let (name, value) = header
                .split_once(": ")
                .context("headers are `Name: value`")?;
            request = request.header(name, value);
        }
        let reply = self
            .client
            .send(request.body(http_body_util::Full::default())?)
            .await
            .with_context(|| format!("GET {url}"))?;
        ensure!(
            reply.status == 200,
            "GET {url}: {}, expected 200",
            reply.status
        );
        Ok(reply)
    }
}

/// This process, where the origin and the blob store serve (its utime and stime leave out
/// its children's, so wrk's CPU time is not counted).
fn this_process() -> Process {
    Process {
        pid: std::process::id(),
        with_children: false,
        helper: None,
    }
}

/// The program `name` next to this one (`target/release/`), or `name` on PATH.
fn beside_this(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn write_paths(dir: &Path, name: &str, paths: &[String]) -> anyhow::Result<PathBuf> {
    let file = dir.join(format!("{name}.paths"));
    std::fs::write(&file, paths.join("\n") + "\n")?;
    Ok(file)
}
