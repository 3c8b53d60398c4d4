//! Every integration against a real sink: local HTTP servers standing in for Slack,
//! PagerDuty and Twilio check the exact requests; a real SMTP server (Debian's aiosmtpd)
//! receives the email. Credentials come from files and never reach the logs.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FakeQuerier, Received, alerting_rule, rules, sample, start_sink, wait_for};
use telltale_alertmanager::{ManagerOptions, RuleManager};
use telltale_crds::{
    AlertingSpec, EmailConfig, EmailTls, PagerdutyConfig, Receiver, Route, SecretRef, SlackConfig,
    TwilioConfig,
};
use tokio::io::{AsyncBufReadExt, BufReader};

const EXTERNAL: &str = "http://telltale.example:9093";
#[allow(dead_code)]
const _EXTERNAL_USED: &str = EXTERNAL;

fn secret(dir: &Path, name: &str, value: &str) -> SecretRef {
    let path = dir.join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    SecretRef::file(path.to_str().unwrap())
}

fn route() -> Option<Route> {
    Some(
        serde_yaml::from_str("{receiver: oncall, groupBy: [alertname], groupInterval: 200ms}")
            .unwrap(),
    )
}

fn manager(querier: &Arc<FakeQuerier>, receiver: Receiver) -> Arc<RuleManager> {
    let m = RuleManager::new(
        querier.clone(),
        AlertingSpec {
            global: None,
            route: route(),
            receivers: vec![receiver],
            inhibit_rules: vec![],
            templates: vec![],
        },
        ManagerOptions {
            external_url: EXTERNAL.into(),
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    );
    m.apply(&[rules(
        "disk",
        vec![alerting_rule(
            "DiskFull",
            "disk_free < 0.1",
            Duration::ZERO,
            &[("severity", "critical")],
        )],
    )]);
    m
}

/// `a=1&b=%2B2` as pairs.
fn form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (decode(k), decode(v))
        })
        .collect()
}

