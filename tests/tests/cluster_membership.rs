//! Distributed mode's group membership against a real broker (tansu):
//! members form a group through the coordinator with protocol type
//! `connect`, rebalance when a member comes, leaves or stops heartbeating,
//! and a member that was dropped learns it.
//!
//! Each member runs a worker's loop in a task of its own (join, sync,
//! heartbeat every second, join again when told to), so the tests hold
//! however the broker paces a rebalance: Kafka holds JoinGroup and
//! SyncGroup until every member is there; tansu 0.6 answers at once and
//! lets members retry (see `sluice::cluster::membership`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use sluice::cluster::membership::{
    Bytes, GroupClient, GroupError, GroupOptions, HeartbeatOutcome, SyncOutcome,
};
use sluice::cluster::secure_link::LinkSecurity;
use sluice_tests::{Broker, free_port};
use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::task::JoinHandle;

/// Kafka Connect's newest protocol name, which its workers offer too.
const PROTOCOL: &str = "sessioned";
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// Long enough for tansu's rebalances: a follower's rejoin takes 3 s there,
/// and only heartbeats count as signs of life.
const SESSION: Duration = Duration::from_secs(15);
/// The session of the test that waits for it to run out.
const SHORT_SESSION: Duration = Duration::from_secs(6);
const SETTLE: Duration = Duration::from_secs(60);

fn options(bootstrap: String, group: &str, session: Duration) -> GroupOptions {
    GroupOptions {
        bootstrap_servers: bootstrap,
        group_id: group.to_string(),
        client_id: "sluice-test".to_string(),
        session_timeout: session,
        rebalance_timeout: Duration::from_secs(30),
        protocol_type: "connect".to_string(),
        request_timeout: Duration::from_secs(10),
        security: Default::default(),
    }
}

/// What a leader assigns `member` in a group of `size`: different for each
/// member, and telling which membership the leader saw.
fn assignment_for(member: &str, size: usize) -> Vec<u8> {
    format!("{member} of {size}").into_bytes()
}

/// A completed rebalance, as one member saw it.
#[derive(Debug, Clone)]
struct View {
    member_id: String,
    generation: i32,
    leader_id: String,
    /// Every member's id and metadata, when this member leads.
    members: Vec<(String, Vec<u8>)>,
    assignment: Vec<u8>,
}

enum Event {
    Settled(View),
    Heartbeat(HeartbeatOutcome),
}

enum Command {
    /// Leave the group, as a worker that shuts down cleanly.
    Leave,
    /// Stop heartbeating and hand the client back, as a worker that hangs.
    Hang,
}

/// A group member running a worker's loop in a task of its own.
struct Member {
    name: &'static str,
    events: mpsc::UnboundedReceiver<Event>,
    commands: mpsc::UnboundedSender<Command>,
    task: Option<JoinHandle<GroupClient>>,
    /// The latest rebalance it completed.
    view: Option<View>,
    /// Its heartbeats' outcomes, oldest first.
    heartbeats: Vec<HeartbeatOutcome>,
}

impl Member {
    async fn spawn(broker: &Broker, group: &str, name: &'static str, session: Duration) -> Member {
        Member::spawn_with(options(broker.bootstrap(), group, session), name).await
    }

    async fn spawn_with(options: GroupOptions, name: &'static str) -> Member {
        let client = GroupClient::connect(options)
            .await
            .unwrap_or_else(|error| panic!("member {name} cannot connect: {error}"));
        let (sender, events) = mpsc::unbounded_channel();
        let (commands, receiver) = mpsc::unbounded_channel();
        let metadata = Bytes::from(format!("metadata of {name}"));
        let task = tokio::spawn(run(name, client, metadata, sender, receiver));
        Member {
            name,
            events,
            commands,
            task: Some(task),
            view: None,
            heartbeats: Vec::new(),
        }
    }

