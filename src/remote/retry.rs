//! Jittered exponential backoff for remote calls, within an overall deadline.

use super::Failure;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts in all (first try included).
    pub attempts: u32,
    /// Delay before the second attempt; doubles each time.
    pub base: Duration,
    /// Largest single delay.
    pub max_delay: Duration,
    /// No new attempt starts after this much time since the first.
    pub deadline: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 5,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(25),
        }
    }
}

/// Runs `op` until it succeeds, fails permanently, or the policy is spent.
/// Each retry is logged as one line naming the call and the reason.
pub async fn run<T, F, Fut>(policy: Policy, mut op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let start = Instant::now();
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(f) if !f.is_transient() || attempt >= policy.attempts => return Err(f),
            Err(f) => {
                let exp = policy
                    .base
                    .saturating_mul(1 << (attempt - 1).min(16))
                    .min(policy.max_delay);
                // Full jitter in [exp/2, exp].
                let jitter = exp.mul_f64(0.5 + fastrand::f64() / 2.0);
                let wait = match f.retry_after {
                    Some(s) => Duration::from_secs(s).min(policy.max_delay).max(jitter),
                    None => jitter,
                };
                if start.elapsed() + wait > policy.deadline {
                    return Err(f);
                }
                crate::log::warn(&format!(
                    "{f}; retrying in {} ms (attempt {}/{})",
                    wait.as_millis(),
                    attempt + 1,
                    policy.attempts
                ));
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}
