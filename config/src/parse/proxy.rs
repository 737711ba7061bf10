//! Proxy sections. Being written.
use super::{Line, Parser};
use crate::keywords::Section;
pub(crate) fn open(_p: &mut Parser<'_>, _section: Section, _line: &Line<'_>) {}
pub(crate) fn keyword(_p: &mut Parser<'_>, _line: &Line<'_>) {}
