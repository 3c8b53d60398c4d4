//! The pods the StatefulSet and Deployment controllers would create from the rendered
//! workloads: their names, hostnames, labels and volume claims, and their pod spec (the
//! template's, unchanged).

use std::collections::BTreeMap;

use serde_json::Value;

/// One pod to run.
#[derive(Clone, Debug)]
pub struct PlannedPod {
    pub name: String,
    pub namespace: String,
    /// The pod's hostname (`HOSTNAME` in its containers).
    pub hostname: String,
    /// With a headless Service of this name, the pod is `<hostname>.<subdomain>.<ns>.svc`.
    pub subdomain: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// The pod template's spec.
    pub spec: Value,
    /// Volume name -> PersistentVolumeClaim name, for the StatefulSet's claim templates.
    pub claims: BTreeMap<String, String>,
    /// `StatefulSet/<name>` or `Deployment/<name>`.
    pub workload: String,
}

impl PlannedPod {
    pub fn containers(&self) -> Vec<&Value> {
        self.spec["containers"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }
}

/// The characters Kubernetes uses in generated name suffixes (no vowels, no look-alikes).
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `len` characters of Kubernetes' safe alphabet from `seed`.
fn safe_string(mut seed: u64, len: usize) -> String {
    (0..len)
        .map(|_| {
            let c = SAFE[(seed % SAFE.len() as u64) as usize] as char;
            seed /= SAFE.len() as u64;
            c
        })
        .collect()
}

/// FNV-1a of the template, standing in for the `pod-template-hash` of a ReplicaSet.
fn template_hash(template: &Value) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn labels_of(template: &Value) -> BTreeMap<String, String> {
    template["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The pods of every workload in `workloads` (StatefulSets and Deployments, as read from
/// the API), in a stable order.
pub fn pods_of(workloads: &[Value]) -> Vec<PlannedPod> {
    pods_scaled(workloads, |w| w["spec"]["replicas"].as_u64().unwrap_or(1))
}

/// The pods of `workloads` if each had `replicas(workload)` replicas (e.g. every pod a
/// StatefulSet can grow to, whose DNS names exist before the pods do).
pub fn pods_scaled(workloads: &[Value], replicas: impl Fn(&Value) -> u64) -> Vec<PlannedPod> {
    let mut pods = Vec::new();
    for w in workloads {
        let kind = w["kind"].as_str().expect("workload kind");
        let name = w["metadata"]["name"].as_str().unwrap();
        let namespace = w["metadata"]["namespace"].as_str().unwrap();
        let template = &w["spec"]["template"];
        let replicas = replicas(w);
        let spec = template["spec"].clone();
        for i in 0..replicas {
            let mut labels = labels_of(template);
            let mut claims = BTreeMap::new();
            let (pod_name, hostname, subdomain) = match kind {
                "StatefulSet" => {
                    let pod = format!("{name}-{i}");
                    labels.insert("statefulset.kubernetes.io/pod-name".into(), pod.clone());
                    labels.insert("apps.kubernetes.io/pod-index".into(), i.to_string());
                    for claim in w["spec"]["volumeClaimTemplates"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        let c = claim["metadata"]["name"].as_str().unwrap();
                        claims.insert(c.to_string(), format!("{c}-{pod}"));
                    }
                    let sub = w["spec"]["serviceName"].as_str().map(String::from);
                    (pod.clone(), pod, sub)
                }
                "Deployment" => {
                    let hash = safe_string(template_hash(template), 10);
                    labels.insert("pod-template-hash".into(), hash.clone());
                    let pod = format!("{name}-{hash}-{}", safe_string(i * 7919 + 1, 5));
                    let hostname = spec["hostname"].as_str().unwrap_or(&pod).to_string();
                    let sub = spec["subdomain"].as_str().map(String::from);
                    (pod, hostname, sub)
                }
                other => panic!("workload kind {other} is not run by this harness"),
            };
            pods.push(PlannedPod {
                name: pod_name,
                namespace: namespace.to_string(),
                hostname,
                subdomain,
                labels,
                spec: spec.clone(),
                claims,
                workload: format!("{kind}/{name}"),
            });
        }
    }
    pods.sort_by(|a, b| a.name.cmp(&b.name));
    pods
}
