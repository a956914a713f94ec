//! NLMSG_ERROR, which carries both rejections and acks: `struct
//! nlmsgerr` and [`Ack`], the errno and the sequence number of the request
//! it answers. What an errno means for vipd (EEXIST as success, say) is
//! decided by the caller, not here.

use bytemuck::{Pod, Zeroable};

use super::{NLMSG_ERROR, NlError, NlMsg, NlMsgHdr, read};

/// `struct nlmsgerr`: a negative errno (0 for an ack) and the header of
/// the request it answers.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct NlMsgErr {
    error: [u8; 4],
    msg: NlMsgHdr,
}

impl NlMsgErr {
    pub const fn new(error: i32, msg: NlMsgHdr) -> NlMsgErr {
        NlMsgErr { error: error.to_ne_bytes(), msg }
    }

    pub const fn error(&self) -> i32 {
        i32::from_ne_bytes(self.error)
    }

    pub const fn msg(&self) -> NlMsgHdr {
        self.msg
    }
}

/// An NLMSG_ERROR: errno 0 acknowledges a request, a negative errno
/// (e.g. -17 EEXIST) rejects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    pub errno: i32,
    /// Sequence number of the request answered.
    pub seq: u32,
}

impl Ack {
    pub fn parse(msg: &NlMsg<'_>) -> Result<Ack, NlError> {
        if msg.kind() != NLMSG_ERROR {
            return Err(NlError::WrongType(msg.kind()));
        }
        let errno = i32::from_ne_bytes(read(msg.payload)?);
        // The kernel echoes the request's header after errno, with the
        // same seq as the outer header; prefer the echo when present.
        let seq = msg.payload.get(4..).and_then(|echo| read::<NlMsgHdr>(echo).ok()).map_or(msg.seq(), |h| h.seq());
        Ok(Ack { errno, seq })
    }

    pub const fn is_ok(&self) -> bool {
        self.errno == 0
    }
}
