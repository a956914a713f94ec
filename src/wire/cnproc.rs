//! The kernel's process-events connector (`linux/connector.h`,
//! `linux/cn_proc.h`): the subscribe request vipd sends and the events it
//! reads. Formats only: the socket is `sys::cnproc`.
//!
//! A datagram is one `nlmsghdr` (16 bytes), one `cn_msg` (20 bytes) and one
//! `proc_event`; the kernel never chains several in a datagram.

use super::netlink::{NLMSG_DONE, NLMSG_HDRLEN, NlMsgHdr};

/// `CN_IDX_PROC` / `CN_VAL_PROC`; the index is also the multicast group.
pub const CN_IDX_PROC: u32 = 1;
pub const CN_VAL_PROC: u32 = 1;
pub const PROC_CN_MCAST_LISTEN: u32 = 1;

const CN_MSG_LEN: usize = 20;
/// `what`, `cpu`, `timestamp_ns`, then the per-event data.
const EVENT_HDR_LEN: usize = 16;
const DATA: usize = NLMSG_HDRLEN + CN_MSG_LEN + EVENT_HDR_LEN;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// Length of [`listen_request`].
pub const LISTEN_LEN: usize = NLMSG_HDRLEN + CN_MSG_LEN + 4;

/// The request that subscribes the socket to process events.
pub fn listen_request(pid: u32) -> [u8; LISTEN_LEN] {
    let mut b = [0u8; LISTEN_LEN];
    let h = NlMsgHdr::new(LISTEN_LEN as u32, NLMSG_DONE, 0, 0, pid);
    b[..NLMSG_HDRLEN].copy_from_slice(bytemuck::bytes_of(&h));
    put(&mut b, NLMSG_HDRLEN, CN_IDX_PROC);
    put(&mut b, NLMSG_HDRLEN + 4, CN_VAL_PROC);
    // seq, ack 0; len 4, flags 0.
    b[NLMSG_HDRLEN + 16..NLMSG_HDRLEN + 18].copy_from_slice(&4u16.to_ne_bytes());
    put(&mut b, NLMSG_HDRLEN + CN_MSG_LEN, PROC_CN_MCAST_LISTEN);
    b
}

fn put(b: &mut [u8], at: usize, v: u32) {
    if let Some(d) = b.get_mut(at..at + 4) {
        d.copy_from_slice(&v.to_ne_bytes());
    }
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What happened to a process; threads' events are reported as such so
/// the caller can skip them (only whole processes are counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcEvent {
    /// The kernel's answer to the subscription (`err` 0 on success).
    Ack {
        err: u32,
    },
    /// `child` is a new process, a copy of `parent`.
    Fork {
        parent: u32,
        child: u32,
    },
    Exec {
        pid: u32,
    },
    /// The process renamed itself (`prctl(PR_SET_NAME)`); NUL-padded.
    Comm {
        pid: u32,
        comm: [u8; 16],
    },
    Exit {
        pid: u32,
    },
    /// A thread's event, or one vipd does not track.
    Other,
}

/// One event with the CPU it happened on and that CPU's sequence number
/// (the kernel numbers events per CPU, so a gap means lost events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub cpu: u32,
    pub seq: u32,
    pub event: ProcEvent,
}

