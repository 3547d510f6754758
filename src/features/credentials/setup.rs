//! The "External access" card: the endpoint, where the key comes from, and the same setup in
//! three formats. The one-time key appears only in the response that minted it.

use crate::catalog::SetupVars;

pub const KEY_PLACEHOLDER: &str = "<new-api-key>";

pub struct SetupCard {
    pub endpoint: String,
    pub has_new_key: bool,
    pub shell: String,
    pub json: String,
    pub ci: String,
}

impl SetupCard {
    pub fn new(api_url: &url::Url, vars: &SetupVars, new_key: Option<&str>) -> Self {
        let endpoint = api_url.as_str().trim_end_matches('/').to_owned();
        let key = new_key.unwrap_or(KEY_PLACEHOLDER);
        Self {
            shell: shell_script(&endpoint, key, vars),
            json: json_connection(&endpoint, key),
            ci: ci_snippet(&endpoint, vars),
            endpoint,
            has_new_key: new_key.is_some(),
        }
    }

    pub fn key_source(&self) -> &'static str {
        if self.has_new_key {
            "New one-time key included"
        } else {
            "Generate or rotate a key"
        }
    }
}

/// Single-quoted for POSIX shells: nothing inside is expanded.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn shell_script(endpoint: &str, key: &str, vars: &SetupVars) -> String {
    let mut lines = vec![
        "#!/usr/bin/env bash".to_owned(),
        format!("export {}={}", vars.endpoint_var, shell_quote(endpoint)),
        format!("export {}={}", vars.key_var, shell_quote(key)),
    ];
    for alias in &vars.aliases {
        lines.push(format!("export {}=\"${}\"", alias.endpoint_var, vars.endpoint_var));
        lines.push(format!("export {}=\"${}\"", alias.key_var, vars.key_var));
    }
    lines.push(format!(
        "curl -fsS -H \"Authorization: Bearer ${}\" \"${}/api/v1/me\"",
        vars.key_var, vars.endpoint_var
    ));
    lines.join("\n") + "\n"
}

fn json_connection(endpoint: &str, key: &str) -> String {
    let value = serde_json::json!({ "server": endpoint, "token": key });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

fn ci_snippet(endpoint: &str, vars: &SetupVars) -> String {
    format!(
        "# .github/workflows/tessera.yml — store the key as the repository secret {key}\n\
         name: Tessera\n\
         on: [push]\n\
         jobs:\n\
         \x20 check-access:\n\
         \x20   runs-on: ubuntu-latest\n\
         \x20   env:\n\
         \x20     {endpoint_var}: {endpoint_json}\n\
         \x20     {key}: ${{{{ secrets.{key} }}}}\n\
         \x20   steps:\n\
         \x20     - run: curl -fsS -H \"Authorization: Bearer ${key}\" \"${endpoint_var}/api/v1/me\"\n",
        key = vars.key_var,
        endpoint_var = vars.endpoint_var,
        endpoint_json = serde_json::Value::from(endpoint),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn card(key: Option<&str>) -> SetupCard {
        SetupCard::new(&"https://api.example.com/".parse().unwrap(), &Catalog::built_in().setup, key)
    }

    #[test]
    fn without_a_new_key_the_placeholder_stands_in() {
        let c = card(None);
        assert_eq!(c.key_source(), "Generate or rotate a key");
        assert!(c.shell.contains("export TESSERA_API_KEY='<new-api-key>'"));
        assert!(c.json.contains("\"token\": \"<new-api-key>\""));
        assert!(!c.ci.contains("<new-api-key>"), "CI reads the key from a repository secret");
        assert!(c.ci.contains("${{ secrets.TESSERA_API_KEY }}"));
    }

    #[test]
    fn with_a_new_key_every_format_carries_it_except_ci() {
        let c = card(Some("tsr_ak_abc"));
        assert_eq!(c.key_source(), "New one-time key included");
        assert!(c.shell.contains("export TESSERA_API_KEY='tsr_ak_abc'"));
        assert!(c.shell.contains("export OPENAI_API_KEY=\"$TESSERA_API_KEY\""));
        assert!(c.shell.contains("\"$TESSERA_API_URL/api/v1/me\""));
        assert!(c.json.contains("\"server\": \"https://api.example.com\""));
        assert!(!c.ci.contains("tsr_ak_abc"));
    }

    #[test]
    fn quotes_cannot_break_out_of_the_shell_string() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }
}
