//! [`Metrics`] as CloudWatch `PutMetricData` calls: the AWS twin of
//! [`screener_core::local::LogMetrics`].
//!
//! Every datum carries the `Environment` dimension (`dev`, `prod`) before its own, so dashboards
//! and alarms can tell the deployments apart. Data go out in as few calls as the API allows.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{self, Dimension, StandardUnit};
use screener_core::ports::{MetricDatum, MetricUnit, Metrics, MetricsError};

use crate::sdk_error;

/// Metric data in one `PutMetricData` call. From the API reference in the SDK's docs for
/// `PutMetricData` (aws-sdk-cloudwatch 1.99 and 1.140 alike, `operation::put_metric_data`):
/// "Each request is also limited to no more than 1000 different metrics (across both the
/// MetricData and EntityMetricData properties)"; "The array can include no more than 1000
/// metrics per call."
pub const MAX_DATA_PER_CALL: usize = 1000;

/// The same reference: "Each PutMetricData request is limited to 1 MB in size for HTTP POST
/// requests." Batches stay under this estimate, leaving room for the envelope.
const MAX_BYTES_PER_CALL: usize = 900_000;

/// Dimensions CloudWatch accepts on one metric; ours include `Environment`.
const MAX_DIMENSIONS: usize = 30;

pub const ENVIRONMENT_DIMENSION: &str = "Environment";

#[derive(Debug, Clone)]
pub struct CloudWatchMetrics {
    client: Client,
    namespace: String,
    environment: String,
}

impl CloudWatchMetrics {
    /// Metrics under `namespace` (e.g. `Screener`), tagged `Environment=environment`.
    pub fn new(
        client: Client,
        namespace: impl Into<String>,
        environment: impl Into<String>,
    ) -> Self {
        CloudWatchMetrics {
            client,
            namespace: namespace.into(),
            environment: environment.into(),
        }
    }

    /// An adapter with its own client from `config`. No network I/O.
    pub fn from_config(
        config: &SdkConfig,
        namespace: impl Into<String>,
        environment: impl Into<String>,
    ) -> Self {
        Self::new(Client::new(config), namespace, environment)
    }

    fn to_cloudwatch(&self, datum: &MetricDatum) -> types::MetricDatum {
        let environment = Dimension::builder()
            .name(ENVIRONMENT_DIMENSION)
            .value(&self.environment)
            .build();
        let own = datum
            .dimensions
            .iter()
            .map(|(name, value)| Dimension::builder().name(name).value(value).build());
        types::MetricDatum::builder()
            .metric_name(&datum.name)
            .value(datum.value)
            .unit(standard_unit(datum.unit))
            .set_dimensions(Some(std::iter::once(environment).chain(own).collect()))
            .build()
    }

    /// Why CloudWatch would refuse `datum` (and with it the whole call), if it would.
    fn refusal(datum: &MetricDatum) -> Option<String> {
        if !datum.value.is_finite() {
            Some(format!(
                "{}: value {} is not a finite number",
                datum.name, datum.value
            ))
        } else if datum.dimensions.len() + 1 > MAX_DIMENSIONS {
            Some(format!(
                "{}: {} dimensions plus {ENVIRONMENT_DIMENSION}, CloudWatch takes at most {MAX_DIMENSIONS}",
                datum.name,
                datum.dimensions.len()
            ))
        } else if datum.name.is_empty() {
            Some("a metric without a name".to_string())
        } else {
            None
        }
    }

    /// A generous estimate of the bytes one datum adds to a Query-protocol request: member
    /// paths such as `MetricData.member.1000.Dimensions.member.30.Value=` plus the text,
    /// allowing for percent-encoding.
    fn estimated_bytes(&self, datum: &MetricDatum) -> usize {
        let dimension = |name: &str, value: &str| 100 + 3 * (name.len() + value.len());
        150 + 3 * datum.name.len()
            + dimension(ENVIRONMENT_DIMENSION, &self.environment)
            + datum
                .dimensions
                .iter()
                .map(|(n, v)| dimension(n, v))
                .sum::<usize>()
    }

    /// Splits `data` into consecutive runs that each fit one `PutMetricData` call.
    fn batches<'a>(&self, data: &'a [MetricDatum]) -> Vec<&'a [MetricDatum]> {
        let mut batches = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for (i, datum) in data.iter().enumerate() {
            let size = self.estimated_bytes(datum);
            if i > start && (i - start == MAX_DATA_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
                batches.push(&data[start..i]);
                start = i;
                bytes = 0;
            }
            bytes += size;
        }
        if start < data.len() {
            batches.push(&data[start..]);
        }
        batches
    }
}

fn standard_unit(unit: MetricUnit) -> StandardUnit {
    match unit {
        MetricUnit::Count => StandardUnit::Count,
        MetricUnit::Seconds => StandardUnit::Seconds,
        MetricUnit::Milliseconds => StandardUnit::Milliseconds,
        MetricUnit::Percent => StandardUnit::Percent,
        MetricUnit::None => StandardUnit::None,
    }
}

