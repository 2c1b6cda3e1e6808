//! Kafka's Java client security keys (`security.protocol`, `sasl.*`,
//! `ssl.*`), as a Kafka Connect worker file or connector override writes
//! them, translated into librdkafka's: SASL PLAIN and SCRAM (from
//! `sasl.jaas.config`), TLS with PEM files or PEM text, and PKCS#12 key
//! stores. What only the JVM can do (JKS stores, Kerberos, the JVM's TLS
//! tuning) is refused with a message saying what to use instead. Keys that
//! are not about security pass through unchanged, and librdkafka's own
//! names for the same settings are accepted as they are.

use std::collections::BTreeMap;
use std::path::Path;

use crate::configdef::ConfigError;

/// Whether `key` (without any `producer.`-like prefix) is a client
/// security key this module translates.
pub fn is_security_key(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("sasl.") || key.starts_with("ssl.")
}

/// librdkafka's own names, accepted unchanged.
const LIBRDKAFKA_NAMES: &[&str] = &[
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.keystore.password",
];

/// Java-only keys, with what to do instead.
const JAVA_ONLY: &[(&str, &str)] = &[
    (
        "ssl.protocol",
        "librdkafka negotiates TLS 1.2 or 1.3 by itself: remove the key",
    ),
    (
        "ssl.enabled.protocols",
        "librdkafka negotiates TLS 1.2 or 1.3 by itself: remove the key",
    ),
    (
        "ssl.cipher.suites",
        "Java's cipher names are not OpenSSL's: remove the key, or set librdkafka's \
         ssl.cipher.suites through the client's own name with OpenSSL names",
    ),
    ("ssl.provider", "a JVM security provider: remove the key"),
    ("ssl.keymanager.algorithm", "a JVM setting: remove the key"),
    (
        "ssl.trustmanager.algorithm",
        "a JVM setting: remove the key",
    ),
    (
        "ssl.secure.random.implementation",
        "a JVM setting: remove the key",
    ),
    ("ssl.engine.factory.class", "a JVM class: remove the key"),
    (
        "sasl.kerberos.service.name",
        "Kerberos (GSSAPI) is not supported: use SASL PLAIN or SCRAM",
    ),
    (
        "sasl.login.callback.handler.class",
        "a JVM class: use SASL PLAIN or SCRAM with sasl.jaas.config",
    ),
    (
        "sasl.client.callback.handler.class",
        "a JVM class: use SASL PLAIN or SCRAM with sasl.jaas.config",
    ),
    (
        "sasl.login.class",
        "a JVM class: use SASL PLAIN or SCRAM with sasl.jaas.config",
    ),
];

