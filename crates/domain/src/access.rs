//! Roles and per-queue rights. The checks that use them live in `app`.

use crate::named_enum;

named_enum!(
    /// What kind of person (or token) is acting.
    Role {
        /// Runs the instance: everything is allowed.
        Admin => "admin",
        /// Works tickets in the queues where they have rights.
        Agent => "agent",
        /// A wholesale partner's user: sees only the partner's customers.
        Partner => "partner",
        /// A customer's contact: sees only their own customer.
        Contact => "contact",
    }
);

named_enum!(
    /// One right an agent can hold on a queue.
    Right {
        /// See the queue's tickets, their internal comments and history.
        See => "see",
        /// Send public replies and change tickets (status, fields, requestors).
        Reply => "reply",
        /// Add internal comments.
        Comment => "comment",
        /// Own tickets of the queue (take them, be assigned them).
        Own => "own",
    }
);

/// The rights an agent holds on one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueueRights {
    /// May see the queue's tickets.
    #[serde(default)]
    pub see: bool,
    /// May reply publicly and change tickets.
    #[serde(default)]
    pub reply: bool,
    /// May comment internally.
    #[serde(default)]
    pub comment: bool,
    /// May own tickets.
    #[serde(default)]
    pub own: bool,
}

impl QueueRights {
    /// Every right.
    pub const ALL: QueueRights = QueueRights { see: true, reply: true, comment: true, own: true };

    /// Whether `right` is held. Any right implies seeing the queue.
    pub fn has(self, right: Right) -> bool {
        match right {
            Right::See => self.see || self.reply || self.comment || self.own,
            Right::Reply => self.reply,
            Right::Comment => self.comment,
            Right::Own => self.own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_right_implies_see() {
        let r = QueueRights { comment: true, ..Default::default() };
        assert!(r.has(Right::See));
        assert!(!r.has(Right::Reply));
        assert!(!QueueRights::default().has(Right::See));
    }
}
