//! Logs (human or JSON lines) and, when an OTLP endpoint is configured, trace export.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::settings::{LogFormat, TelemetrySettings};

/// Telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("invalid telemetry.log_filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// The OTLP exporter could not be built.
    #[error("cannot set up OTLP export: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// A global subscriber was already installed.
    #[error("logging was already initialised")]
    AlreadyInitialised,
}

/// Keeps trace export alive; flushes pending spans when dropped.
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports every finished span now (for tests and shutdown).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(err) = provider.force_flush()
        {
            eprintln!("trace export failed: {err}");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// The subscriber for `settings`, not yet installed.
pub fn subscriber(
    settings: &TelemetrySettings,
) -> Result<(impl Subscriber + Send + Sync + 'static, TelemetryGuard), TelemetryError> {
    let filter = EnvFilter::try_new(&settings.log_filter)?;
    let logs = match settings.log_format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let provider = settings
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| otlp_provider(endpoint, &settings.service_name))
        .transpose()?;
    let traces = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("coffer"))
            .boxed()
    });
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces);
    Ok((subscriber, TelemetryGuard { provider }))
}

/// Installs the subscriber for the whole process.
pub fn init(settings: &TelemetrySettings) -> Result<TelemetryGuard, TelemetryError> {
    let (subscriber, guard) = subscriber(settings)?;
    subscriber
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialised)?;
    Ok(guard)
}

fn otlp_provider(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let base = endpoint.trim_end_matches('/');
    let url = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(url)
        .build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::routing::post;

    use super::*;

    #[test]
    fn rejects_a_bad_filter() {
        let settings = TelemetrySettings {
            log_filter: "info,[".into(),
            ..Default::default()
        };
        assert!(matches!(
            subscriber(&settings),
            Err(TelemetryError::Filter(_))
        ));
    }

    /// Spans reach a collector over OTLP/HTTP (a stand-in collector records the requests).
    #[test]
    fn exports_spans_to_the_configured_collector() {
        let received: Arc<Mutex<Vec<(String, Bytes)>>> = Arc::default();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = received.clone();
        let collector = Router::new().route(
            "/v1/traces",
            post(
                move |headers: axum::http::HeaderMap, body: Bytes| async move {
                    let content_type = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    sink.lock().unwrap().push((content_type, body));
                },
            ),
        );
        runtime.spawn(async move { axum::serve(listener, collector).await });

        let settings = TelemetrySettings {
            otlp_endpoint: Some(format!("http://{addr}")),
            service_name: "coffer-test".into(),
            ..Default::default()
        };
        let (subscriber, guard) = subscriber(&settings).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("request", path = "/api/v1/account").in_scope(|| {
                tracing::info!("inside the span");
            });
        });
        guard.flush();

        let received = received.lock().unwrap();
        assert_eq!(received.len(), 1, "one export request");
        let (content_type, body) = &received[0];
        assert_eq!(content_type, "application/x-protobuf");
        let body = String::from_utf8_lossy(body);
        assert!(body.contains("coffer-test"), "service name is exported");
        assert!(body.contains("request"), "span name is exported");
    }
}