/// Translates the client keys of `map` (one client's, prefix removed).
/// Problems are pushed to `errors`, naming `prefix` + the key.
pub fn translate(
    map: &BTreeMap<String, String>,
    prefix: &str,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let named = |key: &str| format!("{prefix}{key}");
    let get = |key: &str| map.get(key).map(|v| v.trim());
    for (key, value) in map {
        if !is_security_key(key) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let value = value.trim();
        let mut set = |k: &str, v: &str| {
            out.insert(k.to_string(), v.to_string());
        };
        match key.as_str() {
            "security.protocol" => {
                let upper = value.to_ascii_uppercase();
                if ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"].contains(&upper.as_str()) {
                    set(key, &upper);
                } else {
                    errors.push(ConfigError::invalid(
                        &named(key),
                        value,
                        "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                    ));
                }
            }
            "sasl.mechanism" => match value {
                "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => set("sasl.mechanisms", value),
                other => errors.push(ConfigError::invalid(
                    &named(key),
                    other,
                    "Sluice's Kafka client supports PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512",
                )),
            },
            "sasl.jaas.config" => match jaas_credentials(value) {
                Ok((user, password)) => {
                    set("sasl.username", &user);
                    set("sasl.password", &password);
                }
                Err(reason) => errors.push(ConfigError::invalid(&named(key), "[hidden]", reason)),
            },
            "ssl.endpoint.identification.algorithm" => match value.to_ascii_lowercase().as_str() {
                "https" => set(key, "https"),
                "" | "none" => set(key, "none"),
                _ => errors.push(ConfigError::invalid(
                    &named(key),
                    value,
                    "expected https, or empty to turn host name checks off",
                )),
            },
            "ssl.truststore.location" => match store_type(get("ssl.truststore.type"), value) {
                Ok(StoreType::Pem) => set("ssl.ca.location", value),
                Ok(other) => errors.push(ConfigError::invalid(
                    &named(key),
                    value,
                    format!(
                        "a {} trust store cannot be read by librdkafka: convert it to a PEM file \
                         of CA certificates (keytool -exportcert -rfc, or openssl pkcs12 \
                         -nokeys) and set ssl.truststore.type=PEM",
                        other.name()
                    ),
                )),
                Err(reason) => errors.push(ConfigError::invalid(&named(key), value, reason)),
            },
            "ssl.truststore.certificates" => set("ssl.ca.pem", value),
            "ssl.keystore.location" => match store_type(get("ssl.keystore.type"), value) {
                // One PEM file with the certificate chain and the key, as
                // Kafka reads it: OpenSSL picks each out of the same file.
                Ok(StoreType::Pem) => {
                    set("ssl.certificate.location", value);
                    set("ssl.key.location", value);
                }
                Ok(StoreType::Pkcs12) => set("ssl.keystore.location", value),
                Ok(StoreType::Jks) => errors.push(ConfigError::invalid(
                    &named(key),
                    value,
                    "a JKS key store cannot be read by librdkafka: convert it to PKCS12 \
                     (keytool -importkeystore -deststoretype PKCS12) or PEM and set \
                     ssl.keystore.type",
                )),
                Err(reason) => errors.push(ConfigError::invalid(&named(key), value, reason)),
            },
            "ssl.keystore.certificate.chain" => set("ssl.certificate.pem", value),
            "ssl.keystore.key" => set("ssl.key.pem", value),
            "ssl.keystore.password" => {
                // A PEM key store has no password of its own (its key's is
                // ssl.key.password); a PKCS#12 one does.
                if store_type(
                    get("ssl.keystore.type"),
                    get("ssl.keystore.location").unwrap_or(""),
                ) == Ok(StoreType::Pkcs12)
                {
                    set(key, value);
                }
            }
            // A PEM trust store has no password; the types are read with
            // the locations above.
            "ssl.truststore.password" | "ssl.truststore.type" | "ssl.keystore.type" => {}
            // The REST listener's (config/listeners.rs), not a client's.
            "ssl.client.auth" => {}
            _ if LIBRDKAFKA_NAMES.contains(&key.as_str()) => set(key, value),
            _ => {
                let reason = JAVA_ONLY
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, why)| why.to_string())
                    .unwrap_or_else(|| {
                        "not a client security key Sluice knows: it takes security.protocol, \
                         sasl.mechanism, sasl.jaas.config (PLAIN or SCRAM), ssl.truststore.*, \
                         ssl.keystore.*, ssl.key.password and \
                         ssl.endpoint.identification.algorithm"
                            .to_string()
                    });
                errors.push(ConfigError::invalid(&named(key), value, reason));
            }
        }
    }
    out
}

/// A key or trust store's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreType {
    Pem,
    Pkcs12,
    Jks,
}

impl StoreType {
    fn name(self) -> &'static str {
        match self {
            StoreType::Pem => "PEM",
            StoreType::Pkcs12 => "PKCS12",
            StoreType::Jks => "JKS",
        }
    }
}

/// The store's type as configured; when not configured (Java would assume
/// JKS), a file that starts as PEM text is taken as PEM.
fn store_type(configured: Option<&str>, location: &str) -> Result<StoreType, String> {
    match configured.map(str::to_ascii_uppercase).as_deref() {
        Some("PEM") => Ok(StoreType::Pem),
        Some("PKCS12") => Ok(StoreType::Pkcs12),
        Some("JKS") => Ok(StoreType::Jks),
        Some(other) => Err(format!("the store type {other} is not PEM, PKCS12 or JKS")),
        None => {
            let mut start = [0u8; 64];
            let read = std::fs::File::open(Path::new(location))
                .and_then(|mut f| std::io::Read::read(&mut f, &mut start))
                .unwrap_or(0);
            if String::from_utf8_lossy(&start[..read]).contains("-----BEGIN") {
                Ok(StoreType::Pem)
            } else {
                Ok(StoreType::Jks)
            }
        }
    }
}

