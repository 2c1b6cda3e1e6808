//! The limits a task's plugins run within, and what they used: a cap on
//! linear memory summed over all of the task's plugin instances, a deadline
//! on every call into a plugin (epoch interruption), and the task's metrics
//! (memory high-water mark, time spent in plugins). Calls into plugins go
//! through [`timed`].
//!
//! A breach is a trap of the instance that breached, whose error is a
//! [`LimitExceeded`] naming the limit, its configuration key and by how
//! much it was exceeded. The task then fails: unlike other traps, a breach
//! is never isolated onto one record of a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::{ResourceLimiter, Store, StoreContextMut, UpdateDeadline};

use wasmtime_wasi::WasiView;

/// What a store's state offers the runtime: WASI, which every plugin is
/// linked with (what it may reach through WASI is up to its grants), and
/// the task's limits with this instance's share of what it used.
pub trait StoreState: WasiView + Send + 'static {
    fn sandbox(&self) -> &Sandbox;
    fn sandbox_mut(&mut self) -> &mut Sandbox;
}

/// How often the engine's epoch advances: the granularity of call
/// deadlines. Checking the epoch costs compiled code a load and a compare
/// at each loop head and function entry, whatever the tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The worker and connector keys of the limits.
pub const MEMORY_MAX_KEY: &str = "task.memory.max.bytes";
pub const CALL_TIMEOUT_KEY: &str = "task.call.timeout.ms";

/// A limit's breach, as the error of the trap it causes. A breach is the
/// plugin's or the limit's problem, not the record's: the task fails
/// rather than blaming records by bisecting the batch.
#[derive(Debug)]
pub struct LimitExceeded(pub String);

impl std::fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LimitExceeded {}

impl LimitExceeded {
    pub fn trap(message: String) -> wasmtime::Error {
        wasmtime::Error::new(LimitExceeded(message))
    }

    /// Whether `trap` was caused by a limit's breach: a limit of the
    /// task's, the copy bound (wasmtime's hostcall fuel, see [`install`])
    /// or the resources an instance may hold.
    pub fn caused(trap: &wasmtime::Error) -> bool {
        trap.is::<LimitExceeded>() || Self::described(trap).is_some()
    }

    /// What the breach of a limit that wasmtime enforces says, naming the
    /// limit; `None` for any other trap.
    pub fn described(trap: &wasmtime::Error) -> Option<String> {
        use wasmtime::component::ResourceTableError;
        if matches!(
            trap.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        ) {
            return Some(format!(
                "exceeded the resource limit: the plugin holds {MAX_RESOURCES_PER_INSTANCE} \
                 resources at once (open files, sockets, streams), the most an instance may; \
                 it opens them without closing them"
            ));
        }
        let text = format!("{trap:#}");
        text.contains("fuel allocated for hostcalls has been exhausted")
            .then(|| {
                format!(
                    "exceeded the memory limit: the plugin made the host copy more than \
                 {MEMORY_MAX_KEY} in one call (lists that share their memory, as a hostile \
                 plugin builds them)"
                )
            })
    }
}

/// The limits of one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskLimits {
    /// The most linear memory the task's plugin instances may hold together.
    pub memory_max: u64,
    /// How long one call into a plugin may run, host calls it makes
    /// included: WASI's blocking calls end at this deadline (see
    /// `blocking`). SQL statements also have their own,
    /// `sql.statement.timeout.ms`, which the database enforces.
    pub call_timeout: Duration,
}

impl Default for TaskLimits {
    fn default() -> Self {
        TaskLimits {
            memory_max: 256 << 20,
            call_timeout: Duration::from_secs(60),
        }
    }
}

/// What a task's plugins used, shared by all of its instances and read by
/// the metrics endpoint. Kept across the task's restarts.
#[derive(Debug, Default)]
pub struct TaskMetrics {
    memory_bytes: AtomicU64,
    memory_peak_bytes: AtomicU64,
    plugin_nanos: AtomicU64,
    plugin_calls: AtomicU64,
    restarts: AtomicU64,
    output: std::sync::Mutex<OutputWindow>,
}

