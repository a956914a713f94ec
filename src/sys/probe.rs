//! `vrrp_probe` checks: a non-blocking TCP connect, and for HTTP a minimal
//! `GET` whose answer is judged by its status line alone, on the event
//! loop's reactor. No decisions here on timing or verdicts: the caller
//! bounds a run with its timeout (dropping the future closes the socket)
//! and feeds the outcome to the tracker.
//!
//! A run allocates nothing: the request is built once per configuration
//! and the answer is read into a buffer on the future's own state, at most
//! [`READ_MAX`] bytes, after which the socket is closed whatever is left.

use core::fmt;
use core::net::SocketAddr;

use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SendFlags, SocketFlags, SocketType};

use super::reactor::{Async, Interest};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Bytes of the answer read at most: "HTTP/1.1 200" is all that matters.
const READ_MAX: usize = 16;

/// What a probe connects to and, for HTTP, sends and expects.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// HTTP: the whole request; `None`: a TCP connect is the check.
    request: Option<Box<[u8]>>,
    /// HTTP: the status that counts as success; `None`: any 2xx.
    expect: Option<u16>,
}

impl Target {
    /// `url`: `http://AUTHORITY[/PATH]`, already checked: the authority
    /// goes in the `Host` header.
    pub fn new(addr: SocketAddr, url: Option<&str>, expect: Option<u16>) -> Target {
        let request = url.map(|url| {
            let rest = url.strip_prefix("http://").unwrap_or(url);
            let (host, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
            let head = ["GET ", path, " HTTP/1.1\r\nHost: ", host, "\r\nUser-Agent: vipd\r\nConnection: close\r\n\r\n"];
            head.concat().into_bytes().into_boxed_slice()
        });
        Target { addr, request, expect }
    }

    /// Whether `o` counts as the service being up.
    pub fn success(&self, o: Outcome) -> bool {
        match o {
            Outcome::Connected => true,
            Outcome::Http(code) => self.expect.map_or((200..300).contains(&code), |e| e == code),
            _ => false,
        }
    }
}

/// How one run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// TCP: the connection was accepted.
    Connected,
    /// HTTP: the status code of the answer.
    Http(u16),
    /// Set by the caller when the run outlasted its timeout.
    TimedOut,
    Refused,
    Reset,
    /// Closed by the peer before a status line.
    NoAnswer,
    /// The answer does not start with an HTTP status line.
    NotHttp,
    Failed(Errno),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Connected => f.write_str("connected"),
            Outcome::Http(code) => write!(f, "HTTP {code}"),
            Outcome::TimedOut => f.write_str("timed out"),
            Outcome::Refused => f.write_str("connect refused"),
            Outcome::Reset => f.write_str("connection reset"),
            Outcome::NoAnswer => f.write_str("closed without answering"),
            Outcome::NotHttp => f.write_str("not an HTTP answer"),
            Outcome::Failed(e) => write!(f, "{e}"),
        }
    }
}

/// One probe run, without a time limit (the caller sets one).
pub async fn run(t: &Target) -> Outcome {
    match attempt(t).await {
        Ok(o) => o,
        Err(Errno::CONNREFUSED) => Outcome::Refused,
        Err(Errno::CONNRESET | Errno::PIPE) => Outcome::Reset,
        Err(e) => Outcome::Failed(e),
    }
}