/// The user name and password of a PLAIN or SCRAM `sasl.jaas.config`:
/// `<LoginModule> required username="..." password="...";`.
fn jaas_credentials(jaas: &str) -> Result<(String, String), String> {
    let supported = "only org.apache.kafka.common.security.plain.PlainLoginModule and \
                     org.apache.kafka.common.security.scram.ScramLoginModule are supported";
    let (module, rest) = jaas.split_once(char::is_whitespace).ok_or_else(|| {
        format!("expected '<LoginModule> required username=\"...\" password=\"...\";': {supported}")
    })?;
    if !module.ends_with("PlainLoginModule") && !module.ends_with("ScramLoginModule") {
        return Err(format!(
            "the login module {module} is not supported: {supported}"
        ));
    }
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix("required")
        .ok_or("expected \"required\" after the login module")?;
    let mut options = BTreeMap::new();
    let mut chars = rest.trim().trim_end_matches(';').trim().chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let name: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if name.is_empty() {
            break;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("expected = after the option {name}"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let value = if chars.next_if_eq(&'"').is_some() {
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of {name} is not closed with \"")),
                }
            }
            value
        } else {
            std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect()
        };
        options.insert(name, value);
    }
    match (options.remove("username"), options.remove("password")) {
        (Some(user), Some(password)) => Ok((user, password)),
        _ => Err("it must set username and password".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configdef::map;

    fn translated(pairs: &[(&str, &str)]) -> Result<BTreeMap<String, String>, String> {
        let mut errors = Vec::new();
        let out = translate(&map(pairs), "producer.", &mut errors);
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }

    #[test]
    fn sasl_scram_over_tls_as_kafka_writes_it() {
        let out = translated(&[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required \
                 username=\"connect\" password=\"p\\\"w d\";",
            ),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.location", "/etc/kafka/ca.pem"),
            ("ssl.endpoint.identification.algorithm", ""),
            ("linger.ms", "5"),
        ])
        .unwrap();
        assert_eq!(
            out,
            map(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "SCRAM-SHA-512"),
                ("sasl.username", "connect"),
                ("sasl.password", "p\"w d"),
                ("ssl.ca.location", "/etc/kafka/ca.pem"),
                ("ssl.endpoint.identification.algorithm", "none"),
                ("linger.ms", "5"),
            ])
        );
    }

    #[test]
    fn pem_and_pkcs12_key_stores_translate() {
        let pem = translated(&[
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.location", "/etc/kafka/client.pem"),
            ("ssl.key.password", "k"),
            ("ssl.keystore.password", "unused-for-pem"),
        ])
        .unwrap();
        assert_eq!(pem["ssl.certificate.location"], "/etc/kafka/client.pem");
        assert_eq!(pem["ssl.key.location"], "/etc/kafka/client.pem");
        assert_eq!(pem["ssl.key.password"], "k");
        assert!(!pem.contains_key("ssl.keystore.password"));
        let p12 = translated(&[
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.location", "/etc/kafka/client.p12"),
            ("ssl.keystore.password", "s"),
        ])
        .unwrap();
        assert_eq!(p12["ssl.keystore.location"], "/etc/kafka/client.p12");
        assert_eq!(p12["ssl.keystore.password"], "s");
    }

    #[test]
    fn what_only_the_jvm_can_do_is_refused_with_what_to_do_instead() {
        let jks =
            translated(&[("ssl.truststore.location", "/nonexistent/truststore.jks")]).unwrap_err();
        assert!(
            jks.contains("\"producer.ssl.truststore.location\"")
                && jks.contains("convert it to a PEM"),
            "{jks}"
        );
        let kerberos = translated(&[
            ("sasl.mechanism", "GSSAPI"),
            (
                "sasl.jaas.config",
                "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
            ),
        ])
        .unwrap_err();
        assert!(kerberos.contains("PLAIN, SCRAM-SHA-256"), "{kerberos}");
        assert!(
            kerberos.contains("Krb5LoginModule is not supported")
                && !kerberos.contains("useKeyTab"),
            "the JAAS text may hold a secret, so it is not shown: {kerberos}"
        );
        let tuning = translated(&[("ssl.enabled.protocols", "TLSv1.2")]).unwrap_err();
        assert!(tuning.contains("negotiates TLS 1.2 or 1.3"), "{tuning}");
    }
}
