//! What a handler is given: the ports it may use and the settings. Built once per Lambda
//! container (or once per local run) by the composition root, `screener-composition`; tests build
//! it from fakes.

use std::sync::Arc;

use crate::config::Settings;
use crate::ports::{BarSource, MarketData, Metrics, Notifier, Secrets, Store};

#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub market: Arc<dyn MarketData>,
    /// A batch's bars for fetch-bars: from `market`, through a kept history where the source
    /// has one.
    pub bars: Arc<dyn BarSource>,
    pub metrics: Arc<dyn Metrics>,
    /// SSM parameters in AWS, environment variables locally.
    pub secrets: Arc<dyn Secrets>,
    /// Messages to people's chats (Telegram): the alerts after a publish, the bot's long replies.
    pub notifier: Arc<dyn Notifier>,
    pub settings: Settings,
}
