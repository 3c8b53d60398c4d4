//! The Telltale operator: watches Telltale's custom resources and reconciles them.
//!
//! ```text
//!  kube watch --> Controller<K> --reconcile--> status.{phase,message,observedGeneration}
//!                                      ^
//!                       status::decide (pure: spec -> status)
//! ```
//!
//! At this stage every resource kind is validated and its verdict written to its status
//! subresource; rendering a MetricCluster into StatefulSets and Services grows here next.
//! [`Operator`] owns the controllers; [`status::decide`] is the pure decision they apply.

/// The operator's error type.
pub mod error;
/// [`Operator`]: the controllers and their runtime.
pub mod operator;
/// The pure decision: which status a resource's spec deserves.
pub mod status;

pub use error::{Error, Result};
pub use operator::Operator;
pub use telltale_crds::crd_yaml;

/// The field manager of every write the operator makes (server-side apply).
pub const FIELD_MANAGER: &str = "telltale-operator";
