//! Receiver message templates, as Alertmanager's: Go templates over the notification
//! data (`.Receiver .Status .Alerts (.Firing .Resolved) .GroupLabels .CommonLabels
//! .CommonAnnotations .ExternalURL`), Alertmanager's functions (`toUpper toLower title
//! join match safeHtml reReplaceAll stringSlice`), user template files
//! (`alerting.templates` globs) and defaults that render what Alertmanager 0.25's
//! `default.tmpl` renders (the subject `[FIRING:2] Down (node page)`, Slack's title,
//! link and fallback, PagerDuty's description and details).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::alerting::notify::{Notification, NotifyAlert};
use crate::error::{Error, Result};
use crate::format::query_escape;
use crate::template::Templates;
use crate::template::exec::{Functions, MissingKey};
use crate::template::funcs::{Param, Signature};
use crate::template::prometheus::{change_case, go_regex, re_replace_all, title};
use crate::template::value::{GO_ZERO_TIME_NANOS, ListKind, MapKind, StructKind, Value};

/// Telltale's default templates: the same text as Alertmanager's defaults for the same
/// data (written here, not copied).
pub const DEFAULT_TEMPLATES: &str = r#"
{{- define "__alertmanager" }}Alertmanager{{ end }}
{{- define "__alertmanagerURL" }}{{ .ExternalURL }}/#/alerts?receiver={{ urlquery .Receiver }}{{ end }}
{{- define "__subject" -}}
[{{ toUpper .Status }}{{ if eq .Status "firing" }}:{{ len .Alerts.Firing }}{{ end }}] {{ join " " .GroupLabels.SortedPairs.Values }} {{ $rest := .CommonLabels.Remove .GroupLabels.Names }}{{ if $rest }}({{ join " " $rest.Values }}){{ end }}
{{- end }}
{{- define "__text_alert_list" }}{{ range . }}Labels:
{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Annotations:
{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Source: {{ .GeneratorURL }}
{{ end }}{{ end }}
{{- define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{- define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end }}
{{- define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{- define "slack.default.fallback" }}{{ template "slack.default.title" . }} | {{ template "slack.default.titlelink" . }}{{ end }}
{{- define "slack.default.color" }}{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}{{ end }}
{{- define "slack.default.text" }}{{ end }}
{{- define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end }}
{{- define "pagerduty.default.client" }}{{ template "__alertmanager" . }}{{ end }}
{{- define "pagerduty.default.clientURL" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{- define "pagerduty.default.instances" }}{{ template "__text_alert_list" . }}{{ end }}
{{- define "__html_alert_list" }}{{ range . }}
<p><strong>Labels</strong><br />
{{ range .Labels.SortedPairs }}{{ .Name }} = {{ .Value }}<br />
{{ end }}{{ if .Annotations }}<strong>Annotations</strong><br />
{{ range .Annotations.SortedPairs }}{{ .Name }} = {{ .Value }}<br />
{{ end }}{{ end }}<a href="{{ .GeneratorURL }}">Source</a></p>
{{- end }}{{ end }}
{{- define "email.default.subject" }}{{ template "__subject" . }}{{ end }}
{{- define "email.default.html" -}}
<!DOCTYPE html>
<html>
<head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" /><title>{{ template "__subject" . }}</title></head>
<body style="font-family: sans-serif; font-size: 14px; background-color: #f6f6f6;">
<h2 style="background-color: #E6522C; color: #fff; padding: 12px;">{{ len .Alerts }} alert{{ if gt (len .Alerts) 1 }}s{{ end }} for {{ range .GroupLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}</h2>
<p><a href="{{ template "__alertmanagerURL" . }}">View in {{ template "__alertmanager" . }}</a></p>
{{- with .Alerts.Firing }}
<h3>[{{ len . }}] Firing</h3>{{ template "__html_alert_list" . }}{{ end }}
{{- with .Alerts.Resolved }}
<h3>[{{ len . }}] Resolved</h3>{{ template "__html_alert_list" . }}{{ end }}
<p style="color: #999;"><a href="{{ .ExternalURL }}">Sent by {{ template "__alertmanager" . }}</a></p>
</body>
</html>
{{ end }}
"#;

/// Alertmanager's template functions.
pub struct AmFunctions;

impl Functions for AmFunctions {
    fn signature(&self, name: &str) -> Option<Signature> {
        use Param::*;
        Some(match name {
            "toUpper" | "toLower" | "title" | "safeHtml" => Signature::fixed(&[Str]),
            "join" => Signature::fixed(&[Str, Strings]),
            "match" => Signature::fixed(&[Str, Str]),
            "reReplaceAll" => Signature::fixed(&[Str, Str, Str]),
            "stringSlice" => Signature::variadic(&[], Str),
            _ => return None,
        })
    }

    fn call(
        &self,
        name: &str,
        args: Vec<Value>,
        _: &mut dyn FnMut(&str, Value) -> Result<String, String>,
    ) -> Result<Value, String> {
        let s = |i: usize| args.get(i).and_then(Value::as_str).unwrap_or_default();
        Ok(match name {
            "toUpper" => Value::str(change_case(s(0), true)),
            "toLower" => Value::str(change_case(s(0), false)),
            "title" => Value::str(title(s(0))),
            "safeHtml" => Value::str(s(0)),
            "join" => {
                let items: Vec<&str> = match &args[1] {
                    Value::List(l) => l.items.iter().filter_map(Value::as_str).collect(),
                    _ => Vec::new(),
                };
                Value::str(items.join(s(0)))
            }
            "match" => Value::Bool(go_regex(s(0))?.is_match(s(1))),
            "reReplaceAll" => Value::str(re_replace_all(s(0), s(1), s(2))?),
            "stringSlice" => Value::list(ListKind::Strings, args),
            _ => return Err(format!("function {name:?} not defined")),
        })
    }
}

fn kv(set: &crate::labels::LabelSet) -> Value {
    Value::string_map(MapKind::Kv, set)
}

fn time_value(ms: Option<i64>) -> Value {
    Value::Time {
        nanos: ms.map_or(GO_ZERO_TIME_NANOS, |ms| ms.saturating_mul(1_000_000)),
        ptr: false,
    }
}

fn alert_value(a: &NotifyAlert) -> Value {
    Value::structure(
        StructKind::Alert,
        vec![
            (
                "Status",
                Value::str(if a.is_resolved() {
                    "resolved"
                } else {
                    "firing"
                }),
            ),
            ("Labels", kv(&a.labels)),
            ("Annotations", kv(&a.annotations)),
            ("StartsAt", time_value(Some(a.starts_at_ms))),
            ("EndsAt", time_value(a.ends_at_ms)),
            ("GeneratorURL", Value::str(&a.generator_url)),
            ("Fingerprint", Value::str(a.fingerprint_hex())),
        ],
    )
}

/// Alertmanager's `template.Data` of a notification.
pub fn notification_data(n: &Notification) -> Value {
    Value::structure(
        StructKind::NotificationData,
        vec![
            ("Receiver", Value::str(receiver_name(&n.receiver))),
            ("Status", Value::str(n.status())),
            (
                "Alerts",
                Value::list(ListKind::Alerts, n.alerts.iter().map(alert_value).collect()),
            ),
            ("GroupLabels", kv(&n.group_labels)),
            ("CommonLabels", kv(&n.common_labels())),
            ("CommonAnnotations", kv(&n.common_annotations())),
            ("ExternalURL", Value::str(&n.external_url)),
        ],
    )
}

/// Alertmanager's receiver name in templates: the part before a `/` is kept as is
/// (routing may add a suffix; Telltale's receiver names are plain).
fn receiver_name(r: &str) -> &str {
    r
}

/// The templates of an alerting section: the defaults and the user's files.
#[derive(Clone, Debug)]
pub struct NotifyTemplates {
    set: Templates,
}

impl Default for NotifyTemplates {
    fn default() -> Self {
        let mut set = Templates::new();
        set.parse("default.tmpl", DEFAULT_TEMPLATES, &AmFunctions)
            .expect("the default templates parse");
        NotifyTemplates { set }
    }
}

/// The files a glob names (`*`, `?` in the file name), sorted.
fn glob(pattern: &str) -> std::result::Result<Vec<PathBuf>, String> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return Ok(vec![path.to_path_buf()]);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let re = regex::Regex::new(&format!(
        "^{}$",
        regex::escape(name).replace("\\*", ".*").replace("\\?", ".")
    ))
    .map_err(|e| e.to_string())?;
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| re.is_match(n)))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

impl NotifyTemplates {
    /// The defaults, then every file of `globs` (their `define`s override the defaults).
    pub fn load(globs: &[String]) -> Result<NotifyTemplates> {
        let mut t = NotifyTemplates::default();
        for (i, pattern) in globs.iter().enumerate() {
            let field = format!("spec.alerting.templates[{i}]");
            let files = glob(pattern).map_err(|message| Error::Config {
                field: field.clone(),
                message,
            })?;
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::Config {
                    field: field.clone(),
                    message: format!("{}: {e}", f.display()),
                })?;
                let name = f
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("template")
                    .to_string();
                t.set
                    .parse(&name, &text, &AmFunctions)
                    .map_err(|e| Error::Config {
                        field: field.clone(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(t)
    }

    /// Checks that `text` parses (for configuration checks).
    pub fn check(&self, text: &str) -> std::result::Result<(), String> {
        let mut set = self.set.clone();
        set.parse("check", text, &AmFunctions)
            .map_err(|e| e.to_string())?;
        set.check(&AmFunctions)
    }

    /// Executes `text` (a template that may call the defined ones) over `data`; with
    /// `html`, what actions print is HTML-escaped (as Alertmanager's `html/template`).
    pub fn render(&self, text: &str, data: &Value, html: bool) -> Result<String> {
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let mut set = self.set.clone();
        let fail = |message: String| Error::Template { message };
        set.parse("__text", text, &AmFunctions)
            .map_err(|e| fail(e.to_string()))?;
        let out = if html {
            set.execute_html("__text", data, &AmFunctions, MissingKey::Default)
        } else {
            set.execute("__text", data, &AmFunctions, MissingKey::Default)
        };
        out.map_err(|e| fail(e.to_string()))
    }

    /// `render` of a configured field, or of the default when it is unset.
    pub fn field(&self, configured: Option<&str>, default: &str, data: &Value) -> Result<String> {
        self.render(configured.unwrap_or(default), data, false)
    }
}

/// The link to the receiver's alerts (`__alertmanagerURL`).
pub fn alerts_url(n: &Notification) -> String {
    format!(
        "{}/#/alerts?receiver={}",
        n.external_url,
        query_escape(receiver_name(&n.receiver))
    )
}

/// Details map of templates rendered over `data`.
pub fn render_map(
    t: &NotifyTemplates,
    map: &BTreeMap<String, String>,
    data: &Value,
) -> Result<BTreeMap<String, String>> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), t.render(v, data, false)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::notify::text::tests::{alert, notification};

    #[test]
    fn subject_is_alertmanagers_byte_for_byte() {
        let t = NotifyTemplates::default();
        let subject = |n: &Notification| {
            t.render(
                r#"{{ template "__subject" . }}"#,
                &notification_data(n),
                false,
            )
            .unwrap()
        };
        // Alertmanager 0.25 on the same alerts: "[FIRING:2] Down (node page)".
        let n = notification(vec![alert("a", false), alert("b", false), alert("c", true)]);
        assert_eq!(subject(&n), "[FIRING:2] Down (node page)");
        let mut solo = notification(vec![alert("a", true)]);
        assert_eq!(subject(&solo), "[RESOLVED] Down (a node page)");
        // Nothing beyond the group labels: Alertmanager leaves the space before "(".
        solo.alerts[0].labels.retain(|k, _| k == "alertname");
        assert_eq!(subject(&solo), "[RESOLVED] Down ");
    }

    #[test]
    fn user_templates_and_functions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("my.tmpl"),
            r#"{{ define "my.title" }}{{ .CommonLabels.alertname | toLower }} x{{ len .Alerts.Firing }}{{ end }}"#,
        )
        .unwrap();
        let t = NotifyTemplates::load(&[format!("{}/*.tmpl", dir.path().display())]).unwrap();
        let n = notification(vec![alert("a", false), alert("b", true)]);
        let data = notification_data(&n);
        assert_eq!(
            t.render(r#"{{ template "my.title" . }}"#, &data, false)
                .unwrap(),
            "down x1"
        );
        assert_eq!(
            t.render(r#"{{ range .Alerts }}{{ .Status }}:{{ .Labels.instance }} {{ end }}{{ join "," (stringSlice "a" "b") }}"#, &data, false).unwrap(),
            "firing:a resolved:b a,b"
        );
        assert_eq!(
            t.render(r#"{{ .CommonLabels.SortedPairs.Names | join " " }}|{{ .CommonAnnotations.summary }}|{{ .GroupLabels.nope }}"#, &data, false).unwrap(),
            "alertname job severity|<no value>|<no value>"
        );
        assert_eq!(
            t.render("<{{ (index .Alerts 0).Annotations.summary }}>", &data, true)
                .unwrap(),
            "<a &lt;down&gt;>"
        );
        assert!(NotifyTemplates::load(&["/nonexistent/x.tmpl".into()]).is_err());
        assert!(t.check("{{ nosuch }}").is_err());
    }
}
