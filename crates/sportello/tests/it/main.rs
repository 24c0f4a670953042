//! Sportello's integration tests: one binary, every storage behaviour on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod access;
mod admin_pages;
mod alerts;
mod api;
mod browser;
mod client;
mod console_pages;
mod inventory;
mod jobs;
mod mail_imap;
mod mail_in;
mod mail_out;
mod mail_parse;
mod notice_pages;
mod notices;
mod pages;
mod portal_pages;
mod process;
mod sla;
mod status;
mod storage;
mod storms;
mod tallies;
mod tickets;
