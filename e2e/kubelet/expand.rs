//! `$(VAR)` expansion in a container's `command`, `args` and `env` values, as the kubelet
//! does it (Kubernetes' `third_party/forked/golang/expansion`): `$(NAME)` becomes the
//! variable's value when it is defined and stays as written when it is not; `$$` is a
//! literal `$`; any other `$` is kept. Shell syntax such as `$(( x + 1 ))` or `"$@"` is
//! therefore left to the shell.

/// Expands `input` with `lookup` (None: an undefined variable).
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let (read, is_var, advance) = read_variable_name(rest);
            if is_var {
                match lookup(read) {
                    Some(value) => out.push_str(&value),
                    None => {
                        out.push_str("$(");
                        out.push_str(read);
                        out.push(')');
                    }
                }
            } else {
                out.push('$');
                out.push_str(read);
            }
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.push_str(&input[checkpoint..]);
    out
}

/// What follows a `$`: (the name or the literal text after the `$`, whether it is a
/// variable reference, how many bytes after the `$` were consumed).
fn read_variable_name(rest: &str) -> (&str, bool, usize) {
    let first = rest.chars().next().expect("called with a non-empty rest");
    match first {
        // `$$`: an escaped `$`.
        '$' => ("", false, 1),
        '(' => match rest[1..].find(')') {
            Some(end) => (&rest[1..1 + end], true, end + 2),
            // An incomplete reference is kept as written.
            None => ("(", false, 1),
        },
        c => (&rest[..c.len_utf8()], false, c.len_utf8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "POD_NAME" => Some("mc-scraper-1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn defined_variables_are_replaced() {
        assert_eq!(expand("$(POD_NAME)", &vars), "mc-scraper-1");
        assert_eq!(expand("x=$(POD_NAME)/y", &vars), "x=mc-scraper-1/y");
        assert_eq!(expand("a$(EMPTY)b", &vars), "ab");
    }

    #[test]
    fn undefined_and_shell_syntax_stay_as_written() {
        assert_eq!(expand("$(NOPE)", &vars), "$(NOPE)");
        let script = "exec telltale storage --replica-id \"$(( ${HOSTNAME##*-} + 1 ))\" \"$@\"";
        assert_eq!(expand(script, &vars), script);
        assert_eq!(expand("$(unclosed", &vars), "$(unclosed");
        assert_eq!(expand("ends with $", &vars), "ends with $");
        assert_eq!(expand("$x é$é", &vars), "$x é$é");
    }

    #[test]
    fn a_double_dollar_escapes() {
        assert_eq!(expand("$$(POD_NAME)", &vars), "$(POD_NAME)");
        assert_eq!(expand("$$$(POD_NAME)", &vars), "$mc-scraper-1");
    }
}
