//! `sportello mail ingest`: one message on standard input, for Postfix's `pipe` transport or an
//! alias. The exit status follows sysexits: 0 taken, 75 (EX_TEMPFAIL) try again later, 65
//! (EX_DATAERR) malformed or refused, kept in the quarantine when it could be stored.

use std::io::Read;
use std::process::ExitCode;

use app::mail::{Delivery, MailAction};
use mail::deliver::{DeliverError, Delivered, deliver};

use crate::cli::MailActionArg;

/// Taken (or a duplicate, or held for moderation): the MTA is done with it.
const EX_OK: u8 = 0;
/// Malformed input: the MTA bounces it; a copy is in the quarantine.
const EX_DATAERR: u8 = 65;
/// Temporary failure (database away): the MTA keeps it and tries again.
const EX_TEMPFAIL: u8 = 75;

/// Reads one message from standard input and delivers it to `queue`.
pub async fn run(database_url: &str, queue: String, action: MailActionArg, max_bytes: usize) -> ExitCode {
    let mut raw = Vec::new();
    let read = std::io::stdin().lock().take(max_bytes as u64 + 1).read_to_end(&mut raw);
    if let Err(e) = read {
        eprintln!("sportello: cannot read the message: {e}");
        return ExitCode::from(EX_TEMPFAIL);
    }
    if raw.len() > max_bytes {
        eprintln!("sportello: the message is larger than {max_bytes} bytes");
        return ExitCode::from(EX_DATAERR);
    }
    let app = match crate::cli::open(database_url, 2).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("sportello: {e:#}");
            return ExitCode::from(EX_TEMPFAIL);
        }
    };
    let action = match action {
        MailActionArg::Correspond => MailAction::Correspond,
        MailActionArg::Comment => MailAction::Comment,
    };
    let code = match deliver(&app, &raw, &Delivery::Queue { queue, action }).await {
        Ok(Delivered::Taken(outcome)) => {
            eprintln!(
                "sportello: {}{}",
                outcome.as_str(),
                outcome.ticket().map(|t| format!(" (ticket {t})")).unwrap_or_default()
            );
            EX_OK
        }
        Ok(Delivered::Malformed(id) | Delivered::Rejected(id)) => {
            eprintln!("sportello: the message was refused and kept in the quarantine (entry {id})");
            EX_DATAERR
        }
        Err(DeliverError::NoSuchAddress(what)) => {
            eprintln!("sportello: {what}");
            EX_DATAERR
        }
        Err(DeliverError::Temporary(e)) => {
            eprintln!("sportello: temporary failure, try again: {e}");
            EX_TEMPFAIL
        }
    };
    app.db.close().await;
    ExitCode::from(code)
}
