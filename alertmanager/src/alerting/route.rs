//! [`RouteTree`]: the routing tree of an `AlertingSpec` with every setting inherited and
//! every matcher parsed, and the pure decision which routes an alert takes and which
//! aggregation group it joins there.

use std::time::Duration;

use telltale_crds::{AlertingSpec, Route};

use crate::alerting::matcher::Matchers;
use crate::error::{Error, Result};
use crate::labels::{ALERT_NAME, LabelSet, to_text};

/// How long a new group waits before its first notification when no route says.
/// (Alertmanager's default is 30s; Telltale aims at notifying within seconds.)
pub const DEFAULT_GROUP_WAIT: Duration = Duration::ZERO;
/// How long a notified group waits before notifying about changes, when no route says.
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5);
/// How long before an unchanged notification is repeated, when no route says.
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// The labels a route groups by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// `...`: every label (one group per alert).
    All,
    Labels(Vec<String>),
}

/// One route with its inherited settings.
#[derive(Clone, Debug)]
pub struct RouteNode {
    /// The receiver, its own or inherited.
    pub receiver: String,
    pub matchers: Matchers,
    pub group_by: GroupBy,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub continue_: bool,
    /// Indexes of the children in [`RouteTree::nodes`].
    pub children: Vec<usize>,
    /// Alertmanager's route key: the matchers of the route and its ancestors,
    /// `{}/{severity="page"}`.
    pub key: String,
}

/// The routing tree; node 0 is the root.
#[derive(Clone, Debug)]
pub struct RouteTree {
    pub nodes: Vec<RouteNode>,
}

impl RouteTree {
    /// Builds the tree of `spec`. Without a route, everything goes to the first receiver
    /// (or to none, `""`) grouped by `alertname`. `default_repeat` is the root's repeat
    /// interval when the route sets none.
    pub fn new(spec: &AlertingSpec, default_repeat: Duration) -> Result<RouteTree> {
        let root = match &spec.route {
            Some(route) => route.clone(),
            None => Route {
                receiver: Some(
                    spec.receivers
                        .first()
                        .map(|r| r.name.clone())
                        .unwrap_or_default(),
                ),
                group_by: Some(vec![ALERT_NAME.to_string()]),
                ..Route::default()
            },
        };
        let parent = RouteNode {
            receiver: String::new(),
            matchers: Matchers::default(),
            group_by: GroupBy::Labels(Vec::new()),
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: default_repeat,
            continue_: false,
            children: Vec::new(),
            key: String::new(),
        };
        let mut tree = RouteTree { nodes: Vec::new() };
        tree.add(&root, &parent, None, "spec.alerting.route")?;
        Ok(tree)
    }

    fn add(
        &mut self,
        route: &Route,
        parent: &RouteNode,
        parent_index: Option<usize>,
        at: &str,
    ) -> Result<usize> {
        let matchers = Matchers::parse_all(&route.matchers).map_err(|e| Error::Config {
            field: format!("{at}.matchers"),
            message: e.to_string(),
        })?;
        let group_by = match &route.group_by {
            None => parent.group_by.clone(),
            Some(by) if by.iter().any(|l| l == "...") => GroupBy::All,
            Some(by) => {
                let mut by = by.clone();
                by.sort();
                by.dedup();
                GroupBy::Labels(by)
            }
        };
        let key = match parent_index {
            None => matchers.to_string(),
            Some(_) => format!("{}/{}", parent.key, matchers),
        };
        let node = RouteNode {
            receiver: route
                .receiver
                .clone()
                .unwrap_or_else(|| parent.receiver.clone()),
            matchers,
            group_by,
            group_wait: route.group_wait.map_or(parent.group_wait, |d| d.0),
            group_interval: route.group_interval.map_or(parent.group_interval, |d| d.0),
            repeat_interval: route
                .repeat_interval
                .map_or(parent.repeat_interval, |d| d.0),
            continue_: route.continue_,
            children: Vec::new(),
            key,
        };
        let index = self.nodes.len();
        self.nodes.push(node.clone());
        if let Some(p) = parent_index {
            self.nodes[p].children.push(index);
        }
        for (i, child) in route.routes.iter().enumerate() {
            self.add(child, &node, Some(index), &format!("{at}.routes[{i}]"))?;
        }
        Ok(index)
    }

    /// The routes that handle an alert with `labels`, as Alertmanager's `Route.Match`: the
    /// deepest matching routes, stopping at the first matching child unless it has
    /// `continue`. Empty when even the root does not match.
    pub fn matches(&self, labels: &LabelSet) -> Vec<usize> {
        self.match_node(0, labels)
    }

    fn match_node(&self, index: usize, labels: &LabelSet) -> Vec<usize> {
        let node = &self.nodes[index];
        if !node.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for &child in &node.children {
            let found = self.match_node(child, labels);
            let matched = !found.is_empty();
            all.extend(found);
            if matched && !self.nodes[child].continue_ {
                break;
            }
        }
        if all.is_empty() {
            all.push(index);
        }
        all
    }

