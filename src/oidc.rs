//! OpenID Connect sign-in: authorization code with PKCE, `state` and `nonce` kept in the
//! session and used once, the ID token's signature, issuer, audience, expiry and nonce checked
//! by the `openidconnect` crate. People are found by (issuer, subject); someone an owner added by
//! email is linked at their first sign-in with a verified email.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    reqwest, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use subtle::ConstantTimeEq;

use crate::config::OidcSettings;

type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Provider metadata and keys are fetched again after this long, so rotated keys are picked up.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A sign-in not finished within this long must start again.
const PENDING_TTL_SECONDS: i64 = 600;
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Asymmetric algorithms only: `none` and the HMAC family (keyed with the client secret) are
/// refused whatever the provider advertises.
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why a sign-in did not happen, as the person and the audit log see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInFailure {
    Cancelled,
    ProviderError(String),
    StaleState,
    CodeRefused,
    NonceMismatch,
    TokenInvalid,
    EmailNotVerified,
    UnknownPerson(String),
    IdentityConflict,
    ProviderUnreachable,
}

impl SignInFailure {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Cancelled => "cancelled",
            Self::ProviderError(_) => "provider_error",
            Self::StaleState => "invalid_state",
            Self::CodeRefused => "code_refused",
            Self::NonceMismatch => "nonce_mismatch",
            Self::TokenInvalid => "id_token_invalid",
            Self::EmailNotVerified => "email_not_verified",
            Self::UnknownPerson(_) => "unknown_person",
            Self::IdentityConflict => "identity_conflict",
            Self::ProviderUnreachable => "provider_unreachable",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::EmailNotVerified | Self::UnknownPerson(_) | Self::IdentityConflict => 403,
            Self::ProviderUnreachable => 502,
            _ => 400,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::Cancelled => "Sign-in was cancelled at the identity provider.".into(),
            Self::ProviderError(code) => format!("The identity provider could not sign you in ({code})."),
            Self::StaleState => "This sign-in link is no longer valid. Start again from the sign-in page.".into(),
            Self::CodeRefused => {
                "The identity provider refused the sign-in code; it may have expired. Start again.".into()
            }
            Self::NonceMismatch => {
                "The identity provider's answer did not match this sign-in. Start again.".into()
            }
            Self::TokenInvalid => "The identity provider's answer could not be verified.".into(),
            Self::EmailNotVerified => {
                "Your email address is not verified by the identity provider, so it cannot be linked to a Tessera account.".into()
            }
            Self::UnknownPerson(email) => format!(
                "No Tessera account is set up for {email}. Ask an owner of your organization to add you."
            ),
            Self::IdentityConflict => {
                "This email address is already linked to another identity. Ask an owner of your organization for help.".into()
            }
            Self::ProviderUnreachable => "The identity provider cannot be reached right now. Try again shortly.".into(),
        }
    }
}

/// Who the provider says signed in, checked.
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// A sign-in started at the identity provider and not finished yet: what the callback must match.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Unix seconds.
    pub started_at: i64,
}

pub struct Oidc {
    settings: OidcSettings,
    redirect: RedirectUrl,
    http: reqwest::Client,
    discovered: RwLock<Option<(Instant, Arc<DiscoveredClient>)>>,
}

impl Oidc {
    pub fn new(settings: OidcSettings, public_url: &url::Url) -> Result<Self, String> {
        let callback = public_url.join("auth/callback").map_err(|e| format!("TESSERA_PUBLIC_URL: {e}"))?;
        let redirect = RedirectUrl::from_url(callback);
        // Following redirects would let a provider's answer send us anywhere (SSRF).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the OpenID HTTP client: {e}"))?;
        Ok(Self { settings, redirect, http, discovered: RwLock::new(None) })
    }

    /// The provider's metadata, fetched on first use and refreshed hourly: a provider that is
    /// down when Tessera starts must not keep the API from serving.
    async fn client(&self) -> Result<Arc<DiscoveredClient>, SignInFailure> {
        if let Some((at, client)) = self.discovered.read().ok().and_then(|d| d.clone()) {
            if at.elapsed() < DISCOVERY_TTL {
                return Ok(client);
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone()).map_err(|e| {
            tracing::warn!(error = %e, "TESSERA_OIDC_ISSUER is not a URL");
            SignInFailure::ProviderUnreachable
        })?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| {
            tracing::warn!(error = %e, "OpenID discovery failed");
            SignInFailure::ProviderUnreachable
        })?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone());
        let client = Arc::new(client);
        if let Ok(mut cache) = self.discovered.write() {
            *cache = Some((Instant::now(), client.clone()));
        }
        Ok(client)
    }

    /// Where to send the browser, and what its callback must bring back.
    pub async fn start(&self, now: i64) -> Result<(url::Url, PendingSignIn), SignInFailure> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = PendingSignIn {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            started_at: now,
        };
        Ok((url, pending))
    }

    /// Checks the callback against the pending sign-in, redeems the code and verifies the ID token.
    pub async fn finish(
        &self,
        pending: Option<PendingSignIn>,
        callback: &Callback,
        now: i64,
    ) -> Result<VerifiedIdentity, SignInFailure> {
        let pending = pending.ok_or(SignInFailure::StaleState)?;
        let state_matches = callback
            .state
            .as_deref()
            .is_some_and(|s| bool::from(s.as_bytes().ct_eq(pending.state.as_bytes())));
        if !state_matches || now - pending.started_at > PENDING_TTL_SECONDS {
            return Err(SignInFailure::StaleState);
        }
        if let Some(error) = &callback.error {
            return Err(match error.as_str() {
                "access_denied" => SignInFailure::Cancelled,
                other => SignInFailure::ProviderError(other.chars().take(64).collect()),
            });
        }
        let code = callback.code.clone().filter(|c| !c.is_empty()).ok_or(SignInFailure::CodeRefused)?;
        let client = self.client().await?;
        let exchange = client.exchange_code(AuthorizationCode::new(code)).map_err(|e| {
            tracing::warn!(error = %e, "OpenID token endpoint missing");
            SignInFailure::ProviderUnreachable
        })?;
        let response = exchange
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::info!(error = %e, "OpenID code exchange refused");
                SignInFailure::CodeRefused
            })?;
        let id_token = response.id_token().ok_or(SignInFailure::TokenInvalid)?;
        let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
        let claims = id_token.claims(&verifier, &Nonce::new(pending.nonce)).map_err(|e| match e {
            ClaimsVerificationError::InvalidNonce(_) => SignInFailure::NonceMismatch,
            other => {
                tracing::warn!(error = %other, "ID token refused");
                SignInFailure::TokenInvalid
            }
        })?;
        Ok(VerifiedIdentity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().trim().to_lowercase()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned()),
        })
    }
}

/// The query of `/auth/callback`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}
