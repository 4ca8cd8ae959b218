//! One object, already parsed (as a watch or a client library hands it over),
//! into the contract's record: the same field mapping as the stream decoder's,
//! so a TenantControlPlane reads the same whether it came from a file, a
//! webhook or a watch.

use serde::Deserialize;

use super::objects::KubeObject;
use crate::model::{DataStore, TenantControlPlane};

/// Why a parsed object does not fit the record (a field of the wrong type).
#[derive(Debug, thiserror::Error)]
#[error("not a Kamaji object: {0}")]
pub struct RecordError(#[source] serde_json::Error);

/// A TenantControlPlane, as the API server serves it, into its record.
pub fn tenant_control_plane(object: &serde_json::Value) -> Result<TenantControlPlane, RecordError> {
    read(object).map(KubeObject::into_tenant_control_plane)
}

/// A DataStore, as the API server serves it, into its record.
pub fn data_store(object: &serde_json::Value) -> Result<DataStore, RecordError> {
    read(object).map(KubeObject::into_data_store)
}

fn read(object: &serde_json::Value) -> Result<KubeObject<'_>, RecordError> {
    KubeObject::deserialize(object).map_err(RecordError)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fields_map_as_in_a_stream() {
        let object = json!({
            "metadata": {"name": "t", "namespace": "n", "uid": "u"},
            "spec": {"kubernetes": {"version": "v1.30.2"}, "dataStore": "d"},
            "status": {"kubernetes": {}, "kubernetesResources": {"version": {"version": "v1.29.0", "status": "Ready"}}}
        });
        let tcp = tenant_control_plane(&object).expect("a TCP");
        assert_eq!(tcp.name, "t");
        assert_eq!(tcp.desired_version.as_deref(), Some("v1.30.2"));
        assert_eq!(tcp.installed_version.as_deref(), Some("v1.29.0"));
        assert_eq!(tcp.status.as_deref(), Some("Ready"));
        let store = data_store(
            &json!({"metadata": {"name": "d"}, "spec": {"driver": "etcd"},
                                       "status": {"usedBy": ["n/t"]}}),
        )
        .expect("a DataStore");
        assert_eq!((store.name.as_str(), store.driver.as_str()), ("d", "etcd"));
        assert_eq!(store.used_by, ["n/t"]);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_an_error() {
        assert!(tenant_control_plane(&json!({"metadata": {"labels": "x"}})).is_err());
    }
}
