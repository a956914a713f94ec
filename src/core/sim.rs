//! Simulated LAN (being written).
