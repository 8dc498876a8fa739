//! A sharing policy. Configuration (every key optional):
//! `{"allowed_domains": ["example.org"], "max_link_days": 30, "link_password_required": true}`.
//! Members must have an email in an allowed domain (if any are listed); links must expire within
//! `max_link_days` (if set) and have a password (if required).

use serde::Deserialize;

use coffer_plugin_sdk::Decision;
use coffer_plugin_sdk::sharing::{LinkRequest, RoleChange, ShareRequest, SharingPolicy};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Rules {
    allowed_domains: Vec<String>,
    max_link_days: Option<u64>,
    link_password_required: bool,
}

fn rules() -> Rules {
    coffer_plugin_sdk::config()
}

fn member_allowed(rules: &Rules, email: &str) -> Decision {
    if rules.allowed_domains.is_empty() {
        return Decision::Allow;
    }
    let domain = email
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if rules
        .allowed_domains
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(&domain))
    {
        Decision::Allow
    } else {
        Decision::Deny(format!(
            "folders may only be shared with addresses at {}",
            rules.allowed_domains.join(", ")
        ))
    }
}

struct SharingRules;

impl SharingPolicy for SharingRules {
    fn check_share(request: ShareRequest) -> Decision {
        member_allowed(&rules(), &request.member_email)
    }

    fn check_role_change(request: RoleChange) -> Decision {
        member_allowed(&rules(), &request.member_email)
    }

    fn check_link(request: LinkRequest) -> Decision {
        let rules = rules();
        if rules.link_password_required && !request.has_password {
            return Decision::Deny("links must have a password".into());
        }
        if let Some(days) = rules.max_link_days {
            match request.expires_in_seconds {
                None => {
                    return Decision::Deny(format!("links must expire within {days} days"));
                }
                Some(seconds) if seconds > days * 86_400 => {
                    return Decision::Deny(format!("links must expire within {days} days"));
                }
                Some(_) => {}
            }
        }
        Decision::Allow
    }
}

coffer_plugin_sdk::export_sharing!(SharingRules);
