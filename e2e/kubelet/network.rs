//! The cluster network flattened onto 127.0.0.1: the one mapping from Kubernetes
//! addresses to local ones, applied to every command-line argument, environment value and
//! mounted ConfigMap file of every pod (nothing else of the rendered text is changed).
//!
//! Every (pod, container port) gets its own free loopback port. Then, in any text,
//! `HOST:PORT` is rewritten to `127.0.0.1:<local port>` when HOST is a name the cluster's
//! DNS would resolve:
//!
//! | HOST | resolves to |
//! |---|---|
//! | `<hostname>.<subdomain>.<ns>.svc[.cluster.local]` (StatefulSet pods behind their headless Service) | that pod |
//! | `<service>.<ns>.svc[.cluster.local]`, `<service>.<ns>`, and `<service>` from its own namespace | the first pod (by name) the Service selects, at the port's `targetPort` |
//!
//! and, in a pod's own command line and environment only, a listen address
//! `0.0.0.0:<containerPort>` (every interface of the pod's network namespace) becomes
//! `127.0.0.1:<its local port>`. A Service with several pods is not load-balanced: its
//! first pod answers.

use std::collections::BTreeMap;

use serde_json::Value;

use super::pods::PlannedPod;

/// The local ports of every pod and the name rewrites.
#[derive(Debug, Default)]
pub struct PodNetwork {
    /// (pod, container port) -> local port.
    ports: BTreeMap<(String, i64), u16>,
    /// (pod, port name) -> container port.
    names: BTreeMap<(String, String), i64>,
    /// Cluster-wide rewrites `host:port` -> `127.0.0.1:local` (longest first when
    /// applied, so that a pod's name wins over the Service name it ends with).
    rewrites: Vec<(String, String)>,
}

/// A pod's port keeps its local port across restarts, so it comes from outside the
/// ephemeral range (see `telltale_replica::loopback`).
fn free_port() -> u16 {
    telltale_replica::loopback::stable_port().unwrap()
}

/// Whether every `key=value` of a Service selector is among `labels`.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    selector.as_object().is_some_and(|sel| {
        !sel.is_empty()
            && sel
                .iter()
                .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
    })
}

impl PodNetwork {
    /// Ports for every container port of `pods`, and the DNS names of `pods` and
    /// `services`.
    pub fn new(pods: &[PlannedPod], services: &[Value]) -> PodNetwork {
        let mut net = PodNetwork::default();
        for pod in pods {
            for c in pod.containers() {
                for p in c["ports"].as_array().into_iter().flatten() {
                    let number = p["containerPort"].as_i64().expect("containerPort");
                    net.ports.insert((pod.name.clone(), number), free_port());
                    if let Some(name) = p["name"].as_str() {
                        net.names
                            .insert((pod.name.clone(), name.to_string()), number);
                    }
                }
            }
            if let Some(sub) = &pod.subdomain {
                let host = format!("{}.{sub}.{}", pod.hostname, pod.namespace);
                let own: Vec<(i64, u16)> = net
                    .ports
                    .iter()
                    .filter(|((owner, _), _)| owner == &pod.name)
                    .map(|((_, number), local)| (*number, *local))
                    .collect();
                for (number, local) in own {
                    let hosts = [format!("{host}.svc"), format!("{host}.svc.cluster.local")];
                    net.add_host(&hosts, number, local);
                }
            }
        }
        for svc in services {
            let name = svc["metadata"]["name"].as_str().unwrap();
            let ns = svc["metadata"]["namespace"].as_str().unwrap();
            let Some(pod) = pods
                .iter()
                .filter(|p| p.namespace == ns && selects(&svc["spec"]["selector"], &p.labels))
                .min_by(|a, b| a.name.cmp(&b.name))
            else {
                continue;
            };
            for port in svc["spec"]["ports"].as_array().into_iter().flatten() {
                let number = port["port"].as_i64().expect("service port");
                let target = match &port["targetPort"] {
                    Value::Null => Some(number),
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => net.names.get(&(pod.name.clone(), s.clone())).copied(),
                    other => panic!("targetPort {other}"),
                };
                if let Some(local) = target.and_then(|t| net.ports.get(&(pod.name.clone(), t))) {
                    let hosts = [
                        format!("{name}.{ns}.svc"),
                        format!("{name}.{ns}.svc.cluster.local"),
                        format!("{name}.{ns}"),
                        // Short names resolve only inside the namespace; every pod of this
                        // test lives in one.
                        name.to_string(),
                    ];
                    net.add_host(&hosts, number, *local);
                }
            }
        }
        net.rewrites
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        net
    }

    fn add_host(&mut self, hosts: &[String], port: i64, local: u16) {
        for h in hosts {
            self.rewrites
                .push((format!("{h}:{port}"), format!("127.0.0.1:{local}")));
        }
    }

    /// The local port of `pod`'s container port `number`.
    pub fn port(&self, pod: &str, number: i64) -> u16 {
        *self
            .ports
            .get(&(pod.to_string(), number))
            .unwrap_or_else(|| panic!("{pod} has no container port {number}"))
    }

    /// The local port of `pod`'s container port named or numbered `port` (a probe's or a
    /// Service's `IntOrString`).
    pub fn resolve(&self, pod: &str, port: &Value) -> u16 {
        let number = match port {
            Value::Number(n) => n.as_i64().unwrap(),
            Value::String(name) => *self
                .names
                .get(&(pod.to_string(), name.clone()))
                .unwrap_or_else(|| panic!("{pod} has no port named {name}")),
            other => panic!("port {other}"),
        };
        self.port(pod, number)
    }

    /// `text` with every cluster address rewritten, and, for `own_pod`, its listen
    /// addresses too.
    pub fn map(&self, text: &str, own_pod: Option<&str>) -> String {
        let mut out = text.to_string();
        if let Some(pod) = own_pod {
            for ((owner, number), local) in &self.ports {
                if owner == pod {
                    out = replace_address(
                        &out,
                        &format!("0.0.0.0:{number}"),
                        &format!("127.0.0.1:{local}"),
                    );
                }
            }
        }
        for (from, to) in &self.rewrites {
            out = replace_address(&out, from, to);
        }
        out
    }
}

/// Replaces `from` (a `host:port`) where it stands as a whole address: not preceded by a
/// host-name character and not followed by a digit.
fn replace_address(text: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + from.len()..].chars().next();
        let whole = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            && !after.is_some_and(|c| c.is_ascii_digit());
        out.push_str(&rest[..at]);
        out.push_str(if whole { to } else { from });
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_addresses_are_replaced() {
        let to = "127.0.0.1:1";
        assert_eq!(replace_address("s.ns.svc:9095", "s.ns.svc:9095", to), to);
        assert_eq!(
            replace_address("a-s.ns.svc:9095,s.ns.svc:9095", "s.ns.svc:9095", to),
            "a-s.ns.svc:9095,127.0.0.1:1"
        );
        assert_eq!(
            replace_address("s.ns.svc:90950", "s.ns.svc:9095", to),
            "s.ns.svc:90950"
        );
        assert_eq!(
            replace_address("- s.ns.svc:9095\n", "s.ns.svc:9095", to),
            "- 127.0.0.1:1\n"
        );
    }
}
