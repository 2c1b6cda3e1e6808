//! The end-to-end test harness: a real Kafka-protocol broker (tansu) on a
//! free port, Sluice workers as real processes, their files in a scratch
//! directory, and small clients to look at topics and the REST API.
//!
//! Nothing here skips: a missing broker binary or wasm toolchain fails the
//! test with a message saying what to install.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

pub mod bench;
pub mod components;
pub mod proxy;
pub mod rest;
pub mod sql;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

/// Where the build put the first-party plugin components.
pub const PLUGIN_DIR: &str = env!("SLUICE_PLUGIN_DIR");

/// Where the build put the test fixtures (components that misbehave on
/// purpose), apart from the plugins.
pub const FIXTURE_DIR: &str = env!("SLUICE_FIXTURE_DIR");

/// The worker binary of this package. Cargo builds it for every integration
/// test and benchmark of the package and puts it beside their `deps/`.
pub fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("locating the test binary");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps");
    let binary = profile_dir.join("sluice-test-worker");
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral port")
        .port()
}

/// Polls `check` until it returns `Some`, or panics with `what` after
/// `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The tansu binary: `$TANSU`, or `tansu` on the PATH.
pub fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("tansu"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the tansu broker is not installed: run `cargo install tansu --locked --features \
             dynostore,libsql,postgres` (or bash .ci/run, which does), or set TANSU"
        )
    })
}

/// A tansu broker on a free port, storing in SQLite in a scratch
/// directory; killed on drop.
///
/// Not tansu's memory storage: in tansu 0.6.0 it answers a fetch from an
/// offset inside a producer batch with the batches after it, so a consumer
/// that resumes mid-batch (any sink after a restart) silently misses the
/// rest of that batch. Its SQLite storage fetches by record offset.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    /// The `--storage-engine` URL, kept for [`Broker::restart`].
    storage: String,
    /// The port the broker tells clients to reach it at (its own unless a
    /// proxy stands in front of it).
    advertised_port: u16,
    /// More of tansu's options (`--authentication`).
    options: Vec<String>,
    _data: Scratch,
}

impl Broker {
    pub fn start() -> Broker {
        Broker::start_with_storage("sqlite://tansu.db")
    }

    /// A tansu broker storing in `storage` (a `--storage-engine` URL,
    /// relative paths inside the broker's scratch directory). Only
    /// benchmarks choose: see `Broker` for why tests keep SQLite.
    pub fn start_with_storage(storage: &str) -> Broker {
        let port = free_port();
        Broker::start_with(storage, port, port, &[])
    }

    /// A broker on `port` that tells clients to reach it at
    /// `advertised_port` (where a test's proxy stands in front of it),
    /// with more of tansu's `options`.
    pub fn start_with(storage: &str, port: u16, advertised_port: u16, options: &[&str]) -> Broker {
        let mut broker = Broker {
            child: None,
            port,
            storage: storage.to_string(),
            advertised_port,
            options: options.iter().map(|o| o.to_string()).collect(),
            _data: Scratch::new("broker"),
        };
        broker.launch();
        broker
    }