async fn attempt(t: &Target) -> Result<Outcome, Errno> {
    let family = if t.addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = net::socket_with(family, SocketType::STREAM, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)?;
    // Closed with a reset, as load balancers' own checks do: no FIN
    // exchange and no TIME_WAIT socket per run, so frequent probes cannot
    // use up the local ports.
    net::sockopt::set_socket_linger(&fd, Some(core::time::Duration::ZERO))?;
    // Over loopback the handshake is usually over when connect returns:
    // going on at once saves a wakeup per run. While it is not, send says
    // EAGAIN (and the failed handshake's error, when there was one).
    match net::connect(&fd, &t.addr) {
        Ok(()) | Err(Errno::INPROGRESS) => {}
        Err(e) => return Err(e),
    }
    // The socket joins the reactor only when a run has to wait, armed for
    // what it waits for, and leaves it by being closed: a run that never
    // waits costs no epoll_ctl, one that does costs one.
    let mut sock = Lazy::Bare(fd);
    let Some(req) = &t.request else {
        if net::getpeername(sock.fd()?).is_err() {
            // Errors are read from SO_ERROR below, not from the wait.
            let _ = sock.wait(Interest::Writable)?.await;
            net::sockopt::socket_error(sock.fd()?)??;
        }
        return Ok(Outcome::Connected);
    };
    let mut sent = 0;
    while sent < req.len() {
        match net::send(sock.fd()?, &req[sent..], SendFlags::NOSIGNAL) {
            Ok(n) => sent += n,
            Err(Errno::AGAIN) => {
                let _ = sock.wait(Interest::Writable)?.await;
            }
            Err(e) => return Err(e),
        }
    }
    let mut buf = [0u8; READ_MAX];
    let mut have = 0;
    loop {
        if let Some(o) = status(&buf[..have]) {
            return Ok(o);
        }
        match rustix::io::read(sock.fd()?, &mut buf[have..]) {
            Ok(0) => return Ok(if have == 0 { Outcome::NoAnswer } else { Outcome::NotHttp }),
            Ok(n) => have += n,
            Err(Errno::AGAIN) => {
                let _ = sock.wait(Interest::Readable)?.await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A probe's socket: bare until the run first has to wait.
enum Lazy {
    Bare(OwnedFd),
    Registered(Async<OwnedFd>),
    /// Only while moving from one to the other.
    Gone,
}

impl Lazy {
    /// EBADF only after a failed registration, which ended the run.
    fn fd(&self) -> Result<BorrowedFd<'_>, Errno> {
        match self {
            Lazy::Bare(fd) => Ok(fd.as_fd()),
            Lazy::Registered(a) => Ok(a.get_ref().as_fd()),
            Lazy::Gone => Err(Errno::BADF),
        }
    }

    /// The wait for `interest`, registering the socket first if it is bare.
    fn wait(&mut self, interest: Interest) -> Result<crate::sys::reactor::Ready<'_, OwnedFd>, Errno> {
        if let Lazy::Bare(_) = self {
            let Lazy::Bare(fd) = core::mem::replace(self, Lazy::Gone) else { return Err(Errno::BADF) };
            let a = Async::new_sole(fd, interest).map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
            *self = Lazy::Registered(a);
        }
        match self {
            Lazy::Registered(a) => Ok(match interest {
                Interest::Readable => a.readable(),
                Interest::Writable => a.writable(),
            }),
            _ => Err(Errno::BADF),
        }
    }
}

/// The verdict on the first bytes of an answer, once they allow one:
/// `HTTP/1.x NNN`.
fn status(b: &[u8]) -> Option<Outcome> {
    const PREFIX: &[u8] = b"HTTP/1.";
    let n = b.len().min(PREFIX.len());
    if b[..n] != PREFIX[..n] {
        return Some(Outcome::NotHttp);
    }
    let line = b.get(..12)?;
    let code = &line[9..12];
    if line[8] != b' ' || !code.iter().all(u8::is_ascii_digit) {
        return Some(Outcome::NotHttp);
    }
    Some(Outcome::Http(code.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    fn probe(t: &Target) -> Outcome {
        crate::sys::reactor::block_on(run(t)).expect("block_on")
    }

    /// A one-shot server answering `answer` after reading the request.
    fn serve(answer: &'static [u8]) -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            let mut req = vec![0u8; 512];
            let n = s.read(&mut req).expect("read");
            req.truncate(n);
            let _ = s.write_all(answer);
            req
        });
        (addr, h)
    }

    #[test]
    fn http_status_decides() {
        let (addr, h) = serve(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let t = Target::new(addr, Some("http://h.example/healthz"), None);
        assert_eq!(probe(&t), Outcome::Http(503));
        assert!(!t.success(Outcome::Http(503)));
        assert!(t.success(Outcome::Http(204)));
        let req = h.join().expect("server");
        assert!(req.starts_with(b"GET /healthz HTTP/1.1\r\nHost: h.example\r\n"), "{req:?}");
        assert!(Target::new(addr, Some("http://h"), Some(503)).success(Outcome::Http(503)));
        assert!(!Target::new(addr, Some("http://h"), Some(503)).success(Outcome::Http(200)));
    }

    #[test]
    fn garbage_and_silence_are_failures() {
        let (addr, h) = serve(b"SSH-2.0-OpenSSH\r\n");
        assert_eq!(probe(&Target::new(addr, Some("http://h"), None)), Outcome::NotHttp);
        h.join().expect("server");
        let (addr, h) = serve(b"");
        assert_eq!(probe(&Target::new(addr, Some("http://h"), None)), Outcome::NoAnswer);
        h.join().expect("server");
    }

    #[test]
    fn tcp_connects_and_a_closed_port_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        assert_eq!(probe(&Target::new(addr, None, None)), Outcome::Connected);
        drop(l);
        // A port bound and never listened on refuses. Not the dropped
        // listener's port: another test thread's spawn may clone our fd
        // table and hold that listener open until its child execs.
        let closed = rustix::net::socket_with(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .expect("socket");
        rustix::net::bind(&closed, &SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
        let addr = rustix::net::getsockname(&closed).expect("name");
        let addr = SocketAddr::try_from(addr).expect("an inet address");
        assert_eq!(probe(&Target::new(addr, None, None)), Outcome::Refused);
    }

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.0 200 OK"), Some(Outcome::Http(200)));
        assert_eq!(status(b"HTTP/1.1 404"), Some(Outcome::Http(404)));
        assert_eq!(status(b"HTTP/1."), None);
        assert_eq!(status(b"HTTX"), Some(Outcome::NotHttp));
        assert_eq!(status(b"HTTP/1.1 2x0 "), Some(Outcome::NotHttp));
        assert_eq!(status(b""), None);
    }
}
