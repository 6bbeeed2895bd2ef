//! Who may see and change whose presence, decided by CTI profile policy.

use super::cti_profile::Scope;

/// May a user whose profile grants `scope` (to view or to change) act on `target_id`?
pub fn allows(scope: Scope, actor_id: i64, target_id: i64) -> bool {
    match scope {
        Scope::All => true,
        Scope::SelfOnly => actor_id == target_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_scope_only_allows_the_actor() {
        assert!(allows(Scope::SelfOnly, 1, 1));
        assert!(!allows(Scope::SelfOnly, 1, 2));
    }

    #[test]
    fn all_scope_allows_anyone() {
        assert!(allows(Scope::All, 1, 2));
        assert!(allows(Scope::All, 2, 2));
    }
}
