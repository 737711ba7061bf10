//! Sections other than global and proxies. Being written.
use super::{Cur, Line, Parser};
use crate::keywords::Section;
use crate::model::OtherSection;

pub(crate) fn open(p: &mut Parser<'_>, section: Section, line: &Line<'_>) {
    p.cfg.other_sections.push(OtherSection {
        kind: section,
        name: line.arg(1).map(str::to_string),
        loc: line.loc.clone(),
        directives: Vec::new(),
    });
    p.cur = Cur::Other(section, p.cfg.other_sections.len() - 1);
}

pub(crate) fn keyword(_p: &mut Parser<'_>, _section: Section, _idx: usize, _line: &Line<'_>) {}
