//! A lingering close, as nginx's `lingering_close`: when the edge closes a connection
//! whose client is still sending (an answer given before the request body was read, such
//! as the origin's 413 to an upload), closing at once would make the kernel reset the
//! connection over the unread bytes, and a reset can destroy the answer before the client
//! reads it. So the close first sends FIN, then reads and drops what still arrives, for a
//! little while, before the socket goes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest a close waits for the client to finish sending.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes read and dropped while lingering.
const LINGER_BYTES: usize = 16 << 20;

/// A stream whose shutdown lingers.
#[derive(Debug)]
pub(super) struct Lingering<T> {
    io: T,
    state: State,
}

#[derive(Debug)]
enum State {
    Open,
    /// FIN sent; dropping what arrives until EOF, the byte limit or the deadline.
    Draining {
        deadline: Pin<Box<tokio::time::Sleep>>,
        dropped: usize,
    },
    Closed,
}

impl<T> Lingering<T> {
    pub(super) fn new(io: T) -> Self {
        Self {
            io,
            state: State::Open,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Lingering<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {
                    ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                    this.state = State::Draining {
                        deadline: Box::pin(tokio::time::sleep(LINGER)),
                        dropped: 0,
                    };
                }
                State::Draining { deadline, dropped } => {
                    if deadline.as_mut().poll(cx).is_ready() || *dropped > LINGER_BYTES {
                        this.state = State::Closed;
                        continue;
                    }
                    let mut scratch = [0u8; 8192];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match ready!(Pin::new(&mut this.io).poll_read(cx, &mut buf)) {
                        Ok(()) if !buf.filled().is_empty() => *dropped += buf.filled().len(),
                        // The client is done (EOF), or gone.
                        Ok(()) | Err(_) => this.state = State::Closed,
                    }
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    #[tokio::test]
    async fn a_close_sends_fin_then_reads_what_the_client_still_sends() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
            // Still sending when the server answers and closes.
            client.write_all(&vec![b'x'; 1 << 20]).await.unwrap();
            client.shutdown().await.unwrap();
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.unwrap();
            answer
        });
        let (stream, _) = listener.accept().await.unwrap();
        let mut server = Lingering::new(stream);
        server
            .write_all(b"HTTP/1.1 413 Payload Too Large\r\n\r\n")
            .await
            .unwrap();
        server.shutdown().await.unwrap();
        drop(server);
        assert_eq!(
            client.await.unwrap(),
            b"HTTP/1.1 413 Payload Too Large\r\n\r\n"
        );
    }
}