    /// The labels of `labels` that route `index` groups by.
    pub fn group_labels(&self, index: usize, labels: &LabelSet) -> LabelSet {
        match &self.nodes[index].group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }

    /// Alertmanager's group key: `{route key}:{group labels}`.
    pub fn group_key(&self, index: usize, group_labels: &LabelSet) -> String {
        format!("{}:{}", self.nodes[index].key, to_text(group_labels))
    }

    /// Every receiver name the tree can route to.
    pub fn receivers(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.nodes.iter().map(|n| n.receiver.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_crds::{PromDuration, Receiver};

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn spec(route: &str) -> AlertingSpec {
        AlertingSpec {
            global: None,
            route: Some(serde_yaml::from_str(route).unwrap()),
            receivers: ["default", "pager", "db", "audit"]
                .iter()
                .map(|n| Receiver {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            inhibit_rules: vec![],
            templates: vec![],
        }
    }

    const TREE: &str = r#"
receiver: default
groupBy: [alertname]
groupWait: 10s
routes:
  - matchers: ['severity=~"critical|page"']
    receiver: pager
    groupInterval: 1m
    routes:
      - matchers: [team=db]
        receiver: db
        groupBy: ['...']
  - matchers: [audit=true]
    receiver: audit
    continue: true
  - matchers: [team=db]
    receiver: db
"#;

    fn receivers(tree: &RouteTree, l: &LabelSet) -> Vec<String> {
        tree.matches(l)
            .into_iter()
            .map(|i| tree.nodes[i].receiver.clone())
            .collect()
    }

    #[test]
    fn first_matching_child_wins_and_continue_goes_on() {
        let tree = RouteTree::new(&spec(TREE), DEFAULT_REPEAT_INTERVAL).unwrap();
        assert_eq!(
            receivers(&tree, &labels(&[("severity", "page")])),
            ["pager"]
        );
        assert_eq!(
            receivers(&tree, &labels(&[("severity", "critical"), ("team", "db")])),
            ["db"]
        );
        assert_eq!(receivers(&tree, &labels(&[("x", "y")])), ["default"]);
        assert_eq!(
            receivers(&tree, &labels(&[("audit", "true"), ("team", "db")])),
            ["audit", "db"]
        );
        assert_eq!(receivers(&tree, &labels(&[("audit", "true")])), ["audit"]);
    }

    #[test]
    fn children_inherit_unset_settings() {
        let tree = RouteTree::new(&spec(TREE), DEFAULT_REPEAT_INTERVAL).unwrap();
        let pager = &tree.nodes[1];
        assert_eq!(pager.group_wait, Duration::from_secs(10));
        assert_eq!(pager.group_interval, Duration::from_secs(60));
        assert_eq!(pager.repeat_interval, DEFAULT_REPEAT_INTERVAL);
        assert_eq!(pager.group_by, GroupBy::Labels(vec!["alertname".into()]));
        let db = &tree.nodes[2];
        assert_eq!(db.group_interval, Duration::from_secs(60));
        assert_eq!(db.group_by, GroupBy::All);
        assert_eq!(db.key, r#"{}/{severity=~"critical|page"}/{team="db"}"#);
    }

    #[test]
    fn group_keys_are_alertmanagers() {
        let tree = RouteTree::new(&spec(TREE), DEFAULT_REPEAT_INTERVAL).unwrap();
        let l = labels(&[("alertname", "Down"), ("severity", "page"), ("i", "a")]);
        let node = tree.matches(&l)[0];
        let group = tree.group_labels(node, &l);
        assert_eq!(group, labels(&[("alertname", "Down")]));
        assert_eq!(
            tree.group_key(node, &group),
            r#"{}/{severity=~"critical|page"}:{alertname="Down"}"#
        );
    }

    #[test]
    fn without_a_route_the_first_receiver_gets_everything_by_alertname() {
        let mut s = spec(TREE);
        s.route = None;
        let tree = RouteTree::new(&s, Duration::from_secs(60)).unwrap();
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.nodes[0].receiver, "default");
        assert_eq!(tree.nodes[0].repeat_interval, Duration::from_secs(60));
        let l = labels(&[("alertname", "Down")]);
        assert_eq!(
            tree.group_key(0, &tree.group_labels(0, &l)),
            "{}:{alertname=\"Down\"}"
        );
    }

    #[test]
    fn bad_matchers_name_the_route() {
        let mut s = spec(TREE);
        s.route.as_mut().unwrap().routes[1].matchers = vec!["audit=~\"(\"".into()];
        s.route.as_mut().unwrap().group_wait = Some(PromDuration::from_secs(1));
        let err = RouteTree::new(&s, DEFAULT_REPEAT_INTERVAL).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("spec.alerting.route.routes[1].matchers: "),
            "{err}"
        );
    }
}
