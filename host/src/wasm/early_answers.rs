//! Outbound connections that keep reading after the peer stops reading. An origin may
//! answer a request before it has read the body (413 to an upload it refuses at its
//! headers) and close; writing the rest of the body then fails (EPIPE, ECONNRESET), and
//! hyper reports that failure instead of the answer it was about to read: the client got
//! 502 where the API answered 413. Here writes to a peer that has stopped reading are
//! dropped, so hyper reads on and relays the answer; a peer that closed without one still
//! ends the exchange with an error, on the read side.

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tower_service::Service;

/// A connector whose connections are [`ReadsOn`].
#[derive(Clone, Debug)]
pub struct EarlyAnswers<C>(pub C);

impl<C> Service<http::Uri> for EarlyAnswers<C>
where
    C: Service<http::Uri>,
    C::Future: Send + 'static,
{
    type Response = ReadsOn<C::Response>;
    type Error = C::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, C::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), C::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            Ok(ReadsOn {
                io: connecting.await?,
                peer_stopped_reading: false,
            })
        })
    }
}

/// A connection whose writes succeed, and go nowhere, once the peer has stopped reading.
#[derive(Debug)]
pub struct ReadsOn<T> {
    io: T,
    peer_stopped_reading: bool,
}

/// Errors that say the peer will read nothing more, though it may still have written.
fn stopped_reading(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

impl<T> ReadsOn<T> {
    /// `written`, or the whole of `len` dropped when the peer has stopped reading.
    fn tolerate<R>(&mut self, written: io::Result<R>, dropped: R) -> io::Result<R> {
        match written {
            Err(e) if stopped_reading(&e) => {
                tracing::debug!(error = %e, "the peer stopped reading; the rest of the request is dropped");
                self.peer_stopped_reading = true;
                Ok(dropped)
            }
            other => other,
        }
    }
}

impl<T: Read + Unpin> Read for ReadsOn<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for ReadsOn<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.peer_stopped_reading {
            return Poll::Ready(Ok(buf.len()));
        }
        let written = ready!(Pin::new(&mut self.io).poll_write(cx, buf));
        Poll::Ready(self.tolerate(written, buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        if self.peer_stopped_reading {
            return Poll::Ready(Ok(len));
        }
        let written = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs));
        Poll::Ready(self.tolerate(written, len))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_stopped_reading {
            return Poll::Ready(Ok(()));
        }
        let flushed = ready!(Pin::new(&mut self.io).poll_flush(cx));
        Poll::Ready(self.tolerate(flushed, ()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_stopped_reading {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<T: Connection> Connection for ReadsOn<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}
