"""A minimal kamaji-telemetry plugin in Python (contract wit/0.1.0).

It reports one thing: that a TenantControlPlane was created, and the
Kubernetes version it asked for, cut to MAJOR.MINOR. Every other event gives
no payload, and nothing identifying (names, namespaces, UIDs, labels,
annotations, addresses) ever reaches the body.

componentize-py generates the `wit_world` package from the WIT at build time
(`componentize-py bindings DIR` writes it out, for an editor): records are
dataclasses with snake_case fields, enums are `Enum`s, a variant case is a
class of its own (`Event_Created`), `option<T>` is `None` or the value, and a
`result`'s error is raised as `componentize_py_types.Err`.
"""

import json
import re
from typing import Optional

from wit_world import exports
from wit_world.imports.types import (
    Description,
    Event,
    Event_Created,
    FieldDoc,
    Installation,
    Payload,
    Redaction,
    RedactionAction,
    Route,
)

FIELDS = [
    FieldDoc(
        name="event",
        route=Route.CREATE,
        meaning="The kind of event the body reports: always create, sent once for "
        "each TenantControlPlane created.",
        example='"create"',
    ),
    FieldDoc(
        name="tcp_minor",
        route=Route.CREATE,
        meaning="The Kubernetes version asked for by the created TCP "
        "(spec.kubernetes.version), cut to MAJOR.MINOR; null when absent or "
        "not a version.",
        example='"1.30"',
    ),
]

# Input fields this plugin leaves out, for the redaction report.
DROPPED = [
    "installation.cluster-uid",
    "tenant-control-plane.name",
    "tenant-control-plane.namespace",
    "tenant-control-plane.uid",
    "tenant-control-plane.labels",
    "tenant-control-plane.annotations",
    "tenant-control-plane.owner-references",
]

# `v1.30.2`, `1.30`, `v1.30.2-eks-5e0fdde` give `1.30`; anything else, None.
VERSION = re.compile(r"[vV]?([0-9]{1,6})\.([0-9]{1,6})(?:[.+-]|$)", re.ASCII)


def minor_version(raw: Optional[str]) -> Optional[str]:
    match = VERSION.match(raw.strip()) if raw is not None else None
    if match is None:
        return None
    return f"{int(match[1])}.{int(match[2])}"


class Plugin(exports.Plugin):
    def describe(self) -> Description:
        return Description(
            name="example-python",
            version="0.1.0",
            wire_schema="kamaji-telemetry-example/v1",
            fields=FIELDS,
        )

    def handle(self, installation: Installation, event: Event) -> Optional[Payload]:
        if not isinstance(event, Event_Created):
            return None
        tcp = event.value
        # Keys in a fixed order, no spaces: the same bytes as the Rust and
        # JavaScript examples give.
        body = json.dumps(
            {"event": "create", "tcp_minor": minor_version(tcp.desired_version)},
            separators=(",", ":"),
        )
        redactions = [
            Redaction(
                field="tenant-control-plane.desired-version",
                action=RedactionAction.NORMALISED,
                reason="Only its major and minor numbers are sent.",
            )
        ] + [
            Redaction(
                field=field,
                action=RedactionAction.DROPPED,
                reason="This plugin sends no other input field.",
            )
            for field in DROPPED
        ]
        return Payload(route=Route.CREATE, body=body, redactions=redactions)
