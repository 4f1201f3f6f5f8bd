//! What a step handler is given: the ports it may use and the settings. Built once per Lambda
//! container (or once per local run) by `screener-runtime`.

use std::sync::Arc;

use crate::config::Settings;
use crate::ports::{MarketData, Metrics, Store};

#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn Store>,
    pub market: Arc<dyn MarketData>,
    pub metrics: Arc<dyn Metrics>,
    pub settings: Settings,
}
