//! Time, one abstraction for the whole project. The interpreter's Wait states, Retry back-off
//! and Task `TimeoutSeconds`, and the Alpaca client's rate limiter, retries and circuit breaker
//! all go through a [`Clock`], so tests can run a workflow that "waits" an hour, or a client that
//! waits out a one-minute rate-limit window, in microseconds.
//!
//! Two simulated clocks, for two kinds of test: [`VirtualClock`] schedules concurrent sleeps
//! like a discrete-event simulation (the interpreter's timeouts race its tasks);
//! [`FastForwardClock`] moves time forward the moment anyone sleeps, which is what a client
//! talking to a real (loopback) server needs, since real I/O does not go through the clock.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A source of time and a way to sleep.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

    /// Seconds since the Unix epoch, to the microsecond (the unit of HTTP rate-limit headers).
    fn epoch_seconds(&self) -> f64 {
        self.now().timestamp_micros() as f64 / 1e6
    }
}

/// Real time; sleeping uses tokio's timer (needs a tokio runtime with time enabled).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Real time sped up by a factor: a 10 s sleep at factor 1000 really sleeps 10 ms,
/// and `now()` advances 1000 times faster than the wall clock.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    factor: f64,
    origin_wall: DateTime<Utc>,
    origin: Instant,
}

impl ScaledClock {
    /// `factor` must be positive; values below 1 slow time down.
    pub fn new(factor: f64) -> Self {
        assert!(
            factor > 0.0 && factor.is_finite(),
            "ScaledClock factor must be positive"
        );
        ScaledClock {
            factor,
            origin_wall: Utc::now(),
            origin: Instant::now(),
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let scaled = self.origin.elapsed().mul_f64(self.factor);
        self.origin_wall + chrono::Duration::from_std(scaled).unwrap_or(chrono::Duration::MAX)
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d.div_f64(self.factor)))
    }
}

/// Never really sleeps; advances its own `now()`. Time moves like a
/// discrete-event simulation: a pending sleep completes (moving `now()` to its
/// deadline) once it is the earliest pending sleep and has been polled again
/// with no other clock activity (a `now()` call, another sleep starting or
/// ending) in between. So a fake task that "takes" 3 s through `clock.sleep`
/// beats a 5 s timeout, and loses to a 2 s one.
///
/// Meant for tests with fake invokers that spend time only through the clock:
/// a sleep racing real I/O would complete as soon as the I/O is pending.
#[derive(Debug)]
pub struct VirtualClock {
    inner: Mutex<VirtualState>,
}

#[derive(Debug)]
struct VirtualState {
    now: DateTime<Utc>,
    /// Pending sleeps by id: their deadlines.
    pending: std::collections::BTreeMap<u64, DateTime<Utc>>,
    next_id: u64,
    activity: u64,
    slept: Vec<Duration>,
}

impl VirtualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        VirtualClock {
            inner: Mutex::new(VirtualState {
                now: start,
                pending: Default::default(),
                next_id: 0,
                activity: 0,
                slept: Vec::new(),
            }),
        }
    }

    /// Every duration passed to `sleep`, in call order (what tests assert back-off on).
    pub fn sleeps(&self) -> Vec<Duration> {
        self.inner.lock().expect("clock lock").slept.clone()
    }

    /// Move time forward without sleeping.
    pub fn advance(&self, d: Duration) {
        let mut st = self.inner.lock().expect("clock lock");
        st.now += chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        st.activity += 1;
    }
}

impl Default for VirtualClock {
    /// Starts at the current wall-clock time.
    fn default() -> Self {
        VirtualClock::new(Utc::now())
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        let mut st = self.inner.lock().expect("clock lock");
        st.activity += 1;
        st.now
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut st = self.inner.lock().expect("clock lock");
        st.slept.push(d);
        let deadline = st.now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let id = st.next_id;
        st.next_id += 1;
        Box::pin(VirtualSleep {
            clock: self,
            id,
            deadline,
            seen: None,
        })
    }
}

struct VirtualSleep<'a> {
    clock: &'a VirtualClock,
    id: u64,
    deadline: DateTime<Utc>,
    /// The clock activity count at this sleep's previous poll.
    seen: Option<u64>,
}

impl Future for VirtualSleep<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.clock.inner.lock().expect("clock lock");
        if st.now >= self.deadline {
            if st.pending.remove(&self.id).is_some() {
                st.activity += 1;
            }
            return Poll::Ready(());
        }
        match self.seen {
            None => {
                st.pending.insert(self.id, self.deadline);
                st.activity += 1;
            }
            Some(seen) => {
                let earliest = st
                    .pending
                    .iter()
                    .min_by_key(|(id, d)| (**d, **id))
                    .map(|(id, _)| *id);
                if earliest == Some(self.id) && seen == st.activity {
                    st.now = self.deadline;
                    st.pending.remove(&self.id);
                    st.activity += 1;
                    return Poll::Ready(());
                }
            }
        }
        let activity = st.activity;
        drop(st);
        self.seen = Some(activity);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for VirtualSleep<'_> {
    fn drop(&mut self) {
        if let Ok(mut st) = self.clock.inner.lock()
            && st.pending.remove(&self.id).is_some()
        {
            st.activity += 1;
        }
    }
}

