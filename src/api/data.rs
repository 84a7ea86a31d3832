//! The Postgres data API (`/client/v11/...`): database info, wait status, backups, restores,
//! schedules, reset.

use reqwest::Method;
use serde_json::json;

use super::models::{AddonId, DatabaseInfo, PublicUrl, Schedule, Transfer, WaitStatus};
use super::{ApiClient, ApiError, Host, Request, seg};

/// A daily backup schedule: the hour (0-23) in a time zone.
#[derive(Debug, Clone)]
pub struct BackupSchedule {
    pub hour: u8,
    pub timezone: String,
    /// The config var the schedule is for, e.g. `DATABASE_URL`.
    pub schedule_name: String,
}

fn db_path(addon: &AddonId, rest: &str) -> String {
    format!("/client/v11/databases/{}{rest}", seg(addon.as_str()))
}

/// A copy from one database into another: each side by the name transfers show
/// (`DATABASE`, `AMBER`) and its URL, which carries the database's password.
#[derive(Debug, Clone)]
pub struct CopySpec {
    pub from_name: String,
    pub from_url: String,
    pub to_name: String,
    pub to_url: String,
}

/// The name the official CLI gives a database in a copy: its attachment without the
/// `HEROKU_POSTGRESQL_` prefix and `_URL` suffix (`HEROKU_POSTGRESQL_AMBER_URL` is `AMBER`).
pub fn copy_name(attachment: &str) -> String {
    let name = attachment
        .strip_prefix("HEROKU_POSTGRESQL_")
        .unwrap_or(attachment);
    name.strip_suffix("_URL").unwrap_or(name).to_string()
}

/// Lower-cases, trims and sorts an extension list as the official CLI does.
pub fn normalize_extensions(extensions: &[String]) -> Vec<String> {
    let mut list: Vec<String> = extensions
        .iter()
        .flat_map(|e| e.split(','))
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    list.sort();
    list.dedup();
    list
}

impl Request {
    /// `GET /client/v11/databases/{id}/wait_status`.
    pub fn wait_status(addon: &AddonId) -> Request {
        Request::new(Method::GET, Host::Data, db_path(addon, "/wait_status"))
            .subject(format!("database {addon}"))
    }

    /// `POST /client/v11/databases/{id}/backups` with no body.
    pub fn capture_backup(addon: &AddonId) -> Request {
        Request::new(Method::POST, Host::Data, db_path(addon, "/backups"))
            .subject(format!("database {addon}"))
    }

    /// `GET /client/v11/apps/{app}/transfers/{uuid_or_num}`, with its logs when `verbose`.
    pub fn transfer(app: &str, id: &str, verbose: bool) -> Request {
        let req = Request::new(
            Method::GET,
            Host::Data,
            format!("/client/v11/apps/{}/transfers/{}", seg(app), seg(id)),
        )
        .subject(format!("backup {id} of app {app}"));
        if verbose {
            req.query("verbose", "true")
        } else {
            req
        }
    }

    /// `POST /client/v11/databases/{id}/transfers`, the body the official CLI's `pg:copy`
    /// sends, to the data API of the target's add-on. The URLs hold passwords: plans build it
    /// with placeholders.
    pub fn copy(addon: &AddonId, spec: &CopySpec) -> Request {
        Request::new(Method::POST, Host::Data, db_path(addon, "/transfers"))
            .json(json!({
                "from_name": spec.from_name,
                "from_url": spec.from_url,
                "to_name": spec.to_name,
                "to_url": spec.to_url,
            }))
            .subject(format!("database {addon}"))
    }

    /// `POST /client/v11/databases/{id}/restores`.
    pub fn restore(addon: &AddonId, backup_url: &str, extensions: &[String]) -> Request {
        let mut body = json!({ "backup_url": backup_url });
        let extensions = normalize_extensions(extensions);
        if !extensions.is_empty() {
            body["extensions"] = json!(extensions);
        }
        Request::new(Method::POST, Host::Data, db_path(addon, "/restores"))
            .json(body)
            .subject(format!("database {addon}"))
    }
}

impl ApiClient {
    /// `GET /client/v11/databases/{id}`; 404 means "not provisioned yet".
    pub async fn database_info(&self, addon: &AddonId) -> Result<DatabaseInfo, ApiError> {
        self.send(
            Request::new(Method::GET, Host::Data, db_path(addon, ""))
                .subject(format!("database {addon}")),
        )
        .await
    }

    /// `GET /client/v11/databases/{id}/wait_status`.
    pub async fn wait_status(&self, addon: &AddonId) -> Result<WaitStatus, ApiError> {
        self.send(Request::wait_status(addon)).await
    }

    /// `POST /client/v11/databases/{id}/backups` with no body: starts a backup.
    pub async fn capture_backup(&self, addon: &AddonId) -> Result<Transfer, ApiError> {
        self.send(Request::capture_backup(addon)).await
    }