/// Parses one datagram; `None` if it is not a whole process-connector
/// message.
pub fn parse(b: &[u8]) -> Option<Received> {
    let len = u32_at(b, 0)? as usize;
    if len < DATA || len > b.len() {
        return None;
    }
    let b = &b[..len];
    if u32_at(b, NLMSG_HDRLEN)? != CN_IDX_PROC || u32_at(b, NLMSG_HDRLEN + 4)? != CN_VAL_PROC {
        return None;
    }
    let seq = u32_at(b, NLMSG_HDRLEN + 8)?;
    let ev = NLMSG_HDRLEN + CN_MSG_LEN;
    let (what, cpu) = (u32_at(b, ev)?, u32_at(b, ev + 4)?);
    let d = |k: usize| u32_at(b, DATA + 4 * k);
    // A process's own event has pid (thread id) == tgid.
    let whole = |pid: u32, tgid: u32| if pid == tgid { Some(tgid) } else { None };
    let event = match what {
        PROC_EVENT_NONE => ProcEvent::Ack { err: d(0)? },
        PROC_EVENT_FORK => match whole(d(2)?, d(3)?) {
            Some(child) => ProcEvent::Fork { parent: d(1)?, child },
            None => ProcEvent::Other,
        },
        PROC_EVENT_EXEC => whole(d(0)?, d(1)?).map_or(ProcEvent::Other, |pid| ProcEvent::Exec { pid }),
        PROC_EVENT_COMM => match whole(d(0)?, d(1)?) {
            Some(pid) => ProcEvent::Comm { pid, comm: b.get(DATA + 8..DATA + 24)?.try_into().ok()? },
            None => ProcEvent::Other,
        },
        PROC_EVENT_EXIT => whole(d(0)?, d(1)?).map_or(ProcEvent::Other, |pid| ProcEvent::Exit { pid }),
        _ => ProcEvent::Other,
    };
    Some(Received { cpu, seq, event })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A datagram as the kernel builds it: header, cn_msg, proc_event.
    fn datagram(what: u32, cpu: u32, seq: u32, data: &[u32], comm: Option<&[u8; 16]>) -> Vec<u8> {
        let mut body = Vec::new();
        for v in [CN_IDX_PROC, CN_VAL_PROC, seq, 0] {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        let ev_len = EVENT_HDR_LEN + 24;
        body.extend_from_slice(&(ev_len as u16).to_ne_bytes());
        body.extend_from_slice(&0u16.to_ne_bytes());
        body.extend_from_slice(&what.to_ne_bytes());
        body.extend_from_slice(&cpu.to_ne_bytes());
        body.extend_from_slice(&123_456u64.to_ne_bytes());
        for v in data {
            body.extend_from_slice(&v.to_ne_bytes());
        }
        if let Some(c) = comm {
            body.extend_from_slice(c);
        }
        body.resize(CN_MSG_LEN + ev_len, 0);
        let mut b =
            bytemuck::bytes_of(&NlMsgHdr::new((NLMSG_HDRLEN + body.len()) as u32, NLMSG_DONE, 0, seq, 0)).to_vec();
        b.extend_from_slice(&body);
        b
    }

    #[test]
    fn events() {
        let r = parse(&datagram(PROC_EVENT_FORK, 1, 7, &[10, 10, 11, 11], None)).unwrap();
        assert_eq!(r, Received { cpu: 1, seq: 7, event: ProcEvent::Fork { parent: 10, child: 11 } });
        assert_eq!(
            parse(&datagram(PROC_EVENT_EXEC, 0, 0, &[42, 42], None)).unwrap().event,
            ProcEvent::Exec { pid: 42 }
        );
        assert_eq!(
            parse(&datagram(PROC_EVENT_EXIT, 0, 0, &[42, 42, 9, 17], None)).unwrap().event,
            ProcEvent::Exit { pid: 42 }
        );
        let mut comm = [0u8; 16];
        comm[..5].copy_from_slice(b"nginx");
        assert_eq!(
            parse(&datagram(PROC_EVENT_COMM, 0, 0, &[42, 42], Some(&comm))).unwrap().event,
            ProcEvent::Comm { pid: 42, comm }
        );
        assert_eq!(parse(&datagram(PROC_EVENT_NONE, 0, 0, &[0], None)).unwrap().event, ProcEvent::Ack { err: 0 });
    }

    #[test]
    fn threads_are_not_processes() {
        // A new thread: child pid (thread id) differs from its tgid.
        assert_eq!(parse(&datagram(PROC_EVENT_FORK, 0, 0, &[10, 10, 12, 10], None)).unwrap().event, ProcEvent::Other);
        assert_eq!(parse(&datagram(PROC_EVENT_EXIT, 0, 0, &[12, 10, 0, 0], None)).unwrap().event, ProcEvent::Other);
        assert_eq!(parse(&datagram(0x4000_0000, 0, 0, &[10, 10], None)).unwrap().event, ProcEvent::Other);
    }

    #[test]
    fn malformed() {
        let good = datagram(PROC_EVENT_EXIT, 0, 0, &[42, 42, 0, 0], None);
        for n in 0..DATA {
            assert_eq!(parse(&good[..n]), None, "truncated to {n}");
        }
        // nlmsg_len beyond the datagram.
        let mut long = good.clone();
        long[..4].copy_from_slice(&(good.len() as u32 + 4).to_ne_bytes());
        assert_eq!(parse(&long), None);
        // Another connector's message.
        let mut other = good.clone();
        other[NLMSG_HDRLEN..NLMSG_HDRLEN + 4].copy_from_slice(&2u32.to_ne_bytes());
        assert_eq!(parse(&other), None);
    }

    #[test]
    fn listen() {
        let b = listen_request(99);
        assert_eq!(u32_at(&b, 0), Some(LISTEN_LEN as u32));
        assert_eq!(u32_at(&b, 12), Some(99));
        assert_eq!(u32_at(&b, NLMSG_HDRLEN), Some(CN_IDX_PROC));
        assert_eq!(u32_at(&b, NLMSG_HDRLEN + CN_MSG_LEN), Some(PROC_CN_MCAST_LISTEN));
        assert_eq!(&b[NLMSG_HDRLEN + 16..NLMSG_HDRLEN + 18], &4u16.to_ne_bytes());
    }
}
