//! [`PulsarGate`]: what a real Apache Pulsar broker with TLS and token
//! authentication does at its door, in front of pulsar-lite (which has
//! neither): it terminates TLS with a certificate the test made, checks the
//! `CONNECT` command's token the way the broker's token provider does
//! (refusing with `AuthenticationError`, then closing), and advertises its
//! own `pulsar+ssl://` address in topic lookups as a TLS-enabled broker
//! does. Everything else passes through unchanged, both ways.
//!
//! Its certificate is a [`crate::tls::TestCa`]'s.

use crate::tls::TestCa;
use prost::Message as _;
use pulsar::proto::{base_command::Type, BaseCommand, CommandError, ServerError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The gate: a TLS listener in front of a plain Pulsar broker.
pub struct PulsarGate {
    addr: SocketAddr,
    refused: Arc<AtomicU64>,
    admitted: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PulsarGate {
    /// Listens on a free loopback port, forwarding to `broker` (host:port).
    /// `token`: the only token admitted (None: no authentication asked).
    pub async fn start(ca: &TestCa, broker: &str, token: Option<String>) -> PulsarGate {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&ca.server_cert)
            .expect("server certificate")
            .collect::<Result<_, _>>()
            .expect("server certificate PEM");
        let key = PrivateKeyDer::from_pem_file(&ca.server_key).expect("server key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server TLS config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let advertised = format!("pulsar+ssl://localhost:{}", addr.port());
        let broker = broker.to_string();
        let refused = Arc::new(AtomicU64::new(0));
        let admitted = Arc::new(AtomicU64::new(0));
        let (r, a) = (refused.clone(), admitted.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let (broker, advertised, token) =
                    (broker.clone(), advertised.clone(), token.clone());
                let (r, a) = (r.clone(), a.clone());
                tokio::spawn(async move {
                    // A client that does not trust the certificate hangs up here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ = serve(tls, &broker, &advertised, token.as_deref(), &r, &a).await;
                });
            }
        });
        PulsarGate {
            addr,
            refused,
            admitted,
            task,
        }
    }

    /// The node's `pulsar.url` for this gate.
    pub fn url(&self) -> String {
        format!("pulsar+ssl://localhost:{}", self.addr.port())
    }

    /// Connections refused for their credentials so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections admitted so far.
    pub fn admitted(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }
}

impl Drop for PulsarGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One frame: its whole bytes (size prefix included) and its command.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<(Vec<u8>, BaseCommand)> {
    let total = r.read_u32().await? as usize;
    if total > 10 * 1024 * 1024 {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut frame = vec![0u8; 4 + total];
    frame[..4].copy_from_slice(&(total as u32).to_be_bytes());
    r.read_exact(&mut frame[4..]).await?;
    let cmd_size = u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize;
    let end = (8 + cmd_size).min(frame.len());
    let cmd = BaseCommand::decode(&frame[8..end]).map_err(std::io::Error::other)?;
    Ok((frame, cmd))
}

/// A frame holding `cmd` and `rest` (what followed the command: a payload).
fn frame_of(cmd: &BaseCommand, rest: &[u8]) -> Vec<u8> {
    let body = cmd.encode_to_vec();
    let mut out = Vec::with_capacity(8 + body.len() + rest.len());
    out.extend_from_slice(&((4 + body.len() + rest.len()) as u32).to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(rest);
    out
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    client: S,
    broker: &str,
    advertised: &str,
    token: Option<&str>,
    refused: &AtomicU64,
    admitted: &AtomicU64,
) -> std::io::Result<()> {
    let (mut from_client, mut to_client) = tokio::io::split(client);
    let (frame, cmd) = read_frame(&mut from_client).await?;
    if let (Some(want), Some(c)) = (token, cmd.connect.as_ref()) {
        let ok = c.auth_method_name.as_deref() == Some("token")
            && c.auth_data.as_deref() == Some(want.as_bytes());
        if !ok {
            refused.fetch_add(1, Ordering::Relaxed);
            let error = BaseCommand {
                r#type: Type::Error as i32,
                error: Some(CommandError {
                    request_id: u64::MAX,
                    error: ServerError::AuthenticationError as i32,
                    message: "Failed to authenticate: invalid token".into(),
                }),
                ..Default::default()
            };
            to_client.write_all(&frame_of(&error, &[])).await?;
            to_client.shutdown().await?;
            return Ok(());
        }
    }
    admitted.fetch_add(1, Ordering::Relaxed);
    let upstream = TcpStream::connect(broker).await?;
    let (mut from_broker, mut to_broker) = upstream.into_split();
    to_broker.write_all(&frame).await?;
    let up = async {
        tokio::io::copy(&mut from_client, &mut to_broker).await?;
        to_broker.shutdown().await
    };
    let down = async {
        loop {
            let (frame, mut cmd) = match read_frame(&mut from_broker).await {
                Ok(f) => f,
                Err(_) => return to_client.shutdown().await,
            };
            match cmd.lookup_topic_response.as_mut() {
                Some(lookup) => {
                    lookup.broker_service_url_tls = Some(advertised.to_string());
                    let cmd_size = u32::from_be_bytes(frame[4..8].try_into().unwrap()) as usize;
                    let rest = frame.get(8 + cmd_size..).unwrap_or_default();
                    to_client.write_all(&frame_of(&cmd, rest)).await?;
                }
                None => to_client.write_all(&frame).await?,
            }
        }
    };
    let _ = tokio::join!(up, down);
    Ok(())
}