/// How much a task's plugins may write to their stdout and stderr together
/// in one [`OUTPUT_WINDOW`]: enough for any diagnostic, too little to flood
/// the worker's log or its disk.
pub const OUTPUT_BYTES_PER_WINDOW: u64 = 1 << 20;
/// The most resources (open files, sockets, streams, SQL connections) one
/// plugin instance may hold at once. A plugin that opens files until it
/// runs out stops here, with a trap naming this limit, long before the
/// worker's own file descriptors run out (the worker raises its soft limit
/// to the hard one at start, see `cli`).
pub const MAX_RESOURCES_PER_INSTANCE: usize = 4096;

/// The window [`OUTPUT_BYTES_PER_WINDOW`] is counted over.
pub const OUTPUT_WINDOW: Duration = Duration::from_secs(60);

/// The output a task wrote in the current window, and what it lost.
#[derive(Debug, Default)]
struct OutputWindow {
    started: Option<Instant>,
    written: u64,
    /// Bytes dropped over the task's life.
    dropped: u64,
    /// The current window's drop has been reported.
    warned: bool,
}

/// What [`TaskMetrics::admit_output`] lets through.
#[derive(Debug, PartialEq, Eq)]
pub struct OutputAdmission {
    /// How many of the bytes offered may be written.
    pub allowed: usize,
    /// Set on the first drop of a window: bytes dropped so far, to report.
    pub report_dropped: Option<u64>,
}

/// A reading of [`TaskMetrics`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskMetricsSnapshot {
    /// Linear memory the task's live instances hold now.
    pub memory_bytes: u64,
    /// The most they held at once.
    pub memory_peak_bytes: u64,
    /// Time spent inside plugin calls, host calls they made included.
    pub plugin_time: Duration,
    /// Calls into plugins (each entry from the host counts once).
    pub plugin_calls: u64,
    /// Automatic restarts after a failure.
    pub restarts: u64,
}

impl TaskMetrics {
    pub fn snapshot(&self) -> TaskMetricsSnapshot {
        TaskMetricsSnapshot {
            memory_bytes: self.memory_bytes.load(Ordering::Relaxed),
            memory_peak_bytes: self.memory_peak_bytes.load(Ordering::Relaxed),
            plugin_time: Duration::from_nanos(self.plugin_nanos.load(Ordering::Relaxed)),
            plugin_calls: self.plugin_calls.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
        }
    }

    pub fn count_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes `len` bytes of plugin output out of the window's budget: the
    /// bytes beyond it are dropped and counted, and the first drop of a
    /// window is reported once.
    pub fn admit_output(&self, len: usize) -> OutputAdmission {
        let mut window = self.output.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if window
            .started
            .is_none_or(|started| now.duration_since(started) >= OUTPUT_WINDOW)
        {
            window.started = Some(now);
            window.written = 0;
            window.warned = false;
        }
        let room = OUTPUT_BYTES_PER_WINDOW.saturating_sub(window.written);
        let allowed = (len as u64).min(room);
        window.written += allowed;
        let dropped = len as u64 - allowed;
        window.dropped += dropped;
        let report_dropped = (dropped > 0 && !window.warned).then_some(window.dropped);
        if report_dropped.is_some() {
            window.warned = true;
        }
        OutputAdmission {
            allowed: allowed as usize,
            report_dropped,
        }
    }
}

/// One instance's share of its task's limits: the memory it holds (given
/// back to the task when the instance is dropped) and the call it is in.
pub struct Sandbox {
    limits: Arc<TaskLimits>,
    metrics: Arc<TaskMetrics>,
    /// Linear memory this instance holds.
    held: u64,
    /// When the current call from the host began.
    call_started: Option<Instant>,
    /// Whether calls run under the deadline (see [`install`]).
    enforced: bool,
}

impl Sandbox {
    pub fn new(limits: Arc<TaskLimits>, metrics: Arc<TaskMetrics>) -> Self {
        Sandbox {
            limits,
            metrics,
            held: 0,
            call_started: None,
            enforced: false,
        }
    }

    /// What the task's instances used together.
    pub fn metrics(&self) -> &Arc<TaskMetrics> {
        &self.metrics
    }

