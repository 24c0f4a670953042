//! Sportello's domain: pure types and rules. No I/O and no clock: the current time is an argument.

pub mod access;
pub mod calendar;
pub mod clock;
pub mod feed;
pub mod fields;
pub mod mail;
pub mod notice;
pub mod priority;
pub mod reference;
pub mod scope;
pub mod search;
pub mod sla;
pub mod storm;
pub mod territory;
pub mod ticket;
pub mod validate;

pub use access::{QueueRights, Right, Role};
pub use fields::{CustomFieldKind, FieldError};
pub use reference::{Reference, ReferenceError};
pub use search::{SearchQuery, SearchTerm};
pub use ticket::{Category, Channel, LinkKind, MessageKind, PartnerKind, Severity, Status, TransitionError};

/// Declares a closed set of names stored and exchanged as lowercase snake_case strings.
#[macro_export]
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and exchanged name of this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stored or exchanged name; `None` when it is not one of [`Self::ALL`].
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The names of all values, comma-separated, for error messages.
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::parse(s).ok_or_else(|| format!("`{s}` is not one of: {}", Self::names()))
            }
        }
    };
}
