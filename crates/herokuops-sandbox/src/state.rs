//! The sandbox's world: apps, dynos, releases, add-ons, attachments, transfers, schedules and
//! log buffers, and how each is shown as JSON. Views reuse the client's models
//! (`herokuops::api::models`) and add the fields the official CLI reads that the models leave out.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::Notify;

use super::fixture::BootMigration;
use super::postgres::DbCredentials;
use herokuops::api::models::{
    self, AddonId, AppId, AppRef, AttachedAddon, AttachmentId, DynoId, NamedRef, ReleaseId,
    ScheduleRef, TransferId, TransferLog,
};

/// Platform API timestamps: `2026-01-05T10:00:00Z`.
pub(crate) fn now_platform() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Data API timestamps: `2026-01-05 10:00:00 +0000`.
pub(crate) fn data_time(at: SystemTime) -> String {
    let iso = humantime::format_rfc3339_seconds(at).to_string();
    format!("{} +0000", iso.trim_end_matches('Z').replacen('T', " ", 1))
}

pub(crate) fn now_data() -> String {
    data_time(SystemTime::now())
}

/// Log line timestamps: `2026-01-05T10:00:00.123456+00:00`.
fn now_log() -> String {
    let iso = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
    format!("{}+00:00", iso.trim_end_matches('Z'))
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Heroku Postgres colours for `HEROKU_POSTGRESQL_<COLOUR>` attachment names, in the order the
/// sandbox hands them out.
pub(crate) const COLOURS: &[&str] = &[
    "COBALT", "AMBER", "GREEN", "PURPLE", "ORANGE", "TEAL", "CRIMSON", "GOLD", "JADE", "NAVY",
    "OLIVE", "ONYX", "PINK", "ROSE", "SILVER", "TOPAZ", "VIOLET", "WHITE", "YELLOW", "AQUA",
    "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "COPPER", "CYAN", "GRAY", "IVORY", "LIME",
    "MAGENTA", "MAROON", "MAUVE", "PUCE", "RED",
];

/// What the data API says about a plan.
pub(crate) struct PlanInfo {
    pub human: String,
    pub cents: u64,
    pub max_bytes: u64,
    pub max_connections: u32,
}

pub(crate) fn plan_info(plan: &str) -> PlanInfo {
    let tier = plan.split(':').nth(1).unwrap_or(plan);
    let (cents, gb, conns) = match tier {
        "essential-0" => (500, 1, 20),
        "essential-1" => (900, 10, 20),
        "essential-2" => (2000, 32, 40),
        "standard-0" => (5000, 64, 120),
        "standard-2" => (20000, 256, 400),
        "premium-0" => (20000, 64, 120),
        _ => (0, 1, 20),
    };
    let human = tier
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    PlanInfo {
        human,
        cents,
        max_bytes: gb << 30,
        max_connections: conns,
    }
}

pub(crate) struct World {
    /// Bumped by a reset; background work started before it does not write into the new world.
    pub epoch: u64,
    pub apps: Vec<AppState>,
    pub addons: Vec<AddonState>,
    pub attachments: Vec<AttachmentState>,
    pub transfers: Vec<TransferState>,
    pub schedules: Vec<ScheduleState>,
    /// Secret in the public URL -> what it grants.
    pub public_urls: HashMap<String, PublicGrant>,
    /// Secret in the `logplex_url` -> the session.
    pub log_sessions: HashMap<String, LogSessionState>,
}

pub(crate) struct AppState {
    pub id: String,
    pub name: String,
    pub stack: String,
    pub stack_id: String,
    pub region: String,
    pub maintenance: bool,
    pub created_at: String,
    pub updated_at: String,
    pub config_vars: BTreeMap<String, String>,
    pub formation: Vec<FormationState>,
    pub dynos: Vec<DynoState>,
    pub releases: Vec<ReleaseState>,
    pub boot: Option<BootMigration>,
    pub logs: Arc<LogBuffer>,
    /// One boot migration at a time per app, as one release phase would.
    pub migrate_lock: Arc<tokio::sync::Mutex<()>>,
    pub restart_seq: u64,
    pub next_transfer_num: u64,
}

pub(crate) struct FormationState {
    pub id: String,
    pub process_type: String,
    pub command: String,
    pub quantity: u32,
    pub size: String,
    pub created_at: String,
    pub updated_at: String,
}

pub(crate) struct DynoState {
    pub id: String,
    pub name: String,
    pub process_type: String,
    pub command: String,
    pub size: String,
    pub state: String,
    pub created_at: String,
    pub updated_at: String,
    pub release_version: u64,
    /// The restart that last touched this dyno; only that restart may bring it up.
    pub restart_seq: u64,
    /// Ends a one-off dyno's process (`actions/stop`); formation dynos have none.
    pub stop: Option<Arc<Notify>>,
}

pub(crate) struct ReleaseState {
    pub id: String,
    pub version: u64,
    pub description: String,
    pub status: String,
    pub created_at: String,
    /// The config vars as this release made them.
    pub config_vars: BTreeMap<String, String>,
}

pub(crate) struct AddonState {
    pub id: String,
    pub name: String,
    pub app_id: String,
    pub plan: String,
    pub created_at: String,
    pub updated_at: String,
    pub created: SystemTime,
    /// `provisioning` until then, `provisioned` after.
    pub ready_at: Instant,
    pub creds: DbCredentials,
    /// The database URL (holds the role's password).
    pub url: String,
}

impl AddonState {
    pub fn state(&self) -> &'static str {
        if Instant::now() >= self.ready_at {
            "provisioned"
        } else {
            "provisioning"
        }
    }

    pub fn provisioning(&self) -> bool {
        self.state() == "provisioning"
    }
}

