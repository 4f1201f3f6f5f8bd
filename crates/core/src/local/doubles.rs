//! Test doubles of two ports, for other crates' tests and benchmarks (the `test-doubles`
//! feature): nothing in production records metrics or messages in memory.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{
    Delivery, MetricDatum, Metrics, MetricsError, Notification, Notifier, NotifierError,
};

/// Metrics kept in memory (tests; the `test-doubles` feature).
#[derive(Default)]
pub struct MemoryMetrics {
    recorded: Mutex<Vec<MetricDatum>>,
}

impl MemoryMetrics {
    pub fn recorded(&self) -> Vec<MetricDatum> {
        self.recorded.lock().unwrap().clone()
    }
}

#[async_trait]
impl Metrics for MemoryMetrics {
    async fn publish(&self, data: &[MetricDatum]) -> Result<(), MetricsError> {
        self.recorded.lock().unwrap().extend_from_slice(data);
        Ok(())
    }
}

/// A notifier that keeps what it is asked to send, and answers every chat `Sent` (tests; the
/// `test-doubles` feature).
#[derive(Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<Notification>>,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<Notification> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for MemoryNotifier {
    async fn ready(&self) -> Result<(), NotifierError> {
        Ok(())
    }

    async fn send(
        &self,
        messages: Vec<Notification>,
    ) -> Result<Vec<(i64, Delivery)>, NotifierError> {
        let mut chats: Vec<i64> = Vec::new();
        for message in &messages {
            if !chats.contains(&message.chat) {
                chats.push(message.chat);
            }
        }
        self.sent.lock().unwrap().extend(messages);
        Ok(chats.into_iter().map(|c| (c, Delivery::Sent)).collect())
    }
}
