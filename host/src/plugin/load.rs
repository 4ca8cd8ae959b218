//! Compiling a plugin and checking it against the contract.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, LinkerInstance, ResourceType};

use super::cache::PrecompiledCache;
use super::contract::{self, ContractPre};
use super::contract_version::PLUGIN_INTERFACE;
use super::error::{LoadError, invalid};
use super::sandbox::Sandbox;

/// A component that passed every check, ready to instantiate.
pub(crate) struct CheckedPlugin {
    pub(crate) pre: ContractPre,
    /// Every import and export, by name.
    pub(crate) imports: Vec<String>,
    pub(crate) exports: Vec<String>,
    /// The imports linked to traps: neither the contract's nor the closed
    /// WASI profile's.
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
/// imports: the contract's type-only interface, the closed WASI profile
/// (see the sandbox), and a trap for anything else.
pub(crate) fn link(engine: &Engine, component: &Component) -> Result<CheckedPlugin, LoadError> {
    let exports = export_names(engine, component);
    let version = contract::detect(exports.iter().map(String::as_str))?;
    let mismatch = |error: wasmtime::Error| LoadError::Mismatch {
        version,
        message: format!("{error:#}"),
    };
    let mut linker = Linker::<Sandbox>::new(engine);
    // What a plugin built with a language's standard library imports, each
    // answering from the closed profile: nothing to read, nowhere to connect.
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(LoadError::engine)?;
    // Every other import the contract does not define (wasi:http, say) is
    // a function that traps when called.
    stub_denied_imports(&mut linker, engine, component).map_err(mismatch)?;
    let instance_pre = linker.instantiate_pre(component).map_err(mismatch)?;
    let pre = ContractPre::new(version, instance_pre).map_err(mismatch)?;
    let imports: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    Ok(CheckedPlugin {
        pre,
        denied_imports: imports
            .iter()
            .filter(|name| ImportStatus::of(name) == ImportStatus::Denied)
            .cloned()
            .collect(),
        imports,
        exports,
    })
}

/// Links every denied import to functions that trap with the import's name.
///
/// Not `Linker::define_unknown_imports_as_traps`: it takes a WASI import of
/// another patch version than wasmtime-wasi defines (`wasi:cli/stdout@0.2.6`
/// against 0.2.12, which the linker would match) for an unknown one, and its
/// traps would then shadow the closed profile.
fn stub_denied_imports(
    linker: &mut Linker<Sandbox>,
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<()> {
    let component_type = component.component_type();
    let shared = shared_profile_resources(engine, &component_type);
    for (name, item) in component_type.imports(engine) {
        if ImportStatus::of(name) != ImportStatus::Denied {
            continue;
        }
        match item.ty {
            ComponentItem::ComponentInstance(instance) => {
                let mut stubs = linker.instance(name)?;
                for (export, item) in instance.exports(engine) {
                    match shared_host_type(&shared, &item.ty) {
                        // A type the interface `use`s from the closed profile
                        // (wasi:http's streams are wasi:io's): it must be the
                        // profile's own, or the import does not match.
                        Some(host) => stubs.resource(export, host, |_, _| Ok(()))?,
                        None => stub(&mut stubs, export, &format!("{name}#{export}"), &item.ty)?,
                    }
                }
            }
            item => stub(&mut linker.root(), name, name, &item)?,
        }
    }
    Ok(())
}

/// The resources of `wasi:io` that the component imports, each with the host
/// type the closed profile (wasmtime-wasi) defines it as.
fn shared_profile_resources(
    engine: &Engine,
    component_type: &wasmtime::component::types::Component,
) -> Vec<(ResourceType, ResourceType)> {
    let mut shared = Vec::new();
    for (name, item) in component_type.imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !name.starts_with("wasi:io/") {
            continue;
        }
        for (export, item) in instance.exports(engine) {
            if let (ComponentItem::Resource(resource), Some(host)) =
                (item.ty, wasi_io_host_type(export))
            {
                shared.push((resource, host));
            }
        }
    }
    shared
}

fn wasi_io_host_type(resource: &str) -> Option<ResourceType> {
    use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, IoError};
    Some(match resource {
        "input-stream" => ResourceType::host::<DynInputStream>(),
        "output-stream" => ResourceType::host::<DynOutputStream>(),
        "pollable" => ResourceType::host::<DynPollable>(),
        "error" => ResourceType::host::<IoError>(),
        _ => return None,
    })
}

