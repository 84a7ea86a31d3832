//! Platform API handlers: account, apps (maintenance), dynos and formation (read side), config
//! vars, releases, add-ons and attachments.
//!
//! Every change of an app's config vars makes a release and restarts its dynos, as on Heroku:
//! attaching a database (a promotion is "Attach DATABASE" with "Detach DATABASE" of the old one),
//! detaching one, or setting vars.

use std::sync::Arc;
use std::time::SystemTime;

use hyper::StatusCode;
use rand::Rng;
use serde_json::{Value, json};

use super::Inner;
use super::dynos::{Which, restart};
use super::fixture::is_attachment_name;
use super::state::{self, AddonState, AttachmentState, World};
use crate::paging::paginate;
use crate::wire::{Failure, Outcome, Req, created, json_response, ok};

pub(crate) fn account() -> Outcome {
    ok(&state::account_view())
}

fn no_app(app: &str) -> Failure {
    Failure::not_found(format!("Couldn't find that app ({app})."))
}

fn no_addon() -> Failure {
    Failure::not_found("Couldn't find that add-on.")
}

/// An identity given as a string, or as an object with `name` or `id`, as the official CLI sends
/// `{"name": ...}` objects where the schema has identities.
pub(crate) fn identity(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o
            .get("name")
            .or_else(|| o.get("id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        _ => None,
    }
}

pub(crate) fn apps_list(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let world = inner.world();
    paginate(req, world.apps.iter().map(|a| a.view()).collect(), "id")
}

pub(crate) fn app_get(inner: &Arc<Inner>, app: &str) -> Outcome {
    let world = inner.world();
    ok(&world.app(app).ok_or_else(|| no_app(app))?.view())
}

pub(crate) fn app_patch(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let body = req.json()?;
    let mut world = inner.world();
    let found = world.app_mut(app).ok_or_else(|| no_app(app))?;
    if let Some(name) = body.get("name").and_then(Value::as_str)
        && name != found.name
    {
        return Err(Failure::invalid(
            "Renaming apps is not supported by the sandbox.",
        ));
    }
    match body.get("maintenance") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(on)) => {
            found.maintenance = *on;
            found.updated_at = state::now_platform();
        }
        Some(_) => return Err(Failure::invalid("maintenance must be true or false")),
    }
    ok(&found.view())
}

pub(crate) fn dynos_list(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let views = found.dynos.iter().map(|d| found.dyno_view(d)).collect();
    paginate(req, views, "id")
}

pub(crate) fn dyno_get(inner: &Arc<Inner>, app: &str, dyno: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let d = found
        .dyno(dyno)
        .ok_or_else(|| Failure::not_found("Couldn't find that dyno."))?;
    ok(&found.dyno_view(d))
}

pub(crate) fn formation_list(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let views = found
        .formation
        .iter()
        .map(|f| found.formation_view(f))
        .collect();
    paginate(req, views, "id")
}

pub(crate) fn formation_get(inner: &Arc<Inner>, app: &str, kind: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let f = found
        .formation
        .iter()
        .find(|f| f.process_type == kind || f.id == kind)
        .ok_or_else(|| Failure::not_found("Couldn't find that formation."))?;
    ok(&found.formation_view(f))
}

pub(crate) fn config_get(inner: &Arc<Inner>, app: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    ok(&json!(found.config_vars))
}

/// `PATCH /apps/{app}/config-vars`: `{"NAME": "value"}` sets, `{"NAME": null}` removes.
pub(crate) fn config_patch(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let body = req.json()?;
    let changes = body
        .as_object()
        .ok_or_else(|| Failure::invalid("the body must be an object of config vars"))?;
    let (app_id, view) = {
        let mut world = inner.world();
        let found = world.app_mut(app).ok_or_else(|| no_app(app))?;
        let mut set = Vec::new();
        let mut removed = Vec::new();
        for (name, value) in changes {
            match value {
                Value::Null => {
                    if found.config_vars.remove(name).is_some() {
                        removed.push(name.clone());
                    }
                }
                Value::String(v) => {
                    found.config_vars.insert(name.clone(), v.clone());
                    set.push(name.clone());
                }
                other => {
                    found.config_vars.insert(name.clone(), other.to_string());
                    set.push(name.clone());
                }
            }
        }
        if !set.is_empty() {
            found.add_release(format!("Set {} config vars", set.join(", ")));
        }
        if !removed.is_empty() {
            found.add_release(format!("Remove {} config vars", removed.join(", ")));
        }
        if set.is_empty() && removed.is_empty() {
            return ok(&json!(found.config_vars));
        }
        (found.id.clone(), json!(found.config_vars))
    };
    let _ = restart(inner, &app_id, Which::All);
    ok(&view)
}

