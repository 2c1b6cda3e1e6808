//! `GET /metrics`: each task's resource use in Prometheus' text format, so
//! any Prometheus-compatible scraper reads it. Kafka Connect exposes its
//! metrics over JMX; a sandboxed host has more to say per task (memory
//! high-water mark, time inside the plugin, automatic restarts).

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::api::{Api, ApiError};
use super::model::ErrorMessage;
use crate::runtime::limits::TaskMetricsSnapshot;

/// A metric: name, Prometheus type, help text, and how to read it.
type Metric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&TaskMetricsSnapshot) -> f64,
);

/// What each metric is, in the order written.
const METRICS: &[Metric] = &[
    (
        "sluice_task_memory_bytes",
        "gauge",
        "Linear memory the task's plugin instances hold now.",
        |m| m.memory_bytes as f64,
    ),
    (
        "sluice_task_memory_peak_bytes",
        "gauge",
        "The most linear memory the task's plugin instances held at once.",
        |m| m.memory_peak_bytes as f64,
    ),
    (
        "sluice_task_plugin_seconds_total",
        "counter",
        "Time spent inside calls into the task's plugins, host calls they made included.",
        |m| m.plugin_time.as_secs_f64(),
    ),
    (
        "sluice_task_plugin_calls_total",
        "counter",
        "Calls into the task's plugins.",
        |m| m.plugin_calls as f64,
    ),
    (
        "sluice_task_restarts_total",
        "counter",
        "Automatic restarts of the task after a failure.",
        |m| m.restarts as f64,
    ),
];

/// Every task's metrics, labelled with its connector and task id.
#[utoipa::path(get, path = "/metrics", tag = "worker", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
               body = String, content_type = "text/plain"),
              (status = 503, description = "The worker is starting", body = ErrorMessage)))]
pub async fn metrics(State(api): State<Arc<Api>>) -> Result<impl IntoResponse, ApiError> {
    let worker = api.worker()?;
    let tasks: Vec<_> = worker
        .status()
        .all_task_metrics()
        .into_iter()
        .map(|((connector, task), metrics)| (connector, task, metrics.snapshot()))
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        exposition(&tasks),
    ))
}

/// The text format: a HELP and TYPE line per metric, then a sample per task.
fn exposition(tasks: &[(String, u32, TaskMetricsSnapshot)]) -> String {
    let mut text = String::new();
    for (name, kind, help, value) in METRICS {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (connector, task, snapshot) in tasks {
            let _ = writeln!(
                text,
                "{name}{{connector=\"{}\",task=\"{task}\"}} {}",
                escape_label(connector),
                value(snapshot)
            );
        }
    }
    text
}

/// A label value as the text format quotes it.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