    /// `GET /client/v11/apps/{app}/transfers`.
    pub async fn transfers(&self, app: &str) -> Result<Vec<Transfer>, ApiError> {
        self.send_list(
            Request::new(
                Method::GET,
                Host::Data,
                format!("/client/v11/apps/{}/transfers", seg(app)),
            )
            .subject(format!("app {app}")),
        )
        .await
    }

    /// `GET /client/v11/apps/{app}/transfers/{uuid_or_num}`, with its logs when `verbose`.
    pub async fn transfer(&self, app: &str, id: &str, verbose: bool) -> Result<Transfer, ApiError> {
        self.send(Request::transfer(app, id, verbose)).await
    }

    /// `POST /client/v11/apps/{app}/transfers/{num}/actions/public-url`: a signed, expiring URL.
    pub async fn public_url(&self, app: &str, num: u64) -> Result<PublicUrl, ApiError> {
        self.send(
            Request::new(
                Method::POST,
                Host::Data,
                format!(
                    "/client/v11/apps/{}/transfers/{num}/actions/public-url",
                    seg(app)
                ),
            )
            .idempotent()
            .subject(format!("backup {num} of app {app}")),
        )
        .await
    }

    /// `POST /client/v11/databases/{id}/restores`: overwrites the database from a backup URL.
    pub async fn restore(
        &self,
        addon: &AddonId,
        backup_url: &str,
        extensions: &[String],
    ) -> Result<Transfer, ApiError> {
        self.send(Request::restore(addon, backup_url, extensions))
            .await
    }

    /// `POST /client/v11/databases/{id}/transfers`: starts a copy; it empties the target
    /// first. Not repeated on a doubtful answer: a second copy would start over.
    pub async fn copy(&self, addon: &AddonId, spec: &CopySpec) -> Result<Transfer, ApiError> {
        self.send(Request::copy(addon, spec)).await
    }

    /// `PUT /client/v11/databases/{id}/reset`: Heroku's own reset, which drops everything.
    /// Without extensions the body is `{}`, as the official CLI sends it.
    pub async fn reset_database(
        &self,
        addon: &AddonId,
        extensions: &[String],
    ) -> Result<(), ApiError> {
        let mut body = json!({});
        let extensions = normalize_extensions(extensions);
        if !extensions.is_empty() {
            body["extensions"] = json!(extensions);
        }
        self.send_empty(
            Request::new(Method::PUT, Host::Data, db_path(addon, "/reset"))
                .json(body)
                .subject(format!("database {addon}")),
        )
        .await
    }

    /// `GET /client/v11/databases/{id}/transfer-schedules`.
    pub async fn schedules(&self, addon: &AddonId) -> Result<Vec<Schedule>, ApiError> {
        self.send_list(
            Request::new(
                Method::GET,
                Host::Data,
                db_path(addon, "/transfer-schedules"),
            )
            .subject(format!("database {addon}")),
        )
        .await
    }

    /// `POST /client/v11/databases/{id}/transfer-schedules`. The hour is sent as a string, as
    /// the official CLI does.
    pub async fn create_schedule(
        &self,
        addon: &AddonId,
        schedule: &BackupSchedule,
    ) -> Result<(), ApiError> {
        self.send_empty(
            Request::new(
                Method::POST,
                Host::Data,
                db_path(addon, "/transfer-schedules"),
            )
            .json(json!({
                "hour": format!("{:02}", schedule.hour),
                "timezone": schedule.timezone,
                "schedule_name": schedule.schedule_name,
            }))
            .idempotent()
            .subject(format!("database {addon}")),
        )
        .await
    }

    /// `DELETE /client/v11/databases/{id}/transfer-schedules/{uuid}`.
    pub async fn delete_schedule(&self, addon: &AddonId, uuid: &str) -> Result<(), ApiError> {
        self.send_empty(
            Request::new(
                Method::DELETE,
                Host::Data,
                db_path(addon, &format!("/transfer-schedules/{}", seg(uuid))),
            )
            .subject(format!("database {addon}")),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_extensions;

    #[test]
    fn copies_name_databases_as_the_official_cli() {
        use super::copy_name;
        assert_eq!(copy_name("HEROKU_POSTGRESQL_AMBER_URL"), "AMBER");
        assert_eq!(copy_name("HEROKU_POSTGRESQL_AMBER"), "AMBER");
        assert_eq!(copy_name("DATABASE"), "DATABASE");
        assert_eq!(copy_name("DATABASE_URL"), "DATABASE");
    }

    #[test]
    fn extensions_are_normalized() {
        let given = vec![
            " PostGIS,uuid-ossp".to_string(),
            "hstore".to_string(),
            "postgis".to_string(),
        ];
        assert_eq!(
            normalize_extensions(&given),
            vec!["hstore", "postgis", "uuid-ossp"]
        );
    }
}