fn plan_names(world: &World, app_id: &str) -> Vec<String> {
    let mut names: Vec<String> = world
        .addons
        .iter()
        .filter(|a| a.app_id == app_id)
        .map(|a| a.plan.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

pub(crate) fn releases_list(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let plans = plan_names(&world, &found.id);
    let views = found
        .releases
        .iter()
        .map(|r| found.release_view(r, &plans))
        .collect();
    paginate(req, views, "version")
}

pub(crate) fn release_get(inner: &Arc<Inner>, app: &str, id: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let plans = plan_names(&world, &found.id);
    let release = found
        .releases
        .iter()
        .find(|r| r.id == id || r.version.to_string() == id)
        .ok_or_else(|| Failure::not_found("Couldn't find that release."))?;
    ok(&found.release_view(release, &plans))
}

/// `GET /apps/{app}/releases/{id_or_version}/config-vars`: the config vars of that release.
pub(crate) fn release_config(inner: &Arc<Inner>, app: &str, id: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let release = found
        .releases
        .iter()
        .find(|r| r.id == id || r.version.to_string() == id)
        .ok_or_else(|| Failure::not_found("Couldn't find that release."))?;
    ok(&json!(release.config_vars))
}

pub(crate) fn addons_list(inner: &Arc<Inner>, req: &Req, app: Option<&str>) -> Outcome {
    let world = inner.world();
    let app_id = match app {
        Some(app) => Some(world.app(app).ok_or_else(|| no_app(app))?.id.clone()),
        None => None,
    };
    let views = world
        .addons
        .iter()
        .filter(|a| app_id.as_ref().is_none_or(|id| &a.app_id == id))
        .map(|a| world.addon_view(a, req.expands("plan")))
        .collect();
    paginate(req, views, "id")
}

/// An add-on by name or id; with an app, it must belong to that app.
fn find_addon<'w>(
    world: &'w World,
    app: Option<&str>,
    ident: &str,
) -> Result<&'w AddonState, Failure> {
    let addon = world.addon(ident).ok_or_else(no_addon)?;
    if let Some(app) = app {
        let owner = world.app(app).ok_or_else(|| no_app(app))?;
        if owner.id != addon.app_id {
            return Err(no_addon());
        }
    }
    Ok(addon)
}

pub(crate) fn addon_get(inner: &Arc<Inner>, req: &Req, app: Option<&str>, ident: &str) -> Outcome {
    let world = inner.world();
    let addon = find_addon(&world, app, ident)?;
    ok(&world.addon_view(addon, req.expands("plan")))
}

const NAME_WORDS: &[&str] = &[
    "shaped",
    "clear",
    "round",
    "curly",
    "solid",
    "silent",
    "rigid",
    "vertical",
    "opaque",
    "cubic",
    "flat",
    "amorphous",
    "crystalline",
    "angular",
    "parallel",
    "spherical",
    "triangular",
    "concentric",
    "symmetrical",
    "elliptical",
];

/// A Heroku-style add-on name, e.g. `postgresql-shaped-12345`, unused in the world.
pub(crate) fn addon_name(world: &World) -> String {
    let mut rng = rand::rng();
    loop {
        let word = NAME_WORDS[rng.random_range(0..NAME_WORDS.len())];
        let name = format!("postgresql-{word}-{}", rng.random_range(10000..100000));
        if world.addon(&name).is_none() {
            return name;
        }
    }
}

