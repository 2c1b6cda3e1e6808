//! Group membership through the broker's group coordinator, as Kafka
//! Connect's workers do it: the classic group protocol (FindCoordinator,
//! JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with protocol type
//! `connect`, spoken over TCP with `kafka-protocol`, since librdkafka only
//! offers the `consumer` protocol type.
//!
//! The connection is secured as the worker's client keys say (TLS, SASL
//! PLAIN or SCRAM: `secure_link`). One request is in flight at a time; a connection
//! that fails or times out is dropped, and the coordinator is found again
//! on the next call.
//!
//! Brokers differ in when they answer, so callers must not rely on
//! Kafka's barriers. Kafka holds each JoinGroup until every member has
//! rejoined and each follower's SyncGroup until the leader's arrives;
//! tansu 0.6 answers both at once with the membership it has so far, so a
//! member may be told REBALANCE_IN_PROGRESS several times (and a follower's
//! rejoin takes 3 s there) before a generation settles. tansu also counts
//! only Heartbeats as signs of life, not JoinGroup or SyncGroup.
//!
//! The file is one piece despite its length: the five calls share one
//! connection, one framing and one table of Kafka's error codes, and a
//! third of it is the tests of those.

use std::collections::HashMap;
use std::time::Duration;

use bytes::BufMut;
/// Metadata and assignments: re-exported so that callers need no `bytes`.
pub use bytes::Bytes;
use bytes::BytesMut;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, RequestHeader, ResponseHeader,
    SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest, SaslHandshakeResponse,
    SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, Message, StrBytes, VersionRange,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::secure_link::{self, LinkSecurity, SaslMechanism, ScramClient};
use tokio::time::{Instant, sleep, timeout};

/// How long past the rebalance timeout a JoinGroup may take: the
/// coordinator holds it for up to the rebalance timeout (Kafka's own
/// clients allow the same 5 s).
const JOIN_MARGIN: Duration = Duration::from_secs(5);
/// The first and the longest wait before asking a coordinator that is
/// moving or loading again.
const RETRY_PAUSE_FIRST: Duration = Duration::from_millis(100);
const RETRY_PAUSE_MAX: Duration = Duration::from_secs(1);
/// The largest answer accepted. Group answers are small; a bigger size
/// prefix means the other end is not speaking Kafka's plaintext protocol
/// (a TLS listener's alert reads as about 350 MB).
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Where and how to join a group.
#[derive(Debug, Clone)]
pub struct GroupOptions {
    /// `bootstrap.servers`: comma-separated `host:port`s.
    pub bootstrap_servers: String,
    pub group_id: String,
    /// Sent with every request; the coordinator prefixes member ids with it.
    pub client_id: String,
    /// Without a heartbeat for this long, the coordinator drops the member.
    pub session_timeout: Duration,
    /// How long the coordinator waits for members to rejoin.
    pub rebalance_timeout: Duration,
    /// `connect` for Kafka Connect's workers.
    pub protocol_type: String,
    /// How long to wait for any answer other than JoinGroup's and
    /// SyncGroup's (which may wait out a rebalance).
    pub request_timeout: Duration,
    /// TLS and SASL, as `security.protocol` says.
    pub security: LinkSecurity,
}

/// Why a group call failed, by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The broker could not be reached, did not answer in time or cannot
    /// serve the group yet: retrying later may succeed.
    #[error("{0}")]
    Unavailable(String),
    /// The broker refused the group as configured (another kind of member
    /// uses the group id, a session timeout it does not allow, no protocol
    /// version in common): retrying will not help.
    #[error("{0}")]
    Rejected(String),
}

/// A completed JoinGroup: this member's place in the new generation.
#[derive(Debug, Clone)]
pub struct Joined {
    pub generation_id: i32,
    pub member_id: String,
    pub leader_id: String,
    /// The protocol the coordinator chose among those every member offered.
    pub protocol_name: String,
    /// Every member's id and metadata; empty unless this member leads.
    pub members: Vec<(String, Bytes)>,
}

impl Joined {
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }
}

/// What SyncGroup brought.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncOutcome {
    /// This member's assignment from the leader.
    Assigned(Bytes),
    /// A new rebalance started before this one completed: join again.
    RebalanceNeeded,
    /// The coordinator no longer counts this member in this generation:
    /// stop the work of the old assignment and join again.
    Fenced,
}

