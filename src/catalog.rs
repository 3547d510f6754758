//! Scopes, permissions, prefixes, plan caps and setup variable names: configuration, not code.

use std::path::Path;

use serde::Deserialize;

use crate::credentials::{PlanCaps, Prefixes};

const BUILT_IN: &str = include_str!("catalog.default.toml");
const MAX_GRANT_NAME: usize = 64;
/// Wrong passphrases per credential per minute when the catalog sets no other value.
pub const DEFAULT_WRONG_PASSPHRASES_PER_MINUTE: u32 = 10;

fn default_personal_tokens_per_person() -> u32 {
    10
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub rate_limit_per_minute: Option<u32>,
    /// Wrong passphrases per credential per minute before it is locked out (default 10).
    #[serde(default)]
    pub wrong_passphrases_per_minute: Option<u32>,
    /// Live personal access tokens one person may hold, whatever the plans of their orgs.
    #[serde(default = "default_personal_tokens_per_person")]
    pub personal_tokens_per_person: u32,
    pub prefixes: Prefixes,
    pub plans: PlanCaps,
    pub access_token_scopes: Vec<GrantDef>,
    pub api_key_permissions: Vec<GrantDef>,
    pub setup: SetupVars,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantDef {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupVars {
    pub endpoint_var: String,
    pub key_var: String,
    #[serde(default)]
    pub aliases: Vec<SetupAlias>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupAlias {
    pub endpoint_var: String,
    pub key_var: String,
}

impl Catalog {
    pub fn built_in() -> Self {
        #[allow(clippy::expect_used)]
        // the built-in file is tested below; a failure is a build defect
        Self::parse(BUILT_IN).expect("built-in catalog is valid")
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read catalog {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("catalog {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let catalog: Catalog = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        catalog.check()?;
        Ok(catalog)
    }

    pub fn scope_names(&self) -> Vec<String> {
        self.access_token_scopes.iter().map(|g| g.name.clone()).collect()
    }

    pub fn permission_names(&self) -> Vec<String> {
        self.api_key_permissions.iter().map(|g| g.name.clone()).collect()
    }

    fn check(&self) -> Result<(), String> {
        self.prefixes.check()?;
        for (list, what) in [
            (&self.access_token_scopes, "access_token_scopes"),
            (&self.api_key_permissions, "api_key_permissions"),
        ] {
            if list.is_empty() {
                return Err(format!("{what} must list at least one entry"));
            }
            for (i, grant) in list.iter().enumerate() {
                let ok = !grant.name.is_empty()
                    && grant.name.len() <= MAX_GRANT_NAME
                    && grant
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b':');
                if !ok {
                    return Err(format!(
                        "{what}: {:?} must be 1-{MAX_GRANT_NAME} of a-z, 0-9, '_' or ':'",
                        grant.name
                    ));
                }
                if list[..i].iter().any(|g| g.name == grant.name) {
                    return Err(format!("{what}: {:?} is listed twice", grant.name));
                }
            }
        }
        let vars = std::iter::once((&self.setup.endpoint_var, &self.setup.key_var))
            .chain(self.setup.aliases.iter().map(|a| (&a.endpoint_var, &a.key_var)));
        for (endpoint, key) in vars {
            for var in [endpoint, key] {
                let ok = var.bytes().next().is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
                    && var.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !ok {
                    return Err(format!("setup variable {var:?} must be an upper-case shell name"));
                }
            }
        }
        if self.rate_limit_per_minute == Some(0) {
            return Err("rate_limit_per_minute must be at least 1".into());
        }
        if self.wrong_passphrases_per_minute == Some(0) {
            return Err("wrong_passphrases_per_minute must be at least 1".into());
        }
        if self.personal_tokens_per_person == 0 {
            return Err("personal_tokens_per_person must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_catalog_has_the_default_grants() {
        let c = Catalog::built_in();
        assert_eq!(
            c.scope_names(),
            [
                "all",
                "basic_deployment",
                "advanced_deployment",
                "activity_tracker",
                "activity_tracker_analytics",
                "error_tracker",
                "modify_env",
                "run_scripts"
            ]
        );
        assert_eq!(
            c.permission_names(),
            [
                "read",
                "write",
                "delete",
                "deploy",
                "manage_servers",
                "manage_projects",
                "manage_apps",
                "view_logs",
                "manage_backups",
                "introspect"
            ]
        );
        assert_eq!(c.prefixes.access_token, "tsr_at_");
        assert_eq!(c.plans.free, 1);
        assert_eq!(c.personal_tokens_per_person, 10);
        let without = BUILT_IN.replace("personal_tokens_per_person = 10", "");
        assert_eq!(Catalog::parse(&without).unwrap().personal_tokens_per_person, 10, "an older catalog");
    }

    #[test]
    fn bad_catalogs_are_refused_with_a_reason() {
        let overlapping = BUILT_IN.replace("api_key = \"tsr_ak_\"", "api_key = \"tsr_at_x\"");
        assert!(Catalog::parse(&overlapping).unwrap_err().contains("prefix"));
        let shell_injection = BUILT_IN.replace("\"TESSERA_API_KEY\"", "\"KEY; rm -rf /\"");
        assert!(Catalog::parse(&shell_injection).unwrap_err().contains("shell name"));
        let twice = BUILT_IN.replace("name = \"write\"", "name = \"read\"");
        assert!(Catalog::parse(&twice).unwrap_err().contains("twice"));
        assert!(Catalog::parse("prefixes = 3").is_err());
    }
}
