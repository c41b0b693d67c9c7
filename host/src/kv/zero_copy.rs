//! Cached records sent to clients without copying them, as nginx sends its cache files.
//!
//! Writing a 300 KB body to a socket copies it into the kernel, and that copy was half of
//! the host's CPU time on a cache hit. `sendfile(2)` from a file instead hands the file's
//! pages to the socket by reference. So the memory cache keeps each large value in a sealed
//! memory file ([`seal`]): mapped read-only into the process, so that it is an ordinary
//! `Bytes` to everything else (the component's KV reads, the cache-hit path), and registered
//! here by address. Connections write through [`ZeroCopyStream`], which recognises a buffer
//! that lies in a sealed file and sends it from the file with `sendfile`; every other buffer
//! is written as usual.
//!
//! The seals forbid any write, so a page the kernel still holds for a send (until the peer
//! reads it) can never change under it; it lives until the kernel lets it go, even after the
//! entry is evicted and its file closed.

use bytes::Bytes;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};
use rustix::net::{SendAncillaryBuffer, SendFlags};
use std::collections::BTreeMap;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, RwLock};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Values smaller than this are kept on the heap: copying them costs less than a file.
pub const MIN_SEALED_BYTES: usize = 64 * 1024;

/// The sealed files alive now, by the address where each is mapped: start -> (length, fd).
static SEALED: LazyLock<RwLock<BTreeMap<usize, (usize, RawFd)>>> = LazyLock::new(Default::default);
static SEALED_COUNT: AtomicUsize = AtomicUsize::new(0);

/// At most a quarter of the process's file descriptors hold cached values, so that the
/// cache can never leave the server unable to accept connections.
static MAX_SEALED: LazyLock<usize> = LazyLock::new(|| {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit.current.map_or(usize::MAX, |n| (n / 4) as usize)
});

/// A copy of `value` that sockets written through [`ZeroCopyStream`] send without copying;
/// `value` itself when it is small, or when no file can be had (the limit on sealed files is
/// reached, or the system refuses one): the cache then works as before, copying on send.
pub fn seal(value: Bytes) -> Bytes {
    if value.len() < MIN_SEALED_BYTES {
        return value;
    }
    // Counted before the file is made, so that racing calls cannot pass the limit together.
    if SEALED_COUNT.fetch_add(1, Ordering::Relaxed) >= *MAX_SEALED {
        SEALED_COUNT.fetch_sub(1, Ordering::Relaxed);
        return value;
    }
    match SealedFile::of(&value) {
        Ok(file) => Bytes::from_owner(file),
        Err(e) => {
            SEALED_COUNT.fetch_sub(1, Ordering::Relaxed);
            tracing::debug!(error = %e, "cache value kept on the heap: no sealed memory file");
            value
        }
    }
}

/// A memory file holding one value, sealed against any change, mapped read-only.
#[derive(Debug)]
struct SealedFile {
    fd: OwnedFd,
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and its file sealed against writes: nothing can change
// the bytes while any thread reads them.
unsafe impl Send for SealedFile {}
// SAFETY: as above.
unsafe impl Sync for SealedFile {}

impl SealedFile {
    fn of(value: &[u8]) -> io::Result<Self> {
        let fd = rustix::fs::memfd_create(
            "tiergate-cached-record",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        let mut written = 0;
        while written < value.len() {
            written += rustix::io::write(&fd, &value[written..])?;
        }
        rustix::fs::fcntl_add_seals(
            &fd,
            SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )?;
        // SAFETY: a new read-only shared mapping of a file of exactly `len` bytes that no one
        // can write any more (sealed); it is unmapped only in `drop`, when no `Bytes` is left.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                value.len(),
                ProtFlags::READ,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        }
        .cast::<u8>()
        .cast_const();
        let file = Self {
            ptr,
            len: value.len(),
            fd,
        };
        SEALED
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(ptr as usize, (file.len, file.fd.as_raw_fd()));
        Ok(file)
    }
}

impl AsRef<[u8]> for SealedFile {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for SealedFile {
    fn drop(&mut self) {
        SEALED
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&(self.ptr as usize));
        SEALED_COUNT.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: the mapping made in `of`; no `Bytes` points into it any more.
        let _ = unsafe { rustix::mm::munmap(self.ptr.cast_mut().cast(), self.len) };
    }
}

/// The sealed file that holds all of `buf`, and where in it `buf` starts.
fn sealed_file_of(buf: &[u8]) -> Option<(RawFd, u64)> {
    if SEALED_COUNT.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let start = buf.as_ptr() as usize;
    let sealed = SEALED
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (&base, &(len, fd)) = sealed.range(..=start).next_back()?;
    (start + buf.len() <= base + len).then_some((fd, (start - base) as u64))
}

/// A TCP connection that sends buffers lying in sealed files with `sendfile`.
#[derive(Debug)]
pub struct ZeroCopyStream(TcpStream);

impl ZeroCopyStream {
    /// Wraps an accepted connection.
    pub fn new(stream: TcpStream) -> Self {
        Self(stream)
    }

