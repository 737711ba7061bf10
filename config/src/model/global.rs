//! The global section.

use super::Directive;

/// Process-wide settings (`global` section).
#[derive(Clone, Debug, Default)]
pub struct Global {
    /// Recognised keywords kept as words (see `Directive`).
    pub directives: Vec<Directive>,
}