fn valid_addon_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `POST /apps/{app}/addons`: a new real database, attached as DATABASE if the app has none
/// (with a colour alias), else under a colour name; `provisioning` for the provision delay.
pub(crate) async fn addon_create(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let body = req.json()?;
    let plan = identity(&body["plan"]).ok_or_else(|| Failure::invalid("plan is required"))?;
    let plan = match plan.as_str() {
        "heroku-postgresql" => "heroku-postgresql:essential-0".to_string(),
        p if p.starts_with("heroku-postgresql:") && p.len() > "heroku-postgresql:".len() => {
            p.to_string()
        }
        p => {
            return Err(Failure::invalid(format!(
                "Couldn't find either the add-on service or the add-on plan of \"{p}\": the sandbox has only heroku-postgresql."
            )));
        }
    };
    let wanted_name = body.get("name").and_then(Value::as_str).map(str::to_string);
    let wanted_attachment = body
        .get("attachment")
        .and_then(|a| a.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    {
        let world = inner.world();
        let owner = world.app(app).ok_or_else(|| no_app(app))?;
        if let Some(name) = &wanted_name {
            if !valid_addon_name(name) {
                return Err(Failure::invalid(format!(
                    "Name {name:?} must start with a letter and contain only letters, digits, dashes and underscores."
                )));
            }
            if world.addon(name).is_some() {
                return Err(Failure::invalid(format!("Name {name} is already taken.")));
            }
        }
        if let Some(att) = &wanted_attachment {
            if !is_attachment_name(att) {
                return Err(Failure::invalid(format!(
                    "Attachment name {att:?} must be upper-case letters, digits and underscores."
                )));
            }
            if world.attachments_of_app(&owner.id).any(|a| &a.name == att) {
                return Err(Failure::invalid(format!(
                    "{att} is already used on {}; choose another attachment name.",
                    owner.name
                )));
            }
        }
    }
    // The database exists before the add-on does; a failure here leaves nothing behind.
    let creds = inner
        .pg
        .create_database()
        .await
        .map_err(|e| Failure::internal(format!("could not create the database: {e}")))?;
    let url = inner.pg.url(&creds);
    let (app_id, view) = {
        let mut world = inner.world();
        let Some(owner) = world.app(app) else {
            return Err(no_app(app));
        };
        let app_id = owner.id.clone();
        let now = state::now_platform();
        let name = wanted_name.unwrap_or_else(|| addon_name(&world));
        let addon = AddonState {
            id: state::new_id(),
            name: name.clone(),
            app_id: app_id.clone(),
            plan,
            created_at: now.clone(),
            updated_at: now.clone(),
            created: SystemTime::now(),
            ready_at: state::ready_after(inner.options.provision_delay),
            creds,
            url: url.clone(),
        };
        let names = match wanted_attachment {
            Some(n) => vec![n],
            None if !world
                .attachments_of_app(&app_id)
                .any(|a| a.name == "DATABASE") =>
            {
                vec!["DATABASE".to_string(), world.free_colour_name(&app_id)]
            }
            None => vec![world.free_colour_name(&app_id)],
        };
        let addon_id = addon.id.clone();
        world.addons.push(addon);
        for n in &names {
            world.attachments.push(AttachmentState {
                id: state::new_id(),
                name: n.clone(),
                namespace: None,
                addon_id: addon_id.clone(),
                app_id: app_id.clone(),
                created_at: now.clone(),
            });
        }
        if let Some(owner) = world.app_mut(&app_id) {
            for n in &names {
                owner.config_vars.insert(format!("{n}_URL"), url.clone());
                owner.add_release(format!("Attach {n} (@ref:{name})"));
            }
        }
        let addon = world.addon_by_id(&addon_id).ok_or_else(no_addon)?;
        (app_id, world.addon_view(addon, req.expands("plan")))
    };
    let _ = restart(inner, &app_id, Which::All);
    created(&view)
}

/// `DELETE /apps/{app}/addons/{addon}`: detaches it everywhere and drops its database.
pub(crate) async fn addon_destroy(
    inner: &Arc<Inner>,
    req: &Req,
    app: Option<&str>,
    ident: &str,
) -> Outcome {
    let (creds, mut view, app_id) = {
        let mut world = inner.world();
        let addon = find_addon(&world, app, ident)?;
        let addon_id = addon.id.clone();
        let addon_name = addon.name.clone();
        let app_id = addon.app_id.clone();
        let view = world.addon_view(addon, req.expands("plan"));
        let detached: Vec<AttachmentState> = {
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut world.attachments)
                .into_iter()
                .partition(|a| a.addon_id == addon_id);
            world.attachments = kept;
            gone
        };
        for att in &detached {
            if let Some(owner) = world.app_mut(&att.app_id) {
                owner.config_vars.remove(&att.config_var());
                owner.add_release(format!("Detach {} (@ref:{addon_name})", att.name));
            }
        }
        world.schedules.retain(|s| s.addon_id != addon_id);
        let position = world
            .addons
            .iter()
            .position(|a| a.id == addon_id)
            .ok_or_else(no_addon)?;
        let addon = world.addons.remove(position);
        (addon.creds, view, app_id)
    };
    inner
        .pg
        .drop_database(&creds)
        .await
        .map_err(|e| Failure::internal(format!("could not drop the database: {e}")))?;
    view["state"] = json!("deprovisioned");
    view["config_vars"] = json!([]);
    let _ = restart(inner, &app_id, Which::All);
    ok(&view)
}

