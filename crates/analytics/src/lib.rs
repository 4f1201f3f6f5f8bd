//! Indicators and declarative screens over daily bars.
mod kernels;
pub use kernels::INDICATOR_NAMES;