/// What a heartbeat learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    Ok,
    /// The group is rebalancing: join again (the assignment holds until
    /// the new one arrives).
    RebalanceNeeded,
    /// The member lost its membership (expired, or of an old generation):
    /// stop the work of the old assignment and join again.
    Fenced,
}

/// A member of one group, talking to the group's coordinator.
pub struct GroupClient {
    link: CoordinatorLink,
    member_id: String,
    generation_id: i32,
    protocol_name: String,
}

impl GroupClient {
    /// Finds the group's coordinator through `bootstrap.servers` and
    /// connects to it; the member joins with [`GroupClient::join`].
    pub async fn connect(options: GroupOptions) -> Result<GroupClient, GroupError> {
        let connection = find_coordinator(&options).await?;
        Ok(GroupClient {
            link: CoordinatorLink {
                options,
                connection: Some(connection),
            },
            member_id: String::new(),
            generation_id: -1,
            protocol_name: String::new(),
        })
    }

    /// The id the coordinator gave this member; empty before it joined.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The generation this member last joined; -1 before it joined.
    pub fn generation_id(&self) -> i32 {
        self.generation_id
    }

    /// Joins (or rejoins) the group offering `protocols` (name, metadata),
    /// most preferred first; returns once the coordinator completed the
    /// join for this member.
    pub async fn join(&mut self, protocols: &[(String, Bytes)]) -> Result<Joined, GroupError> {
        let options = &self.link.options;
        let group = options.group_id.clone();
        let limit = self.rebalance_limit();
        let deadline = Instant::now() + limit;
        let mut pause = RETRY_PAUSE_FIRST;
        let base = JoinGroupRequest::default()
            .with_group_id(group_id(&group))
            .with_session_timeout_ms(millis(options.session_timeout))
            .with_rebalance_timeout_ms(millis(options.rebalance_timeout))
            .with_protocol_type(text(&options.protocol_type))
            .with_protocols(
                protocols
                    .iter()
                    .map(|(name, metadata)| {
                        JoinGroupRequestProtocol::default()
                            .with_name(text(name))
                            .with_metadata(metadata.clone())
                    })
                    .collect(),
            );
        loop {
            let request = base.clone().with_member_id(text(&self.member_id));
            let (response, _) = self.link.call(|_| request, limit).await?;
            match ResponseError::try_from_code(response.error_code) {
                None => return Ok(self.joined(response)),
                // KIP-394: a new member first learns its id, then joins with it.
                Some(ResponseError::MemberIdRequired) => {
                    self.member_id = response.member_id.to_string();
                    if Instant::now() < deadline {
                        continue;
                    }
                }
                // The coordinator forgot this member: join as a new one.
                Some(ResponseError::UnknownMemberId) => {
                    self.member_id.clear();
                    if Instant::now() < deadline {
                        continue;
                    }
                }
                Some(error) if coordinator_moving(error) => self.link.lose(),
                Some(ResponseError::InconsistentGroupProtocol) => {
                    return Err(GroupError::Rejected(format!(
                        "cannot join group `{group}`: its members use another protocol type than \
                         `{}` or protocols none of which this worker offers \
                         (INCONSISTENT_GROUP_PROTOCOL). Another kind of member, such as a Kafka \
                         Connect worker or a consumer, probably uses the same group.id: give \
                         this cluster a group.id of its own",
                        self.link.options.protocol_type
                    )));
                }
                Some(ResponseError::InvalidSessionTimeout) => {
                    return Err(GroupError::Rejected(format!(
                        "the coordinator of group `{group}` refused a session timeout of {} ms \
                         (INVALID_SESSION_TIMEOUT): it must lie between the broker's \
                         group.min.session.timeout.ms and group.max.session.timeout.ms",
                        millis(self.link.options.session_timeout)
                    )));
                }
                Some(error) => return Err(kafka_failure("JoinGroup", &group, error)),
            }
            if !wait_to_retry(&mut pause, deadline).await {
                return Err(GroupError::Unavailable(format!(
                    "gave up joining group `{group}` after {limit:?}: the last answer was {}",
                    error_name(response.error_code)
                )));
            }
        }
    }