    /// Runs `send` when the socket is writable, until it does not block.
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        mut send: impl FnMut(BorrowedFd<'_>) -> rustix::io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self
                .0
                .try_io(Interest::WRITABLE, || Ok(send(self.0.as_fd())?))
            {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                sent => return Poll::Ready(sent),
            }
        }
    }
}

impl AsyncRead for ZeroCopyStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for ZeroCopyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes the buffers up to the first one in a sealed file (telling the kernel more is
    /// coming, so that headers and body share packets), or sends that one from its file.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let sealed = bufs
            .iter()
            .enumerate()
            .find_map(|(i, buf)| sealed_file_of(buf).map(|file| (i, buf.len(), file)));
        match sealed {
            None => Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs),
            Some((0, len, (fd, offset))) => self.poll_send(cx, |socket| {
                // SAFETY: `fd` belongs to the sealed file that holds this buffer, which lives
                // at least as long as the buffer does, so it is open during this call.
                let file = unsafe { BorrowedFd::borrow_raw(fd) };
                let mut from = offset;
                rustix::fs::sendfile(socket, file, Some(&mut from), len)
            }),
            Some((first_sealed, _, _)) => self.poll_send(cx, |socket| {
                let mut no_control = SendAncillaryBuffer::default();
                rustix::net::sendmsg(
                    socket,
                    &bufs[..first_sealed],
                    &mut no_control,
                    SendFlags::MORE | SendFlags::NOSIGNAL,
                )
            }),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn record(len: usize) -> Bytes {
        (0..len)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn small_values_stay_on_the_heap_and_large_ones_are_sealed_with_the_same_bytes() {
        let small = record(MIN_SEALED_BYTES - 1);
        assert!(sealed_file_of(&seal(small.clone())).is_none());
        let large = record(300_000);
        let sealed = seal(large.clone());
        assert_eq!(sealed, large);
        let (_, offset) = sealed_file_of(&sealed[1000..2000]).expect("inside a sealed file");
        assert_eq!(offset, 1000);
        drop(sealed);
        assert!(sealed_file_of(&large).is_none());
    }

    #[tokio::test]
    async fn a_sealed_body_arrives_whole_after_the_bytes_before_it_even_through_a_full_socket()
    -> io::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // 4 MB: many times a socket buffer, so sends are partial and wait for room.
        let body = seal(record(4_000_000));
        let sent = body.clone();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await?;
            let mut stream = ZeroCopyStream::new(socket);
            let head = b"head:";
            let mut bufs = [IoSlice::new(head), IoSlice::new(&sent)];
            let mut slices = &mut bufs[..];
            while !slices.is_empty() {
                let n = stream.write_vectored(slices).await?;
                IoSlice::advance_slices(&mut slices, n);
            }
            stream.shutdown().await
        });
        let mut client = TcpStream::connect(addr).await?;
        let mut received = Vec::new();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        client.read_to_end(&mut received).await?;
        server.await??;
        assert_eq!(&received[..5], b"head:");
        assert!(received[5..] == body[..], "the body arrived changed");
        Ok(())
    }
}
