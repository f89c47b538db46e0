//! The states of a buyer message and of its reply's delivery, and the moves allowed
//! between them (forward only: a message never goes back to a state it left).
//!
//! ```text
//! status:   new ──► answered            (the reply will be sent: auto, or approved)
//!            │ └──► review ──► answered
//!            │          └────► ignored  (rejected; maybe handed to a human)
//!            └────► ignored
//! delivery: none ──► ready ──► sent     (the agent typed it)
//!                      └─────► failed   (the agent could not: a human takes over)
//! ```

use sea_orm::entity::prelude::StringLen;

/// A state kept as its text in a column, in the API and in the spec: one list of
/// variants and their texts instead of a `string_value` and a serde name apart. The
/// caller has `sea_orm::entity::prelude::StringLen` in scope (the column type names it).
macro_rules! string_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
            utoipa::ToSchema, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
        $(#[$meta])*
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $text)] $variant,)+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// Where a message is in its life.
    pub enum MessageStatus {
        /// Received; being routed (an LLM draft may be on its way).
        New = "new",
        /// A reply will be (or was) sent: auto-sent, or approved by a reviewer.
        Answered = "answered",
        /// Waiting for a reviewer.
        Review = "review",
        /// No reply from us: rejected by a reviewer (maybe handed to a human).
        Ignored = "ignored",
    }
}

impl MessageStatus {
    /// Whether `self → next` is a forward move.
    pub fn may_become(self, next: MessageStatus) -> bool {
        use MessageStatus::*;
        matches!(
            (self, next),
            (New, Answered)
                | (New, Review)
                | (New, Ignored)
                | (Review, Answered)
                | (Review, Ignored)
        )
    }
}

string_enum! {
    /// Where the reply is on its way to the buyer.
    #[schema(as = CsDelivery)]
    pub enum Delivery {
        /// Nothing to deliver (yet, or ever).
        None = "none",
        /// In the outbox: offered to the shop's agents.
        Ready = "ready",
        /// Typed into the chat by an agent.
        Sent = "sent",
        /// The agent could not type it; a human must answer.
        Failed = "failed",
    }
}

impl Delivery {
    pub fn may_become(self, next: Delivery) -> bool {
        use Delivery::*;
        matches!(
            (self, next),
            (None, Ready) | (Ready, Sent) | (Ready, Failed)
        )
    }
}

string_enum! {
    /// Where a message came from.
    pub enum MessageSource {
        /// Read off the seller's chat window by the desktop agent.
        Qianniu = "qianniu",
        /// Typed in by a person.
        Manual = "manual",
        /// Another system.
        Api = "api",
    }
}

string_enum! {
    /// What wrote the reply.
    pub enum ReplySource {
        /// The knowledge-base entry's answer.
        Kb = "kb",
        /// An LLM draft.
        Llm = "llm",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn statuses_only_move_forward() {
        let order = |s: MessageStatus| match s {
            MessageStatus::New => 0,
            MessageStatus::Review => 1,
            MessageStatus::Answered | MessageStatus::Ignored => 2,
        };
        for from in MessageStatus::iter() {
            for to in MessageStatus::iter() {
                if from.may_become(to) {
                    assert!(order(to) > order(from), "{from:?} → {to:?}");
                }
            }
            assert!(!from.may_become(from));
        }
        assert!(!MessageStatus::Answered.may_become(MessageStatus::Review));
        assert!(!MessageStatus::Ignored.may_become(MessageStatus::Answered));
        assert!(Delivery::Ready.may_become(Delivery::Sent));
        assert!(!Delivery::Sent.may_become(Delivery::Ready));
        assert!(!Delivery::Failed.may_become(Delivery::Sent));
    }
}