    fn joined(&mut self, response: JoinGroupResponse) -> Joined {
        self.member_id = response.member_id.to_string();
        self.generation_id = response.generation_id;
        self.protocol_name = response
            .protocol_name
            .map(|name| name.to_string())
            .unwrap_or_default();
        Joined {
            generation_id: response.generation_id,
            member_id: self.member_id.clone(),
            leader_id: response.leader.to_string(),
            protocol_name: self.protocol_name.clone(),
            members: response
                .members
                .into_iter()
                .map(|member| (member.member_id.to_string(), member.metadata))
                .collect(),
        }
    }

    /// Completes the generation joined last. The leader passes every
    /// member's assignment (member id, bytes); followers pass none.
    pub async fn sync(
        &mut self,
        assignments: Vec<(String, Bytes)>,
    ) -> Result<SyncOutcome, GroupError> {
        let options = &self.link.options;
        let request = SyncGroupRequest::default()
            .with_group_id(group_id(&options.group_id))
            .with_generation_id(self.generation_id)
            .with_member_id(text(&self.member_id))
            .with_protocol_type(Some(text(&options.protocol_type)))
            .with_protocol_name(Some(text(&self.protocol_name)))
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(member_id, assignment)| {
                        SyncGroupRequestAssignment::default()
                            .with_member_id(StrBytes::from_string(member_id))
                            .with_assignment(assignment)
                    })
                    .collect(),
            );
        // A follower's SyncGroup waits at Kafka's coordinator for the
        // leader's, which may take as long as a join.
        let limit = self.rebalance_limit();
        let (response, _) = self.link.call(|_| request, limit).await?;
        Ok(match ResponseError::try_from_code(response.error_code) {
            None => SyncOutcome::Assigned(response.assignment),
            Some(ResponseError::RebalanceInProgress) => SyncOutcome::RebalanceNeeded,
            Some(ResponseError::IllegalGeneration) => self.fenced(false),
            Some(ResponseError::UnknownMemberId | ResponseError::FencedInstanceId) => {
                self.fenced(true)
            }
            // The new coordinator has to see this member join.
            Some(error) if coordinator_moving(error) => {
                self.link.lose();
                SyncOutcome::RebalanceNeeded
            }
            Some(error) => {
                return Err(kafka_failure(
                    "SyncGroup",
                    &self.link.options.group_id,
                    error,
                ));
            }
        })
    }

    /// Tells the coordinator this member is alive, and learns whether the
    /// group is rebalancing or has dropped it. Call it well within the
    /// session timeout (Kafka Connect: every 3 s of a 10 s session).
    pub async fn heartbeat(&mut self) -> Result<HeartbeatOutcome, GroupError> {
        let limit = self.link.options.request_timeout;
        let deadline = Instant::now() + limit;
        let mut pause = RETRY_PAUSE_FIRST;
        loop {
            let request = HeartbeatRequest::default()
                .with_group_id(group_id(&self.link.options.group_id))
                .with_generation_id(self.generation_id)
                .with_member_id(text(&self.member_id));
            let (response, _) = self.link.call(|_| request, limit).await?;
            match ResponseError::try_from_code(response.error_code) {
                None => return Ok(HeartbeatOutcome::Ok),
                Some(ResponseError::RebalanceInProgress) => {
                    return Ok(HeartbeatOutcome::RebalanceNeeded);
                }
                Some(ResponseError::IllegalGeneration) => {
                    self.fenced(false);
                    return Ok(HeartbeatOutcome::Fenced);
                }
                Some(ResponseError::UnknownMemberId | ResponseError::FencedInstanceId) => {
                    self.fenced(true);
                    return Ok(HeartbeatOutcome::Fenced);
                }
                // The group's state moves with the coordinator: tell the new one.
                Some(error) if coordinator_moving(error) => {
                    self.link.lose();
                    if !wait_to_retry(&mut pause, deadline).await {
                        return Err(kafka_failure(
                            "Heartbeat",
                            &self.link.options.group_id,
                            error,
                        ));
                    }
                }
                Some(error) => {
                    return Err(kafka_failure(
                        "Heartbeat",
                        &self.link.options.group_id,
                        error,
                    ));
                }
            }
        }
    }

    /// Leaves the group, so that the others rebalance at once rather than
    /// after the session timeout (a clean shutdown).
    pub async fn leave(&mut self) -> Result<(), GroupError> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let limit = self.link.options.request_timeout;
        let deadline = Instant::now() + limit;
        let mut pause = RETRY_PAUSE_FIRST;
        loop {
            let group = group_id(&self.link.options.group_id);
            let member = text(&self.member_id);
            let (response, version) = self
                .link
                .call(
                    |version| {
                        // KIP-345 (v3) made LeaveGroup a batch of members.
                        if version >= 3 {
                            LeaveGroupRequest::default()
                                .with_group_id(group)
                                .with_members(vec![
                                    MemberIdentity::default()
                                        .with_member_id(member)
                                        .with_reason(Some(text("the worker is shutting down"))),
                                ])
                        } else {
                            LeaveGroupRequest::default()
                                .with_group_id(group)
                                .with_member_id(member)
                        }
                    },
                    limit,
                )
                .await?;
            let code = match response.members.first() {
                Some(member) if version >= 3 && response.error_code == 0 => member.error_code,
                _ => response.error_code,
            };
            match ResponseError::try_from_code(code) {
                // Already gone (expired, say): nothing left to leave.
                None | Some(ResponseError::UnknownMemberId) => {
                    self.fenced(true);
                    return Ok(());
                }
                Some(error) if coordinator_moving(error) => {
                    self.link.lose();
                    if !wait_to_retry(&mut pause, deadline).await {
                        return Err(kafka_failure(
                            "LeaveGroup",
                            &self.link.options.group_id,
                            error,
                        ));
                    }
                }
                Some(error) => {
                    return Err(kafka_failure(
                        "LeaveGroup",
                        &self.link.options.group_id,
                        error,
                    ));
                }
            }
        }
    }

    /// Forgets the generation (and, when the coordinator forgot the member,
    /// the member id, so that the next join starts afresh).
    fn fenced(&mut self, forget_member: bool) -> SyncOutcome {
        self.generation_id = -1;
        if forget_member {
            self.member_id.clear();
        }
        SyncOutcome::Fenced
    }

    fn rebalance_limit(&self) -> Duration {
        let options = &self.link.options;
        options
            .request_timeout
            .max(options.rebalance_timeout + JOIN_MARGIN)
    }
}

