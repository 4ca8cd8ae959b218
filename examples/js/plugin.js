// A minimal kamaji-telemetry plugin in JavaScript (contract wit/0.1.0).
//
// It reports one thing: that a TenantControlPlane was created, and the
// Kubernetes version it asked for, cut to MAJOR.MINOR. Every other event
// gives no payload, and nothing identifying (names, namespaces, UIDs, labels,
// annotations, addresses) ever reaches the body.
//
// componentize-js maps the WIT interface `plugin` to this exported object:
// records are plain objects with camelCase fields, enums are strings, a
// variant is `{ tag, val }`, `option<T>` is `undefined` or the value, and a
// `result`'s error is thrown.

const FIELDS = [
  {
    name: "event",
    route: "create",
    meaning:
      "The kind of event the body reports: always create, sent once for each TenantControlPlane created.",
    example: '"create"',
  },
  {
    name: "tcp_minor",
    route: "create",
    meaning:
      "The Kubernetes version asked for by the created TCP (spec.kubernetes.version), cut to MAJOR.MINOR; null when absent or not a version.",
    example: '"1.30"',
  },
];

// Input fields this plugin leaves out, for the redaction report.
const DROPPED = [
  "installation.cluster-uid",
  "tenant-control-plane.name",
  "tenant-control-plane.namespace",
  "tenant-control-plane.uid",
  "tenant-control-plane.labels",
  "tenant-control-plane.annotations",
  "tenant-control-plane.owner-references",
];

// `v1.30.2`, `1.30`, `v1.30.2-eks-5e0fdde` give `1.30`; anything else, null.
const VERSION = /^[vV]?([0-9]{1,6})\.([0-9]{1,6})(?:[.+-]|$)/;

function minorVersion(raw) {
  const match = raw === undefined ? null : VERSION.exec(raw.trim());
  if (match === null) {
    return null;
  }
  return `${Number(match[1])}.${Number(match[2])}`;
}

export const plugin = {
  describe() {
    return {
      name: "example-js",
      version: "0.1.0",
      wireSchema: "kamaji-telemetry-example/v1",
      fields: FIELDS,
    };
  },

  handle(_installation, event) {
    if (event.tag !== "created") {
      return undefined;
    }
    const tcp = event.val;
    // Keys in a fixed order, no spaces: the same bytes as the Rust and
    // Python examples give.
    const body = JSON.stringify({
      event: "create",
      tcp_minor: minorVersion(tcp.desiredVersion),
    });
    const redactions = [
      {
        field: "tenant-control-plane.desired-version",
        action: "normalised",
        reason: "Only its major and minor numbers are sent.",
      },
      ...DROPPED.map((field) => ({
        field,
        action: "dropped",
        reason: "This plugin sends no other input field.",
      })),
    ];
    return { route: "create", body, redactions };
  },
};
