use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    AccessToken,
    ApiKey,
    PersonalToken,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 3] = [Self::AccessToken, Self::ApiKey, Self::PersonalToken];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::ApiKey => "api_key",
            Self::PersonalToken => "personal_token",
        }
    }

    pub fn from_db(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::AccessToken => "access token",
            Self::ApiKey => "API key",
            Self::PersonalToken => "personal access token",
        }
    }
}

/// Secret prefixes per kind. None may be a prefix of another, so the kind is told by the
/// prefix alone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefixes {
    pub access_token: String,
    pub api_key: String,
    pub personal_token: String,
    /// Platform resource servers (introspection callers), made by the CLI.
    #[serde(default = "default_resource_server_prefix")]
    pub resource_server: String,
}

fn default_resource_server_prefix() -> String {
    "tsr_rs_".into()
}

impl Default for Prefixes {
    fn default() -> Self {
        Self {
            access_token: "tsr_at_".into(),
            api_key: "tsr_ak_".into(),
            personal_token: "tsr_pat_".into(),
            resource_server: default_resource_server_prefix(),
        }
    }
}

impl Prefixes {
    pub fn get(&self, kind: CredentialKind) -> &str {
        match kind {
            CredentialKind::AccessToken => &self.access_token,
            CredentialKind::ApiKey => &self.api_key,
            CredentialKind::PersonalToken => &self.personal_token,
        }
    }

    pub fn kind_of(&self, presented: &str) -> Option<CredentialKind> {
        CredentialKind::ALL.into_iter().find(|&k| presented.starts_with(self.get(k)))
    }

    fn all(&self) -> [(&str, &'static str); 4] {
        [
            (&self.access_token, "access token"),
            (&self.api_key, "API key"),
            (&self.personal_token, "personal access token"),
            (&self.resource_server, "resource server"),
        ]
    }

    pub fn check(&self) -> Result<(), String> {
        let all = self.all();
        for (i, (pa, label)) in all.iter().enumerate() {
            let well_formed =
                (2..=16).contains(&pa.len()) && pa.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !well_formed {
                return Err(format!(
                    "prefix {pa:?} for {label} must be 2-16 characters of letters, digits or '_'"
                ));
            }
            for (j, (pb, _)) in all.iter().enumerate() {
                if i != j && pb.starts_with(pa) {
                    return Err(format!("prefix {pa:?} is a prefix of {pb:?}"));
                }
            }
        }
        Ok(())
    }
}
