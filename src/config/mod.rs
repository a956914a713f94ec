//! Configuration: the validated, immutable description the engine is built
//! from. The keepalived.conf lexer, parser and validation that produce it
//! arrive with the configuration issue; the types are here first so the
//! engine and the simulator are built from exactly what the parser will
//! produce.

pub mod model;

pub use model::*;
