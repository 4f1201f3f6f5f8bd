//! Running the real Lambda binaries outside AWS: a loopback Lambda Runtime API
//! ([`runtime_api`]) and a function process driven through it ([`function`]).
//!
//! The workspace integration tests (`tests/lambda_runtime.rs`) use these to check every
//! function binary against its `events/` file; the `lambda-bench` binary uses them to measure
//! cold start, peak memory and deployment size (see `docs/lambda.md`).

pub mod function;
pub mod runtime_api;
