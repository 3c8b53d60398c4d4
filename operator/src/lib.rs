//! The Telltale operator: reconciles Telltale's custom resources into a running,
//! upgradable cluster.
//!
//! ```text
//!  watch MetricCluster (spec changes), owned workloads, pods
//!        ─> controller::metric_cluster::reconcile
//!           observe (workloads, pods) + membership::probe (each replica's Raft status)
//!           controller::certificates (CA + TLS Secrets; pki and
//!             render::certificates decide, pure) ─> Secrets written when changed
//!           render::render_with (pure, layouts from the groups) ─> server-side apply
//!           membership::ShardGroup::next (pure) ─> ≤ 1 membership step per shard
//!           rollout::next_step (pure, while no shard changes) ─> delete ≤ 1 storage pod
//!           cluster_status::decide (pure) ─> status (+ status.shards) + Events
//!  watch ScrapeTarget, AlertRule ─> controller::validation ─> status::decide (pure)
//!  leader::LeaderElector: only the Lease holder reconciles
//! ```
//!
//! Key types and functions: [`Operator`] (runs the controllers), [`render()`] (a
//! MetricCluster's objects, as the e2e tests run them), [`rollout::next_step`] (which
//! storage pod to replace next), [`cluster_status::decide`] (conditions from readiness),
//! [`leader::LeaderElector`] (Lease-based leader election), [`pki::CertificateAuthority`]
//! (the cluster's CA and the certificates it issues), [`Context::operator_identity`]
//! (the operator's own client certificate of a cluster, for its gRPC calls).
//!
//! [`Context::operator_identity`]: context::Context::operator_identity

/// Server-side apply and cleanup of rendered objects.
pub mod apply;
/// Exponential backoff of failed reconciles.
pub mod backoff;
/// The pure decision of a MetricCluster's status and conditions.
pub mod cluster_status;
/// Shared reconcile context: client, Events, metrics.
pub mod context;
/// The reconcilers of each kind.
pub mod controller;
/// The operator's error type.
pub mod error;
/// Leader election through a coordination.k8s.io Lease.
pub mod leader;
/// Raft membership that follows `replicasPerShard`, one replica at a time.
pub mod membership;
/// Names, labels and ports of the objects a MetricCluster deploys.
pub mod naming;
/// Reading workloads and pods into the views the decisions take.
pub mod observe;
/// [`Operator`]: the controllers and their runtime.
pub mod operator;
/// The cluster's CA, the certificates it issues and whether one must be reissued.
pub mod pki;
/// The desired objects of a MetricCluster (pure).
pub mod render;
/// The pure storage rollout decision.
pub mod rollout;
/// The pure decision: which status a resource's spec deserves.
pub mod status;

pub use error::{Error, Result};
pub use operator::Operator;
pub use render::{Rendered, render, render_typed};
pub use telltale_crds::crd_yaml;

/// The field manager of every write the operator makes (server-side apply).
pub const FIELD_MANAGER: &str = "telltale-operator";
