//! [`NlBuilder`]: writes one netlink message (header, family header,
//! attributes, padding) into a caller buffer, failing with
//! `BufferTooSmall` rather than panicking or allocating. What goes into a
//! request is decided by the request functions in `link.rs` and `addr.rs`.

use bytemuck::Pod;

use super::{NlError, NlMsgHdr, RTA_HDRLEN, RtAttr, nlmsg_align};

/// Writes one netlink message into a caller buffer.
///
/// Start with [`NlBuilder::header`], append the family header with
/// [`NlBuilder::push`] and attributes with [`NlBuilder::attr`], then
/// [`NlBuilder::finish`] writes `nlmsg_len` and returns the message. Every
/// piece is padded to 4 bytes with zeros. Running out of buffer is
/// `BufferTooSmall`, never a panic.
#[derive(Debug)]
pub struct NlBuilder<'b> {
    buf: &'b mut [u8],
    len: usize,
    started: bool,
}

impl<'b> NlBuilder<'b> {
    pub fn new(buf: &'b mut [u8]) -> NlBuilder<'b> {
        NlBuilder { buf, len: 0, started: false }
    }

    /// Starts (or restarts) the message. The port id is 0: the kernel.
    pub fn header(&mut self, kind: u16, flags: u16, seq: u32) -> Result<&mut Self, NlError> {
        self.len = 0;
        self.started = false;
        self.put(bytemuck::bytes_of(&NlMsgHdr::new(0, kind, flags, seq, 0)))?;
        self.started = true;
        Ok(self)
    }

    /// Appends a fixed struct such as [`IfAddrMsg`](super::IfAddrMsg).
    pub fn push<T: Pod>(&mut self, value: &T) -> Result<&mut Self, NlError> {
        self.check_started()?;
        self.put(bytemuck::bytes_of(value))?;
        self.pad()?;
        Ok(self)
    }

    /// Appends an attribute.
    pub fn attr(&mut self, kind: u16, payload: &[u8]) -> Result<&mut Self, NlError> {
        self.check_started()?;
        let len =
            payload.len().checked_add(RTA_HDRLEN).and_then(|l| u16::try_from(l).ok()).ok_or(NlError::BufferTooSmall)?;
        self.put(bytemuck::bytes_of(&RtAttr::new(len, kind)))?;
        self.put(payload)?;
        self.pad()?;
        Ok(self)
    }

    /// Fixes up `nlmsg_len` and returns the message.
    pub fn finish(self) -> Result<&'b [u8], NlError> {
        if !self.started {
            return Err(NlError::NoHeader);
        }
        let len = u32::try_from(self.len).map_err(|_| NlError::BufferTooSmall)?;
        let NlBuilder { buf, len: used, .. } = self;
        buf.get_mut(..4).ok_or(NlError::BufferTooSmall)?.copy_from_slice(&len.to_ne_bytes());
        let buf: &'b [u8] = buf;
        buf.get(..used).ok_or(NlError::BufferTooSmall)
    }

    fn check_started(&self) -> Result<(), NlError> {
        if self.started { Ok(()) } else { Err(NlError::NoHeader) }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), NlError> {
        let end = self.len.checked_add(bytes.len()).ok_or(NlError::BufferTooSmall)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(NlError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn pad(&mut self) -> Result<(), NlError> {
        let end = nlmsg_align(self.len);
        let dst = self.buf.get_mut(self.len..end).ok_or(NlError::BufferTooSmall)?;
        dst.fill(0);
        self.len = end;
        Ok(())
    }
}