    /// Takes in what the member reported; fails the test if its task failed.
    async fn check(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(Event::Settled(view)) => self.view = Some(view),
                Ok(Event::Heartbeat(outcome)) => self.heartbeats.push(outcome),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    let task = self.task.take().expect("the member's task");
                    match task.await {
                        Err(error) => panic!("member {} failed: {error}", self.name),
                        Ok(_) => panic!("member {} stopped unasked", self.name),
                    }
                }
            }
        }
    }

    fn view(&self) -> &View {
        self.view
            .as_ref()
            .expect("the member completed a rebalance")
    }

    fn leads(&self) -> bool {
        let view = self.view();
        view.member_id == view.leader_id
    }

    /// Sends `command` and waits for the member's task to end with it.
    async fn stop(mut self, command: Command) -> GroupClient {
        let _ = self.commands.send(command);
        let task = self.task.take().expect("the member's task");
        task.await
            .unwrap_or_else(|error| panic!("member {} failed: {error}", self.name))
    }

    /// Waits until a heartbeat tells the member to rebalance.
    async fn told_to_rebalance(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.heartbeats.contains(&HeartbeatOutcome::RebalanceNeeded) {
            assert!(
                Instant::now() < deadline,
                "no heartbeat of member {} said to rebalance within {within:?}: {:?}",
                self.name,
                self.heartbeats
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.check().await;
        }
    }
}

/// A worker's membership loop: join, sync (the leader gives every member
/// its assignment), heartbeat until told to rebalance, and again.
async fn run(
    name: &'static str,
    mut client: GroupClient,
    metadata: Bytes,
    events: mpsc::UnboundedSender<Event>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> GroupClient {
    let mut protocols = [(PROTOCOL.to_string(), metadata.clone())];
    let mut settled_generation = None;
    let mut asked = 0;
    'rejoin: loop {
        let joined = client
            .join(&protocols)
            .await
            .unwrap_or_else(|error| panic!("member {name} cannot join: {error}"));
        if joined.is_leader() && Some(joined.generation_id) == settled_generation {
            // tansu drops a silent member without a new generation, and
            // answers a rejoin with unchanged metadata with the old
            // assignment: the leader asks anew by changing its metadata,
            // as Sluice's workers do.
            asked += 1;
            let text = String::from_utf8_lossy(&metadata);
            protocols[0].1 = Bytes::from(format!("{text} (asking {asked})"));
            continue 'rejoin;
        }
        let size = joined.members.len();
        let assignments = joined
            .members
            .iter()
            .map(|(id, _)| (id.clone(), Bytes::from(assignment_for(id, size))))
            .collect();
        match client.sync(assignments).await {
            Ok(SyncOutcome::Assigned(assignment)) => {
                settled_generation = Some(joined.generation_id);
                let _ = events.send(Event::Settled(View {
                    member_id: joined.member_id.clone(),
                    generation: joined.generation_id,
                    leader_id: joined.leader_id.clone(),
                    members: (joined.members.iter())
                        .map(|(id, metadata)| (id.clone(), metadata.to_vec()))
                        .collect(),
                    assignment: assignment.to_vec(),
                }));
            }
            Ok(SyncOutcome::RebalanceNeeded | SyncOutcome::Fenced) => continue 'rejoin,
            Err(error) => panic!("member {name} cannot sync: {error}"),
        }
        loop {
            tokio::select! {
                command = commands.recv() => {
                    if let Some(Command::Leave) = command {
                        client.leave().await.unwrap_or_else(|error| {
                            panic!("member {name} cannot leave: {error}")
                        });
                    }
                    return client;
                }
                () = tokio::time::sleep(HEARTBEAT_INTERVAL) => {
                    let outcome = client.heartbeat().await.unwrap_or_else(|error| {
                        panic!("member {name} cannot heartbeat: {error}")
                    });
                    let _ = events.send(Event::Heartbeat(outcome));
                    if outcome != HeartbeatOutcome::Ok {
                        continue 'rejoin;
                    }
                }
            }
        }
    }
}