fn by_path(all: &[Received], suffix: &str) -> Vec<Received> {
    all.iter()
        .filter(|r| r.path.ends_with(suffix))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_pagerduty_sms_and_voice_get_exact_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, url) = start_sink(0).await;
    let receiver = Receiver {
        name: "oncall".into(),
        slack_configs: vec![SlackConfig {
            http_config: None,
            api_url: secret(dir.path(), "slack", &format!("{url}/services/T0/B0/XYZ")),
            channel: Some("#ops".into()),
            username: Some("telltale".into()),
            send_resolved: true,
            timeout: None,
            title: None,
            title_link: None,
            pretext: None,
            text: None,
            fallback: None,
            color: None,
            footer: None,
            icon_emoji: None,
            icon_url: None,
            fields: vec![],
        }],
        pagerduty_configs: vec![PagerdutyConfig {
            http_config: None,
            routing_key: secret(dir.path(), "pd", "R-KEY"),
            url: Some(format!("{url}/v2/enqueue")),
            severity: None,
            source: Some("telltale-test".into()),
            send_resolved: true,
            timeout: None,
            description: None,
            details: Default::default(),
            client: None,
            client_url: None,
        }],
        sms_configs: vec![TwilioConfig {
            http_config: None,
            url: Some(url.clone()),
            account_sid: "AC123".into(),
            auth_token: secret(dir.path(), "twilio", "tok-secret"),
            from: "+15559999".into(),
            to: vec!["+15550001".into()],
            send_resolved: false,
            timeout: None,
        }],
        voice_configs: vec![TwilioConfig {
            http_config: None,
            url: Some(url.clone()),
            account_sid: "AC123".into(),
            auth_token: secret(dir.path(), "twilio", "tok-secret"),
            from: "+15559999".into(),
            to: vec!["+15550001".into()],
            send_resolved: false,
            timeout: None,
        }],
        ..Default::default()
    };
    let querier = Arc::new(FakeQuerier::default());
    querier.set(
        "disk_free < 0.1",
        Ok(vec![sample(&[("instance", "db-1"), ("mount", "/")], 0.05)]),
    );
    let m = manager(&querier, receiver);
    wait_for("four requests", || sink.count() >= 4).await;
    let all = sink.all();

    let slack = by_path(&all, "/services/T0/B0/XYZ");
    assert_eq!(slack.len(), 1);
    assert_eq!(
        slack[0].json(),
        serde_json::json!({
            "channel": "#ops",
            "username": "telltale",
            "attachments": [{
                "title": "[FIRING:1] DiskFull (db-1 / critical)",
                "title_link": "http://telltale.example:9093/#/alerts?receiver=oncall",
                "text": "",
                "fallback": "[FIRING:1] DiskFull (db-1 / critical) | http://telltale.example:9093/#/alerts?receiver=oncall",
                "callback_id": "",
                "footer": "",
                "color": "danger",
                "mrkdwn_in": ["fallback", "pretext", "text"],
            }]
        })
    );

    let pd = by_path(&all, "/v2/enqueue");
    assert_eq!(pd.len(), 1);
    let event = pd[0].json();
    assert_eq!(event["routing_key"], "R-KEY");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(
        event["dedup_key"], "17c4e445d234645c9e547ff6d32a864af0ebdadcd1902771c24c8d366637ff41",
        "sha256 of the group key {{}}:{{alertname=\"DiskFull\"}}"
    );
    assert_eq!(event["client"], "Alertmanager");
    assert_eq!(
        event["client_url"],
        "http://telltale.example:9093/#/alerts?receiver=oncall"
    );
    assert_eq!(
        event["payload"]["summary"],
        "[FIRING:1] DiskFull (db-1 / critical)"
    );
    assert_eq!(event["payload"]["source"], "telltale-test");
    assert_eq!(event["payload"]["severity"], "critical");
    assert_eq!(event["payload"]["custom_details"]["num_firing"], "1");
    assert_eq!(event["payload"]["custom_details"]["resolved"], "");

    let auth = "Basic QUMxMjM6dG9rLXNlY3JldA==";
    let sms = by_path(&all, "/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].method, "POST");
    assert_eq!(sms[0].headers["authorization"], auth);
    assert_eq!(
        sms[0].headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        form(&sms[0].body),
        [
            ("To".to_string(), "+15550001".to_string()),
            ("From".to_string(), "+15559999".to_string()),
            (
                "Body".to_string(),
                "[FIRING:1] DiskFull (db-1 / critical)\n[FIRING] DiskFull".to_string()
            ),
        ]
    );
    let call = by_path(&all, "/2010-04-01/Accounts/AC123/Calls.json");
    assert_eq!(call.len(), 1);
    assert_eq!(call[0].headers["authorization"], auth);
    assert_eq!(
        form(&call[0].body)[2],
        (
            "Twiml".to_string(),
            "<Response><Say>[FIRING:1] DiskFull (db-1 / critical). [FIRING] DiskFull</Say></Response>"
                .to_string()
        )
    );

    // Resolution: Slack and PagerDuty want it, SMS and voice do not.
    querier.set("disk_free < 0.1", Ok(vec![]));
    wait_for("the resolve event", || {
        by_path(&sink.all(), "/v2/enqueue").len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = sink.all();
    let resolve = by_path(&all, "/v2/enqueue")[1].json();
    // As Alertmanager: the same key, and the payload with the resolved alert.
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(
        resolve["dedup_key"],
        "17c4e445d234645c9e547ff6d32a864af0ebdadcd1902771c24c8d366637ff41"
    );
    assert_eq!(
        resolve["payload"]["summary"],
        "[RESOLVED] DiskFull (db-1 / critical)"
    );
    assert_eq!(resolve["payload"]["custom_details"]["num_resolved"], "1");
    assert_eq!(resolve["client"], "Alertmanager");
    let slack = by_path(&all, "/services/T0/B0/XYZ");
    assert_eq!(slack.len(), 2);
    assert_eq!(slack[1].json()["attachments"][0]["color"], "good");
    assert_eq!(by_path(&all, "Messages.json").len(), 1);
    assert_eq!(by_path(&all, "Calls.json").len(), 1);
    m.shutdown();
}

/// A free local port (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn email_reaches_a_real_smtp_server() {
    let port = free_port();
    let mut server = tokio::process::Command::new("/usr/bin/python3")
        .args(["-u", "-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Debugging"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 -m aiosmtpd (Debian package python3-aiosmtpd)");
    let pid = server.id();
    let output = Arc::new(Mutex::new(String::new()));
    let stdout = server.stdout.take().unwrap();
    let collected = output.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let mut out = collected.lock().unwrap();
            out.push_str(&line);
            out.push('\n');
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "aiosmtpd did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let receiver = Receiver {
        name: "oncall".into(),
        email_configs: vec![EmailConfig {
            to: vec!["ops@example.com".into(), "dba@example.com".into()],
            from: "Telltale <telltale@example.com>".into(),
            smarthost: format!("127.0.0.1:{port}"),
            tls: EmailTls::None,
            auth_username: None,
            auth_password: None,
            send_resolved: true,
            timeout: Some(telltale_crds::PromDuration::from_secs(5)),
            subject: None,
            html: None,
            text: None,
        }],
        ..Default::default()
    };
    let querier = Arc::new(FakeQuerier::default());
    querier.set(
        "disk_free < 0.1",
        Ok(vec![sample(&[("instance", "db-1"), ("mount", "/")], 0.05)]),
    );
    let m = manager(&querier, receiver);
    wait_for("the email", || {
        output.lock().unwrap().contains("END MESSAGE")
    })
    .await;
    let mail = output.lock().unwrap().clone();
    for needle in [
        "From: Telltale <telltale@example.com>",
        "To: ops@example.com, dba@example.com",
        "Subject: [FIRING:1] DiskFull (db-1 / critical)",
        "Content-Type: text/html; charset=utf-8",
        "<title>[FIRING:1] DiskFull (db-1 / critical)</title>",
        "[1] Firing",
    ] {
        assert!(mail.contains(needle), "missing {needle:?} in:\n{mail}");
    }

    querier.set("disk_free < 0.1", Ok(vec![]));
    wait_for("the resolved email", || {
        output
            .lock()
            .unwrap()
            .contains("Subject: [RESOLVED] DiskFull")
    })
    .await;
    m.shutdown();
    if let Some(pid) = pid {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    let _ = server.wait().await;
}
