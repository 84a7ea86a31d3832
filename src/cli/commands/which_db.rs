//! Which database a command works on: the app's `DATABASE_URL`, another of its attachments, or
//! any URL (a local one gets this machine's user, as libpq gives it).

use clap::Args;

use crate::cli::{Ctx, app_and_args};
use crate::error::{Error, Result};
use crate::pg::Target;
use crate::steps::{Event, pushpull};

/// Which database: the app's `DATABASE_URL`, another of its attachments, or any URL.
#[derive(Debug, Clone, Default, Args)]
pub struct WhichDb {
    /// Another of the app's databases than DATABASE_URL, e.g. HEROKU_POSTGRESQL_AMBER
    #[arg(long, value_name = "ATTACHMENT")]
    pub database: Option<String>,
    /// Any database instead of an app's (e.g. a local one); sslmode as libpq reads it
    #[arg(long, value_name = "URL", conflicts_with = "database")]
    pub database_url: Option<String>,
}

/// A database a command works on, resolved.
pub struct Resolved {
    pub url: String,
    /// The app, or the masked URL.
    pub label: String,
    /// What a destructive action is confirmed with: the app, or the database's name.
    pub confirm_name: String,
    pub app: Option<String>,
}

/// Splits the positionals into the app (none with `--database-url`) and exactly `own` words
/// of the command's own.
pub fn split_args(
    ctx: &Ctx,
    which: &WhichDb,
    args: &[String],
    own: usize,
    usage: &str,
) -> Result<(Option<String>, Vec<String>)> {
    let (app, rest) = match &which.database_url {
        Some(_) if ctx.global.app.is_some() => {
            return Err(Error::usage(format!(
                "give either an app or --database-url, not both: {usage}"
            )));
        }
        Some(_) => (None, args.to_vec()),
        None => {
            let (app, rest) = app_and_args(&ctx.global, args, own, usage)?;
            (Some(app), rest)
        }
    };
    if rest.len() != own {
        return Err(Error::usage(format!(
            "{} argument(s) where {own} belong: {usage}",
            rest.len()
        )));
    }
    Ok((app, rest))
}

/// The URL of the database, masked (in GitHub Actions) before anything could print it.
pub async fn resolve(ctx: &Ctx, app: Option<&str>, which: &WhichDb) -> Result<Resolved> {
    if let Some(given) = &which.database_url {
        ctx.io.mask(given);
        let url = &with_local_user(given);
        let target = Target::parse(url)?;
        return Ok(Resolved {
            url: url.to_string(),
            label: target.display().to_string(),
            confirm_name: target.database().to_string(),
            app: None,
        });
    }
    let app = app.ok_or_else(|| Error::usage("no app given, and no --database-url"))?;
    let io = ctx.io.clone();
    let mut mask = move |event: Event| {
        if let Event::Secret(secret) = event {
            io.mask(&secret);
        }
    };
    let attachment = which.database.as_deref();
    let url = pushpull::database_url(ctx.api()?, app, attachment, &mut mask).await?;
    let label = match attachment {
        Some(name) => format!("{name} of {app}"),
        None => app.to_string(),
    };
    Ok(Resolved {
        url,
        label,
        confirm_name: app.to_string(),
        app: Some(app.to_string()),
    })
}

/// A local URL without a user name gets the one libpq would use: this machine's user's.
pub fn with_default_user(url: &str, os_user: Option<String>) -> String {
    match (url::Url::parse(url), os_user) {
        (Ok(mut parsed), Some(user)) if parsed.username().is_empty() && parsed.has_host() => {
            let _ = parsed.set_username(&user);
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// This machine's user name, as libpq finds it: `USER`, `LOGNAME`, else the password file's
/// entry of the process's user.
fn os_user() -> Option<String> {
    if let Some(user) = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
    {
        return Some(user);
    }
    let uid = rustix::process::getuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.get(2) == Some(&uid.as_str()))
        .and_then(|fields| fields.first().map(|name| name.to_string()))
}

/// [`with_default_user`] with this machine's user.
pub fn with_local_user(url: &str) -> String {
    with_default_user(url, os_user())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_url_without_a_user_gets_this_machines_user() {
        let me = Some("ops".to_string());
        assert_eq!(
            with_default_user("postgres://localhost/tmi_dev", me.clone()),
            "postgres://ops@localhost/tmi_dev"
        );
        let given = "postgres://app:pw@localhost:5433/tmi_dev";
        assert_eq!(with_default_user(given, me), given);
        assert_eq!(
            with_default_user("postgres://localhost/x", None),
            "postgres://localhost/x"
        );
    }
}