    /// The deadline of the call the plugin is in, if limits are enforced.
    pub fn call_deadline(&self) -> Option<CallDeadline> {
        match (self.enforced, self.call_started) {
            (true, Some(started)) => Some(CallDeadline {
                started,
                limit: self.limits.call_timeout,
            }),
            _ => None,
        }
    }

    /// A sandbox of its own, with default limits: for instances that are
    /// not part of a task (configuration checks, plugin inspection).
    pub fn detached() -> Self {
        Sandbox::new(Arc::default(), Arc::default())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.metrics
            .memory_bytes
            .fetch_sub(self.held, Ordering::Relaxed);
    }
}

impl ResourceLimiter for Sandbox {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = (desired as u64).saturating_sub(current as u64);
        // Tasks run on one thread each, so only this instance's task changes
        // its counters, one instance at a time.
        let task_total = self.metrics.memory_bytes.load(Ordering::Relaxed) + growth;
        if task_total > self.limits.memory_max {
            return Err(LimitExceeded::trap(format!(
                "exceeded the memory limit: growing linear memory to {} would bring the task's \
                 plugins to {}, over the limit of {} ({MEMORY_MAX_KEY}={}) by {}",
                mib(desired as u64),
                mib(task_total),
                mib(self.limits.memory_max),
                self.limits.memory_max,
                mib(task_total - self.limits.memory_max),
            )));
        }
        self.held += growth;
        self.metrics
            .memory_bytes
            .store(task_total, Ordering::Relaxed);
        self.metrics
            .memory_peak_bytes
            .fetch_max(task_total, Ordering::Relaxed);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// When a call into a plugin must end: the epoch callback checks it while
/// wasm runs, and WASI's blocking calls wait no longer (see `blocking`).
#[derive(Clone, Copy, Debug)]
pub struct CallDeadline {
    started: Instant,
    limit: Duration,
}

impl CallDeadline {
    pub fn at(&self) -> Instant {
        self.started + self.limit
    }

