//! The security of the group membership connection (`membership`), from
//! the worker's client keys as config/client_security.rs has already put
//! them in librdkafka's names: TLS with PEM files (rustls), SASL PLAIN, and
//! SASL SCRAM-SHA-256/512 (RFC 5802) spoken through the broker's
//! SaslHandshake and SaslAuthenticate, so a cluster joins a broker that
//! only takes SASL_SSL the way its connectors' clients do.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SecureRandom;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::ring as ring_provider;
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// How the membership connection is secured: nothing (PLAINTEXT), TLS,
/// SASL, or both.
#[derive(Clone, Default)]
pub struct LinkSecurity {
    pub tls: Option<Arc<ClientConfig>>,
    pub sasl: Option<SaslCredentials>,
}

impl fmt::Debug for LinkSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkSecurity")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

/// A SASL mechanism and its credentials.
#[derive(Clone)]
pub struct SaslCredentials {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SaslCredentials {
    // The password never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslCredentials")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl LinkSecurity {
    /// Reads `security.protocol`, `sasl.*` and `ssl.*` from a client's
    /// settings in librdkafka's names (the worker's admin client's, which
    /// hold the worker-level keys). An error names the key.
    pub fn from_client_settings(settings: &BTreeMap<String, String>) -> Result<LinkSecurity> {
        let get = |key: &str| {
            settings
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let protocol = get("security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_uppercase();
        let (tls, sasl) = match protocol.as_str() {
            "PLAINTEXT" => (false, false),
            "SSL" => (true, false),
            "SASL_PLAINTEXT" => (false, true),
            "SASL_SSL" => (true, true),
            other => bail!(
                "security.protocol={other}: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
            ),
        };
        let sasl = if sasl {
            let mechanism = match get("sasl.mechanisms").unwrap_or("GSSAPI") {
                "PLAIN" => SaslMechanism::Plain,
                "SCRAM-SHA-256" => SaslMechanism::ScramSha256,
                "SCRAM-SHA-512" => SaslMechanism::ScramSha512,
                other => bail!(
                    "sasl.mechanism={other}: a distributed worker's group membership takes PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
                ),
            };
            let username = get("sasl.username")
                .context("sasl.jaas.config: SASL needs a user name (username=\"...\")")?;
            let password = settings
                .get("sasl.password")
                .context("sasl.jaas.config: SASL needs a password (password=\"...\")")?;
            Some(SaslCredentials {
                mechanism,
                username: username.to_string(),
                password: password.clone(),
            })
        } else {
            None
        };
        let tls = if tls {
            Some(Arc::new(tls_config(settings)?))
        } else {
            None
        };
        Ok(LinkSecurity { tls, sasl })
    }
}

/// rustls' client settings: the CA certificates to trust (`ssl.ca.location`
/// or `ssl.ca.pem`, else the Mozilla roots), the client certificate and key
/// for mutual TLS, and whether the broker's name is checked
/// (`ssl.endpoint.identification.algorithm`, on unless `none`).
fn tls_config(settings: &BTreeMap<String, String>) -> Result<ClientConfig> {
    let get = |key: &str| {
        settings
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut roots = RootCertStore::empty();
    let pem: Option<Vec<u8>> = match (get("ssl.ca.location"), get("ssl.ca.pem")) {
        (Some(path), _) => Some(
            std::fs::read(path)
                .with_context(|| format!("ssl.truststore.location: reading {path}"))?,
        ),
        (None, Some(text)) => Some(text.as_bytes().to_vec()),
        (None, None) => None,
    };
    match pem {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.context("ssl.truststore: not PEM certificates")?;
                roots
                    .add(cert)
                    .context("ssl.truststore: a certificate rustls cannot use")?;
            }
            ensure!(!roots.is_empty(), "ssl.truststore: no certificate in it");
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let provider = Arc::new(ring_provider::default_provider());
    let roots = Arc::new(roots);
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .context("TLS versions")?;
    let builder = if get("ssl.endpoint.identification.algorithm") == Some("none") {
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .context("ssl.truststore")?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
    } else {
        builder.with_root_certificates(roots)
    };
    let config = match (get("ssl.certificate.location"), get("ssl.key.location")) {
        (Some(cert_path), Some(key_path)) => {
            let certs = CertificateDer::pem_file_iter(cert_path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    anyhow!("ssl.keystore.location: reading certificates from {cert_path}: {e}")
                })?;
            let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
                anyhow!("ssl.keystore.location: reading the key from {key_path}: {e}")
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .context("ssl.keystore: the certificate and key do not go together")?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// Checks the broker's certificate chain but not its name
/// (`ssl.endpoint.identification.algorithm=` empty), as Kafka's clients
/// allow.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// SASL PLAIN's one message: no authorization id, the user, the password.
pub fn plain_message(credentials: &SaslCredentials) -> Vec<u8> {
    format!("\0{}\0{}", credentials.username, credentials.password).into_bytes()
}

/// The client side of a SCRAM exchange (RFC 5802, without channel
/// binding, as Kafka speaks it): client-first, then client-final from the
/// server's first message, then the server's signature checked.
pub struct ScramClient {
    mechanism: SaslMechanism,
    password: String,
    nonce: String,
    client_first_bare: String,
    /// The server signature the final message must carry.
    expected_server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// A new exchange with a fresh random nonce.
    pub fn new(credentials: &SaslCredentials) -> Result<ScramClient> {
        let mut random = [0u8; 18];
        ring::rand::SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| anyhow!("no randomness for the SCRAM nonce"))?;
        Ok(Self::with_nonce(credentials, &BASE64.encode(random)))
    }

    fn with_nonce(credentials: &SaslCredentials, nonce: &str) -> ScramClient {
        // `=` and `,` are escaped in SCRAM user names.
        let user = credentials.username.replace('=', "=3D").replace(',', "=2C");
        ScramClient {
            mechanism: credentials.mechanism,
            password: credentials.password.clone(),
            nonce: nonce.to_string(),
            client_first_bare: format!("n={user},r={nonce}"),
            expected_server_signature: None,
        }
    }

    pub fn client_first(&self) -> Vec<u8> {
        format!("n,,{}", self.client_first_bare).into_bytes()
    }

    /// The client's final message, from the server's first.
    pub fn client_final(&mut self, server_first: &[u8]) -> Result<Vec<u8>> {
        let server_first =
            std::str::from_utf8(server_first).context("the server's SCRAM message is not text")?;
        let field = |name: &str| {
            server_first
                .split(',')
                .find_map(|part| part.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                .with_context(|| {
                    format!("the server's SCRAM message has no {name}: {server_first}")
                })
        };
        let nonce = field("r")?;
        ensure!(
            nonce.starts_with(&self.nonce),
            "the server's SCRAM nonce does not extend this client's"
        );
        let salt = BASE64
            .decode(field("s")?)
            .context("the server's SCRAM salt is not base64")?;
        let iterations: u32 = field("i")?
            .parse()
            .context("the server's SCRAM iteration count")?;
        ensure!(iterations > 0, "the server asked for 0 SCRAM iterations");
        let (hmac, pbkdf2, digest, length) = match self.mechanism {
            SaslMechanism::ScramSha512 => (
                ring::hmac::HMAC_SHA512,
                ring::pbkdf2::PBKDF2_HMAC_SHA512,
                &ring::digest::SHA512,
                64,
            ),
            _ => (
                ring::hmac::HMAC_SHA256,
                ring::pbkdf2::PBKDF2_HMAC_SHA256,
                &ring::digest::SHA256,
                32,
            ),
        };
        let mut salted = vec![0u8; length];
        ring::pbkdf2::derive(
            pbkdf2,
            std::num::NonZeroU32::new(iterations).expect("checked above"),
            &salt,
            self.password.as_bytes(),
            &mut salted,
        );
        let salted_key = ring::hmac::Key::new(hmac, &salted);
        let client_key = ring::hmac::sign(&salted_key, b"Client Key");
        let stored_key = ring::digest::digest(digest, client_key.as_ref());
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = ring::hmac::sign(
            &ring::hmac::Key::new(hmac, stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(client_signature.as_ref())
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = ring::hmac::sign(&salted_key, b"Server Key");
        let server_signature = ring::hmac::sign(
            &ring::hmac::Key::new(hmac, server_key.as_ref()),
            auth_message.as_bytes(),
        );
        self.expected_server_signature = Some(server_signature.as_ref().to_vec());
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks the server's final message: an error it sent, or a signature
    /// that proves it knew the password too.
    pub fn verify_server_final(&self, server_final: &[u8]) -> Result<()> {
        let text = String::from_utf8_lossy(server_final);
        if let Some(error) = text.strip_prefix("e=") {
            bail!("the broker refused the SCRAM credentials: {error}");
        }
        let signature = text
            .strip_prefix("v=")
            .and_then(|v| BASE64.decode(v.trim()).ok())
            .with_context(|| {
                format!("the broker's final SCRAM message is not a signature: {text}")
            })?;
        ensure!(
            Some(&signature) == self.expected_server_signature.as_ref(),
            "the broker's SCRAM signature is wrong: it does not know this user's password"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(mechanism: SaslMechanism, user: &str, password: &str) -> SaslCredentials {
        SaslCredentials {
            mechanism,
            username: user.into(),
            password: password.into(),
        }
    }

    /// RFC 7677's example exchange for SCRAM-SHA-256.
    #[test]
    fn scram_sha_256_matches_rfc_7677() {
        let mut client = ScramClient::with_nonce(
            &credentials(SaslMechanism::ScramSha256, "user", "pencil"),
            "rOprNGfwEbeRWgbNEkqO",
        );
        assert_eq!(client.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let client_final = client.client_final(server_first).unwrap();
        assert_eq!(
            String::from_utf8(client_final).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        client
            .verify_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        let forged = client
            .verify_server_final(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err();
        assert!(
            forged.to_string().contains("signature is wrong"),
            "{forged}"
        );
        let refused = client.verify_server_final(b"e=invalid-proof").unwrap_err();
        assert!(refused.to_string().contains("invalid-proof"), "{refused}");
    }

    #[test]
    fn a_server_nonce_that_does_not_extend_ours_is_refused() {
        let mut client =
            ScramClient::with_nonce(&credentials(SaslMechanism::ScramSha512, "u", "p"), "abc");
        let error = client.client_final(b"r=xyz,s=AAAA,i=4096").unwrap_err();
        assert!(error.to_string().contains("nonce"), "{error}");
    }

    #[test]
    fn plain_and_scram_names_escape_as_the_rfcs_say() {
        let creds = credentials(SaslMechanism::Plain, "a=b,c", "pw");
        assert_eq!(plain_message(&creds), b"\0a=b,c\0pw");
        let client = ScramClient::with_nonce(&creds, "n0");
        assert_eq!(client.client_first(), b"n,,n=a=3Db=2Cc,r=n0");
    }

    #[test]
    fn the_worker_keys_choose_the_security() {
        let settings = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let plain = LinkSecurity::from_client_settings(&settings(&[])).unwrap();
        assert!(plain.tls.is_none() && plain.sasl.is_none());
        let sasl = LinkSecurity::from_client_settings(&settings(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "w"),
            ("sasl.password", "pw"),
        ]))
        .unwrap();
        let creds = sasl.sasl.unwrap();
        assert_eq!(creds.mechanism, SaslMechanism::ScramSha512);
        assert!(!format!("{creds:?}").contains("pw"));
        let tls =
            LinkSecurity::from_client_settings(&settings(&[("security.protocol", "SSL")])).unwrap();
        assert!(tls.tls.is_some(), "the Mozilla roots when no CA is given");
        let missing_ca = LinkSecurity::from_client_settings(&settings(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", "/nonexistent/ca.pem"),
        ]))
        .err()
        .unwrap();
        assert!(
            format!("{missing_ca:#}").contains("ssl.truststore.location"),
            "{missing_ca:#}"
        );
        let gssapi =
            LinkSecurity::from_client_settings(&settings(&[("security.protocol", "SASL_SSL")]))
                .err()
                .unwrap();
        assert!(
            gssapi.to_string().contains("sasl.mechanism=GSSAPI"),
            "{gssapi}"
        );
    }
}
