//! The Kubernetes API of the test: kmock's emulator over real HTTP
//! (`operator/tests/kube_emulator.py`, the one the operator's own tests use), with the
//! few JSON calls the test makes and a kubeconfig pointing at it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::Value;

/// A running `kube_emulator.py`; it exits when this is dropped (killed, and its stdin
/// closes).
pub struct KubeApi {
    child: Child,
    _stdin: ChildStdin,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    http: reqwest::Client,
}

/// The python of the test venv that `scripts/install-deps.sh` creates (kmock is
/// installed there). The test fails, it is not skipped, when the venv is missing.
fn venv_python() -> PathBuf {
    let home = std::env::var("HOME").expect("HOME is set");
    let python = Path::new(&home).join(".cache/telltale-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh (it creates the test venv with kmock)",
        python.display()
    );
    python
}

/// The URL path of a collection: `/api/v1/...` for the core group, `/apis/<group>/<v>/...`
/// otherwise. The plural is the lowercased kind plus `s`, which holds for every kind this
/// test touches (pods, configmaps, services, statefulsets, deployments, secrets,
/// serviceaccounts, metricclusters, scrapetargets, alertrules).
pub fn collection_path(api_version: &str, kind: &str, namespace: &str) -> String {
    let root = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    format!(
        "{root}/namespaces/{namespace}/{}s",
        kind.to_ascii_lowercase()
    )
}

/// The URL path of the object `obj` (its `apiVersion`, `kind`, namespace and name).
fn object_path(obj: &Value) -> String {
    object_path_of(
        obj["apiVersion"].as_str().unwrap(),
        obj["kind"].as_str().unwrap(),
        obj["metadata"]["namespace"].as_str().unwrap(),
        obj["metadata"]["name"].as_str().unwrap(),
    )
}

fn object_path_of(api_version: &str, kind: &str, namespace: &str, name: &str) -> String {
    format!("{}/{name}", collection_path(api_version, kind, namespace))
}

impl KubeApi {
    pub fn start() -> KubeApi {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("operator/tests/kube_emulator.py");
        let mut child = Command::new(venv_python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start kube_emulator.py");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("kube_emulator.py did not start: {line:?}"));
        KubeApi {
            child,
            _stdin: stdin,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    /// Writes a kubeconfig for this API whose default namespace is `namespace` (what a
    /// pod's service account gives it) and returns its path. The emulator needs no
    /// credentials.
    pub fn kubeconfig(&self, dir: &Path, namespace: &str) -> PathBuf {
        let path = dir.join(format!("kubeconfig-{namespace}"));
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: emulator
  cluster:
    server: {}
users:
- name: service-account
  user: {{}}
contexts:
- name: pod
  context:
    cluster: emulator
    user: service-account
    namespace: {namespace}
current-context: pod
",
            self.base
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Creates `obj` (POST to its collection) and returns what the API stored.
    pub async fn create(&self, obj: Value) -> Value {
        let path = collection_path(
            obj["apiVersion"].as_str().unwrap(),
            obj["kind"].as_str().unwrap(),
            obj["metadata"]["namespace"].as_str().unwrap(),
        );
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&obj)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    /// Merge-patches an object (what `kubectl patch --type merge` does).
    pub async fn patch(&self, obj: &Value, patch: Value) {
        let path = object_path(obj);
        let resp = self
            .http
            .patch(format!("{}{path}", self.base))
            .header("Content-Type", "application/merge-patch+json")
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert!(
            status.is_success(),
            "PATCH {path}: {status} {}",
            resp.text().await.unwrap_or_default()
        );
    }

    /// Merge-patches the status subresource of an object (what a controller or the
    /// kubelet would report).
    pub async fn patch_status(&self, obj: &Value, status: Value) {
        let path = format!("{}/status", object_path(obj));
        let resp = self
            .http
            .patch(format!("{}{path}", self.base))
            .header("Content-Type", "application/merge-patch+json")
            .body(serde_json::json!({ "status": status }).to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert!(
            status.is_success(),
            "PATCH {path}: {status} {}",
            resp.text().await.unwrap_or_default()
        );
    }

    /// The object `name` of a kind, if it exists.
    pub async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let path = object_path_of(api_version, kind, namespace, name);
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        Some(body)
    }

    /// Deletes the object `name` of a kind (gone already is fine).
    pub async fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let path = object_path_of(api_version, kind, namespace, name);
        let resp = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert!(
            status.is_success() || status == reqwest::StatusCode::NOT_FOUND,
            "DELETE {path}: {status} {}",
            resp.text().await.unwrap_or_default()
        );
    }

    /// The objects of one kind in `namespace` matching `label_selector`, each with its
    /// `apiVersion` and `kind` set (list items carry neither).
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        label_selector: &str,
    ) -> Vec<Value> {
        let path = collection_path(api_version, kind, namespace);
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .query(&[("labelSelector", label_selector)])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|mut o| {
                o["apiVersion"] = api_version.into();
                o["kind"] = kind.into();
                o
            })
            .collect()
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
