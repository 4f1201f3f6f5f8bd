//! Workspace integration tests: one test binary, one module per area.

mod alpaca;
mod analytics_cli;
mod architecture;
mod aws;
mod backtest_cli;
mod bot;
mod dashboard;
mod docs_commands;
mod feature_unification;
mod lambda_runtime;
mod remote;
mod states_cli;
mod support;
mod sweep_cli;
mod template;
mod workflow;
