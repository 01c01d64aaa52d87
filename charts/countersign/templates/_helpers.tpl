{{/* Names and labels. */}}
{{- define "countersign.name" -}}countersign{{- end }}
{{- define "countersign.fullname" -}}{{ .Release.Name }}{{- end }}
{{- define "countersign.labels" -}}
app.kubernetes.io/name: countersign
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}
{{- define "countersign.selector" -}}
app.kubernetes.io/name: countersign
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The configuration Countersign serves: the bundled default policy, the values' config merged over it, agents from
.Values.agents, its own namespace from the release. Rules given in values replace the default rules.
*/}}
{{- define "countersign.config" -}}
{{- /* Defaults (generated from the schema), then the default policy, then the values' overrides. */ -}}
{{- $config := .Files.Get "files/config-defaults.yaml" | fromYaml -}}
{{- $config = mustMergeOverwrite $config (.Files.Get "files/default-policy.yaml" | fromYaml) -}}
{{- $overrides := deepCopy .Values.config -}}
{{- $rules := pluck "rules" $overrides | first -}}
{{- $_ := unset $overrides "rules" -}}
{{- $config = mustMergeOverwrite $config $overrides -}}
{{- if $rules }}{{- $_ := set $config "rules" $rules -}}{{- end -}}
{{- $_ := set $config "agents" .Values.agents -}}
{{- $_ := set $config "countersignNamespace" .Release.Namespace -}}
{{- $_ := set $config.approvals "serviceAccount" (include "countersign.fullname" .) -}}
{{- toYaml $config -}}
{{- end }}

{{/* A glob as the body of a CEL regex string: `*` any run, `?` one character, everything else literal. */}}
{{- define "countersign.globRegex" -}}
{{- regexQuoteMeta . | replace "\\*" "\u0000" | replace "\\?" "\u0001" | replace "\\" "\\\\" | replace "'" "\\'" | replace "\u0000" ".*" | replace "\u0001" "." -}}
{{- end }}

{{/* A CEL string literal. */}}
{{- define "countersign.celString" -}}
'{{ . | replace "\\" "\\\\" | replace "'" "\\'" }}'
{{- end }}

{{/*
Who is an agent, as the apiserver evaluates it before calling the webhook: the same expression
`countersign webhook-config` generates (a chart test compares the two).
*/}}
{{- define "countersign.agentMatch" -}}
{{- $clauses := list -}}
{{- range .Values.agents.serviceAccounts -}}
{{- $parts := splitn "/" 2 . -}}
{{- $clauses = append $clauses (printf "request.userInfo.username.matches('^system:serviceaccount:%s:%s$')" (include "countersign.globRegex" $parts._0) (include "countersign.globRegex" $parts._1)) -}}
{{- end -}}
{{- range .Values.agents.usernames -}}
{{- if or (contains "*" .) (contains "?" .) -}}
{{- $clauses = append $clauses (printf "request.userInfo.username.matches('^%s$')" (include "countersign.globRegex" .)) -}}
{{- else -}}
{{- $clauses = append $clauses (printf "request.userInfo.username == %s" (include "countersign.celString" .)) -}}
{{- end -}}
{{- end -}}
{{- $exact := list -}}
{{- $globbed := list -}}
{{- range .Values.agents.groups -}}
{{- if or (contains "*" .) (contains "?" .) }}{{ $globbed = append $globbed . }}{{ else }}{{ $exact = append $exact (include "countersign.celString" .) }}{{ end -}}
{{- end -}}
{{- if $exact -}}
{{- $clauses = append $clauses (printf "request.userInfo.groups.exists(g, g in [%s])" (join ", " $exact)) -}}
{{- end -}}
{{- range $globbed -}}
{{- $clauses = append $clauses (printf "request.userInfo.groups.exists(g, g.matches('^%s$'))" (include "countersign.globRegex" .)) -}}
{{- end -}}
{{- if $clauses }}{{ join " || " $clauses }}{{ else }}false{{ end -}}
{{- end }}

{{/* The webhook's TLS material: reused from the existing Secret on upgrade, generated at install. */}}
{{- define "countersign.tls" -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (printf "%s-tls" (include "countersign.fullname" .)) -}}
{{- if and $secret $secret.data (index $secret.data "ca.crt") -}}
{{- dict "ca" (index $secret.data "ca.crt") "crt" (index $secret.data "tls.crt") "key" (index $secret.data "tls.key") | toJson -}}
{{- else -}}
{{- $service := printf "%s.%s.svc" (include "countersign.fullname" .) .Release.Namespace -}}
{{- $ca := genCA "countersign-ca" (int .Values.tls.validityDays) -}}
{{- $cert := genSignedCert $service nil (list $service (printf "%s.%s" (include "countersign.fullname" .) .Release.Namespace) (include "countersign.fullname" .)) (int .Values.tls.validityDays) $ca -}}
{{- dict "ca" ($ca.Cert | b64enc) "crt" ($cert.Cert | b64enc) "key" ($cert.Key | b64enc) | toJson -}}
{{- end -}}
{{- end }}

{{/* Namespaces the webhook is never called for (src/deploy/webhook-configuration.ts protectedNamespaces). */}}
{{- define "countersign.protectedNamespaces" -}}
{{- toYaml (list .Release.Namespace "kube-system" "kube-public" "kube-node-lease") -}}
{{- end }}

{{/* A node's heartbeats, never worth a webhook call (BOOTSTRAP_EXCLUSION in src/deploy/webhook-configuration.ts). */}}
{{- define "countersign.bootstrapExclusion" -}}
!(request.userInfo.username.startsWith('system:node:') && ((request.resource.group == 'coordination.k8s.io' && request.resource.resource == 'leases') || (request.resource.group == '' && request.resource.resource == 'nodes' && has(request.subResource) && request.subResource == 'status')))
{{- end }}
