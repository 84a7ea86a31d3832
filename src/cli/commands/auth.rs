//! `whoami`, `login`, `logout`.

use clap::Args;
use serde::Serialize;

use crate::api::{ApiClient, Token};
use crate::cli::{Ctx, Done};
use crate::error::{Error, Result};
use crate::output::{Look, Outcome, Tone};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  heroku authorizations:create --short | herokuops login --token-stdin\n  herokuops login"
)]
pub struct LoginArgs {
    /// Read the token from standard input instead of prompting
    #[arg(long)]
    pub token_stdin: bool,
}

/// The account behind the token, and where the token came from.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub email: String,
    pub id: String,
    pub token_source: String,
}

impl Outcome for Identity {
    fn human(&self, look: &Look) -> String {
        format!(
            "{}\ntoken from: {}",
            look.paint(Tone::Strong, &self.email),
            self.token_source
        )
    }

    fn summary(&self) -> String {
        self.email.clone()
    }
}

/// A token kept, or forgotten.
#[derive(Debug, Clone, Serialize)]
pub struct TokenKept {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Where it is kept (login) or was removed from (logout); none when nothing was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<bool>,
}

impl Outcome for TokenKept {
    fn human(&self, look: &Look) -> String {
        match (&self.email, &self.stored_in, self.removed) {
            (Some(email), Some(store), _) => format!(
                "logged in as {} (token kept in the {store})",
                look.paint(Tone::Strong, email)
            ),
            (_, Some(store), Some(true)) => format!("removed the token from the {store}"),
            _ => "no stored token to remove".to_string(),
        }
    }

    fn summary(&self) -> String {
        self.human(&Look::PLAIN)
    }
}

pub async fn whoami(ctx: &Ctx) -> Result<Done> {
    let credential = ctx.credential()?.ok_or(Error::NoToken)?;
    let account = ctx.api()?.account().await?;
    Done::ok(Identity {
        email: account.email,
        id: account.id.to_string(),
        token_source: credential.source.to_string(),
    })
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> Result<Done> {
    let token = read_token(ctx, args.token_stdin)?;
    // Check the token before keeping it.
    let client = ApiClient::new(ctx.endpoints()?, Some(Token::new(token.clone())))?;
    let account = client.account().await?;
    let store = ctx.secret_store().ok_or(Error::NoKeyring)?;
    store.set(&token).map_err(|e| Error::Keyring {
        operation: "store",
        store: store.describe(),
        reason: e,
    })?;
    Done::ok(TokenKept {
        email: Some(account.email),
        stored_in: Some(store.describe()),
        removed: None,
    })
}

fn read_token(ctx: &Ctx, from_stdin: bool) -> Result<String> {
    let token = if from_stdin {
        let line = crate::files::read_line_capped(std::io::stdin().lock(), 64 * 1024)
            .map_err(|e| Error::io("could not read the token from stdin", e))?
            .ok_or_else(|| {
                Error::usage("the token on stdin is longer than 64 KiB; is it a token?")
            })?;
        line.trim().to_string()
    } else if ctx.io.stdin_tty {
        eprint!("Heroku API token (from `heroku authorizations:create`): ");
        console::Term::stderr()
            .read_secure_line()
            .map_err(|e| Error::io("could not read the token", e))?
            .trim()
            .to_string()
    } else {
        return Err(Error::usage(
            "no terminal to ask for a token: pipe it in with --token-stdin",
        ));
    };
    if token.is_empty() {
        return Err(Error::usage("the token is empty"));
    }
    let source = if from_stdin {
        "standard input"
    } else {
        "the prompt"
    };
    crate::credentials::check_token(&token, source)?;
    Ok(token)
}

pub fn logout(ctx: &Ctx) -> Result<Done> {
    // Nothing can be stored without a keyring, so there is nothing to remove either.
    let Some(store) = ctx.secret_store() else {
        return Done::ok(TokenKept {
            email: None,
            stored_in: None,
            removed: Some(false),
        });
    };
    let removed = store.delete().map_err(|e| Error::Keyring {
        operation: "remove",
        store: store.describe(),
        reason: e,
    })?;
    Done::ok(TokenKept {
        email: None,
        stored_in: Some(store.describe()),
        removed: Some(removed),
    })
}
