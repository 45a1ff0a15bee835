//! NatsBus over TLS against a real nats-server with a certificate from a throw-away CA
//! (made with openssl): the CA file is honoured, an unknown issuer is refused, and
//! `tls_required` refuses a server without TLS.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use sekia_bus::testing::NatsServer;
use sekia_bus::{Bus, NatsBus, NatsConfig, TlsConfig};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sekia test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "san.ext",
        ],
    );
}

fn config(url: String, ca: Option<&Path>) -> NatsConfig {
    NatsConfig {
        tls: TlsConfig {
            required: true,
            ca_file: ca.map(Path::to_path_buf),
            ..TlsConfig::default()
        },
        connect_timeout: Duration::from_secs(2),
        ..NatsConfig::new(url)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_configured_ca_works_and_unknown_issuer_is_refused() {
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let cert = certs.path().join("server.pem");
    let key = certs.path().join("server.key");
    let server = NatsServer::start_with_args([
        "--tls",
        "--tlscert",
        cert.to_str().unwrap(),
        "--tlskey",
        key.to_str().unwrap(),
    ])
    .expect("nats-server with TLS");
    let url = format!("tls://127.0.0.1:{}", server.port());

    let bus = NatsBus::connect(config(url.clone(), Some(&certs.path().join("ca.pem"))))
        .await
        .expect("TLS connect with our CA");
    assert!(bus.stats().connected);
    let mut sub = bus.subscribe("sekia.events.tls").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            bus.publish("sekia.events.tls", Bytes::from_static(b"over tls"))
                .await
                .unwrap();
            if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {
                return m.payload;
            }
        }
    })
    .await
    .expect("a message over TLS");
    assert_eq!(&got[..], b"over tls");
    bus.close().await.unwrap();

    // Without our CA the server's certificate is from an unknown issuer.
    assert!(
        NatsBus::connect(config(url, None)).await.is_err(),
        "an untrusted certificate must be refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_refuses_a_plain_server() {
    let server = NatsServer::start().expect("nats-server");
    let err = NatsBus::connect(config(server.url(), None)).await;
    assert!(
        err.is_err(),
        "tls_required must not fall back to plain text"
    );
}