/// Simulated time that jumps: `sleep` moves the clock forward at once, to the wake-up time the
/// sleeper asked for (never backwards). Sleeps that follow each other add up, as they would for
/// real; concurrent sleepers are not scheduled, so overlapping waits may be counted more than
/// once: a simulated duration is an upper bound. Time spent working is not on this clock.
#[derive(Debug)]
pub struct FastForwardClock {
    micros: AtomicU64,
    slept_micros: AtomicU64,
}

impl FastForwardClock {
    /// A clock starting at `epoch_seconds`.
    pub fn starting_at(epoch_seconds: u64) -> Self {
        FastForwardClock {
            micros: AtomicU64::new(epoch_seconds * 1_000_000),
            slept_micros: AtomicU64::new(0),
        }
    }

    /// Total time asked for by `sleep` calls (each one counted in full).
    pub fn slept(&self) -> Duration {
        Duration::from_micros(self.slept_micros.load(Ordering::SeqCst))
    }

    /// Moves the clock forward without anyone sleeping (e.g. to the next day).
    pub fn advance(&self, by: Duration) {
        self.micros
            .fetch_add(by.as_micros() as u64, Ordering::SeqCst);
    }
}

impl Clock for FastForwardClock {
    fn now(&self) -> DateTime<Utc> {
        let micros = self.micros.load(Ordering::SeqCst) as i64;
        DateTime::from_timestamp_micros(micros).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn epoch_seconds(&self) -> f64 {
        self.micros.load(Ordering::SeqCst) as f64 / 1e6
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let micros = d.as_micros() as u64;
        self.slept_micros.fetch_add(micros, Ordering::SeqCst);
        let target = self.micros.load(Ordering::SeqCst) + micros;
        self.micros.fetch_max(target, Ordering::SeqCst);
        Box::pin(tokio::task::yield_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_virtual_sleep_advances_now_without_real_waiting() {
        let start = Utc::now();
        let clock = VirtualClock::new(start);
        let real = Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now() - start, chrono::Duration::hours(1));
        assert!(real.elapsed() < Duration::from_secs(1));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(3600)]);
    }

    #[tokio::test]
    async fn racing_virtual_sleeps_lets_the_shorter_one_win() {
        let clock = VirtualClock::default();
        let r = tokio::select! {
            biased;
            _ = clock.sleep(Duration::from_secs(10)) => "long",
            _ = clock.sleep(Duration::from_secs(5)) => "short",
        };
        assert_eq!(r, "short");
        let r = tokio::select! {
            biased;
            _ = clock.sleep(Duration::from_secs(3)) => "short",
            _ = clock.sleep(Duration::from_secs(5)) => "long",
        };
        assert_eq!(r, "short");
        let start = clock.now();
        let r = tokio::select! {
            biased;
            _ = async {
                clock.sleep(Duration::from_secs(3)).await;
                tokio::task::yield_now().await;
            } => "work",
            _ = clock.sleep(Duration::from_secs(5)) => "timeout",
        };
        assert_eq!(
            r, "work",
            "a task that yields after its sleep still beats a later timeout"
        );
        assert_eq!(clock.now() - start, chrono::Duration::seconds(3));
    }

    #[tokio::test]
    async fn a_scaled_clock_divides_real_sleeps_by_its_factor() {
        let clock = ScaledClock::new(1000.0);
        let real = Instant::now();
        let before = clock.now();
        clock.sleep(Duration::from_secs(2)).await;
        assert!(real.elapsed() < Duration::from_millis(500));
        assert!(clock.now() - before >= chrono::Duration::milliseconds(1900));
    }

    #[tokio::test]
    async fn a_fast_forward_sleep_moves_time_without_waiting() {
        let clock = FastForwardClock::starting_at(1_000);
        let started = Instant::now();
        clock.sleep(Duration::from_secs(60)).await;
        assert_eq!(clock.epoch_seconds(), 1_060.0);
        assert_eq!(clock.now().timestamp(), 1_060);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn fast_forward_sleeps_add_up_and_are_counted() {
        let clock = FastForwardClock::starting_at(0);
        clock.sleep(Duration::from_secs(10)).await;
        clock.advance(Duration::from_secs(5));
        clock.sleep(Duration::from_millis(500)).await;
        assert_eq!(clock.epoch_seconds(), 15.5);
        assert_eq!(clock.slept(), Duration::from_millis(10_500));
    }

    #[test]
    fn epoch_seconds_keep_microseconds() {
        let clock = VirtualClock::new(DateTime::from_timestamp_micros(1_500_000_250).unwrap());
        assert_eq!(clock.epoch_seconds(), 1_500.000_25);
    }
}
