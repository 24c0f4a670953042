//! The email channel.

pub mod deliver;
pub mod lmtp;
pub mod parse;
pub mod send;
