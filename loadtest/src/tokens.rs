//! Tokens for the run's people, minted here with the target's JWT secret (as `careflow token`
//! does), valid for the whole run.

use careflow_auth::{Actor, AuthError, Authenticator, JwtConfig, Role};

/// Mints tokens.
#[derive(Debug, Clone)]
pub struct Minter {
    auth: Authenticator,
    ttl: chrono::Duration,
}

impl Minter {
    /// Tokens signed with `secret` for `issuer` and `audience`, valid for `ttl`.
    pub fn new(secret: &str, issuer: &str, audience: &str, ttl: chrono::Duration) -> Self {
        let auth = Authenticator::new(JwtConfig {
            secret: secret.to_owned(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        });
        Self { auth, ttl }
    }

    /// A token for `user`, a `role` at `organisation`, member of `teams`.
    pub fn token(
        &self,
        user: &str,
        role: Role,
        organisation: &str,
        teams: &[&str],
    ) -> Result<String, AuthError> {
        let actor = Actor {
            user_id: user.to_owned(),
            role,
            organisation: organisation.to_owned(),
            teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        };
        self.auth.issue(&actor, chrono::Utc::now(), self.ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_with_the_same_settings() {
        let minter = Minter::new("s3cret", "careflow", "careflow", chrono::Duration::hours(1));
        let token = minter.token("nurse.x", Role::WardNurse, "LTX", &["LTX-W001-TEAM"]).unwrap();
        let check = Authenticator::new(JwtConfig {
            secret: "s3cret".into(),
            issuer: "careflow".into(),
            audience: "careflow".into(),
        });
        let actor = check.verify(&token).unwrap();
        assert_eq!((actor.user_id.as_str(), actor.role, actor.teams.len()), ("nurse.x", Role::WardNurse, 1));
    }
}
