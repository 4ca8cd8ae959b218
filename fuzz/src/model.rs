//! The inputs of the pipeline target: an installation and an event, with
//! strings built to be adversarial.
//!
//! The shapes mirror the contract's records, field for field. Every string is
//! a [`Text`]: a concatenation of parts that are arbitrary Unicode, or words
//! that bodies legitimately contain (statuses, versions, wire field names),
//! or IP addresses, or very long runs. libFuzzer builds them from bytes
//! through [`arbitrary`]; the property tests build them with proptest.

use std::fmt::Write;
use std::sync::OnceLock;

use arbitrary::Arbitrary;

/// Strings that look like what a body contains, or that trip naive string
/// handling. With the words the default plugin declares ([`words`]), a name,
/// label or hostname equal to one of them must neither leak nor confuse the
/// leak guard.
const ADVERSARIAL: &[&str] = &[
    // The contract's enumerations as the input spells them.
    "ClusterIP",
    "NodePort",
    "LoadBalancer",
    "PostgreSQL",
    "KamajiControlPlane",
    "controlplane.cluster.x-k8s.io/v1alpha1",
    "stats",
    "create",
    "true",
    "null",
    // Versions, raw and as sent.
    "dev",
    "edge-25.4.1",
    "v1.0.0",
    "v1.30.2",
    "1.30.2",
    "v1.30.2-eks-5e0fdde",
    "v1.28.2+k3s1",
    // The installation id namespace and a UID shape.
    "59d6df90-757b-5e91-a80f-50c72fe2dc0e",
    "00000000-0000-0000-0000-000000000000",
    // Unicode that trips naive handling: combining marks, right-to-left,
    // zero-width, astral planes, case folding beyond ASCII.
    "ünïcødé",
    "名前空間",
    "\u{202e}evil",
    "a\u{200b}cme",
    "𝔞𝔠𝔪𝔢",
    "İstanbul",
    "ACME",
    "\"\\\n\t",
];

/// The strings a [`Part::Word`] picks from: [`ADVERSARIAL`], then the words
/// the default plugin declares, derived from its description rather than
/// copied here.
pub fn words() -> &'static [String] {
    static WORDS: OnceLock<Vec<String>> = OnceLock::new();
    WORDS.get_or_init(|| {
        ADVERSARIAL
            .iter()
            .map(|word| (*word).to_owned())
            .chain(crate::oracle::declared_words().iter().cloned())
            .collect()
    })
}

/// A string made of parts, rendered by concatenation.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct Text(pub Vec<Part>);

/// One part of a [`Text`].
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Part {
    /// Any Unicode.
    Raw(String),
    /// One of [`words`], by index (modulo their number).
    Word(u8),
    /// A version, with or without `v` and with an optional suffix.
    Version {
        v: bool,
        numbers: [u16; 3],
        suffix: Option<String>,
    },
    /// An IPv4 address, with an optional port.
    Ipv4 { octets: [u8; 4], port: Option<u16> },
    /// An IPv6 address.
    Ipv6(u128),
    /// A character repeated, for very long values (up to 65,535 of it).
    Run { unit: char, times: u16 },
}

impl Text {
    pub fn render(&self) -> String {
        let mut text = String::new();
        for part in &self.0 {
            part.render_into(&mut text);
        }
        text
    }

    /// A text of one word, for tests.
    pub fn word(word: &str) -> Self {
        Text(vec![Part::Raw(word.to_owned())])
    }
}

impl Part {
    fn render_into(&self, text: &mut String) {
        // Writing into a String cannot fail.
        let _ = match self {
            Part::Raw(raw) => text.write_str(raw),
            Part::Word(index) => {
                let words = words();
                text.write_str(&words[usize::from(*index) % words.len()])
            }
            Part::Version { v, numbers, suffix } => {
                let [major, minor, patch] = numbers;
                let prefix = if *v { "v" } else { "" };
                let suffix = suffix.as_deref().unwrap_or_default();
                write!(text, "{prefix}{major}.{minor}.{patch}{suffix}")
            }
            Part::Ipv4 { octets, port } => {
                let address = std::net::Ipv4Addr::from(*octets);
                match port {
                    Some(port) => write!(text, "{address}:{port}"),
                    None => write!(text, "{address}"),
                }
            }
            Part::Ipv6(bits) => write!(text, "{}", std::net::Ipv6Addr::from(*bits)),
            Part::Run { unit, times } => {
                text.extend(std::iter::repeat_n(*unit, usize::from(*times)));
                Ok(())
            }
        };
    }
}

