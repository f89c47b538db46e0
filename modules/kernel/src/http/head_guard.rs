//! Limits on request heads, answered with the error envelope.
//!
//! actix-web parses request heads before any middleware runs, and answers a URI over
//! 64 KiB (the `http` crate's limit) or a head over 128 KiB with a bare status and
//! no body. This guard sits between the socket and actix's HTTP/1 parser and refuses
//! such requests earlier, at our own smaller limits, with the envelope (and a request
//! id) like every other refusal: a request line over `max_uri_bytes` is 414
//! `URI_TOO_LONG`, a head over `max_header_bytes` (or with more than 96 headers) is 431
//! `HEADERS_TOO_LARGE`, and a head that cannot be parsed is 400 `BAD_REQUEST`.
//!
//! It only reads along: it follows each request's framing (`Content-Length`, chunked
//! bodies) to know where the next head starts, and hands every byte to actix unchanged.
//! Written here because no maintained crate does this for actix; the parsing itself
//! is `httparse`, the parser actix uses.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most headers a request may carry (actix's own limit).
const MAX_HEADERS: usize = 96;
/// A chunk-size line longer than this is not a size line: actix refuses it itself.
const MAX_CHUNK_LINE: usize = 4096;

/// How long a head may be.
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    /// The request line (`GET /path?query HTTP/1.1`).
    pub request_line: usize,
    /// The whole head, request line and headers.
    pub head: usize,
}

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UriTooLong,
    HeadersTooLarge,
    Malformed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a request head.
    Head,
    /// Inside a body of known length: bytes left.
    Body(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Inside a chunk: bytes left, then its CRLF.
    ChunkData(u64),
    /// The CRLF after a chunk: bytes left.
    ChunkEnd(u8),
    /// After the last chunk: trailer lines until an empty one.
    Trailers,
    /// Not HTTP/1 framing we follow (an upgrade): read along no further.
    Passthrough,
}

/// Follows the request heads and bodies of one connection.
#[derive(Debug)]
pub struct HeadScanner {
    limits: HeadLimits,
    state: State,
    /// The head (or line) read so far.
    pending: Vec<u8>,
}

impl HeadScanner {
    pub fn new(limits: HeadLimits) -> Self {
        Self {
            limits,
            state: State::Head,
            pending: Vec::new(),
        }
    }

