//! The sections other than global and proxies.

use super::{Directive, Named};
use crate::diag::Loc;

/// A section recognised by name and kept as directives.
#[derive(Clone, Debug)]
pub struct OtherSection {
    pub kind: crate::keywords::Section,
    pub name: Option<String>,
    pub loc: Loc,
    pub directives: Vec<Directive>,
}

macro_rules! simple_section {
    ($($(#[$m:meta])* $name:ident),*) => {$(
        $(#[$m])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub name: Named,
            pub directives: Vec<Directive>,
        }
    )*};
}

simple_section!(Userlist, Peers, Resolvers, HttpErrors, Cache, Ring, Mailers, Program);
