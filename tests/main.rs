//! Workspace integration tests: one test binary, one module per area.

mod remote;
mod template;
mod workflow;
