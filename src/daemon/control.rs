//! The control socket's protocol and its tasks: who may connect (peer
//! credentials), how many at once, how long and how much a client may take,
//! and the one read-only request, `status FORMAT [INSTANCE...]`, answered
//! with a snapshot rendered as text, JSON or Prometheus exposition; and
//! `upgrade` (root or our user only), handed to `upgrade`. Each
//! client is a task of its own on the executor, bounded in time and size,
//! so a silent, slow or hostile client never delays an advert: the hot
//! path does not wait for any of this, and a snapshot is taken only once a
//! whole request has arrived. Nothing here changes the daemon's state.

use core::cell::RefCell;
use core::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use super::Daemon;
use super::status;
use crate::sys::clock;
use crate::sys::control::{ControlListener, may_read};
use crate::sys::reactor::{Async, Timer};

/// Clients served at once; more are told so and dropped.
pub(super) const MAX_CLIENTS: usize = 16;
/// A request is one line of at most this many bytes.
pub(super) const MAX_REQUEST: usize = 512;
/// Send buffer asked for on control connections.
const SEND_BUFFER: usize = 1 << 20;
/// New clients admitted per round.
const ACCEPTS_PER_ROUND: usize = 4;
/// From accept to the last byte of the answer.
pub(super) const CLIENT_TIME: Duration = Duration::from_secs(2);

/// The formats `status` answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Prometheus,
}

/// A parsed request line.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub format: Format,
    pub instances: Vec<&'a str>,
}

/// `status FORMAT [INSTANCE...]`; the error says what is wrong.
pub fn parse_request(line: &str) -> Result<Request<'_>, String> {
    let mut words = line.split_ascii_whitespace();
    match words.next() {
        Some("status") => {}
        Some(other) => return Err(format!("unknown request `{}`", other.escape_debug())),
        None => return Err("empty request".to_owned()),
    }
    let format = match words.next() {
        Some("text") | None => Format::Text,
        Some("json") => Format::Json,
        Some("prometheus") => Format::Prometheus,
        Some(other) => return Err(format!("unknown format `{}`", other.escape_debug())),
    };
    Ok(Request { format, instances: words.collect() })
}

/// The answer to one request line: the rendered snapshot, or `error: ...`.
pub(super) fn answer(d: &Daemon, line: &str) -> Answer {
    let req = match parse_request(line) {
        Ok(r) => r,
        Err(e) => return Answer::text(format!("error: {e}\n")),
    };
    if let Some(missing) = req.instances.iter().find(|n| d.engine.instance_by_name(n).is_none()) {
        return Answer::text(format!("error: no instance named `{}`\n", missing.escape_debug()));
    }
    let now = clock::now();
    if let Some(body) = d.status.cached(line, now) {
        return Answer { head: String::new(), body };
    }
    let snap = d.snapshot(now);
    let mut out = match req.format {
        Format::Text => status::text::render(&snap, &req.instances),
        Format::Json => status::json::render(&snap, &req.instances),
        Format::Prometheus => status::prometheus::render(&snap),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let body: Rc<str> = out.into();
    d.status.remember(line, now, &body);
    Answer { head: String::new(), body }
}

/// What a client is sent: a head (HTTP's status line and headers; empty
/// on the control socket) and a body that may be shared with the cache.
pub(super) struct Answer {
    pub(super) head: String,
    pub(super) body: Rc<str>,
}

impl Answer {
    pub(super) fn text(s: String) -> Answer {
        Answer { head: String::new(), body: s.into() }
    }
}

/// A client being served: its request, then its answer.
type Client = core::pin::Pin<Box<dyn core::future::Future<Output = ()>>>;

/// Answers that may still be built in this round (one), and whether a
/// client had to wait for the next round.
#[derive(Default)]
struct Budget {
    left: core::cell::Cell<u8>,
    deferred: core::cell::Cell<bool>,
}

impl Budget {
    /// Waits (round by round) until this client may build its answer.
    async fn take(&self) {
        smol::future::poll_fn(|_| {
            if self.left.get() > 0 {
                self.left.set(self.left.get() - 1);
                core::task::Poll::Ready(())
            } else {
                // Polled again next round: the round loop sees `deferred`.
                self.deferred.set(true);
                core::task::Poll::Pending
            }
        })
        .await
    }
}

/// What a listener lets in: served, or told why not.
pub(super) enum Admit<S> {
    Serve(S),
    Refuse(S, &'static str),
}

/// A listening socket the clients of one protocol arrive on.
pub(super) trait Listener: std::os::fd::AsFd {
    type Stream: Conn;
    /// The next waiting client, if any, and whether to serve it.
    fn next(&self, d: &Daemon) -> io::Result<Option<Admit<Self::Stream>>>;
    /// How a refusal is said, before the stream is dropped.
    fn refusal(why: &str) -> String;
}

/// A client's stream: reads and writes through a shared reference, as
/// Unix and TCP streams allow.
pub(super) trait Conn: std::os::fd::AsFd + 'static {
    /// Whether `upgrade` may be asked on this kind of stream (the control
    /// socket, not HTTP).
    const UPGRADE: bool = false;
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_some(&self, buf: &[u8]) -> io::Result<usize>;
}

impl Conn for UnixStream {
    const UPGRADE: bool = true;
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self).write(buf)
    }
}

