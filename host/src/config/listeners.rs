//! The REST API's listeners as Kafka Connect configures them: `listeners`
//! (`HTTP://:8083,HTTPS://:8443`, any case, an empty host meaning every
//! interface), and for an https one its certificate chain and key from
//! `listeners.https.ssl.*`, or else the worker-level `ssl.keystore.*` keys,
//! as Kafka Connect falls back to them. Certificates and keys are PEM (a
//! file, or the text in the key itself); what only a JVM reads (JKS,
//! PKCS#12 stores, encrypted keys) is refused with what to do instead.

use std::collections::BTreeMap;
use std::fmt;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::configdef::ConfigError;

/// `listeners`.
pub const LISTENERS_KEY: &str = "listeners";
/// The https listener's own TLS keys.
pub const HTTPS_PREFIX: &str = "listeners.https.";

/// The https listener's keys, after `listeners.https.` (or, as a fallback,
/// at the worker's top level).
const HTTPS_KEYS: &[&str] = &[
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.key.password",
    "ssl.client.auth",
    // What a worker trusts when it forwards a request to another worker's
    // https listener (Kafka Connect's REST client reads the same keys).
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
];

/// One REST listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub https: bool,
    /// `host:port` to bind.
    pub address: String,
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.address)
    }
}

/// The certificate chain and private key an https listener presents, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct RestTls {
    pub certificate_chain: Vec<u8>,
    pub private_key: Vec<u8>,
    /// PEM CA certificates trusted when forwarding to another worker's
    /// https listener; `None`: the Mozilla roots.
    pub trusted: Option<Vec<u8>>,
}

impl fmt::Debug for RestTls {
    // The key never reaches a log line, even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RestTls")
            .field("certificate_chain", &self.certificate_chain.len())
            .field("private_key", &"[hidden]")
            .finish()
    }
}

impl RestTls {
    /// The chain and key in rustls's types.
    pub fn parsed(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
        let chain = CertificateDer::pem_slice_iter(&self.certificate_chain)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("the certificate chain is not PEM: {e}"))?;
        if chain.is_empty() {
            return Err("the certificate chain holds no CERTIFICATE".into());
        }
        let key = PrivateKeyDer::from_pem_slice(&self.private_key).map_err(|e| {
            if String::from_utf8_lossy(&self.private_key).contains("ENCRYPTED PRIVATE KEY") {
                "the private key is encrypted, which Sluice does not read: decrypt it \
                 (openssl pkey -in key.pem -out plain.pem) and keep the file readable by \
                 the worker alone"
                    .to_string()
            } else {
                format!("no PEM private key found: {e}")
            }
        })?;
        Ok((chain, key))
    }
}

/// Reads `listeners` (default `http://127.0.0.1:8083`) and, when one is
/// https, its TLS keys.
pub fn read(
    map: &BTreeMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> (Vec<Listener>, Option<RestTls>) {
    let listeners: Vec<Listener> = match map.get(LISTENERS_KEY) {
        None => vec![Listener {
            https: false,
            address: "127.0.0.1:8083".into(),
        }],
        Some(value) => crate::configdef::list(value)
            .iter()
            .filter_map(|item| {
                parse_listener(item)
                    .map_err(|reason| {
                        errors.push(ConfigError::invalid(LISTENERS_KEY, value, reason))
                    })
                    .ok()
            })
            .collect(),
    };
    if listeners.is_empty() && errors.iter().all(|e| e.key() != LISTENERS_KEY) {
        errors.push(ConfigError::Missing(LISTENERS_KEY.into()));
    }
    for key in map.keys() {
        if let Some(rest) = key.strip_prefix(HTTPS_PREFIX)
            && !HTTPS_KEYS.contains(&rest)
        {
            let known: Vec<String> = HTTPS_KEYS
                .iter()
                .map(|k| format!("{HTTPS_PREFIX}{k}"))
                .collect();
            let known: Vec<&str> = known.iter().map(String::as_str).collect();
            errors.push(ConfigError::unknown(key, &known));
        }
    }
    let tls = if listeners.iter().any(|l| l.https) {
        https_keys(map, errors)
    } else {
        None
    };
    (listeners, tls)
}

/// One listener: `http://host:port` or `https://host:port`, the scheme in
/// any case, an empty host meaning every interface.
pub fn parse_listener(value: &str) -> Result<Listener, String> {
    let expected = "expected http://<host>:<port> or https://<host>:<port> (an empty host \
                    listens on every interface)";
    let (scheme, rest) = value.trim().split_once("://").ok_or(expected)?;
    let https = if scheme.eq_ignore_ascii_case("http") {
        false
    } else if scheme.eq_ignore_ascii_case("https") {
        true
    } else {
        return Err(format!("{expected}; the {scheme} scheme is not served"));
    };
    let (host, port) = rest
        .trim_end_matches('/')
        .rsplit_once(':')
        .ok_or(expected)?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{expected}; \"{port}\" is no port"))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(Listener {
        https,
        address: format!("{host}:{port}"),
    })
}

