//! The screener's domain, free of any AWS or HTTP dependency.
//!
//! * [`symbol`], [`bar`]: the values that cross the system's edges, parsed so that bad input is
//!   rejected where it enters, with an error that names it.
//! * [`calendar`]: NYSE trading days (weekdays minus exchange holidays).
//! * [`digest`]: a published run in brief (passing symbols per screen, where its bars are),
//!   for pages that look across many runs.
//! * [`html`]: escaping and the stylesheet shared by the HTML reports.
//! * [`ports`]: the small traits the handlers depend on (store, market data, secrets, metrics,
//!   notifier, brokerage, re-runs) and [`local`], their local adapters (a directory,
//!   environment variables, log lines, in-memory recorders).
//! * [`results`]: the published `results.csv` read back as a table.
//! * [`synthetic`] and [`csv_source`]: the offline market data sources; [`splitmix`], the
//!   pseudo-random generator the synthetic market (and other made-up data) draws from.
//! * [`validation`]: per-symbol bar checks that repair or reject, as data.
//! * [`backtest`]: the backtest workflow's request, variants, work items and step contracts.
//! * [`workflow`]: the typed inputs and outputs of every workflow step, the storage layout, and
//!   the stable error names the state machine's `Retry`/`Catch` match.

pub mod backtest;
pub mod bar;
pub mod calendar;
pub mod catalogue;
pub mod config;
pub mod csv_source;
pub mod deps;
pub mod digest;
pub mod html;
pub mod local;
pub mod ports;
pub mod results;
pub mod splitmix;
pub mod symbol;
pub mod synthetic;
pub mod validation;
pub mod workflow;

pub use bar::Bar;
pub use deps::Deps;
pub use splitmix::SplitMix64;
pub use symbol::Symbol;
