//! What decoding a large List costs in memory: what is shown of its items,
//! not its bytes. Its own test binary, for its counting allocator.

use std::io::{BufReader, Read};

use kamaji_telemetry_core::kube::{Limits, decode_reader};
use kamaji_telemetry_core::model::{Event, InputFields};
use kamaji_telemetry_counting_alloc::{self as counting, Counting};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TCPS: usize = 10_000;

/// A `kubectl get tcp -A -o json` List of `TCPS` items, about 4 KB each,
/// made as it is read, so that the test itself never holds it.
struct GeneratedList {
    next_item: usize,
    pending: Vec<u8>,
    at: usize,
}

impl GeneratedList {
    fn new() -> Self {
        let head = br#"{"apiVersion":"v1","kind":"List","metadata":{},"items":["#;
        GeneratedList {
            next_item: 0,
            pending: head.to_vec(),
            at: 0,
        }
    }

    fn refill(&mut self) {
        self.at = 0;
        self.pending.clear();
        if self.next_item > TCPS {
            return;
        }
        if self.next_item == TCPS {
            self.pending.extend_from_slice(b"]}");
        } else {
            let separator = if self.next_item == 0 { "" } else { "," };
            let item = format!(
                r#"{separator}{{"apiVersion":"kamaji.clastix.io/v1alpha1","kind":"TenantControlPlane","metadata":{{"name":"tenant-{n}","namespace":"ns-{n}","uid":"uid-{n}","labels":{{"team":"{pad}"}}}},"spec":{{"kubernetes":{{"version":"v1.30.2"}}}},"status":{{"kubernetesResources":{{"version":{{"version":"v1.30.2","status":"Ready"}}}}}}}}"#,
                n = self.next_item,
                pad = "x".repeat(4_000),
            );
            self.pending.extend_from_slice(item.as_bytes());
        }
        self.next_item += 1;
    }
}

impl Read for GeneratedList {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.pending.len() {
            self.refill();
        }
        let n = out.len().min(self.pending.len() - self.at);
        out[..n].copy_from_slice(&self.pending[self.at..n + self.at]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn a_large_list_costs_what_is_shown_of_it_not_its_bytes() {
    let input = BufReader::with_capacity(64 << 10, GeneratedList::new());
    let before = counting::now();
    counting::reset_peak();
    let mut decoded = decode_reader(input, Limits::default()).showing(InputFields::VERSIONS);
    let document = decoded.next().expect("one document").expect("it decodes");
    let peak = counting::peak() - before;
    let Event::Heartbeat(fleet) = &document.event else {
        panic!("not a heartbeat: {:?}", document.event);
    };
    assert_eq!(fleet.tenant_control_planes.len(), TCPS);
    assert_eq!(fleet.tenant_control_planes[TCPS - 1].name, "");
    // The List is about 43 MB; kept whole it would cost at least that. What
    // is shown of it is a record a TCP with two short versions: about 5 MB.
    assert!(peak < 12 << 20, "decoding peaked at {} MiB", peak >> 20);
}
