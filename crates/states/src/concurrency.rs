//! Running many futures at once inside one task, keeping results in input order
//! and stopping early when a failure decides the outcome (Map and Parallel).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Poll every future concurrently. After each completes, `stop(index, &output)`
/// may end the run early; the futures still pending are then dropped
/// (cancelled). Outputs come back in input order, `None` for dropped ones.
pub(crate) async fn join_until<'a, T>(
    futures: Vec<BoxFuture<'a, T>>,
    mut stop: impl FnMut(usize, &T) -> bool,
) -> Vec<Option<T>> {
    let n = futures.len();
    let mut slots: Vec<Option<BoxFuture<'a, T>>> = futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut remaining = n;
    std::future::poll_fn(|cx| {
        for i in 0..n {
            if let Some(f) = slots[i].as_mut()
                && let Poll::Ready(v) = f.as_mut().poll(cx)
            {
                slots[i] = None;
                remaining -= 1;
                let halt = stop(i, &v);
                out[i] = Some(v);
                if halt {
                    return Poll::Ready(());
                }
            }
        }
        if remaining == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    drop(slots);
    out
}