pub(crate) struct AttachmentState {
    pub id: String,
    pub name: String,
    pub namespace: Option<String>,
    pub addon_id: String,
    pub app_id: String,
    pub created_at: String,
}

impl AttachmentState {
    pub fn config_var(&self) -> String {
        format!("{}_URL", self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferKind {
    Backup,
    Restore,
    /// A database copied into another (`pg:copy`).
    Copy,
}

pub(crate) struct TransferState {
    pub uuid: String,
    pub num: u64,
    /// The billing app: transfers are listed under it.
    pub app_id: String,
    pub kind: TransferKind,
    pub from_name: String,
    pub from_type: String,
    pub to_name: String,
    pub to_type: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub canceled_at: Option<String>,
    pub succeeded: Option<bool>,
    pub processed_bytes: u64,
    pub source_bytes: Option<u64>,
    pub logs: Vec<TransferLog>,
    pub warnings: u64,
    /// The dump file of a backup.
    pub file: Option<PathBuf>,
    pub schedule: Option<String>,
    /// Set by a cancel request; the running work checks it.
    pub cancel: Arc<Notify>,
}

/// Where a transfer reads and writes: the names and types the data API shows.
pub(crate) struct Ends {
    pub from_name: String,
    pub from_type: String,
    pub to_name: String,
    pub to_type: String,
}

impl TransferState {
    /// A transfer that starts now; its work runs elsewhere and finishes it.
    pub fn started(num: u64, app_id: String, kind: TransferKind, ends: Ends) -> TransferState {
        let now = now_data();
        TransferState {
            uuid: new_id(),
            num,
            app_id,
            kind,
            from_name: ends.from_name,
            from_type: ends.from_type,
            to_name: ends.to_name,
            to_type: ends.to_type,
            created_at: now.clone(),
            started_at: Some(now),
            finished_at: None,
            canceled_at: None,
            succeeded: None,
            processed_bytes: 0,
            source_bytes: None,
            logs: Vec::new(),
            warnings: 0,
            file: None,
            schedule: None,
            cancel: Arc::new(Notify::new()),
        }
    }

    pub fn log(&mut self, level: &str, message: impl Into<String>) {
        self.logs.push(TransferLog {
            created_at: Some(now_data()),
            level: Some(level.to_string()),
            message: message.into(),
        });
    }

    pub fn finish(&mut self, succeeded: bool) {
        self.finished_at = Some(now_data());
        self.succeeded = Some(succeeded);
    }
}

pub(crate) struct ScheduleState {
    pub uuid: String,
    pub app_id: String,
    pub addon_id: String,
    pub name: String,
    pub hour: u8,
    pub timezone: String,
    pub created_at: String,
}

pub(crate) struct PublicGrant {
    pub transfer: String,
    pub expires: SystemTime,
}

pub(crate) struct LogSessionState {
    pub app_id: String,
    pub dyno: Option<String>,
    pub source: Option<String>,
    pub lines: Option<usize>,
    pub tail: bool,
    pub expires: SystemTime,
}

/// One log line of an app.
#[derive(Debug, Clone)]
pub(crate) struct LogLine {
    pub seq: u64,
    pub source: String,
    pub dyno: String,
    pub text: String,
    pub time: String,
}

impl LogLine {
    /// As logplex prints it: `2026-01-05T10:00:00.123456+00:00 app[run.1234]: text`.
    pub fn render(&self) -> String {
        format!(
            "{} {}[{}]: {}",
            self.time, self.source, self.dyno, self.text
        )
    }
}

/// An app's recent log lines, which log sessions read and follow.
pub(crate) struct LogBuffer {
    inner: Mutex<LogInner>,
    pub notify: Notify,
}

struct LogInner {
    lines: VecDeque<LogLine>,
    next_seq: u64,
    /// One-off dynos whose process has ended: a stream of only that dyno ends there.
    ended: HashSet<String>,
}

const LOG_CAPACITY: usize = 10_000;

impl LogBuffer {
    pub fn new() -> LogBuffer {
        LogBuffer {
            inner: Mutex::new(LogInner {
                lines: VecDeque::new(),
                next_seq: 0,
                ended: HashSet::new(),
            }),
            notify: Notify::new(),
        }
    }

    pub fn push(&self, source: &str, dyno: &str, text: &str) {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let seq = inner.next_seq;
            inner.next_seq += 1;
            for part in text.split('\n') {
                inner.lines.push_back(LogLine {
                    seq,
                    source: source.to_string(),
                    dyno: dyno.to_string(),
                    text: part.trim_end_matches('\r').to_string(),
                    time: now_log(),
                });
            }
            while inner.lines.len() > LOG_CAPACITY {
                inner.lines.pop_front();
            }
        }
        self.notify.notify_waiters();
    }

    pub fn mark_ended(&self, dyno: &str) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ended
            .insert(dyno.to_string());
        self.notify.notify_waiters();
    }

    pub fn has_ended(&self, dyno: &str) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ended
            .contains(dyno)
    }

