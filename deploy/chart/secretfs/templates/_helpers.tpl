{{/* secretfs.fullname names every object: the release name, with "-secretfs" unless it already says so. */}}
{{- define "secretfs.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* secretfs.labels are the common labels of every object. */}}
{{- define "secretfs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
secretfs.selectorLabels select one DaemonSet's pods; call with (dict "root" $ "component" "node").
The Linux and Windows DaemonSets differ in component, so they never claim each other's pods. Pod
templates carry secretfs.labels plus the same component label, a superset of these.
*/}}
{{- define "secretfs.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* secretfs.image is the node plugin image; call with (dict "root" $ "override" .Values.windows.image). */}}
{{- define "secretfs.image" -}}
{{- $repo := .root.Values.image.repository -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- with .override -}}
{{- $repo = .repository | default $repo -}}
{{- $tag = .tag | default $tag -}}
{{- end -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}

{{/* secretfs.serviceAccountName is the identity of the node plugin pods. */}}
{{- define "secretfs.serviceAccountName" -}}
{{- include "secretfs.fullname" . -}}
{{- end -}}
