//! Workspace integration tests: one test binary, one module per area.

mod alpaca;
mod aws;
mod bot;
mod lambda_runtime;
mod remote;
mod support;
mod template;
mod workflow;