#[async_trait]
impl Metrics for CloudWatchMetrics {
    /// Publishes every datum CloudWatch would accept, in as few calls as possible. Data it
    /// would refuse (NaN, infinity, too many dimensions) are left out, so they can't sink the
    /// rest, and reported in the error together with any call that failed.
    async fn publish(&self, data: &[MetricDatum]) -> Result<(), MetricsError> {
        let mut problems = Vec::new();
        let accepted: Vec<MetricDatum> = data
            .iter()
            .filter(|datum| match Self::refusal(datum) {
                Some(reason) => {
                    problems.push(format!("left out {reason}"));
                    false
                }
                None => true,
            })
            .cloned()
            .collect();
        let mut published = 0;
        for batch in self.batches(&accepted) {
            let result = self
                .client
                .put_metric_data()
                .namespace(&self.namespace)
                .set_metric_data(Some(batch.iter().map(|d| self.to_cloudwatch(d)).collect()))
                .send()
                .await;
            match result {
                Ok(_) => published += batch.len(),
                Err(err) => problems.push(sdk_error::describe("PutMetricData", &err)),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(MetricsError(format!(
                "published {published} of {} data to namespace {:?}; {}",
                data.len(),
                self.namespace,
                problems.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> CloudWatchMetrics {
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
            .build();
        CloudWatchMetrics::new(Client::from_conf(config), "Screener", "dev")
    }

    fn data(n: usize) -> Vec<MetricDatum> {
        (0..n)
            .map(|i| MetricDatum::new(&format!("m{i}"), i as f64, MetricUnit::Count))
            .collect()
    }

    #[test]
    fn data_go_out_in_calls_of_at_most_the_api_limit_in_order() {
        let metrics = metrics();
        assert!(metrics.batches(&[]).is_empty());
        assert_eq!(metrics.batches(&data(25)).len(), 1);
        let all = data(2 * MAX_DATA_PER_CALL + 1);
        let batches = metrics.batches(&all);
        let sizes: Vec<usize> = batches.iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![MAX_DATA_PER_CALL, MAX_DATA_PER_CALL, 1]);
        assert_eq!(batches.concat(), all);
    }

    #[test]
    fn large_data_are_split_to_stay_under_the_request_size_limit() {
        let metrics = metrics();
        let long = "x".repeat(1000);
        let big: Vec<MetricDatum> = (0..MAX_DATA_PER_CALL)
            .map(|i| {
                MetricDatum::new(&format!("m{i}"), 1.0, MetricUnit::Count)
                    .with_dimension("Screen", &long)
            })
            .collect();
        let batches = metrics.batches(&big);
        assert!(batches.len() > 1);
        for batch in batches {
            let bytes: usize = batch.iter().map(|d| metrics.estimated_bytes(d)).sum();
            assert!(bytes <= MAX_BYTES_PER_CALL);
        }
    }

    #[test]
    fn every_datum_gets_the_environment_dimension_first_then_its_own_and_its_unit() {
        let datum = MetricDatum::new("SymbolsScreened", 3.0, MetricUnit::Milliseconds)
            .with_dimension("Screen", "momentum");
        let converted = metrics().to_cloudwatch(&datum);
        let dimensions: Vec<(&str, &str)> = converted
            .dimensions()
            .iter()
            .map(|d| (d.name().unwrap(), d.value().unwrap()))
            .collect();
        assert_eq!(
            dimensions,
            vec![("Environment", "dev"), ("Screen", "momentum")]
        );
        assert_eq!(converted.unit(), Some(&StandardUnit::Milliseconds));
        assert_eq!(converted.metric_name(), Some("SymbolsScreened"));
        assert_eq!(converted.value(), Some(3.0));
    }

    #[test]
    fn every_unit_maps_to_the_cloudwatch_unit_of_the_same_name() {
        for unit in [
            MetricUnit::Count,
            MetricUnit::Seconds,
            MetricUnit::Milliseconds,
            MetricUnit::Percent,
            MetricUnit::None,
        ] {
            assert_eq!(standard_unit(unit).as_str(), unit.as_str());
        }
    }

    #[test]
    fn data_cloudwatch_would_refuse_are_named() {
        let nan = MetricDatum::new("Ratio", f64::NAN, MetricUnit::None);
        assert!(CloudWatchMetrics::refusal(&nan).unwrap().contains("Ratio"));
        let mut crowded = MetricDatum::new("Crowded", 1.0, MetricUnit::Count);
        for i in 0..30 {
            crowded = crowded.with_dimension(&format!("d{i}"), "v");
        }
        assert!(CloudWatchMetrics::refusal(&crowded).is_some());
        let fine = MetricDatum::new("Fine", 1.0, MetricUnit::Count);
        assert!(CloudWatchMetrics::refusal(&fine).is_none());
    }
}