/// The connection to the group's coordinator, found again whenever it is
/// lost or the coordinator moves.
struct CoordinatorLink {
    options: GroupOptions,
    connection: Option<Connection>,
}

impl CoordinatorLink {
    /// Sends the request `build` makes for the negotiated version, and
    /// returns the answer with that version.
    async fn call<R: Call>(
        &mut self,
        build: impl FnOnce(i16) -> R,
        limit: Duration,
    ) -> Result<(R::Response, i16), GroupError> {
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => find_coordinator(&self.options).await?,
        };
        let version = connection.version::<R>()?;
        // The connection goes back only after a complete exchange: after a
        // failure or a timeout, a late answer could still arrive on it.
        let response = connection.exchange(&build(version), version, limit).await?;
        self.connection = Some(connection);
        Ok((response, version))
    }

    fn lose(&mut self) {
        self.connection = None;
    }
}

/// Asks the bootstrap brokers which broker coordinates the group, and
/// connects to it.
async fn find_coordinator(options: &GroupOptions) -> Result<Connection, GroupError> {
    let group = &options.group_id;
    let deadline = Instant::now() + options.request_timeout;
    let mut pause = RETRY_PAUSE_FIRST;
    loop {
        let mut bootstrap = open_bootstrap(options).await?;
        let version = bootstrap.version::<FindCoordinatorRequest>()?;
        // Key type 0 is a group; KIP-699 (v4) made the keys a batch.
        let request = FindCoordinatorRequest::default().with_key_type(0);
        let request = if version >= 4 {
            request.with_coordinator_keys(vec![text(group)])
        } else {
            request.with_key(text(group))
        };
        let response: FindCoordinatorResponse = bootstrap
            .exchange(&request, version, options.request_timeout)
            .await?;
        let (code, host, port) = if version >= 4 {
            let Some(found) = response.coordinators.into_iter().next() else {
                return Err(GroupError::Unavailable(format!(
                    "the broker at {} answered FindCoordinator for group `{group}` with no \
                     coordinator",
                    bootstrap.address
                )));
            };
            (found.error_code, found.host, found.port)
        } else {
            (response.error_code, response.host, response.port)
        };
        match ResponseError::try_from_code(code) {
            None => {
                let address = if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                if address == bootstrap.address {
                    return Ok(bootstrap);
                }
                let role = format!(
                    "named by {} as the coordinator of group `{group}`",
                    bootstrap.address
                );
                return Connection::open(&address, &role, options).await;
            }
            Some(error) if coordinator_moving(error) => {
                if !wait_to_retry(&mut pause, deadline).await {
                    return Err(kafka_failure("FindCoordinator", group, error));
                }
            }
            Some(error) => return Err(kafka_failure("FindCoordinator", group, error)),
        }
    }
}

