//! `elect fault`: change the faults running nodes inject — partition, heal,
//! loss, duplication, delay.

use super::args::{self, ArgError};
use super::Failure;
use crate::runtime::auth::Key;
use crate::runtime::faults::{FaultCommand, FaultSpec};
use crate::runtime::{self, wire};
use crate::topology::Partition;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The flags of `elect fault`.
#[derive(Args, Debug)]
pub struct FaultArgs {
    /// Addresses of the nodes to change (IP:PORT), then what to do:
    /// `partition A/B` (both ways) or `partition A>B` (one way), with A and B
    /// comma-separated node ids; `heal`; or `set drop=P,dup=P,delay=LO..HIms`.
    #[arg(required = true, num_args = 2.., value_name = "ADDR... COMMAND")]
    pub words: Vec<String>,
    /// Cluster name the nodes run under.
    #[arg(long, default_value = "elect", value_name = "NAME")]
    pub cluster_id: String,
    /// The cluster key, if the nodes have one (needed to change them).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// How long to wait for each node, in milliseconds.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub timeout_ms: u64,
}

/// Splits `ADDR... partition SPEC | heal | set SPEC` into addresses and a command.
fn parse_fault_words(words: &[String]) -> Result<(Vec<SocketAddr>, FaultCommand), Failure> {
    let verb_at = words
        .iter()
        .position(|w| matches!(w.as_str(), "partition" | "heal" | "set"))
        .ok_or_else(|| {
            Failure::Usage(
                "missing command: partition A/B, heal, or set drop=..,dup=..,delay=..".into(),
            )
        })?;
    let addrs = args::parse_addrs("address", &words[..verb_at])?;
    if addrs.is_empty() {
        return Err(Failure::Usage(
            "name at least one node address before the command".into(),
        ));
    }
    let rest = &words[verb_at + 1..];
    let command = match (words[verb_at].as_str(), rest) {
        ("heal", []) => FaultCommand::Heal,
        ("partition", [spec]) => {
            FaultCommand::Partition(Partition::parse(spec).map_err(ArgError::from)?)
        }
        ("set", [spec]) => FaultCommand::Set(FaultSpec::parse(spec).map_err(ArgError::from)?),
        (verb, _) => {
            return Err(Failure::Usage(format!(
                "'{verb}' takes {}",
                if verb == "heal" {
                    "no argument"
                } else {
                    "one argument"
                }
            )))
        }
    };
    Ok((addrs, command))
}

/// Runs `elect fault`; false when a node did not take the change.
pub fn fault(args: FaultArgs) -> Result<bool, Failure> {
    let (addrs, command) = parse_fault_words(&args.words)?;
    let key = match &args.key_file {
        Some(path) => Some(Key::load(path).map_err(Failure::Usage)?),
        None => None,
    };
    let cluster = wire::cluster_id(&args.cluster_id);
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let runtime = super::runtime()?;
    let mut all_ok = true;
    runtime.block_on(async {
        for addr in addrs {
            match runtime::admin::send_fault(addr, cluster, key.as_ref(), command.clone(), timeout)
                .await
            {
                Ok(text) => println!("{addr}: {text}"),
                Err(e) => {
                    all_ok = false;
                    eprintln!("elect: {e}");
                }
            }
        }
    });
    Ok(all_ok)
}
