//! A shard of three replicas over mutual TLS (certificates of a test CA with role URI
//! SANs): they elect a leader and replicate; a client without a certificate, with one of
//! another CA, or over plain gRPC is refused; a certificate's role decides what it may
//! call (only replicas replicate, only replicas and the operator change voters); and
//! certificates re-issued on disk while writes go on are picked up without a restart,
//! nothing acknowledged lost.
//!
//! The process-wide client identity (the replicas' Raft clients) is a storage one of
//! the binary's one CA; the test's own clients carry theirs explicitly (`channel_with`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use telltale_storage_api::client::channel_with;
use telltale_storage_api::pb::WriteRequest;
use telltale_storage_api::pb::storage_client::StorageClient;
use telltale_storage_api::raft_pb::raft_client::RaftClient;
use telltale_storage_api::raft_pb::{
    ChangeMembershipRequest, Member, RaftPayload, StatusRequest, StatusResponse,
};
use telltale_storage_api::tls::{self, ClientTls, Role, ServerTls, Source, TlsPaths};
use telltale_storage_api::{Label, Sample, TimeSeries};
use telltale_web::testing::Pki;
use tonic::transport::Channel;

mod common;
use common::{Running, group_of, start_tls};

/// The binary's CAs: the tests run in parallel and share the process's client identity.
fn pki() -> &'static Pki {
    static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();
    PKI.get_or_init(Pki::new)
}

/// A certificate of the test CA (or the other one) for `name`, valid for 127.0.0.1.
fn issue(pki: &Pki, name: &str, role: Option<Role>, other_ca: bool) -> TlsPaths {
    let uris: Vec<String> = role.map(|r| r.uri()).into_iter().collect();
    let uris: Vec<&str> = uris.iter().map(String::as_str).collect();
    pki.issue(name, &["127.0.0.1", "localhost"], &uris, other_ca);
    TlsPaths {
        ca: pki.path(if other_ca { "other-ca.pem" } else { "ca.pem" }),
        cert: pki.path(&format!("{name}.pem")),
        key: pki.path(&format!("{name}-key.pem")),
    }
}

fn identity(paths: TlsPaths) -> Arc<ClientTls> {
    let tls = Arc::new(ClientTls::default());
    tls.set("test", Source::Files(paths)).unwrap();
    tls
}

fn chan(address: &str, tls: &Arc<ClientTls>) -> Channel {
    channel_with(address, Some(tls)).unwrap()
}

async fn status(address: &str, tls: &Arc<ClientTls>) -> Result<StatusResponse, tonic::Status> {
    Ok(RaftClient::new(chan(address, tls))
        .status(StatusRequest {})
        .await?
        .into_inner())
}

