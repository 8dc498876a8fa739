use crate::DomainError;

/// Who may create an account through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupPolicy {
    /// Anyone.
    Open,
    /// Only holders of a valid invitation (the very first account needs none).
    InviteOnly,
    /// Nobody: accounts are made by administrators with the command line.
    Closed,
}

/// What a sign-up attempt must satisfy, decided by the policy and the installation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignupDecision {
    /// The installation has no account yet: this one becomes its administrator.
    FirstAdministrator,
    /// An ordinary account, no invitation needed.
    Member,
    /// An ordinary account, only with a valid invitation.
    MemberWithInvite,
}

impl SignupPolicy {
    /// Decides on a sign-up given how many accounts already exist.
    pub fn decide(self, existing_users: u64) -> Result<SignupDecision, DomainError> {
        match (self, existing_users) {
            (SignupPolicy::Closed, _) => Err(DomainError::NotAllowed("sign-up is closed")),
            (_, 0) => Ok(SignupDecision::FirstAdministrator),
            (SignupPolicy::Open, _) => Ok(SignupDecision::Member),
            (SignupPolicy::InviteOnly, _) => Ok(SignupDecision::MemberWithInvite),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_account_administers_unless_sign_up_is_closed() {
        assert_eq!(
            SignupPolicy::Open.decide(0),
            Ok(SignupDecision::FirstAdministrator)
        );
        assert_eq!(
            SignupPolicy::InviteOnly.decide(0),
            Ok(SignupDecision::FirstAdministrator)
        );
        assert!(SignupPolicy::Closed.decide(0).is_err());
    }

    #[test]
    fn later_accounts_follow_the_policy() {
        assert_eq!(SignupPolicy::Open.decide(3), Ok(SignupDecision::Member));
        assert_eq!(
            SignupPolicy::InviteOnly.decide(3),
            Ok(SignupDecision::MemberWithInvite)
        );
        assert!(SignupPolicy::Closed.decide(3).is_err());
    }
}
