//! Typed models of what we read from Heroku. Field names follow the Platform API schema
//! (Heroku publishes it at https://api.heroku.com/schema) and, for the data API, the fields the official CLI
//! reads. Unknown fields are ignored; fields we do not always get are optional.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default, PartialOrd, Ord)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                $name(value.to_string())
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An app's UUID.
    AppId
);
string_id!(
    /// An add-on's UUID; also the database id of the data API.
    AddonId
);
string_id!(
    /// An add-on attachment's UUID.
    AttachmentId
);
string_id!(
    /// A dyno's UUID.
    DynoId
);
string_id!(
    /// A release's UUID.
    ReleaseId
);
string_id!(
    /// A backup or restore transfer's UUID.
    TransferId
);

/// `{id, name}` of an app as embedded in other resources.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct AppRef {
    #[serde(default)]
    pub id: AppId,
    #[serde(default)]
    pub name: String,
}

/// `{id, name}` of a plan or service.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct NamedRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct App {
    pub id: AppId,
    pub name: String,
    #[serde(default)]
    pub maintenance: bool,
    #[serde(default)]
    pub stack: Option<NamedRef>,
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Dyno {
    pub id: DynoId,
    pub name: String,
    #[serde(default)]
    pub state: String,
    #[serde(rename = "type", default)]
    pub process_type: String,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub attach_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Addon {
    pub id: AddonId,
    pub name: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub plan: NamedRef,
    #[serde(default)]
    pub app: AppRef,
    #[serde(default)]
    pub addon_service: Option<NamedRef>,
    #[serde(default)]
    pub config_vars: Vec<String>,
    #[serde(default)]
    pub provision_message: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// The add-on as embedded in an attachment; `plan` comes with `Accept-Inclusion: addon:plan`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct AttachedAddon {
    pub id: AddonId,
    pub name: String,
    #[serde(default)]
    pub app: AppRef,
    #[serde(default)]
    pub plan: Option<NamedRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub addon: AttachedAddon,
    #[serde(default)]
    pub app: AppRef,
    /// Present with `Accept-Inclusion: config_vars`.
    #[serde(default)]
    pub config_vars: Option<Vec<String>>,
}

impl Attachment {
    pub fn config_var(&self) -> String {
        format!("{}_URL", self.name)
    }

    pub fn plan_name(&self) -> Option<&str> {
        self.addon.plan.as_ref().map(|p| p.name.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Account {
    pub id: String,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub two_factor_authentication: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RateLimit {
    pub remaining: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Release {
    pub id: ReleaseId,
    pub version: u64,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub current: bool,
    #[serde(default)]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Formation {
    pub id: String,
    #[serde(rename = "type")]
    pub process_type: String,
    #[serde(default)]
    pub quantity: i64,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct LogSession {
    pub id: String,
    /// Carries its own credentials; never logged.
    pub logplex_url: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// One `info` row of the data API's database description.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct InfoEntry {
    pub name: String,
    #[serde(default)]
    pub values: Vec<serde_json::Value>,
    #[serde(default)]
    pub resolve_db_name: Option<bool>,
}

/// `GET /client/v11/databases/{id}` on the data API.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DatabaseInfo {
    #[serde(default)]
    pub addon_id: Option<AddonId>,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub info: Vec<InfoEntry>,
    /// The connection URL; contains a password and is never shown unmasked.
    #[serde(default, skip_serializing)]
    pub resource_url: Option<String>,
    #[serde(default)]
    pub following: Option<String>,
    #[serde(default)]
    pub leader: Option<serde_json::Value>,
    #[serde(rename = "waiting?", default)]
    pub waiting: Option<bool>,
    #[serde(default)]
    pub num_bytes: Option<i64>,
    #[serde(default)]
    pub num_tables: Option<i64>,
    #[serde(default)]
    pub num_connections: Option<i64>,
    #[serde(default)]
    pub postgres_version: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

impl DatabaseInfo {
    /// The values of an `info` row joined as the CLI shows them.
    pub fn info_value(&self, name: &str) -> Option<String> {
        self.info.iter().find(|e| e.name == name).map(|e| {
            e.values
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

/// `GET /client/v11/databases/{id}/wait_status`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct WaitStatus {
    #[serde(rename = "waiting?", default)]
    pub waiting: bool,
    #[serde(rename = "error?", default)]
    pub error: bool,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub step: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TransferLog {
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ScheduleRef {
    pub uuid: String,
}

/// Reads `null` as the type's default: the data API sends `"succeeded": null` (and null sizes)
/// for a transfer that has not finished.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A time of the data API (`2026-01-05 10:00:00 +0000`) as RFC 3339 in UTC
/// (`2026-01-05T10:00:00Z`), the one format herokuops shows and sorts; other forms are kept.
fn utc_time<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<String>::deserialize(deserializer)?.map(|t| rfc3339_utc(&t)))
}

/// `2026-01-05 10:00:00 +0000` as `2026-01-05T10:00:00Z`.
pub fn rfc3339_utc(text: &str) -> String {
    match text.trim().strip_suffix(" +0000") {
        Some(local) if local.len() == "2026-01-05 10:00:00".len() => {
            format!("{}Z", local.replacen(' ', "T", 1))
        }
        _ => text.to_string(),
    }
}

/// A backup, restore or copy on the data API.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Transfer {
    pub uuid: TransferId,
    pub num: u64,
    #[serde(default)]
    pub from_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub from_type: String,
    #[serde(default)]
    pub to_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub to_type: String,
    /// A storage URL; may be signed, so it is not serialized into our output.
    #[serde(default, skip_serializing)]
    pub to_url: Option<String>,
    #[serde(default, deserialize_with = "utc_time")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "utc_time")]
    pub started_at: Option<String>,
    #[serde(default, deserialize_with = "utc_time")]
    pub finished_at: Option<String>,
    #[serde(default, deserialize_with = "utc_time")]
    pub canceled_at: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub succeeded: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub processed_bytes: u64,
    #[serde(default)]
    pub source_bytes: Option<u64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub warnings: u64,
    #[serde(default)]
    pub schedule: Option<ScheduleRef>,
    #[serde(default)]
    pub options: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<TransferLog>>,
}

impl Transfer {
    /// A backup made by `pg_dump` into storage (not a restore or copy).
    pub fn is_backup(&self) -> bool {
        self.from_type == "pg_dump" && self.to_type == "gof3r"
    }

    pub fn is_restore(&self) -> bool {
        self.from_type != "pg_dump" && self.to_type == "pg_restore"
    }

    /// The name users see: `b005` (manual), `a005` (scheduled), `r005` (restore), `c005` (copy).
    pub fn display_name(&self) -> String {
        if let Some(name) = self
            .options
            .as_ref()
            .and_then(|o| o.get("pgbackups_name"))
            .and_then(|v| v.as_str())
        {
            return format!("o{name}");
        }
        let prefix = if self.from_type == "pg_dump" && self.to_type != "pg_restore" {
            if self.schedule.is_some() { 'a' } else { 'b' }
        } else if self.from_type == "pg_dump" {
            'c'
        } else {
            'r'
        };
        format!("{prefix}{:03}", self.num)
    }

    pub fn status_text(&self) -> String {
        if self.canceled_at.is_some() {
            "Canceled".into()
        } else if self.finished_at.is_some() && self.succeeded {
            if self.warnings > 0 {
                format!("Finished with {} warnings", self.warnings)
            } else {
                "Completed".into()
            }
        } else if self.finished_at.is_some() {
            "Failed".into()
        } else if self.started_at.is_some() {
            "Running".into()
        } else {
            "Pending".into()
        }
    }
}

/// Parses a backup name (`b005`, `a12`, `r001`, `c3`) or a bare number into its transfer number.
pub fn backup_num(name: &str) -> Option<u64> {
    let name = name.trim();
    let digits = match name.chars().next()? {
        'a' | 'b' | 'c' | 'r' => &name[1..],
        c if c.is_ascii_digit() => name,
        _ => return None,
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PublicUrl {
    /// A signed URL: a secret while it is valid, never logged.
    #[serde(skip_serializing)]
    pub url: String,
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Schedule {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub hour: serde_json::Value,
    #[serde(default)]
    pub timezone: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn data_api_times_are_read_as_rfc3339_in_utc() {
        assert_eq!(
            super::rfc3339_utc("2026-01-05 10:00:00 +0000"),
            "2026-01-05T10:00:00Z"
        );
        assert_eq!(
            super::rfc3339_utc("2026-01-05T10:00:00Z"),
            "2026-01-05T10:00:00Z"
        );
        let t: super::Transfer =
            serde_json::from_str(r#"{"uuid": "u", "num": 1, "created_at": "2026-01-05 10:00:00 +0000", "finished_at": null}"#)
                .unwrap();
        assert_eq!(t.created_at.as_deref(), Some("2026-01-05T10:00:00Z"));
        assert_eq!(t.finished_at, None);
    }

    use super::*;

    #[test]
    fn backup_names_parse() {
        assert_eq!(backup_num("b005"), Some(5));
        assert_eq!(backup_num("a12"), Some(12));
        assert_eq!(backup_num("7"), Some(7));
        assert_eq!(backup_num("b"), None);
        assert_eq!(backup_num("x001"), None);
        assert_eq!(backup_num("b0x1"), None);
    }

    #[test]
    fn transfer_names_and_status() {
        let mut t = Transfer {
            num: 5,
            from_type: "pg_dump".into(),
            to_type: "gof3r".into(),
            ..Default::default()
        };
        assert_eq!(t.display_name(), "b005");
        assert_eq!(t.status_text(), "Pending");
        t.schedule = Some(ScheduleRef { uuid: "s".into() });
        assert_eq!(t.display_name(), "a005");
        t.started_at = Some("x".into());
        assert_eq!(t.status_text(), "Running");
        t.finished_at = Some("y".into());
        assert_eq!(t.status_text(), "Failed");
        t.succeeded = true;
        assert_eq!(t.status_text(), "Completed");
        let restore = Transfer {
            num: 1,
            from_type: "gof3r".into(),
            to_type: "pg_restore".into(),
            ..Default::default()
        };
        assert_eq!(restore.display_name(), "r001");
        assert!(restore.is_restore());
    }

    #[test]
    fn an_unfinished_transfer_with_nulls_parses() {
        let t: Transfer = serde_json::from_value(serde_json::json!({
            "uuid": "0c3a5b2e-1f1d-4a5e-9a43-6c1f3c3c8a11", "num": 7,
            "from_type": "pg_dump", "to_type": "gof3r",
            "succeeded": null, "processed_bytes": null, "warnings": null, "finished_at": null
        }))
        .unwrap();
        assert!(!t.succeeded);
        assert_eq!(t.processed_bytes, 0);
        assert_eq!(t.status_text(), "Pending");
    }

    #[test]
    fn wait_status_reads_question_mark_fields() {
        let w: WaitStatus =
            serde_json::from_str(r#"{"waiting?":true,"error?":false,"message":"pending"}"#)
                .unwrap();
        assert!(w.waiting && !w.error);
    }
}