    /// Lines with `seq >= from` that pass `keep`, and the `from` that continues after them.
    pub fn snapshot(&self, from: u64, keep: impl Fn(&LogLine) -> bool) -> (Vec<LogLine>, u64) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let lines = inner
            .lines
            .iter()
            .filter(|l| l.seq >= from && keep(l))
            .cloned()
            .collect();
        (lines, inner.next_seq)
    }
}

impl World {
    pub fn empty(epoch: u64) -> World {
        World {
            epoch,
            apps: Vec::new(),
            addons: Vec::new(),
            attachments: Vec::new(),
            transfers: Vec::new(),
            schedules: Vec::new(),
            public_urls: HashMap::new(),
            log_sessions: HashMap::new(),
        }
    }

    /// An app by name or id.
    pub fn app(&self, ident: &str) -> Option<&AppState> {
        self.apps.iter().find(|a| a.name == ident || a.id == ident)
    }

    pub fn app_mut(&mut self, ident: &str) -> Option<&mut AppState> {
        self.apps
            .iter_mut()
            .find(|a| a.name == ident || a.id == ident)
    }

    pub fn app_by_id(&self, id: &str) -> Option<&AppState> {
        self.apps.iter().find(|a| a.id == id)
    }

    /// An add-on by name or id.
    pub fn addon(&self, ident: &str) -> Option<&AddonState> {
        self.addons
            .iter()
            .find(|a| a.name == ident || a.id == ident)
    }

