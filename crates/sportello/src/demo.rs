//! Demo data: a believable small operator with queues, agents, a wholesale partner, customers,
//! contacts and a few hundred tickets in every status, written in Italian and English. Every
//! record goes through the same `app` functions as real work, so the history is real too.

use std::fmt::Write;

use anyhow::Context;
use app::admin::{ContactInput, CustomerInput, FieldInput, QueueInput, UserInput};
use app::tickets::{MessageInput, NewTicketInput, TicketPatch};
use app::{Actor, App, Clock};
use domain::{Category, Channel, CustomFieldKind, MessageKind, PartnerKind, QueueRights, Role, Status};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

/// Whether the database has no queue yet (a fresh instance).
pub async fn is_empty(app: &App) -> anyhow::Result<bool> {
    Ok(app.queues(&Actor::system(Channel::System)).await?.is_empty())
}

/// A fresh password from the operating system's generator (never from the seeded demo data).
fn password() -> String {
    let rng = &mut rand::rng();
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..16).map(|_| *ALPHABET.choose(rng).unwrap_or(&b'x') as char).collect()
}

struct Request {
    category: Category,
    title: &'static str,
    body: &'static str,
}

const REQUESTS: &[Request] = &[
    Request {
        category: Category::BlockingFault,
        title: "Linea FTTH giù dalle 7 di stamattina",
        body: "Buongiorno, da stamattina alle 7 la fibra non funziona: il led PON dell'ONT lampeggia rosso. Abbiamo già riavviato il router. Siamo un ufficio con 12 persone ferme, potete intervenire con urgenza?",
    },
    Request {
        category: Category::BlockingFault,
        title: "Internet non funziona in sede",
        body: "Salve, non navighiamo più da ieri sera. Il modem è acceso ma non prende l'IP. Codice cliente nel contratto. Grazie.",
    },
    Request {
        category: Category::BlockingFault,
        title: "Fibra interrotta dopo lavori stradali",
        body: "In via Roma stanno scavando e da un'ora siamo senza connessione. Pensiamo abbiano tranciato il cavo. Attendiamo un tecnico.",
    },
    Request {
        category: Category::BlockingFault,
        title: "Total outage on our FTTH line",
        body: "Hello, our fibre line has been down since 6:40 this morning. The ONT shows LOS in red. We rebooted everything. The whole office is offline, please treat this as urgent.",
    },
    Request {
        category: Category::BlockingFault,
        title: "Centralino VoIP non registra",
        body: "Il centralino non riesce più a registrarsi sul trunk SIP, le chiamate in ingresso vanno in segreteria. Errore 403 Forbidden nei log.",
    },
    Request {
        category: Category::BlockingFault,
        title: "SIP trunk down, no inbound calls",
        body: "Our PBX lost registration to your SIP trunk at 09:12. Outbound calls fail with 503. We are a call centre, every minute counts.",
    },
    Request {
        category: Category::NonBlockingFault,
        title: "Navigazione lenta la sera",
        body: "Dalle 20 alle 23 la velocità scende a 5 Mbit/s su un contratto da 1 Gbit/s. Di giorno è tutto regolare. Allego lo speedtest.",
    },
    Request {
        category: Category::NonBlockingFault,
        title: "Perdita di pacchetti verso Milano",
        body: "Vediamo un 3% di pacchetti persi verso i server di Milano, soprattutto nelle ore di punta. Le videochiamate scattano.",
    },
    Request {
        category: Category::NonBlockingFault,
        title: "Slow speeds in the evening",
        body: "Every evening between 8 and 11 pm the speed drops to a tenth of the contracted bandwidth. Daytime is fine. Speed test attached.",
    },
    Request {
        category: Category::NonBlockingFault,
        title: "FWA antenna drops every few hours",
        body: "The FWA link drops for a couple of minutes every few hours; the signal looks fine (-62 dBm). Could you check the base station?",
    },
    Request {
        category: Category::NonBlockingFault,
        title: "Chiamate VoIP con audio a singhiozzo",
        body: "Durante le telefonate l'audio va e viene, soprattutto verso i cellulari. Jitter alto sul nostro monitoraggio.",
    },
    Request {
        category: Category::NonBlockingFault,
        title: "SIM IoT non si registrano in rete",
        body: "Alcune delle SIM dei contatori (circa 40 su 300) non si registrano da ieri. Sono tutte nella zona industriale.",
    },
    Request {
        category: Category::InformationRequest,
        title: "Informazioni su IP statico",
        body: "Vorremmo sapere se è possibile avere un indirizzo IP statico sulla nostra linea FTTC e quali sono i costi.",
    },
    Request {
        category: Category::InformationRequest,
        title: "Question about maintenance window",
        body: "We received a notice about planned maintenance on Saturday night. Will our backup LTE line be affected too?",
    },
    Request {
        category: Category::InformationRequest,
        title: "Copertura fibra nuova sede",
        body: "Ci trasferiamo in via Garibaldi 18. La zona è coperta in FTTH? Quanto tempo serve per l'attivazione?",
    },
    Request {
        category: Category::ChangeRequest,
        title: "Cambio profilo da 100 a 1000 Mbit/s",
        body: "Chiediamo l'upgrade del profilo della linea principale da 100 Mbit/s a 1 Gbit/s come da offerta ricevuta.",
    },
    Request {
        category: Category::ChangeRequest,
        title: "Please add a /29 subnet",
        body: "We need a routed /29 on our business line for the new mail and VPN servers. Please confirm timing and cost.",
    },
    Request {
        category: Category::ChangeRequest,
        title: "Modifica reverse DNS",
        body: "Potete impostare il reverse DNS del nostro IP pubblico su mail.esempio.it? Serve per la posta in uscita.",
    },
    Request {
        category: Category::FeatureRequest,
        title: "Notifiche dei guasti via SMS",
        body: "Sarebbe utile ricevere le notifiche dei guasti anche via SMS, non solo via email.",
    },
    Request {
        category: Category::ServiceRequest,
        title: "Apertura porte sul router",
        body: "Abbiamo bisogno di inoltrare le porte 443 e 8443 verso il server interno 192.168.1.20.",
    },
    Request {
        category: Category::ServiceRequest,
        title: "Port forwarding for CCTV recorder",
        body: "Please forward TCP 8000 to 192.168.10.5 on our router so the security company can reach the recorder.",
    },
    Request {
        category: Category::Order,
        title: "Ordine 20 SIM dati per i furgoni",
        body: "Vorremmo ordinare 20 SIM dati da 10 GB per la flotta aziendale, con APN privato.",
    },
    Request {
        category: Category::Order,
        title: "New FTTH line for the warehouse",
        body: "We would like to order a second FTTH line for our warehouse at the same address, with a separate invoice.",
    },
    Request {
        category: Category::Administrative,
        title: "Fattura di ottobre doppia",
        body: "Ci è arrivata due volte la fattura di ottobre con lo stesso importo. Potete verificare e stornare quella in eccesso?",
    },
    Request {
        category: Category::Administrative,
        title: "Richiesta cambio IBAN per addebito",
        body: "Dal mese prossimo vorremmo l'addebito su un altro conto. Come possiamo comunicarvi il nuovo IBAN in modo sicuro?",
    },
    Request {
        category: Category::Administrative,
        title: "Invoice address change",
        body: "Our registered office has moved. Please update the invoice address from next month on.",
    },
    Request {
        category: Category::Administrative,
        title: "Sollecito pagamento non dovuto",
        body: "Abbiamo ricevuto un sollecito per una fattura già pagata il 12 del mese. Allego la contabile del bonifico.",
    },
];