pub(crate) fn attachments_list(inner: &Arc<Inner>, req: &Req, app: &str) -> Outcome {
    let world = inner.world();
    let found = world.app(app).ok_or_else(|| no_app(app))?;
    let views = world
        .attachments_of_app(&found.id)
        .map(|a| world.attachment_view(a, req.includes("addon:plan"), req.includes("config_vars")))
        .collect();
    paginate(req, views, "id")
}

/// `GET /addon-attachments`: every attachment of the account.
pub(crate) fn all_attachments(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let world = inner.world();
    let views = world
        .attachments
        .iter()
        .map(|a| world.attachment_view(a, req.includes("addon:plan"), req.includes("config_vars")))
        .collect();
    paginate(req, views, "id")
}

pub(crate) fn attachment_get(
    inner: &Arc<Inner>,
    req: &Req,
    app: Option<&str>,
    ident: &str,
) -> Outcome {
    let world = inner.world();
    let app_id = match app {
        Some(app) => Some(world.app(app).ok_or_else(|| no_app(app))?.id.clone()),
        None => None,
    };
    let att = world
        .attachments
        .iter()
        .find(|a| {
            app_id.as_ref().is_none_or(|id| &a.app_id == id)
                && (a.id == ident || (app_id.is_some() && a.name == ident))
        })
        .ok_or_else(|| Failure::not_found("Couldn't find that add on attachment."))?;
    ok(&world.attachment_view(att, req.includes("addon:plan"), req.includes("config_vars")))
}

pub(crate) fn addon_attachments(inner: &Arc<Inner>, req: &Req, ident: &str) -> Outcome {
    let world = inner.world();
    let addon = world.addon(ident).ok_or_else(no_addon)?;
    let views = world
        .attachments
        .iter()
        .filter(|a| a.addon_id == addon.id)
        .map(|a| world.attachment_view(a, req.includes("addon:plan"), req.includes("config_vars")))
        .collect();
    paginate(req, views, "id")
}