/// Connects to the first `bootstrap.servers` broker that answers.
async fn open_bootstrap(options: &GroupOptions) -> Result<Connection, GroupError> {
    let mut failures = Vec::new();
    for address in options.bootstrap_servers.split(',').map(str::trim) {
        if address.is_empty() {
            continue;
        }
        match Connection::open(address, "given in bootstrap.servers", options).await {
            Ok(connection) => return Ok(connection),
            Err(GroupError::Unavailable(failure)) => failures.push(failure),
            Err(rejected) => return Err(rejected),
        }
    }
    Err(match failures.len() {
        0 => GroupError::Rejected("bootstrap.servers is empty: it needs a host:port".into()),
        1 => GroupError::Unavailable(failures.remove(0)),
        _ => GroupError::Unavailable(format!(
            "no broker in bootstrap.servers answered: {}",
            failures.join("; ")
        )),
    })
}

/// A request this client sends, with its API key and answer type.
trait Call: Encodable + HeaderVersion + Message {
    const KEY: ApiKey;
    type Response: Decodable + HeaderVersion;
}

macro_rules! calls {
    ($($request:ty => $response:ty, $key:ident;)*) => {$(
        impl Call for $request {
            const KEY: ApiKey = ApiKey::$key;
            type Response = $response;
        }
    )*};
}

calls! {
    ApiVersionsRequest => ApiVersionsResponse, ApiVersions;
    FindCoordinatorRequest => FindCoordinatorResponse, FindCoordinator;
    JoinGroupRequest => JoinGroupResponse, JoinGroup;
    SyncGroupRequest => SyncGroupResponse, SyncGroup;
    HeartbeatRequest => HeartbeatResponse, Heartbeat;
    LeaveGroupRequest => LeaveGroupResponse, LeaveGroup;
    SaslHandshakeRequest => SaslHandshakeResponse, SaslHandshake;
    SaslAuthenticateRequest => SaslAuthenticateResponse, SaslAuthenticate;
}

/// A connection's byte stream: TCP, or TLS over TCP.
trait LinkStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> LinkStream for T {}

/// One connection to a broker, with the API versions it offers.
struct Connection {
    stream: Box<dyn LinkStream>,
    address: String,
    client_id: String,
    next_correlation_id: i32,
    versions: HashMap<i16, VersionRange>,
}