const AGENT_REPLIES: &[&str] = &[
    "Buongiorno, abbiamo preso in carico la segnalazione e aperto una verifica con il nostro NOC. Vi aggiorniamo entro un'ora.",
    "Abbiamo rilevato un guasto sulla tratta in fibra della vostra zona; la squadra è già sul posto.",
    "Dai nostri sistemi la linea risulta di nuovo agganciata. Potete confermare che la navigazione è tornata regolare?",
    "Thank you for reporting this. Our network operations centre is investigating; we will update you within the hour.",
    "We found a faulty card on the OLT serving your area and replaced it. Please confirm the service is back.",
    "La richiesta è stata inoltrata all'ufficio amministrativo, che vi risponderà entro due giorni lavorativi.",
    "We have scheduled the change for tomorrow at 22:00; expect a short interruption of about five minutes.",
];

const CUSTOMER_REPLIES: &[&str] = &[
    "Confermo, ora funziona tutto. Grazie per la rapidità!",
    "Purtroppo il problema si è ripresentato stamattina alle 9.",
    "Thanks, everything is working again.",
    "Still not working on our side, the ONT light is still red.",
    "Va bene, attendiamo vostre notizie.",
];

const COMMENTS: &[&str] = &[
    "Verificato sul sistema di monitoraggio: ONT in LOS dalle 06:58. Aperto guasto verso il fornitore d'accesso.",
    "Cliente VIP: tenere aggiornato il referente ogni ora.",
    "Checked the RADIUS logs: authentication OK, no IP assigned. Escalating to the access team.",
    "Pagamento verificato in contabilità, sollecito partito per errore.",
    "Possibly related to the planned works in the area, see the maintenance calendar.",
];