    /// Takes the next bytes of the connection; a refusal ends it.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), Refusal> {
        while !data.is_empty() {
            data = match self.state {
                State::Passthrough => return Ok(()),
                State::Head => self.head(data)?,
                State::Body(left) => {
                    let take = left.min(data.len() as u64);
                    self.state = if take == left {
                        State::Head
                    } else {
                        State::Body(left - take)
                    };
                    &data[take as usize..]
                }
                State::ChunkSize => self.chunk_size(data),
                State::ChunkData(left) => {
                    let take = left.min(data.len() as u64);
                    self.state = if take == left {
                        State::ChunkEnd(2)
                    } else {
                        State::ChunkData(left - take)
                    };
                    &data[take as usize..]
                }
                State::ChunkEnd(left) => {
                    let take = (left as usize).min(data.len());
                    self.state = if take == left as usize {
                        State::ChunkSize
                    } else {
                        State::ChunkEnd(left - take as u8)
                    };
                    &data[take..]
                }
                State::Trailers => self.trailer(data),
            };
        }
        Ok(())
    }

    fn head<'a>(&mut self, mut data: &'a [u8]) -> Result<&'a [u8], Refusal> {
        if self.pending.is_empty() {
            // Empty lines between requests are allowed (RFC 9112 §2.2).
            while let [b'\r' | b'\n', rest @ ..] = data {
                data = rest;
            }
            if data.is_empty() {
                return Ok(data);
            }
        }
        // The empty line may have begun in the bytes already held.
        let searched = self.pending.len().saturating_sub(3);
        let room = self.limits.head + 4 - self.pending.len().min(self.limits.head + 4);
        let take = data.len().min(room.max(1));
        self.pending.extend_from_slice(&data[..take]);
        let end = head_end(&self.pending, searched);
        let line_end = self.pending.iter().position(|b| *b == b'\n');
        if line_end.map_or(self.pending.len(), |i| i) > self.limits.request_line {
            return Err(Refusal::UriTooLong);
        }
        let Some(end) = end else {
            if self.pending.len() > self.limits.head {
                return Err(Refusal::HeadersTooLarge);
            }
            return Ok(&data[take..]);
        };
        if end > self.limits.head {
            return Err(Refusal::HeadersTooLarge);
        }
        // Bytes past the head's end belong to what follows it.
        let consumed = take - (self.pending.len() - end);
        self.state = framing(&self.pending[..end])?;
        self.pending.clear();
        Ok(&data[consumed..])
    }

    fn chunk_size<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let Some(newline) = data.iter().position(|b| *b == b'\n') else {
            self.pending.extend_from_slice(data);
            if self.pending.len() > MAX_CHUNK_LINE {
                self.state = State::Passthrough;
            }
            return &[];
        };
        self.pending.extend_from_slice(&data[..newline]);
        let line = String::from_utf8_lossy(&self.pending);
        let size = line.split(';').next().unwrap_or_default().trim();
        self.state = match u64::from_str_radix(size, 16) {
            Ok(0) => State::Trailers,
            Ok(n) => State::ChunkData(n),
            // actix answers a bad chunk itself; there is no next head to watch.
            Err(_) => State::Passthrough,
        };
        self.pending.clear();
        &data[newline + 1..]
    }

    fn trailer<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let Some(newline) = data.iter().position(|b| *b == b'\n') else {
            self.pending.extend_from_slice(data);
            if self.pending.len() > self.limits.head {
                self.state = State::Passthrough;
            }
            return &[];
        };
        self.pending.extend_from_slice(&data[..newline]);
        if self.pending.iter().all(|b| *b == b'\r') {
            self.state = State::Head;
        }
        self.pending.clear();
        &data[newline + 1..]
    }
}

/// Where the head in `buf` ends (after its empty line, `\r\n\r\n` or a bare
/// `\n\n`, which actix accepts too), looking from `from` on.
fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(offset) = buf[at..].iter().position(|b| *b == b'\n') {
        let newline = at + offset;
        match (buf.get(newline + 1), buf.get(newline + 2)) {
            (Some(b'\n'), _) => return Some(newline + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(newline + 3),
            _ => at = newline + 1,
        }
    }
    None
}

/// Where the request whose complete head this is ends.
fn framing(head: &[u8]) -> Result<State, Refusal> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Refusal::Malformed),
        Err(httparse::Error::TooManyHeaders) => return Err(Refusal::HeadersTooLarge),
        Err(_) => return Err(Refusal::Malformed),
    }
    let header = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
    };
    if request.method == Some("CONNECT") || header("upgrade").next().is_some() {
        return Ok(State::Passthrough);
    }
    if header("transfer-encoding").any(|v| v.contains("chunked")) {
        return Ok(State::ChunkSize);
    }
    Ok(match header("content-length").next() {
        Some(length) => match length.trim().parse::<u64>() {
            Ok(0) => State::Head,
            Ok(n) => State::Body(n),
            Err(_) => return Err(Refusal::Malformed),
        },
        None => State::Head,
    })
}

/// Renders the answer to a refused head (a complete HTTP/1.1 response).
pub type RefusalRenderer = Arc<dyn Fn(Refusal) -> Vec<u8> + Send + Sync>;

/// A connection whose request heads are checked on their way to actix.
pub struct Guarded<T> {
    inner: T,
    scanner: HeadScanner,
    render: RefusalRenderer,
    /// The refusal being written, and how much of it is out.
    answer: Option<(Vec<u8>, usize)>,
    done: bool,
}