impl Connection {
    /// Connects to `address` (`role` says where it came from) and asks
    /// which API versions the broker speaks.
    async fn open(
        address: &str,
        role: &str,
        options: &GroupOptions,
    ) -> Result<Connection, GroupError> {
        let limit = options.request_timeout;
        let unreachable = |why: String| {
            GroupError::Unavailable(format!(
                "cannot reach the broker at {address} ({role}): {why}"
            ))
        };
        let stream = match timeout(limit, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => return Err(unreachable(error.to_string())),
            Err(_) => return Err(unreachable(format!("no connection within {limit:?}"))),
        };
        // Small requests answered one at a time: do not wait to batch them.
        let _ = stream.set_nodelay(true);
        let stream: Box<dyn LinkStream> = match &options.security.tls {
            None => Box::new(stream),
            Some(tls) => {
                let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
                let name =
                    rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| {
                        GroupError::Rejected(format!(
                            "{address}: not a host name TLS can check: {e}"
                        ))
                    })?;
                let handshake = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(tls))
                    .connect(name, stream);
                match timeout(limit, handshake).await {
                    Ok(Ok(stream)) => Box::new(stream),
                    Ok(Err(error)) => {
                        return Err(unreachable(format!("TLS handshake failed: {error}")));
                    }
                    Err(_) => {
                        return Err(unreachable(format!("no TLS handshake within {limit:?}")));
                    }
                }
            }
        };
        let mut connection = Connection {
            stream,
            address: address.to_string(),
            client_id: options.client_id.clone(),
            next_correlation_id: 0,
            versions: HashMap::new(),
        };
        // Version 0, which every broker answers, since nothing is known yet.
        let response = connection
            .exchange(&ApiVersionsRequest::default(), 0, limit)
            .await?;
        if response.error_code != 0 {
            return Err(GroupError::Unavailable(format!(
                "the broker at {address} refused ApiVersions: {}",
                error_name(response.error_code)
            )));
        }
        connection.versions = response
            .api_keys
            .iter()
            .map(|api| {
                let range = VersionRange {
                    min: api.min_version,
                    max: api.max_version,
                };
                (api.api_key, range)
            })
            .collect();
        if let Some(credentials) = &options.security.sasl {
            connection.authenticate(credentials, limit).await?;
        }
        Ok(connection)
    }

    /// SASL: SaslHandshake names the mechanism, then SaslAuthenticate
    /// carries its messages (one for PLAIN, two for SCRAM). Refused
    /// credentials are a `Rejected` error naming the mechanism and user.
    async fn authenticate(
        &mut self,
        credentials: &secure_link::SaslCredentials,
        limit: Duration,
    ) -> Result<(), GroupError> {
        let mechanism = credentials.mechanism.name();
        let address = self.address.clone();
        let refused = |why: String| {
            GroupError::Rejected(format!(
                "the broker at {address} refused SASL {mechanism} for user {}: {why}",
                credentials.username
            ))
        };
        let version = self.version::<SaslHandshakeRequest>()?.max(1);
        let handshake = self
            .exchange(
                &SaslHandshakeRequest::default().with_mechanism(text(mechanism)),
                version,
                limit,
            )
            .await?;
        if handshake.error_code != 0 {
            let offered: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(refused(format!(
                "{} (it offers {})",
                error_name(handshake.error_code),
                offered.join(", ")
            )));
        }
        let version = self.version::<SaslAuthenticateRequest>()?;
        let mut step = async |message: Vec<u8>| -> Result<Bytes, GroupError> {
            let answer = self
                .exchange(
                    &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message)),
                    version,
                    limit,
                )
                .await?;
            if answer.error_code != 0 {
                let message = answer.error_message.as_ref().map_or("", |m| m.as_str());
                return Err(refused(format!(
                    "{} {message}",
                    error_name(answer.error_code)
                )));
            }
            Ok(answer.auth_bytes)
        };
        match credentials.mechanism {
            SaslMechanism::Plain => {
                step(secure_link::plain_message(credentials)).await?;
            }
            SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                let mut scram =
                    ScramClient::new(credentials).map_err(|e| refused(format!("{e:#}")))?;
                let server_first = step(scram.client_first()).await?;
                let client_final = scram
                    .client_final(&server_first)
                    .map_err(|e| refused(format!("{e:#}")))?;
                let server_final = step(client_final).await?;
                scram
                    .verify_server_final(&server_final)
                    .map_err(|e| refused(format!("{e:#}")))?;
            }
        }
        Ok(())
    }

    fn version<R: Call>(&self) -> Result<i16, GroupError> {
        let offered = self.versions.get(&(R::KEY as i16)).copied();
        common_version(&self.address, R::KEY, offered, R::VERSIONS)
    }

    /// Sends `request` as `version` and waits up to `limit` for its answer.
    async fn exchange<R: Call>(
        &mut self,
        request: &R,
        version: i16,
        limit: Duration,
    ) -> Result<R::Response, GroupError> {
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id = correlation_id.wrapping_add(1);
        let address = self.address.as_str();
        let frame =
            encode_request(request, version, correlation_id, &self.client_id).map_err(|error| {
                GroupError::Rejected(format!("cannot encode {:?} v{version}: {error}", R::KEY))
            })?;
        let stream = &mut self.stream;
        let round_trip = async {
            stream.write_all(&frame).await?;
            read_frame(stream).await
        };
        let answer = match timeout(limit, round_trip).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                return Err(GroupError::Unavailable(format!(
                    "{:?} to the broker at {address} failed: {error}",
                    R::KEY
                )));
            }
            Err(_) => {
                return Err(GroupError::Unavailable(format!(
                    "the broker at {address} did not answer {:?} within {limit:?}",
                    R::KEY
                )));
            }
        };
        decode_response::<R>(answer, version, correlation_id).map_err(|error| {
            GroupError::Unavailable(format!(
                "cannot read the {:?} v{version} answer of the broker at {address}: {error}",
                R::KEY
            ))
        })
    }
}

