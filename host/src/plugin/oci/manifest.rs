//! The CNCF TAG Runtime's layout of a WebAssembly artifact: an OCI image
//! manifest whose config says what the component imports and exports, and
//! one layer, the component itself.

use std::time::SystemTime;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use serde::{Deserialize, Serialize};

/// The layer media type of a WebAssembly component.
pub const WASM_LAYER: &str = "application/wasm";
/// The layer media type that wasm-to-oci and older tools wrote.
pub const LEGACY_WASM_LAYER: &str = oci_client::manifest::WASM_LAYER_MEDIA_TYPE;
/// The config media type of a WebAssembly artifact.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";

/// Far above any telemetry plugin (the default one is under 150 KiB), and a
/// bound on what a hostile registry can make the host download.
const MAX_PLUGIN_BYTES: i64 = 64 << 20;

/// What `plugin push` says about the component, in the config blob.
#[derive(Debug, Clone)]
pub struct ComponentSummary {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    /// The world it targets, with the contract version.
    pub target: String,
    pub author: Option<String>,
}

/// The config blob of a WebAssembly artifact, per the CNCF wasm OCI layout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig {
    created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    architecture: String,
    os: String,
    layer_digests: Vec<String>,
    component: WasmComponent,
}

#[derive(Debug, Serialize, Deserialize)]
struct WasmComponent {
    exports: Vec<String>,
    imports: Vec<String>,
    target: String,
}

/// The layer, config and manifest that publish `component`.
pub(super) fn artifact(
    component: Vec<u8>,
    summary: ComponentSummary,
) -> Result<(ImageLayer, Config, OciImageManifest), serde_json::Error> {
    let layer = ImageLayer::new(component, WASM_LAYER.to_owned(), None);
    let config = WasmConfig {
        created: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        author: summary.author,
        architecture: "wasm".to_owned(),
        os: "wasip2".to_owned(),
        layer_digests: vec![layer.sha256_digest()],
        component: WasmComponent {
            exports: summary.exports,
            imports: summary.imports,
            target: summary.target,
        },
    };
    let config = Config::new(serde_json::to_vec(&config)?, WASM_CONFIG.to_owned(), None);
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
    manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_owned());
    Ok((layer, config, manifest))
}

/// The one WebAssembly layer of a manifest, if it is a plugin's.
pub(super) fn wasm_layer(manifest: &[u8]) -> Result<OciDescriptor, String> {
    let manifest: OciImageManifest = serde_json::from_slice(manifest)
        .map_err(|error| format!("its manifest is not an OCI image manifest: {error}"))?;
    let media_types: Vec<&str> = manifest
        .layers
        .iter()
        .map(|layer| layer.media_type.as_str())
        .collect();
    let [layer] = manifest.layers.as_slice() else {
        return Err(format!(
            "it has {} layers ({}), where a plugin has one, of type {WASM_LAYER}",
            media_types.len(),
            media_types.join(", ")
        ));
    };
    if layer.media_type != WASM_LAYER && layer.media_type != LEGACY_WASM_LAYER {
        return Err(format!(
            "its layer is of type {}, not {WASM_LAYER}",
            layer.media_type
        ));
    }
    if layer.size > MAX_PLUGIN_BYTES {
        return Err(format!(
            "its layer has {} bytes, more than the {MAX_PLUGIN_BYTES} a plugin may have",
            layer.size
        ));
    }
    Ok(layer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(layers: &[(&str, i64)]) -> Vec<u8> {
        let layers: Vec<_> = layers
            .iter()
            .map(|(media_type, size)| {
                serde_json::json!({
                    "mediaType": media_type,
                    "digest": format!("sha256:{}", "0".repeat(64)),
                    "size": size,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE_MEDIA_TYPE,
            "config": {"mediaType": WASM_CONFIG, "digest": format!("sha256:{}", "1".repeat(64)), "size": 2},
            "layers": layers,
        }))
        .expect("JSON")
    }

    #[test]
    fn a_plugin_has_one_wasm_layer_of_either_media_type() {
        assert!(wasm_layer(&manifest(&[(WASM_LAYER, 10)])).is_ok());
        assert!(wasm_layer(&manifest(&[(LEGACY_WASM_LAYER, 10)])).is_ok());
        let tar = wasm_layer(&manifest(&[("application/vnd.oci.image.layer.v1.tar", 10)]));
        assert!(tar.expect_err("a tar layer").contains("v1.tar"));
        let two = wasm_layer(&manifest(&[(WASM_LAYER, 10), (WASM_LAYER, 10)]));
        assert!(two.expect_err("two layers").contains("2 layers"));
        let huge = wasm_layer(&manifest(&[(WASM_LAYER, MAX_PLUGIN_BYTES + 1)]));
        assert!(huge.expect_err("too big").contains("bytes"));
        assert!(wasm_layer(b"{}").is_err());
    }
}
