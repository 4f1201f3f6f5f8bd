//! `CloudWatchMetrics` against moto's CloudWatch. A counting interceptor on the adapter's
//! client counts the requests that go over the wire.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_cloudwatch::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudwatch::error::BoxError;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, StandardUnit, Statistic};
use screener_aws::{CloudWatchMetrics, MAX_DATA_PER_CALL};
use screener_core::ports::{MetricDatum, MetricUnit, Metrics};

#[derive(Debug, Clone, Default)]
struct CountRequests(Arc<AtomicUsize>);

impl CountRequests {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The adapter on a client that only it uses, so the counter counts its calls alone.
fn counted_metrics(config: &SdkConfig, namespace: &str) -> (CloudWatchMetrics, CountRequests) {
    let counter = CountRequests::default();
    let client = Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(config)
            .interceptor(counter.clone())
            .build(),
    );
    (CloudWatchMetrics::new(client, namespace, "test"), counter)
}

async fn metric_names(client: &Client, namespace: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut pages = client
        .list_metrics()
        .namespace(namespace)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        for metric in page.unwrap().metrics() {
            let dimensions = metric
                .dimensions()
                .iter()
                .map(|d| {
                    (
                        d.name().unwrap_or_default().to_string(),
                        d.value().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            found.push((
                metric.metric_name().unwrap_or_default().to_string(),
                dimensions,
            ));
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn a_batch_of_25_metrics_lands_in_one_call_and_reads_back() {
    let Some(config) = crate::config().await else {
        return;
    };
    let namespace = format!("Screener/{}", crate::unique("test"));
    let (metrics, calls) = counted_metrics(&config, &namespace);
    let data: Vec<MetricDatum> = (0..25)
        .map(|i| {
            MetricDatum::new(&format!("Metric{i:02}"), f64::from(i), MetricUnit::Count)
                .with_dimension("Screen", "momentum")
        })
        .collect();
    metrics.publish(&data).await.unwrap();
    assert_eq!(calls.count(), 1, "25 data fit one PutMetricData call");

    let client = Client::new(&config);
    let listed = metric_names(&client, &namespace).await;
    assert_eq!(listed.len(), 25, "{listed:?}");
    for (name, dimensions) in &listed {
        let mut dimensions = dimensions.clone();
        dimensions.sort();
        assert_eq!(
            dimensions,
            vec![
                ("Environment".to_string(), "test".to_string()),
                ("Screen".to_string(), "momentum".to_string())
            ],
            "{name}"
        );
    }

    let now = std::time::SystemTime::now();
    let statistics = client
        .get_metric_statistics()
        .namespace(&namespace)
        .metric_name("Metric07")
        .dimensions(
            Dimension::builder()
                .name("Environment")
                .value("test")
                .build(),
        )
        .dimensions(
            Dimension::builder()
                .name("Screen")
                .value("momentum")
                .build(),
        )
        .start_time(DateTime::from(now - std::time::Duration::from_secs(600)))
        .end_time(DateTime::from(now + std::time::Duration::from_secs(600)))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .send()
        .await
        .unwrap();
    let points = statistics.datapoints();
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(points[0].sum(), Some(7.0));
    assert_eq!(points[0].sample_count(), Some(1.0));
    assert_eq!(points[0].unit(), Some(&StandardUnit::Count));
}

#[tokio::test]
async fn more_data_than_one_call_takes_go_out_in_as_few_calls_as_allowed() {
    let Some(config) = crate::config().await else {
        return;
    };
    let namespace = format!("Screener/{}", crate::unique("test"));
    let (metrics, calls) = counted_metrics(&config, &namespace);
    let data: Vec<MetricDatum> = (0..MAX_DATA_PER_CALL + 1)
        .map(|i| MetricDatum::new(&format!("M{i:04}"), 1.0, MetricUnit::Milliseconds))
        .collect();
    metrics.publish(&data).await.unwrap();
    assert_eq!(calls.count(), 2);
    let listed = metric_names(&Client::new(&config), &namespace).await;
    assert_eq!(listed.len(), MAX_DATA_PER_CALL + 1);
}

#[tokio::test]
async fn a_datum_cloudwatch_would_refuse_is_reported_and_does_not_sink_the_rest() {
    let Some(config) = crate::config().await else {
        return;
    };
    let namespace = format!("Screener/{}", crate::unique("test"));
    let (metrics, calls) = counted_metrics(&config, &namespace);
    let data = [
        MetricDatum::new("Good", 1.0, MetricUnit::Count),
        MetricDatum::new("Broken", f64::NAN, MetricUnit::Percent),
    ];
    let err = metrics.publish(&data).await.unwrap_err();
    assert!(err.to_string().contains("Broken"), "{err}");
    assert!(err.to_string().contains("published 1 of 2"), "{err}");
    assert_eq!(calls.count(), 1);
    let listed = metric_names(&Client::new(&config), &namespace).await;
    let names: Vec<&str> = listed.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, vec!["Good"]);
    // Only ours: the filter proves the Environment dimension is queryable.
    let filtered = Client::new(&config)
        .list_metrics()
        .namespace(&namespace)
        .dimensions(
            DimensionFilter::builder()
                .name("Environment")
                .value("test")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.metrics().len(), 1);
}
