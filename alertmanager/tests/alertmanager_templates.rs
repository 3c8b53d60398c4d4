//! Receiver message templates against the real Alertmanager 0.25 (Debian's
//! prometheus-alertmanager): the same alerts posted to both, with the same Slack,
//! PagerDuty and webhook receivers — once with the default templates, once with user
//! templates from a `templates:` file — give the same requests, byte for byte once
//! parsed as JSON.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use common::{FakeQuerier, Received, Sink, serve, start_sink, wait_for};
use telltale_alertmanager::{ManagerOptions, RuleManager, router};
use telltale_crds::{AlertingSpec, Receiver};

const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";
const EXTERNAL: &str = "http://am.example:9093";

/// User templates in the style of the ones people keep beside their Alertmanager config.
const TEMPLATES: &str = r#"{{ define "custom.title" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} for {{ .GroupLabels.SortedPairs.Values | join ", " }}{{ end }}
{{ define "custom.text" -}}
{{ range .Alerts.Firing }}• {{ .Labels.instance }}: {{ .Annotations.summary }} since {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}
{{ end -}}
{{ with .CommonAnnotations.runbook }}Runbook: <{{ . }}|{{ . | reReplaceAll "https?://([^/]+)/.*" "$1" }}>{{ end }}
{{- range .Alerts.Resolved }}resolved {{ .Labels.instance }}{{ end }}
{{- end }}
{{ define "custom.labels" }}{{ range (.CommonLabels.Remove (stringSlice "alertname" "instance")).SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}{{ end }}
"#;

/// The receiver `oncall`, in Alertmanager's YAML or (`telltale`) Telltale's, whose
/// requests go to `sink`; `custom`: its fields take the user templates. Telltale reads
/// the Slack URL and the routing key from files in `dir`.
fn receiver_yaml(sink: &str, dir: &Path, custom: bool, telltale: bool) -> String {
    let d = dir.display();
    let (slack, pd, hook, api_url, key) = if telltale {
        (
            "slackConfigs",
            "pagerdutyConfigs",
            "webhooks",
            format!("apiUrl: {{file: {d}/slack-url}}"),
            format!("routingKey: {{file: {d}/pd-key}}"),
        )
    } else {
        (
            "slack_configs",
            "pagerduty_configs",
            "webhook_configs",
            format!("api_url: {sink}/slack"),
            "routing_key: R-KEY".to_string(),
        )
    };
    let resolved = if telltale {
        "sendResolved"
    } else {
        "send_resolved"
    };
    // PagerDuty's severity is set: Telltale's default is the alerts' common `severity`
    // label (documented in the CRD) where Alertmanager's is always `error`.
    let mut slack_fields = String::new();
    let mut pd_fields = String::new();
    if custom {
        slack_fields += "    title: '{{ template \"custom.title\" . }}'\n";
        slack_fields += "    text: '{{ template \"custom.text\" . }}'\n";
        slack_fields += "    fields:\n      - title: Labels\n        value: '{{ template \"custom.labels\" . }}'\n        short: true\n      - title: Receiver\n        value: '{{ .Receiver }} at {{ .ExternalURL }}'\n";
        pd_fields += "    description: '{{ template \"custom.title\" . }}'\n";
        pd_fields += "    details:\n      runbook: '{{ .CommonAnnotations.runbook }}'\n      count: '{{ len .Alerts }}'\n";
    }
    format!(
        "name: oncall\n\
         {slack}:\n  - {api_url}\n    channel: '#ops'\n    {resolved}: true\n{slack_fields}\
         {pd}:\n  - {key}\n    url: {sink}/pd\n    severity: warning\n{pd_fields}\
         {hook}:\n  - url: {sink}/hook\n"
    )
}

struct Alertmanager(Child);

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_alertmanager(dir: &Path, sink: &str, custom: bool) -> (Alertmanager, String) {
    let receiver: String = receiver_yaml(sink, dir, custom, false)
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    let config = format!(
        "route:\n  receiver: oncall\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 1s\n\
         templates:\n  - {}/*.tmpl\nreceivers:\n  - {}",
        dir.display(),
        receiver.trim_start()
    );
    std::fs::write(dir.join("alertmanager.yml"), &config).unwrap();
    let port = free_port();
    let child = Command::new(ALERTMANAGER)
        .arg(format!(
            "--config.file={}",
            dir.join("alertmanager.yml").display()
        ))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg(format!("--web.external-url={EXTERNAL}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("alertmanager.log")).unwrap())
        .spawn()
        .expect("prometheus-alertmanager runs (Debian package prometheus-alertmanager)");
    (Alertmanager(child), format!("http://127.0.0.1:{port}"))
}

fn start_telltale(dir: &Path, sink: &str, custom: bool) -> Arc<RuleManager> {
    std::fs::write(dir.join("slack-url"), format!("{sink}/slack\n")).unwrap();
    std::fs::write(dir.join("pd-key"), "R-KEY\n").unwrap();
    let receiver: Receiver = serde_yaml::from_str(&receiver_yaml(sink, dir, custom, true)).unwrap();
    let route = serde_yaml::from_str(
        "{receiver: oncall, groupBy: [alertname], groupWait: 1s, groupInterval: 1s}",
    )
    .unwrap();
    RuleManager::new(
        Arc::new(FakeQuerier::default()),
        AlertingSpec {
            global: None,
            route: Some(route),
            receivers: vec![receiver],
            inhibit_rules: vec![],
            templates: vec![format!("{}/*.tmpl", dir.display())],
        },
        ManagerOptions {
            external_url: EXTERNAL.into(),
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    )
}

/// Now, as an alert's timestamp (whole seconds, as both render it).
fn now() -> String {
    telltale_model::format_rfc3339(telltale_model::now_ms() / 1000 * 1000)
}

/// Two alerts of one group that started at `starts`, as a Prometheus sends them;
/// resolved now when `resolved`. An alert that started longer than `group_wait` ago is
/// flushed the moment it arrives, before its sibling in the same request may have
/// joined the group, so the alerts start now for both to wait out `group_wait` together.
fn alerts(starts: &str, resolved: bool) -> serde_json::Value {
    let ends = if resolved {
        serde_json::json!(now())
    } else {
        serde_json::Value::Null
    };
    let alert = |instance: &str, summary: &str| {
        let mut a = serde_json::json!({
            "labels": {"alertname": "DiskFull", "instance": instance, "severity": "critical", "team": "storage"},
            "annotations": {"summary": summary, "runbook": "https://runbooks.example.com/disk-full"},
            "startsAt": starts,
            "generatorURL": format!("http://prometheus.example:9090/graph?g0.expr=disk_free%7Binstance%3D%22{instance}%22%7D"),
        });
        if !ends.is_null() {
            a["endsAt"] = ends.clone();
        }
        a
    };
    serde_json::json!([
        alert("db-1:9100", "Only 3% left on /var <data> & \"logs\""),
        alert("db-2:9100", "Only 1% left on /"),
    ])
}

async fn post(client: &reqwest::Client, base: &str, body: &serde_json::Value) {
    let resp = client
        .post(format!("{base}/api/v2/alerts"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{base}: {}", resp.status());
}

/// The requests a sink got for `path`, as JSON.
fn bodies(sink: &Sink, path: &str) -> Vec<serde_json::Value> {
    sink.all()
        .iter()
        .filter(|r: &&Received| r.path == path)
        .map(Received::json)
        .collect()
}

async fn compare(custom: bool) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("custom.tmpl"), TEMPLATES).unwrap();
    let (theirs, their_sink) = start_sink(0).await;
    let (ours, our_sink) = start_sink(0).await;
    let (_am, am) = start_alertmanager(dir.path(), &their_sink, custom);
    let manager = start_telltale(dir.path(), &our_sink, custom);
    let tt = serve(router(manager.clone())).await;
    let client = reqwest::Client::new();
    wait_for("alertmanager listening", || {
        std::net::TcpStream::connect(am.trim_start_matches("http://")).is_ok()
    })
    .await;

    // Firing, then resolved: a Slack message, a PagerDuty event and a webhook call each.
    let starts = now();
    for (resolved, want) in [(false, 3), (true, 6)] {
        let body = alerts(&starts, resolved);
        post(&client, &am, &body).await;
        post(&client, &tt, &body).await;
        wait_for(&format!("{want} requests to each sink"), || {
            theirs.count() >= want && ours.count() >= want
        })
        .await;
    }
    for path in ["/slack", "/pd"] {
        let (t, o) = (bodies(&theirs, path), bodies(&ours, path));
        assert!(!t.is_empty(), "alertmanager sent nothing to {path}");
        assert_eq!(
            o,
            t,
            "{path}\n telltale:     {}\n alertmanager: {}",
            serde_json::to_string_pretty(&o).unwrap(),
            serde_json::to_string_pretty(&t).unwrap()
        );
    }
    let (t, o) = (bodies(&theirs, "/hook"), bodies(&ours, "/hook"));
    assert_eq!(o.len(), t.len());
    for (o, t) in o.iter().zip(&t) {
        // The webhook payload: the same but for Alertmanager's own fingerprints.
        for field in [
            "receiver",
            "status",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "groupKey",
            "version",
        ] {
            assert_eq!(o[field], t[field], "webhook {field}");
        }
    }
    manager.shutdown();
}

#[tokio::test(flavor = "multi_thread")]
async fn default_templates_render_as_alertmanagers() {
    compare(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn user_templates_render_as_alertmanagers() {
    compare(true).await;
}