impl Conn for std::net::TcpStream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&mut &*self).read(buf)
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&mut &*self).write(buf)
    }
}

/// How one protocol reads a request and answers it.
#[derive(Clone, Copy)]
pub(super) struct Protocol {
    /// The request is complete at this byte sequence (or at end of input).
    pub(super) end: &'static [u8],
    /// At most this many bytes of request.
    pub(super) max: usize,
    /// The whole answer to a request (written, then the stream closes).
    pub(super) answer: fn(&Daemon, &str) -> Answer,
    /// The answer to a request too long or not UTF-8.
    pub(super) bad: &'static str,
}

/// The control socket's protocol: one line, `status FORMAT [INSTANCE...]`.
pub(super) const CONTROL: Protocol =
    Protocol { end: b"\n", max: MAX_REQUEST, answer, bad: "error: request too long or not UTF-8\n" };

impl Listener for ControlListener {
    type Stream = UnixStream;

    fn next(&self, d: &Daemon) -> io::Result<Option<Admit<UnixStream>>> {
        let Some((stream, peer)) = self.accept()? else { return Ok(None) };
        // Room for a whole answer (255 instances of JSON are ~300 kB): one
        // write instead of a wakeup per socket buffer.
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(&stream, SEND_BUFFER);
        if !may_read(&peer, d.control_group) {
            d.log.line(format_args!(
                "control socket: refused uid {} (pid {}): not root, our user or the socket's group",
                peer.uid, peer.pid
            ));
            return Ok(Some(Admit::Refuse(stream, "permission denied")));
        }
        Ok(Some(Admit::Serve(stream)))
    }

    fn refusal(why: &str) -> String {
        format!("error: {why}\n")
    }
}

/// Accepts and serves clients for as long as the daemon runs, in rounds:
/// each round lets every client take a step until one has its answer
/// built, and admits at most [`ACCEPTS_PER_ROUND`] new ones; between rounds
/// the loop goes back to the reactor, so the hot path (adverts) runs
/// between any two answers however many clients push. The clients are
/// driven by this one future (no executor task each), so at most
/// [`MAX_CLIENTS`] exist and all go when it is dropped.
pub(super) async fn serve<L: Listener + 'static>(d: Rc<RefCell<Daemon>>, listener: Async<L>, proto: Protocol) {
    use core::task::Poll;
    let mut clients: Vec<Client> = Vec::with_capacity(MAX_CLIENTS);
    let budget = Rc::new(Budget::default());
    loop {
        let broken = smol::future::poll_fn(|cx| {
            // One answer built per round: the next client waits for the
            // next round, after the hot path had its turn.
            budget.left.set(1);
            budget.deferred.set(false);
            let before = clients.len();
            clients.retain_mut(|c| c.as_mut().poll(cx).is_pending());
            let mut worked = clients.len() != before || budget.left.get() == 0 || budget.deferred.get();
            match core::pin::Pin::new(&mut listener.readable()).poll(cx) {
                Poll::Pending => {}
                // The listener is gone bad: stop serving, keep the daemon.
                Poll::Ready(Err(_)) => return Poll::Ready(true),
                Poll::Ready(Ok(())) => {
                    // More may be waiting: the next round asks again.
                    worked = true;
                    for _ in 0..ACCEPTS_PER_ROUND {
                        let Some(mut c) = admit(&d, &listener, proto, clients.len(), &budget) else { break };
                        // Polled once now, so it registers for its wakeups.
                        if c.as_mut().poll(cx).is_pending() {
                            clients.push(c);
                        }
                    }
                }
            }
            if worked { Poll::Ready(false) } else { Poll::Pending }
        })
        .await;
        if broken {
            return;
        }
        // A reactor turn before the next round (a zero timer fires there).
        Timer::after(Duration::ZERO).await;
    }
}

