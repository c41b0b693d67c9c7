//! Blob storage for the tests: s3s-fs, the S3-compatible server over a directory, run
//! in-process with SigV4 checking on, as its own binary wires it (`FileSystem` behind an
//! `S3ServiceBuilder` with `SimpleAuth`). Also a stand-in for storage that hangs.

use crate::client::HttpClient;
use crate::loopback::LoopbackServer;
use crate::scratch_dir::ScratchDir;
use anyhow::{Context as _, ensure};
use http_body_util::BodyExt as _;
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use s3s::HttpError;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};
use tiergate_core::digest::sha256_hex;
use tiergate_core::{BlobKey, Encoding, ObjectMeta, PutChecksum, RecordId, S3Signer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// The access key id the store accepts (and tiergate is given).
pub const ACCESS_KEY_ID: &str = "tiergate-test-key";
/// The secret that goes with [`ACCESS_KEY_ID`].
pub const SECRET_ACCESS_KEY: &str = "tiergate-test-secret-0123456789";
/// The bucket archived records go to.
pub const BUCKET: &str = "records";
/// The region signatures are made for.
pub const REGION: &str = "us-east-1";

/// How long the harness's own signed URLs stay valid.
const URL_EXPIRY: Duration = Duration::from_secs(60);

/// An s3s-fs server on a free loopback port over a fresh directory, holding [`BUCKET`].
/// Stop it with [`BlobStore::stop`] to make blob storage "down".
#[derive(Debug)]
pub struct BlobStore {
    server: LoopbackServer,
    wire: Arc<Wire>,
    client: HttpClient,
    // Last, so that the directory goes after the server that uses it.
    _root: ScratchDir,
}

impl BlobStore {
    /// Starts the store with an empty [`BUCKET`].
    pub async fn start() -> anyhow::Result<Self> {
        let root = ScratchDir::create("blob")?;
        // s3s-fs keeps each bucket as a directory under its root.
        std::fs::create_dir(root.path().join(BUCKET))
            .with_context(|| format!("creating bucket directory in {}", root.path().display()))?;
        let wire = Arc::new(Wire::default());
        let server = serve(&root, &wire, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        Ok(Self {
            server,
            wire,
            client: HttpClient::new(),
            _root: root,
        })
    }

    /// Brings a stopped store back on the same port, holding what it held.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.server = serve(&self._root, &self.wire, self.server.addr()).await?;
        Ok(())
    }

    /// How many objects the bucket holds.
    pub fn object_count(&self) -> usize {
        fn files(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir).map_or(0, |entries| {
                entries
                    .flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            files(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        files(&self._root.path().join(BUCKET))
    }

    /// Whether the bucket holds record `id`'s object.
    pub fn holds(&self, id: &str) -> bool {
        self.object_path(id).is_file()
    }

    /// The file s3s-fs keeps record `id`'s object in (to damage it, as a failing disk or a
    /// careless operator would).
    pub fn object_path(&self, id: &str) -> std::path::PathBuf {
        let key = BlobKey::for_record(&RecordId::parse(id).expect("a valid id"));
        self._root.path().join(BUCKET).join(key.as_str())
    }

    /// Moves record `id`'s staged copy to its record key, where a tiergate from before
    /// copies were staged wrote it: published while the hot row is still there. s3s-fs
    /// keeps an object as a file named by its key, with its metadata (and checksums) in
    /// files at the root named by the base64 of bucket and key.
    pub fn publish_staged(&self, id: &str) -> anyhow::Result<()> {
        use base64::Engine as _;
        let id = RecordId::parse(id)?;
        let root = self._root.path();
        let (from, to) = (BlobKey::staged_for_record(&id), BlobKey::for_record(&id));
        let side_file = |key: &BlobKey, kind: &str| {
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            root.join(format!(
                ".bucket-{}.object-{}.{kind}.json",
                b64(BUCKET),
                b64(key.as_str())
            ))
        };
        let object = |key: &BlobKey| root.join(BUCKET).join(key.as_str());
        let target = object(&to);
        std::fs::create_dir_all(target.parent().expect("a key has a folder"))?;
        std::fs::rename(object(&from), &target)
            .with_context(|| format!("moving {from} to {to}: is record {id} staged?"))?;
        for kind in ["metadata", "internal"] {
            let side = side_file(&from, kind);
            if side.is_file() {
                std::fs::rename(side, side_file(&to, kind))?;
            }
        }
        Ok(())
    }

    /// The endpoint URL, such as `http://127.0.0.1:40124`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The endpoint for S3's virtual-hosted style, `http://localhost:{port}`: requests then
    /// go to `{bucket}.localhost:{port}`, which the store serves as the bucket.
    pub fn virtual_hosted_endpoint(&self) -> String {
        format!("http://localhost:{}", self.server.addr().port())
    }

    /// A signer with the store's credentials, as tiergate is configured with them.
    pub fn signer(&self) -> S3Signer {
        S3Signer::new(
            &self.endpoint(),
            BUCKET,
            REGION,
            true,
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
        )
        .expect("the store's own endpoint is usable")
    }

    /// Archives record `id` as the archiver does: its bytes as they are, under
    /// [`BlobKey::for_record`], with [`ObjectMeta`] metadata, through a presigned PUT.
    pub async fn archive(&self, id: &str, body: &[u8], content_type: &str) -> anyhow::Result<()> {
        self.archive_encoded(id, body, content_type, Encoding::Identity)
            .await
    }

    /// [`archive`](Self::archive), the bytes stored in `encoding`.
    pub async fn archive_encoded(
        &self,
        id: &str,
        body: &[u8],
        content_type: &str,
        encoding: Encoding,
    ) -> anyhow::Result<()> {
        let id = RecordId::parse(id)?;
        let key = BlobKey::for_record(&id);
        let meta = ObjectMeta {
            encoding,
            ..ObjectMeta::describe(body, content_type)
        };
        let stored = encoding.encode(body);
        let checksum = PutChecksum::sha256(&sha256_hex(&stored));
        let put = self
            .signer()
            .presign_put(&key, &meta, &checksum, SystemTime::now(), URL_EXPIRY);
        let reply = self
            .client
            .put_signed(&put, &stored)
            .await
            .with_context(|| format!("archiving record {id}: PUT {key}"))?;
        ensure!(
            reply.status == http::StatusCode::OK,
            "archiving record {id}: PUT {key} answered {}: {}",
            reply.status,
            reply.text()
        );
        Ok(())
    }

    /// How many requests reached the store, signed correctly or not.
    pub fn requests(&self) -> usize {
        self.wire.requests.load(Ordering::SeqCst)
    }

    /// How many of them were GETs.
    pub fn gets(&self) -> usize {
        self.wire.gets.load(Ordering::SeqCst)
    }

    /// From now on, flips a bit in the middle of every PUT's body before the store reads
    /// it, as a faulty network or proxy would.
    pub fn damage_puts(&self, on: bool) {
        self.wire.damage_puts.store(on, Ordering::SeqCst);
    }

    /// From now on, answers PUTs without the checksum they carried, as a store that does
    /// not check checksums would.
    pub fn hide_checksums(&self, on: bool) {
        self.wire.hide_checksums.store(on, Ordering::SeqCst);
    }

    /// Takes blob storage down: its port refuses connections from now on.
    pub async fn stop(&mut self) {
        self.server.stop().await;
    }
}

/// Blob storage that accepts connections, reads requests and never answers, or answers
/// with the start of an object and then sends nothing more: what a hung storage node looks
/// like to the edge.
#[derive(Debug)]
pub struct StalledBlobStore {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl StalledBlobStore {
    /// Starts listening on a free loopback port; never answers.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_answering(Vec::new()).await
    }

    /// Starts listening on a free loopback port; answers every request with `200`, the
    /// headers of the S3 object holding `body` (`content_type`), and the first half of
    /// `body`, then sends nothing more.
    pub async fn start_mid_body(body: &[u8], content_type: &str) -> anyhow::Result<Self> {
        let meta = ObjectMeta::describe(body, content_type);
        let mut head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: {content_type}\r\n",
            body.len()
        );
        for (name, value) in meta.to_headers(tiergate_core::s3::META_PREFIX) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut answer = head.into_bytes();
        answer.extend_from_slice(&body[..body.len() / 2]);
        Self::start_answering(answer).await
    }

    /// Writes `answer` (if any) once a request's head has arrived, then holds the
    /// connection, reading and discarding.
    async fn start_answering(answer: Vec<u8>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let answer: Arc<[u8]> = answer.into();
        let task = tokio::spawn(async move {
            // Owned here, so that aborting this task closes every held connection.
            let mut held = JoinSet::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let answer = Arc::clone(&answer);
                held.spawn(async move {
                    // The request's head so far, until it is answered.
                    let mut head = Vec::new();
                    let mut answered = answer.is_empty();
                    let mut sink = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut sink).await {
                        if n == 0 {
                            return;
                        }
                        if answered {
                            continue;
                        }
                        head.extend_from_slice(&sink[..n]);
                        if head.windows(4).any(|w| w == b"\r\n\r\n") {
                            answered = true;
                            if socket.write_all(&answer).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Ok(Self {
            addr,
            connections,
            task,
        })
    }

    /// The endpoint URL to configure as blob storage.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many connections were opened to it.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for StalledBlobStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the store has seen, and the faults it is told to show.
#[derive(Debug, Default)]
struct Wire {
    requests: AtomicUsize,
    gets: AtomicUsize,
    damage_puts: AtomicBool,
    hide_checksums: AtomicBool,
}

/// Both URL styles on one loopback port: `{bucket}.localhost:{port}` names the bucket in
/// its host (virtual-hosted), any other host leaves it to the path.
struct LocalhostBuckets;

impl s3s::host::S3Host for LocalhostBuckets {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<s3s::host::VirtualHost<'a>> {
        let name = host.split_once(':').map_or(host, |(name, _)| name);
        Ok(match name.strip_suffix(".localhost") {
            Some(bucket) => s3s::host::VirtualHost::new(host).with_bucket(bucket),
            None => s3s::host::VirtualHost::new(host),
        })
    }
}

/// Serves s3s-fs over `root` on `addr`, counting requests and showing `wire`'s faults.
async fn serve(
    root: &ScratchDir,
    wire: &Arc<Wire>,
    addr: SocketAddr,
) -> anyhow::Result<LoopbackServer> {
    let fs = s3s_fs::FileSystem::new(root.path())
        .map_err(|e| anyhow::anyhow!("s3s-fs refused {}: {e:?}", root.path().display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY_ID, SECRET_ACCESS_KEY));
    builder.set_host(LocalhostBuckets);
    let s3 = builder.build();
    let wire = Arc::clone(wire);
    let service = service_fn(move |request: Request<Incoming>| {
        let (s3, wire) = (s3.clone(), Arc::clone(&wire));
        async move {
            wire.requests.fetch_add(1, Ordering::SeqCst);
            let put = request.method() == http::Method::PUT;
            if request.method() == http::Method::GET {
                wire.gets.fetch_add(1, Ordering::SeqCst);
            }
            let request = if put && wire.damage_puts.load(Ordering::SeqCst) {
                let (parts, body) = request.into_parts();
                let mut body = body
                    .collect()
                    .await
                    .map_err(|e| HttpError::new(Box::new(e)))?
                    .to_bytes()
                    .to_vec();
                let middle = body.len() / 2;
                if let Some(byte) = body.get_mut(middle) {
                    *byte ^= 0x01;
                }
                Request::from_parts(parts, s3s::Body::from(body))
            } else {
                request.map(s3s::Body::from)
            };
            let mut response = s3.call(request).await?;
            if put && wire.hide_checksums.load(Ordering::SeqCst) {
                response.headers_mut().remove("x-amz-checksum-sha256");
            }
            Ok::<_, HttpError>(response)
        }
    });
    Ok(LoopbackServer::start_at(addr, service).await?)
}
