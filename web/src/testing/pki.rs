//! [`Pki`]: test certificates made with rcgen for each test, shared by
//! the tests of the web servers, the scraper's secured targets and the receivers.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A CA, a server certificate for 127.0.0.1/localhost and client certificates signed by
/// it, and a second CA with its own client and server certificates, as PEM files in a
/// temporary directory:
///
/// `ca.pem`, `server.pem`/`server-key.pem`, `client.pem`/`client-key.pem` (SAN
/// `client.example`), `intruder.pem`/`intruder-key.pem` (same CA, SAN `intruder.example`),
/// `other-ca.pem`, `other-client.pem`/`-key.pem`, `other-server.pem`/`-key.pem`.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    /// Panics when the temporary directory or a certificate cannot be made (tests only).
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pki = Pki { dir };
        let (ca_pem, first) = ca("telltale test CA");
        pki.write("ca.pem", &ca_pem);
        pki.leaf(&first, "server", &["127.0.0.1", "localhost"], false);
        pki.leaf(&first, "client", &["client.example"], true);
        pki.leaf(&first, "intruder", &["intruder.example"], true);
        let (other_pem, other) = ca("another CA");
        pki.write("other-ca.pem", &other_pem);
        pki.leaf(&other, "other-client", &["client.example"], true);
        pki.leaf(&other, "other-server", &["127.0.0.1", "localhost"], false);
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("a file of the test PKI")
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("writable test directory");
        p
    }

    fn leaf(&self, issuer: &Issuer<'static, KeyPair>, name: &str, sans: &[&str], client: bool) {
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("valid SANs");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, issuer)
            .expect("a signed certificate");
        self.write(&format!("{name}.pem"), &cert.pem());
        self.write(&format!("{name}-key.pem"), &key.serialize_pem());
    }

    /// A web configuration file `web.yml` with `text`; paths in it are relative to the
    /// directory of the certificates.
    pub fn web_config(&self, text: &str) -> PathBuf {
        self.write("web.yml", text)
    }

    /// A reqwest client that trusts `ca` (a file of this directory; none: only the
    /// built-in roots are off too, so nothing is trusted) and presents `identity`
    /// (`client` → `client.pem` + `client-key.pem`). No connection pool: each request
    /// makes a new connection, as the reload tests need.
    pub fn client(&self, ca: Option<&str>, identity: Option<&str>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .pool_max_idle_per_host(0)
            .no_proxy();
        if let Some(ca) = ca {
            b = b.add_root_certificate(
                reqwest::Certificate::from_pem(&self.read(ca)).expect("a PEM CA"),
            );
        }
        if let Some(id) = identity {
            let mut pem = self.read(&format!("{id}.pem"));
            pem.extend(self.read(&format!("{id}-key.pem")));
            b = b.identity(reqwest::Identity::from_pem(&pem).expect("a PEM identity"));
        }
        b.build().expect("a test client")
    }
}

impl Default for Pki {
    fn default() -> Self {
        Pki::new()
    }
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::CrlSign,
    ];
    let key = KeyPair::generate().expect("a key");
    let cert = params.self_signed(&key).expect("a self-signed CA");
    (cert.pem(), Issuer::new(params, key))
}
