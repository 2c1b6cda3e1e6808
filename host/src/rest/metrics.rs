//! `GET /metrics`: each task's resource use in the OpenMetrics text format
//! (written by prometheus-client), so any Prometheus-compatible scraper
//! reads it. Kafka Connect exposes its
//! metrics over JMX; a sandboxed host has more to say per task (memory
//! high-water mark, time inside the plugin, automatic restarts).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::api::{Api, ApiError};
use super::model::ErrorMessage;
use crate::runtime::limits::TaskMetricsSnapshot;

/// OpenMetrics' media type, which Prometheus negotiates first.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which task a sample is of.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    connector: String,
    task: u32,
}

/// Every task's metrics, labelled with its connector and task id.
#[utoipa::path(get, path = "/metrics", tag = "worker", operation_id = "metrics",
    responses((status = 200, description = "OpenMetrics text format 1.0.0",
               body = String, content_type = "application/openmetrics-text"),
              (status = 503, description = "The worker is starting", body = ErrorMessage)))]
pub async fn metrics(State(api): State<Arc<Api>>) -> Result<impl IntoResponse, ApiError> {
    let worker = api.worker()?;
    let tasks: Vec<_> = worker
        .status()
        .all_task_metrics()
        .into_iter()
        .map(|((connector, task), metrics)| (connector, task, metrics.snapshot()))
        .collect();
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], exposition(&tasks)))
}

/// The OpenMetrics text of every task's metrics: a HELP and TYPE line per
/// metric (counters' samples end in `_total`), a sample per task, `# EOF`.
fn exposition(tasks: &[(String, u32, TaskMetricsSnapshot)]) -> String {
    let gauge = || Family::<TaskLabels, Gauge>::default();
    let counter = || Family::<TaskLabels, Counter>::default();
    let (memory, peak) = (gauge(), gauge());
    let seconds = Family::<TaskLabels, Counter<f64>>::default();
    let (calls, restarts) = (counter(), counter());
    for (connector, task, m) in tasks {
        let labels = TaskLabels {
            connector: connector.clone(),
            task: *task,
        };
        memory.get_or_create(&labels).set(m.memory_bytes as i64);
        peak.get_or_create(&labels).set(m.memory_peak_bytes as i64);
        seconds
            .get_or_create(&labels)
            .inc_by(m.plugin_time.as_secs_f64());
        calls.get_or_create(&labels).inc_by(m.plugin_calls);
        restarts.get_or_create(&labels).inc_by(m.restarts);
    }
    let mut registry = Registry::default();
    registry.register(
        "sluice_task_memory_bytes",
        "Linear memory the task's plugin instances hold now",
        memory,
    );
    registry.register(
        "sluice_task_memory_peak_bytes",
        "The most linear memory the task's plugin instances held at once",
        peak,
    );
    registry.register(
        "sluice_task_plugin_seconds",
        "Time spent inside calls into the task's plugins, host calls they made included",
        seconds,
    );
    registry.register(
        "sluice_task_plugin_calls",
        "Calls into the task's plugins",
        calls,
    );
    registry.register(
        "sluice_task_restarts",
        "Automatic restarts of the task after a failure",
        restarts,
    );
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)
        .expect("writing to a String cannot fail");
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn samples_are_labelled_and_escaped() {
        let snapshot = TaskMetricsSnapshot {
            memory_bytes: 1024,
            memory_peak_bytes: 4096,
            plugin_time: Duration::from_millis(1500),
            plugin_calls: 3,
            restarts: 1,
        };
        let text = exposition(&[("a\"b".into(), 2, snapshot)]);
        assert!(text.contains("# TYPE sluice_task_memory_peak_bytes gauge\n"));
        assert!(
            text.contains("sluice_task_memory_peak_bytes{connector=\"a\\\"b\",task=\"2\"} 4096\n")
        );
        assert!(
            text.contains(
                "sluice_task_plugin_seconds_total{connector=\"a\\\"b\",task=\"2\"} 1.5\n"
            )
        );
        assert!(text.contains("sluice_task_restarts_total{connector=\"a\\\"b\",task=\"2\"} 1\n"));
    }
}
