//! Instances of connector plugins: a store plus the typed exports of the
//! plugin's world. Every call returns two layers: the outer error is a trap
//! (the instance is dead and must not be reused), the inner one what the
//! plugin returned.

use wasmtime::component::{Component, ResourceAny};
use wasmtime::{Result, Store, bail};

use super::bindings::sink::SinkConnector;
use super::bindings::source::SourceConnector;
use super::kind::PluginKind;
use super::state::{PluginState, Runtime};
use super::world::{WitConfig, World};
use crate::runtime::bindings::types::{ConnectError, SinkRecord, SourceBatch, TopicPartition};
use crate::runtime::limits::timed;

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
        if !matches!(kind, PluginKind::Source | PluginKind::Sink) {
            anyhow::bail!("{kind} plugins are not connectors");
        }
        let (store, world) = World::instantiate(runtime, component, kind, state)?;
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
            _ => bail!("a connector instance holds a connector"),
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
        _ => bail!("a sink plugin was used as a source"),
    }
}

fn sink_world(world: &World) -> Result<&SinkConnector> {
    match world {
        World::Sink(w) => Ok(w),
        _ => bail!("a source plugin was used as a sink"),
    }
}
