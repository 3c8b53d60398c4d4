//! A cluster's certificates, kept before its workloads are applied:
//!
//! ```text
//!  mode Operator: get <mc>-ca ──absent──> generate, create (never overwritten; a
//!                                          concurrent create wins and is read back)
//!  mode Secret:   get spec.tls.internal.caSecretName (read, never written)
//!     ─> per TLS Secret: get ─> render::certificates::issue (pure: keep or reissue
//!        each entry) ─> server-side apply only when its data changed
//!     ─> CertificatesRotated Event for entries reissued in existing Secrets
//!     ─> the operator's own certificate renewed (in memory)
//! ```

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use telltale_crds::{InternalTlsMode, MetricCluster};

use crate::context::Context;
use crate::pki::{CertificateAuthority, Reason};
use crate::render::certificates::{ca_from_secret, ca_secret, issue, plans};
use crate::render::{Meta, ShardLayout};
use crate::{Error, FIELD_MANAGER, Result};

/// Makes sure every TLS Secret of `mc` holds good certificates (and that the operator
/// has its own); nothing when its internal TLS is disabled.
pub async fn ensure(
    ctx: &Context,
    mc: &MetricCluster,
    layouts: &BTreeMap<u32, ShardLayout>,
) -> Result<()> {
    let m = Meta::new(mc)?;
    let names = &m.names;
    let tls = &mc.spec.tls.internal;
    if !tls.enabled() {
        ctx.identities.forget(names);
        return Ok(());
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let ca = match (tls.mode, &tls.ca_secret_name) {
        (InternalTlsMode::Secret, Some(name)) => user_ca(&api, &names.namespace, name).await,
        _ => operator_ca(&api, &m).await,
    };
    let ca = match ca {
        Ok(ca) => ca,
        Err(e) => {
            ctx.event(
                mc,
                true,
                "CertificateAuthorityUnavailable",
                "ReadCA",
                e.to_string(),
            )
            .await;
            return Err(e);
        }
    };
    let now = SystemTime::now();
    if ca.not_after() <= now + tls.renew_before() {
        tracing::warn!(cluster = %names.cluster, "the cluster's CA expires within renewBefore: certificates are not renewed past it");
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut rotated = Vec::new();
    for plan in plans(names, &mc.spec, layouts) {
        let existing = api.get_opt(&plan.name).await?;
        let issued = issue(&m, &plan, &ca, existing.as_ref(), tls, now)?;
        if !issued.changed {
            continue;
        }
        api.patch(&plan.name, &params, &Patch::Apply(&issued.secret))
            .await?;
        for (entry, why) in &issued.reissued {
            tracing::info!(cluster = %names.cluster, secret = %plan.name, %entry, reason = %why, "issued certificate");
        }
        if existing.is_some() && !issued.reissued.is_empty() {
            rotated.push(describe(&plan.name, &issued.reissued));
        }
    }
    if !rotated.is_empty() {
        ctx.event(
            mc,
            false,
            "CertificatesRotated",
            "RenewCertificates",
            format!("reissued {}", rotated.join("; ")),
        )
        .await;
    }
    if ctx.identities.renew(names, &ca, tls, now)? {
        tracing::info!(cluster = %names.cluster, "issued the operator's client certificate");
    }
    Ok(())
}

/// `secret: a.crt (why), b.crt (why)`.
fn describe(secret: &str, reissued: &[(String, Reason)]) -> String {
    let entries: Vec<String> = reissued
        .iter()
        .map(|(entry, why)| format!("{entry} ({why})"))
        .collect();
    format!("{secret}: {}", entries.join(", "))
}

/// The CA of `<mc>-ca`, made and stored if there is none. An existing one is never
/// overwritten, even when unreadable (the error says so).
async fn operator_ca(api: &Api<Secret>, m: &Meta) -> Result<CertificateAuthority> {
    let name = m.names.ca_secret();
    if let Some(secret) = api.get_opt(&name).await? {
        return read_ca(&secret, &m.names.namespace, &name);
    }
    let ca = CertificateAuthority::generate(&m.names.cluster, SystemTime::now())?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api.create(&params, &ca_secret(m, &ca)).await {
        Ok(_) => {
            tracing::info!(cluster = %m.names.cluster, secret = %name, "created the cluster's CA");
            Ok(ca)
        }
        // Someone made it in the meantime: theirs is the CA.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            read_ca(&api.get(&name).await?, &m.names.namespace, &name)
        }
        Err(e) => Err(e.into()),
    }
}

/// The user's CA in the Secret `name` (`tls.crt` and `tls.key`).
async fn user_ca(api: &Api<Secret>, namespace: &str, name: &str) -> Result<CertificateAuthority> {
    let secret = api.get_opt(name).await?.ok_or_else(|| Error::Pki {
        what: format!("Secret {namespace}/{name} (spec.tls.internal.caSecretName)"),
        reason: "not found".into(),
    })?;
    read_ca(&secret, namespace, name)
}

fn read_ca(secret: &Secret, namespace: &str, name: &str) -> Result<CertificateAuthority> {
    let what = format!("Secret {namespace}/{name}");
    match ca_from_secret(secret) {
        Some(Ok(ca)) => Ok(ca),
        Some(Err(e)) => Err(Error::Pki {
            what,
            reason: e.to_string(),
        }),
        None => Err(Error::Pki {
            what,
            reason: "holds no CA: neither tls.crt and tls.key nor ca.crt and ca.key".into(),
        }),
    }
}
