//! `arb keys`: make the Fernet key and tokens the engine reads its API keys from (see
//! [`crate::secrets`]), and check what the environment holds.
//!
//! Secrets travel only on stdin and stdout, never as arguments (which `ps` and shell
//! history would show); the key comes from `ENCRYPTION_KEY`.

use std::io::{self, IsTerminal, Read, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use pipeline::types::Venue;
use zeroize::Zeroizing;

use crate::secrets::{self, ENCRYPTION_KEY_VAR, EnvNames, FernetKey};

/// `arb keys ...`
#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Prints a new random Fernet key, for ENCRYPTION_KEY.
    ///
    /// Example:
    ///   export ENCRYPTION_KEY=$(arb keys generate)
    #[command(verbatim_doc_comment)]
    Generate,

    /// Encrypts the secret read on stdin with ENCRYPTION_KEY and prints the token, for a
    /// <VENUE>_API_KEY_ENCRYPTED or <VENUE>_API_SECRET_ENCRYPTED variable.
    ///
    /// Surrounding whitespace (the newline `echo` adds) is not part of the secret.
    /// Typed on a terminal the secret shows as you type; prefer a pipe from a file or a
    /// password manager.
    ///
    /// Example:
    ///   pass show gateio/secret | arb keys encrypt
    #[command(verbatim_doc_comment)]
    Encrypt,

    /// Decrypts the token read on stdin with ENCRYPTION_KEY and prints the secret.
    ///
    /// Example:
    ///   printenv GATEIO_API_SECRET_ENCRYPTED | arb keys decrypt
    #[command(verbatim_doc_comment)]
    Decrypt {
        /// Refuse tokens older than this many seconds.
        #[arg(long)]
        ttl: Option<u64>,
    },

    /// Says, per venue, where its credentials come from and whether they decrypt.
    /// Prints no key or secret; exits non-zero if any venue's variables are wrong.
    Check,
}

/// Runs `arb keys` on the process's stdin, stdout and environment.
pub fn run(args: KeysArgs) -> Result<()> {
    let stdin = io::stdin();
    if stdin.is_terminal() && matches!(args.command, KeysCommand::Encrypt | KeysCommand::Decrypt { .. }) {
        eprintln!("reading from the terminal; end with Ctrl-D");
    }
    run_with(args, secrets::env_lookup, &mut stdin.lock(), &mut io::stdout().lock())
}

