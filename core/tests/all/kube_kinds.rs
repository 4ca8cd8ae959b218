//! What each kind of document gives: lists and the items they skip, typed
//! lists and bare arrays, admissions that give no event, and what the
//! webhook refuses.

use kamaji_telemetry_core::kube::{Position, decode_admission_review};
use kamaji_telemetry_core::model::Event;

use crate::support::{TCP, decode_all, names, only_event, review};

#[test]
fn lists_skip_and_count_other_kinds() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
        {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStore", "metadata": {"name": "ds"}, "spec": {"driver": "etcd"}},
        {"apiVersion": "example.com/v1", "kind": "TenantControlPlane", "metadata": {"name": "not-kamaji"}},
        {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlane", "metadata": {"name": "tcp"}}
    ]}"#;
    let documents = decode_all(list.as_bytes());
    let [Ok(decoded)] = documents.as_slice() else {
        panic!("{documents:#?}")
    };
    assert_eq!(decoded.skipped_items, 2);
    assert_eq!(names(&decoded.event), ["tcp", "ds"]);
}

#[test]
fn typed_lists_and_bare_arrays_give_heartbeats() {
    // The API server leaves the kind out of a typed list's items.
    let typed = r#"{"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "TenantControlPlaneList",
        "metadata": {"resourceVersion": "1"}, "items": [{"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}]}
        {"apiVersion": "kamaji.clastix.io/v1alpha1", "kind": "DataStoreList", "items": [{"metadata": {"name": "ds"}}]}"#;
    let documents = decode_all(typed.as_bytes());
    let heartbeats: Vec<Vec<&str>> = documents
        .iter()
        .map(|result| names(&result.as_ref().expect("a heartbeat").event))
        .collect();
    assert_eq!(heartbeats, [vec!["a", "b"], vec!["ds"]]);

    let array = format!("[{TCP}, {TCP}]");
    let Event::Heartbeat(fleet) = only_event(array.as_bytes()) else {
        panic!("a bare array is a heartbeat")
    };
    assert_eq!(fleet.tenant_control_planes.len(), 2);

    let empty = r#"{"apiVersion": "v1", "kind": "List", "items": []}"#;
    let Event::Heartbeat(fleet) = only_event(empty.as_bytes()) else {
        panic!("an empty list is an empty heartbeat")
    };
    assert!(fleet.tenant_control_planes.is_empty() && fleet.data_stores.is_empty());
}

#[test]
fn admissions_that_give_no_event_say_why_and_keep_their_uid() {
    let connect = review("CONNECT", TCP, "null");
    let pod = review("CREATE", TCP, "null").replace(
        r#""group":"kamaji.clastix.io","version":"v1alpha1","kind":"TenantControlPlane""#,
        r#""group":"","version":"v1","kind":"Pod""#,
    );
    let delete_without_old = review("DELETE", "null", "null");
    let cases = [
        (connect, "uid-CONNECT", true, "operation \"CONNECT\""),
        (
            pod,
            "uid-CREATE",
            true,
            "not a TenantControlPlane admission",
        ),
        (
            delete_without_old,
            "uid-DELETE",
            false,
            "request.oldObject is missing",
        ),
    ];
    let pod_as_tcp = review(
        "CREATE",
        &TCP.replace("kamaji.clastix.io/v1alpha1", "v1")
            .replace("TenantControlPlane", "Pod"),
        "null",
    );
    let cases = cases.into_iter().chain([(
        pod_as_tcp,
        "uid-CREATE",
        true,
        r#"request.object is kind "Pod" of apiVersion "v1", not the TenantControlPlane"#,
    )]);
    for (body, uid, skip, reason) in cases {
        let admission = decode_admission_review(body.as_bytes()).expect("an AdmissionReview");
        assert_eq!(admission.uid, uid);
        let cause = admission.event.expect_err("no event");
        assert_eq!(cause.is_skip(), skip, "{cause}");
        assert!(cause.to_string().contains(reason), "{cause}");

        let documents = decode_all(body.as_bytes());
        let [Err(error)] = documents.as_slice() else {
            panic!("the stream gives the same error: {documents:?}")
        };
        assert_eq!(
            error.to_string(),
            format!("document 1 (line 1, column 1): {cause}")
        );
    }
}

#[test]
fn the_webhook_rejects_what_is_not_one_admission_review() {
    let not_json = decode_admission_review(b"{\"kind\": ").expect_err("not JSON");
    assert_eq!(not_json.position, Position { line: 1, column: 9 });
    let two = format!(
        "{} {}",
        review("CREATE", TCP, "null"),
        review("CREATE", TCP, "null")
    );
    let trailing = decode_admission_review(two.as_bytes()).expect_err("two documents");
    assert!(
        trailing.to_string().contains("trailing characters"),
        "{trailing}"
    );
    let list = decode_admission_review(br#"{"apiVersion": "v1", "kind": "List"}"#)
        .expect_err("not an AdmissionReview");
    assert!(list.is_skip(), "{list}");
}
