//! The pure VRRP engine (being written).
