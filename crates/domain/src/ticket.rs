//! The ticket lifecycle: statuses, their transitions, and the effect of messages on status.

use crate::named_enum;

named_enum!(
    /// Where a ticket stands in its life.
    Status {
        /// Nobody has answered yet.
        New => "new",
        /// Being worked on.
        Open => "open",
        /// Waiting on someone else (customer, third party); SLA clocks may pause.
        Stalled => "stalled",
        /// Solved; the requestor may reopen it by replying.
        Resolved => "resolved",
        /// Refused (spam, out of scope, duplicate).
        Rejected => "rejected",
        /// Soft-deleted: hidden from lists, kept for the audit trail.
        Deleted => "deleted",
    }
);

named_enum!(
    /// What kind of request a ticket is.
    Category {
        /// A fault that stops the service.
        BlockingFault => "blocking_fault",
        /// A fault that degrades the service.
        NonBlockingFault => "non_blocking_fault",
        /// A question.
        InformationRequest => "information_request",
        /// A change to an existing service or configuration.
        ChangeRequest => "change_request",
        /// Something the product does not do yet.
        FeatureRequest => "feature_request",
        /// A standard service operation (activation, port forwarding, ...).
        ServiceRequest => "service_request",
        /// A purchase.
        Order => "order",
        /// Invoices, payments, contracts.
        Administrative => "administrative",
    }
);

named_enum!(
    /// How badly the customer's service is hit; drives SLA targets.
    Severity {
        /// The service does not work.
        Blocking => "blocking",
        /// The service works, badly or partly.
        NonBlocking => "non_blocking",
    }
);

named_enum!(
    /// Whether a message is seen by the requestors or only by agents.
    MessageKind {
        /// Public reply, sent to and seen by requestors and Cc.
        Reply => "reply",
        /// Internal comment, seen only by agents.
        Comment => "comment",
    }
);

named_enum!(
    /// The way a change reached Sportello.
    Channel {
        /// A page of the web console or portal.
        Web => "web",
        /// The JSON API.
        Api => "api",
        /// An email message.
        Email => "email",
        /// Sportello itself (jobs, automatic rules, command line).
        System => "system",
    }
);

named_enum!(
    /// How two tickets are related.
    LinkKind {
        /// The source is a child of the target.
        ChildOf => "child_of",
        /// The source cannot be solved before the target.
        DependsOn => "depends_on",
        /// The source mentions the target.
        RefersTo => "refers_to",
    }
);

named_enum!(
    /// What sort of business a wholesale partner is.
    PartnerKind {
        /// Managed service provider.
        Msp => "msp",
        /// Multi-utility reselling connectivity with energy or water.
        MultiUtility => "multi_utility",
        /// System integrator.
        SystemIntegrator => "system_integrator",
    }
);

impl Category {
    /// A fault (blocking or not): timed by severity under a support level.
    pub fn is_fault(self) -> bool {
        matches!(self, Category::BlockingFault | Category::NonBlockingFault)
    }

    /// The severity a new ticket of this category gets unless one is given.
    pub fn default_severity(self) -> Severity {
        match self {
            Category::BlockingFault => Severity::Blocking,
            _ => Severity::NonBlocking,
        }
    }
}

/// A status change that the lifecycle does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} ticket cannot become {to}; allowed: {}", list(allowed))]
pub struct TransitionError {
    /// The current status.
    pub from: Status,
    /// The status asked for.
    pub to: Status,
    /// The statuses reachable from `from`.
    pub allowed: Vec<Status>,
}

fn list(statuses: &[Status]) -> String {
    statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
}

impl Status {
    /// The statuses a ticket in this status may move to (not counting itself).
    pub fn allowed_next(self) -> &'static [Status] {
        use Status::*;
        match self {
            New => &[Open, Stalled, Resolved, Rejected, Deleted],
            Open => &[Stalled, Resolved, Rejected, Deleted],
            Stalled => &[Open, Resolved, Rejected, Deleted],
            Resolved => &[Open, Deleted],
            Rejected => &[Open, Deleted],
            Deleted => &[Open],
        }
    }

    /// Checks a move to `to`; staying in the same status is always allowed (a no-op).
    pub fn transition(self, to: Status) -> Result<Status, TransitionError> {
        if self == to || self.allowed_next().contains(&to) {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to, allowed: self.allowed_next().to_vec() })
        }
    }
}

/// Who wrote a message, as far as the lifecycle cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorRole {
    /// An agent or admin of the operator.
    Agent,
    /// A requestor or Cc of the ticket, or someone speaking for its customer (contact, partner).
    Requestor,
    /// Anyone else (a system, an unknown sender).
    Other,
}

/// The status a ticket takes because of a new message, if it changes.
///
/// The first public reply of an agent moves a new ticket to open; a requestor's reply on a
/// stalled or resolved ticket reopens it. Comments never change the status.
pub fn status_after_message(current: Status, kind: MessageKind, author: AuthorRole) -> Option<Status> {
    match (kind, author, current) {
        (MessageKind::Reply, AuthorRole::Agent, Status::New) => Some(Status::Open),
        (MessageKind::Reply, AuthorRole::Requestor, Status::Stalled | Status::Resolved) => Some(Status::Open),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Status::parse("closed"), None);
    }

    #[test]
    fn resolved_ticket_cannot_be_stalled_and_error_lists_allowed() {
        let err = Status::Resolved.transition(Status::Stalled).unwrap_err();
        assert_eq!(err.allowed, vec![Status::Open, Status::Deleted]);
        assert_eq!(err.to_string(), "a resolved ticket cannot become stalled; allowed: open, deleted");
    }

    #[test]
    fn nothing_moves_back_to_new() {
        for s in Status::ALL {
            if *s != Status::New {
                assert!(s.transition(Status::New).is_err(), "{s} -> new");
            }
        }
    }

    #[test]
    fn same_status_is_a_no_op() {
        for s in Status::ALL {
            assert_eq!(s.transition(*s), Ok(*s));
        }
    }

    #[test]
    fn first_agent_reply_opens_new_ticket() {
        assert_eq!(status_after_message(Status::New, MessageKind::Reply, AuthorRole::Agent), Some(Status::Open));
        assert_eq!(status_after_message(Status::New, MessageKind::Comment, AuthorRole::Agent), None);
        assert_eq!(status_after_message(Status::Open, MessageKind::Reply, AuthorRole::Agent), None);
    }

    #[test]
    fn requestor_reply_reopens_stalled_and_resolved_only() {
        for (s, want) in [
            (Status::Stalled, Some(Status::Open)),
            (Status::Resolved, Some(Status::Open)),
            (Status::Rejected, None),
            (Status::New, None),
            (Status::Open, None),
        ] {
            assert_eq!(status_after_message(s, MessageKind::Reply, AuthorRole::Requestor), want, "{s}");
        }
    }

    #[test]
    fn every_effect_of_a_message_is_an_allowed_transition() {
        for s in Status::ALL {
            for k in MessageKind::ALL {
                for a in [AuthorRole::Agent, AuthorRole::Requestor, AuthorRole::Other] {
                    if let Some(to) = status_after_message(*s, *k, a) {
                        assert!(s.transition(to).is_ok());
                    }
                }
            }
        }
    }
}