    /// The trap message of a call that ran past its deadline, naming the
    /// host call it was blocked in, if it was.
    pub fn exceeded(&self, blocked_in: Option<&str>) -> String {
        let elapsed = self.started.elapsed();
        let blocked = blocked_in
            .map(|call| format!(" (blocked in the host call {call})"))
            .unwrap_or_default();
        format!(
            "exceeded the call time limit: the call ran for {:.2} s{blocked}, over the limit of \
             {:.2} s ({CALL_TIMEOUT_KEY}={}) by {:.2} s",
            elapsed.as_secs_f64(),
            self.limit.as_secs_f64(),
            self.limit.as_millis(),
            elapsed.saturating_sub(self.limit).as_secs_f64(),
        )
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// The epoch ticks until `remaining` has passed (at least one).
fn ticks(remaining: Duration) -> u64 {
    (remaining.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64
}

/// Puts `store` under its sandbox: the memory limiter, and a deadline on
/// what runs before the first call (instantiation runs the component's
/// initialisers).
pub fn install<S: StoreState>(store: &mut Store<S>) {
    store.limiter(|state| state.sandbox_mut());
    // What the host copies out of the plugin in one call (a batch it
    // returns, the arguments of a host call) is bounded by the task's
    // memory limit too: lists that alias one buffer can make the copy far
    // larger than the memory the plugin holds (wasmtime's default is
    // 128 MiB whatever the limit).
    let copy_max = usize::try_from(store.data().sandbox().limits.memory_max).unwrap_or(usize::MAX);
    store.set_hostcall_fuel(copy_max);
    store.epoch_deadline_callback(check_deadline);
    let sandbox = store.data_mut().sandbox_mut();
    sandbox.enforced = true;
    sandbox.call_started = Some(Instant::now());
    let ticks = ticks(sandbox.limits.call_timeout);
    store.set_epoch_deadline(ticks);
}

/// Runs `call`, one call into the plugin of `store`, under the call
/// deadline, and adds its time to the task's.
///
/// Every call into a plugin goes through here rather than through a
/// wasmtime call hook: a call hook also runs on each of the guest's
/// libcalls (`memory.copy` and the like), a dozen or more per record, and
/// cost the transform chain 15% (see BENCHMARKS.md).
pub fn timed<S: StoreState, R>(store: &mut Store<S>, call: impl FnOnce(&mut Store<S>) -> R) -> R {
    let started = Instant::now();
    let sandbox = store.data_mut().sandbox_mut();
    sandbox.call_started = Some(started);
    let ticks = ticks(sandbox.limits.call_timeout);
    store.set_epoch_deadline(ticks);
    let result = call(store);
    let sandbox = store.data_mut().sandbox_mut();
    sandbox.call_started = None;
    let nanos = started.elapsed().as_nanos() as u64;
    sandbox
        .metrics
        .plugin_nanos
        .fetch_add(nanos, Ordering::Relaxed);
    sandbox.metrics.plugin_calls.fetch_add(1, Ordering::Relaxed);
    result
}

/// Called when a call's epoch deadline passes: a call over its time is
/// stopped, one the ticks ran ahead of is given the rest of its time.
fn check_deadline<S: StoreState>(
    store: StoreContextMut<'_, S>,
) -> wasmtime::Result<UpdateDeadline> {
    let sandbox = store.data().sandbox();
    let limit = sandbox.limits.call_timeout;
    let started = sandbox.call_started.unwrap_or_else(Instant::now);
    let elapsed = started.elapsed();
    if elapsed >= limit {
        let deadline = CallDeadline { started, limit };
        return Err(LimitExceeded::trap(deadline.exceeded(None)));
    }
    Ok(UpdateDeadline::Continue(ticks(limit - elapsed)))
}

/// Advances `engine`'s epoch every [`EPOCH_TICK`] on a thread of its own,
/// until the engine is dropped.
pub fn start_epoch_ticker(engine: &wasmtime::Engine) {
    let engine = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("sluice-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    if let Err(e) = spawned {
        // Without the ticker no call would ever reach its deadline: a
        // worker that cannot start a thread is not going to run anyway.
        panic!("starting the epoch ticker thread: {e}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn output_over_the_window_budget_is_dropped_and_reported_once() {
        let metrics = TaskMetrics::default();
        let cap = OUTPUT_BYTES_PER_WINDOW as usize;
        let first = metrics.admit_output(cap - 10);
        assert_eq!(first.allowed, cap - 10);
        assert_eq!(first.report_dropped, None);
        let over = metrics.admit_output(30);
        assert_eq!(
            over,
            OutputAdmission {
                allowed: 10,
                report_dropped: Some(20)
            }
        );
        let more = metrics.admit_output(5);
        assert_eq!(more.allowed, 0);
        assert_eq!(more.report_dropped, None, "one report a window");
    }

    use super::*;

    #[test]
    fn memory_is_summed_over_a_tasks_instances_and_given_back() {
        let limits = Arc::new(TaskLimits {
            memory_max: 10 << 20,
            ..TaskLimits::default()
        });
        let metrics = Arc::new(TaskMetrics::default());
        let mut a = Sandbox::new(limits.clone(), metrics.clone());
        let mut b = Sandbox::new(limits.clone(), metrics.clone());
        assert!(a.memory_growing(0, 4 << 20, None).unwrap());
        assert!(b.memory_growing(0, 4 << 20, None).unwrap());
        let err = b.memory_growing(4 << 20, 8 << 20, None).unwrap_err();
        let message = format!("{err}");
        assert!(
            message.contains("12.0 MiB")
                && message.contains("task.memory.max.bytes=10485760")
                && message.contains("by 2.0 MiB"),
            "{message}"
        );
        drop(a);
        assert_eq!(metrics.snapshot().memory_bytes, 4 << 20);
        assert!(b.memory_growing(4 << 20, 8 << 20, None).unwrap());
        let seen = metrics.snapshot();
        assert_eq!(seen.memory_bytes, 8 << 20);
        assert_eq!(seen.memory_peak_bytes, 8 << 20);
    }

    #[test]
    fn deadlines_are_whole_ticks() {
        assert_eq!(ticks(Duration::from_millis(1)), 1);
        assert_eq!(ticks(Duration::from_secs(1)), 100);
    }
}
