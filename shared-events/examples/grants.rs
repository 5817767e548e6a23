//! The Kafka grants of the three services (`shared_events::acls::grants` of their default
//! configuration) and of the lake's Connect worker (`shared_events::acls::all_grants`), one
//! `PRINCIPAL,TYPE,NAME,OPERATION` a line; with `--write`, rewrites every
//! file generated from them instead (`shared_events::acls::render`), from the repository's root.
//!   cargo run -q -p shared-events --example grants [-- --write]

use std::path::Path;
use std::process::ExitCode;

use shared_events::acls::all_grants;
use shared_events::acls::render::generated;

fn main() -> ExitCode {
    let grants = all_grants();
    match std::env::args().nth(1).as_deref() {
        None => {
            for grant in &grants {
                println!("{grant}");
            }
            ExitCode::SUCCESS
        }
        Some("--write") => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            for generated in generated(&grants) {
                let path = root.join(generated.path);
                let existing = std::fs::read_to_string(&path).unwrap_or_default();
                let Some(text) = generated.apply(&existing) else {
                    eprintln!(
                        "{} has no block \"<!-- BEGIN generated: {} -->\" ... \"<!-- END generated: {0} -->\"",
                        generated.path,
                        generated.block.unwrap_or_default()
                    );
                    return ExitCode::FAILURE;
                };
                if text != existing {
                    if let Err(error) = std::fs::write(&path, text) {
                        eprintln!("writing {}: {error}", path.display());
                        return ExitCode::FAILURE;
                    }
                    println!("wrote {}", generated.path);
                }
            }
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("usage: grants [--write] (not {other})");
            ExitCode::from(2)
        }
    }
}
