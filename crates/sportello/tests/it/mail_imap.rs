//! IMAP polling against a real server: Debian's Dovecot, started per test on a free port with
//! its own configuration and maildir, filled with Python's `imaplib` (a real client).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use app::mailboxes::MailboxInput;
use app::tickets::ListInput;

use crate::harness::*;

/// Whether Dovecot is installed; without it the tests are skipped, except in CI.
fn have_dovecot() -> bool {
    let ok = std::path::Path::new("/usr/sbin/dovecot").exists();
    if !ok {
        if std::env::var_os("CI").is_some() || std::env::var_os("SPORTELLO_REQUIRE_BROWSER").is_some() {
            panic!("Dovecot is required here: apt-get install dovecot-imapd");
        }
        eprintln!("dovecot missing (apt-get install dovecot-imapd): IMAP test skipped");
    }
    ok
}

/// A Dovecot server with one account, `support` / `secret`.
struct Dovecot {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    /// IMAP over TLS (with [`Dovecot::start_tls`]): its port and the CA that signed its certificate.
    tls: Option<(u16, std::path::PathBuf)>,
}

impl Dovecot {
    fn start() -> Dovecot {
        Self::launch(false)
    }

    /// With an IMAPS listener whose certificate (for 127.0.0.1) a private CA signed.
    fn start_tls() -> Dovecot {
        Self::launch(true)
    }

    fn launch(tls: bool) -> Dovecot {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        for d in ["run", "mail"] {
            std::fs::create_dir(root.join(d)).unwrap();
        }
        // Dovecot delivers as an unprivileged user (never root): the maildir must be theirs to write.
        use std::os::unix::fs::PermissionsExt;
        for d in [root.to_path_buf(), root.join("mail")] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::write(root.join("users"), "support:{PLAIN}secret\n").unwrap();
        let r = root.display();
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let tls_port = if tls { free() } else { 0 };
        if tls {
            std::fs::write(
                root.join("leaf.ext"),
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            )
            .unwrap();
            let script = "set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=Sportello test CA' \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout key.pem -out leaf.csr -subj '/CN=127.0.0.1' 2>/dev/null
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile leaf.ext 2>/dev/null";
            let out = Command::new("sh").arg("-c").arg(script).current_dir(root).output().unwrap();
            assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
        }
        let ssl = if tls {
            format!("ssl = yes\nssl_cert = <{r}/cert.pem\nssl_key = <{r}/key.pem\n")
        } else {
            "ssl = no\n".to_owned()
        };
        let conf = format!(
            "protocols = imap\nlisten = 127.0.0.1\nbase_dir = {r}/run\nstate_dir = {r}/run/state\n\
             log_path = {r}/dovecot.log\n{ssl}disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             default_internal_user = nobody\ndefault_login_user = nobody\nmail_location = maildir:{r}/mail/%u\n\
             mail_uid = 65534\nmail_gid = 65534\nfirst_valid_uid = 1\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid=65534 gid=65534 home={r}/mail/%u\n}}\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {tls_port}\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), conf).unwrap();
        let child = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let tls = tls.then(|| (tls_port, root.join("ca.pem")));
        let d = Dovecot { child: Some(child), dir, port, tls };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "dovecot did not start: {}",
            std::fs::read_to_string(d.dir.path().join("dovecot.log")).unwrap_or_default()
        );
    }