async fn wait_leader(addrs: &[String], tls: &Arc<ClientTls>) -> String {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(20) {
        for a in addrs {
            if let Ok(s) = status(a, tls).await
                && s.role == "leader"
            {
                return a.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no leader over TLS in 20 s");
}

fn batch(n: i64) -> Vec<TimeSeries> {
    vec![TimeSeries {
        labels: vec![Label::new("__name__", "tls_metric")],
        samples: vec![Sample {
            timestamp_ms: 1_700_000_000_000 + n * 1000,
            value: n as f64,
        }],
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }]
}

async fn write(address: &str, tls: &Arc<ClientTls>, n: i64) -> Result<(), tonic::Status> {
    StorageClient::new(chan(address, tls))
        .write(WriteRequest { series: batch(n) })
        .await
        .map(|_| ())
}

async fn count(address: &str, tls: &Arc<ClientTls>) -> usize {
    common::count_selected(&mut StorageClient::new(chan(address, tls)), "tls_metric").await
}

struct Group {
    pki: &'static Pki,
    prefix: &'static str,
    nodes: Vec<Running>,
    servers: Vec<Arc<ServerTls>>,
    addrs: Vec<String>,
    dir: tempfile::TempDir,
}

/// Three replicas (of `n` listeners), each with its own certificate (role storage,
/// named `<prefix>-storage-<id>`); the process's client identity is replica 1's.
async fn tls_group(prefix: &'static str, n: usize) -> (Group, Vec<tokio::net::TcpListener>) {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let (mut listeners, addrs, peers) = group_of(n, 3).await;
    let rest = listeners.split_off(3);
    let mut nodes = Vec::new();
    let mut servers = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let id = i as u64 + 1;
        let paths = issue(
            pki,
            &format!("{prefix}-storage-{id}"),
            Some(Role::Storage),
            false,
        );
        if id == 1 {
            tls::client::global()
                .set(prefix, Source::Files(paths.clone()))
                .unwrap();
        }
        let server = Arc::new(ServerTls::new(Source::Files(paths)).unwrap());
        servers.push(server.clone());
        nodes.push(start_tls(dir.path(), id, &peers, None, l, Some(server)).await);
    }
    let group = Group {
        pki,
        prefix,
        nodes,
        servers,
        addrs,
        dir,
    };
    (group, rest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_speak_mutual_tls_and_check_roles() {
    let (g, _) = tls_group("roles", 3).await;
    let scraper = identity(issue(g.pki, "roles-scraper", Some(Role::Scraper), false));
    let leader = wait_leader(&g.addrs, &scraper).await;

    // The storage API: any certificate of the CA.
    for n in 0..10 {
        write(&leader, &scraper, n).await.unwrap();
    }
    let query = identity(issue(g.pki, "roles-query", Some(Role::Query), false));
    assert_eq!(count(&leader, &query).await, 10);
    let roleless = identity(issue(g.pki, "roles-roleless", None, false));
    write(&leader, &roleless, 10).await.unwrap();

    // Refused at the handshake: plain gRPC, a certificate of another CA.
    let plain =
        StorageClient::new(telltale_storage_api::client::channel_with(&leader, None).unwrap())
            .write(WriteRequest { series: batch(99) })
            .await
            .unwrap_err();
    // (The TLS server reads the HTTP/2 preface as a bad record: a transport error.)
    assert!(refused(&plain), "{plain:?}");
    let stranger = identity(issue(g.pki, "roles-stranger", Some(Role::Storage), true));
    let err = write(&leader, &stranger, 99).await.unwrap_err();
    assert!(refused(&err), "{err:?}");
    // A Raft peer without a certificate: its votes and entries never arrive.
    let vote = RaftClient::new(channel_with(&leader, None).unwrap())
        .vote(RaftPayload::default())
        .await
        .unwrap_err();
    assert!(refused(&vote), "{vote:?}");
    // ... and a TLS client that trusts the CA but has no certificate.
    assert!(handshake_without_certificate(g.pki, &leader).await.is_err());

    // Raft: only replicas replicate; replicas and the operator change voters.
    let payload = RaftPayload::default();
    for who in [&scraper, &roleless] {
        let err = RaftClient::new(chan(&leader, who))
            .vote(payload.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
        let err = RaftClient::new(chan(&leader, who))
            .append_entries(payload.clone())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    }
    // A replica's identity with a message that does not decode: an error naming it.
    let replica = identity(issue(g.pki, "roles-peer", Some(Role::Storage), false));
    let garbage = RaftClient::new(chan(&leader, &replica))
        .append_entries(RaftPayload {
            data: vec![0xff; 64],
        })
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), tonic::Code::InvalidArgument, "{garbage:?}");
    let members: Vec<Member> = g
        .addrs
        .iter()
        .enumerate()
        .map(|(i, a)| Member {
            id: i as u64 + 1,
            address: a.clone(),
        })
        .collect();
    let err = RaftClient::new(chan(&leader, &scraper))
        .change_membership(ChangeMembershipRequest {
            members: members.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("operator"), "{}", err.message());
    let operator = identity(issue(g.pki, "roles-operator", Some(Role::Operator), false));
    let same = RaftClient::new(chan(&leader, &operator))
        .change_membership(ChangeMembershipRequest { members })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(same.members.len(), 3);
    // Nothing refused changed anything.
    assert_eq!(count(&leader, &query).await, 11);
    stop(g.nodes).await;
}

/// A call that failed in the transport (the connection was refused or torn down), not
/// an answer of the replica.
fn refused(status: &tonic::Status) -> bool {
    use std::error::Error;
    // (Unavailable, Internal, Unknown or Cancelled, depending on when the server's alert
    // or close reaches the client.)
    status
        .source()
        .is_some_and(|s| s.downcast_ref::<tonic::transport::Error>().is_some())
}

/// A TLS connection that trusts the CA but presents no certificate: the server's
/// refusal arrives at the handshake or, in TLS 1.3, at the first read.
async fn handshake_without_certificate(pki: &Pki, address: &str) -> std::io::Result<()> {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for ca in rustls_pki_types::CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(ca.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(address).await?;
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await?;
    let mut buf = [0u8; 64];
    match tls.read(&mut buf).await? {
        0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
        _ => Ok(()),
    }
}

/// The certificate a server presents to a new connection.
async fn presented(address: &str, client: &Arc<ClientTls>) -> Vec<u8> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(client.config().unwrap())
        .connect(name, tcp)
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

fn der_of(path: &std::path::Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(path)
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn certificates_rotate_while_writes_go_on() {
    let (mut g, mut spare) = tls_group("rotate", 4).await;
    let p = g.prefix;
    let scraper = identity(issue(
        g.pki,
        &format!("{p}-scraper"),
        Some(Role::Scraper),
        false,
    ));
    let leader = wait_leader(&g.addrs[..3], &scraper).await;

    // A writer that keeps going through the rotation, counting what was acknowledged.
    let acked = Arc::new(AtomicI64::new(0));
    let stop_writing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (acked, stop, leader, scraper) = (
            acked.clone(),
            stop_writing.clone(),
            leader.clone(),
            scraper.clone(),
        );
        tokio::spawn(async move {
            let client = StorageClient::new(chan(&leader, &scraper));
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                if client
                    .clone()
                    .write(WriteRequest { series: batch(n) })
                    .await
                    .is_ok()
                {
                    acked.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    // New certificates (new keys) for every replica and the scraper, as the operator
    // writes them into the Secrets; the processes look again.
    let cert = |id: u64| g.pki.path(&format!("{p}-storage-{id}.pem"));
    let before: Vec<Vec<u8>> = (1..=3).map(|id| der_of(&cert(id))).collect();
    for id in 1..=3 {
        issue(
            g.pki,
            &format!("{p}-storage-{id}"),
            Some(Role::Storage),
            false,
        );
    }
    issue(g.pki, &format!("{p}-scraper"), Some(Role::Scraper), false);
    for s in &g.servers {
        s.check_now();
    }
    tls::client::global().check_now();
    scraper.check_now();
    for (i, address) in g.addrs[..3].iter().enumerate() {
        let now = presented(address, &scraper).await;
        assert_eq!(
            now,
            der_of(&cert(i as u64 + 1)),
            "replica {} presents its new certificate",
            i + 1
        );
        assert_ne!(now, before[i]);
    }

    // A fourth replica, new certificate and empty disk, joins: the leader's Raft client
    // connects to it with the rotated identity, and it catches up.
    let paths = issue(g.pki, &format!("{p}-storage-4"), Some(Role::Storage), false);
    let server = Arc::new(ServerTls::new(Source::Files(paths)).unwrap());
    let peers = telltale_replica::Peers(
        g.addrs
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u64 + 1, a.clone()))
            .collect(),
    );
    let fourth = spare.pop().unwrap();
    g.nodes
        .push(start_tls(g.dir.path(), 4, &peers, Some(3), fourth, Some(server)).await);
    let operator = identity(issue(
        g.pki,
        &format!("{p}-operator"),
        Some(Role::Operator),
        false,
    ));
    let members: Vec<Member> = (0..4)
        .map(|i| Member {
            id: i as u64 + 1,
            address: g.addrs[i].clone(),
        })
        .collect();
    let changed = RaftClient::new(chan(&leader, &operator))
        .change_membership(ChangeMembershipRequest { members })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(changed.members.len(), 4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_writing.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    let acked = acked.load(Ordering::Relaxed) as usize;
    assert!(acked > 20, "writes went on: {acked}");

    // Everything acknowledged is there, read over a new connection with a new
    // certificate, on the leader and, once caught up, on the new replica.
    let fresh = identity(issue(
        g.pki,
        &format!("{p}-reader"),
        Some(Role::Query),
        false,
    ));
    assert_eq!(count(&leader, &fresh).await, acked);
    let leader_status = status(&leader, &fresh).await.unwrap();
    let t0 = Instant::now();
    loop {
        let s = status(&g.addrs[3], &fresh).await;
        if let Ok(s) = &s
            && s.applied_index >= leader_status.applied_index
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "replica 4 did not catch up: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop(g.nodes).await;
}

async fn stop(nodes: Vec<Running>) {
    for mut n in nodes {
        let _ = n.stop.take().unwrap().send(());
        let _ = n.task.await;
    }
}

/// Clients check a replica by identity, not by address: a certificate of the CA whose
/// role is not storage is refused, one of role storage answers even when none of its
/// names is the address dialled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_accept_replicas_by_role_not_by_name() {
    let pki = pki();
    let client = identity(issue(pki, "byrole-query", Some(Role::Query), false));
    for (name, role, answers) in [
        ("byrole-impostor", Role::Scraper, false),
        ("byrole-replica", Role::Storage, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (mut listeners, addrs, peers) = group_of(1, 1).await;
        pki.issue(name, &["elsewhere.example"], &[&role.uri()], false);
        let paths = TlsPaths {
            ca: pki.path("ca.pem"),
            cert: pki.path(&format!("{name}.pem")),
            key: pki.path(&format!("{name}-key.pem")),
        };
        let server = Arc::new(ServerTls::new(Source::Files(paths)).unwrap());
        let node = start_tls(
            dir.path(),
            1,
            &peers,
            None,
            listeners.pop().unwrap(),
            Some(server),
        )
        .await;
        let answer = status(&addrs[0], &client).await;
        assert_eq!(answer.is_ok(), answers, "{name}: {answer:?}");
        if let Err(e) = answer {
            assert!(refused(&e), "{e:?}");
        }
        stop(vec![node]).await;
    }
}
