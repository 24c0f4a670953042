//! The email channel.

pub mod deliver;
pub mod imap;
pub mod lmtp;
pub mod parse;
pub mod send;