/// Seeds the demo operator into an empty database; returns the text with the logins to print.
pub async fn seed(app: &App) -> anyhow::Result<String> {
    anyhow::ensure!(is_empty(app).await?, "the database is not empty: the demo only seeds a fresh database");
    let mut rng = StdRng::seed_from_u64(310);
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 60);
    let clock = Clock::manual(start);
    let app = app.clone().with_clock(clock.clone());
    let sys = Actor::system(Channel::System);

    let support = app
        .create_queue(
            &sys,
            QueueInput {
                slug: "support".into(),
                name: "Supporto tecnico".into(),
                description: "Guasti, configurazioni e richieste tecniche dei clienti".into(),
                reference_prefix: Some("support".into()),
                active: Some(true),
            },
        )
        .await?;
    app.set_field(
        &sys,
        &support.slug,
        FieldInput {
            name: "service".into(),
            label: "Servizio".into(),
            kind: CustomFieldKind::Choice,
            choices: ["FTTH", "FTTC", "FWA", "VoIP", "SIM IoT"].map(String::from).to_vec(),
            required: false,
            position: 1,
        },
    )
    .await?;
    app.set_field(
        &sys,
        &support.slug,
        FieldInput {
            name: "circuit".into(),
            label: "Codice circuito".into(),
            kind: CustomFieldKind::Text,
            choices: vec![],
            required: false,
            position: 2,
        },
    )
    .await?;
    app.create_queue(
        &sys,
        QueueInput {
            slug: "treasury".into(),
            name: "Amministrazione e tesoreria".into(),
            description: "Fatture, pagamenti, contratti".into(),
            reference_prefix: Some("treasury".into()),
            active: Some(true),
        },
    )
    .await?;

    let mut logins = String::from("Sportello demo — logins (passwords are shown only now):\n");
    let people = [
        ("giulia.ferri@demo.sportello.example", "Giulia Ferri", Role::Admin),
        ("marco.bianchi@demo.sportello.example", "Marco Bianchi", Role::Agent),
        ("sara.conti@demo.sportello.example", "Sara Conti", Role::Agent),
        ("luca.moretti@demo.sportello.example", "Luca Moretti", Role::Agent),
    ];
    let mut agents = Vec::new();
    for (email, name, role) in people {
        let pw = password();
        let u = app
            .create_user(
                &sys,
                UserInput { email: email.into(), name: name.into(), role, partner_id: None, active: Some(true) },
                Some(&pw),
            )
            .await?;
        let _ = writeln!(logins, "  {:<8} {email}  {pw}", role.as_str());
        agents.push(u);
    }
    let all = QueueRights::ALL;
    app.set_rights(&sys, agents[1].id, "support", all).await?;
    app.set_rights(&sys, agents[1].id, "treasury", QueueRights { see: true, comment: true, ..Default::default() })
        .await?;
    app.set_rights(&sys, agents[2].id, "treasury", all).await?;
    app.set_rights(&sys, agents[2].id, "support", QueueRights { see: true, comment: true, ..Default::default() })
        .await?;
    app.set_rights(&sys, agents[3].id, "support", all).await?;

    let partner = app.save_partner(&sys, None, "Rete Lario Servizi", PartnerKind::Msp).await?;
    let ppw = password();
    app.create_user(
        &sys,
        UserInput {
            email: "noc@retelario.example".into(),
            name: "NOC Rete Lario".into(),
            role: Role::Partner,
            partner_id: Some(partner.id),
            active: Some(true),
        },
        Some(&ppw),
    )
    .await?;
    let _ = writeln!(logins, "  {:<8} noc@retelario.example  {ppw}", "partner");
    let token = app.create_token(&sys, "demo", Role::Admin, Some("giulia.ferri@demo.sportello.example")).await?;
    let _ = writeln!(logins, "  API token (admin): {}", token.secret);

    let customers = [
        (
            "C-1001",
            "Studio Associato Brambilla",
            true,
            false,
            &["a.brambilla@studiobrambilla.example", "segreteria@studiobrambilla.example"][..],
        ),
        ("C-1002", "Ospedale San Gerardo Servizi", true, false, &["ced@sangerardo-servizi.example"][..]),
        ("C-1003", "Pasticceria Fontana", false, false, &["info@pasticceriafontana.example"][..]),
        (
            "C-1004",
            "Officine Meccaniche Colombo",
            false,
            false,
            &["it@omcolombo.example", "amministrazione@omcolombo.example"][..],
        ),
        ("C-1005", "Comune di Valbrona", true, false, &["sistemi@comune.valbrona.example"][..]),
        ("C-1006", "Hotel Bellavista Lake Como", false, false, &["reception@bellavista.example"][..]),
        ("C-1007", "Farmacia Rossi", false, false, &["farmacia.rossi@example.net"][..]),
        ("C-2001", "Agriturismo La Costa", false, true, &["info@agricosta.example"][..]),
        ("C-2002", "Cooperativa Sociale Il Ponte", false, true, &["ufficio@coopilponte.example"][..]),
        ("C-2003", "Camping Lido Dervio", false, true, &["booking@campinglido.example"][..]),
    ];
    let mut contacts: Vec<(String, String)> = Vec::new();
    for (code, name, vip, via_partner, emails) in customers {
        app.create_customer(
            &sys,
            CustomerInput { code: code.into(), name: name.into(), vip, partner_id: via_partner.then_some(partner.id) },
        )
        .await?;
        for (i, e) in emails.iter().enumerate() {
            let language = if e.ends_with(".net") || i % 3 == 2 { "en" } else { "it" };
            app.create_contact(
                &sys,
                ContactInput {
                    email: (*e).into(),
                    name: String::new(),
                    phone: format!("+39 031 55{:04}", contacts.len() * 37),
                    language: Some(language.into()),
                    customer: Some(code.into()),
                },
            )
            .await?;
            contacts.push(((*e).into(), code.into()));
        }
    }
    // Contracts: the hospital on 24/7 support, the other VIPs and two firms on office-hours
    // levels, the partner's customers through the partner's contract; the rest is support on request.
    let contract = |customer: Option<&str>, partner_id: Option<i64>, level: &str, included: i64, evo: bool| {
        app::sla::ContractInput {
            customer: customer.map(String::from),
            partner_id,
            level: level.into(),
            valid_from: "2025-01-01".into(),
            valid_until: None,
            included_minutes: included,
            evo,
        }
    };
    // The 24/7 level also promises times for service requests and changes (activations,
    // configuration changes): the hospital's are timed too; elsewhere only faults are.
    if let Some(l) = app.support_levels(&sys).await?.into_iter().find(|l| l.slug == "extended") {
        use domain::Category::{ChangeRequest, ServiceRequest};
        let input = app::sla::LevelInput {
            slug: l.slug,
            name: l.name,
            calendar: l.calendar,
            intervention_minutes: l.intervention_minutes,
            restoration_minutes: l.restoration_minutes,
            category_minutes: [(ServiceRequest, (480, 1440)), (ChangeRequest, (960, 2880))].into_iter().collect(),
            warn_percent: l.warn_percent,
            pause_statuses: l.pause_statuses,
            escalation_queue: l.escalation_queue,
            escalation_raise: l.escalation_raise,
        };
        app.save_support_level(&sys, input).await?;
    }
    for input in [
        contract(Some("C-1002"), None, "extended", 0, true),
        contract(Some("C-1001"), None, "advanced", 600, true),
        contract(Some("C-1005"), None, "advanced", 0, false),
        contract(Some("C-1004"), None, "professional", 300, false),
        contract(Some("C-1006"), None, "professional", 0, false),
        contract(None, Some(partner.id), "advanced", 1200, false),
    ] {
        app.create_contract(&sys, input).await?;
    }
    // A customer's contact with a portal login, set through an invitation as in real life.
    let portal_email = "a.brambilla@studiobrambilla.example";
    let invitation =
        app.invite(&sys, app::invitations::Invitee::Contact(contact_id(&app, portal_email).await?)).await?;
    let cpw = password();
    app.accept_invitation(&invitation.secret, &cpw).await?;
    let _ = writeln!(logins, "  {:<8} {portal_email}  {cpw}", "customer");

    let agent_actors: Vec<Actor> = {
        let mut v = Vec::new();
        for u in &agents[1..] {
            v.push(app.user_actor_by_email(&u.email, Channel::Web).await?);
        }
        v
    };
    let total = 320;
    let step = jiff::SignedDuration::from_secs(60 * 24 * 3600 / total);
    for i in 0..total {
        clock.set(start + step * i as i32);
        let r = REQUESTS.choose(&mut rng).context("no requests")?;
        let (email, _) = contacts.choose(&mut rng).context("no contacts")?;
        let queue = if r.category == Category::Administrative { "treasury" } else { "support" };
        let requester = Actor {
            channel: if rng.random_bool(0.6) { Channel::Email } else { Channel::Web },
            ..Actor::system(Channel::Email)
        };
        let requester = match app.contact_actor(contact_id(&app, email).await?, requester.channel).await {
            Ok(a) => a,
            Err(_) => requester,
        };
        let mut fields = std::collections::BTreeMap::new();
        if queue == "support" && rng.random_bool(0.7) {
            let svc = ["FTTH", "FTTC", "FWA", "VoIP", "SIM IoT"].choose(&mut rng).copied().unwrap_or("FTTH");
            fields.insert("service".to_string(), svc.to_string());
        }
        let t = app
            .create_ticket(
                &requester,
                NewTicketInput {
                    queue: queue.into(),
                    title: r.title.into(),
                    body: r.body.into(),
                    category: Some(r.category),
                    impact: (r.category == Category::BlockingFault).then(|| rng.random_range(1..40)),
                    fields,
                    ..Default::default()
                },
            )
            .await?;
        // How far this ticket got: recent ones are still new; older ones progressed.
        let age = (total - i) as f64 / total as f64;
        let progress: f64 = rng.random::<f64>() * (0.3 + age);
        let agent = if queue == "treasury" {
            agent_actors[1].clone()
        } else {
            [&agent_actors[0], &agent_actors[2]].choose(&mut rng).copied().context("no agents")?.clone()
        };
        if progress < 0.15 {
            continue;
        }
        clock.set(start + step * i as i32 + jiff::SignedDuration::from_mins(rng.random_range(5..90)));
        if rng.random_bool(0.4) {
            app.add_message(
                &agent,
                t.number,
                MessageInput {
                    kind: MessageKind::Comment,
                    body: COMMENTS.choose(&mut rng).copied().unwrap_or("").into(),
                    body_html: None,
                    attachments: vec![],
                    status: None,
                    owner: None,
                    time: Some(app::tickets::TimeInput {
                        minutes: rng.random_range(5..30),
                        billable: false,
                        note: String::new(),
                    }),
                },
            )
            .await?;
        }
        let owner = if agent.is_staff() && queue == "support" {
            Some(Some(agents.iter().find(|u| Some(u.id) == agent.user_id).map(|u| u.email.clone()).unwrap_or_default()))
        } else {
            None
        };
        app.add_message(
            &agent,
            t.number,
            MessageInput {
                kind: MessageKind::Reply,
                body: AGENT_REPLIES.choose(&mut rng).copied().unwrap_or("").into(),
                body_html: None,
                attachments: vec![],
                status: None,
                owner: owner.filter(|o| o.as_ref().is_some_and(|e| !e.is_empty())),
                time: Some(app::tickets::TimeInput {
                    minutes: rng.random_range(10..90),
                    billable: rng.random_bool(0.7),
                    note: String::new(),
                }),
            },
        )
        .await?;
        if progress < 0.35 {
            continue;
        }
        clock.set(start + step * i as i32 + jiff::SignedDuration::from_mins(rng.random_range(100..600)));
        let end = if progress < 0.5 {
            Status::Stalled
        } else if progress < 0.55 {
            Status::Rejected
        } else {
            Status::Resolved
        };
        if end == Status::Resolved && rng.random_bool(0.5) {
            app.add_message(
                &requester,
                t.number,
                MessageInput {
                    kind: MessageKind::Reply,
                    body: CUSTOMER_REPLIES.choose(&mut rng).copied().unwrap_or("").into(),
                    body_html: None,
                    attachments: vec![],
                    status: None,
                    owner: None,
                    time: None,
                },
            )
            .await
            .ok();
        }
        app.update_ticket(&agent, t.number, TicketPatch { status: Some(end), ..Default::default() }).await?;
    }
    let _ = writeln!(logins, "  {total} tickets in queues `support` and `treasury`");
    clock.set(jiff::Timestamp::now());
    inventory(&app, &sys, &mut logins).await?;
    Ok(logins)
}

