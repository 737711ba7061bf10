//! The global section. Being written.
use super::{Line, Parser};
use crate::model::Directive;

pub(crate) fn keyword(p: &mut Parser<'_>, line: &Line<'_>) {
    p.cfg.global.directives.push(Directive {
        keyword: line.kw().to_string(),
        args: super::words_from(line.words, 1),
        loc: line.loc.clone(),
    });
}