/// `POST /addon-attachments`. Attaching under a name another add-on holds (DATABASE, in a
/// promotion) moves the name, as Heroku does: "Detach NAME" of the old add-on, then
/// "Attach NAME" of the new one. Without a name the attachment gets a colour name.
pub(crate) fn attachment_create(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let body = req.json()?;
    let addon_ident =
        identity(&body["addon"]).ok_or_else(|| Failure::invalid("addon is required"))?;
    let app_ident = identity(&body["app"]).ok_or_else(|| Failure::invalid("app is required"))?;
    let namespace = match body.get("namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Failure::invalid("namespace must be a string or null")),
    };
    let confirm = body.get("confirm").and_then(Value::as_str);
    let (app_id, status, view) = {
        let mut world = inner.world();
        let app = world.app(&app_ident).ok_or_else(|| no_app(&app_ident))?;
        let (app_id, app_name) = (app.id.clone(), app.name.clone());
        let addon = world.addon(&addon_ident).ok_or_else(no_addon)?;
        let (addon_id, addon_name, url) = (addon.id.clone(), addon.name.clone(), addon.url.clone());
        let name = match body.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => {
                if !is_attachment_name(n) {
                    return Err(Failure::invalid(format!(
                        "Attachment name {n:?} must be upper-case letters, digits and underscores."
                    )));
                }
                n.to_string()
            }
            _ => world.free_colour_name(&app_id),
        };
        let existing = world
            .attachments
            .iter()
            .position(|a| a.app_id == app_id && a.name == name && a.namespace == namespace);
        let mut descriptions = Vec::new();
        if let Some(at) = existing {
            if world.attachments[at].addon_id == addon_id {
                let view = world.attachment_view(&world.attachments[at], false, false);
                return Ok(json_response(StatusCode::OK, &view));
            }
            if confirm != Some(app_name.as_str()) {
                return Err(Failure::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "confirmation_required",
                    format!(
                        "{name} is attached to another add-on on {app_name}; confirm with the app name to move it to {addon_name}."
                    ),
                ));
            }
            let old = world.attachments.remove(at);
            let old_name = world
                .addon_by_id(&old.addon_id)
                .map(|a| a.name.clone())
                .unwrap_or_default();
            descriptions.push(format!("Detach {name} (@ref:{old_name})"));
        }
        let attachment = AttachmentState {
            id: state::new_id(),
            name: name.clone(),
            namespace,
            addon_id,
            app_id: app_id.clone(),
            created_at: state::now_platform(),
        };
        let view = world.attachment_view(&attachment, false, false);
        world.attachments.push(attachment);
        descriptions.push(format!("Attach {name} (@ref:{addon_name})"));
        if let Some(owner) = world.app_mut(&app_id) {
            owner.config_vars.insert(format!("{name}_URL"), url);
            for d in descriptions {
                owner.add_release(d);
            }
        }
        (app_id, StatusCode::CREATED, view)
    };
    let _ = restart(inner, &app_id, Which::All);
    Ok(json_response(status, &view))
}

pub(crate) fn attachment_delete(inner: &Arc<Inner>, ident: &str) -> Outcome {
    let (app_id, view) = {
        let mut world = inner.world();
        let at = world
            .attachments
            .iter()
            .position(|a| a.id == ident)
            .ok_or_else(|| Failure::not_found("Couldn't find that add on attachment."))?;
        let view = world.attachment_view(&world.attachments[at], false, false);
        let att = world.attachments.remove(at);
        let addon_name = world
            .addon_by_id(&att.addon_id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        if let Some(owner) = world.app_mut(&att.app_id) {
            owner.config_vars.remove(&att.config_var());
            owner.add_release(format!("Detach {} (@ref:{addon_name})", att.name));
        }
        (att.app_id, view)
    };
    let _ = restart(inner, &app_id, Which::All);
    ok(&view)
}

/// Splits `otherapp::NAME`.
fn split_app_ref(app: Option<&str>, ident: &str) -> (Option<String>, String) {
    match ident.split_once("::") {
        Some((other, rest)) if !other.is_empty() => (Some(other.to_string()), rest.to_string()),
        _ => (app.map(str::to_string), ident.to_string()),
    }
}

fn service_matches(world: &World, addon_id: &str, service: Option<&str>) -> bool {
    service.is_none_or(|s| {
        world
            .addon_by_id(addon_id)
            .is_some_and(|a| a.plan.split(':').next() == Some(s))
    })
}

/// `POST /actions/addon-attachments/resolve`: attachments whose name, config var, id, or
/// add-on name or id is the one asked for.
pub(crate) fn resolve_attachment(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let asked = Resolve::read(req, "addon_attachment")?;
    let (ident, service) = (asked.ident.as_str(), asked.service.as_deref());
    let world = inner.world();
    let app_id = asked.app_id(&world)?;
    let matches: Vec<Value> = world
        .attachments
        .iter()
        .filter(|a| app_id.as_ref().is_none_or(|id| &a.app_id == id))
        .filter(|a| {
            let addon = world.addon_by_id(&a.addon_id);
            a.name == ident
                || a.id == ident
                || a.config_var() == ident
                || addon.is_some_and(|x| x.name == ident || x.id == ident)
        })
        .filter(|a| service_matches(&world, &a.addon_id, service))
        .map(|a| world.attachment_view(a, req.includes("addon:plan"), req.includes("config_vars")))
        .collect();
    if matches.is_empty() {
        return Err(Failure::not_found("Couldn't find that add on attachment."));
    }
    ok(&Value::Array(matches))
}

/// What a resolve action asks for: an identifier (perhaps `app::name`), the app it is relative
/// to, and the add-on service it must be of.
struct Resolve {
    app: Option<String>,
    ident: String,
    service: Option<String>,
}

impl Resolve {
    fn read(req: &Req, key: &str) -> Result<Resolve, Failure> {
        let body = req.json()?;
        let ident = body
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::invalid(format!("{key} is required")))?;
        let (app, ident) = split_app_ref(body.get("app").and_then(Value::as_str), ident);
        let service = body.get("addon_service").and_then(identity_str);
        Ok(Resolve {
            app,
            ident,
            service,
        })
    }

    /// The id of the app it is relative to; an app that does not exist is a 404.
    fn app_id(&self, world: &World) -> Result<Option<String>, Failure> {
        match &self.app {
            Some(a) => Ok(Some(world.app(a).ok_or_else(|| no_app(a))?.id.clone())),
            None => Ok(None),
        }
    }
}

