//! Workspace integration tests: one test binary, one module per area.

mod bot;
mod remote;
mod template;
mod workflow;