/// The profile's host type of `item`, when it is a resource that the
/// component imports from `wasi:io` too.
fn shared_host_type(
    shared: &[(ResourceType, ResourceType)],
    item: &ComponentItem,
) -> Option<ResourceType> {
    let ComponentItem::Resource(resource) = item else {
        return None;
    };
    shared
        .iter()
        .find(|(imported, _)| imported == resource)
        .map(|(_, host)| *host)
}

/// A function that traps naming `full_name`, or a resource nothing can make.
fn stub(
    linker: &mut LinkerInstance<'_, Sandbox>,
    name: &str,
    full_name: &str,
    item: &ComponentItem,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => {
            let full_name = full_name.to_owned();
            linker.func_new(name, move |_, _, _, _| {
                wasmtime::bail!("denied import: the host does not grant `{full_name}`")
            })
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<()>(), |_, _| Ok(()))
        }
        // Types need no definition; nothing else is imported by a plugin.
        _ => Ok(()),
    }
}

fn export_names(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// How the host links one import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    /// The contract's own interfaces.
    Granted,
    /// WASI, answered by the closed profile: empty environment and
    /// arguments, no files, no sockets; clocks and random work.
    Stubbed,
    /// Anything else: every call traps.
    Denied,
}

/// The WASI packages `wasmtime_wasi::p2::add_to_linker_sync` links.
const CLOSED_PROFILE_PACKAGES: [&str; 6] = [
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

impl ImportStatus {
    pub fn of(import: &str) -> Self {
        let contract_package = PLUGIN_INTERFACE.split('/').next().unwrap_or_default();
        if import.starts_with(contract_package) {
            Self::Granted
        } else if CLOSED_PROFILE_PACKAGES
            .iter()
            .any(|package| import.starts_with(package))
        {
            Self::Stubbed
        } else {
            Self::Denied
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Stubbed => "stubbed",
            Self::Denied => "denied",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_granted_stubbed_or_denied() {
        assert_eq!(
            ImportStatus::of("kamaji:telemetry/types@0.1.0"),
            ImportStatus::Granted
        );
        assert_eq!(
            ImportStatus::of("wasi:cli/environment@0.2.6"),
            ImportStatus::Stubbed
        );
        assert_eq!(
            ImportStatus::of("wasi:http/outgoing-handler@0.2.6"),
            ImportStatus::Denied
        );
    }

    #[test]
    fn a_denied_import_traps_with_its_name() {
        // Imports wasi:http (denied) and calls it from its one export.
        let wat = r#"(component
            (import "wasi:http/outgoing-handler@0.2.0" (instance $http (export "handle" (func))))
            (alias export $http "handle" (func $handle))
            (core func $lowered (canon lower (func $handle)))
            (core module $m (import "host" "handle" (func $h)) (func (export "run") call $h))
            (core instance $i (instantiate $m (with "host" (instance (export "handle" (func $lowered))))))
            (func (export "run") (canon lift (core func $i "run"))))"#;
        let engine = Engine::default();
        let component = Component::new(&engine, wat).expect("a component");
        let mut linker = Linker::<Sandbox>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("the closed profile");
        stub_denied_imports(&mut linker, &engine, &component).expect("stubs");
        let mut store = wasmtime::Store::new(&engine, Sandbox::new(1 << 20));
        let instance = linker
            .instantiate(&mut store, &component)
            .expect("it links");
        let run = instance
            .get_typed_func::<(), ()>(&mut store, "run")
            .expect("the export");
        let error = run.call(&mut store, ()).expect_err("a trap");
        assert!(
            format!("{error:#}").contains("`wasi:http/outgoing-handler@0.2.0#handle`"),
            "{error:#}"
        );
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
