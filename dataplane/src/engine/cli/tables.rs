//! `show table`, `clear table`, `set table`: the stick-table commands.
//!
//! ringlb refuses stick tables at start-up (support.rs), so a running
//! process has none: these answer as HAProxy 2.6's cli_parse_table_req
//! does when no table carries the name. The stick-table issue gives them
//! tables to read.

use super::table::{Command, Ctx, Level, Run};
use super::Reply;

/// Which of the three commands (HAProxy's STK_CLI_ACT_*).
#[derive(Clone, Copy)]
enum Act {
    Show,
    Clear,
    Set,
}

pub static COMMANDS: &[Command] = &[
    Command {
        words: &["show", "table"],
        usage: Some("show table <table> [<filter>]*          : report table usage stats or dump this table's contents (filter: data/key)"),
        level: Level::User,
        run: Run::Now(|c| table_req(c, Act::Show)),
    },
    Command {
        words: &["clear", "table"],
        usage: Some("clear table <table> [<filter>]*         : remove an entry from a table (filter: data/key)"),
        level: Level::User,
        run: Run::Now(|c| table_req(c, Act::Clear)),
    },
    Command {
        words: &["set", "table"],
        usage: Some("set table <table> key <k> [data.* <v>]* : update or create a table entry's data"),
        level: Level::User,
        run: Run::Now(|c| table_req(c, Act::Set)),
    },
];

/// HAProxy's cli_parse_table_req with no table defined: a name is looked
/// up first (and not found); without one, `show table` lists the tables
/// (none) and the others say what they need. The level is checked by
/// HAProxy only once a table is found, so every level gets these answers.
fn table_req(c: &mut Ctx<'_>, act: Act) -> Reply {
    if !c.arg(2).is_empty() {
        return Reply::err("No such table\n");
    }
    match act {
        Act::Show => Reply::Empty,
        Act::Clear => Reply::err(
            "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n",
        ),
        Act::Set => {
            Reply::err("Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::COMMANDS;

    #[test]
    fn the_three_commands_are_listed() {
        let words: Vec<_> = COMMANDS.iter().map(|c| c.words.join(" ")).collect();
        assert_eq!(words, ["show table", "clear table", "set table"]);
    }
}