/// [`run`] with the environment, input and output given (tests).
pub fn run_with(
    args: KeysArgs,
    lookup: impl Fn(&str) -> Option<String>,
    input: &mut impl Read,
    out: &mut impl Write,
) -> Result<()> {
    match args.command {
        KeysCommand::Generate => {
            let key = FernetKey::generate()?;
            writeln!(out, "{}", key.to_base64().as_str())?;
        }
        KeysCommand::Encrypt => {
            let key = encryption_key(&lookup)?;
            let mut plain = read_input(input)?;
            secrets::trim_in_place(&mut plain);
            if plain.is_empty() {
                bail!("nothing on stdin to encrypt");
            }
            writeln!(out, "{}", key.encrypt(&plain)?)?;
        }
        KeysCommand::Decrypt { ttl } => {
            let key = encryption_key(&lookup)?;
            let token = read_input(input)?;
            let token =
                std::str::from_utf8(&token).map_err(|_| anyhow::anyhow!("stdin is not a Fernet token"))?;
            let plain = key.decrypt(token, ttl.map(Duration::from_secs))?;
            out.write_all(&plain)?;
            out.write_all(b"\n")?;
        }
        KeysCommand::Check => {
            let mut failed = 0;
            for venue in Venue::ALL {
                let names = EnvNames::of(venue);
                let result = secrets::credentials(venue, &lookup);
                let venue = venue.name();
                match result {
                    Ok(None) => writeln!(
                        out,
                        "{venue:<7} none ({} / {} not set): public data and paper trading only",
                        names.api_key, names.api_secret
                    )?,
                    Ok(Some(c)) => writeln!(
                        out,
                        "{venue:<7} OK   key {}, secret {}",
                        c.key_source.name(),
                        c.secret_source.name()
                    )?,
                    Err(e) => {
                        failed += 1;
                        writeln!(out, "{venue:<7} FAIL {e}")?;
                    }
                }
            }
            if failed > 0 {
                bail!("{failed} venue(s) with unusable credentials");
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn encryption_key(lookup: &impl Fn(&str) -> Option<String>) -> Result<FernetKey> {
    let text = Zeroizing::new(
        lookup(ENCRYPTION_KEY_VAR)
            .with_context(|| format!("{ENCRYPTION_KEY_VAR} is not set (`arb keys generate` makes one)"))?,
    );
    FernetKey::parse(&text).with_context(|| ENCRYPTION_KEY_VAR.to_owned())
}

/// Reads all of stdin into a buffer that is wiped on drop. Sized up front so it never
/// reallocates (which would leave a copy behind) for anything a key could be.
fn read_input(input: &mut impl Read) -> Result<Zeroizing<Vec<u8>>> {
    const LIMIT: usize = 64 * 1024;
    let mut buf = Zeroizing::new(Vec::with_capacity(LIMIT + 1));
    input.take(LIMIT as u64 + 1).read_to_end(&mut buf).context("reading stdin")?;
    if buf.len() > LIMIT {
        bail!("more than {} KiB on stdin; expected one key or token", LIMIT / 1024);
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(command: KeysCommand, env: &[(&str, &str)], stdin: &str) -> Result<String> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut out = Vec::new();
        run_with(KeysArgs { command }, lookup, &mut stdin.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn generate_encrypt_decrypt() {
        let key = keys(KeysCommand::Generate, &[], "").unwrap();
        let key = key.trim();
        assert!(FernetKey::parse(key).is_ok());
        let env = [("ENCRYPTION_KEY", key)];
        let token = keys(KeysCommand::Encrypt, &env, "hunter2\n").unwrap();
        assert!(!token.contains("hunter2"));
        let plain = keys(KeysCommand::Decrypt { ttl: Some(60) }, &env, &token).unwrap();
        assert_eq!(plain, "hunter2\n");
    }

    #[test]
    fn refusals_do_not_echo_input() {
        let err = keys(KeysCommand::Encrypt, &[], "hunter2").unwrap_err();
        assert!(format!("{err:#}").contains("ENCRYPTION_KEY is not set"));
        let key = FernetKey::generate().unwrap().to_base64();
        let env = [("ENCRYPTION_KEY", key.as_str())];
        assert!(keys(KeysCommand::Encrypt, &env, " \n").is_err());
        let err = keys(KeysCommand::Decrypt { ttl: None }, &env, "hunter2-not-a-token").unwrap_err();
        assert!(!format!("{err:#} {err:?}").contains("hunter2"));
        let err = keys(KeysCommand::Encrypt, &[("ENCRYPTION_KEY", "hunter2")], "x").unwrap_err();
        assert!(!format!("{err:#} {err:?}").contains("hunter2"));
    }

    #[test]
    fn check_reports_sources_without_values() {
        let key = FernetKey::generate().unwrap();
        let token = key.encrypt(b"hunter2").unwrap();
        let env = [
            ("ENCRYPTION_KEY", key.to_base64().to_string()),
            ("GATEIO_API_KEY", "gk".to_string()),
            ("GATEIO_API_SECRET_ENCRYPTED", token),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = keys(KeysCommand::Check, &env, "").unwrap();
        assert!(out.contains("gateio  OK   key plain, secret encrypted"), "{out}");
        assert!(out.contains("mexc    none"), "{out}");
        assert!(!out.contains("hunter2") && !out.contains("gk"), "{out}");
    }
}
