//! The add and change-role forms, parsed into domain types.

use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::auth::Role;
use crate::email::EmailAddress;
use crate::service::fields::FormErrors;

pub const CHOOSE_A_ROLE: &str = "Choose a role: owner, admin, member or auditor.";

#[derive(Debug, Default, Deserialize)]
pub struct AddForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub role: String,
}

impl CsrfForm for AddForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[derive(Debug)]
pub struct ValidAdd {
    pub email: EmailAddress,
    pub role: Role,
}

impl AddForm {
    pub fn parse(&self) -> Result<ValidAdd, FormErrors> {
        let mut errors = FormErrors::default();
        let email = errors.take("email", EmailAddress::parse(&self.email));
        let role = errors.take("role", parse_role(&self.role));
        match (email, role) {
            (Some(email), Some(role)) if errors.is_empty() => Ok(ValidAdd { email, role }),
            _ => Err(errors),
        }
    }
}

pub fn parse_role(value: &str) -> Result<Role, String> {
    Role::parse(value.trim()).ok_or_else(|| CHOOSE_A_ROLE.to_owned())
}

#[derive(Debug, Default, Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub role: String,
}

impl CsrfForm for RoleForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_add_form_parses_into_a_normalized_email_and_a_role() {
        let form =
            AddForm { email: " Frank@Example.com ".into(), role: "auditor".into(), ..Default::default() };
        let valid = form.parse().unwrap();
        assert_eq!((valid.email.as_str(), valid.role), ("frank@example.com", Role::Auditor));
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors =
            AddForm { email: "frank".into(), role: "root".into(), ..Default::default() }.parse().unwrap_err();
        assert!(errors.get("email").is_some_and(|m| m.contains("not a valid email address")));
        assert_eq!(errors.get("role"), Some(CHOOSE_A_ROLE));
        assert!(AddForm::default().parse().unwrap_err().get("email").is_some());
    }
}
