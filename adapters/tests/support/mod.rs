//! Shared pieces of the socket tests: certificates made at test time, server-side TLS, and
//! a blocking server stream for the loopback servers (std threads, one per connection).
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use adapters::net::tls::TlsRoots;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, ServerConfig, ServerConnection, StreamOwned};

/// A CA and the PEM of its certificate.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

/// A server certificate chain and key.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA cert");
        TestCa { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A leaf certificate valid for `names` (DNS names or IP literals).
    pub fn leaf(&self, names: &[&str]) -> ServerCert {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, "test server");
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    /// A client configuration that trusts only this CA.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        TlsRoots::empty()
            .add_pem(self.pem.as_bytes())
            .expect("CA pem")
            .client_config()
            .expect("client config")
    }
}

impl ServerCert {
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server_config_for(rustls::DEFAULT_VERSIONS)
    }

    /// A server that speaks TLS 1.2 only.
    pub fn server_config_tls12(&self) -> Arc<ServerConfig> {
        self.server_config_for(&[&rustls::version::TLS12])
    }

    fn server_config_for(&self, versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key.clone_key())
            .expect("server cert");
        Arc::new(config)
    }
}

/// The server side of one accepted connection: plain or TLS, blocking, with timeouts
/// so that a test that goes wrong cannot hang a server thread for ever.
pub enum ServerStream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl ServerStream {
    pub fn accept(tcp: TcpStream, tls: Option<&Arc<ServerConfig>>) -> io::Result<ServerStream> {
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
        tcp.set_nodelay(true)?;
        Ok(match tls {
            None => ServerStream::Plain(tcp),
            Some(config) => {
                let conn = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
                ServerStream::Tls(Box::new(StreamOwned::new(conn, tcp)))
            }
        })
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            ServerStream::Plain(s) => s,
            ServerStream::Tls(s) => s.get_ref(),
        }
    }

    /// Closes the TCP connection abruptly (no close frame, no close_notify).
    pub fn drop_tcp(&self) {
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.read(buf),
            ServerStream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ServerStream::Plain(s) => s.write(buf),
            ServerStream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Plain(s) => s.flush(),
            ServerStream::Tls(s) => s.flush(),
        }
    }
}
