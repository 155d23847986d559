{{/* Release-scoped base name, at most 63 characters (a DNS label). */}}
{{- define "kubechat.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one component: (dict "root" $ "component" "api") → <fullname>-api */}}
{{- define "kubechat.componentName" -}}
{{- printf "%s-%s" (include "kubechat.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubechat.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kubechat.labels" -}}
{{ include "kubechat.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: kubechat
{{- end -}}

{{/*
Image reference: (dict "root" $ "image" .Values.api.image). global.imageRegistry, when set, replaces
the image's own registry so an air-gapped cluster pulls everything from its in-cluster mirror.
*/}}
{{- define "kubechat.image" -}}
{{- $registry := .root.Values.global.imageRegistry | default .image.registry -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository (toString .image.tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Empty when no pull secrets are set; callers: {{- with include "kubechat.imagePullSecrets" . }} */}}
{{- define "kubechat.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end -}}
{{- end -}}

{{- define "kubechat.postgresSecret" -}}
{{- include "kubechat.componentName" (dict "root" . "component" "postgres") -}}
{{- end -}}

{{- define "kubechat.adminSecret" -}}
{{- include "kubechat.componentName" (dict "root" . "component" "admin") -}}
{{- end -}}
