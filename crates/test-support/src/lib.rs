//! Stand-ins for the outside world in tests and benchmarks.
//!
//! * [`loopback`]: the one loopback HTTP/1.1 server every fake HTTP service is built on (the
//!   Alpaca, Telegram and Step Functions stand-ins, the Lambda Runtime API).
//! * [`chromium`]: headless Chromium, for screenshots of the pages we render and, through
//!   Debian's `chromedriver`, for driving the dashboard.
//! * [`client`]: a blocking HTTP/1.1 client for servers a test started (the built binaries,
//!   chromedriver).
//! * [`process`]: this process's CPU time and peak memory, for benchmarks' figures.
//! * [`bars`]: a deterministic random-walk bars CSV.
//! * [`rng`]: the tests' fixed pseudo-random streams (xorshift64 and xorshift64*).

pub mod bars;
pub mod chromium;
pub mod client;
pub mod loopback;
pub mod process;
pub mod rng;

pub use loopback::{LoopbackServer, Reply};