/// Where the demo looks for the full ISTAT list of municipalities (the repository's sibling
/// `shared/testdata`, or the file named by `SPORTELLO_DEMO_TERRITORY`).
const ISTAT_PLACES: &[&str] =
    &["../shared/testdata/territory/it-comuni-istat.csv", "shared/testdata/territory/it-comuni-istat.csv"];

/// The municipalities the demo needs, in the ISTAT file's format, when the full list is not at
/// hand (codes and 2011 census population from ISTAT).
const BUILT_IN_TERRITORY: &str =
    "istat_code,name,region_code,region_name,province_code,province_name,province_abbr,population_2011
001272,Torino,01,Piemonte,001,Torino,TO,872367
013075,Como,03,Lombardia,013,Como,CO,82045
013095,Erba,03,Lombardia,013,Como,CO,16503
013229,Valbrona,03,Lombardia,013,Como,CO,2656
013250,Bellagio,03,Lombardia,013,Como,CO,3796
015002,Abbiategrasso,03,Lombardia,015,Milano,MI,30994
015146,Milano,03,Lombardia,015,Milano,MI,1242123
015209,Sesto San Giovanni,03,Lombardia,015,Milano,MI,76514
058091,Roma,12,Lazio,058,Roma,RM,2617175
097030,Dervio,03,Lombardia,097,Lecco,LC,2681
097042,Lecco,03,Lombardia,097,Lecco,LC,46705
097084,Varenna,03,Lombardia,097,Lecco,LC,765
108033,Monza,03,Lombardia,108,Monza e della Brianza,MB,119856
";

