//! Throttling of failed authentications (presence logins, configuration API credentials): per
//! account first, per source address at a far higher rate (contact centers put hundreds of
//! agents behind one address).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consecutive failures before an account is locked.
pub const ACCOUNT_FAILURES: u32 = 5;
/// First lock; each further failure doubles it.
pub const FIRST_LOCK: Duration = Duration::from_secs(30);
/// Longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures per address within [`ADDRESS_WINDOW`] before the address is refused.
pub const ADDRESS_FAILURES: u32 = 200;
pub const ADDRESS_WINDOW: Duration = Duration::from_secs(60);
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
struct Account {
    failures: u32,
    locked_until: Option<Instant>,
}

struct Address {
    window_start: Instant,
    failures: u32,
}

#[derive(Default)]
pub struct FailureThrottle {
    accounts: Mutex<HashMap<String, Account>>,
    addresses: Mutex<HashMap<IpAddr, Address>>,
}

impl FailureThrottle {
    /// `Err(retry_after)` while the account or the address is locked.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        if let Some(until) = self.lock_accounts().get(account).and_then(|a| a.locked_until)
            && until > now
        {
            return Err(until - now);
        }
        if let Some(ip) = address
            && let Some(entry) = self.lock_addresses().get(&ip)
        {
            let elapsed = now.duration_since(entry.window_start);
            if elapsed < ADDRESS_WINDOW && entry.failures >= ADDRESS_FAILURES {
                return Err(ADDRESS_WINDOW - elapsed);
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, account: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        {
            let mut accounts = self.lock_accounts();
            if accounts.len() >= MAX_ENTRIES {
                accounts.retain(|_, a| a.locked_until.is_some_and(|u| u > now));
            }
            let entry = accounts.entry(account.to_string()).or_default();
            entry.failures = entry.failures.saturating_add(1);
            if entry.failures >= ACCOUNT_FAILURES {
                let doublings = (entry.failures - ACCOUNT_FAILURES).min(16);
                let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
                entry.locked_until = Some(now + lock);
            }
        }
        if let Some(ip) = address {
            let mut addresses = self.lock_addresses();
            if addresses.len() >= MAX_ENTRIES {
                addresses.retain(|_, a| now.duration_since(a.window_start) < ADDRESS_WINDOW);
            }
            let entry = addresses.entry(ip).or_insert(Address { window_start: now, failures: 0 });
            if now.duration_since(entry.window_start) >= ADDRESS_WINDOW {
                *entry = Address { window_start: now, failures: 0 };
            }
            entry.failures = entry.failures.saturating_add(1);
        }
    }

    pub fn record_success(&self, account: &str) {
        self.lock_accounts().remove(account);
    }

    fn lock_accounts(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_addresses(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Address>> {
        self.addresses.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_five_failures_and_the_lock_doubles() {
        let throttle = FailureThrottle::default();
        for _ in 0..4 {
            throttle.record_failure("agent", None);
            assert!(throttle.check("agent", None).is_ok());
        }
        throttle.record_failure("agent", None);
        let first = throttle.check("agent", None).expect_err("locked");
        assert!(first <= FIRST_LOCK && first > FIRST_LOCK - Duration::from_secs(2));
        throttle.record_failure("agent", None);
        let second = throttle.check("agent", None).expect_err("locked");
        assert!(second > FIRST_LOCK);
        assert!(throttle.check("other", None).is_ok(), "other accounts are not affected");
        throttle.record_success("agent");
        assert!(throttle.check("agent", None).is_ok());
    }

    #[test]
    fn an_address_is_refused_only_at_a_far_higher_rate() {
        let throttle = FailureThrottle::default();
        let ip: IpAddr = [10, 0, 0, 1].into();
        for i in 0..ADDRESS_FAILURES {
            assert!(throttle.check(&format!("fresh{i}"), Some(ip)).is_ok());
            throttle.record_failure(&format!("user{i}"), Some(ip));
        }
        assert!(throttle.check("fresh", Some(ip)).is_err());
        assert!(throttle.check("fresh", Some([10, 0, 0, 2].into())).is_ok());
    }
}
