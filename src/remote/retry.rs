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
    /// No new attempt starts after this much time since the first; with
    /// [`call`], an attempt in flight is cut at it too.
    pub deadline: Duration,
}

/// Deadline of a login: an unreachable or sealed Vault fails the whole run
/// within 30 s.
pub const LOGIN_DEADLINE: Duration = Duration::from_secs(20);
/// Deadline of the cleanup calls (revocation): they run last, sometimes in a
/// cancelled job that is about to be killed.
pub const CLEANUP_DEADLINE: Duration = Duration::from_secs(10);

impl Default for Policy {
    /// Six attempts over about 4 to 8 s of backoff (rides out a standby
    /// taking over), never past 25 s.
    fn default() -> Self {
        Policy {
            attempts: 6,
            base: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(25),
        }
    }
}

impl Policy {
    /// This policy with its deadline cut to at most `deadline`.
    pub fn within(self, deadline: Duration) -> Policy {
        Policy {
            deadline: self.deadline.min(deadline),
            ..self
        }
    }

    /// The wait before attempt `attempt + 1`: full jitter in [exp/2, exp],
    /// or the server's `Retry-After` when longer (capped at `max_delay`).
    fn wait(&self, attempt: u32, retry_after: Option<u64>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1 << (attempt.saturating_sub(1)).min(16))
            .min(self.max_delay);
        let jitter = exp.mul_f64(0.5 + fastrand::f64() / 2.0);
        match retry_after {
            Some(s) => Duration::from_secs(s).min(self.max_delay).max(jitter),
            None => jitter,
        }
    }
}

/// Runs `op` until it succeeds, fails permanently, or the policy is spent.
/// Each retry is logged as one line naming the call and the reason.
pub async fn run<T, F, Fut>(policy: Policy, op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    run_inner(policy, None, op).await
}

/// Like [`run`], and an attempt still in flight at the deadline is cut
/// there: a server that accepts and never answers fails this call within
/// `policy.deadline`, as `service` not answering `what`.
pub async fn call<T, F, Fut>(policy: Policy, service: &'static str, what: &str, op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    run_inner(policy, Some((service, what)), op).await
}

async fn run_inner<T, F, Fut>(policy: Policy, bound: Option<(&'static str, &str)>, mut op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let start = Instant::now();
    let mut attempt = 1;
    loop {
        let result = match bound {
            None => op().await,
            Some((service, what)) => {
                let left = policy.deadline.saturating_sub(start.elapsed());
                match tokio::time::timeout(left, op()).await {
                    Ok(r) => r,
                    Err(_) => {
                        return Err(Failure {
                            service,
                            what: what.to_string(),
                            status: None,
                            errors: vec![format!("no answer within {} s", policy.deadline.as_secs())],
                            retry_after: None,
                        });
                    }
                }
            }
        };
        match result {
            Ok(v) => return Ok(v),
            Err(f) if !f.is_transient() => return Err(f),
            Err(f) if attempt >= policy.attempts => return Err(gave_up(f, attempt, start)),
            Err(f) => {
                let wait = policy.wait(attempt, f.retry_after);
                if start.elapsed() + wait > policy.deadline {
                    return Err(gave_up(f, attempt, start));
                }
                // A plain line, not an annotation: GitHub shows only 10 per step.
                crate::log::info(&format!(
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

/// The last failure, noting how long it was retried (when it was).
fn gave_up(mut f: Failure, attempts: u32, start: Instant) -> Failure {
    if attempts > 1 {
        f.errors.push(format!(
            "gave up after {attempts} attempts in {:.1} s",
            start.elapsed().as_secs_f64()
        ));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Policy {
        Policy {
            attempts: 4,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            deadline: Duration::from_secs(2),
        }
    }

    fn fail(status: Option<u16>) -> Failure {
        Failure {
            service: "Test",
            what: "call".into(),
            status,
            errors: vec!["no".into()],
            retry_after: None,
        }
    }

    async fn count(policy: Policy, status: Option<u16>, succeed_after: u32) -> (Result<u32, Failure>, u32) {
        let mut n = 0;
        let r = run(policy, || {
            n += 1;
            let n = n;
            async move { if n > succeed_after { Ok(n) } else { Err(fail(status)) } }
        })
        .await;
        (r, n)
    }

    #[tokio::test]
    async fn transient_failures_are_retried_others_not() {
        for s in [
            None,
            Some(412),
            Some(429),
            Some(500),
            Some(502),
            Some(503),
            Some(504),
            Some(507),
        ] {
            let (r, n) = count(quick(), s, 2).await;
            assert_eq!((r.ok(), n), (Some(3), 3), "{s:?}");
        }
        for s in [Some(400), Some(401), Some(403), Some(404), Some(405), Some(501)] {
            let (r, n) = count(quick(), s, 2).await;
            assert!(r.is_err(), "{s:?}");
            assert_eq!(n, 1, "{s:?} is not retried");
        }
        let (r, n) = count(quick(), Some(503), 10).await;
        assert!(r.is_err());
        assert_eq!(n, 4, "gives up after the attempts");
    }

    #[tokio::test]
    async fn retry_after_is_honoured_and_the_deadline_cuts_a_hang() {
        let p = Policy {
            max_delay: Duration::from_secs(2),
            ..quick()
        };
        assert!(p.wait(1, Some(1)) >= Duration::from_secs(1));
        assert!(p.wait(1, Some(60)) <= Duration::from_secs(2), "capped");
        let started = Instant::now();
        let r: Result<(), Failure> = call(p.within(Duration::from_millis(300)), "Test", "hang", || {
            std::future::pending()
        })
        .await;
        let f = r.expect_err("cut at the deadline");
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(f.status, None);
        assert!(f.to_string().contains("hang: no answer from Test"), "{f}");
    }
}