    /// Runs an imaplib script logged in as `support` (`m` is the connection); prints its output.
    fn imap(&self, script: &str) -> String {
        let full = format!(
            "import imaplib, sys\nm = imaplib.IMAP4('127.0.0.1', {})\nm.login('support', 'secret')\n{script}\nm.logout()\n",
            self.port
        );
        let out = Command::new("python3").arg("-c").arg(&full).output().unwrap();
        assert!(out.status.success(), "imaplib failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Appends messages to `folder` (created if missing).
    fn append(&self, folder: &str, messages: &[Vec<u8>]) {
        let list: Vec<String> = messages.iter().map(|m| format!("{:?}", String::from_utf8_lossy(m))).collect();
        self.imap(&format!(
            "m.create({folder:?})\nfor raw in [{}]:\n    m.append({folder:?}, None, None, raw.encode('utf-8'))",
            list.join(", ")
        ));
    }

    /// How many messages `folder` holds, and how many of them are `\Seen`.
    fn counts(&self, folder: &str) -> (usize, usize) {
        let out = self.imap(&format!(
            "m.select({folder:?})\nprint(len(m.search(None, 'ALL')[1][0].split()), len(m.search(None, 'SEEN')[1][0].split()))"
        ));
        let mut it = out.split_whitespace().map(|n| n.parse::<usize>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn message(from: &str, subject: &str, id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: support@op.example\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Sun, 22 Nov 2026 09:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

async fn ticket_count(t: &Ctx, cast: &Cast) -> usize {
    use domain::Status::*;
    let input =
        ListInput { statuses: vec![New, Open, Stalled, Resolved, Rejected], limit: Some(200), ..Default::default() };
    t.app.list_tickets(&cast.admin, input).await.unwrap().tickets.len()
}

/// Claims the mailbox and polls it once, as the poller does.
async fn poll(t: &Ctx, cfg: &mail::imap::PollerConfig) -> Result<mail::imap::PollReport, String> {
    let task = t.app.claim_imap_mailbox(&cfg.node, Duration::ZERO, cfg.lease).await.unwrap().expect("a mailbox is due");
    let r = mail::imap::poll_mailbox(&t.app, &task, cfg).await;
    let (n, err) = match &r {
        Ok(r) => (r.taken + r.quarantined, None),
        Err(e) => (0, Some(e.to_string())),
    };
    t.app.imap_finish(&task, n, err.as_deref()).await.unwrap();
    r.map_err(|e| e.to_string())
}

fn mailbox(port: u16, folder: &str, done: Option<&str>) -> MailboxInput {
    MailboxInput {
        name: "support-imap".into(),
        host: "127.0.0.1".into(),
        port: Some(port),
        security: "none".into(),
        username: "support".into(),
        password: Some("secret".into()),
        folder: folder.into(),
        queue: "support".into(),
        action: "correspond".into(),
        done_folder: done.map(str::to_owned),
        active: true,
    }
}

both!(
    async fn imap_mailbox_is_polled_by_uid_once_and_survives_a_new_uidvalidity(t: &Ctx) {
        if !have_dovecot() {
            return;
        }
        let cast = t.seed().await;
        let server = Dovecot::start();
        let before = ticket_count(t, &cast).await;
        server.append(
            "Support",
            &[
                message("Anna <anna@acme.example>", "Linea muta a Erba", "imap1@acme.example", "Nessun segnale."),
                message("stranger@else.example", "Preventivo fibra", "imap2@else.example", "Quanto costa?"),
                b"this is not an email at all".to_vec(),
            ],
        );
        let view = t.app.save_imap_mailbox(&cast.admin, None, mailbox(server.port, "Support", None)).await.unwrap();
        assert!(view.has_password);
        let cfg = mail::imap::PollerConfig { node: "test-node".into(), ..Default::default() };

        let r = poll(t, &cfg).await.unwrap();
        assert_eq!((r.taken, r.quarantined), (2, 1), "{r:?}");
        assert_eq!(ticket_count(t, &cast).await, before + 2);
        assert_eq!(server.counts("Support"), (3, 3), "every message taken is flagged \\Seen");
        let v = t.app.imap_mailbox(&cast.admin, view.id).await.unwrap();
        assert_eq!(
            (v.last_uid, v.uid_validity, v.last_error.clone(), v.last_fetched),
            (3, Some(i64::from(r.uid_validity)), None, 3)
        );
        // While this node holds it, nobody else claims it; after the poll it is free but not due.
        assert!(t.app.claim_imap_mailbox("other", Duration::from_secs(60), cfg.lease).await.unwrap().is_none());

        // Polled again: nothing new.
        let r = poll(t, &cfg).await.unwrap();
        assert_eq!((r.taken, r.quarantined), (0, 0));

        // The folder is recreated (a new UIDVALIDITY, UIDs from 1 again) with the old messages and
        // a new one: only the new one makes a ticket.
        server.imap("m.select('INBOX')\nm.delete('Support')");
        server.append(
            "Support",
            &[
                message("Anna <anna@acme.example>", "Linea muta a Erba", "imap1@acme.example", "Nessun segnale."),
                message("Anna <anna@acme.example>", "Router spento", "imap3@acme.example", "Il router non si accende."),
            ],
        );
        let r2 = poll(t, &cfg).await.unwrap();
        assert_ne!(r2.uid_validity, r.uid_validity);
        assert_eq!((r2.taken, r2.last_uid), (2, 2), "{r2:?}");
        assert_eq!(ticket_count(t, &cast).await, before + 3, "the message seen before is not a ticket again");

        // A wrong password: the error is recorded, nothing is taken, the position stays.
        let mut wrong = mailbox(server.port, "Support", None);
        wrong.password = Some("wrong".into());
        t.app.save_imap_mailbox(&cast.admin, Some(view.id), wrong).await.unwrap();
        t.app.poll_imap_mailbox_now(&cast.admin, view.id).await.unwrap();
        let e = poll(t, &cfg).await.unwrap_err();
        assert!(e.contains("login"), "{e}");
        let v = t.app.imap_mailbox(&cast.admin, view.id).await.unwrap();
        assert!(v.last_error.unwrap().contains("login"));
        assert_eq!(v.last_uid, 2);
    }
);

both!(
    async fn imap_messages_move_to_the_done_folder_and_admin_input_is_checked(t: &Ctx) {
        if !have_dovecot() {
            return;
        }
        let cast = t.seed().await;
        let server = Dovecot::start();
        server.append(
            "INBOX",
            &[
                message("Anna <anna@acme.example>", "Fattura doppia", "imapd1@acme.example", "Due addebiti."),
                message("Bruno <bruno@acme.example>", "Disdetta", "imapd2@acme.example", "Vorrei disdire."),
            ],
        );
        server.imap("m.create('Fatto')");
        t.app.save_imap_mailbox(&cast.admin, None, mailbox(server.port, "INBOX", Some("Fatto"))).await.unwrap();
        let cfg = mail::imap::PollerConfig { node: "test-node".into(), ..Default::default() };
        let r = poll(t, &cfg).await.unwrap();
        assert_eq!(r.taken, 2);
        assert_eq!(server.counts("INBOX").0, 0, "moved out of the inbox");
        assert_eq!(server.counts("Fatto").0, 2, "into the done folder");

        // Agents may not see mailboxes; bad input is refused and changes nothing.
        assert!(t.app.imap_mailboxes(&cast.agent).await.is_err());
        let mut bad = mailbox(server.port, "INBOX", None);
        bad.host = "bad host\r\nx".into();
        bad.queue = "nosuchqueue".into();
        bad.security = "ssl3".into();
        let e = t.app.save_imap_mailbox(&cast.admin, None, bad).await.unwrap_err();
        let text = format!("{e:?}");
        for field in ["host", "queue", "security"] {
            assert!(text.contains(field), "{field} not reported: {text}");
        }
        assert_eq!(t.app.imap_mailboxes(&cast.admin).await.unwrap().len(), 1);
    }
);

both!(
    async fn imap_over_tls_trusts_a_private_ca_given_and_refuses_an_unknown_one(t: &Ctx) {
        if !have_dovecot() {
            return;
        }
        let cast = t.seed().await;
        let server = Dovecot::start_tls();
        let (tls_port, ca) = server.tls.clone().unwrap();
        server.append("INBOX", &[message("Anna <anna@acme.example>", "Linea lenta", "tls1@acme.example", "Via TLS.")]);
        let mut input = mailbox(tls_port, "INBOX", None);
        input.security = "tls".into();
        t.app.save_imap_mailbox(&cast.admin, None, input).await.unwrap();

        // Without the CA: the certificate is refused, nothing is taken.
        let cfg = mail::imap::PollerConfig { node: "test-node".into(), ..Default::default() };
        let e = poll(t, &cfg).await.unwrap_err();
        assert!(e.contains("TLS"), "{e}");
        assert_eq!(server.counts("INBOX"), (1, 0));

        // With it (`serve --imap-ca-file`): the message is taken.
        let roots = mail::imap::read_roots(&std::fs::read(&ca).unwrap()).unwrap();
        let cfg = mail::imap::PollerConfig { node: "test-node".into(), extra_roots: roots, ..Default::default() };
        let r = poll(t, &cfg).await.unwrap();
        assert_eq!(r.taken, 1, "{r:?}");
        assert_eq!(server.counts("INBOX"), (1, 1));
        assert!(mail::imap::read_roots(b"not a certificate").is_err());
    }
);
