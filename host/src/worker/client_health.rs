//! A task's view of its Kafka client's errors: a fatal one (credentials,
//! permissions, a topic that is gone) fails the task with a trace naming
//! it; a transient one (the broker down or restarting) is left to
//! librdkafka's own retries, logged once in a while rather than per event,
//! and shown in the task's status until the client works again.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use rdkafka::error::KafkaError;

use super::task::TaskContext;
use crate::kafka::{self, ErrorClass};

/// How often a client in trouble is asked whether the cluster answers
/// again, when no record shows it first (an idle topic).
const PROBE_INTERVAL: Duration = Duration::from_secs(5);
/// How often the same trouble is logged again while it lasts.
const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// Transient trouble the client is in.
struct Trouble {
    since: Instant,
    /// When it began, for the status (a time is never stale).
    began: chrono::DateTime<chrono::Utc>,
    last_error: String,
    last_probe: Instant,
    last_log: Instant,
}

/// What a task knows of its client's health.
#[derive(Default)]
pub struct ClientHealth {
    trouble: Option<Trouble>,
}

impl ClientHealth {
    /// Takes an error the client reported: a fatal one is the task's
    /// failure; a transient one is shown in the status.
    pub fn error(&mut self, ctx: &TaskContext, client: &str, error: &KafkaError) -> Result<()> {
        let fatal = matches!(error, KafkaError::MessageConsumptionFatal(_))
            || kafka::classify(error) == ErrorClass::Fatal;
        if fatal {
            bail!(
                "the Kafka {client} failed with an error that retrying cannot mend: {error} \
                 (check the credentials, the ACLs and that the topics exist)"
            );
        }
        let now = Instant::now();
        let label = ctx.label();
        match &mut self.trouble {
            Some(trouble) => {
                trouble.last_error = error.to_string();
                if trouble.last_log.elapsed() >= LOG_INTERVAL {
                    trouble.last_log = now;
                    tracing::warn!(
                        "{label}: the Kafka {client} is still failing after {:.0} s: {error}",
                        trouble.since.elapsed().as_secs_f64()
                    );
                }
            }
            None => {
                tracing::warn!("{label}: the Kafka {client} reports {error}; it keeps retrying");
                self.trouble = Some(Trouble {
                    since: now,
                    began: chrono::Utc::now(),
                    last_error: error.to_string(),
                    last_probe: now,
                    last_log: now,
                });
            }
        }
        self.show(ctx, client);
        Ok(())
    }

    /// The client made progress (a record, a successful probe): the
    /// trouble is over.
    pub fn progress(&mut self, ctx: &TaskContext, client: &str) {
        if let Some(trouble) = self.trouble.take() {
            tracing::info!(
                "{}: the Kafka {client} works again after {:.1} s",
                ctx.label(),
                trouble.since.elapsed().as_secs_f64()
            );
            ctx.report_trouble(None);
        }
    }

    /// Whether the client is in trouble and due to be probed; the caller
    /// probes and reports the outcome with [`ClientHealth::progress`] or
    /// [`ClientHealth::still_failing`].
    pub fn probe_due(&mut self) -> bool {
        match &mut self.trouble {
            Some(trouble) if trouble.last_probe.elapsed() >= PROBE_INTERVAL => {
                trouble.last_probe = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// A probe failed too: the status says for how long it has lasted.
    pub fn still_failing(&mut self, ctx: &TaskContext, client: &str, error: &KafkaError) {
        if let Some(trouble) = &mut self.trouble {
            trouble.last_error = error.to_string();
        }
        self.show(ctx, client);
    }

    fn show(&self, ctx: &TaskContext, client: &str) {
        if let Some(trouble) = &self.trouble {
            ctx.report_trouble(Some(format!(
                "The Kafka {client} has been failing since {} and keeps retrying: {}",
                trouble.began.format("%H:%M:%S UTC"),
                trouble.last_error
            )));
        }
    }
}
