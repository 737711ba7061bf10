//! The `userlist` section: users, groups and their passwords.

use super::unknown;
use crate::diag::Diagnostic;
use crate::keywords::Section;
use crate::model::{Password, User, UserGroup};
use crate::parse::{invalid_name_char, Line, Parser};

pub(super) fn userlist(p: &mut Parser<'_>, idx: usize, line: &Line<'_>) -> Result<(), Diagnostic> {
    let kw = line.kw();
    let ul_name = p
        .cfg
        .userlists
        .get(idx)
        .map(|u| u.name.name.clone())
        .unwrap_or_default();
    match kw {
        "group" => {
            let name = line.word(1);
            if name.is_empty() {
                return Err(line.err(1, "'group' expects <name> as arguments"));
            }
            if let Some(c) = invalid_name_char(name) {
                return Err(line.err(
                    1,
                    format!("character '{c}' is not permitted in 'group' name '{name}'"),
                ));
            }
            let exists = p
                .cfg
                .userlists
                .get(idx)
                .is_some_and(|u| u.group(name).is_some());
            if exists {
                // haproxy 2.6: a warning, the line is ignored.
                p.push(line.warn(
                    1,
                    format!("ignoring duplicated group '{name}' in userlist '{ul_name}'"),
                ));
                return Ok(());
            }
            let mut users: Option<Vec<String>> = None;
            let mut i = 2;
            while let Some(w) = line.arg(i) {
                if w != "users" {
                    return Err(line.err(i, "'group' only supports 'users' option"));
                }
                if users.is_some() {
                    // 3.2 refuses it; 2.6 silently kept the last list.
                    return Err(line.err(
                        i,
                        format!("'users' option already defined in 'group' name '{name}'"),
                    ));
                }
                users = Some(comma_list(line.word(i + 1)));
                i += 2;
            }
            let group = UserGroup {
                name: name.to_string(),
                users: users.unwrap_or_default(),
                loc: line.loc.clone(),
            };
            if let Some(u) = p.cfg.userlists.get_mut(idx) {
                u.groups.push(group);
            }
        }
        "user" => {
            let name = line.word(1);
            if name.is_empty() {
                return Err(line.err(1, "'user' expects <name> as arguments"));
            }
            let exists = p
                .cfg
                .userlists
                .get(idx)
                .is_some_and(|u| u.user(name).is_some());
            if exists {
                p.push(line.warn(
                    1,
                    format!("ignoring duplicated user '{name}' in userlist '{ul_name}'"),
                ));
                return Ok(());
            }
            let mut user = User {
                name: name.to_string(),
                password: None,
                groups: Vec::new(),
                loc: line.loc.clone(),
            };
            let mut i = 2;
            while let Some(w) = line.arg(i) {
                let value = line.arg(i + 1);
                match w {
                    "password" | "insecure-password" => {
                        // HAProxy stores an empty password when the value is
                        // missing; nobody can then log in as this user.
                        let v = value.unwrap_or("");
                        if v.is_empty() {
                            p.push(line.warn(
                                i,
                                format!(
                                    "'{w}' without a value: user '{name}' gets an empty password"
                                ),
                            ));
                        }
                        user.password = Some(if w == "password" {
                            Password::Hashed(v.to_string())
                        } else {
                            Password::Insecure(v.to_string())
                        });
                    }
                    "groups" => user.groups = comma_list(value.unwrap_or("")),
                    _ => return Err(line.err(
                        i,
                        "'user' only supports 'password', 'insecure-password' and 'groups' options",
                    )),
                }
                i += 2;
            }
            if let Some(u) = p.cfg.userlists.get_mut(idx) {
                u.users.push(user);
            }
        }
        _ => return Err(unknown(line, Section::Userlist)),
    }
    Ok(())
}

/// A comma-separated list; empty items are skipped, as HAProxy does.
fn comma_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
