//! Workspace integration tests: one test binary, one module per area.

mod alpaca;
mod bot;
mod remote;
mod template;
mod workflow;