/// The demo's access network: a PoP per area, OLTs with PON ports, an exchange with cabinets.
const NETWORK: &str = "code,name,kind,parent_code
MI-POP-1,Milano via Caldera,pop,
MI-OLT-07,OLT 7 Milano Lambrate,olt,MI-POP-1
MI-OLT-07-P1,PON 1,pon_port,MI-OLT-07
MI-OLT-07-P2,PON 2,pon_port,MI-OLT-07
CO-POP-1,Como Camerlata,pop,
CO-OLT-02,OLT 2 Como,olt,CO-POP-1
CO-OLT-02-P1,PON 1,pon_port,CO-OLT-02
LC-CE-01,Centrale Lecco,exchange,
LC-CE-01-AR3,Armadio 3 Dervio,cabinet,LC-CE-01
LC-CE-01-AR5,Armadio 5 Varenna,cabinet,LC-CE-01
RM-POP-1,Roma Tor Vergata,pop,
";

/// The demo customers' lines: fibre in Milano and Como, copper behind Lecco's exchange along the
/// lake, radio in the hills, SIMs and VoIP trunks.
const LINES: &str = "identifier,customer_code,service,municipality_code,network_elements,status
FTTH-MI-100231,C-1001,FTTH,015146,MI-OLT-07-P1,active
FTTH-MI-100232,C-1001,FTTH,015146,MI-OLT-07-P2,active
VOIP-C1001-01,C-1001,VOIP,015146,MI-POP-1,active
FTTH-MB-200114,C-1002,FTTH,108033,MI-OLT-07-P2,active
LEASED-MB-0007,C-1002,LEASED,108033,MI-POP-1,active
SIM-8939010000001234,C-1002,SIM,108033,,active
FTTC-CO-300551,C-1003,FTTC,013075,CO-POP-1,active
FTTH-CO-300870,C-1004,FTTH,013095,CO-OLT-02-P1,active
FTTH-CO-300871,C-1004,FTTH,013095,CO-OLT-02-P1,suspended
FWA-CO-400012,C-1005,FWA,013229,CO-POP-1,active
FTTC-CO-300990,C-1006,FTTC,013250,CO-POP-1,active
FTTH-MI-100977,C-1007,FTTH,015209,MI-OLT-07-P1,active
FTTC-LC-500101,C-2001,FTTC,097084,LC-CE-01-AR5,active
FTTC-LC-500144,C-2002,FTTC,097042,LC-CE-01,active
FTTC-LC-500210,C-2003,FTTC,097030,LC-CE-01-AR3,active
FWA-LC-400077,C-2003,FWA,097030,,active
";

