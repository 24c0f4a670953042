//! The email channel.

pub mod send;
