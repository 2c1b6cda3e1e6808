//! WASI's blocking calls under the plugin call's deadline.
//!
//! The epoch deadline stops a call only while wasm code runs. A plugin can
//! also wait inside the host: for a socket to deliver data, a pollable to
//! fire, an HTTP response to arrive. wasmtime-wasi runs those waits to
//! completion, so a plugin blocked on a silent peer would hold its task
//! forever. Every wait of WASI goes through `wasi:io` (`poll`,
//! `pollable.block`, and the streams' `blocking-*` calls); this module
//! links its own versions of those two interfaces over wasmtime-wasi's,
//! which wait only until the deadline of the plugin call that made them and
//! then trap with the call time limit, naming the host call it was blocked
//! in. Everything else is delegated to wasmtime-wasi unchanged.

use std::future::Future;

use anyhow::Result;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi::p2::{DynPollable, StreamError, StreamResult};
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::bindings::wasi::io::streams::{
    HostInputStream as AsyncInputStream, HostOutputStream as AsyncOutputStream,
};

use super::limits::{CallDeadline, LimitExceeded, StoreState};

/// The resource table of a plugin, with the deadline of the call it is in.
pub struct DeadlineIo<'a> {
    table: &'a mut ResourceTable,
    deadline: Option<CallDeadline>,
}

struct WithDeadline;

impl HasData for WithDeadline {
    type Data<'a> = DeadlineIo<'a>;
}

fn deadline_io<S: StoreState>(state: &mut S) -> DeadlineIo<'_> {
    let deadline = state.sandbox().call_deadline();
    DeadlineIo {
        deadline,
        table: state.ctx().table,
    }
}

/// Replaces wasmtime-wasi's `wasi:io/poll` and `wasi:io/streams` in
/// `linker` (which must already hold them) with the deadline-bound ones.
pub fn add_to_linker<S: StoreState>(linker: &mut Linker<S>) -> Result<()> {
    linker.allow_shadowing(true);
    poll::add_to_linker::<S, WithDeadline>(linker, deadline_io::<S>)
        .map_err(anyhow::Error::from)?;
    streams::add_to_linker::<S, WithDeadline>(linker, deadline_io::<S>)
        .map_err(anyhow::Error::from)?;
    linker.allow_shadowing(false);
    Ok(())
}

impl DeadlineIo<'_> {
    /// Runs the wait `wait`, made by the WASI call `call`, until it ends or
    /// the plugin call's deadline passes, whichever is first.
    fn wait<T>(
        deadline: Option<CallDeadline>,
        call: &str,
        wait: impl Future<Output = T>,
    ) -> wasmtime::Result<T> {
        let Some(deadline) = deadline else {
            return Ok(in_tokio(wait));
        };
        let until = tokio::time::Instant::from_std(deadline.at());
        match in_tokio(async { tokio::time::timeout_at(until, wait).await }) {
            Ok(done) => Ok(done),
            Err(_elapsed) => Err(LimitExceeded::trap(deadline.exceeded(Some(call)))),
        }
    }

    /// [`DeadlineIo::wait`] for a stream call, whose trap is a stream error.
    fn wait_stream<T>(
        deadline: Option<CallDeadline>,
        call: &str,
        wait: impl Future<Output = StreamResult<T>>,
    ) -> StreamResult<T> {
        Self::wait(deadline, call, wait).map_err(StreamError::Trap)?
    }
}

impl poll::Host for DeadlineIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let deadline = self.deadline;
        Self::wait(
            deadline,
            "wasi:io/poll.poll",
            async_poll::Host::poll(self.table, pollables),
        )?
    }
}

impl poll::HostPollable for DeadlineIo<'_> {
    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let deadline = self.deadline;
        Self::wait(
            deadline,
            "wasi:io/poll.pollable.block",
            async_poll::HostPollable::block(self.table, pollable),
        )?
    }

    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        poll::HostPollable::ready(self.table, pollable)
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        poll::HostPollable::drop(self.table, pollable)
    }
}

impl streams::Host for DeadlineIo<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        streams::Host::convert_stream_error(self.table, err)
    }
}

impl streams::HostInputStream for DeadlineIo<'_> {
    fn read(&mut self, stream: Resource<streams::InputStream>, len: u64) -> StreamResult<Vec<u8>> {
        streams::HostInputStream::read(self.table, stream, len)
    }

    fn blocking_read(
        &mut self,
        stream: Resource<streams::InputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        let deadline = self.deadline;
        Self::wait_stream(
            deadline,
            "wasi:io/streams.input-stream.blocking-read",
            AsyncInputStream::blocking_read(self.table, stream, len),
        )
    }

    fn skip(&mut self, stream: Resource<streams::InputStream>, len: u64) -> StreamResult<u64> {
        streams::HostInputStream::skip(self.table, stream, len)
    }

    fn blocking_skip(
        &mut self,
        stream: Resource<streams::InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        let deadline = self.deadline;
        Self::wait_stream(
            deadline,
            "wasi:io/streams.input-stream.blocking-skip",
            AsyncInputStream::blocking_skip(self.table, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<streams::InputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostInputStream::subscribe(self.table, stream)
    }

    fn drop(&mut self, stream: Resource<streams::InputStream>) -> wasmtime::Result<()> {
        streams::HostInputStream::drop(self.table, stream)
    }
}

impl streams::HostOutputStream for DeadlineIo<'_> {
    fn check_write(&mut self, stream: Resource<streams::OutputStream>) -> StreamResult<u64> {
        streams::HostOutputStream::check_write(self.table, stream)
    }

    fn write(
        &mut self,
        stream: Resource<streams::OutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        streams::HostOutputStream::write(self.table, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<streams::OutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        let deadline = self.deadline;
        Self::wait_stream(
            deadline,
            "wasi:io/streams.output-stream.blocking-write-and-flush",
            AsyncOutputStream::blocking_write_and_flush(self.table, stream, bytes),
        )
    }

    fn flush(&mut self, stream: Resource<streams::OutputStream>) -> StreamResult<()> {
        streams::HostOutputStream::flush(self.table, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<streams::OutputStream>) -> StreamResult<()> {
        let deadline = self.deadline;
        Self::wait_stream(
            deadline,
            "wasi:io/streams.output-stream.blocking-flush",
            AsyncOutputStream::blocking_flush(self.table, stream),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<streams::OutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        streams::HostOutputStream::subscribe(self.table, stream)
    }

    fn write_zeroes(
        &mut self,
        stream: Resource<streams::OutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        streams::HostOutputStream::write_zeroes(self.table, stream, len)
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<streams::OutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        let deadline = self.deadline;
        Self::wait_stream(
            deadline,
            "wasi:io/streams.output-stream.blocking-write-zeroes-and-flush",
            AsyncOutputStream::blocking_write_zeroes_and_flush(self.table, stream, len),
        )
    }

    fn splice(
        &mut self,
        dst: Resource<streams::OutputStream>,
        src: Resource<streams::InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        streams::HostOutputStream::splice(self.table, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<streams::OutputStream>,
        src: Resource<streams::InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        let deadline = self.deadline;
        Self::wait_stream(
            deadline,
            "wasi:io/streams.output-stream.blocking-splice",
            AsyncOutputStream::blocking_splice(self.table, dst, src, len),
        )
    }

    fn drop(&mut self, stream: Resource<streams::OutputStream>) -> wasmtime::Result<()> {
        streams::HostOutputStream::drop(self.table, stream)
    }
}
