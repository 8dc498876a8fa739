//! A quota policy. Configuration:
//! `{"tiers": {"example.org": 10737418240, "students.example.org": 1073741824},
//!   "users": {"boss@example.org": 107374182400}, "max_file_bytes": 5368709120}`.
//! A user's quota comes from `users` (by email), else `tiers` (by email domain), else the
//! server's; uploads larger than `max_file_bytes` are refused.

use std::collections::HashMap;

use serde::Deserialize;

use coffer_plugin_sdk::quota::{QuotaPolicy, UploadCheck};
use coffer_plugin_sdk::{Actor, Decision};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Table {
    tiers: HashMap<String, u64>,
    users: HashMap<String, u64>,
    max_file_bytes: Option<u64>,
}

fn table() -> Table {
    coffer_plugin_sdk::config()
}

struct QuotaTiers;

impl QuotaPolicy for QuotaTiers {
    fn quota(user: Actor, _server_quota: u64) -> Option<u64> {
        let table = table();
        let email = user.email.to_ascii_lowercase();
        if let Some(quota) = table.users.get(&email) {
            return Some(*quota);
        }
        let domain = email.rsplit('@').next().unwrap_or_default();
        table.tiers.get(domain).copied()
    }

    fn check_upload(upload: UploadCheck) -> Decision {
        match table().max_file_bytes {
            Some(max) if upload.size > max => {
                Decision::Deny(format!("files may be at most {max} bytes"))
            }
            _ => Decision::Allow,
        }
    }
}

coffer_plugin_sdk::export_quota!(QuotaTiers);