fn identity_str(value: &Value) -> Option<String> {
    identity(value)
}

/// `POST /actions/addons/resolve`: the add-on with that name or id, or the one attached to the
/// app under that attachment name or config var.
pub(crate) fn resolve_addon(inner: &Arc<Inner>, req: &Req) -> Outcome {
    let asked = Resolve::read(req, "addon")?;
    let (ident, service) = (asked.ident.as_str(), asked.service.as_deref());
    let world = inner.world();
    let app_id = asked.app_id(&world)?;
    let attached_to_app = |addon_id: &str| {
        app_id.as_ref().is_none_or(|id| {
            world
                .attachments
                .iter()
                .any(|a| &a.app_id == id && a.addon_id == addon_id)
                || world.addon_by_id(addon_id).is_some_and(|x| &x.app_id == id)
        })
    };
    let mut found: Vec<&AddonState> = world
        .addons
        .iter()
        .filter(|a| (a.name == ident || a.id == ident) && attached_to_app(&a.id))
        .collect();
    if found.is_empty()
        && let Some(app_id) = &app_id
    {
        let mut ids: Vec<&str> = world
            .attachments_of_app(app_id)
            .filter(|a| a.name == ident || a.config_var() == ident)
            .map(|a| a.addon_id.as_str())
            .collect();
        ids.dedup();
        found = ids
            .into_iter()
            .filter_map(|id| world.addon_by_id(id))
            .collect();
    }
    found.retain(|a| service_matches(&world, &a.id, service));
    if found.is_empty() {
        return Err(Failure::not_found("Couldn't find that add on."));
    }
    let views: Vec<Value> = found
        .into_iter()
        .map(|a| world.addon_view(a, req.expands("plan")))
        .collect();
    ok(&Value::Array(views))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_as_strings_or_objects() {
        assert_eq!(identity(&json!("x")), Some("x".into()));
        assert_eq!(identity(&json!({"name": "y"})), Some("y".into()));
        assert_eq!(identity(&json!({"id": "z"})), Some("z".into()));
        assert_eq!(identity(&json!({})), None);
        assert_eq!(identity(&json!("")), None);
    }

    #[test]
    fn app_refs_split() {
        assert_eq!(
            split_app_ref(Some("a"), "other::DATABASE"),
            (Some("other".into()), "DATABASE".into())
        );
        assert_eq!(
            split_app_ref(Some("a"), "DATABASE_URL"),
            (Some("a".into()), "DATABASE_URL".into())
        );
    }

    #[test]
    fn addon_names() {
        assert!(valid_addon_name("tmi-db-2"));
        assert!(!valid_addon_name("2db"));
        assert!(!valid_addon_name("a b"));
    }
}
