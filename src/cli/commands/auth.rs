//! `whoami`, `login`, `logout`.

use clap::Args;
use serde_json::json;

use crate::api::{ApiClient, Token};
use crate::cli::Ctx;
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Read the token from standard input instead of prompting
    #[arg(long)]
    pub token_stdin: bool,
}

pub async fn whoami(ctx: &Ctx) -> Result<()> {
    let credential = ctx.credential()?.ok_or(Error::NoToken)?;
    let account = ctx.api()?.account().await?;
    ctx.io.render(
        &json!({ "email": account.email, "id": account.id, "token_source": credential.source.to_string() }),
        || format!("{}\ntoken from: {}", account.email, credential.source),
    );
    Ok(())
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> Result<()> {
    let token = if args.token_stdin {
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
    let source = if args.token_stdin {
        "standard input"
    } else {
        "the prompt"
    };
    crate::credentials::check_token(&token, source)?;
    // Check the token before keeping it.
    let client = ApiClient::new(ctx.endpoints()?, Some(Token::new(token.clone())))?;
    let account = client.account().await?;
    let store = ctx.secret_store().ok_or(Error::NoKeyring)?;
    store.set(&token).map_err(|e| Error::Keyring {
        operation: "store",
        store: store.describe(),
        reason: e.to_string(),
    })?;
    ctx.io.render(
        &json!({ "email": account.email, "stored_in": store.describe() }),
        || {
            format!(
                "Logged in as {} (token kept in the {})",
                account.email,
                store.describe()
            )
        },
    );
    Ok(())
}

pub fn logout(ctx: &Ctx) -> Result<()> {
    // Nothing can be stored without a keyring, so there is nothing to remove either.
    let removed = match ctx.secret_store() {
        None => false,
        Some(store) => store.delete().map_err(|e| Error::Keyring {
            operation: "remove",
            store: store.describe(),
            reason: e.to_string(),
        })?,
    };
    let store = ctx.secret_store().map(|s| s.describe());
    ctx.io.render(&json!({ "removed": removed }), || {
        if let (true, Some(store)) = (removed, &store) {
            format!("Removed the token from the {store}")
        } else {
            "No stored token to remove".to_string()
        }
    });
    Ok(())
}
