//! Types shared by every Berth crate: content [`digest`]s and the
//! random [`id`]s Docker gives containers, execs and networks.
//!
//! This crate has no I/O beyond reading the kernel's random source.

pub mod digest;
pub mod id;

pub use digest::{Algorithm, Digest, DigestError, Digester};
pub use id::{is_valid_id, new_id, short_id};
