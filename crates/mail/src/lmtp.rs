//! The LMTP listener (RFC 2033), for an MTA to deliver to (Postfix's `lmtp:` transport): TCP or a
//! unix socket. Each recipient gets its own reply after the data, and `250` only once what it
//! became is committed; `451` when the database is unavailable; `552` over the size limit.

use std::time::Duration;

use app::App;
use app::mail::Delivery;
use smtp_proto::Request;
use smtp_proto::request::receiver::{DataReceiver, RequestReceiver};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::deliver::{DeliverError, deliver};

/// Settings of the listener.
#[derive(Debug, Clone)]
pub struct LmtpConfig {
    /// The name in the greeting.
    pub hostname: String,
    /// The largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// The most recipients of one message.
    pub max_recipients: usize,
    /// A client silent this long is disconnected.
    pub idle_timeout: Duration,
}

impl Default for LmtpConfig {
    /// 25 MiB messages, 100 recipients, 5 minutes of silence.
    fn default() -> Self {
        LmtpConfig {
            hostname: "sportello".into(),
            max_message_bytes: 25 << 20,
            max_recipients: 100,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

enum State {
    Commands,
    Data { receiver: DataReceiver, buf: Vec<u8>, too_big: bool },
}

/// Serves one LMTP conversation until QUIT, the peer leaves, or it stays silent too long.
pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    app: App,
    mut stream: S,
    cfg: LmtpConfig,
) -> std::io::Result<()> {
    stream.write_all(format!("220 {} LMTP Sportello ready\r\n", cfg.hostname).as_bytes()).await?;
    let mut requests = RequestReceiver::default();
    let mut state = State::Commands;
    let mut greeted = false;
    let mut sender: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match tokio::time::timeout(cfg.idle_timeout, stream.read(&mut chunk)).await {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let _ = stream.write_all(b"421 4.4.2 idle for too long, closing\r\n").await;
                return Ok(());
            }
        };
        let bytes = &chunk[..n];
        let mut iter = bytes.iter();
        let mut out = String::new();
        loop {
            match &mut state {
                State::Data { receiver, buf, too_big } => {
                    let done = receiver.ingest(&mut iter, buf);
                    if buf.len() > cfg.max_message_bytes {
                        *too_big = true;
                        buf.clear();
                    }
                    if !done {
                        break;
                    }
                    let (message, big) = (std::mem::take(buf), *too_big);
                    state = State::Commands;
                    // Reply before reading more: each recipient's answer once it is committed.
                    for rcpt in recipients.drain(..) {
                        let reply = if big {
                            format!("552 5.3.4 message larger than {} bytes\r\n", cfg.max_message_bytes)
                        } else {
                            match deliver(&app, &message, &Delivery::Address(rcpt.clone())).await {
                                Ok(_) => format!("250 2.0.0 <{rcpt}> delivered\r\n"),
                                Err(DeliverError::NoSuchAddress(_)) => {
                                    format!("550 5.1.1 <{rcpt}> no such mailbox\r\n")
                                }
                                Err(DeliverError::Temporary(e)) => {
                                    tracing::warn!(error = %e, recipient = %rcpt, "LMTP delivery failed for now");
                                    "451 4.3.0 temporary failure, try again later\r\n".to_string()
                                }
                            }
                        };
                        out.push_str(&reply);
                    }
                    sender = None;
                }
                State::Commands => {
                    let request = match requests.ingest(&mut iter, bytes) {
                        Ok(r) => r,
                        Err(smtp_proto::Error::NeedsMoreData { .. }) => break,
                        Err(smtp_proto::Error::ResponseTooLong) => {
                            out.push_str("500 5.5.2 line too long\r\n");
                            continue;
                        }
                        Err(smtp_proto::Error::UnknownCommand) | Err(smtp_proto::Error::InvalidResponse { .. }) => {
                            out.push_str("500 5.5.1 command not recognised\r\n");
                            continue;
                        }
                        Err(e) => {
                            out.push_str(&format!("501 5.5.4 {}\r\n", describe(&e)));
                            continue;
                        }
                    };
                    match request {
                        Request::Lhlo { .. } => {
                            greeted = true;
                            sender = None;
                            recipients.clear();
                            out.push_str(&format!(
                                "250-{}\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE {}\r\n",
                                cfg.hostname, cfg.max_message_bytes
                            ));
                        }
                        Request::Ehlo { .. } | Request::Helo { .. } => {
                            out.push_str("500 5.5.1 this is LMTP: say LHLO\r\n");
                        }
                        Request::Mail { from } => {
                            if !greeted {
                                out.push_str("503 5.5.1 LHLO first\r\n");
                            } else if sender.is_some() {
                                out.push_str("503 5.5.1 nested MAIL command\r\n");
                            } else if from.size > cfg.max_message_bytes {
                                out.push_str(&format!(
                                    "552 5.3.4 message larger than {} bytes\r\n",
                                    cfg.max_message_bytes
                                ));
                            } else {
                                sender = Some(from.address);
                                out.push_str("250 2.1.0 sender OK\r\n");
                            }
                        }
                        Request::Rcpt { to } => {
                            if sender.is_none() {
                                out.push_str("503 5.5.1 MAIL first\r\n");
                            } else if recipients.len() >= cfg.max_recipients {
                                out.push_str("452 4.5.3 too many recipients\r\n");
                            } else {
                                match app.mail_target(&Delivery::Address(to.address.clone())).await {
                                    Ok(_) => {
                                        recipients.push(to.address);
                                        out.push_str("250 2.1.5 recipient OK\r\n");
                                    }
                                    Err(app::Error::NotFound(_)) => {
                                        out.push_str(&format!("550 5.1.1 <{}> no such mailbox\r\n", to.address));
                                    }
                                    Err(e) => {
                                        tracing::warn!(error = %e, "LMTP could not check a recipient");
                                        out.push_str("451 4.3.0 temporary failure, try again later\r\n");
                                    }
                                }
                            }
                        }
                        Request::Data => {
                            if recipients.is_empty() {
                                out.push_str("554 5.5.1 no valid recipients\r\n");
                            } else {
                                out.push_str("354 2.0.0 go ahead, end with <CRLF>.<CRLF>\r\n");
                                let mut receiver = DataReceiver::new();
                                let mut buf = Vec::new();
                                // The data starts a line: let the receiver know, so a lone "." ends it.
                                receiver.ingest(&mut b"\r\n".iter(), &mut buf);
                                buf.clear();
                                state = State::Data { receiver, buf, too_big: false };
                                // Send the 354 before the data arrives.
                                stream.write_all(out.as_bytes()).await?;
                                out.clear();
                            }
                        }
                        Request::Bdat { .. } => out.push_str("502 5.5.1 BDAT is not supported\r\n"),
                        Request::Rset => {
                            sender = None;
                            recipients.clear();
                            out.push_str("250 2.0.0 reset\r\n");
                        }
                        Request::Noop { .. } => out.push_str("250 2.0.0 OK\r\n"),
                        Request::Vrfy { .. } => out.push_str("252 2.5.0 cannot verify, send anyway\r\n"),
                        Request::Quit => {
                            out.push_str("221 2.0.0 bye\r\n");
                            stream.write_all(out.as_bytes()).await?;
                            return Ok(());
                        }
                        _ => out.push_str("502 5.5.1 command not implemented\r\n"),
                    }
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(out.as_bytes()).await?;
        }
    }
}

fn describe(e: &smtp_proto::Error) -> String {
    match e {
        smtp_proto::Error::SyntaxError { syntax } => format!("syntax: {syntax}"),
        smtp_proto::Error::InvalidSenderAddress => "invalid sender address".into(),
        smtp_proto::Error::InvalidRecipientAddress => "invalid recipient address".into(),
        _ => "invalid command".into(),
    }
}

/// Where the listener listens.
#[derive(Debug, Clone)]
pub enum Listen {
    /// A TCP address, e.g. `127.0.0.1:2424`.
    Tcp(String),
    /// A unix socket path.
    Unix(std::path::PathBuf),
}

impl Listen {
    /// A path (with a `/`) is a unix socket; anything else a TCP address.
    pub fn parse(text: &str) -> Listen {
        if text.contains('/') { Listen::Unix(text.into()) } else { Listen::Tcp(text.into()) }
    }
}

/// Runs conversations on connections from `accept` until `shutdown` turns true.
fn spawn_accepting<S, F, Fut>(app: App, cfg: LmtpConfig, mut shutdown: tokio::sync::watch::Receiver<bool>, accept: F)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<S>> + Send,
{
    tokio::spawn(async move {
        loop {
            tokio::select! {
                accepted = accept() => match accepted {
                    Ok(stream) => {
                        let (app, cfg) = (app.clone(), cfg.clone());
                        tokio::spawn(async move {
                            if let Err(e) = session(app, stream, cfg).await {
                                tracing::debug!(error = %e, "an LMTP conversation ended with an error");
                            }
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "LMTP accept failed"),
                },
                _ = shutdown.changed() => break,
            }
        }
    });
}

/// Accepts LMTP connections until `shutdown` turns true; each conversation runs on its own task.
/// Returns the address (or path) listened on.
pub async fn serve(
    app: App,
    listen: Listen,
    cfg: LmtpConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<String> {
    match listen {
        Listen::Tcp(addr) => {
            let listener = std::sync::Arc::new(tokio::net::TcpListener::bind(&addr).await?);
            let bound = listener.local_addr()?.to_string();
            spawn_accepting(app, cfg, shutdown, move || {
                let l = listener.clone();
                async move {
                    let (stream, _) = l.accept().await?;
                    let _ = stream.set_nodelay(true);
                    Ok(stream)
                }
            });
            Ok(bound)
        }
        Listen::Unix(path) => {
            let _ = std::fs::remove_file(&path);
            let listener = std::sync::Arc::new(tokio::net::UnixListener::bind(&path)?);
            let bound = path.display().to_string();
            spawn_accepting(app, cfg, shutdown, move || {
                let l = listener.clone();
                async move { Ok(l.accept().await?.0) }
            });
            Ok(bound)
        }
    }
}