/// Waits until `members` completed one generation together: one leader,
/// which saw exactly them, and each member holding the assignment the
/// leader made for it. Returns that generation.
async fn settle(members: &mut [&mut Member]) -> i32 {
    let deadline = Instant::now() + SETTLE;
    loop {
        for member in members.iter_mut() {
            member.check().await;
        }
        if let Some(generation) = agreed(members) {
            return generation;
        }
        if Instant::now() > deadline {
            let views: Vec<_> = members.iter().map(|m| (m.name, &m.view)).collect();
            panic!("the group did not settle within {SETTLE:?}: {views:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn agreed(members: &[&mut Member]) -> Option<i32> {
    let views: Vec<&View> = members
        .iter()
        .map(|m| m.view.as_ref())
        .collect::<Option<_>>()?;
    let generation = views[0].generation;
    let ids: BTreeSet<&str> = views.iter().map(|v| v.member_id.as_str()).collect();
    let leaders: Vec<&&View> = views
        .iter()
        .filter(|v| v.member_id == v.leader_id)
        .collect();
    let [leader] = leaders[..] else {
        return None;
    };
    let seen: BTreeSet<&str> = leader.members.iter().map(|(id, _)| id.as_str()).collect();
    let together = views.iter().all(|view| {
        view.generation == generation
            && view.leader_id == leader.member_id
            && view.assignment == assignment_for(&view.member_id, ids.len())
    });
    (together && ids.len() == views.len() && seen == ids).then_some(generation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_form_a_group_and_the_leader_assigns_both() {
    let broker = Broker::start();
    let mut a = Member::spawn(&broker, "two-members", "a", SESSION).await;
    let mut b = Member::spawn(&broker, "two-members", "b", SESSION).await;
    settle(&mut [&mut a, &mut b]).await;

    assert!(a.leads() != b.leads(), "exactly one member leads");
    let (leader, follower) = if a.leads() { (&a, &b) } else { (&b, &a) };
    let mut seen = leader.view().members.clone();
    seen.sort();
    let mut expected = vec![
        (a.view().member_id.clone(), b"metadata of a".to_vec()),
        (b.view().member_id.clone(), b"metadata of b".to_vec()),
    ];
    expected.sort();
    assert_eq!(
        seen, expected,
        "the leader receives every member's metadata"
    );
    assert!(
        follower.view().members.is_empty(),
        "only the leader sees the members"
    );
    for member in [&a, &b] {
        let view = member.view();
        assert_eq!(view.assignment, assignment_for(&view.member_id, 2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_member_makes_the_others_rebalance() {
    let broker = Broker::start();
    let mut a = Member::spawn(&broker, "third-member", "a", SESSION).await;
    let mut b = Member::spawn(&broker, "third-member", "b", SESSION).await;
    let first = settle(&mut [&mut a, &mut b]).await;
    a.heartbeats.clear();
    b.heartbeats.clear();

    let mut c = Member::spawn(&broker, "third-member", "c", SESSION).await;
    a.told_to_rebalance(SESSION).await;
    b.told_to_rebalance(SESSION).await;
    let second = settle(&mut [&mut a, &mut b, &mut c]).await;
    assert!(second > first, "generation {second} follows {first}");
    let leader = [&a, &b, &c]
        .into_iter()
        .find(|m| m.leads())
        .expect("a leader");
    assert_eq!(leader.view().members.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_leaves_makes_the_others_rebalance_at_once() {
    let broker = Broker::start();
    let a = Member::spawn(&broker, "leaving-member", "a", SESSION).await;
    let b = Member::spawn(&broker, "leaving-member", "b", SESSION).await;
    let (mut a, mut b) = (a, b);
    settle(&mut [&mut a, &mut b]).await;
    // The leader leaves: the survivor has to take over too.
    let (leaving, mut survivor) = if a.leads() { (a, b) } else { (b, a) };
    survivor.heartbeats.clear();

    let left = Instant::now();
    let mut client = leaving.stop(Command::Leave).await;
    assert_eq!(client.member_id(), "", "a member that left forgets its id");
    survivor.told_to_rebalance(SESSION).await;
    settle(&mut [&mut survivor]).await;
    assert!(
        left.elapsed() < SESSION,
        "the survivor rebalanced {:?} after the leave, not at once",
        left.elapsed()
    );
    assert_eq!(survivor.view().members.len(), 1);
    // Leaving twice is harmless.
    client.leave().await.expect("leaving again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stops_heartbeating_is_dropped_and_then_fenced() {
    let broker = Broker::start();
    let a = Member::spawn(&broker, "hanging-member", "a", SHORT_SESSION).await;
    let b = Member::spawn(&broker, "hanging-member", "b", SHORT_SESSION).await;
    let (mut a, mut b) = (a, b);
    settle(&mut [&mut a, &mut b]).await;
    // The follower hangs, so that the survivor, leading, sees the members.
    // (With tansu 0.6 a leader that expires stays the group's leader:
    // see the module documentation of `sluice::cluster::membership`.)
    let (mut survivor, hanging) = if a.leads() { (a, b) } else { (b, a) };
    survivor.heartbeats.clear();

    let mut client = hanging.stop(Command::Hang).await;
    survivor.told_to_rebalance(SHORT_SESSION * 3).await;
    settle(&mut [&mut survivor]).await;
    assert_eq!(
        survivor.view().members.len(),
        1,
        "the survivor's join sees one member fewer"
    );
    // When the silent member is dropped is tansu's to decide: it counts only
    // successful heartbeats as signs of life, so a member whose last ones
    // were answered "rebalance in progress" goes sooner than its session
    // timeout after it fell silent. The test holds either way.

    let outcome = client
        .heartbeat()
        .await
        .expect("the dropped member's heartbeat");
    assert_eq!(outcome, HeartbeatOutcome::Fenced);
    assert_eq!(client.member_id(), "", "a dropped member forgets its id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_kind_of_member_with_the_same_group_id_is_refused() {
    let broker = Broker::start();
    let mut worker = Member::spawn(&broker, "shared-group-id", "worker", SESSION).await;
    settle(&mut [&mut worker]).await;

    // A consumer of the same group.id: protocol type `consumer`, protocol `range`.
    let mut consumer_options = options(broker.bootstrap(), "shared-group-id", SESSION);
    consumer_options.protocol_type = "consumer".to_string();
    let mut consumer = GroupClient::connect(consumer_options)
        .await
        .expect("connecting");
    let error = match consumer.join(&[("range".to_string(), Bytes::new())]).await {
        Ok(joined) => panic!("a consumer joined a group of workers: {joined:?}"),
        Err(error) => error,
    };
    assert!(matches!(error, GroupError::Rejected(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("INCONSISTENT_GROUP_PROTOCOL"), "{message}");
    assert!(message.contains("group.id"), "{message}");
}

#[tokio::test]
async fn an_unreachable_bootstrap_server_is_named() {
    let address = format!("127.0.0.1:{}", free_port());
    let error = match GroupClient::connect(options(address.clone(), "g", SESSION)).await {
        Ok(_) => panic!("connected to {address}, where nothing listens"),
        Err(error) => error,
    };
    assert!(matches!(error, GroupError::Unavailable(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&address), "{message}");
    assert!(message.contains("bootstrap.servers"), "{message}");
}

/// `security.protocol` and friends as a worker file gives them, in
/// librdkafka's names (config/client_security.rs has translated them).
fn security(pairs: &[(&str, &str)]) -> LinkSecurity {
    let settings = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    LinkSecurity::from_client_settings(&settings).expect("valid security settings")
}

/// Whether a member with `options` gets into a group at all: connecting
/// and joining.
async fn joins(options: GroupOptions) -> Result<(), GroupError> {
    let mut client = GroupClient::connect(options).await?;
    let protocols = [(PROTOCOL.to_string(), Bytes::from_static(b"m"))];
    client.join(&protocols).await.map(|_| ())
}

/// SASL SCRAM against a broker that requires authentication (tansu's
/// `--authentication`; its SASL offers SCRAM, not PLAIN): members with
/// their credentials form a group, SHA-512 and SHA-256 alike; a wrong
/// password and no credentials at all are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_authenticate_with_sasl_scram() {
    let mut broker = Broker::start();
    broker.create_scram_user("alice", "alice-secret", "scram512");
    broker.create_scram_user("bob", "bob-secret", "scram256");
    broker.restart_with_options(&["--authentication"]);
    let sasl = |mechanism: &str, user: &str, password: &str| {
        let mut options = options(broker.bootstrap(), "sasl-group", SESSION);
        options.security = security(&[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanisms", mechanism),
            ("sasl.username", user),
            ("sasl.password", password),
        ]);
        options
    };
    let mut a = Member::spawn_with(sasl("SCRAM-SHA-512", "alice", "alice-secret"), "a").await;
    let mut b = Member::spawn_with(sasl("SCRAM-SHA-256", "bob", "bob-secret"), "b").await;
    settle(&mut [&mut a, &mut b]).await;
    assert!(a.leads() != b.leads(), "exactly one member leads");

    let wrong = joins(sasl("SCRAM-SHA-512", "alice", "guess")).await;
    let error = wrong.expect_err("a wrong password got in").to_string();
    assert!(
        error.contains("refused SASL SCRAM-SHA-512 for user alice"),
        "{error}"
    );
    let anonymous = options(broker.bootstrap(), "sasl-group", SESSION);
    let refused = tokio::time::timeout(Duration::from_secs(30), joins(anonymous))
        .await
        .map_err(|_| "timed out")
        .and_then(|joined| joined.err().ok_or("joined"));
    assert!(
        refused.is_ok(),
        "a member without credentials got in: {refused:?}"
    );
}

/// TLS: members reach the broker through a TLS listener and trust it
/// through `ssl.ca.location`, checking its name (the certificate's
/// 127.0.0.1); a member that trusts another CA is refused at the
/// handshake. tansu 0.6 takes a certificate but does not serve TLS, so the
/// listener is a TLS terminator the test runs in front of it, which the
/// broker advertises.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_reach_the_broker_over_tls() {
    let scratch = sluice_tests::Scratch::new("membership-tls");
    let (ca, acceptor) = tls_terminator_identity(&scratch, "broker");
    let (other_ca, _) = tls_terminator_identity(&scratch, "other");
    let (broker_port, tls_port) = (free_port(), free_port());
    let broker = Broker::start_with("sqlite://tansu.db", broker_port, tls_port, &[]);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", tls_port))
        .await
        .unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut client) = acceptor.accept(client).await else {
                    return;
                };
                if let Ok(mut upstream) =
                    tokio::net::TcpStream::connect(("127.0.0.1", broker_port)).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    let over_tls = |ca: &std::path::Path| {
        let mut options = options(format!("127.0.0.1:{tls_port}"), "tls-group", SESSION);
        options.security = security(&[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", ca.to_str().unwrap()),
        ]);
        options
    };
    let mut a = Member::spawn_with(over_tls(&ca), "a").await;
    let mut b = Member::spawn_with(over_tls(&ca), "b").await;
    settle(&mut [&mut a, &mut b]).await;
    assert!(a.leads() != b.leads(), "exactly one member leads");
    let error = joins(over_tls(&other_ca)).await.unwrap_err().to_string();
    assert!(error.contains("TLS handshake failed"), "{error}");
    drop(broker);
}

/// A CA and a certificate for 127.0.0.1 it signed, made with openssl
/// under `scratch`: the CA's PEM path (what a client trusts) and an
/// acceptor serving the certificate.
fn tls_terminator_identity(
    scratch: &sluice_tests::Scratch,
    name: &str,
) -> (std::path::PathBuf, tokio_rustls::TlsAcceptor) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let (ca, certificate, key) = sluice_tests::certificate_authority(scratch, name);
    let certs = CertificateDer::pem_file_iter(&certificate)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    (
        ca,
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
    )
}
