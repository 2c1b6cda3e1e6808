//! What a plugin writes to its stdout and stderr: line by line into the
//! worker's log (target `sluice::plugin`, the task or plugin named, the
//! connector's secrets masked; stdout at INFO, stderr at WARN), within the
//! task's output budget (`runtime::limits::OUTPUT_BYTES_PER_WINDOW`). What
//! is over the budget is counted and dropped, with one warning per window,
//! so a plugin can neither flood the worker's log nor print unlabelled
//! lines into it.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::redact::Secrets;
use crate::runtime::limits::{OUTPUT_BYTES_PER_WINDOW, OUTPUT_WINDOW, TaskMetrics};

/// The longest line kept whole; a longer one is logged in pieces of this
/// size, so a plugin that never writes a newline still shows up.
const MAX_LINE: usize = 8 << 10;

/// Which of the two streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One plugin instance's stdout or stderr, as WASI hands it to the plugin.
#[derive(Clone)]
pub struct PluginOutput {
    lines: Arc<Mutex<LineLog>>,
}

impl PluginOutput {
    pub fn new(
        stream: Stream,
        target: Arc<str>,
        secrets: Arc<Secrets>,
        metrics: Arc<TaskMetrics>,
    ) -> Self {
        PluginOutput {
            lines: Arc::new(Mutex::new(LineLog {
                stream,
                target,
                secrets,
                metrics,
                partial: Vec::new(),
            })),
        }
    }

    fn write(&self, bytes: &[u8]) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(bytes);
    }
}

/// The bytes of a line not yet ended, and where finished lines go.
struct LineLog {
    stream: Stream,
    target: Arc<str>,
    secrets: Arc<Secrets>,
    metrics: Arc<TaskMetrics>,
    partial: Vec<u8>,
}

impl LineLog {
    fn write(&mut self, bytes: &[u8]) {
        let admission = self.metrics.admit_output(bytes.len());
        if let Some(dropped) = admission.report_dropped {
            tracing::warn!(
                target: "sluice::plugin",
                plugin = &*self.target,
                "the plugin wrote more than {} KiB to stdout and stderr in {} s: the rest \
                 of this window's output is dropped ({dropped} bytes dropped so far)",
                OUTPUT_BYTES_PER_WINDOW >> 10,
                OUTPUT_WINDOW.as_secs()
            );
        }
        self.partial.extend_from_slice(&bytes[..admission.allowed]);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.emit(&line[..end]);
        }
        while self.partial.len() >= MAX_LINE {
            let piece: Vec<u8> = self.partial.drain(..MAX_LINE).collect();
            self.emit(&piece);
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        let text = if self.secrets.is_empty() {
            text.to_string()
        } else {
            self.secrets.mask(text)
        };
        let (plugin, stream) = (&*self.target, self.stream.name());
        match self.stream {
            Stream::Stdout => tracing::info!(target: "sluice::plugin", plugin, stream, "{text}"),
            Stream::Stderr => tracing::warn!(target: "sluice::plugin", plugin, stream, "{text}"),
        }
    }
}

impl Drop for LineLog {
    // The plugin's last line, even without its newline.
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.emit(&rest);
        }
    }
}

impl IsTerminal for PluginOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for PluginOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for PluginOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        PluginOutput::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Writes never block: what is over the budget is dropped.
        Ok(64 << 10)
    }
}

#[async_trait::async_trait]
impl Pollable for PluginOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for PluginOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