    /// Starts tansu on the broker's port and storage and waits until it
    /// accepts connections.
    fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised_port);
        let child = Command::new(tansu_binary())
            .current_dir(&self._data.path)
            .args(["broker", "--storage-engine", &self.storage])
            .args([
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(&self.options)
            .stdout(Stdio::null())
            // Kept with the broker's data (which a failed test leaves).
            .stderr(
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self._data.file("tansu.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .expect("starting tansu");
        let child = self.child.insert(child);
        let port = self.port;
        wait_for(
            "the broker to accept connections",
            Duration::from_secs(30),
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("tansu exited before accepting connections on port {port}: {status}");
                }
                TcpStream::connect(("127.0.0.1", port)).ok()
            },
        );
    }

    /// Stops the broker as an operator would (SIGTERM, then waits for it to
    /// exit; SIGKILL after 30 s), keeping its storage and its port, so
    /// that [`Broker::restart`] brings the same broker back.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the broker is running");
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().expect("waiting for tansu");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts a stopped broker again on the same port and storage.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the broker is still running");
        self.launch();
    }

    /// Creates a SCRAM user (`scram256` or `scram512`) with tansu's own
    /// admin command, on the running broker.
    pub fn create_scram_user(&self, user: &str, password: &str, mechanism: &str) {
        let made = Command::new(tansu_binary())
            .args(["user", "create", "--broker"])
            .arg(format!("tcp://127.0.0.1:{}", self.port))
            .args(["--mechanism", mechanism, user, password])
            .output()
            .expect("running tansu user create");
        assert!(
            made.status.success(),
            "creating SCRAM user {user}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    }

    /// Stops the broker and starts it again on the same storage and port
    /// with `options` in place of the ones it had.
    pub fn restart_with_options(&mut self, options: &[&str]) {
        self.stop();
        self.options = options.iter().map(|o| o.to_string()).collect();
        self.launch();
    }

    /// An address where no broker listens, for workers that must cope
    /// with an unreachable Kafka.
    pub fn unstarted(port: u16) -> Broker {
        Broker {
            child: None,
            port,
            storage: String::new(),
            advertised_port: port,
            options: Vec::new(),
            _data: Scratch::new("no-broker"),
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates `topic` with one partition (tansu does not create topics on
    /// first use).
    pub fn create_topic(&self, topic: &str) {
        let admin = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .clone();
        tokio::runtime::Runtime::new()
            .expect("a runtime for the admin client")
            .block_on(sluice::kafka::ensure_topics(
                &admin,
                &[topic.to_string()],
                1,
                1,
            ))
            .unwrap_or_else(|e| panic!("creating topic {topic}: {e:#}"));
    }

    /// Creates `topic` with `partitions` and `cleanup.policy` `policy`, as
    /// another tool (or a Kafka Connect cluster) would have.
    pub fn create_topic_with(&self, topic: &str, partitions: i32, policy: &str) {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        use rdkafka::client::DefaultClientContext;
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("an admin client");
        let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1))
            .set("cleanup.policy", policy);
        let results = tokio::runtime::Runtime::new()
            .expect("a runtime for the admin client")
            .block_on(admin.create_topics([&new], &AdminOptions::new()))
            .unwrap_or_else(|e| panic!("creating topic {topic}: {e}"));
        for result in results {
            result.unwrap_or_else(|(name, code)| panic!("creating topic {name}: {code}"));
        }
    }

    /// How many partitions `topic` has (`None`: it does not exist) and its
    /// `cleanup.policy`, as the broker describes them.
    pub fn topic_shape(&self, topic: &str) -> Option<(usize, Option<String>)> {
        use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
        use rdkafka::client::DefaultClientContext;
        let config = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .clone();
        let consumer: BaseConsumer = config.create().expect("creating a metadata client");
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("reading the broker's metadata");
        let described = metadata.topics().first()?;
        if described.error().is_some() || described.partitions().is_empty() {
            return None;
        }
        let admin: AdminClient<DefaultClientContext> = config.create().expect("an admin client");
        let configs = tokio::runtime::Runtime::new()
            .expect("a runtime for the admin client")
            .block_on(
                admin.describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new()),
            )
            .expect("describing the topic's configs");
        let policy = configs.into_iter().flatten().find_map(|resource| {
            resource
                .get("cleanup.policy")
                .and_then(|entry| entry.value.clone())
        });
        Some((described.partitions().len(), policy))
    }

    /// Writes keyed records (a `None` value is a tombstone) to partition 0
    /// of `topic`, in order, waiting for the broker's acknowledgements.
    pub fn produce_keyed(&self, topic: &str, records: &[(String, Option<String>)]) {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("creating a test producer");
        for (key, value) in records {
            let mut record = BaseRecord::<str, str>::to(topic).key(key).partition(0);
            if let Some(value) = value {
                record = record.payload(value);
            }
            producer
                .send(record)
                .unwrap_or_else(|(e, _)| panic!("writing {key} to {topic}: {e}"));
            producer.poll(Duration::ZERO);
        }
        producer
            .flush(Duration::from_secs(60))
            .expect("the broker acknowledged the test records");
    }

    /// Creates `topic` with one partition and writes `values` to it, in
    /// order, waiting until the broker has acknowledged them all.
    pub fn produce(&self, topic: &str, values: impl IntoIterator<Item = String>) {
        self.create_topic(topic);
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("linger.ms", "20")
            .set("batch.num.messages", "10000")
            .create()
            .expect("creating a test producer");
        for payload in values {
            let mut record = BaseRecord::<(), str>::to(topic)
                .payload(&payload)
                .partition(0);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(5));
                    }
                }
            }
            producer.poll(Duration::ZERO);
        }
        producer
            .flush(Duration::from_secs(60))
            .expect("the broker acknowledged the test records");
    }

    /// The offset after the last record of `topic` partition 0 (0 when it
    /// cannot be read yet).
    pub fn high_watermark(&self, topic: &str) -> i64 {
        self.partition_high_watermark(topic, 0)
    }

    /// The offset after the last record of `topic` partition `partition`
    /// (0 when it cannot be read yet).
    pub fn partition_high_watermark(&self, topic: &str, partition: i32) -> i64 {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .create()
            .expect("creating a test consumer");
        consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(5))
            .map(|(_, high)| high)
            .unwrap_or(0)
    }

    /// Every record value in `topic` partition 0, from the start.
    pub fn read_values(&self, topic: &str, expected: usize, timeout: Duration) -> Vec<Vec<u8>> {
        self.read_records(topic, expected, timeout)
            .into_iter()
            .map(|record| record.value)
            .collect()
    }

    /// Every record in `topic` partition 0, from the start: at least
    /// `expected` unless `timeout` passes first, and any more that are
    /// already there.
    pub fn read_records(
        &self,
        topic: &str,
        expected: usize,
        timeout: Duration,
    ) -> Vec<TopicRecord> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.bootstrap())
            .set("group.id", format!("test-reader-{}", free_port()))
            .set("enable.auto.commit", "false")
            .create()
            .expect("creating a test consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .expect("partition");
        consumer.assign(&tpl).expect("assigning");
        let mut records = Vec::new();
        let deadline = Instant::now() + timeout;
        while records.len() < expected && Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                records.push(TopicRecord::of(&message));
            }
        }
        // Anything beyond `expected` that is already there counts too.
        while let Some(Ok(message)) = consumer.poll(Duration::from_millis(500)) {
            records.push(TopicRecord::of(&message));
        }
        records
    }
}