/// The next client to serve, if one waits and may be served.
fn admit<L: Listener + 'static>(
    d: &Rc<RefCell<Daemon>>,
    listener: &Async<L>,
    proto: Protocol,
    busy: usize,
    budget: &Rc<Budget>,
) -> Option<Client> {
    loop {
        let next = listener.get_ref().next(&d.borrow());
        let stream = match next {
            Ok(Some(Admit::Serve(s))) if busy < MAX_CLIENTS => s,
            Ok(Some(Admit::Serve(s))) => {
                refuse(s, &L::refusal("busy, try again"));
                continue;
            }
            Ok(Some(Admit::Refuse(s, why))) => {
                refuse(s, &L::refusal(why));
                continue;
            }
            Ok(None) => return None,
            Err(e) => {
                d.borrow().log.line(format_args!("status listener: accept: {e}"));
                return None;
            }
        };
        let Ok(stream) = Async::new_nonblocking(stream) else { continue };
        let (d, budget) = (d.clone(), budget.clone());
        return Some(Box::pin(async move {
            let deadline = async {
                Timer::after(CLIENT_TIME).await;
            };
            smol::future::or(client(&d, &stream, proto, &budget), deadline).await;
        }));
    }
}

/// A short refusal to a client we do not serve; never waits for it (the
/// stream is non-blocking: what does not fit is lost).
fn refuse<S: Conn>(stream: S, text: &str) {
    let _ = stream.write_some(text.as_bytes());
}

/// One client: its request, then the answer; dropped on anything else
/// (too long, not UTF-8, closed early).
async fn client<S: Conn>(d: &Rc<RefCell<Daemon>>, stream: &Async<S>, proto: Protocol, budget: &Budget) {
    let mut buf = vec![0u8; proto.max];
    let mut len = 0;
    let end = loop {
        if stream.readable().await.is_err() {
            return;
        }
        let n = match stream.get_ref().read_some(&mut buf[len..]) {
            Ok(0) => break len,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        len += n;
        if let Some(at) = buf[..len].windows(proto.end.len()).position(|w| w == proto.end) {
            break at;
        }
        if len == buf.len() {
            let _ = write_all(stream, proto.bad.as_bytes()).await;
            return;
        }
    };
    budget.take().await;
    if S::UPGRADE && buf[..end].trim_ascii_end() == b"upgrade" {
        // The new binary's check is bounded to fit in CLIENT_TIME.
        let why = super::upgrade::request(d, stream.get_ref().as_fd()).await;
        let _ = write_all(stream, why.as_bytes()).await;
        return;
    }
    let reply = match core::str::from_utf8(&buf[..end]) {
        Ok(text) => (proto.answer)(&d.borrow(), text.trim_end_matches('\r')),
        Err(_) => Answer::text(proto.bad.to_owned()),
    };
    if write_all(stream, reply.head.as_bytes()).await.is_ok() {
        let _ = write_all(stream, reply.body.as_bytes()).await;
    }
}

/// Writes all of `bytes`, waiting for room as needed (the client's
/// deadline bounds how long).
async fn write_all<S: Conn>(stream: &Async<S>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.get_ref().write_some(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_or_say_what_is_wrong() {
        assert_eq!(parse_request("status").unwrap(), Request { format: Format::Text, instances: vec![] });
        assert_eq!(
            parse_request("status json VI_1 VI_2").unwrap(),
            Request { format: Format::Json, instances: vec!["VI_1", "VI_2"] }
        );
        assert_eq!(parse_request("status prometheus").unwrap().format, Format::Prometheus);
        assert!(parse_request("").unwrap_err().contains("empty"));
        assert!(parse_request("upgrade").unwrap_err().contains("unknown request"));
        assert!(parse_request("status yaml").unwrap_err().contains("unknown format"));
    }
}
