//! Signals as readable events: the daemon's signals are blocked and read
//! from a signalfd on the event loop, so no handler runs at an odd moment
//! and no self-pipe or helper is needed.
//!
//! Children do not inherit the blocked mask: std resets the signal mask of
//! every process it spawns before exec.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd};

use super::reactor::Async;

/// The blocked signals, readable one at a time.
pub struct Signals {
    fd: Async<OwnedFd>,
}

impl Signals {
    /// Blocks `signals` for this thread (vipd has one) and opens a signalfd
    /// for them. Call before anything else may receive them.
    pub fn new(signals: &[i32]) -> io::Result<Signals> {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given; sigaddset and
        // pthread_sigmask only read it; signalfd copies it. Every return
        // value is checked.
        let fd = unsafe {
            if libc::sigemptyset(set.as_mut_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            for &s in signals {
                if libc::sigaddset(set.as_mut_ptr(), s) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, set.as_ptr(), core::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let fd = libc::signalfd(-1, set.as_ptr(), libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            OwnedFd::from_raw_fd(fd)
        };
        Ok(Signals { fd: Async::new_nonblocking(fd)? })
    }

    /// The next signal's number.
    pub async fn next(&self) -> io::Result<i32> {
        loop {
            // struct signalfd_siginfo: 128 bytes, ssi_signo first.
            let mut info = [0u8; 128];
            match rustix::io::read(self.fd.get_ref(), &mut info) {
                Ok(n) if n >= 4 => {
                    let signo = u32::from_ne_bytes([info[0], info[1], info[2], info[3]]);
                    return Ok(signo as i32);
                }
                Ok(_) => return Err(io::Error::other("signalfd: short read")),
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            self.fd.readable().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_signal_arrives_as_an_event() {
        // Blocking is per thread: this test's thread only.
        let sigs = Signals::new(&[libc::SIGUSR2]).expect("signalfd");
        // SAFETY: raising a signal that is blocked on this thread only queues
        // it for the signalfd.
        let rc = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2) };
        assert_eq!(rc, 0);
        let got = super::super::reactor::block_on(sigs.next()).expect("block_on").expect("signal");
        assert_eq!(got, libc::SIGUSR2);
    }
}
