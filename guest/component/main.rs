//! Writes the default plugin's component to the file given as the only
//! argument: `make plugin` puts it in `target/components/`, where the tools
//! outside cargo (wasmtime's CLI, jco, the preview page) read it.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: kamaji-telemetry-plugin-component FILE");
        return ExitCode::FAILURE;
    };
    match std::fs::write(&path, kamaji_telemetry_plugin_component::COMPONENT) {
        Ok(()) => {
            let size = kamaji_telemetry_plugin_component::COMPONENT.len();
            println!("plugin: {} ({size} bytes)", path.to_string_lossy());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("cannot write {}: {error}", path.to_string_lossy());
            ExitCode::FAILURE
        }
    }
}
