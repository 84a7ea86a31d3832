//! `schema diff`: two schemas, each a live database or an expected-schema file.

use std::path::{Path, PathBuf};

use crate::cli::{Ctx, Done};
use crate::error::{Error, Result};
use crate::pg::expected::Expected;
use crate::pg::introspect::{MigrationProbe, introspect};
use crate::pg::snapshot::{self, SnapshotOptions};
use crate::pg::{Drift, DriftKind, VerifyOptions, verify_live};

use super::{Resolved, SchemaDiff, compared, connect};

/// One side of `schema diff`.
enum Side {
    File(PathBuf),
    Live(Box<Resolved>),
}

impl Side {
    fn label(&self) -> String {
        match self {
            Side::File(path) => path.display().to_string(),
            Side::Live(resolved) => resolved.label.clone(),
        }
    }
}

/// A file when the argument names one (or ends in `.toml`), a URL when it has a scheme, else
/// `APP` or `APP:ATTACHMENT`.
async fn side(ctx: &Ctx, arg: &str) -> Result<Side> {
    if arg.ends_with(".toml") || Path::new(arg).is_file() {
        return Ok(Side::File(PathBuf::from(arg)));
    }
    if arg.contains("://") {
        ctx.io.mask(arg);
        return Ok(Side::Live(Box::new(Resolved::of_url(arg)?)));
    }
    let (app, attachment) = match arg.split_once(':') {
        Some((app, attachment)) => (app, Some(attachment)),
        None => (arg, None),
    };
    let var = match attachment {
        None => "DATABASE_URL".to_string(),
        Some(a) => {
            let a = a.to_ascii_uppercase().replace('-', "_");
            match a.ends_with("_URL") {
                true => a,
                false => format!("{a}_URL"),
            }
        }
    };
    let vars = ctx.api()?.config_vars(app).await?;
    let url = vars.get(&var).ok_or_else(|| {
        Error::usage(format!(
            "app {app} has no {var}: name an attachment whose URL is in the app's config vars (APP:ATTACHMENT)"
        ))
    })?;
    ctx.io.mask(url);
    Ok(Side::Live(Box::new(Resolved::of_app(app, arg, url)?)))
}

/// The expected form of a side: the file, or a strict snapshot of the live schema.
async fn as_expected(side: &Side, schema: &str, options: &SnapshotOptions) -> Result<Expected> {
    match side {
        Side::File(path) => Ok(Expected::load(path)?),
        Side::Live(resolved) => {
            let db = connect(resolved).await?;
            let live = introspect(&db, schema, &MigrationProbe::Auto).await?;
            let text = snapshot::render_with(&live, &resolved.label, options);
            Ok(Expected::parse(&text, Path::new("snapshot"))?)
        }
    }
}

/// A drift seen from the other side: expected and found swapped, missing and extra too.
fn flipped(mut d: Drift) -> Drift {
    use DriftKind::*;
    const PAIRS: [(DriftKind, DriftKind); 7] = [
        (MissingTable, ExtraTable),
        (MissingColumn, ExtraColumn),
        (MissingIndex, ExtraIndex),
        (MissingUnique, ExtraUnique),
        (MissingCheck, ExtraCheck),
        (MissingForeignKey, ExtraForeignKey),
        (Missing, Extra),
    ];
    for (a, b) in PAIRS {
        if d.kind == a {
            d.kind = b;
        } else if d.kind == b {
            d.kind = a;
        }
    }
    std::mem::swap(&mut d.expected, &mut d.found);
    d
}

pub(super) async fn diff(
    ctx: &Ctx,
    a: &str,
    b: &str,
    schema: &str,
    with_grants: bool,
) -> Result<Done> {
    let (a, b) = (side(ctx, a).await?, side(ctx, b).await?);
    let options = SnapshotOptions { with_grants };
    let verify_options = VerifyOptions { with_grants };
    // The live side's server renders both sides' definitions; with two live sides, B's.
    let drifts = match (&a, &b) {
        (_, Side::Live(live)) => {
            let expected = as_expected(&a, schema, &options).await?;
            let db = connect(live).await?;
            verify_live(&db, &expected, &verify_options).await?.drifts
        }
        (Side::Live(live), Side::File(_)) => {
            let expected = as_expected(&b, schema, &options).await?;
            let db = connect(live).await?;
            let verified = verify_live(&db, &expected, &verify_options).await?;
            verified.drifts.into_iter().map(flipped).collect()
        }
        (Side::File(_), Side::File(_)) => {
            return Err(Error::usage(
                "schema diff needs at least one live database (APP, APP:ATTACHMENT or URL): definitions are compared as a server renders them",
            ));
        }
    };
    let outcome = SchemaDiff {
        ok: drifts.is_empty(),
        a: a.label(),
        b: b.label(),
        drift: drifts,
    };
    let differences = outcome.drift.len();
    compared(outcome, differences)
}
