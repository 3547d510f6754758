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
}

impl Default for Prefixes {
    fn default() -> Self {
        Self { access_token: "tsr_at_".into(), api_key: "tsr_ak_".into(), personal_token: "tsr_pat_".into() }
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

    pub fn check(&self) -> Result<(), String> {
        for a in CredentialKind::ALL {
            let pa = self.get(a);
            let well_formed =
                (2..=16).contains(&pa.len()) && pa.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !well_formed {
                return Err(format!(
                    "prefix {pa:?} for {} must be 2-16 characters of letters, digits or '_'",
                    a.label()
                ));
            }
            for b in CredentialKind::ALL {
                if a != b && self.get(b).starts_with(pa) {
                    return Err(format!("prefix {pa:?} is a prefix of {:?}", self.get(b)));
                }
            }
        }
        Ok(())
    }
}
