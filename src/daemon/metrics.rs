//! `--metrics ADDR:PORT`: the Prometheus text of `vipd status
//! --prometheus` on `GET /metrics` over HTTP/1.x, one request per
//! connection, served by the control module's bounded client loop (same
//! limits on clients, time and request size). Only `GET` of `/metrics` (and
//! `/`, a pointer to it) is answered; the server never reads a body and
//! never keeps a connection open. Read-only, like the control socket.

use std::io;
use std::net::{TcpListener, TcpStream};

use super::Daemon;
use super::control::{Admit, Listener, Protocol};
use super::status;
use crate::sys::clock;

/// HTTP: the request head ends with an empty line.
pub(super) const HTTP: Protocol = Protocol {
    end: b"\r\n\r\n",
    max: 4096,
    answer: answer_http,
    bad: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
};

impl Listener for TcpListener {
    type Stream = TcpStream;

    fn next(&self, _d: &Daemon) -> io::Result<Option<Admit<TcpStream>>> {
        match self.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(true)?;
                Ok(Some(Admit::Serve(s)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn refusal(why: &str) -> String {
        response("503 Service Unavailable", "text/plain; charset=utf-8", &format!("{why}\n"))
    }
}

fn response(status: &str, ctype: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// The answer to a request head.
fn answer_http(d: &Daemon, head: &str) -> String {
    let mut words = head.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/metrics") => {
            let body = status::prometheus::render(&d.snapshot(clock::now()));
            response("200 OK", "text/plain; version=0.0.4; charset=utf-8", &body)
        }
        ("GET", "/") => response("200 OK", "text/plain; charset=utf-8", "vipd: metrics at /metrics\n"),
        ("GET", _) => response("404 Not Found", "text/plain; charset=utf-8", "not found\n"),
        _ => response("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n"),
    }
}
