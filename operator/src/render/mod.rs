//! The desired state of a MetricCluster: every Kubernetes object it consists of, computed
//! from the resource alone (no API calls), so that it can be tested, diffed and run.
//!
//! ```text
//!  MetricCluster ──render()──> ConfigMap <mc>-shard-map
//!                              per shard S: Service + StatefulSet + PDB <mc>-storage-S
//!                              Service + StatefulSet + PDB <mc>-scraper
//!                              Deployment + Service + PDB <mc>-query
//!                              StatefulSet (1 pod, PVC) + Service <mc>-alertmanager
//!                              ServiceAccount per component; Role + RoleBinding for the
//!                              scraper and the alertmanager
//!                              NetworkPolicy per component (unless spec.networkPolicies
//!                              is false)
//! ```
//!
//! Pods mount their component's TLS Secret (unless `spec.tls.internal.mode` is
//! `Disabled`); the Secrets themselves hold certificates, which take the CA and the
//! Secrets as they are: [`certificates`] computes them, the controller reads and writes.

/// The alertmanager StatefulSet.
pub mod alertmanager;
/// The TLS Secrets: which certificates each holds, kept or issued again.
pub mod certificates;
/// `spec.coldStorage`'s flags and environment on the storage container.
pub mod cold_storage;
/// NetworkPolicies: which pods may reach which port.
pub mod network_policy;
/// Shared container, probe and volume pieces.
pub mod pod;
/// ServiceAccounts, Roles and RoleBindings.
pub mod rbac;
/// The scraper StatefulSet and its headless Service.
pub mod scraper;
/// The shard map ConfigMap's content.
pub mod shard_map;
/// The query Deployment, and the query and alertmanager Services.
pub mod stateless;
/// One storage shard: StatefulSet, headless Service, PodDisruptionBudget.
pub mod storage;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::DynamicObject;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use telltale_crds::MetricCluster;

use crate::naming::{Component, Names, SHARD_MAP_FILE};
use crate::{Error, Result};
use shard_map::{ShardMap, config_hash};
pub use storage::ShardLayout;

/// Metadata every rendered object shares: namespace, labels, the owner reference.
pub struct Meta {
    pub names: Names,
    owner: OwnerReference,
    /// What `spec.web`'s Secret says (read by the controller; plain when unknown).
    pub web: pod::WebServing,
}

impl Meta {
    /// The metadata context of `mc`; it needs a namespace and a uid (an object read from
    /// the API server has both).
    pub fn new(mc: &MetricCluster) -> Result<Self> {
        let namespace = mc.namespace().ok_or_else(|| Error::Incomplete {
            name: mc.name_any(),
            what: "metadata.namespace",
        })?;
        let owner = mc
            .controller_owner_ref(&())
            .ok_or_else(|| Error::Incomplete {
                name: mc.name_any(),
                what: "metadata.uid",
            })?;
        Ok(Meta {
            web: pod::WebServing::default(),
            names: Names::new(mc.name_any(), namespace),
            owner,
        })
    }

    /// Metadata of an object of `component` named `name`.
    pub fn object(&self, name: String, component: Component, shard: Option<u32>) -> ObjectMeta {
        self.with_labels(name, self.names.labels(component, shard))
    }

    fn with_labels(&self, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.names.namespace.clone()),
            labels: Some(labels),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }
}

/// Every object of one MetricCluster, typed.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub config_maps: Vec<ConfigMap>,
    pub service_accounts: Vec<ServiceAccount>,
    pub roles: Vec<Role>,
    pub role_bindings: Vec<RoleBinding>,
    pub services: Vec<Service>,
    pub stateful_sets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub disruption_budgets: Vec<PodDisruptionBudget>,
    pub network_policies: Vec<NetworkPolicy>,
}

/// The objects of `mc` for a cluster whose groups do not exist yet, typed, with the
/// operator running in `mc`'s namespace. The spec is assumed valid (see
/// `MetricClusterSpec::validate`).
pub fn render_typed(mc: &MetricCluster) -> Result<Rendered> {
    let namespace = mc.namespace().unwrap_or_default();
    render_with(
        mc,
        &BTreeMap::new(),
        &namespace,
        &pod::WebServing::default(),
    )
}

