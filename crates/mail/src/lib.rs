//! The email channel.

pub mod parse;
pub mod send;
