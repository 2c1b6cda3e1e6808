//! Instances of connector plugins: a store plus the typed exports of the
//! plugin's world. Every call returns two layers: the outer error is a trap
//! (the instance is dead and must not be reused), the inner one what the
//! plugin returned.

use wasmtime::component::{Component, ResourceAny};
use wasmtime::error::Context;
use wasmtime::{Result, Store, bail};

use super::PluginKind;
use crate::runtime::bindings::sink::SinkConnector;
use crate::runtime::bindings::source::SourceConnector;
use crate::runtime::bindings::types::{ConnectError, SinkRecord, SourceBatch, TopicPartition};
use crate::runtime::limits::timed;
use crate::runtime::{PluginState, Runtime};

/// The `config` WIT type.
pub type WitConfig = Vec<(String, String)>;

enum World {
    Source(SourceConnector),
    Sink(SinkConnector),
}

/// One instance of a connector plugin.
pub struct ConnectorInstance {
    store: Store<PluginState>,
    world: World,
}

impl ConnectorInstance {
    pub fn new(
        runtime: &Runtime,
        component: &Component,
        kind: PluginKind,
        state: PluginState,
    ) -> anyhow::Result<Self> {
        let mut store = runtime.store(state);
        let world = match kind {
            PluginKind::Source => World::Source(
                SourceConnector::instantiate(&mut store, component, runtime.linker())
                    .context("instantiating the source connector")?,
            ),
            PluginKind::Sink => World::Sink(
                SinkConnector::instantiate(&mut store, component, runtime.linker())
                    .context("instantiating the sink connector")?,
            ),
            other => anyhow::bail!("{other} plugins are not connectors"),
        };
        Ok(ConnectorInstance { store, world })
    }

    pub fn task_configs(
        &mut self,
        config: &WitConfig,
        max_tasks: u32,
    ) -> Result<Result<Vec<WitConfig>, ConnectError>> {
        match &self.world {
            World::Source(w) => timed(&mut self.store, |store| {
                w.sluice_connect_source()
                    .call_task_configs(store, config, max_tasks)
            }),
            World::Sink(w) => timed(&mut self.store, |store| {
                w.sluice_connect_sink()
                    .call_task_configs(store, config, max_tasks)
            }),
        }
    }

    /// Starts a source task with its configuration and committed offsets.
    pub fn start_source_task(
        &mut self,
        config: &WitConfig,
        offsets: &[(String, String)],
    ) -> Result<Result<ResourceAny, ConnectError>> {
        let api = source_world(&self.world)?
            .sluice_connect_source()
            .source_task();
        timed(&mut self.store, |store| {
            api.call_start(store, config, offsets)
        })
    }

    pub fn poll(
        &mut self,
        task: ResourceAny,
        max_records: u32,
    ) -> Result<Result<SourceBatch, ConnectError>> {
        let api = source_world(&self.world)?
            .sluice_connect_source()
            .source_task();
        timed(&mut self.store, |store| {
            api.call_poll(store, task, max_records)
        })
    }

    pub fn commit(
        &mut self,
        task: ResourceAny,
        offsets: &[(String, String)],
    ) -> Result<Result<(), ConnectError>> {
        let api = source_world(&self.world)?
            .sluice_connect_source()
            .source_task();
        timed(&mut self.store, |store| {
            api.call_commit(store, task, offsets)
        })
    }

    pub fn stop_source_task(&mut self, task: ResourceAny) -> Result<Result<(), ConnectError>> {
        let api = source_world(&self.world)?
            .sluice_connect_source()
            .source_task();
        let result = timed(&mut self.store, |store| api.call_stop(store, task))?;
        task.resource_drop(&mut self.store)?;
        Ok(result)
    }

    pub fn start_sink_task(
        &mut self,
        config: &WitConfig,
    ) -> Result<Result<ResourceAny, ConnectError>> {
        let api = sink_world(&self.world)?.sluice_connect_sink().sink_task();
        timed(&mut self.store, |store| api.call_start(store, config))
    }

    pub fn open(
        &mut self,
        task: ResourceAny,
        partitions: &[TopicPartition],
    ) -> Result<Result<(), ConnectError>> {
        let api = sink_world(&self.world)?.sluice_connect_sink().sink_task();
        timed(&mut self.store, |store| {
            api.call_open(store, task, partitions)
        })
    }

    pub fn close(
        &mut self,
        task: ResourceAny,
        partitions: &[TopicPartition],
    ) -> Result<Result<(), ConnectError>> {
        let api = sink_world(&self.world)?.sluice_connect_sink().sink_task();
        timed(&mut self.store, |store| {
            api.call_close(store, task, partitions)
        })
    }

    pub fn put(
        &mut self,
        task: ResourceAny,
        records: &[SinkRecord],
    ) -> Result<Result<(), ConnectError>> {
        let api = sink_world(&self.world)?.sluice_connect_sink().sink_task();
        timed(&mut self.store, |store| api.call_put(store, task, records))
    }

    pub fn flush(&mut self, task: ResourceAny) -> Result<Result<(), ConnectError>> {
        let api = sink_world(&self.world)?.sluice_connect_sink().sink_task();
        timed(&mut self.store, |store| api.call_flush(store, task))
    }

    pub fn stop_sink_task(&mut self, task: ResourceAny) -> Result<Result<(), ConnectError>> {
        let api = sink_world(&self.world)?.sluice_connect_sink().sink_task();
        let result = timed(&mut self.store, |store| api.call_stop(store, task))?;
        task.resource_drop(&mut self.store)?;
        Ok(result)
    }
}

fn source_world(world: &World) -> Result<&SourceConnector> {
    match world {
        World::Source(w) => Ok(w),
        World::Sink(_) => bail!("a sink plugin was used as a source"),
    }
}

fn sink_world(world: &World) -> Result<&SinkConnector> {
    match world {
        World::Sink(w) => Ok(w),
        World::Source(_) => bail!("a source plugin was used as a sink"),
    }
}
