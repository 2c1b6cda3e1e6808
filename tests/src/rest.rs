//! REST clients for the API tests: the same requests go to the router in
//! process (tower's `oneshot`, no socket) and to a running `sluice
//! standalone` over HTTP, so every scenario is checked both ways.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use sluice::rest::Api;
use tower::ServiceExt;

use crate::{HttpResponse, WorkerProcess, http_request};

/// Sends one request: method, path (with query), extra headers, JSON body.
pub trait RestClient {
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> HttpResponse;

    /// Where the requests go, for messages.
    fn describe(&self) -> String;

    fn get(&self, path: &str) -> HttpResponse {
        self.send("GET", path, &[], None)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> HttpResponse {
        let text = body.map(|b| b.to_string());
        self.send(method, path, &[], text.as_deref())
    }
}

impl RestClient for WorkerProcess {
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> HttpResponse {
        http_request(self.rest_port, method, path, headers, body)
            .unwrap_or_else(|| panic!("{method} {path}: no HTTP response"))
    }

    fn describe(&self) -> String {
        format!("sluice standalone on port {}", self.rest_port)
    }
}

/// A worker in this process, reached through its router.
pub struct InProcess {
    pub runtime: tokio::runtime::Runtime,
    pub router: axum::Router,
    pub worker: Option<Arc<sluice::worker::Worker>>,
}

impl InProcess {
    /// A router whose worker has not started yet, and the runtime to start
    /// it on.
    fn unstarted(auth: Option<sluice::config::RestAuth>) -> (tokio::runtime::Runtime, Arc<Api>) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let loggers = Arc::new(sluice::logs::LogLevels::new("info"));
        (runtime, Api::starting(loggers, auth))
    }

    /// Starts a worker from a worker file, with its stored connectors, as
    /// `sluice standalone` does, without a socket.
    pub fn start(worker_file: &Path) -> InProcess {
        let map = sluice::config::read_config_file(worker_file).expect("the worker file");
        let config = sluice::config::WorkerConfig::from_map(&map, worker_file.parent().unwrap())
            .expect("a valid worker file");
        let (runtime, api) = Self::unstarted(config.rest_auth.clone());
        let worker = runtime.block_on(async {
            let worker = sluice::worker::Worker::start(config)
                .await
                .expect("the worker starts");
            worker
                .start_connectors(Vec::new())
                .await
                .expect("the connectors start");
            worker
        });
        api.ready(Arc::clone(&worker));
        InProcess {
            router: sluice::rest::router(api),
            runtime,
            worker: Some(worker),
        }
    }

    /// An API whose worker never finishes starting.
    pub fn starting() -> InProcess {
        let (runtime, api) = Self::unstarted(None);
        InProcess {
            router: sluice::rest::router(api),
            runtime,
            worker: None,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.runtime.block_on(worker.shutdown());
        }
    }
}

impl RestClient for InProcess {
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> HttpResponse {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Body::from(body.unwrap_or_default().to_string()))
            .expect("a valid request");
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router always answers");
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("the body");
            HttpResponse {
                status,
                headers,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }
        })
    }

    fn describe(&self) -> String {
        "the router in process".into()
    }
}