/// The objects of `mc`, typed, with each shard's workloads as its running group needs
/// them (`layouts`; a shard without one is new: see [`ShardLayout::new`]), for an
/// operator whose pods run in `operator_namespace` (the NetworkPolicies admit them).
pub fn render_with(
    mc: &MetricCluster,
    layouts: &BTreeMap<u32, ShardLayout>,
    operator_namespace: &str,
    web: &pod::WebServing,
) -> Result<Rendered> {
    let mut m = Meta::new(mc)?;
    m.web = web.clone();
    let spec = &mc.spec;
    let names = &m.names;
    let layout = |shard: u32| {
        layouts
            .get(&shard)
            .copied()
            .unwrap_or_else(|| ShardLayout::new(spec))
    };
    let replicas: Vec<u32> = (0..spec.shards).map(|s| layout(s).replicas).collect();
    let shard_map = ShardMap::new(names, &replicas).to_yaml();
    // The components re-read the shard map when it changes; only a new shard restarts
    // them (a shard's replicas come and go live).
    let hash = config_hash(&format!("shards: {}", spec.shards));
    let mut out = Rendered {
        config_maps: vec![ConfigMap {
            metadata: m.with_labels(names.shard_map(), names.cluster_labels()),
            data: Some(BTreeMap::from([(SHARD_MAP_FILE.to_string(), shard_map)])),
            ..ConfigMap::default()
        }],
        ..Rendered::default()
    };
    for c in [
        Component::Storage,
        Component::Scraper,
        Component::Query,
        Component::Alertmanager,
    ] {
        out.service_accounts.push(rbac::service_account(&m, c));
    }
    out.roles
        .push(rbac::role(&m, Component::Scraper, rbac::scraper_rules()));
    out.roles.push(rbac::role(
        &m,
        Component::Alertmanager,
        rbac::alertmanager_rules(spec),
    ));
    out.role_bindings
        .push(rbac::role_binding(&m, Component::Scraper));
    out.role_bindings
        .push(rbac::role_binding(&m, Component::Alertmanager));
    for shard in 0..spec.shards {
        out.services.push(storage::service(&m, shard));
        let layout = layout(shard);
        out.stateful_sets
            .push(storage::stateful_set(&m, spec, shard, &layout));
        out.disruption_budgets
            .push(storage::disruption_budget(&m, shard, &layout));
    }
    out.services.push(scraper::service(&m));
    out.stateful_sets
        .push(scraper::stateful_set(&m, spec, &hash));
    out.disruption_budgets
        .push(scraper::one_at_a_time(&m, Component::Scraper));
    for c in [Component::Query, Component::Alertmanager] {
        out.services.push(stateless::service(&m, c));
    }
    out.deployments.push(stateless::deployment(&m, spec, &hash));
    out.stateful_sets
        .push(alertmanager::stateful_set(&m, spec, &hash));
    out.disruption_budgets
        .push(scraper::one_at_a_time(&m, Component::Query));
    if spec.network_policies {
        out.network_policies = network_policy::network_policies(&m, operator_namespace);
    }
    Ok(out)
}

impl Rendered {
    /// Every object as a [`DynamicObject`] with `apiVersion` and `kind` set, in the order
    /// they are applied: configuration and identities before the workloads using them.
    pub fn into_dynamic(self) -> Result<Vec<DynamicObject>> {
        let mut out = Vec::new();
        push_all(&mut out, self.config_maps)?;
        push_all(&mut out, self.service_accounts)?;
        push_all(&mut out, self.roles)?;
        push_all(&mut out, self.role_bindings)?;
        push_all(&mut out, self.services)?;
        push_all(&mut out, self.disruption_budgets)?;
        push_all(&mut out, self.network_policies)?;
        push_all(&mut out, self.stateful_sets)?;
        push_all(&mut out, self.deployments)?;
        Ok(out)
    }
}

fn push_all<K>(out: &mut Vec<DynamicObject>, objects: Vec<K>) -> Result<()>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    for o in objects {
        out.push(to_dynamic(&o)?);
    }
    Ok(())
}

/// A typed object as a [`DynamicObject`] carrying its `apiVersion` and `kind`.
pub fn to_dynamic<K>(obj: &K) -> Result<DynamicObject>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let mut value = serde_json::to_value(obj).map_err(Error::Serialize)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), K::api_version(&()).into());
        map.insert("kind".into(), K::kind(&()).into());
    }
    serde_json::from_value(value).map_err(Error::Serialize)
}

/// Every object of `mc` as it is applied, with the operator in `mc`'s namespace (the
/// lead's e2e runs these). The TLS Secrets are not among them: they are issued by the
/// controller (see [`certificates`]).
pub fn render(mc: &MetricCluster) -> Result<Vec<DynamicObject>> {
    render_typed(mc)?.into_dynamic()
}
