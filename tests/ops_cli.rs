//! The `arb keys` and `arb doctor` argument structs, wired exactly as `src/main.rs`
//! wires them (`Keys(cmd::keys::KeysArgs)`, `Doctor(cmd::doctor::DoctorArgs)`), parse
//! the command lines their help documents.

use arb::cmd::doctor::DoctorArgs;
use arb::cmd::keys::{KeysArgs, KeysCommand};
use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "arb")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Keys(KeysArgs),
    Doctor(DoctorArgs),
}

#[test]
fn the_commands_parse() {
    Cli::command().debug_assert();
    let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.command);
    assert!(matches!(
        parse(&["arb", "keys", "generate"]).unwrap(),
        Command::Keys(KeysArgs { command: KeysCommand::Generate })
    ));
    assert!(matches!(parse(&["arb", "keys", "encrypt"]).unwrap(), Command::Keys(_)));
    assert!(matches!(
        parse(&["arb", "keys", "decrypt", "--ttl", "60"]).unwrap(),
        Command::Keys(KeysArgs { command: KeysCommand::Decrypt { ttl: Some(60) } })
    ));
    assert!(matches!(parse(&["arb", "keys", "check"]).unwrap(), Command::Keys(_)));
    // A secret is never an argument.
    assert!(parse(&["arb", "keys", "encrypt", "hunter2"]).is_err());
    match parse(&["arb", "doctor", "--config", "config/production.toml", "--json"]).unwrap() {
        Command::Doctor(d) => {
            assert!(d.json);
            assert_eq!(d.config.as_deref(), Some(std::path::Path::new("config/production.toml")));
            assert_eq!(d.root, std::path::Path::new("/"));
        }
        other => panic!("{other:?}"),
    }
}