/// One fuzz case: the installation and the event it happens in.
#[derive(Debug, Clone, Arbitrary)]
pub struct Case {
    pub installation: InstallationModel,
    pub event: EventModel,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct InstallationModel {
    pub cluster_uid: Text,
    pub kamaji_version: Text,
    pub kubernetes_version: Text,
}

#[derive(Debug, Clone, Arbitrary)]
pub enum EventModel {
    Created(TcpModel),
    Updated {
        previous: Box<TcpModel>,
        current: Box<TcpModel>,
    },
    Deleted(TcpModel),
    Heartbeat {
        tcps: Vec<TcpModel>,
        data_stores: Vec<DataStoreModel>,
    },
}

/// A TenantControlPlane, every field of the contract's record.
#[derive(Debug, Clone, Arbitrary)]
pub struct TcpModel {
    pub name: Text,
    pub namespace: Text,
    pub uid: Text,
    pub labels: Vec<(Text, Text)>,
    pub annotations: Vec<(Text, Text)>,
    pub owners: Vec<OwnerModel>,
    pub desired_version: Option<Text>,
    pub installed_version: Option<Text>,
    pub status: Option<Text>,
    pub service_type: Option<Text>,
    /// `spec.controlPlane.ingress`: hostname and class name.
    pub ingress: Option<(Option<Text>, Option<Text>)>,
    /// `spec.controlPlane.gateway`: hostname.
    pub gateway: Option<Option<Text>>,
    pub network_address: Option<Text>,
    pub endpoint: Option<Text>,
    pub data_store: Option<Text>,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct OwnerModel {
    pub api_version: Text,
    pub kind: Text,
    pub name: Text,
    pub uid: Text,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct DataStoreModel {
    pub name: Text,
    pub driver: Text,
    pub used_by: Vec<Text>,
}

/// A body as a plugin that copies its input would build it: some of the
/// case's identifying strings, each in a disguise.
#[derive(Debug, Clone, Arbitrary)]
pub struct CopyingBody {
    pub copies: Vec<Disguised>,
}

/// One copied string and how it is disguised.
#[derive(Debug, Clone, Arbitrary)]
pub struct Disguised {
    /// Which identifying string, by index (modulo their number).
    pub pick: u16,
    pub upper_case: bool,
    /// Every character as a `\uXXXX` escape.
    pub escaped: bool,
    /// As an object key rather than a string value.
    pub as_key: bool,
    /// How many arrays and objects around it.
    pub nesting: u8,
    /// Text around it, inside the same string.
    pub before: String,
    pub after: String,
}

impl CopyingBody {
    /// The body, as JSON; `{}` when the case has no identifying string.
    pub fn render(&self, identifying: &[String]) -> String {
        let copies: Vec<String> = self
            .copies
            .iter()
            .filter_map(|copy| copy.render(identifying))
            .collect();
        format!("{{\"copies\":[{}]}}", copies.join(","))
    }
}

impl Disguised {
    fn render(&self, identifying: &[String]) -> Option<String> {
        let value = identifying.get(usize::from(self.pick) % identifying.len().max(1))?;
        let value = if self.upper_case {
            value.to_uppercase()
        } else {
            value.clone()
        };
        let text = format!("{}{value}{}", self.before, self.after);
        let string = if self.escaped {
            let units: String = text
                .encode_utf16()
                .map(|unit| format!("\\u{unit:04x}"))
                .collect();
            format!("\"{units}\"")
        } else {
            serde_json::to_string(&text).expect("a string is JSON")
        };
        let mut json = if self.as_key {
            format!("{{{string}:1}}")
        } else {
            string
        };
        for level in 0..self.nesting % 8 {
            json = if level % 2 == 0 {
                format!("[{json}]")
            } else {
                format!("{{\"n\":{json}}}")
            };
        }
        Some(json)
    }
}
