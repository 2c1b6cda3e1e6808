//! Sink connectors: the traits a plugin implements and the adapter that
//! exports them through the `sink-connector` world.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::sink::exports::sluice::connect::sink as wit_sink;
use crate::wit::{ConfigIssue, ConfigKey, PluginMetadata, SinkRecord, TopicPartition};
use crate::{Config, Result};

/// A sink connector, as Kafka Connect's `SinkConnector`.
pub trait SinkConnector: 'static {
    /// The task type that does the writing.
    type Task: SinkTask;

    /// Name, version and description; the name is what `connector.class`
    /// refers to.
    fn metadata() -> PluginMetadata;

    /// The configuration keys the connector understands.
    fn config_keys() -> Vec<ConfigKey>;

    /// Checks beyond types and required keys, which the host already did.
    fn validate(_config: &Config) -> Vec<ConfigIssue> {
        Vec::new()
    }

    /// Splits the work into at most `max_tasks` configurations. The default
    /// gives every task the connector's configuration: the consumer group
    /// spreads the partitions over them.
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        Ok(vec![config.clone(); max_tasks.max(1) as usize])
    }
}

/// A running sink task, as Kafka Connect's `SinkTask`.
pub trait SinkTask: Sized + 'static {
    /// Starts the task with one of the configurations
    /// [`SinkConnector::task_configs`] returned. Its partitions arrive
    /// afterwards, through [`SinkTask::open`].
    fn start(config: Config) -> Result<Self>;

    /// Partitions newly assigned to this task.
    fn open(&mut self, _partitions: Vec<TopicPartition>) -> Result<()> {
        Ok(())
    }

    /// Partitions taken away; drop what is buffered for them.
    fn close(&mut self, _partitions: Vec<TopicPartition>) -> Result<()> {
        Ok(())
    }

    /// A batch of records; they need not be durable when this returns.
    fn put(&mut self, records: Vec<SinkRecord>) -> Result<()>;

    /// Makes everything put so far durable. The host commits consumer
    /// offsets only after this succeeds.
    fn flush(&mut self) -> Result<()>;

    /// The task is stopping, after its partitions were closed: release what
    /// it holds. Records put since the last successful flush have no
    /// committed offsets, so they are delivered again.
    fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// `topic-partition`, as Kafka writes a partition's name.
impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// The adapter [`crate::export_sink_connector!`] exports; not for direct use.
#[doc(hidden)]
pub struct Exports<C>(PhantomData<C>);

/// The exported `sink-task` resource.
#[doc(hidden)]
pub struct TaskResource<T>(RefCell<T>);

impl<C: SinkConnector> wit_sink::Guest for Exports<C> {
    type SinkTask = TaskResource<C::Task>;

    fn metadata() -> PluginMetadata {
        C::metadata()
    }

    fn config_keys() -> Vec<ConfigKey> {
        C::config_keys()
    }

    fn validate(config: Vec<(String, String)>) -> Vec<ConfigIssue> {
        crate::log::report_panics();
        C::validate(&config.into())
    }

    fn task_configs(
        config: Vec<(String, String)>,
        max_tasks: u32,
    ) -> Result<Vec<Vec<(String, String)>>> {
        crate::log::report_panics();
        let configs = C::task_configs(&config.into(), max_tasks)?;
        Ok(configs.into_iter().map(Into::into).collect())
    }
}

impl<T: SinkTask> wit_sink::GuestSinkTask for TaskResource<T> {
    fn start(config: Vec<(String, String)>) -> Result<wit_sink::SinkTask> {
        crate::log::report_panics();
        let task = T::start(config.into())?;
        Ok(wit_sink::SinkTask::new(TaskResource(RefCell::new(task))))
    }

    fn open(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.0.borrow_mut().open(partitions)
    }

    fn close(&self, partitions: Vec<TopicPartition>) -> Result<()> {
        self.0.borrow_mut().close(partitions)
    }

    fn put(&self, records: Vec<SinkRecord>) -> Result<()> {
        self.0.borrow_mut().put(records)
    }

    fn flush(&self) -> Result<()> {
        self.0.borrow_mut().flush()
    }

    fn stop(&self) -> Result<()> {
        self.0.borrow_mut().stop()
    }
}
