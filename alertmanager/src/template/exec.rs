//! Execution: walks a parsed template over a [`Value`] as Go's `text/template` executes
//! it — dot and variables, field chains and methods, functions with Go's argument checks
//! (`wrong number of args`, `wrong type for value`), lazy `and`/`or`, `range` with
//! `break`/`continue`, `template` calls — and reports errors in Go's words:
//! `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use crate::template::ast::{Arg, ArgKind, Branch, Command, Node, Number, Pipe};
use crate::template::funcs::{self, Param, Signature};
use crate::template::methods;
use crate::template::parse::Tree;
use crate::template::printf::print_value;
use crate::template::value::{MapKind, Value};

/// What a missing map key gives (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Nothing: printed `<no value>` (Alertmanager).
    #[default]
    Default,
    /// The zero value of the map's element type (Prometheus: `""` for labels).
    Zero,
    /// An error.
    Error,
}

/// Functions a template may call besides Go's built-in ones.
pub trait Functions: Sync {
    /// The parameters of `name`, if it is defined.
    fn signature(&self, name: &str) -> Option<Signature>;
    /// Calls `name` with arguments already checked against its signature. `tmpl`
    /// executes a named template of the set (for Prometheus's `tmpl`).
    fn call(
        &self,
        name: &str,
        args: Vec<Value>,
        tmpl: &mut dyn FnMut(&str, Value) -> Result<String, String>,
    ) -> Result<Value, String>;
}

/// No functions besides Go's.
pub struct NoFunctions;

impl Functions for NoFunctions {
    fn signature(&self, _: &str) -> Option<Signature> {
        None
    }
    fn call(
        &self,
        name: &str,
        _: Vec<Value>,
        _: &mut dyn FnMut(&str, Value) -> Result<String, String>,
    ) -> Result<Value, String> {
        Err(format!("function {name:?} not defined"))
    }
}

/// An execution error, already in Go's words.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecError(pub String);

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deepest nesting of `template` calls (Go allows 100,000 on a much larger stack).
pub const MAX_DEPTH: usize = 1000;

/// Executes the tree `name` of `trees` over `data`.
pub fn execute(
    trees: &BTreeMap<String, Arc<Tree>>,
    name: &str,
    data: &Value,
    funcs: &dyn Functions,
    missing: MissingKey,
) -> Result<String, ExecError> {
    execute_with(trees, name, data, funcs, missing, false)
}

/// [`execute`]; with `html`, what actions print is HTML-escaped.
pub fn execute_with(
    trees: &BTreeMap<String, Arc<Tree>>,
    name: &str,
    data: &Value,
    funcs: &dyn Functions,
    missing: MissingKey,
    html: bool,
) -> Result<String, ExecError> {
    let tree = trees.get(name).ok_or_else(|| {
        ExecError(format!(
            "template: no template {name:?} associated with template {name:?}"
        ))
    })?;
    let mut st = State {
        trees,
        funcs,
        missing,
        out: String::new(),
        vars: vec![("$".to_string(), data.clone())],
        tree,
        name: name.to_string(),
        node: None,
        depth: 0,
        html,
    };
    match st.walk_list(data, &tree.root) {
        Ok(_) => Ok(st.out),
        Err(Stop::Error(e)) => Err(e),
        Err(_) => Ok(st.out),
    }
}

/// Why the walk stopped early.
enum Stop {
    Break,
    Continue,
    Error(ExecError),
}

type Res<T> = Result<T, Stop>;

/// The node errors point at (printed only when an error happens).
#[derive(Clone, Copy)]
enum At<'a> {
    Arg(&'a Arg),
    Cmd(&'a Command),
    Pipe(&'a Pipe),
    Template(usize, &'a str),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Arg(a) => a.pos,
            At::Cmd(c) => c.pos,
            At::Pipe(p) => p.pos,
            At::Template(pos, _) => *pos,
        }
    }

    fn text(&self) -> String {
        match self {
            At::Arg(a) => a.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Template(_, name) => format!("{{{{template {name:?}}}}}"),
        }
    }
}

struct State<'a> {
    trees: &'a BTreeMap<String, Arc<Tree>>,
    funcs: &'a dyn Functions,
    missing: MissingKey,
    out: String,
    vars: Vec<(String, Value)>,
    tree: &'a Arc<Tree>,
    name: String,
    node: Option<At<'a>>,
    depth: usize,
    /// HTML-escape what actions print.
    html: bool,
}

