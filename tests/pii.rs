//! PII redaction end to end, against the real NATS and a real pulsar-lite:
//! with `privacy.redact_pii` on, a user who says a phone number, an e-mail
//! address and a card number (the echo brain repeats them in its reply) is
//! heard with the true text by the live loop, while no NATS message and no
//! Pulsar conversation-v1 payload carries any of them, only the masks.

use arc_testkit::*;
use futures::StreamExt;
use std::time::Duration;

const SECRETS: [&str; 3] = [
    "415-555-0132",
    "jane.doe@example.com",
    "4111 1111 1111 1111",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_unmasked_pii_reaches_nats_or_pulsar_when_redaction_is_on() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let broker = PulsarLite::start_provisioned(dir.path());
    let mut env = node_env(&broker.url(), SHARED_NATS, &dir.path().join("data"), 0);
    env.push(("ARC__PRIVACY__REDACT_PII".into(), "true".into()));
    let app = start_app(env).await;

    let nats = async_nats::connect(SHARED_NATS).await.unwrap();
    let mut sub = nats.subscribe("agent.>").await.unwrap();
    subscribed(&nats).await;

    let sc = user_session(&app, "pii-user");
    let user = sc.user_id.clone();
    assert!(
        sc.audit.anonymization,
        "audit events must say PII is masked"
    );
    let script = lines(&[
        "Call me at 415-555-0132 or mail jane.doe@example.com",
        "My card is 4111 1111 1111 1111",
    ]);
    let call = ScriptedCall::start(&app.ctx.node, &app.ctx.scripts, sc.clone(), script)
        .await
        .unwrap();
    assert_eq!(call.say_all(Duration::from_secs(10)).await, 2);
    call.hang_up().await.unwrap();

    // The live loop heard and answered the true text.
    assert_eq!(call.out.heard(), call.script);

    // NATS: every message of this session.
    let mut nats_payloads = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
            Ok(Some(m)) => {
                let text = String::from_utf8_lossy(&m.payload).to_string();
                if text.contains(&sc.session_id) || text.contains(&user) {
                    nats_payloads.push((m.subject.to_string(), text));
                }
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    assert!(
        nats_payloads
            .iter()
            .any(|(s, _)| s == "agent.brain.request"),
        "{nats_payloads:#?}"
    );
    for (subject, text) in &nats_payloads {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{subject} leaks {secret}: {text}");
        }
    }
    let joined: String = nats_payloads.iter().map(|(_, t)| t.as_str()).collect();
    for mask in ["[PHONE]", "[EMAIL]", "[CARD]"] {
        assert!(joined.contains(mask), "{mask} missing on NATS");
    }

    // Pulsar: the durable conversation records.
    let msgs = read_conversations(&broker.url(), &user, 2);
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    for m in &msgs {
        let text = m.payload.to_string();
        for secret in SECRETS {
            assert!(!text.contains(secret), "Pulsar leaks {secret}: {text}");
        }
    }
    assert_eq!(
        msgs[0].payload["user_message"]["text"],
        "Call me at [PHONE] or mail [EMAIL]"
    );
    app.shutdown("test done").await;
}
