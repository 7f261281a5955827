//! careflow-auth: who is calling. JWT bearer tokens (HS256 with a configured secret in this
//! release; issuer, audience and expiry checked), the roles careflow knows, and dev tokens.
//!
//! Used by the gateway (every request) and by the gRPC services (every command), so the actor
//! written into event metadata is the one the token proves. [`policy`] is the one module that
//! decides who may do what.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub mod policy;

/// The roles careflow knows (DESIGN.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Nurse in charge or ward nurse.
    WardNurse,
    /// Ward clerk.
    WardClerk,
    /// Housekeeping.
    Housekeeping,
    /// Site or bed manager.
    BedManager,
    /// Social worker.
    SocialWorker,
    /// Occupational or physiotherapist.
    Therapist,
    /// Community nurse.
    CommunityNurse,
    /// Virtual ward clinician.
    VirtualWardClinician,
    /// Council broker.
    Broker,
    /// Commissioner.
    Commissioner,
    /// Care home or home-care agency.
    CareProvider,
    /// Analyst.
    Analyst,
    /// System administrator (configures sites, wards, beds).
    Admin,
    /// A device gateway (or the patient app's back end): sends virtual-ward readings for its
    /// organisation, and nothing else; sees nothing.
    DeviceGateway,
    /// careflow itself: its workflows and its clock, acting for every organisation on the
    /// commands they send (never a person; sees no patient record).
    Careflow,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 15] = [
        Role::WardNurse,
        Role::WardClerk,
        Role::Housekeeping,
        Role::BedManager,
        Role::SocialWorker,
        Role::Therapist,
        Role::CommunityNurse,
        Role::VirtualWardClinician,
        Role::Broker,
        Role::Commissioner,
        Role::CareProvider,
        Role::Analyst,
        Role::Admin,
        Role::DeviceGateway,
        Role::Careflow,
    ];

    /// The role's name as used in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::WardNurse => "ward_nurse",
            Role::WardClerk => "ward_clerk",
            Role::Housekeeping => "housekeeping",
            Role::BedManager => "bed_manager",
            Role::SocialWorker => "social_worker",
            Role::Therapist => "therapist",
            Role::CommunityNurse => "community_nurse",
            Role::VirtualWardClinician => "virtual_ward_clinician",
            Role::Broker => "broker",
            Role::Commissioner => "commissioner",
            Role::CareProvider => "care_provider",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::DeviceGateway => "device_gateway",
            Role::Careflow => "careflow",
        }
    }

    /// Whether the role may change bed state (admit, discharge, clean, block, reserve…).
    pub fn can_update_beds(self) -> bool {
        policy::role_allows(self, policy::Action::UpdateBeds)
    }

    /// Whether the role may configure sites, wards and beds.
    pub fn can_configure_beds(self) -> bool {
        policy::role_allows(self, policy::Action::ConfigureBeds)
    }

    /// Whether the role may see the bed board (patients' names and NHS numbers included).
    pub fn can_view_beds(self) -> bool {
        policy::role_allows(self, policy::Action::ViewBeds)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| AuthError::UnknownRole(s.to_owned()))
    }
}

/// The claims careflow puts in and expects of a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The user's role.
    pub role: Role,
    /// ODS code of the user's organisation.
    pub org: String,
    /// Teams the user belongs to.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user id.
    pub user_id: String,
    /// The user's role.
    pub role: Role,
    /// ODS code of the user's organisation.
    pub organisation: String,
    /// Teams.
    pub teams: Vec<String>,
}

impl From<Claims> for Actor {
    fn from(claims: Claims) -> Self {
        Self { user_id: claims.sub, role: claims.role, organisation: claims.org, teams: claims.teams }
    }
}

/// Why a caller is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header or token.
    #[error("missing bearer token")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("the authorization header must be 'Bearer <token>'")]
    Malformed,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// The signature, issuer, audience or claims are wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// A role careflow does not know.
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    /// A token could not be issued.
    #[error("cannot issue token: {0}")]
    Issue(String),
}

/// Token settings shared by everything that issues or checks tokens.
#[derive(Clone)]
pub struct JwtConfig {
    /// The HS256 shared secret.
    pub secret: String,
    /// Expected issuer.
    pub issuer: String,
    /// Expected audience.
    pub audience: String,
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// Checks (and, for development, issues) tokens.
#[derive(Clone)]
pub struct Authenticator {
    config: JwtConfig,
    decoding: DecodingKey,
    encoding: EncodingKey,
    validation: Validation,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator for HS256 tokens with this configuration.
    pub fn new(config: JwtConfig) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        Self {
            decoding: DecodingKey::from_secret(config.secret.as_bytes()),
            encoding: EncodingKey::from_secret(config.secret.as_bytes()),
            validation,
            config,
        }
    }

    /// Checks a token and returns the actor it proves.
    pub fn verify(&self, token: &str) -> Result<Actor, AuthError> {
        use jsonwebtoken::errors::ErrorKind;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims.into())
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid(e.to_string()),
            })
    }

    /// Checks an `Authorization` header value (`Bearer <token>`).
    pub fn verify_header(&self, header: Option<&str>) -> Result<Actor, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthError::Malformed)?;
        self.verify(token.trim())
    }

    /// Issues a token for `actor`, valid for `ttl` from `now`.
    pub fn issue(&self, actor: &Actor, now: DateTime<Utc>, ttl: Duration) -> Result<String, AuthError> {
        let claims = Claims {
            sub: actor.user_id.clone(),
            role: actor.role,
            org: actor.organisation.clone(),
            teams: actor.teams.clone(),
            iss: self.config.issuer.clone(),
            aud: self.config.audience.clone(),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Issue(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(secret: &str) -> Authenticator {
        Authenticator::new(JwtConfig {
            secret: secret.into(),
            issuer: "careflow".into(),
            audience: "careflow".into(),
        })
    }

    fn nurse() -> Actor {
        Actor {
            user_id: "nurse.okafor".into(),
            role: Role::WardNurse,
            organisation: "RXA".into(),
            teams: vec!["amu".into()],
        }
    }

    #[test]
    fn an_issued_token_verifies_to_the_same_actor() {
        let a = auth("s3cret");
        let token = a.issue(&nurse(), Utc::now(), Duration::hours(1)).expect("issue");
        assert_eq!(a.verify(&token), Ok(nurse()));
        assert_eq!(a.verify_header(Some(&format!("Bearer {token}"))), Ok(nurse()));
    }

    #[test]
    fn wrong_secret_expired_audience_and_garbage_are_rejected() {
        let token = auth("s3cret").issue(&nurse(), Utc::now(), Duration::hours(1)).expect("issue");
        assert!(matches!(auth("other").verify(&token), Err(AuthError::Invalid(_))));
        let old = auth("s3cret")
            .issue(&nurse(), Utc::now() - Duration::hours(3), Duration::hours(1))
            .expect("issue");
        assert_eq!(auth("s3cret").verify(&old), Err(AuthError::Expired));
        let other_aud = Authenticator::new(JwtConfig {
            secret: "s3cret".into(),
            issuer: "careflow".into(),
            audience: "elsewhere".into(),
        });
        assert!(matches!(other_aud.verify(&token), Err(AuthError::Invalid(_))));
        assert!(matches!(auth("s3cret").verify("not.a.token"), Err(AuthError::Invalid(_))));
        assert_eq!(auth("s3cret").verify_header(None), Err(AuthError::Missing));
        assert_eq!(auth("s3cret").verify_header(Some("Basic abc")), Err(AuthError::Malformed));
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert_eq!("root".parse::<Role>(), Err(AuthError::UnknownRole("root".into())));
    }
}
