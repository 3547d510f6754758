use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use tessera::clock::SystemClock;
use tessera::config::{
    load_catalog, Cli, Command, Mode, OnOff, OrgCommand, ResourceServerCommand, Settings, UserCommand,
};
use tessera::startup::Application;
use tessera::{db, operator, seed, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.global.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // One line, whatever the cause's own formatting (libpq's messages span several).
            let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("tessera: {one_line}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match &cli.command {
        Command::Migrate => {
            load_catalog(cli.global.catalog.as_ref())?;
            let database = tessera::config::DatabaseUrl::parse(&cli.global.database_url)?;
            let pool = db::connect(&database)?;
            let applied = db::migrate(&pool)?;
            println!("{} migration(s) applied", applied.len());
            Ok(())
        }
        Command::Org(command) => {
            let database = tessera::config::DatabaseUrl::parse(&cli.global.database_url)?;
            let pool = db::connect(&database)?;
            db::migrate(&pool)?;
            let clock = SystemClock;
            let done = match command {
                OrgCommand::Create { slug, name, plan, owner } => {
                    operator::create_org(&pool, &clock, slug, name, plan, owner.as_deref())
                }
                OrgCommand::SetPlan { slug, plan, cap } => {
                    operator::set_plan(&pool, &clock, slug, plan, *cap)
                }
                OrgCommand::ApiAccess { slug, state } => {
                    operator::set_api_access(&pool, &clock, slug, *state == OnOff::On)
                }
            }?;
            println!("{done}");
            Ok(())
        }
        Command::User(command) => {
            let database = tessera::config::DatabaseUrl::parse(&cli.global.database_url)?;
            let pool = db::connect(&database)?;
            db::migrate(&pool)?;
            let done = match command {
                UserCommand::MakeOperator { email } => {
                    operator::set_operator(&pool, &SystemClock, email, true)
                }
                UserCommand::RemoveOperator { email } => {
                    operator::set_operator(&pool, &SystemClock, email, false)
                }
                UserCommand::SignOut { email } => operator::sign_out_everywhere(&pool, &SystemClock, email),
            }?;
            println!("{done}");
            Ok(())
        }
        Command::ResourceServer(ResourceServerCommand::Create { name }) => {
            let catalog = load_catalog(cli.global.catalog.as_ref())?;
            let database = tessera::config::DatabaseUrl::parse(&cli.global.database_url)?;
            let pool = db::connect(&database)?;
            db::migrate(&pool)?;
            println!("{}", operator::create_resource_server(&pool, &SystemClock, &catalog.prefixes, name)?);
            Ok(())
        }
        Command::Serve(args) => serve(Settings::from_args(&cli.global, args, Mode::Serve)?, false),
        Command::Demo(args) => serve(Settings::from_args(&cli.global, args, Mode::Demo)?, true),
    }
}

fn serve(settings: Settings, seed_demo: bool) -> Result<(), String> {
    // The address first: an address in use is reported before anything is written.
    let listener = Application::listen(&settings)?;
    let clock = Arc::new(SystemClock);
    let pool = db::connect(&settings.database)?;
    db::migrate(&pool)?;
    if seed_demo {
        let summary = seed::demo(&pool, &settings.catalog, clock.as_ref())?;
        tracing::info!(%summary, "demo data ready");
    }
    let public_url = settings.public_url.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build_on(listener, settings, clock, pool)?;
        tracing::info!(%public_url, port = app.port(), "tessera listening");
        println!("Tessera is running at {public_url}");
        app.run_until_stopped().await.map_err(|e| format!("server stopped: {e}"))
    })
}
