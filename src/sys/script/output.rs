//! A script's output: reading the non-blocking pipe a bounded number of
//! chunks per wake-up and cutting what it holds into at most 64 lines of
//! at most 512 bytes, lossy UTF-8, for the caller's callback. Nothing here
//! waits: the supervisor says when the pipe is readable.

use std::io::{self, PipeReader, Read};

use crate::sys::reactor::Async;

/// Output lines handed over per run.
pub(super) const MAX_LINES: usize = 64;
/// Bytes kept of each output line.
pub(super) const MAX_LINE: usize = 512;
pub(super) const READ_CHUNK: usize = 4096;
/// Reads per readiness wake-up: a script writing as fast as vipd reads must
/// not keep the executor from other tasks.
pub(super) const READS_PER_WAKE: usize = 16;
/// Reads after the script exited: a pipe's default capacity (64 KiB) is all
/// it can have left behind; descendants still writing are not waited for.
const DRAIN_READS: usize = 16;

/// Reads what the pipe holds, at most `max_reads` chunks. False once the
/// pipe is finished with (EOF or an error).
pub(super) fn pump(reader: &Async<PipeReader>, buf: &mut [u8], lines: &mut Lines<'_>, max_reads: usize) -> bool {
    for _ in 0..max_reads {
        match (&mut reader.get_ref()).read(buf) {
            Ok(0) => return false,
            Ok(n) => lines.feed(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return e.kind() == io::ErrorKind::WouldBlock,
        }
    }
    true
}

/// After the exit: what the pipe already holds, without waiting for
/// descendants that keep it open, then the closing lines.
pub(super) fn finish(reader: Option<&Async<PipeReader>>, buf: &mut [u8], lines: Option<Lines<'_>>) {
    if let Some(mut lines) = lines {
        if let Some(r) = reader {
            pump(r, buf, &mut lines, DRAIN_READS);
        }
        lines.finish();
    }
}

/// Cuts output into bounded lines for the caller's callback.
pub(super) struct Lines<'a> {
    sink: &'a mut dyn FnMut(&str),
    /// The line being collected, at most `MAX_LINE` bytes (one allocation).
    line: Vec<u8>,
    emitted: usize,
    dropped: u64,
}

impl<'a> Lines<'a> {
    pub(super) fn new(sink: &'a mut dyn FnMut(&str)) -> Self {
        Lines { sink, line: Vec::with_capacity(MAX_LINE), emitted: 0, dropped: 0 }
    }

    pub(super) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.emitted >= MAX_LINES {
                self.dropped += data.len() as u64;
                return;
            }
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (line, rest) = data.split_at(i);
                    self.push(line);
                    self.emit();
                    data = rest.get(1..).unwrap_or_default();
                }
                None => {
                    self.push(data);
                    return;
                }
            }
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.line.len());
        let (keep, cut) = bytes.split_at(room.min(bytes.len()));
        self.line.extend_from_slice(keep);
        self.dropped += cut.len() as u64;
    }

    fn emit(&mut self) {
        let text = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
        (self.sink)(&String::from_utf8_lossy(text));
        self.line.clear();
        self.emitted += 1;
    }

    pub(super) fn finish(mut self) {
        // A last line without its newline.
        if !self.line.is_empty() {
            self.emit();
        }
        if self.dropped > 0 {
            let note = format!("[output cut: {} more bytes dropped]", self.dropped);
            (self.sink)(&note);
        }
    }
}