    pub fn addon_by_id(&self, id: &str) -> Option<&AddonState> {
        self.addons.iter().find(|a| a.id == id)
    }

    pub fn attachments_of_app<'a>(
        &'a self,
        app_id: &'a str,
    ) -> impl Iterator<Item = &'a AttachmentState> + 'a {
        self.attachments.iter().filter(move |a| a.app_id == app_id)
    }

    /// Config var names of an add-on: one per attachment.
    pub fn addon_config_vars(&self, addon_id: &str) -> Vec<String> {
        let mut vars: Vec<String> = self
            .attachments
            .iter()
            .filter(|a| a.addon_id == addon_id)
            .map(AttachmentState::config_var)
            .collect();
        vars.sort();
        vars.dedup();
        vars
    }

    /// The first `HEROKU_POSTGRESQL_<COLOUR>` name not used on the app.
    pub fn free_colour_name(&self, app_id: &str) -> String {
        let used: HashSet<&str> = self
            .attachments_of_app(app_id)
            .map(|a| a.name.as_str())
            .collect();
        COLOURS
            .iter()
            .map(|c| format!("HEROKU_POSTGRESQL_{c}"))
            .find(|n| !used.contains(n.as_str()))
            .unwrap_or_else(|| format!("HEROKU_POSTGRESQL_{}", new_id()[..8].to_uppercase()))
    }

    pub fn transfer(&self, app_id: &str, ident: &str) -> Option<&TransferState> {
        self.transfers
            .iter()
            .find(|t| t.app_id == app_id && (t.uuid == ident || t.num.to_string() == ident))
    }

    pub fn transfer_mut(&mut self, uuid: &str) -> Option<&mut TransferState> {
        self.transfers.iter_mut().find(|t| t.uuid == uuid)
    }
}

impl AppState {
    pub fn app_ref(&self) -> AppRef {
        AppRef {
            id: AppId(self.id.clone()),
            name: self.name.clone(),
        }
    }

    pub fn current_release(&self) -> u64 {
        self.releases.last().map(|r| r.version).unwrap_or(0)
    }

    /// Appends a release of the current config vars; the caller restarts the dynos if the
    /// release changes config.
    pub fn add_release(&mut self, description: impl Into<String>) -> u64 {
        let version = self.current_release() + 1;
        self.releases.push(ReleaseState {
            id: new_id(),
            version,
            description: description.into(),
            status: "succeeded".into(),
            created_at: now_platform(),
            config_vars: self.config_vars.clone(),
        });
        self.updated_at = now_platform();
        version
    }

    pub fn view(&self) -> Value {
        let model = models::App {
            id: AppId(self.id.clone()),
            name: self.name.clone(),
            maintenance: self.maintenance,
            stack: Some(NamedRef {
                id: Some(self.stack_id.clone()),
                name: self.stack.clone(),
            }),
            web_url: Some(format!("https://{}.herokuapp.com/", self.name)),
            updated_at: Some(self.updated_at.clone()),
        };
        let mut v = to_value(&model);
        let released = self
            .releases
            .last()
            .map(|r| r.created_at.clone())
            .unwrap_or_else(|| self.created_at.clone());
        merge(
            &mut v,
            json!({
                "acm": false,
                "archived_at": null,
                "build_stack": { "id": self.stack_id, "name": self.stack },
                "buildpack_provided_description": null,
                "created_at": self.created_at,
                "generation": { "id": "cedar-generation", "name": "cedar" },
                "git_url": format!("https://git.heroku.com/{}.git", self.name),
                "internal_routing": null,
                "organization": null,
                "owner": { "email": ACCOUNT_EMAIL, "id": ACCOUNT_ID },
                "region": { "id": format!("region-{}", self.region), "name": self.region },
                "released_at": released,
                "repo_size": null,
                "slug_size": null,
                "space": null,
                "team": null,
            }),
        );
        v
    }

