//! `careflow`: one binary, many roles. See `careflow --help`.

use careflow::cli::{Cli, Command, LogArgs, print_token};
use careflow::{app, bench, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or_default() {
        Command::Serve(args) => {
            let telemetry = telemetry::init(&args.log)?;
            let app = app::Application::build(args).await?;
            let result = app.run_until_stopped(telemetry::shutdown_signal()).await;
            telemetry.shutdown();
            result
        }
        Command::Token(args) => print_token(&args),
        Command::Migrate(args) => {
            let options = args.postgres.options();
            let applied = careflow_eventstore::postgres::migrate(&options).await?;
            if applied.is_empty() {
                println!(
                    "schema \"{}\" is up to date (version {})",
                    options.schema,
                    careflow_eventstore::postgres::latest_version()
                );
            }
            for migration in applied {
                println!(
                    "applied {} to \"{}\": {}",
                    migration.version, options.schema, migration.description
                );
            }
            Ok(())
        }
        Command::Bench(args) => {
            let telemetry = telemetry::init(&LogArgs::quiet())?;
            let result = bench::run(args).await;
            telemetry.shutdown();
            result
        }
        Command::Loadtest(args) => {
            let telemetry = telemetry::init(&LogArgs::quiet())?;
            let report = careflow_loadtest::run(args).await;
            telemetry.shutdown();
            let report = report?;
            print!("{}", report.table());
            anyhow::ensure!(report.total_errors() == 0, "{} load test errors", report.total_errors());
            // A tick dropped is load not offered: the run did not hold the rate it was asked for.
            anyhow::ensure!(
                report.run.dropped == 0,
                "{} ticks dropped: careflow (or this client) could not keep up with the rate",
                report.run.dropped
            );
            Ok(())
        }
    }
}
