//! `dev-cluster --grpc-tls`: a CA kept in `DATA_DIR/tls/` (made at the first start, reused
//! after), and certificates issued at every start from it, as the operator issues them:
//! one per replica (role storage, for 127.0.0.1) and the dev cluster's own (role
//! operator: it writes, reads and changes voters).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use telltale_operator::pki::{CertificateAuthority, Leaf};
use telltale_storage_api::tls::{Role, TlsPaths};

/// How long the certificates of a dev cluster live.
const LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

pub(super) struct DevPki {
    dir: PathBuf,
    ca: CertificateAuthority,
}

impl DevPki {
    /// The CA of `data_dir/tls/` (`ca.crt`, `ca.key`), made if there is none.
    pub fn open(data_dir: &Path) -> anyhow::Result<DevPki> {
        let dir = data_dir.join("tls");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let (cert, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        let ca = if cert.exists() && key.exists() {
            let read = |p: &Path| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            };
            CertificateAuthority::from_pem(&read(&cert)?, &read(&key)?)
                .with_context(|| format!("the CA in {}", dir.display()))?
        } else {
            let ca = CertificateAuthority::generate("dev-cluster", SystemTime::now())?;
            write(&cert, ca.cert_pem())?;
            write(&key, ca.key_pem())?;
            ca
        };
        Ok(DevPki { dir, ca })
    }

    /// A new certificate `name.crt` / `name.key` of `role`; a server one answers to
    /// 127.0.0.1.
    pub fn issue(&self, name: &str, role: Role, server: bool) -> anyhow::Result<TlsPaths> {
        let leaf = Leaf {
            role,
            common_name: name.to_string(),
            dns_names: if server {
                vec!["127.0.0.1".into(), "localhost".into()]
            } else {
                Vec::new()
            },
            server,
        };
        let issued = self.ca.issue(&leaf, LIFETIME, SystemTime::now())?;
        let paths = TlsPaths {
            ca: self.dir.join("ca.crt"),
            cert: self.dir.join(format!("{name}.crt")),
            key: self.dir.join(format!("{name}.key")),
        };
        write(&paths.cert, &issued.cert_pem)?;
        write(&paths.key, &issued.key_pem)?;
        Ok(paths)
    }
}

/// Writes `text` to `path` readable by its owner only (keys).
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The flags that give a replica process its identity.
pub(super) fn flags(paths: &TlsPaths) -> Vec<String> {
    vec![
        "--grpc.tls-ca-file".into(),
        paths.ca.display().to_string(),
        "--grpc.tls-cert-file".into(),
        paths.cert.display().to_string(),
        "--grpc.tls-key-file".into(),
        paths.key.display().to_string(),
    ]
}
