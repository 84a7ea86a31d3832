//! `backup download APP --dir DIR [--keep N]`: a local archive of the app's backups, in place
//! of the ops guide's cron script that kept the last days of dumps.

use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{Ctx, Done, app_and_args};
use crate::error::Result;
use crate::output::progress::human_bytes;
use crate::output::{DryRun, Look, Outcome, Tone};
use crate::steps::archive::{self, Archived};

/// What the archive run did.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct Archive(pub Archived);

impl Outcome for Archive {
    fn human(&self, look: &Look) -> String {
        let a = &self.0;
        let file = look.paint(Tone::Name, &a.file);
        let mut text = match &a.download {
            Some(d) => format!("archived {} as {file} ({})", a.backup, human_bytes(d.bytes)),
            None => format!("{} is in the archive already, as {file}", a.backup),
        };
        for removed in &a.removed {
            text.push_str(&format!("\nremoved {}", look.paint(Tone::Dim, removed)));
        }
        text.push_str(&format!(
            "\n{} holds {} of this app's backups",
            a.dir.display(),
            a.kept.len()
        ));
        text
    }

    fn summary(&self) -> String {
        match &self.0.download {
            Some(_) => format!("archived {}", self.0.backup),
            None => format!("{} already archived", self.0.backup),
        }
    }

    fn github(&self, io: &crate::output::Io) {
        io.gha_outputs(&[
            ("backup_id", self.0.backup.clone()),
            ("file", self.0.dir.join(&self.0.file).display().to_string()),
        ]);
    }
}

pub async fn download(ctx: &Ctx, args: &[String], dir: PathBuf, keep: Option<u32>) -> Result<Done> {
    let usage = "herokuops backup download APP [BACKUP] --dir DIR [--keep N]";
    let (app, rest) = app_and_args(&ctx.global, args, 1, usage)?;
    let name = rest.first().map(String::as_str);
    if ctx.global.dry_run {
        let keeping = keep.map_or(String::new(), |k| format!(", keeping its newest {k}"));
        return Done::ok(DryRun::new(
            format!(
                "download {} of {app} into {} unless it is there{keeping}",
                name.unwrap_or("the newest backup"),
                dir.display()
            ),
            vec![],
        ));
    }
    let mut bar = ctx.bytes_bar(&format!(
        "archiving {}",
        name.unwrap_or("the newest backup")
    ));
    let done = archive::archive(ctx.api()?, &app, name, &dir, keep, &mut bar).await?;
    bar.finish(&format!("{} as {}", done.backup, done.file));
    Done::ok(Archive(done))
}
