//! A static check of parsed templates beyond Go's parse-time checks: every call of a
//! known function gets the number of arguments it takes and constants of the types it
//! takes, so an error Go would raise at every execution is found before any evaluation.

use crate::template::ast::{Arg, ArgKind, Command, Node, Pipe};
use crate::template::exec::Functions;
use crate::template::funcs::{Param, builtin_signature};
use crate::template::parse::Tree;

/// The first call in `tree` that cannot succeed, in Go's words
/// (`template: NAME:LINE:COL: executing "NAME" at <CMD>: MESSAGE`).
pub fn check_tree(name: &str, tree: &Tree, funcs: &dyn Functions) -> Result<(), String> {
    let mut c = Checker { funcs, found: None };
    c.list(&tree.root);
    match c.found {
        None => Ok(()),
        Some((pos, context, message)) => {
            let text = &tree.text[..pos.min(tree.text.len())];
            let line = 1 + text.matches('\n').count();
            let col = text.rfind('\n').map_or(pos, |nl| pos - (nl + 1));
            Err(format!(
                "template: {}:{line}:{col}: executing {name:?} at <{context}>: {message}",
                tree.parse_name
            ))
        }
    }
}

struct Checker<'a> {
    funcs: &'a dyn Functions,
    found: Option<(usize, String, String)>,
}

impl Checker<'_> {
    fn list(&mut self, list: &[Node]) {
        for n in list {
            if self.found.is_some() {
                return;
            }
            match n {
                Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
                Node::Action(p) => self.pipe(p),
                Node::If(b) | Node::Range(b) | Node::With(b) => {
                    self.pipe(&b.pipe);
                    self.list(&b.list);
                    if let Some(e) = &b.else_list {
                        self.list(e);
                    }
                }
                Node::Template { pipe, .. } => {
                    if let Some(p) = pipe {
                        self.pipe(p);
                    }
                }
            }
        }
    }

    fn pipe(&mut self, p: &Pipe) {
        for (i, cmd) in p.cmds.iter().enumerate() {
            self.command(cmd, i > 0);
        }
    }

    fn command(&mut self, cmd: &Command, piped: bool) {
        for a in &cmd.args {
            self.arg(a);
        }
        let ArgKind::Ident(name) = &cmd.args[0].kind else {
            return;
        };
        let Some(sig) = self
            .funcs
            .signature(name)
            .or_else(|| builtin_signature(name))
        else {
            return;
        };
        let given = cmd.args.len() - 1 + usize::from(piped);
        let fixed = sig.params.len();
        let message = match sig.variadic {
            Some(_) if given < fixed => Some(format!(
                "wrong number of args for {name}: want at least {fixed} got {}",
                cmd.args.len() - 1
            )),
            None if given != fixed => Some(format!(
                "wrong number of args for {name}: want {fixed} got {given}"
            )),
            _ => None,
        };
        if let Some(m) = message {
            self.found
                .get_or_insert((cmd.args[0].pos, cmd.args[0].to_string(), m));
            return;
        }
        for (i, a) in cmd.args[1..].iter().enumerate() {
            let p = if i < fixed {
                sig.params[i]
            } else {
                sig.variadic.unwrap_or(Param::Any)
            };
            if let Some(m) = constant_mismatch(p, a) {
                self.found.get_or_insert((a.pos, a.to_string(), m));
                return;
            }
        }
    }

    fn arg(&mut self, a: &Arg) {
        match &a.kind {
            ArgKind::Pipe(p) => self.pipe(p),
            ArgKind::Chain(node, _) => self.arg(node),
            _ => {}
        }
    }
}

/// Go's message when a constant cannot be an argument of type `p`.
fn constant_mismatch(p: Param, a: &Arg) -> Option<String> {
    let what = match p {
        Param::Bool => "bool",
        Param::Float => "float",
        Param::Int => "integer",
        Param::Str => "string",
        _ => "",
    };
    let fits = match (&a.kind, p) {
        (ArgKind::Bool(_), Param::Bool | Param::Any) => true,
        (ArgKind::Str(..), Param::Str | Param::Any) => true,
        (ArgKind::Number(n), Param::Float) => n.float.is_some(),
        (ArgKind::Number(n), Param::Int) => n.int.is_some(),
        (ArgKind::Number(_), Param::Any) => true,
        (ArgKind::Nil, p) => p.can_be_nil(),
        (ArgKind::Bool(_) | ArgKind::Str(..) | ArgKind::Number(_), _) => false,
        _ => true,
    };
    if fits {
        return None;
    }
    if matches!(a.kind, ArgKind::Nil) {
        return Some(format!("cannot assign nil to {}", p.go_type()));
    }
    if what.is_empty() {
        return Some(format!("can't handle {a} for arg of type {}", p.go_type()));
    }
    Some(format!("expected {what}; found {a}"))
}
