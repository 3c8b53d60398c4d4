//! kill -9 of a real alertmanager process, with state in RocksDB. The process is this
//! test binary run again as a child (`CRASH_CHILD_DIR` set): a [`RuleManager`] whose rule
//! fires at once and notifies a webhook served here.
//!
//! - Killed while the webhook request is on its way (sent, not yet answered, so the
//!   notification log cannot have been written): the restarted process sends it again —
//!   delivery is at least once, nothing is lost.
//! - Killed after the answer (the log entry is written before the next group interval):
//!   the restarted process does not send it again.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use common::{FakeQuerier, alerting_rule, rules, sample, serve, wait_for};
use telltale_alertmanager::{ManagerOptions, RuleManager};
use telltale_crds::{AlertingSpec, Receiver, Route, WebhookConfig};

const CHILD_DIR: &str = "CRASH_CHILD_DIR";
const CHILD_URL: &str = "CRASH_CHILD_URL";

/// The child: runs until killed.
#[tokio::test(flavor = "multi_thread")]
async fn crash_child() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_URL)) else {
        return; // run as a test of its own: nothing to do
    };
    let querier = Arc::new(FakeQuerier::default());
    querier.set("up == 0", Ok(vec![sample(&[("instance", "a")], 0.0)]));
    let m = RuleManager::new(
        querier,
        AlertingSpec {
            global: None,
            route: Some(
                serde_yaml::from_str::<Route>(
                    "{receiver: ops, groupBy: [alertname], groupWait: 0s, groupInterval: 100ms}",
                )
                .unwrap(),
            ),
            receivers: vec![Receiver {
                name: "ops".into(),
                webhooks: vec![WebhookConfig {
                    http_config: None,
                    url,
                    send_resolved: true,
                    timeout: None,
                }],
                ..Default::default()
            }],
            inhibit_rules: vec![],
            templates: vec![],
        },
        ManagerOptions {
            state_dir: Some(dir.into()),
            ..ManagerOptions::default()
        },
        &prometheus::Registry::new(),
    );
    m.apply(&[rules(
        "up",
        vec![alerting_rule("Down", "up == 0", Duration::ZERO, &[])],
    )]);
    tokio::time::sleep(Duration::from_secs(120)).await;
}

struct Hook {
    child: Mutex<Option<Child>>,
    /// Kill the child when a request arrives, before answering it.
    kill_on_request: AtomicBool,
    received: Mutex<usize>,
}

async fn hook(State(h): State<Arc<Hook>>) -> StatusCode {
    *h.received.lock().unwrap() += 1;
    if h.kill_on_request.load(Ordering::SeqCst)
        && let Some(mut child) = h.child.lock().unwrap().take()
    {
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    StatusCode::OK
}

fn spawn_child(dir: &std::path::Path, url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture"])
        .env(CHILD_DIR, dir)
        .env(CHILD_URL, url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_between_notification_and_log_resends_after_it_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let h = Arc::new(Hook {
        child: Mutex::new(None),
        kill_on_request: AtomicBool::new(true),
        received: Mutex::new(0),
    });
    let base = serve(
        Router::new()
            .route("/hook", post(hook))
            .with_state(h.clone()),
    )
    .await;
    let url = format!("{base}/hook");
    let count = || *h.received.lock().unwrap();

    // 1. Killed with the request in flight: the log has no entry, so it is sent again.
    *h.child.lock().unwrap() = Some(spawn_child(dir.path(), &url));
    wait_for("the first notification", || count() == 1).await;
    assert!(h.child.lock().unwrap().is_none(), "killed by the hook");
    h.kill_on_request.store(false, Ordering::SeqCst);
    *h.child.lock().unwrap() = Some(spawn_child(dir.path(), &url));
    wait_for("the notification to be sent again", || count() == 2).await;

    // 2. Answered, then killed once its log entry is durable: not sent again. The log is
    // written right after the answer; a second is ample (an unrelated wait, not a
    // figure under test), and the check below waits for many group intervals.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut child = h.child.lock().unwrap().take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    *h.child.lock().unwrap() = Some(spawn_child(dir.path(), &url));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(), 2, "sent again after a restart although logged");
    if let Some(mut child) = h.child.lock().unwrap().take() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