    /// A dyno by name (`web.1`) or id.
    pub fn dyno(&self, name_or_id: &str) -> Option<&DynoState> {
        self.dynos
            .iter()
            .find(|d| d.name == name_or_id || d.id == name_or_id)
    }

    pub fn dyno_view(&self, dyno: &DynoState) -> Value {
        let model = models::Dyno {
            id: DynoId(dyno.id.clone()),
            name: dyno.name.clone(),
            state: dyno.state.clone(),
            process_type: dyno.process_type.clone(),
            size: Some(dyno.size.clone()),
            command: Some(dyno.command.clone()),
            attach_url: None,
            created_at: Some(dyno.created_at.clone()),
            updated_at: Some(dyno.updated_at.clone()),
        };
        let mut v = to_value(&model);
        let release = self
            .releases
            .iter()
            .find(|r| r.version == dyno.release_version);
        merge(
            &mut v,
            json!({
                "app": self.app_ref(),
                "release": release.map(|r| json!({ "id": r.id, "version": r.version })),
            }),
        );
        v
    }

    pub fn release_view(&self, release: &ReleaseState, addon_plans: &[String]) -> Value {
        let model = models::Release {
            id: ReleaseId(release.id.clone()),
            version: release.version,
            description: release.description.clone(),
            status: Some(release.status.clone()),
            current: self.current_release() == release.version,
            created_at: Some(release.created_at.clone()),
        };
        let mut v = to_value(&model);
        merge(
            &mut v,
            json!({
                "addon_plan_names": addon_plans,
                "app": self.app_ref(),
                "artifacts": [],
                "eligible_for_rollback": true,
                "output_stream_url": null,
                "slug": null,
                "updated_at": release.created_at,
                "user": { "email": ACCOUNT_EMAIL, "id": ACCOUNT_ID },
            }),
        );
        v
    }

    pub fn formation_view(&self, f: &FormationState) -> Value {
        let model = models::Formation {
            id: f.id.clone(),
            process_type: f.process_type.clone(),
            quantity: i64::from(f.quantity),
            size: Some(f.size.clone()),
            command: Some(f.command.clone()),
        };
        let mut v = to_value(&model);
        merge(
            &mut v,
            json!({
                "app": self.app_ref(),
                "created_at": f.created_at,
                "dyno_size": { "id": format!("size-{}", f.size.to_lowercase()), "name": f.size },
                "updated_at": f.updated_at,
            }),
        );
        v
    }
}

/// The one account of the sandbox.
pub(crate) const ACCOUNT_ID: &str = "5a3e9a4c-1d8e-4b8e-9c3e-000000000001";
pub(crate) const ACCOUNT_EMAIL: &str = "sandbox@herokuops.invalid";

pub(crate) fn account_view() -> Value {
    let model = models::Account {
        id: ACCOUNT_ID.into(),
        email: ACCOUNT_EMAIL.into(),
        name: Some("Sandbox Operator".into()),
        two_factor_authentication: false,
    };
    let mut v = to_value(&model);
    merge(
        &mut v,
        json!({
            "allow_tracking": false,
            "beta": false,
            "created_at": "2026-01-01T00:00:00Z",
            "default_organization": null,
            "default_team": null,
            "delinquent_at": null,
            "federated": false,
            "identity_provider": null,
            "last_login": now_platform(),
            "sms_number": null,
            "suspended_at": null,
            "updated_at": "2026-01-01T00:00:00Z",
            "verified": true,
        }),
    );
    v
}

