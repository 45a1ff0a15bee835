//! From `[nats]` in sekia.toml to the bus crate's connection settings.

use sekia_bus::{NatsConfig, TlsConfig};

use crate::config::Config;

pub fn nats_config(config: &Config) -> NatsConfig {
    let n = &config.nats;
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let path = |p: &std::path::Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
    NatsConfig {
        token: some(n.token.expose()),
        user: some(&n.user),
        password: some(n.password.expose()),
        tls: TlsConfig {
            required: n.tls_required,
            ca_file: path(&n.tls_ca_file),
            cert_file: path(&n.tls_cert_file),
            key_file: path(&n.tls_key_file),
        },
        name: "sekiad".into(),
        ..NatsConfig::new(n.url.clone())
    }
}
