//! `tessera client`: register, list and delete OAuth clients.
//!
//! A client's secret is generated here and shown once; tessera keeps only its hash.

use super::{cli_origin, one_of, open_authority, plain_text, Announce};
use crate::config::Config;
use crate::output::{self, ClientView};
use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use std::io::Write as _;
use tessera_core::{ClientId, GrantType, NewClient, Scope};

#[derive(Debug, Args)]
pub struct ClientCommand {
    /// Print JSON instead of text
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    action: ClientAction,
}

#[derive(Debug, Subcommand)]
enum ClientAction {
    /// Register a client; its secret is shown once
    Add(AddArgs),
    /// List every client (never their secrets)
    List,
    /// Delete a client and every token issued to it
    Delete {
        /// The client id
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Args)]
struct AddArgs {
    /// Client id: 1 to 64 characters of A-Z a-z 0-9 . _ -
    #[arg(value_name = "ID", value_parser = ClientId::parse)]
    id: ClientId,

    /// Name shown to people [default: ID]
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,

    /// A grant the client may use (repeatable)
    #[arg(
        long = "grant",
        value_name = "GRANT",
        value_parser = one_of::<GrantType>(super::GRANTS),
        default_value = "client_credentials"
    )]
    grants: Vec<GrantType>,

    /// Space-separated scopes the client may ask for [default: every known scope]
    #[arg(long, value_name = "SCOPES")]
    scope: Option<String>,
}

impl ClientCommand {
    pub async fn run(self, config: &Config) -> anyhow::Result<()> {
        let authority = open_authority(config, Announce::Stderr).await?;
        match self.action {
            ClientAction::Add(args) => {
                let scope = match &args.scope {
                    Some(text) => Scope::parse(text)?,
                    None => authority.known_scopes().clone(),
                };
                if scope.is_empty() {
                    bail!("a client needs at least one scope");
                }
                let name = match args.name {
                    Some(text) => plain_text("client name", &text, 200)?,
                    None => args.id.to_string(),
                };
                let id = args.id.to_string();
                let (client, secret) = authority
                    .register_client(
                        NewClient {
                            id: args.id,
                            name,
                            grants: args.grants,
                            scope,
                        },
                        &cli_origin(),
                    )
                    .await
                    .with_context(|| format!("cannot register client {id:?}"))?;
                let mut out = std::io::stdout().lock();
                if self.json {
                    let mut view = ClientView::from(&client);
                    view.client_secret = Some(secret.expose().to_owned());
                    return output::json(&mut out, &view);
                }
                writeln!(out, "Registered client {:?}.", client.id)?;
                output::secret(&mut out, "Its secret", secret.expose())?;
            }
            ClientAction::List => {
                let clients = authority.clients().await?;
                let mut out = std::io::stdout().lock();
                if self.json {
                    let views: Vec<ClientView> = clients.iter().map(ClientView::from).collect();
                    return output::json(&mut out, &views);
                }
                output::clients_table(&mut out, &clients)?;
            }
            ClientAction::Delete { id } => {
                // Read it first, for the JSON answer and a message naming what went.
                let client = authority.client(&id).await?;
                let Some(client) = client else {
                    bail!("client {id:?} not found");
                };
                authority.delete_client(&client.id, &cli_origin()).await?;
                let mut out = std::io::stdout().lock();
                if self.json {
                    return output::json(&mut out, &ClientView::from(&client));
                }
                writeln!(
                    out,
                    "Deleted client {:?} and every token issued to it.",
                    client.id
                )?;
            }
        }
        Ok(())
    }
}