/// An argument: not given (`missing`), or a value.
type Final = Option<Value>;

impl<'a> State<'a> {
    fn at(&mut self, at: At<'a>) {
        self.node = Some(at);
    }

    fn error<T>(&self, message: impl Into<String>) -> Res<T> {
        let message = message.into();
        let full = match &self.node {
            None => format!("template: {}: {message}", self.name),
            Some(at) => {
                let pos = at.pos().min(self.tree.text.len());
                let text = &self.tree.text[..pos];
                let line = 1 + text.matches('\n').count();
                let col = match text.rfind('\n') {
                    Some(nl) => pos - (nl + 1),
                    None => pos,
                };
                format!(
                    "template: {}:{line}:{col}: executing {:?} at <{}>: {message}",
                    self.tree.parse_name,
                    self.name,
                    at.text()
                )
            }
        };
        Err(Stop::Error(ExecError(full)))
    }

    fn walk_list(&mut self, dot: &Value, list: &'a [Node]) -> Res<()> {
        for node in list {
            self.walk(dot, node)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &'a Node) -> Res<()> {
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                Ok(())
            }
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.print(&v);
                }
                Ok(())
            }
            Node::If(b) => self.walk_if_or_with(dot, b, false),
            Node::With(b) => self.walk_if_or_with(dot, b, true),
            Node::Range(b) => self.walk_range(dot, b),
            Node::Template { name, pipe, pos } => {
                self.at(At::Template(*pos, name));
                let trees = self.trees;
                let Some(tree) = trees.get(name) else {
                    return self.error(format!("template {name:?} not defined"));
                };
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Nil,
                };
                self.depth += 1;
                if self.depth >= MAX_DEPTH {
                    return self.error(format!("exceeded maximum template depth ({MAX_DEPTH})"));
                }
                let saved_vars =
                    std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
                let saved_tree = std::mem::replace(&mut self.tree, tree);
                let saved_name = std::mem::replace(&mut self.name, name.clone());
                let result = self.walk_list(&new_dot, &tree.root);
                self.vars = saved_vars;
                self.tree = saved_tree;
                self.name = saved_name;
                self.depth -= 1;
                result
            }
            Node::Break(_) => Err(Stop::Break),
            Node::Continue(_) => Err(Stop::Continue),
        }
    }

    fn print(&mut self, v: &Value) {
        match v {
            Value::Nil if self.html => self.out.push_str("&lt;no value&gt;"),
            Value::Nil => self.out.push_str("<no value>"),
            v if self.html => self
                .out
                .push_str(&crate::template::funcs::html_escape(&print_value(v))),
            v => {
                let _ = write!(self.out, "{}", print_value(v));
            }
        }
    }

    fn walk_if_or_with(&mut self, dot: &Value, b: &'a Branch, is_with: bool) -> Res<()> {
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        let result = if v.truth() {
            if is_with {
                self.walk_list(&v, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)
        } else {
            Ok(())
        };
        self.vars.truncate(mark);
        result
    }

    fn walk_range(&mut self, dot: &Value, b: &'a Branch) -> Res<()> {
        let mark = self.vars.len();
        let v = self.eval_pipeline(dot, &b.pipe)?;
        // The pipeline's own declarations are set per element, not to the collection.
        self.vars.truncate(mark);
        let items: Vec<(Value, Value)> = match &v {
            Value::List(l) => l
                .items
                .iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect(),
            Value::Map(m) => m
                .entries
                .iter()
                .map(|(k, e)| (Value::str(k), e.clone()))
                .collect(),
            Value::Nil => Vec::new(),
            other => {
                return self.error(format!("range can't iterate over {}", print_value(other)));
            }
        };
        if items.is_empty() {
            if let Some(else_list) = &b.else_list {
                self.walk_list(dot, else_list)?;
            }
            return Ok(());
        }
        for (key, elem) in items {
            match b.pipe.decl.as_slice() {
                [] => {}
                [one] => self.vars.push((one.clone(), elem.clone())),
                [k, e, ..] => {
                    self.vars.push((k.clone(), key));
                    self.vars.push((e.clone(), elem.clone()));
                }
            }
            let r = self.walk_list(&elem, &b.list);
            self.vars.truncate(mark);
            match r {
                Ok(()) | Err(Stop::Continue) => {}
                Err(Stop::Break) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'a Pipe) -> Res<Value> {
        self.at(At::Pipe(pipe));
        let mut value: Final = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for var in &pipe.decl {
            if pipe.is_assign {
                match self.vars.iter_mut().rev().find(|(n, _)| n == var) {
                    Some(slot) => slot.1 = value.clone(),
                    None => return self.error(format!("undefined variable: {var}")),
                }
            } else {
                self.vars.push((var.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn eval_command(&mut self, dot: &Value, cmd: &'a Command, fin: Final) -> Res<Value> {
        let first = &cmd.args[0];
        match &first.kind {
            ArgKind::Field(names) => {
                return self.eval_field_chain(dot, dot.clone(), first, names, &cmd.args, fin);
            }
            ArgKind::Chain(node, names) => {
                let receiver = self.eval_arg_any(dot, node)?;
                return self.eval_field_chain(dot, receiver, first, names, &cmd.args, fin);
            }
            ArgKind::Ident(name) => {
                return self.eval_function(dot, name, At::Cmd(cmd), first, &cmd.args, fin);
            }
            ArgKind::Pipe(p) => {
                if cmd.args.len() > 1 || fin.is_some() {
                    self.at(At::Arg(first));
                    return self.error(format!("can't give argument to non-function {first}"));
                }
                return self.eval_pipeline(dot, p);
            }
            ArgKind::Variable(names) => {
                return self.eval_variable(dot, first, names, &cmd.args, fin);
            }
            _ => {}
        }
        self.at(At::Arg(first));
        if cmd.args.len() > 1 || fin.is_some() {
            return self.error(format!("can't give argument to non-function {first}"));
        }
        match &first.kind {
            ArgKind::Bool(b) => Ok(Value::Bool(*b)),
            ArgKind::Dot => Ok(dot.clone()),
            ArgKind::Nil => self.error("nil is not a command"),
            ArgKind::Number(n) => self.ideal_constant(n),
            ArgKind::Str(s, _) => Ok(Value::str(s)),
            _ => self.error(format!("can't evaluate command {first}")),
        }
    }

    /// An untyped number constant where any type is accepted: Go's `idealConstant`.
    fn ideal_constant(&self, n: &Number) -> Res<Value> {
        if n.is_complex {
            return self.error("complex numbers are not supported");
        }
        let hex_int =
            (n.text.starts_with("0x") || n.text.starts_with("0X")) && !n.text.contains(['p', 'P']);
        if n.float.is_some() && !hex_int && !n.is_char && n.text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(n.float.unwrap_or_default()));
        }
        match n.int {
            Some(i) => Ok(Value::Int(i)),
            None => self.error(format!("{} overflows int", n.text)),
        }
    }

    fn lookup_var(&self, name: &str) -> Res<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.error(format!("undefined variable: {name}")),
        }
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        node: &'a Arg,
        names: &'a [String],
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        self.at(At::Arg(node));
        let value = self.lookup_var(&names[0])?;
        if names.len() == 1 {
            if args.len() > 1 || fin.is_some() {
                return self.error(format!("can't give argument to non-function {node}"));
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, node, &names[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        receiver: Value,
        node: &'a Arg,
        names: &'a [String],
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        let mut receiver = receiver;
        let n = names.len();
        for name in &names[..n - 1] {
            receiver = self.eval_field(dot, name, node, &[], None, receiver)?;
        }
        self.eval_field(dot, &names[n - 1], node, args, fin, receiver)
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &'a Arg,
        args: &'a [Arg],
        fin: Final,
        receiver: Value,
    ) -> Res<Value> {
        self.at(At::Arg(node));
        if receiver == Value::Nil {
            if self.missing == MissingKey::Error {
                return self.error(format!("nil data; no entry for key {name:?}"));
            }
            return Ok(Value::Nil);
        }
        if let Some(sig) = methods::signature(&receiver, name) {
            let argv = self.eval_args(dot, name, &sig, args, fin)?;
            self.at(At::Arg(node));
            return match methods::call(&receiver, name, argv) {
                Ok(v) => Ok(v),
                Err(e) => self.error(format!("error calling {name}: {e}")),
            };
        }
        let has_args = args.len() > 1 || fin.is_some();
        match &receiver {
            Value::Struct(s) => match s.field(name) {
                Some(v) => {
                    if has_args {
                        return self.error(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ));
                    }
                    Ok(v.clone())
                }
                None => self.error(format!(
                    "can't evaluate field {name} in type {}",
                    receiver.type_name()
                )),
            },
            Value::Map(m) => {
                if has_args {
                    return self.error(format!("{name} is not a method but has arguments"));
                }
                match m.entries.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => match self.missing {
                        MissingKey::Default => Ok(Value::Nil),
                        MissingKey::Zero => Ok(match m.kind {
                            MapKind::Any => Value::Nil,
                            MapKind::Strings | MapKind::Kv => Value::str(""),
                        }),
                        MissingKey::Error => {
                            self.error(format!("map has no entry for key {name:?}"))
                        }
                    },
                }
            }
            other => self.error(format!(
                "can't evaluate field {name} in type {}",
                other.type_name()
            )),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        name: &str,
        cmd: At<'a>,
        node: &'a Arg,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Value> {
        self.at(At::Arg(node));
        let user = self.funcs.signature(name);
        let sig = match user.or_else(|| funcs::builtin_signature(name)) {
            Some(s) => s,
            None => return self.error(format!("{name:?} is not a defined function")),
        };
        if user.is_none() && (name == "and" || name == "or") {
            return self.eval_and_or(dot, name, args, fin);
        }
        let argv = self.eval_args(dot, name, &sig, args, fin)?;
        self.at(cmd);
        let result = if user.is_some() {
            let trees = self.trees;
            let funcs = self.funcs;
            let missing = self.missing;
            let mut tmpl = |tname: &str, data: Value| {
                execute(trees, tname, &data, funcs, missing).map_err(|e| e.0)
            };
            self.funcs.call(name, argv, &mut tmpl)
        } else {
            funcs::call_builtin(name, argv)
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) => self.error(format!("error calling {name}: {e}")),
        }
    }

    fn eval_and_or(&mut self, dot: &Value, name: &str, args: &'a [Arg], fin: Final) -> Res<Value> {
        if args.len() < 2 && fin.is_none() {
            return self.error(format!(
                "wrong number of args for {name}: want at least 1 got 0"
            ));
        }
        let mut v = Value::Nil;
        for arg in &args[1..] {
            v = self.eval_arg_any(dot, arg)?;
            if v.truth() == (name == "or") {
                return Ok(v);
            }
        }
        if let Some(f) = fin {
            v = f;
        }
        Ok(v)
    }

    /// Evaluates `args` (after the function's own word) and the piped value against `sig`.
    fn eval_args(
        &mut self,
        dot: &Value,
        name: &str,
        sig: &Signature,
        args: &'a [Arg],
        fin: Final,
    ) -> Res<Vec<Value>> {
        let args = if args.is_empty() { args } else { &args[1..] };
        let num_in = args.len() + usize::from(fin.is_some());
        let fixed = sig.params.len();
        match sig.variadic {
            Some(_) if num_in < fixed => {
                return self.error(format!(
                    "wrong number of args for {name}: want at least {fixed} got {}",
                    args.len()
                ));
            }
            None if num_in != fixed => {
                return self.error(format!(
                    "wrong number of args for {name}: want {fixed} got {num_in}"
                ));
            }
            _ => {}
        }
        let param = |i: usize| {
            if i < fixed {
                sig.params[i]
            } else {
                sig.variadic.unwrap_or(Param::Any)
            }
        };
        let mut out = Vec::with_capacity(num_in);
        for (i, arg) in args.iter().enumerate() {
            out.push(self.eval_arg(dot, param(i), arg)?);
        }
        if let Some(f) = fin {
            let p = param(args.len());
            out.push(self.validate(p, f)?);
        }
        Ok(out)
    }

    fn eval_arg_any(&mut self, dot: &Value, arg: &'a Arg) -> Res<Value> {
        self.eval_arg(dot, Param::Any, arg)
    }

    /// Go's `evalArg`: constants must fit the parameter, other operands are evaluated
    /// and their type checked.
    fn eval_arg(&mut self, dot: &Value, p: Param, arg: &'a Arg) -> Res<Value> {
        self.at(At::Arg(arg));
        let value = match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => {
                if p.can_be_nil() {
                    return Ok(Value::Nil);
                }
                return self.error(format!("cannot assign nil to {}", p.go_type()));
            }
            ArgKind::Field(names) => {
                self.eval_field_chain(dot, dot.clone(), arg, names, &[], None)?
            }
            ArgKind::Variable(names) => self.eval_variable(dot, arg, names, &[], None)?,
            ArgKind::Pipe(pipe) => self.eval_pipeline(dot, pipe)?,
            ArgKind::Ident(name) => self.eval_function(
                dot,
                name,
                At::Arg(arg),
                arg,
                std::slice::from_ref(arg),
                None,
            )?,
            ArgKind::Chain(node, names) => {
                let receiver = self.eval_arg_any(dot, node)?;
                self.eval_field_chain(dot, receiver, arg, names, &[], None)?
            }
            ArgKind::Bool(b) => {
                return match p {
                    Param::Bool | Param::Any => Ok(Value::Bool(*b)),
                    _ => self.constant_mismatch(p, arg),
                };
            }
            ArgKind::Str(s, _) => {
                return match p {
                    Param::Str | Param::Any => Ok(Value::str(s)),
                    _ => self.constant_mismatch(p, arg),
                };
            }
            ArgKind::Number(n) => {
                return match p {
                    Param::Any => self.ideal_constant(n),
                    Param::Float if n.float.is_some() => {
                        Ok(Value::Float(n.float.unwrap_or_default()))
                    }
                    Param::Int if n.int.is_some() => Ok(Value::Int(n.int.unwrap_or_default())),
                    _ => self.constant_mismatch(p, arg),
                };
            }
        };
        self.at(At::Arg(arg));
        self.validate(p, value)
    }

    fn constant_mismatch<T>(&self, p: Param, arg: &Arg) -> Res<T> {
        let what = match p {
            Param::Bool => "bool",
            Param::Float => "float",
            Param::Int => "integer",
            Param::Str => "string",
            _ => {
                return self.error(format!(
                    "can't handle {arg} for arg of type {}",
                    p.go_type()
                ));
            }
        };
        self.error(format!("expected {what}; found {arg}"))
    }

    /// Go's `validateType`: the value must be assignable to the parameter.
    fn validate(&self, p: Param, v: Value) -> Res<Value> {
        if v == Value::Nil {
            if p.can_be_nil() {
                return Ok(Value::Nil);
            }
            return self.error(format!("invalid value; expected {}", p.go_type()));
        }
        match p.accept(v) {
            Ok(v) => Ok(v),
            Err(v) => self.error(format!(
                "wrong type for value; expected {}; got {}",
                p.go_type(),
                v.type_name()
            )),
        }
    }
}
