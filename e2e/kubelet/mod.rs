//! A stand-in for Kubernetes on one machine, for the e2e test of what the operator
//! deploys: the operator runs against an emulated API server; the workloads it renders
//! become pods ([`pods`]), and each pod's container runs as a local process with its own
//! command line and environment ([`run`]), on a network flattened onto 127.0.0.1 by one
//! documented address mapping ([`network`]).

#![allow(dead_code)] // each test binary uses a different subset

/// The emulated Kubernetes API (kmock) and the JSON calls the test makes.
pub mod api;
/// The operator's process, what it rendered, and waiting on the pods.
pub mod cluster;
/// The EndpointSlices of the Services, as the cluster would publish them.
pub mod endpoints;
/// `$(VAR)` expansion as the kubelet does it.
pub mod expand;
/// Cluster addresses to 127.0.0.1 ports.
pub mod network;
/// The Pod objects of running pods, and their IPs.
pub mod pod_objects;
/// The pods StatefulSets and Deployments would create.
pub mod pods;
/// A pod's container as a local process.
pub mod run;
/// A StatefulSet whose pods follow its `replicas` while the test runs.
pub mod stateful_set;
