{{/*
The chart installs what `kamaji-telemetry manifests` prints, with the same
names and labels (a test compares them object by object), so every object is
named kamaji-telemetry: one agent per cluster.
*/}}
{{- define "kamaji-telemetry.name" -}}kamaji-telemetry{{- end }}

{{- define "kamaji-telemetry.labels" -}}
app.kubernetes.io/name: kamaji-telemetry
app.kubernetes.io/component: telemetry-agent
app.kubernetes.io/part-of: kamaji
{{- end }}

{{/* The port's name: what it speaks. The webhook needs TLS. */}}
{{- define "kamaji-telemetry.portName" -}}
{{- if eq .Values.events "webhook" }}https{{ else }}http{{ end }}
{{- end }}

{{/* The Kamaji Deployment's name, for the RBAC rule that reads it by name. */}}
{{- define "kamaji-telemetry.kamajiDeploymentName" -}}
{{- .Values.kamajiDeployment | splitList "/" | last }}
{{- end }}