/// The https listener's certificate and key: `listeners.https.ssl.*`, else
/// the same keys at the top level.
fn https_keys(map: &BTreeMap<String, String>, errors: &mut Vec<ConfigError>) -> Option<RestTls> {
    let prefixed = HTTPS_KEYS
        .iter()
        .any(|k| map.contains_key(&format!("{HTTPS_PREFIX}{k}")));
    let prefix = if prefixed { HTTPS_PREFIX } else { "" };
    let key = |name: &str| format!("{prefix}{name}");
    let get = |name: &str| map.get(&key(name)).map(|v| v.trim().to_string());
    let before = errors.len();
    if let Some(kind) = get("ssl.keystore.type")
        && !kind.eq_ignore_ascii_case("PEM")
    {
        errors.push(ConfigError::invalid(
            &key("ssl.keystore.type"),
            &kind,
            "the REST listener reads PEM only: convert the store (openssl pkcs12 -nodes, or \
             keytool -importkeystore to PKCS12 first) and set ssl.keystore.type=PEM",
        ));
    }
    if let Some(auth) = get("ssl.client.auth")
        && !auth.eq_ignore_ascii_case("none")
    {
        errors.push(ConfigError::invalid(
            &key("ssl.client.auth"),
            &auth,
            "client certificates are not checked yet: use none, with rest.auth.* for callers",
        ));
    }
    let (chain, private_key) = match (
        get("ssl.keystore.location"),
        get("ssl.keystore.certificate.chain"),
        get("ssl.keystore.key"),
    ) {
        (Some(location), None, None) => match std::fs::read(&location) {
            Ok(pem) => (pem.clone(), pem),
            Err(e) => {
                errors.push(ConfigError::invalid(
                    &key("ssl.keystore.location"),
                    &location,
                    format!("cannot be read: {e}"),
                ));
                return None;
            }
        },
        (None, Some(chain), Some(private_key)) => (chain.into_bytes(), private_key.into_bytes()),
        _ => {
            errors.push(ConfigError::Missing(format!(
                "{} (a PEM file with the certificate chain and the key), or {} with {}, for the \
                 https listener",
                key("ssl.keystore.location"),
                key("ssl.keystore.certificate.chain"),
                key("ssl.keystore.key")
            )));
            return None;
        }
    };
    if let Some(kind) = get("ssl.truststore.type")
        && !kind.eq_ignore_ascii_case("PEM")
    {
        errors.push(ConfigError::invalid(
            &key("ssl.truststore.type"),
            &kind,
            "the REST client reads PEM only: export the CA certificates (keytool -exportcert \
             -rfc) and set ssl.truststore.type=PEM",
        ));
    }
    let trusted = match (
        get("ssl.truststore.location"),
        get("ssl.truststore.certificates"),
    ) {
        (Some(location), _) => match std::fs::read(&location) {
            Ok(pem) => Some(pem),
            Err(e) => {
                errors.push(ConfigError::invalid(
                    &key("ssl.truststore.location"),
                    &location,
                    format!("cannot be read: {e}"),
                ));
                None
            }
        },
        (None, Some(pem)) => Some(pem.into_bytes()),
        (None, None) => None,
    };
    let tls = RestTls {
        certificate_chain: chain,
        private_key,
        trusted,
    };
    if let Err(reason) = tls.parsed() {
        let named = if get("ssl.keystore.location").is_some() {
            key("ssl.keystore.location")
        } else {
            key("ssl.keystore.key")
        };
        errors.push(ConfigError::invalid(&named, "[PEM]", reason));
    }
    (errors.len() == before).then_some(tls)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map;

    #[test]
    fn kafkas_listener_spellings() {
        let one = |value: &str| parse_listener(value);
        assert_eq!(
            one("HTTP://:8083").unwrap(),
            Listener {
                https: false,
                address: "0.0.0.0:8083".into()
            }
        );
        assert_eq!(
            one("https://127.0.0.1:8443/").unwrap().to_string(),
            "https://127.0.0.1:8443"
        );
        assert!(one("ftp://:21").unwrap_err().contains("ftp scheme"));
        assert!(one("http://:eighty").is_err());
    }

    #[test]
    fn an_https_listener_needs_a_pem_certificate_and_key() {
        let mut errors = Vec::new();
        let (listeners, tls) = read(
            &map(&[("listeners", "HTTP://:8083,HTTPS://:8443")]),
            &mut errors,
        );
        assert_eq!(listeners.len(), 2);
        assert!(tls.is_none());
        let text = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("ssl.keystore.location"), "{text}");

        let mut errors = Vec::new();
        read(
            &map(&[
                ("listeners", "https://:8443"),
                ("listeners.https.ssl.keystore.type", "JKS"),
                (
                    "listeners.https.ssl.keystore.location",
                    "/nonexistent/keystore.jks",
                ),
                ("listeners.https.ssl.trustmanager.algorithm", "PKIX"),
            ]),
            &mut errors,
        );
        let keys: Vec<&str> = errors.iter().map(ConfigError::key).collect();
        assert_eq!(
            keys,
            [
                "listeners.https.ssl.trustmanager.algorithm",
                "listeners.https.ssl.keystore.type",
                "listeners.https.ssl.keystore.location",
            ],
            "{errors:?}"
        );
    }
}