/// The highest version both the broker (`offered`) and this client speak.
fn common_version(
    address: &str,
    api: ApiKey,
    offered: Option<VersionRange>,
    ours: VersionRange,
) -> Result<i16, GroupError> {
    let Some(offered) = offered else {
        return Err(GroupError::Rejected(format!(
            "the broker at {address} does not offer {api:?}, which distributed mode needs (a \
             group coordinator)"
        )));
    };
    let common = offered.intersect(&ours);
    if common.is_empty() {
        return Err(GroupError::Rejected(format!(
            "the broker at {address} speaks {api:?} versions {offered} and Sluice {ours}: none in \
             common"
        )));
    }
    Ok(common.max)
}

/// A request as sent: size, header, body.
fn encode_request<R: Call>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> anyhow::Result<Bytes> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(text(client_id)));
    let mut frame = BytesMut::new();
    frame.put_i32(0);
    header.encode(&mut frame, R::header_version(version))?;
    request.encode(&mut frame, version)?;
    let size = i32::try_from(frame.len() - 4)?;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    Ok(frame.freeze())
}

/// Reads one size-prefixed answer.
async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Bytes> {
    let size = stream.read_i32().await?;
    let size = usize::try_from(size)
        .ok()
        .filter(|size| *size <= MAX_FRAME)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "it announced an answer of {size} bytes: is this a plaintext Kafka listener? \
                     (security.protocol must match the broker's listener)"
                ),
            )
        })?;
    let mut body = vec![0; size];
    stream.read_exact(&mut body).await?;
    Ok(body.into())
}

/// An answer's body, once its header shows it answers `correlation_id`.
fn decode_response<R: Call>(
    mut answer: Bytes,
    version: i16,
    correlation_id: i32,
) -> anyhow::Result<R::Response> {
    let header = ResponseHeader::decode(&mut answer, R::Response::header_version(version))?;
    anyhow::ensure!(
        header.correlation_id == correlation_id,
        "it answers request {} where request {correlation_id} was sent",
        header.correlation_id
    );
    R::Response::decode(&mut answer, version)
}

/// Errors that mean the group is moving to another coordinator or being
/// loaded by one: find the coordinator again and retry.
fn coordinator_moving(error: ResponseError) -> bool {
    matches!(
        error,
        ResponseError::NotCoordinator
            | ResponseError::CoordinatorNotAvailable
            | ResponseError::CoordinatorLoadInProgress
    )
}

fn kafka_failure(api: &str, group: &str, error: ResponseError) -> GroupError {
    let message = format!(
        "{api} for group `{group}` failed: the broker answered {}",
        error_name(error.code())
    );
    if error.is_retriable() {
        GroupError::Unavailable(message)
    } else {
        GroupError::Rejected(message)
    }
}

/// A Kafka error code as Kafka's documentation names it:
/// `REBALANCE_IN_PROGRESS (27)`.
fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE (0)".to_string(),
        Some(ResponseError::Unknown(_)) => format!("an unknown error ({code})"),
        Some(error) => {
            let mut name = String::new();
            for (index, letter) in format!("{error:?}").chars().enumerate() {
                if letter.is_ascii_uppercase() && index > 0 {
                    name.push('_');
                }
                name.push(letter.to_ascii_uppercase());
            }
            format!("{name} ({code})")
        }
    }
}

