//! A local Amazon States Language interpreter with AWS Step Functions semantics.
//!
//! The same `statemachine/*.asl.json` that Step Functions runs in AWS runs here,
//! with Task states calling in-process handlers through a [`TaskInvoker`].
//!
//! The shape follows LocalStack's interpreter: [`StateMachine::parse`] validates
//! the JSON and reads it into a serde tree (one module per state type under
//! [`states`]); [`execute`] walks it, recording an AWS-shaped history.
//!
//! ```no_run
//! # async fn demo(invoker: std::sync::Arc<dyn screener_states::TaskInvoker>) -> Result<(), Box<dyn std::error::Error>> {
//! use screener_states::{ExecutionOptions, StateMachine, execute, substitute};
//! let subs = [("FetchBarsFunctionArn".to_owned(), "arn:aws:lambda:us-east-1:1:function:fetch-bars".to_owned())].into();
//! let json = substitute(&std::fs::read_to_string("statemachine/screener.asl.json")?, &subs)?;
//! let machine = StateMachine::parse(&json)?;
//! let run = execute(&machine, serde_json::json!({}), invoker, ExecutionOptions::default()).await;
//! println!("{:?} {:?}", run.status, run.output);
//! # Ok(()) }
//! ```
//!
//! Module map: `definition` (the parsed tree), `validate` (static checks),
//! `execution` (the evaluation loop), `states/*` (one file per state type),
//! `io` (InputPath/Parameters/ResultSelector/ResultPath/OutputPath), `paths`
//! (JSONPath), `intrinsics` (`States.*` functions), `jsonata` (the JSONata
//! query language), `key_order` (object keys in AWS's order), `retry`
//! (Retry/Catch), `test_state` (the TestState API), `clock`, `history`,
//! `invoker`, `store` (the object store a Distributed Map reads and writes:
//! S3 in AWS, a directory or memory here), `map_run` (a Distributed Map's Map
//! Run and child executions; the Map itself is `states/map/`), `redrive`
//! (running a failed execution again from where it stopped).
//!
//! Conformance: `tests/conformance.rs` replays a corpus recorded against real
//! AWS (set `ASL_CONFORMANCE_CASES`), and the Distributed Map cases beside it.
//! What is not supported locally, and why, is in the crate's `README.md`:
//! among it callback/sync integration patterns beyond what the invoker does,
//! heartbeats (`HeartbeatSeconds` is accepted and never fires), Parquet and
//! Athena-manifest item readers, and redriving a branch from the step it
//! failed in.

/// Time: the project's one [`Clock`] abstraction (`screener-clock`).
pub use screener_clock as clock;
mod concurrency;
pub mod definition;
pub mod error;
mod execution;
pub mod history;
pub mod intrinsics;
pub mod invoker;
mod io;
pub mod jsonata;
mod key_order;
pub mod map_run;
pub mod paths;
pub mod redrive;
pub mod retry;
pub mod states;
pub mod store;
mod substitute;
pub mod test_state;
#[cfg(test)]
mod testing;
pub mod validate;

pub use clock::{Clock, ScaledClock, SystemClock, VirtualClock};
pub use definition::{State, StateMachine};
pub use error::{DefinitionError, Fault, Problem};
pub use execution::{Execution, ExecutionOptions, ExecutionStatus, MAX_PAYLOAD_BYTES, execute};
pub use history::{HistoryEvent, Observer, RETRY_SCHEDULED};
pub use invoker::{TaskCall, TaskFailure, TaskInvoker};
pub use map_run::{ChildExecution, ChildStatus, MapRun, MapRunStatus};
pub use redrive::{ExecutionRecord, RedriveError, ResumePoint, redrive};
pub use store::{DirectoryStore, MemoryStore, ObjectStore, ObjectSummary, StoreError, etag};
pub use substitute::substitute;
pub use test_state::{
    InspectionLevel, Mock, TestStateRequest, TestStateResult, TestStatus, test_state,
};
