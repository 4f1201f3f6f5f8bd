//! Telegram for the screener, used by the bot (`functions/bot`) and the publish step's alerts
//! (`functions/publish`):
//!
//! * [`api`]: the Bot API: updates in, HTML messages out (escaping, splitting a long reply),
//!   and the client that sends at Telegram's pace;
//! * [`notifier`]: [`TelegramNotifier`], the [`Notifier`](screener_core::ports::Notifier) port
//!   on that client (the composition root, `screener-composition`, builds it);
//! * [`subscriptions`]: which chat follows which screens, one document in the store;
//! * [`alerts`]: the fan-out after a publish: what entered and left each followed screen, once
//!   per run date.

pub mod alerts;
pub mod api;
pub mod notifier;
pub mod subscriptions;

pub use notifier::TelegramNotifier;
