//! `--metrics ADDR:PORT`: the Prometheus text of `vipd status
//! --prometheus` on `GET /metrics` over HTTP/1.x, one request per
//! connection, served by the control module's bounded client loop (same
//! limits on clients, time and request size). Only `GET` of `/metrics` (and
//! `/`, a pointer to it) is answered; the server never reads a body and
//! never keeps a connection open. Read-only, like the control socket.

use std::io;
use std::net::{TcpListener, TcpStream};

use super::Daemon;
use std::rc::Rc;

use super::control::{Admit, Answer, Listener, Protocol};
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
        let body = format!("{why}\n");
        head("503 Service Unavailable", "text/plain; charset=utf-8", body.len()) + &body
    }
}

fn head(status: &str, ctype: &str, len: usize) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
}

fn response(status: &str, ctype: &str, body: &str) -> Answer {
    Answer { head: head(status, ctype, body.len()), body: body.into() }
}

/// The answer to a request head.
fn answer_http(d: &Daemon, request: &str) -> Answer {
    let mut words = request.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET", "/metrics") => {
            let now = clock::now();
            let body: Rc<str> = d.status.cached("GET /metrics", now).unwrap_or_else(|| {
                let body: Rc<str> = status::prometheus::render(&d.snapshot(now)).into();
                d.status.remember("GET /metrics", now, &body);
                body
            });
            Answer { head: head("200 OK", "text/plain; version=0.0.4; charset=utf-8", body.len()), body }
        }
        ("GET", "/") => response("200 OK", "text/plain; charset=utf-8", "vipd: metrics at /metrics\n"),
        ("GET", _) => response("404 Not Found", "text/plain; charset=utf-8", "not found\n"),
        _ => response("405 Method Not Allowed", "text/plain; charset=utf-8", "only GET\n"),
    }
}