/// Waits before the next attempt, doubling the wait each time; false when
/// that attempt would come after `deadline`.
async fn wait_to_retry(pause: &mut Duration, deadline: Instant) -> bool {
    if Instant::now() + *pause > deadline {
        return false;
    }
    sleep(*pause).await;
    *pause = (*pause * 2).min(RETRY_PAUSE_MAX);
    true
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn group_id(value: &str) -> GroupId {
    GroupId(text(value))
}

fn millis(duration: Duration) -> i32 {
    i32::try_from(duration.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_its_size_then_header_then_body() {
        let request = HeartbeatRequest::default()
            .with_group_id(group_id("g"))
            .with_generation_id(3)
            .with_member_id(text("m"));
        let frame = encode_request(&request, 0, 7, "sluice").unwrap();
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap());
        assert_eq!(size as usize, frame.len() - 4);
        let mut expected = Vec::new();
        expected.extend(12i16.to_be_bytes()); // Heartbeat
        expected.extend(0i16.to_be_bytes()); // version
        expected.extend(7i32.to_be_bytes()); // correlation id
        expected.extend(6i16.to_be_bytes());
        expected.extend(b"sluice");
        expected.extend(1i16.to_be_bytes());
        expected.extend(b"g");
        expected.extend(3i32.to_be_bytes());
        expected.extend(1i16.to_be_bytes());
        expected.extend(b"m");
        assert_eq!(&frame[4..], &expected[..]);
    }

    #[test]
    fn a_flexible_request_carries_tagged_fields() {
        let frame = encode_request(&HeartbeatRequest::default(), 4, 1, "c").unwrap();
        // Header v2: the client id stays a plain string, then no tags.
        assert_eq!(&frame[4..16], &[0, 12, 0, 4, 0, 0, 0, 1, 0, 1, b'c', 0]);
    }

    #[test]
    fn a_canned_answer_is_read() {
        // Correlation id 7, then Heartbeat v0: REBALANCE_IN_PROGRESS.
        let answer = Bytes::from_static(&[0, 0, 0, 7, 0, 27]);
        let response = decode_response::<HeartbeatRequest>(answer, 0, 7).unwrap();
        assert_eq!(response.error_code, 27);
        // Flexible (v4): header tags, throttle time, error, body tags.
        let answer = Bytes::from_static(&[0, 0, 0, 9, 0, 0, 0, 0, 5, 0, 22, 0]);
        let response = decode_response::<HeartbeatRequest>(answer, 4, 9).unwrap();
        assert_eq!((response.throttle_time_ms, response.error_code), (5, 22));
    }

    #[test]
    fn an_answer_to_another_request_is_refused() {
        let answer = Bytes::from_static(&[0, 0, 0, 8, 0, 0]);
        let error = decode_response::<HeartbeatRequest>(answer, 0, 7).unwrap_err();
        assert!(
            error.to_string().contains("request 8 where request 7"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn frames_are_read_by_their_size() {
        let (mut ours, mut theirs) = tokio::io::duplex(64);
        theirs.write_all(&[0, 0, 0, 3, 1, 2, 3]).await.unwrap();
        assert_eq!(&read_frame(&mut ours).await.unwrap()[..], &[1, 2, 3]);
        // A TLS alert where a size should be.
        theirs.write_all(&[0x15, 0x03, 0x03, 0x00]).await.unwrap();
        let error = read_frame(&mut ours).await.unwrap_err();
        assert!(
            error.to_string().contains("plaintext Kafka listener"),
            "{error}"
        );
    }

    #[test]
    fn the_highest_common_version_is_chosen() {
        let range = |min, max| VersionRange { min, max };
        let version = common_version("b:9092", ApiKey::JoinGroup, Some(range(2, 7)), range(0, 9));
        assert_eq!(version.unwrap(), 7);
        let none = common_version(
            "b:9092",
            ApiKey::JoinGroup,
            Some(range(10, 12)),
            range(0, 9),
        );
        let message = none.unwrap_err().to_string();
        assert!(
            message.contains("b:9092 speaks JoinGroup versions 10..12"),
            "{message}"
        );
        let missing = common_version("b:9092", ApiKey::SyncGroup, None, range(0, 5));
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("does not offer SyncGroup")
        );
    }

    #[test]
    fn errors_are_named_as_kafka_names_them() {
        assert_eq!(error_name(23), "INCONSISTENT_GROUP_PROTOCOL (23)");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR (-1)");
        assert_eq!(error_name(9999), "an unknown error (9999)");
    }
}
