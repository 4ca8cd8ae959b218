//! Compiling a plugin and checking it against the contract.

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::bindings::{CONTRACT_VERSION, PLUGIN_INTERFACE, TelemetryPluginPre};
use super::cache::PrecompiledCache;
use super::sandbox::Sandbox;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not set up the WebAssembly engine: {0}")]
    Engine(String),
    #[error("not a WebAssembly component: the file is neither binary WebAssembly nor WAT text")]
    NotWasm,
    #[error("a core WebAssembly module, not a component: wrap it with `wasm-tools component new`")]
    CoreModule,
    #[error("invalid component: {0}")]
    Invalid(String),
    #[error(
        "a component of another world: it exports [{exports}], not `{PLUGIN_INTERFACE}@{CONTRACT_VERSION}`"
    )]
    WrongWorld { exports: String },
    #[error(
        "incompatible contract: the plugin exports `{PLUGIN_INTERFACE}@{found}`, this host speaks version {CONTRACT_VERSION}"
    )]
    IncompatibleContract { found: String },
    #[error("the plugin does not match contract {PLUGIN_INTERFACE}@{CONTRACT_VERSION}: {0}")]
    Mismatch(String),
}

impl LoadError {
    pub(crate) fn engine(error: impl std::fmt::Display) -> Self {
        Self::Engine(format!("{error:#}"))
    }
}

/// A component that passed every check, ready to instantiate.
pub(crate) struct CheckedPlugin {
    pub(crate) pre: TelemetryPluginPre<Sandbox>,
    /// Every import and export, by name.
    pub(crate) imports: Vec<String>,
    pub(crate) exports: Vec<String>,
    /// The `wasi:*` (and other foreign) imports that were stubbed to trap.
    pub(crate) denied_imports: Vec<String>,
}

/// Compiles `bytes`, through the cache when there is one.
pub(crate) fn compile(
    engine: &Engine,
    bytes: &[u8],
    cache: Option<&PrecompiledCache>,
) -> Result<Component, LoadError> {
    check_encoding(bytes)?;
    if let Some(cache) = cache {
        return cache.load_or_compile(engine, bytes);
    }
    Component::new(engine, bytes).map_err(invalid)
}

pub(crate) fn invalid(error: wasmtime::Error) -> LoadError {
    LoadError::Invalid(format!("{error:#}"))
}

/// Rejects core modules and non-WebAssembly files with a message that says which.
fn check_encoding(bytes: &[u8]) -> Result<(), LoadError> {
    if wasmparser::Parser::is_component(bytes) {
        Ok(())
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        Err(LoadError::CoreModule)
    } else if looks_like_wat(bytes) {
        // wasmtime parses the text itself, and reports its own errors.
        Ok(())
    } else {
        Err(LoadError::NotWasm)
    }
}

fn looks_like_wat(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| text.trim_start().starts_with('('))
}

/// Checks the component's exports against the contract, and links its
/// imports: the contract's type-only interface, and a trap for anything else.
pub(crate) fn check(engine: &Engine, component: &Component) -> Result<CheckedPlugin, LoadError> {
    check_contract_version(engine, component)?;
    let mut linker = Linker::<Sandbox>::new(engine);
    // No capability is granted: every import the contract does not define
    // (wasi:* above all) is a function that traps when called.
    linker
        .define_unknown_imports_as_traps(component)
        .map_err(|error| LoadError::Mismatch(format!("{error:#}")))?;
    let instance_pre = linker
        .instantiate_pre(component)
        .map_err(|error| LoadError::Mismatch(format!("{error:#}")))?;
    let pre = TelemetryPluginPre::new(instance_pre)
        .map_err(|error| LoadError::Mismatch(format!("{error:#}")))?;
    let imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    Ok(CheckedPlugin {
        pre,
        denied_imports: foreign_imports(&imports),
        imports,
        exports: export_names(engine, component),
    })
}

fn export_names(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

fn check_contract_version(engine: &Engine, component: &Component) -> Result<(), LoadError> {
    let exports = export_names(engine, component);
    let versions: Vec<&str> = exports
        .iter()
        .filter_map(|name| name.strip_prefix(PLUGIN_INTERFACE)?.strip_prefix('@'))
        .collect();
    match versions.as_slice() {
        [] => Err(LoadError::WrongWorld {
            exports: exports.join(", "),
        }),
        found if found.iter().any(|version| is_compatible(version)) => Ok(()),
        [found, ..] => Err(LoadError::IncompatibleContract {
            found: found.to_string(),
        }),
    }
}

/// Semver compatibility as the component model applies it: below 1.0 the minor
/// version is the breaking one, so 0.1.x plugins load in a 0.1 host.
fn is_compatible(version: &str) -> bool {
    let (Ok(plugin), Ok(host)) = (
        semver::Version::parse(version),
        semver::Version::parse(CONTRACT_VERSION),
    ) else {
        return false;
    };
    if host.major == 0 {
        plugin.major == 0 && plugin.minor == host.minor
    } else {
        plugin.major == host.major
    }
}

fn foreign_imports(imports: &[String]) -> Vec<String> {
    let contract_package = PLUGIN_INTERFACE.split('/').next().unwrap_or_default();
    imports
        .iter()
        .filter(|name| !name.starts_with(contract_package))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions_follow_component_model_semver() {
        assert!(is_compatible("0.1.0"));
        assert!(is_compatible("0.1.7"));
        assert!(!is_compatible("0.2.0"));
        assert!(!is_compatible("1.1.0"));
        assert!(!is_compatible("garbage"));
    }

    #[test]
    fn encodings_are_told_apart() {
        assert!(matches!(
            check_encoding(b"\0asm\x01\0\0\0"),
            Err(LoadError::CoreModule)
        ));
        assert!(matches!(check_encoding(b"\0asm\x0d\0\x01\0"), Ok(())));
        assert!(matches!(check_encoding(b"(component)"), Ok(())));
        assert!(matches!(
            check_encoding(b"ELF\x7f..."),
            Err(LoadError::NotWasm)
        ));
    }
}
