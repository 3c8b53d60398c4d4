//! The parse tree of a template, as Go's `text/template/parse` builds it. Nodes keep their
//! byte offset, so execution errors can say `name:line:col` as Go does, and print as Go
//! prints them (`at <.Labels.job>`).

use std::fmt;

/// A node of a template body.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Text(String),
    /// `{{ pipeline }}`: prints the pipeline's value unless it declares variables.
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    /// `{{ template "name" pipeline }}`.
    Template {
        name: String,
        pipe: Option<Pipe>,
        pos: usize,
    },
    Break(usize),
    Continue(usize),
}

/// `if`, `range` and `with`: the pipeline, the body and the `else` body.
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline with its variable declarations.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipe {
    pub pos: usize,
    /// `$x = ...` assigns instead of declaring.
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

/// One stage of a pipeline: a function (or method, or operand) and its arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ArgKind {
    /// A function name.
    Ident(String),
    /// `.A.B`: field names without dots.
    Field(Vec<String>),
    /// `$x.A.B`: the variable name (with `$`) then field names.
    Variable(Vec<String>),
    /// `(pipeline).A.B`.
    Chain(Box<Arg>, Vec<String>),
    Dot,
    Nil,
    Bool(bool),
    Number(Number),
    /// A string constant: its value and its text as written.
    Str(String, String),
    /// `(pipeline)`.
    Pipe(Box<Pipe>),
}

/// A number constant with every Go type it can be, as Go's `NumberNode`.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub float: Option<f64>,
    /// It was written as a character (`'a'`).
    pub is_char: bool,
    /// It was written as an imaginary number (`1i`); Go's complex numbers are not
    /// supported beyond parsing.
    pub is_complex: bool,
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.is_assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let ArgKind::Pipe(p) = &a.kind {
                write!(f, "({p})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ArgKind::Ident(name) => f.write_str(name),
            ArgKind::Field(names) => {
                for n in names {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            ArgKind::Variable(names) => f.write_str(&names.join(".")),
            ArgKind::Chain(node, names) => {
                if let ArgKind::Pipe(p) = &node.kind {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for n in names {
                    write!(f, ".{n}")?;
                }
                Ok(())
            }
            ArgKind::Dot => f.write_str("."),
            ArgKind::Nil => f.write_str("nil"),
            ArgKind::Bool(b) => write!(f, "{b}"),
            ArgKind::Number(n) => f.write_str(&n.text),
            ArgKind::Str(_, quoted) => f.write_str(quoted),
            ArgKind::Pipe(p) => write!(f, "{p}"),
        }
    }
}
