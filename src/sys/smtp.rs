//! Plain SMTP delivery of one message, as keepalived's alerts do it (no
//! TLS, no AUTH, no EHLO): greeting, `HELO`, `MAIL FROM`, one `RCPT TO`
//! per recipient, `DATA`, the dot-stuffed message, `QUIT`. A non-blocking
//! TCP client on the event loop's reactor, like `probe`: the loop never
//! waits for the server. Every wait (the connection, then each reply) is
//! bounded by the caller's timeout; dropping the future closes the socket.

use core::fmt;
use core::net::SocketAddr;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SendFlags, SocketFlags, SocketType};

use super::reactor::{Async, Timer};

/// Bytes of a reply kept: the status code is all that matters, and a
/// server sending more per line is cut (the rest of the line skipped).
const LINE_MAX: usize = 512;

/// What one delivery needs, borrowed from the caller.
pub struct Envelope<'a> {
    pub server: SocketAddr,
    pub helo: &'a str,
    pub from: &'a str,
    pub to: &'a [String],
    /// Headers and body, CRLF line ends, without the final `.` line.
    pub message: &'a [u8],
    /// For the connection and for each reply.
    pub timeout: Duration,
}

/// Why a delivery failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    ConnectTimeout,
    /// No (complete) reply within the timeout, waiting after `step`.
    ReplyTimeout(&'static str),
    /// The server answered `step` with `code`.
    Rejected(&'static str, u16),
    /// Closed by the server before its reply to `step`.
    Closed(&'static str),
    /// A reply line that does not start with a status code.
    Garbled(&'static str),
    Io(Errno),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::ConnectTimeout => f.write_str("timeout connecting"),
            Failure::ReplyTimeout(s) => write!(f, "timeout waiting for the reply to {s}"),
            Failure::Rejected(s, c) => write!(f, "{s} refused with status {c}"),
            Failure::Closed(s) => write!(f, "connection closed before the reply to {s}"),
            Failure::Garbled(s) => write!(f, "not an SMTP reply to {s}"),
            Failure::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<Errno> for Failure {
    fn from(e: Errno) -> Failure {
        Failure::Io(e)
    }
}

/// Delivers one message; `Ok` once the server took it (250 after DATA).
pub async fn deliver(e: &Envelope<'_>) -> Result<(), Failure> {
    let family = if e.server.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd = net::socket_with(family, SocketType::STREAM, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)?;
    let sock = Async::new_nonblocking(fd).map_err(|err| Errno::from_io_error(&err).unwrap_or(Errno::IO))?;
    match net::connect(sock.get_ref(), &e.server) {
        Ok(()) | Err(Errno::INPROGRESS) => {}
        Err(err) => return Err(err.into()),
    }
    let connected = async {
        // Errors are read from SO_ERROR below, not from the wait.
        let _ = sock.writable().await;
        Some(net::sockopt::socket_error(sock.get_ref()))
    };
    match smol::future::or(connected, async {
        Timer::after(e.timeout).await;
        None
    })
    .await
    {
        None => return Err(Failure::ConnectTimeout),
        Some(Err(err) | Ok(Err(err))) => return Err(err.into()),
        Some(Ok(Ok(()))) => {}
    }
    let mut c = Conn { sock: &sock, buf: [0; LINE_MAX], have: 0, timeout: e.timeout };
    c.expect("the greeting", 2).await?;
    c.command(&[b"HELO ", e.helo.as_bytes(), b"\r\n"], "HELO", 2).await?;
    c.command(&[b"MAIL FROM:<", e.from.as_bytes(), b">\r\n"], "MAIL FROM", 2).await?;
    for to in e.to {
        c.command(&[b"RCPT TO:<", to.as_bytes(), b">\r\n"], "RCPT TO", 2).await?;
    }
    c.command(&[b"DATA\r\n"], "DATA", 3).await?;
    // Dot-stuffed line by line: a line starting with `.` gets another.
    for line in e.message.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            c.send(b".").await?;
        }
        c.send(line).await?;
    }
    c.command(&[b".\r\n"], "the message", 2).await?;
    // The message is delivered; how QUIT goes does not matter.
    let _ = c.command(&[b"QUIT\r\n"], "QUIT", 2).await;
    Ok(())
}

struct Conn<'s> {
    sock: &'s Async<std::os::fd::OwnedFd>,
    /// The start of the reply line being read.
    buf: [u8; LINE_MAX],
    have: usize,
    timeout: Duration,
}

impl Conn<'_> {
    async fn send(&mut self, mut b: &[u8]) -> Result<(), Failure> {
        while !b.is_empty() {
            match net::send(self.sock.get_ref(), b, SendFlags::NOSIGNAL) {
                Ok(n) => b = &b[n..],
                Err(Errno::AGAIN) => {
                    // A server that stops reading stalls the send: bounded
                    // like a reply.
                    let w = async {
                        let _ = self.sock.writable().await;
                        true
                    };
                    if !smol::future::or(w, timeout(self.timeout)).await {
                        return Err(Failure::ReplyTimeout("DATA"));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn command(&mut self, parts: &[&[u8]], step: &'static str, class: u16) -> Result<(), Failure> {
        for p in parts {
            self.send(p).await?;
        }
        self.expect(step, class).await
    }

    /// Reads a whole reply (the last line of a multi-line one is `NNN `)
    /// within the timeout and checks its first digit.
    async fn expect(&mut self, step: &'static str, class: u16) -> Result<(), Failure> {
        let deadline = Instant::now() + self.timeout;
        let code = smol::future::or(self.reply(step), async {
            Timer::at(deadline).await;
            Err(Failure::ReplyTimeout(step))
        })
        .await?;
        if code / 100 != class {
            return Err(Failure::Rejected(step, code));
        }
        Ok(())
    }

    async fn reply(&mut self, step: &'static str) -> Result<u16, Failure> {
        // Bytes of the current line past LINE_MAX are read and dropped.
        let mut skipping = false;
        loop {
            let mut chunk = [0u8; 256];
            let n = match rustix::io::read(self.sock.get_ref(), &mut chunk) {
                Ok(0) => return Err(Failure::Closed(step)),
                Ok(n) => n,
                Err(Errno::AGAIN) => {
                    let _ = self.sock.readable().await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for &b in &chunk[..n] {
                if b != b'\n' {
                    if !skipping && self.have < LINE_MAX {
                        self.buf[self.have] = b;
                        self.have += 1;
                    }
                    continue;
                }
                let line = &self.buf[..self.have];
                let parsed = last_line(line);
                self.have = 0;
                skipping = false;
                match parsed {
                    Some((code, true)) => return Ok(code),
                    Some((_, false)) => {}
                    None => return Err(Failure::Garbled(step)),
                }
            }
            if self.have == LINE_MAX {
                skipping = true;
            }
        }
    }
}

async fn timeout(d: Duration) -> bool {
    Timer::after(d).await;
    false
}

/// A reply line's code and whether it is the reply's last line (`NNN ` or
/// a bare `NNN`, against `NNN-` for more to come).
fn last_line(line: &[u8]) -> Option<(u16, bool)> {
    let code = line.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = code.iter().fold(0u16, |a, d| a * 10 + u16::from(d - b'0'));
    Some((code, line.get(3) != Some(&b'-')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    #[test]
    fn reply_lines() {
        assert_eq!(last_line(b"220 mx ESMTP\r"), Some((220, true)));
        assert_eq!(last_line(b"250-PIPELINING\r"), Some((250, false)));
        assert_eq!(last_line(b"354"), Some((354, true)));
        assert_eq!(last_line(b"HTTP/1.1 400"), None);
        assert_eq!(last_line(b"25"), None);
    }

    /// A scripted server on a thread: answers each command line with the
    /// next reply and records what it got.
    fn server(replies: &'static [&'static str]) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            let mut w = s.try_clone().expect("clone");
            let mut r = BufReader::new(s);
            let mut got = Vec::new();
            let mut replies = replies.iter();
            w.write_all(b"220-first\r\n220 mx ready\r\n").expect("greet");
            let mut data = false;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                got.push(line.clone());
                if data && line != ".\r\n" {
                    continue;
                }
                data = line == "DATA\r\n";
                let Some(reply) = replies.next() else { break };
                w.write_all(reply.as_bytes()).expect("reply");
            }
            got
        });
        (addr, h)
    }

    fn envelope<'a>(server: SocketAddr, to: &'a [String], message: &'a [u8]) -> Envelope<'a> {
        Envelope { server, helo: "r1", from: "a@x", to, message, timeout: Duration::from_secs(5) }
    }

    #[test]
    fn delivers_with_dot_stuffing() {
        let (addr, h) = server(&[
            "250 hi\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "251 ok\r\n",
            "354 go\r\n",
            "250 queued\r\n",
            "221 bye\r\n",
        ]);
        let to = ["b@x".to_owned(), "c@x".to_owned()];
        let msg = b"Subject: s\r\n\r\n.hidden\r\nend\r\n";
        let r = crate::sys::reactor::block_on(deliver(&envelope(addr, &to, msg))).expect("block_on");
        assert_eq!(r, Ok(()));
        let got = h.join().expect("server");
        let want = [
            "HELO r1\r\n",
            "MAIL FROM:<a@x>\r\n",
            "RCPT TO:<b@x>\r\n",
            "RCPT TO:<c@x>\r\n",
            "DATA\r\n",
            "Subject: s\r\n",
            "\r\n",
            "..hidden\r\n",
            "end\r\n",
            ".\r\n",
            "QUIT\r\n",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_refused_recipient_fails() {
        let (addr, h) = server(&["250 hi\r\n", "250 ok\r\n", "550 no such user\r\n", "221 bye\r\n"]);
        let to = ["b@x".to_owned()];
        let r = crate::sys::reactor::block_on(deliver(&envelope(addr, &to, b"x\r\n"))).expect("block_on");
        assert_eq!(r, Err(Failure::Rejected("RCPT TO", 550)));
        drop(h);
    }

    #[test]
    fn a_silent_server_times_out() {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let to = ["b@x".to_owned()];
        let mut e = envelope(addr, &to, b"x\r\n");
        e.timeout = Duration::from_millis(200);
        let t = Instant::now();
        let r = crate::sys::reactor::block_on(deliver(&e)).expect("block_on");
        assert_eq!(r, Err(Failure::ReplyTimeout("the greeting")));
        assert!(t.elapsed() < Duration::from_secs(2));
        drop(l);
    }
}
