//! The kubelet's report of a running pod: its Pod object in the API, with a status that
//! says `Running`, whether it is ready, and its IP. Every pod gets a loopback address of
//! its own (`127.0.1.N`) as its IP, where each container port is forwarded to the port
//! the pod listens on in the flattened network (see `network`), so that whoever dials a
//! pod by `status.podIP` and container port (the operator) reaches it as in a cluster.

use std::net::Ipv4Addr;

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::api::KubeApi;
use super::network::PodNetwork;
use super::pods::PlannedPod;

/// A pod's object in the API and its address's forwarders (stopped when dropped).
pub struct PodObject {
    object: Value,
    pub ip: Ipv4Addr,
    forwarders: Vec<JoinHandle<()>>,
}

/// Accepts on `listener` and forwards each connection to 127.0.0.1:`local`.
async fn forward(listener: TcpListener, local: u16) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", local)).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

impl PodObject {
    /// Creates `pod`'s object, ready, at `ip`, forwarding its container ports.
    pub async fn report(api: &KubeApi, pod: &PlannedPod, net: &PodNetwork, ip: Ipv4Addr) -> Self {
        let mut forwarders = Vec::new();
        for c in pod.containers() {
            for p in c["ports"].as_array().into_iter().flatten() {
                let number = p["containerPort"].as_i64().expect("containerPort");
                let listener = TcpListener::bind((ip, number as u16))
                    .await
                    .unwrap_or_else(|e| panic!("{}: bind {ip}:{number}: {e}", pod.name));
                forwarders.push(tokio::spawn(forward(listener, net.port(&pod.name, number))));
            }
        }
        let object = api
            .create(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": pod.labels},
                "spec": pod.spec,
            }))
            .await;
        let object = json!({"apiVersion": "v1", "kind": "Pod", "metadata": object["metadata"]});
        let this = PodObject {
            object,
            ip,
            forwarders,
        };
        this.set_ready(api, true).await;
        this
    }

    /// Reports the pod ready or not (its container restarting).
    pub async fn set_ready(&self, api: &KubeApi, ready: bool) {
        let ip = self.ip.to_string();
        api.patch_status(
            &self.object,
            json!({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                   "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}),
        )
        .await;
    }

    /// Deletes the object (the pod is gone).
    pub async fn delete(self, api: &KubeApi) {
        let m = &self.object["metadata"];
        api.delete(
            "v1",
            "Pod",
            m["namespace"].as_str().unwrap(),
            m["name"].as_str().unwrap(),
        )
        .await;
    }
}

impl Drop for PodObject {
    fn drop(&mut self) {
        for f in &self.forwarders {
            f.abort();
        }
    }
}