/// A record read back from a topic.
#[derive(Clone, Debug)]
pub struct TopicRecord {
    pub offset: i64,
    pub value: Vec<u8>,
    /// Header values as UTF-8 text (lossy), by key.
    pub headers: BTreeMap<String, String>,
}

impl TopicRecord {
    fn of(message: &rdkafka::message::BorrowedMessage<'_>) -> TopicRecord {
        use rdkafka::message::Headers;
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        let value = String::from_utf8_lossy(h.value.unwrap_or_default());
                        (h.key.to_string(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        TopicRecord {
            offset: message.offset(),
            value: message.payload().unwrap_or_default().to_vec(),
            headers,
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A scratch directory removed on drop (kept when the test panicked, to
/// look at the worker's log).
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let path = std::env::temp_dir().join(format!(
            "sluice-test-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        fs::create_dir_all(&path).expect("creating scratch directory");
        Scratch { path }
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        let dir = self.path.join(name);
        fs::create_dir_all(&dir).expect("creating directory");
        dir
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Writes `key=value` lines as a `.properties` file.
pub fn write_properties(path: &Path, pairs: &[(&str, String)]) {
    let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    fs::write(path, text).expect("writing properties");
}

/// The component cache shared by every test worker, so each component is
/// compiled once per test run rather than once per worker.
pub fn shared_cache_dir() -> PathBuf {
    let dir = PathBuf::from(PLUGIN_DIR).join("component-cache");
    fs::create_dir_all(&dir).expect("creating the component cache");
    dir
}

/// The layout of one test worker: its configuration, roots and log.
pub struct WorkerSetup {
    pub worker_file: PathBuf,
    pub connector_files: Vec<PathBuf>,
    pub log: PathBuf,
    pub rest_port: u16,
    /// Extra environment variables for the worker process.
    pub env: Vec<(String, String)>,
    /// `standalone` or `distributed`: the command the worker runs.
    pub command: &'static str,
}

impl WorkerSetup {
    /// A worker on `broker` with roots `inbox` and `outbox` under
    /// `scratch`, the first-party plugins, and `extra` worker keys.
    pub fn new(scratch: &Scratch, broker: &Broker, extra: &[(&str, String)]) -> WorkerSetup {
        Self::with_plugin_dir(scratch, broker, Path::new(PLUGIN_DIR), extra)
    }

    pub fn with_plugin_dir(
        scratch: &Scratch,
        broker: &Broker,
        plugin_dir: &Path,
        extra: &[(&str, String)],
    ) -> WorkerSetup {
        let rest_port = free_port();
        let mut pairs = vec![
            ("bootstrap.servers", broker.bootstrap()),
            ("plugin.path", plugin_dir.display().to_string()),
            ("plugin.cache.dir", shared_cache_dir().display().to_string()),
            (
                "offset.storage.file.filename",
                scratch.file("offsets.json").display().to_string(),
            ),
            ("listeners", format!("http://127.0.0.1:{rest_port}")),
        ];
        pairs.extend(shared_roots(scratch));
        pairs.extend(extra.iter().cloned());
        let worker_file = scratch.file("worker.properties");
        write_properties(&worker_file, &pairs);
        WorkerSetup {
            worker_file,
            connector_files: Vec::new(),
            log: scratch.file("worker.log"),
            rest_port,
            env: Vec::new(),
            command: "standalone",
        }
    }

    /// Worker `index` of a cluster on `broker` (`sluice distributed`):
    /// group `group`, internal topics named after it, and `extra` worker
    /// keys. Its file, log and roots are under `scratch`, apart from the
    /// other workers' (roots are shared: `inbox` and `outbox` of
    /// `scratch`, so any worker can run any connector).
    pub fn distributed(
        scratch: &Scratch,
        broker: &Broker,
        group: &str,
        index: usize,
        extra: &[(&str, String)],
    ) -> WorkerSetup {
        let rest_port = free_port();
        let mut pairs = vec![
            ("bootstrap.servers", broker.bootstrap()),
            ("group.id", group.to_string()),
            ("config.storage.topic", format!("{group}-configs")),
            ("offset.storage.topic", format!("{group}-offsets")),
            ("status.storage.topic", format!("{group}-status")),
            ("config.storage.replication.factor", "1".into()),
            ("offset.storage.replication.factor", "1".into()),
            ("status.storage.replication.factor", "1".into()),
            ("offset.storage.partitions", "5".into()),
            ("status.storage.partitions", "3".into()),
            ("plugin.path", PLUGIN_DIR.to_string()),
            ("plugin.cache.dir", shared_cache_dir().display().to_string()),
            ("listeners", format!("http://127.0.0.1:{rest_port}")),
        ];
        pairs.extend(shared_roots(scratch));
        pairs.extend(extra.iter().cloned());
        let worker_file = scratch.file(&format!("worker-{index}.properties"));
        write_properties(&worker_file, &pairs);
        WorkerSetup {
            worker_file,
            connector_files: Vec::new(),
            log: scratch.file(&format!("worker-{index}.log")),
            rest_port,
            env: Vec::new(),
            command: "distributed",
        }
    }

    /// A worker of `command` (`standalone` or `distributed`) started from
    /// a worker file the test wrote itself, whose REST listener is on
    /// `rest_port`.
    pub fn from_file(
        scratch: &Scratch,
        command: &'static str,
        worker_file: &Path,
        rest_port: u16,
    ) -> WorkerSetup {
        WorkerSetup {
            worker_file: worker_file.to_path_buf(),
            connector_files: Vec::new(),
            log: scratch.file("worker.log"),
            rest_port,
            env: Vec::new(),
            command,
        }
    }

    /// Adds a connector configuration file.
    pub fn connector(&mut self, scratch: &Scratch, name: &str, pairs: &[(&str, &str)]) {
        let path = scratch.file(&format!("{name}.properties"));
        let mut all: Vec<(&str, String)> = vec![("name", name.to_string())];
        all.extend(pairs.iter().map(|(k, v)| (*k, v.to_string())));
        write_properties(&path, &all);
        self.connector_files.push(path);
    }

    /// Starts the worker process, appending its log to `log`.
    pub fn spawn(&self) -> WorkerProcess {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the worker log");
        let child = Command::new(worker_binary())
            .arg(self.command)
            .arg(&self.worker_file)
            .args(&self.connector_files)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the worker");
        WorkerProcess {
            child: Some(child),
            rest_port: self.rest_port,
            log: self.log.clone(),
        }
    }

    /// Runs the worker to completion and returns its exit status and log,
    /// for configurations that must be refused.
    pub fn run_expecting_exit(&self, timeout: Duration) -> (std::process::ExitStatus, String) {
        let mut worker = self.spawn();
        let status = wait_for("the worker to exit", timeout, || {
            worker.child.as_mut().unwrap().try_wait().ok().flatten()
        });
        worker.child = None;
        (status, fs::read_to_string(&self.log).unwrap_or_default())
    }
}

/// The `inbox` and `outbox` files roots of `scratch`, which the tests'
/// connectors are granted.
fn shared_roots(scratch: &Scratch) -> [(&'static str, String); 2] {
    ["inbox", "outbox"].map(|root| {
        let key = if root == "inbox" {
            "files.root.inbox"
        } else {
            "files.root.outbox"
        };
        (key, scratch.dir(root).display().to_string())
    })
}

/// A running worker; killed on drop.
pub struct WorkerProcess {
    child: Option<Child>,
    pub rest_port: u16,
    log: PathBuf,
}

impl WorkerProcess {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// The exit status, if the process has exited by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// SIGTERM, then waits for the process to exit by itself.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        wait_for(
            "the worker to stop after SIGTERM",
            Duration::from_secs(30),
            || child.try_wait().ok().flatten(),
        )
    }

    /// SIGKILL: no chance to flush or commit anything.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET path` on the worker's REST API: status code and JSON body.
    pub fn get(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        http_get(self.rest_port, path)
    }

    /// Waits until the worker reports itself healthy (started).
    pub fn wait_ready(&self) {
        wait_for("the worker to be healthy", Duration::from_secs(60), || {
            self.get("/health").filter(|(code, _)| *code == 200)
        });
    }

    /// The state of task `task` of `connector`, and its trace.
    pub fn task_state(&self, connector: &str, task: usize) -> Option<(String, String)> {
        let (code, body) = self.get(&format!("/connectors/{connector}/status"))?;
        if code != 200 {
            return None;
        }
        let task = &body["tasks"][task];
        Some((
            task["state"].as_str()?.to_string(),
            task["trace"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// Waits up to `timeout` for task 0 of `connector` to be FAILED, and
    /// returns its trace.
    pub fn failure_trace(&self, connector: &str, timeout: Duration) -> String {
        wait_for(&format!("{connector} to fail"), timeout, || {
            match self.task_state(connector, 0) {
                Some((state, trace)) if state == "FAILED" => Some(trace),
                _ => None,
            }
        })
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The failure output is all a CI run leaves behind: put the end
            // of the worker's log in it.
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(80)..];
            eprintln!(
                "--- the last {} lines of {}:\n{}\n---",
                tail.len(),
                self.log.display(),
                tail.join("\n")
            );
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP response: status, headers (names lower-cased) and body.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The HTTP client of the tests: plain HTTP/1.1 to a worker on this
/// machine, a fresh connection per request (no pool, so a restarted worker
/// on the same port is never sent a dead connection), no proxy, and every
/// response returned as it came: error statuses too, since the tests assert
/// on them, and redirects not followed.
static HTTP: LazyLock<ureq::Agent> = LazyLock::new(|| {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
});

/// A plain HTTP/1.1 request to `127.0.0.1:port`, enough for tests of a
/// JSON API: `method path` with `headers`, and `body` sent as JSON. `None`
/// when nothing answers (no listener yet, connection dropped).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Option<HttpResponse> {
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = match body {
        Some(body) => {
            let request = request
                .header("content-type", "application/json")
                .body(body)
                .ok()?;
            HTTP.run(request)
        }
        None => HTTP.run(request.body(()).ok()?),
    };
    let mut response = response.ok()?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .lossy_utf8(true)
        .read_to_string()
        .ok()?;
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A plain HTTP/1.1 GET: status code and JSON body.
pub fn http_get(port: u16, path: &str) -> Option<(u16, serde_json::Value)> {
    let response = http_request(port, "GET", path, &[], None)?;
    Some((response.status, response.json()))
}

/// `count` numbered lines of about `width` bytes each.
pub fn numbered_lines(from: usize, count: usize, width: usize) -> Vec<String> {
    (from..from + count)
        .map(|i| {
            let prefix = format!("line-{i:09}-");
            let fill = width.saturating_sub(prefix.len());
            let pad: String = (0..fill)
                .map(|j| (b'a' + ((i + j) % 26) as u8) as char)
                .collect();
            prefix + &pad
        })
        .collect()
}

/// Appends lines to a file.
pub fn append_lines(path: &Path, lines: &[String]) {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("opening for append");
    let mut text = lines.join("\n");
    text.push('\n');
    file.write_all(text.as_bytes()).expect("appending");
}

/// The lines of a file (none if it does not exist).
pub fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|t| t.lines().map(String::from).collect())
        .unwrap_or_default()
}

/// Waits until `path` has at least `count` lines.
pub fn wait_for_lines(path: &Path, count: usize, timeout: Duration) -> Vec<String> {
    wait_for(
        &format!("{count} lines in {}", path.display()),
        timeout,
        || {
            let lines = read_lines(path);
            (lines.len() >= count).then_some(lines)
        },
    )
}

/// How often each line occurs.
pub fn line_counts(lines: &[String]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for line in lines {
        *counts.entry(line.as_str()).or_insert(0) += 1;
    }
    counts
}

/// A tmpfs of a few kilobytes mounted at a directory, for a file system
/// that fills up; unmounted on drop (lazily if something still holds a
/// file in it). Mounting needs root (CAP_SYS_ADMIN): without it the test
/// fails saying so.
pub struct SmallFileSystem {
    pub path: PathBuf,
}

impl SmallFileSystem {
    /// Mounts a tmpfs of `size` bytes at `path` (created if missing).
    pub fn mount(path: &Path, size: u64) -> SmallFileSystem {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        fs::create_dir_all(path).expect("creating the mount point");
        let target = CString::new(path.as_os_str().as_bytes()).expect("a path without NUL");
        let tmpfs = CString::new("tmpfs").expect("no NUL");
        let options = CString::new(format!("size={size},mode=0755")).expect("no NUL");
        let rc = unsafe {
            libc::mount(
                tmpfs.as_ptr(),
                target.as_ptr(),
                tmpfs.as_ptr(),
                0,
                options.as_ptr().cast(),
            )
        };
        if rc != 0 {
            panic!(
                "mounting a {size}-byte tmpfs at {}: {} (the test needs root, or CAP_SYS_ADMIN)",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
        SmallFileSystem {
            path: path.to_path_buf(),
        }
    }

    /// Writes `name` in the file system until not one more byte fits, and
    /// returns its size.
    pub fn fill(&self, name: &str) -> u64 {
        let path = self.path.join(name);
        let mut file = fs::File::create(&path).expect("creating the filler file");
        let mut written = 0u64;
        for chunk in [4096usize, 512, 1] {
            let bytes = vec![b'x'; chunk];
            loop {
                match file.write(&bytes) {
                    Ok(0) => break,
                    Ok(n) => written += n as u64,
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                    Err(e) => panic!("filling {}: {e}", path.display()),
                }
            }
        }
        written
    }

    /// Bytes still free for an unprivileged writer.
    pub fn available(&self) -> u64 {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let target = CString::new(self.path.as_os_str().as_bytes()).expect("a path without NUL");
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(target.as_ptr(), &mut stat) };
        assert_eq!(rc, 0, "statvfs {}", self.path.display());
        stat.f_bavail as u64 * stat.f_frsize as u64
    }
}

impl Drop for SmallFileSystem {
    fn drop(&mut self) {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let Ok(target) = CString::new(self.path.as_os_str().as_bytes()) else {
            return;
        };
        unsafe {
            if libc::umount2(target.as_ptr(), 0) != 0 {
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

/// A CA and a certificate for 127.0.0.1 it signed, made with openssl under
/// `scratch` (PEM files named after `name`): the CA's certificate (what a
/// client trusts), the certificate and its key. Not one self-signed
/// certificate: that is a CA, which rustls refuses as a server's.
pub fn certificate_authority(scratch: &Scratch, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let file = |what: &str| scratch.file(&format!("{name}-{what}"));
    let (ca_key, ca, key, request, certificate, extensions) = (
        file("ca-key.pem"),
        file("ca.pem"),
        file("key.pem"),
        file("request.pem"),
        file("cert.pem"),
        file("extensions.cnf"),
    );
    fs::write(
        &extensions,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("writing the certificate's extensions");
    let run = |command: &mut Command| {
        let made = command
            .output()
            .expect("running openssl (scripts/prerequisites.sh installs it)");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
    };
    let openssl = || Command::new("openssl");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(openssl()
        .args([
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}-ca"),
        ])
        .args(ec)
        .arg("-keyout")
        .arg(&ca_key)
        .arg("-out")
        .arg(&ca));
    run(openssl()
        .args(["req", "-new", "-subj", &format!("/CN={name}")])
        .args(ec)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&request));
    run(openssl()
        .args(["x509", "-req", "-days", "2", "-CAcreateserial", "-in"])
        .arg(&request)
        .arg("-CA")
        .arg(&ca)
        .arg("-CAkey")
        .arg(&ca_key)
        .arg("-extfile")
        .arg(&extensions)
        .arg("-out")
        .arg(&certificate));
    (ca, certificate, key)
}
