//! Go's `text/template`, the language of Prometheus's annotation and label templates
//! and of Alertmanager's notification templates.
//!
//! ```text
//!  text --lex--> tokens --parse--> Trees (main + define/block)  --exec(data, funcs)--> String
//!                      Go's parse errors            Go's execution errors, fmt's printf
//! ```
//!
//! Everything Go's documentation describes: actions (`if`/`else if`/`else`, `range` with
//! `else`, `break`, `continue`, `with`/`else with`), variables (`$x := p`, `$x = p`,
//! `range $i, $e := p`), `define`/`template`/`block`, comments and `{{-`/`-}}` trimming,
//! pipelines, parenthesized arguments, field chains and methods, Go's built-in functions
//! with its argument checks, and `printf` with Go's formatting ([`printf`]). Prometheus's
//! functions are in [`prometheus`]; Alertmanager's in `alerting::notify::template`.
//!
//! Why not the `gtmpl` crate: its functions are plain `fn` pointers (so `query` could not
//! reach the rule's querier and evaluation time without globals), it lacks `$x = ...`
//! assignment, `break`/`continue`, `html` and `js`, its `printf` is incomplete (no Go
//! float forms such as `+Inf`), and it has not been released since 2021.

pub mod ast;
pub mod check;
pub mod exec;
pub mod funcs;
pub mod gofloat;
pub mod gotime;
pub mod lex;
pub mod methods;
pub mod parse;
pub mod printf;
pub mod prometheus;
pub mod value;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use exec::{ExecError, Functions, MissingKey, NoFunctions};
pub use funcs::{Param, Signature};
pub use parse::ParseError;
pub use value::Value;

/// A set of named templates (Go's `*template.Template` with its associated templates).
#[derive(Clone, Debug, Default)]
pub struct Templates {
    trees: BTreeMap<String, Arc<parse::Tree>>,
}

impl Templates {
    pub fn new() -> Templates {
        Templates::default()
    }

    /// Parses `text` as the template `name`, adding it and the templates it defines to
    /// the set (a later definition replaces an earlier one, unless it is empty).
    pub fn parse(
        &mut self,
        name: &str,
        text: &str,
        funcs: &dyn Functions,
    ) -> Result<(), ParseError> {
        let is_func = |f: &str| funcs.signature(f).is_some();
        let trees = parse::parse(name, text, &is_func)?;
        for (n, t) in trees.trees {
            if parse::is_empty(&t.root)
                && self
                    .trees
                    .get(&n)
                    .is_some_and(|old| !parse::is_empty(&old.root))
            {
                continue;
            }
            self.trees.insert(n, Arc::new(t));
        }
        Ok(())
    }

    /// Whether the set has a template `name`.
    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Finds calls that cannot succeed whatever the data (see [`check`]).
    pub fn check(&self, funcs: &dyn Functions) -> Result<(), String> {
        for (name, tree) in &self.trees {
            check::check_tree(name, tree, funcs)?;
        }
        Ok(())
    }

    /// [`Templates::execute`] with what actions print HTML-escaped (for HTML bodies).
    pub fn execute_html(
        &self,
        name: &str,
        data: &Value,
        funcs: &dyn Functions,
        missing: MissingKey,
    ) -> Result<String, ExecError> {
        exec::execute_with(&self.trees, name, data, funcs, missing, true)
    }

    /// Executes the template `name` over `data`.
    pub fn execute(
        &self,
        name: &str,
        data: &Value,
        funcs: &dyn Functions,
        missing: MissingKey,
    ) -> Result<String, ExecError> {
        exec::execute(&self.trees, name, data, funcs, missing)
    }
}

#[cfg(test)]
mod tests;