impl World {
    pub fn addon_view(&self, addon: &AddonState, expand_plan: bool) -> Value {
        let app = self.app_by_id(&addon.app_id);
        let app_ref = app.map(AppState::app_ref).unwrap_or_default();
        let service = addon.plan.split(':').next().unwrap_or_default().to_string();
        let model = models::Addon {
            id: AddonId(addon.id.clone()),
            name: addon.name.clone(),
            state: addon.state().to_string(),
            plan: NamedRef {
                id: Some(plan_id(&addon.plan)),
                name: addon.plan.clone(),
            },
            app: app_ref.clone(),
            addon_service: Some(NamedRef {
                id: Some(plan_id(&service)),
                name: service,
            }),
            config_vars: self.addon_config_vars(&addon.id),
            provision_message: None,
            created_at: Some(addon.created_at.clone()),
        };
        let mut v = to_value(&model);
        let info = plan_info(&addon.plan);
        let price =
            json!({ "cents": info.cents, "contract": false, "metered": false, "unit": "month" });
        if expand_plan {
            v["plan"]["price"] = price.clone();
            v["plan"]["human_name"] = json!(info.human);
        }
        merge(
            &mut v,
            json!({
                "actions": [],
                "billed_price": { "cents": info.cents, "contract": false, "unit": "month" },
                "billing_entity": { "id": app_ref.id, "name": app_ref.name, "type": "app" },
                "provider_id": format!("resource-{}", addon.id),
                "updated_at": addon.updated_at,
                "web_url": format!("https://data.heroku.com/datastores/{}", addon.id),
            }),
        );
        v
    }

    pub fn attachment_view(
        &self,
        att: &AttachmentState,
        include_plan: bool,
        include_vars: bool,
    ) -> Value {
        let addon = self.addon_by_id(&att.addon_id);
        let addon_app = addon
            .and_then(|a| self.app_by_id(&a.app_id))
            .map(AppState::app_ref)
            .unwrap_or_default();
        let app = self
            .app_by_id(&att.app_id)
            .map(AppState::app_ref)
            .unwrap_or_default();
        let model = models::Attachment {
            id: AttachmentId(att.id.clone()),
            name: att.name.clone(),
            namespace: att.namespace.clone(),
            addon: AttachedAddon {
                id: AddonId(att.addon_id.clone()),
                name: addon.map(|a| a.name.clone()).unwrap_or_default(),
                app: addon_app,
                plan: if include_plan {
                    addon.map(|a| NamedRef {
                        id: Some(plan_id(&a.plan)),
                        name: a.plan.clone(),
                    })
                } else {
                    None
                },
            },
            app,
            config_vars: include_vars.then(|| vec![att.config_var()]),
        };
        let mut v = to_value(&model);
        if !include_plan && let Some(addon) = v["addon"].as_object_mut() {
            addon.remove("plan");
        }
        if !include_vars && let Some(obj) = v.as_object_mut() {
            obj.remove("config_vars");
        }
        merge(
            &mut v,
            json!({
                "created_at": att.created_at,
                "log_input_url": null,
                "updated_at": att.created_at,
                "web_url": format!("https://data.heroku.com/datastores/{}", att.addon_id),
            }),
        );
        v
    }