impl<T> Guarded<T> {
    pub fn new(inner: T, limits: HeadLimits, render: RefusalRenderer) -> Self {
        Self {
            inner,
            scanner: HeadScanner::new(limits),
            render,
            answer: None,
            done: false,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Guarded<T> {
    /// Writes the refusal out; ready when all of it is.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = self.answer.as_mut() {
            if *sent == bytes.len() {
                ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
                self.answer = None;
                self.done = true;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_answer(cx))?;
        if this.done {
            // The refusal is out: actix sees the connection end mid-head and drops it.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Err(refusal) = this.scanner.feed(&buf.filled()[before..]) {
            buf.set_filled(before);
            this.answer = Some(((this.render)(refusal), 0));
            ready!(this.poll_answer(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.done || this.answer.is_some() {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        request_line: 64,
        head: 256,
    };

    fn feed_all(parts: &[&[u8]]) -> Result<HeadScanner, Refusal> {
        let mut scanner = HeadScanner::new(LIMITS);
        for part in parts {
            scanner.feed(part)?;
        }
        Ok(scanner)
    }

    #[test]
    fn heads_bodies_and_keep_alive_requests_pass_whatever_the_read_sizes() {
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
GET /b HTTP/1.1\r\nHost: x\r\n\r\n\r\n\
POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n\
GET /d HTTP/1.1\r\n\r\n\
GET /lf-only HTTP/1.1\nHost: x\n\n";
        for size in [1, 2, 3, 7, 64, stream.len()] {
            let parts: Vec<&[u8]> = stream.chunks(size).collect();
            let scanner = feed_all(&parts).unwrap();
            assert_eq!(scanner.state, State::Head, "read size {size}");
            assert!(scanner.pending.is_empty());
        }
    }

    #[test]
    fn a_body_is_never_taken_for_a_head() {
        // 1 000 bytes without a line break inside a body are not a long request line.
        let body = vec![b'x'; 1000];
        let mut head =
            format!("POST /a HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        head.extend(&body);
        head.extend(b"GET / HTTP/1.1\r\n\r\n");
        assert!(feed_all(&[&head]).is_ok());
    }

    #[test]
    fn long_lines_large_heads_and_garbage_are_refused() {
        let long_uri = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100));
        assert_eq!(
            feed_all(&[long_uri.as_bytes()]).unwrap_err(),
            Refusal::UriTooLong
        );
        // Refused before the line even ends.
        assert_eq!(feed_all(&[&[b'G'; 65]]).unwrap_err(), Refusal::UriTooLong);
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(300));
        assert_eq!(
            feed_all(&[big.as_bytes()]).unwrap_err(),
            Refusal::HeadersTooLarge
        );
        let unfinished = format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(300));
        assert_eq!(
            feed_all(&[unfinished.as_bytes()]).unwrap_err(),
            Refusal::HeadersTooLarge
        );
        assert_eq!(
            feed_all(&[b"\x16\x03\x01 hello\r\n\r\n"]).unwrap_err(),
            Refusal::Malformed
        );
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "a:b\r\n".repeat(97));
        let roomy = HeadLimits {
            request_line: 64,
            head: 4096,
        };
        let mut scanner = HeadScanner::new(roomy);
        assert_eq!(
            scanner.feed(many.as_bytes()).unwrap_err(),
            Refusal::HeadersTooLarge
        );
    }

    #[test]
    fn an_upgrade_is_followed_no_further() {
        let scanner = feed_all(&[
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            &[0u8; 500],
        ])
        .unwrap();
        assert_eq!(scanner.state, State::Passthrough);
    }

    #[tokio::test]
    async fn a_refused_head_gets_the_answer_and_actix_sees_the_end() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(4096);
        let render: RefusalRenderer = Arc::new(|r| format!("REFUSED {r:?}").into_bytes());
        let mut guarded = Guarded::new(server, LIMITS, render);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        client_write
            .write_all(format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100)).as_bytes())
            .await
            .unwrap();
        let mut seen = Vec::new();
        guarded.read_to_end(&mut seen).await.unwrap();
        // actix got at most the allowed part of the head, never a whole request.
        assert!(seen.len() <= LIMITS.request_line, "{}", seen.len());
        assert!(!seen.windows(2).any(|w| w == b"\r\n"));
        let mut answer = vec![0u8; 64];
        let n = client_read.read(&mut answer).await.unwrap();
        assert_eq!(&answer[..n], b"REFUSED UriTooLong");
    }
}
