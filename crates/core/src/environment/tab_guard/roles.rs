//! The guard's vocabulary: mechanisms, roles, causes of a change, the app
//! callback a change calls, and the change itself. Mechanism, role and cause
//! each name their report spelling once (`web-locks`, `primary`,
//! `lease-lost`, ...): serde, `as_str` and `from_name` all read it.

/// An enum of unit variants with one report name each: serde (de)serializes
/// it by that name, `as_str` gives it, `from_name` reads it back.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// The name the report and the JS API use.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant of a report name, if it is one.
            pub fn from_name(name: &str) -> Option<$name> {
                match name {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

named_enum! {
    /// What coordinates the tabs.
    Mechanism {
        /// `navigator.locks`, held for the tab's life.
        WebLocks = "web-locks",
        /// The localStorage lease (no Web Locks: insecure context or old browser).
        LocalStorage = "local-storage",
        /// Not acquired, or neither API.
        None = "none",
    }
}

named_enum! {
    /// This tab's part.
    Role {
        /// Never acquired.
        Idle = "idle",
        /// This tab drives the crypto store.
        Primary = "primary",
        /// Another tab does; this one waits.
        Secondary = "secondary",
        /// Neither Web Locks nor localStorage: no guard.
        Unsupported = "unsupported",
        /// `releaseTabGuard` was called.
        Released = "released",
    }
}

named_enum! {
    /// Why a role changed.
    Cause {
        /// The first acquire settled.
        Acquired = "acquired",
        /// A waiting tab became primary when the primary went.
        Takeover = "takeover",
        /// This tab took the guard (`takeOverTabGuard`).
        Steal = "steal",
        /// Another tab took the guard from this one.
        Stolen = "stolen",
        /// Another tab's lease replaced ours without a steal notice (a conflict).
        LeaseLost = "lease-lost",
        /// Another tab won a claim this one made.
        ClaimLost = "claim-lost",
        /// The primary left and this tab does not take over by itself.
        PrimaryGone = "primary-gone",
        /// `releaseTabGuard`.
        Released = "released",
    }
}

/// The app's callback a change calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Callback {
    /// `onPrimary`: a secondary became primary.
    OnPrimary,
    /// `onSecondary`: this tab waits.
    OnSecondary,
    /// `onStolen`: another tab took over; stop the client.
    OnStolen,
    /// `onPrimaryGone`: the primary left, this tab does not take over by itself.
    OnPrimaryGone,
}

/// One change to tell the page about: the window event (`detail` = the state
/// plus `previousRole` and `cause`), at most one callback, and whether to
/// announce this tab as primary to its peers.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The role before (`detail.previousRole`).
    pub previous_role: &'static str,
    /// Why (`detail.cause`).
    pub cause: &'static str,
    /// The app callback to call, if any.
    pub callback: Option<Callback>,
    /// Post a `primary` message to the peers.
    pub announce_primary: bool,
}
