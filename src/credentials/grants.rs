use std::fmt;

/// The scopes of an access token or the permissions of an API key: a non-empty subset of the
/// catalog's list, kept in catalog order so equal sets compare and store equally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants(Vec<String>);

impl Grants {
    pub fn parse<S: AsRef<str>>(selected: &[S], allowed: &[String], noun: &str) -> Result<Self, String> {
        if let Some(unknown) = selected.iter().map(AsRef::as_ref).find(|s| !allowed.iter().any(|a| a == s)) {
            let shown: String = unknown.chars().take(64).collect();
            return Err(format!("Unknown {noun} \"{shown}\"."));
        }
        let chosen: Vec<String> =
            allowed.iter().filter(|a| selected.iter().any(|s| s.as_ref() == a.as_str())).cloned().collect();
        if chosen.is_empty() {
            return Err(format!("Select at least one {noun}."));
        }
        Ok(Self(chosen))
    }

    /// Reads what this code stored; no catalog check, since a catalog may shrink later.
    pub fn from_stored(stored: &str) -> Self {
        Self(stored.split_whitespace().map(str::to_owned).collect())
    }

    pub fn to_stored(&self) -> String {
        self.0.join(" ")
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn contains(&self, grant: &str) -> bool {
        self.0.iter().any(|g| g == grant)
    }
}

impl fmt::Display for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        ["all", "basic_deployment", "modify_env"].map(String::from).to_vec()
    }

    #[test]
    fn keeps_catalog_order_and_drops_duplicates() {
        let g = Grants::parse(&["modify_env", "all", "modify_env"], &allowed(), "scope").unwrap();
        assert_eq!(g.to_stored(), "all modify_env");
        assert_eq!(Grants::from_stored(&g.to_stored()), g);
    }

    #[test]
    fn refuses_empty_and_unknown() {
        assert_eq!(Grants::parse::<&str>(&[], &allowed(), "scope"), Err("Select at least one scope.".into()));
        assert!(Grants::parse(&["all", "root"], &allowed(), "scope").is_err());
    }
}