    pub fn transfer_view(&self, t: &TransferState, verbose: bool, public_base: &str) -> Value {
        let model = models::Transfer {
            uuid: TransferId(t.uuid.clone()),
            num: t.num,
            from_name: Some(t.from_name.clone()),
            from_type: t.from_type.clone(),
            to_name: Some(t.to_name.clone()),
            to_type: t.to_type.clone(),
            to_url: None,
            created_at: Some(t.created_at.clone()),
            started_at: t.started_at.clone(),
            finished_at: t.finished_at.clone(),
            canceled_at: t.canceled_at.clone(),
            // `false` until finished: clients read it only once `finished_at` is set.
            succeeded: t.succeeded.unwrap_or(false),
            processed_bytes: t.processed_bytes,
            source_bytes: t.source_bytes,
            warnings: t.warnings,
            schedule: t.schedule.clone().map(|uuid| ScheduleRef { uuid }),
            options: Some(json!({})),
            logs: verbose.then(|| t.logs.clone()),
        };
        let mut v = to_value(&model);
        // Storage address of the dump: restores read it; it is not publicly downloadable
        // (a public URL is made on request).
        let to_url = match t.kind {
            TransferKind::Backup => {
                json!(format!(
                    "{public_base}/__sandbox/storage/{}/{}",
                    t.app_id, t.uuid
                ))
            }
            TransferKind::Restore | TransferKind::Copy => json!(null),
        };
        merge(
            &mut v,
            json!({
                "to_url": to_url,
                "deleted_at": null,
                "purged_at": null,
                "num_keep": 25,
                "updated_at": t.finished_at.clone().or(t.started_at.clone()).unwrap_or(t.created_at.clone()),
            }),
        );
        v
    }

    pub fn schedule_view(&self, s: &ScheduleState) -> Value {
        let model = models::Schedule {
            uuid: s.uuid.clone(),
            name: s.name.clone(),
            hour: json!(s.hour),
            timezone: s.timezone.clone(),
        };
        let mut v = to_value(&model);
        merge(
            &mut v,
            json!({ "created_at": s.created_at, "updated_at": s.created_at, "retain_weeks": 4, "retain_months": 0 }),
        );
        v
    }
}

fn plan_id(name: &str) -> String {
    // Stable per name, so the same plan has the same id in every view.
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    let h = format!("{hash:016x}");
    format!(
        "{}-{}-4{}-8{}-{}0000",
        &h[..8],
        &h[8..12],
        &h[12..15],
        &h[13..16],
        &h[..8]
    )
}

fn to_value<T: serde::Serialize>(model: &T) -> Value {
    serde_json::to_value(model).unwrap_or(Value::Null)
}

/// Adds `extra`'s fields to `target` (both objects), overwriting.
fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        for (k, v) in e {
            t.insert(k, v);
        }
    }
}

/// How long after `created` a provision delay ends.
pub(crate) fn ready_after(delay: Duration) -> Instant {
    Instant::now() + delay
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_heroku_shapes() {
        let p = now_platform();
        assert!(p.ends_with('Z') && p.contains('T'), "{p}");
        let d = now_data();
        assert!(d.ends_with(" +0000") && !d.contains('T'), "{d}");
        let l = now_log();
        assert!(l.ends_with("+00:00") && l.contains('.'), "{l}");
    }

    #[test]
    fn plan_names_are_human() {
        let p = plan_info("heroku-postgresql:essential-0");
        assert_eq!(p.human, "Essential 0");
        assert_eq!(p.max_connections, 20);
        assert_eq!(plan_id("x"), plan_id("x"));
        assert_ne!(plan_id("x"), plan_id("y"));
    }

    #[test]
    fn log_buffer_keeps_order_and_filters() {
        let buf = LogBuffer::new();
        buf.push("app", "run.1", "one\ntwo");
        buf.push("heroku", "run.1", "Process exited with status 0");
        buf.push("app", "web.1", "other");
        let (lines, next) = buf.snapshot(0, |l| l.dyno == "run.1");
        assert_eq!(next, 3);
        assert!(buf.snapshot(next, |_| true).0.is_empty());
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["one", "two", "Process exited with status 0"]);
        assert!(lines[2].render().contains(" heroku[run.1]: Process exited"));
        assert!(!buf.has_ended("run.1"));
        buf.mark_ended("run.1");
        assert!(buf.has_ended("run.1"));
    }
}