/// Territory, network and lines for the demo customers, and notices on them: a fibre fault in
/// the province of Milano (the VIP law firm's lines among them), a maintenance along the lake
/// in three days, and a fault solved last week.
async fn inventory(app: &App, sys: &Actor, logins: &mut String) -> anyhow::Result<()> {
    use app::notices::{NoticeInput, NoticeText, NoticeUpdateInput};
    use domain::notice::{Impact, NoticeKind, NoticeState};
    use domain::scope::{Scope, ScopeTerm};

    let file =
        std::env::var("SPORTELLO_DEMO_TERRITORY").ok().into_iter().chain(ISTAT_PLACES.iter().map(|p| (*p).to_owned()));
    let full = file.filter_map(|p| std::fs::read(&p).ok()).next();
    let report = match &full {
        Some(bytes) => app.import_territory(sys, bytes.as_slice(), false).await?,
        None => app.import_territory(sys, BUILT_IN_TERRITORY.as_bytes(), true).await?,
    };
    anyhow::ensure!(report.imported > 0, "the demo territory did not import: {report:?}");
    app.import_network(sys, NETWORK.as_bytes(), true).await?;
    let lines = app.import_lines(sys, LINES.as_bytes(), true, &|_| {}).await?;
    anyhow::ensure!(lines.rejected.is_empty(), "demo lines refused: {:?}", lines.rejected);
    app.refresh_line_tallies().await?;
    let _ = writeln!(
        logins,
        "  {} territories ({}), {} lines",
        report.imported,
        if full.is_some() { "ISTAT, every Italian municipality" } else { "a built-in part of the ISTAT list" },
        lines.imported
    );

    let texts = |it: (&str, &str), en: (&str, &str)| {
        [
            ("it".to_string(), NoticeText { title: it.0.into(), body: it.1.into() }),
            ("en".to_string(), NoticeText { title: en.0.into(), body: en.1.into() }),
        ]
        .into()
    };
    let term = |territory: Option<&str>, element: Option<&str>, service: Option<&str>| ScopeTerm {
        territory: territory.map(String::from),
        network_element: element.map(String::from),
        service: service.map(String::from),
    };
    let now = jiff::Timestamp::now();
    let hours = |h: i64| jiff::SignedDuration::from_hours(h);
    let fault = app
        .create_notice(
            sys,
            NoticeInput {
                kind: NoticeKind::Incident,
                impact: Impact::Outage,
                texts: texts(
                    (
                        "Guasto fibra a Milano",
                        "Un taglio della fibra interrompe i servizi FTTH dietro la OLT 7 di Lambrate.",
                    ),
                    ("Fibre cut in Milan", "A fibre cut interrupts FTTH services behind OLT 7 in Lambrate."),
                ),
                internal_notes: "Scavo non autorizzato in via Padova; squadra Rossi sul posto.".into(),
                scope: Scope { terms: vec![term(Some("015"), Some("MI-OLT-07"), Some("FTTH"))], lines: vec![] },
                window: None,
                estimated_restoration: Some(now + hours(4)),
                publish: true,
            },
        )
        .await?;
    app.post_notice_update(
        sys,
        fault.id,
        NoticeUpdateInput {
            state: Some(NoticeState::Identified),
            texts: texts(
                ("", "Individuato il punto del taglio; giunzione in corso."),
                ("", "The cut is located; splicing under way."),
            ),
            ..Default::default()
        },
    )
    .await?;
    let start = now + hours(72);
    app.create_notice(
        sys,
        NoticeInput {
            kind: NoticeKind::Maintenance,
            impact: Impact::Outage,
            texts: texts(
                (
                    "Manutenzione centrale di Lecco",
                    "Sostituzione degli apparati: interruzione fino a 2 ore nella finestra.",
                ),
                (
                    "Maintenance at the Lecco exchange",
                    "Equipment replacement: up to 2 hours without service within the window.",
                ),
            ),
            internal_notes: String::new(),
            scope: Scope { terms: vec![term(None, Some("LC-CE-01"), None)], lines: vec![] },
            window: Some((start, start + hours(4))),
            estimated_restoration: None,
            publish: true,
        },
    )
    .await?;
    let past = app
        .create_notice(
            sys,
            NoticeInput {
                kind: NoticeKind::Incident,
                impact: Impact::Degraded,
                texts: texts(
                    ("Rallentamenti radio in Valbrona", "Interferenze sul ponte radio."),
                    ("Slow radio links in Valbrona", "Interference on the radio link."),
                ),
                internal_notes: String::new(),
                scope: Scope { terms: vec![term(Some("013229"), None, Some("FWA"))], lines: vec![] },
                window: None,
                estimated_restoration: None,
                publish: true,
            },
        )
        .await?;
    app.post_notice_update(
        sys,
        past.id,
        NoticeUpdateInput {
            state: Some(NoticeState::Resolved),
            texts: texts(("", "Canale cambiato, servizio regolare."), ("", "Channel changed, service back to normal.")),
            ..Default::default()
        },
    )
    .await?;
    // The law firm reports the fault on its line: the ticket joins the notice.
    let requester =
        app.contact_actor(contact_id(app, "a.brambilla@studiobrambilla.example").await?, Channel::Web).await?;
    app.create_ticket(
        &requester,
        NewTicketInput {
            queue: "support".into(),
            title: "Fibra giù in studio".into(),
            body: "Da un'ora la fibra dello studio non funziona, la ONT ha la luce rossa.".into(),
            category: Some(Category::BlockingFault),
            line: Some("FTTH-MI-100231".into()),
            ..Default::default()
        },
    )
    .await?;
    let _ = writeln!(logins, "  notices: a fibre fault in Milano, a maintenance in Lecco in 3 days, one solved");
    Ok(())
}

async fn contact_id(app: &App, email: &str) -> anyhow::Result<i64> {
    let list = app.contacts(&Actor::system(Channel::System), None).await?;
    list.into_iter().find(|c| c.email == email).map(|c| c.id).context("demo contact missing")
}
